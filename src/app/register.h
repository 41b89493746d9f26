/* The registration of a business account (POST /v1/accounts), written once
 * for every front end: the terms of use version it accepts, the personal
 * fields sealed under a new subject's data key, the one-account-per-business
 * claim, the decision (AccountRegistered + TermsAccepted on a new
 * "account-<id>"), the side rows written in the same transaction (the
 * subject's wrapped key, the owner principal, its grant, oss.account_scope,
 * the e-mail and NIK look-ups) and the activation issued with it.
 *
 * A registration is made in steps so that a worker of the pool can put
 * several of them in ONE oss_journal_execute() (group commit: batch.h):
 * oss_app_register_prepare() (terms + seal), oss_app_register_commands()
 * (the commands of the batch), the batch, oss_app_register_finish() (the
 * outcome). oss_app_register() does all of it on one journal. The OSS 1.1
 * migration (legacy.h) builds on the same steps.
 *
 * Ownership: an oss_app_register_t is the caller's (zeroed before use,
 * kept in place from prepare to finish: the commands point into it), and
 * is released with oss_app_register_clear(), which frees what it owns and
 * wipes the plaintext. Its borrowed inputs must outlive finish.
 * Thread-safety: one registration is used by one thread at a time;
 * distinct registrations on distinct threads are independent. */
#ifndef OSS_APP_REGISTER_H
#define OSS_APP_REGISTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/lifecycle.h"
#include "core/account.h"
#include "core/error.h"
#include "journal/journal.h"

/* Reason codes (oss_err_reason()) of a refused registration. */
/* terms_version is not among the versions in force (field
 * "terms_version"; before any transaction) */
#define OSS_APP_REASON_UNKNOWN_VERSION "unknown_version"
/* the business has an account already (OSS_EDUPLICATE, field "nik",
 * "npwp" or "passport"; no event written) */
#define OSS_APP_REASON_ONE_ACCOUNT_PER_BUSINESS "one_account_per_business"
/* the idempotency key was used with another request (OSS_EDUPLICATE, the
 * journal's field) */
#define OSS_APP_REASON_KEY_REUSED "reused"

/* The step that failed when a function here returns an error. */
typedef enum oss_app_register_step {
    OSS_APP_REGISTER_STEP_NONE = 0,
    OSS_APP_REGISTER_STEP_TERMS,  /* the terms of use could not be read */
    OSS_APP_REGISTER_STEP_READ,   /* a row the command needs (legacy.h) */
    OSS_APP_REGISTER_STEP_SEAL,   /* the personal data could not be sealed */
    OSS_APP_REGISTER_STEP_PACK,   /* an event could not be packed (memory) */
    OSS_APP_REGISTER_STEP_APPEND, /* the transaction did not commit */
} oss_app_register_step_t;

typedef struct oss_app_register oss_app_register_t;

/* The answer the idempotency row remembers for an appended registration
 * (version: the stream's last version): returns new (caller of the journal
 * frees), or NULL. */
typedef char *(*oss_app_register_response_fn)(void *arg,
                                              const oss_app_register_t *r,
                                              int64_t version);

struct oss_app_register {
    /* in */
    oss_registration_t reg;      /* validated (oss_registration_validate());
                                    plaintext, wiped by oss_app_register_clear() */
    const char *idempotency_key; /* borrowed; NULL: none */
    uint8_t request_hash[32];    /* with the key: the request's digest */
    const char *correlation_id;  /* borrowed */
    oss_app_register_response_fn response_fn; /* may be NULL */
    void *response_arg;                       /* borrowed */
    /* out: filled by prepare */
    char account_id[OSS_UUID_STR];
    char stream_id[OSS_ID_MAX];
    char subject_id[OSS_UUID_STR];
    char terms_sha256[65];
    bool has_act;                 /* an activation is issued with it */
    oss_app_activation_t act;     /* its channel, stream (owned) */
    oss_app_register_step_t step; /* when a function returned an error */
    /* out: filled by finish */
    oss_journal_outcome_t outcome;
    oss_err_t err; /* when REJECTED: reasons above (OSS_ECONFLICT: the
                      stream exists) */
    int64_t last_version;
    int replay_status;     /* REPLAYED: the first answer's status (0: 201) */
    char *replay_response; /* REPLAYED: its body (owned; NULL once taken) */
    /* private (register.c, legacy.c) */
    char master_key_id[17];
    uint8_t *wrapped;
    size_t wlen;
    uint8_t *payload; /* AccountRegistered */
    size_t payload_len;
    uint8_t *terms_payload; /* TermsAccepted */
    size_t terms_payload_len;
    oss_claim_t claim[2]; /* business identity; legacy_id (legacy.c) */
    size_t nclaims;
    char legacy_id[65];      /* legacy.c: the OSS 1.1 row migrated */
    uint8_t *legacy_payload; /* legacy.c: LegacyAccountMigrated */
    size_t legacy_payload_len;
    char email_digest[65]; /* hex; oss.account_lookup (sign-in) */
    char nik_digest[65];   /* hex; "forgot account"; "" without a NIK */
    char phone_digest[65]; /* hex; a password reset asked by phone */
};

/* Checks r->reg.terms_version against the versions in force
 * (oss_app_terms_lookup() on j's connection, cached: no round trip per
 * registration). Returns OSS_OK; OSS_ENOTFOUND with reason
 * OSS_APP_REASON_UNKNOWN_VERSION and field "terms_version"; else the error
 * (OSS_EUNAVAIL, r->step TERMS; logged). */
oss_code_t oss_app_register_terms(oss_journal_t *j, oss_app_register_t *r,
                                  oss_err_t *err);

/* Makes the account id, the subject and its data key (wrapped by
 * app->master), seals the personal fields (AAD subject_id|field), packs
 * the events, takes the business identity's keyed hash as the claim and,
 * when app->lc is set, prepares the activation. Returns OSS_OK, else the
 * error (r->step SEAL; logged). */
oss_code_t oss_app_register_seal(oss_app_t *app, oss_app_register_t *r,
                                 oss_err_t *err);

/* oss_app_register_terms() then oss_app_register_seal(). */
oss_code_t oss_app_register_prepare(oss_app_t *app, oss_journal_t *j,
                                    oss_app_register_t *r, oss_err_t *err);

/* Fills cmds[0] (the registration) and, when an activation is issued with
 * it, cmds[1] (ActivationIssued on the access stream, after the
 * registration in the same transaction; harmlessly rejected when the
 * registration was rejected or replayed). cmds (zeroed, at least 2) point
 * into r until they are freed. Returns how many it filled (1 or 2). */
size_t oss_app_register_commands(oss_app_register_t *r, oss_command_t *cmds);

/* Reads the outcome of the commands oss_app_register_commands() filled
 * (cmds[0..k); rc, err: the transaction's result) into r (outcome, err,
 * last_version, the replay taken from cmds[0]) and logs it. Returns rc, or
 * OSS_EINTERNAL when nothing ran (k 0); on an error r->step is APPEND. */
oss_code_t oss_app_register_finish(oss_app_register_t *r, oss_command_t *cmds,
                                   size_t k, oss_code_t rc,
                                   const oss_err_t *err);

/* The whole registration on j (one transaction of its own): prepare,
 * commands, oss_journal_execute(), finish. Returns OSS_OK when the
 * transaction committed (the result in r->outcome / r->err), the refusal
 * of oss_app_register_terms(), or the error (r->step; OSS_EUNAVAIL:
 * retriable). */
oss_code_t oss_app_register(oss_app_t *app, oss_journal_t *j,
                            oss_app_register_t *r, oss_err_t *err);

/* Frees what r owns and wipes its plaintext; r may be reused after
 * zeroing. */
void oss_app_register_clear(oss_app_register_t *r);

#endif
