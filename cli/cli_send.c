/* cli/cli_send.c — sign a transaction body with a key and broadcast it:
 * chain ID and minimum fee from `status`, the next nonce (pending txs
 * counted) from `account`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/hex.h"
#include "core/parse.h"
#include "proto/tx.h"

int cli_send(const cli_ctx *c, const core_key *k, Cohort__TxBody *b, int wait,
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
  uint64_t min_fee;
  if (!chain || core_parse_u64(json_string_value(json_object_get(json_object_get(st, "params"),
                                                                 "min_fee")), &min_fee)) {
    fprintf(stderr, "cohort: the node's status lacks chain_id or params.min_fee\n");
    goto out;
  }
  if (!b->fee) b->fee = min_fee;
  if (cli_call(c, "account", json_pack("{s:s}", "address", addr), &acct)) goto out;
  b->nonce = (uint64_t)json_integer_value(json_object_get(acct, "next_nonce"));
  uint8_t *raw;
  size_t len;
  if (tx_build(&raw, &len, b, chain, k->secret, NULL)) {
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
