/* libFuzzer: one evidence item (serialized DuplicateVoteEvidence), decoded
 * and then checked by the state as an evidence pool does
 * (state_check_evidence). The chain is at height 2 and its validator's key
 * is public (seed 01 00..), so the seeds of tests/fuzz/gen_evidence_corpus.py
 * reach the signature checks and pass them. Must never crash; an item the
 * decoder accepts re-encodes to the very same bytes (one encoding per pair
 * of votes); the state never accepts what the decoder refuses; and with
 * memory to spare the state never reports a fatal error. */
#include "fuzz_state_fixture.h"
#include "proto/block.h"

static state *chain(void) {
  static kv_store *kv;
  static state *st;
  if (st) return st;
  st = fuzz_state(&kv);
  uint8_t vsec[64], vpub[32], seed[32] = {1};
  core_ed25519_from_seed(vsec, vpub, seed);
  for (uint64_t h = 1; h <= 2; h++) {
    state_exec *x;
    core_errbuf eb;
    uint8_t hash[32] = {(uint8_t)h}, app[32];
    if (state_exec_begin(st, h, state_last_time_ms(st) + 1, vpub, &x, &eb) ||
        state_exec_finish(x, app) ||
        state_commit(st, x, (const uint8_t *)"b", 1, hash, (const uint8_t *)"c", 1, NULL, NULL,
                     &eb))
      abort();
    state_exec_free(x);
  }
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  state *st = chain();
  evidence_t e;
  core_errbuf eb;
  int drc = evidence_decode(&e, data, size, &eb);
  if (drc == COHORT_OK) {
    uint8_t a[VOTE_MAX_BYTES], b[VOTE_MAX_BYTES], *out;
    if (cohort__vote__get_packed_size(e.a) > sizeof a ||
        cohort__vote__get_packed_size(e.b) > sizeof b)
      abort();
    size_t la = cohort__vote__pack(e.a, a), lb = cohort__vote__pack(e.b, b), ol;
    if (evidence_encode(&out, &ol, b, lb, a, la, &eb) || ol != size || memcmp(out, data, size))
      abort();
    free(out);
    evidence_free(&e);
  }
  int rc = state_check_evidence(st, data, size, &eb);
  if (drc && rc == COHORT_OK) abort();
  if (core_err_is_fatal(rc)) abort();
  return 0;
}
