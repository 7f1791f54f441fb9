/* state/state.c — opening the state, genesis, metadata and committed reads. */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "proto/pbutil.h"
#include "state/distr/distr.h"
#include "state/staking/staking.h"
#include "state/state_int.h"

#define META_MAX 4096
#define VALSET_MAX (1u << 20)

void state_account_key(uint8_t key[22], const uint8_t id[20]) {
  key[0] = KEY_ACCOUNT;
  key[1] = '/';
  memcpy(key + 2, id, 20);
}

int state_decode_account(const uint8_t *v, size_t vl, uint64_t *crd,
                         uint64_t *stk, uint64_t *nonce) {
  Cohort__Account *a = cohort__account__unpack(NULL, vl, v);
  if (!a) return COHORT_ERR_CORRUPT;
  *crd = a->crd;
  *stk = a->stk;
  if (nonce) *nonce = a->nonce;
  cohort__account__free_unpacked(a, NULL);
  return COHORT_OK;
}

int state_decode_account_pub(const uint8_t *v, size_t vl, uint64_t *crd,
                             uint64_t *stk, uint64_t *nonce) {
  return state_decode_account(v, vl, crd, stk, nonce);
}

int state_encode_account(uint8_t **v, size_t *vl, uint64_t crd, uint64_t stk,
                         uint64_t nonce) {
  Cohort__Account a = COHORT__ACCOUNT__INIT;
  a.crd = crd;
  a.stk = stk;
  a.nonce = nonce;
  size_t n = cohort__account__get_packed_size(&a);
  *v = malloc(n ? n : 1);
  if (!*v) return COHORT_ERR_NOMEM;
  cohort__account__pack(&a, *v);
  *vl = n;
  return COHORT_OK;
}

static int get_str(state *st, const char *key, uint8_t **v, size_t *vl) {
  return kv_get(st->kv, (const uint8_t *)key, strlen(key), v, vl);
}

int state_reload(state *st, core_errbuf *eb) {
  uint8_t *v;
  size_t vl;
  int rc = get_str(st, KEY_META, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return core_errf(eb, rc, "cannot read chain metadata: %s", core_err_str(rc));
  Cohort__ChainMeta *m = vl <= META_MAX ? cohort__chain_meta__unpack(NULL, vl, v) : NULL;
  free(v);
  if (!m || m->app_hash.len != 32 || m->last_block_hash.len != 32 || !m->chain_id) {
    if (m) cohort__chain_meta__free_unpacked(m, NULL);
    return core_errf(eb, COHORT_ERR_CORRUPT, "chain metadata (M/meta) is corrupt");
  }
  if ((rc = get_str(st, KEY_VALSET, &v, &vl))) {
    cohort__chain_meta__free_unpacked(m, NULL);
    return core_errf(eb, COHORT_ERR_CORRUPT, "validator set (v/set) is missing");
  }
  Cohort__ValidatorSet *vs = vl <= VALSET_MAX ? cohort__validator_set__unpack(NULL, vl, v) : NULL;
  free(v);
  if ((rc = get_str(st, KEY_PARAMS, &v, &vl))) {
    cohort__chain_meta__free_unpacked(m, NULL);
    if (vs) cohort__validator_set__free_unpacked(vs, NULL);
    return core_errf(eb, COHORT_ERR_CORRUPT, "params (p/params) are missing");
  }
  Cohort__Params *p = cohort__params__unpack(NULL, vl, v);
  free(v);
  Cohort__ValidatorSet *nx = NULL, *last = NULL;
  if ((rc = get_str(st, KEY_NEXTSET, &v, &vl)) == COHORT_OK) {
    nx = vl <= VALSET_MAX ? cohort__validator_set__unpack(NULL, vl, v) : NULL;
    free(v);
  }
  /* V_h from the history (at height 0 there is no V_0: "last" is then V_1,
   * the current set, see state_last_validators) */
  int lrc = m->height > 0 ? sk_validators_at(st->kv, m->height, &last) : COHORT_OK;
  if (!vs || !p || !nx || vs->n_validators == 0 || nx->n_validators == 0 || lrc) {
    cohort__chain_meta__free_unpacked(m, NULL);
    if (vs) cohort__validator_set__free_unpacked(vs, NULL);
    if (nx) cohort__validator_set__free_unpacked(nx, NULL);
    if (last) cohort__validator_set__free_unpacked(last, NULL);
    if (p) cohort__params__free_unpacked(p, NULL);
    if (core_err_is_fatal(lrc) && lrc != COHORT_ERR_CORRUPT)
      return core_errf(eb, lrc, "cannot read the validator set history: %s", core_err_str(lrc));
    return core_errf(eb, COHORT_ERR_CORRUPT, "validator sets (v/set, v/next, vh/) or params "
                     "are missing or corrupt (a store from before issue 8 must be re-initialised)");
  }
  if (st->meta) cohort__chain_meta__free_unpacked(st->meta, NULL);
  if (st->vals) cohort__validator_set__free_unpacked(st->vals, NULL);
  if (st->next_vals) cohort__validator_set__free_unpacked(st->next_vals, NULL);
  if (st->last_vals) cohort__validator_set__free_unpacked(st->last_vals, NULL);
  if (st->params) cohort__params__free_unpacked(st->params, NULL);
  st->meta = m;
  st->vals = vs;
  st->next_vals = nx;
  st->last_vals = last;
  st->params = p;
  return COHORT_OK;
}

/* A record as the commit will leave it: from the overlay if it writes it,
 * else as stored. */
static int latest(state *st, const overlay *ov, const char *key, uint8_t **v, size_t *vl) {
  const uint8_t *ovv;
  size_t ol;
  if (ov && ov_find(ov, (const uint8_t *)key, strlen(key), &ovv, &ol)) {
    if (!ovv) return COHORT_ERR_CORRUPT; /* these records are never deleted */
    *v = malloc(ol ? ol : 1);
    if (!*v) return COHORT_ERR_NOMEM;
    if (ol) memcpy(*v, ovv, ol);
    *vl = ol;
    return COHORT_OK;
  }
  return get_str(st, key, v, vl);
}

int state_cache_prepare(state *st, const overlay *ov, const uint8_t *mb, size_t ml,
                        state_cache *c, core_errbuf *eb) {
  memset(c, 0, sizeof *c);
  uint8_t *v;
  size_t vl;
  int rc;
  c->meta = cohort__chain_meta__unpack(NULL, ml, mb);
  if (!c->meta) return COHORT_ERR_NOMEM;
  if ((rc = latest(st, ov, KEY_VALSET, &v, &vl))) goto fail;
  c->vals = cohort__validator_set__unpack(NULL, vl, v);
  free(v);
  if (!c->vals) {
    rc = COHORT_ERR_NOMEM;
    goto fail;
  }
  if ((rc = latest(st, ov, KEY_PARAMS, &v, &vl))) goto fail;
  c->params = cohort__params__unpack(NULL, vl, v);
  free(v);
  if (!c->params) {
    rc = COHORT_ERR_NOMEM;
    goto fail;
  }
  if ((rc = latest(st, ov, KEY_NEXTSET, &v, &vl))) goto fail;
  c->next_vals = cohort__validator_set__unpack(NULL, vl, v);
  free(v);
  if (!c->next_vals) {
    rc = COHORT_ERR_NOMEM;
    goto fail;
  }
  /* The set that signed the block being committed is the one stored now. */
  if ((rc = get_str(st, KEY_VALSET, &v, &vl))) goto fail;
  c->last_vals = cohort__validator_set__unpack(NULL, vl, v);
  free(v);
  if (!c->last_vals) {
    rc = COHORT_ERR_NOMEM;
    goto fail;
  }
  return COHORT_OK;
fail:
  state_cache_free(c);
  return core_errf(eb, rc, "cannot prepare the state cache: %s", core_err_str(rc));
}

void state_cache_free(state_cache *c) {
  if (c->meta) cohort__chain_meta__free_unpacked(c->meta, NULL);
  if (c->vals) cohort__validator_set__free_unpacked(c->vals, NULL);
  if (c->next_vals) cohort__validator_set__free_unpacked(c->next_vals, NULL);
  if (c->last_vals) cohort__validator_set__free_unpacked(c->last_vals, NULL);
  if (c->params) cohort__params__free_unpacked(c->params, NULL);
  memset(c, 0, sizeof *c);
}

void state_cache_swap(state *st, state_cache *c) {
  state_cache old = {st->meta, st->vals, st->next_vals, st->last_vals, st->params};
  st->meta = c->meta;
  st->vals = c->vals;
  st->next_vals = c->next_vals;
  st->last_vals = c->last_vals;
  st->params = c->params;
  memset(c, 0, sizeof *c);
  state_cache_free(&old);
}

int state_open(state **out, kv_store *kv, core_errbuf *eb) {
  state *st = calloc(1, sizeof *st);
  if (!st) return COHORT_ERR_NOMEM;
  st->kv = kv;
  int rc = state_reload(st, eb);
  if (rc) {
    state_close(st);
    return rc;
  }
  *out = st;
  return COHORT_OK;
}

void state_close(state *st) {
  if (!st) return;
  if (st->meta) cohort__chain_meta__free_unpacked(st->meta, NULL);
  if (st->vals) cohort__validator_set__free_unpacked(st->vals, NULL);
  if (st->next_vals) cohort__validator_set__free_unpacked(st->next_vals, NULL);
  if (st->last_vals) cohort__validator_set__free_unpacked(st->last_vals, NULL);
  if (st->params) cohort__params__free_unpacked(st->params, NULL);
  free(st);
}

int state_is_initialized(const state *st) { return st->meta != NULL; }
const char *state_chain_id(const state *st) { return st->meta->chain_id; }
uint64_t state_height(const state *st) { return st->meta->height; }
const uint8_t *state_app_hash(const state *st) { return st->meta->app_hash.data; }
const uint8_t *state_last_block_hash(const state *st) {
  return st->meta->last_block_hash.data;
}
const uint8_t *state_genesis_hash(const state *st) {
  return st->meta->genesis_hash.data;
}
uint64_t state_last_time_ms(const state *st) { return st->meta->last_time_ms; }
const Cohort__ValidatorSet *state_validators(const state *st) { return st->vals; }
const Cohort__ValidatorSet *state_next_validators(const state *st) { return st->next_vals; }
const Cohort__ValidatorSet *state_last_validators(const state *st) {
  return st->last_vals ? st->last_vals : st->vals;
}
const Cohort__Params *state_params(const state *st) { return st->params; }

static int put_msg(overlay *o, const char *key, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return COHORT_ERR_NOMEM;
  protobuf_c_message_pack(m, b);
  int rc = ov_put(o, (const uint8_t *)key, strlen(key), b, n);
  free(b);
  return rc;
}

static int add_account(overlay *o, const uint8_t id[20], uint64_t crd, uint64_t stk) {
  uint8_t key[22], *v;
  size_t vl;
  state_account_key(key, id);
  const uint8_t *old;
  size_t ol;
  uint64_t c = 0, s = 0;
  if (ov_find(o, key, 22, &old, &ol) && old &&
      state_decode_account(old, ol, &c, &s, NULL))
    return COHORT_ERR_CORRUPT;
  if (core_add_u64(&c, c, crd) || core_add_u64(&s, s, stk)) return COHORT_ERR_OVERFLOW;
  int rc = state_encode_account(&v, &vl, c, s, 0);
  if (rc) return rc;
  rc = ov_put(o, key, 22, v, vl);
  free(v);
  return rc;
}

int state_init_genesis(state *st, const genesis *g, core_errbuf *eb) {
  if (st->meta) {
    if (st->meta->genesis_hash.len != 32 || memcmp(st->meta->genesis_hash.data, g->hash, 32))
      return core_errf(eb, COHORT_ERR_GENESIS,
                       "the data directory holds chain \"%s\" from a different genesis "
                       "file; use the original genesis.json or a fresh home",
                       st->meta->chain_id);
    return COHORT_OK;
  }
  overlay o = {0};
  int rc = COHORT_OK;
  uint64_t sup_crd = 0, sup_stk = 0;
  for (size_t i = 0; i < g->n_accounts && !rc; i++) {
    rc = add_account(&o, g->accounts[i].id, g->accounts[i].crd, g->accounts[i].stk);
    if (!rc && (core_add_u64(&sup_crd, sup_crd, g->accounts[i].crd) ||
                core_add_u64(&sup_stk, sup_stk, g->accounts[i].stk)))
      rc = COHORT_ERR_OVERFLOW;
  }
  Cohort__ValidatorSet vs = COHORT__VALIDATOR_SET__INIT;
  Cohort__Validator *vv = calloc(g->n_validators, sizeof *vv);
  Cohort__Validator **vp = calloc(g->n_validators, sizeof *vp);
  if (!vv || !vp) rc = COHORT_ERR_NOMEM;
  for (size_t i = 0; i < g->n_validators && !rc; i++) {
    cohort__validator__init(&vv[i]);
    vv[i].pubkey.data = (uint8_t *)g->validators[i].pubkey;
    vv[i].pubkey.len = 32;
    vv[i].operator_.data = (uint8_t *)g->validators[i].operator_id;
    vv[i].operator_.len = 20;
    vv[i].power = g->validators[i].power;
    vv[i].moniker = (char *)g->validators[i].moniker;
    if (g->validators[i].has_beacon)
      vv[i].beacon_tip = (ProtobufCBinaryData){32, (uint8_t *)g->validators[i].beacon_commit};
    vp[i] = &vv[i];
    if (core_add_u64(&sup_stk, sup_stk, g->validators[i].power)) rc = COHORT_ERR_OVERFLOW;
  }
  vs.n_validators = g->n_validators;
  vs.validators = vp;
  if (!rc) rc = put_msg(&o, KEY_VALSET, &vs.base);
  /* the staking records (docs/staking.md §1 "Genesis"): written through a
   * block-less exec over the same overlay (the store is empty) */
  if (!rc) {
    state_exec gx;
    memset(&gx, 0, sizeof gx);
    gx.st = st;
    gx.ov = o;
    for (size_t i = 0; i < g->n_validators && !rc; i++) {
      const genesis_validator *gv = &g->validators[i];
      rc = sk_genesis_validator(&gx, gv);
    }
    o = gx.ov;
  }
  /* V_2 = V_1 ("v/next"), and the history's first record, V_1 */
  uint8_t *sb = NULL, hk[11] = "vh/";
  size_t sl = 0;
  core_put_u64be(hk + 3, 1);
  if (!rc) rc = sk_pack_stripped(&vs, &sb, &sl);
  if (!rc) rc = ov_put(&o, (const uint8_t *)KEY_NEXTSET, strlen(KEY_NEXTSET), sb, sl);
  if (!rc) rc = ov_put(&o, hk, sizeof hk, sb, sl);
  free(sb);
  free(vp);
  free(vv);
  Cohort__Params p = COHORT__PARAMS__INIT;
  genesis_params_to_proto(&g->params, &p); /* every row is a Params field of the same name */
  if (!rc) rc = put_msg(&o, KEY_PARAMS, &p.base);
  Cohort__Account sup = COHORT__ACCOUNT__INIT;
  sup.crd = sup_crd;
  sup.stk = sup_stk;
  if (!rc) rc = put_msg(&o, KEY_SUPPLY, &sup.base);
  if (rc) {
    ov_free(&o);
    return core_errf(eb, rc, "cannot build genesis state: %s", core_err_str(rc));
  }
  uint8_t zero[32] = {0}, app[32];
  ov_hash(&o, zero, 0, app);
  Cohort__ChainMeta m = COHORT__CHAIN_META__INIT;
  m.chain_id = (char *)g->chain_id;
  m.height = 0;
  m.app_hash.data = app;
  m.app_hash.len = 32;
  m.last_block_hash.data = zero;
  m.last_block_hash.len = 32;
  m.last_time_ms = g->time_ms;
  m.genesis_hash.data = (uint8_t *)g->hash;
  m.genesis_hash.len = 32;
  kv_batch *b = kv_batch_new();
  if (!b) rc = COHORT_ERR_NOMEM;
  for (const ov_node *e = ov_first(&o); !rc && e; e = ov_next(e)) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    rc = kv_batch_put(b, k, kl, v, vl);
  }
  size_t ml = cohort__chain_meta__get_packed_size(&m);
  uint8_t mb[META_MAX];
  cohort__chain_meta__pack(&m, mb);
  if (!rc) rc = kv_batch_put(b, (const uint8_t *)KEY_META, strlen(KEY_META), mb, ml);
  if (!rc) rc = kv_write(st->kv, b, 1, eb);
  kv_batch_del(b);
  ov_free(&o);
  if (rc) return rc;
  return state_reload(st, eb);
}

int state_get_account(state *st, const uint8_t id[20], uint64_t *crd,
                      uint64_t *stk, uint64_t *nonce) {
  uint8_t key[22], *v;
  size_t vl;
  state_account_key(key, id);
  *crd = *stk = *nonce = 0;
  int rc = kv_get(st->kv, key, 22, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  rc = state_decode_account(v, vl, crd, stk, nonce);
  free(v);
  return rc;
}

int state_get_supply(state *st, uint64_t *crd, uint64_t *stk) {
  uint8_t *v;
  size_t vl;
  int rc = get_str(st, KEY_SUPPLY, &v, &vl);
  if (rc) return rc;
  rc = state_decode_account(v, vl, crd, stk, NULL);
  free(v);
  return rc;
}

static int get_h(state *st, char prefix, uint64_t h, uint8_t **b, size_t *len) {
  uint8_t key[10] = {(uint8_t)prefix, '/'};
  core_put_u64be(key + 2, h);
  return kv_get(st->kv, key, sizeof key, b, len);
}

int state_get_block(state *st, uint64_t height, uint8_t **b, size_t *len) {
  return get_h(st, 'B', height, b, len);
}

int state_get_commit(state *st, uint64_t height, uint8_t **b, size_t *len) {
  return get_h(st, 'C', height, b, len);
}

int state_height_by_hash(state *st, const uint8_t hash[32], uint64_t *height) {
  uint8_t key[34] = {'H', '/'}, *v;
  size_t vl;
  memcpy(key + 2, hash, 32);
  int rc = kv_get(st->kv, key, sizeof key, &v, &vl);
  if (rc) return rc;
  if (vl != 8) {
    free(v);
    return COHORT_ERR_CORRUPT;
  }
  *height = core_get_u64be(v);
  free(v);
  return COHORT_OK;
}

int state_get_tx_result(state *st, const uint8_t txhash[32],
                        Cohort__TxResult **res) {
  uint8_t key[34] = {'T', '/'}, *v;
  size_t vl;
  memcpy(key + 2, txhash, 32);
  int rc = kv_get(st->kv, key, sizeof key, &v, &vl);
  if (rc) return rc;
  *res = cohort__tx_result__unpack(NULL, vl, v);
  free(v);
  return *res ? COHORT_OK : COHORT_ERR_CORRUPT;
}

/* ---- compute market reads ---- */
static int get_msg(state *st, char prefix, const uint8_t *id, size_t n,
                   const ProtobufCMessageDescriptor *d, ProtobufCMessage **out) {
  uint8_t k[2 + 64], *v;
  size_t vl;
  k[0] = (uint8_t)prefix;
  k[1] = '/';
  memcpy(k + 2, id, n);
  int rc = kv_get(st->kv, k, 2 + n, &v, &vl);
  if (rc) return rc;
  *out = protobuf_c_message_unpack(d, NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_get_executor(state *st, const uint8_t id[20], Cohort__Executor **out) {
  return get_msg(st, 'e', id, 20, &cohort__executor__descriptor, (ProtobufCMessage **)out);
}
int state_get_blob(state *st, const uint8_t hash[32], Cohort__Blob **out) {
  return get_msg(st, 'b', hash, 32, &cohort__blob__descriptor, (ProtobufCMessage **)out);
}
int state_get_task(state *st, const uint8_t task_id[32], Cohort__Task **out) {
  return get_msg(st, 't', task_id, 32, &cohort__task__descriptor, (ProtobufCMessage **)out);
}

int state_get_output(state *st, const uint8_t task_id[32], const uint8_t output_hash[32],
                     uint8_t **out, size_t *len) {
  uint8_t k[66] = {'o', '/'};
  memcpy(k + 2, task_id, 32);
  memcpy(k + 34, output_hash, 32);
  return kv_get(st->kv, k, sizeof k, out, len);
}

int state_get_task_input(state *st, const uint8_t task_id[32], uint8_t **out, size_t *len) {
  uint8_t k[34] = {'i', '/'};
  memcpy(k + 2, task_id, 32);
  return kv_get(st->kv, k, sizeof k, out, len);
}

int state_get_escrow(state *st, uint64_t *crd) {
  uint8_t *v;
  size_t vl;
  uint64_t stk;
  *crd = 0;
  int rc = get_str(st, "s/escrow", &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  rc = state_decode_account(v, vl, crd, &stk, NULL);
  free(v);
  return rc;
}

int state_get_beacon(state *st, uint8_t out[32]) {
  uint8_t *v;
  size_t vl;
  memset(out, 0, 32);
  int rc = get_str(st, "r/beacon", &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  if (vl == 32) memcpy(out, v, 32);
  free(v);
  return vl == 32 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

static int stop_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)ctx, (void)k, (void)kl, (void)v, (void)vl;
  return 1;
}

int state_has_scheduled_work(state *st) {
  /* Draws and windows need blocks to come; prunes can wait for them. */
  return kv_scan(st->kv, (const uint8_t *)"d/\x01", 3, stop_first, NULL) == 1 ||
         kv_scan(st->kv, (const uint8_t *)"d/\x02", 3, stop_first, NULL) == 1 ||
         kv_scan(st->kv, (const uint8_t *)"d/\x04", 3, stop_first, NULL) == 1 ||
         kv_scan(st->kv, (const uint8_t *)"u/", 2, stop_first, NULL) == 1 ||
         kv_scan(st->kv, (const uint8_t *)SK_UBQ, 3, stop_first, NULL) == 1 ||
         kv_scan(st->kv, (const uint8_t *)"xq/", 3, stop_first, NULL) == 1 || /* to executors */
         kv_scan(st->kv, (const uint8_t *)"gq/", 3, stop_first, NULL) == 1; /* governance */
}

int state_scan(state *st, const char *prefix, kv_visit_fn cb, void *ctx) {
  return kv_scan(st->kv, (const uint8_t *)prefix, strlen(prefix), cb, ctx);
}

int state_get_raw(state *st, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  return kv_get(st->kv, k, kl, v, vl);
}

int state_scan_n(state *st, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx) {
  return kv_scan(st->kv, prefix, plen, cb, ctx);
}

int state_get_job(state *st, const uint8_t job_id[32], Cohort__Job **out) {
  return get_msg(st, 'j', job_id, 32, &cohort__job__descriptor, (ProtobufCMessage **)out);
}

/* ---- staking reads ---- */

int state_get_validator_info(state *st, const uint8_t op[20], Cohort__ValidatorInfo **out) {
  uint8_t k[SK_VAL_KEY], *v;
  size_t vl;
  *out = NULL;
  sk_val_key(k, op);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  *out = cohort__validator_info__unpack(NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_validator_by_pubkey(state *st, const uint8_t pubkey[32], uint8_t op[20]) {
  uint8_t k[35] = SK_KEY, *v;
  size_t vl;
  memcpy(k + 3, pubkey, 32);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  if (vl == 20) memcpy(op, v, 20);
  free(v);
  return vl == 20 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_get_delegation(state *st, const uint8_t del[20], const uint8_t op[20],
                         Cohort__Delegation **out) {
  uint8_t k[SK_DEL_KEY], *v;
  size_t vl;
  *out = NULL;
  sk_del_key(k, del, op);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  *out = cohort__delegation__unpack(NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

uint64_t state_delegation_value(const Cohort__ValidatorInfo *v, uint64_t shares) {
  if (v->shares == 0) return 0;
  unsigned __int128 t = (unsigned __int128)shares * v->tokens / v->shares;
  return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

int state_pending_reward(const Cohort__ValidatorInfo *v, const Cohort__Delegation *d,
                         uint64_t *out) {
  sk_validator sv;
  sk_delegation sd;
  *out = 0;
  memset(&sv, 0, sizeof sv);
  sd.shares = d->shares;
  if (sk_u128_get(&v->reward_acc, &sv.reward_acc) || sk_u128_get(&d->reward_start, &sd.reward_start))
    return COHORT_ERR_CORRUPT;
  return distr_pending(&sv, &sd, out);
}

int state_get_exec_delegation(state *st, const uint8_t del[20], const uint8_t ex[20],
                              Cohort__Delegation **out) {
  uint8_t k[43] = {'x', 'd', '/'}, *v;
  size_t vl;
  *out = NULL;
  memcpy(k + 3, del, 20);
  memcpy(k + 23, ex, 20);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  *out = cohort__delegation__unpack(NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_get_exec_waiting(state *st, const uint8_t del[20], const uint8_t ex[20],
                           uint64_t *amount, uint64_t *height) {
  uint8_t k[43] = {'x', 'w', '/'}, *v;
  size_t vl;
  *amount = *height = 0;
  memcpy(k + 3, del, 20);
  memcpy(k + 23, ex, 20);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  if (vl == 16) {
    *amount = core_get_u64be(v);
    *height = core_get_u64be(v + 8);
  }
  free(v);
  return vl == 16 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

uint64_t state_exec_delegation_value(const Cohort__Executor *e, uint64_t shares) {
  if (e->del_shares == 0) return 0;
  unsigned __int128 t = (unsigned __int128)shares * e->del_tokens / e->del_shares;
  return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

int state_exec_pending_reward(const Cohort__Executor *e, const Cohort__Delegation *d,
                              uint64_t *out) {
  unsigned __int128 acc;
  sk_delegation sd;
  *out = 0;
  sd.shares = d->shares;
  if (sk_u128_get(&e->reward_acc, &acc) || sk_u128_get(&d->reward_start, &sd.reward_start))
    return COHORT_ERR_CORRUPT;
  return distr_owed(acc, &sd, out);
}

static int pool_of(state *st, const char *key, uint64_t *crd, uint64_t *stk) {
  uint8_t *v;
  size_t vl;
  *crd = *stk = 0;
  int rc = get_str(st, key, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  rc = state_decode_account(v, vl, crd, stk, NULL);
  free(v);
  return rc;
}

typedef struct {
  uint64_t sum;
  int rc;
} sum_ctx;

static int sum_tokens(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  sum_ctx *c = ctx;
  Cohort__ValidatorInfo *m = cohort__validator_info__unpack(NULL, vl, v);
  if (!m || core_add_u64(&c->sum, c->sum, m->tokens)) c->rc = COHORT_ERR_CORRUPT;
  if (m) cohort__validator_info__free_unpacked(m, NULL);
  return c->rc != 0;
}

static int sum_unbonding(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  sum_ctx *c = ctx;
  Cohort__UnbondingDelegation *m = cohort__unbonding_delegation__unpack(NULL, vl, v);
  if (!m || core_add_u64(&c->sum, c->sum, m->amount)) c->rc = COHORT_ERR_CORRUPT;
  if (m) cohort__unbonding_delegation__free_unpacked(m, NULL);
  return c->rc != 0;
}

int state_get_pools(state *st, state_pools *p) {
  uint64_t x;
  memset(p, 0, sizeof *p);
  int rc = pool_of(st, "s/fees", &p->fees, &x);
  if (!rc) rc = pool_of(st, "s/rewards", &p->rewards, &x);
  if (!rc) rc = pool_of(st, "s/community", &p->community, &x);
  if (!rc) rc = pool_of(st, "s/gov", &x, &p->gov);
  sum_ctx a = {0, 0}, b = {0, 0};
  if (!rc && (rc = kv_scan(st->kv, (const uint8_t *)SK_VAL, 3, sum_tokens, &a)) >= 0) rc = a.rc;
  if (!rc && (rc = kv_scan(st->kv, (const uint8_t *)SK_UBQ, 3, sum_unbonding, &b)) >= 0) rc = b.rc;
  p->bonded = a.sum;
  p->unbonding = b.sum;
  return rc < 0 ? rc : COHORT_OK;
}
