/* Unit tests of the account lifecycle core: activation expiry and lockout,
 * resend rate limit, password only when active, sign-in throttling per
 * source with the account-wide SignInThrottled event, sessions; all driven
 * by a controllable clock (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/lifecycle.h"

#define SEC 1000000LL
#define T0 1790000000LL * SEC

/* The test clock: a variable the test moves. */
static int64_t
fake_now(void *ctx) {
    return *(int64_t *)ctx;
}

/* A history the tests append decided facts to, as the journal would. */
typedef struct hist {
    oss_lc_fact_t f[256];
    size_t n;
    oss_lc_state_t st;
} hist_t;

static void
append(hist_t *h, const oss_lc_decision_t *d) {
    for (size_t i = 0; i < d->n; i++) {
        h->f[h->n] = d->facts[i];
        h->f[h->n].version = (int64_t)h->n + 1;
        h->n++;
    }
    oss_lc_fold(&h->st, h->f, h->n);
}

static void
registered(hist_t *h, const oss_lc_policy_t *p, int64_t now) {
    oss_lc_decision_t d = {.n = 1};
    memset(h, 0, sizeof *h);
    d.facts[0].kind = OSS_LC_REGISTERED;
    d.facts[0].at_us = now;
    append(h, &d);
    oss_err_t err;
    assert_int_equal(
        oss_lc_decide_issue(&h->st, p, now, "email", "d-1", &d, &err), OSS_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.facts[0].kind, OSS_LC_ISSUED);
    assert_int_equal(d.facts[0].expires_at_us, now + p->activation_ttl_us);
    append(h, &d);
    assert_int_equal(h->st.status, OSS_LC_PENDING);
}

static void
test_issue_requires_registration(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    oss_lc_state_t st;
    oss_lc_decision_t d;
    oss_err_t err;
    oss_lc_state_init(&st);
    assert_int_equal(oss_lc_decide_issue(&st, &p, T0, "email", "x", &d, &err),
                     OSS_ENOTFOUND);
    assert_string_equal(err.field, "not_registered");
    hist_t h;
    registered(&h, &p, T0);
    /* a second issue (e.g. a replayed registration) is refused */
    assert_int_equal(oss_lc_decide_issue(&h.st, &p, T0, "email", "y", &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "already_issued");
    /* bad channel */
    oss_lc_state_t st2;
    oss_lc_fact_t reg = {.kind = OSS_LC_REGISTERED, .version = 1};
    oss_lc_fold(&st2, &reg, 1);
    assert_int_equal(oss_lc_decide_issue(&st2, &p, T0, "sms", "z", &d, &err),
                     OSS_EINVAL);
}

static void
test_activation_expiry_by_clock(void **state) {
    (void)state;
    int64_t now = T0;
    oss_clock_t clk = {fake_now, &now};
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    p.activation_ttl_us = 600 * SEC;
    hist_t h;
    oss_lc_decision_t d;
    oss_lc_verify_t out;
    oss_err_t err;

    registered(&h, &p, oss_clock_now(&clk));
    /* one microsecond before expiry: still good */
    now = T0 + 600 * SEC - 1;
    assert_int_equal(oss_lc_decide_verify(&h.st, &p, oss_clock_now(&clk), true,
                                          &out, &d, &err),
                     OSS_OK);
    assert_int_equal(out, OSS_LC_VERIFY_OK);
    /* at expiry: refused, no event */
    now = T0 + 600 * SEC;
    assert_int_equal(oss_lc_decide_verify(&h.st, &p, oss_clock_now(&clk), true,
                                          &out, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "expired");
    assert_int_equal(d.n, 0);
    /* a resend gives a fresh code with a new expiry */
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, now, "whatsapp", "d-2", &d, &err),
        OSS_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.facts[0].kind, OSS_LC_RESENT);
    assert_int_equal(d.facts[1].kind, OSS_LC_ISSUED);
    assert_string_equal(d.facts[1].channel, "whatsapp");
    append(&h, &d);
    assert_int_equal(h.st.activation_expires_at_us, now + 600 * SEC);
    assert_int_equal(
        oss_lc_decide_verify(&h.st, &p, now + 1, true, &out, &d, &err), OSS_OK);
    append(&h, &d);
    assert_int_equal(h.st.status, OSS_LC_ACTIVE);
    /* then everything activation-ish is refused */
    assert_int_equal(
        oss_lc_decide_verify(&h.st, &p, now + 2, true, &out, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "already_active");
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, now + 2, "email", "d-3", &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "already_active");
}

static void
test_activation_lockout(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    p.activation_max_attempts = 3;
    hist_t h;
    oss_lc_decision_t d;
    oss_lc_verify_t out;
    oss_err_t err;
    int64_t now = T0;

    registered(&h, &p, now);
    for (int i = 1; i <= 3; i++) {
        now += SEC;
        assert_int_equal(
            oss_lc_decide_verify(&h.st, &p, now, false, &out, &d, &err),
            OSS_OK);
        assert_int_equal(d.facts[0].kind, OSS_LC_FAILED);
        assert_int_equal(d.facts[0].attempt, i);
        if (i < 3) {
            assert_int_equal(out, OSS_LC_VERIFY_WRONG);
            assert_int_equal(d.n, 1);
        } else {
            assert_int_equal(out, OSS_LC_VERIFY_LOCKED_NOW);
            assert_int_equal(d.n, 2);
            assert_int_equal(d.facts[1].kind, OSS_LC_LOCKED);
        }
        append(&h, &d);
    }
    assert_int_equal(h.st.status, OSS_LC_LOCKED_OUT);
    /* the right code no longer helps */
    assert_int_equal(oss_lc_decide_verify(&h.st, &p, now, true, &out, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "locked");
    /* a resend lifts the lock and resets the attempts */
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, now, "email", "d-2", &d, &err), OSS_OK);
    append(&h, &d);
    assert_int_equal(h.st.status, OSS_LC_PENDING);
    assert_int_equal(h.st.activation_failures, 0);
    assert_int_equal(
        oss_lc_decide_verify(&h.st, &p, now, false, &out, &d, &err), OSS_OK);
    assert_int_equal(d.facts[0].attempt, 1);
}

static void
test_resend_rate_limit(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    p.resend_max = 2;
    p.resend_window_us = 100 * SEC;
    hist_t h;
    oss_lc_decision_t d;
    oss_err_t err;

    registered(&h, &p, T0);
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, T0 + 10 * SEC, "email", "a", &d, &err),
        OSS_OK);
    append(&h, &d);
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, T0 + 20 * SEC, "email", "b", &d, &err),
        OSS_OK);
    append(&h, &d);
    /* third within the window: refused until the first leaves it */
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, T0 + 30 * SEC, "email", "c", &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "rate_limited");
    assert_int_equal(d.n, 0);
    assert_int_equal(d.retry_after_us, 80 * SEC); /* 10 + 100 - 30 */
    assert_int_equal(oss_lc_decide_resend(&h.st, &p, T0 + 110 * SEC - 1,
                                          "email", "c", &d, &err),
                     OSS_ECONFLICT);
    assert_int_equal(d.retry_after_us, 1);
    assert_int_equal(
        oss_lc_decide_resend(&h.st, &p, T0 + 110 * SEC, "email", "c", &d, &err),
        OSS_OK);
}

static void
test_password_only_when_active(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    hist_t h;
    oss_lc_decision_t d;
    oss_lc_verify_t out;
    oss_err_t err;
    oss_lc_state_t empty;

    oss_lc_state_init(&empty);
    assert_int_equal(
        oss_lc_decide_set_password(&empty, &p, T0, false, &d, &err),
        OSS_ENOTFOUND);
    registered(&h, &p, T0);
    assert_int_equal(oss_lc_decide_set_password(&h.st, &p, T0, true, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "not_active");
    assert_int_equal(oss_lc_decide_verify(&h.st, &p, T0, true, &out, &d, &err),
                     OSS_OK);
    append(&h, &d);
    /* the first password without a session: only within the TTL */
    assert_int_equal(oss_lc_decide_set_password(
                         &h.st, &p, T0 + p.activation_ttl_us, false, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "setup_expired");
    assert_int_equal(oss_lc_decide_set_password(&h.st, &p,
                                                T0 + p.activation_ttl_us - 1,
                                                false, &d, &err),
                     OSS_OK);
    assert_int_equal(d.facts[0].kind, OSS_LC_PASSWORD);
    append(&h, &d);
    assert_true(h.st.password_set);
    /* a change needs a session */
    assert_int_equal(
        oss_lc_decide_set_password(&h.st, &p, T0 + 1, false, &d, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "unauthenticated");
    assert_int_equal(
        oss_lc_decide_set_password(&h.st, &p, T0 + 1, true, &d, &err), OSS_OK);
}

/* An active account with a password. */
static void
active(hist_t *h, const oss_lc_policy_t *p) {
    oss_lc_decision_t d;
    oss_lc_verify_t out;
    oss_err_t err;
    registered(h, p, T0);
    assert_int_equal(oss_lc_decide_verify(&h->st, p, T0, true, &out, &d, &err),
                     OSS_OK);
    append(h, &d);
    assert_int_equal(oss_lc_decide_set_password(&h->st, p, T0, false, &d, &err),
                     OSS_OK);
    append(h, &d);
}

static void
test_signin_throttle(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    p.signin_threshold = 3;
    p.signin_delay_us = 10 * SEC;
    p.signin_delay_max_us = 30 * SEC;
    hist_t h;
    oss_lc_decision_t d;
    oss_err_t err;
    bool ok;
    int64_t now = T0;

    active(&h, &p);
    for (int i = 1; i <= 3; i++) {
        now += SEC;
        assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "attacker"), 0);
        assert_int_equal(oss_lc_decide_signin(&h.st, &p, now, false, "attacker",
                                              "s", &ok, &d, &err),
                         OSS_OK);
        assert_false(ok);
        assert_int_equal(d.facts[0].kind, OSS_LC_SIGNIN_FAILED);
        assert_string_equal(d.facts[0].source, "attacker");
        assert_int_equal(d.n, i == 3 ? 2 : 1);
        if (i == 3)
            assert_int_equal(d.facts[1].kind, OSS_LC_SIGNIN_THROTTLED);
        append(&h, &d);
    }
    /* the attacker's source waits 10 s after its third failure ... */
    assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "attacker"), 10 * SEC);
    assert_int_equal(oss_lc_decide_signin(&h.st, &p, now + 5 * SEC, true,
                                          "attacker", "s", &ok, &d, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "throttled");
    assert_int_equal(d.retry_after_us, 5 * SEC);
    assert_int_equal(d.n, 0);
    /* ... but the owner's source is not locked out */
    assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "owner"), 0);
    /* the delay doubles: 4th failure -> 20 s, 5th -> 30 s (capped) */
    now += 10 * SEC;
    assert_int_equal(oss_lc_decide_signin(&h.st, &p, now, false, "attacker",
                                          "s", &ok, &d, &err),
                     OSS_OK);
    assert_int_equal(d.n, 1); /* SignInThrottled only once */
    append(&h, &d);
    assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "attacker"), 20 * SEC);
    now += 20 * SEC;
    assert_int_equal(oss_lc_decide_signin(&h.st, &p, now, false, "attacker",
                                          "s", &ok, &d, &err),
                     OSS_OK);
    append(&h, &d);
    assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "attacker"), 30 * SEC);
    now += 30 * SEC;
    assert_int_equal(oss_lc_signin_wait(&h.st, &p, now, "attacker"), 0);
    /* the owner signs in: a session, counters reset */
    assert_int_equal(oss_lc_decide_signin(&h.st, &p, now, true, "owner",
                                          "sess-1", &ok, &d, &err),
                     OSS_OK);
    assert_true(ok);
    assert_int_equal(d.facts[0].kind, OSS_LC_SIGNIN_OK);
    assert_int_equal(d.facts[0].expires_at_us, now + p.session_ttl_us);
    append(&h, &d);
    assert_int_equal(h.st.signin_failures, 0);
    assert_false(h.st.throttled);
    assert_non_null(oss_lc_session_find(&h.st, now, "sess-1"));
}

static void
test_signin_needs_password(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    hist_t h;
    oss_lc_decision_t d;
    oss_err_t err;
    bool ok;

    registered(&h, &p, T0);
    assert_int_equal(
        oss_lc_decide_signin(&h.st, &p, T0, true, "src", "s", &ok, &d, &err),
        OSS_OK);
    assert_false(ok);
    assert_int_equal(d.facts[0].kind, OSS_LC_SIGNIN_FAILED);
}

static void
test_sessions(void **state) {
    (void)state;
    oss_lc_policy_t p;
    oss_lc_policy_default(&p);
    p.session_ttl_us = 3600 * SEC;
    hist_t h;
    oss_lc_decision_t d;
    oss_err_t err;
    bool ok;
    char id[16];

    active(&h, &p);
    for (int i = 0; i < OSS_LC_MAX_SESSIONS; i++) {
        snprintf(id, sizeof id, "s-%d", i);
        assert_int_equal(oss_lc_decide_signin(&h.st, &p, T0 + i, true, "src",
                                              id, &ok, &d, &err),
                         OSS_OK);
        assert_int_equal(d.n, 1);
        append(&h, &d);
    }
    assert_int_equal(h.st.nsessions, OSS_LC_MAX_SESSIONS);
    /* one more evicts the oldest with its own SessionEnded */
    assert_int_equal(oss_lc_decide_signin(&h.st, &p, T0 + 100, true, "src",
                                          "s-new", &ok, &d, &err),
                     OSS_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.facts[0].kind, OSS_LC_SESSION_ENDED);
    assert_string_equal(d.facts[0].id, "s-0");
    assert_string_equal(d.facts[0].reason, "evicted");
    append(&h, &d);
    assert_null(oss_lc_session_find(&h.st, T0 + 100, "s-0"));
    /* end one */
    assert_int_equal(oss_lc_decide_end_session(&h.st, T0 + 200, "s-5",
                                               "signed_out", &d, &err),
                     OSS_OK);
    append(&h, &d);
    assert_int_equal(oss_lc_decide_end_session(&h.st, T0 + 200, "s-5",
                                               "signed_out", &d, &err),
                     OSS_ENOTFOUND);
    /* an expired session cannot be ended (it is already over) */
    assert_non_null(oss_lc_session_find(&h.st, T0 + 3600 * SEC - 1, "s-6"));
    assert_int_equal(oss_lc_decide_end_session(&h.st, T0 + 3600 * SEC + 6,
                                               "s-6", NULL, &d, &err),
                     OSS_ENOTFOUND);
}

static bool
is_common(void *ctx, const char *lower) {
    (void)ctx;
    return strcmp(lower, "password1!") == 0;
}

static void
test_password_policy(void **state) {
    (void)state;
    assert_string_equal(oss_password_policy_check("a1!", NULL, NULL),
                        "too_short");
    assert_string_equal(oss_password_policy_check("12345678!", NULL, NULL),
                        "needs_letter");
    assert_string_equal(oss_password_policy_check("abcdefgh!", NULL, NULL),
                        "needs_digit");
    assert_string_equal(oss_password_policy_check("abcdefgh1", NULL, NULL),
                        "needs_special");
    assert_string_equal(
        oss_password_policy_check("PassWord1!", is_common, NULL), "common");
    assert_null(oss_password_policy_check("Kopi-Tubruk-42", is_common, NULL));
    assert_string_equal(oss_password_policy_check(NULL, NULL, NULL),
                        "too_short");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_requires_registration),
        cmocka_unit_test(test_activation_expiry_by_clock),
        cmocka_unit_test(test_activation_lockout),
        cmocka_unit_test(test_resend_rate_limit),
        cmocka_unit_test(test_password_only_when_active),
        cmocka_unit_test(test_signin_throttle),
        cmocka_unit_test(test_signin_needs_password),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_password_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
