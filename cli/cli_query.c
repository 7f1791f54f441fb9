/* cli/cli_query.c — `cohort status|account|block|tx`: read-only queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/keys.h"

static const char *s(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}
static long long i(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

static void print_status(json_t *r) {
  json_t *v = json_object_get(r, "validator"), *cs = json_object_get(r, "consensus"),
         *mp = json_object_get(r, "mempool");
  printf("chain        %s\n", s(r, "chain_id"));
  printf("height       %lld  (%s)\n", i(r, "latest_height"), s(r, "latest_block_time"));
  printf("block hash   %s\n", s(r, "latest_block_hash"));
  printf("app hash     %s\n", s(r, "latest_app_hash"));
  printf("catching up  %s\n", json_is_true(json_object_get(r, "catching_up")) ? "yes" : "no");
  printf("node id      %s  (%s)\n", s(r, "node_id"), s(r, "moniker"));
  printf("validator    %s  power %s\n", s(v, "pubkey"), s(v, "power"));
  printf("consensus    height %lld round %lld step %s\n", i(cs, "height"), i(cs, "round"),
         s(cs, "step"));
  printf("mempool      %lld txs, %lld bytes\n", i(mp, "size"), i(mp, "bytes"));
}

static void print_account(json_t *r) {
  char crd[32], stk[32];
  cli_fmt_amount(crd, s(r, "crd"));
  cli_fmt_amount(stk, s(r, "stk"));
  printf("address  %s\n", s(r, "address"));
  printf("CRD      %s  (%s base units)\n", crd, s(r, "crd"));
  printf("STK      %s  (%s base units)\n", stk, s(r, "stk"));
  printf("nonce    %lld  (next free, counting pending txs: %lld)\n", i(r, "nonce"),
         i(r, "next_nonce"));
  printf("as of    height %lld\n", i(r, "height"));
}

static void print_tx_line(json_t *t) {
  json_t *m = json_object_get(t, "msg");
  printf("  %s  %s nonce %lld fee %s", s(t, "hash"), s(t, "type"), i(t, "nonce"), s(t, "fee"));
  if (!strcmp(s(t, "type"), "transfer"))
    printf("  %s %s -> %s", s(m, "amount"), s(m, "token"), s(m, "to"));
  printf("\n");
}

static void print_block(json_t *r) {
  json_t *h = json_object_get(r, "header"), *txs = json_object_get(r, "txs");
  printf("height     %lld  (%s)\n", i(h, "height"), s(h, "time"));
  printf("hash       %s\n", s(r, "hash"));
  printf("prev       %s\n", s(h, "prev_hash"));
  printf("app hash   %s  (state before this block's txs)\n", s(h, "app_hash"));
  printf("tx root    %s\n", s(h, "tx_root"));
  printf("proposer   %s\n", s(h, "proposer"));
  /* The node pages a block's txs (docs/rpc.md): say when this is not all. */
  long long total = i(h, "num_txs");
  if ((long long)json_array_size(txs) < total)
    printf("txs        %lld (the first %zu shown; see `block` params txs_offset/txs_limit)\n",
           total, json_array_size(txs));
  else
    printf("txs        %zu\n", json_array_size(txs));
  size_t k;
  json_t *t;
  json_array_foreach(txs, k, t) print_tx_line(t);
}

static void print_tx(json_t *r) {
  json_t *t = json_object_get(r, "tx"), *m = json_object_get(t, "msg");
  printf("hash     %s\n", s(r, "hash"));
  printf("height   %lld (index %lld)\n", i(r, "height"), i(r, "index"));
  printf("result   %s%s%s\n", i(r, "code") ? s(r, "codespace") : "ok", i(r, "code") ? ": " : "",
         s(r, "log"));
  printf("sender   %s  nonce %lld  fee %s\n", s(t, "sender"), i(t, "nonce"), s(r, "fee_paid"));
  if (!strcmp(s(t, "type"), "transfer"))
    printf("transfer %s %s -> %s\n", s(m, "amount"), s(m, "token"), s(m, "to"));
  if (*s(t, "memo")) printf("memo     %s\n", s(t, "memo"));
}

int cli_cmd_query(const cli_ctx *c, const char *cmd, int argc, char **argv) {
  json_t *params = NULL, *r = NULL;
  void (*printer)(json_t *) = NULL;
  const char *method = cmd;
  if (!strcmp(cmd, "status")) {
    printer = print_status;
  } else if (!strcmp(cmd, "account")) {
    const char *who = argc > 0 ? argv[0] : "dev";
    uint8_t id[20];
    char addr[CORE_ADDR_STR_MAX];
    if (cli_resolve_address(c, "cohort account", who, id, addr)) return 2;
    params = json_pack("{s:s}", "address", addr);
    printer = print_account;
  } else if (!strcmp(cmd, "block")) {
    if (argc > 0) {
      char *end;
      unsigned long long h = strtoull(argv[0], &end, 10);
      if (*end || argv[0][0] == '-' || !argv[0][0]) {
        fprintf(stderr, "cohort block: height \"%s\" must be a positive integer\n", argv[0]);
        return 2;
      }
      params = json_pack("{s:I}", "height", (json_int_t)h);
    }
    printer = print_block;
  } else if (!strcmp(cmd, "tx")) {
    if (argc != 1) {
      fprintf(stderr, "usage: cohort tx HASH\n");
      return 2;
    }
    size_t hl = strlen(argv[0]);
    if (hl != 64 || strspn(argv[0], "0123456789abcdefABCDEF") != 64) {
      fprintf(stderr, "cohort tx: HASH must be 64 hex digits (the hash printed when the tx "
              "was sent), got \"%s\"\n", argv[0]);
      return 2;
    }
    params = json_pack("{s:s}", "hash", argv[0]);
    printer = print_tx;
  } else if (!strcmp(cmd, "supply")) {
    method = "supply";
  }
  if (cli_call(c, method, params, &r)) return 1;
  if (c->json || !printer) cli_print_json(r);
  else printer(r);
  json_decref(r);
  return 0;
}
