/* The set-based writes of one batch (projector_int.h, pj_batch_t): the
 * appliers of the frequent event types add rows here instead of running a
 * statement per event, and pj_batch_flush() writes each table's rows in ONE
 * statement (jsonb_to_recordset). Rows are merged per key in stream order as
 * they arrive, so that one statement never touches a row twice and the
 * result is the one the per-event statements gave. The tables are flushed in
 * a fixed order (principal status, accounts, account updates, principal
 * touches, deliveries); the rows of different
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
    json_t **all[] = {&b->accounts, &b->account_updates, &b->principal_status,
                      &b->principal_touch, &b->deliveries};
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
    json_decref(b->deliveries);
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
 * whole table per batch. New rows are inserted; an existing one (a redrive)
 * is updated as the upsert did (the UPDATE sees only rows that existed
 * before the statement). The terms (ta) and legacy id (lg) of events later
 * in the batch ride on the row (pj_batch_account_update). */
/* clang-format off */
static const char ACCOUNTS_UPSERT[] =
    "WITH x AS (SELECT x.*, p.status AS ps, p.status_at AS pst, "
    "e.subject_id AS es, e.erased_at AS ee "
    "FROM jsonb_to_recordset($1::jsonb) AS x(a text, s text, sc text, "
    "at text, c text, tv text, sub text, t bigint, v bigint, n bigint, "
    "rc text, ta text, lg text) "
    "LEFT JOIN LATERAL (SELECT p.status, p.status_at FROM %s.principals p "
    "WHERE p.principal_id = x.a AND p.status <> 'registered' LIMIT 1) p "
    "ON true "
    "LEFT JOIN LATERAL (SELECT e.subject_id, e.erased_at FROM "
    "%s.erased_subjects e WHERE e.subject_id = x.sub LIMIT 1) e ON true), "
    "ins AS (INSERT INTO %s.accounts (account_id, stream_id, status, "
    "status_at, owner_principal_id, scale, actor_type, country, "
    "terms_version, subject_id, region_code, legacy_id, registered_at, "
    "version, apply_count, erased_at, updated_at) "
    "SELECT x.a, x.s, coalesce(x.ps, 'registered'), "
    "coalesce(x.pst, " TSX("x.t") "), x.a, x.sc, coalesce(x.at, ''), "
    "coalesce(x.c, ''), coalesce(x.ta, x.tv, ''), "
    "CASE WHEN x.es IS NULL THEN coalesce(x.sub, '') ELSE '' END, x.rc, "
    "x.lg, " TSX("x.t") ", x.v, x.n, x.ee, now() FROM x "
    "ON CONFLICT (account_id) DO NOTHING) "
    "UPDATE %s.accounts a SET stream_id = x.s, scale = x.sc, "
    "actor_type = coalesce(x.at, ''), country = coalesce(x.c, ''), "
    "terms_version = coalesce(x.ta, CASE WHEN a.terms_version = '' THEN "
    "coalesce(x.tv, '') ELSE a.terms_version END), "
    "subject_id = CASE WHEN a.erased_at IS NULL AND x.es IS NULL THEN "
    "coalesce(x.sub, '') ELSE '' END, region_code = x.rc, "
    "legacy_id = coalesce(x.lg, a.legacy_id), "
    "registered_at = " TSX("x.t") ", version = GREATEST(a.version, x.v), "
    "apply_count = a.apply_count + x.n, updated_at = now() "
    "FROM x WHERE a.account_id = x.a";
/* clang-format on */

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
 * back). A principal revoked or terminated keeps that status. The owners'
 * rows are found through "= ANY (ARRAY(...))", an index scan of
 * accounts_owner whatever the statistics say: in a schema being rebuilt
 * there are none yet, and the plain join can be planned as a hash join over
 * a sequential scan of every account, once per batch. */
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
               "a.owner_principal_id = ANY (ARRAY(SELECT principal_id FROM "
               "p)) AND a.status <> 'terminated'";

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

/* Deliveries, one row per (trigger event, channel) merged from the batch:
 * its queued part (q: kind, trigger type, queued at qt, version vq) and its
 * outcome part (o: the last outcome st at t, version v, attempt at = the
 * highest, reply fields rc/rt/rs, or keep: every outcome merged was a retry,
 * so the reply fields before it stay). A new row is inserted as the
 * per-event statements would have left it (queued, then the outcome); an
 * existing one (the UPDATE sees only rows that existed before the
 * statement) goes through both steps in one update: the queued part when it
 * is newer (V1: the version after it), then the outcome when it is not
 * older than that (APPLY_O). The common case, a message queued and sent in
 * one batch, is one INSERT. */
#define V1 "(CASE WHEN x.q THEN GREATEST(d.version, x.vq) ELSE d.version END)"
#define APPLY_O "(x.o AND " V1 " <= x.v)"
/* clang-format off */
static const char DELIVERIES[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(e text, "
    "ch text, a text, q boolean, k text, tt text, qt bigint, vq bigint, "
    "o boolean, st text, at integer, rc integer, rt text, rs text, "
    "pm boolean, na bigint, t bigint, v bigint, keep boolean)), "
    "ins AS (INSERT INTO %s.delivery_status (trigger_event_id, channel, "
    "account_id, kind, trigger_type, state, attempt, reply_code, reply_text, "
    "reason, permanent, next_attempt_at, queued_at, updated_at, version) "
    "SELECT x.e, x.ch, x.a, coalesce(x.k, ''), coalesce(x.tt, ''), "
    "CASE WHEN x.o THEN x.st ELSE 'queued' END, "
    "CASE WHEN x.o THEN x.at ELSE 0 END, "
    "CASE WHEN x.o AND NOT (x.keep AND x.q) THEN x.rc ELSE 0 END, "
    "CASE WHEN x.o AND NOT (x.keep AND x.q) THEN x.rt ELSE '' END, "
    "CASE WHEN x.o AND NOT (x.keep AND x.q) THEN x.rs ELSE '' END, "
    "x.o AND x.pm, "
    "CASE WHEN x.o AND x.na > 0 THEN " TSX("x.na") " END, "
    TSX("x.qt") ", "
    "CASE WHEN x.o THEN " TSX("x.t") " ELSE " TSX("x.qt") " END, "
    "CASE WHEN x.o THEN x.v ELSE x.vq END FROM x "
    "ON CONFLICT (trigger_event_id, channel) DO NOTHING) "
    "UPDATE %s.delivery_status d SET "
    "kind = CASE WHEN x.q THEN x.k ELSE d.kind END, "
    "trigger_type = CASE WHEN x.q THEN x.tt ELSE d.trigger_type END, "
    "queued_at = CASE WHEN x.q THEN " TSX("x.qt") " ELSE d.queued_at END, "
    "state = CASE WHEN " APPLY_O " THEN x.st WHEN x.q AND d.version < x.vq "
    "THEN 'queued' ELSE d.state END, "
    "attempt = CASE WHEN " APPLY_O " THEN GREATEST(d.attempt, x.at) "
    "ELSE d.attempt END, "
    "reply_code = CASE WHEN " APPLY_O " AND NOT x.keep THEN x.rc "
    "ELSE d.reply_code END, "
    "reply_text = CASE WHEN " APPLY_O " AND NOT x.keep THEN x.rt "
    "ELSE d.reply_text END, "
    "reason = CASE WHEN " APPLY_O " AND NOT x.keep THEN x.rs "
    "ELSE d.reason END, "
    "permanent = CASE WHEN " APPLY_O " THEN x.pm ELSE d.permanent END, "
    "next_attempt_at = CASE WHEN " APPLY_O " THEN CASE WHEN x.na > 0 THEN "
    TSX("x.na") " END ELSE d.next_attempt_at END, "
    "updated_at = CASE WHEN " APPLY_O " THEN " TSX("x.t") " "
    "ELSE d.updated_at END, "
    "version = CASE WHEN " APPLY_O " THEN x.v ELSE " V1 " END "
    "FROM x WHERE d.trigger_event_id = x.e AND d.channel = x.ch";
/* clang-format on */

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
        (rc = flush_one(c, DELIVERIES, b->deliveries, err)))
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
    /* the account registered earlier in this batch: on its row */
    json_t *reg = json_object_get(b->accounts, account_id);
    json_t *old = reg ? reg : json_object_get(b->account_updates, account_id);
    json_t *tv = terms_version ? json_string(terms_version)
                 : old ? json_incref(json_object_get(old, reg ? "ta" : "tv"))
                       : NULL;
    json_t *lg = legacy_id ? json_string(legacy_id)
                 : old     ? json_incref(json_object_get(old, "lg"))
                           : NULL;
    if ((terms_version && !tv) || (legacy_id && !lg)) {
        json_decref(tv);
        json_decref(lg);
        return -1;
    }
    if (reg) {
        json_int_t v = json_integer_value(json_object_get(reg, "v"));
        if (json_object_set_new(reg, "ta", tv ? tv : json_null()) ||
            json_object_set_new(reg, "lg", lg ? lg : json_null()) ||
            json_object_set_new(reg, "v",
                                json_integer(v > version ? v : version)))
            return -1;
        return 0;
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

/* The merged row of a delivery in b (created with its key fields when
 * absent); NULL when it cannot be stored. */
static json_t *
dlv_row(pj_batch_t *b, const char *key, const pj_dlv_t *d) {
    json_t *row = json_object_get(b->deliveries, key);
    if (row)
        return row;
    row = json_pack("{s:s?, s:s?, s:s, s:b, s:b}", "e", d->event_id, "ch",
                    d->channel, "a", d->account_id, "q", 0, "o", 0);
    if (put(b->deliveries, key, row))
        return NULL;
    return row;
}

/* Sets name in row to v (consumed); -1 when v is NULL or out of memory. */
static int
set(json_t *row, const char *name, json_t *v) {
    return v && json_object_set_new(row, name, v) == 0 ? 0 : -1;
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
     * so that this queued part meets it as the per-event statements did */
    json_t *row = json_object_get(b->deliveries, key);
    if (row && json_is_true(json_object_get(row, "o"))) {
        oss_code_t rc = pj_batch_flush(c, b, err);
        if (rc)
            return rc;
    }
    if (!(row = dlv_row(b, key, d)) || set(row, "q", json_true()) ||
        set(row, "k", json_string(d->kind)) ||
        set(row, "tt", json_string(d->trigger_type)) ||
        set(row, "qt", json_integer((json_int_t)d->at_us)) ||
        set(row, "vq", json_integer((json_int_t)d->version)))
        *bad = 1;
    return OSS_OK;
}

int
pj_batch_dlv_outcome(pj_batch_t *b, const pj_dlv_t *d) {
    char kb[512];
    const char *key = dlv_key(kb, sizeof kb, d->event_id, d->channel);
    json_t *row = key ? dlv_row(b, key, d) : NULL;
    if (!row)
        return -1;
    int had = json_is_true(json_object_get(row, "o"));
    int retry = strcmp(d->state, "retrying") == 0;
    json_int_t attempt = d->attempt;
    if (had && row_int(row, "at") > attempt)
        attempt = row_int(row, "at");
    /* a retry keeps the reply fields before it: those of an earlier outcome
     * merged here, or (keep) those already in the table */
    int carry = retry && had && !json_is_true(json_object_get(row, "keep"));
    if (!carry && (set(row, "rc", json_integer((json_int_t)d->reply_code)) ||
                   set(row, "rt", json_string(d->reply_text)) ||
                   set(row, "rs", json_string(d->reason))))
        return -1;
    if (set(row, "o", json_true()) || set(row, "st", json_string(d->state)) ||
        set(row, "at", json_integer(attempt)) ||
        set(row, "pm", json_boolean(d->permanent)) ||
        set(row, "na", json_integer((json_int_t)d->next_attempt_us)) ||
        set(row, "t", json_integer((json_int_t)d->at_us)) ||
        set(row, "v", json_integer((json_int_t)d->version)) ||
        set(row, "keep", json_boolean(retry && !carry)))
        return -1;
    return 0;
}
