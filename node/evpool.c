/* node/evpool.c — see evpool.h. */
#include "node/evpool.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"

void evpool_init(evpool *p) { memset(p, 0, sizeof *p); }

void evpool_free(evpool *p) {
  for (size_t i = 0; i < p->n; i++) free(p->items[i].bytes.data);
  p->n = 0;
}

int evpool_add(evpool *p, const uint8_t offender[32], uint64_t height, const uint8_t *bytes,
               size_t len) {
  if (!len || len > EVPOOL_ITEM_MAX) return COHORT_ERR_TOO_LARGE;
  evpool_item *slot = NULL;
  for (size_t i = 0; i < p->n; i++) {
    if (memcmp(p->items[i].offender, offender, 32)) continue;
    if (p->items[i].height >= height) return 0;
    slot = &p->items[i];
    break;
  }
  if (!slot && p->n == EVPOOL_MAX) return COHORT_ERR_TOO_LARGE;
  uint8_t *copy = malloc(len);
  if (!copy) return COHORT_ERR_NOMEM;
  memcpy(copy, bytes, len);
  if (slot)
    free(slot->bytes.data);
  else
    slot = &p->items[p->n++];
  memcpy(slot->offender, offender, 32);
  slot->height = height;
  core_sha256(slot->hash, copy, len);
  slot->bytes.data = copy;
  slot->bytes.len = len;
  return 1;
}

size_t evpool_prune(evpool *p, int (*keep)(void *ctx, const uint8_t *b, size_t len), void *ctx) {
  size_t w = 0, gone = 0;
  for (size_t r = 0; r < p->n; r++) {
    if (keep(ctx, p->items[r].bytes.data, p->items[r].bytes.len)) {
      if (w != r) p->items[w] = p->items[r];
      w++;
    } else {
      free(p->items[r].bytes.data);
      gone++;
    }
  }
  p->n = w;
  return gone;
}

size_t evpool_candidates(const evpool *p, ProtobufCBinaryData *out) {
  for (size_t i = 0; i < p->n; i++) out[i] = p->items[i].bytes;
  return p->n;
}
