/* The senders: notifier.senders threads, each with its own PostgreSQL
 * session, journal handle and curl handle (so an SMTP connection is reused
 * from one message to the next), deliver what the loop queues here
 * (nt_deliver(), unchanged: the ledger, every attempt, the outcome events).
 *
 * Order and priority:
 * - a message a person waits for (an activation code, a reset link: prio 1)
 *   is taken before every bulk message queued, whatever their Kafka order;
 * - messages of one stream and priority never run at the same time, and
 *   run in the order queued: a resent code (a later ActivationIssued on the
 *   same account) is handed over only after the earlier one is done with,
 *   and the earlier one, superseded, is not sent at all once its row is
 *   gone;
 * - one message (ledger key) is never queued twice: the loop's priority
 *   poll and a Kafka batch may both find it, the second is dropped or, in a
 *   group, waits behind the first (same stream, same priority) and then
 *   finds it done.
 * The loop (one thread: Kafka, the sweep, the polls) waits for a group (one
 * Kafka batch) before it moves the batch's positions on: a position never
 * passes a message not yet done. Only the lock holder runs senders, so the
 * in-process bookkeeping here is all the exclusion they need. */
#include "notifier_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "log/log.h"

typedef struct task {
    struct task *next;
    oss_event_t ev;
    notice_row_t nr; /* its strings are the task's own (below) */
    int has_nr;
    char *nr_strings; /* one allocation holding nr's fields */
    size_t nr_len;
    char lid[OSS_UUID_STR];
    char via[24];
    int queued, prio;
    nt_group_t *group;
    size_t idx;
} task_t;

#define MAX_SENDERS 32

struct nt_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    task_t *head[2], *tail[2]; /* [1]: a person waits */
    size_t queued[2];
    int nsenders;
    pthread_t th[MAX_SENDERS];
    notifier_t *sender[MAX_SENDERS];
    const task_t *running[MAX_SENDERS];
    int quit;
};

/* Whether a person waits for the message: an activation code (with its
 * ActivationIssued) or a notice of NT_WAITED_NOTICE. */
static int
waited_for(const oss_event_t *ev, const notice_row_t *nr) {
    if (nr)
        return strcmp(nr->kind, NT_WAITED_NOTICE) == 0;
    return strcmp(ev->payload_type, NT_ACTIVATION_ISSUED) == 0;
}

static void
task_free(task_t *t) {
    if (!t)
        return;
    oss_event_clear(&t->ev);
    if (t->nr_strings) {
        OPENSSL_cleanse(t->nr_strings, t->nr_len);
        free(t->nr_strings);
    }
    free(t);
}

/* Copies nr's strings into one allocation owned by t. */
static int
task_copy_notice(task_t *t, const notice_row_t *nr) {
    const char *f[6] = {nr->delivery_id, nr->subject_id, nr->channel,
                        nr->kind,        nr->account_id, nr->sealed_hex};
    size_t len = 0;
    for (int i = 0; i < 6; i++)
        len += strlen(f[i] ? f[i] : "") + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return -1;
    const char **to[6] = {&t->nr.delivery_id, &t->nr.subject_id,
                          &t->nr.channel,     &t->nr.kind,
                          &t->nr.account_id,  &t->nr.sealed_hex};
    for (int i = 0; i < 6; i++) {
        size_t l = strlen(f[i] ? f[i] : "");
        memcpy(p, f[i] ? f[i] : "", l + 1);
        *to[i] = p;
        p += l + 1;
    }
    t->nr.expired = nr->expired;
    t->nr_strings = s;
    t->nr_len = len;
    t->has_nr = 1;
    return 0;
}

/* Whether a task of t's stream and priority is running. Under mu. */
static int
stream_busy(const nt_pool_t *p, const task_t *t) {
    for (int i = 0; i < p->nsenders; i++)
        if (p->running[i] && p->running[i]->prio == t->prio &&
            strcmp(p->running[i]->ev.stream_id, t->ev.stream_id) == 0)
            return 1;
    return 0;
}

/* Whether a task of t's stream was queued before t in its queue q (t then
 * waits: a stream's messages of one priority go in order, so a resent code
 * never overtakes the one it supersedes; a code need not wait for its
 * account's bulk mail). Under mu. */
static int
stream_earlier(const nt_pool_t *p, const task_t *t, int q) {
    for (const task_t *o = p->head[q]; o && o != t; o = o->next)
        if (strcmp(o->ev.stream_id, t->ev.stream_id) == 0)
            return 1;
    return 0;
}

/* The next task a sender may take, unlinked; NULL when none. Under mu. */
static task_t *
take(nt_pool_t *p) {
    for (int q = 1; q >= 0; q--) {
        task_t *prev = NULL;
        for (task_t *t = p->head[q]; t; prev = t, t = t->next) {
            if (stream_busy(p, t) || stream_earlier(p, t, q))
                continue;
            if (prev)
                prev->next = t->next;
            else
                p->head[q] = t->next;
            if (p->tail[q] == t)
                p->tail[q] = prev;
            p->queued[q]--;
            t->next = NULL;
            return t;
        }
    }
    return NULL;
}

typedef struct sender_arg {
    nt_pool_t *p;
    int i;
} sender_arg_t;

static void *
sender_main(void *arg) {
    nt_pool_t *p = ((sender_arg_t *)arg)->p;
    int me = ((sender_arg_t *)arg)->i;
    free(arg);
    notifier_t *n = p->sender[me];
    pthread_mutex_lock(&p->mu);
    for (;;) {
        task_t *t = NULL;
        while (!p->quit && !(t = take(p)))
            pthread_cond_wait(&p->work, &p->mu);
        if (!t)
            break;
        p->running[me] = t;
        pthread_mutex_unlock(&p->mu);

        oss_log_set_cid(t->ev.correlation_id);
        oss_code_t rc =
            nt_deliver(n, &t->ev, t->has_nr ? &t->nr : NULL, t->via, t->queued);
        oss_log_set_cid(NULL);

        pthread_mutex_lock(&p->mu);
        p->running[me] = NULL;
        if (t->group) {
            if (rc != OSS_OK)
                t->group->failed[t->idx] = 1;
            t->group->pending--;
        }
        task_free(t);
        pthread_cond_broadcast(&p->done);
        pthread_cond_broadcast(&p->work); /* its stream is free again */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* A sender's own notifier: the loop's settings and keys, its own sessions.
 */
static notifier_t *
sender_new(notifier_t *n) {
    notifier_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = n->cfg;
    s->stop = n->stop;
    s->master = n->master;
    s->bus = n->bus;
    s->main = n;
    memcpy(s->from_addr, n->from_addr, sizeof s->from_addr);
    if (!(s->curl = curl_easy_init())) {
        free(s);
        return NULL;
    }
    return s;
}

static void
sender_free(notifier_t *s) {
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    PQfinish(s->pg);
    oss_journal_free(s->journal);
    OPENSSL_cleanse(&s->master, sizeof s->master);
    OPENSSL_cleanse(&s->bus, sizeof s->bus);
    free(s);
}

oss_code_t
nt_pool_start(notifier_t *n, oss_err_t *err) {
    int k = (int)oss_config_int(n->cfg, "notifier.senders");
    if (k < 1)
        k = 1;
    if (k > MAX_SENDERS)
        k = MAX_SENDERS;
    nt_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    n->pool = p;
    for (int i = 0; i < k; i++) {
        sender_arg_t *a = malloc(sizeof *a);
        if (!a || !(p->sender[i] = sender_new(n))) {
            free(a);
            nt_pool_stop(n);
            return oss_err_set(err, OSS_ENOMEM, "could not start a sender");
        }
        a->p = p;
        a->i = i;
        if (pthread_create(&p->th[i], NULL, sender_main, a)) {
            free(a);
            sender_free(p->sender[i]);
            p->sender[i] = NULL;
            nt_pool_stop(n);
            return oss_err_set(err, OSS_ENOMEM, "could not start a sender");
        }
        p->nsenders = i + 1;
    }
    oss_info("%d sender(s)", k);
    return OSS_OK;
}

void
nt_pool_stop(notifier_t *n) {
    nt_pool_t *p = n->pool;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nsenders; i++)
        pthread_join(p->th[i], NULL);
    for (int q = 0; q < 2; q++)
        while (p->head[q]) {
            task_t *t = p->head[q];
            p->head[q] = t->next;
            task_free(t);
        }
    for (int i = 0; i < MAX_SENDERS; i++) {
        if (!p->sender[i])
            continue;
        n->sent += p->sender[i]->sent;
        n->skipped += p->sender[i]->skipped;
        n->rejected += p->sender[i]->rejected;
        sender_free(p->sender[i]);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
    n->pool = NULL;
}

/* Whether lid is queued or running. Under mu. */
static int
known(const nt_pool_t *p, const char *lid) {
    for (int i = 0; i < p->nsenders; i++)
        if (p->running[i] && strcasecmp(p->running[i]->lid, lid) == 0)
            return 1;
    for (int q = 0; q < 2; q++)
        for (const task_t *t = p->head[q]; t; t = t->next)
            if (strcasecmp(t->lid, lid) == 0)
                return 1;
    return 0;
}

int
nt_pool_submit(notifier_t *n, const oss_event_t *ev, const notice_row_t *nr,
               const char *via, int queued, nt_group_t *g, size_t idx) {
    nt_pool_t *p = n->pool;
    task_t *t = calloc(1, sizeof *t);
    oss_err_t err = {0};
    if (!t || oss_event_copy(&t->ev, ev, &err) ||
        (nr && task_copy_notice(t, nr))) {
        task_free(t);
        return -1;
    }
    snprintf(t->lid, sizeof t->lid, "%s", nr ? nr->delivery_id : ev->event_id);
    snprintf(t->via, sizeof t->via, "%s", via);
    t->queued = queued;
    t->prio = waited_for(ev, nr);
    t->group = g;
    t->idx = idx;
    pthread_mutex_lock(&p->mu);
    if (!g && known(p, t->lid)) {
        pthread_mutex_unlock(&p->mu);
        task_free(t);
        return 0;
    }
    if (g)
        g->pending++;
    int q = t->prio;
    if (p->tail[q])
        p->tail[q]->next = t;
    else
        p->head[q] = t;
    p->tail[q] = t;
    p->queued[q]++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int
nt_group_wait(notifier_t *n, nt_group_t *g, int64_t ms) {
    nt_pool_t *p = n->pool;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (g->pending > 0)
        if (pthread_cond_timedwait(&p->done, &p->mu, &ts))
            break;
    int done = g->pending == 0;
    pthread_mutex_unlock(&p->mu);
    return done;
}

size_t
nt_pool_bulk(notifier_t *n) {
    nt_pool_t *p = n->pool;
    pthread_mutex_lock(&p->mu);
    size_t bulk = p->queued[0];
    pthread_mutex_unlock(&p->mu);
    return bulk;
}
