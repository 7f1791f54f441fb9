/* Review: work validators do for the committee draw that nobody pays for.
 *
 * Every draw (and the door check of every submission, and every retry of a
 * task waiting for capacity) decodes every executor record ever written:
 * records are never removed, not even with no stake, nothing unbonding and
 * no seat, while gas_task pays one draw at a fixed price. So
 *   - anyone can make every future draw dearer, permanently, for two tx
 *     fees per record (register with min_executor_stake, unbond it all,
 *     re-use the same STK for the next account once released), and
 *   - a task waiting for capacity rescans them all (twice: draw + survey)
 *     at each of its retries, about 15 over the default draw_wait_blocks of
 *     600, although nothing about the executors changed; 1024 such tasks
 *     can be created per block, so the retries due in one block are not
 *     bounded by any block cap.
 * The decodes are counted by wrapping cohort__executor__unpack at link
 * time (the market calls it from the state library).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "chain_fixture.h"
#include "core/keys.h"
#include "proto/market.h"

static long n_exec_decodes;
Cohort__Executor *__real_cohort__executor__unpack(ProtobufCAllocator *a, size_t len,
                                                  const uint8_t *data);
Cohort__Executor *__wrap_cohort__executor__unpack(ProtobufCAllocator *a, size_t len,
                                                  const uint8_t *data) {
  n_exec_decodes++;
  return __real_cohort__executor__unpack(a, len, data);
}

static fixture F;
static kv_store *KV;
static state *ST;
static uint8_t *ELF;
static size_t ELF_LEN;
static uint8_t PROG[32];

#define EXTRA 200 /* accounts beyond the fixture's users */
static uint8_t sec[FX_USERS + EXTRA][32], ids[FX_USERS + EXTRA][20];
static uint64_t nonce_of[FX_USERS + EXTRA];

typedef struct {
  uint8_t *raw[400];
  size_t len[400];
  int n;
} batch;

static void add(batch *b, int from, Cohort__TxBody *body, uint64_t vm_kib) {
  const Cohort__Params *p = state_params(ST);
  body->nonce = nonce_of[from]++;
  body->fee = 1;
  uint8_t aux[32] = {0};
  for (int round = 0;; round++) {
    assert_int_equal(tx_build(&b->raw[b->n], &b->len[b->n], body, FX_CHAIN, sec[from], aux), 0);
    uint64_t due = market_fee_due(market_gas_base(body, b->len[b->n], p) + market_gas_vm(vm_kib, p), p);
    if (body->fee >= due) break;
    assert_true(round < 4);
    body->fee = due;
    free(b->raw[b->n]);
  }
  b->n++;
}

static void commit(batch *b) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, ST, b->raw, b->len, (size_t)b->n, &bb, &bl, &cb, &cl), 0);
  for (int i = 0; i < b->n; i++) {
    uint8_t h[32];
    Cohort__TxResult *r;
    core_sha256(h, b->raw[i], b->len[i]);
    assert_int_equal(state_get_tx_result(ST, h, &r), 0);
    if (r->code) fail_msg("tx %d failed: %s", i, r->log);
    cohort__tx_result__free_unpacked(r, NULL);
    free(b->raw[i]);
  }
  free(bb);
  free(cb);
  b->n = 0;
}

/* One block; returns the executor records decoded while making it. */
static long block_decodes(batch *b) {
  n_exec_decodes = 0;
  commit(b);
  return n_exec_decodes;
}

static void add_transfer(batch *b, int from, int to, int token, uint64_t amount) {
  Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
  t.to = (ProtobufCBinaryData){20, ids[to]};
  t.token = (Cohort__Token)token;
  t.amount = amount;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  body.transfer = &t;
  add(b, from, &body, 0);
}

static void add_register(batch *b, int u, uint64_t stake, uint32_t capacity) {
  Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  m.add_stake = stake;
  m.price_per_msteps = 1;
  m.accepting = 1;
  m.capacity = capacity;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
  body.register_executor = &m;
  add(b, u, &body, 0);
}

static void add_unbond(batch *b, int u, uint64_t amount) {
  Cohort__MsgUnbond m = COHORT__MSG_UNBOND__INIT;
  m.role = 1;
  m.amount = amount;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_UNBOND;
  body.unbond = &m;
  add(b, u, &body, 0);
}

static void add_submit(batch *b, int u, const char *input, uint8_t id[32]) {
  Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
  m.program = (ProtobufCBinaryData){32, PROG};
  m.input = (ProtobufCBinaryData){strlen(input), (uint8_t *)input};
  m.max_steps = 1000000;
  m.mem_mib = 16;
  m.committee = 1;
  m.reward = 3000000;
  m.max_output_bytes = 4096;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_SUBMIT_TASK;
  body.submit_task = &m;
  if (id) market_task_id(id, ids[u], nonce_of[u]);
  add(b, u, &body, market_kib(ELF_LEN + strlen(input)));
}

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

/* A chain with the program, `live` live executors (users 1, 2, 4, 5 in
 * that order, capacity cap) and EXTRA dead executor records. */
static void setup(int live, uint32_t cap) {
  core_errbuf eb;
  assert_int_equal(kv_open_mem(&KV), 0);
  assert_int_equal(state_open(&ST, KV, &eb), 0);
  assert_int_equal(state_init_genesis(ST, &F.g, &eb), 0);
  memset(nonce_of, 0, sizeof nonce_of);
  batch b = {.n = 0};
  Cohort__MsgUploadBlob up = COHORT__MSG_UPLOAD_BLOB__INIT;
  up.data = (ProtobufCBinaryData){ELF_LEN, ELF};
  up.is_program = 1;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  body.upload_blob = &up;
  add(&b, 0, &body, market_kib(ELF_LEN));
  int users[4] = {1, 2, 4, 5};
  for (int i = 0; i < live; i++) add_register(&b, users[i], 1000000, cap);
  commit(&b);
  /* the dead: funded, registered with the minimum, unbonded to zero */
  for (int i = FX_USERS; i < FX_USERS + EXTRA; i++) {
    add_transfer(&b, 0, i, 1, 1000000);
    add_transfer(&b, 6, i, 2, 1000);
  }
  commit(&b);
  for (int i = FX_USERS; i < FX_USERS + EXTRA; i++) add_register(&b, i, 1000, 1);
  commit(&b);
  for (int i = FX_USERS; i < FX_USERS + EXTRA; i++) add_unbond(&b, i, 1000);
  commit(&b);
  for (int i = 0; i < 6; i++) commit(&b); /* unbonding_blocks = 5: released */
  for (int i = FX_USERS; i < FX_USERS + EXTRA; i++) {
    Cohort__Executor *e;
    assert_int_equal(state_get_executor(ST, ids[i], &e), 0);
    assert_int_equal(e->stake + e->unbonding + e->active_tasks, 0);
    cohort__executor__free_unpacked(e, NULL);
  }
}

static void teardown(void) {
  state_close(ST);
  kv_close(KV);
}

/* A draw costs in proportion to the executors that could be drawn, not
 * to every record ever registered. */
static void test_review_dead_executor_records_do_not_make_draws_dearer(void **s) {
  (void)s;
  setup(4, 16);
  batch b = {.n = 0};
  uint8_t tid[32];
  add_submit(&b, 0, "one task", tid);
  long at_submit = block_decodes(&b);
  long at_draw = block_decodes(&b);
  Cohort__Task *t;
  assert_int_equal(state_get_task(ST, tid, &t), 0);
  assert_int_equal(t->status, 1);
  cohort__task__free_unpacked(t, NULL);
  printf("  4 live executors, %d dead records: the submission decoded %ld executor records, "
         "the draw %ld\n", EXTRA, at_submit, at_draw);
  assert_true(at_submit + at_draw <= 4 * 4 * 2); /* a few passes over the live ones */
  teardown();
}

/* Tasks waiting for capacity retry (1, 2, 4 .. blocks later) and each retry
 * scans every executor record twice, although nothing about any executor
 * changed. Here 20 tasks wait for one busy executor of capacity 1. */
static void test_review_waiting_tasks_do_not_rescan_while_nothing_changes(void **s) {
  (void)s;
  setup(1, 1);
  batch b = {.n = 0};
  char in[20][16];
  for (int i = 0; i < 20; i++) {
    snprintf(in[i], sizeof in[i], "wait %d", i);
    add_submit(&b, i % 2 ? 0 : 6, in[i], NULL);
  }
  commit(&b); /* all pass the door: the seat is free now */
  commit(&b); /* the draw: one gets the seat, 19 wait */
  long waiting = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int blk = 0; blk < 3; blk++) waiting += block_decodes(&b); /* nothing changes */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("  19 tasks waiting for 1 busy executor (+%d dead records): %ld executor records "
         "decoded in 3 blocks in which nothing changed (%.1f ms)\n", EXTRA, waiting,
         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  assert_true(waiting <= 20);
  teardown();
}

int main(void) {
  if (core_init()) return 1;
  fx_init_params(&F, 11, "");
  for (int i = 0; i < FX_USERS; i++) {
    memcpy(sec[i], F.users[i].secret, 32);
    memcpy(ids[i], F.ids[i], 20);
  }
  for (int i = FX_USERS; i < FX_USERS + EXTRA; i++) {
    uint8_t pub[32];
    memset(sec[i], 0x42, 32);
    sec[i][30] = (uint8_t)(i >> 8);
    sec[i][31] = (uint8_t)i;
    assert_int_equal(core_schnorr_pubkey(pub, sec[i]), 0);
    core_account_id(ids[i], pub);
  }
  ELF = load_file(GUEST_DIR "/sha256.elf", &ELF_LEN);
  core_sha256(PROG, ELF, ELF_LEN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_review_dead_executor_records_do_not_make_draws_dearer),
      cmocka_unit_test(test_review_waiting_tasks_do_not_rescan_while_nothing_changes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(ELF);
  genesis_free(&F.g);
  return rc;
}
