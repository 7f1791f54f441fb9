/* state/state_exec.c — executing a block's transactions over an overlay,
 * and committing the result in one synced batch.
 *
 * Inclusion rules (a tx that breaks one makes the block invalid):
 *   size <= params.max_tx_bytes, valid signature for this chain,
 *   nonce == account nonce, fee >= params.min_fee, fee <= CRD balance.
 * Then the fee moves to the proposer's operator and the nonce advances,
 * whatever the message does. A message that fails (e.g. transfer of more
 * than the balance) is recorded with its error code and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "state/state_int.h"

int state_exec_begin(state *st, uint64_t height, uint64_t time_ms,
                     const uint8_t proposer[32], state_exec **out,
                     core_errbuf *eb) {
  if (!st->meta) return core_errf(eb, COHORT_ERR_BAD_BLOCK, "state has no genesis");
  if (height != st->meta->height + 1)
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "block height %llu, expected %llu",
                     (unsigned long long)height,
                     (unsigned long long)st->meta->height + 1);
  if (time_ms <= st->meta->last_time_ms)
    return core_errf(eb, COHORT_ERR_BAD_BLOCK,
                     "block time %llu ms is not after the parent's %llu ms",
                     (unsigned long long)time_ms,
                     (unsigned long long)st->meta->last_time_ms);
  const Cohort__Validator *pv = NULL;
  for (size_t i = 0; i < st->vals->n_validators; i++)
    if (!memcmp(st->vals->validators[i]->pubkey.data, proposer, 32))
      pv = st->vals->validators[i];
  if (!pv || pv->operator_.len != 20)
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "proposer is not in the validator set");
  state_exec *x = calloc(1, sizeof *x);
  if (!x) return COHORT_ERR_NOMEM;
  x->st = st;
  x->height = height;
  x->time_ms = time_ms;
  memcpy(x->fee_sink, pv->operator_.data, 20);
  memcpy(x->proposer, proposer, 32);
  *out = x;
  return COHORT_OK;
}

int state_exec_reveal(state_exec *x, const uint8_t reveal[32], core_errbuf *eb) {
  int rc;
  Cohort__ValidatorSet *vs = (Cohort__ValidatorSet *)sx_get_msg(
      x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &cohort__validator_set__descriptor, &rc);
  if (!vs) return rc ? rc : COHORT_ERR_CORRUPT;
  Cohort__Validator *v = NULL;
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, x->proposer, 32)) v = vs->validators[i];
  uint8_t h[32];
  core_sha256(h, reveal, 32);
  if (!v || v->beacon_tip.len != 32 || memcmp(h, v->beacon_tip.data, 32)) {
    cohort__validator_set__free_unpacked(vs, NULL);
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "beacon_reveal is not the preimage of the "
                     "proposer's beacon commitment");
  }
  memcpy(v->beacon_tip.data, reveal, 32); /* the next reveal must hash to this one */
  rc = sx_put_msg(x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &vs->base);
  cohort__validator_set__free_unpacked(vs, NULL);
  if (rc) return rc;
  /* beacon = sha256("cohort/beacon/v2" || beacon || reveal) */
  uint8_t in[16 + 32 + 32] = "cohort/beacon/v2", *old;
  size_t ol;
  rc = sx_get(x, (const uint8_t *)"r/beacon", 8, &old, &ol);
  if (rc == COHORT_OK) {
    if (ol == 32) memcpy(in + 16, old, 32);
    free(old);
  } else if (rc != COHORT_ERR_NOT_FOUND) {
    return rc;
  }
  memcpy(in + 48, reveal, 32);
  core_sha256(h, in, sizeof in);
  return sx_put(x, (const uint8_t *)"r/beacon", 8, h, 32);
}

void state_exec_free(state_exec *x) {
  if (!x) return;
  ov_free(&x->ov);
  free(x);
}

size_t state_exec_count(const state_exec *x) { return x->n_txs; }

int state_exec_get_account(state_exec *x, const uint8_t id[20], uint64_t *crd,
                           uint64_t *stk, uint64_t *nonce) {
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

int sx_put_account(state_exec *x, const uint8_t id[20], uint64_t crd,
                       uint64_t stk, uint64_t nonce) {
  uint8_t key[22], *v;
  size_t vl;
  state_account_key(key, id);
  int rc = state_encode_account(&v, &vl, crd, stk, nonce);
  if (rc) return rc;
  rc = ov_put(&x->ov, key, 22, v, vl);
  free(v);
  return rc;
}

/* Credit amount of a token to id, checked. */
int sx_credit(state_exec *x, const uint8_t id[20], int is_stk, uint64_t amt) {
  uint64_t c, s, n;
  int rc = state_exec_get_account(x, id, &c, &s, &n);
  if (rc) return rc;
  if ((rc = core_add_u64(is_stk ? &s : &c, is_stk ? s : c, amt))) return rc;
  return sx_put_account(x, id, c, s, n);
}

static int exec_transfer(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgTransfer *t = tx->body->transfer;
  int is_stk = t->token == COHORT__TOKEN__STK;
  uint64_t c, s, n, rc_c, rc_s, rc_n;
  int rc = state_exec_get_account(x, tx->sender, &c, &s, &n);
  if (rc) return rc;
  uint64_t have = is_stk ? s : c;
  if (have < t->amount) {
    res->code = COHORT_ERR_FUNDS;
    snprintf(res->log, sizeof res->log, "insufficient %s: balance %llu, transfer %llu",
             is_stk ? "STK" : "CRD", (unsigned long long)have,
             (unsigned long long)t->amount);
    return COHORT_OK;
  }
  if (!memcmp(t->to.data, tx->sender, 20)) return COHORT_OK; /* self-transfer: no-op */
  rc = state_exec_get_account(x, t->to.data, &rc_c, &rc_s, &rc_n);
  if (rc) return rc;
  uint64_t dest = is_stk ? rc_s : rc_c, sum;
  if (core_add_u64(&sum, dest, t->amount)) {
    res->code = COHORT_ERR_OVERFLOW;
    snprintf(res->log, sizeof res->log, "recipient %s balance would overflow",
             is_stk ? "STK" : "CRD");
    return COHORT_OK;
  }
  if (is_stk) s -= t->amount; else c -= t->amount;
  if ((rc = sx_put_account(x, tx->sender, c, s, n))) return rc;
  return sx_credit(x, t->to.data, is_stk, t->amount);
}

int state_exec_tx(state_exec *x, const tx_t *tx, int sig_checked,
                  state_tx_result *res, core_errbuf *eb) {
  const Cohort__Params *p = x->st->params;
  memset(res, 0, sizeof *res);
  if (x->finished) return core_errf(eb, COHORT_ERR_INVALID, "block already finished");
  if (tx->raw_len > p->max_tx_bytes)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "tx is %zu bytes, limit %u",
                     tx->raw_len, p->max_tx_bytes);
  if (!sig_checked && tx_verify(tx, x->st->meta->chain_id))
    return core_errf(eb, COHORT_ERR_SIGNATURE,
                     "signature does not verify for chain \"%s\" (wrong key, "
                     "tampered body, or signed for another chain)", x->st->meta->chain_id);
  uint64_t c, s, n;
  int rc = state_exec_get_account(x, tx->sender, &c, &s, &n);
  if (rc) return core_errf(eb, rc, "cannot read sender account: %s", core_err_str(rc));
  const Cohort__TxBody *b = tx->body;
  if (b->nonce < n)
    return core_errf(eb, COHORT_ERR_NONCE_OLD, "nonce %llu already used; account nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)n);
  if (b->nonce > n)
    return core_errf(eb, COHORT_ERR_NONCE_FUTURE, "nonce %llu is ahead; account nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)n);
  if (b->fee < p->min_fee)
    return core_errf(eb, COHORT_ERR_FEE, "fee %llu is below the minimum %llu",
                     (unsigned long long)b->fee, (unsigned long long)p->min_fee);
  if (b->fee > c)
    return core_errf(eb, COHORT_ERR_FUNDS, "fee %llu exceeds the CRD balance %llu",
                     (unsigned long long)b->fee, (unsigned long long)c);
  /* Journal everything this tx writes: an internal error undoes it all (the
   * proposer skips the tx, so no write of it may stay); a failed message
   * undoes only the message, while fee and nonce stick. */
  ov_journal_begin(&x->ov);
  if ((rc = sx_put_account(x, tx->sender, c - b->fee, s, n + 1)) ||
      (rc = sx_credit(x, x->fee_sink, 0, b->fee))) {
    ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return core_errf(eb, rc, "cannot charge the fee: %s", core_err_str(rc));
  }
  size_t after_fee = x->ov.jn;
  res->fee = b->fee;
  switch (b->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER:
      rc = exec_transfer(x, tx, res);
      break;
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR:
    case COHORT__TX_BODY__MSG_UNBOND:
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB:
    case COHORT__TX_BODY__MSG_SUBMIT_TASK:
    case COHORT__TX_BODY__MSG_SUBMIT_JOB:
    case COHORT__TX_BODY__MSG_COMMIT_RESULT:
    case COHORT__TX_BODY__MSG_REVEAL_RESULT:
      rc = sx_exec_market(x, tx, res);
      break;
    default:
      res->code = COHORT_ERR_NO_MSG;
      snprintf(res->log, sizeof res->log, "unknown message");
      rc = COHORT_OK;
  }
  if (rc) {
    int rb = ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return core_errf(eb, rc, "execution failed: %s%s", core_err_str(rc),
                     rb ? " (and the rollback failed: discard this block)" : "");
  }
  if (res->code) rc = ov_journal_rollback_to(&x->ov, after_fee);
  ov_journal_end(&x->ov);
  if (rc) return core_errf(eb, rc, "rollback failed: %s", core_err_str(rc));
  x->n_txs++;
  return COHORT_OK;
}

int state_exec_finish(state_exec *x, uint8_t app_hash[32]) {
  if (x->finished) return COHORT_ERR_INVALID;
  int rc = sx_end_block(x);
  if (rc) return rc;
  ov_hash(&x->ov, x->st->meta->app_hash.data, x->height, app_hash);
  x->finished = 1;
  return COHORT_OK;
}

static int put_h(kv_batch *b, char prefix, uint64_t h, const uint8_t *v, size_t vl) {
  uint8_t key[10] = {(uint8_t)prefix, '/'};
  core_put_u64be(key + 2, h);
  return kv_batch_put(b, key, sizeof key, v, vl);
}

int state_commit(state *st, state_exec *x, const uint8_t *block, size_t blen,
                 const uint8_t block_hash[32], const uint8_t *commit,
                 size_t clen, const uint8_t (*tx_hashes)[32],
                 const state_tx_result *results, core_errbuf *eb) {
  uint8_t app[32];
  int rc0 = x->finished ? COHORT_OK : state_exec_finish(x, app);
  if (rc0) return core_errf(eb, rc0, "end-of-block processing failed: %s", core_err_str(rc0));
  ov_hash(&x->ov, st->meta->app_hash.data, x->height, app);
  kv_batch *b = kv_batch_new();
  if (!b) return COHORT_ERR_NOMEM;
  int rc = COHORT_OK;
  for (size_t i = 0; !rc && i < x->ov.n; i++) {
    ov_ent *e = &x->ov.e[i];
    rc = e->v ? kv_batch_put(b, e->k, e->kl, e->v, e->vl) : kv_batch_delete(b, e->k, e->kl);
  }
  if (!rc) rc = put_h(b, 'B', x->height, block, blen);
  if (!rc) rc = put_h(b, 'C', x->height, commit, clen);
  uint8_t hk[34] = {'H', '/'}, hv[8];
  memcpy(hk + 2, block_hash, 32);
  core_put_u64be(hv, x->height);
  if (!rc) rc = kv_batch_put(b, hk, sizeof hk, hv, 8);
  for (size_t i = 0; !rc && i < x->n_txs; i++) {
    Cohort__TxResult r = COHORT__TX_RESULT__INIT;
    r.height = x->height;
    r.index = (uint32_t)i;
    r.code = results[i].code;
    r.log = (char *)results[i].log;
    r.fee_paid = results[i].fee;
    uint8_t rb[256], tk[34] = {'T', '/'};
    size_t rl = cohort__tx_result__pack(&r, rb);
    memcpy(tk + 2, tx_hashes[i], 32);
    rc = kv_batch_put(b, tk, sizeof tk, rb, rl);
  }
  Cohort__ChainMeta m = *st->meta;
  m.height = x->height;
  m.app_hash.data = app;
  m.last_block_hash.data = (uint8_t *)block_hash;
  m.last_block_hash.len = 32;
  m.last_time_ms = x->time_ms;
  uint8_t mb[4096];
  size_t ml = cohort__chain_meta__pack(&m, mb);
  if (!rc) rc = kv_batch_put(b, (const uint8_t *)KEY_META, strlen(KEY_META), mb, ml);
  if (!rc) rc = kv_write(st->kv, b, 1, eb);
  kv_batch_del(b);
  if (rc) return rc;
  return state_reload(st, eb);
}

int state_check_msg(state *st, const tx_t *tx, state_tx_result *res) {
  memset(res, 0, sizeof *res);
  if (tx->body->msg_case == COHORT__TX_BODY__MSG_TRANSFER) return COHORT_OK; /* mempool checks */
  state_exec *x = calloc(1, sizeof *x);
  if (!x) return COHORT_ERR_NOMEM;
  x->st = st;
  x->height = st->meta->height + 1;
  x->time_ms = st->meta->last_time_ms + 1;
  int rc = sx_exec_market(x, tx, res);
  state_exec_free(x);
  return rc;
}

void state_exec_changed_tasks(const state_exec *x, void (*cb)(void *ctx, const uint8_t id[32]),
                              void *ctx) {
  for (size_t i = 0; i < x->ov.n; i++) {
    const ov_ent *e = &x->ov.e[i];
    if (e->kl == 34 && e->k[0] == 't' && e->k[1] == '/' && e->v) cb(ctx, e->k + 2);
  }
}
