/* Every read of oss.journal the notifier makes, in one file. The "journal"
 * engineer is building a scan interface in src/journal that will replace
 * these queries after the merge (the notifier then reads the journal
 * through it); until then they are plain SQL on the notifier's session.
 * Column layouts are in notifier_int.h (NT_NOTICE_*, NT_SWEEP_*). */
#include "notifier_int.h"

#include <stdio.h>

PGresult *
nt_jr_contact_event(notifier_t *n, const char *stream, oss_err_t *err) {
    const char *p[1] = {stream};
    return nt_pg_exec(n,
                      "SELECT payload_type, payload FROM oss.journal "
                      "WHERE stream_id = $1 AND payload_type IN "
                      "('" NT_ACCOUNT_REGISTERED
                      "', 'oss.v1.PrincipalCreated') "
                      "ORDER BY version LIMIT 1",
                      1, p, 1, err);
}

PGresult *
nt_jr_contact_replaced(notifier_t *n, const char *stream,
                       const char *principal_id, oss_err_t *err) {
    const char *p[2] = {stream, principal_id};
    return nt_pg_exec(
        n,
        "SELECT x.payload FROM unnest(ARRAY[$1, 'access-' || $2, "
        "'account-' || $2] || ARRAY(SELECT 'account-' || account_id FROM "
        "oss.grants WHERE principal_id = $2 AND account_id IS NOT NULL)) "
        "s(id), LATERAL (SELECT j.payload, j.position FROM oss.journal j "
        "WHERE j.stream_id = s.id AND j.payload_type = "
        "'oss.v1.ContactReplaced' ORDER BY j.version DESC LIMIT 32) x "
        "ORDER BY x.position DESC LIMIT 32",
        2, p, 1, err);
}

/* oss.deliveries rows of any kind but "activation" (those go with their
 * ActivationIssued) not yet handled, with their event's journal fields. */
#define NOTICE_COLS                                                            \
    "SELECT d.delivery_id::text, d.event_id::text, d.stream_id, "              \
    "d.subject_id::text, d.channel, d.kind, coalesce(d.account_id, ''), "      \
    "encode(d.sealed_secret, 'hex'), d.expires_at < now(), "                   \
    "coalesce(j.correlation_id, ''), coalesce(j.payload_type, ''), "           \
    "coalesce((extract(epoch FROM j.occurred_at) * 1000000)::int8, 0) "        \
    "FROM oss.deliveries d LEFT JOIN oss.journal j ON j.event_id = "           \
    "d.event_id WHERE d.kind <> 'activation' AND d.delivered_at IS NULL "      \
    "AND NOT EXISTS (SELECT 1 FROM oss.notifications x WHERE x.event_id = "    \
    "d.delivery_id AND x.channel = d.channel AND x.status <> 'sending') "

PGresult *
nt_jr_notices(notifier_t *n, const char *event_ids, oss_err_t *err) {
    if (!event_ids)
        return nt_pg_exec(n,
                          NOTICE_COLS "ORDER BY d.created_at, d.delivery_id "
                                      "LIMIT 100",
                          0, NULL, 0, err);
    const char *prm[1] = {event_ids};
    return nt_pg_exec(n,
                      NOTICE_COLS "AND d.event_id = ANY($1::uuid[]) "
                                  "ORDER BY d.created_at, d.delivery_id",
                      1, prm, 0, err);
}

PGresult *
nt_jr_sweep_page(notifier_t *n, const char *xid, const char *pos,
                 const char *lag_s, int limit, oss_err_t *err) {
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[4] = {xid, pos, lag_s, lim};
    return nt_pg_exec(
        n,
        "SELECT j.xid::text, j.position, j.event_id::text, j.stream_id, "
        "j.correlation_id, j.payload, "
        "j.recorded_at > now() - make_interval(secs => $3::int), "
        "EXISTS (SELECT 1 FROM oss.notifications x WHERE "
        "x.event_id = j.event_id AND x.status <> 'sending'), j.payload_type, "
        "(extract(epoch FROM j.occurred_at) * 1000000)::int8 "
        "FROM oss.journal j "
        "WHERE j.payload_type IN ('oss.v1.AccountRegistered', "
        "'oss.v1.ActivationIssued') "
        "AND (j.xid, j.position) > ($1::xid8, $2::int8) "
        "AND j.xid < (SELECT pg_snapshot_xmin(pg_current_snapshot())) "
        "ORDER BY j.xid, j.position LIMIT $4::int",
        4, p, 1, err);
}
