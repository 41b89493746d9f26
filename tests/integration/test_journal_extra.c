/* Integration tests of the journal's extra_fn hook (state outside the
 * journal written in the command's savepoint, with its events): the rows
 * commit with the events; a command rejected by a claim leaves neither; a
 * failing extra statement fails the transaction and writes nothing; the
 * hook sees final event ids. Uses oss.credentials (infra/sql/
 * 040_credentials.sql) as the outside table, with unique stream ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "journal/journal.h"
#include "oss_test.h"

typedef struct xctx {
    const char *stream;
    const char *sql; /* the extra statement ($1 stream, $2 event id) */
    int calls;
    char event_id[OSS_UUID_STR];
} xctx_t;

static oss_code_t
decide(void *ctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    (void)ctx;
    (void)history;
    (void)n;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "oom");
    snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Extra");
    ev->schema_version = 1;
    return OSS_OK;
}

static oss_code_t
extra(void *ctx, const oss_command_t *cmd, oss_journal_queue_fn q, void *qctx,
      oss_err_t *err) {
    xctx_t *x = ctx;
    x->calls++;
    assert_int_equal(cmd->events.len, 1);
    snprintf(x->event_id, sizeof x->event_id, "%s",
             cmd->events.items[0].event_id);
    const char *v[] = {x->stream, x->event_id};
    if (q(qctx, x->sql, 2, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    return OSS_OK;
}

static const char *const insert_sql =
    "INSERT INTO oss.credentials (stream_id, password_hash) VALUES ($1, $2)";

static void
cmd_init(oss_command_t *c, xctx_t *x) {
    memset(c, 0, sizeof *c);
    c->stream_id = x->stream;
    c->stream_type = "test";
    c->expected_version = -1;
    c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c->correlation_id = "corr-extra";
    c->decide = decide;
    c->ctx = x;
    c->extra_fn = extra;
}

static oss_journal_t *
open_journal(void) {
    oss_journal_t *j = NULL;
    oss_err_t err;
    if (oss_journal_open(oss_test_env("OSS_PG_URL"), &j, &err) != OSS_OK)
        fail_msg("cannot open journal: %s", err.msg);
    return j;
}

/* The password_hash column of stream's credential row ("" when none). */
static char *
row_of(oss_journal_t *j, const char *stream) {
    const char *p[] = {stream};
    PGresult *r = PQexecParams(oss_journal_conn(j),
                               "SELECT password_hash FROM oss.credentials "
                               "WHERE stream_id = $1",
                               1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char *s = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return s;
}

static size_t
stream_len(oss_journal_t *j, const char *stream) {
    oss_event_list_t l = {0};
    oss_err_t err;
    assert_int_equal(oss_journal_load(j, stream, &l, &err), OSS_OK);
    size_t n = l.len;
    oss_event_list_free(&l);
    return n;
}

static void
test_extra_commits_with_events(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *s = oss_test_id("jx-ok");
    xctx_t x = {.stream = s, .sql = insert_sql};
    oss_command_t c;
    oss_err_t err;
    cmd_init(&c, &x);
    assert_int_equal(oss_journal_execute(j, &c, 1, &err), OSS_OK);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(x.calls, 1);
    /* the hook saw the event id that was stored */
    assert_string_equal(x.event_id, c.events.items[0].event_id);
    char *row = row_of(j, s);
    assert_string_equal(row, c.events.items[0].event_id);
    free(row);
    oss_event_list_free(&c.events);
    free(s);
    oss_journal_free(j);
}

static void
test_extra_rolled_back_with_rejected_command(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *s1 = oss_test_id("jx-claim"), *s2 = oss_test_id("jx-claim");
    oss_claim_t cl = {.kind = "test-extra", .field = "nik"};
    oss_err_t err;
    assert_int_equal(oss_random(cl.digest, sizeof cl.digest, &err), OSS_OK);
    xctx_t x1 = {.stream = s1, .sql = insert_sql};
    xctx_t x2 = {.stream = s2, .sql = insert_sql};
    oss_command_t c[2];
    cmd_init(&c[0], &x1);
    cmd_init(&c[1], &x2);
    c[0].claims = c[1].claims = &cl;
    c[0].nclaims = c[1].nclaims = 1;
    /* one batch: the second claim of the same digest fails at the database
     * after its extra statement was queued */
    assert_int_equal(oss_journal_execute(j, c, 2, &err), OSS_OK);
    assert_int_equal(c[0].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c[1].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c[1].err.code, OSS_EDUPLICATE);
    char *r1 = row_of(j, s1), *r2 = row_of(j, s2);
    assert_string_not_equal(r1, "");
    assert_string_equal(r2, ""); /* rolled back with its savepoint */
    assert_int_equal(stream_len(j, s2), 0);
    free(r1);
    free(r2);
    oss_event_list_free(&c[0].events);
    oss_event_list_free(&c[1].events);
    free(s1);
    free(s2);
    oss_journal_free(j);
}

static void
test_failing_extra_fails_transaction(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *s = oss_test_id("jx-fail"), *ok = oss_test_id("jx-fail-ok");
    /* a second row for the same primary key: the statement fails */
    xctx_t x1 = {.stream = s, .sql = insert_sql};
    xctx_t x2 = {.stream = s, .sql = insert_sql};
    xctx_t x3 = {.stream = ok, .sql = insert_sql};
    oss_command_t c[3];
    oss_err_t err;
    cmd_init(&c[0], &x3);
    cmd_init(&c[1], &x1);
    cmd_init(&c[2], &x2);
    oss_code_t rc = oss_journal_execute(j, c, 3, &err);
    assert_int_not_equal(rc, OSS_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].outcome, OSS_JOURNAL_REJECTED);
        oss_event_list_free(&c[i].events);
    }
    /* nothing of the batch was written, the innocent command included */
    assert_int_equal(stream_len(j, s), 0);
    assert_int_equal(stream_len(j, ok), 0);
    char *r = row_of(j, ok);
    assert_string_equal(r, "");
    free(r);
    /* the connection is usable afterwards */
    xctx_t x4 = {.stream = ok, .sql = insert_sql};
    cmd_init(&c[0], &x4);
    assert_int_equal(oss_journal_execute(j, c, 1, &err), OSS_OK);
    assert_int_equal(c[0].outcome, OSS_JOURNAL_APPENDED);
    oss_event_list_free(&c[0].events);
    free(s);
    free(ok);
    oss_journal_free(j);
}

int
main(void) {
    if (oss_test_load_env() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extra_commits_with_events),
        cmocka_unit_test(test_extra_rolled_back_with_rejected_command),
        cmocka_unit_test(test_failing_extra_fails_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
