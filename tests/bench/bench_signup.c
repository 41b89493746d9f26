/* oss-bench: the sign-up figure's helpers: the raw Argon2id baseline
 * (hashes/s of libargon2 with the API's configured parameters, as many
 * threads as asked) and the opener of a sealed activation delivery (the
 * subject's data key unwrapped with the master key, then the delivery's
 * secret, both AES-256-GCM, as the notifier does) so that the end-to-end
 * run (bench_http.c, "signup") can activate with the OTP it was sent. */
#include "bench.h"

#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

/* ---- raw Argon2id ------------------------------------------------------- */

typedef struct a2_ctx {
    uint32_t t, m_kib, lanes;
} a2_ctx_t;

typedef struct a2_state {
    a2_ctx_t *ctx;
    uint8_t salt[16];
    char pw[32];
    char *encoded;
    size_t enclen;
    uint64_t n;
} a2_state_t;

static void *
a2_init(void *ctx, int idx) {
    a2_ctx_t *c = ctx;
    a2_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = c;
    s->enclen = argon2_encodedlen(c->t, c->m_kib, c->lanes, 16, 32, Argon2_id);
    s->encoded = malloc(s->enclen);
    if (!s->encoded) {
        free(s);
        return NULL;
    }
    snprintf(s->pw, sizeof s->pw, "Bench#Sandi%d", idx);
    return s;
}

/* One hash exactly as the API stores a password: encoded Argon2id, 16-byte
 * salt, 32-byte hash (src/crypto/password.c). */
static int
a2_op(void *st) {
    a2_state_t *s = st;
    uint64_t r = bench_rand64(), r2 = bench_rand64();
    memcpy(s->salt, &r, 8);
    memcpy(s->salt + 8, &r2, 8);
    s->n++;
    int rc = argon2id_hash_encoded(s->ctx->t, s->ctx->m_kib, s->ctx->lanes,
                                   s->pw, strlen(s->pw), s->salt,
                                   sizeof s->salt, 32, s->encoded, s->enclen);
    return rc == ARGON2_OK ? 0 : -1;
}

static void
a2_fini(void *st) {
    a2_state_t *s = st;
    free(s->encoded);
    free(s);
}

int
bench_cmd_argon2(int argc, char **argv) {
    static a2_ctx_t c;
    int threads = atoi(bench_opt(argc, argv, "--threads", "2"));
    double seconds = atof(bench_opt(argc, argv, "--seconds", "5"));
    c.t = (uint32_t)atoi(bench_opt(argc, argv, "--t", "2"));
    c.m_kib = (uint32_t)atoi(bench_opt(argc, argv, "--m-kib", "19456"));
    c.lanes = (uint32_t)atoi(bench_opt(argc, argv, "--lanes", "1"));
    if (threads < 1 || threads > 64 || seconds <= 0 || seconds > 120 ||
        c.t < 1 || c.m_kib < 8 || c.lanes < 1) {
        fprintf(stderr, "oss-bench argon2: bad options\n");
        return 2;
    }
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(threads, seconds, 1000000, a2_init, a2_op,
                               a2_fini, &c, &ok, &failed, &el);
    printf("RESULT op=argon2 threads=%d t=%u m_kib=%u lanes=%u ok=%lld "
           "failed=%lld seconds=%.3f rate=%.2f\n",
           threads, c.t, c.m_kib, c.lanes, (long long)ok, (long long)failed, el,
           el > 0 ? (double)ok / el : 0);
    return rc == 0 && ok > 0 ? 0 : 1;
}

/* ---- opening an activation delivery ------------------------------------- */

int
bench_master_keys(bench_master_t *mk) {
    const char *conf = getenv("OSS_CONFIG");
    char path[1024] = "", line[1200];
    memset(mk, 0, sizeof *mk);
    FILE *f = conf && *conf ? fopen(conf, "r") : NULL;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            char *k = line, *v = eq + 1;
            *eq = '\0';
            while (*k == ' ' || *k == '\t')
                k++;
            size_t kl = strlen(k);
            while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
                k[--kl] = '\0';
            if (strcmp(k, "crypto.master_key_file"))
                continue;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, " \t\r\n")] = '\0';
            snprintf(path, sizeof path, "%s", v);
        }
        fclose(f);
    }
    if (!*path) {
        const char *var = getenv("OSS_VAR");
        snprintf(path, sizeof path, "%s/keys/master.key", var ? var : "var");
    }
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "oss-bench: could not open the master key file %s\n",
                path);
        return -1;
    }
    while (fgets(line, sizeof line, f) && mk->n < BENCH_MAX_MASTER) {
        line[strcspn(line, " \t\r\n")] = '\0';
        if (strlen(line) != 64)
            continue;
        uint8_t *key = mk->key[mk->n];
        if (oss_hex_decode(line, 64, key, 32, NULL) != OSS_OK)
            continue;
        uint8_t dg[32];
        SHA256(key, 32, dg);
        oss_hex_encode(dg, 8, mk->id[mk->n]);
        mk->n++;
    }
    fclose(f);
    memset(line, 0, sizeof line);
    return mk->n > 0 ? 0 : -1;
}

/* AES-256-GCM open of nonce(12) || ct || tag(16) with aad; 0 or -1. */
static int
gcm_open(const uint8_t key[32], const uint8_t *in, size_t inlen,
         const char *aad, uint8_t *out, size_t *outlen) {
    if (inlen < 28)
        return -1;
    size_t ctlen = inlen - 28;
    int len = 0, ok = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -1;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
        EVP_DecryptInit_ex(c, NULL, NULL, key, in) == 1 &&
        EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)aad,
                          (int)strlen(aad)) == 1 &&
        EVP_DecryptUpdate(c, out, &len, in + 12, (int)ctlen) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16,
                            (void *)(in + inlen - 16)) == 1) {
        int fl = 0;
        ok = EVP_DecryptFinal_ex(c, out + len, &fl) == 1;
        len += fl;
    }
    EVP_CIPHER_CTX_free(c);
    *outlen = (size_t)len;
    return ok ? 0 : -1;
}

static size_t
unhex(const char *h, uint8_t *out, size_t cap) {
    size_t n = strlen(h) / 2;
    if (oss_hex_decode(h, 2 * n, out, cap, NULL) != OSS_OK)
        return 0;
    return n;
}

int
bench_activation_otp(PGconn *c, const bench_master_t *mk,
                     const char *account_id, char otp[8]) {
    char stream[128];
    snprintf(stream, sizeof stream, "access-%s", account_id);
    const char *pv[] = {stream};
    PGresult *r = PQexecParams(
        c,
        "SELECT d.delivery_id, d.subject_id, k.master_key_id, "
        "encode(k.wrapped_key, 'hex'), encode(d.sealed_secret, 'hex') "
        "FROM oss.deliveries d JOIN oss.subject_keys k USING (subject_id) "
        "WHERE d.stream_id = $1 AND d.kind = 'activation' "
        "ORDER BY d.created_at DESC LIMIT 1",
        1, NULL, pv, NULL, NULL, 0);
    int rc = -1;
    uint8_t wrapped[256], sealed[1024], dk[64], plain[1024];
    size_t dklen = 0, plen = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        goto done;
    const char *delivery = PQgetvalue(r, 0, 0);
    const char *subject = PQgetvalue(r, 0, 1);
    const char *mkid = PQgetvalue(r, 0, 2);
    size_t wl = unhex(PQgetvalue(r, 0, 3), wrapped, sizeof wrapped);
    size_t sl = unhex(PQgetvalue(r, 0, 4), sealed, sizeof sealed);
    const uint8_t *key = NULL;
    for (int i = 0; i < mk->n; i++)
        if (!strcmp(mk->id[i], mkid))
            key = mk->key[i];
    if (!key || !wl || !sl ||
        gcm_open(key, wrapped, wl, subject, dk, &dklen) != 0 || dklen != 32)
        goto done;
    char aad[160];
    snprintf(aad, sizeof aad, "%s|delivery|%s", subject, delivery);
    if (gcm_open(dk, sealed, sl, aad, plain, &plen) != 0 ||
        plen >= sizeof plain)
        goto done;
    plain[plen] = '\0';
    /* {"otp":"123456","token":"..."} */
    const char *o = strstr((const char *)plain, "\"otp\"");
    if (o && (o = strchr(o + 5, '"')) && strlen(o) > 7 && o[7] == '"') {
        memcpy(otp, o + 1, 6);
        otp[6] = '\0';
        rc = 0;
    }
done:
    memset(dk, 0, sizeof dk);
    memset(plain, 0, sizeof plain);
    PQclear(r);
    return rc;
}
