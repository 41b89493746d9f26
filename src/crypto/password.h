/* Password hashing with Argon2id (libargon2): PHC-encoded strings
 * ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") with a 16-byte random salt
 * and a 32-byte hash. Blocking and CPU/memory heavy: call it off the event
 * loop. Thread-safe. */
#ifndef OSS_CRYPTO_PASSWORD_H
#define OSS_CRYPTO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Room for any encoded hash this module makes with lanes <= 255 and costs up
 * to 2^32-1. */
#define OSS_PASSWORD_ENCODED_MAX 160

/* Hashes the NUL-terminated password pw (borrowed) with t_cost passes over
 * m_kib KiB of memory and `lanes` lanes into out_encoded (caller buffer of
 * outlen bytes, OSS_PASSWORD_ENCODED_MAX is enough). OSS_EINVAL on bad
 * parameters, OSS_ETOOBIG when outlen is too small, OSS_EIO when the salt
 * could not be drawn. */
oss_code_t oss_password_hash(const char *pw, uint32_t t_cost, uint32_t m_kib,
                             uint32_t lanes, char *out_encoded, size_t outlen,
                             oss_err_t *err);

/* Checks pw (borrowed) against an encoded hash (borrowed) made by
 * oss_password_hash(). Sets *match (true when it matches) and returns
 * OSS_OK; OSS_EMALFORMED when `encoded` is not an Argon2id hash. The
 * comparison is constant-time (libargon2). */
oss_code_t oss_password_verify(const char *encoded, const char *pw, bool *match,
                               oss_err_t *err);

#endif
