/* Unit tests for state/: the transition (transfers, fees, inclusion rules),
 * token conservation, replay of the same blocks into two fresh stores with
 * app_hash compared at every height, tamper rejection, and restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain_fixture.h"

static fixture F;

static state *open_mem(kv_store **kv) {
  state *st;
  core_errbuf eb;
  assert_int_equal(kv_open_mem(kv), 0);
  assert_int_equal(state_open(&st, *kv, &eb), 0);
  assert_int_equal(state_init_genesis(st, &F.g, &eb), 0);
  return st;
}

static void acct(state *st, int u, uint64_t *crd, uint64_t *stk, uint64_t *nonce) {
  assert_int_equal(state_get_account(st, F.ids[u], crd, stk, nonce), 0);
}

static void test_genesis_same_hash_mem_and_leveldb(void **s) {
  (void)s;
  kv_store *a, *b;
  state *sa = open_mem(&a), *sb;
  char dir[] = "/tmp/cohort_state_XXXXXX";
  assert_non_null(mkdtemp(dir));
  core_errbuf eb;
  assert_int_equal(kv_open_leveldb(&b, dir, &eb), 0);
  assert_int_equal(state_open(&sb, b, &eb), 0);
  assert_int_equal(state_init_genesis(sb, &F.g, &eb), 0);
  assert_memory_equal(state_app_hash(sa), state_app_hash(sb), 32);
  assert_int_equal(state_height(sb), 0);
  /* Re-initialising with the same genesis is a no-op; another is refused. */
  assert_int_equal(state_init_genesis(sb, &F.g, &eb), 0);
  genesis other = F.g;
  other.hash[0] ^= 1;
  assert_int_equal(state_init_genesis(sb, &other, &eb), COHORT_ERR_GENESIS);
  uint64_t crd, stk;
  assert_int_equal(state_get_supply(sa, &crd, &stk), 0);
  assert_int_equal(crd, 6 * 1000000000ull + 500);
  assert_int_equal(stk, 6 * 5000000ull + 100);
  state_close(sa);
  kv_close(a);
  state_close(sb);
  kv_close(b);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_transfer_and_fees(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_mem(&kv);
  size_t l1, l2;
  uint8_t *t1 = fx_transfer(&F, 1, F.ids[2], COHORT__TOKEN__CRD, 1000, 0, 10, FX_CHAIN, &l1);
  uint8_t *t2 = fx_transfer(&F, 1, F.ids[2], COHORT__TOKEN__STK, 7, 1, 25, FX_CHAIN, &l2);
  uint8_t *txs[] = {t1, t2}, *b, *c;
  size_t lens[] = {l1, l2}, bl, cl;
  assert_int_equal(fx_make_block(&F, st, txs, lens, 2, &b, &bl, &c, &cl), 0);
  uint64_t crd, stk, nonce;
  acct(st, 1, &crd, &stk, &nonce);
  assert_int_equal(crd, 1000000000ull - 1000 - 10 - 25);
  assert_int_equal(stk, 5000000ull - 7);
  assert_int_equal(nonce, 2);
  acct(st, 2, &crd, &stk, &nonce);
  assert_int_equal(crd, 1000000000ull + 1000);
  assert_int_equal(stk, 5000000ull + 7);
  assert_int_equal(nonce, 0);
  acct(st, 0, &crd, &stk, &nonce); /* fees go to the fee pool, not to the proposer */
  assert_int_equal(crd, 1000000000ull);
  /* ... and at the end of the block to the validator's delegators: the
   * community tax (2%) of 35 is 0; 35 into s/rewards, of which the
   * operator's self-delegation (all 100 shares) may withdraw 34 (1 base
   * unit of rounding dust, docs/staking.md §4) */
  assert_int_equal(fx_pool_crd(st, "s/fees"), 0);
  assert_int_equal(fx_pool_crd(st, "s/rewards"), 35);
  assert_int_equal(fx_pending(st, F.ids[0], F.ids[0]), 34);
  FX_AUDIT(st);
  assert_int_equal(state_height(st), 1);
  Cohort__TxResult *r;
  uint8_t h[32];
  core_sha256(h, t2, l2);
  assert_int_equal(state_get_tx_result(st, h, &r), 0);
  assert_int_equal(r->height, 1);
  assert_int_equal(r->index, 1);
  assert_int_equal(r->code, 0);
  assert_int_equal(r->fee_paid, 25);
  cohort__tx_result__free_unpacked(r, NULL);
  free(t1), free(t2), free(b), free(c);
  state_close(st);
  kv_close(kv);
}

static int try_tx(state *st, uint8_t *raw, size_t len, state_tx_result *res) {
  state_exec *x;
  core_errbuf eb;
  assert_int_equal(state_exec_begin(st, state_height(st) + 1, state_last_time_ms(st) + 1,
                                    F.val.pub, &x, &eb), 0);
  tx_t tx;
  int rc = tx_decode(&tx, raw, len, 1 << 20, &eb);
  if (!rc) {
    rc = state_exec_tx(x, &tx, 0, res, &eb);
    if (rc) assert_int_equal(state_exec_count(x), 0);
    tx_free(&tx);
  }
  uint64_t crd, stk, nonce, crd0, stk0, nonce0;
  if (rc) { /* nothing visible in the overlay either */
    assert_int_equal(state_get_account(st, F.ids[3], &crd0, &stk0, &nonce0), 0);
    assert_int_equal(state_exec_get_account(x, F.ids[3], &crd, &stk, &nonce), 0);
    assert_int_equal(crd, crd0);
    assert_int_equal(nonce, nonce0);
  }
  state_exec_free(x);
  return rc;
}

static void test_inclusion_rules(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_mem(&kv);
  state_tx_result res;
  size_t l;
  uint8_t *t;
  t = fx_transfer(&F, 3, F.ids[1], 1, 1, 0, 10, FX_CHAIN, &l);
  t[l - 1] ^= 1; /* last byte is inside the signature */
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_SIGNATURE);
  free(t);
  t = fx_transfer(&F, 3, F.ids[1], 1, 1, 0, 10, "other-chain", &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_SIGNATURE);
  free(t);
  t = fx_transfer(&F, 3, F.ids[1], 1, 1, 1, 10, FX_CHAIN, &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_NONCE_FUTURE);
  free(t);
  t = fx_transfer(&F, 3, F.ids[1], 1, 1, 0, 9, FX_CHAIN, &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_FEE);
  free(t);
  t = fx_transfer(&F, 3, F.ids[1], 1, 1, 0, 501, FX_CHAIN, &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_FUNDS);
  free(t);
  /* Decoder-level refusals. */
  t = fx_transfer(&F, 3, F.ids[1], 3, 1, 0, 10, FX_CHAIN, &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_TOKEN);
  free(t);
  t = fx_transfer(&F, 3, F.ids[1], 1, 0, 0, 10, FX_CHAIN, &l);
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_AMOUNT);
  free(t);
  /* A message that fails is still included: fee and nonce consumed. */
  t = fx_transfer(&F, 3, F.ids[1], 1, 1000, 0, 10, FX_CHAIN, &l);
  uint8_t *txs[] = {t}, *b, *c;
  size_t lens[] = {l}, bl, cl;
  assert_int_equal(fx_make_block(&F, st, txs, lens, 1, &b, &bl, &c, &cl), 0);
  uint64_t crd, stk, nonce;
  acct(st, 3, &crd, &stk, &nonce);
  assert_int_equal(crd, 490);
  assert_int_equal(nonce, 1);
  Cohort__TxResult *r;
  uint8_t h[32];
  core_sha256(h, t, l);
  assert_int_equal(state_get_tx_result(st, h, &r), 0);
  assert_int_equal(r->code, COHORT_ERR_FUNDS);
  cohort__tx_result__free_unpacked(r, NULL);
  /* ... and replaying it is refused: nonce already used. */
  assert_int_equal(try_tx(st, t, l, &res), COHORT_ERR_NONCE_OLD);
  free(t), free(b), free(c);
  state_close(st);
  kv_close(kv);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* A random workload; after every block the supply rule holds (balances,
 * pools and validator tokens: state_audit). Blocks go
 * into `blocks` for the replay test. */
#define NBLOCKS 30
static uint8_t *blocks[NBLOCKS], *commits[NBLOCKS];
static size_t blens[NBLOCKS], clens[NBLOCKS];
static uint8_t hashes_a[NBLOCKS + 1][32];

static void test_random_workload_conserves_supply(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_mem(&kv);
  uint64_t nonces[4] = {0};
  memcpy(hashes_a[0], state_app_hash(st), 32);
  for (int bi = 0; bi < NBLOCKS; bi++) {
    uint8_t *txs[40];
    size_t lens[40], n = rnd() % 40;
    for (size_t i = 0; i < n; i++) {
      int from = (int)(rnd() % 4), to = (int)(rnd() % 4);
      uint64_t amt = 1 + rnd() % (rnd() % 4 == 0 ? 2000000000ull : 100000);
      /* some txs are bad on purpose: stale nonce or low fee */
      uint64_t nonce = rnd() % 10 == 0 ? nonces[from] + 1 : nonces[from];
      uint64_t fee = rnd() % 10 == 0 ? 1 : 10 + rnd() % 50;
      txs[i] = fx_transfer(&F, from, F.ids[to], 1 + (int)(rnd() % 2), amt, nonce, fee, FX_CHAIN,
                           &lens[i]);
    }
    assert_int_equal(fx_make_block(&F, st, txs, lens, n, &blocks[bi], &blens[bi], &commits[bi],
                                   &clens[bi]), 0);
    for (size_t i = 0; i < n; i++) free(txs[i]);
    for (int u = 0; u < 4; u++) {
      uint64_t c, t;
      acct(st, u, &c, &t, &nonces[u]);
    }
    FX_AUDIT(st); /* balances + pools (+ validator tokens for STK) = supply */
    memcpy(hashes_a[bi + 1], state_app_hash(st), 32);
  }
  uint64_t total_nonce = 0;
  for (int u = 0; u < 4; u++) total_nonce += nonces[u];
  assert_true(total_nonce > NBLOCKS); /* the workload really committed txs */
  state_close(st);
  kv_close(kv);
}

static void test_replay_two_stores_same_app_hash(void **s) {
  (void)s;
  kv_store *kb, *kc;
  state *sb = open_mem(&kb), *sc;
  char dir[] = "/tmp/cohort_replay_XXXXXX";
  assert_non_null(mkdtemp(dir));
  core_errbuf eb;
  assert_int_equal(kv_open_leveldb(&kc, dir, &eb), 0);
  assert_int_equal(state_open(&sc, kc, &eb), 0);
  assert_int_equal(state_init_genesis(sc, &F.g, &eb), 0);
  for (int i = 0; i < NBLOCKS; i++) {
    int rb = state_apply_block(sb, blocks[i], blens[i], commits[i], clens[i], &eb);
    if (rb) fail_msg("mem replay of block %d: %s", i + 1, eb.msg);
    assert_int_equal(state_apply_block(sc, blocks[i], blens[i], commits[i], clens[i], &eb), 0);
    assert_memory_equal(state_app_hash(sb), hashes_a[i + 1], 32);
    assert_memory_equal(state_app_hash(sc), hashes_a[i + 1], 32);
    /* header i+1 commits to the state after block i */
    block_t b;
    assert_int_equal(block_decode(&b, blocks[i], blens[i], 1 << 22, 1000, &eb), 0);
    assert_memory_equal(b.hdr->app_hash.data, hashes_a[i], 32);
    block_free(&b);
  }
  /* Restart: close and reopen the LevelDB store; same height and hash. */
  state_close(sc);
  kv_close(kc);
  assert_int_equal(kv_open_leveldb(&kc, dir, &eb), 0);
  assert_int_equal(state_open(&sc, kc, &eb), 0);
  assert_int_equal(state_height(sc), NBLOCKS);
  assert_memory_equal(state_app_hash(sc), hashes_a[NBLOCKS], 32);
  state_close(sb);
  kv_close(kb);
  state_close(sc);
  kv_close(kc);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_apply_rejects_tampering(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_mem(&kv);
  core_errbuf eb;
  uint8_t before[32];
  memcpy(before, state_app_hash(st), 32);
  /* Flip each byte of block 1 in turn (every 7th, to keep it quick): the
   * block must be refused or — if the flip lands in a part no rule covers —
   * never change state into something else than the honest result. */
  int refused = 0;
  for (size_t i = 0; i < blens[0]; i += 7) {
    uint8_t *b = malloc(blens[0]);
    memcpy(b, blocks[0], blens[0]);
    b[i] ^= 0x20;
    int rc = state_apply_block(st, b, blens[0], commits[0], clens[0], &eb);
    free(b);
    if (rc) {
      refused++;
      assert_int_equal(state_height(st), 0);
      assert_memory_equal(state_app_hash(st), before, 32);
    } else {
      fail_msg("tampered block (byte %zu) was accepted", i);
    }
  }
  assert_true(refused > 0);
  /* The commit of block 2 does not finalize block 1. */
  assert_int_not_equal(state_apply_block(st, blocks[0], blens[0], commits[1], clens[1], &eb), 0);
  /* Block 2 before block 1: does not extend the tip. */
  assert_int_not_equal(state_apply_block(st, blocks[1], blens[1], commits[1], clens[1], &eb), 0);
  assert_int_equal(state_apply_block(st, blocks[0], blens[0], commits[0], clens[0], &eb), 0);
  assert_int_equal(state_height(st), 1);
  state_close(st);
  kv_close(kv);
  for (int i = 0; i < NBLOCKS; i++) free(blocks[i]), free(commits[i]);
}

/* A validator executes every proposal it sees for a height before it
 * prevotes, keeps them, and commits the one the network decided: two
 * competing proposals for height 1 both execute on the same tip; the second
 * one is committed with its commit; the first can no longer be committed;
 * a proposal built on a diverged state is refused as a bad block. */
static void test_execute_proposals_commit_the_decided_one(void **s) {
  (void)s;
  kv_store *kv, *ka, *kb;
  state *st = open_mem(&kv), *ta = open_mem(&ka), *tb = open_mem(&kb);
  size_t la, lb;
  uint8_t *txa = fx_transfer(&F, 1, F.ids[2], COHORT__TOKEN__CRD, 11, 0, 10, FX_CHAIN, &la);
  uint8_t *txb = fx_transfer(&F, 2, F.ids[1], COHORT__TOKEN__CRD, 22, 0, 10, FX_CHAIN, &lb);
  uint8_t *ba, *ca, *bb, *cb;
  size_t bal, cal, bbl, cbl;
  assert_int_equal(fx_make_block(&F, ta, &txa, &la, 1, &ba, &bal, &ca, &cal), 0);
  assert_int_equal(fx_make_block(&F, tb, &txb, &lb, 1, &bb, &bbl, &cb, &cbl), 0);
  core_errbuf eb;
  state_block *pa, *pb;
  assert_int_equal(state_block_exec(st, ba, bal, &pa, &eb), 0);
  assert_int_equal(state_block_exec(st, bb, bbl, &pb, &eb), 0);
  assert_int_equal(state_height(st), 0); /* executing writes nothing */
  assert_int_equal(state_block_ntx(pb), 1);
  assert_int_equal(state_block_results(pb)[0].code, 0);
  /* a's commit does not finalize b */
  assert_int_not_equal(state_block_commit(st, pb, ca, cal, &eb), 0);
  assert_int_equal(state_block_commit(st, pb, cb, cbl, &eb), 0);
  assert_memory_equal(state_app_hash(st), state_app_hash(tb), 32);
  assert_int_equal(state_block_commit(st, pa, ca, cal, &eb), COHORT_ERR_INVALID);
  state_block_free(pa);
  state_block_free(pb);
  /* Block 2 of chain a does not extend st's tip (st followed b). */
  size_t l2;
  uint8_t *t2 = fx_transfer(&F, 1, F.ids[2], COHORT__TOKEN__CRD, 5, 1, 10, FX_CHAIN, &l2);
  uint8_t *b2, *c2;
  size_t b2l, c2l;
  assert_int_equal(fx_make_block(&F, ta, &t2, &l2, 1, &b2, &b2l, &c2, &c2l), 0);
  state_block *p2;
  assert_int_equal(state_block_exec(st, b2, b2l, &p2, &eb), COHORT_ERR_BAD_BLOCK);
  assert_null(p2);
  free(txa), free(txb), free(t2), free(ba), free(ca), free(bb), free(cb), free(b2), free(c2);
  state_close(st), state_close(ta), state_close(tb);
  kv_close(kv), kv_close(ka), kv_close(kb);
}

/* Review: docs/protocol.md Rule 2 lists Commit among the messages decoded
 * in canonical form only, but commit_decode checks neither the encoding
 * nor unknown fields inside its CommitSigs: a commit with its height
 * written twice, a padded varint, or an unknown field in a signature entry
 * decodes, verifies and is stored as received. (A node's stored C/ record
 * and the last_commit a proposer carries can then differ in bytes, and
 * hash, from every other node's for the same signatures.) */
static void test_review_commit_decoding_is_canonical(void **s) {
  (void)s;
  uint8_t bh[32], sig[64];
  memset(bh, 0xab, 32);
  memset(sig, 0x11, 64);
  Cohort__CommitSig cs = COHORT__COMMIT_SIG__INIT;
  cs.validator = (ProtobufCBinaryData){32, F.val.pub};
  cs.signature = (ProtobufCBinaryData){64, sig};
  Cohort__CommitSig *csp = &cs;
  Cohort__Commit c = COHORT__COMMIT__INIT;
  c.height = 5;
  c.round = 1;
  c.block_hash = (ProtobufCBinaryData){32, bh};
  c.n_sigs = 1;
  c.sigs = &csp;
  uint8_t good[256], bad[300];
  size_t n = cohort__commit__pack(&c, good);
  core_errbuf eb;
  Cohort__Commit *d = commit_decode(good, n, 1 << 20, &eb);
  assert_non_null(d);
  cohort__commit__free_unpacked(d, NULL);
  /* 1. the height written a second time at the end ("last wins") */
  memcpy(bad, good, n);
  bad[n] = 0x08, bad[n + 1] = 5;
  d = commit_decode(bad, n + 2, 1 << 20, &eb);
  if (d) cohort__commit__free_unpacked(d, NULL);
  int dup = d != NULL;
  /* 2. the height as a two-byte varint (0x08 0x85 0x00) */
  assert_int_equal(good[0], 0x08);
  assert_int_equal(good[1], 5);
  bad[0] = 0x08, bad[1] = 0x85, bad[2] = 0x00;
  memcpy(bad + 3, good + 2, n - 2);
  d = commit_decode(bad, n + 1, 1 << 20, &eb);
  if (d) cohort__commit__free_unpacked(d, NULL);
  int pad = d != NULL;
  /* 3. an unknown field (15, varint 1) inside the signature entry */
  uint8_t sb[128];
  size_t sl = cohort__commit_sig__pack(&cs, sb);
  sb[sl] = 15 << 3, sb[sl + 1] = 1;
  sl += 2;
  size_t o = 0;
  uint8_t hdr[64];
  Cohort__Commit c2 = c;
  c2.n_sigs = 0;
  o = cohort__commit__pack(&c2, hdr);
  memcpy(bad, hdr, o);
  bad[o++] = 4 << 3 | 2;
  bad[o++] = (uint8_t)sl;
  memcpy(bad + o, sb, sl);
  o += sl;
  d = commit_decode(bad, o, 1 << 20, &eb);
  if (d) cohort__commit__free_unpacked(d, NULL);
  int unk = d != NULL;
  printf("  non-canonical commits accepted: duplicate field %s, padded varint %s, unknown field "
         "in a signature %s\n", dup ? "yes" : "no", pad ? "yes" : "no", unk ? "yes" : "no");
  assert_false(dup);
  assert_false(pad);
  assert_false(unk);
}

int main(void) {
  if (core_init()) return 1;
  fx_init(&F, 7);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_genesis_same_hash_mem_and_leveldb),
      cmocka_unit_test(test_transfer_and_fees),
      cmocka_unit_test(test_inclusion_rules),
      cmocka_unit_test(test_random_workload_conserves_supply),
      cmocka_unit_test(test_replay_two_stores_same_app_hash),
      cmocka_unit_test(test_apply_rejects_tampering),
      cmocka_unit_test(test_execute_proposals_commit_the_decided_one),
      cmocka_unit_test(test_review_commit_decoding_is_canonical),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  genesis_free(&F.g);
  return rc;
}
