/* The API's worker pool: a locked queue of jobs, N threads, each with its own
 * journal connection. A worker takes the first queued job; when it is a
 * registration, it also takes every other queued registration up to
 * api.group_commit_max and appends them in one transaction. */
#include "api.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"
#include "log/log.h"

struct api_worker {
    api_pool_t *pool;
    pthread_t thread;
    oss_journal_t *journal;
    int id;
};

struct api_pool {
    api_ctx_t *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    api_job_t *head, *tail;
    bool stop;
    size_t group_max;
    int n;
    api_worker_t *workers;
};

api_ctx_t *
api_worker_ctx(api_worker_t *w) {
    return w->pool->ctx;
}

struct oss_journal *
api_worker_journal(api_worker_t *w, oss_err_t *err) {
    if (!w->journal) {
        if (oss_journal_open(w->pool->ctx->pg_url, &w->journal, err) !=
            OSS_OK) {
            w->journal = NULL;
            return NULL;
        }
    }
    return w->journal;
}

void
api_worker_reset(api_worker_t *w) {
    oss_journal_free(w->journal);
    w->journal = NULL;
}

/* Takes the next batch off the queue (mu held): the first job, plus, when it
 * is a registration, later registrations up to group_max. */
static size_t
take_batch(api_pool_t *p, api_job_t **batch) {
    api_job_t *first = p->head;
    size_t n = 0;

    p->head = first->next;
    if (!p->head)
        p->tail = NULL;
    first->next = NULL;
    batch[n++] = first;
    if (first->kind != API_JOB_REGISTER)
        return n;
    api_job_t **link = &p->head, *prev = NULL;
    while (*link && n < p->group_max) {
        api_job_t *j = *link;
        if (j->kind == API_JOB_REGISTER) {
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

static void *
worker_main(void *arg) {
    api_worker_t *w = arg;
    api_pool_t *p = w->pool;
    api_job_t **batch = calloc(p->group_max, sizeof *batch);

    if (!batch) {
        oss_error("could not start API worker %d: out of memory", w->id);
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

        if (batch[0]->kind == API_JOB_REGISTER) {
            api_register_batch(w, batch, n);
        } else {
            oss_log_set_cid(oss_http_req_cid(batch[0]->req));
            batch[0]->run(w, batch[0]);
            oss_log_set_cid(NULL);
        }
        for (size_t i = 0; i < n; i++)
            free(batch[i]);
    }
    free(batch);
    oss_journal_free(w->journal);
    w->journal = NULL;
    return NULL;
}

oss_code_t
api_pool_new(api_ctx_t *ctx, int nworkers, size_t group_max, api_pool_t **out,
             oss_err_t *err) {
    api_pool_t *p = calloc(1, sizeof *p);

    *out = NULL;
    if (!p)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
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
            oss_err_set(err, OSS_EIO, "could not start API worker %d", i);
            api_pool_free(p);
            return OSS_EIO;
        }
        p->n++;
    }
    *out = p;
    return OSS_OK;
}

void
api_pool_submit(api_pool_t *p, api_job_t *job) {
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        oss_http_reply_error(job->req, 503, NULL, "the server is stopping",
                             NULL);
        free(job);
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
api_pool_free(api_pool_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    /* what nobody started gets a 503; the workers finish what they hold */
    api_job_t *j = p->head;
    p->head = p->tail = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (j) {
        api_job_t *next = j->next;
        oss_http_reply_error(j->req, 503, NULL, "the server is stopping", NULL);
        free(j);
        j = next;
    }
    for (int i = 0; i < p->n; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p);
}
