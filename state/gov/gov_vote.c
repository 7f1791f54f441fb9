/* state/gov/gov_vote.c — MsgVote: an account with at least one delegation
 * votes on a proposal in its voting period; a later vote replaces the
 * earlier one (docs/staking.md §5 "Vote"). The weight is not fixed here:
 * the tally reads the voter's delegations as they are at voting_end. */
#include <string.h>

#include "state/gov/gov_int.h"

int gov_exec_vote(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgVote *m = tx->body->vote;
  int rc;
  Cohort__GovProposal *p = gov_get(x, m->proposal, &rc);
  if (!p)
    return rc ? rc : gov_fail(res, COHORT_ERR_NOT_FOUND, "vote: no proposal %llu",
                              (unsigned long long)m->proposal);
  uint32_t st = p->status;
  uint64_t vs = p->voting_start, ve = p->voting_end, dend = p->deposit_end;
  cohort__gov_proposal__free_unpacked(p, NULL);
  if (st == GOV_ST_DEPOSIT)
    return gov_fail(res, COHORT_ERR_INVALID, "vote: proposal %llu is in its deposit period (until "
                    "block %llu): voting starts once its deposits reach gov_min_deposit",
                    (unsigned long long)m->proposal, (unsigned long long)dend);
  if (st != GOV_ST_VOTING)
    return gov_fail(res, COHORT_ERR_INVALID, "vote: proposal %llu is %s; its voting period was "
                    "blocks %llu to %llu", (unsigned long long)m->proposal, gov_status_name(st),
                    (unsigned long long)vs, (unsigned long long)ve);
  int has = gov_has_delegation(x, tx->sender);
  if (has < 0) return has;
  if (!has)
    return gov_fail(res, COHORT_ERR_INVALID, "vote: the sender has no delegation; voting weight "
                    "is STK bonded to validators (delegate some first)");
  Cohort__GovVote v = COHORT__GOV_VOTE__INIT;
  v.option = m->option;
  v.height = x->height;
  uint8_t k[GOV_AKEY_LEN];
  gov_key_account(k, GOV_KEY_VOTE, m->proposal, tx->sender);
  return sx_put_msg(x, k, sizeof k, &v.base);
}
