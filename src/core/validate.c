/* Field validators and normalisers (see validate.h). Pure. */
#include "core/validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/nik.h"

void
oss_field_errors_add(oss_field_errors_t *fe, const char *field,
                     const char *reason) {
    if (oss_field_errors_get(fe, field) || fe->n >= OSS_FIELD_ERRORS_MAX)
        return;
    oss_field_error_t *e = &fe->items[fe->n++];
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->reason, sizeof e->reason, "%s", reason);
}

const char *
oss_field_errors_get(const oss_field_errors_t *fe, const char *field) {
    for (size_t i = 0; i < fe->n; i++)
        if (strcmp(fe->items[i].field, field) == 0)
            return fe->items[i].reason;
    return NULL;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length (>= 1) and the
 * code point, or 0 when malformed. */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        c = s[0] & 0x1F;
        len = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        c = s[0] & 0x0F;
        len = 3;
    } else if ((s[0] & 0xF8) == 0xF0) {
        c = s[0] & 0x07;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
        (len == 4 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

bool
oss_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    while (n > 0) {
        size_t k = utf8_next(p, n, &cp);
        if (k == 0)
            return false;
        p += k;
        n -= k;
    }
    return true;
}

static bool
is_alpha(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(int c) {
    return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static bool
is_atext(int c) {
    return is_alpha(c) || is_digit(c) ||
           (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

const char *
oss_email_normalize(const char *in, char *out, size_t outsz) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    size_t len = strlen(in);
    if (len > 254)
        return "email_too_long";
    const char *at = strrchr(in, '@');
    if (!at || at == in)
        return "email_invalid";
    size_t local = (size_t)(at - in);
    if (local > 64)
        return "email_too_long";
    /* local part: dot-atom */
    for (size_t i = 0; i < local; i++) {
        char c = in[i];
        if (c == '.') {
            if (i == 0 || i == local - 1 || in[i + 1] == '.')
                return "email_invalid";
        } else if (!is_atext((unsigned char)c)) {
            return "email_invalid";
        }
    }
    /* domain: LDH labels, at least two, alphabetic TLD of 2+ */
    const char *d = at + 1;
    size_t labels = 0, lablen = 0;
    const char *label = d;
    if (!*d)
        return "email_invalid";
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (lablen == 0 || lablen > 63 || label[0] == '-' || p[-1] == '-')
                return "email_invalid";
            labels++;
            if (*p == '\0')
                break;
            label = p + 1;
            lablen = 0;
            continue;
        }
        if (!is_alpha((unsigned char)*p) && !is_digit((unsigned char)*p) &&
            *p != '-')
            return "email_invalid";
        lablen++;
    }
    if (labels < 2 || lablen < 2)
        return "email_invalid";
    for (const char *p = label; *p; p++)
        if (!is_alpha((unsigned char)*p))
            return "email_invalid";
    if (outsz < len + 1)
        return "email_too_long";
    memcpy(out, in, len + 1);
    for (char *p = out + local + 1; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return NULL;
}

/* The digits of a phone number into digits[32] (NUL-ended, *n of them),
 * spaces, '-', '.', '(' and ')' ignored, one '+' allowed before the first
 * digit (*plus). NULL, or the reason. */
static const char *
phone_digits(const char *in, char digits[32], size_t *n, bool *plus) {
    *n = 0;
    *plus = false;
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    for (const char *p = in; *p; p++) {
        if (*p == '+' && !*plus && *n == 0 &&
            strspn(in, " ") == (size_t)(p - in)) {
            *plus = true;
        } else if (is_digit((unsigned char)*p)) {
            if (*n + 1 >= 32)
                return "phone_invalid";
            digits[(*n)++] = *p;
        } else if (!strchr(" -.()", *p)) {
            return "phone_invalid";
        }
    }
    digits[*n] = '\0';
    return NULL;
}

const char *
oss_phone_normalize(const char *in, char *out, size_t outsz) {
    char digits[32];
    size_t n;
    bool plus;
    const char *why = phone_digits(in, digits, &n, &plus);
    if (why)
        return why;
    const char *nsn;
    if (plus) {
        if (n < 2 || digits[0] != '6' || digits[1] != '2')
            return "phone_not_indonesian";
        nsn = digits + 2;
        if (*nsn == '0')
            return "phone_zero_after_country_code";
    } else if (n >= 2 && digits[0] == '6' && digits[1] == '2') {
        nsn = digits + 2;
        if (*nsn == '0')
            return "phone_zero_after_country_code";
    } else if (n >= 1 && digits[0] == '0') {
        nsn = digits + 1;
        if (*nsn == '0') /* 00: an international prefix, not Indonesia's */
            return "phone_not_indonesian";
    } else {
        nsn = digits;
    }
    size_t m = strlen(nsn);
    if (m < 8 || m > 12 || nsn[0] == '0')
        return "phone_invalid";
    if (outsz < m + 4)
        return "phone_invalid";
    snprintf(out, outsz, "+62%s", nsn);
    return NULL;
}

const char *
oss_phone_normalize_intl(const char *in, char *out, size_t outsz) {
    char digits[32];
    size_t n;
    bool plus;
    const char *why = phone_digits(in, digits, &n, &plus);
    if (why)
        return why;
    const char *cc = NULL; /* the country code onwards */
    if (plus)
        cc = digits;
    else if (n > 2 && digits[0] == '0' && digits[1] == '0')
        cc = digits + 2;
    if (!cc || (cc[0] == '6' && cc[1] == '2'))
        return oss_phone_normalize(in, out, outsz < 16 ? outsz : 16);
    size_t m = strlen(cc);
    if (m < 7 || m > 15 || cc[0] == '0')
        return "phone_invalid";
    if (outsz < m + 2)
        return "phone_invalid";
    snprintf(out, outsz, "+%s", cc);
    return NULL;
}

static bool
parse_digits(const char *s, size_t n, int *v) {
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

const char *
oss_birth_date_parse(const char *in, int today, char *out, size_t outsz, int *y,
                     int *m, int *d) {
    int yy, mm, dd;

    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    if (strlen(in) != 10)
        return "birth_date_invalid";
    if (in[4] == '-' && in[7] == '-') {
        if (!parse_digits(in, 4, &yy) || !parse_digits(in + 5, 2, &mm) ||
            !parse_digits(in + 8, 2, &dd))
            return "birth_date_invalid";
    } else if (in[2] == '-' && in[5] == '-') {
        if (!parse_digits(in, 2, &dd) || !parse_digits(in + 3, 2, &mm) ||
            !parse_digits(in + 6, 4, &yy))
            return "birth_date_invalid";
    } else {
        return "birth_date_invalid";
    }
    if (yy < 1900 || dd < 1 || dd > oss_days_in_month(yy, mm))
        return "birth_date_invalid";
    if (today > 0 && yy * 10000 + mm * 100 + dd > today)
        return "birth_date_in_future";
    if (outsz < 11)
        return "birth_date_invalid";
    snprintf(out, outsz, "%04d-%02d-%02d", yy, mm, dd);
    if (y)
        *y = yy;
    if (m)
        *m = mm;
    if (d)
        *d = dd;
    return NULL;
}

/* Letters outside ASCII: Latin-1 and Latin Extended (minus the two
 * arithmetic signs), Latin Extended Additional, Greek, Cyrillic, Arabic
 * letters, and the CJK/Hangul/Kana blocks. Combining marks (U+0300-U+036F)
 * are accepted after a letter for decomposed accents. */
static bool
is_letter_cp(uint32_t c) {
    if (c < 0x80)
        return is_alpha((int)c);
    if (c == 0xD7 || c == 0xF7)
        return false;
    return (c >= 0xC0 && c <= 0x24F) || (c >= 0x1E00 && c <= 0x1EFF) ||
           (c >= 0x370 && c <= 0x3FF && c != 0x37E && c != 0x387) ||
           (c >= 0x400 && c <= 0x52F) || (c >= 0x620 && c <= 0x64A) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xAC00 && c <= 0xD7A3);
}

const char *
oss_name_normalize(const char *in, char *out, size_t outsz) {
    if (!in)
        return OSS_REASON_REQUIRED;
    while (*in == ' ')
        in++;
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == ' ')
        n--;
    if (n == 0)
        return OSS_REASON_REQUIRED;
    if (!oss_utf8_valid(in, n))
        return OSS_REASON_INVALID_UTF8;

    const unsigned char *p = (const unsigned char *)in;
    size_t left = n, chars = 0;
    bool letter = false, prev_letter = false;
    while (left > 0) {
        uint32_t cp;
        size_t k = utf8_next(p, left, &cp);
        if (k == 0)
            return OSS_REASON_INVALID_UTF8;
        if (is_letter_cp(cp)) {
            letter = prev_letter = true;
        } else if (cp >= 0x300 && cp <= 0x36F && prev_letter) {
            /* combining accent on a letter */
        } else if (cp == ' ' || cp == '.' || cp == '\'' || cp == '-') {
            prev_letter = false;
        } else {
            return "name_invalid";
        }
        chars++;
        p += k;
        left -= k;
    }
    if (chars > 100)
        return "name_too_long";
    if (!letter)
        return "name_invalid";
    if (outsz < n + 1)
        return "name_too_long";
    memcpy(out, in, n);
    out[n] = '\0';
    return NULL;
}

const char *
oss_actor_type_check(const char *in) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    if (strlen(in) == 2 && in[0] == '0' && in[1] >= '1' && in[1] <= '4')
        return NULL;
    return "actor_type_invalid";
}

const char *
oss_scale_parse(const char *in, int *scale) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    if (strcmp(in, "UMK") == 0)
        *scale = 1;
    else if (strcmp(in, "NON_UMK") == 0)
        *scale = 2;
    else
        return "scale_invalid";
    return NULL;
}

const char *
oss_terms_version_check(const char *in) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    size_t n = strlen(in);
    if (n > 32)
        return "terms_version_invalid";
    for (size_t i = 0; i < n; i++)
        if (!is_alpha((unsigned char)in[i]) &&
            !is_digit((unsigned char)in[i]) && !strchr("._-", in[i]))
            return "terms_version_invalid";
    return NULL;
}

const char *
oss_website_check(const char *in) {
    const char *host;

    if (!in || !*in)
        return NULL; /* optional */
    if (strlen(in) > 255)
        return "website_invalid";
    if (strncmp(in, "https://", 8) == 0)
        host = in + 8;
    else if (strncmp(in, "http://", 7) == 0)
        host = in + 7;
    else
        return "website_invalid";
    size_t hl = strcspn(host, "/?#:");
    if (hl == 0 || host[0] == '.' || host[0] == '-')
        return "website_invalid";
    for (size_t i = 0; i < hl; i++)
        if (!is_alpha((unsigned char)host[i]) &&
            !is_digit((unsigned char)host[i]) && host[i] != '-' &&
            host[i] != '.')
            return "website_invalid";
    for (const char *p = in; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7F || *p == '"' || *p == '<' ||
            *p == '>' || *p == '\\')
            return "website_invalid";
    return NULL;
}

const char *
oss_country_check(const char *in) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    if (strlen(in) == 2 && in[0] >= 'A' && in[0] <= 'Z' && in[1] >= 'A' &&
        in[1] <= 'Z')
        return NULL;
    return "country_invalid";
}

const char *
oss_npwp15_check(const char *in) {
    if (!in || strlen(in) != 15)
        return "npwp_not_15_digits";
    for (size_t i = 0; i < 15; i++)
        if (!is_digit((unsigned char)in[i]))
            return "npwp_not_15_digits";
    /* Luhn over the first 9 digits (the 9th is the check digit). */
    int sum = 0;
    for (int i = 8, k = 0; i >= 0; i--, k++) {
        int v = in[i] - '0';
        if (k % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0 ? NULL : "npwp_check_digit";
}

const char *
oss_npwp_normalize(const char *in, char *out, size_t outsz) {
    char d[17];
    size_t n = 0;

    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    for (const char *p = in; *p; p++) {
        if (*p == '.' || *p == '-')
            continue;
        if (!is_digit((unsigned char)*p) || n >= 16)
            return "npwp_not_15_or_16_digits";
        d[n++] = *p;
    }
    d[n] = '\0';
    if (n == 15) {
        const char *r = oss_npwp15_check(d);
        if (r)
            return r;
    } else if (n != 16) {
        return "npwp_not_15_or_16_digits";
    }
    if (outsz < 17)
        return "npwp_not_15_or_16_digits";
    snprintf(out, outsz, "%s%s", n == 15 ? "0" : "", d);
    return NULL;
}

const char *
oss_passport_normalize(const char *in, char *out, size_t outsz) {
    if (!in || !*in)
        return OSS_REASON_REQUIRED;
    size_t n = strlen(in);
    if (n < 5 || n > 20 || outsz < n + 1)
        return "passport_invalid";
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (!is_alpha((unsigned char)c) && !is_digit((unsigned char)c))
            return "passport_invalid";
        out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[n] = '\0';
    return NULL;
}

const char *
oss_region_code_check(const char *in) {
    if (!in || !*in)
        return NULL; /* optional */
    if (strlen(in) != 10)
        return "region_code_invalid";
    for (size_t i = 0; i < 10; i++)
        if (!is_digit((unsigned char)in[i]))
            return "region_code_invalid";
    if (!oss_nik_province_known((in[0] - '0') * 10 + (in[1] - '0')))
        return "region_code_unknown_province";
    return NULL;
}

void
oss_text_fold(const char *in, char *out, size_t outsz) {
    size_t o = 0;
    bool space = false;

    if (outsz == 0)
        return;
    for (; in && *in && o + 1 < outsz; in++) {
        char c = *in;
        if (c == ' ' || c == '\t') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < outsz)
            out[o++] = ' ';
        space = false;
        out[o++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[o] = '\0';
}
