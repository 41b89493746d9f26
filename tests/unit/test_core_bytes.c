/* Unit tests of src/core/bytes.h (big-endian integers, hex digits) and
 * src/core/clock.h (wall clock against time(), monotonic never backwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "core/bytes.h"
#include "core/clock.h"

static void
test_be64_round_trip(void **state) {
    (void)state;
    const uint8_t want[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    uint8_t buf[8];
    assert_true(oss_be64_get(want) == 0x0123456789abcdefULL);
    oss_be64_put(buf, 0x0123456789abcdefULL);
    assert_memory_equal(buf, want, 8);
    const uint64_t vals[] = {
        0, 1, 255, 256, UINT64_MAX, 1ULL << 63, (uint64_t)-946684800000000LL};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        oss_be64_put(buf, vals[i]);
        assert_true(oss_be64_get(buf) == vals[i]);
    }
    oss_be64_put(buf, 1);
    assert_int_equal(buf[7], 1);
    assert_int_equal(buf[0], 0);
}

static void
test_hexval(void **state) {
    (void)state;
    const char *digits = "0123456789abcdef", *upper = "ABCDEF";
    for (int i = 0; i < 16; i++)
        assert_int_equal(oss_hexval(digits[i]), i);
    for (int i = 0; i < 6; i++)
        assert_int_equal(oss_hexval(upper[i]), 10 + i);
    const char *bad = "gGzZ-/:@`[ \n";
    for (size_t i = 0; i < strlen(bad); i++)
        assert_int_equal(oss_hexval(bad[i]), -1);
    assert_int_equal(oss_hexval(0), -1);
    assert_int_equal(oss_hexval(-1), -1);
    assert_int_equal(oss_hexval(0xe9), -1);
}

static void
test_clocks(void **state) {
    (void)state;
    int64_t t = (int64_t)time(NULL);
    int64_t ms = oss_now_ms(), us = oss_now_us();
    assert_true(ms / 1000 >= t - 1 && ms / 1000 <= t + 1);
    assert_true(us / 1000000 >= t - 1 && us / 1000000 <= t + 1);
    assert_true(us / 1000 >= ms);
    int64_t m0 = oss_mono_ms();
    struct timespec d = {0, 20 * 1000000L};
    nanosleep(&d, NULL);
    int64_t m1 = oss_mono_ms();
    assert_true(m1 - m0 >= 19 && m1 - m0 < 5000);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_be64_round_trip),
        cmocka_unit_test(test_hexval),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
