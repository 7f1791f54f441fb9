/* vm/vm_run.c — the fast path: cohort_vm_run's tiers and the threaded
 * interpreter over pre-decoded code.
 *
 * cohort_vm_run hands long runs to the translator (vm_jit.c), shorter ones
 * and whatever the translator leaves to the threaded interpreter below,
 * and every instruction neither fast tier handles to the reference step
 * function vm_step(), which defines the machine.
 *
 * The interpreter executes only the common, fault-free cases (ALU,
 * taken/untaken branches and jumps inside the code segment, aligned loads
 * and stores on pages the permission table maps). Anything else — system
 * calls, fences, traps, faults, jumps that leave the code segment — is
 * handed, before any state change, to vm_step(). The ALU and branch
 * semantics are the same macros (VM_ALU_OPS, VM_BRANCH_OPS) in both.
 * Stores set the leaf's dirty flag, which is all the hashing costs here.
 */
#include <stdlib.h>

#include "vm/vm_int.h"

#if defined(__GNUC__) || defined(__clang__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

static inline uint32_t ld32(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
#else
  return vm_le32(p);
#endif
}
static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline void st32(uint8_t *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(p, &v, 4);
#else
  vm_put32(p, v);
#endif
}

/* Runs at most `budget` (>= 1) instructions from s.pc (inside the code
 * segment). Returns how many retired; stops before an instruction it cannot
 * handle (or whose basic block does not fit in the budget), leaving pc on it.
 *
 * Step accounting is per basic block: every instruction carries `blen`, the
 * number of instructions from it to the end of its block (the next jump,
 * branch or hand-over instruction). On entering a block the whole rest of
 * it is charged at once; an instruction that hands over mid-block refunds
 * its own blen (it and the rest did not run). */
static uint64_t run_fast(cohort_vm *vm, uint64_t budget) {
#if defined(__GNUC__) || defined(__clang__)
  static const void *const labels[OP_COUNT] = {
      [OP_ILLEGAL] = &&bail,
#define LBL(name, expr) [OP_##name] = &&L_##name,
      VM_ALU_OPS(LBL) VM_BRANCH_OPS(LBL)
#undef LBL
      [OP_JAL] = &&L_JAL, [OP_JALR] = &&L_JALR,
      [OP_LB] = &&L_LB, [OP_LH] = &&L_LH, [OP_LW] = &&L_LW, [OP_LBU] = &&L_LBU, [OP_LHU] = &&L_LHU,
      [OP_SB] = &&L_SB, [OP_SH] = &&L_SH, [OP_SW] = &&L_SW,
      [OP_FENCE] = &&bail, [OP_ECALL] = &&bail, [OP_EBREAK] = &&bail, [OP_CSR] = &&bail};
#define DISPATCH() goto *ip->h
#else
#define DISPATCH() goto dispatch
#endif
  /* the pre-decoded words; past them the code segment is zero (vm_step) */
  const uint32_t exec_lo = vm->s.exec_lo, exec_len = 4 * vm->code_n;
  if (!vm->tcode) {
    /* thread the pre-decoded code once: handler addresses and block lengths */
    uint32_t n = exec_len / 4;
    /* one sentinel past the end: falling off the code segment hands over
     * (the reference step then raises the fetch fault) */
    vm_tinsn *t = malloc(((size_t)n + 1) * sizeof *t);
    if (!t) return 0;
    memset(&t[n], 0, sizeof t[n]);
#if defined(__GNUC__) || defined(__clang__)
    t[n].h = labels[OP_ILLEGAL];
#endif
    uint32_t next = 0;
    for (uint32_t i = n; i-- > 0;) {
      const vm_insn *d = &vm->code[i];
      uint32_t pc = exec_lo + 4 * i;
      int ctl = (d->op >= OP_JAL && d->op <= OP_BGEU);
      int handover = d->op == OP_ILLEGAL || d->op >= OP_FENCE;
      uint8_t op = d->op;
      int32_t imm = d->imm;
      uint32_t aux = 0;
      if (op == OP_AUIPC) { /* a constant once the pc is known */
        op = OP_LUI;
        imm = vm_s32(pc + (uint32_t)imm);
      } else if (op == OP_JAL || (op >= OP_BEQ && op <= OP_BGEU)) {
        /* static target: pre-resolve it; UINT32_MAX = leaves the code */
        uint32_t target = pc + (uint32_t)imm;
        aux = (target - exec_lo < exec_len && !(target & 3)) ? (target - exec_lo) / 4 : UINT32_MAX;
        if (op == OP_JAL) imm = vm_s32(pc + 4); /* the link value */
      } else if (op == OP_JALR) {
        aux = pc + 4;
      }
#if defined(__GNUC__) || defined(__clang__)
      t[i].h = labels[op];
#else
      t[i].h = NULL;
#endif
      t[i].op = op;
      t[i].rd = d->rd;
      t[i].rs1 = d->rs1;
      t[i].rs2 = d->rs2;
      t[i].imm = imm;
      t[i].aux = aux;
      t[i].blen = handover ? 0 : ctl ? 1 : next + 1;
      next = t[i].blen;
    }
    vm->tcode = t;
  }
  uint32_t r[33];
  memcpy(r, vm->s.x, sizeof vm->s.x);
  r[32] = 0;
  uint8_t *const ram = vm->reg[VM_REG_RAM].data;
  uint8_t *const dirty = vm->reg[VM_REG_RAM].dirty;
  const uint8_t *const perm = vm->perm;
  const vm_tinsn *const base = vm->tcode;
  const vm_tinsn *ip = base + (vm->s.pc - exec_lo) / 4;
  uint64_t left = budget;
  uint32_t A, B, I, PC, addr;

#define PCOF(p) (exec_lo + (uint32_t)((p) - base) * 4)
/* enter the block at ip: charge it or stop */
#define ENTER()                                  \
  do {                                           \
    if (UNLIKELY(ip->blen > left)) goto out;     \
    left -= ip->blen;                            \
    DISPATCH();                                  \
  } while (0)
#define NEXT()                                   \
  do {                                           \
    ip++;                                        \
    DISPATCH();                                  \
  } while (0)
#define JUMP(target)                                                        \
  do {                                                                      \
    uint32_t t_ = (target) - exec_lo;                                       \
    ip = base + (t_ >> 2);                                                  \
    ENTER();                                                                \
  } while (0)
/* perm[] has an entry for each of the 2^20 pages; only mapped pages (all
 * below mem_cap) have bits set, so a permitted address indexes ram[] */
#define LOAD_ADDR(size)                                                     \
  addr = r[ip->rs1] + (uint32_t)ip->imm;                                    \
  if (UNLIKELY((addr & ((size)-1)) || !(perm[addr >> VM_PAGE_SHIFT] & VM_PERM_R))) goto bail;
#define STORE_ADDR(size)                                                    \
  addr = r[ip->rs1] + (uint32_t)ip->imm;                                    \
  if (UNLIKELY((addr & ((size)-1)) || !(perm[addr >> VM_PAGE_SHIFT] & VM_PERM_W))) goto bail; \
  dirty[addr >> VM_LEAF_SHIFT] = 1;

  ENTER();
#if !(defined(__GNUC__) || defined(__clang__))
dispatch:
  switch (ip->op) {
#define CASE(name, expr) case OP_##name: goto L_##name;
    VM_ALU_OPS(CASE) VM_BRANCH_OPS(CASE)
#undef CASE
    case OP_JAL: goto L_JAL; case OP_JALR: goto L_JALR;
    case OP_LB: goto L_LB; case OP_LH: goto L_LH; case OP_LW: goto L_LW;
    case OP_LBU: goto L_LBU; case OP_LHU: goto L_LHU;
    case OP_SB: goto L_SB; case OP_SH: goto L_SH; case OP_SW: goto L_SW;
    default: goto bail;
  }
#endif

#define ALU_LBL(name, expr)                                                 \
  L_##name:                                                                 \
  A = r[ip->rs1];                                                           \
  B = r[ip->rs2];                                                           \
  I = (uint32_t)ip->imm;                                                    \
  PC = PCOF(ip);                                                            \
  (void)A; (void)B; (void)I; (void)PC;                                      \
  r[ip->rd] = (expr);                                                       \
  NEXT();
  VM_ALU_OPS(ALU_LBL)
#undef ALU_LBL
#define BR_LBL(name, cond)                                                  \
  L_##name:                                                                 \
  A = r[ip->rs1];                                                           \
  B = r[ip->rs2];                                                           \
  if (cond) {                                                               \
    if (UNLIKELY(ip->aux == UINT32_MAX)) goto bail;                         \
    ip = base + ip->aux;                                                    \
    ENTER();                                                                \
  }                                                                         \
  ip++;                                                                     \
  ENTER();
  VM_BRANCH_OPS(BR_LBL)
#undef BR_LBL
L_JAL:
  if (UNLIKELY(ip->aux == UINT32_MAX)) goto bail;
  r[ip->rd] = (uint32_t)ip->imm;
  ip = base + ip->aux;
  ENTER();
L_JALR:
  {
    uint32_t t = (r[ip->rs1] + (uint32_t)ip->imm) & ~1u;
    if (UNLIKELY(t - exec_lo >= exec_len || (t & 3))) goto bail;
    r[ip->rd] = ip->aux;
    JUMP(t);
  }
L_LB:
  LOAD_ADDR(1);
  r[ip->rd] = ram[addr] | (ram[addr] & 0x80 ? 0xFFFFFF00u : 0);
  NEXT();
L_LBU:
  LOAD_ADDR(1);
  r[ip->rd] = ram[addr];
  NEXT();
L_LH:
  LOAD_ADDR(2);
  {
    uint32_t v = ld16(ram + addr);
    r[ip->rd] = v | (v & 0x8000 ? 0xFFFF0000u : 0);
  }
  NEXT();
L_LHU:
  LOAD_ADDR(2);
  r[ip->rd] = ld16(ram + addr);
  NEXT();
L_LW:
  LOAD_ADDR(4);
  r[ip->rd] = ld32(ram + addr);
  NEXT();
L_SB:
  STORE_ADDR(1);
  ram[addr] = (uint8_t)r[ip->rs2];
  NEXT();
L_SH:
  STORE_ADDR(2);
  ram[addr] = (uint8_t)r[ip->rs2];
  ram[addr + 1] = (uint8_t)(r[ip->rs2] >> 8);
  NEXT();
L_SW:
  STORE_ADDR(4);
  st32(ram + addr, r[ip->rs2]);
  NEXT();

bail:
  /* ip did not run, nor did the rest of its (already charged) block */
  left += ip->blen;
out:
  memcpy(vm->s.x, r, sizeof vm->s.x);
  vm->s.x[0] = 0;
  vm->s.pc = PCOF(ip);
  return budget - left;
}

void cohort_vm_run(cohort_vm *vm, uint64_t n, uint64_t *done) {
  uint64_t total = 0;
  cohort_vm_info *s = &vm->s;
  vm_perm_sync(vm);
  while (total < n && s->status == COHORT_VM_RUNNING) {
    uint64_t left = n - total, to_cap = s->max_steps - s->step;
    if (to_cap < left) left = to_cap;
    uint64_t k = 0;
    if (s->sys_done == 0 && s->pc - s->exec_lo < 4 * vm->code_n && !(s->pc & 3)) {
      if (vm->tier == COHORT_VM_TIER_AUTO && left >= vm->jit_min && s->step >= vm->jit_resume) {
        k = vm_jit_run(vm, left);
        vm->jit_steps += k;
      }
      if (k == 0) /* paused translator: interpret up to its resume step */
        k = run_fast(vm, s->step < vm->jit_resume && vm->jit_resume - s->step < left
                             ? vm->jit_resume - s->step
                             : left);
      total += k;
      s->step += k;
      if (s->step >= s->max_steps) {
        s->status = COHORT_VM_OUT_OF_STEPS;
        break;
      }
      if (k > 0) continue; /* stopped at the budget or before an instruction for vm_step */
    }
    cohort_vm_step(vm);
    vm_perm_sync(vm); /* a brk may have moved the heap's end */
    total++;
  }
  if (done) *done = total;
}
