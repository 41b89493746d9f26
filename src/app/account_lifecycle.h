/* The account lifecycle's use cases: activation (resend, verify by OTP or
 * link), password, sign-in, a principal's sessions (find by token, list,
 * end). Each prepares its command on the principal's access stream
 * "access-<principal_id>" (the pure decision of src/core/lifecycle.c, the
 * secret rows of infra/sql/040_credentials.sql and notices as the
 * journal's extra_fn) and executes it on the caller's journal; the HTTP
 * API (producers/api/lifecycle.c) only parses requests and maps the
 * outcome to answers. The shared half (configuration, keyed hashes, the
 * activation a registration issues) is in app/lifecycle.h.
 *
 * Ownership: every input string is borrowed until the call returns;
 * outputs are filled in the caller's struct (the sessions list is owned by
 * the caller: oss_app_sessions_free()). Secrets (OTP, link token,
 * password, session token) are never logged; a token returned by
 * oss_app_sign_in() is the caller's to wipe (oss_app_signin_clear()).
 *
 * Thread-safety: app is shared read-only; j is the calling thread's own
 * journal (one PGconn per thread). All of these need app->lc (the route
 * answers unavailable without it, before calling). */
#ifndef OSS_APP_ACCOUNT_LIFECYCLE_H
#define OSS_APP_ACCOUNT_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/lifecycle.h"
#include "core/lifecycle.h"
#include "journal/journal.h"

/* Reason codes (oss_err_reason()) of refusals made before the core
 * decides; the core's own are in err.field (src/core/lifecycle.h). */
#define OSS_APP_LC_REASON_INVALID_CREDENTIALS "invalid_credentials"
#define OSS_APP_LC_REASON_AMBIGUOUS "ambiguous"
#define OSS_APP_LC_REASON_FORBIDDEN "forbidden"
#define OSS_APP_LC_REASON_ERASED "erased"
#define OSS_APP_LC_REASON_NOT_REGISTERED "not_registered"
#define OSS_APP_LC_REASON_THROTTLED "throttled"
#define OSS_APP_LC_REASON_REQUIRED "required"
#define OSS_APP_LC_REASON_RESTRICTED "account_restricted"

/* Where a call that returned an error stopped (the caller's answer). */
typedef enum oss_app_lc_stage {
    OSS_APP_LC_AT_APPEND = 0,  /* the transaction (not logged here) */
    OSS_APP_LC_AT_READ,        /* a query before it (logged as a warning) */
    OSS_APP_LC_AT_ACCOUNT,     /* loading a stream */
    OSS_APP_LC_AT_WRAPPED_KEY, /* a stored subject key too long */
    OSS_APP_LC_AT_UNWRAP,      /* unwrapping it (logged) */
    OSS_APP_LC_AT_PREPARE,     /* making the activation's secrets (logged) */
    OSS_APP_LC_AT_HASH,        /* Argon2id (logged) */
    OSS_APP_LC_AT_RANDOM,      /* no randomness for a token */
} oss_app_lc_stage_t;

/* What every lifecycle use case reports. */
typedef struct oss_app_lc_result {
    oss_app_lc_stage_t failed_at; /* when the call did not return OSS_OK */
    oss_journal_outcome_t outcome;
    /* when REJECTED: the core's code in err.field, or a reason above (and
     * err.field naming an input field for "ambiguous", "required" and a
     * password refused by the policy: OSS_EINVAL, field "password", the
     * policy's reason) */
    oss_err_t err;
    int64_t retry_after_us; /* refusals "rate_limited" / "throttled" */
    int64_t version;        /* the access stream's version when APPENDED */
    char stream_id[OSS_ID_MAX];
} oss_app_lc_result_t;

/* ---- activation ---------------------------------------------------------- */

typedef struct oss_app_resend {
    const char *principal_id;
    const char *channel; /* "email" | "whatsapp" */
    const char *correlation_id;
    /* out */
    oss_app_lc_result_t r; /* REJECTED not_registered (no such account),
                              erased (OSS_ECONFLICT), or the core's */
    char delivery_id[OSS_UUID_STR];
    int64_t expires_at_us;
} oss_app_resend_t;

/* A new activation code: ActivationResent + ActivationIssued, the secret
 * and the sealed delivery rows (the subject's key from oss.principals or
 * the account's AccountRegistered). Returns OSS_OK when the transaction
 * committed (the result in a->r), else the error (a->r.failed_at;
 * OSS_EUNAVAIL: retriable). */
oss_code_t oss_app_activation_resend(oss_app_t *app, oss_journal_t *j,
                                     oss_app_resend_t *a, oss_err_t *err);

typedef struct oss_app_activate {
    const char *principal_id;
    const char *otp;   /* 6 digits, or NULL */
    const char *token; /* the link's token, or NULL (exactly one given) */
    const char *correlation_id;
    /* out */
    oss_app_lc_result_t r;
    oss_lc_verify_t verify; /* when APPENDED */
} oss_app_activate_t;

/* Checks the code against oss.activation_secrets and appends the core's
 * verdict (ActivationSucceeded: the secrets and deliveries deleted;
 * ActivationFailed / ActivationLocked: the attempt counted). OSS_ECONFLICT
 * "superseded" when a new code was issued meanwhile. Returns as above. */
oss_code_t oss_app_activate(oss_app_t *app, oss_journal_t *j,
                            oss_app_activate_t *a, oss_err_t *err);

/* ---- password ------------------------------------------------------------ */

typedef struct oss_app_password {
    const char *principal_id;
    const char *password;
    /* the principal of the caller's session, NULL without one (the first
     * password, within activation.ttl_s of the activation) */
    const char *caller;
    const char *correlation_id;
    /* out */
    oss_app_lc_result_t r; /* REJECTED: the policy (above), forbidden (the
                              caller is another principal), the core's */
} oss_app_password_t;

/* PasswordSet and the Argon2id hash in oss.credentials (slow: run on a
 * worker). Returns as above. */
oss_code_t oss_app_password_set(oss_app_t *app, oss_journal_t *j,
                                oss_app_password_t *p, oss_err_t *err);

/* ---- sign-in and sessions ------------------------------------------------ */

typedef struct oss_app_signin {
    const char *principal_id; /* or NULL with email */
    const char *email;
    const char *password;
    const char *source; /* the client's address (kept as a keyed hash) */
    const char *correlation_id;
    /* out */
    oss_app_lc_result_t r; /* REJECTED: invalid_credentials, ambiguous
                              (field "email"), required (field), throttled
                              (retry_after_us), the core's */
    bool signed_in;        /* APPENDED: SignInSucceeded, else SignInFailed */
    char principal_id_out[OSS_ID_MAX];
    char session_id[OSS_UUID_STR];
    char token[48]; /* secret: wipe with oss_app_signin_clear() */
    int64_t expires_at_us;
} oss_app_signin_t;

/* Finds the principal (by id, or by the e-mail's keyed hash in
 * oss.account_lookup), refuses a throttled source before any Argon2id
 * work, verifies the password, and appends the core's verdict with the new
 * session's row (its token as an HMAC) and, when this failure throttles
 * the source, the signin_throttled notice. Returns as above. */
oss_code_t oss_app_sign_in(oss_app_t *app, oss_journal_t *j,
                           oss_app_signin_t *s, oss_err_t *err);
/* Wipes s's token. */
void oss_app_signin_clear(oss_app_signin_t *s);

typedef struct oss_app_session {
    char principal_id[OSS_ID_MAX];
    char session_id[OSS_UUID_STR];
} oss_app_session_t;

/* The open session of token (borrowed): *found and *out. Returns OSS_OK,
 * else a read error (OSS_EUNAVAIL: the connection was lost; logged). */
oss_code_t oss_app_session_find(oss_app_t *app, oss_journal_t *j,
                                const char *token, bool *found,
                                oss_app_session_t *out, oss_err_t *err);

typedef struct oss_app_session_row {
    char session_id[OSS_UUID_STR];
    char created_at[40]; /* ISO-8601 UTC with microseconds */
    char expires_at[40];
} oss_app_session_row_t;

typedef struct oss_app_sessions {
    oss_app_session_row_t *items; /* owned: oss_app_sessions_free() */
    size_t n;
} oss_app_sessions_t;

/* principal_id's open sessions, oldest first. Returns OSS_OK, else a read
 * error as oss_app_session_find(). */
oss_code_t oss_app_sessions_list(oss_journal_t *j, const char *principal_id,
                                 oss_app_sessions_t *out, oss_err_t *err);
void oss_app_sessions_free(oss_app_sessions_t *s);

typedef struct oss_app_session_end {
    const char *principal_id; /* the caller, whose session it must be */
    const char *session_id;
    const char *correlation_id;
    /* out */
    oss_app_lc_result_t r; /* REJECTED: the core's (no_session) */
} oss_app_session_end_t;

/* SessionEnded ("signed_out") and the session's row revoked. Returns as
 * above. */
oss_code_t oss_app_session_end(oss_app_t *app, oss_journal_t *j,
                               oss_app_session_end_t *e, oss_err_t *err);

#endif
