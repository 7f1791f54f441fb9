/* state/staking/staking_valset.c — validator sets by height (docs/protocol.md
 * 4b, docs/staking.md §3 "The set"): the set history, and the end of a
 * block, where the sets move on.
 *
 * After block h the state holds three sets:
 *   V_{h+1}  "v/set"   signs the next block; carries the beacon fields
 *   V_{h+2}  "v/next"  pubkey, operator, power, moniker only
 *   V_h      from the history "vh/" + u64be(h'): the record with the greatest
 *            h' <= h; one is written for h' = 1 (genesis) and whenever
 *            V_{h'} differs from V_{h'-1} (pubkeys and powers, in order).
 * At the end of block H, after everything else of the block (staking,
 * distribution, governance): "v/set" becomes V_{H+1} (beacon fields of
 * validators that were in V_H carried over; one that enters takes them
 * from its "vl/" record and starts its downtime count, one that leaves
 * writes them back there); P = the first params.max_validators entries of
 * the power index "vp/" (most tokens first, then operator bytewise), each
 * with power = tokens, or V_{H+1} itself when the index is empty (a chain
 * is never left without validators); "v/next" and "vh/" + u64be(H+2)
 * become P if it differs from V_{H+1}. Nothing here depends on anything but
 * the overlay and the committed store.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/staking/staking.h"

#define VALSET_MAX (1u << 20)

int sk_pack_stripped(const Cohort__ValidatorSet *vs, uint8_t **out, size_t *len) {
  *out = NULL;
  size_t n = vs->n_validators;
  Cohort__Validator *v = calloc(n ? n : 1, sizeof *v);
  Cohort__Validator **vp = calloc(n ? n : 1, sizeof *vp);
  int rc = COHORT_OK;
  if (!v || !vp) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const Cohort__Validator *s = vs->validators[i];
    cohort__validator__init(&v[i]);
    v[i].pubkey = s->pubkey;
    v[i].operator_ = s->operator_;
    v[i].power = s->power;
    v[i].moniker = s->moniker;
    vp[i] = &v[i];
  }
  Cohort__ValidatorSet c = COHORT__VALIDATOR_SET__INIT;
  c.n_validators = n;
  c.validators = vp;
  *len = cohort__validator_set__get_packed_size(&c);
  if (!(*out = malloc(*len ? *len : 1))) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  cohort__validator_set__pack(&c, *out);
out:
  free(vp);
  free(v);
  return rc;
}

/* ---- the history ---- */

typedef struct {
  uint8_t *v; /* the last record at or below the height asked (copy) */
  size_t vl;
  int rc;
} at_ctx;

/* The first key visited (a reverse seek from vh/ + u64be(h)) is the record
 * wanted: stop there. */
static int visit_at(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  at_ctx *a = ctx;
  (void)k;
  if (kl != 11) {
    a->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (!(a->v = malloc(vl ? vl : 1))) {
    a->rc = COHORT_ERR_NOMEM;
    return 1;
  }
  if (vl) memcpy(a->v, v, vl);
  a->vl = vl;
  return 1;
}

/* One reverse seek, whatever the length of the history: the evidence
 * check of every item (staking_evidence.c) comes here, so its cost must
 * not grow with the number of set changes the chain has seen. */
int sk_validators_at(kv_store *kv, uint64_t h, Cohort__ValidatorSet **out) {
  *out = NULL;
  at_ctx a = {NULL, 0, COHORT_OK};
  uint8_t upto[11] = KEY_VALHIST;
  core_put_u64be(upto + 3, h);
  int rc = kv_scan_rev(kv, (const uint8_t *)KEY_VALHIST, strlen(KEY_VALHIST), upto, sizeof upto,
                       visit_at, &a);
  if (rc < 0 && !a.rc) a.rc = rc;
  if (!a.rc && !a.v) a.rc = COHORT_ERR_NOT_FOUND;
  if (!a.rc) {
    *out = a.vl <= VALSET_MAX ? cohort__validator_set__unpack(NULL, a.vl, a.v) : NULL;
    if (!*out || (*out)->n_validators == 0) {
      if (*out) cohort__validator_set__free_unpacked(*out, NULL);
      *out = NULL;
      a.rc = COHORT_ERR_CORRUPT;
    }
  }
  free(a.v);
  return a.rc;
}

int state_validators_at(state *st, uint64_t height, Cohort__ValidatorSet **out) {
  *out = NULL;
  if (!st->meta || height == 0 || height > st->meta->height + 2) return COHORT_ERR_NOT_FOUND;
  int rc = sk_validators_at(st->kv, height, out);
  return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc; /* V_1 is always there */
}

int state_read_validators_at(state *st, uint64_t height, Cohort__ValidatorSet **out) {
  *out = NULL;
  if (height == 0) return COHORT_ERR_NOT_FOUND;
  int rc = sk_validators_at(st->kv, height, out);
  return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
}

typedef struct {
  uint64_t max;
  int (*cb)(void *ctx, uint64_t height, const Cohort__ValidatorSet *vs);
  void *ctx;
  int rc;
} hist_ctx;

static int visit_hist(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  hist_ctx *h = ctx;
  if (kl != 11) {
    h->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  uint64_t height = core_get_u64be(k + 3);
  if (height > h->max) return 1;
  Cohort__ValidatorSet *vs = vl <= VALSET_MAX ? cohort__validator_set__unpack(NULL, vl, v) : NULL;
  if (!vs) {
    h->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  int r = h->cb(h->ctx, height, vs);
  cohort__validator_set__free_unpacked(vs, NULL);
  if (r) h->rc = r;
  return r != 0;
}

int state_validator_history(state *st, uint64_t max_height,
                            int (*cb)(void *ctx, uint64_t height, const Cohort__ValidatorSet *vs),
                            void *ctx) {
  hist_ctx h = {max_height, cb, ctx, COHORT_OK};
  int rc = kv_scan(st->kv, (const uint8_t *)KEY_VALHIST, strlen(KEY_VALHIST), visit_hist, &h);
  if (h.rc) return h.rc;
  return rc < 0 ? rc : COHORT_OK;
}

int state_get_tombstone(state *st, const uint8_t pubkey[32], Cohort__Tombstone **out) {
  *out = NULL;
  uint8_t k[35] = KEY_TOMB, *v;
  size_t vl;
  memcpy(k + 3, pubkey, 32);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  *out = cohort__tombstone__unpack(NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

/* ---- the end of a block ---- */

/* Same pubkeys and powers in the same order (what validators_hash covers). */
static int same_set(const Cohort__ValidatorSet *a, const Cohort__ValidatorSet *b) {
  if (a->n_validators != b->n_validators) return 0;
  for (size_t i = 0; i < a->n_validators; i++) {
    const Cohort__Validator *u = a->validators[i], *v = b->validators[i];
    if (u->power != v->power || u->pubkey.len != v->pubkey.len ||
        memcmp(u->pubkey.data, v->pubkey.data, u->pubkey.len))
      return 0;
  }
  return 1;
}

static const Cohort__Validator *find_pk(const Cohort__ValidatorSet *vs, const ProtobufCBinaryData *pk) {
  for (size_t j = 0; j < vs->n_validators; j++) {
    const Cohort__Validator *c = vs->validators[j];
    if (c->pubkey.len == pk->len && !memcmp(c->pubkey.data, pk->data, pk->len)) return c;
  }
  return NULL;
}

/* A validator that left the set keeps its beacon fields in "vl/". */
static int write_back(state_exec *x, const Cohort__Validator *c) {
  if (c->operator_.len != 20) return COHORT_ERR_CORRUPT;
  sk_validator v;
  int rc = sk_validator_load(x, c->operator_.data, &v);
  if (rc) return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
  v.has_tip = c->beacon_tip.len == 32;
  if (v.has_tip) memcpy(v.beacon_tip, c->beacon_tip.data, 32);
  v.has_next_tip = c->beacon_next_tip.len == 32;
  if (v.has_next_tip) memcpy(v.beacon_next_tip, c->beacon_next_tip.data, 32);
  v.beacon_next_at = c->beacon_next_at;
  return sk_validator_save(x, &v);
}

/* "v/set" <- V_{H+1} (= "v/next" as committed), each validator keeping the
 * beacon fields it has in the current "v/set" (the reveal of this block
 * included); entrants take theirs from "vl/" and start signing at H+1. */
static int rotate_current(state_exec *x) {
  int rc;
  Cohort__ValidatorSet *cur = (Cohort__ValidatorSet *)sx_get_msg(
      x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &cohort__validator_set__descriptor, &rc);
  if (!cur) return rc ? rc : COHORT_ERR_CORRUPT;
  const Cohort__ValidatorSet *nx = x->st->next_vals; /* "v/next" is not written before this */
  if (same_set(cur, nx)) {
    cohort__validator_set__free_unpacked(cur, NULL);
    return COHORT_OK;
  }
  size_t n = nx->n_validators;
  Cohort__Validator *v = calloc(n, sizeof *v);
  Cohort__Validator **vp = calloc(n, sizeof *vp);
  sk_validator *ent = calloc(n, sizeof *ent); /* entrants' records */
  if (!v || !vp || !ent) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < cur->n_validators && !rc; i++)
    if (!find_pk(nx, &cur->validators[i]->pubkey)) rc = write_back(x, cur->validators[i]);
  for (size_t i = 0; i < n && !rc; i++) {
    const Cohort__Validator *s = nx->validators[i];
    cohort__validator__init(&v[i]);
    v[i].pubkey = s->pubkey;
    v[i].operator_ = s->operator_;
    v[i].power = s->power;
    v[i].moniker = s->moniker;
    const Cohort__Validator *c = find_pk(cur, &s->pubkey);
    if (c) {
      v[i].beacon_tip = c->beacon_tip;
      v[i].beacon_next_tip = c->beacon_next_tip;
      v[i].beacon_next_at = c->beacon_next_at;
    } else {
      sk_validator *e = &ent[i];
      if (s->operator_.len != 20) {
        rc = COHORT_ERR_CORRUPT;
        break;
      }
      if ((rc = sk_validator_load(x, s->operator_.data, e))) {
        if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
        break;
      }
      if (e->has_tip) v[i].beacon_tip = (ProtobufCBinaryData){32, e->beacon_tip};
      if (e->has_next_tip) v[i].beacon_next_tip = (ProtobufCBinaryData){32, e->beacon_next_tip};
      v[i].beacon_next_at = e->beacon_next_at;
      e->signing_since = x->height + 1; /* downtime counts from its first height */
      e->missed_len = 0;
      e->missed_count = 0;
      rc = sk_validator_save(x, e);
    }
    vp[i] = &v[i];
  }
  if (!rc) {
    Cohort__ValidatorSet ns = COHORT__VALIDATOR_SET__INIT;
    ns.n_validators = n;
    ns.validators = vp;
    rc = sx_put_msg(x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &ns.base);
  }
out:
  free(ent);
  free(vp);
  free(v);
  cohort__validator_set__free_unpacked(cur, NULL);
  return rc;
}

/* ---- P from the power index ---- */

typedef struct {
  uint8_t pk[32], op[20];
  char moniker[SK_MONIKER_MAX + 1];
  uint64_t power;
} member;

typedef struct {
  state_exec *x;
  member *m;
  size_t n, max;
  uint64_t total;
  int rc;
} pick_ctx;

static int pick(void *ctx, const uint8_t *k, size_t kl, const uint8_t *val, size_t vl) {
  (void)val, (void)vl;
  pick_ctx *c = ctx;
  if (kl != SK_POW_KEY) {
    c->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  sk_validator v;
  int rc = sk_validator_load(c->x, k + 11, &v);
  if (rc || !sk_is_bonded(&v) || UINT64_MAX - v.tokens != core_get_u64be(k + 3)) {
    c->rc = rc && rc != COHORT_ERR_NOT_FOUND ? rc : COHORT_ERR_CORRUPT; /* index out of step */
    return 1;
  }
  /* The set's total power stays below 2^63 (the proposer priorities'
   * bound); the STK supply is below it (genesis), so this never binds. */
  if (v.tokens >= (UINT64_C(1) << 63) - c->total) return 1;
  member *m = &c->m[c->n++];
  memcpy(m->pk, v.pubkey, 32);
  memcpy(m->op, v.op, 20);
  strcpy(m->moniker, v.moniker);
  m->power = v.tokens;
  c->total += v.tokens;
  return c->n >= c->max;
}

int sk_end_block(state_exec *x) {
  int rc = rotate_current(x);
  if (rc) return rc;
  size_t max = x->st->params->max_validators;
  pick_ctx c = {x, calloc(max ? max : 1, sizeof(member)), 0, max, 0, COHORT_OK};
  Cohort__Validator *v = calloc(max ? max : 1, sizeof *v);
  Cohort__Validator **vp = calloc(max ? max : 1, sizeof *vp);
  uint8_t *b = NULL;
  if (!c.m || !v || !vp) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  rc = sx_scan_lazy(x, (const uint8_t *)SK_POW, 3, pick, &c); /* the first N only */
  if (c.rc) rc = c.rc;
  if (rc < 0) goto out;
  rc = COHORT_OK;
  const Cohort__ValidatorSet *nx = x->st->next_vals; /* V_{H+1} */
  Cohort__ValidatorSet P = COHORT__VALIDATOR_SET__INIT;
  for (size_t i = 0; i < c.n; i++) {
    cohort__validator__init(&v[i]);
    v[i].pubkey = (ProtobufCBinaryData){32, c.m[i].pk};
    v[i].operator_ = (ProtobufCBinaryData){20, c.m[i].op};
    v[i].power = c.m[i].power;
    v[i].moniker = c.m[i].moniker;
    vp[i] = &v[i];
  }
  P.n_validators = c.n;
  P.validators = vp;
  if (c.n == 0 || same_set(&P, nx)) goto out; /* V_{H+2} = V_{H+1}: "v/next" stays */
  uint8_t hk[11] = KEY_VALHIST;
  size_t bl;
  uint64_t at;
  if (core_add_u64(&at, x->height, 2)) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  core_put_u64be(hk + 3, at);
  if ((rc = sk_pack_stripped(&P, &b, &bl))) goto out;
  rc = sx_put(x, (const uint8_t *)KEY_NEXTSET, strlen(KEY_NEXTSET), b, bl);
  if (!rc) rc = sx_put(x, hk, sizeof hk, b, bl);
out:
  free(b);
  free(vp);
  free(v);
  free(c.m);
  return rc;
}
