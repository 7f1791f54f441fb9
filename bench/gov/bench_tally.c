/* bench_tally: the cost of a governance tally (state/gov/gov_tally.c,
 * docs/staking.md §5) — what every validator runs at the end of a voting
 * period. A set of V validators ("vl/" records), N voters each delegating
 * to D validators of the set ("dl/"), one vote each ("gv/"); the tally
 * reads them all from the committed store (LevelDB in a temporary
 * directory, then the in-memory store), as state_gov_tally does, and the
 * times are printed: total, per vote, per delegation read. Never fails on
 * time. usage: bench_tally [--quick] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/hash.h"
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
  out[5] = (uint8_t)(i * 2654435761u >> 24); /* spread keys a little */
}

static int put(kv_batch *b, const uint8_t *k, size_t kl, const ProtobufCMessage *m) {
  uint8_t buf[256];
  size_t n = protobuf_c_message_pack(m, buf);
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

/* Fill kv; build the set. The first nval voters are the validators'
 * operators (a self-delegation each); every voter delegates to ndel
 * validators; "vl/" tokens = shares = what is delegated to each. */
static int fill(kv_store *kv, uint32_t nval, uint32_t nvoters, uint32_t ndel,
                Cohort__ValidatorSet *set, Cohort__Validator *vv, Cohort__Validator **vp,
                uint8_t (*ops)[20]) {
  kv_batch *b = kv_batch_new();
  uint64_t *tok = calloc(nval, sizeof *tok);
  if (!b || !tok) return 1;
  for (uint32_t v = 0; v < nval; v++) id_of(ops[v], 1, v);
  for (uint32_t i = 0; i < nvoters; i++) {
    uint8_t who[20];
    if (i < nval) memcpy(who, ops[i], 20);
    else id_of(who, 2, i);
    for (uint32_t d = 0; d < ndel; d++) {
      uint32_t v = (i + d) % nval;
      uint8_t k[43] = "dl/";
      memcpy(k + 3, who, 20);
      memcpy(k + 23, ops[v], 20);
      Cohort__Delegation dg = COHORT__DELEGATION__INIT;
      dg.shares = 1000000 + 1000 * d;
      tok[v] += dg.shares;
      if (put(b, k, sizeof k, &dg.base)) return 1;
    }
    uint8_t k[31] = "gv/";
    core_put_u64be(k + 3, 1);
    memcpy(k + 11, who, 20);
    Cohort__GovVote gv = COHORT__GOV_VOTE__INIT;
    gv.option = i % 3 ? GOV_YES : 1 + i % 4;
    gv.height = 5;
    if (put(b, k, sizeof k, &gv.base)) return 1;
    if (kv_batch_count(b) > 50000 && flush(kv, &b)) return 1;
  }
  for (uint32_t v = 0; v < nval; v++) {
    Cohort__ValidatorInfo vi = COHORT__VALIDATOR_INFO__INIT;
    vi.operator_ = (ProtobufCBinaryData){20, ops[v]};
    vi.tokens = vi.shares = tok[v] + 1;
    uint8_t k[23] = "vl/";
    memcpy(k + 3, ops[v], 20);
    if (put(b, k, sizeof k, &vi.base)) return 1;
    cohort__validator__init(&vv[v]);
    vv[v].operator_ = (ProtobufCBinaryData){20, ops[v]};
    vv[v].power = vi.tokens;
    vp[v] = &vv[v];
  }
  set->n_validators = nval;
  set->validators = vp;
  free(tok);
  int rc = flush(kv, &b);
  kv_batch_del(b);
  return rc;
}

static int run(const char *what, int leveldb, uint32_t nval, uint32_t nvoters, uint32_t ndel) {
  char dir[] = "/tmp/bench_tally_XXXXXX";
  kv_store *kv;
  core_errbuf eb;
  if (leveldb) {
    if (!mkdtemp(dir) || kv_open_leveldb(&kv, dir, &eb)) return 1;
  } else if (kv_open_mem(&kv)) {
    return 1;
  }
  Cohort__ValidatorSet set = COHORT__VALIDATOR_SET__INIT;
  Cohort__Validator *vv = calloc(nval, sizeof *vv);
  Cohort__Validator **vp = calloc(nval, sizeof *vp);
  uint8_t(*ops)[20] = calloc(nval, 20);
  state *st;
  int rc = !vv || !vp || !ops || fill(kv, nval, nvoters, ndel, &set, vv, vp, ops) ||
           state_open(&st, kv, &eb);
  if (!rc) {
    Cohort__Params p = COHORT__PARAMS__INIT;
    p.gov_quorum_bps = 3340;
    p.gov_threshold_bps = 5000;
    p.gov_veto_bps = 3340;
    state_tally t;
    uint32_t out;
    double best = 1e9;
    for (int rep = 0; rep < 3 && !rc; rep++) {
      double t0 = now();
      rc = state_gov_tally(st, 1, &set, &p, &t, &out);
      double dt = now() - t0;
      if (dt < best) best = dt;
    }
    if (!rc)
      printf("  %-8s %3u validators, %6u votes x %3u delegations: %9.1f ms  (%6.2f us/vote, "
             "%5.2f us/delegation)  outcome %s\n",
             what, nval, nvoters, ndel, best * 1e3, best * 1e6 / nvoters,
             best * 1e6 / ((double)nvoters * ndel), gov_status_name(out));
    state_close(st);
  }
  kv_close(kv);
  free(vv);
  free(vp);
  free(ops);
  if (leveldb) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
  }
  return rc;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");
  if (core_init()) return 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("governance tally (best of 3; max_delegations default 16, max_validators 100):\n");
  static const uint32_t cases[][3] = {
      {100, 1000, 1}, {100, 1000, 16}, {100, 10000, 1}, {100, 10000, 16}, {100, 1000, 256},
      {100, 100000, 1}, {1000, 10000, 16},
  };
  size_t nc = sizeof cases / sizeof cases[0];
  if (quick) nc = 2;
  for (size_t i = 0; i < nc; i++) {
    for (int ldb = 1; ldb >= 0; ldb--)
      if (run(ldb ? "leveldb" : "memory", ldb, cases[i][0], cases[i][1], cases[i][2])) {
        fprintf(stderr, "bench_tally: a case failed\n");
        return 1;
      }
  }
  return 0;
}
