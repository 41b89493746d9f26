/* The one decoder of a journal row: binary-format columns JOURNAL_ROW_COLS
 * into oss_journal_row_t, without copies of the variable-length fields (the
 * relay and the projector read rows on their hot paths). */
#include "journal/row.h"

#include <string.h>

#include "core/bytes.h"
#include "core/uuid.h"

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 in unix microseconds */

static int
get_text(const PGresult *r, int row, int col, char *dst, size_t cap) {
    int n = PQgetlength(r, row, col);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    memcpy(dst, PQgetvalue(r, row, col), (size_t)n);
    dst[n] = '\0';
    return 1;
}

static int64_t
get_i64(const PGresult *r, int row, int col) {
    return (int64_t)oss_be64_get((const uint8_t *)PQgetvalue(r, row, col));
}

static int
fixed(const PGresult *r, int row, int col, int len) {
    return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == len;
}

const char *
journal_row_decode(const PGresult *r, int row, oss_journal_row_t *out) {
    oss_event_t *ev = &out->ev;
    memset(out, 0, sizeof *out);
    if (PQnfields(r) != JOURNAL_ROW_NCOLS || !fixed(r, row, 0, 8) ||
        !fixed(r, row, 1, 8))
        return "the row does not have the journal's columns";
    out->xid = oss_be64_get((const uint8_t *)PQgetvalue(r, row, 0));
    ev->position = get_i64(r, row, 1);
    if (!fixed(r, row, 2, 16) || !fixed(r, row, 5, 8) || !fixed(r, row, 6, 8) ||
        !fixed(r, row, 7, 8) || !fixed(r, row, 8, 2) || !fixed(r, row, 16, 4))
        goto bad;
    oss_uuid_format((const uint8_t *)PQgetvalue(r, row, 2), ev->event_id);
    if (!get_text(r, row, 3, ev->stream_id, sizeof ev->stream_id) ||
        !get_text(r, row, 4, ev->stream_type, sizeof ev->stream_type) ||
        !get_text(r, row, 9, ev->actor_id, sizeof ev->actor_id) ||
        !get_text(r, row, 10, ev->correlation_id, sizeof ev->correlation_id) ||
        !get_text(r, row, 11, ev->causation_id, sizeof ev->causation_id) ||
        !get_text(r, row, 12, ev->cause_id, sizeof ev->cause_id) ||
        !get_text(r, row, 14, ev->software_version,
                  sizeof ev->software_version) ||
        !get_text(r, row, 15, ev->payload_type, sizeof ev->payload_type))
        goto toolong;
    if (!fixed(r, row, 18, OSS_HASH_LEN) || !fixed(r, row, 19, OSS_HASH_LEN))
        goto hash;
    ev->version = get_i64(r, row, 5);
    ev->occurred_at_us = get_i64(r, row, 6) + PG_EPOCH_US;
    ev->recorded_at_us = get_i64(r, row, 7) + PG_EPOCH_US;
    const unsigned char *k2 = (const unsigned char *)PQgetvalue(r, row, 8);
    ev->actor_kind = (oss_actor_kind_t)(int16_t)(k2[0] << 8 | k2[1]);
    /* libpq ends every value with a NUL, binary ones included */
    ev->reason = PQgetisnull(r, row, 13) ? NULL : PQgetvalue(r, row, 13);
    const unsigned char *s4 = (const unsigned char *)PQgetvalue(r, row, 16);
    ev->schema_version =
        (int32_t)((uint32_t)s4[0] << 24 | (uint32_t)s4[1] << 16 |
                  (uint32_t)s4[2] << 8 | s4[3]);
    ev->payload = (uint8_t *)PQgetvalue(r, row, 17);
    ev->payload_len = (size_t)PQgetlength(r, row, 17);
    memcpy(ev->prev_hash, PQgetvalue(r, row, 18), OSS_HASH_LEN);
    memcpy(ev->hash, PQgetvalue(r, row, 19), OSS_HASH_LEN);
    return NULL;
toolong:
    memset(ev, 0, sizeof *ev);
    ev->position = get_i64(r, row, 1);
    return "a field is longer than the event layout allows";
hash:
    memset(ev, 0, sizeof *ev);
    ev->position = get_i64(r, row, 1);
    return "a hash is not 32 bytes";
bad:
    memset(ev, 0, sizeof *ev);
    ev->position = get_i64(r, row, 1);
    return "a column has an unexpected binary form";
}

uint64_t
journal_row_xid(const PGresult *r, int row) {
    return fixed(r, row, 0, 8)
               ? oss_be64_get((const uint8_t *)PQgetvalue(r, row, 0))
               : 0;
}

int64_t
journal_row_position(const PGresult *r, int row) {
    return fixed(r, row, 1, 8) ? get_i64(r, row, 1) : 0;
}

int64_t
journal_row_version(const PGresult *r, int row) {
    return fixed(r, row, 5, 8) ? get_i64(r, row, 5) : 0;
}
