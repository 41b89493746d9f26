/* Integration tests of the projector's library against the real PostgreSQL
 * of var/run.env: journal catch-up (exactly once), gap filling from the
 * journal, rebuild + atomic swap (positions carried across, progress
 * recorded), dead-letter redrive. Each test works in its own read-model
 * schema and with its own stream ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <cmocka.h>

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
q(PGconn *c, const char *fmt, ...) {
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
    const char *const *seq; /* non-NULL: one AccountRegistered per account id
                               here (NULL-terminated) instead */
} gen_t;

static void
push_registered(oss_event_list_t *out, const char *account_id) {
    Oss__V1__AccountRegistered m = OSS__V1__ACCOUNT_REGISTERED__INIT;
    m.account_id = (char *)account_id;
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

static oss_code_t
decide(void *vctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    gen_t *g = vctx;
    (void)history;
    (void)err;
    if (g->seq) {
        for (int i = 0; g->seq[i]; i++)
            push_registered(out, g->seq[i]);
        return OSS_OK;
    }
    if (n == 0)
        push_registered(out, g->account_id);
    for (int i = 0; i < g->extra; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        snprintf(ev->payload_type, sizeof ev->payload_type, "test.v1.Other");
        ev->schema_version = 1;
    }
    return OSS_OK;
}

/* Appends one command on stream "account-<account_id>" (g: what). */
static void
append_gen(const char *account_id, gen_t *g) {
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    char stream[160];
    snprintf(stream, sizeof stream, "account-%s", account_id);
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    oss_command_t c;
    memset(&c, 0, sizeof c);
    c.stream_id = stream;
    c.stream_type = "account";
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c.actor_id = "test-projector";
    c.correlation_id = prefix;
    c.decide = decide;
    c.ctx = g;
    assert_int_equal(oss_journal_execute(j, &c, 1, &err), OSS_OK);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    oss_event_list_free(&c.events);
    oss_journal_free(j);
}

static void
append(const char *account_id, int extra) {
    gen_t g = {account_id, extra, NULL};
    append_gen(account_id, &g);
}

static int
setup(void **state) {
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
teardown(void **state) {
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
accounts(const char *s) {
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
catch_up_until(long long n) {
    oss_err_t err = {0};
    int64_t applied = 0;
    for (int i = 0; i < 90 && accounts(schema) < n; i++) {
        assert_int_equal(oss_projector_catch_up(cfg, &applied, &err), OSS_OK);
        if (accounts(schema) < n)
            sleep(1);
    }
    assert_int_equal(accounts(schema), n);
}

/* The schema's journal catch-up cursor (xid, position) for this run. */
static void
cursor(char *xid, char *pos) {
    PGresult *r = q(app,
                    "SELECT coalesce((SELECT xid::text FROM %s.catchup WHERE "
                    "name = '%s'), '0'), coalesce((SELECT position::text FROM "
                    "%s.catchup WHERE name = '%s'), '0')",
                    schema, name, schema, name);
    snprintf(xid, 32, "%s", PQgetvalue(r, 0, 0));
    snprintf(pos, 24, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
}

static void
test_catch_up_exactly_once(void **state) {
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
    /* nothing applied twice: a second catch-up applies none of this run's
     * events (the journal is shared: it may apply other runs' new events,
     * all of them between the cursor before and after it) */
    char x1[32], p1[24], x2[32], p2[24];
    cursor(x1, p1);
    oss_err_t err = {0};
    int64_t applied = -1;
    assert_int_equal(oss_projector_catch_up(cfg, &applied, &err), OSS_OK);
    cursor(x2, p2);
    snprintf(sql, sizeof sql,
             "SELECT count(*), count(*) FILTER (WHERE stream_id LIKE "
             "'account-%s-%%') FROM oss.journal WHERE (xid, position) > "
             "('%s'::xid8, %s) AND (xid, position) <= ('%s'::xid8, %s)",
             prefix, x1, p1, x2, p2);
    r = q(app, "%s", sql);
    long long others = atoll(PQgetvalue(r, 0, 0));
    assert_string_equal(PQgetvalue(r, 0, 1), "0");
    PQclear(r);
    assert_true(applied >= 0);
    assert_true(applied <= others);
    assert_int_equal(accounts(schema), 30);
    /* and each account was applied exactly once */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE apply_count <> 1) FROM "
             "%s.accounts WHERE account_id LIKE '%s-%%'",
             schema, prefix);
    r = q(app, "%s", sql);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
}

/* A Kafka-like batch whose first event is version 3: versions 1 and 2 come
 * from the journal; replaying version 2 afterwards is skipped. */
static void
test_gap_filled_from_journal(void **state) {
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
digest(const char *s) {
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
test_rebuild_swaps_and_keeps_positions(void **state) {
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
test_redrive(void **state) {
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
    assert_int_equal(
        oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"), &ring,
                         &err),
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

    assert_int_equal(
        oss_dlq_redrive_ex(cfg, OSS_DLQ_ALL, stdout, &ok, &bad, &err), OSS_OK);
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
    assert_int_equal(oss_dlq_redrive(cfg, 999999999999LL, &err), OSS_ENOTFOUND);
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

/* A context on the test schema over the app connection. */
static pj_ctx_t
ctx(void) {
    pj_ctx_t c;
    memset(&c, 0, sizeof c);
    c.conn = app;
    c.name = name;
    snprintf(c.schema, sizeof c.schema, "%s", schema);
    return c;
}

/* An item (from the journal) holding a copy of ev; caller pj_item_clear()s. */
static pj_item_t
item(const oss_event_t *ev) {
    pj_item_t it;
    oss_err_t err = {0};
    memset(&it, 0, sizeof it);
    it.has_ev = 1;
    it.offset = -1;
    assert_int_equal(oss_event_copy(&it.ev, ev, &err), OSS_OK);
    return it;
}

static long long
scalar(const char *fmt, const char *a, const char *b) {
    PGresult *r = q(app, fmt, a, b);
    long long v = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return v;
}

/* pj_apply_each() inside BEGIN .. COMMIT, checking that it left no
 * savepoint "one" behind (RELEASE of a missing savepoint fails). */
static void
apply_each(pj_ctx_t *c, pj_item_t *it) {
    oss_err_t err = {0};
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply_each(c, it, 1, &err), OSS_OK);
    PQclear(q(app, "SAVEPOINT probe"));
    PGresult *r = PQexec(app, "RELEASE SAVEPOINT one");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR); /* none left */
    PQclear(r);
    PQclear(q(app, "ROLLBACK TO SAVEPOINT probe"));
    PQclear(q(app, "COMMIT"));
}

/* Every version up to the stream's applied one is in the read model (its
 * own account row, accs[v - 1]) or in the dead letters: none was skipped. */
static void
assert_none_skipped(const char *stream, const char *const *accs) {
    long long applied = scalar("SELECT version FROM %s.applied_streams "
                               "WHERE stream_id = '%s'",
                               schema, stream);
    for (long long v = 1; v <= applied; v++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM %s.accounts WHERE account_id = "
                 "'%s') + (SELECT count(*) FROM oss.dead_letters WHERE "
                 "consumer = '%s' AND stream_id = '%s' AND version = %lld)",
                 schema, accs[v - 1], name, stream, v);
        PGresult *r = q(app, "%s", sql);
        if (atoll(PQgetvalue(r, 0, 0)) == 0)
            fail_msg("stream %s: version %lld marked applied (applied = %lld) "
                     "but neither applied nor dead-lettered",
                     stream, v, applied);
        PQclear(r);
    }
}

/* The single-item fallback: an event whose application fails with an SQL
 * error at v = 3 while v = 2 is missing (filled from the journal, then
 * rolled back with it) is dead-lettered but not marked applied; at v =
 * applied + 1 it is dead-lettered and marked so that the stream goes on. */
static void
test_apply_each_never_skips_a_version(void **state) {
    (void)state;
    char a1[160], a2[160], a3[160], stream[200];
    snprintf(a1, sizeof a1, "%s.each-v1", prefix);
    snprintf(a2, sizeof a2, "%s.each-v2", prefix);
    snprintf(a3, sizeof a3, "%s.each-v3", prefix);
    snprintf(stream, sizeof stream, "account-%s", a1);
    const char *const accs[] = {a1, a2, a3, NULL};
    gen_t g = {a1, 0, accs};
    append_gen(a1, &g);
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    oss_event_list_t evs = {0};
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    assert_int_equal(oss_journal_load(j, stream, &evs, &err), OSS_OK);
    assert_int_equal(evs.len, 3);

    /* the read model refuses the rows of versions 2 and 3 (an SQL error
     * of those events, e.g. a constraint) */
    PQclear(q(owner,
              "CREATE FUNCTION %s.refuse() RETURNS trigger LANGUAGE plpgsql "
              "AS $f$ BEGIN IF NEW.account_id IN ('%s', '%s') THEN RAISE "
              "EXCEPTION 'refused by test'; END IF; RETURN NEW; END $f$; "
              "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON %s.accounts "
              "FOR EACH ROW EXECUTE FUNCTION %s.refuse()",
              schema, a2, a3, schema, schema));

    pj_ctx_t c = ctx();
    pj_item_t it = item(&evs.items[0]);
    apply_each(&c, &it); /* v1 applies; its savepoint is released */
    pj_item_clear(&it);
    assert_int_equal(c.applied, 1);
    assert_int_equal(c.dead, 0);

    /* v3 while v2 is missing: dead-lettered, v2..v3 NOT marked applied */
    it = item(&evs.items[2]);
    apply_each(&c, &it);
    pj_item_clear(&it);
    assert_int_equal(c.dead, 1);
    assert_int_equal(scalar("SELECT version FROM %s.applied_streams WHERE "
                            "stream_id = '%s'",
                            schema, stream),
                     1);
    assert_none_skipped(stream, accs);

    /* v2 = applied + 1: dead-lettered and marked, the stream goes on */
    it = item(&evs.items[1]);
    apply_each(&c, &it);
    pj_item_clear(&it);
    assert_int_equal(c.dead, 2);
    assert_int_equal(scalar("SELECT version FROM %s.applied_streams WHERE "
                            "stream_id = '%s'",
                            schema, stream),
                     2);
    /* and v3 now too */
    it = item(&evs.items[2]);
    apply_each(&c, &it);
    pj_item_clear(&it);
    assert_int_equal(c.dead, 3);
    assert_int_equal(scalar("SELECT version FROM %s.applied_streams WHERE "
                            "stream_id = '%s'",
                            schema, stream),
                     3);
    assert_none_skipped(stream, accs);
    assert_int_equal(scalar("SELECT count(*) FROM oss.dead_letters WHERE "
                            "consumer = '%s' AND stream_id = '%s' AND kind = "
                            "'apply' AND resolved_at IS NULL",
                            name, stream),
                     3);

    PQclear(q(owner, "DROP TRIGGER refuse ON %s.accounts", schema));
    PQclear(q(app,
              "UPDATE oss.dead_letters SET resolved_at = now() WHERE "
              "consumer = '%s'",
              name));
    oss_event_list_free(&evs);
    oss_journal_free(j);
}

/* accounts.apply_count counts real applications: a re-delivered version is
 * skipped (count unchanged), a forced re-application (redrive) adds one, and
 * two applications of the same account in one batch add two. */
static void
test_apply_count(void **state) {
    (void)state;
    char a[160], stream[200];
    snprintf(a, sizeof a, "%s.count", prefix);
    snprintf(stream, sizeof stream, "account-%s", a);
    append(a, 0);
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    oss_event_list_t evs = {0};
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    assert_int_equal(oss_journal_load(j, stream, &evs, &err), OSS_OK);
    assert_int_equal(evs.len, 1);
    const char *cnt = "SELECT apply_count FROM %s.accounts WHERE account_id "
                      "= '%s'";

    pj_ctx_t c = ctx();
    pj_item_t two[2] = {item(&evs.items[0]), item(&evs.items[0])};
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply(&c, two, 2, &err), OSS_OK); /* 2nd: skipped */
    PQclear(q(app, "COMMIT"));
    assert_int_equal(scalar(cnt, schema, a), 1);
    assert_int_equal(c.skipped, 1);
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply(&c, two, 1, &err), OSS_OK); /* re-delivered */
    PQclear(q(app, "COMMIT"));
    assert_int_equal(scalar(cnt, schema, a), 1);
    c.force = 1;
    PQclear(q(app, "BEGIN"));
    assert_int_equal(pj_apply(&c, two, 2, &err), OSS_OK); /* forced, twice */
    PQclear(q(app, "COMMIT"));
    assert_int_equal(scalar(cnt, schema, a), 3);
    pj_item_clear(&two[0]);
    pj_item_clear(&two[1]);
    oss_event_list_free(&evs);
    oss_journal_free(j);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_exactly_once),
        cmocka_unit_test(test_gap_filled_from_journal),
        cmocka_unit_test(test_rebuild_swaps_and_keeps_positions),
        cmocka_unit_test(test_redrive),
        /* last: their accounts do not match "<prefix>-%" counted above,
         * but a catch-up would meet the refused rows */
        cmocka_unit_test(test_apply_each_never_skips_a_version),
        cmocka_unit_test(test_apply_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
