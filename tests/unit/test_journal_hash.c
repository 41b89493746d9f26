/* Unit tests of the journal's hash chain: the canonical layout against golden
 * vectors computed independently (Python struct + hashlib, and printf |
 * sha256sum, when this test was written), and every field being covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "journal/journal.h"

static void
fixed_event(oss_event_t *ev) {
    static const uint8_t payload[] = {0x0a, 0x03, 'a', 'b', 'c'};
    memset(ev, 0, sizeof *ev);
    strcpy(ev->event_id, "01890a5d-ac96-7ab2-80e2-4536629c90de");
    strcpy(ev->stream_id, "account-1");
    strcpy(ev->stream_type, "account");
    ev->version = 1;
    ev->position = 42; /* not hashed */
    ev->occurred_at_us = 1764000000123456LL;
    ev->recorded_at_us = 1764000000654321LL;
    ev->actor_kind = OSS_ACTOR_BUSINESS_USER;
    strcpy(ev->actor_id, "user-7");
    strcpy(ev->correlation_id, "corr-1");
    strcpy(ev->software_version, "oss/0.1.0");
    strcpy(ev->payload_type, "oss.v1.AccountRegistered");
    ev->schema_version = 1;
    ev->payload = malloc(sizeof payload);
    memcpy(ev->payload, payload, sizeof payload);
    ev->payload_len = sizeof payload;
}

static void
test_golden_vector(void **state) {
    (void)state;
    oss_event_t ev;
    char h[65];
    fixed_event(&ev);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(oss_event_canonical(&ev, &buf, &len, NULL), OSS_OK);
    assert_int_equal(len, 254);
    assert_memory_equal(buf, "oss.event.v1\x00\x00\x00\x24", 16);
    free(buf);

    oss_journal_hash(&ev);
    oss_hex_encode(ev.hash, 32, h);
    assert_string_equal(
        h, "35007c21cfdbb732191a795d5eb06b7683fb88e6b2e2cf8675e8bcc9c7d1e46b");

    /* a reason and a non-zero previous hash */
    ev.reason = strdup("typo fix");
    for (int i = 0; i < 32; i++)
        ev.prev_hash[i] = (uint8_t)(i + 1);
    oss_journal_hash(&ev);
    oss_hex_encode(ev.hash, 32, h);
    assert_string_equal(
        h, "d644110901a6fb380637800117996a38c63912c26b1a8f065c0c21f13f7a4002");
    oss_event_clear(&ev);
}

static void
test_position_not_hashed_and_null_reason(void **state) {
    (void)state;
    oss_event_t a, b;
    fixed_event(&a);
    fixed_event(&b);
    b.position = 9999;
    b.reason = strdup(""); /* NULL and "" share one encoding */
    oss_journal_hash(&a);
    oss_journal_hash(&b);
    assert_memory_equal(a.hash, b.hash, 32);
    oss_event_clear(&a);
    oss_event_clear(&b);
}

typedef void (*mutate_fn)(oss_event_t *);
static void
m_event_id(oss_event_t *e) {
    e->event_id[35] = 'f';
}
static void
m_stream_id(oss_event_t *e) {
    strcpy(e->stream_id, "account-2");
}
static void
m_stream_type(oss_event_t *e) {
    strcpy(e->stream_type, "accoun");
}
static void
m_version(oss_event_t *e) {
    e->version = 2;
}
static void
m_occurred(oss_event_t *e) {
    e->occurred_at_us += 1;
}
static void
m_recorded(oss_event_t *e) {
    e->recorded_at_us -= 1;
}
static void
m_actor_kind(oss_event_t *e) {
    e->actor_kind = OSS_ACTOR_OFFICER;
}
static void
m_actor_id(oss_event_t *e) {
    strcpy(e->actor_id, "user-8");
}
static void
m_corr(oss_event_t *e) {
    strcpy(e->correlation_id, "corr-2");
}
static void
m_causation(oss_event_t *e) {
    strcpy(e->causation_id, "c");
}
static void
m_cause(oss_event_t *e) {
    strcpy(e->cause_id, "c");
}
static void
m_reason(oss_event_t *e) {
    e->reason = strdup("x");
}
static void
m_software(oss_event_t *e) {
    strcpy(e->software_version, "oss/0.1.1");
}
static void
m_ptype(oss_event_t *e) {
    strcpy(e->payload_type, "oss.v1.Other");
}
static void
m_schema(oss_event_t *e) {
    e->schema_version = 2;
}
static void
m_payload(oss_event_t *e) {
    e->payload[4] = 'd';
}
static void
m_payload_len(oss_event_t *e) {
    e->payload_len = 4;
}
static void
m_prev(oss_event_t *e) {
    e->prev_hash[31] = 1;
}
/* moving a byte from one field to the next must change the hash too */
static void
m_boundary(oss_event_t *e) {
    strcpy(e->actor_id, "user-7c");
    strcpy(e->correlation_id, "orr-1");
}

static void
test_every_field_changes_hash(void **state) {
    (void)state;
    static const mutate_fn muts[] = {
        m_event_id, m_stream_id,   m_stream_type, m_version, m_occurred,
        m_recorded, m_actor_kind,  m_actor_id,    m_corr,    m_causation,
        m_cause,    m_reason,      m_software,    m_ptype,   m_schema,
        m_payload,  m_payload_len, m_prev,        m_boundary};
    oss_event_t base;
    fixed_event(&base);
    oss_journal_hash(&base);
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        oss_event_t ev;
        fixed_event(&ev);
        muts[i](&ev);
        oss_journal_hash(&ev);
        if (memcmp(ev.hash, base.hash, 32) == 0)
            fail_msg("mutation %zu did not change the hash", i);
        oss_event_clear(&ev);
    }
    oss_event_clear(&base);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vector),
        cmocka_unit_test(test_position_not_hashed_and_null_reason),
        cmocka_unit_test(test_every_field_changes_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
