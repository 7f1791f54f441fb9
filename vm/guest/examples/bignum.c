/* bignum — multi-precision arithmetic written for Cohort: modular
 * exponentiation x^e mod n with 1024-bit numbers (32 limbs of 32 bits),
 * Montgomery multiplication with schoolbook products, as RSA does.
 * Input: the number of exponentiations in decimal (default 1). Prints a
 * checksum of the results. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

#define NL 32

/* r = a * b * R^-1 mod n (R = 2^(32 NL)); n odd, a, b < n; ninv = -n^-1 mod 2^32 */
static void mont_mul(uint32_t r[NL], const uint32_t a[NL], const uint32_t b[NL], const uint32_t n[NL],
                     uint32_t ninv) {
  uint32_t t[NL + 2] = {0};
  for (int i = 0; i < NL; i++) {
    uint64_t c = 0;
    for (int j = 0; j < NL; j++) {
      uint64_t s = (uint64_t)a[j] * b[i] + t[j] + c;
      t[j] = (uint32_t)s;
      c = s >> 32;
    }
    uint64_t s = (uint64_t)t[NL] + c;
    t[NL] = (uint32_t)s;
    t[NL + 1] = (uint32_t)(s >> 32);
    uint32_t m = t[0] * ninv;
    c = ((uint64_t)m * n[0] + t[0]) >> 32;
    for (int j = 1; j < NL; j++) {
      uint64_t s2 = (uint64_t)m * n[j] + t[j] + c;
      t[j - 1] = (uint32_t)s2;
      c = s2 >> 32;
    }
    s = (uint64_t)t[NL] + c;
    t[NL - 1] = (uint32_t)s;
    t[NL] = t[NL + 1] + (uint32_t)(s >> 32);
  }
  /* conditional subtraction */
  uint32_t d[NL];
  int64_t br = 0;
  for (int j = 0; j < NL; j++) {
    int64_t v = (int64_t)t[j] - n[j] + br;
    d[j] = (uint32_t)v;
    br = v >> 32;
  }
  int use_d = t[NL] || br == 0;
  for (int j = 0; j < NL; j++) r[j] = use_d ? d[j] : t[j];
}

int main(void) {
  char txt[32] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  long rounds = strtol(txt, NULL, 10);
  if (rounds <= 0) rounds = 1;
  uint32_t n[NL], x[NL], one[NL] = {1}, r2[NL];
  uint32_t s = 0x9E3779B9u;
  for (int i = 0; i < NL; i++) s = s * 1664525u + 1013904223u, n[i] = s ^ (s >> 7);
  n[0] |= 1;
  n[NL - 1] |= 0x80000000u;
  uint32_t inv = 1; /* n^-1 mod 2^32 by Newton */
  for (int i = 0; i < 5; i++) inv *= 2 - n[0] * inv;
  uint32_t ninv = 0u - inv;
  /* R^2 mod n by doubling 1 (2 * 32 * NL times) */
  uint32_t acc[NL] = {1};
  for (int k = 0; k < 2 * 32 * NL; k++) {
    uint32_t carry = 0;
    for (int j = 0; j < NL; j++) {
      uint32_t v = acc[j];
      acc[j] = v << 1 | carry;
      carry = v >> 31;
    }
    int ge = carry;
    if (!ge) {
      ge = 1;
      for (int j = NL - 1; j >= 0; j--)
        if (acc[j] != n[j]) {
          ge = acc[j] > n[j];
          break;
        }
    }
    if (ge) {
      int64_t br = 0;
      for (int j = 0; j < NL; j++) {
        int64_t v = (int64_t)acc[j] - n[j] + br;
        acc[j] = (uint32_t)v;
        br = v >> 32;
      }
    }
  }
  for (int j = 0; j < NL; j++) r2[j] = acc[j];
  uint32_t sum = 0;
  for (long r = 0; r < rounds; r++) {
    for (int i = 0; i < NL; i++) s = s * 1664525u + 1013904223u, x[i] = s;
    x[NL - 1] &= 0x7FFFFFFFu;
    uint32_t xm[NL], res[NL];
    mont_mul(xm, x, r2, n, ninv);  /* to Montgomery form */
    mont_mul(res, one, r2, n, ninv); /* 1 in Montgomery form */
    uint32_t e[NL];
    for (int i = 0; i < NL; i++) s = s * 1664525u + 1013904223u, e[i] = s;
    for (int i = NL - 1; i >= 0; i--)
      for (int b = 31; b >= 0; b--) {
        mont_mul(res, res, res, n, ninv);
        if ((e[i] >> b) & 1) mont_mul(res, res, xm, n, ninv);
      }
    mont_mul(res, res, one, n, ninv); /* out of Montgomery form */
    for (int i = 0; i < NL; i++) sum = sum * 31 + res[i];
  }
  printf("bignum: %ld 1024-bit modexps, checksum %08lx\n", rounds, (unsigned long)sum);
  return 0;
}
