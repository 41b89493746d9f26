/* Account recovery, pure: masking, password-reset links, help requests and
 * a fixed-window counter, decided against a caller-given time. */
#include "core/recovery.h"
#include "core/bytes.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000LL

void
oss_rc_policy_default(oss_rc_policy_t *p) {
    p->reset_ttl_us = 30 * 60 * SEC;
    p->reset_max = 3;
    p->reset_window_us = 3600 * SEC;
    p->help_max_open = 3;
}

/* ---- masking ------------------------------------------------------------- */

bool
oss_rc_mask_email(const char *email, char *out, size_t n) {
    const char *at;

    if (n)
        out[0] = '\0';
    if (!email || !(at = strrchr(email, '@')) || at == email || !at[1])
        return false;
    size_t need = 1 + 3 + strlen(at) + 1;
    if (need > n)
        return false;
    snprintf(out, n, "%c***%s", email[0], at);
    return true;
}

bool
oss_rc_mask_phone(const char *phone, char *out, size_t n) {
    size_t len;

    if (n)
        out[0] = '\0';
    if (!phone || phone[0] != '+')
        return false;
    len = strlen(phone);
    if (len < 8 || len > 16 || strspn(phone + 1, "0123456789") != len - 1)
        return false;
    if (len >= 10) {
        if (n < 6 + 4 + 3 + 1)
            return false;
        snprintf(out, n, "%.6s****%s", phone, phone + len - 3);
    } else {
        if (n < 1 + 4 + 2 + 1)
            return false;
        snprintf(out, n, "+****%s", phone + len - 2);
    }
    return true;
}

bool
oss_rc_mask_id(const char *id, char *out, size_t n) {
    size_t len;

    if (n)
        out[0] = '\0';
    if (!id || !(len = strlen(id)))
        return false;
    if (len > 10) {
        if (n < 4 + 4 + 4 + 1)
            return false;
        snprintf(out, n, "%.4s****%s", id, id + len - 4);
    } else {
        if (n < 1 + 4 + 1)
            return false;
        snprintf(out, n, "%c****", id[0]);
    }
    return true;
}

/* ---- password reset ------------------------------------------------------ */

void
oss_rc_reset_init(oss_rc_reset_state_t *st) {
    memset(st, 0, sizeof *st);
}

void
oss_rc_reset_evolve(oss_rc_reset_state_t *st, const oss_rc_fact_t *f) {
    switch (f->kind) {
    case OSS_RC_RESET_ISSUED:
        oss_str_copy(st->current, sizeof st->current, f->id);
        st->current_expires_us = f->expires_at_us;
        st->current_used = false;
        if (st->nissued == OSS_RC_MAX_ISSUED) {
            memmove(&st->issued_at_us[0], &st->issued_at_us[1],
                    (OSS_RC_MAX_ISSUED - 1) * sizeof st->issued_at_us[0]);
            st->nissued--;
        }
        st->issued_at_us[st->nissued++] = f->at_us;
        break;
    case OSS_RC_RESET_USED:
        if (strcmp(st->current, f->id) == 0)
            st->current_used = true;
        break;
    default:
        break;
    }
}

oss_code_t
oss_rc_decide_reset_issue(const oss_rc_reset_state_t *st,
                          const oss_rc_policy_t *p, int64_t now, bool active,
                          const char *reset_id, oss_rc_fact_t *out,
                          int64_t *retry_after_us, oss_err_t *err) {
    memset(out, 0, sizeof *out);
    if (retry_after_us)
        *retry_after_us = 0;
    if (!reset_id || !reset_id[0] || strlen(reset_id) >= OSS_RC_ID_MAX)
        return oss_err_field(err, OSS_EINVAL, "reset_id",
                             "could not issue a reset link: no id");
    if (!active)
        return oss_err_field(err, OSS_ECONFLICT, "not_active",
                             "could not issue a reset link: the account is "
                             "not active");
    /* links issued within the window (newest last) */
    int within = 0;
    for (size_t i = 0; i < st->nissued; i++)
        within += st->issued_at_us[i] > now - p->reset_window_us;
    if (p->reset_max <= 0 || within >= p->reset_max) {
        /* a slot frees when the reset_max-th newest link ages out */
        int64_t free_at = now + p->reset_window_us;
        if (p->reset_max > 0 && st->nissued >= (size_t)p->reset_max)
            free_at = st->issued_at_us[st->nissued - (size_t)p->reset_max] +
                      p->reset_window_us;
        if (retry_after_us)
            *retry_after_us = free_at > now ? free_at - now : 1;
        return oss_err_field(err, OSS_ECONFLICT, "rate_limited",
                             "could not issue a reset link: %d links were "
                             "issued within the window",
                             within);
    }
    out->kind = OSS_RC_RESET_ISSUED;
    out->at_us = now;
    out->expires_at_us = now + p->reset_ttl_us;
    oss_str_copy(out->id, sizeof out->id, reset_id);
    return OSS_OK;
}

oss_code_t
oss_rc_decide_reset_use(const oss_rc_reset_state_t *st, int64_t now,
                        const char *reset_id, oss_rc_fact_t *out,
                        oss_err_t *err) {
    memset(out, 0, sizeof *out);
    if (!reset_id || !reset_id[0] || !st->current[0] ||
        strcmp(st->current, reset_id) != 0)
        return oss_err_field(err, OSS_ENOTFOUND, "invalid_token",
                             "could not reset the password: the link is "
                             "unknown or was superseded by a newer one");
    if (st->current_used)
        return oss_err_field(err, OSS_ECONFLICT, "used",
                             "could not reset the password: the link was "
                             "used already");
    if (now >= st->current_expires_us)
        return oss_err_field(err, OSS_ECONFLICT, "expired",
                             "could not reset the password: the link "
                             "expired");
    out->kind = OSS_RC_RESET_USED;
    out->at_us = now;
    oss_str_copy(out->id, sizeof out->id, reset_id);
    return OSS_OK;
}

/* ---- help requests ------------------------------------------------------- */

void
oss_rc_help_init(oss_rc_help_state_t *st) {
    memset(st, 0, sizeof *st);
}

static oss_rc_help_t *
help_find(oss_rc_help_state_t *st, const char *id) {
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->req[i].id, id) == 0)
            return &st->req[i];
    return NULL;
}

const oss_rc_help_t *
oss_rc_help_find(const oss_rc_help_state_t *st, const char *id) {
    return id ? help_find((oss_rc_help_state_t *)st, id) : NULL;
}

void
oss_rc_help_evolve(oss_rc_help_state_t *st, const oss_rc_fact_t *f) {
    oss_rc_help_t *h;

    switch (f->kind) {
    case OSS_RC_HELP_FILED:
        if (help_find(st, f->id))
            return;
        if (st->n == OSS_RC_MAX_HELP) {
            /* drop the oldest decided request (or the oldest at all) */
            size_t drop = 0;
            for (size_t i = 0; i < st->n; i++)
                if (st->req[i].decision != OSS_RC_UNDECIDED) {
                    drop = i;
                    break;
                }
            memmove(&st->req[drop], &st->req[drop + 1],
                    (st->n - drop - 1) * sizeof st->req[0]);
            st->n--;
        }
        h = &st->req[st->n++];
        memset(h, 0, sizeof *h);
        oss_str_copy(h->id, sizeof h->id, f->id);
        h->filed_at_us = f->at_us;
        break;
    case OSS_RC_HELP_DECIDED:
        if ((h = help_find(st, f->id)) && h->decision == OSS_RC_UNDECIDED) {
            h->decision = f->decision;
            h->decided_at_us = f->at_us;
        }
        break;
    default:
        break;
    }
}

static bool
printable(const char *s, size_t min, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

oss_code_t
oss_rc_decide_help_file(const oss_rc_help_state_t *st, const oss_rc_policy_t *p,
                        int64_t now, const char *id, const char *evidence_ref,
                        oss_rc_fact_t *out, oss_err_t *err) {
    memset(out, 0, sizeof *out);
    if (!id || !id[0] || strlen(id) >= OSS_RC_ID_MAX)
        return oss_err_field(err, OSS_EINVAL, "request_id",
                             "could not file a help request: no id");
    if (!printable(evidence_ref, 1, 200))
        return oss_err_field(err, OSS_EINVAL, "evidence_ref",
                             "could not file a help request: evidence_ref "
                             "must be 1-200 printable characters");
    if (oss_rc_help_find(st, id))
        return oss_err_field(err, OSS_ECONFLICT, "duplicate",
                             "could not file a help request: \"%s\" exists",
                             id);
    int open = 0;
    for (size_t i = 0; i < st->n; i++)
        open += st->req[i].decision == OSS_RC_UNDECIDED;
    if (open >= p->help_max_open)
        return oss_err_field(err, OSS_ECONFLICT, "too_many_open",
                             "could not file a help request: %d requests "
                             "about this account await a decision",
                             open);
    out->kind = OSS_RC_HELP_FILED;
    out->at_us = now;
    oss_str_copy(out->id, sizeof out->id, id);
    return OSS_OK;
}

oss_code_t
oss_rc_decide_help(const oss_rc_help_state_t *st, int64_t now, const char *id,
                   const char *decision, const char *reason,
                   oss_rc_fact_t out[2], size_t *nout, oss_err_t *err) {
    oss_rc_decision_kind_t k;

    *nout = 0;
    memset(out, 0, 2 * sizeof out[0]);
    const oss_rc_help_t *h = oss_rc_help_find(st, id);
    if (!h)
        return oss_err_field(err, OSS_ENOTFOUND, "no_request",
                             "could not decide: no such help request");
    if (h->decision != OSS_RC_UNDECIDED)
        return oss_err_field(err, OSS_ECONFLICT, "already_decided",
                             "could not decide: the help request was "
                             "decided already");
    if (decision && !strcmp(decision, "approve"))
        k = OSS_RC_APPROVED;
    else if (decision && !strcmp(decision, "reject"))
        k = OSS_RC_REJECTED;
    else
        return oss_err_field(err, OSS_EINVAL, "decision",
                             "could not decide: decision must be approve or "
                             "reject");
    if (!reason || !reason[0] || strlen(reason) > 500)
        return oss_err_field(err, OSS_EINVAL, "reason",
                             "could not decide: a reason of 1-500 bytes is "
                             "required");
    out[0].kind = OSS_RC_HELP_DECIDED;
    out[0].at_us = now;
    out[0].decision = k;
    oss_str_copy(out[0].id, sizeof out[0].id, id);
    *nout = 1;
    if (k == OSS_RC_APPROVED) {
        out[1].kind = OSS_RC_CONTACT_REPLACED;
        out[1].at_us = now;
        oss_str_copy(out[1].id, sizeof out[1].id, id);
        *nout = 2;
    }
    return OSS_OK;
}

/* ---- fixed window -------------------------------------------------------- */

bool
oss_rc_window_take(oss_rc_window_t *w, int max, int64_t window_us, int64_t now,
                   int64_t *retry_after_us) {
    if (retry_after_us)
        *retry_after_us = 0;
    if (w->count == 0 || now >= w->start_us + window_us || now < w->start_us) {
        w->start_us = now;
        w->count = 0;
    }
    if (w->count >= max) {
        if (retry_after_us) {
            int64_t r = w->start_us + window_us - now;
            *retry_after_us = r > 0 ? r : 1;
        }
        return false;
    }
    w->count++;
    return true;
}
