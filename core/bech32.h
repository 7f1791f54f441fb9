/* core/bech32.h — BIP-173 bech32 for Cohort addresses ("coh1...").
 *
 * An address is the bech32 encoding, with human-readable part "coh", of the
 * 20-byte account ID converted to 5-bit groups (no witness version byte).
 */
#ifndef COHORT_CORE_BECH32_H
#define COHORT_CORE_BECH32_H

#include <stddef.h>
#include <stdint.h>

#define CORE_ADDR_LEN 20
#define CORE_ADDR_HRP "coh"
#define CORE_ADDR_STR_MAX 91 /* bech32's length limit, plus NUL */

/* Encode data (up to 50 bytes) under hrp. out must hold CORE_ADDR_STR_MAX.
 * Returns 0 or COHORT_ERR_TOO_LARGE. */
int core_bech32_encode(char *out, const char *hrp, const uint8_t *data,
                       size_t len);

/* Decode a bech32 string; requires the given hrp. Accepts all-lower or
 * all-upper case. Writes up to cap bytes to data and sets *len.
 * Returns 0 or COHORT_ERR_ADDRESS (bad checksum, hrp, case, chars or
 * padding) or COHORT_ERR_TOO_LARGE. */
int core_bech32_decode(uint8_t *data, size_t cap, size_t *len,
                       const char *hrp, const char *str);

/* Convenience: 20-byte account ID <-> "coh1..." address. */
void core_addr_encode(char out[CORE_ADDR_STR_MAX],
                      const uint8_t id[CORE_ADDR_LEN]);
int core_addr_decode(uint8_t id[CORE_ADDR_LEN], const char *str);

#endif
