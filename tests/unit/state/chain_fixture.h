/* A test chain: genesis with one validator and funded accounts, and a
 * builder that makes signed blocks the way a proposer does. */
#ifndef TEST_CHAIN_FIXTURE_H
#define TEST_CHAIN_FIXTURE_H

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

#define FX_CHAIN "test-chain-1"
#define FX_USERS 7
#define FX_BEACON_N 512 /* links of the validator's beacon hash chain */
#define FX_RECOMMIT_DELAY 4

typedef struct {
  core_key val;
  core_key users[FX_USERS];
  uint8_t ids[FX_USERS][20];
  genesis g;
  /* The validator's beacon chains: a[i] = sha256^i(seed_a); genesis
   * commits to a[N]; block h reveals a[N - h]. At height recommit_at
   * (0 = never) the header also carries b[N - off] (off = recommit_off: a
   * proposer choosing which tip to re-commit to); the switch comes
   * FX_RECOMMIT_DELAY blocks later (params.beacon_recommit_delay): block
   * s = recommit_at + delay reveals b[N - off - 1], s + 1 reveals
   * b[N - off - 2], ... no_reveal withholds. */
  uint8_t beacon_a[FX_BEACON_N + 1][32], beacon_b[FX_BEACON_N + 1][32];
  uint64_t recommit_at;
  unsigned recommit_off;
  int no_reveal;
} fixture;

static void fx_beacon_chain(uint8_t (*c)[32], uint8_t seed) {
  memset(c[0], seed, 32);
  for (int i = 1; i <= FX_BEACON_N; i++) core_sha256(c[i], c[i - 1], 32);
}

/* The reveal (and new tip, or NULL) the fixture's proposer puts in block h. */
static __attribute__((unused)) const uint8_t *fx_reveal(const fixture *f, uint64_t h,
                                                        const uint8_t **new_tip) {
  *new_tip = NULL;
  if (f->no_reveal) return NULL;
  if (!f->recommit_at || h < f->recommit_at + FX_RECOMMIT_DELAY) {
    if (h > FX_BEACON_N) return NULL;
    if (h == f->recommit_at) *new_tip = f->beacon_b[FX_BEACON_N - f->recommit_off];
    return f->beacon_a[FX_BEACON_N - h];
  }
  uint64_t k = h - (f->recommit_at + FX_RECOMMIT_DELAY) + 1 + f->recommit_off;
  return k <= FX_BEACON_N ? f->beacon_b[FX_BEACON_N - k] : NULL;
}

/* Deterministic keys from a seed so runs are reproducible. extra_params is
 * appended to the genesis params object (",\"name\":value..." or "");
 * extra_vals to the validators array (",{validator}..." or ""): validators
 * that never propose (the fixture's validator proposes every block). */
static void fx_init_full(fixture *f, uint8_t seed, const char *extra_params,
                         const char *extra_vals) {
  memset(f, 0, sizeof *f);
  uint8_t s[32];
  memset(s, seed, 32);
  f->val.is_ed25519 = 1;
  memcpy(f->val.secret, s, 32);
  core_ed25519_from_seed(f->val.sec64, f->val.pub, s);
  char accts[FX_USERS][200];
  for (int i = 0; i < FX_USERS; i++) {
    memset(f->users[i].secret, 0, 32);
    f->users[i].secret[31] = (uint8_t)(i + 1);
    f->users[i].secret[0] = seed;
    if (core_schnorr_pubkey(f->users[i].pub, f->users[i].secret)) abort();
    core_account_id(f->ids[i], f->users[i].pub);
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, f->ids[i]);
    snprintf(accts[i], sizeof accts[i], "{\"address\":\"%s\",\"crd\":\"%s\",\"stk\":\"%s\"}", a,
             i == 3 ? "500" : "1000000000", i == 3 ? "0" : "5000000");
  }
  fx_beacon_chain(f->beacon_a, (uint8_t)(seed ^ 0xa5));
  fx_beacon_chain(f->beacon_b, (uint8_t)(seed ^ 0x5a));
  char vpk[65], op[CORE_ADDR_STR_MAX], bc[65], text[8192];
  core_hex_encode(vpk, f->val.pub, 32);
  core_hex_encode(bc, f->beacon_a[FX_BEACON_N], 32);
  core_addr_encode(op, f->ids[0]);
  snprintf(text, sizeof text,
           "{\"chain_id\":\"" FX_CHAIN "\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
           "\"params\":{\"max_block_bytes\":4194304,\"max_tx_bytes\":2097152,"
           "\"max_block_txs\":1000,\"min_fee\":\"10\",\"min_executor_stake\":\"1000\","
           "\"commit_blocks\":3,\"reveal_blocks\":3,\"challenge_blocks\":2,\"dispute_bond\":\"100000\","
           "\"unbonding_blocks\":5,\"evidence_max_age\":4,\"max_attempts\":3,\"liveness_slash_bps\":1000,"
           "\"window_margin_blocks\":1,\"liveness_jail_blocks\":20,\"retention_blocks\":5,"
           "\"draw_wait_blocks\":10,\"beacon_recommit_delay\":4%s},"
           "\"accounts\":[%s,%s,%s,%s,%s,%s,%s],"
           "\"validators\":[{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"100\","
           "\"beacon_commit\":\"%s\"}%s]}",
           extra_params, accts[0], accts[1], accts[2], accts[3], accts[4], accts[5], accts[6],
           vpk, op, bc, extra_vals);
  core_errbuf eb;
  if (genesis_parse(&f->g, text, strlen(text), &eb)) {
    fprintf(stderr, "fixture genesis: %s\n", eb.msg);
    abort();
  }
}

static __attribute__((unused)) void fx_init_params(fixture *f, uint8_t seed,
                                                   const char *extra_params) {
  fx_init_full(f, seed, extra_params, "");
}

/* Fees of a flat min_fee (no gas price): for tests of other things. */
static __attribute__((unused)) void fx_init(fixture *f, uint8_t seed) {
  fx_init_params(f, seed, ",\"gas_price_milli\":\"0\"");
}

static __attribute__((unused)) uint8_t *fx_transfer(const fixture *f, int from, const uint8_t to[20], int token,
                            uint64_t amount, uint64_t nonce, uint64_t fee, const char *chain,
                            size_t *len) {
  Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
  t.to = (ProtobufCBinaryData){20, (uint8_t *)to};
  t.token = (Cohort__Token)token;
  t.amount = amount;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.nonce = nonce;
  b.fee = fee;
  b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  b.transfer = &t;
  uint8_t *out, aux[32] = {0};
  if (tx_build(&out, len, &b, chain, f->users[from].secret, aux)) abort();
  return out;
}

/* Make a block of raw txs on top of st (only includable txs go in), sign a
 * commit for it, and commit it to st. Returns block and commit bytes. */
static int fx_make_block(const fixture *f, state *st, uint8_t **txs, size_t *lens, size_t n,
                         uint8_t **bout, size_t *blen, uint8_t **cout, size_t *clen) {
  *bout = *cout = NULL;
  *blen = *clen = 0;
  uint64_t h = state_height(st) + 1, t = state_last_time_ms(st) + 1000;
  state_exec *x;
  core_errbuf eb;
  if (state_exec_begin(st, h, t, f->val.pub, &x, &eb)) return -1;
  if (h > 1) { /* who signed the parent: its stored commit, as a proposer does */
    uint8_t *pc;
    size_t pcl;
    Cohort__Commit *pcd = NULL;
    if (state_get_commit(st, h - 1, &pc, &pcl) || commit_parse(&pcd, pc, pcl, 1 << 20, &eb) ||
        state_exec_last_commit(x, pcd, &eb))
      abort();
    cohort__commit__free_unpacked(pcd, NULL);
    free(pc);
  }
  const uint8_t *new_tip, *reveal = fx_reveal(f, h, &new_tip);
  /* after a withheld reveal the chain wants the link the height skipped:
   * reveal whichever link hashes to what the state expects */
  uint8_t want[32];
  int pending;
  if (reveal && !state_beacon_expected(st, f->val.pub, want, &pending)) {
    for (int i = 0; i < FX_BEACON_N; i++) {
      uint8_t hh[32];
      core_sha256(hh, f->beacon_a[i], 32);
      if (!memcmp(hh, want, 32)) reveal = f->beacon_a[i];
      core_sha256(hh, f->beacon_b[i], 32);
      if (!memcmp(hh, want, 32)) reveal = f->beacon_b[i];
    }
  }
  if (reveal && state_exec_reveal(x, reveal, new_tip, &eb)) {
    fprintf(stderr, "fixture: reveal at %llu refused: %s\n", (unsigned long long)h, eb.msg);
    state_exec_free(x);
    return -1;
  }
  ProtobufCBinaryData *raw = calloc(n + 1, sizeof *raw);
  uint8_t(*hashes)[32] = calloc(n + 1, 32);
  state_tx_result *res = calloc(n + 1, sizeof *res);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    tx_t tx;
    if (tx_decode(&tx, txs[i], lens[i], 4u << 20, &eb)) continue;
    if (state_exec_tx(x, &tx, 0, &res[k], &eb) == 0) {
      raw[k] = (ProtobufCBinaryData){lens[i], txs[i]};
      memcpy(hashes[k], tx.hash, 32);
      k++;
    }
    tx_free(&tx);
  }
  uint8_t root[32], vh[32], nvh[32], zero[32] = {0};
  block_tx_root(root, (const uint8_t(*)[32])hashes, k);
  validators_hash(vh, state_validators(st));
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
  hd.proposer = (ProtobufCBinaryData){32, (uint8_t *)f->val.pub};
  if (reveal) hd.beacon_reveal = (ProtobufCBinaryData){32, (uint8_t *)reveal};
  if (new_tip) hd.beacon_new_tip = (ProtobufCBinaryData){32, (uint8_t *)new_tip};
  uint8_t *lc = NULL;
  size_t lcl = 0;
  if (h > 1 && state_get_commit(st, h - 1, &lc, &lcl) == 0) core_sha256(zero, lc, lcl);
  hd.last_commit_hash = (ProtobufCBinaryData){32, zero};
  uint8_t bh[32];
  if (block_encode(bout, blen, bh, &hd, raw, k, lc, lcl)) abort();
  free(lc);
  uint8_t sb[VOTE_SIGN_BYTES_MAX], sig[64];
  size_t sl = vote_sign_bytes(sb, state_chain_id(st), VOTE_PRECOMMIT, h, 0, bh, 32);
  core_ed25519_sign(sig, sb, sl, f->val.sec64);
  Cohort__CommitSig cs = COHORT__COMMIT_SIG__INIT;
  cs.validator = (ProtobufCBinaryData){32, (uint8_t *)f->val.pub};
  cs.signature = (ProtobufCBinaryData){64, sig};
  Cohort__CommitSig *csp = &cs;
  Cohort__Commit c = COHORT__COMMIT__INIT;
  c.height = h;
  c.block_hash = (ProtobufCBinaryData){32, bh};
  c.n_sigs = 1;
  c.sigs = &csp;
  *clen = cohort__commit__get_packed_size(&c);
  *cout = malloc(*clen);
  cohort__commit__pack(&c, *cout);
  int rc = state_commit(st, x, *bout, *blen, bh, *cout, *clen, (const uint8_t(*)[32])hashes, res,
                        &eb);
  state_exec_free(x);
  free(raw);
  free(hashes);
  free(res);
  return rc;
}

/* The supply rule and the staking invariants (state_audit), failing the
 * test with the rule that broke. */
#define FX_AUDIT(st)                                                                 \
  do {                                                                               \
    core_errbuf aeb_;                                                                \
    if (state_audit((st), NULL, &aeb_)) fail_msg("state_audit: %s", aeb_.msg);       \
  } while (0)

/* A pool's CRD ("s/fees", "s/rewards", "s/community"). */
static __attribute__((unused)) uint64_t fx_pool_crd(state *st, const char *pool) {
  state_audit_report r;
  core_errbuf eb;
  if (state_audit(st, &r, &eb)) {
    fprintf(stderr, "fx_pool_crd: %s\n", eb.msg);
    abort();
  }
  return !strcmp(pool, "s/fees") ? r.fees : !strcmp(pool, "s/rewards") ? r.rewards : r.community;
}

/* The reward del could withdraw from its delegation to op now. */
static __attribute__((unused)) uint64_t fx_pending(state *st, const uint8_t del[20],
                                                   const uint8_t op[20]) {
  Cohort__ValidatorInfo *v;
  Cohort__Delegation *d;
  uint64_t r = 0;
  if (state_get_validator_info(st, op, &v)) abort();
  if (state_get_delegation(st, del, op, &d) == 0) {
    if (state_pending_reward(v, d, &r)) abort();
    cohort__delegation__free_unpacked(d, NULL);
  }
  cohort__validator_info__free_unpacked(v, NULL);
  return r;
}

#endif
