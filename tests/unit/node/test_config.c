/* Unit tests for cohortd.conf parsing: defaults, values, and errors that
 * name the line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_template_parses_to_defaults),
                                     cmocka_unit_test(test_values), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
