/* core/bech32.c — bech32 (BIP-173) encode/decode, written from the BIP. */
#include "core/bech32.h"

#include <ctype.h>
#include <string.h>

#include "core/err.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t pre) {
  uint8_t b = (uint8_t)(pre >> 25);
  return ((pre & 0x1ffffff) << 5) ^ (-((b >> 0) & 1) & 0x3b6a57b2UL) ^
         (-((b >> 1) & 1) & 0x26508e6dUL) ^ (-((b >> 2) & 1) & 0x1ea119faUL) ^
         (-((b >> 3) & 1) & 0x3d4233ddUL) ^ (-((b >> 4) & 1) & 0x2a1462b3UL);
}

static uint32_t hrp_polymod(const char *hrp) {
  uint32_t chk = 1;
  size_t n = strlen(hrp);
  for (size_t i = 0; i < n; i++) chk = polymod_step(chk) ^ ((uint8_t)hrp[i] >> 5);
  chk = polymod_step(chk);
  for (size_t i = 0; i < n; i++) chk = polymod_step(chk) ^ ((uint8_t)hrp[i] & 31);
  return chk;
}

/* Regroup bits; pad on encode, require zero padding on decode. */
static int convert_bits(uint8_t *out, size_t *outlen, size_t cap, int outbits,
                        const uint8_t *in, size_t inlen, int inbits, int pad) {
  uint32_t val = 0;
  int bits = 0;
  uint32_t maxv = (1u << outbits) - 1;
  *outlen = 0;
  for (size_t i = 0; i < inlen; i++) {
    val = (val << inbits) | in[i];
    bits += inbits;
    while (bits >= outbits) {
      bits -= outbits;
      if (*outlen >= cap) return COHORT_ERR_TOO_LARGE;
      out[(*outlen)++] = (uint8_t)((val >> bits) & maxv);
    }
  }
  if (pad) {
    if (bits) {
      if (*outlen >= cap) return COHORT_ERR_TOO_LARGE;
      out[(*outlen)++] = (uint8_t)((val << (outbits - bits)) & maxv);
    }
  } else if (bits >= inbits || ((val << (outbits - bits)) & maxv)) {
    return COHORT_ERR_ADDRESS;
  }
  return COHORT_OK;
}

int core_bech32_encode(char *out, const char *hrp, const uint8_t *data,
                       size_t len) {
  uint8_t d5[90];
  size_t n5;
  size_t hl = strlen(hrp);
  if (len > 50 || hl == 0 || hl > 20) return COHORT_ERR_TOO_LARGE;
  if (convert_bits(d5, &n5, sizeof d5, 5, data, len, 8, 1)) return COHORT_ERR_TOO_LARGE;
  if (hl + 1 + n5 + 6 > 90) return COHORT_ERR_TOO_LARGE;
  uint32_t chk = hrp_polymod(hrp);
  char *p = out;
  memcpy(p, hrp, hl);
  p += hl;
  *p++ = '1';
  for (size_t i = 0; i < n5; i++) {
    chk = polymod_step(chk) ^ d5[i];
    *p++ = charset[d5[i]];
  }
  for (int i = 0; i < 6; i++) chk = polymod_step(chk);
  chk ^= 1;
  for (int i = 0; i < 6; i++) *p++ = charset[(chk >> ((5 - i) * 5)) & 31];
  *p = 0;
  return COHORT_OK;
}

int core_bech32_decode(uint8_t *data, size_t cap, size_t *len,
                       const char *hrp, const char *str) {
  size_t n = strnlen(str, 91);
  if (n < 8 || n > 90) return COHORT_ERR_ADDRESS;
  int lower = 0, upper = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)str[i];
    if (c < 33 || c > 126) return COHORT_ERR_ADDRESS;
    if (c >= 'a' && c <= 'z') lower = 1;
    if (c >= 'A' && c <= 'Z') upper = 1;
  }
  if (lower && upper) return COHORT_ERR_ADDRESS;
  const char *sep = strrchr(str, '1');
  if (!sep) return COHORT_ERR_ADDRESS;
  size_t hl = (size_t)(sep - str);
  size_t dl = n - hl - 1;
  if (hl == 0 || dl < 6 || hl != strlen(hrp)) return COHORT_ERR_ADDRESS;
  char h[21];
  if (hl > 20) return COHORT_ERR_ADDRESS;
  for (size_t i = 0; i < hl; i++) h[i] = (char)tolower((unsigned char)str[i]);
  h[hl] = 0;
  if (strcmp(h, hrp) != 0) return COHORT_ERR_ADDRESS;
  uint32_t chk = hrp_polymod(h);
  uint8_t d5[90];
  for (size_t i = 0; i < dl; i++) {
    const char *q = strchr(charset, tolower((unsigned char)sep[1 + i]));
    if (!q || !*q) return COHORT_ERR_ADDRESS;
    d5[i] = (uint8_t)(q - charset);
    chk = polymod_step(chk) ^ d5[i];
  }
  if (chk != 1) return COHORT_ERR_ADDRESS;
  return convert_bits(data, len, cap, 8, d5, dl - 6, 5, 0);
}

void core_addr_encode(char out[CORE_ADDR_STR_MAX],
                      const uint8_t id[CORE_ADDR_LEN]) {
  (void)core_bech32_encode(out, CORE_ADDR_HRP, id, CORE_ADDR_LEN);
}

int core_addr_decode(uint8_t id[CORE_ADDR_LEN], const char *str) {
  uint8_t buf[64];
  size_t n;
  if (!str || core_bech32_decode(buf, sizeof buf, &n, CORE_ADDR_HRP, str))
    return COHORT_ERR_ADDRESS;
  if (n != CORE_ADDR_LEN) return COHORT_ERR_ADDRESS;
  memcpy(id, buf, CORE_ADDR_LEN);
  return COHORT_OK;
}
