/* state/market/market_common.c — keys, records, timeline events, the beacon
 * and the deadline index, shared by the market's files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/market/market_int.h"

const Cohort__Params *mk_params(state_exec *x) { return x->st->params; }

int mk_fail(state_tx_result *res, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->log, sizeof res->log, fmt, ap);
  va_end(ap);
  res->code = code;
  return COHORT_OK; /* a failed message, not a failed block */
}

size_t mk_key(uint8_t *k, char prefix, const uint8_t *id, size_t n) {
  k[0] = (uint8_t)prefix;
  k[1] = '/';
  memcpy(k + 2, id, n);
  return 2 + n;
}

Cohort__Executor *mk_get_exec(state_exec *x, const uint8_t id[20], int *rc) {
  uint8_t k[22];
  mk_key(k, 'e', id, 20);
  return (Cohort__Executor *)sx_get_msg(x, k, 22, &cohort__executor__descriptor, rc);
}

int mk_put_exec(state_exec *x, const uint8_t id[20], const Cohort__Executor *e) {
  uint8_t k[22];
  mk_key(k, 'e', id, 20);
  return sx_put_msg(x, k, 22, &e->base);
}

Cohort__Task *mk_get_task(state_exec *x, const uint8_t id[32], int *rc) {
  uint8_t k[34];
  mk_key(k, 't', id, 32);
  return (Cohort__Task *)sx_get_msg(x, k, 34, &cohort__task__descriptor, rc);
}

int mk_put_task(state_exec *x, const uint8_t id[32], const Cohort__Task *t) {
  uint8_t k[34];
  mk_key(k, 't', id, 32);
  return sx_put_msg(x, k, 34, &t->base);
}

Cohort__Blob *mk_get_blob(state_exec *x, const uint8_t h[32], int *rc) {
  uint8_t k[34];
  mk_key(k, 'b', h, 32);
  return (Cohort__Blob *)sx_get_msg(x, k, 34, &cohort__blob__descriptor, rc);
}

int mk_set_bytes(ProtobufCBinaryData *b, const void *d, size_t n) {
  uint8_t *p = NULL;
  if (n) {
    p = malloc(n);
    if (!p) return COHORT_ERR_NOMEM;
    memcpy(p, d, n);
  }
  free(b->data);
  b->data = p;
  b->len = n;
  return COHORT_OK;
}

int mk_event(Cohort__Task *t, uint64_t h, uint32_t code, const uint8_t *executor, uint64_t a,
             uint64_t b, const uint8_t *hash32) {
  Cohort__TaskEvent *e = malloc(sizeof *e);
  if (!e) return COHORT_ERR_NOMEM;
  cohort__task_event__init(e);
  e->height = h;
  e->code = code;
  e->a = a;
  e->b = b;
  if ((executor && mk_set_bytes(&e->executor, executor, 20)) ||
      (hash32 && mk_set_bytes(&e->hash, hash32, 32))) {
    cohort__task_event__free_unpacked(e, NULL);
    return COHORT_ERR_NOMEM;
  }
  if (t->n_timeline == TIMELINE_MAX) { /* keep the last TIMELINE_MAX */
    cohort__task_event__free_unpacked(t->timeline[0], NULL);
    memmove(t->timeline, t->timeline + 1, (TIMELINE_MAX - 1) * sizeof *t->timeline);
    t->n_timeline--;
  }
  Cohort__TaskEvent **arr = realloc(t->timeline, (t->n_timeline + 1) * sizeof *arr);
  if (!arr) {
    cohort__task_event__free_unpacked(e, NULL);
    return COHORT_ERR_NOMEM;
  }
  t->timeline = arr;
  t->timeline[t->n_timeline++] = e;
  return COHORT_OK;
}

int mk_beacon(state_exec *x, uint8_t out[32]) {
  uint8_t *v;
  size_t vl;
  int rc = sx_get(x, (const uint8_t *)"r/beacon", 8, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) {
    memset(out, 0, 32); /* no reveal yet */
    return COHORT_OK;
  }
  if (rc) return rc;
  if (vl != 32) {
    free(v);
    return COHORT_ERR_CORRUPT;
  }
  memcpy(out, v, 32);
  free(v);
  return COHORT_OK;
}

int mk_idlist_push(mk_idlist *l, const uint8_t id[32]) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *p = realloc(l->ids, cap * 32);
    if (!p) return COHORT_ERR_NOMEM;
    l->ids = p;
    l->cap = cap;
  }
  memcpy(l->ids[l->n++], id, 32);
  return COHORT_OK;
}

static int collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  if (kl != DL_KEY_LEN) return COHORT_ERR_CORRUPT;
  return mk_idlist_push(ctx, k + 11);
}

int mk_due(state_exec *x, uint64_t h, uint8_t kind, mk_idlist *out) {
  uint8_t pre[11] = {'d', '/', kind};
  core_put_u64be(pre + 3, h);
  memset(out, 0, sizeof *out);
  return sx_scan(x, pre, sizeof pre, collect, out);
}
