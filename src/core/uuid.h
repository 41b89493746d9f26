/* UUIDs in their text form, 8-4-4-4-12 hex digits (RFC 9562 section 4):
 * validation, parsing and formatting; the one copy of each in the tree. In
 * the core because the core's types carry UUID text (OSS_UUID_STR, event
 * ids) and the core may include only libc and core/ headers. Generating one
 * needs a CSPRNG (OpenSSL's RAND): oss_uuid4() and oss_uuid7() stay in
 * src/crypto and format through this module. Pure (libc only), reentrant;
 * pointers are borrowed, nothing is allocated. */
#ifndef OSS_CORE_UUID_H
#define OSS_CORE_UUID_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define OSS_UUID_STR 37 /* 36 chars + NUL */
#define OSS_UUID_LEN 16 /* bytes */

/* True when s (may be NULL) is exactly a UUID's text: 36 characters, '-' at
 * 8, 13, 18 and 23, hex digits (either case) elsewhere. No version check. */
bool oss_uuid_valid(const char *s);
/* Parses UUID text (as oss_uuid_valid() accepts) into its 16 bytes:
 * OSS_OK, or OSS_EMALFORMED with *err (may be NULL) set. */
oss_code_t oss_uuid_parse(const char *s, uint8_t out[OSS_UUID_LEN],
                          oss_err_t *err);
/* Writes the 16 bytes b as lower-case UUID text into out, NUL-terminated. */
void oss_uuid_format(const uint8_t b[OSS_UUID_LEN], char out[OSS_UUID_STR]);
/* Makes a random (version 4) UUID of 16 random bytes rnd (from a CSPRNG;
 * the caller draws them): sets the version and variant bits and formats. */
void oss_uuid_format_v4(const uint8_t rnd[OSS_UUID_LEN],
                        char out[OSS_UUID_STR]);

#endif
