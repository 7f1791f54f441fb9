/* state/market/market_draw.c — drawing a committee.
 *
 * Candidates for task T: executors that accept work, have at least
 * min_executor_stake bonded, are not jailed, hold fewer seats than their
 * declared capacity, whose price fits (market_seat_cost(max_steps) <= reward/k),
 * that never sat on T and are not T's owner; in address order. For seat j of attempt a:
 *   seed = sha256("cohort/draw/v2" || beacon || T || u32be(a) || u32be(j))
 * and the seat goes to the first candidate at which the running sum of
 * stakes exceeds first16bytes(seed) mod total stake; it leaves the pool (no
 * replacement) by moving the last candidate into its place.
 *
 * The beacon is the one after the reveal in the header of the block where
 * the draw happens, which is always the block after the one that asked for
 * it (a submission, or a window that closed with seats to refill), and the
 * draw runs before that block's transactions. So the proposer that included
 * a task cannot know its committee, and no transaction can change the
 * candidates once the beacon is known. docs/tasks.md "The committee draw".
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "state/market/market_int.h"

typedef struct {
  uint8_t id[20];
  uint64_t stake, own, price, per_task; /* stake: the draw weight, own + delegated */
} cand;

typedef struct {
  state_exec *x;
  const Cohort__Task *t;
  cand *c;
  size_t n, cap;
  uint64_t *prices; /* seat costs of the otherwise eligible, for the reward hint */
  size_t np, pcap;
  size_t busy;      /* eligible but for their capacity */
  uint64_t min_stake;
  uint64_t per_seat; /* reward / k */
} draw_ctx;

static int was_member(const Cohort__Task *t, const uint8_t id[20]) {
  for (size_t i = 0; i < t->n_members; i++)
    if (t->members[i]->executor.len == 20 && !memcmp(t->members[i]->executor.data, id, 20))
      return 1;
  return 0;
}

static int push(void **arr, size_t *n, size_t *cap, size_t sz) {
  if (*n < *cap) return COHORT_OK;
  size_t nc = *cap ? *cap * 2 : 16;
  void *p = realloc(*arr, nc * sz);
  if (!p) return COHORT_ERR_NOMEM;
  *arr = p;
  *cap = nc;
  return COHORT_OK;
}

static int visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  draw_ctx *d = ctx;
  if (kl != 22) return COHORT_ERR_CORRUPT;
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  if (!e) return COHORT_ERR_CORRUPT;
  /* never the task's owner: a customer on its own committee could keep a
   * quorum from forming (see resolve in market_task.c) */
  int avail = e->accepting && e->stake >= d->min_stake && e->stake > 0 && !e->jailed_until &&
              !was_member(d->t, k + 2) &&
              !(d->t->owner.len == 20 && !memcmp(k + 2, d->t->owner.data, 20));
  int staked = avail && e->active_tasks < e->capacity;
  uint64_t cost = market_seat_cost(e->price_per_msteps, e->price_per_task, d->t->max_steps);
  int fits = cost <= d->per_seat;
  if (avail && !staked && fits) d->busy++;
  uint64_t own = e->stake, price = e->price_per_msteps, per_task = e->price_per_task;
  uint64_t stake = state_exec_draw_weight(e, mk_params(d->x));
  cohort__executor__free_unpacked(e, NULL);
  int rc = COHORT_OK;
  if (avail) { /* busy or not: the reward hint covers everyone who could serve */
    if ((rc = push((void **)&d->prices, &d->np, &d->pcap, sizeof *d->prices))) return rc;
    d->prices[d->np++] = cost;
  }
  if (!staked || !fits) return COHORT_OK;
  if ((rc = push((void **)&d->c, &d->n, &d->cap, sizeof *d->c))) return rc;
  memcpy(d->c[d->n].id, k + 2, 20);
  d->c[d->n].stake = stake;
  d->c[d->n].own = own;
  d->c[d->n].price = price;
  d->c[d->n].per_task = per_task;
  d->n++;
  return COHORT_OK;
}

static int gather(state_exec *x, const Cohort__Task *t, draw_ctx *d) {
  memset(d, 0, sizeof *d);
  d->x = x;
  d->t = t;
  d->min_stake = mk_params(x)->min_executor_stake;
  d->per_seat = t->reward / t->committee;
  return sx_scan(x, (const uint8_t *)"e/", 2, visit, d);
}

static void gather_free(draw_ctx *d) {
  free(d->c);
  free(d->prices);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t p = *(const uint64_t *)a, q = *(const uint64_t *)b;
  return p < q ? -1 : p > q;
}

int mk_draw_survey(state_exec *x, const Cohort__Task *t, mk_draw_info *info) {
  draw_ctx d;
  int rc = gather(x, t, &d);
  memset(info, 0, sizeof *info);
  if (!rc) {
    info->eligible = d.n;
    info->staked = d.np;
    info->busy = d.busy;
    if (d.np >= t->committee && d.n < t->committee) { /* enough executors: reward too small */
      qsort(d.prices, d.np, sizeof *d.prices, cmp_u64);
      unsigned __int128 tot = (unsigned __int128)d.prices[t->committee - 1] * t->committee;
      info->reward_needed = tot > UINT64_MAX ? UINT64_MAX : (uint64_t)tot;
    }
  }
  gather_free(&d);
  return rc;
}

int mk_draw(state_exec *x, const uint8_t task_id[32], Cohort__Task *t, size_t need) {
  draw_ctx d;
  int rc = gather(x, t, &d);
  if (!rc && d.n < need) rc = COHORT_ERR_NOT_FOUND;
  uint8_t b[32];
  if (!rc) rc = mk_beacon(x, b);
  unsigned __int128 total = 0;
  for (size_t i = 0; i < d.n; i++) total += d.c[i].stake;
  /* Grow the member array once, so a failure below leaves t consistent. */
  if (!rc) {
    Cohort__TaskMember **arr = realloc(t->members, (t->n_members + need) * sizeof *arr);
    if (!arr) rc = COHORT_ERR_NOMEM;
    else t->members = arr;
  }
  for (size_t j = 0; !rc && j < need; j++) {
    uint8_t in[14 + 32 + 32 + 8], seed[32];
    memcpy(in, "cohort/draw/v2", 14);
    memcpy(in + 14, b, 32);
    memcpy(in + 46, task_id, 32);
    core_put_u32be(in + 78, t->attempt);
    core_put_u32be(in + 82, (uint32_t)j);
    core_sha256(seed, in, sizeof in);
    unsigned __int128 r = 0, acc = 0;
    for (int i = 0; i < 16; i++) r = r << 8 | seed[i];
    r %= total;
    size_t pick;
    for (pick = 0; pick + 1 < d.n; pick++) {
      acc += d.c[pick].stake;
      if (r < acc) break;
    }
    Cohort__TaskMember *m = malloc(sizeof *m);
    if (!m) {
      rc = COHORT_ERR_NOMEM;
      break;
    }
    cohort__task_member__init(m);
    if (mk_set_bytes(&m->executor, d.c[pick].id, 20)) {
      free(m);
      rc = COHORT_ERR_NOMEM;
      break;
    }
    m->price_per_msteps = d.c[pick].price; /* pay is fixed at the draw */
    m->price_per_task = d.c[pick].per_task;
    m->stake = d.c[pick].stake;            /* the weight: pay and slashes follow it */
    m->delegated = d.c[pick].stake - d.c[pick].own;
    m->seated_height = x->height;
    m->attempt = t->attempt;
    t->members[t->n_members++] = m;
    total -= d.c[pick].stake;
    /* the executor's own stake is locked (seat_lock) */
    if ((rc = mk_seat_take(x, m->executor.data, task_id, d.c[pick].own))) break;
    rc = mk_event(t, x->height, EV_DRAWN, m->executor.data, j, m->stake, b);
    d.c[pick] = d.c[--d.n]; /* without replacement; the order change is deterministic */
  }
  gather_free(&d);
  return rc;
}
