/* The journal: loading a stream and verifying its hash chain. Connection
 * handling is in conn.c, the hash in hash.c, reads in scan.c (decoded by
 * row.c), the write path (group commit) in execute.c. See README.md here for
 * the canonical layout and the transaction order.
 * Thread-safety: one oss_journal_t per thread. */
#include "journal/journal_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/scan.h"

oss_code_t
oss_journal_load(oss_journal_t *j, const char *stream_id, oss_event_list_t *out,
                 oss_err_t *err) {
    oss_journal_filter_t f = {.stream_id = stream_id,
                              .order = OSS_JOURNAL_ORDER_STREAM};
    oss_code_t rc = OSS_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = journal_ensure(j, err)))
            return rc;
        size_t before = out->len;
        rc = oss_journal_scan_list(j->conn, &f, out, err);
        if (rc == OSS_OK || PQstatus(j->conn) == CONNECTION_OK)
            return rc;
        /* a connection that broke while idle: drop what was read, reconnect
         * once */
        while (out->len > before)
            oss_event_clear(&out->items[--out->len]);
        PQfinish(j->conn);
        j->conn = NULL;
        journal_ps_clear(j);
    }
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
