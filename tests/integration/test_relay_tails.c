/* The relay's partition-tail reader against the running broker: messages we
 * signed are found (with their journal positions), a message written by
 * anyone without the key (no signature, a wrong one, or a copy of a signed
 * header over another value) is ignored, so it can never make a new leader
 * skip a real event. */
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
#include "crypto/crypto.h"
#include "oss_test.h"
#include "relay_int.h"

static void
make_event(oss_event_t *ev, const char *type, const char *stream, int64_t v,
           int64_t pos) {
    memset(ev, 0, sizeof *ev);
    oss_uuid7(ev->event_id);
    snprintf(ev->stream_id, sizeof ev->stream_id, "%s", stream);
    snprintf(ev->stream_type, sizeof ev->stream_type, "%s", type);
    ev->version = v;
    ev->position = pos;
    ev->occurred_at_us = ev->recorded_at_us = 1795000000000000LL;
    ev->actor_kind = OSS_ACTOR_SYSTEM_JOB;
    snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Tail");
    ev->schema_version = 1;
}

static void
produce(rd_kafka_t *rk, const char *topic, const oss_event_t *ev,
        const oss_keyring_t *ring, int tamper) {
    uint8_t *val;
    size_t vlen;
    oss_err_t err;
    assert_int_equal(oss_envelope_encode(ev, &val, &vlen, &err), OSS_OK);
    rd_kafka_headers_t *h = oss_bus_headers(ev, "/test", ring, val, vlen);
    if (tamper)
        val[vlen - 1] ^= 1; /* signed header, different value */
    assert_int_equal(
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                          RD_KAFKA_V_KEY(ev->stream_id, strlen(ev->stream_id)),
                          RD_KAFKA_V_VALUE(val, vlen),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
        0);
}

static int
found(const oss_relay_tails_t *t, const char *id, int64_t pos) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->ids[i], id) == 0)
            return t->pos[i] == pos ? 1 : -1;
    return 0;
}

static void
test_tails_keep_only_signed(void **state) {
    (void)state;
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    char errstr[256], type[32], topic[256], stream[96];
    assert_int_equal(oss_config_load(oss_test_env("OSS_CONFIG"), &cfg, &err),
                     OSS_OK);
    oss_keyring_t ring, other = {0};
    assert_int_equal(
        oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"), &ring,
                         &err),
        OSS_OK);
    other.n = 1;
    memset(other.key[0], 0x5a, 32);

    snprintf(type, sizeof type, "tl%lx%x", (long)time(NULL),
             (unsigned)getpid() & 0xffff);
    snprintf(stream, sizeof stream, "%s-s", type);
    oss_bus_topic(cfg, type, topic, sizeof topic);

    rd_kafka_conf_t *conf = oss_bus_conf_new(cfg, &err);
    assert_non_null(conf);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    enum { N = 50 };
    oss_event_t good[N], forged[3];
    for (int i = 0; i < N; i++) {
        make_event(&good[i], type, stream, i + 1, 1000000000LL + i);
        produce(rk, topic, &good[i], &ring, 0);
    }
    make_event(&forged[0], type, stream, 99, 2000000000LL);
    produce(rk, topic, &forged[0], NULL, 0); /* no signature */
    make_event(&forged[1], type, stream, 98, 2000000001LL);
    produce(rk, topic, &forged[1], &other, 0); /* someone else's key */
    make_event(&forged[2], type, stream, 97, 2000000002LL);
    produce(rk, topic, &forged[2], &ring, 1); /* value changed after signing */
    assert_int_equal(rd_kafka_flush(rk, 10000), 0);
    rd_kafka_destroy(rk);

    oss_relay_tails_t t;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(oss_relay_read_tails(cfg, &ring, 1000, &t, &err), OSS_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    print_message("tails: %zu partitions, %zu messages scanned, %zu signed, "
                  "%.0f ms\n",
                  t.nmarks, t.scanned, t.n,
                  (double)(b.tv_sec - a.tv_sec) * 1e3 +
                      (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    assert_true(t.cluster_id[0] != '\0');
    for (int i = 0; i < N; i++)
        assert_int_equal(found(&t, good[i].event_id, good[i].position), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(found(&t, forged[i].event_id, forged[i].position), 0);
    /* the marks name our topic's partition with its last offset */
    int marked = 0;
    for (size_t i = 0; i < t.nmarks; i++)
        if (strcmp(t.marks[i].topic, topic) == 0 && t.marks[i].offset >= 0)
            marked++;
    assert_true(marked >= 1);
    oss_relay_tails_free(&t);

    /* a window of 2 keeps at most the last 2 messages of each partition */
    assert_int_equal(oss_relay_read_tails(cfg, &ring, 2, &t, &err), OSS_OK);
    int last = 0;
    for (int i = 0; i < N; i++)
        last += found(&t, good[i].event_id, good[i].position) == 1;
    assert_true(last <= 2);
    oss_relay_tails_free(&t);
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
        cmocka_unit_test(test_tails_keep_only_signed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
