/* The API's route table and its small handlers: GET /v1/accounts/{id}
 * (status from the read model rm.accounts, no personal data; needs a
 * session allowed account.read), /healthz,
 * /readyz, /metrics (Prometheus text 0.0.4), and the context set-up. */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "access.h"
#include "auth.h"
#include "db/db.h"
#include "gov.h"
#include "journal/journal.h"
#include "journal/reads.h"
#include "legacy.h"
#include "log/log.h"
#include "privacy.h"
#include "ratelimit.h"
#include "recovery.h"
#include "request.h"
#include "terms.h"

oss_code_t
api_ctx_init(api_ctx_t *ctx, const oss_config_t *cfg, oss_err_t *err) {
    oss_code_t rc;

    memset(ctx, 0, sizeof *ctx);
    ctx->max_body = (size_t)oss_config_int(cfg, "api.max_body_bytes");
    rc = oss_app_init(&ctx->app, cfg, err);
    if (rc == OSS_OK)
        api_recovery_init(cfg); /* recovery.c */
    if (rc == OSS_OK)
        api_access_init(cfg); /* access.c */
    return rc;
}

void
api_ctx_free(api_ctx_t *ctx) {
    oss_app_free(&ctx->app);
}

static api_ctx_t *
ctx_of(void *arg) {
    return arg;
}

/* ---- POST /v1/accounts --------------------------------------------------- */

static void
h_register(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"nik", "passport", "npwp", NULL};
    char key[80];
    bool ok =
        api_ratelimit_take(req, API_RL_REGISTER,
                           api_ratelimit_body_key(req, idf, key, sizeof key));
    explicit_bzero(key, sizeof key);
    if (!ok)
        return;
    api_register_submit(ctx_of(arg), req);
}

/* ---- GET /v1/accounts/{id} ---------------------------------------------- */

static void
run_get_account(api_worker_t *w, api_job_t *job) {
    oss_http_req_t *req = job->req;
    const char *id = oss_http_req_param(req, 0);
    const char *params[] = {id};
    oss_principal_t caller;
    char region[11];
    bool restricted = false;

    /* a session, then the account's scope, then account.read (401 / 404 /
     * 403 or 404-hidden answered by auth.c) */
    if (!api_auth_require(w, req, &caller, NULL) ||
        !api_account_target(w, req, id, region, &restricted))
        return;
    oss_target_t target = {
        .account_id = id, .region = region, .restricted = restricted};
    if (!api_auth_allow(req, &caller, OSS_ACT_ACCOUNT_READ, &target))
        return;
    PGresult *r = api_req_query(
        w, req, "read",
        "SELECT account_id, stream_id, status, scale, actor_type, country, "
        "terms_version, to_char(registered_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), version FROM rm.accounts "
        "WHERE account_id = $1",
        1, params, API_REQ_ROWS);
    if (!r)
        return;
    if (PQntuples(r) == 0) {
        /* it exists (api_account_target saw it): the projector is behind */
        PQclear(r);
        oss_http_reply_error(req, 404, NULL,
                             "the account is not in the read model yet; "
                             "retry shortly",
                             NULL);
        return;
    }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "account_id",
        PQgetvalue(r, 0, 0), "stream_id", PQgetvalue(r, 0, 1), "status",
        PQgetvalue(r, 0, 2), "scale", PQgetvalue(r, 0, 3), "actor_type",
        PQgetvalue(r, 0, 4), "country", PQgetvalue(r, 0, 5), "terms_version",
        PQgetvalue(r, 0, 6), "registered_at", PQgetvalue(r, 0, 7), "version",
        (json_int_t)strtoll(PQgetvalue(r, 0, 8), NULL, 10));
    PQclear(r);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) {
        oss_http_reply_error(req, 500, NULL, "could not encode account", NULL);
        return;
    }
    oss_http_reply_json(req, 200, body, NULL);
}

static void
h_get_account(oss_http_req_t *req, void *arg) {
    if (!oss_app_id_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return;
    }
    api_req_submit(ctx_of(arg), req, run_get_account);
}

/* ---- /healthz, /readyz --------------------------------------------------- */

static void
h_healthz(oss_http_req_t *req, void *arg) {
    oss_http_reply_json(req, 200, strdup("{\"status\":\"ok\"}"), NULL);
}

static void
run_readyz(api_worker_t *w, api_job_t *job) {
    PGresult *r =
        api_req_query(w, job->req, "read", "SELECT 1", 0, NULL, API_REQ_ROWS);
    if (!r)
        return;
    PQclear(r);
    oss_http_reply_json(job->req, 200, strdup("{\"status\":\"ready\"}"), NULL);
}

static void
h_readyz(oss_http_req_t *req, void *arg) {
    api_req_submit(ctx_of(arg), req, run_readyz);
}

/* ---- /metrics ------------------------------------------------------------ */

typedef struct gauge {
    const char *name, *help, *sql;
    PGresult *(*read)(PGconn *c); /* a named journal read instead of sql */
} gauge_t;

/* Each gauge is one query returning one numeric value; a gauge whose query
 * fails (table not migrated yet, database down) is left out. */
static const gauge_t gauges[] = {
    {"oss_relay_lag_events",
     "Journal events not yet confirmed published by the relay: rows after "
     "its (xid, position) checkpoint, counted up to 100000 so that a "
     "scrape stays cheap (100000 means that many or more).",
     NULL, oss_journal_read_relay_lag},
    {"oss_relay_horizon_age_seconds",
     "Age of the oldest running transaction with a transaction id: it "
     "holds back the commit horizon the relay reads below.",
     "SELECT coalesce(extract(epoch FROM now() - min(xact_start)), 0) "
     "FROM pg_stat_activity WHERE backend_xid IS NOT NULL "
     "AND pid <> pg_backend_pid()",
     NULL},
    {"oss_projector_lag_events",
     "Published events the projector has not consumed yet: the sum over "
     "its partitions of high watermark minus next offset (rm.positions, "
     "as last written by the projector).",
     "SELECT coalesce(sum(greatest(high_watermark - next_offset, 0)), 0) "
     "FROM rm.positions WHERE name = 'projector'",
     NULL},
    {"oss_dead_letters", "Unresolved dead letters of every consumer.",
     "SELECT count(*) FROM oss.dead_letters WHERE resolved_at IS NULL", NULL},
    {"oss_notifier_codes_waiting",
     "Activation codes and reset links not yet handed over and not "
     "expired: the messages a person waits for, sent ahead of bulk mail.",
     "SELECT count(*) FROM oss.deliveries WHERE delivered_at IS NULL "
     "AND kind IN ('activation', 'password_reset') AND expires_at > now()",
     NULL},
    {"oss_notifier_notices_waiting",
     "Targeted notices not yet handed over (a backlog drains as this "
     "falls).",
     "SELECT count(*) FROM oss.deliveries WHERE delivered_at IS NULL "
     "AND kind NOT IN ('activation', 'password_reset')",
     NULL},
    {"oss_notifier_messages_sent",
     "Messages the notifier has handed over (ledger rows 'sent'; its rate "
     "is the drain rate).",
     "SELECT count(*) FROM oss.notifications WHERE status = 'sent'", NULL},
    {"oss_notifier_lag_events",
     "Published account events the notifier has not consumed yet (each "
     "may mean a mail to send): the sum over its partitions of high "
     "watermark minus next offset, as last written by the notifier.",
     "SELECT coalesce(sum(greatest(high_watermark - next_offset, 0)), 0) "
     "FROM oss.notifier_offsets WHERE consumer = 'notifier'",
     NULL},
    {"oss_notifier_messages_in_flight",
     "Messages begun but not yet handed over (ledger rows 'sending').",
     "SELECT count(*) FROM oss.notifications WHERE status = 'sending'", NULL},
    {"oss_journal_position_max",
     "Highest journal position (positions have gaps: not a count).", NULL,
     oss_journal_read_position_max},
};

/* Prometheus label value escaping (backslash, double quote, newline). */
static void
label_escape(char *out, size_t outlen, const char *in) {
    size_t o = 0;
    for (; *in && o + 2 < outlen; in++) {
        if (*in == '\\' || *in == '"' || *in == '\n') {
            out[o++] = '\\';
            out[o++] = *in == '\n' ? 'n' : *in;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* A float sample value in Prometheus text ("NaN", "+Inf" spelled its way). */
static void
prom_float(char *out, size_t outlen, const char *pgtext) {
    double v = strtod(pgtext, NULL);
    if (isnan(v))
        snprintf(out, outlen, "NaN");
    else if (isinf(v))
        snprintf(out, outlen, "%sInf", v > 0 ? "+" : "-");
    else if (v < 9007199254740992.0 && v > -9007199254740992.0 &&
             v == (double)(long long)v)
        snprintf(out, outlen, "%lld", (long long)v); /* counts: exact */
    else
        snprintf(out, outlen, "%.10g", v);
}

/* The rebuild gauges from oss.rebuild_progress (written by the projector's
 * rebuild.c), one sample per (schema, state) row. Appends to out[len..cap);
 * returns the new length. False in *lost when the connection broke. */
static size_t
rebuild_gauges(PGconn *c, char *out, size_t len, size_t cap, bool *lost) {
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"oss_rebuild_events_done", "Journal events a read-model rebuild "
                                    "has processed."},
        {"oss_rebuild_events_total", "Journal events a read-model rebuild "
                                     "has to process."},
        {"oss_rebuild_rate_events_per_second", "Events per second of a "
                                               "read-model rebuild."},
        {"oss_rebuild_eta_seconds", "Estimated seconds until a read-model "
                                    "rebuild is done."},
    };
    PGresult *r = PQexec(c, "SELECT schema_name, state, done, total, rate, "
                            "eta_seconds FROM oss.rebuild_progress "
                            "ORDER BY schema_name LIMIT 32");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *lost = oss_db_conn_lost(c, r);
        PQclear(r);
        return len;
    }
    for (int f = 0; f < 4; f++) {
        if (len < cap)
            len += (size_t)snprintf(out + len, cap - len,
                                    "# HELP %s %s\n# TYPE %s gauge\n",
                                    fam[f].name, fam[f].help, fam[f].name);
        for (int i = 0; i < PQntuples(r) && len < cap; i++) {
            char schema[128], state[64], val[48];
            label_escape(schema, sizeof schema, PQgetvalue(r, i, 0));
            label_escape(state, sizeof state, PQgetvalue(r, i, 1));
            prom_float(val, sizeof val, PQgetvalue(r, i, 2 + f));
            len += (size_t)snprintf(out + len, cap - len,
                                    "%s{schema=\"%s\",state=\"%s\"} %s\n",
                                    fam[f].name, schema, state, val);
        }
    }
    PQclear(r);
    return len < cap ? len : cap - 1;
}

static void
run_metrics(api_worker_t *w, api_job_t *job) {
    api_ctx_t *ctx = api_worker_ctx(w);
    char *http = oss_http_server_metrics(ctx->http);
    size_t cap = (http ? strlen(http) : 0) + 16384;
    char *out = malloc(cap);
    size_t len = 0;
    oss_err_t err;
    int up = 0;

    if (!out) {
        free(http);
        oss_http_reply_error(job->req, 500, NULL, "out of memory", NULL);
        return;
    }
    len += (size_t)snprintf(out, cap, "%s", http ? http : "");
    free(http);
    oss_err_clear(&err);
    oss_journal_t *j = oss_app_worker_journal(w, &err);
    if (j) {
        PGconn *c = oss_journal_conn(j);
        up = 1;
        for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
            PGresult *r =
                gauges[i].read ? gauges[i].read(c) : PQexec(c, gauges[i].sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                !PQgetisnull(r, 0, 0))
                len += (size_t)snprintf(out + len, cap - len,
                                        "# HELP %s %s\n# TYPE %s gauge\n"
                                        "%s %s\n",
                                        gauges[i].name, gauges[i].help,
                                        gauges[i].name, gauges[i].name,
                                        PQgetvalue(r, 0, 0));
            else if (oss_db_conn_lost(c, r))
                up = 0;
            PQclear(r);
            if (len >= cap)
                len = cap - 1;
            if (!up)
                break;
        }
        if (up) {
            bool lost = false;
            len = rebuild_gauges(c, out, len, cap, &lost);
            up = !lost;
        }
        if (!up)
            oss_app_worker_reset(w);
    }
    len += (size_t)snprintf(out + len, cap - len,
                            "# HELP oss_api_database_up Whether the API "
                            "reached PostgreSQL for this scrape.\n"
                            "# TYPE oss_api_database_up gauge\n"
                            "oss_api_database_up %d\n",
                            up);
    oss_http_reply(job->req, 200, "text/plain; version=0.0.4; charset=utf-8",
                   out, NULL);
}

static void
h_metrics(oss_http_req_t *req, void *arg) {
    api_req_submit(ctx_of(arg), req, run_metrics);
}

static const oss_http_route_t routes[] = {
    {"POST", "/v1/accounts", "/v1/accounts", h_register, true},
    {"GET", "/v1/accounts/*", "/v1/accounts/{id}", h_get_account, false},
    {"GET", "/healthz", "/healthz", h_healthz, false},
    {"GET", "/readyz", "/readyz", h_readyz, false},
    {"GET", "/metrics", "/metrics", h_metrics, false},
    /* account lifecycle (lifecycle.c) */
    {"POST", "/v1/accounts/*/activation", "/v1/accounts/{id}/activation",
     api_h_activation_resend, true},
    {"POST", "/v1/accounts/*/activate", "/v1/accounts/{id}/activate",
     api_h_activate, true},
    {"POST", "/v1/accounts/*/password", "/v1/accounts/{id}/password",
     api_h_password, true},
    {"POST", "/v1/sessions", "/v1/sessions", api_h_sign_in, true},
    {"GET", "/v1/sessions", "/v1/sessions", api_h_sessions_list, false},
    {"DELETE", "/v1/sessions/*", "/v1/sessions/{id}", api_h_session_end, false},
    /* R: terms of use (terms.c) */
    {"GET", "/v1/terms", "/v1/terms", api_h_terms_list, false},
    {"POST", "/v1/accounts/*/terms-acceptance",
     "/v1/accounts/{id}/terms-acceptance", api_h_terms_accept, true},
    /* R: OSS 1.1 migration (register.c) */
    {"POST", "/v1/legacy-migrations", "/v1/legacy-migrations",
     api_h_legacy_migrate, true},
    /* P1: principals (lifecycle.c aliases) and government accounts (gov.c) */
    {"POST", "/v1/principals/*/activation", "/v1/principals/{id}/activation",
     api_h_activation_resend, true},
    {"POST", "/v1/principals/*/activate", "/v1/principals/{id}/activate",
     api_h_activate, true},
    {"POST", "/v1/principals/*/password", "/v1/principals/{id}/password",
     api_h_password, true},
    {"POST", "/v1/institutions/*/officers", "/v1/institutions/{code}/officers",
     api_h_officer_create, true},
    {"GET", "/v1/institutions/*/officers", "/v1/institutions/{code}/officers",
     api_h_officers_list, false},
    {"DELETE", "/v1/institutions/*/officers/*",
     "/v1/institutions/{code}/officers/{principal_id}", api_h_officer_revoke,
     false},
    {"GET", "/v1/me", "/v1/me", api_h_me, false},
    /* D: personal data (privacy.c) */
    {"GET", "/v1/accounts/*/personal-data", "/v1/accounts/{id}/personal-data",
     api_h_personal_data, false},
    {"GET", "/v1/me/personal-data-access", "/v1/me/personal-data-access",
     api_h_me_pii_access, false},
    {"GET", "/v1/me/export", "/v1/me/export", api_h_me_export, false},
    {"POST", "/v1/subjects/*/erasure", "/v1/subjects/{id}/erasure",
     api_h_subject_erase, true},
    /* P2: business access rights (access.c) */
    {"GET", "/v1/accounts/*/members", "/v1/accounts/{id}/members",
     api_h_members_list, false},
    {"POST", "/v1/accounts/*/members", "/v1/accounts/{id}/members",
     api_h_member_add, true},
    {"DELETE", "/v1/accounts/*/members/*",
     "/v1/accounts/{id}/members/{principal_id}", api_h_member_remove, false},
    {"POST", "/v1/accounts/*/transfer", "/v1/accounts/{id}/transfer",
     api_h_transfer_offer, true},
    {"POST", "/v1/accounts/*/transfer/accept",
     "/v1/accounts/{id}/transfer/accept", api_h_transfer_accept, false},
    {"POST", "/v1/accounts/*/handover-requests",
     "/v1/accounts/{id}/handover-requests", api_h_handover_file, true},
    {"POST", "/v1/accounts/*/handover-requests/*/objection",
     "/v1/accounts/{id}/handover-requests/{rid}/objection",
     api_h_handover_object, true},
    {"POST", "/v1/accounts/*/handover-requests/*/decision",
     "/v1/accounts/{id}/handover-requests/{rid}/decision",
     api_h_handover_decide, true},
    {"POST", "/v1/accounts/*/terminations", "/v1/accounts/{id}/terminations",
     api_h_terminate, true},
    {"POST", "/v1/accounts/*/restrictions", "/v1/accounts/{id}/restrictions",
     api_h_restrict, true},
    {"POST", "/v1/accounts/*/restrictions/lift",
     "/v1/accounts/{id}/restrictions/lift", api_h_restriction_lift, true},
    /* C: account recovery (recovery.c) */
    {"POST", "/v1/password-resets", "/v1/password-resets", api_h_password_reset,
     true},
    {"POST", "/v1/password-resets/confirm", "/v1/password-resets/confirm",
     api_h_password_reset_confirm, true},
    {"POST", "/v1/account-recovery", "/v1/account-recovery",
     api_h_account_recovery, true},
    {"POST", "/v1/help-requests", "/v1/help-requests", api_h_help_request,
     true},
    {"GET", "/v1/help-requests", "/v1/help-requests", api_h_help_requests_list,
     false},
    {"POST", "/v1/help-requests/*/decision", "/v1/help-requests/{id}/decision",
     api_h_help_decision, true},
};

const oss_http_route_t *
api_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
