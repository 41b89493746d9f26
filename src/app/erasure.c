/* Erasing a data subject (erasure.h): what belongs to it is found, counted
 * and deleted with its SubjectErased event in one transaction. */
#include "app/erasure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "core/uuid.h"
#include "db/db.h"
#include "journal/scan.h"
#include "oss/v1/privacy.pb-c.h"

static oss_code_t
db_fail(PGconn *c, PGresult *r, const char *what, oss_err_t *err) {
    oss_code_t rc = oss_db_error(c, r, what, err);
    PQclear(r);
    if (err)
        err->msg[strcspn(err->msg, "\n")] = '\0';
    return rc == OSS_OK ? OSS_EUNAVAIL : rc;
}

static oss_code_t
erase_decide(void *vctx, const oss_event_t *history, size_t n,
             oss_event_list_t *out, oss_err_t *err) {
    oss_app_erasure_t *e = vctx;
    for (size_t i = 0; i < n; i++)
        if (strcmp(history[i].payload_type, OSS_SUBJECT_ERASED) == 0)
            return oss_err_coded(
                err, OSS_ECONFLICT, OSS_APP_REASON_ALREADY_ERASED,
                "subject %s was already erased", e->subject_id);
    Oss__V1__SubjectErased m = OSS__V1__SUBJECT_ERASED__INIT;
    char *acc[OSS_SUBJECT_MAX_LINKS], *pr[OSS_SUBJECT_MAX_LINKS];
    for (size_t i = 0; i < e->naccounts; i++)
        acc[i] = e->account_ids[i];
    for (size_t i = 0; i < e->nprincipals; i++)
        pr[i] = e->principal_ids[i];
    m.subject_id = e->subject_id;
    m.reason = e->reason;
    m.n_account_ids = e->naccounts;
    m.account_ids = acc;
    m.n_principal_ids = e->nprincipals;
    m.principal_ids = pr;
    m.keys_deleted = e->keys;
    m.lookups_deleted = e->lookups;
    m.deliveries_deleted = e->deliveries;
    m.sessions_ended = e->sessions;
    m.grants_revoked = e->grants;
    m.passwords_deleted = e->passwords;
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "%s",
             OSS_SUBJECT_ERASED);
    ev->schema_version = 1;
    ev->payload_len = oss__v1__subject_erased__get_packed_size(&m);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    ev->reason = strdup(e->reason);
    if (!ev->payload || !ev->reason)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss__v1__subject_erased__pack(&m, ev->payload);
    return OSS_OK;
}

static oss_code_t
erase_extra(void *vctx, const oss_command_t *cmd, oss_journal_queue_fn q,
            void *qctx, oss_err_t *err) {
    oss_app_erasure_t *e = vctx;
    const char *v1[1] = {e->subject_id};
    const char *v2[1] = {e->streams_array};
    static const char *const by_subject[] = {
        "DELETE FROM oss.subject_keys WHERE subject_id = $1::uuid",
        "DELETE FROM oss.identity_claims WHERE subject_id = $1::uuid",
        "DELETE FROM oss.deliveries WHERE subject_id = $1::uuid",
    };
    (void)cmd;
    for (size_t i = 0; i < sizeof by_subject / sizeof by_subject[0]; i++)
        if (q(qctx, by_subject[i], 1, v1, NULL, NULL))
            return oss_err_set(err, OSS_ENOMEM, "could not queue the erasure");
    if (q(qctx,
          "DELETE FROM oss.account_lookup WHERE stream_id = ANY($1::text[])", 1,
          v2, NULL, NULL))
        return oss_err_set(err, OSS_ENOMEM, "could not queue the erasure");
    /* the subject's principals lose their access with the erasure: every
     * open session ends, every grant is revoked, the password, outstanding
     * reset links and pending activation secrets go (SubjectErased counts
     * them; the sessions and grants rows keep the reason) */
    const char *va[2] = {e->access_array, e->reason};
    const char *vp[2] = {e->principals_array, e->reason};
    static const char *const by_access[] = {
        "DELETE FROM oss.credentials WHERE stream_id = ANY($1::text[])",
        "DELETE FROM oss.reset_secrets WHERE stream_id = ANY($1::text[])",
        "DELETE FROM oss.activation_secrets WHERE stream_id = "
        "ANY($1::text[])",
    };
    if (q(qctx,
          "UPDATE oss.sessions SET revoked_at = now(), revoke_reason = "
          "'subject erased: ' || $2 WHERE stream_id = ANY($1::text[]) AND "
          "revoked_at IS NULL",
          2, va, NULL, NULL))
        return oss_err_set(err, OSS_ENOMEM, "could not queue the erasure");
    for (size_t i = 0; i < sizeof by_access / sizeof by_access[0]; i++)
        if (q(qctx, by_access[i], 1, va, NULL, NULL))
            return oss_err_set(err, OSS_ENOMEM, "could not queue the erasure");
    if (q(qctx,
          "UPDATE oss.grants SET revoked_at = now(), revoke_reason = "
          "'subject erased: ' || $2 WHERE principal_id = ANY($1::text[]) AND "
          "revoked_at IS NULL",
          2, vp, NULL, NULL))
        return oss_err_set(err, OSS_ENOMEM, "could not queue the erasure");
    return OSS_OK;
}

static bool
add_link(char (*list)[OSS_ID_MAX], size_t *n, const char *id) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], id) == 0)
            return true;
    if (*n == OSS_SUBJECT_MAX_LINKS || strlen(id) >= OSS_ID_MAX)
        return false;
    snprintf(list[(*n)++], OSS_ID_MAX, "%s", id);
    return true;
}

/* Adds column 0 of every row of sql ($1 = subject_id) to list. */
static oss_code_t
read_links(PGconn *c, const char *sql, const char *subject_id, const char *what,
           char (*list)[OSS_ID_MAX], size_t *n, oss_err_t *err) {
    const char *p[1] = {subject_id};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(c, r, what, err);
    for (int i = 0; i < PQntuples(r); i++)
        add_link(list, n, PQgetvalue(r, i, 0));
    PQclear(r);
    return OSS_OK;
}

oss_code_t
oss_app_erasure_prepare(PGconn *c, const char *subject_id, const char *reason,
                        oss_app_erasure_t *e, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    const char **streams = NULL;
    char(*sbuf)[OSS_ID_MAX] = NULL;

    memset(e, 0, sizeof *e);
    if (!oss_uuid_valid(subject_id))
        return oss_err_field(err, OSS_ENOTFOUND, "subject_id",
                             "no such subject");
    if (!reason || !*reason)
        return oss_err_field(err, OSS_EINVAL, "reason",
                             "an erasure needs a reason");
    if (strlen(reason) >= sizeof e->reason)
        return oss_err_field(err, OSS_EINVAL, "reason", "reason is too long");
    snprintf(e->subject_id, sizeof e->subject_id, "%s", subject_id);
    for (char *s = e->subject_id; *s; s++)
        if (*s >= 'A' && *s <= 'F')
            *s = (char)(*s - 'A' + 'a');
    snprintf(e->stream_id, sizeof e->stream_id, OSS_SUBJECT_STREAM_PREFIX "%s",
             e->subject_id);
    snprintf(e->reason, sizeof e->reason, "%s", reason);

    rc = read_links(c,
                    "SELECT principal_id FROM oss.principals WHERE "
                    "subject_id = $1::uuid ORDER BY created_at",
                    e->subject_id, "read the subject's principals",
                    e->principal_ids, &e->nprincipals, err);
    if (rc != OSS_OK)
        goto done;
    /* accounts whose contact (registration) is this subject */
    rc = read_links(c,
                    "SELECT DISTINCT substr(s, 9) FROM ("
                    " SELECT stream_id AS s FROM oss.identity_claims WHERE "
                    "  subject_id = $1::uuid"
                    " UNION SELECT contact_stream FROM oss.principals WHERE "
                    "  subject_id = $1::uuid"
                    " UNION SELECT stream_id FROM rm.accounts WHERE "
                    "  subject_id = $1::text) x WHERE s LIKE 'account-%'",
                    e->subject_id, "read the subject's accounts",
                    e->account_ids, &e->naccounts, err);
    if (rc != OSS_OK)
        goto done;

    /* the streams whose keyed look-ups go */
    size_t ns = 0, cap = 3 * (e->naccounts + e->nprincipals) + 1;
    sbuf = calloc(cap, sizeof *sbuf);
    streams = calloc(cap, sizeof *streams);
    if (!sbuf || !streams) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < e->naccounts; i++) {
        snprintf(sbuf[ns++], OSS_ID_MAX, "account-%.100s", e->account_ids[i]);
        snprintf(sbuf[ns++], OSS_ID_MAX, "access-%.100s", e->account_ids[i]);
    }
    for (size_t i = 0; i < e->nprincipals; i++)
        snprintf(sbuf[ns++], OSS_ID_MAX, "access-%.100s", e->principal_ids[i]);
    for (size_t i = 0; i < ns; i++)
        streams[i] = sbuf[i];
    e->streams_array = oss_db_text_array(streams, ns);
    /* the principals' own access streams and ids */
    size_t na = 0;
    for (size_t i = 0; i < e->nprincipals; i++) {
        snprintf(sbuf[na], OSS_ID_MAX, "access-%.100s", e->principal_ids[i]);
        streams[na] = sbuf[na];
        na++;
    }
    e->access_array = oss_db_text_array(streams, na);
    for (size_t i = 0; i < e->nprincipals; i++)
        streams[i] = e->principal_ids[i];
    e->principals_array = oss_db_text_array(streams, e->nprincipals);
    if (!e->streams_array || !e->access_array || !e->principals_array) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    bool ok = true;
    const char *p1[1] = {e->subject_id};
    const char *p2[2] = {e->subject_id, e->streams_array};
    e->keys = oss_db_query_int64(c,
                                 "SELECT count(*) FROM oss.subject_keys WHERE "
                                 "subject_id = $1::uuid",
                                 1, p1, &ok);
    e->lookups =
        oss_db_query_int64(c,
                           "SELECT (SELECT count(*) FROM oss.identity_claims "
                           "WHERE subject_id = $1::uuid) + (SELECT count(*) "
                           "FROM oss.account_lookup WHERE stream_id = "
                           "ANY($2::text[]))",
                           2, p2, &ok);
    e->deliveries =
        oss_db_query_int64(c,
                           "SELECT count(*) FROM oss.deliveries WHERE "
                           "subject_id = $1::uuid",
                           1, p1, &ok);
    const char *pa[1] = {e->access_array};
    const char *pp[1] = {e->principals_array};
    e->sessions =
        oss_db_query_int64(c,
                           "SELECT count(*) FROM oss.sessions WHERE stream_id "
                           "= ANY($1::text[]) AND revoked_at IS NULL",
                           1, pa, &ok);
    e->passwords =
        oss_db_query_int64(c,
                           "SELECT count(*) FROM oss.credentials WHERE "
                           "stream_id = ANY($1::text[])",
                           1, pa, &ok);
    e->grants =
        oss_db_query_int64(c,
                           "SELECT count(*) FROM oss.grants WHERE principal_id "
                           "= ANY($1::text[]) AND revoked_at IS NULL",
                           1, pp, &ok);
    int64_t stream_events = 0;
    oss_journal_filter_t in_stream = {.stream_id = e->stream_id};
    if (ok && oss_journal_count(c, &in_stream, &stream_events, NULL))
        ok = false;
    if (!ok) {
        rc = oss_err_set(err, OSS_EUNAVAIL,
                         "could not count the subject's rows: %s",
                         PQerrorMessage(c));
        err->msg[strcspn(err->msg, "\n")] = '\0';
        goto done;
    }
    if (!e->keys && !e->nprincipals && !e->naccounts && !stream_events) {
        rc = oss_err_field(err, OSS_ENOTFOUND, "subject_id",
                           "no such subject: %s", e->subject_id);
        goto done;
    }
    oss_command_t *cmd = &e->cmd;
    cmd->stream_id = e->stream_id;
    cmd->stream_type = OSS_SUBJECT_STREAM_TYPE;
    cmd->expected_version = -1;
    cmd->actor_kind = OSS_ACTOR_OPERATOR;
    cmd->actor_id = "";
    cmd->correlation_id = "";
    cmd->decide = erase_decide;
    cmd->ctx = e;
    cmd->extra_fn = erase_extra;
done:
    free(streams);
    free(sbuf);
    if (rc != OSS_OK) {
        free(e->streams_array);
        free(e->access_array);
        free(e->principals_array);
        e->streams_array = e->access_array = e->principals_array = NULL;
    }
    return rc;
}

oss_code_t
oss_app_erasure_run(oss_journal_t *j, oss_app_erasure_t *e, oss_err_t *err) {
    return oss_app_cmd_execute(j, &e->cmd, err);
}

void
oss_app_erasure_clear(oss_app_erasure_t *e) {
    oss_event_list_free(&e->cmd.events);
    free(e->cmd.replay_response);
    free(e->streams_array);
    free(e->access_array);
    free(e->principals_array);
    memset(e, 0, sizeof *e);
}
