/* The issue-4 appliers: credential lifecycle (access-<principal_id>),
 * business access rights (account-<id>), principals and officers,
 * recovery, erasure (subject-<subject_id>) and delivery outcomes
 * (delivery-<account_id>) -> rm.accounts.status (and its restriction),
 * rm.principals,
 * rm.account_members, rm.handover_requests, rm.officers, rm.delivery_status,
 * rm.erased_subjects. Payloads are decoded through the generated descriptor
 * of their type (oss/v1/registry.h) and read by field name, so a field added
 * later is picked up without code here. The frequent types (credential
 * status, password and sign-in times, terms and legacy ids, deliveries) add
 * rows to the batch (batch.c), written in one statement per table; each rare
 * type flushes the batch and runs one or two statements at once, in stream
 * order, inside the caller's transaction; every value
 * written comes from the event (its occurred_at, never now()), so a rebuild
 * produces the same rows. */
#include "projector_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "bus/pbfield.h"
#include "oss/v1/registry.h"

/* ---- reading a decoded message by field name ---- */

/* The first non-empty of several candidate string fields. */
static const char *
m_str2(const ProtobufCMessage *m, const char *a, const char *b) {
    const char *v = oss_pb_str(m, a);
    return *v || !b ? v : oss_pb_str(m, b);
}

/* A repeated string field as a text array literal for PostgreSQL
 * ("{a,b}", quoted), written into out. */
static void
m_str_array(const ProtobufCMessage *m, const char *name, char *out,
            size_t outlen) {
    size_t o = 0;
    out[o++] = '{';
    const ProtobufCFieldDescriptor *f = oss_pb_field(m, name);
    if (f && f->label == PROTOBUF_C_LABEL_REPEATED &&
        f->type == PROTOBUF_C_TYPE_STRING) {
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        char *const *v = *(char *const *const *)((const char *)m + f->offset);
        for (size_t i = 0; i < n && o + 4 < outlen; i++) {
            if (i)
                out[o++] = ',';
            out[o++] = '"';
            for (const char *p = v[i]; *p && o + 4 < outlen; p++) {
                if (*p == '"' || *p == '\\')
                    out[o++] = '\\';
                out[o++] = *p;
            }
            out[o++] = '"';
        }
    }
    out[o++] = '}';
    out[o] = '\0';
}

/* ---- the types ---- */

typedef enum kind {
    K_NONE = 0,
    /* credential lifecycle (lifecycle.proto), principal id = stream suffix */
    K_ACT_ISSUED,
    K_ACT_SUCCEEDED,
    K_ACT_LOCKED,
    K_PASSWORD_SET,
    K_SIGNED_IN,
    /* principal.proto */
    K_PRINCIPAL_CREATED,
    K_GRANT_ADDED,
    K_GRANT_REVOKED,
    K_OFFICER_REVOKED,
    /* access.proto (account stream) */
    K_MEMBER_ADDED,
    K_MEMBER_REMOVED,
    K_TRANSFER_ACCEPTED,
    K_HANDOVER_FILED,
    K_HANDOVER_OBJECTED,
    K_HANDOVER_APPROVED,
    K_HANDOVER_REJECTED,
    K_TERMINATED,
    K_RESTRICTED,
    K_RESTRICTION_LIFTED,
    /* account.proto additions */
    K_TERMS_ACCEPTED,
    K_LEGACY_MIGRATED,
    /* privacy.proto */
    K_SUBJECT_ERASED,
    /* delivery.proto */
    K_DLV_QUEUED,
    K_DLV_HANDED,
    K_DLV_FAILED,
    K_DLV_RETRYING
} kind_t;

static const struct {
    const char *type;
    kind_t kind;
} types[] = {
    {"oss.v1.ActivationIssued", K_ACT_ISSUED},
    {"oss.v1.ActivationSucceeded", K_ACT_SUCCEEDED},
    {"oss.v1.ActivationLocked", K_ACT_LOCKED},
    {"oss.v1.PasswordSet", K_PASSWORD_SET},
    {"oss.v1.SignInSucceeded", K_SIGNED_IN},
    {"oss.v1.PrincipalCreated", K_PRINCIPAL_CREATED},
    {"oss.v1.GrantAdded", K_GRANT_ADDED},
    {"oss.v1.GrantRevoked", K_GRANT_REVOKED},
    {"oss.v1.OfficerRevoked", K_OFFICER_REVOKED},
    {"oss.v1.MemberAdded", K_MEMBER_ADDED},
    {"oss.v1.MemberRemoved", K_MEMBER_REMOVED},
    {"oss.v1.OwnershipTransferAccepted", K_TRANSFER_ACCEPTED},
    {"oss.v1.HandoverFiled", K_HANDOVER_FILED},
    {"oss.v1.HandoverObjected", K_HANDOVER_OBJECTED},
    {"oss.v1.HandoverApproved", K_HANDOVER_APPROVED},
    {"oss.v1.HandoverRejected", K_HANDOVER_REJECTED},
    {"oss.v1.AccessTerminated", K_TERMINATED},
    {"oss.v1.AccessRestricted", K_RESTRICTED},
    {"oss.v1.AccessRestrictionLifted", K_RESTRICTION_LIFTED},
    {"oss.v1.TermsAccepted", K_TERMS_ACCEPTED},
    {"oss.v1.LegacyAccountMigrated", K_LEGACY_MIGRATED},
    {"oss.v1.SubjectErased", K_SUBJECT_ERASED},
    {"oss.v1.DeliveryQueued", K_DLV_QUEUED},
    {"oss.v1.DeliveryHanded", K_DLV_HANDED},
    {"oss.v1.DeliveryFailed", K_DLV_FAILED},
    {"oss.v1.DeliveryRetrying", K_DLV_RETRYING},
};

static kind_t
kind_of(const char *payload_type) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].type, payload_type) == 0)
            return types[i].kind;
    return K_NONE;
}

int
pj_access_known(const char *payload_type) {
    /* a type whose .proto is not in this build yet is left alone */
    return kind_of(payload_type) != K_NONE &&
           oss_v1_registry_find(payload_type) != NULL;
}

/* 1 for the types whose rows are gathered in the batch (pj_batch_t). */
static int
batched(kind_t k) {
    switch (k) {
    case K_ACT_ISSUED:
    case K_ACT_SUCCEEDED:
    case K_ACT_LOCKED:
    case K_PASSWORD_SET:
    case K_SIGNED_IN:
    case K_TERMS_ACCEPTED:
    case K_LEGACY_MIGRATED:
    case K_DLV_QUEUED:
    case K_DLV_HANDED:
    case K_DLV_FAILED:
    case K_DLV_RETRYING:
        return 1;
    default:
        return 0;
    }
}

int
pj_access_batched(const char *payload_type) {
    return pj_access_known(payload_type) && batched(kind_of(payload_type));
}

/* "<anything>-<id>" -> "<id>" ("" when there is no dash). */
static const char *
stream_suffix(const char *stream_id) {
    const char *d = strchr(stream_id, '-');
    return d ? d + 1 : "";
}

/* ---- SQL ---- */

#define TS(n)                                                                  \
    "(timestamptz 'epoch' + $" #n "::bigint * interval '1 microsecond')"

/* Runs fmt (every %s = the schema, at most 6 times) with params. */
static oss_code_t
run(pj_ctx_t *c, const char *fmt, int np, const char *const *p,
    oss_err_t *err) {
    char sql[4096];
    snprintf(sql, sizeof sql, fmt, c->schema, c->schema, c->schema, c->schema,
             c->schema, c->schema);
    return pj_cmd(c->conn, sql, np, p, err);
}

static const char PRINCIPAL_CREATED[] =
    "INSERT INTO %s.principals AS p (principal_id, kind, account_id, "
    "subject_id, created_at, status_at, version) SELECT $1, $2, "
    "nullif($3, ''), CASE WHEN e.subject_id IS NULL THEN $4 ELSE '' "
    "END, " TS(5) ", " TS(
        5) ", $6::bigint FROM (SELECT 1) one LEFT JOIN "
           "%s.erased_subjects e ON e.subject_id = $4 "
           "ON CONFLICT (principal_id) DO UPDATE SET kind = excluded.kind, "
           "account_id = coalesce(excluded.account_id, p.account_id), "
           "subject_id = "
           "CASE WHEN p.erased_at IS NULL THEN excluded.subject_id ELSE '' "
           "END, "
           "created_at = excluded.created_at, version = excluded.version";

/* Government roles: one row per principal (the latest grant). */
static const char OFFICER_UPSERT[] =
    "INSERT INTO %s.officers AS o (principal_id, role, institution, sector, "
    "region, status, subject_id, created_at, created_by) SELECT $1, $2, $3, "
    "nullif($4, ''), nullif($5, ''), 'active', coalesce(p.subject_id, ''), " TS(
        6) ", $7 FROM (SELECT 1) one LEFT JOIN %s.principals p ON "
           "p.principal_id = $1 "
           "ON CONFLICT (principal_id) DO UPDATE SET role = excluded.role, "
           "institution = excluded.institution, sector = excluded.sector, "
           "region = "
           "excluded.region, status = 'active', revoked_at = NULL, revoked_by "
           "= "
           "NULL, revoke_reason = NULL";

static const char OFFICER_REVOKE[] =
    "UPDATE %s.officers SET status = 'revoked', revoked_at = " TS(
        2) ", revoked_by = $3, revoke_reason = $4 WHERE principal_id = $1 AND "
           "($5 = '' OR institution = $5) AND ($6 = '' OR role = $6)";

static const char MEMBER_ADDED[] =
    "INSERT INTO %s.account_members AS m (account_id, principal_id, role, "
    "status, added_at, added_by) VALUES ($1, $2, $3, 'active', " TS(
        4) ", $5) ON CONFLICT (account_id, principal_id) DO UPDATE SET role = "
           "excluded.role, status = 'active', added_at = excluded.added_at, "
           "added_by = excluded.added_by, removed_at = NULL, removed_by = "
           "NULL, "
           "reason = NULL";

static const char MEMBER_REMOVED[] =
    "UPDATE %s.account_members SET status = 'removed', removed_at = " TS(
        3) ", removed_by = $4, reason = $5 WHERE account_id = $1 AND "
           "principal_id "
           "= $2";

/* A new owner: the account follows the new owner's credential status
 * (pending until it activates), the previous owner's member row (if any)
 * ends, the new owner's is the owner's. */
static const char OWNER_CHANGED[] =
    "WITH a AS (UPDATE %s.accounts a SET owner_principal_id = $2, status = "
    "CASE WHEN a.status = 'terminated' THEN a.status ELSE coalesce(p.status, "
    "'pending') END, status_at = CASE WHEN a.status = 'terminated' THEN "
    "a.status_at ELSE coalesce(p.status_at, " TS(
        3) ") END, version = "
           "GREATEST(a.version, $4::bigint), updated_at = now() FROM (SELECT "
           "1) one "
           "LEFT JOIN %s.principals p ON p.principal_id = $2 AND p.status NOT "
           "IN "
           "('registered', 'revoked', 'terminated') WHERE a.account_id = $1 "
           "RETURNING a.account_id), "
           "old AS (UPDATE %s.account_members m SET status = 'removed', "
           "removed_at "
           "= " TS(
               3) ", removed_by = $5, reason = 'ownership passed' WHERE "
                  "m.account_id = $1 AND m.principal_id <> $2 AND (m.role = "
                  "'owner' OR "
                  "m.principal_id = $6) AND m.status = 'active' RETURNING 1) "
                  "INSERT INTO %s.account_members AS m (account_id, "
                  "principal_id, role, "
                  "status, added_at, added_by) VALUES ($1, $2, 'owner', "
                  "'active', " TS(3) ", $5) ON CONFLICT (account_id, "
                                     "principal_id) DO UPDATE SET role = "
                                     "'owner', status = 'active', removed_at = "
                                     "NULL, removed_by = NULL, "
                                     "reason = NULL";

static const char HANDOVER_FILED[] =
    "INSERT INTO %s.handover_requests AS h (request_id, account_id, "
    "status, "
    "filed_by, evidence_ref, reason, new_owner_principal_id, "
    "previous_owner_principal_id, filed_at, cooling_off_until, "
    "updated_at) "
    "SELECT $1, $2, 'filed', $3, $4, nullif($5, ''), nullif($6, ''), "
    "coalesce(nullif($7, ''), a.owner_principal_id, "
    "a.account_id), " TS(8) ", CASE WHEN $9::bigint > 0 THEN " TS(
        9) " END, " TS(8) " FROM (SELECT 1) one LEFT JOIN %s.accounts "
                          "a ON a.account_id = $2 "
                          "ON CONFLICT (request_id) DO UPDATE SET "
                          "status = 'filed', filed_by = "
                          "excluded.filed_by, evidence_ref = "
                          "excluded.evidence_ref, reason = "
                          "excluded.reason, new_owner_principal_id = "
                          "excluded.new_owner_principal_id, filed_at "
                          "= excluded.filed_at, "
                          "cooling_off_until = "
                          "excluded.cooling_off_until, updated_at = "
                          "excluded.updated_at";

static const char HANDOVER_OBJECTED[] =
    "UPDATE %s.handover_requests SET status = 'objected', objected_at = " TS(
        2) ", objected_by = $3, updated_at = " TS(2) " WHERE request_id = $1";

static const char HANDOVER_DECIDED[] =
    "UPDATE %s.handover_requests SET status = $2, decided_at = " TS(
        3) ", decided_by = $4, decision_reason = nullif($5, ''), "
           "new_owner_principal_id = coalesce(nullif($6, ''), "
           "new_owner_principal_id), updated_at = " TS(
               3) " WHERE request_id = $1";

/* The whole account (principal ""): status terminated and every member row
 * ends. One principal (a delegate or the owner): its member row ends and
 * its principal status is terminated. */
static const char TERMINATED[] =
    "WITH a AS (UPDATE %s.accounts a SET status = 'terminated', status_at "
    "= " TS(3) ", termination_reason = $4, version = GREATEST(a.version, "
               "$5::bigint), updated_at = now() WHERE a.account_id = $1 AND $2 "
               "= '' "
               "RETURNING 1), "
               "p AS (INSERT INTO %s.principals AS p (principal_id, status, "
               "status_at) SELECT $2, 'terminated', " TS(
                   3) " WHERE $2 <> '' "
                      "ON CONFLICT (principal_id) DO UPDATE SET status = "
                      "'terminated', "
                      "status_at = excluded.status_at RETURNING 1) "
                      "UPDATE %s.account_members m SET status = 'removed', "
                      "removed_at = " TS(3) ", removed_by = $6, reason = $4 "
                                            "WHERE m.account_id = $1 AND "
                                            "m.status = 'active' AND ($2 = '' "
                                            "OR m.principal_id = $2)";

/* The whole account restricted (status restricted unless terminated;
 * status_at stays the owner's), and lifted: the status is the current
 * owner's credential status again (registered, or pending for a new owner,
 * while it has none), whatever order the owner's access stream and the
 * account stream were applied in. */
static const char RESTRICTED[] =
    "UPDATE %s.accounts SET status = CASE WHEN status = 'terminated' THEN "
    "status ELSE 'restricted' END, restricted_at = " TS(
        2) ", restricted_by = $3, restriction_reason = $4, version = "
           "GREATEST(version, $5::bigint), updated_at = now() WHERE "
           "account_id = $1";

static const char RESTRICTION_LIFTED[] =
    "UPDATE %s.accounts a SET status = CASE WHEN a.status = 'restricted' "
    "THEN coalesce((SELECT p.status FROM %s.principals p WHERE "
    "p.principal_id = coalesce(a.owner_principal_id, a.account_id) AND "
    "p.status IN ('pending', 'active', 'locked')), CASE WHEN "
    "coalesce(a.owner_principal_id, a.account_id) = a.account_id THEN "
    "'registered' ELSE 'pending' END) ELSE a.status END, restricted_at = "
    "NULL, restricted_by = NULL, restriction_reason = NULL, version = "
    "GREATEST(a.version, $2::bigint), updated_at = now() WHERE a.account_id "
    "= $1";

/* Erasure: every link to the subject goes; the subject is remembered so that
 * a registration applied later does not bring it back. */
static const char SUBJECT_ERASED[] =
    "WITH e AS (INSERT INTO %s.erased_subjects (subject_id, erased_at, "
    "reason) VALUES ($1, " TS(
        2) ", $3) ON CONFLICT (subject_id) DO UPDATE "
           "SET erased_at = excluded.erased_at RETURNING subject_id), "
           "a AS (UPDATE %s.accounts SET subject_id = '', erased_at = " TS(
               2) ", updated_at = now() WHERE subject_id = $1 OR account_id = "
                  "ANY($4::text[]) RETURNING 1), "
                  "p AS (UPDATE %s.principals SET subject_id = '', erased_at "
                  "= " TS(2) " WHERE subject_id = $1 OR principal_id = "
                             "ANY($5::text[]) RETURNING 1) "
                             "UPDATE %s.officers SET subject_id = '', "
                             "erased_at = " TS(
                                 2) " WHERE subject_id = $1 OR principal_id = "
                                    "ANY($5::text[])";

static int
is_gov_role(const char *role) {
    return strcmp(role, "officer") == 0 || strcmp(role, "access_admin") == 0 ||
           strcmp(role, "operator") == 0 || strcmp(role, "auditor") == 0;
}

oss_code_t
pj_apply_access(pj_ctx_t *c, pj_batch_t *b, const oss_event_t *ev, int *handled,
                char *reason, size_t rlen, oss_err_t *err) {
    *handled = 0;
    reason[0] = '\0';
    kind_t k = kind_of(ev->payload_type);
    const ProtobufCMessageDescriptor *d =
        oss_v1_registry_find(ev->payload_type);
    if (k == K_NONE || !d)
        return OSS_OK;
    ProtobufCMessage *m = protobuf_c_message_unpack(
        d, NULL, ev->payload_len,
        ev->payload ? ev->payload : (const uint8_t *)"");
    if (!m) {
        snprintf(reason, rlen, "payload is not an %s message",
                 ev->payload_type);
        return OSS_OK;
    }
    *handled = 1;
    oss_code_t rc = OSS_OK;
    int bad = 0; /* a batched row that could not be stored */
    /* an applier with its own statement sees every earlier event */
    if (!batched(k) && (rc = pj_batch_flush(c, b, err))) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    char t[24], v[24], n1[24], arr1[4096], arr2[4096];
    snprintf(t, sizeof t, "%lld", (long long)ev->occurred_at_us);
    snprintf(v, sizeof v, "%lld", (long long)ev->version);
    const char *sfx = stream_suffix(ev->stream_id);
    const char *why = ev->reason ? ev->reason : "";
    const char *actor = ev->actor_id;

    switch (k) {
    case K_ACT_ISSUED:
    case K_ACT_SUCCEEDED:
    case K_ACT_LOCKED: {
        const char *st = k == K_ACT_ISSUED      ? "pending"
                         : k == K_ACT_SUCCEEDED ? "active"
                                                : "locked";
        bad = pj_batch_principal_status(b, sfx, st, ev->occurred_at_us,
                                        ev->version);
        break;
    }
    case K_PASSWORD_SET:
    case K_SIGNED_IN:
        bad = pj_batch_principal_touch(b, sfx, k == K_PASSWORD_SET,
                                       ev->occurred_at_us, ev->version);
        break;
    case K_PRINCIPAL_CREATED: {
        const char *pid = oss_pb_str(m, "principal_id");
        const ProtobufCMessage *g = oss_pb_msg(m, "grant");
        const char *p[6] = {*pid ? pid : sfx,
                            oss_pb_str(m, "kind"),
                            oss_pb_str(g, "account_id"),
                            oss_pb_str(m, "subject_id"),
                            t,
                            v};
        rc = run(c, PRINCIPAL_CREATED, 6, p, err);
        if (rc == OSS_OK && g && is_gov_role(oss_pb_str(g, "role"))) {
            const char *q[7] = {p[0],
                                oss_pb_str(g, "role"),
                                oss_pb_str(g, "institution"),
                                oss_pb_str(g, "sector"),
                                oss_pb_str(g, "region"),
                                t,
                                actor};
            rc = run(c, OFFICER_UPSERT, 7, q, err);
        }
        break;
    }
    case K_GRANT_ADDED:
    case K_GRANT_REVOKED: {
        const char *pid = oss_pb_str(m, "principal_id");
        const ProtobufCMessage *g = oss_pb_msg(m, "grant");
        if (!g || !is_gov_role(oss_pb_str(g, "role")))
            break; /* business roles: the account stream's events */
        if (k == K_GRANT_ADDED) {
            const char *q[7] = {*pid ? pid : sfx,
                                oss_pb_str(g, "role"),
                                oss_pb_str(g, "institution"),
                                oss_pb_str(g, "sector"),
                                oss_pb_str(g, "region"),
                                t,
                                actor};
            rc = run(c, OFFICER_UPSERT, 7, q, err);
        } else {
            const char *r = oss_pb_str(m, "reason");
            const char *q[6] = {*pid ? pid : sfx,
                                t,
                                actor,
                                *r ? r : why,
                                oss_pb_str(g, "institution"),
                                oss_pb_str(g, "role")};
            rc = run(c, OFFICER_REVOKE, 6, q, err);
        }
        break;
    }
    case K_OFFICER_REVOKED: {
        const char *pid = oss_pb_str(m, "principal_id");
        const char *r = oss_pb_str(m, "reason");
        const char *q[6] = {*pid ? pid : sfx,
                            t,
                            actor,
                            *r ? r : why,
                            oss_pb_str(m, "institution"),
                            ""};
        rc = run(c, OFFICER_REVOKE, 6, q, err);
        break;
    }
    case K_MEMBER_ADDED: {
        const char *acc = oss_pb_str(m, "account_id");
        const char *p[5] = {*acc ? acc : sfx, oss_pb_str(m, "principal_id"),
                            oss_pb_str(m, "role"), t, actor};
        if (!*p[1]) {
            snprintf(reason, rlen, "%s without principal_id", ev->payload_type);
            break;
        }
        rc = run(c, MEMBER_ADDED, 5, p, err);
        break;
    }
    case K_MEMBER_REMOVED: {
        const char *acc = oss_pb_str(m, "account_id");
        const char *r = oss_pb_str(m, "reason");
        const char *p[5] = {*acc ? acc : sfx, oss_pb_str(m, "principal_id"), t,
                            actor, *r ? r : why};
        rc = run(c, MEMBER_REMOVED, 5, p, err);
        break;
    }
    case K_TRANSFER_ACCEPTED:
    case K_HANDOVER_APPROVED: {
        const char *acc = oss_pb_str(m, "account_id");
        const char *newo = m_str2(m, "new_owner_principal_id", "principal_id");
        if (!*newo)
            newo = oss_pb_str(m, "new_owner");
        const char *prev =
            m_str2(m, "previous_owner_principal_id", "previous_owner");
        if (k == K_HANDOVER_APPROVED) {
            const char *r = oss_pb_str(m, "reason");
            const char *q[6] = {oss_pb_str(m, "request_id"),
                                "approved",
                                t,
                                actor,
                                *r ? r : why,
                                newo};
            if ((rc = run(c, HANDOVER_DECIDED, 6, q, err)))
                break;
        }
        if (!*newo)
            break; /* nothing names the new owner: the request row only */
        const char *p[6] = {*acc ? acc : sfx, newo, t, v, actor, prev};
        rc = run(c, OWNER_CHANGED, 6, p, err);
        break;
    }
    case K_HANDOVER_FILED: {
        const char *acc = oss_pb_str(m, "account_id");
        const char *newo = m_str2(m, "new_owner_principal_id", "principal_id");
        if (!*newo)
            newo = oss_pb_str(m, "new_owner");
        const char *r = oss_pb_str(m, "reason");
        int64_t until = oss_pb_int(m, "cooling_off_until_us");
        snprintf(n1, sizeof n1, "%lld", (long long)until);
        const char *by = oss_pb_str(m, "filed_by");
        const char *p[9] = {
            oss_pb_str(m, "request_id"),
            *acc ? acc : sfx,
            *by ? by : actor,
            oss_pb_str(m, "evidence_ref"),
            *r ? r : why,
            newo,
            m_str2(m, "previous_owner_principal_id", "previous_owner"),
            t,
            n1};
        if (!*p[0]) {
            snprintf(reason, rlen, "%s without request_id", ev->payload_type);
            break;
        }
        rc = run(c, HANDOVER_FILED, 9, p, err);
        break;
    }
    case K_HANDOVER_OBJECTED: {
        const char *by = oss_pb_str(m, "objected_by");
        const char *p[3] = {oss_pb_str(m, "request_id"), t, *by ? by : actor};
        rc = run(c, HANDOVER_OBJECTED, 3, p, err);
        break;
    }
    case K_HANDOVER_REJECTED: {
        const char *r = oss_pb_str(m, "reason");
        const char *p[6] = {oss_pb_str(m, "request_id"),
                            "rejected",
                            t,
                            actor,
                            *r ? r : why,
                            ""};
        rc = run(c, HANDOVER_DECIDED, 6, p, err);
        break;
    }
    case K_TERMINATED: {
        const char *acc = oss_pb_str(m, "account_id");
        const char *code = oss_pb_str(m, "reason_code");
        const char *p[6] = {*acc ? acc : sfx,
                            oss_pb_str(m, "principal_id"),
                            t,
                            *code ? code : why,
                            v,
                            actor};
        rc = run(c, TERMINATED, 6, p, err);
        break;
    }
    case K_RESTRICTED: {
        const char *p[5] = {sfx, t, actor, why, v};
        rc = run(c, RESTRICTED, 5, p, err);
        break;
    }
    case K_RESTRICTION_LIFTED: {
        const char *p[2] = {sfx, v};
        rc = run(c, RESTRICTION_LIFTED, 2, p, err);
        break;
    }
    case K_TERMS_ACCEPTED:
    case K_LEGACY_MIGRATED: {
        const char *acc = oss_pb_str(m, "account_id");
        bad = pj_batch_account_update(
            b, *acc ? acc : sfx,
            k == K_TERMS_ACCEPTED ? oss_pb_str(m, "version") : NULL,
            k == K_LEGACY_MIGRATED ? oss_pb_str(m, "legacy_id") : NULL,
            ev->version);
        break;
    }
    case K_SUBJECT_ERASED: {
        const char *sid = oss_pb_str(m, "subject_id");
        if (!*sid)
            sid = sfx;
        const char *r = oss_pb_str(m, "reason");
        m_str_array(m, "account_ids", arr1, sizeof arr1);
        m_str_array(m, "principal_ids", arr2, sizeof arr2);
        const char *p[5] = {sid, t, *r ? r : why, arr1, arr2};
        rc = run(c, SUBJECT_ERASED, 5, p, err);
        break;
    }
    case K_DLV_QUEUED: {
        pj_dlv_t dl = {.event_id = ev->causation_id,
                       .channel = oss_pb_str(m, "channel"),
                       .account_id = sfx,
                       .kind = oss_pb_str(m, "kind"),
                       .trigger_type = oss_pb_str(m, "trigger_type"),
                       .at_us = ev->occurred_at_us,
                       .version = ev->version};
        rc = pj_batch_dlv_queued(c, b, &dl, &bad, err);
        break;
    }
    case K_DLV_HANDED:
    case K_DLV_FAILED:
    case K_DLV_RETRYING: {
        const char *fr = oss_pb_str(m, "reason");
        pj_dlv_t dl = {.event_id = ev->causation_id,
                       .channel = oss_pb_str(m, "channel"),
                       .account_id = sfx,
                       .state = k == K_DLV_HANDED   ? "handed"
                                : k == K_DLV_FAILED ? "failed"
                                                    : "retrying",
                       .attempt = oss_pb_int(m, "attempt"),
                       .reply_code = oss_pb_int(m, "reply_code"),
                       .next_attempt_us = oss_pb_int(m, "next_attempt_at_us"),
                       .reply_text = oss_pb_str(m, "reply_text"),
                       .reason = *fr ? fr : why,
                       .permanent = oss_pb_int(m, "permanent") != 0,
                       .at_us = ev->occurred_at_us,
                       .version = ev->version};
        bad = pj_batch_dlv_outcome(b, &dl);
        break;
    }
    case K_NONE:
        break;
    }
    if (bad && !reason[0])
        snprintf(reason, rlen, "%s holds text that is not valid UTF-8",
                 ev->payload_type);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
