/* Internals of the notifier shared by its files (see README.md for the
 * file list). Calls point down only:
 *   notifier.c (the loop) -> consume.c (Kafka), sweep.c (journal sweep),
 *     notices.c (poll), ledger.c (purge), pg.c
 *   consume.c, sweep.c -> batch.c (triage, process) -> notices.c,
 *     deliver.c (one message, every attempt) -> build.c (message texts),
 *     channel_email.c, channel_whatsapp.c, ledger.c, record.c (outcome
 *     events), job.c
 *   build.c -> contacts.c (data keys, contacts)
 *   every file -> pg.c (session, lock, queries)
 * The journal is read only through src/journal (scan.h: the sweep and the
 * notice poll; reads.h: contacts). Threads: the loop (Kafka, the sweep,
 * the polls, triage) runs in the thread of oss_notifier_run(); deliveries
 * run in the senders of pool.c, each with a notifier_t of its own (its own
 * sessions; `main` points at the loop's). */
#ifndef OSS_NOTIFIER_INT_H
#define OSS_NOTIFIER_INT_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bus/consumer.h"
#include "core/event.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "journal/reads.h"
#include "journal/scan.h"
#include "notifier.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"

#define NT_MAX_PARTS 256
#define NT_MAX_STMTS 48
#define NT_CONSUMER_NAME "notifier"
/* pg_advisory_lock key electing the one active notifier (the relay uses
 * relay.lock_key, 7301 by default). */
#define NT_LOCK_KEY "7302"
#define NT_ACCOUNT_REGISTERED "oss.v1.AccountRegistered"
#define NT_ACTIVATION_ISSUED "oss.v1.ActivationIssued"
/* The kind of targeted notice a person waits for (a reset link that
 * expires): polled and sent ahead of bulk mail, as activation codes are. */
#define NT_WAITED_NOTICE "password_reset"

typedef struct nt_pool nt_pool_t;
typedef struct nt_commit nt_commit_t;

typedef struct notifier {
    const oss_config_t *cfg;
    struct notifier *main; /* a sender's: the loop's notifier; NULL there */
    nt_pool_t *pool;       /* the loop's senders (pool.c) */
    nt_commit_t *commit;   /* the loop's: the senders' shared outcome
                              commits (record.c); NULL: each alone */
    int64_t last_notice_poll;
    volatile sig_atomic_t *stop;
    oss_keyring_t master, bus;
    PGconn *pg;
    oss_journal_t *journal; /* outcome events, account streams */
    CURL *curl;
    oss_bus_consumer_t *consumer; /* src/bus/consumer.c */
    char topic[256];
    char cluster_id[128]; /* of the positions in next[] */
    int nparts;
    int64_t next[NT_MAX_PARTS]; /* next offset to store; -1 = nothing new */
    int dirty;
    atomic_int locked; /* holds the advisory lock on n->pg */
    /* statements prepared on pg (pg.c): the SQL text pointers of the
     * callers' literals, statement i named "nt<i>" */
    const PGconn *stmt_conn;
    const char *stmt_sql[NT_MAX_STMTS];
    int nstmts;
    oss_journal_cursor_t sweep_cur; /* the journal sweep's cursor */
    int sweep_again; /* the last sweep stopped at its budget, or the
                        consumer asked for a catch-up */
    char from_addr[320];
    int64_t sent, skipped, rejected;
} notifier_t;

/* Whether this instance is the active one (its loop holds the lock). */
static inline int
nt_active(const notifier_t *n) {
    return atomic_load(&(n->main ? n->main : n)->locked);
}

/* ---- pg.c: the session, its lock, queries ---- */

/* Sleeps up to ms, waking early when asked to stop. */
void nt_nap(notifier_t *n, int64_t ms);
/* (Re)connects n->pg through src/db when it is not usable (dropping the
 * lock flag). OSS_EUNAVAIL when PostgreSQL cannot be reached. */
oss_code_t nt_pg_ensure(notifier_t *n, oss_err_t *err);
/* Runs sql (a string literal: statements are prepared once per session,
 * keyed by the text's address; parsing and planning every message's
 * queries again was most of PostgreSQL's work); on success returns the
 * result (caller PQclear()s), else NULL with err set. */
PGresult *nt_pg_exec(notifier_t *n, const char *sql, int nparams,
                     const char *const *params, int binary, oss_err_t *err);
/* Checks r, a result of a query run on n->pg (a named read of
 * src/journal/reads.h, say): returns it when it holds rows or a command's
 * status, else clears it and returns NULL with err set (OSS_EUNAVAIL). */
PGresult *nt_pg_result(PGresult *r, oss_err_t *err);
/* nt_pg_exec() without rows; OSS_EUNAVAIL on failure. */
oss_code_t nt_pg_cmd(notifier_t *n, const char *sql, int nparams,
                     const char *const *params, oss_err_t *err);
/* Takes the advisory lock that makes this the one active notifier (two
 * sending the same 'sending' row at once would send it twice); 1 held. */
int nt_try_lock(notifier_t *n);

/* Columns of nt_notices_query() rows (oss.deliveries only). */
enum {
    NT_NOTICE_DELIVERY_ID = 0,
    NT_NOTICE_EVENT_ID,
    NT_NOTICE_STREAM_ID,
    NT_NOTICE_SUBJECT_ID,
    NT_NOTICE_CHANNEL,
    NT_NOTICE_KIND,
    NT_NOTICE_ACCOUNT_ID,
    NT_NOTICE_SEALED_HEX,
    NT_NOTICE_EXPIRED
};

/* ---- job.c: what an event asks for ---- */

/* A targeted notice: one oss.deliveries row (infra/sql/055_notices.sql)
 * of an event, borrowed from the query result that found it. */
typedef struct notice_row {
    const char *delivery_id;
    const char *subject_id;
    const char *channel;
    const char *kind;
    const char *account_id; /* "" when the row names none */
    const char *sealed_hex;
    int expired;
} notice_row_t;

/* One message to deliver: what the event asks for. */
typedef struct job {
    const oss_event_t *ev;
    const char *what; /* "registration" | "activation" |
                         a notice's kind */
    char channel[16];
    char account_id[OSS_ID_MAX];     /* the account (or principal) the
                                        event is about */
    char out_account[OSS_ID_MAX];    /* "delivery-<out_account>" gets the
                                        outcomes; "" = none */
    const char *lid;                 /* ledger key: event or delivery id */
    Oss__V1__AccountRegistered *reg; /* registration */
    Oss__V1__ActivationIssued *act;  /* activation */
    const notice_row_t *notice;      /* targeted notice */
} job_t;

/* A new uuid[] literal ("{a,b}") of the well-formed event ids of
 * evs[0..k) (caller frees); NULL when out of memory. */
char *nt_uuid_array(const oss_event_t *evs, size_t k);
/* Fills j from ev (borrowed, and nr, a notice of ev, may be NULL); 0, or
 * -1 when the event is malformed. Clear with nt_job_clear() either way. */
int nt_job_init(job_t *j, const oss_event_t *ev, const notice_row_t *nr);
void nt_job_clear(job_t *j);
/* The delivery stream of a principal's message (see job.c). OSS_EUNAVAIL
 * when PostgreSQL failed. */
oss_code_t nt_job_resolve(notifier_t *n, job_t *j, oss_err_t *err);

/* ---- contacts.c: data keys, sealed fields, contacts ---- */

/* The subject's data key into *dk (caller wipes): OSS_ENOTFOUND when
 * shredded, OSS_EUNAVAIL when PostgreSQL failed. */
oss_code_t nt_subject_key(notifier_t *n, const char *subject_id,
                          oss_data_key_t *dk, oss_err_t *err);
/* Opens sf under field; new string (caller wipes with nt_wipe_free()) or
 * NULL. */
char *nt_unseal(const oss_data_key_t *dk, const char *field,
                const Oss__V1__SealedField *sf);
/* Wipes and frees s (NULL is fine). */
void nt_wipe_free(char *s);
/* The contact of a principal for channel, unsealed with dk: new strings in
 * *to and *name (caller wipes). See contacts.c. */
oss_code_t nt_account_contact(notifier_t *n, const char *principal_id,
                              const char *channel, const oss_data_key_t *dk,
                              char **to, char **name, oss_err_t *err);

/* ---- build.c: the message of a job ---- */

/* A built message: recipient and body are personal/secret (wiped). */
typedef struct built {
    char *to;
    char *msg;
    size_t len;
    char delivery_id[OSS_UUID_STR]; /* activation: the row to delete */
} built_t;

void nt_built_clear(built_t *b);
/* The message of j into *b (caller clears with nt_built_clear()):
 * OSS_ENOTFOUND not to be sent (reason in err), OSS_EUNAVAIL retry, other
 * codes failed for good. */
oss_code_t nt_build(notifier_t *n, job_t *j, built_t *b, oss_err_t *err);

/* ---- channel_email.c, channel_whatsapp.c: handing a message over ---- */

/* Hands b over on its channel; *code the server's reply code, reply its
 * scrubbed reply line. OSS_EINVAL refused for good, OSS_EUNAVAIL retry. */
oss_code_t nt_send_email(notifier_t *n, const built_t *b, long *code,
                         char *reply, size_t reply_cap, oss_err_t *err);
oss_code_t nt_send_whatsapp(notifier_t *n, const built_t *b, long *code,
                            char *reply, size_t reply_cap, oss_err_t *err);

/* ---- ledger.c: oss.notifications and the sealed oss.deliveries rows ---- */

typedef enum { LEDGER_SEND, LEDGER_DONE } ledger_t;

/* Records (event, channel) as 'sending' unless a row exists; *what says
 * whether to send, *attempts how many attempts were made before. */
oss_code_t nt_ledger_begin(notifier_t *n, const char *event_id,
                           const char *channel, const char *stream_id,
                           ledger_t *what, int *attempts, oss_err_t *err);
/* status NULL = keep the status; count = 1 adds one attempt. */
oss_code_t nt_ledger_update(notifier_t *n, const char *event_id,
                            const char *channel, const char *status,
                            const char *error, int count, oss_err_t *err);
oss_code_t nt_ledger_set(notifier_t *n, const char *event_id,
                         const char *channel, const char *status,
                         const char *error, oss_err_t *err);
/* A row 'skipped' for a malformed event (it can never become
 * deliverable). */
oss_code_t nt_ledger_skip_malformed(notifier_t *n, const char *lid,
                                    const char *channel, const char *stream_id,
                                    oss_err_t *err);
/* The sealed row of delivery_id ("" is fine): deleted / marked delivered. */
void nt_delivery_row_delete(notifier_t *n, const char *delivery_id);
void nt_delivery_mark(notifier_t *n, const char *delivery_id);
/* Deletes the sealed rows delivered a while ago or expired. */
void nt_deliveries_purge(notifier_t *n);

/* ---- record.c: delivery outcome events ---- */

/* Appends o, retrying while the journal is unavailable (at least once even
 * when stopping). 0 when appended (or replayed), 1 when refused for good
 * (logged), -1 when stopping first. A sender's outcome shares one
 * transaction with those of the senders waiting at the same moment (group
 * commit on the loop's nt_commit_t, led by one of them on its own journal
 * handle); when that transaction fails each is appended again alone. */
int nt_outcome(notifier_t *n, const oss_outcome_t *o);
/* The loop's shared commit for its senders; free after the senders stop. */
oss_code_t nt_commit_start(notifier_t *n, oss_err_t *err);
void nt_commit_stop(notifier_t *n);
/* nt_outcome() for os[0..k) in one transaction; 0 or -1. */
int nt_outcomes(notifier_t *n, const oss_outcome_t *os, size_t k);

/* ---- deliver.c ---- */

/* Handles one event (and nr, a notice of it, may be NULL) until its
 * message is sent, skipped or failed for good; OSS_OK then, or non-zero
 * when asked to stop first (or the lock was lost). queued: its
 * DeliveryQueued is already recorded. */
oss_code_t nt_deliver(notifier_t *n, const oss_event_t *ev,
                      const notice_row_t *nr, const char *via, int queued);

/* ---- pool.c: the senders ---- */

/* The deliveries of one Kafka batch (or sweep page): pending counts the
 * tasks not yet finished; failed[i] is set when a task of event i ended
 * without finishing (stopping, the lock lost). Guarded by the pool. */
typedef struct nt_group {
    int pending;
    uint8_t *failed;
} nt_group_t;

/* Starts notifier.senders senders for n (the loop's notifier). */
oss_code_t nt_pool_start(notifier_t *n, oss_err_t *err);
/* Stops and joins them (a delivery in progress ends first), drops what is
 * still queued and adds their counts to n's. */
void nt_pool_stop(notifier_t *n);
/* Queues the delivery of ev (with nr, a notice of ev, may be NULL; both are
 * copied): ahead of bulk messages when a person waits for it. In group g as
 * event idx, or (g NULL) dropped when the same message is already queued or
 * running. 0, or -1 when out of memory. */
int nt_pool_submit(notifier_t *n, const oss_event_t *ev, const notice_row_t *nr,
                   const char *via, int queued, nt_group_t *g, size_t idx);
/* Waits up to ms for every task of g; 1 when they all finished. */
int nt_group_wait(notifier_t *n, nt_group_t *g, int64_t ms);
/* How many bulk messages (none a person waits for) are queued. */
size_t nt_pool_bulk(notifier_t *n);

/* ---- notices.c: targeted notices ---- */

typedef struct notices {
    PGresult *r; /* rows of nt_jr_notices(); NULL when none */
} notices_t;

void nt_notices_clear(notices_t *nt);
/* The pending notices of evs[0..k) into nt (none when the look-up failed:
 * the poll finds them). */
void nt_notices_find(notifier_t *n, const oss_event_t *evs, size_t k,
                     notices_t *nt);
/* Queues the notices in nt of ev in g as event idx; 0, or -1 when out of
 * memory. */
int nt_notices_submit(notifier_t *n, const notices_t *nt, const oss_event_t *ev,
                      const char *via, nt_group_t *g, size_t idx);
/* Every notifier.notice_poll_ms (else nothing): queues what the tables say
 * is waiting, first the messages a person waits for (activation codes and
 * reset links not yet handed over, from oss.deliveries, whatever their
 * Kafka order), then one page of the other notices, oldest first. */
void nt_notices_tick(notifier_t *n);

/* ---- batch.c ---- */

/* Handles evs[0..k) in order: triage, then nt_deliver() each that needs
 * it, and their notices. *done = how many leading events are finished.
 * OSS_OK when all are, else non-zero (stopping or lock lost). */
oss_code_t nt_process(notifier_t *n, const oss_event_t *evs, size_t k,
                      const char *via, size_t *done);

/* ---- sweep.c ---- */

/* Pages through the journal for what Kafka did not deliver (see sweep.c),
 * for at most about a second. */
void nt_sweep(notifier_t *n);

/* ---- consume.c: Kafka ---- */

/* Builds the bus consumer (n->consumer) for the account topic. */
oss_code_t nt_kafka_new(notifier_t *n, oss_err_t *err);
/* Opens and positions the consumer when needed (stored positions of this
 * cluster, or the beginning: see consume.c). OSS_EUNAVAIL: retry. */
oss_code_t nt_kafka_ready(notifier_t *n, oss_err_t *err);
/* Drops the Kafka handle (positions are re-read at the next ready). */
void nt_kafka_close(notifier_t *n);
/* 1 when the bootstrap list changed (the handle must be rebuilt). */
int nt_kafka_bootstrap_changed(notifier_t *n);
/* Polls and handles one batch, recording the next offsets of the finished
 * messages; non-zero when stopping or the lock was lost. */
oss_code_t nt_consume_batch(notifier_t *n);
/* Stores the recorded offsets; OSS_EUNAVAIL when PostgreSQL failed. */
oss_code_t nt_offsets_flush(notifier_t *n, oss_err_t *err);

#endif
