/* state/bank/bank.h — accounts, supply and escrow in both tokens, over an
 * executing block's overlay. Private to state/: every module that moves
 * tokens goes through here, so the conservation rule of docs/tasks.md
 * ("Token accounting") is kept in one place.
 *
 * Records: "a/" + id20 -> Account{crd, stk, nonce}
 *          "s/supply" -> Account{crd, stk}: totals of each token ever minted
 *                        minus burned (bonded and escrowed included)
 *          "s/escrow" -> Account{crd}: CRD held for unfinished tasks
 *          "s/gov" -> Account{stk}: STK held as proposal deposits
 *          "s/community" -> Account{crd}: the community pool
 *          (pools: records of the same shape that hold tokens of the
 *          supply outside every account, docs/staking.md §1)
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

/* Pools (BANK_POOL_*: the key of an Account record holding tokens of the
 * supply outside every account; the names and calls are the staking
 * branch's, which adds s/fees, s/rewards and moves between pools).
 * bank_pool_get reads one (absent = zeros). bank_to_pool moves amt of a
 * token from an account into a pool (COHORT_ERR_FUNDS, nothing changed,
 * when the balance is short); bank_from_pool pays from a pool to an
 * account (a pool short of amt is COHORT_ERR_CORRUPT: the state broke the
 * supply rule; check first where a short pool is a normal outcome, as a
 * community-pool spend; an account that would overflow is
 * COHORT_ERR_OVERFLOW); bank_pool_burn destroys amt of a pool's tokens
 * (the supply drops; short = COHORT_ERR_CORRUPT). A zero amount writes
 * nothing; a pool at zero is stored as a 0-byte record. */
#define BANK_POOL_COMMUNITY "s/community"
#define BANK_POOL_GOV "s/gov"
int bank_pool_get(state_exec *x, const char *pool, uint64_t *crd, uint64_t *stk);
int bank_to_pool(state_exec *x, const uint8_t from[20], const char *pool, int token, uint64_t amt);
int bank_from_pool(state_exec *x, const char *pool, const uint8_t to[20], int token, uint64_t amt);
int bank_pool_burn(state_exec *x, const char *pool, int token, uint64_t amt);

/* The Transfer message. */
int bank_exec_transfer(state_exec *x, const tx_t *tx, state_tx_result *res);

#endif
