/* Unit tests for state/kv: both back-ends behave the same (get, scan in
 * order, batches with puts and deletes, persistence for LevelDB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/kv.h"

typedef struct {
  char out[256];
} scan_acc;

static int visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  scan_acc *a = ctx;
  size_t n = strlen(a->out);
  snprintf(a->out + n, sizeof a->out - n, "%.*s=%.*s;", (int)kl, k, (int)vl, v);
  return 0;
}

static void exercise(kv_store *kv) {
  core_errbuf eb;
  kv_batch *b = kv_batch_new();
  assert_int_equal(kv_batch_put(b, (const uint8_t *)"a/2", 3, (const uint8_t *)"two", 3), 0);
  assert_int_equal(kv_batch_put(b, (const uint8_t *)"a/1", 3, (const uint8_t *)"one", 3), 0);
  assert_int_equal(kv_batch_put(b, (const uint8_t *)"b/1", 3, (const uint8_t *)"", 0), 0);
  assert_int_equal(kv_batch_put(b, (const uint8_t *)"a/3", 3, (const uint8_t *)"x", 1), 0);
  assert_int_equal(kv_batch_delete(b, (const uint8_t *)"a/3", 3), 0);
  assert_int_equal(kv_batch_count(b), 5);
  assert_int_equal(kv_write(kv, b, 1, &eb), 0);
  kv_batch_del(b);
  uint8_t *v;
  size_t vl;
  assert_int_equal(kv_get(kv, (const uint8_t *)"a/1", 3, &v, &vl), 0);
  assert_int_equal(vl, 3);
  assert_memory_equal(v, "one", 3);
  free(v);
  assert_int_equal(kv_get(kv, (const uint8_t *)"b/1", 3, &v, &vl), 0);
  assert_int_equal(vl, 0);
  free(v);
  assert_int_equal(kv_get(kv, (const uint8_t *)"a/3", 3, &v, &vl), COHORT_ERR_NOT_FOUND);
  scan_acc acc = {""};
  assert_int_equal(kv_scan(kv, (const uint8_t *)"a/", 2, visit, &acc), 0);
  assert_string_equal(acc.out, "a/1=one;a/2=two;");
}

static void test_mem(void **s) {
  (void)s;
  kv_store *kv;
  assert_int_equal(kv_open_mem(&kv), 0);
  exercise(kv);
  kv_close(kv);
}

static void test_leveldb_and_reopen(void **s) {
  (void)s;
  char dir[] = "/tmp/cohort_kv_XXXXXX";
  assert_non_null(mkdtemp(dir));
  kv_store *kv;
  core_errbuf eb;
  assert_int_equal(kv_open_leveldb(&kv, dir, &eb), 0);
  exercise(kv);
  kv_close(kv);
  assert_int_equal(kv_open_leveldb(&kv, dir, &eb), 0);
  scan_acc acc = {""};
  assert_int_equal(kv_scan(kv, (const uint8_t *)"a/", 2, visit, &acc), 0);
  assert_string_equal(acc.out, "a/1=one;a/2=two;");
  /* A second open of a locked database fails with a message. */
  kv_store *kv2;
  assert_int_equal(kv_open_leveldb(&kv2, dir, &eb), COHORT_ERR_STORE);
  assert_non_null(strstr(eb.msg, dir));
  kv_close(kv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_mem),
                                     cmocka_unit_test(test_leveldb_and_reopen)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
