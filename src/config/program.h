/* The start-up every program shares: load the configuration, start logging
 * under the program's name, warn about misspelt OSS_ variables, and (for
 * programs that are not libevent loops) stop cleanly on SIGTERM / SIGINT.
 * Call once from main, before any thread starts. */
#ifndef OSS_CONFIG_PROGRAM_H
#define OSS_CONFIG_PROGRAM_H

#include <signal.h>

#include "config/config.h"

/* Loads the configuration from path (NULL: $OSS_CONFIG), starts logging as
 * prog and logs unknown OSS_ variables as a warning. Ignores SIGPIPE. When
 * stop is not NULL, SIGTERM and SIGINT set *stop to 1 (stop is borrowed for
 * the process lifetime). Returns new, caller frees with oss_config_free(); on
 * a bad configuration prints "prog: message" to stderr and returns NULL. */
oss_config_t *oss_program_start(const char *prog, const char *path,
                                volatile sig_atomic_t *stop);

#endif
