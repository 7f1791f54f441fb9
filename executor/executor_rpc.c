/* executor/executor_rpc.c — the executor's nodes: calls with failover,
 * transactions broadcast to every node.
 *
 * Every node must serve the same chain: the first node reached names the
 * genesis hash, every other is checked against it before it is used (at
 * start for those that answer, later for those that come up later) and
 * refused for good if it differs. Calls go to the current node and fail
 * over to the next when it cannot be reached or serves wrong data; commits,
 * reveals and moves are sent to every node, so one node whose RPC is
 * saturated cannot keep our reveal out. When no node answers, the loop
 * backs off (1, 2, 4 ... 30 s between polls) and logs once when that starts
 * and once when a node answers again. Poll thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "executor/executor_int.h"
#include "genesis/params.h"
#include "proto/market.h"
#include "rpc/rpc.h"

const char *ex_clean(executor *ex, int i, const char *msg, char *out, size_t cap) {
  return rpc_client_clean_err(ex->nodes[i], msg, out, cap);
}

/* Check node i's genesis against the reference; 1 if usable now, 0 if
 * refused or not reachable (then eb says why). */
int ex_node_usable(executor *ex, int i, core_errbuf *eb) {
  if (ex->node_state[i] == EX_NODE_OK) return 1;
  if (ex->node_state[i] == EX_NODE_REFUSED) {
    snprintf(eb->msg, sizeof eb->msg, "refused: another chain");
    return 0;
  }
  json_t *st = NULL;
  if (rpc_client_call(ex->nodes[i], "status", NULL, ex->timeout_ms, &st, NULL, eb)) return 0;
  const char *g = json_string_value(json_object_get(st, "genesis_hash")),
             *ch = json_string_value(json_object_get(st, "chain_id"));
  int ok = 0;
  if (!g) {
    ex_log(ex, EXECUTOR_LOG_ERROR, "node %s: its status has no genesis_hash: refusing it",
           ex->nodes[i]);
  } else if (!ex->genesis_ref[0]) {
    snprintf(ex->genesis_ref, sizeof ex->genesis_ref, "%s", g);
    snprintf(ex->chain_ref, sizeof ex->chain_ref, "%s", ch ? ch : "?");
    ok = 1;
  } else if (strcmp(g, ex->genesis_ref)) {
    ex_log(ex, EXECUTOR_LOG_ERROR,
           "node %s serves another chain (%s, genesis %.16s..) than the others (%s, genesis "
           "%.16s..): refusing it; every --node must be a node of the same chain",
           ex->nodes[i], ch ? ch : "?", g, ex->chain_ref, ex->genesis_ref);
  } else {
    ok = 1;
  }
  json_decref(st);
  ex->node_state[i] = ok ? EX_NODE_OK : EX_NODE_REFUSED;
  if (!ok) snprintf(eb->msg, sizeof eb->msg, "refused: another chain");
  return ok;
}

static int usable_count(executor *ex) {
  int k = 0;
  for (int i = 0; i < ex->n_nodes; i++) k += ex->node_state[i] != EX_NODE_REFUSED;
  return k;
}

void ex_failover(executor *ex, const char *why) {
  if (usable_count(ex) < 2) return;
  int from = ex->cur;
  do ex->cur = (ex->cur + 1) % ex->n_nodes;
  while (ex->node_state[ex->cur] == EX_NODE_REFUSED);
  if (!ex->all_down) {
    char w[300];
    ex_log(ex, EXECUTOR_LOG_WARN, "node %s: %s; switching to %s", ex->nodes[from],
           ex_clean(ex, from, why, w, sizeof w), ex->nodes[ex->cur]);
  }
}

static void node_up(executor *ex) {
  if (!ex->all_down) return;
  ex->all_down = 0;
  ex->backoff_s = 0;
  ex_log(ex, EXECUTOR_LOG_INFO, "node %s answers again: serving", ex->nodes[ex->cur]);
}

static void node_down(executor *ex, const char *why) {
  if (ex->all_down) return;
  ex->all_down = 1;
  ex->backoff_s = 1;
  char w[300];
  ex_log(ex, EXECUTOR_LOG_WARN,
         "no node answers (%s%s%s); retrying, backing off up to 30 s between tries",
         ex->nodes[ex->cur], why[0] ? ": " : "", ex_clean(ex, ex->cur, why, w, sizeof w));
}

static int is_rpc_answer(int rc) { return rc <= -32000 && rc >= -32768; }

int ex_call(executor *ex, const char *m, json_t *p, json_t **r, int quiet) {
  core_errbuf eb = {{0}};
  int rc = -1;
  for (int tries = 0; tries < ex->n_nodes; tries++) {
    if (!ex_node_usable(ex, ex->cur, &eb)) {
      rc = -1;
      ex_failover(ex, eb.msg);
      continue;
    }
    rc = rpc_client_call(ex->nodes[ex->cur], m, p, ex->timeout_ms, r, NULL, &eb);
    if (rc == 0 || is_rpc_answer(rc)) break;
    ex_failover(ex, eb.msg);
  }
  json_decref(p);
  if (rc == 0 || is_rpc_answer(rc)) node_up(ex);
  else node_down(ex, eb.msg);
  char w[300];
  if (rc && !quiet && !ex->all_down)
    ex_log(ex, EXECUTOR_LOG_WARN, "%s failed: %s", m, ex_clean(ex, ex->cur, eb.msg, w, sizeof w));
  return rc;
}

/* Send raw tx bytes to every usable node; the number that took it (or
 * already had it), or -1 if none did. */
static int broadcast_all(executor *ex, const char *hex, const char *what, const char *task) {
  int ok = 0;
  char why[400] = ""; /* node URL + a core_errbuf message */
  for (int i = 0; i < ex->n_nodes; i++) {
    core_errbuf eb = {{0}};
    char w[300];
    if (!ex_node_usable(ex, i, &eb)) {
      if (ex->node_state[i] != EX_NODE_REFUSED)
        snprintf(why, sizeof why, "%.96s: %s", ex->nodes[i], ex_clean(ex, i, eb.msg, w, sizeof w));
      continue;
    }
    json_t *r = NULL, *p = json_pack("{s:s, s:s}", "tx", hex, "mode", "sync");
    int rc = rpc_client_call(ex->nodes[i], "broadcast_tx", p, ex->timeout_ms, &r, NULL, &eb);
    json_decref(p);
    json_decref(r);
    if (!rc || strstr(eb.msg, "already")) {
      ok++;
    } else {
      snprintf(why, sizeof why, "%.96s: %s", ex->nodes[i], ex_clean(ex, i, eb.msg, w, sizeof w));
    }
  }
  if (!ok)
    ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: %s not accepted by any node (%s)", task, what,
           why);
  else if (why[0])
    ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: %s: one node did not take it (%s)", task, what,
           why);
  return ok ? ok : -1;
}

/* The chain parameters in a `status` result, for the fee. */
static int status_params(executor *ex, json_t *st, Cohort__Params *p) {
  genesis_params g;
  genesis_params_default(&g);
  core_errbuf eb = {{0}};
  if (genesis_params_from_json(&g, json_object_get(st, "params"), &eb)) {
    ex_log(ex, EXECUTOR_LOG_ERROR, "the node's status has unusable params (%s); is the node the "
           "same version as this executor?", eb.msg);
    return -1;
  }
  cohort__params__init(p);
  genesis_params_to_proto(&g, p);
  return 0;
}

int ex_sign_and_send(executor *ex, Cohort__TxBody *b, const char *what, const char *task) {
  json_t *st = NULL, *acct = NULL;
  int ret = -1;
  if (ex_call(ex, "status", NULL, &st, 0) ||
      ex_call(ex, "account", json_pack("{s:s}", "address", ex->addr), &acct, 0))
    goto out;
  const char *chain = json_string_value(json_object_get(st, "chain_id"));
  Cohort__Params par;
  if (!chain || status_params(ex, st, &par)) goto out;
  b->nonce = (uint64_t)json_integer_value(json_object_get(acct, "next_nonce"));
  b->fee = 0;
  uint8_t *raw;
  size_t len;
  if (market_tx_sign(chain, &par, ex->key.secret, b, 0, &raw, &len)) goto out;
  char *hex = malloc(2 * len + 1);
  if (hex) {
    core_hex_encode(hex, raw, len);
    ret = broadcast_all(ex, hex, what, task);
    free(hex);
  }
  free(raw);
out:
  json_decref(st);
  json_decref(acct);
  return ret;
}
