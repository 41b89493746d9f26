/* Key files: load (hex lines, first = current, refused when group/others may
 * read it), create (0600, never overwriting) and the keyed look-up digest.
 * Key bytes are wiped from every temporary buffer before returning. */
#include "core/bytes.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define KEYFILE_MAX 4096

/* Parses the text of a key file (NUL-terminated, borrowed) into *ring. Blank
 * lines and lines starting with '#' are skipped; every other line must be
 * exactly 64 hex characters (surrounding spaces and CR allowed). */
static oss_code_t
keyring_parse(const char *path, char *text, oss_keyring_t *ring,
              oss_err_t *err) {
    int lineno = 0;
    char *save = NULL;
    memset(ring, 0, sizeof *ring);
    /* strtok_r would merge empty lines; count them by hand */
    for (char *line = text; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t len = strlen(s);
        while (len > 0 &&
               (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
            s[--len] = '\0';
        if (len == 0 || s[0] == '#')
            continue;
        if (len != 64)
            return oss_err_set(
                err, OSS_EINVAL,
                "malformed key file \"%s\": line %d is not 64 hex characters",
                path, lineno);
        if (ring->n == 8)
            return oss_err_set(err, OSS_EINVAL,
                               "malformed key file \"%s\": more than 8 keys",
                               path);
        if (oss_hex_decode(s, 64, ring->key[ring->n], 32, NULL) != OSS_OK)
            return oss_err_set(err, OSS_EINVAL,
                               "malformed key file \"%s\": line %d is not "
                               "64 hex characters",
                               path, lineno);
        uint8_t digest[32];
        char hex[65];
        oss_sha256(ring->key[ring->n], 32, digest);
        oss_hex_encode(digest, 32, hex);
        memcpy(ring->id[ring->n], hex, 16);
        ring->id[ring->n][16] = '\0';
        ring->n++;
    }
    if (ring->n == 0)
        return oss_err_set(err, OSS_EINVAL,
                           "malformed key file \"%s\": no key in it", path);
    return OSS_OK;
}

oss_code_t
oss_keyring_load(const char *path, oss_keyring_t *ring, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    char buf[KEYFILE_MAX + 1];
    size_t len = 0;
    int fd = -1;

    memset(ring, 0, sizeof *ring);
    if (!path || !*path)
        return oss_err_set(err, OSS_EINVAL, "no key file named");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = oss_err_set(err, OSS_EIO, "could not open key file \"%s\": %s",
                         path, strerror(errno));
        goto done;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = oss_err_set(err, OSS_EIO, "could not stat key file \"%s\": %s",
                         path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = oss_err_set(err, OSS_EIO, "key file \"%s\" is not a regular file",
                         path);
        goto done;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = oss_err_set(
            err, OSS_ECORRUPT,
            "key file \"%s\" has group or world access (mode %04o): "
            "refusing to use it; run chmod 600 on it",
            path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    for (;;) {
        if (len == KEYFILE_MAX) {
            rc = oss_err_set(err, OSS_EINVAL,
                             "malformed key file \"%s\": larger than %d bytes",
                             path, KEYFILE_MAX);
            goto done;
        }
        ssize_t r = read(fd, buf + len, KEYFILE_MAX - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = oss_err_set(err, OSS_EIO, "could not read key file \"%s\": %s",
                             path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        rc = oss_err_set(err, OSS_EINVAL,
                         "malformed key file \"%s\": binary content", path);
        goto done;
    }
    rc = keyring_parse(path, buf, ring, err);
    if (rc == OSS_OK && strlen(path) < sizeof ring->path) {
        memcpy(ring->path, path, strlen(path) + 1);
        ring->file_ino = (uint64_t)st.st_ino;
        ring->file_mtime_ns =
            (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }

done:
    OPENSSL_cleanse(buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    if (rc != OSS_OK)
        OPENSSL_cleanse(ring, sizeof *ring);
    return rc;
}

bool
oss_keyring_stale(const oss_keyring_t *ring) {
    struct stat st;
    if (!ring || !ring->path[0] || stat(ring->path, &st) != 0)
        return false;
    return (uint64_t)st.st_ino != ring->file_ino ||
           (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
               ring->file_mtime_ns;
}

oss_code_t
oss_keyring_create(const char *path, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    uint8_t key[32];
    char line[66];
    int fd = -1;
    int created = 0;

    if (!path || !*path)
        return oss_err_set(err, OSS_EINVAL, "no key file named");
    if ((rc = oss_random(key, sizeof key, err)) != OSS_OK)
        goto done;
    oss_hex_encode(key, sizeof key, line);
    line[64] = '\n';
    line[65] = '\0';

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = oss_err_set(
                err, OSS_EDUPLICATE,
                "could not create key file \"%s\": it already exists", path);
        else
            rc = oss_err_set(err, OSS_EIO,
                             "could not create key file \"%s\": %s", path,
                             strerror(errno));
        goto done;
    }
    created = 1;
    /* the umask can only remove bits, but be explicit */
    if (fchmod(fd, 0600) != 0) {
        rc = oss_err_set(err, OSS_EIO, "could not chmod key file \"%s\": %s",
                         path, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < 65) {
        ssize_t w = write(fd, line + off, 65 - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc =
                oss_err_set(err, OSS_EIO, "could not write key file \"%s\": %s",
                            path, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = oss_err_set(err, OSS_EIO, "could not fsync key file \"%s\": %s",
                         path, strerror(errno));
        goto done;
    }

done:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(line, sizeof line);
    if (fd >= 0 && close(fd) != 0 && rc == OSS_OK)
        rc = oss_err_set(err, OSS_EIO, "could not close key file \"%s\": %s",
                         path, strerror(errno));
    if (rc != OSS_OK && created)
        unlink(path);
    return rc;
}

void
oss_index_digest(const oss_keyring_t *index, const char *kind,
                 const char *value, uint8_t out[32]) {
    size_t kl = strlen(kind), vl = strlen(value);
    size_t n = kl + 1 + vl;
    uint8_t stackbuf[512];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!buf) {
        fprintf(stderr, "oss: fatal: out of memory in oss_index_digest\n");
        abort();
    }
    memcpy(buf, kind, kl);
    buf[kl] = '|';
    memcpy(buf + kl + 1, value, vl);
    oss_hmac_sha256(index->key[0], 32, buf, n, out);
    OPENSSL_cleanse(buf, n);
    if (buf != stackbuf)
        free(buf);
}
