/* Internals shared by the projector's files (not for other modules): the
 * batch applier, journal reads, dead-letter inserts, small libpq helpers.
 * Every function runs on the caller's connection, inside the caller's open
 * transaction unless it says otherwise. Single-threaded. */
#ifndef OSS_PROJECTOR_INT_H
#define OSS_PROJECTOR_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "core/event.h"
#include "crypto/crypto.h"
#include "journal/scan.h"

/* Advisory lock keys (two-int form, second = hashtext(schema)): one running
 * projector per schema (session lock), and batches versus the rebuild's swap
 * (transaction lock: batches shared, swap exclusive). */
#define PJ_LOCK_RUN 7302
#define PJ_LOCK_SWAP 7303

#define PJ_SCHEMA_MAX 64

/* One unit of work: a decoded event (has_ev) and, when it came from Kafka,
 * the raw message for dead letters. Strings/buffers marked borrowed belong to
 * the Kafka message, which outlives the batch. */
typedef struct pj_item {
    oss_event_t ev; /* owned; valid when has_ev */
    int has_ev;
    const char *topic; /* borrowed; NULL when from the journal */
    int32_t partition;
    int64_t offset;  /* -1 when from the journal */
    const void *key; /* borrowed */
    size_t klen;
    const void *val; /* borrowed */
    size_t vlen;
    char *headers_json;  /* owned, may be NULL */
    const char *dl_kind; /* static; non-NULL: dead-letter, do not apply */
    char dl_reason[OSS_ERR_MSG_MAX];
} pj_item_t;

/* Frees what an item owns. */
void pj_item_clear(pj_item_t *it);

/* Where the applier writes. */
typedef struct pj_ctx {
    PGconn *conn;               /* borrowed */
    char schema[PJ_SCHEMA_MAX]; /* validated identifier: [a-z0-9_] */
    const char *name;           /* projector.name, borrowed */
    int force;                  /* redrive: apply even if already applied
                                   (a later version: gap first, as usual) */
    int redrive;                /* an applier failure fails the call
                                   (OSS_EINVAL) instead of dead-lettering */
    int64_t applied;            /* counters, cumulative */
    int64_t skipped;
    int64_t gaps_filled;
    int64_t dead;
} pj_ctx_t;

/* Checks that s is a plain lower-case identifier usable as a schema name. */
oss_code_t pj_check_schema(const char *s, oss_err_t *err);

/* Clears *c and fills schema and name from cfg (borrowed; c->name points
 * into it); OSS_EINVAL when projector.schema is not an identifier or
 * projector.name is empty. Leaves c->conn NULL. (ctx.c) */
oss_code_t pj_ctx_init(const oss_config_t *cfg, pj_ctx_t *c, oss_err_t *err);

/* Applies items[0..n) (those with has_ev and no dl_kind) in order, inside the
 * open transaction: skips versions already applied, fills a gap from the
 * journal (per stream) before applying, dead-letters (kind "apply") an event
 * its applier cannot decode (marking its version applied so that the stream
 * goes on), and records the applied versions. Returns OSS_EUNAVAIL when the
 * connection broke, another code when SQL failed (the caller rolls back). */
oss_code_t pj_apply(pj_ctx_t *c, pj_item_t *items, size_t n, oss_err_t *err);

/* Applies items[0..n) one at a time, each in its own savepoint inside the
 * open transaction (the fallback after pj_apply() failed for a whole batch).
 * An item whose application fails (other than OSS_EUNAVAIL) is rolled back
 * to its savepoint and dead-lettered (kind "apply"); see apply.c for when its
 * version is marked applied. Returns OSS_EUNAVAIL when the connection broke,
 * another code when SQL outside an item failed (the caller rolls back). */
oss_code_t pj_apply_each(pj_ctx_t *c, pj_item_t *items, size_t n,
                         oss_err_t *err);

/* Marks (stream_id, version) applied without read-model changes. */
oss_code_t pj_mark_applied(pj_ctx_t *c, const char *stream_id, int64_t version,
                           oss_err_t *err);

/* Inserts a dead letter for it (kind, reason) as consumer c->name. */
oss_code_t pj_dead_letter(pj_ctx_t *c, const pj_item_t *it, const char *kind,
                          const char *reason, oss_err_t *err);

/* One journal catch-up chunk in its own transaction: reads up to `chunk`
 * events after the schema's cursor for c->name below the commit horizon
 * (oss_journal_scan() in commit order), applies them and moves the cursor.
 * *nread = events read (0: caught up). Flags: PJ_CHUNK_LOCK_SWAP takes the swap
 * lock first (live schemas); PJ_CHUNK_IN_TX runs inside the caller's
 * transaction (no BEGIN/COMMIT). */
#define PJ_CHUNK_LOCK_SWAP 1
#define PJ_CHUNK_IN_TX 2
oss_code_t pj_journal_chunk(pj_ctx_t *c, int chunk, int flags, int64_t *nread,
                            oss_err_t *err);

/* The rows of one journal chunk, read apart from their application (the
 * rebuild reads the next chunk on another connection while it applies this
 * one). items[0..n) owned; read = n plus the malformed rows skipped; last =
 * the cursor after the chunk (the cursor read from when read == 0). */
typedef struct pj_chunk {
    pj_item_t *items;
    int n, cap, read;
    oss_journal_cursor_t last;
} pj_chunk_t;

/* Reads up to `chunk` events after `after`, below the commit horizon, in
 * commit order, on conn (no transaction needed: one statement). */
oss_code_t pj_chunk_read(PGconn *conn, const oss_journal_cursor_t *after,
                         int chunk, pj_chunk_t *out, oss_err_t *err);
/* Applies ch and moves c->name's cursor past it, in its own transaction. */
oss_code_t pj_chunk_apply(pj_ctx_t *c, const pj_chunk_t *ch, oss_err_t *err);
void pj_chunk_free(pj_chunk_t *ch);

/* The set-based writes of one batch (batch.c): rows gathered per table,
 * merged per key in stream order, written in one statement per table by
 * pj_batch_flush(). Owned json objects (key -> row). */
typedef struct pj_batch {
    json_t *accounts;         /* account_id -> AccountRegistered row */
    json_t *account_updates;  /* account_id -> terms / legacy id */
    json_t *principal_status; /* principal_id -> pending/active/locked */
    json_t *principal_touch;  /* principal_id -> password set / signed in */
    json_t *deliveries;       /* "<event>\t<channel>" -> queued + outcome */
} pj_batch_t;

/* One delivery event's fields (all borrowed). */
typedef struct pj_dlv {
    const char *event_id; /* the trigger event: the event's causation */
    const char *channel, *account_id;
    const char *kind, *trigger_type; /* DeliveryQueued */
    const char *state;               /* outcomes: handed/failed/retrying */
    int64_t attempt, reply_code, next_attempt_us;
    const char *reply_text, *reason;
    int permanent;
    int64_t at_us, version;
} pj_dlv_t;

oss_code_t pj_batch_init(pj_batch_t *b, oss_err_t *err);
void pj_batch_free(pj_batch_t *b);
/* Writes every gathered row (one statement per non-empty table, in the
 * fixed order of batch.c) and empties the buffers; an SQL error is
 * returned (the caller rolls back). */
oss_code_t pj_batch_flush(pj_ctx_t *c, pj_batch_t *b, oss_err_t *err);
/* Adders: 0, or -1 when a value cannot be stored (text that is not UTF-8,
 * out of memory; the caller dead-letters the event). NULL terms_version /
 * legacy_id: that field unchanged. password: 1 PasswordSet, 0 SignIn. */
int pj_batch_account_update(pj_batch_t *b, const char *account_id,
                            const char *terms_version, const char *legacy_id,
                            int64_t version);
int pj_batch_principal_status(pj_batch_t *b, const char *principal_id,
                              const char *status, int64_t at_us,
                              int64_t version);
int pj_batch_principal_touch(pj_batch_t *b, const char *principal_id,
                             int password, int64_t at_us, int64_t version);
int pj_batch_dlv_outcome(pj_batch_t *b, const pj_dlv_t *d);
/* May flush the batch first (an outcome of the same delivery is pending):
 * an SQL error is returned; *bad = 1 when the row cannot be stored. */
oss_code_t pj_batch_dlv_queued(pj_ctx_t *c, pj_batch_t *b, const pj_dlv_t *d,
                               int *bad, oss_err_t *err);

/* The issue-4 appliers (apply_access.c): lifecycle, access, principal,
 * recovery, privacy and delivery events -> status, members, hand-over
 * requests, officers, principals, delivery_status, erasure. The frequent
 * types add rows to b; every other type flushes b and runs its statement at
 * once on c->conn inside the open transaction. Returns OSS_OK with *handled
 * = 1 when ev is one of its types (0: not its type, nothing done) and
 * reason[0] != '\0' when the payload cannot be applied (the caller
 * dead-letters it); another code when SQL failed. */
oss_code_t pj_apply_access(pj_ctx_t *c, pj_batch_t *b, const oss_event_t *ev,
                           int *handled, char *reason, size_t rlen,
                           oss_err_t *err);
/* 1 when pj_apply_access() has an applier for payload_type, else 0. */
int pj_access_known(const char *payload_type);
/* 1 when payload_type is one of the batched types. Their rows are those of
 * their stream's id (account-X, access-X and delivery-X all write the rows
 * of X) and, for a credential status, the accounts its principal owns: so
 * events of these types (and AccountRegistered) from streams of different
 * ids commute and may be applied in parallel transactions (the rebuild
 * does; two such transactions can at worst wait for, or deadlock on, an
 * account row a principal owns after a hand-over, and the deadlock is
 * retried). Every other type reads rows of other ids and is applied alone. */
int pj_access_batched(const char *payload_type);

/* libpq helpers. pj_exec: runs sql with text params; returns the result
 * (caller PQclear()s) or NULL with *err set (OSS_EUNAVAIL when the connection
 * is gone). */
PGresult *pj_exec(PGconn *conn, const char *sql, int nparams,
                  const char *const *params, oss_err_t *err);
/* Runs a command with no result rows; OSS_OK or the error. */
oss_code_t pj_cmd(PGconn *conn, const char *sql, int nparams,
                  const char *const *params, oss_err_t *err);
/* Connects; OSS_EUNAVAIL on failure. Caller PQfinish()es. */
oss_code_t pj_connect(const char *url, PGconn **out, oss_err_t *err);
/* Best-effort ROLLBACK. */
void pj_rollback(PGconn *conn);

#endif
