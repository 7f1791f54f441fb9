/* Unit tests for cohortd.conf parsing: defaults, values, and errors that
 * name the line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
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

#define ID_A "0123456789abcdef0123456789abcdef01234567"
#define ID_B "89abcdef0123456789abcdef0123456789abcdef"

static void test_p2p_section(void **s) {
  (void)s;
  node_config c;
  core_errbuf eb = {{0}};
  node_config_defaults(&c);
  assert_string_equal(c.p2p_listen, "127.0.0.1:26656");
  assert_string_equal(c.p2p_external_addr, "");
  assert_string_equal(c.p2p_persistent_peers, "");
  assert_int_equal(c.p2p_max_inbound, 40);
  assert_int_equal(c.p2p_max_outbound, 10);
  assert_int_equal(c.p2p_no_pex, 0);
  /* Four peers make a line longer than inih's 200 bytes: taken whole. */
  char t[2048];
  snprintf(t, sizeof t,
           "[p2p]\nlisten = 0.0.0.0:26656\nexternal_addr = node0.example.com:26656\n"
           "persistent_peers = %s@10.0.0.1:26656, %s@[::1]:26656,"
           "1111111111111111111111111111111111111111@seed-1.example.org:26656,"
           "2222222222222222222222222222222222222222@192.168.100.200:65535\n"
           "seeds = %s@seed.example.org:26656\nmax_inbound = 100\nmax_outbound = 1\nno_pex = 1\n",
           ID_A, ID_B, ID_A);
  if (node_config_parse(&c, t, &eb)) fail_msg("%s", eb.msg);
  assert_string_equal(c.p2p_listen, "0.0.0.0:26656");
  assert_string_equal(c.p2p_external_addr, "node0.example.com:26656");
  assert_true(strlen(c.p2p_persistent_peers) > 200);
  assert_non_null(strstr(c.p2p_persistent_peers, "192.168.100.200:65535"));
  assert_string_equal(c.p2p_seeds, ID_A "@seed.example.org:26656");
  assert_int_equal(c.p2p_max_inbound, 100);
  assert_int_equal(c.p2p_max_outbound, 1);
  assert_int_equal(c.p2p_no_pex, 1);
  /* empty values: no listener, no peers */
  node_config_defaults(&c);
  assert_int_equal(node_config_parse(&c, "[p2p]\nlisten =\npersistent_peers =   # none\n", &eb), 0);
  assert_string_equal(c.p2p_listen, "");
  assert_string_equal(c.p2p_persistent_peers, "");
  /* port 0 (ephemeral) is a valid listen address, as for the switch */
  assert_int_equal(node_config_parse(&c, "[p2p]\nlisten = tcp://127.0.0.1:0\n", &eb), 0);
}

static void test_p2p_errors(void **s) {
  (void)s;
  /* each names the line, the key and what is wrong */
  expect("[p2p]\n\nlisten = localhost:26656\n", "line 3: [p2p] listen: address \"localhost:26656\"");
  expect("[p2p]\nlisten = 127.0.0.1\n", "has no port");
  expect("[p2p]\nlisten = 127.0.0.1:65536\n", "bad port");
  expect("[p2p]\nexternal_addr = 1.2.3.4:0\n", "line 2: [p2p] external_addr");
  expect("[p2p]\nlisten =\nexternal_addr = 1.2.3.4:5\n", "listen is empty");
  expect("[p2p]\npersistent_peers = " ID_A "@1.2.3.4:5,,\n",
         "line 2: [p2p] persistent_peers: peer list entry 2 is empty");
  expect("[p2p]\npersistent_peers = " ID_A "@1.2.3.4:5, nope@1.2.3.4:5\n",
         "peer list entry 2: peer \"nope@1.2.3.4:5\": the node ID must be 40");
  expect("[p2p]\npersistent_peers = " ID_A "@1.2.3.4:5," ID_A "@1.2.3.5:5\n",
         "entries 1 and 2 name the same node");
  expect("[p2p]\nseeds = " ID_A "\n", "line 2: [p2p] seeds: peer list entry 1");
  expect("[p2p]\nno_pex = 2\n", "line 2: [p2p] no_pex = \"2\" must be an integer in [0, 1]");
  expect("[p2p]\nmax_inbound = 0\n", "[1, 10000]");
  expect("[p2p]\nmax_outbund = 3\n", "line 2: unknown setting [p2p] max_outbund");
  /* a key set twice is a mistake, not a silent override */
  expect("[p2p]\nlisten = 127.0.0.1:1\n[rpc]\nlisten = 127.0.0.1:2\n[p2p]\nlisten = 127.0.0.1:3\n",
         "line 6: [p2p] listen is already set on line 2");
  expect("[node]\nmoniker = caf\xc3\xa9\n", "line 2: [node] moniker must be at most 64 printable");
  /* long lines: the field's limit, then the line's */
  static char big[NODE_CONFIG_LINE_MAX + 64];
  memset(big, 0, sizeof big);
  strcpy(big, "[p2p]\nseeds = ");
  memset(big + strlen(big), 'a', 5000);
  expect(big, "line 2: [p2p] seeds is longer than 4095 characters");
  memset(big, 'a', NODE_CONFIG_LINE_MAX + 10);
  big[NODE_CONFIG_LINE_MAX + 10] = 0;
  expect(big, "line 1 is longer than 8192 characters");
  expect("[p2p] x\n", "line 1: malformed section header");
}

static void test_overrides(void **s) {
  (void)s;
  node_config c;
  core_errbuf eb = {{0}};
  node_config_defaults(&c);
  assert_int_equal(node_config_set(&c, "p2p", "listen", "127.0.0.1:7", "--p2p-listen", &eb), 0);
  assert_string_equal(c.p2p_listen, "127.0.0.1:7");
  assert_int_equal(node_config_set(&c, "p2p", "listen", "nohost:7", "--p2p-listen", &eb),
                   COHORT_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "--p2p-listen: [p2p] listen: address \"nohost:7\""));
  assert_string_equal(c.p2p_listen, "127.0.0.1:7"); /* unchanged on failure */
  /* process-wide overrides apply after the file (here: none, the defaults) */
  assert_int_equal(node_config_override("p2p", "listen", "", "--p2p-listen"), 0);
  node_config_defaults(&c);
  assert_int_equal(node_config_load(&c, "/nonexistent/cohortd.conf", &eb), 0);
  assert_string_equal(c.p2p_listen, "");
  node_config_overrides_clear();
  assert_int_equal(node_config_override("p2p", "listen", "x", "--p2p-listen"), 0);
  node_config_defaults(&c);
  assert_int_equal(node_config_load(&c, "/nonexistent/cohortd.conf", &eb), COHORT_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "--p2p-listen:"));
  node_config_overrides_clear();
  for (int i = 0; i < NODE_CONFIG_OVERRIDES_MAX; i++)
    assert_int_equal(node_config_override("p2p", "no_pex", "1", "--x"), 0);
  assert_int_equal(node_config_override("p2p", "no_pex", "1", "--x"), COHORT_ERR_TOO_LARGE);
  node_config_overrides_clear();
}

static void test_render(void **s) {
  (void)s;
  node_config_kv kv[] = {{"node", "moniker", "node7"},
                         {"rpc", "listen", "127.0.0.1:1001"},
                         {"p2p", "listen", "127.0.0.1:1000"},
                         {"p2p", "persistent_peers", ID_A "@127.0.0.1:2000," ID_B "@127.0.0.1:3000"},
                         {"consensus", "empty_block_interval_ms", "1500"}};
  core_errbuf eb = {{0}};
  char *t = node_config_render(kv, 5, &eb);
  assert_non_null(t);
  node_config c;
  node_config_defaults(&c);
  if (node_config_parse(&c, t, &eb)) fail_msg("%s", eb.msg);
  free(t);
  assert_string_equal(c.moniker, "node7");
  assert_string_equal(c.rpc_listen, "127.0.0.1:1001");
  assert_string_equal(c.p2p_listen, "127.0.0.1:1000");
  assert_string_equal(c.p2p_persistent_peers, kv[3].value);
  assert_int_equal(c.empty_block_interval_ms, 1500);
  assert_int_equal(c.block_interval_ms, 1000);
  node_config_kv bad = {"p2p", "nope", "1"};
  assert_null(node_config_render(&bad, 1, &eb));
  assert_non_null(strstr(eb.msg, "[p2p] nope is not a key"));
  node_config_kv nl = {"node", "moniker", "a\nlisten = 1"};
  assert_null(node_config_render(&nl, 1, &eb));
}

/* [executor]: the engine inside cohortd. Booleans as true/false or 0/1;
 * enabled needs a key; no fault-injection keys exist here (they are
 * `cohort executor run` flags for test chains only). */
static void test_executor_section(void **s) {
  (void)s;
  node_config c;
  core_errbuf eb = {{0}};
  node_config_defaults(&c);
  assert_int_equal(c.executor_enabled, 0);
  assert_int_equal(c.executor_poll_ms, 500);
  const char *t = "[executor]\nenabled = true\nkey = worker   # keys/worker.json\n"
                  "state_dir = /var/lib/ex\ncapacity = 4\npoll_ms = 100\nwatch_bps = 2500\n"
                  "node = 127.0.0.1:1,http://10.0.0.2:27657/\n";
  assert_int_equal(node_config_parse(&c, t, &eb), 0);
  assert_int_equal(c.executor_enabled, 1);
  assert_string_equal(c.executor_key, "worker");
  assert_string_equal(c.executor_state_dir, "/var/lib/ex");
  assert_int_equal(c.executor_capacity, 4);
  assert_int_equal(c.executor_poll_ms, 100);
  assert_int_equal(c.executor_watch_bps, 2500);
  assert_string_equal(c.executor_node, "127.0.0.1:1,http://10.0.0.2:27657/");
  node_config_defaults(&c);
  assert_int_equal(node_config_parse(&c, "[executor]\nenabled = 1\nkey = a\n", &eb), 0);
  assert_int_equal(c.executor_enabled, 1);
  node_config_defaults(&c);
  assert_int_equal(node_config_parse(&c, "[executor]\nenabled = false\n", &eb), 0);
  assert_int_equal(c.executor_enabled, 0);
  expect("[executor]\nenabled = true\n", "needs key");
  expect("[executor]\nenabled = yes\n", "line 2: [executor] enabled = \"yes\" must be true or false");
  expect("[executor]\nkey = a\nbyzantine = 1\n", "line 3: unknown setting [executor] byzantine");
  expect("[executor]\nlie_from_step = 5\n", "unknown setting [executor] lie_from_step");
  expect("[executor]\nsilent_in_games = 1\n", "unknown setting [executor] silent_in_games");
  expect("[executor]\nwatch_bps = 10001\n", "[0, 10000]");
  expect("[executor]\npoll_ms = 10\n", "[50, 3600000]");
  expect("[executor]\ncapacity = 5000\n", "capacity");
  expect("[executor]\nnode = a:1,,b:2\n", "[executor] node: an empty address");
  expect("[executor]\nnode = 1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9\n", "at most 8");
  expect("[executor]\nkey = a\nkey = b\n", "line 3: [executor] key is already set on line 2");
  /* the template has the section, disabled */
  assert_non_null(strstr(node_config_template(), "\n[executor]\n"));
  assert_non_null(strstr(node_config_template(), "\nenabled = false\n"));
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
                                     cmocka_unit_test(test_p2p_section),
                                     cmocka_unit_test(test_p2p_errors),
                                     cmocka_unit_test(test_overrides),
                                     cmocka_unit_test(test_render),
                                     cmocka_unit_test(test_executor_section),
                                     cmocka_unit_test(test_operator_doc_sample)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
