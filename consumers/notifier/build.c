/* The message of a job: the registration mail, the activation message
 * (from its sealed oss.deliveries row) or a targeted notice rendered with
 * its kind's template (templates.c). Secrets and addresses are wiped. */
#include "notifier_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/bytes.h"
#include "core/clock.h"
#include "log/log.h"

void
nt_built_clear(built_t *b) {
    nt_wipe_free(b->to);
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
    oss_code_t rc = nt_subject_key(n, j->reg->subject_id, &dk, err);
    if (rc == OSS_ENOTFOUND || rc == OSS_EUNAVAIL)
        return rc;
    if (rc) {
        oss_err_set(err, rc, "data key unwrap failed");
        return OSS_ECORRUPT;
    }
    char *email = nt_unseal(&dk, "email", j->reg->email);
    char *name = nt_unseal(&dk, "name", j->reg->name);
    OPENSSL_cleanse(&dk, sizeof dk);
    if (!email) {
        nt_wipe_free(name);
        return oss_err_set(err, OSS_ECORRUPT, "e-mail not unsealable");
    }
    oss_mail_t m = {.event_id = j->ev->event_id,
                    .from = oss_config_str(n->cfg, "notifier.from"),
                    .to = email,
                    .name = name,
                    .account_id = j->reg->account_id,
                    .date_us = oss_now_us()};
    rc = oss_mail_compose(&m, &b->msg, &b->len, err);
    nt_wipe_free(name);
    if (rc) {
        nt_wipe_free(email);
        return rc == OSS_ENOMEM ? OSS_EUNAVAIL : rc;
    }
    b->to = email;
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
    PGresult *r = nt_pg_exec(n,
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
    /* a stray last digit is ignored; a non-hex one cannot open */
    bool hex_ok = oss_hex_decode(hx, 2 * sl, sealed, sl, NULL) == OSS_OK;
    PQclear(r);
    oss_code_t rc;
    oss_data_key_t dk;
    char *plain = NULL, *to = NULL, *name = NULL;
    size_t plen = 0;
    json_t *js = NULL;
    if ((rc = nt_subject_key(n, subject, &dk, err)) != OSS_OK) {
        if (rc != OSS_ENOTFOUND && rc != OSS_EUNAVAIL)
            rc = oss_err_set(err, OSS_ECORRUPT, "data key unwrap failed");
        else if (rc == OSS_ENOTFOUND)
            oss_err_set(err, OSS_ENOTFOUND, "the subject's data was erased");
        goto done;
    }
    char field[64];
    snprintf(field, sizeof field, "delivery|%s", j->act->delivery_id);
    if (!hex_ok || sl < 12 + 16 ||
        oss_open(&dk, field, sealed, sealed + 12, sl - 12, &plain, &plen,
                 NULL) != OSS_OK) {
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
    rc = nt_account_contact(n, j->account_id, j->channel, &dk, &to, &name, err);
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
    nt_wipe_free(link);
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
    nt_wipe_free(to);
    nt_wipe_free(name);
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
    oss_code_t rc = nt_subject_key(n, nr->subject_id, &dk, err);
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
    /* a stray last digit is ignored; a non-hex one cannot open */
    bool hex_ok =
        oss_hex_decode(nr->sealed_hex, 2 * sl, sealed, sl, NULL) == OSS_OK;
    char field[64];
    snprintf(field, sizeof field, "delivery|%s", nr->delivery_id);
    if (!hex_ok || sl < 12 + 16 ||
        oss_open(&dk, field, sealed, sealed + 12, sl - 12, &plain, &plen,
                 NULL) != OSS_OK) {
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
    nt_wipe_free(tid);
    nt_wipe_free(ten);
    return rc;
}

oss_code_t
nt_build(notifier_t *n, job_t *j, built_t *b, oss_err_t *err) {
    return j->notice ? build_notice(n, j, b, err)
           : j->act  ? build_activation(n, j, b, err)
                     : build_registration(n, j, b, err);
}
