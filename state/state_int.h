/* state/state_int.h — private to state/: the state and overlay structures. */
#ifndef COHORT_STATE_INT_H
#define COHORT_STATE_INT_H

#include "core/bytes.h"
#include "proto/block.h"
#include "state/state.h"

#define KEY_ACCOUNT 'a'
#define KEY_VALSET "v/set"
#define KEY_PARAMS "p/params"
#define KEY_SUPPLY "s/supply"
#define KEY_META "M/meta"
/* Validator sets and evidence (docs/protocol.md 4b; state/staking/). */
#define KEY_NEXTSET "v/next"   /* V_{h+2}: pubkey, operator, power, moniker */
#define KEY_VALHIST "vh/"      /* + u64be(h) -> V_h where it changed (and h = 1) */
#define KEY_TOMB "vx/"         /* + pubkey32 -> Tombstone (a double sign punished) */
/* Staking records (vl/ vk/ vp/ dl/ dv/ uq/ uv/ ud/ rq/ rv/ rd/): state/staking/staking.h */

struct state {
  kv_store *kv;
  Cohort__ChainMeta *meta;     /* NULL until genesis */
  Cohort__ValidatorSet *vals;  /* cached "v/set": V_{h+1}, signs the next block */
  Cohort__ValidatorSet *next_vals; /* cached "v/next": V_{h+2} */
  Cohort__ValidatorSet *last_vals; /* V_h, signed block h (V_1 at height 0) */
  Cohort__Params *params;      /* cached "p/params" */
};

/* Undo record: what a key looked like in the overlay before a write. */
typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
  int existed, was_delete;
} ov_undo;

/* An ordered write set over the committed store (a skip list, see
 * state_overlay.c). While `journaling`, every write is recorded so a failed
 * message can be rolled back. */
typedef struct ov_node ov_node;
#define OV_MAX_LEVEL 20
typedef struct {
  ov_node *head; /* sentinel, NULL until the first write */
  size_t n;      /* keys in the set (puts and deletes) */
  ov_undo *j;
  size_t jn, jcap;
  int journaling;
} overlay;

struct state_exec {
  state *st;
  overlay ov;
  uint64_t height, time_ms;
  uint8_t proposer[32];
  size_t n_txs;
  int revealed; /* the header's beacon reveal was applied */
  int begun;    /* begin-of-block work (draws) done: no reveal after this */
  int finished;
  /* cost accounting: this block's totals, and the tx being executed */
  uint64_t blk_gas, blk_tasks, blk_vm_kib;
  uint64_t tx_tasks, tx_vm_kib; /* set by the market while a message runs */
  size_t n_evidence;
  /* the block's last commit (state_exec_last_commit): lc_signed[i] = 1 if
   * validator i of V_{h-1} (state_last_validators) signed it. lc_known = 0:
   * not given (height 1, or a caller building blocks by hand): everyone of
   * V_{h-1} counts as having signed. */
  uint8_t *lc_signed;
  size_t lc_n;
  int lc_known;
};

int ov_put(overlay *o, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
/* 1 found (v/vl set; v NULL = deleted), 0 not in overlay. Borrowed pointers. */
int ov_find(const overlay *o, const uint8_t *k, size_t kl, const uint8_t **v,
            size_t *vl);
/* In-order walk: the first entry, the first entry with key >= k, the next
 * one (NULL at the end); an entry's key and value (v NULL = delete). Valid
 * until the next write. */
const ov_node *ov_first(const overlay *o);
const ov_node *ov_seek(const overlay *o, const uint8_t *k, size_t kl);
const ov_node *ov_next(const ov_node *n);
void ov_node_get(const ov_node *n, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl);
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

/* ---- helpers over an executing block's overlay (state_sx.c) ---- */
/* Read a key through the overlay: 0 (*v malloc'd), COHORT_ERR_NOT_FOUND, or error. */
int sx_get(state_exec *x, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl);
int sx_put(state_exec *x, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
int sx_del(state_exec *x, const uint8_t *k, size_t kl);
/* Visit keys with a prefix, overlay merged over the store, in key order. */
int sx_scan(state_exec *x, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx);
/* The same, reading the store as it goes instead of first: what a scan
 * that stops early (the first N of an index) costs is what it visits, not
 * the whole prefix. cb must not write (to the overlay or the store). */
int sx_scan_lazy(state_exec *x, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx);
/* Protobuf records through the overlay. sx_get_msg: NULL if absent (rc 0)
 * or on error (*rc set). */
ProtobufCMessage *sx_get_msg(state_exec *x, const uint8_t *k, size_t kl,
                             const ProtobufCMessageDescriptor *d, int *rc);
int sx_put_msg(state_exec *x, const uint8_t *k, size_t kl, const ProtobufCMessage *m);
/* The compute market (state/market/): a market message, and the block hooks
 * (begin: after the beacon reveal, before the first tx; end: in finish). */
int sx_exec_market(state_exec *x, const tx_t *tx, state_tx_result *res);
int sx_begin_block(state_exec *x);
int sx_end_block(state_exec *x);
/* MsgWithdrawRewards for delegations to executors (docs/staking.md §8):
 * the one to `ex`, or every one of del when ex is NULL. */
int market_withdraw_exec_rewards(state_exec *x, const uint8_t del[20], const uint8_t *ex,
                                 state_tx_result *res);
/* Validator sets and evidence (state/staking/): the last step of the end
 * of block (move the sets on: v/set <- v/next <- P from the power index,
 * history); the checks of one evidence item against x (rules 5-8 of
 * docs/protocol.md 4b, on a decoded item). */
int sk_end_block(state_exec *x);
int sk_check_evidence(state_exec *x, const evidence_t *e, core_errbuf *eb);
/* A set with only pubkey, operator, power and moniker (what v/next and vh/
 * hold), packed: *out malloc'd. */
int sk_pack_stripped(const Cohort__ValidatorSet *vs, uint8_t **out, size_t *len);
/* V_h from the "vh/" history of a store, without the range check of
 * state_validators_at (h >= 1): one reverse seek (kv_scan_rev) to the last
 * record at or below h, whatever the history's length. NOT_FOUND if the
 * history has no record at or below h. */
int sk_validators_at(kv_store *kv, uint64_t h, Cohort__ValidatorSet **out);
int state_decode_account(const uint8_t *v, size_t vl, uint64_t *crd,
                         uint64_t *stk, uint64_t *nonce);
int state_encode_account(uint8_t **v, size_t *vl, uint64_t crd, uint64_t stk,
                         uint64_t nonce);
/* Reload cached meta/valset/params from the store. */
int state_reload(state *st, core_errbuf *eb);
/* The cache a commit will leave, built BEFORE the write (the only step
 * that allocates), then swapped in after it without any failure point: a
 * commit that reached the disk is never reported as failed. */
typedef struct {
  Cohort__ChainMeta *meta;
  Cohort__ValidatorSet *vals, *next_vals, *last_vals;
  Cohort__Params *params;
} state_cache;
int state_cache_prepare(state *st, const overlay *ov, const uint8_t *meta, size_t ml,
                        state_cache *c, core_errbuf *eb);
void state_cache_swap(state *st, state_cache *c);
void state_cache_free(state_cache *c);

#endif
