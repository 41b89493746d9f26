/* `oss config`: prints the configuration table, or checks a configuration. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char config_usage[] =
    "usage: oss config [--check]\n"
    "\n"
    "Prints every configuration key (name, type, default, bounds, help).\n"
    "With --check, loads the configuration (--config FILE, OSS_CONFIG and the\n"
    "OSS_* environment) and exits 3 naming the first bad key.\n";

int
oss_cli_config(int argc, char **argv, const char *config_path) {
    if (argc > 1 && oss_cli_is_help(argv[1])) {
        fputs(config_usage, stdout);
        return OSS_CLI_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        oss_config_t *cfg = oss_cli_load_config(config_path);
        if (!cfg)
            return OSS_CLI_ERROR;
        oss_config_free(cfg);
        printf("configuration ok\n");
        return OSS_CLI_OK;
    }
    if (argc != 1) {
        fputs(config_usage, stderr);
        return OSS_CLI_USAGE;
    }
    oss_config_print_help();
    return OSS_CLI_OK;
}
