/* The journal: the PostgreSQL store of record (table oss.journal, see
 * infra/sql/001_journal.sql and README.md here for the hash-chain layout).
 *
 * Writing: oss_journal_execute() runs a batch of commands in ONE transaction
 * (group commit). Order inside the transaction is fixed and is what keeps the
 * relay's (xid, position) order consistent with stream order:
 *   1. SELECT every stream every command decides on (no write before this:
 *      the transaction id is assigned at the first write);
 *   2. call each command's decide() against its folded history (commands on
 *      the same stream in one batch see the events of the earlier ones);
 *   3. INSERT the events (hash chained), then identity claims, then the
 *      idempotency rows, each command inside its own SAVEPOINT so that one
 *      command's conflict or duplicate does not fail the others;
 *   4. COMMIT; then one pg_notify('oss_journal') in a transaction of its own.
 * (The batched path, without savepoints and with one INSERT per table, and
 * batches of new streams that need no reads: src/journal/README.md.)
 * A command whose idempotency key was already used gets its first result
 * back (OSS_JOURNAL_REPLAYED) without new events.
 *
 * Thread-safety: one oss_journal_t per thread (it wraps one PGconn). */
#ifndef OSS_JOURNAL_H
#define OSS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/event.h"

typedef struct oss_journal oss_journal_t;

/* Connects with conninfo (borrowed). Returns new, caller frees with
 * oss_journal_free(). OSS_EUNAVAIL (retriable) when PostgreSQL is down. */
oss_code_t oss_journal_open(const char *conninfo, oss_journal_t **out,
                            oss_err_t *err);
void oss_journal_free(oss_journal_t *j);
/* Whether execute locks each idempotency key of a batch before its reads
 * (default true: a retry whose first attempt is still in flight waits for
 * it and answers from it). Off, a race on a key is still settled, by
 * re-reading the key after the uniqueness conflict it causes: a writer of
 * an older build behaves so, and the tests of that path switch it off. */
void oss_journal_set_key_lock(oss_journal_t *j, bool on);
/* Reconnects if the connection broke; OSS_EUNAVAIL while down. */
oss_code_t oss_journal_ping(oss_journal_t *j, oss_err_t *err);

/* Loads every event of stream_id in version order into *out (appended; the
 * list owns them). An unknown stream yields an empty list. */
oss_code_t oss_journal_load(oss_journal_t *j, const char *stream_id,
                            oss_event_list_t *out, oss_err_t *err);

/* A uniqueness claim over personal data: (kind, keyed-hash digest). A second
 * claim of the same (kind, digest) makes the command fail OSS_EDUPLICATE
 * with err.field = field. */
typedef struct oss_claim {
    const char *kind;  /* "nik", "passport", ... */
    const char *field; /* request field to name in the error */
    uint8_t digest[32];
    char subject_id[OSS_UUID_STR]; /* may be "" */
} oss_claim_t;

/* decide(): pure. Given the stream's history (version order) and ctx, append
 * new events to `out` (fill payload_type, schema_version, payload, and
 * optionally occurred_at_us/reason; the journal fills event_id, stream ids,
 * version, recorded_at, actor/correlation from the command, hashes). Return
 * OSS_OK, or an error (OSS_EINVAL, OSS_ECONFLICT, OSS_EDUPLICATE...) that
 * rejects this command only. */
typedef oss_code_t (*oss_decide_fn)(void *ctx, const oss_event_t *history,
                                    size_t n, oss_event_list_t *out,
                                    oss_err_t *err);

typedef enum oss_journal_outcome {
    OSS_JOURNAL_APPENDED = 0, /* new events written */
    OSS_JOURNAL_REPLAYED,     /* idempotency key seen: first result returned */
    OSS_JOURNAL_REJECTED      /* decide() or a claim or a conflict said no */
} oss_journal_outcome_t;

/* Queues one statement of a command's extra_fn in the append transaction
 * (values are copied before it returns; formats: 0 text, 1 binary; lengths
 * only for binary). Returns 0, or -1 when it could not be queued. */
typedef int (*oss_journal_queue_fn)(void *qctx, const char *sql, int nparams,
                                    const char *const *values,
                                    const int *lengths, const int *formats);

typedef struct oss_command {
    /* inputs, all borrowed until oss_journal_execute() returns */
    const char *stream_id;
    const char *stream_type;  /* "account" */
    int64_t expected_version; /* -1 = any; 0 = stream must be new */
    oss_actor_kind_t actor_kind;
    const char *actor_id;
    const char *correlation_id;
    const char *causation_id;    /* may be NULL */
    const char *cause_id;        /* may be NULL */
    const char *idempotency_key; /* may be NULL */
    const uint8_t *request_hash; /* 32 bytes when idempotency_key set */
    oss_decide_fn decide;
    void *ctx;
    const oss_claim_t *claims;
    size_t nclaims;
    /* the response to remember for the idempotency key (borrowed); set
     * response_fn to build it after the append, when it depends on the
     * versions: it returns a new string the journal frees. */
    int response_status;
    char *(*response_fn)(void *ctx, const struct oss_command *cmd);
    /* optional (NULL = none): state kept outside the journal but written
     * with the command's events (credentials, sessions, secrets). Called
     * once per plan with cmd->events filled (event ids and versions final);
     * each statement it queues with q(qctx, ...) runs inside the command's
     * SAVEPOINT after its events and claims, before its idempotency row.
     * Must be pure apart from queuing (a plan may be redone after a
     * conflict or a retried transaction). A statement that fails fails the
     * whole transaction (OSS_EUNAVAIL / the SQL error), never silently; an
     * error returned by extra_fn (out of memory) does too. */
    oss_code_t (*extra_fn)(void *ctx, const struct oss_command *cmd,
                           oss_journal_queue_fn q, void *qctx, oss_err_t *err);

    /* outputs */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED */
    int64_t first_version, last_version;
    oss_event_list_t events; /* appended events (with positions);
                                caller frees with
                                oss_event_list_free() */
    int replay_status;       /* when REPLAYED: first status */
    char *replay_response;   /* when REPLAYED: new, caller frees */
} oss_command_t;

/* Runs cmds[0..n) in one transaction as described above. Returns OSS_OK when
 * the transaction committed (each command's own outcome is in cmd->outcome),
 * or OSS_EUNAVAIL when PostgreSQL could not be reached or the commit failed
 * (then no command took effect; retriable). */
oss_code_t oss_journal_execute(oss_journal_t *j, oss_command_t *cmds, size_t n,
                               oss_err_t *err);

/* Computes ev->hash from the canonical layout (core/event.h) and
 * ev->prev_hash. */
void oss_journal_hash(oss_event_t *ev);

/* Verifies the hash chain of one stream: OSS_OK, or OSS_ECORRUPT naming the
 * first broken version in err->msg and setting *bad_version. */
oss_code_t oss_journal_verify_stream(oss_journal_t *j, const char *stream_id,
                                     int64_t *bad_version, oss_err_t *err);

/* The underlying PGconn, borrowed (for modules sharing the connection). */
struct pg_conn *oss_journal_conn(oss_journal_t *j);

#endif
