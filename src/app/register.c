/* The registration of a business account (register.h): terms, sealing,
 * claim, decision, side rows and the activation issued with it, in steps a
 * batch of the worker pool runs together (group commit).
 *
 * Order (one registration):
 *   1. the terms of use version must be published (terms.c, cached: no
 *      round trip per registration);
 *   2. seal: new subject id (UUIDv4), data key wrapped by the master key,
 *      every personal field sealed with AAD subject_id|field;
 *   3. (helper X, perf) the subject key is no transaction of its own:
 *      lookup_rows() writes it with its command's events;
 *   4. the command, with its business identity claim (kind "business": one
 *      account per business, see oss_registration_business_identity()): a
 *      second registration of the same business fails there. Its extra_fn
 *      writes, in the same transaction, the e-mail look-up, the owner's
 *      oss.principals row (principal_id = account_id), the owner grant and
 *      oss.account_scope (the domicile region); all of it rides the
 *      journal's pipeline, so no round trip is added.
 * Plaintext personal data lives only in the caller's oss_app_register_t
 * and is wiped by oss_app_register_clear(); it is never logged. */
#include "app/register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "app/principal.h"
#include "app/terms.h"
#include "core/bytes.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"

oss_code_t
oss_app_register_terms(oss_journal_t *j, oss_app_register_t *r,
                       oss_err_t *err) {
    oss_err_clear(err);
    oss_code_t rc = oss_app_terms_lookup(
        oss_journal_conn(j), r->reg.terms_version, r->terms_sha256, err);
    if (rc == OSS_OK)
        return OSS_OK;
    if (rc == OSS_ENOTFOUND) {
        snprintf(err->field, sizeof err->field, "terms_version");
        return oss_err_reason(err, OSS_APP_REASON_UNKNOWN_VERSION);
    }
    oss_warn("registration: could not read the terms of use: %s", err->msg);
    r->step = OSS_APP_REGISTER_STEP_TERMS;
    return rc;
}

/* Seals r->reg into r->payload (AccountRegistered) and prepares the
 * claim. */
static oss_code_t
seal(oss_app_t *app, oss_app_register_t *r, oss_err_t *err) {
    oss_data_key_t dk;
    Oss__V1__AccountRegistered ev = OSS__V1__ACCOUNT_REGISTERED__INIT;
    Oss__V1__TermsAccepted ta = OSS__V1__TERMS_ACCEPTED__INIT;
    enum { NSEALED = 7 };
    Oss__V1__SealedField sf[NSEALED];
    Oss__V1__SealedField *sfp[NSEALED] = {NULL};
    const char *names[NSEALED] = {"nik",   "name", "birth_date", "email",
                                  "phone", "npwp", "passport"};
    /* "" = not given: no sealed field at all */
    const char *values[NSEALED] = {
        r->reg.nik,   r->reg.name, r->reg.birth_date, r->reg.email,
        r->reg.phone, r->reg.npwp, r->reg.passport};
    const char *id_field = NULL;
    char id_value[256];
    oss_code_t rc;

    for (int i = 0; i < NSEALED; i++)
        oss__v1__sealed_field__init(&sf[i]);

    memset(&dk, 0, sizeof dk);
    oss_uuid7(r->account_id);
    snprintf(r->stream_id, sizeof r->stream_id, "account-%s", r->account_id);
    oss_uuid4(r->subject_id);
    rc = oss_data_key_new(&app->master, r->subject_id, &dk, &r->wrapped,
                          &r->wlen, r->master_key_id, err);
    if (rc != OSS_OK)
        goto done;
    for (int i = 0; i < NSEALED; i++) {
        if (!values[i][0])
            continue;
        rc = oss_app_seal_field(&dk, names[i], values[i], &sf[i], err);
        if (rc != OSS_OK)
            goto done;
        sfp[i] = &sf[i];
    }
    if (!oss_registration_business_identity(&r->reg, &id_field, id_value,
                                            sizeof id_value)) {
        rc = oss_err_set(err, OSS_EINTERNAL, "registration without identity");
        goto done;
    }
    ev.account_id = r->account_id;
    ev.scale = (Oss__V1__BusinessScale)r->reg.scale;
    ev.actor_type = r->reg.actor_type;
    ev.subject_id = r->subject_id;
    ev.nik = sfp[0];
    ev.name = sfp[1];
    ev.birth_date = sfp[2];
    ev.email = sfp[3];
    ev.phone = sfp[4];
    ev.npwp = sfp[5];
    ev.passport = sfp[6];
    ev.passport_country = r->reg.passport_country;
    ev.region_code = r->reg.region_code;
    ev.business_identity = (char *)id_field;
    ev.website = r->reg.website;
    ev.terms_version = r->reg.terms_version;
    ev.country = r->reg.country;
    ev.nik_birth_date_mismatch = r->reg.nik_birth_date_mismatch;
    r->payload_len = oss__v1__account_registered__get_packed_size(&ev);
    r->payload = malloc(r->payload_len ? r->payload_len : 1);
    ta.account_id = r->account_id;
    ta.version = r->reg.terms_version;
    ta.principal_id = r->account_id; /* the first owner */
    ta.sha256 = r->terms_sha256;
    r->terms_payload_len = oss__v1__terms_accepted__get_packed_size(&ta);
    r->terms_payload = malloc(r->terms_payload_len ? r->terms_payload_len : 1);
    if (!r->payload || !r->terms_payload) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    oss__v1__account_registered__pack(&ev, r->payload);
    oss__v1__terms_accepted__pack(&ta, r->terms_payload);

    /* one account per business: the keyed hash of the identity, taken
     * under its own kind (a NIK's digest is the NIK's look-up digest) */
    r->claim[0].kind = "business";
    r->claim[0].field = id_field;
    oss_index_digest(&app->index, id_field, id_value, r->claim[0].digest);
    r->nclaims = 1;
    memset(id_value, 0, sizeof id_value);
    snprintf(r->claim[0].subject_id, sizeof r->claim[0].subject_id, "%s",
             r->subject_id);
    {
        uint8_t d[32];
        oss_index_digest(&app->index, "email", r->reg.email, d);
        oss_hex_encode(d, sizeof d, r->email_digest);
        /* the NIK look-up row: "forgot account" finds the account by the
         * responsible person's NIK even when the business identity is an
         * NPWP or a passport */
        r->nik_digest[0] = '\0';
        if (r->reg.nik[0]) {
            oss_index_digest(&app->index, "nik", r->reg.nik, d);
            oss_hex_encode(d, sizeof d, r->nik_digest);
        }
        /* the phone look-up row: a password reset asked by phone */
        oss_index_digest(&app->index, "phone", r->reg.phone, d);
        oss_hex_encode(d, sizeof d, r->phone_digest);
        memset(d, 0, sizeof d);
    }
    /* the activation (OTP + link) sealed under the same data key */
    if (app->lc) {
        rc = oss_app_activation_prepare(app, &dk, r->account_id, "email",
                                        &r->act, err);
        if (rc != OSS_OK)
            goto done;
        r->has_act = true;
    }
done:
    for (int i = 0; i < NSEALED; i++) {
        free(sf[i].nonce.data);
        free(sf[i].ciphertext.data);
    }
    memset(&dk, 0, sizeof dk);
    return rc;
}

oss_code_t
oss_app_register_seal(oss_app_t *app, oss_app_register_t *r, oss_err_t *err) {
    oss_err_clear(err);
    oss_code_t rc = seal(app, r, err);
    if (rc != OSS_OK) {
        oss_error("could not seal registration: %s", err->msg);
        r->step = OSS_APP_REGISTER_STEP_SEAL;
    }
    return rc;
}

oss_code_t
oss_app_register_prepare(oss_app_t *app, oss_journal_t *j,
                         oss_app_register_t *r, oss_err_t *err) {
    oss_code_t rc = oss_app_register_terms(j, r, err);
    return rc != OSS_OK ? rc : oss_app_register_seal(app, r, err);
}

/* Appends a copy of payload[0..len) as an event of type (schema 1). */
static oss_code_t
push_copy(oss_event_list_t *out, const char *type, const uint8_t *payload,
          size_t len, const char *reason, oss_err_t *err) {
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s", type);
    ev->schema_version = 1;
    if (reason && !(ev->reason = strdup(reason)))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    ev->payload = malloc(len ? len : 1);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, payload, len);
    ev->payload_len = len;
    return OSS_OK;
}

/* decide(): the stream must be new; emits AccountRegistered, TermsAccepted
 * and, for an OSS 1.1 migration, LegacyAccountMigrated. */
static oss_code_t
decide_register(void *vctx, const oss_event_t *history, size_t n,
                oss_event_list_t *out, oss_err_t *err) {
    oss_app_register_t *r = vctx;
    oss_account_state_t st;

    oss_account_fold(&st, history, n);
    oss_code_t rc = oss_account_decide_register(&st, -1, err);
    if (rc != OSS_OK)
        return rc;
    rc = push_copy(out, OSS_ACCOUNT_REGISTERED, r->payload, r->payload_len,
                   NULL, err);
    /* accepting the terms of use is an event of its own */
    if (rc == OSS_OK)
        rc = push_copy(out, "oss.v1.TermsAccepted", r->terms_payload,
                       r->terms_payload_len, NULL, err);
    if (rc == OSS_OK && r->legacy_payload)
        /* migrated from OSS 1.1: the history links to the legacy record */
        rc = push_copy(out, "oss.v1.LegacyAccountMigrated", r->legacy_payload,
                       r->legacy_payload_len,
                       "OSS 1.1 access replaced (ganti hak akses): old "
                       "credentials, NPWP, decree, director checked",
                       err);
    return rc;
}

/* extra_fn, written with AccountRegistered: the subject's wrapped key, the
 * e-mail look-up row (keyed hash) for sign-in by e-mail, the first owner
 * as a principal (principal_id = account_id; its contact is sealed in the
 * account stream's AccountRegistered), the account's domicile for
 * officers' scope (one statement), the NIK look-up, the migrated OSS 1.1
 * row, and the owner grant. */
static oss_code_t
lookup_rows(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    oss_app_register_t *r = vctx;
    const char *v[] = {r->email_digest, r->stream_id, r->account_id,
                       r->subject_id,
                       r->reg.region_code[0] ? r->reg.region_code : NULL};
    oss_grant_t owner;
    (void)cmd;
    /* (helper X, perf) the subject's wrapped data key, committed with the
     * events sealed under it: no round trip and no commit of its own */
    char wk[2 * 64 + 1];
    if (r->wlen > 64)
        return oss_err_set(err, OSS_EINTERNAL, "wrapped key too long");
    oss_hex_encode(r->wrapped, r->wlen, wk);
    const char *kv[] = {r->subject_id, r->master_key_id, wk};
    if (q(qctx,
          "INSERT INTO oss.subject_keys (subject_id, master_key_id, "
          "wrapped_key) VALUES ($1::uuid, $2, decode($3, 'hex'))",
          3, kv, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    if (q(qctx,
          "WITH p AS (INSERT INTO oss.principals (principal_id, kind, "
          "subject_id, contact_stream) VALUES ($3, 'business', $4::uuid, $2)),"
          " s AS (INSERT INTO oss.account_scope (account_id, region) VALUES "
          "($3, $5)) INSERT INTO oss.account_lookup (kind, digest, stream_id) "
          "VALUES ('email', decode($1, 'hex'), $2)",
          5, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    /* the phone's and the NIK's look-up rows, one statement */
    const char *nv[] = {r->phone_digest, r->nik_digest, r->stream_id};
    if (q(qctx, OSS_APP_LOOKUP_PHONE_NIK_SQL, 3, nv, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    if (r->legacy_id[0]) {
        /* the OSS 1.1 account is migrated: single use, its old password
         * hash goes */
        const char *lv[] = {r->legacy_id, r->account_id};
        if (q(qctx,
              "UPDATE oss.legacy_accounts SET migrated_account_id = $2, "
              "migrated_at = now(), password_hash = NULL WHERE legacy_id = $1 "
              "AND migrated_account_id IS NULL",
              2, lv, NULL, NULL))
            return oss_err_set(err, OSS_EUNAVAIL, "could not queue");
    }
    memset(&owner, 0, sizeof owner);
    owner.role = OSS_ROLE_OWNER;
    snprintf(owner.account_id, sizeof owner.account_id, "%s", r->account_id);
    return oss_app_grant_queue_add(q, qctx, r->account_id, &owner, err);
}

/* The command's response_fn: the caller's. */
static char *
response(void *vctx, const oss_command_t *cmd) {
    oss_app_register_t *r = vctx;
    return r->response_fn
               ? r->response_fn(r->response_arg, r, cmd->last_version)
               : NULL;
}

size_t
oss_app_register_commands(oss_app_register_t *r, oss_command_t *c) {
    c->stream_id = r->stream_id;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = 0;
    c->actor_kind = OSS_ACTOR_BUSINESS_USER;
    c->actor_id = r->account_id; /* the registering owner */
    c->correlation_id = r->correlation_id;
    c->idempotency_key = r->idempotency_key;
    c->request_hash = r->idempotency_key ? r->request_hash : NULL;
    c->decide = decide_register;
    c->ctx = r;
    c->claims = r->claim;
    c->nclaims = r->nclaims;
    c->response_status = 201;
    c->response_fn = response;
    c->extra_fn = lookup_rows;
    if (!r->has_act)
        return 1;
    oss_command_t *a = &c[1];
    r->act.reg_cmd = c;
    a->stream_id = r->act.stream_id;
    a->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    /* (helper X, perf) 0: the access stream is new with the account; lets
     * the journal skip its reads for a batch of registrations */
    a->expected_version = 0;
    a->actor_kind = OSS_ACTOR_BUSINESS_USER;
    a->actor_id = "";
    a->correlation_id = r->correlation_id;
    a->decide = oss_app_activation_issue_decide;
    a->ctx = &r->act;
    a->extra_fn = oss_app_activation_extra;
    return 2;
}

oss_code_t
oss_app_register_finish(oss_app_register_t *r, oss_command_t *cmds, size_t k,
                        oss_code_t rc, const oss_err_t *err) {
    r->outcome = OSS_JOURNAL_REJECTED;
    oss_err_clear(&r->err);
    if (rc != OSS_OK || k == 0) {
        oss_warn("registration not appended: %s", err->msg);
        r->step = OSS_APP_REGISTER_STEP_APPEND;
        return rc != OSS_OK ? rc : OSS_EINTERNAL;
    }
    oss_command_t *c = &cmds[0];
    if (k > 1 && cmds[1].outcome == OSS_JOURNAL_APPENDED)
        oss_info("activation issued stream=%s channel=%s", r->act.stream_id,
                 r->act.channel);
    r->outcome = c->outcome;
    r->last_version = c->last_version;
    switch (c->outcome) {
    case OSS_JOURNAL_APPENDED:
        oss_info("account registered stream=%s version=%lld", r->stream_id,
                 (long long)c->last_version);
        break;
    case OSS_JOURNAL_REPLAYED:
        oss_info("registration replayed from its idempotency key");
        r->replay_status = c->replay_status;
        free(r->replay_response);
        r->replay_response = c->replay_response;
        c->replay_response = NULL;
        break;
    case OSS_JOURNAL_REJECTED:
        r->err = c->err;
        if (c->err.code == OSS_EDUPLICATE) {
            const char *f = c->err.field;
            if (!strcmp(f, "nik") || !strcmp(f, "npwp") ||
                !strcmp(f, "email") || !strcmp(f, "passport"))
                /* the business identity claim: no event was written */
                oss_err_reason(&r->err,
                               OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS);
            else if (f[0])
                oss_err_reason(&r->err, OSS_APP_REASON_KEY_REUSED);
        }
        oss_info("registration rejected: %s", oss_code_name(c->err.code));
        break;
    }
    return OSS_OK;
}

oss_code_t
oss_app_register(oss_app_t *app, oss_journal_t *j, oss_app_register_t *r,
                 oss_err_t *err) {
    oss_command_t cmds[2];
    oss_code_t rc = oss_app_register_prepare(app, j, r, err);
    if (rc != OSS_OK)
        return rc;
    memset(cmds, 0, sizeof cmds);
    size_t k = oss_app_register_commands(r, cmds);
    oss_err_clear(err);
    rc = oss_journal_execute(j, cmds, k, err);
    rc = oss_app_register_finish(r, cmds, k, rc, err);
    for (size_t i = 0; i < k; i++) {
        oss_event_list_free(&cmds[i].events);
        free(cmds[i].replay_response);
    }
    return rc;
}

void
oss_app_register_clear(oss_app_register_t *r) {
    free(r->wrapped);
    free(r->payload);
    free(r->terms_payload);
    free(r->legacy_payload);
    free(r->replay_response);
    r->wrapped = r->payload = r->terms_payload = r->legacy_payload = NULL;
    r->replay_response = NULL;
    oss_app_activation_clear(&r->act);
    memset(&r->reg, 0, sizeof r->reg);
}
