/* node/node_testnet.c — `cohortd testnet`: the homes of an N-validator
 * chain on one machine (node.h has the contract).
 *
 * Order of work, so that a refusal leaves nothing behind and a failure
 * later says what is left: (1) check every option and that OUT is absent or
 * empty; (2) make each home's keys (node_home_make) and account keys; (3)
 * build the one genesis and parse it back with genesis_parse, the loader
 * cohortd uses; (4) write it into every home; (5) write each cohortd.conf,
 * itself parsed back before it is written (node_home_write_conf); (6)
 * OUT/testnet.json; (7) the summary.
 *
 * Ports: node K listens for peers on base+10K and serves RPC on
 * base+10K+1 (26656/26657, 26666/26667, ... by default: CometBFT's pair,
 * spaced so a node's ports read off its number). The RPC stays on
 * 127.0.0.1 whatever the hostname: it is not for strangers
 * (docs/operator.md). */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "genesis/genesis.h"
#include "node/node.h"
#include "node/node_home.h"
#include "p2p/p2p_addr.h"
#include "proto/tx.h"

#define VAL_POWER 100000000000ull   /* 100,000 STK bonded by each validator */
#define DEV_CRD 1000000000000000ull /* 1,000,000,000 CRD: the faucet */
#define DEV_STK 1000000000000ull    /* 1,000,000 STK */
#define OP_CRD 1000000000000ull     /* 1,000,000 CRD for each operator's fees */
#define OP_STK 10000000000ull       /* 10,000 STK each */

typedef struct {
  char home[PATH_MAX];
  char id[P2P_ID_HEX + 1];
  char p2p[P2P_ADDR_STR]; /* listen */
  char dial[P2P_ADDR_STR]; /* how the others reach it */
  char rpc[P2P_ADDR_STR];
  char moniker[16];
  uint8_t val_pub[32], op_id[20], beacon[32];
} tnode;

/* 0 if path is absent or an empty directory; else the refusal. */
static int check_out(const char *path, core_errbuf *eb) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return COHORT_OK;
    return core_errf(eb, COHORT_ERR_IO, "cannot use %.200s: %s", path, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    return core_errf(eb, COHORT_ERR_DUPLICATE,
                     "%.200s exists and is not a directory; choose another --out", path);
  DIR *d = opendir(path);
  if (!d) return core_errf(eb, COHORT_ERR_IO, "cannot read %.200s: %s", path, strerror(errno));
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
  closedir(d);
  if (!empty)
    return core_errf(eb, COHORT_ERR_DUPLICATE,
                     "%.200s exists and is not empty; refusing to write a testnet into it "
                     "(choose another --out, or delete that directory: its keys and chains go "
                     "with it)",
                     path);
  return COHORT_OK;
}

static int check_opts(const node_testnet_opts *o, const char *cid, const char *host,
                      unsigned base, p2p_hostport *hp, core_errbuf *eb) {
  if (!o->out || !*o->out) return core_errf(eb, COHORT_ERR_INVALID, "--out DIR is required");
  if (strlen(o->out) > PATH_MAX - 64)
    return core_errf(eb, COHORT_ERR_INVALID, "--out: path too long");
  if (o->validators < 1 || o->validators > NODE_TESTNET_MAX)
    return core_errf(eb, COHORT_ERR_INVALID, "--validators must be 1..%d", NODE_TESTNET_MAX);
  size_t cl = strlen(cid);
  if (cl > CHAIN_ID_MAX || !p2p_chain_id_is_valid(cid))
    return core_errf(eb, COHORT_ERR_INVALID, "--chain-id must be 1-%d characters of [a-z0-9._-]",
                     CHAIN_ID_MAX);
  if (base < 1 || base + 10u * (o->validators - 1) + 1 > 65535)
    return core_errf(eb, COHORT_ERR_INVALID,
                     "--base-port %u: the ports of %u nodes (base+10K and base+10K+1) must be "
                     "within 1..65535",
                     base, o->validators);
  char tmp[P2P_HOST_MAX + 16];
  core_errbuf sub;
  snprintf(tmp, sizeof tmp, "%s:1", host);
  if (strlen(host) > P2P_HOST_MAX || p2p_hostport_parse(tmp, strlen(tmp), 0, 1, hp, &sub))
    return core_errf(eb, COHORT_ERR_INVALID,
                     "--hostname %.80s: expected an IPv4 address, [IPv6] or a DNS name", host);
  if (!strcmp(hp->host, "0.0.0.0") || !strcmp(hp->host, "::"))
    return core_errf(eb, COHORT_ERR_INVALID,
                     "--hostname %s is not an address a peer can dial (it is where the nodes "
                     "find each other)", host);
  /* The others as "ID@HOST:PORT" (at most 5 port digits), comma separated. */
  size_t entry = P2P_ID_HEX + 1 + (strlen(hp->addr) - 2) + 1 + 5; /* addr is "HOST:1" */
  size_t need = (o->validators - 1) * (entry + 1);
  if (need > sizeof(((node_config *)0)->p2p_persistent_peers))
    return core_errf(eb, COHORT_ERR_INVALID,
                     "%u peers at %s do not fit [p2p] persistent_peers (%zu characters): use "
                     "fewer validators or a shorter --hostname",
                     o->validators - 1, host, sizeof(((node_config *)0)->p2p_persistent_peers) - 1);
  return COHORT_OK;
}

static int write_summary_json(const char *out, const char *cid, const uint8_t gh[32],
                              const uint8_t dev_id[20], const tnode *nodes, unsigned n,
                              core_errbuf *eb) {
  char hex[65], addr[CORE_ADDR_STR_MAX], p[PATH_MAX + 64];
  core_hex_encode(hex, gh, 32);
  core_addr_encode(addr, dev_id);
  json_t *arr = json_array();
  for (unsigned k = 0; arr && k < n; k++) {
    char pk[65], op[CORE_ADDR_STR_MAX], peer[P2P_ID_HEX + 1 + P2P_ADDR_STR];
    core_hex_encode(pk, nodes[k].val_pub, 32);
    core_addr_encode(op, nodes[k].op_id);
    snprintf(peer, sizeof peer, "%s@%s", nodes[k].id, nodes[k].dial);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "moniker",
                          nodes[k].moniker, "home", nodes[k].moniker, "node_id", nodes[k].id,
                          "p2p", nodes[k].p2p, "peer", peer, "rpc", nodes[k].rpc,
                          "validator_pubkey", pk, "operator", op);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  json_t *root = arr ? json_pack("{s:s, s:s, s:s, s:s, s:o}", "chain_id", cid, "genesis_hash",
                                 hex, "dev_address", addr, "dev_key", "node0/keys/dev.json",
                                 "nodes", arr)
                     : NULL;
  char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  if (!text) return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  size_t tl = strlen(text);
  char *t2 = realloc(text, tl + 2);
  if (!t2) {
    free(text);
    return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  }
  memcpy(t2 + tl, "\n", 2);
  snprintf(p, sizeof p, "%s/testnet.json", out);
  int rc = node_home_write_file(p, t2, 0644, eb);
  free(t2);
  return rc;
}

/* Whole tokens of a base-unit amount, with thousands separators. */
static const char *tokens(char buf[32], uint64_t base_units) {
  char d[24];
  int n = snprintf(d, sizeof d, "%llu", (unsigned long long)(base_units / 1000000));
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = d[i];
  }
  buf[o] = 0;
  return buf;
}

static void print_summary(const node_testnet_opts *o, const char *cid, const uint8_t gh[32],
                          const uint8_t dev_id[20], const tnode *nodes) {
  char hex[65], addr[CORE_ADDR_STR_MAX];
  core_hex_encode(hex, gh, 32);
  core_addr_encode(addr, dev_id);
  printf("Created a testnet of %u validator%s for chain %s in %s\n", o->validators,
         o->validators == 1 ? "" : "s", cid, o->out);
  printf("  genesis:     sha256 %s, the same config/genesis.json in every home\n", hex);
  char a[32], b[32];
  printf("  validators:  %u of equal power (%s STK bonded each)\n", o->validators,
         tokens(a, VAL_POWER));
  printf("  dev account: %s (%s CRD, %s STK), key in %s/node0/keys/dev.json\n", addr,
         tokens(a, DEV_CRD), tokens(b, DEV_STK), o->out);
  printf("  operators:   each validator's operator account, key in its home's\n"
         "               keys/operator.json (%s CRD, %s STK)\n\n",
         tokens(a, OP_CRD), tokens(b, OP_STK));
  printf("  %-7s %-40s  %-22s %-22s %s\n", "node", "node ID", "p2p", "rpc", "validator key");
  for (unsigned k = 0; k < o->validators; k++) {
    char pk[65], rpc[P2P_ADDR_STR + 8];
    core_hex_encode(pk, nodes[k].val_pub, 32);
    pk[16] = 0;
    snprintf(rpc, sizeof rpc, "http://%s", nodes[k].rpc);
    printf("  %-7s %-40s  %-22s %-22s %s..\n", nodes[k].moniker, nodes[k].id, nodes[k].dial,
           rpc, pk);
  }
  printf("\nEvery node lists the others in [p2p] persistent_peers. Start each one:\n");
  for (unsigned k = 0; k < o->validators; k++)
    printf("  cohortd start --home %s > %s/cohortd.log 2>&1 &\n", nodes[k].home, nodes[k].home);
  printf("(or run all of them, with executors and a demo: make localnet)\n");
}

int node_testnet(const node_testnet_opts *o, core_errbuf *eb) {
  char fresh[32];
  node_home_random_chain_id(fresh, sizeof fresh, "cohort-testnet");
  const char *cid = o->chain_id ? o->chain_id : fresh; /* unique unless asked: no cross-chain replay */
  const char *host = o->hostname ? o->hostname : "127.0.0.1";
  unsigned base = o->base_port ? o->base_port : 26656, n = o->validators;
  p2p_hostport hp;
  int rc;
  if ((rc = check_opts(o, cid, host, base, &hp, eb))) return rc;
  if ((rc = check_out(o->out, eb))) return rc;
  tnode *nodes = calloc(n, sizeof *nodes);
  genesis_validator *vals = calloc(n, sizeof *vals);
  genesis_account *accs = calloc(n + 1, sizeof *accs);
  char *gen = NULL;
  genesis g = {0};
  uint8_t dev_id[20];
  if (!nodes || !vals || !accs) {
    rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* (2) keys */
  char p[PATH_MAX + 64];
  for (unsigned k = 0; k < n; k++) {
    tnode *t = &nodes[k];
    snprintf(t->home, sizeof t->home, "%s/node%u", o->out, k);
    snprintf(t->moniker, sizeof t->moniker, "node%u", k);
    node_home_keys hk;
    rc = node_home_make(t->home, &hk, eb);
    if (!rc) {
      memcpy(t->val_pub, hk.val.pub, 32);
      memcpy(t->beacon, hk.beacon_commit, 32);
      p2p_node_id_hex(t->id, hk.node.pub);
    }
    node_home_keys_wipe(&hk);
    if (rc) goto incomplete;
    snprintf(p, sizeof p, "%s/keys/operator.json", t->home);
    if ((rc = node_home_account_key(p, t->op_id, eb))) goto incomplete;
    unsigned pp = base + 10 * k;
    if (hp.kind == P2P_HOST_NAME) /* listen takes an IP: every interface */
      snprintf(t->p2p, sizeof t->p2p, "0.0.0.0:%u", pp);
    else if (hp.kind == P2P_HOST_IPV6)
      snprintf(t->p2p, sizeof t->p2p, "[%s]:%u", hp.host, pp);
    else
      snprintf(t->p2p, sizeof t->p2p, "%s:%u", hp.host, pp);
    if (hp.kind == P2P_HOST_IPV6)
      snprintf(t->dial, sizeof t->dial, "[%s]:%u", hp.host, pp);
    else
      snprintf(t->dial, sizeof t->dial, "%s:%u", hp.host, pp);
    snprintf(t->rpc, sizeof t->rpc, "127.0.0.1:%u", pp + 1);
    genesis_validator *v = &vals[k];
    memcpy(v->pubkey, t->val_pub, 32);
    memcpy(v->operator_id, t->op_id, 20);
    v->power = VAL_POWER;
    snprintf(v->moniker, sizeof v->moniker, "%s", t->moniker);
    v->has_beacon = 1;
    memcpy(v->beacon_commit, t->beacon, 32);
    memcpy(accs[k + 1].id, t->op_id, 20);
    accs[k + 1].crd = OP_CRD;
    accs[k + 1].stk = OP_STK;
  }
  snprintf(p, sizeof p, "%s/keys/dev.json", nodes[0].home);
  if ((rc = node_home_account_key(p, dev_id, eb))) goto incomplete;
  memcpy(accs[0].id, dev_id, 20);
  accs[0].crd = DEV_CRD;
  accs[0].stk = DEV_STK;
  /* (3) the genesis, checked by the loader every node will run */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  gen = genesis_testnet_json(cid, now_ms - now_ms % 1000, vals, n, accs, n + 1);
  if (!gen) {
    rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    goto incomplete;
  }
  core_errbuf sub;
  if ((rc = genesis_parse(&g, gen, strlen(gen), &sub))) {
    rc = core_errf(eb, rc, "the testnet genesis does not load: %s", sub.msg);
    goto incomplete;
  }
  /* (4) (5) genesis and config in every home */
  char *peers = malloc(sizeof(((node_config *)0)->p2p_persistent_peers));
  if (!peers) {
    rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    goto incomplete;
  }
  char empty_ms[24];
  snprintf(empty_ms, sizeof empty_ms, "%llu", (unsigned long long)o->empty_block_interval_ms);
  for (unsigned k = 0; k < n && !rc; k++) {
    snprintf(p, sizeof p, "%s/config/genesis.json", nodes[k].home);
    if ((rc = node_home_write_file(p, gen, 0644, eb))) break;
    size_t off = 0;
    peers[0] = 0;
    for (unsigned j = 0; j < n; j++)
      if (j != k)
        off += (size_t)snprintf(peers + off, sizeof(((node_config *)0)->p2p_persistent_peers) - off,
                                "%s%s@%s", off ? "," : "", nodes[j].id, nodes[j].dial);
    node_config_kv kv[6] = {
        {"node", "moniker", nodes[k].moniker},
        {"rpc", "listen", nodes[k].rpc},
        {"p2p", "listen", nodes[k].p2p},
        {"p2p", "persistent_peers", peers},
    };
    size_t nkv = 4;
    if (strcmp(nodes[k].p2p, nodes[k].dial)) /* a host name: advertise it */
      kv[nkv++] = (node_config_kv){"p2p", "external_addr", nodes[k].dial};
    if (o->empty_block_interval_ms)
      kv[nkv++] = (node_config_kv){"consensus", "empty_block_interval_ms", empty_ms};
    rc = node_home_write_conf(nodes[k].home, kv, nkv, eb);
  }
  free(peers);
  if (rc) goto incomplete;
  /* (6) (7) */
  if ((rc = write_summary_json(o->out, cid, g.hash, dev_id, nodes, n, eb))) goto incomplete;
  print_summary(o, cid, g.hash, dev_id, nodes);
  goto out;
incomplete:
  if (eb) {
    char tmp[sizeof eb->msg];
    memcpy(tmp, eb->msg, sizeof tmp);
    snprintf(eb->msg, sizeof eb->msg, "%.150s (%.60s is incomplete: delete it and run again)",
             tmp, o->out);
  }
out:
  genesis_free(&g);
  free(gen);
  free(accs);
  free(vals);
  free(nodes);
  return rc;
}
