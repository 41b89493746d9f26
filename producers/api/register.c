/* POST /v1/accounts: decode the JSON body, validate (core/account.h), seal
 * the personal fields under a new subject's data key, claim the business
 * identity by its keyed hash, and append AccountRegistered + TermsAccepted;
 * a batch of registrations goes to the journal in one oss_journal_execute()
 * (group commit).
 *
 * Order per batch (worker thread):
 *   1. decode + validate each request (400 / 422 answered at once); the
 *      terms of use version must be published (terms.c, cached: no round
 *      trip per request);
 *   2. seal: new subject id (UUIDv4), data key wrapped by the master key,
 *      every personal field sealed with AAD subject_id|field;
 *   3. (helper X, perf) the subject keys are no longer a transaction of
 *      their own: lookup_rows() writes each one with its command's events;
 *   4. one oss_journal_execute() for the commands, each with its business
 *      identity claim (kind "business": one account per business, see
 *      oss_registration_business_identity()): a second registration of the
 *      same business fails there with 409 one_account_per_business. Each
 *      command's extra_fn writes, in the same transaction, the e-mail
 *      look-up, the owner's oss.principals row (principal_id = account_id),
 *      the owner grant and oss.account_scope (the domicile region); all of
 *      it rides the journal's pipeline, so no round trip is added.
 * Plaintext personal data lives only in this request's memory and is wiped
 * before it is freed; it is never logged. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "app/terms.h"
#include "auth.h"
#include "core/account.h"
#include "core/nik.h"
#include "db/db.h"
#include "journal/journal.h"
#include "legacy.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "ratelimit.h"
#include "request.h"

#define MAX_JSON_DEPTH 32

/* One registration in flight. */
typedef struct reg {
    api_job_t *job;
    bool live;            /* still to be appended */
    oss_registration_t r; /* plaintext: wiped before free */
    char account_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX];
    char subject_id[OSS_UUID_STR];
    char master_key_id[17];
    uint8_t *wrapped;
    size_t wlen;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *terms_payload; /* TermsAccepted */
    size_t terms_payload_len;
    char terms_sha256[65];
    oss_claim_t claim[2]; /* business identity; legacy_id */
    size_t nclaims;
    /* OSS 1.1 migration (api_legacy_migrate): LegacyAccountMigrated */
    char legacy_id[65];
    uint8_t *legacy_payload;
    size_t legacy_payload_len;
    uint8_t request_hash[32];
    const char *idem_key;
    const char *cid;
    oss_app_activation_t act; /* lifecycle.c: issued with it */
    bool has_act;
    char email_digest[65]; /* hex; oss.account_lookup (sign-in) */
    char nik_digest[65];   /* hex; oss.account_lookup ("forgot
                              account"); "" without a NIK */
} reg_t;

int
api_json_depth(const char *s, size_t n, int limit) {
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
today_yyyymmdd(void) {
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
safe_field_name(const char *in, char *out, size_t outsz) {
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
                        char *msg, size_t msgsz) {
    json_error_t jerr;
    json_t *root = NULL;
    oss_registration_input_t in = {0};
    int status = 0;
    static const char *known[] = {"scale",
                                  "actor_type",
                                  "nik",
                                  "name",
                                  "birth_date",
                                  "email",
                                  "phone",
                                  "country",
                                  "website",
                                  "terms_version",
                                  "npwp",
                                  "passport",
                                  "passport_country",
                                  "region_code",
                                  NULL};

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
        /* not jerr.text: jansson quotes the offending token ("invalid
         * token near '3171...'"), which may be personal data */
        snprintf(msg, msgsz,
                 "could not parse request body: invalid JSON at line %d, "
                 "byte %d",
                 jerr.line, jerr.position);
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
        if (json_is_null(val) &&
            (!strcmp(key, "website") || !strcmp(key, "country") ||
             !strcmp(key, "npwp") || !strcmp(key, "passport") ||
             !strcmp(key, "passport_country") || !strcmp(key, "region_code") ||
             !strcmp(key, "nik")))
            continue;
        if (!json_is_string(val)) {
            oss_field_errors_add(fe, key, OSS_REASON_MUST_BE_STRING);
            continue;
        }
        if (json_string_length(val) > 1024) {
            oss_field_errors_add(fe, key, OSS_REASON_TOO_LONG);
            continue;
        }
        const char **slot[] = {&in.scale,
                               &in.actor_type,
                               &in.nik,
                               &in.name,
                               &in.birth_date,
                               &in.email,
                               &in.phone,
                               &in.country,
                               &in.website,
                               &in.terms_version,
                               &in.npwp,
                               &in.passport,
                               &in.passport_country,
                               &in.region_code};
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
decode(reg_t *g) {
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

/* The terms of use version g accepts must be published (oss.terms_versions
 * through terms.c's cache: no round trip per request); fills
 * g->terms_sha256. *j: the worker's journal, connected on first use. Replies
 * 422 (unknown_version) or 503 and returns false otherwise. */
static bool
terms_known(api_worker_t *w, oss_journal_t **j, reg_t *g) {
    oss_err_t err;
    oss_err_clear(&err);
    if (!*j)
        *j = oss_app_worker_journal(w, &err);
    if (*j) {
        oss_err_clear(&err);
        oss_code_t rc = oss_app_terms_lookup(
            oss_journal_conn(*j), g->r.terms_version, g->terms_sha256, &err);
        if (rc == OSS_OK)
            return true;
        if (rc == OSS_ENOTFOUND) {
            oss_field_errors_t fe = {0};
            oss_field_errors_add(&fe, "terms_version", "unknown_version");
            oss_http_reply_error(g->job->req, 422, "invalid_fields", err.msg,
                                 &fe);
            return false;
        }
    }
    oss_warn("registration: could not read the terms of use: %s", err.msg);
    oss_http_reply_error(g->job->req, 503, NULL,
                         "the database is unavailable; retry later", NULL);
    return false;
}

/* Seals g->r into g->payload (AccountRegistered) and prepares the claim. */
static oss_code_t
seal(api_ctx_t *ctx, reg_t *g, oss_err_t *err) {
    oss_data_key_t dk;
    Oss__V1__AccountRegistered ev = OSS__V1__ACCOUNT_REGISTERED__INIT;
    Oss__V1__TermsAccepted ta = OSS__V1__TERMS_ACCEPTED__INIT;
    enum { NSEALED = 7 };
    Oss__V1__SealedField sf[NSEALED];
    Oss__V1__SealedField *sfp[NSEALED] = {NULL};
    const char *names[NSEALED] = {"nik",   "name", "birth_date", "email",
                                  "phone", "npwp", "passport"};
    /* "" = not given: no sealed field at all */
    const char *values[NSEALED] = {g->r.nik,     g->r.name,  g->r.birth_date,
                                   g->r.email,   g->r.phone, g->r.npwp,
                                   g->r.passport};
    const char *id_field = NULL;
    char id_value[64];
    oss_code_t rc;

    for (int i = 0; i < NSEALED; i++)
        oss__v1__sealed_field__init(&sf[i]);

    memset(&dk, 0, sizeof dk);
    oss_uuid7(g->account_id);
    snprintf(g->stream_id, sizeof g->stream_id, "account-%s", g->account_id);
    oss_uuid4(g->subject_id);
    rc = oss_data_key_new(&ctx->app.master, g->subject_id, &dk, &g->wrapped,
                          &g->wlen, g->master_key_id, err);
    if (rc != OSS_OK)
        goto done;
    for (int i = 0; i < NSEALED; i++) {
        if (!values[i][0])
            continue;
        rc = oss_app_seal_field(&dk, names[i], values[i], &sf[i], err);
        if (rc != OSS_OK)
            goto done;
        sfp[i] = &sf[i];
    }
    if (!oss_registration_business_identity(&g->r, &id_field, id_value,
                                            sizeof id_value)) {
        rc = oss_err_set(err, OSS_EINTERNAL, "registration without identity");
        goto done;
    }
    ev.account_id = g->account_id;
    ev.scale = (Oss__V1__BusinessScale)g->r.scale;
    ev.actor_type = g->r.actor_type;
    ev.subject_id = g->subject_id;
    ev.nik = sfp[0];
    ev.name = sfp[1];
    ev.birth_date = sfp[2];
    ev.email = sfp[3];
    ev.phone = sfp[4];
    ev.npwp = sfp[5];
    ev.passport = sfp[6];
    ev.passport_country = g->r.passport_country;
    ev.region_code = g->r.region_code;
    ev.business_identity = (char *)id_field;
    ev.website = g->r.website;
    ev.terms_version = g->r.terms_version;
    ev.country = g->r.country;
    ev.nik_birth_date_mismatch = g->r.nik_birth_date_mismatch;
    g->payload_len = oss__v1__account_registered__get_packed_size(&ev);
    g->payload = malloc(g->payload_len ? g->payload_len : 1);
    ta.account_id = g->account_id;
    ta.version = g->r.terms_version;
    ta.principal_id = g->account_id; /* the first owner */
    ta.sha256 = g->terms_sha256;
    g->terms_payload_len = oss__v1__terms_accepted__get_packed_size(&ta);
    g->terms_payload = malloc(g->terms_payload_len ? g->terms_payload_len : 1);
    if (!g->payload || !g->terms_payload) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    oss__v1__account_registered__pack(&ev, g->payload);
    oss__v1__terms_accepted__pack(&ta, g->terms_payload);

    /* one account per business: the keyed hash of the identity, taken
     * under its own kind (a NIK's digest is the NIK's look-up digest) */
    g->claim[0].kind = "business";
    g->claim[0].field = id_field;
    oss_index_digest(&ctx->app.index, id_field, id_value, g->claim[0].digest);
    g->nclaims = 1;
    memset(id_value, 0, sizeof id_value);
    snprintf(g->claim[0].subject_id, sizeof g->claim[0].subject_id, "%s",
             g->subject_id);
    {
        uint8_t d[32];
        oss_index_digest(&ctx->app.index, "email", g->r.email, d);
        oss_hex(d, sizeof d, g->email_digest);
        /* the NIK look-up row: "forgot account" finds the account by the
         * responsible person's NIK even when the business identity is an
         * NPWP or a passport */
        g->nik_digest[0] = '\0';
        if (g->r.nik[0]) {
            oss_index_digest(&ctx->app.index, "nik", g->r.nik, d);
            oss_hex(d, sizeof d, g->nik_digest);
        }
        memset(d, 0, sizeof d);
    }
    /* the activation (OTP + link) sealed under the same data key */
    if (ctx->app.lc) {
        rc = oss_app_activation_prepare(&ctx->app, &dk, g->account_id, "email",
                                        &g->act, err);
        if (rc != OSS_OK)
            goto done;
        g->has_act = true;
    }
done:
    for (int i = 0; i < NSEALED; i++) {
        free(sf[i].nonce.data);
        free(sf[i].ciphertext.data);
    }
    memset(&dk, 0, sizeof dk);
    return rc;
}

/* decide(): the stream must be new; emits AccountRegistered. */
static oss_code_t
decide_register(void *vctx, const oss_event_t *history, size_t n,
                oss_event_list_t *out, oss_err_t *err) {
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
    /* accepting the terms of use is an event of its own */
    ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.TermsAccepted");
    ev->schema_version = 1;
    ev->payload = malloc(g->terms_payload_len ? g->terms_payload_len : 1);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, g->terms_payload, g->terms_payload_len);
    ev->payload_len = g->terms_payload_len;
    if (g->legacy_payload) {
        /* migrated from OSS 1.1: the history links to the legacy record */
        ev = oss_event_list_push(out);
        if (!ev)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        snprintf(ev->payload_type, sizeof ev->payload_type,
                 "oss.v1.LegacyAccountMigrated");
        ev->schema_version = 1;
        ev->reason = strdup("OSS 1.1 access replaced (ganti hak akses): old "
                            "credentials, NPWP, decree, director checked");
        if (!ev->reason)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        ev->payload = malloc(g->legacy_payload_len ? g->legacy_payload_len : 1);
        if (!ev->payload)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        memcpy(ev->payload, g->legacy_payload, g->legacy_payload_len);
        ev->payload_len = g->legacy_payload_len;
    }
    return OSS_OK;
}

/* extra_fn, written with AccountRegistered: the e-mail look-up row (keyed
 * hash) for sign-in by e-mail, the first owner as a principal
 * (principal_id = account_id; its contact is sealed in the account
 * stream's AccountRegistered), the account's domicile for officers' scope
 * (one statement), and the owner grant. */
static oss_code_t
lookup_rows(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    reg_t *g = vctx;
    const char *v[] = {g->email_digest, g->stream_id, g->account_id,
                       g->subject_id,
                       g->r.region_code[0] ? g->r.region_code : NULL};
    oss_grant_t owner;
    (void)cmd;
    /* (helper X, perf) the subject's wrapped data key, committed with the
     * events sealed under it: no round trip and no commit of its own */
    char wk[2 * 64 + 1];
    if (g->wlen > 64)
        return oss_err_set(err, OSS_EINTERNAL, "wrapped key too long");
    oss_hex(g->wrapped, g->wlen, wk);
    const char *kv[] = {g->subject_id, g->master_key_id, wk};
    if (q(qctx,
          "INSERT INTO oss.subject_keys (subject_id, master_key_id, "
          "wrapped_key) VALUES ($1::uuid, $2, decode($3, 'hex'))",
          3, kv, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    if (q(qctx,
          "WITH p AS (INSERT INTO oss.principals (principal_id, kind, "
          "subject_id, contact_stream) VALUES ($3, 'business', $4::uuid, $2)),"
          " s AS (INSERT INTO oss.account_scope (account_id, region) VALUES "
          "($3, $5)) INSERT INTO oss.account_lookup (kind, digest, stream_id) "
          "VALUES ('email', decode($1, 'hex'), $2)",
          5, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    if (g->nik_digest[0]) {
        const char *nv[] = {g->nik_digest, g->stream_id};
        if (q(qctx,
              "INSERT INTO oss.account_lookup (kind, digest, stream_id) "
              "VALUES ('nik', decode($1, 'hex'), $2) ON CONFLICT DO NOTHING",
              2, nv, NULL, NULL))
            return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    }
    if (g->legacy_id[0]) {
        /* the OSS 1.1 account is migrated: single use, its old password
         * hash goes */
        const char *lv[] = {g->legacy_id, g->account_id};
        if (q(qctx,
              "UPDATE oss.legacy_accounts SET migrated_account_id = $2, "
              "migrated_at = now(), password_hash = NULL WHERE legacy_id = $1 "
              "AND migrated_account_id IS NULL",
              2, lv, NULL, NULL))
            return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    }
    memset(&owner, 0, sizeof owner);
    owner.role = OSS_ROLE_OWNER;
    snprintf(owner.account_id, sizeof owner.account_id, "%s", g->account_id);
    return oss_app_grant_queue_add(q, qctx, g->account_id, &owner, err);
}

/* The 201 body; also what the idempotency row remembers. Returns new. */
static char *
response_body(void *vctx, const oss_command_t *cmd) {
    reg_t *g = vctx;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s}", "account_id", g->account_id,
                  "stream_id", g->stream_id, "version",
                  (json_int_t)cmd->last_version, "correlation_id", g->cid);
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
reply_created(oss_http_req_t *req, int status, char *body) {
    char loc[160] = "";
    json_t *o = body ? json_loads(body, 0, NULL) : NULL;
    const char *id =
        o ? json_string_value(json_object_get(o, "account_id")) : NULL;
    if (id && oss_app_id_valid(id))
        snprintf(loc, sizeof loc, "/v1/accounts/%s", id);
    json_decref(o);
    const char *hdrs[] = {"Location", loc, NULL};
    oss_http_reply_json(req, status, body, loc[0] ? hdrs : NULL);
}

static void
reg_clear(reg_t *g) {
    free(g->wrapped);
    free(g->payload);
    free(g->terms_payload);
    free(g->legacy_payload);
    oss_app_activation_clear(&g->act);
    memset(&g->r, 0, sizeof g->r);
}

/* Fills c[0] (the registration) and, when an activation is issued with it,
 * c[1] (ActivationIssued on the access stream, same transaction, after the
 * registration; rejected harmlessly when the registration was rejected or
 * replayed). Returns how many commands it filled (1 or 2). */
static size_t
fill_commands(reg_t *g, oss_command_t *c) {
    c->stream_id = g->stream_id;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = 0;
    c->actor_kind = OSS_ACTOR_BUSINESS_USER;
    c->actor_id = g->account_id; /* the registering owner */
    c->correlation_id = g->cid;
    c->idempotency_key = g->idem_key;
    c->request_hash = g->idem_key ? g->request_hash : NULL;
    c->decide = decide_register;
    c->ctx = g;
    c->claims = g->claim;
    c->nclaims = g->nclaims;
    c->response_status = 201;
    c->response_fn = response_body;
    c->extra_fn = lookup_rows;
    if (!g->has_act)
        return 1;
    oss_command_t *a = &c[1];
    g->act.reg_cmd = c;
    a->stream_id = g->act.stream_id;
    a->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    /* (helper X, perf) 0: the access stream is new with the account; lets
     * the journal skip its reads for a batch of registrations */
    a->expected_version = 0;
    a->actor_kind = OSS_ACTOR_BUSINESS_USER;
    a->actor_id = "";
    a->correlation_id = g->cid;
    a->decide = oss_app_activation_issue_decide;
    a->ctx = &g->act;
    a->extra_fn = oss_app_activation_extra;
    return 2;
}

/* A registration on the pool: a batched job (src/app/pool.h); the
 * registrations a worker finds queued share one transaction. */
typedef struct reg_job {
    api_job_t job; /* first: the pool frees through destroy */
    reg_t g;
} reg_job_t;

/* Decodes, checks and seals one registration and fills its commands
 * (fill_commands()); answers a bad request itself and returns 0. */
static size_t
reg_prepare(api_worker_t *w, oss_app_job_t *base, oss_command_t *cmds) {
    reg_job_t *rj = (reg_job_t *)base;
    reg_t *g = &rj->g;
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_http_req_t *req = rj->job.req;
    oss_journal_t *j = NULL;
    oss_err_t err;

    g->job = &rj->job;
    g->cid = oss_http_req_cid(req);
    if (!decode(g) || !terms_known(w, &j, g))
        return 0;
    oss_err_clear(&err);
    if (seal(ctx, g, &err) != OSS_OK) {
        oss_error("could not seal registration: %s", err.msg);
        oss_http_reply_error(req, 500, NULL, "could not seal personal data",
                             NULL);
        return 0;
    }
    g->idem_key = oss_http_req_header(req, "Idempotency-Key");
    if (g->idem_key && (!*g->idem_key || strlen(g->idem_key) > 128)) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "Idempotency-Key", "invalid");
        oss_http_reply_error(req, 422, NULL,
                             "Idempotency-Key must be 1-128 characters", &fe);
        return 0;
    }
    if (g->idem_key) {
        size_t blen;
        const char *body = oss_http_req_body(req, &blen);
        oss_sha256(body, blen, g->request_hash);
    }
    g->live = true;
    return fill_commands(g, cmds);
}

/* The answer to a rejected registration (cmd's error). */
static void
reply_rejected(oss_http_req_t *req, const oss_command_t *c) {
    oss_field_errors_t fe = {0};
    int status = oss_http_status_for(c->err.code);
    const char *code = oss_http_code_for_status(status);
    const char *msg = c->err.msg;
    if (c->err.code == OSS_EDUPLICATE) {
        code = "duplicate";
        const char *f = c->err.field;
        if (!strcmp(f, "nik") || !strcmp(f, "npwp") || !strcmp(f, "passport")) {
            /* the business identity claim (one account per business): no
             * event was written */
            code = "one_account_per_business";
            oss_field_errors_add(&fe, f, "one_account_per_business");
            msg = !strcmp(f, "npwp")
                      ? "one account per business: an account for "
                        "this NPWP is already registered"
                  : !strcmp(f, "nik")
                      ? "one account per business: an account for "
                        "this NIK is already registered"
                      : "one account per business: an account for "
                        "this passport is already registered";
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
}

/* Answers one registration from its commands' outcomes (cmds[0] the
 * registration, cmds[1] its activation when issued). */
static void
reg_finish(api_worker_t *w, oss_app_job_t *base, oss_command_t *cmds, size_t k,
           oss_code_t rc, const oss_err_t *err) {
    reg_job_t *rj = (reg_job_t *)base;
    reg_t *g = &rj->g;
    oss_http_req_t *req = rj->job.req;

    (void)w;
    g->live = false;
    if (rc != OSS_OK || k == 0) {
        oss_warn("registration not appended: %s", err->msg);
        if (rc == OSS_EUNAVAIL)
            oss_http_reply_error(req, 503, NULL,
                                 "the database is unavailable; retry later",
                                 NULL);
        else
            oss_http_reply_error(req, 500, NULL,
                                 "could not append to the journal", NULL);
        return;
    }
    oss_command_t *c = &cmds[0];
    if (k > 1 && cmds[1].outcome == OSS_JOURNAL_APPENDED)
        oss_info("activation issued stream=%s channel=%s", g->act.stream_id,
                 g->act.channel);
    switch (c->outcome) {
    case OSS_JOURNAL_APPENDED:
        oss_info("account registered stream=%s version=%lld", g->stream_id,
                 (long long)c->last_version);
        reply_created(req, 201, response_body(g, c));
        break;
    case OSS_JOURNAL_REPLAYED:
        oss_info("registration replayed from its idempotency key");
        reply_created(req, c->replay_status ? c->replay_status : 201,
                      c->replay_response);
        c->replay_response = NULL;
        break;
    case OSS_JOURNAL_REJECTED:
        reply_rejected(req, c);
        break;
    }
}

static void
reg_destroy(oss_app_job_t *base) {
    reg_job_t *rj = (reg_job_t *)base;
    reg_clear(&rj->g);
    free(rj);
}

void
api_register_submit(api_ctx_t *ctx, oss_http_req_t *req) {
    reg_job_t *rj = calloc(1, sizeof *rj);
    if (!rj) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return;
    }
    rj->job.req = req;
    rj->job.base.prepare = reg_prepare;
    rj->job.base.finish = reg_finish;
    rj->job.base.destroy = reg_destroy;
    api_pool_submit(ctx->pool, &rj->job);
}

/* ---- POST /v1/legacy-migrations (OSS 1.1 "ganti hak akses") ------------- */

/* An Argon2id hash of nothing in particular: verified against when the
 * username is unknown, so that an unknown and a known username take the
 * same time. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$aFeeVJj/ZO/eC5RqtMKOyQ$"
    "UWT2fbXv/oRPdMQ6nvpAeFs1hFQs0B2nS57mJmbLnos";

/* Hex of the keyed digest of (kind, value). */
static void
digest_hex(api_ctx_t *ctx, const char *kind, const char *value, char *hex) {
    uint8_t d[32];
    oss_index_digest(&ctx->app.index, kind, value, d);
    oss_hex(d, sizeof d, hex);
    memset(d, 0, sizeof d);
}

/* The birth date a NIK encodes (YYYY-MM-DD; the century is the latest that
 * is not in the future). */
static void
nik_birth_date(const char *nik, char out[11]) {
    oss_nik_info_t ni;
    out[0] = '\0';
    if (oss_nik_check(nik, &ni))
        return;
    int now = today_yyyymmdd() / 10000;
    int y = 2000 + ni.yy;
    if (y > now)
        y -= 100;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
             (unsigned)ni.month % 100u, (unsigned)ni.day % 100u);
}

/* Decodes the body into g->r (validated like a registration of a business
 * entity, actor type 01, NPWP required) and the legacy credentials. Replies
 * and returns NULL on a bad request; else returns the parsed body (caller
 * frees with json_decref()). */
static json_t *
legacy_decode(reg_t *g, oss_http_req_t *req) {
    static const char *const known[] = {"username",      "password",
                                        "npwp",          "decree_number",
                                        "director_name", "nik",
                                        "email",         "phone",
                                        "scale",         "terms_version",
                                        "birth_date",    "region_code",
                                        "website",       NULL};
    size_t len;
    const char *raw = oss_http_req_body(req, &len);
    json_error_t jerr;
    oss_field_errors_t fe = {0};
    json_t *body =
        len ? json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    char bd[11];

    if (!body || !json_is_object(body)) {
        oss_http_reply_error(req, 400, "malformed_json",
                             "request body must be a JSON object", NULL);
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        bool k = false;
        for (int i = 0; known[i]; i++)
            k = k || !strcmp(known[i], key);
        if (!k) {
            char name[48];
            safe_field_name(key, name, sizeof name);
            oss_field_errors_add(&fe, name, OSS_REASON_UNKNOWN_FIELD);
        } else if (!json_is_string(val)) {
            oss_field_errors_add(&fe, key, OSS_REASON_MUST_BE_STRING);
        } else if (json_string_length(val) > 1024) {
            oss_field_errors_add(&fe, key, OSS_REASON_TOO_LONG);
        }
    }
#define S(k) json_string_value(json_object_get(body, k))
    const char *req_fields[] = {"username", "password", "decree_number",
                                "npwp"};
    for (size_t i = 0; i < 4; i++)
        if (!oss_field_errors_get(&fe, req_fields[i]) &&
            (!S(req_fields[i]) || !*S(req_fields[i])))
            oss_field_errors_add(&fe, req_fields[i], OSS_REASON_REQUIRED);
    oss_registration_input_t in = {
        .scale = S("scale"),
        .actor_type = "01",
        .nik = S("nik"),
        .name = S("director_name"),
        .birth_date = S("birth_date"),
        .email = S("email"),
        .phone = S("phone"),
        .country = "ID",
        .website = S("website"),
        .terms_version = S("terms_version"),
        .npwp = S("npwp"),
        .region_code = S("region_code"),
    };
    if (!in.birth_date && in.nik) {
        nik_birth_date(in.nik, bd);
        in.birth_date = bd[0] ? bd : NULL;
    }
    /* the registration names the director's name "name" */
    oss_field_errors_t rfe = {0};
    if (oss_field_errors_get(&fe, "director_name"))
        oss_field_errors_add(&rfe, "name", "set");
    oss_registration_validate(&in, today_yyyymmdd(), &g->r, &rfe);
    for (size_t i = 0; i < rfe.n; i++)
        if (strcmp(rfe.items[i].reason, "set") != 0)
            oss_field_errors_add(&fe,
                                 !strcmp(rfe.items[i].field, "name")
                                     ? "director_name"
                                     : rfe.items[i].field,
                                 rfe.items[i].reason);
#undef S
    if (fe.n) {
        char msg[64];
        snprintf(msg, sizeof msg, "%zu field%s invalid", fe.n,
                 fe.n == 1 ? " is" : "s are");
        oss_http_reply_error(req, 422, "invalid_fields", msg, &fe);
        goto fail;
    }
    return body;
fail:
    if (body) {
        json_t *pw = json_object_get(body, "password");
        if (json_is_string(pw))
            explicit_bzero((char *)json_string_value(pw),
                           json_string_length(pw));
    }
    json_decref(body);
    return NULL;
}

/* Checks the old credentials and the company's data against the imported
 * OSS 1.1 row; fills g->legacy_id and the LegacyAccountMigrated facts.
 * Replies and returns false when they do not match. */
static bool
legacy_check(api_worker_t *w, reg_t *g, json_t *body, char *company,
             size_t companysz, char *decree, size_t decreesz) {
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_http_req_t *req = g->job->req;
    const char *username = json_string_value(json_object_get(body, "username"));
    const char *password = json_string_value(json_object_get(body, "password"));
    char ufold[129], hex[65], fold[401];
    oss_err_t err;
    bool ok = false;

    snprintf(ufold, sizeof ufold, "%s", username);
    for (char *p = ufold; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    digest_hex(ctx, "legacy_username", ufold, hex);
    oss_err_clear(&err);
    const char *p[] = {hex};
    PGresult *r = api_req_query(
        w, req, "read the legacy account",
        "SELECT legacy_id, password_hash, encode(npwp_digest, 'hex'), "
        "company, decree_number, encode(director_name_digest, 'hex'), "
        "encode(director_nik_digest, 'hex'), migrated_account_id IS NOT NULL "
        "FROM oss.legacy_accounts WHERE username_digest = decode($1, 'hex')",
        1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    bool found = PQntuples(r) == 1;
    if (found && PQgetvalue(r, 0, 7)[0] == 't') {
        api_reply_field(req, 409, "already_migrated", "username",
                        "already_migrated",
                        "this OSS 1.1 account was already migrated; sign in to "
                        "the new account or recover it");
        goto done;
    }
    /* the password first (same cost whether the username exists or not) */
    const char *hash =
        found && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1) : dummy_hash;
    bool pw_ok = argon2id_verify(hash, password, strlen(password)) == ARGON2_OK;
    if (!found || !pw_ok) {
        oss_info("legacy migration refused: wrong credentials");
        api_reply_field(req, 401, "invalid_credentials", NULL, NULL,
                        "the OSS 1.1 username or password is wrong");
        goto done;
    }
    oss_field_errors_t fe = {0};
    digest_hex(ctx, "npwp", g->r.npwp, hex);
    if (!oss_ct_equal(hex, PQgetvalue(r, 0, 2), 64))
        oss_field_errors_add(&fe, "npwp", "does_not_match");
    oss_text_fold(json_string_value(json_object_get(body, "decree_number")),
                  fold, sizeof fold);
    if (strcmp(fold, PQgetvalue(r, 0, 4)) != 0)
        oss_field_errors_add(&fe, "decree_number", "does_not_match");
    oss_text_fold(g->r.name, fold, sizeof fold);
    digest_hex(ctx, "legacy_director_name", fold, hex);
    if (!oss_ct_equal(hex, PQgetvalue(r, 0, 5), 64))
        oss_field_errors_add(&fe, "director_name", "does_not_match");
    digest_hex(ctx, "nik", g->r.nik, hex);
    if (!oss_ct_equal(hex, PQgetvalue(r, 0, 6), 64))
        oss_field_errors_add(&fe, "nik", "does_not_match");
    memset(fold, 0, sizeof fold);
    if (fe.n) {
        oss_info("legacy migration refused: %zu field(s) do not match the "
                 "OSS 1.1 record",
                 fe.n);
        oss_http_reply_error(req, 422, "legacy_mismatch",
                             "the company's data does not match the OSS 1.1 "
                             "record",
                             &fe);
        goto done;
    }
    snprintf(g->legacy_id, sizeof g->legacy_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(company, companysz, "%s", PQgetvalue(r, 0, 3));
    snprintf(decree, decreesz, "%s", PQgetvalue(r, 0, 4));
    ok = true;
done:
    PQclear(r);
    return ok;
}

static void
run_legacy(api_worker_t *w, api_job_t *job) {
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_http_req_t *req = job->req;
    reg_t g;
    oss_command_t cmds[2];
    json_t *body = NULL;
    char company[201] = "", decree[101] = "";
    oss_err_t err;

    memset(&g, 0, sizeof g);
    memset(cmds, 0, sizeof cmds);
    g.job = job;
    g.cid = oss_http_req_cid(req);
    if (!(body = legacy_decode(&g, req)))
        goto done;
    oss_journal_t *j = NULL;
    if (!terms_known(w, &j, &g))
        goto done;
    if (!legacy_check(w, &g, body, company, sizeof company, decree,
                      sizeof decree))
        goto done;
    oss_err_clear(&err);
    if (seal(ctx, &g, &err) != OSS_OK) {
        oss_error("could not seal registration: %s", err.msg);
        oss_http_reply_error(req, 500, NULL, "could not seal personal data",
                             NULL);
        goto done;
    }
    Oss__V1__LegacyAccountMigrated lm = OSS__V1__LEGACY_ACCOUNT_MIGRATED__INIT;
    lm.account_id = g.account_id;
    lm.legacy_id = g.legacy_id;
    lm.decree_number = decree;
    lm.company = company;
    g.legacy_payload_len =
        oss__v1__legacy_account_migrated__get_packed_size(&lm);
    g.legacy_payload = malloc(g.legacy_payload_len ? g.legacy_payload_len : 1);
    if (!g.legacy_payload) {
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        goto done;
    }
    oss__v1__legacy_account_migrated__pack(&lm, g.legacy_payload);
    /* single use, inside the append transaction; claimed before the
     * business identity so that a second migration of the same legacy
     * account is told so */
    g.claim[1] = g.claim[0];
    memset(&g.claim[0], 0, sizeof g.claim[0]);
    g.claim[0].kind = "legacy";
    g.claim[0].field = "legacy_id";
    oss_index_digest(&ctx->app.index, "legacy", g.legacy_id, g.claim[0].digest);
    g.nclaims = 2;
    g.live = true;

    oss_err_clear(&err);
    j = oss_app_worker_journal(w, &err);
    if (!j) { /* (helper X) subject key: written by lookup_rows() */
        oss_app_worker_reset(w);
        oss_http_reply_error(req, 503, NULL,
                             "the database is unavailable; retry later", NULL);
        goto done;
    }
    size_t nc = fill_commands(&g, cmds);
    g.act.reg_cmd = &cmds[0];
    oss_err_clear(&err);
    oss_code_t rc = oss_journal_execute(j, cmds, nc, &err);
    if (rc != OSS_OK) {
        oss_warn("legacy migration not appended: %s", err.msg);
        if (rc == OSS_EUNAVAIL)
            oss_app_worker_reset(w);
        oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                             rc == OSS_EUNAVAIL
                                 ? "the database is unavailable; retry later"
                                 : "could not append to the journal",
                             NULL);
        goto done;
    }
    oss_command_t *c = &cmds[0];
    if (c->outcome == OSS_JOURNAL_APPENDED) {
        oss_info("legacy account migrated stream=%s legacy_id=%s", g.stream_id,
                 g.legacy_id);
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:I, s:s, s:s}", "account_id", g.account_id,
            "stream_id", g.stream_id, "legacy_id", g.legacy_id, "version",
            (json_int_t)c->last_version, "correlation_id", g.cid,
            "activation_channel", g.has_act ? g.act.channel : "");
        reply_created(req, 201, o ? json_dumps(o, JSON_COMPACT) : NULL);
        json_decref(o);
    } else if (c->err.code == OSS_EDUPLICATE &&
               !strcmp(c->err.field, "legacy_id")) {
        api_reply_field(req, 409, "already_migrated", "username",
                        "already_migrated",
                        "this OSS 1.1 account was already migrated");
    } else if (c->err.code == OSS_EDUPLICATE && c->err.field[0]) {
        api_reply_field(
            req, 409, "one_account_per_business", c->err.field,
            "one_account_per_business",
            "one account per business: an account for this business "
            "is already registered");
    } else {
        oss_http_reply_error(req, oss_http_status_for(c->err.code), NULL,
                             c->err.msg, NULL);
    }
done:
    for (size_t i = 0; i < 2; i++) {
        oss_event_list_free(&cmds[i].events);
        free(cmds[i].replay_response);
    }
    if (body) {
        json_t *pw = json_object_get(body, "password");
        if (json_is_string(pw))
            explicit_bzero((char *)json_string_value(pw),
                           json_string_length(pw));
    }
    json_decref(body);
    reg_clear(&g);
}

void
api_h_legacy_migrate(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"username", NULL};
    char key[80];
    api_ctx_t *ctx = arg;
    /* guessing old passwords: per client IP and per username */
    bool ok =
        api_ratelimit_take(req, API_RL_REGISTER,
                           api_ratelimit_body_key(req, idf, key, sizeof key));
    explicit_bzero(key, sizeof key);
    if (!ok)
        return;
    api_req_submit(ctx, req, run_legacy);
}
