/* node/node.h — cohortd's commands: init a home directory, run the node. */
#ifndef COHORT_NODE_H
#define COHORT_NODE_H

#include <stdint.h>

#include "core/err.h"

typedef struct {
  const char *home;
  const char *chain_id; /* default "cohort-devnet-1" */
  const char *moniker;
  const char *rpc_listen; /* optional override written into cohortd.conf */
} node_init_opts;

/* Create HOME/{cohortd.conf, config/genesis.json, config/priv_validator_key.json,
 * config/node_key.json, data/, keys/dev.json}. Refuses to touch an existing
 * home (never overwrites keys). Prints what it created. */
int node_init_home(const node_init_opts *o, core_errbuf *eb);

/* Run the node until SIGINT/SIGTERM. rpc_listen and log_level override the
 * config when non-NULL. */
int node_run(const char *home, const char *rpc_listen, const char *log_level,
             core_errbuf *eb);

#endif
