/* Help requests, the use cases (declared in recovery.h): a person who can no
 * longer reach the e-mail registered with a NIK files a request with evidence;
 * an operator decides it, and an approval replaces the contact (ContactReplaced
 * on the principal's contact stream, the e-mail look-up moved). The rules
 * are pure in src/core/recovery.c. The new e-mail lives in memory only,
 * wiped after use, and is sealed in the event. */
#include "app/recovery.h"
#include "app/recovery_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "app/cmd.h"
#include "app/codec.h"
#include "app/lifecycle.h"
#include "app/principal.h"
#include "app/recovery.h"
#include "core/account.h"
#include "core/bytes.h"
#include "crypto/password.h"
#include "db/db.h"
#include "journal/reads.h"
#include "log/log.h"
#include "oss/v1/recovery.pb-c.h"

#define ANONYMOUS "anonymous"

/* ---- help requests ------------------------------------------------------- */

typedef struct help {
    oss_app_t *app;
    const oss_app_recovery_cfg_t *cfg; /* filing */
    char request_id[OSS_UUID_STR];
    char account_id[OSS_ID_MAX];
    char principal_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX + 8];
    char evidence_ref[256];
    char decision[12];
    char reason[512];
    oss_app_contact_t contact;
    char new_email[256]; /* plaintext, wiped */
    char new_email_digest[65];
    Oss__V1__SealedField sealed; /* new_email sealed (data owned) */
    uint8_t nonce[12];
    uint8_t *ct;
    size_t ctlen;
    oss_rc_decision_kind_t outcome;
} help_t;

static void
help_free(help_t *h) {
    if (!h)
        return;
    oss_app_contact_clear(&h->contact);
    free(h->ct);
    OPENSSL_cleanse(h, sizeof *h);
    free(h);
}

static help_t *
help_new(oss_app_t *app) {
    help_t *h = calloc(1, sizeof *h);
    if (h) {
        h->app = app;
        oss__v1__sealed_field__init(&h->sealed);
    }
    return h;
}

static void
help_fold(const oss_event_t *history, size_t n, oss_rc_help_state_t *st) {
    oss_rc_fact_t f;
    oss_rc_help_init(st);
    for (size_t i = 0; i < n; i++) {
        oss_app_rc_decode(&history[i], &f);
        oss_rc_help_evolve(st, &f);
    }
}

static void
help_seal_ref(help_t *h) {
    h->sealed.subject_id = h->contact.subject_id;
    h->sealed.nonce.data = h->nonce;
    h->sealed.nonce.len = 12;
    h->sealed.ciphertext.data = h->ct;
    h->sealed.ciphertext.len = h->ctlen;
}

static oss_code_t
help_file_decide(void *vctx, const oss_event_t *history, size_t n,
                 oss_event_list_t *out, oss_err_t *err) {
    help_t *h = vctx;
    oss_rc_help_state_t st;
    oss_rc_fact_t f;
    int64_t now = oss_app_lc_now(h->app);

    help_fold(history, n, &st);
    oss_code_t rc = oss_rc_decide_help_file(
        &st, &h->cfg->policy, now, h->request_id, h->evidence_ref, &f, err);
    if (rc != OSS_OK)
        return rc;
    Oss__V1__HelpRequestFiled m = OSS__V1__HELP_REQUEST_FILED__INIT;
    m.request_id = h->request_id;
    m.account_id = h->account_id;
    m.principal_id = h->principal_id;
    m.subject_id = h->contact.subject_id;
    m.evidence_ref = h->evidence_ref;
    m.new_email = &h->sealed;
    m.kind = "replace_email";
    return oss_app_event_push(out, OSS_RC_T_HELP_FILED, &m.base, now,
                              "unreachable_email", err);
}

static oss_code_t
help_file_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
                void *qctx, oss_err_t *err) {
    help_t *h = vctx;
    (void)cmd;
    const char *v[] = {h->request_id, h->account_id, h->principal_id};
    return oss_app_queue(
        q, qctx,
        "INSERT INTO oss.help_requests (request_id, account_id, "
        "principal_id) VALUES ($1::uuid, $2, $3)",
        3, v, err);
}

oss_code_t
oss_app_help_file(oss_app_t *app, oss_journal_t *j, oss_app_help_file_t *in,
                  oss_err_t *err) {
    help_t *h = help_new(app);
    oss_command_t c;
    oss_code_t rc = OSS_OK;

    memset(&c, 0, sizeof c);
    in->request_id[0] = '\0';
    in->outcome = OSS_JOURNAL_REJECTED;
    in->fail = NULL;
    oss_err_clear(&in->err);
    if (!h) {
        in->fail = "out of memory";
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    h->cfg = in->cfg;
    oss_str_copy(h->account_id, sizeof h->account_id, in->account_id);
    oss_str_copy(h->evidence_ref, sizeof h->evidence_ref, in->evidence_ref);
    oss_str_copy(h->new_email, sizeof h->new_email, in->new_email);
    /* the NIK must be the one the account was registered with; the same
     * answer whether the account or the NIK is wrong */
    PGresult *r =
        oss_app_rc_nik_streams(app, j, in->nik, in->account_id, &in->fail, err);
    if (!r) {
        rc = err->code;
        goto done;
    }
    int nr = PQntuples(r);
    PQclear(r);
    if (nr < 1) {
        oss_app_rc_reject(&in->err, &in->outcome, OSS_ENOTFOUND,
                          OSS_APP_REASON_NO_MATCH,
                          "no account with this account_id and NIK");
        goto done;
    }
    /* the person whose e-mail is replaced: the account's first owner, the
     * holder of the registered NIK */
    oss_str_copy(h->principal_id, sizeof h->principal_id, in->account_id);
    snprintf(h->stream_id, sizeof h->stream_id, "account-%.120s",
             in->account_id);
    oss_err_t cerr;
    oss_err_clear(&cerr);
    oss_code_t crc =
        oss_app_contact_current(app, j, h->principal_id, &h->contact, &cerr);
    if (crc == OSS_EUNAVAIL) {
        *err = cerr;
        in->fail = OSS_APP_RC_UNAVAILABLE;
        rc = OSS_EUNAVAIL;
        goto done;
    }
    if (crc != OSS_OK) {
        oss_app_rc_reject(
            &in->err, &in->outcome, OSS_ECONFLICT, OSS_APP_REASON_ERASED,
            "the account's personal data was erased; its contact cannot "
            "be replaced");
        goto done;
    }
    if ((rc = oss_seal(&h->contact.dk, "email", h->new_email,
                       strlen(h->new_email), h->nonce, &h->ct, &h->ctlen,
                       err)) != OSS_OK) {
        oss_error("could not seal a new e-mail: %s", err->msg);
        in->fail = "could not seal";
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    help_seal_ref(h);
    oss_uuid7(h->request_id);
    oss_str_copy(in->request_id, sizeof in->request_id, h->request_id);
    oss_app_cmd_init(&c, h->stream_id, OSS_ACTOR_BUSINESS_USER, ANONYMOUS,
                     in->correlation_id);
    c.decide = help_file_decide;
    c.extra_fn = help_file_extra;
    c.ctx = h;
    if ((rc = oss_app_rc_execute(j, &c, &in->fail, err)) != OSS_OK)
        goto done;
    in->outcome = c.outcome;
    in->err = c.err;
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    help_free(h);
    return rc;
}

oss_code_t
oss_app_help_request_find(oss_journal_t *j, const char *request_id,
                          char *account_id, char *principal_id,
                          const char **fail, oss_err_t *err) {
    const char *pv[] = {request_id};
    *fail = NULL;
    PGresult *r =
        oss_app_rc_query(j,
                         "SELECT account_id, principal_id FROM "
                         "oss.help_requests WHERE request_id = $1::uuid",
                         1, pv, fail, err);
    if (!r)
        return err->code;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_set(err, OSS_ENOTFOUND, "no such help request");
    }
    oss_str_copy(account_id, OSS_ID_MAX, PQgetvalue(r, 0, 0));
    oss_str_copy(principal_id, OSS_ID_MAX, PQgetvalue(r, 0, 1));
    PQclear(r);
    return OSS_OK;
}

static oss_code_t
help_decide_decide(void *vctx, const oss_event_t *history, size_t n,
                   oss_event_list_t *out, oss_err_t *err) {
    help_t *h = vctx;
    oss_rc_help_state_t st;
    oss_rc_fact_t f[2];
    size_t nf;
    int64_t now = oss_app_lc_now(h->app);
    oss_code_t rc;

    help_fold(history, n, &st);
    if ((rc = oss_rc_decide_help(&st, now, h->request_id, h->decision,
                                 h->reason, f, &nf, err)) != OSS_OK)
        return rc;
    h->outcome = f[0].decision;
    Oss__V1__HelpRequestDecided m = OSS__V1__HELP_REQUEST_DECIDED__INIT;
    m.request_id = h->request_id;
    m.decision = h->decision;
    if ((rc = oss_app_event_push(out, OSS_RC_T_HELP_DECIDED, &m.base, now,
                                 h->reason, err)) != OSS_OK)
        return rc;
    if (nf < 2)
        return OSS_OK;
    Oss__V1__ContactReplaced cr = OSS__V1__CONTACT_REPLACED__INIT;
    cr.principal_id = h->principal_id;
    cr.subject_id = h->contact.subject_id;
    cr.email = &h->sealed;
    cr.request_id = h->request_id;
    return oss_app_event_push(out, OSS_RC_T_CONTACT_REPLACED, &cr.base, now,
                              h->reason, err);
}

static oss_code_t
help_decide_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
                  void *qctx, oss_err_t *err) {
    help_t *h = vctx;
    bool approved = h->outcome == OSS_RC_APPROVED;
    const char *v[] = {h->request_id, approved ? "approved" : "rejected"};
    oss_code_t rc =
        oss_app_queue(q, qctx,
                      "UPDATE oss.help_requests SET status = $2, "
                      "decided_at = now() WHERE request_id = $1::uuid",
                      2, v, err);
    if (rc == OSS_OK && approved) {
        /* sign-in by e-mail now finds the account by the new address */
        const char *lv[] = {h->stream_id, h->new_email_digest};
        rc = oss_app_queue(
            q, qctx,
            "DELETE FROM oss.account_lookup WHERE kind = 'email' AND "
            "stream_id = $1",
            1, lv, err);
        if (rc == OSS_OK)
            rc = oss_app_queue(
                q, qctx,
                "INSERT INTO oss.account_lookup (kind, digest, "
                "stream_id) VALUES ('email', decode($2, 'hex'), $1) "
                "ON CONFLICT DO NOTHING",
                2, lv, err);
        if (rc == OSS_OK)
            oss_str_copy(h->contact.email, sizeof h->contact.email,
                         h->new_email);
    }
    if (rc != OSS_OK)
        return rc;
    /* the person is told on every channel it has */
    char vars[600];
    const char *kv[] = {"name", h->contact.name, "decision",
                        approved ? "approved" : "rejected"};
    char *s = oss_app_notice_vars(kv, 2);
    if (!s)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(vars, sizeof vars, "%s", s);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    if (h->contact.email[0])
        rc = oss_app_notice_queue(&h->contact, "help_decided", "email",
                                  h->account_id, cmd, 0, vars, 0, q, qctx, err);
    if (rc == OSS_OK && h->contact.phone[0])
        rc = oss_app_notice_queue(&h->contact, "help_decided", "whatsapp",
                                  h->account_id, cmd, 0, vars, 0, q, qctx, err);
    OPENSSL_cleanse(vars, sizeof vars);
    return rc;
}

/* Copies the sealed new e-mail of request h->request_id out of the
 * account stream's HelpRequestFiled into h; *found says whether it was
 * there. */
static oss_code_t
load_filed(oss_journal_t *j, help_t *h, bool *found, const char **fail,
           oss_err_t *err) {
    oss_event_list_t hist = {0};

    *found = false;
    if (oss_journal_load(j, h->stream_id, &hist, err) != OSS_OK) {
        *fail = "could not read the account";
        if (err->code == OSS_OK)
            err->code = OSS_EINTERNAL;
        return err->code;
    }
    for (size_t i = 0; i < hist.len && !*found; i++) {
        if (strcmp(hist.items[i].payload_type, OSS_RC_T_HELP_FILED))
            continue;
        Oss__V1__HelpRequestFiled *m = oss__v1__help_request_filed__unpack(
            NULL, hist.items[i].payload_len, hist.items[i].payload);
        if (!m)
            continue;
        if (!strcmp(m->request_id, h->request_id) && m->new_email &&
            m->new_email->nonce.len == 12 &&
            (h->ct = malloc(m->new_email->ciphertext.len + 1))) {
            memcpy(h->nonce, m->new_email->nonce.data, 12);
            memcpy(h->ct, m->new_email->ciphertext.data,
                   m->new_email->ciphertext.len);
            h->ctlen = m->new_email->ciphertext.len;
            oss_str_copy(h->evidence_ref, sizeof h->evidence_ref,
                         m->evidence_ref);
            *found = true;
        }
        oss__v1__help_request_filed__free_unpacked(m, NULL);
    }
    oss_event_list_free(&hist);
    return OSS_OK;
}

oss_code_t
oss_app_help_decide(oss_app_t *app, oss_journal_t *j, oss_app_help_decide_t *d,
                    oss_err_t *err) {
    help_t *h = help_new(app);
    oss_command_t c;
    oss_code_t rc = OSS_OK;
    bool found;

    memset(&c, 0, sizeof c);
    d->approved = false;
    d->outcome = OSS_JOURNAL_REJECTED;
    d->fail = NULL;
    oss_err_clear(&d->err);
    if (!h) {
        d->fail = "out of memory";
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    oss_str_copy(h->decision, sizeof h->decision, d->decision);
    oss_str_copy(h->reason, sizeof h->reason, d->reason);
    oss_str_copy(h->request_id, sizeof h->request_id, d->request_id);
    oss_str_copy(h->account_id, sizeof h->account_id, d->account_id);
    oss_str_copy(h->principal_id, sizeof h->principal_id, d->principal_id);
    snprintf(h->stream_id, sizeof h->stream_id, "account-%.120s",
             h->account_id);
    if ((rc = load_filed(j, h, &found, &d->fail, err)) != OSS_OK)
        goto done;
    if (!found) {
        oss_app_rc_reject(&d->err, &d->outcome, OSS_ENOTFOUND,
                          OSS_APP_REASON_NO_REQUEST, "no such help request");
        goto done;
    }
    oss_err_t cerr;
    oss_err_clear(&cerr);
    oss_code_t crc =
        oss_app_contact_current(app, j, h->principal_id, &h->contact, &cerr);
    if (crc == OSS_EUNAVAIL) {
        *err = cerr;
        d->fail = OSS_APP_RC_UNAVAILABLE;
        rc = OSS_EUNAVAIL;
        goto done;
    }
    if (crc != OSS_OK) {
        oss_app_rc_reject(&d->err, &d->outcome, OSS_ECONFLICT,
                          OSS_APP_REASON_ERASED,
                          "the person's personal data was erased");
        goto done;
    }
    if ((rc = oss_app_open_field(&h->contact.dk, "email", h->nonce, 12, h->ct,
                                 h->ctlen, h->new_email, sizeof h->new_email,
                                 err)) != OSS_OK) {
        oss_error("help request %s: the new e-mail does not open: %s",
                  h->request_id, err->msg);
        d->fail = "could not open the request";
        rc = err->code = OSS_EINTERNAL;
        goto done;
    }
    uint8_t dg[32];
    oss_index_digest(&app->index, "email", h->new_email, dg);
    oss_hex_encode(dg, sizeof dg, h->new_email_digest);
    help_seal_ref(h);
    oss_app_cmd_init(&c, h->stream_id, OSS_ACTOR_OPERATOR, d->actor_id,
                     d->correlation_id);
    c.decide = help_decide_decide;
    c.extra_fn = help_decide_extra;
    c.ctx = h;
    if ((rc = oss_app_rc_execute(j, &c, &d->fail, err)) != OSS_OK)
        goto done;
    d->outcome = c.outcome;
    d->err = c.err;
    d->approved = h->outcome == OSS_RC_APPROVED;
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    help_free(h);
    return rc;
}
