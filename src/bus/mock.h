/* The embedded broker's cluster: librdkafka's mock cluster (the real Kafka
 * protocol, in memory) hosted by a handle of its own. Used by
 * infra/broker (oss-broker) and tests. Thread-safety: librdkafka's. */
#ifndef OSS_BUS_MOCK_H
#define OSS_BUS_MOCK_H

#include "core/error.h"

typedef struct oss_bus_mock oss_bus_mock_t;

/* Starts a mock cluster of brokers (1..16) brokers on fresh ports with a
 * new cluster id. Returns new in *out, caller frees with
 * oss_bus_mock_free(). OSS_EINVAL for a bad count, OSS_EUNAVAIL when
 * librdkafka could not start it. */
oss_code_t oss_bus_mock_start(int brokers, oss_bus_mock_t **out,
                              oss_err_t *err);
/* Creates topic name with partitions and replication factor rf (capped at
 * the broker count). */
oss_code_t oss_bus_mock_topic_create(oss_bus_mock_t *m, const char *name,
                                     int partitions, int rf, oss_err_t *err);
/* The bootstrap list ("host:port,..."), borrowed from m. */
const char *oss_bus_mock_bootstraps(const oss_bus_mock_t *m);
/* Stops the cluster and frees m; NULL is fine. */
void oss_bus_mock_free(oss_bus_mock_t *m);

#endif
