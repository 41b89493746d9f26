/* The account lifecycle over HTTP: activation (issued with a registration,
 * resend, verify by OTP or link), password, sign-in and sessions. Rules are
 * in src/core/lifecycle.c; this shell decodes and encodes events, makes and
 * hashes secrets, runs Argon2id on the worker pool, and writes the secret
 * tables (oss.activation_secrets, oss.deliveries, oss.credentials,
 * oss.sessions, infra/sql/040_credentials.sql) in the same transaction as
 * the events that record their changes (the journal's extra_fn).
 *
 * Secrets (OTP, link token, password, session token) live only in request
 * memory, are wiped after use and never logged; tables hold keyed hashes
 * (HMAC-SHA256 under crypto.otp_key_file), the Argon2id hash, or (for the
 * notifier) the OTP and link sealed under the subject's data key. */
#include "api.h"
#include "auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/lifecycle.h"
#include "core/validate.h"
#include "crypto/password.h"
#include "db/db.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"
#include "ratelimit.h"
#include "request.h"

struct api_lc {
    oss_keyring_t otp;
    oss_lc_policy_t policy;
    oss_clock_t clock;
    uint32_t t_cost, m_kib, lanes;
    char **common; /* sorted, lower case */
    size_t ncommon;
};

static int64_t
real_now_us(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_common(api_lc_t *lc, const char *path) {
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    char line[300];
    size_t cap = 0;

    if (!f) {
        oss_warn("could not open password.common_file \"%s\": common "
                 "passwords are not refused",
                 path ? path : "");
        return;
    }
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (!n || line[0] == '#')
            continue;
        for (size_t i = 0; i < n; i++)
            line[i] = (char)tolower((unsigned char)line[i]);
        if (lc->ncommon == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            char **p = realloc(lc->common, nc * sizeof *p);
            if (!p)
                break;
            lc->common = p;
            cap = nc;
        }
        if (!(lc->common[lc->ncommon] = strdup(line)))
            break;
        lc->ncommon++;
    }
    fclose(f);
    if (lc->ncommon)
        qsort(lc->common, lc->ncommon, sizeof *lc->common, cmp_str);
}

static bool
is_common(void *ctx, const char *lower) {
    api_lc_t *lc = ctx;
    return lc->ncommon && bsearch(&lower, lc->common, lc->ncommon,
                                  sizeof *lc->common, cmp_str) != NULL;
}

void
api_lc_init(api_ctx_t *ctx, const oss_config_t *cfg) {
    oss_err_t err;
    api_lc_t *lc = calloc(1, sizeof *lc);
    const char *kf = oss_config_str(cfg, "crypto.otp_key_file");

    ctx->lc = NULL;
    if (!lc)
        return;
    oss_err_clear(&err);
    if (oss_keyring_load(kf ? kf : "", &lc->otp, &err) != OSS_OK) {
        oss_warn("account lifecycle disabled (no activation, password or "
                 "sign-in): %s",
                 err.msg);
        free(lc);
        return;
    }
    oss_lc_policy_default(&lc->policy);
    lc->policy.activation_ttl_us =
        oss_config_int(cfg, "activation.ttl_s") * 1000000LL;
    lc->policy.activation_max_attempts =
        (int)oss_config_int(cfg, "activation.max_attempts");
    lc->policy.resend_max = (int)oss_config_int(cfg, "activation.resend_max");
    lc->policy.resend_window_us =
        oss_config_int(cfg, "activation.resend_window_s") * 1000000LL;
    lc->policy.signin_threshold = (int)oss_config_int(cfg, "signin.threshold");
    lc->policy.signin_delay_us =
        oss_config_int(cfg, "signin.delay_ms") * 1000LL;
    lc->policy.signin_delay_max_us =
        oss_config_int(cfg, "signin.delay_max_s") * 1000000LL;
    lc->policy.session_ttl_us =
        oss_config_int(cfg, "session.ttl_s") * 1000000LL;
    lc->t_cost = (uint32_t)oss_config_int(cfg, "password.argon2_t");
    lc->m_kib = (uint32_t)oss_config_int(cfg, "password.argon2_m_kib");
    lc->lanes = (uint32_t)oss_config_int(cfg, "password.argon2_lanes");
    lc->clock.now_us = real_now_us;
    lc->clock.ctx = NULL;
    load_common(lc, oss_config_str(cfg, "password.common_file"));
    ctx->lc = lc;
}

void
api_lc_free(api_ctx_t *ctx) {
    api_lc_t *lc = ctx->lc;
    if (!lc)
        return;
    for (size_t i = 0; i < lc->ncommon; i++)
        free(lc->common[i]);
    free(lc->common);
    memset(&lc->otp, 0, sizeof lc->otp);
    free(lc);
    ctx->lc = NULL;
}

/* ---- small helpers ------------------------------------------------------- */

/* HMAC-SHA256(key, kind "|" a ["|" b]) as hex (65 bytes). */
static void
keyed_hex(const uint8_t key[32], const char *kind, const char *a, const char *b,
          char out[65]) {
    char buf[512];
    uint8_t mac[32];
    int n = snprintf(buf, sizeof buf, "%s|%s%s%s", kind, a, b ? "|" : "",
                     b ? b : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    oss_hmac_sha256(key, 32, buf, (size_t)n, mac);
    oss_hex(mac, 32, out);
    memset(buf, 0, sizeof buf);
}

static const uint8_t *
otp_key_by_id(const api_lc_t *lc, const char *id) {
    for (size_t i = 0; i < lc->otp.n; i++)
        if (strcmp(lc->otp.id[i], id) == 0)
            return lc->otp.key[i];
    return NULL;
}

static int64_t
lc_now(const api_lc_t *lc) {
    return oss_clock_now(&lc->clock);
}

/* ---- events <-> facts ---------------------------------------------------- */

static void
decode_fact(const oss_event_t *ev, oss_lc_fact_t *f) {
    const char *t = ev->payload_type;
    memset(f, 0, sizeof *f);
    f->version = ev->version;
    f->at_us = ev->occurred_at_us;
    if (!strcmp(t, "oss.v1.AccountRegistered") ||
        !strcmp(t, "oss.v1.PrincipalCreated")) { /* P1: principals */
        f->kind = OSS_LC_REGISTERED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_ISSUED)) {
        Oss__V1__ActivationIssued *m = oss__v1__activation_issued__unpack(
            NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_ISSUED;
        if (m) {
            f->expires_at_us = m->expires_at_us;
            snprintf(f->channel, sizeof f->channel, "%s", m->channel);
            snprintf(f->id, sizeof f->id, "%s", m->delivery_id);
            oss__v1__activation_issued__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_SUCCEEDED)) {
        f->kind = OSS_LC_SUCCEEDED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_FAILED)) {
        f->kind = OSS_LC_FAILED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_LOCKED)) {
        f->kind = OSS_LC_LOCKED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_RESENT)) {
        f->kind = OSS_LC_RESENT;
    } else if (!strcmp(t, OSS_LC_T_PASSWORD_SET)) {
        f->kind = OSS_LC_PASSWORD;
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_SUCCEEDED)) {
        Oss__V1__SignInSucceeded *m = oss__v1__sign_in_succeeded__unpack(
            NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SIGNIN_OK;
        if (m) {
            f->expires_at_us = m->expires_at_us;
            snprintf(f->id, sizeof f->id, "%s", m->session_id);
            snprintf(f->source, sizeof f->source, "%s", m->source_hash);
            oss__v1__sign_in_succeeded__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_FAILED)) {
        Oss__V1__SignInFailed *m =
            oss__v1__sign_in_failed__unpack(NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SIGNIN_FAILED;
        if (m) {
            snprintf(f->source, sizeof f->source, "%s", m->source_hash);
            f->attempt = m->attempt;
            oss__v1__sign_in_failed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_THROTTLED)) {
        f->kind = OSS_LC_SIGNIN_THROTTLED;
    } else if (!strcmp(t, OSS_LC_T_SESSION_ENDED)) {
        Oss__V1__SessionEnded *m =
            oss__v1__session_ended__unpack(NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SESSION_ENDED;
        if (m) {
            snprintf(f->id, sizeof f->id, "%s", m->session_id);
            snprintf(f->reason, sizeof f->reason, "%s", m->reason);
            oss__v1__session_ended__free_unpacked(m, NULL);
        }
    }
}

/* Folds the access stream; registered = the account stream holds an
 * AccountRegistered (known to the caller), applied first. */
static oss_code_t
fold_history(const oss_event_t *history, size_t n, bool registered,
             oss_lc_state_t *st, oss_err_t *err) {
    oss_lc_state_init(st);
    if (registered) {
        oss_lc_fact_t reg = {.kind = OSS_LC_REGISTERED};
        oss_lc_evolve(st, &reg);
    }
    for (size_t i = 0; i < n; i++) {
        oss_lc_fact_t f;
        decode_fact(&history[i], &f);
        oss_lc_evolve(st, &f);
    }
    (void)err;
    return OSS_OK;
}

/* Packs one decided fact into a new event of out. method: for SUCCEEDED. */
static oss_code_t
encode_fact(const oss_lc_fact_t *f, const oss_lc_state_t *st,
            const char *method, const char *account_id, oss_event_list_t *out,
            oss_err_t *err) {
    ProtobufCMessage *msg = NULL;
    const char *type = NULL;
    Oss__V1__ActivationIssued ai = OSS__V1__ACTIVATION_ISSUED__INIT;
    Oss__V1__ActivationSucceeded as = OSS__V1__ACTIVATION_SUCCEEDED__INIT;
    Oss__V1__ActivationFailed af = OSS__V1__ACTIVATION_FAILED__INIT;
    Oss__V1__ActivationLocked al = OSS__V1__ACTIVATION_LOCKED__INIT;
    Oss__V1__ActivationResent ar = OSS__V1__ACTIVATION_RESENT__INIT;
    Oss__V1__PasswordSet ps = OSS__V1__PASSWORD_SET__INIT;
    Oss__V1__SignInSucceeded so = OSS__V1__SIGN_IN_SUCCEEDED__INIT;
    Oss__V1__SignInFailed sf = OSS__V1__SIGN_IN_FAILED__INIT;
    Oss__V1__SignInThrottled sth = OSS__V1__SIGN_IN_THROTTLED__INIT;
    Oss__V1__SessionEnded se = OSS__V1__SESSION_ENDED__INIT;

    switch (f->kind) {
    case OSS_LC_ISSUED:
        ai.channel = (char *)f->channel;
        ai.expires_at_us = f->expires_at_us;
        ai.delivery_id = (char *)f->id;
        ai.account_id = (char *)account_id;
        msg = &ai.base;
        type = OSS_LC_T_ACTIVATION_ISSUED;
        break;
    case OSS_LC_SUCCEEDED:
        as.method = (char *)(method ? method : "");
        msg = &as.base;
        type = OSS_LC_T_ACTIVATION_SUCCEEDED;
        break;
    case OSS_LC_FAILED:
        af.attempt = f->attempt;
        msg = &af.base;
        type = OSS_LC_T_ACTIVATION_FAILED;
        break;
    case OSS_LC_LOCKED:
        al.attempts = st->activation_failures + 1;
        msg = &al.base;
        type = OSS_LC_T_ACTIVATION_LOCKED;
        break;
    case OSS_LC_RESENT:
        ar.channel = (char *)f->channel;
        msg = &ar.base;
        type = OSS_LC_T_ACTIVATION_RESENT;
        break;
    case OSS_LC_PASSWORD:
        ps.first = !st->password_set;
        msg = &ps.base;
        type = OSS_LC_T_PASSWORD_SET;
        break;
    case OSS_LC_SIGNIN_OK:
        so.session_id = (char *)f->id;
        so.expires_at_us = f->expires_at_us;
        so.source_hash = (char *)f->source;
        msg = &so.base;
        type = OSS_LC_T_SIGN_IN_SUCCEEDED;
        break;
    case OSS_LC_SIGNIN_FAILED:
        sf.source_hash = (char *)f->source;
        sf.attempt = f->attempt;
        msg = &sf.base;
        type = OSS_LC_T_SIGN_IN_FAILED;
        break;
    case OSS_LC_SIGNIN_THROTTLED:
        sth.failures = st->signin_failures + 1;
        msg = &sth.base;
        type = OSS_LC_T_SIGN_IN_THROTTLED;
        break;
    case OSS_LC_SESSION_ENDED:
        se.session_id = (char *)f->id;
        se.reason = (char *)f->reason;
        msg = &se.base;
        type = OSS_LC_T_SESSION_ENDED;
        break;
    default:
        return oss_err_set(err, OSS_EINTERNAL, "cannot encode fact %d",
                           (int)f->kind);
    }
    return api_req_event_push(out, type, msg, f->at_us, NULL, err);
}

static oss_code_t
encode_decision(const oss_lc_decision_t *d, const oss_lc_state_t *st,
                const char *method, const char *account_id,
                oss_event_list_t *out, oss_err_t *err) {
    for (size_t i = 0; i < d->n; i++) {
        oss_code_t rc =
            encode_fact(&d->facts[i], st, method, account_id, out, err);
        if (rc != OSS_OK)
            return rc;
    }
    return OSS_OK;
}

void
api_lc_fold(const oss_event_t *history, size_t n, bool registered,
            oss_lc_state_t *st) {
    oss_err_t err;
    fold_history(history, n, registered, st, &err);
}

oss_code_t
api_lc_encode(const oss_lc_decision_t *d, const oss_lc_state_t *st,
              const char *account_id, oss_event_list_t *out, oss_err_t *err) {
    return encode_decision(d, st, "", account_id, out, err);
}

bool
api_lc_session_hmac(const api_ctx_t *ctx, const char *token, char out[65]) {
    if (!ctx->lc || !ctx->lc->otp.n)
        return false;
    keyed_hex(ctx->lc->otp.key[0], "session", token, NULL, out);
    return true;
}

bool
api_lc_keyed_hmac(const api_ctx_t *ctx, const char *kind, const char *value,
                  char out[65], char *key_id) {
    if (!ctx->lc || !ctx->lc->otp.n)
        return false;
    keyed_hex(ctx->lc->otp.key[0], kind, value, NULL, out);
    if (key_id)
        snprintf(key_id, 17, "%s", ctx->lc->otp.id[0]);
    return true;
}

const char *
api_lc_password_policy(const api_ctx_t *ctx, const char *pw) {
    if (!ctx->lc)
        return "disabled";
    return oss_password_policy_check(pw, is_common, ctx->lc);
}

oss_code_t
api_lc_password_hash(const api_ctx_t *ctx, const char *pw, char *out,
                     size_t outlen, oss_err_t *err) {
    if (!ctx->lc)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "account lifecycle disabled: no OTP key");
    return oss_password_hash(pw, ctx->lc->t_cost, ctx->lc->m_kib,
                             ctx->lc->lanes, out, outlen, err);
}

int64_t
api_lc_now(const api_ctx_t *ctx) {
    return ctx->lc ? lc_now(ctx->lc) : 0;
}

/* The event of type in cmd->events, or NULL. */
static const oss_event_t *
event_of(const oss_command_t *cmd, const char *type) {
    for (size_t i = 0; i < cmd->events.len; i++)
        if (!strcmp(cmd->events.items[i].payload_type, type))
            return &cmd->events.items[i];
    return NULL;
}

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

/* ---- activation: prepare, issue, extra ---------------------------------- */

oss_code_t
api_activation_prepare(api_ctx_t *ctx, const oss_data_key_t *dk,
                       const char *account_id, const char *channel,
                       api_activation_t *a, oss_err_t *err) {
    char stream_id[OSS_ID_MAX];
    uint8_t rnd[32], *ct = NULL, nonce[12];
    size_t ctlen = 0;
    char plain[128], field[64];
    oss_code_t rc;

    memset(a, 0, sizeof *a);
    if (!ctx->lc)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "account lifecycle disabled: no OTP key");
    a->lc = ctx->lc;
    snprintf(a->account_id, sizeof a->account_id, "%s", account_id);
    snprintf(stream_id, sizeof stream_id, API_ACCESS_STREAM_PREFIX "%s",
             account_id);
    snprintf(a->stream_id, sizeof a->stream_id, "%s", stream_id);
    snprintf(a->subject_id, sizeof a->subject_id, "%s", dk->subject_id);
    snprintf(a->channel, sizeof a->channel, "%s", channel);
    oss_uuid4(a->delivery_id);
    /* a uniform 6-digit code: reject the tail above 4294 * 10^6 */
    uint32_t v;
    do {
        if ((rc = oss_random(&v, sizeof v, err)) != OSS_OK)
            return rc;
    } while (v >= 4294000000u);
    snprintf(a->otp, sizeof a->otp, "%06u", (unsigned)(v % 1000000u));
    if ((rc = oss_random(rnd, sizeof rnd, err)) != OSS_OK)
        return rc;
    api_req_b64url(rnd, sizeof rnd, a->token);
    memset(rnd, 0, sizeof rnd);
    keyed_hex(ctx->lc->otp.key[0], "otp", stream_id, a->otp, a->otp_hmac);
    keyed_hex(ctx->lc->otp.key[0], "link", stream_id, a->token, a->link_hmac);
    snprintf(a->key_id, sizeof a->key_id, "%s", ctx->lc->otp.id[0]);

    int n = snprintf(plain, sizeof plain, "{\"otp\":\"%s\",\"token\":\"%s\"}",
                     a->otp, a->token);
    snprintf(field, sizeof field, "delivery|%s", a->delivery_id);
    rc = oss_seal(dk, field, plain, (size_t)n, nonce, &ct, &ctlen, err);
    memset(plain, 0, sizeof plain);
    if (rc != OSS_OK)
        return rc;
    a->sealed = malloc(12 + ctlen);
    if (!a->sealed) {
        free(ct);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    memcpy(a->sealed, nonce, 12);
    memcpy(a->sealed + 12, ct, ctlen);
    a->sealed_len = 12 + ctlen;
    free(ct);
    return OSS_OK;
}

void
api_activation_clear(api_activation_t *a) {
    free(a->sealed);
    memset(a, 0, sizeof *a);
}

oss_code_t
api_activation_issue_decide(void *vctx, const oss_event_t *history, size_t n,
                            oss_event_list_t *out, oss_err_t *err) {
    api_activation_t *a = vctx;
    oss_lc_state_t st;
    oss_lc_decision_t d;
    int64_t now = lc_now(a->lc);

    if (a->reg_cmd && a->reg_cmd->outcome != OSS_JOURNAL_APPENDED)
        return oss_err_field(err, OSS_ENOTFOUND, "not_registered",
                             "no activation: the registration was not "
                             "appended");
    fold_history(history, n, true, &st, err);
    oss_code_t rc = oss_lc_decide_issue(&st, &a->lc->policy, now, a->channel,
                                        a->delivery_id, &d, err);
    if (rc != OSS_OK)
        return rc;
    a->expires_at_us = d.facts[0].expires_at_us;
    return encode_decision(&d, &st, NULL, a->account_id, out, err);
}

/* The secret and delivery rows of a new activation (first or resend). */
static oss_code_t
queue_activation_rows(const api_activation_t *a, const oss_command_t *cmd,
                      oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    const oss_event_t *ev = event_of(cmd, OSS_LC_T_ACTIVATION_ISSUED);
    char exp[24], *sealed_hex = NULL;
    oss_code_t rc;

    if (!ev)
        return OSS_OK;
    snprintf(exp, sizeof exp, "%lld", (long long)a->expires_at_us);
    const char *del[] = {a->stream_id};
    rc = api_req_queue(
        q, qctx,
        /* expired rows are the notifier's sweep to purge: an OR
         * here would turn this indexed delete into a table scan */
        "DELETE FROM oss.deliveries WHERE stream_id = $1 AND kind = "
        "'activation' AND delivered_at IS NULL",
        1, del, err);
    if (rc != OSS_OK)
        return rc;
    const char *sec[] = {a->stream_id, a->delivery_id, a->otp_hmac,
                         a->link_hmac, a->key_id,      exp};
    rc = api_req_queue(
        q, qctx,
        "INSERT INTO oss.activation_secrets (stream_id, delivery_id, "
        "otp_hmac, link_hmac, key_id, expires_at) VALUES ($1, "
        "$2::uuid, decode($3, 'hex'), decode($4, 'hex'), $5, " TS_US(
            "$6") ") ON CONFLICT (stream_id) DO UPDATE SET "
                  "delivery_id = EXCLUDED.delivery_id, otp_hmac = "
                  "EXCLUDED.otp_hmac, link_hmac = EXCLUDED.link_hmac, key_id = "
                  "EXCLUDED.key_id, expires_at = EXCLUDED.expires_at, attempts "
                  "= 0, created_at = now()",
        6, sec, err);
    if (rc != OSS_OK)
        return rc;
    sealed_hex = malloc(2 * a->sealed_len + 1);
    if (!sealed_hex)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss_hex(a->sealed, a->sealed_len, sealed_hex);
    const char *dv[] = {
        a->delivery_id, ev->event_id, a->stream_id, a->subject_id,
        a->channel,     sealed_hex,   exp};
    rc = api_req_queue(
        q, qctx,
        "INSERT INTO oss.deliveries (delivery_id, event_id, "
        "stream_id, subject_id, channel, sealed_secret, expires_at) "
        "VALUES ($1::uuid, $2::uuid, $3, $4::uuid, $5, decode($6, "
        "'hex'), " TS_US("$7") ")",
        7, dv, err);
    free(sealed_hex);
    return rc;
}

oss_code_t
api_activation_extra(void *vctx, const oss_command_t *cmd,
                     oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    return queue_activation_rows(vctx, cmd, q, qctx, err);
}

/* ---- request plumbing ---------------------------------------------------- */

/* One lifecycle request in flight on a worker. */
typedef struct lreq {
    api_ctx_t *ctx;
    api_lc_t *lc;
    oss_http_req_t *req;
    char account_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX]; /* the access stream */
    char account_stream[OSS_ID_MAX];
    /* decide inputs */
    int op;
    bool registered; /* the account stream exists */
    bool matched, authed;
    char method[8];
    char session_id[OSS_UUID_STR];
    char source[OSS_LC_SOURCE_MAX];
    char delivery_expected[OSS_UUID_STR];
    api_activation_t act;
    char pw_hash[OSS_PASSWORD_ENCODED_MAX];
    char token_hmac[65];
    /* decide outputs */
    oss_lc_decision_t d;
    oss_lc_verify_t verify;
    bool ok;
    api_contact_t *contact; /* P1: told of SignInThrottled */
} lreq_t;

enum { OP_RESEND, OP_VERIFY, OP_PASSWORD, OP_SIGNIN, OP_END };

/* The generic decide for every lifecycle command (ctx = lreq_t). */
static oss_code_t
lc_decide(void *vctx, const oss_event_t *history, size_t n,
          oss_event_list_t *out, oss_err_t *err) {
    lreq_t *l = vctx;
    oss_lc_state_t st;
    int64_t now = lc_now(l->lc);
    const oss_lc_policy_t *p = &l->lc->policy;
    oss_code_t rc;

    fold_history(history, n, l->registered, &st, err);
    memset(&l->d, 0, sizeof l->d);
    switch (l->op) {
    case OP_RESEND:
        rc = oss_lc_decide_resend(&st, p, now, l->act.channel,
                                  l->act.delivery_id, &l->d, err);
        if (rc == OSS_OK)
            l->act.expires_at_us = l->d.facts[1].expires_at_us;
        break;
    case OP_VERIFY:
        if (st.status == OSS_LC_PENDING &&
            strcmp(st.delivery_id, l->delivery_expected) != 0)
            return oss_err_field(err, OSS_ECONFLICT, "superseded",
                                 "could not activate: a new code was issued "
                                 "meanwhile; retry");
        rc = oss_lc_decide_verify(&st, p, now, l->matched, &l->verify, &l->d,
                                  err);
        break;
    case OP_PASSWORD:
        rc = oss_lc_decide_set_password(&st, p, now, l->authed, &l->d, err);
        break;
    case OP_SIGNIN:
        rc = oss_lc_decide_signin(&st, p, now, l->matched, l->source,
                                  l->session_id, &l->ok, &l->d, err);
        break;
    case OP_END:
        rc = oss_lc_decide_end_session(&st, now, l->session_id, "signed_out",
                                       &l->d, err);
        break;
    default:
        rc = oss_err_set(err, OSS_EINTERNAL, "unknown lifecycle op");
    }
    if (rc != OSS_OK)
        return rc;
    return encode_decision(&l->d, &st, l->method, l->account_id, out, err);
}

/* P1: the signin_throttled notice to the principal, for the
 * SignInThrottled event of cmd. A contact without an e-mail address gets
 * none (never an error: the sign-in outcome must still be recorded). */
static oss_code_t
queue_throttled_notice(lreq_t *l, const oss_command_t *cmd,
                       oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    for (size_t i = 0; i < cmd->events.len; i++) {
        const oss_event_t *ev = &cmd->events.items[i];
        if (strcmp(ev->payload_type, OSS_LC_T_SIGN_IN_THROTTLED))
            continue;
        char when[40];
        api_req_iso_us(ev->occurred_at_us ? ev->occurred_at_us : lc_now(l->lc),
                       true, when, sizeof when);
        json_t *v =
            json_pack("{s:s, s:s}", "name", l->contact->name, "when", when);
        char *vars = v ? json_dumps(v, JSON_COMPACT) : NULL;
        json_decref(v);
        if (!vars)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        oss_err_t nerr;
        oss_err_clear(&nerr);
        oss_code_t rc = l->contact->email[0]
                            ? api_notice_queue(l->contact, "signin_throttled",
                                               "email", l->account_id, cmd, i,
                                               vars, 0, q, qctx, &nerr)
                            : OSS_OK;
        free(vars);
        if (rc == OSS_EUNAVAIL || rc == OSS_ENOMEM) {
            *err = nerr;
            return rc;
        }
        return OSS_OK;
    }
    return OSS_OK;
}

static oss_code_t
lc_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    lreq_t *l = vctx;
    oss_code_t rc = OSS_OK;
    const char *s1[] = {l->stream_id};

    switch (l->op) {
    case OP_RESEND:
        return queue_activation_rows(&l->act, cmd, q, qctx, err);
    case OP_VERIFY:
        if (l->verify == OSS_LC_VERIFY_OK) {
            rc = api_req_queue(
                q, qctx,
                "DELETE FROM oss.activation_secrets WHERE stream_id "
                "= $1",
                1, s1, err);
            if (rc == OSS_OK)
                rc = api_req_queue(
                    q, qctx,
                    "DELETE FROM oss.deliveries WHERE stream_id = $1 "
                    "AND kind = 'activation'",
                    1, s1, err);
        } else {
            rc = api_req_queue(q, qctx,
                               "UPDATE oss.activation_secrets SET attempts = "
                               "attempts + 1 WHERE stream_id = $1",
                               1, s1, err);
        }
        return rc;
    case OP_PASSWORD: {
        const char *v[] = {l->stream_id, l->pw_hash};
        return api_req_queue(q, qctx,
                             "INSERT INTO oss.credentials (stream_id, "
                             "password_hash) VALUES ($1, $2) ON CONFLICT "
                             "(stream_id) DO UPDATE SET password_hash = "
                             "EXCLUDED.password_hash, updated_at = now()",
                             2, v, err);
    }
    case OP_SIGNIN:
    case OP_END:
        for (size_t i = 0; i < l->d.n && rc == OSS_OK; i++) {
            const oss_lc_fact_t *f = &l->d.facts[i];
            if (f->kind == OSS_LC_SESSION_ENDED) {
                const char *v[] = {f->id, f->reason};
                rc = api_req_queue(
                    q, qctx,
                    "UPDATE oss.sessions SET revoked_at = now(), "
                    "revoke_reason = $2 WHERE session_id = $1::uuid "
                    "AND revoked_at IS NULL",
                    2, v, err);
            } else if (f->kind == OSS_LC_SIGNIN_THROTTLED && l->contact) {
                rc = queue_throttled_notice(l, cmd, q, qctx, err);
            } else if (f->kind == OSS_LC_SIGNIN_OK) {
                char exp[24];
                snprintf(exp, sizeof exp, "%lld", (long long)f->expires_at_us);
                const char *v[] = {l->token_hmac, f->id, l->stream_id, exp};
                rc = api_req_queue(
                    q, qctx,
                    "INSERT INTO oss.sessions (token_hmac, "
                    "session_id, stream_id, expires_at) VALUES "
                    "(decode($1, 'hex'), $2::uuid, $3, " TS_US("$4") ")",
                    4, v, err);
            }
        }
        return rc;
    }
    return OSS_OK;
}

/* Appends l's command; replies 503/500 itself and returns false when the
 * transaction failed; else the command's outcome is in *c. */
static bool
execute(api_worker_t *w, lreq_t *l, oss_command_t *c, const char *actor) {
    memset(c, 0, sizeof *c);
    c->stream_id = l->stream_id;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = -1;
    c->actor_kind = OSS_ACTOR_BUSINESS_USER;
    /* who: the caller, else the person whose code or password this is
     * (activation, first password, resend) */
    c->actor_id = actor ? actor : l->account_id;
    c->correlation_id = oss_http_req_cid(l->req);
    c->decide = lc_decide;
    c->ctx = l;
    c->extra_fn = lc_extra;
    /* a concurrent command on the stream: decide again, twice at most */
    return api_req_execute(w, l->req, c, 1, 3, "lifecycle command");
}

/* Maps a rejected lifecycle command to its answer. */
static void
reply_rejected(lreq_t *l, const oss_command_t *c) {
    const char *why = c->err.field;
    oss_http_req_t *req = l->req;
    if (!strcmp(why, "rate_limited") || !strcmp(why, "throttled")) {
        api_reply_429(req, l->d.retry_after_us, why, c->err.msg);
    } else if (!strcmp(why, "not_registered")) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
    } else if (!strcmp(why, "locked")) {
        oss_http_reply_error(req, 423, "locked", c->err.msg, NULL);
    } else if (!strcmp(why, "expired")) {
        oss_http_reply_error(req, 410, "expired", c->err.msg, NULL);
    } else if (!strcmp(why, "unauthenticated")) {
        oss_http_reply_error(req, 401, "unauthenticated", c->err.msg, NULL);
    } else if (!strcmp(why, "no_session")) {
        oss_http_reply_error(req, 404, NULL, "no such session", NULL);
    } else if (c->err.code == OSS_EINVAL && why[0]) {
        api_reply_field(req, 422, "invalid_fields", why, "invalid", c->err.msg);
    } else if (why[0]) {
        oss_http_reply_error(req, 409, why, c->err.msg, NULL);
    } else {
        int st = oss_http_status_for(c->err.code);
        oss_http_reply_error(req, st, NULL, c->err.msg, NULL);
    }
}

static void
set_account(lreq_t *l, const char *id) {
    snprintf(l->account_id, sizeof l->account_id, "%s", id);
    snprintf(l->stream_id, sizeof l->stream_id, API_ACCESS_STREAM_PREFIX "%s",
             id);
    snprintf(l->account_stream, sizeof l->account_stream, "account-%s", id);
}

static lreq_t *
lreq_new(api_worker_t *w, api_job_t *job, bool with_account) {
    lreq_t *l = calloc(1, sizeof *l);
    if (!l) {
        oss_http_reply_error(job->req, 500, NULL, "out of memory", NULL);
        return NULL;
    }
    l->ctx = api_worker_ctx(w);
    l->lc = l->ctx->lc;
    l->req = job->req;
    if (with_account) {
        set_account(l, oss_http_req_param(job->req, 0));
    }
    return l;
}

static void
lreq_free(lreq_t *l) {
    if (!l)
        return;
    api_activation_clear(&l->act);
    if (l->contact) {
        api_contact_clear(l->contact);
        free(l->contact);
    }
    memset(l, 0, sizeof *l);
    free(l);
}

/* The Bearer token's open session: fills l->stream_id and l->session_id
 * (the caller's own). Replies 401 and returns false otherwise. */
static bool
authenticate(api_worker_t *w, lreq_t *l, char *caller_session) {
    const char *h = oss_http_req_header(l->req, "Authorization");
    char mac[65];
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) < 16 ||
        strlen(h + 7) > 128) {
        oss_http_reply_error(l->req, 401, "unauthenticated",
                             "a session token is required (Authorization: "
                             "Bearer ...)",
                             NULL);
        return false;
    }
    keyed_hex(l->lc->otp.key[0], "session", h + 7, NULL, mac);
    const char *p[] = {mac};
    PGresult *r =
        api_req_query(w, l->req, "lifecycle query",
                      "SELECT stream_id, session_id FROM oss.sessions "
                      "WHERE token_hmac = decode($1, 'hex') AND revoked_at "
                      "IS NULL AND expires_at > now()",
                      1, p, API_REQ_ROWS);
    if (!r)
        return false;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_http_reply_error(l->req, 401, "unauthenticated",
                             "the session token is unknown, expired or "
                             "ended",
                             NULL);
        return false;
    }
    const char *sid = PQgetvalue(r, 0, 0);
    size_t pl = strlen(API_ACCESS_STREAM_PREFIX);
    set_account(l, strncmp(sid, API_ACCESS_STREAM_PREFIX, pl) == 0 ? sid + pl
                                                                   : sid);
    if (caller_session)
        snprintf(caller_session, OSS_UUID_STR, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return true;
}

static bool
valid_account(oss_http_req_t *req) {
    if (!api_account_id_valid(oss_http_req_param(req, 0))) {
        oss_http_reply_error(req, 404, NULL, "no such account", NULL);
        return false;
    }
    return true;
}

/* ---- POST /v1/accounts/{id}/activation (resend) ------------------------ */

/* The subject's data key of the account stream (from its AccountRegistered
 * and oss.subject_keys). Replies and returns false on failure. */
static bool
subject_key(api_worker_t *w, lreq_t *l, oss_data_key_t *dk) {
    oss_journal_t *j = api_req_journal(w, l->req);
    oss_event_list_t hist = {0};
    oss_err_t err;
    char subject[OSS_UUID_STR] = "";
    bool ok = false;

    if (!j)
        return false;
    /* P1: a principal (delegate, officer, ...) has its subject in
     * oss.principals; a first owner registered before that table, only in
     * its AccountRegistered */
    const char *pq[] = {l->account_id};
    PGresult *pr = api_req_query(w, l->req, "lifecycle query",
                                 "SELECT subject_id FROM oss.principals WHERE "
                                 "principal_id = $1",
                                 1, pq, API_REQ_ROWS);
    if (!pr)
        return false;
    if (PQntuples(pr) == 1)
        snprintf(subject, sizeof subject, "%s", PQgetvalue(pr, 0, 0));
    PQclear(pr);
    oss_err_clear(&err);
    if (!subject[0] &&
        oss_journal_load(j, l->account_stream, &hist, &err) != OSS_OK) {
        oss_http_reply_error(l->req, err.code == OSS_EUNAVAIL ? 503 : 500, NULL,
                             "could not read the account", NULL);
        goto done;
    }
    for (size_t i = 0; i < hist.len && !subject[0]; i++)
        if (!strcmp(hist.items[i].payload_type, "oss.v1.AccountRegistered")) {
            Oss__V1__AccountRegistered *m = oss__v1__account_registered__unpack(
                NULL, hist.items[i].payload_len, hist.items[i].payload);
            if (m) {
                snprintf(subject, sizeof subject, "%s", m->subject_id);
                oss__v1__account_registered__free_unpacked(m, NULL);
            }
        }
    if (!subject[0]) {
        oss_http_reply_error(l->req, 404, NULL, "no such account", NULL);
        goto done;
    }
    l->registered = true;
    const char *p[] = {subject};
    PGresult *r =
        api_req_query(w, l->req, "lifecycle query",
                      "SELECT master_key_id, encode(wrapped_key, 'hex') "
                      "FROM oss.subject_keys WHERE subject_id = $1::uuid",
                      1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    if (PQntuples(r) != 1) {
        PQclear(r);
        oss_http_reply_error(l->req, 409, "erased",
                             "the account's personal data was erased; no "
                             "message can reach it",
                             NULL);
        goto done;
    }
    const char *hex = PQgetvalue(r, 0, 1);
    size_t hl = strlen(hex);
    uint8_t wk[128];
    if (hl / 2 > sizeof wk) {
        PQclear(r);
        oss_http_reply_error(l->req, 500, NULL, "bad wrapped key", NULL);
        goto done;
    }
    for (size_t i = 0; i < hl / 2; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        wk[i] = (uint8_t)v;
    }
    oss_err_clear(&err);
    if (oss_data_key_unwrap(&l->ctx->master, PQgetvalue(r, 0, 0), subject, wk,
                            hl / 2, dk, &err) != OSS_OK) {
        PQclear(r);
        oss_error("could not unwrap a subject key: %s", err.msg);
        oss_http_reply_error(l->req, 500, NULL, "could not unwrap the key",
                             NULL);
        goto done;
    }
    PQclear(r);
    ok = true;
done:
    oss_event_list_free(&hist);
    return ok;
}

static void
run_resend(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"channel", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_data_key_t dk;
    oss_err_t err;

    memset(&dk, 0, sizeof dk);
    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *ch = api_body_str(body, "channel");
    if (!ch)
        ch = "email";
    if (strcmp(ch, "email") && strcmp(ch, "whatsapp")) {
        api_reply_field(job->req, 422, "invalid_fields", "channel", "invalid",
                        "channel must be email or whatsapp");
        goto done;
    }
    if (!subject_key(w, l, &dk))
        goto done;
    oss_err_clear(&err);
    if (api_activation_prepare(l->ctx, &dk, l->account_id, ch, &l->act, &err) !=
        OSS_OK) {
        oss_error("could not prepare activation: %s", err.msg);
        oss_http_reply_error(job->req, 500, NULL, "could not prepare", NULL);
        goto done;
    }
    l->op = OP_RESEND;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("activation resent stream=%s channel=%s", l->stream_id, ch);
    char exp[40];
    api_req_iso_us(l->act.expires_at_us, true, exp, sizeof exp);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "delivery_id",
                          l->act.delivery_id, "channel", ch, "expires_at", exp,
                          "version", (json_int_t)c.last_version);
    oss_http_reply_json(job->req, 202, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    memset(&dk, 0, sizeof dk);
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_activation_resend(oss_http_req_t *req, void *arg) {
    if (valid_account(req) &&
        api_ratelimit_take(req, API_RL_RESEND, oss_http_req_param(req, 0)))
        api_req_submit_lc(arg, req, run_resend);
}

/* ---- POST /v1/accounts/{id}/activate ------------------------------------ */

static void
run_activate(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"otp", "token", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *otp = api_body_str(body, "otp"),
               *token = api_body_str(body, "token");
    if ((otp != NULL) == (token != NULL)) {
        api_reply_field(job->req, 422, "invalid_fields", "otp", "required",
                        "give exactly one of otp or token");
        goto done;
    }
    if (otp && (strlen(otp) != 6 || strspn(otp, "0123456789") != 6)) {
        api_reply_field(job->req, 422, "invalid_fields", "otp", "invalid",
                        "otp must be 6 digits");
        goto done;
    }
    const char *p[] = {l->stream_id};
    PGresult *r = api_req_query(w, job->req, "lifecycle query",
                                "SELECT delivery_id, encode(otp_hmac, 'hex'), "
                                "encode(link_hmac, 'hex'), key_id FROM "
                                "oss.activation_secrets WHERE stream_id = $1",
                                1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    if (PQntuples(r) == 1) {
        const uint8_t *key = otp_key_by_id(l->lc, PQgetvalue(r, 0, 3));
        char mac[65];
        if (key) {
            keyed_hex(key, otp ? "otp" : "link", l->stream_id,
                      otp ? otp : token, mac);
            l->matched =
                oss_ct_equal(mac, PQgetvalue(r, 0, otp ? 1 : 2), 64) == 1;
        }
        snprintf(l->delivery_expected, sizeof l->delivery_expected, "%s",
                 PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    api_body_wipe(body, "otp");
    api_body_wipe(body, "token");
    snprintf(l->method, sizeof l->method, "%s", otp ? "otp" : "link");
    l->op = OP_VERIFY;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    switch (l->verify) {
    case OSS_LC_VERIFY_OK: {
        oss_info("account activated stream=%s", l->stream_id);
        json_t *o =
            json_pack("{s:s, s:s, s:I}", "account_id", l->account_id, "status",
                      "active", "version", (json_int_t)c.last_version);
        oss_http_reply_json(job->req, 200,
                            o ? json_dumps(o, JSON_COMPACT) : NULL, NULL);
        json_decref(o);
        break;
    }
    case OSS_LC_VERIFY_WRONG:
        oss_info("activation code refused stream=%s", l->stream_id);
        api_reply_field(job->req, 422, "wrong_code", otp ? "otp" : "token",
                        "wrong", "the code is not right");
        break;
    case OSS_LC_VERIFY_LOCKED_NOW:
        oss_info("activation locked stream=%s", l->stream_id);
        oss_http_reply_error(job->req, 423, "locked",
                             "too many wrong codes: activation is locked; "
                             "request a new code",
                             NULL);
        break;
    }
done:
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_activate(oss_http_req_t *req, void *arg) {
    if (valid_account(req) &&
        api_ratelimit_take(req, API_RL_OTP, oss_http_req_param(req, 0)))
        api_req_submit_lc(arg, req, run_activate);
}

/* ---- POST /v1/accounts/{id}/password ------------------------------------ */

static void
run_password(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"password", NULL};
    lreq_t *l = lreq_new(w, job, true);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_err_t err;

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *pw = api_body_str(body, "password");
    const char *why = oss_password_policy_check(pw, is_common, l->lc);
    if (why) {
        api_body_wipe(body, "password");
        api_reply_field(job->req, 422, "invalid_fields", "password", why,
                        "the password does not meet the policy: at least "
                        "8 characters with letters, digits and a special "
                        "character, not a common password");
        goto done;
    }
    if (oss_http_req_header(job->req, "Authorization")) {
        char own[OSS_ID_MAX];
        snprintf(own, sizeof own, "%s", l->stream_id);
        if (!authenticate(w, l, NULL)) {
            api_body_wipe(body, "password");
            goto done;
        }
        if (strcmp(own, l->stream_id) != 0) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 403, "forbidden",
                                 "the session belongs to another account",
                                 NULL);
            goto done;
        }
        l->authed = true;
    }
    oss_err_clear(&err);
    oss_code_t rc =
        oss_password_hash(pw, l->lc->t_cost, l->lc->m_kib, l->lc->lanes,
                          l->pw_hash, sizeof l->pw_hash, &err);
    api_body_wipe(body, "password");
    if (rc != OSS_OK) {
        oss_error("could not hash a password: %s", err.msg);
        oss_http_reply_error(job->req, 500, NULL, "could not hash", NULL);
        goto done;
    }
    l->op = OP_PASSWORD;
    if (!execute(w, l, &c, NULL))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("password set stream=%s", l->stream_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
done:
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_password(oss_http_req_t *req, void *arg) {
    if (valid_account(req))
        api_req_submit_lc(arg, req, run_password);
}

/* ---- POST /v1/sessions (sign in) ---------------------------------------- */

static void
run_sign_in(api_worker_t *w, api_job_t *job) {
    static const char *const known[] = {"account_id", "principal_id", "email",
                                        "password", NULL};
    lreq_t *l = lreq_new(w, job, false);
    json_t *body = NULL;
    oss_command_t c = {0};
    oss_event_list_t hist = {0};
    oss_err_t err;
    char token[48] = "";

    if (!l || !(body = api_body_parse(job->req, known)))
        goto done;
    const char *id = api_body_str(body, "account_id"),
               *pw = api_body_str(body, "password");
    const char *email = api_body_str(body, "email");
    if (!id) /* P1: any principal; account_id = a first owner's */
        id = api_body_str(body, "principal_id");
    char found[OSS_ID_MAX] = "";
    if (email && !id) {
        /* the e-mail's keyed hash names the account, when exactly one */
        char norm[256], hex[65];
        uint8_t dg[32];
        if (oss_email_normalize(email, norm, sizeof norm)) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 401, "invalid_credentials",
                                 "the account or password is not right", NULL);
            goto done;
        }
        oss_index_digest(&l->ctx->index, "email", norm, dg);
        oss_hex(dg, sizeof dg, hex);
        memset(norm, 0, sizeof norm);
        const char *lp[] = {hex};
        PGresult *lr =
            api_req_query(w, job->req, "lifecycle query",
                          "SELECT stream_id FROM oss.account_lookup WHERE "
                          "kind = 'email' AND digest = decode($1, 'hex') "
                          "LIMIT 2",
                          1, lp, API_REQ_ROWS);
        if (!lr) {
            api_body_wipe(body, "password");
            goto done;
        }
        int nr = PQntuples(lr);
        if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "account-", 8))
            snprintf(found, sizeof found, "%s", PQgetvalue(lr, 0, 0) + 8);
        else if (nr == 1 && !strncmp(PQgetvalue(lr, 0, 0), "access-", 7))
            snprintf(found, sizeof found, "%s", PQgetvalue(lr, 0, 0) + 7);
        PQclear(lr);
        if (nr > 1) {
            api_body_wipe(body, "password");
            api_reply_field(job->req, 409, "ambiguous", "email", "ambiguous",
                            "several accounts use this e-mail address; "
                            "sign in with account_id");
            goto done;
        }
        if (nr != 1) {
            api_body_wipe(body, "password");
            oss_http_reply_error(job->req, 401, "invalid_credentials",
                                 "the account or password is not right", NULL);
            goto done;
        }
        id = found;
    }
    if (!id || !pw) {
        api_body_wipe(body, "password");
        api_reply_field(job->req, 422, "invalid_fields",
                        id ? "password" : "account_id", "required",
                        "account_id and password are required");
        goto done;
    }
    if (!api_account_id_valid(id)) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    set_account(l, id);
    {
        char mac[65];
        keyed_hex(l->lc->otp.key[0], "source", oss_http_req_peer(job->req),
                  NULL, mac);
        snprintf(l->source, sizeof l->source, "%.16s", mac);
    }
    /* throttled sources wait before any password work */
    oss_journal_t *j = api_req_journal(w, job->req);
    if (!j)
        goto done;
    oss_err_clear(&err);
    if (oss_journal_load(j, l->stream_id, &hist, &err) != OSS_OK) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, err.code == OSS_EUNAVAIL ? 503 : 500,
                             NULL, "could not read the account", NULL);
        goto done;
    }
    oss_lc_state_t st;
    fold_history(hist.items, hist.len, false, &st, &err);
    if (st.status == OSS_LC_NEW) {
        api_body_wipe(body, "password");
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    int64_t wait =
        oss_lc_signin_wait(&st, &l->lc->policy, lc_now(l->lc), l->source);
    if (wait > 0) {
        api_body_wipe(body, "password");
        api_reply_429(job->req, wait, "throttled",
                      "too many failed sign-ins from here; retry later");
        goto done;
    }
    const char *p[] = {l->stream_id};
    PGresult *r =
        api_req_query(w, job->req, "lifecycle query",
                      "SELECT password_hash FROM oss.credentials WHERE "
                      "stream_id = $1",
                      1, p, API_REQ_ROWS);
    if (!r) {
        api_body_wipe(body, "password");
        goto done;
    }
    if (PQntuples(r) == 1) {
        bool match = false;
        oss_err_clear(&err);
        if (oss_password_verify(PQgetvalue(r, 0, 0), pw, &match, &err) ==
            OSS_OK)
            l->matched = match;
    }
    PQclear(r);
    api_body_wipe(body, "password");
    /* P1: when this failure crosses the threshold the owner is told
     * (signin_throttled); the contact is opened before the transaction */
    if (!l->matched && !st.throttled &&
        st.signin_failures + 1 >= l->lc->policy.signin_threshold &&
        (l->contact = calloc(1, sizeof *l->contact)) != NULL) {
        oss_err_clear(&err);
        if (api_contact_load(w, l->account_id, l->contact, &err) != OSS_OK) {
            oss_info("no sign-in notice stream=%s: %s", l->stream_id,
                     err.field[0] ? err.field : "no contact");
            api_contact_clear(l->contact);
            free(l->contact);
            l->contact = NULL;
        }
    }
    uint8_t rnd[32];
    oss_err_clear(&err);
    if (oss_random(rnd, sizeof rnd, &err) != OSS_OK) {
        oss_http_reply_error(job->req, 500, NULL, "no randomness", NULL);
        goto done;
    }
    memcpy(token, "oss_", 4);
    api_req_b64url(rnd, sizeof rnd, token + 4);
    memset(rnd, 0, sizeof rnd);
    keyed_hex(l->lc->otp.key[0], "session", token, NULL, l->token_hmac);
    oss_uuid4(l->session_id);
    l->op = OP_SIGNIN;
    if (!execute(w, l, &c, id))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    if (!l->ok) {
        oss_info("sign-in failed stream=%s", l->stream_id);
        oss_http_reply_error(job->req, 401, "invalid_credentials",
                             "the account or password is not right", NULL);
        goto done;
    }
    int64_t exp_us = 0;
    for (size_t i = 0; i < l->d.n; i++)
        if (l->d.facts[i].kind == OSS_LC_SIGNIN_OK)
            exp_us = l->d.facts[i].expires_at_us;
    char exp[40];
    api_req_iso_us(exp_us, true, exp, sizeof exp);
    oss_info("signed in stream=%s session=%s", l->stream_id, l->session_id);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", token, "session_id",
                  l->session_id, "account_id", l->account_id, "principal_id",
                  l->account_id, "expires_at", exp);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    oss_http_reply_json(job->req, 201, s, NULL);
done:
    memset(token, 0, sizeof token);
    oss_event_list_free(&hist);
    oss_event_list_free(&c.events);
    json_decref(body);
    lreq_free(l);
}

void
api_h_sign_in(oss_http_req_t *req, void *arg) {
    static const char *const idf[] = {"principal_id", "account_id", "email",
                                      NULL};
    char key[260];
    bool ok = api_ratelimit_take(
        req, API_RL_SIGNIN, api_ratelimit_body_key(req, idf, key, sizeof key));
    explicit_bzero(key, sizeof key);
    if (ok)
        api_req_submit_lc(arg, req, run_sign_in);
}

/* ---- GET /v1/sessions ---------------------------------------------------- */

static void
run_sessions_list(api_worker_t *w, api_job_t *job) {
    lreq_t *l = lreq_new(w, job, false);
    char mine[OSS_UUID_STR] = "";

    if (!l || !authenticate(w, l, mine))
        goto done;
    const char *p[] = {l->stream_id};
    PGresult *r = api_req_query(
        w, job->req, "lifecycle query",
        "SELECT session_id, to_char(created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), to_char(expires_at AT TIME "
        "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM oss.sessions "
        "WHERE stream_id = $1 AND revoked_at IS NULL AND expires_at > now() "
        "ORDER BY created_at",
        1, p, API_REQ_ROWS);
    if (!r)
        goto done;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:b}", "session_id",
                                        PQgetvalue(r, i, 0), "created_at",
                                        PQgetvalue(r, i, 1), "expires_at",
                                        PQgetvalue(r, i, 2), "current",
                                        !strcmp(PQgetvalue(r, i, 0), mine)));
    PQclear(r);
    json_t *o =
        json_pack("{s:s, s:o}", "account_id", l->account_id, "sessions", arr);
    oss_http_reply_json(job->req, 200, o ? json_dumps(o, JSON_COMPACT) : NULL,
                        NULL);
    json_decref(o);
done:
    lreq_free(l);
}

void
api_h_sessions_list(oss_http_req_t *req, void *arg) {
    api_req_submit_lc(arg, req, run_sessions_list);
}

/* ---- DELETE /v1/sessions/{id} ------------------------------------------- */

static void
run_session_end(api_worker_t *w, api_job_t *job) {
    lreq_t *l = lreq_new(w, job, false);
    oss_command_t c = {0};

    if (!l || !authenticate(w, l, NULL))
        goto done;
    snprintf(l->session_id, sizeof l->session_id, "%s",
             oss_http_req_param(job->req, 0));
    l->op = OP_END;
    if (!execute(w, l, &c, l->account_id))
        goto done;
    if (c.outcome != OSS_JOURNAL_APPENDED) {
        reply_rejected(l, &c);
        goto done;
    }
    oss_info("session ended stream=%s session=%s", l->stream_id, l->session_id);
    oss_http_reply(job->req, 204, "application/json", NULL, NULL);
done:
    oss_event_list_free(&c.events);
    lreq_free(l);
}

void
api_h_session_end(oss_http_req_t *req, void *arg) {
    const char *id = oss_http_req_param(req, 0);
    if (!api_account_id_valid(id) || strlen(id) != 36) {
        oss_http_reply_error(req, 404, NULL, "no such session", NULL);
        return;
    }
    api_req_submit_lc(arg, req, run_session_end);
}
