/* tests/unit/vm/test_vm_qemu.c — differential tests against qemu-riscv32.
 *
 * The oracle is real RISC-V semantics as implemented by qemu: for the guest
 * examples the outputs and exit codes must match; for small runs of the
 * examples and for randomly generated instruction streams, the pc and the
 * whole register file must match before every instruction
 * (`qemu-riscv32 -singlestep -d cpu,nochain`). Each run also checks that the
 * fast path ends in the same state hash as the reference step function.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"

static char tmpdir[256];

static void tpath(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

/* Register values agree, allowing for the different stack base: qemu puts
 * the stack near 0x40800000, the VM at the top of RAM. */
static int reg_eq(uint32_t ours, uint32_t q, uint32_t delta, uint32_t mem_cap) {
  if (ours == q) return 1;
  return ours >= mem_cap - (8u << 20) && ours <= mem_cap && q - ours == delta;
}

typedef struct {
  uint64_t insns;
  int exit_code;
} lock_result;

/* Runs elf on input under qemu (single-stepped, logged) and under the VM
 * step by step, comparing every instruction boundary. */
static lock_result lockstep(const uint8_t *elf, size_t elf_len, const uint8_t *in, size_t in_len,
                            const char *what) {
  char pelf[300], pin[300], pout[300], plog[300];
  tpath(pelf, sizeof pelf, "prog.elf");
  tpath(pin, sizeof pin, "in.bin");
  tpath(pout, sizeof pout, "out.bin");
  tpath(plog, sizeof plog, "qemu.log");
  assert_int_equal(t_write_file(pelf, elf, elf_len), 0);
  assert_int_equal(chmod(pelf, 0755), 0); /* qemu-user insists on exec permission */
  assert_int_equal(t_write_file(pin, in, in_len), 0);
  int qrc = t_qemu(pelf, pin, pout, plog);
  if (qrc < 0 || qrc >= 100) fail_msg("%s: qemu failed (%d)", what, qrc);

  cohort_vm *vm, *fast;
  core_errbuf eb = {{0}};
  int rc = cohort_vm_new(&vm, elf, elf_len, in, in_len, NULL, &eb);
  if (rc) fail_msg("%s: load failed: %s", what, eb.msg);
  assert_int_equal(cohort_vm_new(&fast, elf, elf_len, in, in_len, NULL, NULL), 0);
  FILE *log = fopen(plog, "r");
  assert_non_null(log);
  cohort_vm_info s;
  cohort_vm_get_info(vm, &s);
  uint32_t delta = 0;
  uint64_t n = 0;
  while (s.status == COHORT_VM_RUNNING) {
    if (s.sys_done == 0) {
      uint32_t qpc, qx[32];
      if (!t_qemu_record(log, &qpc, qx)) fail_msg("%s: qemu trace ended at instruction %llu", what, (unsigned long long)n);
      if (n == 0) delta = qx[2] - s.x[2];
      if (qpc != s.pc) fail_msg("%s: insn %llu: pc 0x%08x, qemu 0x%08x", what, (unsigned long long)n, s.pc, qpc);
      for (int r = 0; r < 32; r++)
        if (!reg_eq(s.x[r], qx[r], delta, s.mem_cap))
          fail_msg("%s: insn %llu pc 0x%08x: x%d = 0x%08x, qemu 0x%08x", what, (unsigned long long)n, s.pc, r,
                   s.x[r], qx[r]);
      n++;
    }
    cohort_vm_step(vm);
    cohort_vm_get_info(vm, &s);
  }
  uint32_t qpc, qx[32];
  assert_int_equal(t_qemu_record(log, &qpc, qx), 0); /* qemu ran no further */
  fclose(log);
  if (s.status != COHORT_VM_EXITED) fail_msg("%s: ended %s (%s)", what, cohort_vm_status_str(s.status), cohort_vm_trap_str(s.code));
  assert_int_equal((int)(s.code & 0xFF), qrc);
  size_t qlen, olen;
  uint8_t *qout = t_read_file(pout, &qlen);
  const uint8_t *out = cohort_vm_output(vm, &olen);
  assert_int_equal(olen, qlen);
  assert_memory_equal(out, qout, qlen);
  free(qout);
  /* the fast path reaches the same state */
  uint8_t h1[32], h2[32];
  cohort_vm_run(fast, UINT64_MAX, NULL);
  assert_int_equal(cohort_vm_state_hash(vm, h1), 0);
  assert_int_equal(cohort_vm_state_hash(fast, h2), 0);
  assert_memory_equal(h1, h2, 32);
  cohort_vm_del(vm);
  cohort_vm_del(fast);
  lock_result r = {n, qrc};
  return r;
}

/* Outputs and exit codes only (larger runs). */
static void outputs_match(const char *name, const uint8_t *in, size_t in_len) {
  size_t elf_len = 0;
  uint8_t *elf = t_guest(name, &elf_len);
  assert_non_null(elf);
  char pin[300], pout[300], pelf[300];
  snprintf(pelf, sizeof pelf, "%s/%s.elf", COHORT_GUEST_DIR, name);
  tpath(pin, sizeof pin, "in.bin");
  tpath(pout, sizeof pout, "out.bin");
  assert_int_equal(t_write_file(pin, in, in_len), 0);
  int qrc = t_qemu(pelf, pin, pout, NULL);
  assert_true(qrc >= 0);
  cohort_vm *vm;
  assert_int_equal(cohort_vm_new(&vm, elf, elf_len, in, in_len, NULL, NULL), 0);
  cohort_vm_run(vm, UINT64_MAX, NULL);
  cohort_vm_info s;
  cohort_vm_get_info(vm, &s);
  assert_int_equal(s.status, COHORT_VM_EXITED);
  assert_int_equal((int)(s.code & 0xFF), qrc);
  size_t qlen, olen;
  uint8_t *qout = t_read_file(pout, &qlen);
  const uint8_t *out = cohort_vm_output(vm, &olen);
  assert_int_equal(olen, qlen);
  assert_memory_equal(out, qout, qlen);
  free(qout);
  free(elf);
  cohort_vm_del(vm);
}

static uint8_t *lcg_bytes(size_t n, uint32_t seed) {
  uint8_t *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    b[i] = (uint8_t)(seed >> 16);
  }
  return b;
}

static uint8_t *text_bytes(size_t n, uint32_t seed) {
  static const char *words[] = {"compute", "chain", "the", "a", "verify", "step", "\n", "  ", "proof", "\t"};
  uint8_t *b = malloc(n + 16);
  size_t o = 0;
  while (o < n) {
    seed = seed * 1103515245u + 12345u;
    const char *w = words[(seed >> 16) % 10];
    size_t k = strlen(w);
    memcpy(b + o, w, k);
    o += k;
    b[o++] = ' ';
  }
  return b;
}

static void test_examples_outputs(void **st) {
  (void)st;
  const char *s1 = "250000", *s2 = "40 7", *s3 = "64 48 100";
  outputs_match("sieve", (const uint8_t *)s1, strlen(s1));
  outputs_match("matmul", (const uint8_t *)s2, strlen(s2));
  outputs_match("mandel", (const uint8_t *)s3, strlen(s3));
  outputs_match("mandel", NULL, 0);
  uint8_t *r = lcg_bytes(200000, 7);
  outputs_match("sha256", r, 200000);
  outputs_match("sha256", r, 0);
  outputs_match("sha256", r, 55);
  outputs_match("sha256", r, 64);
  free(r);
  uint8_t *t = text_bytes(100000, 3);
  outputs_match("wc", t, 100000);
  free(t);
}

static void test_examples_lockstep(void **st) {
  (void)st;
  struct {
    const char *name, *input;
  } cases[] = {{"sha256", "abc"}, {"sieve", "300"}, {"matmul", "6 5"}, {"mandel", "12 6 12"},
               {"wc", "one two  three\nfour\n"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t elf_len = 0;
    uint8_t *elf = t_guest(cases[i].name, &elf_len);
    assert_non_null(elf);
    lock_result r = lockstep(elf, elf_len, (const uint8_t *)cases[i].input, strlen(cases[i].input), cases[i].name);
    assert_true(r.insns > 1000);
    free(elf);
  }
}

/* ---- random instruction streams ---- */
typedef struct {
  uint64_t s;
} rng;
static uint32_t rnd(rng *g) {
  g->s = g->s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g->s >> 33);
}
static uint32_t rreg(rng *g) { return rnd(g) % 16 == 0 ? 0 : 1 + rnd(g) % 30; } /* never x31 */

static uint32_t interesting(rng *g) {
  static const uint32_t v[] = {0, 1, 2, 0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 0xFFFFFFFEu, 31, 32, 0x12345678u};
  return rnd(g) % 3 == 0 ? v[rnd(g) % 10] : rnd(g) ^ (rnd(g) << 16);
}

static size_t gen_stream(rng *g, uint32_t *c, size_t body) {
  size_t n = 0;
  for (uint32_t r = 1; r <= 30; r++) n += (size_t)emit_li(c + n, r, interesting(g));
  n += (size_t)emit_li(c + n, 31, T_DATA + 2048);
  size_t end = n + body;
  uint8_t target[1024] = {0}; /* instruction indices some jump lands on */
  while (n < end) {
    uint32_t k = rnd(g) % 100, rd = rreg(g), rs1 = rnd(g) % 32, rs2 = rnd(g) % 32;
    size_t room = end - n; /* instructions left before the epilogue */
    if (k < 30) { /* R-type incl. M */
      static const uint32_t f[][2] = {{0, 0}, {0x20, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0x20, 5}, {0, 6}, {0, 7},
                                      {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}};
      uint32_t j = rnd(g) % 18;
      c[n++] = enc_r(f[j][0], rs2, rs1, f[j][1], rd, 0x33);
    } else if (k < 50) { /* I-type ALU */
      uint32_t f3 = rnd(g) % 8;
      int32_t imm = (int32_t)(rnd(g) % 4096) - 2048;
      if (f3 == 1) imm = (int32_t)(rnd(g) % 32);
      if (f3 == 5) imm = (int32_t)(rnd(g) % 32) | (rnd(g) % 2 ? 0x400 : 0);
      c[n++] = enc_i(imm, rs1, f3, rd, 0x13);
    } else if (k < 55) {
      c[n++] = enc_u(rnd(g) & 0xFFFFF, rd, rnd(g) % 2 ? 0x37 : 0x17);
    } else if (k < 68) { /* loads off x31 */
      static const uint32_t f3s[] = {0, 1, 2, 4, 5};
      uint32_t f3 = f3s[rnd(g) % 5], size = f3 == 2 ? 4 : (f3 & 3) == 1 ? 2 : 1;
      int32_t off = ((int32_t)(rnd(g) % 4096) - 2048) & ~(int32_t)(size - 1);
      c[n++] = enc_i(off, 31, f3, rd, 0x03);
    } else if (k < 80) { /* stores off x31 */
      uint32_t f3 = rnd(g) % 3, size = 1u << f3;
      int32_t off = ((int32_t)(rnd(g) % 4096) - 2048) & ~(int32_t)(size - 1);
      c[n++] = enc_s(off, rs2, 31, f3);
    } else if (k < 92 && room >= 2) { /* forward branch */
      static const uint32_t f3s[] = {0, 1, 4, 5, 6, 7};
      uint32_t skip = 1 + rnd(g) % (room - 1 < 4 ? room - 1 : 4);
      target[n + skip + 1] = 1;
      c[n++] = enc_b((int32_t)(4 * (skip + 1)), rs2, rs1, f3s[rnd(g) % 6]);
    } else if (k < 96 && room >= 2) { /* forward jal */
      uint32_t skip = 1 + rnd(g) % (room - 1 < 4 ? room - 1 : 4);
      target[n + skip + 1] = 1;
      c[n++] = enc_j((int32_t)(4 * (skip + 1)), rd);
    } else if (room >= 3 && !target[n + 1]) { /* auipc t, 0; jalr rd, t, 8 + 4k */
      uint32_t t = 1 + rnd(g) % 30, skip = rnd(g) % (room - 2 < 3 ? room - 2 : 3);
      target[n + 2 + skip] = 1;
      c[n++] = enc_u(0, t, 0x17);
      c[n++] = enc_i((int32_t)(8 + 4 * skip) | (int32_t)(rnd(g) % 2), t, 0, rd, 0x67);
    } else {
      c[n++] = enc_i(1, rs1, 0, rd, 0x13);
    }
  }
  /* write the data page to stdout, exit with a hash-like register value */
  n += (size_t)emit_li(c + n, 10, 1);
  n += (size_t)emit_li(c + n, 11, T_DATA);
  n += (size_t)emit_li(c + n, 12, 4096);
  n += (size_t)emit_li(c + n, 17, 64);
  c[n++] = ECALL;
  c[n++] = enc_r(0, 5, 6, 4, 10, 0x33); /* a0 = (t0 ^ t1) & 63 */
  c[n++] = enc_i(63, 10, 7, 10, 0x13);
  n += (size_t)emit_li(c + n, 17, 93);
  c[n++] = ECALL;
  return n;
}

/* Random loop bodies (ALU, M, loads, stores) repeated a few times by a
 * counted backward branch: exercises back edges of the fast path. */
static size_t gen_loops(rng *g, uint32_t *c) {
  size_t n = 0;
  for (uint32_t r = 1; r <= 30; r++) n += (size_t)emit_li(c + n, r, interesting(g));
  n += (size_t)emit_li(c + n, 31, T_DATA + 2048);
  for (int loop = 0; loop < 4; loop++) {
    n += (size_t)emit_li(c + n, 30, 2 + rnd(g) % 6);
    size_t top = n, body = 4 + rnd(g) % 12;
    for (size_t i = 0; i < body; i++) {
      uint32_t k = rnd(g) % 10, rd = 1 + rnd(g) % 29, rs1 = rnd(g) % 32, rs2 = rnd(g) % 32;
      if (k < 5) {
        static const uint32_t f[][2] = {{0, 0}, {0x20, 0}, {0, 1}, {0, 4}, {0, 5}, {0x20, 5}, {1, 0}, {1, 1},
                                        {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}};
        uint32_t j = rnd(g) % 13;
        c[n++] = enc_r(f[j][0], rs2, rs1, f[j][1], rd, 0x33);
      } else if (k < 7) {
        c[n++] = enc_i((int32_t)(rnd(g) % 4096) - 2048, rs1, rnd(g) % 2 ? 0 : 4, rd, 0x13);
      } else if (k < 8) {
        c[n++] = enc_i(((int32_t)(rnd(g) % 4096) - 2048) & ~3, 31, 2, rd, 0x03);
      } else {
        c[n++] = enc_s(((int32_t)(rnd(g) % 4096) - 2048) & ~3, rs2, 31, 2);
      }
    }
    c[n++] = ADDI(30, 30, -1);
    c[n] = enc_b(-(int32_t)(4 * (n - top)), 0, 30, 1); /* bne x30, x0, top */
    n++;
  }
  n += (size_t)emit_li(c + n, 10, 1);
  n += (size_t)emit_li(c + n, 11, T_DATA);
  n += (size_t)emit_li(c + n, 12, 4096);
  n += (size_t)emit_li(c + n, 17, 64);
  c[n++] = ECALL;
  c[n++] = enc_r(0, 5, 6, 4, 10, 0x33);
  c[n++] = enc_i(63, 10, 7, 10, 0x13);
  n += (size_t)emit_li(c + n, 17, 93);
  c[n++] = ECALL;
  return n;
}

static void test_random_loops(void **st) {
  (void)st;
  uint32_t code[1024];
  for (uint64_t seed = 1; seed <= 40; seed++) {
    rng g = {seed * 0xD1B54A32D192ED03ull};
    size_t n = gen_loops(&g, code);
    uint8_t *data = lcg_bytes(4096, (uint32_t)seed + 1000);
    t_elf e = t_make_elf(code, n, data, 4096, 4096);
    char what[64];
    snprintf(what, sizeof what, "random loops seed %llu", (unsigned long long)seed);
    lock_result r = lockstep(e.buf, e.len, NULL, 0, what);
    assert_true(r.insns > n);
    free(e.buf);
    free(data);
  }
}

static void test_random_streams(void **st) {
  (void)st;
  uint32_t code[1024];
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= 150; seed++) {
    rng g = {seed * 0x9E3779B97F4A7C15ull};
    size_t n = gen_stream(&g, code, 200 + seed % 200);
    uint8_t *data = lcg_bytes(4096, (uint32_t)seed);
    t_elf e = t_make_elf(code, n, data, 4096, 4096);
    char what[64];
    snprintf(what, sizeof what, "random stream seed %llu", (unsigned long long)seed);
    lock_result r = lockstep(e.buf, e.len, NULL, 0, what);
    total += r.insns;
    free(e.buf);
    free(data);
  }
  assert_true(total > 150 * 200);
}

int main(void) {
  if (core_init() != 0) return 1;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cohort-vm-qemu-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_examples_outputs),
      cmocka_unit_test(test_examples_lockstep),
      cmocka_unit_test(test_random_streams),
      cmocka_unit_test(test_random_loops),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (!getenv("KEEP") && system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
