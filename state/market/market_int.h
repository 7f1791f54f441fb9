/* state/market/market_int.h — private to the compute market (state/market/).
 *
 * The market is one module in four concerns, a file each, as Redis keeps a
 * file per data type: executors (bonds, capacity, no-shows, seats), blobs,
 * the committee draw, tasks (the lifecycle, its table at the top of
 * market_task.c), jobs, and the block hooks (market_sched.c). Everything is
 * a pure function of the overlay and the transaction: no clock, ordered
 * iteration only, checked arithmetic; errors of the node itself (no memory,
 * storage) are returned as they are and abort the block (core_err_is_fatal),
 * never recorded as a failed message.
 *
 * Records (state keys, all in app_hash):
 *   "e/" + executor(20)          -> Executor
 *   "u/" + u64be(h) + executor   -> Unbonding (released at the end of block h)
 *   "U/" + executor + u64be(h)   -> ""  the same entries by executor (a slash
 *                                   takes from them newest first, so they
 *                                   always add up to Executor.unbonding)
 *   "b/" + sha256(data)          -> Blob
 *   "t/" + task(32)              -> Task
 *   "i/" + task                  -> inline input bytes (pruned after retention)
 *   "o/" + task + output_hash    -> output bytes (pruned after retention)
 *   "d/" + u8(kind) + u64be(h) + task -> ""   deadline index, typed:
 *        kind 1 DRAW   (begin of block h: draw the committee)
 *        kind 2 WINDOW (end of block h: a commit/reveal window or the
 *                       challenge window closes)
 *        kind 3 PRUNE  (end of block h: drop input and output bytes)
 *        kind 4 JAIL   (end of block h: an executor's jail ends; the ID is
 *                       the executor's 20 bytes and 12 zeros. It only keeps
 *                       blocks coming on an idle chain so the jail can end)
 *   "y/" + owner(20) + task      -> ""              tasks by owner
 *   "w/" + executor + task       -> u64be(stake) u64be(h)  seats held (own
 *                                   stake at the draw: locked until settled;
 *                                   h: the draw, the member's seated_height)
 *   "j/" + job(32)               -> Job
 *   "r/beacon"                   -> 32 bytes, the draw beacon
 *   "r/capacity"                 -> u64be: the capacity epoch, moved whenever
 *                                   a seat frees or an executor registers
 *   "n/" + u64be(since) + task   -> u64be(epoch): tasks waiting for a seat,
 *                                   first come first served; epoch = the
 *                                   capacity epoch of their last failed draw
 */
#ifndef COHORT_STATE_MARKET_INT_H
#define COHORT_STATE_MARKET_INT_H

#include <stdarg.h>

#include "proto/market.h"
#include "state/bank/bank.h"
#include "state/staking/staking.h"
#include "state/state_int.h"

/* Task status numbers (stable; docs/tasks.md). */
enum {
  T_COMMITTING = 1,
  T_REVEALING = 2,
  T_AGREED = 3,
  T_FINAL = 4,
  T_DISPUTED = 5,
  T_EXPIRED = 6,
  T_DRAWING = 7
};

/* Deadline kinds in the "d/" index. */
enum { DL_DRAW = 1, DL_WINDOW = 2, DL_PRUNE = 3, DL_JAIL = 4 };
#define DL_KEY_LEN 43 /* "d/" + kind + u64be(h) + task id */

/* Timeline event codes (stable; docs/tasks.md "Timeline": a, b, hash). */
enum {
  EV_SUBMITTED = 1, /* a reward, b max_steps */
  EV_DRAWN = 2,     /* executor; a seat, b stake; hash beacon */
  EV_COMMITTED = 3, /* executor */
  EV_REVEALING = 4, /* all members committed */
  EV_REVEALED = 5,  /* executor; a steps, b status << 32 | code; hash output hash */
  EV_NO_SHOW = 6,   /* executor; a slashed, b window (1 commit, 2 reveal) + 4 if already jailed */
  EV_AGREED = 7,    /* a agreeing reveals, b steps; hash final state */
  EV_DISPUTED = 8,  /* a distinct claims */
  EV_FINAL = 9,     /* a paid, b refunded */
  EV_EXPIRED = 10,  /* a refunded, b reason (EXP_*) */
  EV_REDRAW = 11,   /* a seats, b attempt */
  EV_PRUNED = 12,
  EV_NO_QUORUM = 13, /* a agreeing reveals, b quorum */
  EV_WAITING = 14,   /* a seats that found no executor with free capacity */
  EV_GAME = 15,      /* executor = defender; a defender seat << 32 | challenger seat, b steps */
  EV_MOVE = 16,      /* executor = mover; a 1 bisect / 2 select / 3 prove, b round (select: part) */
  EV_GAME_END = 17,  /* executor = loser; a slashed, b reason (game_end) | 256 if the defender won */
  EV_CHALLENGED = 18 /* executor = the challenger's account; a bond */
};
enum { EXP_NO_EXECUTORS = 1, EXP_NO_SHOWS = 2, EXP_NO_QUORUM = 3, EXP_NO_SURVIVOR = 4 };
#define TIMELINE_MAX 64

const Cohort__Params *mk_params(state_exec *x);

/* Record a failed message (res->code, res->log); returns COHORT_OK. */
int mk_fail(state_tx_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- keys and records ---- */
size_t mk_key(uint8_t *k, char prefix, const uint8_t *id, size_t n);
Cohort__Executor *mk_get_exec(state_exec *x, const uint8_t id[20], int *rc);
int mk_put_exec(state_exec *x, const uint8_t id[20], const Cohort__Executor *e);
Cohort__Task *mk_get_task(state_exec *x, const uint8_t id[32], int *rc);
int mk_put_task(state_exec *x, const uint8_t id[32], const Cohort__Task *t);
Cohort__Blob *mk_get_blob(state_exec *x, const uint8_t h[32], int *rc);
/* Replace b's bytes with a malloc'd copy (records are freed with
 * free_unpacked, so everything hung on them is malloc'd). */
int mk_set_bytes(ProtobufCBinaryData *b, const void *d, size_t n);
int mk_event(Cohort__Task *t, uint64_t h, uint32_t code, const uint8_t *executor, uint64_t a,
             uint64_t b, const uint8_t *hash32);
int mk_beacon(state_exec *x, uint8_t out[32]);
/* Visit the task IDs of deadline entries (h, kind), in ID order. */
typedef struct {
  uint8_t (*ids)[32];
  size_t n, cap;
} mk_idlist;
int mk_due(state_exec *x, uint64_t h, uint8_t kind, mk_idlist *out);
int mk_idlist_push(mk_idlist *l, const uint8_t id[32]);

/* The capacity epoch (market_executor.c): read it; move it (a seat freed,
 * an executor registered or came back) so that waiting tasks try again. */
int mk_cap_epoch(state_exec *x, uint64_t *out);
int mk_bump_epoch(state_exec *x);
#define MK_WAIT_TRIES_PER_BLOCK 64

/* ---- executors (market_executor.c) ---- */
int mk_exec_register(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_exec_unbond(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_jail_due(state_exec *x, const uint8_t id[32]);
/* Slash bps/10000 of the executor's stake + unbonding (bond first, then
 * unbonding entries newest first) and of its delegators' side for a seat
 * drawn at `seated` (mk_del_slash); share_bps/10000 of the executor's own
 * part is credited to `to`'s STK balance, the rest (and all of the
 * delegators' part) burned. *slashed, *paid: the amounts. */
int mk_slash_share(state_exec *x, const uint8_t exec_id[20], uint32_t bps, uint64_t seated,
                   const uint8_t to[20], uint32_t share_bps, uint64_t *slashed, uint64_t *paid);
/* A member missed a window: slash liveness_slash_bps and jail it, unless it
 * is jailed already (one slash per incident) — except that a reveal
 * withheld after a commit (withheld = 1) is slashed for every seat. Frees
 * its seat. */
/* Begin of a block without a beacon reveal: a draw due now moves to the
 * next block (market_task.c). */
int mk_task_draw_postpone(state_exec *x, const uint8_t id[32]);
int mk_no_show(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32],
               uint64_t seated, int withheld, uint64_t *slashed, int *was_jailed);
/* Take a seat (drawn): seat record with the stake, active_tasks + 1. */
int mk_seat_take(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32],
                 uint64_t stake);
/* The member's work is done (agreed, disputed): active_tasks - 1. */
int mk_seat_done(state_exec *x, const uint8_t exec_id[20]);
/* The task settled for this member: drop the seat and its stake lock;
 * done = count it in tasks_done. Call mk_seat_done first if it was not. */
int mk_seat_release(state_exec *x, const uint8_t exec_id[20], const uint8_t task_id[32], int done);
/* The lowest seated_height among the seats exec_id holds ("w/"); 0: none. */
int mk_seat_oldest(state_exec *x, const uint8_t exec_id[20], uint64_t *h);
/* End of block: unbonding stake due at this height goes back. */
int mk_release_unbondings(state_exec *x);
/* 1 if nothing is left in the record (own side, delegations, seats, jail):
 * it may be deleted. */
int mk_exec_empty(const Cohort__Executor *e, uint64_t h);

/* ---- delegation to executors (market_delegate.c, docs/staking.md §8) ---- */
/* Delegated STK that counts for the draw weight: min(del_tokens,
 * max_x * stake). */
uint64_t mk_del_counted(const Cohort__Executor *e, uint32_t max_x);
/* The commission in force at height h; a registration's new one (a raise
 * waits unbonding_blocks). */
uint32_t mk_commission(const Cohort__Executor *e, uint64_t h);
int mk_set_commission(state_exec *x, Cohort__Executor *e, uint32_t c);
int mk_exec_delegate(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_exec_undelegate(state_exec *x, const tx_t *tx, state_tx_result *res);
/* What delegation d is owed at e now. */
int mk_del_pending(const Cohort__Executor *e, const sk_delegation *d, uint64_t *owed);
/* The delegators' part of a seat's net pay (drawn with `weight`, of which
 * `delegated`): adds it to ex's accumulator (saved) and returns it in
 * *to_rewards; the caller moves that much CRD to s/rewards and pays the
 * executor the rest. */
int mk_del_pay(state_exec *x, const uint8_t ex[20], uint64_t net, uint64_t weight,
               uint64_t delegated, uint64_t *to_rewards);
/* The delegators' side of a slash of e by bps for a seat drawn at
 * `seated`: del_tokens and the xq/ entries created at or after it. e is
 * updated in memory (the caller saves it and burns *taken). */
int mk_del_slash(state_exec *x, const uint8_t ex[20], Cohort__Executor *e, uint32_t bps,
                 uint64_t seated, uint64_t *taken);
/* End of block: xq/ entries due at this height. */
int mk_release_del_unbondings(state_exec *x);
/* del's waiting delegation to ex ("xw/"): 0 with its amount and height,
 * COHORT_ERR_NOT_FOUND, or fatal. */
int mk_del_waiting(state_exec *x, const uint8_t del[20], const uint8_t ex[20], uint64_t *amount,
                   uint64_t *height);
/* A seat of ex was released (its pay or slash done): bond every waiting
 * amount of ex from a height below its oldest seat still held (all, if
 * none), or send it back if it buys no share. Saves ex. */
int mk_del_admit(state_exec *x, const uint8_t ex[20]);

/* ---- blobs (market_blob.c) ---- */
int mk_exec_upload(state_exec *x, const tx_t *tx, state_tx_result *res);

/* ---- the committee draw (market_draw.c) ---- */
typedef struct {
  size_t eligible;         /* executors the task could seat now */
  size_t staked;           /* accepting, enough stake, not jailed (any price, busy or not) */
  size_t busy;             /* would fit but hold as many seats as their capacity */
  uint64_t reward_needed;  /* for the whole committee at today's prices; 0 = n/a */
} mk_draw_info;
/* Draw `need` new members for t (seeded by the current beacon, the task ID,
 * the attempt and the seat), append them and take their seats. Returns 0,
 * COHORT_ERR_NOT_FOUND (too few eligible: nothing changed) or an error. */
int mk_draw(state_exec *x, const uint8_t task_id[32], Cohort__Task *t, size_t need);
/* Count who could be drawn for t now (the door check at submission). */
int mk_draw_survey(state_exec *x, const Cohort__Task *t, mk_draw_info *info);

/* ---- tasks (market_task.c) ---- */
/* Create task `id` owned by `owner` from m, as chunk `chunk` of `job` when
 * job != NULL. prog is the program blob (borrowed). A failure is reported
 * in res. */
int mk_submit_task(state_exec *x, const uint8_t owner[20], const uint8_t id[32],
                   const Cohort__MsgSubmitTask *m, const Cohort__Blob *prog, const uint8_t *job,
                   uint32_t chunk, state_tx_result *res);
int mk_exec_submit(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_exec_commit(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_exec_reveal(state_exec *x, const tx_t *tx, state_tx_result *res);
/* Block hooks for one due task: the draw (begin of block), a window or the
 * challenge window closing, the pruning (end of block). */
int mk_task_draw_due(state_exec *x, const uint8_t id[32]);
int mk_task_window_due(state_exec *x, const uint8_t id[32]);
/* For the verification game (state/dispute/dispute.c): record claim c as
 * the result, agreed by `agreeing` members (AGREED, the challenge window;
 * FINAL at once without one); every status change; a redraw of the empty
 * seats (or EXPIRED after max_attempts). The task is stored by the caller. */
int mk_task_agree(state_exec *x, const uint8_t id[32], Cohort__Task *t, const Cohort__Claim *c,
                  size_t agreeing);
int mk_task_move(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t status,
                 uint64_t h);
int mk_task_redraw(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t reason);
int mk_task_expire(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t reason);
/* state/dispute/dispute.c: start the tournament of a task whose members
 * revealed different claims (status set here); the game's deadline, at
 * the end of block t->deadline; the moves (dispute_bisect/select/prove). */
int mk_dispute_begin(state_exec *x, const uint8_t id[32], Cohort__Task *t);
int mk_dispute_due(state_exec *x, const uint8_t id[32], Cohort__Task *t);
int mk_exec_dispute(state_exec *x, const tx_t *tx, state_tx_result *res);
int mk_exec_challenge(state_exec *x, const tx_t *tx, state_tx_result *res);
#define GAME_OUTSIDE 4294967295u /* Game.challenger: the task's outside challenger */
int mk_task_prune_due(state_exec *x, const uint8_t id[32]);
/* Begin of block, before the draws due: tasks waiting for a seat, oldest
 * first (market_task.c). draw = 0 (a block without a beacon reveal): only
 * those that waited draw_wait_blocks expire; nothing is drawn. */
int mk_serve_waiting(state_exec *x, int draw);

/* ---- jobs (market_job.c) ---- */
int mk_exec_submit_job(state_exec *x, const tx_t *tx, state_tx_result *res);
/* A chunk agreed (ok = 1) or failed: count it in its job. No-op for a task
 * that is not a chunk. */
int mk_job_chunk_settled(state_exec *x, const Cohort__Task *t, int ok);

#endif
