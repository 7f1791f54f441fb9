/* vm/vm_decode.c — RV32IM instruction decoder and disassembler.
 *
 * Strict: every encoding that RV32IM does not define (including all
 * compressed, float, atomic and CSR encodings) decodes to OP_ILLEGAL or
 * OP_CSR, so the step function traps on it. FENCE is accepted as a no-op
 * whatever its fields, like hardware that implements it trivially.
 */
#include <stdio.h>

#include "vm/vm_int.h"

static int32_t sext(uint32_t v, unsigned bits) {
  uint32_t m = 1u << (bits - 1);
  return vm_s32((v ^ m) - m);
}

void vm_decode(uint32_t w, vm_insn *d) {
  uint32_t opc = w & 0x7F, f3 = (w >> 12) & 7, f7 = w >> 25;
  d->op = OP_ILLEGAL;
  d->rd = (uint8_t)((w >> 7) & 31);
  d->rs1 = (uint8_t)((w >> 15) & 31);
  d->rs2 = (uint8_t)((w >> 20) & 31);
  d->imm = 0;
  int32_t imm_i = sext(w >> 20, 12);
  int32_t imm_s = sext(((w >> 25) << 5) | ((w >> 7) & 31), 12);
  int32_t imm_b = sext(((w >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 63) << 5) |
                           (((w >> 8) & 15) << 1),
                       13);
  int32_t imm_j = sext(((w >> 31) << 20) | (((w >> 12) & 255) << 12) | (((w >> 20) & 1) << 11) |
                           (((w >> 21) & 1023) << 1),
                       21);
  switch (opc) {
    case 0x37: d->op = OP_LUI; d->imm = vm_s32(w & 0xFFFFF000u); break;
    case 0x17: d->op = OP_AUIPC; d->imm = vm_s32(w & 0xFFFFF000u); break;
    case 0x6F: d->op = OP_JAL; d->imm = imm_j; break;
    case 0x67:
      if (f3 == 0) { d->op = OP_JALR; d->imm = imm_i; }
      break;
    case 0x63: {
      static const uint8_t ops[8] = {OP_BEQ, OP_BNE, 0, 0, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU};
      d->op = ops[f3];
      d->imm = imm_b;
      break;
    }
    case 0x03: {
      static const uint8_t ops[8] = {OP_LB, OP_LH, OP_LW, 0, OP_LBU, OP_LHU, 0, 0};
      d->op = ops[f3];
      d->imm = imm_i;
      break;
    }
    case 0x23: {
      static const uint8_t ops[8] = {OP_SB, OP_SH, OP_SW, 0, 0, 0, 0, 0};
      d->op = ops[f3];
      d->imm = imm_s;
      break;
    }
    case 0x13: {
      static const uint8_t ops[8] = {OP_ADDI, OP_SLLI, OP_SLTI, OP_SLTIU, OP_XORI, OP_SRLI, OP_ORI, OP_ANDI};
      d->op = ops[f3];
      d->imm = imm_i;
      if (f3 == 1) {
        if (f7 != 0) d->op = OP_ILLEGAL;
        d->imm = (int32_t)d->rs2;
      } else if (f3 == 5) {
        if (f7 == 0x20) d->op = OP_SRAI;
        else if (f7 != 0) d->op = OP_ILLEGAL;
        d->imm = (int32_t)d->rs2;
      }
      break;
    }
    case 0x33: {
      static const uint8_t base[8] = {OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND};
      static const uint8_t mext[8] = {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU};
      if (f7 == 0) d->op = base[f3];
      else if (f7 == 1) d->op = mext[f3];
      else if (f7 == 0x20 && f3 == 0) d->op = OP_SUB;
      else if (f7 == 0x20 && f3 == 5) d->op = OP_SRA;
      break;
    }
    case 0x0F:
      if (f3 == 0) d->op = OP_FENCE;
      break;
    case 0x73:
      if (w == 0x00000073u) d->op = OP_ECALL;
      else if (w == 0x00100073u) d->op = OP_EBREAK;
      else if (f3 != 0 && f3 != 4) d->op = OP_CSR;
      break;
    default:
      break;
  }
  if (d->op == OP_ILLEGAL) d->rd = d->rs1 = d->rs2 = 0, d->imm = 0;
}

static const char *const names[OP_COUNT] = {
    "illegal", "lui", "auipc", "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai",
    "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "mul", "mulh", "mulhsu",
    "mulhu", "div", "divu", "rem", "remu", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu",
    "lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw", "fence", "ecall", "ebreak", "csr"};

void cohort_vm_disasm(uint32_t insn, uint32_t pc, char *buf, size_t len) {
  vm_insn d;
  vm_decode(insn, &d);
  const char *n = names[d.op];
  switch (d.op) {
    case OP_LUI: case OP_AUIPC:
      snprintf(buf, len, "%s x%u, 0x%x", n, d.rd, (unsigned)((uint32_t)d.imm >> 12)); break;
    case OP_JAL: snprintf(buf, len, "%s x%u, 0x%x", n, d.rd, (unsigned)(pc + (uint32_t)d.imm)); break;
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
      snprintf(buf, len, "%s x%u, x%u, 0x%x", n, d.rs1, d.rs2, (unsigned)(pc + (uint32_t)d.imm)); break;
    case OP_LB: case OP_LH: case OP_LW: case OP_LBU: case OP_LHU: case OP_JALR:
      snprintf(buf, len, "%s x%u, %d(x%u)", n, d.rd, (int)d.imm, d.rs1); break;
    case OP_SB: case OP_SH: case OP_SW:
      snprintf(buf, len, "%s x%u, %d(x%u)", n, d.rs2, (int)d.imm, d.rs1); break;
    case OP_ADD: case OP_SUB: case OP_SLL: case OP_SLT: case OP_SLTU: case OP_XOR: case OP_SRL:
    case OP_SRA: case OP_OR: case OP_AND: case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU:
    case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU:
      snprintf(buf, len, "%s x%u, x%u, x%u", n, d.rd, d.rs1, d.rs2); break;
    case OP_ILLEGAL: case OP_CSR:
      snprintf(buf, len, "%s 0x%08x", n, (unsigned)insn); break;
    case OP_FENCE: case OP_ECALL: case OP_EBREAK:
      snprintf(buf, len, "%s", n); break;
    default:
      snprintf(buf, len, "%s x%u, x%u, %d", n, d.rd, d.rs1, (int)d.imm); break;
  }
}

const char *cohort_vm_status_str(uint32_t st) {
  switch (st) {
    case COHORT_VM_RUNNING: return "running";
    case COHORT_VM_EXITED: return "exited";
    case COHORT_VM_TRAPPED: return "trapped";
    case COHORT_VM_OUT_OF_STEPS: return "out_of_steps";
    default: return "unknown";
  }
}

const char *cohort_vm_trap_str(uint32_t r) {
  switch (r) {
    case COHORT_VM_TRAP_ILLEGAL: return "illegal_instruction";
    case COHORT_VM_TRAP_EBREAK: return "ebreak";
    case COHORT_VM_TRAP_CSR: return "csr_access";
    case COHORT_VM_TRAP_FETCH: return "fetch_fault";
    case COHORT_VM_TRAP_JUMP_MISALIGNED: return "jump_misaligned";
    case COHORT_VM_TRAP_LOAD_FAULT: return "load_fault";
    case COHORT_VM_TRAP_STORE_FAULT: return "store_fault";
    case COHORT_VM_TRAP_LOAD_MISALIGNED: return "load_misaligned";
    case COHORT_VM_TRAP_STORE_MISALIGNED: return "store_misaligned";
    case COHORT_VM_TRAP_SYSCALL: return "bad_syscall";
    case COHORT_VM_TRAP_OUTPUT_LIMIT: return "output_limit";
    default: return "unknown";
  }
}
