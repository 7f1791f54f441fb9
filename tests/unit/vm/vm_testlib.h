/* tests/unit/vm/vm_testlib.h — helpers for the VM tests: an RV32IM encoder,
 * an in-memory ELF writer, file helpers and a qemu-riscv32 runner. */
#ifndef COHORT_TESTS_VM_TESTLIB_H
#define COHORT_TESTS_VM_TESTLIB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm/vm.h"

/* ---- encoder ---- */
static inline uint32_t enc_r(uint32_t f7, uint32_t rs2, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t op) {
  return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_i(int32_t imm, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t op) {
  return ((uint32_t)imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_s(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3) {
  uint32_t u = (uint32_t)imm;
  return ((u >> 5) & 0x7F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 31) << 7 | 0x23;
}
static inline uint32_t enc_b(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3) {
  uint32_t u = (uint32_t)imm;
  return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
         ((u >> 1) & 15) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
static inline uint32_t enc_u(uint32_t imm20, uint32_t rd, uint32_t op) { return imm20 << 12 | rd << 7 | op; }
static inline uint32_t enc_j(int32_t imm, uint32_t rd) {
  uint32_t u = (uint32_t)imm;
  return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3FF) << 21 | ((u >> 11) & 1) << 20 | ((u >> 12) & 0xFF) << 12 |
         rd << 7 | 0x6F;
}
#define ADDI(rd, rs, imm) enc_i(imm, rs, 0, rd, 0x13)
#define LUI(rd, imm20) enc_u(imm20, rd, 0x37)
#define ECALL 0x00000073u
#define EBREAK 0x00100073u

/* load a 32-bit constant: lui + addi */
static inline int emit_li(uint32_t *code, uint32_t rd, uint32_t v) {
  uint32_t lo = v & 0xFFF, hi = (v >> 12) & 0xFFFFF;
  if (lo & 0x800) hi = (hi + 1) & 0xFFFFF;
  code[0] = LUI(rd, hi);
  code[1] = ADDI(rd, rd, (int32_t)(lo & 0x800 ? (int32_t)lo - 4096 : (int32_t)lo));
  return 2;
}

/* ---- ELF writer: code at 0x10000 (R-X), data at 0x20000 (RW-) ---- */
#define T_CODE 0x10000u
#define T_DATA 0x20000u
typedef struct {
  uint8_t *buf;
  size_t len;
} t_elf;

static inline void t_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void t_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline t_elf t_make_elf(const uint32_t *code, size_t ncode, const uint8_t *data, size_t ndata,
                               uint32_t data_memsz) {
  size_t codesz = ncode * 4;
  size_t data_off = 0x1000 + ((codesz + 0xFFF) & ~(size_t)0xFFF);
  t_elf e;
  e.len = data_off + ndata;
  e.buf = calloc(1, e.len);
  uint8_t *b = e.buf;
  memcpy(b, "\x7f" "ELF", 4);
  b[4] = 1; b[5] = 1; b[6] = 1;
  t_put16(b + 16, 2);
  t_put16(b + 18, 243);
  t_put32(b + 20, 1);
  t_put32(b + 24, T_CODE);
  t_put32(b + 28, 52);
  t_put16(b + 40, 52);
  t_put16(b + 42, 32);
  t_put16(b + 44, ndata || data_memsz ? 2 : 1);
  t_put16(b + 46, 40);
  uint8_t *ph = b + 52;
  t_put32(ph, 1); t_put32(ph + 4, 0x1000); t_put32(ph + 8, T_CODE); t_put32(ph + 12, T_CODE);
  t_put32(ph + 16, (uint32_t)codesz); t_put32(ph + 20, (uint32_t)codesz); t_put32(ph + 24, 5); t_put32(ph + 28, 0x1000);
  if (ndata || data_memsz) {
    ph += 32;
    t_put32(ph, 1); t_put32(ph + 4, (uint32_t)data_off); t_put32(ph + 8, T_DATA); t_put32(ph + 12, T_DATA);
    t_put32(ph + 16, (uint32_t)ndata); t_put32(ph + 20, data_memsz > ndata ? data_memsz : (uint32_t)ndata);
    t_put32(ph + 24, 6); t_put32(ph + 28, 0x1000);
  }
  for (size_t i = 0; i < ncode; i++) t_put32(b + 0x1000 + 4 * i, code[i]);
  if (ndata) memcpy(b + data_off, data, ndata);
  return e;
}

/* ---- files and processes ---- */
static inline uint8_t *t_read_file(const char *path, size_t *len) {
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}
static inline int t_write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = n == 0 || fwrite(p, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* Run qemu-riscv32 [extra args] elf < in > out; returns the exit status
 * (0..255) or -1 if it did not exit normally. */
static inline int t_qemu(const char *elf, const char *in, const char *out, const char *log) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!freopen(in, "rb", stdin) || !freopen(out, "wb", stdout)) _exit(127);
    if (log) execlp("qemu-riscv32", "qemu-riscv32", "-singlestep", "-d", "cpu,nochain", "-D", log, elf, (char *)NULL);
    else execlp("qemu-riscv32", "qemu-riscv32", elf, (char *)NULL);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#ifdef COHORT_GUEST_DIR
/* Load a guest example by name from the build directory. */
static inline uint8_t *t_guest(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.elf", COHORT_GUEST_DIR, name);
  return t_read_file(path, len);
}
#endif

/* Parse one qemu "-d cpu" record (pc + x0..x31) from f. Returns 1 or 0 at EOF. */
static inline int t_qemu_record(FILE *f, uint32_t *pc, uint32_t x[32]) {
  char line[512];
  int have_pc = 0, nreg = 0;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (*p == ' ') p++;
    if (!strncmp(p, "pc ", 3)) {
      *pc = (uint32_t)strtoul(p + 3, NULL, 16);
      have_pc = 1;
      nreg = 0;
      continue;
    }
    if (!have_pc || *p != 'x') continue;
    while (*p == 'x') {
      int r = atoi(p + 1);
      char *sp = strchr(p, ' ');
      if (!sp) break;
      while (*sp == ' ') sp++;
      x[r & 31] = (uint32_t)strtoul(sp, &p, 16);
      nreg++;
      while (*p == ' ') p++;
    }
    if (nreg >= 32) return 1;
  }
  return 0;
}

#endif
