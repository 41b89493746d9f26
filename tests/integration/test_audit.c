/* Integration test of the audit tools against the real journal: a stream
 * appended through oss_journal_execute verifies; a superuser's edit (content
 * changed, chain recomputed, tail deleted) is caught by the per-stream check
 * or by the checkpoint; the application role cannot UPDATE, DELETE or
 * TRUNCATE. Every edit is undone at the end so the shared journal stays
 * sound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "oss_test.h"

#include "audit.h"
#include "core/bytes.h"
#include "journal/journal.h"

#define NEV 3

typedef struct probe {
    int n;
} probe_t;

static oss_code_t
decide(void *ctx, const oss_event_t *history, size_t n, oss_event_list_t *out,
       oss_err_t *err) {
    probe_t *p = ctx;
    (void)history;
    (void)n;
    for (int i = 0; i < p->n; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        if (!ev)
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        snprintf(ev->payload_type, sizeof ev->payload_type,
                 "test.v1.AuditProbe");
        ev->schema_version = 1;
        ev->payload = malloc(8);
        memcpy(ev->payload, "probe-00", 8);
        ev->payload[7] = (uint8_t)('1' + i);
        ev->payload_len = 8;
    }
    return OSS_OK;
}

static PGconn *
connect_env(const char *var) {
    PGconn *c = PQconnectdb(oss_test_env(var));
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect %s: %s", var, PQerrorMessage(c));
        fail();
    }
    return c;
}

static void
exec_ok(PGconn *c, const char *sql, int n, const char *const *p) {
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        fail();
    }
    PQclear(r);
}

/* Runs a statement with the journal's triggers disabled, as a superuser
 * would (one transaction). */
static void
super_edit(PGconn *s, const char *sql, int n, const char *const *p) {
    exec_ok(s, "BEGIN", 0, NULL);
    exec_ok(s, "ALTER TABLE oss.journal DISABLE TRIGGER journal_no_update", 0,
            NULL);
    exec_ok(s, sql, n, p);
    exec_ok(s, "ALTER TABLE oss.journal ENABLE TRIGGER journal_no_update", 0,
            NULL);
    exec_ok(s, "COMMIT", 0, NULL);
}

static void
hexify(const uint8_t *b, char out[70]) {
    out[0] = '\\';
    out[1] = 'x';
    oss_hex_encode(b, 32, out + 2);
}

static void
test_audit_detects_superuser_edits(void **state) {
    (void)state;
    assert_int_equal(oss_test_load_env(), 0);
    char *stream = oss_test_id("audit-it");
    oss_err_t err = {0};
    oss_journal_t *j = NULL;
    assert_int_equal(oss_journal_open(oss_test_env("OSS_PG_URL"), &j, &err),
                     OSS_OK);
    probe_t p = {NEV};
    oss_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.stream_id = stream;
    cmd.stream_type = "test";
    cmd.expected_version = 0;
    cmd.actor_kind = OSS_ACTOR_OPERATOR;
    cmd.actor_id = "audit-test";
    cmd.correlation_id = "audit-test";
    cmd.decide = decide;
    cmd.ctx = &p;
    assert_int_equal(oss_journal_execute(j, &cmd, 1, &err), OSS_OK);
    assert_int_equal(cmd.outcome, OSS_JOURNAL_APPENDED);
    assert_int_equal(cmd.events.len, NEV);
    oss_event_t orig[NEV];
    for (int i = 0; i < NEV; i++)
        assert_int_equal(oss_event_copy(&orig[i], &cmd.events.items[i], &err),
                         OSS_OK);
    oss_event_list_free(&cmd.events);
    oss_journal_free(j);

    PGconn *app = connect_env("OSS_PG_URL");
    PGconn *su = connect_env("OSS_PG_SUPER_URL");
    oss_audit_break_t brk;
    int64_t nev = 0;

    /* sound as written */
    assert_int_equal(oss_audit_verify(app, stream, NULL, &nev, &brk, &err),
                     OSS_OK);
    assert_int_equal(nev, NEV);
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    assert_int_equal(oss_audit_history(app, stream, mem, NULL, &brk, &err),
                     OSS_OK);
    fclose(mem);
    assert_non_null(strstr(text, "test.v1.AuditProbe"));
    assert_non_null(strstr(text, "operator:audit-test"));
    assert_non_null(strstr(text, "chain ok: 3 events verified"));
    free(text);

    oss_audit_checkpoint_t cp;
    assert_int_equal(oss_audit_checkpoint(app, 60000, &cp, &brk, &err), OSS_OK);
    assert_true(cp.size >= orig[NEV - 1].position);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err), OSS_OK);

    char pos2[24], pos3[24];
    snprintf(pos2, sizeof pos2, "%" PRId64, orig[1].position);
    snprintf(pos3, sizeof pos3, "%" PRId64, orig[2].position);

    /* 1. content changed by a superuser: the stream check names version 2 */
    const char *p1[1] = {pos2};
    super_edit(
        su,
        "UPDATE oss.journal SET reason = 'edited' WHERE position = $1::int8", 1,
        p1);
    assert_int_equal(oss_audit_verify(app, stream, NULL, NULL, &brk, &err),
                     OSS_ECORRUPT);
    assert_int_equal(brk.version, 2);
    assert_string_equal(brk.event_id, orig[1].event_id);
    assert_string_equal(brk.stream_id, stream);
    assert_non_null(strstr(err.msg, orig[1].event_id));
    assert_int_equal(oss_audit_verify(app, NULL, NULL, NULL, &brk, &err),
                     OSS_ECORRUPT);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err),
                     OSS_ECORRUPT);

    /* 2. ... and the chain recomputed after it: the stream looks sound, the
     * checkpoint still catches it */
    oss_event_t e2, e3;
    assert_int_equal(oss_event_copy(&e2, &orig[1], &err), OSS_OK);
    assert_int_equal(oss_event_copy(&e3, &orig[2], &err), OSS_OK);
    e2.reason = strdup("edited");
    oss_audit_rehash(&e2, e2.hash);
    memcpy(e3.prev_hash, e2.hash, 32);
    oss_audit_rehash(&e3, e3.hash);
    char h2[70], h3[70], ph3[70];
    hexify(e2.hash, h2);
    hexify(e3.hash, h3);
    hexify(e3.prev_hash, ph3);
    const char *p2[2] = {pos2, h2};
    super_edit(
        su, "UPDATE oss.journal SET hash = $2::bytea WHERE position = $1::int8",
        2, p2);
    const char *p3[3] = {pos3, h3, ph3};
    super_edit(su,
               "UPDATE oss.journal SET hash = $2::bytea, prev_hash = $3::bytea "
               "WHERE position = $1::int8",
               3, p3);
    assert_int_equal(oss_audit_verify(app, stream, NULL, NULL, &brk, &err),
                     OSS_OK);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err),
                     OSS_ECORRUPT);
    oss_event_clear(&e2);
    oss_event_clear(&e3);

    /* restore the original rows: sound again, checkpoint matches again */
    char oh2[70], oh3[70], oph3[70];
    hexify(orig[1].hash, oh2);
    hexify(orig[2].hash, oh3);
    hexify(orig[2].prev_hash, oph3);
    const char *r2[2] = {pos2, oh2};
    super_edit(su,
               "UPDATE oss.journal SET reason = NULL, hash = $2::bytea "
               "WHERE position = $1::int8",
               2, r2);
    const char *r3[3] = {pos3, oh3, oph3};
    super_edit(su,
               "UPDATE oss.journal SET hash = $2::bytea, prev_hash = $3::bytea "
               "WHERE position = $1::int8",
               3, r3);
    assert_int_equal(oss_audit_verify(app, stream, NULL, NULL, &brk, &err),
                     OSS_OK);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err), OSS_OK);

    /* 3. the tail deleted: invisible to the chain, caught by the checkpoint;
     * then put back (same position) */
    exec_ok(su,
            "CREATE TEMP TABLE audit_saved AS SELECT * FROM oss.journal "
            "WHERE position = $1::int8",
            1, (const char *[]){pos3});
    super_edit(su, "DELETE FROM oss.journal WHERE position = $1::int8", 1,
               (const char *[]){pos3});
    assert_int_equal(oss_audit_verify(app, stream, NULL, &nev, &brk, &err),
                     OSS_OK);
    assert_int_equal(nev, NEV - 1);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err),
                     OSS_ECORRUPT);
    exec_ok(su,
            "INSERT INTO oss.journal OVERRIDING SYSTEM VALUE "
            "SELECT * FROM audit_saved",
            0, NULL);
    assert_int_equal(oss_audit_verify(app, stream, NULL, &nev, &brk, &err),
                     OSS_OK);
    assert_int_equal(nev, NEV);
    assert_int_equal(oss_audit_verify_against(app, &cp, &brk, &err), OSS_OK);

    /* 4. the application role may not change the journal */
    const char *refused[] = {
        "UPDATE oss.journal SET reason = 'x' WHERE position = $1::int8",
        "DELETE FROM oss.journal WHERE position = $1::int8",
    };
    for (size_t i = 0; i < 2; i++) {
        PGresult *r = PQexecParams(app, refused[i], 1, NULL,
                                   (const char *[]){pos2}, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
        PQclear(r);
    }
    PGresult *r = PQexec(app, "TRUNCATE oss.journal");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    assert_int_equal(oss_audit_verify(app, stream, NULL, NULL, &brk, &err),
                     OSS_OK);

    for (int i = 0; i < NEV; i++)
        oss_event_clear(&orig[i]);
    PQfinish(app);
    PQfinish(su);
    free(stream);
}

static void
test_audit_unknown_stream(void **state) {
    (void)state;
    assert_int_equal(oss_test_load_env(), 0);
    PGconn *app = connect_env("OSS_PG_URL");
    char *stream = oss_test_id("audit-none");
    oss_audit_break_t brk;
    oss_err_t err = {0};
    assert_int_equal(oss_audit_verify(app, stream, NULL, NULL, &brk, &err),
                     OSS_ENOTFOUND);
    FILE *null = fopen("/dev/null", "w");
    assert_int_equal(oss_audit_history(app, stream, null, NULL, &brk, &err),
                     OSS_ENOTFOUND);
    fclose(null);
    free(stream);
    PQfinish(app);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_detects_superuser_edits),
        cmocka_unit_test(test_audit_unknown_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
