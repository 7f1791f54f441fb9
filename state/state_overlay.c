/* state/state_overlay.c — the write set of one block: an ordered map from
 * key to value-or-delete, with an undo journal, and the v1 running app_hash
 * over it.
 *
 * The map is a skip list: O(log n) insert, lookup and seek, in-order walks
 * from any key. A node's height is a function of its key's hash (not of a
 * random generator), so the structure — though never the results, which
 * depend only on the key order — is the same on every run. A block that
 * writes 400k keys costs 400k * log(400k) comparisons, not 400k^2 / 2 moves
 * as the sorted array this replaced did.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "state/state_int.h"

struct ov_node {
  uint8_t *k, *v; /* v NULL = delete */
  size_t kl, vl;
  int height;
  struct ov_node *next[]; /* height entries */
};

static int cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

/* Height from the key: 1 + the number of trailing one bits of a 32-bit
 * FNV-1a hash, taken two at a time (p = 1/4 per level). */
static int key_height(const uint8_t *k, size_t kl) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < kl; i++) h = (h ^ k[i]) * 16777619u;
  h ^= h >> 15;
  h *= 0x2c1b3c6dU;
  h ^= h >> 12;
  int lv = 1;
  while (lv < OV_MAX_LEVEL && (h & 3) == 3) {
    lv++;
    h >>= 2;
  }
  return lv;
}

static int ensure_head(overlay *o) {
  if (o->head) return COHORT_OK;
  o->head = calloc(1, sizeof(ov_node) + OV_MAX_LEVEL * sizeof(ov_node *));
  if (!o->head) return COHORT_ERR_NOMEM;
  o->head->height = OV_MAX_LEVEL;
  return COHORT_OK;
}

/* Fill upd[l] with the last node at level l whose key is < k. */
static ov_node *find_ge(const overlay *o, const uint8_t *k, size_t kl, ov_node **upd) {
  ov_node *x = o->head;
  for (int l = OV_MAX_LEVEL - 1; l >= 0; l--) {
    while (x->next[l] && cmp(x->next[l]->k, x->next[l]->kl, k, kl) < 0) x = x->next[l];
    if (upd) upd[l] = x;
  }
  return x->next[0];
}

const ov_node *ov_seek(const overlay *o, const uint8_t *k, size_t kl) {
  if (!o->head) return NULL;
  return find_ge(o, k, kl, NULL);
}

const ov_node *ov_first(const overlay *o) { return o->head ? o->head->next[0] : NULL; }
const ov_node *ov_next(const ov_node *n) { return n->next[0]; }
void ov_node_get(const ov_node *n, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl) {
  *k = n->k;
  *kl = n->kl;
  *v = n->v;
  *vl = n->vl;
}

int ov_find(const overlay *o, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl) {
  if (!o->head) return 0;
  ov_node *n = find_ge(o, k, kl, NULL);
  if (!n || cmp(n->k, n->kl, k, kl)) return 0;
  *v = n->v;
  *vl = n->vl;
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

static void remove_key(overlay *o, const uint8_t *k, size_t kl) {
  ov_node *upd[OV_MAX_LEVEL];
  ov_node *n = find_ge(o, k, kl, upd);
  if (!n || cmp(n->k, n->kl, k, kl)) return;
  for (int l = 0; l < n->height; l++)
    if (upd[l]->next[l] == n) upd[l]->next[l] = n->next[l];
  free(n->k);
  free(n->v);
  free(n);
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
    if (!u->existed) remove_key(o, u->k, u->kl);
    else if (!rc) rc = ov_put(o, u->k, u->kl, u->was_delete ? NULL : u->v, u->vl);
    free(u->k);
    free(u->v);
  }
  o->jn = mark;
  o->journaling = was;
  return rc;
}

int ov_put(overlay *o, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  if (ensure_head(o)) return COHORT_ERR_NOMEM;
  if (o->journaling && journal(o, k, kl)) return COHORT_ERR_NOMEM;
  uint8_t *nv = NULL;
  if (v) {
    nv = malloc(vl ? vl : 1);
    if (!nv) return COHORT_ERR_NOMEM;
    if (vl) memcpy(nv, v, vl);
  }
  ov_node *upd[OV_MAX_LEVEL];
  ov_node *n = find_ge(o, k, kl, upd);
  if (n && !cmp(n->k, n->kl, k, kl)) {
    free(n->v);
    n->v = nv;
    n->vl = v ? vl : 0;
    return COHORT_OK;
  }
  int h = key_height(k, kl);
  n = malloc(sizeof *n + (size_t)h * sizeof(ov_node *));
  uint8_t *nk = malloc(kl ? kl : 1);
  if (!n || !nk) {
    free(n);
    free(nk);
    free(nv);
    return COHORT_ERR_NOMEM;
  }
  if (kl) memcpy(nk, k, kl);
  n->k = nk;
  n->kl = kl;
  n->v = nv;
  n->vl = v ? vl : 0;
  n->height = h;
  for (int l = 0; l < h; l++) {
    n->next[l] = upd[l]->next[l];
    upd[l]->next[l] = n;
  }
  o->n++;
  return COHORT_OK;
}

void ov_free(overlay *o) {
  ov_journal_end(o);
  free(o->j);
  ov_node *x = o->head ? o->head->next[0] : NULL;
  while (x) {
    ov_node *nx = x->next[0];
    free(x->k);
    free(x->v);
    free(x);
    x = nx;
  }
  free(o->head);
  memset(o, 0, sizeof *o);
}

void ov_hash(const overlay *o, const uint8_t prev[32], uint64_t height, uint8_t out[32]) {
  core_sha256_ctx c;
  uint8_t b[8];
  core_sha256_init(&c);
  core_sha256_update(&c, "cohort/app/v1", 13);
  core_sha256_update(&c, prev, 32);
  core_put_u64be(b, height);
  core_sha256_update(&c, b, 8);
  for (const ov_node *e = ov_first(o); e; e = e->next[0]) {
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
