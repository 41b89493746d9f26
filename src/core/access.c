/* Business access rights (members, transfer, hand-over, termination): the
 * working-day calendar, evolve and decide, pure, against a caller-given
 * time. */
#include "core/access.h"
#include "core/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utc.h"

#define SEC 1000000LL
#define DAY_US (86400LL * SEC)

static const char *const term_names[] = {"", "responsible_person_changed",
                                         "misuse_request", "authority_finding",
                                         "law"};

const char *
oss_ac_term_name(oss_ac_term_t t) {
    return (unsigned)t < sizeof term_names / sizeof term_names[0]
               ? term_names[t]
               : "";
}

oss_ac_term_t
oss_ac_term_parse(const char *s) {
    if (!s || !*s)
        return OSS_AC_TERM_NONE;
    for (size_t i = 1; i < sizeof term_names / sizeof term_names[0]; i++)
        if (!strcmp(term_names[i], s))
            return (oss_ac_term_t)i;
    return OSS_AC_TERM_NONE;
}

const char *
oss_ac_req_status_name(oss_ac_req_status_t s) {
    switch (s) {
    case OSS_AC_REQ_FILED:
        return "filed";
    case OSS_AC_REQ_OBJECTED:
        return "objected";
    case OSS_AC_REQ_APPROVED:
        return "approved";
    case OSS_AC_REQ_REJECTED:
        return "rejected";
    }
    return "";
}

void
oss_ac_policy_default(oss_ac_policy_t *p) {
    memset(p, 0, sizeof *p);
    p->cooling_off_working_days = 5;
    p->transfer_ttl_us = 7 * DAY_US;
    p->utc_offset_s = 7 * 3600;
}

/* ---- the calendar ----------------------------------------------------------
 */

/* Days since 1970-01-01 -> civil date as YYYYMMDD. */
static int32_t
ymd_from_days(int64_t z) {
    int64_t y;
    int m, d;
    oss_utc_civil_from_days(z, &y, &m, &d);
    return (int32_t)(y * 10000 + m * 100 + d);
}

static int64_t
days_from_ymd(int32_t ymd) {
    return oss_utc_days_from_civil(ymd / 10000, (ymd / 100) % 100, ymd % 100);
}

/* 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday). */
static int
weekday(int64_t days) {
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int
valid_date(int y, int m, int d) {
    return y >= 1970 && y <= 9999 && d >= 1 && d <= oss_utc_month_days(y, m);
}

int
oss_ac_holiday_parse(const char *line, int32_t *ymd) {
    const char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == '#' || *s == '\n' || *s == '\r')
        return 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return -1;
        } else if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
    }
    if (s[10] && s[10] != ' ' && s[10] != '\t' && s[10] != '\n' &&
        s[10] != '\r')
        return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (!valid_date(y, m, d))
        return -1;
    *ymd = (int32_t)(y * 10000 + m * 100 + d);
    return 1;
}

static int
cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

size_t
oss_ac_holidays_sort(int32_t *ymd, size_t n) {
    size_t o = 0;
    if (!n)
        return 0;
    qsort(ymd, n, sizeof *ymd, cmp_i32);
    for (size_t i = 0; i < n; i++)
        if (!o || ymd[o - 1] != ymd[i])
            ymd[o++] = ymd[i];
    return o;
}

static bool
is_holiday(const oss_ac_policy_t *p, int32_t ymd) {
    return p->nholidays && bsearch(&ymd, p->holidays, p->nholidays,
                                   sizeof *p->holidays, cmp_i32) != NULL;
}

bool
oss_ac_is_working_day(const oss_ac_policy_t *p, int32_t ymd) {
    int w = weekday(days_from_ymd(ymd));
    return w != 0 && w != 6 && !is_holiday(p, ymd);
}

/* floor division for negative values too */
static int64_t
floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t
oss_ac_cooling_off_end(const oss_ac_policy_t *p, int64_t filed_at_us,
                       int days) {
    if (days <= 0)
        return filed_at_us;
    int64_t off = (int64_t)p->utc_offset_s * SEC;
    int64_t day = floordiv(filed_at_us + off, DAY_US); /* local filing day */
    int counted = 0;
    /* bounded: a year holds far more than OSS_AC_MAX_HOLIDAYS working days */
    for (int guard = 0; counted < days && guard < 3660; guard++) {
        day++;
        if (oss_ac_is_working_day(p, ymd_from_days(day)))
            counted++;
    }
    return (day + 1) * DAY_US - off;
}

/* ---- fold ------------------------------------------------------------------
 */

void
oss_ac_state_init(oss_ac_state_t *st) {
    memset(st, 0, sizeof *st);
}

static oss_ac_member_t *
member_find(oss_ac_state_t *st, const char *id) {
    for (size_t i = 0; i < st->nmembers; i++)
        if (!strcmp(st->members[i].principal_id, id))
            return &st->members[i];
    return NULL;
}

static void
member_remove(oss_ac_state_t *st, const char *id) {
    for (size_t i = 0; i < st->nmembers; i++)
        if (!strcmp(st->members[i].principal_id, id)) {
            memmove(&st->members[i], &st->members[i + 1],
                    (st->nmembers - i - 1) * sizeof st->members[0]);
            st->nmembers--;
            return;
        }
}

static oss_ac_request_t *
request_find(oss_ac_state_t *st, const char *id) {
    for (size_t i = 0; i < st->nrequests; i++)
        if (!strcmp(st->requests[i].request_id, id))
            return &st->requests[i];
    return NULL;
}

/* A slot for a new request: drops the oldest decided one when full (an
 * undecided one is never dropped: only one may be open at a time). */
static oss_ac_request_t *
request_add(oss_ac_state_t *st) {
    if (st->nrequests == OSS_AC_MAX_REQUESTS) {
        size_t i = 0;
        while (i < st->nrequests &&
               st->requests[i].status <= OSS_AC_REQ_OBJECTED)
            i++;
        if (i == st->nrequests)
            i = 0;
        memmove(&st->requests[i], &st->requests[i + 1],
                (st->nrequests - i - 1) * sizeof st->requests[0]);
        st->nrequests--;
    }
    oss_ac_request_t *r = &st->requests[st->nrequests++];
    memset(r, 0, sizeof *r);
    return r;
}

static void
set_owner(oss_ac_state_t *st, const char *id) {
    member_remove(st, id);
    oss_str_copy(st->owner, sizeof st->owner, id);
    st->transfer_open = false;
}

void
oss_ac_evolve(oss_ac_state_t *st, const oss_ac_fact_t *f) {
    oss_ac_request_t *r;
    if (f->version)
        st->version = f->version;
    switch (f->kind) {
    case OSS_AC_REGISTERED:
        st->registered = true;
        oss_str_copy(st->owner, sizeof st->owner, f->principal_id);
        break;
    case OSS_AC_MEMBER_ADDED:
        if (!member_find(st, f->principal_id) &&
            st->nmembers < OSS_AC_MAX_MEMBERS) {
            oss_ac_member_t *m = &st->members[st->nmembers++];
            oss_str_copy(m->principal_id, sizeof m->principal_id,
                         f->principal_id);
            m->role = f->role;
            m->since_us = f->at_us;
        }
        break;
    case OSS_AC_MEMBER_REMOVED:
        member_remove(st, f->principal_id);
        if (st->transfer_open && !strcmp(st->transfer_to, f->principal_id))
            st->transfer_open = false;
        break;
    case OSS_AC_TRANSFER_OFFERED:
        st->transfer_open = true;
        oss_str_copy(st->transfer_to, sizeof st->transfer_to, f->principal_id);
        st->transfer_expires_at_us = f->until_us;
        break;
    case OSS_AC_TRANSFER_ACCEPTED:
        set_owner(st, f->principal_id);
        break;
    case OSS_AC_HANDOVER_FILED:
        r = request_add(st);
        oss_str_copy(r->request_id, sizeof r->request_id, f->request_id);
        oss_str_copy(r->filed_by, sizeof r->filed_by, f->actor);
        oss_str_copy(r->new_owner, sizeof r->new_owner, f->principal_id);
        oss_str_copy(r->previous_owner, sizeof r->previous_owner, st->owner);
        oss_str_copy(r->evidence_ref, sizeof r->evidence_ref, f->evidence_ref);
        r->filed_at_us = f->at_us;
        r->cooling_off_until_us = f->until_us;
        r->status = OSS_AC_REQ_FILED;
        break;
    case OSS_AC_HANDOVER_OBJECTED:
        if ((r = request_find(st, f->request_id))) {
            r->status = OSS_AC_REQ_OBJECTED;
            oss_str_copy(r->objected_by, sizeof r->objected_by, f->actor);
        }
        break;
    case OSS_AC_HANDOVER_APPROVED:
        if ((r = request_find(st, f->request_id))) {
            r->status = OSS_AC_REQ_APPROVED;
            r->decided_at_us = f->at_us;
        }
        set_owner(st, f->principal_id);
        break;
    case OSS_AC_HANDOVER_REJECTED:
        if ((r = request_find(st, f->request_id))) {
            r->status = OSS_AC_REQ_REJECTED;
            r->decided_at_us = f->at_us;
        }
        break;
    case OSS_AC_TERMINATED:
        if (!f->principal_id[0]) {
            st->terminated = true;
            st->termination = f->term;
            st->transfer_open = false;
        } else if (!strcmp(st->owner, f->principal_id)) {
            st->owner[0] = '\0';
            st->transfer_open = false;
        } else {
            member_remove(st, f->principal_id);
            if (st->transfer_open && !strcmp(st->transfer_to, f->principal_id))
                st->transfer_open = false;
        }
        break;
    case OSS_AC_RESTRICTED:
        st->restricted = true;
        st->restricted_at_us = f->at_us;
        oss_str_copy(st->restricted_by, sizeof st->restricted_by, f->actor);
        st->transfer_open = false;
        break;
    case OSS_AC_RESTRICTION_LIFTED:
        st->restricted = false;
        st->restricted_by[0] = '\0';
        st->restricted_at_us = 0;
        break;
    case OSS_AC_OTHER:
        break;
    }
}

void
oss_ac_fold(oss_ac_state_t *st, const oss_ac_fact_t *facts, size_t n) {
    oss_ac_state_init(st);
    for (size_t i = 0; i < n; i++)
        oss_ac_evolve(st, &facts[i]);
}

oss_role_t
oss_ac_role_of(const oss_ac_state_t *st, const char *principal_id) {
    if (!principal_id || !*principal_id)
        return OSS_ROLE_NONE;
    if (!strcmp(st->owner, principal_id))
        return OSS_ROLE_OWNER;
    const oss_ac_member_t *m = member_find((oss_ac_state_t *)st, principal_id);
    return m ? m->role : OSS_ROLE_NONE;
}

const oss_ac_request_t *
oss_ac_request_find(const oss_ac_state_t *st, const char *request_id) {
    return request_find((oss_ac_state_t *)st, request_id ? request_id : "");
}

/* ---- decide ----------------------------------------------------------------
 */

static oss_ac_fact_t *
fact(oss_ac_decision_t *d, oss_ac_kind_t kind, int64_t now) {
    oss_ac_fact_t *f = &d->facts[d->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->at_us = now;
    return f;
}

static void
start(oss_ac_decision_t *d) {
    memset(d, 0, sizeof *d);
}

/* Unknown account, access ended: nobody may act on it. */
static oss_code_t
check_live(const oss_ac_state_t *st, oss_err_t *err) {
    if (!st->registered)
        return oss_err_field(err, OSS_ENOTFOUND, "not_registered",
                             "no such account");
    if (st->terminated)
        return oss_err_field(err, OSS_ECONFLICT, "terminated",
                             "the account's access was ended (%s)",
                             oss_ac_term_name(st->termination));
    return OSS_OK;
}

/* The refusals every business command shares: check_live(), and a
 * restriction by the OSS authority. */
static oss_code_t
check_open(const oss_ac_state_t *st, oss_err_t *err) {
    oss_code_t rc = check_live(st, err);
    if (rc == OSS_OK && st->restricted)
        return oss_err_field(err, OSS_ECONFLICT, "restricted",
                             "the OSS authority restricted this account's "
                             "access; contact the OSS help desk");
    return rc;
}

/* Starts decision d (empty) for a command on an account that must be open
 * (check_open()). */
static oss_code_t
begin(const oss_ac_state_t *st, oss_ac_decision_t *d, oss_err_t *err) {
    start(d);
    return check_open(st, err);
}

/* A new fact of d naming principal_id. */
static oss_ac_fact_t *
fact_of(oss_ac_decision_t *d, oss_ac_kind_t kind, int64_t now,
        const char *principal_id) {
    oss_ac_fact_t *f = fact(d, kind, now);
    oss_str_copy(f->principal_id, sizeof f->principal_id, principal_id);
    return f;
}

static bool
id_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < OSS_AC_ID_MAX;
}

oss_code_t
oss_ac_decide_add_member(const oss_ac_state_t *st, int64_t now,
                         const char *principal_id, oss_role_t role,
                         oss_ac_decision_t *d, oss_err_t *err) {
    oss_code_t rc;
    if ((rc = begin(st, d, err)) != OSS_OK)
        return rc;
    if (role != OSS_ROLE_PREPARER && role != OSS_ROLE_VIEWER)
        return oss_err_field(err, OSS_EINVAL, "role",
                             "role must be preparer or viewer");
    if (!id_ok(principal_id))
        return oss_err_field(err, OSS_EINVAL, "principal_id",
                             "principal_id is required");
    oss_role_t has = oss_ac_role_of(st, principal_id);
    if (has == OSS_ROLE_OWNER)
        return oss_err_field(err, OSS_ECONFLICT, "is_owner",
                             "the person is the account's owner");
    if (has != OSS_ROLE_NONE)
        return oss_err_field(err, OSS_ECONFLICT, "already_member",
                             "the person is already a member (%s)",
                             oss_role_name(has));
    if (st->nmembers >= OSS_AC_MAX_MEMBERS)
        return oss_err_field(err, OSS_ECONFLICT, "too_many_members",
                             "an account has at most %d delegates",
                             OSS_AC_MAX_MEMBERS);
    oss_ac_fact_t *f = fact_of(d, OSS_AC_MEMBER_ADDED, now, principal_id);
    f->role = role;
    return OSS_OK;
}

oss_code_t
oss_ac_decide_remove_member(const oss_ac_state_t *st, int64_t now,
                            const char *principal_id, oss_ac_decision_t *d,
                            oss_err_t *err) {
    oss_code_t rc;
    if ((rc = begin(st, d, err)) != OSS_OK)
        return rc;
    oss_role_t has = oss_ac_role_of(st, principal_id);
    if (has == OSS_ROLE_OWNER)
        return oss_err_field(err, OSS_ECONFLICT, "is_owner",
                             "the owner cannot be removed: transfer the "
                             "ownership or file a hand-over");
    if (has == OSS_ROLE_NONE)
        return oss_err_field(err, OSS_ENOTFOUND, "not_a_member",
                             "no such member");
    oss_ac_fact_t *f = fact_of(d, OSS_AC_MEMBER_REMOVED, now, principal_id);
    f->role = has;
    return OSS_OK;
}

oss_code_t
oss_ac_decide_offer_transfer(const oss_ac_state_t *st, const oss_ac_policy_t *p,
                             int64_t now, const char *principal_id,
                             oss_ac_decision_t *d, oss_err_t *err) {
    oss_code_t rc;
    if ((rc = begin(st, d, err)) != OSS_OK)
        return rc;
    if (!id_ok(principal_id))
        return oss_err_field(err, OSS_EINVAL, "principal_id",
                             "principal_id is required");
    if (!strcmp(st->owner, principal_id))
        return oss_err_field(err, OSS_EINVAL, "principal_id",
                             "the person already owns the account");
    oss_ac_fact_t *f = fact_of(d, OSS_AC_TRANSFER_OFFERED, now, principal_id);
    f->until_us = now + p->transfer_ttl_us;
    return OSS_OK;
}

oss_code_t
oss_ac_decide_accept_transfer(const oss_ac_state_t *st, int64_t now,
                              const char *caller, oss_ac_decision_t *d,
                              oss_err_t *err) {
    oss_code_t rc;
    if ((rc = begin(st, d, err)) != OSS_OK)
        return rc;
    if (!st->transfer_open)
        return oss_err_field(err, OSS_ECONFLICT, "no_transfer",
                             "no ownership transfer is open");
    if (strcmp(st->transfer_to, caller ? caller : ""))
        return oss_err_field(err, OSS_ECONFLICT, "not_offered",
                             "the transfer was offered to someone else");
    if (now >= st->transfer_expires_at_us)
        return oss_err_field(err, OSS_ECONFLICT, "expired",
                             "the transfer offer expired");
    oss_ac_fact_t *f = fact_of(d, OSS_AC_TRANSFER_ACCEPTED, now, caller);
    oss_str_copy(f->previous_owner, sizeof f->previous_owner, st->owner);
    return OSS_OK;
}

static const oss_ac_request_t *
undecided(const oss_ac_state_t *st) {
    for (size_t i = 0; i < st->nrequests; i++)
        if (st->requests[i].status <= OSS_AC_REQ_OBJECTED)
            return &st->requests[i];
    return NULL;
}

oss_code_t
oss_ac_decide_file_handover(const oss_ac_state_t *st, const oss_ac_policy_t *p,
                            int64_t now, const char *request_id,
                            const char *filed_by, const char *new_owner,
                            const char *evidence_ref, oss_ac_decision_t *d,
                            oss_err_t *err) {
    oss_code_t rc;
    if ((rc = begin(st, d, err)) != OSS_OK)
        return rc;
    if (!evidence_ref || !*evidence_ref ||
        strlen(evidence_ref) >= OSS_AC_REF_MAX)
        return oss_err_field(err, OSS_EINVAL, "evidence_ref",
                             "a written request needs an evidence reference "
                             "(the deed of change), at most %d characters",
                             OSS_AC_REF_MAX - 1);
    if (!id_ok(new_owner))
        return oss_err_field(err, OSS_EINVAL, "new_owner",
                             "the new owner is required");
    if (!strcmp(st->owner, new_owner))
        return oss_err_field(err, OSS_EINVAL, "new_owner",
                             "the new owner already owns the account");
    if (!id_ok(request_id) || request_find((oss_ac_state_t *)st, request_id))
        return oss_err_field(err, OSS_EINVAL, "request_id",
                             "bad or reused request id");
    const oss_ac_request_t *open = undecided(st);
    if (open)
        return oss_err_field(err, OSS_ECONFLICT, "handover_pending",
                             "hand-over request %s is still undecided",
                             open->request_id);
    oss_ac_fact_t *f = fact(d, OSS_AC_HANDOVER_FILED, now);
    oss_str_copy(f->request_id, sizeof f->request_id, request_id);
    oss_str_copy(f->actor, sizeof f->actor, filed_by);
    oss_str_copy(f->principal_id, sizeof f->principal_id, new_owner);
    oss_str_copy(f->evidence_ref, sizeof f->evidence_ref, evidence_ref);
    f->working_days = p->cooling_off_working_days;
    f->until_us = oss_ac_cooling_off_end(p, now, p->cooling_off_working_days);
    return OSS_OK;
}

/* The request for a decision or an objection: must exist and be open. */
static oss_code_t
open_request(const oss_ac_state_t *st, const char *request_id,
             const oss_ac_request_t **out, oss_err_t *err) {
    const oss_ac_request_t *r = oss_ac_request_find(st, request_id);
    if (!st->registered)
        return oss_err_field(err, OSS_ENOTFOUND, "not_registered",
                             "no such account");
    if (!r)
        return oss_err_field(err, OSS_ENOTFOUND, "no_request",
                             "no such hand-over request");
    if (r->status >= OSS_AC_REQ_APPROVED)
        return oss_err_field(err, OSS_ECONFLICT, "decided",
                             "the request was already %s",
                             oss_ac_req_status_name(r->status));
    *out = r;
    return OSS_OK;
}

oss_code_t
oss_ac_decide_object_handover(const oss_ac_state_t *st, int64_t now,
                              const char *request_id, const char *by,
                              oss_ac_decision_t *d, oss_err_t *err) {
    const oss_ac_request_t *r;
    oss_code_t rc;
    start(d);
    if ((rc = open_request(st, request_id, &r, err)) != OSS_OK)
        return rc;
    if (r->status == OSS_AC_REQ_OBJECTED)
        return oss_err_field(err, OSS_ECONFLICT, "already_objected",
                             "the request was already objected to");
    oss_ac_fact_t *f = fact(d, OSS_AC_HANDOVER_OBJECTED, now);
    oss_str_copy(f->request_id, sizeof f->request_id, request_id);
    oss_str_copy(f->actor, sizeof f->actor, by);
    return OSS_OK;
}

oss_code_t
oss_ac_decide_handover(const oss_ac_state_t *st, int64_t now,
                       const char *request_id, bool approve,
                       oss_ac_decision_t *d, oss_err_t *err) {
    const oss_ac_request_t *r;
    oss_code_t rc;
    start(d);
    if ((rc = open_request(st, request_id, &r, err)) != OSS_OK)
        return rc;
    if (!approve) {
        oss_ac_fact_t *f = fact(d, OSS_AC_HANDOVER_REJECTED, now);
        oss_str_copy(f->request_id, sizeof f->request_id, request_id);
        oss_str_copy(f->principal_id, sizeof f->principal_id, r->new_owner);
        return OSS_OK;
    }
    if (st->terminated || st->restricted)
        return check_open(st, err);
    if (r->status == OSS_AC_REQ_OBJECTED)
        return oss_err_field(err, OSS_ECONFLICT, "objected",
                             "the owner objected to the request: it cannot "
                             "be approved");
    if (now < r->cooling_off_until_us) {
        d->retry_after_us = r->cooling_off_until_us - now;
        return oss_err_field(err, OSS_ECONFLICT, "cooling_off",
                             "the cooling-off period runs until %lld (unix "
                             "microseconds); the owner may still object",
                             (long long)r->cooling_off_until_us);
    }
    oss_ac_fact_t *f = fact(d, OSS_AC_HANDOVER_APPROVED, now);
    oss_str_copy(f->request_id, sizeof f->request_id, request_id);
    oss_str_copy(f->principal_id, sizeof f->principal_id, r->new_owner);
    oss_str_copy(f->previous_owner, sizeof f->previous_owner, st->owner);
    return OSS_OK;
}

oss_code_t
oss_ac_decide_terminate(const oss_ac_state_t *st, int64_t now,
                        oss_ac_term_t term, const char *principal_id,
                        const char *evidence_ref, oss_ac_decision_t *d,
                        oss_err_t *err) {
    oss_code_t rc;
    start(d);
    if ((rc = check_live(st, err)) != OSS_OK) /* a restricted one too */
        return rc;
    if (term == OSS_AC_TERM_NONE)
        return oss_err_field(err, OSS_EINVAL, "reason_code",
                             "reason_code must be responsible_person_changed, "
                             "misuse_request, authority_finding or law");
    bool written = term == OSS_AC_TERM_RESPONSIBLE_PERSON_CHANGED ||
                   term == OSS_AC_TERM_MISUSE_REQUEST;
    if ((written && (!evidence_ref || !*evidence_ref)) ||
        (evidence_ref && strlen(evidence_ref) >= OSS_AC_REF_MAX))
        return oss_err_field(err, OSS_EINVAL, "evidence_ref",
                             "a written request needs an evidence reference "
                             "(at most %d characters)",
                             OSS_AC_REF_MAX - 1);
    if (principal_id && *principal_id &&
        oss_ac_role_of(st, principal_id) == OSS_ROLE_NONE)
        return oss_err_field(err, OSS_ENOTFOUND, "not_a_member",
                             "no such member");
    oss_ac_fact_t *f = fact(d, OSS_AC_TERMINATED, now);
    f->term = term;
    oss_str_copy(f->principal_id, sizeof f->principal_id, principal_id);
    oss_str_copy(f->evidence_ref, sizeof f->evidence_ref, evidence_ref);
    f->role = oss_ac_role_of(st, principal_id);
    return OSS_OK;
}

oss_code_t
oss_ac_decide_restrict(const oss_ac_state_t *st, int64_t now,
                       const char *evidence_ref, oss_ac_decision_t *d,
                       oss_err_t *err) {
    oss_code_t rc;
    start(d);
    if ((rc = check_live(st, err)) != OSS_OK)
        return rc;
    if (st->restricted)
        return oss_err_field(err, OSS_ECONFLICT, "already_restricted",
                             "the account's access is already restricted");
    if (evidence_ref && strlen(evidence_ref) >= OSS_AC_REF_MAX)
        return oss_err_field(err, OSS_EINVAL, "evidence_ref",
                             "at most %d characters", OSS_AC_REF_MAX - 1);
    oss_ac_fact_t *f = fact(d, OSS_AC_RESTRICTED, now);
    oss_str_copy(f->evidence_ref, sizeof f->evidence_ref, evidence_ref);
    return OSS_OK;
}

oss_code_t
oss_ac_decide_lift_restriction(const oss_ac_state_t *st, int64_t now,
                               oss_ac_decision_t *d, oss_err_t *err) {
    oss_code_t rc;
    start(d);
    if ((rc = check_live(st, err)) != OSS_OK)
        return rc;
    if (!st->restricted)
        return oss_err_field(err, OSS_ECONFLICT, "not_restricted",
                             "the account's access is not restricted");
    fact(d, OSS_AC_RESTRICTION_LIFTED, now);
    return OSS_OK;
}
