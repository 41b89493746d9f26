/* Unit tests of the text codecs of src/core/bytes.h: hex and unpadded
 * base64url, encode and decode, with their edge cases (empty input, odd
 * length, invalid characters, either case, too small an output, stray bits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/bytes.h"

static void
test_hex_encode(void **state) {
    (void)state;
    char out[2 * 256 + 1];
    memset(out, 'x', sizeof out);
    oss_hex_encode(NULL, 0, out);
    assert_string_equal(out, "");
    const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    oss_hex_encode(b, sizeof b, out);
    assert_string_equal(out, "00017f80abff");
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    oss_hex_encode(all, sizeof all, out);
    assert_int_equal(strlen(out), 512);
    assert_memory_equal(out + 2 * 0xde, "de", 2);
    uint8_t back[256];
    assert_int_equal(oss_hex_decode(out, 512, back, sizeof back, NULL), OSS_OK);
    assert_memory_equal(back, all, 256);
}

static void
test_hex_decode(void **state) {
    (void)state;
    uint8_t out[8];
    oss_err_t err;
    assert_int_equal(oss_hex_decode("", 0, out, 0, NULL), OSS_OK);
    assert_int_equal(oss_hex_decode("DeadBEEF", 8, out, sizeof out, &err),
                     OSS_OK);
    const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef};
    assert_memory_equal(out, want, 4);
    /* not NUL-terminated input: only n characters are read */
    assert_int_equal(oss_hex_decode("0a0bzz", 4, out, sizeof out, NULL),
                     OSS_OK);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0x0b);
    /* odd length */
    assert_int_equal(oss_hex_decode("abc", 3, out, sizeof out, &err),
                     OSS_EMALFORMED);
    assert_non_null(strstr(err.msg, "odd length"));
    /* invalid characters, either digit of a pair */
    const char *bad[] = {"0g", "g0", "  ", "0x", "-1", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(oss_hex_decode(bad[i], 2, out, sizeof out, &err),
                         OSS_EMALFORMED);
    /* a NUL within n is not a digit */
    assert_int_equal(oss_hex_decode("ab\0c", 4, out, sizeof out, NULL),
                     OSS_EMALFORMED);
    /* too small an output */
    assert_int_equal(
        oss_hex_decode("000102030405060708", 18, out, sizeof out, &err),
        OSS_ETOOBIG);
    assert_int_equal(oss_hex_decode("0001020304050607", 16, out, 8, NULL),
                     OSS_OK);
}

static void
test_b64url_encode(void **state) {
    (void)state;
    char out[64];
    /* RFC 4648 section 10 vectors, padding dropped */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"",       "Zg",      "Zm8",     "Zm9v",
                          "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        oss_b64url_encode((const uint8_t *)in[i], n, out);
        assert_string_equal(out, want[i]);
        assert_int_equal(oss_b64url_len(n), strlen(want[i]));
    }
    /* the two characters that differ from base64 */
    const uint8_t hi[] = {0xfb, 0xff, 0xbf};
    oss_b64url_encode(hi, 3, out);
    assert_string_equal(out, "-_-_");
    assert_null(strchr(out, '='));
}

static void
test_b64url_decode(void **state) {
    (void)state;
    uint8_t out[32];
    size_t n = 99;
    oss_err_t err;
    assert_int_equal(oss_b64url_decode("", 0, out, 0, &n, NULL), OSS_OK);
    assert_int_equal(n, 0);
    const char *txt[] = {"Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    const char *want[] = {"f", "fo", "foo", "foob", "fooba", "foobar"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(oss_b64url_decode(txt[i], strlen(txt[i]), out,
                                           sizeof out, &n, &err),
                         OSS_OK);
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(out, want[i], n);
    }
    assert_int_equal(oss_b64url_decode("-_-_", 4, out, sizeof out, &n, NULL),
                     OSS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[2], 0xbf);
    /* round trip of every length up to 32 */
    uint8_t src[32];
    char txt2[64];
    for (size_t len = 0; len <= sizeof src; len++) {
        for (size_t i = 0; i < len; i++)
            src[i] = (uint8_t)(i * 37 + len);
        oss_b64url_encode(src, len, txt2);
        assert_int_equal(
            oss_b64url_decode(txt2, strlen(txt2), out, len, &n, NULL), OSS_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, src, len);
    }
    /* base64's '+' '/' and '=' padding are not base64url */
    const char *bad[] = {"Zm9+", "Zm9/", "Zg==", "Zm8=", "Zm 9", "Zm9\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(oss_b64url_decode(bad[i], strlen(bad[i]), out,
                                           sizeof out, &n, &err),
                         OSS_EMALFORMED);
    /* a length of 1 mod 4 cannot be */
    assert_int_equal(oss_b64url_decode("Zm9vY", 5, out, sizeof out, &n, &err),
                     OSS_EMALFORMED);
    /* stray bits in the last character: "Zh" would be 'f' with a low bit */
    assert_int_equal(oss_b64url_decode("Zh", 2, out, sizeof out, &n, NULL),
                     OSS_EMALFORMED);
    assert_int_equal(oss_b64url_decode("Zm9", 3, out, sizeof out, &n, NULL),
                     OSS_EMALFORMED);
    /* too small an output */
    assert_int_equal(oss_b64url_decode("Zm9vYmFy", 8, out, 5, &n, &err),
                     OSS_ETOOBIG);
    assert_int_equal(oss_b64url_decode("Zm9vYmFy", 8, out, 6, &n, NULL),
                     OSS_OK);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_b64url_encode),
        cmocka_unit_test(test_b64url_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
