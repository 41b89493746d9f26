/* Personal data over HTTP (privacy.c; issue 4, item 7): reading a subject's
 * personal data (staff reads logged with a reason in oss.pii_access_log in
 * the same transaction as a PersonalDataRead event), the subject's view of
 * who read it, the subject's export of everything held about it, and the
 * operator's crypto-shredding of a subject (src/crypto/subject.h).
 *
 * Routes (arg = api_ctx_t *; handlers run on the event loop and hand the
 * work to the pool):
 *   GET  /v1/accounts/{id}/personal-data[?reason=R]  personal.read (owner:
 *        own account, no reason; officer in scope / operator / auditor:
 *        reason required, every read logged)
 *   GET  /v1/me/personal-data-access   self: who read my data, when, why
 *   GET  /v1/me/export                 self: all my personal data (JSON)
 *   POST /v1/subjects/{id}/erasure     subject.erase (operator) {reason}
 */
#ifndef OSS_API_PRIVACY_H
#define OSS_API_PRIVACY_H

#include "api.h"

void api_h_personal_data(oss_http_req_t *req, void *arg);
void api_h_me_pii_access(oss_http_req_t *req, void *arg);
void api_h_me_export(oss_http_req_t *req, void *arg);
void api_h_subject_erase(oss_http_req_t *req, void *arg);

#endif
