/* `oss rebuild` and `oss dlq list|redrive`: thin wrappers over the
 * projector's library (consumers/projector/projector.h). Built without it
 * (when oss_projector_lib does not exist yet) they say so and exit 3. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#if defined(__has_include)
#if __has_include("projector.h") && !defined(OSS_CLI_NO_PROJECTOR)
#include "projector.h"
#define OSS_CLI_HAVE_PROJECTOR 1
#endif
#endif

static const char rebuild_usage[] =
    "usage: oss rebuild\n"
    "\n"
    "Rebuilds every read model from the journal into fresh tables, in short\n"
    "chunks, then swaps them in atomically (as the owner role, pg.admin_url);\n"
    "the old tables keep serving reads until the swap. Progress (events done\n"
    "of total, rate, time left) is shown on the terminal.\n";

static const char dlq_usage[] =
    "usage: oss dlq list\n"
    "       oss dlq redrive ID|--all\n"
    "\n"
    "list     prints the projector's dead letters (messages it could not\n"
    "         verify, decode or apply), unresolved first\n"
    "redrive  re-verifies and re-applies one dead letter (ID) or every\n"
    "         unresolved one (--all); those that now apply are resolved\n";

int
oss_cli_rebuild(int argc, char **argv, const char *config_path) {
    if (argc > 1 && oss_cli_is_help(argv[1])) {
        fputs(rebuild_usage, stdout);
        return OSS_CLI_OK;
    }
    if (argc != 1) {
        fputs(rebuild_usage, stderr);
        return OSS_CLI_USAGE;
    }
#ifdef OSS_CLI_HAVE_PROJECTOR
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    oss_err_t err = {0};
    oss_code_t rc = oss_projector_rebuild(cfg, true, &err);
    oss_config_free(cfg);
    if (rc != OSS_OK) {
        fprintf(stderr, "oss: rebuild: %s\n", err.msg);
        return OSS_CLI_ERROR;
    }
    printf("rebuild complete\n");
    return OSS_CLI_OK;
#else
    fprintf(stderr, "oss: rebuild: this build has no projector library\n");
    return OSS_CLI_ERROR;
#endif
}

int
oss_cli_dlq(int argc, char **argv, const char *config_path) {
    if (argc < 2 || oss_cli_is_help(argv[1])) {
        fputs(dlq_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    int list = strcmp(argv[1], "list") == 0;
    int redrive = strcmp(argv[1], "redrive") == 0;
    if ((!list && !redrive) || (argc > 2 && oss_cli_is_help(argv[2]))) {
        if (!list && !redrive)
            fprintf(stderr, "oss: dlq: unknown command \"%s\"\n\n", argv[1]);
        fputs(dlq_usage, list || redrive ? stdout : stderr);
        return list || redrive ? OSS_CLI_OK : OSS_CLI_USAGE;
    }
    long long id = -1;
    if (list && argc != 2) {
        fputs(dlq_usage, stderr);
        return OSS_CLI_USAGE;
    }
    if (redrive) {
        char *end = NULL;
        if (argc == 3 && strcmp(argv[2], "--all") == 0)
            id = 0;
        else if (argc == 3 && (id = strtoll(argv[2], &end, 10)) > 0 && !*end)
            ;
        else {
            fputs(dlq_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
#ifdef OSS_CLI_HAVE_PROJECTOR
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    oss_err_t err = {0};
    oss_code_t rc;
    int64_t resolved = 0, failed = 0;
    if (list)
        rc = oss_dlq_list(cfg, stdout, &err);
    else
        rc = oss_dlq_redrive_ex(cfg, id == 0 ? OSS_DLQ_ALL : (int64_t)id,
                                stdout, &resolved, &failed, &err);
    oss_config_free(cfg);
    if (rc != OSS_OK) {
        fprintf(stderr, "oss: dlq %s: %s\n", argv[1], err.msg);
        return rc == OSS_ENOTFOUND ? OSS_CLI_FAILED : OSS_CLI_ERROR;
    }
    if (redrive) {
        printf("resolved %" PRId64 ", still failing %" PRId64 "\n", resolved,
               failed);
        return failed ? OSS_CLI_FAILED : OSS_CLI_OK;
    }
    return OSS_CLI_OK;
#else
    (void)id;
    (void)config_path;
    fprintf(stderr, "oss: dlq: this build has no projector library\n");
    return OSS_CLI_ERROR;
#endif
}
