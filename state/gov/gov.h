/* state/gov/gov.h — governance (docs/staking.md §5): proposals, deposits,
 * votes, the tally and parameter changes, over an executing block's
 * overlay. Private to state/; the committed reads the RPC needs are in
 * state/state.h (state_get_proposal, state_gov_tally, ...).
 *
 * A proposal's life (GovProposal.status, numbers in proto/gov.h):
 *
 *   MsgSubmitProposal ──(total < gov_min_deposit)──> DEPOSIT ──(end of deposit_end,
 *          │                                            │      still short)──> EXPIRED
 *          │                                  MsgDeposit│total reaches            refunded
 *          │                                  gov_min_deposit
 *          └──(total >= gov_min_deposit)──────────> VOTING
 *                                                       │ end of voting_end: tally over V_{h+1}
 *               ┌──────────────┬──────────────┬─────────┴──────┐
 *           NO_QUORUM        VETOED        REJECTED          PASSED
 *            burned          burned        refunded         refunded
 *                                                              │ text: nothing more
 *                                                              │ spend: paid from s/community
 *                                                              │   at once, or FAILED (pool short)
 *                                                              │ params: at the very end of block
 *                                                              │   a-1 applied (applied_height = a)
 *                                                              └─> or FAILED (bounds/relations)
 *
 * What each status guarantees:
 *   DEPOSIT   a "gq/" kind 1 entry at deposit_end; deposits accepted; no votes.
 *   VOTING    a "gq/" kind 2 entry at voting_end; votes accepted (last counts);
 *             total_deposit >= gov_min_deposit as it was when voting began.
 *   PASSED    final: the tally is stored; deposits refunded; a parameter
 *             change not yet applied has a "gq/" kind 3 entry at a-1 and
 *             applied_height 0 until it is applied.
 *   REJECTED, VETOED, NO_QUORUM, EXPIRED, FAILED: final; no "gd/", "gv/"
 *             or "gq/" record of the proposal is left.
 *
 * Transitions and the function performing each:
 *   -> DEPOSIT or VOTING      gov_exec_submit        (a tx)
 *   DEPOSIT -> VOTING         gov_exec_deposit       (a tx)
 *   DEPOSIT -> EXPIRED        gov_end_block          (end of block, §6 step d)
 *   VOTING -> PASSED/REJECTED/VETOED/NO_QUORUM, PASSED -> FAILED (spend)
 *                             gov_end_block
 *   PASSED -> applied or FAILED (parameter change)
 *                             gov_apply_due          (the very end of block a-1, §6 step e)
 *
 * Records (in app_hash; docs/staking.md §1):
 *   "gn/next"                          u64be: the next proposal ID (absent = 1)
 *   "gp/" + u64be(id)                  GovProposal
 *   "gd/" + u64be(id) + depositor(20)  Account{stk}: one depositor's deposit
 *   "gv/" + u64be(id) + voter(20)      GovVote{option, height}
 *   "gq/" + u8(kind) + u64be(h) + u64be(id)  empty: deadline at the end of block h
 *                                      (1 deposit period, 2 voting period, 3 apply)
 *   "ps/" + name                       u64be: first block executed with the
 *                                      parameter's current value (absent: genesis)
 *   "s/gov" (STK of the deposits) and "s/community" (CRD) through bank.h.
 * Read, never written, here: "vl/" + op -> ValidatorInfo and "dl/" + del + op
 * -> Delegation (state/staking/), and the set V_{h+1}.
 *
 * Everything is a pure function of the overlay and the transaction: ordered
 * scans, checked 128-bit products, no clock. A failed message is recorded
 * in res (code and log) and changes nothing but fee and nonce (the caller
 * rolls back); a fatal-band code is this node's failure and aborts the block.
 * Parameters in force are the committed cache (x->st->params): a change is
 * written at the very end of block a-1, so nothing executed in a-1 reads it
 * and block a is the first to see it.
 */
#ifndef COHORT_STATE_GOV_H
#define COHORT_STATE_GOV_H

#include <stdint.h>

#include "core/err.h"
#include "genesis/params.h"
#include "proto/gov.h"
#include "state/state.h"

/* The messages: MsgSubmitProposal (TxBody 23), MsgVote (24), MsgDeposit (31). */
int gov_exec_submit(state_exec *x, const tx_t *tx, state_tx_result *res);
int gov_exec_deposit(state_exec *x, const tx_t *tx, state_tx_result *res);
int gov_exec_vote(state_exec *x, const tx_t *tx, state_tx_result *res);

/* End of block h, step (d) of docs/staking.md §6: deposit periods ending at
 * h ("gq/" kind 1, by ID), then voting periods ("gq/" kind 2, by ID: the
 * tally, the deposits, a spend paid). */
int gov_end_block(state_exec *x);
/* The very end of block h, step (e): parameter changes due ("gq/" kind 3
 * at h, by ID), each checked against the parameters as the changes before
 * it left them; the first block to run with them is h + 1. */
int gov_apply_due(state_exec *x);

/* Check a set of changes against the parameters p (changed in place only
 * when everything passes): every name a row of the table, every value
 * inside its bounds, no name twice, and p with all the changes passes
 * genesis_params_check. Returns 0, or COHORT_ERR_INVALID with eb naming
 * the change or the relation (p unchanged). */
int gov_changes_apply(genesis_params *p, Cohort__ParamChange *const *changes, size_t n,
                      core_errbuf *eb);

/* The tally of proposal `id` over `set` (docs/staking.md §5 steps 1-3),
 * reading "gv/", "vl/" and "dl/" through x without writing anything (x may
 * be a bare reader over the committed store, as state_gov_tally makes).
 * The outcome is gov_tally_outcome's. Errors: fatal-band codes only
 * (COHORT_ERR_CORRUPT: shares that do not add up). */
int gov_tally_compute(state_exec *x, uint64_t id, const Cohort__ValidatorSet *set,
                      state_tally *t);
/* PASSED, REJECTED, VETOED or NO_QUORUM for a tally under p's quorum,
 * threshold and veto. */
uint32_t gov_tally_outcome(const state_tally *t, const Cohort__Params *p);

#endif
