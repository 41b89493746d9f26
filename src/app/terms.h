/* Terms of use as versioned data (infra/sql/051_terms.sql): the look-up a
 * registration makes for the version it accepts, and the acceptance of a
 * newer version by an account's owner (a TermsAccepted event on the
 * account stream). Used by the registration (register.c) and the API
 * (producers/api/terms.c). */
#ifndef OSS_APP_TERMS_H
#define OSS_APP_TERMS_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "journal/journal.h"

/* Reason codes (oss_err_reason()) of a refused acceptance. */
#define OSS_APP_REASON_NOT_REGISTERED "not_registered"
#define OSS_APP_REASON_ALREADY_ACCEPTED "already_accepted"

/* Looks version (borrowed) up among the versions in force (published_at <=
 * now) of oss.terms_versions through a process-wide cache (re-read every
 * 10 s, and on a miss at most once a second), so a registration batch
 * costs no round trip. c (borrowed) is the caller's connection. Returns
 * OSS_OK with the text's digest copied into sha256 (65 bytes, hex),
 * OSS_ENOTFOUND when the version is unknown, OSS_EUNAVAIL when the table
 * cannot be read and nothing is cached. Thread-safe. */
oss_code_t oss_app_terms_lookup(PGconn *c, const char *version, char *sha256,
                                oss_err_t *err);

/* An acceptance: inputs borrowed until the call returns. */
typedef struct oss_app_terms_accept {
    const char *account_id;
    const char *principal_id; /* the owner accepting (actor) */
    const char *version;      /* in force: oss_app_terms_lookup() */
    char sha256[65];          /* its digest */
    const char *correlation_id;
    /* out */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: reason OSS_APP_REASON_NOT_REGISTERED
                      (no such account) or ..._ALREADY_ACCEPTED */
    int64_t last_version;
} oss_app_terms_accept_t;

/* Appends TermsAccepted on "account-<account_id>" on j, decided on the
 * stream as loaded (retrying a concurrent append twice). Returns OSS_OK
 * when the transaction committed (result in a->outcome / a->err), else err
 * (OSS_EUNAVAIL: retriable; OSS_ENOMEM). */
oss_code_t oss_app_terms_accept(oss_journal_t *j, oss_app_terms_accept_t *a,
                                oss_err_t *err);

#endif
