/* Integration test of the senders' shared outcome commit
 * (consumers/notifier/record.c: nt_outcome() through the loop's
 * nt_commit_t) against the running PostgreSQL. Eight sender threads, each
 * with its own journal handle as in pool.c, append DeliveryQueued outcomes
 * on fresh delivery streams at once; every seventh is malformed (no
 * account), so a shared transaction holding one fails as a whole and each
 * of its outcomes is appended alone. Whatever the grouping: every
 * well-formed outcome is in the journal exactly once, every malformed one
 * is refused (1) and none of it written, and a second round of the same
 * outcomes (a redelivery) appends nothing. */
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "config/config.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "notifier_int.h"

#define THREADS 8
#define PER_THREAD 40

static oss_config_t *cfg;
static volatile sig_atomic_t stop_flag;
static notifier_t loop;

typedef struct item {
    char account[OSS_UUID_STR], cause[OSS_UUID_STR];
    int malformed;
    int rc[2]; /* nt_outcome()'s answer in rounds 1 and 2 */
} item_t;

static item_t items[THREADS][PER_THREAD];

typedef struct worker {
    int idx, round;
} worker_t;

static void *
worker_main(void *arg) {
    worker_t *w = arg;
    notifier_t s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.stop = &stop_flag;
    s.main = &loop;
    for (int k = 0; k < PER_THREAD; k++) {
        item_t *it = &items[w->idx][k];
        oss_outcome_t o = {.kind = OSS_OUTCOME_QUEUED,
                           .account_id = it->malformed ? "" : it->account,
                           .cause_event_id = it->cause,
                           .correlation_id = "",
                           .channel = "email",
                           .what = "registration",
                           .trigger_type = "oss.v1.AccountRegistered"};
        it->rc[w->round] = nt_outcome(&s, &o);
    }
    oss_journal_free(s.journal);
    return NULL;
}

static void
run_round(int round) {
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].idx = i;
        w[i].round = round;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
}

/* Events on the delivery streams of every item's account, as
 * "<stream> <causation>" rows. */
static PGresult *
events_of_items(PGconn *pg) {
    size_t cap = THREADS * PER_THREAD * (OSS_UUID_STR + 12) + 4, len = 0;
    char *arr = malloc(cap);
    assert_non_null(arr);
    arr[len++] = '{';
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++)
            len += (size_t)snprintf(arr + len, cap - len, "%sdelivery-%s",
                                    len > 1 ? "," : "", items[i][k].account);
    arr[len++] = '}';
    arr[len] = '\0';
    const char *p[1] = {arr};
    PGresult *r = PQexecParams(pg,
                               "SELECT stream_id, causation_id FROM "
                               "oss.journal WHERE stream_id = ANY($1::text[])",
                               1, NULL, p, NULL, NULL, 0);
    free(arr);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    return r;
}

static void
test_shared_commit_exactly_once(void **state) {
    (void)state;
    int wellformed = 0;
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            item_t *it = &items[i][k];
            oss_uuid7(it->account);
            oss_uuid7(it->cause);
            it->malformed = (i * PER_THREAD + k) % 7 == 3;
            wellformed += !it->malformed;
        }
    run_round(0);
    run_round(1); /* the same outcomes again: replays */

    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            const item_t *it = &items[i][k];
            for (int r = 0; r < 2; r++)
                if (it->rc[r] != (it->malformed ? 1 : 0))
                    fail_msg("item %d/%d round %d: nt_outcome() = %d, "
                             "expected %d",
                             i, k, r + 1, it->rc[r], it->malformed ? 1 : 0);
        }

    PGconn *pg = PQconnectdb(getenv("OSS_PG_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *r = events_of_items(pg);
    int n = PQntuples(r);
    if (n != wellformed)
        fail_msg("%d events on the items' delivery streams, expected %d "
                 "(one per well-formed outcome)",
                 n, wellformed);
    for (int t = 0; t < n; t++) {
        const char *stream = PQgetvalue(r, t, 0), *cause = PQgetvalue(r, t, 1);
        int found = 0;
        for (int i = 0; i < THREADS && !found; i++)
            for (int k = 0; k < PER_THREAD && !found; k++) {
                const item_t *it = &items[i][k];
                if (strcmp(stream + strlen("delivery-"), it->account) == 0) {
                    assert_false(it->malformed);
                    assert_string_equal(cause, it->cause);
                    found = 1;
                }
            }
        assert_true(found);
    }
    PQclear(r);
    PQfinish(pg);
}

int
main(void) {
    oss_err_t err = {0};
    if (oss_test_load_env() != 0) {
        fprintf(stderr, "var/run.env missing: the stack is not running\n");
        return 1;
    }
    if (oss_config_load(NULL, &cfg, &err) != OSS_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 1;
    }
    loop.cfg = cfg;
    loop.stop = &stop_flag;
    if (nt_commit_start(&loop, &err) != OSS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_commit_exactly_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nt_commit_stop(&loop);
    oss_config_free(cfg);
    return rc;
}
