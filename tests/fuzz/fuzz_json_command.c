/* libFuzzer target: the registration command's decoder exactly as the API
 * runs it on POST /v1/accounts bodies, api_registration_decode()
 * (producers/api/register.c: nesting guard, jansson parsing, field mapping,
 * oss_registration_validate), plus the JSON error body the API builds from
 * its result (oss_http_error_json). It must never crash, hang or read out of
 * bounds; its result must be consistent (0 = no field errors and a
 * NUL-terminated normalised registration, 400 = no field errors, 422 = at
 * least one), and every error body must itself be our JSON shape. */
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

/* A fixed day, so that a crash reproduces on any date. */
#define FUZZ_TODAY 20261124

static void
check_error_body(const char *code, const char *msg,
                 const oss_field_errors_t *fe) {
    char *body = oss_http_error_json(code, msg, fe);
    if (!body)
        abort();
    json_error_t e;
    json_t *j = json_loads(body, 0, &e);
    json_t *err = j ? json_object_get(j, "error") : NULL;
    if (!json_is_object(err) ||
        !json_is_string(json_object_get(err, "message")) ||
        !json_is_array(json_object_get(err, "fields")) ||
        json_array_size(json_object_get(err, "fields")) != (fe ? fe->n : 0)) {
        fprintf(stderr, "error body is not our JSON shape: %s\n", body);
        abort();
    }
    json_decref(j);
    free(body);
}

/* Every fixed-size text field of a valid registration is terminated. */
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    oss_registration_t out;
    oss_field_errors_t fe;
    char msg[256];

    if (size > 64 * 1024) /* api.max_body_bytes default */
        return 0;
    /* a copy without a terminator, so that reading past size is caught */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    memset(msg, 'x', sizeof msg);
    int status = api_registration_decode(body, size, FUZZ_TODAY, &out, &fe, msg,
                                         sizeof msg);
    if (!memchr(msg, '\0', sizeof msg)) {
        fprintf(stderr, "message not terminated\n");
        abort();
    }
    switch (status) {
    case 0:
        if (fe.n != 0 || !TERMINATED(out.nik) || !TERMINATED(out.name) ||
            !TERMINATED(out.email) || !TERMINATED(out.phone) ||
            !TERMINATED(out.birth_date) || !TERMINATED(out.country) ||
            !TERMINATED(out.website) || !TERMINATED(out.actor_type) ||
            !TERMINATED(out.terms_version) || strlen(out.nik) != 16) {
            fprintf(stderr, "valid registration is inconsistent\n");
            abort();
        }
        break;
    case 400:
        if (fe.n != 0) {
            fprintf(stderr, "400 with field errors\n");
            abort();
        }
        check_error_body("malformed_json", msg, NULL);
        break;
    case 422:
        if (fe.n == 0) {
            fprintf(stderr, "422 without a field error\n");
            abort();
        }
        check_error_body("invalid_fields", msg, &fe);
        break;
    default:
        fprintf(stderr, "unexpected status %d\n", status);
        abort();
    }
    free(body);
    return 0;
}
