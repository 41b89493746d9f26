/* Byte-level helpers: big-endian integers, hex and base64url text. The one
 * copy of each in the tree (shell and programs use these too). They live in
 * the core because the core uses them (uuid.c formats through the hex table)
 * and the core may include only libc and core/ headers. Pure (libc only),
 * reentrant; every pointer is borrowed, nothing is allocated. */
#ifndef OSS_CORE_BYTES_H
#define OSS_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* The big-endian 64-bit integer at p[0..7]. */
uint64_t oss_be64_get(const uint8_t *p);
/* The same, signed, from a char buffer (libpq binary results: int8, xid8). */
static inline int64_t
oss_be64_sget(const char *p) {
    return (int64_t)oss_be64_get((const uint8_t *)p);
}
/* Writes v big-endian into p[0..7]. */
void oss_be64_put(uint8_t *p, uint64_t v);
/* The value 0..15 of hex digit c (either case), or -1 when c is not one. */
int oss_hexval(int c);

/* in[0..n) as lower-case hex into out (2 * n + 1 bytes), NUL-terminated. */
void oss_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes the n hex digits at hex (either case; hex need not be
 * NUL-terminated) into out[0 .. n / 2): OSS_OK; OSS_EMALFORMED when n is
 * odd or a character is not a hex digit; OSS_ETOOBIG when n / 2 > cap. *err
 * (may be NULL) says which; out may be partly written on failure. */
oss_code_t oss_hex_decode(const char *hex, size_t n, uint8_t *out, size_t cap,
                          oss_err_t *err);

/* The length of in[0..n) as base64url text without padding, NUL excluded:
 * 4 * (n / 3) plus 2 or 3 for a trailing 1 or 2 bytes. */
static inline size_t
oss_b64url_len(size_t n) {
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}
/* in[0..n) as base64url (RFC 4648 section 5, "-_", no '=' padding) into out
 * (oss_b64url_len(n) + 1 bytes), NUL-terminated. */
void oss_b64url_encode(const uint8_t *in, size_t n, char *out);
/* Decodes the n characters at s (unpadded base64url; not NUL-terminated
 * necessarily) into out (cap bytes); *outlen (may be NULL) gets the byte
 * count. OSS_EMALFORMED for a character outside the alphabet, '=' padding,
 * a length of 1 mod 4, or non-zero bits left over in the last character
 * (so every byte string has one text form); OSS_ETOOBIG when the result
 * does not fit in cap. */
oss_code_t oss_b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap,
                             size_t *outlen, oss_err_t *err);

/* Copies src (NULL: "") into dst of n >= 1 bytes, truncated, NUL-ended:
 * the one bounded string copy of the tree. */
void oss_str_copy(char *dst, size_t n, const char *src);

#endif
