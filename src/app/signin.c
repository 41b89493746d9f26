/* Sign-in and sessions, the use cases (account_lifecycle.h): the password
 * checked against its Argon2id hash, the throttle, a restricted account,
 * the session token (only its keyed hash is stored); a principal's
 * sessions listed and ended. The command itself is the lifecycle's
 * (lifecycle_int.h, account_lifecycle.c). */
#include "app/account_lifecycle.h"
#include "app/lifecycle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/cmd.h"
#include "app/codec.h"
#include "app/notice.h"
#include "core/account.h"
#include "core/bytes.h"
#include "core/utc.h"
#include "core/validate.h"
#include "crypto/password.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"

/* ---- sign-in ------------------------------------------------------------- */

#define BAD_CREDENTIALS "the account or password is not right"

/* The principal an e-mail address names in oss.account_lookup, when
 * exactly one: found ("" otherwise, with the refusal in *r). */
static oss_code_t
principal_by_email(oss_app_t *app, oss_journal_t *j, const char *email,
                   oss_app_lc_result_t *r, char found[OSS_ID_MAX],
                   oss_err_t *err) {
    char norm[256], hex[65];
    uint8_t dg[32];
    oss_code_t rc = OSS_OK;

    found[0] = '\0';
    if (oss_email_normalize(email, norm, sizeof norm))
        return oss_app_lcop_refuse(r, OSS_ENOTFOUND, NULL,
                                   OSS_APP_LC_REASON_INVALID_CREDENTIALS,
                                   BAD_CREDENTIALS);
    oss_index_digest(&app->index, "email", norm, dg);
    oss_hex_encode(dg, sizeof dg, hex);
    OPENSSL_cleanse(norm, sizeof norm);
    const char *lp[] = {hex};
    PGresult *lr =
        oss_app_lcop_query(j, r,
                           "SELECT stream_id FROM oss.account_lookup WHERE "
                           "kind = 'email' AND digest = decode($1, 'hex') "
                           "LIMIT 2",
                           1, lp, &rc, err);
    if (!lr)
        return rc;
    int nr = PQntuples(lr);
    if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "account-", 8))
        snprintf(found, OSS_ID_MAX, "%s", PQgetvalue(lr, 0, 0) + 8);
    else if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "access-", 7))
        snprintf(found, OSS_ID_MAX, "%s", PQgetvalue(lr, 0, 0) + 7);
    PQclear(lr);
    if (nr > 1)
        return oss_app_lcop_refuse(
            r, OSS_EDUPLICATE, "email", OSS_APP_LC_REASON_AMBIGUOUS,
            "several accounts use this e-mail address; sign in "
            "with account_id");
    if (nr != 1)
        return oss_app_lcop_refuse(r, OSS_ENOTFOUND, NULL,
                                   OSS_APP_LC_REASON_INVALID_CREDENTIALS,
                                   BAD_CREDENTIALS);
    return OSS_OK;
}

oss_code_t
oss_app_sign_in(oss_app_t *app, oss_journal_t *j, oss_app_signin_t *s,
                oss_err_t *err) {
    lc_op_t l;
    oss_event_list_t hist = {0};
    char found[OSS_ID_MAX] = "";
    const char *id = s->principal_id;
    oss_code_t rc = OSS_OK;

    oss_app_lcop_result_init(&s->r, NULL);
    s->signed_in = false;
    s->principal_id_out[0] = s->session_id[0] = s->token[0] = '\0';
    s->expires_at_us = 0;
    oss_app_lcop_init(&l, app, OP_SIGNIN, "");
    if (s->email && !id) {
        rc = principal_by_email(app, j, s->email, &s->r, found, err);
        if (rc != OSS_OK || s->r.err.reason[0])
            goto done;
        id = found;
    }
    if (!id || !s->password) {
        oss_app_lcop_refuse(&s->r, OSS_EINVAL, id ? "password" : "account_id",
                            OSS_APP_LC_REASON_REQUIRED,
                            "account_id and password are required");
        goto done;
    }
    if (!oss_app_id_valid(id)) {
        oss_app_lcop_refuse(&s->r, OSS_ENOTFOUND, NULL,
                            OSS_APP_LC_REASON_INVALID_CREDENTIALS,
                            BAD_CREDENTIALS);
        goto done;
    }
    oss_app_lcop_init(&l, app, OP_SIGNIN, id);
    oss_app_lcop_result_init(&s->r, id);
    snprintf(s->principal_id_out, sizeof s->principal_id_out, "%s", id);
    {
        char mac[65];
        oss_app_lc_keyed_hex(l.lc->otp.key[0], "source",
                             s->source ? s->source : "", NULL, mac);
        snprintf(l.source, sizeof l.source, "%.16s", mac);
    }
    /* throttled sources wait before any password work */
    if ((rc = oss_journal_load(j, l.stream_id, &hist, err)) != OSS_OK) {
        s->r.failed_at = OSS_APP_LC_AT_ACCOUNT;
        rc = err->code == OSS_EUNAVAIL ? OSS_EUNAVAIL : OSS_EINTERNAL;
        goto done;
    }
    oss_lc_state_t st;
    oss_app_lc_fold(hist.items, hist.len, false, &st);
    if (st.status == OSS_LC_NEW) {
        oss_app_lcop_refuse(&s->r, OSS_ENOTFOUND, NULL,
                            OSS_APP_LC_REASON_INVALID_CREDENTIALS,
                            BAD_CREDENTIALS);
        goto done;
    }
    int64_t wait = oss_lc_signin_wait(&st, &l.lc->policy,
                                      oss_app_lc_clock(l.lc), l.source);
    if (wait > 0) {
        oss_app_lcop_refuse(&s->r, OSS_ECONFLICT, NULL,
                            OSS_APP_LC_REASON_THROTTLED,
                            "too many failed sign-ins from here; retry later");
        s->r.retry_after_us = wait;
        goto done;
    }
    /* the password's hash, and whether the OSS authority restricted every
     * account the principal holds an active grant on (one who also works
     * for another account still signs in, and is refused on the restricted
     * one by authorization): one round trip */
    const char *p[] = {l.stream_id, id};
    PGresult *r = oss_app_lcop_query(
        j, &s->r,
        "SELECT password_hash, EXISTS (SELECT 1 FROM oss.grants g JOIN "
        "oss.account_restrictions x USING (account_id) WHERE g.principal_id "
        "= $2 AND g.revoked_at IS NULL) AND NOT EXISTS (SELECT 1 FROM "
        "oss.grants g WHERE g.principal_id = $2 AND g.revoked_at IS NULL AND "
        "(g.account_id IS NULL OR g.account_id NOT IN (SELECT account_id "
        "FROM oss.account_restrictions))) FROM oss.credentials WHERE "
        "stream_id = $1",
        2, p, &rc, err);
    if (!r)
        goto done;
    bool restricted = false;
    if (PQntuples(r) == 1) {
        bool match = false;
        oss_err_t verr;
        oss_err_clear(&verr);
        if (oss_password_verify(PQgetvalue(r, 0, 0), s->password, &match,
                                &verr) == OSS_OK)
            l.matched = match;
        restricted = PQgetvalue(r, 0, 1)[0] == 't';
    }
    PQclear(r);
    /* the right password to a restricted account: no session (a wrong one
     * goes on as any wrong password: the restriction is not disclosed) */
    if (l.matched && restricted) {
        oss_app_lcop_refuse(
            &s->r, OSS_ECONFLICT, NULL, OSS_APP_LC_REASON_RESTRICTED,
            "the OSS authority restricted this account's access");
        goto done;
    }
    /* when this failure crosses the threshold the owner is told
     * (signin_throttled); the contact is opened before the transaction */
    if (!l.matched && !st.throttled &&
        st.signin_failures + 1 >= l.lc->policy.signin_threshold &&
        (l.contact = calloc(1, sizeof *l.contact)) != NULL) {
        oss_err_t cerr;
        oss_err_clear(&cerr);
        if (oss_app_contact_load(oss_journal_conn(j), &app->master, id,
                                 l.contact, &cerr) != OSS_OK) {
            oss_info("no sign-in notice stream=%s: %s", l.stream_id,
                     cerr.reason[0] ? cerr.reason : "no contact");
            oss_app_contact_clear(l.contact);
            free(l.contact);
            l.contact = NULL;
        }
    }
    uint8_t rnd[32];
    if (oss_random(rnd, sizeof rnd, err) != OSS_OK) {
        s->r.failed_at = OSS_APP_LC_AT_RANDOM;
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    memcpy(s->token, "oss_", 4);
    oss_b64url_encode(rnd, sizeof rnd, s->token + 4);
    OPENSSL_cleanse(rnd, sizeof rnd);
    oss_app_lc_keyed_hex(l.lc->otp.key[0], "session", s->token, NULL,
                         l.token_hmac);
    oss_uuid4(l.session_id);
    snprintf(s->session_id, sizeof s->session_id, "%s", l.session_id);
    rc = oss_app_lcop_execute(j, &l, s->correlation_id, &s->r, err);
    if (rc == OSS_OK && s->r.outcome == OSS_JOURNAL_APPENDED) {
        s->signed_in = l.ok;
        for (size_t i = 0; i < l.d.n; i++)
            if (l.d.facts[i].kind == OSS_LC_SIGNIN_OK)
                s->expires_at_us = l.d.facts[i].expires_at_us;
    }
done:
    if (!s->signed_in)
        OPENSSL_cleanse(s->token, sizeof s->token);
    oss_event_list_free(&hist);
    oss_app_lcop_clear(&l);
    return rc;
}

void
oss_app_signin_clear(oss_app_signin_t *s) {
    OPENSSL_cleanse(s->token, sizeof s->token);
}

/* ---- sessions ------------------------------------------------------------ */

oss_code_t
oss_app_session_find(oss_app_t *app, oss_journal_t *j, const char *token,
                     bool *found, oss_app_session_t *out, oss_err_t *err) {
    char mac[65];
    oss_code_t rc = OSS_OK;

    *found = false;
    memset(out, 0, sizeof *out);
    oss_app_lc_keyed_hex(app->lc->otp.key[0], "session", token, NULL, mac);
    const char *p[] = {mac};
    PGresult *r = oss_app_lcop_query(
        j, NULL,
        "SELECT stream_id, session_id FROM oss.sessions "
        "WHERE token_hmac = decode($1, 'hex') AND revoked_at "
        "IS NULL AND expires_at > now()",
        1, p, &rc, err);
    if (!r)
        return rc;
    if (PQntuples(r) == 1) {
        const char *sid = PQgetvalue(r, 0, 0);
        size_t pl = strlen(OSS_APP_ACCESS_STREAM_PREFIX);
        snprintf(out->principal_id, sizeof out->principal_id, "%s",
                 strncmp(sid, OSS_APP_ACCESS_STREAM_PREFIX, pl) == 0 ? sid + pl
                                                                     : sid);
        snprintf(out->session_id, sizeof out->session_id, "%s",
                 PQgetvalue(r, 0, 1));
        *found = true;
    }
    PQclear(r);
    return OSS_OK;
}

oss_code_t
oss_app_sessions_list(oss_journal_t *j, const char *principal_id,
                      oss_app_sessions_t *out, oss_err_t *err) {
    char stream[OSS_ID_MAX];
    oss_code_t rc = OSS_OK;

    memset(out, 0, sizeof *out);
    snprintf(stream, sizeof stream, OSS_APP_ACCESS_STREAM_PREFIX "%s",
             principal_id);
    const char *p[] = {stream};
    PGresult *r = oss_app_lcop_query(
        j, NULL,
        "SELECT session_id, to_char(created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), to_char(expires_at AT TIME "
        "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM oss.sessions "
        "WHERE stream_id = $1 AND revoked_at IS NULL AND expires_at > now() "
        "ORDER BY created_at",
        1, p, &rc, err);
    if (!r)
        return rc;
    int n = PQntuples(r);
    if (n > 0 && !(out->items = calloc((size_t)n, sizeof *out->items))) {
        PQclear(r);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        oss_app_session_row_t *row = &out->items[out->n++];
        snprintf(row->session_id, sizeof row->session_id, "%s",
                 PQgetvalue(r, i, 0));
        snprintf(row->created_at, sizeof row->created_at, "%s",
                 PQgetvalue(r, i, 1));
        snprintf(row->expires_at, sizeof row->expires_at, "%s",
                 PQgetvalue(r, i, 2));
    }
    PQclear(r);
    return OSS_OK;
}

void
oss_app_sessions_free(oss_app_sessions_t *s) {
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

oss_code_t
oss_app_session_end(oss_app_t *app, oss_journal_t *j, oss_app_session_end_t *e,
                    oss_err_t *err) {
    lc_op_t l;

    oss_app_lcop_result_init(&e->r, e->principal_id);
    oss_app_lcop_init(&l, app, OP_END, e->principal_id);
    snprintf(l.session_id, sizeof l.session_id, "%s", e->session_id);
    oss_code_t rc = oss_app_lcop_execute(j, &l, e->correlation_id, &e->r, err);
    oss_app_lcop_clear(&l);
    return rc;
}
