/* Business access rights over HTTP (see access.h): each request is
 * authenticated and authorized synchronously (auth.h), then runs as ONE
 * oss_journal_execute() batch: the access command on "account-<id>"
 * (decided by src/core/access.c against the real clock), the commands it
 * needs on other streams (a new principal's PrincipalCreated + activation,
 * SessionEnded on each affected principal's access stream) whose decide
 * runs only when the access command appended, and, in the access
 * command's extra_fn, the grant / session / credential changes and the
 * targeted notices. Runs on the API's worker pool. */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "app/codec.h"
#include "auth.h"
#include "core/access.h"
#include "core/clock.h"
#include "core/utc.h"
#include "core/validate.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/access.pb-c.h"
#include "oss/v1/account.pb-c.h"
#include "request.h"

/* ---- configuration ---------------------------------------------------------
 */

static oss_ac_policy_t g_policy;
static int32_t g_holidays[OSS_AC_MAX_HOLIDAYS];
static int g_inited;

static const oss_ac_policy_t *
policy(void) {
    if (!g_inited) {
        oss_ac_policy_default(&g_policy);
        g_inited = 1;
    }
    return &g_policy;
}

void
api_access_init(const oss_config_t *cfg) {
    oss_ac_policy_default(&g_policy);
    g_inited = 1;
    g_policy.cooling_off_working_days =
        (int)oss_config_int(cfg, "access.cooling_off_working_days");
    g_policy.transfer_ttl_us =
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
            g_holidays[n++] = ymd;
    }
    fclose(f);
    g_policy.nholidays = oss_ac_holidays_sort(g_holidays, n);
    g_policy.holidays = g_holidays;
    oss_info("access rights: cooling-off %d working days, %zu holidays",
             g_policy.cooling_off_working_days, g_policy.nholidays);
}

/* ---- one request
 * ------------------------------------------------------------- */

enum {
    OP_MEMBER_ADD,
    OP_MEMBER_REMOVE,
    OP_TRANSFER_OFFER,
    OP_TRANSFER_ACCEPT,
    OP_HANDOVER_FILE,
    OP_HANDOVER_OBJECT,
    OP_HANDOVER_DECIDE,
    OP_TERMINATE
};

#define MAX_AFFECTED (OSS_AC_MAX_MEMBERS + 1)

static const char *const op_names[] = {
    "member_add",    "member_remove",   "transfer_offer",  "transfer_accept",
    "handover_file", "handover_object", "handover_decide", "terminate"};
#define MAX_NOTICES (MAX_AFFECTED + 1)

typedef struct areq areq_t;

/* The SessionEnded command of one affected principal. */
typedef struct ends {
    areq_t *a;
    char principal_id[OSS_AC_ID_MAX];
    char stream_id[OSS_ID_MAX];
} ends_t;

typedef struct notice {
    oss_app_contact_t c;
    const char *kind;
    char principal_id[OSS_AC_ID_MAX];
} notice_t;

struct areq {
    api_worker_t *w;
    api_ctx_t *ctx;
    oss_http_req_t *req;
    int op;
    oss_principal_t p;
    char session_id[OSS_UUID_STR];
    char account_id[OSS_AC_ID_MAX];
    char stream_id[OSS_ID_MAX];
    char region[11];
    /* inputs */
    char principal_id[OSS_AC_ID_MAX]; /* member / offered / new owner /
                                         whose access ends */
    oss_role_t role;
    char request_id[OSS_AC_ID_MAX];
    char evidence_ref[OSS_AC_REF_MAX];
    char reason[300];
    bool approve;
    oss_ac_term_t term;
    bool new_principal;
    oss_app_person_t person;
    /* per attempt */
    int64_t now;
    oss_ac_state_t pre; /* read before the transaction */
    oss_ac_state_t st;  /* folded inside it */
    oss_ac_decision_t d;
    char affected[MAX_AFFECTED][OSS_AC_ID_MAX];
    size_t naffected;
    ends_t ends[MAX_AFFECTED];
    notice_t notices[MAX_NOTICES];
    size_t nnotices;
    oss_app_principal_new_t pn;
    bool has_pn;
    oss_decide_fn pn_decide;
    oss_code_t (*pn_extra)(void *, const oss_command_t *, oss_journal_queue_fn,
                           void *, oss_err_t *);
    void *pn_ctx;
    oss_command_t cmds[2 + MAX_AFFECTED];
    size_t ncmds;
};

static areq_t *
areq_new(api_worker_t *w, api_job_t *job, int op) {
    areq_t *a = calloc(1, sizeof *a);
    if (!a) {
        oss_http_reply_error(job->req, 500, NULL, "out of memory", NULL);
        return NULL;
    }
    a->w = w;
    a->ctx = api_worker_ctx(w);
    a->req = job->req;
    a->op = op;
    api_req_copy(a->account_id, sizeof a->account_id,
                 oss_http_req_param(job->req, 0));
    snprintf(a->stream_id, sizeof a->stream_id, "account-%s", a->account_id);
    return a;
}

static void
attempt_clear(areq_t *a) {
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

static void
areq_free(areq_t *a) {
    if (!a)
        return;
    attempt_clear(a);
    memset(a, 0, sizeof *a);
    free(a);
}

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

/* Reads and folds the account stream into a->pre. */
static bool
read_state(areq_t *a) {
    oss_event_list_t h = {0};
    oss_err_t err;
    oss_journal_t *j = api_req_journal(a->w, a->req);
    if (!j)
        return false;
    oss_err_clear(&err);
    if (oss_journal_load(j, a->stream_id, &h, &err) != OSS_OK) {
        if (err.code == OSS_EUNAVAIL)
            oss_app_worker_reset(a->w);
        oss_http_reply_error(a->req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not read the account", NULL);
        return false;
    }
    oss_app_ac_fold(h.items, h.len, a->account_id, &a->pre);
    oss_event_list_free(&h);
    return true;
}

/* True when principal_id names a known principal (oss.principals, or a
 * first owner registered before that table existed). */
static int
principal_exists(areq_t *a, const char *principal_id) {
    oss_journal_t *j = api_req_journal(a->w, a->req);
    if (!j)
        return -1;
    PGresult *r =
        oss_journal_read_principal_known(oss_journal_conn(j), principal_id);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        oss_http_reply_error(a->req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        return -1;
    }
    int yes = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return yes;
}

/* Loads principal_id's contact for a notice of kind (skipped, with a log
 * line, when the person cannot be reached: erased or unknown). */
static bool
want_notice(areq_t *a, const char *principal_id, const char *kind) {
    oss_err_t err;
    if (!principal_id || !*principal_id || a->nnotices >= MAX_NOTICES)
        return true;
    notice_t *n = &a->notices[a->nnotices];
    memset(n, 0, sizeof *n);
    oss_err_clear(&err);
    oss_code_t rc = api_contact_load(a->w, principal_id, &n->c, &err);
    if (rc == OSS_EUNAVAIL) {
        oss_http_reply_error(a->req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        return false;
    }
    if (rc != OSS_OK) {
        oss_info("no %s notice for principal=%s: %s", kind, principal_id,
                 err.reason[0] ? err.reason : err.msg);
        oss_app_contact_clear(&n->c);
        return true;
    }
    n->kind = kind;
    api_req_copy(n->principal_id, sizeof n->principal_id, principal_id);
    a->nnotices++;
    return true;
}

static void
add_affected(areq_t *a, const char *id) {
    if (!id || !*id || a->naffected >= MAX_AFFECTED)
        return;
    for (size_t i = 0; i < a->naffected; i++)
        if (!strcmp(a->affected[i], id))
            return;
    api_req_copy(a->affected[a->naffected], OSS_AC_ID_MAX, id);
    a->naffected++;
}

/* Whose grants and sessions the decision ends (from state st). */
static void
affected_of(areq_t *a, const oss_ac_state_t *st) {
    a->naffected = 0;
    switch (a->op) {
    case OP_MEMBER_REMOVE:
        add_affected(a, a->principal_id);
        break;
    case OP_TRANSFER_ACCEPT:
    case OP_HANDOVER_DECIDE:
        if (a->op == OP_TRANSFER_ACCEPT || a->approve)
            add_affected(a, st->owner);
        break;
    case OP_TERMINATE:
        if (a->principal_id[0]) {
            add_affected(a, a->principal_id);
        } else {
            add_affected(a, st->owner);
            for (size_t i = 0; i < st->nmembers; i++)
                add_affected(a, st->members[i].principal_id);
        }
        break;
    }
}

static bool
same_affected(areq_t *a, const oss_ac_state_t *st) {
    char saved[MAX_AFFECTED][OSS_AC_ID_MAX];
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
    areq_t *a = vctx;
    const oss_ac_policy_t *p = policy();
    oss_code_t rc;

    oss_app_ac_fold(history, n, a->account_id, &a->st);
    /* the principals affected were read before the transaction: when the
     * account moved meanwhile, plan again (no field: the caller retries) */
    if (!same_affected(a, &a->st))
        return oss_err_set(err, OSS_ECONFLICT,
                           "the account's members changed meanwhile");
    switch (a->op) {
    case OP_MEMBER_ADD:
        rc = oss_ac_decide_add_member(&a->st, a->now, a->principal_id, a->role,
                                      &a->d, err);
        break;
    case OP_MEMBER_REMOVE:
        rc = oss_ac_decide_remove_member(&a->st, a->now, a->principal_id, &a->d,
                                         err);
        break;
    case OP_TRANSFER_OFFER:
        rc = oss_ac_decide_offer_transfer(&a->st, p, a->now, a->principal_id,
                                          &a->d, err);
        break;
    case OP_TRANSFER_ACCEPT:
        rc = oss_ac_decide_accept_transfer(&a->st, a->now, a->p.principal_id,
                                           &a->d, err);
        break;
    case OP_HANDOVER_FILE:
        rc = oss_ac_decide_file_handover(&a->st, p, a->now, a->request_id,
                                         a->p.principal_id, a->principal_id,
                                         a->evidence_ref, &a->d, err);
        if (rc == OSS_OK)
            api_req_copy(a->d.facts[0].previous_owner,
                         sizeof a->d.facts[0].previous_owner, a->st.owner);
        break;
    case OP_HANDOVER_OBJECT:
        rc = oss_ac_decide_object_handover(&a->st, a->now, a->request_id,
                                           a->p.principal_id, &a->d, err);
        break;
    case OP_HANDOVER_DECIDE:
        rc = oss_ac_decide_handover(&a->st, a->now, a->request_id, a->approve,
                                    &a->d, err);
        break;
    case OP_TERMINATE:
        rc = oss_ac_decide_terminate(&a->st, a->now, a->term, a->principal_id,
                                     a->evidence_ref, &a->d, err);
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

/* The template variables of notice n (a new JSON string, caller frees). */
static char *
notice_vars(const areq_t *a, const notice_t *n) {
    const oss_ac_fact_t *f = &a->d.facts[0];
    json_t *o = NULL;
    char until[40];
    if (!strcmp(n->kind, "handover_filed")) {
        fmt_wib(f->until_us, until, sizeof until);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", n->c.name,
                      "account_id", a->account_id, "request_id", f->request_id,
                      "evidence_ref", f->evidence_ref, "cooling_off_until",
                      until);
    } else if (!strcmp(n->kind, "handover_decided")) {
        o = json_pack("{s:s, s:s, s:s, s:s}", "name", n->c.name, "account_id",
                      a->account_id, "decision",
                      a->approve ? "approved / disetujui"
                                 : "rejected / ditolak",
                      "reason", a->reason);
    } else if (!strcmp(n->kind, "access_terminated")) {
        o = json_pack("{s:s, s:s, s:s}", "name", n->c.name, "account_id",
                      a->account_id, "reason_code", oss_ac_term_name(f->term));
    } else if (!strcmp(n->kind, "member_added")) {
        o = json_pack("{s:s, s:s, s:s}", "name", n->c.name, "account_id",
                      a->account_id, "role", oss_role_name(f->role));
    } else if (!strcmp(n->kind, "transfer_offered")) {
        o = json_pack("{s:s, s:s}", "name", n->c.name, "account_id",
                      a->account_id);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* The grant, session and credential changes and the notices of the access
 * command, in its transaction (ctx = areq_t). */
static oss_code_t
access_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
             void *qctx, oss_err_t *err) {
    areq_t *a = vctx;
    oss_code_t rc = OSS_OK;
    const oss_ac_fact_t *f = &a->d.facts[0];
    char why[48];

    if (!a->d.n)
        return OSS_OK;
    snprintf(why, sizeof why, "%s", cmd->events.items[0].payload_type + 7);
    /* whoever's access ended: grants on the account, sessions, and (except
     * for a delegate removed by the owner) the password */
    for (size_t i = 0; i < a->naffected && rc == OSS_OK; i++) {
        rc = oss_app_grant_queue_revoke(q, qctx, a->affected[i], a->account_id,
                                        why, err);
        if (rc == OSS_OK)
            rc = oss_app_sessions_queue_revoke(q, qctx, a->affected[i], why,
                                               a->op != OP_MEMBER_REMOVE, err);
    }
    if (rc != OSS_OK)
        return rc;
    if (f->kind == OSS_AC_MEMBER_ADDED && !a->new_principal) {
        /* an existing principal (a new one gets its grant with its
         * PrincipalCreated) */
        oss_grant_t g = {.role = f->role};
        api_req_copy(g.account_id, sizeof g.account_id, a->account_id);
        if ((rc = oss_app_grant_queue_add(q, qctx, f->principal_id, &g, err)) !=
            OSS_OK)
            return rc;
    }
    if (f->kind == OSS_AC_TRANSFER_ACCEPTED ||
        f->kind == OSS_AC_HANDOVER_APPROVED) {
        /* the new owner: a delegate's grant becomes the owner grant */
        oss_grant_t g = {.role = OSS_ROLE_OWNER};
        api_req_copy(g.account_id, sizeof g.account_id, a->account_id);
        rc = oss_app_grant_queue_revoke(q, qctx, f->principal_id, a->account_id,
                                        "became_owner", err);
        if (rc == OSS_OK)
            rc = oss_app_grant_queue_add(q, qctx, f->principal_id, &g, err);
        if (rc != OSS_OK)
            return rc;
    }
    for (size_t i = 0; i < a->nnotices && rc == OSS_OK; i++) {
        notice_t *n = &a->notices[i];
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
        free(vars);
    }
    return rc;
}

/* SessionEnded for every open session of one affected principal, only
 * when the access command appended (ctx = ends_t). */
static oss_code_t
ends_decide(void *vctx, const oss_event_t *history, size_t n,
            oss_event_list_t *out, oss_err_t *err) {
    ends_t *e = vctx;
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
        for (size_t k = before; k < out->len; k++)
            if (e->a->reason[0] && !out->items[k].reason &&
                !(out->items[k].reason = strdup(e->a->reason)))
                return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    return OSS_OK;
}

/* The new principal's decide, only when the access command appended. */
static oss_code_t
pn_decide(void *vctx, const oss_event_t *history, size_t n,
          oss_event_list_t *out, oss_err_t *err) {
    areq_t *a = vctx;
    if (a->cmds[0].outcome != OSS_JOURNAL_APPENDED)
        return oss_err_coded(err, OSS_ECONFLICT, "skipped",
                             "the access command did not append");
    return a->pn_decide(a->pn_ctx, history, n, out, err);
}

static oss_code_t
pn_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    areq_t *a = vctx;
    return a->pn_extra(a->pn_ctx, cmd, q, qctx, err);
}

static void
fill_cmd(areq_t *a, oss_command_t *c, const char *stream) {
    c->stream_id = stream;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = -1;
    c->actor_kind = actor_kind(&a->p);
    c->actor_id = a->p.principal_id;
    c->correlation_id = oss_http_req_cid(a->req);
}

/* Prepares one attempt's batch: the state read now, the new principal, the
 * contacts to notify, the commands. Replies and returns false on failure. */
static bool
prepare(areq_t *a) {
    oss_err_t err;

    attempt_clear(a);
    a->now = oss_now_us();
    if (!read_state(a))
        return false;
    affected_of(a, &a->pre);
    if (a->op == OP_HANDOVER_FILE && !a->request_id[0])
        oss_uuid7(a->request_id);
    if (a->new_principal) {
        oss_grant_t g = {.role = a->role};
        api_req_copy(g.account_id, sizeof g.account_id, a->account_id);
        oss_err_clear(&err);
        const char *cause = a->op == OP_MEMBER_ADD       ? "delegate"
                            : a->op == OP_TRANSFER_OFFER ? "transfer"
                                                         : "handover";
        if (oss_app_principal_prepare(&a->ctx->app, &a->person, "business",
                                      a->op == OP_MEMBER_ADD ? &g : NULL, cause,
                                      &a->pn, &err) != OSS_OK) {
            oss_error("could not prepare a principal: %s", err.msg);
            oss_http_reply_error(a->req, err.code == OSS_EUNAVAIL ? 503 : 500,
                                 NULL, "could not prepare the new person",
                                 NULL);
            return false;
        }
        a->has_pn = true;
        api_req_copy(a->principal_id, sizeof a->principal_id,
                     a->pn.principal_id);
    }
    /* who is told */
    bool ok = true;
    switch (a->op) {
    case OP_HANDOVER_FILE:
        ok = want_notice(a, a->pre.owner, "handover_filed");
        break;
    case OP_HANDOVER_DECIDE: {
        const oss_ac_request_t *r = oss_ac_request_find(&a->pre, a->request_id);
        ok = want_notice(a, a->pre.owner, "handover_decided");
        if (ok && r && strcmp(r->new_owner, a->pre.owner))
            ok = want_notice(a, r->new_owner, "handover_decided");
        break;
    }
    case OP_TERMINATE:
        for (size_t i = 0; ok && i < a->naffected; i++)
            ok = want_notice(a, a->affected[i], "access_terminated");
        break;
    case OP_TRANSFER_OFFER:
        if (!a->new_principal)
            ok = want_notice(a, a->principal_id, "transfer_offered");
        break;
    case OP_MEMBER_ADD:
        if (!a->new_principal)
            ok = want_notice(a, a->principal_id, "member_added");
        break;
    }
    if (!ok)
        return false;
    /* the batch */
    oss_command_t *c = &a->cmds[a->ncmds++];
    fill_cmd(a, c, a->stream_id);
    c->decide = access_decide;
    c->ctx = a;
    c->extra_fn = access_extra;
    for (size_t i = 0; i < a->naffected; i++) {
        ends_t *e = &a->ends[i];
        e->a = a;
        api_req_copy(e->principal_id, sizeof e->principal_id, a->affected[i]);
        snprintf(e->stream_id, sizeof e->stream_id,
                 OSS_APP_ACCESS_STREAM_PREFIX "%s", a->affected[i]);
        c = &a->cmds[a->ncmds++];
        fill_cmd(a, c, e->stream_id);
        c->decide = ends_decide;
        c->ctx = e;
    }
    return true;
}

/* Runs the batch (the new principal's command last, by value); retries
 * twice when the account moved meanwhile. Replies 503/500 itself and
 * returns false when the transaction failed; else the access command's
 * outcome is in a->cmds[0]. */
static bool
execute(areq_t *a) {
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!prepare(a))
            return false;
        if (a->has_pn) {
            oss_command_t *c = &a->cmds[a->ncmds++];
            a->pn_decide = a->pn.cmd.decide;
            a->pn_extra = a->pn.cmd.extra_fn;
            a->pn_ctx = a->pn.cmd.ctx;
            fill_cmd(a, c, a->pn.cmd.stream_id);
            c->expected_version = 0;
            c->decide = pn_decide;
            c->extra_fn = pn_extra;
            c->ctx = a;
        }
        if (!api_req_execute(a->w, a->req, a->cmds, a->ncmds, 1,
                             "access command"))
            return false;
        const oss_command_t *c0 = &a->cmds[0];
        if (!oss_app_cmd_conflicted(c0))
            break;
    }
    return true;
}

/* ---- replies
 * ------------------------------------------------------------------- */

/* Maps a refused access command to its answer. */
static void
reply_rejected(areq_t *a) {
    const oss_command_t *c = &a->cmds[0];
    const char *why = c->err.reason[0] ? c->err.reason : c->err.field;
    oss_http_req_t *req = a->req;

    if (!strcmp(why, "cooling_off")) {
        api_reply_retry(req, 409, a->d.retry_after_us, "cooling_off",
                        c->err.msg);
    } else if (!strcmp(why, "not_registered")) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
    } else if (!strcmp(why, "not_a_member")) {
        oss_http_reply_error(req, 404, NULL, "no such member", NULL);
    } else if (!strcmp(why, "no_request")) {
        oss_http_reply_error(req, 404, NULL, "no such hand-over request", NULL);
    } else if (!strcmp(why, "not_offered") || !strcmp(why, "no_transfer")) {
        oss_http_reply_error(req, 403, "forbidden", c->err.msg, NULL);
    } else if (c->err.code == OSS_EINVAL && why[0]) {
        api_reply_field(req, 422, "invalid_fields", why, "invalid", c->err.msg);
    } else if (why[0]) {
        oss_http_reply_error(req, 409, why, c->err.msg, NULL);
    } else {
        oss_http_reply_error(req, oss_http_status_for(c->err.code), NULL,
                             c->err.msg, NULL);
    }
}

/* ---- request plumbing
 * ------------------------------------------------------------ */

/* Copies an optional string field into dst (max n-1 bytes); replies 422
 * when too long. */
static bool
take(areq_t *a, json_t *body, const char *k, char *dst, size_t n,
     bool required) {
    const char *s = api_body_str(body, k);
    if (!s || !*s) {
        if (required) {
            api_reply_field(a->req, 422, "invalid_fields", k,
                            OSS_REASON_REQUIRED, "a required field is missing");
            return false;
        }
        dst[0] = '\0';
        return true;
    }
    if (strlen(s) >= n) {
        api_reply_field(a->req, 422, "invalid_fields", k, OSS_REASON_TOO_LONG,
                        "the field is too long");
        return false;
    }
    api_req_copy(dst, n, s);
    return true;
}

/* Whether the body names a person (any field under prefix). */
static bool
has_person(json_t *body, const char *prefix) {
    const char *key;
    json_t *val;
    size_t pl = strlen(prefix);
    json_object_foreach(body, key, val) {
        if (!strncmp(key, prefix, pl) && strcmp(key + pl, "principal_id") &&
            (pl || (strcmp(key, "role") && strcmp(key, "reason") &&
                    strcmp(key, "evidence_ref"))))
            return true;
    }
    return false;
}

/* Authenticates, checks the account exists and that the caller may do act
 * on it (act < 0: a session is enough). */
static bool
authorize(areq_t *a, int act) {
    if (!api_auth_require(a->w, a->req, &a->p, a->session_id))
        return false;
    if (!api_account_target(a->w, a->req, a->account_id, a->region))
        return false;
    if (act < 0)
        return true;
    oss_target_t t = {.account_id = a->account_id, .region = a->region};
    return api_auth_allow(a->req, &a->p, (oss_action_t)act, &t);
}

/* Runs the command and answers: status with the JSON made by ok_body (or
 * 204 when NULL) when it appended, the mapped refusal otherwise. */
static void
run_and_reply(areq_t *a, int status, json_t *(*ok_body)(areq_t *)) {
    if (!execute(a))
        return;
    if (a->cmds[0].outcome != OSS_JOURNAL_APPENDED) {
        oss_info("access command refused stream=%s op=%s: %s", a->stream_id,
                 op_names[a->op], a->cmds[0].err.msg);
        reply_rejected(a);
        return;
    }
    oss_info("access command stream=%s op=%s version=%lld principal=%s",
             a->stream_id, op_names[a->op], (long long)a->cmds[0].last_version,
             a->p.principal_id);
    if (!ok_body) {
        oss_http_reply(a->req, 204, "application/json", NULL, NULL);
        return;
    }
    json_t *o = ok_body(a);
    oss_http_reply_json(a->req, status, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
}

static json_t *
body_principal(areq_t *a) {
    const oss_ac_fact_t *f = &a->d.facts[0];
    char until[40] = "";
    if (f->until_us)
        oss_utc_format(f->until_us, 0, until, sizeof until);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "account_id", a->account_id,
                          "principal_id", f->principal_id, "event",
                          a->cmds[0].events.items[0].payload_type + 7,
                          "version", (json_int_t)a->cmds[0].last_version);
    if (o && f->request_id[0])
        json_object_set_new(o, "request_id", json_string(f->request_id));
    if (o && f->role != OSS_ROLE_NONE)
        json_object_set_new(o, "role", json_string(oss_role_name(f->role)));
    if (o && until[0])
        json_object_set_new(o,
                            f->kind == OSS_AC_HANDOVER_FILED
                                ? "cooling_off_until"
                                : "expires_at",
                            json_string(until));
    if (o && a->new_principal)
        json_object_set_new(o, "new_principal", json_true());
    if (o && f->kind == OSS_AC_HANDOVER_APPROVED)
        json_object_set_new(o, "previous_owner",
                            json_string(f->previous_owner));
    return o;
}

static void
submit(oss_http_req_t *req, void *arg,
       void (*run)(api_worker_t *, api_job_t *)) {
    api_ctx_t *ctx = arg;
    if (!oss_app_id_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return;
    }
    api_req_submit_lc(ctx, req, run);
}

/* Reads the new person (prefix) or an existing principal_id (key pid) into
 * a; exactly one. */
static bool
take_person(areq_t *a, json_t *body, const char *prefix, const char *pid) {
    bool person = has_person(body, prefix);
    const char *id = api_body_str(body, pid);
    if (person == (id != NULL)) {
        api_reply_field(a->req, 422, "invalid_fields", pid, OSS_REASON_REQUIRED,
                        "give either an existing principal_id or the new "
                        "person's fields");
        return false;
    }
    if (person) {
        if (!api_person_parse(a->req, body, prefix, &a->person))
            return false;
        a->new_principal = true;
        return true;
    }
    if (!oss_app_id_valid(id) || strlen(id) >= OSS_AC_ID_MAX) {
        api_reply_field(a->req, 422, "invalid_fields", pid, "invalid",
                        "not a principal id");
        return false;
    }
    int ex = principal_exists(a, id);
    if (ex < 0)
        return false;
    if (!ex) {
        api_reply_field(a->req, 422, "invalid_fields", pid, "unknown",
                        "no such principal");
        return false;
    }
    api_req_copy(a->principal_id, sizeof a->principal_id, id);
    return true;
}

/* ---- GET /v1/accounts/{id}/members
 * ------------------------------------------------ */

static void
run_members_list(api_worker_t *w, api_job_t *job) {
    areq_t *a = areq_new(w, job, -1);
    char t[40];
    if (!a || !authorize(a, OSS_ACT_ACCOUNT_READ) || !read_state(a))
        goto done;
    const oss_ac_state_t *st = &a->pre;
    json_t *members = json_array();
    if (st->owner[0])
        json_array_append_new(members, json_pack("{s:s, s:s}", "principal_id",
                                                 st->owner, "role", "owner"));
    for (size_t i = 0; i < st->nmembers; i++) {
        oss_utc_format(st->members[i].since_us, 0, t, sizeof t);
        json_array_append_new(
            members, json_pack("{s:s, s:s, s:s}", "principal_id",
                               st->members[i].principal_id, "role",
                               oss_role_name(st->members[i].role), "since", t));
    }
    json_t *reqs = json_array();
    for (size_t i = 0; i < st->nrequests; i++) {
        const oss_ac_request_t *r = &st->requests[i];
        char f[40], u[40];
        oss_utc_format(r->filed_at_us, 0, f, sizeof f);
        oss_utc_format(r->cooling_off_until_us, 0, u, sizeof u);
        json_array_append_new(
            reqs,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "request_id",
                      r->request_id, "status",
                      oss_ac_req_status_name(r->status), "filed_by",
                      r->filed_by, "new_owner", r->new_owner, "evidence_ref",
                      r->evidence_ref, "filed_at", f, "cooling_off_until", u));
    }
    json_t *o =
        json_pack("{s:s, s:s, s:b, s:o, s:o}", "account_id", a->account_id,
                  "owner", st->owner, "terminated", st->terminated, "members",
                  members, "handover_requests", reqs);
    if (o && st->terminated)
        json_object_set_new(o, "termination",
                            json_string(oss_ac_term_name(st->termination)));
    if (o && st->transfer_open) {
        oss_utc_format(st->transfer_expires_at_us, 0, t, sizeof t);
        json_object_set_new(o, "transfer",
                            json_pack("{s:s, s:s}", "offered_to",
                                      st->transfer_to, "expires_at", t));
    }
    oss_http_reply_json(job->req, 200, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    areq_free(a);
}

void
api_h_members_list(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_members_list);
}

/* ---- the account's access commands ----------------------------------------
 */

/* One access route: what it checks before its command runs and how it
 * answers. Every route runs the same steps (run_route()). */
typedef struct route {
    int op;
    int act;                   /* authorize(); -1: a session is enough */
    bool request_id;           /* {rid} names a hand-over request */
    const char *const *known;  /* body fields; NULL: no body read */
    const char *person_prefix; /* a new person's fields under it; NULL: none */
    bool optional_body;        /* an empty body is no body */
    int status;                /* when appended; 204: no body */
    /* reads the command's inputs into a (body may be NULL); replies and
     * returns false on a bad request */
    bool (*inputs)(areq_t *a, json_t *body);
} route_t;

static bool
take_request_id(areq_t *a) {
    const char *rid = oss_http_req_param(a->req, 1);
    if (!oss_app_id_valid(rid) || strlen(rid) >= OSS_AC_ID_MAX) {
        oss_http_reply_error(a->req, 404, NULL, "no such hand-over request",
                             NULL);
        return false;
    }
    api_req_copy(a->request_id, sizeof a->request_id, rid);
    return true;
}

/* The hand-over request's {rid}, authentication and the right to act, the
 * body, the route's inputs, then the command and its answer. */
static void
run_route(api_worker_t *w, api_job_t *job, const route_t *r) {
    areq_t *a = areq_new(w, job, r->op);
    json_t *body = NULL;
    bool bad = false;
    if (!a || (r->request_id && !take_request_id(a)) || !authorize(a, r->act))
        goto done;
    if (r->known) {
        api_body_spec_t spec = {.known = r->known,
                                .person_prefix = r->person_prefix,
                                .optional = r->optional_body};
        body = api_body_parse_ex(job->req, &spec, &bad);
        if (bad)
            goto done;
    }
    if (r->inputs && !r->inputs(a, body))
        goto done;
    run_and_reply(a, r->status, r->status == 204 ? NULL : body_principal);
done:
    json_decref(body);
    areq_free(a);
}

/* ---- POST /v1/accounts/{id}/members ----------------------------------------
 */

static bool
in_member_add(areq_t *a, json_t *body) {
    const char *role = api_body_str(body, "role");
    a->role = oss_role_parse(role ? role : "");
    if (a->role != OSS_ROLE_PREPARER && a->role != OSS_ROLE_VIEWER) {
        api_reply_field(a->req, 422, "invalid_fields", "role", "invalid",
                        "role must be preparer or viewer");
        return false;
    }
    if (!take(a, body, "reason", a->reason, sizeof a->reason, false))
        return false;
    if (!a->reason[0])
        snprintf(a->reason, sizeof a->reason, "delegate added by the owner");
    return take_person(a, body, "", "principal_id");
}

static void
run_member_add(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"role", "reason", "principal_id", NULL};
    static const route_t r = {.op = OP_MEMBER_ADD,
                              .act = OSS_ACT_MEMBERS_MANAGE,
                              .known = known,
                              .person_prefix = "",
                              .status = 201,
                              .inputs = in_member_add};
    run_route(w, job, &r);
}

void
api_h_member_add(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_member_add);
}

/* ---- DELETE /v1/accounts/{id}/members/{principal_id}
 * ------------------------------ */

static bool
in_member_remove(areq_t *a, json_t *body) {
    api_req_copy(a->principal_id, sizeof a->principal_id,
                 oss_http_req_param(a->req, 1));
    snprintf(a->reason, sizeof a->reason, "delegate removed by the owner");
    return !body || take(a, body, "reason", a->reason, sizeof a->reason, false);
}

static void
run_member_remove(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const route_t r = {.op = OP_MEMBER_REMOVE,
                              .act = OSS_ACT_MEMBERS_MANAGE,
                              .known = known,
                              .optional_body = true,
                              .status = 204,
                              .inputs = in_member_remove};
    run_route(w, job, &r);
}

void
api_h_member_remove(oss_http_req_t *req, void *arg) {
    const char *id = oss_http_req_param(req, 1);
    if (!oss_app_id_valid(id) || strlen(id) >= OSS_AC_ID_MAX) {
        oss_http_reply_error(req, 404, NULL, "no such member", NULL);
        return;
    }
    submit(req, arg, run_member_remove);
}

/* ---- POST /v1/accounts/{id}/transfer
 * ------------------------------------------------ */

static bool
in_transfer_offer(areq_t *a, json_t *body) {
    if (!take(a, body, "reason", a->reason, sizeof a->reason, false) ||
        !take_person(a, body, "new_owner_", "principal_id"))
        return false;
    if (!a->reason[0])
        snprintf(a->reason, sizeof a->reason, "ownership offered by the owner");
    return true;
}

static void
run_transfer_offer(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"principal_id", "reason", NULL};
    static const route_t r = {.op = OP_TRANSFER_OFFER,
                              .act = OSS_ACT_TRANSFER,
                              .known = known,
                              .person_prefix = "new_owner_",
                              .status = 201,
                              .inputs = in_transfer_offer};
    run_route(w, job, &r);
}

void
api_h_transfer_offer(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_transfer_offer);
}

/* ---- POST /v1/accounts/{id}/transfer/accept
 * ----------------------------------------- */

static bool
in_transfer_accept(areq_t *a, json_t *body) {
    (void)body;
    snprintf(a->reason, sizeof a->reason,
             "ownership transfer accepted by the new owner");
    return true;
}

static void
run_transfer_accept(api_worker_t *w, api_job_t *job) {
    static const route_t r = {.op = OP_TRANSFER_ACCEPT,
                              .act = -1,
                              .status = 200,
                              .inputs = in_transfer_accept};
    run_route(w, job, &r);
}

void
api_h_transfer_accept(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_transfer_accept);
}

/* ---- POST /v1/accounts/{id}/handover-requests
 * ---------------------------------------- */

static bool
in_handover_file(areq_t *a, json_t *body) {
    return take(a, body, "evidence_ref", a->evidence_ref,
                sizeof a->evidence_ref, true) &&
           take(a, body, "reason", a->reason, sizeof a->reason, true) &&
           take_person(a, body, "new_owner_", "new_owner_principal_id");
}

static void
run_handover_file(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"evidence_ref", "reason",
                                        "new_owner_principal_id", NULL};
    static const route_t r = {.op = OP_HANDOVER_FILE,
                              .act = OSS_ACT_HANDOVER_FILE,
                              .known = known,
                              .person_prefix = "new_owner_",
                              .status = 201,
                              .inputs = in_handover_file};
    run_route(w, job, &r);
}

void
api_h_handover_file(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_handover_file);
}

/* ---- POST .../handover-requests/{rid}/objection
 * --------------------------------------- */

static bool
in_reason(areq_t *a, json_t *body) {
    return take(a, body, "reason", a->reason, sizeof a->reason, true);
}

static void
run_handover_object(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const route_t r = {.op = OP_HANDOVER_OBJECT,
                              .act = OSS_ACT_HANDOVER_OBJECT,
                              .request_id = true,
                              .known = known,
                              .status = 201,
                              .inputs = in_reason};
    run_route(w, job, &r);
}

void
api_h_handover_object(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_handover_object);
}

/* ---- POST .../handover-requests/{rid}/decision
 * ---------------------------------------- */

static bool
in_handover_decide(areq_t *a, json_t *body) {
    if (!in_reason(a, body))
        return false;
    const char *d = api_body_str(body, "decision");
    if (!d || (strcmp(d, "approve") && strcmp(d, "reject"))) {
        api_reply_field(a->req, 422, "invalid_fields", "decision",
                        d ? "invalid" : OSS_REASON_REQUIRED,
                        "decision must be approve or reject");
        return false;
    }
    a->approve = !strcmp(d, "approve");
    return true;
}

static void
run_handover_decide(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"decision", "reason", NULL};
    static const route_t r = {.op = OP_HANDOVER_DECIDE,
                              .act = OSS_ACT_HANDOVER_DECIDE,
                              .request_id = true,
                              .known = known,
                              .status = 200,
                              .inputs = in_handover_decide};
    run_route(w, job, &r);
}

void
api_h_handover_decide(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_handover_decide);
}

/* ---- POST /v1/accounts/{id}/terminations
 * ---------------------------------------------- */

static bool
in_terminate(areq_t *a, json_t *body) {
    if (!take(a, body, "evidence_ref", a->evidence_ref, sizeof a->evidence_ref,
              false) ||
        !take(a, body, "reason", a->reason, sizeof a->reason, false) ||
        !take(a, body, "principal_id", a->principal_id, sizeof a->principal_id,
              false))
        return false;
    const char *rc = api_body_str(body, "reason_code");
    a->term = oss_ac_term_parse(rc ? rc : "");
    if (a->term == OSS_AC_TERM_NONE) {
        api_reply_field(a->req, 422, "invalid_fields", "reason_code",
                        rc ? "invalid" : OSS_REASON_REQUIRED,
                        "reason_code must be responsible_person_changed, "
                        "misuse_request, authority_finding or law");
        return false;
    }
    if (!a->reason[0])
        snprintf(a->reason, sizeof a->reason, "%s", oss_ac_term_name(a->term));
    return true;
}

static void
run_terminate(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason_code", "principal_id",
                                        "evidence_ref", "reason", NULL};
    static const route_t r = {.op = OP_TERMINATE,
                              .act = OSS_ACT_TERMINATE,
                              .known = known,
                              .status = 201,
                              .inputs = in_terminate};
    run_route(w, job, &r);
}

void
api_h_terminate(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_terminate);
}
