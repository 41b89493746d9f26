/* Building blocks of a command (app.h): events packed from protobuf
 * messages for a decide(), statements for an extra_fn, and personal fields
 * sealed under a subject's data key. Pure apart from allocation and the
 * sealing primitives; callable from any thread. */
#ifndef OSS_APP_CMD_H
#define OSS_APP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "core/error.h"
#include "core/event.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "oss/v1/account.pb-c.h"

/* Appends to out a new event of type (schema 1) at at_us (0: the journal's
 * clock) carrying msg packed (borrowed) and a copy of reason (NULL: none).
 * OSS_ENOMEM leaves the half-made event in out (freed with the list). */
oss_code_t oss_app_event_push(oss_event_list_t *out, const char *type,
                              const ProtobufCMessage *msg, int64_t at_us,
                              const char *reason, oss_err_t *err);

/* True when cmd was refused for a concurrent append only (OSS_ECONFLICT
 * with neither field nor reason code): deciding again may succeed. */
bool oss_app_cmd_conflicted(const oss_command_t *cmd);

/* Executes the one command cmd on j (borrowed), deciding again when it
 * lost to a concurrent append (oss_app_cmd_conflicted()), at most three
 * attempts; cmd->events, outcome and err are the last attempt's. Returns
 * oss_journal_execute()'s code (OSS_OK: the transaction committed, the
 * command's own result in cmd). */
oss_code_t oss_app_cmd_execute(oss_journal_t *j, oss_command_t *cmd,
                               oss_err_t *err);

/* Zeroes *c and sets what every account-side command has: stream (type
 * "account", borrowed), any version, the actor and the correlation id
 * (borrowed). */
void oss_app_cmd_init(oss_command_t *c, const char *stream,
                      oss_actor_kind_t actor_kind, const char *actor_id,
                      const char *correlation_id);

/* Gives every event of out from index from on a copy of reason, unless it
 * has one. OSS_ENOMEM. */
oss_code_t oss_app_events_reason(oss_event_list_t *out, size_t from,
                                 const char *reason, oss_err_t *err);

/* Queues one parameterised statement (text parameters, borrowed) in a
 * journal transaction's extra_fn: OSS_EUNAVAIL "could not queue statement"
 * when q refuses it. */
oss_code_t oss_app_queue(oss_journal_queue_fn q, void *qctx, const char *sql,
                         int n, const char *const *v, oss_err_t *err);

/* Seals value under dk (borrowed) for field into *sf: nonce and ciphertext
 * are new (caller frees both with free()), sf->subject_id borrows
 * dk->subject_id. */
oss_code_t oss_app_seal_field(const oss_data_key_t *dk, const char *field,
                              const char *value, Oss__V1__SealedField *sf,
                              oss_err_t *err);
/* Opens a field sealed under dk (nonce of nlen bytes, ciphertext ct) into
 * out (cap bytes, NUL-ended, truncated); the plaintext copy is wiped.
 * OSS_ECORRUPT without a 12-byte nonce, else oss_open()'s error. */
oss_code_t oss_app_open_field(const oss_data_key_t *dk, const char *field,
                              const uint8_t *nonce, size_t nlen,
                              const uint8_t *ct, size_t ctlen, char *out,
                              size_t cap, oss_err_t *err);

#endif
