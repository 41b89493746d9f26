/* The relay's "broker lost data" decisions (producers/relay/checks.c): a new
 * cluster id or a high watermark that went backwards makes the relay
 * republish from the journal; the same cluster with watermarks at or above
 * what we saw keeps the checkpoint. The watermark check runs against the
 * running broker: messages are produced to a fresh topic, then marks at,
 * below and beyond the delivered offsets are checked. (End to end: a broker
 * restarted empty in tests/e2e/test_broker_restart.sh; lost sessions in
 * tests/e2e/test_relay_faults.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "oss_test.h"
#include "relay_int.h"

static void
test_reset_decision(void **state) {
    (void)state;
    /* first start: no cluster stored yet */
    assert_int_equal(oss_relay_reset_decision("", "mockA", 0), OSS_RELAY_KEEP);
    assert_int_equal(oss_relay_reset_decision("mockA", "mockA", 0),
                     OSS_RELAY_KEEP);
    assert_int_equal(oss_relay_reset_decision("mockA", "mockB", 0),
                     OSS_RELAY_RESET_CLUSTER);
    /* the cluster id wins when both happened */
    assert_int_equal(oss_relay_reset_decision("mockA", "mockB", 1),
                     OSS_RELAY_RESET_CLUSTER);
    assert_int_equal(oss_relay_reset_decision("mockA", "mockA", 1),
                     OSS_RELAY_RESET_WATERMARK);
    assert_int_equal(oss_relay_reset_decision("", "mockA", 1),
                     OSS_RELAY_RESET_WATERMARK);

    oss_relay_mark_t m = {.offset = 41};
    assert_int_equal(oss_relay_mark_went_back(&m, 42), 0); /* next = 42 */
    assert_int_equal(oss_relay_mark_went_back(&m, 100), 0);
    assert_int_equal(oss_relay_mark_went_back(&m, 41), 1);
    assert_int_equal(oss_relay_mark_went_back(&m, 0), 1);
    m.offset = -1; /* nothing seen */
    assert_int_equal(oss_relay_mark_went_back(&m, 0), 0);
}

static int64_t last_offset = -1;
static int delivered, failed;

static void
on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
        return;
    }
    delivered++;
    if (m->offset > last_offset)
        last_offset = m->offset;
}

static void
test_watermark_check_against_broker(void **state) {
    (void)state;
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    char errstr[256], type[32], topic[256];
    assert_int_equal(oss_config_load(oss_test_env("OSS_CONFIG"), &cfg, &err),
                     OSS_OK);
    snprintf(type, sizeof type, "wm%lx%x", (long)time(NULL),
             (unsigned)getpid() & 0xffff);
    oss_bus_topic(cfg, type, topic, sizeof topic);

    rd_kafka_conf_t *conf = oss_bus_conf_new(cfg, &err);
    assert_non_null(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    enum { N = 7 };
    for (int i = 0; i < N; i++)
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                RD_KAFKA_V_KEY("k", 1), RD_KAFKA_V_VALUE("v", 1),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    assert_int_equal(rd_kafka_flush(rk, 20000), 0);
    assert_int_equal(delivered, N);
    assert_int_equal(failed, 0);
    assert_true(last_offset >= N - 1);

    oss_relay_mark_t *marks = NULL;
    size_t n = 0;
    /* what the relay records on delivery: the broker still has it all */
    oss_relay_mark(&marks, &n, topic, 0, last_offset);
    assert_int_equal(n, 1);
    assert_int_equal(marks[0].touched, 1);
    int64_t hi = -5;
    assert_int_equal(oss_relay_check_marks(rk, marks, n, 5000, &hi), -1);
    assert_int_equal(marks[0].touched, 0);

    /* not touched since the last check: not queried, whatever it says */
    marks[0].offset = last_offset + 1000;
    assert_int_equal(oss_relay_check_marks(rk, marks, n, 5000, &hi), -1);

    /* we saw an offset the partition no longer reaches: it went back */
    oss_relay_mark(&marks, &n, topic, 0, last_offset + 1000);
    assert_int_equal(n, 1);
    assert_int_equal(oss_relay_check_marks(rk, marks, n, 5000, &hi), 0);
    assert_int_equal(hi, last_offset + 1);
    assert_int_equal(
        oss_relay_reset_decision("same", "same",
                                 oss_relay_mark_went_back(&marks[0], hi)),
        OSS_RELAY_RESET_WATERMARK);

    /* marks below the watermark, or with nothing seen: no reset */
    free(marks);
    marks = NULL;
    n = 0;
    oss_relay_mark(&marks, &n, topic, 0, last_offset - 1);
    oss_relay_mark(&marks, &n, topic, 1, -1); /* nothing delivered there */
    assert_int_equal(oss_relay_check_marks(rk, marks, n, 5000, &hi), -1);

    free(marks);
    rd_kafka_destroy(rk);
    oss_config_free(cfg);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env();
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_decision),
        cmocka_unit_test(test_watermark_check_against_broker),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
