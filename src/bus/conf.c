/* Kafka client configuration: the bootstrap list (kafka.bootstrap.servers or
 * the embedded broker's bootstrap file), kafka.* pass-through, topic names. */
#include "bus/bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
oss_bus_kafka_prop(const oss_config_t *cfg, const char *name) {
    const char *n, *v, *found = NULL;
    size_t count = oss_config_kafka_count(cfg);
    for (size_t i = 0; i < count; i++) {
        oss_config_kafka_at(cfg, i, &n, &v);
        if (strcmp(n, name) == 0)
            found = v;
    }
    return found;
}

oss_code_t
oss_bus_bootstrap(const oss_config_t *cfg, char *out, size_t outlen,
                  oss_err_t *err) {
    const char *v = oss_bus_kafka_prop(cfg, "bootstrap.servers");
    if (v && *v) {
        if (strlen(v) >= outlen)
            return oss_err_field(err, OSS_EINVAL, "kafka.bootstrap.servers",
                                 "bootstrap list is too long");
        memcpy(out, v, strlen(v) + 1);
        return OSS_OK;
    }
    const char *path = oss_config_str(cfg, "bus.bootstrap_file");
    if (!path || !*path)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "no Kafka bootstrap list: neither "
                           "kafka.bootstrap.servers nor bus.bootstrap_file "
                           "is set");
    FILE *f = fopen(path, "r");
    if (!f)
        return oss_err_set(err, OSS_EUNAVAIL,
                           "could not read bootstrap file \"%s\": %s", path,
                           strerror(errno));
    char line[4096];
    oss_code_t rc = OSS_OK;
    if (!fgets(line, sizeof line, f)) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "bootstrap file \"%s\" is empty",
                         path);
        goto done;
    }
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n == 0) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "bootstrap file \"%s\" is empty",
                         path);
        goto done;
    }
    if (n >= outlen) {
        rc = oss_err_set(err, OSS_EINVAL,
                         "bootstrap list in \"%s\" is too long", path);
        goto done;
    }
    memcpy(out, line, n + 1);
done:
    fclose(f);
    return rc;
}

rd_kafka_conf_t *
oss_bus_conf_new(const oss_config_t *cfg, oss_err_t *err) {
    char bootstrap[4096], errstr[512];
    rd_kafka_conf_t *conf = NULL;

    if (oss_bus_bootstrap(cfg, bootstrap, sizeof bootstrap, err))
        return NULL;
    if (!(conf = rd_kafka_conf_new())) {
        oss_err_set(err, OSS_ENOMEM, "could not create Kafka configuration");
        return NULL;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK) {
        oss_err_field(err, OSS_EINVAL, "kafka.bootstrap.servers",
                      "invalid Kafka bootstrap list: %s", errstr);
        goto fail;
    }
    size_t count = oss_config_kafka_count(cfg);
    for (size_t i = 0; i < count; i++) {
        const char *n, *v;
        oss_config_kafka_at(cfg, i, &n, &v);
        if (strcmp(n, "bootstrap.servers") == 0)
            continue;
        if (rd_kafka_conf_set(conf, n, v, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            char field[OSS_ERR_FIELD_MAX];
            snprintf(field, sizeof field, "kafka.%s", n);
            oss_err_field(err, OSS_EINVAL, field,
                          "invalid value for \"kafka.%s\": %s", n, errstr);
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

void
oss_bus_topic(const oss_config_t *cfg, const char *stream_type, char *out,
              size_t outlen) {
    const char *prefix = oss_config_str(cfg, "bus.topic_prefix");
    snprintf(out, outlen, "%s%s", prefix ? prefix : "", stream_type);
}
