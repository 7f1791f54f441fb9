/* Unit tests for the signer: never two different signatures for one
 * (height, round, step), also across a reopen (the state is on disk before
 * a signature is returned); the same vote again gets the same signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/privval.h"
#include "core/hash.h"
#include "core/keys.h"

static char dir[64], keyp[128], statep[128];

static void setup_files(void) {
  strcpy(dir, "/tmp/cohort_pv_XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(keyp, sizeof keyp, "%s/key.json", dir);
  snprintf(statep, sizeof statep, "%s/state.json", dir);
  core_key k;
  core_errbuf eb;
  assert_int_equal(core_key_generate(&k, 1), 0);
  assert_int_equal(core_keyfile_write(keyp, &k, &eb), 0);
}

static void test_refuses_conflicts_across_reopen(void **s) {
  (void)s;
  setup_files();
  privval *pv;
  core_errbuf eb;
  uint8_t sig[64], sig2[64];
  assert_int_equal(privval_open(&pv, keyp, statep, &eb), 0);
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"A", 1, sig, &eb), 0);
  assert_int_equal(core_ed25519_verify(sig, (const uint8_t *)"A", 1, privval_pubkey(pv)), 0);
  /* same vote again: same signature */
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"A", 1, sig2, &eb), 0);
  assert_memory_equal(sig, sig2, 64);
  /* a different vote at the same point, or anything earlier: refused */
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"B", 1, sig2, &eb),
                   COHORT_ERR_DOUBLE_SIGN);
  assert_non_null(strstr(eb.msg, "already signed"));
  assert_int_equal(privval_sign(pv, 4, 9, PRIVVAL_STEP_PRECOMMIT, (const uint8_t *)"C", 1, sig2, &eb),
                   COHORT_ERR_DOUBLE_SIGN);
  privval_close(pv);
  /* after a "crash" (no clean shutdown needed: the state was synced) */
  assert_int_equal(privval_open(&pv, keyp, statep, &eb), 0);
  uint64_t h;
  uint32_t r;
  int st;
  privval_last(pv, &h, &r, &st);
  assert_int_equal(h, 5);
  assert_int_equal(st, PRIVVAL_STEP_PREVOTE);
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"B", 1, sig2, &eb),
                   COHORT_ERR_DOUBLE_SIGN);
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"A", 1, sig2, &eb), 0);
  assert_memory_equal(sig, sig2, 64);
  /* moving forward is fine */
  assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PRECOMMIT, (const uint8_t *)"A", 1, sig2, &eb), 0);
  assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"D", 1, sig2, &eb), 0);
  privval_close(pv);
}

/* Proposals are signed with the same rule: step 1 (proposal) comes before
 * the prevote (2) and precommit (3) of the same round. */
static void test_proposal_step(void **s) {
  (void)s;
  privval *pv;
  core_errbuf eb;
  uint8_t sig[64], sig2[64];
  assert_int_equal(privval_open(&pv, keyp, statep, &eb), 0);
  assert_int_equal(privval_sign(pv, 9, 2, PRIVVAL_STEP_PROPOSAL, (const uint8_t *)"P", 1, sig, &eb), 0);
  assert_int_equal(privval_sign(pv, 9, 2, PRIVVAL_STEP_PROPOSAL, (const uint8_t *)"P", 1, sig2, &eb), 0);
  assert_memory_equal(sig, sig2, 64);
  assert_int_equal(privval_sign(pv, 9, 2, PRIVVAL_STEP_PROPOSAL, (const uint8_t *)"Q", 1, sig2, &eb),
                   COHORT_ERR_DOUBLE_SIGN);
  assert_int_equal(privval_sign(pv, 9, 2, PRIVVAL_STEP_PREVOTE, (const uint8_t *)"V", 1, sig2, &eb), 0);
  /* after the prevote, even the same proposal is not signed again */
  assert_int_equal(privval_sign(pv, 9, 2, PRIVVAL_STEP_PROPOSAL, (const uint8_t *)"P", 1, sig2, &eb),
                   COHORT_ERR_DOUBLE_SIGN);
  privval_close(pv);
}

static void test_corrupt_state_refuses_to_start(void **s) {
  (void)s;
  FILE *f = fopen(statep, "w");
  fputs("{\"height\": \"5\", \"round\": ", f);
  fclose(f);
  privval *pv;
  core_errbuf eb;
  assert_int_equal(privval_open(&pv, keyp, statep, &eb), COHORT_ERR_CORRUPT);
  assert_non_null(strstr(eb.msg, "refusing to sign"));
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_refuses_conflicts_across_reopen),
                                     cmocka_unit_test(test_proposal_step),
                                     cmocka_unit_test(test_corrupt_state_refuses_to_start)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
