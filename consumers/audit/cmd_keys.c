/* `oss keys init`: creates the local key files (master, index, bus signing)
 * that are missing, never a new master or index key once oss.subject_keys
 * holds wrapped data keys (the sealed data would become unreadable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/keyfiles.h"

static const char keys_usage[] =
    "usage: oss keys init [--offline]\n"
    "       oss keys rotate [--no-new-key] | retire | status (see oss keys "
    "rotate --help)\n"
    "\n"
    "Creates each missing key file named by crypto.master_key_file,\n"
    "crypto.index_key_file and bus.signing_key_file (one random 256-bit key,\n"
    "hex, mode 0600; parent directory 0700). Existing files are checked, "
    "never\n"
    "replaced. A new master or index key is refused when oss.subject_keys is\n"
    "not empty. The database (pg.url) is asked first; --offline skips that\n"
    "question and then refuses to create a master or index key at all.\n";

int
oss_cli_keys(int argc, char **argv, const char *config_path) {
    if (argc >= 2 &&
        (strcmp(argv[1], "rotate") == 0 || strcmp(argv[1], "retire") == 0 ||
         strcmp(argv[1], "status") == 0))
        return oss_cli_keys_rotate(argc, argv, config_path); /* cmd_subject.c */
    if (argc < 2 || oss_cli_is_help(argv[1]) ||
        (argc > 2 && oss_cli_is_help(argv[2]))) {
        fputs(keys_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    int offline = argc == 3 && strcmp(argv[2], "--offline") == 0;
    if (strcmp(argv[1], "init") != 0 || (argc > 2 && !offline) || argc > 3) {
        fputs(keys_usage, stderr);
        return OSS_CLI_USAGE;
    }
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    int st = OSS_CLI_ERROR, sealed = 1;
    if (!offline) {
        PGconn *conn = oss_cli_connect(cfg, NULL);
        if (!conn)
            goto done;
        PGresult *r =
            PQexec(conn, "SELECT EXISTS (SELECT 1 FROM oss.subject_keys)");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            sealed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        else
            fprintf(stderr,
                    "oss: keys init: could not read oss.subject_keys: %s",
                    PQresultErrorMessage(r));
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        PQfinish(conn);
        if (!ok)
            goto done;
    }
    oss_err_t err = {0};
    if (oss_keys_ensure_local(oss_config_str(cfg, "crypto.master_key_file"),
                              oss_config_str(cfg, "crypto.index_key_file"),
                              oss_config_str(cfg, "bus.signing_key_file"),
                              sealed, &err) != OSS_OK) {
        fprintf(stderr, "oss: keys init: %s\n", err.msg);
        goto done;
    }
    printf("key files ready\n");
    st = OSS_CLI_OK;
done:
    oss_config_free(cfg);
    return st;
}
