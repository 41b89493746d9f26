/* The account lifecycle's use cases (account_lifecycle.h): activation
 * resend and verify, password, sign-in, sessions. One decide and one
 * extra_fn serve every command (the op says which rule of
 * src/core/lifecycle.c applies and which secret rows go with it).
 *
 * Secrets (OTP, link token, password, session token) live only in memory,
 * are wiped after use and never logged; tables hold keyed hashes
 * (HMAC-SHA256 under crypto.otp_key_file), the Argon2id hash, or (for the
 * notifier) the OTP and link sealed under the subject's data key. */
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

/* ---- the lifecycle command ------------------------------------------------
 */

void
oss_app_lcop_init(lc_op_t *l, oss_app_t *app, int op,
                  const char *principal_id) {
    memset(l, 0, sizeof *l);
    l->lc = app->lc;
    l->op = op;
    snprintf(l->account_id, sizeof l->account_id, "%s", principal_id);
    snprintf(l->stream_id, sizeof l->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%s", principal_id);
}

void
oss_app_lcop_clear(lc_op_t *l) {
    if (l->contact) {
        oss_app_contact_clear(l->contact);
        free(l->contact);
    }
    OPENSSL_cleanse(l, sizeof *l);
}

void
oss_app_lcop_result_init(oss_app_lc_result_t *r, const char *principal_id) {
    memset(r, 0, sizeof *r);
    r->failed_at = OSS_APP_LC_AT_APPEND;
    r->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&r->err);
    snprintf(r->stream_id, sizeof r->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%s",
             principal_id ? principal_id : "");
}

/* A refusal before the core decides (returns OSS_OK: nothing failed). */
oss_code_t
oss_app_lcop_refuse(oss_app_lc_result_t *r, oss_code_t code, const char *field,
                    const char *reason, const char *msg) {
    if (field)
        oss_err_field(&r->err, code, field, "%s", msg);
    else
        oss_err_set(&r->err, code, "%s", msg);
    oss_err_reason(&r->err, reason);
    r->outcome = OSS_JOURNAL_REJECTED;
    return OSS_OK;
}

/* A read before the command on j's connection: new result (PQclear), or
 * NULL after logging the error with *rc set (OSS_EUNAVAIL: the connection
 * was lost) and r->failed_at (r may be NULL). */
PGresult *
oss_app_lcop_query(oss_journal_t *j, oss_app_lc_result_t *r, const char *sql,
                   int n, const char *const *params, oss_code_t *rc,
                   oss_err_t *err) {
    PGconn *c = oss_journal_conn(j);
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    bool lost = oss_db_conn_lost(c, res);
    oss_db_error(c, res, "lifecycle query", err);
    PQclear(res);
    oss_warn("%s", err->msg);
    if (r)
        r->failed_at = OSS_APP_LC_AT_READ;
    *rc = lost ? OSS_EUNAVAIL : OSS_EINTERNAL;
    err->code = *rc;
    return NULL;
}

/* The generic decide for every lifecycle command (ctx = lc_op_t). */
static oss_code_t
lc_decide(void *vctx, const oss_event_t *history, size_t n,
          oss_event_list_t *out, oss_err_t *err) {
    lc_op_t *l = vctx;
    oss_lc_state_t st;
    int64_t now = oss_app_lc_clock(l->lc);
    const oss_lc_policy_t *p = &l->lc->policy;
    oss_code_t rc;

    oss_app_lc_fold(history, n, l->registered, &st);
    memset(&l->d, 0, sizeof l->d);
    switch (l->op) {
    case OP_RESEND:
        rc = oss_lc_decide_resend(&st, p, now, l->act->channel,
                                  l->act->delivery_id, &l->d, err);
        if (rc == OSS_OK)
            l->act->expires_at_us = l->d.facts[1].expires_at_us;
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

/* The signin_throttled notice to the principal, for the SignInThrottled
 * event of cmd. A contact without an e-mail address gets none (never an
 * error: the sign-in outcome must still be recorded). */
static oss_code_t
queue_throttled_notice(lc_op_t *l, const oss_command_t *cmd,
                       oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    for (size_t i = 0; i < cmd->events.len; i++) {
        const oss_event_t *ev = &cmd->events.items[i];
        if (strcmp(ev->payload_type, OSS_LC_T_SIGN_IN_THROTTLED))
            continue;
        char when[64];
        oss_utc_format(ev->occurred_at_us ? ev->occurred_at_us
                                          : oss_app_lc_clock(l->lc),
                       6, when, sizeof when);
        const char *kv[] = {"name", l->contact->name, "when", when};
        char *vars = oss_app_notice_vars(kv, 2);
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
        OPENSSL_cleanse(vars, strlen(vars));
        free(vars);
        if (rc == OSS_EUNAVAIL || rc == OSS_ENOMEM) {
            *err = nerr;
            return rc;
        }
        return OSS_OK;
    }
    return OSS_OK;
}

/* The account_activated notice for the ActivationSucceeded event of cmd:
 * the account's login data (the username to sign in with and the login
 * e-mail), on e-mail, else WhatsApp; never a secret (no password exists
 * yet, the OTP is spent). A contact that cannot be reached gets none. */
static oss_code_t
queue_activated_notice(lc_op_t *l, const oss_command_t *cmd,
                       oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    for (size_t i = 0; i < cmd->events.len; i++) {
        if (strcmp(cmd->events.items[i].payload_type,
                   OSS_LC_T_ACTIVATION_SUCCEEDED))
            continue;
        const char *chan = l->contact->email[0]   ? "email"
                           : l->contact->phone[0] ? "whatsapp"
                                                  : NULL;
        if (!chan)
            return OSS_OK;
        const char *kv[] = {"name",        l->contact->name, "username",
                            l->account_id, "email",          l->contact->email};
        char *vars = oss_app_notice_vars(kv, 3);
        if (!vars)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        oss_code_t rc =
            oss_app_notice_queue(l->contact, "account_activated", chan,
                                 l->account_id, cmd, i, vars, 0, q, qctx, err);
        OPENSSL_cleanse(vars, strlen(vars));
        free(vars);
        return rc;
    }
    return OSS_OK;
}

static oss_code_t
lc_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    lc_op_t *l = vctx;
    oss_code_t rc = OSS_OK;
    const char *s1[] = {l->stream_id};

    switch (l->op) {
    case OP_RESEND:
        return oss_app_activation_extra(l->act, cmd, q, qctx, err);
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
            if (rc == OSS_OK && l->contact)
                rc = queue_activated_notice(l, cmd, q, qctx, err);
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

/* Executes l's command on j (a concurrent command on the stream: decide
 * again, twice at most) into *r. */
oss_code_t
oss_app_lcop_execute(oss_journal_t *j, lc_op_t *l, const char *correlation_id,
                     oss_app_lc_result_t *r, oss_err_t *err) {
    oss_command_t c;
    oss_code_t rc = OSS_OK;

    memset(&c, 0, sizeof c);
    c.stream_id = l->stream_id;
    c.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_BUSINESS_USER;
    /* who: the caller, else the person whose code or password this is
     * (activation, first password, resend): the principal either way */
    c.actor_id = l->account_id;
    c.correlation_id = correlation_id;
    c.decide = lc_decide;
    c.ctx = l;
    c.extra_fn = lc_extra;
    r->failed_at = OSS_APP_LC_AT_APPEND;
    if ((rc = oss_app_cmd_execute(j, &c, err)) != OSS_OK)
        goto done;
    r->outcome = c.outcome;
    r->err = c.err;
    r->version = c.last_version;
    r->retry_after_us = l->d.retry_after_us;
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    return rc;
}

/* ---- activation ---------------------------------------------------------- */

/* The subject's data key of principal l->account_id (oss.principals, else
 * its AccountRegistered, and oss.subject_keys). */
static oss_code_t
subject_key(oss_app_t *app, oss_journal_t *j, lc_op_t *l,
            oss_app_lc_result_t *res, oss_data_key_t *dk, bool *found,
            oss_err_t *err) {
    oss_event_list_t hist = {0};
    char subject[OSS_UUID_STR] = "";
    char account_stream[OSS_ID_MAX + 8];
    oss_code_t rc = OSS_OK;

    *found = false;
    /* a principal (delegate, officer, ...) has its subject in
     * oss.principals; a first owner registered before that table, only in
     * its AccountRegistered */
    const char *pq[] = {l->account_id};
    PGresult *pr =
        oss_app_lcop_query(j, res,
                           "SELECT subject_id FROM oss.principals WHERE "
                           "principal_id = $1",
                           1, pq, &rc, err);
    if (!pr)
        return rc;
    if (PQntuples(pr) == 1)
        snprintf(subject, sizeof subject, "%s", PQgetvalue(pr, 0, 0));
    PQclear(pr);
    snprintf(account_stream, sizeof account_stream, "account-%s",
             l->account_id);
    if (!subject[0] &&
        (rc = oss_journal_load(j, account_stream, &hist, err)) != OSS_OK) {
        res->failed_at = OSS_APP_LC_AT_ACCOUNT;
        rc = err->code == OSS_EUNAVAIL ? OSS_EUNAVAIL : OSS_EINTERNAL;
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
        oss_app_lcop_refuse(res, OSS_ENOTFOUND, NULL,
                            OSS_APP_LC_REASON_NOT_REGISTERED,
                            "no such account");
        goto done;
    }
    l->registered = true;
    const char *p[] = {subject};
    PGresult *r =
        oss_app_lcop_query(j, res,
                           "SELECT master_key_id, encode(wrapped_key, 'hex') "
                           "FROM oss.subject_keys WHERE subject_id = $1::uuid",
                           1, p, &rc, err);
    if (!r)
        goto done;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_app_lcop_refuse(
            res, OSS_ECONFLICT, NULL, OSS_APP_LC_REASON_ERASED,
            "the account's personal data was erased; no message can "
            "reach it");
        goto done;
    }
    const char *hex = PQgetvalue(r, 0, 1);
    size_t hl = strlen(hex);
    uint8_t wk[128];
    if (hl / 2 > sizeof wk) {
        PQclear(r);
        res->failed_at = OSS_APP_LC_AT_WRAPPED_KEY;
        rc = oss_err_set(err, OSS_EINTERNAL, "bad wrapped key");
        goto done;
    }
    for (size_t i = 0; i < hl / 2; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        wk[i] = (uint8_t)v;
    }
    if (oss_data_key_unwrap(&app->master, PQgetvalue(r, 0, 0), subject, wk,
                            hl / 2, dk, err) != OSS_OK) {
        PQclear(r);
        oss_error("could not unwrap a subject key: %s", err->msg);
        res->failed_at = OSS_APP_LC_AT_UNWRAP;
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    PQclear(r);
    *found = true;
done:
    oss_event_list_free(&hist);
    return rc;
}

oss_code_t
oss_app_activation_resend(oss_app_t *app, oss_journal_t *j, oss_app_resend_t *a,
                          oss_err_t *err) {
    lc_op_t l;
    oss_app_activation_t act;
    oss_data_key_t dk;
    bool found;
    oss_code_t rc;

    oss_app_lcop_result_init(&a->r, a->principal_id);
    a->delivery_id[0] = '\0';
    a->expires_at_us = 0;
    memset(&act, 0, sizeof act);
    memset(&dk, 0, sizeof dk);
    oss_app_lcop_init(&l, app, OP_RESEND, a->principal_id);
    rc = subject_key(app, j, &l, &a->r, &dk, &found, err);
    if (rc != OSS_OK || !found)
        goto done;
    if (oss_app_activation_prepare(app, &dk, l.account_id, a->channel, &act,
                                   err) != OSS_OK) {
        oss_error("could not prepare activation: %s", err->msg);
        a->r.failed_at = OSS_APP_LC_AT_PREPARE;
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    l.act = &act;
    rc = oss_app_lcop_execute(j, &l, a->correlation_id, &a->r, err);
    if (rc == OSS_OK && a->r.outcome == OSS_JOURNAL_APPENDED) {
        snprintf(a->delivery_id, sizeof a->delivery_id, "%s", act.delivery_id);
        a->expires_at_us = act.expires_at_us;
    }
done:
    OPENSSL_cleanse(&dk, sizeof dk);
    oss_app_activation_clear(&act);
    oss_app_lcop_clear(&l);
    return rc;
}

oss_code_t
oss_app_activate(oss_app_t *app, oss_journal_t *j, oss_app_activate_t *a,
                 oss_err_t *err) {
    lc_op_t l;
    oss_code_t rc = OSS_OK;
    bool otp = a->otp != NULL;

    oss_app_lcop_result_init(&a->r, a->principal_id);
    a->verify = OSS_LC_VERIFY_WRONG;
    oss_app_lcop_init(&l, app, OP_VERIFY, a->principal_id);
    const char *p[] = {l.stream_id};
    PGresult *r =
        oss_app_lcop_query(j, &a->r,
                           "SELECT delivery_id, encode(otp_hmac, 'hex'), "
                           "encode(link_hmac, 'hex'), key_id FROM "
                           "oss.activation_secrets WHERE stream_id = $1",
                           1, p, &rc, err);
    if (!r)
        goto done;
    if (PQntuples(r) == 1) {
        const uint8_t *key = oss_app_lc_otp_key(l.lc, PQgetvalue(r, 0, 3));
        char mac[65];
        if (key) {
            oss_app_lc_keyed_hex(key, otp ? "otp" : "link", l.stream_id,
                                 otp ? a->otp : a->token, mac);
            l.matched =
                oss_ct_equal(mac, PQgetvalue(r, 0, otp ? 1 : 2), 64) == 1;
        }
        snprintf(l.delivery_expected, sizeof l.delivery_expected, "%s",
                 PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    snprintf(l.method, sizeof l.method, "%s", otp ? "otp" : "link");
    /* a right code activates: the owner is then told its login data
     * (account_activated); the contact is opened before the transaction */
    if (l.matched && (l.contact = calloc(1, sizeof *l.contact)) != NULL) {
        oss_err_t cerr;
        oss_err_clear(&cerr);
        rc = oss_app_contact_current(app, j, a->principal_id, l.contact, &cerr);
        if (rc == OSS_EUNAVAIL) {
            *err = cerr;
            a->r.failed_at = OSS_APP_LC_AT_READ;
            goto done;
        }
        if (rc != OSS_OK) {
            oss_info("no activation notice stream=%s: %s", l.stream_id,
                     cerr.reason[0] ? cerr.reason : cerr.msg);
            oss_app_contact_clear(l.contact);
            free(l.contact);
            l.contact = NULL;
        }
        rc = OSS_OK;
    }
    rc = oss_app_lcop_execute(j, &l, a->correlation_id, &a->r, err);
    if (rc == OSS_OK && a->r.outcome == OSS_JOURNAL_APPENDED)
        a->verify = l.verify;
done:
    oss_app_lcop_clear(&l);
    return rc;
}

/* ---- password ------------------------------------------------------------ */

oss_code_t
oss_app_password_set(oss_app_t *app, oss_journal_t *j, oss_app_password_t *p,
                     oss_err_t *err) {
    lc_op_t l;
    oss_code_t rc;

    oss_app_lcop_result_init(&p->r, p->principal_id);
    const char *why = oss_app_lc_password_policy(app, p->password);
    if (why)
        return oss_app_lcop_refuse(
            &p->r, OSS_EINVAL, "password", why,
            "the password does not meet the policy: at least 8 "
            "characters with letters, digits and a special "
            "character, not a common password");
    if (p->caller && strcmp(p->caller, p->principal_id) != 0)
        return oss_app_lcop_refuse(&p->r, OSS_ENOTFOUND, NULL,
                                   OSS_APP_LC_REASON_FORBIDDEN,
                                   "the session belongs to another account");
    oss_app_lcop_init(&l, app, OP_PASSWORD, p->principal_id);
    l.authed = p->caller != NULL;
    rc = oss_app_lc_password_hash(app, p->password, l.pw_hash, sizeof l.pw_hash,
                                  err);
    if (rc != OSS_OK) {
        oss_error("could not hash a password: %s", err->msg);
        p->r.failed_at = OSS_APP_LC_AT_HASH;
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    rc = oss_app_lcop_execute(j, &l, p->correlation_id, &p->r, err);
done:
    oss_app_lcop_clear(&l);
    return rc;
}
