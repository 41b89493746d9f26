/* The bus producer and consumer against an in-process mock cluster
 * (oss_bus_mock_start: librdkafka's mock brokers, no server needed): the
 * producer's deliveries, a consumer joining at the watermarks after its
 * catch-up reads only what came later, one joining at the beginning reads
 * all, and the mock's and the producer's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/consumer.h"
#include "bus/mock.h"
#include "bus/producer.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "oss_test.h"

static oss_bus_mock_t *mock;
static oss_config_t *cfg;
static char cpath[64];
static int delivered, catch_ups;

static void
on_delivery(void *arg, const oss_bus_delivery_t *d) {
    (void)arg;
    assert_false(d->failed);
    assert_string_equal(d->topic, "u.acct");
    delivered++;
}

static oss_code_t
on_catch_up(void *arg, const char *why, oss_err_t *err) {
    (void)arg;
    (void)err;
    assert_string_equal(why, "no stored positions");
    catch_ups++;
    return OSS_OK;
}

static void
produce(int from, int n) {
    oss_keyring_t ring = {.n = 1};
    memset(ring.key[0], 7, 32);
    oss_bus_signer_t *signer = oss_bus_signer_new(&ring);
    oss_bus_producer_opts_t o = {.source = "/unit",
                                 .signer = signer,
                                 .message_timeout_ms = 10000,
                                 .queue_max_messages = 1000,
                                 .on_delivery = on_delivery};
    oss_bus_producer_t *p = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_bus_producer_new(cfg, &o, &p, &err), OSS_OK);
    assert_non_null(oss_bus_producer_handle(p));
    assert_string_equal(oss_bus_producer_bootstrap(p),
                        oss_bus_mock_bootstraps(mock));
    for (int i = from; i < from + n; i++) {
        oss_event_t ev;
        memset(&ev, 0, sizeof ev);
        oss_uuid7(ev.event_id);
        snprintf(ev.stream_id, sizeof ev.stream_id, "acct-%d", i % 3);
        snprintf(ev.stream_type, sizeof ev.stream_type, "acct");
        ev.version = i + 1;
        ev.position = i + 1;
        ev.actor_kind = OSS_ACTOR_SYSTEM_JOB;
        snprintf(ev.payload_type, sizeof ev.payload_type, "test.v1.Unit");
        ev.schema_version = 1;
        assert_int_equal(oss_bus_producer_send(p, &ev, (uint64_t)i, &err),
                         OSS_OK);
    }
    oss_bus_producer_flush(p, 10000);
    assert_int_equal(oss_bus_producer_outq_len(p), 0);
    oss_bus_producer_free(p, 0);
    oss_bus_signer_free(signer);
}

static int
consume(oss_bus_join_t join) {
    static const char *const types[] = {"acct", NULL};
    oss_bus_consumer_opts_t o = {.group_id = "unit",
                                 .stream_types = types,
                                 .join = join,
                                 .hooks = {.catch_up = on_catch_up}};
    oss_bus_consumer_t *c = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_bus_consumer_new(cfg, &o, &c, &err), OSS_OK);
    assert_int_equal(oss_bus_consumer_open(c, &err), OSS_OK);
    size_t n = 0;
    oss_bus_consumer_positions(c, &n);
    assert_int_equal(n, 2);
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    if (join == OSS_BUS_JOIN_WATERMARK)
        produce(100, 5); /* after the join: read from Kafka */
    int got = 0;
    int64_t last = oss_mono_ms();
    while (oss_mono_ms() - last < 2000) {
        rd_kafka_message_t *m = oss_bus_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            got++;
            last = oss_mono_ms();
        }
        rd_kafka_message_destroy(m);
    }
    oss_bus_consumer_free(c);
    return got;
}

static void
test_produce_and_consume(void **state) {
    (void)state;
    produce(0, 10);
    assert_int_equal(delivered, 10);
    assert_int_equal(consume(OSS_BUS_JOIN_WATERMARK), 5);
    assert_int_equal(catch_ups, 1);
    assert_int_equal(delivered, 15);
    assert_int_equal(consume(OSS_BUS_JOIN_BEGINNING), 15);
    assert_int_equal(catch_ups, 2);
}

static void
test_refusals(void **state) {
    (void)state;
    oss_bus_mock_t *m = (oss_bus_mock_t *)&m;
    oss_err_t err = {0};
    assert_int_equal(oss_bus_mock_start(0, &m, &err), OSS_EINVAL);
    assert_null(m);
    assert_int_equal(oss_bus_mock_start(17, &m, &err), OSS_EINVAL);
    oss_bus_mock_free(NULL);

    /* a bad kafka.* property: the producer says which */
    FILE *f = fopen(cpath, "a");
    fputs("kafka.no.such.property = 1\n", f);
    fclose(f);
    oss_config_t *bad = NULL;
    assert_int_equal(oss_config_load(cpath, &bad, &err), OSS_OK);
    oss_bus_producer_t *p = NULL;
    oss_bus_producer_opts_t o = {0};
    assert_int_equal(oss_bus_producer_new(bad, &o, &p, &err), OSS_EINVAL);
    assert_null(p);
    oss_bus_producer_free(NULL, 1);
    oss_config_free(bad);
}

static int
setup(void **state) {
    (void)state;
    oss_err_t err = {0};
    oss_test_clear_oss_env();
    if (oss_bus_mock_start(1, &mock, &err) ||
        oss_bus_mock_topic_create(mock, "u.acct", 2, 3, &err))
        return -1;
    snprintf(cpath, sizeof cpath, "/tmp/oss-test-bus-mock-XXXXXX");
    int fd = mkstemp(cpath);
    if (fd < 0)
        return -1;
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "bus.topic_prefix = u.\nkafka.bootstrap.servers = %s\n",
                     oss_bus_mock_bootstraps(mock));
    if (write(fd, line, (size_t)n) != n)
        return -1;
    close(fd);
    return oss_config_load(cpath, &cfg, &err) ? -1 : 0;
}

static int
teardown(void **state) {
    (void)state;
    oss_config_free(cfg);
    oss_bus_mock_free(mock);
    unlink(cpath);
    return 0;
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_and_consume),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
