/* node/mempool.h — transactions waiting for a block.
 *
 * Entry checks (against the committed state plus what is already pending
 * from the same sender): size, signature, nonce (must be exactly the next
 * one after the account's nonce and the sender's pending txs), fee >= the
 * minimum, and that the sender can pay every pending fee and amount of both
 * tokens. Order: arrival order, which for each sender is nonce order (a gap
 * is refused, so no tx waits behind a missing one). Bounded in count and
 * bytes. After each block, committed txs leave and the rest are rechecked
 * against the new state (signatures are not re-verified).
 */
#ifndef COHORT_NODE_MEMPOOL_H
#define COHORT_NODE_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/tx.h"
#include "state/state.h"

typedef struct mempool mempool;

mempool *mempool_new(size_t max_txs, size_t max_bytes);
void mempool_del(mempool *mp);

/* Check and add. On success the mempool takes ownership of *tx (the caller's
 * struct is zeroed). On failure *tx is untouched (caller frees) and eb says
 * why: COHORT_ERR_DUPLICATE, _SIGNATURE, _NONCE_OLD, _NONCE_FUTURE, _FEE,
 * _FUNDS, _OVERFLOW, _TOO_LARGE, _MEMPOOL_FULL. */
int mempool_add(mempool *mp, state *st, tx_t *tx, core_errbuf *eb);

size_t mempool_size(const mempool *mp);
size_t mempool_bytes(const mempool *mp);
int mempool_has(const mempool *mp, const uint8_t hash[32]);
/* Number of txs pending from this sender (so its next free nonce is the
 * account nonce plus this). */
uint64_t mempool_sender_pending(const mempool *mp, const uint8_t id[20]);

/* Borrow up to max_txs txs totalling at most max_bytes, in order. Fills
 * out[] with pointers valid until the next mempool_update/mempool_del. */
size_t mempool_reap(mempool *mp, size_t max_txs, size_t max_bytes,
                    const tx_t **out);

/* After a commit: drop the given hashes, then recheck what remains against
 * st; txs that no longer fit are dropped (returns how many). */
size_t mempool_update(mempool *mp, state *st, const uint8_t (*committed)[32],
                      size_t n);

#endif
