/* Persons, new principals and grants: the command that creates a
 * principal (PrincipalCreated with sealed personal fields under a new
 * subject key and its first ActivationIssued, on "access-<principal_id>"),
 * the grants recorded on an access stream, the SessionEnded events that end
 * a principal's access, and the statements an extra_fn queues for grants,
 * sessions and credentials in the same transaction as those events.
 * Plaintext personal data lives only in caller memory and is wiped.
 *
 * Principals: every person who can sign in has an access stream
 * "access-<principal_id>" holding their credential lifecycle. A business
 * account's first owner has principal_id = account_id (the stream the
 * registration already writes); everyone else gets a new uuid7 and a
 * PrincipalCreated event first on their access stream. */
#ifndef OSS_APP_PRINCIPAL_H
#define OSS_APP_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "app/app.h"
#include "core/authz.h"
#include "core/validate.h"
#include "journal/journal.h"

/* The look-up rows of a new principal or account: $1 the phone's keyed
 * digest (hex), $2 the NIK's ("" without one), $3 the stream; one
 * statement for both (kind 'phone': a password reset asked by phone; kind
 * 'nik': "forgot account"). */
#define OSS_APP_LOOKUP_PHONE_NIK_SQL                                           \
    "INSERT INTO oss.account_lookup (kind, digest, stream_id) SELECT k, "      \
    "decode(d, 'hex'), $3 FROM (VALUES ('phone', $1::text), ('nik', "          \
    "$2::text)) v (k, d) WHERE d <> '' ON CONFLICT DO NOTHING"

/* A person as given in a request (validated; plaintext only in memory). */
typedef struct oss_app_person {
    char nik[17]; /* "" when a passport is given */
    char passport[21];
    char country[3]; /* ISO 3166-1 alpha-2; "ID" with a NIK */
    char name[401];
    char birth_date[11]; /* YYYY-MM-DD, optional ("") */
    char email[255];
    char phone[OSS_PHONE_MAX]; /* E.164 */
    char channel[12];          /* activation channel: "email" | "whatsapp" */
} oss_app_person_t;

/* Reads the person fields from body (borrowed): nik | passport+country,
 * name, birth_date (optional), email, phone, channel (default "email"),
 * each under prefix (e.g. "" or "new_owner_": "new_owner_nik"), into *out.
 * Fills *fe (one entry per bad field) and returns false when any field is
 * bad. */
bool oss_app_person_validate(json_t *body, const char *prefix,
                             oss_app_person_t *out, oss_field_errors_t *fe);

/* The command that creates one principal: PrincipalCreated (sealed personal
 * fields under a new subject key) and ActivationIssued on
 * "access-<principal_id>" (expected version 0); its extra_fn writes
 * oss.subject_keys, oss.principals, the grant (when given), the activation
 * secret and its sealed delivery. Put pn->cmd in the same
 * oss_journal_execute() batch as the command that needs it, so both commit
 * together. */
typedef struct oss_app_principal_new {
    char principal_id[OSS_UUID_STR];
    char subject_id[OSS_UUID_STR];
    oss_command_t cmd; /* ready to execute; caller fills actor,
                          correlation and causation */
    void *priv;        /* owned; freed by oss_app_principal_clear() */
} oss_app_principal_new_t;

/* kind: "business" | "government"; grant (borrowed, may be NULL) is
 * written with the principal; cause: why ("delegate", "officer",
 * "handover", "transfer", "legacy"). Returns OSS_OK, or OSS_EUNAVAIL /
 * OSS_EINTERNAL with err set. */
oss_code_t oss_app_principal_prepare(oss_app_t *app,
                                     const oss_app_person_t *who,
                                     const char *kind, const oss_grant_t *grant,
                                     const char *cause,
                                     oss_app_principal_new_t *pn,
                                     oss_err_t *err);
/* Arms a targeted notice of template kind (e.g. "officer_created",
 * "member_added") to the new principal, on its activation channel, queued
 * with PrincipalCreated (vars_json borrowed, copied; a JSON object).
 * Call after oss_app_principal_prepare(), before executing pn->cmd. */
oss_code_t oss_app_principal_notice(oss_app_principal_new_t *pn,
                                    const char *kind, const char *vars_json,
                                    oss_err_t *err);
/* Frees pn->priv, pn->cmd.events and pn->cmd.replay_response. */
void oss_app_principal_clear(oss_app_principal_new_t *pn);

/* Fills out (an Oss__V1__Grant *, principal.proto) from g; the strings stay
 * borrowed from g. */
void oss_app_grant_to_proto(const oss_grant_t *g, void *out);

/* Appends a GrantAdded (added) or GrantRevoked event for principal_id's
 * grant g (borrowed) to out, with reason (may be NULL) as the event's
 * reason and, for GrantRevoked, in its payload. For a decide function on
 * the principal's access stream; pair it with oss_app_grant_queue_add/revoke in
 * the extra_fn. */
oss_code_t oss_app_grant_event_push(oss_event_list_t *out, bool added,
                                    const char *principal_id,
                                    const oss_grant_t *g, const char *reason,
                                    oss_err_t *err);

/* The grants recorded on an access stream's history (borrowed): those of
 * PrincipalCreated and GrantAdded, minus GrantRevoked and OfficerRevoked
 * (every officer grant of its institution). For a decide() that must see
 * the principal's grants as of the loaded stream (never a prior SELECT).
 * Fills out[0..max) and returns how many are active. */
size_t oss_app_grants_fold(const oss_event_t *history, size_t n,
                           oss_grant_t *out, size_t max);

/* Appends SessionEnded events (reason) for every open session of the access
 * stream whose history (borrowed) is given, as of now_us; *ended counts
 * them. For a decide() that revokes a principal's access; pair it with
 * oss_app_sessions_queue_revoke() in the extra_fn. */
oss_code_t oss_app_sessions_end_all(const oss_event_t *history, size_t n,
                                    const char *principal_id, int64_t now_us,
                                    const char *reason, oss_event_list_t *out,
                                    size_t *ended, oss_err_t *err);

/* The oss.identity_claims kind of an officer's (institution, NIK or
 * passport): one officer account per person and institution. */
#define OSS_APP_CLAIM_OFFICER "officer"

/* Payload types of principal.proto. */
#define OSS_APP_T_PRINCIPAL_CREATED "oss.v1.PrincipalCreated"
#define OSS_APP_T_GRANT_ADDED "oss.v1.GrantAdded"
#define OSS_APP_T_GRANT_REVOKED "oss.v1.GrantRevoked"
#define OSS_APP_T_OFFICER_REVOKED "oss.v1.OfficerRevoked"

/* ---- statements for an extra_fn (same transaction as the events) -------- */

/* Inserts an active grant. */
oss_code_t oss_app_grant_queue_add(oss_journal_queue_fn q, void *qctx,
                                   const char *principal_id,
                                   const oss_grant_t *g, oss_err_t *err);
/* Revokes principal_id's active grants on account_id (NULL = every grant
 * of the principal) with reason. */
oss_code_t oss_app_grant_queue_revoke(oss_journal_queue_fn q, void *qctx,
                                      const char *principal_id,
                                      const char *account_id,
                                      const char *reason, oss_err_t *err);
/* Ends every open session of principal_id (and, when drop_password, deletes
 * its password and any outstanding reset link: the credentials are
 * revoked). */
oss_code_t oss_app_sessions_queue_revoke(oss_journal_queue_fn q, void *qctx,
                                         const char *principal_id,
                                         const char *reason, bool drop_password,
                                         oss_err_t *err);

/* Deletes principal_id's password and outstanding reset links when, at
 * this point of the transaction, no active grant of it remains (queue it
 * after the statements that revoke grants: decided by the database on the
 * current rows, not on an earlier read). */
oss_code_t oss_app_credentials_queue_drop_if_ungranted(oss_journal_queue_fn q,
                                                       void *qctx,
                                                       const char *principal_id,
                                                       oss_err_t *err);

#endif
