/* NIK structural check (see nik.h). Pure. */
#include "core/nik.h"

#include <stddef.h>
#include <string.h>

bool
oss_is_leap_year(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
oss_days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && oss_is_leap_year(year))
        return 29;
    return days[month - 1];
}

bool
oss_nik_province_known(int code) {
    return (code >= 11 && code <= 19) || code == 21 ||
           (code >= 31 && code <= 36) || (code >= 51 && code <= 53) ||
           (code >= 61 && code <= 65) || (code >= 71 && code <= 76) ||
           (code >= 81 && code <= 82) || (code >= 91 && code <= 96);
}

static int
two(const char *p) {
    return (p[0] - '0') * 10 + (p[1] - '0');
}

const char *
oss_nik_check(const char *nik, oss_nik_info_t *info) {
    oss_nik_info_t ni;

    if (!nik)
        return OSS_NIK_NOT_16_DIGITS;
    for (size_t i = 0; i < 16; i++)
        if (nik[i] < '0' || nik[i] > '9')
            return OSS_NIK_NOT_16_DIGITS;
    if (nik[16] != '\0')
        return OSS_NIK_NOT_16_DIGITS;

    memset(&ni, 0, sizeof ni);
    ni.province = two(nik);
    ni.regency = two(nik + 2);
    ni.district = two(nik + 4);
    ni.day = two(nik + 6);
    ni.month = two(nik + 8);
    ni.yy = two(nik + 10);
    ni.serial = two(nik + 12) * 100 + two(nik + 14);

    if (!oss_nik_province_known(ni.province))
        return OSS_NIK_UNKNOWN_PROVINCE;
    if (ni.day > 40) {
        ni.day -= 40;
        ni.female = true;
    }
    /* Two-digit year: 29 February is valid when the year is a leap year in
     * either century (yy = 00 covers 2000). */
    int year = ni.yy % 4 == 0 ? 2000 : 1901;
    if (ni.day < 1 || ni.day > oss_days_in_month(year, ni.month))
        return OSS_NIK_INVALID_DATE;
    if (ni.serial == 0)
        return OSS_NIK_SERIAL_ZERO;
    if (info)
        *info = ni;
    return NULL;
}

bool
oss_nik_matches_birth_date(const oss_nik_info_t *info, int year, int month,
                           int day) {
    return info->day == day && info->month == month &&
           info->yy == ((year % 100) + 100) % 100;
}
