/* The account lifecycle over HTTP: activation (issued with a registration,
 * resend, verify by OTP or link), password, sign-in and sessions. Rules are
 * in src/core/lifecycle.c; this shell decodes and encodes events, makes and
 * hashes secrets, runs Argon2id on the worker pool, and writes the secret
 * tables (oss.activation_secrets, oss.deliveries, oss.credentials,
 * oss.sessions, infra/sql/040_credentials.sql) in the same transaction as
 * the events that record their changes (the journal's extra_fn).
 *
 * Secrets (OTP, link token, password, session token) live only in request
 * memory, are wiped after use and never logged; tables hold keyed hashes
 * (HMAC-SHA256 under crypto.otp_key_file), the Argon2id hash, or (for the
 * notifier) the OTP and link sealed under the subject's data key. */
#include "api.h"
#include "auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/lifecycle.h"
#include "core/validate.h"
#include "crypto/password.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"
#include "ratelimit.h"
#include "request.h"

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

/* ---- request plumbing ---------------------------------------------------- */

/* One lifecycle request in flight on a worker. */
typedef struct lreq {
    api_ctx_t *ctx;
    oss_app_lc_t *lc;
    oss_http_req_t *req;
    char account_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX]; /* the access stream */
    char account_stream[OSS_ID_MAX];
    /* decide inputs */
    int op;
    bool registered; /* the account stream exists */
    bool matched, authed;
    char method[8];
    char session_id[OSS_UUID_STR];
    char source[OSS_LC_SOURCE_MAX];
    char delivery_expected[OSS_UUID_STR];
    oss_app_activation_t act;
    char pw_hash[OSS_PASSWORD_ENCODED_MAX];
    char token_hmac[65];
    /* decide outputs */
    oss_lc_decision_t d;
    oss_lc_verify_t verify;
    bool ok;
    oss_app_contact_t *contact; /* P1: told of SignInThrottled */
} lreq_t;

enum { OP_RESEND, OP_VERIFY, OP_PASSWORD, OP_SIGNIN, OP_END };

/* The generic decide for every lifecycle command (ctx = lreq_t). */
static oss_code_t
lc_decide(void *vctx, const oss_event_t *history, size_t n,
          oss_event_list_t *out, oss_err_t *err) {
    lreq_t *l = vctx;
    oss_lc_state_t st;
    int64_t now = oss_app_lc_clock(l->lc);
    const oss_lc_policy_t *p = &l->lc->policy;
    oss_code_t rc;

    oss_app_lc_fold(history, n, l->registered, &st);
    memset(&l->d, 0, sizeof l->d);
    switch (l->op) {
    case OP_RESEND:
        rc = oss_lc_decide_resend(&st, p, now, l->act.channel,
                                  l->act.delivery_id, &l->d, err);
        if (rc == OSS_OK)
            l->act.expires_at_us = l->d.facts[1].expires_at_us;
        break;
    case OP_VERIFY:
        if (st.status == OSS_LC_PENDING &&
            strcmp(st.delivery_id, l->delivery_expected) != 0)
            return oss_err_coded(err, OSS_ECONFLICT, "superseded",
                                 "could not activate: a new code was issued "
                                 "meanwhile; retry");
        rc = oss_lc_decide_verify(&st, p, now, l->matched, &l->verify, &l->d,
                                  err);
        break;
    case OP_PASSWORD:
        rc = oss_lc_decide_set_password(&st, p, now, l->authed, &l->d, err);
        break;
    case OP_SIGNIN:
        rc = oss_lc_decide_signin(&st, p, now, l->matched, l->source,
                                  l->session_id, &l->ok, &l->d, err);
        break;
    case OP_END:
        rc = oss_lc_decide_end_session(&st, now, l->session_id, "signed_out",
                                       &l->d, err);
        break;
    default:
        rc = oss_err_set(err, OSS_EINTERNAL, "unknown lifecycle op");
    }
    if (rc != OSS_OK)
        return rc;
    return oss_app_lc_encode_method(&l->d, &st, l->method, l->account_id, out,
                                    err);
}

/* P1: the signin_throttled notice to the principal, for the
 * SignInThrottled event of cmd. A contact without an e-mail address gets
 * none (never an error: the sign-in outcome must still be recorded). */
static oss_code_t
queue_throttled_notice(lreq_t *l, const oss_command_t *cmd,
                       oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    for (size_t i = 0; i < cmd->events.len; i++) {
        const oss_event_t *ev = &cmd->events.items[i];
        if (strcmp(ev->payload_type, OSS_LC_T_SIGN_IN_THROTTLED))
            continue;
        char when[40];
        api_req_iso_us(ev->occurred_at_us ? ev->occurred_at_us
                                          : oss_app_lc_clock(l->lc),
                       true, when, sizeof when);
        json_t *v =
            json_pack("{s:s, s:s}", "name", l->contact->name, "when", when);
        char *vars = v ? json_dumps(v, JSON_COMPACT) : NULL;
        json_decref(v);
        if (!vars)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        oss_err_t nerr;
        oss_err_clear(&nerr);
        oss_code_t rc =
            l->contact->email[0]
                ? oss_app_notice_queue(l->contact, "signin_throttled", "email",
                                       l->account_id, cmd, i, vars, 0, q, qctx,
                                       &nerr)
                : OSS_OK;
        free(vars);
        if (rc == OSS_EUNAVAIL || rc == OSS_ENOMEM) {
            *err = nerr;
            return rc;
        }
        return OSS_OK;
    }
    return OSS_OK;
}

static oss_code_t
lc_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    lreq_t *l = vctx;
    oss_code_t rc = OSS_OK;
    const char *s1[] = {l->stream_id};

    switch (l->op) {
    case OP_RESEND:
        return oss_app_activation_extra(&l->act, cmd, q, qctx, err);
    case OP_VERIFY:
        if (l->verify == OSS_LC_VERIFY_OK) {
            rc = oss_app_queue(
                q, qctx,
                "DELETE FROM oss.activation_secrets WHERE stream_id "
                "= $1",
                1, s1, err);
            if (rc == OSS_OK)
                rc = oss_app_queue(
                    q, qctx,
                    "DELETE FROM oss.deliveries WHERE stream_id = $1 "
                    "AND kind = 'activation'",
                    1, s1, err);
        } else {
            rc = oss_app_queue(q, qctx,
                               "UPDATE oss.activation_secrets SET attempts = "
                               "attempts + 1 WHERE stream_id = $1",
                               1, s1, err);
        }
        return rc;
    case OP_PASSWORD: {
        const char *v[] = {l->stream_id, l->pw_hash};
        return oss_app_queue(q, qctx,
                             "INSERT INTO oss.credentials (stream_id, "
                             "password_hash) VALUES ($1, $2) ON CONFLICT "
                             "(stream_id) DO UPDATE SET password_hash = "
                             "EXCLUDED.password_hash, updated_at = now()",
                             2, v, err);
    }
    case OP_SIGNIN:
    case OP_END:
        for (size_t i = 0; i < l->d.n && rc == OSS_OK; i++) {
            const oss_lc_fact_t *f = &l->d.facts[i];
            if (f->kind == OSS_LC_SESSION_ENDED) {
                const char *v[] = {f->id, f->reason};
                rc = oss_app_queue(
                    q, qctx,
                    "UPDATE oss.sessions SET revoked_at = now(), "
                    "revoke_reason = $2 WHERE session_id = $1::uuid "
                    "AND revoked_at IS NULL",
                    2, v, err);
            } else if (f->kind == OSS_LC_SIGNIN_THROTTLED && l->contact) {
                rc = queue_throttled_notice(l, cmd, q, qctx, err);
            } else if (f->kind == OSS_LC_SIGNIN_OK) {
                char exp[24];
                snprintf(exp, sizeof exp, "%lld", (long long)f->expires_at_us);
                const char *v[] = {l->token_hmac, f->id, l->stream_id, exp};
                rc = oss_app_queue(
                    q, qctx,
                    "INSERT INTO oss.sessions (token_hmac, "
                    "session_id, stream_id, expires_at) VALUES "
                    "(decode($1, 'hex'), $2::uuid, $3, " TS_US("$4") ")",
                    4, v, err);
            }
        }
        return rc;
    }
    return OSS_OK;
}

/* Appends l's command; replies 503/500 itself and returns false when the
 * transaction failed; else the command's outcome is in *c. */
static bool
execute(api_worker_t *w, lreq_t *l, oss_command_t *c, const char *actor) {
    memset(c, 0, sizeof *c);
    c->stream_id = l->stream_id;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = -1;
    c->actor_kind = OSS_ACTOR_BUSINESS_USER;
    /* who: the caller, else the person whose code or password this is
     * (activation, first password, resend) */
    c->actor_id = actor ? actor : l->account_id;
    c->correlation_id = oss_http_req_cid(l->req);
    c->decide = lc_decide;
    c->ctx = l;
    c->extra_fn = lc_extra;
    /* a concurrent command on the stream: decide again, twice at most */
    return api_req_execute(w, l->req, c, 1, 3, "lifecycle command");
}

/* Maps a rejected lifecycle command to its answer. */
static void
reply_rejected(lreq_t *l, const oss_command_t *c) {
    const char *why = c->err.reason[0] ? c->err.reason : c->err.field;
    oss_http_req_t *req = l->req;
    if (!strcmp(why, "rate_limited") || !strcmp(why, "throttled")) {
        api_reply_429(req, l->d.retry_after_us, why, c->err.msg);
    } else if (!strcmp(why, "not_registered")) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
    } else if (!strcmp(why, "locked")) {
        oss_http_reply_error(req, 423, "locked", c->err.msg, NULL);
    } else if (!strcmp(why, "expired")) {
        oss_http_reply_error(req, 410, "expired", c->err.msg, NULL);
    } else if (!strcmp(why, "unauthenticated")) {
        oss_http_reply_error(req, 401, "unauthenticated", c->err.msg, NULL);
    } else if (!strcmp(why, "no_session")) {
        oss_http_reply_error(req, 404, NULL, "no such session", NULL);
    } else if (c->err.code == OSS_EINVAL && why[0]) {
        api_reply_field(req, 422, "invalid_fields", why, "invalid", c->err.msg);
    } else if (why[0]) {
        oss_http_reply_error(req, 409, why, c->err.msg, NULL);
    } else {
        int st = oss_http_status_for(c->err.code);
        oss_http_reply_error(req, st, NULL, c->err.msg, NULL);
    }
}

static void
set_account(lreq_t *l, const char *id) {
    snprintf(l->account_id, sizeof l->account_id, "%s", id);
    snprintf(l->stream_id, sizeof l->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%s", id);
    snprintf(l->account_stream, sizeof l->account_stream, "account-%s", id);
}

static lreq_t *
lreq_new(api_worker_t *w, api_job_t *job, bool with_account) {
    lreq_t *l = calloc(1, sizeof *l);
    if (!l) {
        oss_http_reply_error(job->req, 500, NULL, "out of memory", NULL);
        return NULL;
    }
    l->ctx = api_worker_ctx(w);
    l->lc = l->ctx->app.lc;
    l->req = job->req;
    if (with_account) {
        set_account(l, oss_http_req_param(job->req, 0));
    }
    return l;
}

static void
lreq_free(lreq_t *l) {
    if (!l)
        return;
    oss_app_activation_clear(&l->act);
    if (l->contact) {
        oss_app_contact_clear(l->contact);
        free(l->contact);
    }
    memset(l, 0, sizeof *l);
    free(l);
}

/* The Bearer token's open session: fills l->stream_id and l->session_id
 * (the caller's own). Replies 401 and returns false otherwise. */
static bool
authenticate(api_worker_t *w, lreq_t *l, char *caller_session) {
    const char *h = oss_http_req_header(l->req, "Authorization");
    char mac[65];
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) < 16 ||
        strlen(h + 7) > 128) {
        oss_http_reply_error(l->req, 401, "unauthenticated",
                             "a session token is required (Authorization: "
                             "Bearer ...)",
                             NULL);
        return false;
    }
    oss_app_lc_keyed_hex(l->lc->otp.key[0], "session", h + 7, NULL, mac);
    const char *p[] = {mac};
    PGresult *r =
        api_req_query(w, l->req, "lifecycle query",
                      "SELECT stream_id, session_id FROM oss.sessions "
                      "WHERE token_hmac = decode($1, 'hex') AND revoked_at "
                      "IS NULL AND expires_at > now()",
                      1, p, API_REQ_ROWS);
    if (!r)
        return false;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_http_reply_error(l->req, 401, "unauthenticated",
                             "the session token is unknown, expired or "
                             "ended",
                             NULL);
        return false;
    }
    const char *sid = PQgetvalue(r, 0, 0);
    size_t pl = strlen(OSS_APP_ACCESS_STREAM_PREFIX);
    set_account(l, strncmp(sid, OSS_APP_ACCESS_STREAM_PREFIX, pl) == 0
                       ? sid + pl
                       : sid);
    if (caller_session)
        snprintf(caller_session, OSS_UUID_STR, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return true;
}

static bool
valid_account(oss_http_req_t *req) {
    if (!oss_app_id_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return false;
    }
    return true;
}

/* ---- POST /v1/accounts/{id}/activation (resend) ------------------------ */

/* The subject's data key of the account stream (from its AccountRegistered
 * and oss.subject_keys). Replies and returns false on failure. */
static bool
subject_key(api_worker_t *w, lreq_t *l, oss_data_key_t *dk) {
    oss_journal_t *j = api_req_journal(w, l->req);
    oss_event_list_t hist = {0};
    oss_err_t err;
    char subject[OSS_UUID_STR] = "";
    bool ok = false;

    if (!j)
        return false;
    /* P1: a principal (delegate, officer, ...) has its subject in
     * oss.principals; a first owner registered before that table, only in
     * its AccountRegistered */
    const char *pq[] = {l->account_id};
    PGresult *pr = api_req_query(w, l->req, "lifecycle query",
                                 "SELECT subject_id FROM oss.principals WHERE "
                                 "principal_id = $1",
                                 1, pq, API_REQ_ROWS);
    if (!pr)
        return false;
    if (PQntuples(pr) == 1)
        snprintf(subject, sizeof subject, "%s", PQgetvalue(pr, 0, 0));
    PQclear(pr);
    oss_err_clear(&err);
    if (!subject[0] &&
        oss_journal_load(j, l->account_stream, &hist, &err) != OSS_OK) {
        oss_http_reply_error(l->req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not read the account", NULL);
        goto done;
    }
    for (size_t i = 0; i < hist.len && !subject[0]; i++)
        if (!strcmp(hist.items[i].payload_type, "oss.v1.AccountRegistered")) {
            Oss__V1__AccountRegistered *m = oss__v1__account_registered__unpack(
                NULL, hist.items[i].payload_len, hist.items[i].payload);
            if (m) {
                snprintf(subject, sizeof subject, "%s", m->subject_id);
                oss__v1__account_registered__free_unpacked(m, NULL);
            }
        }
    if (!subject[0]) {
        oss_http_reply_error(l->req, 404, NULL, "no such account", NULL);
        goto done;
    }
    l->registered = true;
    const char *p[] = {subject};
    PGresult *r =
        api_req_query(w, l->req, "lifecycle query",
                      "SELECT master_key_id, encode(wrapped_key, 'hex') "
                      "FROM oss.subject_keys WHERE subject_id = $1::uuid",
                      1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_http_reply_error(l->req, 409, "erased",
                             "the account's personal data was erased; no "
                             "message can reach it",
                             NULL);
        goto done;
    }
    const char *hex = PQgetvalue(r, 0, 1);
    size_t hl = strlen(hex);
    uint8_t wk[128];
    if (hl / 2 > sizeof wk) {
        PQclear(r);
        oss_http_reply_error(l->req, 500, NULL, "bad wrapped key", NULL);
        goto done;
    }
    for (size_t i = 0; i < hl / 2; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        wk[i] = (uint8_t)v;
    }
    oss_err_clear(&err);
    if (oss_data_key_unwrap(&l->ctx->app.master, PQgetvalue(r, 0, 0), subject,
                            wk, hl / 2, dk, &err) != OSS_OK) {
        PQclear(r);
        oss_error("could not unwrap a subject key: %s", err.msg);
        oss_http_reply_error(l->req, 500, NULL, "could not unwrap the key",
                             NULL);
        goto done;
    }
    PQclear(r);
    ok = true;
done:
    oss_event_list_free(&hist);
    return ok;
}

static void
run_resend(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"channel", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_data_key_t dk;
    oss_err_t err;

    memset(&dk, 0, sizeof dk);
    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *ch = api_body_str(body, "channel");
    if (!ch)
        ch = "email";
    if (strcmp(ch, "email") && strcmp(ch, "whatsapp")) {
        api_reply_field(job->req, 422, "invalid_fields", "channel", "invalid",
                        "channel must be email or whatsapp");
        goto done;
    }
    if (!subject_key(w, l, &dk))
        goto done;
    oss_err_clear(&err);
    if (oss_app_activation_prepare(&l->ctx->app, &dk, l->account_id, ch,
                                   &l->act, &err) != OSS_OK) {
        oss_error("could not prepare activation: %s", err.msg);
        oss_http_reply_error(job->req, 500, NULL, "could not prepare", NULL);
        goto done;
    }
    l->op = OP_RESEND;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("activation resent stream=%s channel=%s", l->stream_id, ch);
    char exp[40];
    api_req_iso_us(l->act.expires_at_us, true, exp, sizeof exp);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "delivery_id",
                          l->act.delivery_id, "channel", ch, "expires_at", exp,
                          "version", (json_int_t)c.last_version);
    oss_http_reply_json(job->req, 202, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    memset(&dk, 0, sizeof dk);
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_activation_resend(oss_http_req_t *req, void *arg) {
    if (valid_account(req) &&
        api_ratelimit_take(req, API_RL_RESEND, oss_http_req_param(req, 0)))
        api_req_submit_lc(arg, req, run_resend);
}

/* ---- POST /v1/accounts/{id}/activate ------------------------------------ */

static void
run_activate(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"otp", "token", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *otp = api_body_str(body, "otp"),
               *token = api_body_str(body, "token");
    if ((otp != NULL) == (token != NULL)) {
        api_reply_field(job->req, 422, "invalid_fields", "otp", "required",
                        "give exactly one of otp or token");
        goto done;
    }
    if (otp && (strlen(otp) != 6 || strspn(otp, "0123456789") != 6)) {
        api_reply_field(job->req, 422, "invalid_fields", "otp", "invalid",
                        "otp must be 6 digits");
        goto done;
    }
    const char *p[] = {l->stream_id};
    PGresult *r = api_req_query(w, job->req, "lifecycle query",
                                "SELECT delivery_id, encode(otp_hmac, 'hex'), "
                                "encode(link_hmac, 'hex'), key_id FROM "
                                "oss.activation_secrets WHERE stream_id = $1",
                                1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    if (PQntuples(r) == 1) {
        const uint8_t *key = oss_app_lc_otp_key(l->lc, PQgetvalue(r, 0, 3));
        char mac[65];
        if (key) {
            oss_app_lc_keyed_hex(key, otp ? "otp" : "link", l->stream_id,
                                 otp ? otp : token, mac);
            l->matched =
                oss_ct_equal(mac, PQgetvalue(r, 0, otp ? 1 : 2), 64) == 1;
        }
        snprintf(l->delivery_expected, sizeof l->delivery_expected, "%s",
                 PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    api_body_wipe(body, "otp");
    api_body_wipe(body, "token");
    snprintf(l->method, sizeof l->method, "%s", otp ? "otp" : "link");
    l->op = OP_VERIFY;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    switch (l->verify) {
    case OSS_LC_VERIFY_OK: {
        oss_info("account activated stream=%s", l->stream_id);
        json_t *o =
            json_pack("{s:s, s:s, s:I}", "account_id", l->account_id, "status",
                      "active", "version", (json_int_t)c.last_version);
        oss_http_reply_json(job->req, 200,
                            o ? json_dumps(o, JSON_COMPACT) : NULL, NULL);
        json_decref(o);
        break;
    }
    case OSS_LC_VERIFY_WRONG:
        oss_info("activation code refused stream=%s", l->stream_id);
        api_reply_field(job->req, 422, "wrong_code", otp ? "otp" : "token",
                        "wrong", "the code is not right");
        break;
    case OSS_LC_VERIFY_LOCKED_NOW:
        oss_info("activation locked stream=%s", l->stream_id);
        oss_http_reply_error(job->req, 423, "locked",
                             "too many wrong codes: activation is locked; "
                             "request a new code",
                             NULL);
        break;
    }
done:
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_activate(oss_http_req_t *req, void *arg) {
    if (valid_account(req) &&
        api_ratelimit_take(req, API_RL_OTP, oss_http_req_param(req, 0)))
        api_req_submit_lc(arg, req, run_activate);
}

/* ---- POST /v1/accounts/{id}/password ------------------------------------ */

static void
run_password(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"password", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_err_t err;

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *pw = api_body_str(body, "password");
    const char *why =
        oss_password_policy_check(pw, oss_app_lc_is_common, l->lc);
    if (why) {
        api_body_wipe(body, "password");
        api_reply_field(job->req, 422, "invalid_fields", "password", why,
                        "the password does not meet the policy: at least "
                        "8 characters with letters, digits and a special "
                        "character, not a common password");
        goto done;
    }
    if (oss_http_req_header(job->req, "Authorization")) {
        char own[OSS_ID_MAX];
        snprintf(own, sizeof own, "%s", l->stream_id);
        if (!authenticate(w, l, NULL)) {
            api_body_wipe(body, "password");
            goto done;
        }
        if (strcmp(own, l->stream_id) != 0) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 403, "forbidden",
                                 "the session belongs to another account",
                                 NULL);
            goto done;
        }
        l->authed = true;
    }
    oss_err_clear(&err);
    oss_code_t rc =
        oss_password_hash(pw, l->lc->t_cost, l->lc->m_kib, l->lc->lanes,
                          l->pw_hash, sizeof l->pw_hash, &err);
    api_body_wipe(body, "password");
    if (rc != OSS_OK) {
        oss_error("could not hash a password: %s", err.msg);
        oss_http_reply_error(job->req, 500, NULL, "could not hash", NULL);
        goto done;
    }
    l->op = OP_PASSWORD;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("password set stream=%s", l->stream_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
done:
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_password(oss_http_req_t *req, void *arg) {
    if (valid_account(req))
        api_req_submit_lc(arg, req, run_password);
}

/* ---- POST /v1/sessions (sign in) ---------------------------------------- */

static void
run_sign_in(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"account_id", "principal_id", "email",
                                        "password", NULL};
    lreq_t *l = lreq_new(w, job, false);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_event_list_t hist = {0};
    oss_err_t err;
    char token[48] = "";

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *id = api_body_str(body, "account_id"),
               *pw = api_body_str(body, "password");
    const char *email = api_body_str(body, "email");
    if (!id) /* P1: any principal; account_id = a first owner's */
        id = api_body_str(body, "principal_id");
    char found[OSS_ID_MAX] = "";
    if (email && !id) {
        /* the e-mail's keyed hash names the account, when exactly one */
        char norm[256], hex[65];
        uint8_t dg[32];
        if (oss_email_normalize(email, norm, sizeof norm)) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 401, "invalid_credentials",
                                 "the account or password is not right", NULL);
            goto done;
        }
        oss_index_digest(&l->ctx->app.index, "email", norm, dg);
        oss_hex(dg, sizeof dg, hex);
        memset(norm, 0, sizeof norm);
        const char *lp[] = {hex};
        PGresult *lr =
            api_req_query(w, job->req, "lifecycle query",
                          "SELECT stream_id FROM oss.account_lookup WHERE "
                          "kind = 'email' AND digest = decode($1, 'hex') "
                          "LIMIT 2",
                          1, lp, API_REQ_ROWS);
        if (!lr) {
            api_body_wipe(body, "password");
            goto done;
        }
        int nr = PQntuples(lr);
        if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "account-", 8))
            snprintf(found, sizeof found, "%s", PQgetvalue(lr, 0, 0) + 8);
        else if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "access-", 7))
            snprintf(found, sizeof found, "%s", PQgetvalue(lr, 0, 0) + 7);
        PQclear(lr);
        if (nr > 1) {
            api_body_wipe(body, "password");
            api_reply_field(job->req, 409, "ambiguous", "email", "ambiguous",
                            "several accounts use this e-mail address; "
                            "sign in with account_id");
            goto done;
        }
        if (nr != 1) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 401, "invalid_credentials",
                                 "the account or password is not right", NULL);
            goto done;
        }
        id = found;
    }
    if (!id || !pw) {
        api_body_wipe(body, "password");
        api_reply_field(job->req, 422, "invalid_fields",
                        id ? "password" : "account_id", "required",
                        "account_id and password are required");
        goto done;
    }
    if (!oss_app_id_valid(id)) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    set_account(l, id);
    {
        char mac[65];
        oss_app_lc_keyed_hex(l->lc->otp.key[0], "source",
                             oss_http_req_peer(job->req), NULL, mac);
        snprintf(l->source, sizeof l->source, "%.16s", mac);
    }
    /* throttled sources wait before any password work */
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    if (oss_journal_load(j, l->stream_id, &hist, &err) != OSS_OK) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, err.code == OSS_EUNAVAIL ? 503 : 500,
                             NULL, "could not read the account", NULL);
        goto done;
    }
    oss_lc_state_t st;
    oss_app_lc_fold(hist.items, hist.len, false, &st);
    if (st.status == OSS_LC_NEW) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    int64_t wait = oss_lc_signin_wait(&st, &l->lc->policy,
                                      oss_app_lc_clock(l->lc), l->source);
    if (wait > 0) {
        api_body_wipe(body, "password");
        api_reply_429(job->req, wait, "throttled",
                      "too many failed sign-ins from here; retry later");
        goto done;
    }
    const char *p[] = {l->stream_id};
    PGresult *r =
        api_req_query(w, job->req, "lifecycle query",
                      "SELECT password_hash FROM oss.credentials WHERE "
                      "stream_id = $1",
                      1, p, API_REQ_ROWS);
    if (!r) {
        api_body_wipe(body, "password");
        goto done;
    }
    if (PQntuples(r) == 1) {
        bool match = false;
        oss_err_clear(&err);
        if (oss_password_verify(PQgetvalue(r, 0, 0), pw, &match, &err) ==
            OSS_OK)
            l->matched = match;
    }
    PQclear(r);
    api_body_wipe(body, "password");
    /* P1: when this failure crosses the threshold the owner is told
     * (signin_throttled); the contact is opened before the transaction */
    if (!l->matched && !st.throttled &&
        st.signin_failures + 1 >= l->lc->policy.signin_threshold &&
        (l->contact = calloc(1, sizeof *l->contact)) != NULL) {
        oss_err_clear(&err);
        if (api_contact_load(w, l->account_id, l->contact, &err) != OSS_OK) {
            oss_info("no sign-in notice stream=%s: %s", l->stream_id,
                     err.reason[0] ? err.reason : "no contact");
            oss_app_contact_clear(l->contact);
            free(l->contact);
            l->contact = NULL;
        }
    }
    uint8_t rnd[32];
    oss_err_clear(&err);
    if (oss_random(rnd, sizeof rnd, &err) != OSS_OK) {
        oss_http_reply_error(job->req, 500, NULL, "no randomness", NULL);
        goto done;
    }
    memcpy(token, "oss_", 4);
    api_req_b64url(rnd, sizeof rnd, token + 4);
    memset(rnd, 0, sizeof rnd);
    oss_app_lc_keyed_hex(l->lc->otp.key[0], "session", token, NULL,
                         l->token_hmac);
    oss_uuid4(l->session_id);
    l->op = OP_SIGNIN;
    if (!execute(w, l, &c, id))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    if (!l->ok) {
        oss_info("sign-in failed stream=%s", l->stream_id);
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    int64_t exp_us = 0;
    for (size_t i = 0; i < l->d.n; i++)
        if (l->d.facts[i].kind == OSS_LC_SIGNIN_OK)
            exp_us = l->d.facts[i].expires_at_us;
    char exp[40];
    api_req_iso_us(exp_us, true, exp, sizeof exp);
    oss_info("signed in stream=%s session=%s", l->stream_id, l->session_id);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", token, "session_id",
                  l->session_id, "account_id", l->account_id, "principal_id",
                  l->account_id, "expires_at", exp);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    oss_http_reply_json(job->req, 201, s, NULL);
done:
    memset(token, 0, sizeof token);
    oss_event_list_free(&hist);
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_sign_in(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"principal_id", "account_id", "email",
                                      NULL};
    char key[260];
    bool ok = api_ratelimit_take(
        req, API_RL_SIGNIN, api_ratelimit_body_key(req, idf, key, sizeof key));
    explicit_bzero(key, sizeof key);
    if (ok)
        api_req_submit_lc(arg, req, run_sign_in);
}

/* ---- GET /v1/sessions ---------------------------------------------------- */

static void
run_sessions_list(api_worker_t *w, api_job_t *job) {
    lreq_t *l = lreq_new(w, job, false);
    char mine[OSS_UUID_STR] = "";

    if (!l || !authenticate(w, l, mine))
        goto done;
    const char *p[] = {l->stream_id};
    PGresult *r = api_req_query(
        w, job->req, "lifecycle query",
        "SELECT session_id, to_char(created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), to_char(expires_at AT TIME "
        "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM oss.sessions "
        "WHERE stream_id = $1 AND revoked_at IS NULL AND expires_at > now() "
        "ORDER BY created_at",
        1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:b}", "session_id",
                                        PQgetvalue(r, i, 0), "created_at",
                                        PQgetvalue(r, i, 1), "expires_at",
                                        PQgetvalue(r, i, 2), "current",
                                        !strcmp(PQgetvalue(r, i, 0), mine)));
    PQclear(r);
    json_t *o =
        json_pack("{s:s, s:o}", "account_id", l->account_id, "sessions", arr);
    oss_http_reply_json(job->req, 200, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    lreq_free(l);
}

void
api_h_sessions_list(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_sessions_list);
}

/* ---- DELETE /v1/sessions/{id} ------------------------------------------- */

static void
run_session_end(api_worker_t *w, api_job_t *job) {
    lreq_t *l = lreq_new(w, job, false);
    oss_command_t c = {0};

    if (!l || !authenticate(w, l, NULL))
        goto done;
    snprintf(l->session_id, sizeof l->session_id, "%s",
             oss_http_req_param(job->req, 0));
    l->op = OP_END;
    if (!execute(w, l, &c, l->account_id))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("session ended stream=%s session=%s", l->stream_id, l->session_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
done:
    oss_event_list_free(&c.events);
    lreq_free(l);
}

void
api_h_session_end(oss_http_req_t *req, void *arg) {
    const char *id = oss_http_req_param(req, 0);
    if (!oss_app_id_valid(id) || strlen(id) != 36) {
        oss_http_reply_error(req, 404, NULL, "no such session", NULL);
        return;
    }
    api_req_submit_lc(arg, req, run_session_end);
}
