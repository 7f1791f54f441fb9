/* core/hex.h — lowercase hexadecimal and base64 codecs. */
#ifndef COHORT_CORE_HEX_H
#define COHORT_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*len lowercase hex digits and a NUL into out (size >= 2*len+1). */
void core_hex_encode(char *out, const uint8_t *in, size_t len);

/* Decode exactly `hexlen` digits (upper or lower case, optional "0x" prefix
 * counted in hexlen) into out, which has room for `cap` bytes. Sets *outlen.
 * Returns 0, COHORT_ERR_DECODE (odd length, non-hex digit) or
 * COHORT_ERR_TOO_LARGE (more than cap bytes). */
int core_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *hex,
                    size_t hexlen);

/* Decode into a fresh malloc'd buffer (caller frees). Same errors plus
 * COHORT_ERR_NOMEM; max bounds the decoded size. */
int core_hex_decode_alloc(uint8_t **out, size_t *outlen, const char *hex,
                          size_t max);

/* Standard base64 (RFC 4648, with padding). Decoding is strict. */
int core_base64_decode_alloc(uint8_t **out, size_t *outlen, const char *b64,
                             size_t max);
/* Returns a malloc'd NUL-terminated string or NULL on NOMEM. */
char *core_base64_encode(const uint8_t *in, size_t len);

#endif
