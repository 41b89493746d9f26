/* The account lifecycle, pure: activation (issue, verify, resend, lock),
 * password, sign-in (failures, throttling) and sessions, folded from the
 * account stream's history and decided against a caller-given clock. The
 * shell (producers/api/lifecycle.c) decodes each journal event's protobuf
 * payload into an oss_lc_fact_t and encodes the facts decide() returns back
 * into events; this file is libc-only and never reads the time itself.
 * Thread-safe, no allocation. */
#ifndef OSS_CORE_LIFECYCLE_H
#define OSS_CORE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Payload types of the lifecycle events (schemas/oss/v1/lifecycle.proto). */
#define OSS_LC_T_ACTIVATION_ISSUED "oss.v1.ActivationIssued"
#define OSS_LC_T_ACTIVATION_SUCCEEDED "oss.v1.ActivationSucceeded"
#define OSS_LC_T_ACTIVATION_FAILED "oss.v1.ActivationFailed"
#define OSS_LC_T_ACTIVATION_LOCKED "oss.v1.ActivationLocked"
#define OSS_LC_T_ACTIVATION_RESENT "oss.v1.ActivationResent"
#define OSS_LC_T_PASSWORD_SET "oss.v1.PasswordSet"
#define OSS_LC_T_SIGN_IN_SUCCEEDED "oss.v1.SignInSucceeded"
#define OSS_LC_T_SIGN_IN_FAILED "oss.v1.SignInFailed"
#define OSS_LC_T_SIGN_IN_THROTTLED "oss.v1.SignInThrottled"
#define OSS_LC_T_SESSION_ENDED "oss.v1.SessionEnded"

/* A controllable clock: now_us(ctx) = unix microseconds. The shell passes
 * the real time; tests pass a variable they move. */
typedef struct oss_clock {
    int64_t (*now_us)(void *ctx);
    void *ctx;
} oss_clock_t;

static inline int64_t
oss_clock_now(const oss_clock_t *c) {
    return c->now_us(c->ctx);
}

typedef enum oss_lc_kind {
    OSS_LC_OTHER = 0,        /* unknown to the lifecycle: version only */
    OSS_LC_REGISTERED,       /* AccountRegistered */
    OSS_LC_ISSUED,           /* ActivationIssued */
    OSS_LC_SUCCEEDED,        /* ActivationSucceeded */
    OSS_LC_FAILED,           /* ActivationFailed */
    OSS_LC_LOCKED,           /* ActivationLocked */
    OSS_LC_RESENT,           /* ActivationResent */
    OSS_LC_PASSWORD,         /* PasswordSet */
    OSS_LC_SIGNIN_OK,        /* SignInSucceeded */
    OSS_LC_SIGNIN_FAILED,    /* SignInFailed */
    OSS_LC_SIGNIN_THROTTLED, /* SignInThrottled */
    OSS_LC_SESSION_ENDED     /* SessionEnded */
} oss_lc_kind_t;

#define OSS_LC_ID_MAX 40     /* uuid text + NUL, rounded */
#define OSS_LC_SOURCE_MAX 17 /* 16 hex chars + NUL */

/* One lifecycle event, decoded (no secret ever appears here). */
typedef struct oss_lc_fact {
    oss_lc_kind_t kind;
    int64_t version;                /* stream version (0 for a decided fact) */
    int64_t at_us;                  /* occurred_at of the event */
    int64_t expires_at_us;          /* ISSUED, SIGNIN_OK */
    char channel[12];               /* ISSUED, RESENT: "email" | "whatsapp" */
    char id[OSS_LC_ID_MAX];         /* ISSUED: delivery id; SIGNIN_OK,
                                       SESSION_ENDED: session id */
    char source[OSS_LC_SOURCE_MAX]; /* SIGNIN_FAILED: source hash */
    char reason[24];                /* SESSION_ENDED: "signed_out", ... */
    int attempt;                    /* FAILED: 1-based; SIGNIN_FAILED: count */
} oss_lc_fact_t;

typedef enum oss_lc_status {
    OSS_LC_NEW = 0,         /* no AccountRegistered */
    OSS_LC_REGISTERED_ONLY, /* registered, no activation issued */
    OSS_LC_PENDING,         /* activation issued, not used */
    OSS_LC_LOCKED_OUT,      /* too many wrong codes; resend unlocks */
    OSS_LC_ACTIVE           /* activated */
} oss_lc_status_t;

/* Limits (from configuration). */
typedef struct oss_lc_policy {
    int64_t activation_ttl_us;   /* lifetime of an OTP / link */
    int activation_max_attempts; /* wrong codes before the lock */
    int resend_max;              /* resends allowed per window */
    int64_t resend_window_us;
    int signin_threshold;    /* failures (per account) that raise
                                SignInThrottled; per source, the
                                failures after which delays start */
    int64_t signin_delay_us; /* first delay; doubles per failure */
    int64_t signin_delay_max_us;
    int64_t session_ttl_us;
} oss_lc_policy_t;

/* Fills p with the defaults (15 min, 5 attempts, 3 resends / hour,
 * 5 failures, 1 s .. 15 min, 12 h). */
void oss_lc_policy_default(oss_lc_policy_t *p);

#define OSS_LC_MAX_RESENDS 32
#define OSS_LC_MAX_SOURCES 16
#define OSS_LC_MAX_SESSIONS 32

typedef struct oss_lc_source {
    char hash[OSS_LC_SOURCE_MAX];
    int failures; /* since its last success */
    int64_t last_failure_us;
} oss_lc_source_t;

typedef struct oss_lc_session {
    char id[OSS_LC_ID_MAX];
    int64_t started_us, expires_at_us;
} oss_lc_session_t;

/* State folded from an account stream. */
typedef struct oss_lc_state {
    int64_t version;
    oss_lc_status_t status;
    int64_t activation_expires_at_us;
    char delivery_id[OSS_LC_ID_MAX]; /* of the current activation */
    char channel[12];
    int activation_failures;                  /* since the current issue */
    int64_t resent_at_us[OSS_LC_MAX_RESENDS]; /* newest last */
    size_t nresent;
    int64_t activated_at_us;
    bool password_set;
    int signin_failures; /* account-wide, since a success */
    bool throttled;      /* SignInThrottled since a success */
    oss_lc_source_t sources[OSS_LC_MAX_SOURCES];
    size_t nsources;
    oss_lc_session_t sessions[OSS_LC_MAX_SESSIONS]; /* open, oldest first */
    size_t nsessions;
} oss_lc_state_t;

void oss_lc_state_init(oss_lc_state_t *st);
/* Applies one fact (borrowed). */
void oss_lc_evolve(oss_lc_state_t *st, const oss_lc_fact_t *f);
void oss_lc_fold(oss_lc_state_t *st, const oss_lc_fact_t *facts, size_t n);

/* What a decide function returns: up to 4 facts to encode as events, in
 * order (version 0; at_us = now). */
typedef struct oss_lc_decision {
    oss_lc_fact_t facts[4];
    size_t n;
    int64_t retry_after_us; /* > 0 with a rate-limit / throttle refusal */
} oss_lc_decision_t;

/* Outcome codes carried in err->field so the shell can map them to HTTP:
 *   "not_registered" (OSS_ENOTFOUND), "not_pending", "already_active",
 *   "locked", "expired", "not_active", "rate_limited", "throttled",
 *   "no_password", "no_session" ... see each function. */

/* Issue the first activation (after AccountRegistered). delivery_id and
 * channel borrowed. OSS_ENOTFOUND "not_registered"; OSS_ECONFLICT
 * "already_issued" when an activation exists or the account is active. */
oss_code_t oss_lc_decide_issue(const oss_lc_state_t *st,
                               const oss_lc_policy_t *p, int64_t now,
                               const char *channel, const char *delivery_id,
                               oss_lc_decision_t *d, oss_err_t *err);

/* Resend (same or the other channel): ActivationResent then a new
 * ActivationIssued (attempts reset; lifts a lock). OSS_ENOTFOUND
 * "not_registered"; OSS_ECONFLICT "already_active"; OSS_ECONFLICT
 * "rate_limited" with d->retry_after_us when resend_max resends happened
 * within the last resend_window_us. */
oss_code_t oss_lc_decide_resend(const oss_lc_state_t *st,
                                const oss_lc_policy_t *p, int64_t now,
                                const char *channel, const char *delivery_id,
                                oss_lc_decision_t *d, oss_err_t *err);

typedef enum oss_lc_verify {
    OSS_LC_VERIFY_OK = 0,    /* ActivationSucceeded */
    OSS_LC_VERIFY_WRONG,     /* ActivationFailed (maybe + Locked) */
    OSS_LC_VERIFY_LOCKED_NOW /* this failure locked it */
} oss_lc_verify_t;

/* Verify an OTP or link; matched = the shell's keyed-hash comparison.
 * Refusals without events: OSS_ENOTFOUND "not_registered", OSS_ECONFLICT
 * "already_active", "not_pending" (nothing issued), "locked", "expired".
 * Otherwise OSS_OK with the events in d and *outcome. */
oss_code_t oss_lc_decide_verify(const oss_lc_state_t *st,
                                const oss_lc_policy_t *p, int64_t now,
                                bool matched, oss_lc_verify_t *outcome,
                                oss_lc_decision_t *d, oss_err_t *err);

/* Set the password (PasswordSet): only when active, else OSS_ECONFLICT
 * "not_active" (OSS_ENOTFOUND "not_registered"). authed = the caller holds
 * an open session of this account. Without one, only the FIRST password,
 * and only within activation_ttl_us of the activation: else OSS_ECONFLICT
 * "unauthenticated" (a password exists) or "setup_expired". */
oss_code_t oss_lc_decide_set_password(const oss_lc_state_t *st,
                                      const oss_lc_policy_t *p, int64_t now,
                                      bool authed, oss_lc_decision_t *d,
                                      oss_err_t *err);

/* Microseconds source (hash, borrowed) must still wait before the next
 * sign-in attempt is even checked (0 = go ahead). Call it before the
 * expensive password check. */
int64_t oss_lc_signin_wait(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                           int64_t now, const char *source);

/* The outcome of a sign-in whose password was checked (matched) from
 * source. matched and the account active with a password: SignInSucceeded
 * {session_id, expires_at} (plus SessionEnded "evicted" for the oldest
 * session when OSS_LC_MAX_SESSIONS are open). Otherwise SignInFailed{source}
 * and, when the account-wide count reaches the threshold, SignInThrottled;
 * *ok tells which. Refuses with OSS_ECONFLICT "throttled" (retry_after_us
 * set, no event) while oss_lc_signin_wait() > 0. */
oss_code_t oss_lc_decide_signin(const oss_lc_state_t *st,
                                const oss_lc_policy_t *p, int64_t now,
                                bool matched, const char *source,
                                const char *session_id, bool *ok,
                                oss_lc_decision_t *d, oss_err_t *err);

/* End an open session (SessionEnded{id, reason}); OSS_ENOTFOUND
 * "no_session" when it is not open (ended, expired or unknown). */
oss_code_t oss_lc_decide_end_session(const oss_lc_state_t *st, int64_t now,
                                     const char *session_id, const char *reason,
                                     oss_lc_decision_t *d, oss_err_t *err);

/* The open session with id (borrowed) at now, or NULL. */
const oss_lc_session_t *oss_lc_session_find(const oss_lc_state_t *st,
                                            int64_t now, const char *id);

/* Password policy: NULL when acceptable, else the reason
 * ("too_short", "too_long", "needs_letter", "needs_digit", "needs_special",
 * "common"). common(ctx, pw) tells whether pw (lower-cased) is in the list
 * of common passwords; may be NULL. */
const char *oss_password_policy_check(
    const char *pw, bool (*common)(void *ctx, const char *lower), void *ctx);

#endif
