/* tests/unit/vm/test_vm_proof.c — state hashes, one-step proofs, output
 * proofs, snapshots and the known-answer vectors.
 *
 * For every step of small runs of the examples, prove+verify from the
 * state at step i must give exactly the hash the fast path reaches at step
 * i+1. Forged proofs (any single byte flipped, truncated, extended, or
 * presented against another pre-state) must be rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"
#include "vm/vm_int.h"

static cohort_vm *load_from(const char *dir, const char *name, const char *input) {
  size_t len = 0;
  char path[512];
  snprintf(path, sizeof path, "%s/%s.elf", dir, name);
  uint8_t *elf = t_read_file(path, &len);
  assert_non_null(elf);
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  int rc = cohort_vm_new(&vm, elf, len, (const uint8_t *)input, strlen(input), NULL, &eb);
  if (rc) fail_msg("%s: %s", name, eb.msg);
  free(elf);
  return vm;
}
static cohort_vm *load(const char *name, const char *input) { return load_from(COHORT_GUEST_DIR, name, input); }

static uint32_t insn_at(cohort_vm *vm, uint32_t pc) {
  uint8_t w[4];
  cohort_vm_read_mem(vm, pc, w, 4);
  return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

/* Kinds of step whose proofs we keep for tamper tests. */
enum { K_ALU, K_LOAD, K_STORE, K_BRANCH, K_READ, K_WRITE, K_EXIT, K_N };

typedef struct {
  uint8_t *proof;
  size_t len;
  uint8_t pre[32], post[32];
} kept;

static kept keep[K_N];

static int kind_of(cohort_vm *vm, const cohort_vm_info *s) {
  uint32_t w = insn_at(vm, s->pc), opc = w & 0x7F;
  if (opc == 0x03) return K_LOAD;
  if (opc == 0x23) return K_STORE;
  if (opc == 0x63) return K_BRANCH;
  if (w == 0x73) return s->x[17] == 63 ? K_READ : s->x[17] == 64 ? K_WRITE : s->x[17] == 93 ? K_EXIT : -1;
  return K_ALU;
}

static uint64_t prove_every_step(const char *name, const char *input, uint64_t limit) {
  cohort_vm *vm = load(name, input);
  uint8_t h[32], post[32], next[32];
  cohort_vm_info s;
  uint64_t n = 0;
  size_t max_len = 0;
  cohort_vm_state_hash(vm, h);
  for (;;) {
    cohort_vm_get_info(vm, &s);
    if (s.status != COHORT_VM_RUNNING || n == limit) break;
    uint8_t *p;
    size_t plen;
    assert_int_equal(cohort_vm_prove(vm, &p, &plen), 0);
    if (plen > max_len) max_len = plen;
    core_errbuf eb = {{0}};
    int rc = cohort_vm_verify(h, p, plen, post, &eb);
    if (rc) fail_msg("%s step %llu: verify failed: %s", name, (unsigned long long)n, eb.msg);
    int k = kind_of(vm, &s);
    uint64_t done;
    cohort_vm_run(vm, 1, &done); /* the fast path */
    assert_int_equal(done, 1);
    cohort_vm_state_hash(vm, next);
    if (memcmp(post, next, 32) != 0)
      fail_msg("%s step %llu (pc 0x%08x): proof path and fast path disagree", name, (unsigned long long)n, s.pc);
    if (k >= 0 && !keep[k].proof) {
      keep[k].proof = p;
      keep[k].len = plen;
      memcpy(keep[k].pre, h, 32);
      memcpy(keep[k].post, post, 32);
    } else {
      free(p);
    }
    memcpy(h, next, 32);
    n++;
  }
  /* a halted state proves to itself */
  if (s.status != COHORT_VM_RUNNING) {
    uint8_t *p;
    size_t plen;
    assert_int_equal(cohort_vm_prove(vm, &p, &plen), 0);
    assert_int_equal(cohort_vm_verify(h, p, plen, post, NULL), 0);
    assert_memory_equal(post, h, 32);
    free(p);
  }
  assert_true(max_len <= COHORT_VM_PROOF_MAX);
  cohort_vm_del(vm);
  return n;
}

static void test_every_step(void **st) {
  (void)st;
  assert_true(prove_every_step("sha256", "abc", UINT64_MAX) > 10000);
  assert_true(prove_every_step("wc", "the quick brown fox\njumps over\n the lazy dog", UINT64_MAX) > 1000);
  assert_true(prove_every_step("mandel", "8 4 8", UINT64_MAX) > 1000);
  assert_true(prove_every_step("sieve", "200", UINT64_MAX) > 1000);
  assert_true(prove_every_step("matmul", "4 2", UINT64_MAX) > 1000);
}

static void test_tamper(void **st) {
  (void)st;
  if (!keep[K_READ].proof) prove_every_step("wc", "some input text for the tamper test", UINT64_MAX);
  for (int k = 0; k < K_N; k++) {
    kept *kp = &keep[k];
    if (!kp->proof) fail_msg("no proof of kind %d collected", k);
    uint8_t post[32];
    assert_int_equal(cohort_vm_verify(kp->pre, kp->proof, kp->len, post, NULL), 0);
    assert_memory_equal(post, kp->post, 32);
    uint8_t *q = malloc(kp->len + 32);
    for (size_t i = 0; i < kp->len; i++) {
      static const uint8_t flips[] = {0x01, 0x80, 0xFF};
      for (size_t f = 0; f < sizeof flips; f++) {
        memcpy(q, kp->proof, kp->len);
        q[i] ^= flips[f];
        memset(post, 0xAA, 32);
        int rc = cohort_vm_verify(kp->pre, q, kp->len, post, NULL);
        if (rc == 0) fail_msg("kind %d: flipping byte %zu by 0x%02x was accepted", k, i, flips[f]);
        assert_true(post[0] == 0xAA && post[31] == 0xAA); /* untouched on failure */
      }
    }
    memcpy(q, kp->proof, kp->len);
    for (size_t cut = 0; cut < kp->len; cut += 7)
      assert_int_not_equal(cohort_vm_verify(kp->pre, q, cut, post, NULL), 0);
    memset(q + kp->len, 0, 32);
    assert_int_not_equal(cohort_vm_verify(kp->pre, q, kp->len + 1, post, NULL), 0);
    assert_int_not_equal(cohort_vm_verify(kp->pre, q, kp->len + 32, post, NULL), 0);
    /* the right proof against another pre-state */
    uint8_t wrong[32];
    memcpy(wrong, kp->pre, 32);
    wrong[5] ^= 1;
    assert_int_equal(cohort_vm_verify(wrong, kp->proof, kp->len, post, NULL), COHORT_ERR_INVALID);
    assert_int_equal(cohort_vm_verify(kp->post, kp->proof, kp->len, post, NULL), COHORT_ERR_INVALID);
    free(q);
  }
}

static void test_output_proof(void **st) {
  (void)st;
  static const struct {
    const char *name, *input;
  } cases[] = {{"sha256", "abc"}, {"mandel", "100 60 30"}, {"wc", ""}};
  for (size_t c = 0; c < 3; c++) {
    cohort_vm *vm = load(cases[c].name, cases[c].input);
    cohort_vm_run(vm, UINT64_MAX, NULL);
    uint8_t h[32];
    cohort_vm_state_hash(vm, h);
    size_t olen;
    const uint8_t *out = cohort_vm_output(vm, &olen);
    uint8_t *p;
    size_t plen;
    assert_int_equal(cohort_vm_output_prove(vm, &p, &plen), 0);
    cohort_vm_info info;
    core_errbuf eb = {{0}};
    if (cohort_vm_output_verify(h, out, olen, p, plen, &info, &eb)) fail_msg("%s", eb.msg);
    assert_int_equal(info.status, COHORT_VM_EXITED);
    assert_int_equal(info.out_len, olen);
    uint8_t *o2 = malloc(olen + 1);
    memcpy(o2, out, olen);
    o2[olen] = 0;
    if (olen) {
      o2[olen / 2] ^= 1;
      assert_int_equal(cohort_vm_output_verify(h, o2, olen, p, plen, NULL, NULL), COHORT_ERR_INVALID);
      o2[olen / 2] ^= 1;
      assert_int_not_equal(cohort_vm_output_verify(h, o2, olen - 1, p, plen, NULL, NULL), 0);
    }
    assert_int_not_equal(cohort_vm_output_verify(h, o2, olen + 1, p, plen, NULL, NULL), 0);
    for (size_t i = 0; i < plen; i++) {
      p[i] ^= 0x10;
      assert_int_not_equal(cohort_vm_output_verify(h, out, olen, p, plen, NULL, NULL), 0);
      p[i] ^= 0x10;
    }
    h[0] ^= 1;
    assert_int_equal(cohort_vm_output_verify(h, out, olen, p, plen, NULL, NULL), COHORT_ERR_INVALID);
    free(o2);
    free(p);
    cohort_vm_del(vm);
  }
}

static void test_clone_and_hash_at_step(void **st) {
  (void)st;
  cohort_vm *vm = load("sieve", "5000");
  cohort_vm_run(vm, 20000, NULL);
  uint8_t h_mid[32];
  cohort_vm_state_hash(vm, h_mid);
  cohort_vm *snap;
  assert_int_equal(cohort_vm_clone(&snap, vm), 0);
  uint8_t h2[32];
  cohort_vm_state_hash(snap, h2);
  assert_memory_equal(h_mid, h2, 32);
  cohort_vm_run(vm, UINT64_MAX, NULL);
  cohort_vm_run(snap, UINT64_MAX, NULL);
  uint8_t ha[32], hb[32];
  cohort_vm_state_hash(vm, ha);
  cohort_vm_state_hash(snap, hb);
  assert_memory_equal(ha, hb, 32);
  /* hashing at checkpoints does not change where the run ends */
  cohort_vm *c = load("sieve", "5000");
  for (int i = 0; i < 50; i++) {
    cohort_vm_run(c, 3001, NULL);
    cohort_vm_state_hash(c, h2);
  }
  cohort_vm_run(c, UINT64_MAX, NULL);
  cohort_vm_state_hash(c, hb);
  assert_memory_equal(ha, hb, 32);
  /* a fresh replay to step 20000 gives the snapshot's hash */
  cohort_vm *r = load("sieve", "5000");
  cohort_vm_run(r, 20000, NULL);
  cohort_vm_state_hash(r, h2);
  assert_memory_equal(h_mid, h2, 32);
  cohort_vm_del(r);
  cohort_vm_del(c);
  cohort_vm_del(snap);
  cohort_vm_del(vm);
}

static void hash_at_fresh(const char *name, const char *input, uint64_t step, uint8_t out[32]) {
  cohort_vm *vm = load(name, input);
  cohort_vm_run(vm, step, NULL);
  cohort_vm_state_hash(vm, out);
  cohort_vm_del(vm);
}

static void test_trace_seek(void **st) {
  (void)st;
  cohort_vm *vm = load("sieve", "3000");
  cohort_vm_trace *t;
  assert_int_equal(cohort_vm_trace_new(&t, vm, 0), COHORT_ERR_INVALID);
  assert_int_equal(cohort_vm_trace_new(&t, vm, 5000), 0);
  uint64_t done;
  assert_int_equal(cohort_vm_trace_run(t, vm, 12345, &done), 0);
  assert_int_equal(done, 12345);
  uint8_t mid[32];
  cohort_vm_state_hash(vm, mid); /* a hash between snapshots must not hide writes */
  assert_int_equal(cohort_vm_trace_run(t, vm, UINT64_MAX, &done), 0);
  cohort_vm_info fin;
  cohort_vm_get_info(vm, &fin);
  assert_int_equal(fin.status, COHORT_VM_EXITED);
  assert_true(cohort_vm_trace_count(t) >= fin.step / 5000);
  uint64_t steps[] = {0, 1, 4999, 5000, 5001, 12345, fin.step - 1, 7777, 2, fin.step, 30000, 29999, 100};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    uint64_t k = steps[i];
    if (k > fin.step) continue;
    cohort_vm *at;
    assert_int_equal(cohort_vm_trace_seek(t, k, &at), 0);
    uint8_t h[32], want[32], post[32], next[32];
    cohort_vm_state_hash(at, h);
    hash_at_fresh("sieve", "3000", k, want);
    if (memcmp(h, want, 32) != 0) fail_msg("trace hash at step %llu differs from a replay", (unsigned long long)k);
    if (k == 12345) assert_memory_equal(h, mid, 32);
    uint8_t *p;
    size_t plen;
    assert_int_equal(cohort_vm_prove(at, &p, &plen), 0);
    assert_int_equal(cohort_vm_verify(h, p, plen, post, NULL), 0);
    free(p);
    hash_at_fresh("sieve", "3000", k + 1, next);
    assert_memory_equal(post, next, 32);
  }
  cohort_vm_trace_del(t);
  cohort_vm_del(vm);
}

/* The tree's BLAKE2b-256 of 64 and 128 bytes (scalar and 4/8-way SIMD)
 * equals libsodium's. */
static void test_blake2b_batch(void **st) {
  (void)st;
  static uint8_t in[13][128], out[13][32], want[32];
  uint32_t x = 99;
  for (int i = 0; i < 13; i++)
    for (int j = 0; j < 128; j++) x = x * 1103515245u + 12345u, in[i][j] = (uint8_t)(x >> 16);
  for (size_t n = 0; n <= 13; n++) {
    uint8_t *outs[13] = {0};
    const uint8_t *ins[13] = {0};
    for (size_t i = 0; i < n; i++) outs[i] = out[i], ins[i] = in[i];
    memset(out, 0, sizeof out);
    vm_hash64_batch(outs, ins, n);
    for (size_t i = 0; i < n; i++) {
      core_blake2b256(want, in[i], 64);
      assert_memory_equal(out[i], want, 32);
      vm_hash64(out[i], in[i]);
      assert_memory_equal(out[i], want, 32);
    }
    memset(out, 0, sizeof out);
    vm_hash128_batch(outs, ins, n);
    for (size_t i = 0; i < n; i++) {
      core_blake2b256(want, in[i], 128);
      assert_memory_equal(out[i], want, 32);
      vm_hash_leaf(out[i], in[i]);
      assert_memory_equal(out[i], want, 32);
    }
  }
}

/* The state hash from first principles: an independent recomputation of
 * the documented layout for a fresh state, with the memory root taken from
 * the VM (checked separately against a from-scratch tree below). */
static void test_state_hash_layout(void **st) {
  (void)st;
  cohort_vm *vm = load("wc", "x");
  cohort_vm_info s;
  cohort_vm_get_info(vm, &s);
  uint8_t root[32], h[32], mine[32];
  cohort_vm_mem_root(vm, root);
  cohort_vm_state_hash(vm, h);
  uint8_t buf[18 + 256 + 32], *o = buf;
  memcpy(o, "cohort/vm/state/v3", 18);
  o += 18;
  t_put32(o, s.pc);
  for (int i = 1; i < 32; i++) t_put32(o + 4 * i, s.x[i]);
  o += 128;
  t_put32(o, (uint32_t)s.step); t_put32(o + 4, (uint32_t)(s.step >> 32));
  t_put32(o + 8, (uint32_t)s.max_steps); t_put32(o + 12, (uint32_t)(s.max_steps >> 32));
  o += 16;
  uint32_t f[12] = {s.status, s.code, s.mem_cap, s.exec_lo, s.exec_hi, s.brk, s.brk_min, s.in_len, s.in_pos, s.out_len, s.sys_done, s.out_cap};
  for (int i = 0; i < 12; i++) t_put32(o + 4 * i, f[i]);
  o += 48;
  for (int i = 0; i < COHORT_VM_MAX_SEGS; i++) {
    t_put32(o + 8 * i, s.seg[i].lo | s.seg[i].flags);
    t_put32(o + 8 * i + 4, s.seg[i].hi);
  }
  o += 64;
  memcpy(o, root, 32);
  core_blake2b256(mine, buf, sizeof buf);
  assert_memory_equal(mine, h, 32);
  /* the SDK's two segments, as the loader must describe them */
  assert_int_equal(s.seg[0].lo, 0x10000);
  assert_int_equal(s.seg[0].flags, 5);
  assert_int_equal(s.seg[1].flags, 6);
  assert_int_equal(s.seg[1].lo, s.seg[0].hi);
  assert_int_equal(s.seg[2].hi, 0);
  assert_int_equal(s.brk_min, s.seg[1].hi);
  /* the initial stack, as documented: argc, argv, envp, auxv */
  uint32_t sp = s.x[2], w[24];
  assert_int_equal(sp, s.mem_cap - 128);
  cohort_vm_read_mem(vm, sp, w, sizeof w);
  static const uint32_t keys[] = {16, 6, 3, 4, 5, 9, 25, 31, 0};
  assert_int_equal(w[0], 1);
  assert_int_equal(w[1], s.mem_cap - 16);
  assert_int_equal(w[2], 0);
  assert_int_equal(w[3], 0);
  for (int i = 0; i < 9; i++) assert_int_equal(w[4 + 2 * i], keys[i]);
  assert_int_equal(w[7], 4096);            /* AT_PAGESZ */
  assert_int_equal(w[9], 0x10034);         /* AT_PHDR: loaded with the text segment */
  assert_int_equal(w[11], 32);             /* AT_PHENT */
  assert_int_equal(w[15], s.pc);           /* AT_ENTRY */
  assert_int_equal(w[17], s.mem_cap - 32); /* AT_RANDOM */
  char name[16];
  cohort_vm_read_mem(vm, s.mem_cap - 16, name, sizeof name);
  assert_string_equal(name, "task");
  uint8_t rnd[16], want_rnd[32];
  cohort_vm_read_mem(vm, s.mem_cap - 32, rnd, 16);
  core_blake2b256(want_rnd, (const uint8_t *)"cohort/vm/at_random", 19);
  assert_memory_equal(rnd, want_rnd, 16);

  /* memory root from scratch: hash every page of RAM and input naively.
   * A leaf is BLAKE2b-256 of 128 bytes; nodes are BLAKE2b-256(l || r). */
  uint8_t empty[26][32];
  {
    uint8_t z[128] = {0};
    core_blake2b256(empty[0], z, 128);
  }
  for (int l = 1; l <= 25; l++) {
    uint8_t b2[64];
    memcpy(b2, empty[l - 1], 32);
    memcpy(b2 + 32, empty[l - 1], 32);
    core_blake2b256(empty[l], b2, 64);
  }
  /* level-5 nodes (pages) for the non-empty pages, then fold up sparsely */
  enum { MAXN = 64 };
  uint64_t idx[MAXN];
  uint8_t val[MAXN][32];
  int n = 0;
  uint32_t starts[3] = {0x10000, s.mem_cap - 8192, COHORT_VM_INPUT_BASE};
  uint32_t ends[3] = {s.brk, s.mem_cap, COHORT_VM_INPUT_BASE + 4096};
  for (int r = 0; r < 3; r++)
    for (uint32_t a = starts[r]; a < ends[r]; a += 4096) {
      uint8_t page[4096], lv[32][32];
      cohort_vm_read_mem(vm, a, page, 4096);
      int nz = 0;
      for (int i = 0; i < 4096; i++) nz |= page[i];
      if (!nz) continue;
      for (int i = 0; i < 32; i++) core_blake2b256(lv[i], page + 128 * i, 128);
      for (int w2 = 16; w2 >= 1; w2 /= 2)
        for (int i = 0; i < w2; i++) {
          uint8_t b2[64];
          memcpy(b2, lv[2 * i], 32);
          memcpy(b2 + 32, lv[2 * i + 1], 32);
          core_blake2b256(lv[i], b2, 64);
        }
      assert_true(n < MAXN);
      idx[n] = a >> 12;
      memcpy(val[n++], lv[0], 32);
    }
  for (int l = 5; l < 25; l++) {
    int m = 0;
    for (int i = 0; i < n; i++) {
      uint8_t b2[64];
      if (i + 1 < n && idx[i + 1] == (idx[i] ^ 1) && !(idx[i] & 1)) {
        memcpy(b2, val[i], 32);
        memcpy(b2 + 32, val[i + 1], 32);
        i++;
      } else if (idx[i] & 1) {
        memcpy(b2, empty[l], 32);
        memcpy(b2 + 32, val[i], 32);
      } else {
        memcpy(b2, val[i], 32);
        memcpy(b2 + 32, empty[l], 32);
      }
      core_blake2b256(val[m], b2, 64);
      idx[m++] = idx[i] >> 1;
    }
    n = m;
  }
  assert_int_equal(n, 1);
  assert_memory_equal(val[0], root, 32);
  cohort_vm_del(vm);
}

/* The memory root from scratch with libsodium's BLAKE2b: every backed page
 * of every region (the rest of the address space is zero), folded up
 * sparsely over empty subtrees. */
static void naive_root(cohort_vm *vm, uint8_t out[32]) {
  uint8_t empty[26][32];
  {
    uint8_t z[128] = {0};
    core_blake2b256(empty[0], z, 128);
  }
  for (int l = 1; l <= 25; l++) {
    uint8_t b2[64];
    memcpy(b2, empty[l - 1], 32);
    memcpy(b2 + 32, empty[l - 1], 32);
    core_blake2b256(empty[l], b2, 64);
  }
  size_t cap = 0, n = 0;
  for (int r = 0; r < VM_NREG; r++) cap += vm->reg[r].npages;
  uint64_t *idx = malloc((cap + 1) * sizeof *idx);
  uint8_t(*val)[32] = malloc((cap + 1) * 32);
  assert_true(idx && val);
  for (int r = 0; r < VM_NREG; r++) {
    const vm_region *g = &vm->reg[r];
    for (uint32_t p = 0; p < g->npages; p++) {
      const uint8_t *page = g->data + (size_t)p * 4096;
      uint8_t lv[32][32];
      int nz = 0;
      for (int i = 0; i < 4096; i++) nz |= page[i];
      if (!nz) continue;
      for (int i = 0; i < 32; i++) core_blake2b256(lv[i], page + 128 * i, 128);
      for (int w2 = 16; w2 >= 1; w2 /= 2)
        for (int i = 0; i < w2; i++) {
          uint8_t b2[64];
          memcpy(b2, lv[2 * i], 32);
          memcpy(b2 + 32, lv[2 * i + 1], 32);
          core_blake2b256(lv[i], b2, 64);
        }
      idx[n] = (g->base >> 12) + p;
      memcpy(val[n++], lv[0], 32);
    }
  }
  if (n == 0) {
    memcpy(out, empty[25], 32);
  } else {
    for (int l = 5; l < 25; l++) {
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        uint8_t b2[64];
        if (i + 1 < n && idx[i + 1] == (idx[i] ^ 1) && !(idx[i] & 1)) {
          memcpy(b2, val[i], 32);
          memcpy(b2 + 32, val[i + 1], 32);
          i++;
        } else if (idx[i] & 1) {
          memcpy(b2, empty[l], 32);
          memcpy(b2 + 32, val[i], 32);
        } else {
          memcpy(b2, val[i], 32);
          memcpy(b2 + 32, empty[l], 32);
        }
        core_blake2b256(val[m], b2, 64);
        idx[m++] = idx[i] >> 1;
      }
      n = m;
    }
    assert_int_equal(n, 1);
    memcpy(out, val[0], 32);
  }
  free(idx);
  free(val);
}

/* The incremental flush against the tree from scratch, on programs that
 * write many pages between hashes: whole pages rewritten (groups of fresh
 * and of cached subtrees, flushes large enough for helper threads), pages
 * with a few dirty leaves, leaves rewritten with the bytes they had, pages
 * freed and reused. */
static void test_incremental_root(void **st) {
  (void)st;
  static const struct {
    const char *name, *input;
  } progs[] = {{"sieve", "1200000"}, {"hashtab", "20000"}, {"qsort", "60000"}};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++) {
    cohort_vm *vm = load(progs[k].name, progs[k].input);
    cohort_vm_info s;
    int hashes = 0, checks = 0;
    do {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      cohort_vm_run(vm, 1000 + (seed >> 40) % 2000000, NULL);
      uint8_t h[32], root[32], want[32];
      cohort_vm_state_hash(vm, h);
      cohort_vm_get_info(vm, &s);
      if (++hashes % 4 == 0 || s.status != COHORT_VM_RUNNING) {
        cohort_vm_mem_root(vm, root);
        naive_root(vm, want);
        if (memcmp(root, want, 32)) fail_msg("%s: memory root differs at step %llu", progs[k].name, (unsigned long long)s.step);
        checks++;
      }
    } while (s.status == COHORT_VM_RUNNING);
    assert_int_equal(s.status, COHORT_VM_EXITED);
    assert_true(checks >= 2);
    cohort_vm_del(vm);
  }
}

/* Overlapped checkpoints (cohort_vm_state_hash_start/_finish) give the
 * hashes cohort_vm_state_hash gives at the same steps, on programs that
 * rewrite many pages between hashes, with slices long enough for the
 * helper thread and short enough for the in-place path; while a hash is
 * pending, a synchronous hash, the memory root, a proof, a clone and a
 * trace of the handle see the state as it is now, and the pending result is
 * still the captured step's; a finish right after the start (the caller then
 * hashes pages with the helper) gives the same. Misuse is refused. */
static void test_overlapped_hash(void **st) {
  (void)st;
  static const struct {
    const char *name, *input;
  } progs[] = {{"sieve", "1200000"}, {"hashtab", "20000"}, {"qsort", "60000"}, {"matmul", "120 1"}};
  uint64_t seed = 0x2545f4914f6cdd1dull;
  uint8_t h[32];
  for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++) {
    cohort_vm *a = load(progs[k].name, progs[k].input), *b = load(progs[k].name, progs[k].input);
    assert_int_equal(cohort_vm_state_hash_finish(b, h), COHORT_ERR_INVALID); /* none started */
    uint8_t want[32]; /* a's hash at the step of b's pending start */
    cohort_vm_info s;
    int n = 0, pending = 0, checked = 0;
    do {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      uint64_t len = seed >> 63 ? 1000 + (seed >> 40) % 5000 : 100000 + (seed >> 40) % 3000000;
      cohort_vm_run(a, len, NULL);
      cohort_vm_run(b, len, NULL);
      uint8_t ha[32];
      cohort_vm_state_hash(a, ha);
      if (pending) {
        assert_int_equal(cohort_vm_state_hash_finish(b, h), 0);
        if (memcmp(h, want, 32)) fail_msg("%s: overlapped hash %d differs", progs[k].name, n);
        checked++;
      }
      assert_int_equal(cohort_vm_state_hash_start(b), 0);
      assert_int_equal(cohort_vm_state_hash_start(b), COHORT_ERR_INVALID); /* one at a time */
      memcpy(want, ha, 32);
      pending = 1;
      switch (n++ % 6) {
      case 1: { /* run on, then a synchronous hash while one is pending */
        cohort_vm_run(a, 20000, NULL);
        cohort_vm_run(b, 20000, NULL);
        uint8_t now_a[32], now_b[32];
        cohort_vm_state_hash(a, now_a);
        cohort_vm_state_hash(b, now_b);
        assert_memory_equal(now_a, now_b, 32);
        break;
      }
      case 2: { /* a clone of b is b now, and b's pending result survives it */
        cohort_vm *c;
        assert_int_equal(cohort_vm_clone(&c, b), 0);
        uint8_t hc[32];
        cohort_vm_state_hash(c, hc);
        assert_memory_equal(hc, ha, 32);
        assert_int_equal(cohort_vm_state_hash_finish(c, hc), COHORT_ERR_INVALID);
        cohort_vm_del(c);
        break;
      }
      case 3: { /* a proof from b verifies against a's hash */
        uint8_t *pr, post[32];
        size_t plen;
        assert_int_equal(cohort_vm_prove(b, &pr, &plen), 0);
        assert_int_equal(cohort_vm_verify(ha, pr, plen, post, NULL), 0);
        free(pr);
        uint8_t ra[32], rb[32];
        cohort_vm_mem_root(a, ra);
        cohort_vm_mem_root(b, rb);
        assert_memory_equal(ra, rb, 32);
        break;
      }
      case 4: { /* a trace started while pending, run a little */
        cohort_vm_trace *t;
        assert_int_equal(cohort_vm_trace_new(&t, b, 7000), 0);
        assert_int_equal(cohort_vm_trace_run(t, b, 15000, NULL), 0);
        cohort_vm_run(a, 15000, NULL);
        cohort_vm_get_info(b, &s);
        cohort_vm *at;
        uint8_t ht[32], hn[32];
        assert_int_equal(cohort_vm_trace_seek(t, s.step, &at), 0);
        cohort_vm_state_hash(at, ht);
        cohort_vm_state_hash(a, hn);
        assert_memory_equal(ht, hn, 32);
        cohort_vm_trace_del(t);
        break;
      }
      case 5: /* finish at once: the caller joins the helper's page phase */
        assert_int_equal(cohort_vm_state_hash_finish(b, h), 0);
        assert_memory_equal(h, want, 32);
        assert_int_equal(cohort_vm_state_hash_start(b), 0); /* nothing new: in place */
        break;
      default:
        break;
      }
      cohort_vm_get_info(b, &s);
    } while (s.status == COHORT_VM_RUNNING);
    assert_int_equal(cohort_vm_state_hash_finish(b, h), 0);
    assert_memory_equal(h, want, 32);
    uint8_t root[32], naive[32];
    cohort_vm_mem_root(b, root);
    naive_root(b, naive);
    assert_memory_equal(root, naive, 32);
    if (checked < 2) fail_msg("%s: only %d overlapped hashes checked", progs[k].name, checked);
    cohort_vm_del(a);
    cohort_vm_del(b);
  }
  /* del with a hash pending (hundreds of dirty pages: on the helper) */
  cohort_vm *c = load("sieve", "1200000");
  cohort_vm_run(c, 3000000, NULL);
  assert_int_equal(cohort_vm_state_hash_start(c), 0);
  cohort_vm_del(c);
}

/* Known-answer vectors: tests/vectors/vm/examples.txt lines of
 * "name input initial_hash steps final_hash" (input with '_' for space). */
static void test_vectors(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/examples.txt", COHORT_VECTORS_DIR);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int checked = 0;
  int regen = getenv("COHORT_VM_REGEN_VECTORS") != NULL;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char name[64], input[128], h0[65], h1[65];
    unsigned long long steps;
    assert_int_equal(sscanf(line, "%63s %127s %64s %llu %64s", name, input, h0, &steps, h1), 5);
    for (char *p = input; *p; p++)
      if (*p == '_') *p = ' ';
    if (!strcmp(input, "-")) input[0] = 0;
    cohort_vm *vm = load_from(COHORT_VECTORS_DIR, name, input);
    uint8_t h[32], h0b[32];
    char hx[65];
    cohort_vm_state_hash(vm, h);
    {
      char epath[512];
      size_t elen = 0;
      snprintf(epath, sizeof epath, "%s/%s.elf", COHORT_VECTORS_DIR, name);
      uint8_t *elf = t_read_file(epath, &elen);
      assert_int_equal(cohort_vm_initial_hash(elf, elen, (const uint8_t *)input, strlen(input), NULL, h0b, NULL), 0);
      assert_memory_equal(h, h0b, 32);
      free(elf);
    }
    for (int i = 0; i < 32; i++) snprintf(hx + 2 * i, 3, "%02x", h[i]);
    if (regen) printf("%s %s %s", name, input, hx);
    else assert_string_equal(hx, h0);
    cohort_vm_run(vm, UINT64_MAX, NULL);
    cohort_vm_info s;
    cohort_vm_get_info(vm, &s);
    cohort_vm_state_hash(vm, h);
    for (int i = 0; i < 32; i++) snprintf(hx + 2 * i, 3, "%02x", h[i]);
    if (regen) printf(" %llu %s\n", (unsigned long long)s.step, hx);
    else {
      assert_int_equal(s.step, steps);
      assert_string_equal(hx, h1);
    }
    cohort_vm_del(vm);
    checked++;
  }
  fclose(f);
  assert_true(checked >= 5);
}

/* Known answers inside multi-step system calls: tests/vectors/vm/syscalls.txt,
 * written by tests/vectors/gen_vm_syscall_vectors.py from an independent
 * Python model of docs/vm.md. Every step of each case: the reference step
 * (cohort_vm_step) must reach the listed pc, status, code, a0, sys_done,
 * in_pos, out_len, brk and state hash; the fast path one step at a time
 * (cohort_vm_run) the same hash; and the one-step proof of the state before
 * it must verify to that hash. */
static void hexs(char out[65], const uint8_t h[32]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void test_syscall_vectors(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/syscalls.txt", COHORT_VECTORS_DIR);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t elen = 0, ilen = 0;
  snprintf(path, sizeof path, "%s/syscalls.elf", COHORT_VECTORS_DIR);
  uint8_t *elf = t_read_file(path, &elen);
  snprintf(path, sizeof path, "%s/syscalls.in", COHORT_VECTORS_DIR);
  uint8_t *inp = t_read_file(path, &ilen);
  assert_non_null(elf);
  assert_non_null(inp);
  char line[512];
  cohort_vm *vm = NULL, *fast = NULL;
  int cases = 0, steps = 0, inside = 0;
  uint8_t prev[32];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char name[32];
    unsigned long long ms;
    unsigned mc, oc;
    if (sscanf(line, "case %31s mem_cap %u max_steps %llu out_cap %u", name, &mc, &ms, &oc) == 4) {
      cohort_vm_config cfg = {.mem_cap = mc, .max_steps = ms, .out_cap = oc};
      assert_int_equal(cohort_vm_new(&vm, elf, elen, inp, ilen, &cfg, NULL), 0);
      assert_int_equal(cohort_vm_new(&fast, elf, elen, inp, ilen, &cfg, NULL), 0);
      cases++;
      continue;
    }
    if (!strncmp(line, "end", 3)) {
      cohort_vm_del(vm);
      cohort_vm_del(fast);
      vm = fast = NULL;
      continue;
    }
    unsigned long long step;
    unsigned pc, status, code, a0, sys_done, in_pos, out_len, brk;
    char want[65], got[65];
    assert_int_equal(sscanf(line, "step %llu pc %x status %u code %u a0 %x sys_done %u in_pos %u "
                                  "out_len %u brk %x hash %64s",
                            &step, &pc, &status, &code, &a0, &sys_done, &in_pos, &out_len, &brk, want),
                     10);
    assert_non_null(vm);
    cohort_vm_info s;
    cohort_vm_get_info(vm, &s);
    uint8_t *proof = NULL;
    size_t plen = 0;
    if (step > 0) { /* one step from the previous line's state */
      assert_int_equal(s.step + 1, step);
      assert_int_equal(cohort_vm_prove(vm, &proof, &plen), 0);
      cohort_vm_step(vm);
      cohort_vm_run(fast, 1, NULL);
      cohort_vm_get_info(vm, &s);
    }
    uint8_t h[32], hf[32];
    cohort_vm_state_hash(vm, h);
    cohort_vm_state_hash(fast, hf);
    hexs(got, h);
    if (strcmp(got, want)) fail_msg("case %s step %llu: state hash %s, expected %s", name, step, got, want);
    assert_memory_equal(h, hf, 32);
    assert_int_equal(s.step, step);
    assert_int_equal(s.pc, pc);
    assert_int_equal(s.status, status);
    assert_int_equal(s.code, code);
    assert_int_equal(s.x[10], a0);
    assert_int_equal(s.sys_done, sys_done);
    assert_int_equal(s.in_pos, in_pos);
    assert_int_equal(s.out_len, out_len);
    assert_int_equal(s.brk, brk);
    if (proof) {
      uint8_t post[32];
      assert_int_equal(cohort_vm_verify(prev, proof, plen, post, NULL), 0);
      assert_memory_equal(post, h, 32);
      free(proof);
    }
    inside += sys_done != 0;
    memcpy(prev, h, 32);
    steps++;
  }
  fclose(f);
  assert_null(vm);
  free(elf);
  free(inp);
  assert_int_equal(cases, 3);
  assert_true(steps > 150 && inside > 40);
}

int main(void) {
  if (core_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_step),     cmocka_unit_test(test_tamper),
      cmocka_unit_test(test_output_proof),   cmocka_unit_test(test_clone_and_hash_at_step),
      cmocka_unit_test(test_state_hash_layout), cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_syscall_vectors),
      cmocka_unit_test(test_trace_seek),     cmocka_unit_test(test_blake2b_batch),
      cmocka_unit_test(test_incremental_root), cmocka_unit_test(test_overlapped_hash),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  for (int k = 0; k < K_N; k++) free(keep[k].proof);
  return rc;
}
