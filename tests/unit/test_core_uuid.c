/* Unit tests of src/core/uuid.h: validation (either case, dashes, length),
 * parsing and formatting (lower case), the v4 bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/uuid.h"

static const char *const good[] = {
    "00000000-0000-0000-0000-000000000000",
    "0190a6f4-8b2c-7d3e-9f10-123456789abc",
    "0190A6F4-8B2C-7D3E-9F10-123456789ABC", /* upper case */
    "0190a6F4-8b2C-7d3E-9f10-123456789AbC", /* mixed */
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
};

static void
test_valid(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(oss_uuid_valid(good[i]));
    const char *bad[] = {
        NULL,
        "",
        "0190a6f4-8b2c-7d3e-9f10-123456789ab",   /* 35 */
        "0190a6f4-8b2c-7d3e-9f10-123456789abcd", /* 37 */
        "0190a6f48b2c7d3e9f10123456789abc",      /* no dashes */
        "0190a6f4-8b2c-7d3e-9f10_123456789abc",  /* '_' for '-' */
        "0190a6f48-b2c-7d3e-9f10-123456789abc",  /* dash misplaced */
        "0190a6g4-8b2c-7d3e-9f10-123456789abc",  /* 'g' */
        "0190a6f4-8b2c-7d3e-9f10-123456789ab ",  /* space */
        "{0190a6f4-8b2c-7d3e-9f10-123456789ab}", /* braces */
        "0190a6f4-8b2c-7d3e-9f10-12345678\xc3\xa9"
        "bc",
        "------------------------------------",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(oss_uuid_valid(bad[i]));
}

static void
test_parse_format(void **state) {
    (void)state;
    uint8_t b[OSS_UUID_LEN];
    char s[OSS_UUID_STR];
    oss_err_t err;
    assert_int_equal(oss_uuid_parse(good[1], b, &err), OSS_OK);
    const uint8_t want[16] = {0x01, 0x90, 0xa6, 0xf4, 0x8b, 0x2c, 0x7d, 0x3e,
                              0x9f, 0x10, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
    assert_memory_equal(b, want, 16);
    oss_uuid_format(b, s);
    assert_string_equal(s, good[1]);
    /* upper case parses to the same bytes and formats lower case */
    assert_int_equal(oss_uuid_parse(good[2], b, NULL), OSS_OK);
    assert_memory_equal(b, want, 16);
    oss_uuid_format(b, s);
    assert_string_equal(s, good[1]);
    assert_int_equal(strlen(s), 36);
    assert_int_equal(oss_uuid_parse("not-a-uuid", b, &err), OSS_EMALFORMED);
    assert_int_equal(err.code, OSS_EMALFORMED);
    assert_int_equal(oss_uuid_parse(NULL, b, NULL), OSS_EMALFORMED);
}

static void
test_v4(void **state) {
    (void)state;
    uint8_t rnd[16];
    char s[OSS_UUID_STR];
    memset(rnd, 0xff, sizeof rnd);
    oss_uuid_format_v4(rnd, s);
    assert_string_equal(s, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(rnd, 0, sizeof rnd);
    oss_uuid_format_v4(rnd, s);
    assert_string_equal(s, "00000000-0000-4000-8000-000000000000");
    assert_true(oss_uuid_valid(s));
    assert_int_equal(rnd[6], 0); /* the caller's bytes are not changed */
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_v4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
