/* tests/integration/executor_pair.c — two executor engines in one process
 * (the test of executor/executor.h's "no globals"): each its own key, state
 * directory and threads, against the same node, until SIGINT or SIGTERM.
 *
 * usage: cohort-test-executor-pair --node URL --state DIR [--poll-ms N] KEYFILE KEYFILE
 *
 * Engine i keeps its claims in DIR/i and logs "pair I: <line>" to stderr.
 * Exit 0 when both engines returned 0 after the signal. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hash.h"
#include "core/keys.h"
#include "executor/executor.h"

typedef struct {
  int index;
  executor *ex;
  int rc;
  core_errbuf eb;
} engine;

static void log_line(void *arg, executor_log_level lvl, const char *line) {
  (void)lvl;
  fprintf(stderr, "pair %d: %s\n", ((engine *)arg)->index, line);
}

static void *engine_main(void *arg) {
  engine *e = arg;
  e->rc = executor_run(e->ex, &e->eb);
  return NULL;
}

int main(int argc, char **argv) {
  const char *node = NULL, *state = NULL, *keys[2] = {NULL, NULL};
  unsigned long long poll_ms = 100;
  int nk = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--node") && i + 1 < argc) node = argv[++i];
    else if (!strcmp(argv[i], "--state") && i + 1 < argc) state = argv[++i];
    else if (!strcmp(argv[i], "--poll-ms") && i + 1 < argc) poll_ms = strtoull(argv[++i], NULL, 10);
    else if (nk < 2) keys[nk++] = argv[i];
  }
  if (!node || !state || nk != 2) {
    fprintf(stderr, "usage: %s --node URL --state DIR [--poll-ms N] KEYFILE KEYFILE\n", argv[0]);
    return 2;
  }
  if (core_init()) return 1;
  /* Signals are taken by sigwait below, never by a handler: block them
   * before any thread starts, so every thread inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  engine eng[2];
  memset(eng, 0, sizeof eng);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    core_key k;
    core_errbuf eb = {{0}};
    if (core_keyfile_read(keys[i], &k, &eb)) {
      fprintf(stderr, "%s\n", eb.msg);
      return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%.4000s/%d", state, i);
    const char *nodes[1] = {node};
    eng[i].index = i;
    executor_config cfg = {.key = &k, .nodes = nodes, .n_nodes = 1, .state_dir = dir,
                           .poll_ms = poll_ms, .log = log_line, .log_arg = &eng[i]};
    int rc = executor_new(&cfg, &eng[i].ex, &eb);
    core_key_wipe(&k);
    if (rc) {
      fprintf(stderr, "executor %d: %s\n", i, eb.msg);
      return 1;
    }
  }
  if (!strcmp(executor_address(eng[0].ex), executor_address(eng[1].ex))) {
    fprintf(stderr, "give two different keys\n");
    return 2;
  }
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, engine_main, &eng[i]);
  fprintf(stderr, "pair: %s and %s running in one process\n", executor_address(eng[0].ex),
          executor_address(eng[1].ex));
  int sig;
  sigwait(&set, &sig);
  fprintf(stderr, "pair: signal %d: stopping both\n", sig);
  int bad = 0;
  for (int i = 0; i < 2; i++) executor_stop(eng[i].ex);
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    if (eng[i].rc) {
      fprintf(stderr, "pair %d: ended with %d: %s\n", i, eng[i].rc, eng[i].eb.msg);
      bad = 1;
    }
    executor_free(eng[i].ex);
  }
  fprintf(stderr, "pair: stopped\n");
  return bad;
}
