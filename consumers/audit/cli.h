/* The `oss` operator program's subcommands (git style: `oss audit verify`).
 * Each oss_cli_* takes the arguments after its own name (argv[0] is the
 * subcommand name), the configuration file named with --config (borrowed, may
 * be NULL: then OSS_CONFIG and the environment decide) and returns the
 * process exit status: 0 success, 1 a verification failed, 2 usage error,
 * 3 could not run (database down, bad configuration, missing key). */
#ifndef OSS_CLI_H
#define OSS_CLI_H

#include <stddef.h>

#include <libpq-fe.h>

#include "config/config.h"

enum {
    OSS_CLI_OK = 0,
    OSS_CLI_FAILED = 1,
    OSS_CLI_USAGE = 2,
    OSS_CLI_ERROR = 3
};

int oss_cli_audit(int argc, char **argv, const char *config_path);
int oss_cli_rebuild(int argc, char **argv, const char *config_path);
int oss_cli_dlq(int argc, char **argv, const char *config_path);
int oss_cli_keys(int argc, char **argv, const char *config_path);
int oss_cli_config(int argc, char **argv, const char *config_path);
int oss_cli_delivery(int argc, char **argv, const char *config_path);
/* cmd_subject.c: `oss subject erase`, `oss keys rotate|retire|status` */
int oss_cli_subject(int argc, char **argv, const char *config_path);
int oss_cli_keys_rotate(int argc, char **argv, const char *config_path);
/* cmd_principal.c: `oss principal create` (government principals) */
int oss_cli_principal(int argc, char **argv, const char *config_path);
/* cmd_legacy.c: `oss legacy import FILE` (OSS 1.1 accounts to migrate) */
int oss_cli_legacy(int argc, char **argv, const char *config_path);

/* Loads the configuration (prints the error naming the bad key); returns
 * new, caller frees with oss_config_free(), or NULL. */
oss_config_t *oss_cli_load_config(const char *config_path);
/* Connects with pg.url (or url when not NULL); prints why not. Returns new,
 * caller frees with PQfinish(), or NULL. */
PGconn *oss_cli_connect(const oss_config_t *cfg, const char *url);
/* The console's actor id, "cli:<login>" ($USER, else the password entry),
 * written into buf (at least OSS_ID_MAX bytes); returns buf. */
const char *oss_cli_actor(char *buf, size_t n);
/* 1 when argv[i] is -h or --help. */
int oss_cli_is_help(const char *arg);

#endif
