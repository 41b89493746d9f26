/* Terms of use over HTTP (see terms.h): GET /v1/terms and POST
 * /v1/accounts/{id}/terms-acceptance (the use case: src/app/terms.c). */
#include "terms.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "app/terms.h"
#include "auth.h"
#include "core/clock.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "request.h"

/* ---- helpers --------------------------------------------------------------
 */

/* ---- GET /v1/terms ----------------------------------------------------------
 */

static void
run_list(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    oss_err_t err;
    PGconn *c = api_req_conn(w, req);
    if (!c)
        return;
    PGresult *r = PQexec(
        c, "SELECT version, to_char(published_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), url, sha256, published_at <= "
           "now() FROM oss.terms_versions ORDER BY published_at");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        bool lost = oss_db_conn_lost(c, r);
        oss_err_clear(&err);
        oss_db_error(c, r, "read the terms of use versions", &err);
        oss_warn("%s", err.msg);
        PQclear(r);
        if (lost)
            oss_app_worker_reset(w);
        oss_http_reply_error(req, lost ? 503 : 500, NULL,
                             "could not read the terms of use", NULL);
        return;
    }
    json_t *versions = json_array();
    const char *current = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        bool published = PQgetvalue(r, i, 4)[0] == 't';
        if (published)
            current = PQgetvalue(r, i, 0);
        json_array_append_new(
            versions,
            json_pack("{s:s, s:s, s:s, s:s, s:b}", "version",
                      PQgetvalue(r, i, 0), "published_at", PQgetvalue(r, i, 1),
                      "url", PQgetvalue(r, i, 2), "sha256", PQgetvalue(r, i, 3),
                      "in_force", published));
    }
    json_t *o =
        json_pack("{s:s?, s:o}", "current", current, "versions", versions);
    PQclear(r);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) {
        oss_http_reply_error(req, 500, NULL, "could not encode", NULL);
        return;
    }
    oss_http_reply_json(req, 200, body, NULL);
}

void
api_h_terms_list(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_list);
}

/* ---- POST /v1/accounts/{id}/terms-acceptance ------------------------------
 */

static void
run_accept(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    const char *id = oss_http_req_param(req, 0);
    json_t *body = NULL;
    oss_principal_t p;
    char region[11];
    bool restricted = false;
    oss_app_terms_accept_t a = {0};
    oss_err_t err;
    size_t len;
    const char *raw = oss_http_req_body(req, &len);
    json_error_t jerr;

    /* authenticate and authorize before reading anything else */
    if (!api_auth_require(w, req, &p, NULL))
        goto done;
    if (!api_account_target(w, req, id, region, &restricted))
        goto done;
    oss_target_t t = {
        .account_id = id, .region = region, .restricted = restricted};
    if (!api_auth_allow(req, &p, OSS_ACT_MEMBERS_MANAGE, &t))
        goto done;

    body = len ? json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!body || !json_is_object(body)) {
        oss_http_reply_error(req, 400, "malformed_json",
                             "request body must be a JSON object", NULL);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        if (strcmp(key, "version") != 0) {
            api_reply_field(req, 422, "invalid_fields",
                            strlen(key) < 40 ? key : "?",
                            OSS_REASON_UNKNOWN_FIELD, "unknown field");
            goto done;
        }
    }
    json_t *v = json_object_get(body, "version");
    if (v && !json_is_string(v)) {
        api_reply_field(req, 422, "invalid_fields", "version",
                        OSS_REASON_MUST_BE_STRING, "version must be a string");
        goto done;
    }
    a.version = json_string_value(v);
    const char *why = oss_terms_version_check(a.version);
    if (why) {
        api_reply_field(req, 422, "invalid_fields", "version", why,
                        "version names no terms of use version");
        goto done;
    }
    PGconn *conn = api_req_conn(w, req);
    if (!conn)
        goto done;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_terms_lookup(conn, a.version, a.sha256, &err);
    if (rc == OSS_ENOTFOUND) {
        api_reply_field(req, 422, "invalid_fields", "version",
                        "unknown_version", err.msg);
        goto done;
    } else if (rc != OSS_OK) {
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        goto done;
    }

    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        goto done;
    a.account_id = id;
    a.principal_id = p.principal_id;
    a.correlation_id = oss_http_req_cid(req);
    oss_err_clear(&err);
    if ((rc = oss_app_terms_accept(j, &a, &err)) != OSS_OK) {
        if (rc == OSS_ENOMEM)
            oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        else
            api_req_fail(w, req, rc, &err, "terms acceptance");
        goto done;
    }
    if (a.outcome != OSS_JOURNAL_APPENDED) {
        if (oss_err_is(&a.err, OSS_APP_REASON_ALREADY_ACCEPTED))
            api_reply_field(req, 409, "already_accepted", "version",
                            "already_accepted", a.err.msg);
        else if (oss_err_is(&a.err, OSS_APP_REASON_NOT_REGISTERED))
            oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        else
            oss_http_reply_error(req, oss_http_status_for(a.err.code), NULL,
                                 a.err.msg, NULL);
        goto done;
    }
    oss_info("terms accepted account=%s version=%s", id, a.version);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "account_id", id,
                          "terms_version", a.version, "sha256", a.sha256,
                          "version", (json_int_t)a.last_version);
    oss_http_reply_json(req, 201, o ? json_dumps(o, JSON_COMPACT) : NULL, NULL);
    json_decref(o);
done:
    json_decref(body);
}

void
api_h_terms_accept(oss_http_req_t *req, void *arg) {
    /* authentication first (401), then the account (404: api_account_target
     * checks the id's form too) */
    api_req_submit(arg, req, run_accept);
}
