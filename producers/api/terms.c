/* Terms of use as versioned data (see terms.h): the cached version look-up
 * used by registration, GET /v1/terms and POST
 * /v1/accounts/{id}/terms-acceptance (TermsAccepted by the owner). */
#include "terms.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auth.h"
#include "core/clock.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "request.h"

#define TERMS_MAX 64
#define TERMS_TTL_MS 10000
#define TERMS_MISS_MS 1000
/* reason codes (oss_err_reason()) of a refused acceptance */
#define REASON_NOT_REGISTERED "not_registered"
#define REASON_ALREADY_ACCEPTED "already_accepted"

typedef struct terms_entry {
    char version[33];
    char sha256[65];
} terms_entry_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static terms_entry_t cache[TERMS_MAX];
static size_t ncache;
static int64_t loaded_ms = -1; /* monotonic; -1 = never */

/* Re-reads the table into the cache (cache_mu held). */
static oss_code_t
cache_load(PGconn *c, oss_err_t *err) {
    /* a version published for a later date is not in force yet */
    PGresult *r = PQexec(c, "SELECT version, sha256 FROM oss.terms_versions "
                            "WHERE published_at <= now() "
                            "ORDER BY published_at DESC LIMIT 64");
    oss_code_t rc = OSS_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = oss_db_error(c, r, "read the terms of use versions", err);
        goto done;
    }
    ncache = 0;
    for (int i = 0; i < PQntuples(r) && ncache < TERMS_MAX; i++, ncache++) {
        snprintf(cache[ncache].version, sizeof cache[ncache].version, "%s",
                 PQgetvalue(r, i, 0));
        snprintf(cache[ncache].sha256, sizeof cache[ncache].sha256, "%s",
                 PQgetvalue(r, i, 1));
    }
    loaded_ms = oss_mono_ms();
done:
    PQclear(r);
    return rc;
}

static bool
cache_find(const char *version, char *sha256) {
    for (size_t i = 0; i < ncache; i++)
        if (!strcmp(cache[i].version, version)) {
            memcpy(sha256, cache[i].sha256, 65);
            return true;
        }
    return false;
}

oss_code_t
api_terms_lookup(PGconn *c, const char *version, char *sha256, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    pthread_mutex_lock(&cache_mu);
    int64_t now = oss_mono_ms();
    bool stale = loaded_ms < 0 || now - loaded_ms > TERMS_TTL_MS;
    if (!stale && cache_find(version, sha256))
        goto done;
    if (stale || now - loaded_ms > TERMS_MISS_MS) {
        oss_err_t e;
        oss_err_clear(&e);
        if (cache_load(c, &e) != OSS_OK && loaded_ms < 0) {
            rc = oss_err_set(err, OSS_EUNAVAIL, "%s", e.msg);
            goto done;
        }
    }
    if (!cache_find(version, sha256))
        rc = oss_err_set(err, OSS_ENOTFOUND,
                         "terms of use version \"%s\" is not published",
                         version);
done:
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

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

typedef struct accept {
    const char *account_id;
    const char *principal_id;
    const char *version;
    char sha256[65];
    uint8_t *payload;
    size_t payload_len;
} accept_t;

/* Whether the account's stream (history) registered the account and which
 * versions it already accepted: AccountRegistered.terms_version and every
 * TermsAccepted. */
static oss_code_t
decide_accept(void *vctx, const oss_event_t *history, size_t n,
              oss_event_list_t *out, oss_err_t *err) {
    accept_t *a = vctx;
    bool registered = false, accepted = false;

    for (size_t i = 0; i < n; i++) {
        const oss_event_t *ev = &history[i];
        if (!strcmp(ev->payload_type, OSS_ACCOUNT_REGISTERED)) {
            Oss__V1__AccountRegistered *m = oss__v1__account_registered__unpack(
                NULL, ev->payload_len, ev->payload);
            registered = true;
            if (m && m->terms_version && !strcmp(m->terms_version, a->version))
                accepted = true;
            oss__v1__account_registered__free_unpacked(m, NULL);
        } else if (!strcmp(ev->payload_type, "oss.v1.TermsAccepted")) {
            Oss__V1__TermsAccepted *m = oss__v1__terms_accepted__unpack(
                NULL, ev->payload_len, ev->payload);
            if (m && m->version && !strcmp(m->version, a->version))
                accepted = true;
            oss__v1__terms_accepted__free_unpacked(m, NULL);
        }
    }
    if (!registered) {
        return oss_err_coded(err, OSS_ENOTFOUND, REASON_NOT_REGISTERED,
                             "no such account");
    }
    if (accepted) {
        return oss_err_coded(err, OSS_EDUPLICATE, REASON_ALREADY_ACCEPTED,
                             "terms of use version \"%s\" are already "
                             "accepted for this account",
                             a->version);
    }
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.TermsAccepted");
    ev->schema_version = 1;
    ev->payload = malloc(a->payload_len ? a->payload_len : 1);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, a->payload, a->payload_len);
    ev->payload_len = a->payload_len;
    return OSS_OK;
}

static void
run_accept(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    const char *id = oss_http_req_param(req, 0);
    json_t *body = NULL;
    oss_principal_t p;
    char region[11], stream[OSS_ID_MAX];
    accept_t a = {0};
    oss_command_t c = {0};
    oss_err_t err;
    size_t len;
    const char *raw = oss_http_req_body(req, &len);
    json_error_t jerr;

    /* authenticate and authorize before reading anything else */
    if (!api_auth_require(w, req, &p, NULL))
        goto done;
    if (!api_account_target(w, req, id, region))
        goto done;
    oss_target_t t = {.account_id = id, .region = region};
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
    oss_code_t rc = api_terms_lookup(conn, a.version, a.sha256, &err);
    if (rc == OSS_ENOTFOUND) {
        api_reply_field(req, 422, "invalid_fields", "version",
                        "unknown_version", err.msg);
        goto done;
    } else if (rc != OSS_OK) {
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        goto done;
    }

    Oss__V1__TermsAccepted m = OSS__V1__TERMS_ACCEPTED__INIT;
    m.account_id = (char *)id;
    m.version = (char *)a.version;
    m.principal_id = p.principal_id;
    m.sha256 = a.sha256;
    a.account_id = id;
    a.principal_id = p.principal_id;
    a.payload_len = oss__v1__terms_accepted__get_packed_size(&m);
    a.payload = malloc(a.payload_len ? a.payload_len : 1);
    if (!a.payload) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    oss__v1__terms_accepted__pack(&m, a.payload);

    snprintf(stream, sizeof stream, "account-%s", id);
    c.stream_id = stream;
    c.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_BUSINESS_USER;
    c.actor_id = p.principal_id;
    c.correlation_id = oss_http_req_cid(req);
    c.decide = decide_accept;
    c.ctx = &a;
    if (!api_req_execute(w, req, &c, 1, 3, "terms acceptance"))
        goto done;
    if (c.outcome == OSS_JOURNAL_REJECTED) {
        if (oss_err_is(&c.err, REASON_ALREADY_ACCEPTED))
            api_reply_field(req, 409, "already_accepted", "version",
                            "already_accepted", c.err.msg);
        else if (oss_err_is(&c.err, REASON_NOT_REGISTERED))
            oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        else
            oss_http_reply_error(req, oss_http_status_for(c.err.code), NULL,
                                 c.err.msg, NULL);
        goto done;
    }
    oss_info("terms accepted stream=%s version=%s", stream, a.version);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "account_id", id,
                          "terms_version", a.version, "sha256", a.sha256,
                          "version", (json_int_t)c.last_version);
    oss_http_reply_json(req, 201, o ? json_dumps(o, JSON_COMPACT) : NULL, NULL);
    json_decref(o);
done:
    oss_event_list_free(&c.events);
    free(a.payload);
    json_decref(body);
}

void
api_h_terms_accept(oss_http_req_t *req, void *arg) {
    /* authentication first (401), then the account (404: api_account_target
     * checks the id's form too) */
    api_req_submit(arg, req, run_accept);
}
