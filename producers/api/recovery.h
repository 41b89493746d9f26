/* Account recovery over HTTP (recovery.c): forgot password (a single-use,
 * expiring reset link by e-mail; using it sets the new password and ends
 * every session), forgot account (the masked username, e-mail and phone
 * registered with a NIK) and help requests (an unreachable e-mail replaced
 * after an operator's decision). The use cases are in src/app/recovery.h
 * (rules in src/core/recovery.c); secrets are kept as keyed hashes in
 * oss.reset_secrets (infra/sql/060_recovery.sql) and travel to the notifier
 * only sealed (oss_app_notice_queue, kind "password_reset" /
 * "help_decided"). This file parses, takes the rate limits, calls the use
 * case and replies.
 *
 * Routes (arg = api_ctx_t *; handlers run on the event loop and hand the
 * work to the pool):
 *   POST /v1/password-resets               {email | principal_id} -> 202
 *   POST /v1/password-resets/confirm       {token, password} -> 200
 *   POST /v1/account-recovery              {has_nib, nik} -> 200 masked
 *   POST /v1/help-requests                 {account_id, nik, new_email,
 *                                           evidence_ref} -> 202
 *   GET  /v1/help-requests                 open requests (help.decide)
 *   POST /v1/help-requests/{id}/decision   {decision, reason} (help.decide)
 */
#ifndef OSS_API_RECOVERY_H
#define OSS_API_RECOVERY_H

#include "api.h"
#include "auth.h"

/* Reads the recovery.* keys of cfg (copied). Call once before serving
 * (api_ctx_init does); until then the defaults of oss_rc_policy_default()
 * apply. Not thread-safe against the handlers. */
void api_recovery_init(const oss_config_t *cfg);

void api_h_password_reset(oss_http_req_t *req, void *arg);
void api_h_password_reset_confirm(oss_http_req_t *req, void *arg);
void api_h_account_recovery(oss_http_req_t *req, void *arg);
void api_h_help_request(oss_http_req_t *req, void *arg);
void api_h_help_requests_list(oss_http_req_t *req, void *arg);
void api_h_help_decision(oss_http_req_t *req, void *arg);

#endif
