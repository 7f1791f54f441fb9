/* core/hash.c — SHA-256 and BLAKE2b-256 over libsodium. */
#include "core/hash.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"
#include "core/keys_int.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(core_sha256_ctx),
               "core_sha256_ctx holds libsodium's state");

int core_init(void) {
  if (sodium_init() < 0) return COHORT_ERR_NOMEM;
  return core_keys_init();
}

void core_sha256(uint8_t out[CORE_HASH_LEN], const void *data, size_t len) {
  crypto_hash_sha256(out, data, len);
}

void core_blake2b256(uint8_t out[CORE_HASH_LEN], const void *data, size_t len) {
  crypto_generichash(out, CORE_HASH_LEN, data, len, NULL, 0);
}

void core_sha256_init(core_sha256_ctx *c) {
  crypto_hash_sha256_init((crypto_hash_sha256_state *)c->opaque);
}

void core_sha256_update(core_sha256_ctx *c, const void *data, size_t len) {
  crypto_hash_sha256_update((crypto_hash_sha256_state *)c->opaque, data, len);
}

void core_sha256_final(core_sha256_ctx *c, uint8_t out[CORE_HASH_LEN]) {
  crypto_hash_sha256_final((crypto_hash_sha256_state *)c->opaque, out);
}
