/* POST /v1/accounts and POST /v1/legacy-migrations, the HTTP half: the
 * JSON body decoded and validated (core/account.h: 400 / 422 answered at
 * once), the Idempotency-Key checked, the use case called (src/app/
 * register.h: terms, sealing, claim, the batched commands; src/app/
 * legacy.h: the OSS 1.1 checks), its outcome mapped to the reply (status,
 * body, Location). A registration is a batched job of the worker pool: the
 * registrations a worker finds queued go to the journal in one
 * oss_journal_execute() (group commit, src/app/batch.c).
 * Plaintext personal data lives only in the job's memory and is wiped
 * before it is freed (oss_app_register_clear()); it is never logged. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "app/app.h"
#include "app/legacy.h"
#include "app/register.h"
#include "core/account.h"
#include "core/nik.h"
#include "legacy.h"
#include "log/log.h"
#include "ratelimit.h"
#include "request.h"

#define MAX_JSON_DEPTH 32

#define UNAVAILABLE "the database is unavailable; retry later"

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

/* Decodes and validates req's body into *out. Replies and returns false
 * on a bad request. */
static bool
decode(oss_http_req_t *req, oss_registration_t *out) {
    size_t len;
    const char *body = oss_http_req_body(req, &len);
    oss_field_errors_t fe;
    char msg[256];

    int status = api_registration_decode(body, len, oss_app_today_yyyymmdd(),
                                         out, &fe, msg, sizeof msg);
    if (status == 400)
        oss_http_reply_error(req, 400, "malformed_json", msg, NULL);
    else if (status)
        oss_http_reply_error(req, status, "invalid_fields", msg, &fe);
    return status == 0;
}

/* The worker's journal for the terms of use look-up; NULL after replying
 * 503. */
static oss_journal_t *
terms_journal(api_worker_t *w, oss_http_req_t *req) {
    oss_err_t err;
    oss_err_clear(&err);
    oss_journal_t *j = oss_app_worker_journal(w, &err);
    if (!j) {
        oss_warn("registration: could not read the terms of use: %s", err.msg);
        oss_http_reply_error(req, 503, NULL, UNAVAILABLE, NULL);
    }
    return j;
}

/* Answers a use case of src/app/register.h or legacy.h that returned rc
 * (not OSS_OK) with err: 422 unknown_version, else by the step that
 * failed (503 when retriable, the connection reset). */
static void
reply_failed(api_worker_t *w, oss_http_req_t *req, oss_code_t rc,
             const oss_app_register_t *r, const oss_err_t *err) {
    if (oss_err_is(err, OSS_APP_REASON_UNKNOWN_VERSION)) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "terms_version", "unknown_version");
        oss_http_reply_error(req, 422, "invalid_fields", err->msg, &fe);
        return;
    }
    switch (r->step) {
    case OSS_APP_REGISTER_STEP_TERMS:
        oss_http_reply_error(req, 503, NULL, UNAVAILABLE, NULL);
        return;
    case OSS_APP_REGISTER_STEP_SEAL:
        oss_http_reply_error(req, 500, NULL, "could not seal personal data",
                             NULL);
        return;
    case OSS_APP_REGISTER_STEP_PACK:
        oss_http_reply_error(req, 500, NULL, "out of memory", NULL);
        return;
    case OSS_APP_REGISTER_STEP_READ:
        if (rc == OSS_EUNAVAIL)
            oss_app_worker_reset(w);
        oss_http_reply_error(
            req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
            rc == OSS_EUNAVAIL ? UNAVAILABLE : "could not read", NULL);
        return;
    default:
        if (rc == OSS_EUNAVAIL && w)
            oss_app_worker_reset(w);
        oss_http_reply_error(req, rc == OSS_EUNAVAIL ? 503 : 500, NULL,
                             rc == OSS_EUNAVAIL
                                 ? UNAVAILABLE
                                 : "could not append to the journal",
                             NULL);
        return;
    }
}

/* The 201 body; also what the idempotency row remembers. Returns new. */
static char *
response_body(void *arg, const oss_app_register_t *r, int64_t version) {
    (void)arg;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s}", "account_id", r->account_id,
                  "stream_id", r->stream_id, "version", (json_int_t)version,
                  "correlation_id", r->correlation_id);
    if (!o)
        return NULL;
    if (r->reg.nik_birth_date_mismatch) {
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

/* A registration on the pool: a batched job (src/app/pool.h); the
 * registrations a worker finds queued share one transaction. */
typedef struct reg_job {
    api_job_t job; /* first: the pool frees through destroy */
    oss_app_register_t r;
} reg_job_t;

/* Decodes and validates one registration, has the use case check its
 * terms version and seal it (oss_app_register_prepare()), checks the
 * Idempotency-Key and returns its commands (oss_app_register_commands());
 * answers a bad request itself and returns 0. */
static size_t
reg_prepare(api_worker_t *w, oss_app_job_t *base, oss_command_t *cmds) {
    reg_job_t *rj = (reg_job_t *)base;
    oss_app_register_t *r = &rj->r;
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_http_req_t *req = rj->job.req;
    oss_journal_t *j;
    oss_err_t err;

    r->correlation_id = oss_http_req_cid(req);
    r->response_fn = response_body;
    if (!decode(req, &r->reg) || !(j = terms_journal(w, req)))
        return 0;
    oss_code_t rc = oss_app_register_prepare(&ctx->app, j, r, &err);
    if (rc != OSS_OK) {
        reply_failed(NULL, req, rc, r, &err);
        return 0;
    }
    const char *key = oss_http_req_header(req, "Idempotency-Key");
    if (key && (!*key || strlen(key) > 128)) {
        oss_field_errors_t fe = {0};
        oss_field_errors_add(&fe, "Idempotency-Key", "invalid");
        oss_http_reply_error(req, 422, NULL,
                             "Idempotency-Key must be 1-128 characters", &fe);
        return 0;
    }
    if (key) {
        size_t blen;
        const char *body = oss_http_req_body(req, &blen);
        oss_sha256(body, blen, r->request_hash);
    }
    r->idempotency_key = key;
    return oss_app_register_commands(r, cmds);
}

/* The answer to a rejected registration (r->err). */
static void
reply_rejected(oss_http_req_t *req, const oss_app_register_t *r) {
    oss_field_errors_t fe = {0};
    int status = oss_http_status_for(r->err.code);
    const char *code = oss_http_code_for_status(status);
    const char *msg = r->err.msg;
    if (r->err.code == OSS_EDUPLICATE) {
        code = "duplicate";
        const char *f = r->err.field;
        if (oss_err_is(&r->err, OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS)) {
            /* the business identity claim (one account per business): no
             * event was written */
            code = "one_account_per_business";
            oss_field_errors_add(&fe, f, "one_account_per_business");
            msg = !strcmp(f, "npwp")
                      ? "one account per business: an account for "
                        "this NPWP is already registered"
                  : !strcmp(f, "email")
                      ? "one account per business: an account for this "
                        "company e-mail is already registered (a business "
                        "entity without an NPWP is known by its e-mail)"
                  : !strcmp(f, "nik")
                      ? "one account per business: an account for "
                        "this NIK is already registered"
                      : "one account per business: an account for "
                        "this passport is already registered";
        } else if (oss_err_is(&r->err, OSS_APP_REASON_KEY_REUSED)) {
            oss_field_errors_add(&fe, f, "reused");
            msg = "this Idempotency-Key was used with a different "
                  "request";
        }
    } else if (r->err.code == OSS_ECONFLICT) {
        code = "version_conflict";
    }
    oss_http_reply_error(req, status, code, msg, &fe);
}

/* Answers one registration from its commands' outcomes, as the use case
 * read them (oss_app_register_finish()). */
static void
reg_finish(api_worker_t *w, oss_app_job_t *base, oss_command_t *cmds, size_t k,
           oss_code_t rc, const oss_err_t *err) {
    reg_job_t *rj = (reg_job_t *)base;
    oss_app_register_t *r = &rj->r;
    oss_http_req_t *req = rj->job.req;

    (void)w;
    rc = oss_app_register_finish(r, cmds, k, rc, err);
    if (rc != OSS_OK) {
        /* the pool resets the worker's connection */
        reply_failed(NULL, req, rc, r, err);
        return;
    }
    switch (r->outcome) {
    case OSS_JOURNAL_APPENDED:
        reply_created(req, 201, response_body(NULL, r, r->last_version));
        break;
    case OSS_JOURNAL_REPLAYED:
        reply_created(req, r->replay_status ? r->replay_status : 201,
                      r->replay_response);
        r->replay_response = NULL;
        break;
    case OSS_JOURNAL_REJECTED:
        reply_rejected(req, r);
        break;
    }
}

static void
reg_destroy(oss_app_job_t *base) {
    reg_job_t *rj = (reg_job_t *)base;
    oss_app_register_clear(&rj->r);
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

/* The birth date a NIK encodes (YYYY-MM-DD; the century is the latest that
 * is not in the future). */
static void
nik_birth_date(const char *nik, char out[11]) {
    oss_nik_info_t ni;
    out[0] = '\0';
    if (oss_nik_check(nik, &ni))
        return;
    int now = oss_app_today_yyyymmdd() / 10000;
    int y = 2000 + ni.yy;
    if (y > now)
        y -= 100;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
             (unsigned)ni.month % 100u, (unsigned)ni.day % 100u);
}

static json_t *
legacy_decode(oss_registration_t *out, oss_http_req_t *req) {
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
    oss_registration_validate(&in, oss_app_today_yyyymmdd(), out, &rfe);
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

/* The migration (src/app/legacy.h) on the worker's journal. */
static void
run_legacy(api_worker_t *w, api_job_t *job) {
    api_ctx_t *ctx = api_worker_ctx(w);
    oss_http_req_t *req = job->req;
    oss_app_legacy_migrate_t m;
    json_t *body = NULL;
    oss_journal_t *j;
    oss_err_t err;

    memset(&m, 0, sizeof m);
    m.r.correlation_id = oss_http_req_cid(req);
    if (!(body = legacy_decode(&m.r.reg, req)) || !(j = terms_journal(w, req)))
        goto done;
    m.username = json_string_value(json_object_get(body, "username"));
    m.password = json_string_value(json_object_get(body, "password"));
    m.decree_number = json_string_value(json_object_get(body, "decree_number"));
    oss_err_clear(&err);
    oss_code_t rc = oss_app_legacy_migrate(&ctx->app, j, &m, &err);
    if (rc != OSS_OK) {
        reply_failed(w, req, rc, &m.r, &err);
        goto done;
    }
    const oss_err_t *e = &m.r.err;
    if (m.r.outcome == OSS_JOURNAL_APPENDED) {
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:I, s:s, s:s}", "account_id", m.r.account_id,
            "stream_id", m.r.stream_id, "legacy_id", m.r.legacy_id, "version",
            (json_int_t)m.r.last_version, "correlation_id", m.r.correlation_id,
            "activation_channel", m.r.has_act ? m.r.act.channel : "");
        reply_created(req, 201, o ? json_dumps(o, JSON_COMPACT) : NULL);
        json_decref(o);
    } else if (oss_err_is(e, OSS_APP_REASON_UNKNOWN_VERSION)) {
        reply_failed(w, req, e->code, &m.r, e);
    } else if (oss_err_is(e, OSS_APP_REASON_ALREADY_MIGRATED)) {
        api_reply_field(req, 409, "already_migrated", "username",
                        "already_migrated", e->msg);
    } else if (oss_err_is(e, OSS_APP_REASON_INVALID_CREDENTIALS)) {
        api_reply_field(req, 401, "invalid_credentials", NULL, NULL, e->msg);
    } else if (oss_err_is(e, OSS_APP_REASON_LEGACY_MISMATCH)) {
        oss_http_reply_error(req, 422, "legacy_mismatch", e->msg, &m.mismatch);
    } else if (oss_err_is(e, OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS)) {
        api_reply_field(
            req, 409, "one_account_per_business", e->field,
            "one_account_per_business",
            "one account per business: an account for this business "
            "is already registered");
    } else {
        oss_http_reply_error(req, oss_http_status_for(e->code), NULL, e->msg,
                             NULL);
    }
done:
    if (body) {
        json_t *pw = json_object_get(body, "password");
        if (json_is_string(pw))
            explicit_bzero((char *)json_string_value(pw),
                           json_string_length(pw));
    }
    json_decref(body);
    oss_app_register_clear(&m.r);
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
