/* Unit tests of src/crypto/subject.c and the rotation helpers of the
 * keyring: sealed fields found and opened in any payload without its
 * schema (nested too, other subjects skipped, wrong key -> unreadable),
 * re-wrapping a data key under a new master key, the key file rotation
 * (new key first, old kept, atomic, mode 0600), retiring unused keys, and a
 * ring loaded before a rotation that still unwraps (re-reads the file) and
 * wraps under the new current key. No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/subject.h"
#include "oss/v1/account.pb-c.h"
#include "oss/v1/privacy.pb-c.h"

static char tmpdir[256];

static int
setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oss-test-subject-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_dir(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *SUBJ = "0b9c4a3e-5d1f-4c2b-9a8e-7f6d5c4b3a21";
static const char *OTHER = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

static void
seal_into(const oss_data_key_t *dk, const char *field, const char *value,
          Oss__V1__SealedField *sf, uint8_t nonce[12], uint8_t **ct) {
    size_t ctlen = 0;
    oss_err_t err = {0};
    assert_int_equal(
        oss_seal(dk, field, value, strlen(value), nonce, ct, &ctlen, &err),
        OSS_OK);
    sf->subject_id = (char *)dk->subject_id;
    sf->nonce.data = nonce;
    sf->nonce.len = 12;
    sf->ciphertext.data = *ct;
    sf->ciphertext.len = ctlen;
}

typedef struct seen {
    char fields[8][32];
    char values[8][64];
    int n;
} seen_t;

static void
visit(void *ctx, const char *field, const char *plaintext) {
    seen_t *s = ctx;
    if (s->n < 8) {
        snprintf(s->fields[s->n], 32, "%s", field);
        snprintf(s->values[s->n], 64, "%s", plaintext ? plaintext : "(null)");
        s->n++;
    }
}

static void
test_open_fields_any_payload(void **state) {
    (void)state;
    oss_keyring_t master = {0};
    master.n = 1;
    memset(master.key[0], 7, 32);
    strcpy(master.id[0], "0123456789abcdef");
    oss_data_key_t dk, other;
    uint8_t *w = NULL;
    size_t wl;
    char kid[17];
    oss_err_t err = {0};
    assert_int_equal(oss_data_key_new(&master, SUBJ, &dk, &w, &wl, kid, &err),
                     OSS_OK);
    free(w);
    assert_int_equal(
        oss_data_key_new(&master, OTHER, &other, &w, &wl, kid, &err), OSS_OK);
    free(w);

    Oss__V1__AccountRegistered a = OSS__V1__ACCOUNT_REGISTERED__INIT;
    Oss__V1__SealedField nik = OSS__V1__SEALED_FIELD__INIT,
                         name = OSS__V1__SEALED_FIELD__INIT,
                         email = OSS__V1__SEALED_FIELD__INIT;
    uint8_t n1[12], n2[12], n3[12], *c1, *c2, *c3;
    seal_into(&dk, "nik", "3171010101900001", &nik, n1, &c1);
    seal_into(&dk, "name", "Budi Santoso", &name, n2, &c2);
    seal_into(&other, "email", "someone@else.id", &email, n3, &c3);
    a.account_id = "acc";
    a.subject_id = (char *)SUBJ;
    a.nik = &nik;
    a.name = &name;
    a.email = &email; /* another subject's: skipped */
    size_t len = oss__v1__account_registered__get_packed_size(&a);
    uint8_t *buf = malloc(len);
    oss__v1__account_registered__pack(&a, buf);

    seen_t s = {0};
    assert_int_equal(oss_subject_open_fields(buf, len, SUBJ, &dk, visit, &s),
                     2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.fields[0], "nik");
    assert_string_equal(s.values[0], "3171010101900001");
    assert_string_equal(s.fields[1], "name");
    assert_string_equal(s.values[1], "Budi Santoso");

    /* without a key (erased): found, unreadable */
    memset(&s, 0, sizeof s);
    assert_int_equal(oss_subject_open_fields(buf, len, SUBJ, NULL, visit, &s),
                     2);
    assert_string_equal(s.fields[0], "?");
    assert_string_equal(s.values[0], "(null)");
    /* the wrong key: the tag never verifies */
    memset(&s, 0, sizeof s);
    other.subject_id[0] = '0';
    memcpy(other.subject_id, SUBJ, 37);
    assert_int_equal(oss_subject_open_fields(buf, len, SUBJ, &other, visit, &s),
                     2);
    assert_string_equal(s.values[1], "(null)");
    /* a payload without sealed fields, and garbage */
    Oss__V1__SubjectErased e = OSS__V1__SUBJECT_ERASED__INIT;
    e.subject_id = (char *)SUBJ;
    e.reason = "r";
    uint8_t eb[128];
    size_t el = oss__v1__subject_erased__pack(&e, eb);
    assert_int_equal(oss_subject_open_fields(eb, el, SUBJ, &dk, visit, &s), 0);
    uint8_t junk[] = {0xff, 0xff, 0xff, 0x0a, 0x99, 0x01};
    assert_int_equal(
        oss_subject_open_fields(junk, sizeof junk, SUBJ, &dk, visit, &s), 0);
    /* nested one level deeper: a SealedField inside a wrapper message */
    uint8_t nested[600];
    size_t nl = 0;
    nested[nl++] = (3 << 3) | 2; /* field 3, length-delimited */
    assert_true(len >= 128 && len < 16384 && len + 3 <= sizeof nested);
    nested[nl++] = (uint8_t)((len & 0x7f) | 0x80); /* varint length */
    nested[nl++] = (uint8_t)(len >> 7);
    memcpy(nested + nl, buf, len);
    nl += len;
    memset(&s, 0, sizeof s);
    assert_int_equal(oss_subject_open_fields(nested, nl, SUBJ, &dk, visit, &s),
                     2);
    assert_string_equal(s.values[0], "3171010101900001");
    free(buf);
    free(c1);
    free(c2);
    free(c3);
}

static void
test_wrap_existing_key(void **state) {
    (void)state;
    oss_keyring_t a = {0}, b = {0};
    a.n = 1;
    memset(a.key[0], 1, 32);
    strcpy(a.id[0], "aaaaaaaaaaaaaaaa");
    b.n = 2;
    memset(b.key[0], 2, 32);
    strcpy(b.id[0], "bbbbbbbbbbbbbbbb");
    memcpy(b.key[1], a.key[0], 32);
    strcpy(b.id[1], a.id[0]);
    oss_data_key_t dk, back;
    uint8_t *w1, *w2;
    size_t l1, l2;
    char k1[17], k2[17];
    oss_err_t err = {0};
    assert_int_equal(oss_data_key_new(&a, SUBJ, &dk, &w1, &l1, k1, &err),
                     OSS_OK);
    assert_int_equal(oss_data_key_wrap(&b, &dk, &w2, &l2, k2, &err), OSS_OK);
    assert_string_equal(k2, "bbbbbbbbbbbbbbbb");
    assert_int_equal(l1, l2);
    assert_memory_not_equal(w1, w2, l1);
    assert_int_equal(oss_data_key_unwrap(&b, k2, SUBJ, w2, l2, &back, &err),
                     OSS_OK);
    assert_memory_equal(back.key, dk.key, 32);
    /* the new wrapping is useless under the old key alone */
    assert_int_equal(oss_data_key_unwrap(&a, k2, SUBJ, w2, l2, &back, &err),
                     OSS_ENOTFOUND);
    free(w1);
    free(w2);
}

static void
test_rotate_file_and_stale_ring(void **state) {
    (void)state;
    char path[512];
    oss_err_t err = {0};
    snprintf(path, sizeof path, "%s/master.key", tmpdir);
    assert_int_equal(oss_keyring_create(path, &err), OSS_OK);
    oss_keyring_t before;
    assert_int_equal(oss_keyring_load(path, &before, &err), OSS_OK);
    assert_false(oss_keyring_stale(&before));

    /* a subject wrapped under the first key */
    oss_data_key_t dk, back;
    uint8_t *w, *w2;
    size_t wl, wl2;
    char kid[17], kid2[17], newid[17];
    assert_int_equal(oss_data_key_new(&before, SUBJ, &dk, &w, &wl, kid, &err),
                     OSS_OK);

    usleep(20000); /* a distinct mtime */
    assert_int_equal(oss_keyring_prepend_new(path, newid, &err), OSS_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    oss_keyring_t after;
    assert_int_equal(oss_keyring_load(path, &after, &err), OSS_OK);
    assert_int_equal(after.n, 2);
    assert_string_equal(after.id[0], newid);
    assert_string_equal(after.id[1], before.id[0]);
    assert_string_not_equal(newid, kid);

    /* re-wrap under the new key; the ring loaded BEFORE the rotation still
     * unwraps it (it re-reads the file) and wraps new subjects under the
     * new key */
    assert_true(oss_keyring_stale(&before));
    assert_int_equal(oss_data_key_wrap(&after, &dk, &w2, &wl2, kid2, &err),
                     OSS_OK);
    assert_string_equal(kid2, newid);
    assert_int_equal(
        oss_data_key_unwrap(&before, kid2, SUBJ, w2, wl2, &back, &err), OSS_OK);
    assert_memory_equal(back.key, dk.key, 32);
    uint8_t *w3;
    size_t wl3;
    char kid3[17];
    oss_data_key_t dk3;
    assert_int_equal(
        oss_data_key_new(&before, OTHER, &dk3, &w3, &wl3, kid3, &err), OSS_OK);
    assert_string_equal(kid3, newid);

    /* retire: the old key goes when nothing is wrapped under it */
    size_t retired = 0;
    const char *keep_old[] = {kid};
    assert_int_equal(oss_keyring_retire(path, keep_old, 1, &retired, &err),
                     OSS_OK);
    assert_int_equal(retired, 0);
    assert_int_equal(oss_keyring_retire(path, NULL, 0, &retired, &err), OSS_OK);
    assert_int_equal(retired, 1);
    oss_keyring_t last;
    assert_int_equal(oss_keyring_load(path, &last, &err), OSS_OK);
    assert_int_equal(last.n, 1);
    assert_string_equal(last.id[0], newid);
    /* the old wrapping can no longer be opened */
    assert_int_equal(oss_data_key_unwrap(&last, kid, SUBJ, w, wl, &back, &err),
                     OSS_ENOTFOUND);
    free(w);
    free(w2);
    free(w3);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_fields_any_payload),
        cmocka_unit_test(test_wrap_existing_key),
        cmocka_unit_test_setup_teardown(test_rotate_file_and_stale_ring,
                                        setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
