/* POST /v1/accounts: decode the JSON body, validate (core/account.h), seal
 * the personal fields under a new subject's data key, claim the NIK by its
 * keyed hash, and append AccountRegistered; a batch of registrations goes to
 * the journal in one oss_journal_execute() (group commit).
 *
 * Order per batch (worker thread):
 *   1. decode + validate each request (400 / 422 answered at once);
 *   2. seal: new subject id (UUIDv4), data key wrapped by the master key,
 *      every personal field sealed with AAD subject_id|field;
 *   3. INSERT the subject keys in a short transaction of their own (they hold
 *      no personal data; an orphan left by a rejected command is harmless);
 *   4. one oss_journal_execute() for the commands, each with its NIK claim
 *      (kind "nik"): a second registration of a NIK fails there with 409.
 * Plaintext personal data lives only in this request's memory and is wiped
 * before it is freed; it is never logged. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/account.h"
#include "db/db.h"
#include "journal/journal.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"

#define MAX_JSON_DEPTH 32

/* One registration in flight. */
typedef struct reg {
    api_job_t *job;
    bool live;                     /* still to be appended */
    oss_registration_t r;          /* plaintext: wiped before free */
    char account_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX];
    char subject_id[OSS_UUID_STR];
    char master_key_id[17];
    uint8_t *wrapped;
    size_t wlen;
    uint8_t *payload;
    size_t payload_len;
    oss_claim_t claim;
    uint8_t request_hash[32];
    const char *idem_key;
    const char *cid;
    api_activation_t act;          /* lifecycle.c: issued with it */
    bool has_act;
    char email_digest[65];         /* hex; oss.account_lookup (sign-in) */
} reg_t;

int
api_json_depth(const char *s, size_t n, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

static int
today_yyyymmdd(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* a day of slack: the client may be ahead of UTC (WIB, WITA, WIT) */
    t += 86400;
    gmtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* A field name safe to echo back: ASCII [A-Za-z0-9_.-], others as '?',
 * at most 40 chars. */
static void
safe_field_name(const char *in, char *out, size_t outsz)
{
    size_t i = 0;
    for (; in[i] && i + 1 < outsz && i < 40; i++) {
        unsigned char c = (unsigned char)in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        out[i] = ok ? (char)c : '?';
    }
    out[i] = '\0';
}

int
api_registration_decode(const char *body, size_t len, int today,
                        oss_registration_t *out, oss_field_errors_t *fe,
                        char *msg, size_t msgsz)
{
    json_error_t jerr;
    json_t *root = NULL;
    oss_registration_input_t in = {0};
    int status = 0;
    static const char *known[] = {"scale",   "actor_type", "nik",
                                  "name",    "birth_date", "email",
                                  "phone",   "country",    "website",
                                  "terms_version", NULL};

    memset(fe, 0, sizeof *fe);
    memset(out, 0, sizeof *out);
    if (len == 0) {
        snprintf(msg, msgsz, "request body is empty");
        status = 400;
        goto done;
    }
    if (api_json_depth(body, len, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
        snprintf(msg, msgsz, "request body nests deeper than %d levels",
                 MAX_JSON_DEPTH);
        status = 400;
        goto done;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(msg, msgsz, "could not parse request body: %s at byte %d",
                 jerr.text, jerr.position);
        status = 400;
        goto done;
    }
    if (!json_is_object(root)) {
        snprintf(msg, msgsz, "request body must be a JSON object");
        status = 400;
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int k = -1;
        for (int i = 0; known[i]; i++)
            if (strcmp(known[i], key) == 0)
                k = i;
        if (k < 0) {
            char name[48];
            safe_field_name(key, name, sizeof name);
            oss_field_errors_add(fe, name, OSS_REASON_UNKNOWN_FIELD);
            continue;
        }
        if (json_is_null(val) && (!strcmp(key, "website") ||
                                  !strcmp(key, "country")))
            continue;
        if (!json_is_string(val)) {
            oss_field_errors_add(fe, key, OSS_REASON_MUST_BE_STRING);
            continue;
        }
        if (json_string_length(val) > 1024) {
            oss_field_errors_add(fe, key, OSS_REASON_TOO_LONG);
            continue;
        }
        const char **slot[] = {&in.scale,   &in.actor_type, &in.nik,
                               &in.name,    &in.birth_date, &in.email,
                               &in.phone,   &in.country,    &in.website,
                               &in.terms_version};
        *slot[k] = json_string_value(val);
    }
    if (oss_registration_validate(&in, today, out, fe) != OSS_OK) {
        snprintf(msg, msgsz, "%zu field%s invalid", fe->n,
                 fe->n == 1 ? " is" : "s are");
        status = 422;
        goto done;
    }
    msg[0] = '\0';
done:
    json_decref(root);
    return status;
}

/* Decodes and validates the body into g->r. Replies and returns false on a
 * bad request. */
static bool
decode(reg_t *g)
{
    oss_http_req_t *req = g->job->req;
    size_t len;
    const char *body = oss_http_req_body(req, &len);
    oss_field_errors_t fe;
    char msg[256];

    int status = api_registration_decode(body, len, today_yyyymmdd(), &g->r,
                                         &fe, msg, sizeof msg);
    if (status == 400)
        oss_http_reply_error(req, 400, "malformed_json", msg, NULL);
    else if (status)
        oss_http_reply_error(req, status, "invalid_fields", msg, &fe);
    return status == 0;
}

static oss_code_t
seal_field(const oss_data_key_t *dk, const char *field, const char *value,
           Oss__V1__SealedField *sf, oss_err_t *err)
{
    uint8_t *ct = NULL, *nonce = malloc(12);
    size_t ctlen = 0;

    if (!nonce)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss_code_t rc = oss_seal(dk, field, value, strlen(value), nonce, &ct,
                             &ctlen, err);
    if (rc != OSS_OK) {
        free(nonce);
        return rc;
    }
    sf->subject_id = (char *)dk->subject_id;
    sf->nonce.data = nonce;
    sf->nonce.len = 12;
    sf->ciphertext.data = ct;
    sf->ciphertext.len = ctlen;
    return OSS_OK;
}

/* Seals g->r into g->payload (AccountRegistered) and prepares the claim. */
static oss_code_t
seal(api_ctx_t *ctx, reg_t *g, oss_err_t *err)
{
    oss_data_key_t dk;
    Oss__V1__AccountRegistered ev = OSS__V1__ACCOUNT_REGISTERED__INIT;
    Oss__V1__SealedField sf[5] = {
        OSS__V1__SEALED_FIELD__INIT, OSS__V1__SEALED_FIELD__INIT,
        OSS__V1__SEALED_FIELD__INIT, OSS__V1__SEALED_FIELD__INIT,
        OSS__V1__SEALED_FIELD__INIT};
    const char *names[5] = {"nik", "name", "birth_date", "email", "phone"};
    const char *values[5] = {g->r.nik, g->r.name, g->r.birth_date, g->r.email,
                             g->r.phone};
    oss_code_t rc;

    memset(&dk, 0, sizeof dk);
    oss_uuid7(g->account_id);
    snprintf(g->stream_id, sizeof g->stream_id, "account-%s", g->account_id);
    oss_uuid4(g->subject_id);
    rc = oss_data_key_new(&ctx->master, g->subject_id, &dk, &g->wrapped,
                          &g->wlen, g->master_key_id, err);
    if (rc != OSS_OK)
        goto done;
    for (int i = 0; i < 5; i++) {
        rc = seal_field(&dk, names[i], values[i], &sf[i], err);
        if (rc != OSS_OK)
            goto done;
    }
    ev.account_id = g->account_id;
    ev.scale = (Oss__V1__BusinessScale)g->r.scale;
    ev.actor_type = g->r.actor_type;
    ev.subject_id = g->subject_id;
    ev.nik = &sf[0];
    ev.name = &sf[1];
    ev.birth_date = &sf[2];
    ev.email = &sf[3];
    ev.phone = &sf[4];
    ev.website = g->r.website;
    ev.terms_version = g->r.terms_version;
    ev.country = g->r.country;
    ev.nik_birth_date_mismatch = g->r.nik_birth_date_mismatch;
    g->payload_len = oss__v1__account_registered__get_packed_size(&ev);
    g->payload = malloc(g->payload_len ? g->payload_len : 1);
    if (!g->payload) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    oss__v1__account_registered__pack(&ev, g->payload);

    g->claim.kind = "nik";
    g->claim.field = "nik";
    oss_index_digest(&ctx->index, "nik", g->r.nik, g->claim.digest);
    snprintf(g->claim.subject_id, sizeof g->claim.subject_id, "%s",
             g->subject_id);
    {
        uint8_t d[32];
        oss_index_digest(&ctx->index, "email", g->r.email, d);
        oss_hex(d, sizeof d, g->email_digest);
    }
    /* the activation (OTP + link) sealed under the same data key */
    if (ctx->lc) {
        rc = api_activation_prepare(ctx, &dk, g->account_id, "email",
                                    &g->act, err);
        if (rc != OSS_OK)
            goto done;
        g->has_act = true;
    }
done:
    for (int i = 0; i < 5; i++) {
        free(sf[i].nonce.data);
        free(sf[i].ciphertext.data);
    }
    memset(&dk, 0, sizeof dk);
    return rc;
}

/* decide(): the stream must be new; emits AccountRegistered. */
static oss_code_t
decide_register(void *vctx, const oss_event_t *history, size_t n,
                oss_event_list_t *out, oss_err_t *err)
{
    reg_t *g = vctx;
    oss_account_state_t st;

    oss_account_fold(&st, history, n);
    oss_code_t rc = oss_account_decide_register(&st, -1, err);
    if (rc != OSS_OK)
        return rc;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
             OSS_ACCOUNT_REGISTERED);
    ev->schema_version = 1;
    ev->payload = malloc(g->payload_len ? g->payload_len : 1);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, g->payload, g->payload_len);
    ev->payload_len = g->payload_len;
    return OSS_OK;
}

/* extra_fn: the e-mail look-up row (keyed hash) for sign-in by e-mail,
 * written with AccountRegistered. */
static oss_code_t
lookup_rows(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err)
{
    reg_t *g = vctx;
    const char *v[] = {g->email_digest, g->stream_id};
    (void)cmd;
    if (q(qctx,
          "INSERT INTO oss.account_lookup (kind, digest, stream_id) VALUES "
          "('email', decode($1, 'hex'), $2)",
          2, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    return OSS_OK;
}

/* The 201 body; also what the idempotency row remembers. Returns new. */
static char *
response_body(void *vctx, const oss_command_t *cmd)
{
    reg_t *g = vctx;
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "account_id", g->account_id,
                          "stream_id", g->stream_id, "version",
                          (json_int_t)cmd->last_version, "correlation_id",
                          g->cid);
    if (!o)
        return NULL;
    if (g->r.nik_birth_date_mismatch) {
        json_t *w = json_pack("[{s:s, s:s}]", "field", "nik", "reason",
                              "nik_birth_date_mismatch");
        if (w)
            json_object_set_new(o, "warnings", w);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Location of a replayed response: the account id inside it. */
static void
reply_created(oss_http_req_t *req, int status, char *body)
{
    char loc[160] = "";
    json_t *o = body ? json_loads(body, 0, NULL) : NULL;
    const char *id = o ? json_string_value(json_object_get(o, "account_id"))
                       : NULL;
    if (id && api_account_id_valid(id))
        snprintf(loc, sizeof loc, "/v1/accounts/%s", id);
    json_decref(o);
    const char *hdrs[] = {"Location", loc, NULL};
    oss_http_reply_json(req, status, body, loc[0] ? hdrs : NULL);
}

/* Inserts the batch's subject keys in one short transaction of its own (one
 * autocommit statement, one round trip). It commits with synchronous_commit
 * off (set_config(..., true) is SET LOCAL for this statement's transaction,
 * read at its commit): the journal transaction that follows commits
 * synchronously and its WAL flush covers every earlier WAL record, so a key
 * is durable whenever an event sealed under it is; a key lost in a crash
 * before that belongs to no event. Values travel as parameters, so they never
 * appear in a server log line. */
static oss_code_t
insert_subject_keys(PGconn *c, reg_t *regs, size_t n, oss_err_t *err)
{
    size_t cap = 64 + n * 200;
    char *ids = malloc(cap), *mks = malloc(cap), *wks = malloc(cap);
    size_t li = 0, lm = 0, lw = 0, live = 0;
    oss_code_t rc = OSS_OK;

    if (!ids || !mks || !wks) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    li += (size_t)snprintf(ids + li, cap - li, "{");
    lm += (size_t)snprintf(mks + lm, cap - lm, "{");
    lw += (size_t)snprintf(wks + lw, cap - lw, "{");
    for (size_t i = 0; i < n; i++) {
        if (!regs[i].live)
            continue;
        char hex[2 * 64 + 1];
        if (regs[i].wlen > 64) {
            rc = oss_err_set(err, OSS_EINTERNAL, "wrapped key too long");
            goto done;
        }
        oss_hex(regs[i].wrapped, regs[i].wlen, hex);
        const char *sep = live ? "," : "";
        li += (size_t)snprintf(ids + li, cap - li, "%s%s", sep,
                               regs[i].subject_id);
        lm += (size_t)snprintf(mks + lm, cap - lm, "%s%s", sep,
                               regs[i].master_key_id);
        lw += (size_t)snprintf(wks + lw, cap - lw, "%s%s", sep, hex);
        live++;
    }
    snprintf(ids + li, cap - li, "}");
    snprintf(mks + lm, cap - lm, "}");
    snprintf(wks + lw, cap - lw, "}");
    if (!live)
        goto done;
    const char *params[3] = {ids, mks, wks};
    PGresult *r = PQexecParams(
        c,
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', "
        "true)) INSERT INTO oss.subject_keys (subject_id, master_key_id, "
        "wrapped_key) SELECT t.s::uuid, t.m, decode(t.w, 'hex') FROM "
        "unnest($1::text[], $2::text[], $3::text[]) AS t(s, m, w), async",
        3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = oss_db_error(c, r, "store subject keys", err);
    PQclear(r);
done:
    free(ids);
    free(mks);
    free(wks);
    return rc;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
reg_clear(reg_t *g)
{
    free(g->wrapped);
    free(g->payload);
    api_activation_clear(&g->act);
    memset(&g->r, 0, sizeof g->r);
}

static void
reply_all(reg_t *regs, size_t n, int status, const char *msg)
{
    for (size_t i = 0; i < n; i++)
        if (regs[i].live) {
            oss_http_reply_error(regs[i].job->req, status, NULL, msg, NULL);
            regs[i].live = false;
        }
}

void
api_register_batch(api_worker_t *w, api_job_t **jobs, size_t n)
{
    api_ctx_t *ctx = api_worker_ctx(w);
    reg_t *regs = calloc(n, sizeof *regs);
    /* per registration: its command, then (lifecycle) ActivationIssued */
    oss_command_t *cmds = calloc(2 * n, sizeof *cmds);
    reg_t **cmd_reg = calloc(2 * n, sizeof *cmd_reg);
    bool *is_act = calloc(2 * n, sizeof *is_act);
    oss_err_t err;
    size_t live = 0;
    double t_start = now_ms();

    if (!regs || !cmds || !cmd_reg || !is_act) {
        for (size_t i = 0; i < n; i++)
            oss_http_reply_error(jobs[i]->req, 500, NULL, "out of memory",
                                 NULL);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        reg_t *g = &regs[i];
        g->job = jobs[i];
        g->cid = oss_http_req_cid(jobs[i]->req);
        oss_log_set_cid(g->cid);
        if (!decode(g))
            continue;
        oss_err_clear(&err);
        if (seal(ctx, g, &err) != OSS_OK) {
            oss_error("could not seal registration: %s", err.msg);
            oss_http_reply_error(g->job->req, 500, NULL,
                                 "could not seal personal data", NULL);
            continue;
        }
        g->idem_key = oss_http_req_header(jobs[i]->req, "Idempotency-Key");
        if (g->idem_key && (!*g->idem_key || strlen(g->idem_key) > 128)) {
            oss_field_errors_t fe = {0};
            oss_field_errors_add(&fe, "Idempotency-Key", "invalid");
            oss_http_reply_error(g->job->req, 422, NULL,
                                 "Idempotency-Key must be 1-128 characters",
                                 &fe);
            continue;
        }
        if (g->idem_key) {
            size_t blen;
            const char *body = oss_http_req_body(jobs[i]->req, &blen);
            oss_sha256(body, blen, g->request_hash);
        }
        g->live = true;
        live++;
    }
    oss_log_set_cid(NULL);
    if (!live)
        goto done;
    double t_sealed = now_ms();

    oss_err_clear(&err);
    oss_journal_t *j = api_worker_journal(w, &err);
    if (!j) {
        oss_warn("registration batch of %zu: database unavailable: %s", live,
                 err.msg);
        reply_all(regs, n, 503, "the database is unavailable; retry later");
        goto done;
    }
    if (insert_subject_keys(oss_journal_conn(j), regs, n, &err) != OSS_OK) {
        oss_warn("registration batch of %zu: %s", live, err.msg);
        if (err.code == OSS_EUNAVAIL) {
            api_worker_reset(w);
            reply_all(regs, n, 503, "the database is unavailable; retry "
                      "later");
        } else {
            reply_all(regs, n, 500, "could not store subject keys");
        }
        goto done;
    }

    double t_keys = now_ms();
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        reg_t *g = &regs[i];
        if (!g->live)
            continue;
        oss_command_t *c = &cmds[nc];
        c->stream_id = g->stream_id;
        c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
        c->expected_version = 0;
        c->actor_kind = OSS_ACTOR_BUSINESS_USER;
        c->actor_id = "";
        c->correlation_id = g->cid;
        c->idempotency_key = g->idem_key;
        c->request_hash = g->idem_key ? g->request_hash : NULL;
        c->decide = decide_register;
        c->ctx = g;
        c->claims = &g->claim;
        c->nclaims = 1;
        c->response_status = 201;
        c->response_fn = response_body;
        c->extra_fn = lookup_rows;
        cmd_reg[nc++] = g;
        if (g->has_act) {
            /* same transaction, after the registration, on the account's
             * access stream (lifecycle.proto); rejected (harmlessly) when
             * the registration was rejected or replayed */
            oss_command_t *a = &cmds[nc];
            g->act.reg_cmd = &cmds[nc - 1];
            a->stream_id = g->act.stream_id;
            a->stream_type = OSS_ACCOUNT_STREAM_TYPE;
            a->expected_version = -1; /* decide refuses a second issue */
            a->actor_kind = OSS_ACTOR_BUSINESS_USER;
            a->actor_id = "";
            a->correlation_id = g->cid;
            a->decide = api_activation_issue_decide;
            a->ctx = &g->act;
            a->extra_fn = api_activation_extra;
            cmd_reg[nc] = g;
            is_act[nc++] = true;
        }
    }
    oss_err_clear(&err);
    oss_code_t rc = oss_journal_execute(j, cmds, nc, &err);
    if (rc != OSS_OK) {
        oss_warn("registration batch of %zu not appended: %s", nc, err.msg);
        if (rc == OSS_EUNAVAIL) {
            api_worker_reset(w);
            reply_all(regs, n, 503, "the database is unavailable; retry "
                      "later");
        } else {
            reply_all(regs, n, 500, "could not append to the journal");
        }
        goto done;
    }
    oss_debug("registration batch n=%zu seal_ms=%.3f keys_ms=%.3f "
              "journal_ms=%.3f",
              nc, t_sealed - t_start, t_keys - t_sealed, now_ms() - t_keys);
    for (size_t i = 0; i < nc; i++) {
        oss_command_t *c = &cmds[i];
        reg_t *g = cmd_reg[i];
        oss_http_req_t *req = g->job->req;
        if (is_act[i]) {
            if (c->outcome == OSS_JOURNAL_APPENDED) {
                oss_log_set_cid(g->cid);
                oss_info("activation issued stream=%s channel=%s",
                         g->act.stream_id, g->act.channel);
                oss_log_set_cid(NULL);
            }
            continue;
        }
        oss_log_set_cid(g->cid);
        switch (c->outcome) {
        case OSS_JOURNAL_APPENDED:
            oss_info("account registered stream=%s version=%lld",
                     g->stream_id, (long long)c->last_version);
            reply_created(req, 201, response_body(g, c));
            break;
        case OSS_JOURNAL_REPLAYED:
            oss_info("registration replayed from its idempotency key");
            reply_created(req, c->replay_status ? c->replay_status : 201,
                          c->replay_response);
            c->replay_response = NULL;
            break;
        case OSS_JOURNAL_REJECTED: {
            oss_field_errors_t fe = {0};
            int status = oss_http_status_for(c->err.code);
            const char *code = oss_http_code_for_status(status);
            const char *msg = c->err.msg;
            if (c->err.code == OSS_EDUPLICATE) {
                code = "duplicate";
                if (strcmp(c->err.field, "nik") == 0) {
                    oss_field_errors_add(&fe, "nik", "already_registered");
                    msg = "an account with this NIK is already registered";
                } else if (c->err.field[0]) {
                    oss_field_errors_add(&fe, c->err.field, "reused");
                    msg = "this Idempotency-Key was used with a different "
                          "request";
                }
            } else if (c->err.code == OSS_ECONFLICT) {
                code = "version_conflict";
            }
            oss_info("registration rejected: %s", oss_code_name(c->err.code));
            oss_http_reply_error(req, status, code, msg, &fe);
            break;
        }
        }
        g->live = false;
        oss_log_set_cid(NULL);
    }
done:
    for (size_t i = 0; cmds && i < 2 * n; i++) {
        oss_event_list_free(&cmds[i].events);
        free(cmds[i].replay_response);
    }
    for (size_t i = 0; regs && i < n; i++)
        reg_clear(&regs[i]);
    free(cmd_reg);
    free(is_act);
    free(cmds);
    free(regs);
}
