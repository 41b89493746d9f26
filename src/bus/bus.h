/* The bus shell (librdkafka + protobuf-c): envelope encoding, CloudEvents
 * binary-mode headers, message signing, client configuration. The one
 * Kafka consumer is in consumer.h, the one producer in producer.h, the
 * embedded broker's mock cluster in mock.h: no program outside src/bus
 * creates a librdkafka handle, polls a consumer or produces itself.
 *
 * Message layout on Kafka (topic = bus.topic_prefix + stream_type, key =
 * stream_id, value = oss.v1.Envelope protobuf):
 *   ce_specversion "1.0", ce_id event_id, ce_source bus.source,
 *   ce_type "oss.v1.<PayloadType without package>" e.g.
 * "oss.v1.AccountRegistered", ce_time RFC 3339 UTC of occurred_at, ce_subject
 * stream_id, ce_dataschema OSS_BUS_DATASCHEMA (an absolute URI, as
 * CloudEvents requires), content-type
 * "application/protobuf", oss_signature hex HMAC-SHA256 (see oss_bus_sign).
 * Thread-safety: functions are reentrant; handles follow librdkafka's rules. */
#ifndef OSS_BUS_H
#define OSS_BUS_H

/* ce_dataschema of every message: the protobuf message the value holds, as
 * an absolute URI (a URN: CloudEvents 1.0 requires a URI, and a bare
 * "oss.v1.Envelope" fails every CloudEvents SDK's validation). The schema
 * itself is schemas/oss/v1/envelope.proto (schemas/descriptor.pb). */
#define OSS_BUS_DATASCHEMA "urn:oss:proto:oss.v1.Envelope"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "core/event.h"
#include "crypto/crypto.h"

#define OSS_BUS_SIG_HEADER "oss_signature"

/* Encodes ev as an oss.v1.Envelope; *out new, caller frees with free(). */
oss_code_t oss_envelope_encode(const oss_event_t *ev, uint8_t **out,
                               size_t *len, oss_err_t *err);
/* Encodes ev into *buf (capacity *cap), growing it with realloc when too
 * small, so a caller encoding many events reuses one buffer; *buf stays the
 * caller's (free()), also on error. */
oss_code_t oss_envelope_encode_buf(const oss_event_t *ev, uint8_t **buf,
                                   size_t *cap, size_t *len, oss_err_t *err);
/* Decodes an oss.v1.Envelope into *ev (caller clears with
 * oss_event_clear()). OSS_EMALFORMED on bad input; never crashes. */
oss_code_t oss_envelope_decode(const uint8_t *buf, size_t len, oss_event_t *ev,
                               oss_err_t *err);

/* Signature over (ce_id, key, value), each 4-byte big-endian length-prefixed,
 * with the current key of ring; out is 64 hex chars + NUL. */
void oss_bus_sign(const oss_keyring_t *ring, const char *ce_id, const void *key,
                  size_t klen, const void *val, size_t vlen, char out[65]);
/* 1 when sig_hex verifies under any key of ring, else 0. */
int oss_bus_verify(const oss_keyring_t *ring, const char *ce_id,
                   const void *key, size_t klen, const void *val, size_t vlen,
                   const char *sig_hex);

/* A signer holding one keyed HMAC context for the current key of a ring:
 * signing with it allocates nothing (for the relay's hot loop). Returns new
 * (NULL when the ring is empty or OpenSSL fails), caller frees with
 * oss_bus_signer_free(); the ring is copied into the context, not borrowed.
 * Not thread-safe: one signer per thread. */
typedef struct oss_bus_signer oss_bus_signer_t;
oss_bus_signer_t *oss_bus_signer_new(const oss_keyring_t *ring);
void oss_bus_signer_free(oss_bus_signer_t *s);
/* Same signature as oss_bus_sign(); out is "" when s is NULL or on error. */
void oss_bus_signer_sign(oss_bus_signer_t *s, const char *ce_id,
                         const void *key, size_t klen, const void *val,
                         size_t vlen, char out[65]);

/* Builds the CloudEvents + signature headers for ev (value = its encoded
 * envelope). Returns new headers, caller frees with rd_kafka_headers_destroy()
 * (or hands them to rd_kafka_producev, which then owns them). */
rd_kafka_headers_t *oss_bus_headers(const oss_event_t *ev, const char *source,
                                    const oss_keyring_t *ring, const void *val,
                                    size_t vlen);

/* The same headers, signed with signer (NULL: unsigned), into the fresh
 * headers object h (rd_kafka_headers_new(9); borrowed, filled). 0, or -1
 * when a header could not be added. */
int oss_bus_headers_fill(rd_kafka_headers_t *h, const oss_event_t *ev,
                         const char *source, oss_bus_signer_t *signer,
                         const void *val, size_t vlen);

/* The bootstrap list: kafka.bootstrap.servers if configured, else the first
 * line of bus.bootstrap_file. Writes into out; OSS_EUNAVAIL if neither. */
oss_code_t oss_bus_bootstrap(const oss_config_t *cfg, char *out, size_t outlen,
                             oss_err_t *err);
/* A new rd_kafka_conf_t with bootstrap.servers and every kafka.* property
 * applied; caller owns it (rd_kafka_new takes it on success). */
rd_kafka_conf_t *oss_bus_conf_new(const oss_config_t *cfg, oss_err_t *err);
/* The value of the kafka.<name> setting (the last one given), or NULL;
 * borrowed from cfg. */
const char *oss_bus_kafka_prop(const oss_config_t *cfg, const char *name);
/* topic name for a stream type into out. */
void oss_bus_topic(const oss_config_t *cfg, const char *stream_type, char *out,
                   size_t outlen);

#endif
