/* Business access rights as use cases (see access.h). */
#include "app/access.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/cmd.h"
#include "app/codec.h"
#include "app/notice.h"
#include "core/account.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "journal/reads.h"
#include "log/log.h"

static const char *const op_names[] = {
    "member_add",    "member_remove",   "transfer_offer",  "transfer_accept",
    "handover_file", "handover_object", "handover_decide", "terminate",
    "restrict",      "lift_restriction"};

const char *
oss_app_ac_op_name(oss_app_ac_op_t op) {
    return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op]
                                                               : "unknown";
}

/* ---- configuration ------------------------------------------------------- */

void
oss_app_ac_cfg_default(oss_app_ac_cfg_t *c) {
    memset(c, 0, sizeof *c);
    oss_ac_policy_default(&c->policy);
}

void
oss_app_ac_cfg_load(oss_app_ac_cfg_t *c, const oss_config_t *cfg) {
    oss_app_ac_cfg_default(c);
    c->policy.cooling_off_working_days =
        (int)oss_config_int(cfg, "access.cooling_off_working_days");
    c->policy.transfer_ttl_us =
        oss_config_int(cfg, "access.transfer_ttl_s") * 1000000LL;
    const char *path = oss_config_str(cfg, "access.holidays_file");
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    if (!f) {
        oss_warn("could not open access.holidays_file \"%s\": cooling-off "
                 "periods skip weekends only",
                 path ? path : "");
        return;
    }
    char line[256];
    size_t n = 0;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        int32_t ymd;
        lineno++;
        int r = oss_ac_holiday_parse(line, &ymd);
        if (r < 0)
            oss_warn("access.holidays_file \"%s\" line %d: not a date "
                     "(YYYY-MM-DD), ignored",
                     path, lineno);
        else if (r > 0 && n < OSS_AC_MAX_HOLIDAYS)
            c->holidays[n++] = ymd;
    }
    fclose(f);
    c->policy.nholidays = oss_ac_holidays_sort(c->holidays, n);
    c->policy.holidays = c->holidays;
    oss_info("access rights: cooling-off %d working days, %zu holidays",
             c->policy.cooling_off_working_days, c->policy.nholidays);
}

/* ---- one access command -------------------------------------------------- */

static void attempt_clear(oss_app_ac_t *a);

static oss_actor_kind_t
actor_kind(const oss_principal_t *p) {
    for (size_t i = 0; i < p->ngrants; i++) {
        if (p->grants[i].role == OSS_ROLE_OFFICER)
            return OSS_ACTOR_OFFICER;
        if (p->grants[i].role == OSS_ROLE_OPERATOR)
            return OSS_ACTOR_OPERATOR;
    }
    return OSS_ACTOR_BUSINESS_USER;
}

oss_code_t
oss_app_ac_read(oss_journal_t *j, const char *account_id, oss_ac_state_t *st,
                oss_err_t *err) {
    oss_event_list_t h = {0};
    char stream[OSS_ID_MAX];
    snprintf(stream, sizeof stream, "account-%s", account_id);
    oss_code_t rc = oss_journal_load(j, stream, &h, err);
    if (rc == OSS_OK)
        oss_app_ac_fold(h.items, h.len, account_id, st);
    oss_event_list_free(&h);
    return rc;
}

oss_code_t
oss_app_principal_known(oss_journal_t *j, const char *principal_id, bool *known,
                        oss_err_t *err) {
    PGresult *r =
        oss_journal_read_principal_known(oss_journal_conn(j), principal_id);
    *known = false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not look the principal up");
    }
    *known = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return OSS_OK;
}

/* Loads principal_id's current contact for a notice of kind (skipped, with
 * a log line, when the person cannot be reached: erased or unknown). */
static oss_code_t
want_notice(oss_app_ac_t *a, const char *principal_id, const char *kind,
            oss_err_t *err) {
    oss_err_t why;
    if (!principal_id || !*principal_id ||
        a->nnotices >= OSS_APP_AC_MAX_NOTICES)
        return OSS_OK;
    oss_app_ac_notice_t *n = &a->notices[a->nnotices];
    memset(n, 0, sizeof *n);
    oss_err_clear(&why);
    oss_code_t rc =
        oss_app_contact_current(a->app, a->j, principal_id, &n->c, &why);
    if (rc == OSS_EUNAVAIL) {
        *err = why;
        a->failed_at = OSS_APP_AC_AT_CONTACT;
        return rc;
    }
    if (rc != OSS_OK) {
        oss_info("no %s notice for principal=%s: %s", kind, principal_id,
                 why.reason[0] ? why.reason : why.msg);
        oss_app_contact_clear(&n->c);
        return OSS_OK;
    }
    n->kind = kind;
    oss_str_copy(n->principal_id, sizeof n->principal_id, principal_id);
    a->nnotices++;
    return OSS_OK;
}

static void
add_affected(oss_app_ac_t *a, const char *id) {
    if (!id || !*id || a->naffected >= OSS_APP_AC_MAX_AFFECTED)
        return;
    for (size_t i = 0; i < a->naffected; i++)
        if (!strcmp(a->affected[i], id))
            return;
    oss_str_copy(a->affected[a->naffected], OSS_AC_ID_MAX, id);
    a->naffected++;
}

/* Whose grants and sessions the decision ends (from state st). */
static void
affected_of(oss_app_ac_t *a, const oss_ac_state_t *st) {
    a->naffected = 0;
    switch (a->op) {
    case OSS_APP_AC_MEMBER_REMOVE:
        add_affected(a, a->principal_id);
        break;
    case OSS_APP_AC_TRANSFER_ACCEPT:
    case OSS_APP_AC_HANDOVER_DECIDE:
        if (a->op == OSS_APP_AC_TRANSFER_ACCEPT || a->approve)
            add_affected(a, st->owner);
        break;
    case OSS_APP_AC_TERMINATE:
    case OSS_APP_AC_RESTRICT: /* everyone's sessions end */
        if (a->op == OSS_APP_AC_TERMINATE && a->principal_id[0]) {
            add_affected(a, a->principal_id);
        } else {
            add_affected(a, st->owner);
            for (size_t i = 0; i < st->nmembers; i++)
                add_affected(a, st->members[i].principal_id);
        }
        break;
    default: /* adding, offering, filing, objecting end no one's access */
        break;
    }
}

static bool
same_affected(oss_app_ac_t *a, const oss_ac_state_t *st) {
    char saved[OSS_APP_AC_MAX_AFFECTED][OSS_AC_ID_MAX];
    size_t n = a->naffected;
    memcpy(saved, a->affected, sizeof saved);
    affected_of(a, st);
    bool same = n == a->naffected;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(saved[i], a->affected[i]);
    memcpy(a->affected, saved, sizeof saved);
    a->naffected = n;
    return same;
}

/* The access command's decide (ctx = areq_t). */
static oss_code_t
access_decide(void *vctx, const oss_event_t *history, size_t n,
              oss_event_list_t *out, oss_err_t *err) {
    oss_app_ac_t *a = vctx;
    const oss_ac_policy_t *p = &a->cfg->policy;
    oss_code_t rc;

    oss_app_ac_fold(history, n, a->account_id, &a->st);
    /* the principals affected were read before the transaction: when the
     * account moved meanwhile, plan again (no field: the caller retries) */
    if (!same_affected(a, &a->st))
        return oss_err_set(err, OSS_ECONFLICT,
                           "the account's members changed meanwhile");
    switch (a->op) {
    case OSS_APP_AC_MEMBER_ADD:
        rc = oss_ac_decide_add_member(&a->st, a->now, a->principal_id, a->role,
                                      &a->d, err);
        break;
    case OSS_APP_AC_MEMBER_REMOVE:
        rc = oss_ac_decide_remove_member(&a->st, a->now, a->principal_id, &a->d,
                                         err);
        break;
    case OSS_APP_AC_TRANSFER_OFFER:
        rc = oss_ac_decide_offer_transfer(&a->st, p, a->now, a->principal_id,
                                          &a->d, err);
        break;
    case OSS_APP_AC_TRANSFER_ACCEPT:
        rc = oss_ac_decide_accept_transfer(&a->st, a->now,
                                           a->actor->principal_id, &a->d, err);
        break;
    case OSS_APP_AC_HANDOVER_FILE:
        rc = oss_ac_decide_file_handover(
            &a->st, p, a->now, a->request_id, a->actor->principal_id,
            a->principal_id, a->evidence_ref, &a->d, err);
        if (rc == OSS_OK)
            oss_str_copy(a->d.facts[0].previous_owner,
                         sizeof a->d.facts[0].previous_owner, a->st.owner);
        break;
    case OSS_APP_AC_HANDOVER_OBJECT:
        rc = oss_ac_decide_object_handover(&a->st, a->now, a->request_id,
                                           a->actor->principal_id, &a->d, err);
        break;
    case OSS_APP_AC_HANDOVER_DECIDE:
        rc = oss_ac_decide_handover(&a->st, a->now, a->request_id, a->approve,
                                    &a->d, err);
        break;
    case OSS_APP_AC_TERMINATE:
        rc = oss_ac_decide_terminate(&a->st, a->now, a->term, a->principal_id,
                                     a->evidence_ref, &a->d, err);
        break;
    case OSS_APP_AC_RESTRICT:
        rc =
            oss_ac_decide_restrict(&a->st, a->now, a->evidence_ref, &a->d, err);
        break;
    case OSS_APP_AC_LIFT:
        rc = oss_ac_decide_lift_restriction(&a->st, a->now, &a->d, err);
        break;
    default:
        rc = oss_err_set(err, OSS_EINTERNAL, "unknown access op");
    }
    if (rc != OSS_OK)
        return rc;
    for (size_t i = 0; i < a->d.n; i++)
        if ((rc = oss_app_ac_encode(&a->d.facts[i], a->new_principal, a->reason,
                                    out, err)) != OSS_OK)
            return rc;
    return OSS_OK;
}

static void
fmt_wib(int64_t us, char *out, size_t n) {
    time_t t = (time_t)(us / 1000000) + 7 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M WIB", &tm);
}

/* The template variables of notice n (new, from oss_app_notice_vars():
 * the caller wipes and frees it; NULL on OOM). */
static char *
notice_vars(const oss_app_ac_t *a, const oss_app_ac_notice_t *n) {
    const oss_ac_fact_t *f = &a->d.facts[0];
    char until[40];
    if (!strcmp(n->kind, "handover_filed")) {
        fmt_wib(f->until_us, until, sizeof until);
        const char *kv[] = {
            "name",         n->c.name,       "account_id",
            a->account_id,  "request_id",    f->request_id,
            "evidence_ref", f->evidence_ref, "cooling_off_until",
            until};
        return oss_app_notice_vars(kv, 5);
    }
    if (!strcmp(n->kind, "handover_decided")) {
        const char *kv[] = {
            "name",
            n->c.name,
            "account_id",
            a->account_id,
            "decision",
            a->approve ? "approved / disetujui" : "rejected / ditolak",
            "reason",
            a->reason};
        return oss_app_notice_vars(kv, 4);
    }
    if (!strcmp(n->kind, "access_restricted") ||
        !strcmp(n->kind, "access_restriction_lifted")) {
        const char *kv[] = {"name",        n->c.name, "account_id",
                            a->account_id, "reason",  a->reason};
        return oss_app_notice_vars(kv, 3);
    }
    if (!strcmp(n->kind, "access_terminated")) {
        const char *kv[] = {"name",        n->c.name,
                            "account_id",  a->account_id,
                            "reason_code", oss_ac_term_name(f->term)};
        return oss_app_notice_vars(kv, 3);
    }
    if (!strcmp(n->kind, "member_added")) {
        const char *kv[] = {"name",        n->c.name, "account_id",
                            a->account_id, "role",    oss_role_name(f->role)};
        return oss_app_notice_vars(kv, 3);
    }
    const char *kv[] = {"name", n->c.name, "account_id", a->account_id};
    return oss_app_notice_vars(kv, 2); /* transfer_offered */
}

/* The grant, session and credential changes and the notices of the access
 * command, in its transaction (ctx = areq_t). */
static oss_code_t
access_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
             void *qctx, oss_err_t *err) {
    oss_app_ac_t *a = vctx;
    oss_code_t rc = OSS_OK;
    const oss_ac_fact_t *f = &a->d.facts[0];
    char why[48];

    if (!a->d.n)
        return OSS_OK;
    snprintf(why, sizeof why, "%s", cmd->events.items[0].payload_type + 7);
    /* whoever's access ended: grants on the account, sessions, and (except
     * for a delegate removed by the owner) the password; a restriction ends
     * the sessions only (lifting it restores sign-in) */
    bool restrict_only = f->kind == OSS_AC_RESTRICTED;
    for (size_t i = 0; i < a->naffected && rc == OSS_OK; i++) {
        if (restrict_only) {
            rc = oss_app_sessions_queue_revoke(q, qctx, a->affected[i], why,
                                               false, err);
            continue;
        }
        rc = oss_app_grant_queue_revoke(q, qctx, a->affected[i], a->account_id,
                                        why, err);
        if (rc == OSS_OK)
            rc = oss_app_sessions_queue_revoke(
                q, qctx, a->affected[i], why, a->op != OSS_APP_AC_MEMBER_REMOVE,
                err);
    }
    if (rc != OSS_OK)
        return rc;
    if (f->kind == OSS_AC_RESTRICTED) {
        const char *v[] = {a->account_id, a->actor->principal_id,
                           cmd->events.items[0].event_id};
        if ((rc = oss_app_queue(q, qctx,
                                "INSERT INTO oss.account_restrictions "
                                "(account_id, restricted_by, event_id) VALUES "
                                "($1, $2, $3::uuid)",
                                3, v, err)) != OSS_OK)
            return rc;
    }
    if (f->kind == OSS_AC_RESTRICTION_LIFTED) {
        const char *v[] = {a->account_id};
        if ((rc = oss_app_queue(q, qctx,
                                "DELETE FROM oss.account_restrictions WHERE "
                                "account_id = $1",
                                1, v, err)) != OSS_OK)
            return rc;
    }
    if (f->kind == OSS_AC_MEMBER_ADDED && !a->new_principal) {
        /* an existing principal (a new one gets its grant with its
         * PrincipalCreated) */
        oss_grant_t g = {.role = f->role};
        oss_str_copy(g.account_id, sizeof g.account_id, a->account_id);
        if ((rc = oss_app_grant_queue_add(q, qctx, f->principal_id, &g, err)) !=
            OSS_OK)
            return rc;
    }
    if (f->kind == OSS_AC_TRANSFER_ACCEPTED ||
        f->kind == OSS_AC_HANDOVER_APPROVED) {
        /* the new owner: a delegate's grant becomes the owner grant */
        oss_grant_t g = {.role = OSS_ROLE_OWNER};
        oss_str_copy(g.account_id, sizeof g.account_id, a->account_id);
        rc = oss_app_grant_queue_revoke(q, qctx, f->principal_id, a->account_id,
                                        "became_owner", err);
        if (rc == OSS_OK)
            rc = oss_app_grant_queue_add(q, qctx, f->principal_id, &g, err);
        if (rc != OSS_OK)
            return rc;
    }
    for (size_t i = 0; i < a->nnotices && rc == OSS_OK; i++) {
        oss_app_ac_notice_t *n = &a->notices[i];
        char *vars = notice_vars(a, n);
        if (!vars)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        static const char *const chans[] = {"email", "whatsapp"};
        for (int c = 0; c < 2 && rc == OSS_OK; c++) {
            if (!(c ? n->c.phone : n->c.email)[0])
                continue;
            rc = oss_app_notice_queue(&n->c, n->kind, chans[c], a->account_id,
                                      cmd, 0, vars, 0, q, qctx, err);
        }
        OPENSSL_cleanse(vars, strlen(vars));
        free(vars);
    }
    return rc;
}

/* SessionEnded for every open session of one affected principal, only
 * when the access command appended (ctx = ends_t). */
static oss_code_t
ends_decide(void *vctx, const oss_event_t *history, size_t n,
            oss_event_list_t *out, oss_err_t *err) {
    oss_app_ac_ends_t *e = vctx;
    oss_lc_state_t st;
    oss_code_t rc;

    if (e->a->cmds[0].outcome != OSS_JOURNAL_APPENDED)
        return oss_err_coded(err, OSS_ECONFLICT, "skipped",
                             "the access command did not append");
    if (n == 0)
        return OSS_OK; /* no access stream: never signed in */
    oss_app_lc_fold(history, n, true, &st);
    for (size_t i = 0; i < st.nsessions; i++) {
        oss_lc_decision_t d;
        size_t before = out->len;
        if (oss_lc_decide_end_session(&st, e->a->now, st.sessions[i].id,
                                      "access_revoked", &d, err) != OSS_OK)
            continue; /* expired meanwhile */
        if ((rc = oss_app_lc_encode(&d, &st, e->principal_id, out, err)) !=
            OSS_OK)
            return rc;
        if (e->a->reason[0] && (rc = oss_app_events_reason(
                                    out, before, e->a->reason, err)) != OSS_OK)
            return rc;
    }
    return OSS_OK;
}

/* The new principal's decide, only when the access command appended. */
static oss_code_t
pn_decide(void *vctx, const oss_event_t *history, size_t n,
          oss_event_list_t *out, oss_err_t *err) {
    oss_app_ac_t *a = vctx;
    if (a->cmds[0].outcome != OSS_JOURNAL_APPENDED)
        return oss_err_coded(err, OSS_ECONFLICT, "skipped",
                             "the access command did not append");
    return a->pn_decide(a->pn_ctx, history, n, out, err);
}

static oss_code_t
pn_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    oss_app_ac_t *a = vctx;
    return a->pn_extra(a->pn_ctx, cmd, q, qctx, err);
}

static void
fill_cmd(oss_app_ac_t *a, oss_command_t *c, const char *stream) {
    oss_app_cmd_init(c, stream, actor_kind(a->actor), a->actor->principal_id,
                     a->correlation_id);
}

/* Prepares one attempt's batch: the state read now, the new principal, the
 * contacts to notify, the commands. */
static oss_code_t
prepare(oss_app_ac_t *a, oss_err_t *err) {
    oss_code_t rc;

    attempt_clear(a);
    a->now = oss_now_us();
    snprintf(a->stream_id, sizeof a->stream_id, "account-%s", a->account_id);
    if ((rc = oss_app_ac_read(a->j, a->account_id, &a->pre, err)) != OSS_OK) {
        a->failed_at = OSS_APP_AC_AT_READ;
        return rc;
    }
    affected_of(a, &a->pre);
    if (a->op == OSS_APP_AC_HANDOVER_FILE && !a->request_id[0])
        oss_uuid7(a->request_id);
    if (a->new_principal) {
        oss_grant_t g = {.role = a->role};
        oss_str_copy(g.account_id, sizeof g.account_id, a->account_id);
        const char *cause = a->op == OSS_APP_AC_MEMBER_ADD       ? "delegate"
                            : a->op == OSS_APP_AC_TRANSFER_OFFER ? "transfer"
                                                                 : "handover";
        rc = oss_app_principal_prepare(
            a->app, &a->person, "business",
            a->op == OSS_APP_AC_MEMBER_ADD ? &g : NULL, cause, &a->pn, err);
        if (rc != OSS_OK) {
            oss_error("could not prepare a principal: %s", err->msg);
            a->failed_at = OSS_APP_AC_AT_PREPARE;
            return rc;
        }
        a->has_pn = true;
        oss_str_copy(a->principal_id, sizeof a->principal_id,
                     a->pn.principal_id);
    }
    /* who is told */
    rc = OSS_OK;
    switch (a->op) {
    case OSS_APP_AC_HANDOVER_FILE:
        rc = want_notice(a, a->pre.owner, "handover_filed", err);
        break;
    case OSS_APP_AC_HANDOVER_DECIDE: {
        const oss_ac_request_t *r = oss_ac_request_find(&a->pre, a->request_id);
        rc = want_notice(a, a->pre.owner, "handover_decided", err);
        if (rc == OSS_OK && r && strcmp(r->new_owner, a->pre.owner))
            rc = want_notice(a, r->new_owner, "handover_decided", err);
        break;
    }
    case OSS_APP_AC_TERMINATE:
        for (size_t i = 0; rc == OSS_OK && i < a->naffected; i++)
            rc = want_notice(a, a->affected[i], "access_terminated", err);
        break;
    case OSS_APP_AC_RESTRICT:
        for (size_t i = 0; rc == OSS_OK && i < a->naffected; i++)
            rc = want_notice(a, a->affected[i], "access_restricted", err);
        break;
    case OSS_APP_AC_LIFT:
        rc = want_notice(a, a->pre.owner, "access_restriction_lifted", err);
        for (size_t i = 0; rc == OSS_OK && i < a->pre.nmembers; i++)
            rc = want_notice(a, a->pre.members[i].principal_id,
                             "access_restriction_lifted", err);
        break;
    case OSS_APP_AC_TRANSFER_OFFER:
        if (!a->new_principal)
            rc = want_notice(a, a->principal_id, "transfer_offered", err);
        break;
    case OSS_APP_AC_MEMBER_ADD:
        if (!a->new_principal)
            rc = want_notice(a, a->principal_id, "member_added", err);
        break;
    default:
        break;
    }
    if (rc != OSS_OK)
        return rc;
    /* the batch */
    oss_command_t *c = &a->cmds[a->ncmds++];
    fill_cmd(a, c, a->stream_id);
    c->decide = access_decide;
    c->ctx = a;
    c->extra_fn = access_extra;
    for (size_t i = 0; i < a->naffected; i++) {
        oss_app_ac_ends_t *e = &a->ends[i];
        e->a = a;
        oss_str_copy(e->principal_id, sizeof e->principal_id, a->affected[i]);
        snprintf(e->stream_id, sizeof e->stream_id,
                 OSS_APP_ACCESS_STREAM_PREFIX "%s", a->affected[i]);
        c = &a->cmds[a->ncmds++];
        fill_cmd(a, c, e->stream_id);
        c->decide = ends_decide;
        c->ctx = e;
    }
    if (a->has_pn) {
        /* the new principal's command last, by value */
        c = &a->cmds[a->ncmds++];
        a->pn_decide = a->pn.cmd.decide;
        a->pn_extra = a->pn.cmd.extra_fn;
        a->pn_ctx = a->pn.cmd.ctx;
        fill_cmd(a, c, a->pn.cmd.stream_id);
        c->expected_version = 0;
        c->decide = pn_decide;
        c->extra_fn = pn_extra;
        c->ctx = a;
    }
    return OSS_OK;
}

/* The attempts of oss_app_ac_execute(), a->cfg set. */
static oss_code_t
run_attempts(oss_app_ac_t *a, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        oss_err_clear(err);
        if ((rc = prepare(a, err)) != OSS_OK)
            return rc;
        if ((rc = oss_journal_execute(a->j, a->cmds, a->ncmds, err)) !=
            OSS_OK) {
            a->failed_at = OSS_APP_AC_AT_APPEND;
            return rc;
        }
        if (!oss_app_cmd_conflicted(&a->cmds[0]))
            break;
    }
    return rc;
}

oss_code_t
oss_app_ac_execute(oss_app_t *app, oss_journal_t *j, oss_app_ac_t *a,
                   oss_err_t *err) {
    /* no configuration: the core's defaults, for this call only (a shared
     * lazily-filled copy would race between worker threads) */
    oss_app_ac_cfg_t defaults;
    const oss_app_ac_cfg_t *given = a->cfg;
    if (!given) {
        oss_app_ac_cfg_default(&defaults);
        a->cfg = &defaults;
    }
    a->app = app;
    a->j = j;
    a->failed_at = OSS_APP_AC_AT_APPEND;
    oss_code_t rc = run_attempts(a, err);
    a->cfg = given;
    return rc;
}

static void
attempt_clear(oss_app_ac_t *a) {
    for (size_t i = 0; i < a->ncmds; i++) {
        oss_event_list_free(&a->cmds[i].events);
        free(a->cmds[i].replay_response);
    }
    memset(a->cmds, 0, sizeof a->cmds);
    a->ncmds = 0;
    for (size_t i = 0; i < a->nnotices; i++)
        oss_app_contact_clear(&a->notices[i].c);
    a->nnotices = 0;
    if (a->has_pn)
        oss_app_principal_clear(&a->pn);
    a->has_pn = false;
    a->naffected = 0;
}

void
oss_app_ac_clear(oss_app_ac_t *a) {
    attempt_clear(a);
    OPENSSL_cleanse(&a->person, sizeof a->person);
}
