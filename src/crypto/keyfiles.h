/* The embedded default's key files: create what is missing (mode 0600), but
 * never a new master or index key once the journal holds sealed data, since
 * that data would become unreadable (or unfindable) under a fresh key. Used
 * by `oss keys init` (infra/run). */
#ifndef OSS_CRYPTO_KEYFILES_H
#define OSS_CRYPTO_KEYFILES_H

#include "core/error.h"

/* For each path (borrowed; NULL or "" = skip): when the file exists, checks
 * that it loads (mode 0600, well formed); when it is missing, creates its
 * parent directory (0700) if needed and a new key file (0600). Refuses with
 * OSS_ECORRUPT to create a missing master or index key file when
 * journal_has_sealed_data is non-zero (oss.subject_keys is non-empty); the
 * bus signing key may always be created. Returns the first error met;
 * files created before it are kept. */
oss_code_t oss_keys_ensure_local(const char *master, const char *index,
                                 const char *bus, int journal_has_sealed_data,
                                 oss_err_t *err);

#endif
