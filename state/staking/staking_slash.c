/* state/staking/staking_slash.c — punishment (docs/staking.md §3
 * "Slash", "Double sign"): a slash takes the same fraction from every
 * token that backed the validator at the offence — its bonded tokens
 * (every delegator alike: shares do not move), the unbonding entries that
 * left it at or after the offence, and the redelegations that moved away
 * from it at or after the offence (taken at their destination) — and
 * burns it all.
 *
 * Step 3 in detail, for a redelegation entry {initial, shares_dst, height}
 * of delegator D from v to dst, x = floor(initial * f / 10000):
 *   s = min(shares_dst, ceil(x * dst.shares / dst.tokens), D's shares at
 *   dst); D's reward at dst is settled, then D and dst lose s shares, dst
 *   loses (and the slash burns) the s shares' value floor(s * tokens /
 *   shares), and the entry's shares_dst drops by s (a later slash of the
 *   same entry takes no more than it bought). If D held fewer shares at
 *   dst than the other two bounds (it undelegated redelegated stake from
 *   dst), what is still missing of x is taken from D's unbonding entries
 *   at dst made at or after the redelegation (release order), so
 *   redelegate-then-undelegate is no escape. A dst whose tokens are 0
 *   gives nothing. D falling below dst's min_self_bond as dst's operator
 *   jails dst, as in Undelegate.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/bank/bank.h"
#include "state/distr/distr.h"
#include "state/staking/staking.h"

typedef unsigned __int128 u128;

void sk_jail(sk_validator *v, uint64_t until) {
  if (v->jailed_until == 0 || v->jailed_until < until) v->jailed_until = until;
}

static uint64_t frac(uint64_t a, uint32_t bps) { return (uint64_t)((u128)a * bps / 10000); }

/* Keys found under a prefix (collected first: the slash writes). */
typedef struct {
  uint8_t *k;
  size_t n, cap, kl;
  int rc;
} keys;

static int collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  keys *l = ctx;
  if (kl != l->kl) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    uint8_t *p = realloc(l->k, cap * kl);
    if (!p) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->k = p;
    l->cap = cap;
  }
  memcpy(l->k + l->n++ * kl, k, kl);
  return 0;
}

static int scan_keys(state_exec *x, const char *pfx, const uint8_t id[20], size_t kl, keys *l) {
  uint8_t pre[43];
  memcpy(pre, pfx, 3);
  memcpy(pre + 3, id, 20);
  memset(l, 0, sizeof *l);
  l->kl = kl;
  int rc = sx_scan(x, pre, 23, collect, l);
  if (l->rc) return l->rc;
  return rc < 0 ? rc : COHORT_OK;
}

/* Take up to *want from the unbonding entry (rel, op, del) if it was made
 * at or after `since`; *want drops by what was taken, *total grows. */
static int cut_unbonding(state_exec *x, uint64_t rel, const uint8_t op[20], const uint8_t del[20],
                         uint64_t since, uint64_t *want, uint64_t *total) {
  uint8_t qk[SK_UBQ_KEY];
  sk_ubq_key(qk, rel, op, del);
  int rc;
  Cohort__UnbondingDelegation *e = (Cohort__UnbondingDelegation *)sx_get_msg(
      x, qk, sizeof qk, &cohort__unbonding_delegation__descriptor, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  if (e->height >= since && e->amount && *want) {
    uint64_t cut = *want < e->amount ? *want : e->amount;
    e->amount -= cut;
    *want -= cut;
    *total += cut;
    rc = sx_put_msg(x, qk, sizeof qk, &e->base);
  }
  cohort__unbonding_delegation__free_unpacked(e, NULL);
  return rc;
}

/* Step 3 for one redelegation entry (rel, src = v->op, dst, del). */
static int slash_redelegation(state_exec *x, const sk_validator *v, uint64_t rel,
                              const uint8_t dst[20], const uint8_t del[20], uint64_t e,
                              uint32_t bps, uint64_t *total) {
  uint8_t qk[SK_RD_KEY];
  sk_rdq_key(qk, rel, v->op, dst, del);
  int rc;
  Cohort__Redelegation *r = (Cohort__Redelegation *)sx_get_msg(
      x, qk, sizeof qk, &cohort__redelegation__descriptor, &rc);
  if (!r) return rc ? rc : COHORT_ERR_CORRUPT;
  uint64_t want = frac(r->initial, bps), since = r->height;
  /* made at e-1 or later: it was still in V_e (fixed at the end of e-2) */
  if (r->height + 1 < e || want == 0) goto out;
  sk_validator vd;
  if ((rc = sk_validator_load(x, dst, &vd))) {
    if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  if (vd.tokens == 0 || vd.shares == 0) goto out;
  sk_delegation dd;
  rc = sk_delegation_load(x, del, dst, &dd);
  if (rc && rc != COHORT_ERR_NOT_FOUND) goto out;
  uint64_t held = rc ? 0 : dd.shares;
  u128 need = ((u128)want * vd.shares + vd.tokens - 1) / vd.tokens;
  uint64_t bound = need < r->shares_dst ? (uint64_t)need : r->shares_dst;
  uint64_t s = held < bound ? held : bound, tok = 0;
  rc = COHORT_OK;
  if (s) {
    if ((rc = distr_settle(x, del, &vd, &dd, NULL))) goto out;
    tok = sk_shares_value(&vd, s);
    dd.shares -= s;
    dd.height = x->height;
    vd.shares -= s;
    vd.tokens -= tok;
    *total += tok;
    r->shares_dst -= s;
    if (!memcmp(del, dst, 20) &&
        sk_shares_value(&vd, dd.shares) < x->st->params->min_self_bond)
      sk_jail(&vd, x->height);
    if ((rc = sk_delegation_save(x, del, dst, &dd)) || (rc = sk_validator_save(x, &vd)) ||
        (rc = sx_put_msg(x, qk, sizeof qk, &r->base)))
      goto out;
  }
  if (held < bound && want > tok) {
    /* redelegated stake that left dst again: from the unbonding entries */
    uint64_t missing = want - tok;
    keys l;
    uint8_t pre[43];
    memcpy(pre, SK_UBD, 3);
    memcpy(pre + 3, del, 20);
    memcpy(pre + 23, dst, 20);
    memset(&l, 0, sizeof l);
    l.kl = SK_UB_IDX_KEY;
    rc = sx_scan(x, pre, sizeof pre, collect, &l);
    if (l.rc) rc = l.rc;
    rc = rc < 0 ? rc : COHORT_OK;
    for (size_t i = 0; !rc && missing && i < l.n; i++)
      rc = cut_unbonding(x, core_get_u64be(l.k + i * l.kl + 43), dst, del, since, &missing,
                         total);
    free(l.k);
  }
out:
  cohort__redelegation__free_unpacked(r, NULL);
  return rc;
}

int sk_slash(state_exec *x, sk_validator *v, uint64_t e, uint32_t bps, uint64_t *burned) {
  if (burned) *burned = 0;
  if (bps == 0) return COHORT_OK;
  uint64_t total = frac(v->tokens, bps);
  v->tokens -= total;
  /* 2: unbonding entries that left v at or after the offence */
  keys l;
  int rc = scan_keys(x, SK_UBV, v->op, SK_UB_IDX_KEY, &l);
  for (size_t i = 0; !rc && i < l.n; i++) {
    const uint8_t *k = l.k + i * l.kl;
    uint8_t qk[SK_UBQ_KEY];
    uint64_t rel = core_get_u64be(k + 23);
    sk_ubq_key(qk, rel, v->op, k + 31);
    Cohort__UnbondingDelegation *u = (Cohort__UnbondingDelegation *)sx_get_msg(
        x, qk, sizeof qk, &cohort__unbonding_delegation__descriptor, &rc);
    if (!u) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (u->height + 1 >= e) { /* made at e-1 or later: still in V_e's power */
      uint64_t cut = frac(u->initial, bps);
      if (cut > u->amount) cut = u->amount;
      if (cut) {
        u->amount -= cut;
        total += cut; /* <= the STK supply: no overflow */
        rc = sx_put_msg(x, qk, sizeof qk, &u->base);
      }
    }
    cohort__unbonding_delegation__free_unpacked(u, NULL);
  }
  free(l.k);
  if (rc) return rc;
  /* 3: redelegations that left v at or after the offence */
  if ((rc = scan_keys(x, SK_RDV, v->op, SK_RD_KEY, &l))) return rc;
  for (size_t i = 0; !rc && i < l.n; i++) {
    const uint8_t *k = l.k + i * l.kl;
    rc = slash_redelegation(x, v, core_get_u64be(k + 23), k + 31, k + 51, e, bps, &total);
  }
  free(l.k);
  if (rc) return rc;
  /* 4: burned */
  if ((rc = bank_burn(x, 0, total))) return rc;
  if (burned) *burned = total;
  return COHORT_OK;
}

int sk_punish_double_sign(state_exec *x, const uint8_t pubkey[32], uint64_t e) {
  uint8_t op[20];
  int rc = sk_operator_of(x, pubkey, op);
  if (rc) return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc; /* every set member has one */
  sk_validator v;
  if ((rc = sk_validator_load(x, op, &v))) return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
  uint64_t burned;
  if ((rc = sk_slash(x, &v, e, x->st->params->slash_double_sign_bps, &burned))) return rc;
  v.jailed_until = SK_JAIL_FOREVER;
  v.tombstoned = 1;
  if ((rc = sk_validator_save(x, &v))) return rc;
  Cohort__Tombstone t = COHORT__TOMBSTONE__INIT;
  t.height = x->height;
  t.vote_height = e;
  t.slashed = burned;
  t.operator_ = (ProtobufCBinaryData){20, op};
  uint8_t tk[35] = KEY_TOMB;
  memcpy(tk + 3, pubkey, 32);
  return sx_put_msg(x, tk, sizeof tk, &t.base);
}
