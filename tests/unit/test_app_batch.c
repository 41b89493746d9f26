/* Unit tests of group commit's contract (src/app/batch.h) without a
 * database: a job that prepares nothing is not finished, the commands of
 * the others sit side by side in one array, and every prepared job learns
 * that the transaction could not run when there is no journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "app/batch.h"

typedef struct tjob {
    oss_app_job_t base;
    size_t give;       /* commands to prepare */
    int prepared;      /* prepare calls */
    int finished;      /* finish calls */
    size_t got;        /* k seen by finish */
    oss_code_t rc;     /* rc seen by finish */
    oss_command_t *at; /* the array slot it was given */
} tjob_t;

static size_t
t_prepare(oss_app_worker_t *w, oss_app_job_t *base, oss_command_t *cmds) {
    tjob_t *t = (tjob_t *)base;
    (void)w;
    t->prepared++;
    t->at = cmds;
    for (size_t i = 0; i < t->give; i++)
        cmds[i].stream_id = "test-1";
    return t->give;
}

static void
t_finish(oss_app_worker_t *w, oss_app_job_t *base, oss_command_t *cmds,
         size_t k, oss_code_t rc, const oss_err_t *err) {
    tjob_t *t = (tjob_t *)base;
    (void)w;
    assert_ptr_equal(cmds, t->at);
    assert_non_null(err);
    t->finished++;
    t->got = k;
    t->rc = rc;
}

static void
init(tjob_t *t, size_t give) {
    memset(t, 0, sizeof *t);
    t->base.prepare = t_prepare;
    t->base.finish = t_finish;
    t->give = give;
}

static void
test_unavailable_finishes_prepared_jobs(void **state) {
    tjob_t a, b, c;
    oss_app_job_t *jobs[3] = {&a.base, &b.base, &c.base};
    (void)state;
    init(&a, 2);
    init(&b, 0); /* answered in prepare */
    init(&c, 1);
    assert_int_equal(oss_app_batch_run(NULL, NULL, jobs, 3), OSS_EUNAVAIL);
    assert_int_equal(a.prepared, 1);
    assert_int_equal(b.prepared, 1);
    assert_int_equal(c.prepared, 1);
    assert_int_equal(a.finished, 1);
    assert_int_equal(b.finished, 0);
    assert_int_equal(c.finished, 1);
    assert_int_equal(a.got, 2);
    assert_int_equal(c.got, 1);
    assert_int_equal(a.rc, OSS_EUNAVAIL);
    assert_int_equal(c.rc, OSS_EUNAVAIL);
    /* one array: c's commands follow a's */
    assert_ptr_equal(c.at, a.at + 2);
}

static void
test_nothing_prepared_needs_no_journal(void **state) {
    tjob_t a;
    oss_app_job_t *jobs[1] = {&a.base};
    (void)state;
    init(&a, 0);
    assert_int_equal(oss_app_batch_run(NULL, NULL, jobs, 1), OSS_OK);
    assert_int_equal(a.finished, 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable_finishes_prepared_jobs),
        cmocka_unit_test(test_nothing_prepared_needs_no_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
