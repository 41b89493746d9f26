/* Delivery outcome events on the journal (oss_notifier_outcome_append*,
 * outcome.c), retried while the journal is down. */
#include "notifier_int.h"

#include "log/log.h"

static oss_code_t
journal_ensure(notifier_t *n, oss_err_t *err) {
    if (n->journal)
        return oss_journal_ping(n->journal, err);
    return oss_journal_open(oss_config_str(n->cfg, "pg.url"), &n->journal, err);
}

/* Appends o, retrying while the journal is unavailable (at least once even
 * when stopping: an outcome of a message already handed over should not be
 * lost). 0 when appended (or replayed), 1 when refused for good (logged),
 * -1 when stopping first. */
int
nt_outcome(notifier_t *n, const oss_outcome_t *o) {
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
