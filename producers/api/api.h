/* The command API program's library: the route table and handlers
 * (register an account, read its status, liveness, readiness, metrics) and
 * the worker pool that runs database and crypto work off the event loop,
 * appending queued registrations with ONE oss_journal_execute() per batch
 * (group commit).
 *
 * Threads: handlers run on the event loop; jobs run on the pool's workers,
 * each with its own oss_journal_t (one PGconn per thread); replies go back
 * through oss_http_reply*(), which is thread-safe. */
#ifndef OSS_API_H
#define OSS_API_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/account.h"
#include "core/error.h"
#include "core/lifecycle.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "journal/journal.h"

typedef struct api_pool api_pool_t;
typedef struct api_worker api_worker_t;
typedef struct api_lc api_lc_t;

/* Everything the handlers share; read-only once the server runs, except
 * http and pool which main sets before the loop starts. */
typedef struct api_ctx {
    const char *pg_url;   /* borrowed from the config */
    oss_keyring_t master; /* crypto.master_key_file */
    oss_keyring_t index;  /* crypto.index_key_file */
    size_t max_body;
    oss_http_server_t *http;
    api_pool_t *pool;
    api_lc_t *lc; /* lifecycle.c; NULL when disabled */
} api_ctx_t;

/* Loads what ctx needs from cfg (borrowed for ctx's lifetime): key files
 * (OSS_EIO / OSS_ECORRUPT naming the file when unusable). */
oss_code_t api_ctx_init(api_ctx_t *ctx, const oss_config_t *cfg,
                        oss_err_t *err);

/* The route table (static) and its length. */
const oss_http_route_t *api_routes(size_t *n);

/* ---- the worker pool ----------------------------------------------------- */

typedef enum api_job_kind {
    API_JOB_REGISTER, /* batched: group commit */
    API_JOB_QUERY     /* one at a time: run() */
} api_job_kind_t;

typedef struct api_job {
    api_job_kind_t kind;
    oss_http_req_t *req;
    /* API_JOB_QUERY: runs on a worker and must reply to req. */
    void (*run)(api_worker_t *w, struct api_job *job);
    struct api_job *next;
} api_job_t;

/* Starts nworkers threads. ctx is borrowed. Returns new, caller frees with
 * api_pool_free(). */
oss_code_t api_pool_new(api_ctx_t *ctx, int nworkers, size_t group_max,
                        api_pool_t **out, oss_err_t *err);
/* Queues job (takes ownership; freed with free() after it ran). */
void api_pool_submit(api_pool_t *p, api_job_t *job);
/* Stops and joins the workers; queued jobs are answered 503. */
void api_pool_free(api_pool_t *p);

/* Worker side: the context and this worker's journal (connected on demand;
 * NULL with *err set to OSS_EUNAVAIL while PostgreSQL is down). */
api_ctx_t *api_worker_ctx(api_worker_t *w);
struct oss_journal *api_worker_journal(api_worker_t *w, oss_err_t *err);
/* Drops the worker's connection (after a connection failure). */
void api_worker_reset(api_worker_t *w);

/* Runs a batch of registration jobs (register.c); replies to each. */
void api_register_batch(api_worker_t *w, api_job_t **jobs, size_t n);

/* ---- account lifecycle (lifecycle.c) ------------------------------------ */

/* Loads the lifecycle's configuration (OTP key, policy, Argon2id costs, the
 * common-password list) into ctx->lc. A missing or unusable
 * crypto.otp_key_file leaves ctx->lc NULL with a warning: registration then
 * issues no activation and the lifecycle routes answer 503. */
void api_lc_init(api_ctx_t *ctx, const oss_config_t *cfg);
void api_lc_free(api_ctx_t *ctx);

/* Lifecycle events live on the account's access stream
 * "access-<account_id>" (stream type "account"); see lifecycle.proto. */
#define API_ACCESS_STREAM_PREFIX "access-"

/* The activation a registration issues in its append transaction: the OTP
 * and link token (plaintext only here, wiped by api_activation_clear()),
 * their keyed hashes, and the delivery sealed under the subject's key. */
typedef struct api_activation {
    api_lc_t *lc;
    char account_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX]; /* the access stream */
    /* set by register.c: the registration's own command, earlier in the
     * same batch; the activation is issued only when it appended */
    const oss_command_t *reg_cmd;
    char subject_id[OSS_UUID_STR];
    char delivery_id[OSS_UUID_STR];
    char channel[12];
    char otp[8];
    char token[48];
    char otp_hmac[65], link_hmac[65]; /* hex */
    char key_id[17];
    uint8_t *sealed; /* nonce || ciphertext || tag */
    size_t sealed_len;
    int64_t expires_at_us; /* set by decide */
} api_activation_t;

/* Makes the secrets for account_id's access stream and seals them under dk
 * (borrowed). Returns OSS_OK, OSS_EUNAVAIL when the lifecycle is
 * disabled. */
oss_code_t api_activation_prepare(api_ctx_t *ctx, const oss_data_key_t *dk,
                                  const char *account_id, const char *channel,
                                  api_activation_t *a, oss_err_t *err);
void api_activation_clear(api_activation_t *a);
/* decide (ActivationIssued, once a->reg_cmd appended) and extra_fn (secret
 * and delivery rows) for the registration's second command, on the access
 * stream; ctx = a. */
oss_code_t api_activation_issue_decide(void *a, const oss_event_t *history,
                                       size_t n, oss_event_list_t *out,
                                       oss_err_t *err);
oss_code_t api_activation_extra(void *a, const oss_command_t *cmd,
                                oss_journal_queue_fn q, void *qctx,
                                oss_err_t *err);

/* Folds an access stream's history (borrowed) into *st, decoding each
 * lifecycle event; registered: the principal exists (an AccountRegistered
 * or PrincipalCreated the caller knows of), applied first. */
void api_lc_fold(const oss_event_t *history, size_t n, bool registered,
                 oss_lc_state_t *st);
/* Encodes the facts of d (decided against st) as events appended to out
 * (for commands outside lifecycle.c, e.g. a password reset that ends every
 * session: PasswordSet + SessionEnded facts). account_id: the principal. */
oss_code_t api_lc_encode(const oss_lc_decision_t *d, const oss_lc_state_t *st,
                         const char *account_id, oss_event_list_t *out,
                         oss_err_t *err);
/* The keyed hash (hex, 65 bytes) oss.sessions.token_hmac holds for a
 * session token (borrowed). False when the lifecycle is disabled. */
bool api_lc_session_hmac(const api_ctx_t *ctx, const char *token, char out[65]);
/* For commands outside lifecycle.c that keep a secret or set a password
 * (recovery.c), with the lifecycle's keys, policy, costs and clock:
 * api_lc_keyed_hmac: HMAC-SHA256 under the current OTP key of kind "|"
 * value, hex (65 bytes), and that key's id (17 bytes; may be NULL);
 * api_lc_password_policy: NULL when pw is acceptable, else the reason of
 * oss_password_policy_check() (common list included);
 * api_lc_password_hash: Argon2id with the configured costs (run it on a
 * worker) into out (OSS_PASSWORD_ENCODED_MAX bytes);
 * api_lc_now: the lifecycle clock (unix microseconds). All need ctx->lc
 * (false / OSS_EUNAVAIL / "disabled" / 0 when it is NULL). */
bool api_lc_keyed_hmac(const api_ctx_t *ctx, const char *kind,
                       const char *value, char out[65], char *key_id);
const char *api_lc_password_policy(const api_ctx_t *ctx, const char *pw);
oss_code_t api_lc_password_hash(const api_ctx_t *ctx, const char *pw, char *out,
                                size_t outlen, oss_err_t *err);
int64_t api_lc_now(const api_ctx_t *ctx);

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

/* True when id looks like an account id we issue (1-64 of [A-Za-z0-9-]). */
bool api_account_id_valid(const char *id);

#endif
