/* state/kv.h — the ordered key-value store under the chain.
 *
 * Two back-ends behind one interface: LevelDB (the node) and an in-memory
 * sorted map (tests, fuzzers, replay checks). Keys compare as unsigned bytes.
 * A batch is applied atomically; with sync=1 it is on disk when kv_write
 * returns (LevelDB's synced write), which is how a block and all its state
 * changes land together or not at all.
 */
#ifndef COHORT_STATE_KV_H
#define COHORT_STATE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct kv_store kv_store;

/* A batch of puts and deletes, applied in order. Owns copies of the bytes. */
typedef struct kv_batch kv_batch;

/* Open (creating if missing) a LevelDB database in dir. eb says why not. */
int kv_open_leveldb(kv_store **out, const char *dir, core_errbuf *eb);
/* A fresh empty in-memory store. */
int kv_open_mem(kv_store **out);
void kv_close(kv_store *kv);

/* Look up key. On success *val is malloc'd (caller frees; NULL with
 * *vlen = 0 for an empty value is never returned — a 1-byte buffer is).
 * Returns 0, COHORT_ERR_NOT_FOUND, COHORT_ERR_STORE or COHORT_ERR_NOMEM. */
int kv_get(kv_store *kv, const uint8_t *key, size_t klen, uint8_t **val,
           size_t *vlen);

/* Visit every key starting with prefix, in key order. cb returns 0 to go on,
 * non-zero to stop (that value is returned). Key/value are borrowed. */
typedef int (*kv_visit_fn)(void *ctx, const uint8_t *k, size_t kl,
                           const uint8_t *v, size_t vl);
int kv_scan(kv_store *kv, const uint8_t *prefix, size_t plen, kv_visit_fn cb,
            void *ctx);

/* Visit the keys starting with prefix that are <= upto (bytewise; upto NULL:
 * every key with the prefix), in DESCENDING key order; cb as for kv_scan.
 * A seek, not a walk: the cost does not depend on how many keys with the
 * prefix lie above upto (the last record at or before a height is one
 * seek and one step back). upto need not start with prefix. */
int kv_scan_rev(kv_store *kv, const uint8_t *prefix, size_t plen, const uint8_t *upto,
                size_t ulen, kv_visit_fn cb, void *ctx);

kv_batch *kv_batch_new(void);
void kv_batch_del(kv_batch *b); /* frees the batch itself */
int kv_batch_put(kv_batch *b, const uint8_t *k, size_t kl, const uint8_t *v,
                 size_t vl);
int kv_batch_delete(kv_batch *b, const uint8_t *k, size_t kl);
size_t kv_batch_count(const kv_batch *b);

/* Apply atomically. Returns 0 or COHORT_ERR_STORE (eb has LevelDB's text). */
int kv_write(kv_store *kv, kv_batch *b, int sync, core_errbuf *eb);

#endif
