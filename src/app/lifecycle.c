/* The account lifecycle's shared half (lifecycle.h): its configuration
 * (OTP keys, policy, Argon2id costs, common passwords), the codec between
 * lifecycle events and the core's facts (src/core/lifecycle.h), and the
 * activation a new principal or a registration issues in its append
 * transaction. Secrets live only in memory, are wiped after use and never
 * logged; tables hold keyed hashes or (for the notifier) the OTP and link
 * sealed under the subject's data key. */
#include "app/lifecycle.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/cmd.h"
#include "app/codec.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "crypto/password.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"

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
load_common(oss_app_lc_t *lc, const char *path) {
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

bool
oss_app_lc_is_common(void *ctx, const char *lower) {
    oss_app_lc_t *lc = ctx;
    return lc->ncommon && bsearch(&lower, lc->common, lc->ncommon,
                                  sizeof *lc->common, cmp_str) != NULL;
}

void
oss_app_lc_init(oss_app_t *ctx, const oss_config_t *cfg) {
    oss_err_t err;
    oss_app_lc_t *lc = calloc(1, sizeof *lc);
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
oss_app_lc_free(oss_app_t *ctx) {
    oss_app_lc_t *lc = ctx->lc;
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
void
oss_app_lc_keyed_hex(const uint8_t key[32], const char *kind, const char *a,
                     const char *b, char out[65]) {
    char buf[512];
    uint8_t mac[32];
    int n = snprintf(buf, sizeof buf, "%s|%s%s%s", kind, a, b ? "|" : "",
                     b ? b : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    oss_hmac_sha256(key, 32, buf, (size_t)n, mac);
    oss_hex_encode(mac, 32, out);
    memset(buf, 0, sizeof buf);
}

const uint8_t *
oss_app_lc_otp_key(const oss_app_lc_t *lc, const char *id) {
    for (size_t i = 0; i < lc->otp.n; i++)
        if (strcmp(lc->otp.id[i], id) == 0)
            return lc->otp.key[i];
    return NULL;
}

int64_t
oss_app_lc_clock(const oss_app_lc_t *lc) {
    return oss_clock_now(&lc->clock);
}

bool
oss_app_lc_session_hmac(const oss_app_t *ctx, const char *token, char out[65]) {
    if (!ctx->lc || !ctx->lc->otp.n)
        return false;
    oss_app_lc_keyed_hex(ctx->lc->otp.key[0], "session", token, NULL, out);
    return true;
}

bool
oss_app_lc_keyed_hmac(const oss_app_t *ctx, const char *kind, const char *value,
                      char out[65], char *key_id) {
    if (!ctx->lc || !ctx->lc->otp.n)
        return false;
    oss_app_lc_keyed_hex(ctx->lc->otp.key[0], kind, value, NULL, out);
    if (key_id)
        snprintf(key_id, 17, "%s", ctx->lc->otp.id[0]);
    return true;
}

const char *
oss_app_lc_password_policy(const oss_app_t *ctx, const char *pw) {
    if (!ctx->lc)
        return "disabled";
    return oss_password_policy_check(pw, oss_app_lc_is_common, ctx->lc);
}

oss_code_t
oss_app_lc_password_hash(const oss_app_t *ctx, const char *pw, char *out,
                         size_t outlen, oss_err_t *err) {
    if (!ctx->lc)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "account lifecycle disabled: no OTP key");
    return oss_password_hash(pw, ctx->lc->t_cost, ctx->lc->m_kib,
                             ctx->lc->lanes, out, outlen, err);
}

int64_t
oss_app_lc_now(const oss_app_t *ctx) {
    return ctx->lc ? oss_app_lc_clock(ctx->lc) : 0;
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
oss_app_activation_prepare(oss_app_t *ctx, const oss_data_key_t *dk,
                           const char *account_id, const char *channel,
                           oss_app_activation_t *a, oss_err_t *err) {
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
    snprintf(stream_id, sizeof stream_id, OSS_APP_ACCESS_STREAM_PREFIX "%s",
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
    oss_b64url_encode(rnd, sizeof rnd, a->token);
    memset(rnd, 0, sizeof rnd);
    oss_app_lc_keyed_hex(ctx->lc->otp.key[0], "otp", stream_id, a->otp,
                         a->otp_hmac);
    oss_app_lc_keyed_hex(ctx->lc->otp.key[0], "link", stream_id, a->token,
                         a->link_hmac);
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
oss_app_activation_clear(oss_app_activation_t *a) {
    free(a->sealed);
    memset(a, 0, sizeof *a);
}

oss_code_t
oss_app_activation_issue_decide(void *vctx, const oss_event_t *history,
                                size_t n, oss_event_list_t *out,
                                oss_err_t *err) {
    oss_app_activation_t *a = vctx;
    oss_lc_state_t st;
    oss_lc_decision_t d;
    int64_t now = oss_app_lc_clock(a->lc);

    if (a->reg_cmd && a->reg_cmd->outcome != OSS_JOURNAL_APPENDED)
        return oss_err_coded(err, OSS_ENOTFOUND, "not_registered",
                             "no activation: the registration was not "
                             "appended");
    oss_app_lc_fold(history, n, true, &st);
    oss_code_t rc = oss_lc_decide_issue(&st, &a->lc->policy, now, a->channel,
                                        a->delivery_id, &d, err);
    if (rc != OSS_OK)
        return rc;
    a->expires_at_us = d.facts[0].expires_at_us;
    return oss_app_lc_encode_method(&d, &st, NULL, a->account_id, out, err);
}

/* The secret and delivery rows of a new activation (first or resend). */
static oss_code_t
queue_activation_rows(const oss_app_activation_t *a, const oss_command_t *cmd,
                      oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    const oss_event_t *ev = event_of(cmd, OSS_LC_T_ACTIVATION_ISSUED);
    char exp[24], *sealed_hex = NULL;
    oss_code_t rc;

    if (!ev)
        return OSS_OK;
    snprintf(exp, sizeof exp, "%lld", (long long)a->expires_at_us);
    const char *del[] = {a->stream_id};
    rc = oss_app_queue(
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
    rc = oss_app_queue(
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
    oss_hex_encode(a->sealed, a->sealed_len, sealed_hex);
    const char *dv[] = {
        a->delivery_id, ev->event_id, a->stream_id, a->subject_id,
        a->channel,     sealed_hex,   exp};
    rc = oss_app_queue(
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
oss_app_activation_extra(void *vctx, const oss_command_t *cmd,
                         oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    return queue_activation_rows(vctx, cmd, q, qctx, err);
}
