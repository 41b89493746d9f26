/* The notifier's Kafka side, through the bus consumer (src/bus/consumer.c):
 * assign() at the positions stored in oss.notifier_offsets with the
 * broker's cluster id (a broker restarted empty has a new id: the notifier
 * then starts from the beginning of what it holds, the ledger drops what
 * was already sent, and the journal sweep covers what it no longer holds);
 * signature check and decode of each message; the next offsets of the
 * finished ones. */
#include "notifier_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "log/log.h"

oss_code_t
nt_offsets_flush(notifier_t *n, oss_err_t *err) {
    if (!n->dirty)
        return OSS_OK;
    /* the high watermark librdkafka last saw goes beside each next offset:
     * /metrics (oss_notifier_lag_events) shows a backlog draining */
    if (n->consumer)
        oss_bus_consumer_refresh_watermarks(n->consumer);
    for (int p = 0; p < n->nparts; p++) {
        if (n->next[p] < 0)
            continue;
        const oss_bus_position_t *pos =
            n->consumer ? oss_bus_consumer_find(n->consumer, n->topic, p)
                        : NULL;
        int64_t hi = pos && pos->hi > n->next[p] ? pos->hi : n->next[p];
        char part[16], off[24], high[24];
        snprintf(part, sizeof part, "%d", p);
        snprintf(off, sizeof off, "%" PRId64, n->next[p]);
        snprintf(high, sizeof high, "%" PRId64, hi);
        const char *prm[6] = {NT_CONSUMER_NAME, n->topic, part,
                              n->cluster_id,    off,      high};
        if (nt_pg_cmd(
                n,
                "INSERT INTO oss.notifier_offsets (consumer, topic, part, "
                "cluster_id, next_offset, high_watermark) VALUES ($1, $2, "
                "$3::int, $4, $5::int8, $6::int8) ON CONFLICT (consumer, "
                "topic, part) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, "
                "next_offset = EXCLUDED.next_offset, high_watermark = "
                "EXCLUDED.high_watermark, updated_at = now()",
                6, prm, err))
            return OSS_EUNAVAIL;
        n->next[p] = -1;
    }
    n->dirty = 0;
    return OSS_OK;
}

/* Positions in oss.notifier_offsets (consumer, topic, part, cluster_id,
 * next_offset) handed to the bus consumer. */
static oss_code_t
hook_load(void *arg, oss_bus_consumer_t *c, oss_err_t *err) {
    notifier_t *n = arg;
    const char *prm[2] = {NT_CONSUMER_NAME, n->topic};
    PGresult *r = nt_pg_exec(n,
                             "SELECT part, next_offset, cluster_id FROM "
                             "oss.notifier_offsets WHERE consumer = $1 AND "
                             "topic = $2",
                             2, prm, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    for (int i = 0; i < PQntuples(r); i++)
        oss_bus_consumer_stored(c, n->topic, (int32_t)atoi(PQgetvalue(r, i, 0)),
                                PQgetvalue(r, i, 2),
                                strtoll(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return OSS_OK;
}

/* The catch-up of the notifier is its journal sweep: the partitions
 * without a usable position are read from the beginning of what the broker
 * holds (the ledger drops what was sent), and a sweep runs at the next
 * turn for what the broker no longer holds. */
static oss_code_t
hook_catch_up(void *arg, const char *why, oss_err_t *err) {
    notifier_t *n = arg;
    (void)why; /* logged by the consumer */
    (void)err;
    n->sweep_again = 1;
    return OSS_OK;
}

oss_code_t
nt_kafka_new(notifier_t *n, oss_err_t *err) {
    static const char *const types[] = {"account", NULL};
    oss_bus_consumer_opts_t o = {
        .group_id = "oss-notifier",
        .client_id = "oss-notifier",
        .stream_types = types,
        .join = OSS_BUS_JOIN_BEGINNING,
        .hooks = {.load = hook_load, .catch_up = hook_catch_up, .arg = n}};
    oss_bus_topic(n->cfg, "account", n->topic, sizeof n->topic);
    return oss_bus_consumer_new(n->cfg, &o, &n->consumer, err);
}

void
nt_kafka_close(notifier_t *n) {
    oss_bus_consumer_close(n->consumer);
}

int
nt_kafka_bootstrap_changed(notifier_t *n) {
    return oss_bus_consumer_is_open(n->consumer) &&
           oss_bus_consumer_bootstrap_changed(n->consumer);
}

oss_code_t
nt_kafka_ready(notifier_t *n, oss_err_t *err) {
    oss_code_t rc;
    if (!oss_bus_consumer_is_open(n->consumer) &&
        (rc = oss_bus_consumer_open(n->consumer, err)))
        return rc;
    if (!oss_bus_consumer_need_sync(n->consumer))
        return OSS_OK;
    if ((rc = oss_bus_consumer_sync(n->consumer, err))) {
        nt_kafka_close(n);
        return rc;
    }
    size_t np = 0, stored = 0;
    oss_bus_position_t *pos = oss_bus_consumer_positions(n->consumer, &np);
    for (size_t i = 0; i < np; i++)
        stored += pos[i].stored != 0;
    n->nparts = (int)(np > NT_MAX_PARTS ? NT_MAX_PARTS : np);
    for (int p = 0; p < NT_MAX_PARTS; p++)
        n->next[p] = -1;
    n->dirty = 0;
    snprintf(n->cluster_id, sizeof n->cluster_id, "%s",
             oss_bus_consumer_cluster_id(n->consumer));
    oss_info("consuming topic=%s partitions=%d cluster=%s stored_positions=%zu",
             n->topic, n->nparts, oss_bus_consumer_cluster_id(n->consumer),
             stored);
    return OSS_OK;
}

/* Verifies and decodes one Kafka message: 1 with *ev filled (caller
 * clears), else 0 (nothing to do with it). */
static int
decode_message(notifier_t *n, const rd_kafka_message_t *msg, oss_event_t *ev) {
    char ce_id[128], sig[80];
    const char *id = oss_bus_message_header(msg, "ce_id", ce_id, sizeof ce_id);
    const char *s =
        oss_bus_message_header(msg, OSS_BUS_SIG_HEADER, sig, sizeof sig);
    if (!id || !s ||
        !oss_bus_verify(&n->bus, id, msg->key, msg->key_len, msg->payload,
                        msg->len, s)) {
        n->rejected++;
        oss_warn("ignored a message without a valid signature: topic=%s "
                 "partition=%d offset=%" PRId64,
                 n->topic, (int)msg->partition, (int64_t)msg->offset);
        return 0;
    }
    oss_err_t err = {0};
    memset(ev, 0, sizeof *ev);
    if (oss_envelope_decode(msg->payload, msg->len, ev, &err) != OSS_OK) {
        oss_warn("ignored an undecodable envelope: partition=%d offset=%" PRId64
                 ": %s",
                 (int)msg->partition, (int64_t)msg->offset, err.msg);
        oss_event_clear(ev);
        return 0;
    }
    /* every event: registrations and activations have their messages, any
     * event may have targeted notices (oss.deliveries) */
    return 1;
}

/* Polls up to KAFKA_BATCH messages (waiting at most 200 ms for the first),
 * handles them and records the next offsets of the finished ones. */
#define KAFKA_BATCH 500

oss_code_t
nt_consume_batch(notifier_t *n) {
    rd_kafka_message_t *msgs[KAFKA_BATCH];
    oss_event_t *evs = NULL;
    int *msg_of = NULL;
    size_t nm = 0, k = 0, done = 0;
    oss_code_t rc = OSS_OK;
    rd_kafka_message_t *m = oss_bus_consumer_poll(n->consumer, 200);
    while (m) {
        msgs[nm++] = m;
        if (nm == KAFKA_BATCH)
            break;
        m = oss_bus_consumer_poll(n->consumer, 0);
    }
    if (nm == 0)
        return OSS_OK;
    evs = calloc(nm, sizeof *evs);
    msg_of = calloc(nm, sizeof *msg_of);
    if (!evs || !msg_of) {
        rc = OSS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nm; i++) {
        if (msgs[i]->err) {
            if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                oss_warn("consumer: %s", rd_kafka_message_errstr(msgs[i]));
            continue;
        }
        if (decode_message(n, msgs[i], &evs[k]))
            msg_of[k++] = (int)i;
    }
    rc = nt_process(n, evs, k, "kafka", &done);
out:;
    /* messages before the first unfinished account event are finished */
    size_t finished = rc == OSS_OK       ? nm
                      : rc == OSS_ENOMEM ? 0
                      : done < k         ? (size_t)msg_of[done]
                                         : nm;
    for (size_t i = 0; i < finished; i++) {
        int p = msgs[i]->partition;
        if (!msgs[i]->err && p >= 0 && p < n->nparts) {
            n->next[p] = (int64_t)msgs[i]->offset + 1;
            n->dirty = 1;
        }
    }
    for (size_t i = 0; i < k; i++)
        oss_event_clear(&evs[i]);
    for (size_t i = 0; i < nm; i++)
        rd_kafka_message_destroy(msgs[i]);
    free(evs);
    free(msg_of);
    return rc;
}
