/* The hash chain: SHA-256 over the canonical layout of an event
 * (core/event.h, README.md here). */
#include "journal/journal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void
oss_journal_hash(oss_event_t *ev) {
    uint8_t *buf = NULL;
    size_t len = 0;
    unsigned int hl = OSS_HASH_LEN;
    if (oss_event_canonical(ev, &buf, &len, NULL) != OSS_OK ||
        EVP_Digest(buf, len, ev->hash, &hl, EVP_sha256(), NULL) != 1) {
        /* out of memory or a broken libcrypto: leave a hash that can never
         * verify rather than a plausible one */
        memset(ev->hash, 0, sizeof ev->hash);
    }
    free(buf);
}
