/* vm/vm_elf.c — the strict ELF loader and the handle's lifecycle.
 *
 * Accepted programs: ELF32, little-endian, ET_EXEC, EM_RISCV, e_flags 0 (no
 * RVC, soft-float ABI, no RVE/TSO), only PT_LOAD program headers (1..16),
 * each readable, inside [RAM_BASE, mem_cap - STACK_RESERVE), on pages of
 * their own; exactly one executable segment, page aligned and not
 * writable; entry point inside it. Sizes are checked before allocation.
 */
#include <stdlib.h>

#include "vm/vm_int.h"

#define PT_LOAD 1
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define MAX_PHDRS 16

void cohort_vm_config_default(cohort_vm_config *cfg) {
  cfg->mem_cap = COHORT_VM_MEM_DEFAULT;
  cfg->max_steps = (uint64_t)1 << 40;
  cfg->out_cap = COHORT_VM_OUTPUT_MAX;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t log2_ceil(uint32_t n) {
  uint32_t l = 0;
  while (((uint64_t)1 << l) < n) l++;
  return l;
}

static void predecode(cohort_vm *vm) {
  uint32_t n = (vm->s.exec_hi - vm->s.exec_lo) / 4;
  const uint8_t *p = vm->reg[VM_REG_RAM].data + vm->s.exec_lo;
  for (uint32_t i = 0; i < n; i++) {
    vm_decode(vm_le32(p + 4 * i), &vm->code[i]);
    if (vm->code[i].rd == 0) vm->code[i].rd = 32; /* writes to x0 go to a scratch slot */
  }
}

typedef struct {
  uint32_t off, vaddr, filesz, memsz, flags;
} seg;

int cohort_vm_new(cohort_vm **out, const uint8_t *elf, size_t len, const uint8_t *input,
                  size_t input_len, const cohort_vm_config *cfg_in, core_errbuf *eb) {
  *out = NULL;
  cohort_vm_config cfg;
  if (cfg_in) cfg = *cfg_in;
  else cohort_vm_config_default(&cfg);
  if (cfg.mem_cap < COHORT_VM_MEM_MIN || cfg.mem_cap > COHORT_VM_MEM_MAX || cfg.mem_cap % VM_PAGE)
    return core_errf(eb, COHORT_ERR_INVALID, "memory cap %u is not a multiple of 4096 in [2 MiB, 1 GiB]",
                     (unsigned)cfg.mem_cap);
  if (cfg.max_steps == 0) return core_errf(eb, COHORT_ERR_INVALID, "step cap must be at least 1");
  if (cfg.out_cap == 0) cfg.out_cap = COHORT_VM_OUTPUT_MAX;
  if (cfg.out_cap > COHORT_VM_OUTPUT_MAX)
    return core_errf(eb, COHORT_ERR_INVALID, "output cap %u exceeds %u", (unsigned)cfg.out_cap,
                     (unsigned)COHORT_VM_OUTPUT_MAX);
  if (input_len > COHORT_VM_INPUT_MAX)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "input of %zu bytes exceeds %u", input_len,
                     (unsigned)COHORT_VM_INPUT_MAX);
  if (len > COHORT_VM_ELF_MAX)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "ELF of %zu bytes exceeds %u", len, (unsigned)COHORT_VM_ELF_MAX);
  if (len < 52 || memcmp(elf, "\x7f" "ELF", 4) != 0)
    return core_errf(eb, COHORT_ERR_INVALID, "not an ELF file");
  if (elf[4] != 1) return core_errf(eb, COHORT_ERR_INVALID, "not ELF32 (class %u)", elf[4]);
  if (elf[5] != 1) return core_errf(eb, COHORT_ERR_INVALID, "not little-endian");
  if (elf[6] != 1) return core_errf(eb, COHORT_ERR_INVALID, "bad ELF version");
  if (elf[7] != 0 || elf[8] != 0) return core_errf(eb, COHORT_ERR_INVALID, "OS ABI must be SYSV/0");
  if (le16(elf + 16) != 2) return core_errf(eb, COHORT_ERR_INVALID, "not an executable (e_type %u)", le16(elf + 16));
  if (le16(elf + 18) != 243) return core_errf(eb, COHORT_ERR_INVALID, "not RISC-V (e_machine %u)", le16(elf + 18));
  if (vm_le32(elf + 20) != 1) return core_errf(eb, COHORT_ERR_INVALID, "bad e_version");
  uint32_t entry = vm_le32(elf + 24), phoff = vm_le32(elf + 28), flags = vm_le32(elf + 36);
  if (flags != 0)
    return core_errf(eb, COHORT_ERR_INVALID, "e_flags 0x%x: compressed, float-ABI, RVE or TSO code is not supported",
                     (unsigned)flags);
  if (le16(elf + 40) != 52) return core_errf(eb, COHORT_ERR_INVALID, "bad e_ehsize");
  unsigned phentsize = le16(elf + 42), phnum = le16(elf + 44);
  if (phentsize != 32) return core_errf(eb, COHORT_ERR_INVALID, "bad e_phentsize %u", phentsize);
  if (phnum == 0 || phnum > MAX_PHDRS)
    return core_errf(eb, COHORT_ERR_INVALID, "%u program headers (1..%u allowed)", phnum, MAX_PHDRS);
  if ((uint64_t)phoff + (uint64_t)phnum * 32 > len)
    return core_errf(eb, COHORT_ERR_INVALID, "program headers extend past the end of the file");

  seg segs[MAX_PHDRS];
  uint32_t limit = cfg.mem_cap - COHORT_VM_STACK_RESERVE, exec_lo = 0, exec_hi = 0, top = 0;
  int nexec = 0;
  for (unsigned i = 0; i < phnum; i++) {
    const uint8_t *ph = elf + phoff + 32 * i;
    seg *sg = &segs[i];
    if (vm_le32(ph) != PT_LOAD)
      return core_errf(eb, COHORT_ERR_INVALID, "program header %u has type 0x%x; only PT_LOAD is allowed", i,
                       (unsigned)vm_le32(ph));
    sg->off = vm_le32(ph + 4);
    sg->vaddr = vm_le32(ph + 8);
    sg->filesz = vm_le32(ph + 16);
    sg->memsz = vm_le32(ph + 20);
    sg->flags = vm_le32(ph + 24);
    if (sg->flags & ~7u) return core_errf(eb, COHORT_ERR_INVALID, "segment %u has unknown flags", i);
    if (!(sg->flags & PF_R)) return core_errf(eb, COHORT_ERR_INVALID, "segment %u is not readable", i);
    if (sg->memsz == 0) return core_errf(eb, COHORT_ERR_INVALID, "segment %u is empty", i);
    if (sg->filesz > sg->memsz)
      return core_errf(eb, COHORT_ERR_INVALID, "segment %u: file size exceeds memory size", i);
    if ((uint64_t)sg->off + sg->filesz > len)
      return core_errf(eb, COHORT_ERR_INVALID, "segment %u extends past the end of the file", i);
    if (sg->vaddr < COHORT_VM_RAM_BASE || (uint64_t)sg->vaddr + sg->memsz > limit)
      return core_errf(eb, COHORT_ERR_INVALID,
                       "segment %u [0x%x, +0x%x) is outside [0x%x, 0x%x) (memory cap less the stack)", i,
                       (unsigned)sg->vaddr, (unsigned)sg->memsz, (unsigned)COHORT_VM_RAM_BASE, (unsigned)limit);
    uint32_t plo = sg->vaddr & ~(VM_PAGE - 1), phi = (sg->vaddr + sg->memsz + VM_PAGE - 1) & ~(VM_PAGE - 1);
    for (unsigned j = 0; j < i; j++) {
      uint32_t qlo = segs[j].vaddr & ~(VM_PAGE - 1),
               qhi = (segs[j].vaddr + segs[j].memsz + VM_PAGE - 1) & ~(VM_PAGE - 1);
      if (plo < qhi && qlo < phi)
        return core_errf(eb, COHORT_ERR_INVALID, "segments %u and %u share a page", j, i);
    }
    if (sg->flags & PF_X) {
      if (sg->flags & PF_W) return core_errf(eb, COHORT_ERR_INVALID, "segment %u is writable and executable", i);
      if (sg->vaddr % VM_PAGE) return core_errf(eb, COHORT_ERR_INVALID, "executable segment is not page aligned");
      if (++nexec > 1) return core_errf(eb, COHORT_ERR_INVALID, "more than one executable segment");
      exec_lo = plo;
      exec_hi = phi;
    }
    if (phi > top) top = phi;
  }
  if (nexec == 0) return core_errf(eb, COHORT_ERR_INVALID, "no executable segment");
  if (entry < exec_lo || entry >= exec_hi || (entry & 3))
    return core_errf(eb, COHORT_ERR_INVALID, "entry point 0x%x is not an aligned address in the code segment",
                     (unsigned)entry);

  cohort_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return COHORT_ERR_NOMEM;
  vm_empty_hashes(vm->empty);
  uint32_t ram_pages = cfg.mem_cap / VM_PAGE;
  uint32_t in_pages = (uint32_t)((input_len + VM_PAGE - 1) / VM_PAGE);
  int rc = vm_region_init(&vm->reg[VM_REG_RAM], 0, ram_pages, log2_ceil(ram_pages), vm->empty);
  if (!rc) rc = vm_region_init(&vm->reg[VM_REG_IN], COHORT_VM_INPUT_BASE, in_pages, log2_ceil(in_pages), vm->empty);
  if (!rc)
    rc = vm_region_init(&vm->reg[VM_REG_OUT], COHORT_VM_OUTPUT_BASE, COHORT_VM_OUTPUT_MAX / VM_PAGE,
                        log2_ceil(COHORT_VM_OUTPUT_MAX / VM_PAGE), vm->empty);
  if (!rc) {
    vm->code = calloc((exec_hi - exec_lo) / 4, sizeof(vm_insn));
    if (!vm->code) rc = COHORT_ERR_NOMEM;
  }
  if (rc) {
    cohort_vm_del(vm);
    return rc;
  }
  vm_region *ram = &vm->reg[VM_REG_RAM];
  for (unsigned i = 0; i < phnum; i++) {
    memcpy(ram->data + segs[i].vaddr, elf + segs[i].off, segs[i].filesz);
    for (uint32_t p = segs[i].vaddr / VM_PAGE; p < (segs[i].vaddr + segs[i].filesz + VM_PAGE - 1) / VM_PAGE; p++)
      memset(ram->dirty + (size_t)p * (VM_PAGE / VM_LEAF), 1, VM_PAGE / VM_LEAF), ram->pdirty[p] = 1;
  }
  if (input_len) memcpy(vm->reg[VM_REG_IN].data, input, input_len);
  memset(vm->reg[VM_REG_IN].dirty, 1, (size_t)in_pages * (VM_PAGE / VM_LEAF));
  memset(vm->reg[VM_REG_IN].pdirty, 1, in_pages);

  cohort_vm_info *s = &vm->s;
  s->pc = entry;
  s->x[2] = cfg.mem_cap - 16; /* argc = 0, argv = envp = auxv = NULL (zero memory) */
  s->max_steps = cfg.max_steps;
  s->status = COHORT_VM_RUNNING;
  s->mem_cap = cfg.mem_cap;
  s->out_cap = cfg.out_cap;
  s->exec_lo = exec_lo;
  s->exec_hi = exec_hi;
  s->brk = s->brk_min = top;
  s->in_len = (uint32_t)input_len;
  predecode(vm);
  *out = vm;
  return 0;
}

int cohort_vm_initial_hash(const uint8_t *elf, size_t elf_len, const uint8_t *input, size_t input_len,
                           const cohort_vm_config *cfg, uint8_t out[COHORT_VM_HASH_LEN], core_errbuf *eb) {
  cohort_vm *vm;
  int rc = cohort_vm_new(&vm, elf, elf_len, input, input_len, cfg, eb);
  if (rc) return rc;
  rc = cohort_vm_state_hash(vm, out);
  cohort_vm_del(vm);
  return rc;
}

void cohort_vm_del(cohort_vm *vm) {
  if (!vm) return;
  for (int i = 0; i < VM_NREG; i++) vm_region_free(&vm->reg[i]);
  free(vm->code);
  free(vm->tcode);
  free(vm);
}

int cohort_vm_clone(cohort_vm **out, const cohort_vm *src) {
  *out = NULL;
  cohort_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return COHORT_ERR_NOMEM;
  vm->s = src->s;
  memcpy(vm->empty, src->empty, sizeof vm->empty);
  vm->log_fn = src->log_fn;
  vm->log_ctx = src->log_ctx;
  int rc = 0;
  for (int i = 0; i < VM_NREG && !rc; i++) rc = vm_region_clone(&vm->reg[i], &src->reg[i]);
  size_t ncode = (src->s.exec_hi - src->s.exec_lo) / 4;
  if (!rc) {
    vm->code = malloc(ncode * sizeof(vm_insn));
    if (!vm->code) rc = COHORT_ERR_NOMEM;
    else memcpy(vm->code, src->code, ncode * sizeof(vm_insn));
  }
  if (rc) {
    cohort_vm_del(vm);
    return rc;
  }
  *out = vm;
  return 0;
}

void cohort_vm_get_info(const cohort_vm *vm, cohort_vm_info *info) { *info = vm->s; }

void cohort_vm_set_log(cohort_vm *vm, cohort_vm_log_fn fn, void *ctx) {
  vm->log_fn = fn;
  vm->log_ctx = ctx;
}

const uint8_t *cohort_vm_output(const cohort_vm *vm, size_t *len) {
  *len = vm->s.out_len;
  return vm->reg[VM_REG_OUT].data;
}

int cohort_vm_mem_root(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]) {
  vm_mem_root(vm, out);
  return 0;
}

int cohort_vm_state_hash(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]) {
  uint8_t root[32];
  vm_mem_root(vm, root);
  cohort_vm_hash_info(&vm->s, root, out);
  return 0;
}
