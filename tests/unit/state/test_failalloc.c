/* Allocation-failure injection on the state transition (issue 7 item 10).
 *
 * A node that runs out of memory must not compute a different state from
 * the others: a resource error aborts the block on that node (an error in
 * the fatal band), it never becomes a failed message, a skipped tx or a
 * "bad block". This test executes the same market-heavy blocks (uploads, a
 * task, a job, draws, commits, reveals with output proofs) once for
 * reference, then again with the i-th allocation of our code failing, for
 * every i: each run must either end with the very same app_hash and tx
 * results, or fail with a fatal-band code. The same for a block received
 * from elsewhere (state_apply_block): fatal or identical, never BAD_BLOCK.
 *
 * malloc/calloc/realloc are wrapped at link time (-Wl,--wrap), which covers
 * every call from Cohort's own static libraries (state, vm, proto, core);
 * allocations inside shared libraries (protobuf-c, LevelDB) are not failed
 * here — a NULL from protobuf-c's unpack already maps to COHORT_ERR_CORRUPT,
 * itself in the fatal band. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain_fixture.h"
#include "proto/market.h"
#include "vm/vm.h"

static long fail_at = -1, n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
/* fail_at < 0: off; 0: count only; i > 0: the i-th allocation fails. */
static int should_fail(void) {
  if (fail_at < 0) return 0;
  if (++n_allocs != fail_at) return 0;
  if (getenv("FAILALLOC_TRAP")) __builtin_trap(); /* to find the caller under gdb */
  return 1;
}
void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { return should_fail() ? NULL : __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

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

typedef struct {
  uint8_t *raw[16];
  size_t len[16];
  int n;
} batch;

static uint64_t nonces[FX_USERS];

static void add(batch *b, int from, Cohort__TxBody *body) {
  body->nonce = nonces[from]++;
  body->fee = 1000000;
  uint8_t aux[32] = {0};
  assert_int_equal(tx_build(&b->raw[b->n], &b->len[b->n], body, FX_CHAIN, F.users[from].secret, aux), 0);
  b->n++;
}

static void commit(state *st, batch *b) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, st, b->raw, b->len, (size_t)b->n, &bb, &bl, &cb, &cl), 0);
  free(bb);
  free(cb);
  for (int i = 0; i < b->n; i++) free(b->raw[i]);
  b->n = 0;
}

static void add_register(batch *b, int u) {
  Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  m.add_stake = 1000000;
  m.price_per_msteps = 1;
  m.accepting = 1;
  m.capacity = 8;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
  body.register_executor = &m;
  add(b, u, &body);
}

static void add_submit(batch *b, int u, const char *in) {
  Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
  m.program = (ProtobufCBinaryData){32, PROG};
  m.input = (ProtobufCBinaryData){strlen(in), (uint8_t *)in};
  m.max_steps = 1000000;
  m.mem_mib = 4;
  m.committee = 1;
  m.reward = 1000000;
  m.max_output_bytes = 1024;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_SUBMIT_TASK;
  body.submit_task = &m;
  add(b, u, &body);
}

/* A chain with the program uploaded and three executors. */
static state *make_chain(kv_store **kv) {
  core_errbuf eb;
  state *st;
  assert_int_equal(kv_open_mem(kv), 0);
  assert_int_equal(state_open(&st, *kv, &eb), 0);
  assert_int_equal(state_init_genesis(st, &F.g, &eb), 0);
  memset(nonces, 0, sizeof nonces);
  batch b = {.n = 0};
  Cohort__MsgUploadBlob up = COHORT__MSG_UPLOAD_BLOB__INIT;
  up.data = (ProtobufCBinaryData){ELF_LEN, ELF};
  up.is_program = 1;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  body.upload_blob = &up;
  add(&b, 0, &body);
  add_register(&b, 1);
  add_register(&b, 2);
  add_register(&b, 4);
  commit(st, &b);
  return st;
}

/* The block under test: a task, a transfer, a job of 3 chunks, a data upload. */
static void make_txs(batch *b) {
  add_submit(b, 0, "alloc");
  Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
  t.to = (ProtobufCBinaryData){20, F.ids[5]};
  t.token = COHORT__TOKEN__CRD;
  t.amount = 77;
  Cohort__TxBody tb = COHORT__TX_BODY__INIT;
  tb.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  tb.transfer = &t;
  add(b, 6, &tb);
  Cohort__MsgSubmitJob j = COHORT__MSG_SUBMIT_JOB__INIT;
  ProtobufCBinaryData in[3] = {{1, (uint8_t *)"a"}, {1, (uint8_t *)"b"}, {1, (uint8_t *)"c"}};
  j.program = (ProtobufCBinaryData){32, PROG};
  j.n_inputs = 3;
  j.inputs = in;
  j.max_steps = 1000000;
  j.mem_mib = 4;
  j.committee = 1;
  j.reward_per_chunk = 1000000;
  j.max_output_bytes = 1024;
  Cohort__TxBody jb = COHORT__TX_BODY__INIT;
  jb.msg_case = COHORT__TX_BODY__MSG_SUBMIT_JOB;
  jb.submit_job = &j;
  add(b, 0, &jb);
  uint8_t data[300];
  memset(data, 0xab, sizeof data);
  Cohort__MsgUploadBlob up = COHORT__MSG_UPLOAD_BLOB__INIT;
  up.data = (ProtobufCBinaryData){sizeof data, data};
  Cohort__TxBody ub = COHORT__TX_BODY__INIT;
  ub.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  ub.upload_blob = &up;
  add(b, 6, &ub);
}

typedef struct {
  int fatal;       /* 1: a fatal-band error aborted the block */
  int bad_nonfatal; /* a non-fatal error where the reference had none */
  uint8_t app[32];
  int codes[16];
  size_t n;
} outcome;

/* Execute txs on st at height+1 as a proposer would, without committing. */
static outcome run_block(state *st, batch *b, long fail) {
  outcome o;
  memset(&o, 0, sizeof o);
  tx_t txs[16];
  core_errbuf eb;
  for (int i = 0; i < b->n; i++) assert_int_equal(tx_decode(&txs[i], b->raw[i], b->len[i], 4u << 20, &eb), 0);
  state_exec *x = NULL;
  uint64_t h = state_height(st) + 1;
  const uint8_t *tip, *rev = fx_reveal(&F, h, &tip);
  n_allocs = 0;
  fail_at = fail;
  int rc = state_exec_begin(st, h, state_last_time_ms(st) + 1000, F.val.pub, &x, &eb);
  if (!rc && rev) rc = state_exec_reveal(x, rev, tip, &eb);
  for (int i = 0; !rc && i < b->n; i++) {
    state_tx_result r;
    rc = state_exec_tx(x, &txs[i], 1, &r, &eb);
    if (rc && !core_err_is_fatal(rc)) {
      o.bad_nonfatal = 1;
      rc = 0;
      o.codes[o.n++] = -1000;
      continue;
    }
    if (!rc) o.codes[o.n++] = r.code;
  }
  if (!rc) rc = state_exec_finish(x, o.app);
  fail_at = -1;
  if (rc) {
    if (!core_err_is_fatal(rc)) fail_msg("a non-fatal error %s (%d) from an allocation failure: %s",
                                         core_err_name(rc), rc, eb.msg);
    o.fatal = 1;
  }
  state_exec_free(x);
  for (int i = 0; i < b->n; i++) tx_free(&txs[i]);
  return o;
}

static void check_against(const outcome *ref, const outcome *o, long i) {
  if (o->fatal) return;
  if (o->bad_nonfatal) fail_msg("allocation %ld: a tx became not includable", i);
  assert_int_equal(o->n, ref->n);
  for (size_t k = 0; k < ref->n; k++)
    if (o->codes[k] != ref->codes[k])
      fail_msg("allocation %ld: tx %zu has result %d, the reference %d", i, k, o->codes[k],
               ref->codes[k]);
  if (memcmp(o->app, ref->app, 32)) fail_msg("allocation %ld: a different app_hash", i);
}

static void test_block_with_every_allocation_failing(void **s) {
  (void)s;
  kv_store *kv;
  state *st = make_chain(&kv);
  batch b = {.n = 0};
  make_txs(&b);
  outcome ref = run_block(st, &b, 0);
  long total = n_allocs;
  assert_false(ref.fatal);
  for (size_t k = 0; k < ref.n; k++) assert_int_equal(ref.codes[k], 0);
  int fatal = 0;
  for (long i = 1; i <= total; i++) {
    outcome o = run_block(st, &b, i);
    fatal += o.fatal;
    check_against(&ref, &o, i);
  }
  printf("  submission block: %ld allocations, each failed once: %d aborted (fatal), %ld identical\n",
         total, fatal, total - fatal);
  assert_true(fatal > 0);
  /* Commit it, then the draw block (begin-of-block work) the same way. */
  commit(st, &b);
  batch e = {.n = 0};
  outcome ref2 = run_block(st, &e, 0);
  long total2 = n_allocs;
  int fatal2 = 0;
  for (long i = 1; i <= total2; i++) {
    outcome o = run_block(st, &e, i);
    fatal2 += o.fatal;
    check_against(&ref2, &o, i);
  }
  printf("  draw block: %ld allocations: %d aborted, %ld identical\n", total2, fatal2,
         total2 - fatal2);
  for (int i = 0; i < b.n; i++) free(b.raw[i]);
  state_close(st);
  kv_close(kv);
}

/* A block from elsewhere: with any allocation failing, state_apply_block
 * reports a fatal error (and writes nothing) or applies it exactly; it never
 * calls a valid block bad. */
static void test_apply_never_calls_a_good_block_bad(void **s) {
  (void)s;
  kv_store *kv;
  state *st = make_chain(&kv);
  /* Make the block on a twin chain, so this one can apply it. */
  kv_store *kv2;
  state *twin = make_chain(&kv2);
  batch b = {.n = 0};
  make_txs(&b);
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, twin, b.raw, b.len, (size_t)b.n, &bb, &bl, &cb, &cl), 0);
  uint8_t want[32];
  memcpy(want, state_app_hash(twin), 32);
  core_errbuf eb;
  int fatal = 0, same = 0;
  long i;
  for (i = 1;; i++) {
    n_allocs = 0;
    fail_at = i;
    int rc = state_apply_block(st, bb, bl, cb, cl, &eb);
    long used = n_allocs;
    fail_at = -1;
    if (rc == COHORT_OK) {
      /* applied: then exactly as the twin did (a failed allocation with a
       * graceful fallback — the VM's page-hash cache — changes nothing) */
      assert_memory_equal(state_app_hash(st), want, 32);
      if (used < i) break; /* no allocation failed: past the last one */
      same++;
      state_close(st); /* start again from the parent for the next i */
      kv_close(kv);
      st = make_chain(&kv);
      continue;
    }
    if (!core_err_is_fatal(rc))
      fail_msg("allocation %ld: state_apply_block said %s: %s", i, core_err_name(rc), eb.msg);
    assert_int_equal(state_height(st), state_height(twin) - 1); /* nothing written */
    fatal++;
  }
  printf("  applied block: %ld allocations each failed once: %d fatal (nothing written), %d "
         "identical\n", i - 1, fatal, same);
  free(bb);
  free(cb);
  for (int k = 0; k < b.n; k++) free(b.raw[k]);
  state_close(st);
  state_close(twin);
  kv_close(kv);
  kv_close(kv2);
}

int main(void) {
  if (core_init()) return 1;
  fx_init(&F, 23);
  ELF = load_file(GUEST_DIR "/sha256.elf", &ELF_LEN);
  core_sha256(PROG, ELF, ELF_LEN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block_with_every_allocation_failing),
      cmocka_unit_test(test_apply_never_calls_a_good_block_bad),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(ELF);
  genesis_free(&F.g);
  return rc;
}
