/* Shared plumbing of the `oss` subcommands: configuration and connection. */
#include "cli.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"

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
    /* the one connect routine (src/db): its session timeouts included */
    oss_db_opts_t o = {.application_name = "oss-cli",
                       .connect_timeout_s =
                           (int)oss_config_int(cfg, "pg.connect_timeout_s")};
    oss_err_t err = {0};
    PGconn *conn = NULL;
    if (oss_db_connect_opts(url ? url : oss_config_str(cfg, "pg.url"), &o,
                            &conn, &err) != OSS_OK) {
        fprintf(stderr, "oss: %s\n", err.msg);
        return NULL;
    }
    return conn;
}

int
oss_cli_is_help(const char *arg) {
    return arg && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0);
}

const char *
oss_cli_actor(char *buf, size_t n) {
    const char *u = getenv("USER");
    struct passwd *pw = u && *u ? NULL : getpwuid(getuid());
    if (pw && pw->pw_name)
        u = pw->pw_name;
    snprintf(buf, n, "cli:%.60s", u && *u ? u : "unknown");
    return buf;
}
