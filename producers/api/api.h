/* The command API program's library: the route table and handlers
 * (register an account, read its status, liveness, readiness, metrics) and
 * the jobs they give the worker pool (src/app/pool.h), which runs database
 * and crypto work off the event loop and appends queued registrations with
 * ONE oss_journal_execute() per batch (group commit, src/app/batch.c).
 *
 * Threads: handlers run on the event loop; jobs run on the pool's workers,
 * each with its own oss_journal_t (one PGconn per thread); replies go back
 * through oss_http_reply*(), which is thread-safe. */
#ifndef OSS_API_H
#define OSS_API_H

#include <stdbool.h>
#include <stddef.h>

#include "app/app.h"
#include "app/lifecycle.h"
#include "app/pool.h"
#include "config/config.h"
#include "core/account.h"
#include "core/error.h"
#include "core/lifecycle.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "journal/journal.h"

typedef oss_app_pool_t api_pool_t;
typedef oss_app_worker_t api_worker_t;

/* Everything the handlers share; read-only once the server runs, except
 * http and pool which main sets before the loop starts. */
typedef struct api_ctx {
    oss_app_t app; /* keys and the lifecycle (src/app/app.h) */
    size_t max_body;
    oss_http_server_t *http;
    api_pool_t *pool;
} api_ctx_t;

/* Loads what ctx needs from cfg (borrowed for ctx's lifetime): the
 * application context (oss_app_init(): key files, OSS_EIO / OSS_ECORRUPT
 * naming the file when unusable, and the lifecycle) and the routes'
 * settings. Free with api_ctx_free(). */
oss_code_t api_ctx_init(api_ctx_t *ctx, const oss_config_t *cfg,
                        oss_err_t *err);
void api_ctx_free(api_ctx_t *ctx);

/* The route table (static) and its length. */
const oss_http_route_t *api_routes(size_t *n);

/* ---- the worker pool ----------------------------------------------------- */

/* A route's work on the pool (src/app/pool.h): base first, so the pool
 * frees it with free(). Query jobs run run(w, job), which must reply to
 * req; registrations are batched (register.c). */
typedef struct api_job {
    oss_app_job_t base;
    oss_http_req_t *req;
    void (*run)(api_worker_t *w, struct api_job *job);
} api_job_t;

/* Queues job (takes ownership; freed after it ran; answered 503 when the
 * pool is stopping). */
void api_pool_submit(api_pool_t *p, api_job_t *job);

/* Worker side: the API's context. */
api_ctx_t *api_worker_ctx(api_worker_t *w);

/* Queues the registration of req (POST /v1/accounts) as a batched job:
 * the registrations a worker finds queued go to the journal in one
 * transaction (register.c). */
void api_register_submit(api_ctx_t *ctx, oss_http_req_t *req);

/* ---- account lifecycle (lifecycle.c; shared half: app/lifecycle.h) ---- */

/* Route handlers (arg = api_ctx_t *). */
void api_h_activation_resend(oss_http_req_t *req, void *arg);
void api_h_activate(oss_http_req_t *req, void *arg);
void api_h_password(oss_http_req_t *req, void *arg);
void api_h_sign_in(oss_http_req_t *req, void *arg);
void api_h_sessions_list(oss_http_req_t *req, void *arg);
void api_h_session_end(oss_http_req_t *req, void *arg);

/* ---- pure helpers (tested in tests/unit/test_http_util.c) -------------- */

/* Decodes a POST /v1/accounts body (borrowed) and validates it into *out.
 * Returns 0 when valid, 400 (malformed JSON: not an object, bad UTF-8,
 * duplicate keys, nesting deeper than 32, numbers out of range) or 422
 * (*fe: one entry per bad field, including unknown fields and non-string
 * values), with a message in msg. today = YYYYMMDD. No allocation survives
 * the call; safe for fuzzing. */
int api_registration_decode(const char *body, size_t len, int today,
                            oss_registration_t *out, oss_field_errors_t *fe,
                            char *msg, size_t msgsz);

/* Maximum nesting of objects/arrays in s[0..n) (strings skipped). Stops
 * counting at limit + 1. */
int api_json_depth(const char *s, size_t n, int limit);

#endif
