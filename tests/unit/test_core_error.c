/* Unit tests of the error type's reason code (core/error.h): set with
 * oss_err_coded() or oss_err_reason(), cleared by the other constructors,
 * compared with oss_err_is(), and independent of the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/error.h"

static void
test_coded_sets_code_reason_message(void **state) {
    oss_err_t err;
    (void)state;
    oss_err_clear(&err);
    assert_int_equal(oss_err_coded(&err, OSS_ENOTFOUND, "erased",
                                   "subject %s was erased", "s-1"),
                     OSS_ENOTFOUND);
    assert_int_equal(err.code, OSS_ENOTFOUND);
    assert_string_equal(err.reason, "erased");
    assert_string_equal(err.field, "");
    assert_string_equal(err.msg, "subject s-1 was erased");
    assert_true(oss_err_is(&err, "erased"));
    assert_false(oss_err_is(&err, "already_erased"));
    assert_false(err.retriable);
}

static void
test_reason_after_field(void **state) {
    oss_err_t err;
    (void)state;
    oss_err_clear(&err);
    oss_err_field(&err, OSS_EDUPLICATE, "nik", "claimed");
    assert_int_equal(oss_err_reason(&err, "officer_exists"), OSS_EDUPLICATE);
    assert_string_equal(err.field, "nik");
    assert_string_equal(err.reason, "officer_exists");
    /* a new error clears the reason */
    oss_err_set(&err, OSS_ECONFLICT, "version moved");
    assert_string_equal(err.reason, "");
    assert_true(err.retriable);
    oss_err_coded(&err, OSS_ECONFLICT, "superseded", "x");
    oss_err_field(&err, OSS_EINVAL, "reason", "bad");
    assert_string_equal(err.reason, "");
    assert_string_equal(err.field, "reason");
}

static void
test_null_and_long(void **state) {
    oss_err_t err;
    char longer[2 * OSS_ERR_REASON_MAX];
    (void)state;
    assert_int_equal(oss_err_reason(NULL, "x"), OSS_OK);
    assert_int_equal(oss_err_coded(NULL, OSS_EINVAL, "x", "y"), OSS_EINVAL);
    assert_false(oss_err_is(NULL, "x"));
    oss_err_clear(&err);
    assert_false(oss_err_is(&err, NULL));
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    oss_err_coded(&err, OSS_EINVAL, longer, "m");
    assert_int_equal(strlen(err.reason), OSS_ERR_REASON_MAX - 1);
    oss_err_reason(&err, NULL);
    assert_string_equal(err.reason, "");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coded_sets_code_reason_message),
        cmocka_unit_test(test_reason_after_field),
        cmocka_unit_test(test_null_and_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
