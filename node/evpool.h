/* node/evpool.h — the evidence pool: double-sign evidence this node saw
 * (from its own engine or from peers) waiting to go into a block.
 *
 * An item is a serialized DuplicateVoteEvidence (docs/protocol.md §4b) that
 * state_check_evidence accepted against the committed state when it came
 * in. The pool keeps at most ONE item per offender (a tombstone punishes
 * once, so a second item for the same key is useless): a newer item (higher
 * height) for a key replaces the older one, which would expire first. At
 * most EVPOOL_MAX items (the validator count bounds it in practice) and
 * EVPOOL_ITEM_MAX bytes per item; beyond that, adds are refused.
 *
 * After every commit the node re-checks each item (evpool_prune with
 * state_check_evidence): an item whose offender is punished or that is too
 * old goes. Items are proposed in arrival order (oldest first).
 *
 * Not thread-safe: the consensus loop owns it. No I/O. */
#ifndef COHORT_NODE_EVPOOL_H
#define COHORT_NODE_EVPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define EVPOOL_MAX 256
#define EVPOOL_ITEM_MAX 4096

typedef struct {
  uint8_t offender[32];
  uint64_t height;
  uint8_t hash[32]; /* SHA-256 of the bytes */
  ProtobufCBinaryData bytes; /* owned */
} evpool_item;

typedef struct {
  evpool_item items[EVPOOL_MAX];
  size_t n;
} evpool;

void evpool_init(evpool *p);
void evpool_free(evpool *p);

/* Keep a copy of bytes for offender at height. Returns 1 if the pool
 * changed (new offender, or a newer item replacing an older one: relay it),
 * 0 if it holds this item or a newer one for that offender already,
 * COHORT_ERR_TOO_LARGE (item over EVPOOL_ITEM_MAX or the pool full) or
 * COHORT_ERR_NOMEM. */
int evpool_add(evpool *p, const uint8_t offender[32], uint64_t height, const uint8_t *bytes,
               size_t len);

/* Drop every item for which keep(ctx, bytes, len) returns 0. Returns how
 * many went. Order of the rest is kept. */
size_t evpool_prune(evpool *p, int (*keep)(void *ctx, const uint8_t *b, size_t len), void *ctx);

/* The items as candidates for state_build_add_evidence: out must hold
 * EVPOOL_MAX entries (borrowed, valid until the next add/prune). Returns
 * the count. */
size_t evpool_candidates(const evpool *p, ProtobufCBinaryData *out);

#endif
