/* A data subject's personal data over PostgreSQL (issue 4, item 7): its data
 * key, every sealed field of an event opened without knowing the event's
 * schema, and master-key rotation (every oss.subject_keys row re-wrapped
 * under the current master key; no event is touched).
 *
 * Used by the API (producers/api/privacy.c), the erasure use case
 * (src/app/erasure.c) and the `oss` CLI (consumers/audit/cmd_subject.c). Every
 * function borrows one PGconn (one per thread); nothing here logs. Plaintext
 * personal data only ever passes through the visit callback of
 * oss_subject_open_fields(). */
#ifndef OSS_CRYPTO_SUBJECT_H
#define OSS_CRYPTO_SUBJECT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/event.h"
#include "crypto/crypto.h"
#include "journal/journal.h"

#define OSS_SUBJECT_STREAM_PREFIX "subject-"
#define OSS_SUBJECT_STREAM_TYPE "account" /* topic oss.account */
#define OSS_SUBJECT_ERASED "oss.v1.SubjectErased"
#define OSS_PERSONAL_DATA_READ "oss.v1.PersonalDataRead"
#define OSS_SUBJECT_MAX_LINKS 16
/* Reason code (oss_err_reason()) of a subject whose data key is gone: its
 * personal data was erased. */
#define OSS_SUBJECT_REASON_ERASED "erased"

/* Reads subject_id's wrapped key and unwraps it with master. OSS_ENOTFOUND
 * when the subject has no key (erased: reason OSS_SUBJECT_REASON_ERASED),
 * OSS_EUNAVAIL on a database error, else the unwrap's error. */
oss_code_t oss_subject_key_load(PGconn *c, const oss_keyring_t *master,
                                const char *subject_id, oss_data_key_t *dk,
                                oss_err_t *err);

/* The data subject of account_id: the subject_id of AccountRegistered on
 * "account-<account_id>". OSS_ENOTFOUND when there is none. */
oss_code_t oss_subject_of_account(PGconn *c, const char *account_id,
                                  char subject_id[OSS_UUID_STR],
                                  oss_err_t *err);
/* The data subject of a principal: oss.principals, else (a first owner
 * registered before principals existed) its account's subject. */
oss_code_t oss_subject_of_principal(PGconn *c, const char *principal_id,
                                    char subject_id[OSS_UUID_STR],
                                    oss_err_t *err);

/* Called for each sealed field found: field is the field's name (the AAD
 * name that opened it, e.g. "nik"), plaintext borrowed and wiped after the
 * call; plaintext NULL when the field belongs to subject but could not be
 * opened (dk NULL or no known field name fits: field is then "?"). */
typedef void (*oss_sealed_visit_fn)(void *ctx, const char *field,
                                    const char *plaintext);

/* Walks a protobuf payload (any message type: the wire format is scanned
 * for embedded oss.v1.SealedField messages, nested ones too) and calls fn
 * for every SealedField whose subject_id is subject_id. Returns how many
 * were found. dk (borrowed, may be NULL) opens them. */
size_t oss_subject_open_fields(const uint8_t *payload, size_t len,
                               const char *subject_id, const oss_data_key_t *dk,
                               oss_sealed_visit_fn fn, void *ctx);

/* ---- master-key rotation ------------------------------------------------ */

/* Re-wraps every oss.subject_keys row not under master->key[0] with that
 * key, in transactions of up to batch rows (SELECT ... FOR UPDATE, unwrap
 * with the old key named by the row, wrap, UPDATE). *rewrapped counts the
 * rows changed, *remaining the rows still under another key afterwards
 * (0 unless a row's key is missing from master: then OSS_ENOTFOUND names
 * it and nothing of that batch is changed). */
oss_code_t oss_subject_keys_rewrap(PGconn *c, const oss_keyring_t *master,
                                   int batch, int64_t *rewrapped,
                                   int64_t *remaining, oss_err_t *err);

/* Writes a new master key file: a new random key first (current), then
 * every key of the old file (kept so that rows still wrapped under them
 * unwrap until re-wrapped), atomically (temporary file 0600 + rename).
 * *new_id receives the new key's id. OSS_EIO / OSS_EINVAL as
 * oss_keyring_load(). */
oss_code_t oss_keyring_prepend_new(const char *path, char new_id[17],
                                   oss_err_t *err);
/* Rewrites the key file without the keys (other than the current, first
 * one) whose id is not in keep_ids[0..nkeep) (borrowed): run after `oss keys
 * rotate` left no row under them. *retired = keys dropped. */
oss_code_t oss_keyring_retire(const char *path, const char *const *keep_ids,
                              size_t nkeep, size_t *retired, oss_err_t *err);

#endif
