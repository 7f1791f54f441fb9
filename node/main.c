/* node/main.c — the cohortd command line: init | start | testnet |
 * show-node-id | params | version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/parse.h"
#include "genesis/params.h"
#include "node/config.h"
#include "node/node.h"

#define COHORT_STR_(x) #x
#define COHORT_STR(x) COHORT_STR_(x)

#define COHORTD_VERSION "0.1.0"

/* One entry per command: its usage, its flags (one line each, required
 * ones marked, defaults shown) and an example. A command accepts exactly
 * the flags in its `accepts` list. */
typedef struct {
  const char *name, *summary, *usage, *flags, *notes, *example;
  const char *const accepts[12];
} cmd_help;

#define HOME_FLAG                                                                                \
  "  --home DIR           the node's home directory (default: $COHORT_HOME or ~/.cohort)\n"

static const cmd_help cmds[] = {
    {"init", "create a home directory: config, devnet genesis, keys", "cohortd init [flags]",
     HOME_FLAG
     "  --chain-id ID        the chain ID written to genesis (default: cohort-devnet- + 6 random hex)\n"
     "  --moniker NAME       the node's name (default: cohort-node)\n"
     "  --rpc-listen H:P     [rpc] listen of the new config (default: 127.0.0.1:27657)\n"
     "  --p2p-listen H:P     [p2p] listen of the new config, \"\" = none (default: 127.0.0.1:26656)\n",
     "Writes cohortd.conf, config/genesis.json (one validator: this node; one funded dev\n"
     "account), the validator, node and dev keys. Never overwrites a key; refuses a home\n"
     "that already has a genesis.\n",
     "cohortd init --home /tmp/tour --rpc-listen 127.0.0.1:27700 --moniker tour",
     {"--home", "--chain-id", "--moniker", "--rpc-listen", "--p2p-listen", NULL}},
    {"start", "run the node (foreground; SIGINT or SIGTERM stops it cleanly)", "cohortd start [flags]",
     HOME_FLAG
     "  --rpc-listen H:P     RPC address for this run (default: [rpc] listen of cohortd.conf)\n"
     "  --p2p-listen H:P     peer-to-peer address for this run, \"\" = none (default: [p2p] listen)\n"
     "  --log-level LEVEL    debug, info, warn, error or off (default: [node] log_level, info)\n",
     "Logs go to stderr, one line per event.\n", "cohortd start --home ~/.cohort",
     {"--home", "--rpc-listen", "--p2p-listen", "--log-level", NULL}},
    {"testnet", "create the homes of an N-validator chain on this machine",
     "cohortd testnet --validators N --out DIR [flags]",
     "  --validators N       (required) number of validators, 1 to " COHORT_STR(NODE_TESTNET_MAX) "\n"
     "  --out DIR            (required) where to write DIR/node0 .. DIR/nodeN-1 (absent or empty)\n"
     "  --chain-id ID        the chain ID (default: cohort-testnet- + 6 random hex)\n"
     "  --base-port P        node K: p2p port P+10K, RPC port P+10K+1 (default: 26656)\n"
     "  --hostname HOST      where the nodes dial each other (default: 127.0.0.1)\n"
     "  --empty-block-interval-ms MS\n"
     "                       [consensus] empty_block_interval_ms of every node (default: 0,\n"
     "                       blocks only when transactions wait)\n",
     "One genesis for all; each home its own keys and a config naming the others as peers.\n",
     "cohortd testnet --validators 4 --out .localnet",
     {"--validators", "--out", "--chain-id", "--base-port", "--hostname",
      "--empty-block-interval-ms", NULL}},
    {"show-node-id", "print the node ID, and ID@HOST:PORT for peers' persistent_peers",
     "cohortd show-node-id [flags]",
     HOME_FLAG
     "  --p2p-listen H:P     the address to print (default: [p2p] external_addr, else listen)\n",
     NULL, "cohortd show-node-id --home ~/.cohort", {"--home", "--p2p-listen", NULL}},
    {"show-validator", "print the consensus key and beacon commitment a create-validator needs",
     "cohortd show-validator [flags]",
     HOME_FLAG
     "  --pubkey             print only the consensus public key (64 hex digits)\n"
     "  --beacon-commit      print only the beacon commitment (64 hex digits)\n"
     "  --json               print both as a JSON object\n",
     "From HOME/config/priv_validator_key.json and HOME/config/beacon_seed.json (neither\n"
     "secret is printed). An account makes this node a validator with\n"
     "`cohort stake create-validator --pubkey ... --beacon-commit ...`; the node signs from\n"
     "two blocks after that tx if its stake ranks in the set (docs/staking.md).\n",
     "cohortd show-validator --home ~/.cohort",
     {"--home", "--pubkey", "--beacon-commit", "--json", NULL}},
    {"params", "print every chain parameter and its default (--markdown: ranges)", "cohortd params [flags]",
     "  --markdown           a Markdown table (as in docs/protocol.md)\n", NULL,
     "cohortd params --markdown", {"--markdown", NULL}},
    {"version", "print the version", "cohortd version", NULL, NULL, "cohortd version", {NULL}},
};

#define N_CMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f) {
  fprintf(f, "Usage: cohortd COMMAND [flags]\n\nThe Cohort node.\n\nCommands:\n");
  for (size_t i = 0; i < N_CMDS; i++) fprintf(f, "  %-16s %s\n", cmds[i].name, cmds[i].summary);
  fprintf(f, "\nFlags:\n  -h, --help     this help; `cohortd COMMAND --help` for a command's flags\n"
             "  --version      print the version\n\n"
             "Example:\n  cohortd init --home ~/.cohort && cohortd start --home ~/.cohort\n");
}

static void cmd_usage(const cmd_help *h, FILE *f) {
  fprintf(f, "Usage: %s\n\n%c%s.\n", h->usage, h->summary[0] - 32, h->summary + 1);
  if (h->notes) fprintf(f, "%s", h->notes);
  fprintf(f, "\nFlags:\n%s  -h, --help           this help\n\nExample:\n  %s\n",
          h->flags ? h->flags : "", h->example);
}

static const cmd_help *find_cmd(const char *name) {
  for (size_t i = 0; i < N_CMDS; i++)
    if (!strcmp(cmds[i].name, name)) return &cmds[i];
  return NULL;
}

static int accepts(const cmd_help *h, const char *flag) {
  for (size_t i = 0; h->accepts[i]; i++)
    if (!strcmp(h->accepts[i], flag)) return 1;
  return 0;
}

/* A decimal option in [lo, hi]; 0 or 2 after printing the problem. */
static int uint_opt(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s) return 0;
  if (core_parse_u64(s, out) || *out < lo || *out > hi) {
    fprintf(stderr, "cohortd: %s must be an integer in [%llu, %llu]\n", flag,
            (unsigned long long)lo, (unsigned long long)hi);
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    const cmd_help *h = argc > 2 && !strcmp(argv[1], "help") ? find_cmd(argv[2]) : NULL;
    if (h) cmd_usage(h, stdout);
    else usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("cohortd %s\n", COHORTD_VERSION);
    return 0;
  }
  const cmd_help *h = find_cmd(argv[1]);
  if (!h) {
    fprintf(stderr, "cohortd: unknown command \"%s\" (see: cohortd --help)\n", argv[1]);
    return 2;
  }
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      cmd_usage(h, stdout);
      return 0;
    }
  if (!strcmp(argv[1], "params")) { /* genesis/params.h is the one table */
    int md = 0;
    for (int i = 2; i < argc; i++) {
      if (strcmp(argv[i], "--markdown")) {
        fprintf(stderr, "cohortd params: unknown option %s\n  (see: cohortd params --help)\n",
                argv[i]);
        return 2;
      }
      md = 1;
    }
    if (md) {
      char *mdt = genesis_params_markdown();
      if (!mdt) return 1;
      fputs(mdt, stdout);
      free(mdt);
      return 0;
    }
    printf("%-24s %-4s %-22s %s\n", "parameter", "type", "default", "meaning");
    for (size_t i = 0; i < genesis_param_count; i++) {
      const genesis_param_info *r = &genesis_param_table[i];
      printf("%-24s %-4s %-22llu %s\n", r->name, r->kind == GENESIS_PARAM_U32 ? "u32" : "u64",
             (unsigned long long)r->def, r->doc);
    }
    printf("(set them in genesis.json \"params\"; `cohortd params --markdown` adds the ranges)\n");
    return 0;
  }
  if (!strcmp(argv[1], "show-validator")) { /* flags without values */
    const char *sv_home = getenv("COHORT_HOME");
    int what = 0;
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--home") && i + 1 < argc) sv_home = argv[++i];
      else if (!strcmp(argv[i], "--pubkey")) what = 1;
      else if (!strcmp(argv[i], "--beacon-commit")) what = 2;
      else if (!strcmp(argv[i], "--json")) what = 3;
      else {
        fprintf(stderr, "cohortd show-validator: unknown option %s\n  (see: cohortd "
                "show-validator --help)\n", argv[i]);
        return 2;
      }
    }
    char dh[4096];
    if (!sv_home) {
      const char *hd = getenv("HOME");
      snprintf(dh, sizeof dh, "%s/.cohort", hd ? hd : ".");
      sv_home = dh;
    }
    if (core_init()) return 1;
    core_errbuf seb = {{0}};
    int src = node_show_validator(sv_home, what, &seb);
    if (src) fprintf(stderr, "cohortd show-validator: %s\n", seb.msg[0] ? seb.msg : core_err_str(src));
    return src ? 1 : 0;
  }
  const char *cmd = argv[1], *home = getenv("COHORT_HOME"), *chain_id = NULL,
             *moniker = NULL, *listen = NULL, *level = NULL, *p2p_listen = NULL,
             *validators = NULL, *out = NULL, *base_port = NULL, *hostname = NULL,
             *empty_ms = NULL;
  char defhome[4096];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = !strcmp(a, "--home")         ? &home
                       : !strcmp(a, "--chain-id")   ? &chain_id
                       : !strcmp(a, "--moniker")    ? &moniker
                       : !strcmp(a, "--rpc-listen") ? &listen
                       : !strcmp(a, "--p2p-listen") ? &p2p_listen
                       : !strcmp(a, "--log-level")  ? &level
                       : !strcmp(a, "--validators") ? &validators
                       : !strcmp(a, "--out")        ? &out
                       : !strcmp(a, "--base-port")  ? &base_port
                       : !strcmp(a, "--hostname")   ? &hostname
                       : !strcmp(a, "--empty-block-interval-ms") ? &empty_ms
                                                                 : NULL;
    if (!dst || !accepts(h, a)) {
      fprintf(stderr, "cohortd %s: unknown option %s\n  (see: cohortd %s --help)\n", cmd, a, cmd);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "cohortd %s: %s needs a value\n  (see: cohortd %s --help)\n", cmd, a, cmd);
      return 2;
    }
    *dst = argv[++i];
  }
  if (!home) {
    const char *hd = getenv("HOME");
    snprintf(defhome, sizeof defhome, "%s/.cohort", hd ? hd : ".");
    home = defhome;
  }
  if (core_init()) {
    fprintf(stderr, "cohortd: cannot initialise the crypto libraries\n");
    return 1;
  }
  /* Overrides of the config file, applied (and checked) wherever it loads. */
  if (p2p_listen && strcmp(cmd, "init")) node_config_override("p2p", "listen", p2p_listen,
                                                              "--p2p-listen");
  core_errbuf eb = {{0}};
  int rc = 0;
  if (!strcmp(cmd, "version")) {
    printf("cohortd %s\n", COHORTD_VERSION);
    return 0;
  } else if (!strcmp(cmd, "init")) {
    node_init_opts o = {home, chain_id, moniker, listen, p2p_listen};
    rc = node_init_home(&o, &eb);
  } else if (!strcmp(cmd, "start")) {
    if (level) {
      core_log_level l;
      if (core_log_parse_level(level, &l)) {
        fprintf(stderr, "cohortd: --log-level must be debug, info, warn, error or off\n");
        return 2;
      }
    }
    rc = node_run(home, listen, level, &eb);
  } else if (!strcmp(cmd, "show-node-id")) {
    rc = node_show_node_id(home, &eb);
  } else if (!strcmp(cmd, "testnet")) {
    uint64_t nv = 0, bp = 26656, em = 0;
    if (!validators || !out) {
      fprintf(stderr, "cohortd testnet: --validators N and --out DIR are required\n"
                      "  (see: cohortd testnet --help)\n");
      return 2;
    }
    if (uint_opt("--validators", validators, 1, NODE_TESTNET_MAX, &nv) ||
        uint_opt("--base-port", base_port, 1, 65535, &bp) ||
        uint_opt("--empty-block-interval-ms", empty_ms, 0, 86400000, &em))
      return 2;
    node_testnet_opts o = {.out = out, .validators = (unsigned)nv, .chain_id = chain_id,
                           .base_port = (unsigned)bp, .hostname = hostname,
                           .empty_block_interval_ms = em};
    rc = node_testnet(&o, &eb);
  }
  if (rc) {
    fprintf(stderr, "cohortd %s: %s\n", cmd, eb.msg[0] ? eb.msg : core_err_str(rc));
    return 1;
  }
  return 0;
}
