/* state/staking/staking_valset.c — validator sets by height (docs/protocol.md
 * 4b): the set history, and the end of a block, where the sets move on.
 *
 * After block h the state holds three sets:
 *   V_{h+1}  "v/set"   signs the next block; carries the beacon fields
 *   V_{h+2}  "v/next"  pubkey, operator, power, moniker only
 *   V_h      from the history "vh/" + u64be(h'): the record with the greatest
 *            h' <= h; one is written for h' = 1 (genesis) and whenever
 *            V_{h'} differs from V_{h'-1} (pubkeys and powers, in order).
 * Block H's evidence builds P = V_{H+2} from V_{H+1} (x->pending, in memory
 * while the block executes; staking_evidence.c). At the end of block H:
 * tombstones due at H pay their stake; "v/set" becomes V_{H+1} (beacon
 * fields of validators that were in V_H carried over); "v/next" and
 * "vh/" + u64be(H+2) become P if it differs from V_{H+1}. Nothing here
 * depends on anything but the overlay and the committed store.
 */
#include <stdlib.h>
#include <string.h>

#include "state/bank/bank.h"
#include "state/state_int.h"

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
  uint64_t want;
  uint8_t *v; /* the last record at or below want (copy) */
  size_t vl;
  int rc;
} at_ctx;

static int visit_at(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  at_ctx *a = ctx;
  if (kl != 11) {
    a->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (core_get_u64be(k + 3) > a->want) return 1; /* in order: the rest are later */
  uint8_t *c = malloc(vl ? vl : 1);
  if (!c) {
    a->rc = COHORT_ERR_NOMEM;
    return 1;
  }
  if (vl) memcpy(c, v, vl);
  free(a->v);
  a->v = c;
  a->vl = vl;
  return 0;
}

int sk_validators_at(kv_store *kv, uint64_t h, Cohort__ValidatorSet **out) {
  *out = NULL;
  at_ctx a = {h, NULL, 0, COHORT_OK};
  int rc = kv_scan(kv, (const uint8_t *)KEY_VALHIST, strlen(KEY_VALHIST), visit_at, &a);
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

typedef struct {
  uint8_t (*keys)[32];
  size_t n, cap;
} keylist;

static int collect_due(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  keylist *l = ctx;
  if (kl != 11 + 32) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    void *p = realloc(l->keys, cap * 32);
    if (!p) return COHORT_ERR_NOMEM;
    l->keys = p;
    l->cap = cap;
  }
  memcpy(l->keys[l->n++], k + 11, 32);
  return 0;
}

/* Tombstones whose stake is due at this height pay it to their operator. */
static int pay_due(state_exec *x) {
  uint8_t pre[11] = KEY_TOMB_DUE;
  core_put_u64be(pre + 3, x->height);
  keylist l = {0};
  int rc = sx_scan(x, pre, sizeof pre, collect_due, &l);
  for (size_t i = 0; !rc && i < l.n; i++) {
    uint8_t tk[35] = KEY_TOMB, dk[43];
    memcpy(tk + 3, l.keys[i], 32);
    Cohort__Tombstone *t = (Cohort__Tombstone *)sx_get_msg(x, tk, sizeof tk,
                                                           &cohort__tombstone__descriptor, &rc);
    if (!t) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (t->operator_.len != 20) rc = COHORT_ERR_CORRUPT;
    if (!rc) rc = bank_credit(x, t->operator_.data, BANK_STK, t->unbonding);
    t->unbonding = 0;
    if (!rc) rc = sx_put_msg(x, tk, sizeof tk, &t->base);
    cohort__tombstone__free_unpacked(t, NULL);
    memcpy(dk, pre, 11);
    memcpy(dk + 11, l.keys[i], 32);
    if (!rc) rc = sx_del(x, dk, sizeof dk);
  }
  free(l.keys);
  return rc;
}

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

/* "v/set" <- V_{H+1} (= "v/next" as committed), each validator keeping the
 * beacon fields it has in the current "v/set" (the reveal of this block
 * included). */
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
  if (!v || !vp) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const Cohort__Validator *s = nx->validators[i];
    cohort__validator__init(&v[i]);
    v[i].pubkey = s->pubkey;
    v[i].operator_ = s->operator_;
    v[i].power = s->power;
    v[i].moniker = s->moniker;
    v[i].beacon_tip = s->beacon_tip;
    for (size_t j = 0; j < cur->n_validators; j++) {
      const Cohort__Validator *c = cur->validators[j];
      if (c->pubkey.len == s->pubkey.len &&
          !memcmp(c->pubkey.data, s->pubkey.data, c->pubkey.len)) {
        v[i].beacon_tip = c->beacon_tip;
        v[i].beacon_next_tip = c->beacon_next_tip;
        v[i].beacon_next_at = c->beacon_next_at;
        break;
      }
    }
    vp[i] = &v[i];
  }
  Cohort__ValidatorSet ns = COHORT__VALIDATOR_SET__INIT;
  ns.n_validators = n;
  ns.validators = vp;
  rc = sx_put_msg(x, (const uint8_t *)KEY_VALSET, strlen(KEY_VALSET), &ns.base);
out:
  free(vp);
  free(v);
  cohort__validator_set__free_unpacked(cur, NULL);
  return rc;
}

int sk_end_block(state_exec *x) {
  int rc = pay_due(x);
  if (!rc) rc = rotate_current(x);
  if (rc || !x->pending_changed) return rc;
  uint8_t *b, hk[11] = KEY_VALHIST;
  size_t bl;
  uint64_t at;
  if (core_add_u64(&at, x->height, 2)) return COHORT_ERR_CORRUPT;
  core_put_u64be(hk + 3, at);
  if ((rc = sk_pack_stripped(x->pending, &b, &bl))) return rc;
  rc = sx_put(x, (const uint8_t *)KEY_NEXTSET, strlen(KEY_NEXTSET), b, bl);
  if (!rc) rc = sx_put(x, hk, sizeof hk, b, bl);
  free(b);
  return rc;
}
