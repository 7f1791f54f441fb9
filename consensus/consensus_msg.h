/* consensus/consensus_msg.h — the signed messages the engine works with, as
 * plain fixed-size structs (no allocation), and their conversions to and
 * from the protobuf messages of proto/cohort.proto (Vote, Proposal).
 *
 * The engine never checks a signature: the node (or the gossip layer)
 * verifies each message against its sign bytes (proto/block.h) before it
 * hands it to the engine, and the engine only stores the 64 signature bytes
 * (to build commits, to answer gossip queries, to show evidence).
 */
#ifndef COHORT_CONSENSUS_MSG_H
#define COHORT_CONSENSUS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/block.h"
#include "proto/cohort.pb-c.h"

/* A signed prevote or precommit. */
typedef struct {
  uint32_t type; /* VOTE_PREVOTE (1) or VOTE_PRECOMMIT (2) */
  uint64_t height;
  uint32_t round;
  int has_hash; /* 0: a vote for nil (block_hash ignored, kept zero) */
  uint8_t block_hash[32];
  uint8_t validator[32]; /* ed25519 consensus key */
  uint8_t signature[64];
} cons_vote;

/* A signed proposal: the proposer of (height, round) proposes block_hash,
 * with pol_round = its valid round (-1 = none, else < round). */
typedef struct {
  uint64_t height;
  uint32_t round;
  int64_t pol_round;
  uint8_t block_hash[32];
  uint8_t proposer[32];
  uint8_t signature[64];
} cons_proposal;

/* 1 if both describe the same signed message (every field equal). */
int cons_vote_equal(const cons_vote *a, const cons_vote *b);
int cons_proposal_equal(const cons_proposal *a, const cons_proposal *b);

/* Protobuf -> struct, checking what vote_decode/proposal_decode check
 * (types, heights, lengths, pol_round < round). Returns 0 or
 * COHORT_ERR_DECODE; *out is unspecified on failure. */
int cons_vote_from_pb(cons_vote *out, const Cohort__Vote *v);
int cons_proposal_from_pb(cons_proposal *out, const Cohort__Proposal *p);

/* Struct -> protobuf. *out is initialised here; its bytes fields point into
 * *v / *p (borrowed: keep the struct alive while *out is used, and never
 * free *out with the protobuf-c free functions). */
void cons_vote_to_pb(Cohort__Vote *out, const cons_vote *v);
void cons_proposal_to_pb(Cohort__Proposal *out, const cons_proposal *p);

/* The evidence item (serialized DuplicateVoteEvidence, docs/protocol.md 4b)
 * of two conflicting votes, e.g. the two of a CONS_ACT_EVIDENCE action, in
 * either order: what an evidence pool keeps and a proposer passes on.
 * *out is malloc'd. Returns 0, COHORT_ERR_DECODE if the votes are not a
 * double sign (same value, or different height/round/type/validator; eb
 * says why), or COHORT_ERR_NOMEM. Signatures are not checked. */
int cons_evidence_encode(uint8_t **out, size_t *len, const cons_vote *a, const cons_vote *b,
                         core_errbuf *eb);

/* Sign bytes (proto/block.h) of a vote / proposal; out must hold
 * VOTE_SIGN_BYTES_MAX / PROPOSAL_SIGN_BYTES_MAX. Returns the length. */
size_t cons_vote_sign_bytes(uint8_t *out, const char *chain_id, const cons_vote *v);
size_t cons_proposal_sign_bytes(uint8_t *out, const char *chain_id, const cons_proposal *p);

#endif
