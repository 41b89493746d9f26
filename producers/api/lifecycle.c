/* The account lifecycle over HTTP: activation (issued with a registration,
 * resend, verify by OTP or link), password, sign-in and sessions. The use
 * cases are in src/app/account_lifecycle.c (rules in src/core/lifecycle.c);
 * this shell parses requests, reads the caller's Bearer token, calls them
 * and maps their outcome to answers.
 *
 * Secrets (OTP, link token, password, session token) live only in request
 * memory, are wiped after use and never logged. */
#include "api.h"
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/account_lifecycle.h"
#include "core/utc.h"
#include "log/log.h"
#include "ratelimit.h"
#include "request.h"

/* ---- answers ------------------------------------------------------------- */

/* Answers a use case that did not return OSS_OK (rc, err, where r->failed_at
 * says). */
static void
reply_failed(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
             const oss_err_t *err, const oss_app_lc_result_t *r) {
    static const char *const msg[] = {
        [OSS_APP_LC_AT_READ] = "could not read",
        [OSS_APP_LC_AT_ACCOUNT] = "could not read the account",
        [OSS_APP_LC_AT_WRAPPED_KEY] = "bad wrapped key",
        [OSS_APP_LC_AT_UNWRAP] = "could not unwrap the key",
        [OSS_APP_LC_AT_PREPARE] = "could not prepare",
        [OSS_APP_LC_AT_HASH] = "could not hash",
        [OSS_APP_LC_AT_RANDOM] = "no randomness",
    };
    if (r->failed_at == OSS_APP_LC_AT_APPEND) {
        api_req_fail(w, req, rc, err, "lifecycle command");
        return;
    }
    if (rc == OSS_EUNAVAIL) {
        oss_app_worker_reset(w);
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        return;
    }
    oss_http_reply_error(req, 500, NULL, msg[r->failed_at], NULL);
}

/* Maps a rejected lifecycle command to its answer. */
static void
reply_rejected(oss_http_req_t *req, const oss_app_lc_result_t *r) {
    const oss_err_t *e = &r->err;
    const char *why = e->reason[0] ? e->reason : e->field;
    if (!strcmp(why, "rate_limited") || !strcmp(why, "throttled")) {
        api_reply_429(req, r->retry_after_us, why, e->msg);
    } else if (!strcmp(why, "not_registered")) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
    } else if (!strcmp(why, "locked")) {
        oss_http_reply_error(req, 423, "locked", e->msg, NULL);
    } else if (!strcmp(why, "expired")) {
        oss_http_reply_error(req, 410, "expired", e->msg, NULL);
    } else if (!strcmp(why, "unauthenticated")) {
        oss_http_reply_error(req, 401, "unauthenticated", e->msg, NULL);
    } else if (!strcmp(why, OSS_APP_LC_REASON_INVALID_CREDENTIALS)) {
        oss_http_reply_error(req, 401, why, e->msg, NULL);
    } else if (!strcmp(why, OSS_APP_LC_REASON_FORBIDDEN)) {
        oss_http_reply_error(req, 403, why, e->msg, NULL);
    } else if (!strcmp(why, OSS_APP_LC_REASON_RESTRICTED)) {
        oss_http_reply_error(req, 403, why, OSS_API_RESTRICTED_MSG, NULL);
    } else if (!strcmp(why, OSS_APP_LC_REASON_AMBIGUOUS)) {
        api_reply_field(req, 409, why, e->field, why, e->msg);
    } else if (!strcmp(why, "no_session")) {
        oss_http_reply_error(req, 404, NULL, "no such session", NULL);
    } else if (e->code == OSS_EINVAL && e->reason[0] && e->field[0]) {
        api_reply_field(req, 422, "invalid_fields", e->field, e->reason,
                        e->msg);
    } else if (e->code == OSS_EINVAL && why[0]) {
        api_reply_field(req, 422, "invalid_fields", why, "invalid", e->msg);
    } else if (why[0]) {
        oss_http_reply_error(req, 409, why, e->msg, NULL);
    } else {
        int st = oss_http_status_for(e->code);
        oss_http_reply_error(req, st, NULL, e->msg, NULL);
    }
}

/* True when the use case appended; else answered (failure or refusal). */
static bool
appended(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
         const oss_err_t *err, const oss_app_lc_result_t *r) {
    if (rc != OSS_OK) {
        reply_failed(w, req, rc, err, r);
        return false;
    }
    if (r->outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(req, r);
        return false;
    }
    return true;
}

static oss_app_t *
app_of(api_worker_t *w) {
    return &api_worker_ctx(w)->app;
}

/* The caller's open session from its Authorization: Bearer token. Replies
 * 401 (or 503/500) and returns false otherwise. */
static bool
authenticate(api_worker_t *w, oss_http_req_t *req, oss_app_session_t *s) {
    const char *h = oss_http_req_header(req, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) < 16 ||
        strlen(h + 7) > 128) {
        oss_http_reply_error(req, 401, "unauthenticated",
                             "a session token is required (Authorization: "
                             "Bearer ...)",
                             NULL);
        return false;
    }
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        return false;
    oss_err_t err;
    bool found = false;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_session_find(app_of(w), j, h + 7, &found, s, &err);
    if (rc != OSS_OK) {
        oss_app_lc_result_t r = {.failed_at = OSS_APP_LC_AT_READ};
        reply_failed(w, req, rc, &err, &r);
        return false;
    }
    if (!found) {
        oss_http_reply_error(req, 401, "unauthenticated",
                             "the session token is unknown, expired or "
                             "ended",
                             NULL);
        return false;
    }
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

static void
run_resend(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"channel", NULL};
    json_t *body = NULL;
    oss_app_resend_t a = {0};
    oss_err_t err;

    if (!(body = api_body_parse(job->req, known)))
        goto done;
    const char *ch = api_body_str(body, "channel");
    if (!ch)
        ch = "email";
    if (strcmp(ch, "email") && strcmp(ch, "whatsapp")) {
        api_reply_field(job->req, 422, "invalid_fields", "channel", "invalid",
                        "channel must be email or whatsapp");
        goto done;
    }
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    a.principal_id = oss_http_req_param(job->req, 0);
    a.channel = ch;
    a.correlation_id = oss_http_req_cid(job->req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_activation_resend(app_of(w), j, &a, &err);
    if (!appended(w, job->req, rc, &err, &a.r))
        goto done;
    oss_info("activation resent stream=%s channel=%s", a.r.stream_id, ch);
    char exp[40];
    oss_utc_format(a.expires_at_us, 6, exp, sizeof exp);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "delivery_id", a.delivery_id,
                          "channel", ch, "expires_at", exp, "version",
                          (json_int_t)a.r.version);
    oss_http_reply_json(job->req, 202, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    json_decref(body);
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
    json_t *body = NULL;
    oss_app_activate_t a = {0};
    oss_err_t err;

    if (!(body = api_body_parse(job->req, known)))
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
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    a.principal_id = oss_http_req_param(job->req, 0);
    a.otp = otp;
    a.token = token;
    a.correlation_id = oss_http_req_cid(job->req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_activate(app_of(w), j, &a, &err);
    api_body_wipe(body, "otp");
    api_body_wipe(body, "token");
    if (!appended(w, job->req, rc, &err, &a.r))
        goto done;
    switch (a.verify) {
    case OSS_LC_VERIFY_OK: {
        oss_info("account activated stream=%s", a.r.stream_id);
        json_t *o =
            json_pack("{s:s, s:s, s:I}", "account_id", a.principal_id, "status",
                      "active", "version", (json_int_t)a.r.version);
        oss_http_reply_json(job->req, 200,
                            o ? json_dumps(o, JSON_COMPACT) : NULL, NULL);
        json_decref(o);
        break;
    }
    case OSS_LC_VERIFY_WRONG:
        oss_info("activation code refused stream=%s", a.r.stream_id);
        api_reply_field(job->req, 422, "wrong_code", otp ? "otp" : "token",
                        "wrong", "the code is not right");
        break;
    case OSS_LC_VERIFY_LOCKED_NOW:
        oss_info("activation locked stream=%s", a.r.stream_id);
        oss_http_reply_error(job->req, 423, "locked",
                             "too many wrong codes: activation is locked; "
                             "request a new code",
                             NULL);
        break;
    }
done:
    if (body) {
        api_body_wipe(body, "otp");
        api_body_wipe(body, "token");
    }
    json_decref(body);
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
    json_t *body = NULL;
    oss_app_password_t p = {0};
    oss_app_session_t s;
    oss_err_t err;

    if (!(body = api_body_parse(job->req, known)))
        goto done;
    const char *pw = api_body_str(body, "password");
    /* the policy's 422 comes before any authentication answer */
    const char *why = oss_app_lc_password_policy(app_of(w), pw);
    if (why) {
        api_reply_field(job->req, 422, "invalid_fields", "password", why,
                        "the password does not meet the policy: at least "
                        "8 characters with letters, digits and a special "
                        "character, not a common password");
        goto done;
    }
    if (oss_http_req_header(job->req, "Authorization")) {
        if (!authenticate(w, job->req, &s))
            goto done;
        p.caller = s.principal_id;
    }
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    p.principal_id = oss_http_req_param(job->req, 0);
    p.password = pw;
    p.correlation_id = oss_http_req_cid(job->req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_password_set(app_of(w), j, &p, &err);
    api_body_wipe(body, "password");
    if (!appended(w, job->req, rc, &err, &p.r))
        goto done;
    oss_info("password set stream=%s", p.r.stream_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
done:
    if (body)
        api_body_wipe(body, "password");
    json_decref(body);
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
    json_t *body = NULL;
    oss_app_signin_t s = {0};
    oss_err_t err;

    if (!(body = api_body_parse(job->req, known)))
        goto done;
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    s.principal_id = api_body_str(body, "account_id");
    if (!s.principal_id) /* any principal; account_id = a first owner's */
        s.principal_id = api_body_str(body, "principal_id");
    s.email = api_body_str(body, "email");
    s.password = api_body_str(body, "password");
    s.source = oss_http_req_peer(job->req);
    s.correlation_id = oss_http_req_cid(job->req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_sign_in(app_of(w), j, &s, &err);
    api_body_wipe(body, "password");
    if (!appended(w, job->req, rc, &err, &s.r))
        goto done;
    if (!s.signed_in) {
        oss_info("sign-in failed stream=%s", s.r.stream_id);
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    char exp[40];
    oss_utc_format(s.expires_at_us, 6, exp, sizeof exp);
    oss_info("signed in stream=%s session=%s", s.r.stream_id, s.session_id);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", s.token, "session_id",
                  s.session_id, "account_id", s.principal_id_out,
                  "principal_id", s.principal_id_out, "expires_at", exp);
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    oss_http_reply_json(job->req, 201, out, NULL);
done:
    oss_app_signin_clear(&s);
    if (body)
        api_body_wipe(body, "password");
    json_decref(body);
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
    oss_app_session_t me;
    oss_app_sessions_t list = {0};
    oss_err_t err;

    if (!authenticate(w, job->req, &me))
        return;
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        return;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_sessions_list(j, me.principal_id, &list, &err);
    if (rc != OSS_OK) {
        oss_app_lc_result_t r = {.failed_at = OSS_APP_LC_AT_READ};
        if (rc == OSS_ENOMEM)
            oss_http_reply_error(job->req, 500, NULL, "out of memory", NULL);
        else
            reply_failed(w, job->req, rc, &err, &r);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list.n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:b}", "session_id",
                           list.items[i].session_id, "created_at",
                           list.items[i].created_at, "expires_at",
                           list.items[i].expires_at, "current",
                           !strcmp(list.items[i].session_id, me.session_id)));
    oss_app_sessions_free(&list);
    json_t *o =
        json_pack("{s:s, s:o}", "account_id", me.principal_id, "sessions", arr);
    oss_http_reply_json(job->req, 200, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
}

void
api_h_sessions_list(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_sessions_list);
}

/* ---- DELETE /v1/sessions/{id} ------------------------------------------- */

static void
run_session_end(api_worker_t *w, api_job_t *job) {
    oss_app_session_t me;
    oss_app_session_end_t e = {0};
    oss_err_t err;

    if (!authenticate(w, job->req, &me))
        return;
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        return;
    e.principal_id = me.principal_id;
    e.session_id = oss_http_req_param(job->req, 0);
    e.correlation_id = oss_http_req_cid(job->req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_session_end(app_of(w), j, &e, &err);
    if (!appended(w, job->req, rc, &err, &e.r))
        return;
    oss_info("session ended stream=%s session=%s", e.r.stream_id, e.session_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
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
