/* The relay under concurrency: 16 writers (own connections) append through
 * oss_journal_execute() to shared streams and their own, committing in
 * shuffled order (random sleeps after the first write, one transaction held
 * open for more than ten seconds), at least 50,000 events under a unique
 * stream type. An independent consumer (its own group, from the beginning)
 * must see every event exactly once on Kafka, each stream in version order
 * with no gap, every message signed. The relay under test is the running
 * stack's (infra/run). */
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

#include "bus/bus.h"
#include "core/clock.h"
#include "journal/journal.h"
#include "oss_test.h"

enum {
    NTHREADS = 16,
    NSHARED = 16,
    TARGET = 52000, /* events appended in all */
    MAXBATCH = 4,   /* commands per transaction */
    MAXEVENTS = 8,  /* events per command */
    LONG_TXN_MS = 11000
};

static char *shared[NSHARED];
static char stream_type[32];
static atomic_long appended_total;
static atomic_long commit_seq;

typedef struct ctx {
    int nevents;
    int sleep_ms; /* in response_fn: after this command's writes */
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
    (void)history;
    (void)n;
    (void)err;
    for (int i = 0; i < c->nevents; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        if (!ev)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        snprintf(ev->payload_type, sizeof ev->payload_type,
                 "test.v1.RelayTick");
        ev->schema_version = 1;
    }
    return OSS_OK;
}

static char *
response(void *vctx, const oss_command_t *cmd) {
    ctx_t *c = vctx;
    (void)cmd;
    if (c->sleep_ms)
        sleep_ms(c->sleep_ms);
    return strdup("{}");
}

typedef struct worker {
    int id;
    unsigned seed;
    char *own;
    long appended, conflicts, txns, held;
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
    for (int round = 0; atomic_load(&appended_total) < TARGET; round++) {
        oss_command_t cmds[MAXBATCH];
        ctx_t ctx[MAXBATCH];
        char keys[MAXBATCH][128];
        int nb = 1 + (int)(rand_r(&w->seed) % MAXBATCH);
        int longtx = w->id == 0 && round == 2;
        if (longtx)
            nb = 1;
        memset(cmds, 0, sizeof cmds);
        memset(ctx, 0, sizeof ctx);
        for (int i = 0; i < nb; i++) {
            oss_command_t *c = &cmds[i];
            unsigned r = rand_r(&w->seed);
            /* the long transaction touches only its own stream, so it holds
             * the commit horizon back without blocking the other writers */
            c->stream_id = longtx || r % 2 == 0 ? w->own : shared[r % NSHARED];
            c->stream_type = stream_type;
            c->expected_version = -1;
            c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
            c->actor_id = "test-relay";
            c->correlation_id = "relay-concurrency";
            c->decide = decide;
            c->ctx = &ctx[i];
            ctx[i].nevents = 1 + (int)(rand_r(&w->seed) % MAXEVENTS);
            /* some commands sleep after their writes: their transaction
             * keeps its xid open while later ones commit */
            if (longtx || rand_r(&w->seed) % 6 == 0) {
                snprintf(keys[i], sizeof keys[i], "%s-%d-%d", w->own, round, i);
                c->idempotency_key = keys[i];
                c->request_hash = hash;
                c->response_fn = response;
                c->response_status = 201;
                ctx[i].sleep_ms =
                    longtx ? LONG_TXN_MS : 1 + (int)(rand_r(&w->seed) % 20);
            }
        }
        int64_t t0 = oss_mono_ms();
        if (oss_journal_execute(j, cmds, (size_t)nb, &err) != OSS_OK) {
            snprintf(w->failure, sizeof w->failure, "execute: %s", err.msg);
            break;
        }
        if (oss_mono_ms() - t0 > 10000)
            w->held++;
        atomic_fetch_add(&commit_seq, 1);
        w->txns++;
        for (int i = 0; i < nb; i++) {
            if (cmds[i].outcome == OSS_JOURNAL_APPENDED) {
                w->appended += (long)cmds[i].events.len;
                atomic_fetch_add(&appended_total, (long)cmds[i].events.len);
            } else if (cmds[i].outcome == OSS_JOURNAL_REJECTED) {
                if (cmds[i].err.code != OSS_ECONFLICT)
                    snprintf(w->failure, sizeof w->failure,
                             "unexpected rejection: %s", cmds[i].err.msg);
                w->conflicts++;
            }
            oss_event_list_free(&cmds[i].events);
            free(cmds[i].replay_response);
        }
        if (w->failure[0])
            break;
    }
    oss_journal_free(j);
    return NULL;
}

/* ---- the independent consumer (runs while the writers write, so that
 * the embedded broker's retention never drops what it has not read) ----- */

typedef struct got {
    char event_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX];
    int64_t version;
    long seq; /* consumption order */
} got_t;

typedef struct consumer {
    const oss_config_t *cfg;
    const oss_keyring_t *ring;
    char topic[256];
    atomic_int writers_done;
    atomic_long expected; /* valid once writers_done */
    int timeout_s;        /* after writers_done */
    got_t *got;
    long ngot, cap, unsigned_msgs, bad_keys;
    char failure[512];
} consumer_t;

static const char *
hdr(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap) {
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) ||
        rd_kafka_header_get_last(h, name, &v, &n) || !v || n >= cap)
        return NULL;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static void
quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

/* A consumer assigned to every partition of c->topic from the beginning
 * (no rebalance wait), once the relay's first message created the topic.
 * NULL (c->failure set) when it never appears before the deadline. */
static rd_kafka_t *
open_consumer(consumer_t *c, char *bootstrap, size_t blen, int64_t *deadline) {
    char errstr[512], group[128];
    oss_err_t err = {0};
    oss_bus_bootstrap(c->cfg, bootstrap, blen, NULL);
    rd_kafka_conf_t *conf = oss_bus_conf_new(c->cfg, &err);
    if (!conf) {
        snprintf(c->failure, sizeof c->failure, "conf: %s", err.msg);
        return NULL;
    }
    snprintf(group, sizeof group, "test-relay-%d-%ld", (int)getpid(),
             (long)time(NULL));
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                      sizeof errstr);
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        snprintf(c->failure, sizeof c->failure, "consumer: %.400s", errstr);
        return NULL;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    int parts = 0;
    while (!parts) {
        const rd_kafka_metadata_t *md = NULL;
        if (atomic_load(&c->writers_done) && !*deadline)
            *deadline = oss_mono_ms() + (int64_t)c->timeout_s * 1000;
        if (*deadline && oss_mono_ms() > *deadline)
            break;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                parts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (!parts)
            sleep_ms(300);
    }
    rd_kafka_topic_destroy(rkt);
    if (!parts) {
        snprintf(c->failure, sizeof c->failure,
                 "topic %s never appeared: is the relay running?", c->topic);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, c->topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static void *
run_consumer(void *arg) {
    consumer_t *c = arg;
    oss_err_t err = {0};
    char bootstrap[4096] = "", now_bs[4096];
    int64_t deadline = 0, next_check = oss_mono_ms() + 2000;
    rd_kafka_t *rk = open_consumer(c, bootstrap, sizeof bootstrap, &deadline);
    if (!rk)
        return NULL;

    int64_t quiet_until = 0;
    for (;;) {
        int done = atomic_load(&c->writers_done);
        if (done && !deadline)
            deadline = oss_mono_ms() + (int64_t)c->timeout_s * 1000;
        if (deadline && oss_mono_ms() > deadline)
            break;
        /* everything arrived: read 3 s more to catch late duplicates */
        if (done && c->ngot >= atomic_load(&c->expected) && !quiet_until)
            quiet_until = oss_mono_ms() + 3000;
        if (quiet_until && oss_mono_ms() > quiet_until)
            break;
        /* another test restarted the embedded broker empty: exactly-once
         * holds per broker incarnation, and the relay republishes the
         * journal into the new one, so start over there */
        if (oss_mono_ms() > next_check) {
            next_check = oss_mono_ms() + 2000;
            if (oss_bus_bootstrap(c->cfg, now_bs, sizeof now_bs, NULL) ==
                    OSS_OK &&
                strcmp(now_bs, bootstrap) != 0) {
                print_message("the broker was restarted: consuming again "
                              "from the new one\n");
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
                c->ngot = c->unsigned_msgs = c->bad_keys = 0;
                c->failure[0] = '\0';
                quiet_until = 0;
                if (!(rk = open_consumer(c, bootstrap, sizeof bootstrap,
                                         &deadline)))
                    return NULL;
                continue;
            }
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            /* local errors (brokers down...) are transient; a broker's
             * error (offset out of range: retention dropped what we had not
             * read) fails the test */
            if (m->err > 0 && !c->failure[0])
                snprintf(c->failure, sizeof c->failure, "consumer: %s",
                         rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        char ceid[64], sig[80];
        oss_event_t ev;
        if (oss_envelope_decode(m->payload, m->len, &ev, &err) != OSS_OK) {
            if (!c->failure[0])
                snprintf(c->failure, sizeof c->failure,
                         "undecodable message at offset %lld: %s",
                         (long long)m->offset, err.msg);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!hdr(m, "ce_id", ceid, sizeof ceid) ||
            !hdr(m, OSS_BUS_SIG_HEADER, sig, sizeof sig) ||
            strcmp(ceid, ev.event_id) != 0 ||
            !oss_bus_verify(c->ring, ceid, m->key, m->key_len, m->payload,
                            m->len, sig))
            c->unsigned_msgs++;
        if (m->key_len != strlen(ev.stream_id) ||
            memcmp(m->key, ev.stream_id, m->key_len) != 0)
            c->bad_keys++;
        if (c->ngot == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->got = realloc(c->got, (size_t)c->cap * sizeof *c->got);
        }
        got_t *g = &c->got[c->ngot];
        memcpy(g->event_id, ev.event_id, OSS_UUID_STR);
        memcpy(g->stream_id, ev.stream_id, OSS_ID_MAX);
        g->version = ev.version;
        g->seq = c->ngot++;
        oss_event_clear(&ev);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

static int
cmp_stream_seq(const void *a, const void *b) {
    const got_t *x = a, *y = b;
    int c = strcmp(x->stream_id, y->stream_id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_event(const void *a, const void *b) {
    return strcmp(((const got_t *)a)->event_id, ((const got_t *)b)->event_id);
}

/* The journal's events of our stream type, in (stream, version) order. */
static got_t *
load_journal(const char *type, long *n) {
    PGconn *pc = PQconnectdb(oss_test_env("OSS_PG_URL"));
    assert_int_equal(PQstatus(pc), CONNECTION_OK);
    const char *pv[1] = {type};
    PGresult *r = PQexecParams(pc,
                               "SELECT event_id::text, stream_id, version "
                               "FROM oss.journal WHERE stream_type = $1 "
                               "ORDER BY stream_id, version",
                               1, NULL, pv, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    *n = PQntuples(r);
    got_t *j = calloc((size_t)*n + 1, sizeof *j);
    for (long i = 0; i < *n; i++) {
        snprintf(j[i].event_id, OSS_UUID_STR, "%s", PQgetvalue(r, (int)i, 0));
        snprintf(j[i].stream_id, OSS_ID_MAX, "%s", PQgetvalue(r, (int)i, 1));
        j[i].version = atoll(PQgetvalue(r, (int)i, 2));
        j[i].seq = i;
    }
    PQclear(r);
    PQfinish(pc);
    return j;
}

static void
check(consumer_t *c, got_t *journal, long nj) {
    /* the journal itself: every stream 1..n without gap */
    for (long i = 0; i < nj; i++) {
        int first = i == 0 ||
                    strcmp(journal[i].stream_id, journal[i - 1].stream_id) != 0;
        int64_t want = first ? 1 : journal[i - 1].version + 1;
        if (journal[i].version != want)
            fail_msg("journal stream %s: version %lld where %lld was due",
                     journal[i].stream_id, (long long)journal[i].version,
                     (long long)want);
    }
    /* exactly once: same multiset of event ids */
    got_t *byid = malloc((size_t)(c->ngot + 1) * sizeof *byid);
    memcpy(byid, c->got, (size_t)c->ngot * sizeof *byid);
    qsort(byid, (size_t)c->ngot, sizeof *byid, cmp_event);
    long dups = 0;
    for (long i = 1; i < c->ngot; i++)
        if (strcmp(byid[i].event_id, byid[i - 1].event_id) == 0 && dups++ < 3)
            print_message("duplicate on Kafka: %s (%s v%lld)\n",
                          byid[i].event_id, byid[i].stream_id,
                          (long long)byid[i].version);
    got_t *jid = malloc((size_t)(nj + 1) * sizeof *jid);
    memcpy(jid, journal, (size_t)nj * sizeof *jid);
    qsort(jid, (size_t)nj, sizeof *jid, cmp_event);
    long missing = 0, foreign = 0, a = 0, b = 0;
    while (a < nj || b < c->ngot) {
        int cmp = a == nj        ? 1
                  : b == c->ngot ? -1
                                 : strcmp(jid[a].event_id, byid[b].event_id);
        if (cmp == 0) {
            a++;
            b++;
            while (b < c->ngot &&
                   strcmp(byid[b].event_id, byid[b - 1].event_id) == 0)
                b++;
        } else if (cmp < 0) {
            if (missing++ < 3)
                print_message("missing on Kafka: %s (%s v%lld)\n",
                              jid[a].event_id, jid[a].stream_id,
                              (long long)jid[a].version);
            a++;
        } else {
            foreign++;
            b++;
        }
    }
    /* per stream, in consumption order: versions 1, 2, 3... */
    qsort(c->got, (size_t)c->ngot, sizeof *c->got, cmp_stream_seq);
    long order = 0;
    for (long i = 0; i < c->ngot; i++) {
        int first =
            i == 0 || strcmp(c->got[i].stream_id, c->got[i - 1].stream_id) != 0;
        int64_t want = first ? 1 : c->got[i - 1].version + 1;
        if (c->got[i].version != want && order++ < 3)
            print_message("stream %s: version %lld consumed where %lld was "
                          "due\n",
                          c->got[i].stream_id, (long long)c->got[i].version,
                          (long long)want);
    }
    print_message("journal %ld events; Kafka %ld messages: %ld missing, %ld "
                  "duplicates, %ld out of order, %ld unsigned, %ld foreign, "
                  "%ld bad keys\n",
                  nj, c->ngot, missing, dups, order, c->unsigned_msgs, foreign,
                  c->bad_keys);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    assert_int_equal(order, 0);
    assert_int_equal(c->unsigned_msgs, 0);
    assert_int_equal(foreign, 0);
    assert_int_equal(c->bad_keys, 0);
    assert_int_equal(c->ngot, nj);
    free(byid);
    free(jid);
}

static void
test_every_event_once_in_order(void **state) {
    (void)state;
    static worker_t w[NTHREADS];
    static consumer_t cons;
    pthread_t th[NTHREADS], cth;
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_config_load(oss_test_env("OSS_CONFIG"), &cfg, &err),
                     OSS_OK);
    oss_keyring_t ring;
    assert_int_equal(
        oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"), &ring,
                         &err),
        OSS_OK);

    /* a stream type (hence a topic) of our own: this run's events only */
    char *id = oss_test_id("r");
    unsigned h = 5381;
    for (const char *p = id; *p; p++)
        h = h * 33u + (unsigned char)*p;
    snprintf(stream_type, sizeof stream_type, "rt%08x%04x", h,
             (unsigned)getpid() & 0xffff);
    free(id);
    for (int i = 0; i < NSHARED; i++)
        shared[i] = oss_test_id("rc-shared");
    oss_test_env("OSS_PG_URL");

    memset(&cons, 0, sizeof cons);
    cons.cfg = cfg;
    cons.ring = &ring;
    cons.timeout_s = 120;
    oss_bus_topic(cfg, stream_type, cons.topic, sizeof cons.topic);
    assert_int_equal(pthread_create(&cth, NULL, run_consumer, &cons), 0);

    int64_t t0 = oss_mono_ms();
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].seed = (unsigned)time(NULL) * 31u + (unsigned)i;
        w[i].own = oss_test_id("rc-own");
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    long appended = 0, conflicts = 0, txns = 0, held = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        appended += w[i].appended;
        conflicts += w[i].conflicts;
        txns += w[i].txns;
        held += w[i].held;
    }
    atomic_store(&cons.expected, appended);
    atomic_store(&cons.writers_done, 1);
    print_message("%ld transactions, %ld events appended, %ld conflicts, %ld "
                  "held open > 10 s, in %.1f s (stream type %s)\n",
                  txns, appended, conflicts, held,
                  (double)(oss_mono_ms() - t0) / 1000.0, stream_type);
    int64_t t1 = oss_mono_ms();
    pthread_join(cth, NULL);
    print_message("consumer done %.1f s after the last commit\n",
                  (double)(oss_mono_ms() - t1) / 1000.0);
    for (int i = 0; i < NTHREADS; i++)
        if (w[i].failure[0])
            fail_msg("worker %d: %s", i, w[i].failure);
    if (cons.failure[0])
        fail_msg("%s", cons.failure);
    assert_true(appended >= 50000);
    assert_true(held >= 1);

    long nj = 0;
    got_t *journal = load_journal(stream_type, &nj);
    assert_int_equal(nj, appended);
    check(&cons, journal, nj);

    free(journal);
    free(cons.got);
    for (int i = 0; i < NSHARED; i++)
        free(shared[i]);
    for (int i = 0; i < NTHREADS; i++)
        free(w[i].own);
    oss_config_free(cfg);
}

static int
setup(void **state) {
    (void)state;
    return oss_test_load_env();
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_once_in_order),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
