/* Review: the mempool's dry run builds VMs before the cheap checks.
 *
 * mempool_add verifies the signature, then runs the message against the
 * committed state (state_check_msg), which for a SubmitJob builds one VM
 * per chunk (up to 256, each loading the program and input and hashing
 * its initial state) — and only then checks the nonce, the fee against the
 * full gas, and the sender's pending funds. A tx refused at the door pays
 * nothing and is not remembered, so the same bytes can be sent again and
 * again: each costs the node up to 256 VM builds on the thread that runs
 * consensus (node_broadcast), for free. With a 1 MiB program (the largest
 * blob) that is seconds per request. Everything the VM gas depends on (the
 * program blob's size, the inputs' sizes) is known without building a VM,
 * so the nonce, fee and funds can be checked first.
 *
 * VM builds are counted by wrapping cohort_vm_new at link time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "../state/chain_fixture.h"
#include "node/mempool.h"
#include "proto/market.h"
#include "vm/vm.h"

static long n_vm_new;
int __real_cohort_vm_new(cohort_vm **out, const uint8_t *elf, size_t len, const uint8_t *input,
                         size_t input_len, const cohort_vm_config *cfg, core_errbuf *eb);
int __wrap_cohort_vm_new(cohort_vm **out, const uint8_t *elf, size_t len, const uint8_t *input,
                         size_t input_len, const cohort_vm_config *cfg, core_errbuf *eb) {
  n_vm_new++;
  return __real_cohort_vm_new(out, elf, len, input, input_len, cfg, eb);
}

static fixture F;
static uint8_t *ELF;
static size_t ELF_LEN;
static uint8_t PROG[32];

static uint8_t *load_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

/* Sign body from user u with nonce n and the fee the cost model asks for
 * (vm_kib included, or base gas only when base_only). */
static uint8_t *sign(state *st, int u, Cohort__TxBody *body, uint64_t n, uint64_t vm_kib,
                     int base_only, size_t *len) {
  const Cohort__Params *p = state_params(st);
  uint8_t aux[32] = {0}, *raw;
  body->nonce = n;
  body->fee = 1;
  for (int round = 0;; round++) {
    assert_int_equal(tx_build(&raw, len, body, FX_CHAIN, F.users[u].secret, aux), 0);
    uint64_t g = market_gas_base(body, *len, p) + (base_only ? 0 : market_gas_vm(vm_kib, p));
    uint64_t due = market_fee_due(g, p);
    if (body->fee >= due) return raw;
    assert_true(round < 4);
    body->fee = due;
    free(raw);
  }
}

static void block(state *st, uint8_t **txs, size_t *lens, size_t n) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, st, txs, lens, n, &bb, &bl, &cb, &cl), 0);
  free(bb);
  free(cb);
  for (size_t i = 0; i < n; i++) free(txs[i]);
}

static int door(mempool *mp, state *st, uint8_t *raw, size_t len, long *builds, double *ms) {
  tx_t tx;
  core_errbuf eb;
  assert_int_equal(tx_decode(&tx, raw, len, 4u << 20, &eb), 0);
  struct timespec t0, t1;
  n_vm_new = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = mempool_add(mp, st, &tx, &eb);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *builds = n_vm_new;
  *ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  if (rc) tx_free(&tx);
  return rc;
}

static void test_review_refused_job_builds_no_vm(void **s) {
  (void)s;
  kv_store *kv;
  state *st;
  core_errbuf eb;
  assert_int_equal(kv_open_mem(&kv), 0);
  assert_int_equal(state_open(&st, kv, &eb), 0);
  assert_int_equal(state_init_genesis(st, &F.g, &eb), 0);
  /* the program and two executors */
  uint8_t *txs[3];
  size_t lens[3];
  Cohort__MsgUploadBlob up = COHORT__MSG_UPLOAD_BLOB__INIT;
  up.data = (ProtobufCBinaryData){ELF_LEN, ELF};
  up.is_program = 1;
  Cohort__TxBody ub = COHORT__TX_BODY__INIT;
  ub.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  ub.upload_blob = &up;
  txs[0] = sign(st, 0, &ub, 0, market_kib(ELF_LEN), 0, &lens[0]);
  for (int i = 0; i < 2; i++) {
    Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
    m.add_stake = 1000000;
    m.price_per_msteps = 1;
    m.accepting = 1;
    m.capacity = 64;
    Cohort__TxBody rb = COHORT__TX_BODY__INIT;
    rb.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
    rb.register_executor = &m;
    txs[1 + i] = sign(st, 1 + i, &rb, 0, 0, 0, &lens[1 + i]);
  }
  block(st, txs, lens, 3);
  /* a job of 256 chunks from user 6 */
  static char bufs[256][8];
  ProtobufCBinaryData in[256];
  uint64_t kib = 0;
  for (int i = 0; i < 256; i++) {
    snprintf(bufs[i], sizeof bufs[i], "c%d", i);
    in[i] = (ProtobufCBinaryData){strlen(bufs[i]), (uint8_t *)bufs[i]};
    kib += market_kib(ELF_LEN + strlen(bufs[i]));
  }
  Cohort__MsgSubmitJob j = COHORT__MSG_SUBMIT_JOB__INIT;
  j.program = (ProtobufCBinaryData){32, PROG};
  j.n_inputs = 256;
  j.inputs = in;
  j.max_steps = 1000000;
  j.mem_mib = 16;
  j.committee = 1;
  j.reward_per_chunk = 1000;
  j.max_output_bytes = 64;
  Cohort__TxBody jb = COHORT__TX_BODY__INIT;
  jb.msg_case = COHORT__TX_BODY__MSG_SUBMIT_JOB;
  jb.submit_job = &j;
  mempool *mp = mempool_new(1000, 64 << 20, 0);
  long builds;
  double ms;
  size_t len;
  /* (a) a nonce far ahead: never includable */
  uint8_t *raw = sign(st, 6, &jb, 1000, kib, 0, &len);
  for (int rep = 0; rep < 3; rep++) { /* the same bytes, again and again */
    assert_int_equal(door(mp, st, raw, len, &builds, &ms), COHORT_ERR_NONCE_FUTURE);
    printf("  job with a future nonce, try %d: refused after %ld VM builds (%.1f ms)\n", rep + 1,
           builds, ms);
  }
  free(raw);
  long future_builds = builds;
  /* (b) a fee that covers the bytes but not the VM loads */
  raw = sign(st, 6, &jb, 0, kib, 1, &len);
  assert_int_equal(door(mp, st, raw, len, &builds, &ms), COHORT_ERR_FEE);
  printf("  job paying base gas only: refused after %ld VM builds (%.1f ms)\n", builds, ms);
  free(raw);
  long fee_builds = builds;
  /* (c) honest: accepted (the dry run may build its VMs: it will be paid) */
  raw = sign(st, 6, &jb, 0, kib, 0, &len);
  assert_int_equal(door(mp, st, raw, len, &builds, &ms), 0);
  free(raw);
  assert_int_equal(future_builds, 0);
  assert_int_equal(fee_builds, 0);
  mempool_del(mp);
  state_close(st);
  kv_close(kv);
}

int main(void) {
  if (core_init()) return 1;
  fx_init_params(&F, 5, "");
  ELF = load_file(GUEST_DIR "/sha256.elf", &ELF_LEN);
  core_sha256(PROG, ELF, ELF_LEN);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_review_refused_job_builds_no_vm)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(ELF);
  genesis_free(&F.g);
  return rc;
}
