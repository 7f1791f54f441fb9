/* Unit tests for core/: hex, base64, bech32 (BIP-173 vectors), Schnorr
 * (BIP-340 vectors), ed25519, account IDs, key files, error table. */
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

#include "core/bech32.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"

static void unhex(uint8_t *out, size_t n, const char *h) {
  size_t got;
  assert_int_equal(core_hex_decode(out, n, &got, h, strlen(h)), 0);
  assert_int_equal(got, n);
}

static void test_hex(void **st) {
  (void)st;
  uint8_t b[4];
  size_t n;
  char s[9];
  assert_int_equal(core_hex_decode(b, 4, &n, "0xDEADbeef", 10), 0);
  assert_int_equal(n, 4);
  core_hex_encode(s, b, 4);
  assert_string_equal(s, "deadbeef");
  assert_int_equal(core_hex_decode(b, 4, &n, "abc", 3), COHORT_ERR_DECODE);
  assert_int_equal(core_hex_decode(b, 4, &n, "zz", 2), COHORT_ERR_DECODE);
  assert_int_equal(core_hex_decode(b, 2, &n, "00112233", 8), COHORT_ERR_TOO_LARGE);
  uint8_t *p;
  assert_int_equal(core_base64_decode_alloc(&p, &n, "aGVsbG8=", 100), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(p, "hello", 5);
  free(p);
  assert_int_equal(core_base64_decode_alloc(&p, &n, "aGVsbG8", 100), COHORT_ERR_DECODE);
  assert_int_equal(core_base64_decode_alloc(&p, &n, "aGVsbG8=", 2), COHORT_ERR_TOO_LARGE);
}

static void test_hashes(void **st) {
  (void)st;
  uint8_t h[32], want[32];
  core_sha256(h, "abc", 3); /* FIPS 180-2 example */
  unhex(want, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_memory_equal(h, want, 32);
  core_blake2b256(h, "", 0); /* RFC 7693 family, 256-bit empty-input digest */
  unhex(want, 32, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  assert_memory_equal(h, want, 32);
}

static void test_bech32_bip173(void **st) {
  (void)st;
  uint8_t d[64];
  size_t n;
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "a", "A12UEL5L"), 0);
  assert_int_equal(n, 0);
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "a", "a12uel5l"), 0);
  /* 32 five-bit groups = 20 bytes exactly, so no padding bits. */
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "abcdef",
                   "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"), 0);
  assert_int_equal(n, 20);
  /* invalid vectors */
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "x", "x1b4n0q5v"), COHORT_ERR_ADDRESS);
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "li", "li1dgmt3"), COHORT_ERR_ADDRESS);
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "a", "A1G7SGD8"), COHORT_ERR_ADDRESS);
  assert_int_equal(core_bech32_decode(d, sizeof d, &n, "a", "a12UEL5L"), COHORT_ERR_ADDRESS);
  /* round trip of a 20-byte ID and a single flipped character */
  uint8_t id[20], back[20];
  for (int i = 0; i < 20; i++) id[i] = (uint8_t)(i * 13 + 7);
  char a[CORE_ADDR_STR_MAX];
  core_addr_encode(a, id);
  assert_true(strncmp(a, "coh1", 4) == 0);
  assert_int_equal(core_addr_decode(back, a), 0);
  assert_memory_equal(id, back, 20);
  a[10] = a[10] == 'q' ? 'p' : 'q';
  assert_int_equal(core_addr_decode(back, a), COHORT_ERR_ADDRESS);
  assert_int_equal(core_addr_decode(back, "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"), COHORT_ERR_ADDRESS);
}

/* BIP-340 reference vectors 0 and 1 (bip-0340/test-vectors.csv). */
static void test_schnorr_bip340(void **st) {
  (void)st;
  uint8_t sec[32], pub[32], want_pub[32], aux[32], msg[32], sig[64], want[64];
  unhex(sec, 32, "0000000000000000000000000000000000000000000000000000000000000003");
  unhex(want_pub, 32, "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9");
  memset(aux, 0, 32);
  memset(msg, 0, 32);
  unhex(want, 64, "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
                  "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0");
  assert_int_equal(core_schnorr_pubkey(pub, sec), 0);
  assert_memory_equal(pub, want_pub, 32);
  assert_int_equal(core_schnorr_sign(sig, msg, sec, aux), 0);
  assert_memory_equal(sig, want, 64);
  assert_int_equal(core_schnorr_verify(sig, msg, pub), 0);

  unhex(sec, 32, "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF");
  unhex(want_pub, 32, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659");
  unhex(aux, 32, "0000000000000000000000000000000000000000000000000000000000000001");
  unhex(msg, 32, "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89");
  unhex(want, 64, "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
                  "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A");
  assert_int_equal(core_schnorr_pubkey(pub, sec), 0);
  assert_memory_equal(pub, want_pub, 32);
  assert_int_equal(core_schnorr_sign(sig, msg, sec, aux), 0);
  assert_memory_equal(sig, want, 64);
  sig[5] ^= 1;
  assert_int_equal(core_schnorr_verify(sig, msg, pub), COHORT_ERR_SIGNATURE);
  /* invalid secrets: zero and the group order */
  memset(sec, 0, 32);
  assert_int_equal(core_schnorr_pubkey(pub, sec), COHORT_ERR_KEY);
  unhex(sec, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  assert_int_equal(core_schnorr_pubkey(pub, sec), COHORT_ERR_KEY);
}

/* RFC 8032 section 7.1, TEST 1. */
static void test_ed25519_rfc8032(void **st) {
  (void)st;
  uint8_t seed[32], sec[64], pub[32], want_pub[32], sig[64], want[64];
  unhex(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  unhex(want_pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  unhex(want, 64, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  core_ed25519_from_seed(sec, pub, seed);
  assert_memory_equal(pub, want_pub, 32);
  core_ed25519_sign(sig, (const uint8_t *)"", 0, sec);
  assert_memory_equal(sig, want, 64);
  assert_int_equal(core_ed25519_verify(sig, (const uint8_t *)"", 0, pub), 0);
  assert_int_equal(core_ed25519_verify(sig, (const uint8_t *)"x", 1, pub), COHORT_ERR_SIGNATURE);
}

static void test_keyfile(void **st) {
  (void)st;
  char dir[] = "/tmp/cohort_keytest_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/acct.json", dir);
  core_key k, r;
  core_errbuf eb;
  assert_int_equal(core_key_generate(&k, 0), 0);
  assert_int_equal(core_keyfile_write(path, &k, &eb), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(core_keyfile_write(path, &k, &eb), COHORT_ERR_DUPLICATE);
  assert_int_equal(core_keyfile_read(path, &r, &eb), 0);
  assert_memory_equal(k.pub, r.pub, 32);
  /* a tampered public key is detected */
  FILE *f = fopen(path, "r+");
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  char *p = strstr(buf, "\"public\": \"");
  assert_non_null(p);
  p += 11;
  *p = *p == '0' ? '1' : '0';
  rewind(f);
  fwrite(buf, 1, n, f);
  fclose(f);
  assert_int_equal(core_keyfile_read(path, &r, &eb), COHORT_ERR_KEY);
  assert_non_null(strstr(eb.msg, "does not match"));
  unlink(path);
  assert_int_equal(core_keyfile_read(path, &r, &eb), COHORT_ERR_IO);
  rmdir(dir);
}

static void test_checked_math(void **st) {
  (void)st;
  uint64_t r = 7;
  assert_int_equal(core_add_u64(&r, UINT64_MAX, 1), COHORT_ERR_OVERFLOW);
  assert_int_equal(r, 7);
  assert_int_equal(core_sub_u64(&r, 1, 2), COHORT_ERR_FUNDS);
  assert_int_equal(core_mul_u64(&r, UINT64_MAX / 2, 3), COHORT_ERR_OVERFLOW);
  assert_int_equal(core_add_u64(&r, 5, 6), 0);
  assert_int_equal(r, 11);
  for (int c = COHORT_ERR_LAST; c <= 0; c++) {
    assert_non_null(core_err_str(c));
    assert_string_not_equal(core_err_str(c), "unknown error");
  }
  assert_string_equal(core_err_str(-999), "unknown error");
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hex),           cmocka_unit_test(test_hashes),
      cmocka_unit_test(test_bech32_bip173), cmocka_unit_test(test_schnorr_bip340),
      cmocka_unit_test(test_ed25519_rfc8032), cmocka_unit_test(test_keyfile),
      cmocka_unit_test(test_checked_math),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
