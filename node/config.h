/* node/config.h — cohortd.conf, an INI file (like bitcoin.conf, with
 * sections). Every key is optional; defaults are listed in docs/operator.md
 * and written out by `cohortd init`. Unknown sections or keys, a key set
 * twice, and values out of range are errors naming the line (a typo must
 * not silently fall back to a default).
 *
 * Syntax: "[section]" lines; "key = value" lines (':' also separates, as in
 * inih); comments are lines starting with '#' or ';' and, after a value,
 * whitespace followed by '#' or ';'. Keys before any section belong to
 * [node]. A line may hold up to NODE_CONFIG_LINE_MAX bytes. */
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
  /* [mempool] */
  uint64_t mempool_max_txs;
  uint64_t mempool_max_bytes;
  uint64_t mempool_max_per_sender;
  /* [p2p] (p2p/p2p.h p2p_config; addresses checked with p2p/p2p_addr.h) */
  char p2p_listen[128];            /* "IP:PORT" (port 0: ephemeral); "" = no listener */
  char p2p_external_addr[128];     /* "HOST:PORT" advertised to peers; "" = the listen address */
  char p2p_persistent_peers[4096]; /* "ID@HOST:PORT,..." kept connected */
  char p2p_seeds[4096];            /* "ID@HOST:PORT,..." asked for addresses */
  uint64_t p2p_max_inbound;        /* 40 */
  uint64_t p2p_max_outbound;       /* 10, besides persistent peers */
  uint64_t p2p_no_pex;             /* 0 or 1 */
  /* [executor] (executor/executor.h): the executor engine inside cohortd,
   * serving the seats of the account `key` through this node's own RPC.
   * No fault injection here: that stays on `cohort executor run`. */
  uint64_t executor_enabled;       /* 0 or 1 (false/true) */
  char executor_key[1024];         /* a key name in HOME/keys, or a path (with a '/') */
  char executor_state_dir[1024];   /* "" = HOME/executor/ADDRESS */
  uint64_t executor_capacity;      /* 0 = the capacity registered on chain */
  uint64_t executor_poll_ms;       /* 500 */
  uint64_t executor_watch_bps;     /* 0 = no watching */
  char executor_node[1024];        /* "URL,..." (at most 8); "" = this node's [rpc] listen */
} node_config;

#define NODE_CONFIG_LINE_MAX 8192

void node_config_defaults(node_config *c);
/* Parse the INI file at path over the defaults. Missing file = defaults.
 * eb names the line and key. Errors: COHORT_ERR_CONFIG, COHORT_ERR_IO. */
int node_config_load(node_config *c, const char *path, core_errbuf *eb);
/* Parse INI text (same rules), for tests and fuzzing. */
int node_config_parse(node_config *c, const char *text, core_errbuf *eb);
/* The default file, commented, as written by `cohortd init`. */
const char *node_config_template(void);

/* Set one key as if it were written in the file: the same names, checks and
 * messages, with `where` (e.g. "--p2p-listen" or "line 3") leading the
 * sentence in eb. Returns 0 or COHORT_ERR_CONFIG; *c is unchanged on
 * failure. Cross-key rules (node_config_check) are not applied. */
int node_config_set(node_config *c, const char *section, const char *name, const char *value,
                    const char *where, core_errbuf *eb);

/* The rules that involve several keys ([rpc] max_ws <= max_conns, ...),
 * run by node_config_parse and node_config_load. 0 or COHORT_ERR_CONFIG. */
int node_config_check(const node_config *c, core_errbuf *eb);

/* Command-line overrides (`cohortd start --p2p-listen H:P`): recorded once
 * by main() before the node starts, then applied by every
 * node_config_load after the file (and checked like it, the error naming
 * `flag`). The strings are borrowed and must outlive every load (argv
 * does). Process-wide and not thread-safe: for the command line only.
 * Returns 0, or COHORT_ERR_TOO_LARGE past NODE_CONFIG_OVERRIDES_MAX. */
#define NODE_CONFIG_OVERRIDES_MAX 8
int node_config_override(const char *section, const char *name, const char *value,
                         const char *flag);
void node_config_overrides_clear(void);

/* The template with some values replaced: each kv names a key the template
 * sets (section and name) and the value to write instead. Returns malloc'd
 * text (the caller frees), or NULL with eb set: COHORT_ERR_INVALID when a key
 * is not in the template or a value holds a newline, COHORT_ERR_NOMEM.
 * The values are not checked: parse the result to check them. */
typedef struct {
  const char *section, *name, *value;
} node_config_kv;
char *node_config_render(const node_config_kv *kv, size_t n, core_errbuf *eb);

#endif
