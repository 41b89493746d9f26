/* Unit tests of the registration body decoder (producers/api/register.c,
 * api_registration_decode) for the issue 4 fields: a foreign director by
 * passport (nik null or absent), the NPWP in its printed 15-digit form
 * stored as NPWP16, the domicile region, and the per-field reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api.h"

static int
decode(const char *body, oss_registration_t *r, oss_field_errors_t *fe) {
    char msg[256];
    return api_registration_decode(body, strlen(body), 20261124, r, fe, msg,
                                   sizeof msg);
}

static void
test_foreign_director_by_passport(void **state) {
    (void)state;
    oss_registration_t r;
    oss_field_errors_t fe;
    const char *body =
        "{\"scale\":\"NON_UMK\",\"actor_type\":\"04\",\"nik\":null,"
        "\"passport\":\"e7654321\",\"passport_country\":\"SG\","
        "\"npwp\":\"01.234.567.4-011.000\",\"region_code\":\"3171000000\","
        "\"name\":\"Tan Ah Kow\",\"birth_date\":\"01-02-1970\","
        "\"email\":\"tan@contoh.co.id\",\"phone\":\"081234567890\","
        "\"country\":\"SG\",\"terms_version\":\"2026-07\"}";
    assert_int_equal(decode(body, &r, &fe), 0);
    assert_string_equal(r.passport, "E7654321");
    assert_string_equal(r.passport_country, "SG");
    assert_string_equal(r.npwp, "0012345674011000");
    assert_string_equal(r.region_code, "3171000000");
    assert_string_equal(r.nik, "");
    const char *field;
    char v[256];
    assert_true(oss_registration_business_identity(&r, &field, v, sizeof v));
    assert_string_equal(field, "npwp");
}

static void
test_reasons(void **state) {
    (void)state;
    oss_registration_t r;
    oss_field_errors_t fe;
    /* actor 01 without a NIK, a passport it may not use, a bad NPWP and
     * region, a non-string region */
    const char *body =
        "{\"scale\":\"UMK\",\"actor_type\":\"01\",\"passport\":\"E1234567\","
        "\"npwp\":\"012345675011000\",\"region_code\":\"99\","
        "\"name\":\"Budi\",\"birth_date\":\"1990-01-01\","
        "\"email\":\"b@contoh.co.id\",\"phone\":\"081234567890\","
        "\"terms_version\":\"2025-06\"}";
    assert_int_equal(decode(body, &r, &fe), 422);
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "passport"),
                        "not_for_actor_type");
    assert_string_equal(oss_field_errors_get(&fe, "npwp"), "npwp_check_digit");
    assert_string_equal(oss_field_errors_get(&fe, "region_code"),
                        "region_code_invalid");
    assert_int_equal(fe.n, 4);
    const char *types =
        "{\"scale\":\"UMK\",\"actor_type\":\"03\",\"passport\":7,"
        "\"passport_country\":\"SG\",\"region_code\":3171000000,"
        "\"name\":\"Budi\",\"birth_date\":\"1990-01-01\","
        "\"email\":\"b@contoh.co.id\",\"phone\":\"081234567890\","
        "\"terms_version\":\"2025-06\"}";
    assert_int_equal(decode(types, &r, &fe), 422);
    assert_string_equal(oss_field_errors_get(&fe, "passport"),
                        OSS_REASON_MUST_BE_STRING);
    assert_string_equal(oss_field_errors_get(&fe, "region_code"),
                        OSS_REASON_MUST_BE_STRING);
    assert_null(oss_field_errors_get(&fe, "nik"));
}

/* A body that does not parse is answered 400 without quoting the
 * offending token: jansson's text would echo a NIK typed unquoted. */
static void
test_parse_error_hides_token(void **state) {
    (void)state;
    oss_registration_t r;
    oss_field_errors_t fe;
    char msg[256];
    /* an unterminated string: "premature end of input near '"3171...'" */
    const char *body = "{\"scale\":\"UMK\",\"nik\":\"3171015403909901}";
    assert_int_equal(api_registration_decode(body, strlen(body), 20261124, &r,
                                             &fe, msg, sizeof msg),
                     400);
    assert_null(strstr(msg, "3171015403909901"));
    assert_non_null(strstr(msg, "invalid JSON"));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_director_by_passport),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_parse_error_hides_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
