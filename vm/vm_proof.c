/* vm/vm_proof.c — state serialization, state hash, one-step proofs and
 * output proofs.
 *
 * State hash = BLAKE2b-256("cohort/vm/state/v3" || state || mem_root), with
 * the 256-byte little-endian state layout of docs/vm.md §4.
 *
 * One-step proof (v3), all integers little-endian:
 *   "CVP3" | state (256) | mem_root (32) | n (u8, <= 4) | n witnesses
 *   witness = addr (u32, 128-byte aligned) | mask (u32, bit l set = sibling
 *             at level l is the empty subtree and omitted; bits >= 25 zero)
 *             | leaf (128) | the non-empty siblings, level 0 first (32 each)
 * Witnesses are exactly the leaves the step touches, in order of first
 * access; at most one of them is written. The verifier re-runs vm_step over
 * the witnesses, so the proof path and the fast path share one definition.
 *
 * Output proof (v3): "CVO3" | state (256) | mem_root (32) | the 6 siblings
 * of the output region's subtree (levels 19..24).
 */
#include <stdlib.h>

#include "core/hash.h"
#include "vm/vm_int.h"

static const char STATE_TAG[] = "cohort/vm/state/v3";
#define PROOF_HDR (4 + VM_STATE_SER_LEN + 32 + 1)
#define OUT_LEVEL (VM_PAGE_LEVELS + 14) /* level of the output region root */
#define WIT_HDR (8 + VM_LEAF)           /* addr, mask, leaf */
#define OUT_PROOF_LEN (4 + VM_STATE_SER_LEN + 32 + 32 * (VM_TREE_LEVELS - OUT_LEVEL))

void vm_state_ser(const cohort_vm_info *s, uint8_t o_[VM_STATE_SER_LEN]) {
  uint8_t *o = o_;
  vm_put32(o, s->pc);
  for (int i = 1; i < 32; i++) vm_put32(o + 4 * i, s->x[i]);
  o += 128;
  vm_put64(o, s->step);
  vm_put64(o + 8, s->max_steps);
  o += 16;
  const uint32_t f[12] = {s->status, s->code,    s->mem_cap, s->exec_lo, s->exec_hi, s->brk,
                          s->brk_min, s->in_len, s->in_pos,  s->out_len, s->sys_done, s->out_cap};
  for (int i = 0; i < 12; i++) vm_put32(o + 4 * i, f[i]);
  o += 48;
  for (int i = 0; i < COHORT_VM_MAX_SEGS; i++) {
    vm_put32(o + 8 * i, s->seg[i].lo | s->seg[i].flags);
    vm_put32(o + 8 * i + 4, s->seg[i].hi);
  }
}

/* The segment table of a reachable state: used entries first, each page
 * aligned, readable, not W+X, sorted and disjoint, inside [RAM_BASE,
 * stack_lo); exactly one executable entry, equal to the exec range; the
 * heap starts at the end of the last one. */
static int segs_ok(const cohort_vm_info *s) {
  uint32_t prev_hi = COHORT_VM_RAM_BASE, nexec = 0;
  int end = 0;
  for (int i = 0; i < COHORT_VM_MAX_SEGS; i++) {
    const cohort_vm_seg *g = &s->seg[i];
    if (g->hi == 0) {
      if (g->lo || g->flags || i == 0) return 0;
      end = 1;
      continue;
    }
    if (end || g->lo % VM_PAGE || g->hi % VM_PAGE || g->lo < prev_hi || g->hi <= g->lo) return 0;
    if (g->flags & ~7u || !(g->flags & VM_PF_R) || (g->flags & VM_PF_W && g->flags & VM_PF_X)) return 0;
    if (g->flags & VM_PF_X) {
      if (++nexec > 1 || g->lo != s->exec_lo || g->hi != s->exec_hi) return 0;
    }
    prev_hi = g->hi;
  }
  return nexec == 1 && s->brk_min == prev_hi && prev_hi <= vm_stack_lo(s->mem_cap);
}

/* Decode and check the invariants every reachable state satisfies. */
int vm_state_deser(const uint8_t in_[VM_STATE_SER_LEN], cohort_vm_info *s) {
  const uint8_t *in = in_;
  memset(s, 0, sizeof *s);
  s->pc = vm_le32(in);
  for (int i = 1; i < 32; i++) s->x[i] = vm_le32(in + 4 * i);
  in += 128;
  s->step = vm_le64(in);
  s->max_steps = vm_le64(in + 8);
  in += 16;
  uint32_t *f[12] = {&s->status, &s->code,   &s->mem_cap, &s->exec_lo,   &s->exec_hi,
                     &s->brk,    &s->brk_min, &s->in_len,  &s->in_pos,    &s->out_len,
                     &s->sys_done, &s->out_cap};
  for (int i = 0; i < 12; i++) *f[i] = vm_le32(in + 4 * i);
  in += 48;
  for (int i = 0; i < COHORT_VM_MAX_SEGS; i++) {
    uint32_t lo = vm_le32(in + 8 * i);
    s->seg[i].lo = lo & ~(VM_PAGE - 1);
    s->seg[i].flags = lo & (VM_PAGE - 1);
    s->seg[i].hi = vm_le32(in + 8 * i + 4);
  }
  if (s->status > COHORT_VM_OUT_OF_STEPS) return COHORT_ERR_DECODE;
  if ((s->status == COHORT_VM_RUNNING || s->status == COHORT_VM_OUT_OF_STEPS) && s->code) return COHORT_ERR_DECODE;
  if (s->max_steps == 0 || s->step > s->max_steps) return COHORT_ERR_DECODE;
  if (s->status == COHORT_VM_RUNNING && s->step == s->max_steps) return COHORT_ERR_DECODE;
  if (s->mem_cap < COHORT_VM_MEM_MIN || s->mem_cap > COHORT_VM_MEM_MAX || s->mem_cap % VM_PAGE)
    return COHORT_ERR_DECODE;
  if (s->exec_lo % VM_PAGE || s->exec_hi % VM_PAGE || s->exec_lo < COHORT_VM_RAM_BASE ||
      s->exec_hi <= s->exec_lo || s->exec_hi > s->mem_cap)
    return COHORT_ERR_DECODE;
  if (!segs_ok(s)) return COHORT_ERR_DECODE;
  if (s->brk_min > s->brk || s->brk > vm_stack_lo(s->mem_cap)) return COHORT_ERR_DECODE;
  if (s->in_len > COHORT_VM_INPUT_MAX || s->in_pos > s->in_len || s->out_cap > COHORT_VM_OUTPUT_MAX ||
      s->out_len > s->out_cap)
    return COHORT_ERR_DECODE;
  if (s->sys_done >= COHORT_VM_MEM_MAX) return COHORT_ERR_DECODE; /* a transfer or a brk zeroing */
  return 0;
}

void cohort_vm_hash_info(const cohort_vm_info *s, const uint8_t root[32], uint8_t out[32]) {
  uint8_t buf[sizeof STATE_TAG - 1 + VM_STATE_SER_LEN + 32];
  memcpy(buf, STATE_TAG, sizeof STATE_TAG - 1);
  vm_state_ser(s, buf + sizeof STATE_TAG - 1);
  memcpy(buf + sizeof STATE_TAG - 1 + VM_STATE_SER_LEN, root, 32);
  core_blake2b256(out, buf, sizeof buf);
}

/* ---- witness back-end ---- */
typedef struct {
  uint32_t addr;
  int written;
  uint8_t data[VM_LEAF]; /* current contents (after writes) */
  uint8_t orig[VM_LEAF]; /* contents before the step */
} leaf;

typedef struct {
  vm_mem m;
  cohort_vm *vm; /* prover: fetch leaves from here; verifier: NULL */
  unsigned n, used;
  leaf l[VM_MAX_WITNESS];
} wit_mem;

static int wit_find(wit_mem *w, uint32_t a) {
  for (unsigned i = 0; i < w->used; i++)
    if (w->l[i].addr == a) return (int)i;
  if (w->vm) {
    if (w->used == VM_MAX_WITNESS) return COHORT_ERR_INVALID;
    leaf *lf = &w->l[w->used];
    lf->addr = a;
    lf->written = 0;
    uint8_t *p = vm_mem_ptr(w->vm, a);
    if (p) memcpy(lf->data, p, VM_LEAF);
    else memset(lf->data, 0, VM_LEAF);
    memcpy(lf->orig, lf->data, VM_LEAF);
    return (int)w->used++;
  }
  if (w->used < w->n && w->l[w->used].addr == a) return (int)w->used++;
  return COHORT_ERR_INVALID;
}

static int wit_read(vm_mem *m, uint32_t addr, uint8_t *dst, uint32_t n) {
  wit_mem *w = (wit_mem *)m;
  int i = wit_find(w, addr & ~(VM_LEAF - 1));
  if (i < 0) return i;
  memcpy(dst, w->l[i].data + (addr & (VM_LEAF - 1)), n);
  return 0;
}

static int wit_write(vm_mem *m, uint32_t addr, const uint8_t *src, uint32_t n) {
  wit_mem *w = (wit_mem *)m;
  int i = wit_find(w, addr & ~(VM_LEAF - 1));
  if (i < 0) return i;
  memcpy(w->l[i].data + (addr & (VM_LEAF - 1)), src, n);
  w->l[i].written = 1;
  return 0;
}

static void path_root(uint32_t addr, const uint8_t lf[VM_LEAF], vm_hash sib[VM_TREE_LEVELS], uint8_t out[32]) {
  uint8_t cur[32];
  vm_hash_leaf(cur, lf);
  for (unsigned l = 0; l < VM_TREE_LEVELS; l++) {
    if ((addr >> (l + VM_LEAF_SHIFT)) & 1) vm_hash2(cur, sib[l], cur);
    else vm_hash2(cur, cur, sib[l]);
  }
  memcpy(out, cur, 32);
}

int cohort_vm_prove(cohort_vm *vm, uint8_t **proof, size_t *proof_len) {
  *proof = NULL;
  *proof_len = 0;
  uint8_t root[32];
  vm_mem_root(vm, root);
  cohort_vm_info s2 = vm->s;
  wit_mem w = {{wit_read, wit_write, NULL}, vm, 0, 0, {{0}}};
  int rc = vm_step(&s2, &w.m);
  if (rc) return rc;
  uint8_t *p = malloc(COHORT_VM_PROOF_MAX);
  if (!p) return COHORT_ERR_NOMEM;
  memcpy(p, "CVP3", 4);
  vm_state_ser(&vm->s, p + 4);
  memcpy(p + 4 + VM_STATE_SER_LEN, root, 32);
  p[PROOF_HDR - 1] = (uint8_t)w.used;
  size_t o = PROOF_HDR;
  for (unsigned i = 0; i < w.used; i++) {
    vm_hash sib[VM_TREE_LEVELS];
    vm_mem_path(vm, w.l[i].addr, sib);
    uint32_t mask = 0;
    for (unsigned l = 0; l < VM_TREE_LEVELS; l++)
      if (memcmp(sib[l], vm->empty[l], 32) == 0) mask |= 1u << l;
    vm_put32(p + o, w.l[i].addr);
    vm_put32(p + o + 4, mask);
    memcpy(p + o + 8, w.l[i].orig, VM_LEAF);
    o += WIT_HDR;
    for (unsigned l = 0; l < VM_TREE_LEVELS; l++)
      if (!(mask >> l & 1)) {
        memcpy(p + o, sib[l], 32);
        o += 32;
      }
  }
  *proof = p;
  *proof_len = o;
  return 0;
}

int cohort_vm_proof_info(const uint8_t *proof, size_t len, cohort_vm_info *info, uint8_t mem_root[32]) {
  if (len < 4 + VM_STATE_SER_LEN + 32 || (memcmp(proof, "CVP3", 4) && memcmp(proof, "CVO3", 4)))
    return COHORT_ERR_DECODE;
  int rc = vm_state_deser(proof + 4, info);
  if (rc) return rc;
  if (mem_root) memcpy(mem_root, proof + 4 + VM_STATE_SER_LEN, 32);
  return 0;
}

int cohort_vm_verify(const uint8_t pre[32], const uint8_t *proof, size_t len, uint8_t post[32],
                     core_errbuf *eb) {
  if (len < PROOF_HDR || len > COHORT_VM_PROOF_MAX)
    return core_errf(eb, COHORT_ERR_DECODE, "proof length %zu out of range", len);
  if (memcmp(proof, "CVP3", 4) != 0) return core_errf(eb, COHORT_ERR_DECODE, "not a v3 step proof");
  cohort_vm_info s;
  if (vm_state_deser(proof + 4, &s)) return core_errf(eb, COHORT_ERR_DECODE, "proof state is malformed");
  const uint8_t *root = proof + 4 + VM_STATE_SER_LEN;
  uint8_t h[32];
  cohort_vm_hash_info(&s, root, h);
  if (memcmp(h, pre, 32) != 0) return core_errf(eb, COHORT_ERR_INVALID, "proof is not for the given pre-state");

  vm_hash empty[VM_TREE_LEVELS + 1];
  vm_empty_hashes(empty);
  wit_mem w = {{wit_read, wit_write, NULL}, NULL, proof[PROOF_HDR - 1], 0, {{0}}};
  if (w.n > VM_MAX_WITNESS) return core_errf(eb, COHORT_ERR_DECODE, "%u witnesses (at most %u)", w.n, VM_MAX_WITNESS);
  vm_hash sibs[VM_MAX_WITNESS][VM_TREE_LEVELS];
  size_t o = PROOF_HDR;
  for (unsigned i = 0; i < w.n; i++) {
    if (len - o < WIT_HDR) return core_errf(eb, COHORT_ERR_DECODE, "witness %u truncated", i);
    leaf *lf = &w.l[i];
    lf->addr = vm_le32(proof + o);
    uint32_t mask = vm_le32(proof + o + 4);
    if (lf->addr & (VM_LEAF - 1)) return core_errf(eb, COHORT_ERR_DECODE, "witness %u address not leaf aligned", i);
    if (mask >> VM_TREE_LEVELS) return core_errf(eb, COHORT_ERR_DECODE, "witness %u mask has stray bits", i);
    memcpy(lf->data, proof + o + 8, VM_LEAF);
    memcpy(lf->orig, lf->data, VM_LEAF);
    o += WIT_HDR;
    for (unsigned l = 0; l < VM_TREE_LEVELS; l++) {
      if (mask >> l & 1) {
        memcpy(sibs[i][l], empty[l], 32);
        continue;
      }
      if (len - o < 32) return core_errf(eb, COHORT_ERR_DECODE, "witness %u truncated", i);
      memcpy(sibs[i][l], proof + o, 32);
      o += 32;
      if (memcmp(sibs[i][l], empty[l], 32) == 0)
        return core_errf(eb, COHORT_ERR_DECODE, "witness %u: empty sibling at level %u not omitted", i, l);
    }
    uint8_t r[32];
    path_root(lf->addr, lf->data, sibs[i], r);
    if (memcmp(r, root, 32) != 0)
      return core_errf(eb, COHORT_ERR_INVALID, "witness %u (0x%08x) does not match the memory root", i,
                       (unsigned)lf->addr);
  }
  if (o != len) return core_errf(eb, COHORT_ERR_DECODE, "%zu trailing bytes", len - o);

  if (vm_step(&s, &w.m) != 0)
    return core_errf(eb, COHORT_ERR_INVALID, "the step needs memory the proof does not witness");
  if (w.used != w.n) return core_errf(eb, COHORT_ERR_INVALID, "proof carries unused witnesses");
  uint8_t new_root[32];
  memcpy(new_root, root, 32);
  int nwritten = 0;
  for (unsigned i = 0; i < w.n; i++) {
    if (!w.l[i].written) continue;
    if (++nwritten > 1) return core_errf(eb, COHORT_ERR_INVALID, "step wrote more than one leaf");
    path_root(w.l[i].addr, w.l[i].data, sibs[i], new_root);
  }
  cohort_vm_hash_info(&s, new_root, post);
  return 0;
}

/* ---- output proofs ---- */
int cohort_vm_output_prove(cohort_vm *vm, uint8_t **proof, size_t *proof_len) {
  *proof = NULL;
  *proof_len = 0;
  uint8_t root[32];
  vm_mem_root(vm, root);
  uint8_t *p = malloc(OUT_PROOF_LEN);
  if (!p) return COHORT_ERR_NOMEM;
  memcpy(p, "CVO3", 4);
  vm_state_ser(&vm->s, p + 4);
  memcpy(p + 4 + VM_STATE_SER_LEN, root, 32);
  size_t o = 4 + VM_STATE_SER_LEN + 32;
  for (unsigned l = OUT_LEVEL; l < VM_TREE_LEVELS; l++, o += 32)
    vm_mem_node(vm, l, ((uint64_t)COHORT_VM_OUTPUT_BASE >> (l + VM_LEAF_SHIFT)) ^ 1, p + o);
  *proof = p;
  *proof_len = o;
  return 0;
}

int cohort_vm_output_verify(const uint8_t state_hash[32], const uint8_t *output, size_t len,
                            const uint8_t *proof, size_t proof_len, cohort_vm_info *info,
                            core_errbuf *eb) {
  if (proof_len != OUT_PROOF_LEN || memcmp(proof, "CVO3", 4) != 0)
    return core_errf(eb, COHORT_ERR_DECODE, "not a v3 output proof of %d bytes", OUT_PROOF_LEN);
  cohort_vm_info s;
  if (vm_state_deser(proof + 4, &s)) return core_errf(eb, COHORT_ERR_DECODE, "proof state is malformed");
  const uint8_t *root = proof + 4 + VM_STATE_SER_LEN;
  uint8_t h[32];
  cohort_vm_hash_info(&s, root, h);
  if (memcmp(h, state_hash, 32) != 0) return core_errf(eb, COHORT_ERR_INVALID, "proof is not for this state");
  if (s.out_len != len)
    return core_errf(eb, COHORT_ERR_INVALID, "output is %zu bytes, the state says %u", len, (unsigned)s.out_len);
  vm_hash empty[VM_TREE_LEVELS + 1];
  vm_empty_hashes(empty);
  /* region root over 2^14 pages: pages past the output are empty */
  size_t n = (len + VM_PAGE - 1) / VM_PAGE;
  vm_hash *lvl = malloc((n ? n : 1) * sizeof(vm_hash));
  if (!lvl) return COHORT_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    uint8_t page[VM_PAGE];
    size_t k = len - i * VM_PAGE < VM_PAGE ? len - i * VM_PAGE : VM_PAGE;
    memcpy(page, output + i * VM_PAGE, k);
    memset(page + k, 0, VM_PAGE - k);
    vm_page_root(page, empty, lvl[i]);
  }
  if (n == 0) memcpy(lvl[0], empty[VM_PAGE_LEVELS], 32), n = 1;
  for (unsigned l = VM_PAGE_LEVELS; l < OUT_LEVEL; l++) {
    size_t m = (n + 1) / 2;
    for (size_t i = 0; i < m; i++) vm_hash2(lvl[i], lvl[2 * i], 2 * i + 1 < n ? lvl[2 * i + 1] : empty[l]);
    n = m;
  }
  uint8_t cur[32];
  memcpy(cur, lvl[0], 32);
  free(lvl);
  const uint8_t *sib = proof + 4 + VM_STATE_SER_LEN + 32;
  for (unsigned l = OUT_LEVEL; l < VM_TREE_LEVELS; l++, sib += 32) {
    if ((COHORT_VM_OUTPUT_BASE >> (l + VM_LEAF_SHIFT)) & 1) vm_hash2(cur, sib, cur);
    else vm_hash2(cur, cur, sib);
  }
  if (memcmp(cur, root, 32) != 0) return core_errf(eb, COHORT_ERR_INVALID, "output does not match the state");
  if (info) *info = s;
  return 0;
}
