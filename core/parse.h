/* core/parse.h — strict parsing of decimal amounts and heights, and amounts
 * formatted for people. */
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

/* Amounts for people. core_fmt_amount: "123" (base units) -> "0.000123"
 * (6 decimals; anything but 1..20 digits is copied as it is, NULL as "?").
 * core_fmt_tokens: the one way amounts are shown, "0.250000 STK (250000
 * base units)"; returns out. */
#define CORE_TOKENS_MAX 96
void core_fmt_amount(char out[32], const char *base_units);
const char *core_fmt_tokens(char out[CORE_TOKENS_MAX], const char *base_units, const char *token);

#endif
