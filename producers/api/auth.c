/* Who is calling and what may they do (see auth.h): Bearer session ->
 * principal + active grants in one synchronous query, the authorization
 * answer (403 / 404), and the grant and session statements other commands
 * queue in their append transaction. */
#include "auth.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "request.h"

static void
reply_401(oss_http_req_t *req, const char *msg) {
    const char *hdrs[] = {"WWW-Authenticate", "Bearer", NULL};
    oss_http_reply(req, 401, "application/json",
                   oss_http_error_json("unauthenticated", msg, NULL), hdrs);
}

bool
api_auth_require(api_worker_t *w, oss_http_req_t *req, oss_principal_t *p,
                 char *session_id) {
    api_ctx_t *ctx = api_worker_ctx(w);
    const char *h = oss_http_req_header(req, "Authorization");
    char mac[65];

    memset(p, 0, sizeof *p);
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) < 16 ||
        strlen(h + 7) > 128) {
        reply_401(req, "a session token is required (Authorization: Bearer "
                       "...)");
        return false;
    }
    if (!oss_app_lc_session_hmac(&ctx->app, h + 7, mac)) {
        oss_http_reply_error(req, 503, NULL,
                             "the account lifecycle is not configured "
                             "(crypto.otp_key_file)",
                             NULL);
        return false;
    }
    const char *pv[] = {mac};
    PGresult *r = api_req_query(
        w, req, "authenticate",
        "SELECT s.stream_id, s.session_id, g.role, coalesce(g.account_id, "
        "''), coalesce(g.institution, ''), coalesce(g.sector, ''), "
        "coalesce(g.region, '') FROM oss.sessions s LEFT JOIN oss.grants g "
        "ON g.principal_id = substr(s.stream_id, 8) AND g.revoked_at IS NULL "
        "WHERE s.token_hmac = decode($1, 'hex') AND s.revoked_at IS NULL "
        "AND s.expires_at > now() AND s.stream_id LIKE 'access-%' "
        "ORDER BY g.grant_id",
        1, pv, API_REQ_ROWS);
    memset(mac, 0, sizeof mac);
    if (!r)
        return false;
    int n = PQntuples(r);
    if (n < 1) {
        PQclear(r);
        reply_401(req, "the session token is unknown, expired or ended");
        return false;
    }
    oss_str_copy(p->principal_id, sizeof p->principal_id,
                 PQgetvalue(r, 0, 0) + strlen(OSS_APP_ACCESS_STREAM_PREFIX));
    if (session_id)
        oss_str_copy(session_id, OSS_UUID_STR, PQgetvalue(r, 0, 1));
    for (int i = 0; i < n && p->ngrants < OSS_AUTHZ_MAX_GRANTS; i++) {
        if (PQgetisnull(r, i, 2))
            continue;
        oss_grant_t *g = &p->grants[p->ngrants];
        g->role = oss_role_parse(PQgetvalue(r, i, 2));
        if (g->role == OSS_ROLE_NONE)
            continue;
        oss_str_copy(g->account_id, sizeof g->account_id, PQgetvalue(r, i, 3));
        oss_str_copy(g->institution, sizeof g->institution,
                     PQgetvalue(r, i, 4));
        oss_str_copy(g->sector, sizeof g->sector, PQgetvalue(r, i, 5));
        oss_str_copy(g->region, sizeof g->region, PQgetvalue(r, i, 6));
        p->ngrants++;
    }
    PQclear(r);
    return true;
}

bool
api_account_target(api_worker_t *w, oss_http_req_t *req, const char *account_id,
                   char *region, bool *restricted) {
    region[0] = '\0';
    if (restricted)
        *restricted = false;
    if (!oss_app_id_valid(account_id)) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return false;
    }
    /* accounts registered before oss.account_scope existed have no row:
     * their AccountRegistered tells that they exist */
    PGconn *conn = api_req_conn(w, req);
    if (!conn)
        return false;
    PGresult *r = api_req_result(
        w, req, "account scope", conn,
        oss_journal_read_account_scope(conn, account_id), API_REQ_ROWS);
    if (!r)
        return false;
    bool found = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't';
    if (found && !PQgetisnull(r, 0, 0))
        snprintf(region, 11, "%s", PQgetvalue(r, 0, 0));
    if (found && restricted)
        *restricted = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    if (!found) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return false;
    }
    return true;
}

bool
api_auth_allow(oss_http_req_t *req, const oss_principal_t *p, oss_action_t a,
               const oss_target_t *t) {
    const char *why = "";
    char msg[160];

    switch (oss_authz_check(p, a, t, &why)) {
    case OSS_AUTHZ_ALLOW:
        return true;
    case OSS_AUTHZ_HIDDEN:
        oss_info("refused %s principal=%s: %s", oss_action_name(a),
                 p ? p->principal_id : "", why);
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return false;
    case OSS_AUTHZ_FORBIDDEN:
        break;
    }
    oss_info("refused %s principal=%s: %s", oss_action_name(a),
             p ? p->principal_id : "", why);
    if (!strcmp(why, "account_restricted")) {
        oss_http_reply_error(req, 403, "account_restricted",
                             OSS_API_RESTRICTED_MSG, NULL);
        return false;
    }
    snprintf(msg, sizeof msg, "not allowed to %s (%s)", oss_action_name(a),
             !strcmp(why, "out_of_scope") ? "out of your scope"
             : !strcmp(why, "other_institution")
                 ? "another institution"
                 : "your role does not allow it");
    oss_http_reply_error(req, 403, "forbidden", msg, NULL);
    return false;
}
