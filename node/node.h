/* node/node.h — cohortd's commands: init a home directory, run the node. */
#ifndef COHORT_NODE_H
#define COHORT_NODE_H

#include <stdint.h>

#include "core/err.h"

typedef struct {
  const char *home;
  const char *chain_id; /* NULL: a fresh "cohort-devnet-" + 6 hex (node_home_random_chain_id) */
  const char *moniker;
  const char *rpc_listen; /* optional override written into cohortd.conf */
  const char *p2p_listen; /* optional [p2p] listen written into cohortd.conf */
} node_init_opts;

/* Create HOME/{cohortd.conf, config/genesis.json, config/priv_validator_key.json,
 * config/node_key.json, data/, keys/dev.json}. Refuses to touch an existing
 * home (never overwrites keys). Prints what it created. */
int node_init_home(const node_init_opts *o, core_errbuf *eb);

/* Run the node until SIGINT/SIGTERM. rpc_listen and log_level override the
 * config when non-NULL. */
int node_run(const char *home, const char *rpc_listen, const char *log_level,
             core_errbuf *eb);

/* `cohortd show-node-id`: print HOME's node ID (from config/node_key.json,
 * as p2p_addr.h derives it) and, when the node listens, ID@ADDRESS (the
 * [p2p] external_addr, else listen) as peers put it in persistent_peers. */
int node_show_node_id(const char *home, core_errbuf *eb);
/* `cohortd show-validator`: HOME's consensus public key and beacon
 * commitment, what MsgCreateValidator needs (docs/staking.md). what: 0
 * both, labelled; 1 the key alone; 2 the commitment alone; 3 JSON. */
int node_show_validator(const char *home, int what, core_errbuf *eb);

/* `cohortd testnet`: homes for N validators of one new chain (like
 * CometBFT's `testnet`), ready to run on one machine. */
#define NODE_TESTNET_MAX 64 /* a persistent_peers line of 63 peers fits [p2p] */
typedef struct {
  const char *out;        /* the directory: created, or existing and empty */
  unsigned validators;    /* 1..NODE_TESTNET_MAX */
  const char *chain_id;   /* NULL: a fresh "cohort-testnet-" + 6 hex */
  unsigned base_port;     /* default 26656: node K uses p2p base+10K, RPC base+10K+1 */
  const char *hostname;   /* default "127.0.0.1": where the nodes dial each other */
  uint64_t empty_block_interval_ms; /* written to [consensus] when > 0 */
} node_testnet_opts;

/* Write OUT/node0..N-1: each with its own validator key, node key and
 * beacon seed, an operator account key (keys/operator.json), the one
 * genesis.json shared by all (N validators of equal power with their beacon
 * commitments; the operators and a dev account funded), and a cohortd.conf
 * with moniker nodeK, distinct ports and persistent_peers naming every other
 * node as ID@HOSTNAME:PORT. The dev account's key is in node0/keys/dev.json
 * only. OUT/testnet.json describes the network for scripts
 * (scripts/localnet.sh). Prints a summary table. Errors (eb says which):
 * COHORT_ERR_INVALID (an option), COHORT_ERR_DUPLICATE (OUT exists and is
 * not empty: nothing is written), COHORT_ERR_IO, COHORT_ERR_NOMEM; after a
 * failure past the first file OUT is incomplete and eb says so. */
int node_testnet(const node_testnet_opts *o, core_errbuf *eb);

#endif
