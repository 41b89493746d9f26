/* RFC 3339 UTC text and the civil calendar (see utc.h). Calendar
 * arithmetic after H. Hinnant, "chrono-Compatible Low-Level Date
 * Algorithms". */
#include "core/utc.h"

#include <stdbool.h>
#include <string.h>

#define US_PER_S INT64_C(1000000)
#define S_PER_DAY INT64_C(86400)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in unix us */
#define UTC_MIN_US (INT64_C(-62167219200) * US_PER_S)
#define UTC_MAX_US (INT64_C(253402300800) * US_PER_S - 1)

int64_t
oss_utc_days_from_civil(int64_t y, int m, int d) {
    if (m <= 2)
        y--;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
oss_utc_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int
oss_utc_month_days(int64_t y, int m) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mdays[m - 1] + (m == 2 && leap);
}

int
oss_utc_yyyymmdd(int64_t us) {
    if (us < UTC_MIN_US)
        us = UTC_MIN_US;
    if (us > UTC_MAX_US)
        us = UTC_MAX_US;
    int64_t secs = us / US_PER_S;
    if (us % US_PER_S < 0)
        secs--;
    int64_t days = secs / S_PER_DAY;
    if (secs % S_PER_DAY < 0)
        days--;
    int64_t y;
    int m, d;
    oss_utc_civil_from_days(days, &y, &m, &d);
    return (int)y * 10000 + m * 100 + d;
}

/* Writes v as exactly w decimal digits at p (v >= 0). */
static void
put_digits(char *p, int64_t v, int w) {
    for (int i = w - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t
oss_utc_format(int64_t us, int digits, char *out, size_t n) {
    if (us < UTC_MIN_US)
        us = UTC_MIN_US;
    if (us > UTC_MAX_US)
        us = UTC_MAX_US;
    int64_t secs = us / US_PER_S, frac = us % US_PER_S;
    if (frac < 0) {
        frac += US_PER_S;
        secs--;
    }
    int64_t days = secs / S_PER_DAY, sod = secs % S_PER_DAY;
    if (sod < 0) {
        sod += S_PER_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    oss_utc_civil_from_days(days, &y, &m, &d);

    char t[OSS_UTC_STR];
    put_digits(t, y, 4);
    t[4] = '-';
    put_digits(t + 5, m, 2);
    t[7] = '-';
    put_digits(t + 8, d, 2);
    t[10] = 'T';
    put_digits(t + 11, sod / 3600, 2);
    t[13] = ':';
    put_digits(t + 14, sod / 60 % 60, 2);
    t[16] = ':';
    put_digits(t + 17, sod % 60, 2);
    size_t len = 19;
    if (digits == 3) {
        t[len++] = '.';
        put_digits(t + len, frac / 1000, 3);
        len += 3;
    } else if (digits != 0) {
        t[len++] = '.';
        put_digits(t + len, frac, 6);
        len += 6;
    }
    t[len++] = 'Z';
    t[len] = '\0';
    if (n) {
        size_t k = len < n ? len : n - 1;
        memcpy(out, t, k);
        out[k] = '\0';
    }
    return len;
}

/* Reads exactly w decimal digits at s into *v; false when one is not. */
static bool
get_digits(const char *s, int w, int *v) {
    *v = 0;
    for (int i = 0; i < w; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

oss_code_t
oss_utc_parse(const char *s, int64_t *us, oss_err_t *err) {
    int y, mo, d, h, mi, se, oh = 0, om = 0;
    /* each test below stops at a NUL before reading past it */
    if (!s || !get_digits(s, 4, &y) || s[4] != '-' ||
        !get_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !get_digits(s + 8, 2, &d) || s[10] != 'T' ||
        !get_digits(s + 11, 2, &h) || s[13] != ':' ||
        !get_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !get_digits(s + 17, 2, &se))
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > oss_utc_month_days(y, mo) || h > 23 ||
        mi > 59 || se > 60)
        goto bad;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
        if (nd == 0)
            goto bad;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int sign = 0;
    if (*p == 'Z' && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && get_digits(p + 1, 2, &oh) &&
               p[3] == ':' && get_digits(p + 4, 2, &om) && p[6] == '\0' &&
               oh <= 23 && om <= 59) {
        sign = *p == '+' ? 1 : -1;
    } else {
        goto bad;
    }
    int64_t secs = oss_utc_days_from_civil(y, mo, d) * S_PER_DAY + h * 3600 +
                   mi * 60 + se - sign * (oh * 3600 + om * 60);
    *us = secs * US_PER_S + frac;
    return OSS_OK;
bad:
    return oss_err_set(err, OSS_EMALFORMED,
                       "could not parse time: not an RFC 3339 date-time");
}
