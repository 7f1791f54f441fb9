/* node/config.c — cohortd.conf parsing, strict about names and values
 * (config.h), the template `cohortd init` writes, and command-line
 * overrides. */
#include "node/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/log.h"
#include "executor/executor.h"
#include "genesis/genesis.h"
#include "p2p/p2p_addr.h"

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
  c->mempool_max_txs = 50000;
  c->mempool_max_bytes = 64 << 20;
  c->mempool_max_per_sender = 10000;
  strcpy(c->p2p_listen, "127.0.0.1:26656");
  c->p2p_max_inbound = 40;
  c->p2p_max_outbound = 10;
  c->executor_poll_ms = 500;
}

/* Checks of string values beyond their length. Each returns 0, or writes the
 * rest of a sentence that begins "[section] name" into eb and returns
 * COHORT_ERR_CONFIG. */
typedef int (*str_check)(const char *v, core_errbuf *eb);

static int check_log_level(const char *v, core_errbuf *eb) {
  core_log_level l;
  if (core_log_parse_level(v, &l))
    return core_errf(eb, COHORT_ERR_CONFIG, " must be debug, info, warn, error or off");
  return COHORT_OK;
}

/* Peers see the moniker in the handshake (p2p_handshake.h): printable ASCII. */
static int check_moniker(const char *v, core_errbuf *eb) {
  if (!p2p_moniker_is_valid(v, strlen(v)))
    return core_errf(eb, COHORT_ERR_CONFIG,
                     " must be at most %d printable ASCII characters (peers see it)",
                     P2P_MONIKER_MAX);
  return COHORT_OK;
}

/* The same rules as p2p_switch_new applies, so a bad address stops the
 * node at the config line rather than later in the switch. */
static int check_p2p_listen(const char *v, core_errbuf *eb) {
  p2p_hostport hp;
  core_errbuf sub;
  if (!*v) return COHORT_OK; /* no listener */
  if (p2p_hostport_parse(v, strlen(v), 1, 0, &hp, &sub))
    return core_errf(eb, COHORT_ERR_CONFIG, ": %s (or empty: do not listen)", sub.msg);
  return COHORT_OK;
}

static int check_p2p_external(const char *v, core_errbuf *eb) {
  p2p_hostport hp;
  core_errbuf sub;
  if (!*v) return COHORT_OK;
  if (p2p_hostport_parse(v, strlen(v), 0, 1, &hp, &sub))
    return core_errf(eb, COHORT_ERR_CONFIG, ": %s", sub.msg);
  return COHORT_OK;
}

static int check_peer_list(const char *v, core_errbuf *eb) {
  p2p_peer_addr *a;
  size_t n;
  core_errbuf sub;
  int rc = p2p_peer_list_parse(v, &a, &n, &sub);
  free(a);
  if (rc == COHORT_ERR_NOMEM) return core_errf(eb, COHORT_ERR_NOMEM, ": out of memory");
  if (rc) return core_errf(eb, COHORT_ERR_CONFIG, ": %s", sub.msg);
  return COHORT_OK;
}

/* [executor] node: RPC addresses, comma separated, as `cohort executor run
 * --node` takes them (a URL or a bare HOST:PORT). */
static int check_executor_nodes(const char *v, core_errbuf *eb) {
  int n = 0;
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ",");
    if (!len || memchr(p, ' ', len) || memchr(p, '\t', len))
      return core_errf(eb, COHORT_ERR_CONFIG, ": an empty address or one with a space (give "
                       "URL or HOST:PORT, comma separated; empty = this node's [rpc] listen)");
    if (len >= EXECUTOR_NODE_URL_MAX - 8)
      return core_errf(eb, COHORT_ERR_CONFIG, ": an address is longer than %d characters",
                       EXECUTOR_NODE_URL_MAX - 9);
    if (++n > EXECUTOR_MAX_NODES)
      return core_errf(eb, COHORT_ERR_CONFIG, ": at most %d addresses", EXECUTOR_MAX_NODES);
    p += len;
    if (*p == ',') p++;
  }
  return COHORT_OK;
}

/* kind: U64 (an integer in [lo, hi]), STR (with an optional check), BOOL
 * (0, 1, false or true; stored as a uint64_t 0 or 1). */
enum { F_U64 = 0, F_STR, F_BOOL };

typedef struct {
  const char *section, *name;
  int kind;
  size_t off, size;
  uint64_t lo, hi;
  str_check check;
} field;

#define S(sec, nm, m, chk) \
  {sec, nm, F_STR, offsetof(node_config, m), sizeof(((node_config *)0)->m), 0, 0, chk}
#define U(sec, nm, m, lo, hi) {sec, nm, F_U64, offsetof(node_config, m), 0, lo, hi, NULL}
#define B(sec, nm, m) {sec, nm, F_BOOL, offsetof(node_config, m), 0, 0, 1, NULL}

static const field fields[] = {
    S("node", "moniker", moniker, check_moniker),
    S("node", "log_level", log_level, check_log_level),
    S("rpc", "listen", rpc_listen, NULL),
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
    U("mempool", "max_txs", mempool_max_txs, 1, 10000000),
    U("mempool", "max_bytes", mempool_max_bytes, 1024, 1ull << 34),
    U("mempool", "max_per_sender", mempool_max_per_sender, 1, 10000000),
    S("p2p", "listen", p2p_listen, check_p2p_listen),
    S("p2p", "external_addr", p2p_external_addr, check_p2p_external),
    S("p2p", "persistent_peers", p2p_persistent_peers, check_peer_list),
    S("p2p", "seeds", p2p_seeds, check_peer_list),
    /* At least 1: the switch reads 0 as "the default" (p2p_config). A node
     * that wants no inbound peers leaves listen empty. */
    U("p2p", "max_inbound", p2p_max_inbound, 1, 10000),
    U("p2p", "max_outbound", p2p_max_outbound, 1, 1000),
    U("p2p", "no_pex", p2p_no_pex, 0, 1),
    B("executor", "enabled", executor_enabled),
    S("executor", "key", executor_key, NULL),
    S("executor", "state_dir", executor_state_dir, NULL),
    U("executor", "capacity", executor_capacity, 0, EXECUTOR_CAPACITY_MAX),
    U("executor", "poll_ms", executor_poll_ms, 50, 3600000),
    U("executor", "watch_bps", executor_watch_bps, 0, 10000),
    S("executor", "node", executor_node, check_executor_nodes),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static const field *find_field(const char *section, const char *name) {
  for (size_t i = 0; i < N_FIELDS; i++)
    if (!strcmp(fields[i].section, section) && !strcmp(fields[i].name, name)) return &fields[i];
  return NULL;
}

static int set_field(node_config *c, const field *f, const char *value, const char *where,
                     core_errbuf *eb) {
  char *dst = (char *)c + f->off;
  if (f->kind == F_BOOL) {
    uint64_t b;
    if (!strcmp(value, "true") || !strcmp(value, "1")) b = 1;
    else if (!strcmp(value, "false") || !strcmp(value, "0")) b = 0;
    else
      return core_errf(eb, COHORT_ERR_CONFIG, "%s: [%s] %s = \"%.80s\" must be true or false",
                       where, f->section, f->name, value);
    memcpy(dst, &b, sizeof b);
    return COHORT_OK;
  }
  if (f->kind == F_STR) {
    if (strlen(value) >= f->size)
      return core_errf(eb, COHORT_ERR_CONFIG, "%s: [%s] %s is longer than %zu characters",
                       where, f->section, f->name, f->size - 1);
    core_errbuf sub;
    int rc = f->check ? f->check(value, &sub) : COHORT_OK;
    if (rc) return core_errf(eb, rc, "%s: [%s] %s%s", where, f->section, f->name, sub.msg);
    memcpy(dst, value, strlen(value) + 1);
    return COHORT_OK;
  }
  uint64_t v;
  if (core_parse_u64(value, &v) || v < f->lo || v > f->hi)
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "%s: [%s] %s = \"%.80s\" must be an integer in [%llu, %llu]", where,
                     f->section, f->name, value, (unsigned long long)f->lo,
                     (unsigned long long)f->hi);
  memcpy(dst, &v, sizeof v);
  return COHORT_OK;
}

int node_config_set(node_config *c, const char *section, const char *name, const char *value,
                    const char *where, core_errbuf *eb) {
  const field *f = find_field(section, name);
  if (!f)
    return core_errf(eb, COHORT_ERR_CONFIG, "%s: unknown setting [%s] %s", where, section, name);
  return set_field(c, f, value, where, eb);
}

int node_config_check(const node_config *c, core_errbuf *eb) {
  if (c->rpc_max_ws > c->rpc_max_conns)
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "[rpc] max_ws = %llu must not exceed max_conns = %llu (WebSockets "
                     "count toward max_conns; keep room for HTTP)",
                     (unsigned long long)c->rpc_max_ws, (unsigned long long)c->rpc_max_conns);
  if (c->rpc_client_buffer_bytes > c->rpc_max_buffer_bytes)
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "[rpc] client_buffer_bytes = %llu must not exceed max_buffer_bytes = %llu",
                     (unsigned long long)c->rpc_client_buffer_bytes,
                     (unsigned long long)c->rpc_max_buffer_bytes);
  if (c->executor_enabled && !c->executor_key[0])
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "[executor] enabled = true needs key: the name of the executor account's "
                     "key in HOME/keys (or a path to its key file)");
  if (c->p2p_external_addr[0] && !c->p2p_listen[0])
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "[p2p] external_addr = %s is set but listen is empty: a node that does "
                     "not listen has no address to advertise",
                     c->p2p_external_addr);
  return COHORT_OK;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* The parser is ours rather than inih's: Debian's libinih is built with
 * INI_MAX_LINE = 200, which splits a longer line into a truncated value and
 * a syntax error, and a persistent_peers line of four peers is longer. The
 * syntax is inih's (see config.h), with every error naming its line. */
int node_config_parse(node_config *c, const char *text, core_errbuf *eb) {
  char section[64] = "node";
  int seen[N_FIELDS] = {0}; /* line where each key was set */
  int lineno = 0;
  const char *s = text;
  if (!strncmp(s, "\xEF\xBB\xBF", 3)) s += 3; /* a UTF-8 byte order mark */
  char line[NODE_CONFIG_LINE_MAX + 1];
  char where[32];
  while (*s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    lineno++;
    if (len > NODE_CONFIG_LINE_MAX)
      return core_errf(eb, COHORT_ERR_CONFIG, "line %d is longer than %d characters", lineno,
                       NODE_CONFIG_LINE_MAX);
    memcpy(line, s, len);
    line[len] = 0;
    s += len + (nl ? 1 : 0);
    char *t = line;
    while (is_blank(*t)) t++;
    if (*t == '#' || *t == ';' || !*t) continue;
    /* An inline comment starts at whitespace followed by '#' or ';'. */
    for (char *q = t + 1; *q; q++)
      if ((*q == '#' || *q == ';') && (q[-1] == ' ' || q[-1] == '\t')) {
        *q = 0;
        break;
      }
    for (size_t e = strlen(t); e > 0 && is_blank(t[e - 1]); e--) t[e - 1] = 0;
    if (*t == '[') {
      char *end = strchr(t, ']');
      if (!end || end[1] || (size_t)(end - t - 1) >= sizeof section)
        return core_errf(eb, COHORT_ERR_CONFIG, "line %d: malformed section header", lineno);
      *end = 0;
      memcpy(section, t + 1, (size_t)(end - t));
      continue;
    }
    char *sep = strpbrk(t, "=:");
    if (!sep || sep == t)
      return core_errf(eb, COHORT_ERR_CONFIG, "line %d: expected \"key = value\"", lineno);
    char *v = sep + 1;
    *sep = 0;
    for (size_t e = strlen(t); e > 0 && is_blank(t[e - 1]); e--) t[e - 1] = 0;
    while (is_blank(*v)) v++;
    const field *f = find_field(section, t);
    if (!f)
      return core_errf(eb, COHORT_ERR_CONFIG, "line %d: unknown setting [%s] %s", lineno,
                       section, t);
    size_t idx = (size_t)(f - fields);
    if (seen[idx])
      return core_errf(eb, COHORT_ERR_CONFIG, "line %d: [%s] %s is already set on line %d",
                       lineno, section, t, seen[idx]);
    seen[idx] = lineno;
    snprintf(where, sizeof where, "line %d", lineno);
    int rc = set_field(c, f, v, where, eb);
    if (rc) return rc;
  }
  return node_config_check(c, eb);
}

typedef struct {
  const char *section, *name, *value, *flag;
} override;
static override overrides[NODE_CONFIG_OVERRIDES_MAX];
static size_t n_overrides;

int node_config_override(const char *section, const char *name, const char *value,
                         const char *flag) {
  if (n_overrides == NODE_CONFIG_OVERRIDES_MAX) return COHORT_ERR_TOO_LARGE;
  overrides[n_overrides++] = (override){section, name, value, flag};
  return COHORT_OK;
}

void node_config_overrides_clear(void) { n_overrides = 0; }

int node_config_load(node_config *c, const char *path, core_errbuf *eb) {
  FILE *f = fopen(path, "rb");
  int rc = COHORT_OK;
  if (f) {
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) {
      fclose(f);
      return COHORT_ERR_NOMEM;
    }
    size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    fclose(f);
    if (n > CONFIG_MAX_BYTES) {
      rc = core_errf(eb, COHORT_ERR_CONFIG, "%s is larger than 1 MiB", path);
    } else if (memchr(buf, 0, n)) {
      rc = core_errf(eb, COHORT_ERR_CONFIG, "%s contains a NUL byte: not a text file", path);
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
  } /* no file: the defaults */
  for (size_t i = 0; !rc && i < n_overrides; i++)
    rc = node_config_set(c, overrides[i].section, overrides[i].name, overrides[i].value,
                         overrides[i].flag, eb);
  if (!rc && n_overrides) rc = node_config_check(c, eb);
  return rc;
}

char *node_config_render(const node_config_kv *kv, size_t n, core_errbuf *eb) {
  const char *t = node_config_template();
  size_t cap = strlen(t) + 1;
  for (size_t i = 0; i < n; i++) {
    if (strchr(kv[i].value, '\n') || strchr(kv[i].value, '\r')) {
      core_errf(eb, COHORT_ERR_INVALID, "[%s] %s: a value cannot hold a line break",
                kv[i].section, kv[i].name);
      return NULL;
    }
    cap += strlen(kv[i].name) + strlen(kv[i].value) + 4;
  }
  char *out = malloc(cap);
  unsigned char *used = calloc(n ? n : 1, 1);
  if (!out || !used) {
    free(out);
    free(used);
    core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    return NULL;
  }
  size_t o = 0;
  char section[64] = "node";
  for (const char *s = t; *s;) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
    const node_config_kv *hit = NULL;
    if (*s == '[') {
      const char *e = memchr(s, ']', len);
      if (e && (size_t)(e - s - 1) < sizeof section) {
        memcpy(section, s + 1, (size_t)(e - s - 1));
        section[e - s - 1] = 0;
      }
    } else if (*s != '#') {
      const char *eq = memchr(s, '=', len);
      size_t kl = eq ? (size_t)(eq - s) : 0;
      while (kl > 0 && s[kl - 1] == ' ') kl--;
      for (size_t i = 0; eq && i < n; i++)
        if (!strcmp(kv[i].section, section) && strlen(kv[i].name) == kl &&
            !memcmp(kv[i].name, s, kl)) {
          hit = &kv[i];
          used[i] = 1;
        }
    }
    if (hit) {
      o += (size_t)sprintf(out + o, *hit->value ? "%s = %s\n" : "%s =%s\n", hit->name,
                           hit->value);
    } else {
      memcpy(out + o, s, len);
      o += len;
    }
    s += len;
  }
  out[o] = 0;
  for (size_t i = 0; i < n; i++)
    if (!used[i]) {
      core_errf(eb, COHORT_ERR_INVALID, "[%s] %s is not a key of the config template",
                kv[i].section, kv[i].name);
      free(out);
      out = NULL;
      break;
    }
  free(used);
  return out;
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
         "\n[mempool]\n"
         "max_txs = 50000\n"
         "max_bytes = 67108864\n"
         "# no sender may hold more pending txs than this; when the mempool is full a\n"
         "# tx paying more per gas evicts the cheapest waiting one\n"
         "max_per_sender = 10000\n"
         "\n[p2p]\n"
         "# Where other nodes connect to this one: IP:PORT (0.0.0.0 = every interface;\n"
         "# port 0 = any free port). Empty = do not listen (dial out only).\n"
         "listen = 127.0.0.1:26656\n"
         "# The HOST:PORT peers are told to dial, when it is not the listen address\n"
         "# (behind NAT, or listening on 0.0.0.0). Empty = the listen address.\n"
         "external_addr =\n"
         "# Nodes to stay connected to, redialled when lost: ID@HOST:PORT, comma\n"
         "# separated (`cohortd show-node-id` prints a node's ID@address).\n"
         "persistent_peers =\n"
         "# Nodes dialled at start to learn the addresses of others (peer exchange).\n"
         "seeds =\n"
         "# Most inbound peers, and outbound peers besides the persistent ones.\n"
         "max_inbound = 40\n"
         "max_outbound = 10\n"
         "# 1 = neither ask peers for addresses nor share them (a private validator\n"
         "# behind sentries).\n"
         "no_pex = 0\n"
         "\n[executor]\n"
         "# Serve an executor account's committee seats from inside cohortd: the engine\n"
         "# of `cohort executor run` on a thread of its own, talking to this node's RPC\n"
         "# (register the account first: cohort executor register ... --from KEY).\n"
         "# true = start it after the RPC server; SIGINT/SIGTERM stop it with the node.\n"
         "enabled = false\n"
         "# the account's key: a name in HOME/keys (keys/NAME.json) or a path to a key file\n"
         "key =\n"
         "# where each task's claim, salt and output are kept; empty = HOME/executor/ADDRESS\n"
         "state_dir =\n"
         "# tasks computed at once; 0 = the capacity registered on chain\n"
         "capacity = 0\n"
         "# between listings of its seats (WebSocket events wake it sooner)\n"
         "poll_ms = 500\n"
         "# also re-run this share (1/10000) of agreed tasks and challenge wrong results\n"
         "watch_bps = 0\n"
         "# RPC addresses it talks to (URL or HOST:PORT, comma separated, failover in\n"
         "# order); empty = this node's [rpc] listen\n"
         "node =\n";
}
