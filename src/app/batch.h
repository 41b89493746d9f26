/* Group commit: the jobs that contribute commands to one transaction, and
 * the batch that runs them (batch.c). The worker pool (pool.h) queues jobs
 * and hands the batched ones to oss_app_batch_run(); a job's callbacks get
 * the worker back as an opaque handle (for oss_app_worker_journal()).
 *
 * Threads: a batch runs on the one thread that calls it. */
#ifndef OSS_APP_BATCH_H
#define OSS_APP_BATCH_H

#include <stddef.h>

#include "core/error.h"
#include "journal/journal.h"

typedef struct oss_app_worker oss_app_worker_t;
typedef struct oss_app_job oss_app_job_t;

/* The most commands one batched job may contribute. */
#define OSS_APP_BATCH_MAX_CMDS 4

struct oss_app_job {
    /* a job run alone (when prepare is NULL) */
    void (*run)(oss_app_worker_t *w, oss_app_job_t *job);
    /* a batched job: prepare fills cmds[0..k) (k <= OSS_APP_BATCH_MAX_CMDS;
     * the array stays put until finish, so commands may point at each
     * other) and returns k; 0 means the job is done (it answered already)
     * and finish is not called. finish gets the same commands after the
     * batch ran: rc OSS_OK with each command's outcome, or the
     * transaction's error (err; then no command took effect). The batch
     * frees the commands' events and replay responses afterwards. */
    size_t (*prepare)(oss_app_worker_t *w, oss_app_job_t *job,
                      oss_command_t *cmds);
    void (*finish)(oss_app_worker_t *w, oss_app_job_t *job, oss_command_t *cmds,
                   size_t k, oss_code_t rc, const oss_err_t *err);
    /* the pool stopped before the job ran (may be NULL) */
    void (*cancel)(oss_app_job_t *job);
    /* frees the job after it ran or was cancelled (NULL: free()) */
    void (*destroy)(oss_app_job_t *job);
    const char *cid; /* correlation id for log lines (borrowed, may be NULL) */
    oss_app_job_t *next; /* the pool's */
};

/* Runs the batched jobs[0..n) (borrowed) as described above, with ONE
 * oss_journal_execute() on j (NULL: the database is unavailable; every
 * prepared job then finishes with OSS_EUNAVAIL). w is handed to the jobs'
 * callbacks. Returns the transaction's result: OSS_EUNAVAIL tells the
 * caller to reset its connection. */
oss_code_t oss_app_batch_run(oss_app_worker_t *w, oss_journal_t *j,
                             oss_app_job_t **jobs, size_t n);

#endif
