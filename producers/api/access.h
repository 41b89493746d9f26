/* Business access rights over HTTP (hak akses): delegates, ownership
 * transfer, written hand-over requests and the end of access. Rules are in
 * src/core/access.c; events (schemas/oss/v1/access.proto) go on the account
 * stream "account-<id>", and every grant, session and credential they
 * change is written in the same transaction (oss.grants, oss.sessions,
 * oss.credentials), together with SessionEnded events on each affected
 * principal's access stream and the targeted notices (oss.deliveries).
 *
 * Routes (arg = api_ctx_t *; all under /v1/accounts/{id}):
 *   GET    members                            account.read
 *   POST   members                            members.manage
 *   DELETE members/{principal_id}             members.manage
 *   POST   transfer                           transfer
 *   POST   transfer/accept                    self (the offered person)
 *   POST   handover-requests                  handover.file
 *   POST   handover-requests/{rid}/objection  handover.object
 *   POST   handover-requests/{rid}/decision   handover.decide
 *   POST   terminations                       terminate
 *   POST   restrictions                       restrict (the OSS authority)
 *   POST   restrictions/lift                  restrict */
#ifndef OSS_API_ACCESS_H
#define OSS_API_ACCESS_H

#include "api.h"
#include "config/config.h"

/* Reads access.cooling_off_working_days, access.transfer_ttl_s and the
 * holiday list access.holidays_file (cfg borrowed; nothing kept from it).
 * An unreadable or malformed holiday file is a warning: weekends only.
 * Call once before the server runs; without it the defaults apply. */
void api_access_init(const oss_config_t *cfg);

void api_h_members_list(oss_http_req_t *req, void *arg);
void api_h_member_add(oss_http_req_t *req, void *arg);
void api_h_member_remove(oss_http_req_t *req, void *arg);
void api_h_transfer_offer(oss_http_req_t *req, void *arg);
void api_h_transfer_accept(oss_http_req_t *req, void *arg);
void api_h_handover_file(oss_http_req_t *req, void *arg);
void api_h_handover_object(oss_http_req_t *req, void *arg);
void api_h_handover_decide(oss_http_req_t *req, void *arg);
void api_h_terminate(oss_http_req_t *req, void *arg);
void api_h_restrict(oss_http_req_t *req, void *arg);
void api_h_restriction_lift(oss_http_req_t *req, void *arg);

#endif
