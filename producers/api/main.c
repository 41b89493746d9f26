/* oss-api: the command API program. Wires configuration, logging, signals,
 * the worker pool and the HTTP server; holds no domain rule. SIGTERM and
 * SIGINT stop it cleanly (the loop exits, workers finish what they hold). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api.h"
#include "config/config.h"
#include "config/program.h"
#include "log/log.h"
#include "ratelimit.h"

static void
on_signal(evutil_socket_t sig, short what, void *arg) {
    oss_info("signal %d received, stopping", (int)sig);
    event_base_loopexit(arg, NULL);
}

static void
usage(void) {
    printf("usage: oss-api [--config FILE]\n"
           "       oss-api --routes\n\n"
           "The command API (HTTP/JSON). Configuration comes from FILE (or\n"
           "$OSS_CONFIG) and OSS_* environment variables. --routes prints\n"
           "the route table (METHOD ROUTE, one a line; GET also serves\n"
           "HEAD) and exits. Keys:\n\n");
    oss_config_print_help();
}

int
main(int argc, char **argv) {
    const char *conf_path = NULL;
    oss_config_t *cfg = NULL;
    oss_err_t err;
    api_ctx_t ctx;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    oss_http_server_t *http = NULL;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--routes")) {
            /* no configuration needed: the table is static */
            size_t n;
            const oss_http_route_t *r = api_routes(&n);
            for (size_t k = 0; k < n; k++)
                printf("%s %s\n", r[k].method, r[k].name);
            return fflush(stdout) == 0 ? 0 : 1;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            conf_path = argv[++i];
        } else {
            fprintf(stderr, "oss-api: unknown argument \"%s\" (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    oss_err_clear(&err);
    /* signals are the event loop's (evsignal below), so no stop flag */
    if (!(cfg = oss_program_start("api", conf_path, NULL)))
        return 2;
    if (api_ctx_init(&ctx, cfg, &err) != OSS_OK) {
        oss_error("could not start: %s", err.msg);
        goto done;
    }
    if (api_ratelimit_init(cfg, &err) != OSS_OK) {
        oss_error("could not start: %s", err.msg);
        goto done;
    }
    if (evthread_use_pthreads() != 0 || !(base = event_base_new())) {
        oss_error("could not start: could not create the event loop");
        goto done;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) ||
        evsignal_add(sigint, NULL)) {
        oss_error("could not start: could not install signal handlers");
        goto done;
    }
    if (oss_app_pool_new(ctx.app.pg_url, &ctx,
                         (int)oss_config_int(cfg, "api.workers"),
                         (size_t)oss_config_int(cfg, "api.group_commit_max"),
                         &ctx.pool, &err) != OSS_OK) {
        oss_error("could not start: %s", err.msg);
        goto done;
    }
    size_t nroutes;
    const oss_http_route_t *routes = api_routes(&nroutes);
    oss_http_options_t opt = {
        .listen = oss_config_str(cfg, "api.listen"),
        .port = (int)oss_config_int(cfg, "api.port"),
        .max_body = ctx.max_body,
        .retry_after_s = (int)oss_config_int(cfg, "api.retry_after_s"),
        .method_filter = true,
    };
    if (oss_http_server_new(base, &opt, routes, nroutes, &ctx, &http, &err) !=
        OSS_OK) {
        oss_error("could not start: %s", err.msg);
        goto done;
    }
    ctx.http = http;
    oss_info("listening on http://%s:%d workers=%lld group_commit_max=%lld",
             opt.listen, oss_http_server_port(http),
             oss_config_int(cfg, "api.workers"),
             oss_config_int(cfg, "api.group_commit_max"));
    event_base_dispatch(base);
    rc = 0;
done:
    /* workers first: they may still reply into the server's queue */
    oss_app_pool_free(ctx.pool);
    ctx.pool = NULL;
    oss_http_server_free(http);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    api_ctx_free(&ctx);
    api_ratelimit_shutdown();
    oss_config_free(cfg);
    oss_info("stopped");
    return rc;
}
