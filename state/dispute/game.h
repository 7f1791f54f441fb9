/* state/dispute/game.h — one verification game: a defender's claim that the
 * run reaches hash F at step s, bisected down to one step and decided by a
 * one-step proof (docs/tasks.md "The verification game").
 *
 * Pure: no state, no I/O, no allocation, no clock (heights are passed in).
 * The market keeps one game per disputed pair and calls these functions
 * from the transactions that carry the moves and from the begin-of-block
 * deadline check; the tests drive them directly.
 *
 * States (game.phase) and what each guarantees:
 *
 *   BISECT   hi - lo > 1; both parties accept h_lo, the defender asserts
 *            h_hi; the defender must post the hashes of game_points().
 *   SELECT   the defender's hashes of this round are stored; the challenger
 *            must name the first sub-range it disputes.
 *   PROVE    hi - lo == 1; the defender must post a one-step proof from
 *            h_lo that reaches h_hi.
 *   DONE     winner and reason are set; nothing changes any more.
 *
 * Transitions, and the function that performs each:
 *
 *   (start)  -> BISECT | PROVE | DONE  game_start     (DONE: steps 0, which
 *                                                      no consistent claim has)
 *   BISECT   -> SELECT                 game_bisect    defender's hashes
 *   SELECT   -> BISECT | PROVE         game_select    challenger's choice
 *   PROVE    -> DONE (defender wins)   game_prove     proof verifies to h_hi
 *   BISECT | SELECT | PROVE -> DONE    game_timeout   the party to move is
 *                                                     past its deadline or
 *                                                     out of clock
 *
 * Invariants (game_check): lo < hi <= steps; round <= game_max_rounds;
 * phase PROVE iff hi - lo == 1 while not DONE; the deadline is the turn's
 * start plus at most what the mover's clock has left.
 *
 * Every move is refused — with a code and a sentence, the game unchanged —
 * when it is not the mover's turn, late, malformed (wrong count, j out of
 * range) or, for a proof, does not verify to h_hi. Who the mover is is the
 * caller's business (it knows the parties' accounts); these functions only
 * know "defender" and "challenger".
 */
#ifndef COHORT_STATE_DISPUTE_GAME_H
#define COHORT_STATE_DISPUTE_GAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define GAME_HASH_LEN 32
#define GAME_ARITY_MIN 2
#define GAME_ARITY_MAX 64

typedef enum { GAME_BISECT = 1, GAME_SELECT = 2, GAME_PROVE = 3, GAME_DONE = 4 } game_phase;
typedef enum { GAME_DEFENDER = 0, GAME_CHALLENGER = 1 } game_party;

/* Why a game ended (stable numbers: they go into timeline events). */
typedef enum {
  GAME_END_PROVED = 1,       /* defender proved the disputed step */
  GAME_END_TIMEOUT = 2,      /* the party to move missed its deadline */
  GAME_END_CLOCK = 3,        /* the party to move ran out of total clock */
  GAME_END_INCONSISTENT = 4  /* the defender's claim cannot be true (0 steps) */
} game_end;

typedef struct {
  uint32_t arity;        /* k, GAME_ARITY_MIN..GAME_ARITY_MAX */
  uint64_t move_blocks;  /* deadline of every move after the first, >= 1 */
  uint64_t clock_blocks; /* each party's total clock, >= move_blocks */
  uint64_t steps_per_block; /* re-execution speed for the first move's allowance, >= 1 */
} game_params;

typedef struct {
  game_params p;
  game_phase phase;
  uint64_t steps;                 /* the defender's claimed step count */
  uint64_t lo, hi;                /* the disputed range */
  uint8_t h_lo[GAME_HASH_LEN], h_hi[GAME_HASH_LEN];
  uint32_t round;                 /* Selects so far */
  uint32_t npoints;               /* points of this round (m - 1), in SELECT */
  uint8_t hashes[GAME_ARITY_MAX - 1][GAME_HASH_LEN]; /* defender's, in SELECT */
  uint64_t turn_start;            /* height the current turn began */
  uint64_t deadline;              /* last height at which the mover may move */
  uint64_t clock[2];              /* blocks left, per party */
  int winner;                     /* game_party once DONE, else -1 */
  game_end reason;                /* once DONE */
} game;

/* Check params (bounds above). Returns 0 or COHORT_ERR_INVALID with eb. */
int game_params_check(const game_params *p, core_errbuf *eb);

/* Start a game at height `now`: range [0, steps], h_lo = initial,
 * h_hi = final. Returns 0 or COHORT_ERR_INVALID (params) / _OVERFLOW
 * (allowance arithmetic). */
int game_start(game *g, const game_params *p, const uint8_t initial[GAME_HASH_LEN],
               const uint8_t final[GAME_HASH_LEN], uint64_t steps, uint64_t now,
               core_errbuf *eb);

/* Whose move it is (only when not DONE). */
game_party game_mover(const game *g);

/* The points the defender must post hashes for in BISECT: out[0..*n) (room
 * for GAME_ARITY_MAX - 1), strictly increasing, inside (lo, hi). */
void game_points(const game *g, uint64_t *out, uint32_t *n);

/* BISECT: the defender's n hashes (n * 32 bytes), one per game_points()
 * point, at height now. Errors: COHORT_ERR_INVALID (not this phase, wrong
 * count), COHORT_ERR_TIMEOUT (late). */
int game_bisect(game *g, const uint8_t *hashes, size_t n, uint64_t now, core_errbuf *eb);

/* SELECT: the challenger disputes sub-range j (1-based, 1..npoints+1). */
int game_select(game *g, uint32_t j, uint64_t now, core_errbuf *eb);

/* PROVE: the defender's one-step proof. 0: the defender won (DONE).
 * COHORT_ERR_INVALID: not this phase, or the proof does not verify from h_lo
 * (COHORT_ERR_DECODE: malformed) or reaches another state — unchanged. */
int game_prove(game *g, const uint8_t *proof, size_t len, uint64_t now, core_errbuf *eb);

/* At the beginning of block `now`: if the mover is past its deadline, it
 * loses (DONE). Returns 1 if the game ended here, else 0. */
int game_timeout(game *g, uint64_t now);

/* Most Selects a game on `steps` steps can take with arity k:
 * ceil(log_k(steps)). */
uint32_t game_max_rounds(uint64_t steps, uint32_t k);

/* The invariants above; 0 or COHORT_ERR_CORRUPT with eb. */
int game_check(const game *g, core_errbuf *eb);

/* ---- the tournament (docs/tasks.md "Many claims") ----
 * Members by seat index, each with the index of its claim among the
 * distinct claims (claim[i]) and alive[i] (revealed and lost no game).
 * Picks the next game: *d, *c seat indices. Returns 1 if a game is to be
 * played, 0 if every alive member holds one claim (*d is then the first
 * alive member, or -1 if none is alive). */
int game_next_pair(const uint32_t *claim, const uint8_t *alive, size_t n, int *d, int *c);

#endif
