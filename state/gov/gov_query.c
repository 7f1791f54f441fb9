/* state/gov/gov_query.c — committed reads of governance records, for the
 * RPC (state.h). They read the store only, never the state's cache, so the
 * RPC thread may call them while the node thread commits. */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

int state_get_proposal(state *st, uint64_t id, Cohort__GovProposal **out) {
  *out = NULL;
  uint8_t k[GOV_PKEY_LEN], *v;
  size_t vl;
  gov_key_proposal(k, id);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc) return rc;
  *out = cohort__gov_proposal__unpack(NULL, vl, v);
  free(v);
  return *out ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_gov_next_id(state *st, uint64_t *id) {
  uint8_t *v;
  size_t vl;
  *id = 1;
  int rc = kv_get(st->kv, (const uint8_t *)GOV_KEY_NEXT, strlen(GOV_KEY_NEXT), &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  if (vl == 8) *id = core_get_u64be(v);
  free(v);
  return vl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_gov_tally(state *st, uint64_t id, const Cohort__ValidatorSet *set,
                    const Cohort__Params *p, state_tally *t, uint32_t *status) {
  /* a bare reader: an empty overlay over the committed store */
  state_exec *x = calloc(1, sizeof *x);
  if (!x) return COHORT_ERR_NOMEM;
  x->st = st;
  int rc = gov_tally_compute(x, id, set, t);
  state_exec_free(x);
  if (!rc) *status = gov_tally_outcome(t, p);
  return rc;
}

int state_param_since(state *st, const char *name, uint64_t *height) {
  *height = 0;
  int known = 0;
  for (size_t i = 0; i < genesis_param_count; i++) known |= !strcmp(genesis_param_table[i].name, name);
  if (!known) return COHORT_ERR_NOT_FOUND;
  char k[3 + GOV_PARAM_NAME_MAX + 1];
  size_t kl = strlen(GOV_KEY_SINCE) + strlen(name);
  if (kl >= sizeof k) return COHORT_ERR_NOT_FOUND;
  memcpy(k, GOV_KEY_SINCE, 3);
  memcpy(k + 3, name, kl - 3);
  uint8_t *v;
  size_t vl;
  int rc = kv_get(st->kv, (const uint8_t *)k, kl, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  if (vl == 8) *height = core_get_u64be(v);
  free(v);
  return vl == 8 ? COHORT_OK : COHORT_ERR_CORRUPT;
}

int state_param_max(state *st, const char *name, uint64_t *value) {
  *value = 0;
  const genesis_param_info *row = NULL;
  for (size_t i = 0; i < genesis_param_count; i++)
    if (!strcmp(genesis_param_table[i].name, name)) row = &genesis_param_table[i];
  if (!row || !st->params) return COHORT_ERR_NOT_FOUND;
  char k[3 + GOV_PARAM_NAME_MAX + 1];
  size_t kl = strlen(GOV_KEY_MAX) + strlen(name);
  if (kl >= sizeof k) return COHORT_ERR_NOT_FOUND;
  memcpy(k, GOV_KEY_MAX, 3);
  memcpy(k + 3, name, kl - 3);
  genesis_params g;
  genesis_params_from_proto(&g, st->params);
  uint64_t now = genesis_param_get(&g, row);
  uint8_t *v;
  size_t vl;
  int rc = kv_get(st->kv, (const uint8_t *)k, kl, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) {
    *value = now; /* never changed: its value now is its largest */
    return COHORT_OK;
  }
  if (rc) return rc;
  uint64_t m = vl == 8 ? core_get_u64be(v) : 0;
  free(v);
  if (vl != 8) return COHORT_ERR_CORRUPT;
  *value = m > now ? m : now;
  return COHORT_OK;
}

typedef struct {
  int (*cb)(void *ctx, const uint8_t voter[20], uint32_t option, uint64_t height);
  void *ctx;
  int rc;
} visit_ctx;

static int visit_vote(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  visit_ctx *c = ctx;
  if (kl != GOV_AKEY_LEN) return c->rc = COHORT_ERR_CORRUPT;
  Cohort__GovVote *gv = cohort__gov_vote__unpack(NULL, vl, v);
  if (!gv) return c->rc = COHORT_ERR_CORRUPT;
  int r = c->cb(c->ctx, k + 11, gv->option, gv->height);
  cohort__gov_vote__free_unpacked(gv, NULL);
  return r;
}

int state_gov_votes(state *st, uint64_t id,
                    int (*cb)(void *ctx, const uint8_t voter[20], uint32_t option, uint64_t height),
                    void *ctx) {
  uint8_t pre[11];
  memcpy(pre, GOV_KEY_VOTE, 3);
  core_put_u64be(pre + 3, id);
  visit_ctx c = {cb, ctx, COHORT_OK};
  int rc = kv_scan(st->kv, pre, sizeof pre, visit_vote, &c);
  return c.rc ? c.rc : rc;
}

int state_gov_deposit(state *st, uint64_t id, const uint8_t who[20], uint64_t *stk) {
  uint8_t k[GOV_AKEY_LEN], *v;
  size_t vl;
  uint64_t c;
  *stk = 0;
  gov_key_account(k, GOV_KEY_DEPOSIT, id, who);
  int rc = kv_get(st->kv, k, sizeof k, &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return COHORT_OK;
  if (rc) return rc;
  rc = state_decode_account(v, vl, &c, stk, NULL);
  free(v);
  return rc;
}

typedef struct {
  int (*cb)(void *ctx, const uint8_t who[20], uint64_t stk);
  void *ctx;
  int rc;
} dep_ctx;

static int visit_dep(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  dep_ctx *c = ctx;
  uint64_t crd, stk;
  if (kl != GOV_AKEY_LEN || state_decode_account(v, vl, &crd, &stk, NULL))
    return c->rc = COHORT_ERR_CORRUPT;
  return c->cb(c->ctx, k + 11, stk);
}

int state_gov_deposits(state *st, uint64_t id,
                       int (*cb)(void *ctx, const uint8_t who[20], uint64_t stk), void *ctx) {
  uint8_t pre[11];
  memcpy(pre, GOV_KEY_DEPOSIT, 3);
  core_put_u64be(pre + 3, id);
  dep_ctx c = {cb, ctx, COHORT_OK};
  int rc = kv_scan(st->kv, pre, sizeof pre, visit_dep, &c);
  return c.rc ? c.rc : rc;
}

void state_exec_changed_proposals(const state_exec *x, void (*cb)(void *ctx, uint64_t id),
                                  void *ctx) {
  for (const ov_node *e = ov_seek(&x->ov, (const uint8_t *)GOV_KEY_PROPOSAL, 3); e; e = ov_next(e)) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    if (kl < 3 || memcmp(k, GOV_KEY_PROPOSAL, 3)) break;
    if (kl == GOV_PKEY_LEN && v) cb(ctx, core_get_u64be(k + 3));
  }
}
