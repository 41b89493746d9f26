/* Government principals (gov.h): creation and revocation, written once for
 * the API and the console. */
#include "app/gov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "core/account.h"
#include "core/clock.h"
#include "oss/v1/principal.pb-c.h"

oss_code_t
oss_app_principal_create(oss_app_t *app, oss_journal_t *j, oss_app_create_t *c,
                         oss_err_t *err) {
    oss_app_principal_new_t pn;
    oss_code_t rc;

    c->prepared = false;
    c->principal_id[0] = '\0';
    c->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&c->err);
    rc = oss_app_principal_prepare(app, c->who, c->kind, c->grant, c->cause,
                                   &pn, err);
    if (rc != OSS_OK)
        return rc;
    if (c->notice_kind) {
        /* best effort: the activation goes anyway */
        oss_err_t nerr;
        oss_err_clear(&nerr);
        (void)oss_app_principal_notice(&pn, c->notice_kind, c->notice_vars,
                                       &nerr);
    }
    c->prepared = true;
    snprintf(c->principal_id, sizeof c->principal_id, "%s", pn.principal_id);
    pn.cmd.actor_kind = c->actor_kind;
    pn.cmd.actor_id = c->actor_id;
    pn.cmd.correlation_id = c->correlation_id;
    rc = oss_journal_execute(j, &pn.cmd, 1, err);
    if (rc == OSS_OK) {
        c->outcome = pn.cmd.outcome;
        c->err = pn.cmd.err;
        /* the journal names the claim's field; the officer claim is the
         * only claim of this command */
        if (c->outcome == OSS_JOURNAL_REJECTED &&
            c->err.code == OSS_EDUPLICATE && pn.cmd.nclaims &&
            !strcmp(c->err.field, pn.cmd.claims[0].field))
            oss_err_reason(&c->err, OSS_APP_REASON_OFFICER_EXISTS);
    }
    oss_app_principal_clear(&pn);
    return rc;
}

/* ---- revocation ---------------------------------------------------------- */

typedef struct revoke_ctx {
    oss_app_revoke_t *r;
    int64_t now;
} revoke_ctx_t;

static bool
is_gov_role(oss_role_t r) {
    return r == OSS_ROLE_OFFICER || r == OSS_ROLE_ACCESS_ADMIN ||
           r == OSS_ROLE_OPERATOR || r == OSS_ROLE_AUDITOR;
}

/* OfficerRevoked for the officer grants of r->institution. */
static oss_code_t
push_officer_revoked(oss_app_revoke_t *r, oss_event_list_t *out,
                     oss_err_t *err) {
    Oss__V1__OfficerRevoked m = OSS__V1__OFFICER_REVOKED__INIT;
    m.principal_id = (char *)r->principal_id;
    m.institution = (char *)r->institution;
    m.reason = (char *)r->reason;
    m.grants_revoked = (int32_t)r->grants;
    return oss_app_event_push(out, OSS_APP_T_OFFICER_REVOKED, &m.base, 0,
                              r->reason, err);
}

/* Decided on the loaded access stream: its active grants as folded (a
 * concurrent revocation makes the second one find none). */
static oss_code_t
revoke_decide(void *vctx, const oss_event_t *history, size_t n,
              oss_event_list_t *out, oss_err_t *err) {
    revoke_ctx_t *rc_ = vctx;
    oss_app_revoke_t *r = rc_->r;
    oss_grant_t g[OSS_AUTHZ_MAX_GRANTS];
    size_t ng = oss_app_grants_fold(history, n, g, OSS_AUTHZ_MAX_GRANTS);
    oss_code_t rc;

    r->grants = r->sessions = 0;
    if (r->institution) {
        for (size_t i = 0; i < ng; i++)
            if (g[i].role == OSS_ROLE_OFFICER &&
                !strcmp(g[i].institution, r->institution))
                r->grants++;
        if (r->grants == 0)
            return oss_err_field(err, OSS_ENOTFOUND, "principal_id",
                                 "no active officer with this id in this "
                                 "institution");
        if ((rc = push_officer_revoked(r, out, err)) != OSS_OK)
            return rc;
    } else {
        for (size_t i = 0; i < ng; i++) {
            if (!is_gov_role(g[i].role))
                continue;
            if ((rc = oss_app_grant_event_push(out, false, r->principal_id,
                                               &g[i], r->reason, err)) !=
                OSS_OK)
                return rc;
            r->grants++;
        }
        if (r->grants == 0)
            return oss_err_field(
                err, OSS_ENOTFOUND, "principal_id",
                "principal %s holds no active government grant",
                r->principal_id);
    }
    /* every open session ends with it (the rows are revoked in extra) */
    return oss_app_sessions_end_all(history, n, r->principal_id, rc_->now,
                                    r->institution ? "officer_revoked"
                                                   : "principal_revoked",
                                    out, &r->sessions, err);
}

static oss_code_t
revoke_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
             void *qctx, oss_err_t *err) {
    oss_app_revoke_t *r = ((revoke_ctx_t *)vctx)->r;
    char stream[OSS_ID_MAX];
    oss_code_t rc;
    (void)cmd;

    if (r->institution) {
        const char *v[] = {r->principal_id, r->institution, r->reason};
        rc = oss_app_queue(
            q, qctx,
            "UPDATE oss.grants SET revoked_at = now(), revoke_reason = $3 "
            "WHERE principal_id = $1 AND institution = $2 AND role = "
            "'officer' AND revoked_at IS NULL",
            3, v, err);
    } else {
        const char *v[] = {r->principal_id, r->reason};
        rc = oss_app_queue(
            q, qctx,
            "UPDATE oss.grants SET revoked_at = now(), revoke_reason = $2 "
            "WHERE principal_id = $1 AND revoked_at IS NULL AND role IN "
            "('officer', 'access_admin', 'operator', 'auditor')",
            2, v, err);
    }
    if (rc != OSS_OK)
        return rc;
    /* the person may be made an officer of the institution again later */
    snprintf(stream, sizeof stream, OSS_APP_ACCESS_STREAM_PREFIX "%s",
             r->principal_id);
    const char *cv[] = {stream};
    rc = oss_app_queue(q, qctx,
                       "DELETE FROM oss.identity_claims WHERE kind = "
                       "'" OSS_APP_CLAIM_OFFICER "' AND stream_id = $1",
                       1, cv, err);
    if (rc == OSS_OK)
        rc = oss_app_sessions_queue_revoke(q, qctx, r->principal_id,
                                           r->institution ? "officer_revoked"
                                                          : "principal_revoked",
                                           false, err);
    /* no other grant left: the credentials go too */
    if (rc == OSS_OK)
        rc = oss_app_credentials_queue_drop_if_ungranted(q, qctx,
                                                         r->principal_id, err);
    return rc;
}

oss_code_t
oss_app_principal_revoke(oss_journal_t *j, oss_app_revoke_t *r,
                         oss_err_t *err) {
    oss_command_t c;
    revoke_ctx_t rv = {.r = r};
    char stream[OSS_ID_MAX];
    oss_code_t rc = OSS_OK;

    memset(&c, 0, sizeof c);
    r->grants = r->sessions = 0;
    r->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&r->err);
    snprintf(stream, sizeof stream, OSS_APP_ACCESS_STREAM_PREFIX "%s",
             r->principal_id);
    c.stream_id = stream;
    c.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c.expected_version = -1;
    c.actor_kind = r->actor_kind;
    c.actor_id = r->actor_id;
    c.correlation_id = r->correlation_id;
    c.decide = revoke_decide;
    c.ctx = &rv;
    c.extra_fn = revoke_extra;
    for (int attempt = 0; attempt < 3; attempt++) {
        oss_event_list_free(&c.events);
        rv.now = oss_now_us();
        if ((rc = oss_journal_execute(j, &c, 1, err)) != OSS_OK)
            goto done;
        if (!oss_app_cmd_conflicted(&c))
            break;
    }
    r->outcome = c.outcome;
    r->err = c.err;
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    return rc;
}
