/* Master-key rotation, the use cases (see keys.h). */
#include "app/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/subject.h"
#include "db/db.h"

static oss_code_t
read_failed(PGconn *c, PGresult *r, const char *what, oss_err_t *err) {
    bool lost = oss_db_conn_lost(c, r);
    oss_db_error(c, r, what, err);
    err->code = lost ? OSS_EUNAVAIL : OSS_EINTERNAL;
    PQclear(r);
    return err->code;
}

oss_code_t
oss_app_keys_rotate(PGconn *c, const char *path, bool new_key, int batch,
                    oss_app_keys_rotation_t *out, oss_err_t *err) {
    oss_keyring_t ring;
    oss_code_t rc;

    memset(out, 0, sizeof *out);
    memset(&ring, 0, sizeof ring);
    if (new_key &&
        (rc = oss_keyring_prepend_new(path, out->new_id, err)) != OSS_OK)
        return rc;
    if ((rc = oss_keyring_load(path, &ring, err)) != OSS_OK)
        return rc;
    snprintf(out->current, sizeof out->current, "%s", ring.id[0]);
    rc = oss_subject_keys_rewrap(c, &ring, batch > 0 ? batch : 500,
                                 &out->rewrapped, &out->remaining, err);
    OPENSSL_cleanse(&ring, sizeof ring);
    return rc;
}

oss_code_t
oss_app_keys_retire(PGconn *c, const char *path, size_t *retired,
                    oss_err_t *err) {
    *retired = 0;
    PGresult *r =
        PQexec(c, "SELECT DISTINCT master_key_id FROM oss.subject_keys");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return read_failed(c, r, "could not read oss.subject_keys", err);
    const char *keep[64];
    size_t nk = 0;
    for (int i = 0; i < PQntuples(r) && nk < 64; i++)
        keep[nk++] = PQgetvalue(r, i, 0);
    if (PQntuples(r) > 64) {
        PQclear(r);
        return oss_err_set(err, OSS_EINVAL,
                           "rows are wrapped under more than 64 keys: "
                           "rotate first");
    }
    oss_code_t rc = oss_keyring_retire(path, keep, nk, retired, err);
    PQclear(r);
    return rc;
}

oss_code_t
oss_app_keys_status(PGconn *c, const char *path, oss_app_key_rows_t *out,
                    size_t cap, size_t *n, bool *missing, oss_err_t *err) {
    oss_keyring_t ring;
    oss_code_t rc;

    *n = 0;
    *missing = false;
    memset(&ring, 0, sizeof ring);
    if ((rc = oss_keyring_load(path, &ring, err)) != OSS_OK)
        return rc;
    PGresult *r = PQexec(c, "SELECT master_key_id, count(*) FROM "
                            "oss.subject_keys GROUP BY 1 ORDER BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        OPENSSL_cleanse(&ring, sizeof ring);
        return read_failed(c, r, "could not read oss.subject_keys", err);
    }
    for (size_t k = 0; k < ring.n && *n < cap; k++) {
        oss_app_key_rows_t *e = &out[(*n)++];
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", ring.id[k]);
        e->in_file = true;
        e->current = k == 0;
        for (int i = 0; i < PQntuples(r); i++)
            if (!strcmp(PQgetvalue(r, i, 0), ring.id[k]))
                e->rows = atoll(PQgetvalue(r, i, 1));
    }
    for (int i = 0; i < PQntuples(r); i++) {
        size_t k = 0;
        while (k < ring.n && strcmp(PQgetvalue(r, i, 0), ring.id[k]))
            k++;
        if (k < ring.n)
            continue;
        *missing = true;
        if (*n < cap) {
            oss_app_key_rows_t *e = &out[(*n)++];
            memset(e, 0, sizeof *e);
            snprintf(e->id, sizeof e->id, "%s", PQgetvalue(r, i, 0));
            e->rows = atoll(PQgetvalue(r, i, 1));
        }
    }
    PQclear(r);
    OPENSSL_cleanse(&ring, sizeof ring);
    return OSS_OK;
}
