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

static void usage(FILE *f) {
  fprintf(f,
          "usage: cohortd <command> [options]\n\n"
          "commands:\n"
          "  init          create a home directory: config, devnet genesis, keys\n"
          "  start         run the node\n"
          "  testnet       create the homes of an N-validator chain on this machine\n"
          "  show-node-id  print the node ID, and ID@HOST:PORT for peers' persistent_peers\n"
          "  params        print every chain parameter with its default and range (--markdown)\n"
          "  version       print the version\n\n"
          "options:\n"
          "  --home DIR         home directory (default $COHORT_HOME or ~/.cohort)\n"
          "  --chain-id ID      (init, testnet) chain ID, default cohort-devnet-/cohort-testnet- + 6 random hex\n"
          "  --moniker NAME     (init) node name\n"
          "  --rpc-listen H:P   RPC address (init: written to config; start: override)\n"
          "  --p2p-listen H:P   peer-to-peer address, \"\" = none (init: written to config;\n"
          "                     start, show-node-id: override)\n"
          "  --log-level LEVEL  debug|info|warn|error|off (start: overrides the config)\n\n"
          "testnet options:\n"
          "  --validators N     number of validators (1..%d), one home each\n"
          "  --out DIR          where to write DIR/node0..N-1 (absent or empty)\n"
          "  --base-port P      node K: p2p port P+10K, RPC port P+10K+1 (default 26656)\n"
          "  --hostname HOST    where the nodes dial each other (default 127.0.0.1)\n"
          "  --empty-block-interval-ms MS  [consensus] empty_block_interval_ms of every node\n"
          "                     (default 0: blocks only when transactions wait)\n",
          NODE_TESTNET_MAX);
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
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "params")) { /* genesis/params.h is the one table */
    if (argc > 2 && !strcmp(argv[2], "--markdown")) {
      char *md = genesis_params_markdown();
      if (!md) return 1;
      fputs(md, stdout);
      free(md);
      return 0;
    }
    for (size_t i = 0; i < genesis_param_count; i++) {
      const genesis_param_info *r = &genesis_param_table[i];
      printf("%-24s %-4s default %-14llu %s\n", r->name,
             r->kind == GENESIS_PARAM_U32 ? "u32" : "u64", (unsigned long long)r->def, r->doc);
    }
    return 0;
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
    if (!dst) {
      fprintf(stderr, "cohortd: unknown option %s (see cohortd --help)\n", a);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "cohortd: %s needs a value\n", a);
      return 2;
    }
    *dst = argv[++i];
  }
  if (!home) {
    const char *h = getenv("HOME");
    snprintf(defhome, sizeof defhome, "%s/.cohort", h ? h : ".");
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
  int rc;
  if (!strcmp(cmd, "version")) {
    printf("cohortd 0.1.0\n");
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
      fprintf(stderr, "cohortd testnet: --validators N and --out DIR are required "
                      "(see cohortd --help)\n");
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
  } else {
    fprintf(stderr, "cohortd: unknown command \"%s\" (see cohortd --help)\n", cmd);
    return 2;
  }
  if (rc) {
    fprintf(stderr, "cohortd %s: %s\n", cmd, eb.msg[0] ? eb.msg : core_err_str(rc));
    return 1;
  }
  return 0;
}
