/* node/mempool.h — transactions waiting for a block.
 *
 * Entry checks (against the committed state plus what is already pending
 * from the same sender): size, signature, nonce (exactly the next one after
 * the account's nonce and the sender's pending txs), a fee that covers the
 * tx's gas at the chain's price (proto/market.h, docs/protocol.md "Cost
 * model"; for market messages the gas of a dry run of the message, which
 * must also succeed), that the sender can pay every pending fee, amount and
 * escrow of both tokens, at most max_per_sender pending txs per sender, and
 * no second commit or reveal for the same task from the same sender.
 *
 * Order: duties first (commits, reveals and verification-game moves: a
 * party loses if they are late, so fees must not decide), then by fee per
 * unit of gas, highest first; each sender's in nonce order (a best-first
 * merge of the senders' queues). When the mempool is full, a tx that goes
 * before the last pending tail of another sender (a duty before any other,
 * else more fee per gas) evicts it; otherwise it is refused. After
 * each block, committed txs leave and the rest are rechecked against the
 * new state (signatures are not re-verified).
 *
 * Not consensus code: nothing here decides validity; a proposer may order
 * its block as it likes. Not thread-safe: the node calls it from its loop.
 */
#ifndef COHORT_NODE_MEMPOOL_H
#define COHORT_NODE_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/tx.h"
#include "state/state.h"

typedef struct mempool mempool;

/* Returns NULL on NOMEM. max_per_sender 0 = max_txs. */
mempool *mempool_new(size_t max_txs, size_t max_bytes, size_t max_per_sender);
void mempool_del(mempool *mp);

/* Check and add. On success the mempool takes ownership of *tx (the caller's
 * struct is zeroed). On failure *tx is untouched (caller frees) and eb says
 * why: COHORT_ERR_DUPLICATE, _SIGNATURE, _NONCE_OLD, _NONCE_FUTURE, _FEE,
 * _FUNDS, _OVERFLOW, _TOO_LARGE, _MEMPOOL_FULL, or the code of the message's
 * dry run; a fatal-band code is this node's own failure. */
int mempool_add(mempool *mp, state *st, tx_t *tx, core_errbuf *eb);

size_t mempool_size(const mempool *mp);
size_t mempool_bytes(const mempool *mp);
int mempool_has(const mempool *mp, const uint8_t hash[32]);
/* 1 if a pending SubmitTask (or SubmitJob) creates this task (job) ID. */
int mempool_has_task(const mempool *mp, const uint8_t task_id[32]);
/* Number of txs pending from this sender (so its next free nonce is the
 * account nonce plus this). */
uint64_t mempool_sender_pending(const mempool *mp, const uint8_t id[20]);
/* The sender's next free nonce given its committed account nonce: nonce,
 * moved past each pending tx that continues the chain from it. Pending txs
 * below nonce are ignored: they are stale entries of a block that has just
 * been committed but whose mempool_update has not run yet (a reader on
 * another thread sees the store before the mempool catches up), so "nonce +
 * pending count" would skip ahead. */
uint64_t mempool_sender_next_nonce(const mempool *mp, const uint8_t id[20], uint64_t nonce);
/* Evictions since creation (for /metrics). */
uint64_t mempool_evicted(const mempool *mp);

/* Borrow up to max_txs txs totalling at most max_bytes, best fee per gas
 * first, each sender's in nonce order. Fills out[] with pointers valid
 * until the next mempool_add/mempool_update/mempool_del. Returns the count,
 * or 0 on NOMEM. */
size_t mempool_reap(mempool *mp, size_t max_txs, size_t max_bytes, const tx_t **out);

/* After a commit: drop the given hashes, then recheck what remains against
 * st; txs that no longer fit are dropped (returns how many). */
size_t mempool_update(mempool *mp, state *st, const uint8_t (*committed)[32], size_t n);

#endif
