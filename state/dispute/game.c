/* state/dispute/game.c — see game.h. */
#include "state/dispute/game.h"

#include <string.h>

#include "core/bytes.h"
#include "vm/vm.h"

int game_params_check(const game_params *p, core_errbuf *eb) {
  if (p->arity < GAME_ARITY_MIN || p->arity > GAME_ARITY_MAX)
    return core_errf(eb, COHORT_ERR_INVALID, "dispute arity %u is outside %u..%u", p->arity,
                     GAME_ARITY_MIN, GAME_ARITY_MAX);
  if (p->move_blocks < 1 || p->clock_blocks < p->move_blocks || p->steps_per_block < 1)
    return core_errf(eb, COHORT_ERR_INVALID, "dispute move deadline %llu, clock %llu and speed "
                     "%llu must satisfy 1 <= move <= clock and speed >= 1",
                     (unsigned long long)p->move_blocks, (unsigned long long)p->clock_blocks,
                     (unsigned long long)p->steps_per_block);
  return COHORT_OK;
}

static void end(game *g, game_party w, game_end why) {
  g->phase = GAME_DONE;
  g->winner = (int)w;
  g->reason = why;
  g->npoints = 0;
}

game_party game_mover(const game *g) {
  return g->phase == GAME_SELECT ? GAME_CHALLENGER : GAME_DEFENDER;
}

/* The turn of `who` begins at now with `extra` blocks of allowance. */
static void begin_turn(game *g, uint64_t now, uint64_t allowance) {
  game_party who = game_mover(g);
  uint64_t d = allowance < g->clock[who] ? allowance : g->clock[who];
  g->turn_start = now;
  g->deadline = now + d; /* d <= clock <= clock_blocks + steps/speed: no overflow at
                            sane heights; checked in game_start */
}

/* Blocks to re-run a claim of `steps` at the documented speed. */
static uint64_t rerun_blocks(const game *g) {
  return g->steps / g->p.steps_per_block + (g->steps % g->p.steps_per_block != 0);
}

int game_start(game *g, const game_params *p, const uint8_t initial[GAME_HASH_LEN],
               const uint8_t final[GAME_HASH_LEN], uint64_t steps, uint64_t now,
               core_errbuf *eb) {
  int rc = game_params_check(p, eb);
  if (rc) return rc;
  memset(g, 0, sizeof *g);
  g->p = *p;
  g->steps = steps;
  g->lo = 0;
  g->hi = steps;
  memcpy(g->h_lo, initial, GAME_HASH_LEN);
  memcpy(g->h_hi, final, GAME_HASH_LEN);
  g->winner = -1;
  /* Both parties may need to re-run the claim: the defender for its first
   * hashes, the challenger to judge them (its first Select). The clock
   * covers every move of the longest game at move_blocks each. */
  uint64_t allow = rerun_blocks(g), first, clock, need;
  uint32_t rounds = game_max_rounds(steps, p->arity);
  if (core_mul_u64(&need, (uint64_t)rounds + 1, p->move_blocks)) need = UINT64_MAX;
  uint64_t base = need > p->clock_blocks ? need : p->clock_blocks;
  if (core_add_u64(&first, p->move_blocks, allow) || core_add_u64(&clock, base, allow) ||
      now > UINT64_MAX / 4 || clock > UINT64_MAX / 4)
    return core_errf(eb, COHORT_ERR_OVERFLOW, "dispute deadlines overflow");
  g->clock[GAME_DEFENDER] = clock;
  g->clock[GAME_CHALLENGER] = clock;
  if (steps == 0) { /* the initial state is running: no claim of 0 steps holds */
    g->hi = 0;
    end(g, GAME_CHALLENGER, GAME_END_INCONSISTENT);
    g->turn_start = g->deadline = now;
    return COHORT_OK;
  }
  g->phase = steps == 1 ? GAME_PROVE : GAME_BISECT;
  begin_turn(g, now, first);
  return COHORT_OK;
}

void game_points(const game *g, uint64_t *out, uint32_t *n) {
  uint64_t w = g->hi - g->lo;
  uint32_t m = w < g->p.arity ? (uint32_t)w : g->p.arity;
  *n = m ? m - 1 : 0;
  for (uint32_t i = 1; i < m; i++) /* lo + floor(w * i / m), exact in 128 bits */
    out[i - 1] = g->lo + (uint64_t)((unsigned __int128)w * i / m);
}

/* A move by the mover at now: on time? Charges its clock. */
static int on_time(game *g, uint64_t now, core_errbuf *eb) {
  if (now < g->turn_start)
    return core_errf(eb, COHORT_ERR_INVALID, "a move at height %llu is before its turn (%llu)",
                     (unsigned long long)now, (unsigned long long)g->turn_start);
  if (now > g->deadline)
    return core_errf(eb, COHORT_ERR_TIMEOUT, "the %s's deadline was height %llu",
                     game_mover(g) == GAME_DEFENDER ? "defender" : "challenger",
                     (unsigned long long)g->deadline);
  return COHORT_OK;
}

static void charge(game *g, uint64_t now) {
  g->clock[game_mover(g)] -= now - g->turn_start; /* <= deadline - turn_start <= clock */
}

int game_bisect(game *g, const uint8_t *hashes, size_t n, uint64_t now, core_errbuf *eb) {
  if (g->phase != GAME_BISECT)
    return core_errf(eb, COHORT_ERR_INVALID, "the game does not wait for the defender's hashes");
  uint64_t pts[GAME_ARITY_MAX - 1];
  uint32_t want;
  game_points(g, pts, &want);
  if (n != want)
    return core_errf(eb, COHORT_ERR_INVALID, "%zu hashes for a range of %llu..%llu: it needs "
                     "%u (steps %llu..%llu)", n, (unsigned long long)g->lo,
                     (unsigned long long)g->hi, want, (unsigned long long)pts[0],
                     (unsigned long long)pts[want - 1]);
  int rc = on_time(g, now, eb);
  if (rc) return rc;
  charge(g, now);
  memcpy(g->hashes, hashes, n * GAME_HASH_LEN);
  g->npoints = want;
  g->phase = GAME_SELECT;
  /* the challenger's first choice may need its own re-run of the claim */
  begin_turn(g, now, g->round == 0 ? g->p.move_blocks + rerun_blocks(g) : g->p.move_blocks);
  return COHORT_OK;
}

int game_select(game *g, uint32_t j, uint64_t now, core_errbuf *eb) {
  if (g->phase != GAME_SELECT)
    return core_errf(eb, COHORT_ERR_INVALID, "the game does not wait for the challenger's choice");
  if (j < 1 || j > g->npoints + 1)
    return core_errf(eb, COHORT_ERR_INVALID, "sub-range %u does not exist: 1..%u", j,
                     g->npoints + 1);
  int rc = on_time(g, now, eb);
  if (rc) return rc;
  charge(g, now);
  uint64_t pts[GAME_ARITY_MAX - 1] = {0};
  uint32_t n = 0;
  game_points(g, pts, &n);
  uint64_t lo = j == 1 ? g->lo : pts[j - 2], hi = j == n + 1 ? g->hi : pts[j - 1];
  if (j > 1) memcpy(g->h_lo, g->hashes[j - 2], GAME_HASH_LEN);
  if (j <= n) memcpy(g->h_hi, g->hashes[j - 1], GAME_HASH_LEN);
  g->lo = lo;
  g->hi = hi;
  g->round++;
  g->npoints = 0;
  g->phase = hi - lo == 1 ? GAME_PROVE : GAME_BISECT;
  begin_turn(g, now, g->p.move_blocks);
  return COHORT_OK;
}

int game_prove(game *g, const uint8_t *proof, size_t len, uint64_t now, core_errbuf *eb) {
  if (g->phase != GAME_PROVE)
    return core_errf(eb, COHORT_ERR_INVALID, "the game does not wait for a one-step proof");
  int rc = on_time(g, now, eb);
  if (rc) return rc;
  uint8_t post[GAME_HASH_LEN];
  core_errbuf veb;
  rc = cohort_vm_verify(g->h_lo, proof, len, post, &veb);
  if (rc)
    return core_errf(eb, rc == COHORT_ERR_DECODE ? COHORT_ERR_DECODE : COHORT_ERR_INVALID,
                     "the proof of step %llu does not verify: %s", (unsigned long long)g->lo,
                     veb.msg);
  if (memcmp(post, g->h_hi, GAME_HASH_LEN))
    return core_errf(eb, COHORT_ERR_INVALID, "the proof of step %llu reaches another state than "
                     "the one the defender claimed at step %llu", (unsigned long long)g->lo,
                     (unsigned long long)g->hi);
  charge(g, now);
  end(g, GAME_DEFENDER, GAME_END_PROVED);
  return COHORT_OK;
}

int game_timeout(game *g, uint64_t now) {
  if (g->phase == GAME_DONE || now <= g->deadline) return 0;
  game_party m = game_mover(g);
  int by_clock = g->deadline - g->turn_start >= g->clock[m];
  end(g, m == GAME_DEFENDER ? GAME_CHALLENGER : GAME_DEFENDER,
      by_clock ? GAME_END_CLOCK : GAME_END_TIMEOUT);
  return 1;
}

uint32_t game_max_rounds(uint64_t steps, uint32_t k) {
  uint32_t r = 0;
  uint64_t w = steps;
  while (w > 1) { /* each Select leaves at most ceil(w / min(k, w)) */
    uint64_t m = w < k ? w : k;
    w = w / m + (w % m != 0);
    r++;
  }
  return r;
}

int game_check(const game *g, core_errbuf *eb) {
  if (g->phase == GAME_DONE) {
    if (g->winner != GAME_DEFENDER && g->winner != GAME_CHALLENGER)
      return core_errf(eb, COHORT_ERR_CORRUPT, "a finished game without a winner");
    return COHORT_OK;
  }
  if (g->phase < GAME_BISECT || g->phase > GAME_PROVE)
    return core_errf(eb, COHORT_ERR_CORRUPT, "game phase %d", g->phase);
  if (!(g->lo < g->hi && g->hi <= g->steps))
    return core_errf(eb, COHORT_ERR_CORRUPT, "game range %llu..%llu of %llu steps",
                     (unsigned long long)g->lo, (unsigned long long)g->hi,
                     (unsigned long long)g->steps);
  if ((g->phase == GAME_PROVE) != (g->hi - g->lo == 1))
    return core_errf(eb, COHORT_ERR_CORRUPT, "game phase does not match its range");
  if (g->round > game_max_rounds(g->steps, g->p.arity))
    return core_errf(eb, COHORT_ERR_CORRUPT, "game round %u past the bound", g->round);
  if (g->deadline < g->turn_start || g->deadline - g->turn_start > g->clock[game_mover(g)])
    return core_errf(eb, COHORT_ERR_CORRUPT, "game deadline beyond the mover's clock");
  if (g->phase == GAME_SELECT) {
    uint64_t pts[GAME_ARITY_MAX - 1];
    uint32_t n;
    game_points(g, pts, &n);
    if (g->npoints == 0 || g->npoints != n)
      return core_errf(eb, COHORT_ERR_CORRUPT, "game holds %u hashes for a round of %u points",
                       g->npoints, n);
  }
  return COHORT_OK;
}

int game_next_pair(const uint32_t *claim, const uint8_t *alive, size_t n, int *d, int *c) {
  *d = *c = -1;
  for (size_t i = 0; i < n; i++) {
    if (!alive[i]) continue;
    if (*d < 0) {
      *d = (int)i;
      continue;
    }
    if (claim[i] != claim[*d]) {
      *c = (int)i;
      return 1;
    }
  }
  return 0;
}
