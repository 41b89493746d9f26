/* oss-bench-journal: the journal's own append rate (issue 11, item 1),
 * apart from HTTP and the domain's side rows. N client threads each submit
 * one single-event command at a time through the group-commit interface
 * every producer uses (src/app/pool.h: W workers, each batch ONE
 * oss_journal_execute()), with an expected version, the hash chain and an
 * idempotency key, each command on a stream of its own (expected version
 * 0, as a registration's), or with --hot every client on one stream
 * (expected version "any": a version race is decided again by the
 * journal; what still conflicts is retried by the client and counted;
 * the stream's whole history is read for every batch, as for any stream a
 * command decides on). Prints one RESULT line; tests/bench/run puts it
 * beside raw single-row INSERT commits from the same number of clients.
 *
 *   oss-bench-journal --clients N --seconds S [--workers W] [--group G]
 *                     [--hot] [--no-key] [--any]
 * Needs OSS_PG_URL (the application role, as the API). Events are of
 * stream type "bench", payload oss.v1.Bench: no projector applies them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/pool.h"
#include "core/clock.h"
#include "crypto/crypto.h"

typedef struct client client_t;

typedef struct bjob {
    oss_app_job_t base;
    client_t *cl;
} bjob_t;

struct client {
    int idx;
    char stream[128];
    char key[96];
    uint8_t hash[32];
    bool hot;
    /* the job in flight */
    bjob_t job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    oss_journal_outcome_t outcome;
    oss_code_t rc;
    bool conflict;
    /* counts */
    long ok, conflicts, failed;
};

static oss_app_pool_t *g_pool;
static atomic_int g_go;
static int64_t g_deadline;
static char g_run[40];
static bool g_no_key; /* --no-key: commands without an idempotency key */
static bool g_any;    /* --any: expected version "any" on own streams (the
                         stream is read first, as for an existing one) */

static oss_code_t
decide(void *ctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    (void)ctx;
    (void)history;
    (void)n;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.Bench");
    ev->schema_version = 1;
    ev->payload = malloc(64);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memset(ev->payload, 0x42, 64);
    ev->payload_len = 64;
    return OSS_OK;
}

static char *
response(void *ctx, const oss_command_t *c) {
    (void)ctx;
    char *s = malloc(48);
    if (s)
        snprintf(s, 48, "{\"version\":%lld}", (long long)c->last_version);
    return s;
}

static size_t
job_prepare(oss_app_worker_t *w, oss_app_job_t *job, oss_command_t *cmds) {
    (void)w;
    client_t *cl = ((bjob_t *)job)->cl;
    oss_command_t *c = &cmds[0];
    memset(c, 0, sizeof *c);
    c->stream_id = cl->stream;
    c->stream_type = "bench";
    c->expected_version = cl->hot || g_any ? -1 : 0;
    c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c->actor_id = "oss-bench-journal";
    c->correlation_id = cl->key;
    c->idempotency_key = g_no_key ? NULL : cl->key;
    c->request_hash = g_no_key ? NULL : cl->hash;
    c->decide = decide;
    c->response_status = 201;
    c->response_fn = response;
    return 1;
}

static void
job_finish(oss_app_worker_t *w, oss_app_job_t *job, oss_command_t *cmds,
           size_t k, oss_code_t rc, const oss_err_t *err) {
    (void)w;
    (void)k;
    (void)err;
    client_t *cl = ((bjob_t *)job)->cl;
    pthread_mutex_lock(&cl->mu);
    cl->rc = rc;
    cl->outcome = cmds[0].outcome;
    cl->conflict = cmds[0].outcome == OSS_JOURNAL_REJECTED &&
                   cmds[0].err.code == OSS_ECONFLICT;
    cl->done = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

static void
job_cancel(oss_app_job_t *job) {
    client_t *cl = ((bjob_t *)job)->cl;
    pthread_mutex_lock(&cl->mu);
    cl->rc = OSS_EUNAVAIL;
    cl->done = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

static void
job_destroy(oss_app_job_t *job) {
    (void)job; /* the client owns it */
}

static void *
client_main(void *arg) {
    client_t *cl = arg;
    long seq = 0;
    while (!atomic_load(&g_go))
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    while (oss_now_us() < g_deadline) {
        snprintf(cl->key, sizeof cl->key, "bj-%s-%d-%ld", g_run, cl->idx,
                 ++seq);
        if (!cl->hot)
            snprintf(cl->stream, sizeof cl->stream, "bench-%s", cl->key);
        memset(cl->hash, 0, sizeof cl->hash);
        memcpy(cl->hash, &seq, sizeof seq);
        memset(&cl->job, 0, sizeof cl->job);
        cl->job.cl = cl;
        cl->job.base.prepare = job_prepare;
        cl->job.base.finish = job_finish;
        cl->job.base.cancel = job_cancel;
        cl->job.base.destroy = job_destroy;
        cl->job.base.cid = cl->key;
        cl->done = false;
        oss_app_pool_submit(g_pool, &cl->job.base);
        pthread_mutex_lock(&cl->mu);
        while (!cl->done)
            pthread_cond_wait(&cl->cv, &cl->mu);
        pthread_mutex_unlock(&cl->mu);
        if (cl->rc != OSS_OK) {
            cl->failed++;
        } else if (cl->outcome == OSS_JOURNAL_APPENDED) {
            cl->ok++;
        } else if (cl->conflict) {
            cl->conflicts++; /* the next round is the retry */
        } else {
            cl->failed++;
        }
    }
    return NULL;
}

static const char *
opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static bool
flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

int
main(int argc, char **argv) {
    int clients = atoi(opt(argc, argv, "--clients", "1"));
    double seconds = atof(opt(argc, argv, "--seconds", "5"));
    int workers = atoi(opt(argc, argv, "--workers", "4"));
    int group = atoi(opt(argc, argv, "--group", "64"));
    bool hot = flag(argc, argv, "--hot");
    g_no_key = flag(argc, argv, "--no-key");
    g_any = flag(argc, argv, "--any");
    const char *url = getenv("OSS_PG_URL");
    oss_err_t err;

    if (clients < 1 || clients > 256 || seconds <= 0 || seconds > 120 ||
        workers < 1 || workers > 64 || group < 1 || !url) {
        fprintf(stderr, "usage: oss-bench-journal --clients N (1-256) "
                        "--seconds S [--workers W] [--group G] [--hot] "
                        "(OSS_PG_URL set)\n");
        return 2;
    }
    oss_uuid7(g_run);
    oss_err_clear(&err);
    if (oss_app_pool_new(url, NULL, workers, (size_t)group, &g_pool, &err) !=
        OSS_OK) {
        fprintf(stderr, "oss-bench-journal: %s\n", err.msg);
        return 1;
    }
    client_t *cls = calloc((size_t)clients, sizeof *cls);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    if (!cls || !th)
        return 1;
    for (int i = 0; i < clients; i++) {
        client_t *cl = &cls[i];
        cl->idx = i;
        cl->hot = hot;
        if (hot)
            snprintf(cl->stream, sizeof cl->stream, "bench-hot-%s", g_run);
        else
            snprintf(cl->stream, sizeof cl->stream, "bench-%s-%d", g_run, i);
        pthread_mutex_init(&cl->mu, NULL);
        pthread_cond_init(&cl->cv, NULL);
        pthread_create(&th[i], NULL, client_main, cl);
    }
    int64_t t0 = oss_now_us();
    g_deadline = t0 + (int64_t)(seconds * 1e6);
    atomic_store(&g_go, 1);
    long ok = 0, conflicts = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ok += cls[i].ok;
        conflicts += cls[i].conflicts;
        failed += cls[i].failed;
    }
    double el = (double)(oss_now_us() - t0) / 1e6;
    oss_app_pool_free(g_pool);
    printf("RESULT op=journal clients=%d workers=%d group=%d hot=%d ok=%ld "
           "conflicts=%ld failed=%ld seconds=%.3f rate=%.1f\n",
           clients, workers, group, hot ? 1 : 0, ok, conflicts, failed, el,
           el > 0 ? (double)ok / el : 0);
    free(cls);
    free(th);
    return ok > 0 ? 0 : 1;
}
