/* Unit tests of src/core/utc.h: RFC 3339 formatting (0, 3, 6 digits, before
 * 1970, clamping, truncation) and parsing (fractions, offsets, leap years,
 * malformed text), checked against gmtime_r()/timegm(), the calendar, and
 * the YYYYMMDD date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/utc.h"

static void
test_format(void **state) {
    (void)state;
    char s[OSS_UTC_STR];
    assert_int_equal(oss_utc_format(0, 0, s, sizeof s), 20);
    assert_string_equal(s, "1970-01-01T00:00:00Z");
    int64_t t = INT64_C(1795514400) * 1000000 + 123456; /* 10:00 */
    oss_utc_format(t, 6, s, sizeof s);
    assert_string_equal(s, "2026-11-24T10:00:00.123456Z");
    oss_utc_format(t, 3, s, sizeof s);
    assert_string_equal(s, "2026-11-24T10:00:00.123Z");
    oss_utc_format(t, 0, s, sizeof s);
    assert_string_equal(s, "2026-11-24T10:00:00Z");
    /* before 1970: floor, not truncation toward zero */
    oss_utc_format(-1, 6, s, sizeof s);
    assert_string_equal(s, "1969-12-31T23:59:59.999999Z");
    /* leap day */
    oss_utc_format(INT64_C(951782400) * 1000000, 0, s, sizeof s);
    assert_string_equal(s, "2000-02-29T00:00:00Z");
    /* microseconds keep their leading zeros; 0 digits drops them */
    int64_t l = INT64_C(1709251198) * 1000000 + 123;
    oss_utc_format(l, 6, s, sizeof s);
    assert_string_equal(s, "2024-02-29T23:59:58.000123Z");
    oss_utc_format(l, 0, s, sizeof s);
    assert_string_equal(s, "2024-02-29T23:59:58Z");
    oss_utc_format(0, 6, s, sizeof s);
    assert_string_equal(s, "1970-01-01T00:00:00.000000Z");
    /* clamped to years 0000..9999 */
    oss_utc_format(INT64_MAX, 6, s, sizeof s);
    assert_string_equal(s, "9999-12-31T23:59:59.999999Z");
    oss_utc_format(INT64_MIN, 0, s, sizeof s);
    assert_string_equal(s, "0000-01-01T00:00:00Z");
    /* truncated like snprintf, length still reported */
    char small[11];
    assert_int_equal(oss_utc_format(t, 6, small, sizeof small), 27);
    assert_string_equal(small, "2026-11-24");
    assert_int_equal(oss_utc_format(t, 6, small, 0), 27);
}

static void
test_format_matches_gmtime(void **state) {
    (void)state;
    char s[OSS_UTC_STR], want[64];
    /* every ~11 days over 1900..2400, plus odd seconds */
    for (int64_t secs = INT64_C(-2208988800); secs < INT64_C(13569465600);
         secs += 987654 + 321) {
        time_t tt = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        oss_utc_format(secs * 1000000, 0, s, sizeof s);
        assert_string_equal(s, want);
        int64_t back = 0;
        assert_int_equal(oss_utc_parse(s, &back, NULL), OSS_OK);
        assert_true(back == secs * 1000000);
        assert_true((int64_t)timegm(&tm) == secs);
    }
}

static void
test_parse(void **state) {
    (void)state;
    int64_t us = 0;
    oss_err_t err;
    assert_int_equal(oss_utc_parse("2026-11-24T11:20:00Z", &us, &err), OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000);
    assert_int_equal(oss_utc_parse("2026-11-24T11:20:00.5Z", &us, NULL),
                     OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000 + 500000);
    assert_int_equal(oss_utc_parse("2026-11-24T11:20:00.123456789Z", &us, NULL),
                     OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000 + 123456);
    assert_int_equal(oss_utc_parse("2026-11-24T11:20:00+00:00", &us, NULL),
                     OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000);
    assert_int_equal(oss_utc_parse("2026-11-24T18:20:00+07:00", &us, NULL),
                     OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000);
    assert_int_equal(oss_utc_parse("2026-11-24T10:50:00-00:30", &us, NULL),
                     OSS_OK);
    assert_true(us == INT64_C(1795519200) * 1000000);
    assert_int_equal(oss_utc_parse("2024-02-29T00:00:00Z", &us, NULL), OSS_OK);
    assert_int_equal(oss_utc_parse("1969-12-31T23:59:59.999999Z", &us, NULL),
                     OSS_OK);
    assert_true(us == -1);
    const char *bad[] = {
        NULL,
        "",
        "2026-11-24",
        "2026-11-24T11:20:00",      /* no zone */
        "2026-11-24 11:20:00Z",     /* space for T */
        "2026-11-24T11:20:00ZZ",    /* trailing */
        "2026-11-24T11:20:00.Z",    /* empty fraction */
        "2026-13-01T00:00:00Z",     /* month */
        "2026-00-01T00:00:00Z",     /* month */
        "2025-02-29T00:00:00Z",     /* not a leap year */
        "2100-02-29T00:00:00Z",     /* not a leap year */
        "2026-04-31T00:00:00Z",     /* day */
        "2026-11-24T24:00:00Z",     /* hour */
        "2026-11-24T11:60:00Z",     /* minute */
        "2026-11-24T11:20:61Z",     /* second */
        "2026-11-24T11:20:00+0700", /* offset without colon */
        "2026-11-24T11:20:00+24:00",
        "+2026-11-24T11:20:00Z",
        " 2026-11-24T11:20:00Z",
        "2026-1-24T11:20:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us = 42;
        assert_int_equal(oss_utc_parse(bad[i], &us, &err), OSS_EMALFORMED);
        assert_true(us == 42);
    }
    assert_int_equal(err.code, OSS_EMALFORMED);
}

static void
test_calendar(void **state) {
    (void)state;
    assert_true(oss_utc_days_from_civil(1970, 1, 1) == 0);
    assert_true(oss_utc_days_from_civil(2000, 3, 1) == 11017);
    assert_true(oss_utc_days_from_civil(1969, 12, 31) == -1);
    int64_t y;
    int m, d;
    for (int64_t z = -800000; z < 3000000; z += 997) {
        oss_utc_civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 &&
                    d <= oss_utc_month_days(y, m));
        assert_true(oss_utc_days_from_civil(y, m, d) == z);
    }
    assert_int_equal(oss_utc_month_days(2024, 2), 29);
    assert_int_equal(oss_utc_month_days(1900, 2), 28);
    assert_int_equal(oss_utc_month_days(2000, 2), 29);
    assert_int_equal(oss_utc_month_days(2026, 4), 30);
    assert_int_equal(oss_utc_month_days(2026, 13), 0);
}

static void
test_yyyymmdd(void **state) {
    (void)state;
    assert_int_equal(oss_utc_yyyymmdd(0), 19700101);
    /* the last microsecond of a day, and the first of the next */
    int64_t day = INT64_C(86400) * 1000000;
    assert_int_equal(oss_utc_yyyymmdd(INT64_C(1709251198) * 1000000 + 123),
                     20240229);
    assert_int_equal(oss_utc_yyyymmdd(INT64_C(1709251200) * 1000000 - 1),
                     20240229);
    assert_int_equal(oss_utc_yyyymmdd(INT64_C(1709251200) * 1000000), 20240301);
    /* before 1970: floor */
    assert_int_equal(oss_utc_yyyymmdd(-1), 19691231);
    assert_int_equal(oss_utc_yyyymmdd(-day), 19691231);
    assert_int_equal(oss_utc_yyyymmdd(-day - 1), 19691230);
    /* clamped like oss_utc_format() */
    assert_int_equal(oss_utc_yyyymmdd(INT64_MAX), 99991231);
    assert_int_equal(oss_utc_yyyymmdd(INT64_MIN), 101);
    /* agrees with gmtime_r() over a stretch of days */
    for (int64_t s = -86400LL * 400; s < 86400LL * 40000; s += 86400 / 7) {
        time_t tt = (time_t)s;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        assert_int_equal(oss_utc_yyyymmdd(s * 1000000),
                         (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 +
                             tm.tm_mday);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_matches_gmtime),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_yyyymmdd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
