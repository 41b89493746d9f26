/* `oss audit history`: one stream's events, personal fields sealed or masked,
 * followed by its hash-chain verdict. */
#include "audit.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "oss/v1/account.pb-c.h"

void
oss_audit_mask(const char *kind, const char *value, char *out, size_t outlen)
{
    size_t n = strlen(value), o = 0;
    if (outlen == 0)
        return;
#define PUT(c)                                                                 \
    do {                                                                       \
        if (o + 1 < outlen)                                                    \
            out[o++] = (c);                                                    \
    } while (0)
    if (strcmp(kind, "nik") == 0 || strcmp(kind, "phone") == 0) {
        size_t head = strcmp(kind, "nik") == 0 ? 4 : 3, tail = 4;
        for (size_t i = 0; i < n; i++)
            PUT(n > head + tail && i >= head && i < n - tail ? '*' : value[i]);
        if (n <= head + tail) /* too short to show anything safely */
            for (o = 0; o < n;)
                PUT('*');
    } else if (strcmp(kind, "email") == 0) {
        const char *at = strrchr(value, '@');
        if (!at || at == value) {
            for (size_t i = 0; i < n; i++)
                PUT('*');
        } else {
            PUT(value[0]);
            for (const char *p = value + 1; p < at; p++)
                PUT('*');
            for (const char *p = at; *p; p++)
                PUT(*p);
        }
    } else if (strcmp(kind, "birth_date") == 0) {
        for (size_t i = 0; i < n; i++)
            PUT(i < 4 ? value[i] : (isdigit((unsigned char)value[i]) ? '*'
                                                                     : value[i]));
    } else { /* name and anything else: first letter of each word */
        int word_start = 1;
        for (size_t i = 0; i < n;) {
            unsigned char c = (unsigned char)value[i];
            size_t cl = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (i + cl > n)
                cl = n - i;
            if (c == ' ') {
                PUT(' ');
                word_start = 1;
            } else if (word_start) {
                if (o + cl < outlen)
                    for (size_t k = 0; k < cl; k++)
                        PUT(value[i + k]);
                word_start = 0;
            } else {
                PUT('*');
            }
            i += cl;
        }
    }
    out[o] = '\0';
#undef PUT
}

oss_code_t
oss_audit_subject_key(PGconn *conn, const oss_keyring_t *master,
                      const char *subject_id, oss_data_key_t *dk,
                      oss_err_t *err)
{
    const char *p[1] = {subject_id};
    PGresult *r = PQexecParams(conn,
                               "SELECT master_key_id, wrapped_key FROM "
                               "oss.subject_keys WHERE subject_id = $1::uuid",
                               1, NULL, p, NULL, NULL, 1);
    oss_code_t rc = OSS_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = oss_err_set(err, OSS_EUNAVAIL, "could not read subject keys: %s",
                         PQresultErrorMessage(r));
        err->msg[strcspn(err->msg, "\n")] = '\0';
        goto done;
    }
    if (PQntuples(r) == 0) {
        rc = oss_err_set(err, OSS_ENOTFOUND,
                         "subject %s has no data key (shredded)", subject_id);
        goto done;
    }
    char kid[17];
    int kl = PQgetlength(r, 0, 0);
    snprintf(kid, sizeof kid, "%.*s", kl < 16 ? kl : 16, PQgetvalue(r, 0, 0));
    rc = oss_data_key_unwrap(master, kid, subject_id,
                             (const uint8_t *)PQgetvalue(r, 0, 1),
                             (size_t)PQgetlength(r, 0, 1), dk, err);
done:
    PQclear(r);
    return rc;
}

static const char *
actor_kind_name(oss_actor_kind_t k)
{
    switch (k) {
    case OSS_ACTOR_BUSINESS_USER: return "business_user";
    case OSS_ACTOR_OFFICER: return "officer";
    case OSS_ACTOR_SYSTEM_JOB: return "system_job";
    case OSS_ACTOR_OPERATOR: return "operator";
    default: return "unspecified";
    }
}

static void
fmt_time(int64_t us, char *out, size_t n)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06dZ", base, (int)(us % 1000000));
}

/* Prints one sealed field: "[sealed]", or masked when dk is available. */
static void
print_sealed(FILE *out, const char *field, const Oss__V1__SealedField *sf,
             const oss_data_key_t *dk, int reveal, const char *why)
{
    const char *sep = strcmp(field, "nik") == 0 ? "" : ", ";
    if (!sf || sf->ciphertext.len == 0) {
        fprintf(out, "%s%s: -", sep, field);
        return;
    }
    if (!reveal) {
        fprintf(out, "%s%s: [sealed]", sep, field);
        return;
    }
    if (!dk) {
        fprintf(out, "%s%s: [%s]", sep, field, why);
        return;
    }
    char *plain = NULL, masked[256];
    size_t plen = 0;
    if (sf->nonce.len != 12 ||
        oss_open(dk, field, sf->nonce.data, sf->ciphertext.data,
                 sf->ciphertext.len, &plain, &plen, NULL) != OSS_OK) {
        fprintf(out, "%s%s: [unreadable]", sep, field);
        return;
    }
    oss_audit_mask(field, plain, masked, sizeof masked);
    OPENSSL_cleanse(plain, plen);
    free(plain);
    fprintf(out, "%s%s: %s", sep, field, masked);
}

static const char *
scale_name(int s)
{
    return s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_UMK        ? "umk"
           : s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_NON_UMK ? "non_umk"
                                                                  : "unspecified";
}

static void
print_summary(PGconn *conn, FILE *out, const oss_event_t *ev,
              const oss_keyring_t *master)
{
    if (strcmp(ev->payload_type, "oss.v1.AccountRegistered") != 0) {
        fprintf(out, "    %zu payload bytes\n", ev->payload_len);
        return;
    }
    Oss__V1__AccountRegistered *a =
        oss__v1__account_registered__unpack(NULL, ev->payload_len, ev->payload);
    if (!a) {
        fprintf(out, "    undecodable payload (%zu bytes)\n", ev->payload_len);
        return;
    }
    oss_data_key_t dk;
    int have_dk = 0;
    const char *why = "no key";
    if (master && a->subject_id && *a->subject_id) {
        oss_err_t e = {0};
        oss_code_t rc = oss_audit_subject_key(conn, master, a->subject_id, &dk, &e);
        have_dk = rc == OSS_OK;
        why = rc == OSS_ENOTFOUND ? "shredded" : "key unavailable";
    }
    fprintf(out, "    account_id=%s, scale=%s, actor_type=%s, subject=%s, "
                 "country=%s",
            a->account_id, scale_name(a->scale), a->actor_type, a->subject_id,
            a->country);
    if (a->website && *a->website)
        fprintf(out, ", website=%s", a->website);
    if (a->terms_version && *a->terms_version)
        fprintf(out, ", terms=%s", a->terms_version);
    if (a->nik_birth_date_mismatch)
        fprintf(out, ", nik_birth_date_mismatch");
    fprintf(out, "\n    ");
    FILE *o = out;
    const oss_data_key_t *k = have_dk ? &dk : NULL;
    int r = master != NULL;
    print_sealed(o, "nik", a->nik, k, r, why);
    print_sealed(o, "name", a->name, k, r, why);
    print_sealed(o, "birth_date", a->birth_date, k, r, why);
    print_sealed(o, "email", a->email, k, r, why);
    print_sealed(o, "phone", a->phone, k, r, why);
    fprintf(o, "\n");
    OPENSSL_cleanse(&dk, sizeof dk);
    oss__v1__account_registered__free_unpacked(a, NULL);
}

oss_code_t
oss_audit_history(PGconn *conn, const char *stream_id, FILE *out,
                  const oss_keyring_t *master, oss_audit_break_t *brk,
                  oss_err_t *err)
{
    oss_event_list_t list = {0};
    oss_code_t rc = oss_audit_load_stream(conn, stream_id, &list, err);
    if (rc)
        goto done;
    if (list.len == 0) {
        rc = oss_err_set(err, OSS_ENOTFOUND, "stream \"%s\" has no event",
                         stream_id);
        goto done;
    }
    fprintf(out, "stream %s (%s), %zu events\n", stream_id,
            list.items[0].stream_type, list.len);
    char t[48], what[200], hex[65];
    size_t bad = list.len;
    for (size_t i = 0; i < list.len; i++) {
        const oss_event_t *ev = &list.items[i];
        fmt_time(ev->occurred_at_us, t, sizeof t);
        fprintf(out, "\n%s  v%" PRId64 "  %s  by %s:%s  (position %" PRId64
                     ", event %s)\n",
                t, ev->version, ev->payload_type, actor_kind_name(ev->actor_kind),
                ev->actor_id[0] ? ev->actor_id : "-", ev->position,
                ev->event_id);
        print_summary(conn, out, ev, master);
        fprintf(out, "    correlation=%s", ev->correlation_id[0] ? ev->correlation_id : "-");
        if (ev->causation_id[0])
            fprintf(out, " causation=%s", ev->causation_id);
        if (ev->cause_id[0])
            fprintf(out, " cause=%s", ev->cause_id);
        if (ev->reason && *ev->reason)
            fprintf(out, " reason=\"%s\"", ev->reason);
        fprintf(out, " software=%s\n", ev->software_version);
        oss_hex(ev->hash, 8, hex);
        int sound = bad == list.len &&
                    oss_audit_check_link(i ? &list.items[i - 1] : NULL, ev,
                                         what, sizeof what);
        fprintf(out, "    hash %s... %s\n", hex,
                bad < i ? "(after a break)" : sound ? "ok" : "BROKEN");
        if (!sound && bad == list.len) {
            bad = i;
            if (brk) {
                memset(brk, 0, sizeof *brk);
                snprintf(brk->stream_id, sizeof brk->stream_id, "%s", ev->stream_id);
                brk->version = ev->version;
                brk->position = ev->position;
                snprintf(brk->event_id, sizeof brk->event_id, "%s", ev->event_id);
                snprintf(brk->what, sizeof brk->what, "%s", what);
            }
            rc = oss_err_set(err, OSS_ECORRUPT,
                             "hash chain broken in stream \"%s\" at version "
                             "%" PRId64 " (event %s): %s",
                             ev->stream_id, ev->version, ev->event_id, what);
        }
    }
    if (bad == list.len)
        fprintf(out, "\nchain ok: %zu events verified\n", list.len);
done:
    oss_event_list_free(&list);
    return rc;
}
