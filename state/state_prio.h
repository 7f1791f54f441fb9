/* state/state_prio.h — the proposer priorities S_h (consensus/proposer.h)
 * derived from the replicated state: the genesis set V_1 and the set
 * history ("vh/", docs/protocol.md 4b).
 *
 *   S_1     = cons_prio_genesis(V_1)
 *   S_{h+1} = S_h, cons_prio_update(V_{h+1}), cons_prio_increment(1)
 *
 * Every node computes the same S_h from the same chain. The priorities are
 * not stored; a node rebuilds them at start-up (state_prio_at, one
 * increment per height since genesis) and advances them after each block it
 * commits (state_prio_next). This is its own library (stateprio) because it
 * needs both state and consensus, which do not depend on each other.
 */
#ifndef COHORT_STATE_PRIO_H
#define COHORT_STATE_PRIO_H

#include <stdint.h>

#include "consensus/proposer.h"
#include "core/err.h"
#include "state/state.h"

/* S_height for 1 <= height <= state_height(st) + 2 (the node wants
 * state_height + 1: the height being decided). Returns 0 with *out set, or
 * COHORT_ERR_NOT_FOUND (height out of range), COHORT_ERR_CORRUPT (a stored
 * set cannot drive consensus: empty, too large, power 0, duplicate key) or
 * another fatal-band code from the store; *out is unspecified on error. */
int state_prio_at(state *st, uint64_t height, cons_prio *out, core_errbuf *eb);

/* After block h is committed (state_height(st) = h) and p holds S_h: make it
 * S_{h+1} with the set that signs h+1 (state_validators(st)). Returns 0, or
 * COHORT_ERR_CORRUPT (that set cannot drive consensus) with p unchanged. */
int state_prio_next(state *st, cons_prio *p, core_errbuf *eb);

#endif
