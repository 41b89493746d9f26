/* The delivery ledger (oss.notifications, infra/sql/030_notifier.sql): a
 * row 'sending' BEFORE a message is handed over and 'sent' AFTER, so a
 * redelivery or a restart sends no duplicate; and the sealed
 * oss.deliveries rows once their message is out. */
#include "notifier_int.h"

#include <stdlib.h>
#include <string.h>

#include "log/log.h"

/* Records (event, channel) as 'sending' unless a row exists; *what says
 * whether to send, *attempts how many attempts were made before. */
oss_code_t
nt_ledger_begin(notifier_t *n, const char *event_id, const char *channel,
                const char *stream_id, ledger_t *what, int *attempts,
                oss_err_t *err) {
    const char *p[3] = {event_id, channel, stream_id};
    /* one statement: the new row, or (it existed before the statement) the
     * existing one */
    PGresult *r = nt_pg_exec(
        n,
        "WITH ins AS (INSERT INTO oss.notifications (event_id, channel, "
        "status, stream_id) VALUES ($1::uuid, $2, 'sending', $3) ON CONFLICT "
        "(event_id, channel) DO NOTHING RETURNING status, attempts) "
        "SELECT status, attempts FROM ins UNION ALL SELECT status, attempts "
        "FROM oss.notifications WHERE event_id = $1::uuid AND channel = $2 "
        "AND NOT EXISTS (SELECT 1 FROM ins)",
        3, p, 0, err);
    if (r && PQntuples(r) == 0) {
        /* inserted by a transaction that committed while this statement
         * waited on it: not in the statement's snapshot, in a new one */
        PQclear(r);
        r = nt_pg_exec(n,
                       "SELECT status, attempts FROM oss.notifications "
                       "WHERE event_id = $1::uuid AND channel = $2",
                       2, p, 0, err);
    }
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return oss_err_set(err, OSS_EINTERNAL, "ledger row vanished");
    }
    *what =
        strcmp(PQgetvalue(r, 0, 0), "sending") == 0 ? LEDGER_SEND : LEDGER_DONE;
    *attempts = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    return OSS_OK;
}

/* status NULL = keep the status; count = 1 adds one attempt. */
oss_code_t
nt_ledger_update(notifier_t *n, const char *event_id, const char *channel,
                 const char *status, const char *error, int count,
                 oss_err_t *err) {
    const char *p[5] = {event_id, channel, status, error, count ? "1" : "0"};
    return nt_pg_cmd(n,
                     "UPDATE oss.notifications SET "
                     "status = coalesce($3, status), "
                     "attempts = attempts + $5::int, "
                     "last_error = $4, updated_at = now() "
                     "WHERE event_id = $1::uuid AND channel = $2",
                     5, p, err);
}

oss_code_t
nt_ledger_set(notifier_t *n, const char *event_id, const char *channel,
              const char *status, const char *error, oss_err_t *err) {
    return nt_ledger_update(n, event_id, channel, status, error, 0, err);
}

oss_code_t
nt_ledger_skip_malformed(notifier_t *n, const char *lid, const char *channel,
                         const char *stream_id, oss_err_t *err) {
    const char *p[3] = {lid, channel, stream_id};
    return nt_pg_cmd(n,
                     "INSERT INTO oss.notifications (event_id, channel, "
                     "status, stream_id, last_error) VALUES ($1::uuid, $2, "
                     "'skipped', $3, 'malformed or not an account stream') "
                     "ON CONFLICT (event_id, channel) DO NOTHING",
                     3, p, err);
}

/* The sealed row is of no further use once handed over (or given up). */
void
nt_delivery_row_delete(notifier_t *n, const char *delivery_id) {
    if (!delivery_id[0])
        return;
    oss_err_t err = {0};
    const char *p[1] = {delivery_id};
    if (nt_pg_cmd(n, "DELETE FROM oss.deliveries WHERE delivery_id = $1::uuid",
                  1, p, &err))
        oss_warn("could not delete a delivered code's row (it expires "
                 "anyway): delivery=%s: %s",
                 delivery_id, err.msg);
}

/* Marks the sealed row delivered (the sweep deletes it later). */
void
nt_delivery_mark(notifier_t *n, const char *delivery_id) {
    if (!delivery_id[0])
        return;
    oss_err_t err = {0};
    const char *p[1] = {delivery_id};
    if (nt_pg_cmd(n,
                  "UPDATE oss.deliveries SET delivered_at = now() "
                  "WHERE delivery_id = $1::uuid",
                  1, p, &err))
        oss_warn("could not mark a delivered code's row (it expires "
                 "anyway): delivery=%s: %s",
                 delivery_id, err.msg);
}

/* Deletes the sealed rows delivered DELIVERED_KEEP_S ago or expired: the
 * code is in the person's mailbox or no longer valid. */
#define DELIVERED_KEEP_S "300"

void
nt_deliveries_purge(notifier_t *n) {
    oss_err_t err = {0};
    PGresult *r = nt_pg_exec(
        n,
        "DELETE FROM oss.deliveries WHERE expires_at < now() "
        "OR delivered_at < now() - make_interval(secs => " DELIVERED_KEEP_S ")",
        0, NULL, 0, &err);
    if (!r) {
        oss_warn("could not purge delivered or expired codes (will retry): %s",
                 err.msg);
        return;
    }
    if (atoi(PQcmdTuples(r)) > 0)
        oss_info("purged %s delivered or expired sealed code(s)",
                 PQcmdTuples(r));
    PQclear(r);
}
