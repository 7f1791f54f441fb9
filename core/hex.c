/* core/hex.c — hex and base64, strict decoders with size caps. */
#include "core/hex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void core_hex_encode(char *out, const uint8_t *in, size_t len) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = 0;
}

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int core_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *hex,
                    size_t hexlen) {
  if (hexlen >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex += 2;
    hexlen -= 2;
  }
  if (hexlen % 2) return COHORT_ERR_DECODE;
  if (hexlen / 2 > cap) return COHORT_ERR_TOO_LARGE;
  for (size_t i = 0; i < hexlen / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return COHORT_ERR_DECODE;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *outlen = hexlen / 2;
  return COHORT_OK;
}

int core_hex_decode_alloc(uint8_t **out, size_t *outlen, const char *hex,
                          size_t max) {
  size_t n = strlen(hex);
  *out = NULL;
  if (n / 2 > max + 1) return COHORT_ERR_TOO_LARGE;
  uint8_t *buf = malloc(n / 2 + 1);
  if (!buf) return COHORT_ERR_NOMEM;
  int rc = core_hex_decode(buf, max, outlen, hex, n);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return COHORT_OK;
}

int core_base64_decode_alloc(uint8_t **out, size_t *outlen, const char *b64,
                             size_t max) {
  size_t n = strlen(b64);
  *out = NULL;
  if (n / 4 * 3 > max + 3) return COHORT_ERR_TOO_LARGE;
  size_t cap = n / 4 * 3 + 3;
  uint8_t *buf = malloc(cap);
  if (!buf) return COHORT_ERR_NOMEM;
  const char *end = NULL;
  if (sodium_base642bin(buf, cap, b64, n, NULL, outlen, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64 + n) {
    free(buf);
    return COHORT_ERR_DECODE;
  }
  if (*outlen > max) {
    free(buf);
    return COHORT_ERR_TOO_LARGE;
  }
  *out = buf;
  return COHORT_OK;
}

char *core_base64_encode(const uint8_t *in, size_t len) {
  size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
  char *s = malloc(n);
  if (!s) return NULL;
  sodium_bin2base64(s, n, in, len, sodium_base64_VARIANT_ORIGINAL);
  return s;
}
