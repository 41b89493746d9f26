/* Crypto shell (OpenSSL, libargon2): UUIDv7, per-subject sealing of personal
 * data, keyed hashes for look-ups, HMAC signing, key files.
 *
 * Key files hold hex text, one key per line (64 hex chars = 32 bytes); the
 * first line is the current key. A key's id is the first 16 hex chars of
 * SHA-256(key). Keys are read from files only, never from the environment.
 * Thread-safety: an oss_keyring_t is read-only after loading and may be
 * shared across threads. */
#ifndef OSS_CRYPTO_H
#define OSS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/event.h"

/* Writes a new UUIDv7 (RFC 9562 section 5.7, text form) into out. */
void oss_uuid7(char out[OSS_UUID_STR]);
/* Writes a new random UUIDv4 (text form). */
void oss_uuid4(char out[OSS_UUID_STR]);
/* Fills buf with n cryptographically random bytes; OSS_EIO on failure. */
oss_code_t oss_random(void *buf, size_t n, oss_err_t *err);
void oss_sha256(const void *data, size_t n, uint8_t out[32]);
void oss_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
                     size_t n, uint8_t out[32]);
/* Constant-time comparison; 1 when equal. */
int oss_ct_equal(const void *a, const void *b, size_t n);

/* A set of keys read from one file. */
typedef struct oss_keyring {
    size_t n;
    uint8_t key[8][32];
    char id[8][17];
    /* the file it was loaded from ("" when filled by hand): a master key id
     * not in the ring makes oss_data_key_unwrap() re-read this file once,
     * so that a running program follows `oss keys rotate` without a
     * restart (the new key is prepended to the file, the old kept). */
    char path[256];
    uint64_t file_ino; /* the file as loaded (oss_keyring_stale()) */
    int64_t file_mtime_ns;
} oss_keyring_t;

/* Reads a key file (borrowed path) into *ring. OSS_EIO when unreadable,
 * OSS_EINVAL when malformed, OSS_ECORRUPT when readable by group/others. */
oss_code_t oss_keyring_load(const char *path, oss_keyring_t *ring,
                            oss_err_t *err);
/* True when ring->path names a file other than the one loaded (replaced
 * by `oss keys rotate`): oss_data_key_new() then wraps under the file's
 * current first key, not the stale ring's. */
bool oss_keyring_stale(const oss_keyring_t *ring);
/* Creates a key file with one new random key, mode 0600, refusing to
 * overwrite an existing file (OSS_EDUPLICATE). */
oss_code_t oss_keyring_create(const char *path, oss_err_t *err);

/* A subject's data key, unwrapped. */
typedef struct oss_data_key {
    char subject_id[OSS_UUID_STR];
    uint8_t key[32];
} oss_data_key_t;

/* New random data key for subject_id; *wrapped (new, caller frees, length
 * *wlen = 12 nonce + 32 ciphertext + 16 tag) is it sealed under the current
 * master key with AAD = subject_id; *master_key_id is that key's id. */
oss_code_t oss_data_key_new(const oss_keyring_t *master, const char *subject_id,
                            oss_data_key_t *dk, uint8_t **wrapped, size_t *wlen,
                            char master_key_id[17], oss_err_t *err);
/* Wraps an existing data key dk (borrowed) under the current master key
 * (master->key[0]), as oss_data_key_new() does: for master-key rotation.
 * *wrapped is new (caller frees), *master_key_id that key's id. */
oss_code_t oss_data_key_wrap(const oss_keyring_t *master,
                             const oss_data_key_t *dk, uint8_t **wrapped,
                             size_t *wlen, char master_key_id[17],
                             oss_err_t *err);
/* Unwraps a stored data key with the master key named by master_key_id.
 * When that id is not in master and master->path is set, the key file is
 * read again (a rotation may have added the key since it was loaded). */
oss_code_t oss_data_key_unwrap(const oss_keyring_t *master,
                               const char *master_key_id,
                               const char *subject_id, const uint8_t *wrapped,
                               size_t wlen, oss_data_key_t *dk, oss_err_t *err);

/* AES-256-GCM seal of plaintext under dk, AAD = subject_id "|" field.
 * *nonce (12 bytes, caller buffer) and *ct (new, caller frees; ciphertext ||
 * 16-byte tag, length *ctlen). */
oss_code_t oss_seal(const oss_data_key_t *dk, const char *field,
                    const void *plaintext, size_t n, uint8_t nonce[12],
                    uint8_t **ct, size_t *ctlen, oss_err_t *err);
/* Opens what oss_seal() made; *out is new, NUL-terminated, caller frees.
 * OSS_ECORRUPT when the tag does not verify. */
oss_code_t oss_open(const oss_data_key_t *dk, const char *field,
                    const uint8_t nonce[12], const uint8_t *ct, size_t ctlen,
                    char **out, size_t *outlen, oss_err_t *err);

/* Keyed hash for look-ups: HMAC-SHA256(index key, kind "|" normalised value).
 */
void oss_index_digest(const oss_keyring_t *index, const char *kind,
                      const char *value, uint8_t out[32]);

#endif
