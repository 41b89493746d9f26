/* Terms of use as versioned data (infra/sql/051_terms.sql): the look-up a
 * registration makes for the version it accepts, GET /v1/terms (public) and
 * POST /v1/accounts/{id}/terms-acceptance (the owner accepts a newer
 * version: a TermsAccepted event on the account stream). */
#ifndef OSS_API_TERMS_H
#define OSS_API_TERMS_H

#include "api.h"

struct pg_conn;

/* Looks version (borrowed) up among the versions in force (published_at <=
 * now) of oss.terms_versions through a process-wide
 * cache (re-read every 10 s, and on a miss at most once a second), so a
 * registration batch costs no round trip. c (borrowed) is the worker's
 * connection. Returns OSS_OK with the text's digest copied into sha256
 * (65 bytes, hex), OSS_ENOTFOUND when the version is unknown, OSS_EUNAVAIL
 * when the table cannot be read and nothing is cached. Thread-safe. */
oss_code_t api_terms_lookup(struct pg_conn *c, const char *version,
                            char *sha256, oss_err_t *err);

/* Route handlers (arg = api_ctx_t *). */
void api_h_terms_list(oss_http_req_t *req, void *arg);
void api_h_terms_accept(oss_http_req_t *req, void *arg);

#endif
