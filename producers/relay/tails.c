/* Reading what Kafka already holds: the tail of every partition of our
 * topics, so that a new leader does not publish an event id twice. Only
 * messages whose signature verifies count (a forged message must not make
 * the relay skip a real event). */
#include "relay_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "log/log.h"

typedef struct tail_part {
    char topic[256];
    int32_t partition;
    int64_t hi;
    int done;
} tail_part_t;

static void
tails_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    oss_debug("tail reader: librdkafka %s: %s", fac, buf);
}

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

static int
uuid_text_ok(const char *s) {
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
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
    if (strcmp(ev.event_id, ids) == 0 && uuid_text_ok(ids) && ev.position > 0)
        push_found(t, ev.position, ids);
    oss_event_clear(&ev);
}

oss_code_t
oss_relay_read_tails(const oss_config_t *cfg, const oss_keyring_t *ring,
                     int64_t window, oss_relay_tails_t *t, oss_err_t *err) {
    char errstr[512], prefix[128];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *assign = NULL;
    tail_part_t *parts = NULL;
    size_t nparts = 0, remaining = 0;
    oss_code_t rc = OSS_OK;

    memset(t, 0, sizeof *t);
    snprintf(prefix, sizeof prefix, "%s",
             oss_config_str(cfg, "bus.topic_prefix"));
    if (!(conf = oss_bus_conf_new(cfg, err)))
        return err ? err->code : OSS_EINVAL;
    if (rd_kafka_conf_set(conf, "group.id", "oss-relay-tails", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                          sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return oss_err_set(err, OSS_EINTERNAL,
                           "could not configure tail reader: %s", errstr);
    }
    rd_kafka_conf_set_log_cb(conf, tails_log);
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not create tail reader: %s", errstr);
    }
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (kerr) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "could not read Kafka metadata: %s",
                         rd_kafka_err2str(kerr));
        goto done;
    }
    if (t->cluster_id[0] == '\0') {
        char *cid = rd_kafka_clusterid(rk, 5000);
        if (cid) {
            snprintf(t->cluster_id, sizeof t->cluster_id, "%s", cid);
            rd_kafka_mem_free(rk, cid);
        }
    }
    size_t total = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strncmp(md->topics[i].topic, prefix, strlen(prefix)) == 0)
            total += (size_t)md->topics[i].partition_cnt;
    parts = calloc(total ? total : 1, sizeof *parts);
    assign = rd_kafka_topic_partition_list_new((int)(total ? total : 1));
    if (!parts || !assign) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[i];
        if (strncmp(mt->topic, prefix, strlen(prefix)) != 0 || mt->err)
            continue;
        for (int p = 0; p < mt->partition_cnt; p++) {
            int64_t lo = 0, hi = 0;
            int32_t id = mt->partitions[p].id;
            kerr = rd_kafka_query_watermark_offsets(rk, mt->topic, id, &lo, &hi,
                                                    10000);
            if (kerr) {
                rc = oss_err_set(err, OSS_EUNAVAIL,
                                 "could not read the watermarks of %s [%d]: "
                                 "%s",
                                 mt->topic, (int)id, rd_kafka_err2str(kerr));
                goto done;
            }
            tail_part_t *tp = &parts[nparts++];
            snprintf(tp->topic, sizeof tp->topic, "%s", mt->topic);
            tp->partition = id;
            tp->hi = hi;
            oss_relay_mark(&t->marks, &t->nmarks, mt->topic, id, hi - 1);
            int64_t start = hi - window > lo ? hi - window : lo;
            if (start >= hi) {
                tp->done = 1;
                continue;
            }
            rd_kafka_topic_partition_list_add(assign, mt->topic, id)->offset =
                start;
            remaining++;
        }
    }
    oss_debug("tail reader: watermarks of %zu partitions read", nparts);
    if (remaining == 0)
        goto done;
    if ((kerr = rd_kafka_assign(rk, assign))) {
        rc = oss_err_set(err, OSS_EUNAVAIL,
                         "could not assign tail partitions: %s",
                         rd_kafka_err2str(kerr));
        goto done;
    }
    int64_t deadline = oss_mono_ms() + 60000;
    while (remaining > 0) {
        if (oss_mono_ms() > deadline) {
            rc = oss_err_set(err, OSS_EUNAVAIL,
                             "timed out reading partition tails (%zu "
                             "partitions left)",
                             remaining);
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        tail_part_t *tp = NULL;
        const char *tn = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        for (size_t i = 0; i < nparts; i++)
            if (parts[i].partition == m->partition &&
                strcmp(parts[i].topic, tn) == 0)
                tp = &parts[i];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (tp && !tp->done && m->offset >= tp->hi) {
                tp->done = 1;
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
            if (tp && !tp->done && m->offset >= tp->hi - 1) {
                tp->done = 1;
                remaining--;
            }
        }
        rd_kafka_message_destroy(m);
    }
done:
    if (rk && remaining)
        rd_kafka_assign(rk, NULL);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (assign)
        rd_kafka_topic_partition_list_destroy(assign);
    free(parts);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
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
