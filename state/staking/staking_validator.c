/* state/staking/staking_validator.c — a validator's own messages
 * (docs/staking.md §2): CreateValidator, EditValidator, Unjail, and the
 * records genesis writes for its validators. */
#include <string.h>

#include "core/keys.h"
#include "core/parse.h"
#include "state/bank/bank.h"
#include "state/staking/staking.h"

int sk_genesis_validator(state_exec *x, const uint8_t pubkey[32], const uint8_t op[20],
                         uint64_t power, const char *moniker, const uint8_t *beacon_tip) {
  sk_validator v;
  memset(&v, 0, sizeof v);
  memcpy(v.op, op, 20);
  memcpy(v.pubkey, pubkey, 32);
  if (strlen(moniker) > SK_MONIKER_MAX) return COHORT_ERR_INVALID;
  strcpy(v.moniker, moniker);
  v.max_commission_bps = v.max_change_bps = 10000;
  v.tokens = v.shares = power;
  v.signing_since = 1;
  if (beacon_tip) {
    memcpy(v.beacon_tip, beacon_tip, 32);
    v.has_tip = 1;
  }
  uint8_t k[35] = SK_KEY;
  memcpy(k + 3, pubkey, 32);
  sk_delegation d = {power, 0, 0};
  int rc = sk_validator_save(x, &v);
  if (!rc) rc = sx_put(x, k, sizeof k, op, 20);
  if (!rc) rc = sk_delegation_save(x, op, op, &d);
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
    uint32_t c = m->commission_bps, cur = v.commission_bps;
    if (c > v.max_commission_bps)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: commission %u bps exceeds the "
                     "validator's max_commission_bps %u", c, v.max_commission_bps);
    if ((c > cur ? c - cur : cur - c) > v.max_change_bps)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: commission may move by at most "
                     "%u bps per change (max_change_bps), from %u to %u asked",
                     v.max_change_bps, cur, c);
    uint64_t next = v.commission_height + p->commission_change_blocks;
    if (next < v.commission_height) next = UINT64_MAX;
    if (x->height < next)
      return sk_fail(res, COHORT_ERR_INVALID, "edit_validator: the commission changed at height "
                     "%llu; the next change is allowed from height %llu "
                     "(params.commission_change_blocks)",
                     (unsigned long long)v.commission_height, (unsigned long long)next);
    v.commission_bps = c;
    v.commission_height = x->height;
  }
  return sk_validator_save(x, &v);
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
