/* The account aggregate, pure: validating a registration (every bad field
 * collected, one entry per field), folding a stream's history into state
 * (evolve) and deciding a command against that state. Encoding the event
 * payload (protobuf) and sealing personal fields happen in the shell
 * (producers/api), so this file stays libc-only. Thread-safe, no
 * allocation. */
#ifndef OSS_CORE_ACCOUNT_H
#define OSS_CORE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/event.h"
#include "core/validate.h"

#define OSS_ACCOUNT_STREAM_TYPE "account"
#define OSS_ACCOUNT_REGISTERED "oss.v1.AccountRegistered"

/* Raw registration fields as received (borrowed; NULL = absent). */
typedef struct oss_registration_input {
    const char *scale;      /* "UMK" | "NON_UMK" */
    const char *actor_type; /* "01".."04" */
    const char *nik;
    const char *name;       /* as on the KTP */
    const char *birth_date; /* YYYY-MM-DD or DD-MM-YYYY */
    const char *email;
    const char *phone;
    const char *country; /* optional, default "ID" */
    const char *website; /* optional */
    const char *terms_version;
    const char *npwp;             /* optional: 15 (legacy) or 16 digits */
    const char *passport;         /* actor types 03/04: instead of the NIK */
    const char *passport_country; /* issuing country, with passport */
    const char *region_code;      /* optional: domicile, 10 digits */
} oss_registration_input_t;

/* A validated, normalised registration (plain values; the shell seals the
 * personal ones before they enter an event). */
typedef struct oss_registration {
    int scale; /* oss.v1.BusinessScale: 1 UMK, 2 NON_UMK */
    char actor_type[3];
    char nik[17];
    char name[401];
    char birth_date[11]; /* YYYY-MM-DD */
    char email[255];
    char phone[OSS_PHONE_MAX]; /* E.164 */
    char country[3];
    char website[256];
    char terms_version[33];
    bool nik_birth_date_mismatch; /* a warning, never a rejection */
    char npwp[17];                /* NPWP16 ("" when not given) */
    char passport[21];            /* upper-cased ("" with a NIK) */
    char passport_country[3];     /* ISO 3166-1 alpha-2 ("" with a NIK) */
    char region_code[11];         /* "" when not given */
} oss_registration_t;

/* Identity: actor types 01 and 02 give a NIK; 03 and 04 (representative
 * office, foreign business entity: foreign directors) give a NIK or a
 * passport number with its issuing country (neither: "passport" required;
 * passport without country: "passport_country" required).
 * Validates in into *out. Fields already present in *fe (e.g. a wrong JSON
 * type found by the decoder) are skipped; every other bad field adds one
 * entry. today = YYYYMMDD (0 = no future check). Returns OSS_OK, or
 * OSS_EINVAL when fe holds at least one entry afterwards. */
oss_code_t oss_registration_validate(const oss_registration_input_t *in,
                                     int today, oss_registration_t *out,
                                     oss_field_errors_t *fe);

/* The business identity that "one account per business" is keyed on:
 * actor type 02 (individual: the person is the business) -> its NIK; a
 * business entity (01, 03, 04) -> its NPWP when given, else its company
 * e-mail (the responsible person's NIK is no business's identity: a
 * director registers once per company, as the OSS guides say). Writes the
 * request field it comes from ("nik" | "npwp" | "email", static; also the
 * kind the keyed hash is taken under, so a NIK claim's digest is the NIK's
 * look-up digest and an e-mail claim's the e-mail's) into *field and the
 * normalised value (the NIK, NPWP16, the e-mail) into value (valuesz >=
 * 255). r is a validated registration (borrowed). Returns false when r
 * holds no identity (not validated). */
bool oss_registration_business_identity(const oss_registration_t *r,
                                        const char **field, char *value,
                                        size_t valuesz);

/* State folded from an account stream. */
typedef struct oss_account_state {
    bool exists;
    int64_t version; /* last applied version, 0 when new */
    char status[16]; /* "registered", ... ; "" when new */
} oss_account_state_t;

/* Starts a fold. */
void oss_account_state_init(oss_account_state_t *st);
/* Applies one event (borrowed). Unknown payload types only move the
 * version (forward compatibility). */
void oss_account_evolve(oss_account_state_t *st, const oss_event_t *ev);
/* Folds history[0..n) from scratch into *st. */
void oss_account_fold(oss_account_state_t *st, const oss_event_t *history,
                      size_t n);

/* decide(register): OSS_OK when an AccountRegistered event may be emitted,
 * OSS_EDUPLICATE when the stream already exists, OSS_ECONFLICT when
 * expected_version (>= 0) differs from the state's version. */
oss_code_t oss_account_decide_register(const oss_account_state_t *st,
                                       int64_t expected_version,
                                       oss_err_t *err);

#endif
