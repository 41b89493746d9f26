/* Delivery outcome events (schemas/oss/v1/delivery.proto) appended to the
 * journal on the account's delivery stream, one idempotent command each. */
#include "notifier.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
     const char *reason, oss_err_t *err)
{
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
chan_name(const char *channel)
{
    return strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0
               ? "WhatsApp message"
               : "mail";
}

static const char *
server_name(const char *channel)
{
    return strcmp(channel, OSS_NOTIFIER_CHANNEL_WHATSAPP) == 0
               ? "the WhatsApp gateway"
               : "the mail server";
}

/* decide(): pure; the delivery stream takes any number of outcomes. */
static oss_code_t
decide_outcome(void *vctx, const oss_event_t *history, size_t n,
               oss_event_list_t *out, oss_err_t *err)
{
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
        snprintf(mid, sizeof mid, "<%s@oss.local>", o->cause_event_id);
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
        oss_code_t rc = push(out, "oss.v1.DeliveryFailed", &f.base, reason, err);
        if (rc || permanent)
            return rc;
        Oss__V1__DeliveryRetrying r = OSS__V1__DELIVERY_RETRYING__INIT;
        r.channel = (char *)o->channel;
        r.attempt = o->attempt + 1;
        r.next_attempt_at_us = o->next_attempt_at_us;
        char when[40];
        time_t t = (time_t)(o->next_attempt_at_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(reason, sizeof reason, "%s %s: attempt %d at %s",
                 o->what ? o->what : "", chan_name(o->channel), o->attempt + 1,
                 when);
        return push(out, "oss.v1.DeliveryRetrying", &r.base, reason, err);
    }
    }
    return oss_err_set(err, OSS_EINVAL, "unknown outcome kind %d", (int)o->kind);
}

oss_code_t
oss_notifier_outcome_append(struct oss_journal *j, const oss_outcome_t *o,
                            oss_err_t *err)
{
    static const char *const what_key[] = {"queued", "handed", "failed",
                                           "retrying"};
    char stream[OSS_ID_MAX], key[256];
    uint8_t hash[32];
    if (!o->account_id || !*o->account_id || !o->cause_event_id ||
        !o->channel || (int)o->kind < 0 || o->kind > OSS_OUTCOME_RETRYING)
        return oss_err_set(err, OSS_EINVAL, "incomplete delivery outcome");
    snprintf(stream, sizeof stream, "delivery-%s", o->account_id);
    snprintf(key, sizeof key, "notifier:%s:%s:%d:%s", o->cause_event_id,
             o->channel, o->attempt, what_key[o->kind]);
    oss_sha256(key, strlen(key), hash);
    plan_t plan = {o};
    oss_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.stream_id = stream;
    cmd.stream_type = OUTCOME_STREAM_TYPE;
    cmd.expected_version = -1;
    cmd.actor_kind = OSS_ACTOR_SYSTEM_JOB;
    cmd.actor_id = "notifier";
    cmd.correlation_id = o->correlation_id ? o->correlation_id : "";
    cmd.causation_id = o->cause_event_id;
    cmd.idempotency_key = key;
    cmd.request_hash = hash;
    cmd.decide = decide_outcome;
    cmd.ctx = &plan;
    cmd.response_status = 200;
    oss_code_t rc = OSS_OK;
    for (int tries = 0; tries < 5; tries++) {
        oss_err_clear(&cmd.err);
        rc = oss_journal_execute(j, &cmd, 1, err);
        if (rc != OSS_OK)
            break; /* unavailable: the caller retries */
        if (cmd.outcome != OSS_JOURNAL_REJECTED || cmd.err.code != OSS_ECONFLICT)
            break;
        oss_event_list_free(&cmd.events);
        free(cmd.replay_response);
        cmd.replay_response = NULL;
    }
    if (rc == OSS_OK && cmd.outcome == OSS_JOURNAL_REJECTED) {
        rc = cmd.err.code ? cmd.err.code : OSS_EINTERNAL;
        oss_err_set(err, rc, "delivery outcome refused: %s", cmd.err.msg);
    }
    oss_event_list_free(&cmd.events);
    free(cmd.replay_response);
    return rc;
}
