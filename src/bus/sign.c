/* Message signatures: HMAC-SHA256 over (ce_id, key, value), each 4-byte
 * big-endian length-prefixed, hex in the oss_signature header. A message
 * written to a topic by anyone without the key does not verify. */
#include "bus/bus.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

/* Builds the signed byte string; new, caller frees. NULL on OOM. */
static uint8_t *
sign_input(const char *ce_id, const void *key, size_t klen, const void *val,
           size_t vlen, size_t *n) {
    size_t idlen = ce_id ? strlen(ce_id) : 0;
    const void *parts[3] = {ce_id, key, val};
    size_t lens[3] = {idlen, key ? klen : 0, val ? vlen : 0};
    size_t total = 12 + lens[0] + lens[1] + lens[2];
    uint8_t *buf = malloc(total), *p = buf;
    if (!buf)
        return NULL;
    for (int i = 0; i < 3; i++) {
        uint32_t l = (uint32_t)lens[i];
        *p++ = (uint8_t)(l >> 24);
        *p++ = (uint8_t)(l >> 16);
        *p++ = (uint8_t)(l >> 8);
        *p++ = (uint8_t)l;
        if (lens[i])
            memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    *n = total;
    return buf;
}

static int
mac(const uint8_t key[32], const uint8_t *data, size_t n, uint8_t out[32]) {
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, 32, data, n, out, &olen) != NULL &&
           olen == 32;
}

void
oss_bus_sign(const oss_keyring_t *ring, const char *ce_id, const void *key,
             size_t klen, const void *val, size_t vlen, char out[65]) {
    uint8_t digest[32];
    size_t n = 0;
    uint8_t *in = NULL;

    out[0] = '\0';
    if (!ring || ring->n == 0)
        return;
    if (!(in = sign_input(ce_id, key, klen, val, vlen, &n)))
        return;
    if (mac(ring->key[0], in, n, digest))
        oss_hex_encode(digest, 32, out);
    free(in);
}

int
oss_bus_verify(const oss_keyring_t *ring, const char *ce_id, const void *key,
               size_t klen, const void *val, size_t vlen, const char *sig_hex) {
    uint8_t want[32], got[32];
    size_t n = 0;
    uint8_t *in = NULL;
    int ok = 0;

    if (!ring || ring->n == 0 || !sig_hex || strlen(sig_hex) != 64 ||
        oss_hex_decode(sig_hex, 64, want, sizeof want, NULL) != OSS_OK)
        return 0;
    if (!(in = sign_input(ce_id, key, klen, val, vlen, &n)))
        return 0;
    for (size_t i = 0; i < ring->n && i < 8; i++)
        if (mac(ring->key[i], in, n, got) && CRYPTO_memcmp(got, want, 32) == 0)
            ok = 1;
    free(in);
    return ok;
}

/* ---- a reusable signer (one keyed MAC context, no allocation per call) -- */

struct oss_bus_signer {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

oss_bus_signer_t *
oss_bus_signer_new(const oss_keyring_t *ring) {
    oss_bus_signer_t *s = NULL;
    OSSL_PARAM params[2];
    if (!ring || ring->n == 0 || !(s = calloc(1, sizeof *s)))
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!(s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) ||
        !(s->ctx = EVP_MAC_CTX_new(s->mac)) ||
        !EVP_MAC_init(s->ctx, ring->key[0], 32, params)) {
        oss_bus_signer_free(s);
        return NULL;
    }
    return s;
}

void
oss_bus_signer_free(oss_bus_signer_t *s) {
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

static int
mac_part(EVP_MAC_CTX *ctx, const void *p, size_t n) {
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n};
    return EVP_MAC_update(ctx, len, 4) && (!n || EVP_MAC_update(ctx, p, n));
}

void
oss_bus_signer_sign(oss_bus_signer_t *s, const char *ce_id, const void *key,
                    size_t klen, const void *val, size_t vlen, char out[65]) {
    uint8_t digest[32];
    size_t dlen = 0;
    out[0] = '\0';
    if (!s)
        return;
    /* a NULL key re-initialises with the key already set */
    if (EVP_MAC_init(s->ctx, NULL, 0, NULL) &&
        mac_part(s->ctx, ce_id, ce_id ? strlen(ce_id) : 0) &&
        mac_part(s->ctx, key, key ? klen : 0) &&
        mac_part(s->ctx, val, val ? vlen : 0) &&
        EVP_MAC_final(s->ctx, digest, &dlen, sizeof digest) && dlen == 32)
        oss_hex_encode(digest, 32, out);
}
