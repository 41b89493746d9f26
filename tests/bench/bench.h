/* oss-bench: shared helpers of the benchmark program (tests/bench/run drives
 * it). Every subcommand prints one machine-readable line starting with
 * "RESULT " (key=value pairs) on stdout; notes go to stderr. Every loop is
 * bounded in count and in time. Loopback addresses only. */
#ifndef OSS_BENCH_H
#define OSS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Monotonic clock in microseconds. */
int64_t bench_now_us(void);
/* Sleeps ms milliseconds. */
void bench_sleep_ms(int ms);
/* getenv() that exits with a message when unset; borrowed result. */
const char *bench_env(const char *name);
/* Connects or exits with PostgreSQL's message; caller PQfinish()es. */
PGconn *bench_pg(const char *url);
/* Runs sql; exits on failure unless may_fail. Returns 0 or -1. */
int bench_exec(PGconn *c, const char *sql, int may_fail);
/* One int64 from a one-row, one-column query (0 when NULL); exits on error. */
int64_t bench_scalar(PGconn *c, const char *sql);
/* Fills out (>= 37 bytes) with a fresh UUIDv7 string. Thread-safe. */
void bench_uuid7(char *out);
/* A random 64-bit value (thread-safe, not cryptographic). */
uint64_t bench_rand64(void);
/* Sorts v[0..n) and returns the q-quantile (0..1), nearest rank. */
double bench_quantile(double *v, size_t n, double q);

/* Runs `clients` threads, each calling op(state) until `seconds` pass or
 * max_ops operations were done in all; init(i) makes each thread's state
 * (NULL = fail), fini(state) frees it. *ok / *failed receive the counts and
 * *elapsed_s the measured wall time. Returns 0, or -1 when a thread could
 * not start. */
typedef void *(*bench_init_fn)(void *ctx, int idx);
typedef int (*bench_op_fn)(void *state); /* 0 ok, -1 failed */
typedef void (*bench_fini_fn)(void *state);
int bench_run_clients(int clients, double seconds, int64_t max_ops,
                      bench_init_fn init, bench_op_fn op, bench_fini_fn fini,
                      void *ctx, int64_t *ok, int64_t *failed,
                      double *elapsed_s);

/* Subcommands (argc/argv after the subcommand name). Return the exit code. */
int bench_cmd_insert(int argc, char **argv);
int bench_cmd_fill(int argc, char **argv);
int bench_cmd_copyout(int argc, char **argv);
int bench_cmd_copyin(int argc, char **argv);
int bench_cmd_rmcopy(int argc, char **argv);
int bench_cmd_relay_wait(int argc, char **argv);
int bench_cmd_api(int argc, char **argv);
int bench_cmd_latency(int argc, char **argv);
int bench_cmd_produce(int argc, char **argv);
int bench_cmd_rtt(int argc, char **argv);
/* The notifier's baseline (bench_smtp.c): a plain libcurl SMTP loop. */
int bench_cmd_smtp(int argc, char **argv);
/* The registration's raw baseline (bench_regrows.c). */
int bench_cmd_regrows(int argc, char **argv);

/* The sign-up figure (bench_signup.c, bench_http.c): raw Argon2id hashes/s
 * and registrations/s end to end (register, activate with the OTP of the
 * sealed delivery, set the password: one Argon2id hash). */
int bench_cmd_argon2(int argc, char **argv);
int bench_cmd_signup(int argc, char **argv);

#define BENCH_MAX_MASTER 8
typedef struct bench_master {
    int n;
    char id[BENCH_MAX_MASTER][17]; /* hex of sha256(key)[0..8) */
    uint8_t key[BENCH_MAX_MASTER][32];
} bench_master_t;
/* Loads the master keys (crypto.master_key_file of $OSS_CONFIG, else
 * $OSS_VAR/keys/master.key): 0, or -1 with a message. */
int bench_master_keys(bench_master_t *mk);
/* The OTP of account_id's latest activation delivery, opened as the
 * notifier does (data key unwrapped with the master key, AES-256-GCM):
 * 0 with otp (7 bytes) set, or -1. c borrowed. */
int bench_activation_otp(PGconn *c, const bench_master_t *mk,
                         const char *account_id, char otp[8]);

/* "--name value" option lookup: the value or def. */
const char *bench_opt(int argc, char **argv, const char *name, const char *def);

#endif
