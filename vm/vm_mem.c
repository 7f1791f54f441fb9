/* vm/vm_mem.c — guest memory, the memory Merkle tree and the direct back-end.
 *
 * The tree covers the whole 32-bit address space: 2^27 leaves of 32 bytes,
 * 27 levels of BLAKE2b-256(left || right) above them. A leaf is the raw 32
 * bytes (not hashed); the "empty" node of level l is the root of an all-zero
 * subtree of 2^l leaves. Memory is three regions, each a power-of-two number
 * of pages at a fixed base: RAM at 0, input at 0x80000000, output at
 * 0xC0000000. Each region keeps a dense array of node hashes from its page
 * roots (level 7) up to its root; everything outside the regions is empty.
 *
 * Invariants: a page none of whose leaves is `dirty` has its current root
 * in nodes[] and, if ptree[p] is set, its current inner nodes there; pages
 * never `touched` are all zero. Writers set the leaf's `dirty` flag (one
 * byte per 32-byte leaf, so the fast path pays one store); vm_mem_flush
 * re-hashes only dirty leaves' paths inside cached pages, then the dirty
 * pages' ancestors.
 */
#include <stdlib.h>

#include "core/hash.h"
#include "vm/vm_int.h"

void vm_empty_hashes(vm_hash e[VM_TREE_LEVELS + 1]) {
  memset(e[0], 0, 32);
  for (int l = 1; l <= VM_TREE_LEVELS; l++) vm_hash2(e[l], e[l - 1], e[l - 1]);
}

int vm_region_init(vm_region *r, uint32_t base, uint32_t npages, uint32_t log2pages,
                   const vm_hash *empty) {
  memset(r, 0, sizeof *r);
  r->base = base;
  r->npages = npages;
  r->log2pages = log2pages;
  size_t nn = (size_t)2 << log2pages;
  r->data = calloc(npages ? npages : 1, VM_PAGE);
  r->dirty = calloc(npages ? npages : 1, VM_PAGE / VM_LEAF);
  r->pdirty = calloc(npages ? npages : 1, 1);
  r->sdirty = calloc(npages ? npages : 1, 1);
  r->ptree = calloc(npages ? npages : 1, sizeof *r->ptree);
  r->touched = calloc(npages ? npages : 1, 1);
  r->work = calloc(npages ? npages : 1, sizeof(uint32_t));
  r->nodes = malloc(nn * sizeof(vm_hash));
  if (!r->data || !r->dirty || !r->pdirty || !r->sdirty || !r->ptree || !r->touched || !r->work || !r->nodes) {
    vm_region_free(r);
    return COHORT_ERR_NOMEM;
  }
  /* node i sits at depth floor(log2 i); its level is 7 + log2pages - depth */
  for (unsigned depth = 0; depth <= log2pages; depth++) {
    size_t lo = (size_t)1 << depth, hi = lo << 1;
    for (size_t i = lo; i < hi; i++)
      memcpy(r->nodes[i], empty[VM_PAGE_LEVELS + log2pages - depth], 32);
  }
  return 0;
}

void vm_region_free(vm_region *r) {
  free(r->data);
  free(r->dirty);
  free(r->pdirty);
  free(r->sdirty);
  if (r->ptree)
    for (uint32_t p = 0; p < r->npages; p++) free(r->ptree[p]);
  free(r->ptree);
  free(r->touched);
  free(r->work);
  free(r->nodes);
  memset(r, 0, sizeof *r);
}

static int page_dirty(const vm_region *r, uint32_t p) { return r->pdirty[p]; }

int vm_region_clone(vm_region *d, const vm_region *s) {
  vm_hash empty_dummy[VM_TREE_LEVELS + 1];
  memset(empty_dummy, 0, sizeof empty_dummy);
  int rc = vm_region_init(d, s->base, s->npages, s->log2pages, empty_dummy);
  if (rc) return rc;
  memcpy(d->nodes, s->nodes, ((size_t)2 << s->log2pages) * sizeof(vm_hash));
  memcpy(d->dirty, s->dirty, (size_t)s->npages * (VM_PAGE / VM_LEAF));
  memcpy(d->touched, s->touched, s->npages);
  memcpy(d->pdirty, s->pdirty, s->npages);
  memcpy(d->sdirty, s->sdirty, s->npages);
  /* page subtree caches are not copied: the clone rebuilds them on demand */
  for (uint32_t p = 0; p < s->npages; p++)
    if (s->touched[p] || page_dirty(s, p)) {
      d->touched[p] = 1;
      memcpy(d->data + (size_t)p * VM_PAGE, s->data + (size_t)p * VM_PAGE, VM_PAGE);
    }
  return 0;
}

static int page_is_zero(const uint8_t *p) {
  uint64_t acc = 0;
  for (unsigned i = 0; i < VM_PAGE; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

/* All 255 nodes of one page's subtree, heap order: [1] root, [128..255] leaves
 * (leaves are the raw 32-byte chunks). */
static void page_tree(const uint8_t *page, vm_hash t[256]) {
  for (unsigned i = 0; i < 128; i++) memcpy(t[128 + i], page + 32 * i, 32);
  for (unsigned i = 127; i >= 1; i--) vm_hash2(t[i], t[2 * i], t[2 * i + 1]);
}

/* Children of inner node q (1..127) of a page: nodes 2q, 2q+1, where
 * indices >= 128 are the page's leaves (raw data). */
static const uint8_t *pnode(const vm_hash *t, const uint8_t *page, unsigned q) {
  return q >= 128 ? page + 32 * (q - 128) : t[q];
}

/* Recompute inner nodes t[1..127] of a page, level by level (four hashes
 * at a time where the CPU allows): all of them if need is NULL, else those
 * marked in need[] and, transitively, their ancestors. */
static void page_levels(vm_hash *t, const uint8_t *page, uint8_t *need) {
  for (unsigned w = 64; w >= 1; w /= 2) {
    uint8_t *outs[64];
    const uint8_t *ins[64];
    size_t n = 0;
    for (unsigned q = w; q < 2 * w; q++) {
      if (need && !need[q]) continue;
      outs[n] = t[q];
      ins[n++] = pnode(t, page, 2 * q); /* 2q and 2q+1 are adjacent */
      if (need) need[q >> 1] = 1;
    }
    vm_hash64_batch(outs, ins, n);
  }
}

void vm_page_root(const uint8_t *page, const vm_hash *empty, uint8_t out[32]) {
  if (page_is_zero(page)) {
    memcpy(out, empty[VM_PAGE_LEVELS], 32);
    return;
  }
  vm_hash t[128];
  page_levels(t, page, NULL);
  memcpy(out, t[1], 32);
}

/* Bring page p's root up to date; returns into out. */
static void page_update(cohort_vm *vm, vm_region *r, uint32_t p, uint8_t out[32]) {
  uint8_t *page = r->data + (size_t)p * VM_PAGE, *d = r->dirty + (size_t)p * (VM_PAGE / VM_LEAF);
  vm_hash *t = r->ptree[p];
  if (!t) {
    if (page_is_zero(page)) {
      memcpy(out, vm->empty[VM_PAGE_LEVELS], 32);
      memset(d, 0, VM_PAGE / VM_LEAF);
      return;
    }
    t = r->ptree[p] = malloc(128 * sizeof(vm_hash));
    if (!t) { /* no cache: hash the page in full */
      vm_page_root(page, vm->empty, out);
      memset(d, 0, VM_PAGE / VM_LEAF);
      return;
    }
    page_levels(t, page, NULL);
    memset(d, 0, VM_PAGE / VM_LEAF);
    memcpy(out, t[1], 32);
    return;
  }
  /* mark the inner nodes above dirty leaves, then recompute bottom-up */
  uint8_t need[128] = {0};
  for (unsigned i = 0; i < VM_PAGE / VM_LEAF; i++)
    if (d[i]) need[(128 + i) >> 1] = 1;
  memset(d, 0, VM_PAGE / VM_LEAF);
  page_levels(t, page, need);
  memcpy(out, t[1], 32);
}

static void region_flush(cohort_vm *vm, vm_region *r) {
  uint32_t n = 0;
  size_t leaves = (size_t)1 << r->log2pages;
  for (uint32_t p = 0; p < r->npages; p++) {
    if (!(p & 7) && p + 8 <= r->npages) { /* skip clean runs 8 pages at a time */
      uint64_t w;
      memcpy(&w, r->pdirty + p, 8);
      if (!w) {
        p += 7;
        continue;
      }
    }
    if (!page_dirty(r, p)) continue;
    r->pdirty[p] = 0;
    r->sdirty[p] = 1;
    r->touched[p] = 1;
    page_update(vm, r, p, r->nodes[leaves + p]);
    r->work[n++] = (uint32_t)(leaves + p);
  }
  /* re-hash ancestors level by level; indices stay sorted so duplicates
   * are adjacent */
  while (n > 0 && r->work[0] > 1) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t parent = r->work[i] >> 1;
      if (m > 0 && r->work[m - 1] == parent) continue;
      r->work[m++] = parent;
    }
    for (uint32_t i = 0; i < m; i += 64) {
      uint8_t *outs[64];
      const uint8_t *ins[64];
      uint32_t k = m - i < 64 ? m - i : 64;
      for (uint32_t j = 0; j < k; j++) {
        uint32_t q = r->work[i + j];
        outs[j] = r->nodes[q];
        ins[j] = r->nodes[2 * q]; /* 2q and 2q+1 are adjacent */
      }
      vm_hash64_batch(outs, ins, k);
    }
    n = m;
  }
}

void vm_mem_flush(cohort_vm *vm) {
  for (int i = 0; i < VM_NREG; i++) region_flush(vm, &vm->reg[i]);
}

void vm_mem_node(cohort_vm *vm, unsigned level, uint64_t idx, uint8_t out[32]) {
  uint64_t span = (uint64_t)1 << (level + 5), lo = idx * span, hi = lo + span;
  int overlap = 0;
  for (int i = 0; i < VM_NREG; i++) {
    const vm_region *r = &vm->reg[i];
    uint64_t rlo = r->base, rhi = rlo + ((uint64_t)VM_PAGE << r->log2pages);
    if (lo >= rlo && hi <= rhi) {
      unsigned depth = r->log2pages - (level - VM_PAGE_LEVELS);
      uint64_t h = ((uint64_t)1 << depth) + ((lo - rlo) >> (level + 5));
      memcpy(out, r->nodes[h], 32);
      return;
    }
    if (lo < rhi && rlo < hi) overlap = 1;
  }
  if (!overlap) {
    memcpy(out, vm->empty[level], 32);
    return;
  }
  uint8_t l[32], rr[32];
  vm_mem_node(vm, level - 1, idx * 2, l);
  vm_mem_node(vm, level - 1, idx * 2 + 1, rr);
  vm_hash2(out, l, rr);
}

void vm_mem_root(cohort_vm *vm, uint8_t out[32]) {
  vm_mem_flush(vm);
  vm_mem_node(vm, VM_TREE_LEVELS, 0, out);
}

uint8_t *vm_mem_ptr(cohort_vm *vm, uint32_t addr) {
  for (int i = 0; i < VM_NREG; i++) {
    vm_region *r = &vm->reg[i];
    if (addr >= r->base && addr - r->base < (uint64_t)r->npages * VM_PAGE)
      return r->data + (addr - r->base);
  }
  return NULL;
}

void vm_mem_path(cohort_vm *vm, uint32_t addr, vm_hash sib[VM_TREE_LEVELS]) {
  uint8_t *p = vm_mem_ptr(vm, addr & ~(VM_PAGE - 1));
  const vm_hash *cached = NULL;
  for (int k = 0; k < VM_NREG && p; k++) {
    vm_region *r = &vm->reg[k];
    if (addr >= r->base && addr - r->base < (uint64_t)r->npages * VM_PAGE)
      cached = r->ptree[(addr - r->base) >> VM_PAGE_SHIFT];
  }
  if (p && cached) {
    uint32_t i = 128 + ((addr & (VM_PAGE - 1)) >> 5);
    for (unsigned l = 0; l < VM_PAGE_LEVELS; l++, i >>= 1) memcpy(sib[l], pnode(cached, p, i ^ 1), 32);
  } else if (p) {
    vm_hash t[256];
    page_tree(p, t);
    uint32_t i = 128 + ((addr & (VM_PAGE - 1)) >> 5);
    for (unsigned l = 0; l < VM_PAGE_LEVELS; l++, i >>= 1) memcpy(sib[l], t[i ^ 1], 32);
  } else {
    for (unsigned l = 0; l < VM_PAGE_LEVELS; l++) memcpy(sib[l], vm->empty[l], 32);
  }
  for (unsigned l = VM_PAGE_LEVELS; l < VM_TREE_LEVELS; l++)
    vm_mem_node(vm, l, ((uint64_t)addr >> (l + 5)) ^ 1, sib[l]);
}

/* ---- direct back-end: the handle's own memory ---- */
typedef struct {
  vm_mem m;
  cohort_vm *vm;
} direct_mem;

static int direct_read(vm_mem *m, uint32_t addr, uint8_t *dst, uint32_t n) {
  cohort_vm *vm = ((direct_mem *)m)->vm;
  uint8_t *p = vm_mem_ptr(vm, addr);
  if (p) memcpy(dst, p, n);
  else memset(dst, 0, n);
  return 0;
}

static int direct_write(vm_mem *m, uint32_t addr, const uint8_t *src, uint32_t n) {
  cohort_vm *vm = ((direct_mem *)m)->vm;
  for (int i = 0; i < VM_NREG; i++) {
    vm_region *r = &vm->reg[i];
    if (addr >= r->base && addr - r->base < (uint64_t)r->npages * VM_PAGE) {
      memcpy(r->data + (addr - r->base), src, n);
      r->dirty[(addr - r->base) >> 5] = 1;
      r->pdirty[(addr - r->base) >> VM_PAGE_SHIFT] = 1;
      return 0;
    }
  }
  return COHORT_ERR_INVALID; /* unreachable: the step function checked */
}

static void direct_log(vm_mem *m, uint32_t addr, uint32_t n) {
  cohort_vm *vm = ((direct_mem *)m)->vm;
  if (vm->log_fn) vm->log_fn(vm->log_ctx, vm->reg[VM_REG_RAM].data + addr, n);
}

void cohort_vm_step(cohort_vm *vm) {
  direct_mem dm = {{direct_read, direct_write, direct_log}, vm};
  (void)vm_step(&vm->s, &dm.m);
}

int cohort_vm_read_mem(cohort_vm *vm, uint32_t addr, void *buf, size_t n) {
  if (n > (uint64_t)UINT32_MAX + 1 - addr) return COHORT_ERR_INVALID;
  uint8_t *o = buf;
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = vm_mem_ptr(vm, (uint32_t)(addr + i));
    o[i] = p ? *p : 0;
  }
  return 0;
}
