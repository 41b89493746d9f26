/* The bus consumer without a broker: when a sync must catch up from the
 * journal (oss_bus_catch_up_reason), and what oss_bus_consumer_new
 * refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus/consumer.h"

static void
pos_set(oss_bus_position_t *p, int stored, int64_t next, int64_t lo,
        int64_t hi) {
    memset(p, 0, sizeof *p);
    p->stored = stored;
    p->next = next;
    p->lo = lo;
    p->hi = hi;
}

static void
test_catch_up_reason(void **state) {
    (void)state;
    oss_bus_position_t p[2];
    pos_set(&p[0], 1, 5, 0, 10);
    pos_set(&p[1], 1, 10, 3, 10);
    assert_null(oss_bus_catch_up_reason(0, 0, p, 2));
    assert_string_equal(oss_bus_catch_up_reason(1, 0, p, 2),
                        "offset out of range");
    assert_string_equal(oss_bus_catch_up_reason(0, 1, p, 2),
                        "the broker's cluster id changed");
    p[1].stored = 0;
    assert_string_equal(oss_bus_catch_up_reason(0, 0, p, 2),
                        "no stored positions");
    pos_set(&p[1], 1, 2, 3, 10); /* below the low watermark: dropped */
    assert_string_equal(oss_bus_catch_up_reason(0, 0, p, 2),
                        "offset out of range");
    pos_set(&p[1], 1, 11, 3, 10); /* beyond the high watermark */
    assert_string_equal(oss_bus_catch_up_reason(0, 0, p, 2),
                        "offset out of range");
    pos_set(&p[1], 1, 7, -1, -1); /* watermarks unknown: trusted */
    assert_null(oss_bus_catch_up_reason(0, 0, p, 2));
    assert_null(oss_bus_catch_up_reason(0, 0, p, 0));
}

static void
test_new_needs_a_group(void **state) {
    (void)state;
    oss_bus_consumer_t *c = (oss_bus_consumer_t *)&c;
    oss_err_t err = {0};
    oss_bus_consumer_opts_t o = {0};
    assert_int_equal(oss_bus_consumer_new(NULL, &o, &c, &err), OSS_EINVAL);
    assert_null(c);
    o.group_id = "g";
    assert_int_equal(oss_bus_consumer_new(NULL, &o, &c, &err), OSS_OK);
    assert_false(oss_bus_consumer_is_open(c));
    assert_string_equal(oss_bus_consumer_cluster_id(c), "");
    size_t n = 1;
    oss_bus_consumer_positions(c, &n);
    assert_int_equal(n, 0);
    assert_null(oss_bus_consumer_poll(c, 0));
    assert_int_equal(oss_bus_consumer_sync(c, &err), OSS_EUNAVAIL);
    oss_bus_consumer_free(c);
    oss_bus_consumer_free(NULL);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_reason),
        cmocka_unit_test(test_new_needs_a_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
