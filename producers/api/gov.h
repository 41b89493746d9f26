/* Government accounts over HTTP (gov.c): an institution's access
 * administrator creates, lists and revokes its officers; GET /v1/me tells
 * any signed-in principal who it is and what it may do. Handlers take
 * arg = api_ctx_t * and run their work on the pool. */
#ifndef OSS_API_GOV_H
#define OSS_API_GOV_H

#include "http/http.h"

/* POST /v1/institutions/{code}/officers (officers.manage) */
void api_h_officer_create(oss_http_req_t *req, void *arg);
/* GET /v1/institutions/{code}/officers (officers.manage) */
void api_h_officers_list(oss_http_req_t *req, void *arg);
/* DELETE /v1/institutions/{code}/officers/{principal_id} (officers.manage) */
void api_h_officer_revoke(oss_http_req_t *req, void *arg);
/* GET /v1/me (self) */
void api_h_me(oss_http_req_t *req, void *arg);

/* True when code names an institution: "oss", a 3-digit sector code, a
 * 10-digit region code or "kek-" and 1-11 of [a-z0-9]. */
bool oss_app_institution_valid(const char *code);

#endif
