/* NIK (Nomor Induk Kependudukan) structural check, per ../shared/DOMAIN.md:
 * 16 digits `PP KK CC DDMMYY SSSS` (province, regency/city, district, birth
 * date with day + 40 for women, serial from 0001). No check digit exists, so
 * this is only a structural check: Dukcapil alone can say a NIK exists.
 * Pure: libc only, no allocation, thread-safe. */
#ifndef OSS_CORE_NIK_H
#define OSS_CORE_NIK_H

#include <stdbool.h>

/* Stable reason codes (also used in API error bodies and the unit tests). */
#define OSS_NIK_NOT_16_DIGITS "nik_not_16_digits"
#define OSS_NIK_UNKNOWN_PROVINCE "nik_unknown_province"
#define OSS_NIK_INVALID_DATE "nik_invalid_date"
#define OSS_NIK_SERIAL_ZERO "nik_serial_zero"

typedef struct oss_nik_info {
    int province, regency, district;
    int day, month, yy; /* day with the +40 removed; yy = two-digit year */
    bool female;        /* the day carried +40 */
    int serial;
} oss_nik_info_t;

/* Checks nik (borrowed, NUL-terminated). Returns NULL when structurally
 * valid (and fills *info when info is not NULL), else one of the reason code
 * strings above (static). The first failing rule wins, in the order: digits
 * and length, province, date, serial. */
const char *oss_nik_check(const char *nik, oss_nik_info_t *info);

/* True when the Kemendagri province code exists (11-19, 21, 31-36, 51-53,
 * 61-65, 71-76, 81-82, 91-96). */
bool oss_nik_province_known(int code);

/* True when the NIK's date (day, month, two-digit year) matches the birth
 * date year-month-day. A mismatch is a warning, never a rejection. */
bool oss_nik_matches_birth_date(const oss_nik_info_t *info, int year, int month,
                                int day);

/* Calendar helpers shared with the validators. */
bool oss_is_leap_year(int year);
int oss_days_in_month(int year, int month); /* 0 for a bad month */

#endif
