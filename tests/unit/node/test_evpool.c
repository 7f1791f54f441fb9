/* Unit tests for the evidence pool: one item per offender (a newer height
 * replaces an older one, an older or equal one is refused as known), the
 * bounds, pruning keeps order, candidates in arrival order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "node/evpool.h"

static void key(uint8_t k[32], int i) { memset(k, i, 32); }

static void test_one_item_per_offender(void **s) {
  (void)s;
  evpool *p = malloc(sizeof *p);
  evpool_init(p);
  uint8_t k1[32], k2[32];
  key(k1, 1);
  key(k2, 2);
  const uint8_t a[] = "item-a", b[] = "item-b", c[] = "item-c";
  assert_int_equal(evpool_add(p, k1, 10, a, sizeof a), 1);
  assert_int_equal(evpool_add(p, k1, 10, b, sizeof b), 0); /* same height: known */
  assert_int_equal(evpool_add(p, k1, 9, b, sizeof b), 0);  /* older: useless */
  assert_int_equal(evpool_add(p, k2, 5, b, sizeof b), 1);
  assert_int_equal(evpool_add(p, k1, 12, c, sizeof c), 1); /* newer replaces, in place */
  assert_int_equal(p->n, 2);
  ProtobufCBinaryData cand[EVPOOL_MAX];
  assert_int_equal(evpool_candidates(p, cand), 2);
  assert_memory_equal(cand[0].data, c, sizeof c);
  assert_memory_equal(cand[1].data, b, sizeof b);
  evpool_free(p);
  free(p);
}

static void test_bounds(void **s) {
  (void)s;
  evpool *p = malloc(sizeof *p);
  evpool_init(p);
  uint8_t k[32] = {0}, big[EVPOOL_ITEM_MAX + 1] = {0};
  assert_int_equal(evpool_add(p, k, 1, big, sizeof big), COHORT_ERR_TOO_LARGE);
  assert_int_equal(evpool_add(p, k, 1, big, 0), COHORT_ERR_TOO_LARGE);
  for (int i = 0; i < EVPOOL_MAX; i++) {
    k[0] = (uint8_t)i;
    k[1] = (uint8_t)(i >> 8);
    assert_int_equal(evpool_add(p, k, 1, big, 16), 1);
  }
  k[2] = 1;
  assert_int_equal(evpool_add(p, k, 1, big, 16), COHORT_ERR_TOO_LARGE); /* full */
  k[2] = 0;
  assert_int_equal(evpool_add(p, k, 2, big, 16), 1); /* a newer item still replaces */
  evpool_free(p);
  free(p);
}

static int keep_odd(void *ctx, const uint8_t *b, size_t len) {
  (void)ctx, (void)len;
  return b[0] & 1;
}

static void test_prune_keeps_order(void **s) {
  (void)s;
  evpool *p = malloc(sizeof *p);
  evpool_init(p);
  for (int i = 0; i < 7; i++) {
    uint8_t k[32], item[1] = {(uint8_t)i};
    key(k, i + 1);
    assert_int_equal(evpool_add(p, k, 1, item, 1), 1);
  }
  assert_int_equal(evpool_prune(p, keep_odd, NULL), 4);
  ProtobufCBinaryData cand[EVPOOL_MAX];
  assert_int_equal(evpool_candidates(p, cand), 3);
  for (int i = 0; i < 3; i++) assert_int_equal(cand[i].data[0], 2 * i + 1);
  evpool_free(p);
  free(p);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_one_item_per_offender),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_prune_keeps_order),
  };
  return cmocka_run_group_tests(t, NULL, NULL);
}
