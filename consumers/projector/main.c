/* oss-projector: applies Kafka events to the PostgreSQL read models (see
 * projector.h and README.md). `--rebuild` rebuilds them from the journal and
 * exits; `--catch-up` applies the journal up to the horizon and exits.
 * SIGTERM / SIGINT stop it cleanly after the current batch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/program.h"
#include "log/log.h"
#include "projector.h"

static volatile sig_atomic_t stop_flag;

static void
usage(FILE *f) {
    fprintf(f, "usage: oss-projector [--config FILE] [--rebuild | --catch-up]\n"
               "  (no option)   consume Kafka into the read models until "
               "SIGTERM\n"
               "  --rebuild     rebuild every read model from the journal "
               "and swap it in\n"
               "  --catch-up    apply the journal up to the commit horizon "
               "and exit\n"
               "  --config FILE configuration file (default: $OSS_CONFIG)\n"
               "  --help        this text and the configuration keys\n");
}

int
main(int argc, char **argv) {
    const char *config_path = NULL;
    int rebuild = 0, catch_up = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rebuild"))
            rebuild = 1;
        else if (!strcmp(argv[i], "--catch-up"))
            catch_up = 1;
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            oss_config_print_help();
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    oss_err_t err = {0};
    oss_config_t *cfg = oss_program_start("projector", config_path, &stop_flag);
    if (!cfg)
        return 2;

    oss_code_t rc;
    if (rebuild) {
        rc = oss_projector_rebuild(cfg, true, &err);
    } else if (catch_up) {
        int64_t applied = 0;
        rc = oss_projector_catch_up(cfg, &applied, &err);
        if (rc == OSS_OK)
            oss_info("catch-up applied=%lld", (long long)applied);
    } else {
        oss_info("starting name=%s schema=%s",
                 oss_config_str(cfg, "projector.name"),
                 oss_config_str(cfg, "projector.schema"));
        rc = oss_projector_run(cfg, &stop_flag, &err);
    }
    if (rc)
        oss_error("%s", err.msg);
    oss_config_free(cfg);
    return rc == OSS_OK ? 0 : 1;
}
