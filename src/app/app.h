/* The application layer: the use cases every producer of commands shares
 * (the HTTP API in producers/api, the `oss` console in consumers/audit).
 * Each use case prepares a command (its streams, its pure decision from
 * src/core, its side rows and notices) and runs it through
 * oss_journal_execute(); callers only translate their input into a command
 * and its result into their output.
 *
 * This header holds the context every use case reads (keys, the account
 * lifecycle's configuration), the small checks on identifiers and the
 * `today` of the birth-date checks. Files:
 * cmd.h (events and statements for a command), lifecycle.h (activation,
 * passwords, sessions), account_lifecycle.h (the lifecycle's use cases:
 * activation, password, sign-in, sessions), principal.h (persons, new
 * principals, grants), notice.h (contacts and targeted notices), gov.h
 * (government principals), register.h (account registration), legacy.h
 * (the OSS 1.1 migration), pool.h (worker threads with group commit).
 *
 * Arrows point down: src/app includes src/core, src/journal, src/crypto,
 * src/db, src/log, never producers/ or consumers/. Thread-safety: an
 * oss_app_t is read-only once initialised and may be shared by threads. */
#ifndef OSS_APP_H
#define OSS_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/error.h"
#include "crypto/crypto.h"

typedef struct oss_app_lc oss_app_lc_t;

/* What the use cases share; read-only once oss_app_init() returned. */
typedef struct oss_app {
    const char *pg_url;   /* borrowed from the config */
    oss_keyring_t master; /* crypto.master_key_file */
    oss_keyring_t index;  /* crypto.index_key_file */
    oss_app_lc_t *lc;     /* lifecycle.h; NULL when disabled */
} oss_app_t;

/* Fills app from cfg (borrowed for app's lifetime): the master and index
 * key files (OSS_EIO / OSS_ECORRUPT naming the file when unusable) and the
 * account lifecycle (oss_app_lc_init(): a missing OTP key leaves app->lc
 * NULL with a warning). Free with oss_app_free(). */
oss_code_t oss_app_init(oss_app_t *app, const oss_config_t *cfg,
                        oss_err_t *err);
/* Frees what oss_app_init() made and wipes the keys. */
void oss_app_free(oss_app_t *app);

/* Lifecycle events live on the principal's access stream
 * "access-<principal_id>" (stream type "account"); see lifecycle.proto. */
#define OSS_APP_ACCESS_STREAM_PREFIX "access-"

/* True when id looks like an account or principal id we issue (1-64 of
 * [A-Za-z0-9-]). */
bool oss_app_id_valid(const char *id);

/* True when code names an institution: "oss", a 3-digit sector code, a
 * 10-digit region code or "kek-" and 1-11 of [a-z0-9]. */
bool oss_app_institution_valid(const char *code);

/* A reason given by a person (revocations): 1-200 printable characters. */
bool oss_app_reason_valid(const char *s);

/* The `today` (YYYYMMDD) of the birth-date checks (oss_birth_date_parse(),
 * oss_registration_validate()): tomorrow's UTC date, a day of slack because
 * the client may be ahead of UTC (WIB, WITA, WIT). Reads the wall clock. */
int oss_app_today_yyyymmdd(void);

#endif
