/* libFuzzer target: the registration command's JSON decoding path on
 * arbitrary request bodies: the API's nesting guard (api_json_depth), jansson
 * parsing as producers/api/register.c does it, the field mapping, the core
 * validators (oss_registration_validate) and the JSON error body built from
 * the field errors (oss_http_error_json). It must never crash, hang or read
 * out of bounds, and every error body must itself be valid JSON.
 * NOTE: register.c's decode() is static and tied to an HTTP request; when the
 * API exposes a body -> registration decoder, call it here instead. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "core/account.h"
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 32

static void
check_error_body(const char *code, const char *msg,
                 const oss_field_errors_t *fe)
{
    char *body = oss_http_error_json(code, msg, fe);
    if (!body)
        abort();
    json_error_t e;
    json_t *j = json_loads(body, 0, &e);
    if (!j || !json_is_object(json_object_get(j, "error"))) {
        fprintf(stderr, "error body is not our JSON shape: %s\n", body);
        abort();
    }
    json_decref(j);
    free(body);
}

/* As register.c: unknown keys are echoed as ASCII [A-Za-z0-9_.-], others
 * as '?', at most 40 chars. */
static void
safe_field_name(const char *in, char *out, size_t outsz)
{
    size_t i = 0;
    for (; in[i] && i + 1 < outsz && i < 40; i++) {
        unsigned char c = (unsigned char)in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        out[i] = ok ? (char)c : '?';
    }
    out[i] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *known[] = {"scale",   "actor_type", "nik",
                                  "name",    "birth_date", "email",
                                  "phone",   "country",    "website",
                                  "terms_version", NULL};
    const char *body = (const char *)data;
    json_error_t jerr;
    json_t *root = NULL;
    oss_field_errors_t fe;
    oss_registration_input_t in;
    oss_registration_t out;

    memset(&fe, 0, sizeof fe);
    memset(&in, 0, sizeof in);
    if (size > 64 * 1024)
        return 0;
    if (api_json_depth(body, size, MAX_DEPTH) > MAX_DEPTH)
        return 0;
    root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char msg[256];
        snprintf(msg, sizeof msg, "could not parse request body: %s at byte %d",
                 jerr.text, jerr.position);
        check_error_body("malformed_json", msg, NULL);
        return 0;
    }
    if (json_is_object(root)) {
        const char *key;
        json_t *val;
        json_object_foreach(root, key, val) {
            int k = -1;
            for (int i = 0; known[i]; i++)
                if (strcmp(known[i], key) == 0)
                    k = i;
            if (k < 0) {
                char name[48];
                safe_field_name(key, name, sizeof name);
                oss_field_errors_add(&fe, name, OSS_REASON_UNKNOWN_FIELD);
                continue;
            }
            if (json_is_null(val) && (!strcmp(key, "website") ||
                                      !strcmp(key, "country")))
                continue;
            if (!json_is_string(val)) {
                oss_field_errors_add(&fe, key, OSS_REASON_MUST_BE_STRING);
                continue;
            }
            const char **slot[] = {&in.scale,   &in.actor_type, &in.nik,
                                   &in.name,    &in.birth_date, &in.email,
                                   &in.phone,   &in.country,    &in.website,
                                   &in.terms_version};
            *slot[k] = json_string_value(val);
        }
        oss_code_t rc = oss_registration_validate(&in, 20261124, &out, &fe);
        if (rc != OSS_OK && fe.n == 0) {
            fprintf(stderr, "validation failed without a field error\n");
            abort();
        }
        if (rc == OSS_OK && fe.n != 0) {
            fprintf(stderr, "validation passed with field errors\n");
            abort();
        }
        if (rc != OSS_OK)
            check_error_body("invalid_fields", "fields are invalid", &fe);
    }
    json_decref(root);
    return 0;
}
