/* oss.v1.Envelope <-> oss_event_t (protobuf-c). Decoding is total: any byte
 * string either yields a bounded, NUL-terminated event or OSS_EMALFORMED. */
#include "bus/bus.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oss/v1/envelope.pb-c.h"

/* Largest payload / reason we accept from the wire (the mock broker's own
 * limit is about 1 MB per message anyway). */
#define ENVELOPE_MAX_BYTES (8u * 1024u * 1024u)

/* A field of fixed capacity `cap` must hold its string and the NUL. */
static int
fits(const char *s, size_t cap) {
    return memchr(s, '\0', cap) != NULL;
}

/* Fills env (and actor) from ev; strings are borrowed from ev. */
static oss_code_t
to_envelope(const oss_event_t *ev, Oss__V1__Envelope *env,
            Oss__V1__Actor *actor, oss_err_t *err) {
    if (!fits(ev->event_id, sizeof ev->event_id) ||
        !fits(ev->stream_id, sizeof ev->stream_id) ||
        !fits(ev->stream_type, sizeof ev->stream_type) ||
        !fits(ev->actor_id, sizeof ev->actor_id) ||
        !fits(ev->correlation_id, sizeof ev->correlation_id) ||
        !fits(ev->causation_id, sizeof ev->causation_id) ||
        !fits(ev->cause_id, sizeof ev->cause_id) ||
        !fits(ev->software_version, sizeof ev->software_version) ||
        !fits(ev->payload_type, sizeof ev->payload_type))
        return oss_err_set(err, OSS_EINTERNAL,
                           "could not encode event: a text field is not "
                           "terminated");
    if (ev->version < 0 || ev->position < 0)
        return oss_err_set(err, OSS_EINVAL,
                           "could not encode event \"%s\": negative version "
                           "or position",
                           ev->event_id);

    env->event_id = (char *)ev->event_id;
    env->stream_id = (char *)ev->stream_id;
    env->stream_type = (char *)ev->stream_type;
    env->stream_version = (uint64_t)ev->version;
    env->global_position = (uint64_t)ev->position;
    env->occurred_at_unix_us = ev->occurred_at_us;
    env->recorded_at_unix_us = ev->recorded_at_us;
    actor->kind = (Oss__V1__ActorKind)ev->actor_kind;
    actor->id = (char *)ev->actor_id;
    env->actor = actor;
    env->correlation_id = (char *)ev->correlation_id;
    env->causation_id = (char *)ev->causation_id;
    env->cause_id = (char *)ev->cause_id;
    env->reason = ev->reason ? ev->reason : (char *)"";
    env->software_version = (char *)ev->software_version;
    env->payload_type = (char *)ev->payload_type;
    env->payload_schema_version = (uint32_t)ev->schema_version;
    env->payload.data = ev->payload;
    env->payload.len = ev->payload ? ev->payload_len : 0;
    env->prev_hash.data = (uint8_t *)ev->prev_hash;
    env->prev_hash.len = OSS_HASH_LEN;
    env->hash.data = (uint8_t *)ev->hash;
    env->hash.len = OSS_HASH_LEN;
    return OSS_OK;
}

oss_code_t
oss_envelope_encode_buf(const oss_event_t *ev, uint8_t **buf, size_t *cap,
                        size_t *len, oss_err_t *err) {
    Oss__V1__Envelope env = OSS__V1__ENVELOPE__INIT;
    Oss__V1__Actor actor = OSS__V1__ACTOR__INIT;

    *len = 0;
    oss_code_t rc = to_envelope(ev, &env, &actor, err);
    if (rc)
        return rc;
    size_t n = oss__v1__envelope__get_packed_size(&env);
    if (!*buf || *cap < n) {
        size_t want = n < 1024 ? 1024 : n * 2;
        uint8_t *p = realloc(*buf, want);
        if (!p)
            return oss_err_set(err, OSS_ENOMEM,
                               "could not encode event: out of memory");
        *buf = p;
        *cap = want;
    }
    size_t packed = oss__v1__envelope__pack(&env, *buf);
    if (packed != n)
        return oss_err_set(err, OSS_EINTERNAL,
                           "could not encode event: packed %zu of %zu bytes",
                           packed, n);
    *len = n;
    return OSS_OK;
}

oss_code_t
oss_envelope_encode(const oss_event_t *ev, uint8_t **out, size_t *len,
                    oss_err_t *err) {
    uint8_t *buf = NULL;
    size_t cap = 0;

    *out = NULL;
    *len = 0;
    oss_code_t rc = oss_envelope_encode_buf(ev, &buf, &cap, len, err);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return OSS_OK;
}

/* Copies src into dst[cap]; 0 when it (and its NUL) does not fit. */
static int
copy_str(char *dst, size_t cap, const char *src) {
    if (!src)
        src = "";
    size_t n = strnlen(src, cap);
    if (n >= cap)
        return 0;
    memcpy(dst, src, n + 1);
    return 1;
}

oss_code_t
oss_envelope_decode(const uint8_t *buf, size_t len, oss_event_t *ev,
                    oss_err_t *err) {
    Oss__V1__Envelope *env = NULL;
    oss_code_t rc = OSS_OK;
    const char *what = NULL;

    memset(ev, 0, sizeof *ev);
    if (!buf && len)
        return oss_err_set(err, OSS_EMALFORMED, "invalid envelope: no data");
    if (len > ENVELOPE_MAX_BYTES)
        return oss_err_set(err, OSS_EMALFORMED,
                           "invalid envelope: %zu bytes is over the limit of "
                           "%u",
                           len, ENVELOPE_MAX_BYTES);
    env = oss__v1__envelope__unpack(NULL, len, buf ? buf : (const uint8_t *)"");
    if (!env)
        return oss_err_set(err, OSS_EMALFORMED,
                           "invalid envelope: not an oss.v1.Envelope message");

    if (!copy_str(ev->event_id, sizeof ev->event_id, env->event_id))
        what = "event_id";
    else if (!copy_str(ev->stream_id, sizeof ev->stream_id, env->stream_id))
        what = "stream_id";
    else if (!copy_str(ev->stream_type, sizeof ev->stream_type,
                       env->stream_type))
        what = "stream_type";
    else if (!copy_str(ev->actor_id, sizeof ev->actor_id,
                       env->actor ? env->actor->id : ""))
        what = "actor.id";
    else if (!copy_str(ev->correlation_id, sizeof ev->correlation_id,
                       env->correlation_id))
        what = "correlation_id";
    else if (!copy_str(ev->causation_id, sizeof ev->causation_id,
                       env->causation_id))
        what = "causation_id";
    else if (!copy_str(ev->cause_id, sizeof ev->cause_id, env->cause_id))
        what = "cause_id";
    else if (!copy_str(ev->software_version, sizeof ev->software_version,
                       env->software_version))
        what = "software_version";
    else if (!copy_str(ev->payload_type, sizeof ev->payload_type,
                       env->payload_type))
        what = "payload_type";
    if (what) {
        rc = oss_err_field(err, OSS_EMALFORMED, what,
                           "invalid envelope: field \"%s\" is too long", what);
        goto done;
    }
    if (env->stream_version > INT64_MAX || env->global_position > INT64_MAX ||
        env->payload_schema_version > INT32_MAX) {
        rc = oss_err_set(err, OSS_EMALFORMED,
                         "invalid envelope: version, position or schema "
                         "version out of range");
        goto done;
    }
    if (env->prev_hash.len != OSS_HASH_LEN || env->hash.len != OSS_HASH_LEN) {
        rc = oss_err_field(err, OSS_EMALFORMED, "hash",
                           "invalid envelope: hashes must be %d bytes",
                           OSS_HASH_LEN);
        goto done;
    }
    int kind = env->actor ? (int)env->actor->kind : 0;
    if (kind < OSS_ACTOR_UNSPECIFIED || kind > OSS_ACTOR_OPERATOR) {
        rc = oss_err_field(err, OSS_EMALFORMED, "actor.kind",
                           "invalid envelope: unknown actor kind %d", kind);
        goto done;
    }
    ev->actor_kind = (oss_actor_kind_t)kind;
    ev->version = (int64_t)env->stream_version;
    ev->position = (int64_t)env->global_position;
    ev->occurred_at_us = env->occurred_at_unix_us;
    ev->recorded_at_us = env->recorded_at_unix_us;
    ev->schema_version = (int32_t)env->payload_schema_version;
    memcpy(ev->prev_hash, env->prev_hash.data, OSS_HASH_LEN);
    memcpy(ev->hash, env->hash.data, OSS_HASH_LEN);
    if (env->reason && env->reason[0] && !(ev->reason = strdup(env->reason))) {
        rc = oss_err_set(err, OSS_ENOMEM,
                         "could not decode envelope: out of memory");
        goto done;
    }
    if (env->payload.len) {
        if (!(ev->payload = malloc(env->payload.len))) {
            rc = oss_err_set(err, OSS_ENOMEM,
                             "could not decode envelope: out of memory");
            goto done;
        }
        memcpy(ev->payload, env->payload.data, env->payload.len);
        ev->payload_len = env->payload.len;
    }
done:
    oss__v1__envelope__free_unpacked(env, NULL);
    if (rc)
        oss_event_clear(ev);
    return rc;
}
