/* bench_gov_block: the worst end of a block governance may have under its
 * caps (docs/staking.md §5 "The end of a block is bounded"):
 * gov_max_ends_per_block proposals whose voting periods end in the block,
 * each with gov_max_depositors deposits to refund (the operator votes yes:
 * each passes) and V more votes to tally (one delegation each; the same
 * voters on every proposal). The records are
 * written straight into a store (LevelDB in a temporary directory) after a
 * one-validator genesis, as the messages would have left them; then block 1
 * is executed with nothing in it and state_exec_begin .. state_exec_finish
 * (the whole end of the block: tallies, refunds, vote deletes, app_hash)
 * is timed (not the LevelDB write of the block's batch that follows it).
 * Prints figures; never fails on time.
 * usage: bench_gov_block [--quick | ENDS DEPOSITORS VOTERS] (one case of
 * your own, e.g. beyond the caps, to see what they prevent) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis/params.h"
#include "proto/gov.h"
#include "state/state.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void id_of(uint8_t out[20], uint32_t kind, uint32_t i) {
  memset(out, 0, 20);
  out[0] = (uint8_t)kind;
  core_put_u32be(out + 16, i);
  out[5] = (uint8_t)(i * 2654435761u >> 24);
}

static int put(kv_batch *b, const uint8_t *k, size_t kl, const ProtobufCMessage *m) {
  uint8_t buf[512];
  size_t n = protobuf_c_message_get_packed_size(m);
  if (n > sizeof buf) return 1;
  protobuf_c_message_pack(m, buf);
  return kv_batch_put(b, k, kl, buf, n);
}

static int flush(kv_store *kv, kv_batch **b) {
  core_errbuf eb;
  if (kv_batch_count(*b) == 0) return 0;
  int rc = kv_write(kv, *b, 0, &eb);
  kv_batch_del(*b);
  *b = kv_batch_new();
  return rc || !*b;
}

static void count_changed(void *ctx, uint64_t id) {
  (void)id;
  (*(uint32_t *)ctx)++;
}

#define DEPOSIT 1000000ull /* per depositor */
#define SHARES 1000000ull  /* per voter */

static int run(uint32_t ends, uint32_t depositors, uint32_t voters) {
  char dir[] = "/tmp/bench_gov_block_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  kv_store *kv;
  core_errbuf eb;
  if (kv_open_leveldb(&kv, dir, &eb)) return 1;
  uint8_t seed[32], pub[32], sec[64], op[20];
  memset(seed, 7, 32);
  core_ed25519_from_seed(sec, pub, seed);
  id_of(op, 9, 0);
  char pk[65], opa[CORE_ADDR_STR_MAX], text[2048];
  core_hex_encode(pk, pub, 32);
  core_addr_encode(opa, op);
  snprintf(text, sizeof text,
           "{\"chain_id\":\"bench-gov-1\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
           "\"params\":{\"gov_max_ends_per_block\":%u,\"gov_max_depositors\":%u},"
           "\"accounts\":[{\"address\":\"%s\",\"stk\":\"1000\"}],"
           "\"validators\":[{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"1000000\"}]}",
           ends, depositors, opa, pk, opa);
  genesis g;
  state *st;
  if (genesis_parse(&g, text, strlen(text), &eb) || state_open(&st, kv, &eb) ||
      state_init_genesis(st, &g, &eb)) {
    fprintf(stderr, "bench_gov_block: genesis: %s\n", eb.msg);
    return 1;
  }
  genesis_free(&g);
  /* the validator's record grows by the voters' delegations */
  uint8_t vk[23] = "vl/", *v;
  size_t vl;
  memcpy(vk + 3, op, 20);
  if (kv_get(kv, vk, sizeof vk, &v, &vl)) return 1;
  Cohort__ValidatorInfo *vi = cohort__validator_info__unpack(NULL, vl, v);
  free(v);
  if (!vi) return 1;
  kv_batch *b = kv_batch_new();
  uint8_t pk_old[31] = "vp/";
  core_put_u64be(pk_old + 3, UINT64_MAX - vi->tokens);
  memcpy(pk_old + 11, op, 20);
  kv_batch_delete(b, pk_old, sizeof pk_old);
  vi->tokens += (uint64_t)voters * SHARES;
  vi->shares += (uint64_t)voters * SHARES;
  core_put_u64be(pk_old + 3, UINT64_MAX - vi->tokens);
  kv_batch_put(b, pk_old, sizeof pk_old, (const uint8_t *)"", 0);
  uint8_t vbuf[1024];
  size_t vn = cohort__validator_info__get_packed_size(vi);
  if (vn > sizeof vbuf) return 1;
  cohort__validator_info__pack(vi, vbuf);
  kv_batch_put(b, vk, sizeof vk, vbuf, vn);
  cohort__validator_info__free_unpacked(vi, NULL);
  int rc = 0;
  for (uint32_t i = 0; i < voters && !rc; i++) {
    uint8_t who[20], k[43] = "dl/";
    id_of(who, 2, i);
    memcpy(k + 3, who, 20);
    memcpy(k + 23, op, 20);
    Cohort__Delegation d = COHORT__DELEGATION__INIT;
    d.shares = SHARES;
    uint8_t rs[16] = {0};
    d.reward_start = (ProtobufCBinaryData){16, rs};
    rc = put(b, k, sizeof k, &d.base);
    memcpy(k, "dv/", 3);
    memcpy(k + 3, op, 20);
    memcpy(k + 23, who, 20);
    if (!rc) rc = kv_batch_put(b, k, sizeof k, (const uint8_t *)"", 0);
    for (uint32_t p = 1; p <= ends && !rc; p++) {
      uint8_t gk[31] = "gv/";
      core_put_u64be(gk + 3, p);
      memcpy(gk + 11, who, 20);
      Cohort__GovVote gv = COHORT__GOV_VOTE__INIT;
      gv.option = GOV_YES;
      rc = put(b, gk, sizeof gk, &gv.base);
    }
    if (!rc && kv_batch_count(b) > 50000) rc = flush(kv, &b);
  }
  for (uint32_t p = 1; p <= ends && !rc; p++) {
    Cohort__GovProposal gp = COHORT__GOV_PROPOSAL__INIT;
    gp.id = p;
    gp.kind = GOV_KIND_TEXT;
    gp.title = "bench";
    gp.proposer = (ProtobufCBinaryData){20, op};
    gp.status = GOV_ST_VOTING;
    gp.voting_end = 1;
    gp.total_deposit = (uint64_t)depositors * DEPOSIT;
    gp.depositors = depositors;
    uint8_t k[11] = "gp/";
    core_put_u64be(k + 3, p);
    rc = put(b, k, sizeof k, &gp.base);
    /* the operator votes yes: the proposal passes and its deposits are
     * refunded (the costlier settlement) even with no other voter */
    uint8_t ok[31] = "gv/";
    core_put_u64be(ok + 3, p);
    memcpy(ok + 11, op, 20);
    Cohort__GovVote ov = COHORT__GOV_VOTE__INIT;
    ov.option = GOV_YES;
    if (!rc) rc = put(b, ok, sizeof ok, &ov.base);
    uint8_t q[20] = "gq/";
    q[3] = 2;
    core_put_u64be(q + 4, 1);
    core_put_u64be(q + 12, p);
    if (!rc) rc = kv_batch_put(b, q, sizeof q, (const uint8_t *)"", 0);
    for (uint32_t d = 0; d < depositors && !rc; d++) {
      uint8_t dk[31] = "gd/", who[20];
      id_of(who, 3, d);
      core_put_u64be(dk + 3, p);
      memcpy(dk + 11, who, 20);
      Cohort__Account a = COHORT__ACCOUNT__INIT;
      a.stk = DEPOSIT;
      rc = put(b, dk, sizeof dk, &a.base);
    }
  }
  /* s/gov holds the deposits; the supply counts them */
  uint64_t sc, ss;
  if (!rc) rc = state_get_supply(st, &sc, &ss);
  if (!rc) {
    Cohort__Account pool = COHORT__ACCOUNT__INIT, sup = COHORT__ACCOUNT__INIT;
    pool.stk = (uint64_t)ends * depositors * DEPOSIT;
    sup.crd = sc;
    sup.stk = ss + pool.stk + (uint64_t)voters * SHARES;
    rc = put(b, (const uint8_t *)"s/gov", 5, &pool.base) ||
         put(b, (const uint8_t *)"s/supply", 8, &sup.base);
  }
  if (!rc) rc = flush(kv, &b);
  kv_batch_del(b);
  state_exec *x = NULL;
  double t0 = now(), dt = 0;
  uint8_t app[32];
  if (!rc) rc = state_exec_begin(st, 1, 1767225601000ull, pub, &x, &eb);
  if (!rc) rc = state_exec_finish(x, app);
  dt = now() - t0;
  if (!rc) {
    uint32_t changed = 0;
    state_exec_changed_proposals(x, count_changed, &changed);
    printf("  %3u proposals ending, %4u deposits each, %6u votes each (%7u in all): end of "
           "block %8.1f ms  (%u proposals settled, %.2f us per vote)\n",
           ends, depositors, voters, ends * voters, dt * 1e3, changed,
           voters ? dt * 1e6 / ((double)ends * voters) : 0.0);
  }
  if (rc) fprintf(stderr, "bench_gov_block: error %d (%s)\n", rc, core_err_name(rc));
  state_exec_free(x);
  state_close(st);
  kv_close(kv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) rc = 1;
  return rc;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");
  if (core_init()) return 1;
  if (argc == 4) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    return run((uint32_t)strtoul(argv[1], NULL, 10), (uint32_t)strtoul(argv[2], NULL, 10),
               (uint32_t)strtoul(argv[3], NULL, 10));
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  genesis_params d;
  genesis_params_default(&d);
  printf("governance end of block (LevelDB, one run each; defaults gov_max_ends_per_block %u, "
         "gov_max_depositors %u):\n", d.gov_max_ends_per_block, d.gov_max_depositors);
  static const uint32_t cases[][3] = {
      {16, 100, 0}, {16, 100, 1000}, {16, 100, 10000}, {1, 100, 100000}, {16, 100, 100000},
  };
  size_t nc = quick ? 2 : sizeof cases / sizeof cases[0];
  for (size_t i = 0; i < nc; i++)
    if (run(cases[i][0], cases[i][1], cases[i][2])) return 1;
  return 0;
}
