/* Request plumbing the API's route files share: queueing a route's work on
 * the worker pool, the worker's journal and queries with the 503/500
 * answers, flat JSON bodies, and the common error replies and formats.
 *
 * Threads: api_req_submit*() run on the event loop; every other function
 * runs on a worker (or anywhere: the pure formatters). Functions that reply
 * do so through oss_http_reply*() (thread-safe) and then return NULL/false;
 * the caller must not reply again. */
#ifndef OSS_API_REQUEST_H
#define OSS_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

#include "api.h"
#include "app/cmd.h"
#include "core/bytes.h" /* oss_str_copy() */
#include "oss/v1/account.pb-c.h"

typedef void (*api_run_fn)(api_worker_t *w, api_job_t *job);

/* ---- queueing ------------------------------------------------------------ */

/* A query job running run for req. Returns new (the pool frees it after it
 * ran), or NULL after replying 500 "out of memory". req is borrowed. */
api_job_t *api_req_job_new(oss_http_req_t *req, api_run_fn run);
/* Queues run for req on ctx's pool (replies 500 when no job can be made). */
void api_req_submit(api_ctx_t *ctx, oss_http_req_t *req, api_run_fn run);
/* As api_req_submit(), but first replies 503 when the account lifecycle is
 * not configured (ctx->app.lc NULL: crypto.otp_key_file). */
void api_req_submit_lc(api_ctx_t *ctx, oss_http_req_t *req, api_run_fn run);

/* ---- the worker's database ----------------------------------------------- */

/* The worker's journal (borrowed, owned by the worker), or NULL after
 * replying 503 "the database is unavailable; retry later". */
oss_journal_t *api_req_journal(api_worker_t *w, oss_http_req_t *req);
/* Its connection (borrowed), or NULL after replying 503 as above. */
PGconn *api_req_conn(api_worker_t *w, oss_http_req_t *req);

/* Runs cmds[0..n) in one transaction on the worker's journal, and again
 * (attempts runs at most) while cmds[0] is refused for a concurrent append
 * (OSS_ECONFLICT without a field), freeing the commands' events before a
 * rerun. Returns true with the outcomes in cmds; false after logging
 * "<what> not appended" and replying 503 (unavailable, the connection
 * reset) or 500 when the transaction failed. cmds borrowed. */
bool api_req_execute(api_worker_t *w, oss_http_req_t *req, oss_command_t *cmds,
                     size_t n, int attempts, const char *what);

/* Answers a transaction that did not commit (rc, err from a use case of
 * src/app): logs "<what> not appended", resets the worker's connection and
 * replies 503 on OSS_EUNAVAIL, else 500. */
void api_req_fail(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
                  const oss_err_t *err, const char *what);

/* Result statuses api_req_query() accepts (a bit set). */
#define API_REQ_ROWS 1u /* PGRES_TUPLES_OK */
#define API_REQ_CMD 2u  /* PGRES_COMMAND_OK */

/* Runs a parameterised query (text results) on the worker's connection.
 * Returns new, caller frees with PQclear(), when the result's status is in
 * accept; else logs a warning naming what, resets the worker's connection
 * when it was lost and returns NULL after replying 503 (unavailable) or
 * 500 "could not read". params borrowed. */
PGresult *api_req_query(api_worker_t *w, oss_http_req_t *req, const char *what,
                        const char *sql, int n, const char *const *params,
                        unsigned accept);

/* The same checks and answers for a result r (takes ownership) that c
 * returned (e.g. a named read of src/journal/reads.h). */
PGresult *api_req_result(api_worker_t *w, oss_http_req_t *req, const char *what,
                         PGconn *c, PGresult *r, unsigned accept);

/* ---- request bodies ------------------------------------------------------ */

/* How api_body_parse_ex() checks a flat JSON object body. */
typedef struct api_body_spec {
    const char *const *known;  /* string fields, NULL-ended */
    const char *const *bools;  /* boolean fields (may be NULL) */
    const char *person_prefix; /* accept oss_app_person_t's fields under this
                                  prefix too ("" = unprefixed); NULL: no */
    bool optional;             /* an empty body is no body: NULL, no reply */
    bool nulls;                /* string fields may also be null */
    bool any_length;           /* no 1024-byte limit on strings */
} api_body_spec_t;

/* Parses req's body as a JSON object (no duplicate keys) as spec says.
 * Returns new, caller frees with json_decref(); NULL with *bad set after
 * replying 400 malformed_json (not an object) or 422 invalid_fields (one
 * entry per unknown field, wrong type, or string over 1024 bytes unless
 * any_length); NULL with *bad false for an empty optional body. bad may be
 * NULL. */
json_t *api_body_parse_ex(oss_http_req_t *req, const api_body_spec_t *spec,
                          bool *bad);
/* The common case: every key in known[], every value a string. */
json_t *api_body_parse(oss_http_req_t *req, const char *const *known);

/* o[k] as a string (borrowed from o), or NULL when absent or not one. */
const char *api_body_str(json_t *o, const char *k);
/* Wipes o[k]'s bytes in place when it is a string (secrets). */
void api_body_wipe(json_t *o, const char *k);

/* ---- replies ------------------------------------------------------------- */

/* The error shape with one field error (field NULL: none). */
void api_reply_field(oss_http_req_t *req, int status, const char *code,
                     const char *field, const char *reason, const char *msg);
/* The error shape with a Retry-After of retry_us rounded up to whole
 * seconds (at least 1). */
void api_reply_retry(oss_http_req_t *req, int status, int64_t retry_us,
                     const char *code, const char *msg);
/* 429 with Retry-After (api_reply_retry). */
void api_reply_429(oss_http_req_t *req, int64_t retry_us, const char *code,
                   const char *msg);
/* Sends o (takes ownership) as compact JSON with hdrs (borrowed, may be
 * NULL); 500 "out of memory" when o is NULL or cannot be encoded. */
void api_reply_obj(oss_http_req_t *req, int status, json_t *o,
                   const char *const *hdrs);

/* Events, statements and sealed fields for commands: src/app/cmd.h. */

#endif
