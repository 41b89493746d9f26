/* Internals of the relay shared by its files and its tests. */
#ifndef OSS_RELAY_INT_H
#define OSS_RELAY_INT_H

#include <stdint.h>

#include "bus/bus.h"
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

#endif
