/* oss-bench: the Kafka side: librdkafka's raw produce rate (acks=all,
 * idempotent) into the running broker, the raw round trip (one INSERT commit
 * + one produce + one consume), and timing the relay while it drains a
 * journal backlog (its checkpoint and the topic's high watermarks). */
#include "bench.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The freshest bootstrap list: var/kafka.bootstrap (rewritten by the broker
 * at every start), else OSS_KAFKA_BOOTSTRAP. Returns a static buffer. */
static const char *
bootstrap(void) {
    static char bs[1024];
    const char *var = getenv("OSS_VAR");
    if (var) {
        char path[1024];
        snprintf(path, sizeof path, "%s/kafka.bootstrap", var);
        FILE *f = fopen(path, "r");
        if (f) {
            int got = fgets(bs, sizeof bs, f) != NULL;
            fclose(f);
            bs[strcspn(bs, "\r\n")] = '\0';
            if (got && bs[0])
                return bs;
        }
    }
    snprintf(bs, sizeof bs, "%s", bench_env("OSS_KAFKA_BOOTSTRAP"));
    return bs;
}

static int
conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "oss-bench: kafka config %s=%s: %s\n", k, v, errstr);
        return -1;
    }
    return 0;
}

static _Atomic int64_t delivered, delivery_failed;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err)
        atomic_fetch_add(&delivery_failed, 1);
    else
        atomic_fetch_add(&delivered, 1);
}

static rd_kafka_t *
new_producer(const char *linger_ms) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", bootstrap()) ||
        conf_set(conf, "enable.idempotence", "true") ||
        conf_set(conf, "acks", "all") || conf_set(conf, "log_level", "3") ||
        (linger_ms && conf_set(conf, "linger.ms", linger_ms))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "oss-bench: could not create a producer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* ---- produce: raw produce rate ---------------------------------------- */

int
bench_cmd_produce(int argc, char **argv) {
    long count = atol(bench_opt(argc, argv, "--count", "300000"));
    long size = atol(bench_opt(argc, argv, "--size", "600"));
    double timeout = atof(bench_opt(argc, argv, "--timeout", "30"));
    const char *topic = bench_opt(argc, argv, "--topic", "oss_bench.raw");
    if (count < 1 || count > 10000000 || size < 1 || size > 100000 ||
        timeout <= 0 || timeout > 300) {
        fprintf(stderr, "oss-bench produce: bad options\n");
        return 2;
    }
    rd_kafka_t *rk = new_producer(NULL);
    if (!rk)
        return 1;
    char *value = malloc((size_t)size);
    for (long i = 0; i < size; i++)
        value[i] = (char)('a' + i % 26);
    /* warm up: topic metadata and the idempotent producer id, untimed */
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                      RD_KAFKA_V_VALUE(value, (size_t)size),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10000);
    atomic_store(&delivered, 0);
    atomic_store(&delivery_failed, 0);

    int64_t t0 = bench_now_us(), deadline = t0 + (int64_t)(timeout * 1e6);
    long sent = 0;
    char key[32];
    while (sent < count && bench_now_us() < deadline) {
        int kn = snprintf(key, sizeof key, "bench-%06ld", sent % 5000);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kn),
            RD_KAFKA_V_VALUE(value, (size_t)size),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
            continue;
        }
        if (err) {
            fprintf(stderr, "oss-bench: produce failed: %s\n",
                    rd_kafka_err2str(err));
            break;
        }
        sent++;
        if ((sent & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    int64_t left = deadline - bench_now_us();
    rd_kafka_flush(rk, left > 1000 ? (int)(left / 1000) : 1);
    double el = (double)(bench_now_us() - t0) / 1e6;
    int64_t ok = atomic_load(&delivered);
    printf("RESULT op=produce sent=%ld delivered=%lld failed=%lld size=%ld "
           "seconds=%.3f rate=%.1f\n",
           sent, (long long)ok, (long long)atomic_load(&delivery_failed), size,
           el, el > 0 ? (double)ok / el : 0);
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
    free(value);
    return ok > 0 ? 0 : 1;
}

/* ---- rtt: INSERT commit + produce + consume + INSERT commit ------------ */

/* The raw round trip of one command to its read model, doing the same
 * durable work the pipeline does: one INSERT commit (the journal), one
 * produce (the relay), one consume (the projector) and one INSERT commit of
 * a read-model row. --parallel N samplers at once, each with its own
 * connections, producer, consumer and topic (oss_bench.rtt-<i>), as many
 * as the latency figure's concurrent clients. */
typedef struct rtt_ctx {
    const char *topic, *fetch_wait;
    int per, warmups;
    int64_t deadline;
    double *lat;
    _Atomic int n, lost, failed;
} rtt_ctx_t;

typedef struct rtt_arg {
    rtt_ctx_t *x;
    int idx;
} rtt_arg_t;

static void *
rtt_thread(void *argp) {
    rtt_arg_t *a = argp;
    rtt_ctx_t *x = a->x;
    char topic[160], errstr[512], gid[64];
    snprintf(topic, sizeof topic, "%s-%d", x->topic, a->idx);
    PGconn *c = PQconnectdb(bench_env("OSS_PG_ADMIN_URL"));
    rd_kafka_t *p = NULL, *k = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "oss-bench rtt: %s", PQerrorMessage(c));
        goto fail;
    }
    PQclear(PQprepare(
        c, "ins", "INSERT INTO oss_bench.rtt_rows (v) VALUES ($1)", 1, NULL));
    PQclear(PQprepare(c, "rm", "INSERT INTO oss_bench.rtt_rm (v) VALUES ($1)",
                      1, NULL));
    if (!(p = new_producer("0")))
        goto fail;
    snprintf(gid, sizeof gid, "oss-bench-rtt-%llx-%d",
             (unsigned long long)(bench_rand64() & 0xffffff), a->idx);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", bootstrap()) ||
        conf_set(conf, "group.id", gid) ||
        conf_set(conf, "enable.auto.commit", "false") ||
        conf_set(conf, "fetch.wait.max.ms", x->fetch_wait) ||
        conf_set(conf, "log_level", "3")) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (!(k = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        fprintf(stderr, "oss-bench: could not create a consumer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    /* the topic exists after this (auto-created) */
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE("warmup", 6), RD_KAFKA_V_END);
    rd_kafka_flush(p, 10000);
    /* start at the current end, resolved now (OFFSET_END would be resolved
     * lazily and could skip the first sample) */
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(k, topic, 0, &lo, &hi, 5000)) {
        fprintf(stderr, "oss-bench: could not read the end of %s\n", topic);
        goto fail;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, 0)->offset = hi;
    rd_kafka_assign(k, tp);
    rd_kafka_topic_partition_list_destroy(tp);

    for (int i = 0; i < x->per + x->warmups && bench_now_us() < x->deadline;
         i++) {
        char val[64];
        snprintf(val, sizeof val, "rtt-%d-%d-%llx", a->idx, i,
                 (unsigned long long)bench_rand64());
        const char *vals[1] = {val};
        int64_t t0 = bench_now_us();
        PGresult *r = PQexecPrepared(c, "ins", 1, vals, NULL, NULL, 0);
        int okq = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!okq) {
            fprintf(stderr, "oss-bench: rtt insert: %s", PQerrorMessage(c));
            goto fail;
        }
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE(val, strlen(val)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_END);
        rd_kafka_poll(p, 0);
        int got = 0;
        int64_t until = t0 + 5000000;
        while (!got && bench_now_us() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 50);
            rd_kafka_poll(p, 0);
            if (!m)
                continue;
            if (!m->err && m->len == strlen(val) &&
                memcmp(m->payload, val, m->len) == 0)
                got = 1;
            rd_kafka_message_destroy(m);
        }
        if (!got) {
            atomic_fetch_add(&x->lost, 1);
            continue;
        }
        r = PQexecPrepared(c, "rm", 1, vals, NULL, NULL, 0);
        okq = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!okq) {
            fprintf(stderr, "oss-bench: rtt read-model insert: %s",
                    PQerrorMessage(c));
            goto fail;
        }
        int64_t t1 = bench_now_us();
        if (i >= x->warmups)
            x->lat[atomic_fetch_add(&x->n, 1)] = (double)(t1 - t0) / 1000.0;
    }
    goto out;
fail:
    atomic_fetch_add(&x->failed, 1);
out:
    if (k) {
        rd_kafka_consumer_close(k);
        rd_kafka_destroy(k);
    }
    if (p) {
        rd_kafka_flush(p, 2000);
        rd_kafka_destroy(p);
    }
    PQfinish(c);
    return NULL;
}

int
bench_cmd_rtt(int argc, char **argv) {
    int samples = atoi(bench_opt(argc, argv, "--samples", "200"));
    double timeout = atof(bench_opt(argc, argv, "--timeout", "60"));
    int parallel = atoi(bench_opt(argc, argv, "--parallel", "1"));
    static rtt_ctx_t x;
    memset(&x, 0, sizeof x);
    x.topic = bench_opt(argc, argv, "--topic", "oss_bench.rtt");
    x.fetch_wait = bench_opt(argc, argv, "--fetch-wait-ms", "10");
    if (samples < 1 || samples > 100000 || timeout <= 0 || timeout > 600 ||
        parallel < 1 || parallel > 64) {
        fprintf(stderr, "oss-bench rtt: bad options\n");
        return 2;
    }
    x.per = (samples + parallel - 1) / parallel;
    x.warmups = 5;
    x.lat = calloc((size_t)(x.per * parallel), sizeof *x.lat);
    PGconn *c = bench_pg(bench_env("OSS_PG_ADMIN_URL"));
    bench_exec(c, "SET client_min_messages = warning", 0);
    bench_exec(c, "CREATE SCHEMA IF NOT EXISTS oss_bench", 0);
    bench_exec(c,
               "CREATE TABLE IF NOT EXISTS oss_bench.rtt_rows ("
               " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " v text NOT NULL, created_at timestamptz NOT NULL DEFAULT"
               " now())",
               0);
    bench_exec(c,
               "CREATE TABLE IF NOT EXISTS oss_bench.rtt_rm ("
               " v text PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT"
               " now())",
               0);
    bench_exec(c, "TRUNCATE oss_bench.rtt_rows, oss_bench.rtt_rm", 0);
    x.deadline = bench_now_us() + (int64_t)(timeout * 1e6);
    pthread_t th[64];
    rtt_arg_t args[64];
    int started = 0;
    for (int i = 0; i < parallel; i++) {
        args[i] = (rtt_arg_t){&x, i};
        if (pthread_create(&th[i], NULL, rtt_thread, &args[i]) == 0)
            started++;
        else
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int n = atomic_load(&x.n);
    double p50 = bench_quantile(x.lat, (size_t)n, 0.50);
    double p99 = bench_quantile(x.lat, (size_t)n, 0.99);
    printf("RESULT op=rtt samples=%d lost=%d failed=%d p50_ms=%.3f "
           "p99_ms=%.3f fetch_wait_ms=%s parallel=%d\n",
           n, atomic_load(&x.lost), atomic_load(&x.failed), p50, p99,
           x.fetch_wait, parallel);
    bench_exec(c, "TRUNCATE oss_bench.rtt_rows, oss_bench.rtt_rm", 1);
    PQfinish(c);
    free(x.lat);
    return n > 0 ? 0 : 1;
}

/* ---- relay-wait: time the relay through a backlog ---------------------- */

/* Sum of the topic's high watermarks, or -1 when it does not exist yet. */
static int64_t
topic_high_sum(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int64_t sum = -1;
    for (int t = 0; t < md->topic_cnt; t++) {
        if (strcmp(md->topics[t].topic, topic) != 0 || md->topics[t].err)
            continue;
        sum = 0;
        for (int pi = 0; pi < md->topics[t].partition_cnt; pi++) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(
                    rk, topic, md->topics[t].partitions[pi].id, &lo, &hi,
                    2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                sum += hi;
        }
    }
    rd_kafka_metadata_destroy(md);
    return sum;
}

/* Runs cmd with sh -c and waits for it, with every descriptor above stderr
 * closed first, so that a service it starts keeps none of ours (sockets,
 * the caller's pipes). Returns the exit status, or -1. */
static int
run_clean(const char *cmd) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct rlimit rl;
        long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                           rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536
                       ? (long)rl.rlim_cur
                       : 65536;
        for (long fd = 3; fd < max; fd++)
            close((int)fd);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
bench_cmd_relay_wait(int argc, char **argv) {
    long long target = atoll(bench_opt(argc, argv, "--target", "0"));
    const char *xid = bench_opt(argc, argv, "--xid", "0");
    double timeout = atof(bench_opt(argc, argv, "--timeout", "60"));
    const char *start_cmd = bench_opt(argc, argv, "--start-cmd", NULL);
    const char *topic = bench_opt(argc, argv, "--topic", "oss.bench");
    if (target <= 0 || timeout <= 0 || timeout > 7200 ||
        strspn(xid, "0123456789") != strlen(xid)) {
        fprintf(stderr, "oss-bench relay-wait: bad options\n");
        return 2;
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap());
    conf_set(conf, "group.id", "oss-bench-watch");
    conf_set(conf, "log_level", "3");
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "oss-bench: could not create a consumer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    PGconn *c = bench_pg(bench_env("OSS_PG_URL"));
    static const char cur_sql[] =
        "SELECT xid::text || ' ' || position::text FROM oss.relay_checkpoint"
        " WHERE id = 1";
    char done_sql[512];
    snprintf(done_sql, sizeof done_sql,
             "SELECT ((xid, position) >= ('%s'::xid8, %lld))::int"
             " FROM oss.relay_checkpoint WHERE id = 1",
             xid, target);
    PGresult *r = PQexec(c, cur_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fprintf(stderr, "oss-bench: no relay checkpoint: %s",
                PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        rd_kafka_destroy(rk);
        return 1;
    }
    char start[64], cur[64];
    snprintf(start, sizeof start, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    int64_t high0 = topic_high_sum(rk, topic);
    int64_t t_start = bench_now_us(), t_first = 0, t_end = 0;
    if (start_cmd && run_clean(start_cmd) != 0)
        fprintf(stderr, "oss-bench: \"%s\" failed\n", start_cmd);
    int64_t deadline = t_start + (int64_t)(timeout * 1e6);
    int trace = getenv("BENCH_TRACE") != NULL;
    while (bench_now_us() < deadline) {
        if (trace) {
            r = PQexec(c, cur_sql);
            fprintf(stderr, "  t=%.3f high=%lld checkpoint=%s\n",
                    (double)(bench_now_us() - t_start) / 1e6,
                    (long long)topic_high_sum(rk, topic),
                    PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r)
                        ? PQgetvalue(r, 0, 0)
                        : "?");
            PQclear(r);
        }
        if (!t_first) {
            int64_t h = topic_high_sum(rk, topic);
            if (h > (high0 < 0 ? 0 : high0))
                t_first = bench_now_us();
            r = PQexec(c, cur_sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                strcmp(PQgetvalue(r, 0, 0), start) != 0 && !t_first)
                t_first = bench_now_us();
            PQclear(r);
        }
        if (t_first && bench_scalar(c, done_sql) == 1) {
            t_end = bench_now_us();
            break;
        }
        bench_sleep_ms(5);
    }
    int rc = 1;
    if (!t_end) {
        printf("RESULT op=relay-wait timeout=1 published_seen=%d\n",
               t_first != 0);
        goto done;
    }
    r = PQexec(c, cur_sql);
    snprintf(cur, sizeof cur, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    char sx[32], ex[32], count_sql[768];
    long long sp = 0, ep = 0;
    sscanf(start, "%31s %lld", sx, &sp);
    sscanf(cur, "%31s %lld", ex, &ep);
    snprintf(count_sql, sizeof count_sql,
             "SELECT count(*) FROM oss.journal WHERE (xid, position) >"
             " ('%s'::xid8, %lld) AND (xid, position) <= ('%s'::xid8, %lld)",
             sx, sp, ex, ep);
    int64_t rows = bench_scalar(c, count_sql);
    double el = (double)(t_end - t_first) / 1e6;
    printf("RESULT op=relay-wait rows=%lld seconds=%.3f startup=%.3f "
           "total=%.3f rate=%.1f\n",
           (long long)rows, el, (double)(t_first - t_start) / 1e6,
           (double)(t_end - t_start) / 1e6, el > 0 ? (double)rows / el : 0);
    rc = 0;
done:
    PQfinish(c);
    rd_kafka_destroy(rk);
    return rc;
}
