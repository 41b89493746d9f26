/* Named reads of oss.journal for the use cases and the API (reads.c): each
 * function runs one fixed query with its parameters on a borrowed
 * connection, so that no file outside src/journal names the table. The
 * generic scan of the journal is scan.h; these are the few point reads
 * commands and replies need.
 *
 * Every function borrows conn and its parameters and returns a new result
 * (caller frees with PQclear(); check PQresultStatus() for
 * PGRES_TUPLES_OK: a failed query returns its error result, or NULL when
 * out of memory). Binary: bytea columns in binary, the rest as text.
 * Thread-safety: one PGconn per thread. */
#ifndef OSS_JOURNAL_READS_H
#define OSS_JOURNAL_READS_H

#include <libpq-fe.h>

/* The newest (up to 32, newest first) oss.v1.ContactReplaced payloads
 * concerning a principal: on contact_stream, "access-<principal_id>",
 * "account-<principal_id>" and the account streams the principal holds a
 * grant on. Column 0: payload (binary). */
PGresult *oss_journal_read_contact_changes(PGconn *conn,
                                           const char *contact_stream,
                                           const char *principal_id);

/* The event that sealed a contact: the first AccountRegistered or
 * PrincipalCreated of stream_id (0 or 1 row). Columns: payload_type,
 * payload (binary). */
PGresult *oss_journal_read_contact_origin(PGconn *conn, const char *stream_id);

/* Every oss.v1.ContactReplaced payload of a principal's contact stream
 * (oss.principals, else "account-<principal_id>"), newest first. Column 0:
 * payload (binary). */
PGresult *oss_journal_read_contact_replaced(PGconn *conn,
                                            const char *principal_id);

/* Whether principal_id is known: a row of oss.principals, or the first
 * event of "account-<principal_id>" (a first owner registered before that
 * table existed). One row, column 0: "t" | "f" (text). */
PGresult *oss_journal_read_principal_known(PGconn *conn,
                                           const char *principal_id);

/* An account's domicile region (oss.account_scope) and whether it exists
 * (a scope row, or the first event of "account-<account_id>"). One row,
 * text: column 0 the region (NULL without a scope row), column 1 "t" |
 * "f", column 2 "t" when the OSS authority restricted its access
 * (oss.account_restrictions). */
PGresult *oss_journal_read_account_scope(PGconn *conn, const char *account_id);

/* Every event of the streams in streams_array (a text[] literal) in
 * journal order. Columns: stream_id, event_id, payload_type, occurred_at
 * (ISO-8601 UTC with microseconds), payload (binary). */
PGresult *oss_journal_read_streams_events(PGconn *conn,
                                          const char *streams_array);

/* Metrics, one row and one numeric column each (text):
 * the events after the relay's checkpoint, counted up to 100000; the
 * highest journal position. */
PGresult *oss_journal_read_relay_lag(PGconn *conn);
PGresult *oss_journal_read_position_max(PGconn *conn);

#endif
