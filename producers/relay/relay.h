/* The relay: publishes every journal event onto Kafka, in commit order.
 *
 * Reading: through the journal's scan interface (journal/scan.h), rows
 * below the commit horizon in commit order (xid, position), the cursor an
 * oss_journal_cursor_t: a transaction that commits late is read when it
 * commits, never skipped. No time-based gap heuristics.
 * Publishing: topic = bus.topic_prefix + stream type, key = stream id, value
 * = oss.v1.Envelope, CloudEvents headers + signature (bus/bus.h); idempotent
 * producer, acks=all. The checkpoint (oss.relay_checkpoint) advances only over
 * a prefix whose delivery reports all succeeded.
 * Leadership: pg_try_advisory_lock(relay.lock_key) on the relay's session; a
 * second instance waits as a hot standby. A new leader waits out the old
 * producer's message timeout (unless it closed cleanly), reads the tail of
 * every partition and skips journal events Kafka already holds, so no event
 * id is published twice. Losing the lock or the database: purge, exit 2. No
 * progress for relay.stall_ms while work exists: give the lock up, exit 3.
 * Broker lost data (cluster id changed, high watermark went backwards): the
 * cursor restarts from the beginning of the journal.
 * Thread-safety: one oss_relay_t, used by one thread. */
#ifndef OSS_RELAY_H
#define OSS_RELAY_H

#include <signal.h>

#include "config/config.h"
#include "core/error.h"

enum {
    OSS_RELAY_EXIT_OK = 0,    /* stopped on request */
    OSS_RELAY_EXIT_ERROR = 1, /* configuration or start-up failure */
    OSS_RELAY_EXIT_LOST = 2,  /* lost the lock or the database */
    OSS_RELAY_EXIT_STALL = 3  /* no progress: gave up leadership */
};

typedef struct oss_relay oss_relay_t;

/* Reads configuration (cfg borrowed for the relay's lifetime) and the signing
 * key. Returns new, caller frees with oss_relay_free(). */
oss_code_t oss_relay_new(const oss_config_t *cfg, oss_relay_t **out,
                         oss_err_t *err);
/* Runs (standby, then leader) until *stop is set or leadership is lost;
 * returns an OSS_RELAY_EXIT_* code. */
int oss_relay_run(oss_relay_t *r, volatile sig_atomic_t *stop);
void oss_relay_free(oss_relay_t *r);

#endif
