/* Unit tests of the notifier's activation messages and server-reply capture
 * (consumers/notifier/mail.c): the activation mail and WhatsApp JSON carry
 * the OTP and link in both languages with when and what next; reply lines
 * lose anything that looks like an address. No servers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "notifier.h"

/* 2026-11-24T11:20:00Z and 15 minutes later */
#define ISSUED_US 1795519200000000LL
#define EXPIRES_US (ISSUED_US + 15LL * 60 * 1000000)

static const oss_activation_msg_t act = {
    .account_id = "01a20d49-0bec-713a-9884-339d97936903",
    .otp = "042917",
    .link = "https://oss.go.id/aktivasi?account=01a20d49&token=AbC_dEf-123",
    .issued_at_us = ISSUED_US,
    .expires_at_us = EXPIRES_US};

static void
test_activation_mail(void **state) {
    (void)state;
    oss_mail_t m = {.event_id = "01a20d49-0bf2-759d-ba35-c3b63bd8145e",
                    .from = "OSS <no-reply@oss.go.id>",
                    .to = "siti@example.co.id",
                    .name = "Siti",
                    .date_us = ISSUED_US};
    char *msg = NULL;
    size_t len = 0;
    oss_err_t err = {0};
    assert_int_equal(oss_mail_compose_activation(&m, &act, &msg, &len, &err),
                     OSS_OK);
    assert_int_equal(strlen(msg), len);
    assert_non_null(strstr(msg, "\r\nSubject: Kode aktivasi akun OSS"));
    assert_non_null(strstr(
        msg,
        "Message-ID: <01a20d49-0bf2-759d-ba35-c3b63bd8145e@oss.local>\r\n"));
    assert_non_null(strstr(msg, "Content-Language: id\r\n"));
    assert_non_null(strstr(msg, "Content-Language: en\r\n"));
    assert_non_null(strstr(msg, "Kode OTP Anda: 042917"));
    assert_non_null(strstr(msg, "Your OTP code: 042917"));
    /* when: WIB (UTC+7) in Indonesian, UTC in English; expiry */
    assert_non_null(strstr(msg, "24 November 2026 18:20 WIB"));
    assert_non_null(strstr(msg, "24 November 2026 11:20 UTC"));
    assert_non_null(strstr(msg, "18:35 WIB"));
    assert_non_null(strstr(msg, "11:35 UTC"));
    /* what next, both languages */
    assert_non_null(strstr(msg, "Langkah berikutnya"));
    assert_non_null(strstr(msg, "Next step"));
    /* the link survives quoted-printable: '=' is =3D, soft breaks */
    assert_non_null(strstr(msg, "token=3DAbC_dEf-123"));
    free(msg);

    /* a bad address is refused without naming it */
    m.to = "a@b>\r\nBcc: x@y";
    assert_int_equal(oss_mail_compose_activation(&m, &act, &msg, &len, &err),
                     OSS_EINVAL);
    assert_null(msg);
    assert_null(strstr(err.msg, "a@b"));
}

static void
test_whatsapp_json(void **state) {
    (void)state;
    oss_mail_t m = {.event_id = "01a20d49-0bf2-759d-ba35-c3b63bd8145e",
                    .to = "+6285712345678",
                    .name = "Siti"};
    char *body = NULL;
    size_t len = 0;
    oss_err_t err = {0};
    assert_int_equal(oss_whatsapp_compose(&m, &act, &body, &len, &err), OSS_OK);
    json_t *o = json_loadb(body, len, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "to")),
                        "+6285712345678");
    assert_string_equal(json_string_value(json_object_get(o, "message_id")),
                        m.event_id);
    const char *id =
        json_string_value(json_object_get(json_object_get(o, "text"), "id"));
    const char *en =
        json_string_value(json_object_get(json_object_get(o, "text"), "en"));
    assert_non_null(id);
    assert_non_null(en);
    assert_non_null(strstr(id, "Kode OTP Anda: 042917"));
    assert_non_null(strstr(id, act.link));
    assert_non_null(strstr(en, "Your OTP code: 042917"));
    assert_non_null(strstr(en, "expire at 24 November 2026 11:35 UTC"));
    json_decref(o);
    free(body);
}

static void
test_reply_scrub(void **state) {
    (void)state;
    char out[OSS_REPLY_TEXT_MAX];
    const char *in = "550 5.1.1 <siti@example.co.id>: mailbox unavailable\r";
    oss_reply_scrub(in, strlen(in), out, sizeof out);
    assert_string_equal(out, "550 5.1.1 [address] mailbox unavailable?");
    assert_null(strstr(out, "siti"));
    oss_reply_scrub("250 2.0.0 stored", 16, out, sizeof out);
    assert_string_equal(out, "250 2.0.0 stored");
    /* truncated, always terminated */
    char small[8];
    oss_reply_scrub("250 2.0.0 stored", 16, small, sizeof small);
    assert_string_equal(small, "250 2.0");
    oss_reply_scrub("x@y", 3, small, 4);
    assert_string_equal(small, "[ad");
    /* a gateway echoing the phone number */
    in = "HTTP/1.1 400 invalid recipient +6281234567890 (6281234567890)";
    oss_reply_scrub(in, strlen(in), out, sizeof out);
    assert_string_equal(out,
                        "HTTP/1.1 400 invalid recipient [number] [number]");
    assert_null(strstr(out, "812345"));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_mail),
        cmocka_unit_test(test_whatsapp_json),
        cmocka_unit_test(test_reply_scrub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
