/* Integration tests of the journal against the stack's PostgreSQL
 * (var/run.env): append/load round trip, conflicts, idempotency, identity
 * claims, group commit, reconnects, the application role's limits and the
 * detection of a superuser's tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>
#include "core/bytes.h"
#include "crypto/crypto.h"
#include "journal/journal.h"

#include "oss_test.h"

/* ---- a test command ---------------------------------------------------- */

typedef struct dctx {
    int nevents;            /* events to emit */
    oss_code_t fail;        /* reject with this when set */
    const uint8_t *payload; /* payload of every event */
    size_t payload_len;
    int64_t occurred[4]; /* occurred_at of event i (0 = journal's now) */
    long want_history;   /* >= 0: assert the history length seen */
    /* called once from decide (e.g. to append concurrently) */
    void (*hook)(struct dctx *);
    void *hook_arg;
    int decided; /* times decide ran */
} dctx_t;

static oss_code_t
decide(void *ctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    dctx_t *d = ctx;
    d->decided++;
    if (d->want_history >= 0 && (long)n != d->want_history)
        return oss_err_set(err, OSS_EINTERNAL,
                           "history has %zu events, want %ld", n,
                           d->want_history);
    for (size_t i = 0; i < n; i++)
        if (history[i].version != (int64_t)i + 1)
            return oss_err_set(err, OSS_EINTERNAL, "history out of order");
    if (d->hook) {
        void (*h)(dctx_t *) = d->hook;
        d->hook = NULL;
        h(d);
    }
    if (d->fail)
        return oss_err_field(err, d->fail, "name", "test rejects this");
    for (int i = 0; i < d->nevents; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Thing");
        ev->schema_version = 1;
        ev->occurred_at_us = i < 4 ? d->occurred[i] : 0;
        if (d->payload_len) {
            ev->payload = malloc(d->payload_len);
            memcpy(ev->payload, d->payload, d->payload_len);
            ev->payload_len = d->payload_len;
        }
    }
    return OSS_OK;
}

static char *
response(void *ctx, const oss_command_t *c) {
    (void)ctx;
    char *s = malloc(64);
    snprintf(s, 64, "{\"first\":%lld,\"last\":%lld}",
             (long long)c->first_version, (long long)c->last_version);
    return s;
}

static void
cmd_init(oss_command_t *c, const char *stream, int64_t expected, dctx_t *d) {
    memset(c, 0, sizeof *c);
    c->stream_id = stream;
    c->stream_type = "test";
    c->expected_version = expected;
    c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c->actor_id = "test-journal";
    c->correlation_id = "corr-test";
    c->decide = decide;
    c->ctx = d;
    c->response_status = 201;
    c->response_fn = response;
}

static void
dctx_init(dctx_t *d, int nevents) {
    memset(d, 0, sizeof *d);
    d->nevents = nevents;
    d->want_history = -1;
}

static oss_journal_t *
open_journal(const char *var) {
    oss_journal_t *j = NULL;
    oss_err_t err;
    if (oss_journal_open(oss_test_env(var), &j, &err) != OSS_OK)
        fail_msg("cannot open journal (%s): %s", var, err.msg);
    return j;
}

static void
exec_ok(oss_journal_t *j, oss_command_t *c, size_t n) {
    oss_err_t err;
    if (oss_journal_execute(j, c, n, &err) != OSS_OK)
        fail_msg("execute failed: %s", err.msg);
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
free_cmd(oss_command_t *c) {
    oss_event_list_free(&c->events);
    free(c->replay_response);
    c->replay_response = NULL;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_roundtrip(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sid = oss_test_id("jt-rt");
    static const uint8_t payload[] = {0x00, 0xff, '\\', 'x', 0x27, 0x0a, 0x80};
    dctx_t d;
    dctx_init(&d, 4);
    d.payload = payload;
    d.payload_len = sizeof payload;
    d.occurred[0] = 1764000000123457LL; /* odd micros */
    d.occurred[1] = -1;                 /* before the epoch */
    d.occurred[2] = 4102444800999999LL; /* 2100 */
    d.occurred[3] = 0;                  /* journal's clock */
    oss_command_t c;
    cmd_init(&c, sid, 0, &d);
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c.first_version, 1);
    assert_int_equal(c.last_version, 4);
    assert_int_equal(c.events.len, 4);

    oss_event_list_t l = {0};
    oss_err_t err;
    assert_int_equal(oss_journal_load(j, sid, &l, &err), OSS_OK);
    assert_int_equal(l.len, 4);
    for (size_t i = 0; i < 4; i++) {
        const oss_event_t *a = &c.events.items[i], *b = &l.items[i];
        assert_true(a->position > 0);
        if (i)
            assert_true(a->position > c.events.items[i - 1].position);
        assert_int_equal(a->position, b->position);
        assert_int_equal(b->version, (int64_t)i + 1);
        assert_string_equal(a->event_id, b->event_id);
        assert_string_equal(b->stream_id, sid);
        assert_string_equal(b->stream_type, "test");
        assert_int_equal(a->occurred_at_us, b->occurred_at_us);
        assert_int_equal(a->recorded_at_us, b->recorded_at_us);
        if (i < 3)
            assert_int_equal(b->occurred_at_us, d.occurred[i]);
        else
            assert_int_equal(b->occurred_at_us, b->recorded_at_us);
        assert_int_equal(b->actor_kind, OSS_ACTOR_SYSTEM_JOB);
        assert_string_equal(b->actor_id, "test-journal");
        assert_string_equal(b->correlation_id, "corr-test");
        assert_string_equal(b->causation_id, "");
        assert_null(b->reason);
        assert_string_equal(b->software_version, a->software_version);
        assert_true(b->software_version[0] != '\0');
        assert_int_equal(b->payload_len, sizeof payload);
        assert_memory_equal(b->payload, payload, sizeof payload);
        assert_memory_equal(a->hash, b->hash, 32);
        assert_memory_equal(a->prev_hash, b->prev_hash, 32);
        /* the chain: version 1 starts at zero, then each names the last */
        if (i == 0) {
            static const uint8_t z[32];
            assert_memory_equal(b->prev_hash, z, 32);
        } else {
            assert_memory_equal(b->prev_hash, l.items[i - 1].hash, 32);
        }
        /* the hash recomputed from what the database gave back matches:
         * every field, micros included, survived the round trip */
        oss_event_t cp;
        assert_int_equal(oss_event_copy(&cp, b, NULL), OSS_OK);
        oss_journal_hash(&cp);
        assert_memory_equal(cp.hash, b->hash, 32);
        oss_event_clear(&cp);
    }
    int64_t bad = -1;
    assert_int_equal(oss_journal_verify_stream(j, sid, &bad, &err), OSS_OK);
    assert_int_equal(bad, 0);

    /* an unknown stream loads empty and verifies */
    oss_event_list_free(&l);
    assert_int_equal(oss_journal_load(j, "jt-no-such-stream", &l, &err),
                     OSS_OK);
    assert_int_equal(l.len, 0);

    /* exactness on the server side too */
    PGconn *pc = oss_journal_conn(j);
    const char *pv[1] = {sid};
    PGresult *r = PQexecParams(pc,
                               "SELECT occurred_at = timestamptz "
                               "'2025-11-24 16:00:00.123457+00' FROM "
                               "oss.journal WHERE stream_id = $1 AND "
                               "version = 1",
                               1, NULL, pv, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);

    free_cmd(&c);
    oss_event_list_free(&l);
    free(sid);
    oss_journal_free(j);
}

static void
test_version_conflict(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sid = oss_test_id("jt-vc");
    dctx_t d;
    dctx_init(&d, 2);
    oss_command_t c;
    cmd_init(&c, sid, 0, &d);
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    free_cmd(&c);

    /* must be new, but exists */
    cmd_init(&c, sid, 0, &d);
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c.err.code, OSS_ECONFLICT);
    assert_true(c.err.retriable);
    assert_int_equal(c.events.len, 0);
    /* wrong expected version */
    cmd_init(&c, sid, 5, &d);
    exec_ok(j, &c, 1);
    assert_int_equal(c.err.code, OSS_ECONFLICT);
    assert_int_equal(stream_len(j, sid), 2);
    /* right expected version */
    cmd_init(&c, sid, 2, &d);
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c.first_version, 3);
    assert_int_equal(c.last_version, 4);
    free_cmd(&c);
    free(sid);
    oss_journal_free(j);
}

/* A concurrent append between our read and our write: the unique (stream,
 * version) constraint makes it a conflict, later commands on that stream in
 * the batch are rejected too, other streams are unaffected. */
static oss_journal_t *other;

static void
append_elsewhere(dctx_t *d) {
    dctx_t d2;
    dctx_init(&d2, 1);
    oss_command_t c;
    cmd_init(&c, d->hook_arg, -1, &d2);
    exec_ok(other, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    free_cmd(&c);
}

static void
test_concurrent_conflict(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    other = open_journal("OSS_PG_URL");
    char *s1 = oss_test_id("jt-cc"), *s2 = oss_test_id("jt-cc");
    dctx_t d1, d2, d3;
    dctx_init(&d1, 1);
    dctx_init(&d2, 1);
    dctx_init(&d3, 1);
    d1.hook = append_elsewhere;
    d1.hook_arg = s1;
    oss_command_t c[3];
    cmd_init(&c[0], s1, -1, &d1);
    cmd_init(&c[1], s1, -1, &d2);
    cmd_init(&c[2], s2, -1, &d3);
    exec_ok(j, c, 3);
    assert_int_equal(c[0].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c[0].err.code, OSS_ECONFLICT);
    assert_int_equal(c[1].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c[1].err.code, OSS_ECONFLICT);
    assert_int_equal(c[2].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(stream_len(j, s1), 1); /* the other's event only */
    assert_int_equal(stream_len(j, s2), 1);
    for (int i = 0; i < 3; i++)
        free_cmd(&c[i]);
    free(s1);
    free(s2);
    oss_journal_free(other);
    oss_journal_free(j);
}

static void
test_idempotency(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sid = oss_test_id("jt-idem");
    char *key = oss_test_id("key");
    uint8_t h1[32], h2[32];
    oss_sha256("body one", 8, h1);
    oss_sha256("body two", 8, h2);
    dctx_t d;
    dctx_init(&d, 2);
    oss_command_t c;
    cmd_init(&c, sid, 0, &d);
    c.idempotency_key = key;
    c.request_hash = h1;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(c.events.len, 2);
    free_cmd(&c);

    /* the same request again: first result, no new events, no decide */
    dctx_init(&d, 2);
    cmd_init(&c, sid, 0, &d);
    c.idempotency_key = key;
    c.request_hash = h1;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_REPLAYED);
    assert_int_equal(c.replay_status, 201);
    assert_string_equal(c.replay_response, "{\"first\":1,\"last\":2}");
    assert_int_equal(c.first_version, 1);
    assert_int_equal(c.last_version, 2);
    assert_int_equal(c.events.len, 0);
    assert_int_equal(d.decided, 0);
    assert_int_equal(stream_len(j, sid), 2);
    free_cmd(&c);

    /* the same key with another body */
    cmd_init(&c, sid, -1, &d);
    c.idempotency_key = key;
    c.request_hash = h2;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c.err.code, OSS_EDUPLICATE);
    assert_string_equal(c.err.field, "Idempotency-Key");
    assert_int_equal(stream_len(j, sid), 2);

    /* one key twice in one batch: the second replays the first */
    char *key2 = oss_test_id("key");
    char *sid2 = oss_test_id("jt-idem");
    oss_command_t b[3];
    dctx_t db[3];
    for (int i = 0; i < 3; i++) {
        dctx_init(&db[i], 1);
        cmd_init(&b[i], sid2, -1, &db[i]);
        b[i].idempotency_key = key2;
        b[i].request_hash = i < 2 ? h1 : h2;
    }
    exec_ok(j, b, 3);
    assert_int_equal(b[0].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(b[1].outcome, OSS_JOURNAL_REPLAYED);
    assert_string_equal(b[1].replay_response, "{\"first\":1,\"last\":1}");
    assert_int_equal(b[2].outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(b[2].err.code, OSS_EDUPLICATE);
    assert_int_equal(stream_len(j, sid2), 1);
    for (int i = 0; i < 3; i++)
        free_cmd(&b[i]);
    free(key2);
    free(sid2);
    free(key);
    free(sid);
    oss_journal_free(j);
}

/* The same idempotency key committed by another connection between our
 * read and our write. */
typedef struct race {
    const char *stream;
    const char *key;
    const uint8_t *hash;
} race_t;

static void
append_same_key(dctx_t *d) {
    race_t *r = d->hook_arg;
    dctx_t d2;
    dctx_init(&d2, 1);
    oss_command_t c;
    cmd_init(&c, r->stream, -1, &d2);
    c.idempotency_key = r->key;
    c.request_hash = r->hash;
    exec_ok(other, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    free_cmd(&c);
}

static void
test_idempotency_race(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    other = open_journal("OSS_PG_URL");
    uint8_t h1[32], h2[32];
    oss_sha256("body one", 8, h1);
    oss_sha256("body two", 8, h2);
    for (int round = 0; round < 3; round++) {
        /* round 0: same body, other stream (our idempotency INSERT loses);
         * round 1: different body; round 2: same body, same stream (our
         * event INSERT loses first) */
        char *mine = oss_test_id("jt-race"), *theirs = oss_test_id("jt-race");
        char *key = oss_test_id("key");
        race_t r = {round == 2 ? mine : theirs, key, round == 1 ? h2 : h1};
        /* the other writer takes no key lock (an older build), so it can
         * append inside our transaction: our re-read settles the race */
        oss_journal_set_key_lock(other, false);
        dctx_t d;
        dctx_init(&d, 1);
        d.hook = append_same_key;
        d.hook_arg = &r;
        oss_command_t c;
        cmd_init(&c, mine, -1, &d);
        c.idempotency_key = key;
        c.request_hash = h1;
        exec_ok(j, &c, 1);
        if (round == 1) {
            assert_int_equal(c.outcome, OSS_JOURNAL_REJECTED);
            assert_int_equal(c.err.code, OSS_EDUPLICATE);
            assert_string_equal(c.err.field, "Idempotency-Key");
        } else {
            if (c.outcome != OSS_JOURNAL_REPLAYED)
                fail_msg("round %d: outcome %d: %s", round, c.outcome,
                         c.err.msg);
            assert_string_equal(c.replay_response, "{\"first\":1,\"last\":1}");
        }
        assert_int_equal(c.events.len, 0);
        assert_int_equal(stream_len(j, mine), round == 2 ? 1 : 0);
        free_cmd(&c);
        free(mine);
        free(theirs);
        free(key);
    }
    oss_journal_free(other);
    oss_journal_free(j);
}

/* A retry in flight: while our command (key K) decides, inside its open
 * transaction, another connection runs the same request under K on a new
 * stream. It must wait for ours (the key lock), then answer with our
 * result; without the lock it would append a second registration. */
typedef struct inflight {
    const char *stream, *key;
    const uint8_t *hash;
    oss_command_t c;
    dctx_t d;
    volatile int done;
    oss_code_t rc;
} inflight_t;

static void *
inflight_run(void *arg) {
    inflight_t *f = arg;
    oss_err_t err;
    dctx_init(&f->d, 1);
    cmd_init(&f->c, f->stream, -1, &f->d);
    f->c.idempotency_key = f->key;
    f->c.request_hash = f->hash;
    f->rc = oss_journal_execute(other, &f->c, 1, &err);
    f->done = 1;
    return NULL;
}

static pthread_t inflight_thread;

static void
start_retry(dctx_t *d) {
    inflight_t *f = d->hook_arg;
    assert_int_equal(pthread_create(&inflight_thread, NULL, inflight_run, f),
                     0);
    usleep(400 * 1000);
    /* still waiting for our transaction */
    assert_int_equal(f->done, 0);
}

static void
test_idempotency_in_flight(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    other = open_journal("OSS_PG_URL");
    uint8_t h[32];
    oss_sha256("body one", 8, h);
    char *mine = oss_test_id("jt-flight"), *theirs = oss_test_id("jt-flight");
    char *key = oss_test_id("key");
    inflight_t f = {.stream = theirs, .key = key, .hash = h};
    dctx_t d;
    dctx_init(&d, 1);
    d.hook = start_retry;
    d.hook_arg = &f;
    oss_command_t c;
    cmd_init(&c, mine, -1, &d);
    c.idempotency_key = key;
    c.request_hash = h;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(pthread_join(inflight_thread, NULL), 0);
    assert_int_equal(f.rc, OSS_OK);
    if (f.c.outcome != OSS_JOURNAL_REPLAYED)
        fail_msg("the retry in flight: outcome %d: %s", f.c.outcome,
                 f.c.err.msg);
    assert_string_equal(f.c.replay_response, "{\"first\":1,\"last\":1}");
    assert_int_equal(stream_len(j, theirs), 0);
    assert_int_equal(stream_len(j, mine), 1);
    free_cmd(&f.c);
    free_cmd(&c);
    free(mine);
    free(theirs);
    free(key);
    oss_journal_free(other);
    oss_journal_free(j);
}

static void
test_claims(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *s1 = oss_test_id("jt-claim"), *s2 = oss_test_id("jt-claim");
    oss_claim_t cl = {.kind = "test-nik", .field = "nik"};
    oss_err_t err;
    assert_int_equal(oss_random(cl.digest, sizeof cl.digest, &err), OSS_OK);
    dctx_t d;
    dctx_init(&d, 1);
    oss_command_t c;
    cmd_init(&c, s1, 0, &d);
    c.claims = &cl;
    c.nclaims = 1;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    free_cmd(&c);

    cmd_init(&c, s2, 0, &d);
    c.claims = &cl;
    c.nclaims = 1;
    exec_ok(j, &c, 1);
    assert_int_equal(c.outcome, OSS_JOURNAL_REJECTED);
    assert_int_equal(c.err.code, OSS_EDUPLICATE);
    assert_string_equal(c.err.field, "nik");
    assert_int_equal(c.events.len, 0);
    assert_int_equal(stream_len(j, s2), 0); /* its event was rolled back */

    /* the claim fails at the database after later commands of the batch
     * were planned on its events: they are decided again without them */
    char *s3 = oss_test_id("jt-claim");
    dctx_t d3[3];
    oss_command_t b[3];
    for (int i = 0; i < 3; i++) {
        dctx_init(&d3[i], 1);
        cmd_init(&b[i], s3, -1, &d3[i]);
    }
    b[0].claims = &cl;
    b[0].nclaims = 1;
    b[1].expected_version = 0; /* true once b[0] is gone */
    d3[1].want_history = 0;
    d3[2].want_history = 1;
    exec_ok(j, b, 3);
    assert_int_equal(b[0].err.code, OSS_EDUPLICATE);
    if (b[1].outcome != OSS_JOURNAL_APPENDED)
        fail_msg("b[1]: %s", b[1].err.msg);
    assert_int_equal(b[1].first_version, 1);
    assert_int_equal(b[2].outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(b[2].first_version, 2);
    assert_true(b[1].events.items[0].position > 0);
    assert_true(b[2].events.items[0].position > b[1].events.items[0].position);
    assert_int_equal(stream_len(j, s3), 2);
    assert_int_equal(oss_journal_verify_stream(j, s3, NULL, &err), OSS_OK);
    for (int i = 0; i < 3; i++)
        free_cmd(&b[i]);
    free(s3);
    free(s1);
    free(s2);
    oss_journal_free(j);
}

static void
test_group_commit(void **state) {
    (void)state;
    enum { N = 24 };
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sids[N];
    dctx_t d[N];
    oss_command_t c[N];
    oss_claim_t cl = {.kind = "test-nik", .field = "nik"};
    oss_random(cl.digest, sizeof cl.digest, NULL);
    char *shared = oss_test_id("jt-gc-shared");
    for (int i = 0; i < N; i++) {
        sids[i] = oss_test_id("jt-gc");
        dctx_init(&d[i], 1 + i % 3);
        cmd_init(&c[i], sids[i], 0, &d[i]);
    }
    d[7].fail = OSS_EINVAL;                /* decide says no */
    c[12].expected_version = 5;            /* conflict */
    c[3].claims = &cl, c[3].nclaims = 1;   /* claim ... */
    c[15].claims = &cl, c[15].nclaims = 1; /* ... and its duplicate */
    /* three commands on one stream see each other's events */
    for (int i = 18; i < 21; i++) {
        c[i].stream_id = shared;
        c[i].expected_version = -1;
        d[i].nevents = 2;
        d[i].want_history = 2 * (i - 18);
    }
    exec_ok(j, c, N);
    for (int i = 0; i < N; i++) {
        if (i == 7) {
            assert_int_equal(c[i].outcome, OSS_JOURNAL_REJECTED);
            assert_int_equal(c[i].err.code, OSS_EINVAL);
            assert_string_equal(c[i].err.field, "name");
        } else if (i == 12) {
            assert_int_equal(c[i].err.code, OSS_ECONFLICT);
        } else if (i == 15) {
            assert_int_equal(c[i].err.code, OSS_EDUPLICATE);
        } else {
            if (c[i].outcome != OSS_JOURNAL_APPENDED)
                fail_msg("command %d: %s", i, c[i].err.msg);
            assert_int_equal(c[i].events.len, (size_t)d[i].nevents);
        }
        if (i < 18 || i > 20)
            assert_int_equal(stream_len(j, sids[i]),
                             c[i].outcome == OSS_JOURNAL_APPENDED
                                 ? (size_t)d[i].nevents
                                 : 0);
    }
    assert_int_equal(stream_len(j, shared), 6);
    assert_int_equal(c[20].first_version, 5);
    int64_t bad;
    oss_err_t err;
    assert_int_equal(oss_journal_verify_stream(j, shared, &bad, &err), OSS_OK);
    for (int i = 0; i < N; i++) {
        free_cmd(&c[i]);
        free(sids[i]);
    }
    free(shared);
    oss_journal_free(j);
}

/* One NOTIFY per transaction that appended, none for one that did not. */
static void
test_notify_once(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    PGconn *l = PQconnectdb(oss_test_env("OSS_PG_URL"));
    assert_int_equal(PQstatus(l), CONNECTION_OK);
    PGresult *r = PQexec(l, "LISTEN oss_journal");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    /* other writers share the database: our own notifications are the
     * ones from our backend */
    int pid = PQbackendPID(oss_journal_conn(j));
    enum { N = 5 };
    dctx_t d[N];
    oss_command_t c[N];
    char *sids[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            sids[i] = oss_test_id("jt-notify");
            dctx_init(&d[i], 1);
            d[i].fail = round == 1 ? OSS_EINVAL : OSS_OK;
            cmd_init(&c[i], sids[i], 0, &d[i]);
        }
        exec_ok(j, c, N);
        usleep(200000);
        PQconsumeInput(l);
        int mine = 0;
        PGnotify *nf;
        while ((nf = PQnotifies(l)) != NULL) {
            if (nf->be_pid == pid)
                mine++;
            PQfreemem(nf);
        }
        assert_int_equal(mine, round == 0 ? 1 : 0);
        for (int i = 0; i < N; i++) {
            free_cmd(&c[i]);
            free(sids[i]);
        }
    }
    PQfinish(l);
    oss_journal_free(j);
}

static void
test_unavailable_and_reconnect(void **state) {
    (void)state;
    oss_journal_t *j = NULL;
    oss_err_t err;
    assert_int_equal(oss_journal_open("postgresql://oss_app:x@127.0.0.1:1/oss"
                                      "?connect_timeout=2",
                                      &j, &err),
                     OSS_EUNAVAIL);
    assert_true(err.retriable);
    assert_null(j);

    /* a backend killed under an idle connection: ping and execute recover */
    j = open_journal("OSS_PG_URL");
    PGconn *su = PQconnectdb(oss_test_env("OSS_PG_SUPER_URL"));
    assert_int_equal(PQstatus(su), CONNECTION_OK);
    char sql[128];
    for (int round = 0; round < 2; round++) {
        snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d, 5000)",
                 PQbackendPID(oss_journal_conn(j)));
        PGresult *r = PQexec(su, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        PQclear(r);
        if (round == 0) {
            assert_int_equal(oss_journal_ping(j, &err), OSS_OK);
        } else {
            char *sid = oss_test_id("jt-reconn");
            dctx_t d;
            dctx_init(&d, 1);
            oss_command_t c;
            cmd_init(&c, sid, 0, &d);
            exec_ok(j, &c, 1);
            assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
            assert_int_equal(stream_len(j, sid), 1);
            free_cmd(&c);
            free(sid);
        }
    }
    PQfinish(su);
    oss_journal_free(j);
}

static void
expect_refused(PGconn *pc, const char *sql, const char *sid) {
    const char *pv[1] = {sid};
    PGresult *r = PQexecParams(pc, sql, 1, NULL, pv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_FATAL_ERROR)
        fail_msg("not refused: %s", sql);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
}

static void
test_app_role_append_only(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sid = oss_test_id("jt-ro");
    dctx_t d;
    dctx_init(&d, 2);
    oss_command_t c;
    cmd_init(&c, sid, 0, &d);
    exec_ok(j, &c, 1);
    PGconn *pc = oss_journal_conn(j);
    expect_refused(
        pc, "UPDATE oss.journal SET reason = 'x' WHERE stream_id = $1", sid);
    expect_refused(pc, "DELETE FROM oss.journal WHERE stream_id = $1", sid);
    PGresult *r = PQexec(pc, "TRUNCATE oss.journal");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    /* the owner is refused too, by the trigger */
    PGconn *own = PQconnectdb(oss_test_env("OSS_PG_ADMIN_URL"));
    assert_int_equal(PQstatus(own), CONNECTION_OK);
    expect_refused(
        own, "UPDATE oss.journal SET reason = 'x' WHERE stream_id = $1", sid);
    expect_refused(own, "DELETE FROM oss.journal WHERE stream_id = $1", sid);
    r = PQexec(own, "TRUNCATE oss.journal");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    PQfinish(own);
    /* the application role cannot choose a row's xid or position: a row
     * placed below the relay's cursor would never be published */
    expect_refused(pc,
                   "INSERT INTO oss.journal (xid, event_id, stream_id, "
                   "stream_type, version, occurred_at, recorded_at, "
                   "actor_kind, software_version, payload_type, "
                   "schema_version, payload, prev_hash, hash) "
                   "SELECT '1'::xid8, gen_random_uuid(), $1 || '-x', 't', 1, "
                   "now(), now(), 3, 'v', 't', 1, '\\x00', "
                   "sha256('a'), sha256('b')",
                   sid);
    expect_refused(pc,
                   "INSERT INTO oss.journal (position, event_id, stream_id, "
                   "stream_type, version, occurred_at, recorded_at, "
                   "actor_kind, software_version, payload_type, "
                   "schema_version, payload, prev_hash, hash) "
                   "OVERRIDING SYSTEM VALUE "
                   "SELECT 1, gen_random_uuid(), $1 || '-y', 't', 1, "
                   "now(), now(), 3, 'v', 't', 1, '\\x00', "
                   "sha256('a'), sha256('b')",
                   sid);
    assert_int_equal(stream_len(j, sid), 2);
    oss_err_t err;
    assert_int_equal(oss_journal_verify_stream(j, sid, NULL, &err), OSS_OK);
    free_cmd(&c);
    free(sid);
    oss_journal_free(j);
}

/* A superuser who disables the trigger and rewrites a row is caught by the
 * chain. Done inside one transaction that is rolled back, so the shared
 * database keeps no corrupt stream (verify reads through the same
 * connection, inside that transaction). */
static void
tamper_and_verify(const char *sid, const char *dml, int64_t want_bad) {
    oss_journal_t *su = open_journal("OSS_PG_SUPER_URL");
    PGconn *pc = oss_journal_conn(su);
    PGresult *r = PQexec(pc, "BEGIN; ALTER TABLE oss.journal DISABLE TRIGGER "
                             "journal_no_update");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *pv[1] = {sid};
    r = PQexecParams(pc, dml, 1, NULL, pv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", dml, PQresultErrorMessage(r));
    assert_string_equal(PQcmdTuples(r), "1");
    PQclear(r);
    r = PQexec(pc, "ALTER TABLE oss.journal ENABLE TRIGGER journal_no_update");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    int64_t bad = -1;
    oss_err_t err;
    assert_int_equal(oss_journal_verify_stream(su, sid, &bad, &err),
                     OSS_ECORRUPT);
    assert_int_equal(bad, want_bad);
    char want[64];
    snprintf(want, sizeof want, "version %lld", (long long)want_bad);
    assert_non_null(strstr(err.msg, want));
    r = PQexec(pc, "ROLLBACK");
    PQclear(r);
    oss_journal_free(su);
}

static void
test_superuser_tamper_detected(void **state) {
    (void)state;
    oss_journal_t *j = open_journal("OSS_PG_URL");
    char *sid = oss_test_id("jt-tamper");
    dctx_t d;
    dctx_init(&d, 4);
    d.payload = (const uint8_t *)"abc";
    d.payload_len = 3;
    oss_command_t c;
    cmd_init(&c, sid, 0, &d);
    exec_ok(j, &c, 1);
    free_cmd(&c);
    tamper_and_verify(sid,
                      "UPDATE oss.journal SET payload = '\\x01'::bytea"
                      " WHERE stream_id = $1 AND version = 2",
                      2);
    tamper_and_verify(sid,
                      "UPDATE oss.journal SET occurred_at = occurred_at +"
                      " interval '1 microsecond'"
                      " WHERE stream_id = $1 AND version = 3",
                      3);
    /* a recomputed hash still breaks the next link */
    oss_event_list_t l = {0};
    oss_err_t err;
    assert_int_equal(oss_journal_load(j, sid, &l, &err), OSS_OK);
    l.items[1].payload[0] ^= 1;
    oss_journal_hash(&l.items[1]);
    char dml[512], hx[65];
    oss_hex_encode(l.items[1].hash, 32, hx);
    snprintf(dml, sizeof dml,
             "UPDATE oss.journal SET payload = '\\x%02x'::bytea ||"
             " substring(payload from 2), hash = '\\x%s'::bytea"
             " WHERE stream_id = $1 AND version = 2",
             l.items[1].payload[0], hx);
    tamper_and_verify(sid, dml, 3);
    tamper_and_verify(sid,
                      "DELETE FROM oss.journal WHERE stream_id = $1 AND"
                      " version = 2",
                      2);
    /* after all that, the committed stream is intact */
    assert_int_equal(oss_journal_verify_stream(j, sid, NULL, &err), OSS_OK);
    oss_event_list_free(&l);
    free(sid);
    oss_journal_free(j);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env();
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_version_conflict),
        cmocka_unit_test(test_concurrent_conflict),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_idempotency_race),
        cmocka_unit_test(test_idempotency_in_flight),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_notify_once),
        cmocka_unit_test(test_unavailable_and_reconnect),
        cmocka_unit_test(test_app_role_append_only),
        cmocka_unit_test(test_superuser_tamper_detected),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
