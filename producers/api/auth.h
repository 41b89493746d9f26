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
#include "app/notice.h"
#include "app/principal.h"
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
 * account's domicile region): region must hold 11 bytes; *restricted (may
 * be NULL) says whether the OSS authority restricted it (set the target's
 * restricted from it). Replies 404 "no
 * such account" and returns false when the account does not exist (503 on
 * a database error). */
/* The answer to a business user of an account the OSS authority restricted
 * (403 account_restricted): why, and how to reach the help desk. */
#define OSS_API_RESTRICTED_MSG                                                 \
    "the OSS authority restricted this account's access; contact the OSS "     \
    "help desk: helpdesk.oss@insw.go.id, call centre 169 (a sign-in and "      \
    "every action on the account are refused until it is lifted)"

bool api_account_target(api_worker_t *w, oss_http_req_t *req,
                        const char *account_id, char *region, bool *restricted);

/* oss_authz_check(); on refusal replies 403 "forbidden" (naming the reason)
 * or 404 "no such account" and returns false. */
bool api_auth_allow(oss_http_req_t *req, const oss_principal_t *p,
                    oss_action_t a, const oss_target_t *t);

/* ---- persons and new principals ----------------------------------------- */

/* Reads the person fields from body (borrowed): nik | passport+country,
 * name, birth_date (optional), email, phone, channel (default "email"),
 * each under prefix (e.g. "" or "new_owner_": "new_owner_nik"). Returns
 * true, or replies 422 naming every bad field and returns false. */
bool api_person_parse(oss_http_req_t *req, json_t *body, const char *prefix,
                      oss_app_person_t *out);
/* ---- targeted notices (consumers/notifier delivers them) ---------------- */

/* Loads principal_id's contact (oss.principals -> its subject and the event
 * holding the sealed fields). OSS_ENOTFOUND unknown (err->field "" ) or
 * the subject was erased (reason OSS_SUBJECT_REASON_ERASED: no message can
 * reach it); OSS_EUNAVAIL. */
oss_code_t api_contact_load(api_worker_t *w, const char *principal_id,
                            oss_app_contact_t *c, oss_err_t *err);
#endif
