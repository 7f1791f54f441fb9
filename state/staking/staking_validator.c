/* state/staking/staking_validator.c — a validator's own messages
 * (docs/staking.md §2): CreateValidator, EditValidator (a commission
 * change is announced and comes into force commission_change_blocks
 * later, at the end-of-block step sk_end_commission), Unjail, and the
 * records genesis writes for its validators. */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/parse.h"
#include "state/bank/bank.h"
#include "state/staking/staking.h"

static void comm_key(uint8_t k[SK_COMM_KEY], uint64_t h, const uint8_t op[20]) {
  memcpy(k, SK_COMM, 3);
  core_put_u64be(k + 3, h);
  memcpy(k + 11, op, 20);
}

int sk_genesis_validator(state_exec *x, const genesis_validator *gv) {
  sk_validator v;
  memset(&v, 0, sizeof v);
  memcpy(v.op, gv->operator_id, 20);
  memcpy(v.pubkey, gv->pubkey, 32);
  if (strlen(gv->moniker) > SK_MONIKER_MAX || gv->commission_bps > gv->max_commission_bps ||
      gv->max_commission_bps > 10000 || gv->max_change_bps > gv->max_commission_bps)
    return COHORT_ERR_INVALID; /* genesis_parse refuses these */
  strcpy(v.moniker, gv->moniker);
  v.commission_bps = gv->commission_bps;
  v.max_commission_bps = gv->max_commission_bps;
  v.max_change_bps = gv->max_change_bps;
  v.tokens = v.shares = gv->power;
  v.signing_since = 1;
  if (gv->has_beacon) {
    memcpy(v.beacon_tip, gv->beacon_commit, 32);
    v.has_tip = 1;
  }
  uint8_t k[35] = SK_KEY;
  memcpy(k + 3, gv->pubkey, 32);
  sk_delegation d = {gv->power, 0, 0};
  int rc = sk_validator_save(x, &v);
  if (!rc) rc = sx_put(x, k, sizeof k, gv->operator_id, 20);
  if (!rc) rc = sk_delegation_save(x, gv->operator_id, gv->operator_id, &d);
  return rc;
}

int sk_exec_create_validator(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgCreateValidator *m = tx->body->create_validator;
  const Cohort__Params *p = x->st->params;
  const uint8_t *me = tx->sender;
  sk_validator v;
  int rc = sk_validator_load(x, me, &v);
  if (rc == COHORT_OK)
    return sk_fail(res, COHORT_ERR_DUPLICATE, "create_validator: the sender operates a "
                   "validator already (one per account; edit_validator changes it)");
  if (rc != COHORT_ERR_NOT_FOUND) return rc;
  if (m->pubkey.len != 32 || !core_ed25519_pubkey_valid(m->pubkey.data))
    return sk_fail(res, COHORT_ERR_INVALID, "create_validator: pubkey is not a valid ed25519 "
                   "public key");
  if (m->beacon_commit.len != 32)
    return sk_fail(res, COHORT_ERR_INVALID, "create_validator: beacon_commit must be 32 bytes");
  size_t ml = m->moniker ? strlen(m->moniker) : 0;
  if (ml > SK_MONIKER_MAX || (ml && !core_text_valid(m->moniker, ml)))
    return sk_fail(res, COHORT_ERR_INVALID, "create_validator: moniker must be at most %d bytes "
                   "of printable UTF-8", SK_MONIKER_MAX);
  if (m->commission_bps > m->max_commission_bps || m->max_commission_bps > 10000 ||
      m->max_change_bps > m->max_commission_bps)
    return sk_fail(res, COHORT_ERR_INVALID, "create_validator: needs commission_bps <= "
                   "max_commission_bps <= 10000 and max_change_bps <= max_commission_bps");
  uint8_t op[20];
  if ((rc = sk_operator_of(x, m->pubkey.data, op)) == COHORT_OK)
    return sk_fail(res, COHORT_ERR_DUPLICATE, "create_validator: that consensus key is used "
                   "by another validator (keys are never reused)");
  if (rc != COHORT_ERR_NOT_FOUND) return rc;
  if (m->self_bond < p->min_self_bond)
    return sk_fail(res, COHORT_ERR_AMOUNT, "create_validator: self_bond %llu is below "
                   "params.min_self_bond %llu", (unsigned long long)m->self_bond,
                   (unsigned long long)p->min_self_bond);
  uint32_t nd;
  if ((rc = sk_count_delegations(x, me, p->max_delegations, &nd))) return rc;
  if (nd >= p->max_delegations)
    return sk_fail(res, COHORT_ERR_TOO_LARGE, "create_validator: the sender has %u delegations "
                   "already (params.max_delegations); the self-bond is one more", nd);
  rc = bank_debit(x, me, BANK_STK, m->self_bond);
  if (rc == COHORT_ERR_FUNDS) {
    uint64_t c, s, n;
    if ((rc = bank_get(x, me, &c, &s, &n))) return rc;
    return sk_fail(res, COHORT_ERR_FUNDS, "create_validator: self_bond %llu exceeds the STK "
                   "balance %llu", (unsigned long long)m->self_bond, (unsigned long long)s);
  }
  if (rc) return rc;
  memset(&v, 0, sizeof v);
  memcpy(v.op, me, 20);
  memcpy(v.pubkey, m->pubkey.data, 32);
  if (ml) memcpy(v.moniker, m->moniker, ml);
  v.commission_bps = m->commission_bps;
  v.max_commission_bps = m->max_commission_bps;
  v.max_change_bps = m->max_change_bps;
  v.commission_height = v.created_height = x->height;
  v.tokens = v.shares = m->self_bond;
  memcpy(v.beacon_tip, m->beacon_commit.data, 32);
  v.has_tip = 1;
  uint8_t k[35] = SK_KEY;
  memcpy(k + 3, m->pubkey.data, 32);
  sk_delegation d = {m->self_bond, 0, x->height};
  if (!(rc = sk_validator_save(x, &v)) && !(rc = sx_put(x, k, sizeof k, me, 20)))
    rc = sk_delegation_save(x, me, me, &d);
  return rc;
}

int sk_exec_edit_validator(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgEditValidator *m = tx->body->edit_validator;
  const Cohort__Params *p = x->st->params;
  sk_validator v;
  int rc = sk_validator_load(x, tx->sender, &v);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "edit_validator: the sender operates no validator");
  if (rc) return rc;
  if (!m->set_moniker && !m->set_commission)
    return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: nothing to change (set_moniker, "
                   "set_commission)");
  if (m->set_moniker) {
    size_t ml = m->moniker ? strlen(m->moniker) : 0;
    if (ml > SK_MONIKER_MAX || (ml && !core_text_valid(m->moniker, ml)))
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: moniker must be at most %d bytes "
                     "of printable UTF-8", SK_MONIKER_MAX);
    memset(v.moniker, 0, sizeof v.moniker);
    if (ml) memcpy(v.moniker, m->moniker, ml);
  }
  if (m->set_commission) {
    /* announced now, in force after block h + N (docs/staking.md §2
     * "Commission"): delegators see it coming and may leave first */
    uint32_t c = m->commission_bps, cur = v.commission_bps;
    uint64_t N = p->commission_change_blocks, at;
    if (v.commission_next_at)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: a commission change to %u bps is "
                     "pending until the end of block %llu; announce the next one after it",
                     v.commission_next_bps, (unsigned long long)v.commission_next_at);
    if (c > v.max_commission_bps)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: commission %u bps exceeds the "
                     "validator's max_commission_bps %u", c, v.max_commission_bps);
    if ((c > cur ? c - cur : cur - c) > v.max_change_bps)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: commission may move by at most "
                     "%u bps per change (max_change_bps), from %u to %u asked",
                     v.max_change_bps, cur, c);
    uint64_t next = v.commission_height + N;
    if (next < v.commission_height) next = UINT64_MAX;
    if (x->height < next)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: the commission changed at height "
                     "%llu; the next change is allowed from height %llu "
                     "(params.commission_change_blocks)",
                     (unsigned long long)v.commission_height, (unsigned long long)next);
    if (core_add_u64(&at, x->height, N)) return COHORT_ERR_CORRUPT; /* N <= 10^8 */
    v.commission_next_bps = c;
    v.commission_next_at = at;
    v.commission_height = x->height;
    uint8_t k[SK_COMM_KEY];
    comm_key(k, at, v.op);
    if ((rc = sx_put(x, k, sizeof k, NULL, 0))) return rc;
  }
  return sk_validator_save(x, &v);
}

/* ---- announced commissions coming into force (end of block, §6 b2) ---- */

typedef struct {
  uint8_t (*ops)[20];
  size_t n, cap;
  int rc;
} due_ops;

static int collect_comm(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  due_ops *l = ctx;
  if (kl != SK_COMM_KEY) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    void *p = realloc(l->ops, cap * 20);
    if (!p) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->ops = p;
    l->cap = cap;
  }
  memcpy(l->ops[l->n++], k + 11, 20);
  return 0;
}

int sk_end_commission(state_exec *x) {
  uint8_t pre[11];
  memcpy(pre, SK_COMM, 3);
  core_put_u64be(pre + 3, x->height);
  due_ops l = {NULL, 0, 0, COHORT_OK};
  int rc = sx_scan(x, pre, sizeof pre, collect_comm, &l); /* by operator bytewise */
  if (l.rc) rc = l.rc;
  for (size_t i = 0; rc >= 0 && i < l.n; i++) {
    sk_validator v;
    if ((rc = sk_validator_load(x, l.ops[i], &v))) {
      if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (v.commission_next_at != x->height) {
      rc = COHORT_ERR_CORRUPT; /* the key and the record disagree */
      break;
    }
    v.commission_bps = v.commission_next_bps;
    v.commission_next_bps = 0;
    v.commission_next_at = 0;
    uint8_t k[SK_COMM_KEY];
    comm_key(k, x->height, v.op);
    if (!(rc = sk_validator_save(x, &v))) rc = sx_del(x, k, sizeof k);
  }
  free(l.ops);
  return rc < 0 ? rc : COHORT_OK;
}

int sk_exec_unjail(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__Params *p = x->st->params;
  sk_validator v;
  int rc = sk_validator_load(x, tx->sender, &v);
  if (rc == COHORT_ERR_NOT_FOUND)
    return sk_fail(res, COHORT_ERR_NOT_FOUND, "unjail: the sender operates no validator");
  if (rc) return rc;
  if (v.tombstoned)
    return sk_fail(res, COHORT_ERR_INVALID, "unjail: the validator double-signed and is "
                   "tombstoned (jailed for ever)");
  if (v.jailed_until == 0)
    return sk_fail(res, COHORT_ERR_INVALID, "unjail: the validator is not jailed");
  if (x->height < v.jailed_until)
    return sk_fail(res, COHORT_ERR_INVALID, "unjail: the validator is jailed until height %llu "
                   "(now %llu)", (unsigned long long)v.jailed_until,
                   (unsigned long long)x->height);
  sk_delegation d;
  rc = sk_delegation_load(x, tx->sender, tx->sender, &d);
  if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
  uint64_t self = rc ? 0 : sk_shares_value(&v, d.shares);
  if (self < p->min_self_bond)
    return sk_fail(res, COHORT_ERR_FUNDS, "unjail: the self-delegation is worth %llu STK base "
                   "units, below params.min_self_bond %llu: delegate to yourself first",
                   (unsigned long long)self, (unsigned long long)p->min_self_bond);
  v.jailed_until = 0;
  return sk_validator_save(x, &v);
}
