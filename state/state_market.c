/* state/state_market.c — the compute market's state transitions.
 *
 * Records (state keys, all in app_hash):
 *   "e/" + executor id   -> Executor        "u/" + u64be(h) + id -> Unbonding
 *   "b/" + sha256(data)  -> Blob            "t/" + task id       -> Task
 *   "i/" + task id       -> inline input    "o/" + task id + output hash -> output
 *   "d/" + u64be(h) + task id -> ""  (a task whose window closes at h)
 *   "y/" + owner + task id   -> ""   (tasks by owner)
 *   "w/" + executor + task id -> ""  (seats an executor holds, until released)
 *   "s/escrow"           -> Account{crd}: CRD held by unfinished tasks
 *
 * Task lifecycle (status numbers are stable, see docs/tasks.md):
 *   COMMITTING(1): some active member has not committed; window ends at
 *                  `deadline`. At the deadline no-shows are slashed
 *                  (liveness_slash_bps, burned) and replaced by a new draw,
 *                  up to max_attempts draws; then EXPIRED with a full refund.
 *   REVEALING(2):  all active members committed; each reveals its claim,
 *                  salt and output (checked against the claimed final state
 *                  with the VM's output proof). Non-revealers at the
 *                  deadline: slashed and replaced as above.
 *   AGREED(3):     all claims equal: output recorded, members paid
 *                  steps * price / 10^6 each (at most reward / k), the rest
 *                  refunded; FINAL(4) after challenge_blocks.
 *   DISPUTED(5):   claims differ; escrow and members stay locked for the
 *                  verification game (a later module).
 *   EXPIRED(6):    too few executors or too many no-shows; refunded in full.
 * Everything here is a pure function of the overlay and the tx: no clock,
 * ordered iteration only, checked arithmetic.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "proto/block.h"
#include "state/state_int.h"
#include "vm/vm.h"

enum { T_COMMITTING = 1, T_REVEALING, T_AGREED, T_FINAL, T_DISPUTED, T_EXPIRED };
#define TIMELINE_MAX 64

static const Cohort__Params *P(state_exec *x) { return x->st->params; }

static int fail(state_tx_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(state_tx_result *res, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->log, sizeof res->log, fmt, ap);
  va_end(ap);
  res->code = code;
  return COHORT_OK; /* a failed message, not a failed block */
}

/* ---- keys ---- */
static size_t key_id(uint8_t *k, char p, const uint8_t *id, size_t n) {
  k[0] = (uint8_t)p;
  k[1] = '/';
  memcpy(k + 2, id, n);
  return 2 + n;
}

static size_t key_h_id(uint8_t *k, char p, uint64_t h, const uint8_t *id, size_t n) {
  k[0] = (uint8_t)p;
  k[1] = '/';
  core_put_u64be(k + 2, h);
  memcpy(k + 10, id, n);
  return 10 + n;
}

/* ---- executors ---- */
static Cohort__Executor *get_exec(state_exec *x, const uint8_t id[20], int *rc) {
  uint8_t k[22];
  key_id(k, 'e', id, 20);
  return (Cohort__Executor *)sx_get_msg(x, k, 22, &cohort__executor__descriptor, rc);
}

static int put_exec(state_exec *x, const uint8_t id[20], const Cohort__Executor *e) {
  uint8_t k[22];
  key_id(k, 'e', id, 20);
  return sx_put_msg(x, k, 22, &e->base);
}

static int exec_register(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgRegisterExecutor *m = tx->body->register_executor;
  uint64_t crd, stk, nonce;
  int rc = state_exec_get_account(x, tx->sender, &crd, &stk, &nonce);
  if (rc) return rc;
  if (m->add_stake > stk)
    return fail(res, COHORT_ERR_FUNDS, "insufficient STK: balance %llu, add_stake %llu",
                (unsigned long long)stk, (unsigned long long)m->add_stake);
  Cohort__Executor *old = get_exec(x, tx->sender, &rc), e = COHORT__EXECUTOR__INIT;
  if (rc) return rc;
  if (old) {
    e = *old;
    e.base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&cohort__executor__descriptor);
  }
  uint64_t total;
  if (core_add_u64(&total, e.stake, m->add_stake)) {
    if (old) cohort__executor__free_unpacked(old, NULL);
    return fail(res, COHORT_ERR_OVERFLOW, "stake would overflow");
  }
  if (!old && total < P(x)->min_executor_stake)
    return fail(res, COHORT_ERR_FUNDS, "first registration needs at least %llu STK bonded "
                "(params.min_executor_stake), got %llu",
                (unsigned long long)P(x)->min_executor_stake, (unsigned long long)total);
  if (old) cohort__executor__free_unpacked(old, NULL);
  e.stake = total;
  e.price_per_msteps = m->price_per_msteps;
  e.accepting = m->accepting;
  if ((rc = sx_put_account(x, tx->sender, crd, stk - m->add_stake, nonce))) return rc;
  return put_exec(x, tx->sender, &e);
}

static int exec_unbond(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUnbond *m = tx->body->unbond;
  int rc;
  Cohort__Executor *e = get_exec(x, tx->sender, &rc);
  if (rc) return rc;
  if (!e) return fail(res, COHORT_ERR_NOT_FOUND, "sender is not a registered executor");
  if (m->amount > e->stake) {
    rc = fail(res, COHORT_ERR_FUNDS, "cannot unbond %llu STK: bonded stake is %llu",
              (unsigned long long)m->amount, (unsigned long long)e->stake);
    cohort__executor__free_unpacked(e, NULL);
    return rc;
  }
  if (e->active_tasks && e->stake - m->amount < P(x)->min_executor_stake) {
    rc = fail(res, COHORT_ERR_INVALID, "cannot unbond below the minimum stake (%llu) while "
              "holding %u committee seats; wait until they settle",
              (unsigned long long)P(x)->min_executor_stake, e->active_tasks);
    goto out;
  }
  e->stake -= m->amount;
  if ((rc = core_add_u64(&e->unbonding, e->unbonding, m->amount))) goto out;
  if ((rc = put_exec(x, tx->sender, e))) goto out;
  uint8_t k[30];
  size_t kl = key_h_id(k, 'u', x->height + P(x)->unbonding_blocks, tx->sender, 20);
  Cohort__Unbonding *u = (Cohort__Unbonding *)sx_get_msg(x, k, kl, &cohort__unbonding__descriptor, &rc);
  if (rc) goto out;
  Cohort__Unbonding nu = COHORT__UNBONDING__INIT;
  nu.amount = u ? u->amount : 0;
  if (u) cohort__unbonding__free_unpacked(u, NULL);
  if ((rc = core_add_u64(&nu.amount, nu.amount, m->amount))) goto out;
  rc = sx_put_msg(x, k, kl, &nu.base);
out:
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

/* Slash bps/10000 of an executor's stake (then of its unbonding stake),
 * burning it. Returns the amount slashed in *out. */
static int slash(state_exec *x, const uint8_t id[20], uint32_t bps, uint64_t *out) {
  int rc;
  *out = 0;
  Cohort__Executor *e = get_exec(x, id, &rc);
  if (!e) return rc;
  uint64_t base = e->stake + e->unbonding;
  uint64_t amt = (uint64_t)((unsigned __int128)base * bps / 10000);
  uint64_t from_stake = amt <= e->stake ? amt : e->stake;
  e->stake -= from_stake;
  e->unbonding -= amt - from_stake; /* unbonding entries keep their amounts; the
                                       release pays at most what is left */
  e->slashed_total += amt;
  rc = put_exec(x, id, e);
  cohort__executor__free_unpacked(e, NULL);
  if (!rc && amt) rc = sx_supply_sub(x, 0, amt);
  *out = amt;
  return rc;
}

/* ---- blobs ---- */
static int exec_upload(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUploadBlob *m = tx->body->upload_blob;
  if (m->data.len > P(x)->max_blob_bytes)
    return fail(res, COHORT_ERR_TOO_LARGE, "blob is %zu bytes, params.max_blob_bytes is %u",
                m->data.len, P(x)->max_blob_bytes);
  uint64_t cost;
  if (core_mul_u64(&cost, m->data.len, P(x)->blob_byte_fee))
    return fail(res, COHORT_ERR_OVERFLOW, "storage fee overflows");
  uint64_t crd, stk, nonce;
  int rc = state_exec_get_account(x, tx->sender, &crd, &stk, &nonce);
  if (rc) return rc;
  if (cost > crd)
    return fail(res, COHORT_ERR_FUNDS, "storage fee %llu CRD base units (%zu bytes x %llu) exceeds the "
                "CRD balance %llu", (unsigned long long)cost, m->data.len,
                (unsigned long long)P(x)->blob_byte_fee, (unsigned long long)crd);
  if (m->is_program) {
    cohort_vm *vm;
    cohort_vm_config cfg;
    cohort_vm_config_default(&cfg);
    core_errbuf eb;
    if (cohort_vm_new(&vm, m->data.data, m->data.len, NULL, 0, &cfg, &eb))
      return fail(res, COHORT_ERR_INVALID, "not a valid program: %.120s", eb.msg);
    cohort_vm_del(vm);
  }
  uint8_t h[32], k[34];
  core_sha256(h, m->data.data, m->data.len);
  key_id(k, 'b', h, 32);
  uint8_t *v;
  size_t vl;
  rc = sx_get(x, k, 34, &v, &vl);
  if (rc == COHORT_OK) {
    free(v);
    snprintf(res->log, sizeof res->log, "blob already stored; nothing charged");
    return COHORT_OK; /* same bytes twice: stored once, no storage fee */
  }
  if (rc != COHORT_ERR_NOT_FOUND) return rc;
  Cohort__Blob b = COHORT__BLOB__INIT;
  b.data = m->data;
  b.is_program = m->is_program;
  b.height = x->height;
  b.uploader = (ProtobufCBinaryData){20, (uint8_t *)tx->sender};
  if ((rc = sx_put_msg(x, k, 34, &b.base))) return rc;
  if ((rc = sx_put_account(x, tx->sender, crd - cost, stk, nonce))) return rc;
  return sx_supply_sub(x, cost, 0); /* storage fees are burned */
}

static Cohort__Blob *get_blob(state_exec *x, const uint8_t h[32], int *rc) {
  uint8_t k[34];
  key_id(k, 'b', h, 32);
  return (Cohort__Blob *)sx_get_msg(x, k, 34, &cohort__blob__descriptor, rc);
}

/* ---- tasks ---- */
static Cohort__Task *get_task(state_exec *x, const uint8_t id[32], int *rc) {
  uint8_t k[34];
  key_id(k, 't', id, 32);
  return (Cohort__Task *)sx_get_msg(x, k, 34, &cohort__task__descriptor, rc);
}

static int put_task(state_exec *x, const uint8_t id[32], const Cohort__Task *t) {
  uint8_t k[34];
  key_id(k, 't', id, 32);
  return sx_put_msg(x, k, 34, &t->base);
}

/* Tasks are edited as unpacked protobuf-c messages and freed with
 * free_unpacked, so everything hung on them is malloc'd (that allocator is
 * the default one). These helpers keep that invariant. */
static int set_bytes(ProtobufCBinaryData *b, const void *d, size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  if (!p) return COHORT_ERR_NOMEM;
  if (n) memcpy(p, d, n);
  free(b->data);
  b->data = n ? p : (free(p), NULL);
  b->len = n;
  return COHORT_OK;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Append an event to a task's timeline (the last TIMELINE_MAX are kept). */
static int event(Cohort__Task *t, uint64_t h, const char *what, const uint8_t *exec_id,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int event(Cohort__Task *t, uint64_t h, const char *what, const uint8_t *exec_id,
                 const char *fmt, ...) {
  char detail[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  Cohort__TaskEvent *e = malloc(sizeof *e);
  if (!e) return COHORT_ERR_NOMEM;
  cohort__task_event__init(e);
  e->height = h;
  e->event = dupstr(what);
  e->detail = dupstr(detail);
  if (!e->event || !e->detail || (exec_id && set_bytes(&e->executor, exec_id, 20))) {
    cohort__task_event__free_unpacked(e, NULL);
    return COHORT_ERR_NOMEM;
  }
  if (t->n_timeline == TIMELINE_MAX) {
    cohort__task_event__free_unpacked(t->timeline[0], NULL);
    memmove(t->timeline, t->timeline + 1, (TIMELINE_MAX - 1) * sizeof *t->timeline);
    t->n_timeline--;
  }
  Cohort__TaskEvent **arr = realloc(t->timeline, (t->n_timeline + 1) * sizeof *arr);
  if (!arr) {
    cohort__task_event__free_unpacked(e, NULL);
    return COHORT_ERR_NOMEM;
  }
  t->timeline = arr;
  t->timeline[t->n_timeline++] = e;
  return COHORT_OK;
}

static const char *status_name(uint32_t s) {
  static const char *n[] = {"?", "committing", "revealing", "agreed", "final", "disputed", "expired"};
  return s <= T_EXPIRED ? n[s] : "?";
}

/* Move a task's deadline entry in the "d/" index. */
static int set_deadline(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint64_t h) {
  uint8_t k[42];
  int rc;
  if (t->deadline) {
    size_t kl = key_h_id(k, 'd', t->deadline, id, 32);
    if ((rc = sx_del(x, k, kl))) return rc;
  }
  t->deadline = h;
  if (!h) return COHORT_OK;
  size_t kl = key_h_id(k, 'd', h, id, 32);
  return sx_put(x, k, kl, NULL, 0);
}

/* The beacon that seeds committee draws: updated by each proposer's
 * hash-chain reveal (state_exec_reveal, docs/tasks.md). */
static int beacon(state_exec *x, uint8_t out[32]) {
  uint8_t *v;
  size_t vl;
  int rc = sx_get(x, (const uint8_t *)"r/beacon", 8, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) {
    memset(out, 0, 32); /* before the first block's end */
    return COHORT_OK;
  }
  if (rc) return rc;
  if (vl != 32) {
    free(v);
    return COHORT_ERR_CORRUPT;
  }
  memcpy(out, v, 32);
  free(v);
  return COHORT_OK;
}

/* "w/" + executor + task: the seats an executor holds (for its work list). */
static size_t seat_key(uint8_t k[54], const uint8_t exec_id[20], const uint8_t task_id[32]) {
  k[0] = 'w';
  k[1] = '/';
  memcpy(k + 2, exec_id, 20);
  memcpy(k + 22, task_id, 32);
  return 54;
}

/* ---- committee draw ---- */
typedef struct {
  uint8_t id[20];
  uint64_t stake, price;
} cand;

typedef struct {
  cand *c;
  size_t n, cap;
  uint64_t prices[1024]; /* of stake-eligible executors, for error messages */
  size_t np;
  const Cohort__Task *t;
  uint64_t min_stake;
  unsigned __int128 max_price_num; /* price * max_steps <= reward/k * 10^6 */
} draw_ctx;

static int is_member(const Cohort__Task *t, const uint8_t id[20]) {
  for (size_t i = 0; i < t->n_members; i++)
    if (t->members[i]->executor.len == 20 && !memcmp(t->members[i]->executor.data, id, 20))
      return 1;
  return 0;
}

static int draw_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  draw_ctx *d = ctx;
  if (kl != 22) return 0;
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  if (!e) return COHORT_ERR_CORRUPT;
  int staked = e->accepting && e->stake >= d->min_stake && e->stake > 0 && !is_member(d->t, k + 2);
  int ok = staked && (unsigned __int128)e->price_per_msteps * d->t->max_steps <= d->max_price_num;
  uint64_t stake = e->stake, price = e->price_per_msteps;
  if (staked && d->np < sizeof d->prices / sizeof d->prices[0]) d->prices[d->np++] = price;
  cohort__executor__free_unpacked(e, NULL);
  if (!ok) return 0;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    cand *p = realloc(d->c, cap * sizeof *p);
    if (!p) return COHORT_ERR_NOMEM;
    d->c = p;
    d->cap = cap;
  }
  memcpy(d->c[d->n].id, k + 2, 20);
  d->c[d->n].stake = stake;
  d->c[d->n].price = price;
  d->n++;
  return 0;
}

/* Draw `need` new distinct members for task t, weighted by stake, from the
 * eligible executors that are not and were not members, seeded by the
 * beacon, the task ID, the attempt and the seat. Appends them to t.
 * Returns 0, COHORT_ERR_NOT_FOUND (too few eligible executors) or an error. */
/* Why a draw came up short, for the customer. */
typedef struct {
  size_t staked;            /* accepting, enough stake, not already seated */
  uint64_t reward_needed;   /* for the whole committee at today's prices; 0 = n/a */
} draw_info;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int draw(state_exec *x, const uint8_t task_id[32], Cohort__Task *t, size_t need,
                draw_info *info) {
  draw_ctx d = {.t = t, .min_stake = P(x)->min_executor_stake};
  d.max_price_num = (unsigned __int128)(t->reward / t->committee) * 1000000u;
  int rc = sx_scan(x, (const uint8_t *)"e/", 2, draw_visit, &d);
  if (!rc && d.n < need) {
    rc = COHORT_ERR_NOT_FOUND;
    if (info) {
      info->staked = d.np;
      info->reward_needed = 0;
      if (d.np >= need) { /* enough executors: the reward is too small */
        qsort(d.prices, d.np, sizeof d.prices[0], cmp_u64);
        unsigned __int128 per =
            ((unsigned __int128)d.prices[need - 1] * t->max_steps + 999999) / 1000000u;
        unsigned __int128 tot = per * t->committee;
        info->reward_needed = tot > UINT64_MAX ? UINT64_MAX : (uint64_t)tot;
      }
    }
  }
  uint8_t b[32];
  if (!rc) rc = beacon(x, b);
  unsigned __int128 total = 0;
  for (size_t i = 0; i < d.n; i++) total += d.c[i].stake;
  for (size_t j = 0; !rc && j < need; j++) {
    uint8_t seed_in[14 + 32 + 32 + 8], seed[32];
    memcpy(seed_in, "cohort/draw/v1", 14);
    memcpy(seed_in + 14, b, 32);
    memcpy(seed_in + 46, task_id, 32);
    core_put_u32be(seed_in + 78, t->attempt);
    core_put_u32be(seed_in + 82, (uint32_t)j);
    core_sha256(seed, seed_in, sizeof seed_in);
    unsigned __int128 r = 0, acc = 0;
    for (int i = 0; i < 16; i++) r = r << 8 | seed[i];
    r %= total;
    size_t pick = 0;
    for (pick = 0; pick < d.n; pick++) {
      acc += d.c[pick].stake;
      if (r < acc) break;
    }
    Cohort__TaskMember *m = malloc(sizeof *m);
    Cohort__TaskMember **arr = realloc(t->members, (t->n_members + 1) * sizeof *arr);
    if (!m || !arr) {
      free(m);
      if (arr) t->members = arr;
      rc = COHORT_ERR_NOMEM;
      break;
    }
    t->members = arr;
    cohort__task_member__init(m);
    if (set_bytes(&m->executor, d.c[pick].id, 20)) {
      free(m);
      rc = COHORT_ERR_NOMEM;
      break;
    }
    m->price_per_msteps = d.c[pick].price; /* pay is fixed at the draw */
    t->members[t->n_members++] = m;
    uint64_t picked = d.c[pick].stake;
    unsigned __int128 pool = total;
    total -= d.c[pick].stake;
    d.c[pick] = d.c[--d.n]; /* without replacement; order change is deterministic */
    uint8_t sk[54];
    if ((rc = sx_put(x, sk, seat_key(sk, m->executor.data, task_id), NULL, 0))) break;
    Cohort__Executor *e = get_exec(x, m->executor.data, &rc);
    if (e) {
      e->active_tasks++;
      rc = put_exec(x, m->executor.data, e);
      cohort__executor__free_unpacked(e, NULL);
    }
    if (!rc)
      rc = event(t, x->height, "drawn", m->executor.data,
                 "seat %zu, attempt %u: stake %llu of %llu eligible; beacon %02x%02x%02x%02x%02x%02x%02x%02x..",
                 j, t->attempt, (unsigned long long)picked, (unsigned long long)pool, b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7]);
  }
  free(d.c);
  return rc;
}

static int release_member(state_exec *x, const uint8_t id[20], const uint8_t task_id[32],
                          int done) {
  int rc;
  uint8_t k[54];
  if ((rc = sx_del(x, k, seat_key(k, id, task_id)))) return rc;
  Cohort__Executor *e = get_exec(x, id, &rc);
  if (!e) return rc;
  if (e->active_tasks) e->active_tasks--;
  if (done) e->tasks_done++;
  rc = put_exec(x, id, e);
  cohort__executor__free_unpacked(e, NULL);
  return rc;
}

static int refund(state_exec *x, Cohort__Task *t, uint64_t amount) {
  if (!amount) return COHORT_OK;
  int rc = sx_escrow_sub(x, amount);
  if (!rc) rc = sx_credit(x, t->owner.data, 0, amount);
  if (!rc) t->refunded += amount;
  return rc;
}

static int job_chunk_settled(state_exec *x, const Cohort__Task *t, int ok);

static int expire(state_exec *x, const uint8_t id[32], Cohort__Task *t, const char *why) {
  int rc = COHORT_OK;
  for (size_t i = 0; i < t->n_members && !rc; i++)
    if (!t->members[i]->replaced) rc = release_member(x, t->members[i]->executor.data, id, 0);
  if (!rc) rc = refund(x, t, t->reward - t->paid - t->refunded);
  t->status = T_EXPIRED;
  if (!rc) rc = set_deadline(x, id, t, 0);
  if (!rc) rc = event(t, x->height, "expired", NULL, "%s; refunded %llu CRD base units", why,
                      (unsigned long long)t->refunded);
  if (!rc) rc = job_chunk_settled(x, t, 0);
  return rc;
}

static int claims_equal(const Cohort__Claim *a, const Cohort__Claim *b) {
  return a->steps == b->steps && a->status == b->status && a->code == b->code &&
         a->final_state.len == 32 && b->final_state.len == 32 &&
         !memcmp(a->final_state.data, b->final_state.data, 32) && a->output_hash.len == 32 &&
         b->output_hash.len == 32 && !memcmp(a->output_hash.data, b->output_hash.data, 32);
}

/* All active members revealed: agree (pay, refund) or dispute. */
static int resolve(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  const Cohort__Claim *first = NULL;
  int agree = 1;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (m->replaced) continue;
    if (!first) first = m->claim;
    else if (!claims_equal(first, m->claim)) agree = 0;
  }
  int rc;
  if (!agree) {
    t->status = T_DISPUTED;
    if ((rc = set_deadline(x, id, t, 0))) return rc;
    if ((rc = job_chunk_settled(x, t, 0))) return rc;
    return event(t, x->height, "disputed", NULL,
                 "members revealed different claims; stakes and escrow stay locked for the "
                 "verification game");
  }
  /* Pay each member steps * price / 10^6, at most reward / k. */
  uint64_t cap = t->reward / t->committee;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (m->replaced) continue;
    unsigned __int128 due = (unsigned __int128)first->steps * m->price_per_msteps / 1000000u;
    uint64_t pay = due > cap ? cap : (uint64_t)due;
    if (pay) {
      if ((rc = sx_escrow_sub(x, pay))) return rc;
      if ((rc = sx_credit(x, m->executor.data, 0, pay))) return rc;
      t->paid += pay;
    }
    if ((rc = release_member(x, m->executor.data, id, 1))) return rc;
  }
  if ((rc = refund(x, t, t->reward - t->paid - t->refunded))) return rc;
  Cohort__Claim *copy = malloc(sizeof *copy);
  if (!copy) return COHORT_ERR_NOMEM;
  cohort__claim__init(copy);
  copy->steps = first->steps;
  copy->status = first->status;
  copy->code = first->code;
  if (set_bytes(&copy->final_state, first->final_state.data, 32) ||
      set_bytes(&copy->output_hash, first->output_hash.data, 32)) {
    cohort__claim__free_unpacked(copy, NULL);
    return COHORT_ERR_NOMEM;
  }
  if (t->result) cohort__claim__free_unpacked(t->result, NULL);
  t->result = copy;
  t->status = T_AGREED;
  if ((rc = job_chunk_settled(x, t, 1))) return rc;
  size_t agreeing = 0;
  for (size_t i = 0; i < t->n_members; i++) agreeing += !t->members[i]->replaced;
  if ((rc = event(t, x->height, "agreed", NULL, "%zu members agree: %llu steps, status %s, code %u;"
                  " paid %llu, refunded %llu CRD base units", agreeing,
                  (unsigned long long)first->steps, cohort_vm_status_str(first->status),
                  first->code, (unsigned long long)t->paid, (unsigned long long)t->refunded)))
    return rc;
  if (P(x)->challenge_blocks == 0) {
    t->status = T_FINAL;
    t->final_height = x->height;
    if ((rc = set_deadline(x, id, t, 0))) return rc;
    return event(t, x->height, "final", NULL, "no challenge window");
  }
  return set_deadline(x, id, t, x->height + P(x)->challenge_blocks);
}

/* Re-evaluate where a task stands after commits, reveals or replacements. */
static int advance(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  int need_commit = 0, need_reveal = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (m->replaced) continue;
    if (m->commitment.len == 0) need_commit = 1;
    else if (!m->claim) need_reveal = 1;
  }
  if (need_commit) {
    if (t->status != T_COMMITTING) {
      t->status = T_COMMITTING;
      return set_deadline(x, id, t, x->height + t->commit_blocks);
    }
    return COHORT_OK;
  }
  if (need_reveal) {
    if (t->status != T_REVEALING) {
      t->status = T_REVEALING;
      int rc = set_deadline(x, id, t, x->height + t->reveal_blocks);
      if (!rc) rc = event(t, x->height, "revealing", NULL, "all members committed");
      return rc;
    }
    return COHORT_OK;
  }
  return resolve(x, id, t);
}

/* ---- messages ---- */
/* Create task `id` owned by `owner` (escrowing m->reward from it), as a
 * chunk of `job` when job != NULL. A failure is reported in res. */
static int submit_task(state_exec *x, const uint8_t owner[20], const uint8_t id[32],
                       const Cohort__MsgSubmitTask *m, const uint8_t *job, uint32_t chunk,
                       state_tx_result *res) {
  const Cohort__Params *p = P(x);
  if (m->max_steps > p->max_task_steps)
    return fail(res, COHORT_ERR_INVALID, "max_steps %llu exceeds params.max_task_steps %llu",
                (unsigned long long)m->max_steps, (unsigned long long)p->max_task_steps);
  if (m->mem_mib < 2 || m->mem_mib > p->max_task_mem_mib)
    return fail(res, COHORT_ERR_INVALID, "mem_mib %u is outside [2, %u]", m->mem_mib,
                p->max_task_mem_mib);
  if (m->committee > p->max_committee)
    return fail(res, COHORT_ERR_INVALID, "committee %u exceeds params.max_committee %u",
                m->committee, p->max_committee);
  if (m->input.len > p->max_inline_input)
    return fail(res, COHORT_ERR_TOO_LARGE, "inline input is %zu bytes, the limit is %u; upload "
                "it as a blob", m->input.len, p->max_inline_input);
  if (m->commit_blocks > 100000 || m->reveal_blocks > 100000)
    return fail(res, COHORT_ERR_INVALID, "commit/reveal windows are limited to 100000 blocks");
  if (m->reward < m->committee)
    return fail(res, COHORT_ERR_AMOUNT, "reward %llu cannot be split among %u members",
                (unsigned long long)m->reward, m->committee);
  uint64_t crd, stk, nonce;
  int rc = state_exec_get_account(x, owner, &crd, &stk, &nonce);
  if (rc) return rc;
  if (m->reward > crd)
    return fail(res, COHORT_ERR_FUNDS, "reward %llu exceeds the CRD balance %llu",
                (unsigned long long)m->reward, (unsigned long long)crd);
  Cohort__Blob *prog = get_blob(x, m->program.data, &rc);
  if (rc) return rc;
  if (!prog || !prog->is_program) {
    if (prog) cohort__blob__free_unpacked(prog, NULL);
    return fail(res, COHORT_ERR_NOT_FOUND, "program %02x%02x%02x%02x... is not an uploaded "
                "program blob", m->program.data[0], m->program.data[1], m->program.data[2],
                m->program.data[3]);
  }
  Cohort__Blob *inb = NULL;
  const uint8_t *input = m->input.data;
  size_t input_len = m->input.len;
  if (m->input_blob.len) {
    inb = get_blob(x, m->input_blob.data, &rc);
    if (rc || !inb) {
      cohort__blob__free_unpacked(prog, NULL);
      return rc ? rc : fail(res, COHORT_ERR_NOT_FOUND, "input blob is not uploaded");
    }
    input = inb->data.data;
    input_len = inb->data.len;
  }
  /* The initial state is a function of (program, input, caps): computed
   * here so that claims and disputes are anchored to it. */
  cohort_vm *vm = NULL;
  cohort_vm_config cfg = {.mem_cap = m->mem_mib << 20, .max_steps = m->max_steps};
  core_errbuf veb;
  uint8_t init_hash[32], in_hash[32];
  int vrc = cohort_vm_new(&vm, prog->data.data, prog->data.len, input, input_len, &cfg, &veb);
  if (!vrc) vrc = cohort_vm_state_hash(vm, init_hash);
  cohort_vm_del(vm);
  core_sha256(in_hash, input, input_len);
  cohort__blob__free_unpacked(prog, NULL);
  if (vrc) {
    if (inb) cohort__blob__free_unpacked(inb, NULL);
    return fail(res, COHORT_ERR_INVALID, "the VM cannot start this task: %.100s", veb.msg);
  }
  Cohort__Task *t = malloc(sizeof *t);
  if (!t) {
    if (inb) cohort__blob__free_unpacked(inb, NULL);
    return COHORT_ERR_NOMEM;
  }
  cohort__task__init(t);
  rc = set_bytes(&t->owner, owner, 20);
  if (!rc && job) rc = set_bytes(&t->job, job, 32);
  t->chunk = chunk;
  if (!rc) rc = set_bytes(&t->program, m->program.data, 32);
  if (!rc) rc = set_bytes(&t->input_hash, in_hash, 32);
  if (!rc && inb) rc = set_bytes(&t->input_blob, m->input_blob.data, 32);
  if (!rc) rc = set_bytes(&t->initial_state, init_hash, 32);
  if (inb) cohort__blob__free_unpacked(inb, NULL);
  t->max_steps = m->max_steps;
  t->mem_mib = m->mem_mib;
  t->committee = m->committee;
  t->reward = m->reward;
  t->commit_blocks = m->commit_blocks ? m->commit_blocks : p->commit_blocks;
  t->reveal_blocks = m->reveal_blocks ? m->reveal_blocks : p->reveal_blocks;
  t->submitted_height = x->height;
  if (!rc) rc = event(t, x->height, "submitted", NULL, "reward %llu CRD base units escrowed, committee %u, "
                      "max_steps %llu", (unsigned long long)m->reward, m->committee,
                      (unsigned long long)m->max_steps);
  if (!rc) {
    draw_info di;
    rc = draw(x, id, t, m->committee, &di);
    if (rc == COHORT_ERR_NOT_FOUND) {
      cohort__task__free_unpacked(t, NULL);
      if (di.staked == 0)
        return fail(res, COHORT_ERR_NO_EXECUTORS, "no executor accepts work with the minimum "
                    "stake right now (see: cohort executor list); try again later");
      if (di.staked < m->committee)
        return fail(res, COHORT_ERR_NO_EXECUTORS, "only %zu executors accept work with the "
                    "minimum stake; a committee of %u needs more: lower --committee",
                    di.staked, m->committee);
      return fail(res, COHORT_ERR_NO_EXECUTORS, "the reward does not cover %u executors' prices "
                  "for max_steps %llu: reward at least %llu CRD base units (or lower max_steps)",
                  m->committee, (unsigned long long)m->max_steps,
                  (unsigned long long)di.reward_needed);
    }
  }
  if (!rc) rc = sx_put_account(x, owner, crd - m->reward, stk, nonce);
  if (!rc) rc = sx_escrow_add(x, m->reward);
  if (!rc && !m->input_blob.len) {
    uint8_t k[34];
    key_id(k, 'i', id, 32);
    rc = sx_put(x, k, 34, m->input.data, m->input.len);
  }
  if (!rc) {
    uint8_t k[54];
    k[0] = 'y';
    k[1] = '/';
    memcpy(k + 2, owner, 20);
    memcpy(k + 22, id, 32);
    rc = sx_put(x, k, 54, NULL, 0);
  }
  if (!rc) rc = advance(x, id, t);
  if (!rc) rc = put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

static int exec_submit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  return submit_task(x, tx->sender, tx->hash, tx->body->submit_task, NULL, 0, res);
}

void state_chunk_task_id(uint8_t out[32], const uint8_t job_id[32], uint32_t i) {
  uint8_t buf[15 + 32 + 4];
  memcpy(buf, "cohort/chunk/v1", 15);
  memcpy(buf + 15, job_id, 32);
  core_put_u32be(buf + 47, i);
  core_sha256(out, buf, sizeof buf);
}

static int exec_submit_job(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgSubmitJob *j = tx->body->submit_job;
  uint64_t total;
  if (core_mul_u64(&total, j->reward_per_chunk, j->n_inputs))
    return fail(res, COHORT_ERR_OVERFLOW, "reward_per_chunk x chunks overflows");
  int rc = COHORT_OK;
  for (size_t i = 0; i < j->n_inputs; i++) {
    Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
    m.program = j->program;
    m.input = j->inputs[i];
    m.max_steps = j->max_steps;
    m.mem_mib = j->mem_mib;
    m.committee = j->committee;
    m.reward = j->reward_per_chunk;
    m.commit_blocks = j->commit_blocks;
    m.reveal_blocks = j->reveal_blocks;
    uint8_t id[32];
    state_chunk_task_id(id, tx->hash, (uint32_t)i);
    if ((rc = submit_task(x, tx->sender, id, &m, tx->hash, (uint32_t)i, res))) return rc;
    if (res->code) { /* the journal undoes the chunks created so far */
      char why[sizeof res->log];
      memcpy(why, res->log, sizeof why);
      snprintf(res->log, sizeof res->log, "chunk %u: %.120s", (unsigned)i, why);
      return COHORT_OK;
    }
  }
  Cohort__Job job = COHORT__JOB__INIT;
  job.owner = (ProtobufCBinaryData){20, (uint8_t *)tx->sender};
  job.program = j->program;
  job.chunks = (uint32_t)j->n_inputs;
  job.status = 1;
  job.submitted_height = x->height;
  job.reward_per_chunk = j->reward_per_chunk;
  uint8_t k[34];
  key_id(k, 'j', tx->hash, 32);
  return sx_put_msg(x, k, 34, &job.base);
}

/* A chunk reached AGREED (ok) or EXPIRED/DISPUTED: count it in its job and
 * finish the job when every chunk is accounted for. */
static int job_chunk_settled(state_exec *x, const Cohort__Task *t, int ok) {
  if (t->job.len != 32) return COHORT_OK;
  uint8_t k[34];
  key_id(k, 'j', t->job.data, 32);
  int rc;
  Cohort__Job *j = (Cohort__Job *)sx_get_msg(x, k, 34, &cohort__job__descriptor, &rc);
  if (!j) return rc ? rc : COHORT_ERR_CORRUPT;
  if (ok) j->done++;
  else j->failed++;
  if (j->done + j->failed == j->chunks) {
    j->status = j->failed ? 3 : 2;
    j->done_height = x->height;
    if (!j->failed) {
      uint8_t(*hs)[32] = malloc((size_t)j->chunks * 32);
      if (!hs) rc = COHORT_ERR_NOMEM;
      for (uint32_t i = 0; !rc && i < j->chunks; i++) {
        uint8_t id[32];
        state_chunk_task_id(id, t->job.data, i);
        Cohort__Task *c = get_task(x, id, &rc);
        if (c && c->result && c->result->output_hash.len == 32)
          memcpy(hs[i], c->result->output_hash.data, 32);
        else if (!rc && i != t->chunk)
          rc = COHORT_ERR_CORRUPT;
        else if (!rc) /* the chunk being settled now is not written yet */
          memcpy(hs[i], t->result->output_hash.data, 32);
        if (c) cohort__task__free_unpacked(c, NULL);
      }
      uint8_t root[32];
      if (!rc) {
        block_tx_root(root, (const uint8_t(*)[32])hs, j->chunks);
        rc = set_bytes(&j->result_root, root, 32);
      }
      free(hs);
    }
  }
  if (!rc) rc = sx_put_msg(x, k, 34, &j->base);
  cohort__job__free_unpacked(j, NULL);
  return rc;
}

static Cohort__TaskMember *active_member(Cohort__Task *t, const uint8_t id[20]) {
  for (size_t i = 0; i < t->n_members; i++)
    if (!t->members[i]->replaced && !memcmp(t->members[i]->executor.data, id, 20))
      return t->members[i];
  return NULL;
}

/* Look up the task of a commit/reveal and check the sender's seat. */
static Cohort__Task *member_task(state_exec *x, const uint8_t id[32], const tx_t *tx,
                                 uint32_t want_status, Cohort__TaskMember **mem,
                                 state_tx_result *res, int *rc) {
  Cohort__Task *t = get_task(x, id, rc);
  if (*rc) return NULL;
  if (!t) {
    fail(res, COHORT_ERR_NOT_FOUND, "no such task");
    return NULL;
  }
  *mem = active_member(t, tx->sender);
  if (!*mem) {
    fail(res, COHORT_ERR_INVALID, "sender is not a member of this task's committee");
  } else if (t->status != want_status) {
    fail(res, COHORT_ERR_INVALID, "task is %s, not %s", status_name(t->status),
         status_name(want_status));
  } else {
    return t;
  }
  cohort__task__free_unpacked(t, NULL);
  return NULL;
}

static int exec_commit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgCommitResult *m = tx->body->commit_result;
  int rc = COHORT_OK;
  Cohort__TaskMember *mem;
  Cohort__Task *t = member_task(x, m->task_id.data, tx, T_COMMITTING, &mem, res, &rc);
  if (!t) return rc;
  if (mem->commitment.len) {
    rc = fail(res, COHORT_ERR_DUPLICATE, "already committed to this task");
  } else {
    rc = set_bytes(&mem->commitment, m->commitment.data, 32);
    if (!rc) rc = event(t, x->height, "committed", tx->sender, "%s", "commitment recorded");
    if (!rc) rc = advance(x, m->task_id.data, t);
    if (!rc) rc = put_task(x, m->task_id.data, t);
  }
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

void state_claim_bytes(uint8_t out[STATE_CLAIM_BYTES], const Cohort__Claim *c) {
  memcpy(out, c->final_state.data, 32);
  core_put_u64be(out + 32, c->steps);
  core_put_u32be(out + 40, c->status);
  core_put_u32be(out + 44, c->code);
  memcpy(out + 48, c->output_hash.data, 32);
}

void state_commitment(uint8_t out[32], const uint8_t task_id[32], const uint8_t executor[20],
                      const Cohort__Claim *c, const uint8_t salt[32]) {
  uint8_t buf[16 + 32 + 20 + STATE_CLAIM_BYTES + 32];
  memcpy(buf, "cohort/commit/v1", 16);
  memcpy(buf + 16, task_id, 32);
  memcpy(buf + 48, executor, 20);
  state_claim_bytes(buf + 68, c);
  memcpy(buf + 68 + STATE_CLAIM_BYTES, salt, 32);
  core_sha256(out, buf, sizeof buf);
}

static int exec_reveal(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgRevealResult *m = tx->body->reveal_result;
  int rc = COHORT_OK;
  Cohort__TaskMember *mem;
  Cohort__Task *t = member_task(x, m->task_id.data, tx, T_REVEALING, &mem, res, &rc);
  if (!t) return rc;
  const Cohort__Claim *c = m->claim;
  uint8_t want[32], oh[32];
  state_commitment(want, m->task_id.data, tx->sender, c, m->salt.data);
  cohort_vm_info info;
  core_errbuf veb;
  if (mem->claim) {
    rc = fail(res, COHORT_ERR_DUPLICATE, "already revealed");
  } else if (memcmp(want, mem->commitment.data, 32)) {
    rc = fail(res, COHORT_ERR_INVALID, "reveal does not match the commitment (claim or salt differ)");
  } else if (c->steps > t->max_steps) {
    rc = fail(res, COHORT_ERR_INVALID, "claim.steps %llu exceeds the task's max_steps %llu",
              (unsigned long long)c->steps, (unsigned long long)t->max_steps);
  } else if (m->output.len > P(x)->max_inline_output) {
    rc = fail(res, COHORT_ERR_TOO_LARGE, "output is %zu bytes, params.max_inline_output is %u",
              m->output.len, P(x)->max_inline_output);
  } else if (core_sha256(oh, m->output.data, m->output.len), memcmp(oh, c->output_hash.data, 32)) {
    rc = fail(res, COHORT_ERR_INVALID, "output does not hash to claim.output_hash");
  } else if (cohort_vm_output_verify(c->final_state.data, m->output.data, m->output.len,
                                     m->output_proof.data, m->output_proof.len, &info, &veb)) {
    rc = fail(res, COHORT_ERR_INVALID, "output proof rejected: %.100s", veb.msg);
  } else if (info.status == COHORT_VM_RUNNING || info.step != c->steps ||
             info.status != c->status || info.code != c->code) {
    rc = fail(res, COHORT_ERR_INVALID, "claim's steps/status/code differ from its final state");
  } else {
    Cohort__Claim *copy = malloc(sizeof *copy);
    if (!copy) rc = COHORT_ERR_NOMEM;
    if (!rc) {
      cohort__claim__init(copy);
      copy->steps = c->steps;
      copy->status = c->status;
      copy->code = c->code;
      rc = set_bytes(&copy->final_state, c->final_state.data, 32);
      if (!rc) rc = set_bytes(&copy->output_hash, c->output_hash.data, 32);
      mem->claim = copy;
    }
    uint8_t k[66];
    key_id(k, 'o', m->task_id.data, 32);
    memcpy(k + 34, oh, 32);
    if (!rc) rc = sx_put(x, k, 66, m->output.data, m->output.len);
    if (!rc) rc = event(t, x->height, "revealed", tx->sender, "%llu steps, %s, code %u, %zu output bytes",
                        (unsigned long long)c->steps, cohort_vm_status_str(c->status), c->code,
                        m->output.len);
    if (!rc) rc = advance(x, m->task_id.data, t);
    if (!rc) rc = put_task(x, m->task_id.data, t);
  }
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

int sx_exec_market(state_exec *x, const tx_t *tx, state_tx_result *res) {
  switch (tx->body->msg_case) {
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR: return exec_register(x, tx, res);
    case COHORT__TX_BODY__MSG_UNBOND: return exec_unbond(x, tx, res);
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB: return exec_upload(x, tx, res);
    case COHORT__TX_BODY__MSG_SUBMIT_TASK: return exec_submit(x, tx, res);
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: return exec_submit_job(x, tx, res);
    case COHORT__TX_BODY__MSG_COMMIT_RESULT: return exec_commit(x, tx, res);
    case COHORT__TX_BODY__MSG_REVEAL_RESULT: return exec_reveal(x, tx, res);
    default: return fail(res, COHORT_ERR_NO_MSG, "unknown message");
  }
}

/* ---- end of block ---- */

/* A window closed: slash and replace the members that missed it. */
static int window_closed(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  int rc = COHORT_OK;
  size_t missing = 0;
  int revealing = t->status == T_REVEALING;
  for (size_t i = 0; i < t->n_members && !rc; i++) {
    Cohort__TaskMember *m = t->members[i];
    if (m->replaced) continue;
    int missed = revealing ? !m->claim : m->commitment.len == 0;
    if (!missed) continue;
    uint64_t slashed;
    rc = slash(x, m->executor.data, P(x)->liveness_slash_bps, &slashed);
    if (!rc) rc = release_member(x, m->executor.data, id, 0);
    m->replaced = 1;
    missing++;
    if (!rc) rc = event(t, x->height, "no_show", m->executor.data, "missed the %s window; "
                        "slashed %llu STK base units", revealing ? "reveal" : "commit",
                        (unsigned long long)slashed);
  }
  if (rc) return rc;
  if (revealing) {
    /* Revealed claims are public now: a fresh member could copy them. So
     * settle on the members who revealed; if none did, nothing is public
     * and a new committee may be drawn. */
    size_t revealed = 0;
    for (size_t i = 0; i < t->n_members; i++) revealed += !t->members[i]->replaced;
    if (revealed) return resolve(x, id, t);
  }
  t->attempt++;
  if (t->attempt >= P(x)->max_attempts)
    return expire(x, id, t, "too many no-shows");
  rc = draw(x, id, t, missing, NULL);
  if (rc == COHORT_ERR_NOT_FOUND) return expire(x, id, t, "not enough executors to replace no-shows");
  if (rc) return rc;
  t->status = 0; /* advance() re-enters the right window with a fresh deadline */
  return advance(x, id, t);
}

typedef struct {
  uint8_t (*ids)[32];
  size_t n, cap;
} idlist;

static int collect_ids(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  idlist *l = ctx;
  (void)v, (void)vl;
  if (kl != 42) return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *p = realloc(l->ids, cap * 32);
    if (!p) return COHORT_ERR_NOMEM;
    l->ids = p;
    l->cap = cap;
  }
  memcpy(l->ids[l->n++], k + 10, 32);
  return 0;
}

typedef struct {
  uint8_t (*ids)[20];
  uint64_t *amounts;
  size_t n, cap;
} unbond_list;

static int collect_unbond(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  unbond_list *l = ctx;
  if (kl != 30) return 0;
  Cohort__Unbonding *u = cohort__unbonding__unpack(NULL, vl, v);
  if (!u) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *a = realloc(l->ids, cap * 20), *b = realloc(l->amounts, cap * 8);
    if (a) l->ids = a;
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

int sx_end_block(state_exec *x) {
  uint8_t pre[10] = {'d', '/'};
  core_put_u64be(pre + 2, x->height);
  int rc = COHORT_OK;
  /* 2. Unbonding stake due at this height goes back to balances. */
  unbond_list ul = {0};
  uint8_t upre[10] = {'u', '/'};
  core_put_u64be(upre + 2, x->height);
  rc = sx_scan(x, upre, 10, collect_unbond, &ul);
  for (size_t i = 0; !rc && i < ul.n; i++) {
    Cohort__Executor *e = get_exec(x, ul.ids[i], &rc);
    if (!e) break;
    uint64_t amt = ul.amounts[i] <= e->unbonding ? ul.amounts[i] : e->unbonding; /* after slashes */
    e->unbonding -= amt;
    rc = put_exec(x, ul.ids[i], e);
    cohort__executor__free_unpacked(e, NULL);
    if (!rc) rc = sx_credit(x, ul.ids[i], 1, amt);
    uint8_t k[30];
    size_t kl = key_h_id(k, 'u', x->height, ul.ids[i], 20);
    if (!rc) rc = sx_del(x, k, kl);
  }
  free(ul.ids);
  free(ul.amounts);
  if (rc) return rc;
  /* 3. Tasks whose window closes now, in task-ID order. */
  idlist l = {0};
  rc = sx_scan(x, pre, 10, collect_ids, &l);
  for (size_t i = 0; !rc && i < l.n; i++) {
    Cohort__Task *t = get_task(x, l.ids[i], &rc);
    if (!t) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (t->status == T_AGREED) {
      t->status = T_FINAL;
      t->final_height = x->height;
      rc = set_deadline(x, l.ids[i], t, 0);
      if (!rc) rc = event(t, x->height, "final", NULL, "challenge window over");
    } else if (t->status == T_COMMITTING || t->status == T_REVEALING) {
      rc = window_closed(x, l.ids[i], t);
    } else {
      rc = set_deadline(x, l.ids[i], t, 0);
    }
    if (!rc) rc = put_task(x, l.ids[i], t);
    cohort__task__free_unpacked(t, NULL);
  }
  free(l.ids);
  return rc;
}
