/* Unit tests of the recovery use cases' pure parts (src/app/recovery.h):
 * the reset token's shape and the recovery.* configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/recovery.h"

static void
test_token_shape(void **state) {
    char t[130];
    (void)state;
    assert_false(oss_app_reset_token_shape(NULL));
    assert_false(oss_app_reset_token_shape(""));
    assert_false(oss_app_reset_token_shape("abcdefghij0123456789"
                                           "+")); /* not base64url */
    assert_true(oss_app_reset_token_shape("abcdefghij0123456789"));
    assert_false(oss_app_reset_token_shape("abcdefghij012345678")); /* 19 */
    assert_true(oss_app_reset_token_shape(
        "Zx-_9aQ2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r9S")); /* 43: issued */
    memset(t, 'a', 128);
    t[128] = '\0';
    assert_true(oss_app_reset_token_shape(t));
    t[128] = 'a';
    t[129] = '\0';
    assert_false(oss_app_reset_token_shape(t));
}

static void
test_cfg(void **state) {
    (void)state;
    oss_app_recovery_cfg_t d = OSS_APP_RECOVERY_CFG_INIT, c = d;
    assert_int_equal(d.policy.reset_ttl_us, 30 * 60 * 1000000LL);
    assert_string_equal(d.reset_url, "https://oss.go.id/atur-ulang-sandi");

    char path[] = "/tmp/oss-test-recovery-conf-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "recovery.reset_ttl_s = 120\nrecovery.reset_max = 7\n"
                       "recovery.reset_window_s = 600\n"
                       "recovery.help_max_open = 2\n"
                       "recovery.reset_url = https://example.test/r?x=1\n";
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_config_load(path, &cfg, &err), OSS_OK);
    oss_app_recovery_cfg_load(&c, cfg);
    assert_int_equal(c.policy.reset_ttl_us, 120 * 1000000LL);
    assert_int_equal(c.policy.reset_max, 7);
    assert_int_equal(c.policy.reset_window_us, 600 * 1000000LL);
    assert_int_equal(c.policy.help_max_open, 2);
    assert_string_equal(c.reset_url, "https://example.test/r?x=1");
    oss_config_free(cfg);
    unlink(path);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_shape),
        cmocka_unit_test(test_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
