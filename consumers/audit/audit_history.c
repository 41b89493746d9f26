/* `oss audit history`: an account's whole story (its account, access,
 * delivery and subject streams and its principals' access streams merged in
 * time order, one line per event, decoded generically by payload type), or
 * any other stream's events; personal fields sealed, erased or masked;
 * followed by the hash-chain verdicts. */
#include "audit.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bus/pbfield.h"
#include "core/buf.h"
#include "core/bytes.h"
#include "core/utc.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/delivery.pb-c.h"
#include "oss/v1/registry.h"

void
oss_audit_mask(const char *kind, const char *value, char *out, size_t outlen) {
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
            PUT(i < 4 ? value[i]
                      : (isdigit((unsigned char)value[i]) ? '*' : value[i]));
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
                      oss_err_t *err) {
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

#define REASON_UNRECORDED "unrecorded"

/* Records the read of subject_id (reveal->record) and then unwraps its
 * key: OSS_OK with *dk set. A failed record counts in reveal->unrecorded
 * and returns its error with reason REASON_UNRECORDED (nothing unsealed). */
static oss_code_t
reveal_key(PGconn *conn, oss_audit_reveal_t *reveal, const char *subject_id,
           oss_data_key_t *dk, oss_err_t *err) {
    if (reveal->record) {
        oss_err_t e = {0};
        if (reveal->record(reveal->record_ctx, subject_id, &e) != OSS_OK) {
            if (reveal->unrecorded++ == 0)
                reveal->record_err = e;
            return oss_err_coded(err, e.code ? e.code : OSS_EINTERNAL,
                                 REASON_UNRECORDED, "read not recorded: %s",
                                 e.msg);
        }
    }
    return oss_audit_subject_key(conn, reveal->master, subject_id, dk, err);
}

static const char *
actor_kind_name(oss_actor_kind_t k) {
    switch (k) {
    case OSS_ACTOR_BUSINESS_USER:
        return "business_user";
    case OSS_ACTOR_OFFICER:
        return "officer";
    case OSS_ACTOR_SYSTEM_JOB:
        return "system_job";
    case OSS_ACTOR_OPERATOR:
        return "operator";
    default:
        return "unspecified";
    }
}

/* Prints one sealed field: "[sealed]", or masked when dk is available. */
static void
print_sealed(FILE *out, const char *field, const Oss__V1__SealedField *sf,
             const oss_data_key_t *dk, int reveal, const char *why) {
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
scale_name(int s) {
    return s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_UMK ? "umk"
           : s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_NON_UMK
               ? "non_umk"
               : "unspecified";
}

static void
print_summary(PGconn *conn, FILE *out, const oss_event_t *ev,
              oss_audit_reveal_t *reveal) {
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
    if (reveal && a->subject_id && *a->subject_id) {
        oss_err_t e = {0};
        oss_code_t rc = reveal_key(conn, reveal, a->subject_id, &dk, &e);
        have_dk = rc == OSS_OK;
        why = oss_err_is(&e, REASON_UNRECORDED) ? "read not recorded"
              : rc == OSS_ENOTFOUND             ? "shredded"
                                                : "key unavailable";
    }
    fprintf(out,
            "    account_id=%s, scale=%s, actor_type=%s, subject=%s, "
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
    int r = reveal != NULL;
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
                  oss_audit_reveal_t *reveal, oss_audit_break_t *brk,
                  oss_err_t *err) {
    if (strncmp(stream_id, "account-", 8) == 0 && stream_id[8])
        return oss_audit_story(conn, stream_id + 8, out, reveal, brk, err);
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
        oss_utc_format(ev->occurred_at_us, 6, t, sizeof t);
        fprintf(
            out,
            "\n%s  v%" PRId64 "  %s  by %s:%s  (position %" PRId64
            ", event %s)\n",
            t, ev->version, ev->payload_type, actor_kind_name(ev->actor_kind),
            ev->actor_id[0] ? ev->actor_id : "-", ev->position, ev->event_id);
        print_summary(conn, out, ev, reveal);
        fprintf(out, "    correlation=%s",
                ev->correlation_id[0] ? ev->correlation_id : "-");
        if (ev->causation_id[0])
            fprintf(out, " causation=%s", ev->causation_id);
        if (ev->cause_id[0])
            fprintf(out, " cause=%s", ev->cause_id);
        if (ev->reason && *ev->reason)
            fprintf(out, " reason=\"%s\"", ev->reason);
        fprintf(out, " software=%s\n", ev->software_version);
        oss_hex_encode(ev->hash, 8, hex);
        int sound = bad == list.len &&
                    oss_audit_check_link(i ? &list.items[i - 1] : NULL, ev,
                                         what, sizeof what);
        fprintf(out, "    hash %s... %s\n", hex,
                bad < i ? "(after a break)"
                : sound ? "ok"
                        : "BROKEN");
        if (!sound && bad == list.len) {
            bad = i;
            if (brk) {
                memset(brk, 0, sizeof *brk);
                snprintf(brk->stream_id, sizeof brk->stream_id, "%s",
                         ev->stream_id);
                brk->version = ev->version;
                brk->position = ev->position;
                snprintf(brk->event_id, sizeof brk->event_id, "%s",
                         ev->event_id);
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

/* ======================================================================
 * The account's story: every stream of the account merged in time order,
 * one line per event, payloads decoded through the generated descriptors.
 * ====================================================================== */

/* ---- generic field access on a decoded message ---- */

static int
is_sealed_msg(const ProtobufCMessage *m) {
    return m && strcmp(m->descriptor->name, "oss.v1.SealedField") == 0;
}

/* "MemberAdded" -> "member added" */
static void
type_words(const char *payload_type, char *out, size_t n) {
    const char *t = strrchr(payload_type, '.');
    t = t ? t + 1 : payload_type;
    size_t o = 0;
    for (size_t i = 0; t[i] && o + 2 < n; i++) {
        if (isupper((unsigned char)t[i])) {
            if (i)
                out[o++] = ' ';
            out[o++] = (char)tolower((unsigned char)t[i]);
        } else {
            out[o++] = t[i];
        }
    }
    out[o] = '\0';
}

static void
fmt_utc(int64_t us, char *out, size_t n) {
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void
put_sealed(oss_buf_t *b, const char *name, const ProtobufCMessage *sf,
           oss_audit_seal_fn seal, void *sctx) {
    char v[160] = "[sealed]";
    if (seal)
        seal(sctx, name, sf, v, sizeof v);
    oss_buf_appendf(b, "%s: %s", name, v);
}

/* One scalar value of field f at p. */
static void
put_scalar(oss_buf_t *b, const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        oss_buf_appendf(b, "%s", s ? s : "");
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        oss_buf_appendf(b, "%s",
                        *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t v = *(const int32_t *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        oss_buf_appendf(b, "%s", ev ? ev->name : "?");
        break;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        oss_buf_appendf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        oss_buf_appendf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        oss_buf_appendf(b, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        oss_buf_appendf(b, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        oss_buf_appendf(b, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        oss_buf_appendf(b, "%g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        oss_buf_appendf(b, "<%zu bytes>",
                        ((const ProtobufCBinaryData *)p)->len);
        break;
    default:
        break;
    }
}

static int
scalar_is_default(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const int64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    default:
        return 0;
    }
}

static size_t
scalar_size(const ProtobufCFieldDescriptor *f) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* Every non-default field of m as "name=value, ..." (sub-messages in
 * braces, SealedField through seal). Fields whose name ends in "_us" print
 * as UTC times. */
static void
put_fields(oss_buf_t *b, const ProtobufCMessage *m, oss_audit_seal_fn seal,
           void *sctx) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int first = 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            if (!n)
                continue;
            oss_buf_appendf(b, "%s%s=[", first ? "" : ", ", f->name);
            first = 0;
            const char *arr = *(const char *const *)p;
            for (size_t k = 0; k < n; k++) {
                if (k)
                    oss_buf_appendf(b, ", ");
                if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                    const ProtobufCMessage *sm =
                        ((ProtobufCMessage *const *)arr)[k];
                    oss_buf_appendf(b, "{");
                    put_fields(b, sm, seal, sctx);
                    oss_buf_appendf(b, "}");
                } else {
                    put_scalar(b, f, arr + k * scalar_size(f));
                }
            }
            oss_buf_appendf(b, "]");
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sm = *(ProtobufCMessage *const *)p;
            if (!sm)
                continue;
            oss_buf_appendf(b, "%s", first ? "" : ", ");
            first = 0;
            if (is_sealed_msg(sm)) {
                put_sealed(b, f->name, sm, seal, sctx);
            } else {
                oss_buf_appendf(b, "%s={", f->name);
                put_fields(b, sm, seal, sctx);
                oss_buf_appendf(b, "}");
            }
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
            f->type != PROTOBUF_C_TYPE_STRING &&
            !*(const protobuf_c_boolean *)((const char *)m +
                                           f->quantifier_offset))
            continue;
        if (scalar_is_default(f, p))
            continue;
        oss_buf_appendf(b, "%s%s=", first ? "" : ", ", f->name);
        first = 0;
        size_t nl = strlen(f->name);
        if (nl > 3 && strcmp(f->name + nl - 3, "_us") == 0 &&
            (f->type == PROTOBUF_C_TYPE_INT64 ||
             f->type == PROTOBUF_C_TYPE_UINT64)) {
            char t[40];
            fmt_utc(*(const int64_t *)p, t, sizeof t);
            oss_buf_appendf(b, "%s", t);
        } else {
            put_scalar(b, f, p);
        }
    }
}

/* Every sealed field of m (top level), as ": nik: [sealed], ...". */
static void
put_sealed_fields(oss_buf_t *b, const ProtobufCMessage *m,
                  oss_audit_seal_fn seal, void *sctx) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int first = 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED ||
            f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const ProtobufCMessage *sm =
            *(ProtobufCMessage *const *)((const char *)m + f->offset);
        if (!is_sealed_msg(sm))
            continue;
        oss_buf_appendf(b, "%s", first ? "; " : ", ");
        first = 0;
        put_sealed(b, f->name, sm, seal, sctx);
    }
}

static const char *
chan_words(const char *channel) {
    return strcmp(channel, "whatsapp") == 0 ? "WhatsApp message" : "mail";
}

static const char *
server_words(const char *channel) {
    return strcmp(channel, "whatsapp") == 0 ? "the WhatsApp gateway"
                                            : "the mail server";
}

static const char *
or_dash(const char *s) {
    return s && *s ? s : "-";
}

static const char *
scale_words(int64_t s) {
    return s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_UMK ? "UMK"
           : s == OSS__V1__BUSINESS_SCALE__BUSINESS_SCALE_NON_UMK
               ? "non-UMK"
               : "scale unspecified";
}

/* The new owner a hand-over names. */
static const char *
new_owner_of(const ProtobufCMessage *m) {
    const char *n = oss_pb_str(m, "new_owner");
    return *n ? n : oss_pb_str(m, "principal_id");
}

/* Hand-written wording; 0 when the type has none. */
static int
describe_known(oss_buf_t *b, const oss_event_t *ev, const ProtobufCMessage *m,
               oss_audit_seal_fn seal, void *sctx, const char *dkind) {
    const char *t = ev->payload_type;
    char tm[40];
#define IS(x) (strcmp(t, "oss.v1." x) == 0)
#define KIND(k) (k) ? (k) : "", (k) ? " " : ""
    if (IS("AccountRegistered")) {
        oss_buf_appendf(
            b, "account %s registered (%s, actor type %s, country %s",
            oss_pb_str(m, "account_id"), scale_words(oss_pb_int(m, "scale")),
            or_dash(oss_pb_str(m, "actor_type")),
            or_dash(oss_pb_str(m, "country")));
        if (*oss_pb_str(m, "terms_version"))
            oss_buf_appendf(b, ", terms %s accepted",
                            oss_pb_str(m, "terms_version"));
        if (*oss_pb_str(m, "region_code"))
            oss_buf_appendf(b, ", region %s", oss_pb_str(m, "region_code"));
        if (*oss_pb_str(m, "website"))
            oss_buf_appendf(b, ", website %s", oss_pb_str(m, "website"));
        if (oss_pb_int(m, "nik_birth_date_mismatch"))
            oss_buf_appendf(b, ", NIK date differs from the birth date");
        oss_buf_appendf(b, ")");
        put_sealed_fields(b, m, seal, sctx);
    } else if (IS("TermsAccepted")) {
        oss_buf_appendf(b, "terms of use version %s accepted by %s",
                        or_dash(oss_pb_str(m, "version")),
                        or_dash(oss_pb_str(m, "principal_id")));
    } else if (IS("LegacyAccountMigrated")) {
        oss_buf_appendf(b, "migrated from OSS 1.1 account %s (decree %s)",
                        or_dash(oss_pb_str(m, "legacy_id")),
                        or_dash(oss_pb_str(m, "decree_number")));
    } else if (IS("ActivationIssued")) {
        oss_buf_appendf(b, "activation link and code issued by %s",
                        *oss_pb_str(m, "channel") ? oss_pb_str(m, "channel")
                                                  : "e-mail");
        if (oss_pb_int(m, "expires_at_us") > 0) {
            fmt_utc(oss_pb_int(m, "expires_at_us"), tm, sizeof tm);
            oss_buf_appendf(b, ", valid until %s", tm);
        }
    } else if (IS("ActivationSucceeded")) {
        oss_buf_appendf(b, "activated (%s)",
                        strcmp(oss_pb_str(m, "method"), "link") == 0
                            ? "by the link"
                            : "by the one-time code");
    } else if (IS("ActivationFailed")) {
        oss_buf_appendf(b, "wrong activation code (attempt %" PRId64 ")",
                        oss_pb_int(m, "attempt"));
    } else if (IS("ActivationLocked")) {
        oss_buf_appendf(b, "activation locked after %" PRId64 " wrong codes",
                        oss_pb_int(m, "attempts"));
    } else if (IS("ActivationResent")) {
        oss_buf_appendf(b, "new activation code asked for, by %s",
                        or_dash(oss_pb_str(m, "channel")));
    } else if (IS("PasswordSet")) {
        oss_buf_appendf(b, "%s",
                        oss_pb_int(m, "first") ? "first password set"
                                               : "password changed");
    } else if (IS("SignInSucceeded")) {
        oss_buf_appendf(b, "signed in (session %.8s, source %s)",
                        oss_pb_str(m, "session_id"),
                        or_dash(oss_pb_str(m, "source_hash")));
    } else if (IS("SignInFailed")) {
        oss_buf_appendf(b, "sign-in failed (failure %" PRId64 ", source %s)",
                        oss_pb_int(m, "attempt"),
                        or_dash(oss_pb_str(m, "source_hash")));
    } else if (IS("SignInThrottled")) {
        oss_buf_appendf(
            b, "sign-in slowed down after %" PRId64 " failures; owner told",
            oss_pb_int(m, "failures"));
    } else if (IS("SessionEnded")) {
        oss_buf_appendf(b, "session %.8s ended (%s)",
                        oss_pb_str(m, "session_id"),
                        or_dash(oss_pb_str(m, "reason")));
    } else if (IS("DeliveryQueued")) {
        const char *ch = oss_pb_str(m, "channel");
        char kw[64];
        snprintf(kw, sizeof kw, "%s", or_dash(oss_pb_str(m, "kind")));
        for (char *p = kw; *p; p++)
            if (*p == '_')
                *p = ' ';
        oss_buf_appendf(b, "%s %s queued", kw, chan_words(ch));
    } else if (IS("DeliveryHanded")) {
        const char *ch = oss_pb_str(m, "channel");
        oss_buf_appendf(b, "%s%s%s handed to %s (attempt %" PRId64 "): %s",
                        KIND(dkind), chan_words(ch), server_words(ch),
                        oss_pb_int(m, "attempt"),
                        or_dash(oss_pb_str(m, "reply_text")));
    } else if (IS("DeliveryFailed")) {
        const char *ch = oss_pb_str(m, "channel");
        int64_t code = oss_pb_int(m, "reply_code");
        const char *why = oss_pb_str(m, "reason");
        if (code > 0) {
            char c[24];
            snprintf(c, sizeof c, "%" PRId64, code);
            oss_buf_appendf(
                b,
                "%s%s%s handed to %s, refused: %s%s%s (attempt %" PRId64 ")%s",
                KIND(dkind), chan_words(ch), server_words(ch),
                strncmp(why, c, strlen(c)) == 0 ? "" : c,
                strncmp(why, c, strlen(c)) == 0 ? "" : " ", or_dash(why),
                oss_pb_int(m, "attempt"),
                oss_pb_int(m, "permanent") ? "; given up" : "");
        } else if (oss_pb_int(m, "attempt") > 0) {
            oss_buf_appendf(
                b,
                "%s%s%s could not be handed to %s: %s (attempt %" PRId64 ")%s",
                KIND(dkind), chan_words(ch), server_words(ch), or_dash(why),
                oss_pb_int(m, "attempt"),
                oss_pb_int(m, "permanent") ? "; given up" : "");
        } else {
            oss_buf_appendf(b, "%s%s%s not sent: %s", KIND(dkind),
                            chan_words(ch), or_dash(why));
        }
    } else if (IS("DeliveryRetrying")) {
        fmt_utc(oss_pb_int(m, "next_attempt_at_us"), tm, sizeof tm);
        oss_buf_appendf(b, "%s%s%s: next attempt (%" PRId64 ") at %s",
                        KIND(dkind), chan_words(oss_pb_str(m, "channel")),
                        oss_pb_int(m, "attempt"), tm);
    } else if (IS("PrincipalCreated")) {
        const ProtobufCMessage *g = oss_pb_msg(m, "grant");
        oss_buf_appendf(b, "person %s created (%s%s%s",
                        or_dash(oss_pb_str(m, "principal_id")),
                        or_dash(oss_pb_str(m, "kind")),
                        *oss_pb_str(m, "cause") ? ", " : "",
                        oss_pb_str(m, "cause"));
        if (g && *oss_pb_str(g, "role"))
            oss_buf_appendf(b, ", role %s%s%s%s%s", oss_pb_str(g, "role"),
                            *oss_pb_str(g, "account_id") ? " on account " : "",
                            oss_pb_str(g, "account_id"),
                            *oss_pb_str(g, "institution") ? " at " : "",
                            oss_pb_str(g, "institution"));
        oss_buf_appendf(b, ")");
        put_sealed_fields(b, m, seal, sctx);
    } else if (IS("MemberAdded")) {
        oss_buf_appendf(b, "delegate %s added as %s",
                        or_dash(oss_pb_str(m, "principal_id")),
                        or_dash(oss_pb_str(m, "role")));
    } else if (IS("MemberRemoved")) {
        oss_buf_appendf(b, "delegate %s%s%s removed",
                        or_dash(oss_pb_str(m, "principal_id")),
                        *oss_pb_str(m, "role") ? ", " : "",
                        oss_pb_str(m, "role"));
    } else if (IS("HandoverFiled")) {
        oss_buf_appendf(b, "written hand-over request %s filed (evidence %s)",
                        or_dash(oss_pb_str(m, "request_id")),
                        or_dash(oss_pb_str(m, "evidence_ref")));
        const char *n = new_owner_of(m);
        if (*n)
            oss_buf_appendf(b, ", new owner %s", n);
        if (oss_pb_int(m, "cooling_off_until_us") > 0) {
            fmt_utc(oss_pb_int(m, "cooling_off_until_us"), tm, sizeof tm);
            oss_buf_appendf(b, ", objections until %s", tm);
        }
    } else if (IS("OwnershipTransferOffered")) {
        fmt_utc(oss_pb_int(m, "expires_at_us"), tm, sizeof tm);
        oss_buf_appendf(b, "ownership offered to %s%s, open until %s",
                        or_dash(oss_pb_str(m, "principal_id")),
                        oss_pb_int(m, "new_principal") ? " (a new person)" : "",
                        tm);
    } else if (IS("OwnershipTransferAccepted")) {
        oss_buf_appendf(b, "%s accepted the ownership: owner now (was %s)",
                        or_dash(oss_pb_str(m, "principal_id")),
                        or_dash(oss_pb_str(m, "previous_owner")));
    } else if (IS("HandoverObjected")) {
        oss_buf_appendf(b, "owner objected to hand-over request %s",
                        or_dash(oss_pb_str(m, "request_id")));
    } else if (IS("HandoverApproved")) {
        const char *n = new_owner_of(m);
        oss_buf_appendf(b, "hand-over request %s approved: %s is the owner now",
                        or_dash(oss_pb_str(m, "request_id")), or_dash(n));
        const char *p = *oss_pb_str(m, "previous_owner_principal_id")
                            ? oss_pb_str(m, "previous_owner_principal_id")
                            : oss_pb_str(m, "previous_owner");
        if (*p)
            oss_buf_appendf(b, " (was %s; access revoked)", p);
    } else if (IS("HandoverRejected")) {
        oss_buf_appendf(b, "hand-over request %s rejected",
                        or_dash(oss_pb_str(m, "request_id")));
    } else if (IS("AccessTerminated")) {
        const char *p = oss_pb_str(m, "principal_id");
        oss_buf_appendf(b, "access ended for %s%s: %s",
                        *p ? "" : "the whole account", p,
                        or_dash(oss_pb_str(m, "reason_code")));
        if (*oss_pb_str(m, "evidence_ref"))
            oss_buf_appendf(b, " (evidence %s)", oss_pb_str(m, "evidence_ref"));
    } else if (IS("AccessRestricted")) {
        oss_buf_appendf(b, "access restricted (suspended) by the OSS "
                           "authority: no sign-in, no action until lifted");
        if (*oss_pb_str(m, "evidence_ref"))
            oss_buf_appendf(b, " (decision %s)", oss_pb_str(m, "evidence_ref"));
    } else if (IS("AccessRestrictionLifted")) {
        oss_buf_appendf(b, "access restriction lifted: sign-in works again");
    } else if (IS("SubjectErased")) {
        oss_buf_appendf(b,
                        "personal data of subject %s erased (data key deleted; "
                        "sealed fields unreadable from now on)",
                        or_dash(oss_pb_str(m, "subject_id")));
    } else if (IS("PersonalDataRead")) {
        oss_buf_appendf(b, "personal data read by %s %s through %s",
                        or_dash(oss_pb_str(m, "reader_role")),
                        or_dash(oss_pb_str(m, "reader_principal_id")),
                        or_dash(oss_pb_str(m, "endpoint")));
    } else {
        return 0;
    }
#undef IS
#undef KIND
    return 1;
}

void
oss_audit_describe(const oss_event_t *ev, oss_audit_seal_fn seal,
                   void *seal_ctx, const char *delivery_kind, char *out,
                   size_t outlen) {
    if (!outlen)
        return;
    oss_buf_t b = {0};
    ProtobufCMessage *m = NULL;
    const ProtobufCMessageDescriptor *d =
        oss_v1_registry_find(ev->payload_type);
    char words[96];
    type_words(ev->payload_type, words, sizeof words);
    if (!d) {
        oss_buf_appendf(&b, "%s (%zu payload bytes, type not in this build)",
                        words, ev->payload_len);
        goto done;
    }
    m = protobuf_c_message_unpack(d, NULL, ev->payload_len,
                                  ev->payload ? ev->payload
                                              : (const uint8_t *)"");
    if (!m) {
        oss_buf_appendf(&b, "%s (undecodable payload, %zu bytes)", words,
                        ev->payload_len);
        goto done;
    }
    if (!describe_known(&b, ev, m, seal, seal_ctx, delivery_kind)) {
        oss_buf_appendf(&b, "%s", words);
        size_t at = b.len;
        oss_buf_appendf(&b, ": ");
        size_t mark = b.len;
        put_fields(&b, m, seal, seal_ctx);
        if (b.len == mark && b.p) { /* no field set */
            b.len = at;
            b.p[at] = '\0';
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
done:;
    /* into out, truncated; one line: no control characters from payload
     * text */
    const char *text = oss_buf_str(&b);
    size_t n = strnlen(text, outlen - 1);
    memcpy(out, text, n);
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    oss_buf_free(&b);
}

/* ---- sealed fields: [sealed], [erased], or masked with --reveal ---- */

typedef struct key_cache {
    char subject[OSS_UUID_STR];
    int state; /* 1 key present, 0 erased, -1 unknown */
    oss_data_key_t dk;
    int have_dk;
} key_cache_t;

typedef struct story_seal {
    PGconn *conn;
    oss_audit_reveal_t *reveal;
    key_cache_t keys[16];
    size_t nkeys;
} story_seal_t;

static key_cache_t *
key_for(story_seal_t *s, const char *subject) {
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].subject, subject) == 0)
            return &s->keys[i];
    key_cache_t *k = &s->keys[s->nkeys < 16 ? s->nkeys++ : 15];
    if (k->have_dk)
        OPENSSL_cleanse(&k->dk, sizeof k->dk);
    memset(k, 0, sizeof *k);
    snprintf(k->subject, sizeof k->subject, "%s", subject);
    k->state = -1;
    const char *p[1] = {subject};
    PGresult *r = PQexecParams(s->conn,
                               "SELECT 1 FROM oss.subject_keys WHERE "
                               "subject_id::text = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        k->state = PQntuples(r) > 0;
    PQclear(r);
    if (k->state == 1 && s->reveal) {
        oss_err_t e = {0};
        k->have_dk =
            reveal_key(s->conn, s->reveal, subject, &k->dk, &e) == OSS_OK;
    }
    return k;
}

static void
story_seal(void *ctx, const char *field, const ProtobufCMessage *sealed,
           char *out, size_t outlen) {
    story_seal_t *s = ctx;
    const char *subject = oss_pb_str(sealed, "subject_id");
    const Oss__V1__SealedField *sf = (const Oss__V1__SealedField *)sealed;
    if (sf->ciphertext.len == 0) {
        snprintf(out, outlen, "-");
        return;
    }
    key_cache_t *k = *subject ? key_for(s, subject) : NULL;
    if (k && k->state == 0) {
        snprintf(out, outlen, "[erased]");
        return;
    }
    if (!s->reveal || !k || !k->have_dk) {
        snprintf(out, outlen, "[sealed]");
        return;
    }
    char *plain = NULL;
    size_t plen = 0;
    if (sf->nonce.len != 12 ||
        oss_open(&k->dk, field, sf->nonce.data, sf->ciphertext.data,
                 sf->ciphertext.len, &plain, &plen, NULL) != OSS_OK) {
        snprintf(out, outlen, "[unreadable]");
        return;
    }
    oss_audit_mask(field, plain, out, outlen);
    OPENSSL_cleanse(plain, plen);
    free(plain);
}

/* ---- gathering the streams ---- */

typedef struct stream_set {
    char ids[64][OSS_ID_MAX];
    size_t n;
} stream_set_t;

static void
set_add(stream_set_t *s, const char *prefix, const char *id) {
    char sid[OSS_ID_MAX];
    if (!id || !*id)
        return;
    snprintf(sid, sizeof sid, "%s%s", prefix, id);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], sid) == 0)
            return;
    if (s->n < 64)
        snprintf(s->ids[s->n++], OSS_ID_MAX, "%s", sid);
}

/* Every principal named in m (fields "*principal_id", "new_owner",
 * "previous_owner", repeated "principal_ids", and inside sub-messages). */
static void
collect_principals(stream_set_t *s, const ProtobufCMessage *m, int depth) {
    if (!m || depth > 3)
        return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        size_t nl = strlen(f->name);
        int named =
            (nl >= 12 && strcmp(f->name + nl - 12, "principal_id") == 0) ||
            strcmp(f->name, "new_owner") == 0 ||
            strcmp(f->name, "previous_owner") == 0 ||
            strcmp(f->name, "principal_ids") == 0;
        if (f->type == PROTOBUF_C_TYPE_STRING && named) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n =
                    *(const size_t *)((const char *)m + f->quantifier_offset);
                char *const *v = *(char *const *const *)p;
                for (size_t k = 0; k < n; k++)
                    set_add(s, "access-", v[k]);
            } else {
                set_add(s, "access-", *(char *const *)p);
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                   f->label != PROTOBUF_C_LABEL_REPEATED) {
            collect_principals(s, *(ProtobufCMessage *const *)p, depth + 1);
        }
    }
}

/* Adds the streams named by the events of list (principals; the subject). */
static void
collect_from(stream_set_t *s, const oss_event_list_t *list) {
    for (size_t i = 0; i < list->len; i++) {
        const oss_event_t *ev = &list->items[i];
        const ProtobufCMessageDescriptor *d =
            oss_v1_registry_find(ev->payload_type);
        if (!d)
            continue;
        ProtobufCMessage *m = protobuf_c_message_unpack(
            d, NULL, ev->payload_len,
            ev->payload ? ev->payload : (const uint8_t *)"");
        if (!m)
            continue;
        collect_principals(s, m, 0);
        if (strcmp(ev->payload_type, "oss.v1.AccountRegistered") == 0 ||
            strcmp(ev->payload_type, "oss.v1.PrincipalCreated") == 0)
            set_add(s, "subject-", oss_pb_str(m, "subject_id"));
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

typedef struct story_ev {
    const oss_event_t *ev;
} story_ev_t;

static int
story_cmp(const void *a, const void *b) {
    const oss_event_t *x = ((const story_ev_t *)a)->ev;
    const oss_event_t *y = ((const story_ev_t *)b)->ev;
    if (x->occurred_at_us != y->occurred_at_us)
        return x->occurred_at_us < y->occurred_at_us ? -1 : 1;
    if (x->position != y->position)
        return x->position < y->position ? -1 : 1;
    return 0;
}

/* The kind of message ("activation") a delivery outcome is about: from the
 * DeliveryQueued with the same causation. */
static const char *
delivery_kind_of(const oss_event_t *ev, const oss_event_list_t *lists,
                 size_t nlists, char *buf, size_t n) {
    if (strncmp(ev->payload_type, "oss.v1.Delivery", 15) != 0 ||
        !ev->causation_id[0])
        return NULL;
    for (size_t l = 0; l < nlists; l++)
        for (size_t i = 0; i < lists[l].len; i++) {
            const oss_event_t *q = &lists[l].items[i];
            if (strcmp(q->payload_type, "oss.v1.DeliveryQueued") != 0 ||
                strcmp(q->causation_id, ev->causation_id) != 0)
                continue;
            Oss__V1__DeliveryQueued *m = oss__v1__delivery_queued__unpack(
                NULL, q->payload_len, q->payload ? q->payload : (uint8_t *)"");
            if (!m)
                continue;
            snprintf(buf, n, "%s", m->kind && *m->kind ? m->kind : "message");
            oss__v1__delivery_queued__free_unpacked(m, NULL);
            for (char *p = buf; *p; p++) /* "handover_filed" -> words */
                if (*p == '_')
                    *p = ' ';
            return buf;
        }
    return NULL;
}

oss_code_t
oss_audit_story(PGconn *conn, const char *account_id, FILE *out,
                oss_audit_reveal_t *reveal, oss_audit_break_t *brk,
                oss_err_t *err) {
    stream_set_t *set = calloc(1, sizeof *set);
    oss_event_list_t *lists = calloc(64, sizeof *lists);
    story_ev_t *all = NULL;
    story_seal_t seal = {.conn = conn, .reveal = reveal};
    oss_code_t rc = OSS_OK;
    size_t total = 0, nstreams = 0;
    if (!set || !lists) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    set_add(set, "account-", account_id);
    set_add(set, "access-", account_id);
    set_add(set, "delivery-", account_id);
    /* streams named by loaded events join the set as it grows (a member's
     * access stream names no further account); each loaded once */
    for (size_t i = 0; i < set->n; i++) {
        if ((rc = oss_audit_load_stream(conn, set->ids[i], &lists[i], err)))
            goto done;
        if (i == 0 && lists[0].len == 0) {
            rc = oss_err_set(err, OSS_ENOTFOUND, "stream \"%s\" has no event",
                             set->ids[0]);
            goto done;
        }
        if (strncmp(set->ids[i], "account-", 8) == 0 ||
            strncmp(set->ids[i], "access-", 7) == 0)
            collect_from(set, &lists[i]);
        total += lists[i].len;
    }
    nstreams = set->n;
    if (!(all = calloc(total ? total : 1, sizeof *all))) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    size_t k = 0, with_events = 0;
    for (size_t i = 0; i < nstreams; i++) {
        with_events += lists[i].len > 0;
        for (size_t j = 0; j < lists[i].len; j++)
            all[k++].ev = &lists[i].items[j];
    }
    qsort(all, total, sizeof *all, story_cmp);

    fprintf(out,
            "account %s: %zu events in %zu streams, oldest first "
            "(time UTC | actor | what happened | reason | event)\n",
            account_id, total, with_events);
    char t[40], kind[64], what[4096];
    for (size_t i = 0; i < total; i++) {
        const oss_event_t *ev = all[i].ev;
        fmt_utc(ev->occurred_at_us, t, sizeof t);
        const char *dk =
            delivery_kind_of(ev, lists, nstreams, kind, sizeof kind);
        oss_audit_describe(ev, story_seal, &seal, dk, what, sizeof what);
        int is_delivery = strncmp(ev->payload_type, "oss.v1.Delivery", 15) == 0;
        /* a delivery outcome's reason is the notifier's own sentence of
         * what happened, printed above in words already */
        const char *why =
            !is_delivery && ev->reason && *ev->reason ? ev->reason : "-";
        fprintf(out, "%s | %s:%s | %s | reason: ", t,
                actor_kind_name(ev->actor_kind),
                ev->actor_id[0] ? ev->actor_id : "-", what);
        for (const char *p = why; *p; p++)
            fputc((unsigned char)*p < 0x20 ? ' ' : *p, out);
        fprintf(out, " | %s v%" PRId64 " %s %s\n", ev->stream_id, ev->version,
                ev->payload_type, ev->event_id);
    }
    /* every stream's chain */
    char whatb[200];
    int broken = 0;
    for (size_t i = 0; i < nstreams; i++) {
        if (!lists[i].len)
            continue;
        size_t j = 0;
        for (; j < lists[i].len; j++)
            if (!oss_audit_check_link(j ? &lists[i].items[j - 1] : NULL,
                                      &lists[i].items[j], whatb, sizeof whatb))
                break;
        if (j == lists[i].len) {
            fprintf(out, "stream %s: chain ok, %zu events\n", set->ids[i],
                    lists[i].len);
            continue;
        }
        const oss_event_t *ev = &lists[i].items[j];
        fprintf(out,
                "stream %s: BROKEN at version %" PRId64 " (event %s): %s\n",
                set->ids[i], ev->version, ev->event_id, whatb);
        if (!broken++) {
            if (brk) {
                memset(brk, 0, sizeof *brk);
                snprintf(brk->stream_id, sizeof brk->stream_id, "%s",
                         ev->stream_id);
                brk->version = ev->version;
                brk->position = ev->position;
                snprintf(brk->event_id, sizeof brk->event_id, "%s",
                         ev->event_id);
                snprintf(brk->what, sizeof brk->what, "%s", whatb);
            }
            rc = oss_err_set(err, OSS_ECORRUPT,
                             "hash chain broken in stream \"%s\" at version "
                             "%" PRId64 " (event %s): %s",
                             ev->stream_id, ev->version, ev->event_id, whatb);
        }
    }
    if (!broken)
        fprintf(out, "chain ok: %zu events verified in %zu streams\n", total,
                with_events);
done:
    for (size_t i = 0; i < seal.nkeys; i++)
        if (seal.keys[i].have_dk)
            OPENSSL_cleanse(&seal.keys[i].dk, sizeof seal.keys[i].dk);
    if (lists)
        for (size_t i = 0; i < 64; i++)
            oss_event_list_free(&lists[i]);
    free(lists);
    free(all);
    free(set);
    return rc;
}
