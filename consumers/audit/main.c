/* `oss`: the operator's command-line program. Subcommands git style
 * (`oss audit verify`), each with --help; the work is in the other .c files
 * of this folder (oss_audit_lib). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log/log.h"

static const char usage[] =
    "usage: oss [--config FILE] <command> [<args>]\n"
    "\n"
    "commands:\n"
    "  audit history STREAM      a stream's history, personal data sealed\n"
    "  audit verify [STREAM]     verify hash chains (and --against "
    "SIZE:DIGEST)\n"
    "  audit checkpoint          print SIZE:DIGEST to record outside the "
    "database\n"
    "  rebuild                   rebuild the read models from the journal\n"
    "  dlq list | redrive ID|--all   the projector's dead letters\n"
    "  keys init                 create the missing local key files\n"
    "  keys rotate|retire|status master-key rotation (re-wraps data keys)\n"
    "  subject erase ID|--account ID --reason R   crypto-shred a subject\n"
    "  principal create --role R --institution C ...   a government principal\n"
    "  principal revoke ID --reason R   end a government principal's access\n"
    "  legacy import FILE        OSS 1.1 accounts to migrate (ganti hak "
    "akses)\n"
    "  config                    print the configuration keys\n"
    "  delivery failed [--since 1h]  messages whose delivery failed lately\n"
    "\n"
    "Configuration: --config FILE, else the file named by OSS_CONFIG, then\n"
    "OSS_* environment variables (see `oss config`). `oss <command> --help`\n"
    "describes a command.\n";

int
main(int argc, char **argv) {
    const char *config_path = NULL;
    int i = 1;
    oss_log_init("oss", "warn");
    while (i < argc && argv[i][0] == '-') {
        if (oss_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return OSS_CLI_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("%s\n", OSS_VERSION);
            return OSS_CLI_OK;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
            i++;
        } else {
            fprintf(stderr, "oss: unknown option \"%s\"\n\n%s", argv[i], usage);
            return OSS_CLI_USAGE;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return OSS_CLI_USAGE;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **, const char *);
    } cmds[] = {{"audit", oss_cli_audit},     {"rebuild", oss_cli_rebuild},
                {"dlq", oss_cli_dlq},         {"keys", oss_cli_keys},
                {"config", oss_cli_config},   {"delivery", oss_cli_delivery},
                {"subject", oss_cli_subject}, {"principal", oss_cli_principal},
                {"legacy", oss_cli_legacy}};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (strcmp(argv[i], cmds[k].name) == 0)
            return cmds[k].fn(argc - i, argv + i, config_path);
    if (strcmp(argv[i], "help") == 0) {
        fputs(usage, stdout);
        return OSS_CLI_OK;
    }
    fprintf(stderr, "oss: unknown command \"%s\"\n\n%s", argv[i], usage);
    return OSS_CLI_USAGE;
}
