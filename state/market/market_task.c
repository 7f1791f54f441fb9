/* state/market/market_task.c — a task's life, from submission to pruning.
 *
 * States (Task.status; stable numbers) and what each guarantees:
 *
 *   DRAWING(7)     the reward and the members' fee allowance are escrowed;
 *                  some seats are empty. The draw happens at the beginning
 *                  of the next block (deadline kind DRAW), from a beacon the
 *                  proposer that included the submission could not know.
 *                  When the executors that could serve it are busy (at their
 *                  capacity), it waits in a first-come first-served queue
 *                  ("n/"), tried again when a seat frees (the capacity epoch
 *                  moves), oldest first, for draw_wait_blocks at most; with
 *                  too few such executors at all, it expires at once.
 *   COMMITTING(1)  k active members; some have not committed. Window:
 *                  `deadline` (WINDOW), never shorter than the step cap needs
 *                  at params.exec_steps_per_block plus a margin.
 *   REVEALING(2)   every active member committed; some have not revealed.
 *   AGREED(3)      at least `quorum` active members revealed and all reveals
 *                  are equal: the result is recorded; nobody is paid yet.
 *                  Members' seats (and stake locks) stay until FINAL.
 *   FINAL(4)       the challenge window passed: members paid their draw-time
 *                  seat cost for the steps used (market_seat_cost: per-task
 *                  price + ceil(steps x price / 10^6), at most reward/k), their commit
 *                  and reveal fees back (up to the allowance); the rest
 *                  refunded. Input and output pruned after retention_blocks.
 *   DISPUTED(5)    two different claims were revealed: escrow and the
 *                  members' stake locks stay for the verification game.
 *   EXPIRED(6)     no result: too few executors, too many no-shows, or no
 *                  quorum after max_attempts draws. Members who did their
 *                  part get their fees back; the customer gets the rest.
 *
 * Transitions, and the function that performs each:
 *
 *   (none)      -> DRAWING     submit_task            MsgSubmitTask / a job chunk
 *   DRAWING     -> COMMITTING  mk_task_draw_due       begin of the next block
 *   DRAWING     -> DRAWING     mk_task_draw_due       executors busy: queued for capacity
 *   DRAWING     -> COMMITTING  mk_serve_waiting       a seat freed (begin of block, oldest
 *                                                     first, before new draws)
 *   DRAWING     -> EXPIRED     mk_task_draw_due       too few executors, or busy longer
 *                                                     than draw_wait_blocks
 *   COMMITTING  -> REVEALING   after_commit           the last active member commits
 *   COMMITTING  -> DRAWING     window_closed          no-shows slashed (once per outage),
 *                                                     replaced at the next block
 *   COMMITTING  -> EXPIRED     window_closed          ... after max_attempts draws
 *   REVEALING   -> AGREED      resolve                all equal, >= quorum reveals
 *   REVEALING   -> DISPUTED    resolve                two different claims
 *   REVEALING   -> DRAWING     resolve (at deadline)  nobody revealed: refill the seats
 *                                                     of the no-shows
 *   REVEALING   -> EXPIRED     resolve (at deadline)  fewer than quorum revealed (a public
 *                                                     claim could be copied), or no
 *                                                     reveal after max_attempts draws
 *   AGREED      -> FINAL       finalize               challenge window over
 *   FINAL/EXPIRED  (pruned)    mk_task_prune_due      retention_blocks later
 *
 * Why the customer, not the executors, pays for a task that cannot succeed:
 * the output is capped by the task's declared max_output_bytes, which the VM
 * enforces (a write past it traps) and which always fits a reveal; windows
 * are never shorter than the run needs at the documented speed; the
 * members' commit and reveal fees are escrowed by the customer and paid
 * back; an executor is never seated beyond its declared capacity; and one
 * outage costs one slash (jail), however many seats it held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "state/market/market_int.h"
#include "vm/vm.h"

static uint8_t kind_of(uint32_t status) {
  switch (status) {
    case T_DRAWING: return DL_DRAW;
    case T_COMMITTING:
    case T_REVEALING:
    case T_AGREED:
    case T_DISPUTED: return DL_WINDOW; /* DISPUTED: the game's deadline */
    case T_FINAL:
    case T_EXPIRED: return DL_PRUNE;
    default: return 0;
  }
}

static size_t dl_key(uint8_t k[DL_KEY_LEN], uint64_t h, uint8_t kind, const uint8_t id[32]) {
  k[0] = 'd';
  k[1] = '/';
  k[2] = kind;
  core_put_u64be(k + 3, h);
  memcpy(k + 11, id, 32);
  return DL_KEY_LEN;
}

/* The reveal gas the chain still expects ("r/reveal_load", u64be): reveal
 * windows stretch by it, so members who reveal at once are never squeezed
 * out of a window by other tasks' reveals (blocks hold only so many). */
static int reveal_load(state_exec *x, uint64_t *v) {
  uint8_t *b;
  size_t bl;
  int rc = sx_get(x, (const uint8_t *)"r/reveal_load", 13, &b, &bl);
  *v = 0;
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  if (bl == 8) *v = core_get_u64be(b);
  free(b);
  return bl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

static int reveal_load_add(state_exec *x, uint64_t add, uint64_t sub_) {
  uint64_t v;
  int rc = reveal_load(x, &v);
  if (rc) return rc;
  if (core_add_u64(&v, v, add) || v < sub_) return COHORT_ERR_CORRUPT;
  v -= sub_;
  uint8_t b[8];
  core_put_u64be(b, v);
  return sx_put(x, (const uint8_t *)"r/reveal_load", 13, b, 8);
}

/* Every status change goes through here: it keeps the deadline index in
 * step with (status, deadline), and releases the reveal load of a task that
 * stops revealing. h = 0: no deadline. */
static int move_to(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t status,
                   uint64_t h) {
  uint8_t k[DL_KEY_LEN];
  int rc;
  if (t->status == T_REVEALING && status != T_REVEALING && t->reveal_gas_left) {
    if ((rc = reveal_load_add(x, 0, t->reveal_gas_left))) return rc;
    t->reveal_gas_left = 0;
  }
  if (t->deadline && kind_of(t->status) &&
      (rc = sx_del(x, k, dl_key(k, t->deadline, kind_of(t->status), id))))
    return rc;
  t->status = status;
  t->deadline = h;
  if (!h || !kind_of(status)) return COHORT_OK;
  return sx_put(x, k, dl_key(k, h, kind_of(status), id), NULL, 0);
}

static int active(const Cohort__TaskMember *m) { return !m->replaced && !m->lost; }

static size_t count_active(const Cohort__Task *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->n_members; i++) n += active(t->members[i]);
  return n;
}

static int claims_equal(const Cohort__Claim *a, const Cohort__Claim *b) {
  return a->steps == b->steps && a->status == b->status && a->code == b->code &&
         a->final_state.len == 32 && b->final_state.len == 32 &&
         !memcmp(a->final_state.data, b->final_state.data, 32) && a->output_hash.len == 32 &&
         b->output_hash.len == 32 && !memcmp(a->output_hash.data, b->output_hash.data, 32);
}

static Cohort__Claim *claim_copy(const Cohort__Claim *c) {
  Cohort__Claim *d = malloc(sizeof *d);
  if (!d) return NULL;
  cohort__claim__init(d);
  d->steps = c->steps;
  d->status = c->status;
  d->code = c->code;
  if (mk_set_bytes(&d->final_state, c->final_state.data, c->final_state.len) ||
      mk_set_bytes(&d->output_hash, c->output_hash.data, c->output_hash.len)) {
    cohort__claim__free_unpacked(d, NULL);
    return NULL;
  }
  return d;
}

/* Pay back what an active member spent on commit and reveal fees, up to the
 * allowance the customer escrowed for its seat. */
static int repay_fees(state_exec *x, Cohort__Task *t, const Cohort__TaskMember *m) {
  uint64_t spent;
  if (core_add_u64(&spent, m->commit_fee, m->reveal_fee)) spent = UINT64_MAX;
  uint64_t back = spent < t->fee_allowance ? spent : t->fee_allowance;
  if (!back) return COHORT_OK;
  int rc = bank_escrow_out(x, m->executor.data, back);
  if (!rc) rc = core_add_u64(&t->fees_repaid, t->fees_repaid, back);
  return rc;
}

/* What is left in the task's escrow goes back to the owner. */
static int refund_rest(state_exec *x, Cohort__Task *t) {
  uint64_t held, allowance, used;
  if (core_mul_u64(&allowance, t->fee_allowance, t->committee) ||
      core_add_u64(&held, t->reward, allowance) ||
      core_add_u64(&used, t->paid, t->fees_repaid) || core_add_u64(&used, used, t->refunded) ||
      used > held)
    return COHORT_ERR_CORRUPT;
  uint64_t rest = held - used;
  int rc = bank_escrow_out(x, t->owner.data, rest);
  if (!rc) t->refunded += rest;
  return rc;
}

static int expire(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t reason) {
  int rc = COHORT_OK;
  for (size_t i = 0; i < t->n_members && !rc; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (!active(m)) continue;
    /* Members still seated did their part so far: fees back, seat freed. */
    if (!(rc = repay_fees(x, t, m)) && !(rc = mk_seat_done(x, m->executor.data)))
      rc = mk_seat_release(x, m->executor.data, id, 0);
  }
  if (!rc) rc = refund_rest(x, t);
  if (!rc) rc = move_to(x, id, t, T_EXPIRED, x->height + mk_params(x)->retention_blocks);
  if (!rc) rc = mk_event(t, x->height, EV_EXPIRED, NULL, t->refunded, reason, NULL);
  if (!rc) rc = mk_job_chunk_settled(x, t, 0);
  return rc;
}

/* Refill the empty seats at the next block, or give up after max_attempts. */
static int redraw_or_expire(state_exec *x, const uint8_t id[32], Cohort__Task *t,
                            uint32_t reason) {
  t->attempt++;
  if (t->attempt >= mk_params(x)->max_attempts) return expire(x, id, t, reason);
  int rc = move_to(x, id, t, T_DRAWING, x->height + 1);
  t->draw_since = x->height + 1;
  t->draw_tries = 0;
  if (!rc) rc = mk_event(t, x->height, EV_REDRAW, NULL, t->committee - count_active(t), t->attempt,
                         NULL);
  return rc;
}

static int finalize(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  uint64_t cap = t->reward / t->committee;
  int rc = COHORT_OK;
  for (size_t i = 0; i < t->n_members && !rc; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (!active(m)) continue;
    uint64_t due = market_seat_cost(m->price_per_msteps, m->price_per_task, t->result->steps);
    uint64_t pay = due > cap ? cap : due;
    /* the protocol fee: a share of the payment to the validators
     * (docs/staking.md §4), through the block's fee pool */
    uint64_t fee = (uint64_t)((unsigned __int128)pay * mk_params(x)->protocol_fee_bps / 10000);
    /* and the delegators' part (docs/staking.md §8), held in s/rewards */
    uint64_t r;
    if (!(rc = mk_del_pay(x, m->executor.data, pay - fee, m->stake, m->delegated, &r)) &&
        !(rc = bank_escrow_out_fee(x, m->executor.data, pay - r, fee)) &&
        !(rc = bank_escrow_to_pool(x, BANK_POOL_REWARDS, r)) &&
        !(rc = core_add_u64(&t->paid, t->paid, pay)) && !(rc = repay_fees(x, t, m)))
      rc = mk_seat_release(x, m->executor.data, id, 1);
  }
  if (!rc) rc = refund_rest(x, t);
  if (!rc) rc = mk_job_chunk_settled(x, t, 1);
  t->final_height = x->height;
  if (!rc) rc = move_to(x, id, t, T_FINAL, x->height + mk_params(x)->retention_blocks);
  if (!rc) rc = mk_event(t, x->height, EV_FINAL, NULL, t->paid, t->refunded, NULL);
  return rc;
}

/* Decide on the reveals so far. at_deadline: the reveal window closed (its
 * no-shows are replaced already), so too few reveals means a redraw. */
static int resolve(state_exec *x, const uint8_t id[32], Cohort__Task *t, int at_deadline) {
  const Cohort__Claim *first = NULL;
  size_t revealed = 0, distinct = 0, pending = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    if (!active(m)) continue;
    if (!m->claim) {
      pending++;
      continue;
    }
    revealed++;
    if (!first) first = m->claim, distinct = 1;
    else if (distinct == 1 && !claims_equal(first, m->claim)) distinct = 2;
  }
  int rc;
  if (pending && !at_deadline) return COHORT_OK; /* every claim counts: wait for all */
  if (distinct >= 2) {
    /* The members' work is done: capacity back; stake locks and escrow
     * stay for the verification game. */
    for (size_t i = 0; i < t->n_members; i++)
      if (active(t->members[i]) && (rc = mk_seat_done(x, t->members[i]->executor.data))) return rc;
    if ((rc = mk_event(t, x->height, EV_DISPUTED, NULL, distinct, 0, NULL))) return rc;
    return mk_dispute_begin(x, id, t); /* the job waits for the game */
  }
  if (revealed < t->quorum) {
    if ((rc = mk_event(t, x->height, EV_NO_QUORUM, NULL, revealed, t->quorum, NULL))) return rc;
    /* A revealed claim is public: members drawn now could copy it (output,
     * proof and all) without running anything and make a quorum of copies.
     * So only a window with no reveal at all is refilled; otherwise the task
     * ends without a result (the revealers get their fees back, nobody is
     * paid, the customer is refunded). */
    if (revealed) return expire(x, id, t, EXP_NO_QUORUM);
    return redraw_or_expire(x, id, t, EXP_NO_QUORUM);
  }
  for (size_t i = 0; i < t->n_members; i++)
    if (active(t->members[i]) && (rc = mk_seat_done(x, t->members[i]->executor.data))) return rc;
  return mk_task_agree(x, id, t, first, revealed);
}

int mk_task_agree(state_exec *x, const uint8_t id[32], Cohort__Task *t, const Cohort__Claim *c,
                  size_t agreeing) {
  int rc;
  if (t->result) cohort__claim__free_unpacked(t->result, NULL);
  if (!(t->result = claim_copy(c))) return COHORT_ERR_NOMEM;
  uint32_t chal = mk_params(x)->challenge_blocks;
  /* the job counts the chunk at FINAL: a challenge may still overturn it */
  if ((rc = move_to(x, id, t, T_AGREED, chal ? x->height + chal : 0))) return rc;
  if ((rc = mk_event(t, x->height, EV_AGREED, NULL, agreeing, c->steps, c->final_state.data)))
    return rc;
  return chal ? COHORT_OK : finalize(x, id, t);
}

int mk_task_move(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t status,
                 uint64_t h) {
  return move_to(x, id, t, status, h);
}

int mk_task_expire(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t reason) {
  return expire(x, id, t, reason);
}

int mk_task_redraw(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t reason) {
  return redraw_or_expire(x, id, t, reason);
}

/* After a commit: once every active member is committed, reveals open. The
 * window is reveal_blocks plus the blocks that the reveals the chain
 * already expects, and these, need at half a block's gas each. */
static int after_commit(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  size_t owed = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    if (active(t->members[i]) && !t->members[i]->commitment.len) return COHORT_OK;
    owed += active(t->members[i]) && !t->members[i]->claim;
  }
  const Cohort__Params *p = mk_params(x);
  uint64_t load, mine, per_block = p->max_block_gas / 2 ? p->max_block_gas / 2 : 1;
  int rc = reveal_load(x, &load);
  if (rc) return rc;
  if (core_mul_u64(&mine, market_reveal_gas(t->max_output_bytes, p), owed) ||
      core_add_u64(&load, load, mine))
    return COHORT_ERR_CORRUPT;
  uint64_t extra = load / per_block + (load % per_block != 0), window;
  if (core_add_u64(&window, t->reveal_blocks, extra)) window = UINT64_MAX / 2;
  if ((rc = reveal_load_add(x, mine, 0))) return rc;
  t->reveal_gas_left = mine;
  rc = move_to(x, id, t, T_REVEALING, x->height + window);
  if (!rc) rc = mk_event(t, x->height, EV_REVEALING, NULL, 0, 0, NULL);
  if (!rc) rc = resolve(x, id, t, 0); /* members from earlier draws revealed already */
  return rc;
}

/* ---- submission ---- */

int mk_submit_task(state_exec *x, const uint8_t owner[20], const uint8_t id[32],
                   const Cohort__MsgSubmitTask *m, const Cohort__Blob *prog, const uint8_t *job,
                   uint32_t chunk, state_tx_result *res) {
  const Cohort__Params *p = mk_params(x);
  if (m->max_steps > p->max_task_steps)
    return mk_fail(res, COHORT_ERR_INVALID, "max_steps %llu exceeds params.max_task_steps %llu",
                   (unsigned long long)m->max_steps, (unsigned long long)p->max_task_steps);
  if (m->mem_mib < 2 || m->mem_mib > p->max_task_mem_mib)
    return mk_fail(res, COHORT_ERR_INVALID, "mem_mib %u is outside [2, %u]", m->mem_mib,
                   p->max_task_mem_mib);
  if (m->committee > p->max_committee)
    return mk_fail(res, COHORT_ERR_INVALID, "committee %u exceeds params.max_committee %u",
                   m->committee, p->max_committee);
  if (m->input.len > p->max_inline_input)
    return mk_fail(res, COHORT_ERR_TOO_LARGE, "inline input is %zu bytes, the limit is %u; upload "
                   "it as a blob", m->input.len, p->max_inline_input);
  uint32_t out_cap = m->max_output_bytes ? m->max_output_bytes : p->max_inline_output;
  if (out_cap > p->max_inline_output)
    return mk_fail(res, COHORT_ERR_TOO_LARGE, "max_output_bytes %u exceeds params.max_inline_output "
                   "%u (the largest output a reveal can carry)", out_cap, p->max_inline_output);
  uint64_t min_commit = market_min_commit_blocks(m->max_steps, p);
  uint64_t commit = m->commit_blocks;
  if (!commit) commit = p->commit_blocks > min_commit ? p->commit_blocks : min_commit;
  if (commit < min_commit)
    return mk_fail(res, COHORT_ERR_INVALID, "commit window of %u blocks is shorter than max_steps "
                   "%llu needs at the documented executor speed (params.exec_steps_per_block = "
                   "%llu, plus %u blocks): give at least %llu, or 0 for the default",
                   m->commit_blocks, (unsigned long long)m->max_steps,
                   (unsigned long long)p->exec_steps_per_block, p->window_margin_blocks,
                   (unsigned long long)min_commit);
  if (commit > 1000000)
    return mk_fail(res, COHORT_ERR_INVALID, "commit window of %llu blocks exceeds 1000000",
                   (unsigned long long)commit);
  uint32_t reveal = m->reveal_blocks ? m->reveal_blocks : p->reveal_blocks;
  if (reveal < p->reveal_blocks || reveal > 100000)
    return mk_fail(res, COHORT_ERR_INVALID, "reveal window of %u blocks is outside [%u "
                   "(params.reveal_blocks), 100000]", reveal, p->reveal_blocks);
  if (m->reward < m->committee)
    return mk_fail(res, COHORT_ERR_AMOUNT, "reward %llu cannot be split among %u members",
                   (unsigned long long)m->reward, m->committee);
  uint64_t allowance = market_commit_allowance(p), escrow, seats;
  if (core_add_u64(&allowance, allowance, market_reveal_allowance(out_cap, p)) ||
      core_mul_u64(&seats, allowance, m->committee) || core_add_u64(&escrow, m->reward, seats))
    return mk_fail(res, COHORT_ERR_OVERFLOW, "reward plus fee allowance overflows");
  int rc;
  {
    Cohort__Task *dup = mk_get_task(x, id, &rc);
    if (rc) return rc;
    if (dup) {
      cohort__task__free_unpacked(dup, NULL);
      return mk_fail(res, COHORT_ERR_DUPLICATE, "a task with this ID exists already");
    }
  }
  uint64_t crd, stk, nonce;
  if ((rc = bank_get(x, owner, &crd, &stk, &nonce))) return rc;
  if (escrow > crd)
    return mk_fail(res, COHORT_ERR_FUNDS, "escrow %llu CRD base units (reward %llu + %u x %llu fee "
                   "allowance for the members' commits and reveals) exceeds the CRD balance %llu",
                   (unsigned long long)escrow, (unsigned long long)m->reward, m->committee,
                   (unsigned long long)allowance, (unsigned long long)crd);
  { /* at the door, before any VM work: enough executors must be able to serve
     * it (busy ones free their capacity as their tasks settle: the draw waits) */
    Cohort__Task probe = COHORT__TASK__INIT;
    probe.max_steps = m->max_steps;
    probe.reward = m->reward;
    probe.committee = m->committee;
    probe.owner = (ProtobufCBinaryData){20, (uint8_t *)owner};
    mk_draw_info di;
    if ((rc = mk_draw_survey(x, &probe, &di))) return rc;
    if (di.eligible + di.busy < m->committee) {
      if (di.staked + di.busy == 0)
        return mk_fail(res, COHORT_ERR_NO_EXECUTORS, "no executor accepts work with the minimum "
                       "stake right now (see: cohort executor list); try again later");
      if (di.staked + di.busy < m->committee)
        return mk_fail(res, COHORT_ERR_NO_EXECUTORS, "only %zu executors accept work with the "
                       "minimum stake; a committee of %u needs more: lower --committee",
                       di.staked + di.busy, m->committee);
      return mk_fail(res, COHORT_ERR_NO_EXECUTORS, "the reward does not cover %u executors' "
                     "prices for max_steps %llu: reward at least %llu CRD base units (or lower "
                     "max_steps)", m->committee, (unsigned long long)m->max_steps,
                     (unsigned long long)di.reward_needed);
    }
  }
  Cohort__Blob *inb = NULL;
  const uint8_t *input = m->input.data;
  size_t input_len = m->input.len;
  if (m->input_blob.len) {
    inb = mk_get_blob(x, m->input_blob.data, &rc);
    if (rc) return rc;
    if (!inb) return mk_fail(res, COHORT_ERR_NOT_FOUND, "input blob is not uploaded");
    input = inb->data.data;
    input_len = inb->data.len;
  }
  /* The initial state is a function of (program, input, caps): computed
   * here so claims and disputes are anchored to it. */
  x->tx_vm_kib += market_kib((uint64_t)prog->data.len + input_len);
  cohort_vm *vm = NULL;
  cohort_vm_config cfg = {.mem_cap = m->mem_mib << 20, .max_steps = m->max_steps, .out_cap = out_cap};
  core_errbuf veb;
  uint8_t init_hash[32], in_hash[32];
  int vrc = cohort_vm_new(&vm, prog->data.data, prog->data.len, input, input_len, &cfg, &veb);
  if (!vrc) vrc = cohort_vm_state_hash(vm, init_hash);
  cohort_vm_del(vm);
  core_sha256(in_hash, input, input_len);
  if (inb) cohort__blob__free_unpacked(inb, NULL);
  if (core_err_is_fatal(vrc)) return vrc;
  if (vrc) return mk_fail(res, COHORT_ERR_INVALID, "the VM cannot start this task: %.100s", veb.msg);
  Cohort__Task *t = malloc(sizeof *t);
  if (!t) return COHORT_ERR_NOMEM;
  cohort__task__init(t);
  rc = mk_set_bytes(&t->owner, owner, 20);
  if (!rc && job) rc = mk_set_bytes(&t->job, job, 32);
  if (!rc) rc = mk_set_bytes(&t->program, m->program.data, 32);
  if (!rc) rc = mk_set_bytes(&t->input_hash, in_hash, 32);
  if (!rc && m->input_blob.len) rc = mk_set_bytes(&t->input_blob, m->input_blob.data, 32);
  if (!rc) rc = mk_set_bytes(&t->initial_state, init_hash, 32);
  t->chunk = chunk;
  t->max_steps = m->max_steps;
  t->mem_mib = m->mem_mib;
  t->committee = m->committee;
  t->quorum = market_quorum(m->committee, p->quorum_bps);
  t->reward = m->reward;
  t->fee_allowance = allowance;
  t->max_output_bytes = out_cap;
  t->commit_blocks = (uint32_t)commit;
  t->reveal_blocks = reveal;
  t->submitted_height = x->height;
  t->draw_height = t->draw_since = x->height + 1;
  if (!rc) rc = bank_escrow_in(x, owner, escrow);
  if (!rc && !m->input_blob.len) {
    uint8_t k[34];
    mk_key(k, 'i', id, 32);
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
  if (!rc) rc = mk_event(t, x->height, EV_SUBMITTED, NULL, m->reward, m->max_steps, NULL);
  if (!rc) rc = move_to(x, id, t, T_DRAWING, t->draw_height);
  if (!rc) rc = mk_put_task(x, id, t);
  if (!rc) x->tx_tasks++;
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

int mk_exec_submit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgSubmitTask *m = tx->body->submit_task;
  int rc;
  Cohort__Blob *prog = mk_get_blob(x, m->program.data, &rc);
  if (rc) return rc;
  if (!prog)
    return mk_fail(res, COHORT_ERR_NOT_FOUND, "program %02x%02x%02x%02x... is not an uploaded blob",
                   m->program.data[0], m->program.data[1], m->program.data[2], m->program.data[3]);
  uint8_t id[32];
  market_task_id(id, tx->sender, tx->body->nonce);
  rc = mk_submit_task(x, tx->sender, id, m, prog, NULL, 0, res);
  cohort__blob__free_unpacked(prog, NULL);
  return rc;
}

/* ---- commit and reveal ---- */

static Cohort__TaskMember *active_member(Cohort__Task *t, const uint8_t id[20]) {
  for (size_t i = 0; i < t->n_members; i++)
    if (active(t->members[i]) && !memcmp(t->members[i]->executor.data, id, 20))
      return t->members[i];
  return NULL;
}

static const char *status_name(uint32_t s) {
  static const char *n[] = {"?",        "committing", "revealing", "agreed",
                            "final",    "disputed",   "expired",   "drawing"};
  return s <= T_DRAWING ? n[s] : "?";
}

/* The task of a commit/reveal, if the sender holds a seat and the task is
 * in `want`; else NULL with res (or *rc) set. */
static Cohort__Task *member_task(state_exec *x, const uint8_t id[32], const tx_t *tx,
                                 uint32_t want, Cohort__TaskMember **mem, state_tx_result *res,
                                 int *rc) {
  Cohort__Task *t = mk_get_task(x, id, rc);
  if (*rc) return NULL;
  if (!t) {
    mk_fail(res, COHORT_ERR_NOT_FOUND, "no such task");
    return NULL;
  }
  *mem = active_member(t, tx->sender);
  if (!*mem)
    mk_fail(res, COHORT_ERR_INVALID, "sender is not a member of this task's committee");
  else if (t->status != want)
    mk_fail(res, COHORT_ERR_INVALID, "task is %s, not %s", status_name(t->status),
            status_name(want));
  else
    return t;
  cohort__task__free_unpacked(t, NULL);
  return NULL;
}

int mk_exec_commit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgCommitResult *m = tx->body->commit_result;
  int rc = COHORT_OK;
  Cohort__TaskMember *mem;
  Cohort__Task *t = member_task(x, m->task_id.data, tx, T_COMMITTING, &mem, res, &rc);
  if (!t) return rc;
  if (mem->commitment.len) {
    rc = mk_fail(res, COHORT_ERR_DUPLICATE, "already committed to this task");
  } else {
    /* what the tx had to pay, not what the member chose to bid: a member
     * cannot turn the customer's allowance into a tip for the proposer */
    mem->commit_fee = market_fee_due(market_gas_base(tx->body, tx->raw_len, mk_params(x)), mk_params(x));
    rc = mk_set_bytes(&mem->commitment, m->commitment.data, 32);
    if (!rc) rc = mk_event(t, x->height, EV_COMMITTED, tx->sender, 0, 0, NULL);
    if (!rc) rc = after_commit(x, m->task_id.data, t);
    if (!rc) rc = mk_put_task(x, m->task_id.data, t);
  }
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

/* Checks of a reveal against the task; NULL if it passes, else the reason
 * (*code the result code; a fatal-band *code is this node's failure). */
static const char *reveal_problem(state_exec *x, const Cohort__Task *t,
                                  const Cohort__TaskMember *mem, const tx_t *tx, int *code,
                                  char *buf, size_t bl) {
  const Cohort__MsgRevealResult *m = tx->body->reveal_result;
  const Cohort__Claim *c = m->claim;
  uint8_t want[32], oh[32];
  *code = COHORT_ERR_INVALID;
  if (mem->claim) return *code = COHORT_ERR_DUPLICATE, "already revealed";
  market_commitment(want, m->task_id.data, tx->sender, c, m->salt.data);
  if (memcmp(want, mem->commitment.data, 32))
    return "reveal does not match the commitment (claim or salt differ)";
  if (c->steps > t->max_steps) return "claim.steps exceeds the task's max_steps";
  if (m->output.len > t->max_output_bytes) {
    *code = COHORT_ERR_TOO_LARGE;
    return "output is larger than the task's max_output_bytes";
  }
  core_sha256(oh, m->output.data, m->output.len);
  if (memcmp(oh, c->output_hash.data, 32)) return "output does not hash to claim.output_hash";
  cohort_vm_info info;
  core_errbuf veb;
  int vrc = cohort_vm_output_verify(c->final_state.data, m->output.data, m->output.len,
                                    m->output_proof.data, m->output_proof.len, &info, &veb);
  if (vrc) {
    if (core_err_is_fatal(vrc)) *code = vrc; /* out of memory is ours, not the reveal's */
    snprintf(buf, bl, "output proof rejected: %.100s", veb.msg);
    return buf;
  }
  if (info.status == COHORT_VM_RUNNING || info.step != c->steps || info.status != c->status ||
      info.code != c->code)
    return "claim's steps/status/code differ from its final state";
  /* A final state of another run (other caps or input) is a provably wrong
   * claim: refuse it here rather than let it dispute the honest. */
  if (info.max_steps != t->max_steps || info.mem_cap != (t->mem_mib << 20) ||
      info.out_cap != t->max_output_bytes)
    return "claim's final state is not of this task (step, memory or output cap differ)";
  (void)x;
  return NULL;
}

int mk_exec_reveal(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgRevealResult *m = tx->body->reveal_result;
  int rc = COHORT_OK;
  Cohort__TaskMember *mem;
  Cohort__Task *t = member_task(x, m->task_id.data, tx, T_REVEALING, &mem, res, &rc);
  if (!t) return rc;
  char buf[160];
  int code;
  const char *why = reveal_problem(x, t, mem, tx, &code, buf, sizeof buf);
  if (why && core_err_is_fatal(code)) {
    rc = code;
  } else if (why) {
    rc = mk_fail(res, code, "%s", why);
  } else {
    const Cohort__Claim *c = m->claim;
    uint64_t g = market_reveal_gas(t->max_output_bytes, mk_params(x));
    if (g > t->reveal_gas_left) g = t->reveal_gas_left;
    rc = reveal_load_add(x, 0, g);
    t->reveal_gas_left -= g;
    mem->reveal_fee = market_fee_due(market_gas_base(tx->body, tx->raw_len, mk_params(x)), mk_params(x));
    if (!rc && !(mem->claim = claim_copy(c))) rc = COHORT_ERR_NOMEM;
    uint8_t k[66];
    mk_key(k, 'o', m->task_id.data, 32);
    memcpy(k + 34, c->output_hash.data, 32);
    if (!rc) rc = sx_put(x, k, 66, m->output.data, m->output.len);
    if (!rc)
      rc = mk_event(t, x->height, EV_REVEALED, tx->sender, c->steps,
                    (uint64_t)c->status << 32 | c->code, c->output_hash.data);
    if (!rc) rc = resolve(x, m->task_id.data, t, 0);
    if (!rc) rc = mk_put_task(x, m->task_id.data, t);
  }
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

/* ---- block hooks ---- */

static size_t wait_key(uint8_t k[42], uint64_t since, const uint8_t id[32]) {
  k[0] = 'n';
  k[1] = '/';
  core_put_u64be(k + 2, since);
  memcpy(k + 10, id, 32);
  return 42;
}

/* Draw the empty seats of t (DRAWING) now. *waiting is set when the draw
 * could not be made only because the executors that could serve it are
 * busy and the task may still wait: the caller queues it. Otherwise the
 * task moves on (COMMITTING) or expires. */
static int try_draw(state_exec *x, const uint8_t id[32], Cohort__Task *t, int *waiting) {
  *waiting = 0;
  size_t need = t->committee - count_active(t);
  int rc = mk_draw(x, id, t, need);
  if (rc == COHORT_ERR_NOT_FOUND) {
    mk_draw_info di = {0};
    if ((rc = mk_draw_survey(x, t, &di))) return rc;
    if (di.eligible + di.busy >= need &&
        x->height - t->draw_since < mk_params(x)->draw_wait_blocks) {
      *waiting = 1;
      return t->draw_tries++ ? COHORT_OK : mk_event(t, x->height, EV_WAITING, NULL, need, 0, NULL);
    }
    return expire(x, id, t, EXP_NO_EXECUTORS);
  }
  if (rc) return rc;
  t->draw_tries = 0;
  if ((rc = move_to(x, id, t, T_COMMITTING, x->height + t->commit_blocks))) return rc;
  return after_commit(x, id, t); /* cannot open reveals: new seats have no commitment */
}

int mk_task_draw_due(state_exec *x, const uint8_t id[32]) {
  int rc;
  Cohort__Task *t = mk_get_task(x, id, &rc);
  if (!t) return rc ? rc : COHORT_ERR_CORRUPT;
  if (t->status != T_DRAWING || t->deadline != x->height) {
    cohort__task__free_unpacked(t, NULL);
    return COHORT_ERR_CORRUPT; /* the index and the record disagree */
  }
  int waiting;
  rc = try_draw(x, id, t, &waiting);
  if (!rc && waiting) {
    /* Executors are busy: queue it (first come, first served) until a seat
     * frees; it is tried again only when the capacity epoch moves. */
    uint64_t epoch;
    uint8_t k[42], v[8];
    if (!(rc = move_to(x, id, t, T_DRAWING, 0)) && !(rc = mk_cap_epoch(x, &epoch))) {
      core_put_u64be(v, epoch);
      rc = sx_put(x, k, wait_key(k, t->draw_since, id), v, 8);
    }
  }
  if (!rc) rc = mk_put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

/* A block without a beacon reveal draws nothing: its beacon is the one
 * before it, which the proposer of the previous block knew while it chose
 * that block's transactions. The draws move on to the next block. */
int mk_task_draw_postpone(state_exec *x, const uint8_t id[32]) {
  int rc;
  Cohort__Task *t = mk_get_task(x, id, &rc);
  if (!t) return rc ? rc : COHORT_ERR_CORRUPT;
  if (t->status != T_DRAWING || t->deadline != x->height) rc = COHORT_ERR_CORRUPT;
  if (!rc) rc = move_to(x, id, t, T_DRAWING, x->height + 1);
  if (!rc) rc = mk_put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

typedef struct {
  uint8_t (*k)[42];
  uint64_t *epoch;
  size_t n, cap;
} waitlist;

static int collect_wait(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  waitlist *w = ctx;
  if (kl != 42 || vl != 8) return COHORT_ERR_CORRUPT;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    void *a = realloc(w->k, cap * 42);
    if (a) w->k = a;
    void *b = a ? realloc(w->epoch, cap * 8) : NULL;
    if (b) w->epoch = b;
    if (!a || !b) return COHORT_ERR_NOMEM;
    w->cap = cap;
  }
  memcpy(w->k[w->n], k, 42);
  w->epoch[w->n++] = core_get_u64be(v);
  return 0;
}

int mk_serve_waiting(state_exec *x, int draw) {
  waitlist w = {0};
  uint64_t epoch;
  int rc = mk_cap_epoch(x, &epoch);
  if (!rc) rc = sx_scan(x, (const uint8_t *)"n/", 2, collect_wait, &w);
  uint32_t wait = mk_params(x)->draw_wait_blocks, tries = 0;
  for (size_t i = 0; !rc && i < w.n; i++) {
    uint64_t since = core_get_u64be(w.k[i] + 2);
    int too_old = x->height - since >= wait;
    /* Nothing about the executors changed since this task last failed:
     * it would fail again; skip it without a scan. At most
     * MK_WAIT_TRIES_PER_BLOCK scans per block, oldest first. */
    if (!too_old && (!draw || w.epoch[i] == epoch || tries >= MK_WAIT_TRIES_PER_BLOCK)) continue;
    const uint8_t *id = w.k[i] + 10;
    Cohort__Task *t = mk_get_task(x, id, &rc);
    if (!t) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    int waiting = 0;
    if (t->status != T_DRAWING) rc = COHORT_ERR_CORRUPT;
    else if (too_old) rc = expire(x, id, t, EXP_NO_EXECUTORS);
    else tries++, rc = try_draw(x, id, t, &waiting);
    if (!rc && waiting) {
      uint8_t v[8];
      core_put_u64be(v, epoch);
      rc = sx_put(x, w.k[i], 42, v, 8); /* still waiting: remember this epoch */
    } else if (!rc) {
      rc = sx_del(x, w.k[i], 42);
    }
    if (!rc) rc = mk_put_task(x, id, t);
    cohort__task__free_unpacked(t, NULL);
  }
  free(w.k);
  free(w.epoch);
  return rc;
}

static int window_closed(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  int revealing = t->status == T_REVEALING, rc = COHORT_OK;
  for (size_t i = 0; i < t->n_members && !rc; i++) {
    Cohort__TaskMember *m = t->members[i];
    if (!active(m)) continue;
    if (revealing ? m->claim != NULL : m->commitment.len != 0) continue;
    uint64_t slashed;
    int jailed;
    rc = mk_no_show(x, m->executor.data, id, m->seated_height, revealing, &slashed, &jailed);
    m->replaced = 1;
    if (!rc)
      rc = mk_event(t, x->height, EV_NO_SHOW, m->executor.data, slashed,
                    (revealing ? 2u : 1u) | (jailed ? 4u : 0u), NULL);
  }
  if (rc) return rc;
  if (revealing) return resolve(x, id, t, 1);
  return redraw_or_expire(x, id, t, EXP_NO_SHOWS);
}

int mk_task_window_due(state_exec *x, const uint8_t id[32]) {
  int rc;
  Cohort__Task *t = mk_get_task(x, id, &rc);
  if (!t) return rc ? rc : COHORT_ERR_CORRUPT;
  if (t->deadline != x->height) rc = COHORT_ERR_CORRUPT;
  else if (t->status == T_AGREED) rc = finalize(x, id, t);
  else if (t->status == T_COMMITTING || t->status == T_REVEALING) rc = window_closed(x, id, t);
  else if (t->status == T_DISPUTED) rc = mk_dispute_due(x, id, t);
  else rc = COHORT_ERR_CORRUPT;
  if (!rc) rc = mk_put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

static int collect_keys(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl; /* output keys: "o/" + task + hash: keep the hash */
  if (kl != 66) return COHORT_ERR_CORRUPT;
  return mk_idlist_push(ctx, k + 34);
}

int mk_task_prune_due(state_exec *x, const uint8_t id[32]) {
  int rc;
  Cohort__Task *t = mk_get_task(x, id, &rc);
  if (!t) return rc ? rc : COHORT_ERR_CORRUPT;
  if (t->deadline != x->height || (t->status != T_FINAL && t->status != T_EXPIRED)) {
    cohort__task__free_unpacked(t, NULL);
    return COHORT_ERR_CORRUPT;
  }
  uint8_t k[66];
  mk_key(k, 'i', id, 32);
  rc = sx_del(x, k, 34);
  mk_idlist outs = {0};
  mk_key(k, 'o', id, 32);
  if (!rc) rc = sx_scan(x, k, 34, collect_keys, &outs);
  for (size_t i = 0; !rc && i < outs.n; i++) {
    memcpy(k + 34, outs.ids[i], 32);
    rc = sx_del(x, k, 66);
  }
  free(outs.ids);
  t->pruned = 1;
  if (!rc) rc = move_to(x, id, t, t->status, 0);
  if (!rc) rc = mk_event(t, x->height, EV_PRUNED, NULL, 0, 0, NULL);
  if (!rc) rc = mk_put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
  return rc;
}
