/* Building blocks of a command (cmd.h). */
#include "app/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/account.h"

oss_code_t
oss_app_event_push(oss_event_list_t *out, const char *type,
                   const ProtobufCMessage *msg, int64_t at_us,
                   const char *reason, oss_err_t *err) {
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s", type ? type : "");
    ev->schema_version = 1;
    ev->occurred_at_us = at_us;
    size_t len = protobuf_c_message_get_packed_size(msg);
    ev->payload = malloc(len ? len : 1);
    if (!ev->payload || (reason && !(ev->reason = strdup(reason))))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    protobuf_c_message_pack(msg, ev->payload);
    ev->payload_len = len;
    return OSS_OK;
}

bool
oss_app_cmd_conflicted(const oss_command_t *cmd) {
    return cmd->outcome == OSS_JOURNAL_REJECTED &&
           cmd->err.code == OSS_ECONFLICT && !cmd->err.field[0] &&
           !cmd->err.reason[0];
}

oss_code_t
oss_app_cmd_execute(oss_journal_t *j, oss_command_t *cmd, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        oss_event_list_free(&cmd->events);
        memset(&cmd->err, 0, sizeof cmd->err);
        oss_err_clear(err);
        rc = oss_journal_execute(j, cmd, 1, err);
        if (rc != OSS_OK || !oss_app_cmd_conflicted(cmd))
            break;
    }
    return rc;
}

oss_code_t
oss_app_queue(oss_journal_queue_fn q, void *qctx, const char *sql, int n,
              const char *const *v, oss_err_t *err) {
    if (q(qctx, sql, n, v, NULL, NULL))
        return oss_err_set(err, OSS_EUNAVAIL, "could not queue statement");
    return OSS_OK;
}

oss_code_t
oss_app_seal_field(const oss_data_key_t *dk, const char *field,
                   const char *value, Oss__V1__SealedField *sf,
                   oss_err_t *err) {
    uint8_t *ct = NULL, *nonce = malloc(12);
    size_t ctlen = 0;

    if (!nonce)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss_code_t rc =
        oss_seal(dk, field, value, strlen(value), nonce, &ct, &ctlen, err);
    if (rc != OSS_OK) {
        free(nonce);
        return rc;
    }
    sf->subject_id = (char *)dk->subject_id;
    sf->nonce.data = nonce;
    sf->nonce.len = 12;
    sf->ciphertext.data = ct;
    sf->ciphertext.len = ctlen;
    return OSS_OK;
}

oss_code_t
oss_app_open_field(const oss_data_key_t *dk, const char *field,
                   const uint8_t *nonce, size_t nlen, const uint8_t *ct,
                   size_t ctlen, char *out, size_t cap, oss_err_t *err) {
    char *plain = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (nlen != 12)
        return oss_err_set(err, OSS_ECORRUPT, "sealed field without nonce");
    oss_code_t rc = oss_open(dk, field, nonce, ct, ctlen, &plain, &len, err);
    if (rc != OSS_OK)
        return rc;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, plain, len);
    out[len] = '\0';
    OPENSSL_cleanse(plain, len);
    free(plain);
    return OSS_OK;
}

void
oss_app_cmd_init(oss_command_t *c, const char *stream,
                 oss_actor_kind_t actor_kind, const char *actor_id,
                 const char *correlation_id) {
    memset(c, 0, sizeof *c);
    c->stream_id = stream;
    c->stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c->expected_version = -1;
    c->actor_kind = actor_kind;
    c->actor_id = actor_id;
    c->correlation_id = correlation_id;
}

oss_code_t
oss_app_events_reason(oss_event_list_t *out, size_t from, const char *reason,
                      oss_err_t *err) {
    for (size_t i = from; i < out->len; i++)
        if (!out->items[i].reason && !(out->items[i].reason = strdup(reason)))
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
    return OSS_OK;
}
