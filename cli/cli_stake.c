/* cli/cli_stake.c — `cohort stake ...`: validators, delegations and
 * rewards (docs/staking.md "Delegating STK"). Each transaction command
 * builds one staking message, signs it with --from and waits for its block
 * (cli_send); `show` reads the staking RPC methods. Amounts are STK base
 * units (1 STK = 1000000), shown as tokens and base units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/hex.h"
#include "core/parse.h"
#include "proto/tx.h"
#include "rpc/rpc.h"

typedef struct {
  const char *name, *val;
} sopt;

/* Flags that take a value, flags that do not; at most one positional. */
static int parse(const char *path, int argc, char **argv, const char *const *wv,
                 const char *const *fl, sopt *o, int max, const char **pos) {
  int n = 0;
  *pos = NULL;
  for (int i = 0; i < argc; i++) {
    int known = 0;
    if (n >= max) return cli_usage_error(path, "too many options"), -1;
    for (const char *const *f = fl; *f && !known; f++)
      if (!strcmp(argv[i], *f)) o[n++] = (sopt){*f, "1"}, known = 1;
    for (const char *const *w = wv; *w && !known; w++)
      if (!strcmp(argv[i], *w)) {
        if (i + 1 >= argc) return cli_usage_error(path, "%s needs a value", argv[i]), -1;
        o[n++] = (sopt){*w, argv[++i]};
        known = 1;
      }
    if (known) continue;
    if (argv[i][0] != '-' && !*pos) {
      *pos = argv[i];
      continue;
    }
    return cli_usage_error(path, argv[i][0] == '-' ? "unknown option %s" : "unexpected argument %s",
                           argv[i]),
           -1;
  }
  return n;
}

static const char *get(const sopt *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(o[i].name, name)) return o[i].val;
  return NULL;
}

/* A u64 flag: 0 ok (absent: def), else 2 after the message. */
static int num(const char *path, const sopt *o, int n, const char *name, int required,
               uint64_t def, uint64_t max, uint64_t *out) {
  const char *v = get(o, n, name);
  *out = def;
  if (!v) return required ? cli_usage_error(path, "missing %s", name) : 0;
  if (core_parse_u64(v, out) || *out > max)
    return cli_usage_error(path, "%s \"%s\" must be an integer in [0, %llu]", name, v,
                           (unsigned long long)max);
  return 0;
}

static int hex32(const char *path, const sopt *o, int n, const char *name, uint8_t out[32]) {
  const char *v = get(o, n, name);
  size_t got;
  if (!v) return cli_usage_error(path, "missing %s", name);
  if (core_hex_decode(out, 32, &got, v, strlen(v)) || got != 32)
    return cli_usage_error(path, "%s must be 64 hex digits (see: cohortd show-validator)", name);
  return 0;
}

static const char *js(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}

/* Send b signed by --from; print the outcome. */
/* The sender's delegation waiting at executor ex (docs/staking.md §8), in
 * STK base units; 0 if none or unknown (no key, no answer). */
static uint64_t waiting_at(const cli_ctx *c, const sopt *o, int n, const uint8_t ex[20]) {
  core_key k;
  const char *from = get(o, n, "--from");
  if (cli_load_key(c, from ? from : "dev", &k)) return 0;
  uint8_t me[20];
  char addr[CORE_ADDR_STR_MAX], exa[CORE_ADDR_STR_MAX];
  core_account_id(me, k.pub);
  core_key_wipe(&k);
  core_addr_encode(addr, me);
  core_addr_encode(exa, ex);
  json_t *d;
  core_errbuf eb;
  uint64_t amt = 0;
  json_t *p = json_pack("{s:s}", "delegator", addr); /* not taken by rpc_client_call */
  int rc = rpc_client_call(c->node, "delegations", p, c->timeout_ms, &d, NULL, &eb);
  json_decref(p);
  if (rc) return 0;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(d, "executor_waiting"), i, e) {
    if (!strcmp(js(e, "executor"), exa)) core_parse_u64(js(e, "amount"), &amt);
  }
  json_decref(d);
  return amt;
}

static int send_tx(const cli_ctx *c, const char *path, const sopt *o, int n, Cohort__TxBody *b,
                const char *what) {
  core_key k;
  const char *from = get(o, n, "--from");
  if (cli_load_key(c, from ? from : "dev", &k)) return 1;
  uint64_t fee = 0;
  if (num(path, o, n, "--fee", 0, 0, UINT64_MAX, &fee)) {
    core_key_wipe(&k);
    return 2;
  }
  b->fee = fee;
  json_t *r = NULL;
  int wait = get(o, n, "--no-wait") == NULL;
  int ret = cli_send(c, &k, b, 0, wait, &r);
  core_key_wipe(&k);
  if (ret == 0 || ret == 3) {
    const char *h = js(r, "hash");
    if (c->json) cli_print_json(r);
    else if (get(o, n, "-q") || get(o, n, "--quiet")) printf("%s\n", h);
    else if (!wait) printf("accepted tx %s; check it with: cohort tx %s\n", h, h);
    else if (ret == 0)
      printf("%s: committed at height %lld (tx %s)\n", what,
             (long long)json_integer_value(json_object_get(r, "height")), h);
  }
  json_decref(r);
  return ret;
}

#define TX_FLAGS "--from", "--fee"
#define TX_BOOL "--no-wait", "-q", "--quiet"

static int resolve(const cli_ctx *c, const char *path, const char *who, uint8_t id[20]) {
  char msg[96], addr[CORE_ADDR_STR_MAX];
  snprintf(msg, sizeof msg, "cohort %s", path);
  return cli_resolve_address(c, msg, who, id, addr) ? 2 : 0;
}

/* ---- show ---- */

static void print_validator(json_t *v) {
  char a[CLI_TOKENS_MAX];
  printf("validator    %s  \"%s\"\n", js(v, "operator"), js(v, "moniker"));
  printf("  key        %s\n", js(v, "pubkey"));
  printf("  status     %s%s", js(v, "status"),
         json_is_true(json_object_get(v, "in_set")) ? ", in the set" : ", not in the set");
  if (json_is_true(json_object_get(v, "jailed")) && json_is_integer(json_object_get(v, "jailed_until")))
    printf(" (Unjail allowed from height %lld)",
           (long long)json_integer_value(json_object_get(v, "jailed_until")));
  printf("\n  tokens     %s (self-bond %s)\n", cli_fmt_tokens(a, js(v, "tokens"), "STK"),
         js(v, "self_bond"));
  printf("  commission %lld bps (max %lld, change <= %lld per edit); owed %s\n",
         (long long)json_integer_value(json_object_get(v, "commission_bps")),
         (long long)json_integer_value(json_object_get(v, "max_commission_bps")),
         (long long)json_integer_value(json_object_get(v, "max_change_bps")),
         cli_fmt_tokens(a, js(v, "commission_owed"), "CRD"));
  if (json_is_integer(json_object_get(v, "commission_next_at")))
    printf("  announced  %lld bps, in force after block %lld\n",
           (long long)json_integer_value(json_object_get(v, "commission_next_bps")),
           (long long)json_integer_value(json_object_get(v, "commission_next_at")));
  printf("  missed     %lld blocks of the window\n",
         (long long)json_integer_value(json_object_get(v, "missed_blocks")));
}

static int cmd_show(const cli_ctx *c, const char *who) {
  uint8_t id[20];
  char addr[CORE_ADDR_STR_MAX];
  if (cli_resolve_address(c, "cohort stake show", who, id, addr)) return 2;
  json_t *v = NULL, *d = NULL, *u = NULL, *rw = NULL;
  core_errbuf eb;
  json_t *p = json_pack("{s:s}", "operator", addr);
  /* not a validator is an answer, not an error: ask quietly */
  if (rpc_client_call(c->node, "validator_get", p, c->timeout_ms, &v, NULL, &eb)) v = NULL;
  json_decref(p);
  int ret = 1;
  if (cli_call(c, "delegations", json_pack("{s:s}", "delegator", addr), &d) ||
      cli_call(c, "rewards", json_pack("{s:s}", "delegator", addr), &rw) ||
      cli_call(c, "unbondings", json_pack("{s:s}", "delegator", addr), &u))
    goto out;
  ret = 0;
  if (c->json) {
    json_t *all = json_pack("{s:s, s:O, s:O, s:O, s:O}", "address", addr, "validator",
                            v ? v : json_null(), "delegations", d, "rewards", rw, "unbondings", u);
    cli_print_json(all);
    json_decref(all);
    goto out;
  }
  char a[CLI_TOKENS_MAX], b[CLI_TOKENS_MAX];
  printf("account      %s\n", addr);
  if (v) print_validator(v);
  json_t *arr = json_object_get(d, "delegations"), *e;
  size_t i;
  printf("delegations  %zu, worth %s\n", json_array_size(arr),
         cli_fmt_tokens(a, js(d, "total_value"), "STK"));
  json_array_foreach(arr, i, e) {
    printf("  %s  %-10s %s  reward %s\n", js(e, "validator"), js(e, "status"),
           cli_fmt_tokens(a, js(e, "value"), "STK"), cli_fmt_tokens(b, js(e, "pending_reward"), "CRD"));
  }
  arr = json_object_get(d, "executor_delegations");
  if (json_array_size(arr)) {
    printf("to executors %zu, worth %s\n", json_array_size(arr),
           cli_fmt_tokens(a, js(d, "executor_total_value"), "STK"));
    json_array_foreach(arr, i, e) {
      printf("  %s  %s  reward %s\n", js(e, "executor"), cli_fmt_tokens(a, js(e, "value"), "STK"),
             cli_fmt_tokens(b, js(e, "pending_reward"), "CRD"));
    }
  }
  arr = json_object_get(d, "executor_waiting");
  json_array_foreach(arr, i, e) {
    printf("  %s  %s  waiting: made at height %lld while it held seats; bonded (paid, weighed, "
           "slashable) once it holds none; undelegate takes it back at once\n",
           js(e, "executor"), cli_fmt_tokens(a, js(e, "amount"), "STK"),
           (long long)json_integer_value(json_object_get(e, "since")));
  }
  printf("rewards      %s to withdraw", cli_fmt_tokens(a, js(rw, "total"), "CRD"));
  if (json_is_string(json_object_get(rw, "commission")))
    printf(" (commission %s)", cli_fmt_tokens(b, js(rw, "commission"), "CRD"));
  printf("\n");
  arr = json_object_get(u, "unbondings");
  {
    uint64_t t1 = 0, t2 = 0;
    core_parse_u64(js(u, "total"), &t1);
    if (json_is_string(json_object_get(u, "executor_total")))
      core_parse_u64(js(u, "executor_total"), &t2);
    size_t ne = json_array_size(arr) + json_array_size(json_object_get(u, "executor_unbondings"));
    cli_fmt_tokens_u64(a, t1 + t2 < t1 ? UINT64_MAX : t1 + t2, "STK");
    printf("unbonding    %zu entr%s, %s\n", ne, ne == 1 ? "y" : "ies", a);
  }
  json_array_foreach(arr, i, e) {
    printf("  from %s  %s  paid at the end of block %lld\n", js(e, "validator"),
           cli_fmt_tokens(a, js(e, "amount"), "STK"),
           (long long)json_integer_value(json_object_get(e, "release_height")));
  }
  arr = json_object_get(u, "executor_unbondings");
  json_array_foreach(arr, i, e) {
    printf("  from executor %s  %s  paid at the end of block %lld\n", js(e, "executor"),
           cli_fmt_tokens(a, js(e, "amount"), "STK"),
           (long long)json_integer_value(json_object_get(e, "release_height")));
  }
  arr = json_object_get(u, "redelegations");
  json_array_foreach(arr, i, e) {
    printf("  redelegated %s -> %s  %s  (slashable for the source until %lld)\n", js(e, "src"),
           js(e, "dst"), cli_fmt_tokens(a, js(e, "initial"), "STK"),
           (long long)json_integer_value(json_object_get(e, "release_height")));
  }
  if (json_is_string(json_object_get(u, "next")))
    printf("  (more entries: the unbondings RPC pages them with \"after\")\n");
  printf("as of        height %lld\n", (long long)json_integer_value(json_object_get(d, "height")));
out:
  json_decref(v);
  json_decref(d);
  json_decref(u);
  json_decref(rw);
  return ret;
}

/* ---- the transactions ---- */

int cli_cmd_stake(const cli_ctx *c, int argc, char **argv) {
  if (argc < 1) {
    cli_help("stake", stderr);
    return 2;
  }
  const char *sub = argv[0];
  char path[48];
  snprintf(path, sizeof path, "stake %.30s", sub);
  sopt o[24];
  const char *pos;
  int n;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  argc--, argv++;
  if (!strcmp(sub, "show")) {
    static const char *const wv[] = {"--from", NULL}, *const fl[] = {NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    return cmd_show(c, pos ? pos : get(o, n, "--from") ? get(o, n, "--from") : "dev");
  }
  if (!strcmp(sub, "create-validator")) {
    static const char *const wv[] = {"--pubkey", "--beacon-commit", "--self-bond", "--moniker",
                                     "--commission", "--max-commission", "--max-change",
                                     TX_FLAGS, NULL},
                             *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    Cohort__MsgCreateValidator m = COHORT__MSG_CREATE_VALIDATOR__INIT;
    uint8_t pk[32], bc[32];
    uint64_t bond, comm, maxc, maxch;
    if (hex32(path, o, n, "--pubkey", pk) || hex32(path, o, n, "--beacon-commit", bc) ||
        num(path, o, n, "--self-bond", 1, 0, UINT64_MAX, &bond) ||
        num(path, o, n, "--commission", 0, 500, 10000, &comm) ||
        num(path, o, n, "--max-commission", 0, 2000, 10000, &maxc) ||
        num(path, o, n, "--max-change", 0, 100, 10000, &maxch))
      return 2;
    const char *mon = get(o, n, "--moniker");
    if (mon && strlen(mon) > TX_MONIKER_MAX)
      return cli_usage_error(path, "--moniker is longer than %d bytes", TX_MONIKER_MAX);
    if (comm > maxc || maxch > maxc)
      return cli_usage_error(path, "needs --commission <= --max-commission and --max-change <= "
                             "--max-commission");
    m.pubkey = (ProtobufCBinaryData){32, pk};
    m.beacon_commit = (ProtobufCBinaryData){32, bc};
    m.moniker = (char *)(mon ? mon : "");
    m.commission_bps = (uint32_t)comm;
    m.max_commission_bps = (uint32_t)maxc;
    m.max_change_bps = (uint32_t)maxch;
    m.self_bond = bond;
    b.msg_case = COHORT__TX_BODY__MSG_CREATE_VALIDATOR;
    b.create_validator = &m;
    int rc = send_tx(c, path, o, n, &b, "validator created; it signs from two blocks on if it ranks");
    if (rc == 0 && !c->json)
      printf("  (its node must run with that key and beacon seed: cohortd start --home ...)\n");
    return rc;
  }
  if (!strcmp(sub, "edit-validator")) {
    static const char *const wv[] = {"--moniker", "--commission", TX_FLAGS, NULL},
                             *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    Cohort__MsgEditValidator m = COHORT__MSG_EDIT_VALIDATOR__INIT;
    uint64_t comm;
    if (num(path, o, n, "--commission", 0, 0, 10000, &comm)) return 2;
    const char *mon = get(o, n, "--moniker");
    if (!mon && !get(o, n, "--commission"))
      return cli_usage_error(path, "nothing to change: give --moniker and/or --commission");
    if (mon && strlen(mon) > TX_MONIKER_MAX)
      return cli_usage_error(path, "--moniker is longer than %d bytes", TX_MONIKER_MAX);
    m.moniker = (char *)(mon ? mon : "");
    m.set_moniker = mon != NULL;
    m.commission_bps = (uint32_t)comm;
    m.set_commission = get(o, n, "--commission") != NULL;
    b.msg_case = COHORT__TX_BODY__MSG_EDIT_VALIDATOR;
    b.edit_validator = &m;
    return send_tx(c, path, o, n, &b, "validator edited");
  }
  if (!strcmp(sub, "delegate") || !strcmp(sub, "undelegate")) {
    static const char *const wv[] = {"--validator", "--executor", "--amount", TX_FLAGS, NULL},
                             *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    const char *val = get(o, n, "--validator"), *ex = get(o, n, "--executor");
    if (!val == !ex) return cli_usage_error(path, "give --validator or --executor (one of them)");
    uint8_t op[20];
    uint64_t amt;
    if (resolve(c, path, val ? val : ex, op) || num(path, o, n, "--amount", 1, 0, UINT64_MAX, &amt))
      return 2;
    if (!amt) return cli_usage_error(path, "--amount must be > 0");
    Cohort__MsgDelegate d = COHORT__MSG_DELEGATE__INIT;
    Cohort__MsgUndelegate u = COHORT__MSG_UNDELEGATE__INIT;
    Cohort__MsgDelegateExecutor xd = COHORT__MSG_DELEGATE_EXECUTOR__INIT;
    Cohort__MsgUndelegateExecutor xu = COHORT__MSG_UNDELEGATE_EXECUTOR__INIT;
    char a[CLI_TOKENS_MAX], what[CLI_TOKENS_MAX + 160];
    cli_fmt_tokens_u64(a, amt, "STK");
    if (ex && sub[0] == 'd') { /* to an executor (docs/staking.md §8) */
      xd.executor = (ProtobufCBinaryData){20, op};
      xd.amount = amt;
      b.msg_case = COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR;
      b.delegate_executor = &xd;
      snprintf(what, sizeof what, "delegated %s to the executor", a);
      uint64_t w0 = waiting_at(c, o, n, op);
      int rc = send_tx(c, path, o, n, &b, what);
      uint64_t w1 = rc || get(o, n, "--no-wait") ? w0 : waiting_at(c, o, n, op);
      if (w1 > w0 && !c->json)
        printf("  it holds seats: the delegation waits (not weighed, paid or slashed) until it "
               "holds none, then is bonded; `cohort stake show` lists it and `cohort stake "
               "undelegate --executor` takes it back at once (docs/staking.md §8)\n");
      return rc;
    } else if (ex) {
      xu.executor = (ProtobufCBinaryData){20, op};
      xu.amount = amt;
      b.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR;
      b.undelegate_executor = &xu;
      if (waiting_at(c, o, n, op))
        snprintf(what, sizeof what, "took back %s of the delegation waiting at the executor "
                 "(back in the balance now: it never backed a seat)", a);
      else
        snprintf(what, sizeof what, "undelegating %s from the executor (paid after the "
                 "unbonding period)", a);
    } else if (sub[0] == 'd') {
      d.validator = (ProtobufCBinaryData){20, op};
      d.amount = amt;
      b.msg_case = COHORT__TX_BODY__MSG_DELEGATE;
      b.delegate = &d;
      snprintf(what, sizeof what, "delegated %s", a);
    } else {
      u.validator = (ProtobufCBinaryData){20, op};
      u.amount = amt;
      b.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE;
      b.undelegate = &u;
      snprintf(what, sizeof what, "undelegating %s (paid after the unbonding period)", a);
    }
    return send_tx(c, path, o, n, &b, what);
  }
  if (!strcmp(sub, "redelegate")) {
    static const char *const wv[] = {"--src", "--dst", "--amount", TX_FLAGS, NULL},
                             *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    if (!get(o, n, "--src") || !get(o, n, "--dst"))
      return cli_usage_error(path, "missing --src or --dst");
    uint8_t src[20], dst[20];
    uint64_t amt;
    if (resolve(c, path, get(o, n, "--src"), src) || resolve(c, path, get(o, n, "--dst"), dst) ||
        num(path, o, n, "--amount", 1, 0, UINT64_MAX, &amt))
      return 2;
    if (!amt) return cli_usage_error(path, "--amount must be > 0");
    Cohort__MsgRedelegate m = COHORT__MSG_REDELEGATE__INIT;
    m.src = (ProtobufCBinaryData){20, src};
    m.dst = (ProtobufCBinaryData){20, dst};
    m.amount = amt;
    b.msg_case = COHORT__TX_BODY__MSG_REDELEGATE;
    b.redelegate = &m;
    return send_tx(c, path, o, n, &b, "redelegated");
  }
  if (!strcmp(sub, "withdraw-rewards")) {
    static const char *const wv[] = {"--validator", "--executor", TX_FLAGS, NULL},
                             *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    Cohort__MsgWithdrawRewards m = COHORT__MSG_WITHDRAW_REWARDS__INIT;
    uint8_t op[20];
    if (get(o, n, "--validator") && get(o, n, "--executor"))
      return cli_usage_error(path, "give --validator or --executor, not both (neither: every "
                             "delegation)");
    if (get(o, n, "--validator")) {
      if (resolve(c, path, get(o, n, "--validator"), op)) return 2;
      m.validator = (ProtobufCBinaryData){20, op};
    } else if (get(o, n, "--executor")) {
      if (resolve(c, path, get(o, n, "--executor"), op)) return 2;
      m.executor = (ProtobufCBinaryData){20, op};
    }
    b.msg_case = COHORT__TX_BODY__MSG_WITHDRAW_REWARDS;
    b.withdraw_rewards = &m;
    /* say what it will pay (the rewards RPC, just before; the block may add a little) */
    char what[CLI_TOKENS_MAX + 64] = "rewards withdrawn";
    core_key k;
    const char *from = get(o, n, "--from");
    if (!c->json && !cli_load_key(c, from ? from : "dev", &k)) {
      uint8_t me[20];
      char addr[CORE_ADDR_STR_MAX];
      core_account_id(me, k.pub);
      core_key_wipe(&k);
      core_addr_encode(addr, me);
      json_t *rw;
      if (!cli_call(c, "rewards", json_pack("{s:s}", "delegator", addr), &rw)) {
        const char *want = NULL, *field = NULL;
        char t[CORE_ADDR_STR_MAX];
        if (m.validator.len) core_addr_encode(t, op), want = t, field = "validator";
        if (m.executor.len) core_addr_encode(t, op), want = t, field = "executor";
        const char *amt = js(rw, "total");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(rw, "rewards"), i, e) {
          if (want && json_is_string(json_object_get(e, field)) && !strcmp(js(e, field), want))
            amt = js(e, "reward");
        }
        char a[CLI_TOKENS_MAX];
        snprintf(what, sizeof what, "rewards withdrawn (%s pending)", cli_fmt_tokens(a, amt, "CRD"));
        json_decref(rw);
      }
    }
    return send_tx(c, path, o, n, &b, what);
  }
  if (!strcmp(sub, "unjail")) {
    static const char *const wv[] = {TX_FLAGS, NULL}, *const fl[] = {TX_BOOL, NULL};
    if ((n = parse(path, argc, argv, wv, fl, o, 24, &pos)) < 0) return 2;
    if (pos) return cli_usage_error(path, "unexpected argument %s", pos);
    Cohort__MsgUnjail m = COHORT__MSG_UNJAIL__INIT;
    b.msg_case = COHORT__TX_BODY__MSG_UNJAIL;
    b.unjail = &m;
    return send_tx(c, path, o, n, &b, "unjailed: back in the power index");
  }
  fprintf(stderr, "cohort stake: unknown subcommand \"%s\"\n", sub);
  cli_help("stake", stderr);
  return 2;
}
