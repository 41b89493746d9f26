/* Erasing a data subject (crypto-shredding, UU 27/2022): a SubjectErased
 * event on "subject-<id>" and, in the same journal transaction, the
 * deletion of the subject's data key (oss.subject_keys), keyed look-ups
 * (oss.identity_claims, oss.account_lookup) and pending messages
 * (oss.deliveries), and the end of its principals' access (sessions,
 * grants, password, reset links, activation secrets). Events stay as they
 * are; nothing can open the subject's sealed fields any more.
 *
 * Shared by the API (POST /v1/subjects/{id}/erasure, producers/api/
 * privacy.c) and the console (`oss subject erase`, consumers/audit/
 * cmd_subject.c). Every function borrows one PGconn / journal (one per
 * thread); nothing here logs. */
#ifndef OSS_APP_ERASURE_H
#define OSS_APP_ERASURE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "crypto/subject.h"
#include "journal/journal.h"

/* Reason code (oss_err_reason()) of an erasure refused because the subject
 * was erased before. */
#define OSS_APP_REASON_ALREADY_ERASED "already_erased"

typedef struct oss_app_erasure {
    char subject_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX]; /* "subject-<subject_id>" */
    char reason[512];
    char account_ids[OSS_SUBJECT_MAX_LINKS][OSS_ID_MAX];
    size_t naccounts;
    char principal_ids[OSS_SUBJECT_MAX_LINKS][OSS_ID_MAX];
    size_t nprincipals;
    int64_t keys, lookups, deliveries; /* rows found by prepare */
    /* the subject's principals lose their access in the same transaction:
     * open sessions ended, active grants revoked, password, reset links and
     * pending activation secrets deleted (counted by prepare) */
    int64_t sessions, grants, passwords;
    char *streams_array;    /* owned: text[] literal */
    char *principals_array; /* owned: text[] of principal_ids */
    char *access_array;     /* owned: text[] of access-<id> */
    /* the command: ready to run with oss_app_erasure_run() once the caller
     * has set actor_kind, actor_id and correlation_id. Rejected with
     * OSS_ECONFLICT, reason OSS_APP_REASON_ALREADY_ERASED, when the
     * subject's stream already holds SubjectErased. */
    oss_command_t cmd;
} oss_app_erasure_t;

/* Finds what belongs to subject_id (accounts, principals, key, look-ups,
 * pending deliveries) and prepares the erasure command. reason (borrowed,
 * required). OSS_ENOTFOUND when nothing is known of the subject, OSS_EINVAL
 * without a reason, OSS_EUNAVAIL on a database error. */
oss_code_t oss_app_erasure_prepare(PGconn *c, const char *subject_id,
                                   const char *reason, oss_app_erasure_t *e,
                                   oss_err_t *err);
/* Runs e->cmd on j (retrying a version conflict twice). OSS_OK when the
 * transaction committed: the outcome is in e->cmd.outcome / e->cmd.err. */
oss_code_t oss_app_erasure_run(oss_journal_t *j, oss_app_erasure_t *e,
                               oss_err_t *err);
void oss_app_erasure_clear(oss_app_erasure_t *e);

#endif
