/* Unit tests of the pure HTTP helpers: correlation-id check, the JSON error
 * body (parsed back with jansson), status/code mapping, the Content-Type
 * check, and the API's JSON depth scan and account-id check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "http/http.h"

static void
test_cid(void **state) {
    (void)state;
    assert_true(oss_http_cid_valid("a"));
    assert_true(oss_http_cid_valid("req-1.2_X"));
    assert_true(oss_http_cid_valid("01a20d24-e128-70d7-be48-6cb12a14be5c"));
    char s64[65], s65[66];
    memset(s64, 'a', 64);
    s64[64] = '\0';
    memset(s65, 'a', 65);
    s65[65] = '\0';
    assert_true(oss_http_cid_valid(s64));
    assert_false(oss_http_cid_valid(s65));
    assert_false(oss_http_cid_valid(""));
    assert_false(oss_http_cid_valid(NULL));
    assert_false(oss_http_cid_valid("a b"));
    assert_false(oss_http_cid_valid("a/b"));
    assert_false(oss_http_cid_valid("a\"b"));
    assert_false(oss_http_cid_valid("caf\xc3\xa9"));
    assert_false(oss_http_cid_valid("a\nb"));
}

static json_t *
parse(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("not JSON: %s (%s)", s, e.text);
    return j;
}

static void
test_error_json(void **state) {
    (void)state;
    oss_field_errors_t fe = {0};
    oss_field_errors_add(&fe, "nik", "nik_serial_zero");
    oss_field_errors_add(&fe, "email", "email_invalid");
    char *s =
        oss_http_error_json("invalid_fields", "2 fields are invalid", &fe);
    assert_non_null(s);
    json_t *j = parse(s);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "invalid_fields");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "2 fields are invalid");
    json_t *f = json_object_get(e, "fields");
    assert_int_equal(json_array_size(f), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(f, 0), "field")),
        "nik");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(f, 1), "reason")),
        "email_invalid");
    json_decref(j);
    free(s);

    /* no fields: an empty array; quotes and control characters escaped;
     * invalid UTF-8 in a message never breaks the body */
    s = oss_http_error_json("not_found", "no \"such\"\n thing", NULL);
    j = parse(s);
    e = json_object_get(j, "error");
    assert_int_equal(json_array_size(json_object_get(e, "fields")), 0);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "no \"such\"\n thing");
    json_decref(j);
    free(s);
    s = oss_http_error_json("malformed_json", "bad byte \xff here", NULL);
    assert_non_null(s);
    j = parse(s);
    json_decref(j);
    free(s);
}

static void
test_status_mapping(void **state) {
    (void)state;
    assert_int_equal(oss_http_status_for(OSS_EINVAL), 422);
    assert_int_equal(oss_http_status_for(OSS_EMALFORMED), 400);
    assert_int_equal(oss_http_status_for(OSS_ETOOBIG), 413);
    assert_int_equal(oss_http_status_for(OSS_ECONFLICT), 409);
    assert_int_equal(oss_http_status_for(OSS_EDUPLICATE), 409);
    assert_int_equal(oss_http_status_for(OSS_ENOTFOUND), 404);
    assert_int_equal(oss_http_status_for(OSS_EUNAVAIL), 503);
    assert_int_equal(oss_http_status_for(OSS_EINTERNAL), 500);
    assert_string_equal(oss_http_code_for_status(405), "method_not_allowed");
    assert_string_equal(oss_http_code_for_status(413), "payload_too_large");
    assert_string_equal(oss_http_code_for_status(415),
                        "unsupported_media_type");
    assert_string_equal(oss_http_code_for_status(503), "unavailable");
}

static void
test_content_type(void **state) {
    (void)state;
    assert_true(oss_http_content_type_json("application/json"));
    assert_true(oss_http_content_type_json("Application/JSON"));
    assert_true(oss_http_content_type_json("application/json; charset=utf-8"));
    assert_true(oss_http_content_type_json(" application/json ;charset=x"));
    assert_false(oss_http_content_type_json(NULL));
    assert_false(oss_http_content_type_json(""));
    assert_false(oss_http_content_type_json("application/jsonx"));
    assert_false(oss_http_content_type_json("text/plain"));
    assert_false(oss_http_content_type_json("application/json-patch+json"));
}

static void
test_json_depth(void **state) {
    (void)state;
    assert_int_equal(api_json_depth("{}", 2, 32), 1);
    assert_int_equal(api_json_depth("{\"a\":[1,{\"b\":2}]}", 17, 32), 3);
    /* brackets inside strings (with escaped quotes) do not count */
    const char *s = "{\"a\":\"[[[\\\"[[[\"}";
    assert_int_equal(api_json_depth(s, strlen(s), 32), 1);
    char deep[200];
    memset(deep, '[', sizeof deep);
    assert_true(api_json_depth(deep, sizeof deep, 32) > 32);
    assert_int_equal(api_json_depth("", 0, 32), 0);
}

static void
test_account_id(void **state) {
    (void)state;
    assert_true(oss_app_id_valid("01a20d24-e128-70d7-be48-6cb12a14be5d"));
    assert_false(oss_app_id_valid(""));
    assert_false(oss_app_id_valid("a b"));
    assert_false(oss_app_id_valid("<script>"));
    assert_false(oss_app_id_valid("a'; DROP TABLE x; --"));
}

static void
test_registration_decode(void **state) {
    (void)state;
    oss_registration_t r;
    oss_field_errors_t fe;
    char msg[256];
    const char *ok = "{\"scale\":\"UMK\",\"actor_type\":\"02\","
                     "\"nik\":\"3171015403909901\",\"name\":\"Siti\","
                     "\"birth_date\":\"14-03-1990\",\"email\":\"s@x.id\","
                     "\"phone\":\"0857 1234 5678\",\"website\":null,"
                     "\"terms_version\":\"1\"}";
    assert_int_equal(api_registration_decode(ok, strlen(ok), 20261124, &r, &fe,
                                             msg, sizeof msg),
                     0);
    assert_string_equal(r.phone, "+6285712345678");
    assert_string_equal(r.birth_date, "1990-03-14");
    const char *bad400[] = {"",
                            "[]",
                            "{",
                            "{\"a\":1,\"a\":2}",
                            "{\"nik\":1e999}",
                            "{\"n\":\"\\u0000\"}",
                            "{\"n\":\"\xff\"}",
                            "{} x"};
    for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++)
        assert_int_equal(api_registration_decode(bad400[i], strlen(bad400[i]),
                                                 0, &r, &fe, msg, sizeof msg),
                         400);
    const char *types = "{\"nik\":3171015403909901,\"name\":[\"x\"],"
                        "\"extra\\u00ff\":1}";
    assert_int_equal(api_registration_decode(types, strlen(types), 0, &r, &fe,
                                             msg, sizeof msg),
                     422);
    assert_string_equal(oss_field_errors_get(&fe, "nik"), "must_be_string");
    assert_string_equal(oss_field_errors_get(&fe, "name"), "must_be_string");
    assert_string_equal(oss_field_errors_get(&fe, "extra??"), "unknown_field");
    assert_string_equal(oss_field_errors_get(&fe, "email"), "required");
    char deep[100];
    memset(deep, '[', sizeof deep);
    assert_int_equal(
        api_registration_decode(deep, sizeof deep, 0, &r, &fe, msg, sizeof msg),
        400);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cid),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_account_id),
        cmocka_unit_test(test_registration_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
