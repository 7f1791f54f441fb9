/* node/node_rpc.c — the JSON-RPC methods of cohortd (docs/rpc.md).
 *
 * Params may be given by name (object) or by position (array, in the order
 * listed in docs/rpc.md). Amounts are decimal strings (u64 exceeds JSON's
 * safe integers); hashes and keys are lowercase hex.
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

#define VERSION "0.1.0"

json_t *nr_param(json_t *params, const char *name, size_t pos) {
  if (json_is_object(params)) return json_object_get(params, name);
  if (json_is_array(params)) return json_array_get(params, pos);
  return NULL;
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
  state *st = n->st;
  const Cohort__ValidatorSet *vs = state_validators(st);
  uint64_t power = 0;
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, privval_pubkey(n->pv), 32))
      power = vs->validators[i]->power;
  char t[32];
  genesis_time_format(t, state_last_time_ms(st));
  const Cohort__Params *p = state_params(st);
  json_t *r = json_pack(
      "{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:s, s:I, s:b, s:o, "
      "s:{s:o, s:o}, s:{s:I, s:i, s:s}, s:{s:I, s:I}, s:o}",
      "version", VERSION, "chain_id", state_chain_id(st), "moniker", n->cfg.moniker,
      "node_id", json_string(n->node_id), "latest_height", (json_int_t)state_height(st),
      "latest_block_hash", nr_hexj(state_last_block_hash(st), 32), "latest_app_hash",
      nr_hexj(state_app_hash(st), 32), "latest_block_time", t, "earliest_height",
      (json_int_t)(state_height(st) ? 1 : 0), "catching_up", 0, "genesis_hash",
      nr_hexj(state_genesis_hash(st), 32), "validator", "pubkey",
      nr_hexj(privval_pubkey(n->pv), 32), "power", nr_amount(power), "consensus", "height",
      (json_int_t)cons_height(n->cons), "round", (int)cons_round(n->cons), "step",
      cons_step_name(cons_get_step(n->cons)), "mempool", "size",
      (json_int_t)mempool_size(n->mp), "bytes", (json_int_t)mempool_bytes(n->mp), "params",
      params_json(p));
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
  }
  json_t *j = json_pack("{s:o, s:o, s:I, s:o, s:s, s:s, s:o}", "hash", nr_hexj(tx.hash, 32),
                        "sender", nr_addrj(tx.sender), "nonce", (json_int_t)tx.body->nonce, "fee",
                        nr_amount(tx.body->fee), "memo", tx.body->memo ? tx.body->memo : "",
                        "type", tx_msg_name(tx.body), "msg", msg);
  tx_free(&tx);
  return j;
}

static json_t *block_json(node *n, const uint8_t *bb, size_t bl, int full_txs) {
  block_t b;
  core_errbuf eb;
  const Cohort__Params *p = state_params(n->st);
  if (block_decode(&b, bb, bl, (size_t)p->max_block_bytes + 65536, p->max_block_txs, &eb))
    return NULL;
  const Cohort__BlockHeader *h = b.hdr;
  char t[32];
  genesis_time_format(t, h->time_ms);
  json_t *txs = json_array();
  for (size_t i = 0; i < b.blk->n_txs; i++) {
    if (full_txs) {
      json_t *tj = tx_json(b.blk->txs[i].data, b.blk->txs[i].len, p->max_tx_bytes);
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
  block_free(&b);
  return j;
}

static void m_block(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"height", "hash", "full", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *hv = nr_param(params, "height", 0), *hashv = nr_param(params, "hash", 99),
         *fullv = nr_param(params, "full", 1);
  uint64_t h = state_height(n->st);
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
  if (h == 0 || h > state_height(n->st)) {
    char msg[160];
    snprintf(msg, sizeof msg, "no block at height %llu (latest is %llu)",
             (unsigned long long)h, (unsigned long long)state_height(n->st));
    rpc_call_error(c, RPC_NOT_FOUND, msg, NULL);
    return;
  }
  uint8_t *bb;
  size_t bl;
  if (state_get_block(n->st, h, &bb, &bl)) {
    rpc_call_error(c, RPC_NOT_FOUND, "block not in the store", NULL);
    return;
  }
  json_t *j = block_json(n, bb, bl, !fullv || json_is_true(fullv));
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
    rpc_call_error(c, RPC_NOT_FOUND,
                   mempool_has(n->mp, hash) ? "tx is in the mempool, not yet committed"
                                            : "tx not found",
                   json_pack("{s:b}", "pending", mempool_has(n->mp, hash)));
    return;
  }
  uint8_t *bb;
  size_t bl;
  json_t *txj = json_null();
  block_t b;
  const Cohort__Params *p = state_params(n->st);
  if (!state_get_block(n->st, r->height, &bb, &bl)) {
    if (!block_decode(&b, bb, bl, (size_t)p->max_block_bytes + 65536, p->max_block_txs, NULL)) {
      if (r->index < b.blk->n_txs) {
        json_decref(txj);
        txj = tx_json(b.blk->txs[r->index].data, b.blk->txs[r->index].len, p->max_tx_bytes);
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
  uint64_t crd, stk, nonce;
  if (state_get_account(n->st, id, &crd, &stk, &nonce)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the account from the store", NULL);
    return;
  }
  uint64_t pending = mempool_sender_pending(n->mp, id);
  rpc_call_reply(c, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I}", "address", a, "crd",
                              nr_amount(crd), "stk", nr_amount(stk), "nonce", (json_int_t)nonce,
                              "next_nonce", (json_int_t)(nonce + pending), "height",
                              (json_int_t)state_height(n->st)));
}

static void m_supply(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  (void)params;
  uint64_t crd, stk;
  if (state_get_supply(n->st, &crd, &stk)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the supply", NULL);
    return;
  }
  rpc_call_reply(c, json_pack("{s:o, s:o, s:I}", "crd", nr_amount(crd), "stk", nr_amount(stk),
                              "height", (json_int_t)state_height(n->st)));
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
  size_t max = state_params(n->st)->max_tx_bytes;
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
  tx_t tx;
  core_errbuf eb;
  rc = tx_decode(&tx, raw, len, max, &eb);
  free(raw);
  if (!rc) {
    uint8_t hash[32];
    memcpy(hash, tx.hash, 32);
    rc = node_broadcast(n, &tx, &eb);
    if (!rc) {
      if (!strcmp(mode, "commit")) {
        node_register_waiter(n, hash, c);
        return;
      }
      rpc_call_reply(c, json_pack("{s:o, s:i, s:s}", "hash", nr_hexj(hash, 32), "code", 0,
                                  "log", "accepted into the mempool"));
      return;
    }
    tx_free(&tx);
  } else {
    n->m_rejected++;
  }
  char msg[300];
  snprintf(msg, sizeof msg, "tx rejected: %s", eb.msg);
  rpc_call_error(c, RPC_TX_REJECTED, msg,
                 json_pack("{s:i, s:s, s:s}", "code", rc, "codespace", core_err_name(rc), "log",
                           eb.msg));
}

const rpc_method node_rpc_methods[] = {
    {"health", m_health},   {"status", m_status},   {"block", m_block},
    {"tx", m_tx},           {"account", m_account}, {"broadcast_tx", m_broadcast_tx},
    {"supply", m_supply},
};
const size_t node_rpc_n_methods = sizeof node_rpc_methods / sizeof node_rpc_methods[0];

char *node_metrics(void *ctx) {
  node *n = ctx;
  char *buf = malloc(4096);
  if (!buf) return NULL;
  snprintf(buf, 4096,
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
           "cohort_consensus_round %u\n",
           (unsigned long long)state_height(n->st), (unsigned long long)n->m_blocks,
           (unsigned long long)n->m_txs, (unsigned long long)n->m_txs_failed,
           (unsigned long long)n->m_rejected, (unsigned long long)n->m_last_block_txs,
           mempool_size(n->mp), mempool_bytes(n->mp), cons_round(n->cons));
  return buf;
}
