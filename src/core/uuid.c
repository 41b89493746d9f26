/* UUID text form (see uuid.h). */
#include "core/uuid.h"

#include <string.h>

#include "core/bytes.h"

static bool
is_dash_at(int i) {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

bool
oss_uuid_valid(const char *s) {
    if (!s)
        return false;
    for (int i = 0; i < 36; i++) {
        if (!s[i])
            return false;
        if (is_dash_at(i) ? s[i] != '-' : oss_hexval((unsigned char)s[i]) < 0)
            return false;
    }
    return s[36] == '\0';
}

oss_code_t
oss_uuid_parse(const char *s, uint8_t out[OSS_UUID_LEN], oss_err_t *err) {
    if (!oss_uuid_valid(s))
        return oss_err_set(err, OSS_EMALFORMED,
                           "could not parse uuid: not 8-4-4-4-12 hex digits");
    for (int i = 0, o = 0; i < 36; i++) {
        if (is_dash_at(i))
            continue;
        int hi = oss_hexval((unsigned char)s[i]);
        int lo = oss_hexval((unsigned char)s[++i]);
        out[o++] = (uint8_t)(hi << 4 | lo);
    }
    return OSS_OK;
}

void
oss_uuid_format(const uint8_t b[OSS_UUID_LEN], char out[OSS_UUID_STR]) {
    char hex[2 * OSS_UUID_LEN + 1];
    oss_hex_encode(b, OSS_UUID_LEN, hex);
    /* 8-4-4-4-12 */
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
}

void
oss_uuid_format_v4(const uint8_t rnd[OSS_UUID_LEN], char out[OSS_UUID_STR]) {
    uint8_t b[OSS_UUID_LEN];
    memcpy(b, rnd, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    oss_uuid_format(b, out);
}
