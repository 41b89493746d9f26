/* Request plumbing shared by the API's route files (see request.h). */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/validate.h"
#include "crypto/subject.h"
#include "db/db.h"
#include "log/log.h"

#define UNAVAILABLE "the database is unavailable; retry later"

/* ---- queueing ------------------------------------------------------------ */

static void
job_run(oss_app_worker_t *w, oss_app_job_t *base) {
    api_job_t *job = (api_job_t *)base;
    job->run(w, job);
}

static void
job_cancel(oss_app_job_t *base) {
    oss_http_reply_error(((api_job_t *)base)->req, 503, NULL,
                         "the server is stopping", NULL);
}

api_job_t *
api_req_job_new(oss_http_req_t *req, api_run_fn run) {
    api_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return NULL;
    }
    j->base.run = job_run;
    j->base.cancel = job_cancel;
    j->base.cid = oss_http_req_cid(req);
    j->req = req;
    j->run = run;
    return j;
}

void
api_pool_submit(api_pool_t *p, api_job_t *job) {
    if (!job->base.cancel)
        job->base.cancel = job_cancel;
    if (!job->base.cid)
        job->base.cid = oss_http_req_cid(job->req);
    oss_app_pool_submit(p, &job->base);
}

api_ctx_t *
api_worker_ctx(api_worker_t *w) {
    return oss_app_worker_ctx(w);
}

void
api_req_submit(api_ctx_t *ctx, oss_http_req_t *req, api_run_fn run) {
    api_job_t *j = api_req_job_new(req, run);
    if (j)
        api_pool_submit(ctx->pool, j);
}

void
api_req_submit_lc(api_ctx_t *ctx, oss_http_req_t *req, api_run_fn run) {
    if (!ctx->app.lc) {
        oss_http_reply_error(req, 503, NULL,
                             "the account lifecycle is not configured "
                             "(crypto.otp_key_file)",
                             NULL);
        return;
    }
    api_req_submit(ctx, req, run);
}

/* ---- the worker's database ----------------------------------------------- */

oss_journal_t *
api_req_journal(api_worker_t *w, oss_http_req_t *req) {
    oss_err_t err;
    oss_err_clear(&err);
    oss_journal_t *j = oss_app_worker_journal(w, &err);
    if (!j)
        oss_http_reply_error(req, 503, NULL, UNAVAILABLE, NULL);
    return j;
}

PGconn *
api_req_conn(api_worker_t *w, oss_http_req_t *req) {
    oss_journal_t *j = api_req_journal(w, req);
    return j ? oss_journal_conn(j) : NULL;
}

PGresult *
api_req_query(api_worker_t *w, oss_http_req_t *req, const char *what,
              const char *sql, int n, const char *const *params,
              unsigned accept) {
    PGconn *c = api_req_conn(w, req);
    if (!c)
        return NULL;
    return api_req_result(w, req, what, c,
                          PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0),
                          accept);
}

PGresult *
api_req_result(api_worker_t *w, oss_http_req_t *req, const char *what,
               PGconn *c, PGresult *r, unsigned accept) {
    ExecStatusType st = PQresultStatus(r);
    if (((accept & API_REQ_ROWS) && st == PGRES_TUPLES_OK) ||
        ((accept & API_REQ_CMD) && st == PGRES_COMMAND_OK))
        return r;
    oss_err_t err;
    oss_err_clear(&err);
    bool lost = oss_db_conn_lost(c, r);
    oss_db_error(c, r, what, &err);
    PQclear(r);
    oss_warn("%s", err.msg);
    if (lost)
        oss_app_worker_reset(w);
    oss_http_reply_error(req, lost ? 503 : 500, NULL,
                         lost ? UNAVAILABLE : "could not read", NULL);
    return NULL;
}

void
api_req_fail(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
             const oss_err_t *err, const char *what) {
    oss_warn("%s not appended: %s", what, err->msg);
    if (rc == OSS_EUNAVAIL)
        oss_app_worker_reset(w);
    oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                         rc == OSS_EUNAVAIL ? UNAVAILABLE
                                            : "could not append to the journal",
                         NULL);
}

bool
api_req_execute(api_worker_t *w, oss_http_req_t *req, oss_command_t *cmds,
                size_t n, int attempts, const char *what) {
    oss_err_t err;
    oss_journal_t *j = api_req_journal(w, req);
    if (!j)
        return false;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (attempt)
            for (size_t i = 0; i < n; i++)
                oss_event_list_free(&cmds[i].events);
        oss_err_clear(&err);
        oss_code_t rc = oss_journal_execute(j, cmds, n, &err);
        if (rc != OSS_OK) {
            oss_warn("%s not appended: %s", what, err.msg);
            if (rc == OSS_EUNAVAIL)
                oss_app_worker_reset(w);
            oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                                 rc == OSS_EUNAVAIL
                                     ? UNAVAILABLE
                                     : "could not append to the journal",
                                 NULL);
            return false;
        }
        if (!oss_app_cmd_conflicted(&cmds[0]))
            break;
    }
    return true;
}

/* ---- request bodies ------------------------------------------------------ */

static bool
in_list(const char *const *list, const char *key) {
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(list[i], key))
            return true;
    return false;
}

/* Whether key is one of oss_app_person_t's body fields under prefix. */
static bool
person_key(const char *prefix, const char *key) {
    static const char *const person[] = {"nik",   "passport",   "country",
                                         "name",  "birth_date", "email",
                                         "phone", "channel",    NULL};
    size_t pl = strlen(prefix);
    return !strncmp(key, prefix, pl) && in_list(person, key + pl);
}

json_t *
api_body_parse_ex(oss_http_req_t *req, const api_body_spec_t *spec, bool *bad) {
    size_t len;
    const char *body = oss_http_req_body(req, &len);
    oss_field_errors_t fe = {0};
    const char *key;
    json_t *val;

    if (bad)
        *bad = false;
    if (!len && spec->optional)
        return NULL;
    json_t *root =
        len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!root || !json_is_object(root)) {
        json_decref(root);
        oss_http_reply_error(req, 400, "malformed_json",
                             "request body must be a JSON object", NULL);
        goto bad;
    }
    json_object_foreach(root, key, val) {
        bool b = in_list(spec->bools, key);
        bool k = b || in_list(spec->known, key) ||
                 (spec->person_prefix && person_key(spec->person_prefix, key));
        if (!k)
            oss_field_errors_add(&fe, strlen(key) < 40 ? key : "?",
                                 OSS_REASON_UNKNOWN_FIELD);
        else if (b) {
            if (!json_is_boolean(val))
                oss_field_errors_add(&fe, key, "must_be_boolean");
        } else if (!json_is_string(val) && !(spec->nulls && json_is_null(val)))
            oss_field_errors_add(&fe, key, OSS_REASON_MUST_BE_STRING);
        else if (!spec->any_length && json_string_length(val) > 1024)
            oss_field_errors_add(&fe, key, OSS_REASON_TOO_LONG);
    }
    if (fe.n) {
        json_decref(root);
        oss_http_reply_error(req, 422, "invalid_fields", "invalid fields", &fe);
        goto bad;
    }
    return root;
bad:
    if (bad)
        *bad = true;
    return NULL;
}

json_t *
api_body_parse(oss_http_req_t *req, const char *const *known) {
    api_body_spec_t spec = {.known = known};
    return api_body_parse_ex(req, &spec, NULL);
}

const char *
api_body_str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

void
api_body_wipe(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

/* ---- replies ------------------------------------------------------------- */

void
api_reply_field(oss_http_req_t *req, int status, const char *code,
                const char *field, const char *reason, const char *msg) {
    oss_field_errors_t fe = {0};
    if (field)
        oss_field_errors_add(&fe, field, reason);
    oss_http_reply_error(req, status, code, msg, field ? &fe : NULL);
}

void
api_reply_retry(oss_http_req_t *req, int status, int64_t retry_us,
                const char *code, const char *msg) {
    char ra[24];
    long long s = (retry_us + 999999) / 1000000;
    snprintf(ra, sizeof ra, "%lld", s < 1 ? 1 : s);
    const char *hdrs[] = {"Retry-After", ra, NULL};
    oss_http_reply(req, status, "application/json",
                   oss_http_error_json(code, msg, NULL), hdrs);
}

void
api_reply_429(oss_http_req_t *req, int64_t retry_us, const char *code,
              const char *msg) {
    api_reply_retry(req, 429, retry_us, code, msg);
}

void
api_reply_obj(oss_http_req_t *req, int status, json_t *o,
              const char *const *hdrs) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return;
    }
    oss_http_reply_json(req, status, s, hdrs);
}

/* ---- small pure helpers -------------------------------------------------- */
