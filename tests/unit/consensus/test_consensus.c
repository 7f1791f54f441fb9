/* Unit tests for the consensus engine, driven purely (no I/O): a single
 * validator's block rhythm, and four validators in one process exchanging
 * votes through a simulated network, including a silent validator (< 1/3)
 * and an equivocating one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "core/hash.h"
#include "core/keys.h"
#include "proto/block.h"

typedef struct {
  uint8_t sec[64], pub[32];
} vkey;

static Cohort__ValidatorSet *make_set(vkey *k, size_t n, const uint64_t *power) {
  Cohort__ValidatorSet *vs = calloc(1, sizeof *vs);
  cohort__validator_set__init(vs);
  vs->n_validators = n;
  vs->validators = calloc(n, sizeof *vs->validators);
  for (size_t i = 0; i < n; i++) {
    uint8_t seed[32];
    memset(seed, (int)(i + 1), 32);
    core_ed25519_from_seed(k[i].sec, k[i].pub, seed);
    Cohort__Validator *v = calloc(1, sizeof *v);
    cohort__validator__init(v);
    v->pubkey.data = k[i].pub;
    v->pubkey.len = 32;
    v->power = power[i];
    vs->validators[i] = v;
  }
  return vs;
}

static void free_set(Cohort__ValidatorSet *vs) {
  for (size_t i = 0; i < vs->n_validators; i++) free(vs->validators[i]);
  free(vs->validators);
  free(vs);
}

static void test_single_validator_rhythm(void **s) {
  (void)s;
  vkey k[1];
  uint64_t p[1] = {10};
  Cohort__ValidatorSet *vs = make_set(k, 1, p);
  cons_config cfg = {.block_interval_ms = 1000, .empty_block_interval_ms = 0};
  cons_engine *e = cons_new(&cfg, "c", k[0].pub);
  assert_int_equal(cons_start_height(e, 1, vs, 10000), 0);
  cons_action a;
  /* No txs and empty blocks off: nothing happens, no deadline. */
  cons_on_tick(e, 20000);
  assert_int_equal(cons_next_action(e, &a), 0);
  assert_int_equal(cons_next_deadline(e), 0);
  /* Txs arrive before the interval is over: wait for it. */
  e = (cons_del(e), cons_new(&cfg, "c", k[0].pub));
  cons_start_height(e, 1, vs, 10000);
  cons_on_txs_available(e, 1, 10500);
  assert_int_equal(cons_next_action(e, &a), 0);
  assert_int_equal(cons_next_deadline(e), 11000);
  cons_on_tick(e, 11000);
  assert_int_equal(cons_next_action(e, &a), 1);
  assert_int_equal(a.kind, CONS_ACT_PROPOSE);
  assert_int_equal(a.height, 1);
  uint8_t bh[32];
  memset(bh, 0xab, 32);
  cons_on_proposal(e, 1, 0, k[0].pub, bh, 1, 11001);
  assert_int_equal(cons_next_action(e, &a), 1);
  assert_int_equal(a.kind, CONS_ACT_VOTE);
  assert_int_equal(a.vote_type, VOTE_PREVOTE);
  assert_memory_equal(a.block_hash, bh, 32);
  uint8_t sig[64] = {0};
  assert_int_equal(cons_on_vote(e, VOTE_PREVOTE, 1, 0, k[0].pub, bh, sig, 11002), 0);
  assert_int_equal(cons_next_action(e, &a), 1);
  assert_int_equal(a.vote_type, VOTE_PRECOMMIT);
  assert_int_equal(cons_on_vote(e, VOTE_PRECOMMIT, 1, 0, k[0].pub, bh, sig, 11003), 0);
  assert_int_equal(cons_next_action(e, &a), 1);
  assert_int_equal(a.kind, CONS_ACT_COMMIT);
  assert_int_equal(a.commit->n_sigs, 1);
  assert_memory_equal(a.commit->block_hash.data, bh, 32);
  cons_action_free(&a);
  /* Empty blocks every 5 s when configured. */
  cons_del(e);
  cfg.empty_block_interval_ms = 5000;
  e = cons_new(&cfg, "c", k[0].pub);
  cons_start_height(e, 7, vs, 0);
  cons_on_tick(e, 0);
  assert_int_equal(cons_next_deadline(e), 5000);
  cons_on_tick(e, 4999);
  assert_int_equal(cons_next_action(e, &a), 0);
  cons_on_tick(e, 5000);
  assert_int_equal(cons_next_action(e, &a), 1);
  assert_int_equal(a.kind, CONS_ACT_PROPOSE);
  cons_del(e);
  free_set(vs);
}

/* ---- four validators over a simulated network ---- */
#define NV 4
typedef struct {
  uint32_t type;
  uint64_t h;
  uint32_t r;
  int has;
  uint8_t hash[32], from[32], sig[64];
} msg;

static msg net[4096];
static size_t nnet;

static void drain(cons_engine **e, vkey *k, int i, uint8_t committed[NV][32], int *done,
                  int silent, uint64_t now) {
  cons_action a;
  while (cons_next_action(e[i], &a)) {
    if (a.kind == CONS_ACT_PROPOSE) {
      uint8_t bh[32];
      core_sha256(bh, &a.round, sizeof a.round); /* any block; honest ones agree on it */
      for (int j = 0; j < NV; j++) cons_on_proposal(e[j], a.height, a.round, k[i].pub, bh, 1, now);
    } else if (a.kind == CONS_ACT_VOTE && !silent) {
      msg *m = &net[nnet++];
      m->type = a.vote_type;
      m->h = a.height;
      m->r = a.round;
      m->has = a.has_hash;
      memcpy(m->hash, a.block_hash, 32);
      memcpy(m->from, k[i].pub, 32);
    } else if (a.kind == CONS_ACT_COMMIT) {
      memcpy(committed[i], a.block_hash, 32);
      done[i] = 1;
      /* the commit carries > 2/3 of the power, all for this hash */
      assert_true(a.commit->n_sigs >= 3);
    }
    cons_action_free(&a);
  }
}

static void run_four(int silent_idx, int equivocator) {
  vkey k[NV];
  uint64_t p[NV] = {10, 10, 10, 10};
  Cohort__ValidatorSet *vs = make_set(k, NV, p);
  cons_config cfg = {.block_interval_ms = 100, .empty_block_interval_ms = 100,
                     .timeout_propose_ms = 1000, .timeout_vote_ms = 500};
  cons_engine *e[NV];
  for (int i = 0; i < NV; i++) {
    e[i] = cons_new(&cfg, "c", k[i].pub);
    cons_start_height(e[i], 1, vs, 0);
  }
  uint8_t committed[NV][32];
  int done[NV] = {0};
  nnet = 0;
  size_t delivered = 0;
  int double_signs = 0;
  for (uint64_t now = 0; now < 60000; now += 50) {
    for (int i = 0; i < NV; i++) {
      cons_on_tick(e[i], now);
      drain(e, k, i, committed, done, i == silent_idx, now);
    }
    while (delivered < nnet) {
      msg m = net[delivered++];
      for (int j = 0; j < NV; j++) {
        cons_on_vote(e[j], m.type, m.h, m.r, m.from, m.has ? m.hash : NULL, m.sig, now);
        if (equivocator >= 0 && !memcmp(m.from, k[equivocator].pub, 32)) {
          uint8_t other[32];
          memset(other, 0x77, 32);
          if (cons_on_vote(e[j], m.type, m.h, m.r, m.from, other, m.sig, now) ==
              COHORT_ERR_DOUBLE_SIGN)
            double_signs++;
        }
        drain(e, k, j, committed, done, j == silent_idx, now);
      }
    }
    int all = 1;
    for (int i = 0; i < NV; i++) all &= done[i] || i == silent_idx;
    if (all) break;
  }
  for (int i = 0; i < NV; i++) {
    if (i == silent_idx) continue;
    assert_true(done[i]);
    assert_memory_equal(committed[i], committed[(i + 1) % NV == silent_idx ? (i + 2) % NV : (i + 1) % NV], 32);
  }
  if (equivocator >= 0) assert_true(double_signs > 0);
  for (int i = 0; i < NV; i++) cons_del(e[i]);
  free_set(vs);
}

static void test_four_validators_agree(void **s) {
  (void)s;
  run_four(-1, -1);
}

static void test_one_silent_validator_of_four(void **s) {
  (void)s;
  /* Try each as the silent one: covers a silent proposer (round change). */
  for (int i = 0; i < NV; i++) run_four(i, -1);
}

static void test_equivocation_is_detected(void **s) {
  (void)s;
  run_four(-1, 2);
}

static void test_proposer_weighting(void **s) {
  (void)s;
  vkey k[3];
  uint64_t p[3] = {1, 1, 8};
  Cohort__ValidatorSet *vs = make_set(k, 3, p);
  size_t count[3] = {0};
  for (uint64_t h = 1; h <= 10000; h++) count[cons_proposer_index(vs, h, 0)]++;
  /* Expected 1000/1000/8000; allow generous statistical slack. */
  assert_true(count[2] > 7600 && count[2] < 8400);
  assert_true(count[0] > 800 && count[0] < 1200);
  /* Deterministic. */
  assert_int_equal(cons_proposer_index(vs, 42, 3), cons_proposer_index(vs, 42, 3));
  free_set(vs);
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_validator_rhythm),
      cmocka_unit_test(test_four_validators_agree),
      cmocka_unit_test(test_one_silent_validator_of_four),
      cmocka_unit_test(test_equivocation_is_detected),
      cmocka_unit_test(test_proposer_weighting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
