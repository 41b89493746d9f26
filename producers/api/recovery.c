/* Account recovery over HTTP (see recovery.h): forgot password, forgot
 * account, help requests. Rules are in src/core/recovery.c (and the
 * lifecycle core for the password and sessions a reset touches); this shell
 * decodes and encodes events, makes and hashes the reset token, runs
 * Argon2id on the worker pool and writes oss.reset_secrets,
 * oss.credentials, oss.sessions, oss.help_requests, oss.account_lookup and
 * the sealed notices in the same transaction as the events that record
 * them (the journal's extra_fn).
 *
 * Secrets (reset token, new password) live only in request memory, are
 * wiped after use and never logged; the token is stored as
 * HMAC-SHA256(crypto.otp_key_file, "reset|" token) and reaches the person
 * only sealed in the password_reset notice. Personal data (NIK, e-mail) is
 * looked up by keyed digests, sealed in events, and answered only masked. */
#include "recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/codec.h"
#include "core/bytes.h"
#include "core/nik.h"
#include "core/recovery.h"
#include "core/utc.h"
#include "core/uuid.h"
#include "core/validate.h"
#include "crypto/password.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/recovery.pb-c.h"
#include "ratelimit.h"
#include "request.h"

#define SEC 1000000LL
#define MAX_MATCHES 5
#define ANONYMOUS "anonymous"

/* Written once by api_recovery_init() before the server runs; read-only
 * afterwards. */
static oss_rc_policy_t g_policy = {30 * 60 * SEC, 3, 3600 * SEC, 3};
static char g_reset_url[512] = "https://oss.go.id/atur-ulang-sandi";

void
api_recovery_init(const oss_config_t *cfg) {
    oss_rc_policy_default(&g_policy);
    g_policy.reset_ttl_us = oss_config_int(cfg, "recovery.reset_ttl_s") * SEC;
    g_policy.reset_max = (int)oss_config_int(cfg, "recovery.reset_max");
    g_policy.reset_window_us =
        oss_config_int(cfg, "recovery.reset_window_s") * SEC;
    g_policy.help_max_open = (int)oss_config_int(cfg, "recovery.help_max_open");
    const char *u = oss_config_str(cfg, "recovery.reset_url");
    if (u && *u)
        snprintf(g_reset_url, sizeof g_reset_url, "%s", u);
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

static void
reply_json(oss_http_req_t *req, int status, json_t *o) {
    oss_http_reply_json(req, status, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
}

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

/* Gives every event of out from index from on a reason (when it has
 * none). */
static oss_code_t
set_reasons(oss_event_list_t *out, size_t from, const char *reason,
            oss_err_t *err) {
    for (size_t i = from; i < out->len; i++)
        if (!out->items[i].reason && !(out->items[i].reason = strdup(reason)))
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
    return OSS_OK;
}

/* Runs one command with the lifecycle's retry on a concurrent append (a
 * rejection with OSS_ECONFLICT and no field or reason code: decide again,
 * twice at most).
 * Replies 503/500 itself and returns false when the transaction failed. */
static bool
execute(api_worker_t *w, oss_http_req_t *req, oss_command_t *c) {
    return api_req_execute(w, req, c, 1, 3, "recovery command");
}

static void
command_init(oss_command_t *c, oss_http_req_t *req, const char *stream,
             oss_actor_kind_t ak, const char *actor) {
    memset(c, 0, sizeof *c);
    c->stream_id = stream;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = -1;
    c->actor_kind = ak;
    c->actor_id = actor;
    c->correlation_id = oss_http_req_cid(req);
}

oss_code_t
api_recovery_contact_refresh(api_worker_t *w, const char *principal_id,
                             oss_app_contact_t *c, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    oss_journal_t *j = oss_app_worker_journal(w, err);
    if (!j)
        return OSS_EUNAVAIL;
    PGconn *conn = oss_journal_conn(j);
    PGresult *r = oss_journal_read_contact_replaced(conn, principal_id);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        bool lost = oss_db_conn_lost(conn, r);
        oss_db_error(conn, r, "read contact replacements", err);
        PQclear(r);
        if (lost)
            oss_app_worker_reset(w);
        err->code = OSS_EUNAVAIL;
        return OSS_EUNAVAIL;
    }
    bool have_email = false, have_phone = false;
    for (int i = 0; i < PQntuples(r) && rc == OSS_OK; i++) {
        Oss__V1__ContactReplaced *m = oss__v1__contact_replaced__unpack(
            NULL, (size_t)PQgetlength(r, i, 0),
            (const uint8_t *)PQgetvalue(r, i, 0));
        if (!m)
            continue;
        if (!strcmp(m->principal_id, principal_id)) {
            if (!have_email && m->email && m->email->ciphertext.len) {
                rc = oss_app_open_field(
                    &c->dk, "email", m->email->nonce.data, m->email->nonce.len,
                    m->email->ciphertext.data, m->email->ciphertext.len,
                    c->email, sizeof c->email, err);
                have_email = true;
            }
            if (rc == OSS_OK && !have_phone && m->phone &&
                m->phone->ciphertext.len) {
                rc = oss_app_open_field(
                    &c->dk, "phone", m->phone->nonce.data, m->phone->nonce.len,
                    m->phone->ciphertext.data, m->phone->ciphertext.len,
                    c->phone, sizeof c->phone, err);
                have_phone = true;
            }
        }
        oss__v1__contact_replaced__free_unpacked(m, NULL);
    }
    PQclear(r);
    if (rc != OSS_OK)
        return oss_err_set(err, OSS_ECORRUPT,
                           "the replaced contact of principal %s does not "
                           "open",
                           principal_id);
    return OSS_OK;
}

/* Loads principal_id's current contact (api_contact_load + replacements).
 * OSS_ENOTFOUND (unknown or erased), OSS_EUNAVAIL, others. */
static oss_code_t
contact_current(api_worker_t *w, const char *principal_id, oss_app_contact_t *c,
                oss_err_t *err) {
    oss_code_t rc = api_contact_load(w, principal_id, c, err);
    if (rc == OSS_OK)
        rc = api_recovery_contact_refresh(w, principal_id, c, err);
    if (rc != OSS_OK)
        oss_app_contact_clear(c);
    return rc;
}

/* ---- POST /v1/password-resets -------------------------------------------- */

/* One reset link being issued to one principal. */
typedef struct issue {
    api_ctx_t *ctx;
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    char account_id[OSS_ID_MAX]; /* delivery-<account_id> for outcomes */
    char reset_id[OSS_UUID_STR];
    char token[48];
    char token_hmac[65], key_id[17];
    oss_app_contact_t contact;
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
    int64_t now = oss_app_lc_now(&is->ctx->app);

    if (access_revoked(history, n))
        return oss_err_coded(err, OSS_ECONFLICT, "access_revoked",
                             "the principal's access was revoked");
    oss_app_lc_fold(history, n, true, &lst);
    oss_rc_reset_init(&rst);
    for (size_t i = 0; i < n; i++) {
        oss_app_rc_decode(&history[i], &f);
        oss_rc_reset_evolve(&rst, &f);
    }
    oss_code_t rc = oss_rc_decide_reset_issue(
        &rst, &g_policy, now, lst.status == OSS_LC_ACTIVE, is->reset_id, &f,
        &is->retry_after_us, err);
    if (rc != OSS_OK)
        return rc;
    is->expires_at_us = f.expires_at_us;
    Oss__V1__PasswordResetRequested m = OSS__V1__PASSWORD_RESET_REQUESTED__INIT;
    m.principal_id = is->principal_id;
    m.reset_id = is->reset_id;
    m.expires_at_us = f.expires_at_us;
    m.channel = "email";
    return oss_app_event_push(out, OSS_RC_T_RESET_REQUESTED, &m.base, now,
                              "forgot_password", err);
}

static oss_code_t
issue_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    issue_t *is = vctx;
    char exp[24], link[640], when[40];
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
    snprintf(link, sizeof link, "%s%stoken=%s", g_reset_url,
             strchr(g_reset_url, '?') ? "&" : "?", is->token);
    oss_utc_format(is->expires_at_us, 0, when, sizeof when);
    json_t *vars = json_pack("{s:s, s:s, s:s}", "name", is->contact.name,
                             "link", link, "expires", when);
    char *vj = vars ? json_dumps(vars, JSON_COMPACT) : NULL;
    OPENSSL_cleanse(link, sizeof link);
    if (vars) {
        api_body_wipe(vars, "link");
        api_body_wipe(vars, "name");
        json_decref(vars);
    }
    if (!vj)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    rc = oss_app_notice_queue(&is->contact, "password_reset", "email",
                              is->account_id, cmd, 0, vj, is->expires_at_us, q,
                              qctx, err);
    OPENSSL_cleanse(vj, strlen(vj));
    free(vj);
    return rc;
}

/* Issues a reset link to principal_id when it may have one. Returns false
 * after replying (503/500) when the request must stop; true otherwise
 * (whether or not a link was issued: the answer reveals nothing). */
static bool
issue_one(api_worker_t *w, oss_http_req_t *req, const char *principal_id) {
    api_ctx_t *ctx = api_worker_ctx(w);
    issue_t *is = calloc(1, sizeof *is);
    oss_command_t c;
    oss_err_t err;
    bool ok = true;
    uint8_t rnd[32];

    memset(&c, 0, sizeof c);
    if (!is) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return false;
    }
    is->ctx = ctx;
    api_req_copy(is->principal_id, sizeof is->principal_id, principal_id);
    snprintf(is->stream_id, sizeof is->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%.120s", is->principal_id);
    oss_err_clear(&err);
    oss_code_t rc = contact_current(w, principal_id, &is->contact, &err);
    if (rc == OSS_EUNAVAIL) {
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        ok = false;
        goto done;
    }
    if (rc != OSS_OK || !is->contact.email[0]) {
        oss_info("password reset: no reachable contact principal=%s (%s)",
                 principal_id, rc == OSS_OK ? "no e-mail" : err.msg);
        goto done;
    }
    /* a principal whose every grant was revoked (handed over, terminated)
     * gets no link: its credentials stay revoked */
    const char *gp[] = {principal_id};
    PGresult *r =
        api_req_query(w, req, "recovery query",
                      "SELECT count(*) FILTER (WHERE revoked_at IS NULL), "
                      "count(*), coalesce(min(account_id) FILTER (WHERE "
                      "revoked_at IS NULL), '') FROM oss.grants WHERE "
                      "principal_id = $1",
                      1, gp, API_REQ_ROWS | API_REQ_CMD);
    if (!r) {
        ok = false;
        goto done;
    }
    bool revoked =
        atoi(PQgetvalue(r, 0, 0)) == 0 && atoi(PQgetvalue(r, 0, 1)) > 0;
    api_req_copy(is->account_id, sizeof is->account_id,
                 PQgetvalue(r, 0, 2)[0] ? PQgetvalue(r, 0, 2) : principal_id);
    PQclear(r);
    if (revoked) {
        oss_info("password reset: access revoked principal=%s", principal_id);
        goto done;
    }
    if (oss_random(rnd, sizeof rnd, &err) != OSS_OK) {
        oss_http_reply_error(req, 500, NULL, "no randomness", NULL);
        ok = false;
        goto done;
    }
    oss_b64url_encode(rnd, sizeof rnd, is->token);
    OPENSSL_cleanse(rnd, sizeof rnd);
    oss_app_lc_keyed_hmac(&ctx->app, "reset", is->token, is->token_hmac,
                          is->key_id);
    oss_uuid4(is->reset_id);

    command_init(&c, req, is->stream_id, OSS_ACTOR_BUSINESS_USER, ANONYMOUS);
    c.decide = issue_decide;
    c.extra_fn = issue_extra;
    c.ctx = is;
    if (!execute(w, req, &c)) {
        ok = false;
        goto done;
    }
    if (c.outcome == OSS_JOURNAL_APPENDED)
        oss_info("password reset link issued stream=%s reset=%s", is->stream_id,
                 is->reset_id);
    else
        oss_info("password reset refused stream=%s: %s", is->stream_id,
                 c.err.reason[0] ? c.err.reason : c.err.msg);
done:
    oss_event_list_free(&c.events);
    oss_app_contact_clear(&is->contact);
    OPENSSL_cleanse(is, sizeof *is);
    free(is);
    return ok;
}

static void
run_reset(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"email", "principal_id", "account_id",
                                        NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    char ids[MAX_MATCHES][OSS_ID_MAX];
    int nids = 0;

    if (!(body = api_body_parse(req, known)))
        goto done;
    const char *email = api_body_str(body, "email");
    const char *id = api_body_str(body, "principal_id");
    if (!id)
        id = api_body_str(body, "account_id");
    if ((email != NULL) + (api_body_str(body, "principal_id") != NULL) +
            (api_body_str(body, "account_id") != NULL) !=
        1) {
        api_reply_field(req, 422, "invalid_fields",
                        email ? "principal_id" : "email", "required",
                        "give exactly one of email or principal_id");
        goto done;
    }
    if (email) {
        char norm[256], hex[65];
        uint8_t dg[32];
        const char *why = oss_email_normalize(email, norm, sizeof norm);
        api_body_wipe(body, "email");
        if (why) {
            api_reply_field(req, 422, "invalid_fields", "email", why,
                            "email is not a valid e-mail address");
            goto done;
        }
        oss_index_digest(&ctx->app.index, "email", norm, dg);
        OPENSSL_cleanse(norm, sizeof norm);
        oss_hex_encode(dg, sizeof dg, hex);
        const char *p[] = {hex};
        PGresult *r =
            api_req_query(w, req, "recovery query",
                          "SELECT DISTINCT stream_id FROM "
                          "oss.account_lookup WHERE kind = 'email' AND "
                          "digest = decode($1, 'hex') ORDER BY 1 LIMIT 5",
                          1, p, API_REQ_ROWS | API_REQ_CMD);
        if (!r)
            goto done;
        for (int i = 0; i < PQntuples(r) && nids < MAX_MATCHES; i++) {
            const char *pid = principal_of_stream(PQgetvalue(r, i, 0));
            if (pid)
                api_req_copy(ids[nids++], OSS_ID_MAX, pid);
        }
        PQclear(r);
    } else {
        if (!oss_app_id_valid(id)) {
            api_reply_field(req, 422, "invalid_fields",
                            api_body_str(body, "principal_id") ? "principal_id"
                                                               : "account_id",
                            "invalid", "not an account or principal id");
            goto done;
        }
        api_req_copy(ids[nids++], OSS_ID_MAX, id);
    }
    for (int i = 0; i < nids; i++)
        if (!issue_one(w, req, ids[i]))
            goto done;
    /* the same answer whether or not an account matched */
    reply_json(req, 202,
               json_pack("{s:s, s:s}", "status", "accepted", "message",
                         "if an active account matches, a single-use reset "
                         "link was sent to its e-mail address"));
done:
    json_decref(body);
}

void
api_h_password_reset(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"email", "principal_id", "account_id",
                                      NULL};
    char key[260];
    bool ok =
        api_ratelimit_take(req, API_RL_RECOVERY,
                           api_ratelimit_body_key(req, idf, key, sizeof key));
    OPENSSL_cleanse(key, sizeof key);
    if (ok)
        api_req_submit_lc(arg, req, run_reset);
}

/* ---- POST /v1/password-resets/confirm ------------------------------------ */

typedef struct confirm {
    api_ctx_t *ctx;
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    char reset_id[OSS_UUID_STR];
    char pw_hash[OSS_PASSWORD_ENCODED_MAX];
    int sessions_ended;
} confirm_t;

static oss_code_t
confirm_decide(void *vctx, const oss_event_t *history, size_t n,
               oss_event_list_t *out, oss_err_t *err) {
    confirm_t *cf = vctx;
    oss_lc_state_t lst;
    oss_rc_reset_state_t rst;
    oss_rc_fact_t f;
    int64_t now = oss_app_lc_now(&cf->ctx->app);
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
        return oss_err_coded(err, OSS_ECONFLICT, "access_revoked",
                             "could not reset the password: the principal's "
                             "access was revoked");
    if (lst.status != OSS_LC_ACTIVE)
        return oss_err_coded(err, OSS_ECONFLICT, "not_active",
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
    cf->sessions_ended = 0;
    for (size_t i = 0; i < lst.nsessions; i++) {
        if (lst.sessions[i].expires_at_us <= now)
            continue;
        if (d[nd - 1].n == 4)
            nd++;
        oss_lc_fact_t *sf = &d[nd - 1].facts[d[nd - 1].n++];
        sf->kind = OSS_LC_SESSION_ENDED;
        sf->at_us = now;
        api_req_copy(sf->id, sizeof sf->id, lst.sessions[i].id);
        api_req_copy(sf->reason, sizeof sf->reason, "password_reset");
        cf->sessions_ended++;
    }
    Oss__V1__PasswordResetCompleted m = OSS__V1__PASSWORD_RESET_COMPLETED__INIT;
    m.principal_id = cf->principal_id;
    m.reset_id = cf->reset_id;
    m.sessions_ended = cf->sessions_ended;
    if ((rc = oss_app_event_push(out, OSS_RC_T_RESET_COMPLETED, &m.base, now,
                                 "password_reset", err)) != OSS_OK)
        return rc;
    size_t from = out->len;
    for (size_t i = 0; i < nd; i++) {
        if ((rc = oss_app_lc_encode(&d[i], &lst, cf->principal_id, out, err)) !=
            OSS_OK)
            return rc;
        if (i == 0)
            lst.password_set = true;
    }
    return set_reasons(out, from, "password_reset", err);
}

static oss_code_t
confirm_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
              void *qctx, oss_err_t *err) {
    confirm_t *cf = vctx;
    (void)cmd;
    const char *s1[] = {cf->stream_id};
    oss_code_t rc = oss_app_queue(
        q, qctx, "DELETE FROM oss.reset_secrets WHERE stream_id = $1", 1, s1,
        err);
    const char *v[] = {cf->stream_id, cf->pw_hash};
    if (rc == OSS_OK)
        rc = oss_app_queue(
            q, qctx,
            "INSERT INTO oss.credentials (stream_id, password_hash) "
            "VALUES ($1, $2) ON CONFLICT (stream_id) DO UPDATE SET "
            "password_hash = EXCLUDED.password_hash, updated_at = "
            "now()",
            2, v, err);
    if (rc == OSS_OK)
        rc = oss_app_sessions_queue_revoke(q, qctx, cf->principal_id,
                                           "password_reset", false, err);
    return rc;
}

static bool
token_shape(const char *t) {
    size_t n = t ? strlen(t) : 0;
    return n >= 20 && n <= 128 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-_") == n;
}

static void
run_confirm(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"token", "password", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    confirm_t *cf = calloc(1, sizeof *cf);
    oss_command_t c;
    oss_err_t err;
    char mac[65] = "";

    memset(&c, 0, sizeof c);
    if (!cf) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    cf->ctx = ctx;
    if (!(body = api_body_parse(req, known)))
        goto done;
    const char *token = api_body_str(body, "token"),
               *pw = api_body_str(body, "password");
    if (!token || !pw) {
        api_reply_field(req, 422, "invalid_fields",
                        token ? "password" : "token", "required",
                        "token and password are required");
        goto done;
    }
    const char *why = oss_app_lc_password_policy(&ctx->app, pw);
    if (why) {
        api_reply_field(req, 422, "invalid_fields", "password", why,
                        "the password does not meet the policy: at least "
                        "8 characters with letters, digits and a special "
                        "character, not a common password");
        goto done;
    }
    bool shaped = token_shape(token);
    if (shaped)
        oss_app_lc_keyed_hmac(&ctx->app, "reset", token, mac, NULL);
    api_body_wipe(body, "token");
    if (!shaped) {
        oss_http_reply_error(req, 410, "invalid_token",
                             "the reset link is unknown, used or superseded",
                             NULL);
        goto done;
    }
    const char *p[] = {mac};
    PGresult *r =
        api_req_query(w, req, "recovery query",
                      "SELECT reset_id, stream_id FROM oss.reset_secrets "
                      "WHERE token_hmac = decode($1, 'hex')",
                      1, p, API_REQ_ROWS | API_REQ_CMD);
    if (!r)
        goto done;
    if (PQntuples(r) != 1 || !principal_of_stream(PQgetvalue(r, 0, 1)) ||
        strncmp(PQgetvalue(r, 0, 1), OSS_APP_ACCESS_STREAM_PREFIX,
                strlen(OSS_APP_ACCESS_STREAM_PREFIX))) {
        PQclear(r);
        oss_http_reply_error(req, 410, "invalid_token",
                             "the reset link is unknown, used or superseded",
                             NULL);
        goto done;
    }
    api_req_copy(cf->reset_id, sizeof cf->reset_id, PQgetvalue(r, 0, 0));
    api_req_copy(cf->stream_id, sizeof cf->stream_id, PQgetvalue(r, 0, 1));
    api_req_copy(cf->principal_id, sizeof cf->principal_id,
                 principal_of_stream(cf->stream_id));
    PQclear(r);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_lc_password_hash(&ctx->app, pw, cf->pw_hash,
                                             sizeof cf->pw_hash, &err);
    api_body_wipe(body, "password");
    if (rc != OSS_OK) {
        oss_error("could not hash a password: %s", err.msg);
        oss_http_reply_error(req, 500, NULL, "could not hash", NULL);
        goto done;
    }
    command_init(&c, req, cf->stream_id, OSS_ACTOR_BUSINESS_USER,
                 cf->principal_id);
    c.decide = confirm_decide;
    c.extra_fn = confirm_extra;
    c.ctx = cf;
    if (!execute(w, req, &c))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        const char *f = c.err.reason[0] ? c.err.reason : c.err.field;
        if (!strcmp(f, "expired"))
            oss_http_reply_error(req, 410, "expired", c.err.msg, NULL);
        else if (!strcmp(f, "used") || !strcmp(f, "invalid_token"))
            oss_http_reply_error(req, 410, "invalid_token", c.err.msg, NULL);
        else if (f[0])
            oss_http_reply_error(req, 409, f, c.err.msg, NULL);
        else
            oss_http_reply_error(req, oss_http_status_for(c.err.code), NULL,
                                 c.err.msg, NULL);
        goto done;
    }
    oss_info("password reset completed stream=%s sessions_ended=%d",
             cf->stream_id, cf->sessions_ended);
    reply_json(req, 200,
               json_pack("{s:s, s:i, s:I}", "principal_id", cf->principal_id,
                         "sessions_ended", cf->sessions_ended, "version",
                         (json_int_t)c.last_version));
done:
    OPENSSL_cleanse(mac, sizeof mac);
    if (body) {
        api_body_wipe(body, "token");
        api_body_wipe(body, "password");
        json_decref(body);
    }
    oss_event_list_free(&c.events);
    if (cf) {
        OPENSSL_cleanse(cf, sizeof *cf);
        free(cf);
    }
}

void
api_h_password_reset_confirm(oss_http_req_t *req, void *arg) {
    /* per client IP only: the token is the secret being guessed */
    if (api_ratelimit_take(req, API_RL_RECOVERY, NULL))
        api_req_submit_lc(arg, req, run_confirm);
}

/* ---- POST /v1/account-recovery ---------------------------------------------
 */

/* The streams registered with nik (keyed digests only): the plain NIK
 * claim of older builds and the business-identity claim of a NIK (the
 * NIK's look-up digest, index "nik"; interim builds digested it as
 * "business" of "<nik>" or "nik:<nik>"), and NIK look-up rows. account_id (may
 * be NULL): only that account's stream. */
static PGresult *
nik_streams(api_worker_t *w, oss_http_req_t *req, const char *nik,
            const char *account_id) {
    api_ctx_t *ctx = api_worker_ctx(w);
    uint8_t d[32];
    char h1[65], h2[65], h3[65], bid[40];

    oss_index_digest(&ctx->app.index, "nik", nik, d);
    oss_hex_encode(d, 32, h1);
    oss_index_digest(&ctx->app.index, "business", nik, d);
    oss_hex_encode(d, 32, h2);
    snprintf(bid, sizeof bid, "nik:%s", nik);
    oss_index_digest(&ctx->app.index, "business", bid, d);
    oss_hex_encode(d, 32, h3);
    OPENSSL_cleanse(bid, sizeof bid);
    const char *p[] = {h1, h2, h3,
                       account_id && *account_id ? account_id : NULL};
    return api_req_query(
        w, req, "recovery query",
        "SELECT stream_id FROM (SELECT stream_id FROM "
        "oss.identity_claims WHERE kind IN ('nik', 'business') AND "
        "digest IN (decode($1, 'hex'), decode($2, 'hex'), "
        "decode($3, 'hex')) UNION SELECT "
        "stream_id FROM oss.account_lookup WHERE kind = 'nik' AND "
        "digest = decode($1, 'hex')) s WHERE $4::text IS NULL OR "
        "stream_id = 'account-' || $4::text ORDER BY 1 LIMIT 5",
        4, p, API_REQ_ROWS | API_REQ_CMD);
}

static void
run_lookup(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"nik", NULL};
    static const char *const bools[] = {"has_nib", NULL};
    static const api_body_spec_t spec = {.known = known, .bools = bools};
    oss_http_req_t *req = job->req;
    json_t *body = NULL, *arr = NULL;
    oss_app_contact_t c;

    memset(&c, 0, sizeof c);
    if (!(body = api_body_parse_ex(req, &spec, NULL)))
        goto done;
    const char *nik = api_body_str(body, "nik");
    json_t *hn = json_object_get(body, "has_nib");
    if (!nik || !hn) {
        api_reply_field(req, 422, "invalid_fields", nik ? "has_nib" : "nik",
                        OSS_REASON_REQUIRED,
                        "has_nib (true or false) and nik are required");
        goto done;
    }
    const char *why = oss_nik_check(nik, NULL);
    if (why) {
        api_body_wipe(body, "nik");
        api_reply_field(req, 422, "invalid_fields", "nik", why,
                        "nik is not a structurally valid NIK");
        goto done;
    }
    PGresult *r = nik_streams(w, req, nik, NULL);
    api_body_wipe(body, "nik");
    if (!r)
        goto done;
    arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        const char *pid = principal_of_stream(PQgetvalue(r, i, 0));
        oss_err_t err;
        char mu[80], me[300], mp[32];
        oss_err_clear(&err);
        if (!pid)
            continue;
        oss_code_t rc = contact_current(w, pid, &c, &err);
        if (rc == OSS_EUNAVAIL) {
            PQclear(r);
            oss_http_reply_error(req, 503, NULL,
                                 "the database is unavailable; retry later",
                                 NULL);
            goto done;
        }
        if (rc != OSS_OK)
            continue; /* unknown or erased: nothing to show */
        oss_rc_mask_id(pid, mu, sizeof mu);
        oss_rc_mask_email(c.email, me, sizeof me);
        oss_rc_mask_phone(c.phone, mp, sizeof mp);
        oss_app_contact_clear(&c);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "username", mu,
                                             "email", me, "phone", mp));
    }
    PQclear(r);
    oss_info("account recovery lookup matches=%zu", json_array_size(arr));
    reply_json(
        req, 200,
        json_pack("{s:b, s:O}", "has_nib", json_is_true(hn), "accounts", arr));
done:
    oss_app_contact_clear(&c);
    json_decref(arr);
    if (body) {
        api_body_wipe(body, "nik");
        json_decref(body);
    }
}

/* The per-key bucket of a NIK-driven route: "<prefix>:<nik>" (wiped). */
static bool
nik_ratelimit(oss_http_req_t *req, const char *prefix) {
    static const char *const f[] = {"nik", NULL};
    char raw[64], key[80];
    const char *k = api_ratelimit_body_key(req, f, raw, sizeof raw);
    if (k)
        snprintf(key, sizeof key, "%s:%s", prefix, k);
    bool ok = api_ratelimit_take(req, API_RL_RECOVERY, k ? key : NULL);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

void
api_h_account_recovery(oss_http_req_t *req, void *arg) {
    if (nik_ratelimit(req, "lookup"))
        api_req_submit_lc(arg, req, run_lookup);
}

/* ---- POST /v1/help-requests ---------------------------------------------- */

typedef struct help {
    api_ctx_t *ctx;
    char request_id[OSS_UUID_STR];
    char account_id[OSS_ID_MAX];
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    char evidence_ref[256];
    char decision[12];
    char reason[512];
    oss_app_contact_t contact;
    char new_email[256]; /* plaintext, wiped */
    char new_email_digest[65];
    Oss__V1__SealedField sealed; /* new_email sealed (data owned) */
    uint8_t nonce[12];
    uint8_t *ct;
    size_t ctlen;
    oss_rc_decision_kind_t outcome;
} help_t;

static void
help_free(help_t *h) {
    if (!h)
        return;
    oss_app_contact_clear(&h->contact);
    free(h->ct);
    OPENSSL_cleanse(h, sizeof *h);
    free(h);
}

static help_t *
help_new(api_ctx_t *ctx) {
    help_t *h = calloc(1, sizeof *h);
    if (h) {
        h->ctx = ctx;
        oss__v1__sealed_field__init(&h->sealed);
    }
    return h;
}

static void
help_fold(const oss_event_t *history, size_t n, oss_rc_help_state_t *st) {
    oss_rc_fact_t f;
    oss_rc_help_init(st);
    for (size_t i = 0; i < n; i++) {
        oss_app_rc_decode(&history[i], &f);
        oss_rc_help_evolve(st, &f);
    }
}

static oss_code_t
help_file_decide(void *vctx, const oss_event_t *history, size_t n,
                 oss_event_list_t *out, oss_err_t *err) {
    help_t *h = vctx;
    oss_rc_help_state_t st;
    oss_rc_fact_t f;
    int64_t now = oss_app_lc_now(&h->ctx->app);

    help_fold(history, n, &st);
    oss_code_t rc = oss_rc_decide_help_file(&st, &g_policy, now, h->request_id,
                                            h->evidence_ref, &f, err);
    if (rc != OSS_OK)
        return rc;
    Oss__V1__HelpRequestFiled m = OSS__V1__HELP_REQUEST_FILED__INIT;
    m.request_id = h->request_id;
    m.account_id = h->account_id;
    m.principal_id = h->principal_id;
    m.subject_id = h->contact.subject_id;
    m.evidence_ref = h->evidence_ref;
    m.new_email = &h->sealed;
    m.kind = "replace_email";
    return oss_app_event_push(out, OSS_RC_T_HELP_FILED, &m.base, now,
                              "unreachable_email", err);
}

static oss_code_t
help_file_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
                void *qctx, oss_err_t *err) {
    help_t *h = vctx;
    (void)cmd;
    const char *v[] = {h->request_id, h->account_id, h->principal_id};
    return oss_app_queue(
        q, qctx,
        "INSERT INTO oss.help_requests (request_id, account_id, "
        "principal_id) VALUES ($1::uuid, $2, $3)",
        3, v, err);
}

static void
run_help_file(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"account_id", "nik", "new_email",
                                        "evidence_ref", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    help_t *h = help_new(ctx);
    oss_command_t c;
    oss_err_t err;
    oss_field_errors_t fe = {0};

    memset(&c, 0, sizeof c);
    if (!h) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    if (!(body = api_body_parse(req, known)))
        goto done;
    const char *acc = api_body_str(body, "account_id"),
               *nik = api_body_str(body, "nik");
    const char *em = api_body_str(body, "new_email"),
               *ev = api_body_str(body, "evidence_ref");
    const char *why;
    for (int i = 0; known[i]; i++)
        if (!api_body_str(body, known[i]))
            oss_field_errors_add(&fe, known[i], OSS_REASON_REQUIRED);
    if (acc && !oss_app_id_valid(acc))
        oss_field_errors_add(&fe, "account_id", "invalid");
    if (nik && (why = oss_nik_check(nik, NULL)))
        oss_field_errors_add(&fe, "nik", why);
    if (em &&
        (why = oss_email_normalize(em, h->new_email, sizeof h->new_email)))
        oss_field_errors_add(&fe, "new_email", why);
    if (fe.n) {
        api_body_wipe(body, "nik");
        api_body_wipe(body, "new_email");
        oss_http_reply_error(req, 422, "invalid_fields", "invalid fields", &fe);
        goto done;
    }
    api_req_copy(h->account_id, sizeof h->account_id, acc);
    api_req_copy(h->evidence_ref, sizeof h->evidence_ref, ev);
    /* the NIK must be the one the account was registered with; the same
     * answer whether the account or the NIK is wrong */
    PGresult *r = nik_streams(w, req, nik, acc);
    api_body_wipe(body, "nik");
    api_body_wipe(body, "new_email");
    if (!r)
        goto done;
    int nr = PQntuples(r);
    PQclear(r);
    if (nr < 1) {
        oss_http_reply_error(req, 404, "no_match",
                             "no account with this account_id and NIK", NULL);
        goto done;
    }
    /* the person whose e-mail is replaced: the account's first owner, the
     * holder of the registered NIK */
    api_req_copy(h->principal_id, sizeof h->principal_id, acc);
    snprintf(h->stream_id, sizeof h->stream_id, "account-%.120s", acc);
    oss_err_clear(&err);
    oss_code_t rc = contact_current(w, h->principal_id, &h->contact, &err);
    if (rc == OSS_EUNAVAIL) {
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        goto done;
    }
    if (rc != OSS_OK) {
        oss_http_reply_error(req, 409, "erased",
                             "the account's personal data was erased; its "
                             "contact cannot be replaced",
                             NULL);
        goto done;
    }
    if ((rc = oss_seal(&h->contact.dk, "email", h->new_email,
                       strlen(h->new_email), h->nonce, &h->ct, &h->ctlen,
                       &err)) != OSS_OK) {
        oss_error("could not seal a new e-mail: %s", err.msg);
        oss_http_reply_error(req, 500, NULL, "could not seal", NULL);
        goto done;
    }
    h->sealed.subject_id = h->contact.subject_id;
    h->sealed.nonce.data = h->nonce;
    h->sealed.nonce.len = 12;
    h->sealed.ciphertext.data = h->ct;
    h->sealed.ciphertext.len = h->ctlen;
    oss_uuid7(h->request_id);
    command_init(&c, req, h->stream_id, OSS_ACTOR_BUSINESS_USER, ANONYMOUS);
    c.decide = help_file_decide;
    c.extra_fn = help_file_extra;
    c.ctx = h;
    if (!execute(w, req, &c))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        const char *f = c.err.reason[0] ? c.err.reason : c.err.field;
        if (c.err.code == OSS_EINVAL && f[0])
            api_reply_field(req, 422, "invalid_fields", f, "invalid",
                            c.err.msg);
        else
            oss_http_reply_error(req, 409, f[0] ? f : NULL, c.err.msg, NULL);
        goto done;
    }
    oss_info("help request filed request=%s account=%s", h->request_id,
             h->account_id);
    reply_json(req, 202,
               json_pack("{s:s, s:s, s:s}", "request_id", h->request_id,
                         "account_id", h->account_id, "status", "open"));
done:
    if (body) {
        api_body_wipe(body, "nik");
        api_body_wipe(body, "new_email");
        json_decref(body);
    }
    oss_event_list_free(&c.events);
    help_free(h);
}

void
api_h_help_request(oss_http_req_t *req, void *arg) {
    if (nik_ratelimit(req, "help"))
        api_req_submit_lc(arg, req, run_help_file);
}

/* ---- GET /v1/help-requests (help.decide) --------------------------------- */

static void
run_help_list(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    oss_principal_t p;

    if (!api_auth_require(w, req, &p, NULL) ||
        !api_auth_allow(req, &p, OSS_ACT_HELP_DECIDE, NULL))
        return;
    PGresult *r = api_req_query(
        w, req, "recovery query",
        "SELECT request_id, account_id, to_char(filed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM oss.help_requests WHERE "
        "status = 'open' ORDER BY filed_at LIMIT 200",
        0, NULL, API_REQ_ROWS | API_REQ_CMD);
    if (!r)
        return;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "request_id",
                                             PQgetvalue(r, i, 0), "account_id",
                                             PQgetvalue(r, i, 1), "filed_at",
                                             PQgetvalue(r, i, 2)));
    PQclear(r);
    reply_json(req, 200, json_pack("{s:o}", "help_requests", arr));
}

void
api_h_help_requests_list(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_help_list);
}

/* ---- POST /v1/help-requests/{id}/decision (help.decide) ------------------ */

static oss_code_t
help_decide_decide(void *vctx, const oss_event_t *history, size_t n,
                   oss_event_list_t *out, oss_err_t *err) {
    help_t *h = vctx;
    oss_rc_help_state_t st;
    oss_rc_fact_t f[2];
    size_t nf;
    int64_t now = oss_app_lc_now(&h->ctx->app);
    oss_code_t rc;

    help_fold(history, n, &st);
    if ((rc = oss_rc_decide_help(&st, now, h->request_id, h->decision,
                                 h->reason, f, &nf, err)) != OSS_OK)
        return rc;
    h->outcome = f[0].decision;
    Oss__V1__HelpRequestDecided m = OSS__V1__HELP_REQUEST_DECIDED__INIT;
    m.request_id = h->request_id;
    m.decision = h->decision;
    if ((rc = oss_app_event_push(out, OSS_RC_T_HELP_DECIDED, &m.base, now,
                                 h->reason, err)) != OSS_OK)
        return rc;
    if (nf < 2)
        return OSS_OK;
    Oss__V1__ContactReplaced cr = OSS__V1__CONTACT_REPLACED__INIT;
    cr.principal_id = h->principal_id;
    cr.subject_id = h->contact.subject_id;
    cr.email = &h->sealed;
    cr.request_id = h->request_id;
    return oss_app_event_push(out, OSS_RC_T_CONTACT_REPLACED, &cr.base, now,
                              h->reason, err);
}

static oss_code_t
help_decide_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
                  void *qctx, oss_err_t *err) {
    help_t *h = vctx;
    bool approved = h->outcome == OSS_RC_APPROVED;
    const char *v[] = {h->request_id, approved ? "approved" : "rejected"};
    oss_code_t rc =
        oss_app_queue(q, qctx,
                      "UPDATE oss.help_requests SET status = $2, "
                      "decided_at = now() WHERE request_id = $1::uuid",
                      2, v, err);
    if (rc == OSS_OK && approved) {
        /* sign-in by e-mail now finds the account by the new address */
        const char *lv[] = {h->stream_id, h->new_email_digest};
        rc = oss_app_queue(
            q, qctx,
            "DELETE FROM oss.account_lookup WHERE kind = 'email' AND "
            "stream_id = $1",
            1, lv, err);
        if (rc == OSS_OK)
            rc = oss_app_queue(
                q, qctx,
                "INSERT INTO oss.account_lookup (kind, digest, "
                "stream_id) VALUES ('email', decode($2, 'hex'), $1) "
                "ON CONFLICT DO NOTHING",
                2, lv, err);
        if (rc == OSS_OK)
            api_req_copy(h->contact.email, sizeof h->contact.email,
                         h->new_email);
    }
    if (rc != OSS_OK)
        return rc;
    /* the person is told on every channel it has */
    char vars[600];
    json_t *o = json_pack("{s:s, s:s}", "name", h->contact.name, "decision",
                          approved ? "approved" : "rejected");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(vars, sizeof vars, "%s", s);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    if (h->contact.email[0])
        rc = oss_app_notice_queue(&h->contact, "help_decided", "email",
                                  h->account_id, cmd, 0, vars, 0, q, qctx, err);
    if (rc == OSS_OK && h->contact.phone[0])
        rc = oss_app_notice_queue(&h->contact, "help_decided", "whatsapp",
                                  h->account_id, cmd, 0, vars, 0, q, qctx, err);
    OPENSSL_cleanse(vars, sizeof vars);
    return rc;
}

/* Copies the sealed new e-mail of request h->request_id out of the
 * account stream's HelpRequestFiled into h. Replies and returns false when
 * it cannot. */
static bool
load_filed(api_worker_t *w, oss_http_req_t *req, help_t *h) {
    oss_journal_t *j = api_req_journal(w, req);
    oss_event_list_t hist = {0};
    oss_err_t err;
    bool found = false;

    if (!j)
        return false;
    oss_err_clear(&err);
    if (oss_journal_load(j, h->stream_id, &hist, &err) != OSS_OK) {
        oss_http_reply_error(req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not read the account", NULL);
        return false;
    }
    for (size_t i = 0; i < hist.len && !found; i++) {
        if (strcmp(hist.items[i].payload_type, OSS_RC_T_HELP_FILED))
            continue;
        Oss__V1__HelpRequestFiled *m = oss__v1__help_request_filed__unpack(
            NULL, hist.items[i].payload_len, hist.items[i].payload);
        if (!m)
            continue;
        if (!strcmp(m->request_id, h->request_id) && m->new_email &&
            m->new_email->nonce.len == 12 &&
            (h->ct = malloc(m->new_email->ciphertext.len + 1))) {
            memcpy(h->nonce, m->new_email->nonce.data, 12);
            memcpy(h->ct, m->new_email->ciphertext.data,
                   m->new_email->ciphertext.len);
            h->ctlen = m->new_email->ciphertext.len;
            api_req_copy(h->evidence_ref, sizeof h->evidence_ref,
                         m->evidence_ref);
            found = true;
        }
        oss__v1__help_request_filed__free_unpacked(m, NULL);
    }
    oss_event_list_free(&hist);
    if (!found)
        oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
    return found;
}

static void
run_help_decide(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"decision", "reason", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    help_t *h = help_new(ctx);
    oss_principal_t p;
    oss_command_t c;
    oss_err_t err;
    char region[11];

    memset(&c, 0, sizeof c);
    if (!h) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    if (!api_auth_require(w, req, &p, NULL) ||
        !api_auth_allow(req, &p, OSS_ACT_HELP_DECIDE, NULL))
        goto done;
    if (!oss_uuid_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
        goto done;
    }
    if (!(body = api_body_parse(req, known)))
        goto done;
    const char *dec = api_body_str(body, "decision"),
               *why = api_body_str(body, "reason");
    if (!dec || (strcmp(dec, "approve") && strcmp(dec, "reject"))) {
        api_reply_field(req, 422, "invalid_fields", "decision",
                        dec ? "invalid" : OSS_REASON_REQUIRED,
                        "decision must be approve or reject");
        goto done;
    }
    if (!why || !why[0] || strlen(why) > 500) {
        api_reply_field(req, 422, "invalid_fields", "reason",
                        why && why[0] ? OSS_REASON_TOO_LONG
                                      : OSS_REASON_REQUIRED,
                        "a reason of 1-500 bytes is required");
        goto done;
    }
    api_req_copy(h->decision, sizeof h->decision, dec);
    api_req_copy(h->reason, sizeof h->reason, why);
    api_req_copy(h->request_id, sizeof h->request_id,
                 oss_http_req_param(req, 0));
    const char *pv[] = {h->request_id};
    PGresult *r = api_req_query(w, req, "recovery query",
                                "SELECT account_id, principal_id FROM "
                                "oss.help_requests WHERE request_id = $1::uuid",
                                1, pv, API_REQ_ROWS | API_REQ_CMD);
    if (!r)
        goto done;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
        goto done;
    }
    api_req_copy(h->account_id, sizeof h->account_id, PQgetvalue(r, 0, 0));
    api_req_copy(h->principal_id, sizeof h->principal_id, PQgetvalue(r, 0, 1));
    PQclear(r);
    snprintf(h->stream_id, sizeof h->stream_id, "account-%.120s",
             h->account_id);
    oss_target_t t = {.account_id = h->account_id, .region = region};
    if (!api_account_target(w, req, h->account_id, region) ||
        !api_auth_allow(req, &p, OSS_ACT_HELP_DECIDE, &t))
        goto done;
    if (!load_filed(w, req, h))
        goto done;
    oss_err_clear(&err);
    oss_code_t rc = contact_current(w, h->principal_id, &h->contact, &err);
    if (rc == OSS_EUNAVAIL) {
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        goto done;
    }
    if (rc != OSS_OK) {
        oss_http_reply_error(req, 409, "erased",
                             "the person's personal data was erased", NULL);
        goto done;
    }
    if (oss_app_open_field(&h->contact.dk, "email", h->nonce, 12, h->ct,
                           h->ctlen, h->new_email, sizeof h->new_email,
                           &err) != OSS_OK) {
        oss_error("help request %s: the new e-mail does not open: %s",
                  h->request_id, err.msg);
        oss_http_reply_error(req, 500, NULL, "could not open the request",
                             NULL);
        goto done;
    }
    uint8_t dg[32];
    oss_index_digest(&ctx->app.index, "email", h->new_email, dg);
    oss_hex_encode(dg, sizeof dg, h->new_email_digest);
    h->sealed.subject_id = h->contact.subject_id;
    h->sealed.nonce.data = h->nonce;
    h->sealed.nonce.len = 12;
    h->sealed.ciphertext.data = h->ct;
    h->sealed.ciphertext.len = h->ctlen;
    command_init(&c, req, h->stream_id, OSS_ACTOR_OPERATOR, p.principal_id);
    c.decide = help_decide_decide;
    c.extra_fn = help_decide_extra;
    c.ctx = h;
    if (!execute(w, req, &c))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        const char *f = c.err.reason[0] ? c.err.reason : c.err.field;
        if (!strcmp(f, "no_request"))
            oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
        else if (c.err.code == OSS_EINVAL && f[0])
            api_reply_field(req, 422, "invalid_fields", f, "invalid",
                            c.err.msg);
        else
            oss_http_reply_error(req, 409, f[0] ? f : NULL, c.err.msg, NULL);
        goto done;
    }
    oss_info("help request decided request=%s decision=%s by=%s", h->request_id,
             h->decision, p.principal_id);
    reply_json(
        req, 200,
        json_pack("{s:s, s:s, s:s, s:s}", "request_id", h->request_id,
                  "account_id", h->account_id, "decision", h->decision,
                  "status",
                  h->outcome == OSS_RC_APPROVED ? "approved" : "rejected"));
done:
    json_decref(body);
    oss_event_list_free(&c.events);
    help_free(h);
}

void
api_h_help_decision(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_help_decide);
}
