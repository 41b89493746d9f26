/* Unit tests of src/core/buf.h: the growable buffer (appends, growth past
 * many reallocations, appendf without truncation, reset, detach, secret
 * buffers, sticky failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void
test_empty(void **state) {
    (void)state;
    oss_buf_t b;
    oss_buf_init(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_string_equal(oss_buf_str(&b), "");
    assert_true(oss_buf_ok(&b));
    /* appending nothing still yields a C string */
    assert_int_equal(oss_buf_append(&b, NULL, 0), OSS_OK);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    assert_int_equal(oss_buf_appends(&b, ""), OSS_OK);
    assert_int_equal(oss_buf_appendf(&b, "%s", ""), OSS_OK);
    assert_int_equal(b.len, 0);
    oss_buf_free(&b);
    assert_null(b.p);
    /* detaching an empty buffer gives "" the caller frees */
    size_t n = 99;
    char *s = oss_buf_detach(&b, &n);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
    assert_null(b.p);
}

static void
test_growth(void **state) {
    (void)state;
    oss_buf_t b = {0};
    char want[100000];
    size_t caps = 0, last_cap = 0;
    for (size_t i = 0; i < sizeof want - 1; i++) {
        want[i] = (char)('a' + i % 26);
        assert_int_equal(oss_buf_appendc(&b, want[i]), OSS_OK);
        if (b.cap != last_cap) {
            caps++;
            last_cap = b.cap;
        }
        assert_true(b.cap >= b.len + 1);
    }
    want[sizeof want - 1] = '\0';
    assert_true(caps >= 5); /* grew through several reallocations */
    assert_int_equal(b.len, sizeof want - 1);
    assert_string_equal(b.p, want);
    /* one large append past the doubling */
    size_t before = b.len;
    assert_int_equal(oss_buf_append(&b, want, sizeof want - 1), OSS_OK);
    assert_int_equal(b.len, 2 * before);
    assert_memory_equal(b.p + before, want, before);
    assert_int_equal(b.p[b.len], '\0');
    oss_buf_free(&b);
}

static void
test_binary(void **state) {
    (void)state;
    oss_buf_t b = {0};
    const uint8_t data[] = {0, 1, 0, 255, 0};
    assert_int_equal(oss_buf_append(&b, data, sizeof data), OSS_OK);
    assert_int_equal(oss_buf_append(&b, data, sizeof data), OSS_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.p, data, 5);
    assert_memory_equal(b.p + 5, data, 5);
    assert_int_equal(b.p[10], '\0');
    oss_buf_free(&b);
}

static void
test_appendf(void **state) {
    (void)state;
    oss_buf_t b = {0};
    assert_int_equal(oss_buf_appendf(&b, "%d-%s", 42, "x"), OSS_OK);
    assert_string_equal(b.p, "42-x");
    /* a formatted piece larger than the buffer, and than any fixed scratch
     * array a formatter might use: nothing is truncated */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(oss_buf_appendf(&b, "[%s]%d", big, 7), OSS_OK);
    assert_int_equal(b.len, 4 + 1 + 4999 + 1 + 1);
    assert_int_equal(b.p[4], '[');
    assert_int_equal(b.p[5 + 4999], ']');
    assert_string_equal(b.p + b.len - 1, "7");
    /* exactly filling the room left, then one past it */
    oss_buf_reset(&b);
    assert_int_equal(oss_buf_reserve(&b, 10), OSS_OK);
    size_t room = b.cap - 1;
    char fill[8192];
    assert_true(room < sizeof fill);
    memset(fill, 'z', room);
    fill[room] = '\0';
    assert_int_equal(oss_buf_appendf(&b, "%s", fill), OSS_OK);
    assert_int_equal(b.len, room);
    size_t cap = b.cap;
    assert_int_equal(oss_buf_appendf(&b, "%c", 'y'), OSS_OK);
    assert_true(b.cap > cap);
    assert_int_equal(b.len, room + 1);
    assert_int_equal(b.p[room], 'y');
    assert_int_equal(b.p[room + 1], '\0');
    /* many formatted appends */
    oss_buf_reset(&b);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(oss_buf_appendf(&b, "%d,", i % 10), OSS_OK);
    assert_int_equal(b.len, 20000);
    assert_memory_equal(b.p, "0,1,2,3,", 8);
    oss_buf_free(&b);
}

static void
test_reset_and_detach(void **state) {
    (void)state;
    oss_buf_t b = {0};
    oss_buf_appends(&b, "hello");
    char *p = b.p;
    size_t cap = b.cap;
    oss_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.p, p); /* memory kept */
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.p, "");
    oss_buf_appends(&b, "world");
    size_t n = 0;
    char *s = oss_buf_detach(&b, &n);
    assert_string_equal(s, "world");
    assert_int_equal(n, 5);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* the buffer is usable again after detach */
    oss_buf_appends(&b, "again");
    assert_string_equal(b.p, "again");
    oss_buf_free(&b);
}

static void
test_secret(void **state) {
    (void)state;
    oss_buf_t b;
    oss_buf_init_secret(&b);
    assert_true(b.secret);
    for (int i = 0; i < 2000; i++)
        oss_buf_appends(&b, "s3cr3t");
    assert_int_equal(b.len, 12000);
    assert_memory_equal(b.p + 11994, "s3cr3t", 6);
    char *p = b.p;
    size_t cap = b.cap;
    oss_buf_reset(&b);
    /* reset wiped all it held, not only the first byte */
    for (size_t i = 0; i < cap; i++)
        assert_int_equal(p[i], 0);
    oss_buf_free(&b);
    assert_true(b.secret); /* still a secret buffer after free */
    oss_buf_appends(&b, "x");
    assert_string_equal(b.p, "x");
    oss_buf_free(&b);
}

static void
test_sticky_failure(void **state) {
    (void)state;
    oss_buf_t b = {0};
    oss_buf_appends(&b, "ok");
    /* a size that cannot be had fails without touching the content */
    assert_int_equal(oss_buf_reserve(&b, SIZE_MAX), OSS_ENOMEM);
    assert_false(oss_buf_ok(&b));
    assert_string_equal(b.p, "ok");
    assert_int_equal(oss_buf_appends(&b, "more"), OSS_ENOMEM);
    assert_int_equal(oss_buf_appendf(&b, "%d", 1), OSS_ENOMEM);
    assert_string_equal(b.p, "ok");
    assert_null(oss_buf_detach(&b, NULL));
    assert_null(b.p);
    /* reset clears the failure */
    oss_buf_appends(&b, "x");
    b.failed = true;
    oss_buf_reset(&b);
    assert_true(oss_buf_ok(&b));
    assert_int_equal(oss_buf_appends(&b, "y"), OSS_OK);
    assert_string_equal(b.p, "y");
    oss_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_reset_and_detach),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_sticky_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
