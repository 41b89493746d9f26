/* The one decoder of a journal row (internal to src/journal): the select
 * list every read of oss.journal uses and the binary-format decoding of a
 * row of it into oss_journal_row_t. Used by scan.c (every reader) and by
 * execute.c (the write path's stream reads). Not a public interface. */
#ifndef OSS_JOURNAL_ROW_H
#define OSS_JOURNAL_ROW_H

#include <libpq-fe.h>

#include "journal/scan.h"

/* The select list journal_row_decode() reads, in that order; the statement
 * must ask for binary results (resultFormat 1). With a table alias, use
 * JOURNAL_ROW_COLS_OF. */
#define JOURNAL_ROW_COLS_OF(a)                                                 \
    a "xid, " a "position, " a "event_id, " a "stream_id, " a                  \
      "stream_type, " a "version, " a "occurred_at, " a "recorded_at, " a      \
      "actor_kind, " a "actor_id, " a "correlation_id, " a "causation_id, " a  \
      "cause_id, " a "reason, " a "software_version, " a "payload_type, " a    \
      "schema_version, " a "payload, " a "prev_hash, " a "hash"
#define JOURNAL_ROW_COLS JOURNAL_ROW_COLS_OF("")
#define JOURNAL_ROW_NCOLS 20
/* column numbers used outside the decoder */
#define JOURNAL_COL_STREAM_ID 3

/* Decodes row `row` of r into *out (zeroed first). out->ev.reason and
 * out->ev.payload borrow r (valid while r is). Returns NULL, or a static
 * string saying why the row does not fit oss_event_t (then only out->xid
 * and out->ev.position are set). */
const char *journal_row_decode(const PGresult *r, int row,
                               oss_journal_row_t *out);

/* The raw keys of row `row` of r (0 when a column is malformed), read
 * without decoding the row: a scan's next page starts after them. */
uint64_t journal_row_xid(const PGresult *r, int row);
int64_t journal_row_position(const PGresult *r, int row);
int64_t journal_row_version(const PGresult *r, int row);

#endif
