/* UTC time as text: RFC 3339 formatting and parsing of unix microseconds
 * (the clock readings of clock.h and the *_us fields of events), and the
 * proleptic Gregorian calendar under them; the one copy of each in the tree.
 * In the core because the core needs the calendar itself (the working-day
 * arithmetic of access.c) and may include only libc and core/ headers.
 * Pure: libc only, no time zone database, no locale, no global state;
 * reentrant. Pointers are borrowed, nothing is allocated. Years are those of
 * RFC 3339: 0000 to 9999. */
#ifndef OSS_CORE_UTC_H
#define OSS_CORE_UTC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Room for the longest text oss_utc_format() writes, NUL included. */
#define OSS_UTC_STR 32

/* Writes us (unix microseconds; floor semantics before 1970) as
 * "YYYY-MM-DDTHH:MM:SSZ" (digits 0), "YYYY-MM-DDTHH:MM:SS.mmmZ" (3) or
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (6; any other digits value counts as 6) into
 * out (n bytes, NUL-terminated, truncated like snprintf). Times outside years
 * 0000..9999 are clamped to the nearest end. Returns the text's length. */
size_t oss_utc_format(int64_t us, int digits, char *out, size_t n);
/* Parses RFC 3339 date-time text "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|
 * -hh:mm)" (the whole of s; a fraction beyond microseconds is truncated, a
 * leap second :60 counts as the next second) into unix microseconds:
 * OSS_OK, or OSS_EMALFORMED with *err (may be NULL) set. */
oss_code_t oss_utc_parse(const char *s, int64_t *us, oss_err_t *err);

/* The UTC civil date of us (unix microseconds; floor semantics before 1970,
 * clamped to years 0000..9999 as oss_utc_format() does) as the integer
 * YYYYMMDD, e.g. 20240229: the `today` that oss_birth_date_parse() and
 * oss_registration_validate() take. */
int oss_utc_yyyymmdd(int64_t us);

/* Days since 1970-01-01 of the civil date y-m-d (m 1..12, d 1..31; not
 * checked: out-of-range days count on, as timegm() does). */
int64_t oss_utc_days_from_civil(int64_t y, int m, int d);
/* The civil date of `days` since 1970-01-01 (any sign). */
void oss_utc_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* The number of days of month m (1..12) of year y. */
int oss_utc_month_days(int64_t y, int m);

#endif
