/* libFuzzer: staking, distribution and punishment, stateful
 * (docs/staking.md). Each input is a workload on a fresh four-validator
 * chain (tests/unit/state/staking_fixture.h): the bytes choose, block by
 * block, the messages (delegate, undelegate, redelegate, withdraw,
 * create-validator, edit, unjail, transfers for fees), a double sign to
 * prove, and which keys are down. Every block is replayed into a twin
 * store (same app_hash) and state_audit checks, after each one, both
 * tokens' conservation, shares, s/rewards >= what is withdrawable, the
 * power index and every index key; at the end everyone withdraws and the
 * dust left in s/rewards must stay within §4's bound. A violation aborts.
 *
 * Input format: a stream of bytes read in order (0 once it runs out):
 *   per block: n = byte % 8 txs, each [kind user validator other amt_hi
 *   amt_lo], kind % 11 as in the property test of test_staking.c; then
 *   byte % 9 == 0: evidence [key age]; then byte: the down-key mask. */
#include <stdint.h>

#include "tests/unit/state/staking_fixture.h"

typedef struct {
  const uint8_t *p;
  size_t n, i;
} src;

static unsigned next(src *s) { return s->i < s->n ? s->p[s->i++] : 0; }

static uint64_t safe_value(sfx *f, int del, int op) {
  Cohort__ValidatorInfo *v;
  if (state_get_validator_info(f->st, f->uid[op], &v)) return 0;
  cohort__validator_info__free_unpacked(v, NULL);
  return sf_value(f, del, op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) {
    core_init();
    init = 1;
  }
  static const uint64_t pow[4] = {4000, 3000, 2000, 1000};
  sfx f;
  sf_init(&f, SF_PARAMS, pow);
  src s = {data, size, 0};
  int created[SF_NU] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  uint64_t n_tx = 0, dist = 0;
  for (int bi = 0; bi < 40 && s.i < s.n; bi++) {
    uint8_t *txs[8];
    size_t lens[8], n = next(&s) % 8;
    for (size_t i = 0; i < n; i++) {
      unsigned kind = next(&s) % 11;
      int u = (int)(next(&s) % SF_NU), v = (int)(next(&s) % 8), w = (int)(next(&s) % 8);
      uint64_t hi = next(&s), lo = next(&s);
      uint64_t amt = 1 + (hi << 8 | lo) * (kind % 2 ? 1 : 7);
      switch (kind) {
        case 0:
        case 1:
          txs[i] = sf_delegate(&f, u, f.uid[v], amt, &lens[i]);
          break;
        case 2:
        case 3: {
          uint64_t val = safe_value(&f, u, v);
          txs[i] = sf_undelegate(&f, u, f.uid[v], val && amt % 3 == 0 ? val : amt, &lens[i]);
          break;
        }
        case 4:
          txs[i] = sf_redelegate(&f, u, f.uid[v], f.uid[w == v ? (w + 1) % 8 : w], amt, &lens[i]);
          break;
        case 5:
          txs[i] = sf_withdraw(&f, u, amt % 2 ? f.uid[v] : NULL, &lens[i]);
          break;
        case 6:
          if (u >= 4 && u < 8 && !created[u]) {
            txs[i] = sf_create(&f, u, u, 500 + amt, (uint32_t)(amt % 2000), 3000, 400, &lens[i]);
            created[u] = 1;
          } else {
            txs[i] = sf_commission(&f, u, (uint32_t)(amt % 3000), &lens[i]);
          }
          break;
        case 7:
          txs[i] = sf_unjail(&f, u, &lens[i]);
          break;
        default:
          txs[i] = sf_transfer(&f, u, w % SF_NU, 1 + amt % 1000, 10 + amt % 400, &lens[i]);
      }
    }
    ProtobufCBinaryData ev[1];
    size_t nev = 0;
    if (next(&s) % 9 == 0 && state_height(f.st) > 2) {
      int k = (int)(next(&s) % SF_NK);
      uint64_t e = state_height(f.st) - next(&s) % 3;
      ev[0] = sf_evidence(&f, k, e);
      core_errbuf eb;
      if (state_check_evidence(f.st, ev[0].data, ev[0].len, &eb) == 0) nev = 1;
      else free(ev[0].data);
    }
    uint32_t out = next(&s);
    const Cohort__ValidatorSet *vs = state_validators(f.st);
    unsigned __int128 tot = 0, up = 0;
    for (size_t i = 0; i < vs->n_validators; i++) {
      int k = sf_key_of(&f, vs->validators[i]->pubkey.data);
      tot += vs->validators[i]->power;
      if (!(out >> k & 1)) up += vs->validators[i]->power;
    }
    if (up * 3 <= tot * 2) out = 0;
    uint64_t r0 = sf_audit(&f).rewards;
    sf_block(&f, txs, lens, n, ev, nev, out, NULL);
    if (nev) free(ev[0].data);
    n_tx += n;
    if (sf_audit(&f).rewards > r0) dist++;
    for (int u = 4; u < 8; u++) {
      Cohort__ValidatorInfo *vi;
      if (created[u] && state_get_validator_info(f.st, f.uid[u], &vi)) created[u] = 0;
      else if (created[u]) cohort__validator_info__free_unpacked(vi, NULL);
    }
  }
  uint8_t *txs[SF_NU];
  size_t lens[SF_NU];
  for (int u = 0; u < SF_NU; u++) txs[u] = sf_withdraw(&f, u, NULL, &lens[u]);
  state_tx_result res[SF_NU];
  sf_block(&f, txs, lens, SF_NU, NULL, 0, 0, res);
  state_audit_report fin = sf_audit(&f);
  for (int u = 0; u < SF_NU; u++)
    if (res[u].code) {
      fprintf(stderr, "fuzz_staking: the final withdrawal of %d failed: %s\n", u, res[u].log);
      abort();
    }
  if (fin.rewards - fin.withdrawable > 2 * (dist + 1) * SF_NK + 3 * n_tx + 2 * SF_NU) {
    fprintf(stderr, "fuzz_staking: %llu base units of dust in s/rewards, beyond the bound\n",
            (unsigned long long)(fin.rewards - fin.withdrawable));
    abort();
  }
  sf_free(&f);
  return 0;
}
