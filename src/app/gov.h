/* Government principals (access administrators, operators, auditors,
 * officers): created with their grant and activation, and revoked at once.
 * One function per use case, shared by the HTTP API (producers/api/gov.c)
 * and the console (`oss principal`, consumers/audit/cmd_principal.c).
 * Both run on the caller's journal (one PGconn per thread). */
#ifndef OSS_APP_GOV_H
#define OSS_APP_GOV_H

#include <stdbool.h>
#include <stddef.h>

#include "app/app.h"
#include "app/principal.h"
#include "journal/journal.h"

/* Reason code (oss_err_reason()) of a refused officer: one officer
 * account per person and institution. */
#define OSS_APP_REASON_OFFICER_EXISTS "officer_exists"

/* Creating a principal with a grant: inputs borrowed until the call
 * returns, outputs filled by it. */
typedef struct oss_app_create {
    const oss_app_person_t *who;
    const char *kind;         /* "government" | "business" */
    const oss_grant_t *grant; /* may be NULL */
    const char *cause;        /* "officer", "bootstrap", ... */
    const char *notice_kind;  /* a notice beside the activation (may be NULL) */
    const char *notice_vars;  /* its variables, a JSON object (may be NULL) */
    oss_actor_kind_t actor_kind;
    const char *actor_id;
    const char *correlation_id;
    /* out */
    bool prepared; /* false: the command could not be made (rc's error) */
    char principal_id[OSS_UUID_STR];
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED; the person is an officer of the
                      institution already: OSS_EDUPLICATE, reason
                      OSS_APP_REASON_OFFICER_EXISTS, field "nik" or
                      "passport" */
} oss_app_create_t;

/* Makes the principal (oss_app_principal_prepare()) and executes its
 * command on j. Returns OSS_OK when the transaction committed (the
 * command's own result in c->outcome / c->err), else the error that kept
 * it from being made or committed (err; OSS_EUNAVAIL: retriable). */
oss_code_t oss_app_principal_create(oss_app_t *app, oss_journal_t *j,
                                    oss_app_create_t *c, oss_err_t *err);

/* Revoking a government principal's access. */
typedef struct oss_app_revoke {
    const char *principal_id;
    /* an institution's access administrator revokes its officer:
     * OfficerRevoked for the officer grants of institution; NULL (the
     * console): a GrantRevoked per active government grant */
    const char *institution;
    const char *reason; /* oss_app_reason_valid() */
    oss_actor_kind_t actor_kind;
    const char *actor_id;
    const char *correlation_id;
    /* out */
    size_t grants;   /* grants revoked */
    size_t sessions; /* sessions ended */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: OSS_ENOTFOUND when nothing to revoke */
} oss_app_revoke_t;

/* Revokes in ONE transaction on j: the events above plus a SessionEnded
 * per open session on "access-<principal_id>", decided on the stream as
 * loaded (of two concurrent revocations the second finds nothing), with
 * the grant and session rows revoked, the officer claim released and, when
 * no grant is left, the password and any reset link deleted. Retries a
 * concurrent append twice. Returns OSS_OK when the transaction committed
 * (the result in r->outcome / r->err), else err (OSS_EUNAVAIL: retriable;
 * the connection may need a reset). */
oss_code_t oss_app_principal_revoke(oss_journal_t *j, oss_app_revoke_t *r,
                                    oss_err_t *err);

#endif
