/* Targeted notices: oss.deliveries rows of any kind but "activation" (those go
 * with their ActivationIssued): each is sent once per (row, channel) through
 * the ledger, keyed by the row's delivery id. Found for the events of each
 * Kafka batch, and by a poll of the table every notifier.notice_poll_ms
 * (Kafka is not the history, and an event's topic may not be the one
 * consumed here): a row is visible only once its event committed. */
#include "notifier_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "log/log.h"

void
nt_notices_clear(notices_t *nt) {
    PQclear(nt->r);
    nt->r = NULL;
}

/* oss.deliveries rows of any kind but "activation" not yet handled; the
 * columns are NT_NOTICE_* (notifier_int.h). "Not handled" (no ledger row,
 * or only 'sending') is a correlated subquery, one index probe per row:
 * written as NOT EXISTS it was planned as a hash anti join over a
 * sequential scan of the whole ledger at every poll. */
#define NOTICE_COLS                                                            \
    "SELECT d.delivery_id::text, d.event_id::text, d.stream_id, "              \
    "d.subject_id::text, d.channel, d.kind, coalesce(d.account_id, ''), "      \
    "encode(d.sealed_secret, 'hex'), d.expires_at < now() "                    \
    "FROM oss.deliveries d WHERE d.kind <> 'activation' AND "                  \
    "d.delivered_at IS NULL AND coalesce((SELECT bool_and(x.status = "         \
    "'sending') FROM oss.notifications x WHERE x.event_id = d.delivery_id "    \
    "AND x.channel = d.channel), true) "

/* Kinds of notices a person waits for (a link or code that expires). */
#define WAITED_KINDS "('" NT_WAITED_NOTICE "')"

/* Pending notices: of the events in the uuid[] literal event_ids, or
 * (event_ids NULL) the oldest page, of the kinds a person waits for when
 * waited, else of the others. NULL with err set on failure. */
static PGresult *
notices_query(notifier_t *n, const char *event_ids, int waited,
              oss_err_t *err) {
    if (!event_ids)
        return nt_pg_exec(n,
                          waited ? NOTICE_COLS
                              "AND d.kind IN " WAITED_KINDS
                              " AND d.expires_at > now() "
                              "ORDER BY d.created_at, d.delivery_id LIMIT 200"
                                 : NOTICE_COLS
                              "AND d.kind NOT IN " WAITED_KINDS
                              " ORDER BY d.created_at, d.delivery_id LIMIT 100",
                          0, NULL, 0, err);
    const char *prm[1] = {event_ids};
    return nt_pg_exec(n,
                      NOTICE_COLS "AND d.event_id = ANY($1::uuid[]) "
                                  "ORDER BY d.created_at, d.delivery_id",
                      1, prm, 0, err);
}

char *
nt_uuid_array(const oss_event_t *evs, size_t k) {
    char *arr = malloc(k * 37 + 3), *p = arr;
    if (!arr)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (!oss_uuid_valid(evs[i].event_id))
            continue;
        if (p[-1] != '{')
            *p++ = ',';
        memcpy(p, evs[i].event_id, 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    return arr;
}

static notice_row_t
notice_row(PGresult *r, int i) {
    return (notice_row_t){
        .delivery_id = PQgetvalue(r, i, NT_NOTICE_DELIVERY_ID),
        .subject_id = PQgetvalue(r, i, NT_NOTICE_SUBJECT_ID),
        .channel = PQgetvalue(r, i, NT_NOTICE_CHANNEL),
        .kind = PQgetvalue(r, i, NT_NOTICE_KIND),
        .account_id = PQgetvalue(r, i, NT_NOTICE_ACCOUNT_ID),
        .sealed_hex = PQgetvalue(r, i, NT_NOTICE_SEALED_HEX),
        .expired = *PQgetvalue(r, i, NT_NOTICE_EXPIRED) == 't'};
}

/* The pending notices of evs[0..k) into nt (none when the look-up
 * failed: the poll finds them). */
void
nt_notices_find(notifier_t *n, const oss_event_t *evs, size_t k,
                notices_t *nt) {
    oss_err_t err = {0};
    nt->r = NULL;
    if (k == 0)
        return;
    char *arr = nt_uuid_array(evs, k);
    if (!arr)
        return;
    PGresult *r = notices_query(n, arr, 0, &err);
    free(arr);
    if (!r) {
        oss_warn("could not look for targeted notices (the poll will): %s",
                 err.msg);
        return;
    }
    if (PQntuples(r) == 0)
        PQclear(r);
    else
        nt->r = r;
}

int
nt_notices_submit(notifier_t *n, const notices_t *nt, const oss_event_t *ev,
                  const char *via, nt_group_t *g, size_t idx) {
    for (int i = 0; nt->r && i < PQntuples(nt->r); i++) {
        if (strcasecmp(PQgetvalue(nt->r, i, NT_NOTICE_EVENT_ID),
                       ev->event_id) != 0)
            continue;
        notice_row_t nr = notice_row(nt->r, i);
        if (nt_pool_submit(n, ev, &nr, via, 0, g, idx))
            return -1;
    }
    return 0;
}

/* The poll's events: the journal fields of each notice's event. */
typedef struct poll_events {
    PGresult *r;      /* the notices */
    oss_event_t *evs; /* evs[i]: row i's event (found: payload_type set) */
} poll_events_t;

static int
poll_event_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    (void)err;
    poll_events_t *pe = ctx;
    for (int i = 0; i < PQntuples(pe->r); i++) {
        if (strcasecmp(PQgetvalue(pe->r, i, NT_NOTICE_EVENT_ID),
                       row->ev.event_id) != 0)
            continue;
        oss_event_t *ev = &pe->evs[i];
        snprintf(ev->correlation_id, sizeof ev->correlation_id, "%s",
                 row->ev.correlation_id);
        snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
                 row->ev.payload_type);
        ev->occurred_at_us = row->ev.occurred_at_us;
    }
    return 0;
}

/* One page of the notices still to send (those a person waits for, or the
 * others), oldest first, queued for the senders. */
static void
notices_poll(notifier_t *n, int waited) {
    oss_err_t err = {0};
    PGresult *r = notices_query(n, NULL, waited, &err);
    if (!r) {
        oss_warn("could not look for targeted notices (will retry): %s",
                 err.msg);
        return;
    }
    int rows = PQntuples(r);
    poll_events_t pe = {r, calloc((size_t)(rows ? rows : 1), sizeof *pe.evs)};
    const char **ids = calloc((size_t)(rows ? rows : 1), sizeof *ids);
    if (!pe.evs || !ids) {
        oss_warn("could not look for targeted notices: out of memory");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        oss_event_t *ev = &pe.evs[i];
        snprintf(ev->event_id, sizeof ev->event_id, "%s",
                 PQgetvalue(r, i, NT_NOTICE_EVENT_ID));
        snprintf(ev->stream_id, sizeof ev->stream_id, "%s",
                 PQgetvalue(r, i, NT_NOTICE_STREAM_ID));
        ids[i] = ev->event_id;
    }
    /* the events' journal fields (a notice whose event is not found keeps
     * them empty, as the journal's LEFT JOIN did) */
    oss_journal_filter_t f = {.event_ids = ids, .nevent_ids = (size_t)rows};
    if (rows && nt_pg_ensure(n, &err) == OSS_OK)
        oss_journal_scan(n->pg, &f, poll_event_row, &pe, NULL, &err);
    if (err.code) {
        oss_warn("could not read the notices' events (will retry): %s",
                 err.msg);
        goto out;
    }
    for (int i = 0; i < rows && !*n->stop && nt_active(n); i++) {
        notice_row_t nr = notice_row(r, i);
        if (nt_pool_submit(n, &pe.evs[i], &nr, "notice-poll", 0, NULL, 0))
            break;
    }
out:
    free(ids);
    free(pe.evs);
    PQclear(r);
}

/* The activation codes not yet handed over (oss.deliveries rows of kind
 * "activation", unexpired, without a final ledger row: the ledger key of an
 * activation is its ActivationIssued), their events read from the journal
 * and queued ahead of bulk messages: a code behind a backlog on Kafka goes
 * out now, not when the consumer reaches it. */
static int
activation_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    (void)err;
    notifier_t *n = ctx;
    if (strcmp(row->ev.payload_type, NT_ACTIVATION_ISSUED) == 0)
        (void)nt_pool_submit(n, &row->ev, NULL, "code-poll", 0, NULL, 0);
    return 0;
}

static void
activations_poll(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r =
        nt_pg_exec(n,
                   "SELECT d.event_id::text FROM oss.deliveries d "
                   "WHERE d.kind = 'activation' AND d.delivered_at IS NULL "
                   "AND d.expires_at > now() AND coalesce((SELECT "
                   "bool_and(x.status = 'sending') FROM oss.notifications x "
                   "WHERE x.event_id = d.event_id), true) "
                   "ORDER BY d.created_at LIMIT 2000",
                   0, NULL, 0, &err);
    if (!r) {
        oss_warn("could not look for activation codes to send (will "
                 "retry): %s",
                 err.msg);
        return;
    }
    int rows = PQntuples(r);
    const char **ids = calloc((size_t)(rows ? rows : 1), sizeof *ids);
    if (ids && rows) {
        for (int i = 0; i < rows; i++)
            ids[i] = PQgetvalue(r, i, 0);
        oss_journal_filter_t f = {.event_ids = ids, .nevent_ids = (size_t)rows};
        if (oss_journal_scan(n->pg, &f, activation_row, n, NULL, &err))
            oss_warn("could not read activation events (will retry): %s",
                     err.msg);
    }
    free(ids);
    PQclear(r);
}

void
nt_notices_tick(notifier_t *n) {
    int64_t now = oss_mono_ms();
    if (now - n->last_notice_poll <
        oss_config_int(n->cfg, "notifier.notice_poll_ms"))
        return;
    n->last_notice_poll = now;
    activations_poll(n);
    notices_poll(n, 1);
    if (nt_pool_bulk(n) < 1000) /* else the senders are busy enough */
        notices_poll(n, 0);
}
