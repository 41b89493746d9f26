/* The one Kafka consumer of the code base (librdkafka): assign() at stored
 * positions (no consumer group, so a restart waits out no session timeout),
 * cluster-id and watermark checks, and a journal catch-up hook.
 *
 * The programs keep their Kafka positions in PostgreSQL (a position is
 * (topic, partition, next offset) plus the broker's cluster id); the bus
 * does not know the table: the program hands the stored rows in through the
 * load hook and writes positions itself, usually in the transaction that
 * applied the messages (oss_bus_consumer_positions()). At every sync
 * (oss_bus_consumer_sync()) the consumer:
 *   1. reads the stored positions (hook load) and every partition's
 *      watermarks;
 *   2. resumes at them when each partition has one of this cluster inside
 *      [low, high] and no offset ran out of range since the last sync;
 *   3. otherwise ("the broker's cluster id changed", "no stored positions",
 * "offset out of range") calls the catch-up hook with the reason, then joins
 * Kafka per the join policy: OSS_BUS_JOIN_WATERMARK at the high watermarks read
 * BEFORE the hook (every event published before them is below the journal's
 * commit horizon the hook read up to; dedupe covers the overlap),
 * OSS_BUS_JOIN_BEGINNING at the beginning of what the broker holds for the
 * partitions without a usable position (the program's ledger drops what it
 * already handled); the hook store, when set, then records the joined
 * positions. A consumer may instead position itself (oss_bus_consumer_assign(),
 * e.g. the relay's tail reader). Thread-safety: one consumer per thread; hooks
 * run in the caller's thread inside oss_bus_consumer_sync(). */
#ifndef OSS_BUS_CONSUMER_H
#define OSS_BUS_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"

#define OSS_BUS_TOPIC_MAX 128
#define OSS_BUS_CLUSTER_MAX 128
/* next offset values besides a real offset (>= 0) */
#define OSS_BUS_OFFSET_NONE (-1)      /* unknown: not assigned */
#define OSS_BUS_OFFSET_BEGINNING (-2) /* librdkafka's OFFSET_BEGINNING */

typedef struct oss_bus_consumer oss_bus_consumer_t;

/* One partition the consumer reads. */
typedef struct oss_bus_position {
    char topic[OSS_BUS_TOPIC_MAX];
    int32_t partition;
    int64_t next;   /* next offset to read, or OSS_BUS_OFFSET_* */
    int64_t lo, hi; /* watermarks at the last sync (hi refreshed by
                       oss_bus_consumer_refresh_watermarks()); -1 unknown */
    int stored;     /* sync: the load hook gave a position of this cluster */
} oss_bus_position_t;

typedef enum oss_bus_join {
    OSS_BUS_JOIN_WATERMARK = 0, /* after the catch-up: at the high marks */
    OSS_BUS_JOIN_BEGINNING      /* after the catch-up: at the beginning */
} oss_bus_join_t;

typedef struct oss_bus_consumer_hooks {
    /* Feeds every stored position of this consumer to
     * oss_bus_consumer_stored(c, ...). NULL: nothing is stored. */
    oss_code_t (*load)(void *arg, oss_bus_consumer_t *c, oss_err_t *err);
    /* The journal catch-up, with why ("the broker's cluster id changed", "no
     * stored positions", "offset out of range"; static). NULL: none. */
    oss_code_t (*catch_up)(void *arg, const char *why, oss_err_t *err);
    /* Records the joined positions (pos[0..n), borrowed; those with
     * next < 0 are not to be stored) with cluster_id. NULL: not stored. */
    oss_code_t (*store)(void *arg, const char *cluster_id,
                        const oss_bus_position_t *pos, size_t n,
                        oss_err_t *err);
    void *arg;
} oss_bus_consumer_hooks_t;

typedef struct oss_bus_consumer_opts {
    const char *group_id;  /* required (no group join happens) */
    const char *client_id; /* NULL: librdkafka's default */
    /* stream types to read (topic = bus.topic_prefix + type; NULL-ended);
     * NULL: every topic whose name starts with bus.topic_prefix */
    const char *const *stream_types;
    oss_bus_join_t join;
    /* auto.offset.reset: NULL derives it from join ("error" for
     * OSS_BUS_JOIN_WATERMARK, out-of-range offsets then reach the sync,
     * "earliest" for OSS_BUS_JOIN_BEGINNING) */
    const char *offset_reset;
    int partition_eof; /* deliver RD_KAFKA_RESP_ERR__PARTITION_EOF */
    int timeout_ms;    /* metadata / cluster id / watermark queries;
                          0: 5000 */
    int quiet;         /* librdkafka's log lines at debug level */
    oss_bus_consumer_hooks_t hooks;
} oss_bus_consumer_opts_t;

/* A consumer for cfg (borrowed, must outlive it) with opts (copied; the
 * strings and stream_types are borrowed and must outlive it). No network
 * yet. Returns new in *out, caller frees with oss_bus_consumer_free(). */
oss_code_t oss_bus_consumer_new(const oss_config_t *cfg,
                                const oss_bus_consumer_opts_t *opts,
                                oss_bus_consumer_t **out, oss_err_t *err);
/* Closes the handle (if open) and frees c; NULL is fine. */
void oss_bus_consumer_free(oss_bus_consumer_t *c);

/* Builds the librdkafka handle, reads the cluster id and the partitions of
 * the topics. OSS_EUNAVAIL (retriable) when Kafka cannot be reached or a
 * topic is not there yet; OSS_EINVAL for a bad kafka.* property. */
oss_code_t oss_bus_consumer_open(oss_bus_consumer_t *c, oss_err_t *err);
/* Destroys the handle (unassigning first); oss_bus_consumer_open() builds a
 * new one. Positions are forgotten. */
void oss_bus_consumer_close(oss_bus_consumer_t *c);
/* 1 when the handle is open. */
int oss_bus_consumer_is_open(const oss_bus_consumer_t *c);

/* The sync of the header comment (load, checks, catch-up, join, assign).
 * Errors of the hooks are returned as they are; Kafka's as OSS_EUNAVAIL. */
oss_code_t oss_bus_consumer_sync(oss_bus_consumer_t *c, oss_err_t *err);
/* 1 when a sync is due (after open, or an offset ran out of range). */
int oss_bus_consumer_need_sync(const oss_bus_consumer_t *c);
/* For the load hook: one stored row (strings borrowed). Rows of unknown
 * partitions are ignored; a row of another cluster marks the sync as
 * "the broker's cluster id changed". */
void oss_bus_consumer_stored(oss_bus_consumer_t *c, const char *topic,
                             int32_t partition, const char *cluster_id,
                             int64_t next);
/* Assigns every partition whose next is >= 0 or OSS_BUS_OFFSET_BEGINNING at
 * it, without a sync (the caller set the positions). */
oss_code_t oss_bus_consumer_assign(oss_bus_consumer_t *c, oss_err_t *err);

/* Reads every partition's low and high watermark from the brokers (into
 * the positions' lo and hi). OSS_EUNAVAIL when a query fails. */
oss_code_t oss_bus_consumer_query_watermarks(oss_bus_consumer_t *c,
                                             oss_err_t *err);

/* The next message within timeout_ms, NULL when none. Consumer errors come
 * as messages with m->err set (PARTITION_EOF only with partition_eof); an
 * out-of-range offset is handled here: logged, and the next sync catches
 * up (the message is dropped, NULL returned). Caller frees a message with
 * rd_kafka_message_destroy(). */
rd_kafka_message_t *oss_bus_consumer_poll(oss_bus_consumer_t *c,
                                          int timeout_ms);

/* The partitions (borrowed, valid until the next open/close; the caller
 * may change next, e.g. to what a batch reached); *n their count. */
oss_bus_position_t *oss_bus_consumer_positions(oss_bus_consumer_t *c,
                                               size_t *n);
/* The position of (topic, partition), NULL when not read. Borrowed. */
oss_bus_position_t *oss_bus_consumer_find(oss_bus_consumer_t *c,
                                          const char *topic, int32_t partition);
/* Raises the next offset of m's partition to m->offset + 1. */
void oss_bus_consumer_advance(oss_bus_consumer_t *c,
                              const rd_kafka_message_t *m);
/* Updates each position's hi from the watermarks librdkafka last saw
 * (no network). */
void oss_bus_consumer_refresh_watermarks(oss_bus_consumer_t *c);
/* The broker's cluster id read at open ("" when closed; borrowed). */
const char *oss_bus_consumer_cluster_id(const oss_bus_consumer_t *c);
/* The bootstrap list used at open (borrowed). */
const char *oss_bus_consumer_bootstrap(const oss_bus_consumer_t *c);
/* 1 when the configured bootstrap list differs from the one in use (the
 * embedded broker restarted on new ports): close and open again. */
int oss_bus_consumer_bootstrap_changed(const oss_bus_consumer_t *c);

/* Pure: the reason a sync must catch up, NULL when the stored positions
 * can be resumed. force: an offset ran out of range; other_cluster: a
 * stored row of another cluster id; pos[0..n) with stored and lo/hi set.
 * Static strings. */
const char *oss_bus_catch_up_reason(int force, int other_cluster,
                                    const oss_bus_position_t *pos, size_t n);

/* The value of header name of m into buf (NUL-terminated, cap bytes), NULL
 * when absent or too long. */
const char *oss_bus_message_header(const rd_kafka_message_t *m,
                                   const char *name, char *buf, size_t cap);

#endif
