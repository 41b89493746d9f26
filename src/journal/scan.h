/* Reading the journal: the one scan interface over oss.journal. Every read
 * of the table outside the write path goes through here: the commit
 * horizon, a filtered scan delivering decoded rows, and the few aggregates
 * callers need. The SQL is built inside src/journal from the filter (always
 * parameterised); callers never pass SQL text.
 *
 * Every function runs on the caller's PGconn (borrowed) and inside the
 * caller's transaction when one is open: none issues BEGIN or COMMIT, so a
 * scan sees the caller's own uncommitted rows and runs under the caller's
 * locks (the projector fills gaps under its row locks, and its rebuild swap
 * catches up on the owner's connection). Outside a transaction each
 * statement is its own short autocommit query.
 *
 * The commit horizon: PostgreSQL assigns a transaction id at a
 * transaction's first write, and transactions commit in any order. Every
 * transaction whose id is below pg_snapshot_xmin(pg_current_snapshot()) has
 * ended, so the rows with xid below it are final: a reader going forward in
 * (xid, position) order below the horizon never skips a row that commits
 * later (src/journal/README.md, invariant 3).
 *
 * Thread-safety: as for the PGconn (one per thread). */
#ifndef OSS_JOURNAL_SCAN_H
#define OSS_JOURNAL_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/event.h"

/* A position in commit order: rows are ordered by (xid, position). The zero
 * cursor is before every row. */
typedef struct oss_journal_cursor {
    uint64_t xid; /* the writing transaction's id (xid8) */
    int64_t position;
} oss_journal_cursor_t;

/* The commit horizon as the server sees it now: every transaction with an
 * id below xmin has ended; ids at or above xmax had not started. */
typedef struct oss_journal_horizon {
    uint64_t xmin;
    uint64_t xmax;
} oss_journal_horizon_t;

/* Reads the current horizon (the only copy of that query in the tree).
 * OSS_EUNAVAIL when the connection is lost. Borrows conn. */
oss_code_t oss_journal_horizon(PGconn *conn, oss_journal_horizon_t *out,
                               oss_err_t *err);

typedef enum oss_journal_order {
    OSS_JOURNAL_ORDER_POSITION = 0,  /* position ascending (the default) */
    OSS_JOURNAL_ORDER_POSITION_DESC, /* newest first */
    OSS_JOURNAL_ORDER_COMMIT,        /* (xid, position): the relay's order */
    OSS_JOURNAL_ORDER_STREAM,        /* (stream_id, version) ascending */
    OSS_JOURNAL_ORDER_STREAM_DESC    /* (stream_id, version) descending */
} oss_journal_order_t;

/* What a scan returns. Zero-initialise and set what you need: every field
 * left zero / NULL does not filter. All conditions apply together (AND).
 * Lists: a non-NULL pointer with a count of 0 matches nothing. Everything is
 * borrowed for the call. */
typedef struct oss_journal_filter {
    const char *stream_id;      /* one stream */
    const char *const *streams; /* any of these streams */
    size_t nstreams;
    int64_t version_min;               /* inclusive; 0 = unbounded */
    int64_t version_max;               /* inclusive; 0 = unbounded */
    int64_t position_min;              /* inclusive; 0 = unbounded */
    int64_t position_max;              /* inclusive; 0 = unbounded */
    const oss_journal_cursor_t *after; /* rows after it in commit order */
    int below_horizon;                 /* only rows below the commit horizon */
    const char *const *types;          /* payload_type is one of these */
    size_t ntypes;
    oss_actor_kind_t actor_kind; /* 0 (unspecified) = any */
    const char *actor_id;
    const char *correlation_id;
    const char *causation_id;
    const char *const *event_ids; /* event_id is one of these (strings that
                                     are not a UUID match nothing) */
    size_t nevent_ids;
    int64_t recorded_from_us; /* recorded_at >= it (unix us); 0 = unbounded */
    int64_t recorded_to_us;   /* recorded_at < it; 0 = unbounded */
    int latest_per_stream;    /* only the highest matching version of each
                                 stream, in stream order (order ignored) */
    oss_journal_order_t order;
    int64_t limit;         /* most rows delivered; 0 = all */
    int deliver_malformed; /* hand rows that do not fit oss_event_t to the
                              callback (row->malformed set) instead of
                              failing the scan with OSS_ECORRUPT */
} oss_journal_filter_t;

/* One decoded journal row. ev.reason and ev.payload point into the scan's
 * result: valid only until the callback returns; never oss_event_clear()
 * it, oss_event_copy() it to keep it. */
typedef struct oss_journal_row {
    oss_event_t ev;        /* every column but xid */
    uint64_t xid;          /* the writing transaction's id */
    const char *malformed; /* NULL; or (deliver_malformed only) why the row
                              does not fit: then only xid and ev.position
                              are set */
} oss_journal_row_t;

/* The row's place in commit order. */
static inline oss_journal_cursor_t
oss_journal_cursor_of(const oss_journal_row_t *row) {
    oss_journal_cursor_t c = {row->xid, row->ev.position};
    return c;
}

/* Called once per row, in the filter's order. Returns 0 to go on, > 0 to
 * stop the scan (it then returns OSS_OK), < 0 to fail it (set *err; the
 * scan returns err->code, OSS_EINTERNAL when err was not set). */
typedef int (*oss_journal_row_fn)(void *ctx, const oss_journal_row_t *row,
                                  oss_err_t *err);

/* Delivers the rows f selects to fn(ctx, row, err) in f->order. A scan with
 * a limit is one statement; one without is read in pages of a few thousand
 * rows (keyset on the order's key, one statement per page, never a round
 * trip per row). *nrows (may be NULL) = rows
 * delivered. Errors: OSS_EUNAVAIL (connection lost, timeout), OSS_EINTERNAL
 * (SQL error), OSS_ECORRUPT (a malformed row, unless deliver_malformed),
 * OSS_ENOMEM, or what fn returned. Borrows conn and f. */
oss_code_t oss_journal_scan(PGconn *conn, const oss_journal_filter_t *f,
                            oss_journal_row_fn fn, void *ctx, int64_t *nrows,
                            oss_err_t *err);

/* Scans f (as above) and appends a copy of every row to *out (the list owns
 * them, positions filled). On error the rows appended so far stay. */
oss_code_t oss_journal_scan_list(PGconn *conn, const oss_journal_filter_t *f,
                                 oss_event_list_t *out, oss_err_t *err);

/* *out = number of rows f selects, counted up to f->limit when set (order,
 * latest_per_stream and deliver_malformed are ignored). */
oss_code_t oss_journal_count(PGconn *conn, const oss_journal_filter_t *f,
                             int64_t *out, oss_err_t *err);

/* *out = the highest position in the journal (0 when empty). Positions have
 * gaps: not a count. */
oss_code_t oss_journal_max_position(PGconn *conn, int64_t *out, oss_err_t *err);

/* *out = the current version of stream_id (0 when it has no event). */
oss_code_t oss_journal_stream_version(PGconn *conn, const char *stream_id,
                                      int64_t *out, oss_err_t *err);

#endif
