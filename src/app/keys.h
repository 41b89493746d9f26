/* Master-key rotation, the use cases behind `oss keys rotate | retire |
 * status`: a new master key at the top of crypto.master_key_file, every
 * subject's data key re-wrapped under it, old keys dropped once no row is
 * wrapped under them, and the rows per key id. The key file's format and
 * the re-wrapping are src/crypto (subject.h); this file decides the order
 * and reads oss.subject_keys. No journal event is read or written: sealed
 * fields stay as they are, only the wrapping of their data keys changes.
 *
 * Every function runs on the caller's connection c (borrowed; bulk work:
 * the caller sets oss_db_set_bulk() first) and never logs a key. */
#ifndef OSS_APP_KEYS_H
#define OSS_APP_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "crypto/crypto.h"

typedef struct oss_app_keys_rotation {
    char new_id[17];   /* "" when no new key was written */
    char current[17];  /* the key everything is wrapped under now */
    int64_t rewrapped; /* rows re-wrapped (also when an error stopped it) */
    int64_t remaining; /* rows still under another key */
} oss_app_keys_rotation_t;

/* Writes a new current key to path (unless new_key is false: after
 * restarting programs that wrapped new subjects under the old key), then
 * re-wraps every row under the current key in transactions of batch rows.
 * OSS_ENOTFOUND when a row's key is missing from the file; OSS_EIO /
 * OSS_EINVAL for the file; OSS_EUNAVAIL. */
oss_code_t oss_app_keys_rotate(PGconn *c, const char *path, bool new_key,
                               int batch, oss_app_keys_rotation_t *out,
                               oss_err_t *err);

/* Drops from path every old key no oss.subject_keys row is wrapped under;
 * *retired = keys dropped. */
oss_code_t oss_app_keys_retire(PGconn *c, const char *path, size_t *retired,
                               oss_err_t *err);

/* One key id and the rows wrapped under it. */
typedef struct oss_app_key_rows {
    char id[17];
    bool in_file; /* false: rows under a key the file no longer has */
    bool current; /* the file's first key */
    long long rows;
} oss_app_key_rows_t;

/* The file's keys (current first) with their row counts, then every key
 * id rows name that the file lacks; at most cap entries in out, *n set.
 * *missing: some rows cannot be unwrapped with this file. */
oss_code_t oss_app_keys_status(PGconn *c, const char *path,
                               oss_app_key_rows_t *out, size_t cap, size_t *n,
                               bool *missing, oss_err_t *err);

#endif
