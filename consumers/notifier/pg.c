/* The notifier's PostgreSQL session (through src/db's connect routine),
 * its advisory lock and the query helpers every other file uses. */
#include "notifier_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "db/db.h"

/* Sleeps up to ms, waking early when asked to stop. */
void
nt_nap(notifier_t *n, int64_t ms) {
    int64_t end = oss_mono_ms() + ms;
    while (!*n->stop && oss_mono_ms() < end) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* This session's commits do not wait for the WAL flush
 * (synchronous_commit = off): they are the ledger's 'sending' rows and
 * attempt counts, the sealed rows' deletion and the Kafka positions, never
 * an event (outcomes go through the journal handle, whose commits are
 * durable, with the ledger's 'sent' in the same transaction). A PostgreSQL
 * crash (not a notifier crash) can lose the last fraction of a second of
 * them; the message is then sent again with the same Message-ID, as after a
 * crash between the hand-over and 'sent'. Measured: the WAL flushes of
 * these commits were most of PostgreSQL's time per message. */
static oss_code_t
session_setup(notifier_t *n, oss_err_t *err) {
    PGresult *r = PQexec(n->pg, "SET synchronous_commit = off");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok)
        return OSS_OK;
    return oss_err_set(err, OSS_EUNAVAIL, "could not set up the session: %s",
                       PQerrorMessage(n->pg));
}

oss_code_t
nt_pg_ensure(notifier_t *n, oss_err_t *err) {
    if (n->pg && PQstatus(n->pg) == CONNECTION_OK)
        return OSS_OK;
    if (!n->main)
        n->locked = 0; /* a new session holds no advisory lock */
    if (n->pg) {
        PQreset(n->pg);
        if (PQstatus(n->pg) == CONNECTION_OK)
            return session_setup(n, err);
        PQfinish(n->pg);
        n->pg = NULL;
    }
    /* the one connect routine (src/db): its session timeouts included */
    oss_db_opts_t o = {.application_name = "oss-notifier",
                       .connect_timeout_s =
                           (int)oss_config_int(n->cfg, "pg.connect_timeout_s")};
    if (oss_db_connect_opts(oss_config_str(n->cfg, "pg.url"), &o, &n->pg,
                            err) != OSS_OK) {
        n->pg = NULL;
        if (err)
            err->code = OSS_EUNAVAIL;
        return OSS_EUNAVAIL;
    }
    return session_setup(n, err);
}

PGresult *
nt_pg_result(PGresult *r, oss_err_t *err) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *m = r ? PQresultErrorMessage(r) : "out of memory";
        oss_err_set(err, OSS_EUNAVAIL, "could not query PostgreSQL: %.*s",
                    (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Runs sql; on success returns the result (caller PQclear()s). */
PGresult *
nt_pg_exec(notifier_t *n, const char *sql, int nparams,
           const char *const *params, int binary, oss_err_t *err) {
    if (nt_pg_ensure(n, err))
        return NULL;
    if (n->stmt_conn != n->pg) { /* a new session has none prepared */
        n->stmt_conn = n->pg;
        n->nstmts = 0;
    }
    int i = 0;
    while (i < n->nstmts && n->stmt_sql[i] != sql)
        i++;
    char name[16];
    snprintf(name, sizeof name, "nt%d", i);
    if (i == n->nstmts && i < NT_MAX_STMTS) {
        PGresult *pr = PQprepare(n->pg, name, sql, nparams, NULL);
        if (PQresultStatus(pr) == PGRES_COMMAND_OK)
            n->stmt_sql[n->nstmts++] = sql;
        PQclear(pr);
    }
    if (i < n->nstmts)
        return nt_pg_result(
            PQexecPrepared(n->pg, name, nparams, params, NULL, NULL, binary),
            err);
    return nt_pg_result(
        PQexecParams(n->pg, sql, nparams, NULL, params, NULL, NULL, binary),
        err);
}

oss_code_t
nt_pg_cmd(notifier_t *n, const char *sql, int nparams,
          const char *const *params, oss_err_t *err) {
    PGresult *r = nt_pg_exec(n, sql, nparams, params, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    PQclear(r);
    return OSS_OK;
}

/* Takes the advisory lock that makes this the one active notifier: two
 * notifiers sending the same 'sending' row at once would send it twice. */
int
nt_try_lock(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r = nt_pg_exec(n, "SELECT pg_try_advisory_lock(" NT_LOCK_KEY ")",
                             0, NULL, 0, &err);
    if (!r)
        return 0;
    n->locked = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return n->locked;
}
