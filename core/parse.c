/* core/parse.c — strict decimal parsing, amounts for people. */
#include "core/parse.h"

#include <stdio.h>
#include <string.h>

#include "core/bytes.h"

int core_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20) return COHORT_ERR_DECODE;
  if (s[0] == '0' && s[1]) return COHORT_ERR_DECODE;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return COHORT_ERR_DECODE;
    if (core_mul_u64(&v, v, 10) || core_add_u64(&v, v, (uint64_t)(*p - '0')))
      return COHORT_ERR_OVERFLOW;
  }
  *out = v;
  return COHORT_OK;
}

int core_text_valid(const char *s_, size_t n) {
  const unsigned char *s = (const unsigned char *)s_;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return 0;
      i++;
      continue;
    }
    unsigned need, cp, min;
    if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n - i <= need) return 0;
    for (unsigned k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp >= 0x80 && cp <= 0x9f) return 0; /* C1 controls */
    i += need + 1;
  }
  return 1;
}

void core_fmt_amount(char out[32], const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!n || n > 20) {
    snprintf(out, 32, "%s", s ? s : "?");
    return;
  }
  char pad[32];
  size_t z = n < 7 ? 7 - n : 0; /* left-pad with zeros to at least 7 digits */
  memset(pad, '0', z);
  memcpy(pad + z, s, n + 1);
  size_t pl = z + n;
  snprintf(out, 32, "%.*s.%s", (int)(pl - 6), pad, pad + pl - 6);
}

const char *core_fmt_tokens(char out[CORE_TOKENS_MAX], const char *base, const char *token) {
  char a[32];
  if (!base || !*base || strspn(base, "0123456789") != strlen(base)) {
    snprintf(out, CORE_TOKENS_MAX, "%s %s (base units)", base ? base : "?", token);
    return out;
  }
  core_fmt_amount(a, base);
  snprintf(out, CORE_TOKENS_MAX, "%s %s (%s base units)", a, token, base);
  return out;
}
