/* consensus/consensus.c — the Tendermint-style round state machine (see the
 * state diagram in consensus.h). Pure: no I/O, no clock, no allocation on
 * the vote path beyond a lazily created per-round vote table. */
#include "consensus/consensus.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "proto/block.h"

#define MAX_VALS 256
#define MAX_ROUNDS 64
#define QMAX 16

typedef struct {
  uint8_t set, has_hash;
  uint8_t hash[32];
  uint8_t sig[64];
} slot;

typedef struct {
  slot v[2][MAX_VALS]; /* [0] prevotes, [1] precommits */
} round_votes;

struct cons_engine {
  cons_config cfg;
  char chain_id[64];
  uint8_t my_pub[32];
  int has_key, my_index;
  uint64_t height;
  uint32_t round;
  cons_step step;
  size_t n;
  uint8_t pub[MAX_VALS][32];
  uint64_t power[MAX_VALS];
  unsigned __int128 total;
  round_votes *rv[MAX_ROUNDS];
  int have_proposal, proposal_valid;
  uint8_t proposal_hash[32];
  int locked;
  uint8_t locked_hash[32];
  uint64_t commit_time, deadline;
  int txs_available;
  uint32_t start_round;
  int vote_timeout_armed; /* prevote/precommit "+2/3 any" timer */
  cons_action q[QMAX];
  size_t qh, qn;
};

const char *cons_step_name(cons_step s) {
  static const char *n[] = {"new_height", "propose", "prevote", "precommit", "commit"};
  return s <= CONS_COMMIT ? n[s] : "?";
}

cons_engine *cons_new(const cons_config *cfg, const char *chain_id,
                      const uint8_t *my_pubkey) {
  cons_engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->cfg = *cfg;
  if (!e->cfg.block_interval_ms) e->cfg.block_interval_ms = 1000;
  if (!e->cfg.timeout_propose_ms) e->cfg.timeout_propose_ms = 3000;
  if (!e->cfg.timeout_vote_ms) e->cfg.timeout_vote_ms = 1000;
  strncpy(e->chain_id, chain_id, sizeof e->chain_id - 1);
  if (my_pubkey) {
    memcpy(e->my_pub, my_pubkey, 32);
    e->has_key = 1;
  }
  e->my_index = -1;
  return e;
}

static void clear_rounds(cons_engine *e) {
  for (int i = 0; i < MAX_ROUNDS; i++) {
    free(e->rv[i]);
    e->rv[i] = NULL;
  }
}

void cons_del(cons_engine *e) {
  if (!e) return;
  clear_rounds(e);
  for (size_t i = 0; i < e->qn; i++) cons_action_free(&e->q[(e->qh + i) % QMAX]);
  free(e);
}

static void push(cons_engine *e, const cons_action *a) {
  if (e->qn == QMAX) return; /* cannot happen: each event queues at most 2 */
  e->q[(e->qh + e->qn) % QMAX] = *a;
  e->qn++;
}

int cons_next_action(cons_engine *e, cons_action *a) {
  if (!e->qn) return 0;
  *a = e->q[e->qh];
  e->qh = (e->qh + 1) % QMAX;
  e->qn--;
  return 1;
}

void cons_action_free(cons_action *a) {
  if (a->commit) cohort__commit__free_unpacked(a->commit, NULL);
  a->commit = NULL;
}

size_t cons_proposer_index(const Cohort__ValidatorSet *vs, uint64_t h, uint32_t r) {
  unsigned __int128 total = 0;
  for (size_t i = 0; i < vs->n_validators; i++) total += vs->validators[i]->power;
  uint8_t buf[18 + 12], d[32];
  memcpy(buf, "cohort/proposer/v1", 18);
  core_put_u64be(buf + 18, h);
  core_put_u32be(buf + 26, r);
  core_sha256(d, buf, sizeof buf);
  unsigned __int128 x = 0;
  for (int i = 0; i < 16; i++) x = x << 8 | d[i];
  unsigned __int128 pick = total ? x % total : 0, acc = 0;
  for (size_t i = 0; i < vs->n_validators; i++) {
    acc += vs->validators[i]->power;
    if (pick < acc) return i;
  }
  return 0;
}

static size_t proposer_of(const cons_engine *e, uint32_t r) {
  /* Same rule as cons_proposer_index, over the engine's copy. */
  uint8_t buf[30], d[32];
  memcpy(buf, "cohort/proposer/v1", 18);
  core_put_u64be(buf + 18, e->height);
  core_put_u32be(buf + 26, r);
  core_sha256(d, buf, sizeof buf);
  unsigned __int128 x = 0, acc = 0;
  for (int i = 0; i < 16; i++) x = x << 8 | d[i];
  unsigned __int128 pick = e->total ? x % e->total : 0;
  for (size_t i = 0; i < e->n; i++) {
    acc += e->power[i];
    if (pick < acc) return i;
  }
  return 0;
}

int cons_start_height(cons_engine *e, uint64_t height,
                      const Cohort__ValidatorSet *vs, uint64_t now_ms) {
  if (vs->n_validators == 0 || vs->n_validators > MAX_VALS) return COHORT_ERR_INVALID;
  clear_rounds(e);
  e->n = vs->n_validators;
  e->total = 0;
  e->my_index = -1;
  for (size_t i = 0; i < e->n; i++) {
    if (vs->validators[i]->pubkey.len != 32) return COHORT_ERR_INVALID;
    memcpy(e->pub[i], vs->validators[i]->pubkey.data, 32);
    e->power[i] = vs->validators[i]->power;
    e->total += e->power[i];
    if (e->has_key && !memcmp(e->pub[i], e->my_pub, 32)) e->my_index = (int)i;
  }
  e->height = height;
  e->round = 0;
  e->step = CONS_NEW_HEIGHT;
  e->have_proposal = e->locked = e->vote_timeout_armed = 0;
  e->start_round = 0;
  e->commit_time = now_ms;
  e->deadline = now_ms + e->cfg.block_interval_ms;
  return COHORT_OK;
}

static void enter_propose(cons_engine *e, uint32_t r, uint64_t now) {
  e->round = r;
  e->step = CONS_PROPOSE;
  e->have_proposal = 0;
  e->vote_timeout_armed = 0;
  e->deadline = now + e->cfg.timeout_propose_ms + (uint64_t)r * 500;
  if (e->my_index >= 0 && proposer_of(e, r) == (size_t)e->my_index) {
    cons_action a = {.kind = CONS_ACT_PROPOSE, .height = e->height, .round = r};
    push(e, &a);
  }
}

static void cast(cons_engine *e, uint32_t type, int has_hash, const uint8_t *hash) {
  if (e->my_index < 0) return;
  cons_action a = {.kind = CONS_ACT_VOTE, .vote_type = type, .height = e->height,
                   .round = e->round, .has_hash = has_hash};
  if (has_hash) memcpy(a.block_hash, hash, 32);
  push(e, &a);
}

static void enter_prevote(cons_engine *e, uint64_t now) {
  e->step = CONS_PREVOTE;
  e->deadline = 0;
  if (e->locked)
    cast(e, VOTE_PREVOTE, 1, e->locked_hash);
  else if (e->have_proposal && e->proposal_valid)
    cast(e, VOTE_PREVOTE, 1, e->proposal_hash);
  else
    cast(e, VOTE_PREVOTE, 0, NULL);
  (void)now;
}

static void enter_precommit(cons_engine *e, int has_hash, const uint8_t *hash) {
  e->step = CONS_PRECOMMIT;
  e->deadline = 0;
  e->vote_timeout_armed = 0;
  cast(e, VOTE_PRECOMMIT, has_hash, hash);
}

/* Power for hash (or nil when hash == NULL) and of all votes, of a type. */
static void tally(const cons_engine *e, uint32_t r, int t, const uint8_t *hash,
                  unsigned __int128 *for_it, unsigned __int128 *any) {
  *for_it = *any = 0;
  const round_votes *rv = r < MAX_ROUNDS ? e->rv[r] : NULL;
  if (!rv) return;
  for (size_t i = 0; i < e->n; i++) {
    const slot *s = &rv->v[t][i];
    if (!s->set) continue;
    *any += e->power[i];
    if (hash ? (s->has_hash && !memcmp(s->hash, hash, 32)) : !s->has_hash)
      *for_it += e->power[i];
  }
}

static int quorum(const cons_engine *e, unsigned __int128 p) { return p * 3 > e->total * 2; }

static void do_commit(cons_engine *e, uint32_t r, const uint8_t *hash) {
  cons_action a = {.kind = CONS_ACT_COMMIT, .height = e->height, .round = r, .has_hash = 1};
  memcpy(a.block_hash, hash, 32);
  Cohort__Commit *c = malloc(sizeof *c);
  if (!c) return;
  cohort__commit__init(c);
  c->height = e->height;
  c->round = r;
  c->block_hash.data = malloc(32);
  c->block_hash.len = 32;
  c->sigs = calloc(e->n, sizeof *c->sigs);
  if (!c->block_hash.data || !c->sigs) {
    free(c->block_hash.data);
    free(c->sigs);
    free(c);
    return;
  }
  memcpy(c->block_hash.data, hash, 32);
  const round_votes *rv = e->rv[r];
  for (size_t i = 0; i < e->n; i++) {
    const slot *s = &rv->v[1][i];
    if (!s->set || !s->has_hash || memcmp(s->hash, hash, 32)) continue;
    Cohort__CommitSig *cs = malloc(sizeof *cs);
    uint8_t *pk = malloc(32), *sg = malloc(64);
    if (!cs || !pk || !sg) {
      free(cs);
      free(pk);
      free(sg);
      continue;
    }
    cohort__commit_sig__init(cs);
    memcpy(pk, e->pub[i], 32);
    memcpy(sg, s->sig, 64);
    cs->validator.data = pk;
    cs->validator.len = 32;
    cs->signature.data = sg;
    cs->signature.len = 64;
    c->sigs[c->n_sigs++] = cs;
  }
  a.commit = c;
  e->step = CONS_COMMIT;
  e->deadline = 0;
  push(e, &a);
}

static void evaluate(cons_engine *e, uint32_t r, uint64_t now) {
  unsigned __int128 f, any;
  /* +2/3 precommits for a block in any round: commit. */
  if (r < MAX_ROUNDS && e->rv[r] && e->step != CONS_COMMIT) {
    for (size_t i = 0; i < e->n; i++) {
      const slot *s = &e->rv[r]->v[1][i];
      if (!s->set || !s->has_hash) continue;
      tally(e, r, 1, s->hash, &f, &any);
      if (quorum(e, f)) {
        uint8_t h[32];
        memcpy(h, s->hash, 32);
        do_commit(e, r, h);
        return;
      }
    }
  }
  if (r != e->round || e->step == CONS_COMMIT) return;
  if (e->step == CONS_PREVOTE) {
    for (size_t i = 0; i < e->n; i++) {
      const slot *s = &e->rv[r]->v[0][i];
      if (!s->set || !s->has_hash) continue;
      tally(e, r, 0, s->hash, &f, &any);
      if (quorum(e, f)) {
        e->locked = 1;
        memcpy(e->locked_hash, s->hash, 32);
        uint8_t h[32];
        memcpy(h, s->hash, 32);
        enter_precommit(e, 1, h);
        return;
      }
    }
    tally(e, r, 0, NULL, &f, &any);
    if (quorum(e, f)) {
      e->locked = 0;
      enter_precommit(e, 0, NULL);
      return;
    }
    if (quorum(e, any) && !e->vote_timeout_armed) {
      e->vote_timeout_armed = 1;
      e->deadline = now + e->cfg.timeout_vote_ms;
    }
  } else if (e->step == CONS_PRECOMMIT) {
    tally(e, r, 1, NULL, &f, &any);
    if (quorum(e, any) && !e->vote_timeout_armed) {
      e->vote_timeout_armed = 1;
      e->deadline = now + e->cfg.timeout_vote_ms;
    }
  }
}

static int ready_to_start(const cons_engine *e, uint64_t now) {
  if (now < e->commit_time + e->cfg.block_interval_ms) return 0;
  if (e->txs_available) return 1;
  return e->cfg.empty_block_interval_ms &&
         now >= e->commit_time + e->cfg.empty_block_interval_ms;
}

static void update_new_height_deadline(cons_engine *e) {
  uint64_t t = e->commit_time + e->cfg.block_interval_ms;
  if (!e->txs_available) {
    if (!e->cfg.empty_block_interval_ms) {
      e->deadline = 0;
      return;
    }
    uint64_t t2 = e->commit_time + e->cfg.empty_block_interval_ms;
    if (t2 > t) t = t2;
  }
  e->deadline = t;
}

void cons_on_tick(cons_engine *e, uint64_t now) {
  switch (e->step) {
    case CONS_NEW_HEIGHT:
      if (ready_to_start(e, now)) enter_propose(e, e->start_round, now);
      else update_new_height_deadline(e);
      break;
    case CONS_PROPOSE:
      if (e->deadline && now >= e->deadline) enter_prevote(e, now);
      break;
    case CONS_PREVOTE:
      if (e->vote_timeout_armed && now >= e->deadline) enter_precommit(e, 0, NULL);
      break;
    case CONS_PRECOMMIT:
      if (e->vote_timeout_armed && now >= e->deadline && e->round + 1 < MAX_ROUNDS)
        enter_propose(e, e->round + 1, now);
      break;
    case CONS_COMMIT:
      break;
  }
}

void cons_on_txs_available(cons_engine *e, int available, uint64_t now) {
  e->txs_available = available;
  if (e->step == CONS_NEW_HEIGHT) cons_on_tick(e, now);
}

void cons_on_proposal(cons_engine *e, uint64_t h, uint32_t r,
                      const uint8_t proposer[32], const uint8_t hash[32],
                      int valid, uint64_t now) {
  if (h != e->height || r != e->round || e->step != CONS_PROPOSE) return;
  if (memcmp(e->pub[proposer_of(e, r)], proposer, 32)) return;
  e->have_proposal = 1;
  e->proposal_valid = valid;
  memcpy(e->proposal_hash, hash, 32);
  enter_prevote(e, now);
}

int cons_on_vote(cons_engine *e, uint32_t type, uint64_t h, uint32_t r,
                 const uint8_t validator[32], const uint8_t *hash,
                 const uint8_t sig[64], uint64_t now) {
  if (h != e->height || r >= MAX_ROUNDS || (type != VOTE_PREVOTE && type != VOTE_PRECOMMIT))
    return COHORT_ERR_INVALID;
  size_t i;
  for (i = 0; i < e->n; i++)
    if (!memcmp(e->pub[i], validator, 32)) break;
  if (i == e->n) return COHORT_ERR_INVALID;
  if (!e->rv[r] && !(e->rv[r] = calloc(1, sizeof(round_votes)))) return COHORT_ERR_NOMEM;
  slot *s = &e->rv[r]->v[type == VOTE_PRECOMMIT][i];
  if (s->set) {
    int same = s->has_hash == (hash != NULL) && (!hash || !memcmp(s->hash, hash, 32));
    return same ? COHORT_OK : COHORT_ERR_DOUBLE_SIGN;
  }
  s->set = 1;
  s->has_hash = hash != NULL;
  if (hash) memcpy(s->hash, hash, 32);
  memcpy(s->sig, sig, 64);
  evaluate(e, r, now);
  return COHORT_OK;
}

void cons_set_start_round(cons_engine *e, uint32_t r) {
  e->start_round = r < MAX_ROUNDS ? r : MAX_ROUNDS - 1;
}

uint64_t cons_next_deadline(const cons_engine *e) { return e->deadline; }
uint64_t cons_height(const cons_engine *e) { return e->height; }
uint32_t cons_round(const cons_engine *e) { return e->round; }
cons_step cons_get_step(const cons_engine *e) { return e->step; }
