/* What an event asks the notifier for: a registration mail, an
 * activation message or a targeted notice (job_t), and on which account's
 * delivery stream its outcomes go. */
#include "notifier_int.h"

#include <stdio.h>
#include <string.h>

#include "core/uuid.h"

void
nt_job_clear(job_t *j) {
    if (j->reg)
        oss__v1__account_registered__free_unpacked(j->reg, NULL);
    if (j->act)
        oss__v1__activation_issued__free_unpacked(j->act, NULL);
    memset(j, 0, sizeof *j);
}

/* Fills j from ev (and nr, a notice of ev, may be NULL); 0, or -1 when the
 * event is malformed (nothing to retry: a well-formed event cannot become
 * one). */
int
nt_job_init(job_t *j, const oss_event_t *ev, const notice_row_t *nr) {
    memset(j, 0, sizeof *j);
    j->ev = ev;
    j->lid = ev->event_id;
    if (!oss_uuid_valid(ev->event_id))
        return -1;
    /* the account's streams: "account-<id>" (registration) and
     * "access-<id>" (activation, sign-in: schemas/oss/v1/lifecycle.proto) */
    if (strncmp(ev->stream_id, "account-", 8) == 0)
        snprintf(j->account_id, sizeof j->account_id, "%s", ev->stream_id + 8);
    else if (strncmp(ev->stream_id, "access-", 7) == 0)
        snprintf(j->account_id, sizeof j->account_id, "%s", ev->stream_id + 7);
    snprintf(j->out_account, sizeof j->out_account, "%s", j->account_id);
    if (nr) {
        j->notice = nr;
        j->what = nr->kind;
        j->lid = nr->delivery_id;
        if (!oss_uuid_valid(nr->delivery_id) ||
            !oss_uuid_valid(nr->subject_id) ||
            (strcmp(nr->channel, OSS_NOTIFIER_CHANNEL_EMAIL) != 0 &&
             strcmp(nr->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) != 0))
            return -1;
        snprintf(j->channel, sizeof j->channel, "%s", nr->channel);
        if (nr->account_id[0])
            snprintf(j->out_account, sizeof j->out_account, "%s",
                     nr->account_id);
        return 0;
    }
    if (strcmp(ev->payload_type, NT_ACTIVATION_ISSUED) == 0) {
        j->what = "activation";
        j->act = oss__v1__activation_issued__unpack(NULL, ev->payload_len,
                                                    ev->payload);
        if (!j->act || !oss_uuid_valid(j->act->delivery_id) ||
            !j->account_id[0] ||
            (strcmp(j->act->channel, OSS_NOTIFIER_CHANNEL_EMAIL) != 0 &&
             strcmp(j->act->channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) != 0))
            return -1;
        snprintf(j->channel, sizeof j->channel, "%s", j->act->channel);
        return 0;
    }
    j->what = "registration";
    snprintf(j->channel, sizeof j->channel, "%s", OSS_NOTIFIER_CHANNEL_EMAIL);
    j->reg =
        oss__v1__account_registered__unpack(NULL, ev->payload_len, ev->payload);
    if (!j->reg || !oss_uuid_valid(j->reg->subject_id))
        return -1;
    if (j->reg->account_id && *j->reg->account_id)
        snprintf(j->account_id, sizeof j->account_id, "%s", j->reg->account_id);
    snprintf(j->out_account, sizeof j->out_account, "%s", j->account_id);
    return 0;
}

/* A message about a principal's access stream ("access-<principal_id>":
 * an activation, or a notice naming no account) is recorded on the
 * delivery stream of the account the principal holds a grant on (a first
 * owner's principal id is its account id); a principal without one (a
 * government officer) on its own. OSS_EUNAVAIL when PostgreSQL failed. */
oss_code_t
nt_job_resolve(notifier_t *n, job_t *j, oss_err_t *err) {
    if (strncmp(j->ev->stream_id, "access-", 7) != 0 || !j->account_id[0] ||
        (j->notice && j->notice->account_id[0]))
        return OSS_OK;
    const char *p[1] = {j->account_id};
    PGresult *r =
        nt_pg_exec(n,
                   "SELECT coalesce((SELECT account_id FROM oss.grants "
                   "WHERE principal_id = $1 AND account_id IS NOT NULL "
                   "ORDER BY (revoked_at IS NULL) DESC, grant_id "
                   "LIMIT 1), $1)",
                   1, p, 0, err);
    if (!r)
        return OSS_EUNAVAIL;
    if (PQntuples(r) == 1)
        snprintf(j->out_account, sizeof j->out_account, "%s",
                 PQgetvalue(r, 0, 0));
    PQclear(r);
    return OSS_OK;
}
