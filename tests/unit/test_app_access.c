/* Unit tests of the access-rights use cases' pure parts (src/app/access.h):
 * the access.* configuration with its holiday file, and the op names the
 * logs use. The commands themselves run against PostgreSQL in
 * tests/e2e/test_access.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/access.h"

static void
write_file(char *path, const char *text) {
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void
test_cfg(void **state) {
    (void)state;
    oss_app_ac_cfg_t d;
    oss_ac_policy_t core;
    oss_app_ac_cfg_default(&d);
    oss_ac_policy_default(&core);
    assert_int_equal(d.policy.cooling_off_working_days,
                     core.cooling_off_working_days);
    assert_int_equal(d.policy.nholidays, 0);

    /* out of order, a comment, a bad line: sorted, the bad line skipped */
    char hol[] = "/tmp/oss-test-access-hol-XXXXXX";
    write_file(hol, "2026-12-25\n# comment\n2026-01-01\nnot a date\n");
    char conf[] = "/tmp/oss-test-access-conf-XXXXXX";
    char text[256];
    snprintf(text, sizeof text,
             "access.cooling_off_working_days = 3\n"
             "access.transfer_ttl_s = 60\naccess.holidays_file = %s\n",
             hol);
    write_file(conf, text);
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_config_load(conf, &cfg, &err), OSS_OK);
    oss_app_ac_cfg_t c;
    oss_app_ac_cfg_load(&c, cfg);
    assert_int_equal(c.policy.cooling_off_working_days, 3);
    assert_int_equal(c.policy.transfer_ttl_us, 60 * 1000000LL);
    assert_int_equal(c.policy.nholidays, 2);
    assert_ptr_equal(c.policy.holidays, c.holidays);
    assert_true(c.holidays[0] < c.holidays[1]);
    oss_config_free(cfg);

    /* a missing holiday file: weekends only, the rest still read */
    unlink(hol);
    assert_int_equal(oss_config_load(conf, &cfg, &err), OSS_OK);
    oss_app_ac_cfg_load(&c, cfg);
    assert_int_equal(c.policy.cooling_off_working_days, 3);
    assert_int_equal(c.policy.nholidays, 0);
    oss_config_free(cfg);
    unlink(conf);
}

static void
test_op_names(void **state) {
    (void)state;
    assert_string_equal(oss_app_ac_op_name(OSS_APP_AC_MEMBER_ADD),
                        "member_add");
    assert_string_equal(oss_app_ac_op_name(OSS_APP_AC_TERMINATE), "terminate");
    assert_string_equal(oss_app_ac_op_name((oss_app_ac_op_t)99), "unknown");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg),
        cmocka_unit_test(test_op_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
