/* state/distr/distr.c — the fee pool, rewards and withdrawals (see
 * distr.h and docs/staking.md §4). */
#include "state/distr/distr.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
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

int distr_reward(state_exec *x, sk_validator *v, uint64_t r, uint64_t eligible,
                 const char *from) {
  if (r == 0) return COHORT_OK;
  if (eligible > v->shares) return COHORT_ERR_CORRUPT;
  if (eligible == 0) return bank_pool_move(x, from, BANK_POOL_COMMUNITY, BANK_CRD, r);
  uint64_t k = (uint64_t)((u128)r * v->commission_bps / 10000);
  if (core_add_u64(&v->commission_owed, v->commission_owed, k)) return COHORT_ERR_CORRUPT;
  v->reward_acc += ((u128)(r - k) << 64) / eligible; /* modulo 2^128 */
  return bank_pool_move(x, from, BANK_POOL_REWARDS, BANK_CRD, r);
}

static int distribute(state_exec *x, uint64_t fees);

/* ---- fresh shares (docs/staking.md §4 "No just-in-time delegation") ---- */

/* One "df/" + h entry: delegation (del, op) changed in this block, with
 * `before` shares at its start. */
typedef struct {
  uint8_t op[20], del[20];
  uint64_t before;
} fresh;

typedef struct {
  fresh *e;
  size_t n, cap;
  int rc;
} fresh_list;

static int collect_fresh(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  fresh_list *l = ctx;
  if (kl != SK_FRESH_KEY || vl != 8) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    fresh *p = realloc(l->e, cap * sizeof *p);
    if (!p) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->e = p;
    l->cap = cap;
  }
  fresh *f = &l->e[l->n++];
  memcpy(f->op, k + 11, 20);
  memcpy(f->del, k + 31, 20);
  f->before = core_get_u64be(v);
  return 0;
}

/* The block's df/ entries, under prefix df/ + h (+ op when op != NULL),
 * in key order (op, then del). */
static int load_fresh(state_exec *x, const uint8_t *op, fresh_list *l) {
  uint8_t pre[31];
  memcpy(pre, SK_FRESH, 3);
  core_put_u64be(pre + 3, x->height);
  if (op) memcpy(pre + 11, op, 20);
  memset(l, 0, sizeof *l);
  int rc = sx_scan(x, pre, op ? 31 : 11, collect_fresh, l);
  if (l->rc) return l->rc;
  return rc < 0 ? rc : COHORT_OK;
}

/* The shares of a delegation now (0 if it was deleted). */
static int shares_now(state_exec *x, const fresh *f, sk_delegation *d, int *exists) {
  int rc = sk_delegation_load(x, f->del, f->op, d);
  *exists = rc == COHORT_OK;
  if (rc == COHORT_ERR_NOT_FOUND) {
    memset(d, 0, sizeof *d);
    rc = COHORT_OK;
  }
  return rc;
}

/* v's eligible shares in this block: its shares minus those its
 * delegations bought in the block (sum of max(0, now - before)). */
static int eligible_shares(state_exec *x, const sk_validator *v, uint64_t *out) {
  fresh_list l;
  int rc = load_fresh(x, v->op, &l);
  u128 bought = 0;
  for (size_t i = 0; !rc && i < l.n; i++) {
    sk_delegation d;
    int exists;
    if (!(rc = shares_now(x, &l.e[i], &d, &exists)) && d.shares > l.e[i].before)
      bought += d.shares - l.e[i].before;
  }
  free(l.e);
  if (rc) return rc;
  if (bought > v->shares) return COHORT_ERR_CORRUPT;
  *out = v->shares - (uint64_t)bought;
  return COHORT_OK;
}

/* Step 5: each delegation that grew in this block is paid its old shares'
 * part of the block and starts after it; every df/ + h key goes. */
static int settle_fresh(state_exec *x) {
  fresh_list l;
  int rc = load_fresh(x, NULL, &l);
  sk_validator v;
  int have_v = 0;
  for (size_t i = 0; !rc && i < l.n; i++) {
    const fresh *f = &l.e[i];
    sk_delegation d;
    int exists;
    if ((rc = shares_now(x, f, &d, &exists))) break;
    if (exists && d.shares > f->before) {
      if (!have_v || memcmp(v.op, f->op, 20)) { /* entries come by op */
        if ((rc = sk_validator_load(x, f->op, &v))) {
          if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
          break;
        }
        have_v = 1;
      }
      sk_delegation old = d;
      old.shares = f->before;
      uint64_t owed;
      if ((rc = distr_pending(&v, &old, &owed)) ||
          (rc = bank_from_pool(x, BANK_POOL_REWARDS, f->del, BANK_CRD, owed)))
        break;
      d.reward_start = v.reward_acc;
      if ((rc = sk_delegation_save(x, f->del, f->op, &d))) break; /* same shares: no df/ */
    }
    uint8_t k[SK_FRESH_KEY];
    sk_fresh_key(k, x->height, f->op, f->del);
    rc = sx_del(x, k, sizeof k);
  }
  free(l.e);
  return rc;
}

int distr_end_block(state_exec *x) {
  uint64_t fees, stk;
  int rc = bank_pool_get(x, BANK_POOL_FEES, &fees, &stk);
  if (!rc && fees) rc = distribute(x, fees);
  return rc ? rc : settle_fresh(x);
}

/* Steps 1-4: the fee pool to the validators that signed the previous
 * block, each validator's part to its eligible shares. */
static int distribute(state_exec *x, uint64_t fees) {
  const Cohort__Params *p = x->st->params;
  int rc;
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
    uint64_t eligible;
    if (!(rc = eligible_shares(x, &v, &eligible)) &&
        !(rc = distr_reward(x, &v, r, eligible, BANK_POOL_FEES)))
      rc = sk_validator_save(x, &v);
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
