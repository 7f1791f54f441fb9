/* state/gov/gov_submit.c — MsgSubmitProposal and MsgDeposit: a proposal
 * comes in (DEPOSIT, or VOTING at once when its deposit is enough) and
 * collects deposits until it reaches gov_min_deposit (VOTING).
 * docs/staking.md §5 "Submit" and "Deposit". Both keep the end of a block
 * bounded: at most gov_max_ends_per_block periods end in one block (a
 * message that would queue one more is refused), at most
 * gov_max_depositors accounts deposit on one proposal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

static int next_id(state_exec *x, uint64_t *id) {
  uint8_t *v;
  size_t vl;
  int rc = sx_get(x, (const uint8_t *)GOV_KEY_NEXT, strlen(GOV_KEY_NEXT), &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) {
    *id = 1;
    return COHORT_OK;
  }
  if (rc) return rc;
  rc = vl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
  if (!rc) *id = core_get_u64be(v);
  free(v);
  return rc;
}

/* Add amt to one depositor's "gd/" record. */
static int add_deposit(state_exec *x, uint64_t id, const uint8_t who[20], uint64_t amt) {
  uint8_t k[GOV_AKEY_LEN];
  gov_key_account(k, GOV_KEY_DEPOSIT, id, who);
  int rc;
  Cohort__Account *a = (Cohort__Account *)sx_get_msg(x, k, sizeof k, &cohort__account__descriptor,
                                                      &rc);
  if (rc) return rc;
  Cohort__Account d = COHORT__ACCOUNT__INIT;
  d.stk = a ? a->stk : 0;
  if (a) cohort__account__free_unpacked(a, NULL);
  if (core_add_u64(&d.stk, d.stk, amt)) return COHORT_ERR_CORRUPT; /* <= total_deposit */
  return sx_put_msg(x, k, sizeof k, &d.base);
}

/* The STK moves from the sender to s/gov; a short balance fails the message. */
static int take_deposit(state_exec *x, const tx_t *tx, uint64_t id, uint64_t amt,
                        state_tx_result *res) {
  int rc = bank_to_pool(x, tx->sender, BANK_POOL_GOV, BANK_STK, amt);
  if (rc == COHORT_ERR_FUNDS) {
    uint64_t c, s, n;
    if ((rc = bank_get(x, tx->sender, &c, &s, &n))) return rc;
    return gov_fail(res, COHORT_ERR_FUNDS, "insufficient STK for the deposit: balance %llu, "
                    "deposit %llu", (unsigned long long)s, (unsigned long long)amt);
  }
  if (rc || !amt) return rc;
  return add_deposit(x, id, tx->sender, amt);
}

int gov_exec_submit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgSubmitProposal *m = tx->body->submit_proposal;
  const Cohort__Params *par = x->st->params;
  uint64_t h = x->height;
  if (m->kind == GOV_KIND_PARAMS) {
    genesis_params g;
    genesis_params_from_proto(&g, par);
    core_errbuf eb;
    if (gov_changes_apply(&g, m->changes, m->n_changes, &eb))
      return gov_fail(res, COHORT_ERR_INVALID, "submit_proposal: %s", eb.msg);
    uint64_t last = h + (uint64_t)par->gov_deposit_blocks + par->gov_voting_blocks;
    if (m->apply_height && m->apply_height <= last)
      return gov_fail(res, COHORT_ERR_INVALID, "submit_proposal.apply_height %llu must be 0 (the "
                      "block after the tally) or above %llu (this block + gov_deposit_blocks + "
                      "gov_voting_blocks: the latest tally)", (unsigned long long)m->apply_height,
                      (unsigned long long)last);
  }
  unsigned __int128 mi = (unsigned __int128)par->gov_min_deposit * par->gov_min_initial_bps / 10000;
  if (m->deposit < (uint64_t)mi)
    return gov_fail(res, COHORT_ERR_AMOUNT, "submit_proposal.deposit %llu is below %llu STK base "
                    "units (gov_min_initial_bps %u of gov_min_deposit %llu)",
                    (unsigned long long)m->deposit, (unsigned long long)mi,
                    par->gov_min_initial_bps, (unsigned long long)par->gov_min_deposit);
  uint64_t end = h + (m->deposit >= par->gov_min_deposit ? par->gov_voting_blocks
                                                         : par->gov_deposit_blocks);
  uint32_t ending;
  int rc = gov_end_has_room(x, end, &ending);
  if (rc < 0) return rc;
  if (!rc)
    return gov_fail(res, COHORT_ERR_TOO_LARGE, "submit_proposal: %u proposals already have a "
                    "period ending at block %llu (gov_max_ends_per_block); send it in another "
                    "block", ending, (unsigned long long)end);
  uint64_t id;
  if ((rc = next_id(x, &id))) return rc;
  if ((rc = take_deposit(x, tx, id, m->deposit, res)) || res->code) return rc;
  uint8_t nb[8];
  core_put_u64be(nb, id + 1);
  if ((rc = sx_put(x, (const uint8_t *)GOV_KEY_NEXT, strlen(GOV_KEY_NEXT), nb, 8))) return rc;
  /* The record borrows the message's strings and changes. */
  Cohort__GovProposal p = COHORT__GOV_PROPOSAL__INIT;
  p.id = id;
  p.kind = m->kind;
  p.proposer = (ProtobufCBinaryData){20, (uint8_t *)tx->sender};
  p.title = m->title;
  p.description = m->description;
  p.n_changes = m->n_changes;
  p.changes = m->changes;
  p.apply_height = m->apply_height;
  p.recipient = m->recipient;
  p.amount = m->amount;
  p.status = GOV_ST_DEPOSIT;
  p.submit_height = h;
  p.deposit_end = h + par->gov_deposit_blocks;
  p.total_deposit = m->deposit;
  p.depositors = m->deposit > 0; /* the proposer, when it deposited */
  if (m->deposit >= par->gov_min_deposit) {
    rc = gov_start_voting(x, &p, 0);
  } else {
    uint8_t k[GOV_QKEY_LEN];
    gov_key_queue(k, GQ_DEPOSIT, p.deposit_end, id);
    rc = sx_put(x, k, sizeof k, NULL, 0);
  }
  if (!rc) rc = gov_put(x, &p);
  if (!rc) /* the ID is not derived from the tx: say it (TxResult.log) */
    snprintf(res->log, sizeof res->log, "proposal %llu: %s", (unsigned long long)id,
             p.status == GOV_ST_VOTING ? "voting" : "deposit period");
  return rc;
}

int gov_exec_deposit(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgDeposit *m = tx->body->deposit;
  const Cohort__Params *par = x->st->params;
  int rc;
  Cohort__GovProposal *p = gov_get(x, m->proposal, &rc);
  if (!p)
    return rc ? rc : gov_fail(res, COHORT_ERR_NOT_FOUND, "deposit: no proposal %llu",
                              (unsigned long long)m->proposal);
  uint64_t total;
  int is_new = 0;
  if (p->status != GOV_ST_DEPOSIT) {
    rc = gov_fail(res, COHORT_ERR_INVALID, "deposit: proposal %llu is %s; deposits are accepted "
                  "only in its deposit period (blocks %llu to %llu)",
                  (unsigned long long)p->id, gov_status_name(p->status),
                  (unsigned long long)p->submit_height, (unsigned long long)p->deposit_end);
    goto out;
  }
  if (core_add_u64(&total, p->total_deposit, m->amount)) {
    rc = gov_fail(res, COHORT_ERR_OVERFLOW, "deposit: the proposal's total would overflow");
    goto out;
  }
  uint8_t k[GOV_AKEY_LEN], *v;
  size_t vl;
  gov_key_account(k, GOV_KEY_DEPOSIT, p->id, tx->sender);
  rc = sx_get(x, k, sizeof k, &v, &vl);
  if (rc == COHORT_OK) free(v);
  else if (rc == COHORT_ERR_NOT_FOUND) is_new = 1;
  else goto out;
  rc = COHORT_OK;
  if (is_new) {
    /* a new depositor: a place of its own, and enough STK that the places
     * together reach gov_min_deposit */
    uint64_t least = par->gov_min_deposit / par->gov_max_depositors +
                     (par->gov_min_deposit % par->gov_max_depositors != 0);
    if (p->depositors >= par->gov_max_depositors) {
      rc = gov_fail(res, COHORT_ERR_TOO_LARGE, "deposit: proposal %llu already has %u depositors "
                    "(gov_max_depositors); only they may add to their deposits",
                    (unsigned long long)p->id, p->depositors);
      goto out;
    }
    if (m->amount < least) {
      rc = gov_fail(res, COHORT_ERR_AMOUNT, "deposit: a first deposit on a proposal is at least "
                    "%llu STK base units (ceil(gov_min_deposit %llu / gov_max_depositors %u))",
                    (unsigned long long)least, (unsigned long long)par->gov_min_deposit,
                    par->gov_max_depositors);
      goto out;
    }
  }
  if (total >= par->gov_min_deposit) {
    uint64_t end = x->height + par->gov_voting_blocks;
    uint32_t ending;
    if ((rc = gov_end_has_room(x, end, &ending)) < 0) goto out;
    if (!rc) {
      rc = gov_fail(res, COHORT_ERR_TOO_LARGE, "deposit: it would start the vote of proposal "
                    "%llu, whose voting period would end at block %llu, where %u periods "
                    "already end (gov_max_ends_per_block); deposit in another block",
                    (unsigned long long)p->id, (unsigned long long)end, ending);
      goto out;
    }
    rc = COHORT_OK;
  }
  if (!(rc = take_deposit(x, tx, p->id, m->amount, res)) && !res->code) {
    p->total_deposit = total;
    p->depositors += (uint32_t)is_new;
    if (total >= par->gov_min_deposit) rc = gov_start_voting(x, p, 1);
    if (!rc) rc = gov_put(x, p);
  }
out:
  cohort__gov_proposal__free_unpacked(p, NULL);
  return rc;
}
