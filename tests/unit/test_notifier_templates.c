/* Unit tests of the notifier's message templates
 * (consumers/notifier/templates.c): every kind renders in Indonesian and
 * English with no variable left unreplaced, says when (WIB / UTC) and what
 * to do next, coded values are said in words, and a missing variable is
 * named (never silently left as a placeholder). No servers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "notifier.h"

/* 2026-11-24T11:20:00Z */
#define WHEN_US 1795519200000000LL

/* A value for every variable a template may use; a distinct marker per
 * variable so the test can see each one arrived. */
static json_t *
all_vars(const char *kind) {
    json_t *v = json_object();
    const char *const *names = oss_template_vars(kind);
    for (size_t i = 0; names && names[i]; i++) {
        char val[64];
        if (!strcmp(names[i], "expires") ||
            !strcmp(names[i], "cooling_off_until")) {
            json_object_set_new(v, names[i],
                                json_integer(WHEN_US + 3600LL * 1000000));
            continue;
        }
        if (!strcmp(names[i], "when")) {
            json_object_set_new(v, names[i],
                                json_string("2026-11-24T11:20:00Z"));
            continue;
        }
        snprintf(val, sizeof val, "VAL_%s", names[i]);
        json_object_set_new(v, names[i], json_string(val));
    }
    return v;
}

/* Every message names the help desk of the terms of use (e-mail, call-in
 * lines, call centre, regional offices), in both languages, and none says
 * only "contact the OSS authority". */
static void
test_help_desk_named(void **state) {
    (void)state;
    for (size_t i = 0; oss_template_kind_at(i); i++) {
        const char *kind = oss_template_kind_at(i);
        const char *langs[] = {"id", "en"};
        for (int l = 0; l < 2; l++) {
            json_t *v = all_vars(kind);
            char *sub = NULL, *body = NULL, missing[48];
            oss_err_t err = {0};
            assert_int_equal(oss_template_render(kind, langs[l], v, WHEN_US,
                                                 &sub, &body, missing,
                                                 sizeof missing, &err),
                             OSS_OK);
            if (!strstr(body, "helpdesk.oss@insw.go.id") ||
                !strstr(body, "call centre 169") ||
                !strstr(body, "(+6221) 3857596") || !strstr(body, "DPMPTSP"))
                fail_msg("%s/%s names no help desk:\n%s", kind, langs[l], body);
            assert_null(strstr(body, "hubungi Lembaga OSS"));
            assert_null(strstr(body, "contact the OSS Agency"));
            free(sub);
            free(body);
            json_decref(v);
        }
    }
}

static void
test_every_kind_both_languages(void **state) {
    (void)state;
    size_t kinds = 0;
    for (size_t i = 0; oss_template_kind_at(i); i++, kinds++) {
        const char *kind = oss_template_kind_at(i);
        json_t *v = all_vars(kind);
        char *sub_id = NULL, *body_id = NULL, *sub_en = NULL, *body_en = NULL;
        char missing[48];
        oss_err_t err = {0};
        assert_int_equal(oss_template_render(kind, "id", v, WHEN_US, &sub_id,
                                             &body_id, missing, sizeof missing,
                                             &err),
                         OSS_OK);
        assert_string_equal(missing, "");
        assert_int_equal(oss_template_render(kind, "en", v, WHEN_US, &sub_en,
                                             &body_en, missing, sizeof missing,
                                             &err),
                         OSS_OK);
        assert_string_equal(missing, "");
        /* nothing left unreplaced */
        assert_null(strstr(body_id, "{{"));
        assert_null(strstr(body_en, "{{"));
        assert_null(strstr(body_id, "}}"));
        assert_null(strstr(body_en, "}}"));
        /* the two languages differ, each has a subject */
        assert_true(strcmp(body_id, body_en) != 0);
        assert_true(strlen(sub_id) > 5 && strlen(sub_en) > 5);
        assert_true(strcmp(sub_id, sub_en) != 0);
        /* greeting, when and what next in each language */
        assert_non_null(strstr(body_id, "Yth. "));
        assert_non_null(strstr(body_en, "Dear "));
        if (strcmp(kind, "registration") != 0) {
            assert_non_null(strstr(body_id, "24 November 2026 18:20 WIB"));
            assert_non_null(strstr(body_en, "24 November 2026 11:20 UTC"));
        }
        assert_non_null(strstr(body_id, "Langkah berikutnya"));
        assert_non_null(strstr(body_en, "Next step"));
        /* every string variable arrived (coded ones in words) */
        const char *const *names = oss_template_vars(kind);
        assert_non_null(names);
        for (size_t k = 0; names[k]; k++) {
            const char *nm = names[k];
            if (!strcmp(nm, "expires") || !strcmp(nm, "cooling_off_until")) {
                assert_non_null(strstr(body_id, "19:20 WIB"));
                assert_non_null(strstr(body_en, "12:20 UTC"));
                continue;
            }
            if (!strcmp(nm, "when"))
                continue;
            char val[64];
            snprintf(val, sizeof val, "VAL_%s", nm);
            if (!strstr(body_id, val) || !strstr(body_en, val))
                fail_msg("kind %s: variable %s not rendered", kind, nm);
        }
        free(sub_id);
        free(sub_en);
        free(body_id);
        free(body_en);
        json_decref(v);
    }
    /* the plan's kinds and the two existing messages are all there */
    static const char *const want[] = {
        "registration",     "activation",       "password_reset",
        "handover_filed",   "handover_decided", "access_terminated",
        "signin_throttled", "member_added",     "transfer_offered",
        "help_decided",     "officer_created",  NULL};
    for (size_t i = 0; want[i]; i++)
        if (!oss_template_vars(want[i]))
            fail_msg("no template for %s", want[i]);
    assert_true(kinds >= 11);
}

static void
test_words_and_missing(void **state) {
    (void)state;
    char *sub = NULL, *body = NULL, missing[48];
    oss_err_t err = {0};
    json_t *v =
        json_pack("{s:s, s:s, s:s, s:s}", "name", "Siti", "account_id", "acc-1",
                  "decision", "approve", "reason", "akta perubahan sah");
    assert_int_equal(oss_template_render("handover_decided", "id", v, WHEN_US,
                                         &sub, &body, missing, sizeof missing,
                                         &err),
                     OSS_OK);
    assert_non_null(strstr(body, "disetujui"));
    assert_null(strstr(body, "approve"));
    assert_non_null(strstr(body, "Yth. Siti,"));
    free(sub);
    free(body);
    assert_int_equal(oss_template_render("handover_decided", "en", v, WHEN_US,
                                         &sub, &body, missing, sizeof missing,
                                         &err),
                     OSS_OK);
    assert_non_null(strstr(body, "was approved"));
    free(sub);
    free(body);
    json_decref(v);

    /* a missing variable is named and rendered "-", never "{{...}}" */
    v = json_pack("{s:s, s:s}", "name", "Siti", "role", "preparer");
    assert_int_equal(oss_template_render("member_added", "en", v, WHEN_US, &sub,
                                         &body, missing, sizeof missing, &err),
                     OSS_OK);
    assert_string_equal(missing, "account_id");
    assert_null(strstr(body, "{{"));
    free(sub);
    free(body);
    json_decref(v);

    /* no name: a polite greeting; a value cannot inject a placeholder or a
     * line break */
    v = json_pack("{s:s, s:s, s:s}", "account_id", "a{{link}}\r\nb", "role",
                  "viewer", "name", "");
    assert_int_equal(oss_template_render("member_added", "id", v, WHEN_US, &sub,
                                         &body, missing, sizeof missing, &err),
                     OSS_OK);
    assert_non_null(strstr(body, "Yth. Bapak/Ibu,"));
    assert_non_null(strstr(body, "peninjau"));
    assert_null(strstr(body, "{{"));
    assert_null(strstr(body, "\r"));
    free(sub);
    free(body);
    json_decref(v);

    /* ISO times are shown in WIB / UTC */
    v = json_pack("{s:s, s:s}", "name", "Budi", "when", "2026-11-24T11:20:00Z");
    assert_int_equal(oss_template_render("signin_throttled", "id", v, 0, &sub,
                                         &body, missing, sizeof missing, &err),
                     OSS_OK);
    assert_non_null(strstr(body, "24 November 2026 18:20 WIB"));
    free(sub);
    free(body);
    json_decref(v);

    /* an unknown kind is refused */
    assert_int_equal(oss_template_render("no_such_kind", "id", NULL, WHEN_US,
                                         &sub, &body, NULL, 0, &err),
                     OSS_ENOTFOUND);
    assert_null(sub);
    assert_null(body);
}

static void
test_message_compose(void **state) {
    (void)state;
    oss_mail_t m = {.event_id = "01a20d49-0bf2-759d-ba35-c3b63bd8145e",
                    .from = "OSS <no-reply@oss.go.id>",
                    .to = "siti@example.co.id",
                    .date_us = WHEN_US};
    char *out = NULL;
    size_t len = 0;
    oss_err_t err = {0};
    assert_int_equal(oss_message_compose(&m, 0, "password_reset", "Atur ulang",
                                         "Reset", "teks ID\n", "text EN\n",
                                         &out, &len, &err),
                     OSS_OK);
    assert_non_null(strstr(out, "\r\nSubject: Atur ulang / Reset\r\n"));
    assert_non_null(strstr(out, "Content-Language: id\r\n"));
    assert_non_null(strstr(out, "Content-Language: en\r\n"));
    assert_non_null(strstr(
        out, "Message-ID: <01a20d49-0bf2-759d-ba35-c3b63bd8145e@oss.local>"));
    free(out);
    m.to = "+6285712345678";
    assert_int_equal(oss_message_compose(&m, 1, "password_reset", "Atur ulang",
                                         "Reset", "teks ID", "text EN", &out,
                                         &len, &err),
                     OSS_OK);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")),
                        "password_reset");
    assert_string_equal(json_string_value(json_object_get(j, "to")),
                        "+6285712345678");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "text"), "id")),
        "teks ID");
    json_decref(j);
    free(out);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_both_languages),
        cmocka_unit_test(test_help_desk_named),
        cmocka_unit_test(test_words_and_missing),
        cmocka_unit_test(test_message_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
