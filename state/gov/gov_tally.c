/* state/gov/gov_tally.c — the tally of a proposal (docs/staking.md §5):
 *
 *   1. for each vote (account A, option o): if A operates a validator v of
 *      the set, v's vote is o; for each delegation of A to a validator w of
 *      the set with A != w's operator: w.deducted += shares,
 *      tally[o] += floor(shares * w.tokens / w.shares);
 *   2. for each validator v of the set that voted: tally[v's vote] +=
 *      floor((v.shares - v.deducted) * v.tokens / v.shares) — its own stake
 *      and every delegator that did not vote inherit v's vote;
 *   3. quorum, veto, threshold (gov_tally_outcome).
 *
 * bonded = the tokens of the set's validators, read from "vl/" like the
 * delegations' worth, so voted <= bonded always. A validator of the set
 * without a "vl/" record weighs nothing. Cost: one pass over the votes,
 * each reading the voter's delegations (at most max_delegations), a binary
 * search in the set for each, and one pass over the set.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

typedef struct {
  uint8_t op[20];
  uint64_t tokens, shares, deducted;
  uint32_t vote;
} tval;

typedef struct {
  tval *v;
  size_t n;
  state_tally *t;
  const uint8_t *voter;
  uint32_t option;
  int rc;
} tctx;

static int cmp_op(const void *a, const void *b) { return memcmp(a, b, 20); }

static tval *find(tctx *c, const uint8_t op[20]) {
  return bsearch(op, c->v, c->n, sizeof *c->v, cmp_op);
}

static int add_to(state_tally *t, uint32_t option, uint64_t w) {
  uint64_t *f = option == GOV_YES ? &t->yes : option == GOV_NO ? &t->no
              : option == GOV_ABSTAIN ? &t->abstain : option == GOV_VETO ? &t->veto : NULL;
  if (!f || core_add_u64(f, *f, w)) return COHORT_ERR_CORRUPT; /* <= the STK supply */
  return COHORT_OK;
}

static uint64_t worth(uint64_t shares, uint64_t tokens, uint64_t total_shares) {
  if (!total_shares) return 0;
  unsigned __int128 w = (unsigned __int128)shares * tokens / total_shares;
  return w > UINT64_MAX ? UINT64_MAX : (uint64_t)w;
}

/* Step 1 for one delegation "dl/" + voter + op of the current voter. */
static int visit_delegation(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  tctx *c = ctx;
  if (kl != 43) return c->rc = COHORT_ERR_CORRUPT;
  tval *w = find(c, k + 23);
  if (!w || !memcmp(w->op, c->voter, 20)) return 0; /* not in the set, or its own validator */
  Cohort__Delegation *d = cohort__delegation__unpack(NULL, vl, v);
  if (!d) return c->rc = COHORT_ERR_CORRUPT;
  uint64_t s = d->shares;
  cohort__delegation__free_unpacked(d, NULL);
  if (core_add_u64(&w->deducted, w->deducted, s)) return c->rc = COHORT_ERR_CORRUPT;
  int rc = add_to(c->t, c->option, worth(s, w->tokens, w->shares));
  return rc ? (c->rc = rc) : 0;
}

/* The voters, collected first: each needs a scan of its own. */
typedef struct {
  uint8_t (*who)[20];
  uint32_t *opt;
  size_t n, cap;
} vlist;

static int collect_vote(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  vlist *l = ctx;
  if (kl != GOV_AKEY_LEN) return COHORT_ERR_CORRUPT;
  Cohort__GovVote *gv = cohort__gov_vote__unpack(NULL, vl, v);
  if (!gv) return COHORT_ERR_CORRUPT;
  uint32_t o = gv->option;
  cohort__gov_vote__free_unpacked(gv, NULL);
  if (o < GOV_YES || o > GOV_VETO) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    void *w = realloc(l->who, cap * 20);
    if (!w) return COHORT_ERR_NOMEM;
    l->who = w;
    void *p = realloc(l->opt, cap * sizeof *l->opt);
    if (!p) return COHORT_ERR_NOMEM;
    l->opt = p;
    l->cap = cap;
  }
  memcpy(l->who[l->n], k + 11, 20);
  l->opt[l->n++] = o;
  return 0;
}

/* The set's validators with their "vl/" tokens and shares, by operator. */
static int load_set(state_exec *x, const Cohort__ValidatorSet *set, tval **out, size_t *n,
                    uint64_t *bonded) {
  *out = NULL;
  *n = 0;
  *bonded = 0;
  tval *v = calloc(set->n_validators ? set->n_validators : 1, sizeof *v);
  if (!v) return COHORT_ERR_NOMEM;
  size_t m = 0;
  int rc = COHORT_OK;
  for (size_t i = 0; !rc && i < set->n_validators; i++) {
    const Cohort__Validator *sv = set->validators[i];
    if (sv->operator_.len != 20) continue;
    uint8_t k[23];
    memcpy(k, GOV_KEY_VALIDATOR, 3);
    memcpy(k + 3, sv->operator_.data, 20);
    Cohort__ValidatorInfo *vi =
        (Cohort__ValidatorInfo *)sx_get_msg(x, k, sizeof k, &cohort__validator_info__descriptor, &rc);
    if (!vi) continue;
    memcpy(v[m].op, sv->operator_.data, 20);
    v[m].tokens = vi->tokens;
    v[m].shares = vi->shares;
    m++;
    cohort__validator_info__free_unpacked(vi, NULL);
  }
  if (rc) {
    free(v);
    return rc;
  }
  qsort(v, m, sizeof *v, cmp_op);
  size_t u = 0; /* one entry per operator (one "vl/" record each) */
  for (size_t i = 0; i < m; i++) {
    if (u && !memcmp(v[u - 1].op, v[i].op, 20)) continue;
    v[u++] = v[i];
  }
  for (size_t i = 0; i < u; i++)
    if (core_add_u64(bonded, *bonded, v[i].tokens)) rc = COHORT_ERR_CORRUPT;
  if (rc) {
    free(v);
    return rc;
  }
  *out = v;
  *n = u;
  return COHORT_OK;
}

int gov_tally_compute(state_exec *x, uint64_t id, const Cohort__ValidatorSet *set,
                      state_tally *t) {
  memset(t, 0, sizeof *t);
  tctx c = {0};
  c.t = t;
  int rc = load_set(x, set, &c.v, &c.n, &t->bonded);
  if (rc) return rc;
  uint8_t pre[11];
  memcpy(pre, GOV_KEY_VOTE, 3);
  core_put_u64be(pre + 3, id);
  vlist l = {0};
  rc = sx_scan(x, pre, sizeof pre, collect_vote, &l);
  for (size_t i = 0; !rc && i < l.n; i++) {
    c.voter = l.who[i];
    c.option = l.opt[i];
    t->votes++;
    tval *own = find(&c, c.voter); /* an operator's vote is its validator's */
    if (own) own->vote = c.option;
    uint8_t dp[23];
    memcpy(dp, GOV_KEY_DELEGATION, 3);
    memcpy(dp + 3, l.who[i], 20);
    rc = sx_scan(x, dp, sizeof dp, visit_delegation, &c);
    if (!rc) rc = c.rc;
  }
  if (!rc) rc = c.rc;
  for (size_t i = 0; !rc && i < c.n; i++) {
    tval *v = &c.v[i];
    if (!v->vote) continue;
    if (v->deducted > v->shares) rc = COHORT_ERR_CORRUPT; /* delegations add up to shares */
    else rc = add_to(t, v->vote, worth(v->shares - v->deducted, v->tokens, v->shares));
  }
  free(l.who);
  free(l.opt);
  free(c.v);
  if (rc) memset(t, 0, sizeof *t);
  return rc;
}

uint32_t gov_tally_outcome(const state_tally *t, const Cohort__Params *p) {
  typedef unsigned __int128 u128;
  u128 voted = (u128)t->yes + t->no + t->abstain + t->veto;
  if (voted * 10000 < (u128)t->bonded * p->gov_quorum_bps) return GOV_ST_NO_QUORUM;
  if ((u128)t->veto * 10000 > voted * p->gov_veto_bps) return GOV_ST_VETOED;
  if ((u128)t->yes * 10000 > ((u128)t->yes + t->no + t->veto) * p->gov_threshold_bps)
    return GOV_ST_PASSED;
  return GOV_ST_REJECTED;
}
