/* state/state_overlay.c — the sorted write set of one block, and the v1
 * running app_hash over it. */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "state/state_int.h"

static int cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static size_t lower(const overlay *o, const uint8_t *k, size_t kl) {
  size_t lo = 0, hi = o->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cmp(o->e[mid].k, o->e[mid].kl, k, kl) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int ov_find(const overlay *o, const uint8_t *k, size_t kl, const uint8_t **v,
            size_t *vl) {
  size_t i = lower(o, k, kl);
  if (i == o->n || cmp(o->e[i].k, o->e[i].kl, k, kl)) return 0;
  *v = o->e[i].v;
  *vl = o->e[i].vl;
  return 1;
}

static int journal(overlay *o, const uint8_t *k, size_t kl) {
  if (o->jn == o->jcap) {
    size_t cap = o->jcap ? o->jcap * 2 : 16;
    ov_undo *p = realloc(o->j, cap * sizeof *p);
    if (!p) return COHORT_ERR_NOMEM;
    o->j = p;
    o->jcap = cap;
  }
  ov_undo *u = &o->j[o->jn];
  memset(u, 0, sizeof *u);
  u->k = malloc(kl ? kl : 1);
  if (!u->k) return COHORT_ERR_NOMEM;
  memcpy(u->k, k, kl);
  u->kl = kl;
  const uint8_t *ov;
  size_t ol;
  if (ov_find(o, k, kl, &ov, &ol)) {
    u->existed = 1;
    u->was_delete = ov == NULL;
    if (ov) {
      u->v = malloc(ol ? ol : 1);
      if (!u->v) {
        free(u->k);
        return COHORT_ERR_NOMEM;
      }
      if (ol) memcpy(u->v, ov, ol);
      u->vl = ol;
    }
  }
  o->jn++;
  return COHORT_OK;
}

static void remove_at(overlay *o, size_t i) {
  free(o->e[i].k);
  free(o->e[i].v);
  memmove(&o->e[i], &o->e[i + 1], (o->n - i - 1) * sizeof(ov_ent));
  o->n--;
}

void ov_journal_begin(overlay *o) { o->journaling = 1; }

void ov_journal_end(overlay *o) {
  for (size_t i = 0; i < o->jn; i++) {
    free(o->j[i].k);
    free(o->j[i].v);
  }
  o->jn = 0;
  o->journaling = 0;
}

int ov_journal_rollback_to(overlay *o, size_t mark) {
  int was = o->journaling;
  o->journaling = 0;
  int rc = COHORT_OK;
  for (size_t i = o->jn; i-- > mark;) {
    ov_undo *u = &o->j[i];
    if (!u->existed) {
      size_t at = lower(o, u->k, u->kl);
      if (at < o->n && !cmp(o->e[at].k, o->e[at].kl, u->k, u->kl)) remove_at(o, at);
    } else if (!rc) {
      rc = ov_put(o, u->k, u->kl, u->was_delete ? NULL : u->v, u->vl);
    }
    free(u->k);
    free(u->v);
  }
  o->jn = mark;
  o->journaling = was;
  return rc;
}

int ov_put(overlay *o, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  if (o->journaling && journal(o, k, kl)) return COHORT_ERR_NOMEM;
  uint8_t *nv = NULL;
  if (v) {
    nv = malloc(vl ? vl : 1);
    if (!nv) return COHORT_ERR_NOMEM;
    if (vl) memcpy(nv, v, vl);
  }
  size_t i = lower(o, k, kl);
  if (i < o->n && !cmp(o->e[i].k, o->e[i].kl, k, kl)) {
    free(o->e[i].v);
    o->e[i].v = nv;
    o->e[i].vl = v ? vl : 0;
    return COHORT_OK;
  }
  uint8_t *nk = malloc(kl);
  if (!nk) {
    free(nv);
    return COHORT_ERR_NOMEM;
  }
  memcpy(nk, k, kl);
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 32;
    ov_ent *e = realloc(o->e, cap * sizeof *e);
    if (!e) {
      free(nk);
      free(nv);
      return COHORT_ERR_NOMEM;
    }
    o->e = e;
    o->cap = cap;
  }
  memmove(&o->e[i + 1], &o->e[i], (o->n - i) * sizeof(ov_ent));
  o->e[i] = (ov_ent){nk, nv, kl, v ? vl : 0};
  o->n++;
  return COHORT_OK;
}

void ov_free(overlay *o) {
  ov_journal_end(o);
  free(o->j);
  for (size_t i = 0; i < o->n; i++) {
    free(o->e[i].k);
    free(o->e[i].v);
  }
  free(o->e);
  memset(o, 0, sizeof *o);
}

void ov_hash(const overlay *o, const uint8_t prev[32], uint64_t height,
             uint8_t out[32]) {
  core_sha256_ctx c;
  uint8_t b[8];
  core_sha256_init(&c);
  core_sha256_update(&c, "cohort/app/v1", 13);
  core_sha256_update(&c, prev, 32);
  core_put_u64be(b, height);
  core_sha256_update(&c, b, 8);
  for (size_t i = 0; i < o->n; i++) {
    const ov_ent *e = &o->e[i];
    uint8_t flag = e->v ? 1 : 0;
    core_put_u32be(b, (uint32_t)e->kl);
    core_sha256_update(&c, b, 4);
    core_sha256_update(&c, e->k, e->kl);
    core_sha256_update(&c, &flag, 1);
    core_put_u32be(b, (uint32_t)e->vl);
    core_sha256_update(&c, b, 4);
    if (e->vl) core_sha256_update(&c, e->v, e->vl);
  }
  core_sha256_final(&c, out);
}
