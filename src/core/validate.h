/* Field validators and normalisers for commands (e-mail, phone, dates, names,
 * codes, URLs, UTF-8) and the per-field error list that collects every bad
 * field of a request. Pure: libc only, no allocation, no logging; each
 * validator returns NULL when the value is good, else a stable reason code
 * (a static string such as "email_invalid"). Thread-safe. */
#ifndef OSS_CORE_VALIDATE_H
#define OSS_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* Reason codes shared by every command. */
#define OSS_REASON_REQUIRED "required"
#define OSS_REASON_MUST_BE_STRING "must_be_string"
#define OSS_REASON_UNKNOWN_FIELD "unknown_field"
#define OSS_REASON_TOO_LONG "too_long"
#define OSS_REASON_INVALID_UTF8 "invalid_utf8"

#define OSS_FIELD_ERRORS_MAX 32
/* A phone number in E.164 with its NUL: "+" and at most 15 digits. */
#define OSS_PHONE_MAX 17

/* One bad field: names are copied (truncated to the buffer). */
typedef struct oss_field_error {
    char field[48];
    char reason[48];
} oss_field_error_t;

/* At most one entry per field; the first reason given for a field wins. */
typedef struct oss_field_errors {
    size_t n;
    oss_field_error_t items[OSS_FIELD_ERRORS_MAX];
} oss_field_errors_t;

/* Adds (field, reason) unless the field already has an entry or the list is
 * full. Both strings are borrowed and copied. */
void oss_field_errors_add(oss_field_errors_t *fe, const char *field,
                          const char *reason);
/* The reason recorded for field, or NULL. */
const char *oss_field_errors_get(const oss_field_errors_t *fe,
                                 const char *field);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF). */
bool oss_utf8_valid(const char *s, size_t n);

/* E-mail address, a practical subset of RFC 5321/5322: dot-atom local part
 * (at most 64 bytes), '@', a domain of LDH labels (1-63 each, at least two,
 * alphabetic TLD), at most 254 bytes in all. On success writes the address
 * with the domain lower-cased into out (outsz >= 255). Reasons:
 * "email_invalid", "email_too_long". */
const char *oss_email_normalize(const char *in, char *out, size_t outsz);

/* Indonesian phone to E.164: accepts +628..., 628..., 08..., 8... with
 * spaces, '-', '.', '(' and ')' ignored; the national number must start
 * with 1-9 (no 0 after +62) and have 8-12 digits. Writes "+62..." into out
 * (outsz >= 16). Reasons: "phone_invalid", "phone_not_indonesian",
 * "phone_zero_after_country_code". */
const char *oss_phone_normalize(const char *in, char *out, size_t outsz);
/* Any country's phone to E.164, for foreign actors (types 03, 04) and
 * persons identified by passport: "+<country code><number>" or
 * "00<country code><number>" (separators as above) with 7-15 digits after
 * the prefix and a country code starting 1-9; a +62 number, and one with
 * no international prefix, follow oss_phone_normalize(). Writes
 * "+<digits>" into out (outsz >= 17). Reasons: "phone_invalid",
 * "phone_zero_after_country_code". */
const char *oss_phone_normalize_intl(const char *in, char *out, size_t outsz);

/* Birth date as YYYY-MM-DD or DD-MM-YYYY (the OSS form), a real date from
 * 1900-01-01 up to today (today = YYYYMMDD as an int; 0 skips the upper
 * bound). Writes "YYYY-MM-DD" into out (outsz >= 11) and the parts into
 * *y, *m, *d. Reasons: "birth_date_invalid", "birth_date_in_future". */
const char *oss_birth_date_parse(const char *in, int today, char *out,
                                 size_t outsz, int *y, int *m, int *d);

/* Name as on the KTP: 1-100 characters after trimming, UTF-8 letters,
 * spaces, '.', '\'' and '-', at least one letter. Writes the trimmed name
 * into out (outsz >= 401). Reasons: "name_invalid", "name_too_long",
 * "required". */
const char *oss_name_normalize(const char *in, char *out, size_t outsz);

/* Actor type code "01".."04". Reason "actor_type_invalid". */
const char *oss_actor_type_check(const char *in);

/* Business scale "UMK" or "NON_UMK": *scale = 1 (UMK) or 2 (NON_UMK), the
 * numbering of oss.v1.BusinessScale. Reason "scale_invalid". */
const char *oss_scale_parse(const char *in, int *scale);

/* Terms-of-use version: 1-32 of [A-Za-z0-9._-]. Reason
 * "terms_version_invalid". */
const char *oss_terms_version_check(const char *in);

/* Optional website: http:// or https:// then a host, at most 255 bytes, no
 * spaces or control characters. Reason "website_invalid". */
const char *oss_website_check(const char *in);

/* ISO 3166-1 alpha-2 country code, two upper-case letters. Reason
 * "country_invalid". */
const char *oss_country_check(const char *in);

/* Legacy 15-digit NPWP: digits only, the first 9 pass the Luhn check.
 * Reasons: "npwp_not_15_digits", "npwp_check_digit". */
const char *oss_npwp15_check(const char *in);

/* NPWP (tax number) to its 16-digit form: the legacy 15 digits (the first 9
 * pass the Luhn check) become "0" + the 15; 16 digits (NPWP16, or an
 * individual's NIK) are taken as they are. The separators '.' and '-' of the
 * printed form (01.234.567.4-011.000) are ignored. Writes 16 digits into out
 * (outsz >= 17). Reasons: "npwp_not_15_or_16_digits", "npwp_check_digit",
 * "required". */
const char *oss_npwp_normalize(const char *in, char *out, size_t outsz);

/* Passport number: 5-20 of [A-Za-z0-9] (no spaces), upper-cased into out
 * (outsz >= 21). Reasons: "passport_invalid", "required". */
const char *oss_passport_normalize(const char *in, char *out, size_t outsz);

/* Folds text for comparing what a person types again (a director's name,
 * a decree number): trims, collapses runs of spaces and tabs to one space,
 * upper-cases ASCII letters (other bytes kept). Writes into out (outsz >=
 * strlen(in) + 1, else truncated). */
void oss_text_fold(const char *in, char *out, size_t outsz);

/* Kemendagri region code: exactly 10 digits whose first two are a known
 * province (the account's domicile; optional: NULL or "" is good). Reasons:
 * "region_code_invalid", "region_code_unknown_province". */
const char *oss_region_code_check(const char *in);

#endif
