/* Journal catch-up and the from-scratch rebuild. The rebuild fills
 * "<schema>_new" from the journal in short transactions (never one long one:
 * it would hold back the relay's commit horizon), then, as the owner, in ONE
 * transaction: takes the swap lock (waits for the running projector's batch
 * to end), applies the last journal events up to the horizon, copies the
 * Kafka positions across, renames <schema> -> <schema>_old and
 * <schema>_new -> <schema>, and drops the old one. Readers see the old read
 * models until that commit and the new ones after it. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "db/db.h"
#include "log/log.h"
#include "projector.h"
#include "projector_int.h"

static double
now_s(void) {
    return (double)oss_mono_ms() / 1000.0;
}

oss_code_t
oss_projector_catch_up(const oss_config_t *cfg, int64_t *applied,
                       oss_err_t *err) {
    pj_ctx_t c;
    oss_code_t rc;
    int64_t nread = 0;
    int chunk = (int)oss_config_int(cfg, "projector.chunk_size");

    if (applied)
        *applied = 0;
    if ((rc = pj_ctx_init(cfg, &c, err)))
        return rc;
    if ((rc = pj_connect(oss_config_str(cfg, "pg.url"), &c.conn, err)))
        return rc;
    /* bulk work: the whole journal, longer than a request's limits */
    if ((rc = oss_db_set_bulk(c.conn, 1, err))) {
        PQfinish(c.conn);
        return rc;
    }
    do {
        rc = pj_journal_chunk(&c, chunk, PJ_CHUNK_LOCK_SWAP, &nread, err);
    } while (rc == OSS_OK && nread > 0);
    if (applied)
        *applied = c.applied;
    PQfinish(c.conn);
    return rc;
}

/* Progress: oss.rebuild_progress and, when asked, the terminal. */
typedef struct progress {
    PGconn *conn;
    const char *schema;
    int terminal, tty;
    double started, last_print;
    int64_t total;
} progress_t;

static void
progress_show(progress_t *p, int64_t done, const char *state, int final) {
    double el = now_s() - p->started;
    double rate = el > 0 ? done / el : 0;
    if (done > p->total)
        p->total = done;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    char d[24], t[24], rt[32], e[32];
    snprintf(d, sizeof d, "%lld", (long long)done);
    snprintf(t, sizeof t, "%lld", (long long)p->total);
    snprintf(rt, sizeof rt, "%.1f", rate);
    snprintf(e, sizeof e, "%.1f", eta);
    const char *params[6] = {p->schema, state, d, t, rt, e};
    oss_err_t err = {0};
    if (pj_cmd(p->conn,
               "INSERT INTO oss.rebuild_progress (schema_name, state, done, "
               "total, rate, eta_seconds, started_at, updated_at) VALUES ($1, "
               "$2, $3, $4, $5, $6, now(), now()) ON CONFLICT (schema_name) DO "
               "UPDATE SET state = excluded.state, done = excluded.done, total "
               "= excluded.total, rate = excluded.rate, eta_seconds = "
               "excluded.eta_seconds, updated_at = now(), started_at = CASE "
               "WHEN excluded.done = 0 THEN now() ELSE "
               "rebuild_progress.started_at END",
               6, params, &err))
        oss_debug("could not record rebuild progress: %s", err.msg);
    if (!p->terminal)
        return;
    double now = now_s();
    if (!final && now - p->last_print < (p->tty ? 0.2 : 1.0))
        return;
    p->last_print = now;
    double pct = p->total ? 100.0 * done / p->total : 100.0;
    fprintf(stderr,
            "%srebuild %s: %lld / %lld events (%.1f%%), %.0f events/s, %.0fs "
            "left%s",
            p->tty ? "\r" : "", p->schema, (long long)done, (long long)p->total,
            pct, rate, ceil(eta), p->tty && !final ? "   " : "\n");
    fflush(stderr);
}

/* The journal reader of the fill: a thread on its own connection reads
 * chunk k + 1 while the caller applies chunk k, so reading and decoding
 * run on the second core. Up to READ_AHEAD chunks wait; a chunk with
 * read == 0 (or an error) ends the stream. */
#define READ_AHEAD 2

typedef struct reader {
    PGconn *conn;
    int chunk;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pj_chunk_t q[READ_AHEAD];
    int head, len, stop, done;
    oss_err_t err; /* the reader's error, when done with one */
} reader_t;

static void *
reader_main(void *arg) {
    reader_t *r = arg;
    oss_journal_cursor_t after = {0, 0}; /* a fresh schema: from the start */
    for (;;) {
        pj_chunk_t ch;
        oss_err_t e = {0};
        oss_code_t rc = pj_chunk_read(r->conn, &after, r->chunk, &ch, &e);
        pthread_mutex_lock(&r->mu);
        while (r->len == READ_AHEAD && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop || rc) {
            if (rc)
                r->err = e;
            r->done = 1;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            if (rc == OSS_OK)
                pj_chunk_free(&ch);
            return NULL;
        }
        r->q[(r->head + r->len) % READ_AHEAD] = ch;
        r->len++;
        int last = ch.read == 0;
        if (last)
            r->done = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (last)
            return NULL;
        after = ch.last;
    }
}

/* The next chunk into *out (owned by the caller); OSS_OK with read == 0 at
 * the end, or the reader's error. */
static oss_code_t
reader_next(reader_t *r, pj_chunk_t *out, oss_err_t *err) {
    pthread_mutex_lock(&r->mu);
    while (r->len == 0 && !r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    oss_code_t rc = OSS_OK;
    if (r->len > 0) {
        *out = r->q[r->head];
        r->head = (r->head + 1) % READ_AHEAD;
        r->len--;
        pthread_cond_broadcast(&r->cv);
    } else {
        memset(out, 0, sizeof *out);
        if (r->err.code)
            rc = oss_err_set(err, r->err.code, "%s", r->err.msg);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- applying one chunk on two connections ---- */

/* 1 when every event of ch commutes across stream ids (pj_access_batched,
 * AccountRegistered, or a type no applier writes). */
static int
chunk_splits(const pj_chunk_t *ch) {
    for (int i = 0; i < ch->n; i++) {
        const char *t = ch->items[i].ev.payload_type;
        if (pj_access_known(t) && !pj_access_batched(t))
            return 0;
    }
    return 1;
}

/* Which half a stream goes to: the hash of its id (the text after the
 * first dash), so that account-X, access-X and delivery-X go together. */
static int
half_of(const char *stream_id) {
    const char *d = strchr(stream_id, '-');
    uint32_t h = 2166136261u;
    for (const char *p = d ? d + 1 : stream_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (int)(h & 1);
}

typedef struct half {
    pj_ctx_t c;
    pj_item_t *items; /* shallow copies: the chunk owns the events */
    size_t n;
    oss_code_t rc;
    oss_err_t err;
} half_t;

/* One half in its own transaction. */
static void *
half_main(void *arg) {
    half_t *h = arg;
    h->rc = pj_cmd(h->c.conn, "BEGIN", 0, NULL, &h->err);
    if (h->rc == OSS_OK && h->n)
        h->rc = pj_apply(&h->c, h->items, h->n, &h->err);
    if (h->rc == OSS_OK)
        h->rc = pj_cmd(h->c.conn, "COMMIT", 0, NULL, &h->err);
    else
        pj_rollback(h->c.conn);
    return NULL;
}

/* Moves c->name's cursor past ch (autocommit). */
static oss_code_t
store_cursor(pj_ctx_t *c, const pj_chunk_t *ch, oss_err_t *err) {
    char sql[512], xid[32], pos[24];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.catchup AS k (name, xid, position) VALUES ($1, "
             "$2::xid8, $3) ON CONFLICT (name) DO UPDATE SET xid = "
             "excluded.xid, position = excluded.position, updated_at = now()",
             c->schema);
    snprintf(xid, sizeof xid, "%" PRIu64, ch->last.xid);
    snprintf(pos, sizeof pos, "%" PRId64, ch->last.position);
    const char *p[3] = {c->name, xid, pos};
    return pj_cmd(c->conn, sql, 3, p, err);
}

/* Applies ch: split by stream id over c and c2 in two parallel
 * transactions when its events commute (chunk_splits), else whole on c. A
 * half that failed (a deadlock between the halves) is applied again alone;
 * the other half's commit stands, and nothing of the failed one did. The
 * cursor moves once both are in. The rebuild may do this because its
 * schema is served only after the swap, and a failed rebuild starts over:
 * no reader ever sees one half without the other. */
static oss_code_t
apply_split(pj_ctx_t *c, pj_ctx_t *c2, const pj_chunk_t *ch, oss_err_t *err) {
    if (!c2 || ch->n < 2 || !chunk_splits(ch))
        return pj_chunk_apply(c, ch, err);
    half_t h[2] = {{.c = *c}, {.c = *c2}};
    oss_code_t rc = OSS_OK;
    for (int k = 0; k < 2; k++) {
        h[k].c.applied = h[k].c.skipped = h[k].c.gaps_filled = h[k].c.dead = 0;
        if (!(h[k].items = malloc((size_t)ch->n * sizeof *h[k].items))) {
            rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (int i = 0; i < ch->n; i++) {
        half_t *x = &h[half_of(ch->items[i].ev.stream_id)];
        x->items[x->n++] = ch->items[i];
    }
    pthread_t th;
    int threaded = pthread_create(&th, NULL, half_main, &h[1]) == 0;
    half_main(&h[0]);
    if (threaded)
        pthread_join(th, NULL);
    else
        half_main(&h[1]);
    for (int k = 0; k < 2; k++) {
        if (h[k].rc == OSS_EUNAVAIL) {
            rc = oss_err_set(err, h[k].rc, "%s", h[k].err.msg);
            goto out;
        }
        if (h[k].rc) {
            oss_debug("rebuild: half of a chunk failed (%s); applied again "
                      "alone",
                      h[k].err.msg);
            h[k].c.conn = c->conn;
            half_main(&h[k]);
            if (h[k].rc) {
                rc = oss_err_set(err, h[k].rc, "%s", h[k].err.msg);
                goto out;
            }
        }
    }
    rc = store_cursor(c, ch, err);
out:
    for (int k = 0; k < 2; k++) {
        c->applied += h[k].c.applied;
        c->skipped += h[k].c.skipped;
        c->gaps_filled += h[k].c.gaps_filled;
        c->dead += h[k].c.dead;
        free(h[k].items);
    }
    return rc;
}

/* Fills c's schema from the start of the journal; *done_n counts the
 * events read. */
static oss_code_t
fill(const char *url, pj_ctx_t *c, int chunk, progress_t *pr, int64_t *done_n,
     oss_err_t *err) {
    reader_t r = {.chunk = chunk};
    pj_ctx_t c2 = *c;
    c2.conn = NULL;
    oss_code_t rc = pj_connect(url, &r.conn, err);
    if (rc)
        return rc;
    if ((rc = oss_db_set_bulk(r.conn, 1, err))) {
        PQfinish(r.conn);
        return rc;
    }
    /* the second applier: without it, every chunk goes whole on c */
    oss_err_t e2 = {0};
    if (pj_connect(url, &c2.conn, &e2) || oss_db_set_bulk(c2.conn, 1, &e2)) {
        oss_warn("rebuild: one applier only (%s)", e2.msg);
        PQfinish(c2.conn);
        c2.conn = NULL;
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, reader_main, &r) != 0) {
        rc = oss_err_set(err, OSS_EINTERNAL, "could not start the reader");
        goto out;
    }
    for (;;) {
        pj_chunk_t ch;
        if ((rc = reader_next(&r, &ch, err)))
            break;
        if (ch.read == 0)
            break;
        rc = apply_split(c, c2.conn ? &c2 : NULL, &ch, err);
        *done_n += ch.read;
        pj_chunk_free(&ch);
        if (rc)
            break;
        progress_show(pr, *done_n, "running", 0);
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(th, NULL);
    while (r.len > 0) {
        pj_chunk_free(&r.q[r.head]);
        r.head = (r.head + 1) % READ_AHEAD;
        r.len--;
    }
out:
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    PQfinish(r.conn);
    PQfinish(c2.conn);
    return rc;
}

/* In the owner's transaction: last events, positions, renames. */
static oss_code_t
swap(PGconn *admin, pj_ctx_t *app_ctx, const char *schema, const char *target,
     int chunk, oss_err_t *err) {
    char sql[1024], old[PJ_SCHEMA_MAX + 8];
    oss_code_t rc;
    int64_t nread = 0;
    snprintf(old, sizeof old, "%s_old", schema);
    pj_ctx_t c = *app_ctx;
    c.conn = admin;
    const char *p[1] = {schema};

    if ((rc = pj_cmd(admin, "BEGIN", 0, NULL, err)))
        return rc;
    if ((rc = pj_cmd(admin, "SET LOCAL lock_timeout = '30s'", 0, NULL, err)) ||
        (rc = pj_cmd(admin, "SELECT pg_advisory_xact_lock(7303, hashtext($1))",
                     1, p, err)))
        goto done;
    do {
        rc = pj_journal_chunk(&c, chunk, PJ_CHUNK_IN_TX, &nread, err);
    } while (rc == OSS_OK && nread > 0);
    if (rc)
        goto done;
    PGresult *res = pj_exec(admin,
                            "SELECT count(*) FROM pg_namespace WHERE nspname "
                            "= $1",
                            1, p, err);
    if (!res) {
        rc = err ? err->code : OSS_EINTERNAL;
        goto done;
    }
    int exists = PQgetvalue(res, 0, 0)[0] != '0';
    PQclear(res);
    if (exists) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.positions (name, cluster_id, topic, "
                 "partition, next_offset, high_watermark) SELECT name, "
                 "cluster_id, topic, partition, next_offset, high_watermark "
                 "FROM %s.positions; INSERT INTO %s.catchup (name, xid, "
                 "position) SELECT name, xid, position FROM %s.catchup ON "
                 "CONFLICT DO NOTHING; DROP SCHEMA IF EXISTS %s CASCADE; "
                 "ALTER SCHEMA %s RENAME TO %s; ALTER SCHEMA %s RENAME TO %s; "
                 "DROP SCHEMA %s CASCADE",
                 target, schema, target, schema, old, schema, old, target,
                 schema, old);
    } else {
        snprintf(sql, sizeof sql, "ALTER SCHEMA %s RENAME TO %s", target,
                 schema);
    }
    /* several statements: simple query protocol */
    res = PQexec(admin, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char m[OSS_ERR_MSG_MAX];
        snprintf(m, sizeof m, "%s", PQresultErrorMessage(res));
        m[strcspn(m, "\n")] = '\0';
        PQclear(res);
        rc = oss_err_set(err,
                         PQstatus(admin) == CONNECTION_BAD ? OSS_EUNAVAIL
                                                           : OSS_EINTERNAL,
                         "could not swap in schema \"%s\": %s", target, m);
        goto done;
    }
    PQclear(res);
    rc = pj_cmd(admin, "COMMIT", 0, NULL, err);
    app_ctx->applied = c.applied;
done:
    if (rc)
        pj_rollback(admin);
    return rc;
}

oss_code_t
oss_projector_rebuild(const oss_config_t *cfg, bool progress_to_terminal,
                      oss_err_t *err) {
    pj_ctx_t c;
    PGconn *admin = NULL;
    PGresult *res = NULL;
    oss_code_t rc;
    progress_t pr = {0};
    char target[PJ_SCHEMA_MAX + 8], sql[512];
    int chunk = (int)oss_config_int(cfg, "projector.chunk_size");
    int64_t done_n = 0;

    if ((rc = pj_ctx_init(cfg, &c, err)))
        return rc;
    const char *admin_url = oss_config_str(cfg, "pg.admin_url");
    if (!admin_url || !*admin_url)
        return oss_err_field(err, OSS_EINVAL, "pg.admin_url",
                             "could not rebuild: \"pg.admin_url\" is not set "
                             "(the swap runs as the owner role)");
    snprintf(target, sizeof target, "%s_new", c.schema);
    if ((rc = pj_connect(admin_url, &admin, err)))
        return rc;
    if ((rc = pj_connect(oss_config_str(cfg, "pg.url"), &c.conn, err)))
        goto done;
    /* bulk work: a rebuild at scale outlasts a request's limits */
    if ((rc = oss_db_set_bulk(admin, 1, err)) ||
        (rc = oss_db_set_bulk(c.conn, 1, err)))
        goto done;
    memcpy(c.schema, target, strlen(target) + 1); /* checked: <= 44 chars */

    /* a fresh target schema, defined exactly like the served one */
    const char *tp[1] = {target};
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", target);
    if ((rc = pj_cmd(admin, sql, 0, NULL, err)) ||
        (rc = pj_cmd(admin, "SELECT oss.rm_define($1)", 1, tp, err)))
        goto done;

    oss_journal_filter_t below = {.below_horizon = 1};
    if ((rc = oss_journal_count(c.conn, &below, &pr.total, err)))
        goto done;
    pr.conn = c.conn;
    pr.schema = oss_config_str(cfg, "projector.schema");
    pr.terminal = progress_to_terminal;
    pr.tty = isatty(2);
    pr.started = now_s();
    oss_info("rebuild of %s started: %lld events into %s", pr.schema,
             (long long)pr.total, target);
    progress_show(&pr, 0, "running", 0);

    if ((rc =
             fill(oss_config_str(cfg, "pg.url"), &c, chunk, &pr, &done_n, err)))
        goto done;

    int64_t before = c.applied;
    if ((rc = swap(admin, &c, pr.schema, target, chunk, err)))
        goto done;
    done_n += c.applied - before; /* the last events, applied in the swap */
    if (done_n < pr.total)
        done_n = pr.total;
    progress_show(&pr, done_n, "swapped", 1);
    oss_info("rebuild of %s done: %lld events in %.1fs, swapped in", pr.schema,
             (long long)done_n, now_s() - pr.started);
done:
    if (rc && pr.conn) {
        progress_show(&pr, done_n, "failed", 1);
        oss_error("rebuild failed: %s", err ? err->msg : "");
    }
    PQclear(res);
    if (c.conn)
        PQfinish(c.conn);
    PQfinish(admin);
    return rc;
}
