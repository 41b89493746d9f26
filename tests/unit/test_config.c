/* Unit tests of the configuration loader (src/config): defaults, the file
 * format, environment overrides, the kafka.* pass-through from the file and
 * from OSS_KAFKA__*, errors naming the bad key, and the warning list of
 * unknown OSS_ environment variables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "oss_test.h"

static char conf_path[64];

static int
setup(void **state) {
    oss_test_clear_oss_env();
    snprintf(conf_path, sizeof conf_path, "/tmp/oss-test-config-XXXXXX");
    int fd = mkstemp(conf_path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int
teardown(void **state) {
    oss_test_clear_oss_env();
    unlink(conf_path);
    return 0;
}

static void
write_conf(const char *text) {
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *
kafka_get(const oss_config_t *cfg, const char *want) {
    for (size_t i = 0; i < oss_config_kafka_count(cfg); i++) {
        const char *n, *v;
        oss_config_kafka_at(cfg, i, &n, &v);
        if (strcmp(n, want) == 0)
            return v;
    }
    return NULL;
}

static void
test_defaults(void **state) {
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load("", &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_int(cfg, "api.port"), 8080);
    assert_int_equal(oss_config_int(cfg, "api.max_body_bytes"), 65536);
    assert_string_equal(oss_config_str(cfg, "log.level"), "info");
    assert_string_equal(oss_config_str(cfg, "projector.schema"), "rm");
    assert_null(oss_config_str(cfg, "pg.admin_url")); /* no default */
    assert_int_equal(oss_config_kafka_count(cfg), 0);
    oss_config_free(cfg);
}

static void
test_file_parsing(void **state) {
    write_conf("# a comment\n"
               "\n"
               "   api.port   =   9000   \n"
               "pg.url = postgresql://u@h:1/db?options=-c%20a=b\n"
               "\t# indented comment\n"
               "log.level=debug\n"
               "relay.lock_key = -42\n"
               "api.listen = \n");
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load(conf_path, &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_int(cfg, "api.port"), 9000);
    /* only the first '=' separates name and value */
    assert_string_equal(oss_config_str(cfg, "pg.url"),
                        "postgresql://u@h:1/db?options=-c%20a=b");
    assert_string_equal(oss_config_str(cfg, "log.level"), "debug");
    assert_int_equal(oss_config_int(cfg, "relay.lock_key"), -42);
    assert_string_equal(oss_config_str(cfg, "api.listen"), "");
    /* untouched keys keep their defaults */
    assert_int_equal(oss_config_int(cfg, "api.workers"), 4);
    oss_config_free(cfg);

    /* OSS_CONFIG names the file when the path is NULL */
    setenv("OSS_CONFIG", conf_path, 1);
    assert_int_equal(oss_config_load(NULL, &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_int(cfg, "api.port"), 9000);
    oss_config_free(cfg);
}

static void
test_env_override(void **state) {
    write_conf("api.port = 9000\napi.workers = 8\n");
    setenv("OSS_API_PORT", "9100", 1);
    setenv("OSS_API_MAX_BODY_BYTES", "2048", 1);
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load(conf_path, &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_int(cfg, "api.port"), 9100); /* env wins */
    assert_int_equal(oss_config_int(cfg, "api.max_body_bytes"), 2048);
    assert_int_equal(oss_config_int(cfg, "api.workers"), 8); /* file */
    oss_config_free(cfg);
}

static void
test_kafka_pass_through(void **state) {
    write_conf("kafka.security.protocol = SSL\n"
               "kafka.ssl.ca.location = /etc/ca.pem\n"
               "kafka.client.id = from-file\n");
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load(conf_path, &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_kafka_count(cfg), 3);
    assert_string_equal(kafka_get(cfg, "security.protocol"), "SSL");
    assert_string_equal(kafka_get(cfg, "ssl.ca.location"), "/etc/ca.pem");
    oss_config_free(cfg);

    /* the environment adds and overrides; OSS_KAFKA_BOOTSTRAP (run.env) is
     * not a pass-through */
    setenv("OSS_KAFKA__SECURITY_PROTOCOL", "SASL_SSL", 1);
    setenv("OSS_KAFKA__SASL_MECHANISMS", "SCRAM-SHA-512", 1);
    setenv("OSS_KAFKA_BOOTSTRAP", "127.0.0.1:1", 1);
    assert_int_equal(oss_config_load(conf_path, &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_kafka_count(cfg), 4);
    assert_string_equal(kafka_get(cfg, "security.protocol"), "SASL_SSL");
    assert_string_equal(kafka_get(cfg, "sasl.mechanisms"), "SCRAM-SHA-512");
    assert_string_equal(kafka_get(cfg, "client.id"), "from-file");
    assert_null(kafka_get(cfg, "bootstrap"));
    oss_config_free(cfg);
}

/* Loads and expects OSS_EINVAL with err.field = field (NULL: none) and a
 * message containing each of the NULL-ended strings. */
static void
expect_error(const char *field, ...) {
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load(conf_path, &cfg, &err), OSS_EINVAL);
    assert_null(cfg);
    assert_string_equal(err.field, field ? field : "");
    va_list ap;
    va_start(ap, field);
    for (const char *s; (s = va_arg(ap, const char *));) {
        if (!strstr(err.msg, s))
            fail_msg("message \"%s\" lacks \"%s\"", err.msg, s);
    }
    va_end(ap);
}

static void
test_errors_name_the_key(void **state) {
    write_conf("api.port = 9000\napi.prot = 9001\n");
    expect_error("api.prot", "unknown configuration key \"api.prot\"", "line 2",
                 NULL);

    write_conf("api.workers = four\n");
    expect_error("api.workers", "\"api.workers\"", "not an integer", NULL);

    write_conf("api.workers = 12abc\n");
    expect_error("api.workers", "not an integer", NULL);

    write_conf("api.port = 99999999999999999999999\n"); /* overflows */
    expect_error("api.port", "not an integer", NULL);

    write_conf("api.port = 70000\n");
    expect_error("api.port", "\"api.port\"", "outside 0..65535", NULL);

    write_conf("api.max_body_bytes = 1023\n");
    expect_error("api.max_body_bytes", "outside 1024..16777216", NULL);

    write_conf("# ok\napi.port = 1\nthis line has no equals sign\n");
    expect_error(NULL, "line 3", "expected name = value", NULL);

    /* an over-long line is an error, not two lines */
    {
        char *big = malloc(6000);
        assert_non_null(big);
        memcpy(big, "pg.url = ", 9);
        memset(big + 9, 'a', 5989);
        memcpy(big + 5998, "\n", 2);
        write_conf(big);
        free(big);
        expect_error(NULL, "line 1", "longer than", NULL);
    }

    /* a bad environment value names the key too */
    write_conf("");
    setenv("OSS_API_PORT", "http", 1);
    expect_error("api.port", "not an integer", NULL);
    setenv("OSS_API_PORT", "-1", 1);
    expect_error("api.port", "outside 0..65535", NULL);
    unsetenv("OSS_API_PORT");

    /* an unreadable file is an I/O error, not a silent default */
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load("/nonexistent/oss.conf", &cfg, &err),
                     OSS_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/oss.conf"));
}

static void
test_unknown_env_warning(void **state) {
    char out[256];
    assert_int_equal(oss_config_unknown_env(out, sizeof out), 0);
    assert_string_equal(out, "");

    /* known: table keys, run.env variables, test prefixes, pass-through */
    setenv("OSS_API_PORT", "9100", 1);
    setenv("OSS_PASSWORD_ARGON2_T", "3", 1);
    setenv("OSS_PG_URL", "postgresql://x", 1);
    setenv("OSS_PG_SUPER_URL", "postgresql://x", 1);
    setenv("OSS_KAFKA_BOOTSTRAP", "127.0.0.1:1", 1);
    setenv("OSS_TEST_ANYTHING", "1", 1);
    setenv("OSS_FUZZ_BUILD_DIR", "/tmp", 1);
    setenv("OSS_KAFKA__CLIENT_ID", "x", 1);
    setenv("OSS_lower_case", "1", 1); /* does not look like a key */
    setenv("OSS_", "1", 1);
    setenv("OSS_TEST", "1", 1); /* not the OSS_TEST_ prefix: unknown */
    assert_int_equal(oss_config_unknown_env(out, sizeof out), 1);
    assert_string_equal(out, "OSS_TEST");
    unsetenv("OSS_TEST");

    /* typos are reported by name; start-up still succeeds */
    setenv("OSS_API_PROT", "9100", 1);
    setenv("OSS_API_MAX_BODY", "1", 1);
    assert_int_equal(oss_config_unknown_env(out, sizeof out), 2);
    assert_non_null(strstr(out, "OSS_API_PROT"));
    assert_non_null(strstr(out, "OSS_API_MAX_BODY"));
    assert_non_null(strstr(out, ", "));
    assert_null(strstr(out, "9100")); /* names only, never values */
    oss_config_t *cfg = NULL;
    oss_err_t err;
    oss_err_clear(&err);
    assert_int_equal(oss_config_load("", &cfg, &err), OSS_OK);
    assert_int_equal(oss_config_int(cfg, "api.port"), 9100);
    oss_config_free(cfg);

    /* a small buffer is truncated, the count stays right, NULL is fine */
    char small[16];
    assert_int_equal(oss_config_unknown_env(small, sizeof small), 2);
    assert_true(strlen(small) < sizeof small);
    assert_non_null(strstr(small, "..."));
    assert_int_equal(oss_config_unknown_env(NULL, 0), 2);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_pass_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_env_warning, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
