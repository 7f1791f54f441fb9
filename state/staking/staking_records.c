/* state/staking/staking_records.c — the staking records (docs/staking.md
 * §1): keys, ValidatorInfo and Delegation to and from plain fields, the
 * power index kept in step with every save, the shares math, and the read
 * helpers other modules use. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/staking/staking.h"

int sk_fail(state_tx_result *res, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->log, sizeof res->log, fmt, ap);
  va_end(ap);
  res->code = code;
  return COHORT_OK; /* a failed message, not a failed block */
}

void sk_short(char out[17], const uint8_t *id) {
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hx[id[i] >> 4];
    out[2 * i + 1] = hx[id[i] & 15];
  }
  out[16] = 0;
}

void sk_val_key(uint8_t k[SK_VAL_KEY], const uint8_t op[20]) {
  memcpy(k, SK_VAL, 3);
  memcpy(k + 3, op, 20);
}

void sk_del_key(uint8_t k[SK_DEL_KEY], const uint8_t del[20], const uint8_t op[20]) {
  memcpy(k, SK_DEL, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, op, 20);
}

static void pow_key(uint8_t k[SK_POW_KEY], uint64_t tokens, const uint8_t op[20]) {
  memcpy(k, SK_POW, 3);
  core_put_u64be(k + 3, UINT64_MAX - tokens);
  memcpy(k + 11, op, 20);
}

int sk_is_bonded(const sk_validator *v) {
  return v->jailed_until == 0 && !v->tombstoned && v->tokens > 0;
}

int sk_u128_get(const ProtobufCBinaryData *b, unsigned __int128 *out) {
  *out = 0;
  if (b->len == 0) return COHORT_OK;
  if (b->len != 16) return COHORT_ERR_CORRUPT;
  for (int i = 0; i < 16; i++) *out = *out << 8 | b->data[i];
  return COHORT_OK;
}

void sk_u128_put(uint8_t out[16], unsigned __int128 v) {
  for (int i = 15; i >= 0; i--) {
    out[i] = (uint8_t)v;
    v >>= 8;
  }
}

static int copy_fixed(uint8_t *dst, const ProtobufCBinaryData *b, size_t n, int *has) {
  if (has) *has = 0;
  if (b->len == 0 && has) return COHORT_OK;
  if (b->len != n) return COHORT_ERR_CORRUPT;
  memcpy(dst, b->data, n);
  if (has) *has = 1;
  return COHORT_OK;
}

static int from_proto(sk_validator *v, const Cohort__ValidatorInfo *m) {
  memset(v, 0, sizeof *v);
  if (copy_fixed(v->op, &m->operator_, 20, NULL) || copy_fixed(v->pubkey, &m->pubkey, 32, NULL) ||
      !m->moniker || strlen(m->moniker) > SK_MONIKER_MAX || m->missed.len > SK_MISSED_MAX ||
      sk_u128_get(&m->reward_acc, &v->reward_acc) ||
      copy_fixed(v->beacon_tip, &m->beacon_tip, 32, &v->has_tip) ||
      copy_fixed(v->beacon_next_tip, &m->beacon_next_tip, 32, &v->has_next_tip))
    return COHORT_ERR_CORRUPT;
  strcpy(v->moniker, m->moniker);
  v->commission_bps = m->commission_bps;
  v->max_commission_bps = m->max_commission_bps;
  v->max_change_bps = m->max_change_bps;
  v->commission_height = m->commission_height;
  v->tokens = m->tokens;
  v->shares = m->shares;
  v->jailed_until = m->jailed_until;
  v->tombstoned = m->tombstoned;
  v->commission_owed = m->commission_owed;
  if (m->missed.len) memcpy(v->missed, m->missed.data, m->missed.len);
  v->missed_len = m->missed.len;
  v->missed_count = m->missed_count;
  v->signing_since = m->signing_since;
  v->beacon_next_at = m->beacon_next_at;
  v->created_height = m->created_height;
  v->commission_next_bps = m->commission_next_bps;
  v->commission_next_at = m->commission_next_at;
  return COHORT_OK;
}

int sk_validator_load(state_exec *x, const uint8_t op[20], sk_validator *v) {
  uint8_t k[SK_VAL_KEY];
  sk_val_key(k, op);
  int rc;
  Cohort__ValidatorInfo *m = (Cohort__ValidatorInfo *)sx_get_msg(
      x, k, sizeof k, &cohort__validator_info__descriptor, &rc);
  if (!m) return rc ? rc : COHORT_ERR_NOT_FOUND;
  rc = from_proto(v, m);
  cohort__validator_info__free_unpacked(m, NULL);
  if (!rc && memcmp(v->op, op, 20)) rc = COHORT_ERR_CORRUPT;
  v->idx_in = sk_is_bonded(v);
  v->idx_tokens = v->tokens;
  return rc;
}

int sk_validator_save(state_exec *x, sk_validator *v) {
  int in = sk_is_bonded(v), rc = COHORT_OK;
  if (v->idx_in && (!in || v->idx_tokens != v->tokens)) {
    uint8_t k[SK_POW_KEY];
    pow_key(k, v->idx_tokens, v->op);
    if ((rc = sx_del(x, k, sizeof k))) return rc;
  }
  if (in && (!v->idx_in || v->idx_tokens != v->tokens)) {
    uint8_t k[SK_POW_KEY];
    pow_key(k, v->tokens, v->op);
    if ((rc = sx_put(x, k, sizeof k, NULL, 0))) return rc;
  }
  v->idx_in = in;
  v->idx_tokens = v->tokens;
  uint8_t acc[16];
  sk_u128_put(acc, v->reward_acc);
  Cohort__ValidatorInfo m = COHORT__VALIDATOR_INFO__INIT;
  m.operator_ = (ProtobufCBinaryData){20, v->op};
  m.pubkey = (ProtobufCBinaryData){32, v->pubkey};
  m.moniker = v->moniker;
  m.commission_bps = v->commission_bps;
  m.max_commission_bps = v->max_commission_bps;
  m.max_change_bps = v->max_change_bps;
  m.commission_height = v->commission_height;
  m.tokens = v->tokens;
  m.shares = v->shares;
  m.jailed_until = v->jailed_until;
  m.tombstoned = v->tombstoned;
  m.reward_acc = (ProtobufCBinaryData){16, acc};
  m.commission_owed = v->commission_owed;
  m.missed = (ProtobufCBinaryData){v->missed_len, v->missed};
  m.missed_count = v->missed_count;
  m.signing_since = v->signing_since;
  if (v->has_tip) m.beacon_tip = (ProtobufCBinaryData){32, v->beacon_tip};
  if (v->has_next_tip) m.beacon_next_tip = (ProtobufCBinaryData){32, v->beacon_next_tip};
  m.beacon_next_at = v->beacon_next_at;
  m.created_height = v->created_height;
  m.commission_next_bps = v->commission_next_bps;
  m.commission_next_at = v->commission_next_at;
  uint8_t k[SK_VAL_KEY];
  sk_val_key(k, v->op);
  return sx_put_msg(x, k, sizeof k, &m.base);
}

int sk_operator_of(state_exec *x, const uint8_t pubkey[32], uint8_t op[20]) {
  uint8_t k[35] = SK_KEY, *v;
  size_t vl;
  memcpy(k + 3, pubkey, 32);
  int rc = sx_get(x, k, sizeof k, &v, &vl);
  if (rc) return rc;
  if (vl != 20) rc = COHORT_ERR_CORRUPT;
  else memcpy(op, v, 20);
  free(v);
  return rc;
}

static int del_from_proto(sk_delegation *d, const Cohort__Delegation *m) {
  d->shares = m->shares;
  d->height = m->height;
  return sk_u128_get(&m->reward_start, &d->reward_start);
}

int sk_delegation_read(state_exec *x, const uint8_t *k, size_t kl, sk_delegation *d) {
  memset(d, 0, sizeof *d);
  int rc;
  Cohort__Delegation *m =
      (Cohort__Delegation *)sx_get_msg(x, k, kl, &cohort__delegation__descriptor, &rc);
  if (!m) return rc ? rc : COHORT_ERR_NOT_FOUND;
  rc = del_from_proto(d, m);
  cohort__delegation__free_unpacked(m, NULL);
  if (!rc && d->shares == 0) rc = COHORT_ERR_CORRUPT; /* deleted at 0 */
  return rc;
}

int sk_delegation_write(state_exec *x, const uint8_t *k, const uint8_t *vk, size_t kl,
                        const sk_delegation *d) {
  if (d->shares == 0) {
    int rc = sx_del(x, k, kl);
    return rc ? rc : sx_del(x, vk, kl);
  }
  uint8_t rs[16];
  sk_u128_put(rs, d->reward_start);
  Cohort__Delegation m = COHORT__DELEGATION__INIT;
  m.shares = d->shares;
  m.reward_start = (ProtobufCBinaryData){16, rs};
  m.height = d->height;
  int rc = sx_put_msg(x, k, kl, &m.base);
  return rc ? rc : sx_put(x, vk, kl, NULL, 0);
}

int sk_delegation_load(state_exec *x, const uint8_t del[20], const uint8_t op[20],
                       sk_delegation *d) {
  uint8_t k[SK_DEL_KEY];
  sk_del_key(k, del, op);
  return sk_delegation_read(x, k, sizeof k, d);
}

void sk_fresh_key(uint8_t k[SK_FRESH_KEY], uint64_t h, const uint8_t op[20],
                  const uint8_t del[20]) {
  memcpy(k, SK_FRESH, 3);
  core_put_u64be(k + 3, h);
  memcpy(k + 11, op, 20);
  memcpy(k + 31, del, 20);
}

/* Before delegation (del, op) at key dk is written with `shares`: if its
 * shares change and this is their first change in the block, note the
 * shares it held before ("df/"). */
static int note_fresh(state_exec *x, const uint8_t del[20], const uint8_t op[20],
                      const uint8_t dk[SK_DEL_KEY], uint64_t shares) {
  int rc;
  uint64_t before = 0;
  Cohort__Delegation *m = (Cohort__Delegation *)sx_get_msg(x, dk, SK_DEL_KEY,
                                                           &cohort__delegation__descriptor, &rc);
  if (rc) return rc;
  if (m) {
    before = m->shares;
    cohort__delegation__free_unpacked(m, NULL);
  }
  if (before == shares) return COHORT_OK;
  uint8_t fk[SK_FRESH_KEY], *v;
  size_t vl;
  sk_fresh_key(fk, x->height, op, del);
  rc = sx_get(x, fk, sizeof fk, &v, &vl);
  if (rc == COHORT_OK) {
    free(v); /* noted at an earlier change in this block */
    return vl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
  }
  if (rc != COHORT_ERR_NOT_FOUND) return rc;
  uint8_t b[8];
  core_put_u64be(b, before);
  return sx_put(x, fk, sizeof fk, b, sizeof b);
}

int sk_delegation_save(state_exec *x, const uint8_t del[20], const uint8_t op[20],
                       const sk_delegation *d) {
  uint8_t k[SK_DEL_KEY], vk[SK_DEL_KEY];
  sk_del_key(k, del, op);
  memcpy(vk, SK_DELV, 3);
  memcpy(vk + 3, op, 20);
  memcpy(vk + 23, del, 20);
  if (x->height > 0) { /* genesis writes no df/ */
    int rc = note_fresh(x, del, op, k, d->shares);
    if (rc) return rc;
  }
  return sk_delegation_write(x, k, vk, sizeof k, d);
}

typedef struct {
  uint32_t n, stop;
} count_ctx;

static int count_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl, (void)v, (void)vl;
  count_ctx *c = ctx;
  return ++c->n >= c->stop;
}

int sk_count_delegations(state_exec *x, const uint8_t del[20], uint32_t stop, uint32_t *n) {
  uint8_t pre[23] = SK_DEL;
  memcpy(pre + 3, del, 20);
  count_ctx c = {0, stop ? stop : 1};
  int rc = sx_scan_lazy(x, pre, sizeof pre, count_visit, &c);
  *n = c.n;
  return rc < 0 ? rc : COHORT_OK;
}

uint64_t sk_shares_value(const sk_validator *v, uint64_t shares) {
  if (v->shares == 0) return 0;
  unsigned __int128 t = (unsigned __int128)shares * v->tokens / v->shares;
  return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t; /* shares <= v->shares: never */
}

uint64_t sk_shares_for(const sk_validator *v, uint64_t amount, const char **why) {
  *why = NULL;
  if (v->shares == 0) return amount;
  if (v->tokens == 0) {
    *why = "the validator was slashed to nothing: its shares are worth no tokens";
    return 0;
  }
  unsigned __int128 s = (unsigned __int128)amount * v->shares / v->tokens;
  if (s == 0) {
    *why = "the amount buys no share at the validator's rate";
    return 0;
  }
  if (s > UINT64_MAX - v->shares) {
    *why = "the shares would not fit in 64 bits";
    return 0;
  }
  return (uint64_t)s;
}

uint64_t staking_delegation_value(const sk_validator *v, uint64_t shares) {
  return sk_shares_value(v, shares);
}

int staking_get_validator(state_exec *x, const uint8_t op[20], Cohort__ValidatorInfo **out) {
  uint8_t k[SK_VAL_KEY];
  sk_val_key(k, op);
  int rc;
  *out = (Cohort__ValidatorInfo *)sx_get_msg(x, k, sizeof k, &cohort__validator_info__descriptor,
                                             &rc);
  if (rc) return rc;
  return *out ? COHORT_OK : COHORT_ERR_NOT_FOUND;
}

typedef struct {
  int (*cb)(void *ctx, const uint8_t id[20], const sk_delegation *d);
  void *ctx;
  int by_validator; /* dv/ keys: load the delegation behind each */
  state_exec *x;
  const uint8_t *fixed; /* the 20 bytes of the prefix */
  int rc;
} scan_ctx;

static int scan_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  scan_ctx *s = ctx;
  if (kl != SK_DEL_KEY) {
    s->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  sk_delegation d;
  const uint8_t *other = k + 23;
  if (s->by_validator) {
    int rc = sk_delegation_load(s->x, other, s->fixed, &d);
    if (rc) {
      s->rc = rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
      return 1;
    }
  } else {
    Cohort__Delegation *m = cohort__delegation__unpack(NULL, vl, v);
    int rc = m ? del_from_proto(&d, m) : COHORT_ERR_CORRUPT;
    if (m) cohort__delegation__free_unpacked(m, NULL);
    if (rc) {
      s->rc = rc;
      return 1;
    }
  }
  int r = s->cb(s->ctx, other, &d);
  if (r) s->rc = r;
  return r != 0;
}

int staking_scan_delegations_of(state_exec *x, const uint8_t del[20],
                                int (*cb)(void *ctx, const uint8_t op[20],
                                          const sk_delegation *d),
                                void *ctx) {
  uint8_t pre[23] = SK_DEL;
  memcpy(pre + 3, del, 20);
  scan_ctx s = {cb, ctx, 0, x, del, COHORT_OK};
  int rc = sx_scan(x, pre, sizeof pre, scan_visit, &s);
  if (s.rc) return s.rc;
  return rc < 0 ? rc : COHORT_OK;
}

int staking_scan_delegations_to(state_exec *x, const uint8_t op[20],
                                int (*cb)(void *ctx, const uint8_t del[20],
                                          const sk_delegation *d),
                                void *ctx) {
  uint8_t pre[23] = SK_DELV;
  memcpy(pre + 3, op, 20);
  scan_ctx s = {cb, ctx, 1, x, op, COHORT_OK};
  int rc = sx_scan(x, pre, sizeof pre, scan_visit, &s);
  if (s.rc) return s.rc;
  return rc < 0 ? rc : COHORT_OK;
}
