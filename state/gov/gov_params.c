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
 * executed with the new value.
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

/* One passed change due now: applied, or FAILED with the reason. */
static int apply_one(state_exec *x, Cohort__GovProposal *gp) {
  int rc;
  Cohort__Params *cur = (Cohort__Params *)sx_get_msg(
      x, (const uint8_t *)KEY_PARAMS, strlen(KEY_PARAMS), &cohort__params__descriptor, &rc);
  if (!cur) return rc ? rc : COHORT_ERR_CORRUPT;
  genesis_params g;
  genesis_params_from_proto(&g, cur);
  core_errbuf eb;
  uint64_t first;
  if (core_add_u64(&first, x->height, 1)) rc = COHORT_ERR_CORRUPT;
  else if (gov_changes_apply(&g, gp->changes, gp->n_changes, &eb)) {
    /* the parameters moved since the vote (another change landed) */
    gp->status = GOV_ST_FAILED;
    rc = gov_set_str(&gp->failed_reason, eb.msg);
  } else {
    genesis_params_to_proto(&g, cur);
    rc = sx_put_msg(x, (const uint8_t *)KEY_PARAMS, strlen(KEY_PARAMS), &cur->base);
    uint8_t v[8];
    core_put_u64be(v, first);
    for (size_t i = 0; !rc && i < gp->n_changes; i++) {
      char k[3 + GOV_PARAM_NAME_MAX + 1];
      int kl = snprintf(k, sizeof k, "%s%s", GOV_KEY_SINCE, gp->changes[i]->name);
      rc = sx_put(x, (const uint8_t *)k, (size_t)kl, v, 8);
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
