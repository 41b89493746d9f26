/* The audit tools behind `oss audit ...`: read the journal (libpq, app role),
 * verify each stream's hash chain by recomputing every row's hash from its
 * content (core/event.h canonical layout + SHA-256), print a stream's history
 * with personal fields masked, and compute / check a journal checkpoint.
 *
 * Checkpoint (`SIZE:DIGEST`): SIZE is the largest journal position covered;
 * DIGEST is the hex of d_n where d_0 = 32 zero bytes and
 *   d_i = SHA-256(d_{i-1} || position_i (8 bytes big-endian) || stored
 *                 hash_i || hash recomputed from row i's content)
 * over every row with position <= SIZE in position order. Recorded outside
 * the database, it catches a superuser who changes, deletes or re-chains
 * anything up to SIZE (a per-stream chain cannot see a deleted tail or a
 * recomputed chain). Rows already broken when the checkpoint is taken are
 * counted (and `oss audit verify` names them) but do not prevent it.
 * Before reading, a checkpoint waits until no transaction that could still
 * commit a row at or below SIZE is running (positions are assigned at insert,
 * transactions commit in any order).
 *
 * Reads run in chunks of short autocommit queries: nothing here holds a
 * transaction open (the relay's commit horizon is cluster-wide).
 * Thread-safety: none needed (one PGconn per caller). */
#ifndef OSS_AUDIT_H
#define OSS_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

#include "core/error.h"
#include "core/event.h"
#include "crypto/crypto.h"

/* The first broken event found by a verification. */
typedef struct oss_audit_break {
    char stream_id[OSS_ID_MAX];
    int64_t version;
    int64_t position;
    char event_id[OSS_UUID_STR];
    char what[200];
} oss_audit_break_t;

typedef struct oss_audit_checkpoint {
    int64_t size;   /* largest position covered */
    int64_t events; /* rows covered (informational, not in the text) */
    int64_t broken; /* of which already failing their hash (same) */
    uint8_t digest[32];
} oss_audit_checkpoint_t;

/* Checks ev against its predecessor prev in the same stream (NULL when ev
 * should be version 1): version continuity, prev_hash link, and ev->hash
 * equal to the hash recomputed from ev's content. Returns 1 when sound; else
 * 0 with a reason written into what (lower case, no personal data). */
int oss_audit_check_link(const oss_event_t *prev, const oss_event_t *ev,
                         char *what, size_t whatlen);

/* Recomputes the hash of ev from its content into out. */
void oss_audit_rehash(const oss_event_t *ev, uint8_t out[32]);

/* One step of the checkpoint digest chain (see above). */
void oss_audit_digest_step(uint8_t d[32], int64_t position,
                           const uint8_t hash[32], const uint8_t rehash[32]);

/* "SIZE:HEXDIGEST" into out (at least 96 bytes). */
void oss_audit_checkpoint_format(const oss_audit_checkpoint_t *cp, char *out,
                                 size_t outlen);
/* Parses "SIZE:HEXDIGEST"; OSS_EINVAL when malformed. */
oss_code_t oss_audit_checkpoint_parse(const char *s, oss_audit_checkpoint_t *cp,
                                      oss_err_t *err);

/* Loads every event of stream_id in version order (appended to *out, which
 * owns them; positions filled). Borrows conn. */
oss_code_t oss_audit_load_stream(PGconn *conn, const char *stream_id,
                                 oss_event_list_t *out, oss_err_t *err);

/* Verifies one stream (nevents = rows seen) or, with stream_id NULL, every
 * stream (nstreams too; either count pointer may be NULL). OSS_OK when sound;
 * OSS_ECORRUPT with *brk naming the first broken event; OSS_ENOTFOUND when a
 * named stream has no event; OSS_EUNAVAIL on database errors. */
oss_code_t oss_audit_verify(PGconn *conn, const char *stream_id,
                            int64_t *nstreams, int64_t *nevents,
                            oss_audit_break_t *brk, oss_err_t *err);

/* Same, but with report (borrowed) not NULL it does not stop at the first
 * break: every broken event is printed to report ("BROKEN stream=...
 * version=... event=... position=...: why") and counted in *nbreaks (may be
 * NULL); *brk and err describe the first. */
oss_code_t oss_audit_verify_all_breaks(PGconn *conn, const char *stream_id,
                                       FILE *report, int64_t *nbreaks,
                                       int64_t *nstreams, int64_t *nevents,
                                       oss_audit_break_t *brk, oss_err_t *err);

/* Computes a checkpoint of the journal as it is now, waiting at most
 * wait_ms for in-flight transactions (OSS_EUNAVAIL when they outlast it).
 * Rows whose hash does not match their content are counted in cp->broken,
 * the first one named in *brk (zeroed when none). */
oss_code_t oss_audit_checkpoint(PGconn *conn, int wait_ms,
                                oss_audit_checkpoint_t *cp,
                                oss_audit_break_t *brk, oss_err_t *err);

/* Recomputes the digest over rows up to cp->size and compares: OSS_OK when
 * equal; OSS_ECORRUPT otherwise (brk->what says so; no single event can be
 * named from a digest: run `oss audit verify` for the per-stream check). */
oss_code_t oss_audit_verify_against(PGconn *conn,
                                    const oss_audit_checkpoint_t *cp,
                                    oss_audit_break_t *brk, oss_err_t *err);

/* Masks a revealed personal value for display: kind "nik" keeps the first
 * and last 4 digits (3171********9901), "email" the first character of the
 * local part and the domain, "phone" the first 3 and last 4 characters,
 * "birth_date" the year, "name" the first letter of each word. out gets at
 * most outlen-1 bytes. */
void oss_audit_mask(const char *kind, const char *value, char *out,
                    size_t outlen);

/* Revealing personal fields in a history: the master key, and the hook
 * that records each subject's read BEFORE the first of its fields is
 * unsealed (the console appends a PersonalDataRead, as the API does: no
 * log, no data). A subject whose read could not be recorded prints
 * "[sealed: read not recorded]" and counts in unrecorded. */
typedef oss_code_t (*oss_audit_record_fn)(void *ctx, const char *subject_id,
                                          oss_err_t *err);
typedef struct oss_audit_reveal {
    const oss_keyring_t *master; /* borrowed */
    oss_audit_record_fn record;  /* may be NULL: nothing recorded */
    void *record_ctx;
    size_t unrecorded;    /* out: subjects left sealed (record failed) */
    oss_err_t record_err; /* out: the first such failure */
} oss_audit_reveal_t;

/* Prints stream_id's history to out. For "account-<id>" that is the
 * account's story (oss_audit_story()). Any other stream: one block per
 * event (time, actor kind:id, payload type, version, summary). Personal fields
 * print as
 * "[sealed]" unless reveal (borrowed, may be NULL) is given: then they are
 * unsealed with the subject's data key, each subject's read recorded first
 * (see oss_audit_reveal_t), and printed masked ("[shredded]" when the key
 * is gone). Then verifies the chain: OSS_ECORRUPT with *brk on a
 * break (the history is printed anyway), OSS_ENOTFOUND for an unknown
 * stream. */
oss_code_t oss_audit_history(PGconn *conn, const char *stream_id, FILE *out,
                             oss_audit_reveal_t *reveal, oss_audit_break_t *brk,
                             oss_err_t *err);

/* ---- the account's story (`oss audit history account-<id>`) ---- */

/* How a sealed field prints: called with the field's name and its decoded
 * SealedField message (subject_id, nonce, ciphertext); writes the text to
 * show ("[sealed]", "[erased]" or a masked value) into out. */
typedef void (*oss_audit_seal_fn)(void *ctx, const char *field,
                                  const ProtobufCMessage *sealed, char *out,
                                  size_t outlen);

/* Writes what ev says happened, in words, into out (one line, no newline):
 * hand-written wording for the important types, else the type in words and
 * every non-default field, decoded generically through the generated
 * descriptor of its payload type (oss/v1/registry.h). Sealed fields print
 * through seal (NULL: "[sealed]"). delivery_kind (may be NULL) names the
 * message a delivery outcome is about ("activation", from its
 * DeliveryQueued). Pure apart from seal. */
void oss_audit_describe(const oss_event_t *ev, oss_audit_seal_fn seal,
                        void *seal_ctx, const char *delivery_kind, char *out,
                        size_t outlen);

/* Prints the story of account_id (the account stream, the access streams of
 * its owner and of every principal named in its events, its delivery
 * stream and its subject's stream) merged in time order, one line per
 * event: time (UTC), actor kind:id, what happened, reason, and the event's
 * reference (stream, version, type, id); then every stream's chain verdict.
 * reveal as for oss_audit_history(). OSS_ENOTFOUND when the account stream
 * has no event; OSS_ECORRUPT (with *brk) when a chain is broken. */
oss_code_t oss_audit_story(PGconn *conn, const char *account_id, FILE *out,
                           oss_audit_reveal_t *reveal, oss_audit_break_t *brk,
                           oss_err_t *err);

/* Reads the wrapped data key of subject_id from oss.subject_keys and unwraps
 * it with master. OSS_ENOTFOUND when the subject was shredded (no row). */
oss_code_t oss_audit_subject_key(PGconn *conn, const oss_keyring_t *master,
                                 const char *subject_id, oss_data_key_t *dk,
                                 oss_err_t *err);

#endif
