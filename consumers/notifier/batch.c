/* Batches: Most account events need no mail (already sent, or their subject has
 * no data key): deciding that one event at a time costs four round trips each,
 * so a batch is triaged with three queries and only the events that may need
 * a mail go through deliver(). */
#include "notifier_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/uuid.h"
#include "log/log.h"

/* "{a,b,...}" of the event ids (or subject ids) selected by pick; new,
 * caller frees. UUIDs need no quoting. */
static char *
uuid_array(Oss__V1__AccountRegistered **as, const oss_event_t *evs, size_t k,
           const uint8_t *pick, int subjects) {
    char *out = malloc(k * 38 + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (!pick[i])
            continue;
        const char *u = subjects ? as[i]->subject_id : evs[i].event_id;
        if (p[-1] != '{')
            *p++ = ',';
        memcpy(p, u, 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Sets need[i] = 1 for each event of evs[0..k) (account events) that
 * nt_deliver() must handle; records 'skipped' for the new ones whose subject
 * has no data key. OSS_EUNAVAIL when PostgreSQL failed (nothing decided). */
static oss_code_t
triage(notifier_t *n, const oss_event_t *evs, size_t k, uint8_t *need) {
    oss_err_t err = {0};
    oss_code_t rc = OSS_OK;
    Oss__V1__AccountRegistered **as = calloc(k ? k : 1, sizeof *as);
    uint8_t *ok = calloc(k ? k : 1, 1), *nokey = calloc(k ? k : 1, 1);
    char *arr = NULL;
    PGresult *r = NULL;
    size_t nok = 0, nskip = 0;
    if (!as || !ok || !nokey) {
        rc = OSS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        if (strcmp(evs[i].payload_type, NT_ACCOUNT_REGISTERED) != 0 &&
            strcmp(evs[i].payload_type, NT_ACTIVATION_ISSUED) != 0) {
            need[i] = 0; /* only its targeted notices, if any */
            continue;
        }
        need[i] =
            1; /* malformed ones: nt_deliver() says why and ignores them */
        if (strcmp(evs[i].payload_type, NT_ACCOUNT_REGISTERED) != 0) {
            /* activations: only the ledger look-up below */
            if (oss_uuid_valid(evs[i].event_id)) {
                ok[i] = 3;
                nok++;
            }
            continue;
        }
        as[i] = oss__v1__account_registered__unpack(NULL, evs[i].payload_len,
                                                    evs[i].payload);
        if (as[i] && oss_uuid_valid(evs[i].event_id) &&
            oss_uuid_valid(as[i]->subject_id)) {
            ok[i] = 1;
            nok++;
        }
    }
    if (nok == 0)
        goto done;
    /* 1. the ledger: anything but 'sending' is done with */
    if (!(arr = uuid_array(as, evs, k, ok, 0))) {
        rc = OSS_ENOMEM;
        goto done;
    }
    const char *p1[1] = {arr};
    if (!(r = nt_pg_exec(n,
                         "SELECT event_id::text, status FROM oss.notifications "
                         "WHERE event_id = ANY($1::uuid[])",
                         1, p1, 0, &err))) {
        rc = OSS_EUNAVAIL;
        goto done;
    }
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < k; i++)
            if (ok[i] &&
                strcasecmp(evs[i].event_id, PQgetvalue(r, row, 0)) == 0) {
                if (strcmp(PQgetvalue(r, row, 1), "sending") != 0)
                    need[i] = 0;
                ok[i] = 2; /* has a row: nt_deliver() decides */
            }
    PQclear(r);
    r = NULL;
    free(arr);
    /* 2. new events whose subject has no data key get no mail */
    for (size_t i = 0; i < k; i++)
        nokey[i] = ok[i] == 1;
    if (!(arr = uuid_array(as, evs, k, nokey, 1))) {
        rc = OSS_ENOMEM;
        goto done;
    }
    const char *p2[1] = {arr};
    if (!(r = nt_pg_exec(n,
                         "SELECT subject_id::text FROM oss.subject_keys "
                         "WHERE subject_id = ANY($1::uuid[])",
                         1, p2, 0, &err))) {
        rc = OSS_EUNAVAIL;
        goto done;
    }
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < k; i++)
            if (nokey[i] &&
                strcasecmp(as[i]->subject_id, PQgetvalue(r, row, 0)) == 0)
                nokey[i] = 0;
    PQclear(r);
    r = NULL;
    free(arr);
    arr = NULL;
    size_t again = 0;
    for (size_t i = 0; i < k; i++) {
        if (nokey[i]) {
            need[i] = 0;
            nskip++;
        } else if (ok[i] == 2 && !need[i]) {
            again++;
        }
    }
    if (again)
        oss_info("re-read %zu event(s) already handled: not sent again", again);
    if (nskip) {
        if (!(arr = uuid_array(as, evs, k, nokey, 0))) {
            rc = OSS_ENOMEM;
            goto done;
        }
        const char *p3[1] = {arr};
        if (nt_pg_cmd(
                n,
                "INSERT INTO oss.notifications (event_id, channel, status, "
                "last_error) SELECT u, 'email', 'skipped', "
                "'subject data key shredded' FROM unnest($1::uuid[]) u "
                "ON CONFLICT (event_id, channel) DO NOTHING",
                1, p3, &err)) {
            rc = OSS_EUNAVAIL;
            goto done;
        }
        n->skipped += (int64_t)nskip;
    }
done:
    if (rc == OSS_EUNAVAIL)
        oss_warn("could not triage %zu event(s) (will retry): %s", k, err.msg);
    PQclear(r);
    free(arr);
    for (size_t i = 0; as && i < k; i++)
        if (as[i])
            oss__v1__account_registered__free_unpacked(as[i], NULL);
    free(as);
    free(ok);
    free(nokey);
    return rc;
}

/* Handles evs[0..k) (AccountRegistered, ActivationIssued, and the targeted
 * notices of any event): triage, then the senders deliver each message that
 * needs it (pool.c: in parallel, a stream's messages in order). *done = how
 * many leading events are finished. Returns OSS_OK when all are, else
 * non-zero (stopping or lock lost). */
oss_code_t
nt_process(notifier_t *n, const oss_event_t *evs, size_t k, const char *via,
           size_t *done) {
    *done = 0;
    if (k == 0)
        return OSS_OK;
    uint8_t *need = calloc(k, 1), *failed = calloc(k, 1),
            *queued_not = calloc(k, 1);
    oss_err_t err = {0};
    notices_t nt = {0};
    if (!need || !failed || !queued_not) {
        free(need);
        free(failed);
        free(queued_not);
        return OSS_ENOMEM;
    }
    oss_code_t rc;
    int64_t backoff = 1000,
            max_ms = oss_config_int(n->cfg, "notifier.retry_max_s") * 1000;
    while ((rc = triage(n, evs, k, need)) != OSS_OK) {
        if (*n->stop || !n->locked)
            goto out;
        nt_nap(n, backoff);
        backoff = backoff * 2 > max_ms ? max_ms : backoff * 2;
    }
    /* DeliveryQueued of every message about to be delivered, in one
     * transaction (an already queued one replays its idempotency key) */
    int queued = 0;
    {
        job_t *jobs = calloc(k, sizeof *jobs);
        oss_outcome_t *qs = calloc(k, sizeof *qs);
        size_t nq = 0;
        if (jobs && qs) {
            for (size_t i = 0; i < k; i++) {
                if (!need[i] || nt_job_init(&jobs[i], &evs[i], NULL) ||
                    nt_job_resolve(n, &jobs[i], &err) ||
                    !jobs[i].out_account[0]) {
                    queued_not[i] = 1;
                    continue;
                }
                qs[nq++] = (oss_outcome_t){
                    .kind = OSS_OUTCOME_QUEUED,
                    .account_id = jobs[i].out_account,
                    .cause_event_id = evs[i].event_id,
                    .correlation_id = evs[i].correlation_id,
                    .channel = jobs[i].channel,
                    .what = jobs[i].what,
                    .trigger_type = jobs[i].act ? NT_ACTIVATION_ISSUED
                                                : NT_ACCOUNT_REGISTERED};
            }
            queued = nt_outcomes(n, qs, nq) == 0;
        }
        for (size_t i = 0; jobs && i < k; i++)
            nt_job_clear(&jobs[i]);
        free(jobs);
        free(qs);
        if (!queued && *n->stop) {
            rc = OSS_EUNAVAIL;
            goto out;
        }
    }
    /* the targeted notices of these events (a failed look-up leaves them
     * to the poll) */
    nt_notices_find(n, evs, k, &nt);
    /* every message of the batch to the senders, as one group; the batch
     * is done when all of them are (the polls go on meanwhile, so a code a
     * person waits for is not held behind this batch) */
    nt_group_t g = {0, failed};
    int lost = 0;
    for (size_t i = 0; i < k && !lost; i++) {
        if (need[i] && nt_pool_submit(n, &evs[i], NULL, via,
                                      queued && !queued_not[i], &g, i))
            lost = 1;
        if (!lost && nt_notices_submit(n, &nt, &evs[i], via, &g, i))
            lost = 1;
        if (lost)
            g.failed[i] = 1;
    }
    while (!nt_group_wait(n, &g, 200))
        nt_notices_tick(n);
    for (size_t i = 0; i < k && !g.failed[i]; i++)
        *done = i + 1;
    rc = *done == k ? OSS_OK : OSS_EUNAVAIL;
out:
    nt_notices_clear(&nt);
    free(need);
    free(failed);
    free(queued_not);
    return rc;
}
