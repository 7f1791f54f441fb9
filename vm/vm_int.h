/* vm/vm_int.h — internals of the VM shared by its files (not public). */
#ifndef COHORT_VM_VM_INT_H
#define COHORT_VM_VM_INT_H

#include <stdint.h>
#include <string.h>

#include "vm/vm.h"

#define VM_PAGE 4096u
#define VM_PAGE_SHIFT 12
#define VM_LEAF 32u                /* bytes per Merkle leaf */
#define VM_PAGE_LEVELS 7           /* levels from a leaf up to a page root */
#define VM_TREE_LEVELS 27          /* levels from a leaf up to the memory root */
#define VM_MAX_WITNESS 4
#define VM_STATE_SER_LEN 192       /* serialized state, without memory root */

#define VM_EBADF 9u
#define VM_EFAULT 14u

enum vm_op {
  OP_ILLEGAL = 0,
  OP_LUI, OP_AUIPC,
  OP_ADDI, OP_SLTI, OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI,
  OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND,
  OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
  OP_JAL, OP_JALR,
  OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
  OP_LB, OP_LH, OP_LW, OP_LBU, OP_LHU,
  OP_SB, OP_SH, OP_SW,
  OP_FENCE, OP_ECALL, OP_EBREAK, OP_CSR,
  OP_COUNT
};

/* A decoded instruction. imm is sign-extended (shift amounts for SLLI etc.). */
typedef struct {
  uint8_t op, rd, rs1, rs2;
  int32_t imm;
} vm_insn;

void vm_decode(uint32_t insn, vm_insn *d);

/* Arithmetic shared by the fast path and the step function. Written without
 * implementation-defined signed shifts or overflow. */
static inline uint32_t vm_sra(uint32_t a, uint32_t sh) {
  sh &= 31;
  uint32_t r = a >> sh;
  if ((a & 0x80000000u) && sh) r |= ~(0xFFFFFFFFu >> sh);
  return r;
}
static inline int32_t vm_s32(uint32_t a) { return a >= 0x80000000u ? (int32_t)(a - 0x80000000u) - 0x7FFFFFFF - 1 : (int32_t)a; }
static inline uint32_t vm_mulh(uint32_t a, uint32_t b) {
  int64_t p = (int64_t)vm_s32(a) * (int64_t)vm_s32(b);
  return (uint32_t)((uint64_t)p >> 32);
}
static inline uint32_t vm_mulhsu(uint32_t a, uint32_t b) {
  int64_t p = (int64_t)vm_s32(a) * (int64_t)b;
  return (uint32_t)((uint64_t)p >> 32);
}
static inline uint32_t vm_mulhu(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }
static inline uint32_t vm_div(uint32_t a, uint32_t b) {
  if (b == 0) return 0xFFFFFFFFu;
  if (a == 0x80000000u && b == 0xFFFFFFFFu) return a;
  return (uint32_t)(vm_s32(a) / vm_s32(b));
}
static inline uint32_t vm_divu(uint32_t a, uint32_t b) { return b ? a / b : 0xFFFFFFFFu; }
static inline uint32_t vm_rem(uint32_t a, uint32_t b) {
  if (b == 0) return a;
  if (a == 0x80000000u && b == 0xFFFFFFFFu) return 0;
  return (uint32_t)(vm_s32(a) % vm_s32(b));
}
static inline uint32_t vm_remu(uint32_t a, uint32_t b) { return b ? a % b : a; }

/* The pure register/immediate operations, one definition used by both the
 * fast interpreter and the reference step function. A = rs1, B = rs2,
 * I = immediate, PC = address of the instruction. */
#define VM_ALU_OPS(X)                                        \
  X(LUI, I)                                                  \
  X(AUIPC, PC + I)                                           \
  X(ADDI, A + I)                                             \
  X(SLTI, (uint32_t)(vm_s32(A) < vm_s32(I)))                 \
  X(SLTIU, (uint32_t)(A < I))                                \
  X(XORI, A ^ I)                                             \
  X(ORI, A | I)                                              \
  X(ANDI, A & I)                                             \
  X(SLLI, A << (I & 31))                                     \
  X(SRLI, A >> (I & 31))                                     \
  X(SRAI, vm_sra(A, I))                                      \
  X(ADD, A + B)                                              \
  X(SUB, A - B)                                              \
  X(SLL, A << (B & 31))                                      \
  X(SLT, (uint32_t)(vm_s32(A) < vm_s32(B)))                  \
  X(SLTU, (uint32_t)(A < B))                                 \
  X(XOR, A ^ B)                                              \
  X(SRL, A >> (B & 31))                                      \
  X(SRA, vm_sra(A, B))                                       \
  X(OR, A | B)                                               \
  X(AND, A & B)                                              \
  X(MUL, A * B)                                              \
  X(MULH, vm_mulh(A, B))                                     \
  X(MULHSU, vm_mulhsu(A, B))                                 \
  X(MULHU, vm_mulhu(A, B))                                   \
  X(DIV, vm_div(A, B))                                       \
  X(DIVU, vm_divu(A, B))                                     \
  X(REM, vm_rem(A, B))                                       \
  X(REMU, vm_remu(A, B))

/* Branch conditions, shared the same way. */
#define VM_BRANCH_OPS(X)             \
  X(BEQ, A == B)                     \
  X(BNE, A != B)                     \
  X(BLT, vm_s32(A) < vm_s32(B))      \
  X(BGE, vm_s32(A) >= vm_s32(B))     \
  X(BLTU, A < B)                     \
  X(BGEU, A >= B)

static inline uint32_t vm_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void vm_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t vm_le64(const uint8_t *p) { return vm_le32(p) | (uint64_t)vm_le32(p + 4) << 32; }
static inline void vm_put64(uint8_t *p, uint64_t v) { vm_put32(p, (uint32_t)v); vm_put32(p + 4, (uint32_t)(v >> 32)); }

/* Memory back-end seen by the step function. The step function has already
 * checked permissions and ranges; an access never crosses a 32-byte leaf.
 * read/write return 0 or a negative error (proof back-end: missing witness). */
typedef struct vm_mem vm_mem;
struct vm_mem {
  int (*read)(vm_mem *m, uint32_t addr, uint8_t *dst, uint32_t n);
  int (*write)(vm_mem *m, uint32_t addr, const uint8_t *src, uint32_t n);
  void (*log)(vm_mem *m, uint32_t addr, uint32_t n); /* fd 2; may be NULL */
};

/* The reference step function: advances s by one step. Returns 0, or the
 * back-end's error (s is then unspecified). */
int vm_step(cohort_vm_info *s, vm_mem *m);

/* Permission checks shared by both paths. */
static inline int vm_ram_ok(const cohort_vm_info *s, uint32_t addr, uint32_t n) {
  return addr >= COHORT_VM_RAM_BASE && addr <= s->mem_cap && n <= s->mem_cap - addr;
}
static inline int vm_ram_writable(const cohort_vm_info *s, uint32_t addr, uint32_t n) {
  if (!vm_ram_ok(s, addr, n)) return 0;
  return addr + n <= s->exec_lo || addr >= s->exec_hi;
}

/* ---- memory regions and the Merkle tree (vm_mem.c) ---- */
typedef uint8_t vm_hash[32];

typedef struct {
  uint32_t base;      /* first address */
  uint32_t log2pages; /* the region is a subtree of 2^log2pages pages */
  uint32_t npages;    /* pages with backing storage (the rest is zero) */
  uint8_t *data;      /* npages * 4096 bytes */
  uint8_t *pdirty;    /* npages flags: some leaf of the page is dirty */
  uint8_t *dirty;     /* npages * 128 flags: leaf changed since last hash */
  uint8_t *touched;   /* npages flags: may be non-zero */
  uint8_t *sdirty;    /* npages flags: flushed since the last trace snapshot */
  vm_hash **ptree;    /* npages cached page subtrees ([1..127]; NULL = none) */
  vm_hash *nodes;     /* 2 << log2pages nodes, heap order; [1] = region root */
  uint32_t *work;     /* npages scratch indices */
} vm_region;

enum { VM_REG_RAM = 0, VM_REG_IN = 1, VM_REG_OUT = 2, VM_NREG = 3 };

/* Threaded form used by the fast path (built on first run). */
typedef struct {
  const void *h;   /* handler address (computed goto) */
  int32_t imm;
  uint32_t blen;   /* instructions from here to the end of the basic block */
  uint32_t aux;    /* branch/jal: target index; jalr: link value */
  uint8_t op, rd, rs1, rs2;
} vm_tinsn;

struct cohort_vm {
  cohort_vm_info s;
  vm_tinsn *tcode;
  vm_region reg[VM_NREG];
  vm_insn *code; /* pre-decoded [exec_lo, exec_hi), rd 0 mapped to 32 */
  vm_hash empty[VM_TREE_LEVELS + 1];
  cohort_vm_log_fn log_fn;
  void *log_ctx;
};

void vm_empty_hashes(vm_hash empty[VM_TREE_LEVELS + 1]);
void vm_hash2(uint8_t out[32], const uint8_t l[32], const uint8_t r[32]);
void vm_hash64(uint8_t out[32], const uint8_t in[64]); /* = BLAKE2b-256 of 64 bytes */
/* out[i] = BLAKE2b-256(in[i][0..64)) for i < n; outputs must not overlap inputs. */
void vm_hash64_batch(uint8_t *const *out, const uint8_t *const *in, size_t n);
int vm_region_init(vm_region *r, uint32_t base, uint32_t npages, uint32_t log2pages,
                   const vm_hash *empty);
void vm_region_free(vm_region *r);
int vm_region_clone(vm_region *dst, const vm_region *src);
void vm_mem_flush(cohort_vm *vm);
void vm_page_root(const uint8_t *page, const vm_hash *empty, uint8_t out[32]);
void vm_mem_root(cohort_vm *vm, uint8_t out[32]);
/* Sibling path of the leaf at addr (leaf aligned), levels 0..26. Requires
 * a flushed tree. */
void vm_mem_path(cohort_vm *vm, uint32_t addr, vm_hash sib[VM_TREE_LEVELS]);
/* Node at (level >= 7, index) of the flushed tree. */
void vm_mem_node(cohort_vm *vm, unsigned level, uint64_t idx, uint8_t out[32]);
/* Pointer to backing bytes of addr (any region), NULL if unbacked. */
uint8_t *vm_mem_ptr(cohort_vm *vm, uint32_t addr);
void vm_direct_init(cohort_vm *vm, vm_mem *m);

/* ---- serialization (vm_proof.c) ---- */
void vm_state_ser(const cohort_vm_info *s, uint8_t out[VM_STATE_SER_LEN]);
int vm_state_deser(const uint8_t in[VM_STATE_SER_LEN], cohort_vm_info *s);

#endif
