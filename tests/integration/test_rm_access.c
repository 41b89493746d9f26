/* Integration tests of the issue-4 read models (consumers/projector
 * apply_access.c) and of the account's story (`oss audit history`), against
 * the real PostgreSQL of var/run.env: a registration, its credential
 * lifecycle, delivery outcomes, delegates, a hand-over, an officer and an
 * erasure are appended through the real journal, applied to two fresh
 * read-model schemas in two different orders (all in one batch in journal
 * order / one event at a time, access stream before the account stream),
 * and both schemas must hold the same rows with the expected values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <cmocka.h>

#include "audit.h"
#include "journal/journal.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/registry.h"
#include "oss_test.h"
#include "projector_int.h"

static PGconn *app, *owner;
static char s1[64], s2[64], acc[64], member[64], newowner[64], officer[64],
    viewer[64], subject[40], trig1[40], trig2[40], req[64];

static PGresult *
q(PGconn *c, const char *fmt, ...) {
    char sql[4096];
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

/* The single value of a query ("" when no row), into out. */
static void
q1(char *out, size_t n, const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = q(app, "%s", sql);
    snprintf(out, n, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

/* ---- building payloads by field name (any generated message) ---- */

typedef struct fv {
    const char *name;
    const char *s; /* string value, or NULL */
    int64_t i;     /* integer / bool / enum value when s == NULL */
} fv_t;

static ProtobufCMessage *
msg_new(const char *type) {
    const ProtobufCMessageDescriptor *d = oss_v1_registry_find(type);
    assert_non_null(d);
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static void
msg_set(ProtobufCMessage *m, const fv_t *f) {
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, f->name);
    assert_non_null(fd);
    char *p = (char *)m + fd->offset;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        assert_int_equal(fd->type, PROTOBUF_C_TYPE_STRING);
        *(size_t *)((char *)m + fd->quantifier_offset) = 1;
        char **arr = calloc(1, sizeof *arr);
        arr[0] = (char *)f->s;
        *(char ***)p = arr;
        return;
    }
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(const char **)p = f->s;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = f->i != 0;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        *(int64_t *)p = f->i;
        break;
    default:
        *(int32_t *)p = (int32_t)f->i;
        break;
    }
}

/* One event to append. */
typedef struct spec {
    const char *type;
    fv_t f[8];
    const char *reason;
    ProtobufCMessage *sub; /* set as field sub_name */
    const char *sub_name;
} spec_t;

typedef struct gen {
    const spec_t *s;
    size_t n;
} gen_t;

static oss_code_t
decide(void *vctx, const oss_event_t *history, size_t nh, oss_event_list_t *out,
       oss_err_t *err) {
    (void)history;
    (void)nh;
    (void)err;
    gen_t *g = vctx;
    for (size_t i = 0; i < g->n; i++) {
        const spec_t *sp = &g->s[i];
        ProtobufCMessage *m = msg_new(sp->type);
        for (int k = 0; k < 8 && sp->f[k].name; k++)
            msg_set(m, &sp->f[k]);
        if (sp->sub) {
            const ProtobufCFieldDescriptor *fd =
                protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
                                                                sp->sub_name);
            assert_non_null(fd);
            *(ProtobufCMessage **)((char *)m + fd->offset) = sp->sub;
        }
        oss_event_t *ev = oss_event_list_push(out);
        ev->payload_len = protobuf_c_message_get_packed_size(m);
        ev->payload = malloc(ev->payload_len + 1);
        protobuf_c_message_pack(m, ev->payload);
        snprintf(ev->payload_type, sizeof ev->payload_type, "%s", sp->type);
        ev->schema_version = 1;
        if (sp->reason)
            ev->reason = strdup(sp->reason);
        /* shallow: strings belong to the spec */
        free(m);
    }
    return OSS_OK;
}

static void
append(const char *stream, const char *stype, oss_actor_kind_t ak,
       const char *actor, const char *causation, const spec_t *s, size_t n) {
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    gen_t g = {s, n};
    oss_command_t c;
    memset(&c, 0, sizeof c);
    c.stream_id = stream;
    c.stream_type = stype;
    c.expected_version = -1;
    c.actor_kind = ak;
    c.actor_id = actor;
    c.correlation_id = "test-rm-access";
    c.causation_id = causation;
    c.decide = decide;
    c.ctx = &g;
    assert_int_equal(oss_journal_execute(j, &c, 1, &err), OSS_OK);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    oss_event_list_free(&c.events);
    oss_journal_free(j);
}

/* The run's streams, in the order the second schema applies them. */
static char streams[8][160];
static size_t nstreams;

static void
build_story(void) {
    char st[160];
    int64_t t0 = 1790000000000000LL;
    Oss__V1__SealedField nik = OSS__V1__SEALED_FIELD__INIT;
    static uint8_t nonce[12] = {1}, ct[20] = {2};
    nik.subject_id = subject;
    nik.nonce.data = nonce;
    nik.nonce.len = 12;
    nik.ciphertext.data = ct;
    nik.ciphertext.len = 20;

    /* account stream: registration, delegates, hand-over */
    spec_t a[] = {
        {"oss.v1.AccountRegistered",
         {{"account_id", acc, 0},
          {"scale", NULL, 1},
          {"actor_type", "02", 0},
          {"subject_id", subject, 0},
          {"terms_version", "2025-06", 0},
          {"country", "ID", 0},
          {"region_code", "3171010001", 0}},
         NULL,
         &nik.base,
         "nik"},
    };
    snprintf(st, sizeof st, "account-%s", acc);
    append(st, "account", OSS_ACTOR_BUSINESS_USER, "", NULL, a, 1);
    snprintf(streams[nstreams++], 160, "%s", st);

    /* the owner's credential lifecycle */
    spec_t l[] = {
        {"oss.v1.ActivationIssued",
         {{"channel", "email", 0},
          {"expires_at_us", NULL, t0 + 900000000},
          {"account_id", acc, 0}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.ActivationFailed", {{"attempt", NULL, 1}}, NULL, NULL, NULL},
        {"oss.v1.ActivationSucceeded",
         {{"method", "otp", 0}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.PasswordSet", {{"first", NULL, 1}}, NULL, NULL, NULL},
        {"oss.v1.SignInSucceeded",
         {{"session_id", "s-1", 0}},
         NULL,
         NULL,
         NULL},
    };
    snprintf(st, sizeof st, "access-%s", acc);
    append(st, "account", OSS_ACTOR_BUSINESS_USER, acc, NULL, l, 5);
    snprintf(streams[nstreams++], 160, "%s", st);

    /* deliveries: the registration mail refused for good, the activation
     * mail handed over after a retry */
    spec_t d1[] = {
        {"oss.v1.DeliveryQueued",
         {{"channel", "email", 0},
          {"kind", "registration", 0},
          {"trigger_type", "oss.v1.AccountRegistered", 0}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.DeliveryFailed",
         {{"channel", "email", 0},
          {"reason", "550 mailbox unavailable", 0},
          {"attempt", NULL, 1},
          {"reply_code", NULL, 550},
          {"permanent", NULL, 1}},
         NULL,
         NULL,
         NULL},
    };
    spec_t d2[] = {
        {"oss.v1.DeliveryQueued",
         {{"channel", "email", 0},
          {"kind", "activation", 0},
          {"trigger_type", "oss.v1.ActivationIssued", 0}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.DeliveryFailed",
         {{"channel", "email", 0},
          {"reason", "connection refused", 0},
          {"attempt", NULL, 1}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.DeliveryRetrying",
         {{"channel", "email", 0},
          {"attempt", NULL, 2},
          {"next_attempt_at_us", NULL, t0}},
         NULL,
         NULL,
         NULL},
        {"oss.v1.DeliveryHanded",
         {{"channel", "email", 0},
          {"reply_code", NULL, 250},
          {"reply_text", "250 2.0.0 stored", 0},
          {"attempt", NULL, 2}},
         NULL,
         NULL,
         NULL},
    };
    snprintf(st, sizeof st, "delivery-%s", acc);
    append(st, "delivery", OSS_ACTOR_SYSTEM_JOB, "notifier", trig1, d1, 2);
    append(st, "delivery", OSS_ACTOR_SYSTEM_JOB, "notifier", trig2, d2, 4);
    snprintf(streams[nstreams++], 160, "%s", st);

    /* an officer of "oss", created then revoked */
    ProtobufCMessage *g = msg_new("oss.v1.Grant");
    msg_set(g, &(fv_t){"role", "officer", 0});
    msg_set(g, &(fv_t){"institution", "oss", 0});
    msg_set(g, &(fv_t){"region", "3171010001", 0});
    spec_t o[] = {
        {"oss.v1.PrincipalCreated",
         {{"principal_id", officer, 0},
          {"kind", "government", 0},
          {"subject_id", subject, 0},
          {"cause", "officer", 0}},
         NULL,
         g,
         "grant"},
        {"oss.v1.OfficerRevoked",
         {{"principal_id", officer, 0},
          {"institution", "oss", 0},
          {"grants_revoked", NULL, 1}},
         "lost authority",
         NULL,
         NULL},
    };
    snprintf(st, sizeof st, "access-%s", officer);
    append(st, "account", OSS_ACTOR_OPERATOR, "admin-1", NULL, o, 2);
    snprintf(streams[nstreams++], 160, "%s", st);
    free(g);

    /* access rights, when access.proto is in this build */
    if (oss_v1_registry_find("oss.v1.MemberAdded")) {
        spec_t x[] = {
            {"oss.v1.MemberAdded",
             {{"principal_id", member, 0}, {"role", "preparer", 0}},
             NULL,
             NULL,
             NULL},
            {"oss.v1.MemberAdded",
             {{"principal_id", viewer, 0}, {"role", "viewer", 0}},
             NULL,
             NULL,
             NULL},
            {"oss.v1.AccessTerminated",
             {{"reason_code", "misuse_request", 0},
              {"principal_id", viewer, 0},
              {"evidence_ref", "letter-9", 0}},
             "suspected misuse",
             NULL,
             NULL},
            {"oss.v1.HandoverFiled",
             {{"request_id", req, 0},
              {"new_owner", newowner, 0},
              {"evidence_ref", "deed-2026-77", 0},
              {"previous_owner", acc, 0}},
             "owner left",
             NULL,
             NULL},
            {"oss.v1.HandoverApproved",
             {{"request_id", req, 0},
              {"new_owner", newowner, 0},
              {"previous_owner", acc, 0}},
             "deed verified",
             NULL,
             NULL},
            /* before the new owner's activation (journal order): lifted
             * by lift_restriction() */
            {"oss.v1.AccessRestricted",
             {{"evidence_ref", "BA-2026-17", 0}},
             "suspected falsified deed",
             NULL,
             NULL},
        };
        snprintf(st, sizeof st, "account-%s", acc);
        append(st, "account", OSS_ACTOR_OFFICER, officer, NULL, x, 6);
        spec_t y[] = {
            {"oss.v1.ActivationIssued",
             {{"channel", "email", 0}},
             NULL,
             NULL,
             NULL},
            {"oss.v1.ActivationSucceeded",
             {{"method", "link", 0}},
             NULL,
             NULL,
             NULL},
        };
        snprintf(st, sizeof st, "access-%s", newowner);
        append(st, "account", OSS_ACTOR_BUSINESS_USER, newowner, NULL, y, 2);
        snprintf(streams[nstreams++], 160, "%s", st);
    }
}

static void
lift_restriction(void) {
    char st[160];
    spec_t e[] = {
        {"oss.v1.AccessRestrictionLifted",
         {{NULL, NULL, 0}},
         "deed verified by the notary",
         NULL,
         NULL},
    };
    snprintf(st, sizeof st, "account-%s", acc);
    append(st, "account", OSS_ACTOR_OPERATOR, "operator-1", NULL, e, 1);
}

static void
erase_subject(void) {
    char st[160];
    spec_t e[] = {
        {"oss.v1.SubjectErased",
         {{"subject_id", subject, 0},
          {"reason", "data subject request", 0},
          {"account_ids", acc, 0},
          {"keys_deleted", NULL, 0}},
         NULL,
         NULL,
         NULL},
    };
    snprintf(st, sizeof st, "subject-%s", subject);
    append(st, "account", OSS_ACTOR_OPERATOR, "operator-1", NULL, e, 1);
    snprintf(streams[nstreams++], 160, "%s", st);
}

/* Applies the run's streams to schema s: in journal order in one batch
 * (one_batch) or stream after stream (the list backwards: access before
 * the account), one event per call. */
static void
apply_to(const char *s, int one_batch) {
    oss_journal_t *j = NULL;
    oss_err_t err = {0};
    assert_int_equal(oss_journal_open(getenv("OSS_PG_URL"), &j, &err), OSS_OK);
    oss_event_list_t evs[8];
    memset(evs, 0, sizeof evs);
    size_t total = 0;
    for (size_t i = 0; i < nstreams; i++) {
        assert_int_equal(oss_journal_load(j, streams[i], &evs[i], &err),
                         OSS_OK);
        total += evs[i].len;
    }
    pj_item_t *items = calloc(total, sizeof *items);
    size_t k = 0;
    for (size_t ii = 0; ii < nstreams; ii++) {
        size_t i = one_batch ? ii : nstreams - 1 - ii;
        for (size_t e = 0; e < evs[i].len; e++) {
            items[k].ev = evs[i].items[e];
            items[k].has_ev = 1;
            items[k].offset = -1;
            k++;
        }
    }
    if (one_batch) { /* journal order */
        for (size_t a = 1; a < total; a++)
            for (size_t b = a;
                 b > 0 && items[b - 1].ev.position > items[b].ev.position;
                 b--) {
                pj_item_t t = items[b];
                items[b] = items[b - 1];
                items[b - 1] = t;
            }
    }
    pj_ctx_t c;
    memset(&c, 0, sizeof c);
    c.conn = app;
    c.name = "test-rm-access";
    snprintf(c.schema, sizeof c.schema, "%s", s);
    c.redrive = 1; /* an applier failure fails the test */
    PQclear(q(app, "BEGIN"));
    if (one_batch) {
        assert_int_equal(pj_apply(&c, items, total, &err), OSS_OK);
    } else {
        for (size_t i = 0; i < total; i++) {
            if (pj_apply(&c, &items[i], 1, &err) != OSS_OK)
                fprintf(stderr, "apply: %s\n", err.msg);
            assert_int_equal(err.code, OSS_OK);
        }
    }
    PQclear(q(app, "COMMIT"));
    assert_int_equal(c.dead, 0);
    /* the events belong to evs (shallow copies in items) */
    free(items);
    for (size_t i = 0; i < nstreams; i++)
        oss_event_list_free(&evs[i]);
    oss_journal_free(j);
}

static int
setup(void **state) {
    (void)state;
    if (oss_test_load_env() != 0)
        return -1;
    char *id = oss_test_id("rma");
    unsigned long long h = 0;
    for (char *p = id; *p; p++)
        h = h * 131 + (unsigned char)*p;
    snprintf(s1, sizeof s1, "rm_qa%llx", h % 0xffffffffffULL);
    snprintf(s2, sizeof s2, "rm_qb%llx", h % 0xffffffffffULL);
    snprintf(acc, sizeof acc, "%s-acc", id);
    snprintf(member, sizeof member, "%s-mem", id);
    snprintf(newowner, sizeof newowner, "%s-new", id);
    snprintf(viewer, sizeof viewer, "%s-vie", id);
    snprintf(officer, sizeof officer, "%s-off", id);
    snprintf(req, sizeof req, "%s-req", id);
    free(id);
    char u[OSS_UUID_STR];
    oss_uuid7(u);
    snprintf(subject, sizeof subject, "%s", u);
    oss_uuid7(u);
    snprintf(trig1, sizeof trig1, "%s", u);
    oss_uuid7(u);
    snprintf(trig2, sizeof trig2, "%s", u);
    app = PQconnectdb(getenv("OSS_PG_URL"));
    owner = PQconnectdb(getenv("OSS_PG_ADMIN_URL"));
    if (PQstatus(app) != CONNECTION_OK || PQstatus(owner) != CONNECTION_OK)
        return -1;
    PQclear(PQexec(owner, "SET client_min_messages = warning"));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT oss.rm_define('%s'), oss.rm_define('%s')",
             s1, s2);
    PGresult *r = PQexec(owner, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

static int
teardown(void **state) {
    (void)state;
    char sql[256];
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s "
             "CASCADE",
             s1, s2);
    if (!getenv("OSS_TEST_KEEP"))
        PQclear(PQexec(owner, sql));
    PQfinish(app);
    PQfinish(owner);
    return 0;
}

/* Both schemas hold the same rows in table t (cols compared). */
static void
same_rows(const char *t, const char *cols) {
    char n[32];
    q1(n, sizeof n,
       "SELECT count(*) FROM ((SELECT %s FROM %s.%s EXCEPT SELECT %s FROM "
       "%s.%s) UNION ALL (SELECT %s FROM %s.%s EXCEPT SELECT %s FROM "
       "%s.%s)) d",
       cols, s1, t, cols, s2, t, cols, s2, t, cols, s1, t);
    if (strcmp(n, "0") != 0)
        fprintf(stderr, "%s differs between %s and %s\n", t, s1, s2);
    assert_string_equal(n, "0");
}

static void
test_read_models(void **state) {
    (void)state;
    char v[512];
    build_story();
    apply_to(s1, 1);
    apply_to(s2, 0);
    int access = oss_v1_registry_find("oss.v1.MemberAdded") != NULL;

    /* status: restricted by the officer after the hand-over (activated
     * without access.proto) */
    q1(v, sizeof v,
       "SELECT status || '|' || coalesce(owner_principal_id, '') "
       "|| '|' || subject_id || '|' || coalesce(region_code, '') || '|' || "
       "coalesce(restricted_by, '') || '|' || coalesce(restriction_reason, "
       "'') FROM %s.accounts WHERE account_id = '%s'",
       s1, acc);
    char want[512];
    snprintf(want, sizeof want, "%s|%s|%s|3171010001|%s|%s",
             access ? "restricted" : "active", access ? newowner : acc, subject,
             access ? officer : "", access ? "suspected falsified deed" : "");
    assert_string_equal(v, want);
    q1(v, sizeof v,
       "SELECT status || '|' || (password_set_at IS NOT NULL) "
       "|| '|' || (last_sign_in_at IS NOT NULL) FROM %s.principals WHERE "
       "principal_id = '%s'",
       s1, acc);
    assert_string_equal(v, "active|true|true");

    /* deliveries: the last outcome of each message */
    q1(v, sizeof v,
       "SELECT state || '|' || reply_code || '|' || permanent "
       "|| '|' || kind || '|' || account_id FROM %s.delivery_status WHERE "
       "trigger_event_id = '%s'",
       s1, trig1);
    snprintf(want, sizeof want, "failed|550|true|registration|%s", acc);
    assert_string_equal(v, want);
    q1(v, sizeof v,
       "SELECT state || '|' || reply_code || '|' || attempt || "
       "'|' || kind FROM %s.delivery_status WHERE trigger_event_id = '%s'",
       s1, trig2);
    assert_string_equal(v, "handed|250|2|activation");

    /* the officer: revoked with its reason */
    q1(v, sizeof v,
       "SELECT status || '|' || institution || '|' || "
       "coalesce(revoke_reason, '') || '|' || coalesce(revoked_by, '') FROM "
       "%s.officers WHERE principal_id = '%s'",
       s1, officer);
    assert_string_equal(v, "revoked|oss|lost authority|admin-1");

    if (access) {
        q1(v, sizeof v,
           "SELECT role || '|' || status FROM "
           "%s.account_members WHERE account_id = '%s' AND principal_id = "
           "'%s'",
           s1, acc, member);
        assert_string_equal(v, "preparer|active");
        /* one delegate's access ended: its row only, the account stays */
        q1(v, sizeof v,
           "SELECT role || '|' || status || '|' || reason FROM "
           "%s.account_members WHERE account_id = '%s' AND principal_id = "
           "'%s'",
           s1, acc, viewer);
        assert_string_equal(v, "viewer|removed|misuse_request");
        q1(v, sizeof v,
           "SELECT status FROM %s.principals WHERE "
           "principal_id = '%s'",
           s1, viewer);
        assert_string_equal(v, "terminated");
        q1(v, sizeof v,
           "SELECT role || '|' || status FROM "
           "%s.account_members WHERE account_id = '%s' AND principal_id = "
           "'%s'",
           s1, acc, newowner);
        assert_string_equal(v, "owner|active");
        q1(v, sizeof v,
           "SELECT status || '|' || evidence_ref || '|' || "
           "decided_by || '|' || decision_reason || '|' || "
           "new_owner_principal_id FROM %s.handover_requests WHERE "
           "request_id = '%s'",
           s1, req);
        snprintf(want, sizeof want, "approved|deed-2026-77|%s|deed verified|%s",
                 officer, newowner);
        assert_string_equal(v, want);
    }

    /* the two orders agree while restricted */
    same_rows("accounts", "account_id, status, status_at, owner_principal_id, "
                          "version, restricted_at, restricted_by, "
                          "restriction_reason");
    /* lifted: the new owner's status again, in both orders */
    if (access) {
        lift_restriction();
        apply_to(s1, 1);
        apply_to(s2, 0);
        q1(v, sizeof v,
           "SELECT status || '|' || (restricted_at IS NULL) || '|' || "
           "(restriction_reason IS NULL) FROM %s.accounts WHERE account_id = "
           "'%s'",
           s1, acc);
        assert_string_equal(v, "active|true|true");
    }

    /* erasure purges the subject's links, in both schemas */
    erase_subject();
    apply_to(s1, 1); /* already applied versions are skipped */
    apply_to(s2, 0);
    q1(v, sizeof v,
       "SELECT subject_id || '|' || (erased_at IS NOT NULL) FROM "
       "%s.accounts WHERE account_id = '%s'",
       s1, acc);
    assert_string_equal(v, "|true");
    q1(v, sizeof v, "SELECT count(*) FROM %s.officers WHERE subject_id = '%s'",
       s1, subject);
    assert_string_equal(v, "0");
    q1(v, sizeof v,
       "SELECT count(*) FROM %s.principals WHERE subject_id = "
       "'%s'",
       s1, subject);
    assert_string_equal(v, "0");

    /* the two orders gave the same read models */
    same_rows("accounts",
              "account_id, status, status_at, owner_principal_id, "
              "subject_id, region_code, terms_version, version, apply_count, "
              "erased_at, restricted_at, restricted_by, restriction_reason");
    same_rows("principals",
              "principal_id, kind, account_id, subject_id, "
              "status, status_at, password_set_at, last_sign_in_at, "
              "erased_at, version");
    same_rows("account_members", "account_id, principal_id, role, status, "
                                 "added_at, added_by, removed_at, reason");
    same_rows("handover_requests",
              "request_id, account_id, status, "
              "filed_by, evidence_ref, new_owner_principal_id, filed_at, "
              "decided_at, decided_by, decision_reason");
    same_rows("officers",
              "principal_id, role, institution, sector, region, "
              "status, subject_id, created_at, revoked_at, revoke_reason");
    same_rows("delivery_status",
              "trigger_event_id, channel, account_id, "
              "kind, state, attempt, reply_code, reply_text, reason, "
              "permanent, updated_at, version");
    same_rows("erased_subjects", "subject_id, erased_at, reason");
}

/* The account's story: every stream merged, one line per event, words,
 * sealed fields, delivery outcomes in place, chains verified. */
static void
test_story(void **state) {
    (void)state;
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    oss_audit_break_t brk;
    oss_err_t err = {0};
    char stream[160];
    snprintf(stream, sizeof stream, "account-%s", acc);
    assert_int_equal(oss_audit_history(app, stream, mem, NULL, &brk, &err),
                     OSS_OK);
    fclose(mem);
    fputs(text, stderr);
    assert_non_null(strstr(text, "registered (UMK, actor type 02"));
    /* the subject was erased in the previous test: its key is gone */
    assert_non_null(strstr(text, "nik: [erased]"));
    assert_non_null(strstr(text, "activated (by the one-time code)"));
    assert_non_null(strstr(text, "registration mail handed to the mail "
                                 "server, refused: 550 mailbox unavailable"));
    assert_non_null(strstr(text, "activation mail handed to the mail server "
                                 "(attempt 2): 250 2.0.0 stored"));
    assert_non_null(strstr(text, "system_job:notifier"));
    assert_non_null(strstr(text, "personal data of subject"));
    if (oss_v1_registry_find("oss.v1.MemberAdded")) {
        assert_non_null(strstr(text, "delegate "));
        assert_non_null(strstr(text, "approved"));
        assert_non_null(strstr(text, "reason: deed verified"));
        /* the restriction and its lifting, with their reasons */
        assert_non_null(strstr(text, "access restricted (suspended) by the "
                                     "OSS authority"));
        assert_non_null(strstr(text, "(decision BA-2026-17)"));
        assert_non_null(strstr(text, "suspected falsified deed"));
        assert_non_null(strstr(text, "access restriction lifted"));
        assert_non_null(strstr(text, "reason: deed verified by the notary"));
        char line[256];
        snprintf(line, sizeof line, "officer:%s", officer);
        assert_non_null(strstr(text, line));
    }
    assert_non_null(strstr(text, "chain ok"));
    /* time order: the registration line comes before the activation */
    assert_true(strstr(text, "registered (") < strstr(text, "activated ("));
    /* one line per event */
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 14);
    free(text);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_models),
        cmocka_unit_test(test_story),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
