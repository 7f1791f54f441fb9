/* Unit tests for cohortd.conf parsing: defaults, values, and errors that
 * name the line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "node/config.h"

static void test_template_parses_to_defaults(void **s) {
  (void)s;
  node_config d, c;
  core_errbuf eb;
  node_config_defaults(&d);
  node_config_defaults(&c);
  assert_int_equal(node_config_parse(&c, node_config_template(), &eb), 0);
  assert_memory_equal(&c, &d, sizeof c);
}

static void test_values(void **s) {
  (void)s;
  node_config c;
  core_errbuf eb;
  node_config_defaults(&c);
  const char *t = "# comment\n[rpc]\nlisten = 0.0.0.0:1234\n\n[consensus]\n"
                  "block_interval_ms = 250\n; other comment\n[node]\nmoniker = abc\n";
  assert_int_equal(node_config_parse(&c, t, &eb), 0);
  assert_string_equal(c.rpc_listen, "0.0.0.0:1234");
  assert_int_equal(c.block_interval_ms, 250);
  assert_string_equal(c.moniker, "abc");
  assert_int_equal(c.mempool_max_txs, 50000); /* untouched default */
  /* inline comments, as in docs/operator.md */
  const char *t2 = "[rpc]\nlisten = 127.0.0.1:9      # keep on loopback\n"
                   "[node]\nlog_level = warn ; quieter\n";
  assert_int_equal(node_config_parse(&c, t2, &eb), 0);
  assert_string_equal(c.rpc_listen, "127.0.0.1:9");
  assert_string_equal(c.log_level, "warn");
}

static void expect(const char *text, const char *needle) {
  node_config c;
  core_errbuf eb = {{0}};
  node_config_defaults(&c);
  assert_int_equal(node_config_parse(&c, text, &eb), COHORT_ERR_CONFIG);
  if (!strstr(eb.msg, needle)) fail_msg("\"%s\" does not contain \"%s\"", eb.msg, needle);
}

static void test_errors(void **s) {
  (void)s;
  expect("[rpc]\nlisten = x\nlisen = y\n", "line 3: unknown setting [rpc] lisen");
  expect("[consensus]\nblock_interval_ms = -5\n", "line 2");
  expect("[consensus]\nblock_interval_ms = 0\n", "[1, 3600000]");
  expect("[mempool]\nmax_txs = 99999999999999999999999\n", "max_txs");
  expect("[nope]\nx = 1\n", "unknown setting [nope] x");
  expect("[rpc\n", "line 1: malformed section");
  expect("[node]\njust words\n", "line 2");
  expect("[node]\nlog_level = loud\n", "log_level");
  /* the RPC limits */
  expect("[rpc]\nmax_conns = 10\nmax_ws = 11\n", "max_ws = 11 must not exceed max_conns = 10");
  expect("[rpc]\nclient_buffer_bytes = 1048576\nmax_buffer_bytes = 65536\n",
         "client_buffer_bytes");
  expect("[rpc]\nmax_response_bytes = 100\n", "line 2: [rpc] max_response_bytes");
  expect("[rpc]\nsimulate_max_mem_mib = 2048\n", "[2, 1024]");
  expect("[rpc]\n\nmax_ws_per_ip = 0\n", "line 3");
}

static void test_rpc_limits(void **s) {
  (void)s;
  node_config c;
  core_errbuf eb;
  node_config_defaults(&c);
  assert_int_equal(c.rpc_max_ws, 128);
  assert_true(c.rpc_max_ws <= c.rpc_max_conns);
  const char *t = "[rpc]\nmax_conns_per_ip = 4\nmax_ws = 16\nmax_ws_per_ip = 2\n"
                  "write_timeout_ms = 5000\nsimulate_concurrent_per_ip = 2\n"
                  "simulate_steps_per_minute = 1000000\n";
  assert_int_equal(node_config_parse(&c, t, &eb), 0);
  assert_int_equal(c.rpc_max_conns_per_ip, 4);
  assert_int_equal(c.rpc_max_ws, 16);
  assert_int_equal(c.rpc_max_ws_per_ip, 2);
  assert_int_equal(c.rpc_write_timeout_ms, 5000);
  assert_int_equal(c.sim_concurrent_per_ip, 2);
  assert_int_equal(c.sim_steps_per_minute, 1000000);
  assert_int_equal(c.rpc_max_inflight_per_ip, 256); /* untouched default */
}

/* The sample in docs/operator.md must be accepted as written. */
static void test_operator_doc_sample(void **s) {
  (void)s;
  FILE *f = fopen("docs/operator.md", "r");
  assert_non_null(f);
  static char doc[65536];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = 0;
  char *a = strstr(doc, "```ini\n");
  assert_non_null(a);
  a += 7;
  char *b = strstr(a, "```");
  assert_non_null(b);
  *b = 0;
  node_config c, d;
  core_errbuf eb = {{0}};
  node_config_defaults(&c);
  node_config_defaults(&d);
  if (node_config_parse(&c, a, &eb)) fail_msg("docs/operator.md sample: %s", eb.msg);
  assert_memory_equal(&c, &d, sizeof c); /* the sample shows the defaults */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_template_parses_to_defaults),
                                     cmocka_unit_test(test_values), cmocka_unit_test(test_errors),
                                     cmocka_unit_test(test_rpc_limits),
                                     cmocka_unit_test(test_operator_doc_sample)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
