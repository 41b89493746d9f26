/* Integration tests of the projector's library against the real PostgreSQL
 * of var/run.env: journal catch-up (exactly once), gap filling from the
 * journal, rebuild + atomic swap (positions carried across, progress
 * recorded), dead-letter redrive. Each test works in its own read-model
 * schema and with its own stream ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "bus/bus.h"
#include "config/config.h"
#include "journal/journal.h"
#include "oss/v1/account.pb-c.h"
#include "oss_test.h"
#include "projector.h"
#include "projector_int.h"

static char schema[64], name[96], prefix[96];
static PGconn *app, *owner;
static oss_config_t *cfg;

static PGresult *
q(PGconn *c, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
        fail();
    }
    return r;
}

/* ---- appending through the real journal ---- */

typedef struct gen {
    const char *account_id;
    int extra; /* events of an unknown type after the registration */
} gen_t;

static oss_code_t
decide(void *vctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err)
{
    gen_t *g = vctx;
    (void)history;
    (void)err;
    if (n == 0) {
        Oss__V1__AccountRegistered m = OSS__V1__ACCOUNT_REGISTERED__INIT;
        m.account_id = (char *)g->account_id;
        m.scale = OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_NON_UMK;
        m.actor_type = "01";
        m.subject_id = "00000000-0000-4000-8000-000000000001";
        m.terms_version = "2025-06";
        m.country = "ID";
        oss_event_t *ev = oss_event_list_push(out);
        ev->payload_len = oss__v1__account_registered__get_packed_size(&m);
        ev->payload = malloc(ev->payload_len + 1);
        oss__v1__account_registered__pack(&m, ev->payload);
        snprintf(ev->payload_type, sizeof ev->payload_type,
                 "oss.v1.AccountRegistered");
        ev->schema_version = 1;
    }
    for (int i = 0; i < g->extra; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Other");
        ev->schema_version = 1;
    }
    return OSS_OK;
}

/* Appends one command on stream "account-<account_id>". */
static void
append(const char *account_id, int extra)
{
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    char stream[160];
    snprintf(stream, sizeof stream, "account-%s", account_id);
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    gen_t g = {account_id, extra};
    oss_command_t c;
    memset(&c, 0, sizeof c);
    c.stream_id = stream;
    c.stream_type = "account";
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c.actor_id = "test-projector";
    c.correlation_id = prefix;
    c.decide = decide;
    c.ctx = &g;
    assert_int_equal(oss_journal_execute(j, &c, 1, &err), OSS_OK);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    oss_event_list_free(&c.events);
    oss_journal_free(j);
}

static int
setup(void **state)
{
    (void)state;
    if (oss_test_load_env() != 0)
        return -1;
    char *id = oss_test_id("pj");
    unsigned long long h = 0;
    for (char *p = id; *p; p++)
        h = h * 131 + (unsigned char)*p;
    snprintf(schema, sizeof schema, "rm_it%llx", h % 0xffffffffffULL);
    snprintf(name, sizeof name, "it-%s", id);
    snprintf(prefix, sizeof prefix, "%s", id);
    free(id);
    setenv("OSS_PROJECTOR_SCHEMA", schema, 1);
    setenv("OSS_PROJECTOR_NAME", name, 1);
    oss_err_t err = {0};
    if (oss_config_load(NULL, &cfg, &err) != OSS_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return -1;
    }
    app = PQconnectdb(getenv("OSS_PG_URL"));
    owner = PQconnectdb(getenv("OSS_PG_ADMIN_URL"));
    if (PQstatus(app) != CONNECTION_OK || PQstatus(owner) != CONNECTION_OK)
        return -1;
    PQclear(q(owner, "SELECT oss.rm_define('%s')", schema));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    if (owner) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS "
                 "%s_new CASCADE; DELETE FROM oss.rebuild_progress WHERE "
                 "schema_name = '%s'",
                 schema, schema, schema);
        PQclear(PQexec(owner, sql));
    }
    PQfinish(app);
    PQfinish(owner);
    oss_config_free(cfg);
    return 0;
}

/* Accounts of this run in schema s. */
static long long
accounts(const char *s)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.accounts WHERE account_id LIKE '%s-%%'",
             s, prefix);
    PGresult *r = q(app, "%s", sql);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Waits until the journal catch-up has applied n accounts of this run. */
static void
catch_up_until(long long n)
{
    oss_err_t err = {0};
    int64_t applied = 0;
    for (int i = 0; i < 90 && accounts(schema) < n; i++) {
        assert_int_equal(oss_projector_catch_up(cfg, &applied, &err), OSS_OK);
        if (accounts(schema) < n)
            sleep(1);
    }
    assert_int_equal(accounts(schema), n);
}

static void
test_catch_up_exactly_once(void **state)
{
    (void)state;
    char id[128];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "%s-%03d", prefix, i);
        append(id, i == 0 ? 2 : 0);
    }
    catch_up_until(30);
    snprintf(id, sizeof id, "account-%s-000", prefix);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT version FROM %s.applied_streams WHERE stream_id = '%s'",
             schema, id);
    PGresult *r = q(app, "%s", sql);
    assert_int_equal(PQntuples(r), 1);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), 3);
    PQclear(r);
    snprintf(sql, sizeof sql,
             "SELECT scale, actor_type, country, status, version FROM "
             "%s.accounts WHERE account_id = '%s-001'",
             schema, prefix);
    r = q(app, "%s", sql);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "non_umk");
    assert_string_equal(PQgetvalue(r, 0, 1), "01");
    assert_string_equal(PQgetvalue(r, 0, 2), "ID");
    assert_string_equal(PQgetvalue(r, 0, 3), "registered");
    PQclear(r);
    /* nothing applied twice: a second catch-up changes nothing */
    oss_err_t err = {0};
    int64_t applied = -1;
    assert_int_equal(oss_projector_catch_up(cfg, &applied, &err), OSS_OK);
    assert_int_equal(accounts(schema), 30);
    r = q(app, "%s", "SELECT 1"); /* keeps the connection state checked */
    PQclear(r);
}

/* A Kafka-like batch whose first event is version 3: versions 1 and 2 come
 * from the journal; replaying version 2 afterwards is skipped. */
static void
test_gap_filled_from_journal(void **state)
{
    (void)state;
    char id[128], stream[160];
    snprintf(id, sizeof id, "%s-gap", prefix);
    snprintf(stream, sizeof stream, "account-%s", id);
    append(id, 2);
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    oss_event_list_t evs = {0};
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    assert_int_equal(oss_journal_load(j, stream, &evs, &err), OSS_OK);
    assert_int_equal(evs.len, 3);

    pj_ctx_t c;
    memset(&c, 0, sizeof c);
    c.conn = app;
    c.name = name;
    snprintf(c.schema, sizeof c.schema, "%s", schema);
    pj_item_t it;
    memset(&it, 0, sizeof it);
    it.has_ev = 1;
    it.offset = -1;
    assert_int_equal(oss_event_copy(&it.ev, &evs.items[2], &err), OSS_OK);
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply(&c, &it, 1, &err), OSS_OK);
    PQclear(q(app, "COMMIT"));
    pj_item_clear(&it);
    assert_int_equal(c.gaps_filled, 2);
    assert_int_equal(c.applied, 3);

    memset(&it, 0, sizeof it);
    it.has_ev = 1;
    it.offset = -1;
    assert_int_equal(oss_event_copy(&it.ev, &evs.items[1], &err), OSS_OK);
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply(&c, &it, 1, &err), OSS_OK);
    PQclear(q(app, "COMMIT"));
    pj_item_clear(&it);
    assert_int_equal(c.skipped, 1);
    assert_int_equal(c.applied, 3);

    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT version FROM %s.applied_streams WHERE stream_id = '%s'",
             schema, stream);
    PGresult *r = q(app, "%s", sql);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), 3);
    PQclear(r);
    oss_event_list_free(&evs);
    oss_journal_free(j);
}

static char *
digest(const char *s)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', "
             "account_id, stream_id, status, scale, actor_type, country, "
             "terms_version, subject_id, registered_at, version), ',' ORDER "
             "BY account_id)) FROM %s.accounts WHERE account_id LIKE '%s-%%'",
             s, prefix);
    PGresult *r = q(app, "%s", sql);
    char *d = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return d;
}

static void
test_rebuild_swaps_and_keeps_positions(void **state)
{
    (void)state;
    char sql[1024];
    catch_up_until(31); /* 30 + the gap stream */
    char *before = digest(schema);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.positions (name, cluster_id, topic, partition, "
             "next_offset) VALUES ('%s', 'c-test', 'oss.account', 0, 42); "
             "UPDATE %s.accounts SET country = 'XX' WHERE account_id = "
             "'%s-005'",
             schema, name, schema, prefix);
    PQclear(q(app, "%s", sql));
    char *damaged = digest(schema);
    assert_string_not_equal(before, damaged);

    oss_err_t err = {0};
    assert_int_equal(oss_projector_rebuild(cfg, false, &err), OSS_OK);
    char *after = digest(schema);
    assert_string_equal(before, after);
    snprintf(sql, sizeof sql,
             "SELECT next_offset, cluster_id FROM %s.positions WHERE name = "
             "'%s'",
             schema, name);
    PGresult *r = q(app, "%s", sql);
    assert_int_equal(PQntuples(r), 1);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), 42);
    assert_string_equal(PQgetvalue(r, 0, 1), "c-test");
    PQclear(r);
    snprintf(sql, sizeof sql,
             "SELECT state, done > 0, total > 0 FROM oss.rebuild_progress "
             "WHERE schema_name = '%s'",
             schema);
    r = q(app, "%s", sql);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "swapped");
    assert_string_equal(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_namespace WHERE nspname IN ('%s_new', "
             "'%s_old')",
             schema, schema);
    r = q(app, "%s", sql);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    free(before);
    free(damaged);
    free(after);
}

static void
test_redrive(void **state)
{
    (void)state;
    char sql[2048], id[160], stream[200];
    oss_err_t err = {0};
    int64_t ok = 0, bad = 0;

    /* (1) an applier failure recorded from the journal: re-read, applied */
    snprintf(id, sizeof id, "%s-redrive", prefix);
    snprintf(stream, sizeof stream, "account-%s", id);
    append(id, 0);
    catch_up_until(32);
    snprintf(sql, sizeof sql,
             "DELETE FROM %s.accounts WHERE account_id = '%s'; INSERT INTO "
             "oss.dead_letters (consumer, kind, stream_id, version, reason) "
             "VALUES ('%s', 'apply', '%s', 1, 'test')",
             schema, id, name, stream);
    PQclear(q(app, "%s", sql));
    assert_int_equal(accounts(schema), 31);

    /* (2) a Kafka message signed with our key (a new stream): applied */
    oss_keyring_t ring;
    assert_int_equal(oss_keyring_load(oss_config_str(cfg,
                                                     "bus.signing_key_file"),
                                      &ring, &err),
                     OSS_OK);
    oss_event_t ev;
    memset(&ev, 0, sizeof ev);
    char acc2[160];
    snprintf(acc2, sizeof acc2, "%s-signed", prefix);
    snprintf(ev.event_id, sizeof ev.event_id,
             "00000000-0000-7000-8000-000000000002");
    snprintf(ev.stream_id, sizeof ev.stream_id, "account-%.100s", acc2);
    snprintf(ev.stream_type, sizeof ev.stream_type, "account");
    ev.version = 1;
    snprintf(ev.payload_type, sizeof ev.payload_type,
             "oss.v1.AccountRegistered");
    Oss__V1__AccountRegistered m = OSS__V1__ACCOUNT_REGISTERED__INIT;
    m.account_id = acc2;
    m.country = "ID";
    ev.payload_len = oss__v1__account_registered__get_packed_size(&m);
    ev.payload = malloc(ev.payload_len + 1);
    oss__v1__account_registered__pack(&m, ev.payload);
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(oss_envelope_encode(&ev, &val, &vlen, &err), OSS_OK);
    char sig[65];
    oss_bus_sign(&ring, ev.event_id, ev.stream_id, strlen(ev.stream_id), val,
                 vlen, sig);
    size_t n;
    unsigned char *hexval = PQescapeByteaConn(app, val, vlen, &n);
    for (int forged = 0; forged < 2; forged++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO oss.dead_letters (consumer, kind, topic, "
                 "partition, msg_offset, reason, msg_key, payload, headers) "
                 "VALUES ('%s', 'signature', 'oss.account', 0, %d, 'test', "
                 "convert_to('%s', 'UTF8'), '%s'::bytea, "
                 "jsonb_build_object('ce_id', '%s', 'oss_signature', '%s'))",
                 name, forged, ev.stream_id, (char *)hexval, ev.event_id,
                 forged ? "00" : sig);
        PQclear(q(app, "%s", sql));
    }
    PQfreemem(hexval);
    free(val);
    oss_event_clear(&ev);

    assert_int_equal(oss_dlq_redrive_ex(cfg, OSS_DLQ_ALL, stdout, &ok, &bad,
                                        &err),
                     OSS_OK);
    assert_int_equal(ok, 2);
    assert_int_equal(bad, 1);
    assert_int_equal(accounts(schema), 33);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM oss.dead_letters WHERE consumer = '%s' AND "
             "resolved_at IS NULL AND attempts = 1",
             name);
    PGresult *r = q(app, "%s", sql);
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    /* an unknown id */
    assert_int_equal(oss_dlq_redrive(cfg, 999999999999LL, &err),
                     OSS_ENOTFOUND);
    /* listing works */
    FILE *f = tmpfile();
    assert_int_equal(oss_dlq_list(cfg, f, &err), OSS_OK);
    assert_true(ftell(f) > 0);
    fclose(f);
    snprintf(sql, sizeof sql,
             "UPDATE oss.dead_letters SET resolved_at = now() WHERE consumer "
             "= '%s'",
             name);
    PQclear(q(app, "%s", sql));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_exactly_once),
        cmocka_unit_test(test_gap_filled_from_journal),
        cmocka_unit_test(test_rebuild_swaps_and_keeps_positions),
        cmocka_unit_test(test_redrive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
