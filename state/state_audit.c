/* state/state_audit.c — the supply rule and the staking invariants over the
 * committed store (state.h state_audit): every record read, nothing
 * written. Tests run it after every block of their random workloads; it is
 * written from the key layout of docs/staking.md §1 and docs/protocol.md §5,
 * not from the code that keeps the rules, so a bug there shows here. */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/distr/distr.h"
#include "state/staking/staking.h"
#include "state/state_int.h"

typedef unsigned __int128 u128;

typedef struct {
  uint8_t op[20], pubkey[32];
  uint64_t tokens, shares, jailed_until, commission_next_at;
  int tombstoned;
  u128 acc, shares_seen;
} aval;

/* an executor's delegators' side (docs/staking.md §8) */
typedef struct {
  uint8_t id[20];
  uint64_t shares, unbonding, pending;
  u128 acc, shares_seen, unbonding_seen, pending_seen;
} aexec;

typedef struct {
  state *st;
  core_errbuf *eb;
  int rc;
  u128 crd, stk, withdrawable;
  aval *v;
  size_t nv, cap, bonded_n, n_pow, n_dl, n_dv, n_uq, n_uv, n_ud, n_rq, n_rv, n_rd, n_vk;
  size_t n_gd;
  u128 gp_depositors;
  size_t n_next, n_cq; /* announced commissions, and their cq/ keys */
  size_t n_df;         /* fresh-delegation notes: none between blocks */
  uint64_t tokens, unbonding;
  aexec *x;
  size_t nx, xcap, n_xd, n_xv, n_xq, n_xu, n_xe, n_xw, n_xp;
} audit;

static int fail(audit *a, const char *what) {
  a->rc = core_errf(a->eb, COHORT_ERR_CORRUPT, "audit at height %llu: %s",
                    (unsigned long long)(a->st->meta ? a->st->meta->height : 0), what);
  return 1;
}

static aval *find_val(audit *a, const uint8_t op[20]) {
  size_t lo = 0, hi = a->nv; /* vl/ is scanned in key order: sorted by op */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = memcmp(a->v[mid].op, op, 20);
    if (!c) return &a->v[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static int has_key(audit *a, const uint8_t *k, size_t kl) {
  uint8_t *v;
  size_t vl;
  int rc = kv_get(a->st->kv, k, kl, &v, &vl);
  if (rc == COHORT_OK) free(v);
  if (rc && rc != COHORT_ERR_NOT_FOUND) a->rc = rc;
  return rc == COHORT_OK;
}

static int stop_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl, (void)v, (void)vl;
  *(int *)ctx = 1;
  return 1;
}

/* 1 if some key starts with prefix. */
static int has_prefix(audit *a, const uint8_t *prefix, size_t plen) {
  int found = 0, rc = kv_scan(a->st->kv, prefix, plen, stop_first, &found);
  if (rc < 0) a->rc = rc;
  return found;
}

static int v_acc(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  audit *a = ctx;
  uint64_t c, s, n;
  if (state_decode_account(v, vl, &c, &s, &n)) return fail(a, "an account does not decode");
  a->crd += c;
  a->stk += s;
  return 0;
}

static aexec *find_exec(audit *a, const uint8_t id[20]) {
  size_t lo = 0, hi = a->nx; /* e/ is scanned in key order */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = memcmp(a->x[mid].id, id, 20);
    if (!c) return &a->x[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static int v_exec(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  Cohort__Executor *e = kl == 22 ? cohort__executor__unpack(NULL, vl, v) : NULL;
  if (!e) return fail(a, "an executor does not decode");
  a->stk += (u128)e->stake + e->unbonding + e->del_tokens + e->del_unbonding + e->del_pending;
  if (a->nx == a->xcap) {
    size_t cap = a->xcap ? 2 * a->xcap : 16;
    aexec *p = realloc(a->x, cap * sizeof *p);
    if (!p) {
      cohort__executor__free_unpacked(e, NULL);
      a->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    a->x = p;
    a->xcap = cap;
  }
  aexec *x = &a->x[a->nx++];
  memset(x, 0, sizeof *x);
  memcpy(x->id, k + 2, 20);
  x->shares = e->del_shares;
  x->unbonding = e->del_unbonding;
  x->pending = e->del_pending;
  /* a waiting delegation waits for a seat the executor holds */
  uint8_t wk[22] = {'w', '/'};
  memcpy(wk + 2, k + 2, 20);
  if (e->del_pending && !has_prefix(a, wk, sizeof wk)) {
    cohort__executor__free_unpacked(e, NULL);
    return a->rc ? 1 : fail(a, "an executor has waiting delegations and holds no seat");
  }
  int bad = sk_u128_get(&e->reward_acc, &x->acc) || (e->del_tokens && !e->del_shares);
  cohort__executor__free_unpacked(e, NULL);
  return bad ? fail(a, "an executor's reward_acc is malformed or it has delegated tokens and no "
                       "shares") : 0;
}

/* xd/ del ex -> Delegation; its xv/ ex del key */
static int v_xd(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_xd++;
  Cohort__Delegation *d = kl == 43 ? cohort__delegation__unpack(NULL, vl, v) : NULL;
  aexec *x = d ? find_exec(a, k + 23) : NULL;
  if (!x || d->shares == 0) {
    if (d) cohort__delegation__free_unpacked(d, NULL);
    return fail(a, "an executor delegation does not decode, has no shares or names no executor");
  }
  x->shares_seen += d->shares;
  sk_delegation sd;
  sd.shares = d->shares;
  uint64_t owed;
  int bad = sk_u128_get(&d->reward_start, &sd.reward_start) || distr_owed(x->acc, &sd, &owed);
  cohort__delegation__free_unpacked(d, NULL);
  if (bad) return fail(a, "an executor delegation's pending reward is malformed or reaches 2^64");
  a->withdrawable += owed;
  uint8_t vk[43] = {'x', 'v', '/'};
  memcpy(vk + 3, k + 23, 20);
  memcpy(vk + 23, k + 3, 20);
  if (!has_key(a, vk, sizeof vk)) return a->rc ? 1 : fail(a, "an executor delegation has no xv/ key");
  return 0;
}

/* xw/ del ex -> amount, height (waiting, docs/staking.md §8); its xp/ key */
static int v_xw(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_xw++;
  aexec *x = kl == 43 && vl == 16 ? find_exec(a, k + 23) : NULL;
  if (!x || core_get_u64be(v) == 0)
    return fail(a, "a waiting executor delegation does not decode, is empty or names no executor");
  x->pending_seen += core_get_u64be(v);
  uint8_t pk[51] = {'x', 'p', '/'}; /* xp/ ex height del */
  memcpy(pk + 3, k + 23, 20);
  memcpy(pk + 23, v + 8, 8);
  memcpy(pk + 31, k + 3, 20);
  if (!has_key(a, pk, sizeof pk))
    return a->rc ? 1 : fail(a, "a waiting executor delegation has no xp/ key at its height");
  return 0;
}

/* xq/ rel ex del created -> UnbondingDelegation; its xu/ and xe/ keys */
static int v_xq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_xq++;
  Cohort__UnbondingDelegation *u =
      kl == 59 ? cohort__unbonding_delegation__unpack(NULL, vl, v) : NULL;
  aexec *x = u ? find_exec(a, k + 11) : NULL;
  int bad = !x || u->amount > u->initial || u->height != core_get_u64be(k + 51);
  if (!bad) x->unbonding_seen += u->amount;
  if (u) cohort__unbonding_delegation__free_unpacked(u, NULL);
  if (bad) return fail(a, "an executor unbonding entry does not decode, names no executor or "
                          "holds more than it started with");
  uint8_t ik[59] = {'x', 'u', '/'}; /* xu/ ex created del rel */
  memcpy(ik + 3, k + 11, 20);
  memcpy(ik + 23, k + 51, 8);
  memcpy(ik + 31, k + 31, 20);
  memcpy(ik + 51, k + 3, 8);
  int ok = has_key(a, ik, sizeof ik);
  memcpy(ik, "xe/", 3); /* xe/ del ex rel created */
  memcpy(ik + 3, k + 31, 20);
  memcpy(ik + 23, k + 11, 20);
  memcpy(ik + 43, k + 3, 8);
  memcpy(ik + 51, k + 51, 8);
  ok = ok && has_key(a, ik, sizeof ik);
  if (!ok) return a->rc ? 1 : fail(a, "an executor unbonding entry misses its xu/ or xe/ key");
  return 0;
}

static int v_task(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  if (kl != 34) return 0;
  (void)k;
  Cohort__Task *t = cohort__task__unpack(NULL, vl, v);
  if (!t) return fail(a, "a task does not decode");
  a->stk += t->bond;
  cohort__task__free_unpacked(t, NULL);
  return 0;
}

static int v_val(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  Cohort__ValidatorInfo *m = cohort__validator_info__unpack(NULL, vl, v);
  if (!m || kl != SK_VAL_KEY || m->operator_.len != 20 || memcmp(m->operator_.data, k + 3, 20) ||
      m->pubkey.len != 32) {
    if (m) cohort__validator_info__free_unpacked(m, NULL);
    return fail(a, "a validator record does not decode or is under another key");
  }
  if (a->nv == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 16;
    aval *p = realloc(a->v, cap * sizeof *p);
    if (!p) {
      cohort__validator_info__free_unpacked(m, NULL);
      a->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    a->v = p;
    a->cap = cap;
  }
  aval *x = &a->v[a->nv++];
  memset(x, 0, sizeof *x);
  memcpy(x->op, m->operator_.data, 20);
  memcpy(x->pubkey, m->pubkey.data, 32);
  x->tokens = m->tokens;
  x->shares = m->shares;
  x->jailed_until = m->jailed_until;
  x->tombstoned = m->tombstoned;
  x->commission_next_at = m->commission_next_at;
  uint64_t h = a->st->meta ? a->st->meta->height : 0;
  int bad = sk_u128_get(&m->reward_acc, &x->acc) || (m->tombstoned && m->jailed_until != UINT64_MAX);
  /* commission: within its fixed limits; an announced one is due after
   * this height (the end of its block applied it) */
  if (m->commission_bps > m->max_commission_bps || m->max_change_bps > m->max_commission_bps ||
      m->max_commission_bps > 10000 ||
      (m->commission_next_at && (m->commission_next_at <= h ||
                                 m->commission_next_bps > m->max_commission_bps)) ||
      (!m->commission_next_at && m->commission_next_bps)) {
    cohort__validator_info__free_unpacked(m, NULL);
    return fail(a, "a validator's commission breaks its limits, or an announced one is overdue");
  }
  a->n_next += m->commission_next_at != 0;
  a->tokens += m->tokens;
  a->stk += m->tokens;
  a->withdrawable += m->commission_owed;
  if (!m->jailed_until && !m->tombstoned && m->tokens) a->bonded_n++;
  cohort__validator_info__free_unpacked(m, NULL);
  return bad ? fail(a, "a validator's reward_acc is malformed or it is tombstoned and not jailed")
             : 0;
}

static int v_key(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_vk++;
  aval *x = vl == 20 && kl == 35 ? find_val(a, v) : NULL;
  if (!x || memcmp(x->pubkey, k + 3, 32)) return fail(a, "a vk/ key names no validator with it");
  return 0;
}

static int v_pow(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  audit *a = ctx;
  a->n_pow++;
  aval *x = kl == SK_POW_KEY ? find_val(a, k + 11) : NULL;
  if (!x || x->jailed_until || x->tombstoned || !x->tokens ||
      UINT64_MAX - core_get_u64be(k + 3) != x->tokens)
    return fail(a, "the power index has a key of a validator that is not bonded at those tokens");
  return 0;
}

/* A proposal's depositors count (docs/staking.md §5 "Deposit"). */
static int v_gp(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  (void)k;
  Cohort__GovProposal *p = kl == 11 ? cohort__gov_proposal__unpack(NULL, vl, v) : NULL;
  if (!p) return fail(a, "a proposal record does not decode");
  a->gp_depositors += p->depositors;
  cohort__gov_proposal__free_unpacked(p, NULL);
  return 0;
}

static int v_dl(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_dl++;
  Cohort__Delegation *d = kl == SK_DEL_KEY ? cohort__delegation__unpack(NULL, vl, v) : NULL;
  aval *x = d ? find_val(a, k + 23) : NULL;
  if (!x || d->shares == 0) {
    if (d) cohort__delegation__free_unpacked(d, NULL);
    return fail(a, "a delegation does not decode, has no shares or names no validator");
  }
  x->shares_seen += d->shares;
  sk_validator sv;
  sk_delegation sd;
  memset(&sv, 0, sizeof sv);
  sv.reward_acc = x->acc;
  sd.shares = d->shares;
  uint64_t owed;
  int bad = sk_u128_get(&d->reward_start, &sd.reward_start) || distr_pending(&sv, &sd, &owed);
  cohort__delegation__free_unpacked(d, NULL);
  if (bad) return fail(a, "a delegation's pending reward is malformed or reaches 2^64");
  a->withdrawable += owed;
  uint8_t vk[SK_DEL_KEY];
  memcpy(vk, SK_DELV, 3);
  memcpy(vk + 3, k + 23, 20);
  memcpy(vk + 23, k + 3, 20);
  if (!has_key(a, vk, sizeof vk)) return a->rc ? 1 : fail(a, "a delegation has no dv/ key");
  return 0;
}

static int v_dv(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl, (void)v, (void)vl;
  ((audit *)ctx)->n_dv++;
  return 0;
}

static int v_uq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_uq++;
  Cohort__UnbondingDelegation *u =
      kl == SK_UBQ_KEY ? cohort__unbonding_delegation__unpack(NULL, vl, v) : NULL;
  if (!u || k[11] != SK_ROLE_DELEGATION || u->amount > u->initial) {
    if (u) cohort__unbonding_delegation__free_unpacked(u, NULL);
    return fail(a, "an unbonding entry does not decode or holds more than it started with");
  }
  a->unbonding += u->amount;
  a->stk += u->amount;
  cohort__unbonding_delegation__free_unpacked(u, NULL);
  uint8_t ik[SK_UB_IDX_KEY];
  memcpy(ik, SK_UBV, 3); /* uv/ op rel del */
  memcpy(ik + 3, k + 12, 20);
  memcpy(ik + 23, k + 3, 8);
  memcpy(ik + 31, k + 32, 20);
  int ok = has_key(a, ik, sizeof ik);
  memcpy(ik, SK_UBD, 3); /* ud/ del op rel */
  memcpy(ik + 3, k + 32, 20);
  memcpy(ik + 23, k + 12, 20);
  memcpy(ik + 43, k + 3, 8);
  ok = ok && has_key(a, ik, sizeof ik);
  if (!ok) return a->rc ? 1 : fail(a, "an unbonding entry misses its uv/ or ud/ key");
  return 0;
}

static int v_rq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  audit *a = ctx;
  a->n_rq++;
  Cohort__Redelegation *r = kl == SK_RD_KEY ? cohort__redelegation__unpack(NULL, vl, v) : NULL;
  if (!r) return fail(a, "a redelegation entry does not decode");
  cohort__redelegation__free_unpacked(r, NULL);
  uint8_t ik[SK_RD_KEY];
  memcpy(ik, SK_RDV, 3); /* rv/ src rel dst del */
  memcpy(ik + 3, k + 11, 20);
  memcpy(ik + 23, k + 3, 8);
  memcpy(ik + 31, k + 31, 40);
  int ok = has_key(a, ik, sizeof ik);
  memcpy(ik, SK_RDD, 3); /* rd/ del dst rel src */
  memcpy(ik + 3, k + 51, 20);
  memcpy(ik + 23, k + 31, 20);
  memcpy(ik + 43, k + 3, 8);
  memcpy(ik + 51, k + 11, 20);
  ok = ok && has_key(a, ik, sizeof ik);
  if (!ok) return a->rc ? 1 : fail(a, "a redelegation entry misses its rv/ or rd/ key");
  return 0;
}

static int v_cq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v;
  audit *a = ctx;
  a->n_cq++;
  aval *x = kl == SK_COMM_KEY && vl == 0 ? find_val(a, k + 11) : NULL;
  if (!x || x->commission_next_at != core_get_u64be(k + 3))
    return fail(a, "a cq/ key names no validator with a commission announced for that height");
  return 0;
}

static int v_count(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl, (void)v, (void)vl;
  (*(size_t *)ctx)++;
  return 0;
}

static int pool(audit *a, const char *key, uint64_t *crd, uint64_t *stk) {
  uint8_t *v;
  size_t vl;
  *crd = *stk = 0;
  int rc = kv_get(a->st->kv, (const uint8_t *)key, strlen(key), &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  rc = state_decode_account(v, vl, crd, stk, NULL);
  free(v);
  return rc;
}

static int scan(audit *a, const char *prefix, kv_visit_fn fn, void *ctx) {
  if (a->rc) return a->rc;
  int rc = kv_scan(a->st->kv, (const uint8_t *)prefix, strlen(prefix), fn, ctx);
  if (a->rc) return a->rc;
  return rc < 0 ? rc : COHORT_OK;
}

int state_audit(state *st, state_audit_report *r, core_errbuf *eb) {
  audit a;
  memset(&a, 0, sizeof a);
  a.st = st;
  a.eb = eb;
  state_audit_report rep;
  memset(&rep, 0, sizeof rep);
  uint64_t c, esc, x;
  int rc = pool(&a, KEY_SUPPLY, &rep.crd_supply, &rep.stk_supply);
  if (!rc) rc = pool(&a, "s/escrow", &esc, &x);
  if (!rc) rc = pool(&a, "s/fees", &rep.fees, &x);
  if (!rc) rc = pool(&a, "s/rewards", &rep.rewards, &x);
  if (!rc) rc = pool(&a, "s/community", &rep.community, &x);
  if (!rc) rc = pool(&a, "s/gov", &c, &rep.gov);
  if (rc) return rc;
  a.crd = (u128)esc + rep.fees + rep.rewards + rep.community;
  a.stk = rep.gov;
  if (!rc) rc = scan(&a, "a/", v_acc, &a);
  if (!rc) rc = scan(&a, "e/", v_exec, &a);
  if (!rc) rc = scan(&a, "t/", v_task, &a);
  if (!rc) rc = scan(&a, SK_VAL, v_val, &a);
  if (!rc) rc = scan(&a, SK_KEY, v_key, &a);
  if (!rc) rc = scan(&a, SK_POW, v_pow, &a);
  if (!rc) rc = scan(&a, SK_DEL, v_dl, &a);
  if (!rc) rc = scan(&a, SK_DELV, v_dv, &a);
  if (!rc) rc = scan(&a, SK_UBQ, v_uq, &a);
  if (!rc) rc = scan(&a, SK_UBV, v_count, &a.n_uv);
  if (!rc) rc = scan(&a, SK_UBD, v_count, &a.n_ud);
  if (!rc) rc = scan(&a, SK_RDQ, v_rq, &a);
  if (!rc) rc = scan(&a, SK_RDV, v_count, &a.n_rv);
  if (!rc) rc = scan(&a, SK_RDD, v_count, &a.n_rd);
  if (!rc) rc = scan(&a, "xd/", v_xd, &a);
  if (!rc) rc = scan(&a, "xv/", v_count, &a.n_xv);
  if (!rc) rc = scan(&a, "xq/", v_xq, &a);
  if (!rc) rc = scan(&a, "xu/", v_count, &a.n_xu);
  if (!rc) rc = scan(&a, "xe/", v_count, &a.n_xe);
  if (!rc) rc = scan(&a, "xw/", v_xw, &a);
  if (!rc) rc = scan(&a, "xp/", v_count, &a.n_xp);
  for (size_t i = 0; !rc && i < a.nx; i++)
    if (a.x[i].shares_seen != a.x[i].shares || a.x[i].unbonding_seen != a.x[i].unbonding ||
        a.x[i].pending_seen != a.x[i].pending) {
      fail(&a, "an executor's del_shares, del_unbonding or del_pending differ from its "
               "delegations, unbonding entries and waiting delegations");
      rc = a.rc;
    }
  if (!rc && (a.n_xd != a.n_xv || a.n_xq != a.n_xu || a.n_xq != a.n_xe || a.n_xw != a.n_xp))
    fail(&a, "executor delegations or unbonding entries and their index keys differ in number"),
        rc = a.rc;
  if (!rc) rc = scan(&a, "gp/", v_gp, &a);
  if (!rc) rc = scan(&a, "gd/", v_count, &a.n_gd);
  if (!rc) rc = scan(&a, SK_COMM, v_cq, &a);
  if (!rc) rc = scan(&a, SK_FRESH, v_count, &a.n_df);
  if (!rc && a.n_df) fail(&a, "a df/ key outlived its block"), rc = a.rc;
  if (!rc && a.n_cq != a.n_next)
    fail(&a, "announced commissions and their cq/ keys differ in number"), rc = a.rc;
  for (size_t i = 0; !rc && i < a.nv; i++)
    if (a.v[i].shares_seen != a.v[i].shares) {
      fail(&a, "a validator's shares differ from the sum of its delegations' shares");
      rc = a.rc;
    }
  if (!rc && a.n_vk != a.nv) fail(&a, "vk/ keys and validators differ in number"), rc = a.rc;
  if (!rc && a.n_pow != a.bonded_n)
    fail(&a, "the power index misses a bonded validator"), rc = a.rc;
  if (!rc && (a.n_dl != a.n_dv))
    fail(&a, "delegations and their dv/ keys differ in number"), rc = a.rc;
  if (!rc && (a.n_uq != a.n_uv || a.n_uq != a.n_ud))
    fail(&a, "unbonding entries and their uv/, ud/ keys differ in number"), rc = a.rc;
  if (!rc && (a.n_rq != a.n_rv || a.n_rq != a.n_rd))
    fail(&a, "redelegation entries and their rv/, rd/ keys differ in number"), rc = a.rc;
  if (!rc && a.gp_depositors != a.n_gd)
    fail(&a, "the proposals' depositors counts differ from their gd/ records"), rc = a.rc;
  if (!rc && a.withdrawable > rep.rewards)
    fail(&a, "s/rewards holds less than what delegators and operators may withdraw"), rc = a.rc;
  if (!rc && a.crd != rep.crd_supply)
    fail(&a, "CRD: balances + escrow + fees + rewards + community != supply"), rc = a.rc;
  if (!rc && a.stk != rep.stk_supply)
    fail(&a, "STK: balances + executor stakes and delegations + task bonds + validator tokens + "
             "unbonding + s/gov != supply"), rc = a.rc;
  rep.crd_counted = a.crd;
  rep.stk_counted = a.stk;
  rep.bonded = a.tokens;
  rep.unbonding = a.unbonding;
  rep.withdrawable = a.withdrawable > UINT64_MAX ? UINT64_MAX : (uint64_t)a.withdrawable;
  rep.validators = a.nv;
  rep.delegations = a.n_dl;
  if (r) *r = rep;
  free(a.v);
  free(a.x);
  return rc;
}
