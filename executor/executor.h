/* executor/executor.h — the executor engine: serves an executor account's
 * committee seats, plays its verification games and (optionally) watches
 * agreed tasks, through one or more nodes' JSON-RPC. Used by `cohort
 * executor run`, `cohort watch` and cohortd's [executor] section.
 *
 * A seat (one task where this account holds an unreplaced member seat;
 * the listing comes from task_list with executor = our address):
 *
 *   LISTED ──(commit window, free capacity: program + input fetched and
 *     │      hashed against the task, VM started on a worker thread)
 *     ▼
 *   RUNNING ──(run ends: claim, salt, output and output proof written to
 *     │        STATE_DIR/<task_id>.json: temp file, fsync, rename, fsync
 *     │        of the directory)──► READY           (failure: back to
 *     ▼                                              LISTED after 5 s)
 *   READY ──(CommitResult signed and sent to every node; resent every 3 s
 *     │      until the chain lists us as committed)
 *     ▼
 *   COMMITTED ──(reveal window: RevealResult from the file, resent every
 *     │          3 s until revealed)
 *     ▼
 *   REVEALED ── the task leaves our listing (agreed, final, disputed,
 *               expired); the record of a seat no longer listed is
 *               forgotten, its file stays on disk.
 *
 * What each state guarantees: READY means the claim and its salt are on
 * disk before any commitment leaves the process, so a restart (same
 * STATE_DIR) finds the file, treats the seat as READY and neither loses the
 * salt nor computes (or commits) a second time. A seat is never RUNNING
 * without its program and input having hashed to what the task names: a
 * node is not trusted to serve the right bytes.
 *
 * A game play (a disputed task where this account is the defender, the
 * challenger seat or the outside challenger) holds one slot of at most
 * EXECUTOR_MAX_PLAYS:
 *
 *   FREE ──(the game is seen: program and input fetched and checked)──►
 *   BUILDING (a traced re-run on a thread of its own; the slot belongs to
 *             that thread) ──(trace complete)──► READY (the poll loop
 *             answers every query from the trace: bisect hashes, the first
 *             differing part, the one-step proof) ──(evicted, oldest first,
 *             when a new game needs a slot; or the watcher's check
 *             passed)──► FREE
 *
 * Only READY slots are evicted, so a re-run is never thrown away half done.
 *
 * Threads and ownership. executor_run blocks its caller (the "poll
 * thread") until executor_stop; every RPC call, every transaction and
 * every log line about a node is made there. Worker threads (one per
 * RUNNING seat, at most `capacity`; one per BUILDING play) touch only their
 * own seat or slot and the shared flags under the handle's mutex, and end
 * soon after executor_stop (VM runs are cut into slices that check it).
 * executor_run returns only when every worker it started has ended, so
 * after it returns nothing runs on behalf of the handle. The handle owns
 * every piece of its state: there is no global or static mutable state in
 * this module, and two handles in one process are independent (each with
 * its own key, nodes, state directory and threads).
 *
 * Fault injection (byzantine, lie_from_step, silent_in_games) is for tests:
 * executor_run refuses it (COHORT_ERR_UNSUPPORTED) unless the chain ID is a
 * test one (cohort-devnet-*, cohort-testnet-*, cohort-localnet-*).
 *
 * Logging: every line goes through config.log (called from the poll thread
 * and from worker threads, so it must be thread-safe), or core_log with
 * module "executor" when config.log is NULL. The engine never prints.
 */
#ifndef COHORT_EXECUTOR_EXECUTOR_H
#define COHORT_EXECUTOR_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/keys.h"

#define EXECUTOR_MAX_NODES 8
#define EXECUTOR_MAX_PLAYS 8
#define EXECUTOR_NODE_URL_MAX 512
#define EXECUTOR_CAPACITY_MAX 4096

typedef struct executor executor;

typedef enum {
  EXECUTOR_LOG_DEBUG = 0,
  EXECUTOR_LOG_INFO,
  EXECUTOR_LOG_WARN,
  EXECUTOR_LOG_ERROR
} executor_log_level;

/* One log line (no trailing newline; borrowed for the call). */
typedef void (*executor_log_fn)(void *arg, executor_log_level level, const char *line);

typedef struct {
  /* The account: a secp256k1 key, borrowed (copied by executor_new, the
   * copy wiped by executor_free). Required. */
  const core_key *key;
  /* The nodes' RPC addresses, "http://HOST:PORT[/]" or a bare "HOST:PORT"
   * (as cohortd.conf writes it): 1..EXECUTOR_MAX_NODES, each shorter than
   * EXECUTOR_NODE_URL_MAX, borrowed (copied). Calls go to the current node
   * and fail over to the next; commits, reveals and moves go to every node.
   * Every node must serve the same chain (genesis hash checked). */
  const char *const *nodes;
  size_t n_nodes;
  /* Where claims are kept (borrowed, copied; created if missing, its
   * parent must exist). Required unless watch_only. */
  const char *state_dir;
  uint64_t capacity;   /* seats computed at once; 0: the capacity registered on
                        * chain (2 if that is 0); at most EXECUTOR_CAPACITY_MAX */
  uint64_t poll_ms;    /* between listings; 0: 500; otherwise at least 50 */
  uint64_t timeout_ms; /* per RPC call; 0: 60000 */
  uint64_t watch_bps;  /* 0..10000: share of agreed tasks re-run and challenged
                        * when wrong (10000: all of them) */
  int watch_only;      /* no seats and no registration needed: a watcher */
  /* While the account is not a registered executor: 0 = executor_run fails
   * with COHORT_ERR_NOT_FOUND; 1 = log it once and check again every few
   * seconds (cohortd, whose operator registers through the running node). */
  int wait_for_registration;
  /* Fault injection, test chains only (see above). */
  int byzantine;          /* compute on a corrupted input, play from that run */
  uint64_t lie_from_step; /* >= 1: the state after this step is wrong (0: off) */
  int silent_in_games;    /* never move in a game */
  executor_log_fn log; /* NULL: core_log(level, "executor", ...) */
  void *log_arg;
} executor_config;

/* Check cfg and make a handle; nothing is contacted yet. Creates
 * cfg->state_dir (mode 0700) if it does not exist.
 * Returns 0 with *out set, or (*out NULL, eb says which field and why):
 *   COHORT_ERR_INVALID  a field out of range (no key, an ed25519 key, no
 *                       node or too many, a URL too long, poll_ms < 50,
 *                       watch_bps > 10000, capacity too large, no state_dir)
 *   COHORT_ERR_IO       state_dir cannot be created
 *   COHORT_ERR_NOMEM */
int executor_new(const executor_config *cfg, executor **out, core_errbuf *eb);

/* Serve until executor_stop. Call at most once per handle, from one thread.
 * Waits (backing off up to 30 s, logging once) while no node answers.
 * Returns 0 when stopped (also if stopped before any node answered), or:
 *   COHORT_ERR_CHAIN_ID     a node serves another chain than the others
 *                           (eb names it): give only nodes of one chain
 *   COHORT_ERR_UNSUPPORTED  fault injection on a chain that is not a test one
 *   COHORT_ERR_NOT_FOUND    the account is not a registered executor (and
 *                           wait_for_registration is 0)
 *   COHORT_ERR_IO, or a negative JSON-RPC code: the node's answer to
 *                           executor_get at start (eb has it)
 * Once serving, node and transaction failures are logged and retried,
 * never returned. Before returning, waits for its worker threads to end. */
int executor_run(executor *ex, core_errbuf *eb);

/* Ask executor_run to return (it does within about half a second, plus the
 * RPC call under way, if any). Async-signal-safe and thread-safe: it only
 * sets an atomic flag. May be called before executor_run (which then
 * returns 0 at once) and more than once. */
void executor_stop(executor *ex);

/* The chain ID the nodes serve, once one answered ("" before). For
 * messages after executor_run returned. Borrowed from the handle. */
const char *executor_chain_id(const executor *ex);

/* The account's address (coh1...). Borrowed from the handle. */
const char *executor_address(const executor *ex);

/* Free the handle (NULL is fine). Not while executor_run runs: stop it and
 * let it return first. Wipes the key copy. */
void executor_free(executor *ex);

#endif
