/* The account lifecycle (activation, password, sign-in, sessions): evolve
 * and decide, pure, against a caller-given time. */
#include "core/lifecycle.h"
#include "core/bytes.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000LL

void
oss_lc_policy_default(oss_lc_policy_t *p) {
    p->activation_ttl_us = 15 * 60 * SEC;
    p->activation_max_attempts = 5;
    p->resend_max = 3;
    p->resend_window_us = 3600 * SEC;
    p->signin_threshold = 5;
    p->signin_delay_us = 1 * SEC;
    p->signin_delay_max_us = 15 * 60 * SEC;
    p->session_ttl_us = 12 * 3600 * SEC;
}

void
oss_lc_state_init(oss_lc_state_t *st) {
    memset(st, 0, sizeof *st);
}

static oss_lc_source_t *
source_find(oss_lc_state_t *st, const char *hash) {
    for (size_t i = 0; i < st->nsources; i++)
        if (strcmp(st->sources[i].hash, hash) == 0)
            return &st->sources[i];
    return NULL;
}

static const oss_lc_source_t *
source_find_c(const oss_lc_state_t *st, const char *hash) {
    return source_find((oss_lc_state_t *)st, hash);
}

/* A source entry for hash, evicting the least recently failed one when
 * the table is full. */
static oss_lc_source_t *
source_get(oss_lc_state_t *st, const char *hash) {
    oss_lc_source_t *s = source_find(st, hash);
    if (s)
        return s;
    if (st->nsources < OSS_LC_MAX_SOURCES) {
        s = &st->sources[st->nsources++];
    } else {
        s = &st->sources[0];
        for (size_t i = 1; i < st->nsources; i++)
            if (st->sources[i].last_failure_us < s->last_failure_us)
                s = &st->sources[i];
    }
    memset(s, 0, sizeof *s);
    oss_str_copy(s->hash, sizeof s->hash, hash);
    return s;
}

static void
session_remove(oss_lc_state_t *st, const char *id) {
    for (size_t i = 0; i < st->nsessions; i++)
        if (strcmp(st->sessions[i].id, id) == 0) {
            memmove(&st->sessions[i], &st->sessions[i + 1],
                    (st->nsessions - i - 1) * sizeof st->sessions[0]);
            st->nsessions--;
            return;
        }
}

void
oss_lc_evolve(oss_lc_state_t *st, const oss_lc_fact_t *f) {
    switch (f->kind) {
    case OSS_LC_REGISTERED:
        if (st->status == OSS_LC_NEW)
            st->status = OSS_LC_REGISTERED_ONLY;
        break;
    case OSS_LC_ISSUED:
        if (st->status != OSS_LC_ACTIVE) {
            st->status = OSS_LC_PENDING;
            st->activation_expires_at_us = f->expires_at_us;
            st->activation_failures = 0;
            oss_str_copy(st->delivery_id, sizeof st->delivery_id, f->id);
            oss_str_copy(st->channel, sizeof st->channel, f->channel);
        }
        break;
    case OSS_LC_SUCCEEDED:
        st->status = OSS_LC_ACTIVE;
        st->activated_at_us = f->at_us;
        st->activation_failures = 0;
        break;
    case OSS_LC_FAILED:
        st->activation_failures++;
        break;
    case OSS_LC_LOCKED:
        if (st->status != OSS_LC_ACTIVE)
            st->status = OSS_LC_LOCKED_OUT;
        break;
    case OSS_LC_RESENT:
        if (st->nresent == OSS_LC_MAX_RESENDS) {
            memmove(&st->resent_at_us[0], &st->resent_at_us[1],
                    (OSS_LC_MAX_RESENDS - 1) * sizeof st->resent_at_us[0]);
            st->nresent--;
        }
        st->resent_at_us[st->nresent++] = f->at_us;
        break;
    case OSS_LC_PASSWORD:
        st->password_set = true;
        break;
    case OSS_LC_SIGNIN_OK: {
        st->signin_failures = 0;
        st->throttled = false;
        /* the succeeding source starts afresh; others keep their count */
        if (f->source[0]) {
            oss_lc_source_t *s = source_find(st, f->source);
            if (s)
                s->failures = 0;
        }
        if (st->nsessions == OSS_LC_MAX_SESSIONS)
            session_remove(st, st->sessions[0].id);
        oss_lc_session_t *s = &st->sessions[st->nsessions++];
        memset(s, 0, sizeof *s);
        oss_str_copy(s->id, sizeof s->id, f->id);
        s->started_us = f->at_us;
        s->expires_at_us = f->expires_at_us;
        break;
    }
    case OSS_LC_SIGNIN_FAILED: {
        st->signin_failures++;
        oss_lc_source_t *s = source_get(st, f->source);
        s->failures++;
        s->last_failure_us = f->at_us;
        break;
    }
    case OSS_LC_SIGNIN_THROTTLED:
        st->throttled = true;
        break;
    case OSS_LC_SESSION_ENDED:
        session_remove(st, f->id);
        break;
    case OSS_LC_OTHER:
        break;
    }
    if (f->version > st->version)
        st->version = f->version;
}

void
oss_lc_fold(oss_lc_state_t *st, const oss_lc_fact_t *facts, size_t n) {
    oss_lc_state_init(st);
    for (size_t i = 0; i < n; i++)
        oss_lc_evolve(st, &facts[i]);
}

static oss_lc_fact_t *
push(oss_lc_decision_t *d, oss_lc_kind_t kind, int64_t now) {
    oss_lc_fact_t *f = &d->facts[d->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->at_us = now;
    return f;
}

static bool
channel_ok(const char *c) {
    return c && (strcmp(c, "email") == 0 || strcmp(c, "whatsapp") == 0);
}

static oss_code_t
refuse(oss_err_t *err, oss_code_t code, const char *why, const char *msg) {
    return oss_err_field(err, code, why, "%s", msg);
}

oss_code_t
oss_lc_decide_issue(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                    int64_t now, const char *channel, const char *delivery_id,
                    oss_lc_decision_t *d, oss_err_t *err) {
    memset(d, 0, sizeof *d);
    if (st->status == OSS_LC_NEW)
        return refuse(err, OSS_ENOTFOUND, "not_registered",
                      "could not issue activation: no such account");
    if (st->status != OSS_LC_REGISTERED_ONLY)
        return refuse(err, OSS_ECONFLICT, "already_issued",
                      "could not issue activation: it was already issued");
    if (!channel_ok(channel))
        return oss_err_field(err, OSS_EINVAL, "channel",
                             "channel must be \"email\" or \"whatsapp\"");
    oss_lc_fact_t *f = push(d, OSS_LC_ISSUED, now);
    oss_str_copy(f->channel, sizeof f->channel, channel);
    oss_str_copy(f->id, sizeof f->id, delivery_id);
    f->expires_at_us = now + p->activation_ttl_us;
    return OSS_OK;
}

oss_code_t
oss_lc_decide_resend(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                     int64_t now, const char *channel, const char *delivery_id,
                     oss_lc_decision_t *d, oss_err_t *err) {
    memset(d, 0, sizeof *d);
    if (st->status == OSS_LC_NEW)
        return refuse(err, OSS_ENOTFOUND, "not_registered",
                      "could not resend activation: no such account");
    if (st->status == OSS_LC_ACTIVE)
        return refuse(err, OSS_ECONFLICT, "already_active",
                      "could not resend activation: the account is already "
                      "active");
    if (!channel_ok(channel))
        return oss_err_field(err, OSS_EINVAL, "channel",
                             "channel must be \"email\" or \"whatsapp\"");
    /* the resends inside the window [now - window, now] */
    int in_window = 0;
    int64_t oldest = 0;
    for (size_t i = 0; i < st->nresent; i++)
        if (st->resent_at_us[i] > now - p->resend_window_us) {
            if (!in_window)
                oldest = st->resent_at_us[i];
            in_window++;
        }
    if (p->resend_max <= 0 || in_window >= p->resend_max) {
        /* the k-th most recent leaves the window first */
        int64_t leaves = oldest;
        if (p->resend_max > 0 && in_window > p->resend_max) {
            int skip = in_window - p->resend_max;
            for (size_t i = 0; i < st->nresent; i++)
                if (st->resent_at_us[i] > now - p->resend_window_us &&
                    skip-- == 0) {
                    leaves = st->resent_at_us[i];
                    break;
                }
        }
        d->retry_after_us = leaves + p->resend_window_us - now;
        if (d->retry_after_us < 1)
            d->retry_after_us = 1;
        return refuse(err, OSS_ECONFLICT, "rate_limited",
                      "could not resend activation: too many resends; "
                      "retry later");
    }
    oss_lc_fact_t *r = push(d, OSS_LC_RESENT, now);
    oss_str_copy(r->channel, sizeof r->channel, channel);
    oss_lc_fact_t *f = push(d, OSS_LC_ISSUED, now);
    oss_str_copy(f->channel, sizeof f->channel, channel);
    oss_str_copy(f->id, sizeof f->id, delivery_id);
    f->expires_at_us = now + p->activation_ttl_us;
    return OSS_OK;
}

oss_code_t
oss_lc_decide_verify(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                     int64_t now, bool matched, oss_lc_verify_t *outcome,
                     oss_lc_decision_t *d, oss_err_t *err) {
    memset(d, 0, sizeof *d);
    *outcome = OSS_LC_VERIFY_WRONG;
    switch (st->status) {
    case OSS_LC_NEW:
        return refuse(err, OSS_ENOTFOUND, "not_registered",
                      "could not activate: no such account");
    case OSS_LC_ACTIVE:
        return refuse(err, OSS_ECONFLICT, "already_active",
                      "could not activate: the account is already active");
    case OSS_LC_REGISTERED_ONLY:
        return refuse(err, OSS_ECONFLICT, "not_pending",
                      "could not activate: no activation was issued");
    case OSS_LC_LOCKED_OUT:
        return refuse(err, OSS_ECONFLICT, "locked",
                      "could not activate: too many wrong codes; request a "
                      "new one");
    case OSS_LC_PENDING:
        break;
    }
    if (now >= st->activation_expires_at_us)
        return refuse(err, OSS_ECONFLICT, "expired",
                      "could not activate: the code has expired; request a "
                      "new one");
    if (matched) {
        push(d, OSS_LC_SUCCEEDED, now);
        *outcome = OSS_LC_VERIFY_OK;
        return OSS_OK;
    }
    oss_lc_fact_t *f = push(d, OSS_LC_FAILED, now);
    f->attempt = st->activation_failures + 1;
    if (f->attempt >= p->activation_max_attempts) {
        push(d, OSS_LC_LOCKED, now);
        *outcome = OSS_LC_VERIFY_LOCKED_NOW;
    }
    return OSS_OK;
}

oss_code_t
oss_lc_decide_set_password(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                           int64_t now, bool authed, oss_lc_decision_t *d,
                           oss_err_t *err) {
    memset(d, 0, sizeof *d);
    if (st->status == OSS_LC_NEW)
        return refuse(err, OSS_ENOTFOUND, "not_registered",
                      "could not set password: no such account");
    if (st->status != OSS_LC_ACTIVE)
        return refuse(err, OSS_ECONFLICT, "not_active",
                      "could not set password: the account is not "
                      "activated");
    if (!authed && st->password_set)
        return refuse(err, OSS_ECONFLICT, "unauthenticated",
                      "could not set password: sign in to change it");
    if (!authed && now >= st->activated_at_us + p->activation_ttl_us)
        return refuse(err, OSS_ECONFLICT, "setup_expired",
                      "could not set password: the time to set the first "
                      "password after activation is over");
    push(d, OSS_LC_PASSWORD, now);
    return OSS_OK;
}

int64_t
oss_lc_signin_wait(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                   int64_t now, const char *source) {
    const oss_lc_source_t *s = source_find_c(st, source ? source : "");
    if (!s || s->failures < p->signin_threshold)
        return 0;
    /* delay doubles with every failure past the threshold, capped */
    int64_t delay = p->signin_delay_us;
    for (int i = p->signin_threshold; i < s->failures; i++) {
        delay *= 2;
        if (delay >= p->signin_delay_max_us)
            break;
    }
    if (delay > p->signin_delay_max_us)
        delay = p->signin_delay_max_us;
    int64_t until = s->last_failure_us + delay;
    return until > now ? until - now : 0;
}

oss_code_t
oss_lc_decide_signin(const oss_lc_state_t *st, const oss_lc_policy_t *p,
                     int64_t now, bool matched, const char *source,
                     const char *session_id, bool *ok, oss_lc_decision_t *d,
                     oss_err_t *err) {
    memset(d, 0, sizeof *d);
    *ok = false;
    if (st->status == OSS_LC_NEW)
        return refuse(err, OSS_ENOTFOUND, "not_registered",
                      "could not sign in: no such account");
    int64_t wait = oss_lc_signin_wait(st, p, now, source);
    if (wait > 0) {
        d->retry_after_us = wait;
        return refuse(err, OSS_ECONFLICT, "throttled",
                      "could not sign in: too many failed attempts; retry "
                      "later");
    }
    if (matched && st->status == OSS_LC_ACTIVE && st->password_set) {
        if (st->nsessions == OSS_LC_MAX_SESSIONS) {
            oss_lc_fact_t *e = push(d, OSS_LC_SESSION_ENDED, now);
            oss_str_copy(e->id, sizeof e->id, st->sessions[0].id);
            oss_str_copy(e->reason, sizeof e->reason, "evicted");
        }
        oss_lc_fact_t *f = push(d, OSS_LC_SIGNIN_OK, now);
        oss_str_copy(f->id, sizeof f->id, session_id);
        oss_str_copy(f->source, sizeof f->source, source);
        f->expires_at_us = now + p->session_ttl_us;
        *ok = true;
        return OSS_OK;
    }
    oss_lc_fact_t *f = push(d, OSS_LC_SIGNIN_FAILED, now);
    oss_str_copy(f->source, sizeof f->source, source);
    f->attempt = st->signin_failures + 1;
    if (!st->throttled && f->attempt >= p->signin_threshold)
        push(d, OSS_LC_SIGNIN_THROTTLED, now);
    return OSS_OK;
}

const oss_lc_session_t *
oss_lc_session_find(const oss_lc_state_t *st, int64_t now, const char *id) {
    for (size_t i = 0; id && i < st->nsessions; i++)
        if (strcmp(st->sessions[i].id, id) == 0)
            return now < st->sessions[i].expires_at_us ? &st->sessions[i]
                                                       : NULL;
    return NULL;
}

oss_code_t
oss_lc_decide_end_session(const oss_lc_state_t *st, int64_t now,
                          const char *session_id, const char *reason,
                          oss_lc_decision_t *d, oss_err_t *err) {
    memset(d, 0, sizeof *d);
    if (!oss_lc_session_find(st, now, session_id))
        return refuse(err, OSS_ENOTFOUND, "no_session",
                      "could not end session: no such open session");
    oss_lc_fact_t *f = push(d, OSS_LC_SESSION_ENDED, now);
    oss_str_copy(f->id, sizeof f->id, session_id);
    oss_str_copy(f->reason, sizeof f->reason, reason ? reason : "signed_out");
    return OSS_OK;
}

const char *
oss_password_policy_check(const char *pw,
                          bool (*common)(void *ctx, const char *lower),
                          void *ctx) {
    char lower[257];
    size_t n = pw ? strlen(pw) : 0;
    bool letter = false, digit = false, special = false;

    if (n < 8)
        return "too_short";
    if (n > 256)
        return "too_long";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pw[i];
        if (isalpha(c))
            letter = true;
        else if (isdigit(c))
            digit = true;
        else if (c < 0x80 && (ispunct(c) || c == ' '))
            special = true;
        else if (c >= 0x80)
            special = true; /* non-ASCII counts as special */
        lower[i] = (char)(c < 0x80 ? tolower(c) : c);
    }
    lower[n] = '\0';
    if (!letter)
        return "needs_letter";
    if (!digit)
        return "needs_digit";
    if (!special)
        return "needs_special";
    if (common && common(ctx, lower))
        return "common";
    return NULL;
}
