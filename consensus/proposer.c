/* consensus/proposer.c — CometBFT-style proposer priorities (the algorithm
 * is stated in proposer.h; this file follows it line by line). */
#include "consensus/proposer.h"

#include <string.h>

int cons_prio_genesis(cons_prio *p, const Cohort__ValidatorSet *vs) {
  memset(p, 0, sizeof *p);
  if (!vs || vs->n_validators == 0 || vs->n_validators > CONS_MAX_VALIDATORS)
    return COHORT_ERR_INVALID;
  p->n = vs->n_validators;
  for (size_t i = 0; i < p->n; i++) {
    const Cohort__Validator *v = vs->validators[i];
    if (v->pubkey.len != 32 || v->power == 0) return COHORT_ERR_INVALID;
    memcpy(p->key[i], v->pubkey.data, 32);
    for (size_t j = 0; j < i; j++)
      if (!memcmp(p->key[j], p->key[i], 32)) return COHORT_ERR_INVALID;
    p->power[i] = v->power;
    p->total += v->power;
  }
  cons_prio_increment(p, 1);
  return COHORT_OK;
}

size_t cons_prio_step(cons_prio *p) {
  size_t best = 0;
  for (size_t i = 0; i < p->n; i++) {
    p->prio[i] += p->power[i];
    if (i && (p->prio[i] > p->prio[best] ||
              (p->prio[i] == p->prio[best] && memcmp(p->key[i], p->key[best], 32) < 0)))
      best = i;
  }
  p->prio[best] -= p->total;
  p->proposer = best;
  return best;
}

static cons_i128 floor_div(cons_i128 a, cons_i128 b) { /* b > 0 */
  cons_i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* rescale (window 2T) and center (floor average): the first half of
 * increment, and the end of update. */
static void rescale_center(cons_prio *p) {
  cons_i128 mx = p->prio[0], mn = p->prio[0], sum = 0, window = 2 * p->total;
  for (size_t i = 0; i < p->n; i++) {
    if (p->prio[i] > mx) mx = p->prio[i];
    if (p->prio[i] < mn) mn = p->prio[i];
  }
  cons_i128 diff = mx - mn;
  if (diff > window) {
    cons_i128 ratio = (diff + window - 1) / window;
    for (size_t i = 0; i < p->n; i++) p->prio[i] /= ratio;
  }
  for (size_t i = 0; i < p->n; i++) sum += p->prio[i];
  cons_i128 avg = floor_div(sum, (cons_i128)p->n);
  for (size_t i = 0; i < p->n; i++) p->prio[i] -= avg;
}

void cons_prio_increment(cons_prio *p, uint64_t times) {
  if (!times || !p->n) return;
  rescale_center(p);
  for (uint64_t t = 0; t < times; t++) cons_prio_step(p);
}

static int find(const cons_prio *p, const uint8_t key[32], size_t *at) {
  for (size_t i = 0; i < p->n; i++)
    if (!memcmp(p->key[i], key, 32)) {
      *at = i;
      return 1;
    }
  return 0;
}

int cons_prio_update(cons_prio *p, const Cohort__ValidatorSet *vs) {
  if (!vs || vs->n_validators == 0 || vs->n_validators > CONS_MAX_VALIDATORS)
    return COHORT_ERR_INVALID;
  size_t n = vs->n_validators, at;
  int same = n == p->n;
  cons_i128 total = 0;
  for (size_t i = 0; i < n; i++) {
    const Cohort__Validator *v = vs->validators[i];
    if (v->pubkey.len != 32 || v->power == 0) return COHORT_ERR_INVALID;
    for (size_t j = 0; j < i; j++)
      if (!memcmp(vs->validators[j]->pubkey.data, v->pubkey.data, 32)) return COHORT_ERR_INVALID;
    if (same && (!find(p, v->pubkey.data, &at) || p->power[at] != v->power)) same = 0;
    total += v->power;
  }
  if (same) return COHORT_OK; /* CometBFT: an empty change set changes nothing */
  /* R: the old power of the removed validators; T' = total(new) + R is
   * CometBFT's "total after updates, before removals". */
  cons_i128 removed = 0;
  for (size_t i = 0; i < p->n; i++) {
    int kept = 0;
    for (size_t j = 0; j < n && !kept; j++)
      kept = !memcmp(p->key[i], vs->validators[j]->pubkey.data, 32);
    if (!kept) removed += p->power[i];
  }
  cons_i128 tp = total + removed, fresh = -(tp + tp / 8);
  cons_prio q;
  memset(&q, 0, sizeof q);
  q.n = n;
  q.total = total;
  for (size_t i = 0; i < n; i++) {
    const Cohort__Validator *v = vs->validators[i];
    memcpy(q.key[i], v->pubkey.data, 32);
    q.power[i] = v->power;
    q.prio[i] = find(p, v->pubkey.data, &at) ? p->prio[at] : fresh;
  }
  rescale_center(&q);
  *p = q;
  return COHORT_OK;
}

void cons_prio_next_height(cons_prio *p) { cons_prio_increment(p, 1); }

size_t cons_prio_proposer(const cons_prio *s_h, uint32_t round) {
  if (round == 0) return s_h->proposer;
  cons_prio c = *s_h;
  cons_prio_increment(&c, round);
  return c.proposer;
}
