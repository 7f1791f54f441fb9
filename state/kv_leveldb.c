/* state/kv_leveldb.c — the LevelDB back-end (LevelDB's C API). */
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

#include "state/kv_int.h"

typedef struct {
  kv_store base;
  leveldb_t *db;
  leveldb_options_t *opt;
  leveldb_readoptions_t *ro;
  leveldb_writeoptions_t *wo_sync, *wo_nosync;
  leveldb_cache_t *cache;
  leveldb_filterpolicy_t *bloom;
} ldb;

static int ldb_get(kv_store *kv, const uint8_t *k, size_t kl, uint8_t **val,
                   size_t *vlen) {
  ldb *s = (ldb *)kv;
  char *err = NULL;
  size_t n = 0;
  char *v = leveldb_get(s->db, s->ro, (const char *)k, kl, &n, &err);
  if (err) {
    leveldb_free(err);
    return COHORT_ERR_STORE;
  }
  if (!v) return COHORT_ERR_NOT_FOUND;
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) {
    leveldb_free(v);
    return COHORT_ERR_NOMEM;
  }
  memcpy(copy, v, n);
  leveldb_free(v);
  *val = copy;
  *vlen = n;
  return COHORT_OK;
}

static int ldb_scan(kv_store *kv, const uint8_t *p, size_t pl, kv_visit_fn cb,
                    void *ctx) {
  ldb *s = (ldb *)kv;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
  int rc = 0;
  for (leveldb_iter_seek(it, (const char *)p, pl); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    if (kl < pl || memcmp(k, p, pl) != 0) break;
    const char *v = leveldb_iter_value(it, &vl);
    if ((rc = cb(ctx, (const uint8_t *)k, kl, (const uint8_t *)v, vl))) break;
  }
  char *err = NULL;
  leveldb_iter_get_error(it, &err);
  if (err) {
    leveldb_free(err);
    rc = COHORT_ERR_STORE;
  }
  leveldb_iter_destroy(it);
  return rc;
}

/* -1, 0, 1 as a < b bytewise (a shorter prefix first). */
static int bcmp3(const char *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c < 0 ? -1 : 1;
  return al < bl ? -1 : al > bl;
}

static int ldb_scan_rev(kv_store *kv, const uint8_t *p, size_t pl, const uint8_t *u,
                        size_t ul, kv_visit_fn cb, void *ctx) {
  ldb *s = (ldb *)kv;
  int inclusive = 0;
  const uint8_t *t = NULL; /* seek target; NULL: the end of the store */
  size_t tl = 0;
  uint8_t *succ = NULL;
  if (u && ul >= pl && !memcmp(u, p, pl)) {
    t = u, tl = ul, inclusive = 1; /* the last key <= u */
  } else if (u && bcmp3((const char *)u, ul, p, pl) < 0) {
    return 0; /* u is below every key with the prefix */
  } else {
    /* every key with the prefix is <= u: start below the prefix's
     * successor (the prefix with its last byte below 0xff incremented and
     * the rest cut), never walking keys above the range */
    size_t n = pl;
    while (n > 0 && p[n - 1] == 0xff) n--;
    if (n > 0) {
      if (!(succ = malloc(n))) return COHORT_ERR_NOMEM;
      memcpy(succ, p, n);
      succ[n - 1]++;
      t = succ, tl = n;
    }
  }
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
  int rc = 0;
  if (t) {
    leveldb_iter_seek(it, (const char *)t, tl);
    if (!leveldb_iter_valid(it)) {
      leveldb_iter_seek_to_last(it);
    } else {
      size_t kl;
      const char *k = leveldb_iter_key(it, &kl);
      if (!inclusive || bcmp3(k, kl, t, tl) > 0) leveldb_iter_prev(it); /* on the first key > u */
    }
  } else {
    leveldb_iter_seek_to_last(it);
  }
  for (; leveldb_iter_valid(it); leveldb_iter_prev(it)) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    if (kl < pl || memcmp(k, p, pl) != 0) break; /* below the prefix's range: done */
    const char *v = leveldb_iter_value(it, &vl);
    if ((rc = cb(ctx, (const uint8_t *)k, kl, (const uint8_t *)v, vl))) break;
  }
  char *err = NULL;
  leveldb_iter_get_error(it, &err);
  if (err) {
    leveldb_free(err);
    rc = COHORT_ERR_STORE;
  }
  leveldb_iter_destroy(it);
  free(succ);
  return rc;
}

static int ldb_write(kv_store *kv, kv_batch *b, int sync, core_errbuf *eb) {
  ldb *s = (ldb *)kv;
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  for (size_t i = 0; i < b->n; i++) {
    kv_op *o = &b->ops[i];
    if (o->v)
      leveldb_writebatch_put(wb, (char *)o->k, o->kl, (char *)o->v, o->vl);
    else
      leveldb_writebatch_delete(wb, (char *)o->k, o->kl);
  }
  char *err = NULL;
  leveldb_write(s->db, sync ? s->wo_sync : s->wo_nosync, wb, &err);
  leveldb_writebatch_destroy(wb);
  if (err) {
    core_errf(eb, COHORT_ERR_STORE, "LevelDB write failed: %s", err);
    leveldb_free(err);
    return COHORT_ERR_STORE;
  }
  return COHORT_OK;
}

static void ldb_close(kv_store *kv) {
  ldb *s = (ldb *)kv;
  if (s->db) leveldb_close(s->db);
  leveldb_options_destroy(s->opt);
  leveldb_readoptions_destroy(s->ro);
  leveldb_writeoptions_destroy(s->wo_sync);
  leveldb_writeoptions_destroy(s->wo_nosync);
  leveldb_cache_destroy(s->cache);
  leveldb_filterpolicy_destroy(s->bloom);
  free(s);
}

static const kv_vtbl vt = {ldb_get, ldb_scan, ldb_scan_rev, ldb_write, ldb_close};

int kv_open_leveldb(kv_store **out, const char *dir, core_errbuf *eb) {
  ldb *s = calloc(1, sizeof *s);
  if (!s) return COHORT_ERR_NOMEM;
  s->base.vt = &vt;
  s->opt = leveldb_options_create();
  s->cache = leveldb_cache_create_lru(64 << 20);
  s->bloom = leveldb_filterpolicy_create_bloom(10);
  leveldb_options_set_create_if_missing(s->opt, 1);
  leveldb_options_set_paranoid_checks(s->opt, 1);
  leveldb_options_set_cache(s->opt, s->cache);
  leveldb_options_set_filter_policy(s->opt, s->bloom);
  leveldb_options_set_compression(s->opt, leveldb_snappy_compression);
  s->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(s->ro, 1);
  s->wo_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(s->wo_sync, 1);
  s->wo_nosync = leveldb_writeoptions_create();
  char *err = NULL;
  s->db = leveldb_open(s->opt, dir, &err);
  if (err) {
    core_errf(eb, COHORT_ERR_STORE, "cannot open LevelDB at %s: %s%s", dir, err,
              strstr(err, "lock") ? " (another cohortd is probably running on this home; "
                                    "stop it first)" : "");
    leveldb_free(err);
    s->db = NULL;
    ldb_close(&s->base);
    return COHORT_ERR_STORE;
  }
  *out = &s->base;
  return COHORT_OK;
}
