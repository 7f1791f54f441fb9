/* core/parse.h — strict parsing of decimal amounts and heights. */
#ifndef COHORT_CORE_PARSE_H
#define COHORT_CORE_PARSE_H

#include <stdint.h>

/* Strict decimal u64 ("0".."18446744073709551615": no sign, no spaces, no
 * leading zeros except "0"). Returns 0, COHORT_ERR_DECODE or
 * COHORT_ERR_OVERFLOW; *out is untouched on failure. */
int core_parse_u64(const char *s, uint64_t *out);

#endif
