/* vm/vm_int.h — internals of the VM shared by its files (not public). */
#ifndef COHORT_VM_VM_INT_H
#define COHORT_VM_VM_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "vm/vm.h"

#define VM_PAGE 4096u
#define VM_PAGE_SHIFT 12
#define VM_LEAF 128u               /* bytes per Merkle leaf */
#define VM_LEAF_SHIFT 7
#define VM_LEAVES_PER_PAGE (VM_PAGE / VM_LEAF)
#define VM_PAGE_LEVELS 5           /* levels from a leaf up to a page root */
#define VM_TREE_LEVELS 25          /* levels from a leaf up to the memory root */
#define VM_MAX_WITNESS 4
#define VM_STATE_SER_LEN 256       /* serialized state, without memory root */

#define VM_PF_X 1u
#define VM_PF_W 2u
#define VM_PF_R 4u
#define VM_PERM_R 1u               /* page permission bits (vm_page_perm) */
#define VM_PERM_W 2u

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

/* ---- the memory map (docs/vm.md §2), from the state alone ----
 * Mapped: each segment's pages (readable; writable if PF_W), the heap
 * [brk_min, page_up(brk)) and the stack [stack_lo, mem_cap) (read/write).
 * Everything else is unmapped. These functions are the definition; the fast
 * paths cache them in a per-page table (vm_perm_sync). */
static inline uint32_t vm_page_up(uint32_t a) { return (a + VM_PAGE - 1) & ~(VM_PAGE - 1); }
static inline uint32_t vm_stack_lo(uint32_t mem_cap) { return mem_cap - COHORT_VM_STACK_SIZE(mem_cap); }

/* End of the mapped interval that contains addr and grants `need`
 * (VM_PERM_* bits), or 0 if there is none. */
static inline uint64_t vm_interval_end(const cohort_vm_info *s, uint64_t addr, unsigned need) {
  if (addr >= s->mem_cap) return 0;
  if (addr >= vm_stack_lo(s->mem_cap)) return s->mem_cap;
  if (addr >= s->brk_min && addr < vm_page_up(s->brk)) return vm_page_up(s->brk);
  for (int i = 0; i < COHORT_VM_MAX_SEGS && s->seg[i].hi; i++)
    if (addr >= s->seg[i].lo && addr < s->seg[i].hi)
      return (need & VM_PERM_W) && !(s->seg[i].flags & VM_PF_W) ? 0 : s->seg[i].hi;
  return 0;
}
/* Permission bits of the page holding addr. */
static inline unsigned vm_page_perm(const cohort_vm_info *s, uint32_t addr) {
  if (!vm_interval_end(s, addr, VM_PERM_R)) return 0;
  return vm_interval_end(s, addr, VM_PERM_W) ? VM_PERM_R | VM_PERM_W : VM_PERM_R;
}
/* [addr, addr + n) lies entirely in mapped pages granting `need`. Walks
 * intervals, not pages: O(segments) whatever n. */
static inline int vm_range_ok(const cohort_vm_info *s, uint32_t addr, uint32_t n, unsigned need) {
  uint64_t a = addr, end = (uint64_t)addr + n;
  for (int guard = 0; a < end && guard < COHORT_VM_MAX_SEGS + 3; guard++) {
    uint64_t hi = vm_interval_end(s, a, need);
    if (hi <= a) return 0;
    a = hi;
  }
  return a >= end;
}

/* ---- memory regions and the Merkle tree (vm_mem.c) ---- */
typedef uint8_t vm_hash[32];

typedef struct {
  uint32_t base;      /* first address */
  uint32_t log2pages; /* the region is a subtree of 2^log2pages pages */
  uint32_t npages;    /* pages with backing storage (the rest is zero) */
  uint8_t *data;      /* npages * 4096 bytes */
  uint8_t *dirty;     /* npages * 32 flags: leaf written since last hash; a
                         page is dirty iff one of its 32 flags is set */
  uint8_t *pdirty;    /* npages flags: written by a slow path (system call,
                         loader, snapshot restore). The fast tiers only set
                         leaf flags, on pages writable at that time, so a
                         flush looks at these pages and the writable ones */
  uint8_t *touched;   /* npages flags: may be non-zero */
  uint8_t *sdirty;    /* npages flags: flushed since the last trace snapshot */
  vm_hash **ptree;    /* npages cached page subtrees ([1..63]: inner nodes,
                         [32..63] leaf hashes; NULL = none), in ptpool */
  vm_hash *ptpool;    /* npages * 64 nodes (one mapping) */
  size_t ptpool_len;
  int pt_huge;        /* ptpool was given MADV_HUGEPAGE */
  vm_hash *nodes;     /* 2 << log2pages nodes, heap order; [1] = region root */
  uint32_t *work;     /* npages scratch indices */
  void *block;        /* RAM only: one mapping holding perm, dirty and data */
  size_t block_len;
} vm_region;

/* RAM's mapping: [perm table][dirty flags][data], so that translated code
 * reaches all three from one base register (the data). The permission
 * table has one byte per page of the whole 32-bit space with the alignment
 * bits folded in (vm_jit.c): VM_PERM_TABLE bytes, index
 * (addr >> 12) | (addr & 3) << 20; entries >= 2^20 are always 0. */
#define VM_PERM_TABLE (4u << 20)
static inline int vm_page_dirty(const uint8_t *leaf_flags) {
  uint64_t w[4];
  memcpy(w, leaf_flags, 32);
  return (w[0] | w[1] | w[2] | w[3]) != 0;
}

enum { VM_REG_RAM = 0, VM_REG_IN = 1, VM_REG_OUT = 2, VM_NREG = 3 };

/* Threaded form used by the fast path (built on first run). */
typedef struct {
  const void *h;   /* handler address (computed goto) */
  int32_t imm;
  uint32_t blen;   /* instructions from here to the end of the basic block */
  uint32_t aux;    /* branch/jal: target index; jalr: link value */
  uint8_t op, rd, rs1, rs2;
} vm_tinsn;

typedef struct vm_jit vm_jit;

/* An overlapped checkpoint (cohort_vm_state_hash_start, vm_mem.c). */
typedef struct {
  int state;            /* none, running (helper thread tid), ready (hash) */
  pthread_t tid;
  cohort_vm_info s;     /* the state at the start */
  uint32_t n[VM_NREG];  /* pages to re-hash, listed in reg[i].work */
  uint8_t *copy;        /* VM_PAGE per listed page: its dirty leaves' bytes */
  uint8_t *flags;       /* VM_LEAVES_PER_PAGE per listed page: its leaf flags */
  size_t cap;           /* pages copy and flags have room for */
  uint8_t hash[32];     /* the state hash, once ready */
  int sync_init;        /* mu and cv initialised */
  pthread_mutex_t mu;   /* guards job and helping */
  pthread_cond_t cv;    /* helping went down */
  void *job;            /* the helper's page phase under way, which a
                           waiting caller may join (vm_mem.c flush_job) */
  int helping;          /* callers inside job */
} vm_async;

struct cohort_vm {
  cohort_vm_info s;
  vm_tinsn *tcode;
  vm_region reg[VM_NREG];
  vm_insn *code; /* pre-decoded [exec_lo, exec_lo + 4 code_n), rd 0 mapped to 32 */
  uint32_t code_n; /* words the ELF's file fills (page-rounded); the rest of
                      [exec_lo, exec_hi) is zero for ever (not writable):
                      illegal words, left to vm_step. So a large p_memsz
                      costs no host memory per word (attacker review). */
  uint8_t *perm; /* RAM's permission table (VM_PERM_TABLE bytes) */
  uint32_t perm_top; /* heap top the table reflects (vm_perm_sync) */
  int tier;          /* COHORT_VM_TIER_*, -1: translator setup failed */
  vm_jit *jit;       /* translator state, NULL until first used */
  uint64_t jit_min;  /* runs shorter than this stay interpreted (tests lower it) */
  uint64_t jit_steps; /* steps the translator has run (tests check it ran) */
  uint64_t jit_resume; /* over its translation budget: interpreted until this step */
  uint64_t jit_pauses; /* times it went over (tests) */
  vm_hash empty[VM_TREE_LEVELS + 1];
  cohort_vm_log_fn log_fn;
  void *log_ctx;
  vm_async async;
};

/* ---- the permission table (vm_mem.c): perm[page] = vm_page_perm ---- */
void vm_perm_build(cohort_vm *vm); /* from the state, all of it */
void vm_perm_sync(cohort_vm *vm);  /* after brk may have moved */

/* ---- the translator (vm_jit.c) ---- */
/* Runs shorter than this stay in the interpreter: translating the blocks
 * they touch would cost more than it saves. */
#define VM_JIT_MIN_RUN 10000
/* Runs up to `budget` steps from s.pc in translated code; returns the steps
 * taken (0 if it could not start). Stops before any instruction it leaves
 * to the reference step function, and at the budget. */
uint64_t vm_jit_run(cohort_vm *vm, uint64_t budget);
void vm_jit_free(vm_jit *j);

void vm_empty_hashes(vm_hash empty[VM_TREE_LEVELS + 1]);
void vm_hash2(uint8_t out[32], const uint8_t l[32], const uint8_t r[32]);
void vm_hash64(uint8_t out[32], const uint8_t in[64]); /* = BLAKE2b-256 of 64 bytes */
void vm_hash_leaf(uint8_t out[32], const uint8_t in[VM_LEAF]); /* = BLAKE2b-256 of 128 bytes */
/* out[i] = BLAKE2b-256(in[i][0..64)) for i < n; outputs must not overlap inputs. */
void vm_hash64_batch(uint8_t *const *out, const uint8_t *const *in, size_t n);
/* out[i] = BLAKE2b-256(in[i][0..128)) for i < n (leaf hashes). */
void vm_hash128_batch(uint8_t *const *out, const uint8_t *const *in, size_t n);
int vm_region_init(vm_region *r, uint32_t base, uint32_t npages, uint32_t log2pages,
                   const vm_hash *empty, int with_perm);
void vm_region_free(vm_region *r);
/* mark [addr, addr + n) of region r written (leaf and page flags) */
void vm_region_mark(vm_region *r, uint32_t off, uint32_t n);
int vm_region_clone(vm_region *dst, const vm_region *src);
void vm_mem_flush(cohort_vm *vm);
/* Wait for a running overlapped checkpoint (the tree is then the caller's
 * again); no-op if none. Every reader or writer of the tree calls it. */
void vm_mem_join(cohort_vm *vm);
/* vm_mem_join, then free the checkpoint copy buffers (cohort_vm_del). */
void vm_async_free(cohort_vm *vm);
void vm_page_root(const uint8_t *page, const vm_hash *empty, uint8_t out[32]);
void vm_mem_root(cohort_vm *vm, uint8_t out[32]);
/* Sibling path of the leaf at addr (leaf aligned), levels 0..24. Requires
 * a flushed tree. */
void vm_mem_path(cohort_vm *vm, uint32_t addr, vm_hash sib[VM_TREE_LEVELS]);
/* Node at (level >= 5, index) of the flushed tree. */
void vm_mem_node(cohort_vm *vm, unsigned level, uint64_t idx, uint8_t out[32]);
/* Pointer to backing bytes of addr (any region), NULL if unbacked. */
uint8_t *vm_mem_ptr(cohort_vm *vm, uint32_t addr);
void vm_direct_init(cohort_vm *vm, vm_mem *m);

/* ---- serialization (vm_proof.c) ---- */
void vm_state_ser(const cohort_vm_info *s, uint8_t out[VM_STATE_SER_LEN]);
int vm_state_deser(const uint8_t in[VM_STATE_SER_LEN], cohort_vm_info *s);

#endif
