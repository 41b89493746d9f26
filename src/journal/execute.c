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
 * idempotency key). */
#include "core/clock.h"
#include "journal/journal_int.h"

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
 * nothing took effect. */
enum { ATT_OK, ATT_RETRY, ATT_LOST, ATT_FAIL };

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
    L_SAVEPOINT,
    L_EVENT,
    L_CLAIM,
    L_IDEM,
    L_EXTRA,
    L_RELEASE,
    L_NOTIFY,
    L_COMMIT
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
tx_reset(tx_t *t) {
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

/* Queues sql in the pipeline and logs what it is. 0, or -1 when it could
 * not be queued (connection broken, out of memory). */
static int
send_q(tx_t *t, const char *sql, const params_t *p, int kind, size_t cmd,
       size_t sub) {
    if (t->nlog == t->caplog) {
        size_t cap = t->caplog ? 2 * t->caplog : 64;
        lent_t *l = realloc(t->log, cap * sizeof *l);
        if (!l)
            return -1;
        t->log = l;
        t->caplog = cap;
    }
    t->log[t->nlog++] = (lent_t){kind, cmd, sub};
    if (!PQsendQueryParams(t->j->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL,
                           p ? p->len : NULL, p ? p->fmt : NULL, 0))
        return -1;
    return 0;
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

static const char *const select_streams_fmt =
    "SELECT %s FROM oss.journal WHERE stream_id = ANY($1::text[])"
    " ORDER BY stream_id, version";

static const char *const select_idem_sql =
    "SELECT key, request_hash, first_version, last_version, status, response"
    " FROM oss.idempotency WHERE key = ANY($1::text[])";

static int
rows_to_streams(tx_t *t, const PGresult *r, oss_err_t *err) {
    stream_st_t *cur = NULL;
    for (int i = 0, nr = PQntuples(r); i < nr; i++) {
        const char *sid = PQgetvalue(r, i, 2);
        if (!cur || strcmp(cur->id, sid) != 0)
            cur = find_stream(t, sid);
        if (!cur)
            continue; /* cannot happen: ANY() matched one of ours */
        oss_event_t *ev = oss_event_list_push(&cur->hist);
        if (!ev)
            return oom(err);
        if (journal_row_to_event(r, i, ev, err)) {
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

/* BEGIN and the reads, in one pipeline. */
static int
read_phase(tx_t *t, oss_err_t *err) {
    const char **ids = calloc(t->n + 1, sizeof *ids);
    const char **keys = calloc(t->n + 1, sizeof *keys);
    char *ids_arr = NULL, *keys_arr = NULL, sql[1024];
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
    if (!(ids_arr = oss_db_text_array(ids, t->nstreams)) ||
        !(keys_arr = oss_db_text_array(keys, nk))) {
        a = oom(err);
        goto done;
    }
    snprintf(sql, sizeof sql, select_streams_fmt, journal_select_cols);
    params_t ps = {0}, pk = {0};
    p_text(&ps, ids_arr);
    p_text(&pk, keys_arr);
    t->nlog = 0;
    if (!PQenterPipelineMode(c) ||
        send_q(t, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, L_BEGIN, 0,
               0) ||
        (t->nstreams && send_q(t, sql, &ps, L_STREAMS, 0, 0)) ||
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
queue_extra(void *qctx, const char *sql, int nparams,
            const char *const *values, const int *lengths,
            const int *formats) {
    extra_q_t *q = qctx;
    tx_t *t = q->t;
    if (t->nlog == t->caplog) {
        size_t cap = t->caplog ? 2 * t->caplog : 64;
        lent_t *l = realloc(t->log, cap * sizeof *l);
        if (!l)
            return -1;
        t->log = l;
        t->caplog = cap;
    }
    t->log[t->nlog++] = (lent_t){L_EXTRA, q->cmd, q->sub++};
    if (!PQsendQueryParams(t->j->conn, sql, nparams, NULL, values, lengths,
                           formats, 0))
        return -1;
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

    /* queue: events, claims, idempotency row, in one savepoint */
    if (send_q(t, "SAVEPOINT c", NULL, L_SAVEPOINT, i, 0))
        goto lost;
    for (size_t e = 0; e < c->events.len; e++)
        if (queue_event(t, &c->events.items[e], i, e))
            goto lost;
    for (size_t k = 0; k < c->nclaims; k++) {
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
        if (c->extra_fn(c->ctx, c, queue_extra, &q, &xe) != OSS_OK) {
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
        if (send_q(t, insert_idem_sql, &p, L_IDEM, i, 0))
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
    if (send_q(t, "RELEASE SAVEPOINT c", NULL, L_RELEASE, i, 0))
        goto lost;
    /* ship it now: the server runs it while we decide the next command */
    if (PQflush(t->j->conn) < 0)
        goto lost;

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
        find_stream(t, c->stream_id)->stale = 1;
    if (key) {
        /* maybe the same request, retried concurrently, won the race */
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
    if ((a = read_phase(t, err)))
        return a;

    for (;;) {
        /* plan and queue commands from..n, then notify and COMMIT */
        t->nlog = 0;
        if (!PQenterPipelineMode(c)) {
            oss_db_error(c, NULL, "enter pipeline mode", err);
            return ATT_LOST;
        }
        for (size_t i = from; i < t->n; i++)
            if ((a = plan_command(t, i, err)))
                return a;
        if (send_q(t, "COMMIT", NULL, L_COMMIT, 0, 0) || !PQpipelineSync(c)) {
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
            if (failed || st == PGRES_PIPELINE_ABORTED) {
                PQclear(r);
                continue;
            }
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                failed = le;
                bad = r;
                continue;
            }
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

/* Wakes the relay after a commit that appended something: one NOTIFY per
 * group commit, in its own tiny transaction with synchronous_commit off.
 * Why not inside the journal transaction: PostgreSQL holds a global lock on
 * the notify queue from pre-commit until the commit is flushed, so a NOTIFY
 * there serialises every appending transaction behind one WAL flush each
 * and defeats the server's own group commit. Here the lock is held for an
 * unflushed commit only. Losing it (crash between the two) is harmless: the
 * relay also polls (relay.poll_ms). */
static void
notify_after_commit(oss_journal_t *j, const oss_command_t *cmds, size_t n) {
    int appended = 0;
    for (size_t i = 0; i < n && !appended; i++)
        appended = cmds[i].outcome == OSS_JOURNAL_APPENDED && cmds[i].events.len;
    if (!appended || !j->conn)
        return;
    PGresult *r = PQexec(j->conn,
                         "SELECT set_config('synchronous_commit', 'off', true),"
                         " pg_notify('oss_journal', '')");
    PQclear(r);
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
        tx_reset(&t);
        if (a == ATT_OK) {
            notify_after_commit(j, cmds, n);
            goto done;
        }
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
    return rc;
}
