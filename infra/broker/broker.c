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
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char errstr[512];

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

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        oss_error("could not create the broker host handle: %s", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        oss_error("could not start the mock cluster");
        rd_kafka_destroy(rk);
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
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, t, parts > 0 ? parts : 6, rf);
        if (err) {
            oss_error("could not create topic \"%s\": %s", t,
                      rd_kafka_err2str(err));
            free(list);
            return 1;
        }
        oss_info("topic %s partitions=%d replication=%d", t, parts, rf);
    }
    free(list);

    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
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
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
