/* Targeted notices (consumers/notifier delivers them): a principal's
 * contact opened from its sealed personal data, and the sealed
 * oss.deliveries row of a message of a template kind, queued in the same
 * transaction as the event it is about. */
#ifndef OSS_APP_NOTICE_H
#define OSS_APP_NOTICE_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/error.h"
#include "core/validate.h"
#include "crypto/crypto.h"
#include "journal/journal.h"

/* A principal's contact, opened from its sealed personal data (plaintext in
 * memory only; wipe with oss_app_contact_clear()). */
typedef struct oss_app_contact {
    char subject_id[OSS_UUID_STR];
    char name[401];
    char email[255];
    char phone[OSS_PHONE_MAX];
    oss_data_key_t dk; /* the subject's data key */
} oss_app_contact_t;

/* Loads principal_id's contact (oss.principals -> its subject and the event
 * holding the sealed fields) on a borrowed connection with the master
 * keyring (borrowed) into *c (wipe with oss_app_contact_clear()).
 * OSS_ENOTFOUND unknown, or the subject was erased (reason
 * OSS_SUBJECT_REASON_ERASED: no message can reach it); OSS_EUNAVAIL. */
struct pg_conn;
oss_code_t oss_app_contact_load(struct pg_conn *conn,
                                const oss_keyring_t *master,
                                const char *principal_id, oss_app_contact_t *c,
                                oss_err_t *err);
void oss_app_contact_clear(oss_app_contact_t *c);

/* ---- contacts ------------------------------------------------------------ */

/* Applies the newest ContactReplaced of principal_id's contact stream to c
 * (loaded by oss_app_contact_load(): the e-mail and phone an approved help
 * request replaced). Returns OSS_OK (also when nothing was replaced),
 * OSS_EUNAVAIL, or OSS_ECORRUPT when the replacement does not open. */
oss_code_t oss_app_contact_refresh(oss_journal_t *j, const char *principal_id,
                                   oss_app_contact_t *c, oss_err_t *err);

/* principal_id's current contact: oss_app_contact_load() with app's master
 * keyring, then oss_app_contact_refresh(). OSS_ENOTFOUND (unknown or
 * erased), OSS_EUNAVAIL, others; on error c is cleared. The caller wipes c
 * with oss_app_contact_clear(). */
oss_code_t oss_app_contact_current(oss_app_t *app, oss_journal_t *j,
                                   const char *principal_id,
                                   oss_app_contact_t *c, oss_err_t *err);

/* Queues one oss.deliveries row for the event at cmd->events.items[idx]:
 * a message of template kind (consumers/notifier/templates.c) to c on
 * channel ("email" | "whatsapp"), with vars_json (a JSON object of the
 * template's variables, may hold a secret such as a reset link) sealed
 * with the destination under the subject's key. The notifier sends it once
 * per (event, channel) and records the outcome on "delivery-<account_id>". */
oss_code_t oss_app_notice_queue(const oss_app_contact_t *c, const char *kind,
                                const char *channel, const char *account_id,
                                const oss_command_t *cmd, size_t idx,
                                const char *vars_json, int64_t expires_at_us,
                                oss_journal_queue_fn q, void *qctx,
                                oss_err_t *err);

/* The template variables of a notice: a flat JSON object of the n string
 * pairs kv[2i], kv[2i+1] (compact, in order, escaped as jansson does),
 * made in one buffer the caller can wipe (it may hold a name or a reset
 * link): new, wipe with OPENSSL_cleanse() and free(); NULL on OOM. */
char *oss_app_notice_vars(const char *const *kv, size_t n);

#endif
