/* Unit tests of the access-rights core: delegates, ownership transfer with
 * an expiring offer, written hand-over with the owner's objection and a
 * cooling-off counted in working days (weekends, a holiday list, WIB),
 * termination reason codes; all driven by a clock the test moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/access.h"

#define SEC 1000000LL
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)

/* 2026-03-13 Friday 10:00 WIB = 03:00 UTC */
#define FRI_2026_03_13_10WIB (1773370800LL * SEC)

/* A history the tests append decided facts to, as the journal would. */
typedef struct hist {
    oss_ac_fact_t f[64];
    size_t n;
    oss_ac_state_t st;
} hist_t;

static void
append(hist_t *h, const oss_ac_decision_t *d, const char *actor) {
    for (size_t i = 0; i < d->n; i++) {
        h->f[h->n] = d->facts[i];
        h->f[h->n].version = (int64_t)h->n + 1;
        if (actor && !h->f[h->n].actor[0])
            snprintf(h->f[h->n].actor, sizeof h->f[h->n].actor, "%s", actor);
        h->n++;
    }
    oss_ac_fold(&h->st, h->f, h->n);
}

static void
registered(hist_t *h, const char *owner, int64_t now) {
    oss_ac_decision_t d = {.n = 1};
    memset(h, 0, sizeof *h);
    d.facts[0].kind = OSS_AC_REGISTERED;
    d.facts[0].at_us = now;
    snprintf(d.facts[0].principal_id, sizeof d.facts[0].principal_id, "%s",
             owner);
    append(h, &d, owner);
    assert_true(h->st.registered);
    assert_string_equal(h->st.owner, owner);
}

/* Indonesian holidays around the tests' dates (Nyepi, Idul Fitri). */
static int32_t holidays[] = {20260320, 20260319, 20260101, 20260319};

static void
policy(oss_ac_policy_t *p, int days) {
    oss_ac_policy_default(p);
    p->cooling_off_working_days = days;
    p->nholidays = oss_ac_holidays_sort(holidays, 4);
    p->holidays = holidays;
}

static void
test_holiday_parse(void **state) {
    (void)state;
    int32_t ymd = 0;
    assert_int_equal(oss_ac_holiday_parse("2026-03-19 Nyepi\n", &ymd), 1);
    assert_int_equal(ymd, 20260319);
    assert_int_equal(oss_ac_holiday_parse("2026-12-25", &ymd), 1);
    assert_int_equal(ymd, 20261225);
    assert_int_equal(oss_ac_holiday_parse("# comment", &ymd), 0);
    assert_int_equal(oss_ac_holiday_parse("   \n", &ymd), 0);
    assert_int_equal(oss_ac_holiday_parse("2026-02-30 nope", &ymd), -1);
    assert_int_equal(oss_ac_holiday_parse("2026-13-01", &ymd), -1);
    assert_int_equal(oss_ac_holiday_parse("26-03-19", &ymd), -1);
    assert_int_equal(oss_ac_holiday_parse("2026-03-191", &ymd), -1);
    assert_int_equal(oss_ac_holiday_parse("2028-02-29 leap", &ymd), 1);
    int32_t v[] = {3, 1, 3, 2, 1};
    assert_int_equal(oss_ac_holidays_sort(v, 5), 3);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[2], 3);
}

static void
test_working_days(void **state) {
    (void)state;
    oss_ac_policy_t p;
    policy(&p, 5);
    assert_true(oss_ac_is_working_day(&p, 20260313));  /* Friday */
    assert_false(oss_ac_is_working_day(&p, 20260314)); /* Saturday */
    assert_false(oss_ac_is_working_day(&p, 20260315)); /* Sunday */
    assert_true(oss_ac_is_working_day(&p, 20260316));  /* Monday */
    assert_false(oss_ac_is_working_day(&p, 20260319)); /* Nyepi */
    assert_false(oss_ac_is_working_day(&p, 20260320)); /* Idul Fitri */
    assert_false(oss_ac_is_working_day(&p, 20260101));

    /* filed Friday 13 March 10:00 WIB, 5 working days: Mon 16, Tue 17,
     * Wed 18, (Thu 19 Nyepi, Fri 20 Idul Fitri, weekend) Mon 23, Tue 24:
     * ends at midnight WIB after Tuesday 24 = 2026-03-24T17:00Z */
    int64_t end = oss_ac_cooling_off_end(&p, FRI_2026_03_13_10WIB, 5);
    assert_int_equal(end, FRI_2026_03_13_10WIB + 11 * DAY + 14 * HOUR);
    /* without the holidays: Mon..Fri 20, end 20 March 24:00 WIB */
    oss_ac_policy_t q;
    oss_ac_policy_default(&q);
    assert_int_equal(oss_ac_cooling_off_end(&q, FRI_2026_03_13_10WIB, 5),
                     FRI_2026_03_13_10WIB + 7 * DAY + 14 * HOUR);
    /* a filing at 23:30 WIB Friday (16:30 UTC) still counts from Friday */
    int64_t late = FRI_2026_03_13_10WIB + 13 * HOUR + 30 * 60 * SEC;
    assert_int_equal(oss_ac_cooling_off_end(&q, late, 1),
                     FRI_2026_03_13_10WIB + 3 * DAY + 14 * HOUR);
    /* a filing at 00:30 WIB Saturday (17:30 UTC Friday) counts from Saturday:
     * 1 working day = Monday, same end */
    int64_t sat = FRI_2026_03_13_10WIB + 14 * HOUR + 30 * 60 * SEC;
    assert_int_equal(oss_ac_cooling_off_end(&q, sat, 1),
                     FRI_2026_03_13_10WIB + 3 * DAY + 14 * HOUR);
    /* 0 days: no wait */
    assert_int_equal(oss_ac_cooling_off_end(&p, late, 0), late);
    /* across the year end: 2025-12-31 Wednesday 10:00 WIB, 1 working day:
     * 1 January is a holiday, so Friday 2 January */
    int64_t dec31 = 1767150000LL * SEC; /* 2025-12-31T03:00Z */
    assert_int_equal(oss_ac_cooling_off_end(&p, dec31, 1),
                     dec31 + 2 * DAY + 14 * HOUR);
}

static void
test_members(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    int64_t now = FRI_2026_03_13_10WIB;
    registered(&h, "acc-1", now);

    assert_int_equal(oss_ac_decide_add_member(&h.st, now, "p-2",
                                              OSS_ROLE_PREPARER, &d, &err),
                     OSS_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.facts[0].kind, OSS_AC_MEMBER_ADDED);
    append(&h, &d, "acc-1");
    assert_int_equal(oss_ac_role_of(&h.st, "p-2"), OSS_ROLE_PREPARER);
    assert_int_equal(oss_ac_role_of(&h.st, "acc-1"), OSS_ROLE_OWNER);
    assert_int_equal(oss_ac_role_of(&h.st, "p-9"), OSS_ROLE_NONE);

    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-2", OSS_ROLE_VIEWER, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "already_member");
    assert_int_equal(oss_ac_decide_add_member(&h.st, now, "acc-1",
                                              OSS_ROLE_VIEWER, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "is_owner");
    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-3", OSS_ROLE_OWNER, &d, &err),
        OSS_EINVAL);
    assert_string_equal(err.field, "role");
    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-3", OSS_ROLE_OFFICER, &d, &err),
        OSS_EINVAL);

    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-3", OSS_ROLE_VIEWER, &d, &err),
        OSS_OK);
    append(&h, &d, "acc-1");
    assert_int_equal(h.st.nmembers, 2);

    assert_int_equal(oss_ac_decide_remove_member(&h.st, now, "acc-1", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "is_owner");
    assert_int_equal(oss_ac_decide_remove_member(&h.st, now, "p-9", &d, &err),
                     OSS_ENOTFOUND);
    assert_string_equal(err.field, "not_a_member");
    assert_int_equal(oss_ac_decide_remove_member(&h.st, now, "p-3", &d, &err),
                     OSS_OK);
    assert_int_equal(d.facts[0].role, OSS_ROLE_VIEWER);
    append(&h, &d, "acc-1");
    assert_int_equal(h.st.nmembers, 1);
    assert_int_equal(oss_ac_role_of(&h.st, "p-3"), OSS_ROLE_NONE);

    /* an unknown account */
    oss_ac_state_t empty;
    oss_ac_state_init(&empty);
    assert_int_equal(
        oss_ac_decide_add_member(&empty, now, "p-2", OSS_ROLE_VIEWER, &d, &err),
        OSS_ENOTFOUND);
    assert_string_equal(err.field, "not_registered");
}

static void
test_transfer(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 5);
    int64_t now = FRI_2026_03_13_10WIB;
    registered(&h, "acc-1", now);

    assert_int_equal(oss_ac_decide_accept_transfer(&h.st, now, "p-2", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "no_transfer");
    assert_int_equal(
        oss_ac_decide_offer_transfer(&h.st, &p, now, "acc-1", &d, &err),
        OSS_EINVAL);
    assert_int_equal(
        oss_ac_decide_offer_transfer(&h.st, &p, now, "p-2", &d, &err), OSS_OK);
    assert_int_equal(d.facts[0].until_us, now + p.transfer_ttl_us);
    append(&h, &d, "acc-1");
    assert_true(h.st.transfer_open);

    /* someone else cannot accept */
    assert_int_equal(oss_ac_decide_accept_transfer(&h.st, now, "p-3", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "not_offered");
    /* the offer expires */
    int64_t later = now + p.transfer_ttl_us;
    assert_int_equal(
        oss_ac_decide_accept_transfer(&h.st, later, "p-2", &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "expired");
    /* a new offer replaces it; accepted in time */
    assert_int_equal(
        oss_ac_decide_offer_transfer(&h.st, &p, later, "p-2", &d, &err),
        OSS_OK);
    append(&h, &d, "acc-1");
    assert_int_equal(
        oss_ac_decide_accept_transfer(&h.st, later + HOUR, "p-2", &d, &err),
        OSS_OK);
    assert_string_equal(d.facts[0].previous_owner, "acc-1");
    append(&h, &d, "p-2");
    assert_string_equal(h.st.owner, "p-2");
    assert_false(h.st.transfer_open);
    assert_int_equal(oss_ac_role_of(&h.st, "acc-1"), OSS_ROLE_NONE);

    /* a delegate who becomes owner is no longer listed as a delegate */
    assert_int_equal(oss_ac_decide_add_member(&h.st, now, "p-4",
                                              OSS_ROLE_PREPARER, &d, &err),
                     OSS_OK);
    append(&h, &d, "p-2");
    assert_int_equal(
        oss_ac_decide_offer_transfer(&h.st, &p, now, "p-4", &d, &err), OSS_OK);
    append(&h, &d, "p-2");
    assert_int_equal(
        oss_ac_decide_accept_transfer(&h.st, now + 1, "p-4", &d, &err), OSS_OK);
    append(&h, &d, "p-4");
    assert_string_equal(h.st.owner, "p-4");
    assert_int_equal(h.st.nmembers, 0);
}

/* Files a request from the preparer naming it as the new owner. */
static void
file(hist_t *h, const oss_ac_policy_t *p, int64_t now, const char *rid) {
    oss_ac_decision_t d;
    oss_err_t err;
    assert_int_equal(oss_ac_decide_file_handover(&h->st, p, now, rid, "p-2",
                                                 "p-2", "AHU-0012345.AH.01.02",
                                                 &d, &err),
                     OSS_OK);
    assert_int_equal(d.facts[0].kind, OSS_AC_HANDOVER_FILED);
    assert_int_equal(d.facts[0].working_days, p->cooling_off_working_days);
    append(h, &d, NULL);
    const oss_ac_request_t *r = oss_ac_request_find(&h->st, rid);
    assert_non_null(r);
    assert_int_equal(r->status, OSS_AC_REQ_FILED);
    assert_string_equal(r->filed_by, "p-2");
    assert_string_equal(r->previous_owner, h->st.owner);
}

static void
with_delegate(hist_t *h, int64_t now) {
    oss_ac_decision_t d;
    oss_err_t err;
    registered(h, "acc-1", now);
    assert_int_equal(oss_ac_decide_add_member(&h->st, now, "p-2",
                                              OSS_ROLE_PREPARER, &d, &err),
                     OSS_OK);
    append(h, &d, "acc-1");
}

static void
test_handover_cooling_off(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 5);
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);

    /* evidence is required; the owner cannot be the new owner */
    assert_int_equal(oss_ac_decide_file_handover(&h.st, &p, now, "r-1", "p-2",
                                                 "p-2", "", &d, &err),
                     OSS_EINVAL);
    assert_string_equal(err.field, "evidence_ref");
    assert_int_equal(oss_ac_decide_file_handover(&h.st, &p, now, "r-1", "p-2",
                                                 "acc-1", "deed", &d, &err),
                     OSS_EINVAL);
    assert_string_equal(err.field, "new_owner");

    file(&h, &p, now, "r-1");
    const oss_ac_request_t *r = oss_ac_request_find(&h.st, "r-1");
    int64_t until = r->cooling_off_until_us;
    assert_int_equal(until, now + 11 * DAY + 14 * HOUR);

    /* one undecided request at a time */
    assert_int_equal(oss_ac_decide_file_handover(&h.st, &p, now, "r-2", "p-2",
                                                 "p-2", "deed", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "handover_pending");

    /* approval before the end: refused with the time left */
    assert_int_equal(
        oss_ac_decide_handover(&h.st, now + DAY, "r-1", true, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "cooling_off");
    assert_int_equal(d.retry_after_us, until - now - DAY);
    assert_int_equal(d.n, 0);
    /* one microsecond before the end: still refused */
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until - 1, "r-1", true, &d, &err),
        OSS_ECONFLICT);
    assert_int_equal(d.retry_after_us, 1);
    /* at the end: approved; the owner changes, the delegate is the owner */
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until, "r-1", true, &d, &err), OSS_OK);
    assert_int_equal(d.facts[0].kind, OSS_AC_HANDOVER_APPROVED);
    assert_string_equal(d.facts[0].principal_id, "p-2");
    assert_string_equal(d.facts[0].previous_owner, "acc-1");
    append(&h, &d, "officer-1");
    assert_string_equal(h.st.owner, "p-2");
    assert_int_equal(oss_ac_role_of(&h.st, "acc-1"), OSS_ROLE_NONE);
    assert_int_equal(oss_ac_role_of(&h.st, "p-2"), OSS_ROLE_OWNER);
    assert_int_equal(h.st.nmembers, 0);
    assert_int_equal(oss_ac_request_find(&h.st, "r-1")->status,
                     OSS_AC_REQ_APPROVED);

    /* decided: no second decision, no objection */
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until, "r-1", false, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "decided");
    assert_int_equal(
        oss_ac_decide_object_handover(&h.st, until, "r-1", "acc-1", &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "decided");
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until, "r-9", true, &d, &err),
        OSS_ENOTFOUND);
    assert_string_equal(err.field, "no_request");
}

static void
test_handover_zero_days(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 0);
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);
    file(&h, &p, now, "r-1");
    assert_int_equal(oss_ac_decide_handover(&h.st, now, "r-1", true, &d, &err),
                     OSS_OK);
}

static void
test_handover_objection(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 5);
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);
    file(&h, &p, now, "r-1");
    int64_t until = oss_ac_request_find(&h.st, "r-1")->cooling_off_until_us;

    /* the owner objects on day 2 */
    assert_int_equal(oss_ac_decide_object_handover(&h.st, now + 2 * DAY, "r-1",
                                                   "acc-1", &d, &err),
                     OSS_OK);
    append(&h, &d, NULL);
    const oss_ac_request_t *r = oss_ac_request_find(&h.st, "r-1");
    assert_int_equal(r->status, OSS_AC_REQ_OBJECTED);
    assert_string_equal(r->objected_by, "acc-1");
    assert_int_equal(oss_ac_decide_object_handover(&h.st, now + 2 * DAY, "r-1",
                                                   "acc-1", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "already_objected");

    /* after the cooling-off, approval is still refused: objected */
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until + DAY, "r-1", true, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "objected");
    /* the still undecided request blocks a new one until it is rejected */
    assert_int_equal(oss_ac_decide_file_handover(&h.st, &p, until, "r-2", "p-2",
                                                 "p-2", "deed-2", &d, &err),
                     OSS_ECONFLICT);
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until + DAY, "r-1", false, &d, &err),
        OSS_OK);
    assert_int_equal(d.facts[0].kind, OSS_AC_HANDOVER_REJECTED);
    append(&h, &d, "officer-1");
    assert_string_equal(h.st.owner, "acc-1");
    assert_int_equal(oss_ac_request_find(&h.st, "r-1")->status,
                     OSS_AC_REQ_REJECTED);
    /* a new request may be filed now; a rejection needs no cooling-off */
    file(&h, &p, until + 2 * DAY, "r-2");
    assert_int_equal(
        oss_ac_decide_handover(&h.st, until + 2 * DAY, "r-2", false, &d, &err),
        OSS_OK);
}

static void
test_terminate(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 0);
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);

    assert_int_equal(oss_ac_term_parse("law"), OSS_AC_TERM_LAW);
    assert_int_equal(oss_ac_term_parse("misuse_request"),
                     OSS_AC_TERM_MISUSE_REQUEST);
    assert_int_equal(oss_ac_term_parse("whim"), OSS_AC_TERM_NONE);
    assert_string_equal(oss_ac_term_name(OSS_AC_TERM_AUTHORITY_FINDING),
                        "authority_finding");

    assert_int_equal(oss_ac_decide_terminate(&h.st, now, OSS_AC_TERM_NONE, "",
                                             "x", &d, &err),
                     OSS_EINVAL);
    assert_string_equal(err.field, "reason_code");
    /* written requests need their evidence */
    assert_int_equal(oss_ac_decide_terminate(&h.st, now,
                                             OSS_AC_TERM_MISUSE_REQUEST, "p-2",
                                             "", &d, &err),
                     OSS_EINVAL);
    assert_string_equal(err.field, "evidence_ref");
    assert_int_equal(oss_ac_decide_terminate(
                         &h.st, now, OSS_AC_TERM_RESPONSIBLE_PERSON_CHANGED,
                         NULL, NULL, &d, &err),
                     OSS_EINVAL);
    assert_int_equal(oss_ac_decide_terminate(&h.st, now,
                                             OSS_AC_TERM_MISUSE_REQUEST, "p-9",
                                             "letter-1", &d, &err),
                     OSS_ENOTFOUND);
    /* one delegate's access ends on a misuse request */
    assert_int_equal(oss_ac_decide_terminate(&h.st, now,
                                             OSS_AC_TERM_MISUSE_REQUEST, "p-2",
                                             "letter-1", &d, &err),
                     OSS_OK);
    assert_int_equal(d.facts[0].role, OSS_ROLE_PREPARER);
    append(&h, &d, "operator-1");
    assert_int_equal(oss_ac_role_of(&h.st, "p-2"), OSS_ROLE_NONE);
    assert_false(h.st.terminated);

    /* the authority's own finding ends the whole account: no evidence
     * needed; afterwards nothing is decided any more */
    assert_int_equal(oss_ac_decide_terminate(&h.st, now,
                                             OSS_AC_TERM_AUTHORITY_FINDING, "",
                                             NULL, &d, &err),
                     OSS_OK);
    append(&h, &d, "officer-1");
    assert_true(h.st.terminated);
    assert_int_equal(h.st.termination, OSS_AC_TERM_AUTHORITY_FINDING);
    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-5", OSS_ROLE_VIEWER, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "terminated");
    assert_int_equal(oss_ac_decide_file_handover(&h.st, &p, now, "r-1", "p-5",
                                                 "p-5", "deed", &d, &err),
                     OSS_ECONFLICT);
    assert_int_equal(oss_ac_decide_terminate(&h.st, now, OSS_AC_TERM_LAW, "",
                                             "uu-1", &d, &err),
                     OSS_ECONFLICT);
}

static void
test_terminate_blocks_pending_approval(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    oss_ac_policy_t p;
    policy(&p, 0);
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);
    file(&h, &p, now, "r-1");
    assert_int_equal(oss_ac_decide_terminate(&h.st, now, OSS_AC_TERM_LAW, "",
                                             "uu-1", &d, &err),
                     OSS_OK);
    append(&h, &d, "operator-1");
    assert_int_equal(oss_ac_decide_handover(&h.st, now, "r-1", true, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "terminated");
    /* a rejection still closes it */
    assert_int_equal(oss_ac_decide_handover(&h.st, now, "r-1", false, &d, &err),
                     OSS_OK);
}

/* The OSS authority restricts the account and lifts it (issue 10, item
 * 14): no business command while restricted, termination still possible,
 * neither twice. */
static void
test_restriction(void **state) {
    (void)state;
    hist_t h;
    oss_ac_decision_t d;
    oss_err_t err;
    int64_t now = FRI_2026_03_13_10WIB;
    with_delegate(&h, now);

    assert_int_equal(oss_ac_decide_lift_restriction(&h.st, now, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "not_restricted");
    assert_int_equal(oss_ac_decide_restrict(&h.st, now, "SK-1", &d, &err),
                     OSS_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.facts[0].kind, OSS_AC_RESTRICTED);
    assert_string_equal(d.facts[0].evidence_ref, "SK-1");
    append(&h, &d, "operator-1");
    assert_true(h.st.restricted);
    assert_string_equal(h.st.restricted_by, "operator-1");
    assert_int_equal(oss_ac_decide_restrict(&h.st, now, NULL, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "already_restricted");
    /* business commands are refused while restricted */
    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-9", OSS_ROLE_VIEWER, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "restricted");
    assert_int_equal(oss_ac_decide_remove_member(&h.st, now, "p-2", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "restricted");
    /* the authority may still end the access */
    assert_int_equal(oss_ac_decide_terminate(&h.st, now, OSS_AC_TERM_LAW, "",
                                             "PN-1", &d, &err),
                     OSS_OK);
    /* lifted: members may act again */
    assert_int_equal(oss_ac_decide_lift_restriction(&h.st, now, &d, &err),
                     OSS_OK);
    assert_int_equal(d.facts[0].kind, OSS_AC_RESTRICTION_LIFTED);
    append(&h, &d, "operator-1");
    assert_false(h.st.restricted);
    assert_int_equal(
        oss_ac_decide_add_member(&h.st, now, "p-9", OSS_ROLE_VIEWER, &d, &err),
        OSS_OK);
    /* a terminated account is neither restricted nor lifted */
    assert_int_equal(oss_ac_decide_terminate(&h.st, now, OSS_AC_TERM_LAW, "",
                                             "PN-1", &d, &err),
                     OSS_OK);
    append(&h, &d, "operator-1");
    assert_int_equal(oss_ac_decide_restrict(&h.st, now, NULL, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "terminated");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holiday_parse),
        cmocka_unit_test(test_working_days),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_handover_cooling_off),
        cmocka_unit_test(test_handover_zero_days),
        cmocka_unit_test(test_handover_objection),
        cmocka_unit_test(test_terminate),
        cmocka_unit_test(test_terminate_blocks_pending_approval),
        cmocka_unit_test(test_restriction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
