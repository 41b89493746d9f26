/* Unit tests of the audit tools' pure parts: chain links, checkpoint text and
 * digest, masking of personal values. No servers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "audit.h"
#include "crypto/crypto.h"

static void
make_event(oss_event_t *ev, const char *stream, int64_t version,
           const uint8_t prev[32]) {
    memset(ev, 0, sizeof *ev);
    oss_uuid7(ev->event_id);
    snprintf(ev->stream_id, sizeof ev->stream_id, "%s", stream);
    snprintf(ev->stream_type, sizeof ev->stream_type, "account");
    ev->version = version;
    ev->occurred_at_us = 1790000000123456LL + version;
    ev->recorded_at_us = ev->occurred_at_us + 5;
    ev->actor_kind = OSS_ACTOR_OFFICER;
    snprintf(ev->actor_id, sizeof ev->actor_id, "officer-7");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.Test");
    ev->schema_version = 1;
    ev->payload = malloc(4);
    memcpy(ev->payload, "abcd", 4);
    ev->payload_len = 4;
    memcpy(ev->prev_hash, prev, 32);
    oss_audit_rehash(ev, ev->hash);
}

static void
test_chain_links(void **state) {
    (void)state;
    static const uint8_t zero[32];
    oss_event_t a, b, c;
    char what[200];
    make_event(&a, "s-1", 1, zero);
    make_event(&b, "s-1", 2, a.hash);
    make_event(&c, "s-1", 3, b.hash);
    assert_int_equal(oss_audit_check_link(NULL, &a, what, sizeof what), 1);
    assert_int_equal(oss_audit_check_link(&a, &b, what, sizeof what), 1);
    assert_int_equal(oss_audit_check_link(&b, &c, what, sizeof what), 1);
    /* a missing middle event */
    assert_int_equal(oss_audit_check_link(&a, &c, what, sizeof what), 0);
    assert_non_null(strstr(what, "missing"));
    /* altered content, hash kept */
    b.payload[0] = 'X';
    assert_int_equal(oss_audit_check_link(&a, &b, what, sizeof what), 0);
    assert_non_null(strstr(what, "content"));
    /* re-hashed after the change: the next link breaks */
    oss_audit_rehash(&b, b.hash);
    assert_int_equal(oss_audit_check_link(&a, &b, what, sizeof what), 1);
    assert_int_equal(oss_audit_check_link(&b, &c, what, sizeof what), 0);
    assert_non_null(strstr(what, "prev_hash"));
    /* altered reason: NULL -> text changes the hash */
    c.reason = strdup("changed by hand");
    assert_int_equal(oss_audit_check_link(NULL, &a, what, sizeof what), 1);
    uint8_t h[32];
    oss_audit_rehash(&c, h);
    assert_memory_not_equal(h, c.hash, 32);
    /* version 1 must have a zero prev_hash */
    assert_int_equal(oss_audit_check_link(NULL, &b, what, sizeof what), 0);
    oss_event_clear(&a);
    oss_event_clear(&b);
    oss_event_clear(&c);
}

static void
test_checkpoint_text(void **state) {
    (void)state;
    oss_audit_checkpoint_t cp = {.size = 12345}, back;
    for (int i = 0; i < 32; i++)
        cp.digest[i] = (uint8_t)(i * 7 + 1);
    char text[128];
    oss_audit_checkpoint_format(&cp, text, sizeof text);
    assert_int_equal(strncmp(text, "12345:", 6), 0);
    assert_int_equal(strlen(text), 6 + 64);
    oss_err_t err = {0};
    assert_int_equal(oss_audit_checkpoint_parse(text, &back, &err), OSS_OK);
    assert_int_equal(back.size, 12345);
    assert_memory_equal(back.digest, cp.digest, 32);
    const char *bad[] = {"",
                         ":",
                         "12",
                         "12:abc",
                         "x1:"
                         "00000000000000000000000000000000"
                         "00000000000000000000000000000000",
                         "1:zz000000000000000000000000000000"
                         "00000000000000000000000000000000",
                         "-1:00000000000000000000000000000000"
                         "00000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(oss_audit_checkpoint_parse(bad[i], &back, &err),
                         OSS_EINVAL);
}

static void
test_digest_order_matters(void **state) {
    (void)state;
    uint8_t h1[32], h2[32], d1[32] = {0}, d2[32] = {0}, d3[32] = {0};
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    oss_audit_digest_step(d1, 1, h1, h1);
    oss_audit_digest_step(d1, 2, h2, h2);
    oss_audit_digest_step(d2, 2, h2, h2);
    oss_audit_digest_step(d2, 1, h1, h1);
    assert_memory_not_equal(d1, d2, 32);
    /* dropping a row changes it */
    oss_audit_digest_step(d3, 1, h1, h1);
    assert_memory_not_equal(d1, d3, 32);
    /* same rows, same positions: same digest */
    memset(d2, 0, 32);
    oss_audit_digest_step(d2, 1, h1, h1);
    oss_audit_digest_step(d2, 2, h2, h2);
    assert_memory_equal(d1, d2, 32);
    /* a position renumbered changes it */
    memset(d3, 0, 32);
    oss_audit_digest_step(d3, 1, h1, h1);
    oss_audit_digest_step(d3, 3, h2, h2);
    assert_memory_not_equal(d1, d3, 32);
}

static void
test_mask(void **state) {
    (void)state;
    char out[128];
    oss_audit_mask("nik", "3171015403909901", out, sizeof out);
    assert_string_equal(out, "3171********9901");
    oss_audit_mask("email", "budi.santoso@example.co.id", out, sizeof out);
    assert_string_equal(out, "b***********@example.co.id");
    oss_audit_mask("phone", "+6285712345678", out, sizeof out);
    assert_string_equal(out, "+62*******5678");
    oss_audit_mask("birth_date", "1990-03-14", out, sizeof out);
    assert_string_equal(out, "1990-**-**");
    oss_audit_mask("name", "Siti Nurhaliza", out, sizeof out);
    assert_string_equal(out, "S*** N********");
    oss_audit_mask("name", "\xc3\x89lise Z", out, sizeof out); /* Élise */
    assert_string_equal(out, "\xc3\x89**** Z");
    oss_audit_mask("nik", "1234", out, sizeof out);
    assert_string_equal(out, "****");
    oss_audit_mask("email", "nobody", out, sizeof out);
    assert_string_equal(out, "******");
    /* truncation is safe */
    char tiny[5];
    oss_audit_mask("nik", "3171015403909901", tiny, sizeof tiny);
    assert_string_equal(tiny, "3171");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_links),
        cmocka_unit_test(test_checkpoint_text),
        cmocka_unit_test(test_digest_order_matters),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
