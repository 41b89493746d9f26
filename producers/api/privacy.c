/* Personal data over HTTP (see privacy.h): staff reads logged in the same
 * transaction as their PersonalDataRead event, the subject's access list and
 * export, and the operator's erasure (crypto-shredding). Plaintext personal
 * data lives only in this request's memory and its response; it is never
 * logged. */
#include "privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/erasure.h"
#include "app/privacy.h"
#include "auth.h"
#include "core/clock.h"
#include "core/utc.h"
#include "crypto/subject.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/privacy.pb-c.h"
#include "request.h"

#define EP_PERSONAL_DATA "GET /v1/accounts/{id}/personal-data"
#define REASON_MAX 500

/* ---- plumbing ------------------------------------------------------------ */

/* Replies to a failed look-up (err from src/crypto/subject.c). */
static void
reply_err(api_worker_t *w, oss_http_req_t *req, const oss_err_t *err,
          const char *what) {
    if (err->code == OSS_ENOTFOUND &&
        oss_err_is(err, OSS_SUBJECT_REASON_ERASED)) {
        oss_http_reply_error(req, 410, "erased",
                             "this person's personal data was erased", NULL);
    } else if (err->code == OSS_ENOTFOUND) {
        oss_http_reply_error(req, 404, NULL, what, NULL);
    } else if (err->code == OSS_EUNAVAIL) {
        oss_app_worker_reset(w);
        oss_warn("privacy: %s", err->msg);
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
    } else {
        oss_error("privacy: %s", err->msg);
        oss_http_reply_error(req, 500, NULL, "could not read personal data",
                             NULL);
    }
}

static void
iso_time(const char *pg_ts, char *out, size_t n) {
    snprintf(out, n, "%s", pg_ts);
}

/* Wipes every string of a JSON value in place (plaintext personal data),
 * then releases it. */
static void
json_wipe_decref(json_t *v) {
    if (!v)
        return;
    if (json_is_string(v)) {
        char *s = (char *)json_string_value(v);
        OPENSSL_cleanse(s, strlen(s));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_wipe_decref(json_incref(x));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_wipe_decref(json_incref(x));
    }
    json_decref(v);
}

/* Sends o (wiped and released). */
static void
reply_json_wipe(oss_http_req_t *req, int status, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_wipe_decref(o);
    if (!s) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return;
    }
    oss_http_reply_json(req, status, s, NULL);
}

/* Collects the opened fields of one event into an object: field -> value. */
static void
visit_into(void *ctx, const char *field, const char *plaintext) {
    json_t *o = ctx;
    json_object_set_new(o, field,
                        plaintext ? json_string(plaintext)
                                  : json_string("[unreadable]"));
}

/* Adds to fields (last wins) and, when events is not NULL, one entry per
 * event holding the subject's sealed fields, for every event of the streams
 * (text[] literal) in journal order. Returns false after replying. */
static bool
collect(api_worker_t *w, oss_http_req_t *req, PGconn *c, const char *streams,
        const char *subject, const oss_data_key_t *dk, json_t *fields,
        json_t *events) {
    PGresult *r = oss_journal_read_streams_events(c, streams);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        oss_err_t err;
        bool lost = oss_db_conn_lost(c, r);
        oss_db_error(c, r, "read the journal", &err);
        PQclear(r);
        oss_warn("privacy: %s", err.msg);
        if (lost)
            oss_app_worker_reset(w);
        oss_http_reply_error(req, lost ? 503 : 500, NULL,
                             lost ? "the database is unavailable; retry later"
                                  : "could not read",
                             NULL);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *f = json_object();
        size_t found = oss_subject_open_fields(
            (const uint8_t *)PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4),
            subject, dk, visit_into, f);
        if (found) {
            json_object_update(fields, f);
            if (events) {
                char t[40];
                iso_time(PQgetvalue(r, i, 3), t, sizeof t);
                json_array_append_new(
                    events, json_pack("{s:s, s:s, s:s, s:s, s:O}", "stream_id",
                                      PQgetvalue(r, i, 0), "event_id",
                                      PQgetvalue(r, i, 1), "event_type",
                                      PQgetvalue(r, i, 2), "occurred_at", t,
                                      "fields", f));
            }
        }
        json_decref(f); /* its strings live on in fields / events */
    }
    PQclear(r);
    return true;
}

/* ---- GET /v1/accounts/{id}/personal-data --------------------------------- */

/* The staff role the read is made under ("" = the account's owner). */
static const char *
reader_role(const oss_principal_t *p, const char *account_id) {
    for (size_t i = 0; i < p->ngrants; i++)
        if (p->grants[i].role == OSS_ROLE_OWNER &&
            !strcmp(p->grants[i].account_id, account_id))
            return "";
    static const oss_role_t staff[] = {OSS_ROLE_AUDITOR, OSS_ROLE_OPERATOR,
                                       OSS_ROLE_OFFICER};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < p->ngrants; i++)
            if (p->grants[i].role == staff[k])
                return oss_role_name(staff[k]);
    return "";
}

static void
run_personal_data(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    const char *account_id = oss_http_req_param(req, 0);
    oss_principal_t p;
    char region[11];
    bool restricted = false;
    oss_err_t err;
    oss_data_key_t dk;
    oss_app_pd_read_t pr;
    char subject_id[OSS_UUID_STR] = "", reason[REASON_MAX + 1] = "";
    oss_journal_t *j = NULL;
    json_t *fields = NULL;

    memset(&dk, 0, sizeof dk);
    memset(&pr, 0, sizeof pr);
    if (!api_auth_require(w, req, &p, NULL))
        return;
    if (!api_account_target(w, req, account_id, region, &restricted))
        return;
    oss_target_t t = {
        .account_id = account_id, .region = region, .restricted = restricted};
    if (!api_auth_allow(req, &p, OSS_ACT_PERSONAL_READ, &t))
        return;
    pr.role = reader_role(&p, account_id);
    bool staff = pr.role[0] != '\0';
    if (staff && (!oss_http_req_query(req, "reason", reason, sizeof reason) ||
                  !reason[0])) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "reason", "required");
        oss_http_reply_error(req, 422, "invalid_fields",
                             "a reason is required to read another person's "
                             "personal data (?reason=..., at most 500 "
                             "characters); the read is logged",
                             &fe);
        return;
    }
    j = api_req_journal(w, req);
    PGconn *c = j ? oss_journal_conn(j) : NULL;
    if (!c)
        return;
    oss_err_clear(&err);
    if (oss_subject_of_account(c, account_id, subject_id, &err) != OSS_OK) {
        reply_err(w, req, &err, "no such account");
        return;
    }
    oss_err_clear(&err);
    if (oss_subject_key_load(c, &ctx->app.master, subject_id, &dk, &err) !=
        OSS_OK) {
        reply_err(w, req, &err, "no such subject");
        return;
    }
    char streams[400];
    snprintf(streams, sizeof streams, "{account-%.64s,access-%.64s}",
             account_id, account_id);
    fields = json_object();
    if (!collect(w, req, c, streams, subject_id, &dk, fields, NULL))
        goto done;
    if (staff) {
        pr.subject_id = subject_id;
        pr.account_id = account_id;
        pr.reader = p.principal_id;
        pr.reason = reason;
        pr.endpoint = EP_PERSONAL_DATA;
        pr.actor_kind = !strcmp(pr.role, "officer") ? OSS_ACTOR_OFFICER
                                                    : OSS_ACTOR_OPERATOR;
        pr.correlation_id = oss_http_req_cid(req);
        oss_err_clear(&err);
        oss_code_t rc = oss_app_pd_read_record(j, &pr, &err);
        if (rc != OSS_OK || pr.outcome != OSS_JOURNAL_APPENDED) {
            /* no log, no data */
            if (rc == OSS_OK &&
                oss_err_is(&pr.err, OSS_SUBJECT_REASON_ERASED)) {
                oss_http_reply_error(req, 410, "erased",
                                     "this person's personal data was erased",
                                     NULL);
            } else {
                oss_warn("personal data read not logged: %s",
                         rc != OSS_OK ? err.msg : pr.err.msg);
                if (rc == OSS_EUNAVAIL)
                    oss_app_worker_reset(w);
                oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                                     "could not log the read; nothing was "
                                     "disclosed",
                                     NULL);
            }
            goto done;
        }
        oss_info("personal data read account=%s by=%s role=%s event=%s",
                 account_id, pr.reader, pr.role, pr.event_id);
    }
    json_t *o = json_pack("{s:s, s:s, s:O, s:b}", "account_id", account_id,
                          "subject_id", subject_id, "personal_data", fields,
                          "logged", staff);
    if (o && staff)
        json_object_set_new(o, "access_event_id", json_string(pr.event_id));
    reply_json_wipe(req, 200, o);
done:
    json_wipe_decref(fields);
    OPENSSL_cleanse(&dk, sizeof dk);
}

void
api_h_personal_data(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_personal_data);
}

/* ---- GET /v1/me/personal-data-access ------------------------------------- */

/* Authenticates the caller (*p) and finds the subject its personal data
 * belongs to (subject). Returns the worker's connection (borrowed), or
 * NULL after replying. */
static PGconn *
me_subject(api_worker_t *w, oss_http_req_t *req, oss_principal_t *p,
           char subject[OSS_UUID_STR]) {
    oss_err_t err;
    if (!api_auth_require(w, req, p, NULL))
        return NULL;
    PGconn *c = api_req_conn(w, req);
    if (!c)
        return NULL;
    oss_err_clear(&err);
    if (oss_subject_of_principal(c, p->principal_id, subject, &err) != OSS_OK) {
        reply_err(w, req, &err, "no personal data is held about you");
        return NULL;
    }
    return c;
}

static void
run_me_access(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    oss_principal_t p;
    char subject[OSS_UUID_STR];

    if (!me_subject(w, req, &p, subject))
        return;
    const char *pv[1] = {subject};
    PGresult *r = api_req_query(
        w, req, "read the access log",
        "SELECT to_char(read_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), reader_principal_id, "
        "reader_role, reason, endpoint, account_id, event_id::text FROM "
        "oss.pii_access_log WHERE subject_id = $1::uuid ORDER BY read_at, id",
        1, pv, API_REQ_ROWS);
    if (!r)
        return;
    json_t *reads = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(
            reads,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "read_at",
                      PQgetvalue(r, i, 0), "reader_principal_id",
                      PQgetvalue(r, i, 1), "reader_role", PQgetvalue(r, i, 2),
                      "reason", PQgetvalue(r, i, 3), "endpoint",
                      PQgetvalue(r, i, 4), "account_id", PQgetvalue(r, i, 5),
                      "event_id", PQgetvalue(r, i, 6)));
    PQclear(r);
    api_reply_obj(
        req, 200,
        json_pack("{s:s, s:o}", "subject_id", subject, "reads", reads), NULL);
}

void
api_h_me_pii_access(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_me_access);
}

/* ---- GET /v1/me/export ----------------------------------------------------
 */

static void
run_me_export(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_principal_t p;
    oss_err_t err;
    oss_data_key_t dk;
    char subject[OSS_UUID_STR];
    json_t *fields = NULL, *events = NULL;
    char *streams = NULL;
    PGresult *r = NULL;

    memset(&dk, 0, sizeof dk);
    PGconn *c = me_subject(w, req, &p, subject);
    if (!c)
        return;
    oss_err_clear(&err);
    if (oss_subject_key_load(c, &ctx->app.master, subject, &dk, &err) !=
        OSS_OK) {
        reply_err(w, req, &err, "no personal data is held about you");
        return;
    }
    /* every stream that may hold the subject's sealed fields: its
     * principals' access and contact streams, the accounts it registered */
    const char *pv[2] = {subject, p.principal_id};
    r = PQexecParams(
        c,
        "SELECT coalesce(array_agg(DISTINCT s), '{}')::text FROM ("
        " SELECT 'access-' || principal_id AS s FROM oss.principals WHERE "
        "  subject_id = $1::uuid"
        " UNION SELECT contact_stream FROM oss.principals WHERE "
        "  subject_id = $1::uuid"
        " UNION SELECT stream_id FROM oss.identity_claims WHERE "
        "  subject_id = $1::uuid"
        " UNION SELECT stream_id FROM rm.accounts WHERE subject_id = $1::text"
        " UNION SELECT 'access-' || substr(stream_id, 9) FROM rm.accounts "
        "  WHERE subject_id = $1::text"
        " UNION SELECT 'account-' || $2 UNION SELECT 'access-' || $2) x",
        2, NULL, pv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        bool lost = oss_db_conn_lost(c, r);
        oss_db_error(c, r, "find the subject's streams", &err);
        oss_warn("privacy: %s", err.msg);
        if (lost)
            oss_app_worker_reset(w);
        oss_http_reply_error(req, lost ? 503 : 500, NULL, "could not read",
                             NULL);
        goto done;
    }
    streams = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    fields = json_object();
    events = json_array();
    if (!streams || !fields || !events) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    if (!collect(w, req, c, streams, subject, &dk, fields, events))
        goto done;
    /* the principal's roles, and who read the data */
    json_t *grants = json_array();
    const char *pp[1] = {p.principal_id};
    r = PQexecParams(c,
                     "SELECT role, coalesce(account_id, ''), "
                     "coalesce(institution, ''), granted_at::text, "
                     "coalesce(revoked_at::text, '') FROM oss.grants WHERE "
                     "principal_id = $1 ORDER BY grant_id",
                     1, NULL, pp, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(grants,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "role",
                                            PQgetvalue(r, i, 0), "account_id",
                                            PQgetvalue(r, i, 1), "institution",
                                            PQgetvalue(r, i, 2), "granted_at",
                                            PQgetvalue(r, i, 3), "revoked_at",
                                            PQgetvalue(r, i, 4)));
    PQclear(r);
    r = NULL;
    json_t *reads = json_array();
    const char *ps[1] = {subject};
    r = PQexecParams(c,
                     "SELECT read_at::text, reader_principal_id, reader_role, "
                     "reason, endpoint FROM oss.pii_access_log WHERE "
                     "subject_id = $1::uuid ORDER BY read_at, id",
                     1, NULL, ps, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(
                reads,
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "read_at",
                          PQgetvalue(r, i, 0), "reader_principal_id",
                          PQgetvalue(r, i, 1), "reader_role",
                          PQgetvalue(r, i, 2), "reason", PQgetvalue(r, i, 3),
                          "endpoint", PQgetvalue(r, i, 4)));
    PQclear(r);
    r = NULL;
    char ts[OSS_UTC_STR];
    oss_utc_format(oss_now_us(), 0, ts, sizeof ts);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:O, s:O, s:o, s:o}", "subject_id", subject,
                  "principal_id", p.principal_id, "exported_at", ts,
                  "personal_data", fields, "events", events, "grants", grants,
                  "personal_data_reads", reads);
    oss_info("personal data exported by its subject principal=%s",
             p.principal_id);
    reply_json_wipe(req, 200, o);
done:
    PQclear(r);
    free(streams);
    json_wipe_decref(fields);
    json_wipe_decref(events);
    OPENSSL_cleanse(&dk, sizeof dk);
}

void
api_h_me_export(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_me_export);
}

/* ---- POST /v1/subjects/{id}/erasure ---------------------------------------
 */

static void
run_erase(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    const char *subject = oss_http_req_param(req, 0);
    oss_principal_t p;
    oss_err_t err;
    oss_app_erasure_t e;
    oss_journal_t *j = NULL;
    json_t *body = NULL;

    memset(&e, 0, sizeof e);
    if (!api_auth_require(w, req, &p, NULL))
        return;
    oss_target_t t = {0};
    if (!api_auth_allow(req, &p, OSS_ACT_SUBJECT_ERASE, &t))
        return;
    size_t len;
    const char *b = oss_http_req_body(req, &len);
    json_error_t jerr;
    body = len ? json_loadb(b, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!body || !json_is_object(body)) {
        oss_http_reply_error(req, 400, "malformed_json",
                             "request body must be a JSON object", NULL);
        goto done;
    }
    {
        oss_field_errors_t fe = {0};
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) if (strcmp(k, "reason") != 0)
            oss_field_errors_add(&fe, strlen(k) < 40 ? k : "?",
                                 OSS_REASON_UNKNOWN_FIELD);
        json_t *rv = json_object_get(body, "reason");
        if (!json_is_string(rv) || json_string_length(rv) == 0)
            oss_field_errors_add(&fe, "reason", "required");
        else if (json_string_length(rv) > REASON_MAX)
            oss_field_errors_add(&fe, "reason", OSS_REASON_TOO_LONG);
        if (fe.n) {
            oss_http_reply_error(req, 422, "invalid_fields",
                                 "an erasure needs a reason", &fe);
            goto done;
        }
    }
    j = api_req_journal(w, req);
    PGconn *c = j ? oss_journal_conn(j) : NULL;
    if (!c)
        goto done;
    oss_err_clear(&err);
    if (oss_app_erasure_prepare(
            c, subject, json_string_value(json_object_get(body, "reason")), &e,
            &err) != OSS_OK) {
        reply_err(w, req, &err, "no such subject");
        goto done;
    }
    e.cmd.actor_kind = OSS_ACTOR_OPERATOR;
    e.cmd.actor_id = p.principal_id;
    e.cmd.correlation_id = oss_http_req_cid(req);
    oss_err_clear(&err);
    if (oss_app_erasure_run(j, &e, &err) != OSS_OK) {
        reply_err(w, req, &err, "no such subject");
        goto done;
    }
    if (e.cmd.outcome == OSS_JOURNAL_REJECTED) {
        if (oss_err_is(&e.cmd.err, OSS_APP_REASON_ALREADY_ERASED))
            oss_http_reply_error(req, 409, "already_erased", e.cmd.err.msg,
                                 NULL);
        else
            oss_http_reply_error(req, oss_http_status_for(e.cmd.err.code), NULL,
                                 e.cmd.err.msg, NULL);
        goto done;
    }
    oss_info("subject erased subject=%s by=%s stream=%s version=%lld",
             e.subject_id, p.principal_id, e.stream_id,
             (long long)e.cmd.last_version);
    json_t *acc = json_array();
    for (size_t i = 0; i < e.naccounts; i++)
        json_array_append_new(acc, json_string(e.account_ids[i]));
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:o, s:I, s:I, s:I}", "subject_id", e.subject_id,
        "stream_id", e.stream_id, "version", (json_int_t)e.cmd.last_version,
        "event_id", e.cmd.events.len ? e.cmd.events.items[0].event_id : "",
        "account_ids", acc, "keys_deleted", (json_int_t)e.keys,
        "lookups_deleted", (json_int_t)e.lookups, "deliveries_deleted",
        (json_int_t)e.deliveries);
    /* the subject's principals lost their access with it */
    json_t *ended =
        json_pack("{s:I, s:I, s:I}", "sessions_ended", (json_int_t)e.sessions,
                  "grants_revoked", (json_int_t)e.grants, "passwords_deleted",
                  (json_int_t)e.passwords);
    if (o && ended)
        json_object_update(o, ended);
    json_decref(ended);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
    else
        oss_http_reply_json(req, 200, s, NULL);
done:
    json_decref(body);
    oss_app_erasure_clear(&e);
}

void
api_h_subject_erase(oss_http_req_t *req, void *arg) {
    api_req_submit(arg, req, run_erase);
}
