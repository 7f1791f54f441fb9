/* state/staking/staking.c — the staking messages' entry point (the tx
 * dispatch of state/state_exec.c calls it; the rules are in the files of
 * each concern: staking_validator.c, staking_delegate.c, and
 * state/distr/ for MsgWithdrawRewards). */
#include "state/distr/distr.h"
#include "state/staking/staking.h"

int sk_exec(state_exec *x, const tx_t *tx, state_tx_result *res) {
  switch (tx->body->msg_case) {
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR: return sk_exec_create_validator(x, tx, res);
    case COHORT__TX_BODY__MSG_EDIT_VALIDATOR: return sk_exec_edit_validator(x, tx, res);
    case COHORT__TX_BODY__MSG_UNJAIL: return sk_exec_unjail(x, tx, res);
    case COHORT__TX_BODY__MSG_DELEGATE: return sk_exec_delegate(x, tx, res);
    case COHORT__TX_BODY__MSG_UNDELEGATE: return sk_exec_undelegate(x, tx, res);
    case COHORT__TX_BODY__MSG_REDELEGATE: return sk_exec_redelegate(x, tx, res);
    case COHORT__TX_BODY__MSG_WITHDRAW_REWARDS:
      if (tx->body->withdraw_rewards->executor.len == 20)
        return market_withdraw_exec_rewards(x, tx->sender, tx->body->withdraw_rewards->executor.data,
                                            res);
      return distr_exec_withdraw(x, tx, res);
    default: return sk_fail(res, COHORT_ERR_NO_MSG, "unknown message");
  }
}
