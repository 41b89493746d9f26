/* Small libpq helpers: connect with timeouts, classify errors, array
 * literals. */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oss_code_t
oss_db_connect(const char *conninfo, const char *application_name, PGconn **out,
               oss_err_t *err) {
    oss_code_t rc = OSS_OK;
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
        else if (strcmp(o->keyword, "options") == 0)
            have_options = 1;
        keys[k] = o->keyword;
        vals[k++] = o->val;
    }
    if (!have_timeout) {
        keys[k] = "connect_timeout";
        vals[k++] = OSS_DB_CONNECT_TIMEOUT_S;
    }
    if (!have_app && application_name) {
        keys[k] = "application_name";
        vals[k++] = application_name;
    }
    if (!have_options) {
        keys[k] = "options";
        vals[k++] = OSS_DB_SESSION_OPTIONS;
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
