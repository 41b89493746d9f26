/* The account lifecycle's shared half: the configuration (OTP keys,
 * policy, Argon2id costs, the common-password list), the codec between
 * lifecycle events (lifecycle.proto) and the core's facts
 * (src/core/lifecycle.h), the keyed hashes of secrets, and the activation
 * that a registration or a new principal issues in its append transaction.
 * The HTTP routes of the lifecycle (producers/api/lifecycle.c) and every
 * command that ends sessions or sets a password use it.
 *
 * Thread-safety: the configuration is read-only after oss_app_lc_init();
 * everything else works on caller-owned values. */
#ifndef OSS_APP_LIFECYCLE_H
#define OSS_APP_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/codec.h"
#include "core/clock.h"
#include "core/lifecycle.h"
#include "journal/journal.h"

/* The lifecycle's configuration (app->lc). */
struct oss_app_lc {
    oss_keyring_t otp;
    oss_lc_policy_t policy;
    oss_clock_t clock;
    uint32_t t_cost, m_kib, lanes;
    char **common; /* sorted, lower case */
    size_t ncommon;
};

/* Loads the lifecycle's configuration (OTP key, policy, Argon2id costs, the
 * common-password list) into app->lc. A missing or unusable
 * crypto.otp_key_file leaves app->lc NULL with a warning: registration then
 * issues no activation and the lifecycle's commands answer unavailable. */
void oss_app_lc_init(oss_app_t *app, const oss_config_t *cfg);
void oss_app_lc_free(oss_app_t *app);

/* HMAC-SHA256(key, kind "|" a ["|" b]) as hex (65 bytes); b may be NULL. */
void oss_app_lc_keyed_hex(const uint8_t key[32], const char *kind,
                          const char *a, const char *b, char out[65]);
/* The OTP key with id (borrowed from lc), or NULL. */
const uint8_t *oss_app_lc_otp_key(const oss_app_lc_t *lc, const char *id);
/* The lifecycle clock (unix microseconds). */
int64_t oss_app_lc_clock(const oss_app_lc_t *lc);
/* For oss_password_policy_check(): ctx = the oss_app_lc_t. */
bool oss_app_lc_is_common(void *ctx, const char *lower);

/* The codec of lifecycle events (fold, encode): app/codec.h. */

/* The keyed hash (hex, 65 bytes) oss.sessions.token_hmac holds for a
 * session token (borrowed). False when the lifecycle is disabled. */
bool oss_app_lc_session_hmac(const oss_app_t *app, const char *token,
                             char out[65]);
/* HMAC-SHA256 under the current OTP key of kind "|" value, hex (65 bytes),
 * and that key's id (17 bytes; may be NULL). False when disabled. */
bool oss_app_lc_keyed_hmac(const oss_app_t *app, const char *kind,
                           const char *value, char out[65], char *key_id);
/* NULL when pw is acceptable, else the reason of
 * oss_password_policy_check() (common list included); "disabled". */
const char *oss_app_lc_password_policy(const oss_app_t *app, const char *pw);
/* Argon2id with the configured costs (slow: run it on a worker) into out
 * (OSS_PASSWORD_ENCODED_MAX bytes). OSS_EUNAVAIL when disabled. */
oss_code_t oss_app_lc_password_hash(const oss_app_t *app, const char *pw,
                                    char *out, size_t outlen, oss_err_t *err);
/* The lifecycle clock; 0 when disabled. */
int64_t oss_app_lc_now(const oss_app_t *app);

/* The activation a registration or a new principal issues in its append
 * transaction: the OTP and link token (plaintext only here, wiped by
 * oss_app_activation_clear()), their keyed hashes, and the delivery sealed
 * under the subject's key. */
typedef struct oss_app_activation {
    oss_app_lc_t *lc;
    char account_id[OSS_ID_MAX];
    char stream_id[OSS_ID_MAX]; /* the access stream */
    /* the registration's own command, earlier in the same batch; the
     * activation is issued only when it appended (NULL: unconditional) */
    const oss_command_t *reg_cmd;
    char subject_id[OSS_UUID_STR];
    char delivery_id[OSS_UUID_STR];
    char channel[12];
    char otp[8];
    char token[48];
    char otp_hmac[65], link_hmac[65]; /* hex */
    char key_id[17];
    uint8_t *sealed; /* nonce || ciphertext || tag */
    size_t sealed_len;
    int64_t expires_at_us; /* set by decide */
} oss_app_activation_t;

/* Makes the secrets for account_id's access stream and seals them under dk
 * (borrowed) into *a (caller clears with oss_app_activation_clear()).
 * Returns OSS_OK, OSS_EUNAVAIL when the lifecycle is disabled. */
oss_code_t oss_app_activation_prepare(oss_app_t *app, const oss_data_key_t *dk,
                                      const char *account_id,
                                      const char *channel,
                                      oss_app_activation_t *a, oss_err_t *err);
void oss_app_activation_clear(oss_app_activation_t *a);
/* decide (ActivationIssued, once a->reg_cmd appended: else OSS_ENOTFOUND
 * with reason "not_registered") and extra_fn (secret and delivery rows of
 * an ActivationIssued in cmd's events) on the access stream; ctx = a. */
oss_code_t oss_app_activation_issue_decide(void *a, const oss_event_t *history,
                                           size_t n, oss_event_list_t *out,
                                           oss_err_t *err);
oss_code_t oss_app_activation_extra(void *a, const oss_command_t *cmd,
                                    oss_journal_queue_fn q, void *qctx,
                                    oss_err_t *err);

#endif
