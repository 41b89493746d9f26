/* oss-broker: the embedded default broker. Hosts librdkafka's mock cluster
 * (the real Kafka protocol, in memory, about 5 MiB / 100,000 batches per
 * partition, oldest dropped silently) in its own process, creates the topics
 * with their partition counts, and writes the bootstrap list where the other
 * programs read it (bus.bootstrap_file, and OSS_KAFKA_BOOTSTRAP in run.env).
 * Ports and cluster id change at every start (librdkafka 2.0.2 cannot fix
 * them): clients notice the new cluster id and rebuild their handles.
 * History never comes from here; it comes from the journal.
 *
 * usage: oss-broker [--brokers N] [--topics name:parts,...]
 *                   [--bootstrap-file PATH] [--run-env PATH] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/mock.h"
#include "log/log.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* Writes `content` to path atomically (temp file + rename). */
static int
write_atomic(const char *path, const char *content) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(content, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Replaces (or appends) the OSS_KAFKA_BOOTSTRAP= line of a run.env file. */
static int
update_run_env(const char *path, const char *bootstraps) {
    FILE *f = fopen(path, "r");
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap), line[4096];
    if (!out)
        return -1;
    out[0] = '\0';
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "OSS_KAFKA_BOOTSTRAP=", 20) == 0 ||
                strncmp(line, "export OSS_KAFKA_BOOTSTRAP=", 27) == 0)
                continue;
            size_t n = strlen(line);
            if (len + n + 1 >= cap)
                break;
            memcpy(out + len, line, n + 1);
            len += n;
        }
        fclose(f);
    }
    snprintf(out + len, cap - len, "export OSS_KAFKA_BOOTSTRAP='%s'\n",
             bootstraps);
    int rc = write_atomic(path, out);
    free(out);
    return rc;
}

int
main(int argc, char **argv) {
    int brokers = 3;
    const char *topics = "oss.account:6";
    const char *bootstrap_file = "var/kafka.bootstrap";
    const char *run_env = NULL;
    oss_err_t err = {0};

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topics") && i + 1 < argc)
            topics = argv[++i];
        else if (!strcmp(argv[i], "--bootstrap-file") && i + 1 < argc)
            bootstrap_file = argv[++i];
        else if (!strcmp(argv[i], "--run-env") && i + 1 < argc)
            run_env = argv[++i];
        else {
            fprintf(stderr,
                    "usage: oss-broker [--brokers N] [--topics name:parts,...] "
                    "[--bootstrap-file PATH] [--run-env PATH]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    oss_log_init("broker", getenv("OSS_LOG_LEVEL"));
    if (brokers < 1 || brokers > 16) {
        oss_error("invalid --brokers %d: expected 1..16", brokers);
        return 2;
    }

    oss_bus_mock_t *mc = NULL;
    if (oss_bus_mock_start(brokers, &mc, &err)) {
        oss_error("%s", err.msg);
        return 1;
    }

    char *list = strdup(topics), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        int parts = 6;
        if (colon) {
            *colon = '\0';
            parts = atoi(colon + 1);
        }
        int rf = brokers < 3 ? brokers : 3;
        if (oss_bus_mock_topic_create(mc, t, parts > 0 ? parts : 6, rf, &err)) {
            oss_error("%s", err.msg);
            free(list);
            oss_bus_mock_free(mc);
            return 1;
        }
        oss_info("topic %s partitions=%d replication=%d", t, parts, rf);
    }
    free(list);

    const char *bs = oss_bus_mock_bootstraps(mc);
    char content[4096];
    snprintf(content, sizeof content, "%s\n", bs);
    if (write_atomic(bootstrap_file, content) != 0) {
        oss_error("could not write bootstrap file \"%s\"", bootstrap_file);
        return 1;
    }
    if (run_env && update_run_env(run_env, bs) != 0)
        oss_warn("could not update \"%s\"", run_env);
    oss_info("mock cluster up brokers=%d bootstrap=%s", brokers, bs);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        pause();

    oss_info("stopping");
    oss_bus_mock_free(mc);
    return 0;
}
