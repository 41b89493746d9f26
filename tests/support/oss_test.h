/* Shared helpers for the tests written in C (all but the core's unit tests,
 * which link the core alone): find the running stack (var/run.env written by
 * infra/run), clear the OSS_ environment, make ids. */
#ifndef OSS_TEST_H
#define OSS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Loads var/run.env (under OSS_SOURCE_DIR, or the path in OSS_RUN_ENV) into
 * the environment without overriding what is set. Returns 0, or -1 when the
 * stack is not running (the test should fail, not skip). */
int oss_test_load_env(void);
/* getenv() that fails the test when unset. */
const char *oss_test_env(const char *name);
/* Removes every OSS_ variable from the environment (run.env may be loaded in
 * the caller's shell), for tests that must see only what they set. */
void oss_test_clear_oss_env(void);
/* A fresh unique id with the given prefix, e.g. "t-1a2b...". Caller frees. */
char *oss_test_id(const char *prefix);

#endif
