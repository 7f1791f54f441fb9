/* state/kv.c — batches and dispatch to the back-end. */
#include <stdlib.h>
#include <string.h>

#include "state/kv_int.h"

kv_batch *kv_batch_new(void) { return calloc(1, sizeof(kv_batch)); }

void kv_batch_del(kv_batch *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    free(b->ops[i].k);
    free(b->ops[i].v);
  }
  free(b->ops);
  free(b);
}

static int push(kv_batch *b, const uint8_t *k, size_t kl, const uint8_t *v,
                size_t vl, int is_put) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    kv_op *p = realloc(b->ops, cap * sizeof *p);
    if (!p) return COHORT_ERR_NOMEM;
    b->ops = p;
    b->cap = cap;
  }
  kv_op *o = &b->ops[b->n];
  o->k = malloc(kl ? kl : 1);
  o->v = is_put ? malloc(vl ? vl : 1) : NULL;
  if (!o->k || (is_put && !o->v)) {
    free(o->k);
    free(o->v);
    return COHORT_ERR_NOMEM;
  }
  memcpy(o->k, k, kl);
  if (is_put && vl) memcpy(o->v, v, vl);
  o->kl = kl;
  o->vl = vl;
  b->n++;
  return COHORT_OK;
}

int kv_batch_put(kv_batch *b, const uint8_t *k, size_t kl, const uint8_t *v,
                 size_t vl) {
  return push(b, k, kl, v, vl, 1);
}
int kv_batch_delete(kv_batch *b, const uint8_t *k, size_t kl) {
  return push(b, k, kl, NULL, 0, 0);
}
size_t kv_batch_count(const kv_batch *b) { return b->n; }

int kv_get(kv_store *kv, const uint8_t *key, size_t klen, uint8_t **val,
           size_t *vlen) {
  return kv->vt->get(kv, key, klen, val, vlen);
}
int kv_scan(kv_store *kv, const uint8_t *prefix, size_t plen, kv_visit_fn cb,
            void *ctx) {
  return kv->vt->scan(kv, prefix, plen, cb, ctx);
}
int kv_scan_rev(kv_store *kv, const uint8_t *prefix, size_t plen, const uint8_t *upto,
                size_t ulen, kv_visit_fn cb, void *ctx) {
  return kv->vt->scan_rev(kv, prefix, plen, upto, ulen, cb, ctx);
}
int kv_write(kv_store *kv, kv_batch *b, int sync, core_errbuf *eb) {
  return kv->vt->write(kv, b, sync, eb);
}
void kv_close(kv_store *kv) {
  if (kv) kv->vt->close(kv);
}
