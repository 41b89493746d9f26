/* Who is calling and what may they do: Bearer sessions resolved to a
 * principal and its active grants (synchronously, from oss.sessions and
 * oss.grants, which change in the same transaction as their events), the
 * creation of new principals (delegates, officers, a new owner, a migrated
 * legacy user) and the targeted notices the notifier delivers.
 *
 * Principals: every person who can sign in has an access stream
 * "access-<principal_id>" holding their credential lifecycle. A business
 * account's first owner has principal_id = account_id (the stream the
 * registration already writes); everyone else gets a new uuid7 and a
 * PrincipalCreated event first on their access stream.
 *
 * All functions run on a pool worker (they use the worker's connection);
 * "replies" means the function answered req itself (then the caller must
 * not). */
#ifndef OSS_API_AUTH_H
#define OSS_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api.h"
#include "core/authz.h"

/* ---- authentication and authorization ---------------------------------- */

/* Resolves "Authorization: Bearer <token>" to its open session, principal
 * and active grants (one query). Returns true with *p filled (session_id,
 * OSS_UUID_STR bytes, may be NULL). Otherwise replies 401 unauthenticated
 * (no, unknown, expired, ended or revoked token) or 503 (database down)
 * and returns false. */
bool api_auth_require(api_worker_t *w, oss_http_req_t *req, oss_principal_t *p,
                      char *session_id);

/* Fills the target of an action on account_id from oss.account_scope (the
 * account's domicile region): region must hold 11 bytes. Replies 404 "no
 * such account" and returns false when the account does not exist (503 on
 * a database error). */
bool api_account_target(api_worker_t *w, oss_http_req_t *req,
                        const char *account_id, char *region);

/* oss_authz_check(); on refusal replies 403 "forbidden" (naming the reason)
 * or 404 "no such account" and returns false. */
bool api_auth_allow(oss_http_req_t *req, const oss_principal_t *p,
                    oss_action_t a, const oss_target_t *t);

/* ---- persons and new principals ----------------------------------------- */

/* A person as given in a request (validated; plaintext only in memory). */
typedef struct api_person {
    char nik[17]; /* "" when a passport is given */
    char passport[21];
    char country[3]; /* ISO 3166-1 alpha-2; "ID" with a NIK */
    char name[401];
    char birth_date[11]; /* YYYY-MM-DD, optional ("") */
    char email[255];
    char phone[16];   /* E.164 */
    char channel[12]; /* activation channel: "email" | "whatsapp" */
} api_person_t;

/* Reads the person fields from body (borrowed): nik | passport+country,
 * name, birth_date (optional), email, phone, channel (default "email"),
 * each under prefix (e.g. "" or "new_owner_": "new_owner_nik"). Returns
 * true, or replies 422 naming every bad field and returns false. */
bool api_person_parse(oss_http_req_t *req, json_t *body, const char *prefix,
                      api_person_t *out);
/* The same checks without a reply (for the CLI): fills *fe (one entry per
 * bad field) and returns false when any field is bad. */
bool api_person_validate(json_t *body, const char *prefix, api_person_t *out,
                         oss_field_errors_t *fe);

/* The command that creates one principal: PrincipalCreated (sealed personal
 * fields under a new subject key) and ActivationIssued on
 * "access-<principal_id>" (expected version 0); its extra_fn writes
 * oss.subject_keys, oss.principals, the grant (when given), the activation
 * secret and its sealed delivery. Put pn->cmd in the same
 * oss_journal_execute() batch as the command that needs it, so both commit
 * together. */
typedef struct api_principal_new {
    char principal_id[OSS_UUID_STR];
    char subject_id[OSS_UUID_STR];
    oss_command_t cmd; /* ready to execute; caller fills actor,
                          correlation and causation */
    void *priv;        /* owned; freed by api_principal_clear() */
} api_principal_new_t;

/* kind: "business" | "government"; grant (borrowed, may be NULL) is
 * written with the principal; cause: why ("delegate", "officer",
 * "handover", "transfer", "legacy"). Returns OSS_OK, or OSS_EUNAVAIL /
 * OSS_EINTERNAL with err set. */
oss_code_t api_principal_prepare(api_ctx_t *ctx, const api_person_t *who,
                                 const char *kind, const oss_grant_t *grant,
                                 const char *cause, api_principal_new_t *pn,
                                 oss_err_t *err);
/* Arms a targeted notice of template kind (e.g. "officer_created",
 * "member_added") to the new principal, on its activation channel, queued
 * with PrincipalCreated (vars_json borrowed, copied; a JSON object).
 * Call after api_principal_prepare(), before executing pn->cmd. */
oss_code_t api_principal_notice(api_principal_new_t *pn, const char *kind,
                                const char *vars_json, oss_err_t *err);
/* Frees pn->priv, pn->cmd.events and pn->cmd.replay_response. */
void api_principal_clear(api_principal_new_t *pn);

/* Fills out (an Oss__V1__Grant *, principal.proto) from g; the strings stay
 * borrowed from g. */
void api_grant_to_proto(const oss_grant_t *g, void *out);

/* Appends a GrantAdded (added) or GrantRevoked event for principal_id's
 * grant g (borrowed) to out, with reason (may be NULL) as the event's
 * reason and, for GrantRevoked, in its payload. For a decide function on
 * the principal's access stream; pair it with api_grant_queue_add/revoke in
 * the extra_fn. */
oss_code_t api_grant_event_push(oss_event_list_t *out, bool added,
                                const char *principal_id, const oss_grant_t *g,
                                const char *reason, oss_err_t *err);

/* The grants recorded on an access stream's history (borrowed): those of
 * PrincipalCreated and GrantAdded, minus GrantRevoked and OfficerRevoked
 * (every officer grant of its institution). For a decide() that must see
 * the principal's grants as of the loaded stream (never a prior SELECT).
 * Fills out[0..max) and returns how many are active. */
size_t api_access_grants_fold(const oss_event_t *history, size_t n,
                              oss_grant_t *out, size_t max);

/* Appends SessionEnded events (reason) for every open session of the access
 * stream whose history (borrowed) is given, as of now_us; *ended counts
 * them. For a decide() that revokes a principal's access; pair it with
 * api_sessions_queue_revoke() in the extra_fn. */
oss_code_t api_sessions_end_all(const oss_event_t *history, size_t n,
                                const char *principal_id, int64_t now_us,
                                const char *reason, oss_event_list_t *out,
                                size_t *ended, oss_err_t *err);

/* The oss.identity_claims kind of an officer's (institution, NIK or
 * passport): one officer account per person and institution. */
#define API_CLAIM_OFFICER "officer"

/* Payload types of principal.proto. */
#define API_T_PRINCIPAL_CREATED "oss.v1.PrincipalCreated"
#define API_T_GRANT_ADDED "oss.v1.GrantAdded"
#define API_T_GRANT_REVOKED "oss.v1.GrantRevoked"
#define API_T_OFFICER_REVOKED "oss.v1.OfficerRevoked"

/* ---- statements for an extra_fn (same transaction as the events) -------- */

/* Inserts an active grant. */
oss_code_t api_grant_queue_add(oss_journal_queue_fn q, void *qctx,
                               const char *principal_id, const oss_grant_t *g,
                               oss_err_t *err);
/* Revokes principal_id's active grants on account_id (NULL = every grant
 * of the principal) with reason. */
oss_code_t api_grant_queue_revoke(oss_journal_queue_fn q, void *qctx,
                                  const char *principal_id,
                                  const char *account_id, const char *reason,
                                  oss_err_t *err);
/* Ends every open session of principal_id (and, when drop_password, deletes
 * its password and any outstanding reset link: the credentials are
 * revoked). */
oss_code_t api_sessions_queue_revoke(oss_journal_queue_fn q, void *qctx,
                                     const char *principal_id,
                                     const char *reason, bool drop_password,
                                     oss_err_t *err);

/* Deletes principal_id's password and outstanding reset links when, at
 * this point of the transaction, no active grant of it remains (queue it
 * after the statements that revoke grants: decided by the database on the
 * current rows, not on an earlier read). */
oss_code_t api_credentials_queue_drop_if_ungranted(oss_journal_queue_fn q,
                                                   void *qctx,
                                                   const char *principal_id,
                                                   oss_err_t *err);

/* ---- targeted notices (consumers/notifier delivers them) ---------------- */

/* A principal's contact, opened from its sealed personal data (plaintext in
 * memory only; wipe with api_contact_clear()). */
typedef struct api_contact {
    char subject_id[OSS_UUID_STR];
    char name[401];
    char email[255];
    char phone[16];
    oss_data_key_t dk; /* the subject's data key */
} api_contact_t;

/* Loads principal_id's contact (oss.principals -> its subject and the event
 * holding the sealed fields). OSS_ENOTFOUND unknown (err->field "" ) or
 * the subject was erased (err->field "erased": no message can reach it);
 * OSS_EUNAVAIL. */
oss_code_t api_contact_load(api_worker_t *w, const char *principal_id,
                            api_contact_t *c, oss_err_t *err);
/* The same on a borrowed connection with the master keyring (borrowed):
 * for tools and tests outside the worker pool. */
struct pg_conn;
oss_code_t api_contact_load_pg(struct pg_conn *conn,
                               const oss_keyring_t *master,
                               const char *principal_id, api_contact_t *c,
                               oss_err_t *err);
void api_contact_clear(api_contact_t *c);

/* Queues one oss.deliveries row for the event at cmd->events.items[idx]:
 * a message of template kind (consumers/notifier/templates.c) to c on
 * channel ("email" | "whatsapp"), with vars_json (a JSON object of the
 * template's variables, may hold a secret such as a reset link) sealed
 * with the destination under the subject's key. The notifier sends it once
 * per (event, channel) and records the outcome on "delivery-<account_id>". */
oss_code_t api_notice_queue(const api_contact_t *c, const char *kind,
                            const char *channel, const char *account_id,
                            const oss_command_t *cmd, size_t idx,
                            const char *vars_json, int64_t expires_at_us,
                            oss_journal_queue_fn q, void *qctx, oss_err_t *err);

#endif
