/* oss-relay: journal -> Kafka (see relay.h). Wires configuration, logging
 * and signals; exits 0 when stopped, 2 when it lost its lock or database,
 * 3 when it gave up a stalled leadership (the supervisor restarts it).
 *
 * usage: oss-relay [--config PATH] [--help] */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/program.h"
#include "log/log.h"
#include "relay.h"

static volatile sig_atomic_t stop;

int
main(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: oss-relay [--config PATH]\n"
                   "Publishes journal events onto Kafka (one active relay "
                   "per database; others wait as hot standbys).\n\n");
            oss_config_print_help();
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "oss-relay: unknown argument \"%s\"\n", argv[i]);
            return OSS_RELAY_EXIT_ERROR;
        }
    }
    oss_err_t err = {0};
    oss_config_t *cfg = oss_program_start("relay", path, &stop);
    if (!cfg)
        return OSS_RELAY_EXIT_ERROR;

    oss_relay_t *relay = NULL;
    if (oss_relay_new(cfg, &relay, &err)) {
        oss_error("could not start the relay: %s", err.msg);
        oss_config_free(cfg);
        return OSS_RELAY_EXIT_ERROR;
    }
    int code = oss_relay_run(relay, &stop);
    oss_relay_free(relay);
    oss_config_free(cfg);
    return code;
}
