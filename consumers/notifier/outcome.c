/* Delivery outcome events (schemas/oss/v1/delivery.proto) appended to the
 * journal on the account's delivery stream, one idempotent command each. */
#include "notifier.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utc.h"
#include "crypto/crypto.h"
#include "journal/journal.h"
#include "oss/v1/delivery.pb-c.h"

#define OUTCOME_STREAM_TYPE "delivery"

typedef struct plan {
    const oss_outcome_t *o;
} plan_t;

/* Pushes one event (payload packed from msg) with a human reason line. */
static oss_code_t
push(oss_event_list_t *out, const char *type, const ProtobufCMessage *msg,
     const char *reason, oss_err_t *err) {
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s", type);
    ev->schema_version = 1;
    size_t n = protobuf_c_message_get_packed_size(msg);
    ev->payload = malloc(n ? n : 1);
    ev->reason = reason ? strdup(reason) : NULL;
    if (!ev->payload || (reason && !ev->reason))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    ev->payload_len = protobuf_c_message_pack(msg, ev->payload);
    return OSS_OK;
}

static const char *
chan_name(const char *channel) {
    return strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0
               ? "WhatsApp message"
               : "mail";
}

static const char *
server_name(const char *channel) {
    return strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0
               ? "the WhatsApp gateway"
               : "the mail server";
}

/* decide(): pure; the delivery stream takes any number of outcomes. */
static oss_code_t
decide_outcome(void *vctx, const oss_event_t *history, size_t n,
               oss_event_list_t *out, oss_err_t *err) {
    (void)history;
    (void)n;
    const oss_outcome_t *o = ((plan_t *)vctx)->o;
    char reason[400];
    const char *reply = o->reply_text && *o->reply_text ? o->reply_text : "";
    switch (o->kind) {
    case OSS_OUTCOME_QUEUED: {
        Oss__V1__DeliveryQueued m = OSS__V1__DELIVERY_QUEUED__INIT;
        m.channel = (char *)o->channel;
        m.kind = (char *)(o->what ? o->what : "");
        m.trigger_type = (char *)(o->trigger_type ? o->trigger_type : "");
        snprintf(reason, sizeof reason, "%s %s queued", o->what ? o->what : "",
                 chan_name(o->channel));
        return push(out, "oss.v1.DeliveryQueued", &m.base, reason, err);
    }
    case OSS_OUTCOME_HANDED: {
        Oss__V1__DeliveryHanded m = OSS__V1__DELIVERY_HANDED__INIT;
        char mid[OSS_UUID_STR + 16];
        snprintf(mid, sizeof mid, "<%s@oss.local>",
                 o->key_id && *o->key_id ? o->key_id : o->cause_event_id);
        m.channel = (char *)o->channel;
        m.reply_code = (int32_t)o->reply_code;
        m.reply_text = (char *)reply;
        m.attempt = o->attempt;
        m.message_id = mid;
        /* the reply line mostly starts with its code: not said twice */
        char code[24];
        snprintf(code, sizeof code, "%ld", o->reply_code);
        int dup = strncmp(reply, code, strlen(code)) == 0;
        snprintf(reason, sizeof reason,
                 "%s %s handed to %s (attempt %d): %s%s%s",
                 o->what ? o->what : "", chan_name(o->channel),
                 server_name(o->channel), o->attempt, dup ? "" : code,
                 *reply && !dup ? " " : "", reply);
        return push(out, "oss.v1.DeliveryHanded", &m.base, reason, err);
    }
    case OSS_OUTCOME_FAILED:
    case OSS_OUTCOME_RETRYING: {
        int permanent = o->kind == OSS_OUTCOME_FAILED;
        Oss__V1__DeliveryFailed f = OSS__V1__DELIVERY_FAILED__INIT;
        f.channel = (char *)o->channel;
        f.reason = (char *)(o->reason ? o->reason : "");
        f.attempt = o->attempt;
        f.reply_code = (int32_t)o->reply_code;
        f.permanent = permanent;
        snprintf(reason, sizeof reason, "%s %s %s (attempt %d): %s",
                 o->what ? o->what : "", chan_name(o->channel),
                 permanent ? "failed for good" : "failed", o->attempt,
                 o->reason ? o->reason : "");
        oss_code_t rc =
            push(out, "oss.v1.DeliveryFailed", &f.base, reason, err);
        if (rc || permanent)
            return rc;
        Oss__V1__DeliveryRetrying r = OSS__V1__DELIVERY_RETRYING__INIT;
        r.channel = (char *)o->channel;
        r.attempt = o->attempt + 1;
        r.next_attempt_at_us = o->next_attempt_at_us;
        char when[OSS_UTC_STR];
        oss_utc_format(o->next_attempt_at_us, 0, when, sizeof when);
        snprintf(reason, sizeof reason, "%s %s: attempt %d at %s",
                 o->what ? o->what : "", chan_name(o->channel), o->attempt + 1,
                 when);
        return push(out, "oss.v1.DeliveryRetrying", &r.base, reason, err);
    }
    }
    return oss_err_set(err, OSS_EINVAL, "unknown outcome kind %d",
                       (int)o->kind);
}

/* extra_fn: the ledger and the sealed row (marked delivered) change with
 * the outcome. */
static oss_code_t
outcome_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
              void *qctx, oss_err_t *err) {
    (void)cmd;
    const oss_outcome_t *o = ((plan_t *)vctx)->o;
    if (o->ledger_update) {
        const char *p[4] = {o->key_id && *o->key_id ? o->key_id
                                                    : o->cause_event_id,
                            o->channel, o->ledger_status, o->ledger_error};
        if (q(qctx,
              "UPDATE oss.notifications SET status = coalesce($3, status), "
              "last_error = $4, updated_at = now() "
              "WHERE event_id = $1::uuid AND channel = $2",
              4, p, NULL, NULL))
            return oss_err_set(err, OSS_ENOMEM,
                               "could not queue the ledger "
                               "update");
    }
    if (o->delivered_id && *o->delivered_id) {
        const char *p[1] = {o->delivered_id};
        if (q(qctx,
              "UPDATE oss.deliveries SET delivered_at = now() "
              "WHERE delivery_id = $1::uuid",
              1, p, NULL, NULL))
            return oss_err_set(err, OSS_ENOMEM, "could not queue the update");
    }
    return OSS_OK;
}

oss_code_t
oss_notifier_outcome_append_many(struct oss_journal *j, const oss_outcome_t *os,
                                 size_t n, oss_err_t *err) {
    static const char *const what_key[] = {"queued", "handed", "failed",
                                           "retrying"};
    oss_code_t rc = OSS_OK;
    if (n == 0)
        return OSS_OK;
    oss_command_t *cmds = calloc(n, sizeof *cmds);
    plan_t *plans = calloc(n, sizeof *plans);
    char(*streams)[OSS_ID_MAX] = calloc(n, OSS_ID_MAX);
    char(*keys)[256] = calloc(n, 256);
    uint8_t(*hashes)[32] = calloc(n, 32);
    uint8_t *pending = calloc(n, 1);
    if (!cmds || !plans || !streams || !keys || !hashes || !pending) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const oss_outcome_t *o = &os[i];
        if (!o->account_id || !*o->account_id || !o->cause_event_id ||
            !o->channel || (int)o->kind < 0 || o->kind > OSS_OUTCOME_RETRYING) {
            rc = oss_err_set(err, OSS_EINVAL, "incomplete delivery outcome");
            goto done;
        }
        snprintf(streams[i], OSS_ID_MAX, "delivery-%s", o->account_id);
        snprintf(keys[i], 256, "notifier:%s:%s:%d:%s",
                 o->key_id && *o->key_id ? o->key_id : o->cause_event_id,
                 o->channel, o->attempt, what_key[o->kind]);
        oss_sha256(keys[i], strlen(keys[i]), hashes[i]);
        plans[i].o = o;
        oss_command_t *c = &cmds[i];
        c->stream_id = streams[i];
        c->stream_type = OUTCOME_STREAM_TYPE;
        c->expected_version = -1;
        c->actor_kind = OSS_ACTOR_SYSTEM_JOB;
        c->actor_id = "notifier";
        c->correlation_id = o->correlation_id ? o->correlation_id : "";
        c->causation_id = o->cause_event_id;
        c->idempotency_key = keys[i];
        c->request_hash = hashes[i];
        c->decide = decide_outcome;
        c->ctx = &plans[i];
        c->response_status = 200;
        if (o->ledger_update || (o->delivered_id && *o->delivered_id))
            c->extra_fn = outcome_extra;
        pending[i] = 1;
    }
    /* the journal settles conflicts per command; a conflicted one (another
     * writer took the version) is simply planned again */
    for (int tries = 0; tries < 5; tries++) {
        oss_command_t *todo = calloc(n, sizeof *todo);
        size_t *idx = calloc(n, sizeof *idx), m = 0;
        if (!todo || !idx) {
            free(todo);
            free(idx);
            rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (pending[i]) {
                todo[m] = cmds[i];
                idx[m++] = i;
            }
        rc = m ? oss_journal_execute(j, todo, m, err) : OSS_OK;
        int again = 0;
        for (size_t k = 0; k < m; k++) {
            oss_command_t *c = &todo[k];
            if (rc == OSS_OK && !(c->outcome == OSS_JOURNAL_REJECTED &&
                                  c->err.code == OSS_ECONFLICT))
                pending[idx[k]] = 0;
            else
                again = 1;
            if (rc == OSS_OK && c->outcome == OSS_JOURNAL_REJECTED &&
                c->err.code != OSS_ECONFLICT) {
                rc = c->err.code ? c->err.code : OSS_EINTERNAL;
                oss_err_set(err, rc, "delivery outcome refused: %s",
                            c->err.msg);
            }
            oss_event_list_free(&c->events);
            free(c->replay_response);
        }
        free(todo);
        free(idx);
        if (rc != OSS_OK || !again)
            break;
    }
done:
    free(cmds);
    free(plans);
    free(streams);
    free(keys);
    free(hashes);
    free(pending);
    return rc;
}

oss_code_t
oss_notifier_outcome_append(struct oss_journal *j, const oss_outcome_t *o,
                            oss_err_t *err) {
    return oss_notifier_outcome_append_many(j, o, 1, err);
}
