/* Terms of use as versioned data (terms.h): the cached look-up of a
 * version in force and its acceptance by an account (TermsAccepted). */
#include "app/terms.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cmd.h"
#include "core/account.h"
#include "core/clock.h"
#include "db/db.h"
#include "oss/v1/account.pb-c.h"

#define TERMS_MAX 64
#define TERMS_TTL_MS 10000
#define TERMS_MISS_MS 1000

typedef struct terms_entry {
    char version[33];
    char sha256[65];
} terms_entry_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static terms_entry_t cache[TERMS_MAX];
static size_t ncache;
static int64_t loaded_ms = -1; /* monotonic; -1 = never */

/* Re-reads the table into the cache (cache_mu held). */
static oss_code_t
cache_load(PGconn *c, oss_err_t *err) {
    /* a version published for a later date is not in force yet */
    PGresult *r = PQexec(c, "SELECT version, sha256 FROM oss.terms_versions "
                            "WHERE published_at <= now() "
                            "ORDER BY published_at DESC LIMIT 64");
    oss_code_t rc = OSS_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = oss_db_error(c, r, "read the terms of use versions", err);
        goto done;
    }
    ncache = 0;
    for (int i = 0; i < PQntuples(r) && ncache < TERMS_MAX; i++, ncache++) {
        snprintf(cache[ncache].version, sizeof cache[ncache].version, "%s",
                 PQgetvalue(r, i, 0));
        snprintf(cache[ncache].sha256, sizeof cache[ncache].sha256, "%s",
                 PQgetvalue(r, i, 1));
    }
    loaded_ms = oss_mono_ms();
done:
    PQclear(r);
    return rc;
}

static bool
cache_find(const char *version, char *sha256) {
    for (size_t i = 0; i < ncache; i++)
        if (!strcmp(cache[i].version, version)) {
            memcpy(sha256, cache[i].sha256, 65);
            return true;
        }
    return false;
}

oss_code_t
oss_app_terms_lookup(PGconn *c, const char *version, char *sha256,
                     oss_err_t *err) {
    oss_code_t rc = OSS_OK;
    pthread_mutex_lock(&cache_mu);
    int64_t now = oss_mono_ms();
    bool stale = loaded_ms < 0 || now - loaded_ms > TERMS_TTL_MS;
    if (!stale && cache_find(version, sha256))
        goto done;
    if (stale || now - loaded_ms > TERMS_MISS_MS) {
        oss_err_t e;
        oss_err_clear(&e);
        if (cache_load(c, &e) != OSS_OK && loaded_ms < 0) {
            rc = oss_err_set(err, OSS_EUNAVAIL, "%s", e.msg);
            goto done;
        }
    }
    if (!cache_find(version, sha256))
        rc = oss_err_set(err, OSS_ENOTFOUND,
                         "terms of use version \"%s\" is not published",
                         version);
done:
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

/* ---- acceptance ---------------------------------------------------------- */

typedef struct accept {
    const oss_app_terms_accept_t *in;
    uint8_t *payload;
    size_t payload_len;
} accept_t;

/* Whether the account's stream (history) registered the account and which
 * versions it already accepted: AccountRegistered.terms_version and every
 * TermsAccepted. */
static oss_code_t
decide_accept(void *vctx, const oss_event_t *history, size_t n,
              oss_event_list_t *out, oss_err_t *err) {
    accept_t *a = vctx;
    bool registered = false, accepted = false;

    for (size_t i = 0; i < n; i++) {
        const oss_event_t *ev = &history[i];
        if (!strcmp(ev->payload_type, OSS_ACCOUNT_REGISTERED)) {
            Oss__V1__AccountRegistered *m = oss__v1__account_registered__unpack(
                NULL, ev->payload_len, ev->payload);
            registered = true;
            if (m && m->terms_version &&
                !strcmp(m->terms_version, a->in->version))
                accepted = true;
            oss__v1__account_registered__free_unpacked(m, NULL);
        } else if (!strcmp(ev->payload_type, "oss.v1.TermsAccepted")) {
            Oss__V1__TermsAccepted *m = oss__v1__terms_accepted__unpack(
                NULL, ev->payload_len, ev->payload);
            if (m && m->version && !strcmp(m->version, a->in->version))
                accepted = true;
            oss__v1__terms_accepted__free_unpacked(m, NULL);
        }
    }
    if (!registered) {
        return oss_err_coded(err, OSS_ENOTFOUND, OSS_APP_REASON_NOT_REGISTERED,
                             "no such account");
    }
    if (accepted) {
        return oss_err_coded(err, OSS_EDUPLICATE,
                             OSS_APP_REASON_ALREADY_ACCEPTED,
                             "terms of use version \"%s\" are already "
                             "accepted for this account",
                             a->in->version);
    }
    oss_event_t *ev = oss_event_list_push(out);
    if (!ev)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    snprintf(ev->payload_type, sizeof ev->payload_type, "oss.v1.TermsAccepted");
    ev->schema_version = 1;
    ev->payload = malloc(a->payload_len ? a->payload_len : 1);
    if (!ev->payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    memcpy(ev->payload, a->payload, a->payload_len);
    ev->payload_len = a->payload_len;
    return OSS_OK;
}

oss_code_t
oss_app_terms_accept(oss_journal_t *j, oss_app_terms_accept_t *in,
                     oss_err_t *err) {
    Oss__V1__TermsAccepted m = OSS__V1__TERMS_ACCEPTED__INIT;
    accept_t a = {.in = in};
    oss_command_t c;
    char stream[OSS_ID_MAX];
    oss_code_t rc = OSS_OK;

    memset(&c, 0, sizeof c);
    in->outcome = OSS_JOURNAL_REJECTED;
    in->last_version = 0;
    oss_err_clear(&in->err);
    m.account_id = (char *)in->account_id;
    m.version = (char *)in->version;
    m.principal_id = (char *)in->principal_id;
    m.sha256 = in->sha256;
    a.payload_len = oss__v1__terms_accepted__get_packed_size(&m);
    a.payload = malloc(a.payload_len ? a.payload_len : 1);
    if (!a.payload)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    oss__v1__terms_accepted__pack(&m, a.payload);
    snprintf(stream, sizeof stream, "account-%s", in->account_id);
    c.stream_id = stream;
    c.stream_type = OSS_ACCOUNT_STREAM_TYPE;
    c.expected_version = -1;
    c.actor_kind = OSS_ACTOR_BUSINESS_USER;
    c.actor_id = in->principal_id;
    c.correlation_id = in->correlation_id;
    c.decide = decide_accept;
    c.ctx = &a;
    if ((rc = oss_app_cmd_execute(j, &c, err)) != OSS_OK)
        goto done;
    in->outcome = c.outcome;
    in->err = c.err;
    in->last_version = c.last_version;
done:
    oss_event_list_free(&c.events);
    free(c.replay_response);
    free(a.payload);
    return rc;
}
