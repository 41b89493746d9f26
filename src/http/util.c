/* Pure HTTP helpers: correlation-id check, the JSON error body, status and
 * code mappings, Content-Type check. No libevent; thread-safe. */
#include "http/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

bool
oss_http_cid_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= OSS_HTTP_CID_MAX)
            return false;
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return n >= 1;
}

char *
oss_http_error_json(const char *code, const char *message,
                    const oss_field_errors_t *fe) {
    char *out = NULL;
    json_t *fields = json_array();
    json_t *root = NULL;

    if (!fields)
        goto done;
    for (size_t i = 0; fe && i < fe->n; i++) {
        json_t *f = json_pack("{s:s, s:s}", "field", fe->items[i].field,
                              "reason", fe->items[i].reason);
        if (!f || json_array_append_new(fields, f) != 0)
            goto done;
    }
    /* messages are ours, but keep invalid UTF-8 from ever reaching
     * json_pack (it would fail and leave the client without a body) */
    if (!message || !oss_utf8_valid(message, strlen(message)))
        message = "request failed";
    root =
        json_pack("{s:{s:s, s:s, s:O}}", "error", "code", code ? code : "error",
                  "message", message, "fields", fields);
    if (!root)
        goto done;
    out = json_dumps(root, JSON_COMPACT);
done:
    json_decref(root);
    json_decref(fields);
    return out;
}

int
oss_http_status_for(oss_code_t code) {
    switch (code) {
    case OSS_OK:
        return 200;
    case OSS_EINVAL:
        return 422;
    case OSS_EMALFORMED:
        return 400;
    case OSS_ETOOBIG:
        return 413;
    case OSS_ECONFLICT:
        return 409;
    case OSS_EDUPLICATE:
        return 409;
    case OSS_ENOTFOUND:
        return 404;
    case OSS_EUNAVAIL:
        return 503;
    default:
        return 500;
    }
}

const char *
oss_http_code_for_status(int status) {
    switch (status) {
    case 400:
        return "malformed_request";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 411:
        return "length_required";
    case 413:
        return "payload_too_large";
    case 415:
        return "unsupported_media_type";
    case 431:
        return "headers_too_large";
    case 422:
        return "invalid_fields";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "error";
    }
}

bool
oss_http_content_type_json(const char *ct) {
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}
