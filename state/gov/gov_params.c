/* state/gov/gov_params.c — parameter changes: the checks a change passes
 * when it is proposed and again when it is applied, and the application at
 * the very end of block a-1 (docs/staking.md §5 "Passed", §6 step e).
 *
 * The parameters in force for block h are "p/params" as committed after
 * h-1 (the state's cache, x->st->params); a change lands in the overlay at
 * the very end of block a-1, after everything else in that block, so no
 * code of block a-1 can read it and block a (its header checks included:
 * the node reads the cache left by a-1's commit) is the first to run with
 * it. Each applied parameter's "ps/" + name records a, the first height
 * executed with the new value, and "pm/" + name the largest value it has
 * had in force.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

static const genesis_param_info *row_of(const char *name) {
  for (size_t i = 0; i < genesis_param_count; i++)
    if (!strcmp(genesis_param_table[i].name, name)) return &genesis_param_table[i];
  return NULL;
}

int gov_changes_apply(genesis_params *p, Cohort__ParamChange *const *changes, size_t n,
                      core_errbuf *eb) {
  genesis_params q = *p;
  for (size_t i = 0; i < n; i++) {
    const Cohort__ParamChange *c = changes[i];
    const char *name = c->name ? c->name : "";
    const genesis_param_info *r = row_of(name);
    if (!r)
      return core_errf(eb, COHORT_ERR_INVALID, "changes[%zu]: no parameter \"%.64s\" (the table "
                       "is genesis/params.h; see the params RPC)", i, name);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(changes[j]->name, name))
        return core_errf(eb, COHORT_ERR_INVALID, "changes[%zu]: %s is changed twice", i, name);
    if (c->value < r->min || c->value > r->max)
      return core_errf(eb, COHORT_ERR_INVALID, "changes[%zu]: %s = %llu is outside its bounds "
                       "[%llu, %llu]", i, name, (unsigned long long)c->value,
                       (unsigned long long)r->min, (unsigned long long)r->max);
    genesis_param_set(&q, r, c->value);
  }
  core_errbuf reb;
  if (genesis_params_check(&q, &reb))
    return core_errf(eb, COHORT_ERR_INVALID, "with these changes %s", reb.msg);
  *p = q;
  return COHORT_OK;
}

/* The transition rule of evidence_max_age (docs/staking.md §3 "Evidence
 * age"): a raise to A, in force from height `first`, needs every unbonding
 * entry an offence judged under A could reach to have a period above A.
 * Entries written since unbonding_blocks took its current value U (at
 * `since` = ps/unbonding_blocks; genesis if absent) have U: so A < U. Those
 * written before `since` had an earlier period U0: if U0 > U they are safe
 * anyway; if U0 < U they are all paid by the end of block since - 1 + U0,
 * before since + U. Requiring first >= since + U makes every offence judged
 * under A later than `since` (e >= first - A > since), so only entries of
 * period U count. Returns 0, 1 (refused, eb says why) or a negative error. */
static int evidence_age_transition(state_exec *x, const genesis_params *old,
                                   const genesis_params *now, uint64_t first, core_errbuf *eb) {
  if (now->evidence_max_age <= old->evidence_max_age) return 0;
  if (now->evidence_max_age >= old->unbonding_blocks) {
    core_errf(eb, COHORT_ERR_INVALID, "evidence_max_age = %u is not below unbonding_blocks = %u "
              "in force until now: stake unbonding under it would be paid before its offence "
              "could be proven", now->evidence_max_age, old->unbonding_blocks);
    return 1;
  }
  char k[3 + GOV_PARAM_NAME_MAX + 1];
  int kl = snprintf(k, sizeof k, "%sunbonding_blocks", GOV_KEY_SINCE);
  uint8_t *v;
  size_t vl;
  int rc = sx_get(x, (const uint8_t *)k, (size_t)kl, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return 0; /* the genesis value: every entry has it */
  if (rc) return rc;
  uint64_t since = vl == 8 ? core_get_u64be(v) : 0;
  free(v);
  if (vl != 8) return COHORT_ERR_CORRUPT;
  uint64_t until;
  if (core_add_u64(&until, since, old->unbonding_blocks)) return COHORT_ERR_CORRUPT;
  if (first < until) {
    core_errf(eb, COHORT_ERR_INVALID, "evidence_max_age may rise only once unbonding_blocks has "
              "been %u for %u blocks (since height %llu: from height %llu), so that no stake "
              "unbonding under an earlier, shorter period is still pending",
              old->unbonding_blocks, old->unbonding_blocks, (unsigned long long)since,
              (unsigned long long)until);
    return 1;
  }
  return 0;
}

/* "pm/" + name: the largest value the parameter has had in force — the
 * value it replaces when never changed before (docs/staking.md §1). A node
 * sizes what it accepts of stored blocks by it (max_block_bytes). */
static int record_max(state_exec *x, const genesis_params *old, const Cohort__ParamChange *c) {
  const genesis_param_info *r = row_of(c->name);
  if (!r) return COHORT_ERR_CORRUPT; /* checked by gov_changes_apply */
  char k[3 + GOV_PARAM_NAME_MAX + 1];
  int kl = snprintf(k, sizeof k, "%s%s", GOV_KEY_MAX, c->name);
  uint8_t *v;
  size_t vl;
  uint64_t m;
  int rc = sx_get(x, (const uint8_t *)k, (size_t)kl, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) {
    m = genesis_param_get(old, r);
  } else if (rc) {
    return rc;
  } else {
    m = vl == 8 ? core_get_u64be(v) : 0;
    free(v);
    if (vl != 8) return COHORT_ERR_CORRUPT;
  }
  if (c->value > m) m = c->value;
  uint8_t b[8];
  core_put_u64be(b, m);
  return sx_put(x, (const uint8_t *)k, (size_t)kl, b, 8);
}

/* One passed change due now: applied, or FAILED with the reason. */
static int apply_one(state_exec *x, Cohort__GovProposal *gp) {
  int rc;
  Cohort__Params *cur = (Cohort__Params *)sx_get_msg(
      x, (const uint8_t *)KEY_PARAMS, strlen(KEY_PARAMS), &cohort__params__descriptor, &rc);
  if (!cur) return rc ? rc : COHORT_ERR_CORRUPT;
  genesis_params g, old;
  genesis_params_from_proto(&g, cur);
  old = g;
  core_errbuf eb;
  uint64_t first;
  int tr = 0;
  if (core_add_u64(&first, x->height, 1)) rc = COHORT_ERR_CORRUPT;
  else if (gov_changes_apply(&g, gp->changes, gp->n_changes, &eb) ||
           (tr = evidence_age_transition(x, &old, &g, first, &eb)) == 1) {
    /* the parameters moved since the vote (another change landed), or a
     * raise of evidence_max_age comes too early */
    gp->status = GOV_ST_FAILED;
    rc = gov_set_str(&gp->failed_reason, eb.msg);
  } else if (tr) {
    rc = tr;
  } else {
    genesis_params_to_proto(&g, cur);
    rc = sx_put_msg(x, (const uint8_t *)KEY_PARAMS, strlen(KEY_PARAMS), &cur->base);
    uint8_t v[8];
    core_put_u64be(v, first);
    for (size_t i = 0; !rc && i < gp->n_changes; i++) {
      char k[3 + GOV_PARAM_NAME_MAX + 1];
      int kl = snprintf(k, sizeof k, "%s%s", GOV_KEY_SINCE, gp->changes[i]->name);
      rc = sx_put(x, (const uint8_t *)k, (size_t)kl, v, 8);
      if (!rc) rc = record_max(x, &old, gp->changes[i]);
    }
    gp->applied_height = first;
  }
  cohort__params__free_unpacked(cur, NULL);
  return rc;
}

typedef struct {
  uint64_t *ids;
  size_t n, cap;
} id_list;

static int collect_id(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  id_list *l = ctx;
  if (kl != GOV_QKEY_LEN) return COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    uint64_t *p = realloc(l->ids, cap * sizeof *p);
    if (!p) return COHORT_ERR_NOMEM;
    l->ids = p;
    l->cap = cap;
  }
  l->ids[l->n++] = core_get_u64be(k + 12);
  return 0;
}

int gov_due(state_exec *x, uint8_t kind, uint64_t h, uint64_t **ids, size_t *n) {
  uint8_t pre[12];
  memcpy(pre, GOV_KEY_QUEUE, 3);
  pre[3] = kind;
  core_put_u64be(pre + 4, h);
  id_list l = {0};
  int rc = sx_scan(x, pre, sizeof pre, collect_id, &l);
  if (rc) {
    free(l.ids);
    l.ids = NULL;
    l.n = 0;
  }
  *ids = l.ids;
  *n = l.n;
  return rc;
}

int gov_apply_due(state_exec *x) {
  uint64_t *ids;
  size_t n;
  int rc = gov_due(x, GQ_APPLY, x->height, &ids, &n);
  for (size_t i = 0; !rc && i < n; i++) {
    Cohort__GovProposal *gp = gov_get(x, ids[i], &rc);
    if (!gp) {
      if (!rc) rc = COHORT_ERR_CORRUPT;
      break;
    }
    if (gp->status != GOV_ST_PASSED || gp->kind != GOV_KIND_PARAMS || gp->applied_height)
      rc = COHORT_ERR_CORRUPT;
    if (!rc) rc = apply_one(x, gp);
    if (!rc) rc = gov_put(x, gp);
    uint8_t k[GOV_QKEY_LEN];
    gov_key_queue(k, GQ_APPLY, x->height, ids[i]);
    if (!rc) rc = sx_del(x, k, sizeof k);
    cohort__gov_proposal__free_unpacked(gp, NULL);
  }
  free(ids);
  return rc;
}
