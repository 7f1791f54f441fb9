/* state/distr/distr.h — distribution (docs/staking.md §4): the fee pool,
 * the per-validator reward accumulator, commission, withdrawals and the
 * community pool. Private to state/.
 *
 * Money flow (CRD, all through state/bank/):
 *   tx fees, protocol fees --> "s/fees" --end of block--> community_tax to
 *   "s/community"; the rest to the validators that signed the previous
 *   block, by power: commission to ValidatorInfo.commission_owed, the rest
 *   to the delegators' side (reward_acc); both held in "s/rewards" until
 *   withdrawn; rounding leftovers of the split go to "s/community".
 *
 * The accumulator: reward_acc (u128, modular) grows by floor(r * 2^64 /
 * shares) for a reward r to the delegators of a validator with `shares`;
 * a delegation of s shares that last settled at reward_start is owed
 * floor(s * ((acc - reward_start) mod 2^128) / 2^64). Settling pays that
 * and sets reward_start = acc; it must happen before the delegation's
 * shares change (staking does it). No loop over delegators, ever — only
 * over the delegations changed in the block ("df/"), each paid by a tx:
 * shares bought in block h are left out of h's divisor, and at the end of
 * h each delegation that grew is paid its old shares' part and restarts
 * at the new accumulator, so it earns from h + 1 on.
 */
#ifndef COHORT_STATE_DISTR_H
#define COHORT_STATE_DISTR_H

#include <stdint.h>

#include "state/staking/staking.h"

/* What d is owed by v now. COHORT_ERR_CORRUPT if it reaches 2^64 (it
 * cannot: the CRD supply bounds it). Pure. */
int distr_pending(const sk_validator *v, const sk_delegation *d, uint64_t *out);
/* The same for any accumulator (an executor's, docs/staking.md §8). */
int distr_owed(unsigned __int128 acc, const sk_delegation *d, uint64_t *out);

/* Pay del its pending reward of d at v from "s/rewards" and set
 * d->reward_start = v->reward_acc (the caller saves d). *paid (may be
 * NULL): what was paid. */
int distr_settle(state_exec *x, const uint8_t del[20], const sk_validator *v, sk_delegation *d,
                 uint64_t *paid);

/* Give validator v a reward r taken from pool `from` (commission, then
 * the accumulator over `eligible` of its shares; everything to
 * "s/community" when eligible is 0). v is updated in memory; the caller
 * saves it. COHORT_ERR_CORRUPT if eligible > v->shares. */
int distr_reward(state_exec *x, sk_validator *v, uint64_t r, uint64_t eligible,
                 const char *from);

/* End of block (b): empty "s/fees" (§4 steps 1-4), each validator's part
 * to its eligible shares (those bonded through the whole block), then
 * settle the delegations that grew in the block and delete every "df/"
 * key of it (step 5, with or without fees). */
int distr_end_block(state_exec *x);

/* MsgWithdrawRewards. */
int distr_exec_withdraw(state_exec *x, const tx_t *tx, state_tx_result *res);

#endif
