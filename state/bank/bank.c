/* state/bank/bank.c — accounts, supply and escrow (see bank.h). */
#include "state/bank/bank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_int.h"

#define KEY_ESCROW "s/escrow"

int bank_get(state_exec *x, const uint8_t id[20], uint64_t *crd, uint64_t *stk, uint64_t *nonce) {
  uint8_t key[22];
  state_account_key(key, id);
  const uint8_t *v;
  size_t vl;
  if (ov_find(&x->ov, key, 22, &v, &vl)) {
    *crd = *stk = *nonce = 0;
    return v ? state_decode_account(v, vl, crd, stk, nonce) : COHORT_OK;
  }
  return state_get_account(x->st, id, crd, stk, nonce);
}

int bank_put(state_exec *x, const uint8_t id[20], uint64_t crd, uint64_t stk, uint64_t nonce) {
  uint8_t key[22], *v;
  size_t vl;
  state_account_key(key, id);
  int rc = state_encode_account(&v, &vl, crd, stk, nonce);
  if (rc) return rc;
  rc = ov_put(&x->ov, key, 22, v, vl);
  free(v);
  return rc;
}

int bank_credit(state_exec *x, const uint8_t id[20], int token, uint64_t amt) {
  uint64_t c, s, n;
  int rc = bank_get(x, id, &c, &s, &n);
  if (rc) return rc;
  uint64_t *b = token == BANK_STK ? &s : &c;
  if (core_add_u64(b, *b, amt)) return COHORT_ERR_OVERFLOW;
  return bank_put(x, id, c, s, n);
}

int bank_debit(state_exec *x, const uint8_t id[20], int token, uint64_t amt) {
  uint64_t c, s, n;
  int rc = bank_get(x, id, &c, &s, &n);
  if (rc) return rc;
  uint64_t *b = token == BANK_STK ? &s : &c;
  if (*b < amt) return COHORT_ERR_FUNDS;
  *b -= amt;
  return bank_put(x, id, c, s, n);
}

/* Add (sign > 0) or subtract amounts of a totals record; a total that would
 * wrap means the state is corrupt. */
static int totals(state_exec *x, const char *key, int sign, uint64_t crd, uint64_t stk) {
  int rc;
  Cohort__Account *a = (Cohort__Account *)sx_get_msg(x, (const uint8_t *)key, strlen(key),
                                                      &cohort__account__descriptor, &rc);
  if (rc) return rc;
  Cohort__Account t = COHORT__ACCOUNT__INIT;
  if (a) {
    t.crd = a->crd;
    t.stk = a->stk;
    cohort__account__free_unpacked(a, NULL);
  }
  if (sign > 0 ? core_add_u64(&t.crd, t.crd, crd) : core_sub_u64(&t.crd, t.crd, crd))
    return COHORT_ERR_CORRUPT;
  if (sign > 0 ? core_add_u64(&t.stk, t.stk, stk) : core_sub_u64(&t.stk, t.stk, stk))
    return COHORT_ERR_CORRUPT;
  return sx_put_msg(x, (const uint8_t *)key, strlen(key), &t.base);
}

int bank_burn(state_exec *x, uint64_t crd, uint64_t stk) {
  if (!crd && !stk) return COHORT_OK;
  return totals(x, KEY_SUPPLY, -1, crd, stk);
}

int bank_escrow_in(state_exec *x, const uint8_t from[20], uint64_t crd) {
  int rc = bank_debit(x, from, BANK_CRD, crd);
  if (rc) return rc;
  return totals(x, KEY_ESCROW, 1, crd, 0);
}

int bank_escrow_out(state_exec *x, const uint8_t to[20], uint64_t crd) {
  if (!crd) return COHORT_OK;
  int rc = totals(x, KEY_ESCROW, -1, crd, 0);
  if (!rc) rc = bank_credit(x, to, BANK_CRD, crd);
  return rc;
}

int bank_get_escrow(state_exec *x, uint64_t *crd) {
  int rc;
  Cohort__Account *a = (Cohort__Account *)sx_get_msg(x, (const uint8_t *)KEY_ESCROW,
                                                      strlen(KEY_ESCROW),
                                                      &cohort__account__descriptor, &rc);
  *crd = a ? a->crd : 0;
  if (a) cohort__account__free_unpacked(a, NULL);
  return rc;
}

int bank_pool_get(state_exec *x, const char *pool, uint64_t *crd, uint64_t *stk) {
  int rc;
  Cohort__Account *a = (Cohort__Account *)sx_get_msg(x, (const uint8_t *)pool, strlen(pool),
                                                      &cohort__account__descriptor, &rc);
  *crd = a ? a->crd : 0;
  *stk = a ? a->stk : 0;
  if (a) cohort__account__free_unpacked(a, NULL);
  return rc;
}

int bank_pool_credit(state_exec *x, const char *pool, int token, uint64_t amt) {
  if (!amt) return COHORT_OK;
  return totals(x, pool, 1, token == BANK_CRD ? amt : 0, token == BANK_STK ? amt : 0);
}

int bank_to_pool(state_exec *x, const uint8_t from[20], const char *pool, int token, uint64_t amt) {
  if (!amt) return COHORT_OK;
  int rc = bank_debit(x, from, token, amt);
  return rc ? rc : bank_pool_credit(x, pool, token, amt);
}

int bank_from_pool(state_exec *x, const char *pool, const uint8_t to[20], int token, uint64_t amt) {
  if (!amt) return COHORT_OK;
  int rc = totals(x, pool, -1, token == BANK_CRD ? amt : 0, token == BANK_STK ? amt : 0);
  return rc ? rc : bank_credit(x, to, token, amt);
}

int bank_pool_move(state_exec *x, const char *from, const char *to, int token, uint64_t amt) {
  if (!amt) return COHORT_OK;
  int rc = totals(x, from, -1, token == BANK_CRD ? amt : 0, token == BANK_STK ? amt : 0);
  return rc ? rc : bank_pool_credit(x, to, token, amt);
}

int bank_escrow_to_pool(state_exec *x, const char *pool, uint64_t crd) {
  if (!crd) return COHORT_OK;
  int rc = totals(x, KEY_ESCROW, -1, crd, 0);
  return rc ? rc : bank_pool_credit(x, pool, BANK_CRD, crd);
}

int bank_escrow_out_fee(state_exec *x, const uint8_t to[20], uint64_t pay, uint64_t fee) {
  if (fee > pay) return COHORT_ERR_CORRUPT;
  int rc = bank_escrow_out(x, to, pay - fee);
  if (!rc) rc = bank_escrow_to_pool(x, BANK_POOL_FEES, fee);
  return rc;
}

int bank_pool_burn(state_exec *x, const char *pool, int token, uint64_t amt) {
  if (!amt) return COHORT_OK;
  uint64_t c = token == BANK_CRD ? amt : 0, s = token == BANK_STK ? amt : 0;
  int rc = totals(x, pool, -1, c, s);
  return rc ? rc : bank_burn(x, c, s);
}

int bank_exec_transfer(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgTransfer *t = tx->body->transfer;
  int token = t->token == COHORT__TOKEN__STK ? BANK_STK : BANK_CRD;
  const char *name = token == BANK_STK ? "STK" : "CRD";
  uint64_t c, s, n;
  int rc = bank_get(x, tx->sender, &c, &s, &n);
  if (rc) return rc;
  uint64_t have = token == BANK_STK ? s : c;
  if (have < t->amount) {
    res->code = COHORT_ERR_FUNDS;
    snprintf(res->log, sizeof res->log, "insufficient %s: balance %llu, transfer %llu", name,
             (unsigned long long)have, (unsigned long long)t->amount);
    return COHORT_OK;
  }
  if (!memcmp(t->to.data, tx->sender, 20)) return COHORT_OK; /* self-transfer: no-op */
  uint64_t rc_c, rc_s, rc_n, sum;
  if ((rc = bank_get(x, t->to.data, &rc_c, &rc_s, &rc_n))) return rc;
  if (core_add_u64(&sum, token == BANK_STK ? rc_s : rc_c, t->amount)) {
    res->code = COHORT_ERR_OVERFLOW;
    snprintf(res->log, sizeof res->log, "recipient %s balance would overflow", name);
    return COHORT_OK;
  }
  if ((rc = bank_debit(x, tx->sender, token, t->amount))) return rc;
  return bank_credit(x, t->to.data, token, t->amount);
}
