/* Shared plumbing of the `oss` subcommands: configuration and connection. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

oss_config_t *
oss_cli_load_config(const char *config_path) {
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    if (oss_config_load(config_path, &cfg, &err) != OSS_OK) {
        fprintf(stderr, "oss: %s\n", err.msg);
        return NULL;
    }
    return cfg;
}

PGconn *
oss_cli_connect(const oss_config_t *cfg, const char *url) {
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%lld",
             oss_config_int(cfg, "pg.connect_timeout_s"));
    const char *keys[] = {"dbname", "connect_timeout", "application_name",
                          NULL};
    const char *vals[] = {url ? url : oss_config_str(cfg, "pg.url"), timeout,
                          "oss-cli", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *m = conn ? PQerrorMessage(conn) : "out of memory";
        fprintf(stderr, "oss: could not connect to PostgreSQL: %.*s\n",
                (int)strcspn(m, "\n"), m);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int
oss_cli_is_help(const char *arg) {
    return arg && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0);
}
