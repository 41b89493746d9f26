/* The one error type: constructors and names. Pure. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
err_fill(oss_err_t *err, oss_code_t code, const char *field, const char *fmt,
         va_list ap) {
    err->code = code;
    err->retriable = (code == OSS_EUNAVAIL || code == OSS_ECONFLICT);
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    err->reason[0] = '\0';
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

oss_code_t
oss_err_set(oss_err_t *err, oss_code_t code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_fill(err, code, NULL, fmt, ap);
        va_end(ap);
    }
    return code;
}

oss_code_t
oss_err_field(oss_err_t *err, oss_code_t code, const char *field,
              const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_fill(err, code, field, fmt, ap);
        va_end(ap);
    }
    return code;
}

oss_code_t
oss_err_coded(oss_err_t *err, oss_code_t code, const char *reason,
              const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_fill(err, code, NULL, fmt, ap);
        va_end(ap);
        snprintf(err->reason, sizeof err->reason, "%s", reason ? reason : "");
    }
    return code;
}

oss_code_t
oss_err_reason(oss_err_t *err, const char *reason) {
    if (!err)
        return OSS_OK;
    snprintf(err->reason, sizeof err->reason, "%s", reason ? reason : "");
    return err->code;
}

bool
oss_err_is(const oss_err_t *err, const char *reason) {
    return err && reason && !strcmp(err->reason, reason);
}

void
oss_err_clear(oss_err_t *err) {
    if (err)
        memset(err, 0, sizeof *err);
}

const char *
oss_code_name(oss_code_t code) {
    switch (code) {
    case OSS_OK:
        return "ok";
    case OSS_EINVAL:
        return "invalid";
    case OSS_EMALFORMED:
        return "malformed";
    case OSS_ETOOBIG:
        return "too_large";
    case OSS_ECONFLICT:
        return "version_conflict";
    case OSS_EDUPLICATE:
        return "duplicate";
    case OSS_ENOTFOUND:
        return "not_found";
    case OSS_EUNAVAIL:
        return "unavailable";
    case OSS_ECORRUPT:
        return "corrupt";
    case OSS_ENOMEM:
        return "out_of_memory";
    case OSS_EIO:
        return "io_error";
    case OSS_EINTERNAL:
        return "internal";
    }
    return "unknown";
}
