/* executor/executor_int.h — the handle and the pieces of the engine,
 * private to executor/. Which thread may touch what is said per field:
 * "poll" = the thread in executor_run only; "mu" = under ex->mu; "const" =
 * set by executor_new and never changed. */
#ifndef COHORT_EXECUTOR_INT_H
#define COHORT_EXECUTOR_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "core/bech32.h"
#include "executor/executor.h"
#include "proto/cohort.pb-c.h"
#include "vm/vm.h"

/* A commit/reveal not yet on chain is sent again after this many seconds:
 * a tx lost after a node took it (evicted, or the node restarted) must not
 * cost a window. A copy sent while the first is still pending is refused by
 * the mempool (one commit/reveal per task and sender), at no cost. */
#define EX_RESEND_S 3
#define EX_WATCHED_MAX 1024 /* tasks the watcher remembers having checked */
#define EX_PATH_MAX 4200

/* Seat states (executor.h): LISTED is 0, COMMITTED and REVEALED are what
 * the chain's listing says about a READY seat. */
enum { EX_SEAT_LISTED = 0, EX_SEAT_RUNNING, EX_SEAT_READY, EX_SEAT_FAILED };

typedef struct {
  char task_id[65];
  int state;       /* mu */
  char err[200];   /* mu: why the run failed (EX_SEAT_FAILED) */
  uint8_t *elf, *input; /* owned by the worker while RUNNING */
  size_t elf_len, input_len;
  cohort_vm_config cfg;
  uint8_t want_initial[32];
  char path[EX_PATH_MAX]; /* STATE_DIR/<task_id>.json */
  time_t commit_sent, reveal_sent; /* poll */
  time_t retry_at; /* after a failure, not before this (mu) */
  int listed;      /* seen in the latest listing (mu) */
} ex_seat;

/* Game play slots (executor.h): the state is under mu; a BUILDING slot's
 * other fields belong to its thread, a READY slot's to the poll thread. */
enum { EX_PLAY_FREE = 0, EX_PLAY_BUILDING, EX_PLAY_READY };

typedef struct {
  char task_id[65];
  cohort_vm *vm;
  cohort_vm_trace *tr;
  cohort_vm *vm2;          /* lie_from_step: the run from the wrong state */
  cohort_vm_trace *tr2;
  uint64_t lie;            /* steps >= lie come from tr2 */
  int st;                  /* EX_PLAY_* (mu) */
  char sent_key[160];      /* the last move sent: game/phase/round/lo/hi */
  time_t sent_at;
  uint64_t used;           /* for eviction */
} ex_play;

enum { EX_NODE_UNKNOWN = 0, EX_NODE_OK, EX_NODE_REFUSED };

struct executor {
  /* const */
  core_key key;
  uint8_t me[20];
  char addr[CORE_ADDR_STR_MAX];
  char nodes[EXECUTOR_MAX_NODES][EXECUTOR_NODE_URL_MAX];
  int n_nodes;
  char state_dir[4096];
  uint64_t capacity_cfg, poll_ms, timeout_ms, watch_bps;
  int watch_only, wait_registered, byzantine, silent_games;
  uint64_t lie_from;
  executor_log_fn log;
  void *log_arg;

  atomic_int stop; /* executor_stop: any thread, signal handlers */
  int ran;         /* poll: executor_run was called */

  /* nodes (poll) */
  int node_state[EXECUTOR_MAX_NODES];
  int cur;
  char genesis_ref[80], chain_ref[80];
  int all_down;       /* no node answered the last call */
  unsigned backoff_s; /* between polls while all_down */
  uint64_t capacity;  /* in force: capacity_cfg or the registered one */

  /* shared with the workers (mu) */
  pthread_mutex_t mu;
  pthread_cond_t idle; /* signalled when a worker ends */
  int threads;         /* workers running */
  int wake;            /* a worker finished: poll now */
  ex_seat **seats;     /* pointers stay valid while workers use them */
  size_t nseats, capseats;
  ex_play plays[EXECUTOR_MAX_PLAYS];
  uint64_t play_clock;

  /* the watcher (poll) */
  char watched[EX_WATCHED_MAX][65]; /* a ring */
  size_t nwatched;
};

/* executor_run.c */
void ex_log(executor *ex, executor_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t ex_mono_ms(void);
static inline int ex_stopping(executor *ex) { return atomic_load(&ex->stop) != 0; }
/* Start fn(arg) on a detached worker thread counted in ex->threads (it must
 * end with ex_thread_done). 0, or -1 if no thread could be made. */
int ex_thread_start(executor *ex, void *(*fn)(void *), void *arg);
/* The last thing a worker does, with ex->mu held: count it out, wake the
 * poll loop, and unlock. */
void ex_thread_done_locked(executor *ex);

/* executor_rpc.c — the node list: genesis check, failover, backoff */
const char *ex_clean(executor *ex, int i, const char *msg, char *out, size_t cap);
int ex_node_usable(executor *ex, int i, core_errbuf *eb);
void ex_failover(executor *ex, const char *why);
/* A call to the current node, failing over when it cannot be reached; p
 * (may be NULL) is stolen. 0 with *r a new reference, or an error (logged
 * unless quiet). An answer with an RPC error is final (the node says no). */
int ex_call(executor *ex, const char *method, json_t *p, json_t **r, int quiet);
/* Sign b (nonce and fee from the nodes) and send it to every node; the
 * number of nodes that took it, or -1 (logged). */
int ex_sign_and_send(executor *ex, Cohort__TxBody *b, const char *what, const char *task);

/* executor_task.c — a task's program and input, and the runs made from them */
int ex_hex32(json_t *o, const char *field, uint8_t out[32]);
uint8_t *ex_b64(json_t *o, const char *field, size_t *len);
uint64_t ex_u64(json_t *o, const char *field);
/* Fetch the task's program and input (blob_get, task_input) and check they
 * hash to what the task names; on a mismatch fails over to the next node.
 * With byzantine, the input is corrupted after the check. The VM config
 * comes from the task. 0 with *elf and *input malloc'd, or -1 (logged). */
int ex_fetch_task(executor *ex, json_t *task, const char *id, const char *what, uint8_t **elf,
                  size_t *elf_len, uint8_t **input, size_t *input_len, cohort_vm_config *cfg);
/* Run vm up to n more steps (UINT64_MAX: until it halts) in slices that
 * check executor_stop, through trace tr when it is not NULL. *done (may be
 * NULL) gets the steps run. 0, -1 if stopped first, -2 if the trace ran
 * out of memory. */
int ex_run(executor *ex, cohort_vm *vm, cohort_vm_trace *tr, uint64_t n, uint64_t *done);
/* lie_from_step: vm is at the lie's step, running. *out gets the wrong
 * machine to continue from (NULL: no flipped register changes the final
 * state, no lie) and *reg the register flipped. 0 or -1 (no memory,
 * stopped). */
int ex_lie_at(executor *ex, cohort_vm *vm, cohort_vm **out, unsigned *reg);

/* executor_seat.c — seats: run, claim file, commit, reveal */
void ex_seats_unlist(executor *ex);      /* before a poll: mark every seat unlisted */
void ex_seats_forget(executor *ex);      /* drop finished seats no longer listed */
void ex_seats_free(executor *ex);
/* Handle one listing ("committing" when revealing is 0, "revealing"). */
void ex_seats_serve(executor *ex, json_t *list, int revealing, int *running);

/* executor_play.c — verification game moves */
/* The READY slot of task id, or NULL: then a re-run is started (if none is
 * under way and a slot is free or a READY one can be evicted). */
ex_play *ex_play_for(executor *ex, json_t *task, const char *id);
void ex_play_drop_locked(ex_play *p);
void ex_plays_free(executor *ex);
int ex_play_hash(ex_play *p, uint64_t step, uint8_t out[32]);
/* Make our moves in the disputed tasks of `list`. */
void ex_play_list(executor *ex, json_t *list);

/* executor_watch.c — re-run agreed tasks, challenge wrong results */
void ex_watch_list(executor *ex, json_t *list);

#endif
