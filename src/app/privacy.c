/* Recording a personal-data read (privacy.h). */
#include "app/privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "crypto/subject.h"
#include "oss/v1/privacy.pb-c.h"

static oss_code_t
pread_decide(void *vctx, const oss_event_t *history, size_t n,
             oss_event_list_t *out, oss_err_t *err) {
    oss_app_pd_read_t *pr = vctx;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(history[i].payload_type, OSS_SUBJECT_ERASED))
            return oss_err_coded(err, OSS_ENOTFOUND, OSS_SUBJECT_REASON_ERASED,
                                 "the subject was erased");
    Oss__V1__PersonalDataRead m = OSS__V1__PERSONAL_DATA_READ__INIT;
    m.subject_id = (char *)pr->subject_id;
    m.account_id = (char *)pr->account_id;
    m.reader_principal_id = (char *)pr->reader;
    m.reader_role = (char *)pr->role;
    m.reason = (char *)pr->reason;
    m.endpoint = (char *)pr->endpoint;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
             OSS_PERSONAL_DATA_READ);
    ev->schema_version = 1;
    ev->payload_len = oss__v1__personal_data_read__get_packed_size(&m);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    ev->reason = strdup(pr->reason);
    if (!ev->payload || !ev->reason)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss__v1__personal_data_read__pack(&m, ev->payload);
    return OSS_OK;
}

static oss_code_t
pread_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    oss_app_pd_read_t *pr = vctx;
    if (cmd->events.len != 1)
        return oss_err_set(err, OSS_EINTERNAL, "no PersonalDataRead event");
    const char *v[] = {pr->subject_id,
                       pr->account_id,
                       pr->reader,
                       pr->role,
                       pr->reason,
                       pr->endpoint,
                       cmd->events.items[0].event_id};
    if (q(qctx,
          "INSERT INTO oss.pii_access_log (subject_id, account_id, "
          "reader_principal_id, reader_role, reason, endpoint, event_id) "
          "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::uuid)",
          7, v, NULL, NULL))
        return oss_err_set(err, OSS_ENOMEM, "could not queue the access log");
    return OSS_OK;
}

oss_code_t
oss_app_pd_read_record(oss_journal_t *j, oss_app_pd_read_t *r, oss_err_t *err) {
    char stream[OSS_ID_MAX];
    oss_command_t cmd;
    oss_code_t rc = OSS_OK;
    snprintf(stream, sizeof stream, OSS_SUBJECT_STREAM_PREFIX "%s",
             r->subject_id);
    memset(&cmd, 0, sizeof cmd);
    cmd.stream_id = stream;
    cmd.stream_type = OSS_SUBJECT_STREAM_TYPE;
    cmd.expected_version = -1;
    cmd.actor_kind = r->actor_kind;
    cmd.actor_id = r->reader;
    cmd.correlation_id = r->correlation_id;
    cmd.decide = pread_decide;
    cmd.ctx = r;
    cmd.extra_fn = pread_extra;
    rc = oss_app_cmd_execute(j, &cmd, err);
    r->outcome = cmd.outcome;
    r->err = cmd.err;
    if (rc == OSS_OK && cmd.outcome == OSS_JOURNAL_APPENDED &&
        cmd.events.len == 1)
        snprintf(r->event_id, sizeof r->event_id, "%s",
                 cmd.events.items[0].event_id);
    oss_event_list_free(&cmd.events);
    return rc;
}
