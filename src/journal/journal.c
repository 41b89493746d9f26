/* The journal: connection handling, loading streams, the hash chain and
 * verification. The write path (group commit) is in execute.c. See
 * README.md here for the canonical layout and the transaction order.
 * Thread-safety: one oss_journal_t per thread. */
#include "journal/journal_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

oss_code_t
oss_journal_open(const char *conninfo, oss_journal_t **out, oss_err_t *err) {
    oss_code_t rc;
    oss_journal_t *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j || !(j->conninfo = strdup(conninfo ? conninfo : ""))) {
        free(j);
        return oss_err_set(err, OSS_ENOMEM,
                           "could not open the journal: out of memory");
    }
    if ((rc = oss_db_connect(j->conninfo, "oss-journal", &j->conn, err))) {
        free(j->conninfo);
        free(j);
        return rc;
    }
    *out = j;
    return OSS_OK;
}

void
oss_journal_free(oss_journal_t *j) {
    if (!j)
        return;
    if (j->conn)
        PQfinish(j->conn);
    journal_ps_clear(j);
    free(j->conninfo);
    free(j);
}

struct pg_conn *
oss_journal_conn(oss_journal_t *j) {
    /* after a lost connection, try once to hand out a working one */
    if (!j->conn || PQstatus(j->conn) != CONNECTION_OK)
        (void)journal_reconnect(j, NULL);
    return j->conn;
}

oss_code_t
journal_reconnect(oss_journal_t *j, oss_err_t *err) {
    if (j->conn)
        PQfinish(j->conn);
    j->conn = NULL;
    journal_ps_clear(j);
    return oss_db_connect(j->conninfo, "oss-journal", &j->conn, err);
}

oss_code_t
journal_ensure(oss_journal_t *j, oss_err_t *err) {
    if (j->conn && PQstatus(j->conn) == CONNECTION_OK)
        return OSS_OK;
    return journal_reconnect(j, err);
}

oss_code_t
oss_journal_ping(oss_journal_t *j, oss_err_t *err) {
    oss_code_t rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = journal_ensure(j, err)))
            return rc;
        PGresult *r = PQexec(j->conn, "SELECT 1");
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK) {
            PQclear(r);
            return OSS_OK;
        }
        bool lost = oss_db_conn_lost(j->conn, r);
        rc = oss_db_error(j->conn, r, "ping PostgreSQL", err);
        PQclear(r);
        if (!lost)
            return rc;
        /* a connection that broke while idle: reconnect once */
        if (j->conn)
            PQfinish(j->conn);
        j->conn = NULL;
    }
    return oss_err_set(err, OSS_EUNAVAIL,
                       "could not ping PostgreSQL: connection lost");
}

/* ---- the hash chain ---------------------------------------------------- */

void
oss_journal_hash(oss_event_t *ev) {
    uint8_t *buf = NULL;
    size_t len = 0;
    unsigned int hl = OSS_HASH_LEN;
    if (oss_event_canonical(ev, &buf, &len, NULL) != OSS_OK ||
        EVP_Digest(buf, len, ev->hash, &hl, EVP_sha256(), NULL) != 1) {
        /* out of memory or a broken libcrypto: leave a hash that can never
         * verify rather than a plausible one */
        memset(ev->hash, 0, sizeof ev->hash);
    }
    free(buf);
}

/* ---- reading rows ------------------------------------------------------ */

const char *const journal_select_cols =
    "position, event_id::text, stream_id, stream_type, version,"
    " (extract(epoch from occurred_at) * 1000000)::bigint,"
    " (extract(epoch from recorded_at) * 1000000)::bigint,"
    " actor_kind, actor_id, correlation_id, causation_id, cause_id, reason,"
    " software_version, payload_type, schema_version, payload, prev_hash,"
    " hash";

static int
copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int
copy_bytes(const char *text, uint8_t **out, size_t *out_len) {
    size_t n = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)text, &n);
    if (!b)
        return -1;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        PQfreemem(b);
        return -1;
    }
    memcpy(p, b, n);
    PQfreemem(b);
    *out = p;
    *out_len = n;
    return 0;
}

static int
copy_hash(const char *text, uint8_t out[OSS_HASH_LEN]) {
    uint8_t *p = NULL;
    size_t n = 0;
    if (copy_bytes(text, &p, &n))
        return -1;
    int rc = n == OSS_HASH_LEN ? 0 : -1;
    if (!rc)
        memcpy(out, p, OSS_HASH_LEN);
    free(p);
    return rc;
}

oss_code_t
journal_row_to_event(const PGresult *r, int row, oss_event_t *ev,
                     oss_err_t *err) {
    memset(ev, 0, sizeof *ev);
    ev->position = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    if (copy_str(ev->event_id, sizeof ev->event_id, PQgetvalue(r, row, 1)) ||
        copy_str(ev->stream_id, sizeof ev->stream_id, PQgetvalue(r, row, 2)) ||
        copy_str(ev->stream_type, sizeof ev->stream_type,
                 PQgetvalue(r, row, 3)))
        goto toolong;
    ev->version = strtoll(PQgetvalue(r, row, 4), NULL, 10);
    ev->occurred_at_us = strtoll(PQgetvalue(r, row, 5), NULL, 10);
    ev->recorded_at_us = strtoll(PQgetvalue(r, row, 6), NULL, 10);
    ev->actor_kind = (oss_actor_kind_t)atoi(PQgetvalue(r, row, 7));
    if (copy_str(ev->actor_id, sizeof ev->actor_id, PQgetvalue(r, row, 8)) ||
        copy_str(ev->correlation_id, sizeof ev->correlation_id,
                 PQgetvalue(r, row, 9)) ||
        copy_str(ev->causation_id, sizeof ev->causation_id,
                 PQgetvalue(r, row, 10)) ||
        copy_str(ev->cause_id, sizeof ev->cause_id, PQgetvalue(r, row, 11)))
        goto toolong;
    if (!PQgetisnull(r, row, 12) &&
        !(ev->reason = strdup(PQgetvalue(r, row, 12))))
        goto oom;
    if (copy_str(ev->software_version, sizeof ev->software_version,
                 PQgetvalue(r, row, 13)) ||
        copy_str(ev->payload_type, sizeof ev->payload_type,
                 PQgetvalue(r, row, 14)))
        goto toolong;
    ev->schema_version = (int32_t)atoi(PQgetvalue(r, row, 15));
    if (copy_bytes(PQgetvalue(r, row, 16), &ev->payload, &ev->payload_len))
        goto oom;
    if (copy_hash(PQgetvalue(r, row, 17), ev->prev_hash) ||
        copy_hash(PQgetvalue(r, row, 18), ev->hash)) {
        oss_event_clear(ev);
        return oss_err_set(err, OSS_ECORRUPT,
                           "journal row at position %s has a malformed hash",
                           PQgetvalue(r, row, 0));
    }
    return OSS_OK;
toolong:
    oss_event_clear(ev);
    return oss_err_set(err, OSS_ECORRUPT,
                       "journal row at position %s has a field longer than "
                       "the event layout allows",
                       PQgetvalue(r, row, 0));
oom:
    oss_event_clear(ev);
    return oss_err_set(err, OSS_ENOMEM, "could not load event: out of memory");
}

oss_code_t
oss_journal_load(oss_journal_t *j, const char *stream_id, oss_event_list_t *out,
                 oss_err_t *err) {
    char sql[1024];
    oss_code_t rc = OSS_OK;
    PGresult *r = NULL;
    snprintf(sql, sizeof sql,
             "SELECT %s FROM oss.journal WHERE stream_id = $1"
             " ORDER BY version",
             journal_select_cols);
    const char *params[1] = {stream_id};
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = journal_ensure(j, err)))
            return rc;
        r = PQexecParams(j->conn, sql, 1, NULL, params, NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
            break;
        bool lost = oss_db_conn_lost(j->conn, r);
        rc = oss_db_error(j->conn, r, "load stream", err);
        PQclear(r);
        r = NULL;
        if (!lost)
            return rc;
        PQfinish(j->conn);
        j->conn = NULL;
    }
    if (!r)
        return rc;
    rc = OSS_OK;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        oss_event_t *ev = oss_event_list_push(out);
        if (!ev) {
            rc = oss_err_set(err, OSS_ENOMEM,
                             "could not load stream: out of memory");
            goto done;
        }
        if ((rc = journal_row_to_event(r, i, ev, err))) {
            out->len--;
            goto done;
        }
    }
done:
    PQclear(r);
    return rc;
}

/* ---- verification ------------------------------------------------------ */

static const uint8_t zero_hash[OSS_HASH_LEN];

oss_code_t
oss_journal_verify_stream(oss_journal_t *j, const char *stream_id,
                          int64_t *bad_version, oss_err_t *err) {
    oss_event_list_t evs = {0};
    oss_code_t rc;
    if (bad_version)
        *bad_version = 0;
    if ((rc = oss_journal_load(j, stream_id, &evs, err)))
        goto done;
    const uint8_t *prev = zero_hash;
    for (size_t i = 0; i < evs.len; i++) {
        oss_event_t *ev = &evs.items[i];
        int64_t want = (int64_t)i + 1;
        const char *why = NULL;
        int64_t bad = ev->version;
        if (ev->version != want) {
            why = "version missing";
            bad = want;
        } else if (memcmp(ev->prev_hash, prev, OSS_HASH_LEN) != 0) {
            why = "previous hash does not match the previous event";
        } else {
            uint8_t stored[OSS_HASH_LEN];
            memcpy(stored, ev->hash, OSS_HASH_LEN);
            oss_journal_hash(ev);
            if (memcmp(stored, ev->hash, OSS_HASH_LEN) != 0)
                why = "hash does not match the event's content";
            memcpy(ev->hash, stored, OSS_HASH_LEN);
        }
        if (why) {
            if (bad_version)
                *bad_version = bad;
            rc = oss_err_set(err, OSS_ECORRUPT,
                             "hash chain of stream \"%s\" is broken at "
                             "version %lld: %s",
                             stream_id, (long long)bad, why);
            goto done;
        }
        prev = ev->hash;
    }
done:
    oss_event_list_free(&evs);
    return rc;
}
