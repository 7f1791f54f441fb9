/* proto/block.h — blocks, commits, votes: hashing, sign bytes, decoding.
 *
 * block hash    = sha256(BlockHeader bytes as carried in Block.header)
 * tx root       = RFC 6962-style Merkle root over the tx hashes:
 *                 leaf = sha256(0x00 || tx_hash), node = sha256(0x01 || l || r),
 *                 split at the largest power of two below n; empty = sha256("")
 * vote sign bytes = "cohort/vote/v1" || u8(len(chain_id)) || chain_id ||
 *                 u8(type) || u64be(height) || u32be(round) ||
 *                 u8(len(block_hash)) || block_hash      (ed25519 signs these)
 * proposal sign bytes = "cohort/proposal/v1" || u8(len(chain_id)) || chain_id ||
 *                 u64be(height) || u32be(round) || u32be(pol_round + 1) ||
 *                 block_hash(32)            (pol_round -1 = none -> 0)
 * validators hash = sha256("cohort/valset/v1" || for each validator in set
 *                 order: pubkey(32) || u64be(power))
 * evidence hash = empty (not written) for a block without evidence, else
 *                 sha256("cohort/evidence/v1" || for each item in block
 *                 order: u32be(len(item)) || item)
 * Decoders reject unknown fields and enforce sizes before allocating more.
 * The Vote, Proposal and Commit decoders accept only the canonical encoding
 * (pb_check_canonical: re-packing the message gives the very bytes
 * received), so that nobody relaying a signed message can change its bytes.
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
#define PROPOSAL_SIGN_DOMAIN "cohort/proposal/v1"
#define PROPOSAL_SIGN_BYTES_MAX 160
#define VOTE_MAX_BYTES 512     /* a canonical Vote is at most ~190 bytes */
#define PROPOSAL_MAX_BYTES 512
#define EVIDENCE_DOMAIN "cohort/evidence/v1"
#define EVIDENCE_MAX_BYTES 1040 /* two votes at VOTE_MAX_BYTES and their framing */
#define BLOCK_MAX_EVIDENCE 256  /* decoder's cap; params.max_block_evidence is lower */

/* A decoded block. Owns blk (unpacked Block), hdr (unpacked header) and
 * last_commit (unpacked Block.last_commit, NULL when empty). Free with
 * block_free. */
typedef struct {
  Cohort__Block *blk;
  Cohort__BlockHeader *hdr;
  Cohort__Commit *last_commit;
  uint8_t hash[32];
} block_t;

/* Decode a Block: total size <= max_bytes, at most max_txs txs and
 * BLOCK_MAX_EVIDENCE evidence items, header fields of the right lengths
 * (validators_hash and next_validators_hash 32 bytes), evidence_hash
 * matching the items (empty without evidence), last_commit bytes hashing to
 * header.last_commit_hash (empty and all-zero hash at height 1) and decoding
 * as a Commit for height-1 and prev_hash. Signatures and the evidence items
 * themselves are NOT checked here (commit_verify with the validator set;
 * the state checks evidence). On failure *b is zeroed and eb says why:
 * COHORT_ERR_TOO_LARGE / _DECODE (the block is bad) or _NOMEM. */
int block_decode(block_t *b, const uint8_t *bytes, size_t len, size_t max_bytes,
                 size_t max_txs, core_errbuf *eb);
void block_free(block_t *b);

/* Serialize a block from a filled header (num_txs is set here), the raw
 * txs and the last commit (NULL at height 1). *out is malloc'd; hash is the
 * block hash. Returns 0 or COHORT_ERR_NOMEM. */
int block_encode(uint8_t **out, size_t *len, uint8_t hash[32],
                 Cohort__BlockHeader *hdr, const ProtobufCBinaryData *txs,
                 size_t n, const uint8_t *last_commit, size_t lc_len);

/* The same with evidence items (serialized DuplicateVoteEvidence, borrowed;
 * n_ev may be 0). The header's evidence_hash is computed here and written
 * into the encoded header only: hdr->evidence_hash is ignored and left as
 * it was (hdr->num_txs is set, as block_encode does). */
int block_encode_ev(uint8_t **out, size_t *len, uint8_t hash[32], Cohort__BlockHeader *hdr,
                    const ProtobufCBinaryData *txs, size_t n, const uint8_t *last_commit,
                    size_t lc_len, const ProtobufCBinaryData *evidence, size_t n_ev);

/* evidence_hash over n >= 1 items (see the top of this file); for n = 0 the
 * header field is empty instead. */
void evidence_hash(uint8_t out[32], const ProtobufCBinaryData *items, size_t n);

/* A decoded DuplicateVoteEvidence (docs/protocol.md §4b): the two votes,
 * owned (free with evidence_free). */
typedef struct {
  Cohort__Vote *a, *b;
} evidence_t;

/* Decode one evidence item and check what needs no state (protocol.md §4b
 * rules 1-4): at most EVIDENCE_MAX_BYTES, canonical, both votes decode as
 * vote_decode says, same type/height/round/validator, different
 * block_hash (nil is a value), vote_a's hash < vote_b's (empty first).
 * Signatures are NOT checked (vote_verify). Returns 0 with *e filled, or
 * COHORT_ERR_TOO_LARGE / COHORT_ERR_DECODE (eb says why) / COHORT_ERR_NOMEM,
 * with *e zeroed. */
int evidence_decode(evidence_t *e, const uint8_t *bytes, size_t len, core_errbuf *eb);
void evidence_free(evidence_t *e);

/* Serialize the evidence of two conflicting serialized Votes, given in any
 * order (they are put in evidence order here). *out is malloc'd. Returns 0,
 * COHORT_ERR_DECODE / _TOO_LARGE if the result would not pass
 * evidence_decode (eb says why), or COHORT_ERR_NOMEM. */
int evidence_encode(uint8_t **out, size_t *len, const uint8_t *vote1, size_t l1,
                    const uint8_t *vote2, size_t l2, core_errbuf *eb);

void block_tx_root(uint8_t out[32], const uint8_t (*tx_hashes)[32], size_t n);

/* Build vote sign bytes into out (VOTE_SIGN_BYTES_MAX); returns length. */
size_t vote_sign_bytes(uint8_t *out, const char *chain_id, uint32_t type,
                       uint64_t height, uint32_t round,
                       const uint8_t *block_hash, size_t hash_len);

/* Build proposal sign bytes into out (PROPOSAL_SIGN_BYTES_MAX); returns the
 * length. pol_round is -1 (no POL round) or a round below `round`. */
size_t proposal_sign_bytes(uint8_t *out, const char *chain_id, uint64_t height,
                           uint32_t round, int64_t pol_round,
                           const uint8_t block_hash[32]);

/* Decode a Vote received from elsewhere (at most VOTE_MAX_BYTES): canonical
 * encoding only, type 1 or 2, height >= 1, block_hash empty (nil) or 32
 * bytes, validator 32 and signature 64 bytes. The signature is NOT checked
 * (vote_verify does). Returns 0 with *out owned by the caller (free with
 * cohort__vote__free_unpacked), or COHORT_ERR_TOO_LARGE / COHORT_ERR_DECODE
 * (eb says why) / COHORT_ERR_NOMEM, with *out = NULL. */
int vote_decode(Cohort__Vote **out, const uint8_t *bytes, size_t len, core_errbuf *eb);

/* Check a decoded vote's signature by its validator key for chain_id.
 * Membership in a validator set is the caller's check. Returns 0 or
 * COHORT_ERR_SIGNATURE. */
int vote_verify(const Cohort__Vote *v, const char *chain_id, core_errbuf *eb);

/* Decode a Proposal (at most PROPOSAL_MAX_BYTES): canonical encoding only,
 * height >= 1, pol_round_plus1 <= round (POL round below the round),
 * block_hash and proposer 32 bytes, signature 64. Ownership and errors as
 * vote_decode. */
int proposal_decode(Cohort__Proposal **out, const uint8_t *bytes, size_t len,
                    core_errbuf *eb);

/* Check a decoded proposal's signature by its proposer key. That the key is
 * the proposer of (height, round) is the engine's check. Returns 0 or
 * COHORT_ERR_SIGNATURE. */
int proposal_verify(const Cohort__Proposal *p, const char *chain_id, core_errbuf *eb);

void validators_hash(uint8_t out[32], const Cohort__ValidatorSet *set);

/* Verify that commit finalizes block_hash at height: each signature valid,
 * signers distinct members of set, signed power > 2/3 of total.
 * Returns 0 or COHORT_ERR_BAD_BLOCK with eb naming the first problem. */
int commit_verify(const Cohort__Commit *c, const char *chain_id,
                  uint64_t height, const uint8_t block_hash[32],
                  const Cohort__ValidatorSet *set, core_errbuf *eb);

/* Decode a stored/wired Commit, limited to max_bytes; canonical encoding
 * only. Returns 0 with *out owned by the caller (cohort__commit__free_unpacked),
 * or COHORT_ERR_TOO_LARGE / COHORT_ERR_DECODE (the input is bad; eb says why)
 * or COHORT_ERR_NOMEM (this node's problem, never a verdict on the input),
 * with *out = NULL. */
int commit_parse(Cohort__Commit **out, const uint8_t *bytes, size_t len, size_t max_bytes,
                 core_errbuf *eb);

/* The same, returning the commit or NULL (for callers that need not tell
 * out-of-memory from bad input). */
Cohort__Commit *commit_decode(const uint8_t *bytes, size_t len,
                              size_t max_bytes, core_errbuf *eb);

#endif
