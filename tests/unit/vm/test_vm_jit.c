/* tests/unit/vm/test_vm_jit.c — the translator against the interpreter.
 *
 * The same program runs in two handles, one allowed to translate (and made
 * to, for runs of any length), one interpreting; their full states — the
 * state hash covers pc, registers, step, status, break, the memory root —
 * must be equal at every checkpoint and at the end. Checkpoints come at
 * random step counts, so translated code must stop exactly anywhere. Runs
 * the guest examples, random programs full of loops, faults, system calls
 * and bad jumps, and random step caps. Each case also checks that the
 * translator really ran, so the comparison is not vacuous. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"
#include "vm/vm_int.h"

typedef struct {
  uint64_t s;
} rng;
static uint32_t rnd(rng *g) {
  g->s = g->s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g->s >> 33);
}

static void state_of(cohort_vm *vm, uint8_t h[32], cohort_vm_info *s) {
  assert_int_equal(cohort_vm_state_hash(vm, h), 0);
  cohort_vm_get_info(vm, s);
}

static void expect_same(cohort_vm *a, cohort_vm *b, const char *what, uint64_t at) {
  uint8_t ha[32], hb[32];
  cohort_vm_info sa, sb;
  state_of(a, ha, &sa);
  state_of(b, hb, &sb);
  if (sa.pc != sb.pc || sa.step != sb.step || sa.status != sb.status || memcmp(sa.x, sb.x, sizeof sa.x))
    fail_msg("%s, checkpoint %llu: jit pc 0x%08x step %llu status %u; interpreter pc 0x%08x step %llu status %u",
             what, (unsigned long long)at, sa.pc, (unsigned long long)sa.step, sa.status, sb.pc,
             (unsigned long long)sb.step, sb.status);
  if (memcmp(ha, hb, 32) != 0) fail_msg("%s, checkpoint %llu: registers agree, memory or state differs", what,
                                         (unsigned long long)at);
}

/* Runs elf in both tiers in random slices until halted; returns the steps
 * the translator ran. */
static uint64_t differential(const uint8_t *elf, size_t len, const uint8_t *in, size_t in_len,
                             const cohort_vm_config *cfg, rng *g, uint32_t max_slice, const char *what) {
  cohort_vm *jit, *ref;
  core_errbuf eb = {{0}};
  if (cohort_vm_new(&jit, elf, len, in, in_len, cfg, &eb)) fail_msg("%s: %s", what, eb.msg);
  assert_int_equal(cohort_vm_new(&ref, elf, len, in, in_len, cfg, NULL), 0);
  cohort_vm_set_tier(ref, COHORT_VM_TIER_INTERP);
  jit->jit_min = 1; /* translate even the shortest runs */
  cohort_vm_info s;
  uint64_t at = 0;
  for (int i = 0;; i++) {
    uint64_t n = 1 + rnd(g) % max_slice, dj, dr;
    if (i % 5 == 4) n = 1 + rnd(g) % 70; /* short slices: stop inside blocks */
    cohort_vm_run(jit, n, &dj);
    cohort_vm_run(ref, n, &dr);
    assert_int_equal(dj, dr);
    at += dj;
    expect_same(jit, ref, what, at);
    cohort_vm_get_info(jit, &s);
    if (s.status != COHORT_VM_RUNNING) break;
  }
  size_t lj, lr;
  const uint8_t *oj = cohort_vm_output(jit, &lj), *orf = cohort_vm_output(ref, &lr);
  assert_int_equal(lj, lr);
  if (lj) assert_memory_equal(oj, orf, lj);
  uint64_t ran = jit->jit_steps;
  assert_int_equal(ref->jit_steps, 0);
  if (jit->jit_pauses) fail_msg("%s: the translator went over its translation budget", what);
  cohort_vm_del(jit);
  cohort_vm_del(ref);
  return ran;
}

static void example(const char *name, const char *input, rng *g) {
  size_t len = 0;
  uint8_t *elf = t_guest(name, &len);
  assert_non_null(elf);
  uint64_t ran = differential(elf, len, (const uint8_t *)input, strlen(input), NULL, g, 300000, name);
  if (ran == 0) fail_msg("%s: the translator never ran", name);
  free(elf);
}

static void test_examples(void **st) {
  (void)st;
  rng g = {42};
  example("sieve", "300000", &g);
  example("matmul", "40 3", &g);
  example("mandel", "80 40 60", &g);
  example("wc", "the quick brown fox\njumps over the lazy dog\n  and again\n", &g);
  static char big[20000];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + (i * 7919) % 26);
  example("sha256", big, &g);
  static const char *extra[] = {"bignum", "jpegish", "coremark", "qsort", "hashtab"};
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.elf", COHORT_GUEST_DIR, extra[i]);
    if (access(path, R_OK) == 0) example(extra[i], "", &g);
  }
}

/* ---- random programs ----
 * Registers 1..28 random, x31 = data page + 2048, x30 and x29 loop
 * counters. An outer loop around a few counted loops whose bodies mix every
 * RV32IM operation,
 * loads and stores (mostly to the data page, sometimes anywhere: faults),
 * forward branches and jumps, jalr to computed targets (sometimes bad),
 * and system calls (write, brk, an unknown one: trap). */
static size_t gen_prog(rng *g, uint32_t *c, size_t cap, int hostile) {
  size_t n = 0;
  static const uint32_t vals[] = {0, 1, 2, 3, 0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 31, 32, 0xFFFFFF80u};
  for (uint32_t r = 1; r <= 29; r++)
    n += (size_t)emit_li(c + n, r, rnd(g) % 3 ? vals[rnd(g) % 10] : rnd(g) ^ (rnd(g) << 13));
  n += (size_t)emit_li(c + n, 31, T_DATA + 2048);
  n += (size_t)emit_li(c + n, 29, 2 + rnd(g) % 12);
  size_t outer = n;
  int loops = 1 + (int)(rnd(g) % 3);
  for (int l = 0; l < loops && n + 200 < cap; l++) {
    n += (size_t)emit_li(c + n, 30, 20 + rnd(g) % 200);
    size_t top = n, body = 8 + rnd(g) % 60;
    for (size_t i = 0; i < body && n + 40 < cap; i++) {
      uint32_t k = rnd(g) % 100, rd = 1 + rnd(g) % 28, rs1 = rnd(g) % 32, rs2 = rnd(g) % 32;
      if (rs1 >= 29) rs1 = 0;
      if (k < 30) {
        static const uint32_t f[][2] = {{0, 0}, {0x20, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0x20, 5}, {0, 6},
                                        {0, 7}, {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}};
        uint32_t j = rnd(g) % 18;
        c[n++] = enc_r(f[j][0], rs2, rs1, f[j][1], rd, 0x33);
      } else if (k < 48) {
        uint32_t f3 = rnd(g) % 8;
        int32_t imm = (int32_t)(rnd(g) % 4096) - 2048;
        if (f3 == 1) imm = (int32_t)(rnd(g) % 32);
        if (f3 == 5) imm = (int32_t)(rnd(g) % 32) | (rnd(g) % 2 ? 0x400 : 0);
        c[n++] = enc_i(imm, rs1, f3, rd, 0x13);
      } else if (k < 52) {
        c[n++] = enc_u(rnd(g) & 0xFFFFF, rd, rnd(g) % 2 ? 0x37 : 0x17);
      } else if (k < 64) { /* loads */
        static const uint32_t f3s[] = {0, 1, 2, 4, 5};
        uint32_t f3 = f3s[rnd(g) % 5], size = f3 == 2 ? 4 : (f3 & 3) == 1 ? 2 : 1;
        int32_t off = ((int32_t)(rnd(g) % 4096) - 2048) & ~(int32_t)(size - 1);
        uint32_t base = 31;
        if (hostile && rnd(g) % 40 == 0) base = rs1;    /* anywhere: may fault */
        if (hostile && rnd(g) % 40 == 0) off |= 1;       /* misaligned */
        c[n++] = enc_i(off, base, f3, rd, 0x03);
      } else if (k < 76) { /* stores */
        uint32_t f3 = rnd(g) % 3, size = 1u << f3;
        int32_t off = ((int32_t)(rnd(g) % 4096) - 2048) & ~(int32_t)(size - 1);
        uint32_t base = 31;
        if (hostile && rnd(g) % 40 == 0) base = rs1;
        if (hostile && rnd(g) % 60 == 0) off |= 2;
        c[n++] = enc_s(off, rs2, base, f3);
      } else if (k < 86) { /* forward branch inside the body */
        static const uint32_t f3s[] = {0, 1, 4, 5, 6, 7};
        uint32_t skip = 1 + rnd(g) % 4;
        c[n++] = enc_b((int32_t)(4 * (skip + 1)), rs2, rs1, f3s[rnd(g) % 6]);
      } else if (k < 90) {
        uint32_t skip = 1 + rnd(g) % 4;
        c[n++] = enc_j((int32_t)(4 * (skip + 1)), rd);
      } else if (k < 94) { /* auipc t, 0; jalr rd, t, 8..: a computed forward jump */
        uint32_t t = 1 + rnd(g) % 29, skip = rnd(g) % 3;
        c[n++] = enc_u(0, t, 0x17);
        int32_t imm = (int32_t)(8 + 4 * skip);
        if (hostile && rnd(g) % 10 == 0) imm |= (int32_t)(1 + rnd(g) % 3); /* odd, misaligned */
        c[n++] = enc_i(imm, t, 0, rd, 0x67);
      } else if (k < 97 && hostile) { /* system calls */
        uint32_t which = rnd(g) % 4;
        static const uint32_t nr[] = {64, 64, 214, 222};
        n += (size_t)emit_li(c + n, 10, which == 0 ? 1 : 2);
        n += (size_t)emit_li(c + n, 11, T_DATA + (rnd(g) % 4000));
        n += (size_t)emit_li(c + n, 12, rnd(g) % 300);
        if (which == 2) n += (size_t)emit_li(c + n, 10, T_DATA + 8192 + (rnd(g) % 3) * 4096);
        n += (size_t)emit_li(c + n, 17, nr[which]);
        c[n++] = ECALL;
      } else {
        c[n++] = 0x0FF0000Fu; /* fence */
      }
    }
    c[n++] = ADDI(30, 30, -1);
    c[n] = enc_b(-(int32_t)(4 * (n - top)), 0, 30, 1); /* bne x30, x0, top */
    n++;
  }
  c[n++] = ADDI(29, 29, -1);
  c[n] = enc_b(-(int32_t)(4 * (n - outer)), 0, 29, 1);
  n++;
  n += (size_t)emit_li(c + n, 10, 1);
  n += (size_t)emit_li(c + n, 11, T_DATA);
  n += (size_t)emit_li(c + n, 12, 4096);
  n += (size_t)emit_li(c + n, 17, 64);
  c[n++] = ECALL;
  n += (size_t)emit_li(c + n, 17, 93);
  c[n++] = ECALL;
  return n;
}

static void test_random_programs(void **st) {
  (void)st;
  static uint32_t code[2048];
  uint64_t ran = 0;
  for (uint64_t seed = 1; seed <= 400; seed++) {
    rng g = {seed * 0x9E3779B97F4A7C15ull};
    int hostile = seed % 4 != 0;
    size_t n = gen_prog(&g, code, 1900, hostile);
    uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)rnd(&g);
    t_elf e = t_make_elf(code, n, data, sizeof data, 8192);
    cohort_vm_config cfg;
    cohort_vm_config_default(&cfg);
    cfg.mem_cap = COHORT_VM_MEM_MIN;
    cfg.max_steps = 1 + rnd(&g) % 300000; /* a random step cap */
    char what[64];
    snprintf(what, sizeof what, "random program seed %llu", (unsigned long long)seed);
    ran += differential(e.buf, e.len, NULL, 0, &cfg, &g, 40000, what);
    free(e.buf);
  }
  assert_true(ran > 1000000);
}

/* A long loop run to a step cap in one call: translated code must stop at
 * exactly the cap, wherever it falls inside a block. */
static void test_step_caps(void **st) {
  (void)st;
  size_t len = 0;
  uint8_t *elf = t_guest("mandel", &len);
  assert_non_null(elf);
  rng g = {7};
  for (int i = 0; i < 30; i++) {
    cohort_vm_config cfg;
    cohort_vm_config_default(&cfg);
    cfg.max_steps = 20000 + rnd(&g) % 3000000;
    cohort_vm *a, *b;
    assert_int_equal(cohort_vm_new(&a, elf, len, (const uint8_t *)"120 90 255", 10, &cfg, NULL), 0);
    assert_int_equal(cohort_vm_new(&b, elf, len, (const uint8_t *)"120 90 255", 10, &cfg, NULL), 0);
    cohort_vm_set_tier(b, COHORT_VM_TIER_INTERP);
    cohort_vm_run(a, UINT64_MAX, NULL);
    cohort_vm_run(b, UINT64_MAX, NULL);
    cohort_vm_info s;
    cohort_vm_get_info(a, &s);
    assert_int_equal(s.status, COHORT_VM_OUT_OF_STEPS);
    assert_int_equal(s.step, cfg.max_steps);
    assert_true(a->jit_steps > 0);
    expect_same(a, b, "mandel step cap", cfg.max_steps);
    cohort_vm_del(a);
    cohort_vm_del(b);
  }
  free(elf);
}

/* The translation budget (docs/vm.md §6a): 8192 words of "beq x0, x0,
 * +8" and a jump back. Every taken branch lands on a new block start, each
 * superblock translated runs one step, and the code buffer overflows every
 * loop, so without a budget every step costs a translation (tens of us).
 * The translator must go over its budget and leave the rest to the
 * interpreter, and reach the same state. */
static uint32_t enc_jal(int32_t off, unsigned rd) {
  uint32_t i = (uint32_t)off;
  return (i >> 20 & 1) << 31 | (i >> 1 & 0x3ff) << 21 | (i >> 11 & 1) << 20 | (i >> 12 & 0xff) << 12 |
         rd << 7 | 0x6f;
}

static void test_translation_budget(void **st) {
  (void)st;
  enum { N = 8192 };
  static uint32_t code[N + 1];
  for (int i = 0; i < N; i++) code[i] = 0x00000463; /* beq x0, x0, +8 */
  code[N] = enc_jal(-4 * N, 0);
  t_elf e = t_make_elf(code, N + 1, NULL, 0, 0);
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  cfg.max_steps = 2000000;
  cohort_vm *a, *b;
  assert_int_equal(cohort_vm_new(&a, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  assert_int_equal(cohort_vm_new(&b, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  cohort_vm_set_tier(b, COHORT_VM_TIER_INTERP);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_run(b, UINT64_MAX, NULL);
  assert_true(a->jit_steps > 0);   /* it did translate */
  assert_true(a->jit_pauses > 0);  /* and stopped when it cost more than it ran */
  assert_true(a->jit_steps < cfg.max_steps / 2);
  expect_same(a, b, "translator thrash", cfg.max_steps);
  cohort_vm_del(a);
  cohort_vm_del(b);
  free(e.buf);
}

/* A code segment of 12 file bytes and 128 MiB of memory (attacker
 * review): the words past the file are zero for ever, so the handle
 * pre-decodes only the file's page, and a jump into the zero part traps as
 * an illegal instruction there, in every tier. (It used to cost 8 + 24
 * bytes of host memory per word before running a step.) */
static void test_huge_code_segment(void **st) {
  (void)st;
  uint32_t code[3] = {enc_jal(0x80000, 0), 0, 0}; /* 512 KiB on, into the zero part */
  t_elf e = t_make_elf(code, 3, NULL, 0, 0);
  t_put32(e.buf + 52 + 20, 0x8000000); /* p_memsz of the code segment: 128 MiB */
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  cfg.mem_cap = 256u << 20;
  cohort_vm *a, *b;
  assert_int_equal(cohort_vm_new(&a, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  assert_int_equal(cohort_vm_new(&b, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  assert_true(a->code_n <= 1024);
  cohort_vm_info s;
  cohort_vm_get_info(a, &s);
  assert_int_equal(s.exec_hi - s.exec_lo, 0x8000000); /* the state keeps the whole segment */
  a->jit_min = 1;
  cohort_vm_set_tier(b, COHORT_VM_TIER_INTERP);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_run(b, UINT64_MAX, NULL);
  cohort_vm_get_info(a, &s);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  assert_int_equal(s.code, COHORT_VM_TRAP_ILLEGAL);
  assert_int_equal(s.pc, T_CODE + 0x80000);
  expect_same(a, b, "huge code segment", s.step);
  cohort_vm_del(a);
  /* and one step at a time, as proofs see it */
  assert_int_equal(cohort_vm_new(&a, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  while (cohort_vm_get_info(a, &s), s.status == COHORT_VM_RUNNING) cohort_vm_step(a);
  expect_same(a, b, "huge code segment, reference steps", s.step);
  cohort_vm_del(a);
  cohort_vm_del(b);
  free(e.buf);
}

/* A handle that translated, cloned or traced, keeps agreeing. */
static void test_clone_and_trace(void **st) {
  (void)st;
  size_t len = 0;
  uint8_t *elf = t_guest("sieve", &len);
  assert_non_null(elf);
  cohort_vm *a, *b;
  assert_int_equal(cohort_vm_new(&a, elf, len, (const uint8_t *)"200000", 6, NULL, NULL), 0);
  assert_int_equal(cohort_vm_new(&b, elf, len, (const uint8_t *)"200000", 6, NULL, NULL), 0);
  cohort_vm_set_tier(b, COHORT_VM_TIER_INTERP);
  cohort_vm_run(a, 700001, NULL);
  cohort_vm_run(b, 700001, NULL);
  cohort_vm *c;
  assert_int_equal(cohort_vm_clone(&c, a), 0);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_run(b, UINT64_MAX, NULL);
  cohort_vm_run(c, UINT64_MAX, NULL);
  expect_same(a, b, "sieve", 0);
  expect_same(c, b, "sieve clone", 0);
  /* trace with translated replays agrees with a fresh interpreted replay */
  cohort_vm *t0;
  assert_int_equal(cohort_vm_new(&t0, elf, len, (const uint8_t *)"200000", 6, NULL, NULL), 0);
  cohort_vm_trace *t;
  assert_int_equal(cohort_vm_trace_new(&t, t0, 1 << 18), 0);
  assert_int_equal(cohort_vm_trace_run(t, t0, UINT64_MAX, NULL), 0);
  expect_same(t0, b, "sieve traced", 0);
  cohort_vm_info fin;
  cohort_vm_get_info(b, &fin);
  rng g = {99};
  for (int i = 0; i < 6; i++) {
    uint64_t k = rnd(&g) % fin.step;
    cohort_vm *at, *fresh;
    assert_int_equal(cohort_vm_trace_seek(t, k, &at), 0);
    assert_int_equal(cohort_vm_new(&fresh, elf, len, (const uint8_t *)"200000", 6, NULL, NULL), 0);
    cohort_vm_set_tier(fresh, COHORT_VM_TIER_INTERP);
    cohort_vm_run(fresh, k, NULL);
    expect_same(at, fresh, "trace seek", k);
    cohort_vm_del(fresh);
  }
  cohort_vm_trace_del(t);
  cohort_vm_del(t0);
  cohort_vm_del(a);
  cohort_vm_del(b);
  cohort_vm_del(c);
  free(elf);
}

int main(void) {
  if (core_init() != 0) return 1;
  if (!cohort_vm_jit_available()) {
    printf("no translator on this host: nothing to compare\n");
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_examples),
      cmocka_unit_test(test_random_programs),
      cmocka_unit_test(test_translation_budget),
      cmocka_unit_test(test_huge_code_segment),
      cmocka_unit_test(test_step_caps),
      cmocka_unit_test(test_clone_and_trace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
