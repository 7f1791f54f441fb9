/* core/parse.h — strict parsing of decimal amounts and heights. */
#ifndef COHORT_CORE_PARSE_H
#define COHORT_CORE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Strict decimal u64 ("0".."18446744073709551615": no sign, no spaces, no
 * leading zeros except "0"). Returns 0, COHORT_ERR_DECODE or
 * COHORT_ERR_OVERFLOW; *out is untouched on failure. */
int core_parse_u64(const char *s, uint64_t *out);

/* 1 if s[0..n) is text a person can be shown safely: valid UTF-8 (shortest
 * forms, no surrogates, at most U+10FFFF) with no control character (C0,
 * DEL, C1) — so a memo or moniker can neither break a JSON answer nor drive
 * a terminal. 0 otherwise. */
int core_text_valid(const char *s, size_t n);

#endif
