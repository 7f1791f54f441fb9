/* state/staking/staking_downtime.c — downtime (docs/staking.md §3): the
 * signatures of block H's last commit, counted over a sliding window of
 * signed_blocks_window heights per validator, and the jail with a small
 * slash for a validator that signs too little of it.
 *
 * Bits: ValidatorInfo.missed holds ceil(W / 8) bytes, bit i of the window
 * is bit (i mod 8) of byte i / 8 (least significant first), i = h mod W
 * for the signature of height h; all clear is stored as empty bytes (and
 * so is a window whose size changed: it starts again). Only a validator
 * whose bit or count changes is written, so a block where everyone
 * signed writes nothing here. Jailed and tombstoned members of V_{H-1}
 * (they leave the set two blocks after their jail) are not counted.
 *
 * A governance change of signed_blocks_window (in force from height a,
 * recorded as "ps/signed_blocks_window" = a) restarts every count: bits
 * set under the old window mean other heights, so nobody is jailed before
 * a whole new window has been counted since a (by then every bit was
 * written again), the count is the bits below W, and bits at W or above
 * (a window of the same byte length) are cleared.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "state/staking/staking.h"

#define KEY_WINDOW_SINCE "ps/signed_blocks_window"

static uint32_t count_bits(const uint8_t *b, size_t len) {
  uint32_t n = 0;
  for (size_t i = 0; i < len; i++) n += (uint32_t)__builtin_popcount(b[i]);
  return n;
}

int sk_end_downtime(state_exec *x) {
  if (x->height < 2) return COHORT_OK;
  const Cohort__Params *p = x->st->params;
  const Cohort__ValidatorSet *vs = state_last_validators(x->st); /* V_{H-1} signed H-1 */
  if (x->lc_known && x->lc_n != vs->n_validators) return COHORT_ERR_CORRUPT;
  uint64_t W = p->signed_blocks_window, h = x->height - 1, i = h % W;
  size_t len = (size_t)((W + 7) / 8);
  if (W < 1 || len > SK_MISSED_MAX) return COHORT_ERR_CORRUPT; /* params bounds */
  uint64_t need = (W * p->min_signed_bps + 9999) / 10000, limit = W - need;
  uint64_t wsince = 0; /* the height the window's size took effect (0: genesis) */
  {
    uint8_t *wv;
    size_t wl;
    int rc = sx_get(x, (const uint8_t *)KEY_WINDOW_SINCE, strlen(KEY_WINDOW_SINCE), &wv, &wl);
    if (rc == COHORT_OK) {
      if (wl == 8) wsince = core_get_u64be(wv);
      free(wv);
      if (wl != 8) return COHORT_ERR_CORRUPT;
    } else if (rc != COHORT_ERR_NOT_FOUND) {
      return rc;
    }
  }
  for (size_t j = 0; j < vs->n_validators; j++) {
    const Cohort__Validator *sv = vs->validators[j];
    int missed = x->lc_known && !x->lc_signed[j];
    if (sv->operator_.len != 20) return COHORT_ERR_CORRUPT;
    sk_validator v;
    int rc = sk_validator_load(x, sv->operator_.data, &v);
    if (rc) return rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc;
    if (v.jailed_until || v.tombstoned) continue;
    int changed = 0;
    if (v.missed_len && v.missed_len != len) { /* the window was resized */
      v.missed_len = 0;
      v.missed_count = 0;
      changed = 1;
    }
    int old = v.missed_len ? (v.missed[i / 8] >> (i % 8)) & 1 : 0;
    if (old != missed) {
      if (!v.missed_len) {
        memset(v.missed, 0, len);
        v.missed_len = len;
      }
      if (missed) {
        v.missed[i / 8] |= (uint8_t)(1u << (i % 8));
        v.missed_count++;
      } else {
        v.missed[i / 8] &= (uint8_t)~(1u << (i % 8));
        v.missed_count--;
      }
      if (v.missed_count == 0) v.missed_len = 0;
      changed = 1;
    }
    if (v.missed_len && (W % 8)) { /* bits at W or above: a shrunk window's leftovers */
      uint8_t keep = (uint8_t)((1u << (W % 8)) - 1);
      if (v.missed[len - 1] & (uint8_t)~keep) {
        v.missed[len - 1] &= keep;
        changed = 1;
      }
    }
    if (v.missed_len) {
      uint32_t c = count_bits(v.missed, len);
      if (c != v.missed_count) {
        v.missed_count = c;
        changed = 1;
      }
      if (c == 0) v.missed_len = 0;
    }
    uint64_t start = v.signing_since > wsince ? v.signing_since : wsince;
    uint64_t full = start + W < start ? UINT64_MAX : start + W;
    if (h >= full && v.missed_count > limit) {
      if ((rc = sk_slash(x, &v, h, p->slash_downtime_bps, NULL))) return rc;
      uint64_t until = x->height + p->downtime_jail_blocks;
      sk_jail(&v, until < x->height ? UINT64_MAX : until);
      v.missed_len = 0; /* one jail per outage: the count starts again */
      v.missed_count = 0;
      changed = 1;
    }
    if (changed && (rc = sk_validator_save(x, &v))) return rc;
  }
  return COHORT_OK;
}
