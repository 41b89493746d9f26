/* Embedded default key files: create missing ones with the safety rule that a
 * new master or index key is never made over existing sealed data. */
#include "crypto/keyfiles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"

/* mkdir -p of path's parent directory, new directories mode 0700. */
static oss_code_t
make_parent(const char *path, oss_err_t *err) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return oss_err_set(err, OSS_EINVAL, "key file path \"%s\" is too long",
                           path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return OSS_OK;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return oss_err_set(err, OSS_EIO,
                                   "could not create directory \"%s\": %s", dir,
                                   strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return OSS_OK;
}

static oss_code_t
ensure_one(const char *what, const char *path, int guarded,
           int journal_has_sealed_data, oss_err_t *err) {
    struct stat st;
    oss_code_t rc;

    if (!path || !*path)
        return OSS_OK;
    if (lstat(path, &st) == 0 || errno != ENOENT) {
        /* it exists (or cannot be looked at): it must load as it is */
        oss_keyring_t ring;
        rc = oss_keyring_load(path, &ring, err);
        OPENSSL_cleanse(&ring, sizeof ring);
        return rc;
    }
    if (guarded && journal_has_sealed_data)
        return oss_err_set(
            err, OSS_ECORRUPT,
            "refusing to create a new %s key file \"%s\": the journal "
            "already holds data sealed under the old key (oss.subject_keys "
            "is not empty), which a new key could never read; restore "
            "the original key file",
            what, path);
    if ((rc = make_parent(path, err)) != OSS_OK)
        return rc;
    rc = oss_keyring_create(path, err);
    if (rc == OSS_EDUPLICATE) {
        /* created concurrently by another process: accept it if it loads */
        oss_keyring_t ring;
        rc = oss_keyring_load(path, &ring, err);
        OPENSSL_cleanse(&ring, sizeof ring);
    }
    return rc;
}

oss_code_t
oss_keys_ensure_local(const char *master, const char *index, const char *bus,
                      int journal_has_sealed_data, oss_err_t *err) {
    oss_code_t rc;
    if ((rc = ensure_one("master", master, 1, journal_has_sealed_data, err)) !=
        OSS_OK)
        return rc;
    if ((rc = ensure_one("index", index, 1, journal_has_sealed_data, err)) !=
        OSS_OK)
        return rc;
    return ensure_one("bus signing", bus, 0, journal_has_sealed_data, err);
}
