/* The one Kafka producer of the code base (librdkafka): idempotent
 * (enable.idempotence, acks=all), one message per journal event on topic
 * bus.topic_prefix + stream_type, key stream_id, value the encoded
 * oss.v1.Envelope, CloudEvents binary-mode ce_* headers and the
 * oss_signature header (oss_bus_headers_fill(), see bus.h).
 * Delivery reports reach the caller's hook from oss_bus_producer_poll(),
 * _flush() and _send() (when the queue is full), in the caller's thread.
 * Thread-safety: one producer per thread. */
#ifndef OSS_BUS_PRODUCER_H
#define OSS_BUS_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "config/config.h"
#include "core/error.h"
#include "core/event.h"

typedef struct oss_bus_producer oss_bus_producer_t;

/* One delivery report (all borrowed, valid during the hook). */
typedef struct oss_bus_delivery {
    uint64_t seq; /* the seq given to oss_bus_producer_send() */
    const char *topic;
    int32_t partition;
    int64_t offset;
    int failed;        /* the message was not delivered */
    const char *error; /* why (static), when failed */
} oss_bus_delivery_t;

typedef struct oss_bus_producer_opts {
    const char *client_id;        /* NULL: "oss-producer" */
    const char *source;           /* ce_source (borrowed) */
    oss_bus_signer_t *signer;     /* borrowed; NULL: unsigned */
    long long message_timeout_ms; /* 0: librdkafka's default */
    size_t queue_max_messages;    /* 0: librdkafka's default */
    void (*on_delivery)(void *arg, const oss_bus_delivery_t *d);
    void (*on_fatal)(void *arg, const char *reason); /* a fatal error: the
                                                        handle is unusable */
    void *arg;
} oss_bus_producer_opts_t;

/* A producer for cfg (borrowed) with opts (copied; pointers borrowed, must
 * outlive it). Returns new in *out, caller frees with
 * oss_bus_producer_free(). OSS_EINVAL for a bad kafka.* property,
 * OSS_EUNAVAIL when librdkafka refuses. */
oss_code_t oss_bus_producer_new(const oss_config_t *cfg,
                                const oss_bus_producer_opts_t *opts,
                                oss_bus_producer_t **out, oss_err_t *err);
/* Destroys the handle; with purge, what is queued or in flight is dropped
 * first (no delivery report for it reaches the hook). NULL is fine. */
void oss_bus_producer_free(oss_bus_producer_t *p, int purge);

/* Encodes ev (borrowed) and queues it with its headers; librdkafka copies
 * the value. A full queue is waited out (serving delivery reports).
 * OSS_EUNAVAIL when librdkafka refuses the message, OSS_ENOMEM when it
 * could not be built, the envelope's error when ev does not encode. */
oss_code_t oss_bus_producer_send(oss_bus_producer_t *p, const oss_event_t *ev,
                                 uint64_t seq, oss_err_t *err);
/* Serves delivery reports and errors for up to timeout_ms. */
void oss_bus_producer_poll(oss_bus_producer_t *p, int timeout_ms);
/* Waits up to timeout_ms for every queued message to be delivered. */
void oss_bus_producer_flush(oss_bus_producer_t *p, int timeout_ms);
/* Messages queued or in flight (not yet reported). */
int oss_bus_producer_outq_len(oss_bus_producer_t *p);
/* The broker's cluster id into out within timeout_ms (0: what is known);
 * OSS_EUNAVAIL when none is known. */
oss_code_t oss_bus_producer_cluster_id(oss_bus_producer_t *p, int timeout_ms,
                                       char *out, size_t cap, oss_err_t *err);
/* The bootstrap list the handle was built with (borrowed). */
const char *oss_bus_producer_bootstrap(const oss_bus_producer_t *p);
/* The librdkafka handle, borrowed, for read-only queries (watermarks). */
rd_kafka_t *oss_bus_producer_handle(oss_bus_producer_t *p);

#endif
