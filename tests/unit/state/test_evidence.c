/* Evidence of double signs and validator set changes at H+2 (issue 8;
 * docs/protocol.md 4b).
 *
 * Chains of 4 validators (powers 400/300/200/100) and of 1, built block by
 * block and applied with state_apply_block (the full check: header hashes
 * of V_H and V_{H+1}, the last commit against V_{H-1}, every evidence item).
 * Checked: a valid item slashes, jails and tombstones the offender, which
 * leaves V_{H+2} exactly (V_{H+1} still has it) and keeps its remaining
 * tokens bonded to its delegators (docs/staking.md §3), and every other
 * item is refused as a bad block
 * (second copy, forged signature, two validators, same block hash, wrong
 * chain ID, too old, future height, non-validator, over the cap); the
 * supply rule after every block; the same app_hash on a replay into a
 * fresh store; every allocation failing in turn on the evidence path gives
 * a fatal error or the very same result, never a verdict; the proposer's
 * and the pool's entry points; proposer priorities across the removal
 * (rebuilt from the history = advanced block by block); a chain whose
 * validators all double-sign, and a one-validator chain, go on (the set is
 * never empty: with no validator left in the power index it stays). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "proto/block.h"
#include "state/state.h"
#include "state/kv_int.h"
#include "state/state_prio.h"

/* ---- allocation failure injection (as test_failalloc.c) ---- */
static long fail_at = -1, n_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
static int should_fail(void) {
  if (fail_at < 0) return 0;
  return ++n_allocs == fail_at;
}
void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { return should_fail() ? NULL : __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

#define CHAIN "evid-chain-1"
#define MAXV 4
#define UNBOND 10 /* > MAX_AGE: a genesis relation */
#define MAX_AGE 9
#define MAX_EV 4

typedef struct {
  int nv;
  uint8_t sec[MAXV + 1][64], pub[MAXV + 1][32]; /* [nv] is an outsider's key */
  uint8_t ops[MAXV][20];
  uint64_t power[MAXV];
  uint8_t beacon[MAXV][32];
  genesis g;
} efx;

static efx E4;

static void efx_init(efx *f, int nv, const uint64_t *powers, int max_ev, const char *extra) {
  memset(f, 0, sizeof *f);
  f->nv = nv;
  char accts[2048] = "", vals[4096] = "";
  for (int i = 0; i <= nv; i++) {
    uint8_t seed[32];
    memset(seed, 0x40 + i + 16 * nv, 32);
    core_ed25519_from_seed(f->sec[i], f->pub[i], seed);
  }
  for (int i = 0; i < nv; i++) {
    uint8_t sk[32] = {0}, xp[32];
    sk[0] = (uint8_t)(0x70 + nv);
    sk[31] = (uint8_t)(i + 1);
    assert_int_equal(core_schnorr_pubkey(xp, sk), 0);
    core_account_id(f->ops[i], xp);
    char a[CORE_ADDR_STR_MAX], pk[65], one[512];
    core_addr_encode(a, f->ops[i]);
    core_hex_encode(pk, f->pub[i], 32);
    f->power[i] = powers[i];
    snprintf(one, sizeof one, "%s{\"address\":\"%s\",\"crd\":\"1000000\",\"stk\":\"%d\"}",
             i ? "," : "", a, 1000 + i);
    strcat(accts, one);
    char bc[65];
    memset(f->beacon[i], 0xb0 + i, 32); /* a commitment nobody reveals: kept as is */
    core_hex_encode(bc, f->beacon[i], 32);
    snprintf(one, sizeof one, "%s{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"%llu\","
             "\"beacon_commit\":\"%s\"}", i ? "," : "", pk, a, (unsigned long long)powers[i], bc);
    strcat(vals, one);
  }
  char text[8192];
  snprintf(text, sizeof text,
           "{\"chain_id\":\"" CHAIN "\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
           "\"params\":{\"unbonding_blocks\":%d,\"evidence_max_age\":%d,"
           "\"max_block_evidence\":%d%s},\"accounts\":[%s],\"validators\":[%s]}",
           UNBOND, MAX_AGE, max_ev, extra, accts, vals);
  core_errbuf eb;
  if (genesis_parse(&f->g, text, strlen(text), &eb)) fail_msg("genesis: %s", eb.msg);
}

static state *open_chain(const efx *f, kv_store **kv) {
  state *st;
  core_errbuf eb;
  assert_int_equal(kv_open_mem(kv), 0);
  assert_int_equal(state_open(&st, *kv, &eb), 0);
  assert_int_equal(state_init_genesis(st, &f->g, &eb), 0);
  return st;
}

static int key_of(const efx *f, const uint8_t *pub) {
  for (int i = 0; i <= f->nv; i++)
    if (!memcmp(f->pub[i], pub, 32)) return i;
  return -1;
}

static int in_set(const Cohort__ValidatorSet *vs, const uint8_t *pub, uint64_t *power) {
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, pub, 32)) {
      if (power) *power = vs->validators[i]->power;
      return 1;
    }
  return 0;
}

/* A serialized, signed Vote by key v (hash NULL = nil). */
static size_t mk_vote(uint8_t *out, const efx *f, int v, const char *chain, uint32_t type,
                      uint64_t h, uint32_t r, const uint8_t *hash) {
  uint8_t sb[VOTE_SIGN_BYTES_MAX], sig[64];
  size_t sl = vote_sign_bytes(sb, chain, type, h, r, hash, hash ? 32 : 0);
  core_ed25519_sign(sig, sb, sl, f->sec[v]);
  Cohort__Vote vt = COHORT__VOTE__INIT;
  vt.type = type;
  vt.height = h;
  vt.round = r;
  if (hash) vt.block_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
  vt.validator = (ProtobufCBinaryData){32, (uint8_t *)f->pub[v]};
  vt.signature = (ProtobufCBinaryData){64, sig};
  return cohort__vote__pack(&vt, out);
}

static const uint8_t HX[32] = {0x11, 1}, HY[32] = {0x22, 2};

/* Evidence that key v signed prevotes for HX and for nil (or HX and HY). */
static ProtobufCBinaryData mk_ev(const efx *f, int v, const char *chain, uint64_t h, int nil) {
  uint8_t a[VOTE_MAX_BYTES], b[VOTE_MAX_BYTES], *out;
  size_t la = mk_vote(a, f, v, chain, VOTE_PREVOTE, h, 0, HX);
  size_t lb = mk_vote(b, f, v, chain, VOTE_PREVOTE, h, 0, nil ? NULL : HY);
  size_t ol;
  core_errbuf eb;
  assert_int_equal(evidence_encode(&out, &ol, a, la, b, lb, &eb), 0);
  return (ProtobufCBinaryData){ol, out};
}

/* A DuplicateVoteEvidence of two serialized votes as given (no checks). */
static ProtobufCBinaryData raw_ev(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
  Cohort__DuplicateVoteEvidence d = COHORT__DUPLICATE_VOTE_EVIDENCE__INIT;
  d.vote_a = (ProtobufCBinaryData){la, (uint8_t *)a};
  d.vote_b = (ProtobufCBinaryData){lb, (uint8_t *)b};
  size_t n = cohort__duplicate_vote_evidence__get_packed_size(&d);
  uint8_t *o = malloc(n);
  cohort__duplicate_vote_evidence__pack(&d, o);
  return (ProtobufCBinaryData){n, o};
}

/* 1: the next header claims next_validators_hash = hash(V_H) (a proposer
 * that forgets the H+2 rule). */
static int TAMPER_NEXT;

/* Block state_height+1 carrying ev, proposed and committed (precommits of
 * every member of V_H) as a validator would; bytes malloc'd. */
static void build(const efx *f, state *st, const ProtobufCBinaryData *ev, size_t nev, uint8_t **b,
                  size_t *bl, uint8_t **c, size_t *cl) {
  uint64_t h = state_height(st) + 1;
  const Cohort__ValidatorSet *vs = state_validators(st);
  int prop = key_of(f, vs->validators[0]->pubkey.data);
  assert_true(prop >= 0);
  uint8_t root[32], vh[32], nvh[32], lch[32] = {0};
  block_tx_root(root, NULL, 0);
  validators_hash(vh, vs);
  validators_hash(nvh, TAMPER_NEXT ? vs : state_next_validators(st));
  Cohort__BlockHeader hd = COHORT__BLOCK_HEADER__INIT;
  hd.chain_id = (char *)state_chain_id(st);
  hd.height = h;
  hd.time_ms = state_last_time_ms(st) + 1000;
  hd.prev_hash = (ProtobufCBinaryData){32, (uint8_t *)state_last_block_hash(st)};
  hd.tx_root = (ProtobufCBinaryData){32, root};
  hd.app_hash = (ProtobufCBinaryData){32, (uint8_t *)state_app_hash(st)};
  hd.validators_hash = (ProtobufCBinaryData){32, vh};
  hd.next_validators_hash = (ProtobufCBinaryData){32, nvh};
  hd.proposer = (ProtobufCBinaryData){32, (uint8_t *)f->pub[prop]};
  uint8_t *lc = NULL;
  size_t lcl = 0;
  if (h > 1) {
    assert_int_equal(state_get_commit(st, h - 1, &lc, &lcl), 0);
    core_sha256(lch, lc, lcl);
  }
  hd.last_commit_hash = (ProtobufCBinaryData){32, lch};
  uint8_t bh[32];
  assert_int_equal(block_encode_ev(b, bl, bh, &hd, NULL, 0, lc, lcl, ev, nev), 0);
  free(lc);
  Cohort__CommitSig cs[MAXV], *csp[MAXV];
  uint8_t sigs[MAXV][64], sb[VOTE_SIGN_BYTES_MAX];
  size_t sl = vote_sign_bytes(sb, CHAIN, VOTE_PRECOMMIT, h, 0, bh, 32);
  for (size_t i = 0; i < vs->n_validators; i++) {
    int k = key_of(f, vs->validators[i]->pubkey.data);
    assert_true(k >= 0);
    core_ed25519_sign(sigs[i], sb, sl, f->sec[k]);
    cohort__commit_sig__init(&cs[i]);
    cs[i].validator = (ProtobufCBinaryData){32, (uint8_t *)f->pub[k]};
    cs[i].signature = (ProtobufCBinaryData){64, sigs[i]};
    csp[i] = &cs[i];
  }
  Cohort__Commit cm = COHORT__COMMIT__INIT;
  cm.height = h;
  cm.block_hash = (ProtobufCBinaryData){32, bh};
  cm.n_sigs = vs->n_validators;
  cm.sigs = csp;
  *cl = cohort__commit__get_packed_size(&cm);
  *c = malloc(*cl);
  cohort__commit__pack(&cm, *c);
}

/* Build and apply one block; returns state_apply_block's code. */
static int step(const efx *f, state *st, const ProtobufCBinaryData *ev, size_t nev,
                core_errbuf *eb) {
  uint8_t *b, *c;
  size_t bl, cl;
  build(f, st, ev, nev, &b, &bl, &c, &cl);
  int rc = state_apply_block(st, b, bl, c, cl, eb);
  free(b);
  free(c);
  return rc;
}

static void steps(const efx *f, state *st, int n) {
  core_errbuf eb;
  for (int i = 0; i < n; i++)
    if (step(f, st, NULL, 0, &eb)) fail_msg("empty block: %s", eb.msg);
}

/* A block with these items must be refused as invalid, changing nothing;
 * the pool's check (when the block has one item) refuses it too. */
static void expect_bad(const efx *f, state *st, const ProtobufCBinaryData *ev, size_t nev,
                       int pool_code) {
  uint8_t app[32];
  uint64_t h = state_height(st);
  memcpy(app, state_app_hash(st), 32);
  core_errbuf eb;
  int rc = step(f, st, ev, nev, &eb);
  if (rc != COHORT_ERR_BAD_BLOCK && rc != COHORT_ERR_DECODE && rc != COHORT_ERR_TOO_LARGE)
    fail_msg("expected an invalid block, got %s: %s", core_err_name(rc), eb.msg);
  assert_int_equal(rc, COHORT_ERR_BAD_BLOCK); /* items are decoded by the state: a verdict */
  assert_int_equal(state_height(st), h);
  assert_memory_equal(state_app_hash(st), app, 32);
  if (nev == 1 && pool_code) assert_int_equal(state_check_evidence(st, ev[0].data, ev[0].len, &eb),
                                              pool_code);
}

/* Supply rule and staking invariants (state_audit). */
static void check_supply(state *st) {
  core_errbuf eb;
  if (state_audit(st, NULL, &eb)) fail_msg("state_audit: %s", eb.msg);
}

/* The offender's staking record. */
static Cohort__ValidatorInfo *vinfo(state *st, const uint8_t op[20]) {
  Cohort__ValidatorInfo *v;
  assert_int_equal(state_get_validator_info(st, op, &v), 0);
  return v;
}

static uint64_t stk_of(state *st, const uint8_t id[20]) {
  uint64_t c, t, n;
  assert_int_equal(state_get_account(st, id, &c, &t, &n), 0);
  return t;
}

/* ---- tests ---- */

static void test_valid_evidence_slashes_and_removes_at_h_plus_2(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  core_errbuf eb;
  steps(&E4, st, 3);
  check_supply(st);
  uint64_t sup_c, sup0, sup1;
  assert_int_equal(state_get_supply(st, &sup_c, &sup0), 0);
  uint64_t op_stk0 = stk_of(st, E4.ops[2]);
  /* Validator 2 (power 200) prevoted HX and nil at height 2; block 4 carries it. */
  ProtobufCBinaryData ev = mk_ev(&E4, 2, CHAIN, 2, 1);
  assert_int_equal(state_check_evidence(st, ev.data, ev.len, &eb), 0);
  if (step(&E4, st, &ev, 1, &eb)) fail_msg("block with evidence: %s", eb.msg);
  assert_int_equal(state_height(st), 4);
  check_supply(st);
  assert_int_equal(state_get_supply(st, &sup_c, &sup1), 0);
  assert_int_equal(sup0 - sup1, 10); /* 200 * 500 / 10000 burned */
  Cohort__Tombstone *t;
  assert_int_equal(state_get_tombstone(st, E4.pub[2], &t), 0);
  assert_int_equal(t->height, 4);
  assert_int_equal(t->vote_height, 2);
  assert_int_equal(t->slashed, 10);
  assert_int_equal(t->unbonding, 0); /* nothing is paid out: the tokens stay delegated */
  assert_memory_equal(t->operator_.data, E4.ops[2], 20);
  cohort__tombstone__free_unpacked(t, NULL);
  Cohort__ValidatorInfo *vi = vinfo(st, E4.ops[2]);
  assert_int_equal(vi->tokens, 190);
  assert_int_equal(vi->shares, 200); /* a slash lowers tokens, not shares */
  assert_true(vi->tombstoned);
  assert_int_equal(vi->jailed_until, UINT64_MAX);
  cohort__validator_info__free_unpacked(vi, NULL);
  /* V_5 (signs the next block) still has it, at full power; V_6 does not. */
  uint64_t p;
  assert_true(in_set(state_validators(st), E4.pub[2], &p));
  assert_int_equal(p, 200);
  assert_false(in_set(state_next_validators(st), E4.pub[2], NULL));
  assert_int_equal(state_next_validators(st)->n_validators, 3);
  /* The second copy, and another double sign of the same validator: refused. */
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DUPLICATE);
  ProtobufCBinaryData ev2 = mk_ev(&E4, 2, CHAIN, 3, 0);
  expect_bad(&E4, st, &ev2, 1, COHORT_ERR_DUPLICATE);
  /* Block 5's header names V_5 (with it) and V_6 (without): the same hash
   * twice is refused. */
  TAMPER_NEXT = 1;
  expect_bad(&E4, st, NULL, 0, 0);
  TAMPER_NEXT = 0;
  /* Block 5: signed by V_5 (the offender included); block 6 by V_6 without it,
   * and block 6's last commit (by V_5) is checked against V_5. */
  if (step(&E4, st, NULL, 0, &eb)) fail_msg("block 5: %s", eb.msg);
  assert_false(in_set(state_validators(st), E4.pub[2], NULL));
  assert_true(in_set(state_last_validators(st), E4.pub[2], NULL));
  /* v/set moved to V_6 and kept the others' beacon commitments */
  for (int i = 0; i < 4; i++) {
    uint8_t tip[32];
    int pend;
    int rc = state_beacon_expected(st, E4.pub[i], tip, &pend);
    if (i == 2) {
      assert_int_equal(rc, COHORT_ERR_NOT_FOUND);
      continue;
    }
    assert_int_equal(rc, 0);
    assert_memory_equal(tip, E4.beacon[i], 32);
  }
  if (step(&E4, st, NULL, 0, &eb)) fail_msg("block 6: %s", eb.msg);
  assert_false(in_set(state_last_validators(st), E4.pub[2], NULL));
  /* The history. */
  Cohort__ValidatorSet *vs;
  for (uint64_t h = 1; h <= 8; h++) {
    assert_int_equal(state_validators_at(st, h, &vs), 0);
    assert_int_equal(in_set(vs, E4.pub[2], NULL), h < 6);
    assert_int_equal(vs->n_validators, h < 6 ? 4 : 3);
    cohort__validator_set__free_unpacked(vs, NULL);
  }
  assert_int_equal(state_validators_at(st, 9, &vs), COHORT_ERR_NOT_FOUND);
  assert_int_equal(state_validators_at(st, 0, &vs), COHORT_ERR_NOT_FOUND);
  /* The slashed stake stays bonded (its delegators may undelegate it);
   * nothing comes back to the operator's balance. */
  while (state_height(st) < 3 + MAX_AGE - 1) {
    steps(&E4, st, 1);
    check_supply(st);
  }
  assert_int_equal(stk_of(st, E4.ops[2]), op_stk0);
  expect_bad(&E4, st, &ev2, 1, COHORT_ERR_DUPLICATE); /* still punished once only */
  free(ev.data);
  free(ev2.data);
  state_close(st);
  kv_close(kv);
}

/* A pool sees a double sign of the height being decided: only the next
 * block may carry it (rule 5), so state_check_evidence refuses it and
 * state_check_evidence_early judges it as it will be then — a forged
 * signature, a stranger or a chain mismatch is still refused. */
static void test_early_check_of_the_height_in_progress(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  core_errbuf eb;
  steps(&E4, st, 3);
  uint64_t h = state_height(st) + 1;
  ProtobufCBinaryData ev = mk_ev(&E4, 1, CHAIN, h, 1);
  assert_int_equal(state_check_evidence(st, ev.data, ev.len, &eb), COHORT_ERR_INVALID);
  assert_int_equal(state_check_evidence_early(st, ev.data, ev.len, &eb), 0);
  ProtobufCBinaryData other = mk_ev(&E4, 1, "another-chain", h, 1);
  assert_int_equal(state_check_evidence_early(st, other.data, other.len, &eb),
                   COHORT_ERR_SIGNATURE);
  ProtobufCBinaryData ahead = mk_ev(&E4, 1, CHAIN, h + 1, 1); /* two ahead: never early */
  assert_int_not_equal(state_check_evidence_early(st, ahead.data, ahead.len, &eb), 0);
  /* once h is committed, the ordinary check accepts it */
  steps(&E4, st, 1);
  assert_int_equal(state_check_evidence(st, ev.data, ev.len, &eb), 0);
  free(ev.data);
  free(other.data);
  free(ahead.data);
  state_close(st);
  kv_close(kv);
}

static void test_invalid_evidence_is_a_bad_block(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  steps(&E4, st, 3);
  uint8_t a[VOTE_MAX_BYTES], b[VOTE_MAX_BYTES];
  size_t la, lb;
  /* forged signature */
  ProtobufCBinaryData ev = mk_ev(&E4, 1, CHAIN, 2, 0);
  ev.data[ev.len - 1] ^= 1; /* vote_b's signature is last */
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_SIGNATURE);
  free(ev.data);
  /* two different validators */
  la = mk_vote(a, &E4, 0, CHAIN, VOTE_PREVOTE, 2, 0, NULL);
  lb = mk_vote(b, &E4, 1, CHAIN, VOTE_PREVOTE, 2, 0, HX);
  ev = raw_ev(a, la, b, lb);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  /* the same block hash: the same vote twice, or with another signature */
  la = mk_vote(a, &E4, 0, CHAIN, VOTE_PREVOTE, 2, 0, HX);
  memcpy(b, a, la);
  b[la - 1] ^= 0x80;
  core_errbuf eb;
  ev = raw_ev(a, la, a, la);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  ev = raw_ev(a, la, b, la);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  uint8_t *enc;
  size_t el;
  assert_int_equal(evidence_encode(&enc, &el, a, la, a, la, &eb), COHORT_ERR_DECODE);
  /* different rounds, different types */
  la = mk_vote(a, &E4, 0, CHAIN, VOTE_PREVOTE, 2, 0, NULL);
  lb = mk_vote(b, &E4, 0, CHAIN, VOTE_PREVOTE, 2, 1, HX);
  ev = raw_ev(a, la, b, lb);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  lb = mk_vote(b, &E4, 0, CHAIN, VOTE_PRECOMMIT, 2, 0, HX);
  ev = raw_ev(a, la, b, lb);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  /* out of order (nil must come first) */
  lb = mk_vote(b, &E4, 0, CHAIN, VOTE_PREVOTE, 2, 0, HX);
  ev = raw_ev(b, lb, a, la);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_DECODE);
  free(ev.data);
  /* signed for another chain */
  ev = mk_ev(&E4, 1, "other-chain", 2, 1);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_SIGNATURE);
  free(ev.data);
  /* not a validator: the outsider's key */
  ev = mk_ev(&E4, E4.nv, CHAIN, 2, 1);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_INVALID);
  free(ev.data);
  /* for the block's own height, or later */
  ev = mk_ev(&E4, 1, CHAIN, 4, 1);
  expect_bad(&E4, st, &ev, 1, COHORT_ERR_INVALID);
  free(ev.data);
  /* two copies in one block */
  ProtobufCBinaryData two[2] = {mk_ev(&E4, 1, CHAIN, 2, 1), mk_ev(&E4, 1, CHAIN, 3, 0)};
  expect_bad(&E4, st, two, 2, 0);
  /* garbage and a truncated item */
  ProtobufCBinaryData junk = {5, (uint8_t *)"\x0a\x03\x01\x02\x03"};
  expect_bad(&E4, st, &junk, 1, COHORT_ERR_DECODE);
  ProtobufCBinaryData cut = {two[0].len - 1, two[0].data};
  expect_bad(&E4, st, &cut, 1, COHORT_ERR_DECODE);
  /* too old: at height 2 + MAX_AGE + 1 the height-2 evidence is refused; at
   * 2 + MAX_AGE it was still good */
  steps(&E4, st, (int)(2 + MAX_AGE - 1 - state_height(st)));
  assert_int_equal(state_height(st), 2 + MAX_AGE - 1);
  assert_int_equal(state_check_evidence(st, two[0].data, two[0].len, &eb), 0);
  steps(&E4, st, 1);
  expect_bad(&E4, st, &two[0], 1, COHORT_ERR_INVALID);
  /* nothing of all this punished anyone */
  const Cohort__ValidatorSet *nx = state_next_validators(st);
  assert_int_equal(nx->n_validators, 4);
  Cohort__Tombstone *t;
  for (int i = 0; i < 4; i++) assert_int_equal(state_get_tombstone(st, E4.pub[i], &t),
                                               COHORT_ERR_NOT_FOUND);
  check_supply(st);
  for (int i = 0; i < 2; i++) free(two[i].data);
  state_close(st);
  kv_close(kv);
}

/* params.max_block_evidence = 2: three items from three offenders are one
 * too many; two are fine. */
static void test_evidence_cap(void **s) {
  (void)s;
  efx f;
  uint64_t pw[4] = {400, 300, 200, 100};
  efx_init(&f, 4, pw, 2, "");
  kv_store *kv;
  state *st = open_chain(&f, &kv);
  steps(&f, st, 2);
  ProtobufCBinaryData ev[3] = {mk_ev(&f, 1, CHAIN, 1, 1), mk_ev(&f, 2, CHAIN, 1, 1),
                               mk_ev(&f, 3, CHAIN, 2, 0)};
  expect_bad(&f, st, ev, 3, 0);
  state_exec *x;
  core_errbuf eb;
  assert_int_equal(state_exec_begin(st, 3, state_last_time_ms(st) + 1, f.pub[0], &x, &eb), 0);
  assert_int_equal(state_exec_evidence(x, ev[0].data, ev[0].len, &eb), 0);
  assert_int_equal(state_exec_evidence(x, ev[1].data, ev[1].len, &eb), 0);
  assert_int_equal(state_exec_evidence(x, ev[2].data, ev[2].len, &eb), COHORT_ERR_TOO_LARGE);
  state_exec_free(x);
  if (step(&f, st, ev, 2, &eb)) fail_msg("%s", eb.msg);
  assert_int_equal(state_next_validators(st)->n_validators, 2);
  check_supply(st);
  for (int i = 0; i < 3; i++) free(ev[i].data);
  state_close(st);
  kv_close(kv);
  genesis_free(&f.g);
}

/* Precommits for two blocks, in one round: punished like prevotes. */
static void test_precommit_double_sign_and_two_offenders_in_a_block(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  steps(&E4, st, 2);
  uint8_t a[VOTE_MAX_BYTES], b[VOTE_MAX_BYTES], *enc;
  size_t la = mk_vote(a, &E4, 0, CHAIN, VOTE_PRECOMMIT, 1, 7, HY);
  size_t lb = mk_vote(b, &E4, 0, CHAIN, VOTE_PRECOMMIT, 1, 7, HX);
  size_t el;
  core_errbuf eb;
  assert_int_equal(evidence_encode(&enc, &el, a, la, b, lb, &eb), 0);
  ProtobufCBinaryData ev[2] = {{el, enc}, mk_ev(&E4, 3, CHAIN, 2, 1)};
  if (step(&E4, st, ev, 2, &eb)) fail_msg("%s", eb.msg);
  const Cohort__ValidatorSet *nx = state_next_validators(st);
  assert_int_equal(nx->n_validators, 2);
  assert_false(in_set(nx, E4.pub[0], NULL));
  assert_false(in_set(nx, E4.pub[3], NULL));
  check_supply(st);
  steps(&E4, st, 3); /* the remaining 500 of 1000 still make > 2/3 of V_{H+2} */
  check_supply(st);
  free(ev[0].data);
  free(ev[1].data);
  state_close(st);
  kv_close(kv);
}

/* Every validator double-signs in one block: all are slashed and
 * tombstoned, the power index is empty, so the set stays as it was and the
 * chain goes on (docs/staking.md §3: P is never empty). */
static void test_all_validators_double_sign(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  steps(&E4, st, 2);
  ProtobufCBinaryData ev[4];
  for (int i = 0; i < 4; i++) ev[i] = mk_ev(&E4, i, CHAIN, 2, i % 2);
  core_errbuf eb;
  if (step(&E4, st, ev, 4, &eb)) fail_msg("%s", eb.msg);
  /* the power index is empty: P = V_{H+1}, the set as it was */
  const Cohort__ValidatorSet *nx = state_next_validators(st);
  assert_int_equal(nx->n_validators, 4);
  assert_int_equal(nx->validators[3]->power, 100);
  Cohort__Tombstone *t;
  assert_int_equal(state_get_tombstone(st, E4.pub[3], &t), 0);
  assert_int_equal(t->slashed, 5);
  cohort__tombstone__free_unpacked(t, NULL);
  Cohort__ValidatorInfo *vi = vinfo(st, E4.ops[3]);
  assert_int_equal(vi->tokens, 95); /* 100 - 5 */
  assert_true(vi->tombstoned);
  cohort__validator_info__free_unpacked(vi, NULL);
  check_supply(st);
  steps(&E4, st, 4);
  assert_int_equal(state_validators(st)->n_validators, 4);
  check_supply(st);
  /* punished once only: a new double sign of the last one is refused */
  ProtobufCBinaryData again = mk_ev(&E4, 3, CHAIN, 5, 0);
  expect_bad(&E4, st, &again, 1, COHORT_ERR_DUPLICATE);
  steps(&E4, st, 2);
  for (int i = 0; i < 4; i++) free(ev[i].data);
  free(again.data);
  state_close(st);
  kv_close(kv);
}

/* A one-validator chain whose validator double-signs, with the whole power
 * as the slash: its tokens go, the set keeps it and the chain goes on. */
static void test_single_validator_chain_does_not_brick(void **s) {
  (void)s;
  efx one;
  uint64_t pw[1] = {100};
  efx_init(&one, 1, pw, MAX_EV, ",\"slash_double_sign_bps\":10000");
  kv_store *kv;
  state *st = open_chain(&one, &kv);
  steps(&one, st, 2);
  ProtobufCBinaryData ev = mk_ev(&one, 0, CHAIN, 1, 1);
  core_errbuf eb;
  if (step(&one, st, &ev, 1, &eb)) fail_msg("%s", eb.msg);
  /* all its tokens burned, tombstoned; the set keeps it as it was */
  assert_int_equal(state_next_validators(st)->validators[0]->power, 100);
  Cohort__ValidatorInfo *vi = vinfo(st, one.ops[0]);
  assert_int_equal(vi->tokens, 0);
  assert_true(vi->tombstoned);
  cohort__validator_info__free_unpacked(vi, NULL);
  check_supply(st);
  steps(&one, st, 3);
  assert_int_equal(state_validators(st)->validators[0]->power, 100);
  assert_int_equal(state_last_validators(st)->validators[0]->power, 100);
  check_supply(st);
  cons_prio p;
  assert_int_equal(state_prio_at(st, state_height(st) + 1, &p, &eb), 0);
  assert_int_equal(p.n, 1);
  assert_int_equal(p.total, 100);
  free(ev.data);
  state_close(st);
  kv_close(kv);
  genesis_free(&one.g);
}

/* Two stores fed the same blocks (with evidence) agree on every app_hash;
 * and priorities rebuilt from the history equal the ones advanced block by
 * block, across the removal. */
#define RB 12
static void test_replay_and_priorities_across_removal(void **s) {
  (void)s;
  kv_store *ka, *kb;
  state *sa = open_chain(&E4, &ka), *sb = open_chain(&E4, &kb);
  uint8_t *blk[RB], *cmt[RB];
  size_t bl[RB], cl[RB];
  ProtobufCBinaryData ev = mk_ev(&E4, 0, CHAIN, 2, 0); /* the heaviest, at block 4 */
  core_errbuf eb;
  static cons_prio adv, rebuilt;
  assert_int_equal(state_prio_at(sa, 1, &adv, &eb), 0);
  for (int i = 0; i < RB; i++) {
    build(&E4, sa, i == 3 ? &ev : NULL, i == 3, &blk[i], &bl[i], &cmt[i], &cl[i]);
    if (state_apply_block(sa, blk[i], bl[i], cmt[i], cl[i], &eb)) fail_msg("a %d: %s", i, eb.msg);
    if (state_apply_block(sb, blk[i], bl[i], cmt[i], cl[i], &eb)) fail_msg("b %d: %s", i, eb.msg);
    assert_memory_equal(state_app_hash(sa), state_app_hash(sb), 32);
    assert_int_equal(state_prio_next(sa, &adv, &eb), 0); /* S_{h+1} */
    assert_int_equal(state_prio_at(sb, state_height(sb) + 1, &rebuilt, &eb), 0);
    assert_int_equal(rebuilt.n, adv.n);
    assert_memory_equal(rebuilt.key, adv.key, adv.n * 32);
    assert_memory_equal(rebuilt.prio, adv.prio, adv.n * sizeof adv.prio[0]);
    assert_int_equal(rebuilt.proposer, adv.proposer);
    /* the engine's set is the state's set for that height */
    uint64_t h = state_height(sa) + 1;
    assert_int_equal(adv.n, h < 6 ? 4 : 3);
    check_supply(sa);
  }
  /* S_6 = increment(update(S_5, V_6)): by hand from S_5. */
  static cons_prio s5, s6;
  assert_int_equal(state_prio_at(sa, 5, &s5, &eb), 0);
  assert_int_equal(state_prio_at(sa, 6, &s6, &eb), 0);
  Cohort__ValidatorSet *v6;
  assert_int_equal(state_validators_at(sa, 6, &v6), 0);
  assert_int_equal(cons_prio_update(&s5, v6), 0);
  cons_prio_next_height(&s5);
  assert_memory_equal(s5.prio, s6.prio, s6.n * sizeof s6.prio[0]);
  assert_int_equal(s5.proposer, s6.proposer);
  cohort__validator_set__free_unpacked(v6, NULL);
  /* the removed validator proposes no more after 6 */
  for (uint64_t h = 6; h <= state_height(sa) + 1; h++) {
    assert_int_equal(state_prio_at(sa, h, &s6, &eb), 0);
    for (uint32_t r = 0; r < 4; r++)
      assert_memory_not_equal(s6.key[cons_prio_proposer(&s6, r)], E4.pub[0], 32);
  }
  /* Restart: a state reopened on the store has the same sets. */
  state *sc;
  assert_int_equal(state_open(&sc, ka, &eb), 0);
  uint8_t h1[32], h2[32];
  validators_hash(h1, state_last_validators(sa));
  validators_hash(h2, state_last_validators(sc));
  assert_memory_equal(h1, h2, 32);
  validators_hash(h1, state_next_validators(sa));
  validators_hash(h2, state_next_validators(sc));
  assert_memory_equal(h1, h2, 32);
  state_close(sc);
  for (int i = 0; i < RB; i++) {
    free(blk[i]);
    free(cmt[i]);
  }
  free(ev.data);
  state_close(sa);
  state_close(sb);
  kv_close(ka);
  kv_close(kb);
}

/* The proposer's entry: includable candidates go in, in order; the others
 * are skipped; the block cap and the byte budget hold. */
static void test_proposer_picks_includable_evidence(void **s) {
  (void)s;
  kv_store *kv;
  state *st = open_chain(&E4, &kv);
  steps(&E4, st, 3);
  ProtobufCBinaryData c[6];
  c[0] = mk_ev(&E4, 1, CHAIN, 2, 1);
  c[1] = mk_ev(&E4, 2, CHAIN, 2, 1);
  c[1].data[c[1].len - 3] ^= 4; /* forged */
  c[2] = mk_ev(&E4, 1, CHAIN, 3, 0); /* same offender as c[0] */
  c[3] = mk_ev(&E4, E4.nv, CHAIN, 2, 1); /* not a validator */
  c[4] = mk_ev(&E4, 3, CHAIN, 2, 0);
  c[5] = mk_ev(&E4, 2, CHAIN, 1, 0);
  state_exec *x;
  core_errbuf eb;
  uint64_t h = state_height(st) + 1;
  assert_int_equal(state_exec_begin(st, h, state_last_time_ms(st) + 1, E4.pub[0], &x, &eb), 0);
  size_t picked[6], np;
  assert_int_equal(state_build_add_evidence(x, c, 6, 1 << 20, picked, &np, &eb), 0);
  assert_int_equal(np, 3);
  assert_int_equal(picked[0], 0);
  assert_int_equal(picked[1], 4);
  assert_int_equal(picked[2], 5);
  state_exec_free(x);
  /* a byte budget for one item only */
  assert_int_equal(state_exec_begin(st, h, state_last_time_ms(st) + 1, E4.pub[0], &x, &eb), 0);
  assert_int_equal(state_build_add_evidence(x, c, 6, c[0].len + 10, picked, &np, &eb), 0);
  assert_int_equal(np, 1);
  state_exec_free(x);
  /* after a tx, evidence is refused (it goes first) */
  assert_int_equal(state_exec_begin(st, h, state_last_time_ms(st) + 1, E4.pub[0], &x, &eb), 0);
  uint8_t app[32];
  assert_int_equal(state_exec_finish(x, app), 0);
  assert_int_equal(state_exec_evidence(x, c[0].data, c[0].len, &eb), COHORT_ERR_INVALID);
  state_exec_free(x);
  for (int i = 0; i < 6; i++) free(c[i].data);
  state_close(st);
  kv_close(kv);
}

/* Every allocation on the evidence path failing in turn: applying the block
 * is fatal (nothing written) or identical to the reference; the pool's
 * check is fatal or says "includable"; the proposer's pick is fatal or
 * identical. Never a verdict on good evidence. */
/* ---- a store that counts the "vh/" records it hands out ---- */
typedef struct {
  kv_store base;
  kv_store *in;
  long vh_reads;
} count_kv;

typedef struct {
  count_kv *c;
  kv_visit_fn cb;
  void *ctx;
} count_visit;

static int cv_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  count_visit *cv = ctx;
  if (kl >= 3 && !memcmp(k, "vh/", 3)) cv->c->vh_reads++;
  return cv->cb(cv->ctx, k, kl, v, vl);
}
static int ck_get(kv_store *kv, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  count_kv *c = (count_kv *)kv;
  int rc = kv_get(c->in, k, kl, v, vl);
  if (!rc && kl >= 3 && !memcmp(k, "vh/", 3)) c->vh_reads++;
  return rc;
}
static int ck_scan(kv_store *kv, const uint8_t *p, size_t pl, kv_visit_fn cb, void *ctx) {
  count_visit cv = {(count_kv *)kv, cb, ctx};
  return kv_scan(cv.c->in, p, pl, cv_visit, &cv);
}
static int ck_scan_rev(kv_store *kv, const uint8_t *p, size_t pl, const uint8_t *u, size_t ul,
                       kv_visit_fn cb, void *ctx) {
  count_visit cv = {(count_kv *)kv, cb, ctx};
  return kv_scan_rev(cv.c->in, p, pl, u, ul, cv_visit, &cv);
}
static int ck_write(kv_store *kv, kv_batch *b, int sync, core_errbuf *eb) {
  return kv_write(((count_kv *)kv)->in, b, sync, eb);
}
static void ck_close(kv_store *kv) {
  kv_close(((count_kv *)kv)->in);
  free(kv);
}
static const kv_vtbl count_vt = {ck_get, ck_scan, ck_scan_rev, ck_write, ck_close};

/* Review finding 3: checking an evidence item reads the validator set at
 * its height with one reverse seek in the "vh/" history, not a walk over
 * every set change since genesis (a chain that changes its set in most
 * blocks has one record per block: a walk per item let a proposer make
 * blocks cost O(items x chain height)). The history is padded with a
 * record at every height (each the set already in force there, so no
 * answer changes): checking an item for a recent height must read one
 * record, however long the history. Fails with the forward scan (it reads
 * every record up to the height and one more). */
static void test_evidence_check_seeks_the_history(void **s) {
  (void)s;
  count_kv *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->base.vt = &count_vt;
  assert_int_equal(kv_open_mem(&c->in), 0);
  kv_store *kv = &c->base;
  state *st;
  core_errbuf eb;
  assert_int_equal(state_open(&st, kv, &eb), 0);
  assert_int_equal(state_init_genesis(st, &E4.g, &eb), 0);
  steps(&E4, st, 40);
  uint8_t k1[11] = "vh/", *v1;
  size_t l1;
  k1[10] = 1;
  assert_int_equal(kv_get(c->in, k1, sizeof k1, &v1, &l1), 0); /* V_1: the set of every height */
  kv_batch *b = kv_batch_new();
  for (uint64_t h = 2; h <= state_height(st) + 2; h++) {
    uint8_t k[11] = "vh/";
    for (int i = 0; i < 8; i++) k[3 + i] = (uint8_t)(h >> (56 - 8 * i));
    assert_int_equal(kv_batch_put(b, k, sizeof k, v1, l1), 0);
  }
  assert_int_equal(kv_write(c->in, b, 0, &eb), 0);
  kv_batch_del(b);
  free(v1);
  uint64_t e = state_height(st) - 1;
  ProtobufCBinaryData ev = mk_ev(&E4, 1, CHAIN, e, 1);
  c->vh_reads = 0;
  assert_int_equal(state_check_evidence(st, ev.data, ev.len, &eb), 0);
  if (c->vh_reads != 1)
    fail_msg("checking one item read %ld history records (history of %llu)", c->vh_reads,
             (unsigned long long)state_height(st) + 2);
  /* a non-member (the outsider's key): the same one record, then refused */
  ProtobufCBinaryData out = mk_ev(&E4, 4, CHAIN, e, 1);
  c->vh_reads = 0;
  assert_int_equal(state_check_evidence(st, out.data, out.len, &eb), COHORT_ERR_INVALID);
  assert_int_equal(c->vh_reads, 1);
  /* the block with the item applies as before (its own checks seek too) */
  c->vh_reads = 0;
  if (step(&E4, st, &ev, 1, &eb)) fail_msg("block with evidence: %s", eb.msg);
  assert_true(c->vh_reads <= 4);
  assert_false(in_set(state_next_validators(st), E4.pub[1], NULL));
  check_supply(st);
  free(ev.data);
  free(out.data);
  state_close(st);
  kv_close(kv);
}

static void test_allocation_failures_are_fatal_or_identical(void **s) {
  (void)s;
  kv_store *ka, *kb;
  state *twin = open_chain(&E4, &ka);
  steps(&E4, twin, 3);
  ProtobufCBinaryData ev[2] = {mk_ev(&E4, 2, CHAIN, 2, 1), mk_ev(&E4, 3, CHAIN, 3, 0)};
  uint8_t *b, *c;
  size_t bl, cl;
  build(&E4, twin, ev, 2, &b, &bl, &c, &cl);
  core_errbuf eb;
  /* the pool's check */
  int fatal = 0;
  long i;
  for (i = 1;; i++) {
    n_allocs = 0;
    fail_at = i;
    int rc = state_check_evidence(twin, ev[0].data, ev[0].len, &eb);
    long used = n_allocs;
    fail_at = -1;
    if (rc && !core_err_is_fatal(rc)) fail_msg("check, allocation %ld: %s", i, eb.msg);
    fatal += rc != 0;
    if (used < i) break;
  }
  assert_true(fatal > 0);
  /* the proposer's pick */
  for (i = 1;; i++) {
    state_exec *x = NULL;
    size_t picked[2], np = 0;
    n_allocs = 0;
    fail_at = i;
    int rc = state_exec_begin(twin, 4, state_last_time_ms(twin) + 1, E4.pub[0], &x, &eb);
    if (!rc) rc = state_build_add_evidence(x, ev, 2, 1 << 20, picked, &np, &eb);
    long used = n_allocs;
    fail_at = -1;
    if (rc && !core_err_is_fatal(rc)) fail_msg("pick, allocation %ld: %s", i, eb.msg);
    if (!rc) assert_int_equal(np, 2);
    state_exec_free(x);
    if (used < i) break;
  }
  /* applying the block */
  uint8_t want[32];
  assert_int_equal(state_apply_block(twin, b, bl, c, cl, &eb), 0);
  memcpy(want, state_app_hash(twin), 32);
  state *st = open_chain(&E4, &kb);
  steps(&E4, st, 3);
  int same = 0;
  fatal = 0;
  for (i = 1;; i++) {
    n_allocs = 0;
    fail_at = i;
    int rc = state_apply_block(st, b, bl, c, cl, &eb);
    long used = n_allocs;
    fail_at = -1;
    if (rc == COHORT_OK) {
      assert_memory_equal(state_app_hash(st), want, 32);
      if (used < i) break;
      same++;
      state_close(st);
      kv_close(kb);
      st = open_chain(&E4, &kb);
      steps(&E4, st, 3);
      continue;
    }
    if (!core_err_is_fatal(rc))
      fail_msg("apply, allocation %ld: %s (%s)", i, core_err_name(rc), eb.msg);
    assert_int_equal(state_height(st), 3);
    fatal++;
  }
  printf("  evidence block: %ld allocations each failed once: %d fatal, %d identical\n", i - 1,
         fatal, same);
  assert_true(fatal > 0);
  free(b);
  free(c);
  free(ev[0].data);
  free(ev[1].data);
  state_close(st);
  state_close(twin);
  kv_close(ka);
  kv_close(kb);
}

int main(void) {
  if (core_init()) return 1;
  uint64_t pw[4] = {400, 300, 200, 100};
  efx_init(&E4, 4, pw, MAX_EV, "");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_evidence_slashes_and_removes_at_h_plus_2),
      cmocka_unit_test(test_invalid_evidence_is_a_bad_block),
      cmocka_unit_test(test_evidence_cap),
      cmocka_unit_test(test_precommit_double_sign_and_two_offenders_in_a_block),
      cmocka_unit_test(test_all_validators_double_sign),
      cmocka_unit_test(test_single_validator_chain_does_not_brick),
      cmocka_unit_test(test_replay_and_priorities_across_removal),
      cmocka_unit_test(test_proposer_picks_includable_evidence),
      cmocka_unit_test(test_early_check_of_the_height_in_progress),
      cmocka_unit_test(test_allocation_failures_are_fatal_or_identical),
      cmocka_unit_test(test_evidence_check_seeks_the_history),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  genesis_free(&E4.g);
  return rc;
}
