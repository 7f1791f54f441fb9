/* cli/cli_query.c — `cohort status|account|block|tx`: read-only queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/keys.h"
#include "rpc/rpc.h"

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
  char a[CLI_TOKENS_MAX];
  printf("address  %s\n", s(r, "address"));
  printf("CRD      %s\n", cli_fmt_tokens(a, s(r, "crd"), "CRD"));
  printf("STK      %s\n", cli_fmt_tokens(a, s(r, "stk"), "STK"));
  printf("nonce    %lld  (next free, counting pending txs: %lld)\n", i(r, "nonce"),
         i(r, "next_nonce"));
  printf("as of    height %lld\n", i(r, "height"));
}

static void print_tx_line(json_t *t) {
  json_t *m = json_object_get(t, "msg");
  char a[CLI_TOKENS_MAX];
  printf("  %s  %s  nonce %lld  fee %s\n", s(t, "hash"), s(t, "type"), i(t, "nonce"),
         cli_fmt_tokens(a, s(t, "fee"), "CRD"));
  if (!strcmp(s(t, "type"), "transfer"))
    printf("      %s -> %s\n", cli_fmt_tokens(a, s(m, "amount"), s(m, "token")), s(m, "to"));
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
  char a[CLI_TOKENS_MAX];
  printf("type     %s\n", s(t, "type"));
  printf("sender   %s  nonce %lld\n", s(t, "sender"), i(t, "nonce"));
  printf("fee      %s\n", cli_fmt_tokens(a, s(r, "fee_paid"), "CRD"));
  if (!strcmp(s(t, "type"), "transfer")) {
    printf("amount   %s\n", cli_fmt_tokens(a, s(m, "amount"), s(m, "token")));
    printf("to       %s\n", s(m, "to"));
  }
  if (*s(t, "memo")) printf("memo     %s\n", s(t, "memo"));
}

static void print_supply(json_t *r) {
  char a[CLI_TOKENS_MAX];
  printf("CRD      %s\n", cli_fmt_tokens(a, s(r, "crd"), "CRD"));
  printf("STK      %s\n", cli_fmt_tokens(a, s(r, "stk"), "STK"));
  printf("  bonded to validators  %s\n", cli_fmt_tokens(a, s(r, "bonded"), "STK"));
  printf("  unbonding             %s\n", cli_fmt_tokens(a, s(r, "unbonding"), "STK"));
  printf("  rewards not withdrawn %s\n", cli_fmt_tokens(a, s(r, "rewards"), "CRD"));
  printf("  community pool        %s\n", cli_fmt_tokens(a, s(r, "community"), "CRD"));
  printf("as of    height %lld\n", i(r, "height"));
}

/* `status --wait`: until the node answers, at most 60 s. */
static int wait_node(const cli_ctx *c) {
  for (int t = 0; t < 300; t++) {
    core_errbuf eb;
    json_t *r = NULL;
    if (!rpc_client_call(c->node, "health", NULL, 1000, &r, NULL, &eb)) {
      json_decref(r);
      return 0;
    }
    usleep(200000);
  }
  return 0; /* the status call below says why */
}

int cli_cmd_query(const cli_ctx *c, const char *cmd, int argc, char **argv) {
  json_t *params = NULL, *r = NULL;
  void (*printer)(json_t *) = NULL;
  const char *method = cmd;
  for (int k = 0; k < argc; k++) /* no query takes a flag but status --wait */
    if (argv[k][0] == '-' && strcmp(cmd, "status"))
      return cli_usage_error(cmd, "unknown option %s", argv[k]);
  if (!strcmp(cmd, "status")) {
    for (int k = 0; k < argc; k++) {
      if (strcmp(argv[k], "--wait")) return cli_usage_error("status", "unknown option %s", argv[k]);
      wait_node(c);
    }
    printer = print_status;
  } else if (!strcmp(cmd, "account")) {
    if (argc > 1) return cli_usage_error("account", "give at most one ADDR|KEY");
    const char *who = argc > 0 ? argv[0] : "dev";
    uint8_t id[20];
    char addr[CORE_ADDR_STR_MAX];
    if (cli_resolve_address(c, "cohort account", who, id, addr)) return 2;
    params = json_pack("{s:s}", "address", addr);
    printer = print_account;
  } else if (!strcmp(cmd, "block")) {
    if (argc > 1) return cli_usage_error("block", "give at most one HEIGHT");
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
    if (argc != 1) return cli_usage_error("tx", "give one HASH");
    size_t hl = strlen(argv[0]);
    if (hl != 64 || strspn(argv[0], "0123456789abcdefABCDEF") != 64) {
      fprintf(stderr, "cohort tx: HASH must be 64 hex digits (the hash printed when the tx "
              "was sent), got \"%s\"\n", argv[0]);
      return 2;
    }
    params = json_pack("{s:s}", "hash", argv[0]);
    printer = print_tx;
  } else if (!strcmp(cmd, "supply")) {
    if (argc > 0) return cli_usage_error("supply", "unexpected argument %s", argv[0]);
    printer = print_supply;
  }
  if (cli_call(c, method, params, &r)) return 1;
  if (c->json || !printer) cli_print_json(r);
  else printer(r);
  json_decref(r);
  return 0;
}
