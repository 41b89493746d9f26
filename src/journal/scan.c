/* The scan interface over oss.journal (see scan.h): builds one
 * parameterised statement per page from a filter, decodes the rows with the
 * one row decoder (row.c) and hands them to the caller. Runs on the
 * caller's connection and transaction; never BEGINs or COMMITs. */
#include "journal/scan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "db/db.h"
#include "journal/row.h"

/* The commit horizon: every transaction with an id below it has ended. The
 * only copy of this expression in the tree. */
#define HORIZON_XMIN "pg_snapshot_xmin(pg_current_snapshot())"
#define HORIZON_XMAX "pg_snapshot_xmax(pg_current_snapshot())"

/* Rows per statement of a scan without a limit. */
#define SCAN_PAGE 2000

#define Q_SQL_MAX 4096
#define Q_PARAMS_MAX 32

/* One statement being built: its text and its text parameters. */
typedef struct q {
    char sql[Q_SQL_MAX];
    size_t len;
    int overflow;
    const char *v[Q_PARAMS_MAX];
    char num[Q_PARAMS_MAX][24]; /* storage of numeric parameters */
    char *owned[Q_PARAMS_MAX];  /* array literals, freed by q_free() */
    int n;
} q_t;

static void
q_add(q_t *q, const char *fmt, ...) {
    va_list ap;
    if (q->overflow)
        return;
    va_start(ap, fmt);
    int w = vsnprintf(q->sql + q->len, sizeof q->sql - q->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof q->sql - q->len)
        q->overflow = 1;
    else
        q->len += (size_t)w;
}

/* Adds a borrowed text parameter; returns its number ($n), 0 when full. */
static int
q_param(q_t *q, const char *value) {
    if (q->n >= Q_PARAMS_MAX) {
        q->overflow = 1;
        return 0;
    }
    q->v[q->n] = value;
    return ++q->n;
}

static int
q_i64(q_t *q, int64_t x) {
    if (q->n >= Q_PARAMS_MAX) {
        q->overflow = 1;
        return 0;
    }
    snprintf(q->num[q->n], sizeof q->num[0], "%" PRId64, x);
    return q_param(q, q->num[q->n]);
}

static int
q_u64(q_t *q, uint64_t x) {
    if (q->n >= Q_PARAMS_MAX) {
        q->overflow = 1;
        return 0;
    }
    snprintf(q->num[q->n], sizeof q->num[0], "%" PRIu64, x);
    return q_param(q, q->num[q->n]);
}

/* Adds an owned parameter (freed with the statement); NULL = out of
 * memory. */
static int
q_owned(q_t *q, char *value) {
    if (!value || q->n >= Q_PARAMS_MAX) {
        free(value);
        q->overflow = 1;
        return 0;
    }
    q->owned[q->n] = value;
    return q_param(q, value);
}

static void
q_free(q_t *q) {
    for (int i = 0; i < Q_PARAMS_MAX; i++)
        free(q->owned[i]);
}

/* The time expression of a unix-microsecond parameter $n, exact. */
static void
q_time(q_t *q, const char *op, int64_t us) {
    int n = q_i64(q, us);
    q_add(q,
          " AND recorded_at %s to_timestamp(0) + ($%d::int8 / 1000000) * "
          "interval '1 second' + ($%d::int8 %% 1000000) * interval '1 "
          "microsecond'",
          op, n, n);
}

/* Appends " WHERE ..." for f. *none = 1 when f can match no row (an empty
 * list). */
static void
q_where(q_t *q, const oss_journal_filter_t *f, int *none) {
    *none = 0;
    q_add(q, " WHERE true");
    if (f->stream_id)
        q_add(q, " AND stream_id = $%d", q_param(q, f->stream_id));
    if (f->streams) {
        if (!f->nstreams)
            *none = 1;
        q_add(q, " AND stream_id = ANY($%d::text[])",
              q_owned(q, oss_db_text_array(f->streams, f->nstreams)));
    }
    if (f->version_min)
        q_add(q, " AND version >= $%d::int8", q_i64(q, f->version_min));
    if (f->version_max)
        q_add(q, " AND version <= $%d::int8", q_i64(q, f->version_max));
    if (f->position_min)
        q_add(q, " AND position >= $%d::int8", q_i64(q, f->position_min));
    if (f->position_max)
        q_add(q, " AND position <= $%d::int8", q_i64(q, f->position_max));
    if (f->after) {
        int x = q_u64(q, f->after->xid);
        int p = q_i64(q, f->after->position);
        q_add(q, " AND (xid, position) > ($%d::xid8, $%d::int8)", x, p);
    }
    if (f->below_horizon)
        q_add(q, " AND xid < " HORIZON_XMIN);
    if (f->types) {
        if (!f->ntypes)
            *none = 1;
        if (f->ntypes == 1)
            q_add(q, " AND payload_type = $%d", q_param(q, f->types[0]));
        else
            q_add(q, " AND payload_type = ANY($%d::text[])",
                  q_owned(q, oss_db_text_array(f->types, f->ntypes)));
    }
    if (f->actor_kind)
        q_add(q, " AND actor_kind = $%d::int2",
              q_i64(q, (int64_t)f->actor_kind));
    if (f->actor_id)
        q_add(q, " AND actor_id = $%d", q_param(q, f->actor_id));
    if (f->correlation_id)
        q_add(q, " AND correlation_id = $%d", q_param(q, f->correlation_id));
    if (f->causation_id)
        q_add(q, " AND causation_id = $%d", q_param(q, f->causation_id));
    if (f->event_ids) {
        /* only UUIDs can match: the others would fail the cast */
        const char **ids = malloc((f->nevent_ids + 1) * sizeof *ids);
        size_t k = 0;
        for (size_t i = 0; ids && i < f->nevent_ids; i++)
            if (oss_uuid_valid(f->event_ids[i]))
                ids[k++] = f->event_ids[i];
        if (ids && !k)
            *none = 1;
        q_add(q, " AND event_id = ANY($%d::uuid[])",
              q_owned(q, ids ? oss_db_text_array(ids, k) : NULL));
        free(ids);
    }
    if (f->recorded_from_us)
        q_time(q, ">=", f->recorded_from_us);
    if (f->recorded_to_us)
        q_time(q, "<", f->recorded_to_us);
}

/* The key of the last row of a page, to start the next one after it. */
typedef struct page_key {
    int set;
    uint64_t xid;
    int64_t position;
    int64_t version;
    char *stream_id; /* owned */
} page_key_t;

static int
key_take(page_key_t *k, const PGresult *r, int row) {
    const char *sid = PQgetvalue(r, row, JOURNAL_COL_STREAM_ID);
    char *copy = strdup(sid ? sid : "");
    if (!copy)
        return -1;
    free(k->stream_id);
    k->stream_id = copy;
    k->xid = journal_row_xid(r, row);
    k->position = journal_row_position(r, row);
    k->version = journal_row_version(r, row);
    k->set = 1;
    return 0;
}

static void
q_keyset(q_t *q, const oss_journal_filter_t *f, const page_key_t *k) {
    if (!k->set)
        return;
    if (f->latest_per_stream) {
        q_add(q, " AND stream_id > $%d", q_param(q, k->stream_id));
        return;
    }
    switch (f->order) {
    case OSS_JOURNAL_ORDER_POSITION_DESC:
        q_add(q, " AND position < $%d::int8", q_i64(q, k->position));
        break;
    case OSS_JOURNAL_ORDER_COMMIT: {
        int x = q_u64(q, k->xid);
        int p = q_i64(q, k->position);
        q_add(q, " AND (xid, position) > ($%d::xid8, $%d::int8)", x, p);
        break;
    }
    case OSS_JOURNAL_ORDER_STREAM:
    case OSS_JOURNAL_ORDER_STREAM_DESC: {
        int s = q_param(q, k->stream_id);
        int v = q_i64(q, k->version);
        q_add(q, " AND (stream_id, version) %s ($%d, $%d::int8)",
              f->order == OSS_JOURNAL_ORDER_STREAM ? ">" : "<", s, v);
        break;
    }
    case OSS_JOURNAL_ORDER_POSITION:
    default:
        q_add(q, " AND position > $%d::int8", q_i64(q, k->position));
        break;
    }
}

static const char *
order_by(const oss_journal_filter_t *f) {
    if (f->latest_per_stream)
        return " ORDER BY stream_id, version DESC";
    switch (f->order) {
    case OSS_JOURNAL_ORDER_POSITION_DESC:
        return " ORDER BY position DESC";
    case OSS_JOURNAL_ORDER_COMMIT:
        return " ORDER BY xid, position";
    case OSS_JOURNAL_ORDER_STREAM:
        return " ORDER BY stream_id, version";
    case OSS_JOURNAL_ORDER_STREAM_DESC:
        return " ORDER BY stream_id DESC, version DESC";
    case OSS_JOURNAL_ORDER_POSITION:
    default:
        return " ORDER BY position";
    }
}

static oss_code_t
q_overflow(oss_err_t *err) {
    return oss_err_set(err, OSS_EINVAL,
                       "could not read the journal: the filter is too large "
                       "(or out of memory)");
}

oss_code_t
oss_journal_scan(PGconn *conn, const oss_journal_filter_t *f,
                 oss_journal_row_fn fn, void *ctx, int64_t *nrows,
                 oss_err_t *err) {
    static const oss_journal_filter_t all = {0};
    page_key_t key = {0};
    int64_t delivered = 0;
    oss_code_t rc = OSS_OK;
    int stop = 0;
    if (!f)
        f = &all;
    if (nrows)
        *nrows = 0;
    while (!stop) {
        /* a bounded scan is one statement (the caller sized it: the relay's
         * batch, the projector's chunk); an unbounded one goes by pages */
        int64_t want = f->limit > 0 ? f->limit - delivered : SCAN_PAGE;
        if (want <= 0)
            break;
        q_t q = {0};
        int none = 0;
        q_add(&q, "SELECT %s" JOURNAL_ROW_COLS " FROM oss.journal",
              f->latest_per_stream ? "DISTINCT ON (stream_id) " : "");
        q_where(&q, f, &none);
        q_keyset(&q, f, &key);
        q_add(&q, "%s LIMIT $%d::int8", order_by(f), q_i64(&q, want));
        if (none || q.overflow) {
            if (!none)
                rc = q_overflow(err);
            q_free(&q);
            break;
        }
        PGresult *r = PQexecParams(conn, q.sql, q.n, NULL, q.v, NULL, NULL, 1);
        q_free(&q);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = oss_db_error(conn, r, "read the journal", err);
            PQclear(r);
            break;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && !stop; i++) {
            oss_journal_row_t row;
            row.malformed = journal_row_decode(r, i, &row);
            if (row.malformed && !f->deliver_malformed) {
                rc = oss_err_set(err, OSS_ECORRUPT,
                                 "journal row at position %" PRId64 ": %s",
                                 row.ev.position, row.malformed);
                stop = 1;
                break;
            }
            delivered++;
            int w = fn ? fn(ctx, &row, err) : 0;
            if (w < 0) {
                rc = err && err->code ? err->code : OSS_EINTERNAL;
                if (!err || !err->code)
                    oss_err_set(err, OSS_EINTERNAL,
                                "could not read the journal: a row handler "
                                "failed");
                stop = 1;
            } else if (w > 0) {
                stop = 1;
            }
        }
        if (!stop && n > 0 && key_take(&key, r, n - 1)) {
            rc = oss_err_set(err, OSS_ENOMEM,
                             "could not read the journal: out of memory");
            stop = 1;
        }
        PQclear(r);
        if (n < want)
            break;
    }
    free(key.stream_id);
    if (nrows)
        *nrows = delivered;
    return rc;
}

static int
push_copy(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    oss_event_list_t *out = ctx;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev) {
        oss_err_set(err, OSS_ENOMEM,
                    "could not read the journal: out of memory");
        return -1;
    }
    if (oss_event_copy(ev, &row->ev, err)) {
        out->len--;
        return -1;
    }
    return 0;
}

oss_code_t
oss_journal_scan_list(PGconn *conn, const oss_journal_filter_t *f,
                      oss_event_list_t *out, oss_err_t *err) {
    return oss_journal_scan(conn, f, push_copy, out, NULL, err);
}

/* Runs a one-row, one-column statement with text results; *out = its
 * value as int64 (0 when NULL). */
static oss_code_t
scalar(PGconn *conn, const char *sql, int n, const char *const *v, int64_t *out,
       oss_err_t *err) {
    PGresult *r = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        oss_code_t rc = oss_db_error(conn, r, "read the journal", err);
        PQclear(r);
        return rc;
    }
    *out = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return OSS_OK;
}

oss_code_t
oss_journal_count(PGconn *conn, const oss_journal_filter_t *f, int64_t *out,
                  oss_err_t *err) {
    static const oss_journal_filter_t all = {0};
    q_t q = {0};
    int none = 0;
    *out = 0;
    if (!f)
        f = &all;
    if (f->limit > 0)
        q_add(&q, "SELECT count(*) FROM (SELECT 1 FROM oss.journal");
    else
        q_add(&q, "SELECT count(*) FROM oss.journal");
    q_where(&q, f, &none);
    if (f->limit > 0)
        q_add(&q, " LIMIT $%d::int8) t", q_i64(&q, f->limit));
    oss_code_t rc = OSS_OK;
    if (q.overflow)
        rc = q_overflow(err);
    else if (!none)
        rc = scalar(conn, q.sql, q.n, q.v, out, err);
    q_free(&q);
    return rc;
}

oss_code_t
oss_journal_max_position(PGconn *conn, int64_t *out, oss_err_t *err) {
    *out = 0;
    return scalar(conn, "SELECT max(position) FROM oss.journal", 0, NULL, out,
                  err);
}

oss_code_t
oss_journal_stream_version(PGconn *conn, const char *stream_id, int64_t *out,
                           oss_err_t *err) {
    const char *v[1] = {stream_id ? stream_id : ""};
    *out = 0;
    return scalar(conn,
                  "SELECT max(version) FROM oss.journal WHERE stream_id = $1",
                  1, v, out, err);
}

oss_code_t
oss_journal_horizon(PGconn *conn, oss_journal_horizon_t *out, oss_err_t *err) {
    memset(out, 0, sizeof *out);
    PGresult *r =
        PQexec(conn, "SELECT " HORIZON_XMIN "::text, " HORIZON_XMAX "::text");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        oss_code_t rc = oss_db_error(conn, r, "read the commit horizon", err);
        PQclear(r);
        return rc;
    }
    out->xmin = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    out->xmax = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return OSS_OK;
}
