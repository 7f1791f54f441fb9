/* cli/cli_tx.c — `cohort transfer`: build, sign and broadcast a transfer.
 * The chain ID, minimum fee and next nonce come from the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/parse.h"
#include "core/hex.h"
#include "genesis/genesis.h"
#include "proto/tx.h"

int cli_cmd_transfer(const cli_ctx *c, int argc, char **argv) {
  const char *to = NULL, *amt = NULL, *token = "CRD", *from = "dev", *fee_s = NULL,
             *memo = "", *nonce_s = NULL;
  int wait = 0, quiet = 0;
  for (int i = 0; i < argc; i++) {
    const char **dst = !strcmp(argv[i], "--to")     ? &to
                       : !strcmp(argv[i], "--amount") ? &amt
                       : !strcmp(argv[i], "--token")  ? &token
                       : !strcmp(argv[i], "--from")   ? &from
                       : !strcmp(argv[i], "--fee")    ? &fee_s
                       : !strcmp(argv[i], "--memo")   ? &memo
                       : !strcmp(argv[i], "--nonce")  ? &nonce_s
                                                      : NULL;
    if (!strcmp(argv[i], "--wait")) {
      wait = 1;
      continue;
    }
    if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
      quiet = 1;
      continue;
    }
    if (!dst) return cli_usage_error("transfer", "unknown option %s", argv[i]);
    if (++i >= argc) return cli_usage_error("transfer", "%s needs a value", argv[i - 1]);
    *dst = argv[i];
  }
  if (!to || !amt)
    return cli_usage_error("transfer", "missing %s",
                           !to && !amt ? "--to and --amount" : !to ? "--to" : "--amount");
  uint8_t to_id[20];
  char to_addr[CORE_ADDR_STR_MAX];
  if (cli_resolve_address(c, "cohort transfer: --to", to, to_id, to_addr)) return 2;
  uint64_t amount, fee = 0, nonce = 0;
  int rc = core_parse_u64(amt, &amount);
  if (rc || amount == 0) {
    fprintf(stderr, "cohort transfer: --amount \"%s\" must be a positive integer of base "
            "units%s\n", amt, rc == COHORT_ERR_OVERFLOW ? " below 2^64" : "");
    return 2;
  }
  Cohort__Token tok;
  if (tx_token_parse(token, &tok)) {
    fprintf(stderr, "cohort transfer: unknown token \"%s\" (CRD or STK)\n", token);
    return 2;
  }
  if (fee_s && core_parse_u64(fee_s, &fee)) {
    fprintf(stderr, "cohort transfer: --fee \"%s\" must be an integer of CRD base units\n", fee_s);
    return 2;
  }
  if (nonce_s && core_parse_u64(nonce_s, &nonce)) {
    fprintf(stderr, "cohort transfer: --nonce must be an integer\n");
    return 2;
  }
  if (strlen(memo) > TX_MEMO_MAX) {
    fprintf(stderr, "cohort transfer: --memo is longer than %d bytes\n", TX_MEMO_MAX);
    return 2;
  }
  core_key k;
  if (cli_load_key(c, from, &k)) return 1;
  uint8_t id[20];
  char addr[CORE_ADDR_STR_MAX];
  core_account_id(id, k.pub);
  core_addr_encode(addr, id);
  json_t *st = NULL, *acct = NULL, *res = NULL;
  int ret = 1;
  if (cli_call(c, "status", NULL, &st)) goto out;
  const char *chain_id = json_string_value(json_object_get(st, "chain_id"));
  Cohort__Params par;
  if (cli_status_params(c, st, &par)) goto out;
  if (!fee_s) fee = 0; /* the cost model's fee, computed when signing */
  if (!nonce_s) {
    if (cli_call(c, "account", json_pack("{s:s}", "address", addr), &acct)) goto out;
    nonce = (uint64_t)json_integer_value(json_object_get(acct, "next_nonce"));
  }
  Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
  t.to = (ProtobufCBinaryData){20, to_id};
  t.token = tok;
  t.amount = amount;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.nonce = nonce;
  b.fee = fee;
  b.memo = (char *)memo;
  b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  b.transfer = &t;
  uint8_t *raw;
  size_t len;
  if (!chain_id || cli_sign_with_fee(chain_id, &par, &k, &b, 0, &raw, &len)) {
    fprintf(stderr, "cohort: cannot sign the transaction\n");
    goto out;
  }
  char *hex = malloc(2 * len + 1);
  core_hex_encode(hex, raw, len);
  free(raw);
  char shown[CLI_TOKENS_MAX];
  cli_fmt_tokens_u64(shown, amount, tx_token_name(tok));
  if (wait && !c->json && !quiet)
    fprintf(stderr, "broadcasting a transfer of %s from %s (nonce %llu); waiting for a block...\n",
            shown, addr, (unsigned long long)nonce);
  rc = cli_call(c, "broadcast_tx", json_pack("{s:s, s:s}", "tx", hex, "mode", wait ? "commit" : "sync"),
                &res);
  free(hex);
  if (rc) goto out;
  const char *h = json_string_value(json_object_get(res, "hash"));
  if (c->json) {
    cli_print_json(res);
  } else if (quiet) {
    printf("%s\n", h ? h : "");
  } else {
    if (wait) {
      json_int_t code = json_integer_value(json_object_get(res, "code"));
      printf("committed tx %s at height %lld: %s\n", h,
             (long long)json_integer_value(json_object_get(res, "height")),
             code ? json_string_value(json_object_get(res, "log")) : "ok");
    } else {
      printf("accepted tx %s (nonce %llu); check it with: cohort tx %s\n", h,
             (unsigned long long)nonce, h);
    }
  }
  if (wait && json_integer_value(json_object_get(res, "code"))) {
    fprintf(stderr, "cohort: the transfer failed on chain (fee was charged): %s\n",
            json_string_value(json_object_get(res, "log")));
    goto out;
  }
  ret = 0;
out:
  core_key_wipe(&k);
  json_decref(st);
  json_decref(acct);
  json_decref(res);
  return ret;
}
