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
 *   update(V):                    (CometBFT updateWithChangeSet)
 *     the set becomes V; the change set is what differs from the current
 *     (address, power) pairs. If nothing differs: no-op (not even the
 *     order changes). Else, with R = the old power of the validators not in
 *     V and T' = total power of V + R (CometBFT's "total voting power after
 *     updates, before removals"):
 *       in V's order, a validator already present keeps its A(i) and takes
 *       its power from V; a new one gets A = -(T' + floor(T'/8)) (CometBFT's
 *       -1.125 T', so that leaving and re-joining never resets a negative
 *       priority); removed ones are dropped; T = total power of V;
 *       then rescale and center as in increment (window 2T, floor average).
 *     (CometBFT then sorts by power; the order changes no result here.)
 *
 * Heights and rounds:
 *   - height 1: every A(i) = 0 (CometBFT gives each new validator
 *     -(T + T/8) and then centers, which is 0 when all are new), then
 *     increment(1). This state is S_1 and its proposer is proposer(1, 0).
 *   - height h+1: S_{h+1} = S_h, then update(V_{h+1}) (a no-op while the
 *     set that signs h+1 is the one that signed h), then increment(1),
 *     whatever round height h committed in (rounds work on copies). This is
 *     CometBFT's NextValidators: the change set of block H is applied to
 *     S_{H+1} to make S_{H+2}.
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
 * The priorities are not stored: they are a function of V_1 and the sets
 * of every height, so a node rebuilds S_h from genesis and the state's set
 * history at start-up (state/state_prio.h: state_prio_at) and advances it
 * after each block (state_prio_next). The cost is one increment per height
 * since genesis at start-up.
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

/* update(vs) in place: the set of p becomes vs (see the top of this file).
 * Call it before the increment that makes S_{h+1}, with vs = V_{h+1}.
 * Afterwards p->proposer is meaningless until the next increment (0).
 * Returns 0, or COHORT_ERR_INVALID with p unchanged (vs empty, more than
 * CONS_MAX_VALIDATORS, a key not 32 bytes, power 0, a duplicate key). */
int cons_prio_update(cons_prio *p, const Cohort__ValidatorSet *vs);

/* increment(times) in place; times >= 1 (0 is a no-op). */
void cons_prio_increment(cons_prio *p, uint64_t times);

/* One step() without rescale/center; returns the chosen index. */
size_t cons_prio_step(cons_prio *p);

/* Proposer of round r over the height state s_h (index into the set). Cost
 * O(r * n): callers that walk rounds upward should keep a cursor instead
 * (a copy after cons_prio_increment(copy, r) advanced by cons_prio_step). */
size_t cons_prio_proposer(const cons_prio *s_h, uint32_t round);

#endif
