/* Data keys, sealed fields and the contact (e-mail address or phone) of a
 * principal: what a message is sent to. Nothing personal is logged. */
#include "notifier_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "oss/v1/principal.pb-c.h"
#include "oss/v1/recovery.pb-c.h"

/* The subject's data key: OSS_ENOTFOUND when shredded. */
oss_code_t
nt_subject_key(notifier_t *n, const char *subject_id, oss_data_key_t *dk,
               oss_err_t *err) {
    const char *p[1] = {subject_id};
    PGresult *r = nt_pg_exec(n,
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

char *
nt_unseal(const oss_data_key_t *dk, const char *field,
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

void
nt_wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Opens sf under field, else "new_<field>" (a ContactReplaced's). */
static char *
unseal_either(const oss_data_key_t *dk, const char *field,
              const Oss__V1__SealedField *sf) {
    char alt[32];
    char *v = nt_unseal(dk, field, sf);
    if (v)
        return v;
    snprintf(alt, sizeof alt, "new_%s", field);
    return nt_unseal(dk, alt, sf);
}

/* The contact of a principal (a first owner's principal id is its account
 * id), unsealed with dk: new strings in *to (e-mail or phone per channel)
 * and *name, caller wipes. The sealed fields come from the first event of
 * the principal's contact stream (oss.principals.contact_stream:
 * AccountRegistered on "account-<id>" or PrincipalCreated on
 * "access-<id>"; "account-<id>" for an account registered before
 * principals existed), the address from the newest ContactReplaced of the
 * principal when there is one. */
oss_code_t
nt_account_contact(notifier_t *n, const char *principal_id, const char *channel,
                   const oss_data_key_t *dk, char **to, char **name,
                   oss_err_t *err) {
    char stream[OSS_ID_MAX + 16];
    int wa = strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0;
    const char *field = wa ? "phone" : "email";
    *to = *name = NULL;
    const char *p1[1] = {principal_id};
    PGresult *r = nt_pg_exec(n,
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
    if (nt_pg_ensure(n, err))
        return OSS_EUNAVAIL;
    r = nt_pg_result(oss_journal_read_contact_origin(n->pg, stream), err);
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
    if (!strcmp(PQgetvalue(r, 0, 0), NT_ACCOUNT_REGISTERED)) {
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
        *to = nt_unseal(dk, field, sf_to);
        *name = nt_unseal(dk, "name", sf_name);
    }
    if (a)
        oss__v1__account_registered__free_unpacked(a, NULL);
    if (pc)
        oss__v1__principal_created__free_unpacked(pc, NULL);
    PQclear(r);
    if (rc)
        return rc;
    /* a newer address: the newest ContactReplaced setting this field */
    r = nt_pg_ensure(n, err) ? NULL
                             : nt_pg_result(oss_journal_read_contact_changes(
                                                n->pg, stream, principal_id),
                                            err);
    if (!r) {
        nt_wipe_free(*to);
        nt_wipe_free(*name);
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
            nt_wipe_free(*to);
            *to = v;
            break;
        }
    }
    PQclear(r);
    if (!*to) {
        nt_wipe_free(*name);
        *name = NULL;
        return oss_err_set(err, OSS_ECORRUPT, "%s not unsealable",
                           wa ? "phone" : "e-mail");
    }
    return OSS_OK;
}
