/* node/node_int.h — private to node/: the running node. Only node/ touches
 * libuv; the cores (state, consensus, mempool) are driven from here. */
#ifndef COHORT_NODE_INT_H
#define COHORT_NODE_INT_H

#include <limits.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "consensus/privval.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "node/mempool.h"
#include "rpc/rpc.h"
#include "state/kv.h"
#include "state/state.h"

/* broadcast_tx in commit mode: answered when the tx lands or times out. */
typedef struct waiter {
  uint8_t hash[32];
  rpc_call *call;
  uint64_t deadline_ms;
  struct waiter *next;
} waiter;

/* Our own proposal, executed while building; reused at commit. */
typedef struct {
  int have;
  uint64_t height;
  uint8_t hash[32];
  uint8_t *bytes;
  size_t len;
  state_exec *x;
  uint8_t (*tx_hashes)[32];
  uint8_t (*senders)[20];        /* for the "tx" WebSocket topic */
  const char **types;            /* message type names (static strings) */
  state_tx_result *res;
  size_t ntx;
} proposal;

/* A block this node holds for the current height without its executed
 * overlay: an earlier own proposal, or one read back from the consensus WAL
 * after a restart. Committed with state_apply_block if decided. */
typedef struct {
  uint8_t hash[32];
  uint8_t *bytes;
  size_t len;
} held_block;

typedef struct node {
  uv_loop_t *loop;
  node_config cfg;
  char home[PATH_MAX];
  genesis gen;
  kv_store *kv;
  state *st;
  privval *pv;
  struct beacon_keeper *beacon; /* NULL: this validator withholds reveals */
  cons_engine *cons;
  cons_prio prio;      /* proposer priorities S_h of the height being decided */
  cons_wal *wal;       /* data/consensus.wal */
  held_block *held;    /* current height only */
  size_t nheld;
  mempool *mp;
  rpc_server *rpc;
  rpc_method *methods; /* the RPC method table (owned) */
  uv_timer_t timer, kick, waiter_timer;
  uv_signal_t sigint, sigterm;
  uint8_t node_pub[32];
  char node_id[41];
  proposal prop;
  waiter *waiters;
  int stopping;
  /* metrics */
  uint64_t m_blocks, m_txs, m_txs_failed, m_rejected, m_last_block_txs;
  uint64_t m_last_commit_ms, m_start_ms;
} node;

uint64_t node_now_ms(void);
int node_broadcast(node *n, tx_t *tx, core_errbuf *eb); /* mempool add + poke */
void node_register_waiter(node *n, const uint8_t hash[32], rpc_call *c);
/* RPC helpers shared by node_rpc*.c. */
json_t *nr_param(json_t *params, const char *name, size_t pos);
int nr_check_names(rpc_call *c, json_t *params, const char *const *names);
json_t *nr_hexj(const uint8_t *b, size_t n);
json_t *nr_amount(uint64_t v);
json_t *nr_addrj(const uint8_t id[20]);
int nr_get_hash(rpc_call *c, json_t *v, const char *name, uint8_t out[32]);
/* Market methods (node_rpc_market.c). */
extern const rpc_method node_rpc_market_methods[];
extern const size_t node_rpc_market_n_methods;
extern const rpc_method node_rpc_methods[];
extern const size_t node_rpc_n_methods;
char *node_metrics(void *ctx);

#endif
