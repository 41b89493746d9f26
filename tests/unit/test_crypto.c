/* Unit tests of src/crypto: UUIDv7, HMAC vector, sealing, key wrapping, key
 * files, look-up digests, Argon2id passwords and the local key safety rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/uuid.h"
#include "crypto/crypto.h"
#include "crypto/keyfiles.h"
#include "crypto/password.h"

static char tmpdir[256];

static int
setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oss-test-crypto-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_dir(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text, mode_t mode) {
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void
make_ring(oss_keyring_t *ring, uint8_t fill) {
    memset(ring, 0, sizeof *ring);
    ring->n = 1;
    memset(ring->key[0], fill, 32);
    uint8_t d[32];
    char hex[65];
    oss_sha256(ring->key[0], 32, d);
    oss_hex_encode(d, 32, hex);
    memcpy(ring->id[0], hex, 16);
}

static void
check_uuid_shape(const char *u, char version) {
    assert_int_equal(strlen(u), 36);
    assert_true(oss_uuid_valid(u)); /* 8-4-4-4-12 hex digits */
    for (int i = 0; i < 36; i++)    /* in lower case */
        assert_true(u[i] < 'A' || u[i] > 'F');
    assert_int_equal(u[14], version);
    assert_non_null(strchr("89ab", u[19]));
}

static void
test_uuid7_format_and_order(void **state) {
    (void)state;
    enum { N = 10000 };
    static char ids[N][OSS_UUID_STR];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long before = (unsigned long long)ts.tv_sec * 1000 +
                                (unsigned long long)ts.tv_nsec / 1000000;
    for (int i = 0; i < N; i++) {
        oss_uuid7(ids[i]);
        check_uuid_shape(ids[i], '7');
        if (i > 0)
            assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    }
    /* the first 48 bits are the unix time in ms */
    char ms_hex[13];
    memcpy(ms_hex, ids[0], 8);
    memcpy(ms_hex + 8, ids[0] + 9, 4);
    ms_hex[12] = '\0';
    unsigned long long ms = strtoull(ms_hex, NULL, 16);
    assert_true(ms >= before && ms <= before + 5000);

    char a[OSS_UUID_STR], b[OSS_UUID_STR];
    oss_uuid4(a);
    oss_uuid4(b);
    check_uuid_shape(a, '4');
    assert_string_not_equal(a, b);
}

enum { TN = 4, TPER = 5000 };
static char tids[TN * TPER][OSS_UUID_STR];

static void *
uuid_thread(void *arg) {
    size_t base = (size_t)(intptr_t)arg * TPER;
    for (size_t i = 0; i < TPER; i++) {
        oss_uuid7(tids[base + i]);
        /* each thread's own ids are in order too */
        if (i > 0 && strcmp(tids[base + i - 1], tids[base + i]) >= 0)
            return (void *)1;
    }
    return NULL;
}

static int
cmp_id(const void *a, const void *b) {
    return strcmp(a, b);
}

static void
test_uuid7_threads_unique(void **state) {
    (void)state;
    pthread_t th[TN];
    for (intptr_t t = 0; t < TN; t++)
        assert_int_equal(pthread_create(&th[t], NULL, uuid_thread, (void *)t),
                         0);
    for (int t = 0; t < TN; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        assert_null(r);
    }
    qsort(tids, TN * TPER, OSS_UUID_STR, cmp_id);
    for (size_t i = 1; i < TN * TPER; i++)
        assert_string_not_equal(tids[i - 1], tids[i]);
}

/* RFC 4231 test case 1 */
static void
test_hmac_rfc4231(void **state) {
    (void)state;
    uint8_t key[20];
    memset(key, 0x0b, sizeof key);
    uint8_t mac[32];
    char hex[65];
    oss_hmac_sha256(key, sizeof key, "Hi There", 8, mac);
    oss_hex_encode(mac, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b"
                             "881dc200c9833da726e9376c2e32cff7");
    uint8_t d[32];
    oss_sha256("abc", 3, d);
    oss_hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    assert_true(oss_ct_equal("abcd", "abcd", 4));
    assert_false(oss_ct_equal("abcd", "abce", 4));
}

static void
test_seal_open(void **state) {
    (void)state;
    oss_keyring_t master;
    make_ring(&master, 0x11);
    oss_err_t err;
    oss_data_key_t dk;
    uint8_t *w = NULL;
    size_t wl = 0;
    char mid[17];
    const char *subj = "0190f0aa-0000-7000-8000-000000000001";
    assert_int_equal(oss_data_key_new(&master, subj, &dk, &w, &wl, mid, &err),
                     OSS_OK);
    assert_int_equal(wl, 60);
    assert_string_equal(mid, master.id[0]);

    const char *nik = "3171012501900001";
    uint8_t nonce[12];
    uint8_t *ct = NULL;
    size_t ctl = 0;
    assert_int_equal(
        oss_seal(&dk, "nik", nik, strlen(nik), nonce, &ct, &ctl, &err), OSS_OK);
    assert_int_equal(ctl, strlen(nik) + 16);
    assert_null(memmem(ct, ctl, nik, strlen(nik)));

    char *out = NULL;
    size_t outl = 0;
    assert_int_equal(oss_open(&dk, "nik", nonce, ct, ctl, &out, &outl, &err),
                     OSS_OK);
    assert_string_equal(out, nik);
    assert_int_equal(outl, strlen(nik));
    free(out);

    /* tampered ciphertext */
    ct[0] ^= 0x01;
    assert_int_equal(oss_open(&dk, "nik", nonce, ct, ctl, &out, &outl, &err),
                     OSS_ECORRUPT);
    assert_null(out);
    ct[0] ^= 0x01;
    /* tampered tag */
    ct[ctl - 1] ^= 0x80;
    assert_int_equal(oss_open(&dk, "nik", nonce, ct, ctl, &out, &outl, &err),
                     OSS_ECORRUPT);
    ct[ctl - 1] ^= 0x80;
    /* wrong field */
    assert_int_equal(oss_open(&dk, "name", nonce, ct, ctl, &out, &outl, &err),
                     OSS_ECORRUPT);
    assert_int_equal(err.code, OSS_ECORRUPT);
    /* wrong subject */
    oss_data_key_t other = dk;
    strcpy(other.subject_id, "0190f0aa-0000-7000-8000-000000000002");
    assert_int_equal(oss_open(&other, "nik", nonce, ct, ctl, &out, &outl, &err),
                     OSS_ECORRUPT);
    /* truncated */
    assert_int_equal(oss_open(&dk, "nik", nonce, ct, 10, &out, &outl, &err),
                     OSS_ECORRUPT);
    /* still fine untampered */
    assert_int_equal(oss_open(&dk, "nik", nonce, ct, ctl, &out, &outl, &err),
                     OSS_OK);
    free(out);

    /* empty plaintext */
    uint8_t *ct2 = NULL;
    size_t ctl2 = 0;
    assert_int_equal(oss_seal(&dk, "phone", "", 0, nonce, &ct2, &ctl2, &err),
                     OSS_OK);
    assert_int_equal(ctl2, 16);
    assert_int_equal(
        oss_open(&dk, "phone", nonce, ct2, ctl2, &out, &outl, &err), OSS_OK);
    assert_string_equal(out, "");
    free(out);
    free(ct2);

    /* two seals of the same value differ (random nonce) */
    uint8_t nonce2[12];
    assert_int_equal(
        oss_seal(&dk, "nik", nik, strlen(nik), nonce2, &ct2, &ctl2, &err),
        OSS_OK);
    assert_false(memcmp(nonce, nonce2, 12) == 0 && memcmp(ct, ct2, ctl) == 0);
    free(ct2);
    free(ct);
    free(w);
}

static void
test_wrap_unwrap(void **state) {
    (void)state;
    oss_keyring_t master, wrong;
    make_ring(&master, 0x22);
    make_ring(&wrong, 0x33);
    oss_err_t err;
    oss_data_key_t dk, dk2;
    uint8_t *w = NULL;
    size_t wl = 0;
    char mid[17];
    const char *subj = "0190f0aa-0000-7000-8000-00000000000a";
    assert_int_equal(oss_data_key_new(&master, subj, &dk, &w, &wl, mid, &err),
                     OSS_OK);
    assert_null(memmem(w, wl, dk.key, 32));

    assert_int_equal(oss_data_key_unwrap(&master, mid, subj, w, wl, &dk2, &err),
                     OSS_OK);
    assert_memory_equal(dk.key, dk2.key, 32);
    assert_string_equal(dk2.subject_id, subj);

    /* a rotated ring: new current key first, the old one still known */
    oss_keyring_t rotated = wrong;
    rotated.n = 2;
    memcpy(rotated.key[1], master.key[0], 32);
    memcpy(rotated.id[1], master.id[0], 17);
    assert_int_equal(
        oss_data_key_unwrap(&rotated, mid, subj, w, wl, &dk2, &err), OSS_OK);
    assert_memory_equal(dk.key, dk2.key, 32);

    /* wrong master key: unknown id, or the right id on the wrong bytes */
    assert_int_equal(oss_data_key_unwrap(&wrong, mid, subj, w, wl, &dk2, &err),
                     OSS_ENOTFOUND);
    memcpy(wrong.id[0], mid, 17);
    assert_int_equal(oss_data_key_unwrap(&wrong, mid, subj, w, wl, &dk2, &err),
                     OSS_ECORRUPT);
    /* wrong subject (AAD) */
    assert_int_equal(
        oss_data_key_unwrap(&master, mid, "another-subject", w, wl, &dk2, &err),
        OSS_ECORRUPT);
    /* tampered wrapped key, wrong length */
    w[20] ^= 0x04;
    assert_int_equal(oss_data_key_unwrap(&master, mid, subj, w, wl, &dk2, &err),
                     OSS_ECORRUPT);
    w[20] ^= 0x04;
    assert_int_equal(
        oss_data_key_unwrap(&master, mid, subj, w, wl - 1, &dk2, &err),
        OSS_ECORRUPT);
    free(w);
}

static void
test_keyring_files(void **state) {
    (void)state;
    char path[512], path2[512];
    oss_keyring_t ring;
    oss_err_t err;
    const char *k1 =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const char *k2 =
        "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100";

    snprintf(path, sizeof path, "%s/good.key", tmpdir);
    char text[512];
    snprintf(text, sizeof text, "# comment\n%s\r\n\n  %s  \n", k1, k2);
    write_file(path, text, 0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_OK);
    assert_int_equal(ring.n, 2);
    for (int i = 0; i < 32; i++)
        assert_int_equal(ring.key[0][i], i);
    assert_int_equal(ring.key[1][0], 0xff);
    uint8_t d[32];
    char hex[65];
    oss_sha256(ring.key[0], 32, d);
    oss_hex_encode(d, 32, hex);
    assert_int_equal(strlen(ring.id[0]), 16);
    assert_memory_equal(ring.id[0], hex, 16);

    /* group/world readable: refused */
    write_file(path, text, 0644);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_ECORRUPT);
    assert_non_null(strstr(err.msg, "chmod 600"));
    write_file(path, text, 0640);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_ECORRUPT);

    /* malformed */
    write_file(path, "not a key\n", 0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_EINVAL);
    write_file(
        path,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
        0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_EINVAL);
    write_file(path, "", 0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_EINVAL);
    char nine[9 * 66 + 1] = "";
    for (int i = 0; i < 9; i++) {
        strcat(nine, k1);
        strcat(nine, "\n");
    }
    write_file(path, nine, 0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_EINVAL);
    nine[8 * 65] = '\0';
    write_file(path, nine, 0600);
    assert_int_equal(oss_keyring_load(path, &ring, &err), OSS_OK);
    assert_int_equal(ring.n, 8);

    /* missing */
    snprintf(path2, sizeof path2, "%s/missing.key", tmpdir);
    assert_int_equal(oss_keyring_load(path2, &ring, &err), OSS_EIO);

    /* create: 0600, loads, never overwrites */
    assert_int_equal(oss_keyring_create(path2, &err), OSS_OK);
    struct stat st;
    assert_int_equal(stat(path2, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(oss_keyring_load(path2, &ring, &err), OSS_OK);
    assert_int_equal(ring.n, 1);
    oss_keyring_t again;
    assert_int_equal(oss_keyring_create(path2, &err), OSS_EDUPLICATE);
    assert_int_equal(oss_keyring_load(path2, &again, &err), OSS_OK);
    assert_memory_equal(ring.key[0], again.key[0], 32);
}

static void
test_index_digest(void **state) {
    (void)state;
    oss_keyring_t a, b;
    make_ring(&a, 0x44);
    make_ring(&b, 0x55);
    uint8_t d1[32], d2[32], d3[32], d4[32];
    oss_index_digest(&a, "nik", "3171012501900001", d1);
    oss_index_digest(&a, "nik", "3171012501900001", d2);
    assert_memory_equal(d1, d2, 32);
    oss_index_digest(&b, "nik", "3171012501900001", d3);
    assert_memory_not_equal(d1, d3, 32);
    oss_index_digest(&a, "email", "3171012501900001", d4);
    assert_memory_not_equal(d1, d4, 32);
    /* defined as HMAC-SHA256(key, kind "|" value) */
    uint8_t ref[32];
    const char *msg = "nik|3171012501900001";
    oss_hmac_sha256(a.key[0], 32, msg, strlen(msg), ref);
    assert_memory_equal(d1, ref, 32);
}

static void
test_password(void **state) {
    (void)state;
    char enc[OSS_PASSWORD_ENCODED_MAX], enc2[OSS_PASSWORD_ENCODED_MAX];
    oss_err_t err;
    bool match = false;
    assert_int_equal(
        oss_password_hash("correct horse", 2, 1024, 1, enc, sizeof enc, &err),
        OSS_OK);
    assert_int_equal(strncmp(enc, "$argon2id$v=19$m=1024,t=2,p=1$", 30), 0);
    assert_null(strstr(enc, "correct horse"));
    assert_int_equal(oss_password_verify(enc, "correct horse", &match, &err),
                     OSS_OK);
    assert_true(match);
    assert_int_equal(oss_password_verify(enc, "correct horsf", &match, &err),
                     OSS_OK);
    assert_false(match);
    assert_int_equal(
        oss_password_hash("correct horse", 2, 1024, 1, enc2, sizeof enc2, &err),
        OSS_OK);
    assert_string_not_equal(enc, enc2); /* salted */
    assert_int_equal(oss_password_verify("$2y$10$abc", "x", &match, &err),
                     OSS_EMALFORMED);
    assert_int_equal(
        oss_password_verify("$argon2id$garbage", "x", &match, &err),
        OSS_EMALFORMED);
    assert_false(match);
    assert_int_equal(oss_password_hash("x", 0, 1024, 1, enc, sizeof enc, &err),
                     OSS_EINVAL);
    assert_int_equal(oss_password_hash("x", 2, 1024, 1, enc, 10, &err),
                     OSS_ETOOBIG);
}

static void
test_keys_ensure_local(void **state) {
    (void)state;
    char m[512], i[512], b[512];
    oss_err_t err;
    snprintf(m, sizeof m, "%s/keys/master.key", tmpdir);
    snprintf(i, sizeof i, "%s/keys/index.key", tmpdir);
    snprintf(b, sizeof b, "%s/keys/bus.key", tmpdir);

    /* sealed data exists but no master key: refuse, create nothing */
    assert_int_equal(oss_keys_ensure_local(m, i, b, 1, &err), OSS_ECORRUPT);
    assert_non_null(strstr(err.msg, "refusing"));
    assert_int_not_equal(access(m, F_OK), 0);

    /* fresh: all three created 0600 in a 0700 directory */
    assert_int_equal(oss_keys_ensure_local(m, i, b, 0, &err), OSS_OK);
    struct stat st;
    assert_int_equal(stat(m, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/keys", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    oss_keyring_t r1, r2;
    assert_int_equal(oss_keyring_load(m, &r1, &err), OSS_OK);

    /* idempotent: existing keys kept, also with sealed data */
    assert_int_equal(oss_keys_ensure_local(m, i, b, 1, &err), OSS_OK);
    assert_int_equal(oss_keyring_load(m, &r2, &err), OSS_OK);
    assert_memory_equal(r1.key[0], r2.key[0], 32);

    /* a lost bus key may be recreated, a lost index key may not */
    unlink(b);
    assert_int_equal(oss_keys_ensure_local(m, i, b, 1, &err), OSS_OK);
    assert_int_equal(access(b, F_OK), 0);
    unlink(i);
    assert_int_equal(oss_keys_ensure_local(m, i, b, 1, &err), OSS_ECORRUPT);
    assert_int_not_equal(access(i, F_OK), 0);

    /* an existing key file with loose permissions is reported */
    assert_int_equal(chmod(m, 0644), 0);
    assert_int_equal(oss_keys_ensure_local(m, NULL, NULL, 0, &err),
                     OSS_ECORRUPT);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid7_format_and_order),
        cmocka_unit_test(test_uuid7_threads_unique),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_wrap_unwrap),
        cmocka_unit_test(test_keyring_files),
        cmocka_unit_test(test_index_digest),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_keys_ensure_local),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
