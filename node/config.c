/* node/config.c — cohortd.conf parsing over inih, strict about names and
 * values. */
#include "node/config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/log.h"
#include "genesis/genesis.h"

#define CONFIG_MAX_BYTES (1 << 20)

void node_config_defaults(node_config *c) {
  memset(c, 0, sizeof *c);
  strcpy(c->moniker, "cohort-node");
  strcpy(c->log_level, "info");
  strcpy(c->rpc_listen, "127.0.0.1:27657");
  c->rpc_max_body_bytes = 5 << 20; /* a 2 MiB tx in hex, with room */
  c->rpc_max_batch = 100;
  c->rpc_max_conns = 256;
  c->rpc_idle_timeout_ms = 10000;
  c->rpc_commit_timeout_ms = 30000;
  c->rpc_max_conns_per_ip = 64;
  c->rpc_max_ws = 128;
  c->rpc_max_ws_per_ip = 32;
  c->rpc_max_inflight_per_ip = 256;
  c->rpc_max_batch_weight = 200;
  c->rpc_max_response_bytes = 16 << 20;
  c->rpc_client_buffer_bytes = 64 << 20;
  c->rpc_max_buffer_bytes = 512 << 20;
  c->rpc_write_timeout_ms = 30000;
  c->rpc_publish_queue = 65536;
  c->sim_max_concurrent = 2;
  c->sim_concurrent_per_ip = 1;
  c->sim_max_steps = 10000000000ull;
  c->sim_max_mem_mib = 256;
  c->sim_steps_per_minute = 10000000000ull;
  c->block_interval_ms = 1000;
  c->empty_block_interval_ms = 0;
  c->timeout_propose_ms = 3000;
  c->timeout_vote_ms = 1000;
  strcpy(c->p2p_listen, "127.0.0.1:26656");
  c->p2p_max_inbound = 40;
  c->p2p_max_outbound = 10;
  c->mempool_max_txs = 50000;
  c->mempool_max_bytes = 64 << 20;
  c->mempool_max_per_sender = 10000;
}

typedef struct {
  const char *section, *name;
  int is_str;
  size_t off, size;
  uint64_t lo, hi;
} field;

#define S(sec, nm, m) {sec, nm, 1, offsetof(node_config, m), sizeof(((node_config *)0)->m), 0, 0}
#define U(sec, nm, m, lo, hi) {sec, nm, 0, offsetof(node_config, m), 0, lo, hi}

static const field fields[] = {
    S("node", "moniker", moniker),
    S("node", "log_level", log_level),
    S("rpc", "listen", rpc_listen),
    U("rpc", "max_body_bytes", rpc_max_body_bytes, 1024, 64u << 20),
    U("rpc", "max_batch", rpc_max_batch, 1, 10000),
    U("rpc", "max_conns", rpc_max_conns, 1, 100000),
    U("rpc", "idle_timeout_ms", rpc_idle_timeout_ms, 100, 3600000),
    U("rpc", "commit_timeout_ms", rpc_commit_timeout_ms, 100, 3600000),
    U("rpc", "max_conns_per_ip", rpc_max_conns_per_ip, 1, 100000),
    U("rpc", "max_ws", rpc_max_ws, 1, 100000),
    U("rpc", "max_ws_per_ip", rpc_max_ws_per_ip, 1, 100000),
    U("rpc", "max_inflight_per_ip", rpc_max_inflight_per_ip, 1, 1000000),
    U("rpc", "max_batch_weight", rpc_max_batch_weight, 1, 1000000),
    U("rpc", "max_response_bytes", rpc_max_response_bytes, 4096, 1ull << 30),
    U("rpc", "client_buffer_bytes", rpc_client_buffer_bytes, 65536, 1ull << 34),
    U("rpc", "max_buffer_bytes", rpc_max_buffer_bytes, 65536, 1ull << 36),
    U("rpc", "write_timeout_ms", rpc_write_timeout_ms, 100, 3600000),
    U("rpc", "publish_queue", rpc_publish_queue, 16, 10000000),
    U("rpc", "simulate_max_concurrent", sim_max_concurrent, 0, 64),
    U("rpc", "simulate_concurrent_per_ip", sim_concurrent_per_ip, 1, 64),
    U("rpc", "simulate_max_steps", sim_max_steps, 1000, 10000000000000ull),
    U("rpc", "simulate_max_mem_mib", sim_max_mem_mib, 2, 1024),
    U("rpc", "simulate_steps_per_minute", sim_steps_per_minute, 1000, 1000000000000000ull),
    U("consensus", "block_interval_ms", block_interval_ms, 1, 3600000),
    U("consensus", "empty_block_interval_ms", empty_block_interval_ms, 0, 86400000),
    U("consensus", "timeout_propose_ms", timeout_propose_ms, 10, 3600000),
    U("consensus", "timeout_vote_ms", timeout_vote_ms, 10, 3600000),
    S("p2p", "listen", p2p_listen),
    S("p2p", "external_addr", p2p_external_addr),
    S("p2p", "persistent_peers", p2p_persistent_peers),
    S("p2p", "seeds", p2p_seeds),
    U("p2p", "max_inbound", p2p_max_inbound, 0, 10000),
    U("p2p", "max_outbound", p2p_max_outbound, 0, 10000),
    U("p2p", "no_pex", p2p_no_pex, 0, 1),
    U("mempool", "max_txs", mempool_max_txs, 1, 10000000),
    U("mempool", "max_bytes", mempool_max_bytes, 1024, 1ull << 34),
    U("mempool", "max_per_sender", mempool_max_per_sender, 1, 10000000),
};

typedef struct {
  node_config *c;
  core_errbuf *eb;
  int rc;
} pctx;

static int on_kv(void *user, const char *section, const char *name,
                 const char *value, int lineno) {
  pctx *p = user;
  if (p->rc) return 0;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const field *f = &fields[i];
    if (strcmp(f->section, section) || strcmp(f->name, name)) continue;
    char *dst = (char *)p->c + f->off;
    if (f->is_str) {
      if (strlen(value) >= f->size) {
        p->rc = core_errf(p->eb, COHORT_ERR_CONFIG, "line %d: [%s] %s is longer than %zu characters",
                          lineno, section, name, f->size - 1);
        return 0;
      }
      strcpy(dst, value);
      if (!strcmp(name, "log_level")) {
        core_log_level l;
        if (core_log_parse_level(value, &l))
          p->rc = core_errf(p->eb, COHORT_ERR_CONFIG,
                            "line %d: [node] log_level must be debug, info, warn, error or off",
                            lineno);
      }
      return p->rc ? 0 : 1;
    }
    uint64_t v;
    if (core_parse_u64(value, &v) || v < f->lo || v > f->hi) {
      p->rc = core_errf(p->eb, COHORT_ERR_CONFIG,
                        "line %d: [%s] %s = \"%s\" must be an integer in [%llu, %llu]",
                        lineno, section, name, value, (unsigned long long)f->lo,
                        (unsigned long long)f->hi);
      return 0;
    }
    memcpy(dst, &v, sizeof v);
    return 1;
  }
  p->rc = core_errf(p->eb, COHORT_ERR_CONFIG, "line %d: unknown setting [%s] %s", lineno,
                    section, name);
  return 0;
}

typedef struct {
  pctx *p;
  int line;
} lctx;

/* inih's handler gets no line number, so lines are fed one at a time. */
static int with_line(void *user, const char *section, const char *name,
                     const char *value) {
  lctx *l = user;
  return on_kv(l->p, section, name, value, l->line);
}

int node_config_parse(node_config *c, const char *text, core_errbuf *eb) {
  pctx p = {c, eb, 0};
  /* Feed inih one line at a time (keeping the current section) so every
   * error can name its line. */
  char section[64] = "";
  int lineno = 0;
  const char *s = text;
  while (*s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    lineno++;
    char line[1024];
    if (len >= sizeof line)
      return core_errf(eb, COHORT_ERR_CONFIG, "line %d is longer than %zu characters", lineno,
                       sizeof line - 1);
    memcpy(line, s, len);
    line[len] = 0;
    char *t = line;
    while (*t == ' ' || *t == '\t') t++;
    /* An inline comment starts at whitespace followed by '#' or ';'. */
    for (char *q = t; *q; q++)
      if ((*q == '#' || *q == ';') && q > t && (q[-1] == ' ' || q[-1] == '\t')) {
        *q = 0;
        break;
      }
    for (size_t e = strlen(t); e > 0 && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r'); e--)
      t[e - 1] = 0;
    if (*t == '[') {
      char *end = strchr(t, ']');
      if (!end || (size_t)(end - t - 1) >= sizeof section)
        return core_errf(eb, COHORT_ERR_CONFIG, "line %d: malformed section header", lineno);
      *end = 0;
      strcpy(section, t + 1);
    } else if (*t && *t != '#' && *t != ';' && *t != '\r') {
      char buf[1200];
      snprintf(buf, sizeof buf, "[%s]\n%s\n", section[0] ? section : "node", t);
      lctx l = {&p, lineno};
      int r = ini_parse_string(buf, with_line, &l);
      if (p.rc) return p.rc;
      if (r != 0)
        return core_errf(eb, COHORT_ERR_CONFIG, "line %d: expected \"key = value\"", lineno);
    }
    s += len + (nl ? 1 : 0);
  }
  if (!p.rc && c->rpc_max_ws > c->rpc_max_conns)
    p.rc = core_errf(eb, COHORT_ERR_CONFIG,
                     "[rpc] max_ws = %llu must not exceed max_conns = %llu (WebSockets "
                     "count toward max_conns; keep room for HTTP)",
                     (unsigned long long)c->rpc_max_ws, (unsigned long long)c->rpc_max_conns);
  if (!p.rc && c->rpc_client_buffer_bytes > c->rpc_max_buffer_bytes)
    p.rc = core_errf(eb, COHORT_ERR_CONFIG,
                     "[rpc] client_buffer_bytes = %llu must not exceed max_buffer_bytes = %llu",
                     (unsigned long long)c->rpc_client_buffer_bytes,
                     (unsigned long long)c->rpc_max_buffer_bytes);
  return p.rc;
}

int node_config_load(node_config *c, const char *path, core_errbuf *eb) {
  FILE *f = fopen(path, "rb");
  if (!f) return COHORT_OK; /* defaults */
  char *buf = malloc(CONFIG_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return COHORT_ERR_NOMEM;
  }
  size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
  fclose(f);
  int rc;
  if (n > CONFIG_MAX_BYTES) {
    rc = core_errf(eb, COHORT_ERR_CONFIG, "%s is larger than 1 MiB", path);
  } else {
    buf[n] = 0;
    rc = node_config_parse(c, buf, eb);
    if (rc && eb) {
      char tmp[sizeof eb->msg];
      memcpy(tmp, eb->msg, sizeof tmp);
      snprintf(eb->msg, sizeof eb->msg, "%.100s: %.150s", path, tmp);
    }
  }
  free(buf);
  return rc;
}

const char *node_config_template(void) {
  return "# cohortd.conf — node settings. Every key is optional; shown are the defaults.\n"
         "# Reference: docs/operator.md\n"
         "\n[node]\n"
         "moniker = cohort-node\n"
         "# debug | info | warn | error | off\n"
         "log_level = info\n"
         "\n[rpc]\n"
         "# JSON-RPC over HTTP. Keep it on loopback unless a proxy guards it.\n"
         "listen = 127.0.0.1:27657\n"
         "max_body_bytes = 5242880\n"
         "max_batch = 100\n"
         "max_conns = 256\n"
         "# a request must arrive whole within this time, or the client is dropped\n"
         "idle_timeout_ms = 10000\n"
         "# how long broadcast_tx with mode=commit waits for the block\n"
         "commit_timeout_ms = 30000\n"
         "# What one client address (IPv4, or IPv6 /64) may hold, and caps for all\n"
         "# (docs/rpc.md). When max_conns is reached the longest-idle keep-alive\n"
         "# connection is closed to admit a newcomer. Behind a proxy every client\n"
         "# shares the proxy's address: raise the per-address limits there.\n"
         "max_conns_per_ip = 64\n"
         "# WebSockets (they count toward max_conns too)\n"
         "max_ws = 128\n"
         "max_ws_per_ip = 32\n"
         "# calls dispatched and not yet answered, per address\n"
         "max_inflight_per_ip = 256\n"
         "# sum of the method weights in one batch (weights: docs/rpc.md)\n"
         "max_batch_weight = 200\n"
         "# one answer (or one batch's answers); larger ones become an error\n"
         "max_response_bytes = 16777216\n"
         "# request bodies being read + answers not yet written: per address, in all\n"
         "client_buffer_bytes = 67108864\n"
         "max_buffer_bytes = 536870912\n"
         "# an answer must be fully taken by the client within this time\n"
         "write_timeout_ms = 30000\n"
         "# WebSocket events waiting for the RPC thread (more are dropped, and told)\n"
         "publish_queue = 65536\n"
         "# compute_simulate: simulations at once (0 disables), per address,\n"
         "# steps and memory per call, and steps per minute per address\n"
         "simulate_max_concurrent = 2\n"
         "simulate_concurrent_per_ip = 1\n"
         "simulate_max_steps = 10000000000\n"
         "simulate_max_mem_mib = 256\n"
         "simulate_steps_per_minute = 10000000000\n"
         "\n[consensus]\n"
         "# minimum time between blocks while transactions wait\n"
         "block_interval_ms = 1000\n"
         "# 0 = make no empty blocks; otherwise make one after this long idle\n"
         "empty_block_interval_ms = 0\n"
         "timeout_propose_ms = 3000\n"
         "timeout_vote_ms = 1000\n"
         "\n[p2p]\n"
         "# where peers connect (HOST:PORT; empty = do not listen; port 0 = any free port)\n"
         "listen = 127.0.0.1:26656\n"
         "# the address peers are told to dial (default: the listen address)\n"
         "external_addr =\n"
         "# ID@HOST:PORT,... kept connected at all times (cohortd show-node-id prints an ID)\n"
         "persistent_peers =\n"
         "# ID@HOST:PORT,... dialled to learn the addresses of other nodes\n"
         "seeds =\n"
         "max_inbound = 40\n"
         "max_outbound = 10\n"
         "# 1 = neither ask peers for addresses nor share ours\n"
         "no_pex = 0\n"
         "\n[mempool]\n"
         "max_txs = 50000\n"
         "max_bytes = 67108864\n"
         "# no sender may hold more pending txs than this; when the mempool is full a\n"
         "# tx paying more per gas evicts the cheapest waiting one\n"
         "max_per_sender = 10000\n";
}
