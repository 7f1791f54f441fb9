/* state/state_sx.c — reads and writes through an executing block's overlay:
 * raw keys, protobuf records, merged prefix scans, supply and escrow totals. */
#include <stdlib.h>
#include <string.h>

#include "state/state_int.h"

int sx_get(state_exec *x, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  const uint8_t *ov;
  size_t ol;
  if (ov_find(&x->ov, k, kl, &ov, &ol)) {
    if (!ov) return COHORT_ERR_NOT_FOUND;
    *v = malloc(ol ? ol : 1);
    if (!*v) return COHORT_ERR_NOMEM;
    if (ol) memcpy(*v, ov, ol);
    *vl = ol;
    return COHORT_OK;
  }
  return kv_get(x->st->kv, k, kl, v, vl);
}

int sx_put(state_exec *x, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  static const uint8_t empty[1];
  return ov_put(&x->ov, k, kl, v ? v : empty, vl);
}

int sx_del(state_exec *x, const uint8_t *k, size_t kl) { return ov_put(&x->ov, k, kl, NULL, 0); }

ProtobufCMessage *sx_get_msg(state_exec *x, const uint8_t *k, size_t kl,
                             const ProtobufCMessageDescriptor *d, int *rc) {
  uint8_t *v;
  size_t vl;
  *rc = sx_get(x, k, kl, &v, &vl);
  if (*rc == COHORT_ERR_NOT_FOUND) {
    *rc = COHORT_OK;
    return NULL;
  }
  if (*rc) return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, vl, v);
  free(v);
  if (!m) *rc = COHORT_ERR_CORRUPT;
  return m;
}

int sx_put_msg(state_exec *x, const uint8_t *k, size_t kl, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return COHORT_ERR_NOMEM;
  protobuf_c_message_pack(m, b);
  int rc = sx_put(x, k, kl, b, n);
  free(b);
  return rc;
}

/* ---- merged scan ---- */
typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
} item;
typedef struct {
  item *it;
  size_t n, cap;
} items;

static int collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  items *a = ctx;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    item *p = realloc(a->it, cap * sizeof *p);
    if (!p) return COHORT_ERR_NOMEM;
    a->it = p;
    a->cap = cap;
  }
  item *i = &a->it[a->n];
  i->k = malloc(kl ? kl : 1);
  i->v = malloc(vl ? vl : 1);
  if (!i->k || !i->v) {
    free(i->k);
    free(i->v);
    return COHORT_ERR_NOMEM;
  }
  memcpy(i->k, k, kl);
  if (vl) memcpy(i->v, v, vl);
  i->kl = kl;
  i->vl = vl;
  a->n++;
  return 0;
}

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  return c ? c : (al < bl ? -1 : al > bl);
}

int sx_scan(state_exec *x, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx) {
  items a = {0};
  int rc = kv_scan(x->st->kv, prefix, plen, collect, &a);
  /* Overlay entries with the prefix, in order. */
  const ov_node *on = ov_seek(&x->ov, prefix, plen);
  size_t si = 0;
  while (!rc) {
    const uint8_t *ok = NULL, *ovv = NULL;
    size_t okl = 0, ovl = 0;
    if (on) ov_node_get(on, &ok, &okl, &ovv, &ovl);
    int o_ok = on && okl >= plen && !memcmp(ok, prefix, plen);
    int s_ok = si < a.n;
    if (!o_ok && !s_ok) break;
    int c = !o_ok ? 1 : !s_ok ? -1 : keycmp(ok, okl, a.it[si].k, a.it[si].kl);
    if (c <= 0) {
      on = ov_next(on);
      if (c == 0) si++;
      if (ovv) rc = cb(ctx, ok, okl, ovv, ovl);
    } else {
      rc = cb(ctx, a.it[si].k, a.it[si].kl, a.it[si].v, a.it[si].vl);
      si++;
    }
  }
  for (size_t i = 0; i < a.n; i++) {
    free(a.it[i].k);
    free(a.it[i].v);
  }
  free(a.it);
  return rc;
}


/* ---- merged scan without reading the prefix first ---- */
typedef struct {
  const uint8_t *prefix;
  size_t plen;
  const ov_node *on; /* the next overlay entry not yet emitted */
  kv_visit_fn cb;
  void *ctx;
  int rc;
} lazy;

/* Emit the overlay entries before key k (all of them when k is NULL);
 * *same: the overlay has k itself (emitted or deleted: skip the store's). */
static int lazy_emit(lazy *l, const uint8_t *k, size_t kl, int *same) {
  *same = 0;
  while (l->on) {
    const uint8_t *ok, *ov;
    size_t okl, ovl;
    ov_node_get(l->on, &ok, &okl, &ov, &ovl);
    if (okl < l->plen || memcmp(ok, l->prefix, l->plen)) {
      l->on = NULL;
      break;
    }
    int c = k ? keycmp(ok, okl, k, kl) : -1;
    if (c > 0) break;
    l->on = ov_next(l->on);
    if (ov) {
      int r = l->cb(l->ctx, ok, okl, ov, ovl);
      if (r) {
        l->rc = r;
        return 1;
      }
    }
    if (c == 0) {
      *same = 1;
      break;
    }
  }
  return 0;
}

static int lazy_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  lazy *l = ctx;
  int same;
  if (lazy_emit(l, k, kl, &same)) return 1;
  if (same) return 0;
  int r = l->cb(l->ctx, k, kl, v, vl);
  if (r) l->rc = r;
  return r != 0;
}

int sx_scan_lazy(state_exec *x, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx) {
  lazy l = {prefix, plen, ov_seek(&x->ov, prefix, plen), cb, ctx, 0};
  int rc = kv_scan(x->st->kv, prefix, plen, lazy_visit, &l);
  if (l.rc) return l.rc;
  if (rc) return rc;
  int same;
  lazy_emit(&l, NULL, 0, &same);
  return l.rc;
}
