/* The evhttp server: one generic callback routes methods and paths itself so
 * that libevent never answers with HTML for anything it parsed; replies may
 * come from any thread through a locked completion queue drained on the
 * loop (event_active needs evthread_use_pthreads()). See http.h. */
#include "http/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "core/buf.h"
#include "crypto/crypto.h"
#include "http/filter.h"
#include "log/log.h"

#define MAX_PARAMS 4
#define MAX_HDRS 64
#define MAX_METRIC_ROWS 512

typedef struct kv {
    char *name, *value;
} kv_t;

struct oss_http_req {
    struct evhttp_request *ev;
    oss_http_server_t *srv;
    char method[24];
    char *path;
    char *query; /* raw query string (after '?'), NULL when none */
    char *params[MAX_PARAMS];
    kv_t hdrs[MAX_HDRS];
    size_t nhdrs;
    char *body;
    size_t body_len;
    char cid[OSS_HTTP_CID_MAX + 1];
    char peer[64]; /* client address, copied on the loop thread */
    const char *route_name;
    struct timespec start;
    void *data;
    /* the reply, filled by oss_http_reply() */
    int status;
    char *resp_body;
    const char *content_type;
    kv_t out[8];
    size_t nout;
    bool close;
    struct oss_http_req *next;
};

/* Latency buckets (seconds); +Inf is implicit. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                 1,      2.5,   5,      10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct metric_row {
    const char *route; /* static route name or "unmatched" */
    char method[12];
    int status;
    unsigned long long count;
    unsigned long long bucket[NBUCKETS];
    double sum;
} metric_row_t;

struct oss_http_server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    oss_http_options_t opt;
    const oss_http_route_t *routes;
    size_t nroutes;
    void *arg;
    int port;
    oss_http_filters_t *filters; /* NULL unless opt.method_filter */
    pthread_mutex_t mu;          /* completion queue */
    oss_http_req_t *done_head, *done_tail;
    struct event *done_ev;
    pthread_mutex_t mmu; /* metrics */
    metric_row_t rows[MAX_METRIC_ROWS];
    size_t nrows;
};

/* ---- request lifetime ---------------------------------------------------- */

static void
req_free(oss_http_req_t *r) {
    if (!r)
        return;
    free(r->path);
    free(r->query);
    for (int i = 0; i < MAX_PARAMS; i++)
        free(r->params[i]);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    for (size_t i = 0; i < r->nout; i++) {
        free(r->out[i].name);
        free(r->out[i].value);
    }
    if (r->body) /* it may hold personal data: leave none in freed memory */
        explicit_bzero(r->body, r->body_len);
    free(r->body);
    free(r->resp_body);
    free(r);
}

static const char *
reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 422:
        return "Unprocessable Entity";
    case 423:
        return "Locked";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return status < 300   ? "OK"
               : status < 500 ? "Client Error"
                              : "Server Error";
    }
}

static double
elapsed_s(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void
metrics_record(oss_http_server_t *s, const char *route, const char *method,
               int status, double secs) {
    /* bound the label space: unknown methods are "other" */
    static const char *known[] = {"GET",     "POST", "PUT",     "DELETE",
                                  "PATCH",   "HEAD", "OPTIONS", "TRACE",
                                  "CONNECT", NULL};
    const char *m = "other";
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], method) == 0)
            m = known[i];

    pthread_mutex_lock(&s->mmu);
    metric_row_t *row = NULL;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].route == route && s->rows[i].status == status &&
            strcmp(s->rows[i].method, m) == 0) {
            row = &s->rows[i];
            break;
        }
    if (!row && s->nrows < MAX_METRIC_ROWS) {
        row = &s->rows[s->nrows++];
        memset(row, 0, sizeof *row);
        row->route = route;
        snprintf(row->method, sizeof row->method, "%s", m);
        row->status = status;
    }
    if (row) {
        row->count++;
        row->sum += secs;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (secs <= buckets[b])
                row->bucket[b]++;
    }
    pthread_mutex_unlock(&s->mmu);
}

/* Sends one finished request (loop thread). */
static void
send_reply(oss_http_req_t *r) {
    struct evkeyvalq *oh = evhttp_request_get_output_headers(r->ev);
    struct evbuffer *buf = evbuffer_new();

    oss_log_set_cid(r->cid);
    if (r->content_type)
        evhttp_add_header(oh, "Content-Type", r->content_type);
    evhttp_add_header(oh, "X-Correlation-Id", r->cid);
    evhttp_add_header(oh, "Cache-Control", "no-store");
    for (size_t i = 0; i < r->nout; i++)
        evhttp_add_header(oh, r->out[i].name, r->out[i].value);
    if (r->close)
        evhttp_add_header(oh, "Connection", "close");
    if (buf && r->resp_body)
        evbuffer_add(buf, r->resp_body, strlen(r->resp_body));
    evhttp_send_reply(r->ev, r->status, reason_phrase(r->status), buf);
    if (buf)
        evbuffer_free(buf);

    double secs = elapsed_s(&r->start);
    metrics_record(r->srv, r->route_name, r->method, r->status, secs);
    oss_info("http method=%s route=%s status=%d duration_ms=%.3f", r->method,
             r->route_name, r->status, secs * 1e3);
    oss_log_set_cid(NULL);
    req_free(r);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg) {
    oss_http_server_t *s = arg;
    oss_http_req_t *list;

    pthread_mutex_lock(&s->mu);
    list = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        oss_http_req_t *next = list->next;
        send_reply(list);
        list = next;
    }
}

/* ---- replies ------------------------------------------------------------- */

void
oss_http_reply(oss_http_req_t *req, int status, const char *content_type,
               char *body, const char *const *extra_headers) {
    oss_http_server_t *s = req->srv;

    req->status = status;
    req->content_type = content_type;
    req->resp_body = body;
    for (size_t i = 0; extra_headers && extra_headers[i] &&
                       extra_headers[i + 1] && req->nout < 8;
         i += 2) {
        req->out[req->nout].name = strdup(extra_headers[i]);
        req->out[req->nout].value = strdup(extra_headers[i + 1]);
        if (!req->out[req->nout].name || !req->out[req->nout].value) {
            free(req->out[req->nout].name);
            free(req->out[req->nout].value);
            continue;
        }
        req->nout++;
    }
    req->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->done_tail)
        s->done_tail->next = req;
    else
        s->done_head = req;
    s->done_tail = req;
    pthread_mutex_unlock(&s->mu);
    event_active(s->done_ev, EV_READ, 0);
}

void
oss_http_reply_json(oss_http_req_t *req, int status, char *json,
                    const char *const *extra_headers) {
    oss_http_reply(req, status, "application/json; charset=utf-8", json,
                   extra_headers);
}

void
oss_http_reply_error(oss_http_req_t *req, int status, const char *code,
                     const char *message, const oss_field_errors_t *fe) {
    char ra[24];
    const char *hdrs[3] = {NULL, NULL, NULL};
    char *body = oss_http_error_json(
        code ? code : oss_http_code_for_status(status), message, fe);
    if (status == 503) {
        snprintf(ra, sizeof ra, "%d", req->srv->opt.retry_after_s);
        hdrs[0] = "Retry-After";
        hdrs[1] = ra;
    }
    if (status == 413 || status == 400 || status == 431 || status == 408)
        req->close = true;
    oss_http_reply_json(req, status, body, hdrs);
}

/* ---- accessors ----------------------------------------------------------- */

const char *
oss_http_req_method(const oss_http_req_t *req) {
    return req->method;
}

const char *
oss_http_req_path(const oss_http_req_t *req) {
    return req->path;
}

bool
oss_http_req_query(const oss_http_req_t *req, const char *name, char *out,
                   size_t outsz) {
    struct evkeyvalq q;
    bool found = false;
    if (outsz)
        out[0] = '\0';
    if (!req->query || !name)
        return false;
    q.tqh_first = NULL; /* TAILQ_INIT */
    q.tqh_last = &q.tqh_first;
    if (evhttp_parse_query_str(req->query, &q) == 0) {
        const char *v = evhttp_find_header(&q, name);
        if (v && strlen(v) < outsz) {
            memcpy(out, v, strlen(v) + 1);
            found = true;
        }
    }
    evhttp_clear_headers(&q);
    return found;
}

const char *
oss_http_req_param(const oss_http_req_t *req, int n) {
    if (n < 0 || n >= MAX_PARAMS || !req->params[n])
        return "";
    return req->params[n];
}

const char *
oss_http_req_header(const oss_http_req_t *req, const char *name) {
    for (size_t i = 0; i < req->nhdrs; i++)
        if (strcasecmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    return NULL;
}

const char *
oss_http_req_body(const oss_http_req_t *req, size_t *len) {
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

const char *
oss_http_req_cid(const oss_http_req_t *req) {
    return req->cid;
}

const char *
oss_http_req_peer(const oss_http_req_t *req) {
    return req->peer;
}

oss_http_server_t *
oss_http_req_server(const oss_http_req_t *req) {
    return req->srv;
}

void
oss_http_req_set_data(oss_http_req_t *req, void *data) {
    req->data = data;
}

void *
oss_http_req_data(const oss_http_req_t *req) {
    return req->data;
}

/* ---- routing ------------------------------------------------------------- */

static const char *
method_name(enum evhttp_cmd_type t) {
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "other";
}

/* Matches path against pattern ("*" = one non-empty segment); on a match
 * and when params is not NULL, stores copies of the "*" segments. */
static bool
path_match(const char *pattern, const char *path, char **params) {
    int np = 0;
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (*p == '*') {
            size_t n = strcspn(q, "/");
            if (n == 0)
                return false;
            if (params && np < MAX_PARAMS)
                params[np] = strndup(q, n);
            np++;
            q += n;
            p++;
        } else if (*p == *q) {
            p++;
            q++;
        } else {
            return false;
        }
    }
    return *p == '\0' && *q == '\0';
}

static void
copy_headers(oss_http_req_t *r, struct evkeyvalq *h) {
    for (struct evkeyval *kv = h->tqh_first; kv && r->nhdrs < MAX_HDRS;
         kv = kv->next.tqe_next) {
        r->hdrs[r->nhdrs].name = strdup(kv->key);
        r->hdrs[r->nhdrs].value = strdup(kv->value);
        if (!r->hdrs[r->nhdrs].name || !r->hdrs[r->nhdrs].value) {
            free(r->hdrs[r->nhdrs].name);
            free(r->hdrs[r->nhdrs].value);
            continue;
        }
        r->nhdrs++;
    }
}

static void
gencb(struct evhttp_request *ev, void *arg) {
    oss_http_server_t *s = arg;
    oss_http_req_t *r = calloc(1, sizeof *r);
    struct evkeyvalq *ih = evhttp_request_get_input_headers(ev);
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    const oss_http_route_t *route = NULL;
    char allow[128] = "";
    bool path_known = false;

    if (!r) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->ev = ev;
    r->srv = s;
    r->route_name = "unmatched";
    oss_http_filter_attach(s->filters, evhttp_request_get_connection(ev));
    {
        struct evhttp_connection *pc = evhttp_request_get_connection(ev);
        char *addr = NULL;
        ev_uint16_t port = 0;
        if (pc)
            evhttp_connection_get_peer(pc, &addr, &port);
        snprintf(r->peer, sizeof r->peer, "%s", addr ? addr : "");
    }
    snprintf(r->method, sizeof r->method, "%s",
             method_name(evhttp_request_get_command(ev)));
    const char *orig = s->opt.method_filter
                           ? evhttp_find_header(ih, OSS_HTTP_FILTER_HEADER)
                           : NULL;
    if (orig)
        snprintf(r->method, sizeof r->method, "%s", orig);

    const char *cid = evhttp_find_header(ih, "X-Correlation-Id");
    if (!oss_http_cid_valid(cid))
        cid = evhttp_find_header(ih, "X-Request-Id");
    if (oss_http_cid_valid(cid))
        snprintf(r->cid, sizeof r->cid, "%s", cid);
    else
        oss_uuid7(r->cid);
    oss_log_set_cid(r->cid);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    r->path = strdup(path && *path ? path : "/");
    {
        const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
        r->query = qs ? strdup(qs) : NULL;
    }
    if (!r->path) {
        oss_http_reply_error(r, 500, NULL, "out of memory", NULL);
        return;
    }
    /* the filter skipped an over-long header block (headers, body, and
     * the rest of the connection are dropped: answer 431 and close) */
    const char *hdr_max =
        s->opt.method_filter
            ? evhttp_find_header(ih, OSS_HTTP_HEADERS_TOO_LARGE_HEADER)
            : NULL;
    if (hdr_max) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "request header fields over the limit of "
                 "%s bytes",
                 hdr_max);
        oss_http_reply_error(r, 431, NULL, msg, NULL);
        return;
    }

    /* the header block did not arrive in time (a client trickling it):
     * 408, and the connection closes */
    const char *late =
        s->opt.method_filter
            ? evhttp_find_header(ih, OSS_HTTP_HEADER_TIMEOUT_HEADER)
            : NULL;
    if (late) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "the request's header block did not arrive within %s ms",
                 late);
        oss_http_reply_error(r, 408, "request_timeout", msg, NULL);
        return;
    }

    /* the filter ended an ambiguous request (two Content-Length values,
     * a length that is not a number, two Authorization fields): 400, and
     * the connection closes (the rest of its input is never parsed) */
    const char *bad = s->opt.method_filter
                          ? evhttp_find_header(ih, OSS_HTTP_BAD_FRAMING_HEADER)
                          : NULL;
    if (bad) {
        int auth = strcmp(bad, "Authorization") == 0;
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, auth ? "Authorization" : "Content-Length",
                             auth ? "repeated" : "conflicting");
        oss_http_reply_error(
            r, 400, auth ? "ambiguous_credentials" : "ambiguous_framing",
            auth ? "the request carries more than one Authorization field"
                 : "the request's Content-Length is repeated with another "
                   "value or is not a number: its end is unknown",
            &fe);
        return;
    }

    /* route: path first (404), then method (405 with Allow) */
    for (size_t i = 0; i < s->nroutes; i++) {
        const oss_http_route_t *rt = &s->routes[i];
        if (!path_match(rt->pattern, r->path, NULL))
            continue;
        if (!path_known)
            r->route_name = rt->name; /* the 405 is counted on the path */
        path_known = true;
        if (!strstr(allow, rt->method)) {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, "%s%s", l ? ", " : "",
                     rt->method);
            if (strcmp(rt->method, "GET") == 0 && !strstr(allow, "HEAD")) {
                l = strlen(allow);
                snprintf(allow + l, sizeof allow - l, ", HEAD");
            }
        }
        if (!route && (strcmp(rt->method, r->method) == 0 ||
                       (strcmp(r->method, "HEAD") == 0 && !orig &&
                        strcmp(rt->method, "GET") == 0))) {
            route = rt;
            path_match(rt->pattern, r->path, r->params);
        }
    }
    if (!path_known) {
        oss_http_reply_error(r, 404, NULL, "no such resource", NULL);
        return;
    }
    if (!route) {
        char msg[160];
        const char *hdrs[] = {"Allow", allow, NULL};
        snprintf(msg, sizeof msg, "method not allowed; allowed: %s", allow);
        char *body = oss_http_error_json("method_not_allowed", msg, NULL);
        oss_http_reply_json(r, 405, body, hdrs);
        return;
    }
    r->route_name = route->name;

    /* body limit: the filter's verdict (body never read), Content-Length,
     * then what was actually read */
    const char *cl = evhttp_find_header(ih, "Content-Length");
    if (s->opt.method_filter &&
        evhttp_find_header(ih, OSS_HTTP_TOO_LARGE_HEADER)) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes",
                 s->opt.max_body);
        char *body = oss_http_error_json("payload_too_large", msg, NULL);
        oss_http_reply_json(r, 413, body, NULL); /* the filter discards the
                                                    body: keep the
                                                    connection */
        return;
    }
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end == cl || *end || n > s->opt.max_body) {
            char msg[96];
            snprintf(msg, sizeof msg,
                     "request body over the limit of %zu "
                     "bytes",
                     s->opt.max_body);
            oss_http_reply_error(r, 413, NULL, msg, NULL);
            return;
        }
    }
    size_t blen = evbuffer_get_length(in);
    if (blen > s->opt.max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes",
                 s->opt.max_body);
        oss_http_reply_error(r, 413, NULL, msg, NULL);
        return;
    }
    if (route->json_body &&
        !oss_http_content_type_json(evhttp_find_header(ih, "Content-Type"))) {
        oss_http_reply_error(r, 415, NULL,
                             "request body must be application/json", NULL);
        return;
    }
    r->body = malloc(blen + 1);
    if (!r->body) {
        oss_http_reply_error(r, 500, NULL, "out of memory", NULL);
        return;
    }
    if (blen)
        evbuffer_remove(in, r->body, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    copy_headers(r, ih);
    route->fn(r, s->arg);
    oss_log_set_cid(NULL);
}

/* ---- lifecycle ----------------------------------------------------------- */

oss_code_t
oss_http_server_new(struct event_base *base, const oss_http_options_t *opt,
                    const oss_http_route_t *routes, size_t n, void *arg,
                    oss_http_server_t **out, oss_err_t *err) {
    oss_http_server_t *s = calloc(1, sizeof *s);
    oss_code_t rc = OSS_OK;

    if (!s)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    s->base = base;
    s->opt = *opt;
    s->routes = routes;
    s->nroutes = n;
    s->arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->mmu, NULL);
    s->done_ev = event_new(base, -1, 0, done_cb, s);
    s->http = evhttp_new(base);
    if (!s->done_ev || !s->http) {
        rc = oss_err_set(err, OSS_ENOMEM, "could not create HTTP server");
        goto done;
    }
    /* libevent reads bodies up to its hard cap; we answer JSON 413 for
     * anything between our limit and it */
    size_t cap = OSS_HTTP_HARD_BODY_CAP;
    if (cap < opt->max_body + 1)
        cap = opt->max_body + 1;
    evhttp_set_max_body_size(s->http, (ev_ssize_t)cap);
    evhttp_set_max_headers_size(s->http, 64 * 1024);
    evhttp_set_allowed_methods(
        s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(s->http, 30);
    evhttp_set_gencb(s->http, gencb, s);
    if (opt->method_filter) {
        s->filters = oss_http_filters_new(opt->max_body);
        if (!s->filters) {
            rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            goto done;
        }
        s->filters->header_timeout_ms = opt->header_timeout_ms > 0
                                            ? opt->header_timeout_ms
                                            : OSS_HTTP_HEADER_TIMEOUT_MS;
        evhttp_set_bevcb(s->http, oss_http_filter_bufferevent, s->filters);
    }
    s->sock = evhttp_bind_socket_with_handle(
        s->http, opt->listen ? opt->listen : "127.0.0.1",
        (ev_uint16_t)opt->port);
    if (!s->sock) {
        rc = oss_err_set(err, OSS_EIO, "could not listen on %s:%d",
                         opt->listen ? opt->listen : "127.0.0.1", opt->port);
        goto done;
    }
    {
        struct sockaddr_storage ss;
        ev_socklen_t sl = sizeof ss;
        evutil_socket_t fd = evhttp_bound_socket_get_fd(s->sock);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET)
                s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            else if (ss.ss_family == AF_INET6)
                s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
done:
    if (rc != OSS_OK) {
        oss_http_server_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

void
oss_http_server_free(oss_http_server_t *s) {
    if (!s)
        return;
    /* replies queued but never sent: drop ours, libevent frees its own */
    oss_http_req_t *r = s->done_head;
    while (r) {
        oss_http_req_t *next = r->next;
        req_free(r);
        r = next;
    }
    if (s->http)
        evhttp_free(s->http);
    oss_http_filters_free(s->filters);
    if (s->done_ev)
        event_free(s->done_ev);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->mmu);
    free(s);
}

int
oss_http_server_port(const oss_http_server_t *s) {
    return s->port;
}

int
oss_http_server_retry_after(const oss_http_server_t *s) {
    return s->opt.retry_after_s;
}

/* ---- metrics ------------------------------------------------------------- */

char *
oss_http_server_metrics(oss_http_server_t *s) {
    oss_buf_t b = {0};

    pthread_mutex_lock(&s->mmu);
    oss_buf_appendf(&b,
                    "# HELP oss_http_requests_total HTTP requests answered.\n"
                    "# TYPE oss_http_requests_total counter\n");
    for (size_t i = 0; i < s->nrows; i++) {
        const metric_row_t *m = &s->rows[i];
        oss_buf_appendf(&b,
                        "oss_http_requests_total{route=\"%s\",method=\"%s\","
                        "status=\"%d\"} %llu\n",
                        m->route, m->method, m->status, m->count);
    }
    oss_buf_appendf(&b, "# HELP oss_http_request_duration_seconds Time from "
                        "request dispatch to reply.\n"
                        "# TYPE oss_http_request_duration_seconds histogram\n");
    /* aggregate per (route, method) */
    for (size_t i = 0; i < s->nrows; i++) {
        const metric_row_t *m = &s->rows[i];
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (s->rows[j].route == m->route &&
                strcmp(s->rows[j].method, m->method) == 0)
                seen = true;
        if (seen)
            continue;
        unsigned long long bk[NBUCKETS] = {0}, count = 0;
        double sum = 0;
        for (size_t j = i; j < s->nrows; j++) {
            const metric_row_t *o = &s->rows[j];
            if (o->route != m->route || strcmp(o->method, m->method) != 0)
                continue;
            for (size_t k = 0; k < NBUCKETS; k++)
                bk[k] += o->bucket[k];
            count += o->count;
            sum += o->sum;
        }
        for (size_t k = 0; k < NBUCKETS; k++)
            oss_buf_appendf(
                &b,
                "oss_http_request_duration_seconds_bucket{route=\"%s\","
                "method=\"%s\",le=\"%g\"} %llu\n",
                m->route, m->method, buckets[k], bk[k]);
        oss_buf_appendf(&b,
                        "oss_http_request_duration_seconds_bucket{route=\"%s\","
                        "method=\"%s\",le=\"+Inf\"} %llu\n"
                        "oss_http_request_duration_seconds_sum{route=\"%s\","
                        "method=\"%s\"} %.6f\n"
                        "oss_http_request_duration_seconds_count{route=\"%s\","
                        "method=\"%s\"} %llu\n",
                        m->route, m->method, count, m->route, m->method, sum,
                        m->route, m->method, count);
    }
    pthread_mutex_unlock(&s->mmu);
    return oss_buf_detach(&b, NULL); /* NULL when out of memory */
}
