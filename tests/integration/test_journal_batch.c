/* Integration tests of the journal's batched path (src/journal/README.md):
 * batches of new streams without reads, one INSERT per table, positions in
 * batch order, the fall-back to the careful path on a unique violation
 * (existing stream, duplicate claim within a batch and against a committed
 * one), reads still done for expected versions and idempotency keys, and
 * more distinct extra statements than prepared-statement slots. Against
 * the stack's PostgreSQL (var/run.env). */
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

typedef struct dctx {
    int nevents;
    int decided;
    int nextra; /* distinct extra statements to queue */
    int extra_base;
} dctx_t;

static oss_code_t
decide(void *ctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    dctx_t *d = ctx;
    d->decided++;
    for (size_t i = 0; i < n; i++)
        if (history[i].version != (int64_t)i + 1)
            return oss_err_set(err, OSS_EINTERNAL, "history out of order");
    for (int i = 0; i < d->nevents; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Thing");
        ev->schema_version = 1;
        ev->payload = malloc(3);
        memcpy(ev->payload, "a\"\\", 3); /* quote and backslash */
        ev->payload_len = 3;
        if (i == 1)
            ev->reason = strdup("a \"reason\", with {braces} and \\");
    }
    return OSS_OK;
}

static oss_code_t
extra(void *ctx, const oss_command_t *cmd, oss_journal_queue_fn q, void *qctx,
      oss_err_t *err) {
    dctx_t *d = ctx;
    (void)cmd;
    (void)err;
    for (int i = 0; i < d->nextra; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT %d + $1::int", d->extra_base + i);
        const char *v[] = {"1"};
        if (q(qctx, sql, 1, v, NULL, NULL))
            return OSS_EUNAVAIL;
    }
    return OSS_OK;
}

static void
cmd_init(oss_command_t *c, const char *stream, int64_t expected, dctx_t *d,
         int nevents) {
    memset(c, 0, sizeof *c);
    memset(d, 0, sizeof *d);
    d->nevents = nevents;
    c->stream_id = stream;
    c->stream_type = "test";
    c->expected_version = expected;
    c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c->actor_id = "test-journal-batch";
    c->correlation_id = "corr-batch";
    c->decide = decide;
    c->ctx = d;
    c->response_status = 201;
    c->extra_fn = extra;
}

static oss_journal_t *
open_journal(void) {
    oss_journal_t *j = NULL;
    oss_err_t err;
    assert_int_equal(oss_journal_open(oss_test_env("OSS_PG_URL"), &j, &err),
                     OSS_OK);
    return j;
}

static void
exec_ok(oss_journal_t *j, oss_command_t *c, size_t n) {
    oss_err_t err;
    oss_err_clear(&err);
    if (oss_journal_execute(j, c, n, &err) != OSS_OK)
        fail_msg("execute failed: %s", err.msg);
}

static void
free_cmds(oss_command_t *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        oss_event_list_free(&c[i].events);
        free(c[i].replay_response);
    }
}

/* every stored row re-hashes and chains; returns the stream's length */
static long
verified_len(oss_journal_t *j, const char *sid) {
    oss_err_t err;
    int64_t bad = 0;
    assert_int_equal(oss_journal_verify_stream(j, sid, &bad, &err), OSS_OK);
    oss_event_list_t l = {0};
    assert_int_equal(oss_journal_load(j, sid, &l, &err), OSS_OK);
    long n = (long)l.len;
    oss_event_list_free(&l);
    return n;
}

static void
test_new_streams_in_order(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *s[3];
    dctx_t d[3];
    oss_command_t c[3];
    for (int i = 0; i < 3; i++) {
        s[i] = oss_test_id("jb-new");
        cmd_init(&c[i], s[i], 0, &d[i], 2);
        d[i].nextra = 2;
    }
    exec_ok(j, c, 3);
    int64_t last = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].outcome, OSS_JOURNAL_APPENDED);
        assert_int_equal(c[i].first_version, 1);
        assert_int_equal(c[i].last_version, 2);
        assert_int_equal(d[i].decided, 1);
        for (size_t e = 0; e < c[i].events.len; e++) {
            /* one INSERT for the batch: positions in batch order */
            assert_true(c[i].events.items[e].position > last);
            last = c[i].events.items[e].position;
        }
        assert_int_equal(verified_len(j, s[i]), 2);
    }
    /* the same streams again, expected 0: each one a conflict, settled on
     * the careful path */
    dctx_t d2[3];
    oss_command_t c2[3];
    char *fresh = oss_test_id("jb-new");
    cmd_init(&c2[0], fresh, 0, &d2[0], 1);
    cmd_init(&c2[1], s[1], 0, &d2[1], 1);
    cmd_init(&c2[2], s[2], -1, &d2[2], 1); /* reads: appends version 3 */
    exec_ok(j, c2, 3);
    assert_int_equal(c2[0].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c2[1].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c2[1].err.code, OSS_ECONFLICT);
    assert_int_equal(c2[2].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c2[2].first_version, 3);
    assert_int_equal(verified_len(j, fresh), 1);
    assert_int_equal(verified_len(j, s[1]), 2);
    assert_int_equal(verified_len(j, s[2]), 3);

    /* a blind batch meeting an existing stream falls back too */
    dctx_t d3[2];
    oss_command_t c3[2];
    char *fresh2 = oss_test_id("jb-new");
    cmd_init(&c3[0], s[0], 0, &d3[0], 1);
    cmd_init(&c3[1], fresh2, 0, &d3[1], 1);
    exec_ok(j, c3, 2);
    assert_int_equal(c3[0].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c3[0].err.code, OSS_ECONFLICT);
    assert_int_equal(c3[1].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(verified_len(j, s[0]), 2);
    assert_int_equal(verified_len(j, fresh2), 1);

    free_cmds(c, 3);
    free_cmds(c2, 3);
    free_cmds(c3, 2);
    for (int i = 0; i < 3; i++)
        free(s[i]);
    free(fresh);
    free(fresh2);
    oss_journal_free(j);
}

static void
test_claims_fall_back(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *s[3] = {oss_test_id("jb-cl"), oss_test_id("jb-cl"),
                  oss_test_id("jb-cl")};
    oss_claim_t cl[2];
    oss_err_t err;
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < 2; i++) {
        cl[i].kind = "test-batch";
        cl[i].field = i ? "other" : "nik";
        assert_int_equal(oss_random(cl[i].digest, 32, &err), OSS_OK);
    }
    dctx_t d[3];
    oss_command_t c[3];
    cmd_init(&c[0], s[0], 0, &d[0], 1);
    c[0].claims = &cl[0];
    c[0].nclaims = 1;
    cmd_init(&c[1], s[1], 0, &d[1], 1);
    c[1].claims = &cl[0]; /* the same claim in the same batch */
    c[1].nclaims = 1;
    cmd_init(&c[2], s[2], 0, &d[2], 1);
    c[2].claims = &cl[1];
    c[2].nclaims = 1;
    exec_ok(j, c, 3);
    assert_int_equal(c[0].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c[1].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c[1].err.code, OSS_EDUPLICATE);
    assert_string_equal(c[1].err.field, "nik");
    assert_int_equal(c[2].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(verified_len(j, s[1]), 0);
    assert_int_equal(verified_len(j, s[2]), 1);
    free_cmds(c, 3);

    /* against the committed claim, in a new batch */
    char *s4 = oss_test_id("jb-cl");
    cmd_init(&c[0], s4, 0, &d[0], 1);
    c[0].claims = &cl[1];
    c[0].nclaims = 1;
    exec_ok(j, c, 1);
    assert_int_equal(c[0].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c[0].err.code, OSS_EDUPLICATE);
    assert_string_equal(c[0].err.field, "other");
    assert_int_equal(verified_len(j, s4), 0);
    free_cmds(c, 1);
    for (int i = 0; i < 3; i++)
        free(s[i]);
    free(s4);
    oss_journal_free(j);
}

static void
test_keys_and_many_statements(void **state) {
    (void)state;
    oss_journal_t *j = open_journal();
    char *sid = oss_test_id("jb-key"), *key = oss_test_id("jb-key");
    uint8_t h[32];
    oss_sha256("body", 4, h);
    dctx_t d[2];
    oss_command_t c[2];
    /* more distinct extra statements than prepared slots (64), twice, on
     * one connection */
    for (int round = 0; round < 2; round++) {
        cmd_init(&c[0], sid, 0, &d[0], 1);
        c[0].idempotency_key = key;
        c[0].request_hash = h;
        d[0].nextra = 40;
        d[0].extra_base = 1000 * round;
        cmd_init(&c[1], sid, 0, &d[1], 1); /* same key: replays the first */
        c[1].idempotency_key = key;
        c[1].request_hash = h;
        d[1].nextra = 40;
        d[1].extra_base = 1000 * round + 500;
        exec_ok(j, c, 2);
        assert_int_equal(c[0].outcome,
                         round ? OSS_JOURNAL_REPLAYED : OSS_JOURNAL_APPENDED);
        assert_int_equal(c[1].outcome, OSS_JOURNAL_REPLAYED);
        /* a stored key answers without decide(): it was read first */
        assert_int_equal(d[0].decided, round ? 0 : 1);
        assert_int_equal(d[1].decided, 0);
        free_cmds(c, 2);
    }
    assert_int_equal(verified_len(j, sid), 1);
    free(sid);
    free(key);
    oss_journal_free(j);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env(); /* fails without var/run.env */
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_streams_in_order),
        cmocka_unit_test(test_claims_fall_back),
        cmocka_unit_test(test_keys_and_many_statements),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
