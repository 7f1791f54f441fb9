/* core/parse.c — strict decimal parsing. */
#include "core/parse.h"

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
