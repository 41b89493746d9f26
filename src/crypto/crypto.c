/* Crypto shell primitives (OpenSSL 3): ids, random, hashes, HMAC and
 * constant-time compare. Keys and sealing live in keyring.c and seal.c; the
 * text forms (hex, UUID) are the core's (core/bytes.h, core/uuid.h).
 * Thread-safety: every function may be called from any thread; oss_uuid7()
 * serialises on a process-wide mutex to keep ids monotonic. */
#include "crypto/crypto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/uuid.h"

/* A failed CSPRNG leaves no safe way to make an id: abort rather than hand out
 * a predictable one (the id functions have no error result by contract). */
static void
random_or_die(void *buf, size_t n) {
    if (RAND_bytes(buf, (int)n) != 1) {
        fprintf(stderr, "oss: fatal: RAND_bytes failed\n");
        abort();
    }
}

oss_code_t
oss_random(void *buf, size_t n, oss_err_t *err) {
    if (n > (size_t)INT32_MAX)
        return oss_err_set(err, OSS_EINVAL,
                           "random request of %zu bytes is too large", n);
    if (RAND_bytes(buf, (int)n) != 1)
        return oss_err_set(err, OSS_EIO,
                           "could not read random bytes: RAND_bytes failed");
    return OSS_OK;
}

void
oss_uuid4(char out[OSS_UUID_STR]) {
    uint8_t b[OSS_UUID_LEN];
    random_or_die(b, sizeof b);
    oss_uuid_format_v4(b, out);
}

/* UUIDv7 state: the last millisecond used and the 74 bits after it
 * (rand_a: 12 bits, rand_b: 62 bits). Within one millisecond the 74-bit value
 * is incremented (RFC 9562 section 6.2, method 2, "monotonic random"), so ids
 * of this process sort in creation order. A fresh millisecond draws new
 * random bits with the top bit of rand_a cleared, leaving room for 2^73
 * increments; on overflow the timestamp is advanced by one. */
static pthread_mutex_t uuid7_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid7_last_ms;
static uint16_t uuid7_ra; /* 12 bits */
static uint64_t uuid7_rb; /* 62 bits */

#define RB_MASK ((UINT64_C(1) << 62) - 1)

/* A forked child must not count on from its parent's state (both would make
 * the same next id within a millisecond): it starts afresh. */
static pthread_once_t uuid7_once = PTHREAD_ONCE_INIT;

static void
uuid7_atfork_child(void) {
    pthread_mutex_init(&uuid7_mu, NULL);
    uuid7_last_ms = 0;
}

static void
uuid7_init(void) {
    pthread_atfork(NULL, NULL, uuid7_atfork_child);
}

void
oss_uuid7(char out[OSS_UUID_STR]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now =
        (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t r[10];
    random_or_die(r, sizeof r);

    pthread_once(&uuid7_once, uuid7_init);
    pthread_mutex_lock(&uuid7_mu);
    if (now > uuid7_last_ms) {
        uuid7_last_ms = now;
        uuid7_ra = (uint16_t)(((r[0] << 8) | r[1]) & 0x07ff);
        uint64_t rb = 0;
        for (int i = 2; i < 10; i++)
            rb = (rb << 8) | r[i];
        uuid7_rb = rb & RB_MASK;
    } else {
        /* same millisecond, or the clock went back: count up from the last */
        uuid7_rb = (uuid7_rb + 1) & RB_MASK;
        if (uuid7_rb == 0) {
            uuid7_ra = (uint16_t)((uuid7_ra + 1) & 0x0fff);
            if (uuid7_ra == 0)
                uuid7_last_ms++;
        }
    }
    uint64_t ms = uuid7_last_ms;
    uint16_t ra = uuid7_ra;
    uint64_t rb = uuid7_rb;
    pthread_mutex_unlock(&uuid7_mu);

    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | ((ra >> 8) & 0x0f));
    b[7] = (uint8_t)(ra & 0xff);
    b[8] = (uint8_t)(0x80 | ((rb >> 56) & 0x3f));
    for (int i = 9; i < 16; i++)
        b[i] = (uint8_t)(rb >> (8 * (15 - i)));
    oss_uuid_format(b, out);
}

void
oss_sha256(const void *data, size_t n, uint8_t out[32]) {
    unsigned int len = 32;
    if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "oss: fatal: EVP_Digest(sha256) failed\n");
        abort();
    }
}

void
oss_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t n,
                uint8_t out[32]) {
    unsigned int len = 32;
    static const uint8_t empty;
    if (!HMAC(EVP_sha256(), key ? (const void *)key : &empty, (int)keylen,
              data ? data : &empty, n, out, &len)) {
        fprintf(stderr, "oss: fatal: HMAC(sha256) failed\n");
        abort();
    }
}

int
oss_ct_equal(const void *a, const void *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}
