/* node/main.c — the cohortd command line: init | start | params | version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "genesis/params.h"
#include "node/node.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cohortd <command> [options]\n\n"
          "commands:\n"
          "  init    create a home directory: config, devnet genesis, keys\n"
          "  start   run the node\n"
          "  params  print every chain parameter with its default and range (--markdown)\n"
          "  version print the version\n\n"
          "options:\n"
          "  --home DIR         home directory (default $COHORT_HOME or ~/.cohort)\n"
          "  --chain-id ID      (init) chain ID, default cohort-devnet-1\n"
          "  --moniker NAME     (init) node name\n"
          "  --rpc-listen H:P   RPC address (init: written to config; start: override)\n"
          "  --log-level LEVEL  debug|info|warn|error|off (start: overrides the config)\n");
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
             *moniker = NULL, *listen = NULL, *level = NULL;
  char defhome[4096];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = !strcmp(a, "--home")        ? &home
                       : !strcmp(a, "--chain-id")  ? &chain_id
                       : !strcmp(a, "--moniker")   ? &moniker
                       : !strcmp(a, "--rpc-listen") ? &listen
                       : !strcmp(a, "--log-level") ? &level
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
  core_errbuf eb = {{0}};
  int rc;
  if (!strcmp(cmd, "version")) {
    printf("cohortd 0.1.0\n");
    return 0;
  } else if (!strcmp(cmd, "init")) {
    node_init_opts o = {home, chain_id, moniker, listen};
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
