/* state/state_prio.c — S_h from V_1 and the set history (state_prio.h). The
 * history is walked once, in height order: between two changes the set is
 * fixed and each height is one increment; at a change of V_h the update
 * comes before the increment that makes S_h. */
#include "state/state_prio.h"

typedef struct {
  cons_prio *p;
  uint64_t at; /* p holds S_at (0: nothing yet) */
  core_errbuf *eb;
} walk;

static int on_change(void *ctx, uint64_t h, const Cohort__ValidatorSet *vs) {
  walk *w = ctx;
  if (h == 1 || w->at == 0) {
    if (h != 1 || cons_prio_genesis(w->p, vs))
      return core_errf(w->eb, COHORT_ERR_CORRUPT, "the genesis validator set (vh/1) is missing "
                       "or cannot drive consensus");
    w->at = 1;
    return 0;
  }
  for (; w->at + 1 < h; w->at++) cons_prio_next_height(w->p); /* S_{h-1} */
  if (cons_prio_update(w->p, vs))
    return core_errf(w->eb, COHORT_ERR_CORRUPT, "the validator set of height %llu cannot drive "
                     "consensus (empty, too large, a zero power or a duplicate key)",
                     (unsigned long long)h);
  cons_prio_next_height(w->p);
  w->at = h;
  return 0;
}

int state_prio_at(state *st, uint64_t height, cons_prio *out, core_errbuf *eb) {
  if (!state_is_initialized(st) || height == 0 || height > state_height(st) + 2)
    return core_errf(eb, COHORT_ERR_NOT_FOUND, "no proposer priorities for height %llu",
                     (unsigned long long)height);
  walk w = {out, 0, eb};
  int rc = state_validator_history(st, height, on_change, &w);
  if (rc) return core_err_is_fatal(rc) || rc == COHORT_ERR_CORRUPT
                     ? rc
                     : core_errf(eb, COHORT_ERR_CORRUPT, "cannot read the validator set history");
  if (w.at == 0)
    return core_errf(eb, COHORT_ERR_CORRUPT, "the validator set history has no genesis record");
  for (; w.at < height; w.at++) cons_prio_next_height(out);
  return COHORT_OK;
}

int state_prio_next(state *st, cons_prio *p, core_errbuf *eb) {
  if (cons_prio_update(p, state_validators(st)))
    return core_errf(eb, COHORT_ERR_CORRUPT, "the validator set of height %llu cannot drive "
                     "consensus", (unsigned long long)state_height(st) + 1);
  cons_prio_next_height(p);
  return COHORT_OK;
}
