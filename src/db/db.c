/* Small libpq helpers: connect with timeouts, classify errors, array
 * literals, one-integer queries. */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The "options" value into out: base (conninfo's options) followed by the
 * timeouts o sets, or, without base, every timeout (o's or the default). */
static void
session_options(const oss_db_opts_t *o, const char *base, char *out,
                size_t cap) {
    const char *st = o && o->statement_timeout ? o->statement_timeout : NULL;
    const char *it = o && o->idle_in_transaction_timeout
                         ? o->idle_in_transaction_timeout
                         : NULL;
    const char *lt = o && o->lock_timeout ? o->lock_timeout : NULL;
    if (!base) {
        st = st ? st : OSS_DB_STATEMENT_TIMEOUT;
        it = it ? it : OSS_DB_IDLE_IN_TX_TIMEOUT;
        lt = lt ? lt : OSS_DB_LOCK_TIMEOUT;
    }
    size_t n = (size_t)snprintf(out, cap, "%s", base ? base : "");
    if (st && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s-c statement_timeout=%s",
                              n ? " " : "", st);
    if (it && n < cap)
        n += (size_t)snprintf(out + n, cap - n,
                              "%s-c idle_in_transaction_session_timeout=%s",
                              n ? " " : "", it);
    if (lt && n < cap)
        snprintf(out + n, cap - n, "%s-c lock_timeout=%s", n ? " " : "", lt);
}

oss_code_t
oss_db_connect(const char *conninfo, const char *application_name, PGconn **out,
               oss_err_t *err) {
    oss_db_opts_t o = {.application_name = application_name};
    return oss_db_connect_opts(conninfo, &o, out, err);
}

oss_code_t
oss_db_connect_opts(const char *conninfo, const oss_db_opts_t *dbo,
                    PGconn **out, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    const char *application_name = dbo ? dbo->application_name : NULL;
    char timeout[16], options[1024];
    const char *conn_options = NULL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    const char **keys = NULL, **vals = NULL;
    PGconn *c = NULL;

    *out = NULL;
    if (!opts) {
        rc = oss_err_set(err, OSS_EINVAL, "invalid connection string: %s",
                         perr ? perr : "out of memory");
        goto done;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    keys = calloc(n + 4, sizeof *keys);
    vals = calloc(n + 4, sizeof *vals);
    if (!keys || !vals) {
        rc = oss_err_set(err, OSS_ENOMEM, "could not connect: out of memory");
        goto done;
    }
    size_t k = 0;
    int have_timeout = 0, have_app = 0, have_options = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "connect_timeout") == 0)
            have_timeout = 1;
        else if (strcmp(o->keyword, "application_name") == 0)
            have_app = 1;
        else if (strcmp(o->keyword, "options") == 0) {
            have_options = 1;
            conn_options = o->val;
            continue; /* added below */
        }
        keys[k] = o->keyword;
        vals[k++] = o->val;
    }
    if (!have_timeout) {
        if (dbo && dbo->connect_timeout_s > 0)
            snprintf(timeout, sizeof timeout, "%d", dbo->connect_timeout_s);
        else
            snprintf(timeout, sizeof timeout, "%s", OSS_DB_CONNECT_TIMEOUT_S);
        keys[k] = "connect_timeout";
        vals[k++] = timeout;
    }
    if (!have_app && application_name) {
        keys[k] = "application_name";
        vals[k++] = application_name;
    }
    session_options(dbo, have_options ? conn_options : NULL, options,
                    sizeof options);
    if (options[0]) {
        keys[k] = "options";
        vals[k++] = options;
    }
    keys[k] = NULL;
    vals[k] = NULL;

    c = PQconnectdbParams(keys, vals, 0);
    if (!c) {
        rc = oss_err_set(err, OSS_ENOMEM, "could not connect: out of memory");
        goto done;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[OSS_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        rc = oss_err_set(err, OSS_EUNAVAIL,
                         "could not connect to PostgreSQL: %s", msg);
        PQfinish(c);
        c = NULL;
        goto done;
    }
    *out = c;
done:
    free(keys);
    free(vals);
    if (opts)
        PQconninfoFree(opts);
    PQfreemem(perr);
    return rc;
}

oss_code_t
oss_db_set_timeouts(PGconn *c, const char *statement_timeout,
                    const char *idle_in_transaction_timeout, oss_err_t *err) {
    const char *p[2] = {
        statement_timeout ? statement_timeout : OSS_DB_STATEMENT_TIMEOUT,
        idle_in_transaction_timeout ? idle_in_transaction_timeout
                                    : OSS_DB_IDLE_IN_TX_TIMEOUT};
    PGresult *r = PQexecParams(
        c,
        "SELECT set_config('statement_timeout', $1, false), "
        "set_config('idle_in_transaction_session_timeout', $2, false)",
        2, NULL, p, NULL, NULL, 0);
    oss_code_t rc = OSS_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = oss_db_error(c, r, "set the session timeouts", err);
        if (rc == OSS_EINTERNAL && !oss_db_conn_lost(c, r))
            rc = err ? (err->code = OSS_EINVAL) : OSS_EINVAL;
    }
    PQclear(r);
    return rc;
}

oss_code_t
oss_db_set_bulk(PGconn *c, int on, oss_err_t *err) {
    return on ? oss_db_set_timeouts(c, OSS_DB_BULK_STATEMENT_TIMEOUT,
                                    OSS_DB_BULK_IDLE_IN_TX_TIMEOUT, err)
              : oss_db_set_timeouts(c, NULL, NULL, err);
}

const char *
oss_db_sqlstate(const PGresult *r) {
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

bool
oss_db_conn_lost(PGconn *c, const PGresult *r) {
    if (!c || PQstatus(c) == CONNECTION_BAD)
        return true;
    const char *s = oss_db_sqlstate(r);
    if (!r || !*s) {
        /* libpq's own failures (no SQLSTATE): lost connection, usually */
        return !r || PQresultStatus(r) == PGRES_FATAL_ERROR;
    }
    return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
           strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0 ||
           strcmp(s, "25P03") == 0;
}

bool
oss_db_retry_txn(const PGresult *r) {
    const char *s = oss_db_sqlstate(r);
    return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0;
}

oss_code_t
oss_db_error(PGconn *c, const PGresult *r, const char *what, oss_err_t *err) {
    char msg[OSS_ERR_MSG_MAX];
    const char *m = NULL;
    if (r)
        m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!m || !*m)
        m = r ? PQresultErrorMessage(r) : NULL;
    if ((!m || !*m) && c)
        m = PQerrorMessage(c);
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "unknown error");
    msg[strcspn(msg, "\n")] = '\0';
    const char *s = oss_db_sqlstate(r);
    oss_code_t code = OSS_EINTERNAL;
    if (oss_db_conn_lost(c, r) || strcmp(s, "57014") == 0 ||
        strcmp(s, "55P03") == 0 || oss_db_retry_txn(r))
        code = OSS_EUNAVAIL;
    return oss_err_set(err, code, "could not %s: %s", what, msg);
}

char *
oss_db_text_array(const char *const *items, size_t n) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(items[i]) + 3;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *q = items[i]; *q; q++) {
            if (*q == '"' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

oss_code_t
oss_db_exec(PGconn *c, const char *sql, oss_err_t *err) {
    PGresult *r = PQexec(c, sql);
    oss_code_t rc = OSS_OK;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = oss_db_error(c, r, "run statement", err);
    PQclear(r);
    return rc;
}

int64_t
oss_db_query_int64(PGconn *c, const char *sql, int n, const char *const *p,
                   bool *ok) {
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    int64_t v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        *ok = false;
    PQclear(r);
    return v;
}
