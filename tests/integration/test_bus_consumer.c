/* The bus consumer and producer (src/bus/consumer.c, producer.c) against the
 * running embedded broker (var/run.env): what the producer writes carries
 * the CloudEvents headers and a signature that verifies; the consumer's sync
 * catches up (hook) when nothing is stored, resumes at stored positions of
 * this cluster, catches up when the cluster id changed or a position is out
 * of the broker's range, and joins at the watermarks or the beginning. */
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
#include "bus/consumer.h"
#include "bus/producer.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "oss_test.h"

enum { N = 40 };

typedef struct fixture {
    oss_config_t *cfg;
    oss_keyring_t ring;
    char type[32], topic[256];
    oss_event_t evs[N];
    int delivered, failed;
} fixture_t;

/* What a test's hooks saw and should answer. */
typedef struct hooks_state {
    const char *stored_cluster; /* NULL: load feeds nothing */
    int64_t stored_offset;      /* -1: each partition's high watermark */
    int64_t his[64];            /* high watermarks by partition */
    char topic[256];
    int nparts;
    int catch_ups, stores;
    char why[64];
    int64_t stored_next[64];
} hooks_state_t;

static fixture_t fx;

static void
on_delivery(void *arg, const oss_bus_delivery_t *d) {
    fixture_t *f = arg;
    if (d->failed)
        f->failed++;
    else
        f->delivered++;
    assert_true(d->seq >= 1 && d->seq <= N);
}

static oss_code_t
h_load(void *arg, oss_bus_consumer_t *c, oss_err_t *err) {
    hooks_state_t *h = arg;
    (void)err;
    if (!h->stored_cluster)
        return OSS_OK;
    for (int p = 0; p < h->nparts; p++)
        oss_bus_consumer_stored(c, h->topic, p, h->stored_cluster,
                                h->stored_offset < 0 ? h->his[p]
                                                     : h->stored_offset);
    return OSS_OK;
}

static oss_code_t
h_catch_up(void *arg, const char *why, oss_err_t *err) {
    hooks_state_t *h = arg;
    (void)err;
    h->catch_ups++;
    snprintf(h->why, sizeof h->why, "%s", why);
    return OSS_OK;
}

static oss_code_t
h_store(void *arg, const char *cluster, const oss_bus_position_t *pos, size_t n,
        oss_err_t *err) {
    hooks_state_t *h = arg;
    (void)err;
    assert_true(cluster && *cluster);
    h->stores++;
    for (size_t i = 0; i < n && pos[i].partition < 64; i++)
        h->stored_next[pos[i].partition] = pos[i].next;
    return OSS_OK;
}

static oss_bus_consumer_t *
consumer(hooks_state_t *h, oss_bus_join_t join) {
    static const char *types[2];
    types[0] = fx.type;
    types[1] = NULL;
    oss_bus_consumer_opts_t o = {.group_id = "oss-test-bus-consumer",
                                 .client_id = "oss-test",
                                 .stream_types = types,
                                 .join = join,
                                 .hooks = {.load = h_load,
                                           .catch_up = h_catch_up,
                                           .store = h_store,
                                           .arg = h}};
    oss_bus_consumer_t *c = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_bus_consumer_new(fx.cfg, &o, &c, &err), OSS_OK);
    assert_int_equal(oss_bus_consumer_open(c, &err), OSS_OK);
    assert_true(oss_bus_consumer_need_sync(c));
    assert_true(oss_bus_consumer_cluster_id(c)[0] != '\0');
    size_t n = 0;
    oss_bus_position_t *pos = oss_bus_consumer_positions(c, &n);
    assert_true(n >= 1 && n <= 64);
    snprintf(h->topic, sizeof h->topic, "%s", fx.topic);
    h->nparts = (int)n;
    assert_int_equal(oss_bus_consumer_query_watermarks(c, &err), OSS_OK);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(pos[i].topic, fx.topic);
        h->his[pos[i].partition] = pos[i].hi;
    }
    return c;
}

/* Reads until idle_ms pass without a message; returns how many of ours. */
static int
drain(oss_bus_consumer_t *c, int idle_ms, int check) {
    int got = 0;
    int64_t last = oss_mono_ms();
    while (oss_mono_ms() - last < idle_ms) {
        rd_kafka_message_t *m = oss_bus_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            last = oss_mono_ms();
            got++;
            if (check) {
                char id[64], sig[80], spec[8], type[64];
                assert_non_null(
                    oss_bus_message_header(m, "ce_id", id, sizeof id));
                assert_non_null(oss_bus_message_header(m, OSS_BUS_SIG_HEADER,
                                                       sig, sizeof sig));
                assert_non_null(oss_bus_message_header(m, "ce_specversion",
                                                       spec, sizeof spec));
                assert_string_equal(spec, "1.0");
                assert_non_null(
                    oss_bus_message_header(m, "ce_type", type, sizeof type));
                assert_string_equal(type, "oss.v1.Tail");
                assert_null(oss_bus_message_header(m, "ce_id", id, 4));
                assert_true(oss_bus_verify(&fx.ring, id, m->key, m->key_len,
                                           m->payload, m->len, sig));
                oss_event_t ev;
                oss_err_t err = {0};
                assert_int_equal(
                    oss_envelope_decode(m->payload, m->len, &ev, &err), OSS_OK);
                assert_string_equal(ev.event_id, id);
                oss_event_clear(&ev);
            }
            oss_bus_consumer_advance(c, m);
        }
        rd_kafka_message_destroy(m);
    }
    return got;
}

static void
test_produce_then_catch_up_from_nothing(void **state) {
    (void)state;
    oss_err_t err = {0};
    oss_bus_signer_t *signer = oss_bus_signer_new(&fx.ring);
    assert_non_null(signer);
    oss_bus_producer_opts_t po = {.client_id = "oss-test-producer",
                                  .source = "/test",
                                  .signer = signer,
                                  .message_timeout_ms = 10000,
                                  .on_delivery = on_delivery,
                                  .arg = &fx};
    oss_bus_producer_t *p = NULL;
    assert_int_equal(oss_bus_producer_new(fx.cfg, &po, &p, &err), OSS_OK);
    char cid[128];
    assert_int_equal(
        oss_bus_producer_cluster_id(p, 10000, cid, sizeof cid, &err), OSS_OK);
    assert_true(cid[0] != '\0');
    for (int i = 0; i < N; i++)
        assert_int_equal(
            oss_bus_producer_send(p, &fx.evs[i], (uint64_t)i + 1, &err),
            OSS_OK);
    oss_bus_producer_flush(p, 10000);
    assert_int_equal(oss_bus_producer_outq_len(p), 0);
    assert_int_equal(fx.delivered, N);
    assert_int_equal(fx.failed, 0);
    oss_bus_producer_free(p, 0);
    oss_bus_signer_free(signer);

    /* nothing stored: catch-up, then from the beginning */
    hooks_state_t h = {0};
    oss_bus_consumer_t *c = consumer(&h, OSS_BUS_JOIN_BEGINNING);
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    assert_int_equal(h.catch_ups, 1);
    assert_string_equal(h.why, "no stored positions");
    assert_false(oss_bus_consumer_need_sync(c));
    assert_int_equal(drain(c, 3000, 1), N);
    /* advance() moved every partition to its high watermark */
    size_t n = 0;
    oss_bus_position_t *pos = oss_bus_consumer_positions(c, &n);
    for (size_t i = 0; i < n; i++)
        if (pos[i].hi > 0)
            assert_int_equal(pos[i].next, pos[i].hi);
    oss_bus_consumer_free(c);
}

static void
test_resume_at_stored_positions(void **state) {
    (void)state;
    oss_err_t err = {0};
    hooks_state_t h = {0};
    oss_bus_consumer_t *c = consumer(&h, OSS_BUS_JOIN_WATERMARK);
    h.stored_cluster = oss_bus_consumer_cluster_id(c);
    h.stored_offset = -1; /* at the end: nothing left to read */
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    assert_int_equal(h.catch_ups, 0);
    assert_int_equal(h.stores, 0);
    assert_int_equal(drain(c, 1500, 0), 0);
    /* stored at 0 everywhere: everything is read again */
    h.stored_offset = 0;
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    assert_int_equal(h.catch_ups, 0);
    assert_int_equal(drain(c, 3000, 0), N);
    oss_bus_consumer_free(c);
}

static void
test_new_cluster_joins_at_watermarks(void **state) {
    (void)state;
    oss_err_t err = {0};
    hooks_state_t h = {0};
    oss_bus_consumer_t *c = consumer(&h, OSS_BUS_JOIN_WATERMARK);
    h.stored_cluster = "some-older-cluster";
    h.stored_offset = 0;
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    assert_int_equal(h.catch_ups, 1);
    assert_string_equal(h.why, "the broker's cluster id changed");
    assert_int_equal(h.stores, 1);
    for (int p = 0; p < h.nparts; p++)
        assert_int_equal(h.stored_next[p], h.his[p]);
    /* the journal covered what lies below the watermarks */
    assert_int_equal(drain(c, 1500, 0), 0);
    oss_bus_consumer_free(c);
}

static void
test_out_of_range_catches_up(void **state) {
    (void)state;
    oss_err_t err = {0};
    hooks_state_t h = {0};
    oss_bus_consumer_t *c = consumer(&h, OSS_BUS_JOIN_BEGINNING);
    h.stored_cluster = oss_bus_consumer_cluster_id(c);
    h.stored_offset = 100000000; /* far beyond what the broker holds */
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_OK);
    assert_int_equal(h.catch_ups, 1);
    assert_string_equal(h.why, "offset out of range");
    for (int p = 0; p < h.nparts; p++)
        assert_int_equal(h.stored_next[p], OSS_BUS_OFFSET_BEGINNING);
    assert_int_equal(drain(c, 3000, 0), N);
    assert_false(oss_bus_consumer_bootstrap_changed(c));
    oss_bus_consumer_close(c);
    assert_false(oss_bus_consumer_is_open(c));
    oss_bus_consumer_free(c);
}

static int
setup(void **state) {
    (void)state;
    oss_err_t err = {0};
    if (oss_test_load_env())
        return -1;
    if (oss_config_load(oss_test_env("OSS_CONFIG"), &fx.cfg, &err) ||
        oss_keyring_load(oss_config_str(fx.cfg, "bus.signing_key_file"),
                         &fx.ring, &err))
        return -1;
    snprintf(fx.type, sizeof fx.type, "bc%lx%x", (long)time(NULL),
             (unsigned)getpid() & 0xffff);
    oss_bus_topic(fx.cfg, fx.type, fx.topic, sizeof fx.topic);
    for (int i = 0; i < N; i++) {
        oss_event_t *ev = &fx.evs[i];
        memset(ev, 0, sizeof *ev);
        oss_uuid7(ev->event_id);
        snprintf(ev->stream_id, sizeof ev->stream_id, "%s-%d", fx.type, i % 7);
        snprintf(ev->stream_type, sizeof ev->stream_type, "%s", fx.type);
        ev->version = i / 7 + 1;
        ev->position = 1000 + i;
        ev->occurred_at_us = ev->recorded_at_us = 1795000000000000LL;
        ev->actor_kind = OSS_ACTOR_SYSTEM_JOB;
        snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Tail");
        ev->schema_version = 1;
    }
    return 0;
}

static int
teardown(void **state) {
    (void)state;
    oss_config_free(fx.cfg);
    return 0;
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_then_catch_up_from_nothing),
        cmocka_unit_test(test_resume_at_stored_positions),
        cmocka_unit_test(test_new_cluster_joins_at_watermarks),
        cmocka_unit_test(test_out_of_range_catches_up),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
