/* cli/main.c — the `cohort` command line (talks to a node over JSON-RPC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/hash.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cohort [--node URL] [--home DIR] [--json] <command> [args]\n\n"
          "commands:\n"
          "  keys new NAME | list | show NAME   manage account keys (HOME/keys/NAME.json)\n"
          "  transfer --to ADDR --amount N [--token CRD|STK] [--from KEY] [--fee N] [--wait]\n"
          "  account [ADDR|KEY]                 balances and nonce (default key: dev)\n"
          "  status                             chain and node status\n"
          "  block [HEIGHT]                     a block (default: latest)\n"
          "  tx HASH                            a committed transaction and its result\n"
          "  supply                             total CRD and STK\n"
          "  program upload FILE [--data]       store a program (or data) blob on chain\n"
          "  simulate --program F --input FILE  run a program on the node's VM, off chain\n"
          "  task submit --program F --input FILE --reward N [--committee K] [--wait]\n"
          "  task get|output ID, task list [--owner A] [--executor A] [--status S]\n"
          "  job submit --program F --chunks DIR --reward-per-chunk N [--wait] | job get ID\n"
          "  executor register --stake N --price P | unbond --amount N | show | list\n"
          "  executor run [--key NAME] [--capacity N]   serve committee seats\n\n"
          "options:\n"
          "  --node URL   node RPC (default $COHORT_NODE or http://127.0.0.1:27657)\n"
          "  --home DIR   where keys live (default $COHORT_HOME or ~/.cohort)\n"
          "  --json       machine-readable output\n");
}

int main(int argc, char **argv) {
  char defhome[4096];
  const char *h = getenv("HOME");
  snprintf(defhome, sizeof defhome, "%s/.cohort", h ? h : ".");
  cli_ctx c = {getenv("COHORT_NODE") ? getenv("COHORT_NODE") : "http://127.0.0.1:27657",
               getenv("COHORT_HOME") ? getenv("COHORT_HOME") : defhome, 0, 60000};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--json")) c.json = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--node") || !strcmp(argv[i], "--home")) && i + 1 < argc) {
      if (!strcmp(argv[i], "--node")) c.node = argv[++i];
      else c.home = argv[++i];
    } else {
      fprintf(stderr, "cohort: unknown or incomplete option %s (see cohort --help)\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  /* Allow global options after the command too (e.g. `cohort status --json`). */
  char **rest = argv + i + 1;
  int nrest = 0;
  /* `executor run` takes --node more than once (failover): it sees them all. */
  int exec_run = !strcmp(argv[i], "executor") && i + 1 < argc && !strcmp(argv[i + 1], "run");
  for (int j = i + 1; j < argc; j++) {
    if (!strcmp(argv[j], "--json")) c.json = 1;
    else if (exec_run && !strcmp(argv[j], "--node") && j + 1 < argc) {
      rest[nrest++] = argv[j];
      rest[nrest++] = argv[++j];
    } else if ((!strcmp(argv[j], "--node") || !strcmp(argv[j], "--home")) && j + 1 < argc) {
      if (!strcmp(argv[j], "--node")) c.node = argv[++j];
      else c.home = argv[++j];
    } else rest[nrest++] = argv[j];
  }
  /* Accept a bare HOST:PORT for --node, as cohortd.conf writes it. */
  static char nodebuf[512];
  if (!strstr(c.node, "://")) {
    snprintf(nodebuf, sizeof nodebuf, "http://%s", c.node);
    c.node = nodebuf;
  }
  if (core_init()) {
    fprintf(stderr, "cohort: cannot initialise the crypto libraries\n");
    return 1;
  }
  const char *cmd = argv[i];
  if (!strcmp(cmd, "keys")) return cli_cmd_keys(&c, nrest, rest);
  if (!strcmp(cmd, "transfer")) return cli_cmd_transfer(&c, nrest, rest);
  if (!strcmp(cmd, "program") || !strcmp(cmd, "executor") || !strcmp(cmd, "task") ||
      !strcmp(cmd, "simulate") || !strcmp(cmd, "job"))
    return cli_cmd_market(&c, cmd, nrest, rest);
  if (!strcmp(cmd, "status") || !strcmp(cmd, "account") || !strcmp(cmd, "block") ||
      !strcmp(cmd, "tx") || !strcmp(cmd, "supply"))
    return cli_cmd_query(&c, cmd, nrest, rest);
  fprintf(stderr, "cohort: unknown command \"%s\" (see cohort --help)\n", cmd);
  return 2;
}
