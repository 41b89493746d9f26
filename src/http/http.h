/* The HTTP shell (libevent 2.1 evhttp + jansson): a server that routes
 * methods and paths itself, answers every error it can with the JSON shape
 *   {"error":{"code":"...","message":"...","fields":[{"field","reason"}]}}
 * enforces the body limit from Content-Length, assigns each request a
 * correlation id, counts requests for /metrics, and lets handlers reply
 * from any thread (worker pools).
 *
 * Threads: oss_http_server_new/free and the handlers run on the event-loop
 * thread. oss_http_reply*() may be called from any thread, exactly once per
 * request; the reply is sent by the loop thread. Request accessors may be
 * called from any thread between dispatch and the reply (the request's data
 * is copied out of libevent before the handler runs and is immutable).
 *
 * Residual HTML (libevent 2.1 has no hook for these, evhttp_set_errorcb came
 * in 2.2): requests libevent cannot parse (broken framing, an over-long
 * request line, a method token libevent does not know such as PROPFIND when the
 * method filter is off, bodies larger than the hard cap of
 * OSS_HTTP_HARD_BODY_CAP) get libevent's own HTML error page. */
#ifndef OSS_HTTP_H
#define OSS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/validate.h"

struct event_base;

#define OSS_HTTP_CID_MAX 64
/* libevent's own body cap: above it libevent answers HTML 413 itself; below
 * it, but above the configured limit, we answer JSON 413. */
#define OSS_HTTP_HARD_BODY_CAP (32u * 1024u * 1024u)

/* ---- pure helpers (no libevent) ---------------------------------------- */

/* True when s is an acceptable caller-given correlation id: 1-64 chars of
 * [A-Za-z0-9._-]. */
bool oss_http_cid_valid(const char *s);

/* The JSON error body. fe may be NULL (then "fields" is an empty array).
 * Returns new, caller frees with free(); NULL only on OOM. */
char *oss_http_error_json(const char *code, const char *message,
                          const oss_field_errors_t *fe);

/* HTTP status for an error code (400, 404, 409, 413, 422, 503, 500). */
int oss_http_status_for(oss_code_t code);

/* The stable error "code" string of the JSON body for an HTTP status
 * ("malformed_json", "not_found", "method_not_allowed", ...). */
const char *oss_http_code_for_status(int status);

/* True when the Content-Type value names application/json (parameters such
 * as charset=utf-8 allowed, case-insensitive). */
bool oss_http_content_type_json(const char *ct);

/* ---- the server --------------------------------------------------------- */

typedef struct oss_http_server oss_http_server_t;
typedef struct oss_http_req oss_http_req_t;

/* A handler owns req until it (or someone it hands req to) calls one of the
 * oss_http_reply*() functions. arg is the server's handler argument. */
typedef void (*oss_http_handler_fn)(oss_http_req_t *req, void *arg);

typedef struct oss_http_route {
    const char *method;  /* "GET", "POST", ... (GET also serves HEAD) */
    const char *pattern; /* literal path; "*" matches one segment */
    const char *name;    /* route label in metrics, e.g. "/v1/accounts/{id}" */
    oss_http_handler_fn fn;
    bool json_body; /* requires Content-Type application/json (415) */
} oss_http_route_t;

typedef struct oss_http_options {
    const char *listen;    /* address, e.g. "127.0.0.1" */
    int port;              /* 0 = any free port */
    size_t max_body;       /* api.max_body_bytes */
    int retry_after_s;     /* sent with 503 answers */
    bool method_filter;    /* rewrite unknown method tokens so that they get
                              our JSON 405 (see server.c) */
    int header_timeout_ms; /* a request's header block must arrive within
                              this of its first byte, else 408 and close
                              (method_filter only); 0 = the default */
} oss_http_options_t;

/* The default header-block deadline (a client trickling its headers one
 * byte at a time is answered 408 and closed). */
#define OSS_HTTP_HEADER_TIMEOUT_MS 10000

/* Binds and starts serving on base (borrowed; call evthread_use_pthreads()
 * before creating it). routes[0..n) and arg are borrowed for the server's
 * lifetime. Returns new, caller frees with oss_http_server_free().
 * OSS_EIO when the address cannot be bound. */
oss_code_t oss_http_server_new(struct event_base *base,
                               const oss_http_options_t *opt,
                               const oss_http_route_t *routes, size_t n,
                               void *arg, oss_http_server_t **out,
                               oss_err_t *err);
/* Stops listening; requests still pending are dropped. Loop thread only. */
void oss_http_server_free(oss_http_server_t *s);
/* The bound port. */
int oss_http_server_port(const oss_http_server_t *s);
/* Appends the server's Prometheus metrics (oss_http_requests_total,
 * oss_http_request_duration_seconds) to a new string; caller frees with
 * free(). Any thread. */
char *oss_http_server_metrics(oss_http_server_t *s);
/* The configured Retry-After seconds. */
int oss_http_server_retry_after(const oss_http_server_t *s);

/* ---- request accessors (borrowed from req, valid until the reply) ----- */
const char *oss_http_req_method(const oss_http_req_t *req);
const char *oss_http_req_path(const oss_http_req_t *req);
/* The query-string parameter name ("?name=value", percent-decoded) copied
 * into out; false when absent, undecodable or not shorter than outsz. */
bool oss_http_req_query(const oss_http_req_t *req, const char *name, char *out,
                        size_t outsz);
/* The n-th "*" segment of the matched pattern ("" when absent). */
const char *oss_http_req_param(const oss_http_req_t *req, int n);
/* Header value (case-insensitive name) or NULL. */
const char *oss_http_req_header(const oss_http_req_t *req, const char *name);
const char *oss_http_req_body(const oss_http_req_t *req, size_t *len);
const char *oss_http_req_cid(const oss_http_req_t *req);
/* The client's IP address as text ("" when unknown). */
const char *oss_http_req_peer(const oss_http_req_t *req);
oss_http_server_t *oss_http_req_server(const oss_http_req_t *req);
/* Handler-private pointer (borrowed). */
void oss_http_req_set_data(oss_http_req_t *req, void *data);
void *oss_http_req_data(const oss_http_req_t *req);

/* ---- replies (any thread, exactly once per request) ------------------- */

/* Sends status with body (takes ownership; freed with free(); may be NULL)
 * and content_type (borrowed, static). extra_headers: NULL or a NULL-ended
 * list of name, value pairs (borrowed, copied before return). */
void oss_http_reply(oss_http_req_t *req, int status, const char *content_type,
                    char *body, const char *const *extra_headers);
/* Sends the JSON error shape; code NULL = oss_http_code_for_status(status);
 * a 503 carries Retry-After, a 405 carries extra_allow as Allow. */
void oss_http_reply_error(oss_http_req_t *req, int status, const char *code,
                          const char *message, const oss_field_errors_t *fe);
/* Sends a JSON value (as text, takes ownership) with status. */
void oss_http_reply_json(oss_http_req_t *req, int status, char *json,
                         const char *const *extra_headers);

#endif
