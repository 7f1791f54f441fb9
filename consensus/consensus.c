/* consensus/consensus.c — the Tendermint round state machine.
 *
 * The states, the transition table (with the function performing each
 * transition), the lock and valid-round rules and the invariants are in
 * consensus.h; docs/consensus.md walks through the design. This file is
 * organised like the table:
 *
 *   storage       rounds (sorted array of `rnd`), vote slots, tallies
 *   admission     which messages are kept (the Bounds of consensus.h)
 *   rules         rule_decide, rule_round_skip, rule_prevote, rule_polka,
 *                 rule_nil_polka, rule_vote_waits — one per "upon" of
 *                 Algorithm 1 — and start_round, fire_timeout
 *   progress()    applies the rules until none fires (the paper's "upon"
 *                 clauses are evaluated on every state change)
 *   events        cons_on_* feed inputs, each logged (CONS_ACT_WAL_WRITE)
 *                 before the actions it causes
 *   replay        the same handlers with WAL/sign/broadcast actions muted
 *
 * Every quorum test is exact integer arithmetic on 128-bit sums of u64
 * powers: "2f+1" is sum * 3 > total * 2, "f+1" is sum * 3 > total. Nothing
 * here iterates over an unordered container: rounds are sorted, validators
 * are in set order, tallies in arrival order (only used for sums).
 */
#include "consensus/consensus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

typedef struct {
  uint8_t hash[32];
  u128 power;
} hash_tally;

/* Tallies of one (round, type). `any` counts each validator once (its first
 * vote); `nil` and the per-hash sums count every value a validator is stored
 * with, so an equivocator's second vote counts for its value too (see
 * vote_in: with < 1/3 byzantine power this cannot give two values a quorum
 * in one round, and it lets a node that heard the equivocator's other vote
 * first still see the quorum everyone else saw). */
typedef struct {
  u128 any, nil;
  hash_tally *h;
  size_t nh, cap;
} tally;

/* One stored vote. A validator's votes of one (round, type) form a chain
 * (first = the primary, then at most CONS_VALUES_PER_VOTER - 1 conflicting
 * values), linked by `next` (1 + slot index, 0 = end). */
typedef struct {
  uint8_t has_hash, evidence_sent;
  uint16_t next;
  uint8_t hash[32];
  uint8_t sig[64];
} vslot;

/* Everything stored for one round of the current height. */
typedef struct {
  uint32_t round;
  uint16_t *slot_of; /* [2 * n]: (type - 1) * n + validator -> 1 + slot, 0 = none */
  vslot *slots;
  size_t nslots, cap;
  tally t[2]; /* [0] prevotes, [1] precommits */
  uint8_t seen[CONS_MAX_VALIDATORS / 8]; /* validators with any message here */
  u128 seen_power;
  int has_prop;
  cons_proposal prop;
  int verdict; /* of prop: 0 pending, 1 valid, -1 invalid */
} rnd;

/* A message kept for height h + 1. */
typedef struct {
  int is_vote;
  cons_vote v;
  cons_proposal p;
} pend;

enum { WAIT_NONE = 0, WAIT_ARMED, WAIT_DONE };
enum { V_UNKNOWN = 0, V_PENDING, V_VALID, V_INVALID };

struct cons_engine {
  cons_config cfg;
  char chain_id[64];
  uint8_t my_pub[32];
  int has_key, my_index;
  int err, check_inv, replaying;
  uint64_t height;
  uint32_t round;
  cons_step step;
  cons_prio s_h;    /* the height's set and priorities (S_h) */
  cons_prio cursor; /* S_h advanced to cursor_round (proposer of later rounds) */
  uint32_t cursor_round;
  int cursor_ok;
  size_t n;
  u128 total;
  rnd **r;
  size_t nr, capr;
  int64_t locked_round, valid_round;
  uint8_t locked_hash[32], valid_hash[32];
  /* per current round */
  int propose_armed, prevote_wait, precommit_wait, polka_done;
  uint64_t propose_at, prevote_at, precommit_at;
  struct {
    int set;
    uint32_t round;
    int has_hash;
    uint8_t hash[32];
  } intent[2]; /* the vote we decided to cast, per type (for replay) */
  /* NEW_HEIGHT */
  uint64_t commit_time;
  int txs_available;
  /* buffered for height + 1 */
  pend *next;
  size_t nnext, capnext;
  /* action queue (ring) */
  cons_action *q;
  size_t qh, qn, qcap;
};

static void progress(cons_engine *e, uint64_t now);

const char *cons_step_name(cons_step s) {
  static const char *nm[] = {"new_height", "propose", "prevote", "precommit", "commit"};
  return (unsigned)s <= CONS_COMMIT ? nm[s] : "?";
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
static uint64_t timeout_propose(const cons_engine *e, uint32_t r) {
  return sat_add(e->cfg.timeout_propose_ms, sat_mul(r, e->cfg.timeout_propose_delta_ms));
}
static uint64_t timeout_vote(const cons_engine *e, uint32_t r) {
  return sat_add(e->cfg.timeout_vote_ms, sat_mul(r, e->cfg.timeout_vote_delta_ms));
}
static int quorum(const cons_engine *e, u128 p) { return p * 3 > e->total * 2; }
static int one_third(const cons_engine *e, u128 p) { return p * 3 > e->total; }

/* ---- the action queue ---- */

static int muted(const cons_engine *e, cons_action_kind k) {
  return e->replaying && k != CONS_ACT_COMMIT && k != CONS_ACT_EVIDENCE;
}

/* Queue an action at the back, or at the front (`urgent`): the WAL record
 * and broadcast of an own message just signed must come before any other
 * signature still queued (say the precommit decided together with the
 * prevote), or a crash between the two could lose the first one's record
 * while the signer already moved past it. */
static void push_where(cons_engine *e, cons_action *a, int urgent) {
  if (e->err || muted(e, a->kind)) {
    cons_action_free(a);
    return;
  }
  if (e->qn == e->qcap) {
    size_t cap = e->qcap ? e->qcap * 2 : 16;
    cons_action *nq = malloc(cap * sizeof *nq);
    if (!nq) {
      e->err = COHORT_ERR_NOMEM; /* sticky: an action would be lost */
      cons_action_free(a);
      return;
    }
    for (size_t i = 0; i < e->qn; i++) nq[i] = e->q[(e->qh + i) % e->qcap];
    free(e->q);
    e->q = nq;
    e->qh = 0;
    e->qcap = cap;
  }
  if (urgent) {
    e->qh = (e->qh + e->qcap - 1) % e->qcap;
    e->q[e->qh] = *a;
  } else {
    e->q[(e->qh + e->qn) % e->qcap] = *a;
  }
  e->qn++;
}

static void push(cons_engine *e, cons_action *a) { push_where(e, a, 0); }

int cons_failed(const cons_engine *e) { return e->err; }

int cons_next_action(cons_engine *e, cons_action *a) {
  if (!e->qn) return 0;
  *a = e->q[e->qh];
  e->qh = (e->qh + 1) % e->qcap;
  e->qn--;
  return 1;
}

void cons_action_free(cons_action *a) {
  if (a->commit) cohort__commit__free_unpacked(a->commit, NULL);
  a->commit = NULL;
}

/* The WAL record of an input; an own message's record (sync) goes first
 * and is then followed by its broadcast (pushed front, in reverse). */
static void push_wal(cons_engine *e, const cons_wal_rec *r, int sync) {
  cons_action a = {.kind = CONS_ACT_WAL_WRITE, .height = e->height, .wal_sync = sync};
  a.wal = *r;
  push_where(e, &a, sync);
}

/* ---- storage ---- */

static void free_round(rnd *x) {
  if (!x) return;
  free(x->slot_of);
  free(x->slots);
  free(x->t[0].h);
  free(x->t[1].h);
  free(x);
}

static void clear_rounds(cons_engine *e) {
  for (size_t i = 0; i < e->nr; i++) free_round(e->r[i]);
  e->nr = 0;
}

/* Position of the first stored round >= r. */
static size_t lower_bound(const cons_engine *e, uint32_t r) {
  size_t lo = 0, hi = e->nr;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e->r[mid]->round < r) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static rnd *find_round(const cons_engine *e, uint32_t r) {
  size_t i = lower_bound(e, r);
  return i < e->nr && e->r[i]->round == r ? e->r[i] : NULL;
}

static rnd *get_round(cons_engine *e, uint32_t r) {
  size_t i = lower_bound(e, r);
  if (i < e->nr && e->r[i]->round == r) return e->r[i];
  if (e->nr == e->capr) {
    size_t cap = e->capr ? e->capr * 2 : 8;
    rnd **nr = realloc(e->r, cap * sizeof *nr);
    if (!nr) goto nomem;
    e->r = nr;
    e->capr = cap;
  }
  rnd *x = calloc(1, sizeof *x);
  if (!x) goto nomem;
  x->round = r;
  x->slot_of = calloc(2 * e->n, sizeof *x->slot_of);
  if (!x->slot_of) {
    free(x);
    goto nomem;
  }
  memmove(e->r + i + 1, e->r + i, (e->nr - i) * sizeof *e->r);
  e->r[i] = x;
  e->nr++;
  return x;
nomem:
  e->err = COHORT_ERR_NOMEM;
  return NULL;
}

static int is_seen(const rnd *x, size_t idx) { return x->seen[idx / 8] >> (idx % 8) & 1; }

static void mark_seen(cons_engine *e, rnd *x, size_t idx) {
  if (is_seen(x, idx)) return;
  x->seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
  x->seen_power += e->s_h.power[idx];
}

static u128 tally_for(const tally *t, const uint8_t hash[32]) {
  for (size_t i = 0; i < t->nh; i++)
    if (!memcmp(t->h[i].hash, hash, 32)) return t->h[i].power;
  return 0;
}

static void tally_sub(tally *t, int has_hash, const uint8_t *hash, uint64_t power) {
  if (!has_hash) {
    t->nil -= power;
    return;
  }
  for (size_t i = 0; i < t->nh; i++)
    if (!memcmp(t->h[i].hash, hash, 32)) t->h[i].power -= power;
}

/* Count `power` for a value; `first`: the validator's first vote here (also
 * counted in `any`). */
static int tally_add(tally *t, int has_hash, const uint8_t *hash, uint64_t power, int first) {
  if (has_hash) {
    size_t i;
    for (i = 0; i < t->nh; i++)
      if (!memcmp(t->h[i].hash, hash, 32)) break;
    if (i == t->nh) {
      if (t->nh == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        hash_tally *nh = realloc(t->h, cap * sizeof *nh);
        if (!nh) return COHORT_ERR_NOMEM;
        t->h = nh;
        t->cap = cap;
      }
      memcpy(t->h[i].hash, hash, 32);
      t->h[i].power = 0;
      t->nh++;
    }
    t->h[i].power += power;
  } else {
    t->nil += power;
  }
  if (first) t->any += power;
  return COHORT_OK;
}

static u128 tally_value(const tally *t, int has_hash, const uint8_t *hash) {
  return has_hash ? tally_for(t, hash) : t->nil;
}

/* The validator's first vote of (round, type). */
static const vslot *slot_get(const cons_engine *e, const rnd *x, uint32_t type, size_t idx) {
  uint16_t s = x->slot_of[(type - 1) * e->n + idx];
  return s ? &x->slots[s - 1] : NULL;
}

static int slot_is(const vslot *s, int has_hash, const uint8_t *hash) {
  return s->has_hash == (has_hash != 0) && (!has_hash || !memcmp(s->hash, hash, 32));
}

/* The validator's stored vote for a given value (first or conflicting). */
static const vslot *slot_for(const cons_engine *e, const rnd *x, uint32_t type, size_t idx,
                             int has_hash, const uint8_t *hash) {
  for (uint16_t s = x->slot_of[(type - 1) * e->n + idx]; s; s = x->slots[s - 1].next)
    if (slot_is(&x->slots[s - 1], has_hash, hash)) return &x->slots[s - 1];
  return NULL;
}

static void vote_from_slot(const cons_engine *e, const rnd *x, uint32_t type, size_t idx,
                           const vslot *s, cons_vote *out) {
  memset(out, 0, sizeof *out);
  out->type = type;
  out->height = e->height;
  out->round = x->round;
  out->has_hash = s->has_hash;
  if (s->has_hash) memcpy(out->block_hash, s->hash, 32);
  memcpy(out->validator, e->s_h.key[idx], 32);
  memcpy(out->signature, s->sig, 64);
}

/* Proposer of round r at this height (proposer.h). Rounds at or above the
 * cursor advance it; earlier rounds are recomputed from S_h. */
static size_t proposer_at(cons_engine *e, uint32_t r) {
  if (r == 0) return e->s_h.proposer;
  if (!e->cursor_ok || r < e->cursor_round) {
    if (e->cursor_ok && r < e->cursor_round) return cons_prio_proposer(&e->s_h, r);
    e->cursor = e->s_h;
    cons_prio_increment(&e->cursor, 1);
    e->cursor_round = 1;
    e->cursor_ok = 1;
  }
  while (e->cursor_round < r) {
    cons_prio_step(&e->cursor);
    e->cursor_round++;
  }
  return e->cursor.proposer;
}

static int val_index(const cons_engine *e, const uint8_t pub[32]) {
  for (size_t i = 0; i < e->n; i++)
    if (!memcmp(e->s_h.key[i], pub, 32)) return (int)i;
  return -1;
}

/* ---- admission (consensus.h "Bounds") ---- */

static int retained(const cons_engine *e, uint32_t rr) {
  if ((uint64_t)rr + CONS_PAST_ROUNDS >= e->round) return 1;
  if ((int64_t)rr == e->locked_round || (int64_t)rr == e->valid_round) return 1;
  const rnd *cur = find_round(e, e->round);
  return cur && cur->has_prop && cur->prop.pol_round == (int64_t)rr;
}

static size_t future_rounds_of(const cons_engine *e, size_t idx) {
  size_t c = 0;
  for (size_t i = lower_bound(e, e->round); i < e->nr; i++)
    if ((uint64_t)e->r[i]->round > (uint64_t)e->round + 1 && is_seen(e->r[i], idx)) c++;
  return c;
}

static int admit(const cons_engine *e, uint32_t rr, size_t idx, int is_proposal) {
  if (rr < e->round) return retained(e, rr) ? 0 : CONS_MSG_STALE;
  if (is_proposal && rr - e->round > CONS_FUTURE_PROPOSAL_ROUNDS) return CONS_MSG_DEFERRED;
  if ((uint64_t)rr <= (uint64_t)e->round + 1) return 0;
  const rnd *x = find_round(e, rr);
  if (x && is_seen(x, idx)) return 0;
  return future_rounds_of(e, idx) < CONS_FUTURE_ROUNDS_PER_VALIDATOR ? 0 : CONS_MSG_DEFERRED;
}

static void prune(cons_engine *e) {
  size_t k = 0;
  for (size_t i = 0; i < e->nr; i++) {
    if (retained(e, e->r[i]->round)) e->r[k++] = e->r[i];
    else free_round(e->r[i]);
  }
  e->nr = k;
}

/* Verdict on a block hash from what is stored: lock and valid value are
 * valid by construction; else the verdict of a stored proposal of it. */
static int verdict_of(const cons_engine *e, const uint8_t hash[32]) {
  if (e->locked_round >= 0 && !memcmp(hash, e->locked_hash, 32)) return V_VALID;
  if (e->valid_round >= 0 && !memcmp(hash, e->valid_hash, 32)) return V_VALID;
  int pending = 0;
  for (size_t i = 0; i < e->nr; i++) {
    const rnd *x = e->r[i];
    if (!x->has_prop || memcmp(x->prop.block_hash, hash, 32)) continue;
    if (x->verdict) return x->verdict > 0 ? V_VALID : V_INVALID;
    pending = 1;
  }
  return pending ? V_PENDING : V_UNKNOWN;
}

/* ---- rules ---- */

static void cast(cons_engine *e, uint32_t type, int has_hash, const uint8_t *hash) {
  int t = (int)type - 1;
  e->intent[t].set = 1;
  e->intent[t].round = e->round;
  e->intent[t].has_hash = has_hash;
  memset(e->intent[t].hash, 0, 32);
  if (has_hash) memcpy(e->intent[t].hash, hash, 32);
  if (e->my_index < 0) return;
  cons_action a = {.kind = CONS_ACT_SIGN_VOTE, .vote_type = type, .height = e->height,
                   .round = e->round, .has_hash = has_hash};
  if (has_hash) memcpy(a.block_hash, hash, 32);
  push(e, &a);
}

/* StartRound(R), lines 11-21. */
static void start_round(cons_engine *e, uint32_t r, uint64_t now) {
  e->round = r;
  e->step = CONS_PROPOSE;
  e->prevote_wait = e->precommit_wait = WAIT_NONE;
  e->polka_done = 0;
  e->propose_armed = 1;
  e->propose_at = sat_add(now, timeout_propose(e, r));
  prune(e);
  if (e->my_index >= 0 && proposer_at(e, r) == (size_t)e->my_index) {
    cons_action a = {.kind = CONS_ACT_PROPOSE, .height = e->height, .round = r,
                     .pol_round = e->valid_round, .has_hash = e->valid_round >= 0};
    if (a.has_hash) memcpy(a.block_hash, e->valid_hash, 32);
    push(e, &a);
  }
}

static void decide(cons_engine *e, const rnd *x, const uint8_t hash[32], int verdict) {
  cons_action a = {.kind = CONS_ACT_COMMIT, .height = e->height, .round = x->round,
                   .has_hash = 1};
  memcpy(a.block_hash, hash, 32);
  a.block_status = verdict == V_VALID     ? CONS_BLOCK_VALID
                   : verdict == V_INVALID ? CONS_BLOCK_INVALID
                                          : CONS_BLOCK_MISSING;
  Cohort__Commit *c = malloc(sizeof *c);
  if (!c) goto nomem;
  cohort__commit__init(c);
  c->height = e->height;
  c->round = x->round;
  a.commit = c;
  c->block_hash.data = malloc(32);
  c->sigs = calloc(e->n, sizeof *c->sigs);
  if (!c->block_hash.data || !c->sigs) goto nomem;
  c->block_hash.len = 32;
  memcpy(c->block_hash.data, hash, 32);
  for (size_t i = 0; i < e->n; i++) {
    const vslot *s = slot_for(e, x, VOTE_PRECOMMIT, i, 1, hash);
    if (!s) continue;
    Cohort__CommitSig *cs = malloc(sizeof *cs);
    if (!cs) goto nomem;
    cohort__commit_sig__init(cs);
    c->sigs[c->n_sigs++] = cs;
    cs->validator.data = malloc(32);
    cs->signature.data = malloc(64);
    if (!cs->validator.data || !cs->signature.data) goto nomem;
    cs->validator.len = 32;
    cs->signature.len = 64;
    memcpy(cs->validator.data, e->s_h.key[i], 32);
    memcpy(cs->signature.data, s->sig, 64);
  }
  e->step = CONS_COMMIT;
  e->propose_armed = 0;
  e->prevote_wait = e->precommit_wait = WAIT_DONE;
  push(e, &a);
  return;
nomem:
  cons_action_free(&a);
  e->err = COHORT_ERR_NOMEM;
}

/* Lines 49-54: +2/3 precommits for v in any round of this height. */
static int rule_decide(cons_engine *e) {
  for (size_t i = 0; i < e->nr; i++) {
    const rnd *x = e->r[i];
    for (size_t k = 0; k < x->t[1].nh; k++) {
      if (!quorum(e, x->t[1].h[k].power)) continue;
      uint8_t hash[32];
      memcpy(hash, x->t[1].h[k].hash, 32);
      int v = verdict_of(e, hash);
      if (v == V_PENDING) return 0; /* the node is validating it: wait */
      decide(e, x, hash, v);
      return 1;
    }
  }
  return 0;
}

/* Lines 55-56: f+1 senders in a higher round (any round in NEW_HEIGHT). */
static int rule_round_skip(cons_engine *e, uint64_t now) {
  uint64_t min = e->step == CONS_NEW_HEIGHT ? 0 : (uint64_t)e->round + 1;
  for (size_t i = e->nr; i-- > 0;) {
    const rnd *x = e->r[i];
    if (x->round < min) break;
    if (one_third(e, x->seen_power)) {
      start_round(e, x->round, now);
      return 1;
    }
  }
  return 0;
}

/* Lines 22-33: prevote on the round's proposal. */
static int rule_prevote(cons_engine *e) {
  if (e->step != CONS_PROPOSE) return 0;
  const rnd *x = find_round(e, e->round);
  if (!x || !x->has_prop || x->verdict == 0) return 0;
  const cons_proposal *p = &x->prop;
  int ok;
  if (x->verdict < 0) {
    ok = 0; /* invalid: nil (lines 26 and 32 agree) */
  } else if (p->pol_round < 0) {
    ok = e->locked_round < 0 || !memcmp(e->locked_hash, p->block_hash, 32);
  } else {
    const rnd *pr = find_round(e, (uint32_t)p->pol_round);
    if (!pr || !quorum(e, tally_for(&pr->t[0], p->block_hash))) return 0;
    ok = e->locked_round <= p->pol_round || !memcmp(e->locked_hash, p->block_hash, 32);
  }
  uint8_t hash[32];
  memcpy(hash, p->block_hash, 32);
  cast(e, VOTE_PREVOTE, ok, hash);
  e->step = CONS_PREVOTE;
  return 1;
}

/* Lines 36-43: a polka for the valid proposal of our round. */
static int rule_polka(cons_engine *e) {
  if ((e->step != CONS_PREVOTE && e->step != CONS_PRECOMMIT) || e->polka_done) return 0;
  const rnd *x = find_round(e, e->round);
  if (!x || !x->has_prop || x->verdict <= 0) return 0;
  if (!quorum(e, tally_for(&x->t[0], x->prop.block_hash))) return 0;
  uint8_t hash[32];
  memcpy(hash, x->prop.block_hash, 32);
  e->polka_done = 1;
  if (e->step == CONS_PREVOTE) {
    e->locked_round = e->round;
    memcpy(e->locked_hash, hash, 32);
    cast(e, VOTE_PRECOMMIT, 1, hash);
    e->step = CONS_PRECOMMIT;
  }
  e->valid_round = e->round;
  memcpy(e->valid_hash, hash, 32);
  prune(e); /* an older locked/valid round may have lost its pin */
  return 1;
}

/* Lines 44-46: a nil polka. */
static int rule_nil_polka(cons_engine *e) {
  if (e->step != CONS_PREVOTE) return 0;
  const rnd *x = find_round(e, e->round);
  if (!x || !quorum(e, x->t[0].nil)) return 0;
  cast(e, VOTE_PRECOMMIT, 0, NULL);
  e->step = CONS_PRECOMMIT;
  return 1;
}

/* Lines 34-35 and 47-48: arm the vote waits, once per round. */
static void rule_vote_waits(cons_engine *e, uint64_t now) {
  const rnd *x = find_round(e, e->round);
  if (!x) return;
  if (e->step == CONS_PREVOTE && e->prevote_wait == WAIT_NONE && quorum(e, x->t[0].any)) {
    e->prevote_wait = WAIT_ARMED;
    e->prevote_at = sat_add(now, timeout_vote(e, e->round));
  }
  if (e->step != CONS_NEW_HEIGHT && e->step != CONS_COMMIT && e->precommit_wait == WAIT_NONE &&
      quorum(e, x->t[1].any)) {
    e->precommit_wait = WAIT_ARMED;
    e->precommit_at = sat_add(now, timeout_vote(e, e->round));
  }
}

static void progress(cons_engine *e, uint64_t now) {
  while (!e->err && e->step != CONS_COMMIT) {
    if (rule_decide(e)) return;
    if (rule_round_skip(e, now)) continue;
    if (e->step == CONS_NEW_HEIGHT) return;
    if (rule_prevote(e)) continue;
    if (rule_polka(e)) continue;
    if (rule_nil_polka(e)) continue;
    rule_vote_waits(e, now);
    return;
  }
}

/* A timeout of (height, r, step) — lines 57-67, plus the end of the wait
 * before round 0. Acts (and logs) only if it still applies. */
static int fire_timeout(cons_engine *e, uint32_t step, uint32_t r, uint64_t now) {
  if (r != e->round || e->step == CONS_COMMIT) return CONS_MSG_STALE;
  switch (step) {
    case CONS_TIMEOUT_NEW_HEIGHT:
      if (e->step != CONS_NEW_HEIGHT) return CONS_MSG_STALE;
      break;
    case CONS_TIMEOUT_PROPOSE:
      if (e->step != CONS_PROPOSE) return CONS_MSG_STALE;
      break;
    case CONS_TIMEOUT_PREVOTE:
      if (e->step != CONS_PREVOTE) return CONS_MSG_STALE;
      break;
    case CONS_TIMEOUT_PRECOMMIT:
      if (e->step == CONS_NEW_HEIGHT || r == UINT32_MAX) return CONS_MSG_STALE;
      break;
    default:
      return COHORT_ERR_INVALID;
  }
  cons_wal_rec w = {.kind = CONS_WAL_TIMEOUT};
  w.u.timeout.height = e->height;
  w.u.timeout.round = r;
  w.u.timeout.step = step;
  push_wal(e, &w, 0);
  switch (step) {
    case CONS_TIMEOUT_NEW_HEIGHT: start_round(e, 0, now); break;
    case CONS_TIMEOUT_PROPOSE:
      e->propose_armed = 0;
      cast(e, VOTE_PREVOTE, 0, NULL);
      e->step = CONS_PREVOTE;
      break;
    case CONS_TIMEOUT_PREVOTE:
      e->prevote_wait = WAIT_DONE;
      cast(e, VOTE_PRECOMMIT, 0, NULL);
      e->step = CONS_PRECOMMIT;
      break;
    case CONS_TIMEOUT_PRECOMMIT: start_round(e, r + 1, now); break;
  }
  progress(e, now);
  return CONS_MSG_ADDED;
}

/* ---- events ---- */

static int finish(cons_engine *e, int rc) {
  if (e->check_inv) {
    core_errbuf eb;
    if (cons_check_invariants(e, &eb)) {
      fprintf(stderr, "consensus invariant violated at height %llu round %u step %s: %s\n",
              (unsigned long long)e->height, e->round, cons_step_name(e->step), eb.msg);
      abort();
    }
  }
  return e->err ? e->err : rc;
}

static int buffer_next(cons_engine *e, int is_vote, const cons_vote *v, const cons_proposal *p) {
  uint32_t r = is_vote ? v->round : p->round;
  if (r >= CONS_NEXT_HEIGHT_ROUNDS) return CONS_MSG_DEFERRED;
  for (size_t i = 0; i < e->nnext; i++) {
    const pend *q = &e->next[i];
    if (q->is_vote != is_vote) continue;
    if (is_vote ? cons_vote_equal(&q->v, v) : cons_proposal_equal(&q->p, p))
      return CONS_MSG_DUPLICATE;
  }
  if (e->nnext >= CONS_NEXT_HEIGHT_MSGS) return CONS_MSG_DEFERRED;
  if (e->nnext == e->capnext) {
    size_t cap = e->capnext ? e->capnext * 2 : 16;
    pend *np = realloc(e->next, cap * sizeof *np);
    if (!np) return e->err = COHORT_ERR_NOMEM;
    e->next = np;
    e->capnext = cap;
  }
  pend *q = &e->next[e->nnext++];
  memset(q, 0, sizeof *q);
  q->is_vote = is_vote;
  if (is_vote) q->v = *v;
  else q->p = *p;
  return CONS_MSG_BUFFERED;
}

static int vote_in(cons_engine *e, const cons_vote *vin, uint64_t now) {
  if (e->err) return e->err;
  if (vin->type != VOTE_PREVOTE && vin->type != VOTE_PRECOMMIT) return COHORT_ERR_INVALID;
  cons_vote v = *vin;
  if (!v.has_hash) memset(v.block_hash, 0, 32);
  if (v.height < e->height) return CONS_MSG_STALE;
  if (v.height > e->height + 1) return CONS_MSG_FUTURE;
  if (v.height == e->height + 1) return buffer_next(e, 1, &v, NULL);
  if (e->step == CONS_COMMIT) return CONS_MSG_STALE;
  int idx = val_index(e, v.validator);
  if (idx < 0) return COHORT_ERR_INVALID;
  int ad = admit(e, v.round, (size_t)idx, 0);
  if (ad) return ad;
  rnd *x = get_round(e, v.round);
  if (!x) return e->err;
  size_t t = v.type - 1, at = t * e->n + (size_t)idx;
  uint64_t pw = e->s_h.power[idx];
  int result = CONS_MSG_ADDED;
  vslot *reuse = NULL;
  if (x->slot_of[at]) {
    /* Already voted here. The same value again is a duplicate; another is
     * equivocation: report it once, and keep the value (counted for it) if
     * the validator has fewer than CONS_VALUES_PER_VOTER values here, or in
     * place of its least supported conflicting value when this one has
     * more support from the others' votes (so an equivocator cannot push a
     * value everybody else voted for out with garbage). The first vote is
     * never replaced, nor a value that has a quorum. */
    vslot *first = &x->slots[x->slot_of[at] - 1];
    size_t k = 0;
    vslot *least = NULL;
    u128 least_support = 0;
    for (uint16_t q = x->slot_of[at]; q; q = x->slots[q - 1].next, k++) {
      vslot *s = &x->slots[q - 1];
      if (slot_is(s, v.has_hash, v.block_hash)) return CONS_MSG_DUPLICATE;
      if (s == first) continue;
      u128 sup = tally_value(&x->t[t], s->has_hash, s->hash) - pw;
      if (quorum(e, sup + pw)) continue;
      if (!least || sup < least_support) least = s, least_support = sup;
    }
    if (!first->evidence_sent) {
      first->evidence_sent = 1;
      cons_action a = {.kind = CONS_ACT_EVIDENCE, .height = v.height, .round = v.round,
                       .vote_type = v.type, .vote_b = v};
      vote_from_slot(e, x, v.type, (size_t)idx, first, &a.vote);
      push(e, &a);
    }
    if (k >= CONS_VALUES_PER_VOTER) {
      if (!least || tally_value(&x->t[t], v.has_hash, v.block_hash) <= least_support)
        return CONS_MSG_CONFLICT; /* not kept */
      reuse = least;
      tally_sub(&x->t[t], reuse->has_hash, reuse->hash, pw);
    }
    result = CONS_MSG_CONFLICT;
  }
  if (!reuse && x->nslots == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 4;
    vslot *ns = realloc(x->slots, cap * sizeof *ns);
    if (!ns) return e->err = COHORT_ERR_NOMEM;
    x->slots = ns;
    x->cap = cap;
  }
  if (tally_add(&x->t[t], v.has_hash, v.block_hash, pw, !x->slot_of[at]))
    return e->err = COHORT_ERR_NOMEM;
  vslot *s = reuse;
  if (!s) {
    s = &x->slots[x->nslots++];
    memset(s, 0, sizeof *s);
    uint16_t *link = &x->slot_of[at]; /* append to the chain */
    while (*link) link = &x->slots[*link - 1].next;
    *link = (uint16_t)x->nslots;
  }
  s->has_hash = v.has_hash != 0;
  memcpy(s->hash, v.block_hash, 32);
  memcpy(s->sig, v.signature, 64);
  mark_seen(e, x, (size_t)idx);
  int own = idx == e->my_index && result == CONS_MSG_ADDED;
  if (own) {
    cons_action a = {.kind = CONS_ACT_BROADCAST_VOTE, .height = v.height, .round = v.round,
                     .vote = v};
    push_where(e, &a, 1);
  }
  cons_wal_rec w = {.kind = CONS_WAL_VOTE};
  w.u.vote = v;
  push_wal(e, &w, own); /* own: in front of the broadcast */
  progress(e, now);
  return result;
}

static int proposal_in(cons_engine *e, const cons_proposal *p, uint64_t now) {
  if (e->err) return e->err;
  if (p->pol_round < -1 || p->pol_round >= (int64_t)p->round) return COHORT_ERR_INVALID;
  if (p->height < e->height) return CONS_MSG_STALE;
  if (p->height > e->height + 1) return CONS_MSG_FUTURE;
  if (p->height == e->height + 1) return buffer_next(e, 0, NULL, p);
  if (e->step == CONS_COMMIT) return CONS_MSG_STALE;
  int idx = val_index(e, p->proposer);
  if (idx < 0) return COHORT_ERR_INVALID;
  int ad = admit(e, p->round, (size_t)idx, 1);
  if (ad) return ad;
  if (proposer_at(e, p->round) != (size_t)idx) return COHORT_ERR_INVALID;
  rnd *x = get_round(e, p->round);
  if (!x) return e->err;
  if (x->has_prop) return cons_proposal_equal(&x->prop, p) ? CONS_MSG_DUPLICATE : CONS_MSG_CONFLICT;
  int v = verdict_of(e, p->block_hash); /* before storing: a known hash inherits */
  x->has_prop = 1;
  x->prop = *p;
  x->verdict = v == V_VALID ? 1 : v == V_INVALID ? -1 : 0;
  mark_seen(e, x, (size_t)idx);
  int own = idx == e->my_index;
  if (own) {
    cons_action a = {.kind = CONS_ACT_BROADCAST_PROPOSAL, .height = p->height,
                     .round = p->round, .proposal = *p};
    push_where(e, &a, 1);
  }
  cons_wal_rec w = {.kind = CONS_WAL_PROPOSAL};
  w.u.proposal = *p;
  push_wal(e, &w, own); /* own: in front of the broadcast */
  if (v == V_UNKNOWN) {
    cons_action a = {.kind = CONS_ACT_VALIDATE, .height = p->height, .round = p->round};
    memcpy(a.block_hash, p->block_hash, 32);
    push(e, &a);
  }
  /* on_proposal_stored: a round-0 proposal ends the wait before round 0. */
  if (e->step == CONS_NEW_HEIGHT && p->round == 0) start_round(e, 0, now);
  progress(e, now);
  return CONS_MSG_ADDED;
}

static int valid_in(cons_engine *e, uint64_t h, const uint8_t hash[32], int valid, uint64_t now) {
  if (e->err) return e->err;
  if (h != e->height) return CONS_MSG_STALE;
  int found = 0, changed = 0;
  for (size_t i = 0; i < e->nr; i++) {
    rnd *x = e->r[i];
    if (!x->has_prop || memcmp(x->prop.block_hash, hash, 32)) continue;
    found = 1;
    if (!x->verdict) {
      x->verdict = valid ? 1 : -1;
      changed = 1;
    }
  }
  if (!found) return COHORT_ERR_NOT_FOUND;
  if (!changed) return CONS_MSG_DUPLICATE;
  cons_wal_rec w = {.kind = CONS_WAL_VERDICT};
  w.u.verdict.height = h;
  memcpy(w.u.verdict.block_hash, hash, 32);
  w.u.verdict.valid = valid ? 1 : 0;
  push_wal(e, &w, 0);
  progress(e, now);
  return CONS_MSG_ADDED;
}

cons_engine *cons_new(const cons_config *cfg, const char *chain_id, const uint8_t *my_pubkey) {
  cons_engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->cfg = *cfg;
  if (!e->cfg.block_interval_ms) e->cfg.block_interval_ms = 1000;
  if (!e->cfg.timeout_propose_ms) e->cfg.timeout_propose_ms = 3000;
  if (!e->cfg.timeout_propose_delta_ms) e->cfg.timeout_propose_delta_ms = 500;
  if (!e->cfg.timeout_vote_ms) e->cfg.timeout_vote_ms = 1000;
  if (!e->cfg.timeout_vote_delta_ms) e->cfg.timeout_vote_delta_ms = 500;
  snprintf(e->chain_id, sizeof e->chain_id, "%s", chain_id);
  if (my_pubkey) {
    memcpy(e->my_pub, my_pubkey, 32);
    e->has_key = 1;
  }
  e->my_index = -1;
  e->locked_round = e->valid_round = -1;
#ifndef NDEBUG
  e->check_inv = 1;
#endif
  return e;
}

void cons_del(cons_engine *e) {
  if (!e) return;
  clear_rounds(e);
  free(e->r);
  for (size_t i = 0; i < e->qn; i++) cons_action_free(&e->q[(e->qh + i) % e->qcap]);
  free(e->q);
  free(e->next);
  free(e);
}

int cons_start_height(cons_engine *e, uint64_t height, const cons_prio *s_h, uint64_t now) {
  if (e->err) return e->err;
  if (!s_h->n || s_h->n > CONS_MAX_VALIDATORS || height == 0) return COHORT_ERR_INVALID;
  clear_rounds(e);
  e->s_h = *s_h;
  e->cursor_ok = 0;
  e->n = s_h->n;
  e->total = 0;
  for (size_t i = 0; i < e->n; i++) e->total += s_h->power[i];
  e->my_index = e->has_key ? val_index(e, e->my_pub) : -1;
  e->height = height;
  e->round = 0;
  e->step = CONS_NEW_HEIGHT;
  e->locked_round = e->valid_round = -1;
  memset(e->locked_hash, 0, 32);
  memset(e->valid_hash, 0, 32);
  e->propose_armed = e->polka_done = 0;
  e->prevote_wait = e->precommit_wait = WAIT_NONE;
  memset(e->intent, 0, sizeof e->intent);
  e->commit_time = now;
  /* Apply what was kept for this height (others for later heights stay). */
  pend *buf = e->next;
  size_t nb = e->nnext;
  e->next = NULL;
  e->nnext = e->capnext = 0;
  for (size_t i = 0; i < nb && !e->err; i++) {
    const pend *q = &buf[i];
    if ((q->is_vote ? q->v.height : q->p.height) != height) continue;
    if (q->is_vote) vote_in(e, &q->v, now);
    else proposal_in(e, &q->p, now);
  }
  free(buf);
  return finish(e, COHORT_OK);
}

static int ready_to_start(const cons_engine *e, uint64_t now) {
  if (now < sat_add(e->commit_time, e->cfg.block_interval_ms)) return 0;
  if (e->txs_available) return 1;
  return e->cfg.empty_block_interval_ms &&
         now >= sat_add(e->commit_time, e->cfg.empty_block_interval_ms);
}

int cons_on_tick(cons_engine *e, uint64_t now) {
  if (e->err) return e->err;
  if (!e->height) return COHORT_OK; /* no height started yet */
  if (e->step == CONS_NEW_HEIGHT) {
    if (ready_to_start(e, now)) fire_timeout(e, CONS_TIMEOUT_NEW_HEIGHT, 0, now);
  } else if (e->step != CONS_COMMIT) {
    if (e->propose_armed && now >= e->propose_at) {
      e->propose_armed = 0;
      fire_timeout(e, CONS_TIMEOUT_PROPOSE, e->round, now);
    }
    if (e->prevote_wait == WAIT_ARMED && now >= e->prevote_at) {
      e->prevote_wait = WAIT_DONE;
      fire_timeout(e, CONS_TIMEOUT_PREVOTE, e->round, now);
    }
    if (e->precommit_wait == WAIT_ARMED && now >= e->precommit_at) {
      e->precommit_wait = WAIT_DONE;
      fire_timeout(e, CONS_TIMEOUT_PRECOMMIT, e->round, now);
    }
  }
  return finish(e, COHORT_OK);
}

int cons_on_txs_available(cons_engine *e, int available, uint64_t now) {
  e->txs_available = available;
  if (e->step == CONS_NEW_HEIGHT) return cons_on_tick(e, now);
  return finish(e, COHORT_OK);
}

int cons_on_proposal(cons_engine *e, const cons_proposal *p, uint64_t now) {
  return finish(e, proposal_in(e, p, now));
}

int cons_on_proposal_valid(cons_engine *e, uint64_t h, const uint8_t hash[32], int valid,
                           uint64_t now) {
  return finish(e, valid_in(e, h, hash, valid, now));
}

int cons_on_vote(cons_engine *e, const cons_vote *v, uint64_t now) {
  return finish(e, vote_in(e, v, now));
}

/* ---- replay ---- */

int cons_replay_begin(cons_engine *e) {
  if (e->err) return e->err;
  e->replaying = 1;
  return COHORT_OK;
}

int cons_replay_record(cons_engine *e, const cons_wal_rec *r, uint64_t now) {
  if (!e->replaying) return COHORT_ERR_INVALID;
  if (cons_wal_rec_height(r) != e->height) return CONS_MSG_STALE;
  int rc;
  switch (r->kind) {
    case CONS_WAL_VOTE: rc = vote_in(e, &r->u.vote, now); break;
    case CONS_WAL_PROPOSAL: rc = proposal_in(e, &r->u.proposal, now); break;
    case CONS_WAL_VERDICT:
      rc = valid_in(e, r->u.verdict.height, r->u.verdict.block_hash, r->u.verdict.valid, now);
      break;
    case CONS_WAL_TIMEOUT:
      rc = fire_timeout(e, r->u.timeout.step, r->u.timeout.round, now);
      break;
    default: rc = CONS_MSG_STALE; break;
  }
  return finish(e, rc);
}

int cons_replay_end(cons_engine *e, uint64_t now) {
  e->replaying = 0;
  if (e->err) return e->err;
  if (e->step == CONS_COMMIT || e->step == CONS_NEW_HEIGHT) return finish(e, COHORT_OK);
  /* Validations still owed (the verdict never reached the WAL). */
  for (size_t i = 0; i < e->nr; i++) {
    const rnd *x = e->r[i];
    if (!x->has_prop || x->verdict) continue;
    cons_action a = {.kind = CONS_ACT_VALIDATE, .height = e->height, .round = x->round};
    memcpy(a.block_hash, x->prop.block_hash, 32);
    push(e, &a);
  }
  const rnd *cur = find_round(e, e->round);
  if (e->my_index >= 0) {
    size_t me = (size_t)e->my_index;
    if (e->step == CONS_PROPOSE && proposer_at(e, e->round) == me && !(cur && cur->has_prop)) {
      cons_action a = {.kind = CONS_ACT_PROPOSE, .height = e->height, .round = e->round,
                       .pol_round = e->valid_round, .has_hash = e->valid_round >= 0};
      if (a.has_hash) memcpy(a.block_hash, e->valid_hash, 32);
      push(e, &a);
    }
    if (cur && cur->has_prop && proposer_at(e, e->round) == me) {
      cons_action a = {.kind = CONS_ACT_BROADCAST_PROPOSAL, .height = e->height,
                       .round = e->round, .proposal = cur->prop};
      push(e, &a);
    }
    for (uint32_t type = VOTE_PREVOTE; type <= VOTE_PRECOMMIT; type++) {
      const vslot *s = cur ? slot_get(e, cur, type, me) : NULL;
      if (s) {
        cons_action a = {.kind = CONS_ACT_BROADCAST_VOTE, .height = e->height,
                         .round = e->round};
        vote_from_slot(e, cur, type, me, s, &a.vote);
        push(e, &a);
        continue;
      }
      int t = (int)type - 1;
      if (e->intent[t].set && e->intent[t].round == e->round) {
        cons_action a = {.kind = CONS_ACT_SIGN_VOTE, .vote_type = type, .height = e->height,
                         .round = e->round, .has_hash = e->intent[t].has_hash};
        memcpy(a.block_hash, e->intent[t].hash, 32);
        push(e, &a);
      }
    }
  }
  progress(e, now);
  return finish(e, COHORT_OK);
}

/* ---- deadlines and queries ---- */

uint64_t cons_next_deadline(const cons_engine *e) {
  if (e->step == CONS_COMMIT || !e->height) return 0;
  if (e->step == CONS_NEW_HEIGHT) {
    uint64_t t = sat_add(e->commit_time, e->cfg.block_interval_ms);
    if (!e->txs_available) {
      if (!e->cfg.empty_block_interval_ms) return 0;
      uint64_t t2 = sat_add(e->commit_time, e->cfg.empty_block_interval_ms);
      if (t2 > t) t = t2;
    }
    return t;
  }
  uint64_t d = 0;
  if (e->propose_armed) d = e->propose_at;
  if (e->prevote_wait == WAIT_ARMED && (!d || e->prevote_at < d)) d = e->prevote_at;
  if (e->precommit_wait == WAIT_ARMED && (!d || e->precommit_at < d)) d = e->precommit_at;
  return d;
}

size_t cons_validator_count(const cons_engine *e) { return e->n; }
int cons_validator_index(const cons_engine *e, const uint8_t pubkey[32]) {
  return val_index(e, pubkey);
}
const uint8_t *cons_validator_key(const cons_engine *e, size_t i) {
  return i < e->n ? e->s_h.key[i] : NULL;
}
uint64_t cons_validator_power(const cons_engine *e, size_t i) {
  return i < e->n ? e->s_h.power[i] : 0;
}
size_t cons_proposer_index(cons_engine *e, uint32_t round) { return proposer_at(e, round); }

int cons_get_vote(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, size_t index,
                  cons_vote *out) {
  if (h != e->height || index >= e->n || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT))
    return COHORT_ERR_NOT_FOUND;
  const rnd *x = find_round(e, r);
  const vslot *s = x ? slot_get(e, x, type, index) : NULL;
  if (!s) return COHORT_ERR_NOT_FOUND;
  vote_from_slot(e, x, type, index, s, out);
  return COHORT_OK;
}

size_t cons_vote_bitmap(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type,
                        uint8_t *bits, size_t bits_len) {
  memset(bits, 0, bits_len);
  if (h != e->height || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT)) return 0;
  const rnd *x = find_round(e, r);
  if (!x) return 0;
  size_t c = 0;
  for (size_t i = 0; i < e->n && i / 8 < bits_len; i++) {
    if (!slot_get(e, x, type, i)) continue;
    bits[i / 8] |= (uint8_t)(1u << (i % 8));
    c++;
  }
  return c;
}

int cons_get_vote_for(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, size_t index,
                      int has_hash, const uint8_t *hash, cons_vote *out) {
  if (h != e->height || index >= e->n || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT))
    return COHORT_ERR_NOT_FOUND;
  const rnd *x = find_round(e, r);
  const vslot *s = x ? slot_for(e, x, type, index, has_hash, hash) : NULL;
  if (!s) return COHORT_ERR_NOT_FOUND;
  vote_from_slot(e, x, type, index, s, out);
  return COHORT_OK;
}

size_t cons_vote_bitmap_for(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type,
                            int has_hash, const uint8_t *hash, uint8_t *bits, size_t bits_len) {
  memset(bits, 0, bits_len);
  if (h != e->height || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT)) return 0;
  const rnd *x = find_round(e, r);
  if (!x) return 0;
  size_t c = 0;
  for (size_t i = 0; i < e->n && i / 8 < bits_len; i++) {
    if (!slot_for(e, x, type, i, has_hash, hash)) continue;
    bits[i / 8] |= (uint8_t)(1u << (i % 8));
    c++;
  }
  return c;
}

int cons_quorum_value(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, int *has_hash,
                      uint8_t hash[32]) {
  if (h != e->height || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT)) return 0;
  const rnd *x = find_round(e, r);
  if (!x) return 0;
  const tally *t = &x->t[type - 1];
  if (quorum(e, t->nil)) {
    *has_hash = 0;
    memset(hash, 0, 32);
    return 1;
  }
  for (size_t k = 0; k < t->nh; k++)
    if (quorum(e, t->h[k].power)) {
      *has_hash = 1;
      memcpy(hash, t->h[k].hash, 32);
      return 1;
    }
  return 0;
}

int cons_get_proposal(const cons_engine *e, uint64_t h, uint32_t r, cons_proposal *out) {
  if (h != e->height) return COHORT_ERR_NOT_FOUND;
  const rnd *x = find_round(e, r);
  if (!x || !x->has_prop) return COHORT_ERR_NOT_FOUND;
  *out = x->prop;
  return COHORT_OK;
}

size_t cons_stored_rounds(const cons_engine *e, uint32_t *out, size_t max) {
  for (size_t i = 0; i < e->nr && i < max; i++) out[i] = e->r[i]->round;
  return e->nr;
}

uint64_t cons_height(const cons_engine *e) { return e->height; }
uint32_t cons_round(const cons_engine *e) { return e->round; }
cons_step cons_get_step(const cons_engine *e) { return e->step; }
int64_t cons_locked(const cons_engine *e, uint8_t hash[32]) {
  if (e->locked_round >= 0 && hash) memcpy(hash, e->locked_hash, 32);
  return e->locked_round;
}
int64_t cons_valid(const cons_engine *e, uint8_t hash[32]) {
  if (e->valid_round >= 0 && hash) memcpy(hash, e->valid_hash, 32);
  return e->valid_round;
}

void cons_set_check_invariants(cons_engine *e, int on) { e->check_inv = on; }

/* ---- invariants (consensus.h I1-I6) ---- */

static int check_value_round(const cons_engine *e, int64_t round, const uint8_t hash[32],
                             const char *what, core_errbuf *eb) {
  if (round < 0) return COHORT_OK;
  const rnd *x = find_round(e, (uint32_t)round);
  if (!x) return core_errf(eb, COHORT_ERR_CORRUPT, "I3: %s round %lld is not stored", what,
                           (long long)round);
  if (!x->has_prop || memcmp(x->prop.block_hash, hash, 32) || x->verdict != 1)
    return core_errf(eb, COHORT_ERR_CORRUPT, "I3: %s value is not the valid proposal of its "
                     "round", what);
  if (!quorum(e, tally_for(&x->t[0], hash)))
    return core_errf(eb, COHORT_ERR_CORRUPT, "I3: %s value has no prevote quorum in its round",
                     what);
  return COHORT_OK;
}

int cons_check_invariants(const cons_engine *e, core_errbuf *eb) {
  if (e->step == CONS_NEW_HEIGHT &&
      (e->round != 0 || e->locked_round != -1 || e->valid_round != -1))
    return core_errf(eb, COHORT_ERR_CORRUPT, "I1: NEW_HEIGHT with round %u, lock %lld, valid "
                     "%lld", e->round, (long long)e->locked_round, (long long)e->valid_round);
  if (e->locked_round < -1 || e->locked_round > e->valid_round ||
      e->valid_round > (int64_t)e->round)
    return core_errf(eb, COHORT_ERR_CORRUPT, "I2: lockedRound %lld validRound %lld round %u",
                     (long long)e->locked_round, (long long)e->valid_round, e->round);
  int rc;
  if ((rc = check_value_round(e, e->locked_round, e->locked_hash, "locked", eb))) return rc;
  if ((rc = check_value_round(e, e->valid_round, e->valid_hash, "valid", eb))) return rc;
  for (size_t i = 0; i < e->nr; i++) {
    const rnd *x = e->r[i];
    if (i && e->r[i - 1]->round >= x->round)
      return core_errf(eb, COHORT_ERR_CORRUPT, "I4: rounds out of order at %zu", i);
    u128 seen = 0;
    for (size_t v = 0; v < e->n; v++)
      if (is_seen(x, v)) seen += e->s_h.power[v];
    if (seen != x->seen_power)
      return core_errf(eb, COHORT_ERR_CORRUPT, "I4: round %u seen power mismatch", x->round);
    for (int t = 0; t < 2; t++) {
      u128 any = 0, nil = 0;
      for (size_t v = 0; v < e->n; v++) {
        uint16_t q = x->slot_of[(size_t)t * e->n + v];
        if (!q) continue;
        if (!is_seen(x, v))
          return core_errf(eb, COHORT_ERR_CORRUPT, "I4: round %u vote of an unseen validator",
                           x->round);
        any += e->s_h.power[v];
        size_t k = 0;
        for (; q; q = x->slots[q - 1].next, k++) {
          const vslot *s = &x->slots[q - 1];
          if (!s->has_hash) nil += e->s_h.power[v];
          for (uint16_t q2 = s->next; q2; q2 = x->slots[q2 - 1].next)
            if (slot_is(&x->slots[q2 - 1], s->has_hash, s->hash))
              return core_errf(eb, COHORT_ERR_CORRUPT, "I4: round %u validator %zu has one "
                               "value twice", x->round, v);
        }
        if (k > CONS_VALUES_PER_VOTER)
          return core_errf(eb, COHORT_ERR_CORRUPT, "I5: round %u validator %zu holds %zu values",
                           x->round, v, k);
      }
      for (size_t k = 0; k < x->t[t].nh; k++) {
        u128 p = 0;
        for (size_t v = 0; v < e->n; v++)
          if (slot_for(e, x, (uint32_t)t + 1, v, 1, x->t[t].h[k].hash)) p += e->s_h.power[v];
        if (p != x->t[t].h[k].power)
          return core_errf(eb, COHORT_ERR_CORRUPT, "I4: round %u tally for a hash is off",
                           x->round);
      }
      if (any != x->t[t].any || nil != x->t[t].nil)
        return core_errf(eb, COHORT_ERR_CORRUPT, "I4: round %u type %d tallies are off",
                         x->round, t + 1);
    }
    if (!retained(e, x->round))
      return core_errf(eb, COHORT_ERR_CORRUPT, "I5: round %u should have been pruned", x->round);
  }
  for (size_t v = 0; v < e->n; v++)
    if (future_rounds_of(e, v) > CONS_FUTURE_ROUNDS_PER_VALIDATOR)
      return core_errf(eb, COHORT_ERR_CORRUPT, "I5: validator %zu holds too many future rounds",
                       v);
  if (e->nnext > CONS_NEXT_HEIGHT_MSGS)
    return core_errf(eb, COHORT_ERR_CORRUPT, "I5: next-height buffer over its bound");
  return COHORT_OK;
}
