/* The projector's libpq helpers (projector_int.h): run a statement with its
 * error as an oss_err_t, connect through src/db, roll back. The lowest file
 * of the projector: every other file may call it, it calls none of them. */
#include "projector_int.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"

static oss_code_t
pg_error(PGconn *conn, PGresult *res, oss_err_t *err) {
    if (PQstatus(conn) == CONNECTION_BAD)
        return oss_err_set(err, OSS_EUNAVAIL, "could not reach PostgreSQL: %s",
                           PQerrorMessage(conn));
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    char buf[OSS_ERR_MSG_MAX];
    snprintf(buf, sizeof buf, "%s", msg ? msg : "unknown error");
    buf[strcspn(buf, "\n")] = '\0';
    return oss_err_set(err, OSS_EINTERNAL, "%s", buf);
}

PGresult *
pj_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
        oss_err_t *err) {
    PGresult *res =
        PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    pg_error(conn, res, err);
    PQclear(res);
    return NULL;
}

oss_code_t
pj_cmd(PGconn *conn, const char *sql, int nparams, const char *const *params,
       oss_err_t *err) {
    PGresult *res = pj_exec(conn, sql, nparams, params, err);
    if (!res)
        return err ? err->code : OSS_EINTERNAL;
    PQclear(res);
    return OSS_OK;
}

oss_code_t
pj_connect(const char *url, PGconn **out, oss_err_t *err) {
    /* the one connect routine (src/db): its session timeouts included */
    oss_code_t rc = oss_db_connect(url, "oss-projector", out, err);
    if (rc)
        return rc;
    /* Every statement of the appliers looks rows up by key from a batch
     * (jsonb_to_recordset, estimated at 100 rows whatever its size): an
     * index probe per row is the right plan at any size. Left to itself, the
     * planner chose hash joins over a sequential scan of the whole read-model
     * table (rm.applied_streams, rm.delivery_status) for batches of a few
     * rows, once per batch: measured, 15M tuples read while the notifier
     * drained 4,000 messages. Hash and merge joins are off in this session
     * (the projector's, the rebuild's and the dead-letter tools'; none of
     * them joins two large sets). */
    PGresult *r = PQexec(*out, "SET client_min_messages = warning; SET "
                               "enable_hashjoin = off; SET enable_mergejoin "
                               "= off");
    PQclear(r);
    return OSS_OK;
}

void
pj_rollback(PGconn *conn) {
    if (conn && PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}
