/* state/bank/bank.h — accounts, supply and escrow in both tokens, over an
 * executing block's overlay. Private to state/: every module that moves
 * tokens goes through here, so the conservation rule of docs/tasks.md
 * ("Token accounting") is kept in one place.
 *
 * Records: "a/" + id20 -> Account{crd, stk, nonce}
 *          "s/supply" -> Account{crd, stk}: totals of each token ever minted
 *                        minus burned (bonded and escrowed included)
 *          "s/escrow" -> Account{crd}: CRD held for unfinished tasks
 *          pools (docs/staking.md §1), tokens held by no account:
 *          "s/fees" -> Account{crd}: fees and protocol fees of the block
 *                      being executed (emptied at its end: state/distr/)
 *          "s/rewards" -> Account{crd}: rewards owed to delegators and
 *                      operators, not yet withdrawn, plus rounding dust
 *          "s/community" -> Account{crd}: the community pool
 *          "s/gov" -> Account{stk}: proposal deposits (state/gov/)
 * Amount arithmetic is checked: an overflow or an underflow of a total is
 * COHORT_ERR_CORRUPT (it cannot happen unless the state is corrupt), a
 * short balance is COHORT_ERR_FUNDS for the caller to turn into a failed
 * message. Errors of the store are returned as they are (fatal band).
 */
#ifndef COHORT_STATE_BANK_H
#define COHORT_STATE_BANK_H

#include <stdint.h>

#include "state/state.h"

enum { BANK_CRD = 0, BANK_STK = 1 };

/* Read an account through the overlay (missing = zeros). */
int bank_get(state_exec *x, const uint8_t id[20], uint64_t *crd, uint64_t *stk, uint64_t *nonce);
int bank_put(state_exec *x, const uint8_t id[20], uint64_t crd, uint64_t stk, uint64_t nonce);
/* Add / remove amt of one token (BANK_CRD or BANK_STK). bank_debit returns
 * COHORT_ERR_FUNDS, changing nothing, when the balance is short. */
int bank_credit(state_exec *x, const uint8_t id[20], int token, uint64_t amt);
int bank_debit(state_exec *x, const uint8_t id[20], int token, uint64_t amt);
/* Destroy tokens that left every balance (slashes, storage fees). */
int bank_burn(state_exec *x, uint64_t crd, uint64_t stk);
/* Move CRD from an account into the task escrow and out of it to an
 * account. bank_escrow_in returns COHORT_ERR_FUNDS when the balance is short. */
int bank_escrow_in(state_exec *x, const uint8_t from[20], uint64_t crd);
int bank_escrow_out(state_exec *x, const uint8_t to[20], uint64_t crd);
int bank_get_escrow(state_exec *x, uint64_t *crd);

/* Pools. bank_pool_get reads one (absent = zeros). bank_to_pool moves amt
 * of a token from an account into a pool (COHORT_ERR_FUNDS, nothing
 * changed, when the balance is short); bank_from_pool pays from a pool to
 * an account and bank_pool_move between pools (a pool short of amt is
 * COHORT_ERR_CORRUPT: the state broke the supply rule); bank_pool_credit
 * adds tokens that left the escrow or a bond in the same step (the caller
 * took them off there). A pool at zero is stored as a 0-byte record. */
#define BANK_POOL_FEES "s/fees"
#define BANK_POOL_REWARDS "s/rewards"
#define BANK_POOL_COMMUNITY "s/community"
#define BANK_POOL_GOV "s/gov"
int bank_pool_get(state_exec *x, const char *pool, uint64_t *crd, uint64_t *stk);
int bank_to_pool(state_exec *x, const uint8_t from[20], const char *pool, int token, uint64_t amt);
int bank_from_pool(state_exec *x, const char *pool, const uint8_t to[20], int token, uint64_t amt);
int bank_pool_move(state_exec *x, const char *from, const char *to, int token, uint64_t amt);
int bank_pool_credit(state_exec *x, const char *pool, int token, uint64_t amt);
/* Executor payment out of the task escrow: pay - fee to `to`, fee to
 * "s/fees" (the protocol fee, docs/staking.md §4). */
int bank_escrow_out_fee(state_exec *x, const uint8_t to[20], uint64_t pay, uint64_t fee);
/* CRD out of the task escrow into a pool (an executor's delegators' part
 * to "s/rewards", docs/staking.md §8). */
int bank_escrow_to_pool(state_exec *x, const char *pool, uint64_t crd);
int bank_pool_burn(state_exec *x, const char *pool, int token, uint64_t amt);

/* The Transfer message. */
int bank_exec_transfer(state_exec *x, const tx_t *tx, state_tx_result *res);

#endif
