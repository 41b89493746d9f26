/* Named reads of oss.journal (reads.h): the SQL lives here, callers pass
 * parameters only. */
#include "journal/reads.h"

#include <stddef.h>
#include <string.h>

/* Runs sql with n text parameters; results in format fmt (1 binary). */
static PGresult *
run(PGconn *conn, const char *sql, int n, const char *const *p, int fmt) {
    return PQexecParams(conn, sql, n, NULL, p, NULL, NULL, fmt);
}

/* run() of a read made once or twice per command or message: prepared on
 * the session under `name` (prefix oss_jr_) the first time it is missing
 * (SQLSTATE 26000: a new session, or one reset by DISCARD ALL), so that it
 * is parsed and planned once per session, not once per call (they were a
 * third of the notifier's per-message server time). Inside a transaction
 * block the plain path: a failed EXECUTE would abort the caller's
 * transaction. */
static PGresult *
run_named(PGconn *conn, const char *name, const char *sql, int n,
          const char *const *p, int fmt) {
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return run(conn, sql, n, p, fmt);
    PGresult *r = PQexecPrepared(conn, name, n, p, NULL, NULL, fmt);
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st || strcmp(st, "26000") != 0)
        return r;
    PQclear(r);
    PGresult *pr = PQprepare(conn, name, sql, n, NULL);
    int ok = PQresultStatus(pr) == PGRES_COMMAND_OK;
    PQclear(pr);
    return ok ? PQexecPrepared(conn, name, n, p, NULL, NULL, fmt)
              : run(conn, sql, n, p, fmt);
}

PGresult *
oss_journal_read_contact_changes(PGconn *conn, const char *contact_stream,
                                 const char *principal_id) {
    const char *p[2] = {contact_stream, principal_id};
    return run_named(
        conn, "oss_jr_contact_changes",
        "SELECT x.payload FROM unnest(ARRAY[$1, 'access-' || $2, "
        "'account-' || $2] || ARRAY(SELECT 'account-' || account_id "
        "FROM oss.grants WHERE principal_id = $2 AND account_id IS NOT "
        "NULL)) s(id), LATERAL (SELECT j.payload, j.position FROM "
        "oss.journal j WHERE j.stream_id = s.id AND j.payload_type = "
        "'oss.v1.ContactReplaced' ORDER BY j.version DESC LIMIT 32) x "
        "ORDER BY x.position DESC LIMIT 32",
        2, p, 1);
}

PGresult *
oss_journal_read_contact_origin(PGconn *conn, const char *stream_id) {
    const char *p[1] = {stream_id};
    return run_named(conn, "oss_jr_contact_origin",
                     "SELECT payload_type, payload FROM oss.journal "
                     "WHERE stream_id = $1 AND payload_type IN "
                     "('oss.v1.AccountRegistered', 'oss.v1.PrincipalCreated') "
                     "ORDER BY version LIMIT 1",
                     1, p, 1);
}

PGresult *
oss_journal_read_contact_replaced(PGconn *conn, const char *principal_id) {
    const char *p[1] = {principal_id};
    return run_named(
        conn, "oss_jr_contact_replaced",
        "SELECT payload FROM oss.journal WHERE stream_id = "
        "coalesce((SELECT contact_stream FROM oss.principals WHERE "
        "principal_id = $1), 'account-' || $1) AND payload_type = "
        "'oss.v1.ContactReplaced' ORDER BY version DESC",
        1, p, 1);
}

PGresult *
oss_journal_read_principal_known(PGconn *conn, const char *principal_id) {
    const char *p[1] = {principal_id};
    return run_named(conn, "oss_jr_principal_known",
                     "SELECT EXISTS (SELECT 1 FROM oss.principals WHERE "
                     "principal_id = $1) OR EXISTS (SELECT 1 FROM oss.journal "
                     "WHERE stream_id = 'account-' || $1 AND version = 1)",
                     1, p, 0);
}

PGresult *
oss_journal_read_account_scope(PGconn *conn, const char *account_id) {
    const char *p[1] = {account_id};
    return run_named(
        conn, "oss_jr_account_scope",
        "SELECT (SELECT coalesce(region, '') FROM oss.account_scope "
        "WHERE account_id = $1), EXISTS (SELECT 1 FROM "
        "oss.account_scope WHERE account_id = $1) OR EXISTS (SELECT 1 "
        "FROM oss.journal WHERE stream_id = 'account-' || $1 AND "
        "version = 1), EXISTS (SELECT 1 FROM oss.account_restrictions "
        "WHERE account_id = $1)",
        1, p, 0);
}

PGresult *
oss_journal_read_streams_events(PGconn *conn, const char *streams_array) {
    const char *p[1] = {streams_array};
    return run(conn,
               "SELECT stream_id, event_id::text, payload_type, "
               "to_char(occurred_at AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), payload FROM "
               "oss.journal WHERE stream_id = ANY($1::text[]) ORDER BY "
               "position",
               1, p, 1);
}

PGresult *
oss_journal_read_relay_lag(PGconn *conn) {
    return run(conn,
               "SELECT count(*) FROM (SELECT 1 FROM oss.journal j, "
               "oss.relay_checkpoint c WHERE c.id = 1 AND (j.xid, j.position) "
               "> (c.xid, c.position) LIMIT 100000) t",
               0, NULL, 0);
}

PGresult *
oss_journal_read_position_max(PGconn *conn) {
    return run(conn, "SELECT coalesce(max(position), 0) FROM oss.journal", 0,
               NULL, 0);
}
