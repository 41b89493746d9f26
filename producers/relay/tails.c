/* Reading what Kafka already holds: the tail of every partition of our
 * topics, so that a new leader does not publish an event id twice. Only
 * messages whose signature verifies count (a forged message must not make
 * the relay skip a real event). */
#include "relay_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "log/log.h"

static int
push_found(oss_relay_tails_t *t, int64_t pos, const char *event_id) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        int64_t *p = realloc(t->pos, cap * sizeof *p);
        if (!p)
            return -1;
        t->pos = p;
        char(*e)[OSS_UUID_STR] = realloc(t->ids, cap * sizeof *e);
        if (!e)
            return -1;
        t->ids = e;
        t->cap = cap;
    }
    t->pos[t->n] = pos;
    memcpy(t->ids[t->n], event_id, OSS_UUID_STR);
    t->n++;
    return 0;
}

static void
take_message(oss_relay_tails_t *t, const oss_keyring_t *ring,
             const rd_kafka_message_t *m) {
    rd_kafka_headers_t *h = NULL;
    const void *sig = NULL, *ceid = NULL;
    size_t siglen = 0, ceidlen = 0;
    char sigs[65], ids[OSS_UUID_STR];
    oss_event_t ev;
    oss_err_t err = {0};

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (rd_kafka_header_get_last(h, OSS_BUS_SIG_HEADER, &sig, &siglen) ||
        rd_kafka_header_get_last(h, "ce_id", &ceid, &ceidlen) || !sig ||
        !ceid || siglen != 64 || ceidlen != 36)
        return;
    memcpy(sigs, sig, 64);
    sigs[64] = '\0';
    memcpy(ids, ceid, 36);
    ids[36] = '\0';
    if (!oss_bus_verify(ring, ids, m->key, m->key_len, m->payload, m->len,
                        sigs))
        return;
    if (oss_envelope_decode(m->payload, m->len, &ev, &err))
        return;
    if (strcmp(ev.event_id, ids) == 0 && oss_uuid_valid(ids) && ev.position > 0)
        push_found(t, ev.position, ids);
    oss_event_clear(&ev);
}

oss_code_t
oss_relay_read_tails(const oss_config_t *cfg, const oss_keyring_t *ring,
                     int64_t window, oss_relay_tails_t *t, oss_err_t *err) {
    oss_bus_consumer_t *c = NULL;
    size_t nparts = 0, remaining = 0;
    uint8_t *done = NULL; /* per position: its tail is read */
    oss_code_t rc = OSS_OK;

    memset(t, 0, sizeof *t);
    /* every topic named bus.topic_prefix*, positioned here (no sync) */
    oss_bus_consumer_opts_t o = {.group_id = "oss-relay-tails",
                                 .join = OSS_BUS_JOIN_BEGINNING,
                                 .partition_eof = 1,
                                 .timeout_ms = 10000,
                                 .quiet = 1};
    if ((rc = oss_bus_consumer_new(cfg, &o, &c, err)))
        return rc;
    if ((rc = oss_bus_consumer_open(c, err)))
        goto done;
    snprintf(t->cluster_id, sizeof t->cluster_id, "%s",
             oss_bus_consumer_cluster_id(c));
    if ((rc = oss_bus_consumer_query_watermarks(c, err)))
        goto done;
    oss_bus_position_t *parts = oss_bus_consumer_positions(c, &nparts);
    if (!(done = calloc(nparts ? nparts : 1, 1))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nparts; i++) {
        oss_bus_position_t *tp = &parts[i];
        oss_relay_mark(&t->marks, &t->nmarks, tp->topic, tp->partition,
                       tp->hi - 1);
        int64_t start = tp->hi - window > tp->lo ? tp->hi - window : tp->lo;
        done[i] = start >= tp->hi;
        tp->next = done[i] ? OSS_BUS_OFFSET_NONE : start;
        if (!done[i])
            remaining++;
    }
    oss_debug("tail reader: watermarks of %zu partitions read", nparts);
    if (remaining == 0)
        goto done;
    if ((rc = oss_bus_consumer_assign(c, err)))
        goto done;
    int64_t deadline = oss_mono_ms() + 60000;
    while (remaining > 0) {
        if (oss_mono_ms() > deadline) {
            rc = oss_err_set(err, OSS_EUNAVAIL,
                             "timed out reading partition tails (%zu "
                             "partitions left)",
                             remaining);
            goto done;
        }
        rd_kafka_message_t *m = oss_bus_consumer_poll(c, 500);
        if (!m)
            continue;
        oss_bus_position_t *tp =
            m->rkt ? oss_bus_consumer_find(c, rd_kafka_topic_name(m->rkt),
                                           m->partition)
                   : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (tp && !done[tp - parts] && m->offset >= tp->hi) {
                done[tp - parts] = 1;
                remaining--;
            }
        } else if (m->err) {
            oss_warn("tail reader: %s", rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                rd_kafka_message_destroy(m);
                rc = oss_err_set(err, OSS_EUNAVAIL,
                                 "could not read partition tails: all "
                                 "brokers are down");
                goto done;
            }
        } else {
            t->scanned++;
            take_message(t, ring, m);
            if (tp && !done[tp - parts] && m->offset >= tp->hi - 1) {
                done[tp - parts] = 1;
                remaining--;
            }
        }
        rd_kafka_message_destroy(m);
    }
done:
    free(done);
    oss_bus_consumer_free(c);
    if (rc)
        oss_relay_tails_free(t);
    return rc;
}

void
oss_relay_tails_free(oss_relay_tails_t *t) {
    free(t->pos);
    free(t->ids);
    free(t->marks);
    memset(t, 0, sizeof *t);
}

void
oss_relay_mark(oss_relay_mark_t **marks, size_t *n, const char *topic,
               int32_t partition, int64_t offset) {
    for (size_t i = 0; i < *n; i++)
        if ((*marks)[i].partition == partition &&
            strcmp((*marks)[i].topic, topic) == 0) {
            if (offset > (*marks)[i].offset)
                (*marks)[i].offset = offset;
            (*marks)[i].touched = 1;
            return;
        }
    oss_relay_mark_t *m = realloc(*marks, (*n + 1) * sizeof *m);
    if (!m)
        return;
    *marks = m;
    snprintf(m[*n].topic, sizeof m[*n].topic, "%s", topic);
    m[*n].partition = partition;
    m[*n].offset = offset;
    m[*n].touched = 1;
    (*n)++;
}
