/* Account recovery, the use cases (recovery.h): reset links issued and
 * used, accounts found by NIK, help requests filed and decided, and a
 * principal's current contact. The rules are pure in src/core/recovery.c;
 * this file decodes and encodes events, makes and hashes the reset token,
 * and writes oss.reset_secrets, oss.credentials, oss.sessions,
 * oss.help_requests, oss.account_lookup and the sealed notices in the same
 * transaction as the events that record them (the journal's extra_fn).
 *
 * Secrets (reset token, new password, new e-mail) live only in memory
 * wiped after use and are never logged; the token is stored as
 * HMAC-SHA256(crypto.otp_key_file, "reset|" token) and reaches the person
 * only sealed in the password_reset notice. Personal data (NIK, e-mail) is
 * looked up by keyed digests, sealed in events, and given back only
 * masked. */
#include "app/recovery.h"
#include "app/recovery_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/cmd.h"
#include "app/codec.h"
#include "app/lifecycle.h"
#include "app/principal.h"
#include "core/account.h"
#include "core/bytes.h"
#include "crypto/password.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/recovery.pb-c.h"

#define SEC 1000000LL
#define ANONYMOUS "anonymous"
#define UNAVAILABLE OSS_APP_RC_UNAVAILABLE
#define COULD_NOT_READ "could not read"
#define NOT_APPENDED "could not append to the journal"
#define INVALID_TOKEN_MSG "the reset link is unknown, used or superseded"

void
oss_app_recovery_cfg_load(oss_app_recovery_cfg_t *out,
                          const oss_config_t *cfg) {
    oss_rc_policy_default(&out->policy);
    out->policy.reset_ttl_us =
        oss_config_int(cfg, "recovery.reset_ttl_s") * SEC;
    out->policy.reset_max = (int)oss_config_int(cfg, "recovery.reset_max");
    out->policy.reset_window_us =
        oss_config_int(cfg, "recovery.reset_window_s") * SEC;
    out->policy.help_max_open =
        (int)oss_config_int(cfg, "recovery.help_max_open");
    const char *u = oss_config_str(cfg, "recovery.reset_url");
    if (u && *u)
        snprintf(out->reset_url, sizeof out->reset_url, "%s", u);
}

/* ---- small helpers ------------------------------------------------------- */

/* The principal named by a lookup stream ("account-<id>" or
 * "access-<id>"), or NULL. */
static const char *
principal_of_stream(const char *stream) {
    if (!strncmp(stream, "account-", 8))
        return stream + 8;
    if (!strncmp(stream, OSS_APP_ACCESS_STREAM_PREFIX,
                 strlen(OSS_APP_ACCESS_STREAM_PREFIX)))
        return stream + strlen(OSS_APP_ACCESS_STREAM_PREFIX);
    return NULL;
}

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

/* A parameterised query on j's connection: new (PQclear()), or NULL after
 * logging a warning, with err (OSS_EUNAVAIL when the connection was lost)
 * and *fail. */
PGresult *
oss_app_rc_query(oss_journal_t *j, const char *sql, int n,
                 const char *const *params, const char **fail, oss_err_t *err) {
    PGconn *c = oss_journal_conn(j);
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    bool lost = oss_db_conn_lost(c, r);
    oss_db_error(c, r, "recovery query", err);
    PQclear(r);
    oss_warn("%s", err->msg);
    err->code = lost ? OSS_EUNAVAIL : OSS_EINTERNAL;
    *fail = lost ? UNAVAILABLE : COULD_NOT_READ;
    return NULL;
}

/* Runs c with the lifecycle's retry on a concurrent append (a rejection
 * with OSS_ECONFLICT and no field or reason code: decide again, twice at
 * most). OSS_OK with the outcome in c, else logs and sets *fail. */
oss_code_t
oss_app_rc_execute(oss_journal_t *j, oss_command_t *c, const char **fail,
                   oss_err_t *err) {
    oss_code_t rc = oss_app_cmd_execute(j, c, err);
    if (rc != OSS_OK) {
        oss_warn("recovery command not appended: %s", err->msg);
        *fail = rc == OSS_EUNAVAIL ? UNAVAILABLE : NOT_APPENDED;
    }
    return rc;
}

/* A rejection decided here (no event written). */
void
oss_app_rc_reject(oss_err_t *e, oss_journal_outcome_t *outcome, oss_code_t code,
                  const char *reason, const char *msg) {
    oss_err_clear(e);
    oss_err_coded(e, code, reason, "%s", msg);
    *outcome = OSS_JOURNAL_REJECTED;
}

/* ---- issuing a reset link ------------------------------------------------ */

/* One reset link being issued to one principal. */
typedef struct issue {
    oss_app_t *app;
    const oss_app_recovery_cfg_t *cfg;
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    char account_id[OSS_ID_MAX]; /* delivery-<account_id> for outcomes */
    char reset_id[OSS_UUID_STR];
    char token[48];
    char token_hmac[65], key_id[17];
    oss_app_contact_t contact;
    const char *channel; /* "email" | "whatsapp" (static) */
    int64_t expires_at_us;
    int64_t retry_after_us;
} issue_t;

/* True when the access stream records grants and none is left (a
 * government principal revoked: OfficerRevoked / GrantRevoked), decided on
 * the loaded stream, so a reset racing the revocation is refused too. */
static bool
access_revoked(const oss_event_t *history, size_t n) {
    oss_grant_t g[OSS_AUTHZ_MAX_GRANTS];
    bool granted = false;
    for (size_t i = 0; i < n && !granted; i++)
        granted = oss_app_grants_fold(&history[i], 1, g, 1) > 0;
    return granted &&
           oss_app_grants_fold(history, n, g, OSS_AUTHZ_MAX_GRANTS) == 0;
}

static oss_code_t
issue_decide(void *vctx, const oss_event_t *history, size_t n,
             oss_event_list_t *out, oss_err_t *err) {
    issue_t *is = vctx;
    oss_lc_state_t lst;
    oss_rc_reset_state_t rst;
    oss_rc_fact_t f;
    int64_t now = oss_app_lc_now(is->app);

    if (access_revoked(history, n))
        return oss_err_coded(err, OSS_ECONFLICT, OSS_APP_REASON_ACCESS_REVOKED,
                             "the principal's access was revoked");
    oss_app_lc_fold(history, n, true, &lst);
    oss_rc_reset_init(&rst);
    for (size_t i = 0; i < n; i++) {
        oss_app_rc_decode(&history[i], &f);
        oss_rc_reset_evolve(&rst, &f);
    }
    oss_code_t rc = oss_rc_decide_reset_issue(
        &rst, &is->cfg->policy, now, lst.status == OSS_LC_ACTIVE, is->reset_id,
        &f, &is->retry_after_us, err);
    if (rc != OSS_OK)
        return rc;
    is->expires_at_us = f.expires_at_us;
    Oss__V1__PasswordResetRequested m = OSS__V1__PASSWORD_RESET_REQUESTED__INIT;
    m.principal_id = is->principal_id;
    m.reset_id = is->reset_id;
    m.expires_at_us = f.expires_at_us;
    m.channel = (char *)is->channel;
    return oss_app_event_push(out, OSS_RC_T_RESET_REQUESTED, &m.base, now,
                              "forgot_password", err);
}

static oss_code_t
issue_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    issue_t *is = vctx;
    const char *url = is->cfg->reset_url;
    char exp[24], link[640], when[40], b[32];
    oss_code_t rc;

    snprintf(exp, sizeof exp, "%lld", (long long)is->expires_at_us);
    const char *s1[] = {is->stream_id};
    /* one live link per principal; expired links of anyone are purged */
    rc = oss_app_queue(q, qctx,
                       "DELETE FROM oss.reset_secrets WHERE stream_id = $1", 1,
                       s1, err);
    if (rc == OSS_OK)
        rc = oss_app_queue(
            q, qctx, "DELETE FROM oss.reset_secrets WHERE expires_at < now()",
            0, NULL, err);
    const char *v[] = {is->reset_id, is->stream_id, is->token_hmac, is->key_id,
                       exp};
    if (rc == OSS_OK)
        rc = oss_app_queue(
            q, qctx,
            "INSERT INTO oss.reset_secrets (reset_id, stream_id, "
            "token_hmac, key_id, expires_at) VALUES ($1::uuid, $2, "
            "decode($3, 'hex'), $4, " TS_US("$5") ")",
            5, v, err);
    if (rc != OSS_OK)
        return rc;
    snprintf(link, sizeof link, "%s%stoken=%s", url,
             strchr(url, '?') ? "&" : "?", is->token);
    time_t t = (time_t)(is->expires_at_us / SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%sZ", b);
    const char *kv[] = {"name", is->contact.name, "link",
                        link,   "expires",        when};
    char *vj = oss_app_notice_vars(kv, 3);
    OPENSSL_cleanse(link, sizeof link);
    if (!vj)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    rc = oss_app_notice_queue(&is->contact, "password_reset", is->channel,
                              is->account_id, cmd, 0, vj, is->expires_at_us, q,
                              qctx, err);
    OPENSSL_cleanse(vj, strlen(vj));
    free(vj);
    return rc;
}

/* Issues a reset link to principal_id when it may have one. Returns OSS_OK
 * whether or not a link was issued (*issued says); else the error that
 * must stop the request (with *fail). */
static oss_code_t
issue_one(oss_app_t *app, oss_journal_t *j, const oss_app_reset_request_t *r,
          const char *principal_id, bool *issued, const char **fail,
          oss_err_t *err) {
    issue_t *is = calloc(1, sizeof *is);
    oss_command_t c;
    oss_err_t cerr;
    oss_code_t rc = OSS_OK;
    uint8_t rnd[32];

    *issued = false;
    memset(&c, 0, sizeof c);
    if (!is) {
        *fail = "out of memory";
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    is->app = app;
    is->cfg = r->cfg;
    is->channel =
        r->channel && !strcmp(r->channel, "whatsapp") ? "whatsapp" : "email";
    oss_str_copy(is->principal_id, sizeof is->principal_id, principal_id);
    snprintf(is->stream_id, sizeof is->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%.120s", is->principal_id);
    oss_err_clear(&cerr);
    oss_code_t crc =
        oss_app_contact_current(app, j, principal_id, &is->contact, &cerr);
    if (crc == OSS_EUNAVAIL) {
        *err = cerr;
        *fail = UNAVAILABLE;
        rc = OSS_EUNAVAIL;
        goto done;
    }
    bool whatsapp = !strcmp(is->channel, "whatsapp");
    if (crc != OSS_OK ||
        !(whatsapp ? is->contact.phone : is->contact.email)[0]) {
        oss_info("password reset: no reachable contact principal=%s (%s)",
                 principal_id,
                 crc != OSS_OK ? cerr.msg
                 : whatsapp    ? "no phone for WhatsApp"
                               : "no e-mail");
        goto done;
    }
    /* a principal whose every grant was revoked (handed over, terminated)
     * gets no link: its credentials stay revoked */
    const char *gp[] = {principal_id};
    PGresult *res =
        oss_app_rc_query(j,
                         "SELECT count(*) FILTER (WHERE revoked_at IS NULL), "
                         "count(*), coalesce(min(account_id) FILTER (WHERE "
                         "revoked_at IS NULL), '') FROM oss.grants WHERE "
                         "principal_id = $1",
                         1, gp, fail, err);
    if (!res) {
        rc = err->code;
        goto done;
    }
    bool revoked =
        atoi(PQgetvalue(res, 0, 0)) == 0 && atoi(PQgetvalue(res, 0, 1)) > 0;
    oss_str_copy(is->account_id, sizeof is->account_id,
                 PQgetvalue(res, 0, 2)[0] ? PQgetvalue(res, 0, 2)
                                          : principal_id);
    PQclear(res);
    if (revoked) {
        oss_info("password reset: access revoked principal=%s", principal_id);
        goto done;
    }
    if ((rc = oss_random(rnd, sizeof rnd, err)) != OSS_OK) {
        *fail = "no randomness";
        if (rc == OSS_EUNAVAIL)
            rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    oss_b64url_encode(rnd, sizeof rnd, is->token);
    OPENSSL_cleanse(rnd, sizeof rnd);
    oss_app_lc_keyed_hmac(app, "reset", is->token, is->token_hmac, is->key_id);
    oss_uuid4(is->reset_id);

    oss_app_cmd_init(&c, is->stream_id, OSS_ACTOR_BUSINESS_USER, ANONYMOUS,
                     r->correlation_id);
    c.decide = issue_decide;
    c.extra_fn = issue_extra;
    c.ctx = is;
    if ((rc = oss_app_rc_execute(j, &c, fail, err)) != OSS_OK)
        goto done;
    if (c.outcome == OSS_JOURNAL_APPENDED) {
        *issued = true;
        oss_info("password reset link issued stream=%s reset=%s", is->stream_id,
                 is->reset_id);
    } else {
        oss_info("password reset refused stream=%s: %s", is->stream_id,
                 c.err.reason[0] ? c.err.reason : c.err.msg);
    }
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    oss_app_contact_clear(&is->contact);
    OPENSSL_cleanse(is, sizeof *is);
    free(is);
    return rc;
}

oss_code_t
oss_app_password_reset_request(oss_app_t *app, oss_journal_t *j,
                               oss_app_reset_request_t *r, oss_err_t *err) {
    char ids[OSS_APP_RECOVERY_MAX_MATCHES][OSS_ID_MAX];
    size_t nids = 0;

    r->matched = r->issued = 0;
    r->fail = NULL;
    if (r->email || r->phone) {
        char hex[65];
        uint8_t dg[32];
        const char *kind = r->email ? "email" : "phone";
        oss_index_digest(&app->index, kind, r->email ? r->email : r->phone, dg);
        oss_hex_encode(dg, sizeof dg, hex);
        const char *p[] = {hex, kind};
        PGresult *res =
            oss_app_rc_query(j,
                             "SELECT DISTINCT stream_id FROM "
                             "oss.account_lookup WHERE kind = $2 AND "
                             "digest = decode($1, 'hex') ORDER BY 1 LIMIT 5",
                             2, p, &r->fail, err);
        if (!res)
            return err->code;
        for (int i = 0;
             i < PQntuples(res) && nids < OSS_APP_RECOVERY_MAX_MATCHES; i++) {
            const char *pid = principal_of_stream(PQgetvalue(res, i, 0));
            if (pid)
                oss_str_copy(ids[nids++], OSS_ID_MAX, pid);
        }
        PQclear(res);
    } else {
        oss_str_copy(ids[nids++], OSS_ID_MAX, r->principal_id);
    }
    r->matched = nids;
    for (size_t i = 0; i < nids; i++) {
        bool issued;
        oss_code_t rc = issue_one(app, j, r, ids[i], &issued, &r->fail, err);
        if (rc != OSS_OK)
            return rc;
        r->issued += issued;
    }
    return OSS_OK;
}

/* ---- using a reset link -------------------------------------------------- */

typedef struct confirm {
    oss_app_t *app;
    oss_app_reset_confirm_t *c;
    char pw_hash[OSS_PASSWORD_ENCODED_MAX];
    char reset_id[OSS_UUID_STR];
} confirm_t;

static oss_code_t
confirm_decide(void *vctx, const oss_event_t *history, size_t n,
               oss_event_list_t *out, oss_err_t *err) {
    confirm_t *cf = vctx;
    oss_app_reset_confirm_t *in = cf->c;
    oss_lc_state_t lst;
    oss_rc_reset_state_t rst;
    oss_rc_fact_t f;
    int64_t now = oss_app_lc_now(cf->app);
    oss_code_t rc;

    oss_app_lc_fold(history, n, true, &lst);
    oss_rc_reset_init(&rst);
    for (size_t i = 0; i < n; i++) {
        oss_app_rc_decode(&history[i], &f);
        oss_rc_reset_evolve(&rst, &f);
    }
    if ((rc = oss_rc_decide_reset_use(&rst, now, cf->reset_id, &f, err)) !=
        OSS_OK)
        return rc;
    if (access_revoked(history, n))
        return oss_err_coded(err, OSS_ECONFLICT, OSS_APP_REASON_ACCESS_REVOKED,
                             "could not reset the password: the principal's "
                             "access was revoked");
    if (lst.status != OSS_LC_ACTIVE)
        return oss_err_coded(err, OSS_ECONFLICT, OSS_APP_REASON_NOT_ACTIVE,
                             "could not reset the password: the account is "
                             "not active");
    /* the facts of the lifecycle: the new password, then every open
     * session ended, in decisions of at most 4 facts */
    oss_lc_decision_t d[1 + OSS_LC_MAX_SESSIONS / 4 + 1];
    size_t nd = 1;
    memset(d, 0, sizeof d);
    d[0].facts[0].kind = OSS_LC_PASSWORD;
    d[0].facts[0].at_us = now;
    d[0].n = 1;
    in->sessions_ended = 0;
    for (size_t i = 0; i < lst.nsessions; i++) {
        if (lst.sessions[i].expires_at_us <= now)
            continue;
        if (d[nd - 1].n == 4)
            nd++;
        oss_lc_fact_t *sf = &d[nd - 1].facts[d[nd - 1].n++];
        sf->kind = OSS_LC_SESSION_ENDED;
        sf->at_us = now;
        oss_str_copy(sf->id, sizeof sf->id, lst.sessions[i].id);
        oss_str_copy(sf->reason, sizeof sf->reason, "password_reset");
        in->sessions_ended++;
    }
    Oss__V1__PasswordResetCompleted m = OSS__V1__PASSWORD_RESET_COMPLETED__INIT;
    m.principal_id = in->principal_id;
    m.reset_id = cf->reset_id;
    m.sessions_ended = in->sessions_ended;
    if ((rc = oss_app_event_push(out, OSS_RC_T_RESET_COMPLETED, &m.base, now,
                                 "password_reset", err)) != OSS_OK)
        return rc;
    size_t from = out->len;
    for (size_t i = 0; i < nd; i++) {
        if ((rc = oss_app_lc_encode(&d[i], &lst, in->principal_id, out, err)) !=
            OSS_OK)
            return rc;
        if (i == 0)
            lst.password_set = true;
    }
    return oss_app_events_reason(out, from, "password_reset", err);
}

static oss_code_t
confirm_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
              void *qctx, oss_err_t *err) {
    confirm_t *cf = vctx;
    (void)cmd;
    const char *s1[] = {cf->c->stream_id};
    oss_code_t rc = oss_app_queue(
        q, qctx, "DELETE FROM oss.reset_secrets WHERE stream_id = $1", 1, s1,
        err);
    const char *v[] = {cf->c->stream_id, cf->pw_hash};
    if (rc == OSS_OK)
        rc = oss_app_queue(
            q, qctx,
            "INSERT INTO oss.credentials (stream_id, password_hash) "
            "VALUES ($1, $2) ON CONFLICT (stream_id) DO UPDATE SET "
            "password_hash = EXCLUDED.password_hash, updated_at = "
            "now()",
            2, v, err);
    if (rc == OSS_OK)
        rc = oss_app_sessions_queue_revoke(q, qctx, cf->c->principal_id,
                                           "password_reset", false, err);
    return rc;
}

bool
oss_app_reset_token_shape(const char *t) {
    size_t n = t ? strlen(t) : 0;
    return n >= 20 && n <= 128 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-_") == n;
}

oss_code_t
oss_app_password_reset_confirm(oss_app_t *app, oss_journal_t *j,
                               oss_app_reset_confirm_t *in, oss_err_t *err) {
    confirm_t *cf = calloc(1, sizeof *cf);
    oss_command_t c;
    char mac[65] = "";
    oss_code_t rc = OSS_OK;

    memset(&c, 0, sizeof c);
    in->principal_id[0] = in->stream_id[0] = '\0';
    in->sessions_ended = 0;
    in->version = 0;
    in->outcome = OSS_JOURNAL_REJECTED;
    in->fail = NULL;
    oss_err_clear(&in->err);
    if (!cf) {
        in->fail = "out of memory";
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    cf->app = app;
    cf->c = in;
    oss_app_lc_keyed_hmac(app, "reset", in->token, mac, NULL);
    const char *p[] = {mac};
    PGresult *r =
        oss_app_rc_query(j,
                         "SELECT reset_id, stream_id FROM oss.reset_secrets "
                         "WHERE token_hmac = decode($1, 'hex')",
                         1, p, &in->fail, err);
    if (!r) {
        rc = err->code;
        goto done;
    }
    if (PQntuples(r) != 1 || !principal_of_stream(PQgetvalue(r, 0, 1)) ||
        strncmp(PQgetvalue(r, 0, 1), OSS_APP_ACCESS_STREAM_PREFIX,
                strlen(OSS_APP_ACCESS_STREAM_PREFIX))) {
        PQclear(r);
        oss_app_rc_reject(&in->err, &in->outcome, OSS_ENOTFOUND,
                          OSS_APP_REASON_INVALID_TOKEN, INVALID_TOKEN_MSG);
        goto done;
    }
    oss_str_copy(cf->reset_id, sizeof cf->reset_id, PQgetvalue(r, 0, 0));
    oss_str_copy(in->stream_id, sizeof in->stream_id, PQgetvalue(r, 0, 1));
    oss_str_copy(in->principal_id, sizeof in->principal_id,
                 principal_of_stream(in->stream_id));
    PQclear(r);
    if ((rc = oss_app_lc_password_hash(app, in->password, cf->pw_hash,
                                       sizeof cf->pw_hash, err)) != OSS_OK) {
        oss_error("could not hash a password: %s", err->msg);
        in->fail = "could not hash";
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    oss_app_cmd_init(&c, in->stream_id, OSS_ACTOR_BUSINESS_USER,
                     in->principal_id, in->correlation_id);
    c.decide = confirm_decide;
    c.extra_fn = confirm_extra;
    c.ctx = cf;
    if ((rc = oss_app_rc_execute(j, &c, &in->fail, err)) != OSS_OK)
        goto done;
    in->outcome = c.outcome;
    in->err = c.err;
    in->version = c.last_version;
done:
    OPENSSL_cleanse(mac, sizeof mac);
    oss_event_list_free(&c.events);
    free(c.replay_response);
    OPENSSL_cleanse(cf, sizeof *cf);
    free(cf);
    return rc;
}

/* ---- forgot account ------------------------------------------------------ */

/* The streams registered with nik (keyed digests only): the plain NIK
 * claim of older builds and the business-identity claim of a NIK (the
 * NIK's look-up digest, index "nik"; interim builds digested it as
 * "business" of "<nik>" or "nik:<nik>"), and NIK look-up rows. account_id (may
 * be NULL): only that account's stream. */
PGresult *
oss_app_rc_nik_streams(oss_app_t *app, oss_journal_t *j, const char *nik,
                       const char *account_id, const char **fail,
                       oss_err_t *err) {
    uint8_t d[32];
    char h1[65], h2[65], h3[65], bid[40];

    oss_index_digest(&app->index, "nik", nik, d);
    oss_hex_encode(d, 32, h1);
    oss_index_digest(&app->index, "business", nik, d);
    oss_hex_encode(d, 32, h2);
    snprintf(bid, sizeof bid, "nik:%s", nik);
    oss_index_digest(&app->index, "business", bid, d);
    oss_hex_encode(d, 32, h3);
    OPENSSL_cleanse(bid, sizeof bid);
    const char *p[] = {h1, h2, h3,
                       account_id && *account_id ? account_id : NULL};
    return oss_app_rc_query(
        j,
        "SELECT stream_id FROM (SELECT stream_id FROM "
        "oss.identity_claims WHERE kind IN ('nik', 'business') AND "
        "digest IN (decode($1, 'hex'), decode($2, 'hex'), "
        "decode($3, 'hex')) UNION SELECT "
        "stream_id FROM oss.account_lookup WHERE kind = 'nik' AND "
        "digest = decode($1, 'hex')) s WHERE $4::text IS NULL OR "
        "stream_id = 'account-' || $4::text ORDER BY 1 LIMIT 5",
        4, p, fail, err);
}

oss_code_t
oss_app_account_find(oss_app_t *app, oss_journal_t *j, const char *nik,
                     oss_app_account_masked_t *out, size_t *n,
                     const char **fail, oss_err_t *err) {
    oss_app_contact_t c;
    oss_code_t rc = OSS_OK;

    *n = 0;
    *fail = NULL;
    memset(&c, 0, sizeof c);
    PGresult *r = oss_app_rc_nik_streams(app, j, nik, NULL, fail, err);
    if (!r)
        return err->code;
    for (int i = 0; i < PQntuples(r) && *n < OSS_APP_RECOVERY_MAX_MATCHES;
         i++) {
        const char *pid = principal_of_stream(PQgetvalue(r, i, 0));
        oss_err_t cerr;
        oss_err_clear(&cerr);
        if (!pid)
            continue;
        oss_code_t crc = oss_app_contact_current(app, j, pid, &c, &cerr);
        if (crc == OSS_EUNAVAIL) {
            *err = cerr;
            *fail = UNAVAILABLE;
            rc = OSS_EUNAVAIL;
            break;
        }
        if (crc != OSS_OK)
            continue; /* unknown or erased: nothing to show */
        oss_app_account_masked_t *m = &out[(*n)++];
        oss_rc_mask_id(pid, m->username, sizeof m->username);
        oss_rc_mask_email(c.email, m->email, sizeof m->email);
        oss_rc_mask_phone(c.phone, m->phone, sizeof m->phone);
        oss_app_contact_clear(&c);
    }
    PQclear(r);
    oss_app_contact_clear(&c);
    return rc;
}
