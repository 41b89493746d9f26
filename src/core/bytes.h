/* Byte-level helpers: big-endian integers and hex digits. Pure (libc only),
 * reentrant; pointers are borrowed. */
#ifndef OSS_CORE_BYTES_H
#define OSS_CORE_BYTES_H

#include <stdint.h>

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

#endif
