/* Unit tests for the beacon hash chain: each reveal is the preimage of the
 * previous commitment, also after reopening (the position is searched), and
 * the chain refuses tips that are not its links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "node/beacon.h"

static void test_reveals_walk_back_the_chain(void **s) {
  (void)s;
  char dir[] = "/tmp/cohort_beacon_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/seed.json", dir);
  uint8_t commit[32], tip[32], r[32], h[32];
  core_errbuf eb;
  assert_int_equal(beacon_chain_create(path, commit, &eb), 0);
  assert_int_equal(beacon_chain_create(path, commit, &eb), COHORT_ERR_DUPLICATE); /* never overwrites */
  beacon_chain *bc;
  assert_int_equal(beacon_chain_open(&bc, path, &eb), 0);
  memcpy(tip, commit, 32);
  for (int i = 0; i < 2100; i++) { /* crosses two checkpoint strides */
    assert_int_equal(beacon_chain_reveal(bc, tip, r), 0);
    core_sha256(h, r, 32);
    assert_memory_equal(h, tip, 32);
    memcpy(tip, r, 32);
  }
  beacon_chain_close(bc);
  /* after a restart the position is found again */
  assert_int_equal(beacon_chain_open(&bc, path, &eb), 0);
  assert_int_equal(beacon_chain_reveal(bc, tip, r), 0);
  core_sha256(h, r, 32);
  assert_memory_equal(h, tip, 32);
  uint8_t other[32] = {1};
  assert_int_equal(beacon_chain_reveal(bc, other, r), COHORT_ERR_NOT_FOUND);
  beacon_chain_close(bc);
  unlink(path);
  rmdir(dir);
}

/* A chain of 2048 links with a margin of 100: near its end the keeper makes
 * the next chain and asks to re-commit; once the new tip is "on chain" the
 * reveals come from the new chain and the files rotate; a reopened keeper
 * (after a crash) still answers whichever tip is on chain. The chain never
 * freezes, which made every later draw predictable before. */
static void test_keeper_recommits_before_the_end(void **s) {
  (void)s;
  char dir[] = "/tmp/cohort_keeper_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], next[160];
  snprintf(path, sizeof path, "%s/seed.json", dir);
  snprintf(next, sizeof next, "%s.next", path);
  uint8_t tip[32], r[32], h[32], nt[32];
  core_errbuf eb;
  assert_int_equal(beacon_chain_create_len(path, 2048, tip, &eb), 0);
  beacon_keeper *k;
  assert_int_equal(beacon_keeper_open(&k, path, 100, &eb), 0);
  int recommitted = 0, rotated = 0;
  for (int i = 0; i < 5000; i++) {
    int rec;
    if (i == 3000) { /* a crash and restart in the middle of the second chain */
      beacon_keeper_close(k);
      assert_int_equal(beacon_keeper_open(&k, path, 100, &eb), 0);
    }
    int had_next = access(next, F_OK) == 0;
    assert_int_equal(beacon_keeper_reveal(k, tip, r, nt, &rec, &eb), 0);
    core_sha256(h, r, 32);
    assert_memory_equal(h, tip, 32); /* always the preimage of what is on chain */
    if (had_next && access(next, F_OK) != 0) rotated++;
    if (rec) {
      recommitted++;
      memcpy(tip, nt, 32); /* the header re-commits: the chain's tip is the new chain's */
    } else {
      memcpy(tip, r, 32);
    }
  }
  assert_int_equal(recommitted, 1);
  assert_int_equal(rotated, 1);
  beacon_keeper_close(k);
  unlink(path);
  unlink(next);
  rmdir(dir);
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reveals_walk_back_the_chain),
                                     cmocka_unit_test(test_keeper_recommits_before_the_end)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
