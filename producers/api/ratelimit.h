/* Rate limits of the API's sensitive entry points (registration, sign-in,
 * activation OTP, activation resend, recovery): in-process token buckets
 * per (class, client IP) and per (class, key), where the key names what is
 * being attacked (an account or principal id, an e-mail, a NIK). A refused
 * request is answered 429 "rate_limited" in the JSON error shape with
 * Retry-After (seconds until a token is back).
 *
 * Keys are kept only as keyed digests (a random per-process salt), never in
 * plaintext. Memory is bounded by api.ratelimit.max_entries buckets; when
 * full, the least recently used bucket is dropped (a dropped bucket starts
 * full again: eviction can only ever allow more, never refuse wrongly).
 * Buckets live in one process: several API instances each keep their own.
 *
 * Configuration (src/config/config.c, "api.ratelimit.*"): per class C in
 * register|signin|otp|resend|recovery: api.ratelimit.C.ip_max (tokens per
 * client IP), api.ratelimit.C.key_max (tokens per key; 0 = no per-key
 * limit), api.ratelimit.C.window_s (a full bucket refills in this many
 * seconds, continuously); api.ratelimit.enabled; api.ratelimit.max_entries;
 * api.ratelimit.exempt_ips (comma-separated client IPs with no per-IP
 * limit, e.g. a trusted gateway; per-key limits still apply).
 *
 * Threads: every function is thread-safe (one mutex) and may be called from
 * the event loop or a pool worker. */
#ifndef OSS_API_RATELIMIT_H
#define OSS_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "http/http.h"

typedef enum api_rl_class {
    API_RL_REGISTER = 0, /* POST /v1/accounts, legacy migration; key: NIK
                            or business identity */
    API_RL_SIGNIN,       /* POST /v1/sessions; key: account/principal id or
                            e-mail */
    API_RL_OTP,          /* POST .../activate; key: account/principal id */
    API_RL_RESEND,       /* POST .../activation; key: account/principal id */
    API_RL_RECOVERY,     /* password resets, account recovery, help
                            requests; key: e-mail, principal id or NIK */
    API_RL_CLASS_COUNT
} api_rl_class_t;

/* "register", "signin", ... */
const char *api_rl_class_name(api_rl_class_t c);

/* ---- the process-wide limiter the handlers use -------------------------- */

/* Configures the process-wide limiter from cfg (borrowed; values are copied).
 * Call once before serving (oss-api's main does). Until it is called (or
 * when api.ratelimit.enabled is false) api_ratelimit_take() allows
 * everything. Returns OSS_OK or OSS_ENOMEM. */
oss_code_t api_ratelimit_init(const oss_config_t *cfg, oss_err_t *err);
/* Frees the process-wide limiter (then everything is allowed again). */
void api_ratelimit_shutdown(void);

/* Takes one token of class cls for req's client IP and, when key is neither
 * NULL nor "", one for key (borrowed; only its digest is kept). Both or
 * neither are taken. Returns true when allowed; otherwise replies 429
 * "rate_limited" with Retry-After (the request is answered: the caller must
 * not reply again) and returns false. Any thread. */
bool api_ratelimit_take(oss_http_req_t *req, api_rl_class_t cls,
                        const char *key);

/* The key of a JSON request body: the value of the first of fields
 * (NULL-ended, borrowed) that is a non-empty string in req's body, ASCII
 * lower-cased, into out (outlen bytes; truncated). Returns out, or NULL when
 * the body is not a JSON object or holds none of them (then only the per-IP
 * bucket applies; the handler itself answers a malformed body). Wipe out
 * after use when it may hold personal data (a NIK, an e-mail). */
const char *api_ratelimit_body_key(const oss_http_req_t *req,
                                   const char *const *fields, char *out,
                                   size_t outlen);

/* ---- the limiter itself (pure; unit-tested with a controlled clock) ----- */

typedef struct api_rl_limit {
    uint32_t ip_max;   /* tokens per client IP; 0 = no per-IP limit */
    uint32_t key_max;  /* tokens per key; 0 = no per-key limit */
    uint32_t window_s; /* seconds for an empty bucket to refill (>= 1) */
} api_rl_limit_t;

typedef struct api_rl api_rl_t;

/* limits[API_RL_CLASS_COUNT] (borrowed, copied); max_entries >= 1 bounds the
 * buckets kept; exempt_ips (borrowed, copied; may be NULL): comma-separated
 * IPs without per-IP limit. Returns new, caller frees with api_rl_free();
 * NULL on OOM. */
api_rl_t *api_rl_new(const api_rl_limit_t *limits, size_t max_entries,
                     const char *exempt_ips);
void api_rl_free(api_rl_t *rl);

/* Takes one token of cls for ip (may be NULL/"") and key (may be NULL/"")
 * at now_us (a monotonic clock in microseconds). Returns 0 when allowed
 * (both taken), else the microseconds until the refusing bucket(s) hold a
 * token again (nothing taken). Thread-safe. */
int64_t api_rl_take(api_rl_t *rl, api_rl_class_t cls, const char *ip,
                    const char *key, int64_t now_us);

/* Buckets currently held (for tests and metrics). */
size_t api_rl_size(api_rl_t *rl);

#endif
