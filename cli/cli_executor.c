/* cli/cli_executor.c — `cohort executor run` and `cohort watch`: the
 * command line of the executor engine (executor/executor.h), which does
 * the work: flags -> executor_config -> executor_run until SIGINT or
 * SIGTERM. Log lines go to stderr as "HH:MM:SS executor: ...".
 *
 * The state directory defaults to HOME/executor/ADDRESS. Several --node
 * (up to 8): calls fail over, transactions go to every node. The fault
 * injection flags (--byzantine, --lie-from-step N, --silent-in-games) are
 * refused by the engine unless the chain is a test one. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/parse.h"
#include "executor/executor.h"

/* The handle the signal handlers stop (the command runs one at a time). */
static executor *volatile running;

static void on_sig(int s) {
  (void)s;
  executor *ex = running;
  if (ex) executor_stop(ex);
}

static void log_line(void *arg, executor_log_level lvl, const char *line) {
  (void)arg;
  (void)lvl;
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  fprintf(stderr, "%s executor: %s\n", ts, line);
}

static int serve(const cli_ctx *c, int argc, char **argv, int watch_only, uint64_t watch_bps) {
  const char *key = "dev", *dir = NULL, *nodes[EXECUTOR_MAX_NODES];
  size_t n_nodes = 0;
  executor_config cfg = {.poll_ms = 500, .timeout_ms = c->timeout_ms, .watch_bps = watch_bps,
                         .watch_only = watch_only, .log = log_line};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--byzantine")) {
      cfg.byzantine = 1;
      continue;
    }
    if (strcmp(a, "--key") && strcmp(a, "--state") && strcmp(a, "--node") &&
        strcmp(a, "--capacity") && strcmp(a, "--poll-ms") && strcmp(a, "--watch-bps") &&
        strcmp(a, "--lie-from-step") && strcmp(a, "--silent-in-games"))
      return cli_usage_error("executor run", "unknown option %s", a);
    if (!strcmp(a, "--silent-in-games")) {
      cfg.silent_in_games = 1;
      continue;
    }
    if (!v) return cli_usage_error("executor run", "%s needs a value", a);
    if (!strcmp(a, "--key")) {
      key = v;
    } else if (!strcmp(a, "--state")) {
      dir = v;
    } else if (!strcmp(a, "--node")) {
      if (n_nodes == EXECUTOR_MAX_NODES)
        return cli_usage_error("executor run", "at most %d --node", EXECUTOR_MAX_NODES);
      nodes[n_nodes++] = v; /* a bare HOST:PORT means http:// (the engine adds it) */
    } else if (!strcmp(a, "--lie-from-step")) {
      if (core_parse_u64(v, &cfg.lie_from_step) || cfg.lie_from_step < 1)
        return cli_usage_error("executor run", "--lie-from-step must be >= 1, got \"%s\"", v);
    } else if (!strcmp(a, "--watch-bps")) {
      if (core_parse_u64(v, &cfg.watch_bps) || cfg.watch_bps > 10000)
        return cli_usage_error("executor run", "--watch-bps must be 0 to 10000, got \"%s\"", v);
    } else if (!strcmp(a, "--capacity")) {
      if (core_parse_u64(v, &cfg.capacity) || cfg.capacity < 1 ||
          cfg.capacity > EXECUTOR_CAPACITY_MAX)
        return cli_usage_error("executor run", "--capacity must be 1 to %d, got \"%s\"",
                               EXECUTOR_CAPACITY_MAX, v);
    } else if (core_parse_u64(v, &cfg.poll_ms) || cfg.poll_ms < 50) {
      return cli_usage_error("executor run", "--poll-ms must be an integer >= 50, got \"%s\"", v);
    }
    i++;
  }
  if (!n_nodes) nodes[n_nodes++] = c->node;
  cfg.nodes = nodes;
  cfg.n_nodes = n_nodes;
  core_key k;
  if (cli_load_key(c, key, &k)) return 1;
  char dbuf[4200];
  if (!dir) {
    uint8_t me[20];
    char addr[CORE_ADDR_STR_MAX];
    core_account_id(me, k.pub);
    core_addr_encode(addr, me);
    snprintf(dbuf, sizeof dbuf, "%.4000s/executor", c->home);
    mkdir(dbuf, 0700);
    snprintf(dbuf, sizeof dbuf, "%.4000s/executor/%s", c->home, addr);
    dir = dbuf;
  }
  cfg.state_dir = dir;
  cfg.key = &k;
  executor *ex;
  core_errbuf eb = {{0}};
  int rc = executor_new(&cfg, &ex, &eb);
  core_key_wipe(&k); /* the engine keeps its own copy */
  if (rc) {
    fprintf(stderr, "cohort executor run: %s\n", eb.msg);
    return rc == COHORT_ERR_INVALID ? 2 : 1;
  }
  running = ex;
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  rc = executor_run(ex, &eb);
  running = NULL;
  int exit_code = 0;
  if (rc == COHORT_ERR_UNSUPPORTED) {
    fprintf(stderr, "cohort executor run: --byzantine, --lie-from-step and --silent-in-games "
            "(fault injection: wrong results or no moves on purpose, which costs stake) is "
            "refused on chain %s: only devnet, testnet and localnet chains (cohort-devnet-*, "
            "cohort-testnet-*, cohort-localnet-*) allow it\n", executor_chain_id(ex));
    exit_code = 2;
  } else if (rc == COHORT_ERR_NOT_FOUND) {
    fprintf(stderr, "cohort executor run: %s is not a registered executor; register first:\n"
                    "  cohort executor register --stake N --price P --capacity C --from %s\n",
            executor_address(ex), key);
    exit_code = 1;
  } else if (rc) {
    fprintf(stderr, "cohort executor run: %s\n", eb.msg);
    exit_code = 1;
  }
  executor_free(ex);
  return exit_code;
}

int cli_cmd_watch(const cli_ctx *c, int argc, char **argv) {
  char *args[64];
  int n = 0;
  uint64_t bps = 10000;
  for (int i = 0; i < argc && n < 60; i++) {
    if (!strcmp(argv[i], "--sample-bps") && i + 1 < argc) {
      if (core_parse_u64(argv[i + 1], &bps) || bps > 10000)
        return cli_usage_error("watch", "--sample-bps must be 0 to 10000, got \"%s\"", argv[i + 1]);
      i++;
      continue;
    }
    if (strcmp(argv[i], "--key") && strcmp(argv[i], "--node") && strcmp(argv[i], "--poll-ms"))
      return cli_usage_error("watch", "unknown option %s", argv[i]);
    args[n++] = argv[i];
    if (i + 1 < argc) args[n++] = argv[++i];
  }
  return serve(c, n, args, 1, bps);
}

int cli_cmd_executor_run(const cli_ctx *c, int argc, char **argv) {
  return serve(c, argc, argv, 0, 0);
}
