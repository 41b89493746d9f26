/* Targeted notices: oss.deliveries rows of any kind but "activation" (those go
 * with their ActivationIssued): each is sent once per (row, channel) through
 * the ledger, keyed by the row's delivery id. Found for the events of each
 * Kafka batch, and by a poll of the table every notifier.notice_poll_ms
 * (Kafka is not the history, and an event's topic may not be the one
 * consumed here): a row is visible only once its event committed. */
#include "notifier_int.h"

#include <stdlib.h>
#include <string.h>

#include "log/log.h"

void
nt_notices_clear(notices_t *nt) {
    PQclear(nt->r);
    nt->r = NULL;
}

static notice_row_t
notice_row(PGresult *r, int i) {
    return (notice_row_t){.delivery_id = PQgetvalue(r, i, 0),
                          .subject_id = PQgetvalue(r, i, 3),
                          .channel = PQgetvalue(r, i, 4),
                          .kind = PQgetvalue(r, i, 5),
                          .account_id = PQgetvalue(r, i, 6),
                          .sealed_hex = PQgetvalue(r, i, 7),
                          .expired = *PQgetvalue(r, i, 8) == 't'};
}

/* The pending notices of evs[0..k) into nt (none when the look-up
 * failed: the poll finds them). */
void
nt_notices_find(notifier_t *n, const oss_event_t *evs, size_t k,
                notices_t *nt) {
    oss_err_t err = {0};
    nt->r = NULL;
    char *arr = malloc(k * 38 + 3), *p = arr;
    if (!arr || k == 0) {
        free(arr);
        return;
    }
    *p++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (!nt_uuid_ok(evs[i].event_id))
            continue;
        if (p[-1] != '{')
            *p++ = ',';
        memcpy(p, evs[i].event_id, 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    PGresult *r = nt_jr_notices(n, arr, &err);
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

/* Delivers the notices in nt of ev; OSS_OK, or non-zero when stopping (or
 * the lock was lost). */
oss_code_t
nt_notices_deliver(notifier_t *n, const notices_t *nt, const oss_event_t *ev,
                   const char *via) {
    for (int i = 0; nt->r && i < PQntuples(nt->r); i++) {
        if (strcasecmp(PQgetvalue(nt->r, i, 1), ev->event_id) != 0)
            continue;
        notice_row_t nr = notice_row(nt->r, i);
        oss_code_t rc = nt_deliver(n, ev, &nr, via, 0);
        if (rc != OSS_OK)
            return rc;
    }
    return OSS_OK;
}

/* One page of the notices still to send, oldest first. */
void
nt_notices_poll(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r = nt_jr_notices(n, NULL, &err);
    if (!r) {
        oss_warn("could not look for targeted notices (will retry): %s",
                 err.msg);
        return;
    }
    for (int i = 0; i < PQntuples(r) && !*n->stop && n->locked; i++) {
        oss_event_t ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.event_id, sizeof ev.event_id, "%s", PQgetvalue(r, i, 1));
        snprintf(ev.stream_id, sizeof ev.stream_id, "%s", PQgetvalue(r, i, 2));
        snprintf(ev.correlation_id, sizeof ev.correlation_id, "%s",
                 PQgetvalue(r, i, 9));
        snprintf(ev.payload_type, sizeof ev.payload_type, "%s",
                 PQgetvalue(r, i, 10));
        ev.occurred_at_us = strtoll(PQgetvalue(r, i, 11), NULL, 10);
        notice_row_t nr = notice_row(r, i);
        oss_log_set_cid(ev.correlation_id);
        oss_code_t rc = nt_deliver(n, &ev, &nr, "notice-poll", 0);
        oss_log_set_cid(NULL);
        if (rc != OSS_OK)
            break;
    }
    PQclear(r);
}
