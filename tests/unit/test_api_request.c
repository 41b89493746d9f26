/* Unit tests of the request helpers that need no server
 * (producers/api/request.c): bounded copies, packed events, and sealing /
 * opening a field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "oss/v1/account.pb-c.h"
#include "request.h"

static void
test_copy(void **state) {
    (void)state;
    char d[5];
    oss_str_copy(d, sizeof d, "abcdefgh");
    assert_string_equal(d, "abcd");
    oss_str_copy(d, sizeof d, NULL);
    assert_string_equal(d, "");
    oss_str_copy(d, sizeof d, "ab");
    assert_string_equal(d, "ab");
}

static void
test_event_push(void **state) {
    (void)state;
    oss_event_list_t out = {0};
    oss_err_t err;
    Oss__V1__TermsAccepted m = OSS__V1__TERMS_ACCEPTED__INIT;
    m.account_id = "acc-1";
    m.version = "2024-01";
    assert_int_equal(oss_app_event_push(&out, "oss.v1.TermsAccepted", &m.base,
                                        42, "because", &err),
                     OSS_OK);
    assert_int_equal(oss_app_event_push(&out, "oss.v1.TermsAccepted", &m.base,
                                        0, NULL, &err),
                     OSS_OK);
    assert_int_equal(out.len, 2);
    const oss_event_t *ev = &out.items[0];
    assert_string_equal(ev->payload_type, "oss.v1.TermsAccepted");
    assert_int_equal(ev->schema_version, 1);
    assert_int_equal(ev->occurred_at_us, 42);
    assert_string_equal(ev->reason, "because");
    assert_null(out.items[1].reason);
    Oss__V1__TermsAccepted *back =
        oss__v1__terms_accepted__unpack(NULL, ev->payload_len, ev->payload);
    assert_non_null(back);
    assert_string_equal(back->account_id, "acc-1");
    assert_string_equal(back->version, "2024-01");
    oss__v1__terms_accepted__free_unpacked(back, NULL);
    oss_event_list_free(&out);
}

static void
test_seal_open(void **state) {
    (void)state;
    oss_data_key_t dk;
    oss_err_t err;
    memset(&dk, 0, sizeof dk);
    snprintf(dk.subject_id, sizeof dk.subject_id, "%s",
             "0190f0aa-0000-7000-8000-000000000001");
    for (int i = 0; i < 32; i++)
        dk.key[i] = (uint8_t)(i * 7 + 1);

    Oss__V1__SealedField sf = OSS__V1__SEALED_FIELD__INIT;
    assert_int_equal(
        oss_app_seal_field(&dk, "email", "siti@example.go.id", &sf, &err),
        OSS_OK);
    assert_string_equal(sf.subject_id, dk.subject_id);
    assert_int_equal(sf.nonce.len, 12);
    assert_null(memmem(sf.ciphertext.data, sf.ciphertext.len, "siti", 4));

    char out[64], small[5];
    assert_int_equal(oss_app_open_field(&dk, "email", sf.nonce.data,
                                        sf.nonce.len, sf.ciphertext.data,
                                        sf.ciphertext.len, out, sizeof out,
                                        &err),
                     OSS_OK);
    assert_string_equal(out, "siti@example.go.id");
    /* truncated to the room given */
    assert_int_equal(oss_app_open_field(&dk, "email", sf.nonce.data,
                                        sf.nonce.len, sf.ciphertext.data,
                                        sf.ciphertext.len, small, sizeof small,
                                        &err),
                     OSS_OK);
    assert_string_equal(small, "siti");
    /* another field name (AAD) does not open it */
    assert_int_not_equal(oss_app_open_field(&dk, "phone", sf.nonce.data,
                                            sf.nonce.len, sf.ciphertext.data,
                                            sf.ciphertext.len, out, sizeof out,
                                            &err),
                         OSS_OK);
    /* no nonce: corrupt */
    assert_int_equal(oss_app_open_field(&dk, "email", sf.nonce.data, 0,
                                        sf.ciphertext.data, sf.ciphertext.len,
                                        out, sizeof out, &err),
                     OSS_ECORRUPT);
    free(sf.nonce.data);
    free(sf.ciphertext.data);
}

int
main(void) {
    const struct CMUnitTest tests[] = {

        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_event_push),
        cmocka_unit_test(test_seal_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
