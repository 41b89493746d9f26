/* The read-model appliers: a batch of events -> set-based upserts into one
 * read-model schema, deduplicated by (stream, version) through
 * <schema>.applied_streams. Invariant: a stream's version v is applied only
 * when v - 1 is applied (a gap is filled from the journal first); a version
 * at or below the applied one is skipped, so nothing is applied twice. */
#include "projector_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "oss/v1/account.pb-c.h"

#define ACCOUNT_REGISTERED "oss.v1.AccountRegistered"

void
pj_item_clear(pj_item_t *it) {
    if (it->has_ev)
        oss_event_clear(&it->ev);
    free(it->headers_json);
    memset(it, 0, sizeof *it);
}

oss_code_t
pj_check_schema(const char *s, oss_err_t *err) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40 || (s[0] >= '0' && s[0] <= '9'))
        goto bad;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            goto bad;
    return OSS_OK;
bad:
    return oss_err_field(err, OSS_EINVAL, "projector.schema",
                         "invalid value for \"projector.schema\": \"%s\" is "
                         "not a lower-case identifier of at most 40 "
                         "characters",
                         s ? s : "");
}

/* ---- the stream table of one batch ---- */

typedef struct stream_slot {
    const char *id;  /* borrowed from an event of the batch */
    int64_t applied; /* version applied so far (db, then this batch) */
    int64_t db;      /* version stored before this batch */
} stream_slot_t;

typedef struct stream_map {
    stream_slot_t *slots;
    size_t cap;
} stream_map_t;

static uint64_t
fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static stream_slot_t *
map_get(stream_map_t *m, const char *id, int create) {
    size_t i = (size_t)fnv(id) & (m->cap - 1);
    for (;;) {
        stream_slot_t *s = &m->slots[i];
        if (!s->id) {
            if (!create)
                return NULL;
            s->id = id;
            return s;
        }
        if (strcmp(s->id, id) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

/* ---- appliers ---- */

static const char *
scale_name(int s) {
    switch (s) {
    case OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_UMK:
        return "umk";
    case OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_NON_UMK:
        return "non_umk";
    default:
        return "unspecified";
    }
}

/* Adds the account row of an AccountRegistered event to rows (keyed by
 * account_id, so a later event of the batch wins; its "n" counts the events
 * of the batch applied to the row, added to accounts.apply_count). Returns 0,
 * or -1 with reason set when the payload cannot be applied. */
static int
account_registered(const oss_event_t *ev, json_t *rows, char *reason,
                   size_t rlen) {
    Oss__V1__AccountRegistered *m = oss__v1__account_registered__unpack(
        NULL, ev->payload_len, ev->payload ? ev->payload : (uint8_t *)"");
    int rc = -1;
    if (!m) {
        snprintf(reason, rlen, "payload is not an %s message",
                 ACCOUNT_REGISTERED);
        return -1;
    }
    if (!m->account_id || !m->account_id[0]) {
        snprintf(reason, rlen, "%s without account_id", ACCOUNT_REGISTERED);
        goto done;
    }
    json_int_t count = 1 + json_integer_value(json_object_get(
                               json_object_get(rows, m->account_id), "n"));
    /* region_code (issue 4) is read through the descriptor: an older
     * generated account.pb-c.h may lack it */
    const ProtobufCFieldDescriptor *rfd =
        protobuf_c_message_descriptor_get_field_by_name(m->base.descriptor,
                                                        "region_code");
    const char *region = rfd && rfd->type == PROTOBUF_C_TYPE_STRING
                             ? *(char *const *)((const char *)m + rfd->offset)
                             : NULL;
    json_t *row = json_pack(
        "{s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:s?}", "a",
        m->account_id, "s", ev->stream_id, "sc", scale_name(m->scale), "at",
        m->actor_type, "c", m->country, "tv", m->terms_version, "sub",
        m->subject_id, "t", (json_int_t)ev->occurred_at_us, "v",
        (json_int_t)ev->version, "n", count, "rc",
        region && *region ? region : NULL);
    if (!row) {
        snprintf(reason, rlen, "%s holds text that is not valid UTF-8",
                 ACCOUNT_REGISTERED);
        goto done;
    }
    /* terms and legacy id of later events merged into an earlier row of
     * the same account stay (batch.c, pj_batch_account_update) */
    json_t *prev = json_object_get(rows, m->account_id);
    if (prev) {
        json_t *ta = json_object_get(prev, "ta"),
               *lg = json_object_get(prev, "lg");
        if (ta)
            json_object_set(row, "ta", ta);
        if (lg)
            json_object_set(row, "lg", lg);
    }
    json_object_set_new(rows, m->account_id, row);
    rc = 0;
done:
    oss__v1__account_registered__free_unpacked(m, NULL);
    return rc;
}

/* Dispatches one event to its applier; unknown types change no read model.
 * Returns 0, or -1 with reason when the event cannot be applied. */
static int
apply_one(const oss_event_t *ev, json_t *accounts, char *reason, size_t rlen) {
    if (strcmp(ev->payload_type, ACCOUNT_REGISTERED) == 0)
        return account_registered(ev, accounts, reason, rlen);
    return 0;
}

oss_code_t
pj_dead_letter(pj_ctx_t *c, const pj_item_t *it, const char *kind,
               const char *reason, oss_err_t *err) {
    char part[16], off[24], ver[24];
    char *key = NULL, *val = NULL;
    size_t n;
    const char *p[11] = {0};
    p[0] = c->name;
    p[1] = kind;
    if (it->topic) {
        snprintf(part, sizeof part, "%d", (int)it->partition);
        snprintf(off, sizeof off, "%lld", (long long)it->offset);
        p[2] = it->topic;
        p[3] = part;
        p[4] = off;
    }
    if (it->has_ev) {
        snprintf(ver, sizeof ver, "%lld", (long long)it->ev.version);
        p[5] = it->ev.event_id;
        p[6] = it->ev.stream_id;
        p[7] = ver;
    }
    p[8] = reason;
    if (it->key)
        key = (char *)PQescapeByteaConn(c->conn, it->key, it->klen, &n);
    if (it->val)
        val = (char *)PQescapeByteaConn(c->conn, it->val, it->vlen, &n);
    p[9] = key;
    p[10] = val;
    const char *hp[12];
    memcpy(hp, p, sizeof p);
    hp[11] = it->headers_json;
    oss_code_t rc = pj_cmd(
        c->conn,
        "INSERT INTO oss.dead_letters (consumer, kind, topic, partition, "
        "msg_offset, event_id, stream_id, version, reason, msg_key, payload, "
        "headers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bytea, "
        "$11::bytea, $12::jsonb)",
        12, hp, err);
    if (key)
        PQfreemem(key);
    if (val)
        PQfreemem(val);
    if (rc == OSS_OK) {
        c->dead++;
        oss_warn("dead letter consumer=%s kind=%s topic=%s partition=%s "
                 "offset=%s stream=%s version=%s reason=\"%s\"",
                 c->name, kind, p[2] ? p[2] : "-", p[3] ? p[3] : "-",
                 p[4] ? p[4] : "-", p[6] ? p[6] : "-", p[7] ? p[7] : "-",
                 reason);
    }
    return rc;
}

oss_code_t
pj_mark_applied(pj_ctx_t *c, const char *stream_id, int64_t version,
                oss_err_t *err) {
    char sql[512], v[24];
    snprintf(v, sizeof v, "%lld", (long long)version);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.applied_streams AS a (stream_id, version) "
             "VALUES ($1, $2) ON CONFLICT (stream_id) DO UPDATE SET "
             "version = GREATEST(a.version, excluded.version)",
             c->schema);
    const char *p[2] = {stream_id, v};
    return pj_cmd(c->conn, sql, 2, p, err);
}

/* Loads versions (from, to) exclusive of stream_id from the journal into
 * list (appended), inside the open transaction. */
static oss_code_t
load_gap(pj_ctx_t *c, const char *stream_id, int64_t from, int64_t to,
         oss_event_list_t *list, oss_err_t *err) {
    if (to - from < 2)
        return OSS_OK;
    oss_journal_filter_t f = {.stream_id = stream_id,
                              .version_min = from + 1,
                              .version_max = to - 1,
                              .order = OSS_JOURNAL_ORDER_STREAM};
    return oss_journal_scan_list(c->conn, &f, list, err);
}

/* Runs `sql` (with %s = schema, up to four times) with one jsonb
 * parameter. */
static oss_code_t
upsert_json(pj_ctx_t *c, const char *fmt, json_t *j, oss_err_t *err) {
    char sql[4096];
    snprintf(sql, sizeof sql, fmt, c->schema, c->schema, c->schema, c->schema);
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        return oss_err_set(err, OSS_ENOMEM, "could not encode read-model rows");
    const char *p[1] = {text};
    oss_code_t rc = pj_cmd(c->conn, sql, 1, p, err);
    free(text);
    return rc;
}

static const char APPLIED_UPSERT[] =
    "INSERT INTO %s.applied_streams AS a (stream_id, version) "
    "SELECT x.s, x.v FROM jsonb_to_recordset($1::jsonb) AS x(s text, v "
    "bigint) ON CONFLICT (stream_id) DO UPDATE SET version = "
    "GREATEST(a.version, excluded.version)";

/* Applies ev (the next version of slot, or any version when forced): its
 * rows go into the batch b (batch.c) or, for a rare type, are written at
 * once after b is flushed (apply_access.c). */
static oss_code_t
process(pj_ctx_t *c, pj_item_t *it, const oss_event_t *ev, stream_slot_t *s,
        pj_batch_t *b, oss_err_t *err) {
    char reason[OSS_ERR_MSG_MAX];
    int bad = 0;
    reason[0] = '\0';
    if (pj_access_known(ev->payload_type)) {
        int handled = 0;
        oss_code_t frc =
            pj_apply_access(c, b, ev, &handled, reason, sizeof reason, err);
        if (frc)
            return frc;
        bad = reason[0] != '\0';
    } else {
        bad = apply_one(ev, b->accounts, reason, sizeof reason) != 0;
    }
    if (bad) {
        if (c->redrive)
            return oss_err_set(err, OSS_EINVAL, "%s", reason);
        pj_item_t tmp;
        const pj_item_t *dl = it;
        if (!it || &it->ev != ev) {
            /* an event loaded from the journal to fill a gap */
            memset(&tmp, 0, sizeof tmp);
            tmp.ev = *ev;
            tmp.has_ev = 1;
            tmp.offset = -1;
            dl = &tmp;
        }
        oss_code_t rc = pj_dead_letter(c, dl, "apply", reason, err);
        if (rc)
            return rc;
    } else {
        c->applied++;
    }
    if (ev->version > s->applied)
        s->applied = ev->version;
    return OSS_OK;
}

oss_code_t
pj_apply(pj_ctx_t *c, pj_item_t *items, size_t n, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    stream_map_t map = {0};
    json_t *ids = json_array(), *applied = NULL;
    pj_batch_t batch = {0};
    oss_event_list_t gap = {0};
    PGresult *res = NULL;
    char *text = NULL;
    char sql[512];

    if (!ids) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = pj_batch_init(&batch, err)))
        goto done;
    for (map.cap = 16; map.cap < 2 * n + 2; map.cap <<= 1)
        ;
    if (!(map.slots = calloc(map.cap, sizeof *map.slots))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    size_t nstreams = 0;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].has_ev || items[i].dl_kind)
            continue;
        stream_slot_t *s = map_get(&map, items[i].ev.stream_id, 1);
        if (s->applied == 0 && s->db == 0 && s->id == items[i].ev.stream_id) {
            json_t *str = json_string(items[i].ev.stream_id);
            if (!str) {
                /* not UTF-8: cannot be a stream of ours */
                s->db = -1;
                continue;
            }
            json_array_append_new(ids, str);
            s->db = -2; /* marker: queried */
            nstreams++;
        }
    }
    for (size_t i = 0; i < map.cap; i++)
        if (map.slots[i].id && map.slots[i].db == -2)
            map.slots[i].db = 0;
    /* 1. the versions applied so far (locked against concurrent appliers) */
    if (nstreams == 0)
        goto decide;
    if (!(text = json_dumps(ids, JSON_COMPACT))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(sql, sizeof sql,
             "SELECT a.stream_id, a.version FROM %s.applied_streams a WHERE "
             "a.stream_id IN (SELECT jsonb_array_elements_text($1::jsonb)) "
             "FOR UPDATE",
             c->schema);
    const char *p[1] = {text};
    if (!(res = pj_exec(c->conn, sql, 1, p, err))) {
        rc = err ? err->code : OSS_EINTERNAL;
        goto done;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        stream_slot_t *s = map_get(&map, PQgetvalue(res, r, 0), 0);
        if (s)
            s->db = s->applied = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    }
    PQclear(res);
    res = NULL;

decide:
    /* 2. decide in order: skip, fill a gap, apply */
    for (size_t i = 0; i < n; i++) {
        pj_item_t *it = &items[i];
        if (!it->has_ev || it->dl_kind)
            continue;
        stream_slot_t *s = map_get(&map, it->ev.stream_id, 0);
        if (!s || s->db < 0) {
            if ((rc = pj_dead_letter(c, it, "apply",
                                     "stream id is not valid UTF-8", err)))
                goto done;
            continue;
        }
        int64_t v = it->ev.version;
        if (c->force && v <= s->applied) {
            /* redrive of a version marked applied when it failed; a later
             * version goes the normal way below (gap first), so forcing
             * never marks a version applied that was not */
            if ((rc = process(c, it, &it->ev, s, &batch, err)))
                goto done;
            continue;
        }
        if (v <= s->applied) {
            c->skipped++;
            continue;
        }
        if (v > s->applied + 1) {
            size_t before = gap.len;
            if ((rc = load_gap(c, it->ev.stream_id, s->applied, v, &gap, err)))
                goto done;
            for (size_t g = before; g < gap.len; g++) {
                if (gap.items[g].version != s->applied + 1)
                    break;
                if ((rc = process(c, NULL, &gap.items[g], s, &batch, err)))
                    goto done;
                c->gaps_filled++;
            }
            if (v != s->applied + 1) {
                oss_warn("gap in stream %s: applied %lld, got %lld and the "
                         "journal does not hold the versions between; not "
                         "applied (the journal catch-up will)",
                         it->ev.stream_id, (long long)s->applied, (long long)v);
                continue;
            }
            oss_debug("filled gap in stream %s from the journal up to %lld",
                      it->ev.stream_id, (long long)(v - 1));
        }
        if ((rc = process(c, it, &it->ev, s, &batch, err)))
            goto done;
    }

    /* 3. set-based writes */
    if ((rc = pj_batch_flush(c, &batch, err)))
        goto done;
    applied = json_array();
    for (size_t i = 0; i < map.cap; i++) {
        stream_slot_t *s = &map.slots[i];
        if (s->id && s->db >= 0 && s->applied > s->db)
            json_array_append_new(applied,
                                  json_pack("{s:s, s:I}", "s", s->id, "v",
                                            (json_int_t)s->applied));
    }
    if (json_array_size(applied))
        rc = upsert_json(c, APPLIED_UPSERT, applied, err);
done:
    PQclear(res);
    free(text);
    free(map.slots);
    json_decref(ids);
    pj_batch_free(&batch);
    json_decref(applied);
    oss_event_list_free(&gap);
    return rc;
}

/* The version of stream_id applied in c's schema (0: none), locked. */
static oss_code_t
applied_version(pj_ctx_t *c, const char *stream_id, int64_t *out,
                oss_err_t *err) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT version FROM %s.applied_streams WHERE stream_id = $1 "
             "FOR UPDATE",
             c->schema);
    const char *p[1] = {stream_id};
    PGresult *res = pj_exec(c->conn, sql, 1, p, err);
    if (!res)
        return err ? err->code : OSS_EINTERNAL;
    *out = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return OSS_OK;
}

/* One savepoint per item, released whether the item applied or was rolled
 * back. After a failure the item is dead-lettered; its version is marked
 * applied only when it is the stream's next one (applied + 1): that very
 * version is now in the dead letters (`oss dlq redrive` applies it, forced),
 * and marking it lets the stream go on. A larger version is NOT marked: the
 * rollback also undid the gap filling (versions applied + 1 .. v - 1 from
 * the journal), and marking v would record those as applied though they
 * were neither applied nor dead-lettered. They stay unapplied, so the next
 * event of the stream, the journal catch-up or the redrive fills the gap
 * first. */
oss_code_t
pj_apply_each(pj_ctx_t *c, pj_item_t *items, size_t n, oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    for (size_t i = 0; i < n; i++) {
        pj_item_t *it = &items[i];
        if (!it->has_ev || it->dl_kind)
            continue;
        if ((rc = pj_cmd(c->conn, "SAVEPOINT one", 0, NULL, err)))
            return rc;
        oss_err_t e = {0};
        if (pj_apply(c, it, 1, &e) == OSS_OK) {
            if ((rc = pj_cmd(c->conn, "RELEASE SAVEPOINT one", 0, NULL, err)))
                return rc;
            continue;
        }
        if (e.code == OSS_EUNAVAIL)
            return oss_err_set(err, e.code, "%s", e.msg);
        int64_t applied = 0;
        if ((rc = pj_cmd(c->conn, "ROLLBACK TO SAVEPOINT one", 0, NULL, err)) ||
            (rc = pj_cmd(c->conn, "RELEASE SAVEPOINT one", 0, NULL, err)) ||
            (rc = pj_dead_letter(c, it, "apply", e.msg, err)) ||
            (rc = applied_version(c, it->ev.stream_id, &applied, err)))
            return rc;
        if (it->ev.version == applied + 1) {
            if ((rc =
                     pj_mark_applied(c, it->ev.stream_id, it->ev.version, err)))
                return rc;
        } else if (it->ev.version > applied + 1) {
            oss_warn("stream %s: version %lld dead-lettered while %lld is the "
                     "last applied; not marked applied (the versions between "
                     "are applied first)",
                     it->ev.stream_id, (long long)it->ev.version,
                     (long long)applied);
        }
    }
    return rc;
}

static int
chunk_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    pj_chunk_t *cr = ctx;
    if (!cr->items &&
        !(cr->items = calloc((size_t)cr->cap, sizeof *cr->items))) {
        oss_err_set(err, OSS_ENOMEM, "out of memory");
        return -1;
    }
    if (cr->n >= cr->cap)
        return 1; /* cannot happen: the scan's limit is cap */
    cr->read++;
    cr->last = oss_journal_cursor_of(row);
    if (row->malformed) {
        /* the relay does not publish it either: no read model can hold it */
        oss_error("journal position %" PRId64 " cannot be applied (%s); it "
                  "is skipped",
                  row->ev.position, row->malformed);
        return 0;
    }
    pj_item_t *it = &cr->items[cr->n];
    it->offset = -1;
    if (oss_event_copy(&it->ev, &row->ev, err))
        return -1;
    it->has_ev = 1;
    cr->n++;
    return 0;
}

void
pj_chunk_free(pj_chunk_t *ch) {
    if (ch->items) {
        for (int r = 0; r < ch->n; r++)
            pj_item_clear(&ch->items[r]);
        free(ch->items);
    }
    memset(ch, 0, sizeof *ch);
}

oss_code_t
pj_chunk_read(PGconn *conn, const oss_journal_cursor_t *after, int chunk,
              pj_chunk_t *out, oss_err_t *err) {
    memset(out, 0, sizeof *out);
    out->cap = chunk < 1 ? 1 : chunk;
    out->last = *after;
    oss_journal_cursor_t from = *after;
    oss_journal_filter_t f = {.after = &from,
                              .below_horizon = 1,
                              .order = OSS_JOURNAL_ORDER_COMMIT,
                              .limit = out->cap,
                              .deliver_malformed = 1};
    oss_code_t rc = oss_journal_scan(conn, &f, chunk_row, out, NULL, err);
    if (rc)
        pj_chunk_free(out);
    return rc;
}

/* Applies ch and moves c->name's cursor in c's schema past it, inside the
 * open transaction. */
static oss_code_t
chunk_apply_in_tx(pj_ctx_t *c, const pj_chunk_t *ch, oss_err_t *err) {
    char sql[512], xid[32], pos[24];
    oss_code_t rc;
    if (ch->read == 0)
        return OSS_OK;
    if (ch->n > 0 && (rc = pj_apply(c, ch->items, (size_t)ch->n, err)))
        return rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.catchup AS k (name, xid, position) VALUES ($1, "
             "$2::xid8, $3) ON CONFLICT (name) DO UPDATE SET xid = "
             "excluded.xid, position = excluded.position, updated_at = now()",
             c->schema);
    snprintf(xid, sizeof xid, "%" PRIu64, ch->last.xid);
    snprintf(pos, sizeof pos, "%" PRId64, ch->last.position);
    const char *p[3] = {c->name, xid, pos};
    return pj_cmd(c->conn, sql, 3, p, err);
}

oss_code_t
pj_chunk_apply(pj_ctx_t *c, const pj_chunk_t *ch, oss_err_t *err) {
    oss_code_t rc = pj_cmd(c->conn, "BEGIN", 0, NULL, err);
    if (rc)
        return rc;
    if ((rc = chunk_apply_in_tx(c, ch, err)) == OSS_OK)
        return pj_cmd(c->conn, "COMMIT", 0, NULL, err);
    pj_rollback(c->conn);
    return rc;
}

oss_code_t
pj_journal_chunk(pj_ctx_t *c, int chunk, int flags, int64_t *nread,
                 oss_err_t *err) {
    int lock_swap = flags & PJ_CHUNK_LOCK_SWAP;
    int own_tx = !(flags & PJ_CHUNK_IN_TX);
    oss_code_t rc = OSS_OK;
    PGresult *res = NULL;
    pj_chunk_t cr = {0};
    char sql[512];
    const char *p[1];
    oss_journal_cursor_t after = {0, 0};

    *nread = 0;
    if (own_tx && (rc = pj_cmd(c->conn, "BEGIN", 0, NULL, err)))
        return rc;
    if (lock_swap) {
        const char *sp[1] = {c->schema};
        if ((rc = pj_cmd(c->conn,
                         "SELECT pg_advisory_xact_lock_shared(7303, "
                         "hashtext($1))",
                         1, sp, err)))
            goto done;
    }
    snprintf(sql, sizeof sql,
             "SELECT xid::text, position FROM %s.catchup WHERE name = $1 FOR "
             "UPDATE",
             c->schema);
    p[0] = c->name;
    if (!(res = pj_exec(c->conn, sql, 1, p, err))) {
        rc = err ? err->code : OSS_EINTERNAL;
        goto done;
    }
    if (PQntuples(res) == 1) {
        after.xid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        after.position = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    res = NULL;
    if ((rc = pj_chunk_read(c->conn, &after, chunk, &cr, err)) ||
        (rc = chunk_apply_in_tx(c, &cr, err)))
        goto done;
done:
    PQclear(res);
    if (own_tx) {
        if (rc == OSS_OK)
            rc = pj_cmd(c->conn, "COMMIT", 0, NULL, err);
        else
            pj_rollback(c->conn);
    }
    if (rc == OSS_OK)
        *nread = cr.read;
    pj_chunk_free(&cr);
    return rc;
}
