/* oss-notifier: reads configuration, wires the notifier loop (notifier.c) to
 * a process and stops cleanly on SIGTERM / SIGINT. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/program.h"
#include "log/log.h"
#include "notifier.h"

static volatile sig_atomic_t stop_flag;

int
main(int argc, char **argv) {
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: oss-notifier [--config FILE]\n\n"
                   "Consumes account events and sends the registration e-mail "
                   "over SMTP\n(notifier.smtp_url, notifier.from). Keys used: "
                   "notifier.*, pg.url,\ncrypto.master_key_file, "
                   "bus.signing_key_file, bus.*, kafka.*.\n\n");
            oss_config_print_help();
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            fprintf(stderr, "oss-notifier: unknown argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    oss_err_t err = {0};
    oss_config_t *cfg = oss_program_start("notifier", config_path, &stop_flag);
    if (!cfg)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    oss_info("starting %s", OSS_VERSION);
    oss_code_t rc = oss_notifier_run(cfg, &stop_flag, &err);
    if (rc != OSS_OK)
        oss_error("notifier stopped: %s", err.msg);
    else
        oss_info("stopped");
    curl_global_cleanup();
    oss_config_free(cfg);
    return rc == OSS_OK ? 0 : 1;
}
