/* Worker threads for the use cases, with group commit: a locked queue of
 * jobs and N threads, each with its own journal connection (one PGconn per
 * thread). A job either runs alone (run) or contributes commands to a
 * batch (prepare / finish): a worker that takes a batched job also takes
 * every other queued batched job, up to group_max, and runs all their
 * commands in ONE oss_journal_execute() (batch.c), so every producer of
 * commands gets group commit, whatever its front end.
 *
 * Threads: oss_app_pool_submit() may be called from any thread; run,
 * prepare, finish run on a worker; cancel runs on the thread that stops
 * the pool. The pool knows nothing of the front end (HTTP replies are the
 * job's callbacks). */
#ifndef OSS_APP_POOL_H
#define OSS_APP_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "app/batch.h"
#include "core/error.h"
#include "journal/journal.h"

typedef struct oss_app_pool oss_app_pool_t;

/* Starts nworkers threads connecting to pg_url (borrowed) on demand; ctx
 * is borrowed and handed to jobs through oss_app_worker_ctx(). group_max:
 * the most batched jobs in one transaction (0 = 1). Returns new, caller
 * frees with oss_app_pool_free(). */
oss_code_t oss_app_pool_new(const char *pg_url, void *ctx, int nworkers,
                            size_t group_max, oss_app_pool_t **out,
                            oss_err_t *err);
/* Queues job (takes ownership). When the pool is stopping the job is
 * cancelled and destroyed at once. */
void oss_app_pool_submit(oss_app_pool_t *p, oss_app_job_t *job);
/* Stops and joins the workers; queued jobs are cancelled. NULL is a
 * no-op. */
void oss_app_pool_free(oss_app_pool_t *p);

/* Worker side: the pool's ctx, and this worker's journal (owned by the
 * worker, connected on demand; NULL with *err set to OSS_EUNAVAIL while
 * PostgreSQL is down). */
void *oss_app_worker_ctx(oss_app_worker_t *w);
oss_journal_t *oss_app_worker_journal(oss_app_worker_t *w, oss_err_t *err);
/* Drops the worker's connection (after a connection failure). */
void oss_app_worker_reset(oss_app_worker_t *w);

#endif
