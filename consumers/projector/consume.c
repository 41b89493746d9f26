/* The projector loop: Kafka (the bus consumer, src/bus/consumer.c: assign()
 * at stored positions, no group rebalance) -> verify signature -> decode ->
 * apply a batch and store its positions in ONE PostgreSQL transaction.
 * Positions carry the cluster id; a new cluster (embedded broker restarted
 * empty), missing positions or an out-of-range offset send it to the
 * journal (the consumer's catch-up hook): the consumer reads the high
 * watermarks first, the hook catches up from the journal to the commit
 * horizon, then the consumer joins Kafka at those watermarks (every event
 * published before them is below the horizon, every later one is read from
 * Kafka; dedupe covers the overlap). Single-threaded. */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus.h"
#include "bus/consumer.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "db/db.h"
#include "log/log.h"
#include "projector.h"
#include "projector_int.h"

/* The stream types this projector has appliers for (one topic each). */
static const char *const stream_types[] = {"account", "delivery", NULL};

typedef struct run {
    const oss_config_t *cfg;
    volatile sig_atomic_t *stop;
    oss_keyring_t ring;
    PGconn *conn;
    pj_ctx_t ctx;
    oss_bus_consumer_t *bus;
    oss_bus_position_t *saved; /* positions before a batch (retry) */
    size_t nsaved;
    int batch_size, flush_ms, chunk;
    rd_kafka_message_t **msgs;
    pj_item_t *items;
    size_t n;
    int64_t total_applied;
} run_t;

static void
nap(run_t *r, int ms) {
    for (int i = 0; i < ms / 50 && !*r->stop; i++)
        usleep(50000);
}

/* ---- PostgreSQL ---- */

static void
pg_drop(run_t *r) {
    if (r->conn)
        PQfinish(r->conn);
    r->conn = NULL;
    r->ctx.conn = NULL;
}

/* Connects and waits for the schema's run lock (hot standby until then). */
static oss_code_t
pg_open(run_t *r, oss_err_t *err) {
    oss_code_t rc = pj_connect(oss_config_str(r->cfg, "pg.url"), &r->conn, err);
    if (rc)
        return rc;
    r->ctx.conn = r->conn;
    const char *p[1] = {r->ctx.schema};
    int waiting = 0;
    while (!*r->stop) {
        PGresult *res = pj_exec(r->conn,
                                "SELECT pg_try_advisory_lock(7302, "
                                "hashtext($1))",
                                1, p, err);
        if (!res) {
            pg_drop(r);
            return err ? err->code : OSS_EUNAVAIL;
        }
        int got = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (got) {
            oss_info("projector %s active on schema %s", r->ctx.name,
                     r->ctx.schema);
            return OSS_OK;
        }
        if (!waiting++)
            oss_info("another projector holds schema %s; waiting as standby",
                     r->ctx.schema);
        nap(r, 1000);
    }
    pg_drop(r);
    return oss_err_set(err, OSS_EUNAVAIL, "stopped while waiting");
}

/* ---- Kafka ---- */

static void
kafka_close(run_t *r) {
    oss_bus_consumer_close(r->bus);
}

/* Upserts the positions of every part in r (next >= 0) in the open tx. */
static oss_code_t
store_rows(run_t *r, const char *cluster, const oss_bus_position_t *pos,
           size_t n, oss_err_t *err) {
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const oss_bus_position_t *pt = &pos[i];
        if (pt->next >= 0)
            json_array_append_new(
                rows, json_pack("{s:s, s:i, s:I, s:I}", "t", pt->topic, "p",
                                (int)pt->partition, "o", (json_int_t)pt->next,
                                "h", (json_int_t)pt->hi));
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    if (!text)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.positions AS p (name, cluster_id, topic, "
             "partition, next_offset, high_watermark) SELECT $1, $2, x.t, "
             "x.p, x.o, x.h FROM jsonb_to_recordset($3::jsonb) AS x(t text, "
             "p integer, o bigint, h bigint) ON CONFLICT (name, topic, "
             "partition) DO UPDATE SET cluster_id = excluded.cluster_id, "
             "next_offset = excluded.next_offset, high_watermark = "
             "excluded.high_watermark, updated_at = now()",
             r->ctx.schema);
    const char *p[3] = {r->ctx.name, cluster, text};
    oss_code_t rc = pj_cmd(r->conn, sql, 3, p, err);
    free(text);
    return rc;
}

static oss_code_t
store_positions(run_t *r, oss_err_t *err) {
    size_t n = 0;
    oss_bus_consumer_refresh_watermarks(r->bus);
    oss_bus_position_t *pos = oss_bus_consumer_positions(r->bus, &n);
    return store_rows(r, oss_bus_consumer_cluster_id(r->bus), pos, n, err);
}

/* Catches the schema up from the journal to the current horizon. */
static oss_code_t
journal_catch_up(run_t *r, oss_err_t *err) {
    int64_t nread = 0, total = 0, before = r->ctx.applied;
    oss_code_t rc;
    do {
        if ((rc = pj_journal_chunk(&r->ctx, r->chunk, PJ_CHUNK_LOCK_SWAP,
                                   &nread, err)))
            return rc;
        total += nread;
    } while (nread > 0 && !*r->stop);
    oss_info("journal catch-up read=%lld applied=%lld", (long long)total,
             (long long)(r->ctx.applied - before));
    return OSS_OK;
}

/* ---- the bus consumer's hooks ---- */

/* Stored positions of this projector name. */
static oss_code_t
hook_load(void *arg, oss_bus_consumer_t *c, oss_err_t *err) {
    run_t *r = arg;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT topic, partition, next_offset, cluster_id FROM "
             "%s.positions WHERE name = $1",
             r->ctx.schema);
    const char *p[1] = {r->ctx.name};
    PGresult *res = pj_exec(r->conn, sql, 1, p, err);
    if (!res)
        return err ? err->code : OSS_EUNAVAIL;
    for (int i = 0; i < PQntuples(res); i++)
        oss_bus_consumer_stored(
            c, PQgetvalue(res, i, 0), (int32_t)atoi(PQgetvalue(res, i, 1)),
            PQgetvalue(res, i, 3), strtoll(PQgetvalue(res, i, 2), NULL, 10));
    PQclear(res);
    return OSS_OK;
}

static oss_code_t
hook_catch_up(void *arg, const char *why, oss_err_t *err) {
    run_t *r = arg;
    (void)why; /* logged by the consumer */
    /* bulk work: a catch-up may read the whole journal */
    oss_code_t rc = oss_db_set_bulk(r->conn, 1, err);
    if (rc == OSS_OK)
        rc = journal_catch_up(r, err);
    oss_err_t e2 = {0};
    if (oss_db_set_bulk(r->conn, 0, &e2) && rc == OSS_OK)
        rc = oss_err_set(err, e2.code, "%s", e2.msg);
    return rc;
}

/* The joined positions (at the watermarks), with this cluster id. */
static oss_code_t
hook_store(void *arg, const char *cluster, const oss_bus_position_t *pos,
           size_t n, oss_err_t *err) {
    run_t *r = arg;
    oss_code_t rc;
    if ((rc = pj_cmd(r->conn, "BEGIN", 0, NULL, err)))
        return rc;
    if ((rc = store_rows(r, cluster, pos, n, err))) {
        pj_rollback(r->conn);
        return rc;
    }
    return pj_cmd(r->conn, "COMMIT", 0, NULL, err);
}

/* ---- batches ---- */

static void
batch_clear(run_t *r) {
    for (size_t i = 0; i < r->n; i++) {
        pj_item_clear(&r->items[i]);
        rd_kafka_message_destroy(r->msgs[i]);
    }
    r->n = 0;
}

/* Header value as JSON text: printable ASCII as is, otherwise "hex:...". */
static json_t *
header_json(const void *v, size_t n) {
    const unsigned char *b = v;
    int printable = 1;
    for (size_t i = 0; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e)
            printable = 0;
    if (!v)
        return json_null();
    if (printable)
        return json_stringn(v, n);
    char *hex = malloc(2 * n + 5);
    if (!hex)
        return json_null();
    memcpy(hex, "hex:", 4);
    oss_hex_encode(b, n, hex + 4);
    json_t *j = json_string(hex);
    free(hex);
    return j;
}

/* Verifies and decodes message m into item it (dl_kind set on failure). */
static void
prepare(run_t *r, rd_kafka_message_t *m, pj_item_t *it) {
    memset(it, 0, sizeof *it);
    it->topic = rd_kafka_topic_name(m->rkt);
    it->partition = m->partition;
    it->offset = m->offset;
    it->key = m->key;
    it->klen = m->key_len;
    it->val = m->payload;
    it->vlen = m->len;

    char ce_id[128] = "", sig[80] = "";
    int has_id = 0, has_sig = 0;
    rd_kafka_headers_t *hdrs = NULL;
    json_t *hj = json_object();
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            json_object_set_new(hj, name, header_json(val, size));
            if (strcmp(name, "ce_id") == 0 && val && size < sizeof ce_id) {
                memcpy(ce_id, val, size);
                ce_id[size] = '\0';
                has_id = 1;
            } else if (strcmp(name, OSS_BUS_SIG_HEADER) == 0 && val &&
                       size < sizeof sig) {
                memcpy(sig, val, size);
                sig[size] = '\0';
                has_sig = 1;
            }
        }
    }
    it->headers_json = json_dumps(hj, JSON_COMPACT);
    json_decref(hj);

    if (!has_sig) {
        it->dl_kind = "signature";
        snprintf(it->dl_reason, sizeof it->dl_reason,
                 "message has no %s header: not written by our relay",
                 OSS_BUS_SIG_HEADER);
        return;
    }
    if (!has_id || !oss_bus_verify(&r->ring, ce_id, m->key, m->key_len,
                                   m->payload, m->len, sig)) {
        it->dl_kind = "signature";
        snprintf(it->dl_reason, sizeof it->dl_reason,
                 "%s does not verify under the bus signing keys",
                 OSS_BUS_SIG_HEADER);
        return;
    }
    oss_err_t e = {0};
    if (oss_envelope_decode(m->payload, m->len, &it->ev, &e) != OSS_OK) {
        it->dl_kind = "decode";
        snprintf(it->dl_reason, sizeof it->dl_reason, "%s", e.msg);
        return;
    }
    it->has_ev = 1;
    if (!it->ev.stream_id[0] || it->ev.version < 1) {
        it->dl_kind = "decode";
        snprintf(it->dl_reason, sizeof it->dl_reason,
                 "invalid envelope: no stream id or version");
    }
}

/* Applies the batch in one transaction: dead letters, read models,
 * positions. single: each item in its own savepoint (after a batch failed). */
static oss_code_t
apply_batch(run_t *r, int single, oss_err_t *err) {
    oss_code_t rc;
    const char *p[1] = {r->ctx.schema};
    if ((rc = pj_cmd(r->conn, "BEGIN", 0, NULL, err)))
        return rc;
    if ((rc = pj_cmd(r->conn,
                     "SELECT pg_advisory_xact_lock_shared(7303, hashtext($1))",
                     1, p, err)))
        goto done;
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].dl_kind &&
            (rc = pj_dead_letter(&r->ctx, &r->items[i], r->items[i].dl_kind,
                                 r->items[i].dl_reason, err)))
            goto done;
    if (!single) {
        if ((rc = pj_apply(&r->ctx, r->items, r->n, err)))
            goto done;
    } else if ((rc = pj_apply_each(&r->ctx, r->items, r->n, err))) {
        goto done;
    }
    for (size_t i = 0; i < r->n; i++)
        oss_bus_consumer_advance(r->bus, r->msgs[i]);
    if ((rc = store_positions(r, err)))
        goto done;
    rc = pj_cmd(r->conn, "COMMIT", 0, NULL, err);
done:
    if (rc)
        pj_rollback(r->conn);
    return rc;
}

/* Commits the pending batch; on a non-connection failure retries it item by
 * item so that only the failing event is dead-lettered. */
static oss_code_t
flush(run_t *r, oss_err_t *err) {
    if (r->n == 0)
        return OSS_OK;
    pj_ctx_t saved = r->ctx;
    size_t np = 0;
    oss_bus_position_t *pos = oss_bus_consumer_positions(r->bus, &np);
    if (np > r->nsaved) {
        oss_bus_position_t *s = realloc(r->saved, np * sizeof *s);
        if (!s)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        r->saved = s;
        r->nsaved = np;
    }
    memcpy(r->saved, pos, np * sizeof *pos);
    oss_code_t rc = apply_batch(r, 0, err);
    if (rc && rc != OSS_EUNAVAIL && r->conn &&
        PQstatus(r->conn) == CONNECTION_OK) {
        oss_warn("batch failed (%s); applying it one event at a time",
                 err ? err->msg : "");
        r->ctx.applied = saved.applied;
        r->ctx.skipped = saved.skipped;
        r->ctx.dead = saved.dead;
        memcpy(pos, r->saved, np * sizeof *pos);
        rc = apply_batch(r, 1, err);
    }
    if (rc) {
        r->ctx.applied = saved.applied;
        r->ctx.skipped = saved.skipped;
        r->ctx.dead = saved.dead;
        memcpy(pos, r->saved, np * sizeof *pos);
        return rc;
    }
    if (r->ctx.applied != saved.applied || r->ctx.dead != saved.dead)
        oss_debug("batch messages=%zu applied=%lld skipped=%lld dead=%lld",
                  r->n, (long long)(r->ctx.applied - saved.applied),
                  (long long)(r->ctx.skipped - saved.skipped),
                  (long long)(r->ctx.dead - saved.dead));
    batch_clear(r);
    return OSS_OK;
}

/* Polls up to batch_size messages: waits up to flush_ms for the first,
 * then takes only what is already queued (group-commit style: under load
 * the messages that arrived while the last batch was applied make the next
 * batch big; at a trickle an event is applied at once instead of waiting
 * out flush_ms, which was most of the command-to-read-model latency). */
static void
poll_batch(run_t *r) {
    int64_t deadline = oss_mono_ms() + r->flush_ms;
    while (r->n < (size_t)r->batch_size && !*r->stop) {
        int64_t left = r->n ? 0 : deadline - oss_mono_ms();
        if (left < 0)
            left = 0;
        rd_kafka_message_t *m = oss_bus_consumer_poll(r->bus, (int)left);
        if (!m) {
            if (oss_bus_consumer_need_sync(r->bus))
                deadline = oss_mono_ms(); /* drain what is queued, resync */
            if (left == 0)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                oss_debug("kafka: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        r->msgs[r->n] = m;
        prepare(r, m, &r->items[r->n]);
        r->n++;
    }
}

oss_code_t
oss_projector_run(const oss_config_t *cfg, volatile sig_atomic_t *stop,
                  oss_err_t *err) {
    run_t *r = calloc(1, sizeof *r);
    oss_code_t rc = OSS_OK;
    if (!r)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    r->cfg = cfg;
    r->stop = stop;
    r->batch_size = (int)oss_config_int(cfg, "projector.batch_size");
    r->flush_ms = (int)oss_config_int(cfg, "projector.flush_ms");
    r->chunk = (int)oss_config_int(cfg, "projector.chunk_size");
    if ((rc = pj_ctx_init(cfg, &r->ctx, err)))
        goto done;
    if ((rc = oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"),
                               &r->ring, err)))
        goto done;
    oss_bus_consumer_opts_t bo = {.group_id = r->ctx.name,
                                  .stream_types = stream_types,
                                  .join = OSS_BUS_JOIN_WATERMARK,
                                  .hooks = {.load = hook_load,
                                            .catch_up = hook_catch_up,
                                            .store = hook_store,
                                            .arg = r}};
    if ((rc = oss_bus_consumer_new(cfg, &bo, &r->bus, err)))
        goto done;
    r->msgs = calloc((size_t)r->batch_size, sizeof *r->msgs);
    r->items = calloc((size_t)r->batch_size, sizeof *r->items);
    if (!r->msgs || !r->items) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }

    int64_t last_check = oss_mono_ms(), last_report = oss_mono_ms();
    int64_t reported_applied = 0, reported_dead = 0;
    while (!*stop) {
        oss_err_t e = {0};
        if (!r->conn) {
            batch_clear(r);
            kafka_close(r); /* positions will be re-read after the lock */
            if (pg_open(r, &e)) {
                if (!*stop) {
                    oss_warn("%s; retrying", e.msg);
                    nap(r, 1000);
                }
                continue;
            }
        }
        if (!oss_bus_consumer_is_open(r->bus)) {
            if (oss_bus_consumer_open(r->bus, &e)) {
                oss_warn("%s; retrying", e.msg);
                nap(r, 1000);
                continue;
            }
        }
        if (oss_bus_consumer_need_sync(r->bus)) {
            if (oss_bus_consumer_sync(r->bus, &e)) {
                oss_warn("could not position the consumer: %s", e.msg);
                if (e.code == OSS_EUNAVAIL && r->conn &&
                    PQstatus(r->conn) == CONNECTION_OK)
                    kafka_close(r); /* Kafka side: rebuild the handle */
                else
                    pg_drop(r);
                nap(r, 1000);
                continue;
            }
        }
        poll_batch(r);
        if (flush(r, &e)) {
            oss_warn("could not apply a batch: %s; retrying", e.msg);
            if (!r->conn || PQstatus(r->conn) != CONNECTION_OK)
                pg_drop(r);
            else
                nap(r, 1000);
            continue;
        }
        int64_t t = oss_mono_ms();
        if (t - last_check >= 1000) {
            last_check = t;
            if (oss_bus_consumer_bootstrap_changed(r->bus)) {
                oss_info("bootstrap list changed (was %s): rebuilding the "
                         "Kafka handle",
                         oss_bus_consumer_bootstrap(r->bus));
                kafka_close(r);
            }
        }
        if (t - last_report >= 10000) {
            last_report = t;
            if (r->ctx.applied != reported_applied ||
                r->ctx.dead != reported_dead)
                oss_info("progress applied=%lld skipped=%lld gaps_filled=%lld "
                         "dead_letters=%lld",
                         (long long)r->ctx.applied, (long long)r->ctx.skipped,
                         (long long)r->ctx.gaps_filled, (long long)r->ctx.dead);
            reported_applied = r->ctx.applied;
            reported_dead = r->ctx.dead;
        }
    }
    if (r->conn && r->n) {
        oss_err_t e = {0};
        if (flush(r, &e))
            oss_warn("could not apply the last batch: %s", e.msg);
    }
    oss_info("stopping applied=%lld skipped=%lld dead_letters=%lld",
             (long long)r->ctx.applied, (long long)r->ctx.skipped,
             (long long)r->ctx.dead);
done:
    if (r->msgs && r->items)
        batch_clear(r);
    oss_bus_consumer_free(r->bus);
    pg_drop(r);
    free(r->saved);
    free(r->msgs);
    free(r->items);
    free(r);
    return rc;
}
