/* The journal sweep: Kafka is not the history: the embedded broker drops old
 * messages and loses everything on a restart. Every notifier.sweep_interval_s
 * the journal is read in (xid, position) order below the commit horizon (the
 * relay's order: no row below the cursor can commit later), and every
 * AccountRegistered older than notifier.sweep_lag_s that has no ledger row (or
 * one left 'sending' by a crash: re-sent, same Message-ID) is delivered. The
 * cursor lives in memory: a restart sweeps the whole journal once (cheap:
 * one index walk through src/journal's scan, and one look-up of the ledger
 * per page of 1000 rows). */
#include "notifier_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "log/log.h"

#define SWEEP_PAGE 1000

static const char *const sweep_types[] = {NT_ACCOUNT_REGISTERED,
                                          "oss.v1.ActivationIssued"};

/* One page of the scan: copies of the rows old enough to count, up to the
 * first that is too young (Kafka's turn first). */
typedef struct sweep_page {
    oss_event_list_t rows;
    oss_journal_cursor_t *cur; /* cur[i]: rows.items[i]'s place */
    size_t cap;
    int64_t young_us; /* rows recorded after it are too young */
    int young;        /* the scan stopped at a young row */
} sweep_page_t;

static int
sweep_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    sweep_page_t *pg = ctx;
    if (row->ev.recorded_at_us > pg->young_us) {
        pg->young = 1;
        return 1;
    }
    if (pg->rows.len == pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 64;
        oss_journal_cursor_t *c = realloc(pg->cur, cap * sizeof *c);
        if (!c)
            return oss_err_set(err, OSS_ENOMEM, "out of memory"), -1;
        pg->cur = c;
        pg->cap = cap;
    }
    oss_event_t *ev = oss_event_list_push(&pg->rows);
    if (!ev || oss_event_copy(ev, &row->ev, err))
        return oss_err_set(err, OSS_ENOMEM, "out of memory"), -1;
    pg->cur[pg->rows.len - 1] = oss_journal_cursor_of(row);
    return 0;
}

/* Marks in handled[i] the rows of pg with a final ledger row. */
static oss_code_t
sweep_handled(notifier_t *n, const sweep_page_t *pg, char *handled,
              oss_err_t *err) {
    char *arr = nt_uuid_array(pg->rows.items, pg->rows.len);
    if (!arr)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    const char *p[1] = {arr};
    PGresult *r = nt_pg_exec(n,
                             "SELECT DISTINCT event_id::text FROM "
                             "oss.notifications WHERE event_id = "
                             "ANY($1::uuid[]) AND status <> 'sending'",
                             1, p, 0, err);
    free(arr);
    if (!r)
        return err->code;
    for (int j = 0; j < PQntuples(r); j++)
        for (size_t i = 0; i < pg->rows.len; i++)
            if (!strcasecmp(pg->rows.items[i].event_id, PQgetvalue(r, j, 0)))
                handled[i] = 1;
    PQclear(r);
    return OSS_OK;
}

/* One page of the sweep; sets n->sweep_again when a full page was handled
 * (more may follow right away). Returns how many events needed handling. */
static size_t
sweep_page(notifier_t *n) {
    oss_err_t err = {0};
    sweep_page_t pg = {
        .young_us = oss_now_us() -
                    oss_config_int(n->cfg, "notifier.sweep_lag_s") * 1000000};
    oss_journal_filter_t f = {.after = &n->sweep_cur,
                              .below_horizon = 1,
                              .types = sweep_types,
                              .ntypes = 2,
                              .order = OSS_JOURNAL_ORDER_COMMIT,
                              .limit = SWEEP_PAGE};
    int64_t seen = 0;
    n->sweep_again = 0;
    oss_event_t *todo = NULL;
    size_t *row_of = NULL, k = 0, done = 0;
    char *handled = NULL;
    if (nt_pg_ensure(n, &err) ||
        oss_journal_scan(n->pg, &f, sweep_row, &pg, &seen, &err) ||
        !(handled = calloc(pg.rows.len + 1, 1)) ||
        (pg.rows.len && sweep_handled(n, &pg, handled, &err))) {
        oss_warn("journal sweep failed (will retry): %s",
                 err.code ? err.msg : "out of memory");
        goto out;
    }
    size_t rows = pg.rows.len;
    /* the events still without a final ledger row, borrowed from pg */
    todo = calloc(rows + 1, sizeof *todo);
    row_of = calloc(rows + 1, sizeof *row_of);
    if (!todo || !row_of)
        goto out;
    for (size_t i = 0; i < rows; i++)
        if (!handled[i]) {
            todo[k] = pg.rows.items[i];
            row_of[k++] = i;
        }
    oss_code_t rc = nt_process(n, todo, k, "journal-sweep", &done);
    /* the cursor moves past every row up to the first unfinished event */
    size_t upto = rc == OSS_OK || done >= k ? rows : row_of[done];
    if (upto > 0)
        n->sweep_cur = pg.cur[upto - 1];
    if (k)
        oss_info("journal sweep: %zu event(s) Kafka had not delivered were "
                 "handled (sent, skipped or failed: see the ledger)",
                 done);
    n->sweep_again = rc == OSS_OK && !pg.young && seen == SWEEP_PAGE;
out:
    free(todo);
    free(row_of);
    free(handled);
    free(pg.cur);
    oss_event_list_free(&pg.rows);
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
