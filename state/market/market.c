/* state/market/market.c — the market's entry points: message dispatch and
 * the block hooks.
 *
 * Order within a block h (docs/tasks.md "Block order"):
 *   begin  (after the header's beacon reveal, before any transaction):
 *          tasks waiting for a seat, oldest first; then draws due at h
 *          (DRAWING tasks), in task-ID order. A block without a reveal
 *          draws nothing: its due draws move to h + 1;
 *   txs    in block order;
 *   end    unbonding stake due at h is released (executors' own, then
 *          their delegators'); windows due at h close
 *          (commit/reveal windows, challenge windows), in task-ID order;
 *          then prunes due at h.
 */
#include <stdlib.h>

#include "state/market/market_int.h"

int sx_exec_market(state_exec *x, const tx_t *tx, state_tx_result *res) {
  switch (tx->body->msg_case) {
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR: return mk_exec_register(x, tx, res);
    case COHORT__TX_BODY__MSG_UNBOND: return mk_exec_unbond(x, tx, res);
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB: return mk_exec_upload(x, tx, res);
    case COHORT__TX_BODY__MSG_SUBMIT_TASK: return mk_exec_submit(x, tx, res);
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: return mk_exec_submit_job(x, tx, res);
    case COHORT__TX_BODY__MSG_COMMIT_RESULT: return mk_exec_commit(x, tx, res);
    case COHORT__TX_BODY__MSG_REVEAL_RESULT: return mk_exec_reveal(x, tx, res);
    case COHORT__TX_BODY__MSG_CHALLENGE: return mk_exec_challenge(x, tx, res);
    case COHORT__TX_BODY__MSG_DISPUTE_BISECT:
    case COHORT__TX_BODY__MSG_DISPUTE_SELECT:
    case COHORT__TX_BODY__MSG_DISPUTE_PROVE: return mk_exec_dispute(x, tx, res);
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR: return mk_exec_delegate(x, tx, res);
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR: return mk_exec_undelegate(x, tx, res);
    default: return mk_fail(res, COHORT_ERR_NO_MSG, "unknown message");
  }
}

static int run_due(state_exec *x, uint8_t kind, int (*fn)(state_exec *, const uint8_t *)) {
  mk_idlist l;
  int rc = mk_due(x, x->height, kind, &l);
  for (size_t i = 0; !rc && i < l.n; i++) rc = fn(x, l.ids[i]);
  free(l.ids);
  return rc;
}

int sx_begin_block(state_exec *x) {
  /* Draws need a beacon nobody knew when the tasks were included: only a
   * block whose header reveals the next link of its proposer's hash chain
   * has one. Without it, every draw waits for the next block. */
  if (!x->revealed) { /* but a task that waited long enough expires all the same (fuzz_market) */
    int rc = mk_serve_waiting(x, 0);
    return rc ? rc : run_due(x, DL_DRAW, mk_task_draw_postpone);
  }
  int rc = mk_serve_waiting(x, 1); /* those who waited go first */
  return rc ? rc : run_due(x, DL_DRAW, mk_task_draw_due);
}

int sx_end_block(state_exec *x) {
  int rc = mk_release_unbondings(x);
  if (!rc) rc = mk_release_del_unbondings(x);
  if (!rc) rc = run_due(x, DL_WINDOW, mk_task_window_due);
  if (!rc) rc = run_due(x, DL_PRUNE, mk_task_prune_due);
  if (!rc) rc = run_due(x, DL_JAIL, mk_jail_due);
  return rc;
}
