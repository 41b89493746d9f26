/* Delivery outcome events on the journal (oss_notifier_outcome_append*,
 * outcome.c), retried while the journal is down. */
#include "notifier_int.h"

#include <pthread.h>
#include <stdlib.h>

#include "log/log.h"

/* Most outcomes in one shared transaction (the senders are at most 32). */
#define COMMIT_MAX 32

typedef struct waiter {
    struct waiter *next;
    const oss_outcome_t *o;
    int state; /* 0 waiting, 1 appended, 2 append alone */
} waiter_t;

struct nt_commit {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    waiter_t *head, **tail;
    int busy; /* a leader's transaction is under way */
};

/* No ping first: oss_journal_execute() reconnects a lost session itself
 * and says OSS_EUNAVAIL when it cannot (a ping was one more round trip per
 * message). */
static oss_code_t
journal_ensure(notifier_t *n, oss_err_t *err) {
    if (n->journal)
        return OSS_OK;
    return oss_journal_open(oss_config_str(n->cfg, "pg.url"), &n->journal, err);
}

/* Appends o, retrying while the journal is unavailable (at least once even
 * when stopping: an outcome of a message already handed over should not be
 * lost). 0 when appended (or replayed), 1 when refused for good (logged),
 * -1 when stopping first. */
static int
outcome_alone(notifier_t *n, const oss_outcome_t *o) {
    oss_err_t err = {0};
    for (int k = 0;; k++) {
        oss_err_clear(&err);
        oss_code_t rc = journal_ensure(n, &err);
        if (rc == OSS_OK)
            rc = oss_notifier_outcome_append(n->journal, o, &err);
        if (rc == OSS_OK)
            return 0;
        if (rc != OSS_EUNAVAIL) {
            oss_error("delivery outcome not recorded: event=%s channel=%s: %s",
                      o->cause_event_id, o->channel, err.msg);
            return 1;
        }
        if (*n->stop)
            return -1;
        if (k == 0 || k % 10 == 0)
            oss_warn("could not record a delivery outcome (will retry): "
                     "event=%s: %s",
                     o->cause_event_id, err.msg);
        nt_nap(n, k < 5 ? 1000 : 5000);
    }
}

/* nt_outcome() for os[0..k) in one transaction. */
int
nt_outcomes(notifier_t *n, const oss_outcome_t *os, size_t k) {
    oss_err_t err = {0};
    for (int t = 0;; t++) {
        oss_err_clear(&err);
        oss_code_t rc = journal_ensure(n, &err);
        if (rc == OSS_OK)
            rc = oss_notifier_outcome_append_many(n->journal, os, k, &err);
        if (rc == OSS_OK)
            return 0;
        if (rc != OSS_EUNAVAIL) {
            oss_error("delivery outcomes not recorded (%zu): %s", k, err.msg);
            return 0;
        }
        if (*n->stop)
            return -1;
        if (t == 0 || t % 10 == 0)
            oss_warn(
                "could not record %zu delivery nt_outcome(s) (will retry): "
                "%s",
                k, err.msg);
        nt_nap(n, t < 5 ? 1000 : 5000);
    }
}

oss_code_t
nt_commit_start(notifier_t *n, oss_err_t *err) {
    nt_commit_t *c = calloc(1, sizeof *c);
    if (!c)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->tail = &c->head;
    n->commit = c;
    return OSS_OK;
}

void
nt_commit_stop(notifier_t *n) {
    nt_commit_t *c = n->commit;
    if (!c)
        return;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    n->commit = NULL;
}

/* The leader (under c->mu on entry and on return): takes up to COMMIT_MAX
 * waiters, appends their outcomes in one transaction on its own journal
 * handle, one try; marks each appended, or to be appended alone. */
static void
lead(notifier_t *n, nt_commit_t *c) {
    waiter_t *batch[COMMIT_MAX];
    oss_outcome_t os[COMMIT_MAX];
    size_t k = 0;
    while (c->head && k < COMMIT_MAX) {
        waiter_t *w = c->head;
        c->head = w->next;
        batch[k] = w;
        os[k++] = *w->o; /* the waiter blocks: its strings stay valid */
    }
    if (!c->head)
        c->tail = &c->head;
    c->busy = 1;
    pthread_mutex_unlock(&c->mu);
    oss_err_t err = {0};
    oss_code_t rc = journal_ensure(n, &err);
    if (rc == OSS_OK)
        rc = oss_notifier_outcome_append_many(n->journal, os, k, &err);
    if (rc != OSS_OK)
        oss_debug("%zu delivery outcomes not recorded together, each "
                  "alone now: %s",
                  k, err.msg);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < k; i++)
        batch[i]->state = rc == OSS_OK ? 1 : 2;
    c->busy = 0;
    pthread_cond_broadcast(&c->cv);
}

int
nt_outcome(notifier_t *n, const oss_outcome_t *o) {
    nt_commit_t *c = n->main ? n->main->commit : NULL;
    if (!c)
        return outcome_alone(n, o);
    waiter_t w = {.o = o};
    pthread_mutex_lock(&c->mu);
    *c->tail = &w;
    c->tail = &w.next;
    while (w.state == 0) {
        if (!c->busy)
            lead(n, c);
        else
            pthread_cond_wait(&c->cv, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return w.state == 1 ? 0 : outcome_alone(n, o);
}
