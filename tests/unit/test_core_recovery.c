/* Unit tests of the recovery core: masking formats, reset links (expiry,
 * single use, superseded, per-principal rate limit), help requests (file,
 * decide once, approval replaces the contact) and the fixed-window counter;
 * all driven by a clock variable the tests move (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/recovery.h"

#define SEC 1000000LL
#define T0 (1790000000LL * SEC)

static void
test_mask_email(void **state) {
    (void)state;
    char out[64];
    assert_true(oss_rc_mask_email("budi@example.co.id", out, sizeof out));
    assert_string_equal(out, "b***@example.co.id");
    assert_true(oss_rc_mask_email("b@x.id", out, sizeof out));
    assert_string_equal(out, "b***@x.id");
    assert_true(
        oss_rc_mask_email("siti.rahma+oss@mail.go.id", out, sizeof out));
    assert_string_equal(out, "s***@mail.go.id");
    assert_false(oss_rc_mask_email("@example.co.id", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(oss_rc_mask_email("budi", out, sizeof out));
    assert_false(oss_rc_mask_email("budi@", out, sizeof out));
    assert_false(oss_rc_mask_email(NULL, out, sizeof out));
    /* too small a buffer never truncates into a wrong answer */
    assert_false(oss_rc_mask_email("budi@example.co.id", out, 10));
    assert_string_equal(out, "");
}

static void
test_mask_phone(void **state) {
    (void)state;
    char out[32];
    assert_true(oss_rc_mask_phone("+6285712345678", out, sizeof out));
    assert_string_equal(out, "+62857****678");
    assert_true(oss_rc_mask_phone("+628111234567", out, sizeof out));
    assert_string_equal(out, "+62811****567");
    assert_true(oss_rc_mask_phone("+6561234", out, sizeof out));
    assert_string_equal(out, "+****34");
    /* the hidden digits never appear */
    assert_true(oss_rc_mask_phone("+6285799999678", out, sizeof out));
    assert_null(strstr(out, "9999"));
    assert_false(oss_rc_mask_phone("085712345678", out, sizeof out));
    assert_false(oss_rc_mask_phone("+62857-1234", out, sizeof out));
    assert_false(oss_rc_mask_phone("+1234", out, sizeof out));
    assert_false(oss_rc_mask_phone("+6285712345678", out, 8));
}

static void
test_mask_id(void **state) {
    (void)state;
    char out[64];
    assert_true(oss_rc_mask_id("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3fc1d2", out,
                               sizeof out));
    assert_string_equal(out, "0193****c1d2");
    assert_true(oss_rc_mask_id("acc-12", out, sizeof out));
    assert_string_equal(out, "a****");
    assert_false(oss_rc_mask_id("", out, sizeof out));
}

/* A principal's reset history as the journal would hold it. */
typedef struct rhist {
    oss_rc_reset_state_t st;
} rhist_t;

static void
issue_ok(rhist_t *h, const oss_rc_policy_t *p, int64_t now, const char *id) {
    oss_rc_fact_t f;
    oss_err_t err;
    int64_t ra = -1;
    assert_int_equal(
        oss_rc_decide_reset_issue(&h->st, p, now, true, id, &f, &ra, &err),
        OSS_OK);
    assert_int_equal(f.kind, OSS_RC_RESET_ISSUED);
    assert_int_equal(f.expires_at_us, now + p->reset_ttl_us);
    assert_string_equal(f.id, id);
    assert_int_equal(ra, 0);
    oss_rc_reset_evolve(&h->st, &f);
}

static void
test_reset_expiry_and_single_use(void **state) {
    (void)state;
    oss_rc_policy_t p;
    rhist_t h;
    oss_rc_fact_t f;
    oss_err_t err;
    int64_t now = T0;

    oss_rc_policy_default(&p);
    oss_rc_reset_init(&h.st);
    issue_ok(&h, &p, now, "r-1");

    /* one microsecond before the expiry it works, once */
    now = T0 + p.reset_ttl_us - 1;
    assert_int_equal(oss_rc_decide_reset_use(&h.st, now, "r-1", &f, &err),
                     OSS_OK);
    assert_int_equal(f.kind, OSS_RC_RESET_USED);
    assert_string_equal(f.id, "r-1");
    oss_rc_reset_evolve(&h.st, &f);
    assert_int_equal(oss_rc_decide_reset_use(&h.st, now, "r-1", &f, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "used");

    /* a new link; at its expiry instant it is refused */
    now += 10 * SEC;
    issue_ok(&h, &p, now, "r-2");
    assert_int_equal(
        oss_rc_decide_reset_use(&h.st, now + p.reset_ttl_us, "r-2", &f, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "expired");
    /* the used one stays refused, now as superseded */
    assert_int_equal(oss_rc_decide_reset_use(&h.st, now, "r-1", &f, &err),
                     OSS_ENOTFOUND);
    assert_string_equal(err.field, "invalid_token");
}

static void
test_reset_superseded_and_not_active(void **state) {
    (void)state;
    oss_rc_policy_t p;
    rhist_t h;
    oss_rc_fact_t f;
    oss_err_t err;
    int64_t ra;

    oss_rc_policy_default(&p);
    oss_rc_reset_init(&h.st);
    assert_int_equal(oss_rc_decide_reset_use(&h.st, T0, "r-1", &f, &err),
                     OSS_ENOTFOUND);
    assert_string_equal(err.field, "invalid_token");
    assert_int_equal(
        oss_rc_decide_reset_issue(&h.st, &p, T0, false, "r-1", &f, &ra, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "not_active");
    assert_int_equal(
        oss_rc_decide_reset_issue(&h.st, &p, T0, true, "", &f, &ra, &err),
        OSS_EINVAL);
    issue_ok(&h, &p, T0, "r-1");
    issue_ok(&h, &p, T0 + SEC, "r-2");
    assert_int_equal(
        oss_rc_decide_reset_use(&h.st, T0 + 2 * SEC, "r-1", &f, &err),
        OSS_ENOTFOUND);
    assert_int_equal(
        oss_rc_decide_reset_use(&h.st, T0 + 2 * SEC, "r-2", &f, &err), OSS_OK);
}

static void
test_reset_rate_limit(void **state) {
    (void)state;
    oss_rc_policy_t p;
    rhist_t h;
    oss_rc_fact_t f;
    oss_err_t err;
    int64_t ra = 0;

    oss_rc_policy_default(&p); /* 3 per hour */
    oss_rc_reset_init(&h.st);
    issue_ok(&h, &p, T0, "a");
    issue_ok(&h, &p, T0 + 10 * SEC, "b");
    issue_ok(&h, &p, T0 + 20 * SEC, "c");
    assert_int_equal(oss_rc_decide_reset_issue(&h.st, &p, T0 + 30 * SEC, true,
                                               "d", &f, &ra, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "rate_limited");
    /* the first link leaves the window at T0 + 1 h */
    assert_int_equal(ra, 3600 * SEC - 30 * SEC);
    assert_int_equal(oss_rc_decide_reset_issue(&h.st, &p, T0 + 3600 * SEC - 1,
                                               true, "d", &f, &ra, &err),
                     OSS_ECONFLICT);
    assert_int_equal(ra, 1);
    issue_ok(&h, &p, T0 + 3600 * SEC, "d");
    /* the refused attempts issued nothing: "c" was superseded by "d" */
    assert_string_equal(h.st.current, "d");
}

static void
test_help_file_and_decide(void **state) {
    (void)state;
    oss_rc_policy_t p;
    oss_rc_help_state_t st;
    oss_rc_fact_t f, out[2];
    size_t n;
    oss_err_t err;

    oss_rc_policy_default(&p);
    oss_rc_help_init(&st);
    assert_int_equal(oss_rc_decide_help_file(&st, &p, T0, "h-1", "", &f, &err),
                     OSS_EINVAL);
    assert_string_equal(err.field, "evidence_ref");
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-1", "a\nb", &f, &err),
        OSS_EINVAL);
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-1", "SK-2026/001", &f, &err),
        OSS_OK);
    assert_int_equal(f.kind, OSS_RC_HELP_FILED);
    assert_int_equal(f.at_us, T0);
    oss_rc_help_evolve(&st, &f);
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-1", "SK-2026/001", &f, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "duplicate");

    assert_int_equal(
        oss_rc_decide_help(&st, T0, "h-x", "approve", "ok", out, &n, &err),
        OSS_ENOTFOUND);
    assert_int_equal(
        oss_rc_decide_help(&st, T0, "h-1", "maybe", "ok", out, &n, &err),
        OSS_EINVAL);
    assert_string_equal(err.field, "decision");
    assert_int_equal(
        oss_rc_decide_help(&st, T0, "h-1", "approve", "", out, &n, &err),
        OSS_EINVAL);
    assert_string_equal(err.field, "reason");
    assert_int_equal(oss_rc_decide_help(&st, T0 + 5 * SEC, "h-1", "approve",
                                        "KTP checked at the counter", out, &n,
                                        &err),
                     OSS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].kind, OSS_RC_HELP_DECIDED);
    assert_int_equal(out[0].decision, OSS_RC_APPROVED);
    assert_int_equal(out[1].kind, OSS_RC_CONTACT_REPLACED);
    oss_rc_help_evolve(&st, &out[0]);
    oss_rc_help_evolve(&st, &out[1]);
    assert_int_equal(oss_rc_help_find(&st, "h-1")->decided_at_us, T0 + 5 * SEC);
    /* decided once */
    assert_int_equal(oss_rc_decide_help(&st, T0 + 6 * SEC, "h-1", "reject",
                                        "changed my mind", out, &n, &err),
                     OSS_ECONFLICT);
    assert_string_equal(err.field, "already_decided");
    assert_int_equal(n, 0);

    /* a rejection replaces nothing */
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-2", "ev", &f, &err), OSS_OK);
    oss_rc_help_evolve(&st, &f);
    assert_int_equal(oss_rc_decide_help(&st, T0, "h-2", "reject",
                                        "evidence unreadable", out, &n, &err),
                     OSS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].decision, OSS_RC_REJECTED);
}

static void
test_help_open_limit(void **state) {
    (void)state;
    oss_rc_policy_t p;
    oss_rc_help_state_t st;
    oss_rc_fact_t f, out[2];
    size_t n;
    oss_err_t err;
    char id[16];

    oss_rc_policy_default(&p);
    oss_rc_help_init(&st);
    for (int i = 0; i < p.help_max_open; i++) {
        snprintf(id, sizeof id, "h-%d", i);
        assert_int_equal(
            oss_rc_decide_help_file(&st, &p, T0, id, "ev", &f, &err), OSS_OK);
        oss_rc_help_evolve(&st, &f);
    }
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-9", "ev", &f, &err),
        OSS_ECONFLICT);
    assert_string_equal(err.field, "too_many_open");
    assert_int_equal(
        oss_rc_decide_help(&st, T0, "h-0", "reject", "dup", out, &n, &err),
        OSS_OK);
    oss_rc_help_evolve(&st, &out[0]);
    assert_int_equal(
        oss_rc_decide_help_file(&st, &p, T0, "h-9", "ev", &f, &err), OSS_OK);
}

static void
test_window(void **state) {
    (void)state;
    oss_rc_window_t w = {0};
    int64_t ra;
    for (int i = 0; i < 5; i++)
        assert_true(oss_rc_window_take(&w, 5, 60 * SEC, T0 + i * SEC, &ra));
    assert_false(oss_rc_window_take(&w, 5, 60 * SEC, T0 + 10 * SEC, &ra));
    assert_int_equal(ra, 50 * SEC);
    assert_false(oss_rc_window_take(&w, 5, 60 * SEC, T0 + 60 * SEC - 1, &ra));
    assert_int_equal(ra, 1);
    assert_true(oss_rc_window_take(&w, 5, 60 * SEC, T0 + 60 * SEC, &ra));
    assert_int_equal(ra, 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_mask_id),
        cmocka_unit_test(test_reset_expiry_and_single_use),
        cmocka_unit_test(test_reset_superseded_and_not_active),
        cmocka_unit_test(test_reset_rate_limit),
        cmocka_unit_test(test_help_file_and_decide),
        cmocka_unit_test(test_help_open_limit),
        cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
