/* Unit tests of the principal helpers that need no server: person fields
 * (oss_app_person_validate: NIK or passport, prefixes, every bad field named),
 * institution codes and the GrantAdded / GrantRevoked events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth.h"
#include "gov.h"
#include "oss/v1/principal.pb-c.h"

static json_t *
person(const char *prefix) {
    char k[64];
    json_t *o = json_object();
    const char *kv[][2] = {{"nik", "3171014501900001"},
                           {"name", "  Siti Aminah "},
                           {"email", "Siti.Aminah@Example.GO.ID"},
                           {"phone", "0812-3456-7890"},
                           {"birth_date", "05-01-1990"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        snprintf(k, sizeof k, "%s%s", prefix, kv[i][0]);
        json_object_set_new(o, k, json_string(kv[i][1]));
    }
    return o;
}

static void
test_person_valid(void **state) {
    (void)state;
    oss_app_person_t p;
    oss_field_errors_t fe;
    json_t *o = person("");
    assert_true(oss_app_person_validate(o, "", &p, &fe));
    assert_int_equal(fe.n, 0);
    assert_string_equal(p.nik, "3171014501900001");
    assert_string_equal(p.country, "ID");
    assert_string_equal(p.name, "Siti Aminah");
    assert_string_equal(p.email, "Siti.Aminah@example.go.id");
    assert_string_equal(p.phone, "+6281234567890");
    assert_string_equal(p.birth_date, "1990-01-05");
    assert_string_equal(p.channel, "email");
    json_decref(o);

    /* prefixed, WhatsApp, passport instead of NIK, no birth date */
    o = person("new_owner_");
    json_object_del(o, "new_owner_nik");
    json_object_del(o, "new_owner_birth_date");
    json_object_set_new(o, "new_owner_passport", json_string("x1234567"));
    json_object_set_new(o, "new_owner_country", json_string("SG"));
    json_object_set_new(o, "new_owner_channel", json_string("whatsapp"));
    json_object_set_new(o, "nik", json_string("not read without prefix"));
    assert_true(oss_app_person_validate(o, "new_owner_", &p, &fe));
    assert_string_equal(p.nik, "");
    assert_string_equal(p.passport, "X1234567");
    assert_string_equal(p.country, "SG");
    assert_string_equal(p.birth_date, "");
    assert_string_equal(p.channel, "whatsapp");
    json_decref(o);
}

static void
test_person_invalid(void **state) {
    (void)state;
    oss_app_person_t p;
    oss_field_errors_t fe;
    json_t *o =
        json_pack("{s:s, s:i, s:s, s:s, s:s}", "nik", "3171014501900000",
                  "name", 5, "email", "nope", "phone", "12", "channel", "fax");
    assert_false(oss_app_person_validate(o, "", &p, &fe));
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "nik_serial_zero");
    assert_string_equal(oss_field_errors_get(&fe, "name"), "must_be_string");
    assert_non_null(oss_field_errors_get(&fe, "email"));
    assert_non_null(oss_field_errors_get(&fe, "phone"));
    assert_string_equal(oss_field_errors_get(&fe, "channel"),
                        "channel_invalid");
    /* nothing half-filled survives a refusal */
    assert_string_equal(p.nik, "");
    json_decref(o);

    o = json_object();
    assert_false(oss_app_person_validate(o, "x_", &p, &fe));
    assert_string_equal(oss_field_errors_get(&fe, "x_nik"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "x_name"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "x_email"), "required");
    assert_string_equal(oss_field_errors_get(&fe, "x_phone"), "required");
    json_decref(o);

    /* both identities, or a passport without its country */
    o = person("");
    json_object_set_new(o, "passport", json_string("X1234567"));
    assert_false(oss_app_person_validate(o, "", &p, &fe));
    assert_string_equal(oss_field_errors_get(&fe, "passport"),
                        "nik_or_passport");
    json_object_del(o, "nik");
    assert_false(oss_app_person_validate(o, "", &p, &fe));
    assert_string_equal(oss_field_errors_get(&fe, "country"), "required");
    json_decref(o);
}

static void
test_institutions(void **state) {
    (void)state;
    assert_true(oss_app_institution_valid("oss"));
    assert_true(oss_app_institution_valid("090"));
    assert_true(oss_app_institution_valid("3201000000"));
    assert_true(oss_app_institution_valid("kek-mandalika"));
    assert_false(oss_app_institution_valid(""));
    assert_false(oss_app_institution_valid(NULL));
    assert_false(oss_app_institution_valid("09"));
    assert_false(oss_app_institution_valid("09a"));
    assert_false(oss_app_institution_valid("kek-"));
    assert_false(oss_app_institution_valid("kek-Mandalika"));
    assert_false(oss_app_institution_valid("kek-abcdefghijkl"));
    assert_false(oss_app_institution_valid("OSS"));
    assert_false(oss_app_institution_valid("../x"));
}

static void
test_grant_events(void **state) {
    (void)state;
    oss_event_list_t out = {0};
    oss_err_t err;
    oss_grant_t g = {.role = OSS_ROLE_PREPARER};
    snprintf(g.account_id, sizeof g.account_id, "acc-1");
    assert_int_equal(
        oss_app_grant_event_push(&out, true, "p-1", &g, NULL, &err), OSS_OK);
    assert_int_equal(
        oss_app_grant_event_push(&out, false, "p-1", &g, "left", &err), OSS_OK);
    assert_int_equal(out.len, 2);
    assert_string_equal(out.items[0].payload_type, OSS_APP_T_GRANT_ADDED);
    assert_null(out.items[0].reason);
    Oss__V1__GrantAdded *a = oss__v1__grant_added__unpack(
        NULL, out.items[0].payload_len, out.items[0].payload);
    assert_non_null(a);
    assert_string_equal(a->principal_id, "p-1");
    assert_string_equal(a->grant->role, "preparer");
    assert_string_equal(a->grant->account_id, "acc-1");
    oss__v1__grant_added__free_unpacked(a, NULL);
    assert_string_equal(out.items[1].payload_type, OSS_APP_T_GRANT_REVOKED);
    assert_string_equal(out.items[1].reason, "left");
    Oss__V1__GrantRevoked *r = oss__v1__grant_revoked__unpack(
        NULL, out.items[1].payload_len, out.items[1].payload);
    assert_non_null(r);
    assert_string_equal(r->reason, "left");
    assert_string_equal(r->grant->role, "preparer");
    oss__v1__grant_revoked__free_unpacked(r, NULL);
    oss_event_list_free(&out);
}

/* Packs msg as an event of type into out. */
static void
push(oss_event_list_t *out, const char *type, const ProtobufCMessage *msg) {
    oss_event_t *ev = oss_event_list_push(out);
    assert_non_null(ev);
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s", type);
    ev->payload_len = protobuf_c_message_get_packed_size(msg);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    assert_non_null(ev->payload);
    protobuf_c_message_pack(msg, ev->payload);
}

/* The grants a revocation decides on come from the loaded access stream:
 * PrincipalCreated's and GrantAdded's, minus GrantRevoked and
 * OfficerRevoked (officer grants of its institution only). */
static void
test_grants_fold(void **state) {
    (void)state;
    oss_event_list_t h = {0};
    oss_err_t err;
    oss_grant_t g[OSS_AUTHZ_MAX_GRANTS];
    Oss__V1__Grant pg = OSS__V1__GRANT__INIT;
    Oss__V1__PrincipalCreated pc = OSS__V1__PRINCIPAL_CREATED__INIT;

    pg.role = "officer";
    pg.institution = "901";
    pg.sector = "901";
    pg.region = "3201000000";
    pc.principal_id = "p-1";
    pc.kind = "government";
    pc.grant = &pg;
    push(&h, OSS_APP_T_PRINCIPAL_CREATED, &pc.base);
    size_t n = oss_app_grants_fold(h.items, h.len, g, 16);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].role, OSS_ROLE_OFFICER);
    assert_string_equal(g[0].institution, "901");
    assert_string_equal(g[0].region, "3201000000");

    /* an auditor grant added; an officer revocation of ANOTHER institution
     * changes nothing */
    oss_grant_t aud = {.role = OSS_ROLE_AUDITOR};
    snprintf(aud.institution, sizeof aud.institution, "oss");
    assert_int_equal(
        oss_app_grant_event_push(&h, true, "p-1", &aud, NULL, &err), OSS_OK);
    Oss__V1__OfficerRevoked orv = OSS__V1__OFFICER_REVOKED__INIT;
    orv.principal_id = "p-1";
    orv.institution = "902";
    orv.reason = "x";
    push(&h, OSS_APP_T_OFFICER_REVOKED, &orv.base);
    assert_int_equal(oss_app_grants_fold(h.items, h.len, g, 16), 2);

    /* the officer revoked in its institution: the auditor grant remains */
    orv.institution = "901";
    push(&h, OSS_APP_T_OFFICER_REVOKED, &orv.base);
    n = oss_app_grants_fold(h.items, h.len, g, 16);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].role, OSS_ROLE_AUDITOR);
    assert_string_equal(g[0].institution, "oss");

    /* its GrantRevoked: nothing remains; a second revocation finds none */
    assert_int_equal(
        oss_app_grant_event_push(&h, false, "p-1", &aud, "gone", &err), OSS_OK);
    assert_int_equal(oss_app_grants_fold(h.items, h.len, g, 16), 0);
    /* events of other types and undecodable payloads are skipped */
    oss_event_t *junk = oss_event_list_push(&h);
    snprintf(junk->payload_type, sizeof junk->payload_type, "%s",
             OSS_APP_T_GRANT_ADDED);
    junk->payload = malloc(3);
    memcpy(junk->payload, "\xff\xff\xff", 3);
    junk->payload_len = 3;
    assert_int_equal(oss_app_grants_fold(h.items, h.len, g, 16), 0);
    oss_event_list_free(&h);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_valid),
        cmocka_unit_test(test_person_invalid),
        cmocka_unit_test(test_institutions),
        cmocka_unit_test(test_grant_events),
        cmocka_unit_test(test_grants_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
