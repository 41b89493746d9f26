/* librdkafka's mock cluster behind oss_bus_mock_* (see mock.h). */
#include "bus/mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>

struct oss_bus_mock {
    rd_kafka_t *rk; /* the host handle: the cluster lives in its threads */
    rd_kafka_mock_cluster_t *mc;
    int brokers;
};

oss_code_t
oss_bus_mock_start(int brokers, oss_bus_mock_t **out, oss_err_t *err) {
    char errstr[512];
    *out = NULL;
    if (brokers < 1 || brokers > 16)
        return oss_err_set(err, OSS_EINVAL,
                           "invalid broker count %d: expected 1..16", brokers);
    oss_bus_mock_t *m = calloc(1, sizeof *m);
    if (!m)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    m->brokers = brokers;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    if (!(m->rk =
              rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not create the broker host handle: %s",
                           errstr);
    }
    if (!(m->mc = rd_kafka_mock_cluster_new(m->rk, brokers))) {
        rd_kafka_destroy(m->rk);
        free(m);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not start the mock cluster");
    }
    *out = m;
    return OSS_OK;
}

oss_code_t
oss_bus_mock_topic_create(oss_bus_mock_t *m, const char *name, int partitions,
                          int rf, oss_err_t *err) {
    if (rf > m->brokers)
        rf = m->brokers;
    if (rf < 1)
        rf = 1;
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(m->mc, name, partitions, rf);
    if (e)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not create topic \"%s\": %s", name,
                           rd_kafka_err2str(e));
    return OSS_OK;
}

const char *
oss_bus_mock_bootstraps(const oss_bus_mock_t *m) {
    return rd_kafka_mock_cluster_bootstraps(m->mc);
}

void
oss_bus_mock_free(oss_bus_mock_t *m) {
    if (!m)
        return;
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
    free(m);
}
