/* The in-memory form of one journal event (the protobuf Envelope's twin) and
 * its canonical byte layout for the per-stream hash chain. Pure: libc only.
 *
 * Canonical layout (what `hash` is the SHA-256 of), documented in
 * src/journal/README.md: the ASCII tag "oss.event.v1", then each field below
 * in this order, each as a 4-byte big-endian length followed by its bytes;
 * integers are written as 8-byte big-endian two's complement (length 8):
 *   event_id, stream_id, stream_type, version, occurred_at_us, recorded_at_us,
 *   actor_kind, actor_id, correlation_id, causation_id, cause_id, reason,
 *   software_version, payload_type, schema_version, payload, prev_hash
 * The global position is not hashed: the database assigns it at insert. */
#ifndef OSS_CORE_EVENT_H
#define OSS_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/uuid.h" /* OSS_UUID_STR */

#define OSS_ID_MAX 128
#define OSS_HASH_LEN 32

typedef enum oss_actor_kind {
    OSS_ACTOR_UNSPECIFIED = 0,
    OSS_ACTOR_BUSINESS_USER = 1,
    OSS_ACTOR_OFFICER = 2,
    OSS_ACTOR_SYSTEM_JOB = 3,
    OSS_ACTOR_OPERATOR = 4
} oss_actor_kind_t;

typedef struct oss_event {
    char event_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX];
    char stream_type[32];
    int64_t version;        /* 1-based */
    int64_t position;       /* 0 until the journal assigned it */
    int64_t occurred_at_us; /* unix microseconds */
    int64_t recorded_at_us;
    oss_actor_kind_t actor_kind;
    char actor_id[OSS_ID_MAX];
    char correlation_id[OSS_ID_MAX];
    char causation_id[OSS_ID_MAX];
    char cause_id[OSS_ID_MAX];
    char *reason; /* owned; NULL when none */
    char software_version[64];
    char payload_type[64]; /* "oss.v1.AccountRegistered" */
    int32_t schema_version;
    uint8_t *payload; /* owned */
    size_t payload_len;
    uint8_t prev_hash[OSS_HASH_LEN];
    uint8_t hash[OSS_HASH_LEN];
} oss_event_t;

/* Frees what the event owns (reason, payload) and zeroes it; the struct itself
 * is the caller's. */
void oss_event_clear(oss_event_t *ev);

/* Deep copy: dst receives new reason/payload buffers; caller clears dst. */
oss_code_t oss_event_copy(oss_event_t *dst, const oss_event_t *src,
                          oss_err_t *err);

/* Writes the canonical layout into a new buffer; *out is caller-freed with
 * free(). */
oss_code_t oss_event_canonical(const oss_event_t *ev, uint8_t **out,
                               size_t *out_len, oss_err_t *err);

/* A growable array of events that owns its elements. */
typedef struct oss_event_list {
    oss_event_t *items;
    size_t len, cap;
} oss_event_list_t;

/* Appends a zeroed event and returns it (owned by the list), or NULL on OOM. */
oss_event_t *oss_event_list_push(oss_event_list_t *list);
/* Clears every event and frees the array. */
void oss_event_list_free(oss_event_list_t *list);

#endif
