/* proto/gov.h — governance wire rules shared by the chain, the CLI and
 * independent clients (docs/staking.md §5): the numbers of proposal kinds,
 * statuses and vote options, their names, and the shape limits of
 * MsgSubmitProposal. Pure; no state.
 */
#ifndef COHORT_PROTO_GOV_H
#define COHORT_PROTO_GOV_H

#include <stdint.h>

/* GovProposal.kind / MsgSubmitProposal.kind */
enum { GOV_KIND_PARAMS = 1, GOV_KIND_TEXT = 2, GOV_KIND_SPEND = 3 };

/* GovProposal.status (stable numbers) */
enum {
  GOV_ST_DEPOSIT = 1,
  GOV_ST_VOTING = 2,
  GOV_ST_PASSED = 3,
  GOV_ST_REJECTED = 4,
  GOV_ST_VETOED = 5,
  GOV_ST_NO_QUORUM = 6,
  GOV_ST_EXPIRED = 7,
  GOV_ST_FAILED = 8
};

/* MsgVote.option / GovVote.option */
enum { GOV_YES = 1, GOV_NO = 2, GOV_ABSTAIN = 3, GOV_VETO = 4 };

#define GOV_TITLE_MAX 140
#define GOV_DESCRIPTION_MAX 10000
#define GOV_CHANGES_MAX 16
#define GOV_PARAM_NAME_MAX 64

/* "params", "text", "spend" ("unknown" otherwise). */
const char *gov_kind_name(uint32_t kind);
/* "deposit", "voting", "passed", "rejected", "vetoed", "no_quorum",
 * "expired", "failed" ("unknown" otherwise). */
const char *gov_status_name(uint32_t status);
/* The status of a name above; 0 if none. */
uint32_t gov_status_parse(const char *name);
/* "yes", "no", "abstain", "veto" ("unknown" otherwise). */
const char *gov_option_name(uint32_t option);
/* yes|no|abstain|veto (also "no_with_veto"); 0 if none. Case-insensitive. */
uint32_t gov_option_parse(const char *name);

#endif
