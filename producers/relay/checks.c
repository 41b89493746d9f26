/* The relay's "did the broker lose data?" decisions, apart from the loop so
 * that tests can drive them: a new cluster id, or a partition whose high
 * watermark fell to or below an offset we saw delivered. */
#include "relay_int.h"

#include <string.h>

#include "core/clock.h"

oss_relay_reset_t
oss_relay_reset_decision(const char *ckpt_cluster, const char *cluster,
                         int watermark_back) {
    if (ckpt_cluster && ckpt_cluster[0] && cluster && cluster[0] &&
        strcmp(ckpt_cluster, cluster) != 0)
        return OSS_RELAY_RESET_CLUSTER;
    if (watermark_back)
        return OSS_RELAY_RESET_WATERMARK;
    return OSS_RELAY_KEEP;
}

int
oss_relay_mark_went_back(const oss_relay_mark_t *m, int64_t high) {
    return m->offset >= 0 && high <= m->offset;
}

long
oss_relay_check_marks(rd_kafka_t *rk, oss_relay_mark_t *marks, size_t n,
                      int64_t budget_ms, int64_t *high) {
    int64_t until = oss_mono_ms() + budget_ms;
    for (size_t i = 0; i < n && oss_mono_ms() < until; i++) {
        int64_t lo, hi;
        if (marks[i].offset < 0 || !marks[i].touched)
            continue;
        marks[i].touched = 0;
        if (rd_kafka_query_watermark_offsets(rk, marks[i].topic,
                                             marks[i].partition, &lo, &hi, 500))
            continue;
        if (oss_relay_mark_went_back(&marks[i], hi)) {
            if (high)
                *high = hi;
            return (long)i;
        }
    }
    return -1;
}
