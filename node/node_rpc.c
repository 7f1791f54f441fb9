/* node/node_rpc.c — the JSON-RPC methods of cohortd (docs/rpc.md).
 *
 * Params may be given by name (object) or by position (array, in the order
 * listed in docs/rpc.md). Amounts are decimal strings (u64 exceeds JSON's
 * safe integers); hashes and keys are lowercase hex.
 *
 * Every handler runs on the RPC thread, not the node's (node_int.h): the
 * tip comes from nr_height/nr_params (the view published at the last
 * commit), the mempool through nr_mempool_*, and broadcast_tx decodes here
 * then hops to the node thread for the mempool. The state's cached tip
 * (state_height(), state_params()...) is poisoned below: the node thread
 * frees it at every commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/parse.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis/genesis.h"
#include "node/node_int.h"
#include "proto/block.h"
#include "proto/gov.h"

#define VERSION "0.1.0"

/* Not on the RPC thread (see the top of this file). */
#define state_height(st) use_nr_height_on_the_rpc_thread
#define state_params(st) use_nr_params_on_the_rpc_thread
#define state_validators(st) use_nr_view_on_the_rpc_thread
#define state_chain_id(st) use_nr_view_on_the_rpc_thread
#define state_app_hash(st) use_nr_view_on_the_rpc_thread
#define state_last_block_hash(st) use_nr_view_on_the_rpc_thread
#define state_last_time_ms(st) use_nr_view_on_the_rpc_thread
#define state_genesis_hash(st) use_nr_view_on_the_rpc_thread
#define mempool_has(mp, h) use_nr_mempool_has_on_the_rpc_thread
#define mempool_sender_pending(mp, id) use_nr_account_next_nonce_on_the_rpc_thread
#define mempool_sender_next_nonce(mp, id, n) use_nr_account_next_nonce_on_the_rpc_thread
#define mempool_size(mp) use_nr_mempool_stats_on_the_rpc_thread
#define mempool_bytes(mp) use_nr_mempool_stats_on_the_rpc_thread

json_t *nr_param(json_t *params, const char *name, size_t pos) {
  if (json_is_object(params)) return json_object_get(params, name);
  if (json_is_array(params)) return json_array_get(params, pos);
  return NULL;
}

int nr_get_addr(rpc_call *c, json_t *v, const char *name, uint8_t id[20]) {
  const char *a = json_string_value(v);
  if (!a || core_addr_decode(id, a)) {
    char msg[120];
    snprintf(msg, sizeof msg, "params.%s must be a coh1... address", name);
    rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
    return -1;
  }
  return 0;
}

/* Reject names we do not know, so a typo is an error, not a default. */
int nr_check_names(rpc_call *c, json_t *params, const char *const *names) {
  if (!params || json_is_array(params)) return 0;
  const char *k;
  json_t *v;
  json_object_foreach(params, k, v) {
    int ok = 0;
    for (const char *const *n = names; *n; n++) ok |= !strcmp(*n, k);
    if (!ok) {
      char msg[160];
      snprintf(msg, sizeof msg, "unknown parameter \"%.64s\"", k);
      rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
      return -1;
    }
  }
  return 0;
}

json_t *nr_hexj(const uint8_t *b, size_t n) {
  char *s = malloc(2 * n + 1);
  if (!s) return NULL;
  core_hex_encode(s, b, n);
  json_t *j = json_string(s);
  free(s);
  return j;
}

json_t *nr_amount(uint64_t v) {
  char s[24];
  snprintf(s, sizeof s, "%llu", (unsigned long long)v);
  return json_string(s);
}

json_t *nr_addrj(const uint8_t id[20]) {
  char a[CORE_ADDR_STR_MAX];
  core_addr_encode(a, id);
  return json_string(a);
}

int nr_get_hash(rpc_call *c, json_t *v, const char *name, uint8_t out[32]) {
  const char *s = json_string_value(v);
  size_t n;
  if (!s || core_hex_decode(out, 32, &n, s, strlen(s)) || n != 32) {
    char msg[120];
    snprintf(msg, sizeof msg, "params.%s must be a 64-digit hex hash", name);
    rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
    return -1;
  }
  return 0;
}

static void m_health(void *ctx, rpc_call *c, json_t *params) {
  (void)ctx;
  (void)params;
  rpc_call_reply(c, json_object());
}

/* Every chain parameter (genesis/params.h), as genesis.json writes them. */
static json_t *params_json(const Cohort__Params *p) {
  genesis_params g;
  genesis_params_from_proto(&g, p);
  json_t *j = genesis_params_json(&g);
  return j ? j : json_object();
}

static void m_status(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  (void)params;
  const node_view *v = nr_view(n);
  uint64_t power = v->power;
  char t[32];
  genesis_time_format(t, v->last_time_ms);
  const Cohort__Params *p = nr_params(n);
  size_t mp_size, mp_bytes;
  nr_mempool_stats(n, &mp_size, &mp_bytes);
  json_t *r = json_pack(
      "{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:s, s:I, s:b, s:o, "
      "s:{s:o, s:o}, s:{s:I, s:i, s:s}, s:{s:I, s:I}, s:o}",
      "version", VERSION, "chain_id", v->chain_id, "moniker", n->cfg.moniker,
      "node_id", json_string(n->node_id), "latest_height", (json_int_t)v->height,
      "latest_block_hash", nr_hexj(v->last_block_hash, 32), "latest_app_hash",
      nr_hexj(v->app_hash, 32), "latest_block_time", t, "earliest_height",
      (json_int_t)(v->height ? 1 : 0), "catching_up", atomic_load(&n->catching_up) != 0, "genesis_hash",
      nr_hexj(v->genesis_hash, 32), "validator", "pubkey",
      nr_hexj(privval_pubkey(n->pv), 32), "power", nr_amount(power), "consensus", "height",
      (json_int_t)atomic_load(&n->a_cons_height), "round", (int)atomic_load(&n->a_cons_round),
      "step", cons_step_name((cons_step)atomic_load(&n->a_cons_step)), "mempool", "size",
      (json_int_t)mp_size, "bytes", (json_int_t)mp_bytes, "params", params_json(p));
  if (!r) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot build status", NULL);
    return;
  }
  uint8_t beacon[32];
  if (!state_get_beacon(n->st, beacon)) json_object_set_new(r, "beacon", nr_hexj(beacon, 32));
  rpc_call_reply(c, r);
}

static json_t *tx_json(const uint8_t *raw, size_t len, size_t max) {
  tx_t tx;
  core_errbuf eb;
  if (tx_decode(&tx, raw, len, max, &eb)) return json_pack("{s:s}", "error", eb.msg);
  json_t *msg = json_object();
  if (tx.body->msg_case == COHORT__TX_BODY__MSG_TRANSFER) {
    const Cohort__MsgTransfer *t = tx.body->transfer;
    json_object_set_new(msg, "to", nr_addrj(t->to.data));
    json_object_set_new(msg, "token", json_string(tx_token_name(t->token)));
    json_object_set_new(msg, "amount", nr_amount(t->amount));
  } else if (tx.body->msg_case == COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL) {
    const Cohort__MsgSubmitProposal *m = tx.body->submit_proposal;
    json_object_set_new(msg, "kind", json_string(gov_kind_name(m->kind)));
    json_object_set_new(msg, "title", json_string(m->title ? m->title : ""));
    json_object_set_new(msg, "deposit", nr_amount(m->deposit));
    json_t *ch = json_array();
    for (size_t i = 0; ch && i < m->n_changes; i++)
      json_array_append_new(ch, json_pack("{s:s, s:o}", "name", m->changes[i]->name, "value",
                                          nr_amount(m->changes[i]->value)));
    if (ch) json_object_set_new(msg, "changes", ch);
  } else if (tx.body->msg_case == COHORT__TX_BODY__MSG_VOTE) {
    json_object_set_new(msg, "proposal", json_integer((json_int_t)tx.body->vote->proposal));
    json_object_set_new(msg, "option", json_string(gov_option_name(tx.body->vote->option)));
  } else if (tx.body->msg_case == COHORT__TX_BODY__MSG_DEPOSIT) {
    json_object_set_new(msg, "proposal", json_integer((json_int_t)tx.body->deposit->proposal));
    json_object_set_new(msg, "amount", nr_amount(tx.body->deposit->amount));
  }
  switch (tx.body->msg_case) { /* staking (docs/staking.md §2) */
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR: {
      const Cohort__MsgCreateValidator *m = tx.body->create_validator;
      json_object_set_new(msg, "pubkey", nr_hexj(m->pubkey.data, m->pubkey.len));
      json_object_set_new(msg, "moniker", json_string(m->moniker ? m->moniker : ""));
      json_object_set_new(msg, "commission_bps", json_integer(m->commission_bps));
      json_object_set_new(msg, "max_commission_bps", json_integer(m->max_commission_bps));
      json_object_set_new(msg, "max_change_bps", json_integer(m->max_change_bps));
      json_object_set_new(msg, "self_bond", nr_amount(m->self_bond));
      break;
    }
    case COHORT__TX_BODY__MSG_EDIT_VALIDATOR: {
      const Cohort__MsgEditValidator *m = tx.body->edit_validator;
      if (m->set_moniker) json_object_set_new(msg, "moniker", json_string(m->moniker ? m->moniker : ""));
      if (m->set_commission) json_object_set_new(msg, "commission_bps", json_integer(m->commission_bps));
      break;
    }
    case COHORT__TX_BODY__MSG_DELEGATE:
      json_object_set_new(msg, "validator", nr_addrj(tx.body->delegate->validator.data));
      json_object_set_new(msg, "amount", nr_amount(tx.body->delegate->amount));
      break;
    case COHORT__TX_BODY__MSG_UNDELEGATE:
      json_object_set_new(msg, "validator", nr_addrj(tx.body->undelegate->validator.data));
      json_object_set_new(msg, "amount", nr_amount(tx.body->undelegate->amount));
      break;
    case COHORT__TX_BODY__MSG_REDELEGATE:
      json_object_set_new(msg, "src", nr_addrj(tx.body->redelegate->src.data));
      json_object_set_new(msg, "dst", nr_addrj(tx.body->redelegate->dst.data));
      json_object_set_new(msg, "amount", nr_amount(tx.body->redelegate->amount));
      break;
    case COHORT__TX_BODY__MSG_WITHDRAW_REWARDS:
      if (tx.body->withdraw_rewards->validator.len == 20)
        json_object_set_new(msg, "validator", nr_addrj(tx.body->withdraw_rewards->validator.data));
      if (tx.body->withdraw_rewards->executor.len == 20)
        json_object_set_new(msg, "executor", nr_addrj(tx.body->withdraw_rewards->executor.data));
      break;
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR:
      json_object_set_new(msg, "executor", nr_addrj(tx.body->delegate_executor->executor.data));
      json_object_set_new(msg, "amount", nr_amount(tx.body->delegate_executor->amount));
      break;
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR:
      json_object_set_new(msg, "executor", nr_addrj(tx.body->undelegate_executor->executor.data));
      json_object_set_new(msg, "amount", nr_amount(tx.body->undelegate_executor->amount));
      break;
    default:
      break;
  }
  json_t *j = json_pack("{s:o, s:o, s:I, s:o, s:s, s:s, s:o}", "hash", nr_hexj(tx.hash, 32),
                        "sender", nr_addrj(tx.sender), "nonce", (json_int_t)tx.body->nonce, "fee",
                        nr_amount(tx.body->fee), "memo", tx.body->memo ? tx.body->memo : "",
                        "type", tx_msg_name(tx.body), "msg", msg);
  tx_free(&tx);
  return j;
}

/* A page of a block's transactions: txs_offset, at most txs_limit of them,
 * and (full) at most BLOCK_PAGE_BYTES of raw tx bytes, but never none.
 * Hashes only (full = false) are 66 bytes each: a page holds a whole block
 * of the default max_block_txs. */
#define BLOCK_TXS_DEFAULT 100
#define BLOCK_TXS_MAX 1000
#define BLOCK_HASHES_MAX 10000
#define BLOCK_PAGE_BYTES (4u << 20)

static json_t *block_json(node *n, const uint8_t *bb, size_t bl, int full_txs, size_t off,
                          size_t lim) {
  block_t b;
  core_errbuf eb;
  (void)n;
  /* stored blocks, under the limits of their day (governance may have
   * lowered them since): the table's bounds */
  size_t max_tx = genesis_param_max("max_tx_bytes");
  if (block_decode(&b, bb, bl, genesis_param_max("max_block_bytes") + 65536,
                   genesis_param_max("max_block_txs"), &eb))
    return NULL;
  const Cohort__BlockHeader *h = b.hdr;
  char t[32];
  genesis_time_format(t, h->time_ms);
  json_t *txs = json_array();
  size_t end = off, page_bytes = 0;
  for (size_t i = off; i < b.blk->n_txs && i - off < lim; i++) {
    if (full_txs && i > off && page_bytes + b.blk->txs[i].len > BLOCK_PAGE_BYTES) break;
    page_bytes += b.blk->txs[i].len;
    end = i + 1;
    if (full_txs) {
      json_t *tj = tx_json(b.blk->txs[i].data, b.blk->txs[i].len, max_tx);
      json_object_set_new(tj, "raw", nr_hexj(b.blk->txs[i].data, b.blk->txs[i].len));
      json_array_append_new(txs, tj);
    } else {
      uint8_t th[32];
      core_sha256(th, b.blk->txs[i].data, b.blk->txs[i].len);
      json_array_append_new(txs, nr_hexj(th, 32));
    }
  }
  json_t *lc = json_null();
  if (b.last_commit) {
    json_t *sigs = json_array();
    for (size_t i = 0; i < b.last_commit->n_sigs; i++)
      json_array_append_new(
          sigs, json_pack("{s:o, s:o}", "validator",
                          nr_hexj(b.last_commit->sigs[i]->validator.data,
                               b.last_commit->sigs[i]->validator.len),
                          "signature",
                          nr_hexj(b.last_commit->sigs[i]->signature.data,
                               b.last_commit->sigs[i]->signature.len)));
    json_decref(lc);
    lc = json_pack("{s:I, s:i, s:o, s:o}", "height", (json_int_t)b.last_commit->height,
                   "round", (int)b.last_commit->round, "block_hash",
                   nr_hexj(b.last_commit->block_hash.data, b.last_commit->block_hash.len),
                   "signatures", sigs);
  }
  json_t *j = json_pack(
      "{s:o, s:{s:s, s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o}, s:o, s:o, s:I}", "hash",
      nr_hexj(b.hash, 32), "header", "chain_id", h->chain_id, "height", (json_int_t)h->height,
      "time", t, "time_ms", (json_int_t)h->time_ms, "prev_hash", nr_hexj(h->prev_hash.data, 32),
      "tx_root", nr_hexj(h->tx_root.data, 32), "app_hash", nr_hexj(h->app_hash.data, 32),
      "validators_hash", nr_hexj(h->validators_hash.data, 32), "proposer",
      nr_hexj(h->proposer.data, 32), "last_commit_hash", nr_hexj(h->last_commit_hash.data, 32),
      "num_txs", (int)h->num_txs, "beacon_reveal", nr_hexj(h->beacon_reveal.data, h->beacon_reveal.len),
      "txs", txs, "last_commit", lc, "size", (json_int_t)bl);
  if (j) {
    json_t *hj = json_object_get(j, "header");
    json_object_set_new(hj, "next_validators_hash", nr_hexj(h->next_validators_hash.data, 32));
    json_object_set_new(hj, "evidence_hash",
                        nr_hexj(h->evidence_hash.data, h->evidence_hash.len));
    /* evidence items: the offender, where it double-signed, and the bytes */
    json_t *ev = json_array();
    for (size_t i = 0; ev && i < b.blk->n_evidence; i++) {
      evidence_t e;
      core_errbuf eeb;
      const ProtobufCBinaryData *it = &b.blk->evidence[i];
      if (evidence_decode(&e, it->data, it->len, &eeb)) {
        json_array_append_new(ev, json_pack("{s:o}", "bytes", nr_hexj(it->data, it->len)));
        continue;
      }
      json_array_append_new(
          ev, json_pack("{s:o, s:I, s:i, s:s, s:o}", "validator", nr_hexj(e.a->validator.data, 32),
                        "height", (json_int_t)e.a->height, "round", (int)e.a->round, "type",
                        e.a->type == VOTE_PREVOTE ? "prevote" : "precommit", "bytes",
                        nr_hexj(it->data, it->len)));
      evidence_free(&e);
    }
    json_object_set_new(j, "evidence", ev ? ev : json_null());
    json_object_set_new(j, "txs_offset", json_integer((json_int_t)off));
    json_object_set_new(j, "txs_next_offset", end < b.blk->n_txs
                                                  ? json_integer((json_int_t)end)
                                                  : json_null());
  }
  block_free(&b);
  return j;
}

/* params[name] as an integer in [lo, hi] (absent: def). 0, or -1 after
 * answering the error. */
static int get_range(rpc_call *c, json_t *v, const char *name, size_t lo, size_t hi,
                     size_t def, size_t *out) {
  *out = def;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
      (uint64_t)json_integer_value(v) > hi) {
    char msg[120];
    snprintf(msg, sizeof msg, "params.%s must be an integer in [%zu, %zu]", name, lo, hi);
    rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
    return -1;
  }
  *out = (size_t)json_integer_value(v);
  return 0;
}

/* validators {height?}: the set that signs `height` (default: the next
 * block, latest + 1; at most latest + 2, the set the header fixed), with
 * each validator's key, operator, power and moniker, and the tombstone of
 * any key asked about with `pubkey`. */
static void m_validators(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"height", "pubkey", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *hv = nr_param(params, "height", 0), *pkv = nr_param(params, "pubkey", 1);
  uint64_t top = nr_height(n), h = top + 1;
  if (hv && !json_is_null(hv)) {
    uint64_t v;
    if (json_is_integer(hv) && json_integer_value(hv) >= 0) v = (uint64_t)json_integer_value(hv);
    else if (!json_is_string(hv) || core_parse_u64(json_string_value(hv), &v)) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.height must be a non-negative integer",
                     NULL);
      return;
    }
    h = v;
  }
  if (h == 0 || h > top + 2) {
    char msg[200];
    snprintf(msg, sizeof msg, "no validator set for height %llu: known from 1 to %llu (the "
             "latest block + 2)", (unsigned long long)h, (unsigned long long)(top + 2));
    rpc_call_error(c, RPC_NOT_FOUND, msg, NULL);
    return;
  }
  uint8_t pk[32];
  int want_pk = pkv && !json_is_null(pkv);
  if (want_pk && nr_get_hash(c, pkv, "pubkey", pk)) return;
  Cohort__ValidatorSet *vs;
  if (state_read_validators_at(n->st, h, &vs)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the validator set history", NULL);
    return;
  }
  json_t *arr = json_array();
  uint64_t total = 0;
  for (size_t i = 0; i < vs->n_validators; i++) {
    const Cohort__Validator *v = vs->validators[i];
    json_t *o = json_pack("{s:o, s:o, s:s}", "pubkey", nr_hexj(v->pubkey.data, v->pubkey.len),
                          "power", nr_amount(v->power), "moniker", v->moniker ? v->moniker : "");
    if (o && v->operator_.len == 20) {
      json_object_set_new(o, "operator", nr_addrj(v->operator_.data));
      /* the staking record as it is now (docs/staking.md §1) */
      Cohort__ValidatorInfo *vi;
      if (state_get_validator_info(n->st, v->operator_.data, &vi) == 0) {
        json_object_set_new(o, "tokens", nr_amount(vi->tokens));
        json_object_set_new(o, "commission_bps", json_integer(vi->commission_bps));
        json_object_set_new(o, "jailed", json_boolean(vi->jailed_until != 0));
        json_object_set_new(o, "tombstoned", json_boolean(vi->tombstoned));
        cohort__validator_info__free_unpacked(vi, NULL);
      }
    }
    if (o) json_array_append_new(arr, o);
    total += v->power; /* bounded: the state checks the total */
  }
  cohort__validator_set__free_unpacked(vs, NULL);
  json_t *r = json_pack("{s:I, s:I, s:o, s:o}", "height", (json_int_t)h, "count",
                        (json_int_t)json_array_size(arr), "total_power", nr_amount(total),
                        "validators", arr);
  if (r && want_pk) {
    Cohort__Tombstone *t;
    if (!state_get_tombstone(n->st, pk, &t)) {
      json_object_set_new(r, "tombstone",
                          json_pack("{s:I, s:I, s:o}", "evidence_height",
                                    (json_int_t)t->height, "vote_height",
                                    (json_int_t)t->vote_height, "slashed",
                                    nr_amount(t->slashed)));
      cohort__tombstone__free_unpacked(t, NULL);
    } else {
      json_object_set_new(r, "tombstone", json_null());
    }
  }
  if (!r) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot build the answer", NULL);
    return;
  }
  rpc_call_reply(c, r);
}

static void m_block(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"height", "hash", "full", "txs_offset", "txs_limit", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *hv = nr_param(params, "height", 0), *hashv = nr_param(params, "hash", 99),
         *fullv = nr_param(params, "full", 1);
  size_t off, lim;
  int full = !fullv || json_is_true(fullv);
  if (get_range(c, nr_param(params, "txs_offset", 2), "txs_offset", 0, 1u << 30, 0, &off) ||
      get_range(c, nr_param(params, "txs_limit", 3), "txs_limit", 1,
                full ? BLOCK_TXS_MAX : BLOCK_HASHES_MAX,
                full ? BLOCK_TXS_DEFAULT : BLOCK_HASHES_MAX, &lim))
    return;
  uint64_t h = nr_height(n);
  if (hashv && !json_is_null(hashv)) {
    uint8_t hash[32];
    if (nr_get_hash(c, hashv, "hash", hash)) return;
    if (state_height_by_hash(n->st, hash, &h)) {
      rpc_call_error(c, RPC_NOT_FOUND, "no block with that hash", NULL);
      return;
    }
  } else if (hv && !json_is_null(hv)) {
    uint64_t v;
    if (json_is_integer(hv) && json_integer_value(hv) >= 0) v = (uint64_t)json_integer_value(hv);
    else if (!json_is_string(hv) || core_parse_u64(json_string_value(hv), &v)) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.height must be a non-negative integer",
                     NULL);
      return;
    }
    h = v;
  }
  if (fullv && !json_is_boolean(fullv)) {
    rpc_call_error(c, RPC_INVALID_PARAMS, "params.full must be true or false", NULL);
    return;
  }
  if (h == 0 || h > nr_height(n)) {
    char msg[160];
    snprintf(msg, sizeof msg, "no block at height %llu (latest is %llu)",
             (unsigned long long)h, (unsigned long long)nr_height(n));
    rpc_call_error(c, RPC_NOT_FOUND, msg, NULL);
    return;
  }
  uint8_t *bb;
  size_t bl;
  if (state_get_block(n->st, h, &bb, &bl)) {
    rpc_call_error(c, RPC_NOT_FOUND, "block not in the store", NULL);
    return;
  }
  json_t *j = block_json(n, bb, bl, full, off, lim);
  free(bb);
  if (!j) rpc_call_error(c, RPC_INTERNAL_ERROR, "stored block does not decode", NULL);
  else rpc_call_reply(c, j);
}

static void m_tx(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"hash", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t hash[32];
  if (nr_get_hash(c, nr_param(params, "hash", 0), "hash", hash)) return;
  Cohort__TxResult *r;
  if (state_get_tx_result(n->st, hash, &r)) {
    int pending = nr_mempool_has(n, hash);
    rpc_call_error(c, RPC_NOT_FOUND,
                   pending ? "tx is in the mempool, not yet committed" : "tx not found",
                   json_pack("{s:b}", "pending", pending));
    return;
  }
  uint8_t *bb;
  size_t bl;
  json_t *txj = json_null();
  block_t b;
  if (!state_get_block(n->st, r->height, &bb, &bl)) {
    if (!block_decode(&b, bb, bl, genesis_param_max("max_block_bytes") + 65536,
                      genesis_param_max("max_block_txs"), NULL)) {
      if (r->index < b.blk->n_txs) {
        json_decref(txj);
        txj = tx_json(b.blk->txs[r->index].data, b.blk->txs[r->index].len,
                      genesis_param_max("max_tx_bytes"));
        json_object_set_new(txj, "raw",
                            nr_hexj(b.blk->txs[r->index].data, b.blk->txs[r->index].len));
      }
      block_free(&b);
    }
    free(bb);
  }
  json_t *j = json_pack("{s:o, s:I, s:i, s:i, s:s, s:s, s:o, s:o}", "hash", nr_hexj(hash, 32),
                        "height", (json_int_t)r->height, "index", (int)r->index, "code",
                        (int)r->code, "codespace", core_err_name(r->code), "log",
                        r->log ? r->log : "", "fee_paid", nr_amount(r->fee_paid), "tx", txj);
  if (j) json_object_set_new(j, "gas_used", json_integer((json_int_t)r->gas_used));
  cohort__tx_result__free_unpacked(r, NULL);
  rpc_call_reply(c, j);
}

static void m_account(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"address", NULL};
  if (nr_check_names(c, params, names)) return;
  const char *a = json_string_value(nr_param(params, "address", 0));
  uint8_t id[20];
  if (!a || core_addr_decode(id, a)) {
    rpc_call_error(c, RPC_INVALID_PARAMS,
                   "params.address must be a coh1... bech32 address", NULL);
    return;
  }
  uint64_t crd, stk, nonce, next;
  if (nr_account_next_nonce(n, id, &crd, &stk, &nonce, &next)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the account from the store", NULL);
    return;
  }
  rpc_call_reply(c, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I}", "address", a, "crd",
                              nr_amount(crd), "stk", nr_amount(stk), "nonce", (json_int_t)nonce,
                              "next_nonce", (json_int_t)next, "height",
                              (json_int_t)nr_height(n)));
}

static void m_supply(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  (void)params;
  uint64_t crd, stk;
  state_pools p;
  if (state_get_supply(n->st, &crd, &stk) || state_get_pools(n->st, &p)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the supply", NULL);
    return;
  }
  rpc_call_reply(c, json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "crd",
                              nr_amount(crd), "stk", nr_amount(stk), "height",
                              (json_int_t)nr_height(n), "fees", nr_amount(p.fees), "rewards",
                              nr_amount(p.rewards), "community", nr_amount(p.community), "gov",
                              nr_amount(p.gov), "bonded", nr_amount(p.bonded), "unbonding",
                              nr_amount(p.unbonding)));
}

static void broadcast_refused(rpc_call *c, int rc, const char *why) {
  char msg[300];
  snprintf(msg, sizeof msg, "tx rejected: %s", why);
  rpc_call_error(c, RPC_TX_REJECTED, msg,
                 json_pack("{s:i, s:s, s:s}", "code", rc, "codespace", core_err_name(rc), "log",
                           why));
}

/* A decoded tx on its way to the node thread. */
typedef struct {
  node *n;
  rpc_call *c;
  tx_t tx;
  int commit;
} bcast;

/* On the node thread (rpc_call_run_on_owner): add to the mempool, answer. */
static void broadcast_on_node(void *arg) {
  bcast *b = arg;
  node *n = b->n;
  rpc_call *c = b->c;
  core_errbuf eb;
  uint8_t hash[32];
  memcpy(hash, b->tx.hash, 32);
  if (atomic_load(&n->stopping)) {
    tx_free(&b->tx);
    rpc_call_error(c, RPC_UNAVAILABLE, "node is shutting down", NULL);
    free(b);
    return;
  }
  int rc = node_broadcast(n, &b->tx, &eb);
  if (rc) {
    tx_free(&b->tx);
    broadcast_refused(c, rc, eb.msg);
  } else if (b->commit) {
    node_register_waiter(n, hash, c);
  } else {
    rpc_call_reply(c, json_pack("{s:o, s:i, s:s}", "hash", nr_hexj(hash, 32), "code", 0, "log",
                                "accepted into the mempool"));
  }
  free(b);
}

static void m_broadcast_tx(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"tx", "tx_base64", "mode", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *hexv = nr_param(params, "tx", 0), *b64v = nr_param(params, "tx_base64", 99),
         *modev = nr_param(params, "mode", 1);
  const char *mode = modev ? json_string_value(modev) : "sync";
  if (!mode || (strcmp(mode, "sync") && strcmp(mode, "commit") && strcmp(mode, "async"))) {
    rpc_call_error(c, RPC_INVALID_PARAMS, "params.mode must be \"sync\", \"async\" or \"commit\"",
                   NULL);
    return;
  }
  size_t max = nr_params(n)->max_tx_bytes;
  uint8_t *raw = NULL;
  size_t len = 0;
  int rc;
  if (hexv && json_is_string(hexv) && !b64v) {
    rc = core_hex_decode_alloc(&raw, &len, json_string_value(hexv), max);
  } else if (b64v && json_is_string(b64v) && !hexv) {
    rc = core_base64_decode_alloc(&raw, &len, json_string_value(b64v), max);
  } else {
    rpc_call_error(c, RPC_INVALID_PARAMS,
                   "give exactly one of params.tx (hex) or params.tx_base64 (base64 string)",
                   NULL);
    return;
  }
  if (rc) {
    char msg[160];
    if (rc == COHORT_ERR_TOO_LARGE)
      snprintf(msg, sizeof msg, "tx exceeds max_tx_bytes (%zu)", max);
    else
      snprintf(msg, sizeof msg, "tx is not valid %s", hexv ? "hex" : "base64");
    n->m_rejected++;
    rpc_call_error(c, RPC_INVALID_PARAMS, msg,
                   json_pack("{s:i, s:s}", "code", rc, "codespace", core_err_name(rc)));
    return;
  }
  bcast *b = calloc(1, sizeof *b);
  if (!b) {
    free(raw);
    rpc_call_error(c, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  core_errbuf eb;
  rc = tx_decode(&b->tx, raw, len, max, &eb);
  free(raw);
  if (!rc) {
    /* Decoded here; the mempool belongs to the node thread. */
    b->n = n;
    b->c = c;
    b->commit = !strcmp(mode, "commit");
    if (!rpc_call_run_on_owner(c, broadcast_on_node, b)) return;
    tx_free(&b->tx);
    free(b);
    rpc_call_error(c, RPC_UNAVAILABLE, "node is shutting down", NULL);
    return;
  }
  free(b);
  n->m_rejected++;
  broadcast_refused(c, rc, eb.msg);
}

/* Weights count against [rpc] max_batch_weight (docs/rpc.md). */
/* net_info: the peers as the node thread last published them. */
static void m_net_info(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {NULL};
  if (nr_check_names(c, params, names)) return;
  uv_mutex_lock(&n->net_lock);
  json_t *r = n->peers_json ? json_loads(n->peers_json, 0, NULL) : NULL;
  uv_mutex_unlock(&n->net_lock);
  if (!r)
    r = json_pack("{s:s, s:s, s:i, s:[]}", "node_id", n->node_id, "listen", "", "n_peers", 0,
                  "peers");
  json_object_set_new(r, "catching_up", json_boolean(atomic_load(&n->catching_up) != 0));
  rpc_call_reply(c, r);
}

const rpc_method node_rpc_methods[] = {
    {"net_info", m_net_info, 1},
    {"health", m_health, 1},   {"status", m_status, 1},   {"block", m_block, 10},
    {"validators", m_validators, 2},
    {"tx", m_tx, 2},           {"account", m_account, 1}, {"broadcast_tx", m_broadcast_tx, 5},
    {"supply", m_supply, 1},
};
const size_t node_rpc_n_methods = sizeof node_rpc_methods / sizeof node_rpc_methods[0];

char *node_metrics(void *ctx) {
  node *n = ctx;
  nr_view_refresh(n);
  size_t mp_size, mp_bytes;
  nr_mempool_stats(n, &mp_size, &mp_bytes);
  char *market = node_rpc_market_metrics();
  uv_mutex_lock(&n->net_lock);
  char *net = n->net_metrics ? strdup(n->net_metrics) : NULL;
  uv_mutex_unlock(&n->net_lock);
  size_t ml = market ? strlen(market) : 0, nl = net ? strlen(net) : 0;
  char *buf = malloc(8192 + ml + nl);
  if (!buf) {
    free(market);
    free(net);
    return NULL;
  }
  uint64_t blocks = atomic_load(&n->m_blocks);
  int len = snprintf(buf, 8192,
           "# HELP cohort_height Latest committed block height.\n# TYPE cohort_height gauge\n"
           "cohort_height %llu\n"
           "# HELP cohort_blocks_total Blocks committed since start.\n# TYPE cohort_blocks_total counter\n"
           "cohort_blocks_total %llu\n"
           "# HELP cohort_txs_total Transactions committed since start.\n# TYPE cohort_txs_total counter\n"
           "cohort_txs_total %llu\n"
           "# HELP cohort_txs_failed_total Committed transactions whose message failed.\n"
           "# TYPE cohort_txs_failed_total counter\ncohort_txs_failed_total %llu\n"
           "# HELP cohort_txs_rejected_total Transactions refused at the mempool.\n"
           "# TYPE cohort_txs_rejected_total counter\ncohort_txs_rejected_total %llu\n"
           "# HELP cohort_block_txs Transactions in the latest block.\n# TYPE cohort_block_txs gauge\n"
           "cohort_block_txs %llu\n"
           "# HELP cohort_mempool_size Transactions waiting.\n# TYPE cohort_mempool_size gauge\n"
           "cohort_mempool_size %zu\n"
           "# HELP cohort_mempool_bytes Bytes waiting.\n# TYPE cohort_mempool_bytes gauge\n"
           "cohort_mempool_bytes %zu\n"
           "# HELP cohort_consensus_round Current consensus round.\n# TYPE cohort_consensus_round gauge\n"
           "cohort_consensus_round %u\n"
           "# HELP cohort_consensus_rounds_total Sum of the rounds blocks were decided in "
           "(0 for a first-round decision).\n# TYPE cohort_consensus_rounds_total counter\n"
           "cohort_consensus_rounds_total %llu\n"
           "# HELP cohort_consensus_last_round Round the latest block was decided in.\n"
           "# TYPE cohort_consensus_last_round gauge\ncohort_consensus_last_round %u\n"
           "# HELP cohort_block_interval_ms Time between the last two commits on this node.\n"
           "# TYPE cohort_block_interval_ms gauge\ncohort_block_interval_ms %llu\n"
           "# HELP cohort_catching_up 1 while block sync fetches blocks peers are ahead by.\n"
           "# TYPE cohort_catching_up gauge\ncohort_catching_up %d\n"
           "# HELP cohort_peers Peers connected.\n# TYPE cohort_peers gauge\ncohort_peers %u\n"
           "# HELP cohort_evidence_total Double signs this node saw or was told of (new "
           "items in its evidence pool).\n# TYPE cohort_evidence_total counter\n"
           "cohort_evidence_total %llu\n",
           (unsigned long long)nr_height(n), (unsigned long long)atomic_load(&n->m_blocks),
           (unsigned long long)atomic_load(&n->m_txs),
           (unsigned long long)atomic_load(&n->m_txs_failed),
           (unsigned long long)atomic_load(&n->m_rejected),
           (unsigned long long)atomic_load(&n->m_last_block_txs), mp_size, mp_bytes,
           atomic_load(&n->a_cons_round), (unsigned long long)atomic_load(&n->m_rounds),
           atomic_load(&n->m_last_round), (unsigned long long)atomic_load(&n->m_last_interval_ms),
           atomic_load(&n->catching_up) != 0, atomic_load(&n->a_peers),
           (unsigned long long)atomic_load(&n->m_evidence));
  (void)blocks;
  if (len < 0 || len >= 8192) len = 0;
  buf[len] = 0;
  if (market) memcpy(buf + len, market, ml + 1), len += (int)ml;
  if (net) memcpy(buf + len, net, nl + 1);
  free(market);
  free(net);
  return buf;
}
