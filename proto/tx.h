/* proto/tx.h — transactions: decode, verify, build and sign.
 *
 * Wire: a Tx protobuf {body, pubkey, signature}; body is a TxBody protobuf.
 * sign bytes  = "cohort/tx/v1" || u8(len(chain_id)) || chain_id || body
 * signature   = BIP-340 Schnorr over sha256(sign bytes)
 * tx hash     = sha256(the Tx bytes exactly as received)
 * The body is hashed and verified as received, never re-encoded. Decoding
 * rejects unknown fields, wrong key/signature lengths and oversize input.
 */
#ifndef COHORT_PROTO_TX_H
#define COHORT_PROTO_TX_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/cohort.pb-c.h"

#define TX_SIGN_DOMAIN "cohort/tx/v1"
#define TX_MEMO_MAX 256
#define TX_DEFAULT_MAX_BYTES 65536
#define CHAIN_ID_MAX 48
#define TX_JOB_MAX_CHUNKS 256
#define TX_DISPUTE_MAX_POINTS 63    /* dispute_bisect: at most arity - 1 = 63 hashes */
#define TX_DISPUTE_PROOF_MAX 4096   /* = COHORT_VM_PROOF_MAX */
#define TX_MONIKER_MAX 64           /* a validator's moniker, bytes */

/* A decoded transaction. Owns `raw` (a copy of the received Tx bytes),
 * `body_bytes` (a copy of the received body bytes, exactly as signed) and
 * `body` (the unpacked TxBody). Free with tx_free. */
typedef struct {
  uint8_t *raw;
  size_t raw_len;
  uint8_t hash[32];
  uint8_t pubkey[32];
  uint8_t sig[64];
  uint8_t sender[20]; /* account ID of pubkey */
  const uint8_t *body_bytes;
  size_t body_len;
  Cohort__TxBody *body;
} tx_t;

/* Decode and check shape (not the signature, not state). On failure tx is
 * zeroed, nothing is allocated, and eb names the problem. Errors:
 * COHORT_ERR_TOO_LARGE (len > max), COHORT_ERR_DECODE (garbage, unknown
 * fields, bad lengths), COHORT_ERR_NO_MSG, COHORT_ERR_TOKEN, COHORT_ERR_AMOUNT,
 * COHORT_ERR_ADDRESS, COHORT_ERR_INVALID (memo too long), COHORT_ERR_NOMEM. */
int tx_decode(tx_t *tx, const uint8_t *bytes, size_t len, size_t max,
              core_errbuf *eb);
void tx_free(tx_t *tx);

/* Verify the signature for chain_id. 0 or COHORT_ERR_SIGNATURE. (A tx signed
 * for another chain fails here too: the chain ID is inside the sign bytes.) */
int tx_verify(const tx_t *tx, const char *chain_id);

/* The 32-byte digest that is signed. */
void tx_sign_digest(uint8_t out[32], const char *chain_id,
                    const uint8_t *body, size_t body_len);

/* Serialize body, sign it with the Schnorr secret, and produce the Tx bytes
 * (malloc'd, caller frees *out). aux32 as in core_schnorr_sign (NULL = OS
 * randomness). Returns 0, COHORT_ERR_KEY or COHORT_ERR_NOMEM. */
int tx_build(uint8_t **out, size_t *out_len, const Cohort__TxBody *body,
             const char *chain_id, const uint8_t sec[32], const uint8_t *aux32);

/* Token names "CRD"/"STK" <-> enum. Parsing is case-insensitive; returns 0
 * or COHORT_ERR_TOKEN. */
int tx_token_parse(const char *s, Cohort__Token *out);
const char *tx_token_name(Cohort__Token t); /* "CRD", "STK" or "?" */

/* Name of the message type of a body ("transfer", ...). */
const char *tx_msg_name(const Cohort__TxBody *body);

#endif
