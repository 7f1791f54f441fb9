/* executor/executor_run.c — the handle and its poll loop.
 *
 * executor_run: wait for a node (backing off while none answers), check
 * the chain (one genesis for every node; fault injection only on test
 * chains) and the registration, then loop until executor_stop. Each turn
 * (every poll_ms, or at once on a WebSocket event or when a worker ends):
 * list our seats in the commit and reveal windows (executor_seat.c), the
 * games waiting for us (executor_play.c), and, when watching, the agreed
 * tasks and every game (executor_watch.c); every 5 s, say when this
 * executor cannot be drawn (jailed, not accepting, stake below the
 * minimum) and re-register it once a jail is over. Assignments arrive as
 * WebSocket events (topic "task", filtered on our address) from the
 * current node; polling is the fallback and the truth. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/parse.h"
#include "executor/executor_int.h"
#include "rpc/rpc.h"

/* ---- logging, time, threads ---- */

void ex_log(executor *ex, executor_log_level lvl, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (ex->log) {
    ex->log(ex->log_arg, lvl, line);
    return;
  }
  static const core_log_level map[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
  core_log(map[lvl <= EXECUTOR_LOG_ERROR ? lvl : EXECUTOR_LOG_ERROR], "executor", "%s", line);
}

uint64_t ex_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep ms, in slices that notice executor_stop. */
static void ex_sleep(executor *ex, uint64_t ms) {
  for (uint64_t t = 0; t < ms && !ex_stopping(ex); t += 100) usleep(100000);
}

int ex_thread_start(executor *ex, void *(*fn)(void *), void *arg) {
  pthread_attr_t at;
  pthread_t th;
  if (pthread_attr_init(&at)) return -1;
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_mutex_lock(&ex->mu);
  ex->threads++;
  pthread_mutex_unlock(&ex->mu);
  int rc = pthread_create(&th, &at, fn, arg);
  pthread_attr_destroy(&at);
  if (rc) {
    pthread_mutex_lock(&ex->mu);
    ex->threads--;
    pthread_mutex_unlock(&ex->mu);
    return -1;
  }
  return 0;
}

void ex_thread_done_locked(executor *ex) {
  ex->threads--;
  ex->wake = 1;
  pthread_cond_broadcast(&ex->idle);
  pthread_mutex_unlock(&ex->mu);
}

/* ---- the handle ---- */

int executor_new(const executor_config *cfg, executor **out, core_errbuf *eb) {
  *out = NULL;
  if (!cfg->key || cfg->key->is_ed25519)
    return core_errf(eb, COHORT_ERR_INVALID, "the executor needs an account (secp256k1) key");
  if (cfg->n_nodes < 1 || cfg->n_nodes > EXECUTOR_MAX_NODES || !cfg->nodes)
    return core_errf(eb, COHORT_ERR_INVALID, "give 1 to %d nodes (got %zu)", EXECUTOR_MAX_NODES,
                     cfg->n_nodes);
  if (cfg->poll_ms && cfg->poll_ms < 50)
    return core_errf(eb, COHORT_ERR_INVALID, "poll_ms must be at least 50, got %llu",
                     (unsigned long long)cfg->poll_ms);
  if (cfg->watch_bps > 10000)
    return core_errf(eb, COHORT_ERR_INVALID, "watch_bps must be 0 to 10000, got %llu",
                     (unsigned long long)cfg->watch_bps);
  if (cfg->capacity > EXECUTOR_CAPACITY_MAX)
    return core_errf(eb, COHORT_ERR_INVALID, "capacity must be at most %d, got %llu",
                     EXECUTOR_CAPACITY_MAX, (unsigned long long)cfg->capacity);
  if (!cfg->watch_only && (!cfg->state_dir || !cfg->state_dir[0]))
    return core_errf(eb, COHORT_ERR_INVALID, "the executor needs a state directory");
  if (cfg->state_dir && strlen(cfg->state_dir) >= 4000)
    return core_errf(eb, COHORT_ERR_INVALID, "the state directory's path is too long");
  executor *ex = calloc(1, sizeof *ex);
  if (!ex) return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const char *v = cfg->nodes[i];
    /* a bare HOST:PORT, as cohortd.conf writes it, means http:// */
    int n = snprintf(ex->nodes[i], sizeof ex->nodes[i], "%s%s",
                     strstr(v, "://") ? "" : "http://", v);
    if (!v[0] || n < 0 || (size_t)n >= sizeof ex->nodes[i]) {
      free(ex);
      return core_errf(eb, COHORT_ERR_INVALID, "node address %zu is empty or longer than %d "
                       "characters", i + 1, EXECUTOR_NODE_URL_MAX - 1);
    }
  }
  ex->n_nodes = (int)cfg->n_nodes;
  if (cfg->state_dir) {
    snprintf(ex->state_dir, sizeof ex->state_dir, "%s", cfg->state_dir);
    if (mkdir(ex->state_dir, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      free(ex);
      return core_errf(eb, COHORT_ERR_IO, "cannot create %s: %s", cfg->state_dir, strerror(e));
    }
  }
  if (pthread_mutex_init(&ex->mu, NULL)) {
    free(ex);
    return core_errf(eb, COHORT_ERR_NOMEM, "cannot make a mutex");
  }
  if (pthread_cond_init(&ex->idle, NULL)) {
    pthread_mutex_destroy(&ex->mu);
    free(ex);
    return core_errf(eb, COHORT_ERR_NOMEM, "cannot make a condition variable");
  }
  ex->key = *cfg->key;
  core_account_id(ex->me, ex->key.pub);
  core_addr_encode(ex->addr, ex->me);
  ex->capacity_cfg = cfg->capacity;
  ex->poll_ms = cfg->poll_ms ? cfg->poll_ms : 500;
  ex->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 60000;
  ex->watch_bps = cfg->watch_bps;
  ex->watch_only = cfg->watch_only;
  ex->wait_registered = cfg->wait_for_registration;
  ex->byzantine = cfg->byzantine;
  ex->lie_from = cfg->lie_from_step;
  ex->silent_games = cfg->silent_in_games;
  ex->log = cfg->log;
  ex->log_arg = cfg->log_arg;
  atomic_init(&ex->stop, 0);
  *out = ex;
  return COHORT_OK;
}

void executor_stop(executor *ex) { atomic_store(&ex->stop, 1); }

const char *executor_chain_id(const executor *ex) { return ex->chain_ref; }

const char *executor_address(const executor *ex) { return ex->addr; }

void executor_free(executor *ex) {
  if (!ex) return;
  ex_seats_free(ex);
  ex_plays_free(ex);
  pthread_cond_destroy(&ex->idle);
  pthread_mutex_destroy(&ex->mu);
  core_key_wipe(&ex->key);
  free(ex);
}

/* ---- start: a node, the chain, the registration ---- */

/* Wait until a node answers. 0 (or stopped), or COHORT_ERR_CHAIN_ID. */
static int wait_for_node(executor *ex, core_errbuf *eb) {
  for (unsigned wait_s = 1, logged = 0; !ex_stopping(ex);) {
    core_errbuf neb = {{0}}, first = {{0}};
    int up = -1;
    for (int i = 0; i < ex->n_nodes; i++) {
      if (ex_node_usable(ex, i, &neb)) {
        if (up < 0) up = i;
      } else if (ex->node_state[i] != EX_NODE_REFUSED && !first.msg[0]) {
        ex_clean(ex, i, neb.msg, first.msg, sizeof first.msg);
      }
    }
    for (int i = 0; i < ex->n_nodes; i++)
      if (ex->node_state[i] == EX_NODE_REFUSED)
        return core_errf(eb, COHORT_ERR_CHAIN_ID, "%.120s does not serve the chain the other "
                         "--node addresses serve (%.40s, genesis %.16s..): give only nodes of "
                         "one chain", ex->nodes[i], ex->chain_ref, ex->genesis_ref);
    if (up >= 0) {
      ex->cur = up;
      if (logged) ex_log(ex, EXECUTOR_LOG_INFO, "node %s answers: starting", ex->nodes[ex->cur]);
      return 0;
    }
    if (!logged++)
      ex_log(ex, EXECUTOR_LOG_WARN,
             "cannot reach %s%s (%s); retrying, backing off up to 30 s between tries",
             ex->nodes[0], ex->n_nodes > 1 ? " or the other --node addresses" : "", first.msg);
    ex_sleep(ex, wait_s * 1000);
    wait_s = wait_s * 2 > 30 ? 30 : wait_s * 2;
  }
  return 0;
}

static int is_test_chain(const char *c) {
  return !strncmp(c, "cohort-devnet-", 14) || !strncmp(c, "cohort-testnet-", 15) ||
         !strncmp(c, "cohort-localnet-", 16);
}

/* Our registration (executor_get), waiting for it if asked to. 0 with *e
 * set (NULL if stopped first), or an error. */
static int get_registration(executor *ex, json_t **e, core_errbuf *eb) {
  char last[300] = "";
  *e = NULL;
  while (!ex_stopping(ex)) {
    core_errbuf reb = {{0}};
    json_t *p = json_pack("{s:s}", "address", ex->addr);
    int rc = rpc_client_call(ex->nodes[ex->cur], "executor_get", p, ex->timeout_ms, e, NULL, &reb);
    json_decref(p);
    if (!rc) return 0;
    char w[300], msg[300];
    if (rc == RPC_NOT_FOUND) {
      rc = COHORT_ERR_NOT_FOUND;
      snprintf(msg, sizeof msg, "%s is not a registered executor", ex->addr);
    } else {
      if (rc > -32000 || rc < -32768) rc = COHORT_ERR_IO;
      snprintf(msg, sizeof msg, "%.120s: %.170s", ex->nodes[ex->cur],
               ex_clean(ex, ex->cur, reb.msg, w, sizeof w));
    }
    if (!ex->wait_registered) return core_errf(eb, rc, "%s", msg);
    if (strcmp(msg, last)) { /* once per reason */
      if (rc == COHORT_ERR_NOT_FOUND)
        ex_log(ex, EXECUTOR_LOG_WARN, "%s yet: waiting for its registration (cohort executor "
               "register --stake N --price P --capacity C --from KEY)", msg);
      else
        ex_log(ex, EXECUTOR_LOG_WARN, "cannot read this executor's registration (%s); trying "
               "again every 5 s", msg);
      snprintf(last, sizeof last, "%s", msg);
    }
    ex_sleep(ex, 5000);
  }
  return 0;
}

/* Everything before the loop. 0 and *go = 1 to serve; 0 and *go = 0 when
 * stopped meanwhile; or an error. */
static int start(executor *ex, int *go, core_errbuf *eb) {
  int rc;
  *go = 0;
  if ((rc = wait_for_node(ex, eb)) || ex_stopping(ex)) return rc;
  if ((ex->byzantine || ex->lie_from || ex->silent_games) && !is_test_chain(ex->chain_ref))
    return core_errf(eb, COHORT_ERR_UNSUPPORTED, "fault injection is refused on chain %.60s: "
                     "only devnet, testnet and localnet chains (cohort-devnet-*, "
                     "cohort-testnet-*, cohort-localnet-*) allow it", ex->chain_ref);
  json_t *e = NULL;
  if (ex->watch_only) {
    ex_log(ex, EXECUTOR_LOG_INFO, "%s watching via %s%s (chain %s): re-running %llu/10000 of "
           "agreed tasks, challenging wrong results", ex->addr, ex->nodes[ex->cur],
           ex->n_nodes > 1 ? " and failover nodes" : "", ex->chain_ref,
           (unsigned long long)ex->watch_bps);
    ex->capacity = 0;
    *go = 1;
    return 0;
  }
  if ((rc = get_registration(ex, &e, eb)) || !e) return rc;
  uint64_t chain_cap = (uint64_t)json_integer_value(json_object_get(e, "capacity"));
  ex->capacity = ex->capacity_cfg ? ex->capacity_cfg : chain_cap ? chain_cap : 2;
  if (ex->byzantine)
    ex_log(ex, EXECUTOR_LOG_WARN, "BYZANTINE MODE: results will be wrong on purpose (fault "
           "injection)");
  if (ex->lie_from)
    ex_log(ex, EXECUTOR_LOG_WARN, "LYING MODE: results wrong from step %llu on purpose (fault "
           "injection)", (unsigned long long)ex->lie_from);
  if (ex->silent_games)
    ex_log(ex, EXECUTOR_LOG_WARN, "SILENT MODE: this executor never moves in a game (fault "
           "injection)");
  char stk[CORE_TOKENS_MAX];
  ex_log(ex, EXECUTOR_LOG_INFO, "%s serving via %s%s (chain %s) with capacity %llu (registered "
         "%llu); state in %s (stake %s, price %s CRD base units per million steps)", ex->addr,
         ex->nodes[ex->cur], ex->n_nodes > 1 ? " and failover nodes" : "", ex->chain_ref,
         (unsigned long long)ex->capacity, (unsigned long long)chain_cap, ex->state_dir,
         core_fmt_tokens(stk, json_string_value(json_object_get(e, "stake")), "STK"),
         json_string_value(json_object_get(e, "price_per_msteps")));
  json_decref(e);
  *go = 1;
  return 0;
}

/* ---- the loop ---- */

/* Every 5 s: tell the operator when this executor cannot be drawn any
 * more (once per change), and leave a jail that is over. */
static void check_drawable(executor *ex, char *last_warn, size_t cap) {
  json_t *e = NULL, *st = NULL;
  char warn[300] = "";
  if (!ex_call(ex, "executor_get", json_pack("{s:s}", "address", ex->addr), &e, 0) &&
      !ex_call(ex, "status", NULL, &st, 0)) {
    uint64_t stake = 0, min = 0, jailed = 0, height = 0;
    core_parse_u64(json_string_value(json_object_get(e, "stake")), &stake);
    core_parse_u64(json_string_value(json_object_get(json_object_get(st, "params"),
                                                     "min_executor_stake")), &min);
    jailed = (uint64_t)json_integer_value(json_object_get(e, "jailed_until"));
    height = (uint64_t)json_integer_value(json_object_get(st, "latest_height"));
    if (jailed && jailed <= height) {
      /* We are running, so we are back: re-register to leave the jail, at
       * the same prices as registered (capacity 0 keeps it): a jail must
       * not cost the operator its declared per-seat price */
      uint64_t price = 0, per_task = 0;
      core_parse_u64(json_string_value(json_object_get(e, "price_per_msteps")), &price);
      core_parse_u64(json_string_value(json_object_get(e, "price_per_task")), &per_task);
      Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
      m.price_per_msteps = price;
      m.price_per_task = per_task;
      /* and the same commission (docs/staking.md §8): the one in force, or
       * the raise already waiting (restated, it is kept as it is); an
       * unset field would be a cut to 0 at once */
      json_t *cn = json_object_get(e, "commission_next");
      m.commission_bps = (uint32_t)json_integer_value(cn ? cn : json_object_get(e, "commission_bps"));
      m.accepting = 1;
      Cohort__TxBody b = COHORT__TX_BODY__INIT;
      b.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
      b.register_executor = &m;
      ex_log(ex, EXECUTOR_LOG_INFO, "jailed after a missed window until height %llu; that has "
             "passed: registering as accepting again", (unsigned long long)jailed);
      ex_sign_and_send(ex, &b, "re-registration", "(none)");
    } else if (jailed) {
      snprintf(warn, sizeof warn, "WARNING: jailed after a missed window until height %llu: "
               "no new tasks until then; this runner re-registers itself afterwards",
               (unsigned long long)jailed);
    } else if (!json_is_true(json_object_get(e, "accepting"))) {
      snprintf(warn, sizeof warn, "WARNING: registered as not accepting work: no new tasks "
               "will be drawn to us");
    } else if (stake < min) {
      snprintf(warn, sizeof warn, "WARNING: bonded stake %llu is below the minimum %llu: no "
               "new tasks will be drawn to us; bond more with cohort executor register "
               "--stake N", (unsigned long long)stake, (unsigned long long)min);
    }
    if (strcmp(warn, last_warn)) {
      if (warn[0]) ex_log(ex, EXECUTOR_LOG_WARN, "%s", warn);
      else if (last_warn[0]) ex_log(ex, EXECUTOR_LOG_INFO, "can be drawn for new tasks again");
      snprintf(last_warn, cap, "%s", warn);
    }
  }
  json_decref(e);
  json_decref(st);
}

/* One turn: every listing, and what it asks of us. */
static void poll_once(executor *ex, time_t *last_check, char *last_warn, size_t warn_cap) {
  json_t *lists[2] = {NULL, NULL};
  const char *sts[2] = {"committing", "revealing"};
  int running = 0;
  ex_seats_unlist(ex);
  pthread_mutex_lock(&ex->mu);
  for (size_t i = 0; i < ex->nseats; i++) running += ex->seats[i]->state == EX_SEAT_RUNNING;
  pthread_mutex_unlock(&ex->mu);
  for (int s = 0; s < 2 && !ex->watch_only; s++)
    ex_call(ex, "task_list", json_pack("{s:s, s:s, s:i}", "executor", ex->addr, "status", sts[s],
                                       "limit", 1000), &lists[s], 0);
  for (int s = 0; s < 2; s++)
    if (lists[s]) ex_seats_serve(ex, lists[s], s, &running);
  json_t *disputed = NULL; /* games waiting for our move */
  if (!ex->watch_only && !ex_call(ex, "task_list", json_pack("{s:s, s:s, s:i}", "executor",
                                                             ex->addr, "status", "disputed",
                                                             "limit", 1000), &disputed, 0))
    ex_play_list(ex, disputed);
  json_decref(disputed);
  if (ex->watch_bps) { /* the watcher: agreed results, and the games it started */
    json_t *agreed = NULL, *all = NULL;
    if (!ex_call(ex, "task_list", json_pack("{s:s, s:i}", "status", "agreed", "limit", 1000),
                 &agreed, 0))
      ex_watch_list(ex, agreed);
    json_decref(agreed);
    if (!ex_call(ex, "task_list", json_pack("{s:s, s:i}", "status", "disputed", "limit", 1000),
                 &all, 0))
      ex_play_list(ex, all);
    json_decref(all);
  }
  time_t now = time(NULL);
  if (!ex->watch_only && now - *last_check >= 5) {
    *last_check = now;
    check_drawable(ex, last_warn, warn_cap);
  }
  if (lists[0] && lists[1]) ex_seats_forget(ex);
  json_decref(lists[0]);
  json_decref(lists[1]);
}

typedef struct {
  rpc_ws_client *ws;
  int node; /* the node it is connected to */
  time_t retry;
  int logged;
} ws_state;

/* Wait for the next turn: up to about 500 ms on the WebSocket (an event
 * means poll now), or 50 ms without one. 1 if an event came. */
static int wait_event(executor *ex, ws_state *w) {
  if (w->ws && w->node != ex->cur) { /* follow the node we fail over to */
    rpc_ws_close(w->ws);
    w->ws = NULL;
  }
  if (!w->ws && time(NULL) >= w->retry) {
    core_errbuf web = {{0}};
    json_t *f = json_pack("{s:s}", "executor", ex->addr);
    if (rpc_ws_connect(&w->ws, ex->nodes[ex->cur], 3000, &web) == 0 &&
        rpc_ws_subscribe(w->ws, "task", f, &web) == 0) {
      w->node = ex->cur;
      ex_log(ex, EXECUTOR_LOG_INFO, "following assignments over WebSocket on %s (polling every "
             "%llu ms as fallback)", ex->nodes[ex->cur], (unsigned long long)ex->poll_ms);
      w->logged = 0;
    } else {
      rpc_ws_close(w->ws);
      w->ws = NULL;
      w->retry = time(NULL) + 10;
      char c[300];
      if (!w->logged++) /* once until it works again */
        ex_log(ex, EXECUTOR_LOG_INFO, "no WebSocket (%.160s); polling every %llu ms, trying "
               "again every 10 s", ex_clean(ex, ex->cur, web.msg, c, sizeof c),
               (unsigned long long)ex->poll_ms);
    }
    json_decref(f);
  }
  if (!w->ws) {
    usleep(50000);
    return 0;
  }
  json_t *ev = NULL;
  core_errbuf web = {{0}};
  /* short waits so a stop is seen promptly; an event polls at once */
  if (rpc_ws_next(w->ws, 500, &ev, NULL, 0, &web)) {
    char c[300];
    ex_log(ex, EXECUTOR_LOG_WARN, "WebSocket dropped (%s); polling",
           ex_clean(ex, ex->cur, web.msg, c, sizeof c));
    rpc_ws_close(w->ws);
    w->ws = NULL;
    w->retry = time(NULL) + 5;
  }
  int got = ev != NULL;
  json_decref(ev);
  return got;
}

static void loop(executor *ex) {
  ws_state w = {NULL, -1, 0, 0};
  time_t last_check = 0;
  uint64_t last_poll = 0;
  int force = 1;
  char last_warn[300] = "";
  while (!ex_stopping(ex)) {
    if (force || ex_mono_ms() - last_poll >= ex->poll_ms) {
      force = 0;
      last_poll = ex_mono_ms();
      poll_once(ex, &last_check, last_warn, sizeof last_warn);
      if (ex->all_down) { /* no node answers: wait longer each time, up to 30 s */
        rpc_ws_close(w.ws);
        w.ws = NULL;
        ex_sleep(ex, ex->backoff_s * 1000ull);
        ex->backoff_s = ex->backoff_s * 2 > 30 ? 30 : ex->backoff_s * 2;
        force = 1;
        continue;
      }
    }
    pthread_mutex_lock(&ex->mu);
    if (ex->wake) force = 1; /* a claim is ready to commit, a trace to play */
    ex->wake = 0;
    pthread_mutex_unlock(&ex->mu);
    if (force) continue;
    if (wait_event(ex, &w)) force = 1;
  }
  rpc_ws_close(w.ws);
}

int executor_run(executor *ex, core_errbuf *eb) {
  if (ex->ran) return core_errf(eb, COHORT_ERR_INVALID, "executor_run was called already");
  ex->ran = 1;
  int go = 0, rc = start(ex, &go, eb);
  if (!rc && go) {
    loop(ex);
    ex_log(ex, EXECUTOR_LOG_INFO, "stopping");
  }
  /* no worker outlives executor_run: they see the flag within a VM slice */
  atomic_store(&ex->stop, 1);
  pthread_mutex_lock(&ex->mu);
  while (ex->threads) pthread_cond_wait(&ex->idle, &ex->mu);
  pthread_mutex_unlock(&ex->mu);
  return rc;
}
