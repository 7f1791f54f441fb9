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
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "consensus/privval.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "node/evpool.h"
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
/* A block of the current height this node holds besides its own newest
 * proposal: an earlier own proposal, one read back from the consensus WAL
 * after a restart, or another validator's proposal received from a peer.
 * Executed (sb) when the engine asks to validate it; committed from sb, or
 * by the full check-and-apply path, if it is decided. At most
 * NODE_MAX_HELD per height; blocks no proposal names are evicted first. */
#define NODE_MAX_HELD 8
typedef struct {
  uint8_t hash[32];
  uint8_t *bytes;
  size_t len;
  state_block *sb; /* executed on the current tip (NULL: not yet) */
  int verdict;     /* -1 not validated, 0 invalid, 1 valid */
  int own;         /* built by this node (never evicted) */
} held_block;

/* ---- peers (node_net.c) ---- */

/* What we know a peer holds of the votes of one round at its height:
 * `have` it told us (RoundState) or sent us; `sent` we sent it since the
 * last refresh (cleared every NET_REFRESH_MS so that a message the peer
 * could not keep is offered again). */
#define NET_VBITS (CONS_MAX_VALIDATORS / 8)
typedef struct {
  uint32_t round;
  uint8_t have[2][NET_VBITS], sent[2][NET_VBITS]; /* [0] prevotes, [1] precommits */
} net_round_bits;

#define NET_ROUNDS 12
typedef struct {
  char id[41];
  int have_state;            /* a RoundState arrived */
  uint64_t height;           /* the height it is deciding */
  uint32_t round;
  int step, has_proposal, has_block;
  uint64_t base;             /* lowest committed block it serves (0: none) */
  net_round_bits rb[NET_ROUNDS];
  size_t nrb;
  uint64_t bits_height;      /* height rb[] is about */
  uint64_t refresh_ms;
  uint64_t prop_sent_h;      /* proposal (height, round) sent to it */
  uint32_t prop_sent_r;
  int prop_sent;
  uint8_t block_sent[32];    /* proposal block last sent, and when */
  uint64_t block_sent_ms;
  unsigned sync_inflight;    /* block requests outstanding to it */
  unsigned noblock;          /* NoBlock answers for heights it claimed */
} net_peer;

/* Block sync: a window of heights above our tip being fetched. */
#define NET_SYNC_WINDOW 32
typedef struct {
  uint64_t height;          /* 0 = free */
  char from[41];            /* the peer asked */
  uint64_t asked_ms;
  uint8_t *block, *commit;  /* the answer (NULL until it arrives) */
  size_t blen, clen;
} net_sync_slot;

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
  evpool ev;           /* double-sign evidence waiting for a block */
  /* p2p (node_net.c) */
  struct p2p_switch *sw;
  net_peer *peers;
  size_t npeers;
  uv_timer_t gossip_timer;
  uv_check_t flush;          /* after each loop turn: our RoundState if it changed */
  int state_dirty;
  uint64_t sent_h, sent_r;   /* last RoundState broadcast */
  int sent_step, sent_prop, sent_block;
  size_t sent_votes;
  net_sync_slot sync[NET_SYNC_WINDOW];
  uint64_t sync_best;        /* highest committed height a peer claims */
  uint64_t sync_log_ms, sync_log_h;
  atomic_int catching_up;
  uint32_t net_max_block, net_max_tx; /* p2p message limits now set (from the params) */
  /* decided at the current height on a block we do not hold */
  int decided;
  uint8_t decided_hash[32];
  uint8_t *decided_commit;
  size_t decided_clen;
  uint32_t decided_round;
  uint64_t decided_ask_ms;
  /* Precommits for the last committed block that arrived after its
   * commit formed (node_late_precommit): added to the last commit this
   * node proposes, so a validator that was merely slower counts as having
   * signed (downtime and fees, docs/staking.md §3-4). */
  uint64_t late_height;
  Cohort__Commit *late_base; /* the stored commit of late_height (cached) */
  uint8_t (*late_pk)[32], (*late_sig)[64];
  size_t n_late, late_cap;
  uint64_t want_ask_ms;      /* last request for a block to validate */
  uint8_t node_sec[64];      /* the p2p identity (wiped at exit) */
  int net_closed;            /* the switch finished closing */
  uint8_t fault_sec[64];     /* cohortd-faults only (faults.h): the raw validator key */
  atomic_uint a_peers;
  uv_mutex_t net_lock;
  char *net_metrics;         /* under net_lock: p2p metrics text for /metrics */
  char *peers_json;          /* under net_lock: the peers RPC answer */
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
  atomic_ullong m_blocks, m_txs, m_txs_failed, m_rejected, m_last_block_txs, m_evidence;
  uint64_t m_evicted_seen; /* mempool_evicted() at the last commit (node thread) */
  atomic_ullong m_last_commit_ms, m_start_ms;
  atomic_ullong m_last_interval_ms, m_rounds; /* block interval; sum of commit rounds */
  atomic_uint m_last_round;
  /* [executor] (node_executor.c): the engine's handle and thread */
  struct executor *ex;       /* NULL: not enabled */
  int ex_started;            /* its thread runs (or ran) */
  char ex_via[480], ex_dir[PATH_MAX + 1200]; /* for the start's log line */
  pthread_t ex_thread;
  atomic_int ex_done;        /* the thread's executor_run returned */
  uv_async_t ex_async;       /* wakes the loop when it does */
} node;

uint64_t node_now_ms(void);
/* The engine's shell (node.c): drain actions, re-arm the timer. */
void node_pump(node *n);
/* A precommit (decoded Vote, borrowed) for the height just committed:
 * kept if it is for the committed block, in the committed round, by a
 * member of that height's set not in the stored commit yet, with a valid
 * signature. Returns 1 if kept, 0 if ignored, -1 if its signature is bad. */
int node_late_precommit(node *n, const Cohort__Vote *v);
/* A proposal block of the current height from a peer (copied). Returns 0,
 * COHORT_ERR_DUPLICATE, COHORT_ERR_STALE (another height),
 * COHORT_ERR_DECODE (not a block: the peer's fault) or COHORT_ERR_NOMEM. */
int node_held_offer(node *n, const uint8_t *bytes, size_t len);
/* The block of hash at the current height, if this node holds it. */
const uint8_t *node_held_bytes(const node *n, const uint8_t hash[32], size_t *len);
/* Block sync: check, execute and commit block tip+1 with its commit, then
 * start the next height. COHORT_ERR_BAD_BLOCK (the sender's fault) or a
 * fatal-band code (ours; the node stops). */
int node_apply_synced(node *n, const uint8_t *block, size_t blen, const uint8_t *commit,
                      size_t clen, core_errbuf *eb);

/* [executor] (node_executor.c), node thread only. prepare: read the key
 * and make the handle (n->ex; NULL when not enabled); 0 or an error that
 * stops the node's start (no such key, a state directory that cannot be
 * made). start: the engine's thread, once the RPC server and n->loop are
 * up (if it cannot start, the node logs it and runs without). stop: stop
 * the engine and wait for it (the loop keeps turning meanwhile), then free
 * the handle; no-op without one. */
int node_executor_prepare(node *n, core_errbuf *eb);
void node_executor_start(node *n);
void node_executor_stop(node *n);

/* Peers (node_net.c); node thread only. */
int node_net_start(node *n, core_errbuf *eb);
void node_net_close(node *n);
void node_net_changed(node *n);
void node_net_own_vote(node *n, const cons_vote *v);
void node_net_own_proposal(node *n, const cons_proposal *p);
void node_net_tx(node *n, const uint8_t *raw, size_t len, const char *except_peer);
void node_net_committed(node *n, uint64_t h);
void node_net_want(node *n);
/* Evidence of double signing from a peer (node.c: checked, pooled for our
 * next proposal, relayed). */
/* Evidence from a peer (from_peer) or our engine (NULL): checked against
 * the committed state, kept in n->ev, relayed if new. */
void node_on_evidence(node *n, const char *from_peer, const uint8_t *b, size_t len);
/* Send every pooled item to one peer (NULL: every peer but except). */
void node_net_evidence(node *n, const char *peer, const uint8_t *b, size_t len,
                       const char *except);
void node_net_penalize(node *n, const char *peer, int points, const char *why);
/* cohortd-faults: send a vote to every other peer only. */
void node_net_send_half(node *n, const cons_vote *v);
/* Node thread only. */
int node_broadcast(node *n, tx_t *tx, core_errbuf *eb); /* mempool add + poke */
/* The same for a tx from a peer (from_peer: its ID, not relayed back to it,
 * and a refusal is not counted as an RPC rejection). */
int node_add_tx(node *n, tx_t *tx, const char *from_peer, core_errbuf *eb);
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
/* The committed account and its next free nonce, pending txs counted: the
 * account is read under mp_lock, so the store is at least as new as the
 * mempool's last update (state_commit comes before mempool_update), and
 * pending txs the store already holds are not counted twice. */
int nr_account_next_nonce(node *n, const uint8_t id[20], uint64_t *crd, uint64_t *stk,
                          uint64_t *nonce, uint64_t *next);
void nr_mempool_stats(node *n, size_t *count, size_t *bytes);
/* RPC helpers shared by node_rpc*.c. */
json_t *nr_param(json_t *params, const char *name, size_t pos);
/* A coh1... address parameter into id; -1 after answering the call with
 * invalid params naming it. */
int nr_get_addr(rpc_call *c, json_t *v, const char *name, uint8_t id[20]);
int nr_check_names(rpc_call *c, json_t *params, const char *const *names);
json_t *nr_hexj(const uint8_t *b, size_t n);
json_t *nr_amount(uint64_t v);
json_t *nr_addrj(const uint8_t id[20]);
int nr_get_hash(rpc_call *c, json_t *v, const char *name, uint8_t out[32]);
/* Staking methods (node_rpc_staking.c); one validator's JSON (cur: V_{h+1}
 * for "in_set", may be NULL). */
extern const rpc_method node_rpc_staking_methods[];
extern const size_t node_rpc_staking_n_methods;
json_t *nr_validator_json(node *n, const Cohort__ValidatorInfo *v, const Cohort__ValidatorSet *cur);
/* Market methods (node_rpc_market.c). */
extern const rpc_method node_rpc_market_methods[];
extern const size_t node_rpc_market_n_methods;
/* Governance methods (node_rpc_gov.c). */
extern const rpc_method node_rpc_gov_methods[];
extern const size_t node_rpc_gov_n_methods;
extern const rpc_method node_rpc_methods[];
extern const size_t node_rpc_n_methods;
char *node_metrics(void *ctx);
/* compute_simulate's counters for /metrics (malloc'd text), and its limits
 * from the config (node_run, before the RPC server starts). */
char *node_rpc_market_metrics(void);
void node_rpc_market_config(const node_config *cfg);

#endif
