/* state/state_int.h — private to state/: the state and overlay structures. */
#ifndef COHORT_STATE_INT_H
#define COHORT_STATE_INT_H

#include "state/state.h"

#define KEY_ACCOUNT 'a'
#define KEY_VALSET "v/set"
#define KEY_PARAMS "p/params"
#define KEY_SUPPLY "s/supply"
#define KEY_META "M/meta"

struct state {
  kv_store *kv;
  Cohort__ChainMeta *meta;     /* NULL until genesis */
  Cohort__ValidatorSet *vals;  /* cached "v/set" */
  Cohort__Params *params;      /* cached "p/params" */
};

/* One write in an overlay. v == NULL marks a delete. */
typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
} ov_ent;

/* A sorted write set over the committed store. */
typedef struct {
  ov_ent *e;
  size_t n, cap;
} overlay;

struct state_exec {
  state *st;
  overlay ov;
  uint64_t height, time_ms;
  uint8_t fee_sink[20]; /* proposer's operator */
  size_t n_txs;
  int finished;
};

int ov_put(overlay *o, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
/* 1 found (v/vl set; v NULL = deleted), 0 not in overlay. Borrowed pointers. */
int ov_find(const overlay *o, const uint8_t *k, size_t kl, const uint8_t **v,
            size_t *vl);
void ov_free(overlay *o);
/* app_hash over prev || height || the sorted overlay. */
void ov_hash(const overlay *o, const uint8_t prev[32], uint64_t height,
             uint8_t out[32]);

void state_account_key(uint8_t key[22], const uint8_t id[20]);
int state_decode_account(const uint8_t *v, size_t vl, uint64_t *crd,
                         uint64_t *stk, uint64_t *nonce);
int state_encode_account(uint8_t **v, size_t *vl, uint64_t crd, uint64_t stk,
                         uint64_t nonce);
/* Reload cached meta/valset/params from the store. */
int state_reload(state *st, core_errbuf *eb);

#endif
