/* node/node_rpc_staking.c — the staking and distribution methods of
 * cohortd (docs/rpc.md "Staking"): validator_get, validator_list,
 * delegations, rewards, unbondings. They read the committed store by the
 * key layout of docs/staking.md §1 on the RPC thread (node_int.h: the tip
 * comes from nr_view; a block may land between two reads of one call, so
 * an answer may mix two heights — `height` says the earlier). Amounts are
 * decimal strings of base units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/bytes.h"
#include "core/hex.h"
#include "node/node_int.h"

#define state_height(st) use_nr_height_on_the_rpc_thread
#define state_validators(st) use_nr_view_on_the_rpc_thread

#define LIST_MAX 1000

/* params.limit (at pos when positional): 1..LIST_MAX, default 100. */
static int get_limit_only(rpc_call *c, json_t *params, size_t pos, size_t *limit) {
  json_t *l = nr_param(params, "limit", pos);
  *limit = 100;
  if (l && !json_is_null(l)) {
    if (!json_is_integer(l) || json_integer_value(l) < 1 || json_integer_value(l) > LIST_MAX) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.limit must be an integer in [1, 1000]", NULL);
      return -1;
    }
    *limit = (size_t)json_integer_value(l);
  }
  return 0;
}

static int get_limit(rpc_call *c, json_t *params, size_t pos, size_t *limit, size_t *offset) {
  json_t *o = nr_param(params, "offset", pos + 1);
  *offset = 0;
  if (get_limit_only(c, params, pos, limit)) return -1;
  if (o && !json_is_null(o)) {
    if (!json_is_integer(o) || json_integer_value(o) < 0) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.offset must be a non-negative integer", NULL);
      return -1;
    }
    *offset = (size_t)json_integer_value(o);
  }
  return 0;
}

static const char *status_of(const Cohort__ValidatorInfo *v) {
  if (v->tombstoned) return "tombstoned";
  if (v->jailed_until) return "jailed";
  return v->tokens ? "bonded" : "empty";
}

static int in_set(const Cohort__ValidatorSet *vs, const ProtobufCBinaryData *pk) {
  for (size_t i = 0; vs && i < vs->n_validators; i++)
    if (vs->validators[i]->pubkey.len == pk->len &&
        !memcmp(vs->validators[i]->pubkey.data, pk->data, pk->len))
      return 1;
  return 0;
}

/* One validator, as validator_get, validator_list and validators show it.
 * cur: V_{h+1} (may be NULL). */
json_t *nr_validator_json(node *n, const Cohort__ValidatorInfo *v, const Cohort__ValidatorSet *cur) {
  json_t *j = json_object();
  if (!j || v->operator_.len != 20) return j;
  uint64_t self = 0;
  Cohort__Delegation *d;
  if (state_get_delegation(n->st, v->operator_.data, v->operator_.data, &d) == 0) {
    self = state_delegation_value(v, d->shares);
    cohort__delegation__free_unpacked(d, NULL);
  }
  json_object_set_new(j, "operator", nr_addrj(v->operator_.data));
  json_object_set_new(j, "pubkey", nr_hexj(v->pubkey.data, v->pubkey.len));
  json_object_set_new(j, "moniker", json_string(v->moniker ? v->moniker : ""));
  json_object_set_new(j, "status", json_string(status_of(v)));
  json_object_set_new(j, "in_set", json_boolean(in_set(cur, &v->pubkey)));
  json_object_set_new(j, "tokens", nr_amount(v->tokens));
  json_object_set_new(j, "shares", nr_amount(v->shares));
  json_object_set_new(j, "self_bond", nr_amount(self));
  json_object_set_new(j, "commission_bps", json_integer(v->commission_bps));
  json_object_set_new(j, "max_commission_bps", json_integer(v->max_commission_bps));
  json_object_set_new(j, "max_change_bps", json_integer(v->max_change_bps));
  json_object_set_new(j, "commission_height", json_integer((json_int_t)v->commission_height));
  /* an announced change (docs/staking.md §2 "Commission"): in force after
   * block commission_next_at; both null when none is pending */
  json_object_set_new(j, "commission_next_bps", v->commission_next_at
                                                    ? json_integer(v->commission_next_bps)
                                                    : json_null());
  json_object_set_new(j, "commission_next_at", v->commission_next_at
                                                   ? json_integer((json_int_t)v->commission_next_at)
                                                   : json_null());
  json_object_set_new(j, "commission_owed", nr_amount(v->commission_owed));
  json_object_set_new(j, "jailed", json_boolean(v->jailed_until != 0));
  json_object_set_new(j, "jailed_until", v->jailed_until == UINT64_MAX
                                             ? json_null()
                                             : json_integer((json_int_t)v->jailed_until));
  json_object_set_new(j, "tombstoned", json_boolean(v->tombstoned));
  json_object_set_new(j, "missed_blocks", json_integer(v->missed_count));
  json_object_set_new(j, "signing_since", json_integer((json_int_t)v->signing_since));
  json_object_set_new(j, "created_height", json_integer((json_int_t)v->created_height));
  return j;
}

static Cohort__ValidatorSet *current_set(node *n) {
  Cohort__ValidatorSet *vs = NULL;
  if (state_read_validators_at(n->st, nr_height(n) + 1, &vs)) return NULL;
  return vs;
}

/* validator_get {operator | pubkey} */
static void m_validator_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"operator", "pubkey", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *ov = nr_param(params, "operator", 0), *pv = nr_param(params, "pubkey", 1);
  uint8_t op[20];
  if (ov && !json_is_null(ov)) {
    if (nr_get_addr(c, ov, "operator", op)) return;
  } else if (pv && !json_is_null(pv)) {
    uint8_t pk[32];
    if (nr_get_hash(c, pv, "pubkey", pk)) return;
    if (state_validator_by_pubkey(n->st, pk, op)) {
      rpc_call_error(c, RPC_NOT_FOUND, "no validator has that consensus key", NULL);
      return;
    }
  } else {
    rpc_call_error(c, RPC_INVALID_PARAMS, "give params.operator (coh1...) or params.pubkey",
                   NULL);
    return;
  }
  Cohort__ValidatorInfo *v;
  if (state_get_validator_info(n->st, op, &v)) {
    rpc_call_error(c, RPC_NOT_FOUND, "not a validator (no CreateValidator from that account)",
                   NULL);
    return;
  }
  Cohort__ValidatorSet *cur = current_set(n);
  json_t *r = nr_validator_json(n, v, cur);
  if (cur) cohort__validator_set__free_unpacked(cur, NULL);
  cohort__validator_info__free_unpacked(v, NULL);
  json_object_set_new(r, "height", json_integer((json_int_t)nr_height(n)));
  rpc_call_reply(c, r);
}

typedef struct {
  node *n;
  json_t *arr;
  const Cohort__ValidatorSet *cur;
  size_t skip, limit, seen;
  int more;
} list_ctx;

static int list_val(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  list_ctx *l = ctx;
  if (l->seen++ < l->skip) return 0;
  if (json_array_size(l->arr) >= l->limit) {
    l->more = 1;
    return 1;
  }
  Cohort__ValidatorInfo *m = cohort__validator_info__unpack(NULL, vl, v);
  if (!m) return 0;
  json_array_append_new(l->arr, nr_validator_json(l->n, m, l->cur));
  cohort__validator_info__free_unpacked(m, NULL);
  return 0;
}

/* validator_list {limit?, offset?}: every validator ever created, by
 * operator. */
static void m_validator_list(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"limit", "offset", NULL};
  if (nr_check_names(c, params, names)) return;
  size_t limit, offset;
  if (get_limit(c, params, 0, &limit, &offset)) return;
  Cohort__ValidatorSet *cur = current_set(n);
  list_ctx l = {n, json_array(), cur, offset, limit, 0, 0};
  state_scan(n->st, "vl/", list_val, &l);
  if (cur) cohort__validator_set__free_unpacked(cur, NULL);
  rpc_call_reply(c, json_pack("{s:o, s:b, s:I}", "validators", l.arr, "more", l.more, "height",
                              (json_int_t)nr_height(n)));
}

/* ---- delegations ---- */

typedef struct {
  node *n;
  json_t *arr;
  int by_validator;
  const uint8_t *fixed;
  size_t skip, limit, seen;
  int more;
  uint64_t total_value, total_pending;
  /* one entry (delegation_json, or exec_delegation_json for "xd/", "xv/") */
  json_t *(*one)(node *n, const uint8_t del[20], const uint8_t target[20], uint64_t *value,
                 uint64_t *pending);
} del_ctx;

static json_t *delegation_json(node *n, const uint8_t del[20], const uint8_t op[20],
                               uint64_t *value, uint64_t *pending) {
  Cohort__ValidatorInfo *v;
  Cohort__Delegation *d;
  *value = *pending = 0;
  if (state_get_validator_info(n->st, op, &v)) return NULL;
  if (state_get_delegation(n->st, del, op, &d)) {
    cohort__validator_info__free_unpacked(v, NULL);
    return NULL;
  }
  *value = state_delegation_value(v, d->shares);
  (void)state_pending_reward(v, d, pending);
  json_t *j = json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:I}", "delegator", nr_addrj(del),
                        "validator", nr_addrj(op), "moniker", v->moniker ? v->moniker : "",
                        "status", status_of(v), "shares", nr_amount(d->shares), "value",
                        nr_amount(*value), "pending_reward", nr_amount(*pending), "height",
                        (json_int_t)d->height);
  cohort__delegation__free_unpacked(d, NULL);
  cohort__validator_info__free_unpacked(v, NULL);
  return j;
}

static int list_del(void *ctx, const uint8_t *k, size_t kl, const uint8_t *val, size_t vl) {
  (void)val, (void)vl;
  del_ctx *l = ctx;
  if (kl != 43) return 0;
  if (l->seen++ < l->skip) return 0;
  if (json_array_size(l->arr) >= l->limit) {
    l->more = 1;
    return 1;
  }
  const uint8_t *del = l->by_validator ? k + 23 : l->fixed, *op = l->by_validator ? l->fixed : k + 23;
  uint64_t value, pending;
  json_t *j = l->one(l->n, del, op, &value, &pending);
  if (j) {
    json_array_append_new(l->arr, j);
    l->total_value += value;
    l->total_pending += pending;
  }
  return 0;
}

/* ---- delegations to executors (docs/staking.md §8) ---- */

static json_t *exec_delegation_json(node *n, const uint8_t del[20], const uint8_t ex[20],
                                    uint64_t *value, uint64_t *pending) {
  Cohort__Executor *e;
  Cohort__Delegation *d;
  *value = *pending = 0;
  if (state_get_executor(n->st, ex, &e)) return NULL;
  if (state_get_exec_delegation(n->st, del, ex, &d)) {
    cohort__executor__free_unpacked(e, NULL);
    return NULL;
  }
  *value = state_exec_delegation_value(e, d->shares);
  (void)state_exec_pending_reward(e, d, pending);
  json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}", "delegator", nr_addrj(del), "executor",
                        nr_addrj(ex), "shares", nr_amount(d->shares), "value",
                        nr_amount(*value), "pending_reward", nr_amount(*pending), "height",
                        (json_int_t)d->height);
  cohort__delegation__free_unpacked(d, NULL);
  cohort__executor__free_unpacked(e, NULL);
  return j;
}

/* "xw/" + del + ex -> u64be amount, u64be height: {executor, amount, since} */
static int list_waiting(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  json_t *arr = ctx;
  if (kl != 43 || vl != 16) return 0;
  json_array_append_new(arr, json_pack("{s:o, s:o, s:I}", "executor", nr_addrj(k + 23), "amount",
                                       nr_amount(core_get_u64be(v)), "since",
                                       (json_int_t)core_get_u64be(v + 8)));
  return 0;
}

/* delegations {delegator | validator | executor, limit?, offset?}: by
 * delegator, its delegations to validators, and to executors under
 * "executor_delegations" (each list paged alike). */
static void m_delegations(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"delegator", "validator", "limit", "offset", "executor",
                                      NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *dv = nr_param(params, "delegator", 0), *vv = nr_param(params, "validator", 1),
         *ev = nr_param(params, "executor", 4);
  int by_del = dv && !json_is_null(dv), by_val = vv && !json_is_null(vv),
      by_ex = ev && !json_is_null(ev);
  if (by_del + by_val + by_ex != 1) {
    rpc_call_error(c, RPC_INVALID_PARAMS, "give exactly one of params.delegator, "
                   "params.validator and params.executor", NULL);
    return;
  }
  uint8_t id[20];
  const char *what = by_del ? "delegator" : by_val ? "validator" : "executor";
  if (nr_get_addr(c, by_del ? dv : by_val ? vv : ev, what, id)) return;
  size_t limit, offset;
  if (get_limit(c, params, 2, &limit, &offset)) return;
  uint8_t pre[23];
  memcpy(pre + 3, id, 20);
  del_ctx l = {n, json_array(), !by_del, id, offset, limit, 0, 0, 0, 0,
               by_ex ? exec_delegation_json : delegation_json};
  memcpy(pre, by_del ? "dl/" : by_val ? "dv/" : "xv/", 3);
  state_scan_n(n->st, pre, sizeof pre, list_del, &l);
  json_t *r = json_pack("{s:o, s:o, s:o, s:b, s:I}", "delegations", l.arr, "total_value",
                        nr_amount(l.total_value), "total_pending_reward",
                        nr_amount(l.total_pending), "more", l.more, "height",
                        (json_int_t)nr_height(n));
  if (by_del) { /* and to executors */
    del_ctx x = {n, json_array(), 0, id, offset, limit, 0, 0, 0, 0, exec_delegation_json};
    memcpy(pre, "xd/", 3);
    state_scan_n(n->st, pre, sizeof pre, list_del, &x);
    json_object_set_new(r, "executor_delegations", x.arr);
    json_object_set_new(r, "executor_total_value", nr_amount(x.total_value));
    json_object_set_new(r, "executor_total_pending_reward", nr_amount(x.total_pending));
    json_object_set_new(r, "executor_more", json_boolean(x.more));
  }
  if (by_del) { /* and what waits to take effect (staking.md §8), at most max_delegations */
    json_t *w = json_array();
    memcpy(pre, "xw/", 3);
    state_scan_n(n->st, pre, sizeof pre, list_waiting, w);
    json_object_set_new(r, "executor_waiting", w);
  }
  json_object_set_new(r, what, nr_addrj(id));
  rpc_call_reply(c, r);
}

/* rewards {delegator}: what it may withdraw now. */
static void m_rewards(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"delegator", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[20];
  if (nr_get_addr(c, nr_param(params, "delegator", 0), "delegator", id)) return;
  uint8_t pre[23] = "dl/";
  memcpy(pre + 3, id, 20);
  del_ctx l = {n, json_array(), 0, id, 0, LIST_MAX, 0, 0, 0, 0, delegation_json};
  state_scan_n(n->st, pre, sizeof pre, list_del, &l);
  json_t *rw = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(l.arr, i, e) {
    json_array_append_new(rw, json_pack("{s:O, s:O}", "validator", json_object_get(e, "validator"),
                                        "reward", json_object_get(e, "pending_reward")));
  }
  json_decref(l.arr);
  del_ctx xl = {n, json_array(), 0, id, 0, LIST_MAX, 0, 0, 0, 0, exec_delegation_json};
  memcpy(pre, "xd/", 3);
  state_scan_n(n->st, pre, sizeof pre, list_del, &xl);
  json_array_foreach(xl.arr, i, e) {
    json_array_append_new(rw, json_pack("{s:O, s:O}", "executor", json_object_get(e, "executor"),
                                        "reward", json_object_get(e, "pending_reward")));
  }
  json_decref(xl.arr);
  l.total_pending = l.total_pending + xl.total_pending < xl.total_pending
                        ? UINT64_MAX
                        : l.total_pending + xl.total_pending;
  uint64_t comm = 0;
  Cohort__ValidatorInfo *v;
  int op = state_get_validator_info(n->st, id, &v) == 0;
  if (op) {
    comm = v->commission_owed;
    cohort__validator_info__free_unpacked(v, NULL);
  }
  uint64_t total = l.total_pending + comm < comm ? UINT64_MAX : l.total_pending + comm;
  json_t *r = json_pack("{s:o, s:o, s:o, s:o, s:I}", "delegator", nr_addrj(id), "rewards", rw,
                        "commission", op ? nr_amount(comm) : json_null(), "total",
                        nr_amount(total), "height", (json_int_t)nr_height(n));
  rpc_call_reply(c, r);
}

/* ---- unbondings ----
 * One list of a delegator's pending entries, paged by a cursor (docs/rpc.md
 * "unbondings"): its unbondings from validators in "ud/" key order
 * (validator, release), then its redelegations in "rd/" key order (dst,
 * release, src), then its unbondings from executors in "xe/" key order
 * (executor, release, creation). A cursor names the last entry of a page
 * by its index key after the delegator: "u" + hex(op20 rel8), "r" +
 * hex(dst20 rel8 src20) or "x" + hex(ex20 rel8 created8). Entries that
 * mature between two calls are simply gone; none is skipped or repeated. */

#define UB_TAIL 28 /* ud/ + del: op(20) rel(8) */
#define RD_TAIL 48 /* rd/ + del: dst(20) rel(8) src(20) */
#define XE_TAIL 36 /* xe/ + del: ex(20) rel(8) created(8) */

typedef struct {
  node *n;
  json_t *ub, *rd, *xe;
  const uint8_t *del;
  uint64_t total, xtotal;
  size_t limit, listed;
  int after_kind; /* 0 from the start, else 'u', 'r' or 'x' */
  uint8_t after[RD_TAIL];
  int more;
  char last[2 + 2 * RD_TAIL]; /* the cursor of the last entry listed */
} ub_ctx;

/* The order of the three lists; 0 (no cursor) before all. */
static int kind_rank(int kind) { return kind == 'u' ? 1 : kind == 'r' ? 2 : kind == 'x' ? 3 : 0; }

/* 1: skip this entry (at or before the cursor); -1: the page is full (and
 * more is set); 0: list it. */
static int ub_skip_or_full(ub_ctx *u, int kind, const uint8_t *tail, size_t tl) {
  if (u->after_kind && kind_rank(kind) < kind_rank(u->after_kind)) return 1;
  if (u->after_kind == kind && memcmp(tail, u->after, tl) <= 0) return 1;
  if (u->listed >= u->limit) {
    u->more = 1;
    return -1;
  }
  return 0;
}

static void ub_mark(ub_ctx *u, int kind, const uint8_t *tail, size_t tl) {
  u->last[0] = (char)kind;
  core_hex_encode(u->last + 1, tail, tl);
  u->listed++;
}

static int list_ub(void *ctx, const uint8_t *k, size_t kl, const uint8_t *val, size_t vl) {
  (void)val, (void)vl;
  ub_ctx *u = ctx;
  if (kl != 23 + UB_TAIL) return 0;
  int s = ub_skip_or_full(u, 'u', k + 23, UB_TAIL);
  if (s) return s < 0;
  const uint8_t *op = k + 23;
  uint64_t rel = core_get_u64be(k + 43);
  uint8_t qk[52] = "uq/", *v;
  size_t n;
  core_put_u64be(qk + 3, rel);
  qk[11] = 2;
  memcpy(qk + 12, op, 20);
  memcpy(qk + 32, u->del, 20);
  if (state_get_raw(u->n->st, qk, sizeof qk, &v, &n)) return 0;
  Cohort__UnbondingDelegation *e = cohort__unbonding_delegation__unpack(NULL, n, v);
  free(v);
  if (!e) return 0;
  json_array_append_new(u->ub, json_pack("{s:o, s:o, s:o, s:I, s:I}", "validator", nr_addrj(op),
                                         "amount", nr_amount(e->amount), "initial",
                                         nr_amount(e->initial), "height", (json_int_t)e->height,
                                         "release_height", (json_int_t)rel));
  u->total += e->amount;
  ub_mark(u, 'u', k + 23, UB_TAIL);
  cohort__unbonding_delegation__free_unpacked(e, NULL);
  return 0;
}

static int list_rd(void *ctx, const uint8_t *k, size_t kl, const uint8_t *val, size_t vl) {
  (void)val, (void)vl;
  ub_ctx *u = ctx;
  if (kl != 23 + RD_TAIL) return 0;
  int s = ub_skip_or_full(u, 'r', k + 23, RD_TAIL);
  if (s) return s < 0;
  const uint8_t *dst = k + 23, *src = k + 51;
  uint64_t rel = core_get_u64be(k + 43);
  uint8_t qk[71] = "rq/", *v;
  size_t n;
  core_put_u64be(qk + 3, rel);
  memcpy(qk + 11, src, 20);
  memcpy(qk + 31, dst, 20);
  memcpy(qk + 51, u->del, 20);
  if (state_get_raw(u->n->st, qk, sizeof qk, &v, &n)) return 0;
  Cohort__Redelegation *e = cohort__redelegation__unpack(NULL, n, v);
  free(v);
  if (!e) return 0;
  json_array_append_new(u->rd, json_pack("{s:o, s:o, s:o, s:o, s:I, s:I}", "src", nr_addrj(src),
                                         "dst", nr_addrj(dst), "initial", nr_amount(e->initial),
                                         "shares_dst", nr_amount(e->shares_dst), "height",
                                         (json_int_t)e->height, "release_height",
                                         (json_int_t)rel));
  ub_mark(u, 'r', k + 23, RD_TAIL);
  cohort__redelegation__free_unpacked(e, NULL);
  return 0;
}

static int list_xe(void *ctx, const uint8_t *k, size_t kl, const uint8_t *val, size_t vl) {
  (void)val, (void)vl;
  ub_ctx *u = ctx;
  if (kl != 23 + XE_TAIL) return 0;
  int s = ub_skip_or_full(u, 'x', k + 23, XE_TAIL);
  if (s) return s < 0;
  const uint8_t *ex = k + 23;
  uint64_t rel = core_get_u64be(k + 43), created = core_get_u64be(k + 51);
  uint8_t qk[59] = "xq/", *v;
  size_t n;
  core_put_u64be(qk + 3, rel);
  memcpy(qk + 11, ex, 20);
  memcpy(qk + 31, u->del, 20);
  core_put_u64be(qk + 51, created);
  if (state_get_raw(u->n->st, qk, sizeof qk, &v, &n)) return 0;
  Cohort__UnbondingDelegation *e = cohort__unbonding_delegation__unpack(NULL, n, v);
  free(v);
  if (!e) return 0;
  json_array_append_new(u->xe, json_pack("{s:o, s:o, s:o, s:I, s:I}", "executor", nr_addrj(ex),
                                         "amount", nr_amount(e->amount), "initial",
                                         nr_amount(e->initial), "height", (json_int_t)e->height,
                                         "release_height", (json_int_t)rel));
  u->xtotal += e->amount;
  ub_mark(u, 'x', k + 23, XE_TAIL);
  cohort__unbonding_delegation__free_unpacked(e, NULL);
  return 0;
}

/* The cursor of params.after: 0, or an error answered. */
static int get_after(rpc_call *c, json_t *a, ub_ctx *u) {
  if (!a || json_is_null(a)) return 0;
  const char *s = json_string_value(a);
  size_t sl = s ? strlen(s) : 0, got = 0;
  size_t tl = !sl ? 0 : s[0] == 'u' ? UB_TAIL : s[0] == 'r' ? RD_TAIL : s[0] == 'x' ? XE_TAIL : 0;
  if (!tl || sl != 1 + 2 * tl ||
      core_hex_decode(u->after, sizeof u->after, &got, s + 1, sl - 1) || got != tl) {
    rpc_call_error(c, RPC_INVALID_PARAMS, "params.after must be the \"next\" of an earlier "
                   "unbondings answer", NULL);
    return -1;
  }
  u->after_kind = s[0];
  return 0;
}

/* unbondings {delegator, limit?, after?}: its pending unbondings (from
 * validators, and from executors) and redelegations, one page. */
static void m_unbondings(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"delegator", "limit", "after", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[20];
  if (nr_get_addr(c, nr_param(params, "delegator", 0), "delegator", id)) return;
  size_t limit;
  if (get_limit_only(c, params, 1, &limit)) return;
  ub_ctx u;
  memset(&u, 0, sizeof u);
  u.n = n;
  u.del = id;
  u.limit = limit;
  if (get_after(c, nr_param(params, "after", 2), &u)) return;
  u.ub = json_array();
  u.rd = json_array();
  u.xe = json_array();
  uint8_t pre[23] = "ud/";
  memcpy(pre + 3, id, 20);
  if (kind_rank(u.after_kind) <= 1) state_scan_n(n->st, pre, sizeof pre, list_ub, &u);
  memcpy(pre, "rd/", 3);
  if (!u.more && kind_rank(u.after_kind) <= 2) state_scan_n(n->st, pre, sizeof pre, list_rd, &u);
  memcpy(pre, "xe/", 3);
  if (!u.more) state_scan_n(n->st, pre, sizeof pre, list_xe, &u);
  json_t *r = json_pack("{s:o, s:o, s:o, s:o, s:I}", "delegator", nr_addrj(id), "unbondings",
                        u.ub, "total", nr_amount(u.total), "redelegations", u.rd, "height",
                        (json_int_t)nr_height(n));
  json_object_set_new(r, "executor_unbondings", u.xe);
  json_object_set_new(r, "executor_total", nr_amount(u.xtotal));
  json_object_set_new(r, "next", u.more ? json_string(u.last) : json_null());
  rpc_call_reply(c, r);
}

const rpc_method node_rpc_staking_methods[] = {
    {"validator_get", m_validator_get, 2},   {"validator_list", m_validator_list, 10},
    {"delegations", m_delegations, 10},      {"rewards", m_rewards, 10},
    {"unbondings", m_unbondings, 10},
};
const size_t node_rpc_staking_n_methods =
    sizeof node_rpc_staking_methods / sizeof node_rpc_staking_methods[0];
