/* Internals of the relay shared by its files and its tests. */
#ifndef OSS_RELAY_INT_H
#define OSS_RELAY_INT_H

#include <stdint.h>

#include "bus/bus.h"
#include "bus/consumer.h"
#include "bus/producer.h"
#include "relay.h"

/* Highest offset known to exist in one partition (for "went backwards"). */
typedef struct oss_relay_mark {
    char topic[256];
    int32_t partition;
    int64_t offset;
    int touched; /* delivered to since the last check */
} oss_relay_mark_t;

/* What the partition tails hold: (position, event id) of every verified
 * envelope, and each partition's last offset. */
typedef struct oss_relay_tails {
    int64_t *pos;
    char (*ids)[OSS_UUID_STR];
    size_t n, cap;
    oss_relay_mark_t *marks;
    size_t nmarks;
    size_t scanned; /* messages read */
    char cluster_id[128];
} oss_relay_tails_t;

/* Reads the last `window` messages of every partition of every topic named
 * bus.topic_prefix*, keeping those whose signature verifies under ring.
 * *t is filled (caller frees with oss_relay_tails_free()). OSS_EUNAVAIL when
 * Kafka cannot be read. */
oss_code_t oss_relay_read_tails(const oss_config_t *cfg,
                                const oss_keyring_t *ring, int64_t window,
                                oss_relay_tails_t *t, oss_err_t *err);
void oss_relay_tails_free(oss_relay_tails_t *t);

/* Raises the mark of (topic, partition) to offset (adds it when new) and
 * flags it as touched. */
void oss_relay_mark(oss_relay_mark_t **marks, size_t *n, const char *topic,
                    int32_t partition, int64_t offset);

/* What the broker's state asks of the cursor. */
typedef enum oss_relay_reset {
    OSS_RELAY_KEEP = 0,       /* carry on from the checkpoint */
    OSS_RELAY_RESET_CLUSTER,  /* the cluster id changed: a new broker */
    OSS_RELAY_RESET_WATERMARK /* a partition lost messages we saw */
} oss_relay_reset_t;

/* Pure: the checkpoint's cluster id (empty: none stored yet) against the
 * broker's, and whether a high watermark went backwards. Any reset means
 * republishing from the start of the journal. Strings borrowed. */
oss_relay_reset_t oss_relay_reset_decision(const char *ckpt_cluster,
                                           const char *cluster,
                                           int watermark_back);
/* Pure: 1 when a partition's high watermark `high` (the next offset to be
 * written) no longer covers the offset m saw, else 0. */
int oss_relay_mark_went_back(const oss_relay_mark_t *m, int64_t high);
/* Queries the high watermark of every touched mark (clearing `touched`)
 * within about budget_ms; returns the index of the first mark that went
 * back (its watermark in *high when high is not NULL), or -1. rk and marks
 * borrowed. */
long oss_relay_check_marks(rd_kafka_t *rk, oss_relay_mark_t *marks, size_t n,
                           int64_t budget_ms, int64_t *high);

#endif
