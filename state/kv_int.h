/* state/kv_int.h — private to state/: the back-end vtable and batch layout. */
#ifndef COHORT_STATE_KV_INT_H
#define COHORT_STATE_KV_INT_H

#include "state/kv.h"

typedef struct {
  uint8_t *k, *v; /* v == NULL: delete */
  size_t kl, vl;
} kv_op;

struct kv_batch {
  kv_op *ops;
  size_t n, cap;
};

typedef struct {
  int (*get)(kv_store *, const uint8_t *, size_t, uint8_t **, size_t *);
  int (*scan)(kv_store *, const uint8_t *, size_t, kv_visit_fn, void *);
  int (*scan_rev)(kv_store *, const uint8_t *, size_t, const uint8_t *, size_t, kv_visit_fn,
                  void *);
  int (*write)(kv_store *, kv_batch *, int, core_errbuf *);
  void (*close)(kv_store *);
} kv_vtbl;

struct kv_store {
  const kv_vtbl *vt;
};

#endif
