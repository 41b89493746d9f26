/* Recording a read of a person's personal data: the PersonalDataRead event
 * on the subject's stream ("subject-<subject_id>") and its row of
 * oss.pii_access_log (what the subject sees in GET
 * /v1/me/personal-data-access), in ONE transaction. Shared by the API's
 * staff read (GET /v1/accounts/{id}/personal-data, producers/api/privacy.c)
 * and the console's `oss audit history --reveal`
 * (consumers/audit/cmd_audit.c): no log, no data, so both record BEFORE
 * they disclose anything. Runs on the caller's journal (one PGconn per
 * thread). */
#ifndef OSS_APP_PRIVACY_H
#define OSS_APP_PRIVACY_H

#include "core/event.h"
#include "journal/journal.h"

/* One read: inputs borrowed until the call returns, outputs filled by it. */
typedef struct oss_app_pd_read {
    const char *subject_id; /* UUID */
    const char *account_id; /* the account read through ("" when none) */
    const char *reader;     /* principal id, or "console:<user>" */
    const char *role;       /* "auditor", "operator", "officer", "console" */
    const char *reason;     /* why (required, at most 500 characters) */
    const char *endpoint;   /* "GET /v1/accounts/{id}/personal-data", ... */
    oss_actor_kind_t actor_kind;
    const char *correlation_id;
    /* out */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: the subject was erased (OSS_ENOTFOUND,
                      reason OSS_SUBJECT_REASON_ERASED) */
    char event_id[OSS_UUID_STR];
} oss_app_pd_read_t;

/* Appends the read on j, retrying a concurrent append twice. Returns
 * OSS_OK when the transaction committed or the command was rejected (see
 * r->outcome, r->err), else the error (OSS_EUNAVAIL: retriable; the
 * connection may need a reset). */
oss_code_t oss_app_pd_read_record(oss_journal_t *j, oss_app_pd_read_t *r,
                                  oss_err_t *err);

#endif
