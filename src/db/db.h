/* Small libpq helpers shared by the shell modules (journal, relay, projector):
 * connecting with sane timeouts, classifying errors by SQLSTATE, building
 * array literals. Thread-safety: the functions are; a PGconn is not (one per
 * thread). */
#ifndef OSS_DB_H
#define OSS_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "core/error.h"

/* Session defaults set by oss_db_connect() unless conninfo sets "options". */
#define OSS_DB_CONNECT_TIMEOUT_S "5"
#define OSS_DB_SESSION_OPTIONS                                                 \
    "-c statement_timeout=30s -c idle_in_transaction_session_timeout=60s "     \
    "-c lock_timeout=30s"

/* Connects with conninfo (a URL or key=value string, borrowed), adding
 * connect_timeout, application_name and the session options above where
 * conninfo does not set them. *out is new, caller frees with PQfinish().
 * OSS_EUNAVAIL (retriable) when the server cannot be reached or refuses. */
oss_code_t oss_db_connect(const char *conninfo, const char *application_name,
                          PGconn **out, oss_err_t *err);

/* The SQLSTATE of a failed result, "" when none (borrowed from r). */
const char *oss_db_sqlstate(const PGresult *r);

/* True when the failure means the connection is gone or the server is going
 * away (connection bad, class 08, 57P01-57P03, 25P03). */
bool oss_db_conn_lost(PGconn *c, const PGresult *r);

/* True for errors worth retrying the whole transaction: serialization failure
 * (40001) and deadlock (40P01). */
bool oss_db_retry_txn(const PGresult *r);

/* Fills *err from a failed result (r may be NULL: then the connection's
 * message) as "could not <what>: <server message>" and returns the code:
 * OSS_EUNAVAIL when the connection is lost or on a timeout, OSS_EINTERNAL
 * otherwise. */
oss_code_t oss_db_error(PGconn *c, const PGresult *r, const char *what,
                        oss_err_t *err);

/* A PostgreSQL text[] literal ({"a","b"}) of items[0..n), quoting every
 * element. Returns new, caller frees with free(); NULL on OOM. */
char *oss_db_text_array(const char *const *items, size_t n);

/* Runs a parameterless statement; OSS_OK when it succeeded. */
oss_code_t oss_db_exec(PGconn *c, const char *sql, oss_err_t *err);

#endif
