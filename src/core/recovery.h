/* Account recovery, pure: masking of the contact shown by "forgot account",
 * the password-reset link (issue and use, expiring and single use, against a
 * caller-given time), help requests (an unreachable e-mail replaced after an
 * operator's decision) and a small fixed-window counter for rate limits.
 * The shell (producers/api/recovery.c) decodes journal events into
 * oss_rc_fact_t and encodes decided facts back (schemas/oss/v1/
 * recovery.proto). libc only; thread-safe; no allocation. */
#ifndef OSS_CORE_RECOVERY_H
#define OSS_CORE_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Payload types (schemas/oss/v1/recovery.proto). */
#define OSS_RC_T_RESET_REQUESTED "oss.v1.PasswordResetRequested"
#define OSS_RC_T_RESET_COMPLETED "oss.v1.PasswordResetCompleted"
#define OSS_RC_T_HELP_FILED "oss.v1.HelpRequestFiled"
#define OSS_RC_T_HELP_DECIDED "oss.v1.HelpRequestDecided"
#define OSS_RC_T_CONTACT_REPLACED "oss.v1.ContactReplaced"

/* ---- masking ------------------------------------------------------------- */

/* "budi@example.co.id" -> "b***@example.co.id": the local part's first
 * character, "***", and the domain as is. Writes into out (n bytes) and
 * returns true; false (out = "") when email has no local part or domain or
 * out is too small. */
bool oss_rc_mask_email(const char *email, char *out, size_t n);

/* "+6285712345678" -> "+62857****678": E.164 with its first 6 characters
 * (country code and operator prefix), "****" and the last 3 digits. Numbers
 * of fewer than 10 characters keep only "+" and their last 2 digits. Returns
 * false (out = "") when phone is not "+" and 7-15 digits or out is too
 * small. */
bool oss_rc_mask_phone(const char *phone, char *out, size_t n);

/* A username (account or principal id): its first 4 and last 4 characters
 * around "****" ("0193****c1d2"); ids of 10 characters or fewer keep only
 * the first. Returns false (out = "") when empty or out is too small. */
bool oss_rc_mask_id(const char *id, char *out, size_t n);

/* ---- password reset ------------------------------------------------------ */

typedef struct oss_rc_policy {
    int64_t reset_ttl_us; /* lifetime of a reset link */
    int reset_max;        /* links issued per window per principal */
    int64_t reset_window_us;
    int help_max_open; /* undecided help requests per account */
} oss_rc_policy_t;

/* 30 min, 3 links per hour, 3 open help requests. */
void oss_rc_policy_default(oss_rc_policy_t *p);

typedef enum oss_rc_kind {
    OSS_RC_OTHER = 0,       /* unknown to recovery: ignored */
    OSS_RC_RESET_ISSUED,    /* PasswordResetRequested */
    OSS_RC_RESET_USED,      /* PasswordResetCompleted */
    OSS_RC_HELP_FILED,      /* HelpRequestFiled */
    OSS_RC_HELP_DECIDED,    /* HelpRequestDecided */
    OSS_RC_CONTACT_REPLACED /* ContactReplaced */
} oss_rc_kind_t;

#define OSS_RC_ID_MAX 40

typedef enum oss_rc_decision_kind {
    OSS_RC_UNDECIDED = 0,
    OSS_RC_APPROVED,
    OSS_RC_REJECTED
} oss_rc_decision_kind_t;

/* One recovery event, decoded (never a secret or plaintext personal
 * data). */
typedef struct oss_rc_fact {
    oss_rc_kind_t kind;
    int64_t at_us;
    int64_t expires_at_us;           /* RESET_ISSUED */
    char id[OSS_RC_ID_MAX];          /* RESET_*: reset id; HELP_*, CONTACT_*:
                                        help request id */
    oss_rc_decision_kind_t decision; /* HELP_DECIDED */
} oss_rc_fact_t;

#define OSS_RC_MAX_ISSUED 16

/* Folded from a principal's access stream. */
typedef struct oss_rc_reset_state {
    char current[OSS_RC_ID_MAX]; /* newest issued reset ("" none) */
    int64_t current_expires_us;
    bool current_used;
    int64_t issued_at_us[OSS_RC_MAX_ISSUED]; /* newest last */
    size_t nissued;
} oss_rc_reset_state_t;

void oss_rc_reset_init(oss_rc_reset_state_t *st);
/* Applies one fact (borrowed); other kinds are ignored. */
void oss_rc_reset_evolve(oss_rc_reset_state_t *st, const oss_rc_fact_t *f);

/* Issue a reset link (PasswordResetRequested{reset_id, expires_at}) into
 * *out. active: the principal is activated (a password can be set).
 * reset_id borrowed. OSS_ECONFLICT "not_active"; OSS_ECONFLICT
 * "rate_limited" with *retry_after_us when reset_max links were issued in
 * the last reset_window_us; OSS_EINVAL "reset_id" when empty. A new link
 * supersedes the older ones. */
oss_code_t oss_rc_decide_reset_issue(const oss_rc_reset_state_t *st,
                                     const oss_rc_policy_t *p, int64_t now,
                                     bool active, const char *reset_id,
                                     oss_rc_fact_t *out,
                                     int64_t *retry_after_us, oss_err_t *err);

/* Use the link reset_id (the shell found it by its token's keyed hash):
 * PasswordResetCompleted into *out. OSS_ENOTFOUND "invalid_token" when it is
 * not the newest link issued (never issued or superseded); OSS_ECONFLICT
 * "used" when used already; OSS_ECONFLICT "expired" at or after its
 * expiry. */
oss_code_t oss_rc_decide_reset_use(const oss_rc_reset_state_t *st, int64_t now,
                                   const char *reset_id, oss_rc_fact_t *out,
                                   oss_err_t *err);

/* ---- help requests --------------------------------------------------------
 */

#define OSS_RC_MAX_HELP 32

typedef struct oss_rc_help {
    char id[OSS_RC_ID_MAX];
    int64_t filed_at_us;
    oss_rc_decision_kind_t decision;
    int64_t decided_at_us;
} oss_rc_help_t;

/* Folded from an account stream (the help requests filed about it). */
typedef struct oss_rc_help_state {
    oss_rc_help_t req[OSS_RC_MAX_HELP]; /* oldest first; the oldest decided
                                           ones are dropped when full */
    size_t n;
} oss_rc_help_state_t;

void oss_rc_help_init(oss_rc_help_state_t *st);
void oss_rc_help_evolve(oss_rc_help_state_t *st, const oss_rc_fact_t *f);
/* The request with id (borrowed), or NULL. */
const oss_rc_help_t *oss_rc_help_find(const oss_rc_help_state_t *st,
                                      const char *id);

/* File a help request (HelpRequestFiled{id}) into *out. evidence_ref: the
 * reference of the written evidence (1-200 printable ASCII characters).
 * OSS_EINVAL "evidence_ref" / "request_id"; OSS_ECONFLICT "duplicate" when
 * id was filed already; OSS_ECONFLICT "too_many_open" when help_max_open
 * requests await a decision. */
oss_code_t oss_rc_decide_help_file(const oss_rc_help_state_t *st,
                                   const oss_rc_policy_t *p, int64_t now,
                                   const char *id, const char *evidence_ref,
                                   oss_rc_fact_t *out, oss_err_t *err);

/* Decide request id: decision "approve" | "reject" with a reason (1-500
 * bytes). Writes HelpRequestDecided and, when approved, ContactReplaced into
 * out[0..*nout) (out holds 2). OSS_ENOTFOUND "no_request";
 * OSS_ECONFLICT "already_decided"; OSS_EINVAL "decision" / "reason". */
oss_code_t oss_rc_decide_help(const oss_rc_help_state_t *st, int64_t now,
                              const char *id, const char *decision,
                              const char *reason, oss_rc_fact_t out[2],
                              size_t *nout, oss_err_t *err);

/* ---- a fixed-window counter (rate limits) -------------------------------- */

typedef struct oss_rc_window {
    int64_t start_us;
    int count;
} oss_rc_window_t;

/* Takes one unit from w (max per window_us starting at the first take of a
 * window) at now: true, or false with *retry_after_us (> 0) until the
 * window ends. A zero-initialised window is empty. */
bool oss_rc_window_take(oss_rc_window_t *w, int max, int64_t window_us,
                        int64_t now, int64_t *retry_after_us);

#endif
