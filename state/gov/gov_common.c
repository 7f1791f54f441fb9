/* state/gov/gov_common.c — governance keys, records and the steps every
 * transition shares: starting a vote, settling deposits. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/gov/gov_int.h"

void gov_key_proposal(uint8_t k[GOV_PKEY_LEN], uint64_t id) {
  memcpy(k, GOV_KEY_PROPOSAL, 3);
  core_put_u64be(k + 3, id);
}

void gov_key_account(uint8_t k[GOV_AKEY_LEN], const char *prefix, uint64_t id,
                     const uint8_t who[20]) {
  memcpy(k, prefix, 3);
  core_put_u64be(k + 3, id);
  memcpy(k + 11, who, 20);
}

void gov_key_queue(uint8_t k[GOV_QKEY_LEN], uint8_t kind, uint64_t h, uint64_t id) {
  memcpy(k, GOV_KEY_QUEUE, 3);
  k[3] = kind;
  core_put_u64be(k + 4, h);
  core_put_u64be(k + 12, id);
}

int gov_fail(state_tx_result *res, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->log, sizeof res->log, fmt, ap);
  va_end(ap);
  res->code = code;
  return COHORT_OK; /* a failed message, not a failed block */
}

Cohort__GovProposal *gov_get(state_exec *x, uint64_t id, int *rc) {
  uint8_t k[GOV_PKEY_LEN];
  gov_key_proposal(k, id);
  return (Cohort__GovProposal *)sx_get_msg(x, k, sizeof k, &cohort__gov_proposal__descriptor, rc);
}

int gov_put(state_exec *x, const Cohort__GovProposal *p) {
  uint8_t k[GOV_PKEY_LEN];
  gov_key_proposal(k, p->id);
  return sx_put_msg(x, k, sizeof k, &p->base);
}

int gov_set_str(char **dst, const char *s) {
  char *c = strdup(s);
  if (!c) return COHORT_ERR_NOMEM;
  if (*dst && *dst != protobuf_c_empty_string) free(*dst);
  *dst = c;
  return COHORT_OK;
}

int gov_start_voting(state_exec *x, Cohort__GovProposal *p, int queued) {
  const Cohort__Params *par = x->st->params;
  uint8_t k[GOV_QKEY_LEN];
  int rc;
  if (queued) {
    gov_key_queue(k, GQ_DEPOSIT, p->deposit_end, p->id);
    if ((rc = sx_del(x, k, sizeof k))) return rc;
  }
  uint64_t end;
  if (core_add_u64(&end, x->height, par->gov_voting_blocks)) return COHORT_ERR_CORRUPT;
  p->status = GOV_ST_VOTING;
  p->voting_start = x->height;
  p->voting_end = end;
  gov_key_queue(k, GQ_VOTING, end, p->id);
  return sx_put(x, k, sizeof k, NULL, 0);
}

/* ---- the ends of periods, per block ---- */

typedef struct {
  uint32_t n, cap;
} end_count;

static int count_end(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)v, (void)vl;
  end_count *c = ctx;
  if (kl != GOV_QKEY_LEN) return COHORT_ERR_CORRUPT;
  return ++c->n >= c->cap; /* stop at the cap: nothing more to learn */
}

int gov_end_has_room(state_exec *x, uint64_t h, uint32_t *n) {
  end_count c = {0, x->st->params->gov_max_ends_per_block};
  for (uint8_t kind = GQ_DEPOSIT; kind <= GQ_VOTING && c.n < c.cap; kind++) {
    uint8_t pre[12];
    memcpy(pre, GOV_KEY_QUEUE, 3);
    pre[3] = kind;
    core_put_u64be(pre + 4, h);
    int rc = sx_scan(x, pre, sizeof pre, count_end, &c);
    if (rc < 0) return rc;
  }
  if (n) *n = c.n;
  return c.n < c.cap;
}

/* ---- deposits ---- */

typedef struct {
  uint8_t (*who)[20];
  uint64_t *amt;
  size_t n, cap;
  int rc;
} dep_list;

static int collect_dep(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  dep_list *l = ctx;
  if (kl != GOV_AKEY_LEN) return l->rc = COHORT_ERR_CORRUPT;
  uint64_t c, s;
  if (state_decode_account(v, vl, &c, &s, NULL)) return l->rc = COHORT_ERR_CORRUPT;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *w = realloc(l->who, cap * 20), *a = w ? realloc(l->amt, cap * sizeof *l->amt) : NULL;
    if (w) l->who = w;
    if (!w || !a) return l->rc = COHORT_ERR_NOMEM;
    l->amt = a;
    l->cap = cap;
  }
  memcpy(l->who[l->n], k + 11, 20);
  l->amt[l->n++] = s;
  return 0;
}

int gov_settle_deposits(state_exec *x, uint64_t id, int burn) {
  uint8_t pre[11];
  memcpy(pre, GOV_KEY_DEPOSIT, 3);
  core_put_u64be(pre + 3, id);
  dep_list l = {0};
  int rc = sx_scan(x, pre, sizeof pre, collect_dep, &l);
  if (!rc) rc = l.rc;
  uint64_t burned = 0;
  for (size_t i = 0; !rc && i < l.n; i++) {
    uint8_t k[GOV_AKEY_LEN];
    gov_key_account(k, GOV_KEY_DEPOSIT, id, l.who[i]);
    if (burn) rc = core_add_u64(&burned, burned, l.amt[i]) ? COHORT_ERR_CORRUPT : COHORT_OK;
    else rc = bank_from_pool(x, BANK_POOL_GOV, l.who[i], BANK_STK, l.amt[i]);
    if (!rc) rc = sx_del(x, k, sizeof k);
  }
  if (!rc && burned) rc = bank_pool_burn(x, BANK_POOL_GOV, BANK_STK, burned);
  free(l.who);
  free(l.amt);
  /* balances hold at most the supply: a refund cannot overflow one in a
   * state that keeps the supply rule */
  return rc == COHORT_ERR_OVERFLOW ? COHORT_ERR_CORRUPT : rc;
}

/* ---- delegations ---- */

static int stop_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)ctx, (void)k, (void)v, (void)vl;
  return kl == 43 ? 1 : COHORT_ERR_CORRUPT;
}

int gov_has_delegation(state_exec *x, const uint8_t who[20]) {
  uint8_t pre[23];
  memcpy(pre, GOV_KEY_DELEGATION, 3);
  memcpy(pre + 3, who, 20);
  int rc = sx_scan(x, pre, sizeof pre, stop_first, NULL);
  return rc == 1 ? 1 : rc;
}
