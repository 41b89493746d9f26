/* Targeted notices (notice.h): a principal's contact opened from its sealed
 * personal data, and the sealed oss.deliveries rows that
 * consumers/notifier sends with the template of their kind. */
#include "app/notice.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/app.h"
#include "app/cmd.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "crypto/subject.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/principal.pb-c.h"
#include "oss/v1/recovery.pb-c.h"

#define T_ACCOUNT_REGISTERED "oss.v1.AccountRegistered"
#define T_PRINCIPAL_CREATED "oss.v1.PrincipalCreated"
/* a notice without its own expiry is dropped after three days */
#define NOTICE_DEFAULT_TTL_US (3LL * 24 * 3600 * 1000000)

/* The sealed contact fields of the first event of a contact stream. */
typedef struct sealed_contact {
    char subject_id[OSS_UUID_STR];
    const Oss__V1__SealedField *name, *email, *phone;
    Oss__V1__AccountRegistered *reg;
    Oss__V1__PrincipalCreated *pc;
} sealed_contact_t;

static void
sealed_contact_free(sealed_contact_t *s) {
    if (s->reg)
        oss__v1__account_registered__free_unpacked(s->reg, NULL);
    if (s->pc)
        oss__v1__principal_created__free_unpacked(s->pc, NULL);
    memset(s, 0, sizeof *s);
}

/* Decodes one contact event; 0, or -1 when it is not one (or undecodable). */
static int
sealed_contact_decode(const char *type, const uint8_t *p, size_t n,
                      sealed_contact_t *s) {
    if (!strcmp(type, T_ACCOUNT_REGISTERED)) {
        s->reg = oss__v1__account_registered__unpack(NULL, n, p);
        if (!s->reg)
            return -1;
        snprintf(s->subject_id, sizeof s->subject_id, "%s", s->reg->subject_id);
        s->name = s->reg->name;
        s->email = s->reg->email;
        s->phone = s->reg->phone;
        return 0;
    }
    if (!strcmp(type, T_PRINCIPAL_CREATED)) {
        s->pc = oss__v1__principal_created__unpack(NULL, n, p);
        if (!s->pc)
            return -1;
        snprintf(s->subject_id, sizeof s->subject_id, "%s", s->pc->subject_id);
        s->name = s->pc->name;
        s->email = s->pc->email;
        s->phone = s->pc->phone;
        return 0;
    }
    return -1;
}

/* Opens sf into out (cap bytes, NUL-terminated); "" when absent. -1 when
 * present but not openable. */
static int
open_field(const oss_data_key_t *dk, const char *field,
           const Oss__V1__SealedField *sf, char *out, size_t cap) {
    out[0] = '\0';
    if (!sf || sf->ciphertext.len == 0)
        return 0;
    return oss_app_open_field(dk, field, sf->nonce.data, sf->nonce.len,
                              sf->ciphertext.data, sf->ciphertext.len, out, cap,
                              NULL) == OSS_OK
               ? 0
               : -1;
}

static oss_code_t
db_fail(PGconn *c, PGresult *r, const char *what, oss_err_t *err) {
    oss_db_error(c, r, what, err);
    PQclear(r);
    /* a notice is never worth a 500: the caller answers 503 and retries */
    err->code = OSS_EUNAVAIL;
    return OSS_EUNAVAIL;
}

/* Opens sf (field "email"/"phone", or "new_email"/"new_phone") into out. */
static int
open_replaced(const oss_data_key_t *dk, const char *field,
              const Oss__V1__SealedField *sf, char *out, size_t cap) {
    char alt[32];
    if (!open_field(dk, field, sf, out, cap))
        return 0;
    snprintf(alt, sizeof alt, "new_%s", field);
    return open_field(dk, alt, sf, out, cap);
}

/* Applies the newest ContactReplaced of the principal (its contact stream,
 * access stream and the account streams it holds a grant on) to c. */
static oss_code_t
contact_replaced(PGconn *conn, const char *principal_id, const char *stream,
                 oss_app_contact_t *c, oss_err_t *err) {
    PGresult *r = oss_journal_read_contact_changes(conn, stream, principal_id);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(conn, r, "read a contact change", err);
    int got_email = 0, got_phone = 0;
    for (int i = 0; i < PQntuples(r) && !(got_email && got_phone); i++) {
        Oss__V1__ContactReplaced *cr = oss__v1__contact_replaced__unpack(
            NULL, (size_t)PQgetlength(r, i, 0),
            (const uint8_t *)PQgetvalue(r, i, 0));
        if (!cr)
            continue;
        if ((!cr->principal_id[0] || !strcmp(cr->principal_id, principal_id)) &&
            (!cr->subject_id[0] || !strcmp(cr->subject_id, c->subject_id))) {
            char tmp[255];
            if (!got_email && cr->email && cr->email->ciphertext.len &&
                !open_replaced(&c->dk, "email", cr->email, tmp, sizeof tmp)) {
                snprintf(c->email, sizeof c->email, "%s", tmp);
                got_email = 1;
            }
            if (!got_phone && cr->phone && cr->phone->ciphertext.len &&
                !open_replaced(&c->dk, "phone", cr->phone, tmp,
                               sizeof c->phone)) {
                memcpy(c->phone, tmp, sizeof c->phone); /* NUL within */
                got_phone = 1;
            }
            OPENSSL_cleanse(tmp, sizeof tmp);
        }
        oss__v1__contact_replaced__free_unpacked(cr, NULL);
    }
    PQclear(r);
    return OSS_OK;
}

oss_code_t
oss_app_contact_load(struct pg_conn *conn, const oss_keyring_t *master,
                     const char *principal_id, oss_app_contact_t *c,
                     oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    PGresult *r = NULL;
    sealed_contact_t sc;
    char stream[OSS_ID_MAX + 16], kid[17] = "", subject[OSS_UUID_STR] = "";
    uint8_t wrapped[128];
    size_t wlen = 0;
    int have_key = 0;

    memset(c, 0, sizeof *c);
    memset(&sc, 0, sizeof sc);
    if (!principal_id || !*principal_id || strlen(principal_id) >= OSS_ID_MAX)
        return oss_err_field(err, OSS_ENOTFOUND, "", "no such principal");

    /* 1. the principal: its subject, contact stream and data key */
    const char *p1[1] = {principal_id};
    r = PQexecParams(conn,
                     "SELECT p.subject_id::text, p.contact_stream, "
                     "k.master_key_id, k.wrapped_key "
                     "FROM oss.principals p LEFT JOIN oss.subject_keys k "
                     "ON k.subject_id = p.subject_id "
                     "WHERE p.principal_id = $1",
                     1, NULL, p1, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(conn, r, "read a principal", err);
    if (PQntuples(r) == 1) {
        snprintf(subject, sizeof subject, "%.*s", PQgetlength(r, 0, 0),
                 PQgetvalue(r, 0, 0));
        snprintf(stream, sizeof stream, "%.*s", PQgetlength(r, 0, 1),
                 PQgetvalue(r, 0, 1));
        if (!PQgetisnull(r, 0, 3) &&
            (size_t)PQgetlength(r, 0, 3) <= sizeof wrapped) {
            have_key = 1;
            snprintf(kid, sizeof kid, "%.*s",
                     PQgetlength(r, 0, 2) < 16 ? PQgetlength(r, 0, 2) : 16,
                     PQgetvalue(r, 0, 2));
            wlen = (size_t)PQgetlength(r, 0, 3);
            memcpy(wrapped, PQgetvalue(r, 0, 3), wlen);
        }
    } else {
        /* an account registered before principals existed: its owner is
         * the account itself */
        snprintf(stream, sizeof stream, "account-%s", principal_id);
    }
    PQclear(r);

    /* 2. the event sealing the contact: the stream's first
     * AccountRegistered or PrincipalCreated */
    r = oss_journal_read_contact_origin(conn, stream);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(conn, r, "read a contact stream", err);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_field(err, OSS_ENOTFOUND, "", "no such principal");
    }
    char type[64];
    snprintf(type, sizeof type, "%.*s", PQgetlength(r, 0, 0),
             PQgetvalue(r, 0, 0));
    int bad = sealed_contact_decode(type, (const uint8_t *)PQgetvalue(r, 0, 1),
                                    (size_t)PQgetlength(r, 0, 1), &sc);
    PQclear(r);
    r = NULL;
    if (bad) {
        rc = oss_err_set(err, OSS_ECORRUPT, "undecodable contact event on %s",
                         stream);
        goto done;
    }
    if (subject[0] && strcmp(subject, sc.subject_id) != 0) {
        rc = oss_err_set(err, OSS_ECORRUPT,
                         "principal %s: subject differs from its contact "
                         "event's",
                         principal_id);
        goto done;
    }
    if (!subject[0]) {
        snprintf(subject, sizeof subject, "%s", sc.subject_id);
        const char *p3[1] = {subject};
        r = PQexecParams(conn,
                         "SELECT master_key_id, wrapped_key FROM "
                         "oss.subject_keys WHERE subject_id = $1::uuid",
                         1, NULL, p3, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            sealed_contact_free(&sc);
            return db_fail(conn, r, "read a subject key", err);
        }
        if (PQntuples(r) == 1 &&
            (size_t)PQgetlength(r, 0, 1) <= sizeof wrapped) {
            have_key = 1;
            snprintf(kid, sizeof kid, "%.*s",
                     PQgetlength(r, 0, 0) < 16 ? PQgetlength(r, 0, 0) : 16,
                     PQgetvalue(r, 0, 0));
            wlen = (size_t)PQgetlength(r, 0, 1);
            memcpy(wrapped, PQgetvalue(r, 0, 1), wlen);
        }
        PQclear(r);
        r = NULL;
    }
    /* 3. no data key: the subject was erased, nothing can reach it */
    if (!have_key) {
        rc = oss_err_coded(err, OSS_ENOTFOUND, OSS_SUBJECT_REASON_ERASED,
                           "the subject's personal data was erased");
        goto done;
    }
    snprintf(c->subject_id, sizeof c->subject_id, "%s", subject);
    rc = oss_data_key_unwrap(master, kid, subject, wrapped, wlen, &c->dk, err);
    if (rc) {
        rc = oss_err_set(err, OSS_ECORRUPT,
                         "could not unwrap the data key of principal %s",
                         principal_id);
        goto done;
    }
    if (open_field(&c->dk, "name", sc.name, c->name, sizeof c->name) ||
        open_field(&c->dk, "email", sc.email, c->email, sizeof c->email) ||
        open_field(&c->dk, "phone", sc.phone, c->phone, sizeof c->phone)) {
        rc = oss_err_set(err, OSS_ECORRUPT,
                         "the contact of principal %s does not open",
                         principal_id);
        goto done;
    }
    /* 4. a newer e-mail or phone (help request decided: ContactReplaced on
     * the account stream), the newest event per field */
    rc = contact_replaced(conn, principal_id, stream, c, err);
done:
    OPENSSL_cleanse(wrapped, sizeof wrapped);
    sealed_contact_free(&sc);
    if (rc)
        oss_app_contact_clear(c);
    return rc;
}

void
oss_app_contact_clear(oss_app_contact_t *c) {
    if (c)
        OPENSSL_cleanse(c, sizeof *c);
}

/* 1 when kind is a template name: [a-z][a-z0-9_]{0,47}. */
static int
kind_ok(const char *k) {
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > 48 || k[0] < 'a' || k[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
              k[i] == '_'))
            return 0;
    return 1;
}

/* Wipes the strings held by a jansson value before it is freed (the
 * variables may hold a secret such as a reset link). */
static void
json_wipe_tree(json_t *v) {
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_string(v)) {
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) json_wipe_tree(x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) json_wipe_tree(x);
    }
}

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

oss_code_t
oss_app_notice_queue(const oss_app_contact_t *c, const char *kind,
                     const char *channel, const char *account_id,
                     const oss_command_t *cmd, size_t idx,
                     const char *vars_json, int64_t expires_at_us,
                     oss_journal_queue_fn q, void *qctx, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    json_t *vars = NULL, *msg = NULL;
    char *plain = NULL, *sealed_hex = NULL;
    uint8_t nonce[12], *ct = NULL;
    size_t ctlen = 0;

    if (!c || !cmd || idx >= cmd->events.len || !q)
        return oss_err_set(err, OSS_EINTERNAL, "notice: no such event");
    if (!kind_ok(kind))
        return oss_err_set(err, OSS_EINTERNAL, "notice: bad template kind");
    int wa = channel && !strcmp(channel, "whatsapp");
    if (!channel || (!wa && strcmp(channel, "email") != 0))
        return oss_err_field(err, OSS_EINVAL, "channel",
                             "must be \"email\" or \"whatsapp\"");
    const char *to = wa ? c->phone : c->email;
    if (!to[0])
        return oss_err_field(err, OSS_EINVAL, wa ? "phone" : "email",
                             "the recipient has no %s",
                             wa ? "phone number" : "e-mail address");
    if (!c->subject_id[0] || strcmp(c->subject_id, c->dk.subject_id) != 0)
        return oss_err_set(err, OSS_EINTERNAL, "notice: contact not loaded");
    const oss_event_t *ev = &cmd->events.items[idx];

    vars = vars_json && *vars_json ? json_loads(vars_json, 0, NULL)
                                   : json_object();
    if (!vars || !json_is_object(vars)) {
        rc = oss_err_set(err, OSS_EINTERNAL,
                         "notice: the variables are not a JSON object");
        goto done;
    }
    msg = json_pack("{s:s, s:s, s:O}", "to", to, "channel", channel, "vars",
                    vars);
    if (!msg || !(plain = json_dumps(msg, JSON_COMPACT))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    char delivery_id[OSS_UUID_STR], field[64];
    oss_uuid4(delivery_id);
    snprintf(field, sizeof field, "delivery|%s", delivery_id);
    if ((rc = oss_seal(&c->dk, field, plain, strlen(plain), nonce, &ct, &ctlen,
                       err)) != OSS_OK)
        goto done;
    if (!(sealed_hex = malloc(2 * (12 + ctlen) + 1))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    oss_hex_encode(nonce, 12, sealed_hex);
    oss_hex_encode(ct, ctlen, sealed_hex + 24);
    char exp[24];
    snprintf(exp, sizeof exp, "%lld",
             (long long)(expires_at_us > 0
                             ? expires_at_us
                             : oss_now_us() + NOTICE_DEFAULT_TTL_US));
    const char *v[9] = {delivery_id,
                        ev->event_id,
                        ev->stream_id,
                        c->subject_id,
                        channel,
                        kind,
                        sealed_hex,
                        exp,
                        account_id && *account_id ? account_id : NULL};
    if (q(qctx,
          "INSERT INTO oss.deliveries (delivery_id, event_id, stream_id, "
          "subject_id, channel, kind, sealed_secret, expires_at, account_id) "
          "VALUES ($1::uuid, $2::uuid, $3, $4::uuid, $5, $6, decode($7, "
          "'hex'), " TS_US("$8") ", $9)",
          9, v, NULL, NULL))
        rc = oss_err_set(err, OSS_EUNAVAIL, "could not queue the notice");
done:
    if (plain) {
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }
    if (ct) {
        OPENSSL_cleanse(ct, ctlen);
        free(ct);
    }
    free(sealed_hex);
    if (msg) {
        json_wipe_tree(msg);
        json_decref(msg);
    }
    if (vars) {
        json_wipe_tree(vars);
        json_decref(vars);
    }
    return rc;
}

/* ---- contacts ------------------------------------------------------------ */

oss_code_t
oss_app_contact_refresh(oss_journal_t *j, const char *principal_id,
                        oss_app_contact_t *c, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    PGconn *conn = oss_journal_conn(j);
    PGresult *r = oss_journal_read_contact_replaced(conn, principal_id);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        oss_db_error(conn, r, "read contact replacements", err);
        PQclear(r);
        err->code = OSS_EUNAVAIL;
        return OSS_EUNAVAIL;
    }
    bool have_email = false, have_phone = false;
    for (int i = 0; i < PQntuples(r) && rc == OSS_OK; i++) {
        Oss__V1__ContactReplaced *m = oss__v1__contact_replaced__unpack(
            NULL, (size_t)PQgetlength(r, i, 0),
            (const uint8_t *)PQgetvalue(r, i, 0));
        if (!m)
            continue;
        if (!strcmp(m->principal_id, principal_id)) {
            if (!have_email && m->email && m->email->ciphertext.len) {
                rc = oss_app_open_field(
                    &c->dk, "email", m->email->nonce.data, m->email->nonce.len,
                    m->email->ciphertext.data, m->email->ciphertext.len,
                    c->email, sizeof c->email, err);
                have_email = true;
            }
            if (rc == OSS_OK && !have_phone && m->phone &&
                m->phone->ciphertext.len) {
                rc = oss_app_open_field(
                    &c->dk, "phone", m->phone->nonce.data, m->phone->nonce.len,
                    m->phone->ciphertext.data, m->phone->ciphertext.len,
                    c->phone, sizeof c->phone, err);
                have_phone = true;
            }
        }
        oss__v1__contact_replaced__free_unpacked(m, NULL);
    }
    PQclear(r);
    if (rc != OSS_OK)
        return oss_err_set(err, OSS_ECORRUPT,
                           "the replaced contact of principal %s does not "
                           "open",
                           principal_id);
    return OSS_OK;
}

oss_code_t
oss_app_contact_current(oss_app_t *app, oss_journal_t *j,
                        const char *principal_id, oss_app_contact_t *c,
                        oss_err_t *err) {
    memset(c, 0, sizeof *c);
    oss_code_t rc = oss_app_contact_load(oss_journal_conn(j), &app->master,
                                         principal_id, c, err);
    if (rc == OSS_OK)
        rc = oss_app_contact_refresh(j, principal_id, c, err);
    if (rc != OSS_OK)
        oss_app_contact_clear(c);
    return rc;
}

/* ---- template variables -------------------------------------------------- */

/* s as a JSON string (quoted, escaped as jansson does) appended at b[*o]
 * (cap bytes); false when it does not fit. */
static bool
json_str(char *b, size_t cap, size_t *o, const char *s) {
    static const char hex[] = "0123456789abcdef";
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
#define PUT(ch)                                                                \
    do {                                                                       \
        if (*o + 1 >= cap)                                                     \
            return false;                                                      \
        b[(*o)++] = (ch);                                                      \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        const char *e = strchr(from, ch); /* ch is never NUL here */
        if (e) {
            PUT('\\');
            PUT(to[e - from]);
        } else if (ch < 0x20) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[ch >> 4]);
            PUT(hex[ch & 15]);
        } else {
            PUT((char)ch);
        }
    }
    PUT('"');
    b[*o] = '\0';
    return true;
#undef PUT
}

char *
oss_app_notice_vars(const char *const *kv, size_t n) {
    size_t cap = 3;
    for (size_t i = 0; i < 2 * n; i++)
        cap += 6 * strlen(kv[i]) + 4;
    char *b = malloc(cap);
    size_t o = 0;
    if (!b)
        return NULL;
    b[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            b[o++] = ',';
        json_str(b, cap, &o, kv[2 * i]);
        b[o++] = ':';
        json_str(b, cap, &o, kv[2 * i + 1]);
    }
    b[o++] = '}';
    b[o] = '\0';
    return b;
}
