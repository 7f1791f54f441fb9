/* state/dispute/dispute.c — the verification game on chain: the tournament
 * of docs/tasks.md ("Many claims") over a DISPUTED task's members, one game
 * (game.h) at a time, stored in Task.game; its moves as transactions; its
 * deadline in the market's deadline index; the outcome.
 *
 * Task states while disputed (Task.status stays DISPUTED throughout):
 *
 *   game running   Task.game set; deadline = the game's deadline (the mover
 *                  may move in any block up to it; at the end of that block
 *                  a mover that did not move loses).
 *   between games  only inside one call: the loser is out (TaskMember.lost),
 *                  slashed; the next pair is picked at once.
 *
 * Transitions, and the function that performs each:
 *
 *   REVEALING -> DISPUTED (game 1)    mk_dispute_begin   different claims
 *   DISPUTED  -> DISPUTED (move)      mk_exec_dispute    a valid move
 *   DISPUTED  -> DISPUTED (next game) end_game           a game ended, the
 *                                                        alive members still
 *                                                        disagree
 *   DISPUTED  -> AGREED               end_game           every alive member
 *                                                        holds one claim
 *   DISPUTED  -> DRAWING | EXPIRED    end_game           nobody is left
 *
 * The loser of a game loses dispute_slash_bps of its stake + unbonding:
 * dispute_winner_bps of that to the winner's account, the rest burned. It
 * gets no fee back and is never paid; its seat's stake lock is released.
 * The members that survive are paid at FINAL like any agreed committee.
 */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "state/bank/bank.h"
#include "state/dispute/game.h"
#include "state/market/market_int.h"

static int claims_same(const Cohort__Claim *a, const Cohort__Claim *b) {
  return a->steps == b->steps && a->status == b->status && a->code == b->code &&
         a->final_state.len == b->final_state.len && a->output_hash.len == b->output_hash.len &&
         !memcmp(a->final_state.data, b->final_state.data, a->final_state.len) &&
         !memcmp(a->output_hash.data, b->output_hash.data, a->output_hash.len);
}

/* Alive: drawn in the current committee, revealed, lost no game. */
static int alive(const Cohort__TaskMember *m) { return !m->replaced && !m->lost && m->claim; }

static void game_params_of(state_exec *x, game_params *gp) {
  const Cohort__Params *p = mk_params(x);
  gp->arity = p->dispute_arity < GAME_ARITY_MIN   ? GAME_ARITY_MIN
              : p->dispute_arity > GAME_ARITY_MAX ? GAME_ARITY_MAX
                                                  : p->dispute_arity;
  gp->move_blocks = p->dispute_move_blocks ? p->dispute_move_blocks : 1;
  gp->clock_blocks = p->dispute_clock_blocks > gp->move_blocks ? p->dispute_clock_blocks
                                                                : gp->move_blocks;
  gp->steps_per_block = p->exec_steps_per_block ? p->exec_steps_per_block : 1;
}

/* ---- Task.game <-> game ---- */

static int game_load(const Cohort__Game *pg, game *g) {
  memset(g, 0, sizeof *g);
  if (pg->phase < GAME_BISECT || pg->phase > GAME_PROVE || pg->h_lo.len != 32 ||
      pg->h_hi.len != 32 || pg->hashes.len % 32 || pg->hashes.len > 32 * (GAME_ARITY_MAX - 1))
    return COHORT_ERR_CORRUPT;
  g->p = (game_params){pg->arity, pg->move_blocks, pg->clock_blocks, pg->steps_per_block};
  g->phase = (game_phase)pg->phase;
  g->steps = pg->steps;
  g->lo = pg->lo;
  g->hi = pg->hi;
  memcpy(g->h_lo, pg->h_lo.data, 32);
  memcpy(g->h_hi, pg->h_hi.data, 32);
  g->round = pg->round;
  g->npoints = (uint32_t)(pg->hashes.len / 32);
  if (pg->hashes.len) memcpy(g->hashes, pg->hashes.data, pg->hashes.len);
  g->turn_start = pg->turn_start;
  g->deadline = pg->deadline;
  g->clock[GAME_DEFENDER] = pg->clock_defender;
  g->clock[GAME_CHALLENGER] = pg->clock_challenger;
  g->winner = -1;
  core_errbuf eb;
  return game_check(g, &eb) ? COHORT_ERR_CORRUPT : COHORT_OK;
}

static int game_store(Cohort__Task *t, const game *g, uint32_t d, uint32_t c) {
  Cohort__Game *pg = t->game;
  if (!pg) {
    if (!(pg = malloc(sizeof *pg))) return COHORT_ERR_NOMEM;
    cohort__game__init(pg);
    t->game = pg;
  }
  pg->defender = d;
  pg->challenger = c;
  pg->phase = (uint32_t)g->phase;
  pg->steps = g->steps;
  pg->lo = g->lo;
  pg->hi = g->hi;
  int rc = mk_set_bytes(&pg->h_lo, g->h_lo, 32);
  if (!rc) rc = mk_set_bytes(&pg->h_hi, g->h_hi, 32);
  if (!rc) rc = mk_set_bytes(&pg->hashes, g->hashes, g->phase == GAME_SELECT ? g->npoints * 32u : 0);
  pg->round = g->round;
  pg->turn_start = g->turn_start;
  pg->deadline = g->deadline;
  pg->clock_defender = g->clock[GAME_DEFENDER];
  pg->clock_challenger = g->clock[GAME_CHALLENGER];
  pg->arity = g->p.arity;
  pg->move_blocks = g->p.move_blocks;
  pg->clock_blocks = g->p.clock_blocks;
  pg->steps_per_block = g->p.steps_per_block;
  return rc;
}

/* ---- the tournament ---- */

static int next_game(state_exec *x, const uint8_t id[32], Cohort__Task *t);

static int end_game(state_exec *x, const uint8_t id[32], Cohort__Task *t, const game *g) {
  const Cohort__Params *p = mk_params(x);
  uint32_t d = t->game->defender, c = t->game->challenger;
  int rc;
  if (c == GAME_OUTSIDE && g->winner == GAME_DEFENDER) {
    /* The outside challenger lost: its bond goes, the winner's share to the
     * member; the result stands and its challenge window starts again. */
    uint64_t bond = t->bond, share = (uint64_t)((unsigned __int128)bond * p->dispute_winner_bps /
                                                10000);
    uint8_t who[20];
    if (t->challenger.len != 20) return COHORT_ERR_CORRUPT;
    memcpy(who, t->challenger.data, 20);
    if ((rc = bank_burn(x, 0, bond - share)) ||
        (rc = bank_credit(x, t->members[d]->executor.data, BANK_STK, share)))
      return rc;
    t->bond = 0;
    free(t->challenger.data);
    t->challenger = (ProtobufCBinaryData){0, NULL};
    t->games++;
    cohort__game__free_unpacked(t->game, NULL);
    t->game = NULL;
    if ((rc = mk_event(t, x->height, EV_GAME_END, who, bond, (uint64_t)g->reason | 256u, NULL)))
      return rc;
    uint32_t chal = p->challenge_blocks ? p->challenge_blocks : 1;
    return mk_task_move(x, id, t, T_AGREED, x->height + chal);
  }
  uint32_t lose = g->winner == GAME_DEFENDER ? c : d, win = lose == d ? c : d;
  Cohort__TaskMember *lm = t->members[lose];
  const uint8_t *to = win == GAME_OUTSIDE ? t->challenger.data : t->members[win]->executor.data;
  uint64_t slashed, paid;
  rc = mk_slash_share(x, lm->executor.data, p->dispute_slash_bps, lm->seated_height, to,
                      p->dispute_winner_bps,
                      &slashed, &paid);
  if (!rc) rc = mk_seat_release(x, lm->executor.data, id, 0);
  if (rc) return rc;
  lm->lost = 1;
  t->games++;
  cohort__game__free_unpacked(t->game, NULL);
  t->game = NULL;
  rc = mk_event(t, x->height, EV_GAME_END, lm->executor.data, slashed,
                (uint64_t)g->reason | (g->winner == GAME_DEFENDER ? 256u : 0u), NULL);
  return rc ? rc : next_game(x, id, t);
}

static int next_game(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  size_t n = t->n_members;
  uint32_t *cls = calloc(n ? n : 1, sizeof *cls);
  uint8_t *al = calloc(n ? n : 1, 1);
  if (!cls || !al) {
    free(cls);
    free(al);
    return COHORT_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    al[i] = (uint8_t)alive(t->members[i]);
    cls[i] = (uint32_t)i;
    for (size_t j = 0; j < i && al[i]; j++)
      if (al[j] && claims_same(t->members[j]->claim, t->members[i]->claim)) {
        cls[i] = cls[j];
        break;
      }
  }
  int d, c, rc;
  int more = game_next_pair(cls, al, n, &d, &c);
  size_t agreeing = 0;
  for (size_t i = 0; i < n && d >= 0; i++) agreeing += al[i];
  free(cls);
  free(al);
  if (t->challenger.len == 20) {
    /* An outside challenge: the challenger against each member holding the
     * result, in seat order (all alive members hold it). */
    if (d < 0) { /* the challenger beat them all: bond back, result gone, redraw */
      if ((rc = bank_credit(x, t->challenger.data, BANK_STK, t->bond))) return rc;
      t->bond = 0;
      free(t->challenger.data);
      t->challenger = (ProtobufCBinaryData){0, NULL};
      cohort__claim__free_unpacked(t->result, NULL);
      t->result = NULL;
      return mk_task_redraw(x, id, t, EXP_NO_SURVIVOR);
    }
    more = 1;
    c = (int)GAME_OUTSIDE;
  }
  if (!more) {
    if (d < 0) return mk_task_redraw(x, id, t, EXP_NO_SURVIVOR); /* nobody left */
    /* The games slash liars, but they never stand in for the quorum: a
     * result needs `quorum` revealed members of the committee (lost ones
     * count: they revealed), as an undisputed one does. */
    size_t revealed = 0;
    for (size_t i = 0; i < n; i++) revealed += !t->members[i]->replaced && t->members[i]->claim;
    if (revealed < t->quorum) return mk_task_expire(x, id, t, EXP_NO_QUORUM);
    return mk_task_agree(x, id, t, t->members[d]->claim, agreeing);
  }
  game_params gp;
  game_params_of(x, &gp);
  const Cohort__Claim *dc = c == (int)GAME_OUTSIDE ? t->result : t->members[d]->claim;
  game g;
  core_errbuf eb;
  if (t->initial_state.len != 32 || dc->final_state.len != 32) return COHORT_ERR_CORRUPT;
  if ((rc = game_start(&g, &gp, t->initial_state.data, dc->final_state.data, dc->steps, x->height,
                       &eb)))
    return rc == COHORT_ERR_OVERFLOW ? COHORT_ERR_CORRUPT : rc;
  if ((rc = game_store(t, &g, (uint32_t)d, (uint32_t)c))) return rc;
  if (!dc) return COHORT_ERR_CORRUPT;
  if ((rc = mk_event(t, x->height, EV_GAME, t->members[d]->executor.data,
                     (uint64_t)d << 32 | (uint32_t)c, dc->steps, NULL)))
    return rc;
  if (g.phase == GAME_DONE) return end_game(x, id, t, &g);
  return mk_task_move(x, id, t, T_DISPUTED, g.deadline);
}

int mk_dispute_begin(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  int rc = mk_task_move(x, id, t, T_DISPUTED, 0);
  return rc ? rc : next_game(x, id, t);
}

/* Gas of the largest move: a 4096-byte proof (or 63 hashes) in a tx. */
#define MOVE_TX_MAX (4096 + 512)

int mk_dispute_due(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  game g;
  if (!t->game || game_load(t->game, &g)) return COHORT_ERR_CORRUPT;
  /* A deadline block without room for the largest move may have crowded the
   * mover out (blocks stuffed with higher-fee txs): its deadline and its
   * clock move on by one block, at most dispute_move_blocks times per turn.
   * To make a mover lose, stuffing must fill every block of its window and
   * then as many again. */
  const Cohort__Params *p = mk_params(x);
  uint64_t move_gas = p->gas_tx + (uint64_t)p->gas_tx_byte * MOVE_TX_MAX;
  if (x->blk_gas + move_gas > p->max_block_gas &&
      t->game->extensions < p->dispute_move_blocks) {
    t->game->extensions++;
    t->game->deadline++;
    if (game_mover(&g) == GAME_DEFENDER) t->game->clock_defender++;
    else t->game->clock_challenger++;
    return mk_task_move(x, id, t, T_DISPUTED, t->game->deadline);
  }
  /* the end of block `deadline`: the mover had every block up to it */
  if (!game_timeout(&g, x->height + 1)) return COHORT_ERR_CORRUPT;
  return end_game(x, id, t, &g);
}

/* ---- the moves ---- */

int mk_exec_dispute(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__TxBody *b = tx->body;
  const ProtobufCBinaryData *tid = b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_BISECT
                                       ? &b->dispute_bisect->task_id
                                   : b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_SELECT
                                       ? &b->dispute_select->task_id
                                       : &b->dispute_prove->task_id;
  int rc;
  Cohort__Task *t = mk_get_task(x, tid->data, &rc);
  if (!t) return rc ? rc : mk_fail(res, COHORT_ERR_NOT_FOUND, "no such task");
  game g;
  if (t->status != T_DISPUTED || !t->game) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "the task is not in a verification game");
    goto out;
  }
  if ((rc = game_load(t->game, &g))) goto out;
  uint32_t d = t->game->defender, c = t->game->challenger;
  if (d >= t->n_members || (c >= t->n_members && c != GAME_OUTSIDE) ||
      (c == GAME_OUTSIDE && t->challenger.len != 20)) {
    rc = COHORT_ERR_CORRUPT;
    goto out;
  }
  game_party who = game_mover(&g);
  const ProtobufCBinaryData *mover = who == GAME_DEFENDER ? &t->members[d]->executor
                                     : c == GAME_OUTSIDE  ? &t->challenger
                                                          : &t->members[c]->executor;
  if (mover->len != 20 || memcmp(mover->data, tx->sender, 20)) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "it is the %s's move (seat %u), not the sender's",
                 who == GAME_DEFENDER ? "defender" : "challenger", who == GAME_DEFENDER ? d : c);
    goto out;
  }
  /* the move must answer this very state of the game */
  uint32_t pg, pr;
  uint64_t plo, phi;
  const ProtobufCBinaryData *seen = NULL;
  if (b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_BISECT) {
    const Cohort__MsgDisputeBisect *m = b->dispute_bisect;
    pg = m->game, pr = m->round, plo = m->lo, phi = m->hi;
  } else if (b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_SELECT) {
    const Cohort__MsgDisputeSelect *m = b->dispute_select;
    pg = m->game, pr = m->round, plo = m->lo, phi = m->hi, seen = &m->seen;
  } else {
    const Cohort__MsgDisputeProve *m = b->dispute_prove;
    pg = m->game, pr = m->round, plo = m->lo, phi = m->hi;
  }
  uint8_t digest[32];
  if (seen) core_sha256(digest, g.hashes, (size_t)g.npoints * 32);
  if (pg != t->games || pr != g.round || plo != g.lo || phi != g.hi ||
      (seen && (seen->len != 32 || memcmp(seen->data, digest, 32)))) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "the move answers game %u round %u steps %llu..%llu%s; "
                 "the task is at game %u round %u steps %llu..%llu", pg, pr,
                 (unsigned long long)plo, (unsigned long long)phi,
                 seen ? " (and the hashes it saw)" : "", t->games, g.round,
                 (unsigned long long)g.lo, (unsigned long long)g.hi);
    goto out;
  }
  core_errbuf eb = {{0}};
  uint32_t kind, detail;
  if (b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_BISECT) {
    kind = 1, detail = g.round;
    rc = game_bisect(&g, b->dispute_bisect->hashes.data, b->dispute_bisect->hashes.len / 32,
                     x->height, &eb);
  } else if (b->msg_case == COHORT__TX_BODY__MSG_DISPUTE_SELECT) {
    kind = 2, detail = b->dispute_select->part;
    rc = game_select(&g, b->dispute_select->part, x->height, &eb);
  } else {
    kind = 3, detail = g.round;
    rc = game_prove(&g, b->dispute_prove->proof.data, b->dispute_prove->proof.len, x->height, &eb);
  }
  if (rc) { /* a refused move changes nothing but the fee */
    rc = mk_fail(res, rc, "%s", eb.msg);
    goto out;
  }
  if ((rc = mk_event(t, x->height, EV_MOVE, tx->sender, kind, detail, NULL))) goto out;
  if (g.phase == GAME_DONE) rc = end_game(x, tid->data, t, &g);
  else if (!(rc = game_store(t, &g, d, c))) {
    t->game->extensions = 0; /* a new turn */
    rc = mk_task_move(x, tid->data, t, T_DISPUTED, g.deadline);
  }
  if (!rc) rc = mk_put_task(x, tid->data, t);
out:
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

/* ---- a challenge from outside ---- */

int mk_exec_challenge(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const ProtobufCBinaryData *tid = &tx->body->challenge->task_id;
  int rc;
  Cohort__Task *t = mk_get_task(x, tid->data, &rc);
  if (!t) return rc ? rc : mk_fail(res, COHORT_ERR_NOT_FOUND, "no such task");
  const Cohort__Params *p = mk_params(x);
  uint64_t crd, stk;
  if (t->status != T_AGREED || !t->result || !t->deadline || x->height > t->deadline) {
    rc = mk_fail(res, COHORT_ERR_INVALID, "only an agreed task within its challenge window can "
                 "be challenged (this one is %s)", market_status_name(t->status));
    goto out;
  }
  for (size_t i = 0; i < t->n_members; i++)
    if (alive(t->members[i]) && t->members[i]->executor.len == 20 &&
        !memcmp(t->members[i]->executor.data, tx->sender, 20)) {
      rc = mk_fail(res, COHORT_ERR_INVALID, "a member cannot challenge its own committee's "
                   "result");
      goto out;
    }
  uint64_t nonce;
  if ((rc = bank_get(x, tx->sender, &crd, &stk, &nonce))) goto out;
  if (stk < p->dispute_bond) {
    rc = mk_fail(res, COHORT_ERR_FUNDS, "a challenge posts params.dispute_bond = %llu STK base "
                 "units; the sender holds %llu", (unsigned long long)p->dispute_bond,
                 (unsigned long long)stk);
    goto out;
  }
  if ((rc = bank_debit(x, tx->sender, BANK_STK, p->dispute_bond)) ||
      (rc = mk_set_bytes(&t->challenger, tx->sender, 20)))
    goto out;
  t->bond = p->dispute_bond;
  if ((rc = mk_event(t, x->height, EV_CHALLENGED, tx->sender, t->bond, 0, NULL))) goto out;
  if ((rc = mk_task_move(x, tid->data, t, T_DISPUTED, 0))) goto out;
  if ((rc = next_game(x, tid->data, t))) goto out;
  rc = mk_put_task(x, tid->data, t);
out:
  cohort__task__free_unpacked(t, NULL);
  return rc;
}
