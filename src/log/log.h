/* The level-checked logger: one line per event on stderr,
 *   ts=2026-11-24T10:00:00.123Z level=info prog=api cid=<correlation id>
 * msg="..." The level is checked before formatting. The correlation id is per
 * thread (set it when a request or message starts being handled). Never pass a
 * secret or personal data to it. Thread-safe. */
#ifndef OSS_LOG_H
#define OSS_LOG_H

typedef enum {
    OSS_LOG_DEBUG,
    OSS_LOG_INFO,
    OSS_LOG_WARN,
    OSS_LOG_ERROR
} oss_log_level_t;

extern oss_log_level_t oss_log_min_level;

/* prog is borrowed for the process lifetime; level "debug".."error". */
void oss_log_init(const char *prog, const char *level);
/* Sets this thread's correlation id (copied; NULL or "" clears it). */
void oss_log_set_cid(const char *cid);
const char *oss_log_cid(void);
void oss_log_write(oss_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define oss_log(level, ...)                                                    \
    do {                                                                       \
        if ((level) >= oss_log_min_level)                                      \
            oss_log_write((level), __VA_ARGS__);                               \
    } while (0)
#define oss_debug(...) oss_log(OSS_LOG_DEBUG, __VA_ARGS__)
#define oss_info(...) oss_log(OSS_LOG_INFO, __VA_ARGS__)
#define oss_warn(...) oss_log(OSS_LOG_WARN, __VA_ARGS__)
#define oss_error(...) oss_log(OSS_LOG_ERROR, __VA_ARGS__)

#endif
