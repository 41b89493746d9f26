/* Integration tests of the journal's scan interface (src/journal/scan.h)
 * against the stack's PostgreSQL: the commit horizon held back by an open
 * transaction (a later-committed transaction's rows wait, none is skipped),
 * every filter returning exactly its rows, paging over more rows than one
 * statement reads, a scan inside the caller's transaction seeing its
 * uncommitted rows, the commit-order cursor resuming without loss or
 * duplicate, malformed rows, and the aggregates. Rows are inserted with
 * plain SQL (as the application role) so that each test controls its
 * transactions; each test uses streams of its own. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <cmocka.h>

#include "core/clock.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "journal/scan.h"
#include "oss_test.h"

/* ---- helpers ----------------------------------------------------------- */

static PGconn *
connect_app(void) {
    PGconn *c = PQconnectdb(oss_test_env("OSS_PG_URL"));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void
exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

typedef struct row_spec {
    const char *stream;
    int64_t version;
    const char *type;     /* NULL: test.v1.Thing */
    int actor_kind;       /* 0: 3 (system job) */
    const char *actor_id; /* NULL: "scan" */
    const char *corr;     /* NULL: "" */
    const char *cause;    /* NULL: "" */
    int64_t recorded_us;  /* 0: now() */
    const char *reason;   /* NULL: no reason */
} row_spec_t;

/* The last hash of each stream written here, so that rows chain like the
 * journal's own (`oss audit verify` of the whole journal stays sound). */
typedef struct chain {
    char stream[320];
    uint8_t hash[OSS_HASH_LEN];
} chain_t;
static chain_t chains[64];
static size_t nchains;

static chain_t *
chain_of(const char *stream) {
    for (size_t i = 0; i < nchains; i++)
        if (!strcmp(chains[i].stream, stream))
            return &chains[i];
    assert_true(nchains < sizeof chains / sizeof chains[0]);
    chain_t *ch = &chains[nchains++];
    memset(ch, 0, sizeof *ch);
    snprintf(ch->stream, sizeof ch->stream, "%s", stream);
    return ch;
}

static void
hex(const uint8_t *b, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hx[b[i] >> 4];
        out[3 + 2 * i] = hx[b[i] & 15];
    }
    out[2 + 2 * n] = '\0';
}

/* Inserts one row on c (in c's transaction, if any), hash-chained after the
 * stream's previous row written here; returns its position. A stream id
 * too long for oss_event_t gets zero hashes (such rows are only written in
 * transactions that roll back). */
static int64_t
insert_row(PGconn *c, const row_spec_t *s) {
    static const uint8_t payload[2] = {1, 2};
    oss_event_t ev = {0};
    int fits = strlen(s->stream) < sizeof ev.stream_id;
    oss_uuid4(ev.event_id);
    snprintf(ev.stream_id, sizeof ev.stream_id, "%s", s->stream);
    snprintf(ev.stream_type, sizeof ev.stream_type, "test");
    ev.version = s->version;
    ev.recorded_at_us = s->recorded_us ? s->recorded_us : oss_now_us();
    ev.occurred_at_us = ev.recorded_at_us;
    ev.actor_kind = (oss_actor_kind_t)(s->actor_kind ? s->actor_kind : 3);
    snprintf(ev.actor_id, sizeof ev.actor_id, "%s",
             s->actor_id ? s->actor_id : "scan");
    snprintf(ev.correlation_id, sizeof ev.correlation_id, "%s",
             s->corr ? s->corr : "");
    snprintf(ev.causation_id, sizeof ev.causation_id, "%s",
             s->cause ? s->cause : "");
    ev.reason = (char *)s->reason;
    snprintf(ev.software_version, sizeof ev.software_version, "test");
    snprintf(ev.payload_type, sizeof ev.payload_type, "%s",
             s->type ? s->type : "test.v1.Thing");
    ev.schema_version = 1;
    ev.payload = (uint8_t *)payload;
    ev.payload_len = sizeof payload;
    chain_t *ch = fits ? chain_of(s->stream) : NULL;
    if (ch) {
        memcpy(ev.prev_hash, ch->hash, OSS_HASH_LEN);
        oss_journal_hash(&ev);
    }
    char v[24], k[8], occ[24], ph[80], h[80];
    snprintf(v, sizeof v, "%" PRId64, ev.version);
    snprintf(k, sizeof k, "%d", (int)ev.actor_kind);
    snprintf(occ, sizeof occ, "%" PRId64, ev.recorded_at_us);
    hex(ev.prev_hash, OSS_HASH_LEN, ph);
    hex(ev.hash, OSS_HASH_LEN, h);
    const char *p[13] = {ev.event_id,
                         s->stream,
                         v,
                         occ,
                         k,
                         ev.actor_id,
                         ev.correlation_id,
                         ev.causation_id,
                         s->reason,
                         ev.payload_type,
                         ph,
                         h,
                         "\\x0102"};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO oss.journal (event_id, stream_id, stream_type, version,"
        " occurred_at, recorded_at, actor_kind, actor_id, correlation_id,"
        " causation_id, reason, software_version, payload_type,"
        " schema_version, payload, prev_hash, hash) VALUES"
        " ($1::uuid, $2, 'test', $3::int8, to_timestamp(0) + ($4::int8 /"
        " 1000000) * interval '1 second' + ($4::int8 % 1000000) * interval"
        " '1 microsecond', to_timestamp(0) + ($4::int8 / 1000000) * interval"
        " '1 second' + ($4::int8 % 1000000) * interval '1 microsecond',"
        " $5::int2, $6, $7, $8, $9, 'test', $10, 1, $13::bytea, $11::bytea,"
        " $12::bytea) RETURNING position",
        13, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("insert: %s", PQresultErrorMessage(r));
    int64_t pos = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (ch)
        memcpy(ch->hash, ev.hash, OSS_HASH_LEN);
    return pos;
}

static int64_t
insert_simple(PGconn *c, const char *stream, int64_t version) {
    row_spec_t s = {.stream = stream, .version = version};
    return insert_row(c, &s);
}

static uint64_t
current_xid(PGconn *c) {
    PGresult *r = PQexec(c, "SELECT pg_current_xact_id()::text");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    uint64_t x = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return x;
}

/* What a scan delivered. */
#define GOT_MAX 5000
typedef struct got {
    int64_t pos[GOT_MAX];
    uint64_t xid[GOT_MAX];
    int64_t version[GOT_MAX];
    char stream[GOT_MAX][OSS_ID_MAX];
    char type[GOT_MAX][64];
    size_t n;
    int malformed;
    size_t stop_after; /* 0: never stop */
} got_t;

static int
collect(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    got_t *g = ctx;
    (void)err;
    if (row->malformed) {
        g->malformed++;
        return 0;
    }
    assert_true(g->n < GOT_MAX);
    g->pos[g->n] = row->ev.position;
    g->xid[g->n] = row->xid;
    g->version[g->n] = row->ev.version;
    snprintf(g->stream[g->n], sizeof g->stream[0], "%s", row->ev.stream_id);
    snprintf(g->type[g->n], sizeof g->type[0], "%s", row->ev.payload_type);
    g->n++;
    return g->stop_after && g->n >= g->stop_after ? 1 : 0;
}

static got_t *
scan(PGconn *c, const oss_journal_filter_t *f) {
    static got_t g;
    oss_err_t err = {0};
    int64_t n = -1;
    memset(&g, 0, sizeof g);
    oss_code_t rc = oss_journal_scan(c, f, collect, &g, &n, &err);
    if (rc)
        fail_msg("scan: %s", err.msg);
    assert_int_equal(n, (int64_t)g.n + g.malformed);
    return &g;
}

static void
sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the commit horizon ------------------------------------------------ */

static void
test_horizon_held_back(void **state) {
    (void)state;
    char *s1 = oss_test_id("scan-h1"), *s2 = oss_test_id("scan-h2");
    const char *both[2] = {s1, s2};
    PGconn *a = connect_app(), *b = connect_app(), *c = connect_app();
    oss_journal_cursor_t zero = {0, 0};
    oss_journal_filter_t f = {.streams = both,
                              .nstreams = 2,
                              .after = &zero,
                              .below_horizon = 1,
                              .order = OSS_JOURNAL_ORDER_COMMIT};
    oss_err_t err = {0};

    /* A takes the lower transaction id and stays open; B commits after */
    exec_ok(a, "BEGIN");
    int64_t pa = insert_simple(a, s1, 1);
    uint64_t xa = current_xid(a);
    exec_ok(b, "BEGIN");
    int64_t pb = insert_simple(b, s2, 1);
    uint64_t xb = current_xid(b);
    exec_ok(b, "COMMIT");
    assert_true(xa < xb);

    oss_journal_horizon_t h;
    assert_int_equal(oss_journal_horizon(c, &h, &err), OSS_OK);
    assert_true(h.xmin <= xa);
    assert_true(h.xmax > xb);

    /* B's row is committed, but below the horizon nothing is delivered */
    got_t *g = scan(c, &f);
    assert_int_equal(g->n, 0);
    int64_t n = -1;
    assert_int_equal(oss_journal_count(c, &f, &n, &err), OSS_OK);
    assert_int_equal(n, 0);
    oss_journal_filter_t committed = f;
    committed.below_horizon = 0;
    g = scan(c, &committed);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->pos[0], pb);

    /* once A commits both come, A's first (lower xid), none skipped */
    exec_ok(a, "COMMIT");
    for (int i = 0; i < 200; i++) {
        g = scan(c, &f);
        if (g->n == 2)
            break;
        sleep_ms(50); /* another transaction of the cluster may be older */
    }
    assert_int_equal(g->n, 2);
    assert_int_equal(g->pos[0], pa);
    assert_int_equal(g->xid[0], xa);
    assert_int_equal(g->pos[1], pb);
    assert_int_equal(g->xid[1], xb);
    assert_int_equal(oss_journal_count(c, &f, &n, &err), OSS_OK);
    assert_int_equal(n, 2);

    PQfinish(a);
    PQfinish(b);
    PQfinish(c);
    free(s1);
    free(s2);
}

/* ---- filters ----------------------------------------------------------- */

static void
test_filters(void **state) {
    (void)state;
    char *x = oss_test_id("scan-fx"), *y = oss_test_id("scan-fy");
    char *corr = oss_test_id("corr"), *actor = oss_test_id("actor");
    PGconn *c = connect_app();
    oss_err_t err = {0};
    int64_t t0 = 1700000000000000LL; /* recorded times: t0 + version s */
    int64_t px[7], py[4];
    /* x: versions 1..6; even versions are test.v1.Even, by `actor` (kind
     * 2), correlation corr; version 4 is caused by x's version 1 */
    for (int v = 1; v <= 6; v++) {
        row_spec_t s = {.stream = x,
                        .version = v,
                        .type = v % 2 ? "test.v1.Odd" : "test.v1.Even",
                        .actor_kind = v % 2 ? 3 : 2,
                        .actor_id = v % 2 ? "scan" : actor,
                        .corr = v % 2 ? "" : corr,
                        .recorded_us = t0 + v * 1000000LL,
                        .reason = v == 3 ? "a reason" : NULL};
        px[v] = insert_row(c, &s);
    }
    for (int v = 1; v <= 3; v++) {
        row_spec_t s = {.stream = y,
                        .version = v,
                        .type = "test.v1.Odd",
                        .recorded_us = t0 + 10 * v * 1000000LL};
        py[v] = insert_row(c, &s);
    }
    /* the event id of x v1, as cause of a new x v7 */
    oss_journal_filter_t one = {
        .stream_id = x, .version_min = 1, .version_max = 1};
    oss_event_list_t l = {0};
    assert_int_equal(oss_journal_scan_list(c, &one, &l, &err), OSS_OK);
    assert_int_equal(l.len, 1);
    char id1[OSS_UUID_STR];
    snprintf(id1, sizeof id1, "%s", l.items[0].event_id);
    assert_int_equal(l.items[0].position, px[1]);
    assert_string_equal(l.items[0].stream_type, "test");
    assert_int_equal(l.items[0].payload_len, 2);
    assert_int_equal(l.items[0].payload[0], 1);
    assert_int_equal(l.items[0].payload[1], 2);
    uint8_t zero[OSS_HASH_LEN] = {0};
    assert_memory_equal(l.items[0].prev_hash, zero, OSS_HASH_LEN);
    oss_event_t re = {0};
    assert_int_equal(oss_event_copy(&re, &l.items[0], &err), OSS_OK);
    oss_journal_hash(&re); /* the decoded row re-hashes to its hash */
    assert_memory_equal(re.hash, l.items[0].hash, OSS_HASH_LEN);
    oss_event_clear(&re);
    assert_int_equal(l.items[0].recorded_at_us, t0 + 1000000LL);
    assert_int_equal(l.items[0].schema_version, 1);
    assert_int_equal(l.items[0].actor_kind, OSS_ACTOR_SYSTEM_JOB);
    assert_null(l.items[0].reason);
    oss_event_list_free(&l);
    row_spec_t s7 = {.stream = x, .version = 7, .cause = id1};
    int64_t px7 = insert_row(c, &s7);

    /* one stream, stream order */
    oss_journal_filter_t f = {.stream_id = x,
                              .order = OSS_JOURNAL_ORDER_STREAM};
    got_t *g = scan(c, &f);
    assert_int_equal(g->n, 7);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(g->version[i], i + 1);
        assert_int_equal(g->pos[i], px[i + 1]);
    }
    /* the reason */
    f = (oss_journal_filter_t){
        .stream_id = x, .version_min = 3, .version_max = 3};
    assert_int_equal(oss_journal_scan_list(c, &f, &l, &err), OSS_OK);
    assert_int_equal(l.len, 1);
    assert_string_equal(l.items[0].reason, "a reason");
    oss_event_list_free(&l);

    /* a list of streams, position order (default) */
    const char *xy[2] = {y, x};
    f = (oss_journal_filter_t){.streams = xy, .nstreams = 2};
    g = scan(c, &f);
    assert_int_equal(g->n, 10);
    for (size_t i = 1; i < g->n; i++)
        assert_true(g->pos[i - 1] < g->pos[i]);
    /* an empty list matches nothing */
    f.nstreams = 0;
    g = scan(c, &f);
    assert_int_equal(g->n, 0);

    /* version range */
    f = (oss_journal_filter_t){.stream_id = x,
                               .version_min = 2,
                               .version_max = 4,
                               .order = OSS_JOURNAL_ORDER_STREAM};
    g = scan(c, &f);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->version[0], 2);
    assert_int_equal(g->version[2], 4);

    /* position range */
    f = (oss_journal_filter_t){.streams = xy,
                               .nstreams = 2,
                               .position_min = px[3],
                               .position_max = py[2]};
    g = scan(c, &f);
    assert_int_equal(g->n, 4 + 2); /* x 3..6, y 1..2 */
    assert_int_equal(g->pos[0], px[3]);
    assert_int_equal(g->pos[g->n - 1], py[2]);

    /* event types */
    const char *even[1] = {"test.v1.Even"};
    const char *both_types[2] = {"test.v1.Even", "test.v1.Odd"};
    f = (oss_journal_filter_t){
        .streams = xy, .nstreams = 2, .types = even, .ntypes = 1};
    g = scan(c, &f);
    assert_int_equal(g->n, 3);
    for (size_t i = 0; i < g->n; i++)
        assert_string_equal(g->type[i], "test.v1.Even");
    f.types = both_types;
    f.ntypes = 2;
    g = scan(c, &f);
    assert_int_equal(g->n, 9); /* x v7 is test.v1.Thing */
    f.ntypes = 0;
    g = scan(c, &f);
    assert_int_equal(g->n, 0);

    /* actor, correlation, causation */
    f = (oss_journal_filter_t){.actor_id = actor};
    g = scan(c, &f);
    assert_int_equal(g->n, 3);
    f = (oss_journal_filter_t){.stream_id = x, .actor_kind = OSS_ACTOR_OFFICER};
    g = scan(c, &f);
    assert_int_equal(g->n, 3);
    f = (oss_journal_filter_t){.correlation_id = corr};
    g = scan(c, &f);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->version[0], 2);
    f = (oss_journal_filter_t){.causation_id = id1};
    g = scan(c, &f);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->pos[0], px7);

    /* event ids: a non-UUID string matches nothing and fails nothing */
    const char *ids[3] = {id1, "not-a-uuid",
                          "00000000-0000-0000-0000-"
                          "000000000000"};
    f = (oss_journal_filter_t){.event_ids = ids, .nevent_ids = 3};
    g = scan(c, &f);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->pos[0], px[1]);
    f.nevent_ids = 0;
    g = scan(c, &f);
    assert_int_equal(g->n, 0);
    const char *bad[1] = {"nope"};
    f = (oss_journal_filter_t){.event_ids = bad, .nevent_ids = 1};
    g = scan(c, &f);
    assert_int_equal(g->n, 0);

    /* time range: [t0 + 2 s, t0 + 20 s) */
    f = (oss_journal_filter_t){.streams = xy,
                               .nstreams = 2,
                               .recorded_from_us = t0 + 2000000LL,
                               .recorded_to_us = t0 + 20000000LL};
    g = scan(c, &f);
    assert_int_equal(g->n, 5 + 1); /* x 2..6, y 1 */

    /* limit, and a callback that stops */
    f = (oss_journal_filter_t){
        .stream_id = x, .limit = 2, .order = OSS_JOURNAL_ORDER_STREAM_DESC};
    g = scan(c, &f);
    assert_int_equal(g->n, 2);
    assert_int_equal(g->version[0], 7);
    assert_int_equal(g->version[1], 6);
    f.limit = 0;
    static got_t stopped;
    memset(&stopped, 0, sizeof stopped);
    stopped.stop_after = 3;
    int64_t n = 0;
    assert_int_equal(oss_journal_scan(c, &f, collect, &stopped, &n, &err),
                     OSS_OK);
    assert_int_equal(stopped.n, 3);
    assert_int_equal(n, 3);

    /* orders */
    f = (oss_journal_filter_t){
        .streams = xy, .nstreams = 2, .order = OSS_JOURNAL_ORDER_POSITION_DESC};
    g = scan(c, &f);
    assert_int_equal(g->n, 10);
    assert_int_equal(g->pos[0], px7);
    for (size_t i = 1; i < g->n; i++)
        assert_true(g->pos[i - 1] > g->pos[i]);
    f.order = OSS_JOURNAL_ORDER_STREAM;
    g = scan(c, &f);
    int xfirst = strcmp(x, y) < 0;
    assert_string_equal(g->stream[0], xfirst ? x : y);
    assert_int_equal(g->version[0], 1);
    f.order = OSS_JOURNAL_ORDER_COMMIT;
    g = scan(c, &f);
    assert_int_equal(g->n, 10);
    for (size_t i = 1; i < g->n; i++)
        assert_true(g->xid[i - 1] < g->xid[i] ||
                    (g->xid[i - 1] == g->xid[i] && g->pos[i - 1] < g->pos[i]));

    /* the latest matching event of each stream */
    const char *odd[1] = {"test.v1.Odd"};
    f = (oss_journal_filter_t){.streams = xy,
                               .nstreams = 2,
                               .types = odd,
                               .ntypes = 1,
                               .latest_per_stream = 1};
    g = scan(c, &f);
    assert_int_equal(g->n, 2);
    for (size_t i = 0; i < 2; i++) {
        if (!strcmp(g->stream[i], x))
            assert_int_equal(g->version[i], 5);
        else
            assert_int_equal(g->version[i], 3);
    }

    /* aggregates */
    f = (oss_journal_filter_t){.streams = xy, .nstreams = 2};
    assert_int_equal(oss_journal_count(c, &f, &n, &err), OSS_OK);
    assert_int_equal(n, 10);
    f.limit = 4;
    assert_int_equal(oss_journal_count(c, &f, &n, &err), OSS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(oss_journal_stream_version(c, x, &n, &err), OSS_OK);
    assert_int_equal(n, 7);
    assert_int_equal(oss_journal_stream_version(c, "scan-none", &n, &err),
                     OSS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(oss_journal_max_position(c, &n, &err), OSS_OK);
    assert_true(n >= px7);

    PQfinish(c);
    free(x);
    free(y);
    free(corr);
    free(actor);
}

/* more rows than one page of an unbounded scan: every order pages by its
 * key */
static void
test_paging(void **state) {
    (void)state;
    enum { N = 4500 };
    char *z = oss_test_id("scan-page");
    PGconn *c = connect_app();
    exec_ok(c, "BEGIN");
    for (int v = 1; v <= N; v++)
        insert_simple(c, z, v);
    exec_ok(c, "COMMIT");
    oss_journal_order_t orders[] = {
        OSS_JOURNAL_ORDER_POSITION, OSS_JOURNAL_ORDER_POSITION_DESC,
        OSS_JOURNAL_ORDER_COMMIT, OSS_JOURNAL_ORDER_STREAM,
        OSS_JOURNAL_ORDER_STREAM_DESC};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        oss_journal_filter_t f = {.stream_id = z, .order = orders[o]};
        got_t *g = scan(c, &f);
        assert_int_equal(g->n, N);
        int desc = orders[o] == OSS_JOURNAL_ORDER_POSITION_DESC ||
                   orders[o] == OSS_JOURNAL_ORDER_STREAM_DESC;
        for (size_t i = 0; i < g->n; i++)
            assert_int_equal(g->version[i],
                             desc ? N - (int64_t)i : (int64_t)i + 1);
        f.limit = 2100;
        g = scan(c, &f);
        assert_int_equal(g->n, 2100);
        assert_int_equal(g->version[2099], desc ? N - 2099 : 2100);
    }
    PQfinish(c);
    free(z);
}

/* ---- transactions and cursors ------------------------------------------ */

static void
test_scan_in_callers_transaction(void **state) {
    (void)state;
    char *s = oss_test_id("scan-tx");
    PGconn *a = connect_app(), *b = connect_app();
    oss_journal_filter_t f = {.stream_id = s};
    exec_ok(a, "BEGIN");
    insert_simple(a, s, 1);
    insert_simple(a, s, 2);
    got_t *g = scan(a, &f);
    assert_int_equal(g->n, 2); /* its own uncommitted rows */
    assert_int_equal(PQtransactionStatus(a), PQTRANS_INTRANS); /* still */
    g = scan(b, &f);
    assert_int_equal(g->n, 0);
    int64_t v = -1;
    oss_err_t err = {0};
    assert_int_equal(oss_journal_stream_version(a, s, &v, &err), OSS_OK);
    assert_int_equal(v, 2);
    exec_ok(a, "ROLLBACK");
    g = scan(a, &f);
    assert_int_equal(g->n, 0);
    PQfinish(a);
    PQfinish(b);
    free(s);
}

/* Reads everything below the horizon after *cur in pages of `page`,
 * appending positions to seen; returns rows read. */
static size_t
drain(PGconn *c, const char *const *streams, size_t ns,
      oss_journal_cursor_t *cur, int64_t page, int64_t *seen, size_t *nseen) {
    size_t total = 0;
    for (;;) {
        oss_journal_filter_t f = {.streams = streams,
                                  .nstreams = ns,
                                  .after = cur,
                                  .below_horizon = 1,
                                  .order = OSS_JOURNAL_ORDER_COMMIT,
                                  .limit = page};
        got_t *g = scan(c, &f);
        for (size_t i = 0; i < g->n; i++) {
            seen[(*nseen)++] = g->pos[i];
            cur->xid = g->xid[i];
            cur->position = g->pos[i];
        }
        total += g->n;
        if ((int64_t)g->n < page)
            return total;
    }
}

static void
test_cursor_resumes(void **state) {
    (void)state;
    char *s1 = oss_test_id("scan-c1"), *s2 = oss_test_id("scan-c2");
    const char *both[2] = {s1, s2};
    PGconn *w = connect_app(), *late = connect_app(), *c = connect_app();
    static int64_t seen[256], want[256];
    size_t nseen = 0, nwant = 0;
    oss_journal_cursor_t cur = {0, 0};

    /* 12 rows in 4 transactions */
    int64_t v1 = 0, v2 = 0;
    for (int t = 0; t < 4; t++) {
        exec_ok(w, "BEGIN");
        for (int i = 0; i < 3; i++)
            want[nwant++] =
                insert_simple(w, i % 2 ? s2 : s1, i % 2 ? ++v2 : ++v1);
        exec_ok(w, "COMMIT");
    }
    /* a transaction that took its id now and commits later */
    exec_ok(late, "BEGIN");
    int64_t plate = insert_simple(late, s2, 1000);
    size_t got = 0;
    for (int i = 0; i < 200 && got < 12; i++) {
        got += drain(c, both, 2, &cur, 5, seen, &nseen);
        if (got < 12)
            sleep_ms(50);
    }
    assert_int_equal(got, 12);
    /* rows committed after the late one took its id wait behind it */
    exec_ok(w, "BEGIN");
    for (int i = 0; i < 4; i++)
        want[nwant++] = insert_simple(w, s1, ++v1);
    exec_ok(w, "COMMIT");
    assert_int_equal(drain(c, both, 2, &cur, 5, seen, &nseen), 0);
    exec_ok(late, "COMMIT");
    want[nwant++] = plate;
    for (int i = 0; i < 200 && got < nwant; i++) {
        got += drain(c, both, 2, &cur, 3, seen, &nseen);
        if (got < nwant)
            sleep_ms(50);
    }
    assert_int_equal(got, nwant);
    assert_int_equal(nseen, nwant);
    /* every row exactly once; the late row before the four after it */
    for (size_t i = 0; i < nwant; i++) {
        int hits = 0;
        for (size_t k = 0; k < nseen; k++)
            hits += seen[k] == want[i];
        assert_int_equal(hits, 1);
    }
    assert_int_equal(seen[12], plate);
    /* nothing more */
    assert_int_equal(drain(c, both, 2, &cur, 5, seen, &nseen), 0);

    PQfinish(w);
    PQfinish(late);
    PQfinish(c);
    free(s1);
    free(s2);
}

/* ---- malformed rows and errors ----------------------------------------- */

static void
test_malformed_row(void **state) {
    (void)state;
    char *id = oss_test_id("scan-long");
    char longs[512];
    snprintf(longs, sizeof longs, "%s-%0200d", id, 0); /* > OSS_ID_MAX */
    PGconn *c = connect_app();
    /* never committed: the journal keeps no row that does not fit */
    exec_ok(c, "BEGIN");
    int64_t pos = insert_simple(c, longs, 1);
    oss_journal_filter_t f = {.stream_id = longs};
    static got_t g;
    oss_err_t err = {0};
    assert_int_equal(oss_journal_scan(c, &f, collect, &g, NULL, &err),
                     OSS_ECORRUPT);
    assert_non_null(strstr(err.msg, "longer"));
    f.deliver_malformed = 1;
    memset(&g, 0, sizeof g);
    assert_int_equal(oss_journal_scan(c, &f, collect, &g, NULL, &err), OSS_OK);
    assert_int_equal(g.malformed, 1);
    (void)pos;
    exec_ok(c, "ROLLBACK");
    PQfinish(c);
    free(id);
}

static int
fail_cb(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    (void)ctx;
    (void)row;
    oss_err_set(err, OSS_EINVAL, "handler refuses");
    return -1;
}

static void
test_errors(void **state) {
    (void)state;
    char *s = oss_test_id("scan-err");
    PGconn *c = connect_app();
    insert_simple(c, s, 1);
    oss_journal_filter_t f = {.stream_id = s};
    oss_err_t err = {0};
    assert_int_equal(oss_journal_scan(c, &f, fail_cb, NULL, NULL, &err),
                     OSS_EINVAL);
    assert_string_equal(err.msg, "handler refuses");
    /* a broken connection is OSS_EUNAVAIL */
    PQfinish(c);
    c = PQconnectdb("postgresql://127.0.0.1:1/none?connect_timeout=1");
    assert_int_equal(oss_journal_scan(c, &f, collect, NULL, NULL, &err),
                     OSS_EUNAVAIL);
    PQfinish(c);
    free(s);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env();
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_horizon_held_back),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_scan_in_callers_transaction),
        cmocka_unit_test(test_cursor_resumes),
        cmocka_unit_test(test_malformed_row),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
