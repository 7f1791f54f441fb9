/* consensus/consensus.h — the BFT engine: a pure state machine.
 *
 * Tendermint-style rounds at each height: PROPOSE -> PREVOTE -> PRECOMMIT ->
 * COMMIT, with +2/3-of-power quorums and locking. The engine does no I/O and
 * reads no clock: the node feeds it events with the current time and drains
 * the actions it emits (build a proposal, sign a vote, commit a block), and
 * asks for the next deadline to arm its one timer. A single validator is the
 * degenerate case: the same steps, each quorum reached by its own vote.
 *
 * States at one height (h, r = round):
 *   NEW_HEIGHT  waiting for the block interval to pass (and, if empty blocks
 *               are off, for transactions) before round 0 starts.
 *   PROPOSE     waiting for the round's proposal (we build it if we are the
 *               proposer) or timeout_propose -> prevote nil.
 *   PREVOTE     our prevote is cast; +2/3 prevotes for B -> lock B, precommit
 *               B; +2/3 prevotes for nil -> precommit nil; +2/3 of any ->
 *               timeout_prevote -> precommit nil.
 *   PRECOMMIT   +2/3 precommits for B -> COMMIT; +2/3 of any ->
 *               timeout_precommit -> round r+1.
 *   COMMIT      the node persists B; cons_on_committed starts height h+1.
 * Proposer of (h, r): stake-weighted, chosen by sha256("cohort/proposer/v1"
 * || u64be(h) || u32be(r)) mod total power over the set in order.
 */
#ifndef COHORT_CONSENSUS_H
#define COHORT_CONSENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/cohort.pb-c.h"

typedef enum {
  CONS_NEW_HEIGHT = 0,
  CONS_PROPOSE,
  CONS_PREVOTE,
  CONS_PRECOMMIT,
  CONS_COMMIT
} cons_step;

typedef struct {
  uint64_t block_interval_ms;       /* min time between blocks (default 1000) */
  uint64_t empty_block_interval_ms; /* 0: never propose empty blocks; else
                                       propose one after this long idle */
  uint64_t timeout_propose_ms;      /* default 3000 */
  uint64_t timeout_vote_ms;         /* prevote/precommit wait, default 1000 */
} cons_config;

typedef enum {
  CONS_ACT_PROPOSE = 1, /* build a block for (height, round) and feed it back */
  CONS_ACT_VOTE,        /* sign (type, height, round, hash) and feed it back */
  CONS_ACT_COMMIT       /* commit block_hash at height; commit holds sigs */
} cons_action_kind;

typedef struct {
  cons_action_kind kind;
  uint32_t vote_type; /* VOTE_PREVOTE / VOTE_PRECOMMIT for CONS_ACT_VOTE */
  uint64_t height;
  uint32_t round;
  int has_hash; /* 0 = vote for nil */
  uint8_t block_hash[32];
  /* CONS_ACT_COMMIT: the precommits for block_hash, owned by the action
   * (free with cons_action_free). */
  Cohort__Commit *commit;
} cons_action;

typedef struct cons_engine cons_engine;

/* New engine. my_pubkey may be NULL (a non-validating full node). The valset
 * is copied. Returns NULL on NOMEM. */
cons_engine *cons_new(const cons_config *cfg, const char *chain_id,
                      const uint8_t *my_pubkey);
void cons_del(cons_engine *e);

/* Start height h with validator set vs (copied), at time now_ms. */
int cons_start_height(cons_engine *e, uint64_t height,
                      const Cohort__ValidatorSet *vs, uint64_t now_ms);

/* Begin the current height at round r instead of 0 (after a restart, to
 * skip rounds this validator already signed in). Call before the first tick. */
void cons_set_start_round(cons_engine *e, uint32_t r);

/* Events. Each may queue actions. */
void cons_on_tick(cons_engine *e, uint64_t now_ms);
void cons_on_txs_available(cons_engine *e, int available, uint64_t now_ms);
/* A complete proposal for (h, r) whose block the node has validated
 * (valid = 0 if the block fails validation). Ignored unless it comes
 * from the round's proposer (the node checks the signature). */
void cons_on_proposal(cons_engine *e, uint64_t h, uint32_t r,
                      const uint8_t proposer[32], const uint8_t hash[32],
                      int valid, uint64_t now_ms);
/* A vote whose signature the node has verified. Returns 0, or
 * COHORT_ERR_DOUBLE_SIGN if the validator already voted differently at this
 * (h, r, type) — evidence for a later slashing module — or
 * COHORT_ERR_INVALID (not a validator, wrong height). */
int cons_on_vote(cons_engine *e, uint32_t type, uint64_t h, uint32_t r,
                 const uint8_t validator[32], const uint8_t *hash,
                 const uint8_t sig[64], uint64_t now_ms);

/* Pop the next queued action into *a; returns 0 if there was none. */
int cons_next_action(cons_engine *e, cons_action *a);
void cons_action_free(cons_action *a);

/* Absolute time of the next deadline (0 = none). */
uint64_t cons_next_deadline(const cons_engine *e);

/* Introspection for status/metrics. */
uint64_t cons_height(const cons_engine *e);
uint32_t cons_round(const cons_engine *e);
cons_step cons_get_step(const cons_engine *e);
const char *cons_step_name(cons_step s);

/* Proposer of (h, r) over vs; returns its index. */
size_t cons_proposer_index(const Cohort__ValidatorSet *vs, uint64_t h,
                           uint32_t r);

#endif
