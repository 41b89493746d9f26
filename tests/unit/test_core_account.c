/* Unit tests of the account aggregate: registration validation collects one
 * entry per bad field, the NIK/birth-date mismatch is a warning, and
 * fold + decide give duplicate / conflict on an existing stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/account.h"
#include "fixtures.h"

static oss_registration_input_t
good_input(void) {
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
test_valid_registration(void **state) {
    (void)state;
    oss_registration_input_t in = good_input();
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe), OSS_OK);
    assert_int_equal(fe.n, 0);
    assert_int_equal(r.scale, 1);
    assert_string_equal(r.birth_date, "1990-03-14");
    assert_string_equal(r.phone, "+6285712345678");
    assert_string_equal(r.email, "siti@contoh.co.id");
    assert_string_equal(r.country, "ID");
    assert_false(r.nik_birth_date_mismatch);
}

static void
test_mismatch_is_warning(void **state) {
    (void)state;
    oss_registration_input_t in = good_input();
    in.birth_date = "1990-03-15";
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe), OSS_OK);
    assert_true(r.nik_birth_date_mismatch);
}

static void
test_all_bad_fields_collected(void **state) {
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
    assert_string_equal(oss_field_errors_get(&fe, "terms_version"), "required");
}

static void
test_missing_fields(void **state) {
    (void)state;
    oss_registration_input_t in = {0};
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_EINVAL);
    const char *required[] = {"scale", "actor_type",   "nik",
                              "name",  "birth_date",   "email",
                              "phone", "terms_version"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        assert_string_equal(oss_field_errors_get(&fe, required[i]), "required");
    assert_int_equal(fe.n, 8); /* country, website optional */
}

static void
test_passport_for_foreign_directors(void **state) {
    (void)state;
    oss_registration_input_t in = good_input();
    oss_registration_t r;
    oss_field_errors_t fe = {0};

    /* 04 with a passport and no NIK */
    in.actor_type = "04";
    in.nik = NULL;
    in.passport = "e1234567";
    in.passport_country = "SG";
    in.npwp = "012345674011000";
    in.region_code = "3171000000";
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe), OSS_OK);
    assert_string_equal(r.passport, "E1234567");
    assert_string_equal(r.passport_country, "SG");
    assert_string_equal(r.npwp, "0012345674011000");
    assert_string_equal(r.region_code, "3171000000");
    assert_string_equal(r.nik, "");
    assert_false(r.nik_birth_date_mismatch);

    /* 03 with neither: the passport is what is missing */
    memset(&fe, 0, sizeof fe);
    in.actor_type = "03";
    in.passport = NULL;
    in.passport_country = NULL;
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                     OSS_EINVAL);
    assert_string_equal(oss_field_errors_get(&fe, "passport"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "passport_country"),
                        "required");
    assert_null(oss_field_errors_get(&fe, "nik"));

    /* 03 with a NIK (an Indonesian director) is fine */
    memset(&fe, 0, sizeof fe);
    in.nik = "3171015403909901";
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe), OSS_OK);

    /* 01 and 02 must give a NIK; a passport is refused */
    memset(&fe, 0, sizeof fe);
    in.actor_type = "01";
    in.nik = NULL;
    in.passport = "E1234567";
    in.passport_country = "SG";
    in.npwp = "012345675011000";
    in.region_code = "9901000000";
    assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                     OSS_EINVAL);
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "passport"),
                        "not_for_actor_type");
    assert_string_equal(oss_field_errors_get(&fe, "npwp"), "npwp_check_digit");
    assert_string_equal(oss_field_errors_get(&fe, "region_code"),
                        "region_code_unknown_province");
}

static void
test_business_identity(void **state) {
    (void)state;
    oss_registration_input_t in = good_input();
    oss_registration_t r;
    oss_field_errors_t fe = {0};
    const char *field = NULL;
    char v[256];

    /* 02: the NIK even when an NPWP is given */
    in.npwp = "3171015403909901";
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_OK);
    assert_true(oss_registration_business_identity(&r, &field, v, sizeof v));
    assert_string_equal(field, "nik");
    assert_string_equal(v, "3171015403909901");
    /* 01 with an NPWP: the NPWP (16-digit form) */
    in.actor_type = "01";
    in.npwp = "012345674011000";
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_OK);
    assert_true(oss_registration_business_identity(&r, &field, v, sizeof v));
    assert_string_equal(field, "npwp");
    assert_string_equal(v, "0012345674011000");
    /* 01 without: the company e-mail, never the director's NIK (one
     * person may register several companies) */
    in.npwp = NULL;
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_OK);
    assert_true(oss_registration_business_identity(&r, &field, v, sizeof v));
    assert_string_equal(field, "email");
    assert_string_equal(v, r.email);
    /* 04 without NPWP or NIK: the company e-mail too */
    in.actor_type = "04";
    in.nik = NULL;
    in.passport = "E1234567";
    in.passport_country = "SG";
    assert_int_equal(oss_registration_validate(&in, 0, &r, &fe), OSS_OK);
    assert_true(oss_registration_business_identity(&r, &field, v, sizeof v));
    assert_string_equal(field, "email");
    memset(&r, 0, sizeof r);
    assert_false(oss_registration_business_identity(&r, &field, v, sizeof v));
}

/* Every businesses.tsv row is a valid registration (NIK, birth date,
 * NPWP16) whose business identity is the NIK for individuals and the NPWP
 * for business entities; every invalid.tsv row is rejected naming its
 * field (nik, npwp) with a reason code. */
static void
test_fixtures(void **state) {
    (void)state;
    FILE *f = open_fixture("businesses.tsv");
    char line[4096];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *c[13];
        if (split_tsv(line, c, 13) < 13 || !strcmp(c[0], "no"))
            continue;
        oss_registration_input_t in = good_input();
        bool individual = !strcmp(c[1], "individual");
        in.actor_type = individual ? "02" : "01";
        in.nik = c[4];
        in.birth_date = c[6];
        in.npwp = c[7];
        oss_registration_t r;
        oss_field_errors_t fe = {0};
        if (oss_registration_validate(&in, 20261124, &r, &fe) != OSS_OK)
            fail_msg("businesses.tsv row %s: %s %s", c[0], fe.items[0].field,
                     fe.items[0].reason);
        assert_false(r.nik_birth_date_mismatch);
        assert_string_equal(r.npwp, c[7]);
        const char *field;
        char v[256];
        assert_true(
            oss_registration_business_identity(&r, &field, v, sizeof v));
        assert_string_equal(field, individual ? "nik" : "npwp");
        assert_string_equal(v, individual ? c[4] : c[7]);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 10);

    f = open_fixture("invalid.tsv");
    rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *c[3];
        if (split_tsv(line, c, 3) < 3 || !strcmp(c[0], "kind"))
            continue;
        oss_registration_input_t in = good_input();
        in.actor_type = "01";
        const char *field = NULL;
        if (!strcmp(c[0], "nik")) {
            in.nik = c[1];
            field = "nik";
        } else if (!strcmp(c[0], "npwp15")) {
            in.npwp = c[1];
            field = "npwp";
        } else {
            fail_msg("invalid.tsv: unknown kind %s", c[0]);
        }
        oss_registration_t r;
        oss_field_errors_t fe = {0};
        assert_int_equal(oss_registration_validate(&in, 20261124, &r, &fe),
                         OSS_EINVAL);
        assert_int_equal(fe.n, 1);
        const char *why = oss_field_errors_get(&fe, field);
        if (!why)
            fail_msg("invalid.tsv %s %s: not rejected on %s", c[0], c[1],
                     field);
        if (!strcmp(c[0], "npwp15") && strstr(c[2], "Luhn"))
            assert_string_equal(why, "npwp_check_digit");
        rows++;
    }
    fclose(f);
    assert_true(rows >= 7);
}

static void
test_fold_and_decide(void **state) {
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
    assert_int_equal(oss_account_decide_register(&st, 0, &err), OSS_EDUPLICATE);
    oss_account_state_init(&st);
    assert_int_equal(oss_account_decide_register(&st, 3, &err), OSS_ECONFLICT);
    assert_true(err.retriable);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_registration),
        cmocka_unit_test(test_mismatch_is_warning),
        cmocka_unit_test(test_all_bad_fields_collected),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_passport_for_foreign_directors),
        cmocka_unit_test(test_business_identity),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_fold_and_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
