/* state/market/market_task.c — a task's life, from submission to pruning.
 *
 * States (Task.status; stable numbers) and what each guarantees:
 *
 *   DRAWING(7)     the reward and the members' fee allowance are escrowed;
 *                  some seats are empty. The draw happens at the beginning
 *                  of the next block (deadline kind DRAW), from a beacon the
 *                  proposer that included the submission could not know.
 *                  When the executors that could serve it are busy (at their
 *                  capacity), it tries again after 1, 2, 4 .. 64 blocks, for
 *                  draw_wait_blocks at most; with too few such executors at
 *                  all, it expires at once.
 *   COMMITTING(1)  k active members; some have not committed. Window:
 *                  `deadline` (WINDOW), never shorter than the step cap needs
 *                  at params.exec_steps_per_block plus a margin.
 *   REVEALING(2)   every active member committed; some have not revealed.
 *   AGREED(3)      at least `quorum` active members revealed and all reveals
 *                  are equal: the result is recorded; nobody is paid yet.
 *                  Members' seats (and stake locks) stay until FINAL.
 *   FINAL(4)       the challenge window passed: members paid steps x their
 *                  draw-time price / 10^6 (at most reward/k) and their commit
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
 *   DRAWING     -> DRAWING     mk_task_draw_due       executors busy: wait for capacity
 *   DRAWING     -> EXPIRED     mk_task_draw_due       too few executors, or busy longer
 *                                                     than draw_wait_blocks
 *   COMMITTING  -> REVEALING   after_commit           the last active member commits
 *   COMMITTING  -> DRAWING     window_closed          no-shows slashed (once per outage),
 *                                                     replaced at the next block
 *   COMMITTING  -> EXPIRED     window_closed          ... after max_attempts draws
 *   REVEALING   -> AGREED      resolve                all equal, >= quorum reveals
 *   REVEALING   -> DISPUTED    resolve                two different claims
 *   REVEALING   -> DRAWING     resolve (at deadline)  fewer than quorum: refill the
 *                                                     seats of the no-shows
 *   REVEALING   -> EXPIRED     resolve (at deadline)  ... after max_attempts draws
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
    case T_AGREED: return DL_WINDOW;
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

/* Every status change goes through here: it keeps the deadline index in
 * step with (status, deadline). h = 0: no deadline. */
static int move_to(state_exec *x, const uint8_t id[32], Cohort__Task *t, uint32_t status,
                   uint64_t h) {
  uint8_t k[DL_KEY_LEN];
  int rc;
  if (t->deadline && kind_of(t->status) &&
      (rc = sx_del(x, k, dl_key(k, t->deadline, kind_of(t->status), id))))
    return rc;
  t->status = status;
  t->deadline = h;
  if (!h || !kind_of(status)) return COHORT_OK;
  return sx_put(x, k, dl_key(k, h, kind_of(status), id), NULL, 0);
}

static int active(const Cohort__TaskMember *m) { return !m->replaced; }

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
    unsigned __int128 due = (unsigned __int128)t->result->steps * m->price_per_msteps / 1000000u;
    uint64_t pay = due > cap ? cap : (uint64_t)due;
    if (!(rc = bank_escrow_out(x, m->executor.data, pay)) &&
        !(rc = core_add_u64(&t->paid, t->paid, pay)) && !(rc = repay_fees(x, t, m)))
      rc = mk_seat_release(x, m->executor.data, id, 1);
  }
  if (!rc) rc = refund_rest(x, t);
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
    if ((rc = move_to(x, id, t, T_DISPUTED, 0))) return rc;
    if ((rc = mk_job_chunk_settled(x, t, 0))) return rc;
    return mk_event(t, x->height, EV_DISPUTED, NULL, distinct, 0, NULL);
  }
  if (revealed < t->quorum) {
    if ((rc = mk_event(t, x->height, EV_NO_QUORUM, NULL, revealed, t->quorum, NULL))) return rc;
    return redraw_or_expire(x, id, t, EXP_NO_QUORUM);
  }
  if (!(t->result = claim_copy(first))) return COHORT_ERR_NOMEM;
  for (size_t i = 0; i < t->n_members; i++)
    if (active(t->members[i]) && (rc = mk_seat_done(x, t->members[i]->executor.data))) return rc;
  uint32_t chal = mk_params(x)->challenge_blocks;
  if ((rc = move_to(x, id, t, T_AGREED, chal ? x->height + chal : 0))) return rc;
  if ((rc = mk_job_chunk_settled(x, t, 1))) return rc;
  if ((rc = mk_event(t, x->height, EV_AGREED, NULL, revealed, first->steps,
                     first->final_state.data)))
    return rc;
  return chal ? COHORT_OK : finalize(x, id, t);
}

/* After a commit: once every active member is committed, reveals open. */
static int after_commit(state_exec *x, const uint8_t id[32], Cohort__Task *t) {
  for (size_t i = 0; i < t->n_members; i++)
    if (active(t->members[i]) && !t->members[i]->commitment.len) return COHORT_OK;
  int rc = move_to(x, id, t, T_REVEALING, x->height + t->reveal_blocks);
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
  if (!rc) { /* at the door: enough executors must be able to serve it (busy ones
               free their capacity as their tasks settle: the draw waits) */
    mk_draw_info di;
    rc = mk_draw_survey(x, t, &di);
    if (!rc && di.eligible + di.busy < m->committee) {
      if (di.staked + di.busy == 0)
        mk_fail(res, COHORT_ERR_NO_EXECUTORS, "no executor accepts work with the minimum stake "
                "right now (see: cohort executor list); try again later");
      else if (di.staked + di.busy < m->committee)
        mk_fail(res, COHORT_ERR_NO_EXECUTORS, "only %zu executors accept work with the minimum "
                "stake; a committee of %u needs more: lower --committee",
                di.staked + di.busy, m->committee);
      else
        mk_fail(res, COHORT_ERR_NO_EXECUTORS, "the reward does not cover %u executors' prices "
                "for max_steps %llu: reward at least %llu CRD base units (or lower max_steps)",
                m->committee, (unsigned long long)m->max_steps,
                (unsigned long long)di.reward_needed);
      cohort__task__free_unpacked(t, NULL);
      return COHORT_OK;
    }
  }
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
    mem->commit_fee = tx->body->fee;
    rc = mk_set_bytes(&mem->commitment, m->commitment.data, 32);
    if (!rc) rc = mk_event(t, x->height, EV_COMMITTED, tx->sender, 0, 0, NULL);
    if (!rc) rc = after_commit(x, m->task_id.data, t);
    if (!rc) rc = mk_put_task(x, m->task_id.data, t);
  }
  cohort__task__free_unpacked(t, NULL);
  return rc;
}

/* Checks of a reveal against the task; NULL if it passes, else the reason. */
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
  if (cohort_vm_output_verify(c->final_state.data, m->output.data, m->output.len,
                              m->output_proof.data, m->output_proof.len, &info, &veb)) {
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
  if (why) {
    rc = mk_fail(res, code, "%s", why);
  } else {
    const Cohort__Claim *c = m->claim;
    mem->reveal_fee = tx->body->fee;
    if (!(mem->claim = claim_copy(c))) rc = COHORT_ERR_NOMEM;
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

int mk_task_draw_due(state_exec *x, const uint8_t id[32]) {
  int rc;
  Cohort__Task *t = mk_get_task(x, id, &rc);
  if (!t) return rc ? rc : COHORT_ERR_CORRUPT;
  if (t->status != T_DRAWING || t->deadline != x->height) {
    cohort__task__free_unpacked(t, NULL);
    return COHORT_ERR_CORRUPT; /* the index and the record disagree */
  }
  size_t need = t->committee - count_active(t);
  rc = mk_draw(x, id, t, need);
  mk_draw_info di = {0};
  if (rc == COHORT_ERR_NOT_FOUND && (rc = mk_draw_survey(x, t, &di)) == COHORT_OK)
    rc = COHORT_ERR_NOT_FOUND;
  if (rc == COHORT_ERR_NOT_FOUND && di.eligible + di.busy >= need &&
      x->height - t->draw_since < mk_params(x)->draw_wait_blocks) {
    /* Executors are busy (capacity) or away: wait, backing off, rather than
     * expire a task someone will serve soon (a job bigger than today's
     * capacity queues). Each retry costs a scan of the executors, so the
     * retries are spaced exponentially. */
    uint32_t gap = t->draw_tries < 6 ? 1u << t->draw_tries : 64;
    if (!t->draw_tries) rc = mk_event(t, x->height, EV_WAITING, NULL, need, 0, NULL);
    else rc = COHORT_OK;
    t->draw_tries++;
    if (!rc) rc = move_to(x, id, t, T_DRAWING, x->height + gap);
  } else if (rc == COHORT_ERR_NOT_FOUND) {
    rc = expire(x, id, t, EXP_NO_EXECUTORS);
  } else if (!rc) {
    t->draw_tries = 0;
    rc = move_to(x, id, t, T_COMMITTING, x->height + t->commit_blocks);
    if (!rc) rc = after_commit(x, id, t); /* cannot open reveals: new seats have no commitment */
  }
  if (!rc) rc = mk_put_task(x, id, t);
  cohort__task__free_unpacked(t, NULL);
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
    rc = mk_no_show(x, m->executor.data, id, &slashed, &jailed);
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
