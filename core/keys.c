/* core/keys.c — Schnorr (libsecp256k1) and ed25519 (libsodium) keys. */
#include "core/keys.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>

#include "core/hash.h"
#include "core/keys_int.h"

static secp256k1_context *ctx;

int core_keys_init(void) {
  if (ctx) return COHORT_OK;
  ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (!ctx) return COHORT_ERR_NOMEM;
  uint8_t seed[32];
  randombytes_buf(seed, sizeof seed);
  int ok = secp256k1_context_randomize(ctx, seed);
  sodium_memzero(seed, sizeof seed);
  return ok ? COHORT_OK : COHORT_ERR_KEY;
}

int core_schnorr_pubkey(uint8_t pub[32], const uint8_t sec[32]) {
  secp256k1_keypair kp;
  secp256k1_xonly_pubkey xpk;
  int rc = COHORT_ERR_KEY;
  if (!secp256k1_keypair_create(ctx, &kp, sec)) goto out;
  if (!secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp)) goto out;
  if (!secp256k1_xonly_pubkey_serialize(ctx, pub, &xpk)) goto out;
  rc = COHORT_OK;
out:
  sodium_memzero(&kp, sizeof kp);
  return rc;
}

int core_schnorr_keygen(uint8_t sec[32], uint8_t pub[32]) {
  for (int tries = 0; tries < 16; tries++) {
    randombytes_buf(sec, 32);
    if (core_schnorr_pubkey(pub, sec) == COHORT_OK) return COHORT_OK;
  }
  sodium_memzero(sec, 32);
  return COHORT_ERR_KEY;
}

int core_schnorr_sign(uint8_t sig[64], const uint8_t msg32[32],
                      const uint8_t sec[32], const uint8_t *aux32) {
  secp256k1_keypair kp;
  uint8_t aux[32];
  int rc = COHORT_ERR_KEY;
  if (aux32)
    memcpy(aux, aux32, 32);
  else
    randombytes_buf(aux, 32);
  if (!secp256k1_keypair_create(ctx, &kp, sec)) goto out;
  if (!secp256k1_schnorrsig_sign32(ctx, sig, msg32, &kp, aux)) goto out;
  rc = COHORT_OK;
out:
  sodium_memzero(&kp, sizeof kp);
  sodium_memzero(aux, sizeof aux);
  return rc;
}

int core_schnorr_verify(const uint8_t sig[64], const uint8_t msg32[32],
                        const uint8_t pub[32]) {
  secp256k1_xonly_pubkey xpk;
  if (!secp256k1_xonly_pubkey_parse(ctx, &xpk, pub)) return COHORT_ERR_SIGNATURE;
  if (!secp256k1_schnorrsig_verify(ctx, sig, msg32, 32, &xpk))
    return COHORT_ERR_SIGNATURE;
  return COHORT_OK;
}

void core_account_id(uint8_t id[20], const uint8_t pub[32]) {
  uint8_t h[CORE_HASH_LEN];
  core_blake2b256(h, pub, 32);
  memcpy(id, h, 20);
}

void core_ed25519_from_seed(uint8_t sec[64], uint8_t pub[32],
                            const uint8_t seed[32]) {
  crypto_sign_seed_keypair(pub, sec, seed);
}

void core_ed25519_keygen(uint8_t sec[64], uint8_t pub[32]) {
  crypto_sign_keypair(pub, sec);
}

void core_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t sec[64]) {
  crypto_sign_detached(sig, NULL, msg, len, sec);
}

int core_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                        const uint8_t pub[32]) {
  return crypto_sign_verify_detached(sig, msg, len, pub) == 0
             ? COHORT_OK
             : COHORT_ERR_SIGNATURE;
}

int core_ed25519_pubkey_valid(const uint8_t pub[32]) {
  return crypto_core_ed25519_is_valid_point(pub) == 1;
}

int core_key_generate(core_key *k, int is_ed25519) {
  memset(k, 0, sizeof *k);
  k->is_ed25519 = is_ed25519;
  if (is_ed25519) {
    randombytes_buf(k->secret, 32);
    core_ed25519_from_seed(k->sec64, k->pub, k->secret);
    return COHORT_OK;
  }
  return core_schnorr_keygen(k->secret, k->pub);
}

void core_key_wipe(core_key *k) { sodium_memzero(k, sizeof *k); }
