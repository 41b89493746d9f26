/* Helpers the recovery use cases share (recovery.c, help.c); not for other
 * callers. Defined in recovery.c. */
#ifndef OSS_APP_RECOVERY_INT_H
#define OSS_APP_RECOVERY_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "app/app.h"
#include "core/error.h"
#include "journal/journal.h"

#define OSS_APP_RC_UNAVAILABLE "the database is unavailable; retry later"

/* A parameterised query on j's connection: new (PQclear()), or NULL after
 * logging a warning, with err (OSS_EUNAVAIL when the connection was lost)
 * and *fail. */
PGresult *oss_app_rc_query(oss_journal_t *j, const char *sql, int n,
                           const char *const *params, const char **fail,
                           oss_err_t *err);
/* Runs c with oss_app_cmd_execute() (a concurrent append decided again);
 * OSS_OK with the outcome in c, else logs and sets *fail. */
oss_code_t oss_app_rc_execute(oss_journal_t *j, oss_command_t *c,
                              const char **fail, oss_err_t *err);
/* The account streams registered with nik (keyed digests only: the NIK
 * claims of every build and the NIK look-up rows); account_id (may be
 * NULL): only that account's. As oss_app_rc_query(). */
PGresult *oss_app_rc_nik_streams(oss_app_t *app, oss_journal_t *j,
                                 const char *nik, const char *account_id,
                                 const char **fail, oss_err_t *err);
/* A rejection decided here (no event written). */
void oss_app_rc_reject(oss_err_t *e, oss_journal_outcome_t *outcome,
                       oss_code_t code, const char *reason, const char *msg);

#endif
