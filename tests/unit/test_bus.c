/* Unit tests of the bus module: envelope roundtrip, decoding garbage and
 * truncations, signatures, CloudEvents headers, configuration. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oss_test.h"

#include "bus/bus.h"
#include "oss/v1/envelope.pb-c.h"

static void
sample_event(oss_event_t *ev) {
    memset(ev, 0, sizeof *ev);
    strcpy(ev->event_id, "01890a5d-ac96-774b-bcce-b302099a8057");
    strcpy(ev->stream_id, "account-0f1e2d3c");
    strcpy(ev->stream_type, "account");
    ev->version = 7;
    ev->position = 123456789012LL;
    ev->occurred_at_us = 1795000000123456LL;
    ev->recorded_at_us = 1795000000223456LL;
    ev->actor_kind = OSS_ACTOR_OFFICER;
    strcpy(ev->actor_id, "officer-9");
    strcpy(ev->correlation_id, "corr-1");
    strcpy(ev->causation_id, "cmd-1");
    strcpy(ev->cause_id, "");
    ev->reason = strdup("manual fix");
    strcpy(ev->software_version, "oss/0.1.0");
    strcpy(ev->payload_type, "oss.v1.AccountRegistered");
    ev->schema_version = 1;
    ev->payload_len = 300;
    ev->payload = malloc(ev->payload_len);
    for (size_t i = 0; i < ev->payload_len; i++)
        ev->payload[i] = (uint8_t)(i * 7);
    for (int i = 0; i < OSS_HASH_LEN; i++) {
        ev->prev_hash[i] = (uint8_t)i;
        ev->hash[i] = (uint8_t)(255 - i);
    }
}

static void
test_roundtrip(void **state) {
    (void)state;
    oss_event_t a, b;
    oss_err_t err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    sample_event(&a);
    assert_int_equal(oss_envelope_encode(&a, &buf, &len, &err), OSS_OK);
    assert_true(len > 300);
    assert_int_equal(oss_envelope_decode(buf, len, &b, &err), OSS_OK);
    assert_string_equal(a.event_id, b.event_id);
    assert_string_equal(a.stream_id, b.stream_id);
    assert_string_equal(a.stream_type, b.stream_type);
    assert_int_equal(a.version, b.version);
    assert_int_equal(a.position, b.position);
    assert_int_equal(a.occurred_at_us, b.occurred_at_us);
    assert_int_equal(a.recorded_at_us, b.recorded_at_us);
    assert_int_equal(a.actor_kind, b.actor_kind);
    assert_string_equal(a.actor_id, b.actor_id);
    assert_string_equal(a.correlation_id, b.correlation_id);
    assert_string_equal(a.causation_id, b.causation_id);
    assert_string_equal(a.cause_id, b.cause_id);
    assert_string_equal(a.reason, b.reason);
    assert_string_equal(a.software_version, b.software_version);
    assert_string_equal(a.payload_type, b.payload_type);
    assert_int_equal(a.schema_version, b.schema_version);
    assert_int_equal(a.payload_len, b.payload_len);
    assert_memory_equal(a.payload, b.payload, a.payload_len);
    assert_memory_equal(a.prev_hash, b.prev_hash, OSS_HASH_LEN);
    assert_memory_equal(a.hash, b.hash, OSS_HASH_LEN);
    free(buf);
    oss_event_clear(&b);

    /* no reason, no payload */
    free(a.reason);
    a.reason = NULL;
    free(a.payload);
    a.payload = NULL;
    a.payload_len = 0;
    assert_int_equal(oss_envelope_encode(&a, &buf, &len, &err), OSS_OK);
    assert_int_equal(oss_envelope_decode(buf, len, &b, &err), OSS_OK);
    assert_null(b.reason);
    assert_null(b.payload);
    assert_int_equal(b.payload_len, 0);
    free(buf);
    oss_event_clear(&b);
    oss_event_clear(&a);
}

static void
test_garbage(void **state) {
    (void)state;
    oss_event_t ev;
    oss_err_t err = {0};
    uint8_t buf[512];
    unsigned seed = 12345;
    int ok = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rand_r(&seed);
        oss_code_t rc = oss_envelope_decode(buf, n, &ev, &err);
        assert_true(rc == OSS_OK || rc == OSS_EMALFORMED);
        if (rc == OSS_OK) {
            ok++;
            /* whatever decoded is bounded and terminated */
            assert_true(strlen(ev.event_id) < sizeof ev.event_id);
            assert_true(strlen(ev.stream_id) < sizeof ev.stream_id);
        }
        oss_event_clear(&ev);
    }
    /* random bytes almost never form a valid envelope with 32-byte hashes */
    assert_true(ok < 100);
    assert_int_equal(oss_envelope_decode(NULL, 0, &ev, &err), OSS_EMALFORMED);
}

static void
test_truncations_and_flips(void **state) {
    (void)state;
    oss_event_t a, b;
    oss_err_t err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    sample_event(&a);
    assert_int_equal(oss_envelope_encode(&a, &buf, &len, &err), OSS_OK);
    for (size_t n = 0; n < len; n++) {
        oss_code_t rc = oss_envelope_decode(buf, n, &b, &err);
        assert_true(rc == OSS_OK || rc == OSS_EMALFORMED);
        oss_event_clear(&b);
    }
    /* the full-length decode is what ran in roundtrip; a truncation inside the
     * last field (the hash) must fail */
    assert_int_equal(oss_envelope_decode(buf, len - 1, &b, &err),
                     OSS_EMALFORMED);
    uint8_t *copy = malloc(len);
    unsigned seed = 7;
    for (int round = 0; round < 5000; round++) {
        memcpy(copy, buf, len);
        for (int k = 0; k < 3; k++)
            copy[rand_r(&seed) % len] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
        oss_code_t rc = oss_envelope_decode(copy, len, &b, &err);
        assert_true(rc == OSS_OK || rc == OSS_EMALFORMED);
        oss_event_clear(&b);
    }
    free(copy);
    free(buf);
    oss_event_clear(&a);
}

/* A valid protobuf whose strings exceed the event's fixed fields. */
static void
test_oversized_fields(void **state) {
    (void)state;
    char longid[300];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    uint8_t h[32] = {0};
    Oss__V1__Envelope env = OSS__V1__ENVELOPE__INIT;
    env.event_id = "01890a5d-ac96-774b-bcce-b302099a8057";
    env.stream_id = longid;
    env.prev_hash.data = h;
    env.prev_hash.len = 32;
    env.hash.data = h;
    env.hash.len = 32;
    uint8_t buf[1024];
    size_t n = oss__v1__envelope__pack(&env, buf);
    oss_event_t ev;
    oss_err_t err = {0};
    assert_int_equal(oss_envelope_decode(buf, n, &ev, &err), OSS_EMALFORMED);
    assert_string_equal(err.field, "stream_id");

    env.stream_id = "s";
    env.event_id = longid + 250; /* 49 chars > 36 */
    n = oss__v1__envelope__pack(&env, buf);
    assert_int_equal(oss_envelope_decode(buf, n, &ev, &err), OSS_EMALFORMED);
    assert_string_equal(err.field, "event_id");

    env.event_id = "e";
    env.hash.len = 31;
    n = oss__v1__envelope__pack(&env, buf);
    assert_int_equal(oss_envelope_decode(buf, n, &ev, &err), OSS_EMALFORMED);

    env.hash.len = 32;
    env.stream_version = (uint64_t)INT64_MAX + 1;
    n = oss__v1__envelope__pack(&env, buf);
    assert_int_equal(oss_envelope_decode(buf, n, &ev, &err), OSS_EMALFORMED);

    env.stream_version = 1;
    n = oss__v1__envelope__pack(&env, buf);
    assert_int_equal(oss_envelope_decode(buf, n, &ev, &err), OSS_OK);
    oss_event_clear(&ev);
}

static void
test_sign_verify(void **state) {
    (void)state;
    oss_keyring_t ring = {0}, other = {0}, rotated = {0};
    ring.n = 1;
    memset(ring.key[0], 0x11, 32);
    other.n = 1;
    memset(other.key[0], 0x22, 32);
    rotated.n = 2; /* new current key, old key still accepted */
    memset(rotated.key[0], 0x33, 32);
    memset(rotated.key[1], 0x11, 32);

    const char *id = "01890a5d-ac96-774b-bcce-b302099a8057";
    const char *key = "account-1";
    uint8_t val[100];
    for (int i = 0; i < 100; i++)
        val[i] = (uint8_t)i;
    char sig[65];
    oss_bus_sign(&ring, id, key, strlen(key), val, sizeof val, sig);
    assert_int_equal(strlen(sig), 64);
    assert_true(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val, sig));
    assert_true(
        oss_bus_verify(&rotated, id, key, strlen(key), val, sizeof val, sig));
    assert_false(
        oss_bus_verify(&other, id, key, strlen(key), val, sizeof val, sig));
    /* deterministic */
    char sig2[65];
    oss_bus_sign(&ring, id, key, strlen(key), val, sizeof val, sig2);
    assert_string_equal(sig, sig2);
    /* any change fails */
    val[50] ^= 1;
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val, sig));
    val[50] ^= 1;
    assert_false(oss_bus_verify(&ring, "01890a5d-ac96-774b-bcce-b302099a8058",
                                key, strlen(key), val, sizeof val, sig));
    assert_false(
        oss_bus_verify(&ring, id, "account-2", 9, val, sizeof val, sig));
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val - 1, sig));
    /* length prefixes: moving a byte from key to value changes the input */
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key) - 1, val, sizeof val, sig));
    char bad[65];
    strcpy(bad, sig);
    bad[0] = bad[0] == 'a' ? 'b' : 'a';
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val, bad));
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val, "zz"));
    assert_false(
        oss_bus_verify(&ring, id, key, strlen(key), val, sizeof val, NULL));
    oss_keyring_t empty = {0};
    assert_false(
        oss_bus_verify(&empty, id, key, strlen(key), val, sizeof val, sig));
}

static const char *
header(rd_kafka_headers_t *h, const char *name) {
    const void *v;
    size_t n;
    static char buf[256];
    if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)n, (const char *)v);
    return buf;
}

static void
test_headers(void **state) {
    (void)state;
    oss_event_t ev;
    oss_err_t err = {0};
    sample_event(&ev);
    ev.occurred_at_us = 1795000000123456LL; /* 2026-11-18T11:06:40 UTC */
    oss_keyring_t ring = {0};
    ring.n = 1;
    memset(ring.key[0], 0x11, 32);
    uint8_t *buf;
    size_t len;
    assert_int_equal(oss_envelope_encode(&ev, &buf, &len, &err), OSS_OK);
    rd_kafka_headers_t *h =
        oss_bus_headers(&ev, "/oss/journal", &ring, buf, len);
    assert_non_null(h);
    assert_string_equal(header(h, "ce_specversion"), "1.0");
    assert_string_equal(header(h, "ce_id"), ev.event_id);
    assert_string_equal(header(h, "ce_source"), "/oss/journal");
    assert_string_equal(header(h, "ce_type"), "oss.v1.AccountRegistered");
    assert_string_equal(header(h, "ce_time"), "2026-11-18T11:06:40.123456Z");
    assert_string_equal(header(h, "ce_subject"), ev.stream_id);
    assert_string_equal(header(h, "ce_dataschema"),
                        "urn:oss:proto:oss.v1.Envelope");
    assert_string_equal(header(h, "content-type"), "application/protobuf");
    const char *sig = header(h, OSS_BUS_SIG_HEADER);
    assert_non_null(sig);
    assert_true(oss_bus_verify(&ring, ev.event_id, ev.stream_id,
                               strlen(ev.stream_id), buf, len, sig));
    rd_kafka_headers_destroy(h);

    /* times before 1970 and without a ring: no signature header */
    ev.occurred_at_us = -1;
    h = oss_bus_headers(&ev, NULL, NULL, buf, len);
    assert_string_equal(header(h, "ce_time"), "1969-12-31T23:59:59.999999Z");
    assert_null(header(h, OSS_BUS_SIG_HEADER));
    rd_kafka_headers_destroy(h);
    free(buf);
    oss_event_clear(&ev);
}

static void
test_conf(void **state) {
    (void)state;
    char path[] = "/tmp/oss-test-bus-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *content = "127.0.0.1:1234,127.0.0.1:5678\n";
    assert_int_equal(write(fd, content, strlen(content)),
                     (ssize_t)strlen(content));
    close(fd);

    char cpath[] = "/tmp/oss-test-bus-conf-XXXXXX";
    fd = mkstemp(cpath);
    char line[512];
    snprintf(line, sizeof line,
             "bus.bootstrap_file = %s\nbus.topic_prefix = t.\n"
             "kafka.linger.ms = 7\n",
             path);
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    close(fd);

    unsetenv("OSS_KAFKA_BOOTSTRAP_SERVERS");
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_config_load(cpath, &cfg, &err), OSS_OK);
    char bs[256];
    assert_int_equal(oss_bus_bootstrap(cfg, bs, sizeof bs, &err), OSS_OK);
    assert_string_equal(bs, "127.0.0.1:1234,127.0.0.1:5678");
    char topic[64];
    oss_bus_topic(cfg, "account", topic, sizeof topic);
    assert_string_equal(topic, "t.account");
    rd_kafka_conf_t *conf = oss_bus_conf_new(cfg, &err);
    assert_non_null(conf);
    char v[256];
    size_t vn = sizeof v;
    assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", v, &vn),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(v, "7");
    vn = sizeof v;
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", v, &vn),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(v, "127.0.0.1:1234,127.0.0.1:5678");
    rd_kafka_conf_destroy(conf);
    oss_config_free(cfg);

    /* a bad kafka.* property names the key */
    FILE *f = fopen(cpath, "a");
    fputs("kafka.no.such.property = 1\n", f);
    fclose(f);
    assert_int_equal(oss_config_load(cpath, &cfg, &err), OSS_OK);
    assert_null(oss_bus_conf_new(cfg, &err));
    assert_int_equal(err.code, OSS_EINVAL);
    assert_string_equal(err.field, "kafka.no.such.property");
    oss_config_free(cfg);

    /* a missing bootstrap file is "unavailable" */
    unlink(path);
    f = fopen(cpath, "w");
    fprintf(f, "bus.bootstrap_file = %s\n", path);
    fclose(f);
    assert_int_equal(oss_config_load(cpath, &cfg, &err), OSS_OK);
    assert_int_equal(oss_bus_bootstrap(cfg, bs, sizeof bs, &err), OSS_EUNAVAIL);
    oss_config_free(cfg);
    unlink(cpath);
}

/* The relay's allocation-free paths give the same bytes as the one-shot
 * ones: a reused signer equals oss_bus_sign, encoding into a reused buffer
 * equals oss_envelope_encode, and the filled headers equal oss_bus_headers. */
static void
test_reused_signer_and_buffer(void **state) {
    (void)state;
    oss_keyring_t ring = {0};
    ring.n = 1;
    memset(ring.key[0], 0x11, 32);
    assert_null(oss_bus_signer_new(&(oss_keyring_t){0}));
    oss_bus_signer_t *s = oss_bus_signer_new(&ring);
    assert_non_null(s);
    uint8_t *reused = NULL;
    size_t cap = 0;
    for (int round = 0; round < 3; round++) {
        oss_event_t ev;
        oss_err_t err = {0};
        sample_event(&ev);
        ev.version += round;
        ev.payload_len = round == 1 ? 5000 : 300; /* forces a regrowth */
        ev.payload = realloc(ev.payload, ev.payload_len);
        memset(ev.payload, round + 1, ev.payload_len);
        uint8_t *one = NULL;
        size_t n1 = 0, n2 = 0;
        assert_int_equal(oss_envelope_encode(&ev, &one, &n1, &err), OSS_OK);
        assert_int_equal(oss_envelope_encode_buf(&ev, &reused, &cap, &n2, &err),
                         OSS_OK);
        assert_int_equal(n1, n2);
        assert_true(cap >= n2);
        assert_memory_equal(one, reused, n1);

        char a[65], b[65];
        oss_bus_sign(&ring, ev.event_id, ev.stream_id, strlen(ev.stream_id),
                     one, n1, a);
        oss_bus_signer_sign(s, ev.event_id, ev.stream_id, strlen(ev.stream_id),
                            reused, n2, b);
        assert_int_equal(strlen(b), 64);
        assert_string_equal(a, b);
        assert_true(oss_bus_verify(&ring, ev.event_id, ev.stream_id,
                                   strlen(ev.stream_id), reused, n2, b));

        rd_kafka_headers_t *h1 = oss_bus_headers(&ev, "/t", &ring, one, n1);
        rd_kafka_headers_t *h2 = rd_kafka_headers_new(9);
        assert_int_equal(oss_bus_headers_fill(h2, &ev, "/t", s, reused, n2), 0);
        assert_int_equal(rd_kafka_header_cnt(h1), rd_kafka_header_cnt(h2));
        for (size_t i = 0; i < rd_kafka_header_cnt(h1); i++) {
            const char *k1, *k2;
            const void *v1, *v2;
            size_t l1, l2;
            assert_int_equal(rd_kafka_header_get_all(h1, i, &k1, &v1, &l1), 0);
            assert_int_equal(rd_kafka_header_get_all(h2, i, &k2, &v2, &l2), 0);
            assert_string_equal(k1, k2);
            assert_int_equal(l1, l2);
            assert_memory_equal(v1, v2, l1);
        }
        rd_kafka_headers_destroy(h1);
        rd_kafka_headers_destroy(h2);
        free(one);
        oss_event_clear(&ev);
    }
    free(reused);
    oss_bus_signer_free(s);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_oversized_fields),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_reused_signer_and_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
