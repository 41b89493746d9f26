/* Big-endian integers, hex and base64url (see bytes.h). */
#include "core/bytes.h"

#include <string.h>

uint64_t
oss_be64_get(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
oss_be64_put(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

int
oss_hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char hex_digits[] = "0123456789abcdef";

void
oss_hex_encode(const uint8_t *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

oss_code_t
oss_hex_decode(const char *hex, size_t n, uint8_t *out, size_t cap,
               oss_err_t *err) {
    if (n % 2)
        return oss_err_set(err, OSS_EMALFORMED,
                           "could not decode hex: odd length %zu", n);
    if (n / 2 > cap)
        return oss_err_set(err, OSS_ETOOBIG,
                           "could not decode hex: %zu bytes do not fit in %zu",
                           n / 2, cap);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = oss_hexval((unsigned char)hex[2 * i]);
        int lo = oss_hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return oss_err_set(err, OSS_EMALFORMED,
                               "could not decode hex: not a hex digit at %zu",
                               hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return OSS_OK;
}

static const char b64url_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
oss_b64url_encode(const uint8_t *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64url_digits[(v >> 18) & 63];
        out[o++] = b64url_digits[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url_digits[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url_digits[v & 63];
    }
    out[o] = '\0';
}

/* The value 0..63 of base64url character c, or -1. */
static int
b64url_val(int c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

oss_code_t
oss_b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap,
                  size_t *outlen, oss_err_t *err) {
    if (outlen)
        *outlen = 0;
    if (n % 4 == 1)
        return oss_err_set(err, OSS_EMALFORMED,
                           "could not decode base64url: length %zu", n);
    size_t want = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (want > cap)
        return oss_err_set(
            err, OSS_ETOOBIG,
            "could not decode base64url: %zu bytes do not fit in %zu", want,
            cap);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = j < k ? b64url_val((unsigned char)s[i + j]) : 0;
            if (d < 0)
                return oss_err_set(err, OSS_EMALFORMED,
                                   "could not decode base64url: not in the "
                                   "alphabet at %zu",
                                   i + j);
            v = v << 6 | (uint32_t)d;
        }
        /* k = 2 keeps 8 of its 12 bits, k = 3 keeps 16 of 18 */
        if ((k == 2 && (v & 0xffff)) || (k == 3 && (v & 0xff)))
            return oss_err_set(err, OSS_EMALFORMED,
                               "could not decode base64url: stray bits at "
                               "the end");
        out[o++] = (uint8_t)(v >> 16);
        if (k > 2)
            out[o++] = (uint8_t)(v >> 8);
        if (k > 3)
            out[o++] = (uint8_t)v;
    }
    if (outlen)
        *outlen = o;
    return OSS_OK;
}

void
oss_str_copy(char *dst, size_t n, const char *src) {
    size_t l = src ? strnlen(src, n - 1) : 0;
    if (l)
        memcpy(dst, src, l);
    dst[l] = '\0';
}
