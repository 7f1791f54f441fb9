/* state/distr/distr.c — the fee pool, rewards and withdrawals (see
 * distr.h and docs/staking.md §4). */
#include "state/distr/distr.h"

#include <stdlib.h>
#include <string.h>

#include "state/bank/bank.h"

typedef unsigned __int128 u128;

int distr_pending(const sk_validator *v, const sk_delegation *d, uint64_t *out) {
  return distr_owed(v->reward_acc, d, out);
}

int distr_owed(unsigned __int128 acc, const sk_delegation *d, uint64_t *out) {
  u128 diff = acc - d->reward_start; /* modulo 2^128 */
  u128 hi = diff >> 64, lo = (uint64_t)diff;
  u128 p = (u128)d->shares * hi, q = ((u128)d->shares * lo) >> 64;
  *out = 0;
  if (p > UINT64_MAX || p + q > UINT64_MAX) return COHORT_ERR_CORRUPT;
  *out = (uint64_t)(p + q);
  return COHORT_OK;
}

int distr_settle(state_exec *x, const uint8_t del[20], const sk_validator *v, sk_delegation *d,
                 uint64_t *paid) {
  uint64_t owed;
  int rc = distr_pending(v, d, &owed);
  if (paid) *paid = 0;
  if (rc) return rc;
  if ((rc = bank_from_pool(x, BANK_POOL_REWARDS, del, BANK_CRD, owed))) return rc;
  d->reward_start = v->reward_acc;
  if (paid) *paid = owed;
  return COHORT_OK;
}

int distr_reward(state_exec *x, sk_validator *v, uint64_t r, const char *from) {
  if (r == 0) return COHORT_OK;
  if (v->shares == 0) return bank_pool_move(x, from, BANK_POOL_COMMUNITY, BANK_CRD, r);
  uint64_t k = (uint64_t)((u128)r * v->commission_bps / 10000);
  if (core_add_u64(&v->commission_owed, v->commission_owed, k)) return COHORT_ERR_CORRUPT;
  v->reward_acc += ((u128)(r - k) << 64) / v->shares; /* modulo 2^128 */
  return bank_pool_move(x, from, BANK_POOL_REWARDS, BANK_CRD, r);
}

int distr_end_block(state_exec *x) {
  const Cohort__Params *p = x->st->params;
  uint64_t fees, stk;
  int rc = bank_pool_get(x, BANK_POOL_FEES, &fees, &stk);
  if (rc || fees == 0) return rc;
  uint64_t c = (uint64_t)((u128)fees * p->community_tax_bps / 10000), R = fees - c;
  if ((rc = bank_pool_move(x, BANK_POOL_FEES, BANK_POOL_COMMUNITY, BANK_CRD, c))) return rc;
  /* The validators that signed the previous block (its commit is in this
   * block), by their power in the set that signed it. */
  const Cohort__ValidatorSet *vs = state_last_validators(x->st);
  if (x->lc_known && x->lc_n != vs->n_validators) return COHORT_ERR_CORRUPT;
  u128 total = 0;
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!x->lc_known || x->lc_signed[i]) total += vs->validators[i]->power;
  uint64_t given = 0;
  for (size_t i = 0; !rc && total && i < vs->n_validators; i++) {
    const Cohort__Validator *sv = vs->validators[i];
    if (x->lc_known && !x->lc_signed[i]) continue;
    uint64_t r = (uint64_t)((u128)R * sv->power / total);
    if (!r) continue;
    if (sv->operator_.len != 20) return COHORT_ERR_CORRUPT;
    sk_validator v;
    if ((rc = sk_validator_load(x, sv->operator_.data, &v)))
      return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
    if (!(rc = distr_reward(x, &v, r, BANK_POOL_FEES))) rc = sk_validator_save(x, &v);
    given += r;
  }
  if (!rc) rc = bank_pool_move(x, BANK_POOL_FEES, BANK_POOL_COMMUNITY, BANK_CRD, R - given);
  /* the pool is empty between blocks */
  if (!rc) rc = sx_del(x, (const uint8_t *)BANK_POOL_FEES, strlen(BANK_POOL_FEES));
  return rc;
}

/* ---- MsgWithdrawRewards ---- */

typedef struct {
  uint8_t (*ops)[20];
  size_t n, cap;
} oplist;

static int collect_op(void *ctx, const uint8_t op[20], const sk_delegation *d) {
  (void)d;
  oplist *l = ctx;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    void *p = realloc(l->ops, cap * 20);
    if (!p) return COHORT_ERR_NOMEM;
    l->ops = p;
    l->cap = cap;
  }
  memcpy(l->ops[l->n++], op, 20);
  return 0;
}

int distr_exec_withdraw(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgWithdrawRewards *m = tx->body->withdraw_rewards;
  const uint8_t *me = tx->sender;
  char who[17];
  oplist l = {0};
  sk_validator own, other;
  int rc = sk_validator_load(x, me, &own), has_own = rc == COHORT_OK;
  if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
  rc = COHORT_OK;
  if (m->validator.len == 20) {
    sk_validator v;
    rc = sk_validator_load(x, m->validator.data, &v);
    if (rc == COHORT_ERR_NOT_FOUND) {
      sk_short(who, m->validator.data);
      return sk_fail(res, COHORT_ERR_NOT_FOUND, "withdraw_rewards: %s.. is not a validator", who);
    }
    if (rc) return rc;
    sk_delegation d;
    rc = sk_delegation_load(x, me, m->validator.data, &d);
    if (rc == COHORT_ERR_NOT_FOUND && !(has_own && !memcmp(me, m->validator.data, 20))) {
      sk_short(who, m->validator.data);
      return sk_fail(res, COHORT_ERR_NOT_FOUND, "withdraw_rewards: the sender has no delegation "
                     "to %s..", who);
    }
    if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
    if (!rc && !(rc = distr_settle(x, me, &v, &d, NULL))) rc = sk_delegation_save(x, me, v.op, &d);
    else if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_OK;
  } else {
    if ((rc = staking_scan_delegations_of(x, me, collect_op, &l))) goto out;
    for (size_t i = 0; !rc && i < l.n; i++) {
      sk_validator *v = has_own && !memcmp(l.ops[i], me, 20) ? &own : &other;
      if (v == &other && (rc = sk_validator_load(x, l.ops[i], &other))) {
        if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
        break;
      }
      sk_delegation d;
      if ((rc = sk_delegation_load(x, me, l.ops[i], &d))) {
        if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
        break;
      }
      if (!(rc = distr_settle(x, me, v, &d, NULL))) rc = sk_delegation_save(x, me, l.ops[i], &d);
    }
  }
  if (!rc && has_own && own.commission_owed) {
    rc = bank_from_pool(x, BANK_POOL_REWARDS, me, BANK_CRD, own.commission_owed);
    own.commission_owed = 0;
    if (!rc) rc = sk_validator_save(x, &own);
  }
  /* neither named: the delegations to executors too (docs/staking.md §8) */
  if (!rc && m->validator.len == 0) rc = market_withdraw_exec_rewards(x, me, NULL, res);
out:
  free(l.ops);
  return rc;
}
