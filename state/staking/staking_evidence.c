/* state/staking/staking_evidence.c — evidence of double signs: the checks
 * that need the state (docs/protocol.md 4b), and the punishment
 * (docs/staking.md §3, staking_slash.c).
 *
 * An item of block H is checked against, in this order, cheapest first so
 * that a bad item costs least (docs/protocol.md 4b "Order of the checks"):
 * the per-block cap; its heights (e < H, H - e <= params.evidence_max_age);
 * the offender's tombstone (one read through the overlay, so an earlier
 * item of this block counts: duplicates stop here); membership in V_e (one
 * reverse seek in the history, sk_validators_at: its cost does not grow
 * with the chain's set changes); both signatures (last: the expensive
 * part, ~50 us each; the first bad one stops). Nothing is
 * written until every check passed; then the writes (the slash of the
 * offender, its delegators' unbondings and redelegations, the burn, the
 * jail and the tombstone) are journaled so that a failure of this node
 * leaves the overlay as it was. The offender leaves the power index, so
 * the set P built at the end of the block (staking_valset.c) no longer has
 * it — unless it was the last validator. A refusal is a normal return
 * with a reason; resource errors are returned as they are (fatal band)
 * and never become a refusal — a node short of memory must not call a
 * valid block invalid.
 */
#include <stdlib.h>
#include <string.h>

#include "state/staking/staking.h"

static int find_key(const Cohort__ValidatorSet *vs, const uint8_t k[32]) {
  for (size_t i = 0; i < vs->n_validators; i++)
    if (vs->validators[i]->pubkey.len == 32 && !memcmp(vs->validators[i]->pubkey.data, k, 32))
      return 1;
  return 0;
}

int sk_check_evidence(state_exec *x, const evidence_t *e, core_errbuf *eb) {
  const Cohort__Params *p = x->st->params;
  const Cohort__Vote *a = e->a;
  uint64_t eh = a->height, H = x->height;
  char who[17];
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    who[2 * i] = hx[a->validator.data[i] >> 4];
    who[2 * i + 1] = hx[a->validator.data[i] & 15];
  }
  who[16] = 0;
  if (x->n_evidence >= p->max_block_evidence)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "the block already carries %u evidence items "
                     "(params.max_block_evidence)", p->max_block_evidence);
  if (eh >= H)
    return core_errf(eb, COHORT_ERR_INVALID, "evidence for height %llu in block %llu: it must "
                     "be for an earlier height", (unsigned long long)eh, (unsigned long long)H);
  if (H - eh > p->evidence_max_age)
    return core_errf(eb, COHORT_ERR_INVALID, "evidence for height %llu is too old for block "
                     "%llu (params.evidence_max_age = %u blocks)", (unsigned long long)eh,
                     (unsigned long long)H, p->evidence_max_age);
  uint8_t tk[35] = KEY_TOMB, *tv;
  size_t tl;
  memcpy(tk + 3, a->validator.data, 32);
  int rc = sx_get(x, tk, sizeof tk, &tv, &tl);
  if (rc == COHORT_OK) {
    free(tv);
    return core_errf(eb, COHORT_ERR_DUPLICATE, "validator %s.. was already punished for a "
                     "double sign", who);
  }
  if (rc != COHORT_ERR_NOT_FOUND) return rc;
  Cohort__ValidatorSet *ve;
  if ((rc = sk_validators_at(x->st->kv, eh, &ve)))
    return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc; /* V_1 is always there */
  int member = find_key(ve, a->validator.data);
  cohort__validator_set__free_unpacked(ve, NULL);
  if (!member)
    return core_errf(eb, COHORT_ERR_INVALID, "%s.. was not a validator at height %llu", who,
                     (unsigned long long)eh);
  core_errbuf veb;
  if (vote_verify(e->a, x->st->meta->chain_id, &veb) ||
      vote_verify(e->b, x->st->meta->chain_id, &veb))
    return core_errf(eb, COHORT_ERR_SIGNATURE, "evidence against %s..: %s (chain \"%s\")", who,
                     veb.msg, x->st->meta->chain_id);
  return COHORT_OK;
}

/* Punish the offender for votes at height eh; all or nothing. */
static int punish(state_exec *x, const uint8_t pubkey[32], uint64_t eh) {
  ov_journal_begin(&x->ov);
  int rc = sk_punish_double_sign(x, pubkey, eh);
  if (rc) {
    int rb = ov_journal_rollback_to(&x->ov, 0);
    ov_journal_end(&x->ov);
    return rb ? rb : rc;
  }
  ov_journal_end(&x->ov);
  return COHORT_OK;
}

int state_exec_evidence(state_exec *x, const uint8_t *bytes, size_t len, core_errbuf *eb) {
  if (x->begun || x->finished)
    return core_errf(eb, COHORT_ERR_INVALID, "evidence must be applied before the block's txs");
  evidence_t e;
  int rc = evidence_decode(&e, bytes, len, eb);
  if (rc) return rc;
  rc = sk_check_evidence(x, &e, eb);
  if (!rc && (rc = punish(x, e.a->validator.data, e.a->height)))
    rc = core_errf(eb, rc, "cannot apply evidence on this node: %s", core_err_str(rc));
  if (!rc) x->n_evidence++;
  evidence_free(&e);
  return rc;
}

int state_build_add_evidence(state_exec *x, const ProtobufCBinaryData *cand, size_t n,
                             size_t max_bytes, size_t *picked, size_t *npicked,
                             core_errbuf *eb) {
  *npicked = 0;
  size_t used = 0;
  for (size_t i = 0; i < n && x->n_evidence < x->st->params->max_block_evidence; i++) {
    if (cand[i].len > max_bytes - used) continue;
    core_errbuf ieb;
    int rc = state_exec_evidence(x, cand[i].data, cand[i].len, &ieb);
    if (rc && core_err_is_fatal(rc))
      return core_errf(eb, rc, "cannot check evidence for the proposal: %s", ieb.msg);
    if (rc) continue; /* not includable now: the pool drops it */
    picked[(*npicked)++] = i;
    used += cand[i].len;
  }
  return COHORT_OK;
}

static int check_evidence(state *st, const uint8_t *bytes, size_t len, int early,
                          core_errbuf *eb) {
  if (!st->meta) return core_errf(eb, COHORT_ERR_INVALID, "state has no genesis");
  evidence_t e;
  int rc = evidence_decode(&e, bytes, len, eb);
  if (rc) return rc;
  state_exec *x = calloc(1, sizeof *x);
  if (!x) {
    evidence_free(&e);
    return COHORT_ERR_NOMEM;
  }
  x->st = st;
  x->height = st->meta->height + 1;
  /* Votes of the height being decided: judged as in the block after it. */
  if (early && e.a->height == x->height) x->height++;
  x->begun = 1;
  rc = sk_check_evidence(x, &e, eb);
  evidence_free(&e);
  state_exec_free(x);
  return rc;
}

int state_check_evidence(state *st, const uint8_t *bytes, size_t len, core_errbuf *eb) {
  return check_evidence(st, bytes, len, 0, eb);
}

int state_check_evidence_early(state *st, const uint8_t *bytes, size_t len, core_errbuf *eb) {
  return check_evidence(st, bytes, len, 1, eb);
}
