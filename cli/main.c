/* cli/main.c — the `cohort` command line (talks to a node over JSON-RPC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/hash.h"

int main(int argc, char **argv) {
  char defhome[4096];
  const char *h = getenv("HOME");
  snprintf(defhome, sizeof defhome, "%s/.cohort", h ? h : ".");
  const char *env_home = getenv("COHORT_HOME");
  cli_ctx c = {getenv("COHORT_NODE") ? getenv("COHORT_NODE") : "http://127.0.0.1:27657",
               env_home ? env_home : defhome, 0, 60000,
               env_home ? "$COHORT_HOME" : "the default, ~/.cohort"};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--json")) c.json = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      cli_help_top(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--version")) {
      printf("cohort %s\n", COHORT_VERSION);
      return 0;
    } else if ((!strcmp(argv[i], "--node") || !strcmp(argv[i], "--home")) && i + 1 < argc) {
      if (!strcmp(argv[i], "--node")) c.node = argv[++i];
      else c.home = argv[++i], c.home_src = "--home";
    } else {
      fprintf(stderr, "cohort: unknown or incomplete option %s (see: cohort --help)\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc) {
    cli_help_top(stderr);
    return 2;
  }
  /* Allow global options after the command too (e.g. `cohort status --json`). */
  char **rest = argv + i + 1;
  int nrest = 0;
  /* `executor run` takes --node more than once (failover): it sees them all. */
  int exec_run = (!strcmp(argv[i], "executor") && i + 1 < argc && !strcmp(argv[i + 1], "run")) ||
                 !strcmp(argv[i], "watch");
  for (int j = i + 1; j < argc; j++) {
    if (!strcmp(argv[j], "--json")) c.json = 1;
    else if (exec_run && !strcmp(argv[j], "--node") && j + 1 < argc) {
      rest[nrest++] = argv[j];
      rest[nrest++] = argv[++j];
    } else if ((!strcmp(argv[j], "--node") || !strcmp(argv[j], "--home")) && j + 1 < argc) {
      if (!strcmp(argv[j], "--node")) c.node = argv[++j];
      else c.home = argv[++j], c.home_src = "--home";
    } else rest[nrest++] = argv[j];
  }
  const char *cmd = argv[i];
  /* --help or -h anywhere after the command: that command's usage. */
  for (int j = 0; j < nrest; j++) {
    if (strcmp(rest[j], "--help") && strcmp(rest[j], "-h")) continue;
    char path[96];
    snprintf(path, sizeof path, "%.40s", cmd);
    if (cli_help_is_group(cmd) && nrest > 0 && rest[0][0] != '-') {
      snprintf(path, sizeof path, "%.40s %.40s", cmd, rest[0]);
      if (!cli_help_has(path)) {
        fprintf(stderr, "cohort %s: unknown subcommand \"%s\"\n", cmd, rest[0]);
        cli_help(cmd, stderr);
        return 2;
      }
    }
    if (cli_help(path, stdout)) {
      fprintf(stderr, "cohort: unknown command \"%s\" (see: cohort --help)\n", cmd);
      return 2;
    }
    return 0;
  }
  if (!strcmp(cmd, "version")) {
    printf("cohort %s\n", COHORT_VERSION);
    return 0;
  }
  /* A command group without its subcommand: the group's usage. */
  if (cli_help_is_group(cmd) && (nrest == 0 || rest[0][0] == '-')) {
    fprintf(stderr, "cohort %s: which subcommand?\n", cmd);
    cli_help(cmd, stderr);
    return 2;
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
  if (!strcmp(cmd, "keys")) return cli_cmd_keys(&c, nrest, rest);
  if (!strcmp(cmd, "watch")) return cli_cmd_watch(&c, nrest, rest);
  if (!strcmp(cmd, "transfer")) return cli_cmd_transfer(&c, nrest, rest);
  if (!strcmp(cmd, "stake")) return cli_cmd_stake(&c, nrest, rest);
  if (!strcmp(cmd, "program") || !strcmp(cmd, "executor") || !strcmp(cmd, "task") ||
      !strcmp(cmd, "simulate") || !strcmp(cmd, "job") || !strcmp(cmd, "dispute"))
    return cli_cmd_market(&c, cmd, nrest, rest);
  if (!strcmp(cmd, "gov")) return cli_cmd_gov(&c, nrest, rest);
  if (!strcmp(cmd, "params")) return cli_cmd_params(&c, nrest, rest);
  if (!strcmp(cmd, "status") || !strcmp(cmd, "account") || !strcmp(cmd, "block") ||
      !strcmp(cmd, "tx") || !strcmp(cmd, "supply"))
    return cli_cmd_query(&c, cmd, nrest, rest);
  fprintf(stderr, "cohort: unknown command \"%s\" (see cohort --help)\n", cmd);
  return 2;
}
