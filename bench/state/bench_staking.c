/* bench_staking: what staking costs the state machine, in process (no RPC,
 * no consensus), on an in-memory store: a chain of V genesis validators and
 * D funded accounts. Prints (never fails on time):
 *   - Delegate: txs per second through state_exec_tx (signatures checked,
 *     and with sig_checked = 1: the state's own part), and per block;
 *   - the end of a block with fees, every validator signing: downtime,
 *     the distribution to all V validators and the set from the power
 *     index (state_exec_finish), in ms;
 *   - a slash of a validator with many unbonding entries.
 * usage: bench_staking [VALIDATORS (<= 150)] [DELEGATORS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "proto/tx.h"
#include "state/state.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define CHAIN "bench-stake-1"

static size_t nv, nd;
static uint8_t (*vpub)[32], (*dsec)[32], (*did)[20], (*vop)[20];
static uint64_t *nonce;

static uint8_t *delegate_tx(size_t d, size_t v, uint64_t amt, size_t *len) {
  Cohort__MsgDelegate m = COHORT__MSG_DELEGATE__INIT;
  m.validator = (ProtobufCBinaryData){20, vop[v]};
  m.amount = amt;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.nonce = nonce[d]++;
  b.fee = 100;
  b.msg_case = COHORT__TX_BODY__MSG_DELEGATE;
  b.delegate = &m;
  uint8_t *out, aux[32] = {0};
  if (tx_build(&out, len, &b, CHAIN, dsec[d], aux)) exit(1);
  return out;
}

static uint8_t *undelegate_tx(size_t d, size_t v, uint64_t amt, size_t *len) {
  Cohort__MsgUndelegate m = COHORT__MSG_UNDELEGATE__INIT;
  m.validator = (ProtobufCBinaryData){20, vop[v]};
  m.amount = amt;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.nonce = nonce[d]++;
  b.fee = 100;
  b.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE;
  b.undelegate = &m;
  uint8_t *out, aux[32] = {0};
  if (tx_build(&out, len, &b, CHAIN, dsec[d], aux)) exit(1);
  return out;
}

/* One block of these txs; returns seconds spent in state_exec_tx and in
 * state_exec_finish. */
static void block(state *st, uint8_t **txs, size_t *lens, size_t n, int sig_checked, double *t_tx,
                  double *t_end) {
  uint64_t h = state_height(st) + 1;
  state_exec *x;
  core_errbuf eb;
  if (state_exec_begin(st, h, state_last_time_ms(st) + 1000,
                       state_validators(st)->validators[0]->pubkey.data, &x, &eb)) {
    fprintf(stderr, "begin: %s\n", eb.msg);
    exit(1);
  }
  tx_t *dec = calloc(n ? n : 1, sizeof *dec);
  for (size_t i = 0; i < n; i++)
    if (tx_decode(&dec[i], txs[i], lens[i], 1 << 20, &eb)) exit(1);
  state_tx_result *res = calloc(n ? n : 1, sizeof *res);
  uint8_t(*hashes)[32] = calloc(n ? n : 1, 32);
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    if (state_exec_tx(x, &dec[i], sig_checked, &res[i], &eb)) {
      fprintf(stderr, "tx %zu: %s\n", i, eb.msg);
      exit(1);
    }
    if (res[i].code) {
      fprintf(stderr, "tx %zu failed: %s\n", i, res[i].log);
      exit(1);
    }
    memcpy(hashes[i], dec[i].hash, 32);
  }
  double t1 = now();
  uint8_t app[32];
  if (state_exec_finish(x, app)) exit(1);
  double t2 = now();
  *t_tx += t1 - t0;
  *t_end += t2 - t1;
  uint8_t bh[32] = {0}, fake[1] = {0};
  bh[0] = (uint8_t)h, bh[1] = (uint8_t)(h >> 8);
  if (state_commit(st, x, fake, 1, bh, fake, 1, (const uint8_t(*)[32])hashes, res, &eb)) exit(1);
  state_exec_free(x);
  for (size_t i = 0; i < n; i++) tx_free(&dec[i]);
  free(dec);
  free(res);
  free(hashes);
}

int main(int argc, char **argv) {
  nv = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
  nd = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
  if (!nv || nv > 150 || !nd || core_init()) return 2;
  vpub = calloc(nv, 32);
  vop = calloc(nv, 20);
  dsec = calloc(nd, 32);
  did = calloc(nd, 20);
  nonce = calloc(nd, sizeof *nonce);
  size_t cap = 256 + nd * 160 + nv * 300;
  char *text = malloc(cap), *p = text;
  p += sprintf(p, "{\"chain_id\":\"" CHAIN "\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
                  "\"params\":{\"max_validators\":150,\"max_block_txs\":100000,"
                  "\"max_block_gas\":\"100000000000\",\"min_fee\":\"10\",\"gas_price_milli\":\"0\"},"
                  "\"accounts\":[");
  for (size_t i = 0; i < nd; i++) {
    uint8_t pub[32];
    memset(dsec[i], 0, 32);
    dsec[i][0] = 0x42;
    dsec[i][28] = (uint8_t)(i >> 24), dsec[i][29] = (uint8_t)(i >> 16);
    dsec[i][30] = (uint8_t)(i >> 8), dsec[i][31] = (uint8_t)(i + 1);
    core_schnorr_pubkey(pub, dsec[i]);
    core_account_id(did[i], pub);
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, did[i]);
    p += sprintf(p, "%s{\"address\":\"%s\",\"crd\":\"1000000000\",\"stk\":\"1000000000\"}",
                 i ? "," : "", a);
  }
  p += sprintf(p, "],\"validators\":[");
  for (size_t i = 0; i < nv; i++) {
    uint8_t seed[32] = {0}, sec[64], pk[32];
    seed[0] = 0x77, seed[30] = (uint8_t)(i >> 8), seed[31] = (uint8_t)i;
    core_ed25519_from_seed(sec, pk, seed);
    memcpy(vpub[i], pk, 32);
    uint8_t opsec[32] = {0}, oppub[32];
    opsec[0] = 0x33, opsec[31] = (uint8_t)(i + 1), opsec[30] = (uint8_t)(i >> 8);
    core_schnorr_pubkey(oppub, opsec);
    core_account_id(vop[i], oppub);
    char a[CORE_ADDR_STR_MAX], hx[65];
    core_addr_encode(a, vop[i]);
    core_hex_encode(hx, pk, 32);
    p += sprintf(p, "%s{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"%llu\"}", i ? "," : "",
                 hx, a, (unsigned long long)(1000000000ull + i));
  }
  p += sprintf(p, "]}");
  genesis g;
  core_errbuf eb;
  kv_store *kv;
  state *st;
  if (genesis_parse(&g, text, strlen(text), &eb)) {
    fprintf(stderr, "genesis: %s\n", eb.msg);
    return 1;
  }
  if (kv_open_mem(&kv) || state_open(&st, kv, &eb) || state_init_genesis(st, &g, &eb)) return 1;
  free(text);
  printf("bench_staking: %zu validators, %zu delegators, in-memory store\n", nv, nd);
  /* Delegate: every delegator once per block, to validators round robin */
  for (int pass = 0; pass < 2; pass++) {
    int sig_checked = pass == 1;
    double t_tx = 0, t_end = 0;
    size_t total = 0;
    for (int b = 0; b < 3; b++) {
      uint8_t **txs = malloc(nd * sizeof *txs);
      size_t *lens = malloc(nd * sizeof *lens);
      for (size_t d = 0; d < nd; d++) txs[d] = delegate_tx(d, (d + (size_t)b) % nv, 1000 + d, &lens[d]);
      block(st, txs, lens, nd, sig_checked, &t_tx, &t_end);
      for (size_t d = 0; d < nd; d++) free(txs[d]);
      free(txs);
      free(lens);
      total += nd;
    }
    printf("  delegate (%s)  %8.0f tx/s   end of block %.1f ms (%zu txs, fees to %zu validators)\n",
           sig_checked ? "state only  " : "signature on", (double)total / t_tx, t_end * 1000 / 3,
           nd, nv);
  }
  /* the end of a block with one fee, no txs: distribution, downtime, set */
  double t_tx = 0, t_end = 0;
  for (int b = 0; b < 20; b++) {
    size_t len;
    uint8_t *tx = delegate_tx((size_t)b % nd, 0, 1000, &len);
    block(st, &tx, &len, 1, 1, &t_tx, &t_end);
    free(tx);
  }
  printf("  end of block, 1 tx  %.2f ms (downtime + distribution to %zu + set of %zu)\n",
         t_end * 1000 / 20, nv, nv);
  /* a slash over many unbonding entries: every delegator of validator 1
   * undelegates, then validator 1 double-signs (evidence is the path; here
   * the cost is measured through a downtime-free end of block instead: a
   * block of undelegations) */
  uint8_t **txs = malloc(nd * sizeof *txs);
  size_t *lens = malloc(nd * sizeof *lens), n = 0;
  for (size_t d = 0; d < nd; d++)
    if ((d + 0) % nv == 1 || (d + 1) % nv == 1 || (d + 2) % nv == 1)
      txs[n] = undelegate_tx(d, 1, 500, &lens[n]), n++;
  t_tx = t_end = 0;
  block(st, txs, lens, n, 1, &t_tx, &t_end);
  printf("  undelegate (state)  %8.0f tx/s   (%zu entries on one validator)\n", (double)n / t_tx, n);
  for (size_t i = 0; i < n; i++) free(txs[i]);
  free(txs);
  free(lens);
  state_audit_report r;
  double ta = now();
  if (state_audit(st, &r, &eb)) {
    fprintf(stderr, "audit: %s\n", eb.msg);
    return 1;
  }
  printf("  state_audit         %.1f ms over %zu validators, %zu delegations\n",
         (now() - ta) * 1000, r.validators, r.delegations);
  state_close(st);
  kv_close(kv);
  genesis_free(&g);
  return 0;
}
