/* Account recovery, the use cases: forgot password (a single-use, expiring
 * reset link issued to every matching principal; using it sets the new
 * password and ends every session), forgot account (the masked username,
 * e-mail and phone registered with a NIK), help requests (an unreachable
 * e-mail replaced after an operator's decision), and a principal's current
 * contact (its sealed personal data with the newest ContactReplaced
 * applied). Pure rules are in src/core/recovery.c (and the lifecycle core
 * for the password and sessions a reset touches); here the commands are
 * made (streams, decisions, the oss.reset_secrets, oss.credentials,
 * oss.sessions, oss.help_requests and oss.account_lookup rows and the
 * sealed notices written by the journal's extra_fn) and executed.
 * Callers (producers/api/recovery.c) parse and validate the input fields
 * and map the outputs to their answer.
 *
 * Every function runs on the caller's journal (one PGconn per thread;
 * borrowed) with app (borrowed, read-only): thread-safe as far as those
 * are. Inputs are borrowed until the call returns, outputs are filled by
 * it. Secrets (reset token, new password, new e-mail) live only in memory
 * the functions wipe, and are never logged.
 *
 * Results: OSS_OK when the use case ran to its outcome (a command's own
 * result in outcome / err: err for OSS_JOURNAL_REJECTED), else the error
 * that stopped it (err; OSS_EUNAVAIL retriable: the connection may need a
 * reset) with `fail`, a static message for the caller's answer ("could not
 * read", "could not append to the journal", ...). Failures are logged here
 * as warnings or errors. */
#ifndef OSS_APP_RECOVERY_H
#define OSS_APP_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/notice.h"
#include "config/config.h"
#include "core/recovery.h"
#include "journal/journal.h"

/* Reason codes (oss_err_reason()) of the rejections decided here (the
 * core's own ones are in the field). */
#define OSS_APP_REASON_ACCESS_REVOKED "access_revoked"
#define OSS_APP_REASON_NOT_ACTIVE "not_active"
#define OSS_APP_REASON_INVALID_TOKEN "invalid_token"
#define OSS_APP_REASON_NO_MATCH "no_match"
#define OSS_APP_REASON_ERASED "erased"
#define OSS_APP_REASON_NO_REQUEST "no_request"

/* The most principals a reset request or a NIK look-up matches. */
#define OSS_APP_RECOVERY_MAX_MATCHES 5

/* The recovery.* configuration; a plain value (copy it freely). */
typedef struct oss_app_recovery_cfg {
    oss_rc_policy_t policy;
    char reset_url[512];
} oss_app_recovery_cfg_t;

#define OSS_APP_RECOVERY_CFG_INIT                                              \
    {                                                                          \
        {30 * 60 * 1000000LL, 3, 3600 * 1000000LL, 3},                         \
            "https://oss.go.id/atur-ulang-sandi"                               \
    }

/* Fills *out from cfg's recovery.* keys (reset_ttl_s, reset_max,
 * reset_window_s, help_max_open, reset_url; an empty reset_url keeps
 * out's). */
void oss_app_recovery_cfg_load(oss_app_recovery_cfg_t *out,
                               const oss_config_t *cfg);

/* ---- forgot password ----------------------------------------------------- */

/* Asking for reset links: by e-mail or by phone (every principal whose
 * keyed look-up matches, at most OSS_APP_RECOVERY_MAX_MATCHES) or by id
 * (the username), the link sent on the channel the owner chose among those
 * registered. */
typedef struct oss_app_reset_request {
    const oss_app_recovery_cfg_t *cfg;
    const char *email;        /* normalised (oss_email_normalize()), or NULL */
    const char *phone;        /* else E.164 (oss_phone_normalize_intl()) */
    const char *principal_id; /* else this (oss_app_id_valid()) */
    const char *channel;      /* "email" | "whatsapp"; NULL: "email" */
    const char *correlation_id;
    /* out */
    size_t matched; /* principals considered */
    size_t issued;  /* links issued (never disclosed to the requester) */
    const char *fail;
} oss_app_reset_request_t;

/* For each matching principal with access that is active and the chosen
 * channel registered (a principal without it is skipped with a log line:
 * the answer does not say so):
 * PasswordResetRequested on "access-<principal_id>" (actor anonymous
 * business user, reason forgot_password), the token's keyed hash in
 * oss.reset_secrets (one live link per principal) and the link sealed in a
 * password_reset notice, one transaction per principal; a principal the
 * core refuses (rate limit, not active, revoked) is skipped with a log
 * line. Returns OSS_OK, else the error that stopped it (links issued
 * before stay issued). */
oss_code_t oss_app_password_reset_request(oss_app_t *app, oss_journal_t *j,
                                          oss_app_reset_request_t *r,
                                          oss_err_t *err);

/* Using a reset link. */
typedef struct oss_app_reset_confirm {
    const char *token;    /* the link's token (secret; shape checked by the
                             caller: oss_app_reset_token_shape()) */
    const char *password; /* the new password (secret; policy checked by
                             the caller: oss_app_lc_password_policy()) */
    const char *correlation_id;
    /* out */
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    int sessions_ended;
    int64_t version; /* the access stream's version after the append */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: reason OSS_APP_REASON_INVALID_TOKEN
                      (unknown link), OSS_APP_REASON_ACCESS_REVOKED,
                      OSS_APP_REASON_NOT_ACTIVE, or the core's field
                      ("invalid_token", "used", "expired") */
    const char *fail;
} oss_app_reset_confirm_t;

/* True when t has the shape of a token we issue (20-128 base64url
 * characters). */
bool oss_app_reset_token_shape(const char *t);

/* Finds the link by the token's keyed hash, hashes the password (Argon2id:
 * slow, run it on a worker) and in ONE transaction appends
 * PasswordResetCompleted + PasswordSet + a SessionEnded (password_reset)
 * per open session, deletes the link, replaces the credential and revokes
 * every session row. Retries a concurrent append twice. */
oss_code_t oss_app_password_reset_confirm(oss_app_t *app, oss_journal_t *j,
                                          oss_app_reset_confirm_t *c,
                                          oss_err_t *err);

/* ---- forgot account ------------------------------------------------------ */

/* One account registered with a NIK, masked (oss_rc_mask_*()). */
typedef struct oss_app_account_masked {
    char username[80];
    char email[300];
    char phone[32];
} oss_app_account_masked_t;

/* The accounts and principals registered with nik (checked by the caller:
 * oss_nik_check(); looked up by keyed digests only), masked, into
 * out[0..OSS_APP_RECOVERY_MAX_MATCHES), their number in *n; unknown or
 * erased ones are left out. Writes nothing. */
oss_code_t oss_app_account_find(oss_app_t *app, oss_journal_t *j,
                                const char *nik, oss_app_account_masked_t *out,
                                size_t *n, const char **fail, oss_err_t *err);

/* ---- help requests ------------------------------------------------------- */

/* Filing a help request: replace an unreachable e-mail. */
typedef struct oss_app_help_file {
    const oss_app_recovery_cfg_t *cfg;
    const char *account_id;   /* oss_app_id_valid() */
    const char *nik;          /* oss_nik_check() */
    const char *new_email;    /* normalised (secret: sealed, never logged) */
    const char *evidence_ref; /* as given */
    const char *correlation_id;
    /* out */
    char request_id[OSS_UUID_STR];
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: OSS_ENOTFOUND reason
                      OSS_APP_REASON_NO_MATCH (the NIK is not the
                      account's), OSS_ECONFLICT reason OSS_APP_REASON_ERASED,
                      or the core's field */
    const char *fail;
} oss_app_help_file_t;

/* HelpRequestFiled on "account-<account_id>" (actor anonymous, the new
 * e-mail sealed under the account's subject key) with its
 * oss.help_requests row. */
oss_code_t oss_app_help_file(oss_app_t *app, oss_journal_t *j,
                             oss_app_help_file_t *h, oss_err_t *err);

/* The account and principal of help request request_id (a UUID; sizes
 * OSS_ID_MAX). OSS_ENOTFOUND when there is none (no log line); else as
 * above. */
oss_code_t oss_app_help_request_find(oss_journal_t *j, const char *request_id,
                                     char *account_id, char *principal_id,
                                     const char **fail, oss_err_t *err);

/* Deciding a help request (an operator). */
typedef struct oss_app_help_decide {
    const char *request_id;
    const char *account_id;   /* oss_app_help_request_find() */
    const char *principal_id; /* oss_app_help_request_find() */
    const char *decision;     /* "approve" | "reject" */
    const char *reason;       /* 1-500 bytes */
    const char *actor_id;     /* the operator's principal id */
    const char *correlation_id;
    /* out */
    bool approved;
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: reason OSS_APP_REASON_NO_REQUEST (not
                      on the account's stream), OSS_ECONFLICT reason
                      OSS_APP_REASON_ERASED, or the core's field
                      ("no_request", "already_decided", ...) */
    const char *fail;
} oss_app_help_decide_t;

/* HelpRequestDecided and, when approved, ContactReplaced (the new e-mail as
 * filed) on the account stream with the operator as actor and the reason;
 * the help request's row, the e-mail look-up moved to the new address and
 * the help_decided notice on every channel of the person, in ONE
 * transaction. Retries a concurrent append twice. */
oss_code_t oss_app_help_decide(oss_app_t *app, oss_journal_t *j,
                               oss_app_help_decide_t *d, oss_err_t *err);

#endif
