/* state/staking/staking_delegate.c — delegations (docs/staking.md §2):
 * Delegate, Undelegate, Redelegate, and the unbondings and redelegations
 * that mature at the end of a block.
 *
 * Every message checks all its rules before it writes (a refusal changes
 * nothing; the tx dispatch rolls back a failed message anyway), settles
 * the rewards of each delegation whose shares change (distr_settle), then
 * writes the delegation, the validator (and so its power index) and the
 * queue entries. Rounding favours those who stay: a partial undelegation
 * takes ceil(amount * shares / tokens) shares for `amount` tokens.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/bank/bank.h"
#include "state/distr/distr.h"
#include "state/staking/staking.h"

typedef unsigned __int128 u128;

/* ---- queue keys ---- */
static void ubq_key(uint8_t k[SK_UBQ_KEY], uint64_t rel, const uint8_t op[20],
                    const uint8_t del[20]) {
  memcpy(k, SK_UBQ, 3);
  core_put_u64be(k + 3, rel);
  k[11] = SK_ROLE_DELEGATION;
  memcpy(k + 12, op, 20);
  memcpy(k + 32, del, 20);
}
static void ubv_key(uint8_t k[SK_UB_IDX_KEY], uint64_t rel, const uint8_t op[20],
                    const uint8_t del[20]) {
  memcpy(k, SK_UBV, 3);
  memcpy(k + 3, op, 20);
  core_put_u64be(k + 23, rel);
  memcpy(k + 31, del, 20);
}
static void ubd_key(uint8_t k[SK_UB_IDX_KEY], uint64_t rel, const uint8_t op[20],
                    const uint8_t del[20]) {
  memcpy(k, SK_UBD, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, op, 20);
  core_put_u64be(k + 43, rel);
}
static void rdq_key(uint8_t k[SK_RD_KEY], uint64_t rel, const uint8_t src[20],
                    const uint8_t dst[20], const uint8_t del[20]) {
  memcpy(k, SK_RDQ, 3);
  core_put_u64be(k + 3, rel);
  memcpy(k + 11, src, 20);
  memcpy(k + 31, dst, 20);
  memcpy(k + 51, del, 20);
}
static void rdv_key(uint8_t k[SK_RD_KEY], uint64_t rel, const uint8_t src[20],
                    const uint8_t dst[20], const uint8_t del[20]) {
  memcpy(k, SK_RDV, 3);
  memcpy(k + 3, src, 20);
  core_put_u64be(k + 23, rel);
  memcpy(k + 31, dst, 20);
  memcpy(k + 51, del, 20);
}
static void rdd_key(uint8_t k[SK_RD_KEY], uint64_t rel, const uint8_t src[20],
                    const uint8_t dst[20], const uint8_t del[20]) {
  memcpy(k, SK_RDD, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, dst, 20);
  core_put_u64be(k + 43, rel);
  memcpy(k + 51, src, 20);
}

/* ---- counting pending entries ---- */
typedef struct {
  uint32_t n;
  const uint8_t *src; /* rd/ scans: count only entries from this source */
} pend_ctx;

static int count_ub(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)v, (void)vl;
  pend_ctx *c = ctx;
  if (kl != SK_UB_IDX_KEY) return COHORT_ERR_CORRUPT;
  c->n++;
  return 0;
}

static int count_rd(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  pend_ctx *c = ctx;
  if (kl != SK_RD_KEY) return COHORT_ERR_CORRUPT;
  if (memcmp(k + 51, c->src, 20)) return 0;
  c->n++;
  return 0;
}

static int stop_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)ctx, (void)k, (void)kl, (void)v, (void)vl;
  return 1;
}

static int release_height(state_exec *x, uint64_t *rel) {
  return core_add_u64(rel, x->height, x->st->params->unbonding_blocks) ? COHORT_ERR_CORRUPT
                                                                        : COHORT_OK;
}

/* The release height of an entry made in this block (docs/staking.md §2,
 * "Entries never merge across blocks"): the first r >= h +
 * unbonding_blocks whose queue slot is free or holds an entry made in this
 * very block (*old, to merge into; the caller frees it). An entry's
 * height says which offences all of its stake is slashable for, so
 * stake of two blocks never shares one. Each slot passed holds another
 * pending entry of the same pair: at most `pending` of them (counted by
 * the caller), else the store is corrupt. */
static int ub_slot(state_exec *x, const uint8_t op[20], const uint8_t del[20], uint32_t pending,
                   uint64_t *rel, Cohort__UnbondingDelegation **old) {
  *old = NULL;
  int rc = release_height(x, rel);
  for (uint32_t i = 0; !rc; i++) {
    uint8_t qk[SK_UBQ_KEY];
    ubq_key(qk, *rel, op, del);
    Cohort__UnbondingDelegation *e = (Cohort__UnbondingDelegation *)sx_get_msg(
        x, qk, sizeof qk, &cohort__unbonding_delegation__descriptor, &rc);
    if (rc) return rc;
    if (!e || e->height == x->height) {
      *old = e;
      return COHORT_OK;
    }
    cohort__unbonding_delegation__free_unpacked(e, NULL);
    if (i >= pending || core_add_u64(rel, *rel, 1)) return COHORT_ERR_CORRUPT;
  }
  return rc;
}

/* The same for a redelegation of del from src to dst. */
static int rd_slot(state_exec *x, const uint8_t src[20], const uint8_t dst[20],
                   const uint8_t del[20], uint32_t pending, uint64_t *rel,
                   Cohort__Redelegation **old) {
  *old = NULL;
  int rc = release_height(x, rel);
  for (uint32_t i = 0; !rc; i++) {
    uint8_t qk[SK_RD_KEY];
    rdq_key(qk, *rel, src, dst, del);
    Cohort__Redelegation *e = (Cohort__Redelegation *)sx_get_msg(
        x, qk, sizeof qk, &cohort__redelegation__descriptor, &rc);
    if (rc) return rc;
    if (!e || e->height == x->height) {
      *old = e;
      return COHORT_OK;
    }
    cohort__redelegation__free_unpacked(e, NULL);
    if (i >= pending || core_add_u64(rel, *rel, 1)) return COHORT_ERR_CORRUPT;
  }
  return rc;
}

/* Jail the operator whose self-delegation is now worth less than
 * min_self_bond (no slash: Unjail after topping up). */
static void check_self_bond(state_exec *x, sk_validator *v, const uint8_t del[20],
                            uint64_t shares_left) {
  if (memcmp(del, v->op, 20)) return;
  if (sk_shares_value(v, shares_left) < x->st->params->min_self_bond) sk_jail(v, x->height);
}

/* ---- Delegate ---- */

/* Buy shares of v for `amount` tokens that the caller took from somewhere
 * (a balance, or another validator): settles d first (when it exists),
 * updates v and d in memory. refuse: why not (nothing changed). */
static int add_to(state_exec *x, const uint8_t del[20], sk_validator *v, sk_delegation *d,
                  int exists, uint64_t amount, uint64_t *shares_in, const char **refuse) {
  uint64_t s = sk_shares_for(v, amount, refuse);
  if (*refuse) return COHORT_OK;
  uint64_t tokens;
  if (core_add_u64(&tokens, v->tokens, amount)) return COHORT_ERR_CORRUPT;
  int rc = exists ? distr_settle(x, del, v, d, NULL) : COHORT_OK;
  if (rc) return rc;
  if (!exists) {
    memset(d, 0, sizeof *d);
    d->reward_start = v->reward_acc;
  }
  d->shares += s; /* <= v->shares + s, which sk_shares_for checked */
  d->height = x->height;
  v->tokens = tokens;
  v->shares += s;
  *shares_in = s;
  return COHORT_OK;
}

int sk_exec_delegate(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgDelegate *m = tx->body->delegate;
  const Cohort__Params *p = x->st->params;
  const uint8_t *me = tx->sender;
  char who[17];
  sk_short(who, m->validator.data);
  sk_validator v;
  int rc = sk_validator_load(x, m->validator.data, &v);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "delegate: %s.. is not a validator", who);
  if (rc) return rc;
  if (v.tombstoned)
    return sk_fail(res, COHORT_ERR_INVALID, "delegate: validator %s.. double-signed and is "
                   "tombstoned: it takes no delegations", who);
  if (m->amount < p->min_delegation)
    return sk_fail(res, COHORT_ERR_AMOUNT, "delegate: amount %llu is below "
                   "params.min_delegation %llu", (unsigned long long)m->amount,
                   (unsigned long long)p->min_delegation);
  uint64_t c, s, n;
  if ((rc = bank_get(x, me, &c, &s, &n))) return rc;
  if (s < m->amount)
    return sk_fail(res, COHORT_ERR_FUNDS, "delegate: amount %llu exceeds the STK balance %llu",
                   (unsigned long long)m->amount, (unsigned long long)s);
  sk_delegation d;
  rc = sk_delegation_load(x, me, v.op, &d);
  int exists = rc == COHORT_OK;
  if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
  if (!exists) {
    uint32_t nd;
    if ((rc = sk_count_delegations(x, me, p->max_delegations, &nd))) return rc;
    if (nd >= p->max_delegations)
      return sk_fail(res, COHORT_ERR_TOO_LARGE, "delegate: the sender has %u delegations "
                     "(params.max_delegations)", nd);
  }
  const char *why;
  uint64_t got;
  if ((rc = add_to(x, me, &v, &d, exists, m->amount, &got, &why))) return rc;
  if (why) return sk_fail(res, COHORT_ERR_INVALID, "delegate: %s", why);
  if ((rc = bank_debit(x, me, BANK_STK, m->amount))) return rc;
  if ((rc = sk_delegation_save(x, me, v.op, &d))) return rc;
  return sk_validator_save(x, &v);
}

/* ---- Undelegate and Redelegate: taking tokens out of a delegation ---- */

/* Checks and arithmetic of taking `amount` from del's delegation d at v:
 * *shares_out, or a refusal in res (returns 1). */
static int take_check(const sk_validator *v, const sk_delegation *d, uint64_t amount,
                      const char *what, uint64_t *shares_out, state_tx_result *res) {
  uint64_t value = sk_shares_value(v, d->shares);
  if (amount == 0) {
    sk_fail(res, COHORT_ERR_AMOUNT, "%s: amount must be > 0", what);
    return 1;
  }
  if (amount > value) {
    sk_fail(res, COHORT_ERR_FUNDS, "%s: amount %llu exceeds the delegation's value %llu", what,
            (unsigned long long)amount, (unsigned long long)value);
    return 1;
  }
  if (amount == value) {
    *shares_out = d->shares;
  } else { /* v->tokens >= value > amount > 0 */
    u128 s = ((u128)amount * v->shares + v->tokens - 1) / v->tokens;
    *shares_out = s > d->shares ? d->shares : (uint64_t)s;
  }
  return 0;
}

/* Apply it (rewards settled first). */
static int take_apply(state_exec *x, const uint8_t del[20], sk_validator *v, sk_delegation *d,
                      uint64_t amount, uint64_t shares_out) {
  int rc = distr_settle(x, del, v, d, NULL);
  if (rc) return rc;
  if (v->tokens < amount || v->shares < shares_out) return COHORT_ERR_CORRUPT;
  d->shares -= shares_out;
  d->height = x->height;
  v->tokens -= amount;
  v->shares -= shares_out;
  check_self_bond(x, v, del, d->shares);
  return COHORT_OK;
}

static int load_pair(state_exec *x, const uint8_t del[20], const uint8_t op[20], sk_validator *v,
                     sk_delegation *d, const char *what, state_tx_result *res, int *refused) {
  char who[17];
  sk_short(who, op);
  *refused = 1;
  int rc = sk_validator_load(x, op, v);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "%s: %s.. is not a validator", what, who);
  if (rc) return rc;
  rc = sk_delegation_load(x, del, op, d);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "%s: the sender has no delegation to %s..", what,
                   who);
  if (rc) return rc;
  *refused = 0;
  return COHORT_OK;
}

int sk_exec_undelegate(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUndelegate *m = tx->body->undelegate;
  const Cohort__Params *p = x->st->params;
  const uint8_t *me = tx->sender, *op = m->validator.data;
  sk_validator v;
  sk_delegation d;
  int refused, rc = load_pair(x, me, op, &v, &d, "undelegate", res, &refused);
  if (rc || refused) return rc;
  if (sk_shares_value(&v, d.shares) == 0) { /* slashed to nothing: the shares go, no entry */
    if ((rc = take_apply(x, me, &v, &d, 0, d.shares))) return rc;
    if ((rc = sk_delegation_save(x, me, op, &d))) return rc;
    return sk_validator_save(x, &v);
  }
  uint64_t shares_out, rel;
  if (take_check(&v, &d, m->amount, "undelegate", &shares_out, res)) return COHORT_OK;
  uint8_t pre[43];
  memcpy(pre, SK_UBD, 3);
  memcpy(pre + 3, me, 20);
  memcpy(pre + 23, op, 20);
  pend_ctx pc = {0, NULL};
  if ((rc = sx_scan(x, pre, sizeof pre, count_ub, &pc)) < 0) return rc;
  Cohort__UnbondingDelegation e = COHORT__UNBONDING_DELEGATION__INIT, *old;
  if ((rc = ub_slot(x, op, me, pc.n, &rel, &old))) return rc;
  if (!old && pc.n >= p->max_entries)
    return sk_fail(res, COHORT_ERR_TOO_LARGE, "undelegate: %u unbondings from this validator "
                   "are pending (params.max_entries); wait for one to complete", pc.n);
  if ((rc = take_apply(x, me, &v, &d, m->amount, shares_out))) {
    if (old) cohort__unbonding_delegation__free_unpacked(old, NULL);
    return rc;
  }
  /* the queue entry (merged only with one of this same block) */
  uint8_t qk[SK_UBQ_KEY], vk[SK_UB_IDX_KEY], dk[SK_UB_IDX_KEY];
  ubq_key(qk, rel, op, me);
  ubv_key(vk, rel, op, me);
  ubd_key(dk, rel, op, me);
  if (old) {
    e.amount = old->amount;
    e.initial = old->initial;
    cohort__unbonding_delegation__free_unpacked(old, NULL);
  }
  if (core_add_u64(&e.amount, e.amount, m->amount) ||
      core_add_u64(&e.initial, e.initial, m->amount))
    return COHORT_ERR_CORRUPT;
  e.height = x->height;
  if ((rc = sx_put_msg(x, qk, sizeof qk, &e.base)) || (rc = sx_put(x, vk, sizeof vk, NULL, 0)) ||
      (rc = sx_put(x, dk, sizeof dk, NULL, 0)))
    return rc;
  if ((rc = sk_delegation_save(x, me, op, &d))) return rc;
  return sk_validator_save(x, &v);
}

int sk_exec_redelegate(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgRedelegate *m = tx->body->redelegate;
  const Cohort__Params *p = x->st->params;
  const uint8_t *me = tx->sender, *src = m->src.data, *dst = m->dst.data;
  char ws[17], wd[17];
  sk_short(ws, src);
  sk_short(wd, dst);
  if (!memcmp(src, dst, 20))
    return sk_fail(res, COHORT_ERR_INVALID, "redelegate: src and dst are the same validator");
  sk_validator vs, vd;
  sk_delegation ds, dd;
  int refused, rc = load_pair(x, me, src, &vs, &ds, "redelegate", res, &refused);
  if (rc || refused) return rc;
  /* No hopping: stake that arrived at src by a redelegation still
   * slashable for its source cannot move on until that one matures. */
  uint8_t hop[43];
  memcpy(hop, SK_RDD, 3);
  memcpy(hop + 3, me, 20);
  memcpy(hop + 23, src, 20);
  if ((rc = sx_scan_lazy(x, hop, sizeof hop, stop_first, NULL)) < 0) return rc;
  if (rc == 1)
    return sk_fail(res, COHORT_ERR_INVALID, "redelegate: a redelegation of the sender to %s.. "
                   "is still pending: stake cannot hop on before it completes "
                   "(params.unbonding_blocks)", ws);
  rc = sk_validator_load(x, dst, &vd);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "redelegate: dst %s.. is not a validator", wd);
  if (rc) return rc;
  if (vd.tombstoned)
    return sk_fail(res, COHORT_ERR_INVALID, "redelegate: dst %s.. double-signed and is "
                   "tombstoned: it takes no delegations", wd);
  rc = sk_delegation_load(x, me, dst, &dd);
  int exists = rc == COHORT_OK;
  if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
  uint64_t shares_out, rel;
  if (take_check(&vs, &ds, m->amount, "redelegate", &shares_out, res)) return COHORT_OK;
  if (!exists) {
    uint32_t nd;
    if ((rc = sk_count_delegations(x, me, p->max_delegations + 1, &nd))) return rc;
    /* the delegation to src goes away if all of it moves */
    if (shares_out == ds.shares) nd--;
    if (nd >= p->max_delegations)
      return sk_fail(res, COHORT_ERR_TOO_LARGE, "redelegate: the sender has %u delegations "
                     "(params.max_delegations)", nd);
  }
  uint8_t all[23];
  memcpy(all, SK_RDD, 3);
  memcpy(all + 3, me, 20);
  pend_ctx pc = {0, src};
  if ((rc = sx_scan(x, all, sizeof all, count_rd, &pc)) < 0) return rc;
  Cohort__Redelegation e = COHORT__REDELEGATION__INIT, *old;
  if ((rc = rd_slot(x, src, dst, me, pc.n, &rel, &old))) return rc;
  const char *why = NULL;
  if (!old && pc.n >= p->max_entries) {
    sk_fail(res, COHORT_ERR_TOO_LARGE, "redelegate: %u redelegations from %s.. are "
            "pending (params.max_entries); wait for one to complete", pc.n, ws);
    goto refused;
  }
  /* the shares dst gives for the tokens (checked before anything moves) */
  (void)sk_shares_for(&vd, m->amount, &why);
  if (why) {
    sk_fail(res, COHORT_ERR_INVALID, "redelegate: at dst %s..: %s", wd, why);
    goto refused;
  }
  uint64_t got;
  if ((rc = take_apply(x, me, &vs, &ds, m->amount, shares_out)) ||
      (rc = add_to(x, me, &vd, &dd, exists, m->amount, &got, &why)))
    goto refused;
  if (why) {
    rc = COHORT_ERR_CORRUPT; /* checked above on the same record */
    goto refused;
  }
  uint8_t qk[SK_RD_KEY], vk[SK_RD_KEY], dk[SK_RD_KEY];
  rdq_key(qk, rel, src, dst, me);
  rdv_key(vk, rel, src, dst, me);
  rdd_key(dk, rel, src, dst, me);
  if (old) {
    e.initial = old->initial;
    e.shares_dst = old->shares_dst;
    cohort__redelegation__free_unpacked(old, NULL);
  }
  if (core_add_u64(&e.initial, e.initial, m->amount) ||
      core_add_u64(&e.shares_dst, e.shares_dst, got))
    return COHORT_ERR_CORRUPT;
  e.height = x->height;
  if ((rc = sx_put_msg(x, qk, sizeof qk, &e.base)) || (rc = sx_put(x, vk, sizeof vk, NULL, 0)) ||
      (rc = sx_put(x, dk, sizeof dk, NULL, 0)))
    return rc;
  if ((rc = sk_delegation_save(x, me, src, &ds)) || (rc = sk_delegation_save(x, me, dst, &dd)))
    return rc;
  if ((rc = sk_validator_save(x, &vs))) return rc;
  return sk_validator_save(x, &vd);
refused:
  if (old) cohort__redelegation__free_unpacked(old, NULL);
  return rc;
}

/* ---- maturity at the end of block h ---- */

typedef struct {
  uint8_t *keys; /* n keys of `kl` bytes */
  uint64_t *amounts;
  size_t n, cap, kl;
  int rc;
} due_list;

static int collect_due(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  due_list *l = ctx;
  if (kl != l->kl) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    uint8_t *nk = realloc(l->keys, cap * kl);
    if (!nk) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->keys = nk;
    uint64_t *na = realloc(l->amounts, cap * sizeof *na);
    if (!na) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->amounts = na;
    l->cap = cap;
  }
  uint64_t amt = 0;
  if (kl == SK_UBQ_KEY) {
    Cohort__UnbondingDelegation *e = cohort__unbonding_delegation__unpack(NULL, vl, v);
    if (!e) {
      l->rc = COHORT_ERR_CORRUPT;
      return 1;
    }
    amt = e->amount;
    cohort__unbonding_delegation__free_unpacked(e, NULL);
  }
  memcpy(l->keys + l->n * kl, k, kl);
  l->amounts[l->n++] = amt;
  return 0;
}

int sk_end_unbonding(state_exec *x) {
  uint8_t pre[11];
  memcpy(pre, SK_UBQ, 3);
  core_put_u64be(pre + 3, x->height);
  due_list l = {NULL, NULL, 0, 0, SK_UBQ_KEY, COHORT_OK};
  int rc = sx_scan(x, pre, sizeof pre, collect_due, &l);
  if (l.rc) rc = l.rc;
  for (size_t i = 0; rc >= 0 && i < l.n; i++) {
    const uint8_t *k = l.keys + i * SK_UBQ_KEY, *op = k + 12, *del = k + 32;
    if (k[11] != SK_ROLE_DELEGATION) {
      rc = COHORT_ERR_CORRUPT;
      break;
    }
    uint8_t vk[SK_UB_IDX_KEY], dk[SK_UB_IDX_KEY];
    ubv_key(vk, x->height, op, del);
    ubd_key(dk, x->height, op, del);
    if (!(rc = bank_credit(x, del, BANK_STK, l.amounts[i])) && !(rc = sx_del(x, k, SK_UBQ_KEY)) &&
        !(rc = sx_del(x, vk, sizeof vk)))
      rc = sx_del(x, dk, sizeof dk);
  }
  free(l.keys);
  free(l.amounts);
  if (rc < 0) return rc;
  memcpy(pre, SK_RDQ, 3);
  due_list r = {NULL, NULL, 0, 0, SK_RD_KEY, COHORT_OK};
  rc = sx_scan(x, pre, sizeof pre, collect_due, &r);
  if (r.rc) rc = r.rc;
  for (size_t i = 0; rc >= 0 && i < r.n; i++) {
    const uint8_t *k = r.keys + i * SK_RD_KEY, *src = k + 11, *dst = k + 31, *del = k + 51;
    uint8_t vk[SK_RD_KEY], dk[SK_RD_KEY];
    rdv_key(vk, x->height, src, dst, del);
    rdd_key(dk, x->height, src, dst, del);
    if (!(rc = sx_del(x, k, SK_RD_KEY)) && !(rc = sx_del(x, vk, sizeof vk)))
      rc = sx_del(x, dk, sizeof dk);
  }
  free(r.keys);
  free(r.amounts);
  return rc < 0 ? rc : COHORT_OK;
}

/* The key builders, for the slash (staking_slash.c). */
void sk_ubq_key(uint8_t k[SK_UBQ_KEY], uint64_t rel, const uint8_t op[20], const uint8_t del[20]) {
  ubq_key(k, rel, op, del);
}
void sk_rdq_key(uint8_t k[SK_RD_KEY], uint64_t rel, const uint8_t src[20], const uint8_t dst[20],
                const uint8_t del[20]) {
  rdq_key(k, rel, src, dst, del);
}
