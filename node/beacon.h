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

/* Make a new seed file at path (never overwrites) and return the commitment.
 * beacon_chain_create_len: a chain of `length` links (a multiple of 1024;
 * for tests). */
int beacon_chain_create(const char *path, uint8_t commit[32], core_errbuf *eb);
int beacon_chain_create_len(const char *path, uint32_t length, uint8_t commit[32],
                            core_errbuf *eb);
int beacon_chain_open(beacon_chain **out, const char *path, core_errbuf *eb);
void beacon_chain_close(beacon_chain *bc);
/* The preimage of `tip` in the chain. COHORT_ERR_NOT_FOUND if tip is not a
 * link of this chain or is its seed (the chain is used up). */
int beacon_chain_reveal(beacon_chain *bc, const uint8_t tip[32], uint8_t out[32]);
/* Links left below the last reveal (0 = used up or unknown). */
uint32_t beacon_chain_left(const beacon_chain *bc);
/* The chain's commitment c_N. */
void beacon_chain_commitment(const beacon_chain *bc, uint8_t out[32]);

/* The keeper: the validator's current chain (PATH) and, near its end, the
 * next one (PATH.next), with the re-commitment between them.
 *
 *   reveal(tip) from the current chain; when fewer than `margin` links are
 *   left, a next chain is created (durably) and *recommit = 1 with its
 *   commitment in new_tip: the proposer puts it in the header
 *   (beacon_new_tip). Once that header is committed the on-chain tip is the
 *   next chain's commitment; the first reveal from the next chain rotates
 *   the files (PATH.next renamed over PATH, directory fsynced), so a crash
 *   at any point leaves a chain that can answer the tip on chain.
 */
typedef struct beacon_keeper beacon_keeper;
int beacon_keeper_open(beacon_keeper **out, const char *path, uint32_t margin, core_errbuf *eb);
void beacon_keeper_close(beacon_keeper *k);
/* 0 with reveal (and maybe *recommit/new_tip) set; COHORT_ERR_NOT_FOUND if
 * neither chain has the tip (withhold); COHORT_ERR_IO if the next chain
 * cannot be made durable (reveal without re-committing: try later). */
int beacon_keeper_reveal(beacon_keeper *k, const uint8_t tip[32], uint8_t reveal[32],
                         uint8_t new_tip[32], int *recommit, core_errbuf *eb);

#endif
