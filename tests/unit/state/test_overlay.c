/* The block write set (state/state_overlay.c, a skip list): random puts,
 * deletes, lookups, prefix seeks and journal rollbacks checked against a
 * plain model; in-order walks are sorted and complete; and a block writing
 * 400k keys in the worst order for the sorted array this replaced
 * (descending: every insert moved the whole array) is written and walked
 * in order. bench/state/bench_overlay prints how long that takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_int.h"

#define NK 300 /* key space of the model */

typedef struct {
  int present;   /* in the overlay at all */
  int deleted;   /* present as a delete */
  uint8_t v[8];
  size_t vl;
} slot;

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return rs;
}

/* keys of different lengths sharing prefixes, so ordering by length matters */
static size_t key_of(int i, uint8_t *k) {
  k[0] = (uint8_t)('a' + i % 3);
  k[1] = '/';
  size_t n = 2 + (size_t)(i % 5);
  for (size_t j = 2; j < n; j++) k[j] = (uint8_t)(i * 7 + j);
  k[n++] = (uint8_t)i;
  return n;
}

static int cmpk(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  return c ? c : (al < bl ? -1 : al > bl);
}

static void check(const overlay *o, const slot *m) {
  size_t count = 0;
  for (int i = 0; i < NK; i++) {
    uint8_t k[16];
    size_t kl = key_of(i, k);
    const uint8_t *v;
    size_t vl;
    int f = ov_find(o, k, kl, &v, &vl);
    assert_int_equal(f, m[i].present);
    if (!f) continue;
    count++;
    if (m[i].deleted) {
      assert_null(v);
    } else {
      assert_non_null(v);
      assert_int_equal(vl, m[i].vl);
      assert_memory_equal(v, m[i].v, vl);
    }
  }
  assert_int_equal(o->n, count);
  /* the walk is strictly increasing and has every key */
  size_t walked = 0;
  const uint8_t *pk = NULL;
  size_t pkl = 0;
  for (const ov_node *e = ov_first(o); e; e = ov_next(e)) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    if (pk) assert_true(cmpk(pk, pkl, k, kl) < 0);
    pk = k;
    pkl = kl;
    walked++;
  }
  assert_int_equal(walked, count);
  /* a seek lands on the first key >= the probe */
  uint8_t probe[3] = {(uint8_t)('a' + rnd() % 3), '/', (uint8_t)rnd()};
  const ov_node *s = ov_seek(o, probe, sizeof probe);
  const uint8_t *best = NULL;
  size_t bestl = 0;
  for (int i = 0; i < NK; i++) {
    if (!m[i].present) continue;
    uint8_t k[16];
    size_t kl = key_of(i, k);
    if (cmpk(k, kl, probe, sizeof probe) >= 0 && (!best || cmpk(k, kl, best, bestl) < 0)) {
      static uint8_t keep[16];
      memcpy(keep, k, kl);
      best = keep;
      bestl = kl;
    }
  }
  if (!best) {
    assert_null(s);
  } else {
    const uint8_t *k, *v;
    size_t kl, vl;
    assert_non_null(s);
    ov_node_get(s, &k, &kl, &v, &vl);
    assert_int_equal(cmpk(k, kl, best, bestl), 0);
  }
}

static void test_random_ops_match_a_model(void **st) {
  (void)st;
  overlay o;
  memset(&o, 0, sizeof o);
  slot model[NK], saved[NK];
  memset(model, 0, sizeof model);
  for (int step = 0; step < 20000; step++) {
    int i = (int)(rnd() % NK);
    uint8_t k[16];
    size_t kl = key_of(i, k);
    unsigned op = (unsigned)(rnd() % 10);
    if (op < 6) { /* put */
      uint8_t v[8];
      size_t vl = rnd() % 9;
      for (size_t j = 0; j < vl; j++) v[j] = (uint8_t)rnd();
      assert_int_equal(ov_put(&o, k, kl, v, vl), 0);
      model[i] = (slot){1, 0, {0}, vl};
      memcpy(model[i].v, v, vl);
    } else if (op < 8) { /* delete */
      assert_int_equal(ov_put(&o, k, kl, NULL, 0), 0);
      model[i] = (slot){1, 1, {0}, 0};
    } else { /* a journaled message that is rolled back, partly or fully */
      memcpy(saved, model, sizeof model);
      ov_journal_begin(&o);
      size_t mark = o.jn;
      int n = 1 + (int)(rnd() % 8);
      for (int j = 0; j < n; j++) {
        int t = (int)(rnd() % NK);
        uint8_t tk[16];
        size_t tl = key_of(t, tk);
        uint8_t v[1] = {(uint8_t)j};
        if (rnd() % 3) {
          assert_int_equal(ov_put(&o, tk, tl, v, 1), 0);
        } else {
          assert_int_equal(ov_put(&o, tk, tl, NULL, 0), 0);
        }
      }
      assert_int_equal(ov_journal_rollback_to(&o, mark), 0);
      ov_journal_end(&o);
      memcpy(model, saved, sizeof model);
    }
    if (step % 97 == 0) check(&o, model);
  }
  check(&o, model);
  ov_free(&o);
}

static void test_four_hundred_thousand_keys_in_descending_order(void **st) {
  (void)st;
  overlay o;
  memset(&o, 0, sizeof o);
  enum { N = 400000 };
  for (uint32_t i = N; i-- > 0;) {
    uint8_t k[10] = {'t', '/'}, v[4];
    k[2] = (uint8_t)(i >> 24), k[3] = (uint8_t)(i >> 16), k[4] = (uint8_t)(i >> 8), k[5] = (uint8_t)i;
    memcpy(v, &i, 4);
    assert_int_equal(ov_put(&o, k, 6, v, 4), 0);
  }
  assert_int_equal(o.n, N);
  uint32_t prev = 0, n = 0;
  for (const ov_node *e = ov_first(&o); e; e = ov_next(e), n++) {
    const uint8_t *k, *v;
    size_t kl, vl;
    ov_node_get(e, &k, &kl, &v, &vl);
    uint32_t i = (uint32_t)k[2] << 24 | (uint32_t)k[3] << 16 | (uint32_t)k[4] << 8 | k[5];
    if (n) assert_true(i == prev + 1);
    prev = i;
  }
  assert_int_equal(n, N);
  ov_free(&o);
}

/* sx_scan_lazy (reads the store as it goes) visits exactly what sx_scan
 * (reads the prefix first) visits, in the same order, store and overlay
 * merged; and stopping early stops at the same key. */
typedef struct {
  uint8_t keys[4 * NK][16];
  size_t kl[4 * NK], n, stop;
} seen;

static int record(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  seen *s = ctx;
  memcpy(s->keys[s->n], k, kl);
  s->kl[s->n++] = kl;
  return s->stop && s->n >= s->stop;
}

static void test_lazy_scan_matches_the_merged_scan(void **st) {
  (void)st;
  for (int round = 0; round < 20; round++) {
    kv_store *kv;
    assert_int_equal(kv_open_mem(&kv), 0);
    kv_batch *b = kv_batch_new();
    for (int i = 0; i < NK; i++)
      if (rnd() % 2) {
        uint8_t k[16];
        size_t kl = key_of(i, k);
        assert_int_equal(kv_batch_put(b, k, kl, (const uint8_t *)"s", 1), 0);
      }
    core_errbuf eb;
    assert_int_equal(kv_write(kv, b, 0, &eb), 0);
    kv_batch_del(b);
    state stt;
    memset(&stt, 0, sizeof stt);
    stt.kv = kv;
    state_exec x;
    memset(&x, 0, sizeof x);
    x.st = &stt;
    for (int i = 0; i < NK; i++) {
      uint8_t k[16];
      size_t kl = key_of(i, k);
      int r = (int)(rnd() % 4);
      if (r == 0) assert_int_equal(sx_put(&x, k, kl, (const uint8_t *)"o", 1), 0);
      if (r == 1) assert_int_equal(sx_del(&x, k, kl), 0);
    }
    for (int pfx = 0; pfx < 3; pfx++) {
      uint8_t p[2] = {(uint8_t)('a' + pfx), '/'};
      static seen a, l;
      a.n = l.n = 0;
      a.stop = l.stop = round % 2 ? 1 + rnd() % 20 : 0;
      assert_true(sx_scan(&x, p, 2, record, &a) >= 0);
      assert_true(sx_scan_lazy(&x, p, 2, record, &l) >= 0);
      assert_int_equal(a.n, l.n);
      for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.kl[i], l.kl[i]);
        assert_memory_equal(a.keys[i], l.keys[i], a.kl[i]);
      }
    }
    ov_free(&x.ov);
    kv_close(kv);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_ops_match_a_model),
      cmocka_unit_test(test_lazy_scan_matches_the_merged_scan),
      cmocka_unit_test(test_four_hundred_thousand_keys_in_descending_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
