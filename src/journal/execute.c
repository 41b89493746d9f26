/* The journal's write path: oss_journal_execute(), a group commit of N
 * commands in one READ COMMITTED transaction, sent in libpq pipeline mode
 * (two round trips when nothing fails).
 *
 * Order inside the transaction (README.md says why):
 *   1. BEGIN; SELECT every stream the batch decides on and every idempotency
 *      key it carries (one pipeline). No write happens before this: the
 *      transaction id is assigned at the first write, so every stream
 *      version we write gets a transaction id later than that of the
 *      versions we read.
 *   2. per command, in batch order: idempotency check (against what step 1
 *      read and what earlier commands of the batch wrote), expected version,
 *      decide() against the folded history (including the events of earlier
 *      commands of the batch), then queue SAVEPOINT c; INSERT its events, its
 *      identity claims, its idempotency row; RELEASE SAVEPOINT c.
 *   3. queue COMMIT; sync and read the results in order. After a commit
 *      that appended anything, one pg_notify('oss_journal') in its own
 *      transaction (notify_after_commit() says why).
 * When a statement of command f fails (unique violation), the pipeline skips
 * everything after it, COMMIT included: we roll back to f's savepoint, settle
 * f (conflict, duplicate, or replay), and plan again from command f + 1 on
 * the history as confirmed (decide() is pure, so deciding again is safe).
 * Serialization failures and deadlocks retry the whole transaction; a
 * connection lost before COMMIT was sent is re-established and the
 * transaction run again once; a connection lost after, or a failed COMMIT,
 * is OSS_EUNAVAIL (the outcome is unknown: callers retry with their
 * idempotency key).
 *
 * The above (one savepoint per command) is the careful path. A batch is
 * first tried on the batched path: same decisions, no savepoints, one
 * INSERT for all the batch's events, one for its claims, the extra
 * statements, one for its idempotency rows (send_batch()); a unique
 * violation there rolls it back and runs it again on the careful path on
 * the same reads. A batch whose every command wants a new stream and has no
 * idempotency key reads nothing (one round trip). Statements are prepared
 * once per connection (send_sql()). README.md says why each is safe. */
#include "core/buf.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "journal/journal_int.h"
#include "journal/row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

#ifndef OSS_VERSION
#define OSS_VERSION "oss/unknown"
#endif

#define MAX_TXN_ATTEMPTS 5
#define MAX_PARAMS 20

/* Attempt results. ATT_LOST: the connection broke before COMMIT was sent,
 * nothing took effect. ATT_CAREFUL: the batched attempt hit a unique
 * violation and rolled back; run it again one savepoint per command. */
enum { ATT_OK, ATT_RETRY, ATT_LOST, ATT_FAIL, ATT_CAREFUL };

/* ---- statement parameters ---------------------------------------------- */

typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
} params_t;

static void
p_text(params_t *p, const char *s) {
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void
p_i64(params_t *p, int64_t x) {
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p_text(p, p->num[p->n]);
}

static void
p_bin(params_t *p, const void *b, size_t n) {
    p->v[p->n] = b ? (const char *)b : "";
    p->len[p->n] = (int)n;
    p->fmt[p->n++] = 1;
}

/* ---- array literals (the batched path's unnest() parameters) ------------ */

/* Appends one array element: NULL when s is NULL, else s double-quoted with
 * '"' and '\\' escaped. Failures are the buffer's (sticky, arr_end()). */
static void
arr_text(oss_buf_t *b, const char *s) {
    oss_buf_appendc(b, b->len ? ',' : '{');
    if (!s) {
        oss_buf_appends(b, "NULL");
        return;
    }
    oss_buf_reserve(b, strlen(s) + 2); /* one growth, escapes aside */
    oss_buf_appendc(b, '"');
    while (*s) {
        size_t k = strcspn(s, "\"\\");
        oss_buf_append(b, s, k);
        s += k;
        if (*s) {
            oss_buf_appendc(b, '\\');
            oss_buf_appendc(b, *s++);
        }
    }
    oss_buf_appendc(b, '"');
}

static void
arr_i64(oss_buf_t *b, int64_t x) {
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)x);
    arr_text(b, num);
}

/* bytes as hex text (decode(x, 'hex') in SQL), a chunk at a time */
static void
arr_hex(oss_buf_t *b, const uint8_t *bytes, size_t n) {
    char h[2 * 64 + 1];
    oss_buf_appendc(b, b->len ? ',' : '{');
    oss_buf_reserve(b, 2 * n + 2);
    oss_buf_appendc(b, '"');
    for (size_t i = 0; i < n; i += 64) {
        size_t k = n - i < 64 ? n - i : 64;
        oss_hex_encode(bytes + i, k, h);
        oss_buf_append(b, h, 2 * k);
    }
    oss_buf_appendc(b, '"');
}

/* Closes the array ("{}" when empty); returns its text or NULL (oom). */
static const char *
arr_end(oss_buf_t *b) {
    if (!b->len)
        oss_buf_appendc(b, '{');
    oss_buf_appendc(b, '}');
    return oss_buf_ok(b) ? oss_buf_str(b) : NULL;
}

/* An extra statement of the batched path, held until the events and claims
 * of the whole batch are queued (values copied, as libpq would). */
typedef struct xstmt {
    char *sql;
    int n;
    char **v;
    int *len, *fmt;
    size_t cmd, sub;
} xstmt_t;

static void
xstmt_free(xstmt_t *x) {
    for (int i = 0; i < x->n; i++)
        free(x->v[i]);
    free(x->v);
    free(x->len);
    free(x->fmt);
    free(x->sql);
}

/* ---- per-transaction state --------------------------------------------- */

typedef struct stream_st {
    const char *id;        /* borrowed from a command */
    oss_event_list_t hist; /* as read, plus this batch's appended events */
    size_t base_len;       /* events read from the database */
    int stale;             /* a concurrent transaction appended to it */
} stream_st_t;

typedef struct idem {
    const char *key; /* borrowed from a command */
    uint8_t request_hash[32];
    int64_t first_version, last_version;
    int status;
    char *response; /* owned */
    long owner;     /* command that wrote it in this batch; -1 = read */
} idem_t;

/* What one queued pipeline statement was, to read its result. */
enum {
    L_BEGIN,
    L_STREAMS,
    L_IDEM_READ,
    L_IDEM_LOCK,
    L_SAVEPOINT,
    L_EVENT,
    L_CLAIM,
    L_IDEM,
    L_EXTRA,
    L_RELEASE,
    L_NOTIFY,
    L_COMMIT,
    L_EVENTS, /* batched path: every event of the batch, one INSERT */
    L_CLAIMS, /* batched path: every claim */
    L_IDEMS,  /* batched path: every idempotency row */
    L_PREPARE /* a statement prepared for this connection (sub = slot) */
};

typedef struct lent {
    int kind;
    size_t cmd, sub;
} lent_t;

typedef struct tx {
    oss_journal_t *j;
    oss_command_t *cmds;
    size_t n;
    stream_st_t *streams;
    size_t nstreams;
    idem_t *idem;
    size_t nidem;
    lent_t *log;
    size_t nlog, caplog;
    int64_t now_us;
    int careful;    /* 1: one savepoint per command (after a violation) */
    int have_reads; /* streams and keys as read by the batched attempt */
    int blind;      /* this attempt read nothing (every stream new) */
    xstmt_t *xs;    /* batched path: extra statements held back */
    size_t nxs, capxs;
} tx_t;

static stream_st_t *
find_stream(tx_t *t, const char *id) {
    for (size_t i = 0; i < t->nstreams; i++)
        if (strcmp(t->streams[i].id, id) == 0)
            return &t->streams[i];
    return NULL;
}

static idem_t *
find_idem(tx_t *t, const char *key) {
    for (size_t i = 0; i < t->nidem; i++)
        if (strcmp(t->idem[i].key, key) == 0)
            return &t->idem[i];
    return NULL;
}

/* Drops the idempotency entries written by commands >= from (they are
 * appended in command order). */
static void
idem_truncate(tx_t *t, long from) {
    while (t->nidem && t->idem[t->nidem - 1].owner >= from) {
        free(t->idem[t->nidem - 1].response);
        t->nidem--;
    }
}

static void
xs_reset(tx_t *t) {
    for (size_t i = 0; i < t->nxs; i++)
        xstmt_free(&t->xs[i]);
    t->nxs = 0;
}

static void
tx_reset(tx_t *t) {
    xs_reset(t);
    t->have_reads = 0;
    for (size_t i = 0; i < t->nstreams; i++)
        oss_event_list_free(&t->streams[i].hist);
    for (size_t i = 0; i < t->nidem; i++)
        free(t->idem[i].response);
    t->nstreams = 0;
    t->nidem = 0;
    t->nlog = 0;
}

static void
cmd_reset(oss_command_t *c) {
    oss_event_list_free(&c->events);
    free(c->replay_response);
    c->replay_response = NULL;
    c->replay_status = 0;
    c->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&c->err);
    c->first_version = c->last_version = 0;
}

/* Back to what the batched attempt read: the streams' histories as read,
 * the idempotency keys as read; nothing of the batch. */
static void
keep_reads(tx_t *t) {
    xs_reset(t);
    for (size_t s = 0; s < t->nstreams; s++) {
        stream_st_t *st = &t->streams[s];
        for (size_t e = st->base_len; e < st->hist.len; e++)
            oss_event_clear(&st->hist.items[e]);
        st->hist.len = st->base_len;
        st->stale = 0;
    }
    idem_truncate(t, 0);
    t->nlog = 0;
}

/* ---- statements -------------------------------------------------------- */

/* Runs sql with p (may be NULL) outside pipeline mode. Returns the result
 * when its status is `want`; otherwise NULL with the failed result in
 * *failed (caller clears). */
static PGresult *
run(tx_t *t, const char *sql, const params_t *p, ExecStatusType want,
    PGresult **failed) {
    PGresult *r;
    if (p)
        r = PQexecParams(t->j->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0);
    else
        r = PQexec(t->j->conn, sql);
    if (r && PQresultStatus(r) == want)
        return r;
    *failed = r;
    return NULL;
}

static int
log_push(tx_t *t, int kind, size_t cmd, size_t sub) {
    if (t->nlog == t->caplog) {
        size_t cap = t->caplog ? 2 * t->caplog : 64;
        lent_t *l = realloc(t->log, cap * sizeof *l);
        if (!l)
            return -1;
        t->log = l;
        t->caplog = cap;
    }
    t->log[t->nlog++] = (lent_t){kind, cmd, sub};
    return 0;
}

/* ---- prepared statements ------------------------------------------------
 * Every statement of the write path (the journal's and the extra_fn ones)
 * is prepared once per connection, by its text: the server then parses and
 * plans it once, not once per batch. A slot is ready only when the server
 * confirmed the prepare (its L_PREPARE result); a prepare skipped by an
 * aborted pipeline is forgotten (drop_pending()) and its name never
 * reused. A new connection starts with none (journal_reconnect(), conn.c). */

/* Forgets prepares the server did not confirm. */
static void
drop_pending(oss_journal_t *j) {
    for (int i = 0; i < JOURNAL_PS_MAX; i++)
        if (j->ps[i].sql && !j->ps[i].ready) {
            free(j->ps[i].sql);
            j->ps[i].sql = NULL;
        }
}

/* Queues one statement (prepared when there is room) and logs it. 0, or -1
 * when it could not be queued. */
static int
send_sql(tx_t *t, const char *sql, int n, const char *const *v, const int *len,
         const int *fmt, int kind, size_t cmd, size_t sub) {
    oss_journal_t *j = t->j;
    int slot = -1, free_slot = -1;
    char name[32];
    for (int i = 0; i < JOURNAL_PS_MAX; i++) {
        if (!j->ps[i].sql) {
            if (free_slot < 0)
                free_slot = i;
        } else if (strcmp(j->ps[i].sql, sql) == 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0 && free_slot >= 0 && (j->ps[free_slot].sql = strdup(sql))) {
        slot = free_slot;
        j->ps[slot].ready = 0;
        j->ps[slot].id = ++j->ps_next;
        snprintf(name, sizeof name, "oss_journal_%u", j->ps[slot].id);
        if (log_push(t, L_PREPARE, 0, (size_t)slot) ||
            !PQsendPrepare(j->conn, name, sql, n, NULL))
            return -1;
    }
    if (log_push(t, kind, cmd, sub))
        return -1;
    /* journal rows come back in binary, as the row decoder reads them */
    int binary = kind == L_STREAMS;
    if (slot < 0)
        return PQsendQueryParams(j->conn, sql, n, NULL, v, len, fmt, binary)
                   ? 0
                   : -1;
    snprintf(name, sizeof name, "oss_journal_%u", j->ps[slot].id);
    return PQsendQueryPrepared(j->conn, name, n, v, len, fmt, binary) ? 0 : -1;
}

/* Marks a prepare confirmed (its result came back OK). */
static void
prepared(tx_t *t, const lent_t *le) {
    if (le->kind == L_PREPARE && le->sub < JOURNAL_PS_MAX &&
        t->j->ps[le->sub].sql)
        t->j->ps[le->sub].ready = 1;
}

/* Queues sql in the pipeline and logs what it is. 0, or -1 when it could
 * not be queued (connection broken, out of memory). */
static int
send_q(tx_t *t, const char *sql, const params_t *p, int kind, size_t cmd,
       size_t sub) {
    return send_sql(t, sql, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                    p ? p->fmt : NULL, kind, cmd, sub);
}

/* The result of the next queued statement (NULL when the connection broke);
 * consumes the NULL that ends it. */
static PGresult *
next_result(PGconn *c) {
    PGresult *r = PQgetResult(c);
    if (!r || PQresultStatus(r) == PGRES_PIPELINE_SYNC)
        return r;
    PGresult *x;
    while ((x = PQgetResult(c)) != NULL)
        PQclear(x); /* not expected: one result per statement */
    return r;
}

/* Reads up to and including the pipeline's sync. 0, or -1 when the
 * connection broke. */
static int
read_sync(PGconn *c) {
    for (int guard = 0; guard < 1000000; guard++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) == CONNECTION_BAD)
                return -1;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            return 0;
        if (PQstatus(c) == CONNECTION_BAD)
            return -1;
    }
    return -1;
}

/* Classifies a failure that ends the attempt and clears r. */
static int
attempt_failed(tx_t *t, PGresult *r, const char *what, oss_err_t *err) {
    int a;
    if (oss_db_conn_lost(t->j->conn, r))
        a = ATT_LOST;
    else if (oss_db_retry_txn(r))
        a = ATT_RETRY;
    else
        a = ATT_FAIL;
    oss_db_error(t->j->conn, r, what, err);
    PQclear(r);
    return a;
}

static int
is_unique_violation(const PGresult *r) {
    return strcmp(oss_db_sqlstate(r), "23505") == 0;
}

static int
oom(oss_err_t *err) {
    oss_err_set(err, OSS_ENOMEM, "could not append: out of memory");
    return ATT_FAIL;
}

/* ---- step 1: reads ----------------------------------------------------- */

static const char *const select_streams_sql =
    "SELECT " JOURNAL_ROW_COLS " FROM oss.journal"
    " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, version";

static const char *const select_idem_sql =
    "SELECT key, request_hash, first_version, last_version, status, response"
    " FROM oss.idempotency WHERE key = ANY($1::text[])";

/* Each idempotency key of the batch, locked for the transaction before the
 * reads (an advisory lock takes no transaction id): a retry whose first
 * attempt is still in flight waits for it, then reads its row and answers
 * from it. Keys are locked in byte order, so two batches sharing keys
 * cannot wait on each other (a hash collision that still deadlocks is
 * retried as a deadlock). Lock class 7304 (7302, 7303: the projector). */
static const char *const lock_idem_sql =
    "SELECT pg_advisory_xact_lock(7304, hashtext(k))"
    " FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n";

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
rows_to_streams(tx_t *t, const PGresult *r, oss_err_t *err) {
    stream_st_t *cur = NULL;
    for (int i = 0, nr = PQntuples(r); i < nr; i++) {
        oss_journal_row_t row;
        const char *bad = journal_row_decode(r, i, &row);
        if (bad) {
            oss_err_set(err, OSS_ECORRUPT, "journal row at position %lld: %s",
                        (long long)row.ev.position, bad);
            return ATT_FAIL;
        }
        const char *sid = row.ev.stream_id;
        if (!cur || strcmp(cur->id, sid) != 0)
            cur = find_stream(t, sid);
        if (!cur)
            continue; /* cannot happen: ANY() matched one of ours */
        oss_event_t *ev = oss_event_list_push(&cur->hist);
        if (!ev)
            return oom(err);
        if (oss_event_copy(ev, &row.ev, err)) {
            cur->hist.len--;
            return ATT_FAIL;
        }
    }
    for (size_t s = 0; s < t->nstreams; s++)
        t->streams[s].base_len = t->streams[s].hist.len;
    return ATT_OK;
}

/* Fills *e from a row (request_hash, first, last, status, response starting
 * at column col) of r. */
static int
idem_from_row(const PGresult *r, int row, int col, idem_t *e) {
    size_t n = 0;
    unsigned char *h =
        PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (!h)
        return -1;
    memset(e->request_hash, 0, sizeof e->request_hash);
    memcpy(e->request_hash, h, n < 32 ? n : 32);
    PQfreemem(h);
    e->first_version = strtoll(PQgetvalue(r, row, col + 1), NULL, 10);
    e->last_version = strtoll(PQgetvalue(r, row, col + 2), NULL, 10);
    e->status = atoi(PQgetvalue(r, row, col + 3));
    e->response = strdup(PQgetvalue(r, row, col + 4));
    return e->response ? 0 : -1;
}

static int
rows_to_idem(tx_t *t, const PGresult *r, oss_err_t *err) {
    for (int i = 0, nr = PQntuples(r); i < nr; i++) {
        const char *k = PQgetvalue(r, i, 0);
        for (size_t c = 0; c < t->n; c++) {
            const char *key = t->cmds[c].idempotency_key;
            if (!key || strcmp(key, k) != 0)
                continue;
            if (find_idem(t, key))
                break;
            idem_t *e = &t->idem[t->nidem];
            memset(e, 0, sizeof *e);
            e->key = key;
            e->owner = -1;
            if (idem_from_row(r, i, 1, e)) {
                free(e->response);
                return oom(err);
            }
            t->nidem++;
            break;
        }
    }
    return ATT_OK;
}

/* BEGIN and the reads, in one pipeline; with query 0 only the streams'
 * list, every one empty (nothing is sent). */
static int
read_phase(tx_t *t, int query, oss_err_t *err) {
    const char **ids = calloc(t->n + 1, sizeof *ids);
    const char **keys = calloc(t->n + 1, sizeof *keys);
    char *ids_arr = NULL, *keys_arr = NULL;
    size_t nk = 0;
    int a = ATT_OK;
    PGresult *bad = NULL;
    PGconn *c = t->j->conn;

    if (!ids || !keys) {
        a = oom(err);
        goto done;
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *id = t->cmds[i].stream_id;
        if (id && !find_stream(t, id)) {
            stream_st_t *s = &t->streams[t->nstreams];
            memset(s, 0, sizeof *s);
            s->id = id;
            ids[t->nstreams++] = id;
        }
        const char *k = t->cmds[i].idempotency_key;
        if (k && *k)
            keys[nk++] = k;
    }
    if (!query)
        goto done;
    qsort(keys, nk, sizeof *keys, cmp_str);
    if (!(ids_arr = oss_db_text_array(ids, t->nstreams)) ||
        !(keys_arr = oss_db_text_array(keys, nk))) {
        a = oom(err);
        goto done;
    }
    params_t ps = {0}, pk = {0};
    p_text(&ps, ids_arr);
    p_text(&pk, keys_arr);
    t->nlog = 0;
    if (!PQenterPipelineMode(c) ||
        send_q(t, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, L_BEGIN, 0,
               0) ||
        (nk && !t->j->no_key_lock &&
         send_q(t, lock_idem_sql, &pk, L_IDEM_LOCK, 0, 0)) ||
        (t->nstreams && send_q(t, select_streams_sql, &ps, L_STREAMS, 0, 0)) ||
        (nk && send_q(t, select_idem_sql, &pk, L_IDEM_READ, 0, 0)) ||
        !PQpipelineSync(c)) {
        oss_db_error(c, NULL, "read streams", err);
        a = ATT_LOST;
        goto done;
    }
    for (size_t i = 0; i < t->nlog; i++) {
        PGresult *r = next_result(c);
        if (!r) {
            oss_db_error(c, NULL, "read streams", err);
            a = ATT_LOST;
            goto done;
        }
        ExecStatusType st = PQresultStatus(r);
        if (bad || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
            if (!bad && st != PGRES_PIPELINE_ABORTED)
                bad = r;
            else
                PQclear(r);
            continue;
        }
        prepared(t, &t->log[i]);
        if (a == ATT_OK && t->log[i].kind == L_STREAMS)
            a = rows_to_streams(t, r, err);
        else if (a == ATT_OK && t->log[i].kind == L_IDEM_READ)
            a = rows_to_idem(t, r, err);
        PQclear(r);
    }
    if (read_sync(c) || !PQexitPipelineMode(c)) {
        PQclear(bad);
        bad = NULL;
        oss_db_error(c, NULL, "read streams", err);
        a = ATT_LOST;
        goto done;
    }
    if (bad)
        a = attempt_failed(t, bad, "read streams", err);
done:
    free(ids);
    free(keys);
    free(ids_arr);
    free(keys_arr);
    return a;
}

/* Re-reads one key after our INSERT lost a race for it (READ COMMITTED: the
 * statement sees the row the other transaction committed). *found = 0 when
 * there is none. Outside pipeline mode. */
static int
reread_idempotency(tx_t *t, const char *key, idem_t *e, int *found,
                   oss_err_t *err) {
    PGresult *r, *bad = NULL;
    params_t p = {0};
    p_text(&p, key);
    *found = 0;
    if (!(r = run(t,
                  "SELECT request_hash, first_version, last_version, status,"
                  " response FROM oss.idempotency WHERE key = $1",
                  &p, PGRES_TUPLES_OK, &bad)))
        return attempt_failed(t, bad, "read idempotency key", err);
    if (PQntuples(r) == 1) {
        memset(e, 0, sizeof *e);
        e->key = key;
        if (idem_from_row(r, 0, 0, e)) {
            PQclear(r);
            return oom(err);
        }
        *found = 1;
    }
    PQclear(r);
    return ATT_OK;
}

/* ---- step 2: one command ----------------------------------------------- */

static void
reject(oss_command_t *c, const oss_err_t *e) {
    oss_event_list_free(&c->events);
    c->outcome = OSS_JOURNAL_REJECTED;
    c->err = *e;
    c->first_version = c->last_version = 0;
}

/* Applies a remembered result: REPLAYED when the request hash matches,
 * REJECTED OSS_EDUPLICATE otherwise. */
static int
apply_idem(oss_command_t *c, const idem_t *e, oss_err_t *err) {
    oss_err_t er;
    if (!c->request_hash || memcmp(c->request_hash, e->request_hash, 32) != 0) {
        oss_err_field(&er, OSS_EDUPLICATE, "Idempotency-Key",
                      "idempotency key reused with a different request");
        reject(c, &er);
        return ATT_OK;
    }
    oss_event_list_free(&c->events);
    oss_err_clear(&c->err);
    c->outcome = OSS_JOURNAL_REPLAYED;
    c->first_version = e->first_version;
    c->last_version = e->last_version;
    c->replay_status = e->status;
    free(c->replay_response);
    if (!(c->replay_response = strdup(e->response ? e->response : "")))
        return oom(err);
    return ATT_OK;
}

static int
fits(const char *s, size_t cap) {
    return !s || strlen(s) < cap;
}

static void
fill_event(tx_t *t, const oss_command_t *c, oss_event_t *ev, int64_t version,
           const uint8_t prev[OSS_HASH_LEN]) {
    char id[OSS_UUID_STR];
    oss_uuid7(id);
    for (char *q = id; *q; q++)
        if (*q >= 'A' && *q <= 'F')
            *q = (char)(*q - 'A' + 'a'); /* PostgreSQL prints uuids so */
    memcpy(ev->event_id, id, sizeof id);
    snprintf(ev->stream_id, sizeof ev->stream_id, "%s", c->stream_id);
    snprintf(ev->stream_type, sizeof ev->stream_type, "%s", c->stream_type);
    ev->version = version;
    ev->position = 0;
    ev->recorded_at_us = t->now_us;
    if (ev->occurred_at_us == 0)
        ev->occurred_at_us = t->now_us;
    ev->actor_kind = c->actor_kind;
    snprintf(ev->actor_id, sizeof ev->actor_id, "%s",
             c->actor_id ? c->actor_id : "");
    snprintf(ev->correlation_id, sizeof ev->correlation_id, "%s",
             c->correlation_id ? c->correlation_id : "");
    snprintf(ev->causation_id, sizeof ev->causation_id, "%s",
             c->causation_id ? c->causation_id : "");
    snprintf(ev->cause_id, sizeof ev->cause_id, "%s",
             c->cause_id ? c->cause_id : "");
    if (!ev->software_version[0])
        snprintf(ev->software_version, sizeof ev->software_version, "%s",
                 OSS_VERSION);
    memcpy(ev->prev_hash, prev, OSS_HASH_LEN);
    oss_journal_hash(ev);
}

static const char insert_event_sql[] =
    "INSERT INTO oss.journal (event_id, stream_id, stream_type, version,"
    " occurred_at, recorded_at, actor_kind, actor_id, correlation_id,"
    " causation_id, cause_id, reason, software_version, payload_type,"
    " schema_version, payload, prev_hash, hash) VALUES ($1::uuid, $2, $3,"
    " $4::bigint,"
    " to_timestamp(0) + ($5::bigint / 1000000) * interval '1 second'"
    "   + ($5::bigint % 1000000) * interval '1 microsecond',"
    " to_timestamp(0) + ($6::bigint / 1000000) * interval '1 second'"
    "   + ($6::bigint % 1000000) * interval '1 microsecond',"
    " $7::smallint, $8, $9, $10, $11, $12, $13, $14, $15::integer,"
    " $16::bytea, $17::bytea, $18::bytea) RETURNING position";

static const char insert_claim_sql[] =
    "INSERT INTO oss.identity_claims (kind, digest, stream_id, subject_id)"
    " VALUES ($1, $2::bytea, $3, NULLIF($4, '')::uuid)";

static const char insert_idem_sql[] =
    "INSERT INTO oss.idempotency (key, request_hash, stream_id,"
    " first_version, last_version, status, response) VALUES ($1, $2::bytea,"
    " $3, $4::bigint, $5::bigint, $6::integer, $7)";

static int
queue_event(tx_t *t, const oss_event_t *ev, size_t cmd, size_t sub) {
    params_t p = {0};
    p_text(&p, ev->event_id);
    p_text(&p, ev->stream_id);
    p_text(&p, ev->stream_type);
    p_i64(&p, ev->version);
    p_i64(&p, ev->occurred_at_us);
    p_i64(&p, ev->recorded_at_us);
    p_i64(&p, (int64_t)ev->actor_kind);
    p_text(&p, ev->actor_id);
    p_text(&p, ev->correlation_id);
    p_text(&p, ev->causation_id);
    p_text(&p, ev->cause_id);
    p_text(&p, ev->reason); /* NULL -> SQL NULL */
    p_text(&p, ev->software_version);
    p_text(&p, ev->payload_type);
    p_i64(&p, (int64_t)ev->schema_version);
    p_bin(&p, ev->payload, ev->payload_len);
    p_bin(&p, ev->prev_hash, OSS_HASH_LEN);
    p_bin(&p, ev->hash, OSS_HASH_LEN);
    return send_q(t, insert_event_sql, &p, L_EVENT, cmd, sub);
}

/* The queue function handed to a command's extra_fn. */
typedef struct extra_q {
    tx_t *t;
    size_t cmd, sub;
} extra_q_t;

static int
queue_extra(void *qctx, const char *sql, int nparams, const char *const *values,
            const int *lengths, const int *formats) {
    extra_q_t *q = qctx;
    return send_sql(q->t, sql, nparams, values, lengths, formats, L_EXTRA,
                    q->cmd, q->sub++);
}

/* The queue function handed to extra_fn on the batched path: copies the
 * statement, sent after the batch's events and claims (send_held()). */
static int
hold_extra(void *qctx, const char *sql, int nparams, const char *const *values,
           const int *lengths, const int *formats) {
    extra_q_t *q = qctx;
    tx_t *t = q->t;
    if (nparams < 0)
        return -1;
    if (t->nxs == t->capxs) {
        size_t cap = t->capxs ? 2 * t->capxs : 32;
        xstmt_t *x = realloc(t->xs, cap * sizeof *x);
        if (!x)
            return -1;
        t->xs = x;
        t->capxs = cap;
    }
    xstmt_t *x = &t->xs[t->nxs];
    memset(x, 0, sizeof *x);
    x->cmd = q->cmd;
    x->sub = q->sub++;
    if (!(x->sql = strdup(sql)))
        return -1;
    size_t np = nparams ? (size_t)nparams : 1;
    x->v = calloc(np, sizeof *x->v);
    x->len = calloc(np, sizeof *x->len);
    x->fmt = calloc(np, sizeof *x->fmt);
    if (!x->v || !x->len || !x->fmt) {
        xstmt_free(x);
        return -1;
    }
    for (int i = 0; i < nparams; i++) {
        int bin = formats && formats[i] == 1;
        x->fmt[i] = bin;
        x->n = i + 1;
        if (!values || !values[i])
            continue; /* SQL NULL */
        size_t n = bin ? (size_t)(lengths ? lengths[i] : 0) : strlen(values[i]);
        if (!(x->v[i] = malloc(n + 1))) {
            xstmt_free(x);
            return -1;
        }
        memcpy(x->v[i], values[i], n);
        x->v[i][n] = '\0';
        x->len[i] = (int)n;
    }
    x->n = nparams;
    t->nxs++;
    return 0;
}

/* Plans command i against the history as it stands and, when it has
 * something to write, queues its statements (its outcome is then APPENDED,
 * pending confirmation). Returns ATT_OK or what ends the attempt. */
static int
plan_command(tx_t *t, size_t i, oss_err_t *err) {
    oss_command_t *c = &t->cmds[i];
    oss_err_t ce;
    oss_event_list_t evs = {0};
    char *response = NULL;
    int a = ATT_OK;
    const char *key =
        c->idempotency_key && c->idempotency_key[0] ? c->idempotency_key : NULL;

    oss_err_clear(&ce);
    if (!c->stream_id || !c->stream_id[0] || !fits(c->stream_id, OSS_ID_MAX) ||
        !c->stream_type || !fits(c->stream_type, 32) ||
        !fits(c->actor_id, OSS_ID_MAX) ||
        !fits(c->correlation_id, OSS_ID_MAX) ||
        !fits(c->causation_id, OSS_ID_MAX) || !fits(c->cause_id, OSS_ID_MAX) ||
        !c->decide || (key && !c->request_hash)) {
        oss_err_set(&ce, OSS_EINVAL,
                    "could not append: malformed command (missing or "
                    "over-long stream id, type, actor or ids)");
        reject(c, &ce);
        goto done;
    }

    /* idempotency: a key already used answers from memory */
    if (key) {
        idem_t *e = find_idem(t, key);
        if (e) {
            a = apply_idem(c, e, err);
            goto done;
        }
    }

    stream_st_t *st = find_stream(t, c->stream_id);
    if (st->stale) {
        oss_err_set(&ce, OSS_ECONFLICT,
                    "could not append to stream \"%s\": a concurrent "
                    "transaction appended to it",
                    c->stream_id);
        reject(c, &ce);
        goto done;
    }
    int64_t cur = st->hist.len ? st->hist.items[st->hist.len - 1].version : 0;
    if ((c->expected_version == 0 && cur != 0) ||
        (c->expected_version > 0 && cur != c->expected_version)) {
        oss_err_set(&ce, OSS_ECONFLICT,
                    "could not append to stream \"%s\": expected version "
                    "%lld, found %lld",
                    c->stream_id, (long long)c->expected_version,
                    (long long)cur);
        reject(c, &ce);
        goto done;
    }

    /* decide against the folded history */
    oss_code_t dc = c->decide(c->ctx, st->hist.items, st->hist.len, &evs, &ce);
    if (dc != OSS_OK) {
        if (ce.code == OSS_OK)
            oss_err_set(&ce, dc, "command rejected: %s", oss_code_name(dc));
        reject(c, &ce);
        goto done;
    }
    static const uint8_t zero[OSS_HASH_LEN];
    const uint8_t *prev =
        st->hist.len ? st->hist.items[st->hist.len - 1].hash : zero;
    for (size_t e = 0; e < evs.len; e++) {
        fill_event(t, c, &evs.items[e], cur + 1 + (int64_t)e, prev);
        prev = evs.items[e].hash;
    }

    /* the outputs, before response_fn (it may read versions and events;
     * positions are not known yet) */
    oss_event_list_free(&c->events);
    c->events = evs;
    memset(&evs, 0, sizeof evs);
    c->first_version = cur + 1;
    c->last_version = cur + (int64_t)c->events.len;
    c->outcome = OSS_JOURNAL_APPENDED;
    oss_err_clear(&c->err);

    /* queue: events, claims, idempotency row, in one savepoint (batched
     * path: nothing yet, send_batch() queues the whole batch's rows; the
     * extra statements are held back until then) */
    if (t->careful && send_q(t, "SAVEPOINT c", NULL, L_SAVEPOINT, i, 0))
        goto lost;
    for (size_t e = 0; t->careful && e < c->events.len; e++)
        if (queue_event(t, &c->events.items[e], i, e))
            goto lost;
    for (size_t k = 0; t->careful && k < c->nclaims; k++) {
        const oss_claim_t *cl = &c->claims[k];
        params_t p = {0};
        p_text(&p, cl->kind);
        p_bin(&p, cl->digest, sizeof cl->digest);
        p_text(&p, c->stream_id);
        p_text(&p, cl->subject_id);
        if (send_q(t, insert_claim_sql, &p, L_CLAIM, i, k))
            goto lost;
    }
    if (c->extra_fn) {
        extra_q_t q = {t, i, 0};
        oss_err_t xe;
        oss_err_clear(&xe);
        if (c->extra_fn(c->ctx, c, t->careful ? queue_extra : hold_extra, &q,
                        &xe) != OSS_OK) {
            if (PQstatus(t->j->conn) == CONNECTION_BAD)
                goto lost;
            *err = xe;
            if (err->code == OSS_OK)
                oss_err_set(err, OSS_EINTERNAL,
                            "could not append: extra statements failed");
            a = ATT_FAIL;
            goto done;
        }
    }
    if (key) {
        response = c->response_fn ? c->response_fn(c->ctx, c) : NULL;
        params_t p = {0};
        p_text(&p, key);
        p_bin(&p, c->request_hash, 32);
        p_text(&p, c->stream_id);
        p_i64(&p, c->first_version);
        p_i64(&p, c->last_version);
        p_i64(&p, c->response_status);
        p_text(&p, response ? response : "");
        if (t->careful && send_q(t, insert_idem_sql, &p, L_IDEM, i, 0))
            goto lost;
        idem_t *e = &t->idem[t->nidem];
        memset(e, 0, sizeof *e);
        e->key = key;
        e->owner = (long)i;
        memcpy(e->request_hash, c->request_hash, 32);
        e->first_version = c->first_version;
        e->last_version = c->last_version;
        e->status = c->response_status;
        if (!(e->response = strdup(response ? response : ""))) {
            a = oom(err);
            goto done;
        }
        t->nidem++;
    }
    if (t->careful) {
        if (send_q(t, "RELEASE SAVEPOINT c", NULL, L_RELEASE, i, 0))
            goto lost;
        /* ship it now: the server runs it while we decide the next one */
        if (PQflush(t->j->conn) < 0)
            goto lost;
    }

    /* later commands of the batch see these events */
    for (size_t e = 0; e < c->events.len; e++) {
        oss_event_t *h = oss_event_list_push(&st->hist);
        if (!h || oss_event_copy(h, &c->events.items[e], err)) {
            if (h)
                st->hist.len--;
            a = oom(err);
            goto done;
        }
    }
    goto done;
lost:
    oss_db_error(t->j->conn, NULL, "queue append", err);
    a = ATT_LOST;
done:
    free(response);
    oss_event_list_free(&evs);
    return a;
}

static const char insert_events_sql[] =
    "INSERT INTO oss.journal (event_id, stream_id, stream_type, version,"
    " occurred_at, recorded_at, actor_kind, actor_id, correlation_id,"
    " causation_id, cause_id, reason, software_version, payload_type,"
    " schema_version, payload, prev_hash, hash)"
    " SELECT u.a1::uuid, u.a2, u.a3, u.a4,"
    " to_timestamp(0) + (u.a5 / 1000000) * interval '1 second'"
    "   + (u.a5 % 1000000) * interval '1 microsecond',"
    " to_timestamp(0) + (u.a6 / 1000000) * interval '1 second'"
    "   + (u.a6 % 1000000) * interval '1 microsecond',"
    " u.a7, u.a8, u.a9, u.a10, u.a11, u.a12, u.a13, u.a14, u.a15,"
    " decode(u.a16, 'hex'), decode(u.a17, 'hex'), decode(u.a18, 'hex')"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],"
    " $5::bigint[], $6::bigint[], $7::smallint[], $8::text[], $9::text[],"
    " $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],"
    " $15::integer[], $16::text[], $17::text[], $18::text[])"
    " WITH ORDINALITY AS u(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12,"
    " a13, a14, a15, a16, a17, a18, ord)"
    " ORDER BY u.ord RETURNING event_id, position";

static const char insert_claims_sql[] =
    "INSERT INTO oss.identity_claims (kind, digest, stream_id, subject_id)"
    " SELECT u.k, decode(u.d, 'hex'), u.s, NULLIF(u.sub, '')::uuid"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
    " AS u(k, d, s, sub)";

static const char insert_idems_sql[] =
    "INSERT INTO oss.idempotency (key, request_hash, stream_id,"
    " first_version, last_version, status, response)"
    " SELECT u.k, decode(u.h, 'hex'), u.s, u.f, u.l, u.st, u.r"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],"
    " $5::bigint[], $6::integer[], $7::text[]) AS u(k, h, s, f, l, st, r)";

/* Batched path: queues every event of the batch (one INSERT, in batch order,
 * so positions follow stream versions), every claim (one INSERT), the held
 * extra statements in command order, and every idempotency row (one
 * INSERT); no savepoints. Returns ATT_OK, ATT_LOST or ATT_FAIL (oom). */
static int
send_batch(tx_t *t, oss_err_t *err) {
    oss_buf_t ev[18], cl[4], id[7];
    size_t nev = 0, ncl = 0, nid = 0;
    int a = ATT_OK;
    memset(ev, 0, sizeof ev);
    memset(cl, 0, sizeof cl);
    memset(id, 0, sizeof id);

    for (size_t i = 0; i < t->n; i++) {
        oss_command_t *c = &t->cmds[i];
        if (c->outcome != OSS_JOURNAL_APPENDED)
            continue;
        for (size_t e = 0; e < c->events.len; e++, nev++) {
            const oss_event_t *x = &c->events.items[e];
            arr_text(&ev[0], x->event_id);
            arr_text(&ev[1], x->stream_id);
            arr_text(&ev[2], x->stream_type);
            arr_i64(&ev[3], x->version);
            arr_i64(&ev[4], x->occurred_at_us);
            arr_i64(&ev[5], x->recorded_at_us);
            arr_i64(&ev[6], (int64_t)x->actor_kind);
            arr_text(&ev[7], x->actor_id);
            arr_text(&ev[8], x->correlation_id);
            arr_text(&ev[9], x->causation_id);
            arr_text(&ev[10], x->cause_id);
            arr_text(&ev[11], x->reason); /* NULL -> SQL NULL */
            arr_text(&ev[12], x->software_version);
            arr_text(&ev[13], x->payload_type);
            arr_i64(&ev[14], (int64_t)x->schema_version);
            arr_hex(&ev[15], x->payload, x->payload_len);
            arr_hex(&ev[16], x->prev_hash, OSS_HASH_LEN);
            arr_hex(&ev[17], x->hash, OSS_HASH_LEN);
        }
        for (size_t k = 0; k < c->nclaims; k++, ncl++) {
            const oss_claim_t *x = &c->claims[k];
            arr_text(&cl[0], x->kind);
            arr_hex(&cl[1], x->digest, sizeof x->digest);
            arr_text(&cl[2], c->stream_id);
            arr_text(&cl[3], x->subject_id);
        }
    }
    for (size_t k = 0; k < t->nidem; k++) {
        const idem_t *x = &t->idem[k];
        if (x->owner < 0)
            continue;
        arr_text(&id[0], x->key);
        arr_hex(&id[1], x->request_hash, 32);
        arr_text(&id[2], t->cmds[x->owner].stream_id);
        arr_i64(&id[3], x->first_version);
        arr_i64(&id[4], x->last_version);
        arr_i64(&id[5], x->status);
        arr_text(&id[6], x->response ? x->response : "");
        nid++;
    }

    params_t p = {0};
    if (nev) {
        for (int k = 0; k < 18; k++) {
            const char *v = arr_end(&ev[k]);
            if (!v) {
                a = oom(err);
                goto done;
            }
            p_text(&p, v);
        }
        if (send_q(t, insert_events_sql, &p, L_EVENTS, 0, 0))
            goto lost;
    }
    if (ncl) {
        memset(&p, 0, sizeof p);
        for (int k = 0; k < 4; k++) {
            const char *v = arr_end(&cl[k]);
            if (!v) {
                a = oom(err);
                goto done;
            }
            p_text(&p, v);
        }
        if (send_q(t, insert_claims_sql, &p, L_CLAIMS, 0, 0))
            goto lost;
    }
    for (size_t k = 0; k < t->nxs; k++) {
        xstmt_t *x = &t->xs[k];
        if (send_sql(t, x->sql, x->n, (const char *const *)x->v, x->len, x->fmt,
                     L_EXTRA, x->cmd, x->sub))
            goto lost;
    }
    if (nid) {
        memset(&p, 0, sizeof p);
        for (int k = 0; k < 7; k++) {
            const char *v = arr_end(&id[k]);
            if (!v) {
                a = oom(err);
                goto done;
            }
            p_text(&p, v);
        }
        if (send_q(t, insert_idems_sql, &p, L_IDEMS, 0, 0))
            goto lost;
    }
    goto done;
lost:
    oss_db_error(t->j->conn, NULL, "queue append", err);
    a = ATT_LOST;
done:
    for (int k = 0; k < 18; k++)
        oss_buf_free(&ev[k]);
    for (int k = 0; k < 4; k++)
        oss_buf_free(&cl[k]);
    for (int k = 0; k < 7; k++)
        oss_buf_free(&id[k]);
    return a;
}

/* Batched path: the positions the events INSERT returned (event_id,
 * position), in batch order. */
static void
set_positions(tx_t *t, const PGresult *r) {
    int row = 0, nr = PQntuples(r);
    for (size_t i = 0; i < t->n && row < nr; i++) {
        oss_command_t *c = &t->cmds[i];
        if (c->outcome != OSS_JOURNAL_APPENDED)
            continue;
        for (size_t e = 0; e < c->events.len && row < nr; e++) {
            oss_event_t *x = &c->events.items[e];
            const char *eid = PQgetvalue(r, row, 0);
            if (strcmp(eid, x->event_id) != 0) {
                /* not in batch order (not expected): look it up */
                for (int k = 0; k < nr; k++)
                    if (strcmp(PQgetvalue(r, k, 0), x->event_id) == 0) {
                        x->position = strtoll(PQgetvalue(r, k, 1), NULL, 10);
                        break;
                    }
                row++;
                continue;
            }
            x->position = strtoll(PQgetvalue(r, row++, 1), NULL, 10);
        }
    }
}

/* After command f failed: the history and idempotency entries go back to
 * what commands before f confirmed, and the commands after f are planned
 * again. */
static int
rewind_to(tx_t *t, size_t f, oss_err_t *err) {
    for (size_t s = 0; s < t->nstreams; s++) {
        stream_st_t *st = &t->streams[s];
        for (size_t e = st->base_len; e < st->hist.len; e++)
            oss_event_clear(&st->hist.items[e]);
        st->hist.len = st->base_len;
    }
    idem_truncate(t, (long)f + 1);
    for (size_t i = 0; i < f; i++) {
        oss_command_t *c = &t->cmds[i];
        if (c->outcome != OSS_JOURNAL_APPENDED)
            continue;
        stream_st_t *st = find_stream(t, c->stream_id);
        for (size_t e = 0; e < c->events.len; e++) {
            oss_event_t *h = oss_event_list_push(&st->hist);
            if (!h || oss_event_copy(h, &c->events.items[e], err)) {
                if (h)
                    st->hist.len--;
                return oom(err);
            }
        }
    }
    for (size_t i = f + 1; i < t->n; i++)
        cmd_reset(&t->cmds[i]);
    return ATT_OK;
}

/* Settles command f whose statement (log entry le) failed with a unique
 * violation; the transaction is outside pipeline mode, in the aborted state
 * inside f's savepoint. */
static int
settle_failed(tx_t *t, const lent_t *le, oss_err_t *err) {
    oss_command_t *c = &t->cmds[le->cmd];
    const char *key =
        c->idempotency_key && c->idempotency_key[0] ? c->idempotency_key : NULL;
    PGresult *r, *bad = NULL;
    oss_err_t ce;
    int a;
    if (!(r = run(t, "ROLLBACK TO SAVEPOINT c", NULL, PGRES_COMMAND_OK, &bad)))
        return attempt_failed(t, bad, "roll back to savepoint", err);
    PQclear(r);
    if (!(r = run(t, "RELEASE SAVEPOINT c", NULL, PGRES_COMMAND_OK, &bad)))
        return attempt_failed(t, bad, "release savepoint", err);
    PQclear(r);
    /* its own idempotency entry, if queued, is void */
    idem_truncate(t, (long)le->cmd);
    if (le->kind == L_EVENT)
        find_stream(t, c->stream_id)->stale = 1;

    if (key) {
        /* maybe the same request, retried concurrently, won the race (a
         * claim or a version it took first: the one-account-per-business
         * claim of a registration retried under one key) */
        idem_t e = {0};
        int found = 0;
        if ((a = reread_idempotency(t, key, &e, &found, err)))
            return a;
        if (found) {
            a = apply_idem(c, &e, err);
            /* later commands with this key answer from it too */
            e.owner = (long)le->cmd;
            t->idem[t->nidem++] = e;
            return a;
        }
    }
    if (le->kind == L_CLAIM) {
        const oss_claim_t *cl = &c->claims[le->sub];
        oss_err_field(&ce, OSS_EDUPLICATE, cl->field ? cl->field : "",
                      "%s is already registered",
                      cl->kind ? cl->kind : "value");
        reject(c, &ce);
        return ATT_OK;
    }
    int64_t version = le->kind == L_EVENT && le->sub < c->events.len
                          ? c->events.items[le->sub].version
                          : c->first_version;
    if (le->kind == L_EVENT)
        oss_err_set(&ce, OSS_ECONFLICT,
                    "could not append to stream \"%s\": version %lld was "
                    "appended concurrently",
                    c->stream_id, (long long)version);
    else
        oss_err_set(&ce, OSS_ECONFLICT,
                    "could not append to stream \"%s\": idempotency key "
                    "used concurrently",
                    c->stream_id);
    reject(c, &ce);
    return ATT_OK;
}

/* ---- the transaction --------------------------------------------------- */

static int
attempt(tx_t *t, oss_err_t *err) {
    PGconn *c = t->j->conn;
    int a;
    size_t from = 0;
    t->now_us = oss_now_us();
    /* after a batched attempt failed on a unique violation: decide on what
     * it read (so a version race is a conflict, as it would have been with
     * savepoints). Those reads happened before this transaction's first
     * write, which is all the order argument needs (README.md). */
    drop_pending(t->j);
    int reuse = t->have_reads;
    /* A batched attempt in which every command wants a new stream
     * (expected_version 0) and none carries an idempotency key reads
     * nothing: a version 1 has no earlier version to be ordered after, and
     * UNIQUE (stream_id, version) refuses it when the stream exists (the
     * batch is then run again, reading first, one savepoint per command). */
    t->blind = !reuse && !t->careful;
    for (size_t i = 0; i < t->n && t->blind; i++)
        t->blind =
            t->cmds[i].expected_version == 0 &&
            !(t->cmds[i].idempotency_key && t->cmds[i].idempotency_key[0]);
    if (!reuse && (a = read_phase(t, !t->blind, err)))
        return a;
    if (t->blind)
        reuse = 1; /* BEGIN goes with the writes */

    for (;;) {
        /* plan and queue commands from..n, then notify and COMMIT */
        t->nlog = 0;
        drop_pending(t->j); /* prepares a failed pipeline skipped */
        if (!PQenterPipelineMode(c)) {
            oss_db_error(c, NULL, "enter pipeline mode", err);
            return ATT_LOST;
        }
        if (reuse) {
            reuse = 0;
            if (send_q(t, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, L_BEGIN,
                       0, 0)) {
                oss_db_error(c, NULL, "begin", err);
                return ATT_LOST;
            }
        }
        for (size_t i = from; i < t->n; i++)
            if ((a = plan_command(t, i, err)))
                return a;
        if (!t->careful && (a = send_batch(t, err)))
            return a;
        /* Wake the relay: one NOTIFY per group commit, queued after COMMIT
         * in a transaction of its own (the implicit one the pipeline's sync
         * ends) with synchronous_commit off. Not inside the journal
         * transaction: PostgreSQL holds a global lock on the notify queue
         * from pre-commit until the commit is flushed, so a NOTIFY there
         * serialises appending transactions behind one WAL flush each.
         * Skipped with everything else when the transaction fails; lost in
         * a crash between the two commits harmlessly (the relay polls). */
        int appended = 0;
        for (size_t i = 0; i < t->n && !appended; i++)
            appended = t->cmds[i].outcome == OSS_JOURNAL_APPENDED &&
                       t->cmds[i].events.len;
        if (send_q(t, "COMMIT", NULL, L_COMMIT, 0, 0) ||
            (appended &&
             send_q(t,
                    "SELECT set_config('synchronous_commit', 'off', true),"
                    " pg_notify('oss_journal', '')",
                    NULL, L_NOTIFY, 0, 0)) ||
            !PQpipelineSync(c)) {
            oss_db_error(c, NULL, "queue commit", err);
            return ATT_LOST;
        }

        /* From here COMMIT is on its way: a broken connection leaves the
         * outcome unknown. */
        PGresult *bad = NULL;
        const lent_t *failed = NULL;
        int committed = 0;
        for (size_t l = 0; l < t->nlog; l++) {
            PGresult *r = next_result(c);
            if (!r) {
                PQclear(bad);
                oss_db_error(c, NULL, "append", err);
                err->code = OSS_EUNAVAIL;
                err->retriable = true;
                return ATT_FAIL;
            }
            ExecStatusType st = PQresultStatus(r);
            const lent_t *le = &t->log[l];
            if (failed || st == PGRES_PIPELINE_ABORTED ||
                le->kind == L_NOTIFY) {
                PQclear(r); /* a failed NOTIFY is harmless: the relay polls */
                continue;
            }
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                failed = le;
                bad = r;
                continue;
            }
            prepared(t, le);
            if (le->kind == L_EVENTS)
                set_positions(t, r);
            if (le->kind == L_EVENT && PQntuples(r) == 1)
                t->cmds[le->cmd].events.items[le->sub].position =
                    strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            if (le->kind == L_COMMIT && strcmp(PQcmdStatus(r), "COMMIT") == 0)
                committed = 1;
            PQclear(r);
        }
        if (read_sync(c) || !PQexitPipelineMode(c)) {
            PQclear(bad);
            oss_db_error(c, NULL, "append", err);
            err->code = OSS_EUNAVAIL;
            err->retriable = true;
            return ATT_FAIL;
        }
        if (!failed) {
            if (committed)
                return ATT_OK;
            oss_err_set(err, OSS_EUNAVAIL,
                        "could not commit: the transaction was rolled back");
            return ATT_FAIL;
        }
        if (failed->kind == L_COMMIT) {
            /* a COMMIT that failed with an error committed nothing */
            a = attempt_failed(t, bad, "commit", err);
            if (a == ATT_LOST) {
                err->code = OSS_EUNAVAIL;
                err->retriable = true;
                a = ATT_FAIL;
            }
            return a;
        }
        if (!t->careful && is_unique_violation(bad)) {
            /* a version race, a claim or an idempotency key taken: the
             * batched transaction cannot tell which command lost, so it
             * is rolled back and run again one savepoint per command */
            PQclear(bad);
            return ATT_CAREFUL;
        }
        if (!is_unique_violation(bad) ||
            (failed->kind != L_EVENT && failed->kind != L_CLAIM &&
             failed->kind != L_IDEM)) {
            /* the pipeline stopped at the error: COMMIT did not run */
            return attempt_failed(t, bad, "append", err);
        }
        PQclear(bad);
        /* one command lost a uniqueness race: settle it, go on after it */
        size_t f = failed->cmd;
        if ((a = settle_failed(t, failed, err)) || (a = rewind_to(t, f, err)))
            return a;
        from = f + 1;
    }
}

/* Leaves pipeline mode after an attempt ended inside it (maybe with
 * statements queued but no sync), or drops the connection. */
static void
pipeline_abandon(oss_journal_t *j) {
    if (PQstatus(j->conn) == CONNECTION_OK && PQpipelineSync(j->conn)) {
        for (int i = 0; i < 3; i++) {
            if (read_sync(j->conn))
                break;
            if (PQexitPipelineMode(j->conn))
                return;
        }
    }
    PQfinish(j->conn);
    j->conn = NULL;
}

oss_code_t
oss_journal_execute(oss_journal_t *j, oss_command_t *cmds, size_t n,
                    oss_err_t *err) {
    oss_err_t e;
    oss_code_t rc = OSS_OK;
    tx_t t = {0};
    int retries = 0, reconnects = 0;

    oss_err_clear(&e);
    for (size_t i = 0; i < n; i++) {
        /* outputs are overwritten, never freed: they may be uninitialised */
        memset(&cmds[i].events, 0, sizeof cmds[i].events);
        cmds[i].replay_response = NULL;
        cmd_reset(&cmds[i]);
    }
    if (n == 0)
        return OSS_OK;
    t.j = j;
    t.cmds = cmds;
    t.n = n;
    t.streams = calloc(n, sizeof *t.streams);
    t.idem = calloc(2 * n, sizeof *t.idem);
    if (!t.streams || !t.idem) {
        rc = oss_err_set(&e, OSS_ENOMEM, "could not append: out of memory");
        goto fail;
    }
    for (;;) {
        /* a backend that ended under the idle connection (its FATAL and
         * EOF are waiting in the socket) shows now, before anything is
         * sent: a batch without reads sends BEGIN ... COMMIT at once, and
         * a break after that leaves the outcome unknown */
        if (j->conn && PQstatus(j->conn) == CONNECTION_OK &&
            PQpipelineStatus(j->conn) == PQ_PIPELINE_OFF &&
            PQtransactionStatus(j->conn) == PQTRANS_IDLE)
            for (int k = 0; k < 2 && PQstatus(j->conn) == CONNECTION_OK; k++)
                (void)PQconsumeInput(j->conn); /* the 2nd read sees EOF */
        if ((rc = journal_ensure(j, &e)))
            goto fail;
        if (PQtransactionStatus(j->conn) != PQTRANS_IDLE ||
            PQpipelineStatus(j->conn) != PQ_PIPELINE_OFF) {
            rc = oss_err_set(&e, OSS_EINTERNAL,
                             "could not append: the journal's connection is "
                             "busy (inside a transaction or a pipeline)");
            goto fail;
        }
        oss_err_clear(&e);
        int a = attempt(&t, &e);
        if (a == ATT_CAREFUL && !t.careful)
            keep_reads(&t);
        else
            tx_reset(&t);
        if (a == ATT_OK)
            goto done;
        for (size_t i = 0; i < n; i++)
            cmd_reset(&cmds[i]);
        /* leave the connection idle, or drop it */
        if (j->conn && PQpipelineStatus(j->conn) != PQ_PIPELINE_OFF)
            pipeline_abandon(j);
        if (j->conn && PQstatus(j->conn) == CONNECTION_OK &&
            PQtransactionStatus(j->conn) != PQTRANS_IDLE) {
            PGresult *r = PQexec(j->conn, "ROLLBACK");
            if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
                PQfinish(j->conn);
                j->conn = NULL;
            }
            PQclear(r);
        }
        if (a == ATT_CAREFUL && !t.careful) {
            t.careful = 1;
            if (j->conn && !t.blind)
                t.have_reads = 1; /* else read (again) */
            else
                tx_reset(&t);
            continue;
        }
        if (a == ATT_RETRY && ++retries < MAX_TXN_ATTEMPTS) {
            usleep((useconds_t)(1000 * retries + oss_now_us() % 1000));
            continue;
        }
        if (a == ATT_LOST && ++reconnects < 2) {
            if (j->conn)
                PQfinish(j->conn);
            j->conn = NULL;
            continue;
        }
        rc = e.code ? e.code : OSS_EINTERNAL;
        if (a == ATT_RETRY || a == ATT_LOST) {
            rc = OSS_EUNAVAIL;
            e.code = rc;
            e.retriable = true;
        }
        goto fail;
    }
fail:
    for (size_t i = 0; i < n; i++) {
        cmd_reset(&cmds[i]);
        cmds[i].err = e;
    }
    if (err)
        *err = e;
done:
    tx_reset(&t);
    free(t.streams);
    free(t.idem);
    free(t.log);
    free(t.xs);
    return rc;
}
