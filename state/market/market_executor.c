/* state/market/market_executor.c — executors: bonds, capacity, unbonding,
 * no-shows (slash once, then jail), and the seats that lock stake.
 *
 * Rules (docs/tasks.md "For executor operators"):
 * - RegisterExecutor bonds STK (the first time at least min_executor_stake)
 *   and sets price, availability and capacity (1..max_executor_capacity:
 *   the most seats it holds at once; the draw never seats it beyond, and a
 *   re-registration may not declare fewer than it holds now).
 * - A seat locks the stake the executor had when drawn: Unbond may not take
 *   the bond below seat_lock (the largest such stake among held seats)
 *   until those tasks settle.
 * - A no-show loses liveness_slash_bps of its stake (bonded, then
 *   unbonding), burned, and is jailed: it stops accepting work, further
 *   misses of seats it already held are not slashed again, and it is drawn
 *   again only after it re-registers (RegisterExecutor with accepting), which
 *   it may do once liveness_jail_blocks have passed. So one outage costs one
 *   slash, however many seats it held and however long it lasts (a customer
 *   who gave it many chunks cannot multiply the loss).
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/market/market_int.h"

int mk_cap_epoch(state_exec *x, uint64_t *out) {
  uint8_t *v;
  size_t vl;
  int rc = sx_get(x, (const uint8_t *)"r/capacity", 10, &v, &vl);
  *out = 0;
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  if (vl == 8) *out = core_get_u64be(v);
  free(v);
  return vl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int mk_bump_epoch(state_exec *x) {
  uint64_t e;
  int rc = mk_cap_epoch(x, &e);
  if (rc) return rc;
  uint8_t v[8];
  core_put_u64be(v, e + 1);
  return sx_put(x, (const uint8_t *)"r/capacity", 10, v, 8);
}

int mk_exec_register(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgRegisterExecutor *m = tx->body->register_executor;
  const Cohort__Params *p = mk_params(x);
  int rc;
  Cohort__Executor *old = mk_get_exec(x, tx->sender, &rc), e = COHORT__EXECUTOR__INIT;
  if (rc) return rc;
  if (old) {
    e = *old;
    e.base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&cohort__executor__descriptor);
  }
  uint64_t total;
  if (core_add_u64(&total, e.stake, m->add_stake)) {
    rc = mk_fail(res, COHORT_ERR_OVERFLOW, "stake would overflow");
    goto out;
  }
  if (!old && total < p->min_executor_stake) {
    rc = mk_fail(res, COHORT_ERR_FUNDS, "first registration needs at least %llu STK base units "
                 "bonded (params.min_executor_stake), got %llu",
                 (unsigned long long)p->min_executor_stake, (unsigned long long)total);
    goto out;
  }
  if (m->accepting && e.jailed_until > x->height) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "jailed after a missed window until height %llu (now "
                 "%llu): register as accepting again from then on",
                 (unsigned long long)e.jailed_until, (unsigned long long)x->height);
    goto out;
  }
  uint32_t cap = m->capacity ? m->capacity : e.capacity;
  if (cap == 0 || cap > p->max_executor_capacity) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "capacity %u: declare how many seats you can run at once, "
                 "1 to %u (params.max_executor_capacity)", cap, p->max_executor_capacity);
    goto out;
  }
  if (cap < e.active_tasks) { /* else it would hold more seats than it declares */
    rc = mk_fail(res, COHORT_ERR_INVALID, "capacity %u is below the %u seats held now: lower it "
                 "once they are agreed (register as not accepting to take no new ones)", cap,
                 e.active_tasks);
    goto out;
  }
  if ((rc = bank_debit(x, tx->sender, BANK_STK, m->add_stake)) == COHORT_ERR_FUNDS) {
    uint64_t c, s, n;
    if ((rc = bank_get(x, tx->sender, &c, &s, &n))) goto out;
    rc = mk_fail(res, COHORT_ERR_FUNDS, "insufficient STK: balance %llu, add_stake %llu",
                 (unsigned long long)s, (unsigned long long)m->add_stake);
    goto out;
  }
  if (rc) goto out;
  e.stake = total;
  e.price_per_msteps = m->price_per_msteps;
  e.price_per_task = m->price_per_task;
  e.accepting = m->accepting;
  e.capacity = cap;
  if (!old) e.commission_bps = m->commission_bps; /* nobody delegates yet */
  else if ((rc = mk_set_commission(x, &e, m->commission_bps))) goto out;
  if (m->accepting) e.jailed_until = 0; /* back: unjailed */
  rc = mk_put_exec(x, tx->sender, &e);
  if (!rc) rc = mk_bump_epoch(x); /* a new or changed executor may serve waiting tasks */
out:
  if (old) cohort__executor__free_unpacked(old, NULL);
  return rc;
}

int mk_exec_unbond(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUnbond *m = tx->body->unbond;
  const Cohort__Params *p = mk_params(x);
  int rc;
  Cohort__Executor *e = mk_get_exec(x, tx->sender, &rc);
  if (rc) return rc;
  if (!e) return mk_fail(res, COHORT_ERR_NOT_FOUND, "sender is not a registered executor");
  if (m->amount > e->stake) {
    rc = mk_fail(res, COHORT_ERR_FUNDS, "cannot unbond %llu STK base units: bonded stake is %llu",
                 (unsigned long long)m->amount, (unsigned long long)e->stake);
    goto out;
  }
  if (e->stake - m->amount < e->seat_lock) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "cannot unbond below %llu STK base units while "
                 "holding committee seats won with that stake; at most %llu now, the rest once "
                 "those tasks settle", (unsigned long long)e->seat_lock,
                 (unsigned long long)(e->stake - e->seat_lock));
    goto out;
  }
  e->stake -= m->amount;
  if ((rc = core_add_u64(&e->unbonding, e->unbonding, m->amount))) goto out;
  if ((rc = mk_put_exec(x, tx->sender, e))) goto out;
  uint8_t k[30] = {'u', '/'};
  core_put_u64be(k + 2, x->height + p->unbonding_blocks);
  memcpy(k + 10, tx->sender, 20);
  Cohort__Unbonding *u =
      (Cohort__Unbonding *)sx_get_msg(x, k, sizeof k, &cohort__unbonding__descriptor, &rc);
  if (rc) goto out;
  Cohort__Unbonding nu = COHORT__UNBONDING__INIT;
  nu.amount = u ? u->amount : 0;
  if (u) cohort__unbonding__free_unpacked(u, NULL);
  if ((rc = core_add_u64(&nu.amount, nu.amount, m->amount))) goto out;
  if ((rc = sx_put_msg(x, k, sizeof k, &nu.base))) goto out;
  /* the same entry by executor, for slashes (newest first) */
  uint8_t ik[30] = {'U', '/'};
  memcpy(ik + 2, tx->sender, 20);
  core_put_u64be(ik + 22, x->height + p->unbonding_blocks);
  rc = sx_put(x, ik, sizeof ik, NULL, 0);
out:
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

static size_t seat_key(uint8_t k[54], const uint8_t exec_id[20], const uint8_t task_id[32]) {
  k[0] = 'w';
  k[1] = '/';
  memcpy(k + 2, exec_id, 20);
  memcpy(k + 22, task_id, 32);
  return 54;
}

int mk_seat_take(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32],
                 uint64_t stake) {
  uint8_t k[54], v[16];
  core_put_u64be(v, stake);
  core_put_u64be(v + 8, x->height); /* the draw: its seated_height */
  int rc = sx_put(x, k, seat_key(k, exec_id, task_id), v, 16);
  if (rc) return rc;
  Cohort__Executor *e = mk_get_exec(x, exec_id, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  e->active_tasks++;
  if (stake > e->seat_lock) e->seat_lock = stake;
  rc = mk_put_exec(x, exec_id, e);
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

int mk_seat_done(state_exec *x, const uint8_t exec_id[20]) {
  int rc;
  Cohort__Executor *e = mk_get_exec(x, exec_id, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  if (e->active_tasks) e->active_tasks--;
  rc = mk_put_exec(x, exec_id, e);
  cohort__executor__free_unpacked(e, NULL);
  if (!rc) rc = mk_bump_epoch(x); /* a seat freed */
  return rc;
}

static int max_seat(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  uint64_t *m = ctx;
  (void)k;
  if (kl != 54 || vl != 16) return COHORT_ERR_CORRUPT;
  uint64_t s = core_get_u64be(v);
  if (s > *m) *m = s;
  return 0;
}

static int oldest_seat(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  uint64_t *m = ctx;
  (void)k;
  if (kl != 54 || vl != 16) return COHORT_ERR_CORRUPT;
  uint64_t h = core_get_u64be(v + 8);
  if (!*m || h < *m) *m = h;
  return 0;
}

int mk_seat_oldest(state_exec *x, const uint8_t exec_id[20], uint64_t *h) {
  uint8_t k[54];
  *h = 0;
  seat_key(k, exec_id, (const uint8_t[32]){0});
  int rc = sx_scan(x, k, 22, oldest_seat, h); /* the seats held: bounded as max_seat's */
  return rc < 0 ? rc : COHORT_OK;
}

int mk_seat_release(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32], int done) {
  uint8_t k[54];
  int rc = sx_del(x, k, seat_key(k, exec_id, task_id));
  if (rc) return rc;
  Cohort__Executor *e = mk_get_exec(x, exec_id, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  /* The lock is the largest stake among seats still held: at most
   * max_executor_capacity of them (plus settled-but-disputed ones). */
  uint64_t lock = 0;
  rc = sx_scan(x, k, 22, max_seat, &lock);
  if (!rc) {
    e->seat_lock = lock;
    if (done) e->tasks_done++;
    rc = mk_put_exec(x, exec_id, e);
  }
  cohort__executor__free_unpacked(e, NULL);
  /* delegations waiting for this seat (and older ones) to settle */
  return rc ? rc : mk_del_admit(x, exec_id);
}

typedef struct {
  uint64_t heights[64];
  size_t n;
  int more;
} unbond_heights;

static int collect_height(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v;
  (void)vl;
  unbond_heights *l = ctx;
  if (kl != 30) return COHORT_ERR_CORRUPT;
  if (l->n == 64) { /* keep the newest 64; the loop comes back for older ones */
    memmove(l->heights, l->heights + 1, 63 * sizeof *l->heights);
    l->n--;
    l->more = 1;
  }
  l->heights[l->n++] = core_get_u64be(k + 22);
  return 0;
}

/* Take `amt` from the executor's unbonding entries, newest first, so that
 * the entries always add up to e->unbonding: a slash reaches stake that is
 * leaving, and no entry can later pay out what a slash took. */
static int slash_unbonding(state_exec *x, const uint8_t id[20], uint64_t amt) {
  while (amt) {
    unbond_heights l = {.n = 0};
    uint8_t pre[22] = {'U', '/'};
    memcpy(pre + 2, id, 20);
    int rc = sx_scan(x, pre, sizeof pre, collect_height, &l);
    if (rc) return rc;
    if (!l.n) return COHORT_ERR_CORRUPT; /* e->unbonding says there is more */
    for (size_t i = l.n; amt && i-- > 0;) {
      uint8_t k[30] = {'u', '/'}, ik[30];
      core_put_u64be(k + 2, l.heights[i]);
      memcpy(k + 10, id, 20);
      memcpy(ik, pre, 22);
      core_put_u64be(ik + 22, l.heights[i]);
      Cohort__Unbonding *u =
          (Cohort__Unbonding *)sx_get_msg(x, k, sizeof k, &cohort__unbonding__descriptor, &rc);
      if (rc) return rc;
      if (!u) return COHORT_ERR_CORRUPT;
      uint64_t take = u->amount < amt ? u->amount : amt;
      u->amount -= take;
      amt -= take;
      if (u->amount) {
        rc = sx_put_msg(x, k, sizeof k, &u->base);
      } else {
        rc = sx_del(x, k, sizeof k);
        if (!rc) rc = sx_del(x, ik, sizeof ik);
      }
      cohort__unbonding__free_unpacked(u, NULL);
      if (rc) return rc;
    }
    if (amt && !l.more) return COHORT_ERR_CORRUPT;
  }
  return COHORT_OK;
}

/* Take bps/10000 of stake + unbonding, from the bond first, then from the
 * unbonding entries newest first; and the delegators' side (docs/staking.md
 * §8: delegated tokens, and their unbonding entries created at or after
 * `seated`, the seat's draw). *out: the total taken, not yet burned; *own
 * (may be NULL): the executor's own part of it. */
static int take(state_exec *x, const uint8_t id[20], Cohort__Executor *e, uint32_t bps,
                uint64_t seated, uint64_t *out, uint64_t *own) {
  uint64_t base, dt;
  *out = 0;
  if (own) *own = 0;
  if (core_add_u64(&base, e->stake, e->unbonding)) return COHORT_ERR_CORRUPT;
  uint64_t amt = (uint64_t)((unsigned __int128)base * bps / 10000);
  uint64_t from_stake = amt <= e->stake ? amt : e->stake;
  e->stake -= from_stake;
  e->unbonding -= amt - from_stake;
  int rc = amt > from_stake ? slash_unbonding(x, id, amt - from_stake) : COHORT_OK;
  if (!rc) rc = mk_del_slash(x, id, e, bps, seated, &dt);
  if (rc) return rc;
  if (own) *own = amt;
  if (core_add_u64(&amt, amt, dt) || core_add_u64(&e->slashed_total, e->slashed_total, amt))
    return COHORT_ERR_CORRUPT;
  *out = amt;
  return COHORT_OK;
}

static int slash(state_exec *x, const uint8_t id[20], Cohort__Executor *e, uint32_t bps,
                 uint64_t seated, uint64_t *out) {
  int rc = take(x, id, e, bps, seated, out, NULL);
  return rc ? rc : bank_burn(x, 0, *out);
}

int mk_slash_share(state_exec *x, const uint8_t exec_id[20], uint32_t bps, uint64_t seated,
                   const uint8_t to[20], uint32_t share_bps, uint64_t *slashed, uint64_t *paid) {
  int rc;
  *slashed = *paid = 0;
  Cohort__Executor *e = mk_get_exec(x, exec_id, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  uint64_t amt = 0, own = 0;
  if (!(rc = take(x, exec_id, e, bps, seated, &amt, &own))) {
    /* the winner's share is of the executor's own part only: a share of
     * its delegators' part would let a liar and an accomplice who beats it
     * gain STK out of the delegators' bonds (docs/staking.md §8) */
    uint64_t share = (uint64_t)((unsigned __int128)own * share_bps / 10000);
    rc = bank_burn(x, 0, amt - share);                 /* the rest leaves the supply */
    if (!rc) rc = bank_credit(x, to, BANK_STK, share); /* the winner's share stays in it */
    if (!rc) *paid = share;
  }
  if (!rc) {
    *slashed = amt;
    rc = mk_put_exec(x, exec_id, e);
  }
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

int mk_no_show(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32],
               uint64_t seated, int withheld, uint64_t *slashed, int *was_jailed) {
  const Cohort__Params *p = mk_params(x);
  int rc;
  *slashed = 0;
  Cohort__Executor *e = mk_get_exec(x, exec_id, &rc);
  if (!e) return rc ? rc : COHORT_ERR_CORRUPT;
  *was_jailed = e->jailed_until != 0;
  /* An outage costs one slash however many seats it empties; a reveal
   * withheld after a commit (the member was up, had the result, and kept a
   * quorum from forming) costs one per seat. */
  if ((*was_jailed && withheld) &&
      (rc = slash(x, exec_id, e, p->liveness_slash_bps, seated, slashed)))
    goto out;
  if (!*was_jailed) {
    if ((rc = slash(x, exec_id, e, p->liveness_slash_bps, seated, slashed))) goto out;
    e->jailed_until = x->height + p->liveness_jail_blocks;
    e->accepting = 0;
    uint8_t k[DL_KEY_LEN] = {'d', '/', DL_JAIL};
    core_put_u64be(k + 3, e->jailed_until);
    memcpy(k + 11, exec_id, 20);
    if ((rc = sx_put(x, k, sizeof k, NULL, 0))) goto out;
  }
  if (e->active_tasks) e->active_tasks--;
  if ((rc = mk_put_exec(x, exec_id, e))) goto out;
  if ((rc = mk_bump_epoch(x))) goto out;
  rc = mk_seat_release(x, exec_id, task_id, 0);
out:
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

int mk_jail_due(state_exec *x, const uint8_t id[32]) {
  uint8_t k[DL_KEY_LEN] = {'d', '/', DL_JAIL};
  core_put_u64be(k + 3, x->height);
  memcpy(k + 11, id, 32);
  return sx_del(x, k, sizeof k);
}

typedef struct {
  uint8_t (*ids)[20];
  uint64_t *amounts;
  size_t n, cap;
} unbond_list;

static int collect_unbond(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  unbond_list *l = ctx;
  if (kl != 30) return COHORT_ERR_CORRUPT;
  Cohort__Unbonding *u = cohort__unbonding__unpack(NULL, vl, v);
  if (!u) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *a = realloc(l->ids, cap * 20);
    if (a) l->ids = a;
    void *b = a ? realloc(l->amounts, cap * 8) : NULL;
    if (b) l->amounts = b;
    if (!a || !b) {
      cohort__unbonding__free_unpacked(u, NULL);
      return COHORT_ERR_NOMEM;
    }
    l->cap = cap;
  }
  memcpy(l->ids[l->n], k + 10, 20);
  l->amounts[l->n++] = u->amount;
  cohort__unbonding__free_unpacked(u, NULL);
  return 0;
}

int mk_release_unbondings(state_exec *x) {
  unbond_list ul = {0};
  uint8_t pre[10] = {'u', '/'};
  core_put_u64be(pre + 2, x->height);
  int rc = sx_scan(x, pre, 10, collect_unbond, &ul);
  for (size_t i = 0; !rc && i < ul.n; i++) {
    Cohort__Executor *e = mk_get_exec(x, ul.ids[i], &rc);
    if (!e) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    uint64_t amt = ul.amounts[i]; /* slashes took theirs from the entries already */
    if (amt > e->unbonding) {
      cohort__executor__free_unpacked(e, NULL);
      rc = COHORT_ERR_CORRUPT;
      break;
    }
    e->unbonding -= amt;
    if (mk_exec_empty(e, x->height)) {
      /* Nothing left: the record goes, so draws never scan the dead. (No
       * unbonding entry of a later height can exist: the entries add up to
       * e->unbonding, which is 0.) Not while jailed: a fresh registration
       * would leave the jail early (unbonding_blocks < liveness_jail_blocks). */
      uint8_t ek[22];
      rc = sx_del(x, ek, mk_key(ek, 'e', ul.ids[i], 20));
    } else {
      rc = mk_put_exec(x, ul.ids[i], e);
    }
    cohort__executor__free_unpacked(e, NULL);
    if (!rc) rc = bank_credit(x, ul.ids[i], BANK_STK, amt);
    uint8_t k[30], ik[30] = {'U', '/'};
    memcpy(k, pre, 10);
    memcpy(k + 10, ul.ids[i], 20);
    memcpy(ik + 2, ul.ids[i], 20);
    core_put_u64be(ik + 22, x->height);
    if (!rc) rc = sx_del(x, k, 30);
    if (!rc) rc = sx_del(x, ik, 30);
  }
  free(ul.ids);
  free(ul.amounts);
  return rc;
}
