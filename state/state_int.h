/* state/state_int.h — private to state/: the state and overlay structures. */
#ifndef COHORT_STATE_INT_H
#define COHORT_STATE_INT_H

#include "core/bytes.h"
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

/* Undo record: what a key looked like in the overlay before a write. */
typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
  int existed, was_delete;
} ov_undo;

/* A sorted write set over the committed store. While `journaling`, every
 * write is recorded so a failed message can be rolled back. */
typedef struct {
  ov_ent *e;
  size_t n, cap;
  ov_undo *j;
  size_t jn, jcap;
  int journaling;
} overlay;

struct state_exec {
  state *st;
  overlay ov;
  uint64_t height, time_ms;
  uint8_t fee_sink[20]; /* proposer's operator */
  uint8_t proposer[32];
  size_t n_txs;
  int finished;
};

int ov_put(overlay *o, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
/* 1 found (v/vl set; v NULL = deleted), 0 not in overlay. Borrowed pointers. */
int ov_find(const overlay *o, const uint8_t *k, size_t kl, const uint8_t **v,
            size_t *vl);
void ov_free(overlay *o);
/* Start journaling; undo the writes after `mark` (a value of o->jn taken
 * earlier; 0 = since begin) and keep journaling; stop and forget. */
void ov_journal_begin(overlay *o);
int ov_journal_rollback_to(overlay *o, size_t mark);
void ov_journal_end(overlay *o);
/* app_hash over prev || height || the sorted overlay. */
void ov_hash(const overlay *o, const uint8_t prev[32], uint64_t height,
             uint8_t out[32]);

void state_account_key(uint8_t key[22], const uint8_t id[20]);

/* ---- helpers over an executing block's overlay (state_exec.c, state_sx.c) ---- */
int sx_put_account(state_exec *x, const uint8_t id[20], uint64_t crd, uint64_t stk,
                   uint64_t nonce);
int sx_credit(state_exec *x, const uint8_t id[20], int is_stk, uint64_t amt);
/* Read a key through the overlay: 0 (*v malloc'd), COHORT_ERR_NOT_FOUND, or error. */
int sx_get(state_exec *x, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl);
int sx_put(state_exec *x, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
int sx_del(state_exec *x, const uint8_t *k, size_t kl);
/* Visit keys with a prefix, overlay merged over the store, in key order. */
int sx_scan(state_exec *x, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx);
/* Protobuf records through the overlay. sx_get_msg: NULL if absent (rc 0)
 * or on error (*rc set). */
ProtobufCMessage *sx_get_msg(state_exec *x, const uint8_t *k, size_t kl,
                             const ProtobufCMessageDescriptor *d, int *rc);
int sx_put_msg(state_exec *x, const uint8_t *k, size_t kl, const ProtobufCMessage *m);
/* Adjust the recorded supply / escrow totals (checked). */
int sx_supply_sub(state_exec *x, uint64_t crd, uint64_t stk);
int sx_escrow_add(state_exec *x, uint64_t crd);
int sx_escrow_sub(state_exec *x, uint64_t crd);

/* The compute market (state_market.c). */
int sx_exec_market(state_exec *x, const tx_t *tx, state_tx_result *res);
int sx_end_block(state_exec *x);
int state_decode_account(const uint8_t *v, size_t vl, uint64_t *crd,
                         uint64_t *stk, uint64_t *nonce);
int state_encode_account(uint8_t **v, size_t *vl, uint64_t crd, uint64_t stk,
                         uint64_t nonce);
/* Reload cached meta/valset/params from the store. */
int state_reload(state *st, core_errbuf *eb);

#endif
