/* The relay's election and publishing loop (see relay.h for the contract). */
#include "relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/clock.h"
#include "db/db.h"
#include "journal/scan.h"
#include "log/log.h"

#define HEARTBEAT_MS 500      /* leader proves its lock this often */
#define PRODUCE_FRESH_MS 1000 /* produce only this soon after one */
#define CHECK_MS 5000         /* cluster id, watermarks, bootstrap */
#define LOG_MS 10000          /* progress line */

enum { SLOT_PENDING = 0, SLOT_DONE = 1, SLOT_FAILED = 2 };

/* How long after a wake-up the relay looks again every 2 ms (the loop). */
#define QUICK_SPAN_MS 40

typedef struct slot {
    uint64_t seq;
    uint64_t xid;
    int64_t pos;
    int state;
} slot_t;

struct oss_relay {
    const oss_config_t *cfg;
    oss_keyring_t ring;
    oss_bus_signer_t *signer; /* current key, reused for every message */
    char source[256];
    long long batch, poll_ms, lock_key, stall_ms, msg_timeout_ms, ckpt_ms;
    uint32_t lock_hi, lock_lo;
    size_t cap;     /* most events published and not yet checkpointed */
    int64_t window; /* messages read from each partition tail */

    PGconn *db;
    oss_bus_producer_t *prod; /* NULL between resyncs */
    char cluster_id[128];
    char bootstrap[4096];

    uint64_t read_xid; /* last row read (published or skipped) */
    int64_t read_pos;
    slot_t *slots;
    uint64_t head, tail, persisted; /* seqs: confirmed < head <= tail */
    uint64_t conf_xid;              /* last confirmed, not yet persisted */
    int64_t conf_pos;
    uint64_t conf_count;
    int conf_dirty;

    int64_t *skip; /* sorted positions Kafka already holds */
    uint8_t *skip_used;
    size_t nskip, skip_left;
    oss_relay_mark_t *marks;
    size_t nmarks;

    int need_resync, reset_cursor, more_rows, notified, delivery_failed;
    long long quick_ms; /* the follow-up after a wake-up (see the loop) */
    int64_t woken_at;   /* when the last wake-up or fetched row was */
    char fail_reason[256];
    int64_t last_heartbeat, last_progress, last_check, last_log, last_persist,
        next_poll;
    uint64_t published, published_logged;
    int64_t burst_start; /* when work appeared after idling; 0 idle */
    uint64_t burst_base;
};

static void
sleep_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        return; /* a signal: let the caller look at its stop flag */
}

oss_code_t
oss_relay_new(const oss_config_t *cfg, oss_relay_t **out, oss_err_t *err) {
    oss_relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    r->cfg = cfg;
    r->batch = oss_config_int(cfg, "relay.batch_size");
    r->poll_ms = oss_config_int(cfg, "relay.poll_ms");
    r->lock_key = oss_config_int(cfg, "relay.lock_key");
    r->stall_ms = oss_config_int(cfg, "relay.stall_ms");
    r->msg_timeout_ms = oss_config_int(cfg, "relay.message_timeout_ms");
    r->ckpt_ms = oss_config_int(cfg, "relay.checkpoint_ms");
    r->lock_hi = (uint32_t)((uint64_t)r->lock_key >> 32);
    r->lock_lo = (uint32_t)((uint64_t)r->lock_key & 0xffffffffu);
    r->cap = (size_t)(r->batch * 2 < 1000 ? 1000 : r->batch * 2);
    r->window = (int64_t)r->cap + 1000; /* unpersisted <= cap in all */
    snprintf(r->source, sizeof r->source, "%s",
             oss_config_str(cfg, "bus.source"));
    const char *kf = oss_config_str(cfg, "bus.signing_key_file");
    oss_code_t rc = oss_keyring_load(kf ? kf : "", &r->ring, err);
    if (rc) {
        free(r);
        return rc;
    }
    if (!(r->slots = calloc(r->cap, sizeof *r->slots))) {
        free(r);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    if (r->ring.n && !(r->signer = oss_bus_signer_new(&r->ring))) {
        free(r->slots);
        free(r);
        return oss_err_set(err, OSS_EINTERNAL,
                           "could not set up message signing (OpenSSL)");
    }
    *out = r;
    return OSS_OK;
}

/* ---- Kafka producer (src/bus/producer.c) ------------------------------ */

static void
on_delivery(void *opaque, const oss_bus_delivery_t *d) {
    oss_relay_t *r = opaque;
    slot_t *s = &r->slots[d->seq % r->cap];
    if (s->seq != d->seq || s->state != SLOT_PENDING)
        return; /* from a purged generation */
    if (d->failed) {
        s->state = SLOT_FAILED;
        if (!r->delivery_failed)
            snprintf(r->fail_reason, sizeof r->fail_reason, "%s", d->error);
        r->delivery_failed = 1;
        return;
    }
    s->state = SLOT_DONE;
    oss_relay_mark(&r->marks, &r->nmarks, d->topic, d->partition, d->offset);
}

static void
on_fatal(void *opaque, const char *reason) {
    oss_relay_t *r = opaque;
    (void)reason;
    r->need_resync = 1;
}

static void
producer_close(oss_relay_t *r, int purge) {
    oss_bus_producer_free(r->prod, purge);
    r->prod = NULL;
}

static oss_code_t
producer_open(oss_relay_t *r, oss_err_t *err) {
    oss_bus_producer_opts_t o = {.client_id = "oss-relay",
                                 .source = r->source,
                                 .signer = r->signer,
                                 .message_timeout_ms = r->msg_timeout_ms,
                                 .queue_max_messages = r->cap * 2 + 10000,
                                 .on_delivery = on_delivery,
                                 .on_fatal = on_fatal,
                                 .arg = r};
    oss_code_t rc = oss_bus_producer_new(r->cfg, &o, &r->prod, err);
    if (rc == OSS_OK)
        snprintf(r->bootstrap, sizeof r->bootstrap, "%s",
                 oss_bus_producer_bootstrap(r->prod));
    return rc;
}

/* ---- database ----------------------------------------------------------- */

static PGresult *
exec_params(oss_relay_t *r, const char *sql, int n, const char *const *vals,
            int binary) {
    return PQexecParams(r->db, sql, n, NULL, vals, NULL, NULL, binary);
}

/* 1 lock taken, 0 held by another, -1 connection trouble. */
static int
try_lock(oss_relay_t *r) {
    char key[32];
    snprintf(key, sizeof key, "%lld", r->lock_key);
    const char *vals[1] = {key};
    PGresult *res =
        exec_params(r, "SELECT pg_try_advisory_lock($1::bigint)", 1, vals, 0);
    int got = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        oss_warn("could not try the relay lock: %s", PQerrorMessage(r->db));
    PQclear(res);
    return got;
}

/* Proves the lock is still ours and records that the leader is alive.
 * 0 ok, -1 lost (lock or connection). */
static int
heartbeat(oss_relay_t *r) {
    char hi[16], lo[16];
    snprintf(hi, sizeof hi, "%u", r->lock_hi);
    snprintf(lo, sizeof lo, "%u", r->lock_lo);
    const char *vals[2] = {hi, lo};
    PGresult *res = exec_params(
        r,
        "UPDATE oss.relay_checkpoint SET leader_alive_at = now(), "
        "producer_closed = false WHERE id = 1 AND EXISTS (SELECT 1 FROM "
        "pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND "
        "granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1)",
        2, vals, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
             strcmp(PQcmdTuples(res), "1") == 0;
    if (!ok)
        oss_error("lost the relay lock or the database: %s",
                  PQresultStatus(res) == PGRES_COMMAND_OK
                      ? "the advisory lock is no longer held"
                      : PQerrorMessage(r->db));
    PQclear(res);
    if (ok)
        r->last_heartbeat = oss_mono_ms();
    return ok ? 0 : -1;
}

/* 0 while the advisory lock is still ours, -1 otherwise. */
static int
lock_held(oss_relay_t *r) {
    char hi[16], lo[16];
    snprintf(hi, sizeof hi, "%u", r->lock_hi);
    snprintf(lo, sizeof lo, "%u", r->lock_lo);
    const char *vals[2] = {hi, lo};
    PGresult *res = exec_params(
        r,
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = "
        "pg_backend_pid() AND granted AND classid = $1::oid AND objid = "
        "$2::oid AND objsubid = 1",
        2, vals, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (!ok)
        oss_error("lost the relay lock or the database: %s",
                  PQresultStatus(res) == PGRES_TUPLES_OK
                      ? "the advisory lock is no longer held"
                      : PQerrorMessage(r->db));
    PQclear(res);
    return ok ? 0 : -1;
}

typedef struct ckpt {
    uint64_t xid;
    int64_t pos;
    char cluster_id[128];
} ckpt_t;

static oss_code_t
load_checkpoint(oss_relay_t *r, ckpt_t *c, oss_err_t *err) {
    PGresult *res = PQexec(r->db, "SELECT xid::text, position, cluster_id "
                                  "FROM oss.relay_checkpoint WHERE id = 1");
    oss_code_t rc = OSS_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = oss_db_error(r->db, res, "read the relay checkpoint", err);
        goto done;
    }
    c->xid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    c->pos = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    snprintf(c->cluster_id, sizeof c->cluster_id, "%s", PQgetvalue(res, 0, 2));
done:
    PQclear(res);
    return rc;
}

/* Writes the checkpoint; `reset` sets published back to 0. */
static oss_code_t
store_checkpoint(oss_relay_t *r, uint64_t xid, int64_t pos, uint64_t added,
                 int reset, oss_err_t *err) {
    char x[32], p[32], a[32];
    snprintf(x, sizeof x, "%" PRIu64, xid);
    snprintf(p, sizeof p, "%" PRId64, pos);
    snprintf(a, sizeof a, "%" PRIu64, added);
    const char *vals[4] = {x, p, r->cluster_id, a};
    PGresult *res = exec_params(
        r,
        reset ? "UPDATE oss.relay_checkpoint SET xid = $1::xid8, position = "
                "$2, cluster_id = $3, published = $4, updated_at = now() "
                "WHERE id = 1"
              : "UPDATE oss.relay_checkpoint SET xid = $1::xid8, position = "
                "$2, cluster_id = $3, published = published + $4, "
                "updated_at = now() WHERE id = 1",
        4, vals, 0);
    oss_code_t rc = OSS_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = oss_db_error(r->db, res, "store the relay checkpoint", err);
    PQclear(res);
    return rc;
}

/* ---- the in-flight window ------------------------------------------------ */

static void
advance(oss_relay_t *r) {
    int64_t now = oss_mono_ms();
    while (r->head < r->tail) {
        slot_t *s = &r->slots[r->head % r->cap];
        if (s->state != SLOT_DONE)
            break;
        r->conf_xid = s->xid;
        r->conf_pos = s->pos;
        r->conf_count++;
        r->conf_dirty = 1;
        r->head++;
        r->last_progress = now;
    }
}

static oss_code_t
persist(oss_relay_t *r, oss_err_t *err) {
    if (!r->conf_dirty)
        return OSS_OK;
    oss_code_t rc =
        store_checkpoint(r, r->conf_xid, r->conf_pos, r->conf_count, 0, err);
    if (rc)
        return rc;
    r->published += r->conf_count;
    r->conf_count = 0;
    r->conf_dirty = 0;
    r->persisted = r->head;
    r->last_persist = oss_mono_ms();
    return OSS_OK;
}

static slot_t *
slot_push(oss_relay_t *r, uint64_t xid, int64_t pos, int state) {
    slot_t *s = &r->slots[r->tail % r->cap];
    s->seq = r->tail++;
    s->xid = xid;
    s->pos = pos;
    s->state = state;
    r->read_xid = xid;
    r->read_pos = pos;
    return s;
}

static int
cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 when pos is in the skip set (and marks it used). */
static int
skip_take(oss_relay_t *r, int64_t pos) {
    if (!r->skip_left)
        return 0;
    int64_t *hit = bsearch(&pos, r->skip, r->nskip, sizeof *r->skip, cmp_i64);
    if (!hit || r->skip_used[hit - r->skip])
        return 0;
    r->skip_used[hit - r->skip] = 1;
    if (--r->skip_left == 0) {
        free(r->skip);
        free(r->skip_used);
        r->skip = NULL;
        r->skip_used = NULL;
        r->nskip = 0;
    }
    return 1;
}

/* ---- resynchronisation: Kafka's truth vs. the checkpoint ---------------- */

/* The journal rows of the tails' event ids beyond the cursor. */
typedef struct tail_rows {
    int64_t *pos;
    char (*ids)[OSS_UUID_STR];
    size_t n, cap;
} tail_rows_t;

static int
tail_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    tail_rows_t *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        int64_t *p = realloc(t->pos, cap * sizeof *p);
        if (p)
            t->pos = p;
        char(*i)[OSS_UUID_STR] = p ? realloc(t->ids, cap * sizeof *i) : NULL;
        if (!p || !i) {
            oss_err_set(err, OSS_ENOMEM, "out of memory");
            return -1;
        }
        t->ids = i;
        t->cap = cap;
    }
    t->pos[t->n] = row->ev.position;
    memcpy(t->ids[t->n], row->ev.event_id, OSS_UUID_STR);
    t->n++;
    return 0;
}

/* Keeps from the tails the positions beyond the cursor whose event id matches
 * the journal; they become the skip set. */
static oss_code_t
build_skip(oss_relay_t *r, const oss_relay_tails_t *t, oss_err_t *err) {
    free(r->skip);
    free(r->skip_used);
    r->skip = NULL;
    r->skip_used = NULL;
    r->nskip = r->skip_left = 0;
    if (t->n == 0)
        return OSS_OK;
    tail_rows_t rows = {0};
    oss_code_t rc = OSS_OK;
    const char **ids = malloc(t->n * sizeof *ids);
    if (!ids)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        ids[i] = t->ids[i];
    oss_journal_cursor_t after = {r->read_xid, r->read_pos};
    oss_journal_filter_t f = {.event_ids = ids,
                              .nevent_ids = t->n,
                              .after = &after,
                              .deliver_malformed = 1};
    if ((rc = oss_journal_scan(r->db, &f, tail_row, &rows, NULL, err))) {
        if (rc != OSS_ENOMEM && err) {
            char why[OSS_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            oss_err_set(err, rc, "could not match the partition tails: %s",
                        why);
        }
        goto done;
    }
    if (rows.n > 0) {
        /* a tail position counts when the journal has its event id there */
        r->skip = malloc(t->n * sizeof *r->skip);
        r->skip_used = calloc(t->n, 1);
        if (!r->skip || !r->skip_used) {
            rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            goto done;
        }
        size_t n = 0;
        for (size_t i = 0; i < t->n; i++) {
            /* rows came in position order (positions are unique) */
            size_t lo = 0, hi = rows.n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (rows.pos[mid] < t->pos[i])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < rows.n && rows.pos[lo] == t->pos[i] &&
                strcmp(rows.ids[lo], t->ids[i]) == 0)
                r->skip[n++] = t->pos[i];
        }
        qsort(r->skip, n, sizeof *r->skip, cmp_i64);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || r->skip[u - 1] != r->skip[i])
                r->skip[u++] = r->skip[i];
        r->nskip = r->skip_left = u;
    }
done:
    free(rows.pos);
    free(rows.ids);
    free(ids);
    return rc;
}

/* Rebuilds the producer and the cursor from what the database and Kafka
 * hold. Our own producer is destroyed first, so nothing of ours is in flight
 * while the tails are read. */
static oss_code_t
resync(oss_relay_t *r, oss_err_t *err) {
    ckpt_t c = {0};
    oss_relay_tails_t t = {0};
    oss_code_t rc;

    producer_close(r, 1);
    r->head = r->tail = r->persisted = 0;
    r->conf_dirty = 0;
    r->conf_count = 0;
    r->delivery_failed = 0;
    free(r->marks);
    r->marks = NULL;
    r->nmarks = 0;
    if ((rc = load_checkpoint(r, &c, err)))
        return rc;
    if ((rc = producer_open(r, err)))
        return rc;
    if ((rc = oss_bus_producer_cluster_id(r->prod, 10000, r->cluster_id,
                                          sizeof r->cluster_id, err)))
        goto fail;

    oss_relay_reset_t why =
        oss_relay_reset_decision(c.cluster_id, r->cluster_id, r->reset_cursor);
    int reset = why != OSS_RELAY_KEEP;
    if (why == OSS_RELAY_RESET_CLUSTER)
        oss_warn("the broker lost its data (cluster id %s, was %s): "
                 "republishing from the start of the journal",
                 r->cluster_id, c.cluster_id);
    else if (why == OSS_RELAY_RESET_WATERMARK)
        oss_warn("a partition's high watermark went backwards: "
                 "republishing from the start of the journal");
    if (reset) {
        c.xid = 0;
        c.pos = 0;
        if ((rc = store_checkpoint(r, 0, 0, 0, 1, err)))
            goto fail;
    } else if (!c.cluster_id[0]) {
        if ((rc = store_checkpoint(r, c.xid, c.pos, 0, 0, err)))
            goto fail;
    }
    r->reset_cursor = 0;
    r->read_xid = c.xid;
    r->read_pos = c.pos;

    snprintf(t.cluster_id, sizeof t.cluster_id, "%s", r->cluster_id);
    int64_t t0 = oss_mono_ms();
    if ((rc = oss_relay_read_tails(r->cfg, &r->ring, r->window, &t, err)))
        goto fail;
    oss_info("read the tails of %zu partitions in %lld ms: %zu signed "
             "events (scanned %zu messages)",
             t.nmarks, (long long)(oss_mono_ms() - t0), t.n, t.scanned);
    if (strcmp(t.cluster_id, r->cluster_id) != 0) {
        rc = oss_err_set(err, OSS_EUNAVAIL,
                         "the cluster id changed while reading the tails");
        goto fail;
    }
    if ((rc = build_skip(r, &t, err)))
        goto fail;
    r->marks = t.marks;
    r->nmarks = t.nmarks;
    t.marks = NULL;
    oss_relay_tails_free(&t);
    oss_info("leading from checkpoint (xid %" PRIu64 ", position %" PRId64
             ") on cluster %s; %zu events beyond it already in Kafka will be "
             "skipped",
             c.xid, c.pos, r->cluster_id, r->nskip);
    r->need_resync = 0;
    r->more_rows = 1;
    return OSS_OK;
fail:
    oss_relay_tails_free(&t);
    producer_close(r, 1);
    return rc;
}

/* ---- reading the journal and producing ---------------------------------- */

/* One row of fetch(): publishes it (or skips it) and moves the read cursor.
 * Stops the scan when a produce failed. */
static int
fetch_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    oss_relay_t *r = ctx;
    oss_err_t perr = {0};
    (void)err;
    if (row->malformed) {
        oss_error("journal position %" PRId64 " cannot be published (%s); it "
                  "is skipped",
                  row->ev.position, row->malformed);
        slot_push(r, row->xid, row->ev.position, SLOT_DONE);
        return 0;
    }
    if (skip_take(r, row->ev.position)) {
        slot_push(r, row->xid, row->ev.position, SLOT_DONE);
        return 0;
    }
    slot_t *s = slot_push(r, row->xid, row->ev.position, SLOT_PENDING);
    if (oss_bus_producer_send(r->prod, &row->ev, s->seq, &perr)) {
        s->state = SLOT_FAILED;
        r->delivery_failed = 1;
        snprintf(r->fail_reason, sizeof r->fail_reason, "%s", perr.msg);
        return 1;
    }
    return 0;
}

/* Reads up to limit rows beyond the cursor below the commit horizon and
 * produces them. Returns rows read, or -1 on a database error (err set). */
static long
fetch(oss_relay_t *r, long limit, oss_err_t *err) {
    oss_journal_cursor_t after = {r->read_xid, r->read_pos};
    oss_journal_filter_t f = {.after = &after,
                              .below_horizon = 1,
                              .order = OSS_JOURNAL_ORDER_COMMIT,
                              .limit = limit,
                              .deliver_malformed = 1};
    int64_t n = 0;
    if (oss_journal_scan(r->db, &f, fetch_row, r, &n, err))
        return -1;
    return (long)n;
}

/* ---- the loops ----------------------------------------------------------- */

/* 0 ok, -1 connection lost. Sets r->notified on NOTIFY. */
static int
drain_notifies(oss_relay_t *r) {
    if (!PQconsumeInput(r->db) || PQstatus(r->db) != CONNECTION_OK)
        return -1;
    PGnotify *n;
    while ((n = PQnotifies(r->db))) {
        r->notified = 1;
        PQfreemem(n);
    }
    return 0;
}

static void
wait_socket(oss_relay_t *r, int64_t ms) {
    if (ms <= 0)
        return;
    struct pollfd pfd = {PQsocket(r->db), POLLIN, 0};
    poll(&pfd, 1, (int)ms);
}

/* Leaving with the lock lost or given up: nothing more may reach Kafka. */
static int
abandon(oss_relay_t *r, int code) {
    producer_close(r, 1);
    if (r->db) {
        PQfinish(r->db);
        r->db = NULL;
    }
    return code;
}

/* Stopping on request: deliver what we can within a few seconds (a
 * supervisor kills us after ten), purge the rest, destroy the producer, store
 * the confirmed checkpoint and say the producer is closed. A destroyed
 * handle has closed its connections and can send nothing more, so the next
 * leader need not wait out its message timeout. */
static int
shutdown_clean(oss_relay_t *r) {
    oss_err_t err = {0};
    int clean = 1;
    if (r->prod) {
        oss_bus_producer_flush(r->prod, 3000);
        oss_bus_producer_poll(r->prod, 0);
        advance(r);
        clean = oss_bus_producer_outq_len(r->prod) == 0 &&
                !r->delivery_failed && r->head == r->tail;
        producer_close(r, 1);
    }
    if (persist(r, &err))
        oss_warn("%s", err.msg);
    PGresult *res = PQexec(r->db, "UPDATE oss.relay_checkpoint SET "
                                  "producer_closed = true WHERE id = 1");
    PQclear(res);
    oss_info("stopped; %" PRIu64 " events published in this run%s",
             r->published,
             clean ? ""
                   : " (undelivered ones were purged: the next leader "
                     "publishes them)");
    PQfinish(r->db);
    r->db = NULL;
    return OSS_RELAY_EXIT_OK;
}

static void
periodic_checks(oss_relay_t *r) {
    char bs[4096];
    if (oss_bus_bootstrap(r->cfg, bs, sizeof bs, NULL) == OSS_OK &&
        strcmp(bs, r->bootstrap) != 0) {
        oss_warn("the Kafka bootstrap list changed to %s: rebuilding the "
                 "producer",
                 bs);
        r->need_resync = 1;
        return;
    }
    char cid[sizeof r->cluster_id];
    if (oss_bus_producer_cluster_id(r->prod, 0, cid, sizeof cid, NULL) ==
        OSS_OK) {
        if (strcmp(cid, r->cluster_id) != 0) {
            oss_warn("the Kafka cluster id changed (%s, was %s)", cid,
                     r->cluster_id);
            r->need_resync = 1;
        }
        if (r->need_resync)
            return;
    }
    /* only partitions we delivered to lately, within a time budget: a
     * query blocks while brokers are down */
    int64_t hi = 0;
    long i = oss_relay_check_marks(oss_bus_producer_handle(r->prod), r->marks,
                                   r->nmarks, 1000, &hi);
    if (i >= 0) {
        oss_warn("%s [%d] high watermark %" PRId64 " is below offset %" PRId64
                 " we saw",
                 r->marks[i].topic, (int)r->marks[i].partition, hi,
                 r->marks[i].offset);
        r->reset_cursor = 1;
        r->need_resync = 1;
    }
}

static int
lead(oss_relay_t *r, volatile sig_atomic_t *stop) {
    oss_err_t err = {0};
    int64_t now = oss_mono_ms();
    r->last_progress = r->last_check = r->last_log = r->last_persist = now;
    r->next_poll = now;
    r->need_resync = 1;
    for (;;) {
        now = oss_mono_ms();
        if (*stop)
            return shutdown_clean(r);
        if (drain_notifies(r) < 0) {
            oss_error("lost the database connection: %s",
                      PQerrorMessage(r->db));
            return abandon(r, OSS_RELAY_EXIT_LOST);
        }
        if (now - r->last_heartbeat >= HEARTBEAT_MS && heartbeat(r) < 0)
            return abandon(r, OSS_RELAY_EXIT_LOST);
        int work = r->more_rows || r->head != r->tail || r->need_resync;
        if (!work) {
            r->last_progress = now;
            if (r->burst_start && !r->conf_dirty) {
                uint64_t n = r->published - r->burst_base;
                double s = (double)(now - r->burst_start) / 1000.0;
                if (n >= 10000)
                    oss_info("caught up with the journal: %" PRIu64
                             " events in %.1f s (%.0f/s)",
                             n, s, s > 0 ? (double)n / s : 0.0);
                r->burst_start = 0;
            }
        } else if (!r->burst_start) {
            r->burst_start = now;
            r->burst_base = r->published;
        } else if (now - r->last_progress > r->stall_ms) {
            oss_error("no progress for %lld ms with work pending: giving up "
                      "the relay lock",
                      r->stall_ms);
            return abandon(r, OSS_RELAY_EXIT_STALL);
        }
        if (r->need_resync) {
            if (resync(r, &err)) {
                oss_warn("could not resynchronise with Kafka: %s", err.msg);
                wait_socket(r, 1000);
                continue;
            }
            r->last_check = oss_mono_ms();
        }
        oss_bus_producer_poll(r->prod, 0);
        advance(r);
        if (r->delivery_failed) {
            oss_warn("a delivery failed (%s): resynchronising with Kafka",
                     r->fail_reason);
            if (persist(r, &err)) {
                oss_error("%s", err.msg);
                return abandon(r, OSS_RELAY_EXIT_LOST);
            }
            r->need_resync = 1;
            continue;
        }
        size_t room = r->cap - (size_t)(r->tail - r->persisted);
        if (room < (size_t)r->batch / 2 + 1 && r->conf_dirty) {
            if (persist(r, &err)) {
                oss_error("%s", err.msg);
                return abandon(r, OSS_RELAY_EXIT_LOST);
            }
            room = r->cap - (size_t)(r->tail - r->persisted);
        }
        long got = 0;
        if (room > 0 && (r->more_rows || r->notified || now >= r->next_poll)) {
            long limit =
                (long)(room < (size_t)r->batch ? room : (size_t)r->batch);
            int woken = r->notified;
            r->notified = 0;
            if (oss_mono_ms() - r->last_heartbeat >= PRODUCE_FRESH_MS &&
                heartbeat(r) < 0)
                return abandon(r, OSS_RELAY_EXIT_LOST);
            got = fetch(r, limit, &err);
            if (got < 0) {
                oss_error("%s", err.msg);
                return abandon(r, OSS_RELAY_EXIT_LOST);
            }
            r->more_rows = got == limit;
            /* A NOTIFY comes at the appender's commit, but its rows are
             * readable only once the commit horizon (the oldest running
             * transaction anywhere in the cluster) has passed them: a fetch
             * at the wake-up may find nothing yet. Look again soon: every
             * 2 ms for QUICK_SPAN_MS after a wake-up or a row (the horizon
             * is mostly held by another short transaction, a projector
             * batch or the next group commit, for a few ms), then doubling
             * while nothing comes, instead of waiting out relay.poll_ms
             * (about 1% of commands waited 500 ms so; with 5 ms doubling
             * from the first miss, a command behind two misses waited
             * 35 ms: the 1-client p99). */
            int fresh = woken || (r->quick_ms && got > 0);
            if (fresh)
                r->woken_at = oss_mono_ms();
            if (fresh ||
                (r->quick_ms && oss_mono_ms() - r->woken_at < QUICK_SPAN_MS))
                r->quick_ms = 2;
            else if (r->quick_ms)
                r->quick_ms =
                    r->quick_ms * 2 >= r->poll_ms ? 0 : r->quick_ms * 2;
            r->next_poll =
                oss_mono_ms() + (r->quick_ms ? r->quick_ms : r->poll_ms);
            oss_bus_producer_poll(r->prod, 0);
            advance(r);
        }
        now = oss_mono_ms();
        if (r->conf_dirty && now - r->last_persist >= r->ckpt_ms) {
            if (persist(r, &err)) {
                oss_error("%s", err.msg);
                return abandon(r, OSS_RELAY_EXIT_LOST);
            }
        }
        if (now - r->last_check >= CHECK_MS) {
            r->last_check = now;
            periodic_checks(r);
        }
        if (now - r->last_log >= LOG_MS) {
            uint64_t d = r->published - r->published_logged;
            if (d)
                oss_info("published %" PRIu64 " events in %.1f s (%.0f/s); "
                         "checkpoint (xid %" PRIu64 ", position %" PRId64 ")",
                         d, (double)(now - r->last_log) / 1000.0,
                         (double)d * 1000.0 / (double)(now - r->last_log),
                         r->conf_xid, r->conf_pos);
            r->published_logged = r->published;
            r->last_log = now;
        }
        if (r->head != r->tail) {
            if (got == 0 || room == 0)
                oss_bus_producer_poll(r->prod, 20);
        } else if (!r->more_rows && !r->need_resync) {
            int64_t ms = r->next_poll - now;
            if (r->conf_dirty && r->last_persist + r->ckpt_ms - now < ms)
                ms = r->last_persist + r->ckpt_ms - now;
            wait_socket(r, ms > 500 ? 500 : ms);
        }
    }
}

int
oss_relay_run(oss_relay_t *r, volatile sig_atomic_t *stop) {
    oss_err_t err = {0};
    int said_standby = 0;
    const char *url = oss_config_str(r->cfg, "pg.url");
    char appname[64]; /* the pid lets operators and tests find the leader */
    snprintf(appname, sizeof appname, "oss-relay:%d", (int)getpid());
    for (;;) {
        if (*stop)
            return OSS_RELAY_EXIT_OK;
        if (!r->db) {
            if (oss_db_connect(url, appname, &r->db, &err)) {
                oss_warn("%s", err.msg);
                r->db = NULL;
                sleep_ms(1000);
                continue;
            }
        }
        int got = try_lock(r);
        if (got == 1)
            break;
        if (got < 0) {
            PQfinish(r->db);
            r->db = NULL;
        } else if (!said_standby) {
            oss_info("another relay holds lock %lld: waiting as hot standby",
                     r->lock_key);
            said_standby = 1;
        }
        sleep_ms(r->poll_ms < 1000 ? r->poll_ms : 1000);
    }
    oss_info("took the relay lock %lld: now the active relay", r->lock_key);

    /* wait out the old leader's producer unless it closed cleanly */
    PGresult *res = PQexec(
        r->db, "SELECT producer_closed, COALESCE((EXTRACT(EPOCH FROM (now() "
               "- leader_alive_at)) * 1000)::bigint, -1) FROM "
               "oss.relay_checkpoint WHERE id = 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        oss_db_error(r->db, res, "read the relay checkpoint", &err);
        oss_error("%s", err.msg);
        PQclear(res);
        return abandon(r, OSS_RELAY_EXIT_LOST);
    }
    int closed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    long long age = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    long long wait = 0;
    if (!closed && age >= 0)
        wait = r->msg_timeout_ms + PRODUCE_FRESH_MS + 1000 - age;
    if (wait > 0) {
        oss_info("the previous leader did not close its producer: waiting "
                 "%lld ms for its message timeout before reading Kafka",
                 wait);
        int64_t until = oss_mono_ms() + wait, checked = 0;
        while (oss_mono_ms() < until) {
            if (*stop)
                return abandon(r, OSS_RELAY_EXIT_OK);
            if (drain_notifies(r) < 0)
                return abandon(r, OSS_RELAY_EXIT_LOST);
            if (oss_mono_ms() - checked >= 1000) {
                if (lock_held(r) < 0)
                    return abandon(r, OSS_RELAY_EXIT_LOST);
                checked = oss_mono_ms();
            }
            sleep_ms(200);
        }
    }
    if (heartbeat(r) < 0)
        return abandon(r, OSS_RELAY_EXIT_LOST);
    if (oss_db_exec(r->db, "LISTEN oss_journal", &err)) {
        oss_error("%s", err.msg);
        return abandon(r, OSS_RELAY_EXIT_LOST);
    }
    return lead(r, stop);
}

void
oss_relay_free(oss_relay_t *r) {
    if (!r)
        return;
    producer_close(r, 1);
    if (r->db)
        PQfinish(r->db);
    free(r->slots);
    oss_bus_signer_free(r->signer);
    free(r->skip);
    free(r->skip_used);
    free(r->marks);
    free(r);
}
