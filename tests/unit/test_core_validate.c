/* Unit tests of the pure field validators: phone normalisation table,
 * e-mail syntax, birth dates in both forms, names, codes, URLs, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/validate.h"

static void
test_phone_table(void **state) {
    (void)state;
    static const struct {
        const char *in, *out, *reason;
    } rows[] = {
        {"085712345678", "+6285712345678", NULL},
        {"85712345678", "+6285712345678", NULL},
        {"+6285712345678", "+6285712345678", NULL},
        {"6285712345678", "+6285712345678", NULL},
        {"+62 857-1234-5678", "+6285712345678", NULL},
        {"(021) 5551234", "+62215551234", NULL},
        {"0812.3456.789", "+628123456789", NULL},
        {"+62085712345678", NULL, "phone_zero_after_country_code"},
        {"62085712345678", NULL, "phone_zero_after_country_code"},
        {"+6585712345", NULL, "phone_not_indonesian"},
        {"0065712345678", NULL, "phone_not_indonesian"},
        {"0857", NULL, "phone_invalid"},
        {"08571234567890", NULL, "phone_invalid"},
        {"0857abc45678", NULL, "phone_invalid"},
        {"085+712345678", NULL, "phone_invalid"},
        {"", NULL, "required"},
        {"++6285712345678", NULL, "phone_invalid"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[16] = "";
        const char *r = oss_phone_normalize(rows[i].in, out, sizeof out);
        if (rows[i].reason) {
            if (!r || strcmp(r, rows[i].reason))
                fail_msg("phone \"%s\": want %s, got %s", rows[i].in,
                         rows[i].reason, r ? r : "accepted");
        } else {
            if (r)
                fail_msg("phone \"%s\": rejected %s", rows[i].in, r);
            assert_string_equal(out, rows[i].out);
        }
    }
}

/* Foreign actors: any country's number in E.164 (issue 10, item 11). */
static void
test_phone_intl(void **state) {
    (void)state;
    static const struct {
        const char *in, *out, *reason;
    } rows[] = {
        {"+65 6123 4567", "+6561234567", NULL},        /* Singapore */
        {"0065 9123 4567", "+6591234567", NULL},       /* 00 prefix */
        {"+1 (415) 555-0100", "+14155550100", NULL},   /* USA */
        {"+44 20 7946 0958", "+442079460958", NULL},   /* UK */
        {"+683 4002", "+6834002", NULL},               /* Niue: 7 digits */
        {"+62 857-1234-5678", "+6285712345678", NULL}, /* Indonesian rules */
        {"085712345678", "+6285712345678", NULL},      /* a local number */
        {"+62085712345678", NULL, "phone_zero_after_country_code"},
        {"+123456", NULL, "phone_invalid"},           /* too short */
        {"+1234567890123456", NULL, "phone_invalid"}, /* 16 digits */
        {"+0123456789", NULL, "phone_invalid"},       /* no country code 0 */
        {"+65 6123x4567", NULL, "phone_invalid"},
        {"", NULL, "required"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[OSS_PHONE_MAX] = "";
        const char *r = oss_phone_normalize_intl(rows[i].in, out, sizeof out);
        if (rows[i].reason) {
            if (!r || strcmp(r, rows[i].reason))
                fail_msg("phone \"%s\": want %s, got %s", rows[i].in,
                         rows[i].reason, r ? r : "accepted");
        } else {
            if (r)
                fail_msg("phone \"%s\": rejected %s", rows[i].in, r);
            assert_string_equal(out, rows[i].out);
        }
    }
    /* the Indonesian rules stay for everyone else */
    char out[OSS_PHONE_MAX];
    assert_string_equal(oss_phone_normalize("+65 6123 4567", out, sizeof out),
                        "phone_not_indonesian");
}

static void
test_email(void **state) {
    (void)state;
    char out[255];
    assert_null(
        oss_email_normalize("Budi.Santoso@Example.CO.ID", out, sizeof out));
    assert_string_equal(out, "Budi.Santoso@example.co.id");
    assert_null(oss_email_normalize("a+tag@x-y.id", out, sizeof out));
    const char *bad[] = {"plain",   "@x.id",     "a@",       "a@x",
                         "a@.x.id", "a..b@x.id", ".a@x.id",  "a.@x.id",
                         "a@-x.id", "a@x-.id",   "a b@x.id", "a@x.i",
                         "a@x.1d",  "a@x..id",   "a\"b@x.id"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *r = oss_email_normalize(bad[i], out, sizeof out);
        if (!r || strcmp(r, "email_invalid"))
            fail_msg("email \"%s\": want email_invalid, got %s", bad[i],
                     r ? r : "accepted");
    }
    char longlocal[100];
    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@x.id");
    assert_string_equal(oss_email_normalize(longlocal, out, sizeof out),
                        "email_too_long");
    char longall[300];
    memset(longall, 'a', 60);
    longall[60] = '@';
    for (int i = 61; i < 290; i += 2) {
        longall[i] = 'b';
        longall[i + 1] = '.';
    }
    strcpy(longall + 290, "id");
    assert_string_equal(oss_email_normalize(longall, out, sizeof out),
                        "email_too_long");
    assert_string_equal(oss_email_normalize("", out, sizeof out), "required");
}

static void
test_birth_date(void **state) {
    (void)state;
    char out[11];
    int y, m, d;
    assert_null(oss_birth_date_parse("1990-03-14", 20261124, out, sizeof out,
                                     &y, &m, &d));
    assert_string_equal(out, "1990-03-14");
    assert_null(oss_birth_date_parse("14-03-1990", 20261124, out, sizeof out,
                                     &y, &m, &d));
    assert_string_equal(out, "1990-03-14");
    assert_int_equal(y, 1990);
    assert_null(oss_birth_date_parse("29-02-1988", 0, out, sizeof out, NULL,
                                     NULL, NULL));
    assert_null(oss_birth_date_parse("2000-02-29", 0, out, sizeof out, NULL,
                                     NULL, NULL));
    const char *bad[] = {"1900-02-29", "1990-02-30", "1990-13-01", "1990-00-10",
                         "31-04-1990", "1990/03/14", "90-03-14",   "1990-3-14",
                         "1899-12-31", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *r = oss_birth_date_parse(bad[i], 20261124, out, sizeof out,
                                             NULL, NULL, NULL);
        if (!r || strcmp(r, "birth_date_invalid"))
            fail_msg("birth date \"%s\": got %s", bad[i], r ? r : "accepted");
    }
    assert_string_equal(oss_birth_date_parse("2027-01-01", 20261124, out,
                                             sizeof out, NULL, NULL, NULL),
                        "birth_date_in_future");
}

static void
test_name(void **state) {
    (void)state;
    char out[401];
    assert_null(oss_name_normalize("  Siti Nurhaliza  ", out, sizeof out));
    assert_string_equal(out, "Siti Nurhaliza");
    assert_null(oss_name_normalize("R.A. Kartini", out, sizeof out));
    assert_null(oss_name_normalize("O'Neil-Putri", out, sizeof out));
    assert_null(
        oss_name_normalize("J\xc3\xbcrgen \xc3\x89lise", out, sizeof out));
    assert_string_equal(oss_name_normalize("Budi 2", out, sizeof out),
                        "name_invalid");
    assert_string_equal(oss_name_normalize("Budi<script>", out, sizeof out),
                        "name_invalid");
    assert_string_equal(oss_name_normalize("...", out, sizeof out),
                        "name_invalid");
    assert_string_equal(oss_name_normalize("   ", out, sizeof out), "required");
    assert_string_equal(oss_name_normalize("Bud\xc3", out, sizeof out),
                        "invalid_utf8");
    char longname[200];
    memset(longname, 'a', 101);
    longname[101] = '\0';
    assert_string_equal(oss_name_normalize(longname, out, sizeof out),
                        "name_too_long");
    longname[100] = '\0';
    assert_null(oss_name_normalize(longname, out, sizeof out));
}

static void
test_codes_and_urls(void **state) {
    (void)state;
    int scale = 0;
    assert_null(oss_scale_parse("UMK", &scale));
    assert_int_equal(scale, 1);
    assert_null(oss_scale_parse("NON_UMK", &scale));
    assert_int_equal(scale, 2);
    assert_string_equal(oss_scale_parse("umk", &scale), "scale_invalid");
    assert_null(oss_actor_type_check("01"));
    assert_null(oss_actor_type_check("04"));
    assert_string_equal(oss_actor_type_check("05"), "actor_type_invalid");
    assert_string_equal(oss_actor_type_check("1"), "actor_type_invalid");
    assert_string_equal(oss_actor_type_check(NULL), "required");
    assert_null(oss_terms_version_check("2025-06.1"));
    assert_string_equal(oss_terms_version_check("v 1"),
                        "terms_version_invalid");
    assert_string_equal(oss_terms_version_check(NULL), "required");
    assert_null(oss_website_check(NULL));
    assert_null(oss_website_check("https://toko-budi.co.id/about?x=1"));
    assert_null(oss_website_check("http://example.id:8080"));
    assert_string_equal(oss_website_check("ftp://x.id"), "website_invalid");
    assert_string_equal(oss_website_check("https://"), "website_invalid");
    assert_string_equal(oss_website_check("https://a b.id"), "website_invalid");
    assert_string_equal(oss_website_check("javascript:alert(1)"),
                        "website_invalid");
    assert_null(oss_country_check("ID"));
    assert_string_equal(oss_country_check("id"), "country_invalid");
    assert_null(oss_npwp15_check("012345674011000"));
    assert_string_equal(oss_npwp15_check("012345675011000"),
                        "npwp_check_digit");
}

static void
test_npwp_passport_region(void **state) {
    (void)state;
    char out[21];
    /* legacy 15 digits: Luhn over the first 9, stored as "0" + 15 */
    assert_null(oss_npwp_normalize("012345674011000", out, sizeof out));
    assert_string_equal(out, "0012345674011000");
    assert_null(oss_npwp_normalize("01.234.567.4-011.000", out, sizeof out));
    assert_string_equal(out, "0012345674011000");
    /* 16 digits as they are (NPWP16, an individual's NIK) */
    assert_null(oss_npwp_normalize("0027654326045000", out, sizeof out));
    assert_string_equal(out, "0027654326045000");
    assert_null(oss_npwp_normalize("3171015403909901", out, sizeof out));
    assert_string_equal(out, "3171015403909901");
    /* the invalid.tsv row and the other check-digit errors */
    assert_string_equal(oss_npwp_normalize("012345675011000", out, sizeof out),
                        "npwp_check_digit");
    for (char c = '0'; c <= '9'; c++) {
        char v[] = "012345674011000";
        if (c == '4')
            continue;
        v[8] = c; /* every other check digit fails */
        assert_string_equal(oss_npwp_normalize(v, out, sizeof out),
                            "npwp_check_digit");
    }
    const char *badlen[] = {"01234567401100", "00123456740110001",
                            "01234567401100a", "0123 45674011000"};
    for (size_t i = 0; i < sizeof badlen / sizeof badlen[0]; i++)
        if (!oss_npwp_normalize(badlen[i], out, sizeof out) ||
            strcmp(oss_npwp_normalize(badlen[i], out, sizeof out),
                   "npwp_not_15_or_16_digits"))
            fail_msg("npwp \"%s\" accepted or wrong reason", badlen[i]);
    assert_string_equal(oss_npwp_normalize("", out, sizeof out), "required");

    assert_null(oss_passport_normalize("x1234567", out, sizeof out));
    assert_string_equal(out, "X1234567");
    assert_string_equal(oss_passport_normalize("X12", out, sizeof out),
                        "passport_invalid");
    assert_string_equal(oss_passport_normalize("X 1234567", out, sizeof out),
                        "passport_invalid");
    assert_string_equal(
        oss_passport_normalize("A12345678901234567890", out, sizeof out),
        "passport_invalid");
    assert_string_equal(oss_passport_normalize(NULL, out, sizeof out),
                        "required");

    assert_null(oss_region_code_check(NULL));
    assert_null(oss_region_code_check(""));
    assert_null(oss_region_code_check("3201000000"));
    assert_string_equal(oss_region_code_check("320100000"),
                        "region_code_invalid");
    assert_string_equal(oss_region_code_check("32010000a0"),
                        "region_code_invalid");
    assert_string_equal(oss_region_code_check("9901000000"),
                        "region_code_unknown_province");

    char f[64];
    oss_text_fold("  Budi   santoso\t ", f, sizeof f);
    assert_string_equal(f, "BUDI SANTOSO");
    oss_text_fold("AHU-0012345.AH.01.01.Tahun 2015", f, sizeof f);
    assert_string_equal(f, "AHU-0012345.AH.01.01.TAHUN 2015");
    oss_text_fold("", f, sizeof f);
    assert_string_equal(f, "");
    oss_text_fold("abcdef", f, 4);
    assert_string_equal(f, "ABC");
}

static void
test_utf8(void **state) {
    (void)state;
    assert_true(oss_utf8_valid("abc", 3));
    assert_true(oss_utf8_valid("\xe2\x82\xac", 3));
    assert_true(oss_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(oss_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(oss_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(oss_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(oss_utf8_valid("\xff", 1));
    assert_false(oss_utf8_valid("\xe2\x82", 2)); /* truncated */
}

static void
test_field_errors(void **state) {
    (void)state;
    oss_field_errors_t fe = {0};
    oss_field_errors_add(&fe, "nik", "nik_serial_zero");
    oss_field_errors_add(&fe, "nik", "required");
    oss_field_errors_add(&fe, "email", "email_invalid");
    assert_int_equal(fe.n, 2);
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "nik_serial_zero");
    assert_null(oss_field_errors_get(&fe, "phone"));
    for (int i = 0; i < 100; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%d", i);
        oss_field_errors_add(&fe, f, "x");
    }
    assert_int_equal(fe.n, OSS_FIELD_ERRORS_MAX);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_table),
        cmocka_unit_test(test_phone_intl),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_birth_date),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_codes_and_urls),
        cmocka_unit_test(test_npwp_passport_region),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
