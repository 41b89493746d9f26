/* The notifier's loop: Kafka (assign() with positions in PostgreSQL) ->
 * signature check -> envelope and AccountRegistered decode -> ledger ->
 * unseal -> SMTP. See notifier.h for the delivery guarantees. */
#include "notifier.h"
#include "core/bytes.h"
#include "core/clock.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bus/bus.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"
#include "oss/v1/principal.pb-c.h"
#include "oss/v1/recovery.pb-c.h"

#include <jansson.h>

#define MAX_PARTS 256
#define OFFSET_FLUSH_MS 1000
#define BOOTSTRAP_CHECK_MS 5000
#define CONSUMER_NAME "notifier"
/* pg_advisory_lock key electing the one active notifier (the relay uses
 * relay.lock_key, 7301 by default). */
#define NOTIFIER_LOCK_KEY "7302"

typedef struct notifier {
    const oss_config_t *cfg;
    volatile sig_atomic_t *stop;
    oss_keyring_t master, bus;
    PGconn *pg;
    oss_journal_t *journal; /* outcome events, account streams */
    CURL *curl;
    rd_kafka_t *rk;
    char topic[256];
    char bootstrap[4096];
    char cluster_id[128];
    int nparts;
    int64_t next[MAX_PARTS]; /* next offset to store; -1 = nothing new */
    int dirty;
    int locked;         /* holds the advisory lock on n->pg */
    char sweep_xid[32]; /* journal sweep cursor (xid, position) */
    int64_t sweep_pos;
    int sweep_again; /* the last sweep stopped at its budget */
    char from_addr[320];
    int64_t sent, skipped, rejected;
} notifier_t;

/* Sleeps up to ms, waking early when asked to stop. */
static void
nap(notifier_t *n, int64_t ms) {
    int64_t end = oss_mono_ms() + ms;
    while (!*n->stop && oss_mono_ms() < end) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- PostgreSQL ---------------------------------------------------------- */

static oss_code_t
pg_ensure(notifier_t *n, oss_err_t *err) {
    if (n->pg && PQstatus(n->pg) == CONNECTION_OK)
        return OSS_OK;
    n->locked = 0; /* a new session holds no advisory lock */
    if (n->pg) {
        PQreset(n->pg);
        if (PQstatus(n->pg) == CONNECTION_OK)
            return OSS_OK;
        PQfinish(n->pg);
        n->pg = NULL;
    }
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%lld",
             oss_config_int(n->cfg, "pg.connect_timeout_s"));
    const char *keys[] = {"dbname", "connect_timeout", "application_name",
                          NULL};
    const char *vals[] = {oss_config_str(n->cfg, "pg.url"), timeout,
                          "oss-notifier", NULL};
    n->pg = PQconnectdbParams(keys, vals, 1);
    if (!n->pg || PQstatus(n->pg) != CONNECTION_OK) {
        const char *m = n->pg ? PQerrorMessage(n->pg) : "out of memory";
        oss_err_set(err, OSS_EUNAVAIL, "could not connect to PostgreSQL: %.*s",
                    (int)strcspn(m, "\n"), m);
        PQfinish(n->pg);
        n->pg = NULL;
        return OSS_EUNAVAIL;
    }
    return OSS_OK;
}

/* Runs sql; on success returns the result (caller PQclear()s). */
static PGresult *
pg_exec(notifier_t *n, const char *sql, int nparams, const char *const *params,
        int binary, oss_err_t *err) {
    if (pg_ensure(n, err))
        return NULL;
    PGresult *r =
        PQexecParams(n->pg, sql, nparams, NULL, params, NULL, NULL, binary);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorMessage(r);
        oss_err_set(err, OSS_EUNAVAIL, "could not query PostgreSQL: %.*s",
                    (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

static oss_code_t
pg_cmd(notifier_t *n, const char *sql, int nparams, const char *const *params,
       oss_err_t *err) {
    PGresult *r = pg_exec(n, sql, nparams, params, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    PQclear(r);
    return OSS_OK;
}

static oss_code_t
offsets_flush(notifier_t *n, oss_err_t *err) {
    if (!n->dirty)
        return OSS_OK;
    for (int p = 0; p < n->nparts; p++) {
        if (n->next[p] < 0)
            continue;
        char part[16], off[24];
        snprintf(part, sizeof part, "%d", p);
        snprintf(off, sizeof off, "%" PRId64, n->next[p]);
        const char *prm[5] = {CONSUMER_NAME, n->topic, part, n->cluster_id,
                              off};
        if (pg_cmd(n,
                   "INSERT INTO oss.notifier_offsets (consumer, topic, part, "
                   "cluster_id, next_offset) VALUES ($1, $2, $3::int, $4, "
                   "$5::int8) ON CONFLICT (consumer, topic, part) DO UPDATE "
                   "SET cluster_id = EXCLUDED.cluster_id, next_offset = "
                   "EXCLUDED.next_offset, updated_at = now()",
                   5, prm, err))
            return OSS_EUNAVAIL;
        n->next[p] = -1;
    }
    n->dirty = 0;
    return OSS_OK;
}

/* ---- ledger -------------------------------------------------------------- */

typedef enum { LEDGER_SEND, LEDGER_DONE } ledger_t;

/* Records (event, channel) as 'sending' unless a row exists; *what says
 * whether to send, *attempts how many attempts were made before. */
static oss_code_t
ledger_begin(notifier_t *n, const char *event_id, const char *channel,
             const char *stream_id, ledger_t *what, int *attempts,
             oss_err_t *err) {
    const char *p[3] = {event_id, channel, stream_id};
    if (pg_cmd(n,
               "INSERT INTO oss.notifications (event_id, channel, status, "
               "stream_id) VALUES ($1::uuid, $2, 'sending', $3) "
               "ON CONFLICT (event_id, channel) DO NOTHING",
               3, p, err))
        return OSS_EUNAVAIL;
    PGresult *r = pg_exec(n,
                          "SELECT status, attempts FROM oss.notifications "
                          "WHERE event_id = $1::uuid AND channel = $2",
                          2, p, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_set(err, OSS_EINTERNAL, "ledger row vanished");
    }
    *what =
        strcmp(PQgetvalue(r, 0, 0), "sending") == 0 ? LEDGER_SEND : LEDGER_DONE;
    *attempts = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    return OSS_OK;
}

/* status NULL = keep the status; count = 1 adds one attempt. */
static oss_code_t
ledger_update(notifier_t *n, const char *event_id, const char *channel,
              const char *status, const char *error, int count,
              oss_err_t *err) {
    const char *p[5] = {event_id, channel, status, error, count ? "1" : "0"};
    return pg_cmd(n,
                  "UPDATE oss.notifications SET "
                  "status = coalesce($3, status), "
                  "attempts = attempts + $5::int, "
                  "last_error = $4, updated_at = now() "
                  "WHERE event_id = $1::uuid AND channel = $2",
                  5, p, err);
}

static oss_code_t
ledger_set(notifier_t *n, const char *event_id, const char *channel,
           const char *status, const char *error, oss_err_t *err) {
    return ledger_update(n, event_id, channel, status, error, 0, err);
}

/* The subject's data key: OSS_ENOTFOUND when shredded. */
static oss_code_t
subject_key(notifier_t *n, const char *subject_id, oss_data_key_t *dk,
            oss_err_t *err) {
    const char *p[1] = {subject_id};
    PGresult *r = pg_exec(n,
                          "SELECT master_key_id, wrapped_key FROM "
                          "oss.subject_keys WHERE subject_id = $1::uuid",
                          1, p, 1, err);
    if (!r)
        return OSS_EUNAVAIL;
    oss_code_t rc;
    if (PQntuples(r) == 0) {
        rc = oss_err_set(err, OSS_ENOTFOUND, "subject has no data key");
    } else {
        char kid[17];
        int kl = PQgetlength(r, 0, 0);
        snprintf(kid, sizeof kid, "%.*s", kl < 16 ? kl : 16,
                 PQgetvalue(r, 0, 0));
        rc = oss_data_key_unwrap(&n->master, kid, subject_id,
                                 (const uint8_t *)PQgetvalue(r, 0, 1),
                                 (size_t)PQgetlength(r, 0, 1), dk, err);
    }
    PQclear(r);
    return rc;
}

static char *
unseal(const oss_data_key_t *dk, const char *field,
       const Oss__V1__SealedField *sf) {
    char *out = NULL;
    size_t len = 0;
    if (!sf || sf->nonce.len != 12 || sf->ciphertext.len == 0)
        return NULL;
    if (oss_open(dk, field, sf->nonce.data, sf->ciphertext.data,
                 sf->ciphertext.len, &out, &len, NULL) != OSS_OK)
        return NULL;
    return out;
}

static void
wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* ---- outcome events ------------------------------------------------------ */

static oss_code_t
journal_ensure(notifier_t *n, oss_err_t *err) {
    if (n->journal)
        return oss_journal_ping(n->journal, err);
    return oss_journal_open(oss_config_str(n->cfg, "pg.url"), &n->journal, err);
}

/* Appends o, retrying while the journal is unavailable (at least once even
 * when stopping: an outcome of a message already handed over should not be
 * lost). 0 when appended (or replayed), 1 when refused for good (logged),
 * -1 when stopping first. */
static int
outcome(notifier_t *n, const oss_outcome_t *o) {
    oss_err_t err = {0};
    for (int k = 0;; k++) {
        oss_err_clear(&err);
        oss_code_t rc = journal_ensure(n, &err);
        if (rc == OSS_OK)
            rc = oss_notifier_outcome_append(n->journal, o, &err);
        if (rc == OSS_OK)
            return 0;
        if (rc != OSS_EUNAVAIL) {
            oss_error("delivery outcome not recorded: event=%s channel=%s: %s",
                      o->cause_event_id, o->channel, err.msg);
            return 1;
        }
        if (*n->stop)
            return -1;
        if (k == 0 || k % 10 == 0)
            oss_warn("could not record a delivery outcome (will retry): "
                     "event=%s: %s",
                     o->cause_event_id, err.msg);
        nap(n, k < 5 ? 1000 : 5000);
    }
}

/* outcome() for os[0..k) in one transaction. */
static int
outcomes(notifier_t *n, const oss_outcome_t *os, size_t k) {
    oss_err_t err = {0};
    for (int t = 0;; t++) {
        oss_err_clear(&err);
        oss_code_t rc = journal_ensure(n, &err);
        if (rc == OSS_OK)
            rc = oss_notifier_outcome_append_many(n->journal, os, k, &err);
        if (rc == OSS_OK)
            return 0;
        if (rc != OSS_EUNAVAIL) {
            oss_error("delivery outcomes not recorded (%zu): %s", k, err.msg);
            return 0;
        }
        if (*n->stop)
            return -1;
        if (t == 0 || t % 10 == 0)
            oss_warn("could not record %zu delivery outcome(s) (will retry): "
                     "%s",
                     k, err.msg);
        nap(n, t < 5 ? 1000 : 5000);
    }
}

/* ---- one event ----------------------------------------------------------- */

/* 1 when s is a UUID in text form (what the uuid casts below accept). */
static int
uuid_ok(const char *s) {
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

#define ACCOUNT_REGISTERED "oss.v1.AccountRegistered"
#define ACTIVATION_ISSUED "oss.v1.ActivationIssued"

/* A targeted notice: one oss.deliveries row (infra/sql/055_notices.sql)
 * of an event, borrowed from the query result that found it. */
typedef struct notice_row {
    const char *delivery_id;
    const char *subject_id;
    const char *channel;
    const char *kind;
    const char *account_id; /* "" when the row names none */
    const char *sealed_hex;
    int expired;
} notice_row_t;

/* One message to deliver: what the event asks for. */
typedef struct job {
    const oss_event_t *ev;
    const char *what; /* "registration" | "activation" |
                         a notice's kind */
    char channel[16];
    char account_id[OSS_ID_MAX];     /* the account (or principal) the
                                        event is about */
    char out_account[OSS_ID_MAX];    /* "delivery-<out_account>" gets the
                                        outcomes; "" = none */
    const char *lid;                 /* ledger key: event or delivery id */
    Oss__V1__AccountRegistered *reg; /* registration */
    Oss__V1__ActivationIssued *act;  /* activation */
    const notice_row_t *notice;      /* targeted notice */
} job_t;

static void
job_clear(job_t *j) {
    if (j->reg)
        oss__v1__account_registered__free_unpacked(j->reg, NULL);
    if (j->act)
        oss__v1__activation_issued__free_unpacked(j->act, NULL);
    memset(j, 0, sizeof *j);
}

/* Fills j from ev (and nr, a notice of ev, may be NULL); 0, or -1 when the
 * event is malformed (nothing to retry: a well-formed event cannot become
 * one). */
static int
job_init(job_t *j, const oss_event_t *ev, const notice_row_t *nr) {
    memset(j, 0, sizeof *j);
    j->ev = ev;
    j->lid = ev->event_id;
    if (!uuid_ok(ev->event_id))
        return -1;
    /* the account's streams: "account-<id>" (registration) and
     * "access-<id>" (activation, sign-in: schemas/oss/v1/lifecycle.proto) */
    if (strncmp(ev->stream_id, "account-", 8) == 0)
        snprintf(j->account_id, sizeof j->account_id, "%s", ev->stream_id + 8);
    else if (strncmp(ev->stream_id, "access-", 7) == 0)
        snprintf(j->account_id, sizeof j->account_id, "%s", ev->stream_id + 7);
    snprintf(j->out_account, sizeof j->out_account, "%s", j->account_id);
    if (nr) {
        j->notice = nr;
        j->what = nr->kind;
        j->lid = nr->delivery_id;
        if (!uuid_ok(nr->delivery_id) || !uuid_ok(nr->subject_id) ||
            (strcmp(nr->channel, OSS_NOTIFIER_CHANNEL_EMAIL) != 0 &&
             strcmp(nr->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) != 0))
            return -1;
        snprintf(j->channel, sizeof j->channel, "%s", nr->channel);
        if (nr->account_id[0])
            snprintf(j->out_account, sizeof j->out_account, "%s",
                     nr->account_id);
        return 0;
    }
    if (strcmp(ev->payload_type, ACTIVATION_ISSUED) == 0) {
        j->what = "activation";
        j->act = oss__v1__activation_issued__unpack(NULL, ev->payload_len,
                                                    ev->payload);
        if (!j->act || !uuid_ok(j->act->delivery_id) || !j->account_id[0] ||
            (strcmp(j->act->channel, OSS_NOTIFIER_CHANNEL_EMAIL) != 0 &&
             strcmp(j->act->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) != 0))
            return -1;
        snprintf(j->channel, sizeof j->channel, "%s", j->act->channel);
        return 0;
    }
    j->what = "registration";
    snprintf(j->channel, sizeof j->channel, "%s", OSS_NOTIFIER_CHANNEL_EMAIL);
    j->reg =
        oss__v1__account_registered__unpack(NULL, ev->payload_len, ev->payload);
    if (!j->reg || !uuid_ok(j->reg->subject_id))
        return -1;
    if (j->reg->account_id && *j->reg->account_id)
        snprintf(j->account_id, sizeof j->account_id, "%s", j->reg->account_id);
    snprintf(j->out_account, sizeof j->out_account, "%s", j->account_id);
    return 0;
}

/* A message about a principal's access stream ("access-<principal_id>":
 * an activation, or a notice naming no account) is recorded on the
 * delivery stream of the account the principal holds a grant on (a first
 * owner's principal id is its account id); a principal without one (a
 * government officer) on its own. OSS_EUNAVAIL when PostgreSQL failed. */
static oss_code_t
job_resolve(notifier_t *n, job_t *j, oss_err_t *err) {
    if (strncmp(j->ev->stream_id, "access-", 7) != 0 || !j->account_id[0] ||
        (j->notice && j->notice->account_id[0]))
        return OSS_OK;
    const char *p[1] = {j->account_id};
    PGresult *r = pg_exec(n,
                          "SELECT coalesce((SELECT account_id FROM oss.grants "
                          "WHERE principal_id = $1 AND account_id IS NOT NULL "
                          "ORDER BY (revoked_at IS NULL) DESC, grant_id "
                          "LIMIT 1), $1)",
                          1, p, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) == 1)
        snprintf(j->out_account, sizeof j->out_account, "%s",
                 PQgetvalue(r, 0, 0));
    PQclear(r);
    return OSS_OK;
}

/* A built message: recipient and body are personal/secret (wiped). */
typedef struct built {
    char *to;
    char *msg;
    size_t len;
    char delivery_id[OSS_UUID_STR]; /* activation: the row to delete */
} built_t;

static void
built_clear(built_t *b) {
    wipe_free(b->to);
    if (b->msg) {
        OPENSSL_cleanse(b->msg, b->len);
        free(b->msg);
    }
    memset(b, 0, sizeof *b);
}

/* The registration mail. OSS_ENOTFOUND: subject shredded (skip);
 * OSS_EUNAVAIL: retry; other: failed for good (reason in err). */
static oss_code_t
build_registration(notifier_t *n, job_t *j, built_t *b, oss_err_t *err) {
    oss_data_key_t dk;
    oss_code_t rc = subject_key(n, j->reg->subject_id, &dk, err);
    if (rc == OSS_ENOTFOUND || rc == OSS_EUNAVAIL)
        return rc;
    if (rc) {
        oss_err_set(err, rc, "data key unwrap failed");
        return OSS_ECORRUPT;
    }
    char *email = unseal(&dk, "email", j->reg->email);
    char *name = unseal(&dk, "name", j->reg->name);
    OPENSSL_cleanse(&dk, sizeof dk);
    if (!email) {
        wipe_free(name);
        return oss_err_set(err, OSS_ECORRUPT, "e-mail not unsealable");
    }
    oss_mail_t m = {.event_id = j->ev->event_id,
                    .from = oss_config_str(n->cfg, "notifier.from"),
                    .to = email,
                    .name = name,
                    .account_id = j->reg->account_id,
                    .date_us = oss_now_us()};
    rc = oss_mail_compose(&m, &b->msg, &b->len, err);
    wipe_free(name);
    if (rc) {
        wipe_free(email);
        return rc == OSS_ENOMEM ? OSS_EUNAVAIL : rc;
    }
    b->to = email;
    return OSS_OK;
}

/* Opens sf under field, else "new_<field>" (a ContactReplaced's). */
static char *
unseal_either(const oss_data_key_t *dk, const char *field,
              const Oss__V1__SealedField *sf) {
    char alt[32];
    char *v = unseal(dk, field, sf);
    if (v)
        return v;
    snprintf(alt, sizeof alt, "new_%s", field);
    return unseal(dk, alt, sf);
}

/* The contact of a principal (a first owner's principal id is its account
 * id), unsealed with dk: new strings in *to (e-mail or phone per channel)
 * and *name, caller wipes. The sealed fields come from the first event of
 * the principal's contact stream (oss.principals.contact_stream:
 * AccountRegistered on "account-<id>" or PrincipalCreated on
 * "access-<id>"; "account-<id>" for an account registered before
 * principals existed), the address from the newest ContactReplaced of the
 * principal when there is one. */
static oss_code_t
account_contact(notifier_t *n, const char *principal_id, const char *channel,
                const oss_data_key_t *dk, char **to, char **name,
                oss_err_t *err) {
    char stream[OSS_ID_MAX + 16];
    int wa = strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0;
    const char *field = wa ? "phone" : "email";
    *to = *name = NULL;
    const char *p1[1] = {principal_id};
    PGresult *r = pg_exec(n,
                          "SELECT contact_stream FROM oss.principals "
                          "WHERE principal_id = $1",
                          1, p1, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) == 1)
        snprintf(stream, sizeof stream, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(stream, sizeof stream, "account-%s", principal_id);
    PQclear(r);
    const char *p2[1] = {stream};
    r = pg_exec(n,
                "SELECT payload_type, payload FROM oss.journal "
                "WHERE stream_id = $1 AND payload_type IN "
                "('" ACCOUNT_REGISTERED "', 'oss.v1.PrincipalCreated') "
                "ORDER BY version LIMIT 1",
                1, p2, 1, err);
    if (!r)
        return OSS_EUNAVAIL;
    oss_code_t rc = OSS_OK;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_set(err, OSS_ENOTFOUND,
                           "the principal has no registration");
    }
    const uint8_t *pl = (const uint8_t *)PQgetvalue(r, 0, 1);
    size_t plen = (size_t)PQgetlength(r, 0, 1);
    const char *subject = NULL;
    const Oss__V1__SealedField *sf_to = NULL, *sf_name = NULL;
    Oss__V1__AccountRegistered *a = NULL;
    Oss__V1__PrincipalCreated *pc = NULL;
    if (!strcmp(PQgetvalue(r, 0, 0), ACCOUNT_REGISTERED)) {
        if ((a = oss__v1__account_registered__unpack(NULL, plen, pl))) {
            subject = a->subject_id;
            sf_to = wa ? a->phone : a->email;
            sf_name = a->name;
        }
    } else if ((pc = oss__v1__principal_created__unpack(NULL, plen, pl))) {
        subject = pc->subject_id;
        sf_to = wa ? pc->phone : pc->email;
        sf_name = pc->name;
    }
    if (!subject) {
        rc = oss_err_set(err, OSS_ECORRUPT, "undecodable contact event");
    } else if (strcmp(subject, dk->subject_id) != 0) {
        rc = oss_err_set(err, OSS_ECORRUPT,
                         "delivery subject differs from the principal's");
    } else {
        *to = unseal(dk, field, sf_to);
        *name = unseal(dk, "name", sf_name);
    }
    if (a)
        oss__v1__account_registered__free_unpacked(a, NULL);
    if (pc)
        oss__v1__principal_created__free_unpacked(pc, NULL);
    PQclear(r);
    if (rc)
        return rc;
    /* a newer address: the newest ContactReplaced setting this field */
    const char *p3[2] = {stream, principal_id};
    r = pg_exec(
        n,
        "SELECT x.payload FROM unnest(ARRAY[$1, 'access-' || $2, "
        "'account-' || $2] || ARRAY(SELECT 'account-' || account_id FROM "
        "oss.grants WHERE principal_id = $2 AND account_id IS NOT NULL)) "
        "s(id), LATERAL (SELECT j.payload, j.position FROM oss.journal j "
        "WHERE j.stream_id = s.id AND j.payload_type = "
        "'oss.v1.ContactReplaced' ORDER BY j.version DESC LIMIT 32) x "
        "ORDER BY x.position DESC LIMIT 32",
        2, p3, 1, err);
    if (!r) {
        wipe_free(*to);
        wipe_free(*name);
        *to = *name = NULL;
        return OSS_EUNAVAIL;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        Oss__V1__ContactReplaced *cr = oss__v1__contact_replaced__unpack(
            NULL, (size_t)PQgetlength(r, i, 0),
            (const uint8_t *)PQgetvalue(r, i, 0));
        if (!cr)
            continue;
        const Oss__V1__SealedField *sf = wa ? cr->phone : cr->email;
        char *v = NULL;
        if ((!cr->principal_id[0] || !strcmp(cr->principal_id, principal_id)) &&
            (!cr->subject_id[0] || !strcmp(cr->subject_id, dk->subject_id)) &&
            sf && sf->ciphertext.len)
            v = unseal_either(dk, field, sf);
        oss__v1__contact_replaced__free_unpacked(cr, NULL);
        if (v) {
            wipe_free(*to);
            *to = v;
            break;
        }
    }
    PQclear(r);
    if (!*to) {
        wipe_free(*name);
        *name = NULL;
        return oss_err_set(err, OSS_ECORRUPT, "%s not unsealable",
                           wa ? "phone" : "e-mail");
    }
    return OSS_OK;
}

/* The activation message, from the sealed row of oss.deliveries (the
 * contract of infra/sql/040_credentials.sql: nonce(12) || ciphertext || tag
 * under the subject's data key, field "delivery|<delivery_id>", plaintext
 * {"otp": "...", "token": "..."}). OSS_ENOTFOUND (not sent, reason in err):
 * no row (superseded by a resend, used or purged), expired, or the subject
 * erased; OSS_EUNAVAIL: retry; other: failed for good. */
static oss_code_t
build_activation(notifier_t *n, job_t *j, built_t *b, oss_err_t *err) {
    const char *p[1] = {j->act->delivery_id};
    PGresult *r = pg_exec(n,
                          "SELECT subject_id::text, encode(sealed_secret, "
                          "'hex'), (extract(epoch FROM expires_at) * 1e6)"
                          "::int8, expires_at < now() FROM oss.deliveries "
                          "WHERE delivery_id = $1::uuid",
                          1, p, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_set(err, OSS_ENOTFOUND,
                           "no sealed code left (superseded by a resend, "
                           "already used or expired)");
    }
    snprintf(b->delivery_id, sizeof b->delivery_id, "%s", j->act->delivery_id);
    if (*PQgetvalue(r, 0, 3) == 't') {
        PQclear(r);
        return oss_err_set(err, OSS_ENOTFOUND,
                           "the code expired before it "
                           "could be delivered");
    }
    char subject[OSS_UUID_STR];
    snprintf(subject, sizeof subject, "%s", PQgetvalue(r, 0, 0));
    int64_t expires_us = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    const char *hx = PQgetvalue(r, 0, 1);
    size_t hl = strlen(hx), sl = hl / 2;
    uint8_t *sealed = malloc(sl ? sl : 1);
    if (!sealed) {
        PQclear(r);
        return oss_err_set(err, OSS_EUNAVAIL, "out of memory");
    }
    for (size_t i = 0; i < sl; i++)
        sealed[i] =
            (uint8_t)(oss_hexval(hx[2 * i]) << 4 | oss_hexval(hx[2 * i + 1]));
    PQclear(r);
    oss_code_t rc;
    oss_data_key_t dk;
    char *plain = NULL, *to = NULL, *name = NULL;
    size_t plen = 0;
    json_t *js = NULL;
    if ((rc = subject_key(n, subject, &dk, err)) != OSS_OK) {
        if (rc != OSS_ENOTFOUND && rc != OSS_EUNAVAIL)
            rc = oss_err_set(err, OSS_ECORRUPT, "data key unwrap failed");
        else if (rc == OSS_ENOTFOUND)
            oss_err_set(err, OSS_ENOTFOUND, "the subject's data was erased");
        goto done;
    }
    char field[64];
    snprintf(field, sizeof field, "delivery|%s", j->act->delivery_id);
    if (sl < 12 + 16 || oss_open(&dk, field, sealed, sealed + 12, sl - 12,
                                 &plain, &plen, NULL) != OSS_OK) {
        rc = oss_err_set(err, OSS_ECORRUPT, "the sealed code does not open");
        goto done;
    }
    js = json_loadb(plain, plen, 0, NULL);
    const char *otp = js ? json_string_value(json_object_get(js, "otp")) : NULL;
    const char *token =
        js ? json_string_value(json_object_get(js, "token")) : NULL;
    if (!otp || !token) {
        rc = oss_err_set(err, OSS_ECORRUPT, "the sealed code is malformed");
        goto done;
    }
    rc = account_contact(n, j->account_id, j->channel, &dk, &to, &name, err);
    if (rc)
        goto done;
    char *link = NULL;
    const char *base = oss_config_str(n->cfg, "notifier.activation_url");
    size_t ll = strlen(base) + strlen(j->account_id) + strlen(token) + 32;
    if (!(link = malloc(ll))) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "out of memory");
        goto done;
    }
    snprintf(link, ll, "%s%saccount=%s&token=%s", base,
             strchr(base, '?') ? "&" : "?", j->account_id, token);
    oss_activation_msg_t am = {
        .account_id = j->account_id,
        .otp = otp,
        .link = link,
        .issued_at_us =
            j->ev->occurred_at_us ? j->ev->occurred_at_us : oss_now_us(),
        .expires_at_us =
            j->act->expires_at_us ? j->act->expires_at_us : expires_us};
    oss_mail_t m = {.event_id = j->ev->event_id,
                    .from = oss_config_str(n->cfg, "notifier.from"),
                    .to = to,
                    .name = name,
                    .account_id = j->account_id,
                    .date_us = oss_now_us()};
    if (strcmp(j->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0)
        rc = oss_whatsapp_compose(&m, &am, &b->msg, &b->len, err);
    else
        rc = oss_mail_compose_activation(&m, &am, &b->msg, &b->len, err);
    wipe_free(link);
    if (rc == OSS_ENOMEM)
        rc = OSS_EUNAVAIL;
    if (rc == OSS_OK) {
        b->to = to;
        to = NULL;
    }
done:
    OPENSSL_cleanse(&dk, sizeof dk);
    OPENSSL_cleanse(sealed, sl);
    free(sealed);
    if (js) {
        /* jansson keeps its own copies: wipe them before freeing */
        json_t *v;
        const char *k;
        json_object_foreach(js, k, v) if (json_is_string(v)) OPENSSL_cleanse(
            (char *)json_string_value(v), json_string_length(v));
        json_decref(js);
    }
    if (plain) {
        OPENSSL_cleanse(plain, plen);
        free(plain);
    }
    wipe_free(to);
    wipe_free(name);
    return rc;
}

/* A targeted notice (infra/sql/055_notices.sql): the row's sealed
 * {"to", "channel", "vars"} under the subject's data key (field
 * "delivery|<delivery_id>") rendered with the template of its kind.
 * OSS_ENOTFOUND (not sent, reason in err): expired or the subject erased;
 * OSS_EUNAVAIL: retry; other: failed for good. */
static oss_code_t
build_notice(notifier_t *n, job_t *j, built_t *b, oss_err_t *err) {
    const notice_row_t *nr = j->notice;
    snprintf(b->delivery_id, sizeof b->delivery_id, "%s", nr->delivery_id);
    if (nr->expired)
        return oss_err_set(err, OSS_ENOTFOUND,
                           "the notice expired before it could be delivered");
    oss_data_key_t dk;
    oss_code_t rc = subject_key(n, nr->subject_id, &dk, err);
    if (rc == OSS_ENOTFOUND)
        return oss_err_set(err, OSS_ENOTFOUND, "the subject's data was erased");
    if (rc == OSS_EUNAVAIL)
        return rc;
    if (rc)
        return oss_err_set(err, OSS_ECORRUPT, "data key unwrap failed");
    size_t hl = strlen(nr->sealed_hex), sl = hl / 2;
    uint8_t *sealed = malloc(sl ? sl : 1);
    char *plain = NULL, *sid = NULL, *sen = NULL, *tid = NULL, *ten = NULL;
    size_t plen = 0;
    json_t *js = NULL;
    if (!sealed) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sl; i++)
        sealed[i] = (uint8_t)(oss_hexval(nr->sealed_hex[2 * i]) << 4 |
                              oss_hexval(nr->sealed_hex[2 * i + 1]));
    char field[64];
    snprintf(field, sizeof field, "delivery|%s", nr->delivery_id);
    if (sl < 12 + 16 || oss_open(&dk, field, sealed, sealed + 12, sl - 12,
                                 &plain, &plen, NULL) != OSS_OK) {
        rc = oss_err_set(err, OSS_ECORRUPT, "the sealed notice does not open");
        goto done;
    }
    js = json_loadb(plain, plen, 0, NULL);
    const char *to = js ? json_string_value(json_object_get(js, "to")) : NULL;
    json_t *vars = js ? json_object_get(js, "vars") : NULL;
    if (!to || !*to || (vars && !json_is_object(vars))) {
        rc = oss_err_set(err, OSS_ECORRUPT, "the sealed notice is malformed");
        goto done;
    }
    char missing[48] = "";
    int64_t when = j->ev->occurred_at_us ? j->ev->occurred_at_us : oss_now_us();
    if ((rc = oss_template_render(nr->kind, "id", vars, when, &sid, &tid,
                                  missing, sizeof missing, err)) ||
        (rc = oss_template_render(nr->kind, "en", vars, when, &sen, &ten, NULL,
                                  0, err))) {
        if (rc == OSS_ENOMEM)
            rc = OSS_EUNAVAIL;
        else
            rc = OSS_ECORRUPT; /* no template: failed for good */
        goto done;
    }
    if (missing[0]) /* a variable name, never its value */
        oss_warn("notice %s lacks the variable \"%s\" (rendered \"-\"): "
                 "delivery=%s",
                 nr->kind, missing, nr->delivery_id);
    const json_t *nm = vars ? json_object_get(vars, "name") : NULL;
    oss_mail_t m = {.event_id = nr->delivery_id,
                    .from = oss_config_str(n->cfg, "notifier.from"),
                    .to = to,
                    .name = json_is_string(nm) ? json_string_value(nm) : NULL,
                    .account_id = j->out_account,
                    .date_us = oss_now_us()};
    rc = oss_message_compose(
        &m, strcmp(nr->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0, nr->kind,
        sid, sen, tid, ten, &b->msg, &b->len, err);
    if (rc == OSS_ENOMEM)
        rc = OSS_EUNAVAIL;
    if (rc == OSS_OK && !(b->to = strdup(to)))
        rc = oss_err_set(err, OSS_EUNAVAIL, "out of memory");
done:
    OPENSSL_cleanse(&dk, sizeof dk);
    if (sealed) {
        OPENSSL_cleanse(sealed, sl);
        free(sealed);
    }
    if (js) {
        json_t *v;
        const char *k;
        json_object_foreach(js, k, v) if (json_is_string(v)) OPENSSL_cleanse(
            (char *)json_string_value(v), json_string_length(v));
        if (vars)
            json_object_foreach(vars, k, v) if (json_is_string(v))
                OPENSSL_cleanse((char *)json_string_value(v),
                                json_string_length(v));
        json_decref(js);
    }
    if (plain) {
        OPENSSL_cleanse(plain, plen);
        free(plain);
    }
    free(sid);
    free(sen);
    wipe_free(tid);
    wipe_free(ten);
    return rc;
}

/* The sealed row is of no further use once handed over (or given up). */
static void
delivery_row_delete(notifier_t *n, const char *delivery_id) {
    if (!delivery_id[0])
        return;
    oss_err_t err = {0};
    const char *p[1] = {delivery_id};
    if (pg_cmd(n, "DELETE FROM oss.deliveries WHERE delivery_id = $1::uuid", 1,
               p, &err))
        oss_warn("could not delete a delivered code's row (it expires "
                 "anyway): delivery=%s: %s",
                 delivery_id, err.msg);
}

/* Marks the sealed row delivered (the sweep deletes it later). */
static void
delivery_mark(notifier_t *n, const char *delivery_id) {
    if (!delivery_id[0])
        return;
    oss_err_t err = {0};
    const char *p[1] = {delivery_id};
    if (pg_cmd(n,
               "UPDATE oss.deliveries SET delivered_at = now() "
               "WHERE delivery_id = $1::uuid",
               1, p, &err))
        oss_warn("could not mark a delivered code's row (it expires "
                 "anyway): delivery=%s: %s",
                 delivery_id, err.msg);
}

/* Deletes the sealed rows delivered DELIVERED_KEEP_S ago or expired: the
 * code is in the person's mailbox or no longer valid. */
#define DELIVERED_KEEP_S "300"

static void
deliveries_purge(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r = pg_exec(
        n,
        "DELETE FROM oss.deliveries WHERE expires_at < now() "
        "OR delivered_at < now() - make_interval(secs => " DELIVERED_KEEP_S ")",
        0, NULL, 0, &err);
    if (!r) {
        oss_warn("could not purge delivered or expired codes (will retry): %s",
                 err.msg);
        return;
    }
    if (atoi(PQcmdTuples(r)) > 0)
        oss_info("purged %s delivered or expired sealed code(s)",
                 PQcmdTuples(r));
    PQclear(r);
}

/* Handles one event (AccountRegistered or ActivationIssued) until its
 * message is sent, skipped or failed for good; returns OSS_OK then, or
 * non-zero when asked to stop first (or the lock was lost). Each attempt's
 * outcome is an event on the account's delivery stream. */
static oss_code_t
deliver(notifier_t *n, const oss_event_t *ev, const notice_row_t *nr,
        const char *via, int queued) {
    oss_err_t err = {0};
    int64_t backoff_ms = 1000,
            max_ms = oss_config_int(n->cfg, "notifier.retry_max_s") * 1000;
    job_t j;
    if (job_init(&j, ev, nr)) {
        oss_warn("ignored a malformed %s (payload, event id, channel, stream "
                 "or subject id): event=%s stream=%s",
                 ev->payload_type[0] ? ev->payload_type : "event", ev->event_id,
                 ev->stream_id);
        /* it can never become deliverable: a ledger row keeps the journal
         * sweep and Kafka re-reads from handling it again */
        if (uuid_ok(j.lid)) {
            const char *p[3] = {
                j.lid, j.channel[0] ? j.channel : OSS_NOTIFIER_CHANNEL_EMAIL,
                ev->stream_id};
            if (pg_cmd(n,
                       "INSERT INTO oss.notifications (event_id, channel, "
                       "status, stream_id, last_error) VALUES ($1::uuid, $2, "
                       "'skipped', $3, 'malformed or not an account stream') "
                       "ON CONFLICT (event_id, channel) DO NOTHING",
                       3, p, &err))
                oss_warn("could not record a skipped event: %s", err.msg);
        }
        job_clear(&j);
        return OSS_OK;
    }
    /* the delivery stream of a principal's message: its account's */
    while (job_resolve(n, &j, &err) != OSS_OK) {
        if (*n->stop || !n->locked) {
            job_clear(&j);
            return OSS_EUNAVAIL;
        }
        oss_warn("could not resolve a delivery stream (will retry): "
                 "event=%s: %s",
                 ev->event_id, err.msg);
        nap(n, 1000);
    }
    const char *ch = j.channel, *lid = j.lid;
    oss_outcome_t o = {.account_id = j.out_account,
                       .cause_event_id = ev->event_id,
                       .key_id = nr ? nr->delivery_id : NULL,
                       .correlation_id = ev->correlation_id,
                       .channel = ch,
                       .what = j.what,
                       .trigger_type = nr      ? ev->payload_type
                                       : j.act ? ACTIVATION_ISSUED
                                               : ACCOUNT_REGISTERED};
    int has_stream = j.out_account[0] != '\0';
    oss_code_t result = OSS_OK;
    for (int attempt = 0;; attempt++) {
        if (attempt) {
            oss_warn("delivery failed, retrying in %" PRId64 " ms: event=%s "
                     "channel=%s: %s",
                     backoff_ms, ev->event_id, ch, err.msg);
            nap(n, backoff_ms);
            backoff_ms = backoff_ms * 2 > max_ms ? max_ms : backoff_ms * 2;
        }
        if (*n->stop) {
            result = OSS_EUNAVAIL;
            break;
        }
        oss_err_clear(&err);
        ledger_t what = LEDGER_DONE;
        int attempts = 0;
        if (ledger_begin(n, lid, ch, ev->stream_id, &what, &attempts, &err))
            continue;
        if (what == LEDGER_DONE) {
            oss_info("already handled, not sent again: event=%s channel=%s",
                     ev->event_id, ch);
            break;
        }
        if (!n->locked) { /* the session was re-established: lock lost */
            result = OSS_EUNAVAIL;
            break;
        }
        if (attempts > 0 && attempt == 0)
            oss_info("resending after an interrupted or failed attempt "
                     "(same Message-ID): event=%s attempts=%d",
                     ev->event_id, attempts);
        if (attempts == 0 && attempt == 0 && has_stream && !queued) {
            o.kind = OSS_OUTCOME_QUEUED;
            o.attempt = 0;
            if (outcome(n, &o)) {
                result = OSS_EUNAVAIL;
                break;
            }
        }
        built_t b;
        memset(&b, 0, sizeof b);
        oss_code_t rc = j.notice ? build_notice(n, &j, &b, &err)
                        : j.act  ? build_activation(n, &j, &b, &err)
                                 : build_registration(n, &j, &b, &err);
        if (rc == OSS_EUNAVAIL) {
            built_clear(&b);
            continue;
        }
        if (rc == OSS_ENOTFOUND || rc) {
            int skip = rc == OSS_ENOTFOUND;
            char reason[sizeof err.msg];
            snprintf(reason, sizeof reason, "%s", err.msg);
            if (ledger_set(n, lid, ch, skip ? "skipped" : "failed", reason,
                           &err)) {
                built_clear(&b);
                continue;
            }
            if (skip && j.reg) {
                n->skipped++;
                oss_debug("no mail: subject shredded: event=%s stream=%s",
                          ev->event_id, ev->stream_id);
            } else {
                if (skip)
                    n->skipped++;
                if (skip)
                    oss_info("%s not sent: event=%s channel=%s: %s", j.what,
                             ev->event_id, ch, reason);
                else
                    oss_error("%s not sent: event=%s channel=%s: %s", j.what,
                              ev->event_id, ch, reason);
                if (has_stream) {
                    o.kind = OSS_OUTCOME_FAILED;
                    o.attempt = attempts;
                    o.reply_code = 0;
                    o.reason = reason;
                    outcome(n, &o);
                }
                delivery_row_delete(n, b.delivery_id);
            }
            built_clear(&b);
            break;
        }
        /* count the attempt BEFORE handing the message over */
        if (ledger_update(n, lid, ch, NULL, NULL, 1, &err)) {
            built_clear(&b);
            continue;
        }
        int this_attempt = attempts + 1;
        if (!n->locked) {
            built_clear(&b);
            result = OSS_EUNAVAIL;
            break;
        }
        long code = 0;
        char reply[OSS_REPLY_TEXT_MAX];
        if (strcmp(ch, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0)
            rc = oss_http_post_json(
                NULL, oss_config_str(n->cfg, "notifier.whatsapp_url"), b.msg,
                b.len, &code, reply, sizeof reply, &err);
        else
            rc = oss_mail_send_reply(
                n->curl, oss_config_str(n->cfg, "notifier.smtp_url"),
                n->from_addr, b.to, b.msg, b.len, &code, reply, sizeof reply,
                &err);
        char delivery_id[OSS_UUID_STR];
        snprintf(delivery_id, sizeof delivery_id, "%s", b.delivery_id);
        built_clear(&b);
        o.attempt = this_attempt;
        o.reply_code = code;
        o.reply_text = reply;
        if (rc) {
            char reason[sizeof err.msg + OSS_REPLY_TEXT_MAX + 16];
            snprintf(reason, sizeof reason, "%s%s%s", err.msg,
                     reply[0] ? "; server said: " : "", reply);
            o.reason = reason;
            if (rc == OSS_EINVAL) {
                oss_error("%s refused permanently: event=%s channel=%s: %s",
                          j.what, ev->event_id, ch, reason);
                if (has_stream) {
                    o.kind = OSS_OUTCOME_FAILED;
                    outcome(n, &o);
                }
                oss_err_t e2 = {0};
                ledger_set(n, lid, ch, "failed", err.msg, &e2);
                delivery_row_delete(n, delivery_id);
                break;
            }
            int orc = 1;
            if (has_stream) {
                /* the ledger's last_error changes with the events */
                o.kind = OSS_OUTCOME_RETRYING;
                o.next_attempt_at_us = oss_now_us() + backoff_ms * 1000;
                o.ledger_update = 1;
                o.ledger_status = NULL;
                o.ledger_error = err.msg;
                orc = outcome(n, &o);
                o.ledger_update = 0;
                if (orc < 0) {
                    result = OSS_EUNAVAIL;
                    break;
                }
            }
            if (orc) {
                oss_err_t e2 = {0};
                ledger_set(n, lid, ch, NULL, err.msg, &e2);
            }
            continue;
        }
        /* handed over: DeliveryHanded, the ledger's 'sent' and the sealed
         * row's deletion in one transaction (a crash before it re-sends,
         * same Message-ID, and records attempt k+1) */
        int orc = 1;
        if (has_stream) {
            o.kind = OSS_OUTCOME_HANDED;
            o.reason = NULL;
            o.ledger_update = 1;
            o.ledger_status = "sent";
            o.ledger_error = NULL;
            o.delivered_id = delivery_id;
            orc = outcome(n, &o);
            o.ledger_update = 0;
            o.delivered_id = NULL;
        }
        if (orc) {
            oss_err_t e2 = {0};
            for (int k = 0;
                 ledger_set(n, lid, ch, "sent", NULL, &e2) && !*n->stop; k++)
                nap(n, k < 5 ? 1000 : 5000);
            delivery_mark(n, delivery_id);
        }
        n->sent++;
        if (j.notice)
            oss_info("%s notice handed over: event=%s delivery=%s stream=%s "
                     "channel=%s reply=%ld via=%s",
                     j.what, ev->event_id, lid, ev->stream_id, ch, code, via);
        else if (j.act)
            oss_info("activation message handed over: event=%s stream=%s "
                     "channel=%s reply=%ld message_id=<%s@oss.local> via=%s",
                     ev->event_id, ev->stream_id, ch, code, ev->event_id, via);
        else
            oss_info("registration mail sent: event=%s stream=%s "
                     "message_id=<%s@oss.local> via=%s",
                     ev->event_id, ev->stream_id, ev->event_id, via);
        break;
    }
    job_clear(&j);
    return result;
}

static const char *
header(const rd_kafka_message_t *msg, const char *name, char *buf, size_t cap) {
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        !v || len >= cap)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* ---- batches ------------------------------------------------------------
 * Most account events need no mail (already sent, or their subject has no
 * data key): deciding that one event at a time costs four round trips each,
 * so a batch is triaged with three queries and only the events that may need
 * a mail go through deliver(). */

/* "{a,b,...}" of the event ids (or subject ids) selected by pick; new,
 * caller frees. UUIDs need no quoting. */
static char *
uuid_array(Oss__V1__AccountRegistered **as, const oss_event_t *evs, size_t k,
           const uint8_t *pick, int subjects) {
    char *out = malloc(k * 38 + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (!pick[i])
            continue;
        const char *u = subjects ? as[i]->subject_id : evs[i].event_id;
        if (p[-1] != '{')
            *p++ = ',';
        memcpy(p, u, 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Sets need[i] = 1 for each event of evs[0..k) (account events) that
 * deliver() must handle; records 'skipped' for the new ones whose subject has
 * no data key. OSS_EUNAVAIL when PostgreSQL failed (nothing decided). */
static oss_code_t
triage(notifier_t *n, const oss_event_t *evs, size_t k, uint8_t *need) {
    oss_err_t err = {0};
    oss_code_t rc = OSS_OK;
    Oss__V1__AccountRegistered **as = calloc(k ? k : 1, sizeof *as);
    uint8_t *ok = calloc(k ? k : 1, 1), *nokey = calloc(k ? k : 1, 1);
    char *arr = NULL;
    PGresult *r = NULL;
    size_t nok = 0, nskip = 0;
    if (!as || !ok || !nokey) {
        rc = OSS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        if (strcmp(evs[i].payload_type, ACCOUNT_REGISTERED) != 0 &&
            strcmp(evs[i].payload_type, ACTIVATION_ISSUED) != 0) {
            need[i] = 0; /* only its targeted notices, if any */
            continue;
        }
        need[i] = 1; /* malformed ones: deliver() says why and ignores them */
        if (strcmp(evs[i].payload_type, ACCOUNT_REGISTERED) != 0) {
            /* activations: only the ledger look-up below */
            if (uuid_ok(evs[i].event_id)) {
                ok[i] = 3;
                nok++;
            }
            continue;
        }
        as[i] = oss__v1__account_registered__unpack(NULL, evs[i].payload_len,
                                                    evs[i].payload);
        if (as[i] && uuid_ok(evs[i].event_id) && uuid_ok(as[i]->subject_id)) {
            ok[i] = 1;
            nok++;
        }
    }
    if (nok == 0)
        goto done;
    /* 1. the ledger: anything but 'sending' is done with */
    if (!(arr = uuid_array(as, evs, k, ok, 0))) {
        rc = OSS_ENOMEM;
        goto done;
    }
    const char *p1[1] = {arr};
    if (!(r = pg_exec(n,
                      "SELECT event_id::text, status FROM oss.notifications "
                      "WHERE event_id = ANY($1::uuid[])",
                      1, p1, 0, &err))) {
        rc = OSS_EUNAVAIL;
        goto done;
    }
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < k; i++)
            if (ok[i] &&
                strcasecmp(evs[i].event_id, PQgetvalue(r, row, 0)) == 0) {
                if (strcmp(PQgetvalue(r, row, 1), "sending") != 0)
                    need[i] = 0;
                ok[i] = 2; /* has a row: deliver() decides */
            }
    PQclear(r);
    r = NULL;
    free(arr);
    /* 2. new events whose subject has no data key get no mail */
    for (size_t i = 0; i < k; i++)
        nokey[i] = ok[i] == 1;
    if (!(arr = uuid_array(as, evs, k, nokey, 1))) {
        rc = OSS_ENOMEM;
        goto done;
    }
    const char *p2[1] = {arr};
    if (!(r = pg_exec(n,
                      "SELECT subject_id::text FROM oss.subject_keys "
                      "WHERE subject_id = ANY($1::uuid[])",
                      1, p2, 0, &err))) {
        rc = OSS_EUNAVAIL;
        goto done;
    }
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < k; i++)
            if (nokey[i] &&
                strcasecmp(as[i]->subject_id, PQgetvalue(r, row, 0)) == 0)
                nokey[i] = 0;
    PQclear(r);
    r = NULL;
    free(arr);
    arr = NULL;
    size_t again = 0;
    for (size_t i = 0; i < k; i++) {
        if (nokey[i]) {
            need[i] = 0;
            nskip++;
        } else if (ok[i] == 2 && !need[i]) {
            again++;
        }
    }
    if (again)
        oss_info("re-read %zu event(s) already handled: not sent again", again);
    if (nskip) {
        if (!(arr = uuid_array(as, evs, k, nokey, 0))) {
            rc = OSS_ENOMEM;
            goto done;
        }
        const char *p3[1] = {arr};
        if (pg_cmd(n,
                   "INSERT INTO oss.notifications (event_id, channel, status, "
                   "last_error) SELECT u, 'email', 'skipped', "
                   "'subject data key shredded' FROM unnest($1::uuid[]) u "
                   "ON CONFLICT (event_id, channel) DO NOTHING",
                   1, p3, &err)) {
            rc = OSS_EUNAVAIL;
            goto done;
        }
        n->skipped += (int64_t)nskip;
    }
done:
    if (rc == OSS_EUNAVAIL)
        oss_warn("could not triage %zu event(s) (will retry): %s", k, err.msg);
    PQclear(r);
    free(arr);
    for (size_t i = 0; as && i < k; i++)
        if (as[i])
            oss__v1__account_registered__free_unpacked(as[i], NULL);
    free(as);
    free(ok);
    free(nokey);
    return rc;
}

/* ---- targeted notices ---------------------------------------------------
 * oss.deliveries rows of any kind but "activation" (those go with their
 * ActivationIssued): each is sent once per (row, channel) through the
 * ledger, keyed by the row's delivery id. Found for the events of each
 * Kafka batch, and by a poll of the table every notifier.notice_poll_ms
 * (Kafka is not the history, and an event's topic may not be the one
 * consumed here): a row is visible only once its event committed. */
#define NOTICE_COLS                                                            \
    "SELECT d.delivery_id::text, d.event_id::text, d.stream_id, "              \
    "d.subject_id::text, d.channel, d.kind, coalesce(d.account_id, ''), "      \
    "encode(d.sealed_secret, 'hex'), d.expires_at < now(), "                   \
    "coalesce(j.correlation_id, ''), coalesce(j.payload_type, ''), "           \
    "coalesce((extract(epoch FROM j.occurred_at) * 1000000)::int8, 0) "        \
    "FROM oss.deliveries d LEFT JOIN oss.journal j ON j.event_id = "           \
    "d.event_id WHERE d.kind <> 'activation' AND d.delivered_at IS NULL "      \
    "AND NOT EXISTS (SELECT 1 FROM oss.notifications x WHERE x.event_id = "    \
    "d.delivery_id AND x.channel = d.channel AND x.status <> 'sending') "

typedef struct notices {
    PGresult *r; /* rows of NOTICE_COLS; NULL when none */
} notices_t;

static void
notices_clear(notices_t *nt) {
    PQclear(nt->r);
    nt->r = NULL;
}

static notice_row_t
notice_row(PGresult *r, int i) {
    return (notice_row_t){.delivery_id = PQgetvalue(r, i, 0),
                          .subject_id = PQgetvalue(r, i, 3),
                          .channel = PQgetvalue(r, i, 4),
                          .kind = PQgetvalue(r, i, 5),
                          .account_id = PQgetvalue(r, i, 6),
                          .sealed_hex = PQgetvalue(r, i, 7),
                          .expired = *PQgetvalue(r, i, 8) == 't'};
}

/* The pending notices of evs[0..k) into nt (none when the look-up
 * failed: the poll finds them). */
static void
notices_find(notifier_t *n, const oss_event_t *evs, size_t k, notices_t *nt) {
    oss_err_t err = {0};
    nt->r = NULL;
    char *arr = malloc(k * 38 + 3), *p = arr;
    if (!arr || k == 0) {
        free(arr);
        return;
    }
    *p++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (!uuid_ok(evs[i].event_id))
            continue;
        if (p[-1] != '{')
            *p++ = ',';
        memcpy(p, evs[i].event_id, 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    const char *prm[1] = {arr};
    PGresult *r = pg_exec(n,
                          NOTICE_COLS "AND d.event_id = ANY($1::uuid[]) "
                                      "ORDER BY d.created_at, d.delivery_id",
                          1, prm, 0, &err);
    free(arr);
    if (!r) {
        oss_warn("could not look for targeted notices (the poll will): %s",
                 err.msg);
        return;
    }
    if (PQntuples(r) == 0)
        PQclear(r);
    else
        nt->r = r;
}

/* Delivers the notices in nt of ev; OSS_OK, or non-zero when stopping (or
 * the lock was lost). */
static oss_code_t
notices_deliver(notifier_t *n, const notices_t *nt, const oss_event_t *ev,
                const char *via) {
    for (int i = 0; nt->r && i < PQntuples(nt->r); i++) {
        if (strcasecmp(PQgetvalue(nt->r, i, 1), ev->event_id) != 0)
            continue;
        notice_row_t nr = notice_row(nt->r, i);
        oss_code_t rc = deliver(n, ev, &nr, via, 0);
        if (rc != OSS_OK)
            return rc;
    }
    return OSS_OK;
}

/* One page of the notices still to send, oldest first. */
static void
notices_poll(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r = pg_exec(n,
                          NOTICE_COLS "ORDER BY d.created_at, d.delivery_id "
                                      "LIMIT 100",
                          0, NULL, 0, &err);
    if (!r) {
        oss_warn("could not look for targeted notices (will retry): %s",
                 err.msg);
        return;
    }
    for (int i = 0; i < PQntuples(r) && !*n->stop && n->locked; i++) {
        oss_event_t ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.event_id, sizeof ev.event_id, "%s", PQgetvalue(r, i, 1));
        snprintf(ev.stream_id, sizeof ev.stream_id, "%s", PQgetvalue(r, i, 2));
        snprintf(ev.correlation_id, sizeof ev.correlation_id, "%s",
                 PQgetvalue(r, i, 9));
        snprintf(ev.payload_type, sizeof ev.payload_type, "%s",
                 PQgetvalue(r, i, 10));
        ev.occurred_at_us = strtoll(PQgetvalue(r, i, 11), NULL, 10);
        notice_row_t nr = notice_row(r, i);
        oss_log_set_cid(ev.correlation_id);
        oss_code_t rc = deliver(n, &ev, &nr, "notice-poll", 0);
        oss_log_set_cid(NULL);
        if (rc != OSS_OK)
            break;
    }
    PQclear(r);
}

/* Handles evs[0..k) (AccountRegistered, ActivationIssued) in order: triage,
 * then deliver() each that needs it. *done = how many leading events are
 * finished. Returns OSS_OK when all are, else non-zero (stopping or lock lost).
 */
static oss_code_t
process(notifier_t *n, const oss_event_t *evs, size_t k, const char *via,
        size_t *done) {
    *done = 0;
    if (k == 0)
        return OSS_OK;
    uint8_t *need = calloc(k, 1), *unqueued = calloc(k, 1);
    oss_err_t err = {0};
    notices_t nt = {0};
    if (!need || !unqueued) {
        free(need);
        free(unqueued);
        return OSS_ENOMEM;
    }
    oss_code_t rc;
    int64_t backoff = 1000,
            max_ms = oss_config_int(n->cfg, "notifier.retry_max_s") * 1000;
    while ((rc = triage(n, evs, k, need)) != OSS_OK) {
        if (*n->stop || !n->locked)
            goto out;
        nap(n, backoff);
        backoff = backoff * 2 > max_ms ? max_ms : backoff * 2;
    }
    /* DeliveryQueued of every message about to be delivered, in one
     * transaction (an already queued one replays its idempotency key) */
    int queued = 0;
    {
        job_t *jobs = calloc(k, sizeof *jobs);
        oss_outcome_t *qs = calloc(k, sizeof *qs);
        size_t nq = 0;
        if (jobs && qs) {
            for (size_t i = 0; i < k; i++) {
                if (!need[i] || job_init(&jobs[i], &evs[i], NULL) ||
                    job_resolve(n, &jobs[i], &err) || !jobs[i].out_account[0]) {
                    unqueued[i] = 1;
                    continue;
                }
                qs[nq++] = (oss_outcome_t){
                    .kind = OSS_OUTCOME_QUEUED,
                    .account_id = jobs[i].out_account,
                    .cause_event_id = evs[i].event_id,
                    .correlation_id = evs[i].correlation_id,
                    .channel = jobs[i].channel,
                    .what = jobs[i].what,
                    .trigger_type =
                        jobs[i].act ? ACTIVATION_ISSUED : ACCOUNT_REGISTERED};
            }
            queued = outcomes(n, qs, nq) == 0;
        }
        for (size_t i = 0; jobs && i < k; i++)
            job_clear(&jobs[i]);
        free(jobs);
        free(qs);
        if (!queued && *n->stop) {
            rc = OSS_EUNAVAIL;
            goto out;
        }
    }
    /* the targeted notices of these events (a failed look-up leaves them
     * to the poll) */
    notices_find(n, evs, k, &nt);
    for (size_t i = 0; i < k; i++) {
        oss_log_set_cid(evs[i].correlation_id);
        if (need[i])
            rc = deliver(n, &evs[i], NULL, via, queued && !unqueued[i]);
        if (rc == OSS_OK)
            rc = notices_deliver(n, &nt, &evs[i], via);
        oss_log_set_cid(NULL);
        if (rc != OSS_OK)
            goto out;
        *done = i + 1;
    }
    rc = OSS_OK;
out:
    notices_clear(&nt);
    free(need);
    free(unqueued);
    return rc;
}

/* Verifies and decodes one Kafka message: 1 with *ev filled (caller
 * clears), else 0 (nothing to do with it). */
static int
decode_message(notifier_t *n, const rd_kafka_message_t *msg, oss_event_t *ev) {
    char ce_id[128], sig[80];
    const char *id = header(msg, "ce_id", ce_id, sizeof ce_id);
    const char *s = header(msg, OSS_BUS_SIG_HEADER, sig, sizeof sig);
    if (!id || !s ||
        !oss_bus_verify(&n->bus, id, msg->key, msg->key_len, msg->payload,
                        msg->len, s)) {
        n->rejected++;
        oss_warn("ignored a message without a valid signature: topic=%s "
                 "partition=%d offset=%" PRId64,
                 n->topic, (int)msg->partition, (int64_t)msg->offset);
        return 0;
    }
    oss_err_t err = {0};
    memset(ev, 0, sizeof *ev);
    if (oss_envelope_decode(msg->payload, msg->len, ev, &err) != OSS_OK) {
        oss_warn("ignored an undecodable envelope: partition=%d offset=%" PRId64
                 ": %s",
                 (int)msg->partition, (int64_t)msg->offset, err.msg);
        oss_event_clear(ev);
        return 0;
    }
    /* every event: registrations and activations have their messages, any
     * event may have targeted notices (oss.deliveries) */
    return 1;
}

/* ---- Kafka --------------------------------------------------------------- */

static void
kafka_close(notifier_t *n) {
    if (!n->rk)
        return;
    rd_kafka_assign(n->rk, NULL);
    rd_kafka_consumer_close(n->rk);
    rd_kafka_destroy(n->rk);
    n->rk = NULL;
}

/* Creates the consumer and assigns every partition of the topic at the
 * stored positions (same cluster id) or at the beginning. */
static oss_code_t
kafka_open(notifier_t *n, oss_err_t *err) {
    char errstr[512];
    oss_code_t rc = OSS_OK;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = NULL;

    if (oss_bus_bootstrap(n->cfg, n->bootstrap, sizeof n->bootstrap, err))
        return OSS_EUNAVAIL;
    rd_kafka_conf_t *conf = oss_bus_conf_new(n->cfg, err);
    if (!conf)
        return err->code ? err->code : OSS_EUNAVAIL;
    static const char *props[][2] = {{"group.id", "oss-notifier"},
                                     {"enable.auto.commit", "false"},
                                     {"enable.auto.offset.store", "false"},
                                     {"auto.offset.reset", "earliest"},
                                     {"client.id", "oss-notifier"},
                                     {"fetch.wait.max.ms", "20"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return oss_err_set(err, OSS_EINVAL, "invalid Kafka property: %s",
                               errstr);
        }
    n->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!n->rk) {
        rd_kafka_conf_destroy(conf);
        return oss_err_set(err, OSS_EUNAVAIL, "could not create consumer: %s",
                           errstr);
    }
    char *cid = rd_kafka_clusterid(n->rk, 5000);
    if (!cid) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "Kafka cluster not reachable");
        goto done;
    }
    snprintf(n->cluster_id, sizeof n->cluster_id, "%s", cid);
    rd_kafka_mem_free(n->rk, cid);
    rkt = rd_kafka_topic_new(n->rk, n->topic, NULL);
    if (rd_kafka_metadata(n->rk, 0, rkt, &md, 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt < 1) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "topic \"%s\" is not available yet",
                         n->topic);
        goto done;
    }
    n->nparts = md->topics[0].partition_cnt;
    if (n->nparts > MAX_PARTS)
        n->nparts = MAX_PARTS;
    parts = rd_kafka_topic_partition_list_new(n->nparts);
    for (int p = 0; p < n->nparts; p++) {
        rd_kafka_topic_partition_list_add(parts, n->topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        n->next[p] = -1;
    }
    const char *prm[3] = {CONSUMER_NAME, n->topic, n->cluster_id};
    PGresult *r = pg_exec(n,
                          "SELECT part, next_offset FROM oss.notifier_offsets "
                          "WHERE consumer = $1 AND topic = $2 AND "
                          "cluster_id = $3",
                          3, prm, 0, err);
    if (!r) {
        rc = OSS_EUNAVAIL;
        goto done;
    }
    int stored = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int p = atoi(PQgetvalue(r, i, 0));
        if (p >= 0 && p < n->nparts) {
            parts->elems[p].offset = strtoll(PQgetvalue(r, i, 1), NULL, 10);
            stored++;
        }
    }
    PQclear(r);
    rd_kafka_resp_err_t e = rd_kafka_assign(n->rk, parts);
    if (e) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "could not assign partitions: %s",
                         rd_kafka_err2str(e));
        goto done;
    }
    oss_info("consuming topic=%s partitions=%d cluster=%s stored_positions=%d",
             n->topic, n->nparts, n->cluster_id, stored);
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rc)
        kafka_close(n);
    return rc;
}

/* ---- journal sweep -------------------------------------------------------
 * Kafka is not the history: the embedded broker drops old messages and loses
 * everything on a restart. Every notifier.sweep_interval_s the journal is
 * read in (xid, position) order below the commit horizon (the relay's order:
 * no row below the cursor can commit later), and every AccountRegistered
 * older than notifier.sweep_lag_s that has no ledger row (or one left
 * 'sending' by a crash: re-sent, same Message-ID) is delivered. The
 * cursor lives in memory: a restart sweeps the whole journal once (cheap:
 * one index walk, handled rows skipped in SQL). */
#define SWEEP_PAGE 1000

/* One page of the sweep; sets n->sweep_again when a full page was handled
 * (more may follow right away). Returns how many events needed handling. */
static size_t
sweep_page(notifier_t *n) {
    oss_err_t err = {0};
    char pos[24], lag[24];
    snprintf(lag, sizeof lag, "%lld",
             oss_config_int(n->cfg, "notifier.sweep_lag_s"));
    snprintf(pos, sizeof pos, "%" PRId64, n->sweep_pos);
    n->sweep_again = 0;
    const char *p[3] = {n->sweep_xid, pos, lag};
    PGresult *r = pg_exec(
        n,
        "SELECT j.xid::text, j.position, j.event_id::text, j.stream_id, "
        "j.correlation_id, j.payload, "
        "j.recorded_at > now() - make_interval(secs => $3::int), "
        "EXISTS (SELECT 1 FROM oss.notifications x WHERE "
        "x.event_id = j.event_id AND x.status <> 'sending'), j.payload_type, "
        "(extract(epoch FROM j.occurred_at) * 1000000)::int8 "
        "FROM oss.journal j "
        "WHERE j.payload_type IN ('oss.v1.AccountRegistered', "
        "'oss.v1.ActivationIssued') "
        "AND (j.xid, j.position) > ($1::xid8, $2::int8) "
        "AND j.xid < (SELECT pg_snapshot_xmin(pg_current_snapshot())) "
        "ORDER BY j.xid, j.position LIMIT 1000",
        3, p, 1, &err);
    if (!r) {
        oss_warn("journal sweep failed (will retry): %s", err.msg);
        return 0;
    }
    int rows = PQntuples(r), upto = rows;
    for (int i = 0; i < rows; i++)
        if (*PQgetvalue(r, i, 6)) { /* too young: Kafka's turn first */
            upto = i;
            break;
        }
    /* the events still without a final ledger row, borrowed from r */
    oss_event_t *evs = calloc((size_t)(upto ? upto : 1), sizeof *evs);
    int *row_of = calloc((size_t)(upto ? upto : 1), sizeof *row_of);
    size_t k = 0, done = 0;
    if (!evs || !row_of)
        goto out;
    for (int i = 0; i < upto; i++) {
        if (*PQgetvalue(r, i, 7))
            continue;
        oss_event_t *ev = &evs[k];
        snprintf(ev->event_id, sizeof ev->event_id, "%.*s",
                 PQgetlength(r, i, 2), PQgetvalue(r, i, 2));
        snprintf(ev->stream_id, sizeof ev->stream_id, "%.*s",
                 PQgetlength(r, i, 3), PQgetvalue(r, i, 3));
        snprintf(ev->correlation_id, sizeof ev->correlation_id, "%.*s",
                 PQgetlength(r, i, 4), PQgetvalue(r, i, 4));
        snprintf(ev->payload_type, sizeof ev->payload_type, "%.*s",
                 PQgetlength(r, i, 8), PQgetvalue(r, i, 8));
        ev->occurred_at_us = oss_be64_sget(PQgetvalue(r, i, 9));
        ev->payload = (uint8_t *)PQgetvalue(r, i, 5);
        ev->payload_len = (size_t)PQgetlength(r, i, 5);
        row_of[k++] = i;
    }
    oss_code_t rc = process(n, evs, k, "journal-sweep", &done);
    /* the cursor moves past every row up to the first unfinished event */
    int last =
        rc == OSS_OK ? upto - 1 : (done < k ? row_of[done] - 1 : upto - 1);
    if (last >= 0) {
        snprintf(n->sweep_xid, sizeof n->sweep_xid, "%.*s",
                 PQgetlength(r, last, 0), PQgetvalue(r, last, 0));
        n->sweep_pos = oss_be64_sget(PQgetvalue(r, last, 1));
    }
    if (k)
        oss_info("journal sweep: %zu event(s) Kafka had not delivered were "
                 "handled (sent, skipped or failed: see the ledger)",
                 done);
    n->sweep_again = rc == OSS_OK && upto == rows && rows == SWEEP_PAGE;
out:
    free(evs);
    free(row_of);
    PQclear(r);
    return k;
}

/* Pages through the journal while the pages hold nothing to do (after a
 * restart the whole journal is walked once: most of it is handled), for at
 * most SWEEP_BUDGET_MS, so Kafka is not held back. */
#define SWEEP_BUDGET_MS 1000

static void
sweep(notifier_t *n) {
    int64_t t0 = oss_mono_ms();
    while (sweep_page(n) == 0 && n->sweep_again && !*n->stop &&
           oss_mono_ms() - t0 < SWEEP_BUDGET_MS)
        ;
}

/* Polls up to KAFKA_BATCH messages (waiting at most 200 ms for the first),
 * handles them and records the next offsets of the finished ones. */
#define KAFKA_BATCH 500

static oss_code_t
consume_batch(notifier_t *n) {
    rd_kafka_message_t *msgs[KAFKA_BATCH];
    oss_event_t *evs = NULL;
    int *msg_of = NULL;
    size_t nm = 0, k = 0, done = 0;
    oss_code_t rc = OSS_OK;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(n->rk, 200);
    while (m) {
        msgs[nm++] = m;
        if (nm == KAFKA_BATCH)
            break;
        m = rd_kafka_consumer_poll(n->rk, 0);
    }
    if (nm == 0)
        return OSS_OK;
    evs = calloc(nm, sizeof *evs);
    msg_of = calloc(nm, sizeof *msg_of);
    if (!evs || !msg_of) {
        rc = OSS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nm; i++) {
        if (msgs[i]->err) {
            if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                oss_warn("consumer: %s", rd_kafka_message_errstr(msgs[i]));
            continue;
        }
        if (decode_message(n, msgs[i], &evs[k]))
            msg_of[k++] = (int)i;
    }
    rc = process(n, evs, k, "kafka", &done);
out:;
    /* messages before the first unfinished account event are finished */
    size_t finished = rc == OSS_OK       ? nm
                      : rc == OSS_ENOMEM ? 0
                      : done < k         ? (size_t)msg_of[done]
                                         : nm;
    for (size_t i = 0; i < finished; i++) {
        int p = msgs[i]->partition;
        if (!msgs[i]->err && p >= 0 && p < n->nparts) {
            n->next[p] = (int64_t)msgs[i]->offset + 1;
            n->dirty = 1;
        }
    }
    for (size_t i = 0; i < k; i++)
        oss_event_clear(&evs[i]);
    for (size_t i = 0; i < nm; i++)
        rd_kafka_message_destroy(msgs[i]);
    free(evs);
    free(msg_of);
    return rc;
}

/* Takes the advisory lock that makes this the one active notifier: two
 * notifiers sending the same 'sending' row at once would send it twice. */
static int
try_lock(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r =
        pg_exec(n, "SELECT pg_try_advisory_lock(" NOTIFIER_LOCK_KEY ")", 0,
                NULL, 0, &err);
    if (!r)
        return 0;
    n->locked = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return n->locked;
}

static int
bootstrap_changed(notifier_t *n) {
    char now[4096];
    oss_err_t err = {0};
    if (oss_bus_bootstrap(n->cfg, now, sizeof now, &err))
        return 0;
    return strcmp(now, n->bootstrap) != 0;
}

oss_code_t
oss_notifier_run(const oss_config_t *cfg, volatile sig_atomic_t *stop,
                 oss_err_t *err) {
    notifier_t *n = calloc(1, sizeof *n);
    oss_code_t rc = OSS_OK;
    if (!n)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    n->cfg = cfg;
    n->stop = stop;
    if ((rc = oss_keyring_load(oss_config_str(cfg, "crypto.master_key_file"),
                               &n->master, err)) ||
        (rc = oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"),
                               &n->bus, err)))
        goto done;
    oss_mail_envelope_addr(oss_config_str(cfg, "notifier.from"), n->from_addr,
                           sizeof n->from_addr);
    oss_bus_topic(cfg, "account", n->topic, sizeof n->topic);
    if (!(n->curl = curl_easy_init())) {
        rc = oss_err_set(err, OSS_ENOMEM, "could not create a curl handle");
        goto done;
    }
    int64_t last_flush = oss_mono_ms(), last_check = oss_mono_ms(),
            backoff = 500;
    int waiting_logged = 0;
    int64_t last_sweep = 0, last_notice_poll = 0;
    snprintf(n->sweep_xid, sizeof n->sweep_xid, "0");
    while (!*stop) {
        oss_err_t e = {0};
        if (!n->locked || !n->pg || PQstatus(n->pg) != CONNECTION_OK) {
            /* lost the session (and its lock) or never had it: stop
             * consuming until this instance is the active one again */
            kafka_close(n);
            if (!try_lock(n)) {
                if (!waiting_logged++)
                    oss_info("standing by: another notifier is active (or "
                             "PostgreSQL is down)");
                nap(n, 1000);
                continue;
            }
            waiting_logged = 0;
            oss_info("active: holding the notifier lock");
        }
        /* a sweep page that was full continues at the next turn, after a
         * Kafka batch, so neither path starves the other */
        if (n->sweep_again ||
            oss_mono_ms() - last_sweep >=
                oss_config_int(cfg, "notifier.sweep_interval_s") * 1000) {
            sweep(n);
            deliveries_purge(n);
            last_sweep = oss_mono_ms();
        }
        if (oss_mono_ms() - last_notice_poll >=
            oss_config_int(cfg, "notifier.notice_poll_ms")) {
            notices_poll(n);
            last_notice_poll = oss_mono_ms();
        }
        if (!n->rk) {
            if (kafka_open(n, &e)) {
                oss_warn("not consuming yet, retrying in %" PRId64 " ms: %s",
                         backoff, e.msg);
                nap(n, backoff);
                backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
                continue;
            }
            backoff = 500;
        }
        if (consume_batch(n) != OSS_OK) {
            /* stopping, or lost the lock mid-delivery: the unfinished
             * message and what follows it are re-read by the next active
             * instance from the stored offsets */
            offsets_flush(n, &e);
            kafka_close(n);
            continue;
        }
        int64_t t = oss_mono_ms();
        if (n->dirty && t - last_flush >= OFFSET_FLUSH_MS) {
            if (offsets_flush(n, &e))
                oss_warn("could not store positions (will retry): %s", e.msg);
            last_flush = t;
        }
        if (t - last_check >= BOOTSTRAP_CHECK_MS) {
            last_check = t;
            if (bootstrap_changed(n)) {
                oss_info("bootstrap list changed: rebuilding the consumer");
                offsets_flush(n, &e);
                kafka_close(n);
            }
        }
    }
    {
        oss_err_t e = {0};
        if (offsets_flush(n, &e))
            oss_warn("could not store positions at exit: %s", e.msg);
    }
    oss_info("stopping: sent=%" PRId64 " skipped=%" PRId64 " rejected=%" PRId64,
             n->sent, n->skipped, n->rejected);
done:
    kafka_close(n);
    if (n->curl)
        curl_easy_cleanup(n->curl);
    PQfinish(n->pg);
    oss_journal_free(n->journal);
    OPENSSL_cleanse(&n->master, sizeof n->master);
    OPENSSL_cleanse(&n->bus, sizeof n->bus);
    free(n);
    return rc;
}
