/* The one error type of the code base: a code, a retriable flag, the field it
 * concerns (for validation), a reason code (a stable sub-code callers may
 * compare, e.g. "erased", "expired") and a message in PostgreSQL's style (lower
 * case, no trailing period). Pure: libc only. Callers own oss_err_t by value.
 */
#ifndef OSS_CORE_ERROR_H
#define OSS_CORE_ERROR_H

#include <stdbool.h>

typedef enum oss_code {
    OSS_OK = 0,
    OSS_EINVAL,     /* invalid input (422 / 400): see field */
    OSS_EMALFORMED, /* undecodable input (400) */
    OSS_ETOOBIG,    /* over a size limit (413) */
    OSS_ECONFLICT,  /* optimistic concurrency: stream version moved (409) */
    OSS_EDUPLICATE, /* uniqueness rule violated (409) */
    OSS_ENOTFOUND,  /* 404 */
    OSS_EUNAVAIL,   /* dependency down; retriable (503) */
    OSS_ECORRUPT,   /* integrity failure: hash chain, signature */
    OSS_ENOMEM,
    OSS_EIO,      /* file or system call failure */
    OSS_EINTERNAL /* bug */
} oss_code_t;

#define OSS_ERR_MSG_MAX 256
#define OSS_ERR_FIELD_MAX 64
#define OSS_ERR_REASON_MAX 32

typedef struct oss_err {
    oss_code_t code;
    bool retriable;
    char field[OSS_ERR_FIELD_MAX];   /* "" when not about one field */
    char reason[OSS_ERR_REASON_MAX]; /* "" when no sub-code; see
                                        oss_err_reason() */
    char msg[OSS_ERR_MSG_MAX];
} oss_err_t;

/* Set *err (may be NULL) and return code. retriable is true for OSS_EUNAVAIL
 * and OSS_ECONFLICT. */
oss_code_t oss_err_set(oss_err_t *err, oss_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, naming the field the error concerns. */
oss_code_t oss_err_field(oss_err_t *err, oss_code_t code, const char *field,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same as oss_err_set(), with a reason code (see oss_err_reason()). */
oss_code_t oss_err_coded(oss_err_t *err, oss_code_t code, const char *reason,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets err's reason code (a stable lower-case word callers compare, at
 * most OSS_ERR_REASON_MAX - 1 bytes; NULL clears it) after oss_err_set()
 * or oss_err_field() (which clear it), and returns err's code (OSS_OK when
 * err is NULL). */
oss_code_t oss_err_reason(oss_err_t *err, const char *reason);
/* True when err carries reason code reason. */
bool oss_err_is(const oss_err_t *err, const char *reason);
void oss_err_clear(oss_err_t *err);
/* Stable lower-case name of a code ("conflict", "unavailable", ...). */
const char *oss_code_name(oss_code_t code);

#endif
