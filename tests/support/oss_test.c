/* Shared test helpers: locate the running stack through var/run.env, clear
 * the OSS_ environment, make ids. */
#include "oss_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int
oss_test_load_env(void) {
    char path[4096];
    const char *p = getenv("OSS_RUN_ENV");
    if (!p) {
        const char *src = getenv("OSS_SOURCE_DIR");
        snprintf(path, sizeof path, "%s/var/run.env", src ? src : ".");
        p = path;
    }
    FILE *f = fopen(p, "r");
    if (!f) {
        fprintf(stderr,
                "cannot read %s: is the stack running (infra/run --detach)?\n",
                p);
        return -1;
    }
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        char *v = eq + 1;
        v[strcspn(v, "\n")] = '\0';
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        const char *k = line;
        if (strncmp(k, "export ", 7) == 0)
            k += 7;
        setenv(k, v, 0);
    }
    fclose(f);
    return 0;
}

const char *
oss_test_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set\n", name);
        fail();
    }
    return v;
}

char *
oss_test_id(const char *prefix) {
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *s = malloc(128);
    snprintf(s, 128, "%s-%d-%lx%09ld-%u", prefix, (int)getpid(),
             (long)ts.tv_sec, ts.tv_nsec, ++counter);
    return s;
}

void
oss_test_clear_oss_env(void) {
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "OSS_", 4) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    break;
                }
            }
        if (!name[0])
            return;
        unsetenv(name);
    }
}
