/* Unit tests for `cohortd testnet` (node_testnet): the homes of a 4-node
 * chain share one genesis that the loader accepts and that lists every
 * home's validator key and beacon commitment; every persistent_peers entry
 * is another node's real ID (from its node_key.json) and p2p address; ports
 * are distinct; a non-empty --out and bad options are refused before
 * anything is written. The processes themselves are started by
 * tests/integration/test_testnet.py. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis/genesis.h"
#include "node/beacon.h"
#include "node/config.h"
#include "node/node.h"
#include "p2p/p2p_addr.h"

#define N 4

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)flag;
  (void)f;
  return remove(p);
}
static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static const size_t cap = 1 << 20;
  char *b = malloc(cap);
  *len = fread(b, 1, cap - 1, f);
  b[*len] = 0;
  fclose(f);
  return b;
}

static void test_four_nodes(void **s) {
  (void)s;
  char top[] = "/tmp/cohort_testnet_XXXXXX", out[128], p[256];
  assert_non_null(mkdtemp(top));
  snprintf(out, sizeof out, "%s/net", top);
  node_testnet_opts o = {.out = out, .validators = N, .chain_id = "unit-net-1",
                         .base_port = 30000, .empty_block_interval_ms = 1500};
  core_errbuf eb = {{0}};
  if (node_testnet(&o, &eb)) fail_msg("%s", eb.msg);

  /* one genesis, byte for byte, that genesis_load accepts */
  char *gen0 = NULL;
  size_t gen0_len = 0;
  genesis g;
  char ids[N][P2P_ID_HEX + 1];
  uint8_t val_pub[N][32];
  for (int k = 0; k < N; k++) {
    size_t len;
    snprintf(p, sizeof p, "%s/node%d/config/genesis.json", out, k);
    char *t = slurp(p, &len);
    assert_non_null(t);
    if (!gen0) {
      gen0 = t;
      gen0_len = len;
    } else {
      assert_int_equal(len, gen0_len);
      assert_memory_equal(t, gen0, len);
      free(t);
    }
    core_key vk, nk;
    snprintf(p, sizeof p, "%s/node%d/config/priv_validator_key.json", out, k);
    assert_int_equal(core_keyfile_read(p, &vk, &eb), 0);
    memcpy(val_pub[k], vk.pub, 32);
    snprintf(p, sizeof p, "%s/node%d/config/node_key.json", out, k);
    assert_int_equal(core_keyfile_read(p, &nk, &eb), 0);
    p2p_node_id_hex(ids[k], nk.pub);
    core_key_wipe(&vk);
    core_key_wipe(&nk);
    for (int j = 0; j < k; j++) assert_string_not_equal(ids[j], ids[k]);
    /* the dev key only in node0, an operator key everywhere */
    snprintf(p, sizeof p, "%s/node%d/keys/dev.json", out, k);
    assert_int_equal(access(p, F_OK) == 0, k == 0);
    snprintf(p, sizeof p, "%s/node%d/keys/operator.json", out, k);
    assert_int_equal(access(p, F_OK), 0);
  }
  snprintf(p, sizeof p, "%s/node2/config/genesis.json", out);
  if (genesis_load(&g, p, &eb)) fail_msg("%s", eb.msg);
  assert_string_equal(g.chain_id, "unit-net-1");
  assert_int_equal(g.n_validators, N);
  for (int k = 0; k < N; k++) {
    const genesis_validator *v = &g.validators[k];
    assert_memory_equal(v->pubkey, val_pub[k], 32); /* node K's own key */
    assert_int_equal(v->power, g.validators[0].power);  /* equal power */
    char m[8];
    snprintf(m, sizeof m, "node%d", k);
    assert_string_equal(v->moniker, m);
    /* its beacon commitment is its own seed's chain */
    assert_true(v->has_beacon);
    beacon_chain *bc;
    uint8_t c[32];
    snprintf(p, sizeof p, "%s/node%d/config/beacon_seed.json", out, k);
    assert_int_equal(beacon_chain_open(&bc, p, &eb), 0);
    beacon_chain_commitment(bc, c);
    beacon_chain_close(bc);
    assert_memory_equal(c, v->beacon_commit, 32);
    /* the operator is funded */
    core_key ok;
    uint8_t op[20];
    snprintf(p, sizeof p, "%s/node%d/keys/operator.json", out, k);
    assert_int_equal(core_keyfile_read(p, &ok, &eb), 0);
    core_account_id(op, ok.pub);
    assert_memory_equal(op, v->operator_id, 20);
    int funded = 0;
    for (size_t i = 0; i < g.n_accounts; i++)
      funded |= !memcmp(g.accounts[i].id, op, 20) && g.accounts[i].crd > 0;
    assert_true(funded);
  }
  core_key dk;
  uint8_t dev[20];
  snprintf(p, sizeof p, "%s/node0/keys/dev.json", out);
  assert_int_equal(core_keyfile_read(p, &dk, &eb), 0);
  core_account_id(dev, dk.pub);
  assert_memory_equal(g.accounts[0].id, dev, 20);
  assert_true(g.accounts[0].crd >= 1000000000000000ull);

  /* configs: distinct monikers and ports; peers are the others, by real ID */
  node_config c[N];
  unsigned ports[2 * N];
  for (int k = 0; k < N; k++) {
    node_config_defaults(&c[k]);
    snprintf(p, sizeof p, "%s/node%d/cohortd.conf", out, k);
    if (node_config_load(&c[k], p, &eb)) fail_msg("%s", eb.msg);
    char m[8];
    snprintf(m, sizeof m, "node%d", k);
    assert_string_equal(c[k].moniker, m);
    assert_int_equal(c[k].empty_block_interval_ms, 1500);
    p2p_hostport rp, pp;
    assert_int_equal(p2p_hostport_parse(c[k].rpc_listen, strlen(c[k].rpc_listen), 0, 0, &rp, &eb), 0);
    assert_int_equal(p2p_hostport_parse(c[k].p2p_listen, strlen(c[k].p2p_listen), 0, 0, &pp, &eb), 0);
    assert_string_equal(rp.host, "127.0.0.1");
    assert_int_equal(pp.port, 30000 + 10 * k);
    assert_int_equal(rp.port, 30000 + 10 * k + 1);
    ports[2 * k] = pp.port;
    ports[2 * k + 1] = rp.port;
    p2p_peer_addr *pa;
    size_t np;
    if (p2p_peer_list_parse(c[k].p2p_persistent_peers, &pa, &np, &eb)) fail_msg("%s", eb.msg);
    assert_int_equal(np, N - 1);
    int seen[N] = {0};
    for (size_t i = 0; i < np; i++) {
      int j = -1;
      for (int q = 0; q < N; q++)
        if (!strcmp(pa[i].id, ids[q])) j = q;
      assert_true(j >= 0 && j != k && !seen[j]);
      seen[j] = 1;
      char want[32];
      snprintf(want, sizeof want, "127.0.0.1:%d", 30000 + 10 * j);
      assert_string_equal(pa[i].hp.addr, want);
    }
    free(pa);
  }
  for (int i = 0; i < 2 * N; i++)
    for (int j = 0; j < i; j++) assert_int_not_equal(ports[i], ports[j]);

  /* testnet.json describes the same network */
  size_t len;
  snprintf(p, sizeof p, "%s/testnet.json", out);
  char *t = slurp(p, &len);
  assert_non_null(t);
  json_error_t je;
  json_t *root = json_loads(t, 0, &je);
  free(t);
  assert_non_null(root);
  assert_string_equal(json_string_value(json_object_get(root, "chain_id")), "unit-net-1");
  char gh[65];
  core_hex_encode(gh, g.hash, 32);
  assert_string_equal(json_string_value(json_object_get(root, "genesis_hash")), gh);
  json_t *nodes = json_object_get(root, "nodes");
  assert_int_equal(json_array_size(nodes), N);
  for (int k = 0; k < N; k++) {
    json_t *nd = json_array_get(nodes, (size_t)k);
    assert_string_equal(json_string_value(json_object_get(nd, "node_id")), ids[k]);
    char pk[65];
    core_hex_encode(pk, val_pub[k], 32);
    assert_string_equal(json_string_value(json_object_get(nd, "validator_pubkey")), pk);
    assert_string_equal(json_string_value(json_object_get(nd, "rpc")), c[k].rpc_listen);
  }
  json_decref(root);
  genesis_free(&g);
  free(gen0);

  /* a second run into the same directory is refused, and changes nothing */
  struct stat before, after;
  snprintf(p, sizeof p, "%s/node0/config/genesis.json", out);
  assert_int_equal(stat(p, &before), 0);
  assert_int_equal(node_testnet(&o, &eb), COHORT_ERR_DUPLICATE);
  assert_non_null(strstr(eb.msg, "exists and is not empty"));
  assert_int_equal(stat(p, &after), 0);
  assert_int_equal(before.st_mtime, after.st_mtime);
  assert_int_equal(before.st_ino, after.st_ino);
  rm_rf(top);
}

static void expect_refused(const node_testnet_opts *o, int code, const char *needle) {
  core_errbuf eb = {{0}};
  int rc = node_testnet(o, &eb);
  if (rc != code) fail_msg("expected %d for \"%s\", got %d: %s", code, needle, rc, eb.msg);
  if (!strstr(eb.msg, needle)) fail_msg("\"%s\" does not contain \"%s\"", eb.msg, needle);
}

static void test_refusals(void **s) {
  (void)s;
  char top[] = "/tmp/cohort_testnet_XXXXXX", out[128], p[160];
  assert_non_null(mkdtemp(top));
  snprintf(out, sizeof out, "%s/net", top);
  node_testnet_opts o = {.out = out, .validators = 4};
  o.validators = 0;
  expect_refused(&o, COHORT_ERR_INVALID, "--validators must be 1..64");
  o.validators = NODE_TESTNET_MAX + 1;
  expect_refused(&o, COHORT_ERR_INVALID, "--validators");
  o.validators = 4;
  o.base_port = 65510;
  expect_refused(&o, COHORT_ERR_INVALID, "--base-port 65510");
  o.base_port = 0;
  o.hostname = "0.0.0.0";
  expect_refused(&o, COHORT_ERR_INVALID, "not an address a peer can dial");
  o.hostname = "bad_host!";
  expect_refused(&o, COHORT_ERR_INVALID, "--hostname");
  o.hostname = NULL;
  o.chain_id = "Upper";
  expect_refused(&o, COHORT_ERR_INVALID, "--chain-id");
  o.chain_id = NULL;
  o.out = NULL;
  expect_refused(&o, COHORT_ERR_INVALID, "--out DIR is required");
  o.out = out;
  assert_int_equal(access(out, F_OK), -1); /* nothing was created */
  /* a non-empty directory: refused; a file: refused; an empty one: used */
  assert_int_equal(mkdir(out, 0700), 0);
  snprintf(p, sizeof p, "%s/something", out);
  FILE *f = fopen(p, "w");
  fclose(f);
  expect_refused(&o, COHORT_ERR_DUPLICATE, "exists and is not empty");
  snprintf(p, sizeof p, "%s/node0", out);
  assert_int_equal(access(p, F_OK), -1);
  snprintf(p, sizeof p, "%s/something", out);
  o.out = p;
  expect_refused(&o, COHORT_ERR_DUPLICATE, "is not a directory");
  unlink(p);
  o.out = out;
  o.validators = 1; /* one validator: no peers */
  core_errbuf eb = {{0}};
  if (node_testnet(&o, &eb)) fail_msg("%s", eb.msg);
  node_config c;
  node_config_defaults(&c);
  snprintf(p, sizeof p, "%s/node0/cohortd.conf", out);
  assert_int_equal(node_config_load(&c, p, &eb), 0);
  assert_string_equal(c.p2p_persistent_peers, "");
  rm_rf(top);
}

int main(void) {
  assert_int_equal(core_init(), 0);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_four_nodes),
                                     cmocka_unit_test(test_refusals)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
