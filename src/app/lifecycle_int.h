/* The lifecycle command shared by account_lifecycle.c (activation,
 * password) and signin.c (sign-in, sessions): one decide and one extra_fn
 * for every op. Not for other callers. Defined in account_lifecycle.c. */
#ifndef OSS_APP_LIFECYCLE_INT_H
#define OSS_APP_LIFECYCLE_INT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "app/account_lifecycle.h"
#include "app/lifecycle.h"
#include "app/notice.h"
#include "core/lifecycle.h"
#include "crypto/password.h"

#define TS_US(p) "to_timestamp(0) + (" p "::bigint) * interval '1 microsecond'"

enum { OP_RESEND, OP_VERIFY, OP_PASSWORD, OP_SIGNIN, OP_END };

/* One lifecycle command in preparation (the decide's and extra's ctx). */
typedef struct lc_op {
    oss_app_lc_t *lc;
    int op;
    char account_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX]; /* the access stream */
    /* decide inputs */
    bool registered; /* the account stream exists */
    bool matched, authed;
    char method[8];
    char session_id[OSS_UUID_STR];
    char source[OSS_LC_SOURCE_MAX];
    char delivery_expected[OSS_UUID_STR];
    oss_app_activation_t *act; /* OP_RESEND */
    char pw_hash[OSS_PASSWORD_ENCODED_MAX];
    char token_hmac[65];
    /* decide outputs */
    oss_lc_decision_t d;
    oss_lc_verify_t verify;
    bool ok;
    oss_app_contact_t *contact; /* told of SignInThrottled, or of its
                                   login data after ActivationSucceeded */
} lc_op_t;

/* Starts l for op on principal_id's access stream; op_clear wipes it. */
void oss_app_lcop_init(lc_op_t *l, oss_app_t *app, int op,
                       const char *principal_id);
void oss_app_lcop_clear(lc_op_t *l);
/* Empties *r for principal_id. */
void oss_app_lcop_result_init(oss_app_lc_result_t *r, const char *principal_id);
/* A refusal decided before the core (no event): *r REJECTED with code,
 * field (may be NULL), reason and msg. Returns OSS_OK. */
oss_code_t oss_app_lcop_refuse(oss_app_lc_result_t *r, oss_code_t code,
                               const char *field, const char *reason,
                               const char *msg);
/* A read before the command on j's connection: new result (PQclear), or
 * NULL after logging, with *rc set (OSS_EUNAVAIL: the connection broke). */
PGresult *oss_app_lcop_query(oss_journal_t *j, oss_app_lc_result_t *r,
                             const char *sql, int n, const char *const *p,
                             oss_code_t *rc, oss_err_t *err);
/* Executes l's command on j (decided again, twice at most, after a
 * concurrent append) into *r. */
oss_code_t oss_app_lcop_execute(oss_journal_t *j, lc_op_t *l,
                                const char *correlation_id,
                                oss_app_lc_result_t *r, oss_err_t *err);

#endif
