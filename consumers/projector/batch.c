/* The set-based writes of one batch (projector_int.h, pj_batch_t): the
 * appliers of the frequent event types add rows here instead of running a
 * statement per event, and pj_batch_flush() writes each table's rows in ONE
 * statement (jsonb_to_recordset). Rows are merged per key in stream order as
 * they arrive, so that one statement never touches a row twice and the
 * result is the one the per-event statements gave. The tables are flushed in
 * a fixed order (principal status, accounts, account updates, principal
 * touches, deliveries queued, delivery outcomes); the rows of different
 * buffers commute except where an adder says otherwise and flushes first.
 * Any applier that runs its own statement flushes the whole batch before
 * it, so it sees every earlier event of the batch. Standing rule for every
 * applier to come: frequent types batch here. */
#include "projector_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* timestamptz from a bigint of microseconds since the epoch (NULL stays
 * NULL) */
#define TSX(e) "(timestamptz 'epoch' + (" e ") * interval '1 microsecond')"

oss_code_t
pj_batch_init(pj_batch_t *b, oss_err_t *err) {
    memset(b, 0, sizeof *b);
    json_t **all[] = {&b->accounts,         &b->account_updates,
                      &b->principal_status, &b->principal_touch,
                      &b->dlv_queued,       &b->dlv_outcome};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!(*all[i] = json_object())) {
            pj_batch_free(b);
            return oss_err_set(err, OSS_ENOMEM, "out of memory");
        }
    return OSS_OK;
}

void
pj_batch_free(pj_batch_t *b) {
    json_decref(b->accounts);
    json_decref(b->account_updates);
    json_decref(b->principal_status);
    json_decref(b->principal_touch);
    json_decref(b->dlv_queued);
    json_decref(b->dlv_outcome);
    memset(b, 0, sizeof *b);
}

/* ---- the statements (%s = schema; at most four) ---- */

/* The status of a new row comes from its owner's access stream when that
 * was applied first (rm.principals); an existing row keeps its status (a
 * redrive never sets an active account back to registered); a subject erased
 * before its registration was applied never enters (rm.erased_subjects).
 * Both look-ups are LATERAL ... LIMIT 1, so each is one index probe per row:
 * a plain join of jsonb_to_recordset's rows (estimated at 100) was planned
 * as a hash join over a sequential scan of rm.principals, one scan of the
 * whole table per batch. */
static const char ACCOUNTS_UPSERT[] =
    "INSERT INTO %s.accounts AS a (account_id, stream_id, status, status_at, "
    "owner_principal_id, scale, actor_type, country, terms_version, "
    "subject_id, region_code, "
    "registered_at, version, apply_count, erased_at, updated_at) "
    "SELECT x.a, x.s, coalesce(p.status, 'registered'), "
    "coalesce(p.status_at, " TSX(
        "x.t") "), x.a, x.sc, coalesce(x.at, ''), "
               "coalesce(x.c, ''), "
               "coalesce(x.tv, ''), CASE WHEN e.subject_id IS NULL THEN "
               "coalesce(x.sub, '') ELSE '' END, x.rc, " TSX(
                   "x.t") ", "
                          "x.v, x.n, e.erased_at, now() "
                          "FROM jsonb_to_recordset($1::jsonb) AS x(a text, s "
                          "text, sc text, at "
                          "text, c text, tv text, sub text, t bigint, v "
                          "bigint, n bigint, rc text) "
                          "LEFT JOIN LATERAL (SELECT p.status, p.status_at "
                          "FROM %s.principals p "
                          "WHERE p.principal_id = x.a AND p.status <> "
                          "'registered' LIMIT 1) p "
                          "ON true "
                          "LEFT JOIN LATERAL (SELECT e.subject_id, e.erased_at "
                          "FROM "
                          "%s.erased_subjects e WHERE e.subject_id = x.sub "
                          "LIMIT 1) e ON true "
                          "ON CONFLICT (account_id) DO UPDATE SET stream_id = "
                          "excluded.stream_id, "
                          "scale = excluded.scale, actor_type = "
                          "excluded.actor_type, country = excluded.country, "
                          "terms_version = "
                          "CASE WHEN a.terms_version = '' THEN "
                          "excluded.terms_version ELSE "
                          "a.terms_version END, subject_id = CASE WHEN "
                          "a.erased_at IS NULL THEN "
                          "excluded.subject_id ELSE '' END, region_code = "
                          "excluded.region_code, "
                          "registered_at = excluded.registered_at, version = "
                          "GREATEST(a.version, excluded.version), "
                          "apply_count = a.apply_count + excluded.apply_count, "
                          "updated_at = now()";

/* TermsAccepted (tv) and LegacyAccountMigrated (lg): a field absent from a
 * row (null) is left as it is. */
static const char ACCOUNT_UPDATES[] =
    "UPDATE %s.accounts a SET terms_version = coalesce(x.tv, "
    "a.terms_version), legacy_id = coalesce(x.lg, a.legacy_id), version = "
    "GREATEST(a.version, x.v), updated_at = now() FROM "
    "jsonb_to_recordset($1::jsonb) AS x(a text, tv text, lg text, v bigint) "
    "WHERE a.account_id = x.a";

/* Principal status change + the accounts it owns (not once terminated;
 * while restricted only status_at: the lift reads the owner's status
 * back). A principal revoked or terminated keeps that status. */
static const char PRINCIPAL_STATUS[] =
    "WITH p AS (INSERT INTO %s.principals AS p (principal_id, status, "
    "status_at, version) SELECT x.p, x.st, " TSX(
        "x.t") ", x.v FROM "
               "jsonb_to_recordset($1::jsonb) AS x(p text, st text, t bigint, "
               "v bigint) "
               "ON CONFLICT (principal_id) DO UPDATE SET status = CASE WHEN "
               "p.status IN "
               "('revoked', 'terminated') THEN p.status ELSE excluded.status "
               "END, "
               "status_at = excluded.status_at, version = GREATEST(p.version, "
               "excluded.version) RETURNING principal_id, status, status_at) "
               "UPDATE %s.accounts a SET status = CASE WHEN a.status = "
               "'restricted' THEN "
               "a.status ELSE p.status END, status_at = p.status_at, "
               "updated_at = now() "
               "FROM p WHERE a.owner_principal_id = p.principal_id AND "
               "a.status <> "
               "'terminated'";

/* PasswordSet (pw) and SignInSucceeded (si): the latest of each. */
static const char PRINCIPAL_TOUCH[] =
    "INSERT INTO %s.principals AS p (principal_id, password_set_at, "
    "last_sign_in_at, version) SELECT x.p, " TSX("x.pw") ", " TSX(
        "x.si") ", "
                "x.v FROM jsonb_to_recordset($1::jsonb) AS x(p text, pw "
                "bigint, si "
                "bigint, v bigint) ON CONFLICT (principal_id) DO UPDATE SET "
                "password_set_at = coalesce(excluded.password_set_at, "
                "p.password_set_at), last_sign_in_at = "
                "coalesce(excluded.last_sign_in_at, "
                "p.last_sign_in_at), version = GREATEST(p.version, "
                "excluded.version)";

/* Delivery outcomes: the last one per (trigger event, channel). */
static const char DLV_QUEUED[] =
    "INSERT INTO %s.delivery_status AS d (trigger_event_id, channel, "
    "account_id, kind, trigger_type, state, queued_at, updated_at, version) "
    "SELECT x.e, x.ch, x.a, x.k, x.tt, 'queued', " TSX("x.t") ", " TSX(
        "x.t") ", x.v FROM jsonb_to_recordset($1::jsonb) AS x(e text, ch text, "
               "a text, "
               "k text, tt text, t bigint, v bigint) "
               "ON CONFLICT (trigger_event_id, channel) DO UPDATE SET kind = "
               "excluded.kind, trigger_type = excluded.trigger_type, queued_at "
               "= "
               "excluded.queued_at, state = CASE WHEN d.version < "
               "excluded.version THEN "
               "'queued' ELSE d.state END, version = GREATEST(d.version, "
               "excluded.version)";

/* A new row is inserted as the outcome says; an existing one (the UPDATE
 * sees only rows that existed before the statement) takes the outcome when
 * it is not older, keeping its reply fields when every outcome merged into
 * x was a retry (keep). */
static const char DLV_OUTCOME[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(e text, ch "
    "text, a text, st text, at integer, rc integer, rt text, rs text, pm "
    "boolean, na bigint, t bigint, v bigint, keep boolean)), "
    "ins AS (INSERT INTO %s.delivery_status (trigger_event_id, channel, "
    "account_id, state, attempt, reply_code, reply_text, reason, permanent, "
    "next_attempt_at, updated_at, version) SELECT x.e, x.ch, x.a, x.st, x.at, "
    "x.rc, x.rt, x.rs, x.pm, CASE WHEN x.na > 0 THEN " TSX("x.na") " END, " TSX(
        "x.t") ", x.v FROM x ON CONFLICT (trigger_event_id, channel) DO "
               "NOTHING) "
               "UPDATE %s.delivery_status d SET state = x.st, attempt = "
               "GREATEST(d.attempt, x.at), reply_code = CASE WHEN x.keep THEN "
               "d.reply_code ELSE x.rc END, reply_text = CASE WHEN x.keep THEN "
               "d.reply_text ELSE x.rt END, reason = CASE WHEN x.keep THEN "
               "d.reason ELSE "
               "x.rs END, permanent = x.pm, next_attempt_at = CASE WHEN x.na > "
               "0 THEN " TSX("x.na") " END, updated_at = " TSX(
                   "x.t") ", version = x.v FROM x "
                          "WHERE d.trigger_event_id = x.e AND d.channel = x.ch "
                          "AND d.version <= "
                          "x.v";

/* Writes rows (an object of rows) with fmt and empties it. */
static oss_code_t
flush_one(pj_ctx_t *c, const char *fmt, json_t *rows, oss_err_t *err) {
    if (!json_object_size(rows))
        return OSS_OK;
    json_t *arr = json_array();
    if (!arr)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(rows, k, v) json_array_append(arr, v);
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text)
        return oss_err_set(err, OSS_ENOMEM, "could not encode read-model rows");
    char sql[4096];
    snprintf(sql, sizeof sql, fmt, c->schema, c->schema, c->schema, c->schema);
    const char *p[1] = {text};
    oss_code_t rc = pj_cmd(c->conn, sql, 1, p, err);
    free(text);
    if (rc == OSS_OK)
        json_object_clear(rows);
    return rc;
}

oss_code_t
pj_batch_flush(pj_ctx_t *c, pj_batch_t *b, oss_err_t *err) {
    oss_code_t rc;
    /* principal status first: the account rows of this batch then take it
     * from rm.principals as they enter, instead of entering with the old
     * status and being updated (same result: the status statement skips
     * terminated and restricted rows, which a new row never is) */
    if ((rc = flush_one(c, PRINCIPAL_STATUS, b->principal_status, err)) ||
        (rc = flush_one(c, ACCOUNTS_UPSERT, b->accounts, err)) ||
        (rc = flush_one(c, ACCOUNT_UPDATES, b->account_updates, err)) ||
        (rc = flush_one(c, PRINCIPAL_TOUCH, b->principal_touch, err)) ||
        (rc = flush_one(c, DLV_QUEUED, b->dlv_queued, err)) ||
        (rc = flush_one(c, DLV_OUTCOME, b->dlv_outcome, err)))
        return rc;
    return OSS_OK;
}

/* ---- adders ---- */

/* Stores row under key in rows (row is consumed); -1 when row is NULL (a
 * string that is not UTF-8, or out of memory). */
static int
put(json_t *rows, const char *key, json_t *row) {
    if (!row)
        return -1;
    return json_object_set_new(rows, key, row) == 0 ? 0 : -1;
}

static json_int_t
row_int(json_t *row, const char *name) {
    return json_integer_value(json_object_get(row, name));
}

int
pj_batch_account_update(pj_batch_t *b, const char *account_id,
                        const char *terms_version, const char *legacy_id,
                        int64_t version) {
    json_t *old = json_object_get(b->account_updates, account_id);
    json_t *tv = terms_version ? json_string(terms_version)
                 : old         ? json_incref(json_object_get(old, "tv"))
                               : NULL;
    json_t *lg = legacy_id ? json_string(legacy_id)
                 : old     ? json_incref(json_object_get(old, "lg"))
                           : NULL;
    if ((terms_version && !tv) || (legacy_id && !lg)) {
        json_decref(tv);
        json_decref(lg);
        return -1;
    }
    return put(b->account_updates, account_id,
               json_pack("{s:s, s:o?, s:o?, s:I}", "a", account_id, "tv", tv,
                         "lg", lg, "v", (json_int_t)version));
}

int
pj_batch_principal_status(pj_batch_t *b, const char *principal_id,
                          const char *status, int64_t at_us, int64_t version) {
    /* the last of the batch wins, as the per-event upserts left it */
    return put(b->principal_status, principal_id,
               json_pack("{s:s, s:s, s:I, s:I}", "p", principal_id, "st",
                         status, "t", (json_int_t)at_us, "v",
                         (json_int_t)version));
}

int
pj_batch_principal_touch(pj_batch_t *b, const char *principal_id, int password,
                         int64_t at_us, int64_t version) {
    json_t *old = json_object_get(b->principal_touch, principal_id);
    json_t *pw = json_object_get(old, "pw"), *si = json_object_get(old, "si");
    json_t *now = json_integer((json_int_t)at_us);
    return put(b->principal_touch, principal_id,
               json_pack("{s:s, s:o?, s:o?, s:I}", "p", principal_id, "pw",
                         password ? now : json_incref(pw), "si",
                         password ? json_incref(si) : now, "v",
                         (json_int_t)version));
}

/* "<trigger event id>\t<channel>" in buf (NULL when it does not fit). */
static const char *
dlv_key(char *buf, size_t len, const char *event_id, const char *channel) {
    int n = snprintf(buf, len, "%s\t%s", event_id ? event_id : "",
                     channel ? channel : "");
    return n >= 0 && (size_t)n < len ? buf : NULL;
}

oss_code_t
pj_batch_dlv_queued(pj_ctx_t *c, pj_batch_t *b, const pj_dlv_t *d, int *bad,
                    oss_err_t *err) {
    char kb[512];
    const char *key = dlv_key(kb, sizeof kb, d->event_id, d->channel);
    *bad = 0;
    if (!key) {
        *bad = 1;
        return OSS_OK;
    }
    /* an outcome of the same delivery earlier in the batch: written first,
     * so that this queued row meets it as the per-event statements did */
    if (json_object_get(b->dlv_outcome, key)) {
        oss_code_t rc = pj_batch_flush(c, b, err);
        if (rc)
            return rc;
    }
    *bad =
        put(b->dlv_queued, key,
            json_pack("{s:s?, s:s?, s:s, s:s, s:s, s:I, s:I}", "e", d->event_id,
                      "ch", d->channel, "a", d->account_id, "k", d->kind, "tt",
                      d->trigger_type, "t", (json_int_t)d->at_us, "v",
                      (json_int_t)d->version)) != 0;
    return OSS_OK;
}

int
pj_batch_dlv_outcome(pj_batch_t *b, const pj_dlv_t *d) {
    char kb[512];
    const char *key = dlv_key(kb, sizeof kb, d->event_id, d->channel);
    if (!key)
        return -1;
    json_t *old = json_object_get(b->dlv_outcome, key);
    int retry = strcmp(d->state, "retrying") == 0;
    json_int_t attempt = d->attempt;
    if (old && row_int(old, "at") > attempt)
        attempt = row_int(old, "at");
    /* a retry keeps the reply fields before it: those of an earlier outcome
     * merged here, or (keep) those already in the table */
    int carry = retry && old && !json_is_true(json_object_get(old, "keep"));
    json_t *rt = carry ? json_incref(json_object_get(old, "rt"))
                       : json_string(d->reply_text);
    json_t *rs = carry ? json_incref(json_object_get(old, "rs"))
                       : json_string(d->reason);
    json_int_t rc = carry ? row_int(old, "rc") : (json_int_t)d->reply_code;
    int keep = retry && !carry;
    if (!rt || !rs) {
        json_decref(rt);
        json_decref(rs);
        return -1;
    }
    return put(b->dlv_outcome, key,
               json_pack("{s:s?, s:s?, s:s, s:s, s:I, s:I, s:o, s:o, s:b, s:I, "
                         "s:I, s:I, s:b}",
                         "e", d->event_id, "ch", d->channel, "a", d->account_id,
                         "st", d->state, "at", attempt, "rc", rc, "rt", rt,
                         "rs", rs, "pm", d->permanent, "na",
                         (json_int_t)d->next_attempt_us, "t",
                         (json_int_t)d->at_us, "v", (json_int_t)d->version,
                         "keep", keep));
}
