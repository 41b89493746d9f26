/* Unit tests of the registration use case (src/app/register.h) without a
 * database: sealing and the claim, the commands a batch runs (one per
 * registration without an activation), the decision on a new and on an
 * existing stream, and how finish reads outcomes (reason codes, replay,
 * a transaction that did not run); the OSS 1.1 username fold (legacy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "app/legacy.h"
#include "app/register.h"

static int renders;

static char *
render(void *arg, const oss_app_register_t *r, int64_t version) {
    (void)arg;
    (void)r;
    renders++;
    return version == 2 ? strdup("{\"ok\":1}") : NULL;
}

static void
fill(oss_app_t *app, oss_app_register_t *r) {
    oss_registration_input_t in = {.scale = "UMK",
                                   .actor_type = "02",
                                   .nik = "3171010601775019",
                                   .name = "Siti Rahma",
                                   .birth_date = "1977-01-06",
                                   .email = "siti@example.co.id",
                                   .phone = "085712345678",
                                   .terms_version = "2025-06"};
    oss_field_errors_t fe = {0};
    memset(app, 0, sizeof *app);
    app->master.n = 1;
    memset(app->master.key[0], 7, 32);
    strcpy(app->master.id[0], "0123456789abcdef");
    app->index.n = 1;
    memset(app->index.key[0], 9, 32);
    strcpy(app->index.id[0], "fedcba9876543210");
    memset(r, 0, sizeof *r);
    assert_int_equal(oss_registration_validate(&in, 20261124, &r->reg, &fe),
                     OSS_OK);
    r->correlation_id = "cid-1";
    r->response_fn = render;
    strcpy(r->terms_sha256, "00");
}

static void
test_seal_and_commands(void **state) {
    (void)state;
    oss_app_t app;
    oss_app_register_t r;
    oss_command_t cmds[2];
    oss_err_t err;

    fill(&app, &r);
    assert_int_equal(oss_app_register_seal(&app, &r, &err), OSS_OK);
    assert_false(r.has_act); /* no lifecycle: no activation */
    assert_int_equal(strncmp(r.stream_id, "account-", 8), 0);
    assert_string_equal(r.stream_id + 8, r.account_id);
    assert_int_equal(r.nclaims, 1);
    assert_string_equal(r.claim[0].kind, "business");
    assert_string_equal(r.claim[0].field, "nik");
    assert_non_null(r.payload);
    assert_non_null(r.terms_payload);

    memset(cmds, 0, sizeof cmds);
    r.idempotency_key = "k1";
    assert_int_equal(oss_app_register_commands(&r, cmds), 1);
    assert_string_equal(cmds[0].stream_id, r.stream_id);
    assert_int_equal(cmds[0].expected_version, 0);
    assert_ptr_equal(cmds[0].claims, r.claim);
    assert_string_equal(cmds[0].idempotency_key, "k1");
    assert_ptr_equal(cmds[0].request_hash, r.request_hash);
    assert_int_equal(cmds[0].response_status, 201);

    /* a new stream: AccountRegistered + TermsAccepted */
    oss_event_list_t out = {0};
    oss_err_clear(&err);
    assert_int_equal(cmds[0].decide(cmds[0].ctx, NULL, 0, &out, &err), OSS_OK);
    assert_int_equal(out.len, 2);
    assert_string_equal(out.items[0].payload_type, OSS_ACCOUNT_REGISTERED);
    assert_string_equal(out.items[1].payload_type, "oss.v1.TermsAccepted");
    /* the stream exists: refused */
    oss_event_list_t again = {0};
    oss_err_clear(&err);
    assert_int_not_equal(
        cmds[0].decide(cmds[0].ctx, out.items, 1, &again, &err), OSS_OK);
    oss_event_list_free(&again);
    oss_event_list_free(&out);

    /* the response the idempotency row keeps is the caller's */
    renders = 0;
    cmds[0].last_version = 2;
    char *body = cmds[0].response_fn(cmds[0].ctx, &cmds[0]);
    assert_string_equal(body, "{\"ok\":1}");
    assert_int_equal(renders, 1);
    free(body);
    oss_app_register_clear(&r);
    assert_null(r.payload);
    assert_string_equal(r.reg.nik, "");
}

static void
test_finish(void **state) {
    (void)state;
    oss_app_t app;
    oss_app_register_t r;
    oss_command_t c;
    oss_err_t err;

    fill(&app, &r);
    oss_err_clear(&err);
    /* the transaction did not run */
    oss_err_set(&err, OSS_EUNAVAIL, "down");
    assert_int_equal(oss_app_register_finish(&r, NULL, 0, OSS_EUNAVAIL, &err),
                     OSS_EUNAVAIL);
    assert_int_equal(r.step, OSS_APP_REGISTER_STEP_APPEND);

    /* a second registration of the business */
    memset(&c, 0, sizeof c);
    c.outcome = OSS_JOURNAL_REJECTED;
    oss_err_field(&c.err, OSS_EDUPLICATE, "npwp", "claimed");
    oss_err_clear(&err);
    assert_int_equal(oss_app_register_finish(&r, &c, 1, OSS_OK, &err), OSS_OK);
    assert_int_equal(r.outcome, OSS_JOURNAL_REJECTED);
    assert_true(oss_err_is(&r.err, OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS));
    assert_string_equal(r.err.field, "npwp");

    /* an idempotency key reused with another body */
    oss_err_field(&c.err, OSS_EDUPLICATE, "Idempotency-Key", "reused");
    assert_int_equal(oss_app_register_finish(&r, &c, 1, OSS_OK, &err), OSS_OK);
    assert_true(oss_err_is(&r.err, OSS_APP_REASON_KEY_REUSED));

    /* a replay: the first answer is taken from the command */
    memset(&c, 0, sizeof c);
    c.outcome = OSS_JOURNAL_REPLAYED;
    c.replay_status = 201;
    c.replay_response = strdup("{}");
    assert_int_equal(oss_app_register_finish(&r, &c, 1, OSS_OK, &err), OSS_OK);
    assert_int_equal(r.outcome, OSS_JOURNAL_REPLAYED);
    assert_null(c.replay_response);
    assert_string_equal(r.replay_response, "{}");
    assert_int_equal(r.replay_status, 201);
    oss_app_register_clear(&r);
    assert_null(r.replay_response);
}

static void
test_legacy_username_fold(void **state) {
    (void)state;
    char out[129], in[200];
    oss_app_legacy_username_fold("PT.Maju-Jaya_01", out);
    assert_string_equal(out, "pt.maju-jaya_01");
    /* ASCII only: other bytes stay as they are */
    oss_app_legacy_username_fold("\xc3\x89"
                                 "cole",
                                 out);
    assert_string_equal(out, "\xc3\x89"
                             "cole");
    /* cut to 128 bytes */
    memset(in, 'A', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    oss_app_legacy_username_fold(in, out);
    assert_int_equal(strlen(out), 128);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[127], 'a');
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_and_commands),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_legacy_username_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
