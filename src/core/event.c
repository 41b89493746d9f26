/* Event ownership helpers and the canonical byte layout of the hash chain.
 * Pure: libc only. */
#include "core/event.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/bytes.h"

void
oss_event_clear(oss_event_t *ev) {
    if (!ev)
        return;
    free(ev->reason);
    free(ev->payload);
    memset(ev, 0, sizeof *ev);
}

oss_code_t
oss_event_copy(oss_event_t *dst, const oss_event_t *src, oss_err_t *err) {
    *dst = *src;
    dst->reason = NULL;
    dst->payload = NULL;
    if (src->reason && !(dst->reason = strdup(src->reason)))
        goto oom;
    if (src->payload_len) {
        if (!(dst->payload = malloc(src->payload_len)))
            goto oom;
        memcpy(dst->payload, src->payload, src->payload_len);
    }
    return OSS_OK;
oom:
    oss_event_clear(dst);
    return oss_err_set(err, OSS_ENOMEM, "could not copy event: out of memory");
}

static void
put_field(oss_buf_t *b, const void *data, size_t n) {
    uint8_t l[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                    (uint8_t)n};
    oss_buf_append(b, l, 4);
    oss_buf_append(b, data, n);
}

static void
put_str(oss_buf_t *b, const char *s) {
    put_field(b, s ? s : "", s ? strlen(s) : 0);
}

static void
put_i64(oss_buf_t *b, int64_t v) {
    uint8_t x[8];
    oss_be64_put(x, (uint64_t)v);
    put_field(b, x, 8);
}

oss_code_t
oss_event_canonical(const oss_event_t *ev, uint8_t **out, size_t *out_len,
                    oss_err_t *err) {
    oss_buf_t b = {0};
    static const char tag[] = "oss.event.v1";
    oss_buf_append(&b, tag, sizeof tag - 1);
    put_str(&b, ev->event_id);
    put_str(&b, ev->stream_id);
    put_str(&b, ev->stream_type);
    put_i64(&b, ev->version);
    put_i64(&b, ev->occurred_at_us);
    put_i64(&b, ev->recorded_at_us);
    put_i64(&b, (int64_t)ev->actor_kind);
    put_str(&b, ev->actor_id);
    put_str(&b, ev->correlation_id);
    put_str(&b, ev->causation_id);
    put_str(&b, ev->cause_id);
    put_str(&b, ev->reason);
    put_str(&b, ev->software_version);
    put_str(&b, ev->payload_type);
    put_i64(&b, (int64_t)ev->schema_version);
    put_field(&b, ev->payload, ev->payload_len);
    put_field(&b, ev->prev_hash, OSS_HASH_LEN);
    uint8_t *p = (uint8_t *)oss_buf_detach(&b, out_len);
    if (!p)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not encode event: out of memory");
    *out = p;
    return OSS_OK;
}

oss_event_t *
oss_event_list_push(oss_event_list_t *list) {
    if (list->len == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        oss_event_t *p = realloc(list->items, cap * sizeof *p);
        if (!p)
            return NULL;
        list->items = p;
        list->cap = cap;
    }
    oss_event_t *ev = &list->items[list->len++];
    memset(ev, 0, sizeof *ev);
    return ev;
}

void
oss_event_list_free(oss_event_list_t *list) {
    for (size_t i = 0; i < list->len; i++)
        oss_event_clear(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}
