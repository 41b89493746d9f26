/* Unit tests of the account story's wording (oss_audit_describe): the
 * hand-written lines, delivery outcomes in words, sealed fields, and the
 * generic decoding of any oss.v1 payload through its generated descriptor.
 * No servers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_test.h"

#include "audit.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/delivery.pb-c.h"
#include "oss/v1/lifecycle.pb-c.h"
#include "oss/v1/registry.h"

static void
set_payload(oss_event_t *ev, const char *type, const ProtobufCMessage *m) {
    memset(ev, 0, sizeof *ev);
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s", type);
    ev->payload_len = m ? protobuf_c_message_get_packed_size(m) : 0;
    ev->payload = malloc(ev->payload_len + 1);
    if (m)
        protobuf_c_message_pack(m, ev->payload);
}

static void
erased(void *ctx, const char *field, const ProtobufCMessage *sealed, char *out,
       size_t outlen) {
    (void)field;
    (void)sealed;
    (*(int *)ctx)++;
    snprintf(out, outlen, "[erased]");
}

static void
test_registration(void **state) {
    (void)state;
    static uint8_t nonce[12], ct[20] = {1};
    Oss__V1__SealedField nik = OSS__V1__SEALED_FIELD__INIT;
    nik.subject_id = "s-1";
    nik.nonce.data = nonce;
    nik.nonce.len = 12;
    nik.ciphertext.data = ct;
    nik.ciphertext.len = 20;
    Oss__V1__AccountRegistered a = OSS__V1__ACCOUNT_REGISTERED__INIT;
    a.account_id = "acc-1";
    a.scale = OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_UMK;
    a.actor_type = "02";
    a.country = "ID";
    a.terms_version = "2025-06";
    a.nik = &nik;
    a.email = &nik;
    oss_event_t ev;
    set_payload(&ev, "oss.v1.AccountRegistered", &a.base);
    char out[1024];
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "account acc-1 registered (UMK, actor type 02, "
                             "country ID, terms 2025-06 accepted); nik: "
                             "[sealed], email: [sealed]");
    int calls = 0;
    oss_audit_describe(&ev, erased, &calls, NULL, out, sizeof out);
    assert_int_equal(calls, 2);
    assert_non_null(strstr(out, "nik: [erased], email: [erased]"));
    /* truncation is safe */
    char tiny[12];
    oss_audit_describe(&ev, NULL, NULL, NULL, tiny, sizeof tiny);
    assert_string_equal(tiny, "account acc");
    oss_event_clear(&ev);
}

static void
test_delivery_outcomes(void **state) {
    (void)state;
    char out[512];
    oss_event_t ev;
    Oss__V1__DeliveryFailed f = OSS__V1__DELIVERY_FAILED__INIT;
    f.channel = "email";
    f.reason = "550 mailbox unavailable";
    f.attempt = 1;
    f.reply_code = 550;
    f.permanent = 1;
    set_payload(&ev, "oss.v1.DeliveryFailed", &f.base);
    oss_audit_describe(&ev, NULL, NULL, "activation", out, sizeof out);
    assert_string_equal(out, "activation mail handed to the mail server, "
                             "refused: 550 mailbox unavailable (attempt 1); "
                             "given up");
    oss_event_clear(&ev);

    f.reason = "mailbox unavailable"; /* the code is added when missing */
    f.permanent = 0;
    f.channel = "whatsapp";
    set_payload(&ev, "oss.v1.DeliveryFailed", &f.base);
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "WhatsApp message handed to the WhatsApp "
                             "gateway, refused: 550 mailbox unavailable "
                             "(attempt 1)");
    oss_event_clear(&ev);

    f.channel = "email";
    f.reply_code = 0;
    f.attempt = 2;
    f.reason = "connection refused";
    set_payload(&ev, "oss.v1.DeliveryFailed", &f.base);
    oss_audit_describe(&ev, NULL, NULL, "activation", out, sizeof out);
    assert_string_equal(out, "activation mail could not be handed to the "
                             "mail server: connection refused (attempt 2)");
    oss_event_clear(&ev);

    Oss__V1__DeliveryHanded h = OSS__V1__DELIVERY_HANDED__INIT;
    h.channel = "email";
    h.reply_code = 250;
    h.reply_text = "250 2.0.0 stored";
    h.attempt = 3;
    set_payload(&ev, "oss.v1.DeliveryHanded", &h.base);
    oss_audit_describe(&ev, NULL, NULL, "activation", out, sizeof out);
    assert_string_equal(out, "activation mail handed to the mail server "
                             "(attempt 3): 250 2.0.0 stored");
    oss_event_clear(&ev);
}

static void
test_lifecycle_words(void **state) {
    (void)state;
    char out[512];
    oss_event_t ev;
    Oss__V1__ActivationSucceeded s = OSS__V1__ACTIVATION_SUCCEEDED__INIT;
    s.method = "link";
    set_payload(&ev, "oss.v1.ActivationSucceeded", &s.base);
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "activated (by the link)");
    oss_event_clear(&ev);
    Oss__V1__ActivationLocked l = OSS__V1__ACTIVATION_LOCKED__INIT;
    l.attempts = 5;
    set_payload(&ev, "oss.v1.ActivationLocked", &l.base);
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "activation locked after 5 wrong codes");
    oss_event_clear(&ev);
    Oss__V1__SessionEnded e = OSS__V1__SESSION_ENDED__INIT;
    e.session_id = "0123456789abcdef";
    e.reason = "signed\nout"; /* no control characters on the line */
    set_payload(&ev, "oss.v1.SessionEnded", &e.base);
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "session 01234567 ended (signed out)");
    oss_event_clear(&ev);
}

/* Any message of the registry without hand-written wording prints as its
 * type in words and its non-default fields, sealed fields sealed. */
static void
test_generic_decoding(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *d = NULL;
    /* a message with a string field, an int and a SealedField */
    for (size_t i = 0; oss_v1_registry[i] && !d; i++) {
        const ProtobufCMessageDescriptor *c = oss_v1_registry[i];
        if (strcmp(c->name, "oss.v1.HelpRequestFiled") == 0)
            d = c;
    }
    if (!d) /* recovery.proto not in this build: any other will do */
        d = oss_v1_registry_find("oss.v1.DeliveryRetrying");
    assert_non_null(d);
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(d, "request_id");
    static uint8_t nonce[12], ct[4] = {9};
    Oss__V1__SealedField sf = OSS__V1__SEALED_FIELD__INIT;
    sf.subject_id = "s";
    sf.nonce.data = nonce;
    sf.nonce.len = 12;
    sf.ciphertext.data = ct;
    sf.ciphertext.len = 4;
    if (f) {
        *(const char **)((char *)m + f->offset) = "req-9";
        f = protobuf_c_message_descriptor_get_field_by_name(d, "new_email");
        *(ProtobufCMessage **)((char *)m + f->offset) = &sf.base;
    } else {
        f = protobuf_c_message_descriptor_get_field_by_name(d, "attempt");
        *(int32_t *)((char *)m + f->offset) = 4;
    }
    oss_event_t ev;
    set_payload(&ev, d->name, m);
    /* no hand-written wording for this type in the test's view: compare
     * with the generic form when the type has none */
    char out[512];
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    if (strcmp(d->name, "oss.v1.HelpRequestFiled") == 0)
        assert_string_equal(out, "help request filed: request_id=req-9, "
                                 "new_email: [sealed]");
    else
        assert_non_null(strstr(out, "attempt (4)"));
    oss_event_clear(&ev);
    free(m);

    /* not in this build */
    set_payload(&ev, "oss.v1.NotThere", NULL);
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "not there (0 payload bytes, type not in this "
                             "build)");
    oss_event_clear(&ev);
    /* undecodable */
    set_payload(&ev, "oss.v1.ActivationLocked", NULL);
    free(ev.payload);
    ev.payload = (uint8_t *)strdup("\xff\xff\xff");
    ev.payload_len = 3;
    oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
    assert_string_equal(out, "activation locked (undecodable payload, 3 "
                             "bytes)");
    oss_event_clear(&ev);
}

/* Every registered message type decodes from an empty payload without
 * crashing and says something. */
static void
test_every_type(void **state) {
    (void)state;
    size_t n = 0;
    for (size_t i = 0; oss_v1_registry[i]; i++, n++) {
        oss_event_t ev;
        set_payload(&ev, oss_v1_registry[i]->name, NULL);
        char out[512];
        oss_audit_describe(&ev, NULL, NULL, NULL, out, sizeof out);
        assert_true(strlen(out) > 0);
        assert_null(strchr(out, '\n'));
        oss_event_clear(&ev);
    }
    assert_true(n >= 20);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration),
        cmocka_unit_test(test_delivery_outcomes),
        cmocka_unit_test(test_lifecycle_words),
        cmocka_unit_test(test_generic_decoding),
        cmocka_unit_test(test_every_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
