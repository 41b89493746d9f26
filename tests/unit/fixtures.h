/* The shared fixtures (../shared/fixtures next to the source tree, TSV
 * files) for the unit tests, the core's included: header-only, because the
 * core's tests link the core and cmocka alone (tests/CMakeLists.txt). The
 * includer includes cmocka.h (and what it needs) first. */
#ifndef OSS_TEST_FIXTURES_H
#define OSS_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens ../shared/fixtures/<name> (under OSS_SOURCE_DIR) for reading; fails
 * the test when it cannot. Caller fcloses. */
static inline FILE *
open_fixture(const char *name) {
    const char *src = getenv("OSS_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/fixtures/%s",
             src ? src : "/work/main", name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("could not open fixture \"%s\"", path);
    return f;
}

/* Splits a TSV line in place (its end of line cut) into at most max columns
 * (pointers into line); returns how many. */
static inline int
split_tsv(char *line, char **cols, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line;
    while (n < max) {
        cols[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

#endif
