/* state/market/market_delegate.c — delegation to executors (role 3,
 * docs/staking.md §8): DelegateExecutor, UndelegateExecutor, withdrawing
 * their rewards, the delegators' part of an executor's pay, the
 * delegators' side of its slashes, and the unbondings that mature.
 *
 * A delegation ("xd/" + del + ex, "xv/" + ex + del):
 *   absent --DelegateExecutor while ex holds no seat--> ACTIVE (shares > 0)
 *   --UndelegateExecutor of all of it--> absent. Every change of its
 *   shares first pays its pending reward (settle). A slash lowers the
 *   executor's del_tokens, not shares, and needs no event.
 * A waiting amount ("xw/" + del + ex = amount, height; "xp/" + ex + height
 *   + del): DelegateExecutor while ex holds a seat --> WAITING (no weight,
 *   pay or slash; more of it in a later block moves it to that height)
 *   --the last seat of ex released--> bonded into the delegation (or, if it
 *   buys no share, back to the delegator), deleted; or --UndelegateExecutor
 *   of some or all of it--> paid back at once (it backed nothing). The
 *   executor's del_pending is always the sum of the amounts. Bonded stake
 *   therefore never grows while ex holds a seat: each seat's pay and
 *   slashes reach only stake that was there at its draw.
 * An unbonding entry ("xq/" + release + ex + del + created, with "xu/" and
 * "xe/"):
 *   UndelegateExecutor --> PENDING (a slash for a seat drawn at a height <=
 *   created lowers amount) --end of block `release`--> paid, deleted; or,
 *   while ex holds a seat drawn at a height <= created, moved to release +
 *   unbonding_blocks (PENDING still).
 * The executor's del_unbonding is always the sum of its entries' amounts.
 *
 * Arithmetic as in state/staking/: u64 amounts, exact 128-bit products,
 * floors; a total that overflows is COHORT_ERR_CORRUPT (the supply rule
 * bounds it). A message that breaks a rule is a result (res), written
 * nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/distr/distr.h"
#include "state/market/market_int.h"
#include "state/staking/staking.h"

typedef unsigned __int128 u128;

#define XD "xd/"
#define XV "xv/"
#define XQ "xq/"
#define XU "xu/"
#define XE "xe/"
#define XW "xw/"
#define XP "xp/"
#define XD_KEY 43 /* 3 + 20 + 20 */
#define XQ_KEY 59 /* 3 + 8 + 20 + 20 + 8 */
#define XP_KEY 51 /* 3 + 20 + 8 + 20 */

static void xq_key(uint8_t k[XQ_KEY], uint64_t rel, const uint8_t ex[20], const uint8_t del[20],
                   uint64_t created) {
  memcpy(k, XQ, 3);
  core_put_u64be(k + 3, rel);
  memcpy(k + 11, ex, 20);
  memcpy(k + 31, del, 20);
  core_put_u64be(k + 51, created);
}
static void xu_key(uint8_t k[XQ_KEY], uint64_t rel, const uint8_t ex[20], const uint8_t del[20],
                   uint64_t created) {
  memcpy(k, XU, 3);
  memcpy(k + 3, ex, 20);
  core_put_u64be(k + 23, created);
  memcpy(k + 31, del, 20);
  core_put_u64be(k + 51, rel);
}
static void xe_key(uint8_t k[XQ_KEY], uint64_t rel, const uint8_t ex[20], const uint8_t del[20],
                   uint64_t created) {
  memcpy(k, XE, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, ex, 20);
  core_put_u64be(k + 43, rel);
  core_put_u64be(k + 51, created);
}

/* ---- the executor's side ---- */

/* The most delegated STK e may take and count: max_x x its own stake. */
static uint64_t del_cap(const Cohort__Executor *e, uint32_t max_x) {
  u128 cap = (u128)e->stake * max_x;
  return cap > UINT64_MAX ? UINT64_MAX : (uint64_t)cap;
}

uint64_t mk_del_counted(const Cohort__Executor *e, uint32_t max_x) {
  uint64_t cap = del_cap(e, max_x);
  return e->del_tokens < cap ? e->del_tokens : cap;
}

uint64_t state_exec_draw_weight(const Cohort__Executor *e, const Cohort__Params *p) {
  return e->stake + mk_del_counted(e, p->exec_delegation_max_x); /* < the STK supply */
}

uint32_t mk_commission(const Cohort__Executor *e, uint64_t h) {
  return e->commission_at && h >= e->commission_at ? e->commission_next : e->commission_bps;
}

int mk_set_commission(state_exec *x, Cohort__Executor *e, uint32_t c) {
  uint32_t now = mk_commission(e, x->height);
  if (e->commission_at && x->height < e->commission_at && c == e->commission_next)
    return COHORT_OK; /* the raise already waiting: restated, kept as it is */
  e->commission_bps = now;
  e->commission_next = 0;
  e->commission_at = 0;
  if (c <= now) {
    e->commission_bps = c; /* a cut or no change: at once */
    return COHORT_OK;
  }
  e->commission_next = c; /* a raise: after every delegator could leave */
  return core_add_u64(&e->commission_at, x->height, mk_params(x)->unbonding_blocks)
             ? COHORT_ERR_CORRUPT
             : COHORT_OK;
}

int mk_exec_empty(const Cohort__Executor *e, uint64_t h) {
  return !e->stake && !e->unbonding && !e->active_tasks && !e->seat_lock && e->jailed_until <= h &&
         !e->del_tokens && !e->del_shares && !e->del_unbonding && !e->del_pending;
}

static int acc_get(const Cohort__Executor *e, u128 *acc) {
  return sk_u128_get(&e->reward_acc, acc);
}

static int acc_put(Cohort__Executor *e, u128 acc) {
  uint8_t b[16];
  sk_u128_put(b, acc);
  return mk_set_bytes(&e->reward_acc, b, 16);
}

/* ---- delegation records ---- */

static void xd_key(uint8_t k[XD_KEY], const uint8_t del[20], const uint8_t ex[20]) {
  memcpy(k, XD, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, ex, 20);
}

static int xd_load(state_exec *x, const uint8_t del[20], const uint8_t ex[20], sk_delegation *d) {
  uint8_t k[XD_KEY];
  xd_key(k, del, ex);
  return sk_delegation_read(x, k, sizeof k, d);
}

static int xd_save(state_exec *x, const uint8_t del[20], const uint8_t ex[20],
                   const sk_delegation *d) {
  uint8_t k[XD_KEY], vk[XD_KEY];
  xd_key(k, del, ex);
  memcpy(vk, XV, 3);
  memcpy(vk + 3, ex, 20);
  memcpy(vk + 23, del, 20);
  return sk_delegation_write(x, k, vk, sizeof k, d);
}

/* Pay del what d earned at e (from s/rewards) and restart it at e's acc. */
static int settle(state_exec *x, const uint8_t del[20], const Cohort__Executor *e,
                  sk_delegation *d, uint64_t *paid) {
  u128 acc;
  uint64_t owed;
  if (paid) *paid = 0;
  int rc = acc_get(e, &acc);
  if (!rc) rc = distr_owed(acc, d, &owed);
  if (!rc) rc = bank_from_pool(x, BANK_POOL_REWARDS, del, BANK_CRD, owed);
  if (rc) return rc;
  d->reward_start = acc;
  if (paid) *paid = owed;
  return COHORT_OK;
}

int mk_del_pending(const Cohort__Executor *e, const sk_delegation *d, uint64_t *owed) {
  u128 acc;
  int rc = acc_get(e, &acc);
  return rc ? rc : distr_owed(acc, d, owed);
}

typedef struct {
  uint8_t (*ids)[20];
  size_t n, cap;
} idlist;

static int collect_ex(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  idlist *l = ctx;
  if (kl != XD_KEY) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    void *p = realloc(l->ids, cap * 20);
    if (!p) return COHORT_ERR_NOMEM;
    l->ids = p;
    l->cap = cap;
  }
  memcpy(l->ids[l->n++], k + 23, 20);
  return 0;
}

/* Refuse (too_large, in res) a new executor delegation of del when it has
 * max of them already: each executor counted once, bonded ("xd/"),
 * waiting ("xw/") or both. Each list holds at most max entries. */
static int count_delegations(state_exec *x, const uint8_t del[20], uint32_t max,
                             state_tx_result *res) {
  idlist l = {0};
  uint8_t pre[23];
  memcpy(pre + 3, del, 20);
  memcpy(pre, XD, 3);
  int rc = sx_scan(x, pre, sizeof pre, collect_ex, &l);
  size_t bonded = l.n;
  memcpy(pre, XW, 3);
  if (rc >= 0) rc = sx_scan(x, pre, sizeof pre, collect_ex, &l);
  rc = rc < 0 ? rc : COHORT_OK;
  size_t n = bonded;
  for (size_t i = bonded; !rc && i < l.n; i++) {
    int dup = 0;
    for (size_t j = 0; j < bonded && !dup; j++) dup = !memcmp(l.ids[i], l.ids[j], 20);
    n += !dup;
  }
  free(l.ids);
  if (!rc && n >= max)
    rc = mk_fail(res, COHORT_ERR_TOO_LARGE, "delegate_executor: the sender has %zu executor "
                 "delegations (params.max_delegations)", n);
  return rc;
}

/* The executor a message names: *e, or NULL with the refusal in res. */
static int load_target(state_exec *x, const uint8_t ex[20], const char *what, char who[17],
                       Cohort__Executor **e, state_tx_result *res) {
  int rc;
  sk_short(who, ex);
  *e = mk_get_exec(x, ex, &rc);
  if (rc || *e) return rc;
  return mk_fail(res, COHORT_ERR_NOT_FOUND, "%s: %s.. is not a registered executor", what, who);
}

/* The shares `amount` buys of e's delegators' side now (0: none). */
static u128 shares_for(const Cohort__Executor *e, uint64_t amount) {
  return e->del_shares == 0 ? amount
         : e->del_tokens == 0 ? 0
                              : (u128)amount * e->del_shares / e->del_tokens;
}

/* Bond `amount` (already out of del's balance) into del's delegation to e:
 * its reward settled first, then the shares (docs/staking.md §2 math).
 * e is updated in memory (the caller saves it). *bought = 0: it buys no
 * share, nothing changed. */
static int bond(state_exec *x, const uint8_t del[20], const uint8_t ex[20], Cohort__Executor *e,
                uint64_t amount, int *bought) {
  u128 sh = shares_for(e, amount);
  *bought = 0;
  if (sh == 0 || sh > UINT64_MAX - e->del_shares || amount > UINT64_MAX - e->del_tokens)
    return COHORT_OK;
  sk_delegation d;
  int rc = xd_load(x, del, ex, &d), exists = rc == COHORT_OK;
  if (rc && rc != COHORT_ERR_NOT_FOUND) return rc;
  u128 acc;
  if ((rc = acc_get(e, &acc))) return rc;
  if (exists) {
    if ((rc = settle(x, del, e, &d, NULL))) return rc;
  } else {
    memset(&d, 0, sizeof d);
    d.reward_start = acc;
  }
  d.shares += (uint64_t)sh;
  d.height = x->height;
  e->del_shares += (uint64_t)sh;
  e->del_tokens += amount;
  if (!e->reward_acc.len && (rc = acc_put(e, acc))) return rc;
  if ((rc = xd_save(x, del, ex, &d))) return rc;
  *bought = 1;
  return COHORT_OK;
}

/* ---- waiting amounts (docs/staking.md §8 "Waiting delegations") ---- */

static void xw_key(uint8_t k[XD_KEY], const uint8_t del[20], const uint8_t ex[20]) {
  memcpy(k, XW, 3);
  memcpy(k + 3, del, 20);
  memcpy(k + 23, ex, 20);
}

static void xp_key(uint8_t k[XP_KEY], const uint8_t ex[20], uint64_t h, const uint8_t del[20]) {
  memcpy(k, XP, 3);
  memcpy(k + 3, ex, 20);
  core_put_u64be(k + 23, h);
  memcpy(k + 31, del, 20);
}

int mk_del_waiting(state_exec *x, const uint8_t del[20], const uint8_t ex[20], uint64_t *amount,
                   uint64_t *height) {
  uint8_t k[XD_KEY], *v;
  size_t vl;
  xw_key(k, del, ex);
  int rc = sx_get(x, k, sizeof k, &v, &vl);
  if (rc) return rc;
  if (vl != 16) rc = COHORT_ERR_CORRUPT;
  else {
    *amount = core_get_u64be(v);
    *height = core_get_u64be(v + 8);
  }
  free(v);
  return rc;
}

/* Add amount to del's waiting amount at ex (e in memory, saved by the
 * caller): it waits from this height on, the earlier part with it. */
static int wait_add(state_exec *x, const uint8_t del[20], const uint8_t ex[20],
                    Cohort__Executor *e, uint64_t amount) {
  uint64_t old = 0, h = 0;
  uint8_t k[XD_KEY], pk[XP_KEY], v[16];
  int rc = mk_del_waiting(x, del, ex, &old, &h);
  if (rc == COHORT_OK) {
    xp_key(pk, ex, h, del);
    if ((rc = sx_del(x, pk, sizeof pk))) return rc;
  } else if (rc != COHORT_ERR_NOT_FOUND) {
    return rc;
  }
  if (core_add_u64(&old, old, amount) || core_add_u64(&e->del_pending, e->del_pending, amount))
    return COHORT_ERR_CORRUPT; /* under the STK supply */
  core_put_u64be(v, old);
  core_put_u64be(v + 8, x->height);
  xw_key(k, del, ex);
  xp_key(pk, ex, x->height, del);
  rc = sx_put(x, k, sizeof k, v, sizeof v);
  return rc ? rc : sx_put(x, pk, sizeof pk, NULL, 0);
}

typedef struct {
  uint8_t (*keys)[XP_KEY];
  size_t n, cap;
  int rc;
} admit_list;

static int collect_admit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  admit_list *l = ctx;
  if (kl != XP_KEY) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    void *p = realloc(l->keys, cap * XP_KEY);
    if (!p) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->keys = p;
    l->cap = cap;
  }
  memcpy(l->keys[l->n++], k, XP_KEY);
  return 0;
}

int mk_del_admit(state_exec *x, const uint8_t ex[20]) {
  int rc;
  Cohort__Executor *e = mk_get_exec(x, ex, &rc);
  if (!e) return rc;
  if (!e->del_pending) {
    cohort__executor__free_unpacked(e, NULL);
    return COHORT_OK;
  }
  admit_list l = {NULL, 0, 0, COHORT_OK};
  uint8_t pre[23];
  memcpy(pre, XP, 3);
  memcpy(pre + 3, ex, 20);
  uint64_t oldest;
  /* only once ex holds no seat at all: a seat drawn while an amount waited
   * did not weigh it, so bonding it before that seat settles would give it
   * a share of that seat's pay and slashes (attacker review) */
  if (!(rc = mk_seat_oldest(x, ex, &oldest)) && !oldest) {
    rc = sx_scan(x, pre, sizeof pre, collect_admit, &l);
    if (l.rc) rc = l.rc;
    rc = rc < 0 ? rc : COHORT_OK;
  }
  for (size_t i = 0; !rc && i < l.n; i++) {
    const uint8_t *del = l.keys[i] + 31;
    uint64_t amt, h;
    int bought;
    uint8_t k[XD_KEY];
    rc = mk_del_waiting(x, del, ex, &amt, &h);
    if (rc == COHORT_ERR_NOT_FOUND || (!rc && (h != core_get_u64be(l.keys[i] + 23) ||
                                               amt > e->del_pending)))
      rc = COHORT_ERR_CORRUPT;
    if (rc) break;
    e->del_pending -= amt;
    if ((rc = bond(x, del, ex, e, amt, &bought))) break;
    if (!bought && (rc = bank_credit(x, del, BANK_STK, amt))) break; /* nothing to buy: back */
    xw_key(k, del, ex);
    if (!(rc = sx_del(x, k, sizeof k))) rc = sx_del(x, l.keys[i], XP_KEY);
  }
  if (!rc && l.n) rc = mk_put_exec(x, ex, e);
  if (!rc && l.n) rc = mk_bump_epoch(x); /* its draw weight changed */
  free(l.keys);
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

/* ---- DelegateExecutor ---- */

int mk_exec_delegate(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgDelegateExecutor *m = tx->body->delegate_executor;
  const Cohort__Params *p = mk_params(x);
  const uint8_t *me = tx->sender, *ex = m->executor.data;
  char who[17];
  Cohort__Executor *e;
  int rc = load_target(x, ex, "delegate_executor", who, &e, res);
  if (rc || !e) return rc;
  sk_delegation d;
  uint64_t c, s, n, cap = del_cap(e, p->exec_delegation_max_x);
  if (m->amount < p->min_delegation) {
    rc = mk_fail(res, COHORT_ERR_AMOUNT, "delegate_executor: amount %llu is below "
                 "params.min_delegation %llu", (unsigned long long)m->amount,
                 (unsigned long long)p->min_delegation);
    goto out;
  }
  if ((rc = bank_get(x, me, &c, &s, &n))) goto out;
  if (s < m->amount) {
    rc = mk_fail(res, COHORT_ERR_FUNDS, "delegate_executor: amount %llu exceeds the STK balance "
                 "%llu", (unsigned long long)m->amount, (unsigned long long)s);
    goto out;
  }
  uint64_t held = e->del_tokens + e->del_pending; /* both under the STK supply */
  if (held > cap || m->amount > cap - held) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "delegate_executor: %s..'s own stake %llu backs at most "
                 "%llu delegated (params.exec_delegation_max_x = %u); %llu are delegated "
                 "(%llu of them waiting), room for %llu", who, (unsigned long long)e->stake,
                 (unsigned long long)cap, p->exec_delegation_max_x, (unsigned long long)held,
                 (unsigned long long)e->del_pending,
                 (unsigned long long)(held > cap ? 0 : cap - held));
    goto out;
  }
  uint64_t wamt, wh;
  rc = xd_load(x, me, ex, &d);
  int exists = rc == COHORT_OK;
  if (rc && rc != COHORT_ERR_NOT_FOUND) goto out;
  if (!exists) {
    rc = mk_del_waiting(x, me, ex, &wamt, &wh);
    exists = rc == COHORT_OK;
    if (rc && rc != COHORT_ERR_NOT_FOUND) goto out;
  }
  rc = COHORT_OK;
  if (!exists && (rc = count_delegations(x, me, p->max_delegations, res))) goto out;
  u128 sh = shares_for(e, m->amount);
  if (sh == 0 || sh > UINT64_MAX - e->del_shares) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "delegate_executor: %llu buys no share of %s.. "
                 "(delegated tokens %llu, shares %llu)", (unsigned long long)m->amount, who,
                 (unsigned long long)e->del_tokens, (unsigned long long)e->del_shares);
    goto out;
  }
  /* a seat drawn before this block is open: the stake did not back it, so
   * it waits until no such seat is held (docs/staking.md §8) */
  uint64_t oldest;
  if ((rc = mk_seat_oldest(x, ex, &oldest))) goto out;
  if ((rc = bank_debit(x, me, BANK_STK, m->amount))) goto out;
  if (oldest) {
    if ((rc = wait_add(x, me, ex, e, m->amount))) goto out;
    rc = mk_put_exec(x, ex, e); /* the draw weight is unchanged */
    goto out;
  }
  int bought;
  if ((rc = bond(x, me, ex, e, m->amount, &bought))) goto out;
  if (!bought) {
    rc = COHORT_ERR_CORRUPT; /* checked above */
    goto out;
  }
  if ((rc = mk_put_exec(x, ex, e))) goto out;
  rc = mk_bump_epoch(x); /* its draw weight changed */
out:
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

/* ---- UndelegateExecutor ---- */

/* Take `amount` (> 0) of del's waiting amount wamt (from height wh) at ex
 * back to its balance: it never backed a seat, so no unbonding. e in
 * memory, saved here. */
static int unwait(state_exec *x, const uint8_t del[20], const uint8_t ex[20], Cohort__Executor *e,
                  uint64_t wamt, uint64_t wh, uint64_t amount, const char *who,
                  state_tx_result *res) {
  if (amount == 0 || amount > wamt)
    return mk_fail(res, COHORT_ERR_FUNDS, "undelegate_executor: %llu of the sender's delegation "
                   "to %s.. waits to take effect (until it holds no seat); undelegate 1 to %llu "
                   "of it first (back at once), the bonded part after", (unsigned long long)wamt,
                   who, (unsigned long long)wamt);
  if (wamt > e->del_pending) return COHORT_ERR_CORRUPT;
  uint8_t k[XD_KEY], pk[XP_KEY], v[16];
  xw_key(k, del, ex);
  xp_key(pk, ex, wh, del);
  int rc;
  if (amount == wamt) {
    if ((rc = sx_del(x, k, sizeof k)) || (rc = sx_del(x, pk, sizeof pk))) return rc;
  } else {
    core_put_u64be(v, wamt - amount);
    core_put_u64be(v + 8, wh);
    if ((rc = sx_put(x, k, sizeof k, v, sizeof v))) return rc;
  }
  e->del_pending -= amount;
  if ((rc = bank_credit(x, del, BANK_STK, amount))) return rc;
  return mk_put_exec(x, ex, e);
}

typedef struct {
  uint32_t n;
  uint64_t rel, created;
  int same;
} pend_ctx;

static int count_pend(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  pend_ctx *c = ctx;
  if (kl != XQ_KEY) return COHORT_ERR_CORRUPT;
  c->n++;
  if (core_get_u64be(k + 43) == c->rel && core_get_u64be(k + 51) == c->created) c->same = 1;
  return 0;
}

int mk_exec_undelegate(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUndelegateExecutor *m = tx->body->undelegate_executor;
  const Cohort__Params *p = mk_params(x);
  const uint8_t *me = tx->sender, *ex = m->executor.data;
  char who[17];
  Cohort__Executor *e;
  int rc = load_target(x, ex, "undelegate_executor", who, &e, res);
  if (rc || !e) return rc;
  sk_delegation d;
  uint64_t rel, out_shares, value;
  uint64_t wamt, wh;
  rc = mk_del_waiting(x, me, ex, &wamt, &wh);
  if (rc == COHORT_OK) { /* a waiting amount goes first, back at once */
    rc = unwait(x, me, ex, e, wamt, wh, m->amount, who, res);
    goto out;
  }
  if (rc != COHORT_ERR_NOT_FOUND) goto out;
  rc = xd_load(x, me, ex, &d);
  if (rc == COHORT_ERR_NOT_FOUND) {
    rc = mk_fail(res, COHORT_ERR_NOT_FOUND, "undelegate_executor: the sender has no delegation "
                 "to %s..", who);
    goto out;
  }
  if (rc) goto out;
  if (e->del_shares < d.shares) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  value = e->del_shares ? (uint64_t)((u128)d.shares * e->del_tokens / e->del_shares) : 0;
  if (value == 0) { /* slashed to nothing: the shares go, no entry (nothing to pay) */
    if ((rc = settle(x, me, e, &d, NULL))) goto out;
    e->del_shares -= d.shares;
    d.shares = 0;
    if (!(rc = xd_save(x, me, ex, &d))) rc = mk_put_exec(x, ex, e);
    goto out;
  }
  if (m->amount > value) {
    rc = mk_fail(res, COHORT_ERR_FUNDS, "undelegate_executor: amount %llu exceeds the "
                 "delegation's value %llu", (unsigned long long)m->amount,
                 (unsigned long long)value);
    goto out;
  }
  if (m->amount == value) {
    out_shares = d.shares;
  } else { /* del_tokens >= value > amount > 0: round against the leaver */
    u128 s = ((u128)m->amount * e->del_shares + e->del_tokens - 1) / e->del_tokens;
    out_shares = s > d.shares ? d.shares : (uint64_t)s;
  }
  if (core_add_u64(&rel, x->height, p->unbonding_blocks)) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  uint8_t pre[43];
  memcpy(pre, XE, 3);
  memcpy(pre + 3, me, 20);
  memcpy(pre + 23, ex, 20);
  pend_ctx pc = {0, rel, x->height, 0};
  if ((rc = sx_scan(x, pre, sizeof pre, count_pend, &pc)) < 0) goto out;
  rc = COHORT_OK;
  if (!pc.same && pc.n >= p->max_entries) {
    rc = mk_fail(res, COHORT_ERR_TOO_LARGE, "undelegate_executor: %u unbondings from this "
                 "executor are pending (params.max_entries); wait for one to complete", pc.n);
    goto out;
  }
  if ((rc = settle(x, me, e, &d, NULL))) goto out;
  d.shares -= out_shares;
  d.height = x->height;
  e->del_shares -= out_shares;
  e->del_tokens -= m->amount; /* value <= del_tokens */
  if (core_add_u64(&e->del_unbonding, e->del_unbonding, m->amount)) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  uint8_t qk[XQ_KEY], uk[XQ_KEY], ek[XQ_KEY];
  xq_key(qk, rel, ex, me, x->height);
  xu_key(uk, rel, ex, me, x->height);
  xe_key(ek, rel, ex, me, x->height);
  Cohort__UnbondingDelegation u = COHORT__UNBONDING_DELEGATION__INIT;
  Cohort__UnbondingDelegation *old = (Cohort__UnbondingDelegation *)sx_get_msg(
      x, qk, sizeof qk, &cohort__unbonding_delegation__descriptor, &rc);
  if (rc) goto out;
  if (old) { /* the same block: the same key */
    u.amount = old->amount;
    u.initial = old->initial;
    cohort__unbonding_delegation__free_unpacked(old, NULL);
  }
  if (core_add_u64(&u.amount, u.amount, m->amount) ||
      core_add_u64(&u.initial, u.initial, m->amount)) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  u.height = x->height;
  if ((rc = sx_put_msg(x, qk, sizeof qk, &u.base)) || (rc = sx_put(x, uk, sizeof uk, NULL, 0)) ||
      (rc = sx_put(x, ek, sizeof ek, NULL, 0)))
    goto out;
  if ((rc = xd_save(x, me, ex, &d))) goto out;
  if ((rc = mk_put_exec(x, ex, e))) goto out;
  rc = mk_bump_epoch(x);
out:
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

/* ---- withdrawing ---- */

static int withdraw_one(state_exec *x, const uint8_t del[20], const uint8_t ex[20], int *found) {
  int rc;
  *found = 0;
  Cohort__Executor *e = mk_get_exec(x, ex, &rc);
  if (!e) return rc;
  sk_delegation d;
  rc = xd_load(x, del, ex, &d);
  if (rc == COHORT_ERR_NOT_FOUND) rc = COHORT_OK;
  else if (!rc) {
    *found = 1;
    if (!(rc = settle(x, del, e, &d, NULL))) rc = xd_save(x, del, ex, &d);
  }
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

int market_withdraw_exec_rewards(state_exec *x, const uint8_t del[20], const uint8_t *ex,
                                 state_tx_result *res) {
  int found, rc;
  if (ex) {
    if ((rc = withdraw_one(x, del, ex, &found)) || found) return rc;
    char who[17];
    sk_short(who, ex);
    return mk_fail(res, COHORT_ERR_NOT_FOUND, "withdraw_rewards: the sender has no delegation "
                   "to executor %s..", who);
  }
  idlist l = {0};
  uint8_t pre[23];
  memcpy(pre, XD, 3);
  memcpy(pre + 3, del, 20);
  rc = sx_scan(x, pre, sizeof pre, collect_ex, &l); /* at most max_delegations */
  rc = rc < 0 ? rc : COHORT_OK;
  for (size_t i = 0; !rc && i < l.n; i++) {
    rc = withdraw_one(x, del, l.ids[i], &found);
    if (!rc && !found) rc = COHORT_ERR_CORRUPT;
  }
  free(l.ids);
  return rc;
}

/* ---- pay ---- */

int mk_del_pay(state_exec *x, const uint8_t ex[20], uint64_t net, uint64_t weight,
               uint64_t delegated, uint64_t *to_rewards) {
  int rc;
  *to_rewards = 0;
  if (!delegated || !weight || !net) return COHORT_OK;
  Cohort__Executor *e = mk_get_exec(x, ex, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  if (delegated > weight) rc = COHORT_ERR_CORRUPT;
  else if (e->del_shares) {
    uint64_t D = (uint64_t)((u128)net * delegated / weight);
    uint64_t K = (uint64_t)((u128)D * mk_commission(e, x->height) / 10000);
    uint64_t R = D - K;
    u128 acc;
    if (R && !(rc = acc_get(e, &acc))) {
      acc += ((u128)R << 64) / e->del_shares; /* modulo 2^128 */
      if (!(rc = acc_put(e, acc)) && !(rc = mk_put_exec(x, ex, e))) *to_rewards = R;
    }
  }
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

/* ---- slash ---- */

typedef struct {
  uint8_t (*keys)[XQ_KEY];
  size_t n, cap;
  uint64_t from;
  int rc;
} keylist;

static int collect_key(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  keylist *l = ctx;
  if (kl != XQ_KEY) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  if (core_get_u64be(k + 23) < l->from) return 0; /* left before the seat was drawn */
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    void *p = realloc(l->keys, cap * XQ_KEY);
    if (!p) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->keys = p;
    l->cap = cap;
  }
  memcpy(l->keys[l->n++], k, XQ_KEY);
  return 0;
}

int mk_del_slash(state_exec *x, const uint8_t ex[20], Cohort__Executor *e, uint32_t bps,
                 uint64_t seated, uint64_t *taken) {
  *taken = 0;
  uint64_t t = (uint64_t)((u128)e->del_tokens * bps / 10000);
  e->del_tokens -= t;
  keylist l = {NULL, 0, 0, seated, COHORT_OK};
  uint8_t pre[23];
  memcpy(pre, XU, 3);
  memcpy(pre + 3, ex, 20);
  int rc = e->del_unbonding ? sx_scan(x, pre, sizeof pre, collect_key, &l) : COHORT_OK;
  if (l.rc) rc = l.rc;
  rc = rc < 0 ? rc : COHORT_OK;
  for (size_t i = 0; !rc && i < l.n; i++) {
    const uint8_t *k = l.keys[i];
    uint8_t qk[XQ_KEY];
    xq_key(qk, core_get_u64be(k + 51), ex, k + 31, core_get_u64be(k + 23));
    Cohort__UnbondingDelegation *u = (Cohort__UnbondingDelegation *)sx_get_msg(
        x, qk, sizeof qk, &cohort__unbonding_delegation__descriptor, &rc);
    if (!u) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    uint64_t cut = (uint64_t)((u128)u->amount * bps / 10000);
    if (cut > e->del_unbonding || core_add_u64(&t, t, cut)) rc = COHORT_ERR_CORRUPT;
    if (!rc && cut) {
      u->amount -= cut;
      e->del_unbonding -= cut;
      rc = sx_put_msg(x, qk, sizeof qk, &u->base);
    }
    cohort__unbonding_delegation__free_unpacked(u, NULL);
  }
  free(l.keys);
  if (!rc) *taken = t;
  return rc;
}

/* ---- maturity at the end of block h ---- */

typedef struct {
  uint8_t (*keys)[XQ_KEY];
  uint64_t *amounts;
  size_t n, cap;
  int rc;
} due_list;

static int collect_due(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  due_list *l = ctx;
  Cohort__UnbondingDelegation *u =
      kl == XQ_KEY ? cohort__unbonding_delegation__unpack(NULL, vl, v) : NULL;
  if (!u) {
    l->rc = COHORT_ERR_CORRUPT;
    return 1;
  }
  uint64_t amt = u->amount;
  cohort__unbonding_delegation__free_unpacked(u, NULL);
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    void *a = realloc(l->keys, cap * XQ_KEY);
    if (a) l->keys = a;
    void *b = a ? realloc(l->amounts, cap * sizeof *l->amounts) : NULL;
    if (b) l->amounts = b;
    if (!a || !b) {
      l->rc = COHORT_ERR_NOMEM;
      return 1;
    }
    l->cap = cap;
  }
  memcpy(l->keys[l->n], k, XQ_KEY);
  l->amounts[l->n++] = amt;
  return 0;
}

/* Move the xq/ entry k (due now) with its xu/ and xe/ keys to release
 * height now + unbonding_blocks; its creation height stays. */
static int requeue(state_exec *x, const uint8_t k[XQ_KEY], uint64_t created) {
  const uint8_t *ex = k + 11, *del = k + 31;
  uint64_t rel;
  if (core_add_u64(&rel, x->height, mk_params(x)->unbonding_blocks)) return COHORT_ERR_CORRUPT;
  uint8_t *v, nk[XQ_KEY], ok[XQ_KEY];
  size_t vl;
  int rc = sx_get(x, k, XQ_KEY, &v, &vl);
  if (rc) return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
  xq_key(nk, rel, ex, del, created);
  rc = sx_put(x, nk, XQ_KEY, v, vl);
  free(v);
  if (!rc) rc = sx_del(x, k, XQ_KEY);
  xu_key(ok, x->height, ex, del, created);
  xu_key(nk, rel, ex, del, created);
  if (!rc) rc = sx_del(x, ok, XQ_KEY);
  if (!rc) rc = sx_put(x, nk, XQ_KEY, NULL, 0);
  xe_key(ok, x->height, ex, del, created);
  xe_key(nk, rel, ex, del, created);
  if (!rc) rc = sx_del(x, ok, XQ_KEY);
  if (!rc) rc = sx_put(x, nk, XQ_KEY, NULL, 0);
  return rc;
}

int mk_release_del_unbondings(state_exec *x) {
  uint8_t pre[11];
  memcpy(pre, XQ, 3);
  core_put_u64be(pre + 3, x->height);
  due_list l = {NULL, NULL, 0, 0, COHORT_OK};
  int rc = sx_scan(x, pre, sizeof pre, collect_due, &l);
  if (l.rc) rc = l.rc;
  rc = rc < 0 ? rc : COHORT_OK;
  uint8_t last[20];
  uint64_t oldest = 0; /* of executor `last` (entries come in executor order) */
  for (size_t i = 0; !rc && i < l.n; i++) {
    const uint8_t *k = l.keys[i], *ex = k + 11, *del = k + 31;
    uint64_t created = core_get_u64be(k + 51), amt = l.amounts[i];
    if (i == 0 || memcmp(last, ex, 20)) {
      memcpy(last, ex, 20);
      if ((rc = mk_seat_oldest(x, ex, &oldest))) break;
    }
    if (oldest && oldest <= created) {
      /* it backed a seat that has not settled: still slashable for it, so
       * not paid yet; due again unbonding_blocks later (docs/staking.md §8) */
      rc = requeue(x, k, created);
      continue;
    }
    Cohort__Executor *e = mk_get_exec(x, ex, &rc);
    if (!e) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (amt > e->del_unbonding) rc = COHORT_ERR_CORRUPT;
    if (!rc) {
      e->del_unbonding -= amt;
      uint8_t ek[22];
      rc = mk_exec_empty(e, x->height) ? sx_del(x, ek, mk_key(ek, 'e', ex, 20))
                                       : mk_put_exec(x, ex, e);
    }
    cohort__executor__free_unpacked(e, NULL);
    uint8_t uk[XQ_KEY], xk[XQ_KEY];
    xu_key(uk, x->height, ex, del, created);
    xe_key(xk, x->height, ex, del, created);
    if (!rc) rc = bank_credit(x, del, BANK_STK, amt);
    if (!rc) rc = sx_del(x, k, XQ_KEY);
    if (!rc) rc = sx_del(x, uk, XQ_KEY);
    if (!rc) rc = sx_del(x, xk, XQ_KEY);
  }
  free(l.keys);
  free(l.amounts);
  return rc;
}
