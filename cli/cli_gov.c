/* cli/cli_gov.c — `cohort gov propose|deposit|vote|show|list` and `cohort
 * params`: governance from the command line (docs/staking.md §5 and
 * "Passing a parameter change"). Transactions are sent with cli_send and
 * wait for their block, as the market's are; amounts are base units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/parse.h"
#include "proto/gov.h"
#include "proto/tx.h"

#define MAX_OPTS 48

typedef struct {
  const char *name, *val;
} gopt;

/* argv against flags with a value (wv) and without (fl); positional
 * arguments into pos (at most npos). Returns the options found, or -1
 * after printing what is wrong. */
static int parse(const char *path, int argc, char **argv, const char *const *wv,
                 const char *const *fl, gopt *o, const char **pos, int npos, int *gotpos) {
  int n = 0;
  *gotpos = 0;
  for (int i = 0; i < argc; i++) {
    int known = 0;
    for (const char *const *f = fl; *f && !known; f++)
      if (!strcmp(argv[i], *f)) o[n++] = (gopt){*f, "1"}, known = 1;
    for (const char *const *w = wv; *w && !known; w++)
      if (!strcmp(argv[i], *w)) {
        if (i + 1 >= argc) {
          cli_usage_error(path, "%s needs a value", argv[i]);
          return -1;
        }
        o[n++] = (gopt){*w, argv[++i]};
        known = 1;
      }
    if (!known) {
      if (argv[i][0] == '-' && argv[i][1]) {
        cli_usage_error(path, "unknown option %s", argv[i]);
        return -1;
      }
      if (*gotpos >= npos) {
        cli_usage_error(path, "unexpected argument \"%s\"", argv[i]);
        return -1;
      }
      pos[(*gotpos)++] = argv[i];
    }
    if (n >= MAX_OPTS) {
      cli_usage_error(path, "too many options");
      return -1;
    }
  }
  return n;
}

static const char *get(const gopt *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(o[i].name, name)) return o[i].val;
  return NULL;
}

static const char *js(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}
static long long ji(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

static int parse_id(const char *path, const char *s, uint64_t *id) {
  if (!s || core_parse_u64(s, id) || *id == 0)
    return cli_usage_error(path, "the proposal ID must be a positive integer, got \"%s\"",
                           s ? s : "");
  return 0;
}

/* A value of a parameter, as JSON gives it (integer or decimal string). */
static const char *val_str(json_t *v, char buf[24]) {
  if (json_is_integer(v)) snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
  else snprintf(buf, 24, "%s", json_string_value(v) ? json_string_value(v) : "?");
  return buf;
}

/* Send b from --from (default dev) and print what happened. */
static int send(const cli_ctx *c, const char *path, const gopt *o, int n, Cohort__TxBody *b,
                json_t **res) {
  core_key k;
  const char *from = get(o, n, "--from");
  if (cli_load_key(c, from ? from : "dev", &k)) return 1;
  int ret = cli_send(c, &k, b, 0, 1, res);
  core_key_wipe(&k);
  (void)path;
  return ret;
}

/* ---- propose ---- */

static int cmd_propose(const cli_ctx *c, int argc, char **argv) {
  static const char *const wv[] = {"--param", "--apply-height", "--to", "--amount", "--title",
                                   "--description", "--deposit", "--from", NULL},
                           *const fl[] = {"--text", "--spend", NULL};
  const char *path = "gov propose";
  gopt o[MAX_OPTS];
  const char *pos[1];
  int np;
  int n = parse(path, argc, argv, wv, fl, o, pos, 0, &np);
  if (n < 0) return 2;
  int nparam = 0;
  for (int i = 0; i < n; i++) nparam += !strcmp(o[i].name, "--param");
  int text = get(o, n, "--text") != NULL, spend = get(o, n, "--spend") != NULL;
  if ((nparam > 0) + text + spend != 1)
    return cli_usage_error(path, "give exactly one kind: --param KEY=VALUE (repeatable), --text "
                           "or --spend");
  const char *title = get(o, n, "--title");
  if (!title) return cli_usage_error(path, "missing --title TEXT");
  if (nparam > GOV_CHANGES_MAX)
    return cli_usage_error(path, "at most %d --param changes in one proposal", GOV_CHANGES_MAX);
  if ((get(o, n, "--to") || get(o, n, "--amount")) && !spend)
    return cli_usage_error(path, "--to and --amount belong to --spend");
  if (get(o, n, "--apply-height") && !nparam)
    return cli_usage_error(path, "--apply-height belongs to a parameter change (--param)");
  Cohort__MsgSubmitProposal m = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  Cohort__ParamChange ch[GOV_CHANGES_MAX], *chp[GOV_CHANGES_MAX];
  char names[GOV_CHANGES_MAX][GOV_PARAM_NAME_MAX + 1];
  m.title = (char *)title;
  m.description = (char *)(get(o, n, "--description") ? get(o, n, "--description") : "");
  uint8_t to[20];
  if (nparam) {
    m.kind = GOV_KIND_PARAMS;
    for (int i = 0; i < n; i++) {
      if (strcmp(o[i].name, "--param")) continue;
      const char *eq = strchr(o[i].val, '=');
      size_t nl = eq ? (size_t)(eq - o[i].val) : 0;
      uint64_t v;
      if (!eq || nl == 0 || nl > GOV_PARAM_NAME_MAX || core_parse_u64(eq + 1, &v))
        return cli_usage_error(path, "--param \"%s\": expected NAME=VALUE with a parameter's "
                               "name and a non-negative integer (see: cohort params)", o[i].val);
      size_t k = m.n_changes++;
      memcpy(names[k], o[i].val, nl);
      names[k][nl] = 0;
      cohort__param_change__init(&ch[k]);
      ch[k].name = names[k];
      ch[k].value = v;
      chp[k] = &ch[k];
    }
    m.changes = chp;
    const char *ah = get(o, n, "--apply-height");
    if (ah && core_parse_u64(ah, &m.apply_height))
      return cli_usage_error(path, "--apply-height \"%s\" must be a block height", ah);
  } else if (text) {
    m.kind = GOV_KIND_TEXT;
  } else {
    m.kind = GOV_KIND_SPEND;
    const char *who = get(o, n, "--to"), *amt = get(o, n, "--amount");
    if (!who || !amt) return cli_usage_error(path, "--spend needs --to ADDR and --amount N");
    char addr[CORE_ADDR_STR_MAX];
    if (cli_resolve_address(c, "cohort gov propose: --to", who, to, addr)) return 2;
    if (core_parse_u64(amt, &m.amount) || !m.amount)
      return cli_usage_error(path, "--amount must be a positive integer of CRD base units");
    m.recipient = (ProtobufCBinaryData){20, to};
  }
  /* The deposit: by default what starts the vote at once (gov_min_deposit). */
  json_t *st = NULL;
  const char *dep = get(o, n, "--deposit");
  if (dep) {
    if (core_parse_u64(dep, &m.deposit))
      return cli_usage_error(path, "--deposit must be an integer of STK base units");
  } else {
    Cohort__Params par;
    if (cli_call(c, "status", NULL, &st)) return 1;
    int bad = cli_status_params(c, st, &par);
    json_decref(st);
    if (bad) return 1;
    m.deposit = par.gov_min_deposit;
  }
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
  b.submit_proposal = &m;
  json_t *r = NULL;
  int ret = send(c, path, o, n, &b, &r);
  if (ret == 0) {
    /* the result's log names the proposal: "proposal N: voting" */
    const char *log = js(r, "log");
    unsigned long long id = 0;
    sscanf(log, "proposal %llu", &id);
    if (c->json) {
      json_object_set_new(r, "proposal", json_integer((json_int_t)id));
      cli_print_json(r);
    } else {
      char d[CLI_TOKENS_MAX];
      printf("proposal %llu submitted at height %lld with a deposit of %s: %s\n", id,
             ji(r, "height"), cli_fmt_tokens_u64(d, m.deposit, "STK"),
             strstr(log, "voting") ? "voting has started" : "in its deposit period");
      printf("  follow it: cohort gov show %llu\n", id);
    }
  }
  json_decref(r);
  return ret;
}

/* ---- deposit, vote ---- */

static int cmd_deposit_vote(const cli_ctx *c, int is_vote, int argc, char **argv) {
  static const char *const wv[] = {"--from", NULL}, *const fl[] = {NULL};
  const char *path = is_vote ? "gov vote" : "gov deposit";
  gopt o[MAX_OPTS];
  const char *pos[2];
  int np;
  int n = parse(path, argc, argv, wv, fl, o, pos, 2, &np);
  if (n < 0) return 2;
  if (np != 2)
    return cli_usage_error(path, is_vote ? "give ID and yes|no|abstain|veto" : "give ID and AMOUNT");
  uint64_t id;
  if (parse_id(path, pos[0], &id)) return 2;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgVote v = COHORT__MSG_VOTE__INIT;
  Cohort__MsgDeposit d = COHORT__MSG_DEPOSIT__INIT;
  if (is_vote) {
    v.proposal = id;
    if (!(v.option = gov_option_parse(pos[1])))
      return cli_usage_error(path, "the vote \"%s\" must be yes, no, abstain or veto", pos[1]);
    b.msg_case = COHORT__TX_BODY__MSG_VOTE;
    b.vote = &v;
  } else {
    d.proposal = id;
    if (core_parse_u64(pos[1], &d.amount) || !d.amount)
      return cli_usage_error(path, "AMOUNT must be a positive integer of STK base units");
    b.msg_case = COHORT__TX_BODY__MSG_DEPOSIT;
    b.deposit = &d;
  }
  json_t *r = NULL;
  int ret = send(c, path, o, n, &b, &r);
  if (ret == 0) {
    char a[CLI_TOKENS_MAX];
    if (c->json) cli_print_json(r);
    else if (is_vote)
      printf("voted %s on proposal %llu at height %lld (the last vote counts; delegators of "
             "your validator who do not vote follow yours)\n", gov_option_name(v.option),
             (unsigned long long)id, ji(r, "height"));
    else
      printf("deposited %s on proposal %llu at height %lld\n",
             cli_fmt_tokens_u64(a, d.amount, "STK"), (unsigned long long)id, ji(r, "height"));
  }
  json_decref(r);
  return ret;
}

/* ---- show, list ---- */

static void print_tally(json_t *t) {
  static const char *const rows[][2] = {{"yes", "yes"}, {"no", "no"}, {"abstain", "abstain"},
                                        {"veto", "no with veto"}, {"bonded", "bonded"}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char a[CLI_TOKENS_MAX];
    printf("  %-12s %s\n", rows[i][1], cli_fmt_tokens(a, js(t, rows[i][0]), "STK"));
  }
}

static void print_proposal(json_t *p, json_t *tally) {
  char a[CLI_TOKENS_MAX], b[CLI_TOKENS_MAX];
  printf("proposal     %lld: %s\n", ji(p, "id"), js(p, "title"));
  printf("kind         %s\n", js(p, "kind"));
  printf("status       %s\n", js(p, "status"));
  printf("proposer     %s\n", js(p, "proposer"));
  if (*js(p, "description")) printf("description  %s\n", js(p, "description"));
  printf("submitted    at height %lld; deposit period until %lld\n", ji(p, "submit_height"),
         ji(p, "deposit_end"));
  printf("deposits     %s of the %s that start the vote\n",
         cli_fmt_tokens(a, js(p, "total_deposit"), "STK"),
         cli_fmt_tokens(b, js(p, "min_deposit"), "STK"));
  if (json_object_get(p, "voting_end"))
    printf("voting       heights %lld to %lld\n", ji(p, "voting_start"), ji(p, "voting_end"));
  json_t *ch = json_object_get(p, "changes"), *e;
  size_t i;
  json_array_foreach(ch, i, e) {
    char v[24];
    printf("%-12s %s = %s\n", i ? "" : "changes", js(e, "name"),
           val_str(json_object_get(e, "value"), v));
  }
  if (ch) {
    long long ah = ji(p, "apply_height"), done = ji(p, "applied_height");
    if (done) printf("applied      in force from height %lld\n", done);
    else if (ah) printf("applies      from height %lld if it passes\n", ah);
    else printf("applies      from the block after the tally if it passes\n");
  }
  if (json_object_get(p, "recipient"))
    printf("spend        %s to %s from the community pool\n",
           cli_fmt_tokens(a, js(p, "amount"), "CRD"), js(p, "recipient"));
  if (*js(p, "failed_reason")) printf("failed       %s\n", js(p, "failed_reason"));
  if (tally && json_is_true(json_object_get(tally, "final"))) {
    printf("tally        final, at height %lld: %s\n", ji(p, "final_height"), js(tally, "outcome"));
    print_tally(tally);
  } else if (tally) {
    long long nv = ji(tally, "votes");
    printf("tally        running: %lld vote%s so far; if it ended now: %s\n", nv,
           nv == 1 ? "" : "s", js(tally, "outcome_if_ended_now"));
    print_tally(tally);
  }
}

static int cmd_show(const cli_ctx *c, int argc, char **argv) {
  static const char *const none[] = {NULL};
  gopt o[MAX_OPTS];
  const char *pos[1];
  int np;
  if (parse("gov show", argc, argv, none, none, o, pos, 1, &np) < 0) return 2;
  if (np != 1) return cli_usage_error("gov show", "give one proposal ID");
  uint64_t id;
  if (parse_id("gov show", pos[0], &id)) return 2;
  json_t *p, *t = NULL;
  if (cli_call(c, "proposal_get", json_pack("{s:I}", "id", (json_int_t)id), &p)) return 1;
  const char *stn = js(p, "status");
  if (strcmp(stn, "deposit") && strcmp(stn, "expired") &&
      cli_call(c, "tally", json_pack("{s:I}", "id", (json_int_t)id), &t))
    t = NULL;
  if (c->json) {
    if (t) json_object_set(p, "tally_now", t);
    cli_print_json(p);
  } else {
    print_proposal(p, t);
  }
  json_decref(p);
  json_decref(t);
  return 0;
}

static int cmd_list(const cli_ctx *c, int argc, char **argv) {
  static const char *const wv[] = {"--status", "--limit", NULL}, *const none[] = {NULL};
  gopt o[MAX_OPTS];
  const char *pos[1];
  int np;
  int n = parse("gov list", argc, argv, wv, none, o, pos, 0, &np);
  if (n < 0) return 2;
  json_t *params = json_object();
  const char *s = get(o, n, "--status"), *l = get(o, n, "--limit");
  if (s) {
    if (!gov_status_parse(s)) {
      json_decref(params);
      return cli_usage_error("gov list", "--status must be deposit, voting, passed, rejected, "
                             "vetoed, no_quorum, expired or failed");
    }
    json_object_set_new(params, "status", json_string(s));
  }
  if (l) {
    uint64_t v;
    if (core_parse_u64(l, &v) || v < 1 || v > 1000) {
      json_decref(params);
      return cli_usage_error("gov list", "--limit must be 1 to 1000");
    }
    json_object_set_new(params, "limit", json_integer((json_int_t)v));
  }
  json_t *r;
  if (cli_call(c, "proposal_list", params, &r)) return 1;
  if (c->json) {
    cli_print_json(r);
  } else {
    json_t *arr = json_object_get(r, "proposals"), *p;
    size_t i;
    if (!json_array_size(arr))
      printf("no proposals%s%s (as of height %lld); make one with: cohort gov propose --title "
             "TEXT --text\n", s ? " with status " : "", s ? s : "", ji(r, "height"));
    else
      printf("%5s  %-9s %-7s %-10s %s\n", "id", "status", "kind", "ends", "title");
    json_array_foreach(arr, i, p) {
      const char *stn = js(p, "status");
      long long ends = !strcmp(stn, "deposit") ? ji(p, "deposit_end")
                       : !strcmp(stn, "voting") ? ji(p, "voting_end") : ji(p, "final_height");
      printf("%5lld  %-9s %-7s %-10lld %s\n", ji(p, "id"), stn, js(p, "kind"), ends,
             js(p, "title"));
    }
  }
  json_decref(r);
  return 0;
}

int cli_cmd_gov(const cli_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (!strcmp(sub, "propose")) return cmd_propose(c, argc - 1, argv + 1);
  if (!strcmp(sub, "deposit")) return cmd_deposit_vote(c, 0, argc - 1, argv + 1);
  if (!strcmp(sub, "vote")) return cmd_deposit_vote(c, 1, argc - 1, argv + 1);
  if (!strcmp(sub, "show")) return cmd_show(c, argc - 1, argv + 1);
  if (!strcmp(sub, "list")) return cmd_list(c, argc - 1, argv + 1);
  fprintf(stderr, "cohort gov: unknown subcommand \"%s\"\n", sub);
  cli_help("gov", stderr);
  return 2;
}

/* ---- params ---- */

int cli_cmd_params(const cli_ctx *c, int argc, char **argv) {
  static const char *const none[] = {NULL};
  gopt o[MAX_OPTS];
  const char *pos[1];
  int np;
  if (parse("params", argc, argv, none, none, o, pos, 1, &np) < 0) return 2;
  json_t *r;
  if (cli_call(c, "params", np ? json_pack("{s:s}", "name", pos[0]) : NULL, &r)) return 1;
  if (c->json) {
    cli_print_json(r);
    json_decref(r);
    return 0;
  }
  json_t *arr = json_object_get(r, "params"), *p;
  size_t i;
  printf("%-26s %22s %8s  %s\n", "parameter", "value", "since", "bounds");
  json_array_foreach(arr, i, p) {
    char v[24], lo[24], hi[24];
    long long since = ji(p, "since");
    char sn[24];
    if (since) snprintf(sn, sizeof sn, "%lld", since);
    else snprintf(sn, sizeof sn, "genesis");
    printf("%-26s %22s %8s  %s..%s\n", js(p, "name"), val_str(json_object_get(p, "value"), v), sn,
           val_str(json_object_get(p, "min"), lo), val_str(json_object_get(p, "max"), hi));
    if (np) printf("\n%s\n(default %s; change it with: cohort gov propose --param %s=VALUE "
                   "--title TEXT)\n", js(p, "doc"), val_str(json_object_get(p, "default"), v),
                   js(p, "name"));
  }
  printf("as of height %lld; since = the first block run with that value\n", ji(r, "height"));
  json_decref(r);
  return 0;
}
