/* The codecs between protobuf event payloads and the pure core's facts
 * (codec.h): decode an event into a fact, fold a history, and pack decided
 * facts as new events. */
#include "app/codec.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "oss/v1/access.pb-c.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"
#include "oss/v1/recovery.pb-c.h"

/* ---- the account lifecycle (src/core/lifecycle.h) ------------------------ */

static void
lc_decode(const oss_event_t *ev, oss_lc_fact_t *f) {
    const char *t = ev->payload_type;
    memset(f, 0, sizeof *f);
    f->version = ev->version;
    f->at_us = ev->occurred_at_us;
    if (!strcmp(t, "oss.v1.AccountRegistered") ||
        !strcmp(t, "oss.v1.PrincipalCreated")) { /* P1: principals */
        f->kind = OSS_LC_REGISTERED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_ISSUED)) {
        Oss__V1__ActivationIssued *m = oss__v1__activation_issued__unpack(
            NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_ISSUED;
        if (m) {
            f->expires_at_us = m->expires_at_us;
            snprintf(f->channel, sizeof f->channel, "%s", m->channel);
            snprintf(f->id, sizeof f->id, "%s", m->delivery_id);
            oss__v1__activation_issued__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_SUCCEEDED)) {
        f->kind = OSS_LC_SUCCEEDED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_FAILED)) {
        f->kind = OSS_LC_FAILED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_LOCKED)) {
        f->kind = OSS_LC_LOCKED;
    } else if (!strcmp(t, OSS_LC_T_ACTIVATION_RESENT)) {
        f->kind = OSS_LC_RESENT;
    } else if (!strcmp(t, OSS_LC_T_PASSWORD_SET)) {
        f->kind = OSS_LC_PASSWORD;
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_SUCCEEDED)) {
        Oss__V1__SignInSucceeded *m = oss__v1__sign_in_succeeded__unpack(
            NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SIGNIN_OK;
        if (m) {
            f->expires_at_us = m->expires_at_us;
            snprintf(f->id, sizeof f->id, "%s", m->session_id);
            snprintf(f->source, sizeof f->source, "%s", m->source_hash);
            oss__v1__sign_in_succeeded__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_FAILED)) {
        Oss__V1__SignInFailed *m =
            oss__v1__sign_in_failed__unpack(NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SIGNIN_FAILED;
        if (m) {
            snprintf(f->source, sizeof f->source, "%s", m->source_hash);
            f->attempt = m->attempt;
            oss__v1__sign_in_failed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_LC_T_SIGN_IN_THROTTLED)) {
        f->kind = OSS_LC_SIGNIN_THROTTLED;
    } else if (!strcmp(t, OSS_LC_T_SESSION_ENDED)) {
        Oss__V1__SessionEnded *m =
            oss__v1__session_ended__unpack(NULL, ev->payload_len, ev->payload);
        f->kind = OSS_LC_SESSION_ENDED;
        if (m) {
            snprintf(f->id, sizeof f->id, "%s", m->session_id);
            snprintf(f->reason, sizeof f->reason, "%s", m->reason);
            oss__v1__session_ended__free_unpacked(m, NULL);
        }
    }
}

/* Folds the access stream; registered = the account stream holds an
 * AccountRegistered (known to the caller), applied first. */
static oss_code_t
lc_fold(const oss_event_t *history, size_t n, bool registered,
        oss_lc_state_t *st, oss_err_t *err) {
    oss_lc_state_init(st);
    if (registered) {
        oss_lc_fact_t reg = {.kind = OSS_LC_REGISTERED};
        oss_lc_evolve(st, &reg);
    }
    for (size_t i = 0; i < n; i++) {
        oss_lc_fact_t f;
        lc_decode(&history[i], &f);
        oss_lc_evolve(st, &f);
    }
    (void)err;
    return OSS_OK;
}

/* Packs one decided fact into a new event of out. method: for SUCCEEDED. */
static oss_code_t
lc_encode_fact(const oss_lc_fact_t *f, const oss_lc_state_t *st,
               const char *method, const char *account_id,
               oss_event_list_t *out, oss_err_t *err) {
    ProtobufCMessage *msg = NULL;
    const char *type = NULL;
    Oss__V1__ActivationIssued ai = OSS__V1__ACTIVATION_ISSUED__INIT;
    Oss__V1__ActivationSucceeded as = OSS__V1__ACTIVATION_SUCCEEDED__INIT;
    Oss__V1__ActivationFailed af = OSS__V1__ACTIVATION_FAILED__INIT;
    Oss__V1__ActivationLocked al = OSS__V1__ACTIVATION_LOCKED__INIT;
    Oss__V1__ActivationResent ar = OSS__V1__ACTIVATION_RESENT__INIT;
    Oss__V1__PasswordSet ps = OSS__V1__PASSWORD_SET__INIT;
    Oss__V1__SignInSucceeded so = OSS__V1__SIGN_IN_SUCCEEDED__INIT;
    Oss__V1__SignInFailed sf = OSS__V1__SIGN_IN_FAILED__INIT;
    Oss__V1__SignInThrottled sth = OSS__V1__SIGN_IN_THROTTLED__INIT;
    Oss__V1__SessionEnded se = OSS__V1__SESSION_ENDED__INIT;

    switch (f->kind) {
    case OSS_LC_ISSUED:
        ai.channel = (char *)f->channel;
        ai.expires_at_us = f->expires_at_us;
        ai.delivery_id = (char *)f->id;
        ai.account_id = (char *)account_id;
        msg = &ai.base;
        type = OSS_LC_T_ACTIVATION_ISSUED;
        break;
    case OSS_LC_SUCCEEDED:
        as.method = (char *)(method ? method : "");
        msg = &as.base;
        type = OSS_LC_T_ACTIVATION_SUCCEEDED;
        break;
    case OSS_LC_FAILED:
        af.attempt = f->attempt;
        msg = &af.base;
        type = OSS_LC_T_ACTIVATION_FAILED;
        break;
    case OSS_LC_LOCKED:
        al.attempts = st->activation_failures + 1;
        msg = &al.base;
        type = OSS_LC_T_ACTIVATION_LOCKED;
        break;
    case OSS_LC_RESENT:
        ar.channel = (char *)f->channel;
        msg = &ar.base;
        type = OSS_LC_T_ACTIVATION_RESENT;
        break;
    case OSS_LC_PASSWORD:
        ps.first = !st->password_set;
        msg = &ps.base;
        type = OSS_LC_T_PASSWORD_SET;
        break;
    case OSS_LC_SIGNIN_OK:
        so.session_id = (char *)f->id;
        so.expires_at_us = f->expires_at_us;
        so.source_hash = (char *)f->source;
        msg = &so.base;
        type = OSS_LC_T_SIGN_IN_SUCCEEDED;
        break;
    case OSS_LC_SIGNIN_FAILED:
        sf.source_hash = (char *)f->source;
        sf.attempt = f->attempt;
        msg = &sf.base;
        type = OSS_LC_T_SIGN_IN_FAILED;
        break;
    case OSS_LC_SIGNIN_THROTTLED:
        sth.failures = st->signin_failures + 1;
        msg = &sth.base;
        type = OSS_LC_T_SIGN_IN_THROTTLED;
        break;
    case OSS_LC_SESSION_ENDED:
        se.session_id = (char *)f->id;
        se.reason = (char *)f->reason;
        msg = &se.base;
        type = OSS_LC_T_SESSION_ENDED;
        break;
    default:
        return oss_err_set(err, OSS_EINTERNAL, "cannot encode fact %d",
                           (int)f->kind);
    }
    return oss_app_event_push(out, type, msg, f->at_us, NULL, err);
}

oss_code_t
oss_app_lc_encode_method(const oss_lc_decision_t *d, const oss_lc_state_t *st,
                         const char *method, const char *account_id,
                         oss_event_list_t *out, oss_err_t *err) {
    for (size_t i = 0; i < d->n; i++) {
        oss_code_t rc =
            lc_encode_fact(&d->facts[i], st, method, account_id, out, err);
        if (rc != OSS_OK)
            return rc;
    }
    return OSS_OK;
}

void
oss_app_lc_fold(const oss_event_t *history, size_t n, bool registered,
                oss_lc_state_t *st) {
    oss_err_t err;
    lc_fold(history, n, registered, st, &err);
}

oss_code_t
oss_app_lc_encode(const oss_lc_decision_t *d, const oss_lc_state_t *st,
                  const char *account_id, oss_event_list_t *out,
                  oss_err_t *err) {
    return oss_app_lc_encode_method(d, st, "", account_id, out, err);
}

/* ---- access rights (src/core/access.h) ----------------------------------- */

#define T_ACCOUNT_REGISTERED "oss.v1.AccountRegistered"

/* Decodes one event of an account stream (account_id: the first owner). */
static void
ac_decode(const oss_event_t *ev, const char *account_id, oss_ac_fact_t *f) {
    const char *t = ev->payload_type;
    const uint8_t *p = ev->payload;
    size_t n = ev->payload_len;

    memset(f, 0, sizeof *f);
    f->version = ev->version;
    f->at_us = ev->occurred_at_us;
    oss_str_copy(f->actor, sizeof f->actor, ev->actor_id);
    if (!strcmp(t, T_ACCOUNT_REGISTERED)) {
        f->kind = OSS_AC_REGISTERED;
        oss_str_copy(f->principal_id, sizeof f->principal_id, account_id);
    } else if (!strcmp(t, OSS_AC_T_MEMBER_ADDED)) {
        Oss__V1__MemberAdded *m = oss__v1__member_added__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_MEMBER_ADDED;
            oss_str_copy(f->principal_id, sizeof f->principal_id,
                         m->principal_id);
            f->role = oss_role_parse(m->role);
            oss__v1__member_added__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_MEMBER_REMOVED)) {
        Oss__V1__MemberRemoved *m = oss__v1__member_removed__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_MEMBER_REMOVED;
            oss_str_copy(f->principal_id, sizeof f->principal_id,
                         m->principal_id);
            f->role = oss_role_parse(m->role);
            oss__v1__member_removed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_TRANSFER_OFFERED)) {
        Oss__V1__OwnershipTransferOffered *m =
            oss__v1__ownership_transfer_offered__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_TRANSFER_OFFERED;
            oss_str_copy(f->principal_id, sizeof f->principal_id,
                         m->principal_id);
            f->until_us = m->expires_at_us;
            oss__v1__ownership_transfer_offered__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_TRANSFER_ACCEPTED)) {
        Oss__V1__OwnershipTransferAccepted *m =
            oss__v1__ownership_transfer_accepted__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_TRANSFER_ACCEPTED;
            oss_str_copy(f->principal_id, sizeof f->principal_id,
                         m->principal_id);
            oss_str_copy(f->previous_owner, sizeof f->previous_owner,
                         m->previous_owner);
            oss__v1__ownership_transfer_accepted__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_HANDOVER_FILED)) {
        Oss__V1__HandoverFiled *m = oss__v1__handover_filed__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_HANDOVER_FILED;
            oss_str_copy(f->request_id, sizeof f->request_id, m->request_id);
            oss_str_copy(f->principal_id, sizeof f->principal_id, m->new_owner);
            oss_str_copy(f->evidence_ref, sizeof f->evidence_ref,
                         m->evidence_ref);
            f->until_us = m->cooling_off_until_us;
            f->working_days = m->cooling_off_working_days;
            oss__v1__handover_filed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_HANDOVER_OBJECTED)) {
        Oss__V1__HandoverObjected *m =
            oss__v1__handover_objected__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_HANDOVER_OBJECTED;
            oss_str_copy(f->request_id, sizeof f->request_id, m->request_id);
            oss__v1__handover_objected__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_HANDOVER_APPROVED)) {
        Oss__V1__HandoverApproved *m =
            oss__v1__handover_approved__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_HANDOVER_APPROVED;
            oss_str_copy(f->request_id, sizeof f->request_id, m->request_id);
            oss_str_copy(f->principal_id, sizeof f->principal_id, m->new_owner);
            oss_str_copy(f->previous_owner, sizeof f->previous_owner,
                         m->previous_owner);
            oss__v1__handover_approved__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_HANDOVER_REJECTED)) {
        Oss__V1__HandoverRejected *m =
            oss__v1__handover_rejected__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_HANDOVER_REJECTED;
            oss_str_copy(f->request_id, sizeof f->request_id, m->request_id);
            oss_str_copy(f->principal_id, sizeof f->principal_id, m->new_owner);
            oss__v1__handover_rejected__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_ACCESS_TERMINATED)) {
        Oss__V1__AccessTerminated *m =
            oss__v1__access_terminated__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_TERMINATED;
            f->term = oss_ac_term_parse(m->reason_code);
            oss_str_copy(f->principal_id, sizeof f->principal_id,
                         m->principal_id);
            oss_str_copy(f->evidence_ref, sizeof f->evidence_ref,
                         m->evidence_ref);
            f->role = oss_role_parse(m->role);
            oss__v1__access_terminated__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_ACCESS_RESTRICTED)) {
        Oss__V1__AccessRestricted *m =
            oss__v1__access_restricted__unpack(NULL, n, p);
        if (m) {
            f->kind = OSS_AC_RESTRICTED;
            oss_str_copy(f->evidence_ref, sizeof f->evidence_ref,
                         m->evidence_ref);
            oss__v1__access_restricted__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_AC_T_RESTRICTION_LIFTED)) {
        f->kind = OSS_AC_RESTRICTION_LIFTED;
    }
}

void
oss_app_ac_fold(const oss_event_t *h, size_t n, const char *account_id,
                oss_ac_state_t *st) {
    oss_ac_state_init(st);
    for (size_t i = 0; i < n; i++) {
        oss_ac_fact_t f;
        ac_decode(&h[i], account_id, &f);
        oss_ac_evolve(st, &f);
    }
}

/* Packs one decided fact as a new event of out with reason (borrowed). */
oss_code_t
oss_app_ac_encode(const oss_ac_fact_t *f, bool new_principal,
                  const char *reason, oss_event_list_t *out, oss_err_t *err) {
    ProtobufCMessage *msg = NULL;
    const char *type = NULL;
    Oss__V1__MemberAdded ma = OSS__V1__MEMBER_ADDED__INIT;
    Oss__V1__MemberRemoved mr = OSS__V1__MEMBER_REMOVED__INIT;
    Oss__V1__OwnershipTransferOffered to =
        OSS__V1__OWNERSHIP_TRANSFER_OFFERED__INIT;
    Oss__V1__OwnershipTransferAccepted ta =
        OSS__V1__OWNERSHIP_TRANSFER_ACCEPTED__INIT;
    Oss__V1__HandoverFiled hf = OSS__V1__HANDOVER_FILED__INIT;
    Oss__V1__HandoverObjected ho = OSS__V1__HANDOVER_OBJECTED__INIT;
    Oss__V1__HandoverApproved ha = OSS__V1__HANDOVER_APPROVED__INIT;
    Oss__V1__HandoverRejected hr = OSS__V1__HANDOVER_REJECTED__INIT;
    Oss__V1__AccessTerminated at = OSS__V1__ACCESS_TERMINATED__INIT;
    Oss__V1__AccessRestricted ar = OSS__V1__ACCESS_RESTRICTED__INIT;
    Oss__V1__AccessRestrictionLifted al =
        OSS__V1__ACCESS_RESTRICTION_LIFTED__INIT;

    switch (f->kind) {
    case OSS_AC_MEMBER_ADDED:
        ma.principal_id = (char *)f->principal_id;
        ma.role = (char *)oss_role_name(f->role);
        ma.new_principal = new_principal;
        msg = &ma.base;
        type = OSS_AC_T_MEMBER_ADDED;
        break;
    case OSS_AC_MEMBER_REMOVED:
        mr.principal_id = (char *)f->principal_id;
        mr.role = (char *)oss_role_name(f->role);
        msg = &mr.base;
        type = OSS_AC_T_MEMBER_REMOVED;
        break;
    case OSS_AC_TRANSFER_OFFERED:
        to.principal_id = (char *)f->principal_id;
        to.expires_at_us = f->until_us;
        to.new_principal = new_principal;
        msg = &to.base;
        type = OSS_AC_T_TRANSFER_OFFERED;
        break;
    case OSS_AC_TRANSFER_ACCEPTED:
        ta.principal_id = (char *)f->principal_id;
        ta.previous_owner = (char *)f->previous_owner;
        msg = &ta.base;
        type = OSS_AC_T_TRANSFER_ACCEPTED;
        break;
    case OSS_AC_HANDOVER_FILED:
        hf.request_id = (char *)f->request_id;
        hf.new_owner = (char *)f->principal_id;
        hf.evidence_ref = (char *)f->evidence_ref;
        hf.cooling_off_until_us = f->until_us;
        hf.cooling_off_working_days = f->working_days;
        hf.previous_owner = (char *)f->previous_owner;
        hf.new_principal = new_principal;
        msg = &hf.base;
        type = OSS_AC_T_HANDOVER_FILED;
        break;
    case OSS_AC_HANDOVER_OBJECTED:
        ho.request_id = (char *)f->request_id;
        msg = &ho.base;
        type = OSS_AC_T_HANDOVER_OBJECTED;
        break;
    case OSS_AC_HANDOVER_APPROVED:
        ha.request_id = (char *)f->request_id;
        ha.new_owner = (char *)f->principal_id;
        ha.previous_owner = (char *)f->previous_owner;
        msg = &ha.base;
        type = OSS_AC_T_HANDOVER_APPROVED;
        break;
    case OSS_AC_HANDOVER_REJECTED:
        hr.request_id = (char *)f->request_id;
        hr.new_owner = (char *)f->principal_id;
        msg = &hr.base;
        type = OSS_AC_T_HANDOVER_REJECTED;
        break;
    case OSS_AC_TERMINATED:
        at.reason_code = (char *)oss_ac_term_name(f->term);
        at.principal_id = (char *)f->principal_id;
        at.evidence_ref = (char *)f->evidence_ref;
        at.role = (char *)oss_role_name(f->role);
        msg = &at.base;
        type = OSS_AC_T_ACCESS_TERMINATED;
        break;
    case OSS_AC_RESTRICTED:
        ar.evidence_ref = (char *)f->evidence_ref;
        msg = &ar.base;
        type = OSS_AC_T_ACCESS_RESTRICTED;
        break;
    case OSS_AC_RESTRICTION_LIFTED:
        msg = &al.base;
        type = OSS_AC_T_RESTRICTION_LIFTED;
        break;
    default:
        return oss_err_set(err, OSS_EINTERNAL, "cannot encode access fact %d",
                           (int)f->kind);
    }
    return oss_app_event_push(out, type, msg, f->at_us,
                              reason && *reason ? reason : NULL, err);
}

/* ---- account recovery (src/core/recovery.h) ------------------------------ */

/* Decodes the recovery facts of one event (others: OSS_RC_OTHER). */
void
oss_app_rc_decode(const oss_event_t *ev, oss_rc_fact_t *f) {
    const char *t = ev->payload_type;
    memset(f, 0, sizeof *f);
    f->at_us = ev->occurred_at_us;
    if (!strcmp(t, OSS_RC_T_RESET_REQUESTED)) {
        Oss__V1__PasswordResetRequested *m =
            oss__v1__password_reset_requested__unpack(NULL, ev->payload_len,
                                                      ev->payload);
        if (m) {
            f->kind = OSS_RC_RESET_ISSUED;
            f->expires_at_us = m->expires_at_us;
            oss_str_copy(f->id, sizeof f->id, m->reset_id);
            oss__v1__password_reset_requested__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_RC_T_RESET_COMPLETED)) {
        Oss__V1__PasswordResetCompleted *m =
            oss__v1__password_reset_completed__unpack(NULL, ev->payload_len,
                                                      ev->payload);
        if (m) {
            f->kind = OSS_RC_RESET_USED;
            oss_str_copy(f->id, sizeof f->id, m->reset_id);
            oss__v1__password_reset_completed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_RC_T_HELP_FILED)) {
        Oss__V1__HelpRequestFiled *m = oss__v1__help_request_filed__unpack(
            NULL, ev->payload_len, ev->payload);
        if (m) {
            f->kind = OSS_RC_HELP_FILED;
            oss_str_copy(f->id, sizeof f->id, m->request_id);
            oss__v1__help_request_filed__free_unpacked(m, NULL);
        }
    } else if (!strcmp(t, OSS_RC_T_HELP_DECIDED)) {
        Oss__V1__HelpRequestDecided *m = oss__v1__help_request_decided__unpack(
            NULL, ev->payload_len, ev->payload);
        if (m) {
            f->kind = OSS_RC_HELP_DECIDED;
            oss_str_copy(f->id, sizeof f->id, m->request_id);
            f->decision = !strcmp(m->decision, "approve") ? OSS_RC_APPROVED
                                                          : OSS_RC_REJECTED;
            oss__v1__help_request_decided__free_unpacked(m, NULL);
        }
    }
}
