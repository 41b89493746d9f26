/* Small libpq helpers shared by the shell modules and every program (api,
 * relay, projector, notifier, the oss CLI): THE connect routine with sane
 * session timeouts and a documented override for bulk work, classifying errors
 * by SQLSTATE, building array literals, reading one integer. Thread-safety:
 * the functions are; a PGconn is not (one per thread). */
#ifndef OSS_DB_H
#define OSS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"

/* Session defaults set by oss_db_connect() unless conninfo sets "options". */
#define OSS_DB_CONNECT_TIMEOUT_S "5"
#define OSS_DB_STATEMENT_TIMEOUT "30s"
#define OSS_DB_IDLE_IN_TX_TIMEOUT "60s"
#define OSS_DB_LOCK_TIMEOUT "30s"
#define OSS_DB_SESSION_OPTIONS                                                 \
    "-c statement_timeout=" OSS_DB_STATEMENT_TIMEOUT                           \
    " -c idle_in_transaction_session_timeout=" OSS_DB_IDLE_IN_TX_TIMEOUT       \
    " -c lock_timeout=" OSS_DB_LOCK_TIMEOUT

/* Bulk work (a read-model rebuild or journal catch-up at scale, master key
 * rotation, bulk loads) runs statements and transactions far longer than a
 * request's: it gets these limits instead of the two defaults above, either
 * for a whole connection (oss_db_opts_t) or for one piece of work on an
 * open one (oss_db_set_bulk()). Still finite: a stuck bulk job must not
 * hold locks and snapshots forever. */
#define OSS_DB_BULK_STATEMENT_TIMEOUT "1h"
#define OSS_DB_BULK_IDLE_IN_TX_TIMEOUT "10min"

/* Per-connection settings for oss_db_connect_opts(); every NULL or 0 field
 * keeps the default above. Timeouts are PostgreSQL interval text ("30s",
 * "15min"; "0" disables). Strings are borrowed for the call. */
typedef struct oss_db_opts {
    const char *application_name;
    int connect_timeout_s;
    const char *statement_timeout;
    const char *idle_in_transaction_timeout;
    const char *lock_timeout;
} oss_db_opts_t;

/* The opts of bulk work: OSS_DB_BULK_* timeouts, application_name app
 * (borrowed). */
#define OSS_DB_OPTS_BULK(app)                                                  \
    ((oss_db_opts_t){.application_name = (app),                                \
                     .statement_timeout = OSS_DB_BULK_STATEMENT_TIMEOUT,       \
                     .idle_in_transaction_timeout =                            \
                         OSS_DB_BULK_IDLE_IN_TX_TIMEOUT})

/* THE connect routine of the code base: every program connects through it
 * (or oss_db_connect()). Connects with conninfo (a URL or key=value string,
 * borrowed), adding connect_timeout, application_name and the session
 * options (statement_timeout, idle_in_transaction_session_timeout,
 * lock_timeout: the defaults above, overridden by opts) where conninfo does
 * not set them; when conninfo sets "options", those are kept and only the
 * timeouts opts sets explicitly are added after them. opts may be NULL.
 * *out is new, caller frees with PQfinish(). OSS_EUNAVAIL (retriable) when
 * the server cannot be reached or refuses; OSS_EINVAL for a bad conninfo. */
oss_code_t oss_db_connect_opts(const char *conninfo, const oss_db_opts_t *opts,
                               PGconn **out, oss_err_t *err);

/* oss_db_connect_opts() with only an application_name (may be NULL). */
oss_code_t oss_db_connect(const char *conninfo, const char *application_name,
                          PGconn **out, oss_err_t *err);

/* Sets statement_timeout and idle_in_transaction_session_timeout of the
 * session c (borrowed) for one piece of work: NULL restores the default
 * above. Call it outside a transaction (or it lasts only as long as the
 * transaction when that is rolled back). OSS_EINVAL for a value PostgreSQL
 * refuses, OSS_EUNAVAIL when the connection is gone. */
oss_code_t oss_db_set_timeouts(PGconn *c, const char *statement_timeout,
                               const char *idle_in_transaction_timeout,
                               oss_err_t *err);

/* oss_db_set_timeouts() with the OSS_DB_BULK_* values (on = 1) or the
 * defaults (on = 0): bracket one piece of bulk work on a shared
 * connection with on = 1 ... on = 0. */
oss_code_t oss_db_set_bulk(PGconn *c, int on, oss_err_t *err);

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

/* The one integer sql answers (one row; its first column as text, parsed
 * with strtoll: NULL reads 0) with text parameters p[0..n) (borrowed), or
 * 0 with *ok set to false when the statement fails or does not return
 * exactly one row; *ok is left alone on success, so that several calls can
 * share one flag and be tested once. */
int64_t oss_db_query_int64(PGconn *c, const char *sql, int n,
                           const char *const *p, bool *ok);

#endif
