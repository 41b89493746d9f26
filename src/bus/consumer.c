/* The one Kafka consumer: handle, partitions, stored positions, cluster-id
 * and watermark checks, journal catch-up hook, assign, poll (see
 * consumer.h). Single-threaded per consumer. */
#include "bus/consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "log/log.h"

#define MAX_PARTS 1024

struct oss_bus_consumer {
    const oss_config_t *cfg;
    oss_bus_consumer_opts_t o;
    rd_kafka_t *rk;
    char bootstrap[4096];
    char cluster[OSS_BUS_CLUSTER_MAX];
    oss_bus_position_t *pos;
    size_t n;
    int need_sync, force, other_cluster;
};

static void
quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    oss_debug("librdkafka %s: %s", fac, buf);
}

oss_code_t
oss_bus_consumer_new(const oss_config_t *cfg,
                     const oss_bus_consumer_opts_t *opts,
                     oss_bus_consumer_t **out, oss_err_t *err) {
    *out = NULL;
    if (!opts || !opts->group_id || !*opts->group_id)
        return oss_err_set(err, OSS_EINVAL,
                           "a Kafka consumer needs a group id");
    oss_bus_consumer_t *c = calloc(1, sizeof *c);
    if (!c || !(c->pos = calloc(MAX_PARTS, sizeof *c->pos))) {
        free(c);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    c->cfg = cfg;
    c->o = *opts;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 5000;
    *out = c;
    return OSS_OK;
}

void
oss_bus_consumer_close(oss_bus_consumer_t *c) {
    if (!c || !c->rk)
        return;
    rd_kafka_assign(c->rk, NULL);
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    c->rk = NULL;
    c->cluster[0] = '\0';
    c->n = 0;
}

void
oss_bus_consumer_free(oss_bus_consumer_t *c) {
    if (!c)
        return;
    oss_bus_consumer_close(c);
    free(c->pos);
    free(c);
}

int
oss_bus_consumer_is_open(const oss_bus_consumer_t *c) {
    return c && c->rk != NULL;
}

static int
conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, oss_err_t *err) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) ==
        RD_KAFKA_CONF_OK)
        return 0;
    oss_err_set(err, OSS_EINVAL, "could not set Kafka property %s: %s", k,
                errstr);
    return -1;
}

static void
add_part(oss_bus_consumer_t *c, const char *topic, int32_t partition) {
    if (c->n >= MAX_PARTS)
        return;
    oss_bus_position_t *p = &c->pos[c->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    p->next = OSS_BUS_OFFSET_NONE;
    p->lo = p->hi = -1;
}

/* The partitions of one topic (named) or of every topic with prefix. */
static oss_code_t
read_partitions(oss_bus_consumer_t *c, const char *topic, const char *prefix,
                oss_err_t *err) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt =
        topic ? rd_kafka_topic_new(c->rk, topic, NULL) : NULL;
    rd_kafka_resp_err_t e;
    oss_code_t rc = OSS_OK;
    if (topic && !rkt)
        e = RD_KAFKA_RESP_ERR__INVALID_ARG;
    else
        e = rd_kafka_metadata(c->rk, topic ? 0 : 1, rkt, &md, c->o.timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && topic &&
        (md->topic_cnt != 1 || md->topics[0].err ||
         md->topics[0].partition_cnt < 1))
        e = md->topic_cnt == 1 && md->topics[0].err
                ? md->topics[0].err
                : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (e) {
        rc = oss_err_set(err, OSS_EUNAVAIL,
                         "could not read partitions of topic \"%s\": %s",
                         topic ? topic : prefix, rd_kafka_err2str(e));
        goto done;
    }
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (!topic &&
            (mt->err || strncmp(mt->topic, prefix, strlen(prefix)) != 0))
            continue;
        for (int p = 0; p < mt->partition_cnt; p++)
            add_part(c, mt->topic, mt->partitions[p].id);
    }
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

oss_code_t
oss_bus_consumer_open(oss_bus_consumer_t *c, oss_err_t *err) {
    char errstr[512];
    oss_code_t rc;
    oss_bus_consumer_close(c);
    if ((rc =
             oss_bus_bootstrap(c->cfg, c->bootstrap, sizeof c->bootstrap, err)))
        return rc;
    rd_kafka_conf_t *conf = oss_bus_conf_new(c->cfg, err);
    if (!conf)
        return err && err->code ? err->code : OSS_EINVAL;
    const char *reset = c->o.offset_reset ? c->o.offset_reset
                        : c->o.join == OSS_BUS_JOIN_WATERMARK ? "error"
                                                              : "earliest";
    if (conf_set(conf, "group.id", c->o.group_id, err) ||
        (c->o.client_id && conf_set(conf, "client.id", c->o.client_id, err)) ||
        conf_set(conf, "enable.auto.commit", "false", err) ||
        conf_set(conf, "enable.auto.offset.store", "false", err) ||
        conf_set(conf, "auto.offset.reset", reset, err) ||
        conf_set(conf, "enable.partition.eof",
                 c->o.partition_eof ? "true" : "false", err) ||
        conf_set(conf, "log.connection.close", "false", err) ||
        /* latency: an empty fetch is answered after 10 ms rather than
         * librdkafka's 500 ms, unless kafka.fetch.wait.max.ms says
         * otherwise. A real broker answers as soon as data arrives; the
         * embedded mock broker never cuts the wait short
         * (rdkafka_mock_handlers.c, Fetch), so there every message that
         * arrives after an empty fetch waits out the rest of it: 20 ms was
         * 0-20 ms of every command's time to the read models */
        (!oss_bus_kafka_prop(c->cfg, "fetch.wait.max.ms") &&
         conf_set(conf, "fetch.wait.max.ms", "10", err))) {
        rd_kafka_conf_destroy(conf);
        return OSS_EINVAL;
    }
    if (c->o.quiet)
        rd_kafka_conf_set_log_cb(conf, quiet_log);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not create the Kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(c->rk);
    char *cid = rd_kafka_clusterid(c->rk, c->o.timeout_ms);
    if (!cid) {
        oss_bus_consumer_close(c);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not reach Kafka at %s: no cluster id",
                           c->bootstrap);
    }
    snprintf(c->cluster, sizeof c->cluster, "%s", cid);
    rd_kafka_mem_free(c->rk, cid);

    c->n = 0;
    if (c->o.stream_types) {
        for (size_t t = 0; c->o.stream_types[t]; t++) {
            char topic[OSS_BUS_TOPIC_MAX];
            oss_bus_topic(c->cfg, c->o.stream_types[t], topic, sizeof topic);
            if ((rc = read_partitions(c, topic, NULL, err)))
                break;
        }
    } else {
        const char *prefix = oss_config_str(c->cfg, "bus.topic_prefix");
        rc = read_partitions(c, NULL, prefix ? prefix : "", err);
    }
    if (rc) {
        oss_bus_consumer_close(c);
        return rc;
    }
    c->need_sync = 1;
    oss_info("kafka consumer %s ready bootstrap=%s cluster=%s partitions=%zu",
             c->o.group_id, c->bootstrap, c->cluster, c->n);
    return OSS_OK;
}

oss_bus_position_t *
oss_bus_consumer_find(oss_bus_consumer_t *c, const char *topic,
                      int32_t partition) {
    for (size_t i = 0; i < c->n; i++)
        if (c->pos[i].partition == partition &&
            strcmp(c->pos[i].topic, topic) == 0)
            return &c->pos[i];
    return NULL;
}

void
oss_bus_consumer_stored(oss_bus_consumer_t *c, const char *topic,
                        int32_t partition, const char *cluster_id,
                        int64_t next) {
    oss_bus_position_t *p = oss_bus_consumer_find(c, topic, partition);
    if (!p)
        return;
    if (strcmp(cluster_id ? cluster_id : "", c->cluster) != 0) {
        c->other_cluster = 1;
        return;
    }
    p->next = next;
    p->stored = 1;
}

const char *
oss_bus_catch_up_reason(int force, int other_cluster,
                        const oss_bus_position_t *pos, size_t n) {
    if (force)
        return "offset out of range";
    if (other_cluster)
        return "the broker's cluster id changed";
    for (size_t i = 0; i < n; i++) {
        if (!pos[i].stored)
            return "no stored positions";
        /* the watermark check: a stored position the broker no longer
         * covers (messages dropped, or fewer than we read) */
        if (pos[i].next < 0 || (pos[i].lo >= 0 && pos[i].next < pos[i].lo) ||
            (pos[i].hi >= 0 && pos[i].next > pos[i].hi))
            return "offset out of range";
    }
    return NULL;
}

oss_code_t
oss_bus_consumer_assign(oss_bus_consumer_t *c, oss_err_t *err) {
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)(c->n ? c->n : 1));
    for (size_t i = 0; i < c->n; i++)
        if (c->pos[i].next >= 0 || c->pos[i].next == OSS_BUS_OFFSET_BEGINNING)
            rd_kafka_topic_partition_list_add(l, c->pos[i].topic,
                                              c->pos[i].partition)
                ->offset = c->pos[i].next == OSS_BUS_OFFSET_BEGINNING
                               ? RD_KAFKA_OFFSET_BEGINNING
                               : c->pos[i].next;
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return oss_err_set(err, OSS_EUNAVAIL, "could not assign partitions: %s",
                           rd_kafka_err2str(e));
    c->need_sync = 0;
    return OSS_OK;
}

oss_code_t
oss_bus_consumer_query_watermarks(oss_bus_consumer_t *c, oss_err_t *err) {
    if (!c->rk)
        return oss_err_set(err, OSS_EUNAVAIL, "the Kafka consumer is closed");
    for (size_t i = 0; i < c->n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            c->rk, c->pos[i].topic, c->pos[i].partition, &lo, &hi,
            c->o.timeout_ms);
        if (e)
            return oss_err_set(
                err, OSS_EUNAVAIL, "could not read the watermarks of %s/%d: %s",
                c->pos[i].topic, (int)c->pos[i].partition, rd_kafka_err2str(e));
        c->pos[i].lo = lo;
        c->pos[i].hi = hi;
    }
    return OSS_OK;
}

oss_code_t
oss_bus_consumer_sync(oss_bus_consumer_t *c, oss_err_t *err) {
    oss_code_t rc;
    if (!c->rk)
        return oss_err_set(err, OSS_EUNAVAIL, "the Kafka consumer is closed");
    /* nothing of the old assignment may be delivered during the sync */
    rd_kafka_assign(c->rk, NULL);
    for (size_t i = 0; i < c->n; i++) {
        c->pos[i].next = OSS_BUS_OFFSET_NONE;
        c->pos[i].stored = 0;
    }
    c->other_cluster = 0;
    if (c->o.hooks.load && (rc = c->o.hooks.load(c->o.hooks.arg, c, err)))
        return rc;
    /* the watermarks, before any catch-up reads the journal's horizon */
    if ((rc = oss_bus_consumer_query_watermarks(c, err)))
        return rc;
    const char *why =
        oss_bus_catch_up_reason(c->force, c->other_cluster, c->pos, c->n);
    if (!why) {
        oss_info("resuming at stored positions cluster=%s", c->cluster);
        return oss_bus_consumer_assign(c, err);
    }
    oss_info("catching up from the journal (%s) cluster=%s", why, c->cluster);
    if (c->o.hooks.catch_up &&
        (rc = c->o.hooks.catch_up(c->o.hooks.arg, why, err)))
        return rc;
    for (size_t i = 0; i < c->n; i++) {
        oss_bus_position_t *p = &c->pos[i];
        if (c->o.join == OSS_BUS_JOIN_WATERMARK)
            p->next = p->hi;
        else if (c->force || !p->stored || p->next < p->lo || p->next > p->hi)
            p->next = OSS_BUS_OFFSET_BEGINNING;
    }
    if (c->o.hooks.store &&
        (rc = c->o.hooks.store(c->o.hooks.arg, c->cluster, c->pos, c->n, err)))
        return rc;
    c->force = 0;
    return oss_bus_consumer_assign(c, err);
}

int
oss_bus_consumer_need_sync(const oss_bus_consumer_t *c) {
    return c->need_sync;
}

rd_kafka_message_t *
oss_bus_consumer_poll(oss_bus_consumer_t *c, int timeout_ms) {
    if (!c->rk)
        return NULL;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (m && (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
              m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)) {
        oss_warn("offset out of range on %s/%d: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
                 rd_kafka_message_errstr(m));
        c->force = 1;
        c->need_sync = 1;
        rd_kafka_message_destroy(m);
        return NULL;
    }
    return m;
}

oss_bus_position_t *
oss_bus_consumer_positions(oss_bus_consumer_t *c, size_t *n) {
    *n = c->n;
    return c->pos;
}

void
oss_bus_consumer_advance(oss_bus_consumer_t *c, const rd_kafka_message_t *m) {
    if (!m->rkt)
        return;
    oss_bus_position_t *p =
        oss_bus_consumer_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    if (p && m->offset + 1 > p->next)
        p->next = m->offset + 1;
}

void
oss_bus_consumer_refresh_watermarks(oss_bus_consumer_t *c) {
    if (!c->rk)
        return;
    for (size_t i = 0; i < c->n; i++) {
        int64_t lo = 0, hi = -1;
        rd_kafka_get_watermark_offsets(c->rk, c->pos[i].topic,
                                       c->pos[i].partition, &lo, &hi);
        if (hi >= 0)
            c->pos[i].hi = hi;
    }
}

const char *
oss_bus_consumer_cluster_id(const oss_bus_consumer_t *c) {
    return c->cluster;
}

const char *
oss_bus_consumer_bootstrap(const oss_bus_consumer_t *c) {
    return c->bootstrap;
}

int
oss_bus_consumer_bootstrap_changed(const oss_bus_consumer_t *c) {
    char now[sizeof c->bootstrap];
    if (oss_bus_bootstrap(c->cfg, now, sizeof now, NULL) != OSS_OK)
        return 0;
    return strcmp(now, c->bootstrap) != 0;
}

const char *
oss_bus_message_header(const rd_kafka_message_t *m, const char *name, char *buf,
                       size_t cap) {
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        !v || len >= cap)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}
