/* Unit tests for state/kv: both back-ends behave the same (get, scan in
 * order, reverse scan from a bound, batches with puts and deletes,
 * persistence for LevelDB). */
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

/* kv_scan_rev: descending from the last key <= upto, within the prefix;
 * keys just outside the prefix on both sides (and a prefix ending in 0xff,
 * whose successor is shorter) are never visited. */
static int visit_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  visit(ctx, k, kl, v, vl);
  return 7; /* stop: returned by kv_scan_rev */
}

static void rev(kv_store *kv, const char *prefix, size_t plen, const char *upto, const char *want) {
  scan_acc acc = {""};
  assert_int_equal(kv_scan_rev(kv, (const uint8_t *)prefix, plen, (const uint8_t *)upto,
                               upto ? strlen(upto) : 0, visit, &acc), 0);
  if (strcmp(acc.out, want))
    fail_msg("rev(%.*s, %s): got \"%s\", want \"%s\"", (int)plen, prefix, upto ? upto : "NULL",
             acc.out, want);
}

static void exercise_rev(kv_store *kv) {
  core_errbuf eb;
  kv_batch *b = kv_batch_new();
  const char *keys[] = {"h/", "h/02", "h/05", "h/09", "h0", "i/1", "g/9", "\xff\xff", "\xff\xfe"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    assert_int_equal(kv_batch_put(b, (const uint8_t *)keys[i], strlen(keys[i]),
                                  (const uint8_t *)"v", 1), 0);
  assert_int_equal(kv_write(kv, b, 0, &eb), 0);
  kv_batch_del(b);
  rev(kv, "h/", 2, "h/05", "h/05=v;h/02=v;h/=v;");      /* an exact key is included */
  rev(kv, "h/", 2, "h/07", "h/05=v;h/02=v;h/=v;");      /* between two keys */
  rev(kv, "h/", 2, "h/01", "h/=v;");
  rev(kv, "h/", 2, "h/99", "h/09=v;h/05=v;h/02=v;h/=v;"); /* above the last: h0 is not in */
  rev(kv, "h/", 2, NULL, "h/09=v;h/05=v;h/02=v;h/=v;");
  rev(kv, "h/", 2, "z", "h/09=v;h/05=v;h/02=v;h/=v;");    /* a bound above the prefix */
  rev(kv, "h/", 2, "h", "");                              /* a bound below it */
  rev(kv, "h/", 2, "a", "");
  rev(kv, "q/", 2, NULL, "");
  rev(kv, "\xff", 1, NULL, "\xff\xff=v;\xff\xfe=v;");
  rev(kv, "\xff\xff", 2, NULL, "\xff\xff=v;");
  rev(kv, "", 0, "h/02", "h/02=v;h/=v;g/9=v;b/1=;a/2=two;a/1=one;"); /* and exercise()'s */
  scan_acc acc = {""};
  assert_int_equal(kv_scan_rev(kv, (const uint8_t *)"h/", 2, (const uint8_t *)"h/08", 4,
                               visit_first, &acc), 7);
  assert_string_equal(acc.out, "h/05=v;");
}

static void test_mem(void **s) {
  (void)s;
  kv_store *kv;
  assert_int_equal(kv_open_mem(&kv), 0);
  exercise(kv);
  exercise_rev(kv);
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
  exercise_rev(kv);
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
