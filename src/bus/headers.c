/* CloudEvents binary-mode headers (Kafka protocol binding) plus the
 * oss_signature header, so any Kafka tool can route and filter our messages
 * without decoding the protobuf value. */
#include "bus/bus.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* RFC 3339 UTC with microseconds, e.g. 2026-11-24T10:00:00.123456Z. */
static void
rfc3339_us(int64_t us, char *out, size_t outlen)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000000Z");
        return;
    }
    char base[40];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06dZ", base, (int)frac);
}

rd_kafka_headers_t *
oss_bus_headers(const oss_event_t *ev, const char *source,
                const oss_keyring_t *ring, const void *val, size_t vlen)
{
    char time_s[64], type_s[96], sig[65];
    rd_kafka_headers_t *h = rd_kafka_headers_new(9);
    if (!h)
        return NULL;

    /* ce_type: "oss.v1." + the payload message name without its package */
    const char *name = strrchr(ev->payload_type, '.');
    name = name ? name + 1 : ev->payload_type;
    snprintf(type_s, sizeof type_s, "oss.v1.%s", name);
    rfc3339_us(ev->occurred_at_us, time_s, sizeof time_s);

    rd_kafka_header_add(h, "ce_specversion", -1, "1.0", -1);
    rd_kafka_header_add(h, "ce_id", -1, ev->event_id, -1);
    rd_kafka_header_add(h, "ce_source", -1, source ? source : "/oss/journal",
                        -1);
    rd_kafka_header_add(h, "ce_type", -1, type_s, -1);
    rd_kafka_header_add(h, "ce_time", -1, time_s, -1);
    rd_kafka_header_add(h, "ce_subject", -1, ev->stream_id, -1);
    rd_kafka_header_add(h, "ce_dataschema", -1, "oss.v1.Envelope", -1);
    rd_kafka_header_add(h, "content-type", -1, "application/protobuf", -1);
    if (ring && ring->n) {
        oss_bus_sign(ring, ev->event_id, ev->stream_id, strlen(ev->stream_id),
                     val, vlen, sig);
        if (sig[0])
            rd_kafka_header_add(h, OSS_BUS_SIG_HEADER, -1, sig, -1);
    }
    return h;
}
