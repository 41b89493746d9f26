/* The declarative configuration table and its loader. */
#include "config/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOMIN (-9223372036854775807LL - 1)
#define NOMAX 9223372036854775807LL

/* Every key of every program. Add keys here, nowhere else. */
static const oss_conf_def_t table[] = {
    /* storage */
    {"pg.url", OSS_CONF_STR, "postgresql://oss_app@127.0.0.1:5432/oss", 0, 0,
     "libpq connection string of the application role"},
    {"pg.admin_url", OSS_CONF_STR, NULL, 0, 0,
     "libpq connection string of the owner role (migrations, rebuild swap)"},
    {"pg.connect_timeout_s", OSS_CONF_INT, "3", 1, 60,
     "seconds before a PostgreSQL connection attempt fails"},
    /* keys: always files, never environment values */
    {"crypto.master_key_file", OSS_CONF_STR, "var/keys/master.key", 0, 0,
     "file holding the master key that wraps per-subject data keys"},
    {"crypto.index_key_file", OSS_CONF_STR, "var/keys/index.key", 0, 0,
     "file holding the key of keyed hashes used for look-ups (NIK, e-mail)"},
    {"bus.signing_key_file", OSS_CONF_STR, "var/keys/bus.key", 0, 0,
     "file holding the HMAC-SHA256 key that signs Kafka messages"},
    /* Kafka */
    {"bus.bootstrap_file", OSS_CONF_STR, "var/kafka.bootstrap", 0, 0,
     "file with the bootstrap list, used when kafka.bootstrap.servers is "
     "unset"},
    {"bus.topic_prefix", OSS_CONF_STR, "oss.", 0, 0,
     "topic = prefix + stream type (e.g. oss.account)"},
    {"bus.source", OSS_CONF_STR, "/oss/journal", 0, 0,
     "CloudEvents ce_source of published events"},
    /* command API */
    {"api.listen", OSS_CONF_STR, "127.0.0.1", 0, 0, "API listen address"},
    {"api.port", OSS_CONF_INT, "8080", 0, 65535, "API port (0 = any)"},
    {"api.max_body_bytes", OSS_CONF_INT, "65536", 1024, 16777216,
     "largest request body accepted (413 above)"},
    {"api.workers", OSS_CONF_INT, "4", 1, 64,
     "threads doing database and slow work off the event loop"},
    {"api.group_commit_max", OSS_CONF_INT, "64", 1, 4096,
     "most commands appended in one journal transaction"},
    {"api.retry_after_s", OSS_CONF_INT, "2", 1, 3600,
     "Retry-After seconds when a dependency is down"},
    /* API rate limits (producers/api/ratelimit.c): token buckets per client
     * IP and per key (account/principal id, e-mail, NIK) for each class */
    {"api.ratelimit.enabled", OSS_CONF_BOOL, "true", 0, 0,
     "whether the API applies its rate limits (429 with Retry-After)"},
    {"api.ratelimit.max_entries", OSS_CONF_INT, "100000", 2, 100000000,
     "buckets kept in memory; the least recently used is dropped beyond"},
    {"api.ratelimit.exempt_ips", OSS_CONF_STR, "", 0, 0,
     "comma-separated client IPs with no per-IP limit (per-key limits "
     "still apply)"},
    {"api.ratelimit.register.ip_max", OSS_CONF_INT, "60", 0, 1000000000,
     "registrations per client IP per window (0 = unlimited)"},
    {"api.ratelimit.register.key_max", OSS_CONF_INT, "10", 0, 1000000000,
     "registrations per NIK / business identity per window (0 = unlimited)"},
    {"api.ratelimit.register.window_s", OSS_CONF_INT, "3600", 1, 604800,
     "seconds for an empty registration bucket to refill"},
    {"api.ratelimit.signin.ip_max", OSS_CONF_INT, "60", 0, 1000000000,
     "sign-ins per client IP per window (0 = unlimited)"},
    {"api.ratelimit.signin.key_max", OSS_CONF_INT, "30", 0, 1000000000,
     "sign-ins per account / e-mail per window (0 = unlimited)"},
    {"api.ratelimit.signin.window_s", OSS_CONF_INT, "60", 1, 604800,
     "seconds for an empty sign-in bucket to refill"},
    {"api.ratelimit.otp.ip_max", OSS_CONF_INT, "30", 0, 1000000000,
     "activation codes tried per client IP per window (0 = unlimited)"},
    {"api.ratelimit.otp.key_max", OSS_CONF_INT, "20", 0, 1000000000,
     "activation codes tried per account per window (0 = unlimited)"},
    {"api.ratelimit.otp.window_s", OSS_CONF_INT, "300", 1, 604800,
     "seconds for an empty activation-code bucket to refill"},
    {"api.ratelimit.resend.ip_max", OSS_CONF_INT, "20", 0, 1000000000,
     "activation resends per client IP per window (0 = unlimited)"},
    {"api.ratelimit.resend.key_max", OSS_CONF_INT, "5", 0, 1000000000,
     "activation resends per account per window (0 = unlimited)"},
    {"api.ratelimit.resend.window_s", OSS_CONF_INT, "3600", 1, 604800,
     "seconds for an empty resend bucket to refill"},
    {"api.ratelimit.recovery.ip_max", OSS_CONF_INT, "20", 0, 1000000000,
     "recovery requests per client IP per window (0 = unlimited)"},
    {"api.ratelimit.recovery.key_max", OSS_CONF_INT, "5", 0, 1000000000,
     "recovery requests per e-mail / NIK / principal per window "
     "(0 = unlimited)"},
    {"api.ratelimit.recovery.window_s", OSS_CONF_INT, "3600", 1, 604800,
     "seconds for an empty recovery bucket to refill"},
    /* access rights (producers/api/access.c) */
    {"access.cooling_off_working_days", OSS_CONF_INT, "5", 0, 60,
     "working days the owner may object before a hand-over is approved"},
    {"access.holidays_file", OSS_CONF_STR, "infra/data/holidays-id.txt", 0, 0,
     "public holidays (YYYY-MM-DD per line) skipped as non-working days"},
    {"access.transfer_ttl_s", OSS_CONF_INT, "604800", 60, 7776000,
     "how long an ownership transfer offer stays open"},
    /* relay */
    {"relay.batch_size", OSS_CONF_INT, "5000", 1, 1000000,
     "journal rows read per relay round"},
    {"relay.poll_ms", OSS_CONF_INT, "500", 10, 60000,
     "fallback polling interval when no NOTIFY arrives"},
    {"relay.lock_key", OSS_CONF_INT, "7301", NOMIN, NOMAX,
     "advisory lock key that elects the single active relay"},
    {"relay.stall_ms", OSS_CONF_INT, "30000", 1000, 3600000,
     "a leader with no progress for this long gives up its lock"},
    {"relay.message_timeout_ms", OSS_CONF_INT, "30000", 1000, 300000,
     "producer message.timeout.ms; a new leader waits this out"},
    {"relay.checkpoint_ms", OSS_CONF_INT, "200", 10, 60000,
     "how often confirmed deliveries are written to the checkpoint"},
    /* projector */
    {"projector.batch_size", OSS_CONF_INT, "1000", 1, 100000,
     "events applied per read-model transaction"},
    {"projector.name", OSS_CONF_STR, "projector", 0, 0,
     "name under which positions are stored"},
    {"projector.schema", OSS_CONF_STR, "rm", 0, 0,
     "schema holding the read models (rebuild builds <schema>_new)"},
    {"projector.chunk_size", OSS_CONF_INT, "5000", 100, 1000000,
     "journal events per transaction in rebuild and catch-up"},
    {"projector.flush_ms", OSS_CONF_INT, "50", 1, 10000,
     "longest wait for a batch to fill before applying it"},
    /* notifier */
    {"notifier.smtp_url", OSS_CONF_STR, "smtp://127.0.0.1:2525", 0, 0,
     "SMTP server URL (libcurl syntax)"},
    {"notifier.from", OSS_CONF_STR, "OSS <no-reply@oss.go.id>", 0, 0,
     "From header of sent mail"},
    {"notifier.retry_max_s", OSS_CONF_INT, "300", 1, 86400,
     "largest backoff between delivery attempts"},
    {"notifier.sweep_interval_s", OSS_CONF_INT, "30", 1, 86400,
     "how often the notifier sweeps the journal for events Kafka lost"},
    {"notifier.sweep_lag_s", OSS_CONF_INT, "60", 0, 86400,
     "age an event must reach before the journal sweep sends it"},
    {"notifier.whatsapp_url", OSS_CONF_STR, "http://127.0.0.1:8025/messages", 0,
     0, "WhatsApp gateway URL (JSON POST; infra/smtp/http_sink.py locally)"},
    {"notifier.activation_url", OSS_CONF_STR, "https://oss.go.id/aktivasi", 0,
     0, "page the activation link opens (?account=ID&token=T is appended)"},
    {"notifier.notice_poll_ms", OSS_CONF_INT, "1000", 50, 600000,
     "how often the notifier looks for targeted notices to send"},
    {"notifier.senders", OSS_CONF_INT, "4", 1, 32,
     "messages the notifier hands over at once (threads, each with its own "
     "SMTP connection, PostgreSQL session and journal handle)"},
    /* account lifecycle: activation, password, sign-in (producers/api) */
    {"crypto.otp_key_file", OSS_CONF_STR, "var/keys/otp.key", 0, 0,
     "file holding the key of the keyed hashes of OTPs, activation links "
     "and session tokens"},
    {"activation.ttl_s", OSS_CONF_INT, "900", 10, 604800,
     "lifetime of an activation OTP / link, and of the first-password window"},
    {"activation.max_attempts", OSS_CONF_INT, "5", 1, 100,
     "wrong activation codes before ActivationLocked"},
    {"activation.resend_max", OSS_CONF_INT, "3", 0, 1000,
     "activation resends allowed per window"},
    {"activation.resend_window_s", OSS_CONF_INT, "3600", 1, 604800,
     "the resend rate-limit window"},
    {"password.argon2_t", OSS_CONF_INT, "2", 1, 64, "Argon2id passes"},
    {"password.argon2_m_kib", OSS_CONF_INT, "19456", 8, 4194304,
     "Argon2id memory in KiB"},
    {"password.argon2_lanes", OSS_CONF_INT, "1", 1, 255, "Argon2id lanes"},
    {"password.common_file", OSS_CONF_STR, "infra/data/common-passwords.txt", 0,
     0, "list of refused common passwords, one per line"},
    {"signin.threshold", OSS_CONF_INT, "5", 1, 1000,
     "failed sign-ins before SignInThrottled and per-source delays"},
    {"signin.delay_ms", OSS_CONF_INT, "1000", 1, 3600000,
     "first per-source delay after the threshold (doubles per failure)"},
    {"signin.delay_max_s", OSS_CONF_INT, "900", 1, 86400,
     "largest per-source sign-in delay"},
    {"session.ttl_s", OSS_CONF_INT, "43200", 60, 2592000,
     "lifetime of a session token"},
    /* account recovery (producers/api/recovery.c) */
    {"recovery.reset_ttl_s", OSS_CONF_INT, "1800", 60, 86400,
     "lifetime of a password-reset link"},
    {"recovery.reset_max", OSS_CONF_INT, "3", 1, 1000,
     "reset links issued per principal per window"},
    {"recovery.reset_window_s", OSS_CONF_INT, "3600", 1, 604800,
     "the reset-link rate-limit window"},
    {"recovery.reset_url", OSS_CONF_STR, "https://oss.go.id/atur-ulang-sandi",
     0, 0, "page the reset link opens (?token=T is appended)"},
    {"recovery.help_max_open", OSS_CONF_INT, "3", 1, 100,
     "help requests per account awaiting a decision"},
    /* logging */
    {"log.level", OSS_CONF_STR, "info", 0, 0, "debug, info, warn or error"},
    {NULL, 0, NULL, 0, 0, NULL}};

typedef struct kv {
    char *name, *value;
} kv_t;

struct oss_config {
    char *values[sizeof table / sizeof table[0]];
    kv_t *kafka;
    size_t nkafka;
};

static int
find_def(const char *name) {
    for (int i = 0; table[i].name; i++)
        if (strcmp(table[i].name, name) == 0)
            return i;
    return -1;
}

static char *
trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static oss_code_t
check_value(const oss_conf_def_t *d, const char *v, oss_err_t *err) {
    if (d->type == OSS_CONF_INT) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return oss_err_field(err, OSS_EINVAL, d->name,
                                 "invalid value for \"%s\": \"%s\" is not an "
                                 "integer",
                                 d->name, v);
        if ((d->min != NOMIN || d->max != NOMAX) && (n < d->min || n > d->max))
            return oss_err_field(err, OSS_EINVAL, d->name,
                                 "invalid value for \"%s\": %lld is outside "
                                 "%lld..%lld",
                                 d->name, n, d->min, d->max);
    } else if (d->type == OSS_CONF_BOOL) {
        if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") &&
            strcmp(v, "0"))
            return oss_err_field(err, OSS_EINVAL, d->name,
                                 "invalid value for \"%s\": \"%s\" is not "
                                 "true or false",
                                 d->name, v);
    }
    return OSS_OK;
}

static oss_code_t
set_kafka(oss_config_t *cfg, const char *name, const char *value,
          oss_err_t *err) {
    for (size_t i = 0; i < cfg->nkafka; i++)
        if (strcmp(cfg->kafka[i].name, name) == 0) {
            char *v = strdup(value);
            if (!v)
                return oss_err_set(err, OSS_ENOMEM, "out of memory");
            free(cfg->kafka[i].value);
            cfg->kafka[i].value = v;
            return OSS_OK;
        }
    kv_t *k = realloc(cfg->kafka, (cfg->nkafka + 1) * sizeof *k);
    if (!k)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    cfg->kafka = k;
    k[cfg->nkafka].name = strdup(name);
    k[cfg->nkafka].value = strdup(value);
    cfg->nkafka++;
    return OSS_OK;
}

static oss_code_t
set_value(oss_config_t *cfg, const char *name, const char *value,
          const char *origin, oss_err_t *err) {
    if (strncmp(name, "kafka.", 6) == 0 && name[6])
        return set_kafka(cfg, name + 6, value, err);
    int i = find_def(name);
    if (i < 0)
        return oss_err_field(err, OSS_EINVAL, name,
                             "unknown configuration key \"%s\" (%s)", name,
                             origin);
    if (check_value(&table[i], value, err))
        return err ? err->code : OSS_EINVAL;
    char *v = strdup(value);
    if (!v)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    free(cfg->values[i]);
    cfg->values[i] = v;
    return OSS_OK;
}

static oss_code_t
load_file(oss_config_t *cfg, const char *path, oss_err_t *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return oss_err_set(err, OSS_EIO,
                           "could not open configuration \"%s\": %s", path,
                           strerror(errno));
    char line[4096], origin[512];
    int lineno = 0;
    oss_code_t rc = OSS_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = oss_err_set(err, OSS_EINVAL,
                             "%s line %d: line longer than "
                             "%zu bytes",
                             path, lineno, sizeof line - 2);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        snprintf(origin, sizeof origin, "%s line %d", path, lineno);
        if (!eq) {
            rc = oss_err_set(err, OSS_EINVAL, "%s: expected name = value",
                             origin);
            break;
        }
        *eq = '\0';
        if ((rc = set_value(cfg, trim(s), trim(eq + 1), origin, err)))
            break;
    }
    fclose(f);
    return rc;
}

/* The environment variable of table[i]: OSS_ + name, '.' -> '_',
 * upper-cased (api.max_body_bytes -> OSS_API_MAX_BODY_BYTES). */
static void
env_name(int i, char *name, size_t namesz) {
    size_t n = (size_t)snprintf(name, namesz, "OSS_");
    for (const char *p = table[i].name; *p && n + 1 < namesz; p++)
        name[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    name[n] = '\0';
}

static oss_code_t
load_env(oss_config_t *cfg, oss_err_t *err) {
    extern char **environ;
    char name[256];
    for (int i = 0; table[i].name; i++) {
        env_name(i, name, sizeof name);
        const char *v = getenv(name);
        if (v && set_value(cfg, table[i].name, v, name, err))
            return err ? err->code : OSS_EINVAL;
    }
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "OSS_KAFKA__", 11))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        size_t n = 0;
        for (const char *p = *e + 11; p < eq && n + 1 < sizeof name; p++)
            name[n++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
        name[n] = '\0';
        if (n && set_kafka(cfg, name, eq + 1, err))
            return err ? err->code : OSS_ENOMEM;
    }
    return OSS_OK;
}

/* OSS_ variables that are not configuration keys (infra/run's run.env, the
 * tests and tools); a trailing '*' matches a prefix. */
static const char *const non_config_env[] = {"OSS_CONFIG",
                                             "OSS_API_URL",
                                             "OSS_PG_URL",
                                             "OSS_PG_ADMIN_URL",
                                             "OSS_PG_SUPER_URL",
                                             "OSS_CLI",
                                             "OSS_BUILD_DIR",
                                             "OSS_VAR",
                                             "OSS_MAIL_DIR",
                                             "OSS_WHATSAPP_DIR",
                                             "OSS_LOG_DIR",
                                             "OSS_PG_LOG",
                                             "OSS_KAFKA_BOOTSTRAP",
                                             "OSS_SOURCE_DIR",
                                             "OSS_RUN_ENV",
                                             "OSS_TOPICS",
                                             "OSS_LOG_LEVEL",
                                             "OSS_ROOT",
                                             "OSS_PACKAGES",
                                             "OSS_RELAY_BIN",
                                             "OSS_TEST_*",
                                             "OSS_FUZZ_*",
                                             "OSS_BENCH_*",
                                             "OSS_KAFKA__*",
                                             NULL};

static bool
env_known(const char *var, size_t n) {
    char name[256];
    for (int i = 0; non_config_env[i]; i++) {
        size_t k = strlen(non_config_env[i]);
        if (non_config_env[i][k - 1] == '*'
                ? n >= k - 1 && strncmp(var, non_config_env[i], k - 1) == 0
                : n == k && strncmp(var, non_config_env[i], k) == 0)
            return true;
    }
    for (int i = 0; table[i].name; i++) {
        env_name(i, name, sizeof name);
        if (strlen(name) == n && strncmp(var, name, n) == 0)
            return true;
    }
    return false;
}

size_t
oss_config_unknown_env(char *out, size_t outlen) {
    extern char **environ;
    size_t count = 0, o = 0;
    bool full = false;

    if (out && outlen)
        out[0] = '\0';
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "OSS_", 4) != 0)
            continue;
        size_t n = (size_t)(eq - *e);
        bool looks = n > 4 && isupper((unsigned char)(*e)[4]);
        for (size_t k = 4; looks && k < n; k++) {
            char c = (*e)[k];
            looks =
                (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (!looks || env_known(*e, n))
            continue;
        count++;
        if (!out || outlen == 0 || full)
            continue;
        /* "A, B, ..." truncated with "..." when out is too small */
        size_t need = (o ? 2 : 0) + n;
        if (o + need + 4 < outlen) {
            o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", o ? ", " : "",
                                  (int)n, *e);
        } else {
            full = true;
            if (o + 5 < outlen)
                snprintf(out + o, outlen - o, "%s...", o ? ", " : "");
        }
    }
    return count;
}

oss_code_t
oss_config_load(const char *path, oss_config_t **out, oss_err_t *err) {
    oss_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss_code_t rc = OSS_OK;
    for (int i = 0; table[i].name; i++)
        if (table[i].def && !(cfg->values[i] = strdup(table[i].def))) {
            rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            goto done;
        }
    if (!path)
        path = getenv("OSS_CONFIG");
    if (path && *path && (rc = load_file(cfg, path, err)))
        goto done;
    rc = load_env(cfg, err);
done:
    if (rc) {
        oss_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return OSS_OK;
}

void
oss_config_free(oss_config_t *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        free(cfg->values[i]);
    for (size_t i = 0; i < cfg->nkafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    free(cfg);
}

const char *
oss_config_str(const oss_config_t *cfg, const char *name) {
    int i = find_def(name);
    assert(i >= 0 && "configuration key not in table");
    return i < 0 ? NULL : cfg->values[i];
}

long long
oss_config_int(const oss_config_t *cfg, const char *name) {
    const char *v = oss_config_str(cfg, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

bool
oss_config_bool(const oss_config_t *cfg, const char *name) {
    const char *v = oss_config_str(cfg, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

size_t
oss_config_kafka_count(const oss_config_t *cfg) {
    return cfg->nkafka;
}

void
oss_config_kafka_at(const oss_config_t *cfg, size_t i, const char **name,
                    const char **value) {
    *name = cfg->kafka[i].name;
    *value = cfg->kafka[i].value;
}

const oss_conf_def_t *
oss_config_table(void) {
    return table;
}

void
oss_config_print_help(void) {
    static const char *types[] = {"string", "integer", "boolean"};
    printf("configuration (file: name = value; environment: OSS_NAME):\n");
    for (int i = 0; table[i].name; i++) {
        printf("  %-28s %-8s default %s", table[i].name, types[table[i].type],
               table[i].def ? table[i].def : "(unset)");
        if (table[i].type == OSS_CONF_INT &&
            (table[i].min != NOMIN || table[i].max != NOMAX))
            printf(" [%lld..%lld]", table[i].min, table[i].max);
        printf("\n      %s\n", table[i].help);
    }
    printf("  kafka.<property>              librdkafka property, passed "
           "through\n");
}
