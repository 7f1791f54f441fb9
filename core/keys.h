/* core/keys.h — account keys (secp256k1 BIP-340 Schnorr), validator and node
 * keys (ed25519), account IDs, and key files.
 *
 * Account ID = first 20 bytes of BLAKE2b-256(x-only public key); shown as a
 * bech32 "coh1..." address (core/bech32.h). Secrets passed in are borrowed;
 * functions wipe their own temporaries. Key files are JSON, mode 0600.
 */
#ifndef COHORT_CORE_KEYS_H
#define COHORT_CORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CORE_SCHNORR_SEC_LEN 32
#define CORE_SCHNORR_PUB_LEN 32
#define CORE_SCHNORR_SIG_LEN 64
#define CORE_ED25519_SEED_LEN 32
#define CORE_ED25519_SEC_LEN 64
#define CORE_ED25519_PUB_LEN 32
#define CORE_ED25519_SIG_LEN 64

/* Fresh random Schnorr key pair. Returns 0 or COHORT_ERR_KEY. */
int core_schnorr_keygen(uint8_t sec[32], uint8_t pub[32]);
/* x-only public key of a secret. COHORT_ERR_KEY if sec is not a valid
 * scalar (zero or >= group order). */
int core_schnorr_pubkey(uint8_t pub[32], const uint8_t sec[32]);
/* BIP-340 signature of a 32-byte message. aux32 is the auxiliary randomness
 * (NULL draws it from the OS; pass a fixed value only for test vectors). */
int core_schnorr_sign(uint8_t sig[64], const uint8_t msg32[32],
                      const uint8_t sec[32], const uint8_t *aux32);
/* 0 if sig is valid for msg32 under pub, else COHORT_ERR_SIGNATURE
 * (also for a pub that is not a valid x-only key). */
int core_schnorr_verify(const uint8_t sig[64], const uint8_t msg32[32],
                        const uint8_t pub[32]);

/* Account ID of an x-only public key. */
void core_account_id(uint8_t id[20], const uint8_t pub[32]);

/* ed25519 (libsodium): sec is the 64-byte seed||pub form. */
void core_ed25519_from_seed(uint8_t sec[64], uint8_t pub[32],
                            const uint8_t seed[32]);
void core_ed25519_keygen(uint8_t sec[64], uint8_t pub[32]);
void core_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t sec[64]);
int core_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                        const uint8_t pub[32]);
/* 1 if pub is a canonical encoding of a point of the main subgroup, not of
 * small order (libsodium's crypto_core_ed25519_is_valid_point): a key that
 * can sign. 0 otherwise. */
int core_ed25519_pubkey_valid(const uint8_t pub[32]);

/* Key files. kind is "secp256k1" (account) or "ed25519" (validator, node).
 * A file holds {"type", "secret", "public"} and, for accounts, "address".
 *
 * core_keyfile_write creates path with mode 0600 and fails with
 * COHORT_ERR_DUPLICATE if it exists (never overwrites a key).
 * core_keyfile_read checks the type, lengths, and that the public key matches
 * the secret; eb names the problem. Secret: 32 bytes (secp256k1) or the
 * 32-byte seed (ed25519). */
typedef struct {
  int is_ed25519;
  uint8_t secret[32];
  uint8_t sec64[64]; /* ed25519 expanded secret; unused for secp256k1 */
  uint8_t pub[32];
} core_key;

int core_keyfile_write(const char *path, const core_key *k, core_errbuf *eb);
int core_keyfile_read(const char *path, core_key *k, core_errbuf *eb);
/* Fill a fresh key of the kind. */
int core_key_generate(core_key *k, int is_ed25519);
void core_key_wipe(core_key *k);

#endif
