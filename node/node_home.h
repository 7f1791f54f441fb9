/* node/node_home.h — the parts of a home directory that `cohortd init` and
 * `cohortd testnet` both make (private to node/).
 *
 * A home is HOME/{cohortd.conf, config/, data/, keys/}; docs/operator.md
 * ("Home directory") lists every file. Nothing here overwrites a file: keys
 * are created exclusively (COHORT_ERR_DUPLICATE if one exists). Errors carry
 * the path and the system's reason in eb. */
#ifndef COHORT_NODE_HOME_H
#define COHORT_NODE_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/keys.h"
#include "node/config.h"

/* The keys of one home. Secrets: wipe with node_home_keys_wipe on every
 * path once done (also after a failed node_home_make). */
typedef struct {
  core_key val;              /* config/priv_validator_key.json (ed25519) */
  core_key node;             /* config/node_key.json (ed25519): the node ID */
  uint8_t beacon_commit[32]; /* commitment of config/beacon_seed.json's chain */
} node_home_keys;

/* mkdir -p with mode 0700. 0 or COHORT_ERR_IO. */
int node_home_mkdirp(const char *path, core_errbuf *eb);

/* Create HOME/{config,data,keys} (existing directories are fine) and, in
 * config/, a fresh validator key, node key and beacon seed. 0,
 * COHORT_ERR_IO, COHORT_ERR_DUPLICATE (a key file exists) or COHORT_ERR_KEY. */
int node_home_make(const char *home, node_home_keys *k, core_errbuf *eb);
void node_home_keys_wipe(node_home_keys *k);

/* A fresh account key (secp256k1) at path, its account ID in id. */
int node_home_account_key(const char *path, uint8_t id[20], core_errbuf *eb);

/* Write text to path durably (core/file.h) with mode. */
int node_home_write_file(const char *path, const char *text, int mode, core_errbuf *eb);

/* Write HOME/cohortd.conf: the template with kv in place of the defaults
 * (node_config_render), checked by parsing it back before it is written. */
int node_home_write_conf(const char *home, const node_config_kv *kv, size_t n, core_errbuf *eb);

/* A fresh chain ID for `cohortd init` / `cohortd testnet` without
 * --chain-id: prefix + "-" + 6 lowercase hex characters of fresh randomness
 * (e.g. "cohort-devnet-3fa91c"). Sign bytes bind the chain ID (docs/
 * protocol.md "Replay across chains"), so two chains initialised with the
 * defaults do not accept each other's transactions (as CometBFT's init
 * picks "test-chain-XXXXXX"). out must hold strlen(prefix) + 8 bytes. */
void node_home_random_chain_id(char *out, size_t cap, const char *prefix);

/* The node ID of HOME/config/node_key.json (p2p_addr.h: hex of the first 20
 * bytes of sha256 of the ed25519 public key). */
int node_home_node_id(const char *home, char id[41], core_errbuf *eb);

#endif
