/* core/hash.h — the two hash functions of Cohort.
 *
 * SHA-256 covers transactions, blocks and signatures (widely available in
 * other languages); BLAKE2b-256 (unkeyed, 32-byte output) derives addresses
 * and, in the VM, hashes the memory tree. Both are libsodium's. All functions
 * are pure and cannot fail once core_init() has succeeded.
 */
#ifndef COHORT_CORE_HASH_H
#define COHORT_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CORE_HASH_LEN 32

/* Initialise libsodium and the secp256k1 context. Call once at start-up,
 * before any other core function. Returns 0 or COHORT_ERR_NOMEM. */
int core_init(void);

void core_sha256(uint8_t out[CORE_HASH_LEN], const void *data, size_t len);
void core_blake2b256(uint8_t out[CORE_HASH_LEN], const void *data, size_t len);

/* Incremental SHA-256 for hashing several pieces without concatenating. */
typedef struct {
  uint8_t opaque[128] __attribute__((aligned(16)));
} core_sha256_ctx;
void core_sha256_init(core_sha256_ctx *c);
void core_sha256_update(core_sha256_ctx *c, const void *data, size_t len);
void core_sha256_final(core_sha256_ctx *c, uint8_t out[CORE_HASH_LEN]);

#endif
