/* oss-bench: the PostgreSQL side: raw single-row INSERT commits (append
 * baseline), hash-chained bench events COPied into the journal (relay and
 * rebuild input), COPY-out and COPY-in baselines, and timing the relay's
 * checkpoint as it drains a backlog. Scratch tables live in schema oss_bench
 * (created here as the owner role); bench events use stream_type "bench"
 * and payload_type "oss.v1.Bench", so no projector applies them. */
#include "bench.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bytes.h"
#include "core/event.h"
#include "core/utc.h"

/* ---- insert: raw single-row INSERT transactions ------------------------ */

typedef struct ins_state {
    PGconn *c;
    int idx;
    int64_t seq;
    char *value;
} ins_state_t;

static void *
ins_init(void *ctx, int idx) {
    const int *size = ctx;
    ins_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = PQconnectdb(bench_env("OSS_PG_ADMIN_URL"));
    if (PQstatus(s->c) != CONNECTION_OK) {
        fprintf(stderr, "oss-bench: insert client %d: %s", idx,
                PQerrorMessage(s->c));
        PQfinish(s->c);
        free(s);
        return NULL;
    }
    s->idx = idx;
    s->value = malloc((size_t)*size + 1);
    for (int i = 0; i < *size; i++)
        s->value[i] = (char)('a' + (bench_rand64() % 26));
    s->value[*size] = '\0';
    PGresult *r = PQprepare(s->c, "ins",
                            "INSERT INTO oss_bench.insert_rows (client, seq, v)"
                            " VALUES ($1::int, $2::bigint, $3)",
                            3, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "oss-bench: could not prepare: %s",
                PQerrorMessage(s->c));
        PQclear(r);
        PQfinish(s->c);
        free(s->value);
        free(s);
        return NULL;
    }
    PQclear(r);
    return s;
}

static int
ins_op(void *st) {
    ins_state_t *s = st;
    char a[16], b[24];
    snprintf(a, sizeof a, "%d", s->idx);
    snprintf(b, sizeof b, "%lld", (long long)++s->seq);
    const char *vals[3] = {a, b, s->value};
    PGresult *r = PQexecPrepared(s->c, "ins", 3, vals, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

static void
ins_fini(void *st) {
    ins_state_t *s = st;
    PQfinish(s->c);
    free(s->value);
    free(s);
}

int
bench_cmd_insert(int argc, char **argv) {
    int clients = atoi(bench_opt(argc, argv, "--clients", "1"));
    double seconds = atof(bench_opt(argc, argv, "--seconds", "5"));
    int size = atoi(bench_opt(argc, argv, "--size", "260"));
    if (clients < 1 || clients > 256 || seconds <= 0 || seconds > 120 ||
        size < 1 || size > 100000) {
        fprintf(stderr, "oss-bench insert: bad options\n");
        return 2;
    }
    PGconn *c = bench_pg(bench_env("OSS_PG_ADMIN_URL"));
    bench_exec(c, "SET client_min_messages = warning", 0);
    bench_exec(c, "CREATE SCHEMA IF NOT EXISTS oss_bench", 0);
    bench_exec(c,
               "CREATE TABLE IF NOT EXISTS oss_bench.insert_rows ("
               " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " client int NOT NULL, seq bigint NOT NULL, v text NOT NULL,"
               " created_at timestamptz NOT NULL DEFAULT now())",
               0);
    bench_exec(c, "TRUNCATE oss_bench.insert_rows", 0);
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(clients, seconds, 10000000, ins_init, ins_op,
                               ins_fini, &size, &ok, &failed, &el);
    bench_exec(c, "TRUNCATE oss_bench.insert_rows", 1);
    PQfinish(c);
    printf("RESULT op=insert clients=%d ok=%lld failed=%lld seconds=%.3f "
           "rate=%.1f\n",
           clients, (long long)ok, (long long)failed, el,
           el > 0 ? (double)ok / el : 0);
    return rc == 0 && ok > 0 ? 0 : 1;
}

/* ---- fill: hash-chained bench events into oss.journal ------------------ */

static void
hex_bytea(char *out, const uint8_t *p, size_t n) {
    /* COPY text format: the backslash of \x must itself be escaped */
    *out++ = '\\';
    *out++ = '\\';
    *out++ = 'x';
    oss_hex_encode(p, n, out);
}

/* us as COPY text for timestamptz: RFC 3339 UTC, which PostgreSQL reads. */
static void
ts_text(char *out, size_t cap, int64_t us) {
    oss_utc_format(us, 6, out, cap);
}

static int64_t
real_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
put_copy(PGconn *c, const char *buf, size_t len) {
    if (PQputCopyData(c, buf, (int)len) != 1) {
        fprintf(stderr, "oss-bench: COPY failed: %s", PQerrorMessage(c));
        return -1;
    }
    return 0;
}

/* --clone-accounts K: realistic account events (issue 11, item 7). K
 * registrations made through the API are the templates: each clone is one
 * registration's three events (account-<id> v1 AccountRegistered, v2
 * TermsAccepted, access-<id> v1 ActivationIssued) with the template's
 * payloads byte for byte except the account id (a new UUIDv7 of the same
 * length, replaced where the template's id occurs: account_id, the
 * principal id), so the sealed fields stay valid under the template's
 * subject key (one person holding many accounts), the hash chains are
 * recomputed and the projector applies them as registrations. The
 * template's ledger rows are copied as 'sent' for the clone's two messages,
 * so no mail is sent for them. */
typedef struct tmpl {
    char id[64];
    uint8_t *pay[3];
    size_t len[3];
    char chan[2][16]; /* the registration mail's, the activation's */
} tmpl_t;

static const char *const clone_types[3] = {"oss.v1.AccountRegistered",
                                           "oss.v1.TermsAccepted",
                                           "oss.v1.ActivationIssued"};

static int
load_templates(PGconn *c, long k, tmpl_t **out, long *n) {
    char lim[32];
    snprintf(lim, sizeof lim, "%ld", k);
    const char *pv[1] = {lim};
    PGresult *r = PQexecParams(
        c,
        "SELECT substr(r.stream_id, 9), r.payload, t.payload, x.payload,"
        " coalesce((SELECT channel FROM oss.notifications WHERE event_id ="
        " r.event_id LIMIT 1), 'email'), coalesce((SELECT channel FROM"
        " oss.notifications WHERE event_id = x.event_id LIMIT 1), 'email')"
        " FROM oss.journal r JOIN oss.journal t ON t.stream_id = r.stream_id"
        " AND t.version = 2 AND t.payload_type = 'oss.v1.TermsAccepted'"
        " JOIN oss.journal x ON x.stream_id = 'access-' ||"
        " substr(r.stream_id, 9) AND x.version = 1 AND x.payload_type ="
        " 'oss.v1.ActivationIssued' WHERE r.payload_type ="
        " 'oss.v1.AccountRegistered' AND r.version = 1 AND r.stream_id LIKE"
        " 'account-%' ORDER BY r.position DESC LIMIT $1::bigint",
        1, NULL, pv, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        fprintf(stderr,
                "oss-bench fill: no registration to clone (make some "
                "through the API first): %s",
                PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    *n = PQntuples(r);
    tmpl_t *t = calloc((size_t)*n, sizeof *t);
    for (long i = 0; t && i < *n; i++) {
        snprintf(t[i].id, sizeof t[i].id, "%.*s", PQgetlength(r, (int)i, 0),
                 PQgetvalue(r, (int)i, 0));
        for (int e = 0; e < 3; e++) {
            t[i].len[e] = (size_t)PQgetlength(r, (int)i, 1 + e);
            t[i].pay[e] = malloc(t[i].len[e] ? t[i].len[e] : 1);
            memcpy(t[i].pay[e], PQgetvalue(r, (int)i, 1 + e), t[i].len[e]);
        }
        for (int m = 0; m < 2; m++)
            snprintf(t[i].chan[m], sizeof t[i].chan[m], "%.*s",
                     PQgetlength(r, (int)i, 4 + m),
                     PQgetvalue(r, (int)i, 4 + m));
    }
    PQclear(r);
    *out = t;
    return t ? 0 : -1;
}

/* Copies src into dst replacing every occurrence of from with to (same
 * length). */
static void
replace_id(uint8_t *dst, const uint8_t *src, size_t n, const char *from,
           const char *to) {
    size_t fl = strlen(from);
    memcpy(dst, src, n);
    for (size_t i = 0; fl && i + fl <= n; i++)
        if (memcmp(dst + i, from, fl) == 0) {
            memcpy(dst + i, to, fl);
            i += fl - 1;
        }
}

/* COPY of the buffered ledger rows (the clones' messages, 'sent'). */
static int
copy_ledger(PGconn *c, const char *buf, size_t len) {
    if (!len)
        return 0;
    PGresult *r = PQexec(c, "COPY oss.notifications (event_id, channel,"
                            " status, attempts, stream_id) FROM STDIN");
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok || put_copy(c, buf, len) || PQputCopyEnd(c, NULL) != 1) {
        fprintf(stderr, "oss-bench: ledger COPY failed: %s", PQerrorMessage(c));
        return -1;
    }
    while ((r = PQgetResult(c))) {
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "oss-bench: ledger COPY failed: %s",
                    PQerrorMessage(c));
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

int
bench_cmd_fill(int argc, char **argv) {
    long count = atol(bench_opt(argc, argv, "--count", "50000"));
    long per_stream = atol(bench_opt(argc, argv, "--per-stream", "10"));
    long size = atol(bench_opt(argc, argv, "--size", "300"));
    /* --tx N: commit every N events (item 7: transactions of about a
     * thousand events, so that commit-horizon reads meet many xids) */
    long per_tx = atol(bench_opt(argc, argv, "--tx", "0"));
    long clone_k = atol(bench_opt(argc, argv, "--clone-accounts", "0"));
    if (count < 1 || count > 20000000 || per_stream < 1 || size < 1 ||
        size > 65536 || per_tx < 0 || clone_k < 0 || clone_k > 100000) {
        fprintf(stderr, "oss-bench fill: bad options\n");
        return 2;
    }
    if (clone_k)
        count -= count % 3; /* whole registrations */
    char run[32];
    snprintf(run, sizeof run, "bench-%08llx",
             (unsigned long long)(bench_rand64() & 0xffffffffULL));
    PGconn *c = bench_pg(bench_env("OSS_PG_URL"));
    tmpl_t *tm = NULL;
    long ntm = 0;
    if (clone_k && load_templates(c, clone_k, &tm, &ntm)) {
        PQfinish(c);
        return 1;
    }
    if (clone_k) {
        size = 0;
        for (long i = 0; i < ntm; i++)
            for (int e = 0; e < 3; e++)
                if ((long)tm[i].len[e] > size)
                    size = (long)tm[i].len[e];
    }
    size_t lcap = 1 << 20, llen = 0;
    char *lbuf = malloc(lcap);
    char clone_id[64] = "";
    size_t bufcap = 1 << 20, len = 0;
    char *buf = malloc(bufcap);
    char *line = malloc((size_t)size * 2 + 4096);
    uint8_t *payload = malloc((size_t)size);
    char *payhex = malloc((size_t)size * 2 + 8);
    int rc = 1;
    int64_t t0 = bench_now_us();
    oss_event_t ev;
    memset(&ev, 0, sizeof ev);
    static const char copy_sql[] =
        "COPY oss.journal (event_id, stream_id, stream_type,"
        " version, occurred_at, recorded_at, actor_kind,"
        " actor_id, correlation_id, causation_id, cause_id,"
        " reason, software_version, payload_type,"
        " schema_version, payload, prev_hash, hash)"
        " FROM STDIN";
    long txs = 0;
    char first_min[32] = "";
    PGresult *r;
    for (long i = 0; i < count; i++) {
        if (per_tx && i > 0 && i % per_tx == 0) {
            /* end this transaction's COPY and commit it */
            if ((len && put_copy(c, buf, len)) || PQputCopyEnd(c, NULL) != 1)
                goto done;
            len = 0;
            while ((r = PQgetResult(c))) {
                if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                    fprintf(stderr, "oss-bench: COPY failed: %s",
                            PQerrorMessage(c));
                    PQclear(r);
                    goto done;
                }
                PQclear(r);
            }
            if (copy_ledger(c, lbuf, llen))
                goto done;
            llen = 0;
            if (!first_min[0]) {
                r = PQexec(c, "SELECT min(position) FROM oss.journal"
                              " WHERE xid = pg_current_xact_id()");
                snprintf(first_min, sizeof first_min, "%s",
                         PQresultStatus(r) == PGRES_TUPLES_OK
                             ? PQgetvalue(r, 0, 0)
                             : "");
                PQclear(r);
            }
            bench_exec(c, "COMMIT", 0);
            txs++;
        }
        if (i == 0 || (per_tx && i % per_tx == 0)) {
            bench_exec(c, "BEGIN", 0);
            r = PQexec(c, copy_sql);
            if (PQresultStatus(r) != PGRES_COPY_IN) {
                fprintf(stderr, "oss-bench: could not start COPY: %s",
                        PQerrorMessage(c));
                PQclear(r);
                goto done;
            }
            PQclear(r);
        }
        long stream = i / per_stream, version = i % per_stream + 1;
        const tmpl_t *tp = NULL;
        int part = 0;
        if (clone_k) { /* three events per clone (see load_templates) */
            part = (int)(i % 3);
            tp = &tm[(i / 3) % ntm];
            if (part == 0)
                bench_uuid7(clone_id);
            version = part == 1 ? 2 : 1;
        }
        if (version == 1)
            memset(ev.prev_hash, 0, sizeof ev.prev_hash);
        else
            memcpy(ev.prev_hash, ev.hash, sizeof ev.hash);
        bench_uuid7(ev.event_id);
        if (tp) {
            snprintf(ev.stream_id, sizeof ev.stream_id, "%s-%s",
                     part == 2 ? "access" : "account", clone_id);
            snprintf(ev.stream_type, sizeof ev.stream_type, "account");
        } else {
            snprintf(ev.stream_id, sizeof ev.stream_id, "%s-%06ld", run,
                     stream);
            snprintf(ev.stream_type, sizeof ev.stream_type, "bench");
        }
        ev.version = version;
        ev.occurred_at_us = ev.recorded_at_us = real_us();
        ev.actor_kind = OSS_ACTOR_SYSTEM_JOB;
        snprintf(ev.actor_id, sizeof ev.actor_id, "oss-bench");
        snprintf(ev.correlation_id, sizeof ev.correlation_id, "%s", run);
        ev.causation_id[0] = ev.cause_id[0] = '\0';
        ev.reason = NULL;
        snprintf(ev.software_version, sizeof ev.software_version,
                 "oss-bench/1");
        snprintf(ev.payload_type, sizeof ev.payload_type, "%s",
                 tp ? clone_types[part] : "oss.v1.Bench");
        ev.schema_version = 1;
        size_t plen = (size_t)size;
        if (tp) {
            plen = tp->len[part];
            replace_id(payload, tp->pay[part], plen, tp->id, clone_id);
        } else {
            for (long k = 0; k < size; k += 8) {
                uint64_t x = bench_rand64();
                memcpy(payload + k, &x, (size_t)(size - k < 8 ? size - k : 8));
            }
        }
        ev.payload = payload;
        ev.payload_len = plen;
        uint8_t *canon = NULL;
        size_t clen = 0;
        unsigned int hl = OSS_HASH_LEN;
        if (oss_event_canonical(&ev, &canon, &clen, NULL) != OSS_OK ||
            EVP_Digest(canon, clen, ev.hash, &hl, EVP_sha256(), NULL) != 1) {
            fprintf(stderr, "oss-bench: could not hash an event\n");
            free(canon);
            goto done;
        }
        free(canon);
        char ts[64], ph[80], hh[80];
        ts_text(ts, sizeof ts, ev.occurred_at_us);
        hex_bytea(payhex, payload, plen);
        if (tp && part != 1) { /* the mail or the code: handled already */
            if (llen + 256 > lcap && !(lbuf = realloc(lbuf, lcap *= 2)))
                goto done;
            llen +=
                (size_t)sprintf(lbuf + llen, "%s\t%s\tsent\t1\t%s\n",
                                ev.event_id, tp->chan[part == 2], ev.stream_id);
        }
        hex_bytea(ph, ev.prev_hash, OSS_HASH_LEN);
        hex_bytea(hh, ev.hash, OSS_HASH_LEN);
        int n = sprintf(line,
                        "%s\t%s\t%s\t%ld\t%s\t%s\t%d\t%s\t%s\t\t\t\\N\t%s\t%s"
                        "\t%d\t%s\t%s\t%s\n",
                        ev.event_id, ev.stream_id, ev.stream_type, version, ts,
                        ts, (int)ev.actor_kind, ev.actor_id, ev.correlation_id,
                        ev.software_version, ev.payload_type, ev.schema_version,
                        payhex, ph, hh);
        if (len + (size_t)n > bufcap) {
            if (put_copy(c, buf, len))
                goto done;
            len = 0;
        }
        memcpy(buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    if (len && put_copy(c, buf, len))
        goto done;
    if (PQputCopyEnd(c, NULL) != 1)
        goto done;
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "oss-bench: COPY into the journal failed: %s",
                PQerrorMessage(c));
        PQclear(r);
        goto done;
    }
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    if (copy_ledger(c, lbuf, llen))
        goto done;
    r = PQexec(c, "SELECT min(position), max(position), count(*),"
                  " pg_current_xact_id()::text FROM oss.journal"
                  " WHERE xid = pg_current_xact_id()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "oss-bench: %s", PQerrorMessage(c));
        PQclear(r);
        goto done;
    }
    char minp[32], maxp[32], cnt[32], xid[32];
    snprintf(minp, sizeof minp, "%s",
             first_min[0] ? first_min : PQgetvalue(r, 0, 0));
    snprintf(maxp, sizeof maxp, "%s", PQgetvalue(r, 0, 1));
    snprintf(cnt, sizeof cnt, "%s", PQgetvalue(r, 0, 2));
    snprintf(xid, sizeof xid, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    bench_exec(c, "SELECT pg_notify('oss_journal', '')", 0);
    bench_exec(c, "COMMIT", 0);
    double el = (double)(bench_now_us() - t0) / 1e6;
    printf("RESULT op=fill run=%s count=%ld last_tx_count=%s txs=%ld "
           "min_pos=%s max_pos=%s xid=%s seconds=%.3f rate=%.1f\n",
           run, count, cnt, txs + 1, minp, maxp, xid, el,
           el > 0 ? (double)count / el : 0);
    rc = 0;
done:
    if (rc)
        bench_exec(c, "ROLLBACK", 1);
    PQfinish(c);
    free(buf);
    free(line);
    free(payload);
    free(payhex);
    free(lbuf);
    for (long i = 0; i < ntm; i++)
        for (int e = 0; e < 3; e++)
            free(tm[i].pay[e]);
    free(tm);
    return rc;
}

/* ---- copyout: raw COPY (SELECT ...) TO STDOUT of journal rows ---------- */

static const char journal_cols[] =
    "position, xid, event_id, stream_id, stream_type, version, occurred_at,"
    " recorded_at, actor_kind, actor_id, correlation_id, causation_id,"
    " cause_id, reason, software_version, payload_type, schema_version,"
    " payload, prev_hash, hash";

/* Runs a COPY ... TO STDOUT; appends the data to *mem when mem is not NULL.
 * Returns rows, or -1. */
static long
copy_out(PGconn *c, const char *sql, char **mem, size_t *memlen,
         size_t *bytes) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        fprintf(stderr, "oss-bench: could not COPY out: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    long rows = 0;
    size_t cap = mem ? (*memlen + (1 << 20)) : 0;
    char *data;
    int n;
    *bytes = 0;
    while ((n = PQgetCopyData(c, &data, 0)) > 0) {
        rows++;
        *bytes += (size_t)n;
        if (mem) {
            if (*memlen + (size_t)n > cap || !*mem) {
                while (*memlen + (size_t)n > cap)
                    cap *= 2;
                char *p = realloc(*mem, cap);
                if (!p) {
                    PQfreemem(data);
                    return -1;
                }
                *mem = p;
            }
            memcpy(*mem + *memlen, data, (size_t)n);
            *memlen += (size_t)n;
        }
        PQfreemem(data);
    }
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "oss-bench: COPY out failed: %s",
                    PQerrorMessage(c));
            rows = -1;
        }
        PQclear(r);
    }
    return rows;
}

int
bench_cmd_copyout(int argc, char **argv) {
    long long from = atoll(bench_opt(argc, argv, "--from", "0"));
    long long to = atoll(bench_opt(argc, argv, "--to", "0"));
    PGconn *c = bench_pg(bench_env("OSS_PG_URL"));
    char sql[1024];
    snprintf(sql, sizeof sql,
             "COPY (SELECT %s FROM oss.journal WHERE position >= %lld AND"
             " position <= %lld ORDER BY xid, position) TO STDOUT",
             journal_cols, from, to);
    size_t bytes = 0;
    int64_t t0 = bench_now_us();
    long rows = copy_out(c, sql, NULL, NULL, &bytes);
    double el = (double)(bench_now_us() - t0) / 1e6;
    PQfinish(c);
    if (rows < 0)
        return 1;
    printf("RESULT op=copyout rows=%ld bytes=%zu avg_row=%.0f seconds=%.3f "
           "rate=%.1f\n",
           rows, bytes, rows ? (double)bytes / (double)rows : 0, el,
           el > 0 ? (double)rows / el : 0);
    return rows > 0 ? 0 : 1;
}

/* ---- copyin: COPY the journal's rows into a scratch table -------------- */

int
bench_cmd_copyin(int argc, char **argv) {
    long long max_rows = atoll(bench_opt(argc, argv, "--max-rows", "2000000"));
    PGconn *c = bench_pg(bench_env("OSS_PG_ADMIN_URL"));
    bench_exec(c, "SET client_min_messages = warning", 0);
    bench_exec(c, "CREATE SCHEMA IF NOT EXISTS oss_bench", 0);
    bench_exec(c, "DROP TABLE IF EXISTS oss_bench.copy_rows", 0);
    bench_exec(c,
               "CREATE TABLE oss_bench.copy_rows (LIKE oss.journal,"
               " PRIMARY KEY (position))",
               0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "COPY (SELECT %s FROM oss.journal ORDER BY position LIMIT %lld)"
             " TO STDOUT",
             journal_cols, max_rows);
    char *mem = NULL;
    size_t memlen = 0, bytes = 0;
    long rows = copy_out(c, sql, &mem, &memlen, &bytes);
    if (rows <= 0) {
        free(mem);
        PQfinish(c);
        return 1;
    }
    int64_t t0 = bench_now_us();
    snprintf(sql, sizeof sql, "COPY oss_bench.copy_rows (%s) FROM STDIN",
             journal_cols);
    PGresult *r = PQexec(c, sql);
    int rc = 1;
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "oss-bench: could not COPY in: %s", PQerrorMessage(c));
        PQclear(r);
        goto done;
    }
    PQclear(r);
    for (size_t off = 0; off < memlen; off += 1 << 18) {
        size_t n = memlen - off < (1 << 18) ? memlen - off : (1 << 18);
        if (put_copy(c, mem + off, n))
            goto done;
    }
    if (PQputCopyEnd(c, NULL) != 1)
        goto done;
    rc = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "oss-bench: COPY in failed: %s", PQerrorMessage(c));
            rc = 1;
        }
        PQclear(r);
    }
    double el = (double)(bench_now_us() - t0) / 1e6;
    if (rc == 0)
        printf("RESULT op=copyin rows=%ld bytes=%zu seconds=%.3f rate=%.1f\n",
               rows, bytes, el, el > 0 ? (double)rows / el : 0);
done:
    bench_exec(c, "DROP TABLE IF EXISTS oss_bench.copy_rows", 1);
    free(mem);
    PQfinish(c);
    return rc;
}

/* ---- rmcopy: the rebuild's raw work (issue 11, item 3) ----------------- */

/* COPY FROM STDIN of mem[0..len) into table; 0 or -1. */
static int
copy_in(PGconn *c, const char *table, const char *mem, size_t len) {
    char sql[256];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "oss-bench: could not COPY into %s: %s", table,
                PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    for (size_t off = 0; off < len; off += 1 << 18) {
        size_t n = len - off < (1 << 18) ? len - off : (1 << 18);
        if (put_copy(c, mem + off, n))
            return -1;
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return -1;
    int rc = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "oss-bench: COPY into %s failed: %s", table,
                    PQerrorMessage(c));
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

/* The same journal rows COPied out as the rebuild reads (every row, commit
 * order), plus the read-model rows the rebuild wrote (every table of
 * --schema, read back untimed) COPied into empty copies of those tables
 * with their indexes. rate = journal rows / (out + in seconds). */
int
bench_cmd_rmcopy(int argc, char **argv) {
    const char *schema = bench_opt(argc, argv, "--schema", "rm");
    PGconn *c = bench_pg(bench_env("OSS_PG_ADMIN_URL"));
    bench_exec(c, "SET client_min_messages = warning", 0);
    bench_exec(c, "CREATE SCHEMA IF NOT EXISTS oss_bench", 0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "COPY (SELECT %s FROM oss.journal ORDER BY xid, position) TO "
             "STDOUT",
             journal_cols);
    size_t bytes = 0;
    int64_t t0 = bench_now_us();
    long events = copy_out(c, sql, NULL, NULL, &bytes);
    double out_s = (double)(bench_now_us() - t0) / 1e6;
    if (events < 0) {
        PQfinish(c);
        return 1;
    }
    const char *sp[1] = {schema};
    PGresult *tr = PQexecParams(c,
                                "SELECT table_name FROM "
                                "information_schema.tables WHERE table_schema "
                                "= $1 AND table_type = 'BASE TABLE' ORDER BY 1",
                                1, NULL, sp, NULL, NULL, 0);
    if (PQresultStatus(tr) != PGRES_TUPLES_OK) {
        fprintf(stderr, "oss-bench: %s", PQerrorMessage(c));
        PQclear(tr);
        PQfinish(c);
        return 1;
    }
    long rows = 0;
    double in_s = 0;
    int rc = 0;
    for (int i = 0; i < PQntuples(tr) && rc == 0; i++) {
        const char *t = PQgetvalue(tr, i, 0);
        char *mem = NULL;
        size_t memlen = 0, b = 0;
        snprintf(sql, sizeof sql, "COPY %s.%s TO STDOUT", schema, t);
        long n = copy_out(c, sql, &mem, &memlen, &b);
        if (n < 0) {
            free(mem);
            rc = 1;
            break;
        }
        char dst[160];
        snprintf(dst, sizeof dst, "oss_bench.rm_%s", t);
        snprintf(sql, sizeof sql,
                 "DROP TABLE IF EXISTS %s; CREATE TABLE %s (LIKE %s.%s "
                 "INCLUDING ALL)",
                 dst, dst, schema, t);
        bench_exec(c, sql, 0);
        int64_t t1 = bench_now_us();
        if (n > 0 && copy_in(c, dst, mem, memlen))
            rc = 1;
        in_s += (double)(bench_now_us() - t1) / 1e6;
        rows += n;
        free(mem);
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", dst);
        bench_exec(c, sql, 1);
    }
    PQclear(tr);
    PQfinish(c);
    if (rc)
        return 1;
    double el = out_s + in_s;
    printf("RESULT op=rmcopy events=%ld rm_rows=%ld out_seconds=%.3f "
           "in_seconds=%.3f seconds=%.3f rate=%.1f\n",
           events, rows, out_s, in_s, el, el > 0 ? (double)events / el : 0);
    return events > 0 ? 0 : 1;
}
