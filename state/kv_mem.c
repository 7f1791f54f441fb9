/* state/kv_mem.c — in-memory back-end: a sorted array of entries. Meant for
 * tests, fuzzers and replay checks, not for large data. */
#include <stdlib.h>
#include <string.h>

#include "state/kv_int.h"

typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
} ent;

typedef struct {
  kv_store base;
  ent *e;
  size_t n, cap;
} mem;

static int cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

/* Index of the first entry >= key. */
static size_t lower(mem *s, const uint8_t *k, size_t kl) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cmp(s->e[mid].k, s->e[mid].kl, k, kl) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int mem_get(kv_store *kv, const uint8_t *k, size_t kl, uint8_t **val,
                   size_t *vlen) {
  mem *s = (mem *)kv;
  size_t i = lower(s, k, kl);
  if (i == s->n || cmp(s->e[i].k, s->e[i].kl, k, kl)) return COHORT_ERR_NOT_FOUND;
  uint8_t *c = malloc(s->e[i].vl ? s->e[i].vl : 1);
  if (!c) return COHORT_ERR_NOMEM;
  memcpy(c, s->e[i].v, s->e[i].vl);
  *val = c;
  *vlen = s->e[i].vl;
  return COHORT_OK;
}

static int mem_scan(kv_store *kv, const uint8_t *p, size_t pl, kv_visit_fn cb,
                    void *ctx) {
  mem *s = (mem *)kv;
  for (size_t i = lower(s, p, pl); i < s->n; i++) {
    if (s->e[i].kl < pl || memcmp(s->e[i].k, p, pl)) break;
    int rc = cb(ctx, s->e[i].k, s->e[i].kl, s->e[i].v, s->e[i].vl);
    if (rc) return rc;
  }
  return 0;
}

static int has_prefix(const ent *e, const uint8_t *p, size_t pl) {
  return e->kl >= pl && !memcmp(e->k, p, pl);
}

/* Index of the first entry above every key that starts with p (keys below p
 * or with the prefix come first: the predicate is monotone). */
static size_t past_prefix(mem *s, const uint8_t *p, size_t pl) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (has_prefix(&s->e[mid], p, pl) || cmp(s->e[mid].k, s->e[mid].kl, p, pl) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int mem_scan_rev(kv_store *kv, const uint8_t *p, size_t pl, const uint8_t *u,
                        size_t ul, kv_visit_fn cb, void *ctx) {
  mem *s = (mem *)kv;
  size_t i = past_prefix(s, p, pl);
  if (u) {
    size_t j = lower(s, u, ul); /* first entry >= u; first > u is one more if equal */
    if (j < s->n && !cmp(s->e[j].k, s->e[j].kl, u, ul)) j++;
    if (j < i) i = j;
  }
  while (i-- > 0 && has_prefix(&s->e[i], p, pl)) {
    int rc = cb(ctx, s->e[i].k, s->e[i].kl, s->e[i].v, s->e[i].vl);
    if (rc) return rc;
  }
  return 0;
}

/* Apply one op with the key and value copies made beforehand (k/v are
 * consumed; k is freed if the key exists); cannot fail: capacity is
 * reserved by the caller. */
static void apply(mem *s, const kv_op *o, uint8_t *k, uint8_t *v) {
  size_t i = lower(s, o->k, o->kl);
  int found = i < s->n && !cmp(s->e[i].k, s->e[i].kl, o->k, o->kl);
  if (!o->v) {
    if (found) {
      free(s->e[i].k);
      free(s->e[i].v);
      memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(ent));
      s->n--;
    }
    return;
  }
  if (found) {
    free(k);
    free(s->e[i].v);
    s->e[i].v = v;
    s->e[i].vl = o->vl;
    return;
  }
  memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(ent));
  s->e[i] = (ent){k, v, o->kl, o->vl};
  s->n++;
}

/* Atomic, like LevelDB's write batch: every allocation happens before the
 * first change, so out of memory leaves the store as it was. */
static int mem_write(kv_store *kv, kv_batch *b, int sync, core_errbuf *eb) {
  mem *s = (mem *)kv;
  (void)sync;
  uint8_t **ks = calloc(b->n ? b->n : 1, sizeof *ks), **vs = calloc(b->n ? b->n : 1, sizeof *vs);
  int ok = ks && vs;
  size_t puts = 0;
  for (size_t i = 0; ok && i < b->n; i++) {
    const kv_op *o = &b->ops[i];
    if (!o->v) continue;
    puts++;
    ks[i] = malloc(o->kl ? o->kl : 1);
    vs[i] = malloc(o->vl ? o->vl : 1);
    if (!ks[i] || !vs[i]) ok = 0;
    else {
      memcpy(ks[i], o->k, o->kl);
      memcpy(vs[i], o->v, o->vl);
    }
  }
  if (ok && s->n + puts > s->cap) {
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->n + puts) cap *= 2;
    ent *e = realloc(s->e, cap * sizeof *e);
    if (!e) ok = 0;
    else s->e = e, s->cap = cap;
  }
  if (!ok) {
    for (size_t i = 0; ks && vs && i < b->n; i++) free(ks[i]), free(vs[i]);
    free(ks);
    free(vs);
    return core_errf(eb, COHORT_ERR_STORE, "in-memory store: out of memory (nothing written)");
  }
  for (size_t i = 0; i < b->n; i++) apply(s, &b->ops[i], ks[i], vs[i]);
  free(ks);
  free(vs);
  return COHORT_OK;
}

static void mem_close(kv_store *kv) {
  mem *s = (mem *)kv;
  for (size_t i = 0; i < s->n; i++) {
    free(s->e[i].k);
    free(s->e[i].v);
  }
  free(s->e);
  free(s);
}

static const kv_vtbl vt = {mem_get, mem_scan, mem_scan_rev, mem_write, mem_close};

int kv_open_mem(kv_store **out) {
  mem *s = calloc(1, sizeof *s);
  if (!s) return COHORT_ERR_NOMEM;
  s->base.vt = &vt;
  *out = &s->base;
  return COHORT_OK;
}
