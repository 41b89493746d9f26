/* The OSS 1.1 migration ("ganti hak akses"): an OSS 1.1 account becomes a
 * new OSS account. The caller proves the old credentials (username +
 * password, checked against the Argon2id hash `oss legacy import` put in
 * oss.legacy_accounts) and repeats the company's NPWP, ratification decree
 * number, director name and NIK (checked against keyed digests); the
 * account is then registered as register.h does (same sealing,
 * one-account-per-business claim, activation) plus a LegacyAccountMigrated
 * event naming the legacy id, and the legacy row is marked migrated
 * (single use, claimed in the same transaction). Used by the API
 * (producers/api/register.c, POST /v1/legacy-migrations).
 *
 * Ownership: inputs are borrowed until the call returns; m->r is the
 * caller's, released with oss_app_register_clear(&m->r) (which wipes the
 * plaintext). The password is not copied: the caller wipes its own.
 * Thread-safety: as register.h (one migration, one thread, the caller's
 * journal). */
#ifndef OSS_APP_LEGACY_H
#define OSS_APP_LEGACY_H

#include "app/register.h"
#include "core/validate.h"

/* Reason codes (oss_err_reason()) of a refused migration, besides
 * register.h's (unknown_version, one_account_per_business). */
/* migrated already: seen on the row, or its single-use claim taken
 * (OSS_EDUPLICATE, field "legacy_id") */
#define OSS_APP_REASON_ALREADY_MIGRATED "already_migrated"
/* unknown username or wrong password (the same time either way) */
#define OSS_APP_REASON_INVALID_CREDENTIALS "invalid_credentials"
/* the company's data is not the OSS 1.1 record's: m->mismatch */
#define OSS_APP_REASON_LEGACY_MISMATCH "legacy_mismatch"

typedef struct oss_app_legacy_migrate {
    /* in: m->r.reg validated as a registration of a business entity
     * (actor type 01, NPWP required), m->r.correlation_id; and */
    const char *username;
    const char *password; /* plaintext, borrowed */
    const char *decree_number;
    /* out */
    oss_app_register_t r; /* account_id, stream_id, legacy_id, activation,
                             outcome, err, last_version, step */
    oss_field_errors_t mismatch; /* reason LEGACY_MISMATCH: one entry per
                                    field ("npwp", "decree_number",
                                    "director_name", "nik") */
} oss_app_legacy_migrate_t;

/* The form of an OSS 1.1 username whose keyed digest ("legacy_username")
 * oss.legacy_accounts holds: username (borrowed) cut to 128 bytes, ASCII
 * upper case folded to lower, into out, NUL-terminated. `oss legacy import`
 * and the migration both fold with it, so that their digests meet. */
void oss_app_legacy_username_fold(const char *username, char out[129]);

/* Checks and migrates on j (one transaction of its own): the terms of use
 * version, the credentials and the company's data against
 * oss.legacy_accounts, then seals and executes. Returns OSS_OK when it
 * was decided: m->r.outcome APPENDED, or REJECTED with m->r.err (reason
 * codes above; no transaction for a refusal found before it); else the
 * error (m->r.step TERMS, READ, SEAL, PACK or APPEND; logged;
 * OSS_EUNAVAIL: retriable, the connection may need a reset). */
oss_code_t oss_app_legacy_migrate(oss_app_t *app, oss_journal_t *j,
                                  oss_app_legacy_migrate_t *m, oss_err_t *err);

#endif
