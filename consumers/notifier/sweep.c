/* The journal sweep: Kafka is not the history: the embedded broker drops old
 * messages and loses everything on a restart. Every notifier.sweep_interval_s
 * the journal is read in (xid, position) order below the commit horizon (the
 * relay's order: no row below the cursor can commit later), and every
 * AccountRegistered older than notifier.sweep_lag_s that has no ledger row (or
 * one left 'sending' by a crash: re-sent, same Message-ID) is delivered. The
 * cursor lives in memory: a restart sweeps the whole journal once (cheap:
 * one index walk, handled rows skipped in SQL). */
#include "notifier_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bytes.h"
#include "core/clock.h"
#include "log/log.h"

#define SWEEP_PAGE 1000

/* One page of the sweep; sets n->sweep_again when a full page was handled
 * (more may follow right away). Returns how many events needed handling. */
static size_t
sweep_page(notifier_t *n) {
    oss_err_t err = {0};
    char pos[24], lag[24];
    snprintf(lag, sizeof lag, "%lld",
             oss_config_int(n->cfg, "notifier.sweep_lag_s"));
    snprintf(pos, sizeof pos, "%" PRId64, n->sweep_pos);
    n->sweep_again = 0;
    PGresult *r = nt_jr_sweep_page(n, n->sweep_xid, pos, lag, SWEEP_PAGE, &err);
    if (!r) {
        oss_warn("journal sweep failed (will retry): %s", err.msg);
        return 0;
    }
    int rows = PQntuples(r), upto = rows;
    for (int i = 0; i < rows; i++)
        if (*PQgetvalue(r, i, 6)) { /* too young: Kafka's turn first */
            upto = i;
            break;
        }
    /* the events still without a final ledger row, borrowed from r */
    oss_event_t *evs = calloc((size_t)(upto ? upto : 1), sizeof *evs);
    int *row_of = calloc((size_t)(upto ? upto : 1), sizeof *row_of);
    size_t k = 0, done = 0;
    if (!evs || !row_of)
        goto out;
    for (int i = 0; i < upto; i++) {
        if (*PQgetvalue(r, i, 7))
            continue;
        oss_event_t *ev = &evs[k];
        snprintf(ev->event_id, sizeof ev->event_id, "%.*s",
                 PQgetlength(r, i, 2), PQgetvalue(r, i, 2));
        snprintf(ev->stream_id, sizeof ev->stream_id, "%.*s",
                 PQgetlength(r, i, 3), PQgetvalue(r, i, 3));
        snprintf(ev->correlation_id, sizeof ev->correlation_id, "%.*s",
                 PQgetlength(r, i, 4), PQgetvalue(r, i, 4));
        snprintf(ev->payload_type, sizeof ev->payload_type, "%.*s",
                 PQgetlength(r, i, 8), PQgetvalue(r, i, 8));
        ev->occurred_at_us = oss_be64_sget(PQgetvalue(r, i, 9));
        ev->payload = (uint8_t *)PQgetvalue(r, i, 5);
        ev->payload_len = (size_t)PQgetlength(r, i, 5);
        row_of[k++] = i;
    }
    oss_code_t rc = nt_process(n, evs, k, "journal-sweep", &done);
    /* the cursor moves past every row up to the first unfinished event */
    int last =
        rc == OSS_OK ? upto - 1 : (done < k ? row_of[done] - 1 : upto - 1);
    if (last >= 0) {
        snprintf(n->sweep_xid, sizeof n->sweep_xid, "%.*s",
                 PQgetlength(r, last, 0), PQgetvalue(r, last, 0));
        n->sweep_pos = oss_be64_sget(PQgetvalue(r, last, 1));
    }
    if (k)
        oss_info("journal sweep: %zu event(s) Kafka had not delivered were "
                 "handled (sent, skipped or failed: see the ledger)",
                 done);
    n->sweep_again = rc == OSS_OK && upto == rows && rows == SWEEP_PAGE;
out:
    free(evs);
    free(row_of);
    PQclear(r);
    return k;
}

/* Pages through the journal while the pages hold nothing to do (after a
 * restart the whole journal is walked once: most of it is handled), for at
 * most SWEEP_BUDGET_MS, so Kafka is not held back. */
#define SWEEP_BUDGET_MS 1000

void
nt_sweep(notifier_t *n) {
    int64_t t0 = oss_mono_ms();
    while (sweep_page(n) == 0 && n->sweep_again && !*n->stop &&
           oss_mono_ms() - t0 < SWEEP_BUDGET_MS)
        ;
}
