/* The OSS 1.1 migration (legacy.h): the old credentials and the company's
 * data checked against oss.legacy_accounts, then a registration
 * (register.h) with LegacyAccountMigrated and the legacy claim. */
#include "app/legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/bytes.h"
#include "crypto/password.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"

/* An Argon2id hash of nothing in particular: verified against when the
 * username is unknown, so that an unknown and a known username take the
 * same time. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$aFeeVJj/ZO/eC5RqtMKOyQ$"
    "UWT2fbXv/oRPdMQ6nvpAeFs1hFQs0B2nS57mJmbLnos";

void
oss_app_legacy_username_fold(const char *username, char out[129]) {
    snprintf(out, 129, "%s", username);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

/* Hex of the keyed digest of (kind, value). */
static void
digest_hex(oss_app_t *app, const char *kind, const char *value, char *hex) {
    uint8_t d[32];
    oss_index_digest(&app->index, kind, value, d);
    oss_hex_encode(d, sizeof d, hex);
    memset(d, 0, sizeof d);
}

/* Checks the old credentials and the company's data against the imported
 * OSS 1.1 row; fills m->r.legacy_id, company and decree. Returns OSS_OK
 * with m->r.err clear when they match, OSS_OK with m->r.err's reason when
 * they do not, else the read's error (logged). */
static oss_code_t
check(oss_app_t *app, oss_journal_t *j, oss_app_legacy_migrate_t *m,
      char *company, size_t companysz, char *decree, size_t decreesz,
      oss_err_t *err) {
    oss_app_register_t *r = &m->r;
    PGconn *c = oss_journal_conn(j);
    char ufold[129], hex[65], fold[401];
    oss_code_t rc = OSS_OK;

    oss_app_legacy_username_fold(m->username, ufold);
    digest_hex(app, "legacy_username", ufold, hex);
    const char *p[] = {hex};
    PGresult *res = PQexecParams(
        c,
        "SELECT legacy_id, password_hash, encode(npwp_digest, 'hex'), "
        "company, decree_number, encode(director_name_digest, 'hex'), "
        "encode(director_nik_digest, 'hex'), migrated_account_id IS NOT NULL "
        "FROM oss.legacy_accounts WHERE username_digest = decode($1, 'hex')",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        bool lost = oss_db_conn_lost(c, res);
        oss_err_clear(err);
        oss_db_error(c, res, "read the legacy account", err);
        oss_warn("%s", err->msg);
        err->code = lost ? OSS_EUNAVAIL : OSS_EIO;
        err->retriable = lost;
        r->step = OSS_APP_REGISTER_STEP_READ;
        rc = err->code;
        goto done;
    }
    bool found = PQntuples(res) == 1;
    if (found && PQgetvalue(res, 0, 7)[0] == 't') {
        oss_err_coded(&r->err, OSS_EDUPLICATE, OSS_APP_REASON_ALREADY_MIGRATED,
                      "this OSS 1.1 account was already migrated; sign in to "
                      "the new account or recover it");
        goto done;
    }
    /* the password first (same cost whether the username exists or not) */
    const char *hash =
        found && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : dummy_hash;
    bool pw_ok = false;
    oss_err_t perr;
    oss_err_clear(&perr);
    if (oss_password_verify(hash, m->password, &pw_ok, &perr) != OSS_OK)
        pw_ok = false;
    if (!found || !pw_ok) {
        oss_info("legacy migration refused: wrong credentials");
        oss_err_coded(&r->err, OSS_EINVAL, OSS_APP_REASON_INVALID_CREDENTIALS,
                      "the OSS 1.1 username or password is wrong");
        goto done;
    }
    oss_field_errors_t *fe = &m->mismatch;
    digest_hex(app, "npwp", r->reg.npwp, hex);
    if (!oss_ct_equal(hex, PQgetvalue(res, 0, 2), 64))
        oss_field_errors_add(fe, "npwp", "does_not_match");
    oss_text_fold(m->decree_number, fold, sizeof fold);
    if (strcmp(fold, PQgetvalue(res, 0, 4)) != 0)
        oss_field_errors_add(fe, "decree_number", "does_not_match");
    oss_text_fold(r->reg.name, fold, sizeof fold);
    digest_hex(app, "legacy_director_name", fold, hex);
    if (!oss_ct_equal(hex, PQgetvalue(res, 0, 5), 64))
        oss_field_errors_add(fe, "director_name", "does_not_match");
    digest_hex(app, "nik", r->reg.nik, hex);
    if (!oss_ct_equal(hex, PQgetvalue(res, 0, 6), 64))
        oss_field_errors_add(fe, "nik", "does_not_match");
    memset(fold, 0, sizeof fold);
    if (fe->n) {
        oss_info("legacy migration refused: %zu field(s) do not match the "
                 "OSS 1.1 record",
                 fe->n);
        oss_err_coded(&r->err, OSS_EINVAL, OSS_APP_REASON_LEGACY_MISMATCH,
                      "the company's data does not match the OSS 1.1 record");
        goto done;
    }
    snprintf(r->legacy_id, sizeof r->legacy_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(company, companysz, "%s", PQgetvalue(res, 0, 3));
    snprintf(decree, decreesz, "%s", PQgetvalue(res, 0, 4));
done:
    PQclear(res);
    return rc;
}

oss_code_t
oss_app_legacy_migrate(oss_app_t *app, oss_journal_t *j,
                       oss_app_legacy_migrate_t *m, oss_err_t *err) {
    oss_app_register_t *r = &m->r;
    oss_command_t cmds[2];
    char company[201] = "", decree[101] = "";
    oss_code_t rc;

    memset(cmds, 0, sizeof cmds);
    memset(&m->mismatch, 0, sizeof m->mismatch);
    r->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&r->err);
    rc = oss_app_register_terms(j, r, err);
    if (rc != OSS_OK) {
        if (!oss_err_is(err, OSS_APP_REASON_UNKNOWN_VERSION))
            return rc;
        r->err = *err; /* a refusal */
        return OSS_OK;
    }
    rc = check(app, j, m, company, sizeof company, decree, sizeof decree, err);
    if (rc != OSS_OK || r->err.code != OSS_OK)
        return rc;
    if ((rc = oss_app_register_seal(app, r, err)) != OSS_OK)
        return rc;
    Oss__V1__LegacyAccountMigrated lm = OSS__V1__LEGACY_ACCOUNT_MIGRATED__INIT;
    lm.account_id = r->account_id;
    lm.legacy_id = r->legacy_id;
    lm.decree_number = decree;
    lm.company = company;
    r->legacy_payload_len =
        oss__v1__legacy_account_migrated__get_packed_size(&lm);
    r->legacy_payload =
        malloc(r->legacy_payload_len ? r->legacy_payload_len : 1);
    if (!r->legacy_payload) {
        r->step = OSS_APP_REGISTER_STEP_PACK;
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    oss__v1__legacy_account_migrated__pack(&lm, r->legacy_payload);
    /* single use, inside the append transaction; claimed before the
     * business identity so that a second migration of the same legacy
     * account is told so */
    r->claim[1] = r->claim[0];
    memset(&r->claim[0], 0, sizeof r->claim[0]);
    r->claim[0].kind = "legacy";
    r->claim[0].field = "legacy_id";
    oss_index_digest(&app->index, "legacy", r->legacy_id, r->claim[0].digest);
    r->nclaims = 2;

    size_t nc = oss_app_register_commands(r, cmds);
    oss_err_clear(err);
    rc = oss_journal_execute(j, cmds, nc, err);
    if (rc != OSS_OK) {
        oss_warn("legacy migration not appended: %s", err->msg);
        r->step = OSS_APP_REGISTER_STEP_APPEND;
        goto done;
    }
    oss_command_t *c = &cmds[0];
    r->outcome = c->outcome;
    r->last_version = c->last_version;
    if (c->outcome == OSS_JOURNAL_APPENDED) {
        oss_info("legacy account migrated stream=%s legacy_id=%s", r->stream_id,
                 r->legacy_id);
    } else {
        r->outcome = OSS_JOURNAL_REJECTED;
        r->err = c->err;
        if (c->err.code == OSS_EDUPLICATE &&
            !strcmp(c->err.field, "legacy_id")) {
            snprintf(r->err.msg, sizeof r->err.msg,
                     "this OSS 1.1 account was already migrated");
            oss_err_reason(&r->err, OSS_APP_REASON_ALREADY_MIGRATED);
        } else if (c->err.code == OSS_EDUPLICATE && c->err.field[0])
            oss_err_reason(&r->err, OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS);
    }
done:
    for (size_t i = 0; i < 2; i++) {
        oss_event_list_free(&cmds[i].events);
        free(cmds[i].replay_response);
    }
    return rc;
}
