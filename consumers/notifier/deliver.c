/* One message of one event, every attempt until it is sent, skipped or
 * failed for good: ledger row first, DeliveryQueued, build, count the
 * attempt, hand over on its channel, record the outcome (see notifier.h for
 * the guarantees). */
#include "notifier_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "log/log.h"

/* Handles one event (AccountRegistered or ActivationIssued) until its
 * message is sent, skipped or failed for good; returns OSS_OK then, or
 * non-zero when asked to stop first (or the lock was lost). Each attempt's
 * outcome is an event on the account's delivery stream. */
oss_code_t
nt_deliver(notifier_t *n, const oss_event_t *ev, const notice_row_t *nr,
           const char *via, int queued) {
    oss_err_t err = {0};
    int64_t backoff_ms = 1000,
            max_ms = oss_config_int(n->cfg, "notifier.retry_max_s") * 1000;
    job_t j;
    if (nt_job_init(&j, ev, nr)) {
        oss_warn("ignored a malformed %s (payload, event id, channel, stream "
                 "or subject id): event=%s stream=%s",
                 ev->payload_type[0] ? ev->payload_type : "event", ev->event_id,
                 ev->stream_id);
        /* it can never become deliverable: a ledger row keeps the journal
         * sweep and Kafka re-reads from handling it again */
        if (oss_uuid_valid(j.lid)) {
            if (nt_ledger_skip_malformed(
                    n, j.lid,
                    j.channel[0] ? j.channel : OSS_NOTIFIER_CHANNEL_EMAIL,
                    ev->stream_id, &err))
                oss_warn("could not record a skipped event: %s", err.msg);
        }
        nt_job_clear(&j);
        return OSS_OK;
    }
    /* the delivery stream of a principal's message: its account's */
    while (nt_job_resolve(n, &j, &err) != OSS_OK) {
        if (*n->stop || !nt_active(n)) {
            nt_job_clear(&j);
            return OSS_EUNAVAIL;
        }
        oss_warn("could not resolve a delivery stream (will retry): "
                 "event=%s: %s",
                 ev->event_id, err.msg);
        nt_nap(n, 1000);
    }
    const char *ch = j.channel, *lid = j.lid;
    oss_outcome_t o = {.account_id = j.out_account,
                       .cause_event_id = ev->event_id,
                       .key_id = nr ? nr->delivery_id : NULL,
                       .correlation_id = ev->correlation_id,
                       .channel = ch,
                       .what = j.what,
                       .trigger_type = nr      ? ev->payload_type
                                       : j.act ? NT_ACTIVATION_ISSUED
                                               : NT_ACCOUNT_REGISTERED};
    int has_stream = j.out_account[0] != '\0';
    oss_code_t result = OSS_OK;
    for (int attempt = 0;; attempt++) {
        if (attempt) {
            oss_warn("delivery failed, retrying in %" PRId64 " ms: event=%s "
                     "channel=%s: %s",
                     backoff_ms, ev->event_id, ch, err.msg);
            nt_nap(n, backoff_ms);
            backoff_ms = backoff_ms * 2 > max_ms ? max_ms : backoff_ms * 2;
        }
        if (*n->stop) {
            result = OSS_EUNAVAIL;
            break;
        }
        oss_err_clear(&err);
        ledger_t what = LEDGER_DONE;
        int attempts = 0;
        if (nt_ledger_begin(n, lid, ch, ev->stream_id, &what, &attempts, &err))
            continue;
        if (what == LEDGER_DONE) {
            oss_info("already handled, not sent again: event=%s channel=%s",
                     ev->event_id, ch);
            break;
        }
        if (!nt_active(n)) { /* the session was re-established: lock lost */
            result = OSS_EUNAVAIL;
            break;
        }
        if (attempts > 0 && attempt == 0)
            oss_info("resending after an interrupted or failed attempt "
                     "(same Message-ID): event=%s attempts=%d",
                     ev->event_id, attempts);
        if (attempts == 0 && attempt == 0 && has_stream && !queued) {
            o.kind = OSS_OUTCOME_QUEUED;
            o.attempt = 0;
            if (nt_outcome(n, &o)) {
                result = OSS_EUNAVAIL;
                break;
            }
        }
        built_t b;
        memset(&b, 0, sizeof b);
        oss_code_t rc = nt_build(n, &j, &b, &err);
        if (rc == OSS_EUNAVAIL) {
            nt_built_clear(&b);
            continue;
        }
        if (rc == OSS_ENOTFOUND || rc) {
            int skip = rc == OSS_ENOTFOUND;
            char reason[sizeof err.msg];
            snprintf(reason, sizeof reason, "%s", err.msg);
            if (nt_ledger_set(n, lid, ch, skip ? "skipped" : "failed", reason,
                              &err)) {
                nt_built_clear(&b);
                continue;
            }
            if (skip && j.reg) {
                n->skipped++;
                oss_debug("no mail: subject shredded: event=%s stream=%s",
                          ev->event_id, ev->stream_id);
            } else {
                if (skip)
                    n->skipped++;
                if (skip)
                    oss_info("%s not sent: event=%s channel=%s: %s", j.what,
                             ev->event_id, ch, reason);
                else
                    oss_error("%s not sent: event=%s channel=%s: %s", j.what,
                              ev->event_id, ch, reason);
                if (has_stream) {
                    o.kind = OSS_OUTCOME_FAILED;
                    o.attempt = attempts;
                    o.reply_code = 0;
                    o.reason = reason;
                    nt_outcome(n, &o);
                }
                nt_delivery_row_delete(n, b.delivery_id);
            }
            nt_built_clear(&b);
            break;
        }
        /* count the attempt BEFORE handing the message over */
        if (nt_ledger_update(n, lid, ch, NULL, NULL, 1, &err)) {
            nt_built_clear(&b);
            continue;
        }
        int this_attempt = attempts + 1;
        if (!nt_active(n)) {
            nt_built_clear(&b);
            result = OSS_EUNAVAIL;
            break;
        }
        long code = 0;
        char reply[OSS_REPLY_TEXT_MAX];
        if (strcmp(ch, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0)
            rc = nt_send_whatsapp(n, &b, &code, reply, sizeof reply, &err);
        else
            rc = nt_send_email(n, &b, &code, reply, sizeof reply, &err);
        char delivery_id[OSS_UUID_STR];
        snprintf(delivery_id, sizeof delivery_id, "%s", b.delivery_id);
        nt_built_clear(&b);
        o.attempt = this_attempt;
        o.reply_code = code;
        o.reply_text = reply;
        if (rc) {
            char reason[sizeof err.msg + OSS_REPLY_TEXT_MAX + 16];
            snprintf(reason, sizeof reason, "%s%s%s", err.msg,
                     reply[0] ? "; server said: " : "", reply);
            o.reason = reason;
            if (rc == OSS_EINVAL) {
                oss_error("%s refused permanently: event=%s channel=%s: %s",
                          j.what, ev->event_id, ch, reason);
                if (has_stream) {
                    o.kind = OSS_OUTCOME_FAILED;
                    nt_outcome(n, &o);
                }
                oss_err_t e2 = {0};
                nt_ledger_set(n, lid, ch, "failed", err.msg, &e2);
                nt_delivery_row_delete(n, delivery_id);
                break;
            }
            int orc = 1;
            if (has_stream) {
                /* the ledger's last_error changes with the events */
                o.kind = OSS_OUTCOME_RETRYING;
                o.next_attempt_at_us = oss_now_us() + backoff_ms * 1000;
                o.ledger_update = 1;
                o.ledger_status = NULL;
                o.ledger_error = err.msg;
                orc = nt_outcome(n, &o);
                o.ledger_update = 0;
                if (orc < 0) {
                    result = OSS_EUNAVAIL;
                    break;
                }
            }
            if (orc) {
                oss_err_t e2 = {0};
                nt_ledger_set(n, lid, ch, NULL, err.msg, &e2);
            }
            continue;
        }
        /* handed over: DeliveryHanded, the ledger's 'sent' and the sealed
         * row's deletion in one transaction (a crash before it re-sends,
         * same Message-ID, and records attempt k+1) */
        int orc = 1;
        if (has_stream) {
            o.kind = OSS_OUTCOME_HANDED;
            o.reason = NULL;
            o.ledger_update = 1;
            o.ledger_status = "sent";
            o.ledger_error = NULL;
            o.delivered_id = delivery_id;
            orc = nt_outcome(n, &o);
            o.ledger_update = 0;
            o.delivered_id = NULL;
        }
        if (orc) {
            oss_err_t e2 = {0};
            for (int k = 0;
                 nt_ledger_set(n, lid, ch, "sent", NULL, &e2) && !*n->stop; k++)
                nt_nap(n, k < 5 ? 1000 : 5000);
            nt_delivery_mark(n, delivery_id);
        }
        n->sent++;
        if (j.notice)
            oss_info("%s notice handed over: event=%s delivery=%s stream=%s "
                     "channel=%s reply=%ld via=%s",
                     j.what, ev->event_id, lid, ev->stream_id, ch, code, via);
        else if (j.act)
            oss_info("activation message handed over: event=%s stream=%s "
                     "channel=%s reply=%ld message_id=<%s@oss.local> via=%s",
                     ev->event_id, ev->stream_id, ch, code, ev->event_id, via);
        else
            oss_info("registration mail sent: event=%s stream=%s "
                     "message_id=<%s@oss.local> via=%s",
                     ev->event_id, ev->stream_id, ev->event_id, via);
        break;
    }
    nt_job_clear(&j);
    return result;
}
