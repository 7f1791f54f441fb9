/* Known answers from tests/vectors/consensus.json (written by an independent
 * Python implementation of docs/protocol.md): proposer selection for every
 * height and round listed, proposal sign bytes, and consensus WAL records
 * byte for byte in both directions. Also: proposal shares equal power
 * shares exactly over whole periods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus_wal.h"
#include "consensus/proposer.h"
#include "core/hex.h"
#include "core/parse.h"
#include "proto/block.h"

static json_t *V;

static size_t unhex(uint8_t *out, size_t cap, const char *h) {
  size_t n;
  assert_int_equal(core_hex_decode(out, cap, &n, h, strlen(h)), 0);
  return n;
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  assert_non_null(s);
  return s;
}

static uint64_t u64(json_t *o, const char *k) {
  uint64_t v;
  assert_int_equal(core_parse_u64(str(o, k), &v), 0);
  return v;
}

static int64_t num(json_t *o, const char *k) {
  json_t *j = json_object_get(o, k);
  assert_true(json_is_integer(j));
  return (int64_t)json_integer_value(j);
}

/* Build a ValidatorSet from a case's validators. */
static Cohort__ValidatorSet *case_set(json_t *c, uint8_t keys[][32]) {
  json_t *vals = json_object_get(c, "validators");
  size_t n = json_array_size(vals);
  Cohort__ValidatorSet *vs = calloc(1, sizeof *vs);
  cohort__validator_set__init(vs);
  vs->validators = calloc(n, sizeof *vs->validators);
  vs->n_validators = n;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(vals, i);
    Cohort__Validator *x = calloc(1, sizeof *x);
    cohort__validator__init(x);
    unhex(keys[i], 32, str(v, "pubkey"));
    x->pubkey = (ProtobufCBinaryData){32, keys[i]};
    x->power = u64(v, "power");
    vs->validators[i] = x;
  }
  return vs;
}

static void free_set(Cohort__ValidatorSet *vs) {
  for (size_t i = 0; i < vs->n_validators; i++) free(vs->validators[i]);
  free(vs->validators);
  free(vs);
}

static void prio_str(char *out, cons_i128 v) {
  char tmp[64];
  int neg = v < 0, k = 0;
  __extension__ unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
  do {
    tmp[k++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u);
  size_t o = 0;
  if (neg) out[o++] = '-';
  while (k) out[o++] = tmp[--k];
  out[o] = 0;
}

static void test_proposer_cases(void **s) {
  (void)s;
  size_t ci;
  json_t *c;
  int checked = 0;
  json_array_foreach(json_object_get(V, "proposer_cases"), ci, c) {
    uint8_t keys[CONS_MAX_VALIDATORS][32];
    Cohort__ValidatorSet *vs = case_set(c, keys);
    static cons_prio p;
    assert_int_equal(cons_prio_genesis(&p, vs), 0);
    size_t hi;
    json_t *h;
    json_array_foreach(json_object_get(c, "heights"), hi, h) {
      json_t *pr = json_object_get(h, "priorities");
      for (size_t i = 0; i < p.n; i++) {
        char got[64];
        prio_str(got, p.prio[i]);
        assert_string_equal(got, json_string_value(json_array_get(pr, i)));
      }
      size_t ri;
      json_t *want;
      json_array_foreach(json_object_get(h, "proposer_by_round"), ri, want) {
        assert_int_equal(cons_prio_proposer(&p, (uint32_t)ri), json_integer_value(want));
        checked++;
      }
      /* A cursor walking rounds upward agrees with the one-shot answer. */
      static cons_prio cur;
      cur = p;
      cons_prio_increment(&cur, 1);
      for (size_t r = 1; r < json_array_size(json_object_get(h, "proposer_by_round")); r++) {
        if (r > 1) cons_prio_step(&cur);
        assert_int_equal(cur.proposer,
                         json_integer_value(json_array_get(json_object_get(h, "proposer_by_round"), r)));
      }
      cons_prio_next_height(&p);
    }
    free_set(vs);
  }
  assert_true(checked > 500);
}

/* Over k * T heights (round 0), validator i proposes exactly k * P(i) times. */
static void test_exact_shares(void **s) {
  (void)s;
  uint8_t keys[5][32];
  uint64_t pw[5] = {1, 2, 3, 4, 7};
  Cohort__ValidatorSet *vs = calloc(1, sizeof *vs);
  cohort__validator_set__init(vs);
  vs->validators = calloc(5, sizeof *vs->validators);
  vs->n_validators = 5;
  for (int i = 0; i < 5; i++) {
    memset(keys[i], 0x10 * (5 - i), 32);
    Cohort__Validator *x = calloc(1, sizeof *x);
    cohort__validator__init(x);
    x->pubkey = (ProtobufCBinaryData){32, keys[i]};
    x->power = pw[i];
    vs->validators[i] = x;
  }
  static cons_prio p;
  assert_int_equal(cons_prio_genesis(&p, vs), 0);
  size_t count[5] = {0};
  for (int h = 0; h < 17 * 40; h++) {
    count[p.proposer]++;
    cons_prio_next_height(&p);
  }
  for (int i = 0; i < 5; i++) assert_int_equal(count[i], 40 * pw[i]);
  /* Rounds of one height: over T rounds, shares are exact too. */
  size_t rc[5] = {0};
  for (uint32_t r = 0; r < 17; r++) rc[cons_prio_proposer(&p, r)]++;
  for (int i = 0; i < 5; i++) assert_int_equal(rc[i], pw[i]);
  /* Bad sets are refused. */
  vs->validators[2]->power = 0;
  assert_int_equal(cons_prio_genesis(&p, vs), COHORT_ERR_INVALID);
  vs->validators[2]->power = 3;
  vs->validators[3]->pubkey.data = keys[1];
  assert_int_equal(cons_prio_genesis(&p, vs), COHORT_ERR_INVALID);
  free_set(vs);
}

/* A ValidatorSet from an update case's schedule entry: [[key index, power]]. */
static Cohort__ValidatorSet *sched_set(json_t *entry, uint8_t keys[][32]) {
  json_t *set = json_object_get(entry, "set");
  size_t n = json_array_size(set);
  Cohort__ValidatorSet *vs = calloc(1, sizeof *vs);
  cohort__validator_set__init(vs);
  vs->validators = calloc(n, sizeof *vs->validators);
  vs->n_validators = n;
  for (size_t i = 0; i < n; i++) {
    json_t *pair = json_array_get(set, i);
    Cohort__Validator *x = calloc(1, sizeof *x);
    cohort__validator__init(x);
    x->pubkey = (ProtobufCBinaryData){32, keys[json_integer_value(json_array_get(pair, 0))]};
    assert_int_equal(core_parse_u64(json_string_value(json_array_get(pair, 1)), &x->power), 0);
    vs->validators[i] = x;
  }
  return vs;
}

static size_t key_index(uint8_t keys[][32], size_t nk, const uint8_t *k) {
  for (size_t i = 0; i < nk; i++)
    if (!memcmp(keys[i], k, 32)) return i;
  fail_msg("unknown key");
  return 0;
}

/* Across set changes: S_{h+1} = update(S_h, V_{h+1}) then increment(1). */
static void test_update_cases(void **s) {
  (void)s;
  size_t ci;
  json_t *c;
  int checked = 0;
  json_array_foreach(json_object_get(V, "update_cases"), ci, c) {
    static uint8_t keys[CONS_MAX_VALIDATORS][32];
    json_t *jk = json_object_get(c, "keys");
    size_t nk = json_array_size(jk);
    for (size_t i = 0; i < nk; i++) unhex(keys[i], 32, json_string_value(json_array_get(jk, i)));
    json_t *sched = json_object_get(c, "schedule");
    size_t next_change = 1;
    Cohort__ValidatorSet *vs = sched_set(json_array_get(sched, 0), keys);
    static cons_prio p;
    assert_int_equal(cons_prio_genesis(&p, vs), 0);
    free_set(vs);
    size_t hi;
    json_t *h;
    json_array_foreach(json_object_get(c, "heights"), hi, h) {
      json_t *set = json_object_get(h, "set"), *pr = json_object_get(h, "priorities");
      assert_int_equal(p.n, json_array_size(set));
      for (size_t i = 0; i < p.n; i++) {
        assert_int_equal(key_index(keys, nk, p.key[i]), json_integer_value(json_array_get(set, i)));
        char got[64];
        prio_str(got, p.prio[i]);
        assert_string_equal(got, json_string_value(json_array_get(pr, i)));
      }
      size_t ri;
      json_t *want;
      json_array_foreach(json_object_get(h, "proposer_by_round"), ri, want) {
        size_t idx = cons_prio_proposer(&p, (uint32_t)ri);
        assert_int_equal(key_index(keys, nk, p.key[idx]), json_integer_value(want));
        checked++;
      }
      uint64_t height = (uint64_t)json_integer_value(json_object_get(h, "height"));
      json_t *chg = json_array_get(sched, next_change);
      if (chg && (uint64_t)json_integer_value(json_object_get(chg, "height")) == height + 1) {
        vs = sched_set(chg, keys);
        assert_int_equal(cons_prio_update(&p, vs), 0);
        /* the same set again changes nothing */
        static cons_prio again;
        again = p;
        assert_int_equal(cons_prio_update(&again, vs), 0);
        assert_memory_equal(&again, &p, sizeof p);
        free_set(vs);
        next_change++;
      }
      cons_prio_next_height(&p);
    }
    assert_int_equal(next_change, json_array_size(sched)); /* every change was applied */
  }
  assert_true(checked > 150);
  /* Bad sets are refused and leave p as it was. */
  uint8_t k2[2][32];
  memset(k2[0], 1, 32);
  memset(k2[1], 2, 32);
  Cohort__Validator a = COHORT__VALIDATOR__INIT, b = COHORT__VALIDATOR__INIT, *ab[2] = {&a, &b};
  a.pubkey = (ProtobufCBinaryData){32, k2[0]};
  b.pubkey = (ProtobufCBinaryData){32, k2[0]};
  a.power = b.power = 1;
  Cohort__ValidatorSet two = COHORT__VALIDATOR_SET__INIT;
  two.n_validators = 2;
  two.validators = ab;
  static cons_prio p, before;
  two.n_validators = 1;
  assert_int_equal(cons_prio_genesis(&p, &two), 0);
  before = p;
  two.n_validators = 2; /* duplicate key */
  assert_int_equal(cons_prio_update(&p, &two), COHORT_ERR_INVALID);
  b.pubkey.data = k2[1];
  b.power = 0;
  assert_int_equal(cons_prio_update(&p, &two), COHORT_ERR_INVALID);
  two.n_validators = 0;
  assert_int_equal(cons_prio_update(&p, &two), COHORT_ERR_INVALID);
  assert_memory_equal(&p, &before, sizeof p);
}

/* DuplicateVoteEvidence encodings and evidence hashes. */
static void test_evidence_vectors(void **s) {
  (void)s;
  json_t *ev = json_object_get(V, "evidence"), *items = json_object_get(ev, "items");
  size_t i;
  json_t *it;
  static uint8_t raw[4][EVIDENCE_MAX_BYTES];
  ProtobufCBinaryData bins[4];
  json_array_foreach(items, i, it) {
    uint8_t va[VOTE_MAX_BYTES], vb[VOTE_MAX_BYTES];
    size_t la = unhex(va, sizeof va, str(it, "vote_a")), lb = unhex(vb, sizeof vb, str(it, "vote_b"));
    size_t wl = unhex(raw[i], sizeof raw[i], str(it, "evidence"));
    bins[i] = (ProtobufCBinaryData){wl, raw[i]};
    core_errbuf eb;
    for (int order = 0; order < 2; order++) { /* either order in, evidence order out */
      uint8_t *out;
      size_t ol;
      assert_int_equal(order ? evidence_encode(&out, &ol, vb, lb, va, la, &eb)
                             : evidence_encode(&out, &ol, va, la, vb, lb, &eb), 0);
      assert_int_equal(ol, wl);
      assert_memory_equal(out, raw[i], wl);
      free(out);
    }
    evidence_t e;
    assert_int_equal(evidence_decode(&e, raw[i], wl, &eb), 0);
    evidence_free(&e);
    /* the same item with the votes swapped is not the canonical evidence */
    Cohort__DuplicateVoteEvidence d = COHORT__DUPLICATE_VOTE_EVIDENCE__INIT;
    d.vote_a = (ProtobufCBinaryData){lb, vb};
    d.vote_b = (ProtobufCBinaryData){la, va};
    uint8_t sw[EVIDENCE_MAX_BYTES];
    size_t sl = cohort__duplicate_vote_evidence__pack(&d, sw);
    assert_int_equal(evidence_decode(&e, sw, sl, &eb), COHORT_ERR_DECODE);
  }
  json_array_foreach(json_object_get(ev, "hashes"), i, it) {
    json_t *idx = json_object_get(it, "items");
    ProtobufCBinaryData list[4];
    for (size_t k = 0; k < json_array_size(idx); k++)
      list[k] = bins[json_integer_value(json_array_get(idx, k))];
    uint8_t want[32], got[32];
    unhex(want, 32, str(it, "evidence_hash"));
    evidence_hash(got, list, json_array_size(idx));
    assert_memory_equal(got, want, 32);
  }
}

static void test_proposal_sign_bytes(void **s) {
  (void)s;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(V, "proposal_sign_bytes"), i, c) {
    uint8_t bh[32], want[PROPOSAL_SIGN_BYTES_MAX], got[PROPOSAL_SIGN_BYTES_MAX];
    unhex(bh, 32, str(c, "block_hash"));
    size_t wl = unhex(want, sizeof want, str(c, "sign_bytes"));
    size_t gl = proposal_sign_bytes(got, str(c, "chain_id"), u64(c, "height"),
                                    (uint32_t)num(c, "round"), num(c, "pol_round"), bh);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
  }
}

static void fill_rec(json_t *c, cons_wal_rec *r, uint8_t *blockbuf) {
  const char *k = str(c, "kind");
  memset(r, 0, sizeof *r);
  if (!strcmp(k, "vote")) {
    r->kind = CONS_WAL_VOTE;
    r->u.vote.type = (uint32_t)num(c, "type");
    r->u.vote.height = u64(c, "height");
    r->u.vote.round = (uint32_t)num(c, "round");
    r->u.vote.has_hash = strlen(str(c, "block_hash")) > 0;
    if (r->u.vote.has_hash) unhex(r->u.vote.block_hash, 32, str(c, "block_hash"));
    unhex(r->u.vote.validator, 32, str(c, "validator"));
    unhex(r->u.vote.signature, 64, str(c, "signature"));
  } else if (!strcmp(k, "proposal")) {
    r->kind = CONS_WAL_PROPOSAL;
    r->u.proposal.height = u64(c, "height");
    r->u.proposal.round = (uint32_t)num(c, "round");
    r->u.proposal.pol_round = num(c, "pol_round");
    unhex(r->u.proposal.block_hash, 32, str(c, "block_hash"));
    unhex(r->u.proposal.proposer, 32, str(c, "proposer"));
    unhex(r->u.proposal.signature, 64, str(c, "signature"));
  } else if (!strcmp(k, "timeout")) {
    r->kind = CONS_WAL_TIMEOUT;
    r->u.timeout.height = u64(c, "height");
    r->u.timeout.round = (uint32_t)num(c, "round");
    r->u.timeout.step = (uint32_t)num(c, "step");
  } else if (!strcmp(k, "verdict")) {
    r->kind = CONS_WAL_VERDICT;
    r->u.verdict.height = u64(c, "height");
    unhex(r->u.verdict.block_hash, 32, str(c, "block_hash"));
    r->u.verdict.valid = json_is_true(json_object_get(c, "valid"));
  } else if (!strcmp(k, "block")) {
    r->kind = CONS_WAL_BLOCK;
    r->u.block.height = u64(c, "height");
    r->u.block.len = unhex(blockbuf, 64, str(c, "block"));
    r->u.block.bytes = blockbuf;
  } else {
    assert_string_equal(k, "end_height");
    r->kind = CONS_WAL_END_HEIGHT;
    r->u.end_height = u64(c, "height");
  }
}

static void test_wal_records(void **s) {
  (void)s;
  assert_int_equal(cons_wal_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(V, "wal_records"), i, c) {
    cons_wal_rec r, back;
    uint8_t blockbuf[64], want[512];
    fill_rec(c, &r, blockbuf);
    size_t wl = unhex(want, sizeof want, str(c, "bytes"));
    core_buf b = {0};
    assert_int_equal(cons_wal_encode(&b, &r), 0);
    assert_int_equal(b.len, wl);
    assert_memory_equal(b.data, want, wl);
    size_t off = 0;
    core_errbuf eb;
    assert_int_equal(cons_wal_decode(want, wl, &off, &back, &eb), CONS_WAL_RECORD);
    assert_int_equal(off, wl);
    core_buf b2 = {0};
    assert_int_equal(cons_wal_encode(&b2, &back), 0);
    assert_memory_equal(b2.data, want, wl);
    if (back.kind == CONS_WAL_BLOCK) assert_ptr_equal(back.u.block.bytes, want + wl - 3);
    free(b.data);
    free(b2.data);
  }
}

int main(void) {
  json_error_t je;
  V = json_load_file("tests/vectors/consensus.json", 0, &je);
  if (!V) {
    fprintf(stderr, "cannot load tests/vectors/consensus.json: %s\n", je.text);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proposer_cases), cmocka_unit_test(test_exact_shares),
      cmocka_unit_test(test_update_cases), cmocka_unit_test(test_evidence_vectors),
      cmocka_unit_test(test_proposal_sign_bytes), cmocka_unit_test(test_wal_records)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  json_decref(V);
  return rc;
}
