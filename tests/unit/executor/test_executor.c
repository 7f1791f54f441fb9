/* Unit tests for the executor engine's handle (executor/executor.h): the
 * config checks name the field; handles are independent (two at once, each
 * its own log and state); executor_stop works before executor_run and from
 * another thread while executor_run waits for a node that never answers;
 * executor_run runs once. The engine against a real node (seats, games, a
 * pair in one process) is tests/integration/test_executor_embedded.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/keys.h"
#include "executor/executor.h"

typedef struct {
  pthread_mutex_t mu;
  int lines;
  char last[512];
} log_sink;

static void sink(void *arg, executor_log_level lvl, const char *line) {
  (void)lvl;
  log_sink *s = arg;
  pthread_mutex_lock(&s->mu);
  s->lines++;
  snprintf(s->last, sizeof s->last, "%s", line);
  pthread_mutex_unlock(&s->mu);
}

static char tmp_root[256];

static int setup(void **st) {
  (void)st;
  snprintf(tmp_root, sizeof tmp_root, "/tmp/cohort_exec_unit_XXXXXX");
  assert_non_null(mkdtemp(tmp_root));
  return core_init();
}

static int teardown(void **st) {
  (void)st;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_root);
  return system(cmd) == 0 ? 0 : -1;
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static void config(executor_config *c, core_key *k, const char **nodes, const char *dir) {
  memset(c, 0, sizeof *c);
  c->key = k;
  c->nodes = nodes;
  c->n_nodes = 1;
  c->state_dir = dir;
}

static void expect_invalid(const executor_config *c, const char *needle) {
  executor *ex = (executor *)1;
  core_errbuf eb = {{0}};
  assert_int_equal(executor_new(c, &ex, &eb), COHORT_ERR_INVALID);
  assert_null(ex);
  if (!strstr(eb.msg, needle)) fail_msg("\"%s\" does not contain \"%s\"", eb.msg, needle);
}

static void test_config_checks(void **st) {
  (void)st;
  core_key k, ed;
  assert_int_equal(core_key_generate(&k, 0), 0);
  assert_int_equal(core_key_generate(&ed, 1), 0);
  char dir[300];
  snprintf(dir, sizeof dir, "%s/checks", tmp_root);
  const char *nodes[9] = {"127.0.0.1:1", "a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1"};
  executor_config c;
  config(&c, NULL, nodes, dir);
  expect_invalid(&c, "secp256k1");
  config(&c, &ed, nodes, dir);
  expect_invalid(&c, "secp256k1");
  config(&c, &k, nodes, dir);
  c.n_nodes = 0;
  expect_invalid(&c, "1 to 8 nodes");
  c.n_nodes = 9;
  expect_invalid(&c, "1 to 8 nodes");
  config(&c, &k, nodes, dir);
  c.poll_ms = 10;
  expect_invalid(&c, "poll_ms");
  config(&c, &k, nodes, dir);
  c.watch_bps = 10001;
  expect_invalid(&c, "watch_bps");
  config(&c, &k, nodes, dir);
  c.capacity = EXECUTOR_CAPACITY_MAX + 1;
  expect_invalid(&c, "capacity");
  config(&c, &k, nodes, NULL);
  expect_invalid(&c, "state directory");
  char longurl[600];
  memset(longurl, 'x', sizeof longurl - 1);
  longurl[sizeof longurl - 1] = 0;
  const char *bad[1] = {longurl};
  config(&c, &k, bad, dir);
  expect_invalid(&c, "longer than");
  /* a state directory whose parent does not exist */
  char deep[400];
  snprintf(deep, sizeof deep, "%s/no/such/parent", tmp_root);
  config(&c, &k, nodes, deep);
  executor *ex;
  core_errbuf eb = {{0}};
  assert_int_equal(executor_new(&c, &ex, &eb), COHORT_ERR_IO);
  assert_non_null(strstr(eb.msg, "cannot create"));
  /* a watcher needs no state directory */
  config(&c, &k, nodes, NULL);
  c.watch_only = 1;
  c.watch_bps = 10000;
  assert_int_equal(executor_new(&c, &ex, &eb), 0);
  executor_free(ex);
  executor_free(NULL);
  core_key_wipe(&k);
  core_key_wipe(&ed);
}

typedef struct {
  executor *ex;
  int rc;
  core_errbuf eb;
  uint64_t ms;
  atomic_int done;
} runner;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *run_it(void *arg) {
  runner *r = arg;
  uint64_t t0 = now_ms();
  r->rc = executor_run(r->ex, &r->eb);
  r->ms = now_ms() - t0;
  atomic_store(&r->done, 1);
  return NULL;
}

/* Two handles in one process: their own address, state directory and log;
 * both wait for a node that never answers, each logs that once, and
 * stopping one leaves the other running until it is stopped too. */
static void test_two_handles_are_independent(void **st) {
  (void)st;
  char url[64];
  snprintf(url, sizeof url, "127.0.0.1:%d", dead_port());
  const char *nodes[1] = {url};
  core_key k[2];
  log_sink logs[2];
  executor *ex[2];
  runner r[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(core_key_generate(&k[i], 0), 0);
    memset(&logs[i], 0, sizeof logs[i]);
    pthread_mutex_init(&logs[i].mu, NULL);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pair%d", tmp_root, i);
    executor_config c;
    config(&c, &k[i], nodes, dir);
    c.log = sink;
    c.log_arg = &logs[i];
    core_errbuf eb = {{0}};
    assert_int_equal(executor_new(&c, &ex[i], &eb), 0);
    core_key_wipe(&k[i]); /* the handle has its own copy */
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_string_equal(executor_chain_id(ex[i]), "");
    memset(&r[i], 0, sizeof r[i]);
    r[i].ex = ex[i];
    assert_int_equal(pthread_create(&th[i], NULL, run_it, &r[i]), 0);
  }
  assert_string_not_equal(executor_address(ex[0]), executor_address(ex[1]));
  for (int t = 0; t < 100; t++) { /* both say they cannot reach the node */
    pthread_mutex_lock(&logs[0].mu);
    pthread_mutex_lock(&logs[1].mu);
    int both = logs[0].lines && logs[1].lines;
    pthread_mutex_unlock(&logs[1].mu);
    pthread_mutex_unlock(&logs[0].mu);
    if (both) break;
    usleep(50000);
  }
  for (int i = 0; i < 2; i++) {
    assert_int_equal(logs[i].lines, 1);
    assert_non_null(strstr(logs[i].last, "cannot reach"));
    assert_non_null(strstr(logs[i].last, url));
  }
  executor_stop(ex[0]);
  assert_int_equal(pthread_join(th[0], NULL), 0);
  assert_int_equal(r[0].rc, 0);
  usleep(300000);
  assert_int_equal(atomic_load(&r[1].done), 0); /* the other one still runs */
  executor_stop(ex[1]);
  executor_stop(ex[1]); /* twice is fine */
  assert_int_equal(pthread_join(th[1], NULL), 0);
  assert_int_equal(r[1].rc, 0);
  assert_true(r[1].ms < 30000);
  /* executor_run runs once per handle */
  core_errbuf eb = {{0}};
  assert_int_equal(executor_run(ex[0], &eb), COHORT_ERR_INVALID);
  for (int i = 0; i < 2; i++) {
    executor_free(ex[i]);
    pthread_mutex_destroy(&logs[i].mu);
  }
}

/* Stopped before it runs: executor_run returns 0 at once. */
static void test_stop_before_run(void **st) {
  (void)st;
  core_key k;
  assert_int_equal(core_key_generate(&k, 0), 0);
  char dir[300], url[64];
  snprintf(dir, sizeof dir, "%s/early", tmp_root);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", dead_port());
  const char *nodes[1] = {url};
  executor_config c;
  config(&c, &k, nodes, dir);
  log_sink logs;
  memset(&logs, 0, sizeof logs);
  pthread_mutex_init(&logs.mu, NULL);
  c.log = sink;
  c.log_arg = &logs;
  executor *ex;
  core_errbuf eb = {{0}};
  assert_int_equal(executor_new(&c, &ex, &eb), 0);
  executor_stop(ex);
  uint64_t t0 = now_ms();
  assert_int_equal(executor_run(ex, &eb), 0);
  assert_true(now_ms() - t0 < 2000);
  assert_int_equal(logs.lines, 0); /* it never tried a node */
  executor_free(ex);
  pthread_mutex_destroy(&logs.mu);
  core_key_wipe(&k);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_config_checks),
                                     cmocka_unit_test(test_two_handles_are_independent),
                                     cmocka_unit_test(test_stop_before_run)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
