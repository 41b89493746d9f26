/* Journal reading, hash-chain verification and checkpoints for `oss audit`.
 * Every read is a short autocommit query over a keyset-paginated chunk. */
#include "audit.h"
#include "core/bytes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 2000

/* Binary-format result columns (see ROW_COLS). */
#define ROW_COLS                                                               \
    "position, event_id::text, stream_id, stream_type, version, "              \
    "(extract(epoch FROM occurred_at) * 1000000)::int8, "                      \
    "(extract(epoch FROM recorded_at) * 1000000)::int8, actor_kind::int8, "    \
    "actor_id, correlation_id, causation_id, cause_id, reason, "               \
    "software_version, payload_type, schema_version::int8, payload, "          \
    "prev_hash, hash"

static void
copy_str(char *dst, size_t cap, const PGresult *r, int row, int col) {
    int len = PQgetlength(r, row, col);
    size_t n = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
    memcpy(dst, PQgetvalue(r, row, col), n);
    dst[n] = '\0';
}

/* Fills ev (zeroed by the caller) from row `row` of a binary ROW_COLS
 * result. */
static oss_code_t
row_to_event(const PGresult *r, int row, oss_event_t *ev, oss_err_t *err) {
    ev->position = oss_be64_sget(PQgetvalue(r, row, 0));
    copy_str(ev->event_id, sizeof ev->event_id, r, row, 1);
    copy_str(ev->stream_id, sizeof ev->stream_id, r, row, 2);
    copy_str(ev->stream_type, sizeof ev->stream_type, r, row, 3);
    ev->version = oss_be64_sget(PQgetvalue(r, row, 4));
    ev->occurred_at_us = oss_be64_sget(PQgetvalue(r, row, 5));
    ev->recorded_at_us = oss_be64_sget(PQgetvalue(r, row, 6));
    ev->actor_kind = (oss_actor_kind_t)oss_be64_sget(PQgetvalue(r, row, 7));
    copy_str(ev->actor_id, sizeof ev->actor_id, r, row, 8);
    copy_str(ev->correlation_id, sizeof ev->correlation_id, r, row, 9);
    copy_str(ev->causation_id, sizeof ev->causation_id, r, row, 10);
    copy_str(ev->cause_id, sizeof ev->cause_id, r, row, 11);
    if (!PQgetisnull(r, row, 12)) {
        int len = PQgetlength(r, row, 12);
        if (!(ev->reason = malloc((size_t)len + 1)))
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        memcpy(ev->reason, PQgetvalue(r, row, 12), (size_t)len);
        ev->reason[len] = '\0';
    }
    copy_str(ev->software_version, sizeof ev->software_version, r, row, 13);
    copy_str(ev->payload_type, sizeof ev->payload_type, r, row, 14);
    ev->schema_version = (int32_t)oss_be64_sget(PQgetvalue(r, row, 15));
    ev->payload_len = (size_t)PQgetlength(r, row, 16);
    if (ev->payload_len) {
        if (!(ev->payload = malloc(ev->payload_len)))
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        memcpy(ev->payload, PQgetvalue(r, row, 16), ev->payload_len);
    }
    if (PQgetlength(r, row, 17) == OSS_HASH_LEN)
        memcpy(ev->prev_hash, PQgetvalue(r, row, 17), OSS_HASH_LEN);
    if (PQgetlength(r, row, 18) == OSS_HASH_LEN)
        memcpy(ev->hash, PQgetvalue(r, row, 18), OSS_HASH_LEN);
    return OSS_OK;
}

/* Runs sql with text parameters, binary results; NULL with *err set on
 * failure. Caller PQclear()s the result. */
static PGresult *
query(PGconn *conn, const char *sql, int n, const char *const *params,
      oss_err_t *err) {
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        oss_err_set(err, OSS_EUNAVAIL, "could not read the journal: %s",
                    PQresultErrorMessage(r));
        err->msg[strcspn(err->msg, "\n")] = '\0';
        PQclear(r);
        return NULL;
    }
    return r;
}

void
oss_audit_rehash(const oss_event_t *ev, uint8_t out[32]) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if (oss_event_canonical(ev, &buf, &len, NULL) != OSS_OK) {
        memset(out, 0, 32); /* out of memory: reported as a mismatch */
        return;
    }
    oss_sha256(buf, len, out);
    free(buf);
}

int
oss_audit_check_link(const oss_event_t *prev, const oss_event_t *ev, char *what,
                     size_t whatlen) {
    static const uint8_t zero[OSS_HASH_LEN];
    uint8_t h[OSS_HASH_LEN];
    int64_t want = prev ? prev->version + 1 : 1;
    if (ev->version != want) {
        snprintf(what, whatlen,
                 "version %" PRId64 " follows %" PRId64
                 ": an event is missing before it",
                 ev->version, want - 1);
        return 0;
    }
    if (memcmp(ev->prev_hash, prev ? prev->hash : zero, OSS_HASH_LEN) != 0) {
        snprintf(what, whatlen,
                 "prev_hash does not match the hash of version %" PRId64,
                 want - 1);
        return 0;
    }
    oss_audit_rehash(ev, h);
    if (memcmp(h, ev->hash, OSS_HASH_LEN) != 0) {
        snprintf(what, whatlen,
                 "stored hash does not match the event's content");
        return 0;
    }
    return 1;
}

static void
set_break(oss_audit_break_t *brk, const oss_event_t *ev, const char *what) {
    if (!brk)
        return;
    memset(brk, 0, sizeof *brk);
    snprintf(brk->stream_id, sizeof brk->stream_id, "%s", ev->stream_id);
    brk->version = ev->version;
    brk->position = ev->position;
    snprintf(brk->event_id, sizeof brk->event_id, "%s", ev->event_id);
    snprintf(brk->what, sizeof brk->what, "%s", what);
}

oss_code_t
oss_audit_load_stream(PGconn *conn, const char *stream_id,
                      oss_event_list_t *out, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    char after[24] = "0";
    for (;;) {
        const char *p[2] = {stream_id, after};
        PGresult *r = query(conn,
                            "SELECT " ROW_COLS " FROM oss.journal "
                            "WHERE stream_id = $1 AND version > $2::int8 "
                            "ORDER BY version LIMIT 2000",
                            2, p, err);
        if (!r)
            return OSS_EUNAVAIL;
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == OSS_OK; i++) {
            oss_event_t *ev = oss_event_list_push(out);
            if (!ev)
                rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            else
                rc = row_to_event(r, i, ev, err);
        }
        PQclear(r);
        if (rc || n < CHUNK)
            return rc;
        snprintf(after, sizeof after, "%" PRId64,
                 out->items[out->len - 1].version);
    }
}

oss_code_t
oss_audit_verify(PGconn *conn, const char *stream_id, int64_t *nstreams,
                 int64_t *nevents, oss_audit_break_t *brk, oss_err_t *err) {
    return oss_audit_verify_all_breaks(conn, stream_id, NULL, NULL, nstreams,
                                       nevents, brk, err);
}

oss_code_t
oss_audit_verify_all_breaks(PGconn *conn, const char *stream_id, FILE *report,
                            int64_t *nbreaks, int64_t *nstreams,
                            int64_t *nevents, oss_audit_break_t *brk,
                            oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    int64_t breaks = 0;
    oss_event_t prev = {0};
    int have_prev = 0;
    int64_t streams = 0, events = 0;
    char after_stream[OSS_ID_MAX] = "", after_version[24] = "0";
    char what[200];

    for (;;) {
        PGresult *r;
        if (stream_id) {
            const char *p[2] = {stream_id, after_version};
            r = query(conn,
                      "SELECT " ROW_COLS " FROM oss.journal "
                      "WHERE stream_id = $1 AND version > $2::int8 "
                      "ORDER BY version LIMIT 2000",
                      2, p, err);
        } else {
            const char *p[2] = {after_stream, after_version};
            r = query(conn,
                      "SELECT " ROW_COLS " FROM oss.journal "
                      "WHERE (stream_id, version) > ($1, $2::int8) "
                      "ORDER BY stream_id, version LIMIT 2000",
                      2, p, err);
        }
        if (!r) {
            rc = OSS_EUNAVAIL;
            goto done;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            oss_event_t ev = {0};
            if ((rc = row_to_event(r, i, &ev, err))) {
                oss_event_clear(&ev);
                PQclear(r);
                goto done;
            }
            int same = have_prev && strcmp(prev.stream_id, ev.stream_id) == 0;
            if (!same)
                streams++;
            events++;
            if (!oss_audit_check_link(same ? &prev : NULL, &ev, what,
                                      sizeof what)) {
                if (breaks++ == 0) {
                    set_break(brk, &ev, what);
                    oss_err_set(err, OSS_ECORRUPT,
                                "hash chain broken in stream \"%s\" at "
                                "version %" PRId64 " (event %s): %s",
                                ev.stream_id, ev.version, ev.event_id, what);
                }
                if (!report) {
                    rc = OSS_ECORRUPT;
                    oss_event_clear(&ev);
                    PQclear(r);
                    goto done;
                }
                /* keep going: the chain continues from this event */
                fprintf(report,
                        "BROKEN stream=%s version=%" PRId64 " event=%s "
                        "position=%" PRId64 ": %s\n",
                        ev.stream_id, ev.version, ev.event_id, ev.position,
                        what);
            }
            oss_event_clear(&prev);
            prev = ev; /* takes ownership */
            have_prev = 1;
        }
        PQclear(r);
        if (n < CHUNK)
            break;
        snprintf(after_stream, sizeof after_stream, "%s", prev.stream_id);
        snprintf(after_version, sizeof after_version, "%" PRId64, prev.version);
    }
    if (stream_id && events == 0)
        rc = oss_err_set(err, OSS_ENOTFOUND, "stream \"%s\" has no event",
                         stream_id);
    else if (breaks)
        rc = OSS_ECORRUPT;
done:
    if (nbreaks)
        *nbreaks = breaks;
    oss_event_clear(&prev);
    if (nstreams)
        *nstreams = streams;
    if (nevents)
        *nevents = events;
    return rc;
}

void
oss_audit_digest_step(uint8_t d[32], int64_t position, const uint8_t hash[32],
                      const uint8_t rehash[32]) {
    uint8_t buf[32 + 8 + 32 + 32];
    memcpy(buf, d, 32);
    for (int i = 0; i < 8; i++)
        buf[32 + i] = (uint8_t)((uint64_t)position >> (56 - 8 * i));
    memcpy(buf + 40, hash, 32);
    memcpy(buf + 72, rehash, 32);
    oss_sha256(buf, sizeof buf, d);
}

void
oss_audit_checkpoint_format(const oss_audit_checkpoint_t *cp, char *out,
                            size_t outlen) {
    char hex[65];
    oss_hex(cp->digest, 32, hex);
    snprintf(out, outlen, "%" PRId64 ":%s", cp->size, hex);
}

oss_code_t
oss_audit_checkpoint_parse(const char *s, oss_audit_checkpoint_t *cp,
                           oss_err_t *err) {
    memset(cp, 0, sizeof *cp);
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || colon == s || strlen(colon + 1) != 64)
        return oss_err_set(err, OSS_EINVAL,
                           "invalid checkpoint \"%s\": expected SIZE:DIGEST "
                           "(64 hex digits)",
                           s ? s : "");
    int64_t size = 0;
    for (const char *p = s; p < colon; p++) {
        if (*p < '0' || *p > '9' || size > (INT64_MAX - 9) / 10)
            return oss_err_set(err, OSS_EINVAL,
                               "invalid checkpoint \"%s\": SIZE is not a "
                               "non-negative integer",
                               s);
        size = size * 10 + (*p - '0');
    }
    for (int i = 0; i < 32; i++) {
        int hi = oss_hexval((unsigned char)colon[1 + 2 * i]);
        int lo = oss_hexval((unsigned char)colon[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return oss_err_set(err, OSS_EINVAL,
                               "invalid checkpoint \"%s\": DIGEST is not hex",
                               s);
        cp->digest[i] = (uint8_t)(hi << 4 | lo);
    }
    cp->size = size;
    return OSS_OK;
}

/* Digest over rows with position <= upto; *events = rows seen, *broken =
 * rows whose stored hash does not match their content (the first one in
 * *brk when brk is not NULL). */
static oss_code_t
digest_upto(PGconn *conn, int64_t upto, uint8_t d[32], int64_t *events,
            int64_t *broken, oss_audit_break_t *brk, oss_err_t *err) {
    char after[24] = "0", limit[24];
    uint8_t h[32];
    memset(d, 0, 32);
    *events = 0;
    *broken = 0;
    snprintf(limit, sizeof limit, "%" PRId64, upto);
    for (;;) {
        const char *p[2] = {after, limit};
        PGresult *r = query(conn,
                            "SELECT " ROW_COLS " FROM oss.journal "
                            "WHERE position > $1::int8 AND position <= "
                            "$2::int8 ORDER BY position LIMIT 2000",
                            2, p, err);
        if (!r)
            return OSS_EUNAVAIL;
        int n = PQntuples(r);
        int64_t last = 0;
        for (int i = 0; i < n; i++) {
            oss_event_t ev = {0};
            oss_code_t rc = row_to_event(r, i, &ev, err);
            if (rc) {
                oss_event_clear(&ev);
                PQclear(r);
                return rc;
            }
            oss_audit_rehash(&ev, h);
            if (memcmp(h, ev.hash, 32) != 0 && (*broken)++ == 0)
                set_break(brk, &ev,
                          "stored hash does not match the event's content");
            oss_audit_digest_step(d, ev.position, ev.hash, h);
            last = ev.position;
            (*events)++;
            oss_event_clear(&ev);
        }
        PQclear(r);
        if (n < CHUNK)
            return OSS_OK;
        snprintf(after, sizeof after, "%" PRId64, last);
    }
}

static int64_t
scalar_i64(PGconn *conn, const char *sql, oss_err_t *err, int *ok) {
    PGresult *r = PQexec(conn, sql);
    *ok = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        oss_err_set(err, OSS_EUNAVAIL, "could not read the journal: %s",
                    PQresultErrorMessage(r));
        err->msg[strcspn(err->msg, "\n")] = '\0';
        PQclear(r);
        return 0;
    }
    int64_t v =
        PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    *ok = 1;
    return v;
}

oss_code_t
oss_audit_checkpoint(PGconn *conn, int wait_ms, oss_audit_checkpoint_t *cp,
                     oss_audit_break_t *brk, oss_err_t *err) {
    int ok;
    memset(cp, 0, sizeof *cp);
    /* 1. the largest position committed now */
    int64_t size =
        scalar_i64(conn, "SELECT max(position) FROM oss.journal", err, &ok);
    if (!ok)
        return OSS_EUNAVAIL;
    /* 2. a transaction that drew a position <= size but is not committed
     * holds a transaction id (assigned in the same INSERT, a moment after
     * the position): give that moment, then wait until every transaction
     * running at that point has ended. */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t xmax = scalar_i64(
        conn, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8", err,
        &ok);
    if (!ok)
        return OSS_EUNAVAIL;
    for (int waited = 0;; waited += 100) {
        int64_t xmin = scalar_i64(
            conn, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8",
            err, &ok);
        if (!ok)
            return OSS_EUNAVAIL;
        if (xmin >= xmax)
            break;
        if (waited >= wait_ms)
            return oss_err_set(err, OSS_EUNAVAIL,
                               "could not take a checkpoint: transactions "
                               "older than %d ms are still running",
                               wait_ms);
        ts.tv_nsec = 100 * 1000 * 1000;
        nanosleep(&ts, NULL);
    }
    cp->size = size;
    if (brk)
        memset(brk, 0, sizeof *brk);
    return digest_upto(conn, size, cp->digest, &cp->events, &cp->broken, brk,
                       err);
}

oss_code_t
oss_audit_verify_against(PGconn *conn, const oss_audit_checkpoint_t *cp,
                         oss_audit_break_t *brk, oss_err_t *err) {
    uint8_t d[32];
    int64_t events, broken;
    oss_audit_break_t first;
    oss_code_t rc =
        digest_upto(conn, cp->size, d, &events, &broken, &first, err);
    if (rc)
        return rc;
    if (memcmp(d, cp->digest, 32) != 0) {
        if (brk) {
            memset(brk, 0, sizeof *brk);
            snprintf(brk->what, sizeof brk->what,
                     "digest over positions 1..%" PRId64
                     " differs from the checkpoint",
                     cp->size);
        }
        return oss_err_set(err, OSS_ECORRUPT,
                           "journal does not match checkpoint %" PRId64
                           ": an event up to position %" PRId64
                           " was changed, removed or re-chained (%" PRId64
                           " events now)",
                           cp->size, cp->size, events);
    }
    return OSS_OK;
}
