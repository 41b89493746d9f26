/* Unit tests of the NIK structural check against the shared fixtures
 * (../shared/fixtures: every invalid.tsv NIK row rejected with its reason,
 * every businesses.tsv NIK accepted), leap years and women's +40 dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nik.h"
#include "core/validate.h"
#include "fixtures.h"

/* Maps invalid.tsv's free-text reason to our stable code: the fixture is
 * prose, our API answers codes. */
static const char *
expected_code(const char *kind, const char *reason) {
    if (strcmp(kind, "nik") == 0) {
        if (strstr(reason, "digits"))
            return OSS_NIK_NOT_16_DIGITS;
        if (strstr(reason, "province"))
            return OSS_NIK_UNKNOWN_PROVINCE;
        if (strstr(reason, "serial"))
            return OSS_NIK_SERIAL_ZERO;
        if (strstr(reason, "date") || strstr(reason, "day"))
            return OSS_NIK_INVALID_DATE;
    } else if (strcmp(kind, "npwp15") == 0) {
        if (strstr(reason, "Luhn"))
            return "npwp_check_digit";
        return "npwp_not_15_digits";
    }
    return NULL;
}

static void
test_invalid_fixtures_rejected(void **state) {
    (void)state;
    FILE *f = open_fixture("invalid.tsv");
    char line[1024];
    int rows = 0, nik_rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *c[3];
        if (split_tsv(line, c, 3) < 3 || strcmp(c[0], "kind") == 0)
            continue;
        const char *want = expected_code(c[0], c[2]);
        if (!want)
            fail_msg("invalid.tsv: no reason code for kind \"%s\" reason "
                     "\"%s\"",
                     c[0], c[2]);
        const char *got = NULL;
        if (strcmp(c[0], "nik") == 0) {
            got = oss_nik_check(c[1], NULL);
            nik_rows++;
        } else if (strcmp(c[0], "npwp15") == 0) {
            got = oss_npwp15_check(c[1]);
        }
        if (!got || strcmp(got, want) != 0)
            fail_msg("%s %s (%s): want %s, got %s", c[0], c[1], c[2], want,
                     got ? got : "accepted");
        rows++;
    }
    fclose(f);
    assert_true(rows >= 5);
    assert_true(nik_rows >= 4);
}

static void
test_business_niks_accepted(void **state) {
    (void)state;
    FILE *f = open_fixture("businesses.tsv");
    char line[4096];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *c[13];
        int n = split_tsv(line, c, 13);
        if (n < 8 || strcmp(c[0], "no") == 0)
            continue;
        oss_nik_info_t ni;
        const char *r = oss_nik_check(c[4], &ni);
        if (r)
            fail_msg("businesses.tsv row %s: NIK %s rejected: %s", c[0], c[4],
                     r);
        /* sex and birth date agree with the NIK */
        assert_int_equal(ni.female, strcmp(c[5], "F") == 0);
        int y, m, d;
        assert_int_equal(sscanf(c[6], "%d-%d-%d", &y, &m, &d), 3);
        assert_true(oss_nik_matches_birth_date(&ni, y, m, d));
        /* the NPWP16 of a business entity is 0 + a valid legacy NPWP */
        if (c[7][0] == '0' && strlen(c[7]) == 16)
            assert_null(oss_npwp15_check(c[7] + 1));
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 10);
}

static void
test_leap_years(void **state) {
    (void)state;
    assert_true(oss_is_leap_year(2000));
    assert_false(oss_is_leap_year(1900));
    assert_true(oss_is_leap_year(1988));
    assert_false(oss_is_leap_year(1989));
    /* 29 Feb in a leap year (88), not in 89; women 69 = 29 + 40 */
    assert_null(oss_nik_check("3171012902889908", NULL));
    assert_string_equal(oss_nik_check("3171012902899908", NULL),
                        OSS_NIK_INVALID_DATE);
    assert_null(oss_nik_check("3171016902889908", NULL));
    assert_string_equal(oss_nik_check("3171016902899908", NULL),
                        OSS_NIK_INVALID_DATE);
    /* yy = 00: 2000 was a leap year */
    assert_null(oss_nik_check("3171012902009908", NULL));
    assert_string_equal(oss_nik_check("3171013002889908", NULL),
                        OSS_NIK_INVALID_DATE);
}

static void
test_women_dates(void **state) {
    (void)state;
    oss_nik_info_t ni;
    assert_null(oss_nik_check("3171014101900001", &ni)); /* 1 Jan, woman */
    assert_true(ni.female);
    assert_int_equal(ni.day, 1);
    assert_null(oss_nik_check("3171017112900001", &ni)); /* 31 Dec */
    assert_int_equal(ni.day, 31);
    assert_int_equal(ni.month, 12);
    assert_string_equal(oss_nik_check("3171017211900001", NULL),
                        OSS_NIK_INVALID_DATE); /* 32 Nov */
    assert_string_equal(oss_nik_check("3171017104900001", NULL),
                        OSS_NIK_INVALID_DATE); /* 31 Apr */
    assert_string_equal(oss_nik_check("3171014001900001", NULL),
                        OSS_NIK_INVALID_DATE); /* day 40 = day 0 */
    assert_string_equal(oss_nik_check("3171013201900001", NULL),
                        OSS_NIK_INVALID_DATE); /* day 32, not a woman */
    assert_string_equal(oss_nik_check("3171010001900001", NULL),
                        OSS_NIK_INVALID_DATE);
    assert_string_equal(oss_nik_check("3171011500900001", NULL),
                        OSS_NIK_INVALID_DATE); /* month 00 */
    assert_string_equal(oss_nik_check("3171011513900001", NULL),
                        OSS_NIK_INVALID_DATE); /* month 13 */
}

static void
test_structure(void **state) {
    (void)state;
    assert_string_equal(oss_nik_check("", NULL), OSS_NIK_NOT_16_DIGITS);
    assert_string_equal(oss_nik_check(NULL, NULL), OSS_NIK_NOT_16_DIGITS);
    assert_string_equal(oss_nik_check("31710154039099011", NULL),
                        OSS_NIK_NOT_16_DIGITS);
    assert_string_equal(oss_nik_check(" 171015403909901", NULL),
                        OSS_NIK_NOT_16_DIGITS);
    /* every province code of the list, and neighbours that are not */
    int known[] = {11, 19, 21, 31, 36, 51, 53, 61, 65, 71, 76, 81, 82, 91, 96};
    int unknown[] = {10, 20, 22, 30, 37, 50, 54, 60, 66,
                     70, 77, 80, 83, 90, 97, 0,  99};
    char nik[17];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        snprintf(nik, sizeof nik, "%02d71015403909901", known[i]);
        assert_null(oss_nik_check(nik, NULL));
    }
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        snprintf(nik, sizeof nik, "%02d71015403909901", unknown[i]);
        assert_string_equal(oss_nik_check(nik, NULL), OSS_NIK_UNKNOWN_PROVINCE);
    }
    /* a date that disagrees with the birth date is only a mismatch */
    oss_nik_info_t ni;
    assert_null(oss_nik_check("3171015403909901", &ni));
    assert_false(oss_nik_matches_birth_date(&ni, 1990, 3, 15));
    assert_true(oss_nik_matches_birth_date(&ni, 1990, 3, 14));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_fixtures_rejected),
        cmocka_unit_test(test_business_niks_accepted),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_women_dates),
        cmocka_unit_test(test_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
