/* node/node_msg.h — the node's peer messages (docs/p2p.md "Node protocol"),
 * decoded and checked before anything acts on them. Pure: bytes in,
 * messages out; no node state. What each check refuses is the peer's
 * fault (the caller penalizes it), except COHORT_ERR_NOMEM, which is ours.
 *
 * Consensus channel: cohort.p2p.ConsensusMsg, canonical, exactly one field
 * set; a RoundState has height >= 1, step <= 4 and bitmaps of at most
 * NODE_MSG_VBITS bytes; votes and proposals inside are canonical
 * cohort.Vote / cohort.Proposal (proto/block.h vote_decode,
 * proposal_decode; signatures are the caller's check).
 * Block channel: cohort.p2p.BlockMsg, canonical, exactly one field set; a
 * request's hash is empty or 32 bytes; a response carries a non-empty
 * block (decoded later against the chain's limits) and a commit of at most
 * 1 MiB; a NoBlock's hash is empty or 32 bytes.
 * Mempool channel: one canonical cohort.Tx (proto/tx.h tx_decode).
 */
#ifndef COHORT_NODE_MSG_H
#define COHORT_NODE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/p2p.pb-c.h"

#define NODE_MSG_VBITS 32 /* CONS_MAX_VALIDATORS / 8 */
#define NODE_MSG_MAX_COMMIT (1u << 20)

/* 0 with *out set (free with protobuf_c_message_free_unpacked(&(*out)->base,
 * NULL)), COHORT_ERR_DECODE (eb says why) or COHORT_ERR_NOMEM. */
int node_cons_msg_decode(const uint8_t *b, size_t len, Cohort__P2p__ConsensusMsg **out,
                         core_errbuf *eb);
int node_block_msg_decode(const uint8_t *b, size_t len, Cohort__P2p__BlockMsg **out,
                          core_errbuf *eb);

#endif
