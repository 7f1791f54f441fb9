/* vm/vm_snap.c — execution traces: copy-on-write snapshots for bisection.
 *
 * A trace records the state of one running handle every `interval` steps.
 * Snapshots share unchanged 4 KiB pages (reference counted), so the cost of
 * a snapshot is the pages written since the previous one. A page may have
 * been written if it has dirty leaves or was flushed since the last
 * snapshot (a flush, or the capture of an overlapped one, moves the dirty
 * flags into sdirty); such a page is still shared when its bytes equal the
 * previous snapshot's (leaf flags stay set until the next hash, so without
 * this every snapshot would copy every page written since the last hash).
 *
 * cohort_vm_trace_seek(step) restores the nearest snapshot at or below step
 * into a scratch handle (copying only pages that differ from what the
 * scratch handle holds) and replays the rest on the fast path.
 */
#include <stdlib.h>

#include "vm/vm_int.h"

typedef struct {
  uint32_t refs;
  uint8_t data[VM_PAGE];
} spage;

typedef struct {
  cohort_vm_info s;
  spage **pages[2]; /* RAM, output: one pointer per page, NULL = zero */
} snap;

struct cohort_vm_trace {
  uint64_t interval;
  snap *snaps;
  size_t n, cap;
  cohort_vm *scratch; /* the handle seek() restores into */
};

static const int SNAP_REG[2] = {VM_REG_RAM, VM_REG_OUT};

static void page_unref(spage *p) {
  if (p && --p->refs == 0) free(p);
}

static void snap_free(snap *s, const cohort_vm *vm) {
  for (int k = 0; k < 2; k++) {
    if (!s->pages[k]) continue;
    for (uint32_t p = 0; p < vm->reg[SNAP_REG[k]].npages; p++) page_unref(s->pages[k][p]);
    free(s->pages[k]);
  }
}

static int page_zero(const uint8_t *p) {
  uint64_t acc = 0;
  for (unsigned i = 0; i < VM_PAGE; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

/* Append a snapshot of vm; shares pages unchanged since the previous one. */
static int take(cohort_vm_trace *t, cohort_vm *vm) {
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 16;
    snap *ns = realloc(t->snaps, nc * sizeof *ns);
    if (!ns) return COHORT_ERR_NOMEM;
    t->snaps = ns;
    t->cap = nc;
  }
  snap *s = &t->snaps[t->n], *prev = t->n ? &t->snaps[t->n - 1] : NULL;
  memset(s, 0, sizeof *s);
  s->s = vm->s;
  for (int k = 0; k < 2; k++) {
    vm_region *r = &vm->reg[SNAP_REG[k]];
    s->pages[k] = calloc(r->npages ? r->npages : 1, sizeof(spage *));
    if (!s->pages[k]) {
      snap_free(s, vm);
      return COHORT_ERR_NOMEM;
    }
    for (uint32_t p = 0; p < r->npages; p++) {
      int pd = vm_page_dirty(r->dirty + (size_t)p * VM_LEAVES_PER_PAGE);
      int changed = !prev || pd || r->sdirty[p];
      if (!changed) {
        s->pages[k][p] = prev->pages[k][p];
        if (s->pages[k][p]) s->pages[k][p]->refs++;
        continue;
      }
      if (!r->touched[p] && !pd) continue;
      const uint8_t *src = r->data + (size_t)p * VM_PAGE;
      spage *old = prev ? prev->pages[k][p] : NULL;
      if (old && memcmp(old->data, src, VM_PAGE) == 0) { /* written, but back to the same bytes */
        s->pages[k][p] = old;
        old->refs++;
        continue;
      }
      if (page_zero(src)) continue;
      spage *sp = malloc(sizeof *sp);
      if (!sp) {
        snap_free(s, vm);
        return COHORT_ERR_NOMEM;
      }
      sp->refs = 1;
      memcpy(sp->data, src, VM_PAGE);
      s->pages[k][p] = sp;
    }
    memset(r->sdirty, 0, r->npages ? r->npages : 1);
  }
  t->n++;
  return 0;
}

int cohort_vm_trace_new(cohort_vm_trace **out, cohort_vm *vm, uint64_t interval) {
  *out = NULL;
  if (interval == 0) return COHORT_ERR_INVALID;
  cohort_vm_trace *t = calloc(1, sizeof *t);
  if (!t) return COHORT_ERR_NOMEM;
  t->interval = interval;
  int rc = cohort_vm_clone(&t->scratch, vm);
  if (!rc) rc = take(t, vm);
  if (rc) {
    cohort_vm_trace_del(t);
    return rc;
  }
  cohort_vm_set_log(t->scratch, NULL, NULL);
  *out = t;
  return 0;
}

void cohort_vm_trace_del(cohort_vm_trace *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) snap_free(&t->snaps[i], t->scratch);
  free(t->snaps);
  cohort_vm_del(t->scratch);
  free(t);
}

int cohort_vm_trace_run(cohort_vm_trace *t, cohort_vm *vm, uint64_t n, uint64_t *done) {
  uint64_t total = 0;
  int rc = 0;
  while (total < n && vm->s.status == COHORT_VM_RUNNING) {
    uint64_t to_next = t->interval - vm->s.step % t->interval, k = n - total, ran;
    if (to_next < k) k = to_next;
    cohort_vm_run(vm, k, &ran);
    total += ran;
    if (vm->s.step % t->interval == 0 || vm->s.status != COHORT_VM_RUNNING) {
      if (t->n && t->snaps[t->n - 1].s.step == vm->s.step) continue;
      rc = take(t, vm);
      if (rc) break;
    }
  }
  if (done) *done = total;
  return rc;
}

size_t cohort_vm_trace_count(const cohort_vm_trace *t) { return t->n; }

int cohort_vm_trace_seek(cohort_vm_trace *t, uint64_t step, cohort_vm **vm_out) {
  *vm_out = NULL;
  if (step < t->snaps[0].s.step) return COHORT_ERR_INVALID;
  size_t lo = 0, hi = t->n; /* last snapshot with s.step <= step */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (t->snaps[mid].s.step <= step) lo = mid;
    else hi = mid;
  }
  const snap *s = &t->snaps[lo];
  cohort_vm *vm = t->scratch;
  static const uint8_t zero[VM_PAGE];
  for (int k = 0; k < 2; k++) {
    vm_region *r = &vm->reg[SNAP_REG[k]];
    for (uint32_t p = 0; p < r->npages; p++) {
      uint8_t *dst = r->data + (size_t)p * VM_PAGE;
      const uint8_t *src = s->pages[k][p] ? s->pages[k][p]->data : zero;
      if (!s->pages[k][p] && !r->touched[p] && !vm_page_dirty(r->dirty + (size_t)p * VM_LEAVES_PER_PAGE))
        continue;
      if (memcmp(dst, src, VM_PAGE) == 0) continue;
      memcpy(dst, src, VM_PAGE);
      vm_region_mark(r, p * VM_PAGE, VM_PAGE);
    }
  }
  vm->s = s->s;
  vm_perm_sync(vm);
  if (step > vm->s.step) cohort_vm_run(vm, step - vm->s.step, NULL);
  *vm_out = vm;
  return 0;
}
