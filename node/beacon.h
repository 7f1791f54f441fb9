/* node/beacon.h — the validator's secret hash chain for the draw beacon.
 *
 * c_0 = seed (random), c_{i+1} = sha256(c_i), commitment = c_N (in genesis
 * as the validator's beacon_commit). The k-th proposal reveals c_{N-k}; the
 * chain checks sha256(reveal) == the previous commitment. Knowing c_i gives
 * every later c_j but no earlier one, so a proposer can withhold a reveal
 * but never choose it. The seed file (JSON {"seed", "length"}, mode 0600)
 * is secret like the validator key. Checkpoints every 1024 links keep a
 * reveal to at most 1024 hashes. */
#ifndef COHORT_NODE_BEACON_H
#define COHORT_NODE_BEACON_H

#include <stdint.h>

#include "core/err.h"

#define BEACON_CHAIN_LENGTH (1u << 20)

typedef struct beacon_chain beacon_chain;

/* Make a new seed file at path (never overwrites) and return the commitment. */
int beacon_chain_create(const char *path, uint8_t commit[32], core_errbuf *eb);
int beacon_chain_open(beacon_chain **out, const char *path, core_errbuf *eb);
void beacon_chain_close(beacon_chain *bc);
/* The preimage of `tip` in the chain. COHORT_ERR_NOT_FOUND if tip is not a
 * link of this chain or is its seed (the chain is used up). */
int beacon_chain_reveal(beacon_chain *bc, const uint8_t tip[32], uint8_t out[32]);

#endif
