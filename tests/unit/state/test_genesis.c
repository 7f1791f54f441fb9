/* Unit tests for genesis/: strict parsing with errors naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "genesis/genesis.h"

#define ADDR "coh1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq39w258"
#define PK "0000000000000000000000000000000000000000000000000000000000000001"

static char good[2048];

static void build(const char *chain, const char *time, const char *params,
                  const char *accounts, const char *vals, const char *extra) {
  snprintf(good, sizeof good,
           "{\"chain_id\":%s,\"genesis_time\":%s,\"params\":%s,\"accounts\":%s,"
           "\"validators\":%s%s}",
           chain, time, params, accounts, vals, extra);
}

#define P "{\"max_block_bytes\":4194304,\"max_tx_bytes\":2097152,\"max_block_txs\":100,\"min_fee\":\"1\"}"
#define A "[{\"address\":\"" ADDR "\",\"crd\":\"100\",\"stk\":\"5\"}]"
#define V "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\"}]"

static int parse(core_errbuf *eb) {
  genesis g;
  int rc = genesis_parse(&g, good, strlen(good), eb);
  if (!rc) genesis_free(&g);
  return rc;
}

static void expect_error(const char *field_text) {
  core_errbuf eb = {{0}};
  assert_int_not_equal(parse(&eb), 0);
  if (!strstr(eb.msg, field_text)) fail_msg("error \"%s\" does not mention \"%s\"", eb.msg, field_text);
}

static void test_valid(void **s) {
  (void)s;
  build("\"c-1\"", "\"2026-11-24T10:20:30.5Z\"", P, A, V, "");
  genesis g;
  core_errbuf eb;
  assert_int_equal(genesis_parse(&g, good, strlen(good), &eb), 0);
  assert_string_equal(g.chain_id, "c-1");
  assert_int_equal(g.time_ms, 1795515630500ull /* python3 datetime(2026,11,24,10,20,30.5, UTC) */);
  assert_int_equal(g.n_accounts, 1);
  assert_int_equal(g.accounts[0].crd, 100);
  assert_int_equal(g.validators[0].power, 10);
  assert_int_equal(g.params.min_fee, 1);
  assert_int_equal(g.params.quorum_bps, 6666); /* absent: the table's default */
  genesis_free(&g);
  /* no params at all: every default */
  build("\"c-1\"", "\"2026-11-24T10:20:30Z\"", "{}", A, V, "");
  assert_int_equal(genesis_parse(&g, good, strlen(good), &eb), 0);
  genesis_params d;
  genesis_params_default(&d);
  assert_memory_equal(&g.params, &d, sizeof d);
  genesis_free(&g);
}

static void test_errors_name_the_field(void **s) {
  (void)s;
  build("\"C_UPPER\"", "\"2026-11-24T00:00:00Z\"", P, A, V, "");
  expect_error("chain_id");
  build("\"c\"", "\"yesterday\"", P, A, V, "");
  expect_error("genesis_time");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P,
        "[{\"address\":\"" ADDR "\",\"crd\":100}]", V, "");
  expect_error("accounts[0].crd");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P,
        "[{\"address\":\"" ADDR "\",\"crd\":\"18446744073709551616\"}]", V, "");
  expect_error("accounts[0].crd");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P,
        "[{\"address\":\"" ADDR "\",\"crd\":\"18446744073709551615\"},"
        "{\"address\":\"" ADDR "\",\"crd\":\"1\"}]", V, "");
  expect_error("accounts[1].address");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"0\"}]", "");
  expect_error("validators[0].power");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A, "[]", "");
  expect_error("validators");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A, V, ",\"surprise\":1");
  expect_error("surprise");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"min_fee\":1}", A, V, "");
  expect_error("params.min_fee"); /* a u64 parameter is a decimal string */
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"max_comittee\":3}", A, V, "");
  expect_error("max_comittee"); /* a typo is not silently ignored */
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"quorum_bps\":0}", A, V, "");
  expect_error("params.quorum_bps");
  /* an output no reveal could carry is a genesis error, not a trap for executors */
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"max_tx_bytes\":65536}", A, V, "");
  expect_error("max_inline_output");
  /* parameters under which no tx could be included again (review: a
   * governance change must not be able to halt the chain for ever) */
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"max_block_gas\":\"1\"}", A, V, "");
  expect_error("max_block_gas");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"min_fee\":\"10000000000000\"}", A, V, "");
  expect_error("min_fee");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"max_block_bytes\":8192,\"max_tx_bytes\":8192,\"max_inline_output\":1024}", A, V, "");
  expect_error("max_block_bytes");
  /* review finding 3: an evidence age equal to the unbonding period lets
   * stake unbonded the block before a double sign be paid while its
   * evidence is still accepted (docs/staking.md §3 "Evidence age") */
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"unbonding_blocks\":8,\"evidence_max_age\":8}", A,
        V, "");
  expect_error("evidence_max_age");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", "{\"unbonding_blocks\":8,\"evidence_max_age\":9}", A,
        V, "");
  expect_error("evidence_max_age");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A, V, ",\"chain_id\":\"d\"");
  expect_error("JSON");
  const char *trunc = "{\"chain_id\":\"c\",";
  genesis g;
  core_errbuf eb;
  assert_int_equal(genesis_parse(&g, trunc, strlen(trunc), &eb), COHORT_ERR_GENESIS);
}

/* Review finding 8: a genesis validator's commission limits. Without a
 * genesis entry they are 0 / 10000 / 100 (a change moves the commission
 * by at most 1%, not from 0 to 100% at once); an entry may set them,
 * under CreateValidator's relations. */
static void test_validator_commission_limits(void **s) {
  (void)s;
  genesis g;
  core_errbuf eb = {{0}};
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A, V, "");
  assert_int_equal(genesis_parse(&g, good, strlen(good), &eb), 0);
  assert_int_equal(g.validators[0].commission_bps, 0);
  assert_int_equal(g.validators[0].max_commission_bps, 10000);
  assert_int_equal(g.validators[0].max_change_bps, 100);
  assert_int_equal(g.validators[0].has_commission, 0);
  genesis_free(&g);
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\","
        "\"commission_bps\":500,\"max_commission_bps\":2000,\"max_change_bps\":50}]", "");
  assert_int_equal(genesis_parse(&g, good, strlen(good), &eb), 0);
  assert_int_equal(g.validators[0].commission_bps, 500);
  assert_int_equal(g.validators[0].max_commission_bps, 2000);
  assert_int_equal(g.validators[0].max_change_bps, 50);
  assert_int_equal(g.validators[0].has_commission, 1);
  /* the testnet builder writes them back */
  char *j = genesis_testnet_json("c", 0, g.validators, 1, g.accounts, 1);
  genesis_free(&g);
  assert_non_null(j);
  assert_int_equal(genesis_parse(&g, j, strlen(j), &eb), 0);
  assert_int_equal(g.validators[0].commission_bps, 500);
  assert_int_equal(g.validators[0].max_change_bps, 50);
  genesis_free(&g);
  free(j);
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\","
        "\"commission_bps\":3000,\"max_commission_bps\":2000}]", "");
  expect_error("validators[0].commission_bps");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\","
        "\"max_commission_bps\":50}]", ""); /* the default max change 100 > 50 */
  expect_error("validators[0].max_change_bps");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\","
        "\"max_change_bps\":10001}]", "");
  expect_error("validators[0].max_change_bps");
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P, A,
        "[{\"pubkey\":\"" PK "\",\"operator\":\"" ADDR "\",\"power\":\"10\","
        "\"commission_bps\":\"5\"}]", "");
  expect_error("validators[0].commission_bps");
}

static void test_supply_overflow(void **s) {
  (void)s;
  build("\"c\"", "\"2026-11-24T00:00:00Z\"", P,
        "[{\"address\":\"" ADDR "\",\"stk\":\"18446744073709551615\"}]", V, "");
  expect_error("overflow");
}

/* docs/protocol.md shows exactly the table generated from genesis/params.h
 * (between its params:begin/end markers): one source of truth. */
static void test_docs_show_the_parameter_table(void **s) {
  (void)s;
  FILE *f = fopen(DOCS_DIR "/protocol.md", "rb");
  assert_non_null(f);
  static char doc[1 << 18];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = 0;
  const char *b = strstr(doc, "<!-- params:begin -->\n"), *e = strstr(doc, "<!-- params:end -->");
  assert_non_null(b);
  assert_non_null(e);
  b += strlen("<!-- params:begin -->\n");
  char *md = genesis_params_markdown();
  assert_non_null(md);
  if (strlen(md) != (size_t)(e - b) || memcmp(md, b, strlen(md)))
    fail_msg("docs/protocol.md's parameter table differs from genesis/params.h; paste the output "
             "of `cohortd params --markdown` between the markers");
  free(md);
}

/* The multi-validator builder: what it writes, genesis_parse reads back. */
static void test_testnet_builder(void **s) {
  (void)s;
  genesis_validator v[4];
  genesis_account a[5];
  memset(v, 0, sizeof v);
  memset(a, 0, sizeof a);
  for (int i = 0; i < 4; i++) {
    memset(v[i].pubkey, 0x10 + i, 32);
    memset(v[i].operator_id, 0x20 + i, 20);
    v[i].power = 100000000000ull;
    snprintf(v[i].moniker, sizeof v[i].moniker, "node%d", i);
    v[i].has_beacon = i != 2; /* one without, to see the field left out */
    memset(v[i].beacon_commit, 0x30 + i, 32);
    memcpy(a[i + 1].id, v[i].operator_id, 20);
    a[i + 1].crd = 1000 + (uint64_t)i;
  }
  memset(a[0].id, 0x77, 20);
  a[0].crd = 18000000000000000000ull; /* above 2^53: kept exact as a string */
  a[0].stk = 5;
  char *j = genesis_testnet_json("cohort-testnet-1", 1795000000000ull, v, 4, a, 5);
  assert_non_null(j);
  genesis g;
  core_errbuf eb = {{0}};
  if (genesis_parse(&g, j, strlen(j), &eb)) fail_msg("%s", eb.msg);
  assert_string_equal(g.chain_id, "cohort-testnet-1");
  assert_int_equal(g.time_ms, 1795000000000ull);
  assert_int_equal(g.n_validators, 4);
  assert_int_equal(g.n_accounts, 5);
  for (int i = 0; i < 4; i++) {
    assert_memory_equal(g.validators[i].pubkey, v[i].pubkey, 32);
    assert_memory_equal(g.validators[i].operator_id, v[i].operator_id, 20);
    assert_int_equal(g.validators[i].power, v[i].power);
    assert_string_equal(g.validators[i].moniker, v[i].moniker);
    assert_int_equal(g.validators[i].has_beacon, v[i].has_beacon);
    if (v[i].has_beacon) assert_memory_equal(g.validators[i].beacon_commit, v[i].beacon_commit, 32);
    assert_int_equal(g.accounts[i + 1].crd, 1000 + (uint64_t)i);
  }
  assert_true(g.accounts[0].crd == 18000000000000000000ull);
  assert_int_equal(g.accounts[0].stk, 5);
  uint8_t h[32];
  core_sha256(h, j, strlen(j));
  assert_memory_equal(g.hash, h, 32);
  genesis_free(&g);
  free(j);
  /* duplicates are not the builder's business: the loader refuses them */
  memcpy(v[3].pubkey, v[0].pubkey, 32);
  j = genesis_testnet_json("c", 0, v, 4, a, 5);
  assert_int_equal(genesis_parse(&g, j, strlen(j), &eb), COHORT_ERR_GENESIS);
  assert_non_null(strstr(eb.msg, "validators[3].pubkey: duplicates validators[0]"));
  free(j);
  assert_null(genesis_testnet_json("c", 0, v, 0, a, 5));
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid),
                                     cmocka_unit_test(test_docs_show_the_parameter_table),
                                     cmocka_unit_test(test_errors_name_the_field),
                                     cmocka_unit_test(test_supply_overflow),
                                     cmocka_unit_test(test_validator_commission_limits),
                                     cmocka_unit_test(test_testnet_builder)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
