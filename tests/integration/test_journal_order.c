/* The xid-order proof the relay relies on: many writers, each with its own
 * connection, append to shared streams through oss_journal_execute() while
 * some transactions stay open on purpose (after their first write, and
 * between their reads and their writes) so that commits happen out of
 * transaction-id order. Afterwards, ordering every stream's events by (xid,
 * position), as the relay reads them, must give versions 1, 2, 3... with no
 * gap and no inversion. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <cmocka.h>

#include "journal/journal.h"
#include "oss_test.h"

enum { NTHREADS = 10, NSHARED = 6, ROUNDS = 60, MAXBATCH = 4 };

static char *shared[NSHARED];
static atomic_long commit_seq;

typedef struct ctx {
    int sleep_decide_ms;   /* sleep in decide: between reads and writes */
    int sleep_response_ms; /* sleep in response_fn: after this command's
                              writes, before commit */
} ctx_t;

static void
sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static oss_code_t
decide(void *vctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    ctx_t *c = vctx;
    for (size_t i = 0; i < n; i++)
        if (history[i].version != (int64_t)i + 1)
            return oss_err_set(err, OSS_EINTERNAL, "history out of order");
    if (c->sleep_decide_ms)
        sleep_ms(c->sleep_decide_ms);
    oss_event_t *ev = oss_event_list_push(out);
    snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Tick");
    ev->schema_version = 1;
    return OSS_OK;
}

static char *
response(void *vctx, const oss_command_t *cmd) {
    ctx_t *c = vctx;
    (void)cmd;
    if (c->sleep_response_ms)
        sleep_ms(c->sleep_response_ms);
    return strdup("{}");
}

typedef struct txrec {
    int64_t position; /* of one event the transaction wrote */
    long seq;         /* commit completion order */
} txrec_t;

typedef struct worker {
    int id;
    unsigned seed;
    char *own;
    long appended, conflicts, txns;
    txrec_t recs[ROUNDS];
    int nrecs;
    char failure[320];
} worker_t;

static void *
run_worker(void *arg) {
    worker_t *w = arg;
    oss_journal_t *j = NULL;
    oss_err_t err;
    uint8_t hash[32] = {0};
    if (oss_journal_open(getenv("OSS_PG_URL"), &j, &err) != OSS_OK) {
        snprintf(w->failure, sizeof w->failure, "open: %s", err.msg);
        return NULL;
    }
    for (int round = 0; round < ROUNDS; round++) {
        oss_command_t cmds[MAXBATCH];
        ctx_t ctx[MAXBATCH];
        char keys[MAXBATCH][96];
        int nb = 1 + (int)(rand_r(&w->seed) % MAXBATCH);
        memset(cmds, 0, sizeof cmds);
        memset(ctx, 0, sizeof ctx);
        for (int i = 0; i < nb; i++) {
            oss_command_t *c = &cmds[i];
            unsigned r = rand_r(&w->seed);
            c->stream_id = r % 5 == 0 ? w->own : shared[r % NSHARED];
            c->stream_type = "test";
            c->expected_version = -1;
            c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
            c->actor_id = "test-order";
            c->correlation_id = "order";
            c->decide = decide;
            c->ctx = &ctx[i];
            /* later commands may sleep after earlier ones wrote: the
             * transaction holds its xid open */
            if (rand_r(&w->seed) % 4 == 0)
                ctx[i].sleep_decide_ms = 1 + (int)(rand_r(&w->seed) % 25);
            if (rand_r(&w->seed) % 4 == 0) {
                snprintf(keys[i], sizeof keys[i], "%s-%d-%d", w->own, round, i);
                c->idempotency_key = keys[i];
                c->request_hash = hash;
                c->response_fn = response;
                c->response_status = 201;
                ctx[i].sleep_response_ms = 1 + (int)(rand_r(&w->seed) % 40);
            }
        }
        if (oss_journal_execute(j, cmds, (size_t)nb, &err) != OSS_OK) {
            snprintf(w->failure, sizeof w->failure, "execute: %s", err.msg);
            break;
        }
        long seq = atomic_fetch_add(&commit_seq, 1);
        w->txns++;
        int64_t pos = 0;
        for (int i = 0; i < nb; i++) {
            if (cmds[i].outcome == OSS_JOURNAL_APPENDED) {
                w->appended += (long)cmds[i].events.len;
                if (cmds[i].events.len)
                    pos = cmds[i].events.items[0].position;
            } else if (cmds[i].outcome == OSS_JOURNAL_REJECTED) {
                if (cmds[i].err.code != OSS_ECONFLICT) {
                    snprintf(w->failure, sizeof w->failure,
                             "unexpected rejection: %s", cmds[i].err.msg);
                }
                w->conflicts++;
            }
            oss_event_list_free(&cmds[i].events);
            free(cmds[i].replay_response);
        }
        if (pos)
            w->recs[w->nrecs++] = (txrec_t){pos, seq};
        if (w->failure[0])
            break;
    }
    oss_journal_free(j);
    return NULL;
}

typedef struct xidrec {
    unsigned long long xid;
    long seq;
} xidrec_t;

static int
cmp_xid(const void *a, const void *b) {
    const xidrec_t *x = a, *y = b;
    return x->xid < y->xid ? -1 : x->xid > y->xid;
}

static void
test_xid_order_matches_stream_order(void **state) {
    (void)state;
    static worker_t w[NTHREADS];
    pthread_t th[NTHREADS];
    const char *ids[NSHARED + NTHREADS];
    for (int i = 0; i < NSHARED; i++)
        ids[i] = shared[i] = oss_test_id("jt-order-shared");
    oss_test_env("OSS_PG_URL");
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].seed = (unsigned)time(NULL) * 31u + (unsigned)i;
        ids[NSHARED + i] = w[i].own = oss_test_id("jt-order-own");
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    long appended = 0, conflicts = 0, txns = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failure[0])
            fail_msg("worker %d: %s", i, w[i].failure);
        appended += w[i].appended;
        conflicts += w[i].conflicts;
        txns += w[i].txns;
    }
    print_message("%ld transactions, %ld events appended, %ld conflicts\n",
                  txns, appended, conflicts);

    /* read every event the way the relay orders them */
    PGconn *pc = PQconnectdb(oss_test_env("OSS_PG_URL"));
    assert_int_equal(PQstatus(pc), CONNECTION_OK);
    size_t cap = 3;
    for (int i = 0; i < NSHARED + NTHREADS; i++)
        cap += strlen(ids[i]) + 3;
    char *arr = malloc(cap), *p = arr;
    *p++ = '{';
    for (int i = 0; i < NSHARED + NTHREADS; i++)
        p += sprintf(p, "%s\"%s\"", i ? "," : "", ids[i]);
    strcpy(p, "}");
    const char *pv[1] = {arr};
    PGresult *r = PQexecParams(
        pc,
        "SELECT stream_id, version, xid::text AS xid_text, position"
        " FROM oss.journal"
        " WHERE stream_id = ANY($1::text[])"
        " ORDER BY stream_id, xid, position",
        1, NULL, pv, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = PQntuples(r);
    assert_int_equal(n, appended);
    const char *cur = "";
    long want = 1;
    for (int i = 0; i < n; i++) {
        const char *sid = PQgetvalue(r, i, 0);
        long v = atol(PQgetvalue(r, i, 1));
        if (strcmp(sid, cur) != 0) {
            cur = sid;
            want = 1;
        }
        if (v != want)
            fail_msg("stream %s: in (xid, position) order version %ld came "
                     "where %ld was due (xid %s)",
                     sid, v, want, PQgetvalue(r, i, 2));
        want++;
    }

    /* the test had teeth only if commits really happened out of xid order:
     * count transactions that committed after one with a larger xid */
    size_t ntx = 0;
    for (int i = 0; i < NTHREADS; i++)
        ntx += (size_t)w[i].nrecs;
    xidrec_t *xs = calloc(ntx, sizeof *xs);
    size_t k = 0;
    for (int i = 0; i < NTHREADS; i++)
        for (int t = 0; t < w[i].nrecs; t++) {
            for (int row = 0; row < n; row++)
                if (atoll(PQgetvalue(r, row, 3)) == w[i].recs[t].position) {
                    xs[k].xid = strtoull(PQgetvalue(r, row, 2), NULL, 10);
                    xs[k++].seq = w[i].recs[t].seq;
                    break;
                }
        }
    assert_int_equal(k, ntx);
    qsort(xs, ntx, sizeof *xs, cmp_xid);
    long inversions = 0;
    for (size_t i = 1; i < ntx; i++)
        if (xs[i].seq < xs[i - 1].seq)
            inversions++;
    print_message("%ld commits out of xid order\n", inversions);
    assert_true(inversions > 0);
    assert_true(conflicts > 0); /* the shared streams were contended */

    free(xs);
    PQclear(r);
    PQfinish(pc);
    free(arr);
    for (int i = 0; i < NSHARED; i++)
        free(shared[i]);
    for (int i = 0; i < NTHREADS; i++)
        free(w[i].own);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env();
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xid_order_matches_stream_order),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
