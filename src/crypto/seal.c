/* Per-subject sealing with AES-256-GCM: data keys wrapped by the master key
 * (AAD = subject id; nonce(12) || ct(32) || tag(16)) and fields sealed under
 * a data key (AAD = subject id "|" field; ct || tag). Nonces are random 96-bit
 * values from the CSPRNG; one data key seals few fields, far below the 2^32
 * messages per key that random GCM nonces allow. */
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define GCM_NONCE 12
#define GCM_TAG 16
#define WRAPPED_LEN (GCM_NONCE + 32 + GCM_TAG)

/* AES-256-GCM encrypt of n bytes with AAD parts a1 || a2 || a3 (any may be
 * NULL). out receives n bytes of ciphertext followed by the 16-byte tag. */
static oss_code_t
gcm_seal(const uint8_t key[32], const uint8_t nonce[GCM_NONCE], const char *a1,
         const char *a2, const char *a3, const uint8_t *in, size_t n,
         uint8_t *out, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    int len = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    const char *aad[3] = {a1, a2, a3};

    if (!c)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not allocate a cipher context");
    if (n > INT32_MAX) {
        rc = oss_err_set(err, OSS_ETOOBIG,
                         "could not seal: %zu bytes is too large", n);
        goto done;
    }
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
        goto fail;
    for (int i = 0; i < 3; i++)
        if (aad[i] && *aad[i] &&
            EVP_EncryptUpdate(c, NULL, &len, (const uint8_t *)aad[i],
                              (int)strlen(aad[i])) != 1)
            goto fail;
    if (n > 0 && EVP_EncryptUpdate(c, out, &len, in, (int)n) != 1)
        goto fail;
    if (EVP_EncryptFinal_ex(c, out + n, &len) != 1)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + n) != 1)
        goto fail;
    goto done;
fail:
    rc = oss_err_set(err, OSS_EINTERNAL,
                     "could not seal: AES-256-GCM encryption failed");
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* Inverse of gcm_seal: in is ct || tag (n >= 16); out receives n - 16 bytes.
 * OSS_ECORRUPT when the tag does not verify. */
static oss_code_t
gcm_open(const uint8_t key[32], const uint8_t nonce[GCM_NONCE], const char *a1,
         const char *a2, const char *a3, const uint8_t *in, size_t n,
         uint8_t *out, const char *what, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    int len = 0;
    EVP_CIPHER_CTX *c = NULL;
    const char *aad[3] = {a1, a2, a3};

    if (n < GCM_TAG || n - GCM_TAG > INT32_MAX)
        return oss_err_set(
            err, OSS_ECORRUPT,
            "could not open %s: ciphertext of %zu bytes is malformed", what, n);
    size_t ptlen = n - GCM_TAG;
    c = EVP_CIPHER_CTX_new();
    if (!c)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not allocate a cipher context");
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
        goto fail;
    for (int i = 0; i < 3; i++)
        if (aad[i] && *aad[i] &&
            EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)aad[i],
                              (int)strlen(aad[i])) != 1)
            goto fail;
    if (ptlen > 0 && EVP_DecryptUpdate(c, out, &len, in, (int)ptlen) != 1)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG,
                            (void *)(in + ptlen)) != 1)
        goto fail;
    if (EVP_DecryptFinal_ex(c, out + ptlen, &len) != 1) {
        OPENSSL_cleanse(out, ptlen);
        rc =
            oss_err_set(err, OSS_ECORRUPT,
                        "could not open %s: authentication tag does not verify "
                        "(wrong key, wrong context or tampered data)",
                        what);
        goto done;
    }
    goto done;
fail:
    rc = oss_err_set(err, OSS_EINTERNAL,
                     "could not open %s: AES-256-GCM decryption failed", what);
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

oss_code_t
oss_data_key_new(const oss_keyring_t *master, const char *subject_id,
                 oss_data_key_t *dk, uint8_t **wrapped, size_t *wlen,
                 char master_key_id[17], oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    uint8_t *w = NULL;

    *wrapped = NULL;
    *wlen = 0;
    memset(dk, 0, sizeof *dk);
    if (!master || master->n == 0)
        return oss_err_set(err, OSS_EINVAL,
                           "could not create a data key: no master key loaded");
    if (!subject_id || strlen(subject_id) >= sizeof dk->subject_id)
        return oss_err_field(
            err, OSS_EINVAL, "subject_id",
            "could not create a data key: subject id is missing or too long");
    w = malloc(WRAPPED_LEN);
    if (!w)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not create a data key: out of memory");
    /* the key file was rotated since it was loaded: wrap under its new
     * current key (the stale ring may lose its old key to `oss keys
     * retire`) */
    oss_keyring_t *fresh = NULL;
    if (oss_keyring_stale(master)) {
        fresh = malloc(sizeof *fresh);
        if (fresh && oss_keyring_load(master->path, fresh, NULL) == OSS_OK)
            master = fresh;
    }
    if ((rc = oss_random(dk->key, sizeof dk->key, err)) != OSS_OK)
        goto done;
    if ((rc = oss_random(w, GCM_NONCE, err)) != OSS_OK)
        goto done;
    if ((rc = gcm_seal(master->key[0], w, subject_id, NULL, NULL, dk->key, 32,
                       w + GCM_NONCE, err)) != OSS_OK)
        goto done;
    memcpy(dk->subject_id, subject_id, strlen(subject_id) + 1);
    memcpy(master_key_id, master->id[0], 17);
    *wrapped = w;
    *wlen = WRAPPED_LEN;
    w = NULL;
done:
    if (fresh) {
        OPENSSL_cleanse(fresh, sizeof *fresh);
        free(fresh);
    }
    free(w);
    if (rc != OSS_OK)
        OPENSSL_cleanse(dk, sizeof *dk);
    return rc;
}

oss_code_t
oss_data_key_wrap(const oss_keyring_t *master, const oss_data_key_t *dk,
                  uint8_t **wrapped, size_t *wlen, char master_key_id[17],
                  oss_err_t *err) {
    oss_code_t rc;
    uint8_t *w = NULL;

    *wrapped = NULL;
    *wlen = 0;
    if (!master || master->n == 0)
        return oss_err_set(err, OSS_EINVAL,
                           "could not wrap a data key: no master key loaded");
    if (!dk->subject_id[0])
        return oss_err_field(err, OSS_EINVAL, "subject_id",
                             "could not wrap a data key: no subject id");
    w = malloc(WRAPPED_LEN);
    if (!w)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not wrap a data key: out of memory");
    if ((rc = oss_random(w, GCM_NONCE, err)) != OSS_OK)
        goto done;
    if ((rc = gcm_seal(master->key[0], w, dk->subject_id, NULL, NULL, dk->key,
                       32, w + GCM_NONCE, err)) != OSS_OK)
        goto done;
    memcpy(master_key_id, master->id[0], 17);
    *wrapped = w;
    *wlen = WRAPPED_LEN;
    w = NULL;
done:
    free(w);
    return rc;
}

oss_code_t
oss_data_key_unwrap(const oss_keyring_t *master, const char *master_key_id,
                    const char *subject_id, const uint8_t *wrapped, size_t wlen,
                    oss_data_key_t *dk, oss_err_t *err) {
    memset(dk, 0, sizeof *dk);
    if (!subject_id || strlen(subject_id) >= sizeof dk->subject_id)
        return oss_err_field(
            err, OSS_EINVAL, "subject_id",
            "could not unwrap a data key: subject id is missing or too long");
    if (wlen != WRAPPED_LEN)
        return oss_err_set(err, OSS_ECORRUPT,
                           "could not unwrap the data key of subject \"%s\": "
                           "wrapped key has %zu bytes, expected %d",
                           subject_id, wlen, WRAPPED_LEN);
    size_t k = 0;
    for (; master && k < master->n; k++)
        if (master_key_id && strcmp(master->id[k], master_key_id) == 0)
            break;
    oss_keyring_t *fresh = NULL;
    if (master && k == master->n && master->path[0] && master_key_id) {
        /* rotated since loaded (`oss keys rotate`): read the file again */
        fresh = malloc(sizeof *fresh);
        if (fresh && oss_keyring_load(master->path, fresh, NULL) == OSS_OK) {
            for (k = 0; k < fresh->n; k++)
                if (strcmp(fresh->id[k], master_key_id) == 0)
                    break;
            if (k < fresh->n)
                master = fresh;
            else
                k = master->n;
        } else {
            k = master->n;
        }
    }
    if (!master || k == master->n) {
        if (fresh) {
            OPENSSL_cleanse(fresh, sizeof *fresh);
            free(fresh);
        }
        return oss_err_set(err, OSS_ENOTFOUND,
                           "could not unwrap the data key of subject \"%s\": "
                           "master key \"%s\" is not in the master key file",
                           subject_id, master_key_id ? master_key_id : "");
    }
    oss_code_t rc = gcm_open(master->key[k], wrapped, subject_id, NULL, NULL,
                             wrapped + GCM_NONCE, 32 + GCM_TAG, dk->key,
                             "a wrapped data key", err);
    if (fresh) {
        OPENSSL_cleanse(fresh, sizeof *fresh);
        free(fresh);
    }
    if (rc != OSS_OK) {
        OPENSSL_cleanse(dk, sizeof *dk);
        return rc;
    }
    memcpy(dk->subject_id, subject_id, strlen(subject_id) + 1);
    return OSS_OK;
}

oss_code_t
oss_seal(const oss_data_key_t *dk, const char *field, const void *plaintext,
         size_t n, uint8_t nonce[12], uint8_t **ct, size_t *ctlen,
         oss_err_t *err) {
    oss_code_t rc;
    uint8_t *out = NULL;

    *ct = NULL;
    *ctlen = 0;
    if (!field || !*field)
        return oss_err_set(err, OSS_EINVAL, "could not seal: no field name");
    if (n > (size_t)INT32_MAX - GCM_TAG)
        return oss_err_set(err, OSS_ETOOBIG,
                           "could not seal field \"%s\": too large", field);
    out = malloc(n + GCM_TAG);
    if (!out)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not seal field \"%s\": out of memory", field);
    if ((rc = oss_random(nonce, GCM_NONCE, err)) != OSS_OK)
        goto done;
    rc = gcm_seal(dk->key, nonce, dk->subject_id, "|", field, plaintext, n, out,
                  err);
    if (rc != OSS_OK)
        goto done;
    *ct = out;
    *ctlen = n + GCM_TAG;
    out = NULL;
done:
    free(out);
    return rc;
}

oss_code_t
oss_open(const oss_data_key_t *dk, const char *field, const uint8_t nonce[12],
         const uint8_t *ct, size_t ctlen, char **out, size_t *outlen,
         oss_err_t *err) {
    *out = NULL;
    if (outlen)
        *outlen = 0;
    if (!field || !*field)
        return oss_err_set(err, OSS_EINVAL, "could not open: no field name");
    if (ctlen < GCM_TAG)
        return oss_err_set(
            err, OSS_ECORRUPT,
            "could not open field \"%s\": ciphertext of %zu bytes is malformed",
            field, ctlen);
    size_t ptlen = ctlen - GCM_TAG;
    char *p = malloc(ptlen + 1);
    if (!p)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not open field \"%s\": out of memory", field);
    oss_code_t rc = gcm_open(dk->key, nonce, dk->subject_id, "|", field, ct,
                             ctlen, (uint8_t *)p, "a sealed field", err);
    if (rc != OSS_OK) {
        free(p);
        return rc;
    }
    p[ptlen] = '\0';
    *out = p;
    if (outlen)
        *outlen = ptlen;
    return OSS_OK;
}
