/* node/node_executor.c — cohortd's [executor] section: the executor engine
 * (executor/executor.h) on a thread of its own, serving one account's
 * committee seats (and, with watch_bps, watching) through this node's own
 * JSON-RPC over loopback, exactly as `cohort executor run` would from
 * outside. The node stays pure: the engine reads and sends through the RPC
 * server like any client, and nothing of the node's state is shared.
 *
 * Lifecycle: node_executor_prepare (node thread, with the rest of the
 * start: an unreadable key stops the start) loads the key and makes the
 * handle; node_executor_start (after the RPC server and the p2p switch are
 * up, just before the loop runs) starts the thread; the engine waits for its registration
 * if the account is not registered yet (the operator registers through
 * this very node). node_executor_stop (node thread, at shutdown, before the
 * RPC server closes) asks the engine to stop and keeps the node's loop
 * turning until the thread says it is done, so that calls it has in flight
 * (a broadcast answered on the node thread) are answered rather than left
 * to time out; then joins and frees it. If the engine ends by itself (an
 * error it cannot retry, such as a node of another chain in `node`), the
 * node logs it and carries on without it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/keys.h"
#include "core/log.h"
#include "executor/executor.h"
#include "node/node_int.h"

#define MOD "executor"

static void *engine_main(void *arg) {
  node *n = arg;
  core_errbuf eb = {{0}};
  int rc = executor_run(n->ex, &eb);
  if (rc)
    LOGE(MOD, "the executor engine stopped: %s (%s); the node carries on without it",
         eb.msg[0] ? eb.msg : core_err_str(rc), core_err_name(rc));
  atomic_store(&n->ex_done, 1);
  uv_async_send(&n->ex_async);
  return NULL;
}

static void on_engine_done(uv_async_t *a) { (void)a; /* node_executor_stop reads ex_done */ }

/* The node's own RPC address from [rpc] listen: a wildcard address is
 * reached on loopback. */
static void own_rpc_url(const char *listen, char *out, size_t cap) {
  if (!strncmp(listen, "0.0.0.0:", 8)) snprintf(out, cap, "http://127.0.0.1:%s", listen + 8);
  else if (!strncmp(listen, "[::]:", 5)) snprintf(out, cap, "http://[::1]:%s", listen + 5);
  else snprintf(out, cap, "http://%s", listen);
}

int node_executor_prepare(node *n, core_errbuf *eb) {
  const node_config *c = &n->cfg;
  if (!c->executor_enabled) return COHORT_OK;
  char path[PATH_MAX + 1200], dir[PATH_MAX + 1200];
  const char *name = c->executor_key;
  if (strchr(name, '/')) snprintf(path, sizeof path, "%s", name);
  else snprintf(path, sizeof path, "%s/keys/%s.json", n->home, name);
  if (!strchr(name, '/') && access(path, F_OK) != 0)
    return core_errf(eb, COHORT_ERR_CONFIG, "[executor] key = %.60s: there is no %.120s "
                     "(create it with: cohort keys new %.60s --home %.120s)", name, path, name,
                     n->home);
  core_key k;
  int rc = core_keyfile_read(path, &k, eb);
  if (rc) return rc;
  if (k.is_ed25519) {
    core_key_wipe(&k);
    return core_errf(eb, COHORT_ERR_CONFIG, "[executor] key = %.60s is an ed25519 key; an "
                     "executor is an account (secp256k1) key", name);
  }
  /* the nodes: [executor] node, or this node's RPC */
  char urls[EXECUTOR_MAX_NODES][EXECUTOR_NODE_URL_MAX];
  const char *nodes[EXECUTOR_MAX_NODES];
  size_t nn = 0;
  if (!c->executor_node[0]) {
    own_rpc_url(c->rpc_listen, urls[0], sizeof urls[0]);
    nodes[nn++] = urls[0];
  } else {
    for (const char *p = c->executor_node; *p && nn < EXECUTOR_MAX_NODES;) {
      size_t len = strcspn(p, ",");
      snprintf(urls[nn], sizeof urls[nn], "%.*s", (int)len, p);
      nodes[nn] = urls[nn];
      nn++;
      p += len;
      if (*p == ',') p++;
    }
  }
  if (c->executor_state_dir[0]) {
    snprintf(dir, sizeof dir, "%s", c->executor_state_dir);
  } else { /* HOME/executor/ADDRESS, as `cohort executor run` with this home */
    uint8_t id[20];
    char addr[CORE_ADDR_STR_MAX];
    core_account_id(id, k.pub);
    core_addr_encode(addr, id);
    snprintf(dir, sizeof dir, "%s/executor", n->home);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
      core_key_wipe(&k);
      return core_errf(eb, COHORT_ERR_IO, "cannot create %.200s: %s", dir, strerror(errno));
    }
    snprintf(dir, sizeof dir, "%s/executor/%s", n->home, addr);
  }
  executor_config ec = {.key = &k,
                        .nodes = nodes,
                        .n_nodes = nn,
                        .state_dir = dir,
                        .capacity = c->executor_capacity,
                        .poll_ms = c->executor_poll_ms,
                        .watch_bps = c->executor_watch_bps,
                        .wait_for_registration = 1};
  core_errbuf xeb = {{0}};
  rc = executor_new(&ec, &n->ex, &xeb);
  core_key_wipe(&k);
  if (rc) return core_errf(eb, rc, "[executor]: %s", xeb.msg);
  snprintf(n->ex_via, sizeof n->ex_via, "%.400s%s", nodes[0], nn > 1 ? " and failover nodes" : "");
  snprintf(n->ex_dir, sizeof n->ex_dir, "%s", dir);
  return COHORT_OK;
}

void node_executor_start(node *n) {
  if (!n->ex) return;
  atomic_store(&n->ex_done, 0);
  if (uv_async_init(n->loop, &n->ex_async, on_engine_done)) {
    LOGE(MOD, "cannot make the executor engine's wake-up handle: running without it");
    executor_free(n->ex);
    n->ex = NULL;
    return;
  }
  if (pthread_create(&n->ex_thread, NULL, engine_main, n)) {
    LOGE(MOD, "cannot start the executor engine's thread: running without it");
    uv_close((uv_handle_t *)&n->ex_async, NULL);
    executor_free(n->ex);
    n->ex = NULL;
    return;
  }
  n->ex_started = 1;
  LOGI(MOD, "executor engine started for %s via %s (state in %s)", executor_address(n->ex),
       n->ex_via, n->ex_dir);
}

void node_executor_stop(node *n) {
  if (!n->ex) return;
  if (!n->ex_started) { /* prepared, never started (a failed start of the node) */
    executor_free(n->ex);
    n->ex = NULL;
    return;
  }
  executor_stop(n->ex);
  /* Keep the loop turning meanwhile: a broadcast the engine has in flight
   * is answered on this thread (with "shutting down", as stopping is set). */
  while (!atomic_load(&n->ex_done)) uv_run(n->loop, UV_RUN_ONCE);
  pthread_join(n->ex_thread, NULL);
  executor_free(n->ex);
  n->ex = NULL;
  n->ex_started = 0;
  LOGI(MOD, "executor engine stopped");
}
