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

#include "auth.h"
#include "core/clock.h"
#include "core/validate.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/principal.pb-c.h"
#include "request.h"

#define TS_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

bool
api_institution_valid(const char *c) {
    size_t n = c ? strlen(c) : 0;
    if (n && !strcmp(c, "oss"))
        return true;
    if (n == 3 || n == 10) {
        for (size_t i = 0; i < n; i++)
            if (c[i] < '0' || c[i] > '9')
                return false;
        return true;
    }
    if (n > 4 && n <= 15 && !strncmp(c, "kek-", 4)) {
        for (size_t i = 4; i < n; i++)
            if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9')))
                return false;
        return true;
    }
    return false;
}

/* ---- plumbing ------------------------------------------------------------ */

static bool
valid_code(oss_http_req_t *req) {
    if (!api_institution_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such institution", NULL);
        return false;
    }
    return true;
}

/* Runs cmds in one transaction; replies 503/500 and returns false when it
 * did not commit. */
static bool
execute(api_worker_t *w, oss_http_req_t *req, oss_command_t *cmds, size_t n) {
    return api_req_execute(w, req, cmds, n, 1, "officer command");
}

/* A non-empty string field, else NULL. */
static const char *
jstr(json_t *o, const char *k) {
    const char *s = api_body_str(o, k);
    return s && *s ? s : NULL;
}

/* Reason text: 1-200 printable characters. */
static bool
reason_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
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
    api_person_t who;
    api_principal_new_t pn = {0};
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
    oss_err_clear(&err);
    if (api_principal_prepare(ctx, &who, "government", &g, "officer", &pn,
                              &err) != OSS_OK) {
        oss_error("could not prepare an officer: %s", err.msg);
        oss_http_reply_error(req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not prepare the officer", NULL);
        goto done;
    }
    {
        /* the officer is told who made it an officer (officer_created),
         * beside the activation message */
        json_t *nv =
            json_pack("{s:s, s:s}", "name", who.name, "institution", code);
        char *vars = nv ? json_dumps(nv, JSON_COMPACT) : NULL;
        json_decref(nv);
        oss_err_clear(&err);
        if (!vars ||
            api_principal_notice(&pn, "officer_created", vars, &err) != OSS_OK)
            oss_warn("no officer_created notice: out of memory");
        if (vars) {
            memset(vars, 0, strlen(vars));
            free(vars);
        }
    }
    pn.cmd.actor_kind = OSS_ACTOR_OFFICER;
    pn.cmd.actor_id = p.principal_id;
    pn.cmd.correlation_id = oss_http_req_cid(req);
    if (!execute(w, req, &pn.cmd, 1))
        goto done;
    if (pn.cmd.outcome != OSS_JOURNAL_APPENDED) {
        if (pn.cmd.err.code == OSS_EDUPLICATE &&
            (!strcmp(pn.cmd.err.field, "nik") ||
             !strcmp(pn.cmd.err.field, "passport"))) {
            /* the institution's officer claim (no event was written) */
            oss_field_errors_add(&fe, pn.cmd.err.field, "officer_exists");
            oss_http_reply_error(req, 409, "officer_exists",
                                 "this person already has an officer account "
                                 "in this institution",
                                 &fe);
            goto done;
        }
        int st = oss_http_status_for(pn.cmd.err.code);
        oss_http_reply_error(req, st, NULL, pn.cmd.err.msg, NULL);
        goto done;
    }
    oss_info("officer created principal=%s institution=%s by=%s",
             pn.principal_id, code, p.principal_id);
    char loc[160];
    snprintf(loc, sizeof loc, "/v1/institutions/%s/officers/%s", code,
             pn.principal_id);
    const char *hdrs[] = {"Location", loc, NULL};
    api_reply_obj(req, 201,
                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                            "principal_id", pn.principal_id, "institution",
                            code, "role", "officer", "sector", g.sector,
                            "region", g.region, "status", "pending_activation",
                            "activation_channel", who.channel),
                  hdrs);
done:
    memset(&who, 0, sizeof who);
    api_principal_clear(&pn);
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

typedef struct revoke {
    const char *principal_id;
    const char *institution;
    const char *reason;
    int grants; /* active officer grants in the institution, as
                   decided on the loaded stream */
    int64_t now;
    size_t sessions_ended;
} revoke_t;

static oss_code_t
revoke_decide(void *vctx, const oss_event_t *history, size_t n,
              oss_event_list_t *out, oss_err_t *err) {
    revoke_t *rv = vctx;
    Oss__V1__OfficerRevoked m = OSS__V1__OFFICER_REVOKED__INIT;
    oss_grant_t g[OSS_AUTHZ_MAX_GRANTS];
    size_t ng = api_access_grants_fold(history, n, g, OSS_AUTHZ_MAX_GRANTS);

    /* decided on the stream as loaded (two concurrent revocations: the
     * second one decides again after the first and finds nothing) */
    rv->grants = 0;
    for (size_t i = 0; i < ng; i++)
        if (g[i].role == OSS_ROLE_OFFICER &&
            !strcmp(g[i].institution, rv->institution))
            rv->grants++;
    if (rv->grants == 0)
        return oss_err_field(err, OSS_ENOTFOUND, "principal_id",
                             "no active officer with this id in this "
                             "institution");
    m.principal_id = (char *)rv->principal_id;
    m.institution = (char *)rv->institution;
    m.reason = (char *)rv->reason;
    m.grants_revoked = rv->grants;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
             API_T_OFFICER_REVOKED);
    ev->schema_version = 1;
    ev->reason = strdup(rv->reason);
    ev->payload_len = oss__v1__officer_revoked__get_packed_size(&m);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    if (!ev->payload || !ev->reason)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss__v1__officer_revoked__pack(&m, ev->payload);
    /* every open session ends with it (the rows are revoked in extra) */
    return api_sessions_end_all(history, n, rv->principal_id, rv->now,
                                "officer_revoked", out, &rv->sessions_ended,
                                err);
}

static oss_code_t
revoke_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
             void *qctx, oss_err_t *err) {
    revoke_t *rv = vctx;
    (void)cmd;
    const char *v[] = {rv->principal_id, rv->institution, rv->reason};
    if (q(qctx,
          "UPDATE oss.grants SET revoked_at = now(), revoke_reason = $3 "
          "WHERE principal_id = $1 AND institution = $2 AND role = 'officer' "
          "AND revoked_at IS NULL",
          3, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    /* the person may be made an officer of the institution again later */
    char stream[OSS_ID_MAX];
    snprintf(stream, sizeof stream, API_ACCESS_STREAM_PREFIX "%s",
             rv->principal_id);
    const char *cv[] = {stream};
    if (q(qctx,
          "DELETE FROM oss.identity_claims WHERE kind = '" API_CLAIM_OFFICER
          "' AND stream_id = $1",
          1, cv, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    oss_code_t rc = api_sessions_queue_revoke(q, qctx, rv->principal_id,
                                              "officer_revoked", false, err);
    /* no other grant left: the credentials go too */
    if (rc == OSS_OK)
        rc = api_credentials_queue_drop_if_ungranted(q, qctx, rv->principal_id,
                                                     err);
    return rc;
}

static void
run_officer_revoke(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const api_body_spec_t spec = {
        .known = known, .optional = true, .nulls = true, .any_length = true};
    oss_http_req_t *req = job->req;
    const char *code = oss_http_req_param(req, 0);
    const char *pid = oss_http_req_param(req, 1);
    oss_principal_t p;
    oss_command_t c = {0};
    revoke_t rv = {0};
    char stream[OSS_ID_MAX];
    json_t *body = NULL;
    bool bad;

    if (!admin_of(w, req, &p))
        goto done;
    body = api_body_parse_ex(req, &spec, &bad);
    if (bad)
        goto done;
    rv.reason =
        body && jstr(body, "reason") ? jstr(body, "reason") : "authority_lost";
    if (!reason_ok(rv.reason)) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "reason", "invalid");
        oss_http_reply_error(req, 422, "invalid_fields",
                             "reason must be 1-200 printable characters", &fe);
        goto done;
    }
    rv.principal_id = pid;
    rv.institution = code;
    rv.now = oss_now_us();
    snprintf(stream, sizeof stream, API_ACCESS_STREAM_PREFIX "%s", pid);
    c.stream_id = stream;
    c.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_OFFICER;
    c.actor_id = p.principal_id;
    c.correlation_id = oss_http_req_cid(req);
    c.decide = revoke_decide;
    c.ctx = &rv;
    c.extra_fn = revoke_extra;
    for (int attempt = 0; attempt < 3; attempt++) {
        oss_event_list_free(&c.events);
        if (!execute(w, req, &c, 1))
            goto done;
        if (!(c.outcome == OSS_JOURNAL_REJECTED &&
              c.err.code == OSS_ECONFLICT && !c.err.field[0]))
            break;
    }
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        oss_http_reply_error(req, oss_http_status_for(c.err.code), NULL,
                             c.err.msg, NULL);
        goto done;
    }
    oss_info("officer revoked principal=%s institution=%s by=%s sessions=%zu",
             pid, code, p.principal_id, rv.sessions_ended);
    api_reply_obj(req, 200,
                  json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "principal_id",
                            pid, "institution", code, "status", "revoked",
                            "reason", rv.reason, "grants_revoked", rv.grants,
                            "sessions_ended", (json_int_t)rv.sessions_ended),
                  NULL);
done:
    oss_event_list_free(&c.events);
    json_decref(body);
}

void
api_h_officer_revoke(oss_http_req_t *req, void *arg) {
    if (!valid_code(req))
        return;
    if (!api_account_id_valid(oss_http_req_param(req, 1))) {
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
