/* A staking test chain (tests/unit/state/test_staking.c): four genesis
 * validators (keys 0..3, operated by accounts 0..3), four candidate keys
 * (4..7) that accounts 4..7 may create validators with, and two plain
 * delegators (8, 9). Blocks are built as a proposer does (the parent's
 * commit as last commit, evidence first, only includable txs), signed by
 * every member of V_h except the keys in an "absent" mask, committed, and
 * replayed at once into a twin store through state_apply_block (the
 * path a syncing node takes): both must reach the same app_hash. */
#ifndef TEST_STAKING_FIXTURE_H
#define TEST_STAKING_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "proto/block.h"
#include "proto/tx.h"
#include "state/state.h"

#define SF_CHAIN "stake-chain-1"
#define SF_NK 8
#define SF_NU 10
#define SF_MAX_TXS 256

/* Defaults: small windows so everything happens within tens of blocks. */
#define SF_PARAMS                                                                          \
  "\"unbonding_blocks\":8,\"evidence_max_age\":7,\"signed_blocks_window\":10,"             \
  "\"min_signed_bps\":5000,\"downtime_jail_blocks\":5,\"slash_downtime_bps\":100,"        \
  "\"slash_double_sign_bps\":500,\"min_self_bond\":\"500\",\"min_delegation\":\"10\","   \
  "\"max_delegations\":4,\"max_entries\":3,\"commission_change_blocks\":3,"               \
  "\"max_validators\":5,\"community_tax_bps\":200,\"gas_price_milli\":\"0\","             \
  "\"min_fee\":\"10\",\"max_block_evidence\":4"

typedef struct {
  uint8_t vsec[SF_NK][64], vpub[SF_NK][32];
  uint8_t usec[SF_NU][32], upub[SF_NU][32], uid[SF_NU][20];
  uint64_t nonce[SF_NU];
  genesis g;
  kv_store *ka, *kb;
  state *st, *twin; /* the chain, and its replay */
} sfx;

static void sf_init(sfx *f, const char *params, const uint64_t power[4]) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < SF_NK; i++) {
    uint8_t seed[32];
    memset(seed, 0x30 + i, 32);
    core_ed25519_from_seed(f->vsec[i], f->vpub[i], seed);
  }
  char accts[4096] = "", vals[2048] = "", one[512];
  for (int i = 0; i < SF_NU; i++) {
    memset(f->usec[i], 0, 32);
    f->usec[i][0] = 0x5a;
    f->usec[i][31] = (uint8_t)(i + 1);
    if (core_schnorr_pubkey(f->upub[i], f->usec[i])) abort();
    core_account_id(f->uid[i], f->upub[i]);
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, f->uid[i]);
    snprintf(one, sizeof one, "%s{\"address\":\"%s\",\"crd\":\"1000000000\",\"stk\":\"100000\"}",
             i ? "," : "", a);
    strcat(accts, one);
  }
  for (int i = 0; i < 4; i++) {
    char a[CORE_ADDR_STR_MAX], pk[65];
    core_addr_encode(a, f->uid[i]);
    core_hex_encode(pk, f->vpub[i], 32);
    snprintf(one, sizeof one, "%s{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"%llu\"}",
             i ? "," : "", pk, a, (unsigned long long)power[i]);
    strcat(vals, one);
  }
  static char text[16384];
  snprintf(text, sizeof text,
           "{\"chain_id\":\"" SF_CHAIN "\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
           "\"params\":{%s},\"accounts\":[%s],\"validators\":[%s]}",
           params, accts, vals);
  core_errbuf eb;
  if (genesis_parse(&f->g, text, strlen(text), &eb)) {
    fprintf(stderr, "staking fixture genesis: %s\n", eb.msg);
    abort();
  }
  if (kv_open_mem(&f->ka) || kv_open_mem(&f->kb) || state_open(&f->st, f->ka, &eb) ||
      state_open(&f->twin, f->kb, &eb) || state_init_genesis(f->st, &f->g, &eb) ||
      state_init_genesis(f->twin, &f->g, &eb))
    abort();
}

static void sf_free(sfx *f) {
  state_close(f->st);
  state_close(f->twin);
  kv_close(f->ka);
  kv_close(f->kb);
  genesis_free(&f->g);
}

static int sf_key_of(const sfx *f, const uint8_t *pub) {
  for (int i = 0; i < SF_NK; i++)
    if (!memcmp(f->vpub[i], pub, 32)) return i;
  return -1;
}

/* ---- transactions ---- */

static uint8_t *sf_tx(sfx *f, int u, Cohort__TxBody *b, size_t *len) {
  b->nonce = f->nonce[u]++;
  if (!b->fee) b->fee = 10;
  uint8_t *out, aux[32] = {0};
  if (tx_build(&out, len, b, SF_CHAIN, f->usec[u], aux)) abort();
  return out;
}

static __attribute__((unused)) uint8_t *sf_delegate(sfx *f, int u, const uint8_t op[20],
                                                    uint64_t amt, size_t *len) {
  Cohort__MsgDelegate m = COHORT__MSG_DELEGATE__INIT;
  m.validator = (ProtobufCBinaryData){20, (uint8_t *)op};
  m.amount = amt;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_DELEGATE;
  b.delegate = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_undelegate(sfx *f, int u, const uint8_t op[20],
                                                      uint64_t amt, size_t *len) {
  Cohort__MsgUndelegate m = COHORT__MSG_UNDELEGATE__INIT;
  m.validator = (ProtobufCBinaryData){20, (uint8_t *)op};
  m.amount = amt;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE;
  b.undelegate = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_redelegate(sfx *f, int u, const uint8_t src[20],
                                                      const uint8_t dst[20], uint64_t amt,
                                                      size_t *len) {
  Cohort__MsgRedelegate m = COHORT__MSG_REDELEGATE__INIT;
  m.src = (ProtobufCBinaryData){20, (uint8_t *)src};
  m.dst = (ProtobufCBinaryData){20, (uint8_t *)dst};
  m.amount = amt;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_REDELEGATE;
  b.redelegate = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_withdraw(sfx *f, int u, const uint8_t *op,
                                                    size_t *len) {
  Cohort__MsgWithdrawRewards m = COHORT__MSG_WITHDRAW_REWARDS__INIT;
  if (op) m.validator = (ProtobufCBinaryData){20, (uint8_t *)op};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_WITHDRAW_REWARDS;
  b.withdraw_rewards = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_create(sfx *f, int u, int key, uint64_t bond,
                                                  uint32_t comm, uint32_t max_comm,
                                                  uint32_t max_change, size_t *len) {
  Cohort__MsgCreateValidator m = COHORT__MSG_CREATE_VALIDATOR__INIT;
  uint8_t bc[32];
  memset(bc, 0xbc, 32);
  m.pubkey = (ProtobufCBinaryData){32, f->vpub[key]};
  m.beacon_commit = (ProtobufCBinaryData){32, bc};
  m.moniker = (char *)"candidate";
  m.commission_bps = comm;
  m.max_commission_bps = max_comm;
  m.max_change_bps = max_change;
  m.self_bond = bond;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_CREATE_VALIDATOR;
  b.create_validator = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_commission(sfx *f, int u, uint32_t bps, size_t *len) {
  Cohort__MsgEditValidator m = COHORT__MSG_EDIT_VALIDATOR__INIT;
  m.commission_bps = bps;
  m.set_commission = 1;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_EDIT_VALIDATOR;
  b.edit_validator = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_unjail(sfx *f, int u, size_t *len) {
  Cohort__MsgUnjail m = COHORT__MSG_UNJAIL__INIT;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_UNJAIL;
  b.unjail = &m;
  return sf_tx(f, u, &b, len);
}

static __attribute__((unused)) uint8_t *sf_transfer(sfx *f, int u, int to, uint64_t crd,
                                                    uint64_t fee, size_t *len) {
  Cohort__MsgTransfer m = COHORT__MSG_TRANSFER__INIT;
  m.to = (ProtobufCBinaryData){20, f->uid[to]};
  m.token = COHORT__TOKEN__CRD;
  m.amount = crd;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  b.transfer = &m;
  b.fee = fee;
  return sf_tx(f, u, &b, len);
}

/* Evidence that key k prevoted two blocks at height e. */
static __attribute__((unused)) ProtobufCBinaryData sf_evidence(const sfx *f, int k, uint64_t e) {
  static const uint8_t ha[32] = {0x11, 1}, hb[32] = {0x22, 2};
  uint8_t v[2][VOTE_MAX_BYTES], sb[VOTE_SIGN_BYTES_MAX], sig[64];
  size_t vl[2];
  for (int i = 0; i < 2; i++) {
    size_t sl = vote_sign_bytes(sb, SF_CHAIN, VOTE_PREVOTE, e, 0, i ? hb : ha, 32);
    core_ed25519_sign(sig, sb, sl, f->vsec[k]);
    Cohort__Vote vt = COHORT__VOTE__INIT;
    vt.type = VOTE_PREVOTE;
    vt.height = e;
    vt.block_hash = (ProtobufCBinaryData){32, (uint8_t *)(i ? hb : ha)};
    vt.validator = (ProtobufCBinaryData){32, (uint8_t *)f->vpub[k]};
    vt.signature = (ProtobufCBinaryData){64, sig};
    vl[i] = cohort__vote__pack(&vt, v[i]);
  }
  uint8_t *out;
  size_t ol;
  core_errbuf eb;
  if (evidence_encode(&out, &ol, v[0], vl[0], v[1], vl[1], &eb)) abort();
  return (ProtobufCBinaryData){ol, out};
}

/* ---- blocks ---- */

/* Build, commit and replay block h = height + 1 with these txs (each must
 * be includable: the fixture keeps nonces and fees right) and evidence
 * items (each must be valid), the commit of h signed by V_h minus the keys
 * in `absent` (bit k = key k; they must leave more than 2/3 of the power).
 * res (room for n, may be NULL) gets each tx's result. The txs are freed. */
static void sf_block(sfx *f, uint8_t **txs, const size_t *lens, size_t n,
                     const ProtobufCBinaryData *ev, size_t nev, uint32_t absent,
                     state_tx_result *res) {
  state *st = f->st;
  uint64_t h = state_height(st) + 1, t = state_last_time_ms(st) + 1000;
  const Cohort__ValidatorSet *vs = state_validators(st);
  state_exec *x;
  core_errbuf eb;
  if (state_exec_begin(st, h, t, vs->validators[0]->pubkey.data, &x, &eb)) {
    fprintf(stderr, "sf_block: begin %llu: %s\n", (unsigned long long)h, eb.msg);
    abort();
  }
  uint8_t *lc = NULL, lch[32] = {0};
  size_t lcl = 0;
  if (h > 1) {
    Cohort__Commit *c = NULL;
    if (state_get_commit(st, h - 1, &lc, &lcl) || commit_parse(&c, lc, lcl, 1 << 20, &eb) ||
        state_exec_last_commit(x, c, &eb))
      abort();
    cohort__commit__free_unpacked(c, NULL);
    core_sha256(lch, lc, lcl);
  }
  for (size_t i = 0; i < nev; i++)
    if (state_exec_evidence(x, ev[i].data, ev[i].len, &eb)) {
      fprintf(stderr, "sf_block %llu: evidence %zu refused: %s\n", (unsigned long long)h, i,
              eb.msg);
      abort();
    }
  ProtobufCBinaryData raw[SF_MAX_TXS];
  uint8_t hashes[SF_MAX_TXS][32];
  state_tx_result rs[SF_MAX_TXS];
  if (n > SF_MAX_TXS) abort();
  for (size_t i = 0; i < n; i++) {
    tx_t tx;
    if (tx_decode(&tx, txs[i], lens[i], 1 << 22, &eb) || state_exec_tx(x, &tx, 0, &rs[i], &eb)) {
      fprintf(stderr, "sf_block %llu: tx %zu not includable: %s\n", (unsigned long long)h, i,
              eb.msg);
      abort();
    }
    raw[i] = (ProtobufCBinaryData){lens[i], txs[i]};
    memcpy(hashes[i], tx.hash, 32);
    tx_free(&tx);
    if (res) res[i] = rs[i];
  }
  uint8_t root[32], vh[32], nvh[32];
  block_tx_root(root, (const uint8_t(*)[32])hashes, n);
  validators_hash(vh, vs);
  validators_hash(nvh, state_next_validators(st));
  Cohort__BlockHeader hd = COHORT__BLOCK_HEADER__INIT;
  hd.chain_id = (char *)state_chain_id(st);
  hd.height = h;
  hd.time_ms = t;
  hd.prev_hash = (ProtobufCBinaryData){32, (uint8_t *)state_last_block_hash(st)};
  hd.tx_root = (ProtobufCBinaryData){32, root};
  hd.app_hash = (ProtobufCBinaryData){32, (uint8_t *)state_app_hash(st)};
  hd.validators_hash = (ProtobufCBinaryData){32, vh};
  hd.next_validators_hash = (ProtobufCBinaryData){32, nvh};
  hd.proposer = (ProtobufCBinaryData){32, vs->validators[0]->pubkey.data};
  hd.last_commit_hash = (ProtobufCBinaryData){32, lch};
  uint8_t *bb, bh[32];
  size_t bl;
  if (block_encode_ev(&bb, &bl, bh, &hd, raw, n, lc, lcl, ev, nev)) abort();
  free(lc);
  /* the commit of h: V_h minus the absent, if that is still > 2/3 */
  unsigned __int128 total = 0, signing = 0;
  for (size_t i = 0; i < vs->n_validators; i++) {
    int k = sf_key_of(f, vs->validators[i]->pubkey.data);
    if (k < 0) abort();
    total += vs->validators[i]->power;
    if (!(absent >> k & 1)) signing += vs->validators[i]->power;
  }
  if (signing * 3 <= total * 2) {
    fprintf(stderr, "sf_block %llu: the absent mask leaves no 2/3\n", (unsigned long long)h);
    abort();
  }
  Cohort__CommitSig cs[SF_NK], *csp[SF_NK];
  uint8_t sigs[SF_NK][64], sb[VOTE_SIGN_BYTES_MAX];
  size_t sl = vote_sign_bytes(sb, SF_CHAIN, VOTE_PRECOMMIT, h, 0, bh, 32), m = 0;
  for (size_t i = 0; i < vs->n_validators; i++) {
    int k = sf_key_of(f, vs->validators[i]->pubkey.data);
    if (absent >> k & 1) continue;
    core_ed25519_sign(sigs[m], sb, sl, f->vsec[k]);
    cohort__commit_sig__init(&cs[m]);
    cs[m].validator = (ProtobufCBinaryData){32, f->vpub[k]};
    cs[m].signature = (ProtobufCBinaryData){64, sigs[m]};
    csp[m] = &cs[m];
    m++;
  }
  Cohort__Commit cm = COHORT__COMMIT__INIT;
  cm.height = h;
  cm.block_hash = (ProtobufCBinaryData){32, bh};
  cm.n_sigs = m;
  cm.sigs = csp;
  size_t cl = cohort__commit__get_packed_size(&cm);
  uint8_t *cb = malloc(cl);
  cohort__commit__pack(&cm, cb);
  if (state_commit(st, x, bb, bl, bh, cb, cl, (const uint8_t(*)[32])hashes, rs, &eb)) {
    fprintf(stderr, "sf_block %llu: commit: %s\n", (unsigned long long)h, eb.msg);
    abort();
  }
  state_exec_free(x);
  if (state_apply_block(f->twin, bb, bl, cb, cl, &eb)) {
    fprintf(stderr, "sf_block %llu: the replay refuses it: %s\n", (unsigned long long)h, eb.msg);
    abort();
  }
  if (memcmp(state_app_hash(f->twin), state_app_hash(st), 32)) {
    fprintf(stderr, "sf_block %llu: the replay reached another app_hash\n", (unsigned long long)h);
    abort();
  }
  free(bb);
  free(cb);
  for (size_t i = 0; i < n; i++) free(txs[i]);
}

static __attribute__((unused)) void sf_empty(sfx *f, int blocks, uint32_t absent) {
  for (int i = 0; i < blocks; i++) sf_block(f, NULL, NULL, 0, NULL, 0, absent, NULL);
}

/* One tx alone in a block; its result code (and log in *log if given). */
static __attribute__((unused)) int sf_one(sfx *f, uint8_t *tx, size_t len, char *log) {
  state_tx_result r;
  sf_block(f, &tx, &len, 1, NULL, 0, 0, &r);
  if (log) strcpy(log, r.log);
  return r.code;
}

/* ---- reads ---- */

static __attribute__((unused)) Cohort__ValidatorInfo *sf_val(sfx *f, int u) {
  Cohort__ValidatorInfo *v;
  if (state_get_validator_info(f->st, f->uid[u], &v)) abort();
  return v;
}

static __attribute__((unused)) uint64_t sf_tokens(sfx *f, int u) {
  Cohort__ValidatorInfo *v = sf_val(f, u);
  uint64_t t = v->tokens;
  cohort__validator_info__free_unpacked(v, NULL);
  return t;
}

/* What del's delegation to operator op is worth (0 if none). */
static __attribute__((unused)) uint64_t sf_value(sfx *f, int del, int op) {
  Cohort__ValidatorInfo *v = sf_val(f, op);
  Cohort__Delegation *d;
  uint64_t r = 0;
  if (state_get_delegation(f->st, f->uid[del], f->uid[op], &d) == 0) {
    r = state_delegation_value(v, d->shares);
    cohort__delegation__free_unpacked(d, NULL);
  }
  cohort__validator_info__free_unpacked(v, NULL);
  return r;
}

static __attribute__((unused)) uint64_t sf_pending(sfx *f, int del, int op) {
  Cohort__ValidatorInfo *v = sf_val(f, op);
  Cohort__Delegation *d;
  uint64_t r = 0;
  if (state_get_delegation(f->st, f->uid[del], f->uid[op], &d) == 0) {
    if (state_pending_reward(v, d, &r)) abort();
    cohort__delegation__free_unpacked(d, NULL);
  }
  cohort__validator_info__free_unpacked(v, NULL);
  return r;
}

static __attribute__((unused)) void sf_balance(sfx *f, int u, uint64_t *crd, uint64_t *stk) {
  uint64_t n;
  if (state_get_account(f->st, f->uid[u], crd, stk, &n)) abort();
}

/* 1 if key k is in the set (0 V_h, 1 V_{h+1}, 2 V_{h+2}). */
static __attribute__((unused)) int sf_in_set(sfx *f, int which, int k) {
  const Cohort__ValidatorSet *vs = which == 0   ? state_last_validators(f->st)
                                   : which == 1 ? state_validators(f->st)
                                                : state_next_validators(f->st);
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, f->vpub[k], 32)) return 1;
  return 0;
}

static __attribute__((unused)) state_audit_report sf_audit(sfx *f) {
  state_audit_report r;
  core_errbuf eb;
  if (state_audit(f->st, &r, &eb)) {
    fprintf(stderr, "state_audit at %llu: %s\n", (unsigned long long)state_height(f->st), eb.msg);
    abort();
  }
  return r;
}

#endif
