/* CloudEvents binary-mode headers (Kafka protocol binding) plus the
 * oss_signature header, so any Kafka tool can route and filter our messages
 * without decoding the protobuf value. */
#include "bus/bus.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/utc.h"

/* The header values that do not depend on the key: ce_type, ce_time. */
static void
type_and_time(const oss_event_t *ev, char *type_s, size_t tlen, char *time_s,
              size_t mlen) {
    /* ce_type: "oss.v1." + the payload message name without its package */
    const char *name = strrchr(ev->payload_type, '.');
    name = name ? name + 1 : ev->payload_type;
    snprintf(type_s, tlen, "oss.v1.%s", name);
    /* RFC 3339 UTC with microseconds, e.g. 2026-11-24T10:00:00.123456Z */
    oss_utc_format(ev->occurred_at_us, 6, time_s, mlen);
}

static int
add_common(rd_kafka_headers_t *h, const oss_event_t *ev, const char *source) {
    char time_s[64], type_s[96];
    type_and_time(ev, type_s, sizeof type_s, time_s, sizeof time_s);
    return rd_kafka_header_add(h, "ce_specversion", 14, "1.0", 3) ||
           rd_kafka_header_add(h, "ce_id", 5, ev->event_id, -1) ||
           rd_kafka_header_add(h, "ce_source", 9,
                               source ? source : "/oss/journal", -1) ||
           rd_kafka_header_add(h, "ce_type", 7, type_s, -1) ||
           rd_kafka_header_add(h, "ce_time", 7, time_s, -1) ||
           rd_kafka_header_add(h, "ce_subject", 10, ev->stream_id, -1) ||
           rd_kafka_header_add(h, "ce_dataschema", 13, OSS_BUS_DATASCHEMA,
                               -1) ||
           rd_kafka_header_add(h, "content-type", 12, "application/protobuf",
                               20);
}

rd_kafka_headers_t *
oss_bus_headers(const oss_event_t *ev, const char *source,
                const oss_keyring_t *ring, const void *val, size_t vlen) {
    char sig[65];
    rd_kafka_headers_t *h = rd_kafka_headers_new(9);
    if (!h)
        return NULL;
    add_common(h, ev, source);
    if (ring && ring->n) {
        oss_bus_sign(ring, ev->event_id, ev->stream_id, strlen(ev->stream_id),
                     val, vlen, sig);
        if (sig[0])
            rd_kafka_header_add(h, OSS_BUS_SIG_HEADER, -1, sig, -1);
    }
    return h;
}

int
oss_bus_headers_fill(rd_kafka_headers_t *h, const oss_event_t *ev,
                     const char *source, oss_bus_signer_t *signer,
                     const void *val, size_t vlen) {
    char sig[65];
    if (add_common(h, ev, source))
        return -1;
    if (signer) {
        oss_bus_signer_sign(signer, ev->event_id, ev->stream_id,
                            strlen(ev->stream_id), val, vlen, sig);
        if (!sig[0] ||
            rd_kafka_header_add(h, OSS_BUS_SIG_HEADER,
                                sizeof OSS_BUS_SIG_HEADER - 1, sig, 64))
            return -1;
    }
    return 0;
}
