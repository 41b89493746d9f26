/* Unit tests of the API's token buckets (producers/api/ratelimit.c) with a
 * controlled clock: per-IP and per-key limits, refill, Retry-After, both or
 * neither taken, exempt IPs, class separation, bounded memory, and exact
 * counts under concurrent callers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

#define S 1000000LL /* one second in microseconds */

static api_rl_t *
mk(uint32_t ip_max, uint32_t key_max, uint32_t window_s, size_t max_entries,
   const char *exempt) {
    api_rl_limit_t lim[API_RL_CLASS_COUNT];
    for (int c = 0; c < API_RL_CLASS_COUNT; c++)
        lim[c] = (api_rl_limit_t){ip_max, key_max, window_s};
    api_rl_t *rl = api_rl_new(lim, max_entries, exempt);
    assert_non_null(rl);
    return rl;
}

static void
test_ip_bucket_refills(void **state) {
    (void)state;
    api_rl_t *rl = mk(3, 0, 60, 100, NULL);
    int64_t t = 1000 * S;
    for (int i = 0; i < 3; i++)
        assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, t),
                         0);
    int64_t w = api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, t);
    /* one token comes back every 60/3 = 20 s */
    assert_true(w > 19 * S && w <= 20 * S);
    /* another IP is not affected */
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "10.0.0.2", NULL, t), 0);
    /* half-way: still refused, with about 10 s left */
    w = api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, t + 10 * S);
    assert_true(w > 9 * S && w <= 10 * S);
    /* after 20 s exactly one more */
    assert_int_equal(
        api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, t + 20 * S), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, t + 20 * S) >
                0);
    /* a long pause refills to max, never above */
    int64_t later = t + 3600 * S;
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, later), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "10.0.0.1", NULL, later) > 0);
    api_rl_free(rl);
}

static void
test_key_across_ips(void **state) {
    (void)state;
    api_rl_t *rl = mk(100, 2, 60, 100, NULL);
    int64_t t = 5 * S;
    assert_int_equal(api_rl_take(rl, API_RL_OTP, "10.0.0.1", "acct-1", t), 0);
    assert_int_equal(api_rl_take(rl, API_RL_OTP, "10.0.0.2", "acct-1", t), 0);
    /* a third IP cannot spend the key's budget */
    int64_t w = api_rl_take(rl, API_RL_OTP, "10.0.0.3", "acct-1", t);
    assert_true(w > 29 * S && w <= 30 * S);
    /* the same IP on another key is fine */
    assert_int_equal(api_rl_take(rl, API_RL_OTP, "10.0.0.3", "acct-2", t), 0);
    api_rl_free(rl);
}

static void
test_both_or_neither(void **state) {
    (void)state;
    api_rl_t *rl = mk(2, 1, 60, 100, NULL);
    int64_t t = 7 * S;
    assert_int_equal(api_rl_take(rl, API_RL_REGISTER, "ip", "k1", t), 0);
    /* key k1 is empty: refused, and the IP keeps its second token */
    assert_true(api_rl_take(rl, API_RL_REGISTER, "ip", "k1", t) > 0);
    assert_true(api_rl_take(rl, API_RL_REGISTER, "ip", "k1", t) > 0);
    assert_int_equal(api_rl_take(rl, API_RL_REGISTER, "ip", "k2", t), 0);
    /* now the IP is empty: k3 is refused and keeps its token */
    assert_true(api_rl_take(rl, API_RL_REGISTER, "ip", "k3", t) > 0);
    assert_int_equal(api_rl_take(rl, API_RL_REGISTER, "other", "k3", t), 0);
    api_rl_free(rl);
}

static void
test_classes_separate(void **state) {
    (void)state;
    api_rl_t *rl = mk(1, 1, 60, 100, NULL);
    int64_t t = 9 * S;
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "ip", "k", t), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "ip", "k", t) > 0);
    assert_int_equal(api_rl_take(rl, API_RL_RESEND, "ip", "k", t), 0);
    assert_int_equal(api_rl_take(rl, API_RL_RECOVERY, "ip", "k", t), 0);
    api_rl_free(rl);
}

static void
test_exempt_and_unlimited(void **state) {
    (void)state;
    api_rl_t *rl = mk(1, 2, 60, 100, " 127.0.0.1 , ::1");
    int64_t t = 11 * S;
    /* exempt IP: no per-IP limit ... */
    for (int i = 0; i < 50; i++)
        assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "::1", NULL, t), 0);
    /* ... but the per-key limit holds */
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "127.0.0.1", "a", t), 0);
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "127.0.0.1", "a", t), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "127.0.0.1", "a", t) > 0);
    /* a non-exempt IP is limited */
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "127.0.0.2", NULL, t), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "127.0.0.2", NULL, t) > 0);
    api_rl_free(rl);
    /* 0 = unlimited */
    rl = mk(0, 0, 60, 100, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(api_rl_take(rl, API_RL_OTP, "ip", "k", t), 0);
    assert_int_equal(api_rl_size(rl), 0);
    api_rl_free(rl);
}

static void
test_bounded_memory(void **state) {
    (void)state;
    api_rl_t *rl = mk(1, 1, 3600, 8, NULL);
    int64_t t = 13 * S;
    char ip[32], key[32];
    /* the oldest bucket is dropped first; a fresh one starts full */
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "first", NULL, t), 0);
    assert_true(api_rl_take(rl, API_RL_SIGNIN, "first", NULL, t) > 0);
    for (int i = 0; i < 10000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
                 i & 255);
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, ip, key, t), 0);
        assert_true(api_rl_size(rl) <= 8);
    }
    assert_int_equal(api_rl_size(rl), 8);
    assert_int_equal(api_rl_take(rl, API_RL_SIGNIN, "first", NULL, t), 0);
    /* recently used buckets survive: the last IP is still empty */
    assert_true(api_rl_take(rl, API_RL_SIGNIN, ip, NULL, t) > 0);
    api_rl_free(rl);
}

typedef struct hammer {
    api_rl_t *rl;
    _Atomic int allowed;
} hammer_t;

static hammer_t hammer_shared;

static void *
hammer_main(void *arg) {
    int id = (int)(intptr_t)arg;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        /* one shared IP bucket (100 tokens); keys churn through a pool of
         * 16 buckets so that eviction runs concurrently */
        snprintf(key, sizeof key, "t%d-%d", id, i);
        if (api_rl_take(hammer_shared.rl, API_RL_SIGNIN, "10.9.9.9", key,
                        42 * S) == 0)
            atomic_fetch_add(&hammer_shared.allowed, 1);
    }
    return NULL;
}

static void
test_concurrent_exact(void **state) {
    (void)state;
    hammer_shared.rl = mk(100, 1, 86400, 16, NULL);
    atomic_store(&hammer_shared.allowed, 0);
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, (void *)i),
                         0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* the clock stands still: exactly the IP bucket's 100 tokens */
    assert_int_equal(atomic_load(&hammer_shared.allowed), 100);
    assert_true(api_rl_size(hammer_shared.rl) <= 16);
    api_rl_free(hammer_shared.rl);
}

static void
test_class_names(void **state) {
    (void)state;
    assert_string_equal(api_rl_class_name(API_RL_REGISTER), "register");
    assert_string_equal(api_rl_class_name(API_RL_SIGNIN), "signin");
    assert_string_equal(api_rl_class_name(API_RL_OTP), "otp");
    assert_string_equal(api_rl_class_name(API_RL_RESEND), "resend");
    assert_string_equal(api_rl_class_name(API_RL_RECOVERY), "recovery");
    assert_string_equal(api_rl_class_name(API_RL_CLASS_COUNT), "");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_bucket_refills),
        cmocka_unit_test(test_key_across_ips),
        cmocka_unit_test(test_both_or_neither),
        cmocka_unit_test(test_classes_separate),
        cmocka_unit_test(test_exempt_and_unlimited),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_concurrent_exact),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
