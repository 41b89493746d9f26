/* Journal reading, hash-chain verification and checkpoints for `oss audit`.
 * Every read goes through the journal's scan interface (journal/scan.h),
 * which reads in keyset-paginated pages of short autocommit queries. */
#include "audit.h"
#include "core/bytes.h"
#include "journal/scan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    oss_journal_filter_t f = {.stream_id = stream_id,
                              .order = OSS_JOURNAL_ORDER_STREAM};
    return oss_journal_scan_list(conn, &f, out, err);
}

oss_code_t
oss_audit_verify(PGconn *conn, const char *stream_id, int64_t *nstreams,
                 int64_t *nevents, oss_audit_break_t *brk, oss_err_t *err) {
    return oss_audit_verify_all_breaks(conn, stream_id, NULL, NULL, nstreams,
                                       nevents, brk, err);
}

/* The state of a verification scan. */
typedef struct verify_st {
    FILE *report;
    oss_audit_break_t *brk;
    oss_event_t prev; /* owned */
    int have_prev;
    int64_t streams, events, breaks;
} verify_st_t;

static int
verify_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    verify_st_t *v = ctx;
    const oss_event_t *ev = &row->ev;
    char what[200];
    int same = v->have_prev && strcmp(v->prev.stream_id, ev->stream_id) == 0;
    if (!same)
        v->streams++;
    v->events++;
    if (!oss_audit_check_link(same ? &v->prev : NULL, ev, what, sizeof what)) {
        if (v->breaks++ == 0) {
            set_break(v->brk, ev, what);
            oss_err_set(err, OSS_ECORRUPT,
                        "hash chain broken in stream \"%s\" at "
                        "version %" PRId64 " (event %s): %s",
                        ev->stream_id, ev->version, ev->event_id, what);
        }
        if (!v->report)
            return 1;
        /* keep going: the chain continues from this event */
        fprintf(v->report,
                "BROKEN stream=%s version=%" PRId64 " event=%s "
                "position=%" PRId64 ": %s\n",
                ev->stream_id, ev->version, ev->event_id, ev->position, what);
    }
    oss_event_clear(&v->prev);
    if (oss_event_copy(&v->prev, ev, err))
        return -1;
    v->have_prev = 1;
    return 0;
}

oss_code_t
oss_audit_verify_all_breaks(PGconn *conn, const char *stream_id, FILE *report,
                            int64_t *nbreaks, int64_t *nstreams,
                            int64_t *nevents, oss_audit_break_t *brk,
                            oss_err_t *err) {
    verify_st_t v = {.report = report, .brk = brk};
    oss_journal_filter_t f = {.stream_id = stream_id,
                              .order = OSS_JOURNAL_ORDER_STREAM};
    oss_err_t first = {0};
    oss_code_t rc = oss_journal_scan(conn, &f, verify_row, &v, NULL, &first);
    if (rc == OSS_OK && v.breaks)
        rc = OSS_ECORRUPT; /* first holds the first break */
    else if (rc == OSS_OK && stream_id && v.events == 0)
        rc = oss_err_set(&first, OSS_ENOTFOUND, "stream \"%s\" has no event",
                         stream_id);
    if (rc && err) {
        *err = first;
        err->code = rc;
    }
    if (nbreaks)
        *nbreaks = v.breaks;
    oss_event_clear(&v.prev);
    if (nstreams)
        *nstreams = v.streams;
    if (nevents)
        *nevents = v.events;
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
    oss_hex_encode(cp->digest, 32, hex);
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
    if (oss_hex_decode(colon + 1, 64, cp->digest, sizeof cp->digest, NULL) !=
        OSS_OK)
        return oss_err_set(err, OSS_EINVAL,
                           "invalid checkpoint \"%s\": DIGEST is not hex", s);
    cp->size = size;
    return OSS_OK;
}

/* The state of a digest scan. */
typedef struct digest_st {
    uint8_t *d;
    int64_t *events, *broken;
    oss_audit_break_t *brk;
} digest_st_t;

static int
digest_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    digest_st_t *g = ctx;
    uint8_t h[32];
    (void)err;
    oss_audit_rehash(&row->ev, h);
    if (memcmp(h, row->ev.hash, 32) != 0 && (*g->broken)++ == 0)
        set_break(g->brk, &row->ev,
                  "stored hash does not match the event's content");
    oss_audit_digest_step(g->d, row->ev.position, row->ev.hash, h);
    (*g->events)++;
    return 0;
}

/* Digest over rows with position <= upto; *events = rows seen, *broken =
 * rows whose stored hash does not match their content (the first one in
 * *brk when brk is not NULL). */
static oss_code_t
digest_upto(PGconn *conn, int64_t upto, uint8_t d[32], int64_t *events,
            int64_t *broken, oss_audit_break_t *brk, oss_err_t *err) {
    memset(d, 0, 32);
    *events = 0;
    *broken = 0;
    if (upto < 1)
        return OSS_OK; /* an empty journal */
    digest_st_t g = {d, events, broken, brk};
    oss_journal_filter_t f = {.position_max = upto,
                              .order = OSS_JOURNAL_ORDER_POSITION};
    return oss_journal_scan(conn, &f, digest_row, &g, NULL, err);
}

oss_code_t
oss_audit_checkpoint(PGconn *conn, int wait_ms, oss_audit_checkpoint_t *cp,
                     oss_audit_break_t *brk, oss_err_t *err) {
    oss_code_t rc;
    oss_journal_horizon_t h;
    int64_t size = 0;
    memset(cp, 0, sizeof *cp);
    /* 1. the largest position committed now */
    if ((rc = oss_journal_max_position(conn, &size, err)))
        return rc;
    /* 2. a transaction that drew a position <= size but is not committed
     * holds a transaction id (assigned in the same INSERT, a moment after
     * the position): give that moment, then wait until every transaction
     * running at that point has ended. */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if ((rc = oss_journal_horizon(conn, &h, err)))
        return rc;
    uint64_t xmax = h.xmax;
    for (int waited = 0;; waited += 100) {
        if ((rc = oss_journal_horizon(conn, &h, err)))
            return rc;
        if (h.xmin >= xmax)
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
