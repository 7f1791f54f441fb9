/* proto/block.h — blocks, commits, votes: hashing, sign bytes, decoding.
 *
 * block hash    = sha256(BlockHeader bytes as carried in Block.header)
 * tx root       = RFC 6962-style Merkle root over the tx hashes:
 *                 leaf = sha256(0x00 || tx_hash), node = sha256(0x01 || l || r),
 *                 split at the largest power of two below n; empty = sha256("")
 * vote sign bytes = "cohort/vote/v1" || u8(len(chain_id)) || chain_id ||
 *                 u8(type) || u64be(height) || u32be(round) ||
 *                 u8(len(block_hash)) || block_hash      (ed25519 signs these)
 * validators hash = sha256("cohort/valset/v1" || for each validator in set
 *                 order: pubkey(32) || u64be(power))
 * Decoders reject unknown fields and enforce sizes before allocating more.
 */
#ifndef COHORT_PROTO_BLOCK_H
#define COHORT_PROTO_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/cohort.pb-c.h"

#define VOTE_PREVOTE 1
#define VOTE_PRECOMMIT 2
#define VOTE_SIGN_DOMAIN "cohort/vote/v1"
#define VOTE_SIGN_BYTES_MAX 160

/* A decoded block. Owns blk (unpacked Block), hdr (unpacked header) and
 * last_commit (unpacked Block.last_commit, NULL when empty). Free with
 * block_free. */
typedef struct {
  Cohort__Block *blk;
  Cohort__BlockHeader *hdr;
  Cohort__Commit *last_commit;
  uint8_t hash[32];
} block_t;

/* Decode a Block: total size <= max_bytes, at most max_txs txs, header
 * fields of the right lengths, last_commit bytes hashing to
 * header.last_commit_hash (empty and all-zero hash at height 1) and decoding
 * as a Commit for height-1 and prev_hash. Signatures are NOT checked here
 * (commit_verify does, with the validator set). On failure *b is zeroed and
 * eb says why. */
int block_decode(block_t *b, const uint8_t *bytes, size_t len, size_t max_bytes,
                 size_t max_txs, core_errbuf *eb);
void block_free(block_t *b);

/* Serialize a block from a filled header (num_txs is set here), the raw
 * txs and the last commit (NULL at height 1). *out is malloc'd; hash is the
 * block hash. Returns 0 or COHORT_ERR_NOMEM. */
int block_encode(uint8_t **out, size_t *len, uint8_t hash[32],
                 Cohort__BlockHeader *hdr, const ProtobufCBinaryData *txs,
                 size_t n, const uint8_t *last_commit, size_t lc_len);

void block_tx_root(uint8_t out[32], const uint8_t (*tx_hashes)[32], size_t n);

/* Build vote sign bytes into out (VOTE_SIGN_BYTES_MAX); returns length. */
size_t vote_sign_bytes(uint8_t *out, const char *chain_id, uint32_t type,
                       uint64_t height, uint32_t round,
                       const uint8_t *block_hash, size_t hash_len);

void validators_hash(uint8_t out[32], const Cohort__ValidatorSet *set);

/* Verify that commit finalizes block_hash at height: each signature valid,
 * signers distinct members of set, signed power > 2/3 of total.
 * Returns 0 or COHORT_ERR_BAD_BLOCK with eb naming the first problem. */
int commit_verify(const Cohort__Commit *c, const char *chain_id,
                  uint64_t height, const uint8_t block_hash[32],
                  const Cohort__ValidatorSet *set, core_errbuf *eb);

/* Decode a stored/wired Commit, limited to max_bytes, canonical bytes only.
 * commit_decode_rc: 0 with *out set, or COHORT_ERR_TOO_LARGE / _DECODE (bad
 * input) / _NOMEM (this node); commit_decode: NULL on any of them. */
int commit_decode_rc(Cohort__Commit **out, const uint8_t *bytes, size_t len, size_t max_bytes,
                     core_errbuf *eb);
Cohort__Commit *commit_decode(const uint8_t *bytes, size_t len,
                              size_t max_bytes, core_errbuf *eb);

#endif
