/* Unit tests of the application layer's identifier checks (src/app/app.h):
 * account / principal ids, institution codes and reasons given by a
 * person, as the API's routes and the `oss principal` console use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "app/app.h"

static void
test_id_valid(void **state) {
    char longest[66];
    (void)state;
    assert_true(oss_app_id_valid("0193c1d2-7f00-7abc-8def-0123456789ab"));
    assert_true(oss_app_id_valid("A"));
    assert_false(oss_app_id_valid(NULL));
    assert_false(oss_app_id_valid(""));
    assert_false(oss_app_id_valid("a/b"));
    assert_false(oss_app_id_valid("a b"));
    memset(longest, 'a', 64);
    longest[64] = '\0';
    assert_true(oss_app_id_valid(longest));
    longest[64] = 'a';
    longest[65] = '\0';
    assert_false(oss_app_id_valid(longest));
}

static void
test_institution_valid(void **state) {
    (void)state;
    assert_true(oss_app_institution_valid("oss"));
    assert_true(oss_app_institution_valid("090"));
    assert_true(oss_app_institution_valid("3171010001"));
    assert_true(oss_app_institution_valid("kek-mandalika1"));
    assert_false(oss_app_institution_valid(NULL));
    assert_false(oss_app_institution_valid(""));
    assert_false(oss_app_institution_valid("09"));
    assert_false(oss_app_institution_valid("09a"));
    assert_false(oss_app_institution_valid("kek-"));
    assert_false(oss_app_institution_valid("kek-Upper"));
    assert_false(oss_app_institution_valid("kek-abcdefghijkl")); /* 12 */
}

static void
test_reason_valid(void **state) {
    char r[202];
    (void)state;
    assert_true(oss_app_reason_valid("authority_lost"));
    assert_false(oss_app_reason_valid(NULL));
    assert_false(oss_app_reason_valid(""));
    assert_false(oss_app_reason_valid("tab\there"));
    assert_false(oss_app_reason_valid("del\x7f"));
    memset(r, 'x', 200);
    r[200] = '\0';
    assert_true(oss_app_reason_valid(r));
    r[200] = 'x';
    r[201] = '\0';
    assert_false(oss_app_reason_valid(r));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_institution_valid),
        cmocka_unit_test(test_reason_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
