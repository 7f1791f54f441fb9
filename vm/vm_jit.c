/* vm/vm_jit.c — the translation tier: RV32IM basic blocks compiled to
 * x86-64 machine code at run time, for cohort_vm_run's long runs.
 *
 * The reference step function (vm_step.c) defines the machine; this file
 * only makes the common cases fast and must reach exactly the states the
 * reference reaches. It translates what cannot fault or needs no help (ALU,
 * M extension, branches and jumps to valid targets, loads and stores whose
 * address the permission table allows) and stops *before* anything else —
 * system calls, ebreak, CSRs, illegal words, fetches outside the code, a
 * jump to a bad target, a load or store that would fault — leaving pc on
 * that instruction for vm_step. Differential tests compare whole states
 * (pc, registers, memory root) with the interpreter at checkpoints.
 *
 * Machine model of translated code:
 *   rbp  the jit_ctx (guest registers x[0..31], exit pc, dispatch table)
 *   r15  guest RAM; the permission table and dirty flags lie below it at
 *        fixed negative offsets (one mapping, vm_mem.c)
 *   r14  steps left (u64); each block subtracts its length on entry and
 *        leaves to the caller if that would go below zero, so a run stops
 *        exactly at any step count; an instruction that leaves mid-block
 *        refunds itself and the rest of its block
 *   rax, rcx, rdx  scratch
 *   rbx, rsi, rdi, r8..r13  the nine guest registers this program uses
 *        most; the others live in ctx->x. The first choice counts uses
 *        over the code (16x inside short loops). Then a free sampling
 *        profile decides: translated code runs in slices of SLICE steps, and
 *        a slice runs out at a segment entry with a probability proportional
 *        to the steps spent in that segment, so the pcs where slices stop
 *        are a steps-weighted profile. At 64, 128, 256, ... samples the
 *        registers are chosen again from it (old samples halved, so a
 *        start-up phase such as a memset does not decide for the whole
 *        run); if the choice changed, every translation is dropped and the
 *        code translated afresh
 * Block exits jump straight to the target's translation when it exists
 * when the exit is written (or when its batch finishes), else through the
 * dispatch table (one entry per code word: a translation or the miss stub,
 * which returns to C to translate the target). Indirect jumps (jalr) check
 * the target against the code segment and go through the table.
 *
 * Safety. Guest code can reach host memory only through translated loads
 * and stores. Each computes a 32-bit address, looks up perm[index] with
 * index = (addr >> 12) | (addr & (size - 1)) << 20 (< 2^22: inside the 4 MiB
 * table; entries with alignment bits set are always 0, and only mapped
 * pages — all below mem_cap — have bits), so an access that passes lies
 * inside one page of RAM; stores also need the W bit, which no page of the
 * code segment has, so the code being translated never changes (no
 * invalidation). Jump targets are checked offsets into the table, or
 * addresses the translator itself computed. The code buffer is never
 * writable and executable at once: it is PROT_READ|PROT_EXEC while guest
 * code runs and flipped to PROT_READ|PROT_WRITE (mprotect) only while the
 * translator writes, when nothing in it runs.
 *
 * Under ASan the translator works unchanged (generated code is simply not
 * instrumented: its accesses are bounded by the argument above, and the
 * differential tests check it against the instrumented interpreter).
 */
#include <stddef.h>
#include <stdlib.h>

#include "vm/vm_int.h"

#if defined(__x86_64__) && defined(__linux__) && !defined(COHORT_VM_NO_JIT)
#define VM_JIT 1
#endif

#ifndef VM_JIT

uint64_t vm_jit_run(cohort_vm *vm, uint64_t budget) {
  (void)vm;
  (void)budget;
  return 0;
}
void vm_jit_free(vm_jit *j) { (void)j; }
int cohort_vm_jit_available(void) { return 0; }

#else

#include <sys/mman.h>

int cohort_vm_jit_available(void) { return 1; }

/* ---- x86-64 encoder ---- */
enum { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_L = 12, CC_GE = 13 };
enum { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };
enum { SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

typedef struct {
  uint8_t *p, *end;
  int full; /* ran out of room: the block is abandoned */
} em;

/* operand: a register, or memory [base + index << scale + disp] */
typedef struct {
  int mem, reg, base, index, scale;
  int32_t disp;
} opnd;

static opnd R(int r) { return (opnd){0, r, 0, -1, 0, 0}; }
static opnd M(int base, int32_t disp) { return (opnd){1, 0, base, -1, 0, disp}; }
static opnd MX(int base, int index, int scale, int32_t disp) { return (opnd){1, 0, base, index, scale, disp}; }

static void b1(em *e, unsigned v) {
  if (e->p < e->end) *e->p++ = (uint8_t)v;
  else e->full = 1;
}
static void b4(em *e, uint32_t v) {
  b1(e, v & 0xFF);
  b1(e, (v >> 8) & 0xFF);
  b1(e, (v >> 16) & 0xFF);
  b1(e, v >> 24);
}

/* One instruction: [pfx] [REX] opcode bytes, ModRM (+SIB, disp).
 * byteregs: the reg field and/or a register r/m are byte registers
 * (1 = reg field, 2 = r/m), which needs a REX prefix for sil/dil. */
static void op(em *e, int pfx, int w, int byteregs, uint32_t opc, int nopc, int reg, opnd m) {
  if (pfx) b1(e, (unsigned)pfx);
  int r = (reg >> 3) & 1, x = 0, b;
  if (!m.mem) b = (m.reg >> 3) & 1;
  else {
    b = (m.base >> 3) & 1;
    if (m.index >= 0) x = (m.index >> 3) & 1;
  }
  int force = ((byteregs & 1) && reg >= 4 && reg < 8) || ((byteregs & 2) && !m.mem && m.reg >= 4 && m.reg < 8);
  if (w || r || x || b || force) b1(e, 0x40u | (unsigned)(w << 3 | r << 2 | x << 1 | b));
  for (int i = nopc - 1; i >= 0; i--) b1(e, (opc >> (8 * i)) & 0xFF);
  if (!m.mem) {
    b1(e, 0xC0u | (unsigned)((reg & 7) << 3 | (m.reg & 7)));
    return;
  }
  int mod = (m.disp == 0 && (m.base & 7) != 5) ? 0 : (m.disp >= -128 && m.disp <= 127) ? 1 : 2;
  if (m.index < 0 && (m.base & 7) != 4) {
    b1(e, (unsigned)(mod << 6 | (reg & 7) << 3 | (m.base & 7)));
  } else {
    b1(e, (unsigned)(mod << 6 | (reg & 7) << 3 | 4));
    int ix = m.index < 0 ? 4 : m.index;
    b1(e, (unsigned)(m.scale << 6 | (ix & 7) << 3 | (m.base & 7)));
  }
  if (mod == 1) b1(e, (uint8_t)m.disp);
  else if (mod == 2) b4(e, (uint32_t)m.disp);
}

static void mov_r_rm(em *e, int r, opnd m) { op(e, 0, 0, 0, 0x8B, 1, r, m); }
static void mov_rm_r(em *e, opnd m, int r) { op(e, 0, 0, 0, 0x89, 1, r, m); }
static void mov_rm_imm(em *e, opnd m, uint32_t v) {
  op(e, 0, 0, 0, 0xC7, 1, 0, m);
  b4(e, v);
}
static void mov_r_imm(em *e, int r, uint32_t v) {
  if (v == 0) {
    op(e, 0, 0, 0, 0x33, 1, r, R(r)); /* xor r, r */
    return;
  }
  if (r >= 8) b1(e, 0x41);
  b1(e, 0xB8u + (unsigned)(r & 7));
  b4(e, v);
}
static void alu_r_rm(em *e, int alu, int r, opnd m) { op(e, 0, 0, 0, (uint32_t)(alu << 3 | 3), 1, r, m); }
static void alu_rm_r(em *e, int alu, opnd m, int r) { op(e, 0, 0, 0, (uint32_t)(alu << 3 | 1), 1, r, m); }
static void alu_rm_imm(em *e, int alu, opnd m, int32_t v) {
  if (v >= -128 && v <= 127) {
    op(e, 0, 0, 0, 0x83, 1, alu, m);
    b1(e, (uint8_t)v);
  } else {
    op(e, 0, 0, 0, 0x81, 1, alu, m);
    b4(e, (uint32_t)v);
  }
}
static void shift_imm(em *e, int sh, opnd m, unsigned n) {
  op(e, 0, 0, 0, 0xC1, 1, sh, m);
  b1(e, n & 31);
}
static void shift_cl(em *e, int sh, opnd m) { op(e, 0, 0, 0, 0xD3, 1, sh, m); }
static void jmp_rm(em *e, opnd m) { op(e, 0, 0, 0, 0xFF, 1, 4, m); }

/* rel32 jumps; return the position of the displacement for patching */
static uint8_t *jmp32(em *e) {
  b1(e, 0xE9);
  uint8_t *at = e->p;
  b4(e, 0);
  return at;
}
static uint8_t *jcc32(em *e, int cc) {
  b1(e, 0x0F);
  b1(e, 0x80u + (unsigned)cc);
  uint8_t *at = e->p;
  b4(e, 0);
  return at;
}
static void patch32(uint8_t *at, const uint8_t *target) {
  if (!at) return;
  int32_t rel = (int32_t)(target - (at + 4));
  at[0] = (uint8_t)rel;
  at[1] = (uint8_t)(rel >> 8);
  at[2] = (uint8_t)(rel >> 16);
  at[3] = (uint8_t)((uint32_t)rel >> 24);
}
static void jmp_to(em *e, const uint8_t *target) {
  uint8_t *at = jmp32(e);
  if (!e->full) patch32(at, target);
}
/* short forward jumps inside one instruction's code */
static uint8_t *jcc8(em *e, int cc) {
  b1(e, 0x70u + (unsigned)cc);
  uint8_t *at = e->p;
  b1(e, 0);
  return at;
}
static uint8_t *jmp8(em *e) {
  b1(e, 0xEB);
  uint8_t *at = e->p;
  b1(e, 0);
  return at;
}
static void here8(em *e, uint8_t *at) {
  if (e->full || !at) return;
  ptrdiff_t d = e->p - (at + 1);
  if (d > 127) e->full = 1; /* cannot happen for the sequences below */
  else *at = (uint8_t)d;
}

/* ---- the translator's state ---- */
#define NMAP 9
static const int HOST_REGS[NMAP] = {RBX, RSI, RDI, R8, R9, R10, R11, R12, R13};
#define MAX_BLOCK 64          /* instructions per block */
#define BLOCK_ROOM 8192       /* bytes a block may need at most (checked) */
#define BATCH_BLOCKS 48       /* blocks translated per miss, following static successors */
#define RETURN_MISS 1
#define RETURN_EXIT 2
#define RETURN_BUDGET 3
#define SLICE ((uint64_t)1 << 16)
#define MAX_REALLOC 8
/* Translation budget: a handle may translate XLATE_FREE guest
 * instructions, plus one per XLATE_STEPS steps it has run. A program whose
 * code runs too little per translation (every taken branch a new block
 * start, code too large for the buffer so that it is dropped and
 * translated again) would otherwise spend ~10 ns per translated
 * instruction, thousands per step; over the budget a miss is left to the
 * interpreter for JIT_PAUSE steps. */
#define XLATE_FREE ((uint64_t)1 << 18)
#define XLATE_STEPS 128
#define JIT_PAUSE ((uint64_t)1 << 22)

typedef struct {
  uint32_t x[32];
  uint32_t pc;     /* where translated code stopped */
  uint32_t reason; /* RETURN_* */
  uint64_t pad[6];
  const void *table[]; /* per code word: its translation or the miss stub */
} jit_ctx;

#define CTX_PC ((int32_t)offsetof(jit_ctx, pc))
#define CTX_REASON ((int32_t)offsetof(jit_ctx, reason))
#define CTX_TABLE ((int32_t)offsetof(jit_ctx, table))

typedef uint64_t (*enter_fn)(jit_ctx *ctx, const void *code, uint64_t budget, uint8_t *ram);

struct vm_jit {
  uint8_t *buf;       /* code buffer: PROT_READ|PROT_EXEC except while writing */
  size_t cap, used, fixed; /* bytes; fixed = the stubs at the start */
  enter_fn enter;
  const uint8_t *exit_code, *miss_code;
  jit_ctx *ctx;
  uint8_t *kind;      /* per code word: 0 not translated, 1 translated */
  int8_t host[33];    /* guest register -> host register, -1 = in ctx */
  uint32_t ninsn, exec_lo;
  int32_t perm_off, dirty_off; /* from the RAM base */
  int bmi2;           /* the host has rorx */
  uint32_t *samples;  /* per code word: slices that stopped there */
  uint64_t use_static[33];
  uint64_t nsamples, next_eval;
  int nrealloc;
  uint64_t xlated;    /* guest instructions translated so far (the budget) */
  struct site {
    uint8_t *at;
    uint32_t target;
  } *sites;
  size_t nsites, capsites;
  uint32_t *work;
  size_t nwork;
};

/* ---- emitting one block ---- */
/* A translated block is a superblock: segments (basic blocks) laid out one
 * after the other along fall-through paths, each charged on entry; taken
 * branches leave it. */
typedef struct {
  em e;
  vm_jit *j;
  cohort_vm *vm;
  uint32_t start;    /* code index of the block */
  uint32_t seg;      /* code index of the current segment */
  uint32_t n;        /* instructions of the current segment (charged) */
  struct {
    uint8_t *at;     /* jcc to the cold stub */
    uint32_t pc, refund;
  } slow[MAX_BLOCK + 2 * MAX_BLOCK];
  unsigned nslow;
  struct {
    uint8_t *at;     /* jmp/jcc rel32 to a stub that goes through the table */
    uint32_t t;
  } stubs[2 * MAX_BLOCK];
  unsigned nstubs;
} blk;

static opnd gop(blk *b, unsigned g) {
  return b->j->host[g] >= 0 ? R(b->j->host[g]) : M(RBP, (int32_t)(4 * g));
}
static int mapped(blk *b, unsigned g) { return g != 0 && g != 32 && b->j->host[g] >= 0; }

/* host register r := guest g */
static void ld(blk *b, int r, unsigned g) {
  if (g == 0) mov_r_imm(&b->e, r, 0);
  else if (mapped(b, g) && b->j->host[g] == r) return;
  else mov_r_rm(&b->e, r, gop(b, g));
}
/* guest g := host register r (g = 32 is x0: discarded) */
static void st(blk *b, unsigned g, int r) {
  if (g == 0 || g == 32) return;
  if (mapped(b, g) && b->j->host[g] == r) return;
  mov_rm_r(&b->e, gop(b, g), r);
}
static void st_imm(blk *b, unsigned g, uint32_t v) {
  if (g == 0 || g == 32) return;
  if (mapped(b, g)) mov_r_imm(&b->e, b->j->host[g], v);
  else mov_rm_imm(&b->e, gop(b, g), v);
}
/* the register to compute rd in */
static int dst_of(blk *b, unsigned rd) { return mapped(b, rd) ? b->j->host[rd] : RAX; }

/* leave translated code with pc = guest pc, after refunding `refund` steps */
static void exit_stub(blk *b, uint32_t pc, uint32_t refund) {
  em *e = &b->e;
  uint32_t reason = refund & 0x80000000u ? RETURN_BUDGET : RETURN_EXIT;
  refund &= 0x7FFFFFFFu;
  if (refund) {
    op(e, 0, 1, 0, 0x81, 1, 0, R(R14)); /* add r14, refund */
    b4(e, refund);
  }
  mov_rm_imm(e, M(RBP, CTX_PC), pc);
  mov_rm_imm(e, M(RBP, CTX_REASON), reason);
  jmp_to(e, b->j->exit_code);
}

static uint32_t pc_of(blk *b, uint32_t idx) { return b->j->exec_lo + 4 * idx; }

static void add_site(blk *b, uint8_t *at, uint32_t t) {
  vm_jit *j = b->j;
  if (j->nsites == j->capsites) {
    size_t nc = j->capsites ? 2 * j->capsites : 256;
    struct site *ns = realloc(j->sites, nc * sizeof *ns);
    if (!ns) {
      b->e.full = 1;
      return;
    }
    j->sites = ns;
    j->capsites = nc;
  }
  j->sites[j->nsites].at = at;
  j->sites[j->nsites++].target = t;
}

/* continue at code index t (if cc >= 0, only when condition cc holds): a
 * direct jump if t is translated, else a jump to a cold stub that goes
 * through the table, recorded as a site to point straight at t if t gets
 * translated in this batch */
static void exit_to(blk *b, int cc, uint32_t t) {
  vm_jit *j = b->j;
  em *e = &b->e;
  uint8_t *at = cc >= 0 ? jcc32(e, cc) : jmp32(e);
  if (e->full) return;
  if (j->kind[t]) {
    patch32(at, (const uint8_t *)j->ctx->table[t]);
    return;
  }
  b->stubs[b->nstubs].at = at;
  b->stubs[b->nstubs++].t = t;
  add_site(b, at, t);
  if (j->nwork < BATCH_BLOCKS) j->work[j->nwork++] = t;
}

/* leave with pc = guest pc after refunding `refund` steps, from cold code
 * (if cc >= 0, only when condition cc holds) */
static void exit_cold(blk *b, int cc, uint32_t pc, uint32_t refund) {
  em *e = &b->e;
  b->slow[b->nslow].at = cc >= 0 ? jcc32(e, cc) : jmp32(e);
  b->slow[b->nslow].pc = pc;
  b->slow[b->nslow++].refund = refund;
}

/* continue at guest address target (a static jump/branch target) or hand
 * the jump at idx over if the target is not a valid fetch address (vm_step
 * then traps or jumps out of the code) */
static void exit_pc(blk *b, int cc, uint32_t target, uint32_t idx_of_jump) {
  uint32_t off = target - b->j->exec_lo;
  if (off < 4 * b->j->ninsn && !(target & 3)) exit_to(b, cc, off / 4);
  else exit_cold(b, cc, pc_of(b, idx_of_jump), b->n - (idx_of_jump - b->seg));
}

/* address of a load/store into eax, then the permission and alignment
 * check; jumps to the block's slow stub k on failure */
static void mem_addr(blk *b, const vm_insn *d, unsigned size, unsigned need, uint32_t k) {
  em *e = &b->e;
  if (d->rs1 == 0) mov_r_imm(e, RAX, (uint32_t)d->imm);
  else if (mapped(b, d->rs1)) op(e, 0, 0, 0, 0x8D, 1, RAX, M(b->j->host[d->rs1], d->imm)); /* lea eax, [r + imm] */
  else {
    mov_r_rm(e, RAX, gop(b, d->rs1));
    if (d->imm) alu_rm_imm(e, ALU_ADD, R(RAX), d->imm);
  }
  if (size == 1) {
    mov_r_rm(e, RCX, R(RAX));
    shift_imm(e, SH_SHR, R(RCX), 12);
  } else {
    if (b->j->bmi2) { /* rorx ecx, eax, 12 */
      static const uint8_t rorx[6] = {0xC4, 0xE3, 0x7B, 0xF0, 0xC8, 12};
      for (int i = 0; i < 6; i++) b1(e, rorx[i]);
    } else {
      mov_r_rm(e, RCX, R(RAX));
      shift_imm(e, SH_ROR, R(RCX), 12);
    }
    alu_rm_imm(e, ALU_AND, R(RCX), size == 2 ? 0x1FFFFF : 0x3FFFFF);
  }
  op(e, 0, 0, 0, 0xF6, 1, 0, MX(R15, RCX, 0, b->j->perm_off)); /* test byte [r15 + rcx + perm], need */
  b1(e, need);
  exit_cold(b, CC_E, pc_of(b, b->start + k), b->n - (b->start + k - b->seg));
}

static void emit_load(blk *b, const vm_insn *d, uint32_t k) {
  em *e = &b->e;
  unsigned size = d->op == OP_LW ? 4 : (d->op == OP_LH || d->op == OP_LHU) ? 2 : 1;
  mem_addr(b, d, size, VM_PERM_R, k);
  if (d->rd == 32) return; /* to x0: only the fault matters */
  int r = dst_of(b, d->rd);
  opnd m = MX(R15, RAX, 0, 0);
  switch (d->op) {
    case OP_LB: op(e, 0, 0, 0, 0x0FBE, 2, r, m); break;
    case OP_LBU: op(e, 0, 0, 0, 0x0FB6, 2, r, m); break;
    case OP_LH: op(e, 0, 0, 0, 0x0FBF, 2, r, m); break;
    case OP_LHU: op(e, 0, 0, 0, 0x0FB7, 2, r, m); break;
    default: mov_r_rm(e, r, m); break;
  }
  st(b, d->rd, r);
}

static void emit_store(blk *b, const vm_insn *d, uint32_t k) {
  em *e = &b->e;
  unsigned size = d->op == OP_SW ? 4 : d->op == OP_SH ? 2 : 1;
  mem_addr(b, d, size, VM_PERM_W, k);
  opnd m = MX(R15, RAX, 0, 0);
  if (d->rs2 == 0) {
    if (size == 1) op(e, 0, 0, 0, 0xC6, 1, 0, m), b1(e, 0);
    else if (size == 2) op(e, 0x66, 0, 0, 0xC7, 1, 0, m), b1(e, 0), b1(e, 0);
    else mov_rm_imm(e, m, 0);
  } else {
    int r = RDX;
    if (mapped(b, d->rs2)) r = b->j->host[d->rs2];
    else mov_r_rm(e, RDX, gop(b, d->rs2));
    if (size == 1) op(e, 0, 0, 1, 0x88, 1, r, m);
    else if (size == 2) op(e, 0x66, 0, 0, 0x89, 1, r, m);
    else mov_rm_r(e, m, r);
  }
  shift_imm(e, SH_SHR, R(RAX), VM_LEAF_SHIFT);
  op(e, 0, 0, 0, 0xC6, 1, 0, MX(R15, RAX, 0, b->j->dirty_off)); /* mov byte [r15 + rax + dirty], 1 */
  b1(e, 1);
}

/* rd = rs1 op rs2 for add/sub/and/or/xor */
static void emit_alu_rr(blk *b, const vm_insn *d, int alu) {
  em *e = &b->e;
  if (d->rd == 32) return;
  int commut = alu != ALU_SUB;
  int r = dst_of(b, d->rd);
  if (r != RAX && d->rs2 == d->rd && d->rs1 != d->rd) {
    if (commut) {
      if (d->rs1 == 0) {
        if (alu == ALU_AND) mov_r_imm(e, r, 0);
        return; /* rd = 0 op rd */
      }
      alu_r_rm(e, alu, r, gop(b, d->rs1));
      return;
    }
    r = RAX; /* sub rd, rs1, rd: compute in eax */
  }
  if (r == RAX && d->rs1 == d->rd && d->rs2 != 0 && mapped(b, d->rs2)) { /* op [rbp + 4 rd], r2 */
    alu_rm_r(e, alu, gop(b, d->rd), b->j->host[d->rs2]);
    return;
  }
  ld(b, r, d->rs1);
  if (d->rs2 == 0) {
    if (alu == ALU_AND) mov_r_imm(e, r, 0);
  } else {
    alu_r_rm(e, alu, r, gop(b, d->rs2));
  }
  st(b, d->rd, r);
}

static void emit_alu_imm(blk *b, const vm_insn *d, int alu) {
  em *e = &b->e;
  if (d->rd == 32) return;
  int r = dst_of(b, d->rd);
  if (alu == ALU_ADD && r != RAX && mapped(b, d->rs1) && d->rs1 != d->rd) {
    if (d->imm == 0) mov_r_rm(e, r, R(b->j->host[d->rs1])); /* mv */
    else op(e, 0, 0, 0, 0x8D, 1, r, M(b->j->host[d->rs1], d->imm)); /* lea r32, [rs1 + imm] */
    return;
  }
  if (r == RAX && d->rs1 == d->rd) { /* in memory: op dword [rbp + 4 rd], imm */
    if (d->imm != 0 || alu == ALU_AND) alu_rm_imm(e, alu, gop(b, d->rd), d->imm);
    return;
  }
  ld(b, r, d->rs1);
  if (d->imm != 0 || alu == ALU_AND) alu_rm_imm(e, alu, R(r), d->imm);
  st(b, d->rd, r);
}

static void emit_shift(blk *b, const vm_insn *d, int sh, int by_reg) {
  em *e = &b->e;
  if (d->rd == 32) return;
  int r = dst_of(b, d->rd);
  if (by_reg) ld(b, RCX, d->rs2);
  ld(b, r, d->rs1);
  if (by_reg) shift_cl(e, sh, R(r));
  else if (d->imm & 31) shift_imm(e, sh, R(r), (unsigned)d->imm);
  st(b, d->rd, r);
}

static void emit_slt(blk *b, const vm_insn *d, int cc, int with_imm) {
  em *e = &b->e;
  if (d->rd == 32) return;
  int a = RAX;
  if (mapped(b, d->rs1)) a = b->j->host[d->rs1];
  else ld(b, RAX, d->rs1);
  if (with_imm) alu_rm_imm(e, ALU_CMP, R(a), d->imm);
  else if (d->rs2 == 0) alu_rm_imm(e, ALU_CMP, R(a), 0);
  else alu_r_rm(e, ALU_CMP, a, gop(b, d->rs2));
  op(e, 0, 0, 0, 0x0F90u + (unsigned)cc, 2, 0, R(RAX)); /* setcc al */
  int r = dst_of(b, d->rd);
  op(e, 0, 0, 2, 0x0FB6, 2, r, R(RAX));                /* movzx r32, al */
  st(b, d->rd, r);
}

static void emit_mul(blk *b, const vm_insn *d) {
  em *e = &b->e;
  if (d->rd == 32) return;
  if (d->op == OP_MUL) {
    int r = dst_of(b, d->rd);
    if (r != RAX && d->rs2 == d->rd) r = RAX;
    ld(b, r, d->rs1);
    if (d->rs2 == 0) mov_r_imm(e, r, 0);
    else op(e, 0, 0, 0, 0x0FAF, 2, r, gop(b, d->rs2)); /* imul r32, rm32 */
    st(b, d->rd, r);
    return;
  }
  /* 64-bit product of sign- or zero-extended operands, high half */
  int sa = d->op != OP_MULHU, sb = d->op == OP_MULH;
  if (d->rs1 == 0) mov_r_imm(e, RAX, 0);
  else if (sa) op(e, 0, 1, 0, 0x63, 1, RAX, gop(b, d->rs1)); /* movsxd rax, rm32 */
  else mov_r_rm(e, RAX, gop(b, d->rs1));
  if (d->rs2 == 0) mov_r_imm(e, RCX, 0);
  else if (sb) op(e, 0, 1, 0, 0x63, 1, RCX, gop(b, d->rs2));
  else mov_r_rm(e, RCX, gop(b, d->rs2));
  op(e, 0, 1, 0, 0x0FAF, 2, RAX, R(RCX)); /* imul rax, rcx */
  op(e, 0, 1, 0, 0xC1, 1, SH_SHR, R(RAX)); /* shr rax, 32 */
  b1(e, 32);
  st(b, d->rd, RAX);
}

/* RISC-V division: x/0 = -1, x%0 = x, INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0
 * (x86 would fault on the last two and on zero) */
static void emit_div(blk *b, const vm_insn *d) {
  em *e = &b->e;
  if (d->rd == 32) return;
  int is_rem = d->op == OP_REM || d->op == OP_REMU, sgn = d->op == OP_DIV || d->op == OP_REM;
  ld(b, RCX, d->rs2);
  ld(b, RAX, d->rs1);
  op(e, 0, 0, 0, 0x85, 1, RCX, R(RCX)); /* test ecx, ecx */
  uint8_t *zero = jcc8(e, CC_E), *done1 = NULL, *done2 = NULL;
  if (sgn) {
    alu_rm_imm(e, ALU_CMP, R(RCX), -1);
    uint8_t *normal = jcc8(e, CC_NE);
    if (is_rem) mov_r_imm(e, RAX, 0); /* x % -1 = 0 */
    else {
      op(e, 0, 0, 0, 0xF7, 1, 3, R(RAX)); /* neg eax: x / -1 = -x, INT_MIN stays */
    }
    done1 = jmp8(e);
    here8(e, normal);
    b1(e, 0x99);                          /* cdq */
    op(e, 0, 0, 0, 0xF7, 1, 7, R(RCX));   /* idiv ecx */
  } else {
    mov_r_imm(e, RDX, 0);
    op(e, 0, 0, 0, 0xF7, 1, 6, R(RCX));   /* div ecx */
  }
  if (is_rem) mov_r_rm(e, RAX, R(RDX));
  done2 = jmp8(e);
  here8(e, zero);
  if (!is_rem) mov_r_imm(e, RAX, 0xFFFFFFFFu); /* x / 0 = -1; x % 0 = x (eax) */
  here8(e, done1);
  here8(e, done2);
  st(b, d->rd, RAX);
}

/* compare for a branch; returns the x86 condition that means "taken" */
static int emit_compare(blk *b, const vm_insn *d) {
  em *e = &b->e;
  int cc;
  switch (d->op) {
    case OP_BEQ: cc = CC_E; break;
    case OP_BNE: cc = CC_NE; break;
    case OP_BLT: cc = CC_L; break;
    case OP_BGE: cc = CC_GE; break;
    case OP_BLTU: cc = CC_B; break;
    default: cc = CC_AE; break;
  }
  if (d->rs2 == 0) {
    if (d->rs1 == 0) mov_r_imm(e, RAX, 0), op(e, 0, 0, 0, 0x85, 1, RAX, R(RAX));
    else if (mapped(b, d->rs1)) op(e, 0, 0, 0, 0x85, 1, b->j->host[d->rs1], R(b->j->host[d->rs1])); /* test r, r */
    else alu_rm_imm(e, ALU_CMP, gop(b, d->rs1), 0);
  } else if (mapped(b, d->rs1)) {
    alu_r_rm(e, ALU_CMP, b->j->host[d->rs1], gop(b, d->rs2));
  } else if (d->rs1 != 0 && mapped(b, d->rs2)) {
    alu_rm_r(e, ALU_CMP, gop(b, d->rs1), b->j->host[d->rs2]);
  } else {
    ld(b, RAX, d->rs1);
    alu_r_rm(e, ALU_CMP, RAX, gop(b, d->rs2));
  }
  return cc;
}

/* charge the segment starting at code index i (its length up to the next
 * jump/branch, an instruction for vm_step, the block limit or the end of
 * the code); returns that length */
static uint32_t begin_segment(blk *b, uint32_t i, uint32_t room) {
  vm_jit *j = b->j;
  uint32_t n = 0;
  for (uint32_t k = i; k < j->ninsn && n < room; k++) {
    uint8_t o = b->vm->code[k].op;
    if (o == OP_ILLEGAL || o == OP_ECALL || o == OP_EBREAK || o == OP_CSR) break;
    n++;
    if (o >= OP_JAL && o <= OP_BGEU) break;
  }
  b->seg = i;
  b->n = n;
  if (n == 0) return 0;
  op(&b->e, 0, 1, 0, 0x81, 1, ALU_SUB, R(R14)); /* sub r14, n */
  b4(&b->e, n);
  exit_cold(b, CC_B, pc_of(b, i), n);           /* not enough steps left: refund, leave */
  b->slow[b->nslow - 1].refund |= 0x80000000u; /* ... as RETURN_BUDGET (a profile sample) */
  return n;
}

/* Translate the (super)block starting at code index start. Returns 0, or
 * -1 when the buffer is full (nothing is recorded then). */
static int translate_block(vm_jit *j, cohort_vm *vm, uint32_t start) {
  blk *bp = malloc(sizeof *bp); /* a few KiB: not on the stack */
  if (!bp) return -1;
  memset(bp, 0, sizeof *bp);
  bp->j = j;
  bp->vm = vm;
  bp->start = start;
  if (j->cap - j->used < BLOCK_ROOM) {
    free(bp);
    return -1;
  }
  uint8_t *code = j->buf + j->used;
  bp->e.p = code;
  bp->e.end = code + BLOCK_ROOM;
  size_t sites0 = j->nsites, work0 = j->nwork;
  em *e = &bp->e;
  uint32_t i = start, total = 0;
  uint32_t n = begin_segment(bp, i, MAX_BLOCK);
  for (;;) {
    if (n == 0) { /* an instruction for vm_step, or the end of the code */
      mov_rm_imm(e, M(RBP, CTX_PC), pc_of(bp, i));
      mov_rm_imm(e, M(RBP, CTX_REASON), RETURN_EXIT);
      jmp_to(e, j->exit_code);
      break;
    }
    const vm_insn *d = &vm->code[i];
    uint32_t pc = pc_of(bp, i), k = i - start;
    int next_seg = 0;
    total++;
    switch (d->op) {
      case OP_LUI: st_imm(bp, d->rd, (uint32_t)d->imm); break;
      case OP_AUIPC: st_imm(bp, d->rd, pc + (uint32_t)d->imm); break;
      case OP_ADDI: emit_alu_imm(bp, d, ALU_ADD); break;
      case OP_XORI: emit_alu_imm(bp, d, ALU_XOR); break;
      case OP_ORI: emit_alu_imm(bp, d, ALU_OR); break;
      case OP_ANDI: emit_alu_imm(bp, d, ALU_AND); break;
      case OP_SLTI: emit_slt(bp, d, CC_L, 1); break;
      case OP_SLTIU: emit_slt(bp, d, CC_B, 1); break;
      case OP_SLLI: emit_shift(bp, d, SH_SHL, 0); break;
      case OP_SRLI: emit_shift(bp, d, SH_SHR, 0); break;
      case OP_SRAI: emit_shift(bp, d, SH_SAR, 0); break;
      case OP_ADD: emit_alu_rr(bp, d, ALU_ADD); break;
      case OP_SUB: emit_alu_rr(bp, d, ALU_SUB); break;
      case OP_AND: emit_alu_rr(bp, d, ALU_AND); break;
      case OP_OR: emit_alu_rr(bp, d, ALU_OR); break;
      case OP_XOR: emit_alu_rr(bp, d, ALU_XOR); break;
      case OP_SLT: emit_slt(bp, d, CC_L, 0); break;
      case OP_SLTU: emit_slt(bp, d, CC_B, 0); break;
      case OP_SLL: emit_shift(bp, d, SH_SHL, 1); break;
      case OP_SRL: emit_shift(bp, d, SH_SHR, 1); break;
      case OP_SRA: emit_shift(bp, d, SH_SAR, 1); break;
      case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU: emit_mul(bp, d); break;
      case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU: emit_div(bp, d); break;
      case OP_LB: case OP_LH: case OP_LW: case OP_LBU: case OP_LHU: emit_load(bp, d, k); break;
      case OP_SB: case OP_SH: case OP_SW: emit_store(bp, d, k); break;
      case OP_FENCE: break;
      case OP_JAL: {
        uint32_t target = pc + (uint32_t)d->imm, off = target - j->exec_lo;
        if (off < 4 * j->ninsn && !(target & 3)) st_imm(bp, d->rd, pc + 4);
        exit_pc(bp, -1, target, i);
        goto done;
      }
      case OP_JALR: {
        /* target first: rd may be rs1 */
        if (d->rs1 == 0) mov_r_imm(e, RAX, (uint32_t)d->imm & ~1u);
        else {
          if (mapped(bp, d->rs1)) {
            if (d->imm) op(e, 0, 0, 0, 0x8D, 1, RAX, M(j->host[d->rs1], d->imm));
            else mov_r_rm(e, RAX, R(j->host[d->rs1]));
          } else {
            mov_r_rm(e, RAX, gop(bp, d->rs1));
            if (d->imm) alu_rm_imm(e, ALU_ADD, R(RAX), d->imm);
          }
          alu_rm_imm(e, ALU_AND, R(RAX), -2);
        }
        alu_rm_imm(e, ALU_SUB, R(RAX), (int32_t)j->exec_lo);
        alu_rm_imm(e, ALU_CMP, R(RAX), (int32_t)(4 * j->ninsn));
        exit_cold(bp, CC_AE, pc, 1); /* outside the code: vm_step (fetch fault next) */
        b1(e, 0xA8);                 /* test al, 3 */
        b1(e, 3);
        exit_cold(bp, CC_NE, pc, 1); /* misaligned: vm_step traps */
        st_imm(bp, d->rd, pc + 4);
        jmp_rm(e, MX(RBP, RAX, 1, CTX_TABLE)); /* table[offset / 4] */
        goto done;
      }
      default:
        if (d->op >= OP_BEQ && d->op <= OP_BGEU) {
          int cc = emit_compare(bp, d);
          exit_pc(bp, cc, pc + (uint32_t)d->imm, i);
          next_seg = 1; /* the fall-through path continues here */
        }
        break;
    }
    i++;
    if (i - bp->seg == bp->n) next_seg = 1;
    if (next_seg) {
      if (i >= j->ninsn) { /* fell off the code: vm_step raises the fetch fault */
        n = 0;
        continue;
      }
      if (total >= MAX_BLOCK) { /* long enough: chain to the next block */
        exit_to(bp, -1, i);
        break;
      }
      n = begin_segment(bp, i, MAX_BLOCK - total);
    }
  }
done:
  /* cold code: stubs through the table, refund-and-leave exits */
  for (unsigned s = 0; s < bp->nstubs && !e->full; s++) {
    patch32(bp->stubs[s].at, e->p);
    uint32_t t = bp->stubs[s].t;
    mov_r_imm(e, RAX, 4 * t);                        /* the miss stub wants the offset */
    jmp_rm(e, M(RBP, CTX_TABLE + (int32_t)(8 * t))); /* table[t] */
  }
  for (unsigned s = 0; s < bp->nslow && !e->full; s++) {
    patch32(bp->slow[s].at, e->p);
    exit_stub(bp, bp->slow[s].pc, bp->slow[s].refund);
  }
  if (e->full) {
    j->nsites = sites0;
    j->nwork = work0;
    free(bp);
    return -1;
  }
  j->used += (size_t)(e->p - code);
  j->ctx->table[start] = code;
  j->kind[start] = 1;
  j->xlated += total;
  free(bp);
  return 0;
}

/* ---- setup: code buffer, stubs, register choice ---- */
/* The nine guest registers to keep in host registers: those used most.
 * Without a profile, an instruction inside a short backward loop counts 16
 * times; with one, each counts as often as a slice stopped at the start of
 * its segment (j->samples). */
static void pick_registers(vm_jit *j, const cohort_vm *vm, int use_profile) {
  uint64_t use[33] = {0};
  if (use_profile) { /* ties and registers the profile never saw: the static count */
    pick_registers(j, vm, 0);
    for (int g = 0; g < 33; g++) use[g] = j->use_static[g];
  }
  uint64_t *w = calloc(j->ninsn ? j->ninsn : 1, sizeof *w);
  for (uint32_t i = 0; w && !use_profile && i < j->ninsn; i++) {
    const vm_insn *d = &vm->code[i];
    if (d->op == OP_JAL || (d->op >= OP_BEQ && d->op <= OP_BGEU)) {
      int64_t t = (int64_t)i + d->imm / 4;
      if (d->imm <= 0 && t >= 0 && i - t < 256)
        for (uint32_t k = (uint32_t)t; k <= i; k++) w[k] += 16;
    }
  }
  for (uint32_t i = 0; w && use_profile && i < j->ninsn; i++) {
    uint64_t c = j->samples[i];
    if (!c) continue;
    for (uint32_t k = i, n = 0; k < j->ninsn && n < MAX_BLOCK; k++, n++) {
      uint8_t o = vm->code[k].op;
      if (o == OP_ILLEGAL || o == OP_ECALL || o == OP_EBREAK || o == OP_CSR) break;
      w[k] += c;
      if (o >= OP_JAL && o <= OP_BGEU) break;
    }
  }
  for (uint32_t i = 0; i < j->ninsn; i++) {
    const vm_insn *d = &vm->code[i];
    if (d->op == OP_ILLEGAL) continue;
    uint64_t wt = use_profile ? (w ? w[i] << 32 : 0) : 1 + (w ? w[i] : 0);
    int u1 = d->op != OP_LUI && d->op != OP_AUIPC && d->op != OP_JAL;
    int u2 = (d->op >= OP_ADD && d->op <= OP_REMU) || (d->op >= OP_BEQ && d->op <= OP_BGEU) ||
             (d->op >= OP_SB && d->op <= OP_SW);
    int ud = !(d->op >= OP_BEQ && d->op <= OP_BGEU) && !(d->op >= OP_SB && d->op <= OP_SW);
    if (u1) use[d->rs1] += wt;
    if (u2) use[d->rs2] += wt;
    if (ud) use[d->rd] += wt;
  }
  free(w);
  use[0] = use[32] = 0;
  if (!use_profile) memcpy(j->use_static, use, sizeof use);
  for (int g = 0; g < 33; g++) j->host[g] = -1;
  for (int k = 0; k < NMAP; k++) {
    int best = -1;
    for (int g = 1; g < 32; g++)
      if (j->host[g] < 0 && use[g] && (best < 0 || use[g] > use[best])) best = g;
    if (best < 0) break;
    j->host[best] = (int8_t)HOST_REGS[k];
  }
}

/* enter(ctx, code, budget, ram) -> budget left; exit; miss */
static int emit_stubs(vm_jit *j) {
  em e = {j->buf, j->buf + 4096, 0};
  static const int saved[6] = {RBX, RBP, R12, R13, R14, R15};
  uint8_t *enter = e.p;
  for (int i = 0; i < 6; i++) {
    if (saved[i] >= 8) b1(&e, 0x41);
    b1(&e, 0x50u + (unsigned)(saved[i] & 7)); /* push */
  }
  op(&e, 0, 1, 0, 0x83, 1, ALU_SUB, R(RSP)), b1(&e, 8); /* sub rsp, 8: keep 16-byte alignment */
  op(&e, 0, 1, 0, 0x89, 1, RDI, R(RBP));  /* mov rbp, rdi */
  op(&e, 0, 1, 0, 0x89, 1, RDX, R(R14));  /* mov r14, rdx */
  op(&e, 0, 1, 0, 0x89, 1, RCX, R(R15));  /* mov r15, rcx */
  op(&e, 0, 1, 0, 0x89, 1, RSI, R(RAX));  /* mov rax, rsi */
  for (int g = 1; g < 32; g++)
    if (j->host[g] >= 0) mov_r_rm(&e, j->host[g], M(RBP, 4 * g));
  jmp_rm(&e, R(RAX));
  uint8_t *exitp = e.p;
  for (int g = 1; g < 32; g++)
    if (j->host[g] >= 0) mov_rm_r(&e, M(RBP, 4 * g), j->host[g]);
  op(&e, 0, 1, 0, 0x89, 1, R14, R(RAX));  /* mov rax, r14 */
  op(&e, 0, 1, 0, 0x83, 1, ALU_ADD, R(RSP)), b1(&e, 8);
  for (int i = 5; i >= 0; i--) {
    if (saved[i] >= 8) b1(&e, 0x41);
    b1(&e, 0x58u + (unsigned)(saved[i] & 7)); /* pop */
  }
  b1(&e, 0xC3);
  /* miss: eax = offset of the target in the code segment */
  uint8_t *miss = e.p;
  alu_rm_imm(&e, ALU_ADD, R(RAX), (int32_t)j->exec_lo);
  mov_rm_r(&e, M(RBP, CTX_PC), RAX);
  mov_rm_imm(&e, M(RBP, CTX_REASON), RETURN_MISS);
  jmp_to(&e, exitp);
  if (e.full) return -1;
  j->enter = (enter_fn)(void *)enter;
  j->exit_code = exitp;
  j->miss_code = miss;
  j->fixed = j->used = (size_t)(((e.p - j->buf) + 63) & ~(ptrdiff_t)63);
  return 0;
}

static void reset_translations(vm_jit *j) {
  j->used = j->fixed;
  memset(j->kind, 0, j->ninsn);
  for (uint32_t i = 0; i < j->ninsn; i++) j->ctx->table[i] = j->miss_code;
}

static vm_jit *jit_new(cohort_vm *vm) {
  vm_jit *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->ninsn = vm->code_n; /* past it: zero words, left to vm_step */
  j->exec_lo = vm->s.exec_lo;
  vm_region *ram = &vm->reg[VM_REG_RAM];
  j->perm_off = (int32_t)(vm->perm - ram->data);
  j->bmi2 = __builtin_cpu_supports("bmi2");
  j->dirty_off = (int32_t)(ram->dirty - ram->data);
  size_t cap = (size_t)j->ninsn * 96 + (1u << 20);
  if (cap > ((size_t)256 << 20)) cap = (size_t)256 << 20;
  j->cap = cap;
  j->buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  j->ctx = calloc(1, sizeof(jit_ctx) + (size_t)j->ninsn * sizeof(void *));
  j->samples = calloc(j->ninsn ? j->ninsn : 1, sizeof *j->samples);
  j->kind = calloc(j->ninsn ? j->ninsn : 1, 1);
  j->work = calloc(BATCH_BLOCKS, sizeof *j->work);
  if (j->buf == MAP_FAILED) j->buf = NULL;
  if (!j->buf || !j->ctx || !j->kind || !j->work || !j->samples) goto fail;
  j->next_eval = 64;
  pick_registers(j, vm, 0);
  if (emit_stubs(j)) goto fail;
  reset_translations(j);
  if (mprotect(j->buf, j->cap, PROT_READ | PROT_EXEC)) goto fail;
  return j;
fail:
  vm_jit_free(j);
  return NULL;
}

void vm_jit_free(vm_jit *j) {
  if (!j) return;
  if (j->buf) munmap(j->buf, j->cap);
  free(j->ctx);
  free(j->kind);
  free(j->samples);
  free(j->work);
  free(j->sites);
  free(j);
}

/* Translate the block at code index idx and, following static successors,
 * up to BATCH_BLOCKS more; then patch this batch's jumps between its
 * blocks. Code pages are writable only inside this function. */
static int translate_batch(vm_jit *j, cohort_vm *vm, uint32_t idx) {
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t lo = j->used & ~(size_t)4095, hi = j->cap;
    size_t span = (size_t)BLOCK_ROOM * (BATCH_BLOCKS + 1) + 8192;
    if (hi - lo > span) hi = (lo + span + 4095) & ~(size_t)4095;
    if (hi > j->cap) hi = j->cap;
    if (mprotect(j->buf + lo, hi - lo, PROT_READ | PROT_WRITE)) return -1;
    uint8_t *keep_end = j->buf + hi;
    size_t saved_cap = j->cap;
    j->cap = hi; /* blocks must stay inside the writable window */
    j->nsites = 0;
    j->nwork = 0;
    j->work[j->nwork++] = idx;
    int rc = 0;
    for (size_t w = 0; w < j->nwork; w++) {
      uint32_t t = j->work[w];
      if (j->kind[t]) continue;
      if (translate_block(j, vm, t)) {
        rc = -1;
        break;
      }
    }
    j->cap = saved_cap;
    for (size_t s = 0; s < j->nsites; s++)
      if (j->kind[j->sites[s].target] && j->sites[s].at >= j->buf + lo && j->sites[s].at < keep_end)
        patch32(j->sites[s].at, (const uint8_t *)j->ctx->table[j->sites[s].target]);
    if (mprotect(j->buf + lo, hi - lo, PROT_READ | PROT_EXEC)) return -1;
    if (j->kind[idx]) return 0;
    if (rc == 0) return -1;
    /* full: drop every translation (nothing runs now) and start over */
    if (mprotect(j->buf, j->cap, PROT_READ | PROT_WRITE)) return -1;
    reset_translations(j);
    if (mprotect(j->buf, j->cap, PROT_READ | PROT_EXEC)) return -1;
  }
  return -1;
}

static int translatable(const cohort_vm *vm, uint32_t idx) {
  uint8_t o = vm->code[idx].op;
  return !(o == OP_ILLEGAL || o == OP_ECALL || o == OP_EBREAK || o == OP_CSR);
}

/* After a profile: choose the registers again, drop every translation and
 * rewrite the stubs (they load and store the mapped registers). Nothing
 * runs while this happens. */
static int reallocate(vm_jit *j, cohort_vm *vm) {
  int8_t old[33];
  memcpy(old, j->host, sizeof old);
  pick_registers(j, vm, 1);
  for (uint32_t i = 0; i < j->ninsn; i++) j->samples[i] /= 2; /* let a new phase win */
  if (memcmp(old, j->host, sizeof old) == 0) return 0;
  j->nrealloc++;
  if (mprotect(j->buf, j->cap, PROT_READ | PROT_WRITE)) return -1;
  j->used = 0;
  int rc = emit_stubs(j);
  if (!rc) reset_translations(j);
  if (mprotect(j->buf, j->cap, PROT_READ | PROT_EXEC)) return -1;
  return rc;
}

uint64_t vm_jit_run(cohort_vm *vm, uint64_t budget) {
  if (!vm->jit) {
    if (vm->tier < 0) return 0; /* setup failed before */
    vm->jit = jit_new(vm);
    if (!vm->jit) {
      vm->tier = -1;
      return 0;
    }
  }
  vm_jit *j = vm->jit;
  cohort_vm_info *s = &vm->s;
  uint8_t *ram = vm->reg[VM_REG_RAM].data;
  uint64_t left = budget;
  memcpy(j->ctx->x, s->x, sizeof s->x);
  uint32_t pc = s->pc;
  for (;;) {
    uint32_t idx = (pc - j->exec_lo) / 4;
    if (pc - j->exec_lo >= 4 * j->ninsn || (pc & 3) || !translatable(vm, idx)) break;
    if (!j->kind[idx]) {
      if (j->xlated > XLATE_FREE + (s->step + (budget - left)) / XLATE_STEPS) {
        /* over the budget: the interpreter runs on for a while */
        vm->jit_resume = s->step + (budget - left) + JIT_PAUSE;
        vm->jit_pauses++;
        break;
      }
      if (translate_batch(j, vm, idx)) break;
    }
    uint64_t slice = left < SLICE ? left : SLICE;
    uint64_t rem = j->enter(j->ctx, j->ctx->table[idx], slice, ram);
    left -= slice - rem;
    pc = j->ctx->pc;
    if (j->ctx->reason == RETURN_BUDGET && left > rem) { /* the slice ran out: a sample */
      j->samples[(pc - j->exec_lo) / 4]++;
      if (++j->nsamples < j->next_eval || j->nrealloc >= MAX_REALLOC) continue;
      j->next_eval *= 2;
      /* registers live in ctx now; the stubs may change */
      if (reallocate(j, vm)) { /* cannot write code any more: leave it to the interpreter */
        memcpy(s->x, j->ctx->x, sizeof s->x);
        vm_jit_free(j);
        vm->jit = NULL;
        vm->tier = -1;
        s->x[0] = 0;
        s->pc = pc;
        return budget - left;
      }
      continue;
    }
    if (j->ctx->reason != RETURN_MISS || left == 0) break;
  }
  memcpy(s->x, j->ctx->x, sizeof s->x);
  s->x[0] = 0;
  s->pc = pc;
  return budget - left;
}

#endif
