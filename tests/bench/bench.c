/* oss-bench: entry point and shared helpers (clock, env, PostgreSQL, UUIDv7,
 * quantiles, the bounded multi-client runner). See bench.h. */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/uuid.h"

int64_t
bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
bench_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const char *
bench_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "oss-bench: %s is not set (source var/run.env)\n",
                name);
        exit(2);
    }
    return v;
}

PGconn *
bench_pg(const char *url) {
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "oss-bench: could not connect to PostgreSQL: %s",
                PQerrorMessage(c));
        exit(1);
    }
    return c;
}

int
bench_exec(PGconn *c, const char *sql, int may_fail) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int bad = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
    if (bad && !may_fail) {
        fprintf(stderr, "oss-bench: could not run \"%.80s\": %s", sql,
                PQerrorMessage(c));
        PQclear(r);
        exit(1);
    }
    PQclear(r);
    return bad ? -1 : 0;
}

int64_t
bench_scalar(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        fprintf(stderr, "oss-bench: could not run \"%.80s\": %s", sql,
                PQerrorMessage(c));
        PQclear(r);
        exit(1);
    }
    int64_t v =
        PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static _Atomic uint64_t rand_state;

uint64_t
bench_rand64(void) {
    uint64_t s = atomic_load(&rand_state);
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                        ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&rand_state, &zero, seed | 1);
    }
    /* splitmix64 over an atomic counter */
    uint64_t z = atomic_fetch_add(&rand_state, 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
bench_uuid7(char *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    uint8_t b[16];
    uint64_t r1 = bench_rand64(), r2 = bench_rand64();
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    memcpy(b + 6, &r1, 2);
    memcpy(b + 8, &r2, 8);
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    oss_uuid_format(b, out);
}

static int
cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
bench_quantile(double *v, size_t n, double q) {
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

const char *
bench_opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

/* ---- the bounded multi-client runner ---------------------------------- */

typedef struct runner {
    bench_init_fn init;
    bench_op_fn op;
    bench_fini_fn fini;
    void *ctx;
    int64_t deadline_us;
    int64_t max_ops;
    _Atomic int64_t ops, ok, failed;
    _Atomic int ready, go, init_failed;
} runner_t;

typedef struct worker {
    runner_t *r;
    int idx;
} worker_t;

static void *
worker_main(void *arg) {
    worker_t *w = arg;
    runner_t *r = w->r;
    void *st = r->init(r->ctx, w->idx);
    if (!st)
        atomic_fetch_add(&r->init_failed, 1);
    atomic_fetch_add(&r->ready, 1);
    while (!atomic_load(&r->go))
        bench_sleep_ms(1);
    if (!st)
        return NULL;
    while (bench_now_us() < r->deadline_us &&
           atomic_fetch_add(&r->ops, 1) < r->max_ops) {
        if (r->op(st) == 0)
            atomic_fetch_add(&r->ok, 1);
        else
            atomic_fetch_add(&r->failed, 1);
    }
    r->fini(st);
    return NULL;
}

int
bench_run_clients(int clients, double seconds, int64_t max_ops,
                  bench_init_fn init, bench_op_fn op, bench_fini_fn fini,
                  void *ctx, int64_t *ok, int64_t *failed, double *elapsed_s) {
    runner_t r = {.init = init,
                  .op = op,
                  .fini = fini,
                  .ctx = ctx,
                  .max_ops = max_ops,
                  .deadline_us = INT64_MAX};
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    worker_t *ws = calloc((size_t)clients, sizeof *ws);
    int started = 0, rc = 0;
    if (!th || !ws) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < clients; i++) {
        ws[i].r = &r;
        ws[i].idx = i;
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0) {
            rc = -1;
            break;
        }
        started++;
    }
    /* wait (bounded) until every thread connected */
    for (int i = 0; i < 30000 && atomic_load(&r.ready) < started; i++)
        bench_sleep_ms(1);
    int64_t t0 = bench_now_us();
    r.deadline_us = t0 + (int64_t)(seconds * 1e6);
    atomic_store(&r.go, 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = bench_now_us();
    *ok = atomic_load(&r.ok);
    *failed = atomic_load(&r.failed);
    *elapsed_s = (double)(t1 - t0) / 1e6;
    if (atomic_load(&r.init_failed) > 0) {
        fprintf(stderr, "oss-bench: %d of %d clients could not start\n",
                (int)atomic_load(&r.init_failed), clients);
        rc = -1;
    }
done:
    free(th);
    free(ws);
    return rc;
}

/* ---- entry point ------------------------------------------------------ */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"insert", bench_cmd_insert,
     "--clients N --seconds S --size B: single-row INSERT commits/s"},
    {"fill", bench_cmd_fill,
     "--count N --per-stream K --size B: COPY N hash-chained bench events "
     "into oss.journal"},
    {"copyout", bench_cmd_copyout,
     "--from P --to Q: COPY (SELECT ... journal rows) TO STDOUT rows/s"},
    {"copyin", bench_cmd_copyin,
     "--max-rows N: COPY the journal's rows into a scratch table, rows/s"},
    {"rmcopy", bench_cmd_rmcopy,
     "[--schema S]: COPY out the journal + COPY in the rows of S's tables "
     "(the rebuild's raw work), journal rows/s"},
    {"relay-wait", bench_cmd_relay_wait,
     "--target P --timeout S --start-cmd CMD: time the relay's checkpoint"},
    {"api", bench_cmd_api,
     "--clients N --seconds S [--count M]: registrations/s through the "
     "HTTP API (at most M in all)"},
    {"latency", bench_cmd_latency,
     "--samples N --timeout S: POST then GET until present, p50/p99"},
    {"produce", bench_cmd_produce,
     "--count N --size B --topic T: librdkafka produce msgs/s"},
    {"rtt", bench_cmd_rtt,
     "--samples N --parallel P: INSERT commit + produce + consume + "
     "read-model INSERT commit round trip p50/p99"},
    {"argon2", bench_cmd_argon2,
     "--threads N --seconds S --t T --m-kib M --lanes L: raw Argon2id "
     "hashes/s"},
    {"signup", bench_cmd_signup,
     "--clients N --seconds S: register + activate (OTP) + set password "
     "through the API, sign-ups/s"},
    {"smtp", bench_cmd_smtp,
     "--url U --clients N --count M --size B: a plain libcurl SMTP loop, "
     "messages/s (the notifier's baseline)"},
    {"regrows", bench_cmd_regrows,
     "--clients N --seconds S: the rows of one registration in one "
     "transaction each, registrations/s (the API's raw baseline)"},
};

int
main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            if (strcmp(argv[1], cmds[i].name) == 0)
                return cmds[i].fn(argc - 2, argv + 2);
    }
    fprintf(stderr, "usage: oss-bench COMMAND [options]\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(stderr, "  %-11s %s\n", cmds[i].name, cmds[i].help);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
