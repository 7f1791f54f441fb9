/* state/state_exec.c — executing a block's transactions over an overlay,
 * and committing the result in one synced batch.
 *
 * Order: state_exec_begin -> state_exec_reveal (if the header has one) ->
 * state_exec_evidence for each evidence item (state/staking/) -> begin-of-block work (draws; run lazily before the first tx or at finish)
 * -> state_exec_tx for each tx -> state_exec_finish (end-of-block work:
 * the market's, then docs/staking.md §6: downtime, distribution,
 * delegation unbondings, governance deadlines, the validator sets,
 * parameter changes due; app_hash) -> state_commit.
 * state_exec_last_commit (the signers of the parent) may come anywhere
 * before state_exec_finish.
 *
 * Inclusion rules (a tx that breaks one makes the block invalid):
 *   size <= params.max_tx_bytes, valid signature for this chain,
 *   nonce == account nonce, fee >= the fee due for its base gas
 *   (proto/market.h, docs/protocol.md "Cost model"), fee <= CRD balance,
 *   and the block's gas, tasks and VM KiB stay within their caps.
 * Then the fee moves to the fee pool "s/fees" (distributed at the end of
 * the block, state/distr/) and the nonce advances, whatever the message
 * does. A message that fails (e.g. transfer of more
 * than the balance, or a fee short of its full gas) is recorded with its
 * error code and changes nothing else. An error of this node (fatal band:
 * no memory, storage) is returned as is and must abort the block here; it
 * never becomes a result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "proto/market.h"
#include "state/bank/bank.h"
#include "state/distr/distr.h"
#include "state/staking/staking.h"
#include "state/gov/gov.h"
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
  memcpy(x->proposer, proposer, 32);
  *out = x;
  return COHORT_OK;
}

int state_exec_last_commit(state_exec *x, const Cohort__Commit *c, core_errbuf *eb) {
  if (x->lc_known || x->finished)
    return core_errf(eb, COHORT_ERR_INVALID, "the last commit is given once, before the end");
  if (!c) {
    if (x->height == 1) return COHORT_OK;
    return core_errf(eb, COHORT_ERR_INVALID, "block %llu needs its parent's commit",
                     (unsigned long long)x->height);
  }
  if (x->height < 2 || c->height + 1 != x->height)
    return core_errf(eb, COHORT_ERR_INVALID, "a commit for height %llu is not the last commit "
                     "of block %llu", (unsigned long long)c->height,
                     (unsigned long long)x->height);
  const Cohort__ValidatorSet *vs = state_last_validators(x->st);
  uint8_t *f = calloc(vs->n_validators ? vs->n_validators : 1, 1);
  if (!f) return COHORT_ERR_NOMEM;
  for (size_t i = 0; i < c->n_sigs; i++) {
    const Cohort__CommitSig *g = c->sigs[i];
    size_t j = 0;
    while (j < vs->n_validators &&
           (g->validator.len != 32 || vs->validators[j]->pubkey.len != 32 ||
            memcmp(vs->validators[j]->pubkey.data, g->validator.data, 32)))
      j++;
    if (j == vs->n_validators) {
      free(f);
      return core_errf(eb, COHORT_ERR_INVALID, "the last commit has a signer outside the set "
                       "of height %llu", (unsigned long long)c->height);
    }
    f[j] = 1;
  }
  x->lc_signed = f;
  x->lc_n = vs->n_validators;
  x->lc_known = 1;
  return COHORT_OK;
}

/* Replace b with a malloc'd copy of 32 bytes (records are freed with
 * free_unpacked). */
static int set_bytes32(ProtobufCBinaryData *b, const uint8_t *d, size_t n) {
  uint8_t *p = malloc(n);
  if (!p) return COHORT_ERR_NOMEM;
  memcpy(p, d, n);
  free(b->data);
  b->data = p;
  b->len = n;
  return COHORT_OK;
}

/* The commitment a reveal at `height` must hash to: the announced next tip
 * once its delay has passed, else the current one. */
static const ProtobufCBinaryData *expected_tip(const Cohort__Validator *v, uint64_t height,
                                               int *switching) {
  *switching = v->beacon_next_tip.len == 32 && height >= v->beacon_next_at;
  return *switching ? &v->beacon_next_tip : &v->beacon_tip;
}

int state_beacon_expected(state *st, const uint8_t pubkey[32], uint8_t out[32], int *pending) {
  const Cohort__ValidatorSet *vs = st->vals;
  for (size_t i = 0; i < vs->n_validators; i++) {
    const Cohort__Validator *v = vs->validators[i];
    if (memcmp(v->pubkey.data, pubkey, 32)) continue;
    int sw;
    const ProtobufCBinaryData *t = expected_tip(v, st->meta->height + 1, &sw);
    if (t->len != 32) return COHORT_ERR_NOT_FOUND;
    memcpy(out, t->data, 32);
    *pending = v->beacon_next_tip.len == 32 && !sw;
    return COHORT_OK;
  }
  return COHORT_ERR_NOT_FOUND;
}

int state_exec_reveal(state_exec *x, const uint8_t reveal[32], const uint8_t *new_tip,
                      core_errbuf *eb) {
  int rc;
  if (x->begun || x->revealed)
    return core_errf(eb, COHORT_ERR_INVALID, "the beacon reveal must be applied once, first");
  Cohort__ValidatorSet *vs = (Cohort__ValidatorSet *)sx_get_msg(
      x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &cohort__validator_set__descriptor, &rc);
  if (!vs) return rc ? rc : COHORT_ERR_CORRUPT;
  Cohort__Validator *v = NULL;
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, x->proposer, 32)) v = vs->validators[i];
  uint8_t h[32];
  core_sha256(h, reveal, 32);
  int sw = 0;
  const ProtobufCBinaryData *want = v ? expected_tip(v, x->height, &sw) : NULL;
  if (!want || want->len != 32 || memcmp(h, want->data, 32)) {
    cohort__validator_set__free_unpacked(vs, NULL);
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "beacon_reveal is not the preimage of the "
                     "proposer's beacon commitment%s", sw ? " (its re-commitment is due)" : "");
  }
  /* The next reveal must hash to this one. A re-commitment (the tip of a new
   * chain) is announced now and takes effect beacon_recommit_delay blocks
   * later: a proposer cannot grind the new tip to steer a draw it knows. */
  if ((rc = set_bytes32(&v->beacon_tip, reveal, 32))) goto out;
  if (sw) {
    free(v->beacon_next_tip.data);
    v->beacon_next_tip = (ProtobufCBinaryData){0, NULL};
    v->beacon_next_at = 0;
  }
  if (new_tip) {
    if (v->beacon_next_tip.len == 32) {
      rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "beacon_new_tip while a re-commitment is pending "
                     "(due at height %llu)", (unsigned long long)v->beacon_next_at);
      goto out;
    }
    if ((rc = set_bytes32(&v->beacon_next_tip, new_tip, 32))) goto out;
    v->beacon_next_at = x->height + x->st->params->beacon_recommit_delay;
  }
  rc = sx_put_msg(x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &vs->base);
out:
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
  rc = sx_put(x, (const uint8_t *)"r/beacon", 8, h, 32);
  if (!rc) x->revealed = 1;
  return rc;
}

void state_exec_free(state_exec *x) {
  if (!x) return;
  ov_free(&x->ov);
  free(x->lc_signed);
  free(x);
}

size_t state_exec_count(const state_exec *x) { return x->n_txs; }

int state_exec_get_account(state_exec *x, const uint8_t id[20], uint64_t *crd,
                           uint64_t *stk, uint64_t *nonce) {
  return bank_get(x, id, crd, stk, nonce);
}

/* Begin-of-block work, once, after the reveal and before anything else. */
static int ensure_begun(state_exec *x) {
  if (x->begun) return COHORT_OK;
  x->begun = 1;
  return sx_begin_block(x);
}

/* Would this tx's cost fit the block's caps? */
static const char *over_cap(const state_exec *x, const Cohort__Params *p, uint64_t gas,
                            uint64_t tasks, uint64_t kib) {
  if (gas > p->max_block_gas - (x->blk_gas < p->max_block_gas ? x->blk_gas : p->max_block_gas))
    return "gas (params.max_block_gas)";
  if (tasks > p->max_block_tasks - (x->blk_tasks < p->max_block_tasks ? x->blk_tasks : p->max_block_tasks))
    return "tasks and chunks (params.max_block_tasks)";
  if (kib > p->max_block_vm_kib - (x->blk_vm_kib < p->max_block_vm_kib ? x->blk_vm_kib : p->max_block_vm_kib))
    return "VM memory loaded (params.max_block_vm_kib)";
  return NULL;
}

/* The message of a tx, by module. */
static int dispatch(state_exec *x, const tx_t *tx, state_tx_result *res) {
  switch (tx->body->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER:
      return bank_exec_transfer(x, tx, res);
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR:
    case COHORT__TX_BODY__MSG_UNBOND:
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB:
    case COHORT__TX_BODY__MSG_SUBMIT_TASK:
    case COHORT__TX_BODY__MSG_SUBMIT_JOB:
    case COHORT__TX_BODY__MSG_COMMIT_RESULT:
    case COHORT__TX_BODY__MSG_REVEAL_RESULT:
    case COHORT__TX_BODY__MSG_CHALLENGE:
    case COHORT__TX_BODY__MSG_DISPUTE_BISECT:
    case COHORT__TX_BODY__MSG_DISPUTE_SELECT:
    case COHORT__TX_BODY__MSG_DISPUTE_PROVE:
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR:
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR:
      return sx_exec_market(x, tx, res);
    /* staking and distribution (docs/staking.md §2, §4) */
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR:
    case COHORT__TX_BODY__MSG_EDIT_VALIDATOR:
    case COHORT__TX_BODY__MSG_DELEGATE:
    case COHORT__TX_BODY__MSG_UNDELEGATE:
    case COHORT__TX_BODY__MSG_REDELEGATE:
    case COHORT__TX_BODY__MSG_WITHDRAW_REWARDS:
    case COHORT__TX_BODY__MSG_UNJAIL:
      return sk_exec(x, tx, res);
    /* governance (state/gov/) */
    case COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL:
      return gov_exec_submit(x, tx, res);
    case COHORT__TX_BODY__MSG_DEPOSIT:
      return gov_exec_deposit(x, tx, res);
    case COHORT__TX_BODY__MSG_VOTE:
      return gov_exec_vote(x, tx, res);
    default:
      res->code = COHORT_ERR_NO_MSG;
      snprintf(res->log, sizeof res->log, "unknown message");
      return COHORT_OK;
  }
}

int state_exec_tx(state_exec *x, const tx_t *tx, int sig_checked,
                  state_tx_result *res, core_errbuf *eb) {
  const Cohort__Params *p = x->st->params;
  memset(res, 0, sizeof *res);
  if (x->finished) return core_errf(eb, COHORT_ERR_INVALID, "block already finished");
  int rc = ensure_begun(x);
  if (rc) return core_errf(eb, rc, "begin-of-block work failed: %s", core_err_str(rc));
  if (tx->raw_len > p->max_tx_bytes)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "tx is %zu bytes, limit %u",
                     tx->raw_len, p->max_tx_bytes);
  if (!sig_checked && tx_verify(tx, x->st->meta->chain_id))
    return core_errf(eb, COHORT_ERR_SIGNATURE,
                     "signature does not verify for chain \"%s\" (wrong key, "
                     "tampered body, or signed for another chain)", x->st->meta->chain_id);
  uint64_t c, s, n;
  if ((rc = bank_get(x, tx->sender, &c, &s, &n)))
    return core_errf(eb, rc, "cannot read sender account: %s", core_err_str(rc));
  const Cohort__TxBody *b = tx->body;
  if (b->nonce < n)
    return core_errf(eb, COHORT_ERR_NONCE_OLD, "nonce %llu already used; account nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)n);
  if (b->nonce > n)
    return core_errf(eb, COHORT_ERR_NONCE_FUTURE, "nonce %llu is ahead; account nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)n);
  uint64_t base = market_gas_base(b, tx->raw_len, p), due = market_fee_due(base, p);
  if (b->fee < due)
    return core_errf(eb, COHORT_ERR_FEE, "fee %llu is below the %llu CRD base units due for this "
                     "tx's %llu gas (docs/protocol.md \"Cost model\")",
                     (unsigned long long)b->fee, (unsigned long long)due, (unsigned long long)base);
  if (b->fee > c)
    return core_errf(eb, COHORT_ERR_FUNDS, "fee %llu exceeds the CRD balance %llu",
                     (unsigned long long)b->fee, (unsigned long long)c);
  const char *full = over_cap(x, p, base, 0, 0);
  if (full) return core_errf(eb, COHORT_ERR_TOO_LARGE, "block is full: %s", full);
  /* Journal everything this tx writes: an internal error undoes it all (the
   * proposer skips the tx, so no write of it may stay); a failed message
   * undoes only the message, while fee and nonce stick. */
  ov_journal_begin(&x->ov);
  if ((rc = bank_put(x, tx->sender, c - b->fee, s, n + 1)) ||
      (rc = bank_pool_credit(x, BANK_POOL_FEES, BANK_CRD, b->fee))) {
    ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return core_errf(eb, rc, "cannot charge the fee: %s", core_err_str(rc));
  }
  size_t after_fee = x->ov.jn;
  res->fee = b->fee;
  x->tx_tasks = x->tx_vm_kib = 0;
  rc = dispatch(x, tx, res);
  if (rc) {
    int rb = ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return core_errf(eb, rc, "execution failed: %s%s", core_err_str(rc),
                     rb ? " (and the rollback failed: discard this block)" : "");
  }
  /* The work done loading VMs is paid whether or not the message then
   * failed; what it created counts against the caps only if it stays. */
  uint64_t gas = base + market_gas_vm(x->tx_vm_kib, p);
  if (gas < base) gas = UINT64_MAX;
  uint64_t due_all = market_fee_due(gas, p);
  if (!res->code && b->fee < due_all) {
    res->code = COHORT_ERR_FEE;
    snprintf(res->log, sizeof res->log, "fee %llu is below the %llu due for %llu gas: the "
             "program and input loaded into VMs add %llu KiB (params.gas_vm_kib each)",
             (unsigned long long)b->fee, (unsigned long long)due_all, (unsigned long long)gas,
             (unsigned long long)x->tx_vm_kib);
  }
  uint64_t tasks = res->code ? 0 : x->tx_tasks, kib = x->tx_vm_kib;
  if ((full = over_cap(x, p, gas, tasks, kib))) {
    int rb = ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return core_errf(eb, rb ? rb : COHORT_ERR_TOO_LARGE, "block is full: %s", full);
  }
  if (res->code) rc = ov_journal_rollback_to(&x->ov, after_fee);
  ov_journal_end(&x->ov);
  if (rc) return core_errf(eb, rc, "rollback failed: %s", core_err_str(rc));
  x->blk_gas += gas;
  x->blk_tasks += tasks;
  x->blk_vm_kib += kib;
  res->gas = gas;
  x->n_txs++;
  return COHORT_OK;
}

int state_exec_finish(state_exec *x, uint8_t app_hash[32]) {
  if (x->finished) return COHORT_ERR_INVALID;
  /* docs/staking.md §6: after the market's end of block, (a) downtime,
   * (b) distribution, (b2) announced commissions due, (c) delegation
   * unbondings, (d) governance deadlines; then the sets; last (e)
   * parameter changes, so nothing in this block reads them. */
  int rc = ensure_begun(x);
  if (!rc) rc = sx_end_block(x);
  if (!rc) rc = sk_end_downtime(x);
  if (!rc) rc = distr_end_block(x);
  if (!rc) rc = sk_end_commission(x);
  if (!rc) rc = sk_end_unbonding(x);
  if (!rc) rc = gov_end_block(x);
  if (!rc) rc = sk_end_block(x);
  if (!rc) rc = gov_apply_due(x);
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
  for (const ov_node *e = ov_first(&x->ov); !rc && e; e = ov_next(e)) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    rc = v ? kv_batch_put(b, k, kl, v, vl) : kv_batch_delete(b, k, kl);
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
    r.gas_used = results[i].gas;
    uint8_t rb[512], tk[34] = {'T', '/'}; /* log <= 255 bytes + six numbers */
    _Static_assert(sizeof rb > sizeof results[0].log + 6 * 11 + 16, "TxResult buffer");
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
  state_cache cache;
  if (!rc) rc = state_cache_prepare(st, &x->ov, mb, ml, &cache, eb);
  if (!rc) {
    rc = kv_write(st->kv, b, 1, eb);
    if (rc) state_cache_free(&cache);
    else state_cache_swap(st, &cache); /* cannot fail: the commit is what it reports */
  }
  kv_batch_del(b);
  return rc;
}

static uint64_t blob_size(state *st, const ProtobufCBinaryData *h, int *rc) {
  Cohort__Blob *b;
  if (h->len != 32) return 0;
  int r = state_get_blob(st, h->data, &b);
  if (r == COHORT_ERR_NOT_FOUND) return 0;
  if (r) {
    *rc = r;
    return 0;
  }
  uint64_t n = b->data.len;
  cohort__blob__free_unpacked(b, NULL);
  return n;
}

int state_tx_gas(state *st, const tx_t *tx, uint64_t *gas) {
  const Cohort__Params *p = st->params;
  const Cohort__TxBody *b = tx->body;
  uint64_t kib = 0;
  int rc = COHORT_OK;
  if (b->msg_case == COHORT__TX_BODY__MSG_SUBMIT_TASK) {
    const Cohort__MsgSubmitTask *m = b->submit_task;
    uint64_t prog = blob_size(st, &m->program, &rc);
    uint64_t in = m->input_blob.len ? blob_size(st, &m->input_blob, &rc) : m->input.len;
    kib = market_kib(prog + in);
  } else if (b->msg_case == COHORT__TX_BODY__MSG_SUBMIT_JOB) {
    const Cohort__MsgSubmitJob *j = b->submit_job;
    uint64_t prog = blob_size(st, &j->program, &rc);
    for (size_t i = 0; i < j->n_inputs; i++) kib += market_kib(prog + j->inputs[i].len);
  } else if (b->msg_case == COHORT__TX_BODY__MSG_UPLOAD_BLOB && b->upload_blob->is_program) {
    kib = market_kib(b->upload_blob->data.len);
  }
  uint64_t base = market_gas_base(b, tx->raw_len, p);
  *gas = base + market_gas_vm(kib, p);
  if (*gas < base) *gas = UINT64_MAX;
  return rc;
}

int state_check_msg(state *st, const tx_t *tx, state_tx_result *res) {
  memset(res, 0, sizeof *res);
  const Cohort__Params *p = st->params;
  uint64_t base = market_gas_base(tx->body, tx->raw_len, p);
  res->gas = base;
  if (tx->body->msg_case == COHORT__TX_BODY__MSG_TRANSFER) return COHORT_OK; /* mempool checks */
  state_exec *x = calloc(1, sizeof *x);
  if (!x) return COHORT_ERR_NOMEM;
  x->st = st;
  x->height = st->meta->height + 1;
  x->time_ms = st->meta->last_time_ms + 1;
  x->begun = 1; /* a dry run of the message alone, without the block's draws */
  int rc = dispatch(x, tx, res);
  uint64_t gas = base + market_gas_vm(x->tx_vm_kib, p);
  if (gas < base) gas = UINT64_MAX;
  res->gas = gas;
  uint64_t due = market_fee_due(gas, p);
  if (!rc && !res->code && tx->body->fee < due) {
    res->code = COHORT_ERR_FEE;
    snprintf(res->log, sizeof res->log, "fee %llu is below the %llu CRD base units due for this "
             "tx's %llu gas (including %llu KiB loaded into VMs)",
             (unsigned long long)tx->body->fee, (unsigned long long)due, (unsigned long long)gas,
             (unsigned long long)x->tx_vm_kib);
  }
  state_exec_free(x);
  return rc;
}

int state_exec_changed_validators(const state_exec *x) {
  const uint8_t *v;
  size_t vl;
  return ov_find(&x->ov, (const uint8_t *)KEY_NEXTSET, strlen(KEY_NEXTSET), &v, &vl) && v;
}

void state_exec_changed_tasks(const state_exec *x, void (*cb)(void *ctx, const uint8_t id[32]),
                              void *ctx) {
  for (const ov_node *e = ov_seek(&x->ov, (const uint8_t *)"t/", 2); e; e = ov_next(e)) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    if (kl < 2 || k[0] != 't' || k[1] != '/') break;
    if (kl == 34 && v) cb(ctx, k + 2);
  }
}
