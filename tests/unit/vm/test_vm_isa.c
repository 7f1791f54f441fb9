/* tests/unit/vm/test_vm_isa.c — directed tests of the RV32IM semantics,
 * traps, system calls, step accounting and the strict ELF loader. Expected
 * values come from the RISC-V specification (unprivileged ISA, chapters
 * RV32I and M), not from the code under test. Every program is run both on
 * the fast path and by the reference step function; their final state
 * hashes must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"

#define MAXC 256

typedef struct {
  uint32_t c[MAXC];
  size_t n;
} prog;

static void li(prog *p, uint32_t rd, uint32_t v) { p->n += (size_t)emit_li(p->c + p->n, rd, v); }
static void op(prog *p, uint32_t w) { p->c[p->n++] = w; }
static void exit_(prog *p) {
  li(p, 17, 93);
  op(p, ECALL);
}

/* Runs p (+ data page) on both paths, checks they agree, returns the state. */
static cohort_vm_info run_cfg(prog *p, const uint8_t *data, size_t ndata, const uint8_t *in, size_t in_len,
                              const cohort_vm_config *cfg, cohort_vm **keep) {
  uint8_t zero[4096] = {0};
  if (!data) data = zero, ndata = sizeof zero;
  t_elf e = t_make_elf(p->c, p->n, data, ndata, 8192);
  cohort_vm *a, *b;
  core_errbuf eb = {{0}};
  int rc = cohort_vm_new(&a, e.buf, e.len, in, in_len, cfg, &eb);
  if (rc) fail_msg("load: %s", eb.msg);
  assert_int_equal(cohort_vm_new(&b, e.buf, e.len, in, in_len, cfg, NULL), 0);
  free(e.buf);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_info sb;
  for (int i = 0; i < 100000; i++) {
    cohort_vm_get_info(b, &sb);
    if (sb.status != COHORT_VM_RUNNING) break;
    cohort_vm_step(b);
  }
  uint8_t ha[32], hb[32];
  cohort_vm_state_hash(a, ha);
  cohort_vm_state_hash(b, hb);
  assert_memory_equal(ha, hb, 32);
  cohort_vm_info s;
  cohort_vm_get_info(a, &s);
  if (keep) *keep = a;
  else cohort_vm_del(a);
  cohort_vm_del(b);
  return s;
}
static cohort_vm_info run(prog *p) { return run_cfg(p, NULL, 0, NULL, 0, NULL, NULL); }

static void test_alu_rr(void **st) {
  (void)st;
  static const struct {
    uint32_t f7, f3, a, b, want;
  } t[] = {
      {0, 0, 5, 7, 12},                        /* add */
      {0, 0, 0xFFFFFFFF, 1, 0},                /* add wraps */
      {0x20, 0, 5, 7, 0xFFFFFFFE},             /* sub */
      {0, 1, 1, 33, 2},                        /* sll masks shamt to 5 bits */
      {0, 2, 0xFFFFFFFF, 1, 1},                /* slt: -1 < 1 */
      {0, 3, 0xFFFFFFFF, 1, 0},                /* sltu */
      {0, 4, 0xF0F0, 0xFF00, 0x0FF0},          /* xor */
      {0, 5, 0x80000000, 31, 1},               /* srl */
      {0x20, 5, 0x80000000, 31, 0xFFFFFFFF},   /* sra */
      {0x20, 5, 0x80000000, 32, 0x80000000},   /* sra by 32 = by 0 */
      {0, 6, 0xF0, 0x0F, 0xFF},                /* or */
      {0, 7, 0xF0, 0x3C, 0x30},                /* and */
      {1, 0, 0x10000, 0x10000, 0},             /* mul low bits */
      {1, 0, 0xFFFFFFFF, 0xFFFFFFFF, 1},       /* mul */
      {1, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0},       /* mulh (-1*-1)>>32 */
      {1, 1, 0x80000000, 0x80000000, 0x40000000},
      {1, 2, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, /* mulhsu -1 * (2^32-1) */
      {1, 3, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE}, /* mulhu */
      {1, 4, 7, 0xFFFFFFFE, 0xFFFFFFFD},       /* div 7 / -2 = -3 (truncates) */
      {1, 4, 7, 0, 0xFFFFFFFF},                /* div by zero = -1 */
      {1, 4, 0x80000000, 0xFFFFFFFF, 0x80000000}, /* overflow */
      {1, 5, 7, 0, 0xFFFFFFFF},                /* divu by zero */
      {1, 5, 0xFFFFFFFE, 2, 0x7FFFFFFF},
      {1, 6, 0xFFFFFFF9, 2, 0xFFFFFFFF},       /* rem -7 % 2 = -1 */
      {1, 6, 7, 0, 7},                         /* rem by zero = dividend */
      {1, 6, 0x80000000, 0xFFFFFFFF, 0},       /* overflow rem = 0 */
      {1, 7, 7, 0, 7},                         /* remu by zero */
      {1, 7, 0xFFFFFFFF, 10, 5},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    prog p = {{0}, 0};
    li(&p, 6, t[i].a);
    li(&p, 7, t[i].b);
    op(&p, enc_r(t[i].f7, 7, 6, t[i].f3, 5, 0x33));
    op(&p, enc_r(t[i].f7, 7, 6, t[i].f3, 0, 0x33)); /* to x0: no effect */
    exit_(&p);
    cohort_vm_info s = run(&p);
    assert_int_equal(s.status, COHORT_VM_EXITED);
    if (s.x[5] != t[i].want) fail_msg("case %zu: got 0x%08x want 0x%08x", i, s.x[5], t[i].want);
    assert_int_equal(s.x[0], 0);
  }
}

static void test_alu_imm_upper(void **st) {
  (void)st;
  prog p = {{0}, 0};
  li(&p, 6, 0x80000001);
  op(&p, enc_i(-1, 6, 0, 5, 0x13));        /* addi x5 = 0x80000000 */
  op(&p, enc_i(-1, 6, 2, 7, 0x13));        /* slti: negative < -1 → 1 */
  op(&p, enc_i(-1, 6, 3, 8, 0x13));        /* sltiu vs 0xFFFFFFFF → 1 */
  op(&p, enc_i(0x7FF, 6, 4, 9, 0x13));     /* xori */
  op(&p, enc_i(4, 6, 1, 11, 0x13));        /* slli */
  op(&p, enc_i(0x400 | 4, 6, 5, 12, 0x13)); /* srai */
  op(&p, enc_i(4, 6, 5, 13, 0x13));        /* srli */
  op(&p, LUI(14, 0xABCDE));
  op(&p, enc_u(1, 15, 0x17));              /* auipc */
  op(&p, LUI(0, 1));                       /* write to x0 ignored */
  op(&p, enc_i(0x0F0, 6, 6, 16, 0x13));    /* ori  0x80000001 | 0xF0 */
  op(&p, enc_i(-2, 6, 7, 18, 0x13));       /* andi 0x80000001 & 0xFFFFFFFE */
  op(&p, 0x0FF0000Fu);                     /* fence: no-op */
  exit_(&p);
  cohort_vm_info s = run(&p);
  assert_int_equal(s.x[5], 0x80000000u);
  assert_int_equal(s.x[7], 1);
  assert_int_equal(s.x[8], 1);
  assert_int_equal(s.x[9], 0x800007FEu);
  assert_int_equal(s.x[11], 0x00000010u);
  assert_int_equal(s.x[12], 0xF8000000u);
  assert_int_equal(s.x[13], 0x08000000u);
  assert_int_equal(s.x[14], 0xABCDE000u);
  assert_int_equal(s.x[15], T_CODE + 4 * 10 + 0x1000);
  assert_int_equal(s.x[16], 0x800000F1u);
  assert_int_equal(s.x[18], 0x80000000u);
  assert_int_equal(s.x[0], 0);
  assert_int_equal(s.status, COHORT_VM_EXITED);
}

/* Every branch, taken and not taken, on signed/unsigned edge values. */
static void test_branch_table(void **st) {
  (void)st;
  static const struct {
    uint32_t f3, a, b;
    int taken;
  } t[] = {
      {0, 5, 5, 1}, {0, 5, 6, 0},                                   /* beq */
      {1, 5, 6, 1}, {1, 7, 7, 0},                                   /* bne */
      {4, 0x80000000u, 0x7FFFFFFFu, 1}, {4, 1, 0xFFFFFFFFu, 0},     /* blt signed */
      {5, 0xFFFFFFFFu, 0xFFFFFFFFu, 1}, {5, 0xFFFFFFFFu, 0, 0},     /* bge */
      {6, 1, 0xFFFFFFFFu, 1}, {6, 0x80000000u, 0x7FFFFFFFu, 0},     /* bltu */
      {7, 0x80000000u, 0x7FFFFFFFu, 1}, {7, 0, 1, 0},               /* bgeu */
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    prog p = {{0}, 0};
    li(&p, 6, t[i].a);
    li(&p, 7, t[i].b);
    li(&p, 5, 0);
    op(&p, enc_b(8, 7, 6, t[i].f3));
    op(&p, ADDI(5, 5, 1)); /* skipped when taken */
    exit_(&p);
    cohort_vm_info s = run(&p);
    if (s.x[5] != (t[i].taken ? 0u : 1u)) fail_msg("branch case %zu: taken=%d expected", i, t[i].taken);
  }
}

static void test_loads_stores(void **st) {
  (void)st;
  uint8_t data[4096] = {0};
  data[0] = 0x80; data[1] = 0xFF; data[2] = 0x34; data[3] = 0x12;
  prog p = {{0}, 0};
  li(&p, 31, T_DATA);
  op(&p, enc_i(0, 31, 0, 5, 0x03));  /* lb  -> 0xFFFFFF80 */
  op(&p, enc_i(0, 31, 4, 6, 0x03));  /* lbu -> 0x80 */
  op(&p, enc_i(0, 31, 1, 7, 0x03));  /* lh  -> 0xFFFFFF80 */
  op(&p, enc_i(2, 31, 5, 8, 0x03));  /* lhu -> 0x1234 */
  op(&p, enc_i(0, 31, 2, 9, 0x03));  /* lw  -> 0x1234FF80 */
  li(&p, 10, 0xA1B2C3D4);
  op(&p, enc_s(100, 10, 31, 0));     /* sb */
  op(&p, enc_s(102, 10, 31, 1));     /* sh */
  op(&p, enc_s(4096, 10, 31, 2) & 0); /* placeholder nop-like (illegal 0) replaced below */
  p.n--;
  li(&p, 11, T_DATA + 4096);
  op(&p, enc_s(-4, 10, 11, 2));      /* sw at data+4092 */
  op(&p, enc_i(100, 31, 2, 12, 0x03)); /* lw data+100 -> 0xC3D400D4 */
  op(&p, enc_i(-4, 11, 2, 13, 0x03));
  exit_(&p);
  cohort_vm_info s = run_cfg(&p, data, sizeof data, NULL, 0, NULL, NULL);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal(s.x[5], 0xFFFFFF80u);
  assert_int_equal(s.x[6], 0x80u);
  assert_int_equal(s.x[7], 0xFFFFFF80u);
  assert_int_equal(s.x[8], 0x1234u);
  assert_int_equal(s.x[9], 0x1234FF80u);
  assert_int_equal(s.x[12], 0xC3D400D4u);
  assert_int_equal(s.x[13], 0xA1B2C3D4u);
}

static void test_branches_jumps(void **st) {
  (void)st;
  prog p = {{0}, 0};
  li(&p, 6, 0xFFFFFFFF);
  li(&p, 7, 1);
  li(&p, 5, 0);
  /* each taken branch skips an "addi x5, x5, 100" */
  static const uint32_t f3[] = {1, 4, 7}; /* bne, blt (-1<1), bgeu */
  for (int i = 0; i < 3; i++) {
    op(&p, enc_b(8, 7, 6, f3[i]));
    op(&p, ADDI(5, 5, 100));
    op(&p, ADDI(5, 5, 1));
  }
  static const uint32_t nt[] = {0, 5, 6}; /* beq, bge, bltu: not taken */
  for (int i = 0; i < 3; i++) {
    op(&p, enc_b(8, 7, 6, nt[i]));
    op(&p, ADDI(5, 5, 10));
  }
  op(&p, enc_j(8, 1));          /* jal ra, +8 */
  op(&p, ADDI(5, 5, 1000));
  size_t here = p.n;
  op(&p, enc_u(0, 28, 0x17));   /* auipc t3, 0 */
  op(&p, enc_i(17, 28, 0, 29, 0x67)); /* jalr t4, 17(t3): target & ~1 = +16 */
  op(&p, ADDI(5, 5, 1000));
  op(&p, ADDI(5, 5, 1000));
  exit_(&p);
  cohort_vm_info s = run(&p);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal(s.x[5], 33);
  assert_int_equal(s.x[1], T_CODE + 4 * (here - 1));
  assert_int_equal(s.x[29], T_CODE + 4 * (here + 2));
}

static void expect_trap(prog *p, uint32_t reason, uint32_t pc_index) {
  cohort_vm_info s = run(p);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  if (s.code != reason) fail_msg("trap %s, want %s", cohort_vm_trap_str(s.code), cohort_vm_trap_str(reason));
  if (pc_index != UINT32_MAX) assert_int_equal(s.pc, T_CODE + 4 * pc_index);
}

static void test_traps(void **st) {
  (void)st;
  prog p;
  uint32_t words[] = {0x00000000u, 0xFFFFFFFFu, 0x4501u /* c.li */, 0x0000100Fu /* fence.i */,
                      0x00053007u /* flw */, 0x30200073u /* mret */, 0x0005202Fu /* amo */};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    p = (prog){{0}, 0};
    op(&p, ADDI(5, 0, 1));
    op(&p, words[i]);
    expect_trap(&p, COHORT_VM_TRAP_ILLEGAL, 1);
  }
  p = (prog){{0}, 0};
  op(&p, EBREAK);
  expect_trap(&p, COHORT_VM_TRAP_EBREAK, 0);
  p = (prog){{0}, 0};
  op(&p, 0xC0002573u); /* rdcycle a0 */
  expect_trap(&p, COHORT_VM_TRAP_CSR, 0);
  p = (prog){{0}, 0};
  li(&p, 6, T_DATA + 1);
  op(&p, enc_i(0, 6, 2, 5, 0x03));
  expect_trap(&p, COHORT_VM_TRAP_LOAD_MISALIGNED, 2);
  p = (prog){{0}, 0};
  li(&p, 6, T_DATA + 2);
  op(&p, enc_s(0, 5, 6, 2));
  expect_trap(&p, COHORT_VM_TRAP_STORE_MISALIGNED, 2);
  p = (prog){{0}, 0};
  op(&p, enc_i(16, 0, 2, 5, 0x03)); /* lw from address 16: below RAM */
  expect_trap(&p, COHORT_VM_TRAP_LOAD_FAULT, 0);
  p = (prog){{0}, 0};
  li(&p, 6, 0x7FFFFFF0);            /* above the memory cap */
  op(&p, enc_i(0, 6, 0, 5, 0x03));
  expect_trap(&p, COHORT_VM_TRAP_LOAD_FAULT, 2);
  p = (prog){{0}, 0};
  li(&p, 6, T_CODE);                /* store into code */
  op(&p, enc_s(0, 5, 6, 2));
  expect_trap(&p, COHORT_VM_TRAP_STORE_FAULT, 2);
  p = (prog){{0}, 0};
  li(&p, 6, COHORT_VM_INPUT_BASE);  /* input region is not addressable */
  op(&p, enc_i(0, 6, 0, 5, 0x03));
  expect_trap(&p, COHORT_VM_TRAP_LOAD_FAULT, 2);
  p = (prog){{0}, 0};
  op(&p, enc_j(6, 1));              /* jal to pc+6 */
  expect_trap(&p, COHORT_VM_TRAP_JUMP_MISALIGNED, 0);
  p = (prog){{0}, 0};
  op(&p, enc_b(-2, 0, 0, 0));       /* beq x0,x0 to pc-2 */
  expect_trap(&p, COHORT_VM_TRAP_JUMP_MISALIGNED, 0);
  p = (prog){{0}, 0};
  op(&p, enc_b(10, 2, 0, 0));       /* beq x0, sp: not taken: no trap even if misaligned */
  op(&p, EBREAK);
  expect_trap(&p, COHORT_VM_TRAP_EBREAK, 1);
  p = (prog){{0}, 0};
  li(&p, 6, T_DATA);                /* jump into data: fetch fault at target */
  op(&p, enc_i(0, 6, 0, 1, 0x67));
  cohort_vm_info s = run(&p);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  assert_int_equal(s.code, COHORT_VM_TRAP_FETCH);
  assert_int_equal(s.pc, T_DATA);
  assert_int_equal(s.step, 4); /* lui, addi, jalr retire; the fetch fault is the 4th step */
  p = (prog){{0}, 0};
  li(&p, 17, 222);                  /* mmap: not supported */
  op(&p, ECALL);
  expect_trap(&p, COHORT_VM_TRAP_SYSCALL, 2);
}

/* Running off the end of a full code page: the fetch at exec_hi faults
 * (and the fast path must not read past its decoded code). */
static void test_fall_off_code(void **st) {
  (void)st;
  static uint32_t big[1024];
  for (int i = 0; i < 1024; i++) big[i] = ADDI(5, 5, 1);
  t_elf e = t_make_elf(big, 1024, (const uint8_t[16]){0}, 16, 16);
  cohort_vm *a, *b;
  assert_int_equal(cohort_vm_new(&a, e.buf, e.len, NULL, 0, NULL, NULL), 0);
  assert_int_equal(cohort_vm_new(&b, e.buf, e.len, NULL, 0, NULL, NULL), 0);
  free(e.buf);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_info s;
  for (;;) {
    cohort_vm_get_info(b, &s);
    if (s.status != COHORT_VM_RUNNING) break;
    cohort_vm_step(b);
  }
  cohort_vm_get_info(a, &s);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  assert_int_equal(s.code, COHORT_VM_TRAP_FETCH);
  assert_int_equal(s.pc, T_CODE + 4096);
  assert_int_equal(s.step, 1025);
  assert_int_equal(s.x[5], 1024);
  uint8_t ha[32], hb[32];
  cohort_vm_state_hash(a, ha);
  cohort_vm_state_hash(b, hb);
  assert_memory_equal(ha, hb, 32);
  cohort_vm_del(a);
  cohort_vm_del(b);
}

static void test_step_cap_and_halt(void **st) {
  (void)st;
  prog p = {{0}, 0};
  op(&p, ADDI(5, 5, 1));
  op(&p, enc_j(-4, 0)); /* loop forever */
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  cfg.max_steps = 1001;
  cohort_vm *vm;
  cohort_vm_info s = run_cfg(&p, NULL, 0, NULL, 0, &cfg, &vm);
  assert_int_equal(s.status, COHORT_VM_OUT_OF_STEPS);
  assert_int_equal(s.step, 1001);
  assert_int_equal(s.x[5], 501);
  uint8_t h1[32], h2[32];
  cohort_vm_state_hash(vm, h1);
  cohort_vm_step(vm);
  uint64_t done = 7;
  cohort_vm_run(vm, 100, &done);
  assert_int_equal(done, 0);
  cohort_vm_state_hash(vm, h2);
  assert_memory_equal(h1, h2, 32); /* halted states never change */
  /* run in slices gives the same state as one run */
  cohort_vm *c;
  t_elf e = t_make_elf(p.c, p.n, (const uint8_t[4096]){0}, 4096, 8192);
  assert_int_equal(cohort_vm_new(&c, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  for (int i = 0; i < 20; i++) cohort_vm_run(c, 37, NULL);
  cohort_vm_run(c, UINT64_MAX, NULL);
  cohort_vm_state_hash(c, h2);
  assert_memory_equal(h1, h2, 32);
  cohort_vm_del(c);
  cohort_vm_del(vm);
  free(e.buf);
  cohort_vm_config_default(&cfg);
  cfg.max_steps = 0;
  e = t_make_elf(p.c, p.n, NULL, 0, 0);
  assert_int_equal(cohort_vm_new(&c, e.buf, e.len, NULL, 0, &cfg, NULL), COHORT_ERR_INVALID);
  assert_null(c);
  free(e.buf);
}

static size_t log_bytes;
static void on_log(void *ctx, const uint8_t *b, size_t n) {
  (void)ctx;
  (void)b;
  log_bytes += n;
}

static void sys(prog *p, uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t save_to) {
  li(p, 10, a0);
  li(p, 11, a1);
  li(p, 12, a2);
  li(p, 17, nr);
  op(p, ECALL);
  op(p, ADDI(save_to, 10, 0));
}

static void test_syscalls(void **st) {
  (void)st;
  const char *input = "hello, cohort input that is longer than one leaf of 32 bytes";
  size_t in_len = strlen(input);
  prog p = {{0}, 0};
  sys(&p, 63, 0, T_DATA + 100, 50, 20);      /* read 50 (unaligned dst, crosses a leaf) */
  sys(&p, 63, 0, T_DATA + 200, 50, 21);      /* read the rest: in_len - 50 */
  sys(&p, 63, 0, T_DATA + 300, 50, 22);      /* EOF: 0 */
  sys(&p, 63, 3, T_DATA, 1, 23);             /* bad fd: -EBADF */
  sys(&p, 63, 0, 0x100, 4, 24);              /* bad buffer: -EFAULT */
  sys(&p, 63, 0, T_CODE, 4, 25);             /* code is read-only: -EFAULT */
  sys(&p, 64, 1, T_DATA + 100, 50, 26);      /* write what we read */
  sys(&p, 64, 2, T_DATA + 100, 5, 27);       /* debug log: 5, no state effect */
  sys(&p, 64, 1, 0xFFFFFFF0u, 32, 28);       /* -EFAULT */
  sys(&p, 64, 7, T_DATA, 1, 29);             /* -EBADF */
  sys(&p, 214, 0, 0, 0, 30);                 /* brk(0) = initial brk */
  li(&p, 10, 0);
  op(&p, enc_r(0, 30, 0, 0, 10, 0x33));
  op(&p, enc_i(0x100, 10, 0, 10, 0x13));     /* brk(initial + 0x100) */
  li(&p, 17, 214);
  op(&p, ECALL);
  op(&p, ADDI(31, 10, 0));
  li(&p, 10, 0x7FFFFFFF);                    /* too high: unchanged */
  op(&p, ECALL);
  op(&p, ADDI(19, 10, 0));
  li(&p, 10, 42);
  li(&p, 17, 94);                            /* exit_group(42) */
  op(&p, ECALL);
  log_bytes = 0;
  cohort_vm *vm;
  cohort_vm_info s = run_cfg(&p, NULL, 0, (const uint8_t *)input, in_len, NULL, &vm);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal(s.code, 42);
  assert_int_equal(s.x[20], 50);
  assert_int_equal(s.x[21], in_len - 50);
  assert_int_equal(s.x[22], 0);
  assert_int_equal(s.x[23], (uint32_t)-9);
  assert_int_equal(s.x[24], (uint32_t)-14);
  assert_int_equal(s.x[25], (uint32_t)-14);
  assert_int_equal(s.x[26], 50);
  assert_int_equal(s.x[27], 5);
  assert_int_equal(s.x[28], (uint32_t)-14);
  assert_int_equal(s.x[29], (uint32_t)-9);
  assert_int_equal(s.x[30], 0x22000u); /* end of the 8 KiB data segment */
  assert_int_equal(s.x[31], 0x22100u);
  assert_int_equal(s.x[19], 0x22100u);
  assert_int_equal(s.in_pos, in_len);
  size_t olen;
  const uint8_t *out = cohort_vm_output(vm, &olen);
  assert_int_equal(olen, 50);
  assert_memory_equal(out, input, 50);
  uint8_t mem[64];
  assert_int_equal(cohort_vm_read_mem(vm, T_DATA + 200, mem, in_len - 50), 0);
  assert_memory_equal(mem, input + 50, in_len - 50);
  cohort_vm_del(vm);
  /* a transfer across a 128-byte leaf boundary takes one step per chunk:
   * the first read and the write (100..150) two each, everything else one */
  assert_int_equal(s.step, p.n + 2);

  /* the debug log reaches the hook and changes nothing */
  t_elf e = t_make_elf(p.c, p.n, (const uint8_t[4096]){0}, 4096, 8192);
  cohort_vm *a, *b;
  assert_int_equal(cohort_vm_new(&a, e.buf, e.len, (const uint8_t *)input, in_len, NULL, NULL), 0);
  assert_int_equal(cohort_vm_new(&b, e.buf, e.len, (const uint8_t *)input, in_len, NULL, NULL), 0);
  cohort_vm_set_log(a, on_log, NULL);
  cohort_vm_run(a, UINT64_MAX, NULL);
  cohort_vm_run(b, UINT64_MAX, NULL);
  assert_int_equal(log_bytes, 5);
  uint8_t ha[32], hb[32];
  cohort_vm_state_hash(a, ha);
  cohort_vm_state_hash(b, hb);
  assert_memory_equal(ha, hb, 32);
  cohort_vm_del(a);
  cohort_vm_del(b);
  free(e.buf);
}

static void test_output_limit(void **st) {
  (void)st;
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  cfg.mem_cap = 128u << 20;
  prog p = {{0}, 0};
  sys(&p, 214, T_DATA + COHORT_VM_OUTPUT_MAX + 8192, 0, 0, 6); /* map a buffer that large */
  sys(&p, 64, 1, T_DATA, COHORT_VM_OUTPUT_MAX + 1, 5);
  cohort_vm_info s = run_cfg(&p, NULL, 0, NULL, 0, &cfg, NULL);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  assert_int_equal(s.code, COHORT_VM_TRAP_OUTPUT_LIMIT);
  assert_int_equal(s.out_len, 0);
  /* A run's own cap (a task's declared max_output_bytes): 100 bytes fit,
   * the next write of 50 would pass 120 and traps, keeping the 100. */
  cfg.out_cap = 120;
  prog q = {{0}, 0};
  sys(&q, 64, 1, T_DATA, 100, 5);
  sys(&q, 64, 1, T_DATA, 50, 6);
  s = run_cfg(&q, NULL, 0, NULL, 0, &cfg, NULL);
  assert_int_equal(s.status, COHORT_VM_TRAPPED);
  assert_int_equal(s.code, COHORT_VM_TRAP_OUTPUT_LIMIT);
  assert_int_equal(s.out_len, 100);
  assert_int_equal(s.out_cap, 120);
  cfg.out_cap = COHORT_VM_OUTPUT_MAX + 1;
  cohort_vm *vm = (cohort_vm *)1;
  prog r = {{0}, 0};
  exit_(&r);
  uint8_t zero[4096] = {0};
  t_elf e = t_make_elf(r.c, r.n, zero, sizeof zero, 8192);
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, NULL, 0, &cfg, NULL), COHORT_ERR_INVALID);
  free(e.buf);
}

/* ---- the loader ---- */
static t_elf good_elf(void) {
  uint32_t code[4] = {ADDI(10, 0, 0), ADDI(17, 0, 93), ECALL, 0};
  uint8_t data[16] = {1};
  return t_make_elf(code, 4, data, 16, 64);
}

static void expect_reject(t_elf e, const char *what) {
  cohort_vm *vm = (cohort_vm *)1;
  core_errbuf eb = {{0}};
  int rc = cohort_vm_new(&vm, e.buf, e.len, NULL, 0, NULL, &eb);
  if (rc == 0) fail_msg("accepted: %s", what);
  assert_null(vm);
  assert_true(eb.msg[0] != 0);
  free(e.buf);
}

/* Runs p on a program whose data segment is [T_DATA, T_DATA + 8 KiB),
 * expects the trap `why` at instruction index `at`. */
static void expect_trap_at(prog *p, uint32_t why, size_t at) {
  cohort_vm_info s = run(p);
  if (s.status != COHORT_VM_TRAPPED) fail_msg("no trap, status %s", cohort_vm_status_str(s.status));
  if (s.code != why) fail_msg("trap %s, want %s", cohort_vm_trap_str(s.code), cohort_vm_trap_str(why));
  assert_int_equal(s.pc, T_CODE + 4 * at);
}

/* The Linux memory map: segments, heap up to the page-rounded break, the
 * stack [mem_cap - 8 MiB, mem_cap); nothing else. */
static void test_memory_map(void **st) {
  (void)st;
  const uint32_t brk0 = T_DATA + 8192, stack_lo = COHORT_VM_MEM_DEFAULT - (8u << 20);
  static const struct {
    uint32_t addr;
    int store, ok;
  } t[] = {
      {brk0 - 4, 0, 1},      {brk0 - 4, 1, 1},     {brk0, 0, 0},         {brk0, 1, 0},
      {stack_lo, 0, 1},      {stack_lo, 1, 1},     {stack_lo - 4, 0, 0}, {stack_lo - 4, 1, 0},
      {T_CODE - 4, 0, 0},    {T_CODE, 0, 1},       {T_CODE, 1, 0},       {0x8000000u, 0, 0},
      {COHORT_VM_MEM_DEFAULT - 4, 1, 1},           {COHORT_VM_MEM_DEFAULT, 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    prog p = {{0}, 0};
    li(&p, 6, t[i].addr);
    size_t at = p.n;
    op(&p, t[i].store ? enc_s(0, 5, 6, 2) : enc_i(0, 6, 2, 5, 0x03));
    exit_(&p);
    if (t[i].ok) {
      cohort_vm_info s = run(&p);
      if (s.status != COHORT_VM_EXITED) fail_msg("case %zu (0x%08x): %s", i, t[i].addr, cohort_vm_trap_str(s.code));
    } else {
      expect_trap_at(&p, t[i].store ? COHORT_VM_TRAP_STORE_FAULT : COHORT_VM_TRAP_LOAD_FAULT, at);
    }
  }
  /* system calls check the whole buffer: -EFAULT, as the kernel (and qemu) */
  const char *input = "0123456789abcdef0123456789abcdef0123456789abcdef";
  prog p = {{0}, 0};
  sys(&p, 63, 0, brk0 - 16, 32, 20);         /* crosses into the unmapped page */
  sys(&p, 63, 0, brk0 - 16, 16, 21);         /* fits: 16 */
  sys(&p, 64, 1, brk0 - 8, 9, 22);           /* write reads one byte too far */
  sys(&p, 64, 1, stack_lo - 1, 2, 23);       /* below the stack */
  sys(&p, 64, 1, T_CODE, 8, 24);             /* code is readable: 8 */
  sys(&p, 63, 0, T_CODE, 1, 25);             /* but not writable */
  exit_(&p);
  cohort_vm_info s = run_cfg(&p, NULL, 0, (const uint8_t *)input, strlen(input), NULL, NULL);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal(s.x[20], (uint32_t)-14);
  assert_int_equal(s.x[21], 16);
  assert_int_equal(s.x[22], (uint32_t)-14);
  assert_int_equal(s.x[23], (uint32_t)-14);
  assert_int_equal(s.x[24], 8);
  assert_int_equal(s.x[25], (uint32_t)-14);
  assert_int_equal(s.in_pos, 16);
  assert_int_equal(s.out_len, 8);
}

/* brk grows and shrinks the mapped heap; pages it unmaps come back zero */
static void test_brk(void **st) {
  (void)st;
  const uint32_t brk0 = T_DATA + 8192;
  prog p = {{0}, 0};
  sys(&p, 214, brk0 + 5000, 0, 0, 20);      /* grow: heap now maps 2 pages */
  li(&p, 6, brk0 + 8188);
  li(&p, 7, 0x5A5A5A5A);
  op(&p, enc_s(0, 7, 6, 2));                /* last word of the second page */
  sys(&p, 214, brk0 + 10, 0, 0, 21);        /* shrink: the second page goes */
  sys(&p, 214, brk0 - 4096, 0, 0, 22);      /* below the initial break: refused */
  sys(&p, 214, brk0 + 8192, 0, 0, 23);      /* grow again */
  li(&p, 6, brk0 + 8188);
  op(&p, enc_i(0, 6, 2, 24, 0x03));         /* reads 0: the page was zeroed */
  li(&p, 6, brk0 + 100);
  op(&p, enc_i(0, 6, 2, 25, 0x03));
  exit_(&p);
  cohort_vm_info s = run(&p);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal(s.x[20], brk0 + 5000);
  assert_int_equal(s.x[21], brk0 + 10);
  assert_int_equal(s.x[22], brk0 + 10);
  assert_int_equal(s.x[23], brk0 + 8192);
  assert_int_equal(s.x[24], 0);
  assert_int_equal(s.x[25], 0);
  /* the shrink zeroed one page, one 128-byte leaf per step */
  assert_int_equal(s.step, p.n + 4096 / 128 - 1);
  /* after a shrink the page faults */
  p = (prog){{0}, 0};
  sys(&p, 214, brk0 + 4096, 0, 0, 20);
  sys(&p, 214, brk0, 0, 0, 21);
  li(&p, 6, brk0);
  size_t at = p.n;
  op(&p, enc_i(0, 6, 2, 24, 0x03));
  exit_(&p);
  expect_trap_at(&p, COHORT_VM_TRAP_LOAD_FAULT, at);
}

/* Append a program header (type, vaddr, memsz, flags; file range = 16
 * bytes of the data at offset 0x2000, congruent with vaddr 0x..000). */
static void add_phdr(t_elf *e, uint32_t type, uint32_t vaddr, uint32_t memsz, uint32_t flags) {
  uint16_t n = (uint16_t)(e->buf[44] | e->buf[45] << 8);
  uint8_t *ph = e->buf + 52 + 32 * n;
  memset(ph, 0, 32);
  t_put32(ph, type);
  if (type == 1) {
    t_put32(ph + 4, 0x2000 + (vaddr & 0xFFF));
    t_put32(ph + 16, 0);
  }
  t_put32(ph + 8, vaddr);
  t_put32(ph + 12, vaddr);
  t_put32(ph + 20, memsz);
  t_put32(ph + 24, flags);
  t_put16(e->buf + 44, (uint16_t)(n + 1));
}

/* Headers that carry no memory are ignored, as by Linux; more segments
 * (read-only, page-unaligned code) are fine. */
static void test_elf_accepts(void **st) {
  (void)st;
  static const uint32_t types[] = {0, 4, 6, 7, 0x6474e550u, 0x6474e551u, 0x6474e552u, 0x6474e553u, 0x70000003u,
                                   0x6fffffffu};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    t_elf e = good_elf();
    add_phdr(&e, types[i], 0, 0, 6);
    cohort_vm *vm;
    core_errbuf eb = {{0}};
    if (cohort_vm_new(&vm, e.buf, e.len, NULL, 0, NULL, &eb)) fail_msg("type 0x%x refused: %s", types[i], eb.msg);
    cohort_vm_run(vm, UINT64_MAX, NULL);
    cohort_vm_info s;
    cohort_vm_get_info(vm, &s);
    assert_int_equal(s.status, COHORT_VM_EXITED);
    cohort_vm_del(vm);
    free(e.buf);
  }
  /* a read-only segment below the code, the code not page aligned (lld) */
  t_elf e = good_elf();
  add_phdr(&e, 1, 0x30000, 16, 4);
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  if (cohort_vm_new(&vm, e.buf, e.len, NULL, 0, NULL, &eb)) fail_msg("R segment refused: %s", eb.msg);
  cohort_vm_info s;
  cohort_vm_get_info(vm, &s);
  assert_int_equal(s.seg[2].lo, 0x30000);
  assert_int_equal(s.seg[2].flags, 4);
  assert_int_equal(s.brk, 0x31000);
  cohort_vm_del(vm);
  free(e.buf);
}

static void test_elf_loader(void **st) {
  (void)st;
  t_elf e = good_elf();
  cohort_vm *vm;
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, NULL, 0, NULL, NULL), 0);
  cohort_vm_info s;
  cohort_vm_get_info(vm, &s);
  assert_int_equal(s.pc, T_CODE);
  assert_int_equal(s.exec_lo, T_CODE);
  assert_int_equal(s.exec_hi, T_CODE + 4096);
  assert_int_equal(s.x[2], COHORT_VM_MEM_DEFAULT - 128);
  assert_int_equal(s.brk, T_DATA + 4096);
  cohort_vm_run(vm, UINT64_MAX, NULL);
  cohort_vm_get_info(vm, &s);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  cohort_vm_del(vm);
  free(e.buf);

  e = good_elf(); e.buf[0] = 0x7e; expect_reject(e, "bad magic");
  e = good_elf(); e.buf[4] = 2; expect_reject(e, "ELF64");
  e = good_elf(); e.buf[5] = 2; expect_reject(e, "big endian");
  e = good_elf(); e.buf[16] = 3; expect_reject(e, "ET_DYN");
  e = good_elf(); e.buf[18] = 62; expect_reject(e, "x86-64");
  e = good_elf(); e.buf[36] = 1; expect_reject(e, "RVC flag");
  e = good_elf(); e.buf[36] = 2; expect_reject(e, "single-float ABI");
  e = good_elf(); e.buf[36] = 8; expect_reject(e, "RVE");
  e = good_elf(); t_put16(e.buf + 44, 0); expect_reject(e, "no program headers");
  e = good_elf(); t_put16(e.buf + 44, 65); expect_reject(e, "too many program headers");
  e = good_elf(); t_put32(e.buf + 28, 0xFFFFFFF0u); expect_reject(e, "phdrs past end");
  e = good_elf(); t_put32(e.buf + 52, 6); expect_reject(e, "code segment turned into PT_PHDR: no code");
  e = good_elf(); t_put32(e.buf + 52 + 24, 7); expect_reject(e, "RWX segment");
  e = good_elf(); t_put32(e.buf + 52 + 32 + 24, 5); expect_reject(e, "two executable segments");
  e = good_elf(); t_put32(e.buf + 52 + 24, 6); expect_reject(e, "no executable segment");
  e = good_elf(); t_put32(e.buf + 52 + 32 + 8, T_CODE + 0x800); expect_reject(e, "data shares the code page");
  e = good_elf(); t_put32(e.buf + 52 + 32 + 8, 0x3FF0000u); expect_reject(e, "segment past the cap");
  e = good_elf(); t_put32(e.buf + 52 + 32 + 20, 0xFFFFFFF0u); expect_reject(e, "memsz wraps");
  e = good_elf(); t_put32(e.buf + 52 + 32 + 16, 4096); expect_reject(e, "filesz past file end");
  e = good_elf(); t_put32(e.buf + 52 + 16, 8); t_put32(e.buf + 52 + 20, 4); expect_reject(e, "filesz > memsz");
  e = good_elf(); t_put32(e.buf + 52 + 8, 0x100); expect_reject(e, "below RAM base");
  e = good_elf(); t_put32(e.buf + 24, T_DATA); expect_reject(e, "entry in data");
  e = good_elf(); t_put32(e.buf + 24, T_CODE + 2); expect_reject(e, "misaligned entry");
  e = good_elf(); e.len = 40; expect_reject(e, "truncated header");
  e = good_elf(); add_phdr(&e, 3, 0, 0, 0); expect_reject(e, "PT_INTERP");
  e = good_elf(); add_phdr(&e, 2, 0, 0, 6); expect_reject(e, "PT_DYNAMIC");
  e = good_elf(); add_phdr(&e, 5, 0, 0, 0); expect_reject(e, "PT_SHLIB");
  e = good_elf(); add_phdr(&e, 0x6474e551u, 0, 0, 7); expect_reject(e, "executable stack");
  e = good_elf(); add_phdr(&e, 1, 0x30000, 16, 7); expect_reject(e, "third segment RWX");
  e = good_elf(); add_phdr(&e, 1, 0x20000, 16, 4); expect_reject(e, "third segment on the data page");
  e = good_elf(); add_phdr(&e, 1, 0x30004, 16, 5); expect_reject(e, "second executable segment");
  e = good_elf(); add_phdr(&e, 1, 0x30010, 16, 4); t_put32(e.buf + 52 + 64 + 4, 0x2000);
  expect_reject(e, "offset and vaddr differ mod 4096");
  e = good_elf();
  for (int i = 0; i < 7; i++) add_phdr(&e, 1, 0x30000 + 0x1000 * (uint32_t)i, 16, 4);
  expect_reject(e, "nine PT_LOAD segments");
  e = good_elf(); t_put16(e.buf + 16, 3); expect_reject(e, "ET_DYN (PIE)");
  e = good_elf();
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  cfg.mem_cap = 12345;
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, NULL, 0, &cfg, NULL), COHORT_ERR_INVALID);
  /* page-aligned but not 16 KiB: stack_lo = 0x180c00 would split a page
   * the permission table maps whole (attacker review: the fast tiers
   * stored where vm_step faulted) */
  cfg.mem_cap = 0x201000;
  core_errbuf meb = {{0}};
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, NULL, 0, &cfg, &meb), COHORT_ERR_INVALID);
  assert_non_null(strstr(meb.msg, "16 KiB"));
  cfg.mem_cap = 0x204000;
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, NULL, 0, &cfg, NULL), 0);
  cohort_vm_del(vm);
  static uint8_t big_dummy[1];
  assert_int_equal(cohort_vm_new(&vm, e.buf, e.len, big_dummy, (size_t)COHORT_VM_INPUT_MAX + 1, NULL, NULL),
                   COHORT_ERR_TOO_LARGE);
  free(e.buf);
}

int main(void) {
  if (core_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alu_rr),        cmocka_unit_test(test_alu_imm_upper),
      cmocka_unit_test(test_loads_stores),  cmocka_unit_test(test_branches_jumps),
      cmocka_unit_test(test_branch_table),
      cmocka_unit_test(test_traps),         cmocka_unit_test(test_step_cap_and_halt),
      cmocka_unit_test(test_fall_off_code),
      cmocka_unit_test(test_syscalls),      cmocka_unit_test(test_output_limit),
      cmocka_unit_test(test_elf_loader),    cmocka_unit_test(test_elf_accepts),
      cmocka_unit_test(test_memory_map),    cmocka_unit_test(test_brk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
