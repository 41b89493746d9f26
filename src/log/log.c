/* The level-checked logger. */
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/utc.h"

oss_log_level_t oss_log_min_level = OSS_LOG_INFO;
static const char *log_prog = "oss";
static _Thread_local char log_cid[80];

void
oss_log_init(const char *prog, const char *level) {
    if (prog)
        log_prog = prog;
    if (!level)
        return;
    if (!strcmp(level, "debug"))
        oss_log_min_level = OSS_LOG_DEBUG;
    else if (!strcmp(level, "warn"))
        oss_log_min_level = OSS_LOG_WARN;
    else if (!strcmp(level, "error"))
        oss_log_min_level = OSS_LOG_ERROR;
    else
        oss_log_min_level = OSS_LOG_INFO;
}

void
oss_log_set_cid(const char *cid) {
    snprintf(log_cid, sizeof log_cid, "%s", cid ? cid : "");
}

const char *
oss_log_cid(void) {
    return log_cid;
}

void
oss_log_write(oss_log_level_t level, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[1024], line[1400], ts[OSS_UTC_STR];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) /* one event, one line */
        if (*p == '\n' || *p == '"')
            *p = *p == '"' ? '\'' : ' ';
    oss_utc_format(oss_now_us(), 3, ts, sizeof ts);
    int n = snprintf(
        line, sizeof line, "ts=%s level=%s prog=%s%s%s msg=\"%s\"\n", ts,
        names[level], log_prog, log_cid[0] ? " cid=" : "", log_cid, msg);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    fwrite(line, 1, (size_t)n, stderr);
}
