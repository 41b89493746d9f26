/* A data subject's personal data over PostgreSQL: key loading, schema-free
 * opening of sealed fields and master-key rotation (see subject.h; the
 * erasure use case is src/app/erasure.c). */
#include "crypto/subject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/bytes.h"
#include "core/uuid.h"
#include "db/db.h"
#include "journal/scan.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/privacy.pb-c.h"

static oss_code_t
db_fail(PGconn *c, PGresult *r, const char *what, oss_err_t *err) {
    oss_code_t rc = oss_db_error(c, r, what, err);
    PQclear(r);
    if (err)
        err->msg[strcspn(err->msg, "\n")] = '\0';
    return rc == OSS_OK ? OSS_EUNAVAIL : rc;
}

oss_code_t
oss_subject_key_load(PGconn *c, const oss_keyring_t *master,
                     const char *subject_id, oss_data_key_t *dk,
                     oss_err_t *err) {
    memset(dk, 0, sizeof *dk);
    if (!oss_uuid_valid(subject_id))
        return oss_err_field(err, OSS_ENOTFOUND, "", "no such subject");
    const char *p[1] = {subject_id};
    PGresult *r = PQexecParams(c,
                               "SELECT master_key_id, wrapped_key FROM "
                               "oss.subject_keys WHERE subject_id = $1::uuid",
                               1, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(c, r, "read a subject key", err);
    oss_code_t rc;
    if (PQntuples(r) == 0) {
        rc = oss_err_coded(err, OSS_ENOTFOUND, OSS_SUBJECT_REASON_ERASED,
                           "subject %s has no data key: its personal data "
                           "was erased",
                           subject_id);
    } else {
        char kid[17];
        int kl = PQgetlength(r, 0, 0);
        snprintf(kid, sizeof kid, "%.*s", kl < 16 ? kl : 16,
                 PQgetvalue(r, 0, 0));
        rc = oss_data_key_unwrap(master, kid, subject_id,
                                 (const uint8_t *)PQgetvalue(r, 0, 1),
                                 (size_t)PQgetlength(r, 0, 1), dk, err);
    }
    PQclear(r);
    return rc;
}

oss_code_t
oss_subject_of_account(PGconn *c, const char *account_id,
                       char subject_id[OSS_UUID_STR], oss_err_t *err) {
    char stream[OSS_ID_MAX];
    subject_id[0] = '\0';
    if (!account_id || !*account_id || strlen(account_id) > 64)
        return oss_err_set(err, OSS_ENOTFOUND, "no such account");
    snprintf(stream, sizeof stream, "account-%s", account_id);
    static const char *const registered[] = {"oss.v1.AccountRegistered"};
    oss_journal_filter_t f = {.stream_id = stream,
                              .types = registered,
                              .ntypes = 1,
                              .order = OSS_JOURNAL_ORDER_STREAM,
                              .limit = 1};
    oss_event_list_t found = {0};
    oss_code_t rc = oss_journal_scan_list(c, &f, &found, err);
    if (rc) {
        oss_event_list_free(&found);
        return rc;
    }
    if (found.len == 0) {
        rc = oss_err_set(err, OSS_ENOTFOUND, "no such account: %s", account_id);
    } else {
        Oss__V1__AccountRegistered *a = oss__v1__account_registered__unpack(
            NULL, found.items[0].payload_len, found.items[0].payload);
        if (a && a->subject_id && oss_uuid_valid(a->subject_id))
            snprintf(subject_id, OSS_UUID_STR, "%s", a->subject_id);
        else
            rc =
                oss_err_set(err, OSS_ECORRUPT,
                            "account %s: undecodable registration", account_id);
        if (a)
            oss__v1__account_registered__free_unpacked(a, NULL);
    }
    oss_event_list_free(&found);
    return rc;
}

oss_code_t
oss_subject_of_principal(PGconn *c, const char *principal_id,
                         char subject_id[OSS_UUID_STR], oss_err_t *err) {
    const char *p[1] = {principal_id};
    subject_id[0] = '\0';
    PGresult *r = PQexecParams(c,
                               "SELECT subject_id::text FROM oss.principals "
                               "WHERE principal_id = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(c, r, "read a principal", err);
    if (PQntuples(r) == 1) {
        snprintf(subject_id, OSS_UUID_STR, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return OSS_OK;
    }
    PQclear(r);
    return oss_subject_of_account(c, principal_id, subject_id, err);
}

/* ---- schema-free opening of sealed fields ------------------------------ */

/* Names personal fields are sealed under (the AAD "subject|field"): the GCM
 * tag tells which one is right. */
static const char *const field_names[] = {"nik",
                                          "name",
                                          "birth_date",
                                          "email",
                                          "phone",
                                          "passport",
                                          "passport_number",
                                          "npwp",
                                          "address",
                                          "new_email",
                                          "new_phone",
                                          "director_name",
                                          "director_nik",
                                          "full_name",
                                          "contact",
                                          "website",
                                          "whatsapp",
                                          "username",
                                          NULL};

static bool
rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

typedef struct wire_field {
    uint32_t num;
    int type;
    uint64_t v;
    const uint8_t *data; /* type 2 */
    size_t len;
} wire_field_t;

/* Next field of a message; false at the end or when malformed (*bad). */
static bool
next_field(const uint8_t **p, const uint8_t *end, wire_field_t *f, bool *bad) {
    uint64_t key;
    *bad = false;
    if (*p >= end)
        return false;
    if (!rd_varint(p, end, &key) || (key >> 3) == 0) {
        *bad = true;
        return false;
    }
    f->num = (uint32_t)(key >> 3);
    f->type = (int)(key & 7);
    switch (f->type) {
    case 0:
        if (!rd_varint(p, end, &f->v))
            goto bad;
        return true;
    case 1:
        if (end - *p < 8)
            goto bad;
        *p += 8;
        return true;
    case 5:
        if (end - *p < 4)
            goto bad;
        *p += 4;
        return true;
    case 2:
        if (!rd_varint(p, end, &f->v) || f->v > (uint64_t)(end - *p))
            goto bad;
        f->data = *p;
        f->len = (size_t)f->v;
        *p += f->len;
        return true;
    default:
        goto bad;
    }
bad:
    *bad = true;
    return false;
}

/* True when b is a well-formed message. */
static bool
is_message(const uint8_t *b, size_t n) {
    const uint8_t *p = b, *end = b + n;
    wire_field_t f;
    bool bad = false;
    while (next_field(&p, end, &f, &bad))
        ;
    return !bad && n > 0;
}

typedef struct sealed {
    const uint8_t *subject, *nonce, *ct;
    size_t subject_len, nonce_len, ct_len;
} sealed_t;

/* True when b has exactly the shape of a SealedField. */
static bool
as_sealed(const uint8_t *b, size_t n, sealed_t *s) {
    const uint8_t *p = b, *end = b + n;
    wire_field_t f;
    bool bad = false;
    memset(s, 0, sizeof *s);
    while (next_field(&p, end, &f, &bad)) {
        if (f.type != 2 || f.num > 3)
            return false;
        if (f.num == 1) {
            s->subject = f.data;
            s->subject_len = f.len;
        } else if (f.num == 2) {
            s->nonce = f.data;
            s->nonce_len = f.len;
        } else {
            s->ct = f.data;
            s->ct_len = f.len;
        }
    }
    return !bad && s->subject_len == 36 && s->nonce_len == 12 &&
           s->ct_len >= 16;
}

typedef struct walk {
    const char *subject_id;
    const oss_data_key_t *dk;
    oss_sealed_visit_fn fn;
    void *ctx;
    size_t found;
} walk_t;

static void
visit_sealed(walk_t *w, const sealed_t *s) {
    if (w->subject_id && memcmp(s->subject, w->subject_id, 36) != 0)
        return;
    w->found++;
    if (w->dk) {
        for (int i = 0; field_names[i]; i++) {
            char *plain = NULL;
            size_t pl = 0;
            if (oss_open(w->dk, field_names[i], s->nonce, s->ct, s->ct_len,
                         &plain, &pl, NULL) == OSS_OK) {
                if (w->fn)
                    w->fn(w->ctx, field_names[i], plain);
                OPENSSL_cleanse(plain, pl);
                free(plain);
                return;
            }
        }
    }
    if (w->fn)
        w->fn(w->ctx, "?", NULL);
}

static void
walk_message(walk_t *w, const uint8_t *b, size_t n, int depth) {
    const uint8_t *p = b, *end = b + n;
    wire_field_t f;
    bool bad = false;
    while (next_field(&p, end, &f, &bad)) {
        if (f.type != 2 || f.len == 0)
            continue;
        sealed_t s;
        if (as_sealed(f.data, f.len, &s))
            visit_sealed(w, &s);
        else if (depth < 6 && is_message(f.data, f.len))
            walk_message(w, f.data, f.len, depth + 1);
    }
}

size_t
oss_subject_open_fields(const uint8_t *payload, size_t len,
                        const char *subject_id, const oss_data_key_t *dk,
                        oss_sealed_visit_fn fn, void *ctx) {
    walk_t w = {subject_id, dk, fn, ctx, 0};
    if (payload && len)
        walk_message(&w, payload, len, 0);
    return w.found;
}

/* ---- master-key rotation ------------------------------------------------ */

static oss_code_t
exec_ok(PGconn *c, const char *sql, oss_err_t *err) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_fail(c, r, sql, err);
    PQclear(r);
    return OSS_OK;
}

oss_code_t
oss_subject_keys_rewrap(PGconn *c, const oss_keyring_t *master, int batch,
                        int64_t *rewrapped, int64_t *remaining,
                        oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    char lim[16];
    *rewrapped = 0;
    *remaining = 0;
    if (!master || master->n == 0)
        return oss_err_set(err, OSS_EINVAL, "no master key loaded");
    snprintf(lim, sizeof lim, "%d", batch > 0 ? batch : 500);
    const char *cur = master->id[0];
    for (;;) {
        if ((rc = exec_ok(c, "BEGIN", err)) != OSS_OK)
            return rc;
        const char *p[2] = {cur, lim};
        PGresult *r = PQexecParams(c,
                                   "SELECT subject_id::text, master_key_id, "
                                   "wrapped_key FROM oss.subject_keys WHERE "
                                   "master_key_id <> $1 ORDER BY subject_id "
                                   "LIMIT $2::int FOR UPDATE SKIP LOCKED",
                                   2, NULL, p, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = db_fail(c, r, "read subject keys", err);
            goto rollback;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == OSS_OK; i++) {
            char sid[OSS_UUID_STR], kid[17];
            oss_data_key_t dk;
            uint8_t *w = NULL;
            size_t wl = 0;
            char newid[17];
            snprintf(sid, sizeof sid, "%.*s", PQgetlength(r, i, 0),
                     PQgetvalue(r, i, 0));
            int kl = PQgetlength(r, i, 1);
            snprintf(kid, sizeof kid, "%.*s", kl < 16 ? kl : 16,
                     PQgetvalue(r, i, 1));
            rc = oss_data_key_unwrap(master, kid, sid,
                                     (const uint8_t *)PQgetvalue(r, i, 2),
                                     (size_t)PQgetlength(r, i, 2), &dk, err);
            if (rc == OSS_OK)
                rc = oss_data_key_wrap(master, &dk, &w, &wl, newid, err);
            OPENSSL_cleanse(&dk, sizeof dk);
            if (rc != OSS_OK) {
                free(w);
                break;
            }
            char hex[2 * 64 + 1];
            oss_hex_encode(w, wl, hex);
            free(w);
            const char *u[4] = {sid, newid, hex, kid};
            PGresult *ur = PQexecParams(
                c,
                "UPDATE oss.subject_keys SET master_key_id = $2, wrapped_key "
                "= decode($3, 'hex') WHERE subject_id = $1::uuid AND "
                "master_key_id = $4",
                4, NULL, u, NULL, NULL, 0);
            if (PQresultStatus(ur) != PGRES_COMMAND_OK) {
                rc = db_fail(c, ur, "re-wrap a subject key", err);
                break;
            }
            *rewrapped += strtoll(PQcmdTuples(ur), NULL, 10);
            PQclear(ur);
        }
        PQclear(r);
        if (rc != OSS_OK)
            goto rollback;
        if ((rc = exec_ok(c, "COMMIT", err)) != OSS_OK)
            return rc;
        if (n == 0)
            break;
    }
    const char *p[1] = {cur};
    bool ok = true;
    *remaining =
        oss_db_query_int64(c,
                           "SELECT count(*) FROM oss.subject_keys WHERE "
                           "master_key_id <> $1",
                           1, p, &ok);
    if (!ok)
        return oss_err_set(err, OSS_EUNAVAIL, "could not count subject keys");
    return OSS_OK;
rollback : {
    PGresult *r = PQexec(c, "ROLLBACK");
    PQclear(r);
}
    return rc;
}

/* Writes keys[0..n) as a key file replacing path atomically (temporary file
 * 0600, fsync, read back, rename). */
static oss_code_t
keyring_write(const char *path, const uint8_t (*keys)[32], size_t n,
              oss_err_t *err) {
    oss_keyring_t back;
    oss_code_t rc = OSS_OK;
    char tmp[4200];
    char *text = NULL;
    int fd = -1;

    memset(&back, 0, sizeof back);
    if (n == 0 || n > 8)
        return oss_err_set(err, OSS_EINVAL, "a key file holds 1 to 8 keys");
    size_t cap = 512 + 66 * n;
    text = malloc(cap);
    if (!text)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    /* keys only, no comment: other readers (tests, scripts) take the
     * first line as the current key */
    size_t len = 0;
    text[0] = '\0';
    char hex[65];
    for (size_t i = 0; i < n; i++) {
        oss_hex_encode(keys[i], 32, hex);
        len += (size_t)snprintf(text + len, cap - len, "%s\n", hex);
    }
    OPENSSL_cleanse(hex, sizeof hex);
    if (snprintf(tmp, sizeof tmp, "%s.rotate.tmp", path) >= (int)sizeof tmp) {
        rc = oss_err_set(err, OSS_EINVAL, "key file path is too long");
        goto done;
    }
    unlink(tmp); /* a leftover of an interrupted rotation */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = oss_err_set(err, OSS_EIO, "could not create \"%s\": %s", tmp,
                         strerror(errno));
        goto done;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = oss_err_set(err, OSS_EIO, "could not write \"%s\": %s", tmp,
                             strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    int sync_failed = fsync(fd) != 0;
    int close_failed = close(fd) != 0;
    fd = -1;
    if (sync_failed || close_failed) {
        rc = oss_err_set(err, OSS_EIO, "could not sync \"%s\": %s", tmp,
                         strerror(errno));
        goto done;
    }
    /* check what was written before it replaces the old file */
    if ((rc = oss_keyring_load(tmp, &back, err)) != OSS_OK)
        goto done;
    if (back.n != n || memcmp(back.key, keys, 32 * n) != 0) {
        rc = oss_err_set(err, OSS_EINTERNAL,
                         "the new key file did not read back");
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = oss_err_set(err, OSS_EIO, "could not replace \"%s\": %s", path,
                         strerror(errno));
        goto done;
    }
done:
    if (fd >= 0)
        close(fd);
    if (rc != OSS_OK)
        unlink(tmp);
    OPENSSL_cleanse(text, cap);
    free(text);
    OPENSSL_cleanse(&back, sizeof back);
    return rc;
}

oss_code_t
oss_keyring_prepend_new(const char *path, char new_id[17], oss_err_t *err) {
    oss_keyring_t old, ring;
    oss_code_t rc;

    memset(&ring, 0, sizeof ring);
    if ((rc = oss_keyring_load(path, &old, err)) != OSS_OK)
        return rc;
    if (old.n >= 8) {
        rc = oss_err_set(err, OSS_EINVAL,
                         "key file \"%s\" already holds 8 keys: retire old "
                         "keys first (`oss keys retire`)",
                         path);
        goto done;
    }
    if ((rc = oss_random(ring.key[0], 32, err)) != OSS_OK)
        goto done;
    memcpy(ring.key[1], old.key, 32 * old.n);
    if ((rc = keyring_write(path, (const uint8_t(*)[32])ring.key, old.n + 1,
                            err)) != OSS_OK)
        goto done;
    if ((rc = oss_keyring_load(path, &ring, err)) == OSS_OK)
        memcpy(new_id, ring.id[0], 17);
done:
    OPENSSL_cleanse(&old, sizeof old);
    OPENSSL_cleanse(&ring, sizeof ring);
    return rc;
}

oss_code_t
oss_keyring_retire(const char *path, const char *const *keep_ids, size_t nkeep,
                   size_t *retired, oss_err_t *err) {
    oss_keyring_t old, ring;
    oss_code_t rc;
    size_t n = 0;

    *retired = 0;
    memset(&ring, 0, sizeof ring);
    if ((rc = oss_keyring_load(path, &old, err)) != OSS_OK)
        return rc;
    for (size_t i = 0; i < old.n; i++) {
        bool keep = i == 0;
        for (size_t k = 0; k < nkeep && !keep; k++)
            keep = strcmp(old.id[i], keep_ids[k]) == 0;
        if (keep)
            memcpy(ring.key[n++], old.key[i], 32);
    }
    *retired = old.n - n;
    if (*retired)
        rc = keyring_write(path, (const uint8_t(*)[32])ring.key, n, err);
    OPENSSL_cleanse(&old, sizeof old);
    OPENSSL_cleanse(&ring, sizeof ring);
    return rc;
}
