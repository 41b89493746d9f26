/* Dead letters of the projector: listing and redriving. A redrive verifies
 * the message again (signature under the current keyring, envelope), then
 * applies it in its own transaction: dead letters of kind "apply" are
 * applied even though their version was marked applied when they failed
 * (force; a version not marked goes the normal way, gap first), the others
 * go through the normal dedupe (an event applied
 * meanwhile from the journal resolves as such). Dead letters recorded from
 * the journal (no Kafka offset) are re-read from the journal. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "log/log.h"
#include "projector.h"
#include "projector_int.h"

/* The applier context of cfg, connected to pg.url (caller PQfinish()es
 * c->conn, which may be NULL on failure). */
static oss_code_t
ctx_open(const oss_config_t *cfg, pj_ctx_t *c, oss_err_t *err) {
    oss_code_t rc = pj_ctx_init(cfg, c, err);
    if (rc)
        return rc;
    return pj_connect(oss_config_str(cfg, "pg.url"), &c->conn, err);
}

oss_code_t
oss_dlq_list(const oss_config_t *cfg, FILE *out, oss_err_t *err) {
    pj_ctx_t c;
    oss_code_t rc = ctx_open(cfg, &c, err);
    if (rc)
        return rc;
    const char *p[1] = {c.name};
    PGresult *res = pj_exec(
        c.conn,
        "SELECT id, to_char(created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), kind, coalesce(topic || '/' || "
        "partition || '/' || msg_offset, 'journal'), coalesce(stream_id, "
        "'key:' || encode(msg_key, 'escape'), '-'), coalesce(version::text, "
        "'-'), CASE WHEN resolved_at IS NOT "
        "NULL THEN 'resolved' ELSE 'open' END, attempts, reason FROM "
        "oss.dead_letters WHERE consumer = $1 ORDER BY (resolved_at IS NOT "
        "NULL), id",
        1, p, err);
    if (!res) {
        rc = err ? err->code : OSS_EUNAVAIL;
        goto done;
    }
    fprintf(out, "%-6s %-20s %-9s %-24s %-40s %-7s %-8s %-3s %s\n", "ID",
            "CREATED", "KIND", "SOURCE", "STREAM", "VERSION", "STATE", "TRY",
            "REASON");
    for (int i = 0; i < PQntuples(res); i++)
        fprintf(out, "%-6s %-20s %-9s %-24s %-40s %-7s %-8s %-3s %s\n",
                PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
                PQgetvalue(res, i, 8));
    PQclear(res);
done:
    PQfinish(c.conn);
    return rc;
}

/* Copies header `name` (a plain string in the headers JSON) into out. */
static int
header(json_t *h, const char *name, char *out, size_t n) {
    const char *v = json_string_value(json_object_get(h, name));
    if (!v || strncmp(v, "hex:", 4) == 0 || strlen(v) >= n)
        return 0;
    snprintf(out, n, "%s", v);
    return 1;
}

/* Rebuilds the item of dead-letter row r; 0 or -1 with reason. */
static int
rebuild_item(pj_ctx_t *c, const oss_keyring_t *ring, PGresult *res, int r,
             pj_item_t *it, unsigned char **key, unsigned char **val,
             char *reason, size_t rlen) {
    memset(it, 0, sizeof *it);
    it->offset = -1;
    if (PQgetisnull(res, r, 4)) {
        /* recorded from the journal: read the event again */
        int64_t version = strtoll(PQgetvalue(res, r, 6), NULL, 10);
        oss_journal_filter_t f = {.stream_id = PQgetvalue(res, r, 5),
                                  .version_min = version,
                                  .version_max = version,
                                  .order = OSS_JOURNAL_ORDER_STREAM};
        oss_event_list_t found = {0};
        oss_err_t e = {0};
        oss_code_t rc = version >= 1
                            ? oss_journal_scan_list(c->conn, &f, &found, &e)
                            : OSS_OK;
        if (rc == OSS_OK && found.len != 1) {
            snprintf(reason, rlen, "event not found in the journal");
            oss_event_list_free(&found);
            return -1;
        }
        if (rc) {
            snprintf(reason, rlen, "event not found in the journal: %.160s",
                     e.msg);
            oss_event_list_free(&found);
            return -1;
        }
        it->ev = found.items[0]; /* takes ownership */
        memset(&found.items[0], 0, sizeof found.items[0]);
        oss_event_list_free(&found);
        it->has_ev = 1;
        return 0;
    }
    size_t kl = 0, vl = 0;
    if (!PQgetisnull(res, r, 7))
        *key = PQunescapeBytea((unsigned char *)PQgetvalue(res, r, 7), &kl);
    if (!PQgetisnull(res, r, 8))
        *val = PQunescapeBytea((unsigned char *)PQgetvalue(res, r, 8), &vl);
    it->topic = PQgetvalue(res, r, 2);
    it->partition = atoi(PQgetvalue(res, r, 3));
    it->offset = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    it->key = *key;
    it->klen = kl;
    it->val = *val;
    it->vlen = vl;
    char ce_id[128], sig[80];
    json_t *h = json_loads(PQgetvalue(res, r, 9), 0, NULL);
    int have = h && header(h, "ce_id", ce_id, sizeof ce_id) &&
               header(h, OSS_BUS_SIG_HEADER, sig, sizeof sig);
    json_decref(h);
    if (!have) {
        snprintf(reason, rlen, "message has no %s or ce_id header",
                 OSS_BUS_SIG_HEADER);
        return -1;
    }
    if (!oss_bus_verify(ring, ce_id, *key, kl, *val, vl, sig)) {
        snprintf(reason, rlen, "%s does not verify under the bus signing keys",
                 OSS_BUS_SIG_HEADER);
        return -1;
    }
    oss_err_t e = {0};
    if (oss_envelope_decode(*val, vl, &it->ev, &e) != OSS_OK) {
        snprintf(reason, rlen, "%s", e.msg);
        return -1;
    }
    it->has_ev = 1;
    if (!it->ev.stream_id[0] || it->ev.version < 1) {
        snprintf(reason, rlen, "invalid envelope: no stream id or version");
        return -1;
    }
    return 0;
}

/* Records a failed redrive attempt of dead letter id. */
static oss_code_t
record_failure(pj_ctx_t *c, const char *id, const char *reason,
               oss_err_t *err) {
    const char *p[2] = {id, reason};
    return pj_cmd(c->conn,
                  "UPDATE oss.dead_letters SET reason = $2, attempts = "
                  "attempts + 1, redriven_at = now() WHERE id = $1",
                  2, p, err);
}

oss_code_t
oss_dlq_redrive_ex(const oss_config_t *cfg, int64_t id_or_all, FILE *out,
                   int64_t *resolved, int64_t *failed, oss_err_t *err) {
    pj_ctx_t c;
    oss_keyring_t ring;
    PGresult *res = NULL;
    int64_t ok_n = 0, bad_n = 0;
    char idtext[24];
    oss_code_t rc;

    if ((rc = oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"),
                               &ring, err)))
        return rc;
    if ((rc = ctx_open(cfg, &c, err)))
        return rc;
    c.redrive = 1;
    snprintf(idtext, sizeof idtext, "%lld", (long long)id_or_all);
    const char *p[2] = {c.name, idtext};
    if (!(res = pj_exec(c.conn,
                        "SELECT id, kind, topic, partition, msg_offset, "
                        "stream_id, version, msg_key, payload, "
                        "coalesce(headers::text, '{}') FROM oss.dead_letters "
                        "WHERE consumer = $1 AND resolved_at IS NULL AND "
                        "($2::bigint = 0 OR id = $2::bigint) ORDER BY id",
                        2, p, err))) {
        rc = err ? err->code : OSS_EUNAVAIL;
        goto done;
    }
    if (id_or_all != OSS_DLQ_ALL && PQntuples(res) == 0) {
        rc = oss_err_set(err, OSS_ENOTFOUND,
                         "no unresolved dead letter %lld for consumer \"%s\"",
                         (long long)id_or_all, c.name);
        goto done;
    }
    const char *sp[1] = {c.schema};
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        pj_item_t it;
        memset(&it, 0, sizeof it);
        unsigned char *key = NULL, *val = NULL;
        char reason[OSS_ERR_MSG_MAX] = "";
        oss_err_t e = {0};
        oss_code_t arc;
        int64_t applied0 = c.applied;

        if ((rc = pj_cmd(c.conn, "BEGIN", 0, NULL, err)))
            goto done;
        if ((arc = pj_cmd(c.conn,
                          "SELECT pg_advisory_xact_lock_shared(7303, "
                          "hashtext($1))",
                          1, sp, &e)) == OSS_OK) {
            if (rebuild_item(&c, &ring, res, r, &it, &key, &val, reason,
                             sizeof reason) == 0) {
                c.force = strcmp(PQgetvalue(res, r, 1), "apply") == 0 ||
                          it.offset < 0;
                arc = pj_apply(&c, &it, 1, &e);
                if (arc)
                    snprintf(reason, sizeof reason, "%s", e.msg);
            } else {
                arc = OSS_ECORRUPT;
            }
            pj_item_clear(&it);
        } else {
            snprintf(reason, sizeof reason, "%s", e.msg);
        }
        if (key)
            PQfreemem(key);
        if (val)
            PQfreemem(val);
        if (arc == OSS_EUNAVAIL) {
            rc = oss_err_set(err, arc, "%s", reason);
            goto done;
        }
        if (arc == OSS_OK) {
            const char *up[1] = {id};
            rc = pj_cmd(c.conn,
                        "UPDATE oss.dead_letters SET resolved_at = now(), "
                        "redriven_at = now(), attempts = attempts + 1 WHERE "
                        "id = $1",
                        1, up, err);
            if (rc == OSS_OK)
                rc = pj_cmd(c.conn, "COMMIT", 0, NULL, err);
            if (rc)
                goto done;
            ok_n++;
            if (out)
                fprintf(out, "%s resolved (%s)\n", id,
                        c.applied > applied0 ? "applied" : "already applied");
        } else {
            pj_rollback(c.conn);
            if ((rc = record_failure(&c, id, reason, err)))
                goto done;
            bad_n++;
            if (out)
                fprintf(out, "%s still failing: %s\n", id, reason);
        }
    }
    oss_info("dead-letter redrive consumer=%s resolved=%lld failing=%lld",
             c.name, (long long)ok_n, (long long)bad_n);
done:
    pj_rollback(c.conn);
    PQclear(res);
    PQfinish(c.conn);
    if (resolved)
        *resolved = ok_n;
    if (failed)
        *failed = bad_n;
    return rc;
}

oss_code_t
oss_dlq_redrive(const oss_config_t *cfg, int64_t id_or_all, oss_err_t *err) {
    return oss_dlq_redrive_ex(cfg, id_or_all, NULL, NULL, NULL, err);
}
