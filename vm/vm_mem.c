/* vm/vm_mem.c — guest memory, the memory Merkle tree, the permission table
 * and the direct back-end.
 *
 * The tree covers the whole 32-bit address space: 2^25 leaves of 128 bytes,
 * 25 levels of BLAKE2b-256(left || right) above the leaf hashes. A leaf's
 * node is BLAKE2b-256 of its 128 bytes (one compression, as is every inner
 * node: 63 per 4 KiB page); the "empty" node of level l is the root of an
 * all-zero subtree of 2^l leaves. Memory is three regions, each a
 * power-of-two number of pages at a fixed base: RAM at 0, input at
 * 0x80000000, output at 0xC0000000. Each region keeps a dense array of node
 * hashes from its page roots (level 5) up to its root; everything outside
 * the regions is empty.
 *
 * Invariants: a page none of whose leaves is `dirty` has its current root
 * in nodes[] and, if ptree[p] is set, its current leaf hashes and inner
 * nodes there; pages never `touched` are all zero; a page with a dirty leaf
 * is writable now or has `pdirty` set. Fast-tier stores set the leaf's
 * `dirty` byte (one byte per 128-byte leaf: the only cost a store pays);
 * slow paths (system calls, loader, snapshot restore) also set `pdirty`.
 * vm_mem_flush looks at the pdirty pages and the writable ones, re-hashes
 * dirty leaves, stops where a leaf's hash did not change (rewriting equal
 * bytes is free), then re-hashes the changed pages' ancestors. Pages are
 * independent: they are hashed in groups of PG_GROUP, each tree level of a
 * group one batch for the multi-way BLAKE2b, and a flush of many pages is
 * shared with helper threads (up to FLUSH_THREADS, one per online CPU); the
 * result is the same bytes whatever the grouping or the split, and without
 * threads the caller does all of it. An overlapped checkpoint
 * (cohort_vm_state_hash_start) copies what the flush will read and runs the
 * same flush on a helper thread while the caller runs the guest on (below).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h> /* streaming stores for the checkpoint copy */
#endif

#include "core/hash.h"
#include "vm/vm_int.h"

void vm_empty_hashes(vm_hash e[VM_TREE_LEVELS + 1]) {
  static const uint8_t zero[VM_LEAF];
  vm_hash_leaf(e[0], zero);
  for (int l = 1; l <= VM_TREE_LEVELS; l++) vm_hash2(e[l], e[l - 1], e[l - 1]);
}

/* A page's subtree, heap order: t[1] = page root, t[32..63] = the hashes of
 * its 32 leaves (t[0] unused). */
#define PT_NODES (2 * VM_LEAVES_PER_PAGE)

/* RAM gets one anonymous mapping: [perm table][dirty flags][data] (zero
 * filled and lazily backed by the kernel, so a 1 GiB cap costs only what
 * the guest touches). Other regions use the C heap. */
static int region_alloc(vm_region *r, uint32_t npages, int with_perm) {
  size_t n = npages ? npages : 1;
  if (!with_perm) {
    r->data = calloc(n, VM_PAGE);
    r->dirty = calloc(n, VM_LEAVES_PER_PAGE);
    return r->data && r->dirty ? 0 : COHORT_ERR_NOMEM;
  }
  size_t dsz = (n * VM_LEAVES_PER_PAGE + VM_PAGE - 1) & ~(size_t)(VM_PAGE - 1);
  size_t len = VM_PERM_TABLE + dsz + n * VM_PAGE;
  void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) return COHORT_ERR_NOMEM;
  r->block = b;
  r->block_len = len;
  r->dirty = (uint8_t *)b + VM_PERM_TABLE;
  r->data = (uint8_t *)b + VM_PERM_TABLE + dsz;
  return 0;
}

int vm_region_init(vm_region *r, uint32_t base, uint32_t npages, uint32_t log2pages,
                   const vm_hash *empty, int with_perm) {
  memset(r, 0, sizeof *r);
  r->base = base;
  r->npages = npages;
  r->log2pages = log2pages;
  size_t nn = (size_t)2 << log2pages;
  int rc = region_alloc(r, npages, with_perm);
  r->pdirty = calloc(npages ? npages : 1, 1);
  r->sdirty = calloc(npages ? npages : 1, 1);
  r->ptree = calloc(npages ? npages : 1, sizeof *r->ptree);
  /* the page subtrees' storage: one lazily backed mapping rather than a
   * malloc per page (see pool_grow) */
  r->ptpool_len = (size_t)(npages ? npages : 1) * PT_NODES * sizeof(vm_hash);
  r->ptpool = mmap(NULL, r->ptpool_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r->ptpool == MAP_FAILED) r->ptpool = NULL;
  r->touched = calloc(npages ? npages : 1, 1);
  r->work = calloc(npages ? npages : 1, sizeof(uint32_t));
  r->nodes = malloc(nn * sizeof(vm_hash));
  if (rc || !r->pdirty || !r->sdirty || !r->ptree || !r->ptpool || !r->touched || !r->work || !r->nodes) {
    vm_region_free(r);
    return COHORT_ERR_NOMEM;
  }
  /* node i sits at depth floor(log2 i); its level is 5 + log2pages - depth */
  for (unsigned depth = 0; depth <= log2pages; depth++) {
    size_t lo = (size_t)1 << depth, hi = lo << 1;
    for (size_t i = lo; i < hi; i++)
      memcpy(r->nodes[i], empty[VM_PAGE_LEVELS + log2pages - depth], 32);
  }
  return 0;
}

void vm_region_free(vm_region *r) {
  if (r->block) {
    munmap(r->block, r->block_len);
  } else {
    free(r->data);
    free(r->dirty);
  }
  free(r->pdirty);
  free(r->sdirty);
  if (r->ptpool) munmap(r->ptpool, r->ptpool_len);
  free(r->ptree);
  free(r->touched);
  free(r->work);
  free(r->nodes);
  memset(r, 0, sizeof *r);
}

static int page_dirty(const vm_region *r, uint32_t p) {
  return vm_page_dirty(r->dirty + (size_t)p * VM_LEAVES_PER_PAGE);
}

void vm_region_mark(vm_region *r, uint32_t off, uint32_t n) {
  if (n == 0) return;
  uint32_t l0 = off >> VM_LEAF_SHIFT, l1 = (off + n - 1) >> VM_LEAF_SHIFT;
  memset(r->dirty + l0, 1, l1 - l0 + 1);
  uint32_t p0 = off >> VM_PAGE_SHIFT, p1 = (off + n - 1) >> VM_PAGE_SHIFT;
  memset(r->pdirty + p0, 1, p1 - p0 + 1);
}

int vm_region_clone(vm_region *d, const vm_region *s) {
  vm_hash empty_dummy[VM_TREE_LEVELS + 1];
  memset(empty_dummy, 0, sizeof empty_dummy);
  int rc = vm_region_init(d, s->base, s->npages, s->log2pages, empty_dummy, s->block != NULL);
  if (rc) return rc;
  memcpy(d->nodes, s->nodes, ((size_t)2 << s->log2pages) * sizeof(vm_hash));
  memcpy(d->dirty, s->dirty, (size_t)s->npages * VM_LEAVES_PER_PAGE);
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

/* Pages whose subtrees are recomputed together: every level of the group
 * is one batch, so the 8-wide hash stays full up to the page roots (a page
 * alone ends with 4 + 2 + 1 nodes, which would fall back to 4-wide and
 * scalar compressions, about a sixth of a page's cost). */
#define PG_GROUP 8

/* Recompute the subtrees t[g] of pages page[g], g < np <= PG_GROUP: for each
 * page the leaves marked in need[g][32..63] and, where a leaf's hash changed,
 * its ancestors (need[g][q] is set for every inner node recomputed, so
 * need[g][1] says whether the root was). A page with full[g] set has no
 * valid subtree yet: its marked leaves are hashed without comparing. */
static void pages_levels(vm_hash *const *t, const uint8_t *const *page, uint8_t (*need)[PT_NODES],
                         const uint8_t *full, unsigned np) {
  enum { MAXN = PG_GROUP * VM_LEAVES_PER_PAGE };
  uint8_t *outs[MAXN] = {0};
  const uint8_t *ins[MAXN] = {0};
  vm_hash fresh[MAXN];
  uint16_t who[MAXN]; /* g << 6 | node index, for the comparisons */
  size_t n = 0;
  for (unsigned g = 0; g < np; g++)
    for (unsigned i = 0; i < VM_LEAVES_PER_PAGE; i++) {
      unsigned q = VM_LEAVES_PER_PAGE + i;
      if (!need[g][q]) continue;
      if (full[g]) {
        outs[n] = t[g][q];
        need[g][q >> 1] = 1;
      } else {
        outs[n] = fresh[n];
      }
      who[n] = (uint16_t)(g << 6 | q);
      ins[n++] = page[g] + VM_LEAF * i;
    }
  vm_hash128_batch(outs, ins, n);
  for (size_t k = 0; k < n; k++) {
    unsigned g = who[k] >> 6, q = who[k] & 63;
    if (full[g] || memcmp(t[g][q], fresh[k], 32) == 0) continue; /* same bytes again */
    memcpy(t[g][q], fresh[k], 32);
    need[g][q >> 1] = 1;
  }
  for (unsigned w = VM_LEAVES_PER_PAGE / 2; w >= 1; w /= 2) {
    n = 0;
    for (unsigned g = 0; g < np; g++)
      for (unsigned q = w; q < 2 * w; q++) {
        if (!need[g][q]) continue;
        outs[n] = t[g][q];
        ins[n++] = t[g][2 * q]; /* 2q and 2q+1 are adjacent */
        need[g][q >> 1] = 1;
      }
    vm_hash64_batch(outs, ins, n);
  }
}

/* A page's whole subtree into t. */
static void page_levels(vm_hash *t, const uint8_t *page) {
  uint8_t need[1][PT_NODES] = {{0}}, full = 1;
  memset(need[0] + VM_LEAVES_PER_PAGE, 1, VM_LEAVES_PER_PAGE);
  pages_levels(&t, &page, need, &full, 1);
}

void vm_page_root(const uint8_t *page, const vm_hash *empty, uint8_t out[32]) {
  if (page_is_zero(page)) {
    memcpy(out, empty[VM_PAGE_LEVELS], 32);
    return;
  }
  vm_hash t[PT_NODES];
  page_levels(t, page);
  memcpy(out, t[1], 32);
}

/* Bring the roots of pages pg[0..np) (np <= PG_GROUP) up to date in
 * r->nodes; changed[i] = 0 if every dirty leaf of pg[i] hashed to what it
 * was (the root is then unchanged), else 1. The bytes and leaf flags come
 * from the live memory (copy NULL), or from a checkpoint's copy: VM_PAGE
 * bytes and VM_LEAVES_PER_PAGE flags per page, in the order of pg. The
 * flags read are cleared. */
static void pages_update(cohort_vm *vm, vm_region *r, const uint32_t *pg, const uint8_t *copy, uint8_t *flags,
                         uint8_t *changed, unsigned np) {
  size_t leaves = (size_t)1 << r->log2pages;
  vm_hash *t[PG_GROUP];
  const uint8_t *page[PG_GROUP];
  uint8_t need[PG_GROUP][PT_NODES], full[PG_GROUP];
  unsigned slot[PG_GROUP], m = 0;
  for (unsigned i = 0; i < np; i++) {
    uint32_t p = pg[i];
    const uint8_t *data = copy ? copy + (size_t)i * VM_PAGE : r->data + (size_t)p * VM_PAGE;
    uint8_t *d = copy ? flags + (size_t)i * VM_LEAVES_PER_PAGE : r->dirty + (size_t)p * VM_LEAVES_PER_PAGE;
    uint8_t *out = r->nodes[leaves + p];
    vm_hash *tt = r->ptree[p];
    memset(need[m], 0, VM_LEAVES_PER_PAGE);
    if (!tt) {
      memset(d, 0, VM_LEAVES_PER_PAGE);
      changed[i] = 1;
      if (page_is_zero(data)) {
        memcpy(out, vm->empty[VM_PAGE_LEVELS], 32);
        continue;
      }
      tt = r->ptree[p] = r->ptpool + (size_t)p * PT_NODES;
      memset(need[m] + VM_LEAVES_PER_PAGE, 1, VM_LEAVES_PER_PAGE);
      full[m] = 1;
    } else {
      memcpy(need[m] + VM_LEAVES_PER_PAGE, d, VM_LEAVES_PER_PAGE);
      memset(d, 0, VM_LEAVES_PER_PAGE);
      full[m] = 0;
    }
    t[m] = tt;
    page[m] = data;
    slot[m++] = i;
  }
  pages_levels(t, page, need, full, m);
  for (unsigned j = 0; j < m; j++) {
    memcpy(r->nodes[leaves + pg[slot[j]]], t[j][1], 32);
    changed[slot[j]] = need[j][1];
  }
}

/* pages [lo, hi) of r that have dirty leaves get their pdirty flag */
static void collect(vm_region *r, uint32_t lo, uint32_t hi) {
  uint32_t p1 = hi >> VM_PAGE_SHIFT;
  if (p1 > r->npages) p1 = r->npages;
  for (uint32_t p = lo >> VM_PAGE_SHIFT; p < p1; p++)
    if (page_dirty(r, p)) r->pdirty[p] = 1;
}

#define FLUSH_THREADS 4
#define FLUSH_PAR_MIN 256 /* pages: below this a thread costs more than it saves */

/* One flush's page phase, shared by its threads: each takes the next
 * FLUSH_CHUNK pages from `next` until none is left, so a thread that the
 * OS leaves waiting (the machine is shared) holds up no fixed share. Pages
 * are independent, so which thread hashes which gives the same bytes. */
#define FLUSH_CHUNK (4 * PG_GROUP)
typedef struct {
  cohort_vm *vm;
  vm_region *r;
  const uint32_t *pages;
  const uint8_t *copy; /* NULL: live memory; else as pages_update */
  uint8_t *flags;
  uint8_t *changed;
  uint32_t n;
  uint32_t next; /* first page not yet taken (atomic) */
} flush_job;

static void *flush_pages(void *arg) {
  flush_job *f = arg;
  for (;;) {
    uint32_t lo = __atomic_fetch_add(&f->next, FLUSH_CHUNK, __ATOMIC_RELAXED);
    if (lo >= f->n) break;
    uint32_t hi = f->n - lo < FLUSH_CHUNK ? f->n : lo + FLUSH_CHUNK;
    for (uint32_t i = lo; i < hi; i += PG_GROUP)
      pages_update(f->vm, f->r, f->pages + i, f->copy ? f->copy + (size_t)i * VM_PAGE : NULL,
                   f->copy ? f->flags + (size_t)i * VM_LEAVES_PER_PAGE : NULL, f->changed + i,
                   hi - i < PG_GROUP ? hi - i : PG_GROUP);
  }
  return NULL;
}

/* pages_update for pages[0..n), on up to FLUSH_THREADS threads (the
 * calling one included); changed[i] receives its result. pthread_join
 * orders the other threads' writes before the caller's next reads. On the
 * helper of an overlapped checkpoint (`overlapped`), one online CPU is left
 * to the guest, and the job is offered to a caller that comes to wait for
 * the checkpoint (vm_mem_join), which then hashes pages instead of idling;
 * the job outlives no thread inside it (`helping`, under mu). */
static void update_pages(cohort_vm *vm, vm_region *r, const uint32_t *pages, const uint8_t *copy, uint8_t *flags,
                         uint8_t *changed, uint32_t n, int overlapped) {
  int nt = 1;
  if (n >= FLUSH_PAR_MIN) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN) - (overlapped ? 1 : 0);
    nt = cpus > FLUSH_THREADS ? FLUSH_THREADS : cpus < 1 ? 1 : (int)cpus;
  }
  flush_job job = {vm, r, pages, copy, flags, changed, n, 0};
  vm_async *a = &vm->async;
  if (overlapped) {
    pthread_mutex_lock(&a->mu);
    a->job = &job;
    pthread_mutex_unlock(&a->mu);
  }
  pthread_t tid[FLUSH_THREADS];
  int started[FLUSH_THREADS] = {0};
  for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, flush_pages, &job) == 0;
  flush_pages(&job); /* also does the share of any thread that did not start */
  for (int t = 1; t < nt; t++)
    if (started[t]) pthread_join(tid[t], NULL);
  if (overlapped) {
    pthread_mutex_lock(&a->mu);
    a->job = NULL;
    while (a->helping) pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
  }
}

/* A flush about to build the subtrees of many pages (a program that fills
 * megabytes) asks for huge pages for the subtree pool, which saves a page
 * fault per two subtrees; small programs keep 4 KiB pages, so that a handle
 * (and each clone) stays small. */
static void pool_grow(vm_region *r, const uint32_t *pages, uint32_t n) {
#ifdef MADV_HUGEPAGE
  if (r->pt_huge || n < FLUSH_PAR_MIN) return;
  uint32_t fresh = 0;
  for (uint32_t i = 0; i < n; i++) fresh += !r->ptree[pages[i]];
  if (fresh < FLUSH_PAR_MIN) return;
  (void)madvise(r->ptpool, r->ptpool_len, MADV_HUGEPAGE);
  r->pt_huge = 1;
#else
  (void)r, (void)pages, (void)n;
#endif
}

/* The pages of r to re-hash, into r->work (returns how many): those with
 * dirty leaves among the pdirty pages and those the fast tiers may have
 * stored to. Marks them touched and sdirty and clears their pdirty. */
static uint32_t region_collect(cohort_vm *vm, vm_region *r) {
  uint32_t n = 0;
  if (r == &vm->reg[VM_REG_RAM]) { /* where the fast tiers may have stored */
    const cohort_vm_info *s = &vm->s;
    for (int i = 0; i < COHORT_VM_MAX_SEGS && s->seg[i].hi; i++)
      if (s->seg[i].flags & VM_PF_W) collect(r, s->seg[i].lo, s->seg[i].hi);
    collect(r, s->brk_min, vm_page_up(s->brk));
    collect(r, vm_stack_lo(s->mem_cap), s->mem_cap);
  }
  for (uint32_t p = 0; p < r->npages; p++) {
    if (!(p & 7) && p + 8 <= r->npages) { /* skip clean runs 8 pages at a time */
      uint64_t w;
      memcpy(&w, r->pdirty + p, 8);
      if (!w) {
        p += 7;
        continue;
      }
    }
    if (!r->pdirty[p]) continue;
    r->pdirty[p] = 0;
    if (!page_dirty(r, p)) continue;
    r->sdirty[p] = 1;
    r->touched[p] = 1;
    r->work[n++] = p;
  }
  return n;
}

/* Re-hash the n pages listed in r->work (from the live memory, or from a
 * checkpoint's copy: see pages_update) and their ancestors; `overlapped`:
 * on the helper of an overlapped checkpoint (see update_pages). */
static void region_rehash(cohort_vm *vm, vm_region *r, uint32_t n, const uint8_t *copy, uint8_t *flags,
                          int overlapped) {
  size_t leaves = (size_t)1 << r->log2pages;
  if (n) {
    pool_grow(r, r->work, n);
    uint8_t few[PG_GROUP], *changed = n <= PG_GROUP ? few : malloc(n);
    if (changed) {
      update_pages(vm, r, r->work, copy, flags, changed, n, overlapped);
    } else { /* no memory for the flags: a group at a time, all ancestors */
      for (uint32_t i = 0; i < n; i += PG_GROUP)
        pages_update(vm, r, r->work + i, copy ? copy + (size_t)i * VM_PAGE : NULL,
                     copy ? flags + (size_t)i * VM_LEAVES_PER_PAGE : NULL, few,
                     n - i < PG_GROUP ? n - i : PG_GROUP);
    }
    uint32_t m = 0; /* node indices of changed pages, still sorted */
    for (uint32_t i = 0; i < n; i++)
      if (!changed || changed[i]) r->work[m++] = (uint32_t)(leaves + r->work[i]);
    if (changed != few) free(changed);
    n = m;
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
  vm_mem_join(vm);
  for (int i = 0; i < VM_NREG; i++) {
    vm_region *r = &vm->reg[i];
    region_rehash(vm, r, region_collect(vm, r), NULL, NULL, 0);
  }
}

/* ---- overlapped checkpoints (cohort_vm_state_hash_start) ----
 * The caller's thread captures the checkpoint: the pages a flush would
 * re-hash (region_collect, into each region's work list), a copy of their
 * dirty leaves (of the whole page if it has no cached subtree yet: then all
 * its leaves are hashed) and of their leaf flags, which it then clears. A
 * helper thread hashes from that copy while the caller runs on; only the
 * copy costs the caller time (the bytes written since the last hash, with
 * streaming stores). No helper runs during a capture (start refuses while
 * one is pending), so it may read ptree.
 *
 * Ownership while a hash is RUNNING: the helper has every region's ptree,
 * ptpool, pt_huge, nodes and work lists, and a.copy/a.flags; the caller
 * keeps the state, data, dirty, pdirty, touched and sdirty, which the
 * helper never reads (the copy holds what it needs). Whatever reads or
 * writes the tree (a flush, a root, a path, a clone, del) first waits for
 * the helper (vm_mem_join), and while it waits it may hash pages of the
 * helper's page phase under way (a.job, see update_pages). The result is
 * the same bytes as a flush at the captured step: the same pages are hashed
 * from the same bytes, and the pages dirtied after the capture are flushed
 * by the next hash. */
#define ASYNC_MIN 64u       /* pages: below this a thread costs more than it saves */
#define ASYNC_MAX 65536u    /* pages (256 MiB): a larger copy is not worth its memory */

enum { ASYNC_NONE = 0, ASYNC_RUNNING, ASYNC_READY };

/* hash the captured checkpoint from its copy (on the helper thread, or
 * in the caller when no thread could be started) */
static void async_hash(cohort_vm *vm, int overlapped) {
  vm_async *a = &vm->async;
  size_t off = 0;
  for (int i = 0; i < VM_NREG; i++) {
    region_rehash(vm, &vm->reg[i], a->n[i], a->copy + off * VM_PAGE, a->flags + off * VM_LEAVES_PER_PAGE,
                  overlapped);
    off += a->n[i];
  }
  uint8_t root[32];
  vm_mem_node(vm, VM_TREE_LEVELS, 0, root);
  cohort_vm_hash_info(&a->s, root, a->hash);
}

static void *async_main(void *arg) {
  async_hash(arg, 1);
  return NULL;
}

/* a->copy and a->flags, for up to ASYNC_MAX pages or all the handle's
 * pages if fewer: one lazily backed mapping, made on first use and kept
 * until del, so that it never moves and a steady run does not fault fresh
 * pages in at every checkpoint (only the largest checkpoint's worth is ever
 * backed) */
static int async_reserve(cohort_vm *vm, size_t n) {
  vm_async *a = &vm->async;
  if (a->copy) return n <= a->cap ? 0 : COHORT_ERR_NOMEM;
  size_t cap = 0;
  for (int i = 0; i < VM_NREG; i++) cap += vm->reg[i].npages;
  if (cap > ASYNC_MAX) cap = ASYNC_MAX;
  if (n > cap) return COHORT_ERR_NOMEM;
  size_t len = cap * (VM_PAGE + VM_LEAVES_PER_PAGE);
  void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) return COHORT_ERR_NOMEM;
#ifdef MADV_HUGEPAGE
  if (n >= FLUSH_PAR_MIN) (void)madvise(b, len, MADV_HUGEPAGE); /* fewer faults for a big copy */
#endif
  a->copy = b;
  a->flags = a->copy + cap * VM_PAGE;
  a->cap = cap;
  return 0;
}

/* n bytes (a multiple of 64) into the copy (16-byte aligned) with
 * non-temporal stores: no read for ownership of the destination, and the
 * copy does not push the guest's data out of the caches (the helper reads
 * it once, later). About 40% less time than memcpy for sieve's 20 MiB. */
#if defined(__x86_64__) && defined(__SSE2__)
static void copy_nt(uint8_t *dst, const uint8_t *src, size_t n) {
  for (size_t o = 0; o < n; o += 64) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + o));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + o + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + o + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + o + 48));
    _mm_stream_si128((__m128i *)(void *)(dst + o), a);
    _mm_stream_si128((__m128i *)(void *)(dst + o + 16), b);
    _mm_stream_si128((__m128i *)(void *)(dst + o + 32), c);
    _mm_stream_si128((__m128i *)(void *)(dst + o + 48), d);
  }
}
#define COPY_FENCE() _mm_sfence()
#else
static void copy_nt(uint8_t *dst, const uint8_t *src, size_t n) { memcpy(dst, src, n); }
#define COPY_FENCE() ((void)0)
#endif

/* copy the listed pages' dirty leaves and flags into the reserved buffers
 * and clear the flags */
static void async_capture(cohort_vm *vm) {
  vm_async *a = &vm->async;
  size_t k = 0;
  for (int i = 0; i < VM_NREG; i++) {
    vm_region *r = &vm->reg[i];
    for (uint32_t j = 0; j < a->n[i]; j++, k++) {
      uint32_t p = r->work[j];
      uint8_t *fl = r->dirty + (size_t)p * VM_LEAVES_PER_PAGE, *dst = a->copy + k * VM_PAGE;
      const uint8_t *src = r->data + (size_t)p * VM_PAGE;
      memcpy(a->flags + k * VM_LEAVES_PER_PAGE, fl, VM_LEAVES_PER_PAGE);
      uint64_t w[4];
      memcpy(w, fl, sizeof w);
      if (!r->ptree[p] || (w[0] & w[1] & w[2] & w[3]) == 0x0101010101010101ull) {
        copy_nt(dst, src, VM_PAGE); /* all leaves needed (or all dirty) */
      } else {
        for (unsigned l = 0; l < VM_LEAVES_PER_PAGE; l++)
          if (fl[l]) copy_nt(dst + l * VM_LEAF, src + l * VM_LEAF, VM_LEAF);
      }
      memset(fl, 0, VM_LEAVES_PER_PAGE);
    }
  }
  COPY_FENCE(); /* the streamed stores are done before the helper starts */
}

void vm_mem_join(cohort_vm *vm) {
  vm_async *a = &vm->async;
  if (a->state != ASYNC_RUNNING) return;
  /* rather than idle, take pages of the helper's page phase under way */
  pthread_mutex_lock(&a->mu);
  flush_job *j = a->job;
  if (j) a->helping++;
  pthread_mutex_unlock(&a->mu);
  if (j) {
    flush_pages(j);
    pthread_mutex_lock(&a->mu);
    a->helping--;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
  }
  pthread_join(a->tid, NULL);
  a->state = ASYNC_READY;
}

void vm_async_free(cohort_vm *vm) {
  vm_async *a = &vm->async;
  vm_mem_join(vm);
  if (a->copy) munmap(a->copy, a->cap * (VM_PAGE + VM_LEAVES_PER_PAGE));
  if (a->sync_init) {
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
  }
  memset(a, 0, sizeof *a);
}

int cohort_vm_state_hash_start(cohort_vm *vm) {
  vm_async *a = &vm->async;
  if (a->state != ASYNC_NONE) return COHORT_ERR_INVALID;
  a->s = vm->s;
  size_t total = 0;
  for (int i = 0; i < VM_NREG; i++) total += a->n[i] = region_collect(vm, &vm->reg[i]);
  if (!a->sync_init && total >= ASYNC_MIN && pthread_mutex_init(&a->mu, NULL) == 0) {
    if (pthread_cond_init(&a->cv, NULL) == 0) a->sync_init = 1;
    else pthread_mutex_destroy(&a->mu);
  }
  if (a->sync_init && total >= ASYNC_MIN && async_reserve(vm, total) == 0) {
    async_capture(vm);
    if (pthread_create(&a->tid, NULL, async_main, vm) == 0) {
      a->state = ASYNC_RUNNING;
      return 0;
    }
    async_hash(vm, 0); /* no thread: from the copy, here */
  } else { /* small (or too large to copy, or no lock): as cohort_vm_state_hash does */
    for (int i = 0; i < VM_NREG; i++) region_rehash(vm, &vm->reg[i], a->n[i], NULL, NULL, 0);
    uint8_t root[32];
    vm_mem_node(vm, VM_TREE_LEVELS, 0, root);
    cohort_vm_hash_info(&a->s, root, a->hash);
  }
  a->state = ASYNC_READY;
  return 0;
}

int cohort_vm_state_hash_finish(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]) {
  vm_mem_join(vm);
  if (vm->async.state != ASYNC_READY) return COHORT_ERR_INVALID;
  memcpy(out, vm->async.hash, 32);
  vm->async.state = ASYNC_NONE;
  return 0;
}

void vm_mem_node(cohort_vm *vm, unsigned level, uint64_t idx, uint8_t out[32]) {
  uint64_t span = (uint64_t)1 << (level + VM_LEAF_SHIFT), lo = idx * span, hi = lo + span;
  int overlap = 0;
  for (int i = 0; i < VM_NREG; i++) {
    const vm_region *r = &vm->reg[i];
    uint64_t rlo = r->base, rhi = rlo + ((uint64_t)VM_PAGE << r->log2pages);
    if (lo >= rlo && hi <= rhi) {
      unsigned depth = r->log2pages - (level - VM_PAGE_LEVELS);
      uint64_t h = ((uint64_t)1 << depth) + ((lo - rlo) >> (level + VM_LEAF_SHIFT));
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

/* ---- the permission table ---- */
static void perm_fill(uint8_t *perm, uint32_t lo, uint32_t hi, uint8_t bits) {
  if (hi > lo) memset(perm + (lo >> VM_PAGE_SHIFT), bits, (hi - lo) >> VM_PAGE_SHIFT);
}

void vm_perm_build(cohort_vm *vm) {
  const cohort_vm_info *s = &vm->s;
  uint8_t *perm = vm->perm;
  memset(perm, 0, s->mem_cap >> VM_PAGE_SHIFT);
  for (int i = 0; i < COHORT_VM_MAX_SEGS && s->seg[i].hi; i++)
    perm_fill(perm, s->seg[i].lo, s->seg[i].hi,
              (uint8_t)(VM_PERM_R | (s->seg[i].flags & VM_PF_W ? VM_PERM_W : 0)));
  vm->perm_top = vm_page_up(s->brk);
  perm_fill(perm, s->brk_min, vm->perm_top, VM_PERM_R | VM_PERM_W);
  perm_fill(perm, vm_stack_lo(s->mem_cap), s->mem_cap, VM_PERM_R | VM_PERM_W);
}

void vm_perm_sync(cohort_vm *vm) {
  uint32_t top = vm_page_up(vm->s.brk);
  if (top > vm->perm_top) perm_fill(vm->perm, vm->perm_top, top, VM_PERM_R | VM_PERM_W);
  else if (top < vm->perm_top) perm_fill(vm->perm, top, vm->perm_top, 0);
  vm->perm_top = top;
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
  vm_mem_join(vm);
  uint8_t *p = vm_mem_ptr(vm, addr & ~(VM_PAGE - 1));
  const vm_hash *cached = NULL;
  for (int k = 0; k < VM_NREG && p; k++) {
    vm_region *r = &vm->reg[k];
    if (addr >= r->base && addr - r->base < (uint64_t)r->npages * VM_PAGE)
      cached = r->ptree[(addr - r->base) >> VM_PAGE_SHIFT];
  }
  if (p) {
    vm_hash t[PT_NODES];
    if (!cached) {
      page_levels(t, p);
      cached = t;
    }
    uint32_t i = VM_LEAVES_PER_PAGE + ((addr & (VM_PAGE - 1)) >> VM_LEAF_SHIFT);
    for (unsigned l = 0; l < VM_PAGE_LEVELS; l++, i >>= 1) memcpy(sib[l], cached[i ^ 1], 32);
  } else {
    for (unsigned l = 0; l < VM_PAGE_LEVELS; l++) memcpy(sib[l], vm->empty[l], 32);
  }
  for (unsigned l = VM_PAGE_LEVELS; l < VM_TREE_LEVELS; l++)
    vm_mem_node(vm, l, ((uint64_t)addr >> (l + VM_LEAF_SHIFT)) ^ 1, sib[l]);
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
      vm_region_mark(r, addr - r->base, n);
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

int cohort_vm_debug_flip_reg(cohort_vm *vm, unsigned r, uint32_t mask) {
  if (r < 1 || r > 31) return COHORT_ERR_INVALID;
  vm->s.x[r] ^= mask;
  return COHORT_OK;
}
