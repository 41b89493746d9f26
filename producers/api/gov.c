/* Government accounts over HTTP (see gov.h): officers are principals of
 * kind "government" created by an institution's access administrator
 * (PrincipalCreated + ActivationIssued on their access stream, the grant in
 * oss.grants in the same transaction) and revoked at once (OfficerRevoked
 * and SessionEnded events with the grant and session rows updated in the
 * same transaction, so the next request with the old token is refused). */
#include "gov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "app/gov.h"
#include "auth.h"
#include "core/clock.h"
#include "core/validate.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/principal.pb-c.h"
#include "request.h"

#define TS_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

/* ---- plumbing ------------------------------------------------------------ */

static bool
valid_code(oss_http_req_t *req) {
    if (!oss_app_institution_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such institution", NULL);
        return false;
    }
    return true;
}

/* A non-empty string field, else NULL. */
static const char *
jstr(json_t *o, const char *k) {
    const char *s = api_body_str(o, k);
    return s && *s ? s : NULL;
}

/* The caller: signed in and access administrator of the path's
 * institution. Replies and returns false otherwise. */
static bool
admin_of(api_worker_t *w, oss_http_req_t *req, oss_principal_t *p) {
    oss_target_t t = {.institution = oss_http_req_param(req, 0)};
    return api_auth_require(w, req, p, NULL) &&
           api_auth_allow(req, p, OSS_ACT_OFFICERS_MANAGE, &t);
}

/* ---- POST /v1/institutions/{code}/officers ------------------------------ */

static void
run_officer_create(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {
        "nik",   "passport", "country", "name",   "birth_date", "email",
        "phone", "channel",  "sector",  "region", NULL};
    static const api_body_spec_t spec = {
        .known = known, .nulls = true, .any_length = true};
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    const char *code = oss_http_req_param(req, 0);
    oss_principal_t p;
    oss_app_person_t who;
    oss_journal_t *j;
    char *vars = NULL;
    oss_grant_t g;
    oss_field_errors_t fe = {0};
    oss_err_t err;
    json_t *body = NULL;
    bool bad;

    memset(&who, 0, sizeof who);
    memset(&g, 0, sizeof g);
    if (!admin_of(w, req, &p))
        goto done;
    if (!(body = api_body_parse_ex(req, &spec, &bad)))
        goto done;
    if (!api_person_parse(req, body, "", &who))
        goto done;
    g.role = OSS_ROLE_OFFICER;
    snprintf(g.institution, sizeof g.institution, "%s", code);
    const char *sector = jstr(body, "sector"), *region = jstr(body, "region");
    bool sector_inst = strlen(code) == 3 && strspn(code, "0123456789") == 3;
    bool region_inst = strlen(code) == 10;
    if (sector) {
        if (strlen(sector) != 3 || strspn(sector, "0123456789") != 3)
            oss_field_errors_add(&fe, "sector", "sector_invalid");
        else if (sector_inst && strcmp(sector, code))
            oss_field_errors_add(&fe, "sector", "outside_institution");
        else
            snprintf(g.sector, sizeof g.sector, "%s", sector);
    } else if (sector_inst) {
        snprintf(g.sector, sizeof g.sector, "%s", code);
    }
    if (region) {
        const char *why = oss_region_code_check(region);
        if (why)
            oss_field_errors_add(&fe, "region", why);
        else if (region_inst && !oss_authz_region_covers(code, region))
            oss_field_errors_add(&fe, "region", "outside_institution");
        else
            snprintf(g.region, sizeof g.region, "%s", region);
    } else if (region_inst) {
        snprintf(g.region, sizeof g.region, "%s", code);
    }
    if (fe.n) {
        oss_http_reply_error(req, 422, "invalid_fields", "invalid fields", &fe);
        goto done;
    }
    /* the officer is told who made it an officer (officer_created),
     * beside the activation message */
    json_t *nv = json_pack("{s:s, s:s}", "name", who.name, "institution", code);
    vars = nv ? json_dumps(nv, JSON_COMPACT) : NULL;
    json_decref(nv);
    if (!vars)
        oss_warn("no officer_created notice: out of memory");
    if (!(j = api_req_journal(w, req)))
        goto done;
    oss_app_create_t c = {.who = &who,
                          .kind = "government",
                          .grant = &g,
                          .cause = "officer",
                          .notice_kind = vars ? "officer_created" : NULL,
                          .notice_vars = vars,
                          .actor_kind = OSS_ACTOR_OFFICER,
                          .actor_id = p.principal_id,
                          .correlation_id = oss_http_req_cid(req)};
    oss_err_clear(&err);
    oss_code_t rc = oss_app_principal_create(&ctx->app, j, &c, &err);
    if (rc != OSS_OK && !c.prepared) {
        oss_error("could not prepare an officer: %s", err.msg);
        oss_http_reply_error(req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not prepare the officer", NULL);
        goto done;
    }
    if (rc != OSS_OK) {
        api_req_fail(w, req, rc, &err, "officer command");
        goto done;
    }
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        if (oss_err_is(&c.err, OSS_APP_REASON_OFFICER_EXISTS)) {
            /* the institution's officer claim (no event was written) */
            oss_field_errors_add(&fe, c.err.field, "officer_exists");
            oss_http_reply_error(req, 409, "officer_exists",
                                 "this person already has an officer account "
                                 "in this institution",
                                 &fe);
            goto done;
        }
        int st = oss_http_status_for(c.err.code);
        oss_http_reply_error(req, st, NULL, c.err.msg, NULL);
        goto done;
    }
    oss_info("officer created principal=%s institution=%s by=%s",
             c.principal_id, code, p.principal_id);
    char loc[160];
    snprintf(loc, sizeof loc, "/v1/institutions/%s/officers/%s", code,
             c.principal_id);
    const char *hdrs[] = {"Location", loc, NULL};
    api_reply_obj(req, 201,
                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                            "principal_id", c.principal_id, "institution", code,
                            "role", "officer", "sector", g.sector, "region",
                            g.region, "status", "pending_activation",
                            "activation_channel", who.channel),
                  hdrs);
done:
    memset(&who, 0, sizeof who);
    if (vars) {
        memset(vars, 0, strlen(vars));
        free(vars);
    }
    json_decref(body);
}

void
api_h_officer_create(oss_http_req_t *req, void *arg) {
    if (valid_code(req))
        api_req_submit(arg, req, run_officer_create);
}

/* ---- GET /v1/institutions/{code}/officers ------------------------------- */

static void
run_officers_list(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    const char *code = oss_http_req_param(req, 0);
    oss_principal_t p;

    if (!admin_of(w, req, &p))
        return;
    const char *v[] = {code};
    PGresult *r = api_req_query(
        w, req, "officers query",
        "SELECT g.principal_id, g.role, coalesce(g.sector, ''), "
        "coalesce(g.region, ''), to_char(g.granted_at AT TIME ZONE "
        "'UTC', " TS_FMT "), to_char(g.revoked_at AT TIME ZONE 'UTC', " TS_FMT
        "), "
        "coalesce(g.revoke_reason, ''), EXISTS (SELECT 1 FROM "
        "oss.credentials c WHERE c.stream_id = 'access-' || g.principal_id) "
        "FROM oss.grants g WHERE g.institution = $1 AND g.role IN "
        "('officer', 'access_admin') ORDER BY g.granted_at, g.grant_id",
        1, v, API_REQ_ROWS);
    if (!r)
        return;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        bool revoked = !PQgetisnull(r, i, 5);
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s}", "principal_id",
            PQgetvalue(r, i, 0), "role", PQgetvalue(r, i, 1), "sector",
            PQgetvalue(r, i, 2), "region", PQgetvalue(r, i, 3), "granted_at",
            PQgetvalue(r, i, 4), "status",
            revoked                         ? "revoked"
            : PQgetvalue(r, i, 7)[0] == 't' ? "active"
                                            : "pending_activation");
        if (o && revoked) {
            json_object_set_new(o, "revoked_at",
                                json_string(PQgetvalue(r, i, 5)));
            json_object_set_new(o, "revoke_reason",
                                json_string(PQgetvalue(r, i, 6)));
        }
        if (o)
            json_array_append_new(arr, o);
    }
    PQclear(r);
    api_reply_obj(req, 200,
                  json_pack("{s:s, s:o}", "institution", code, "officers", arr),
                  NULL);
}

void
api_h_officers_list(oss_http_req_t *req, void *arg) {
    if (valid_code(req))
        api_req_submit(arg, req, run_officers_list);
}

/* ---- DELETE /v1/institutions/{code}/officers/{principal_id} ------------- */

static void
run_officer_revoke(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const api_body_spec_t spec = {
        .known = known, .optional = true, .nulls = true, .any_length = true};
    oss_http_req_t *req = job->req;
    const char *code = oss_http_req_param(req, 0);
    const char *pid = oss_http_req_param(req, 1);
    oss_principal_t p;
    oss_app_revoke_t rv = {0};
    oss_journal_t *j;
    oss_err_t err;
    json_t *body = NULL;
    bool bad;

    if (!admin_of(w, req, &p))
        goto done;
    body = api_body_parse_ex(req, &spec, &bad);
    if (bad)
        goto done;
    const char *reason =
        body && jstr(body, "reason") ? jstr(body, "reason") : "authority_lost";
    if (!oss_app_reason_valid(reason)) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "reason", "invalid");
        oss_http_reply_error(req, 422, "invalid_fields",
                             "reason must be 1-200 printable characters", &fe);
        goto done;
    }
    if (!(j = api_req_journal(w, req)))
        goto done;
    rv.principal_id = pid;
    rv.institution = code;
    rv.reason = reason;
    rv.actor_kind = OSS_ACTOR_OFFICER;
    rv.actor_id = p.principal_id;
    rv.correlation_id = oss_http_req_cid(req);
    oss_err_clear(&err);
    oss_code_t rc = oss_app_principal_revoke(j, &rv, &err);
    if (rc != OSS_OK) {
        api_req_fail(w, req, rc, &err, "officer command");
        goto done;
    }
    if (rv.outcome != OSS_JOURNAL_APPENDED) {
        oss_http_reply_error(req, oss_http_status_for(rv.err.code), NULL,
                             rv.err.msg, NULL);
        goto done;
    }
    oss_info("officer revoked principal=%s institution=%s by=%s sessions=%zu",
             pid, code, p.principal_id, rv.sessions);
    api_reply_obj(req, 200,
                  json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "principal_id",
                            pid, "institution", code, "status", "revoked",
                            "reason", reason, "grants_revoked", (int)rv.grants,
                            "sessions_ended", (json_int_t)rv.sessions),
                  NULL);
done:
    json_decref(body);
}

void
api_h_officer_revoke(oss_http_req_t *req, void *arg) {
    if (!valid_code(req))
        return;
    if (!oss_app_id_valid(oss_http_req_param(req, 1))) {
        oss_http_reply_error(req, 404, NULL, "no such officer", NULL);
        return;
    }
    api_req_submit(arg, req, run_officer_revoke);
}

/* ---- GET /v1/me -----------------------------------------------------------
 */

static void
run_me(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    oss_principal_t p;
    char sid[OSS_UUID_STR] = "";

    if (!api_auth_require(w, req, &p, sid))
        return;
    const char *v[] = {p.principal_id};
    PGresult *r = api_req_query(w, req, "officers query",
                                "SELECT kind FROM oss.principals WHERE "
                                "principal_id = $1",
                                1, v, API_REQ_ROWS);
    if (!r)
        return;
    /* a first owner registered before oss.principals is a business user */
    char kind[16];
    snprintf(kind, sizeof kind, "%s",
             PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "business");
    PQclear(r);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p.ngrants; i++) {
        const oss_grant_t *g = &p.grants[i];
        json_t *o = json_pack("{s:s}", "role", oss_role_name(g->role));
        if (!o)
            continue;
        if (g->account_id[0])
            json_object_set_new(o, "account_id", json_string(g->account_id));
        if (g->institution[0])
            json_object_set_new(o, "institution", json_string(g->institution));
        if (g->sector[0])
            json_object_set_new(o, "sector", json_string(g->sector));
        if (g->region[0])
            json_object_set_new(o, "region", json_string(g->region));
        json_array_append_new(arr, o);
    }
    api_reply_obj(req, 200,
                  json_pack("{s:s, s:s, s:s, s:o}", "principal_id",
                            p.principal_id, "kind", kind, "session_id", sid,
                            "grants", arr),
                  NULL);
}

void
api_h_me(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_me);
}
