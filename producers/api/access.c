/* Business access rights over HTTP (see access.h): each request is
 * authenticated and authorized synchronously (auth.h), its body read into
 * an oss_app_ac_t, and the use case (src/app/access.c: one journal batch
 * with the access command, the affected sessions, a new principal, grants
 * and notices) run on the API's worker pool; this file maps its outcome to
 * answers. */
#include "access.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/access.h"
#include "app/codec.h"
#include "auth.h"
#include "core/access.h"
#include "core/utc.h"
#include "core/validate.h"
#include "log/log.h"
#include "request.h"

static oss_app_ac_cfg_t g_cfg;
static int g_inited;

void
api_access_init(const oss_config_t *cfg) {
    oss_app_ac_cfg_load(&g_cfg, cfg);
    g_inited = 1;
}

/* ---- one request
 * ------------------------------------------------------------- */

typedef struct areq {
    api_worker_t *w;
    api_ctx_t *ctx;
    oss_http_req_t *req;
    oss_principal_t p;
    char session_id[OSS_UUID_STR];
    char region[11];
    bool restricted; /* the OSS authority restricted the account */
    oss_app_ac_t ac; /* the use case's input and outcome */
} areq_t;

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
    a->ac.cfg = g_inited ? &g_cfg : NULL; /* NULL: the core's defaults */
    a->ac.op = (oss_app_ac_op_t)op;
    a->ac.actor = &a->p;
    a->ac.correlation_id = oss_http_req_cid(job->req);
    oss_str_copy(a->ac.account_id, sizeof a->ac.account_id,
                 oss_http_req_param(job->req, 0));
    return a;
}

static void
areq_free(areq_t *a) {
    if (!a)
        return;
    oss_app_ac_clear(&a->ac);
    memset(a, 0, sizeof *a);
    free(a);
}

/* Answers a use case that stopped before or in its transaction. */
static void
reply_failed(areq_t *a, oss_code_t rc, const oss_err_t *err) {
    switch (a->ac.failed_at) {
    case OSS_APP_AC_AT_APPEND:
        api_req_fail(a->w, a->req, rc, err, "access command");
        return;
    case OSS_APP_AC_AT_READ:
        if (rc == OSS_EUNAVAIL)
            oss_app_worker_reset(a->w);
        oss_http_reply_error(a->req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not read the account", NULL);
        return;
    case OSS_APP_AC_AT_PREPARE:
        oss_http_reply_error(a->req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not prepare the new person", NULL);
        return;
    case OSS_APP_AC_AT_CONTACT:
        oss_app_worker_reset(a->w);
        oss_http_reply_error(a->req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        return;
    }
}

/* ---- replies
 * ------------------------------------------------------------------- */

/* Maps a refused access command to its answer. */
static void
reply_rejected(areq_t *a) {
    const oss_command_t *c = &a->ac.cmds[0];
    const char *why = c->err.reason[0] ? c->err.reason : c->err.field;
    oss_http_req_t *req = a->req;

    if (!strcmp(why, "restricted")) {
        oss_http_reply_error(req, 403, "account_restricted",
                             OSS_API_RESTRICTED_MSG, NULL);
    } else if (!strcmp(why, "cooling_off")) {
        api_reply_retry(req, 409, a->ac.d.retry_after_us, "cooling_off",
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
    oss_str_copy(dst, n, s);
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
    if (!api_account_target(a->w, a->req, a->ac.account_id, a->region,
                            &a->restricted))
        return false;
    if (act < 0)
        return true;
    oss_target_t t = {.account_id = a->ac.account_id,
                      .region = a->region,
                      .restricted = a->restricted};
    return api_auth_allow(a->req, &a->p, (oss_action_t)act, &t);
}

/* Runs the command and answers: status with the JSON made by ok_body (or
 * 204 when NULL) when it appended, the mapped refusal otherwise. */
static void
run_and_reply(areq_t *a, int status, json_t *(*ok_body)(areq_t *)) {
    oss_err_t err;
    oss_journal_t *j = api_req_journal(a->w, a->req);
    if (!j)
        return;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_ac_execute(&a->ctx->app, j, &a->ac, &err);
    if (rc != OSS_OK) {
        reply_failed(a, rc, &err);
        return;
    }
    if (a->ac.cmds[0].outcome != OSS_JOURNAL_APPENDED) {
        oss_info("access command refused account=%s op=%s: %s",
                 a->ac.account_id, oss_app_ac_op_name(a->ac.op),
                 a->ac.cmds[0].err.msg);
        reply_rejected(a);
        return;
    }
    oss_info("access command account=%s op=%s version=%lld principal=%s",
             a->ac.account_id, oss_app_ac_op_name(a->ac.op),
             (long long)a->ac.cmds[0].last_version, a->p.principal_id);
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
    const oss_ac_fact_t *f = &a->ac.d.facts[0];
    char until[40] = "";
    if (f->until_us)
        oss_utc_format(f->until_us, 0, until, sizeof until);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I}", "account_id", a->ac.account_id,
                  "principal_id", f->principal_id, "event",
                  a->ac.cmds[0].events.items[0].payload_type + 7, "version",
                  (json_int_t)a->ac.cmds[0].last_version);
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
    if (o && a->ac.new_principal)
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
        if (!api_person_parse(a->req, body, prefix, &a->ac.person))
            return false;
        a->ac.new_principal = true;
        return true;
    }
    if (!oss_app_id_valid(id) || strlen(id) >= OSS_AC_ID_MAX) {
        api_reply_field(a->req, 422, "invalid_fields", pid, "invalid",
                        "not a principal id");
        return false;
    }
    bool ex = false;
    oss_err_t err;
    oss_journal_t *j = api_req_journal(a->w, a->req);
    if (!j)
        return false;
    oss_err_clear(&err);
    if (oss_app_principal_known(j, id, &ex, &err) != OSS_OK) {
        oss_http_reply_error(a->req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        return false;
    }
    if (!ex) {
        api_reply_field(a->req, 422, "invalid_fields", pid, "unknown",
                        "no such principal");
        return false;
    }
    oss_str_copy(a->ac.principal_id, sizeof a->ac.principal_id, id);
    return true;
}

/* ---- GET /v1/accounts/{id}/members
 * ------------------------------------------------ */

static void
run_members_list(api_worker_t *w, api_job_t *job) {
    areq_t *a = areq_new(w, job, -1);
    char t[40];
    if (!a || !authorize(a, OSS_ACT_ACCOUNT_READ))
        goto done;
    oss_err_t err;
    oss_journal_t *j = api_req_journal(a->w, a->req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    oss_code_t rc = oss_app_ac_read(j, a->ac.account_id, &a->ac.pre, &err);
    if (rc != OSS_OK) {
        a->ac.failed_at = OSS_APP_AC_AT_READ;
        reply_failed(a, rc, &err);
        goto done;
    }
    const oss_ac_state_t *st = &a->ac.pre;
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
        json_pack("{s:s, s:s, s:b, s:o, s:o}", "account_id", a->ac.account_id,
                  "owner", st->owner, "terminated", st->terminated, "members",
                  members, "handover_requests", reqs);
    if (o && st->terminated)
        json_object_set_new(o, "termination",
                            json_string(oss_ac_term_name(st->termination)));
    if (o)
        json_object_set_new(o, "restricted", json_boolean(st->restricted));
    if (o && st->restricted) {
        oss_utc_format(st->restricted_at_us, 0, t, sizeof t);
        json_object_set_new(o, "restriction",
                            json_pack("{s:s, s:s}", "restricted_by",
                                      st->restricted_by, "since", t));
    }
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
    oss_str_copy(a->ac.request_id, sizeof a->ac.request_id, rid);
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
    a->ac.role = oss_role_parse(role ? role : "");
    if (a->ac.role != OSS_ROLE_PREPARER && a->ac.role != OSS_ROLE_VIEWER) {
        api_reply_field(a->req, 422, "invalid_fields", "role", "invalid",
                        "role must be preparer or viewer");
        return false;
    }
    if (!take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, false))
        return false;
    if (!a->ac.reason[0])
        snprintf(a->ac.reason, sizeof a->ac.reason,
                 "delegate added by the owner");
    return take_person(a, body, "", "principal_id");
}

static void
run_member_add(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"role", "reason", "principal_id", NULL};
    static const route_t r = {.op = OSS_APP_AC_MEMBER_ADD,
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
    oss_str_copy(a->ac.principal_id, sizeof a->ac.principal_id,
                 oss_http_req_param(a->req, 1));
    snprintf(a->ac.reason, sizeof a->ac.reason,
             "delegate removed by the owner");
    return !body ||
           take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, false);
}

static void
run_member_remove(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_MEMBER_REMOVE,
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
    if (!take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, false) ||
        !take_person(a, body, "new_owner_", "principal_id"))
        return false;
    if (!a->ac.reason[0])
        snprintf(a->ac.reason, sizeof a->ac.reason,
                 "ownership offered by the owner");
    return true;
}

static void
run_transfer_offer(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"principal_id", "reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_TRANSFER_OFFER,
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
    snprintf(a->ac.reason, sizeof a->ac.reason,
             "ownership transfer accepted by the new owner");
    return true;
}

static void
run_transfer_accept(api_worker_t *w, api_job_t *job) {
    static const route_t r = {.op = OSS_APP_AC_TRANSFER_ACCEPT,
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
    return take(a, body, "evidence_ref", a->ac.evidence_ref,
                sizeof a->ac.evidence_ref, true) &&
           take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, true) &&
           take_person(a, body, "new_owner_", "new_owner_principal_id");
}

static void
run_handover_file(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"evidence_ref", "reason",
                                        "new_owner_principal_id", NULL};
    static const route_t r = {.op = OSS_APP_AC_HANDOVER_FILE,
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
    return take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, true);
}

static void
run_handover_object(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_HANDOVER_OBJECT,
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
    a->ac.approve = !strcmp(d, "approve");
    return true;
}

static void
run_handover_decide(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"decision", "reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_HANDOVER_DECIDE,
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
    if (!take(a, body, "evidence_ref", a->ac.evidence_ref,
              sizeof a->ac.evidence_ref, false) ||
        !take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, false) ||
        !take(a, body, "principal_id", a->ac.principal_id,
              sizeof a->ac.principal_id, false))
        return false;
    const char *rc = api_body_str(body, "reason_code");
    a->ac.term = oss_ac_term_parse(rc ? rc : "");
    if (a->ac.term == OSS_AC_TERM_NONE) {
        api_reply_field(a->req, 422, "invalid_fields", "reason_code",
                        rc ? "invalid" : OSS_REASON_REQUIRED,
                        "reason_code must be responsible_person_changed, "
                        "misuse_request, authority_finding or law");
        return false;
    }
    if (!a->ac.reason[0])
        snprintf(a->ac.reason, sizeof a->ac.reason, "%s",
                 oss_ac_term_name(a->ac.term));
    return true;
}

static void
run_terminate(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason_code", "principal_id",
                                        "evidence_ref", "reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_TERMINATE,
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

/* ---- POST /v1/accounts/{id}/restrictions (and .../lift)
 * ---------------------------------- */

static bool
in_restrict(areq_t *a, json_t *body) {
    return take(a, body, "reason", a->ac.reason, sizeof a->ac.reason, true) &&
           take(a, body, "evidence_ref", a->ac.evidence_ref,
                sizeof a->ac.evidence_ref, false);
}

static void
run_restrict(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", "evidence_ref", NULL};
    static const route_t r = {.op = OSS_APP_AC_RESTRICT,
                              .act = OSS_ACT_RESTRICT,
                              .known = known,
                              .status = 201,
                              .inputs = in_restrict};
    run_route(w, job, &r);
}

void
api_h_restrict(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_restrict);
}

static void
run_restriction_lift(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"reason", NULL};
    static const route_t r = {.op = OSS_APP_AC_LIFT,
                              .act = OSS_ACT_RESTRICT,
                              .known = known,
                              .status = 200,
                              .inputs = in_reason};
    run_route(w, job, &r);
}

void
api_h_restriction_lift(oss_http_req_t *req, void *arg) {
    submit(req, arg, run_restriction_lift);
}
