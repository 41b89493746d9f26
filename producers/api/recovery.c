/* Account recovery over HTTP (see recovery.h): forgot password, forgot
 * account, help requests. The use cases are in src/app/recovery.c (rules in
 * src/core/recovery.c); this file parses and validates the bodies, takes
 * the rate limits (on the event loop), calls the use case on the worker's
 * journal and maps its outcome to the answer.
 *
 * Secrets (reset token, new password, new e-mail) are wiped from the
 * parsed body after use and never logged; personal data (NIK, e-mail) is
 * answered only masked. */
#include "recovery.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/recovery.h"
#include "core/nik.h"
#include "core/uuid.h"
#include "core/validate.h"
#include "log/log.h"
#include "ratelimit.h"
#include "request.h"

/* Written once by api_recovery_init() before the server runs; read-only
 * afterwards. */
static oss_app_recovery_cfg_t g_cfg = OSS_APP_RECOVERY_CFG_INIT;

void
api_recovery_init(const oss_config_t *cfg) {
    oss_app_recovery_cfg_load(&g_cfg, cfg);
}

/* ---- small helpers ------------------------------------------------------- */

static void
reply_json(oss_http_req_t *req, int status, json_t *o) {
    oss_http_reply_json(req, status, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
}

/* Answers a use case that stopped (rc != OSS_OK; logged by src/app): 503
 * with the connection reset when unavailable, else 500; fail is the
 * use case's message. */
static void
reply_fail(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
           const char *fail) {
    if (rc == OSS_EUNAVAIL)
        oss_app_worker_reset(w);
    oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                         fail ? fail : "internal error", NULL);
}

/* ---- POST /v1/password-resets -------------------------------------------- */

static void
run_reset(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"email",      "phone",   "principal_id",
                                        "account_id", "channel", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    char norm[256] = "", phone[OSS_PHONE_MAX] = "";
    oss_app_reset_request_t r = {.cfg = &g_cfg,
                                 .correlation_id = oss_http_req_cid(req)};
    oss_err_t err;

    if (!(body = api_body_parse(req, known)))
        goto done;
    const char *email = api_body_str(body, "email");
    const char *ph = api_body_str(body, "phone");
    const char *id = api_body_str(body, "principal_id");
    const char *channel = api_body_str(body, "channel");
    if (!id)
        id = api_body_str(body, "account_id");
    if ((email != NULL) + (ph != NULL) +
            (api_body_str(body, "principal_id") != NULL) +
            (api_body_str(body, "account_id") != NULL) !=
        1) {
        api_reply_field(req, 422, "invalid_fields",
                        email ? "principal_id" : "email", "required",
                        "give exactly one of email, phone or principal_id "
                        "(the username)");
        goto done;
    }
    if (channel && strcmp(channel, "email") && strcmp(channel, "whatsapp")) {
        api_reply_field(req, 422, "invalid_fields", "channel",
                        "channel_invalid", "channel must be email or whatsapp");
        goto done;
    }
    r.channel = channel;
    if (ph) {
        const char *why = oss_phone_normalize_intl(ph, phone, sizeof phone);
        api_body_wipe(body, "phone");
        if (why) {
            api_reply_field(req, 422, "invalid_fields", "phone", why,
                            "phone is not a valid phone number");
            goto done;
        }
        r.phone = phone;
    } else if (email) {
        const char *why = oss_email_normalize(email, norm, sizeof norm);
        api_body_wipe(body, "email");
        if (why) {
            api_reply_field(req, 422, "invalid_fields", "email", why,
                            "email is not a valid e-mail address");
            goto done;
        }
        r.email = norm;
    } else {
        if (!oss_app_id_valid(id)) {
            api_reply_field(req, 422, "invalid_fields",
                            api_body_str(body, "principal_id") ? "principal_id"
                                                               : "account_id",
                            "invalid", "not an account or principal id");
            goto done;
        }
        r.principal_id = id;
    }
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_password_reset_request(&ctx->app, j, &r, &err);
    if (rc != OSS_OK) {
        reply_fail(w, req, rc, r.fail);
        goto done;
    }
    /* the same answer whether or not an account matched */
    reply_json(req, 202,
               json_pack("{s:s, s:s}", "status", "accepted", "message",
                         "if an active account matches and has the chosen "
                         "channel, a single-use reset link was sent on it"));
done:
    OPENSSL_cleanse(norm, sizeof norm);
    OPENSSL_cleanse(phone, sizeof phone);
    json_decref(body);
}

void
api_h_password_reset(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"email", "phone", "principal_id",
                                      "account_id", NULL};
    char key[260];
    bool ok =
        api_ratelimit_take(req, API_RL_RECOVERY,
                           api_ratelimit_body_key(req, idf, key, sizeof key));
    OPENSSL_cleanse(key, sizeof key);
    if (ok)
        api_req_submit_lc(arg, req, run_reset);
}

/* ---- POST /v1/password-resets/confirm ------------------------------------ */

static void
run_confirm(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"token", "password", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    oss_app_reset_confirm_t *cf = calloc(1, sizeof *cf);
    oss_err_t err;

    if (!cf) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
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
    if (!oss_app_reset_token_shape(token)) {
        api_body_wipe(body, "token");
        oss_http_reply_error(req, 410, "invalid_token",
                             "the reset link is unknown, used or superseded",
                             NULL);
        goto done;
    }
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    cf->token = token;
    cf->password = pw;
    cf->correlation_id = oss_http_req_cid(req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_password_reset_confirm(&ctx->app, j, cf, &err);
    api_body_wipe(body, "token");
    api_body_wipe(body, "password");
    if (rc != OSS_OK) {
        reply_fail(w, req, rc, cf->fail);
        goto done;
    }
    if (cf->outcome != OSS_JOURNAL_APPENDED) {
        const char *f = cf->err.reason[0] ? cf->err.reason : cf->err.field;
        if (!strcmp(f, "expired"))
            oss_http_reply_error(req, 410, "expired", cf->err.msg, NULL);
        else if (!strcmp(f, "used") || !strcmp(f, OSS_APP_REASON_INVALID_TOKEN))
            oss_http_reply_error(req, 410, "invalid_token", cf->err.msg, NULL);
        else if (f[0])
            oss_http_reply_error(req, 409, f, cf->err.msg, NULL);
        else
            oss_http_reply_error(req, oss_http_status_for(cf->err.code), NULL,
                                 cf->err.msg, NULL);
        goto done;
    }
    oss_info("password reset completed stream=%s sessions_ended=%d",
             cf->stream_id, cf->sessions_ended);
    reply_json(req, 200,
               json_pack("{s:s, s:i, s:I}", "principal_id", cf->principal_id,
                         "sessions_ended", cf->sessions_ended, "version",
                         (json_int_t)cf->version));
done:
    if (body) {
        api_body_wipe(body, "token");
        api_body_wipe(body, "password");
        json_decref(body);
    }
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

static void
run_lookup(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"nik", NULL};
    static const char *const bools[] = {"has_nib", NULL};
    static const api_body_spec_t spec = {.known = known, .bools = bools};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL, *arr = NULL;
    oss_app_account_masked_t m[OSS_APP_RECOVERY_MAX_MATCHES];
    size_t nm = 0;
    const char *fail = NULL;
    oss_err_t err;

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
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    oss_code_t rc =
        oss_app_account_find(&ctx->app, j, nik, m, &nm, &fail, &err);
    api_body_wipe(body, "nik");
    if (rc != OSS_OK) {
        reply_fail(w, req, rc, fail);
        goto done;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < nm; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "username",
                                             m[i].username, "email", m[i].email,
                                             "phone", m[i].phone));
    oss_info("account recovery lookup matches=%zu", json_array_size(arr));
    reply_json(
        req, 200,
        json_pack("{s:b, s:O}", "has_nib", json_is_true(hn), "accounts", arr));
done:
    OPENSSL_cleanse(m, sizeof m);
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

/* Answers a help request's rejection (err of the use case). */
static void
reply_help_rejected(oss_http_req_t *req, const oss_err_t *e) {
    const char *f = e->reason[0] ? e->reason : e->field;
    if (!strcmp(f, OSS_APP_REASON_NO_REQUEST))
        oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
    else if (e->code == OSS_EINVAL && f[0])
        api_reply_field(req, 422, "invalid_fields", f, "invalid", e->msg);
    else
        oss_http_reply_error(req, 409, f[0] ? f : NULL, e->msg, NULL);
}

static void
run_help_file(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"account_id", "nik", "new_email",
                                        "evidence_ref", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    oss_app_help_file_t h = {.cfg = &g_cfg,
                             .correlation_id = oss_http_req_cid(req)};
    oss_err_t err;
    oss_field_errors_t fe = {0};
    char new_email[256] = "";

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
    if (em && (why = oss_email_normalize(em, new_email, sizeof new_email)))
        oss_field_errors_add(&fe, "new_email", why);
    if (fe.n) {
        api_body_wipe(body, "nik");
        api_body_wipe(body, "new_email");
        oss_http_reply_error(req, 422, "invalid_fields", "invalid fields", &fe);
        goto done;
    }
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    h.account_id = acc;
    h.nik = nik;
    h.new_email = new_email;
    h.evidence_ref = ev;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_help_file(&ctx->app, j, &h, &err);
    api_body_wipe(body, "nik");
    api_body_wipe(body, "new_email");
    if (rc != OSS_OK) {
        reply_fail(w, req, rc, h.fail);
        goto done;
    }
    if (h.outcome != OSS_JOURNAL_APPENDED) {
        if (oss_err_is(&h.err, OSS_APP_REASON_NO_MATCH))
            oss_http_reply_error(req, 404, "no_match", h.err.msg, NULL);
        else
            reply_help_rejected(req, &h.err);
        goto done;
    }
    oss_info("help request filed request=%s account=%s", h.request_id, acc);
    reply_json(req, 202,
               json_pack("{s:s, s:s, s:s}", "request_id", h.request_id,
                         "account_id", acc, "status", "open"));
done:
    OPENSSL_cleanse(new_email, sizeof new_email);
    if (body) {
        api_body_wipe(body, "nik");
        api_body_wipe(body, "new_email");
        json_decref(body);
    }
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

static void
run_help_decide(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"decision", "reason", NULL};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    json_t *body = NULL;
    oss_principal_t p;
    oss_err_t err;
    char region[11], request_id[OSS_UUID_STR], account_id[OSS_ID_MAX],
        principal_id[OSS_ID_MAX];
    const char *fail = NULL;

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
    oss_str_copy(request_id, sizeof request_id, oss_http_req_param(req, 0));
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_help_request_find(j, request_id, account_id,
                                              principal_id, &fail, &err);
    if (rc == OSS_ENOTFOUND) {
        oss_http_reply_error(req, 404, NULL, "no such help request", NULL);
        goto done;
    }
    if (rc != OSS_OK) {
        reply_fail(w, req, rc, fail);
        goto done;
    }
    oss_target_t t = {.account_id = account_id, .region = region};
    if (!api_account_target(w, req, account_id, region, NULL) ||
        !api_auth_allow(req, &p, OSS_ACT_HELP_DECIDE, &t))
        goto done;
    if (!(j = api_req_journal(w, req)))
        goto done;
    oss_app_help_decide_t d = {.request_id = request_id,
                               .account_id = account_id,
                               .principal_id = principal_id,
                               .decision = dec,
                               .reason = why,
                               .actor_id = p.principal_id,
                               .correlation_id = oss_http_req_cid(req)};
    oss_err_clear(&err);
    if ((rc = oss_app_help_decide(&ctx->app, j, &d, &err)) != OSS_OK) {
        reply_fail(w, req, rc, d.fail);
        goto done;
    }
    if (d.outcome != OSS_JOURNAL_APPENDED) {
        reply_help_rejected(req, &d.err);
        goto done;
    }
    oss_info("help request decided request=%s decision=%s by=%s", request_id,
             dec, p.principal_id);
    reply_json(req, 200,
               json_pack("{s:s, s:s, s:s, s:s}", "request_id", request_id,
                         "account_id", account_id, "decision", dec, "status",
                         d.approved ? "approved" : "rejected"));
done:
    json_decref(body);
}

void
api_h_help_decision(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_help_decide);
}
