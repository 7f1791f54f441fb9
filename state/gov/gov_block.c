/* state/gov/gov_block.c — governance at the end of block h (docs/staking.md
 * §6 step d): deposit periods that end at h (DEPOSIT -> EXPIRED), then
 * voting periods that end at h (VOTING -> the tally's outcome), each kind
 * by proposal ID. Parameter changes due are applied later, at the very end
 * of the block (gov_apply_due, gov_params.c). Bounded (docs/staking.md §5
 * "The end of a block is bounded"): at most gov_max_ends_per_block
 * proposals, each settling at most gov_max_depositors deposits, and the
 * tallies of the votes their voting periods' blocks carried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

static int unqueue(state_exec *x, uint8_t kind, uint64_t id) {
  uint8_t k[GOV_QKEY_LEN];
  gov_key_queue(k, kind, x->height, id);
  return sx_del(x, k, sizeof k);
}

/* DEPOSIT -> EXPIRED: deposits refunded. A proposal whose deposits reach
 * gov_min_deposit as it is now (lowered since the last deposit) starts its
 * vote instead — if its voting period may end where it would
 * (gov_max_ends_per_block): else it expires too, saying why. */
static int expire(state_exec *x, Cohort__GovProposal *p) {
  if (p->status != GOV_ST_DEPOSIT) return COHORT_ERR_CORRUPT; /* the queue entry moves with it */
  if (p->total_deposit >= x->st->params->gov_min_deposit) {
    uint64_t end = x->height + x->st->params->gov_voting_blocks;
    uint32_t ending;
    int rc = gov_end_has_room(x, end, &ending);
    if (rc < 0) return rc;
    if (rc) return gov_start_voting(x, p, 0);
    char why[200];
    snprintf(why, sizeof why, "its deposits reached gov_min_deposit, but %u voting or deposit "
             "periods already end at block %llu (gov_max_ends_per_block)", ending,
             (unsigned long long)end);
    if ((rc = gov_set_str(&p->failed_reason, why))) return rc;
  }
  p->status = GOV_ST_EXPIRED;
  p->final_height = x->height;
  p->depositors = 0; /* every "gd/" record goes */
  return gov_settle_deposits(x, p->id, 0);
}

typedef struct {
  uint8_t (*keys)[GOV_AKEY_LEN];
  size_t n, cap;
} klist;

static int collect_key(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  klist *l = ctx;
  if (kl != GOV_AKEY_LEN) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    void *p = realloc(l->keys, cap * GOV_AKEY_LEN);
    if (!p) return COHORT_ERR_NOMEM;
    l->keys = p;
    l->cap = cap;
  }
  memcpy(l->keys[l->n++], k, GOV_AKEY_LEN);
  return 0;
}

/* "gv/" records of a tallied proposal go: the tally keeps their sum. */
static int delete_votes(state_exec *x, uint64_t id) {
  uint8_t pre[11];
  memcpy(pre, GOV_KEY_VOTE, 3);
  core_put_u64be(pre + 3, id);
  klist l = {0};
  int rc = sx_scan(x, pre, sizeof pre, collect_key, &l);
  for (size_t i = 0; !rc && i < l.n; i++) rc = sx_del(x, l.keys[i], GOV_AKEY_LEN);
  free(l.keys);
  return rc;
}

static int fail_passed(Cohort__GovProposal *p, const char *why) {
  p->status = GOV_ST_FAILED;
  return gov_set_str(&p->failed_reason, why);
}

/* A passed proposal's effect: a spend now, a parameter change queued. */
static int carry_out(state_exec *x, Cohort__GovProposal *p) {
  char why[200];
  if (p->kind == GOV_KIND_SPEND) {
    if (p->recipient.len != 20) return COHORT_ERR_CORRUPT;
    uint64_t pc, ps, c, s, n, sum;
    int rc = bank_pool_get(x, BANK_POOL_COMMUNITY, &pc, &ps);
    if (!rc) rc = bank_get(x, p->recipient.data, &c, &s, &n);
    if (rc) return rc;
    if (pc < p->amount) {
      snprintf(why, sizeof why, "the community pool holds %llu CRD base units, short of the "
               "%llu to spend", (unsigned long long)pc, (unsigned long long)p->amount);
      return fail_passed(p, why);
    }
    if (core_add_u64(&sum, c, p->amount)) return fail_passed(p, "the recipient's CRD balance "
                                                              "would overflow");
    return bank_from_pool(x, BANK_POOL_COMMUNITY, p->recipient.data, BANK_CRD, p->amount);
  }
  if (p->kind != GOV_KIND_PARAMS) return COHORT_OK; /* text */
  uint64_t a = p->apply_height ? p->apply_height : x->height + 1;
  if (a <= x->height) {
    /* apply_height was above the latest tally when submitted; the voting
     * period may have grown since (gov_voting_blocks changed) */
    snprintf(why, sizeof why, "apply_height %llu is not after the tally at block %llu",
             (unsigned long long)a, (unsigned long long)x->height);
    return fail_passed(p, why);
  }
  uint8_t k[GOV_QKEY_LEN];
  gov_key_queue(k, GQ_APPLY, a - 1, p->id);
  return sx_put(x, k, sizeof k, NULL, 0);
}

/* VOTING -> PASSED, REJECTED, VETOED or NO_QUORUM, over V_{h+1}: "v/next" as
 * committed (nothing writes it before the sets move, step 6), the set that
 * signs the next block. */
static int tally(state_exec *x, Cohort__GovProposal *p) {
  if (p->status != GOV_ST_VOTING) return COHORT_ERR_CORRUPT;
  state_tally t;
  int rc = gov_tally_compute(x, p->id, x->st->next_vals, &t);
  if (rc) return rc;
  p->yes = t.yes;
  p->no = t.no;
  p->abstain = t.abstain;
  p->veto = t.veto;
  p->bonded = t.bonded;
  p->final_height = x->height;
  p->status = gov_tally_outcome(&t, x->st->params);
  int burn = p->status == GOV_ST_NO_QUORUM || p->status == GOV_ST_VETOED;
  p->depositors = 0; /* every "gd/" record goes */
  if ((rc = gov_settle_deposits(x, p->id, burn))) return rc;
  if ((rc = delete_votes(x, p->id))) return rc;
  return p->status == GOV_ST_PASSED ? carry_out(x, p) : COHORT_OK;
}

static int run_kind(state_exec *x, uint8_t kind) {
  uint64_t *ids;
  size_t n;
  int rc = gov_due(x, kind, x->height, &ids, &n);
  for (size_t i = 0; !rc && i < n; i++) {
    Cohort__GovProposal *p = gov_get(x, ids[i], &rc);
    if (!p) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    rc = kind == GQ_DEPOSIT ? expire(x, p) : tally(x, p);
    if (!rc) rc = gov_put(x, p);
    if (!rc) rc = unqueue(x, kind, ids[i]);
    cohort__gov_proposal__free_unpacked(p, NULL);
  }
  free(ids);
  return rc;
}

int gov_end_block(state_exec *x) {
  int rc = run_kind(x, GQ_DEPOSIT);
  return rc ? rc : run_kind(x, GQ_VOTING);
}
