/* The journal's connection: open, reconnect after a loss, ping, and the
 * prepared statements of the write path that die with a connection.
 * Thread-safety: one oss_journal_t per thread. */
#include "journal/journal_int.h"

#include <stdlib.h>
#include <string.h>

/* Connects j->conn. The write path's statements are prepared once per
 * session and run with generic plans: with the default plan_cache_mode
 * PostgreSQL kept planning the stream read (stream_id = ANY($1)) again at
 * every bind, about a tenth of a one-command transaction's server time. */
static oss_code_t
journal_connect(oss_journal_t *j, oss_err_t *err) {
    oss_code_t rc = oss_db_connect(j->conninfo, "oss-journal", &j->conn, err);
    if (rc)
        return rc;
    PGresult *r = PQexec(j->conn, "SET plan_cache_mode = force_generic_plan");
    PQclear(r); /* a failure leaves the default plan choice: slower at
                 * worst, never wrong; a broken connection shows at the
                 * first statement */
    return OSS_OK;
}

oss_code_t
oss_journal_open(const char *conninfo, oss_journal_t **out, oss_err_t *err) {
    oss_code_t rc;
    oss_journal_t *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j || !(j->conninfo = strdup(conninfo ? conninfo : ""))) {
        free(j);
        return oss_err_set(err, OSS_ENOMEM,
                           "could not open the journal: out of memory");
    }
    if ((rc = journal_connect(j, err))) {
        free(j->conninfo);
        free(j);
        return rc;
    }
    *out = j;
    return OSS_OK;
}

void
oss_journal_set_key_lock(oss_journal_t *j, bool on) {
    j->no_key_lock = !on;
}

void
oss_journal_free(oss_journal_t *j) {
    if (!j)
        return;
    if (j->conn)
        PQfinish(j->conn);
    journal_ps_clear(j);
    free(j->conninfo);
    free(j);
}

struct pg_conn *
oss_journal_conn(oss_journal_t *j) {
    /* after a lost connection, try once to hand out a working one */
    if (!j->conn || PQstatus(j->conn) != CONNECTION_OK)
        (void)journal_reconnect(j, NULL);
    return j->conn;
}

oss_code_t
journal_reconnect(oss_journal_t *j, oss_err_t *err) {
    if (j->conn)
        PQfinish(j->conn);
    j->conn = NULL;
    journal_ps_clear(j);
    return journal_connect(j, err);
}

oss_code_t
journal_ensure(oss_journal_t *j, oss_err_t *err) {
    if (j->conn && PQstatus(j->conn) == CONNECTION_OK)
        return OSS_OK;
    return journal_reconnect(j, err);
}

oss_code_t
oss_journal_ping(oss_journal_t *j, oss_err_t *err) {
    oss_code_t rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = journal_ensure(j, err)))
            return rc;
        PGresult *r = PQexec(j->conn, "SELECT 1");
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK) {
            PQclear(r);
            return OSS_OK;
        }
        bool lost = oss_db_conn_lost(j->conn, r);
        rc = oss_db_error(j->conn, r, "ping PostgreSQL", err);
        PQclear(r);
        if (!lost)
            return rc;
        /* a connection that broke while idle: reconnect once */
        if (j->conn)
            PQfinish(j->conn);
        j->conn = NULL;
    }
    return oss_err_set(err, OSS_EUNAVAIL,
                       "could not ping PostgreSQL: connection lost");
}

void
journal_ps_clear(oss_journal_t *j) {
    for (int i = 0; i < JOURNAL_PS_MAX; i++) {
        free(j->ps[i].sql);
        j->ps[i].sql = NULL;
        j->ps[i].ready = 0;
    }
}
