/* The one PostgreSQL connect routine (src/db/db.c) against the stack's
 * PostgreSQL (var/run.env): the session defaults, the per-connection
 * override of bulk work (oss_db_opts_t), and the per-work override on an
 * open connection (oss_db_set_timeouts / oss_db_set_bulk); the one-integer
 * query (oss_db_query_int64). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "db/db.h"
#include "oss_test.h"

static oss_config_t *cfg;

/* SHOW name into out. */
static void
show(PGconn *c, const char *name, char *out, size_t cap) {
    char sql[128];
    snprintf(sql, sizeof sql, "SHOW %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void
assert_setting(PGconn *c, const char *name, const char *want) {
    char v[64];
    show(c, name, v, sizeof v);
    assert_string_equal(v, want);
}

static void
test_defaults(void **state) {
    (void)state;
    oss_err_t err = {0};
    PGconn *c = NULL;
    assert_int_equal(
        oss_db_connect(oss_config_str(cfg, "pg.url"), "oss-test-db", &c, &err),
        OSS_OK);
    assert_setting(c, "statement_timeout", "30s");
    assert_setting(c, "idle_in_transaction_session_timeout", "1min");
    assert_setting(c, "lock_timeout", "30s");
    assert_setting(c, "application_name", "oss-test-db");
    PQfinish(c);
}

static void
test_bulk_connection(void **state) {
    (void)state;
    oss_err_t err = {0};
    PGconn *c = NULL;
    oss_db_opts_t o = OSS_DB_OPTS_BULK("oss-test-bulk");
    o.connect_timeout_s = 3;
    assert_int_equal(
        oss_db_connect_opts(oss_config_str(cfg, "pg.url"), &o, &c, &err),
        OSS_OK);
    assert_setting(c, "statement_timeout", "1h");
    assert_setting(c, "idle_in_transaction_session_timeout", "10min");
    assert_setting(c, "lock_timeout", "30s"); /* not overridden */
    assert_setting(c, "application_name", "oss-test-bulk");
    PQfinish(c);
}

static void
test_bulk_on_an_open_connection(void **state) {
    (void)state;
    oss_err_t err = {0};
    PGconn *c = NULL;
    assert_int_equal(
        oss_db_connect_opts(oss_config_str(cfg, "pg.url"), NULL, &c, &err),
        OSS_OK);
    assert_int_equal(oss_db_set_bulk(c, 1, &err), OSS_OK);
    assert_setting(c, "statement_timeout", "1h");
    assert_setting(c, "idle_in_transaction_session_timeout", "10min");
    assert_int_equal(oss_db_set_bulk(c, 0, &err), OSS_OK);
    assert_setting(c, "statement_timeout", "30s");
    assert_setting(c, "idle_in_transaction_session_timeout", "1min");
    assert_int_equal(oss_db_set_timeouts(c, "15min", NULL, &err), OSS_OK);
    assert_setting(c, "statement_timeout", "15min");
    assert_setting(c, "idle_in_transaction_session_timeout", "1min");
    assert_int_equal(oss_db_set_timeouts(c, "not a time", NULL, &err),
                     OSS_EINVAL);
    assert_setting(c, "statement_timeout", "15min");
    PQfinish(c);
}

static void
test_conninfo_options_kept(void **state) {
    (void)state;
    oss_err_t err = {0};
    PGconn *c = NULL, *base = NULL;
    /* the server's own key=value conninfo, plus an options setting */
    assert_int_equal(
        oss_db_connect(oss_config_str(cfg, "pg.url"), NULL, &base, &err),
        OSS_OK);
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo,
             "host=%s port=%s dbname=%s user=%s%s%s "
             "options='-c search_path=oss'",
             PQhost(base), PQport(base), PQdb(base), PQuser(base),
             PQpass(base) && *PQpass(base) ? " password=" : "",
             PQpass(base) && *PQpass(base) ? PQpass(base) : "");
    PQfinish(base);
    oss_db_opts_t o = {.statement_timeout = "45s"};
    assert_int_equal(oss_db_connect_opts(conninfo, &o, &c, &err), OSS_OK);
    assert_setting(c, "search_path", "oss");
    assert_setting(c, "statement_timeout", "45s");
    PQfinish(c);
    assert_int_equal(oss_db_connect_opts("host=127.0.0.1 port=1 "
                                         "dbname=none connect_timeout=2",
                                         NULL, &c, &err),
                     OSS_EUNAVAIL);
    assert_null(c);
    assert_int_equal(oss_db_connect_opts("not a = 'conninfo", NULL, &c, &err),
                     OSS_EINVAL);
}

static void
test_query_int64(void **state) {
    (void)state;
    oss_err_t err = {0};
    PGconn *c = NULL;
    assert_int_equal(
        oss_db_connect(oss_config_str(cfg, "pg.url"), NULL, &c, &err), OSS_OK);
    bool ok = true;
    const char *p[2] = {"40", "2"};
    assert_int_equal(
        oss_db_query_int64(c, "SELECT $1::int8 + $2::int8", 2, p, &ok), 42);
    assert_int_equal(oss_db_query_int64(c, "SELECT NULL::int8", 0, NULL, &ok),
                     0);
    assert_true(ok);
    /* no row, two rows, a failing statement: 0, and ok goes false */
    assert_int_equal(
        oss_db_query_int64(c, "SELECT 1 WHERE false", 0, NULL, &ok), 0);
    assert_false(ok);
    ok = true;
    assert_int_equal(
        oss_db_query_int64(c, "SELECT generate_series(1, 2)", 0, NULL, &ok), 0);
    assert_false(ok);
    ok = true;
    assert_int_equal(oss_db_query_int64(c, "SELECT 1 / 0", 0, NULL, &ok), 0);
    assert_false(ok);
    /* a later success leaves the flag false */
    assert_int_equal(oss_db_query_int64(c, "SELECT 7", 0, NULL, &ok), 7);
    assert_false(ok);
    PQfinish(c);
}

static int
setup(void **state) {
    (void)state;
    oss_err_t err = {0};
    if (oss_test_load_env())
        return -1;
    return oss_config_load(oss_test_env("OSS_CONFIG"), &cfg, &err) ? -1 : 0;
}

static int
teardown(void **state) {
    (void)state;
    oss_config_free(cfg);
    return 0;
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bulk_connection),
        cmocka_unit_test(test_bulk_on_an_open_connection),
        cmocka_unit_test(test_conninfo_options_kept),
        cmocka_unit_test(test_query_int64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
