/* vm/vm_elf.c — the strict ELF loader, the initial state and the handle's
 * lifecycle.
 *
 * Accepted programs (docs/vm.md §2): ELF32, little-endian, ET_EXEC,
 * EM_RISCV, e_flags 0 (no RVC, soft-float ABI, no RVE/TSO), 1..64 program
 * headers of which 1..8 are PT_LOAD. Headers that carry no memory
 * (PT_NOTE, PT_PHDR, PT_TLS, PT_GNU_*, PT_RISCV_ATTRIBUTES, any other
 * OS- or processor-specific type) are ignored, as the Linux kernel ignores
 * them; what would change execution is refused with a reason: PT_INTERP,
 * PT_DYNAMIC (dynamic linking), PT_SHLIB, an executable stack
 * (PT_GNU_STACK with PF_X). Each PT_LOAD is readable, not both writable and
 * executable, has p_offset = p_vaddr mod 4096, lies inside [RAM_BASE,
 * stack_lo) and shares no page with another; exactly one is executable and
 * the entry point lies in it. Pages are filled as Linux's mmap of the file
 * fills them (whole file pages, so bytes around a segment inside its first
 * and last page come from the file), then the bss tail of the last file
 * page is zeroed when memsz > filesz. Sizes are checked before allocation.
 */
#include <stdlib.h>

#include "core/hash.h"
#include "vm/vm_int.h"

#define PT_NULL 0
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_SHLIB 5
#define PT_GNU_STACK 0x6474e551u
#define MAX_PHDRS 64

/* auxiliary vector keys (Linux include/uapi/linux/auxvec.h) */
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_ENTRY 9
#define AT_HWCAP 16
#define AT_RANDOM 25
#define AT_EXECFN 31

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
  uint32_t n = vm->code_n;
  const uint8_t *p = vm->reg[VM_REG_RAM].data + vm->s.exec_lo;
  for (uint32_t i = 0; i < n; i++) {
    vm_decode(vm_le32(p + 4 * i), &vm->code[i]);
    if (vm->code[i].rd == 0) vm->code[i].rd = 32; /* writes to x0 go to a scratch slot */
  }
}

typedef struct {
  uint32_t off, vaddr, filesz, memsz, flags;
} seg;

static const char *pt_refusal(uint32_t type) {
  switch (type) {
    case PT_DYNAMIC: return "PT_DYNAMIC: dynamically linked programs are not supported (link with -static)";
    case PT_INTERP: return "PT_INTERP: the program asks for an interpreter (link with -static)";
    case PT_SHLIB: return "PT_SHLIB has no defined meaning";
    default: return NULL;
  }
}

/* Write the initial stack (docs/vm.md §2) into RAM and return sp. */
static uint32_t init_stack(cohort_vm *vm, uint32_t entry, uint32_t phdr, uint32_t phnum) {
  uint8_t *ram = vm->reg[VM_REG_RAM].data;
  uint32_t top = vm->s.mem_cap, name = top - 16, rnd = top - 32, sp = top - 128;
  memcpy(ram + name, "task", 5);
  uint8_t h[32];
  core_blake2b256(h, (const uint8_t *)"cohort/vm/at_random", 19);
  memcpy(ram + rnd, h, 16);
  const uint32_t words[] = {1, name, 0, 0,
                            AT_HWCAP, (1u << ('I' - 'A')) | (1u << ('M' - 'A')),
                            AT_PAGESZ, VM_PAGE,
                            AT_PHDR, phdr,
                            AT_PHENT, 32,
                            AT_PHNUM, phnum,
                            AT_ENTRY, entry,
                            AT_RANDOM, rnd,
                            AT_EXECFN, name,
                            AT_NULL, 0};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) vm_put32(ram + sp + 4 * i, words[i]);
  vm_region_mark(&vm->reg[VM_REG_RAM], sp, top - sp);
  return sp;
}

int cohort_vm_new(cohort_vm **out, const uint8_t *elf, size_t len, const uint8_t *input,
                  size_t input_len, const cohort_vm_config *cfg_in, core_errbuf *eb) {
  *out = NULL;
  cohort_vm_config cfg;
  if (cfg_in) cfg = *cfg_in;
  else cohort_vm_config_default(&cfg);
  /* a multiple of 16 KiB: stack_lo = mem_cap - mem_cap / 4 (below 32 MiB)
   * is then on a page boundary, as the permission table needs */
  if (cfg.mem_cap < COHORT_VM_MEM_MIN || cfg.mem_cap > COHORT_VM_MEM_MAX || cfg.mem_cap % (4 * VM_PAGE))
    return core_errf(eb, COHORT_ERR_INVALID, "memory cap %u is not a multiple of 16 KiB in [2 MiB, 1 GiB]",
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
  if (le16(elf + 16) == 3)
    return core_errf(eb, COHORT_ERR_INVALID,
                     "position-independent executable (ET_DYN) is not supported (link with -static -no-pie)");
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

  seg segs[COHORT_VM_MAX_SEGS];
  unsigned nseg = 0;
  uint32_t limit = vm_stack_lo(cfg.mem_cap), exec_lo = 0, exec_hi = 0, code_hi = 0, top = 0,
           phdr_addr = 0;
  int nexec = 0;
  for (unsigned i = 0; i < phnum; i++) {
    const uint8_t *ph = elf + phoff + 32 * i;
    uint32_t type = vm_le32(ph);
    const char *why = pt_refusal(type);
    if (why) return core_errf(eb, COHORT_ERR_INVALID, "program header %u: %s", i, why);
    if (type == PT_GNU_STACK && (vm_le32(ph + 24) & VM_PF_X))
      return core_errf(eb, COHORT_ERR_INVALID, "program header %u: PT_GNU_STACK asks for an executable stack", i);
    if (type != PT_LOAD) continue; /* carries no memory: ignored, as by Linux */
    if (nseg == COHORT_VM_MAX_SEGS)
      return core_errf(eb, COHORT_ERR_INVALID, "more than %u PT_LOAD segments", COHORT_VM_MAX_SEGS);
    seg *sg = &segs[nseg];
    sg->off = vm_le32(ph + 4);
    sg->vaddr = vm_le32(ph + 8);
    sg->filesz = vm_le32(ph + 16);
    sg->memsz = vm_le32(ph + 20);
    sg->flags = vm_le32(ph + 24);
    if (sg->flags & ~7u) return core_errf(eb, COHORT_ERR_INVALID, "segment %u has unknown flags", i);
    if (!(sg->flags & VM_PF_R)) return core_errf(eb, COHORT_ERR_INVALID, "segment %u is not readable", i);
    if (sg->memsz == 0) return core_errf(eb, COHORT_ERR_INVALID, "segment %u is empty", i);
    if (sg->filesz > sg->memsz)
      return core_errf(eb, COHORT_ERR_INVALID, "segment %u: file size exceeds memory size", i);
    if ((uint64_t)sg->off + sg->filesz > len)
      return core_errf(eb, COHORT_ERR_INVALID, "segment %u extends past the end of the file", i);
    if ((sg->off ^ sg->vaddr) & (VM_PAGE - 1))
      return core_errf(eb, COHORT_ERR_INVALID, "segment %u: p_offset and p_vaddr differ modulo 4096", i);
    if (sg->vaddr < COHORT_VM_RAM_BASE || (uint64_t)sg->vaddr + sg->memsz > limit)
      return core_errf(eb, COHORT_ERR_INVALID,
                       "segment %u [0x%x, +0x%x) is outside [0x%x, 0x%x) (memory cap less the stack)", i,
                       (unsigned)sg->vaddr, (unsigned)sg->memsz, (unsigned)COHORT_VM_RAM_BASE, (unsigned)limit);
    uint32_t plo = sg->vaddr & ~(VM_PAGE - 1), phi = vm_page_up(sg->vaddr + sg->memsz);
    for (unsigned j = 0; j < nseg; j++) {
      uint32_t qlo = segs[j].vaddr & ~(VM_PAGE - 1), qhi = vm_page_up(segs[j].vaddr + segs[j].memsz);
      if (plo < qhi && qlo < phi)
        return core_errf(eb, COHORT_ERR_INVALID, "segments %u and %u overlap or share a page", j, nseg);
    }
    if (sg->flags & VM_PF_X) {
      if (sg->flags & VM_PF_W)
        return core_errf(eb, COHORT_ERR_INVALID,
                         "segment %u is writable and executable (the VM keeps code read-only; GNU ld's "
                         "default script merges code and small data into one RWX segment when "
                         "optimising: link with -msmall-data-limit=0, or with the SDK's cohort.ld)", i);
      if (++nexec > 1) return core_errf(eb, COHORT_ERR_INVALID, "more than one executable segment");
      exec_lo = plo;
      exec_hi = phi;
      code_hi = sg->filesz ? vm_page_up(sg->vaddr + sg->filesz) : plo; /* file-backed pages */
    }
    if (sg->off <= phoff && phoff < sg->off + sg->filesz) phdr_addr = phoff - sg->off + sg->vaddr;
    if (phi > top) top = phi;
    nseg++;
  }
  if (nseg == 0) return core_errf(eb, COHORT_ERR_INVALID, "no PT_LOAD segment");
  if (nexec == 0) return core_errf(eb, COHORT_ERR_INVALID, "no executable segment");
  if (entry < exec_lo || entry >= exec_hi || (entry & 3))
    return core_errf(eb, COHORT_ERR_INVALID, "entry point 0x%x is not an aligned address in the code segment",
                     (unsigned)entry);

  cohort_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return COHORT_ERR_NOMEM;
  vm_empty_hashes(vm->empty);
  vm->jit_min = VM_JIT_MIN_RUN;
  uint32_t ram_pages = cfg.mem_cap / VM_PAGE;
  uint32_t in_pages = (uint32_t)((input_len + VM_PAGE - 1) / VM_PAGE);
  int rc = vm_region_init(&vm->reg[VM_REG_RAM], 0, ram_pages, log2_ceil(ram_pages), vm->empty, 1);
  if (!rc)
    rc = vm_region_init(&vm->reg[VM_REG_IN], COHORT_VM_INPUT_BASE, in_pages, log2_ceil(in_pages), vm->empty, 0);
  if (!rc)
    rc = vm_region_init(&vm->reg[VM_REG_OUT], COHORT_VM_OUTPUT_BASE, COHORT_VM_OUTPUT_MAX / VM_PAGE,
                        log2_ceil(COHORT_VM_OUTPUT_MAX / VM_PAGE), vm->empty, 0);
  if (!rc) {
    vm->code_n = (code_hi - exec_lo) / 4;
    vm->code = calloc((size_t)vm->code_n + 1, sizeof(vm_insn));
    if (!vm->code) rc = COHORT_ERR_NOMEM;
  }
  if (rc) {
    cohort_vm_del(vm);
    return rc;
  }
  vm_region *ram = &vm->reg[VM_REG_RAM];
  vm->perm = (uint8_t *)ram->block;
  /* segments sorted by address (the state's table is) */
  for (unsigned i = 1; i < nseg; i++)
    for (unsigned j = i; j > 0 && segs[j].vaddr < segs[j - 1].vaddr; j--) {
      seg t = segs[j];
      segs[j] = segs[j - 1];
      segs[j - 1] = t;
    }
  cohort_vm_info *s = &vm->s;
  for (unsigned i = 0; i < nseg; i++) {
    const seg *g = &segs[i];
    /* as mmap(file, offset page_down(p_offset)) at page_down(p_vaddr) */
    uint32_t plo = g->vaddr & ~(VM_PAGE - 1), flo = g->off & ~(VM_PAGE - 1);
    if (g->filesz) {
      uint64_t mlen = vm_page_up(g->vaddr + g->filesz) - plo; /* mapped file bytes */
      uint64_t avail = len - flo < mlen ? len - flo : mlen;
      memcpy(ram->data + plo, elf + flo, avail);
      if (g->memsz > g->filesz) { /* zero the bss part of the last file page */
        uint32_t z = g->vaddr + g->filesz;
        memset(ram->data + z, 0, vm_page_up(z) - z);
      }
      vm_region_mark(ram, plo, (uint32_t)mlen);
    }
    s->seg[i].lo = plo;
    s->seg[i].hi = vm_page_up(g->vaddr + g->memsz);
    s->seg[i].flags = g->flags;
  }
  if (input_len) memcpy(vm->reg[VM_REG_IN].data, input, input_len);
  vm_region_mark(&vm->reg[VM_REG_IN], 0, in_pages * VM_PAGE);

  s->pc = entry;
  s->max_steps = cfg.max_steps;
  s->status = COHORT_VM_RUNNING;
  s->mem_cap = cfg.mem_cap;
  s->out_cap = cfg.out_cap;
  s->exec_lo = exec_lo;
  s->exec_hi = exec_hi;
  s->brk = s->brk_min = top;
  s->in_len = (uint32_t)input_len;
  s->x[2] = init_stack(vm, entry, phdr_addr, phnum);
  vm_perm_build(vm);
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
  vm_async_free(vm);
  for (int i = 0; i < VM_NREG; i++) vm_region_free(&vm->reg[i]);
  vm_jit_free(vm->jit);
  free(vm->code);
  free(vm->tcode);
  free(vm);
}

void cohort_vm_set_tier(cohort_vm *vm, int tier) { vm->tier = tier; }

int cohort_vm_clone(cohort_vm **out, const cohort_vm *src) {
  *out = NULL;
  /* the tree is copied: wait for src's overlapped checkpoint, if any (its
   * result stays src's, for cohort_vm_state_hash_finish) */
  vm_mem_join((cohort_vm *)src);
  cohort_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return COHORT_ERR_NOMEM;
  vm->s = src->s;
  memcpy(vm->empty, src->empty, sizeof vm->empty);
  vm->log_fn = src->log_fn;
  vm->log_ctx = src->log_ctx;
  vm->tier = src->tier;
  vm->jit_min = src->jit_min;
  int rc = 0;
  for (int i = 0; i < VM_NREG && !rc; i++) rc = vm_region_clone(&vm->reg[i], &src->reg[i]);
  if (!rc) {
    vm->perm = (uint8_t *)vm->reg[VM_REG_RAM].block;
    vm_perm_build(vm);
  }
  size_t ncode = (size_t)src->code_n + 1;
  vm->code_n = src->code_n;
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
