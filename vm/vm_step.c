/* vm/vm_step.c — the reference step function.
 *
 * vm_step() is the definition of the machine: one call = one step. It runs
 * over an abstract memory back-end (vm_mem): the direct back-end (the
 * handle's own memory) for cohort_vm_step and for every instruction the fast
 * path hands over (system calls, faults, unusual jumps), and the witness
 * back-end for proving and verifying. All permission and range checks are
 * made here, from the state alone, so both back-ends agree by construction.
 *
 * Step accounting: every step increments `step`, including the step that
 * traps or exits. A read/write system call moves at most one 128-byte leaf
 * of each side per step, and a brk that unmaps pages zeroes one leaf per
 * step; while such a call is unfinished, pc stays on the ecall, registers
 * are unchanged and `sys_done` counts the bytes moved or zeroed.
 *
 * Memory permissions come from the state (vm_page_perm, vm_range_ok in
 * vm_int.h): the program's segments, the heap up to the page-rounded break
 * and the stack are mapped, as under Linux; a load or store elsewhere traps,
 * a system call whose buffer is not entirely mapped returns -EFAULT.
 */
#include "vm/vm_int.h"

static int retire(cohort_vm_info *s, uint32_t npc) {
  s->pc = npc;
  s->step++;
  if (s->status == COHORT_VM_RUNNING && s->step >= s->max_steps) s->status = COHORT_VM_OUT_OF_STEPS;
  return 0;
}

static int trap(cohort_vm_info *s, uint32_t why) {
  s->status = COHORT_VM_TRAPPED;
  s->code = why;
  s->step++;
  return 0;
}

static int sys_ret(cohort_vm_info *s, uint32_t v) {
  s->x[10] = v;
  s->sys_done = 0;
  return retire(s, s->pc + 4);
}

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* Move one chunk of a read(0)/write(1): from src to dst, at most to the end
 * of either's 128-byte leaf. */
static int move_chunk(cohort_vm_info *s, vm_mem *m, uint32_t src, uint32_t dst, uint32_t total) {
  uint32_t off = s->sys_done < total ? s->sys_done : 0;
  src += off;
  dst += off;
  uint32_t n = min3(total - off, VM_LEAF - (src & (VM_LEAF - 1)), VM_LEAF - (dst & (VM_LEAF - 1)));
  uint8_t buf[VM_LEAF];
  int rc = m->read(m, src, buf, n);
  if (rc) return rc;
  rc = m->write(m, dst, buf, n);
  if (rc) return rc;
  off += n;
  if (off < total) {
    s->sys_done = off;
    return retire(s, s->pc);
  }
  return 1; /* finished */
}

static int syscall(cohort_vm_info *s, vm_mem *m) {
  uint32_t a0 = s->x[10], a1 = s->x[11], a2 = s->x[12];
  int rc;
  switch (s->x[17]) {
    case 63: { /* read */
      if (a0 != 0) return sys_ret(s, 0u - VM_EBADF);
      if (a2 == 0) return sys_ret(s, 0);
      if (!vm_range_ok(s, a1, a2, VM_PERM_W)) return sys_ret(s, 0u - VM_EFAULT);
      uint32_t avail = s->in_len - s->in_pos;
      uint32_t total = a2 < avail ? a2 : avail;
      if (total == 0) return sys_ret(s, 0);
      rc = move_chunk(s, m, COHORT_VM_INPUT_BASE + s->in_pos, a1, total);
      if (rc != 1) return rc;
      s->in_pos += total;
      return sys_ret(s, total);
    }
    case 64: /* write */
      if (a0 != 1 && a0 != 2) return sys_ret(s, 0u - VM_EBADF);
      if (a2 == 0) return sys_ret(s, 0);
      if (!vm_range_ok(s, a1, a2, VM_PERM_R)) return sys_ret(s, 0u - VM_EFAULT);
      if (a0 == 2) {
        if (m->log) m->log(m, a1, a2);
        return sys_ret(s, a2);
      }
      if (a2 > s->out_cap - s->out_len) return trap(s, COHORT_VM_TRAP_OUTPUT_LIMIT);
      rc = move_chunk(s, m, a1, COHORT_VM_OUTPUT_BASE + s->out_len, a2);
      if (rc != 1) return rc;
      s->out_len += a2;
      return sys_ret(s, a2);
    case 93: /* exit */
    case 94: /* exit_group */
      s->status = COHORT_VM_EXITED;
      s->code = a0;
      s->step++;
      return 0;
    case 214: { /* brk: moves the end of the heap; pages it unmaps are zeroed
                   first (one leaf per step), so that they come back zero */
      if (a0 < s->brk_min || a0 > vm_stack_lo(s->mem_cap)) return sys_ret(s, s->brk);
      uint32_t lo = vm_page_up(a0), hi = vm_page_up(s->brk);
      if (lo < hi && s->sys_done < hi - lo) {
        static const uint8_t zero[VM_LEAF];
        rc = m->write(m, lo + s->sys_done, zero, VM_LEAF);
        if (rc) return rc;
        s->sys_done += VM_LEAF;
        if (s->sys_done < hi - lo) return retire(s, s->pc);
      }
      s->brk = a0;
      return sys_ret(s, s->brk);
    }
    default:
      return trap(s, COHORT_VM_TRAP_SYSCALL);
  }
}

int vm_step(cohort_vm_info *s, vm_mem *m) {
  if (s->status != COHORT_VM_RUNNING) return 0;
  const uint32_t PC = s->pc;
  if (PC - s->exec_lo >= s->exec_hi - s->exec_lo || (PC & 3)) return trap(s, COHORT_VM_TRAP_FETCH);
  uint8_t w[4];
  int rc = m->read(m, PC, w, 4);
  if (rc) return rc;
  vm_insn d;
  vm_decode(vm_le32(w), &d);
  const uint32_t A = s->x[d.rs1], B = s->x[d.rs2], I = (uint32_t)d.imm;
  uint32_t v = 0, npc = PC + 4, addr, size = 4;
  uint8_t buf[4] = {0};
  switch (d.op) {
#define ALU_CASE(name, expr) \
  case OP_##name:            \
    v = (expr);              \
    goto write_rd;
    VM_ALU_OPS(ALU_CASE)
#undef ALU_CASE
#define BR_CASE(name, cond)                                              \
  case OP_##name:                                                        \
    if (cond) {                                                          \
      npc = PC + I;                                                      \
      if (npc & 3) return trap(s, COHORT_VM_TRAP_JUMP_MISALIGNED);       \
    }                                                                    \
    return retire(s, npc);
    VM_BRANCH_OPS(BR_CASE)
#undef BR_CASE
    case OP_JAL:
      npc = PC + I;
      if (npc & 3) return trap(s, COHORT_VM_TRAP_JUMP_MISALIGNED);
      v = PC + 4;
      goto write_rd;
    case OP_JALR:
      npc = (A + I) & ~1u;
      if (npc & 3) return trap(s, COHORT_VM_TRAP_JUMP_MISALIGNED);
      v = PC + 4;
      goto write_rd;
    case OP_LB: case OP_LBU: size = 1; goto load;
    case OP_LH: case OP_LHU: size = 2; goto load;
    case OP_LW: goto load;
    case OP_SB: size = 1; goto store;
    case OP_SH: size = 2; goto store;
    case OP_SW: goto store;
    case OP_FENCE: return retire(s, npc);
    case OP_ECALL: return syscall(s, m);
    case OP_EBREAK: return trap(s, COHORT_VM_TRAP_EBREAK);
    case OP_CSR: return trap(s, COHORT_VM_TRAP_CSR);
    default: return trap(s, COHORT_VM_TRAP_ILLEGAL);
  }
load:
  addr = A + I;
  if (addr & (size - 1)) return trap(s, COHORT_VM_TRAP_LOAD_MISALIGNED);
  if (!(vm_page_perm(s, addr) & VM_PERM_R)) return trap(s, COHORT_VM_TRAP_LOAD_FAULT);
  rc = m->read(m, addr, buf, size);
  if (rc) return rc;
  switch (d.op) {
    case OP_LB: v = buf[0] | (buf[0] & 0x80 ? 0xFFFFFF00u : 0); break;
    case OP_LBU: v = buf[0]; break;
    case OP_LH: v = (uint32_t)buf[0] | (uint32_t)buf[1] << 8; v |= (v & 0x8000) ? 0xFFFF0000u : 0; break;
    case OP_LHU: v = (uint32_t)buf[0] | (uint32_t)buf[1] << 8; break;
    default: v = vm_le32(buf); break;
  }
  goto write_rd;
store:
  addr = A + I;
  if (addr & (size - 1)) return trap(s, COHORT_VM_TRAP_STORE_MISALIGNED);
  if (!(vm_page_perm(s, addr) & VM_PERM_W)) return trap(s, COHORT_VM_TRAP_STORE_FAULT);
  vm_put32(buf, B);
  rc = m->write(m, addr, buf, size);
  if (rc) return rc;
  return retire(s, npc);
write_rd:
  if (d.rd) s->x[d.rd] = v;
  return retire(s, npc);
}
