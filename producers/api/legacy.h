/* POST /v1/legacy-migrations (route in register.c; the use case is
 * src/app/legacy.h): an OSS 1.1 account ("ganti hak akses")
 * becomes a new OSS account. The caller proves the old credentials
 * (username + password, checked against the Argon2id hash imported by
 * `oss legacy import`) and repeats the company's NPWP, ratification decree
 * number, director name and NIK (checked against keyed digests); with a new
 * e-mail and phone the account is registered like POST /v1/accounts
 * (src/app/register.c: same validation, one-account-per-business claim,
 * sealing, activation) plus a LegacyAccountMigrated event naming the legacy id,
 * and the legacy row is marked migrated (single use) in the same transaction.
 */
#ifndef OSS_API_LEGACY_H
#define OSS_API_LEGACY_H

#include "api.h"

/* Route handler (arg = api_ctx_t *). */
void api_h_legacy_migrate(oss_http_req_t *req, void *arg);

#endif
