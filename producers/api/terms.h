/* Terms of use as versioned data (infra/sql/051_terms.sql): the look-up a
 * registration makes for the version it accepts, GET /v1/terms (public) and
 * POST /v1/accounts/{id}/terms-acceptance (the owner accepts a newer
 * version: a TermsAccepted event on the account stream). */
#ifndef OSS_API_TERMS_H
#define OSS_API_TERMS_H

#include "api.h"

/* The version look-up and the acceptance use case: src/app/terms.h. */

/* Route handlers (arg = api_ctx_t *). */
void api_h_terms_list(oss_http_req_t *req, void *arg);
void api_h_terms_accept(oss_http_req_t *req, void *arg);

#endif
