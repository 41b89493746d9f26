/* The start-up every program shares (see program.h). */
#include "config/program.h"

#include <stdio.h>
#include <string.h>

#include "log/log.h"

static volatile sig_atomic_t *program_stop;

static void
program_on_signal(int sig) {
    (void)sig;
    if (program_stop)
        *program_stop = 1;
}

oss_config_t *
oss_program_start(const char *prog, const char *path,
                  volatile sig_atomic_t *stop) {
    oss_config_t *cfg = NULL;
    oss_err_t err = {0};
    if (oss_config_load(path, &cfg, &err) != OSS_OK) {
        fprintf(stderr, "oss-%s: %s\n", prog, err.msg);
        return NULL;
    }
    oss_log_init(prog, oss_config_str(cfg, "log.level"));
    char unknown_env[512]; /* typos of OSS_ variables: warn, go on */
    if (oss_config_unknown_env(unknown_env, sizeof unknown_env))
        oss_warn("ignoring unknown configuration variables in the "
                 "environment: %s",
                 unknown_env);
    signal(SIGPIPE, SIG_IGN);
    if (stop) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        program_stop = stop;
        sa.sa_handler = program_on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    return cfg;
}
