/* node/config.h — cohortd.conf, an INI file (like bitcoin.conf, with
 * sections). Every key is optional; defaults are listed in docs/operator.md
 * and written out by `cohortd init`. Unknown sections or keys are errors
 * (a typo must not silently fall back to a default). */
#ifndef COHORT_NODE_CONFIG_H
#define COHORT_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct {
  char moniker[65];
  char log_level[16];
  /* [rpc] */
  char rpc_listen[128];
  uint64_t rpc_max_body_bytes;
  uint64_t rpc_max_batch;
  uint64_t rpc_max_conns;
  uint64_t rpc_idle_timeout_ms;
  uint64_t rpc_commit_timeout_ms; /* broadcast_tx mode=commit wait limit */
  /* per client address and global RPC limits (docs/rpc.md) */
  uint64_t rpc_max_conns_per_ip;
  uint64_t rpc_max_ws;
  uint64_t rpc_max_ws_per_ip;
  uint64_t rpc_max_inflight_per_ip;
  uint64_t rpc_max_batch_weight;
  uint64_t rpc_max_response_bytes;
  uint64_t rpc_client_buffer_bytes;
  uint64_t rpc_max_buffer_bytes;
  uint64_t rpc_write_timeout_ms;
  uint64_t rpc_publish_queue;
  /* compute_simulate */
  uint64_t sim_max_concurrent;
  uint64_t sim_concurrent_per_ip;
  uint64_t sim_max_steps;
  uint64_t sim_max_mem_mib;
  uint64_t sim_steps_per_minute;
  /* [consensus] */
  uint64_t block_interval_ms;
  uint64_t empty_block_interval_ms;
  uint64_t timeout_propose_ms;
  uint64_t timeout_vote_ms;
  /* [p2p] */
  char p2p_listen[128];
  char p2p_external_addr[128];
  char p2p_persistent_peers[4096];
  char p2p_seeds[4096];
  uint64_t p2p_max_inbound;
  uint64_t p2p_max_outbound;
  uint64_t p2p_no_pex;
  /* [mempool] */
  uint64_t mempool_max_txs;
  uint64_t mempool_max_bytes;
  uint64_t mempool_max_per_sender;
} node_config;

void node_config_defaults(node_config *c);
/* Parse the INI file at path over the defaults. Missing file = defaults.
 * eb names the line and key. Errors: COHORT_ERR_CONFIG, COHORT_ERR_IO. */
int node_config_load(node_config *c, const char *path, core_errbuf *eb);
/* Parse INI text (same rules), for tests and fuzzing. */
int node_config_parse(node_config *c, const char *text, core_errbuf *eb);
/* The default file, commented, as written by `cohortd init`. */
const char *node_config_template(void);

#endif
