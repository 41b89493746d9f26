/* Unit tests of the notifier's mail composition (consumers/notifier/mail.c):
 * headers, Message-ID from the event id, both languages, quoted-printable,
 * refusal of header injection. No servers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "notifier.h"

static void
test_compose(void **state) {
    (void)state;
    oss_mail_t m = {.event_id = "01a20d1e-6d7f-742a-8a38-c0b30d3cbedd",
                    .from = "OSS <no-reply@oss.go.id>",
                    .to = "siti@example.co.id",
                    .name = "Siti Nurhaliza \xc3\x89",
                    .account_id = "acc-42",
                    .date_us = 1790000000000000LL};
    char *msg = NULL;
    size_t len = 0;
    oss_err_t err = {0};
    assert_int_equal(oss_mail_compose(&m, &msg, &len, &err), OSS_OK);
    assert_int_equal(strlen(msg), len);
    assert_non_null(
        strstr(msg, "\r\nMessage-ID: "
                    "<01a20d1e-6d7f-742a-8a38-c0b30d3cbedd@oss.local>\r\n"));
    assert_non_null(strstr(msg, "\r\nTo: <siti@example.co.id>\r\n"));
    assert_non_null(strstr(msg, "From: OSS <no-reply@oss.go.id>\r\n"));
    assert_non_null(strstr(msg, "Content-Language: id\r\n"));
    assert_non_null(strstr(msg, "Content-Language: en\r\n"));
    assert_non_null(strstr(msg, "Yth. Siti Nurhaliza =C3=89,"));
    assert_non_null(strstr(msg, "Dear Siti Nurhaliza =C3=89,"));
    assert_non_null(strstr(msg, "acc-42"));
    /* the address appears once: in the To header */
    const char *first = strstr(msg, "siti@example.co.id");
    assert_non_null(first);
    assert_null(strstr(first + 1, "siti@example.co.id"));
    /* no bare LF, no line over 998 octets */
    for (size_t i = 0, col = 0; i < len; i++, col++) {
        if (msg[i] == '\n') {
            assert_true(i > 0 && msg[i - 1] == '\r');
            col = 0;
        }
        assert_true(col < 998);
    }
    free(msg);
}

static void
test_compose_refuses_injection(void **state) {
    (void)state;
    const char *bad[] = {"a@b\r\nBcc: x@y", "no-at-sign", "<a@b>", "a b@c",
                         "a@b@c",           "",           "@b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oss_mail_t m = {.event_id = "e1",
                        .from = "OSS <n@o>",
                        .to = bad[i],
                        .name = "x",
                        .account_id = "a",
                        .date_us = 0};
        char *msg = NULL;
        size_t len = 0;
        oss_err_t err = {0};
        assert_int_equal(oss_mail_compose(&m, &msg, &len, &err), OSS_EINVAL);
        assert_null(msg);
        /* the error names no address */
        if (*bad[i] > ' ')
            assert_null(strstr(err.msg, bad[i]));
    }
    /* a name with a line break cannot add a header */
    oss_mail_t m = {.event_id = "e1",
                    .from = "OSS <n@o>",
                    .to = "a@b.c",
                    .name = "Eve\r\nBcc: x@y",
                    .account_id = "a",
                    .date_us = 0};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(oss_mail_compose(&m, &msg, &len, NULL), OSS_OK);
    assert_null(strstr(msg, "\r\nBcc:"));
    free(msg);
}

static void
test_qp(void **state) {
    (void)state;
    char *q = oss_mail_qp("a=b \xc3\xa9 end \nx", 13);
    assert_string_equal(q, "a=3Db =C3=A9 end=20\r\nx");
    free(q);
    char longline[300];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    q = oss_mail_qp(longline, strlen(longline));
    for (char *l = q; l && *l;) {
        char *e = strstr(l, "\r\n");
        size_t n = e ? (size_t)(e - l) : strlen(l);
        assert_true(n <= 76);
        l = e ? e + 2 : l + n;
    }
    free(q);
    char addr[64];
    oss_mail_envelope_addr("OSS <no-reply@oss.go.id>", addr, sizeof addr);
    assert_string_equal(addr, "<no-reply@oss.go.id>");
    oss_mail_envelope_addr("x@y", addr, sizeof addr);
    assert_string_equal(addr, "<x@y>");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_compose_refuses_injection),
        cmocka_unit_test(test_qp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
