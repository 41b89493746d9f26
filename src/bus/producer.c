/* The one Kafka producer: idempotent handle, topic cache, envelope +
 * CloudEvents/signature headers per event, delivery reports to a hook (see
 * producer.h). */
#include "bus/producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "log/log.h"

#define MAX_TOPICS 16

typedef struct topic_cache {
    char stream_type[32];
    rd_kafka_topic_t *rkt;
} topic_cache_t;

struct oss_bus_producer {
    const oss_config_t *cfg;
    oss_bus_producer_opts_t o;
    rd_kafka_t *rk;
    topic_cache_t topics[MAX_TOPICS];
    size_t ntopics;
    uint8_t *vbuf; /* envelope encoding buffer, reused */
    size_t vcap;
    char bootstrap[4096];
    int last_err_code;
    int64_t last_err_at;
};

static void
on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    oss_bus_producer_t *p = opaque;
    if (!p->o.on_delivery)
        return;
    oss_bus_delivery_t d = {.seq = (uint64_t)(uintptr_t)m->_private,
                            .topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                            .partition = m->partition,
                            .offset = m->offset,
                            .failed = m->err != RD_KAFKA_RESP_ERR_NO_ERROR,
                            .error = m->err ? rd_kafka_err2str(m->err) : NULL};
    p->o.on_delivery(p->o.arg, &d);
}

static void
on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    oss_bus_producer_t *p = opaque;
    if (rd_kafka_fatal_error(rk, NULL, 0)) {
        oss_error("fatal producer error: %s", reason);
        if (p->o.on_fatal)
            p->o.on_fatal(p->o.arg, reason);
        return;
    }
    /* the same error over and over (brokers down): once per 10 s */
    int64_t now = oss_mono_ms();
    if (code == p->last_err_code && now - p->last_err_at < 10000)
        return;
    p->last_err_code = code;
    p->last_err_at = now;
    oss_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)code),
             reason);
}

/* librdkafka's own log lines: debug only (errors come through on_error) */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    (void)level;
    oss_debug("librdkafka %s: %s", fac, buf);
}

oss_code_t
oss_bus_producer_new(const oss_config_t *cfg,
                     const oss_bus_producer_opts_t *opts,
                     oss_bus_producer_t **out, oss_err_t *err) {
    char errstr[512], tmo[32], qmax[32];
    *out = NULL;
    oss_bus_producer_t *p = calloc(1, sizeof *p);
    if (!p)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    p->cfg = cfg;
    if (opts)
        p->o = *opts;
    rd_kafka_conf_t *conf = oss_bus_conf_new(cfg, err);
    if (!conf) {
        free(p);
        return err && err->code ? err->code : OSS_EINVAL;
    }
    oss_bus_bootstrap(cfg, p->bootstrap, sizeof p->bootstrap, NULL);
    const char *props[6][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"client.id", p->o.client_id ? p->o.client_id : "oss-producer"}};
    size_t np = 3;
    if (p->o.message_timeout_ms > 0) {
        snprintf(tmo, sizeof tmo, "%lld", p->o.message_timeout_ms);
        props[np][0] = "message.timeout.ms";
        props[np++][1] = tmo;
    }
    if (p->o.queue_max_messages > 0) {
        snprintf(qmax, sizeof qmax, "%zu", p->o.queue_max_messages);
        props[np][0] = "queue.buffering.max.messages";
        props[np++][1] = qmax;
    }
    /* linger 1 ms unless kafka.linger.ms (or its alias) says otherwise:
     * librdkafka's 5 ms default was paid by every command on its way to
     * the read models at a trickle, and the relay hands over whole journal
     * pages at once anyway */
    int linger_set = oss_bus_kafka_prop(cfg, "linger.ms") ||
                     oss_bus_kafka_prop(cfg, "queue.buffering.max.ms");
    if (!linger_set) {
        props[np][0] = "linger.ms";
        props[np++][1] = "1";
    }
    for (size_t i = 0; i < np; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            free(p);
            return oss_err_set(err, OSS_EINVAL,
                               "could not configure the producer: %s", errstr);
        }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (!(p->rk =
              rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not create the producer: %s", errstr);
    }
    *out = p;
    return OSS_OK;
}

void
oss_bus_producer_free(oss_bus_producer_t *p, int purge) {
    if (!p)
        return;
    if (purge)
        rd_kafka_purge(p->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    for (size_t i = 0; i < p->ntopics; i++)
        rd_kafka_topic_destroy(p->topics[i].rkt);
    rd_kafka_destroy(p->rk);
    free(p->vbuf);
    free(p);
}

static rd_kafka_topic_t *
topic_for(oss_bus_producer_t *p, const char *stream_type) {
    for (size_t i = 0; i < p->ntopics; i++)
        if (strcmp(p->topics[i].stream_type, stream_type) == 0)
            return p->topics[i].rkt;
    char name[256];
    oss_bus_topic(p->cfg, stream_type, name, sizeof name);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, name, NULL);
    if (rkt && p->ntopics < MAX_TOPICS) {
        snprintf(p->topics[p->ntopics].stream_type,
                 sizeof p->topics[0].stream_type, "%s", stream_type);
        p->topics[p->ntopics++].rkt = rkt;
    }
    return rkt; /* when the cache is full it leaks one handle per call; 16
                   stream types are plenty */
}

oss_code_t
oss_bus_producer_send(oss_bus_producer_t *p, const oss_event_t *ev,
                      uint64_t seq, oss_err_t *err) {
    size_t vlen = 0;
    oss_code_t rc = oss_envelope_encode_buf(ev, &p->vbuf, &p->vcap, &vlen, err);
    if (rc)
        return rc;
    rd_kafka_topic_t *rkt = topic_for(p, ev->stream_type);
    rd_kafka_headers_t *h = rd_kafka_headers_new(9);
    if (!rkt || !h ||
        oss_bus_headers_fill(h, ev, p->o.source ? p->o.source : "", p->o.signer,
                             p->vbuf, vlen)) {
        if (h)
            rd_kafka_headers_destroy(h);
        return oss_err_set(err, OSS_ENOMEM, "could not build a message");
    }
    for (;;) {
        /* RD_KAFKA_MSG_F_COPY: librdkafka copies the value into the
         * message's own allocation, so p->vbuf is reused for the next */
        rd_kafka_resp_err_t kerr = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(rkt),
            RD_KAFKA_V_KEY(ev->stream_id, strlen(ev->stream_id)),
            RD_KAFKA_V_VALUE(p->vbuf, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
        if (!kerr)
            return OSS_OK;
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 10);
            continue;
        }
        rd_kafka_headers_destroy(h);
        return oss_err_set(err, OSS_EUNAVAIL, "could not produce: %s",
                           rd_kafka_err2str(kerr));
    }
}

void
oss_bus_producer_poll(oss_bus_producer_t *p, int timeout_ms) {
    rd_kafka_poll(p->rk, timeout_ms);
}

void
oss_bus_producer_flush(oss_bus_producer_t *p, int timeout_ms) {
    rd_kafka_flush(p->rk, timeout_ms);
}

int
oss_bus_producer_outq_len(oss_bus_producer_t *p) {
    return rd_kafka_outq_len(p->rk);
}

oss_code_t
oss_bus_producer_cluster_id(oss_bus_producer_t *p, int timeout_ms, char *out,
                            size_t cap, oss_err_t *err) {
    char *cid = rd_kafka_clusterid(p->rk, timeout_ms);
    if (!cid)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not reach Kafka at %s (no cluster id)",
                           p->bootstrap);
    snprintf(out, cap, "%s", cid);
    rd_kafka_mem_free(p->rk, cid);
    return OSS_OK;
}

const char *
oss_bus_producer_bootstrap(const oss_bus_producer_t *p) {
    return p->bootstrap;
}

rd_kafka_t *
oss_bus_producer_handle(oss_bus_producer_t *p) {
    return p->rk;
}
