/* Unit tests of the account aggregate: registration validation collects one
 * entry per bad field, the NIK/birth-date mismatch is a warning, and
 * fold + decide give duplicate / conflict on an existing stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/account.h"

static oss_registration_input_t
good_input(void)
{
    oss_registration_input_t in = {
        .scale = "UMK",
        .actor_type = "02",
        .nik = "3171015403909901",
        .name = "Siti Aminah",
        .birth_date = "14-03-1990",
        .email = "siti@Contoh.co.id",
        .phone = "0857 1234 5678",
        .terms_version = "2025-06",
    };
    return in;
}

static void
test_valid_registration(void **state)
{
    (void)state;
    oss_registration_input_t in = good_input();
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                     OSS_OK);
    assert_int_equal(fe.n, 0);
    assert_int_equal(r.scale, 1);
    assert_string_equal(r.birth_date, "1990-03-14");
    assert_string_equal(r.phone, "+6285712345678");
    assert_string_equal(r.email, "siti@contoh.co.id");
    assert_string_equal(r.country, "ID");
    assert_false(r.nik_birth_date_mismatch);
}

static void
test_mismatch_is_warning(void **state)
{
    (void)state;
    oss_registration_input_t in = good_input();
    in.birth_date = "1990-03-15";
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                     OSS_OK);
    assert_true(r.nik_birth_date_mismatch);
}

static void
test_all_bad_fields_collected(void **state)
{
    (void)state;
    oss_registration_input_t in = {
        .scale = "big",
        .actor_type = "9",
        .nik = "3171015403900000",
        .name = "B0b",
        .birth_date = "1990-02-30",
        .email = "nope",
        .phone = "+62 0857",
        .country = "Indonesia",
        .website = "ftp://x",
        .terms_version = NULL,
    };
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    /* a field the JSON decoder already flagged is not validated again */
    oss_field_errors_add(&fe, "phone", OSS_REASON_MUST_BE_STRING);
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                     OSS_EINVAL);
    assert_int_equal(fe.n, 10);
    assert_string_equal(oss_field_errors_get(&fe, "scale"), "scale_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "actor_type"),
                        "actor_type_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "nik_serial_zero");
    assert_string_equal(oss_field_errors_get(&fe, "name"), "name_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "birth_date"),
                        "birth_date_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "email"), "email_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "phone"),
                        OSS_REASON_MUST_BE_STRING);
    assert_string_equal(oss_field_errors_get(&fe, "country"),
                        "country_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "website"),
                        "website_invalid");
    assert_string_equal(oss_field_errors_get(&fe, "terms_version"),
                        "required");
}

static void
test_missing_fields(void **state)
{
    (void)state;
    oss_registration_input_t in = {0};
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_EINVAL);
    const char *required[] = {"scale", "actor_type", "nik", "name",
                              "birth_date", "email", "phone",
                              "terms_version"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        assert_string_equal(oss_field_errors_get(&fe, required[i]),
                            "required");
    assert_int_equal(fe.n, 8); /* country, website optional */
}

static void
test_fold_and_decide(void **state)
{
    (void)state;
    oss_account_state_t st;
    oss_err_t err;
    oss_account_fold(&st, NULL, 0);
    assert_false(st.exists);
    assert_int_equal(oss_account_decide_register(&st, 0, &err), OSS_OK);
    assert_int_equal(oss_account_decide_register(&st, -1, &err), OSS_OK);

    oss_event_t ev[2];
    memset(ev, 0, sizeof ev);
    strcpy(ev[0].payload_type, OSS_ACCOUNT_REGISTERED);
    ev[0].version = 1;
    strcpy(ev[1].payload_type, "oss.v1.SomethingLater");
    ev[1].version = 2;
    oss_account_fold(&st, ev, 2);
    assert_true(st.exists);
    assert_int_equal(st.version, 2);
    assert_string_equal(st.status, "registered");
    assert_int_equal(oss_account_decide_register(&st, -1, &err),
                     OSS_EDUPLICATE);

    /* a stream with only unknown events still exists as a stream: a
     * register expecting version 0 must not overwrite it */
    oss_account_fold(&st, &ev[1], 1);
    assert_false(st.exists);
    assert_int_equal(oss_account_decide_register(&st, 0, &err),
                     OSS_EDUPLICATE);
    oss_account_state_init(&st);
    assert_int_equal(oss_account_decide_register(&st, 3, &err),
                     OSS_ECONFLICT);
    assert_true(err.retriable);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_registration),
        cmocka_unit_test(test_mismatch_is_warning),
        cmocka_unit_test(test_all_bad_fields_collected),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_fold_and_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
