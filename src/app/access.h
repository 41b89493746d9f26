/* Business access rights (hak akses) as use cases: delegates added and
 * removed, ownership offered and accepted, written hand-over requests
 * filed, objected to and decided, and the end of access. Each runs as ONE
 * oss_journal_execute() batch on the caller's journal: the access command
 * on "account-<id>" (decided by src/core/access.c against the real clock
 * after the transaction's reads), the commands it needs on other streams
 * (a new principal's PrincipalCreated + activation, SessionEnded on each
 * affected principal's access stream) whose decide runs only when the
 * access command appended, and, in the access command's extra_fn, the
 * grant / session / credential changes and the targeted notices. The HTTP
 * API (producers/api/access.c) parses requests into an oss_app_ac_t and
 * maps its outcome to answers.
 *
 * Ownership: oss_app_ac_t is the caller's (it is large: allocate it);
 * every pointer in it is borrowed until the call returns; what the call
 * made (events, notices, the new principal) is freed by oss_app_ac_clear().
 * Plaintext personal data (person, contacts) lives only in it and is
 * wiped by oss_app_ac_clear().
 *
 * Thread-safety: app and cfg are shared read-only; j is the calling
 * thread's own journal. */
#ifndef OSS_APP_ACCESS_H
#define OSS_APP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/notice.h"
#include "app/principal.h"
#include "config/config.h"
#include "core/access.h"
#include "core/authz.h"
#include "journal/journal.h"

/* ---- configuration ------------------------------------------------------- */

/* The access policy with its holiday list (policy.holidays points into
 * the struct: do not copy or move it once loaded). */
typedef struct oss_app_ac_cfg {
    oss_ac_policy_t policy;
    int32_t holidays[OSS_AC_MAX_HOLIDAYS];
} oss_app_ac_cfg_t;

/* The core's defaults (oss_ac_policy_default()), no holidays. */
void oss_app_ac_cfg_default(oss_app_ac_cfg_t *c);
/* Reads access.cooling_off_working_days, access.transfer_ttl_s and the
 * holiday list access.holidays_file (cfg borrowed, nothing kept from it).
 * An unreadable file or a line that is not a date is a warning: the
 * cooling-off skips weekends (and the dates that did parse) only. */
void oss_app_ac_cfg_load(oss_app_ac_cfg_t *c, const oss_config_t *cfg);

/* ---- one access command -------------------------------------------------- */

typedef enum oss_app_ac_op {
    OSS_APP_AC_MEMBER_ADD,
    OSS_APP_AC_MEMBER_REMOVE,
    OSS_APP_AC_TRANSFER_OFFER,
    OSS_APP_AC_TRANSFER_ACCEPT,
    OSS_APP_AC_HANDOVER_FILE,
    OSS_APP_AC_HANDOVER_OBJECT,
    OSS_APP_AC_HANDOVER_DECIDE,
    OSS_APP_AC_TERMINATE,
    OSS_APP_AC_RESTRICT, /* the OSS authority suspends the account */
    OSS_APP_AC_LIFT      /* ... and lifts the suspension */
} oss_app_ac_op_t;

/* "member_add", ... (static). */
const char *oss_app_ac_op_name(oss_app_ac_op_t op);

/* Where a call that returned an error stopped. */
typedef enum oss_app_ac_stage {
    OSS_APP_AC_AT_APPEND = 0, /* the transaction */
    OSS_APP_AC_AT_READ,       /* reading the account stream */
    OSS_APP_AC_AT_CONTACT,    /* a contact to notify */
    OSS_APP_AC_AT_PREPARE,    /* the new principal (logged) */
} oss_app_ac_stage_t;

#define OSS_APP_AC_MAX_AFFECTED (OSS_AC_MAX_MEMBERS + 1)
#define OSS_APP_AC_MAX_NOTICES (OSS_APP_AC_MAX_AFFECTED + 1)
#define OSS_APP_AC_REASON_MAX 300

typedef struct oss_app_ac oss_app_ac_t;

/* private: the SessionEnded command of one affected principal */
typedef struct oss_app_ac_ends {
    oss_app_ac_t *a;
    char principal_id[OSS_AC_ID_MAX];
    char stream_id[OSS_ID_MAX];
} oss_app_ac_ends_t;

/* private: one targeted notice */
typedef struct oss_app_ac_notice {
    oss_app_contact_t c;
    const char *kind;
    char principal_id[OSS_AC_ID_MAX];
} oss_app_ac_notice_t;

struct oss_app_ac {
    /* in: set by the caller (zero the struct first) */
    const oss_app_ac_cfg_t *cfg; /* NULL: the core's defaults */
    oss_app_ac_op_t op;
    const oss_principal_t *actor; /* who acts (authenticated, authorized) */
    const char *correlation_id;
    char account_id[OSS_AC_ID_MAX];
    /* the member / the offered person / the new owner / whose access ends
     * ("" for TERMINATE: everyone's); filled from the new principal when
     * new_principal */
    char principal_id[OSS_AC_ID_MAX];
    oss_role_t role;                /* MEMBER_ADD */
    char request_id[OSS_AC_ID_MAX]; /* hand-over; FILE: "" draws one */
    char evidence_ref[OSS_AC_REF_MAX];
    char reason[OSS_APP_AC_REASON_MAX]; /* on every event */
    bool approve;                       /* HANDOVER_DECIDE */
    oss_ac_term_t term;                 /* TERMINATE */
    bool new_principal; /* a new person (person below) gets a principal */
    oss_app_person_t person;
    /* out */
    oss_app_ac_stage_t failed_at;
    oss_ac_decision_t d; /* the core's decision (retry_after_us when
                            refused "cooling_off") */
    /* cmds[0] is the access command: outcome, err (refused: the core's
     * reason code), events, last_version */
    oss_command_t cmds[2 + OSS_APP_AC_MAX_AFFECTED];
    size_t ncmds;
    /* private */
    oss_app_t *app;
    oss_journal_t *j;
    char stream_id[OSS_ID_MAX];
    int64_t now;
    oss_ac_state_t pre; /* read before the transaction */
    oss_ac_state_t st;  /* folded inside it */
    char affected[OSS_APP_AC_MAX_AFFECTED][OSS_AC_ID_MAX];
    size_t naffected;
    oss_app_ac_ends_t ends[OSS_APP_AC_MAX_AFFECTED];
    oss_app_ac_notice_t notices[OSS_APP_AC_MAX_NOTICES];
    size_t nnotices;
    oss_app_principal_new_t pn;
    bool has_pn;
    oss_decide_fn pn_decide;
    oss_code_t (*pn_extra)(void *, const oss_command_t *, oss_journal_queue_fn,
                           void *, oss_err_t *);
    void *pn_ctx;
};

/* Runs a's command on j, deciding again (at most three attempts) when the
 * account moved meanwhile. Returns OSS_OK when the transaction committed
 * (a->cmds[0].outcome says whether the access command appended or was
 * refused), else the error (OSS_EUNAVAIL: retriable) with a->failed_at. */
oss_code_t oss_app_ac_execute(oss_app_t *app, oss_journal_t *j, oss_app_ac_t *a,
                              oss_err_t *err);
/* Frees and wipes what oss_app_ac_execute() made (a stays usable). */
void oss_app_ac_clear(oss_app_ac_t *a);

/* ---- reads --------------------------------------------------------------- */

/* The account's access state folded from "account-<account_id>". */
oss_code_t oss_app_ac_read(oss_journal_t *j, const char *account_id,
                           oss_ac_state_t *st, oss_err_t *err);
/* *known: principal_id names a known principal (oss.principals, or a first
 * owner registered before that table existed). OSS_EUNAVAIL when the read
 * failed. */
oss_code_t oss_app_principal_known(oss_journal_t *j, const char *principal_id,
                                   bool *known, oss_err_t *err);

#endif
