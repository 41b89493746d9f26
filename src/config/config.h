/* Configuration: one declarative table (name, type, default, bounds, help)
 * for every program, read from a file of `name = value` lines and then from
 * environment variables, validated once at start-up with an error naming the
 * bad key. Environment: OSS_<NAME> with '.' -> '_' upper-cased, e.g.
 * OSS_PG_URL for pg.url. librdkafka properties pass through under the
 * `kafka.` prefix (file: `kafka.security.protocol = SSL`; environment:
 * OSS_KAFKA__SECURITY_PROTOCOL, with a double underscore after KAFKA and
 * '_' -> '.', so that OSS_KAFKA_BOOTSTRAP of run.env is not taken for one).
 * Thread-safety: load once in main, then read-only from any thread. */
#ifndef OSS_CONFIG_H
#define OSS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef enum { OSS_CONF_STR, OSS_CONF_INT, OSS_CONF_BOOL } oss_conf_type_t;

typedef struct oss_conf_def {
    const char *name;
    oss_conf_type_t type;
    const char *def;    /* default, as text; NULL = no default (may be unset) */
    long long min, max; /* bounds for OSS_CONF_INT */
    const char *help;
} oss_conf_def_t;

typedef struct oss_config oss_config_t;

/* Loads `path` (NULL or "" = no file; env OSS_CONFIG names one when path is
 * NULL) and the environment. Returns new, caller frees with
 * oss_config_free(). On a bad key or value, returns OSS_EINVAL with
 * err->field = the key. */
oss_code_t oss_config_load(const char *path, oss_config_t **out,
                           oss_err_t *err);
void oss_config_free(oss_config_t *cfg);

/* Typed getters. The name must be in the table (asserted). Strings are
 * borrowed from cfg; NULL when unset and without default. */
const char *oss_config_str(const oss_config_t *cfg, const char *name);
long long oss_config_int(const oss_config_t *cfg, const char *name);
bool oss_config_bool(const oss_config_t *cfg, const char *name);

/* Environment variables that look like configuration keys (OSS_ followed by
 * upper-case letters, digits and '_') but are neither a key of the table nor
 * one of the known non-configuration variables (OSS_CONFIG, OSS_API_URL,
 * OSS_PG_*_URL, OSS_KAFKA_BOOTSTRAP, OSS_TEST_*, OSS_FUZZ_*, ... see
 * config.c), nor a kafka pass-through (OSS_KAFKA__*): most likely typos.
 * Returns how many; writes their names, comma-separated, to out (borrowed,
 * may be NULL; truncated with "..."). Start-up should warn, not fail. */
size_t oss_config_unknown_env(char *out, size_t outlen);

/* Iterates the kafka.* pass-through properties (name without the prefix). */
size_t oss_config_kafka_count(const oss_config_t *cfg);
void oss_config_kafka_at(const oss_config_t *cfg, size_t i, const char **name,
                         const char **value);

/* The table itself, NULL-terminated, for --help output. */
const oss_conf_def_t *oss_config_table(void);
/* Prints the table (name, type, default, bounds, help) to stdout. */
void oss_config_print_help(void);

#endif
