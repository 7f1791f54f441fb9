/* The compute market's test chain (test_market.c, test_exec_delegate.c):
 * the fixture chain with a real guest ELF (ELF, PROG: set by the test's
 * main), batches of signed txs, the market's messages, and the VM runs
 * whose claims members commit and reveal. One test at a time (globals). */
#ifndef TEST_MARKET_FIXTURE_H
#define TEST_MARKET_FIXTURE_H

#include "chain_fixture.h"
#include "core/bytes.h"
#include "proto/market.h"
#include "vm/vm.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

static fixture F;
static kv_store *KV;
static state *ST;
static uint64_t nonce_of[FX_USERS];
static uint8_t *ELF;
static size_t ELF_LEN;
static uint8_t PROG[32];

#define OUT_CAP 4096 /* the tests' tasks declare this output cap */

static uint8_t *load_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (built by the vm_guests target)", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

typedef struct {
  uint8_t *raw[300];
  size_t len[300];
  uint8_t hash[300][32];
  int n;
} batch;

/* Sign body for user `from` with the fee the cost model asks (VM KiB given),
 * or with body->fee as set when fixed_fee. */
static void add_fee(batch *b, int from, Cohort__TxBody *body, uint64_t vm_kib, int fixed_fee) {
  const Cohort__Params *p = state_params(ST);
  body->nonce = nonce_of[from]++;
  if (!fixed_fee) body->fee = 1;
  uint8_t aux[32] = {0};
  for (int round = 0;; round++) {
    assert_int_equal(tx_build(&b->raw[b->n], &b->len[b->n], body, FX_CHAIN, F.users[from].secret, aux), 0);
    uint64_t due = market_fee_due(market_gas_base(body, b->len[b->n], p) + market_gas_vm(vm_kib, p), p);
    if (fixed_fee || body->fee >= due) break;
    assert_true(round < 4);
    body->fee = due;
    free(b->raw[b->n]);
  }
  core_sha256(b->hash[b->n], b->raw[b->n], b->len[b->n]);
  b->n++;
}

static void add(batch *b, int from, Cohort__TxBody *body) { add_fee(b, from, body, 0, 0); }

/* Commit a block with the batch; returns the result code of tx i in codes
 * (-1000 if it was not includable). */
static void commit(batch *b, int *codes) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, ST, b->raw, b->len, (size_t)b->n, &bb, &bl, &cb, &cl), 0);
  for (int i = 0; i < b->n; i++) {
    Cohort__TxResult *r;
    if (state_get_tx_result(ST, b->hash[i], &r)) {
      if (!codes) fail_msg("tx %d was not included", i);
      codes[i] = -1000;
    } else {
      if (codes) codes[i] = r->code;
      else if (r->code) fail_msg("tx %d failed: %s", i, r->log);
      cohort__tx_result__free_unpacked(r, NULL);
    }
    free(b->raw[i]);
  }
  free(bb);
  free(cb);
  b->n = 0;
}

static void empty_blocks(int n) {
  batch b = {.n = 0};
  for (int i = 0; i < n; i++) commit(&b, NULL);
}

/* Sum of balances + escrow + bonded/unbonding executor stake + validator
 * power equals the recorded supply, for both tokens. */
typedef struct {
  unsigned __int128 crd, stk;
} sums;
static int sum_exec(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  sums *s = ctx;
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  assert_non_null(e);
  s->stk += e->stake + e->unbonding;
  assert_true(e->active_tasks <= e->capacity); /* never seated beyond capacity */
  cohort__executor__free_unpacked(e, NULL);
  return 0;
}
static void check_conservation(void) {
  sums s = {0, 0};
  assert_int_equal(kv_scan(KV, (const uint8_t *)"e/", 2, sum_exec, &s), 0); /* capacity */
  FX_AUDIT(ST); /* balances + escrow + pools + stakes + bonds + validator tokens = supply */
}

static Cohort__Task *task(const uint8_t id[32]) {
  Cohort__Task *t;
  assert_int_equal(state_get_task(ST, id, &t), 0);
  return t;
}

static uint32_t task_status(const uint8_t id[32]) {
  Cohort__Task *t = task(id);
  uint32_t s = t->status;
  cohort__task__free_unpacked(t, NULL);
  return s;
}

static Cohort__Executor *executor(int u) {
  Cohort__Executor *e;
  assert_int_equal(state_get_executor(ST, F.ids[u], &e), 0);
  return e;
}

static uint64_t crd_of(int u) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, F.ids[u], &c, &s, &n), 0);
  return c;
}

typedef struct {
  Cohort__Claim claim;
  uint8_t final[32], oh[32], salt[32];
  uint8_t *out, *proof;
  size_t out_len, plen;
} run_t;

static void run_vm_prog(const uint8_t *elf, size_t elf_len, const uint8_t *input, size_t in_len,
                        uint32_t mem_mib, uint64_t max_steps, uint32_t out_cap, run_t *r) {
  cohort_vm *vm;
  cohort_vm_config cfg = {.mem_cap = mem_mib << 20, .max_steps = max_steps, .out_cap = out_cap};
  core_errbuf eb;
  assert_int_equal(cohort_vm_new(&vm, elf, elf_len, input, in_len, &cfg, &eb), 0);
  uint64_t done;
  cohort_vm_run(vm, max_steps, &done);
  cohort_vm_info info;
  cohort_vm_get_info(vm, &info);
  assert_int_equal(cohort_vm_state_hash(vm, r->final), 0);
  const uint8_t *o = cohort_vm_output(vm, &r->out_len);
  r->out = malloc(r->out_len + 1);
  memcpy(r->out, o, r->out_len);
  r->out[r->out_len] = 0;
  assert_int_equal(cohort_vm_output_prove(vm, &r->proof, &r->plen), 0);
  cohort_vm_del(vm);
  core_sha256(r->oh, r->out, r->out_len);
  cohort__claim__init(&r->claim);
  r->claim.final_state = (ProtobufCBinaryData){32, r->final};
  r->claim.steps = info.step;
  r->claim.status = info.status;
  r->claim.code = info.code;
  r->claim.output_hash = (ProtobufCBinaryData){32, r->oh};
  memset(r->salt, 0x5a, 32);
}

static void run_vm(const char *input, uint32_t mem_mib, uint64_t max_steps, run_t *r) {
  run_vm_prog(ELF, ELF_LEN, (const uint8_t *)input, strlen(input), mem_mib, max_steps, OUT_CAP, r);
}

static void free_run(run_t *r) {
  free(r->out);
  free(r->proof);
}

static int user_of(const ProtobufCBinaryData *id) {
  for (int u = 0; u < FX_USERS; u++)
    if (!memcmp(F.ids[u], id->data, 20)) return u;
  fail_msg("member is not a test user");
  return -1;
}

/* The active members of a task, as user indexes; returns how many. */
static int members(const uint8_t id[32], int *out) {
  Cohort__Task *t = task(id);
  int n = 0;
  for (size_t i = 0; i < t->n_members; i++)
    if (!t->members[i]->replaced) out[n++] = user_of(&t->members[i]->executor);
  cohort__task__free_unpacked(t, NULL);
  return n;
}

static void add_commit(batch *b, int u, const uint8_t task_id[32], const run_t *r) {
  uint8_t c[32];
  market_commitment(c, task_id, F.ids[u], &r->claim, r->salt);
  Cohort__MsgCommitResult m = COHORT__MSG_COMMIT_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, (uint8_t *)task_id};
  m.commitment = (ProtobufCBinaryData){32, c};
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_COMMIT_RESULT;
  body.commit_result = &m;
  add(b, u, &body);
}

static void add_reveal(batch *b, int u, const uint8_t task_id[32], run_t *r) {
  Cohort__MsgRevealResult m = COHORT__MSG_REVEAL_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, (uint8_t *)task_id};
  m.claim = &r->claim;
  m.salt = (ProtobufCBinaryData){32, r->salt};
  m.output = (ProtobufCBinaryData){r->out_len, r->out};
  m.output_proof = (ProtobufCBinaryData){r->plen, r->proof};
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_REVEAL_RESULT;
  body.reveal_result = &m;
  add(b, u, &body);
}

typedef struct {
  uint64_t max_steps;
  uint32_t commit_blocks, max_output;
  const uint8_t *program; /* default PROG */
  size_t program_len;     /* for the fee */
} submit_opts;

static const submit_opts DEFAULT_OPTS = {1000000, 0, OUT_CAP, NULL, 0};

/* Queue a SubmitTask and return its ID (from the sender and nonce). */
static void add_submit_opts(batch *b, int u, const char *input, uint32_t k, uint64_t reward,
                            const submit_opts *o, uint8_t id[32]) {
  Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
  m.program = (ProtobufCBinaryData){32, (uint8_t *)(o->program ? o->program : PROG)};
  m.input = (ProtobufCBinaryData){strlen(input), (uint8_t *)input};
  m.max_steps = o->max_steps;
  m.mem_mib = 16;
  m.committee = k;
  m.reward = reward;
  m.commit_blocks = o->commit_blocks;
  m.max_output_bytes = o->max_output;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_SUBMIT_TASK;
  body.submit_task = &m;
  if (id) market_task_id(id, F.ids[u], nonce_of[u]);
  add_fee(b, u, &body, market_kib((o->program ? o->program_len : ELF_LEN) + strlen(input)), 0);
}

static void add_submit(batch *b, int u, const char *input, uint32_t k, uint64_t reward,
                       uint8_t id[32]) {
  add_submit_opts(b, u, input, k, reward, &DEFAULT_OPTS, id);
}

static void add_register_cap(batch *b, int u, uint64_t stake, uint64_t price, int accepting,
                             uint32_t capacity) {
  Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  m.add_stake = stake;
  m.price_per_msteps = price;
  m.accepting = accepting;
  m.capacity = capacity;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
  body.register_executor = &m;
  add(b, u, &body);
}

static void add_register(batch *b, int u, uint64_t stake, uint64_t price, int accepting) {
  add_register_cap(b, u, stake, price, accepting, 16);
}

static void add_upload_bytes(batch *b, int u, const uint8_t *data, size_t len, int is_program) {
  Cohort__MsgUploadBlob up = COHORT__MSG_UPLOAD_BLOB__INIT;
  up.data = (ProtobufCBinaryData){len, (uint8_t *)data};
  up.is_program = is_program;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  body.upload_blob = &up;
  add_fee(b, u, &body, is_program ? market_kib(len) : 0, 0);
}

static void add_upload(batch *b, int u) { add_upload_bytes(b, u, ELF, ELF_LEN, 1); }

static void add_unbond(batch *b, int u, uint64_t amount) {
  Cohort__MsgUnbond m = COHORT__MSG_UNBOND__INIT;
  m.role = 1;
  m.amount = amount;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_UNBOND;
  body.unbond = &m;
  add(b, u, &body);
}

static void setup_chain(void) {
  core_errbuf eb;
  assert_int_equal(kv_open_mem(&KV), 0);
  assert_int_equal(state_open(&ST, KV, &eb), 0);
  assert_int_equal(state_init_genesis(ST, &F.g, &eb), 0);
  memset(nonce_of, 0, sizeof nonce_of);
  F.recommit_at = 0;
  F.recommit_off = 0;
  F.no_reveal = 0;
}

static void teardown_chain(void) {
  state_close(ST);
  kv_close(KV);
}

/* Users 1, 2, 4, 5 registered as executors (equal stake, price 10^6/Msteps). */
static void setup_market(void) {
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register(&b, 1, 1000000, 1000000, 1);
  add_register(&b, 2, 1000000, 1000000, 1);
  add_register(&b, 4, 1000000, 1000000, 1);
  add_register(&b, 5, 1000000, 1000000, 1);
  commit(&b, NULL);
}

/* Commit + reveal r for every active member of tid (two blocks). */
static void serve_all(const uint8_t tid[32], run_t *r) {
  batch b = {.n = 0};
  int m[16], n = members(tid, m);
  for (int i = 0; i < n; i++) add_commit(&b, m[i], tid, r);
  commit(&b, NULL);
  for (int i = 0; i < n; i++) add_reveal(&b, m[i], tid, r);
  commit(&b, NULL);
}

#pragma GCC diagnostic pop

#endif
