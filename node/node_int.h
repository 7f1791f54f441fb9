/* node/node_int.h — private to node/: the running node. Only node/ touches
 * libuv; the cores (state, consensus, mempool) are driven from here.
 *
 * Two threads. The node thread runs n->loop: consensus, block building and
 * execution, commits, the mempool's mutations, commit waiters. The RPC
 * server runs on its own thread (rpc/rpc.h) and calls the handlers of
 * node_rpc*.c there. What the handlers may touch:
 *   - committed records through the state's read functions (state_get_*,
 *     state_scan*): LevelDB reads are thread-safe, and a commit is one
 *     atomic batch, so a read sees a block's writes all or none;
 *   - the tip (height, hashes, params, our power) only through the view the
 *     node publishes after each commit (n->view under view_lock; handlers
 *     use nr_view(), refreshed before each call): state_height(),
 *     state_params()... return pointers state_commit frees;
 *   - the mempool only under mp_lock (nr_mempool_*): the node thread holds
 *     it while it mutates (add, update), readers hold it briefly;
 *   - consensus height/round/step and the counters: atomics;
 *   - anything else (adding to the mempool, commit waiters): hop to the
 *     node thread with rpc_call_run_on_owner and answer from there.
 * The lock order is view_lock, then mp_lock; neither is held across I/O to
 * a client, and the node thread never waits for the RPC thread.
 */
#ifndef COHORT_NODE_INT_H
#define COHORT_NODE_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "consensus/privval.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "node/mempool.h"
#include "rpc/rpc.h"
#include "state/kv.h"
#include "state/state.h"

/* broadcast_tx in commit mode: answered when the tx lands or times out.
 * Their number is capped (they are RPC work on the node's loop); more are
 * told to poll. */
#define NODE_MAX_WAITERS 10000
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

/* The chain tip as of a commit, for the RPC thread: an immutable snapshot
 * (its own copy of the params), reference-counted. */
typedef struct node_view {
  atomic_int refs;
  uint64_t height, last_time_ms;
  uint8_t app_hash[32], last_block_hash[32], genesis_hash[32];
  char chain_id[128];
  Cohort__Params *params; /* owned copy */
  uint64_t power;         /* this validator's voting power, 0 if none */
} node_view;
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
  size_t n_waiters; /* at most NODE_MAX_WAITERS */
  atomic_int stopping;
  /* Shared with the RPC thread (see the top of this file). */
  uv_mutex_t view_lock, mp_lock;
  node_view *view;     /* under view_lock: the latest published tip */
  node_view *rpc_view; /* the RPC thread's own reference (nr_view) */
  atomic_ullong a_cons_height;
  atomic_uint a_cons_round;
  atomic_int a_cons_step;
  /* metrics */
  atomic_ullong m_blocks, m_txs, m_txs_failed, m_rejected, m_last_block_txs;
  atomic_ullong m_last_commit_ms, m_start_ms;
} node;

uint64_t node_now_ms(void);
/* Node thread only. */
int node_broadcast(node *n, tx_t *tx, core_errbuf *eb); /* mempool add + poke */
void node_register_waiter(node *n, const uint8_t hash[32], rpc_call *c);
/* Publish the tip after a commit (node thread). */
void node_view_publish(node *n);
void node_view_put(node_view *v);
/* RPC thread: take the latest view (before each call, see node_run), and
 * read it. Valid until the next call's refresh. */
void nr_view_refresh(void *ctx);
const node_view *nr_view(const node *n);
#define nr_height(n) (nr_view(n)->height)
#define nr_params(n) ((const Cohort__Params *)nr_view(n)->params)
/* The mempool from the RPC thread (under mp_lock). */
int nr_mempool_has(node *n, const uint8_t hash[32]);
int nr_mempool_has_task(node *n, const uint8_t task_id[32]);
uint64_t nr_mempool_sender_pending(node *n, const uint8_t id[20]);
void nr_mempool_stats(node *n, size_t *count, size_t *bytes);
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
/* compute_simulate's counters for /metrics (malloc'd text), and its limits
 * from the config (node_run, before the RPC server starts). */
char *node_rpc_market_metrics(void);
void node_rpc_market_config(const node_config *cfg);

#endif
