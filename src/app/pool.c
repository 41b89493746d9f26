/* The use cases' worker pool (pool.h): a locked queue of jobs, N threads,
 * each with its own journal connection. A worker takes the first queued
 * job; when it is a batched one, it also takes every other queued batched
 * job up to group_max and runs them in one transaction (batch.c). */
#include "app/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"
#include "log/log.h"

struct oss_app_worker {
    oss_app_pool_t *pool;
    pthread_t thread;
    oss_journal_t *journal;
    int id;
};

struct oss_app_pool {
    const char *pg_url;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    oss_app_job_t *head, *tail;
    bool stop;
    size_t group_max;
    int n;
    oss_app_worker_t *workers;
};

void *
oss_app_worker_ctx(oss_app_worker_t *w) {
    return w->pool->ctx;
}

oss_journal_t *
oss_app_worker_journal(oss_app_worker_t *w, oss_err_t *err) {
    if (!w->journal) {
        if (oss_journal_open(w->pool->pg_url ? w->pool->pg_url : "",
                             &w->journal, err) != OSS_OK) {
            w->journal = NULL;
            return NULL;
        }
    }
    return w->journal;
}

void
oss_app_worker_reset(oss_app_worker_t *w) {
    oss_journal_free(w->journal);
    w->journal = NULL;
}

/* Takes the next batch off the queue (mu held): the first job, plus, when it
 * is a registration, later registrations up to group_max. */
static size_t
take_batch(oss_app_pool_t *p, oss_app_job_t **batch) {
    oss_app_job_t *first = p->head;
    size_t n = 0;

    p->head = first->next;
    if (!p->head)
        p->tail = NULL;
    first->next = NULL;
    batch[n++] = first;
    if (!first->prepare)
        return n;
    oss_app_job_t **link = &p->head, *prev = NULL;
    while (*link && n < p->group_max) {
        oss_app_job_t *j = *link;
        if (j->prepare) {
            *link = j->next;
            if (p->tail == j)
                p->tail = prev;
            j->next = NULL;
            batch[n++] = j;
        } else {
            prev = j;
            link = &j->next;
        }
    }
    return n;
}

static void
destroy(oss_app_job_t *job) {
    if (job->destroy)
        job->destroy(job);
    else
        free(job);
}

static void
cancel(oss_app_job_t *job) {
    if (job->cancel)
        job->cancel(job);
    destroy(job);
}

static void *
worker_main(void *arg) {
    oss_app_worker_t *w = arg;
    oss_app_pool_t *p = w->pool;
    oss_app_job_t **batch = calloc(p->group_max, sizeof *batch);

    if (!batch) {
        oss_error("could not start worker %d: out of memory", w->id);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head && p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        size_t n = take_batch(p, batch);
        pthread_mutex_unlock(&p->mu);

        if (batch[0]->prepare) {
            oss_err_t err;
            oss_err_clear(&err);
            oss_journal_t *j = oss_app_worker_journal(w, &err);
            if (oss_app_batch_run(w, j, batch, n) == OSS_EUNAVAIL)
                oss_app_worker_reset(w);
        } else {
            oss_log_set_cid(batch[0]->cid);
            batch[0]->run(w, batch[0]);
            oss_log_set_cid(NULL);
        }
        for (size_t i = 0; i < n; i++)
            destroy(batch[i]);
    }
    free(batch);
    oss_journal_free(w->journal);
    w->journal = NULL;
    return NULL;
}

oss_code_t
oss_app_pool_new(const char *pg_url, void *ctx, int nworkers, size_t group_max,
                 oss_app_pool_t **out, oss_err_t *err) {
    oss_app_pool_t *p = calloc(1, sizeof *p);

    *out = NULL;
    if (!p)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    p->pg_url = pg_url;
    p->pg_url = pg_url;
    p->ctx = ctx;
    p->group_max = group_max ? group_max : 1;
    p->workers = calloc((size_t)nworkers, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < nworkers; i++) {
        p->workers[i].pool = p;
        p->workers[i].id = i;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main,
                           &p->workers[i]) != 0) {
            oss_err_set(err, OSS_EIO, "could not start worker %d", i);
            oss_app_pool_free(p);
            return OSS_EIO;
        }
        p->n++;
    }
    *out = p;
    return OSS_OK;
}

void
oss_app_pool_submit(oss_app_pool_t *p, oss_app_job_t *job) {
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        cancel(job);
        return;
    }
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void
oss_app_pool_free(oss_app_pool_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    /* what nobody started gets a 503; the workers finish what they hold */
    oss_app_job_t *j = p->head;
    p->head = p->tail = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (j) {
        oss_app_job_t *next = j->next;
        cancel(j);
        j = next;
    }
    for (int i = 0; i < p->n; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p);
}
