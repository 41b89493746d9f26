/* Persons given in requests and the command that creates a new principal
 * (see principal.h): PrincipalCreated with sealed personal fields under a new
 * subject key and its first ActivationIssued, on "access-<principal_id>";
 * the extra_fn writes the wrapped subject key, oss.principals, the grant
 * and the activation's secret and delivery rows in the same transaction.
 * Plaintext personal data lives only in request memory and is wiped. */
#include "app/principal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/cmd.h"
#include "app/lifecycle.h"
#include "app/notice.h"
#include "core/account.h"
#include "core/bytes.h"
#include "core/nik.h"
#include "core/validate.h"
#include "log/log.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/principal.pb-c.h"

#define PRINCIPAL_CREATED OSS_APP_T_PRINCIPAL_CREATED

/* ---- persons --------------------------------------------------- */

/* body[prefix name]: NULL when absent or null; "must_be_string" is
 * recorded when it is not a string. */
static const char *
pfield(json_t *body, const char *prefix, const char *name,
       oss_field_errors_t *fe, char *fname, size_t fnsz) {
    snprintf(fname, fnsz, "%s%s", prefix, name);
    json_t *v = json_object_get(body, fname);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        oss_field_errors_add(fe, fname, OSS_REASON_MUST_BE_STRING);
        return NULL;
    }
    if (json_string_length(v) > 1024) {
        oss_field_errors_add(fe, fname, OSS_REASON_TOO_LONG);
        return NULL;
    }
    return json_string_value(v);
}

bool
oss_app_person_validate(json_t *body, const char *prefix, oss_app_person_t *out,
                        oss_field_errors_t *fe_out) {
    oss_field_errors_t fe = {0};
    char fn[96];
    const char *why, *s;

    memset(out, 0, sizeof *out);
    if (!prefix)
        prefix = "";
    const char *nik = pfield(body, prefix, "nik", &fe, fn, sizeof fn);
    char nik_f[96];
    snprintf(nik_f, sizeof nik_f, "%s", fn);
    const char *passport = pfield(body, prefix, "passport", &fe, fn, sizeof fn);
    char pass_f[96];
    snprintf(pass_f, sizeof pass_f, "%s", fn);
    const char *country = pfield(body, prefix, "country", &fe, fn, sizeof fn);
    if (nik && passport) {
        oss_field_errors_add(&fe, pass_f, "nik_or_passport");
    } else if (nik) {
        oss_nik_info_t info;
        if ((why = oss_nik_check(nik, &info)))
            oss_field_errors_add(&fe, nik_f, why);
        else
            snprintf(out->nik, sizeof out->nik, "%s", nik);
        if (country && strcmp(country, "ID"))
            oss_field_errors_add(&fe, fn, "country_invalid");
        snprintf(out->country, sizeof out->country, "ID");
    } else if (passport) {
        if ((why = oss_passport_normalize(passport, out->passport,
                                          sizeof out->passport)))
            oss_field_errors_add(&fe, pass_f, why);
        if (!country)
            oss_field_errors_add(&fe, fn, OSS_REASON_REQUIRED);
        else if ((why = oss_country_check(country)))
            oss_field_errors_add(&fe, fn, why);
        else
            snprintf(out->country, sizeof out->country, "%s", country);
    } else if (!oss_field_errors_get(&fe, nik_f) &&
               !oss_field_errors_get(&fe, pass_f)) {
        oss_field_errors_add(&fe, nik_f, OSS_REASON_REQUIRED);
    }
    s = pfield(body, prefix, "name", &fe, fn, sizeof fn);
    if (!s) {
        oss_field_errors_add(&fe, fn, OSS_REASON_REQUIRED);
    } else if ((why = oss_name_normalize(s, out->name, sizeof out->name))) {
        oss_field_errors_add(&fe, fn, why);
    }
    s = pfield(body, prefix, "birth_date", &fe, fn, sizeof fn);
    if (s && *s) {
        int y, m, d;
        if ((why = oss_birth_date_parse(s, oss_app_today_yyyymmdd(),
                                        out->birth_date, sizeof out->birth_date,
                                        &y, &m, &d)))
            oss_field_errors_add(&fe, fn, why);
    }
    s = pfield(body, prefix, "email", &fe, fn, sizeof fn);
    if (!s) {
        oss_field_errors_add(&fe, fn, OSS_REASON_REQUIRED);
    } else if ((why = oss_email_normalize(s, out->email, sizeof out->email))) {
        oss_field_errors_add(&fe, fn, why);
    }
    s = pfield(body, prefix, "phone", &fe, fn, sizeof fn);
    if (!s) {
        oss_field_errors_add(&fe, fn, OSS_REASON_REQUIRED);
    } else if ((why = passport ? oss_phone_normalize_intl(s, out->phone,
                                                          sizeof out->phone)
                               : oss_phone_normalize(s, out->phone,
                                                     sizeof out->phone))) {
        oss_field_errors_add(&fe, fn, why);
    }
    s = pfield(body, prefix, "channel", &fe, fn, sizeof fn);
    if (!s || !*s)
        s = "email";
    if (strcmp(s, "email") && strcmp(s, "whatsapp"))
        oss_field_errors_add(&fe, fn, "channel_invalid");
    else
        snprintf(out->channel, sizeof out->channel, "%s", s);
    *fe_out = fe;
    if (fe.n) {
        memset(out, 0, sizeof *out);
        return false;
    }
    return true;
}

/* ---- oss_app_principal_prepare ------------------------------------------ */

typedef struct principal_priv {
    char stream_id[OSS_ID_MAX];
    char kind[16];
    char cause[16];
    char master_key_id[17];
    char wrapped_hex[2 * 128 + 1];
    char email_digest[65]; /* hex; oss.account_lookup (sign-in) */
    char phone_digest[65]; /* hex; oss.account_lookup (reset by phone) */
    char nik_digest[65];   /* hex; oss.account_lookup (recovery);
                              "" with a passport */
    oss_claim_t claim;     /* an officer's NIK, once per
                              institution */
    bool has_grant;
    oss_grant_t grant;
    uint8_t *payload;
    size_t payload_len;
    oss_app_activation_t act;
    oss_app_principal_new_t *pn;
    /* an optional notice on PrincipalCreated (oss_app_principal_notice) */
    oss_app_contact_t contact;
    char notice_kind[32];
    char *notice_vars;
} principal_priv_t;

static oss_code_t
principal_decide(void *vctx, const oss_event_t *history, size_t n,
                 oss_event_list_t *out, oss_err_t *err) {
    principal_priv_t *pp = vctx;

    if (n > 0)
        return oss_err_field(err, OSS_EDUPLICATE, "principal_id",
                             "principal \"%s\" already exists",
                             pp->pn->principal_id);
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
             PRINCIPAL_CREATED);
    ev->schema_version = 1;
    ev->reason = strdup(pp->cause);
    ev->payload = malloc(pp->payload_len ? pp->payload_len : 1);
    if (!ev->payload || !ev->reason)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, pp->payload, pp->payload_len);
    ev->payload_len = pp->payload_len;
    /* the first activation, decided as if PrincipalCreated were folded */
    return oss_app_activation_issue_decide(&pp->act, history, n, out, err);
}

static oss_code_t
principal_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
                void *qctx, oss_err_t *err) {
    principal_priv_t *pp = vctx;
    oss_app_principal_new_t *pn = pp->pn;
    oss_code_t rc;

    const char *k[] = {pn->subject_id, pp->master_key_id, pp->wrapped_hex};
    if (q(qctx,
          "INSERT INTO oss.subject_keys (subject_id, master_key_id, "
          "wrapped_key) VALUES ($1::uuid, $2, decode($3, 'hex'))",
          3, k, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    const char *p[] = {pn->principal_id, pp->kind, pn->subject_id,
                       pp->stream_id};
    if (q(qctx,
          "INSERT INTO oss.principals (principal_id, kind, subject_id, "
          "contact_stream) VALUES ($1, $2, $3::uuid, $4)",
          4, p, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    const char *e[] = {pp->email_digest, pp->stream_id};
    if (q(qctx,
          "INSERT INTO oss.account_lookup (kind, digest, stream_id) VALUES "
          "('email', decode($1, 'hex'), $2)",
          2, e, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    /* "forgot account" finds the principal by its NIK, a password reset
     * by its phone */
    const char *nv[] = {pp->phone_digest, pp->nik_digest, pp->stream_id};
    if (q(qctx, OSS_APP_LOOKUP_PHONE_NIK_SQL, 3, nv, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    if (pp->has_grant) {
        rc =
            oss_app_grant_queue_add(q, qctx, pn->principal_id, &pp->grant, err);
        if (rc != OSS_OK)
            return rc;
    }
    if (pp->notice_kind[0]) {
        /* best effort: a notice that cannot be addressed is not queued */
        oss_err_t nerr;
        oss_err_clear(&nerr);
        rc = oss_app_notice_queue(&pp->contact, pp->notice_kind,
                                  pp->act.channel, pn->principal_id, cmd, 0,
                                  pp->notice_vars, 0, q, qctx, &nerr);
        if (rc == OSS_EUNAVAIL || rc == OSS_ENOMEM) {
            *err = nerr;
            return rc;
        }
    }
    return oss_app_activation_extra(&pp->act, cmd, q, qctx, err);
}

oss_code_t
oss_app_principal_notice(oss_app_principal_new_t *pn, const char *kind,
                         const char *vars_json, oss_err_t *err) {
    principal_priv_t *pp = pn->priv;
    if (!pp || !kind || strlen(kind) >= sizeof pp->notice_kind)
        return oss_err_set(err, OSS_EINTERNAL, "notice: bad arguments");
    free(pp->notice_vars);
    if (!(pp->notice_vars = strdup(vars_json ? vars_json : "{}")))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(pp->notice_kind, sizeof pp->notice_kind, "%s", kind);
    return OSS_OK;
}

void
oss_app_grant_to_proto(const oss_grant_t *g, void *out) {
    Oss__V1__Grant *m = out;
    oss__v1__grant__init(m);
    m->role = (char *)oss_role_name(g->role);
    m->account_id = (char *)g->account_id;
    m->institution = (char *)g->institution;
    m->sector = (char *)g->sector;
    m->region = (char *)g->region;
}

oss_code_t
oss_app_grant_event_push(oss_event_list_t *out, bool added,
                         const char *principal_id, const oss_grant_t *g,
                         const char *reason, oss_err_t *err) {
    Oss__V1__Grant pg = OSS__V1__GRANT__INIT;
    Oss__V1__GrantAdded ga = OSS__V1__GRANT_ADDED__INIT;
    Oss__V1__GrantRevoked gr = OSS__V1__GRANT_REVOKED__INIT;
    ProtobufCMessage *msg = added ? &ga.base : &gr.base;

    oss_app_grant_to_proto(g, &pg);
    ga.principal_id = gr.principal_id = (char *)principal_id;
    ga.grant = gr.grant = &pg;
    gr.reason = (char *)(reason ? reason : "");
    return oss_app_event_push(
        out, added ? OSS_APP_T_GRANT_ADDED : OSS_APP_T_GRANT_REVOKED, msg, 0,
        reason && *reason ? reason : NULL, err);
}

/* Whether two grants name the same right (role, account, institution). */
static bool
grant_same(const oss_grant_t *a, const Oss__V1__Grant *b) {
    return b && a->role == oss_role_parse(b->role) &&
           !strcmp(a->account_id, b->account_id ? b->account_id : "") &&
           !strcmp(a->institution, b->institution ? b->institution : "");
}

static void
grant_from_proto(const Oss__V1__Grant *m, oss_grant_t *g) {
    memset(g, 0, sizeof *g);
    g->role = oss_role_parse(m->role);
    snprintf(g->account_id, sizeof g->account_id, "%s",
             m->account_id ? m->account_id : "");
    snprintf(g->institution, sizeof g->institution, "%s",
             m->institution ? m->institution : "");
    snprintf(g->sector, sizeof g->sector, "%s", m->sector ? m->sector : "");
    snprintf(g->region, sizeof g->region, "%s", m->region ? m->region : "");
}

size_t
oss_app_grants_fold(const oss_event_t *history, size_t n, oss_grant_t *out,
                    size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const oss_event_t *ev = &history[i];
        const char *t = ev->payload_type;
        const Oss__V1__Grant *add = NULL, *del = NULL;
        const char *officer_inst = NULL;
        Oss__V1__PrincipalCreated *pc = NULL;
        Oss__V1__GrantAdded *ga = NULL;
        Oss__V1__GrantRevoked *gr = NULL;
        Oss__V1__OfficerRevoked *orv = NULL;

        if (!strcmp(t, OSS_APP_T_PRINCIPAL_CREATED)) {
            if ((pc = oss__v1__principal_created__unpack(NULL, ev->payload_len,
                                                         ev->payload)))
                add = pc->grant;
        } else if (!strcmp(t, OSS_APP_T_GRANT_ADDED)) {
            if ((ga = oss__v1__grant_added__unpack(NULL, ev->payload_len,
                                                   ev->payload)))
                add = ga->grant;
        } else if (!strcmp(t, OSS_APP_T_GRANT_REVOKED)) {
            if ((gr = oss__v1__grant_revoked__unpack(NULL, ev->payload_len,
                                                     ev->payload)))
                del = gr->grant;
        } else if (!strcmp(t, OSS_APP_T_OFFICER_REVOKED)) {
            if ((orv = oss__v1__officer_revoked__unpack(NULL, ev->payload_len,
                                                        ev->payload)))
                officer_inst = orv->institution ? orv->institution : "";
        } else {
            continue;
        }
        if (add && oss_role_parse(add->role) != OSS_ROLE_NONE && k < max) {
            bool dup = false;
            for (size_t x = 0; x < k && !dup; x++)
                dup = grant_same(&out[x], add);
            if (!dup)
                grant_from_proto(add, &out[k++]);
        }
        for (size_t x = 0; x < k;) {
            bool gone = (del && grant_same(&out[x], del)) ||
                        (officer_inst && out[x].role == OSS_ROLE_OFFICER &&
                         !strcmp(out[x].institution, officer_inst));
            if (gone)
                out[x] = out[--k];
            else
                x++;
        }
        if (pc)
            oss__v1__principal_created__free_unpacked(pc, NULL);
        if (ga)
            oss__v1__grant_added__free_unpacked(ga, NULL);
        if (gr)
            oss__v1__grant_revoked__free_unpacked(gr, NULL);
        if (orv)
            oss__v1__officer_revoked__free_unpacked(orv, NULL);
    }
    return k;
}

oss_code_t
oss_app_sessions_end_all(const oss_event_t *history, size_t n,
                         const char *principal_id, int64_t now_us,
                         const char *reason, oss_event_list_t *out,
                         size_t *ended, oss_err_t *err) {
    oss_lc_state_t st;
    oss_lc_decision_t d;
    oss_code_t rc = OSS_OK;
    size_t from = out->len;

    *ended = 0;
    oss_app_lc_fold(history, n, true, &st);
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < st.nsessions; i++) {
        if (st.sessions[i].expires_at_us <= now_us)
            continue;
        oss_lc_fact_t *f = &d.facts[d.n++];
        memset(f, 0, sizeof *f);
        f->kind = OSS_LC_SESSION_ENDED;
        f->at_us = now_us;
        snprintf(f->id, sizeof f->id, "%s", st.sessions[i].id);
        snprintf(f->reason, sizeof f->reason, "%s", reason);
        (*ended)++;
        if (d.n == sizeof d.facts / sizeof d.facts[0]) {
            if ((rc = oss_app_lc_encode(&d, &st, principal_id, out, err)) !=
                OSS_OK)
                return rc;
            memset(&d, 0, sizeof d);
        }
    }
    if (d.n &&
        (rc = oss_app_lc_encode(&d, &st, principal_id, out, err)) != OSS_OK)
        return rc;
    /* every event says why (oss audit history prints it) */
    for (size_t i = from; i < out->len; i++)
        if (!out->items[i].reason && !(out->items[i].reason = strdup(reason)))
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
    return OSS_OK;
}

oss_code_t
oss_app_principal_prepare(oss_app_t *ctx, const oss_app_person_t *who,
                          const char *kind, const oss_grant_t *grant,
                          const char *cause, oss_app_principal_new_t *pn,
                          oss_err_t *err) {
    principal_priv_t *pp = calloc(1, sizeof *pp);
    oss_data_key_t dk;
    uint8_t *wrapped = NULL;
    size_t wlen = 0;
    Oss__V1__PrincipalCreated ev = OSS__V1__PRINCIPAL_CREATED__INIT;
    Oss__V1__Grant g = OSS__V1__GRANT__INIT;
    Oss__V1__SealedField sf[6] = {
        OSS__V1__SEALED_FIELD__INIT, OSS__V1__SEALED_FIELD__INIT,
        OSS__V1__SEALED_FIELD__INIT, OSS__V1__SEALED_FIELD__INIT,
        OSS__V1__SEALED_FIELD__INIT, OSS__V1__SEALED_FIELD__INIT};
    Oss__V1__SealedField **slot[6] = {&ev.nik,        &ev.passport, &ev.name,
                                      &ev.birth_date, &ev.email,    &ev.phone};
    const char *names[6] = {"nik",        "passport", "name",
                            "birth_date", "email",    "phone"};
    const char *values[6] = {who->nik,        who->passport, who->name,
                             who->birth_date, who->email,    who->phone};
    oss_code_t rc = OSS_OK;

    memset(pn, 0, sizeof *pn);
    memset(&dk, 0, sizeof dk);
    if (!pp)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    pp->pn = pn;
    pn->priv = pp;
    if (!kind || (strcmp(kind, "business") && strcmp(kind, "government"))) {
        rc = oss_err_set(err, OSS_EINTERNAL, "bad principal kind");
        goto done;
    }
    snprintf(pp->kind, sizeof pp->kind, "%s", kind);
    snprintf(pp->cause, sizeof pp->cause, "%s", cause ? cause : "");
    oss_uuid7(pn->principal_id);
    oss_uuid4(pn->subject_id);
    snprintf(pp->stream_id, sizeof pp->stream_id,
             OSS_APP_ACCESS_STREAM_PREFIX "%s", pn->principal_id);
    rc = oss_data_key_new(&ctx->master, pn->subject_id, &dk, &wrapped, &wlen,
                          pp->master_key_id, err);
    if (rc != OSS_OK)
        goto done;
    if (wlen > 128) {
        rc = oss_err_set(err, OSS_EINTERNAL, "wrapped key too long");
        goto done;
    }
    oss_hex_encode(wrapped, wlen, pp->wrapped_hex);
    {
        uint8_t d[32];
        oss_index_digest(&ctx->index, "email", who->email, d);
        oss_hex_encode(d, sizeof d, pp->email_digest);
        if (who->nik[0]) {
            oss_index_digest(&ctx->index, "nik", who->nik, d);
            oss_hex_encode(d, sizeof d, pp->nik_digest);
        }
        oss_index_digest(&ctx->index, "phone", who->phone, d);
        oss_hex_encode(d, sizeof d, pp->phone_digest);
        memset(d, 0, sizeof d);
    }
    for (int i = 0; i < 6; i++) {
        if (!values[i][0])
            continue;
        rc = oss_app_seal_field(&dk, names[i], values[i], &sf[i], err);
        if (rc != OSS_OK)
            goto done;
        *slot[i] = &sf[i];
    }
    ev.principal_id = pn->principal_id;
    ev.kind = pp->kind;
    ev.subject_id = pn->subject_id;
    ev.passport_country = who->passport[0] ? (char *)who->country : "";
    ev.cause = pp->cause;
    ev.activation_channel = (char *)who->channel;
    if (grant) {
        pp->grant = *grant;
        pp->has_grant = true;
        oss_app_grant_to_proto(&pp->grant, &g);
        ev.grant = &g;
    }
    pp->payload_len = oss__v1__principal_created__get_packed_size(&ev);
    pp->payload = malloc(pp->payload_len ? pp->payload_len : 1);
    if (!pp->payload) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    oss__v1__principal_created__pack(&ev, pp->payload);
    snprintf(pp->contact.subject_id, sizeof pp->contact.subject_id, "%s",
             pn->subject_id);
    snprintf(pp->contact.name, sizeof pp->contact.name, "%s", who->name);
    snprintf(pp->contact.email, sizeof pp->contact.email, "%s", who->email);
    snprintf(pp->contact.phone, sizeof pp->contact.phone, "%s", who->phone);
    pp->contact.dk = dk;
    rc = oss_app_activation_prepare(ctx, &dk, pn->principal_id,
                                    who->channel[0] ? who->channel : "email",
                                    &pp->act, err);
    if (rc != OSS_OK)
        goto done;
    pn->cmd.stream_id = pp->stream_id;
    pn->cmd.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    pn->cmd.expected_version = 0;
    pn->cmd.actor_kind = OSS_ACTOR_UNSPECIFIED;
    pn->cmd.actor_id = "";
    pn->cmd.correlation_id = "";
    pn->cmd.decide = principal_decide;
    pn->cmd.ctx = pp;
    pn->cmd.extra_fn = principal_extra;
    if (grant && grant->role == OSS_ROLE_OFFICER && grant->institution[0]) {
        /* one officer account per person and institution: the keyed hash
         * of (institution, NIK or passport) is claimed with the
         * PrincipalCreated (409 officer_exists), released on revocation */
        char idv[96];
        if (who->nik[0])
            snprintf(idv, sizeof idv, "%s|nik|%s", grant->institution,
                     who->nik);
        else
            snprintf(idv, sizeof idv, "%s|passport|%s%s", grant->institution,
                     who->country, who->passport);
        pp->claim.kind = OSS_APP_CLAIM_OFFICER;
        pp->claim.field = who->nik[0] ? "nik" : "passport";
        oss_index_digest(&ctx->index, "officer", idv, pp->claim.digest);
        snprintf(pp->claim.subject_id, sizeof pp->claim.subject_id, "%s",
                 pn->subject_id);
        memset(idv, 0, sizeof idv);
        pn->cmd.claims = &pp->claim;
        pn->cmd.nclaims = 1;
    }
done:
    for (int i = 0; i < 6; i++) {
        free(sf[i].nonce.data);
        free(sf[i].ciphertext.data);
    }
    free(wrapped);
    memset(&dk, 0, sizeof dk);
    if (rc != OSS_OK)
        oss_app_principal_clear(pn);
    return rc;
}

void
oss_app_principal_clear(oss_app_principal_new_t *pn) {
    principal_priv_t *pp = pn->priv;
    if (pp) {
        oss_app_activation_clear(&pp->act);
        oss_app_contact_clear(&pp->contact);
        free(pp->notice_vars);
        free(pp->payload);
        memset(pp, 0, sizeof *pp);
        free(pp);
    }
    oss_event_list_free(&pn->cmd.events);
    free(pn->cmd.replay_response);
    memset(pn, 0, sizeof *pn);
}

/* ---- statements for an extra_fn ----------------------------------------- */

static const char *
or_null(const char *s) {
    return s && *s ? s : NULL;
}

oss_code_t
oss_app_grant_queue_add(oss_journal_queue_fn q, void *qctx,
                        const char *principal_id, const oss_grant_t *g,
                        oss_err_t *err) {
    const char *role = oss_role_name(g->role);
    if (!role[0])
        return oss_err_set(err, OSS_EINTERNAL, "grant without a role");
    const char *v[] = {principal_id,           role,
                       or_null(g->account_id), or_null(g->institution),
                       or_null(g->sector),     or_null(g->region)};
    return oss_app_queue(
        q, qctx,
        "INSERT INTO oss.grants (principal_id, role, account_id, "
        "institution, sector, region) VALUES ($1, $2, $3, $4, "
        "$5, $6)",
        6, v, err);
}

oss_code_t
oss_app_grant_queue_revoke(oss_journal_queue_fn q, void *qctx,
                           const char *principal_id, const char *account_id,
                           const char *reason, oss_err_t *err) {
    const char *v[] = {principal_id, or_null(account_id), reason ? reason : ""};
    return oss_app_queue(
        q, qctx,
        "UPDATE oss.grants SET revoked_at = now(), revoke_reason "
        "= $3 WHERE principal_id = $1 AND revoked_at IS NULL AND "
        "($2::text IS NULL OR account_id = $2::text)",
        3, v, err);
}

oss_code_t
oss_app_sessions_queue_revoke(oss_journal_queue_fn q, void *qctx,
                              const char *principal_id, const char *reason,
                              bool drop_password, oss_err_t *err) {
    char stream[OSS_ID_MAX];
    snprintf(stream, sizeof stream, OSS_APP_ACCESS_STREAM_PREFIX "%s",
             principal_id);
    const char *v[] = {stream, reason ? reason : ""};
    oss_code_t rc = oss_app_queue(q, qctx,
                                  "UPDATE oss.sessions SET revoked_at = now(), "
                                  "revoke_reason = $2 WHERE stream_id = $1 AND "
                                  "revoked_at IS NULL",
                                  2, v, err);
    if (rc != OSS_OK || !drop_password)
        return rc;
    rc = oss_app_queue(
        q, qctx, "DELETE FROM oss.credentials WHERE stream_id = $1", 1, v, err);
    /* a reset link issued before the revocation must not bring a password
     * back */
    if (rc == OSS_OK)
        rc = oss_app_queue(q, qctx,
                           "DELETE FROM oss.reset_secrets WHERE stream_id = $1",
                           1, v, err);
    return rc;
}

oss_code_t
oss_app_credentials_queue_drop_if_ungranted(oss_journal_queue_fn q, void *qctx,
                                            const char *principal_id,
                                            oss_err_t *err) {
    char stream[OSS_ID_MAX];
    snprintf(stream, sizeof stream, OSS_APP_ACCESS_STREAM_PREFIX "%s",
             principal_id);
    const char *v[] = {stream, principal_id};
    oss_code_t rc = oss_app_queue(
        q, qctx,
        "DELETE FROM oss.credentials WHERE stream_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM oss.grants WHERE principal_id = $2 AND revoked_at IS "
        "NULL)",
        2, v, err);
    if (rc == OSS_OK)
        rc = oss_app_queue(
            q, qctx,
            "DELETE FROM oss.reset_secrets WHERE stream_id = $1 AND NOT "
            "EXISTS (SELECT 1 FROM oss.grants WHERE principal_id = $2 AND "
            "revoked_at IS NULL)",
            2, v, err);
    return rc;
}
