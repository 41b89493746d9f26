/* Argon2id password hashing (libargon2) with a random salt from OpenSSL. */
#include "crypto/password.h"

#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>

#include "crypto/crypto.h"

#define SALT_LEN 16
#define HASH_LEN 32

oss_code_t
oss_password_hash(const char *pw, uint32_t t_cost, uint32_t m_kib,
                  uint32_t lanes, char *out_encoded, size_t outlen,
                  oss_err_t *err) {
    uint8_t salt[SALT_LEN];
    oss_code_t rc;

    if (outlen > 0)
        out_encoded[0] = '\0';
    if (!pw)
        return oss_err_field(err, OSS_EINVAL, "password",
                             "password is missing");
    if (t_cost < 1 || lanes < 1 || lanes > 255 || m_kib < 8 * lanes)
        return oss_err_set(err, OSS_EINVAL,
                           "invalid Argon2id parameters t=%u m=%u KiB p=%u",
                           t_cost, m_kib, lanes);
    size_t need =
        argon2_encodedlen(t_cost, m_kib, lanes, SALT_LEN, HASH_LEN, Argon2_id);
    if (outlen < need)
        return oss_err_set(
            err, OSS_ETOOBIG,
            "could not hash password: output buffer of %zu bytes, need %zu",
            outlen, need);
    if ((rc = oss_random(salt, sizeof salt, err)) != OSS_OK)
        return rc;
    int r = argon2id_hash_encoded(t_cost, m_kib, lanes, pw, strlen(pw), salt,
                                  SALT_LEN, HASH_LEN, out_encoded, outlen);
    OPENSSL_cleanse(salt, sizeof salt);
    if (r != ARGON2_OK) {
        if (outlen > 0)
            out_encoded[0] = '\0';
        return oss_err_set(
            err, r == ARGON2_MEMORY_ALLOCATION_ERROR ? OSS_ENOMEM : OSS_EINVAL,
            "could not hash password: %s", argon2_error_message(r));
    }
    return OSS_OK;
}

oss_code_t
oss_password_verify(const char *encoded, const char *pw, bool *match,
                    oss_err_t *err) {
    *match = false;
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0)
        return oss_err_set(
            err, OSS_EMALFORMED,
            "could not verify password: stored hash is not Argon2id");
    if (!pw)
        return OSS_OK;
    int r = argon2id_verify(encoded, pw, strlen(pw));
    if (r == ARGON2_OK) {
        *match = true;
        return OSS_OK;
    }
    if (r == ARGON2_VERIFY_MISMATCH)
        return OSS_OK;
    if (r == ARGON2_MEMORY_ALLOCATION_ERROR)
        return oss_err_set(err, OSS_ENOMEM, "could not verify password: %s",
                           argon2_error_message(r));
    return oss_err_set(err, OSS_EMALFORMED, "could not verify password: %s",
                       argon2_error_message(r));
}
