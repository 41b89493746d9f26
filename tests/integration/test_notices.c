/* Integration tests of targeted notices (producers/api/notice.c) against the
 * running PostgreSQL: a principal's contact is opened from its sealed
 * PrincipalCreated (or AccountRegistered); oss_app_notice_queue() writes one
 * sealed oss.deliveries row per channel in the triggering event's own
 * transaction (no plaintext in the row; it opens to {to, channel, vars});
 * an erased subject has no contact.
 *
 * Also a helper for tests/e2e/test_notices.sh:
 *   test_notices queue PRINCIPAL_ID ACCOUNT_ID KIND CHANNELS VARS_JSON
 * loads PRINCIPAL_ID's contact and appends one trigger event (stream
 * "notice-test-<uuid>", type "account") with a notice of KIND per channel
 * of CHANNELS ("email", "whatsapp" or "email,whatsapp"); prints the event
 * id (with NOTICE_TEST_ERASE=1 the subject's data key is deleted in the
 * same transaction). Exit 3 when the subject was erased, 1 on other
 * errors. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "auth.h"
#include "config/config.h"
#include "core/bytes.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "oss/v1/principal.pb-c.h"

static oss_config_t *cfg;
static oss_keyring_t master;
static PGconn *pg;
static oss_journal_t *jr;

static int
setup(void) {
    oss_err_t err = {0};
    if (oss_test_load_env() != 0) {
        fprintf(stderr, "var/run.env missing: the stack is not running\n");
        return -1;
    }
    if (oss_config_load(NULL, &cfg, &err) != OSS_OK ||
        oss_keyring_load(oss_config_str(cfg, "crypto.master_key_file"), &master,
                         &err) != OSS_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return -1;
    }
    pg = PQconnectdb(getenv("OSS_PG_URL"));
    if (PQstatus(pg) != CONNECTION_OK ||
        oss_journal_open(getenv("OSS_PG_URL"), &jr, &err) != OSS_OK) {
        fprintf(stderr, "PostgreSQL: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ---- the trigger event and its notices ---------------------------------- */

typedef struct trig {
    const oss_app_contact_t *c;
    const char *kind, *account_id, *vars;
    const char *channels[2];
    size_t nch;
} trig_t;

static oss_code_t
trig_decide(void *ctx, const oss_event_t *h, size_t n, oss_event_list_t *out,
            oss_err_t *err) {
    (void)ctx;
    (void)h;
    (void)n;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.NoticeTest");
    ev->schema_version = 1;
    ev->payload = calloc(1, 1);
    ev->payload_len = 0;
    ev->reason = strdup("notice test: tell the person something");
    return ev->payload && ev->reason ? OSS_OK
                                     : oss_err_set(err, OSS_ENOMEM, "oom");
}

static oss_code_t
trig_extra(void *ctx, const oss_command_t *cmd, oss_journal_queue_fn q,
           void *qctx, oss_err_t *err) {
    trig_t *t = ctx;
    for (size_t i = 0; i < t->nch; i++) {
        oss_code_t rc =
            oss_app_notice_queue(t->c, t->kind, t->channels[i], t->account_id,
                                 cmd, 0, t->vars, 0, q, qctx, err);
        if (rc)
            return rc;
    }
    /* NOTICE_TEST_ERASE=1: the subject is erased (its data key deleted) in
     * the same transaction, after the notices were queued: the notifier
     * must then send nothing */
    const char *e = getenv("NOTICE_TEST_ERASE");
    if (e && !strcmp(e, "1")) {
        const char *p[1] = {t->c->subject_id};
        if (q(qctx, "DELETE FROM oss.subject_keys WHERE subject_id = $1::uuid",
              1, p, NULL, NULL))
            return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    }
    return OSS_OK;
}

/* Appends the trigger with its notices; event id into ev_id. */
static oss_code_t
trigger(trig_t *t, char ev_id[OSS_UUID_STR], oss_err_t *err) {
    char stream[64], sid[OSS_UUID_STR];
    oss_uuid7(sid);
    snprintf(stream, sizeof stream, "notice-test-%s", sid);
    oss_command_t c;
    memset(&c, 0, sizeof c);
    c.stream_id = stream;
    c.stream_type = "account";
    c.expected_version = 0;
    c.actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c.actor_id = "test-notices";
    c.correlation_id = sid;
    c.decide = trig_decide;
    c.extra_fn = trig_extra;
    c.ctx = t;
    c.response_status = 200;
    oss_code_t rc = oss_journal_execute(jr, &c, 1, err);
    if (rc == OSS_OK && c.outcome != OSS_JOURNAL_APPENDED) {
        rc = c.err.code ? c.err.code : OSS_EINTERNAL;
        *err = c.err;
    }
    if (rc == OSS_OK)
        snprintf(ev_id, OSS_UUID_STR, "%s", c.events.items[0].event_id);
    oss_event_list_free(&c.events);
    free(c.replay_response);
    return rc;
}

/* ---- a principal of our own --------------------------------------------- */

static Oss__V1__SealedField *
seal(const oss_data_key_t *dk, const char *field, const char *v) {
    Oss__V1__SealedField *sf = calloc(1, sizeof *sf);
    oss__v1__sealed_field__init(sf);
    uint8_t *nonce = malloc(12), *ct = NULL;
    size_t ctlen = 0;
    assert_int_equal(
        oss_seal(dk, field, v, strlen(v), nonce, &ct, &ctlen, NULL), OSS_OK);
    sf->subject_id = (char *)dk->subject_id;
    sf->nonce.data = nonce;
    sf->nonce.len = 12;
    sf->ciphertext.data = ct;
    sf->ciphertext.len = ctlen;
    return sf;
}

static void
sealed_free(Oss__V1__SealedField *sf) {
    free(sf->nonce.data);
    free(sf->ciphertext.data);
    free(sf);
}

typedef struct pc_ctx {
    Oss__V1__PrincipalCreated *m;
    const char *pid, *subject, *kid;
    char wrapped_hex[256];
} pc_ctx_t;

static oss_code_t
pc_decide(void *ctx, const oss_event_t *h, size_t n, oss_event_list_t *out,
          oss_err_t *err) {
    (void)h;
    (void)n;
    pc_ctx_t *p = ctx;
    oss_event_t *ev = oss_event_list_push(out);
    snprintf(ev->payload_type, sizeof ev->payload_type,
             "oss.v1.PrincipalCreated");
    ev->schema_version = 1;
    ev->payload_len = oss__v1__principal_created__get_packed_size(p->m);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    oss__v1__principal_created__pack(p->m, ev->payload);
    return ev->payload ? OSS_OK : oss_err_set(err, OSS_ENOMEM, "oom");
}

static oss_code_t
pc_extra(void *ctx, const oss_command_t *cmd, oss_journal_queue_fn q,
         void *qctx, oss_err_t *err) {
    (void)cmd;
    pc_ctx_t *p = ctx;
    char stream[96];
    snprintf(stream, sizeof stream, "access-%s", p->pid);
    const char *k[3] = {p->subject, p->kid, p->wrapped_hex};
    const char *pr[3] = {p->pid, p->subject, stream};
    if (q(qctx,
          "INSERT INTO oss.subject_keys (subject_id, master_key_id, "
          "wrapped_key) VALUES ($1::uuid, $2, decode($3, 'hex'))",
          3, k, NULL, NULL) ||
        q(qctx,
          "INSERT INTO oss.principals (principal_id, kind, subject_id, "
          "contact_stream) VALUES ($1, 'government', $2::uuid, $3)",
          3, pr, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    return OSS_OK;
}

/* Creates a government principal with a sealed contact (PrincipalCreated
 * on its access stream, its subject key, its oss.principals row). */
static void
make_principal(char pid[OSS_UUID_STR], char subject[OSS_UUID_STR],
               const char *name, const char *email, const char *phone) {
    oss_err_t err = {0};
    oss_data_key_t dk;
    uint8_t *wrapped = NULL;
    size_t wlen = 0;
    char kid[17];
    oss_uuid7(pid);
    oss_uuid4(subject);
    assert_int_equal(
        oss_data_key_new(&master, subject, &dk, &wrapped, &wlen, kid, &err),
        OSS_OK);
    Oss__V1__PrincipalCreated m = OSS__V1__PRINCIPAL_CREATED__INIT;
    m.principal_id = pid;
    m.kind = "government";
    m.subject_id = subject;
    m.name = seal(&dk, "name", name);
    m.email = seal(&dk, "email", email);
    m.phone = seal(&dk, "phone", phone);
    m.cause = "officer";
    m.activation_channel = "email";
    pc_ctx_t p = {.m = &m, .pid = pid, .subject = subject, .kid = kid};
    oss_hex_encode(wrapped, wlen, p.wrapped_hex);
    char stream[96];
    snprintf(stream, sizeof stream, "access-%s", pid);
    oss_command_t c;
    memset(&c, 0, sizeof c);
    c.stream_id = stream;
    c.stream_type = "account";
    c.expected_version = 0;
    c.actor_kind = OSS_ACTOR_SYSTEM_JOB;
    c.actor_id = "test-notices";
    c.correlation_id = pid;
    c.decide = pc_decide;
    c.extra_fn = pc_extra;
    c.ctx = &p;
    c.response_status = 201;
    assert_int_equal(oss_journal_execute(jr, &c, 1, &err), OSS_OK);
    assert_int_equal(c.outcome, OSS_JOURNAL_APPENDED);
    oss_event_list_free(&c.events);
    sealed_free(m.name);
    sealed_free(m.email);
    sealed_free(m.phone);
    free(wrapped);
}

static char *
one(const char *sql, const char *p1) {
    const char *p[1] = {p1};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char *v = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return v;
}

static void
test_contact_and_queue(void **state) {
    (void)state;
    char pid[OSS_UUID_STR], subject[OSS_UUID_STR], email[96], phone[20];
    char *tag = oss_test_id("n");
    snprintf(email, sizeof email, "notice.%s@example.co.id", tag + 2);
    snprintf(phone, sizeof phone, "+62857%08u", (unsigned)(rand() % 100000000));
    make_principal(pid, subject, "Petugas Uji", email, phone);

    /* the contact opens from PrincipalCreated */
    oss_app_contact_t c;
    oss_err_t err = {0};
    assert_int_equal(oss_app_contact_load(pg, &master, pid, &c, &err), OSS_OK);
    assert_string_equal(c.subject_id, subject);
    assert_string_equal(c.name, "Petugas Uji");
    assert_string_equal(c.email, email);
    assert_string_equal(c.phone, phone);

    /* one sealed row per channel, in the trigger's transaction */
    char account[OSS_UUID_STR], ev[OSS_UUID_STR];
    oss_uuid7(account);
    trig_t t = {.c = &c,
                .kind = "officer_created",
                .account_id = account,
                .vars = "{\"name\":\"Petugas Uji\",\"institution\":\"oss\"}",
                .channels = {"email", "whatsapp"},
                .nch = 2};
    assert_int_equal(trigger(&t, ev, &err), OSS_OK);
    const char *p[1] = {ev};
    PGresult *r = PQexecParams(
        pg,
        "SELECT delivery_id::text, channel, kind, account_id, "
        "subject_id::text, "
        "encode(sealed_secret, 'hex'), delivered_at IS NULL, expires_at > "
        "now() "
        "+ interval '1 day' FROM oss.deliveries WHERE event_id = $1::uuid "
        "ORDER BY channel",
        1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(PQgetvalue(r, i, 1), i ? "whatsapp" : "email");
        assert_string_equal(PQgetvalue(r, i, 2), "officer_created");
        assert_string_equal(PQgetvalue(r, i, 3), account);
        assert_string_equal(PQgetvalue(r, i, 4), subject);
        /* sealed: the address is not in the row */
        const char *hx = PQgetvalue(r, i, 5);
        char needle[64];
        oss_hex_encode((const uint8_t *)email, 8, needle);
        assert_null(strstr(hx, needle));
        /* and opens to {to, channel, vars} under the subject's key */
        size_t sl = strlen(hx) / 2;
        uint8_t *sealed = malloc(sl);
        assert_int_equal(oss_hex_decode(hx, 2 * sl, sealed, sl, NULL), OSS_OK);
        char field[64], *plain = NULL;
        size_t plen = 0;
        snprintf(field, sizeof field, "delivery|%s", PQgetvalue(r, i, 0));
        assert_int_equal(oss_open(&c.dk, field, sealed, sealed + 12, sl - 12,
                                  &plain, &plen, NULL),
                         OSS_OK);
        json_t *js = json_loads(plain, 0, NULL);
        assert_non_null(js);
        assert_string_equal(json_string_value(json_object_get(js, "to")),
                            i ? phone : email);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(js, "vars"), "institution")),
                            "oss");
        json_decref(js);
        free(plain);
        free(sealed);
        assert_string_equal(PQgetvalue(r, i, 7), "t");
    }
    PQclear(r);

    /* a bad channel or a missing address is refused before anything */
    oss_app_contact_t c2 = c;
    c2.phone[0] = '\0';
    trig_t t2 = {.c = &c2,
                 .kind = "officer_created",
                 .account_id = account,
                 .vars = "{}",
                 .channels = {"whatsapp"},
                 .nch = 1};
    assert_int_not_equal(trigger(&t2, ev, &err), OSS_OK);
    assert_string_equal(err.field, "phone");
    oss_app_contact_clear(&c2);

    /* erased (no data key): no contact, so no notice */
    oss_app_contact_clear(&c);
    char *n = one("DELETE FROM oss.subject_keys WHERE subject_id = $1::uuid "
                  "RETURNING 1",
                  subject);
    assert_non_null(n);
    free(n);
    oss_err_clear(&err);
    assert_int_equal(oss_app_contact_load(pg, &master, pid, &c, &err),
                     OSS_ENOTFOUND);
    assert_string_equal(err.reason, "erased");
    /* unknown principal */
    assert_int_equal(
        oss_app_contact_load(pg, &master, "no-such-principal", &c, &err),
        OSS_ENOTFOUND);
    free(tag);
}

static int
queue_main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr,
                "usage: %s queue PRINCIPAL_ID ACCOUNT_ID KIND "
                "CHANNELS VARS_JSON\n",
                argv[0]);
        return 2;
    }
    if (setup())
        return 1;
    oss_app_contact_t c;
    oss_err_t err = {0};
    oss_code_t rc = oss_app_contact_load(pg, &master, argv[2], &c, &err);
    if (rc) {
        fprintf(stderr, "contact: %s (%s)\n", err.msg, err.field);
        return rc == OSS_ENOTFOUND && !strcmp(err.reason, "erased") ? 3 : 1;
    }
    trig_t t = {
        .c = &c, .kind = argv[4], .account_id = argv[3], .vars = argv[6]};
    char *chs = strdup(argv[5]), *save = NULL;
    for (char *tok = strtok_r(chs, ",", &save); tok && t.nch < 2;
         tok = strtok_r(NULL, ",", &save))
        t.channels[t.nch++] = tok;
    char ev[OSS_UUID_STR];
    rc = trigger(&t, ev, &err);
    oss_app_contact_clear(&c);
    if (rc) {
        fprintf(stderr, "queue: %s\n", err.msg);
        free(chs);
        return 1;
    }
    printf("%s\n", ev);
    free(chs);
    return 0;
}

int
main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "queue"))
        return queue_main(argc, argv);
    if (setup())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contact_and_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
