/* consensus/proposer.h — weighted round-robin proposer selection with
 * CometBFT's proposer priorities. Pure, integer-only, deterministic.
 *
 * Every validator i has a voting power P(i) > 0 and a signed priority A(i);
 * T = sum of P(i); n = number of validators; "address" = the validator's
 * 32-byte ed25519 consensus key, compared bytewise. All arithmetic is exact
 * in signed 128-bit integers (powers are u64 and n <= 256, so T < 2^72 and
 * no value computed here comes near 2^127: nothing is ever clipped).
 *
 *   step():                       (CometBFT incrementProposerPriority)
 *     for every i: A(i) += P(i)
 *     prop = the i with the largest A(i); ties: the smallest address
 *     A(prop) -= T
 *     return prop
 *
 *   increment(times >= 1):        (CometBFT IncrementProposerPriority)
 *     rescale: diff = max A - min A; if diff > 2T:
 *                ratio = ceil(diff / 2T); every A(i) = A(i) / ratio
 *                (division truncates toward zero, as Go's)
 *     center:  avg = floor(sum A / n) (rounds toward minus infinity);
 *              every A(i) -= avg
 *     then step() `times` times; the proposer is the last step's result.
 *
 * Heights and rounds:
 *   - height 1: every A(i) = 0 (CometBFT gives each new validator
 *     -(T + T/8) and then centers, which is 0 when all are new), then
 *     increment(1). This state is S_1 and its proposer is proposer(1, 0).
 *   - height h+1: S_{h+1} = S_h followed by increment(1), whatever round
 *     height h committed in (rounds work on copies).
 *   - round r > 0 of height h: a copy of S_h followed by increment(r) (one
 *     call: rescale and center once, then r steps); proposer(h, r) is its
 *     result. The answer does not depend on how a node reached round r.
 *
 * Over any T consecutive heights decided in round 0 with a fixed set (and
 * no rescale, which a fixed set never triggers), each validator proposes
 * exactly P(i) times. tests/vectors/consensus.json holds known answers,
 * produced by an independent Python implementation of this text
 * (tests/vectors/gen_consensus_vectors.py).
 *
 * Known limit: the priorities live in the node's memory, recomputed from
 * genesis at start-up (cons_prio_genesis + cons_prio_next_height per block).
 * That is exact while the validator set never changes; once it can (issue 8,
 * H+2), the priorities must be part of the replicated state.
 */
#ifndef COHORT_CONSENSUS_PROPOSER_H
#define COHORT_CONSENSUS_PROPOSER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/cohort.pb-c.h"

#define CONS_MAX_VALIDATORS 256

__extension__ typedef __int128 cons_i128;

/* Priority state of one validator set. Plain data: copy it by assignment. */
typedef struct {
  size_t n;
  size_t proposer; /* result of the last step() */
  cons_i128 total;
  uint8_t key[CONS_MAX_VALIDATORS][32];
  uint64_t power[CONS_MAX_VALIDATORS];
  cons_i128 prio[CONS_MAX_VALIDATORS];
} cons_prio;

/* S_1 for the set vs (in the set's order; the order does not change any
 * result). Returns 0, or COHORT_ERR_INVALID (empty set, more than
 * CONS_MAX_VALIDATORS, a key not 32 bytes, power 0, a duplicate key). */
int cons_prio_genesis(cons_prio *p, const Cohort__ValidatorSet *vs);

/* S_{h+1} from S_h (same set): increment(1). */
void cons_prio_next_height(cons_prio *p);

/* increment(times) in place; times >= 1 (0 is a no-op). */
void cons_prio_increment(cons_prio *p, uint64_t times);

/* One step() without rescale/center; returns the chosen index. */
size_t cons_prio_step(cons_prio *p);

/* Proposer of round r over the height state s_h (index into the set). Cost
 * O(r * n): callers that walk rounds upward should keep a cursor instead
 * (a copy after cons_prio_increment(copy, r) advanced by cons_prio_step). */
size_t cons_prio_proposer(const cons_prio *s_h, uint32_t round);

#endif
