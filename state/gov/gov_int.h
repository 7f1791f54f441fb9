/* state/gov/gov_int.h — private to state/gov/: keys, record I/O, shared
 * steps of the proposal state machine (gov.h has the diagram). */
#ifndef COHORT_STATE_GOV_INT_H
#define COHORT_STATE_GOV_INT_H

#include "state/bank/bank.h"
#include "state/gov/gov.h"
#include "state/state_int.h"

#define GOV_KEY_NEXT "gn/next"
#define GOV_KEY_PROPOSAL "gp/"  /* + u64be(id) */
#define GOV_KEY_DEPOSIT "gd/"   /* + u64be(id) + depositor(20) */
#define GOV_KEY_VOTE "gv/"      /* + u64be(id) + voter(20) */
#define GOV_KEY_QUEUE "gq/"     /* + u8(kind) + u64be(h) + u64be(id) */
#define GOV_KEY_SINCE "ps/"     /* + parameter name */
#define GOV_KEY_MAX "pm/"       /* + parameter name: the largest value ever in force */
/* The staking module's records, read for the tally (docs/staking.md §1). */
#define GOV_KEY_VALIDATOR "vl/" /* + op(20) -> ValidatorInfo */
#define GOV_KEY_DELEGATION "dl/" /* + del(20) + op(20) -> Delegation */

enum { GQ_DEPOSIT = 1, GQ_VOTING = 2, GQ_APPLY = 3 };

#define GOV_PKEY_LEN 11  /* "gp/" + id */
#define GOV_AKEY_LEN 31  /* "gd/" or "gv/" + id + account */
#define GOV_QKEY_LEN 20  /* "gq/" + kind + h + id */

void gov_key_proposal(uint8_t k[GOV_PKEY_LEN], uint64_t id);
void gov_key_account(uint8_t k[GOV_AKEY_LEN], const char *prefix, uint64_t id, const uint8_t who[20]);
void gov_key_queue(uint8_t k[GOV_QKEY_LEN], uint8_t kind, uint64_t h, uint64_t id);

/* Record a failed message (res->code, res->log); returns COHORT_OK. */
int gov_fail(state_tx_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The proposal through the overlay: NULL with *rc = 0 if there is none. */
Cohort__GovProposal *gov_get(state_exec *x, uint64_t id, int *rc);
int gov_put(state_exec *x, const Cohort__GovProposal *p);

/* DEPOSIT -> VOTING at x->height: voting_start, voting_end, the queue
 * entries moved (kind 1 at deposit_end deleted when `queued`, kind 2 at
 * voting_end put). The proposal is stored by the caller. */
int gov_start_voting(state_exec *x, Cohort__GovProposal *p, int queued);

/* 1 if a period may end at the end of block h: fewer than
 * params.gov_max_ends_per_block proposals have a deposit or voting period
 * ending there ("gq/" kinds 1 and 2 at h, together); 0 if not; or a
 * negative error. Every write of such an entry asks first, so the end of
 * a block never handles more (docs/staking.md §5 "The end of a block is
 * bounded"). *n (may be NULL) gets the count, up to the cap. */
int gov_end_has_room(state_exec *x, uint64_t h, uint32_t *n);

/* Every deposit of proposal `id` back to its depositor (burn = 0) or burned
 * (burn = 1), "gd/" records deleted. */
int gov_settle_deposits(state_exec *x, uint64_t id, int burn);

/* 1 if `who` has at least one delegation (any validator), 0 if none, or a
 * negative error. */
int gov_has_delegation(state_exec *x, const uint8_t who[20]);

/* The proposal IDs queued as `kind` at the end of block h, in ID order
 * (*ids malloc'd, NULL when none). */
int gov_due(state_exec *x, uint8_t kind, uint64_t h, uint64_t **ids, size_t *n);

/* A stored string of a proposal (free the old one; NULL on no memory). */
int gov_set_str(char **dst, const char *s);

#endif
