/* cli/cli_send.c — sign a transaction body with a key and broadcast it:
 * chain ID and parameters from `status`, the next nonce (pending txs
 * counted) from `account`, and the fee the cost model asks for
 * (proto/market.h) unless the caller set one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/hex.h"
#include "core/parse.h"
#include "genesis/params.h"
#include "proto/market.h"
#include "proto/tx.h"

int cli_status_params(const cli_ctx *c, json_t *st, Cohort__Params *p) {
  (void)c;
  genesis_params g;
  genesis_params_default(&g);
  core_errbuf eb = {{0}};
  if (genesis_params_from_json(&g, json_object_get(st, "params"), &eb)) {
    fprintf(stderr, "cohort: the node's status has unusable params (%s); is the node the same "
            "version as this cohort?\n", eb.msg);
    return 1;
  }
  cohort__params__init(p);
  genesis_params_to_proto(&g, p);
  return 0;
}

int cli_sign_with_fee(const char *chain, const Cohort__Params *p, const core_key *k,
                      Cohort__TxBody *b, uint64_t vm_kib, uint8_t **raw, size_t *len) {
  return market_tx_sign(chain, p, k->secret, b, vm_kib, raw, len) ? 1 : 0;
}

int cli_send(const cli_ctx *c, const core_key *k, Cohort__TxBody *b, uint64_t vm_kib, int wait,
             json_t **result) {
  *result = NULL;
  uint8_t id[20];
  char addr[CORE_ADDR_STR_MAX];
  core_account_id(id, k->pub);
  core_addr_encode(addr, id);
  json_t *st = NULL, *acct = NULL;
  int ret = 1;
  if (cli_call(c, "status", NULL, &st)) goto out;
  const char *chain = json_string_value(json_object_get(st, "chain_id"));
  Cohort__Params par;
  if (!chain) {
    fprintf(stderr, "cohort: the node's status lacks chain_id\n");
    goto out;
  }
  if (cli_status_params(c, st, &par)) goto out;
  if (cli_call(c, "account", json_pack("{s:s}", "address", addr), &acct)) goto out;
  b->nonce = (uint64_t)json_integer_value(json_object_get(acct, "next_nonce"));
  uint8_t *raw;
  size_t len;
  if (cli_sign_with_fee(chain, &par, k, b, vm_kib, &raw, &len)) {
    fprintf(stderr, "cohort: cannot sign the transaction\n");
    goto out;
  }
  char *hex = malloc(2 * len + 1);
  if (!hex) {
    free(raw);
    goto out;
  }
  core_hex_encode(hex, raw, len);
  free(raw);
  int rc = cli_call(c, "broadcast_tx", json_pack("{s:s, s:s}", "tx", hex, "mode", wait ? "commit" : "sync"),
                    result);
  free(hex);
  if (rc) goto out;
  ret = 0;
  if (wait && json_integer_value(json_object_get(*result, "code"))) {
    fprintf(stderr, "cohort: the %s tx was included but failed (the fee was charged): %s\n",
            tx_msg_name(b), json_string_value(json_object_get(*result, "log")));
    ret = 3;
  }
out:
  json_decref(st);
  json_decref(acct);
  return ret;
}
