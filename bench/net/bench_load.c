/* bench/net/bench_load.c — a load generator for a running network, in the
 * manner of CometBFT's loadtime: every transfer carries its submit time in
 * its memo ("t=<unix ms>"), so the latency of each committed tx is read
 * from the blocks themselves.
 *
 * It funds K sender accounts from a funded key, then K threads sign and
 * submit transfers (sender k to node k mod n, so each sender's nonces stay
 * in order) at a total target rate for the given duration; a follower reads
 * every block (full txs) from the first node and measures: committed tx/s
 * over the load window, block interval, rounds per height (from /metrics),
 * and submit-to-commit p50/p99. Prints figures; never fails on time.
 *
 * usage: bench_load --nodes URL[,URL...] --key FILE [--senders K] [--rate TX/S]
 *                   [--duration S]
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "proto/tx.h"
#include "rpc/rpc.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *urls[16];
static size_t n_urls;
static char chain[64];
static size_t n_senders = 16;
static double rate = 1000, duration = 60;
static uint8_t (*ssec)[32];
static atomic_ulong sent, refused;
static atomic_int stop;

static json_t *call(const char *u, const char *m, json_t *p, int die) {
  json_t *r = NULL;
  core_errbuf eb;
  int rc = rpc_client_call(u, m, p, 30000, &r, NULL, &eb);
  json_decref(p);
  if (rc) {
    if (die) {
      fprintf(stderr, "bench_load: %s on %s failed: %s\n", m, u, eb.msg);
      exit(1);
    }
    return NULL;
  }
  return r;
}

static uint64_t next_nonce(const char *u, const uint8_t pub[32]) {
  uint8_t id[20];
  char addr[CORE_ADDR_STR_MAX];
  core_account_id(id, pub);
  core_addr_encode(addr, id);
  json_t *a = call(u, "account", json_pack("{s:s}", "address", addr), 1);
  json_t *v = json_object_get(a, "next_nonce");
  uint64_t n = json_is_integer(v) ? (uint64_t)json_integer_value(v)
                                  : strtoull(json_string_value(v) ? json_string_value(v) : "0", NULL, 10);
  json_decref(a);
  return n;
}

/* Sign a transfer of `amount` CRD; the fee is grown until it covers the
 * cost model (it is inside the signed bytes). Returns hex (malloc'd). */
static char *transfer(const uint8_t sec[32], uint64_t nonce, const uint8_t to[20],
                      uint64_t amount, const char *memo) {
  Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
  t.to = (ProtobufCBinaryData){20, (uint8_t *)to};
  t.token = COHORT__TOKEN__CRD;
  t.amount = amount;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.nonce = nonce;
  b.fee = 20000; /* covers a transfer with a short memo at the default gas price */
  b.memo = (char *)memo;
  b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  b.transfer = &t;
  uint8_t *raw;
  size_t len;
  if (tx_build(&raw, &len, &b, chain, sec, NULL)) return NULL;
  char *hex = malloc(2 * len + 1);
  if (hex) core_hex_encode(hex, raw, len);
  free(raw);
  return hex;
}

static void *sender(void *arg) {
  size_t k = (size_t)arg;
  const char *u = urls[k % n_urls];
  uint8_t pub[32], to[20] = {9};
  core_schnorr_pubkey(pub, ssec[k]);
  uint64_t nonce = next_nonce(u, pub);
  double per = (double)n_senders / rate, next = now_s();
  while (!atomic_load(&stop)) {
    double t = now_s();
    if (t < next) {
      usleep((useconds_t)((next - t) * 1e6));
      continue;
    }
    next += per;
    char memo[32];
    snprintf(memo, sizeof memo, "t=%llu", (unsigned long long)wall_ms());
    char *hex = transfer(ssec[k], nonce, to, 1, memo);
    if (!hex) break;
    json_t *r = NULL, *d = NULL;
    core_errbuf eb;
    json_t *p = json_pack("{s:s}", "tx", hex);
    int rc = rpc_client_call(u, "broadcast_tx", p, 30000, &r, &d, &eb);
    json_decref(p);
    json_decref(r);
    json_decref(d);
    free(hex);
    if (rc) { /* full, or the node is busy: the same nonce again a bit later */
      atomic_fetch_add(&refused, 1);
      next = now_s() + 0.05;
      continue;
    }
    nonce++;
    atomic_fetch_add(&sent, 1);
  }
  return NULL;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double metric(const char *u, const char *name) {
  /* /metrics over plain HTTP: the rpc client speaks JSON-RPC only, so use curl-less GET */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "python3 -c \"import urllib.request,sys;"
           "print(urllib.request.urlopen('%smetrics',timeout=10).read().decode())\" 2>/dev/null",
           u);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  char line[512];
  double v = -1;
  size_t nl = strlen(name);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, name, nl) && line[nl] == ' ') v = atof(line + nl + 1);
  pclose(f);
  return v;
}

int main(int argc, char **argv) {
  const char *key = NULL, *nodes = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--nodes")) nodes = argv[i + 1];
    else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
    else if (!strcmp(argv[i], "--senders")) n_senders = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
  }
  if (!nodes || !key || !n_senders || n_senders > 256 || rate <= 0) {
    fprintf(stderr, "usage: bench_load --nodes URL[,URL...] --key FILE [--senders K] "
                    "[--rate TX/S] [--duration S]\n");
    return 2;
  }
  char *list = strdup(nodes);
  for (char *s = strtok(list, ","); s && n_urls < 16; s = strtok(NULL, ",")) urls[n_urls++] = s;
  core_init();
  core_key dev;
  core_errbuf eb;
  if (core_keyfile_read(key, &dev, &eb)) {
    fprintf(stderr, "bench_load: %s\n", eb.msg);
    return 1;
  }
  json_t *st = call(urls[0], "status", NULL, 1);
  snprintf(chain, sizeof chain, "%s", json_string_value(json_object_get(st, "chain_id")));
  json_decref(st);

  /* fund the senders from the key (through the first node) */
  ssec = calloc(n_senders, 32);
  uint64_t dn = next_nonce(urls[0], dev.pub);
  for (size_t k = 0; k < n_senders; k++) {
    uint8_t spub[32], id[20];
    core_schnorr_keygen(ssec[k], spub);
    core_account_id(id, spub);
    char *hex = transfer(dev.secret, dn + k, id, 10000000000000ull, "");
    json_decref(call(urls[0], "broadcast_tx",
                     json_pack("{s:s, s:s}", "tx", hex, "mode", k + 1 == n_senders ? "commit" : "sync"),
                     1));
    free(hex);
  }
  st = call(urls[0], "status", NULL, 1);
  uint64_t h = (uint64_t)json_integer_value(json_object_get(st, "latest_height"));
  json_decref(st);
  double rounds0 = metric(urls[0], "cohort_consensus_rounds_total");
  double blocks0 = metric(urls[0], "cohort_blocks_total");

  pthread_t th[256];
  double start = now_s();
  for (size_t k = 0; k < n_senders; k++) pthread_create(&th[k], NULL, sender, (void *)k);
  size_t cap = 1 << 16, nl = 0, committed = 0, blocks = 0;
  double *lat = malloc(cap * sizeof *lat), first = 0, last = 0;
  uint64_t first_time = 0, last_time = 0;
  while (now_s() - start < duration + 30) {
    if (now_s() - start >= duration) atomic_store(&stop, 1);
    st = call(urls[0], "status", NULL, 0);
    if (!st) continue;
    uint64_t tip = (uint64_t)json_integer_value(json_object_get(st, "latest_height"));
    json_decref(st);
    if (tip == h) {
      if (atomic_load(&stop) && committed >= atomic_load(&sent)) break;
      usleep(5000);
      continue;
    }
    for (h = h + 1; h <= tip; h++) {
      json_int_t off = 0;
      uint64_t now = wall_ms();
      size_t in_block = 0;
      uint64_t btime = 0;
      for (;;) {
        json_t *b = call(urls[0], "block", json_pack("{s:I, s:I}", "height", (json_int_t)h,
                                                     "txs_offset", off), 1);
        btime = (uint64_t)json_integer_value(json_object_get(json_object_get(b, "header"),
                                                             "time_ms"));
        json_t *txs = json_object_get(b, "txs"), *x;
        size_t i;
        json_array_foreach(txs, i, x) {
          const char *memo = json_string_value(json_object_get(x, "memo"));
          if (!memo || strncmp(memo, "t=", 2)) continue;
          uint64_t t = strtoull(memo + 2, NULL, 10);
          if (nl == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat))) return 1;
          lat[nl++] = (double)(now - t) / 1000.0;
          in_block++;
        }
        json_t *next = json_object_get(b, "txs_next_offset");
        int more = json_is_integer(next);
        if (more) off = json_integer_value(next);
        json_decref(b);
        if (!more) break;
      }
      committed += in_block;
      blocks++;
      if (!first_time) first_time = btime, first = now_s();
      last_time = btime;
      last = now_s();
    }
    h = tip;
  }
  atomic_store(&stop, 1);
  for (size_t k = 0; k < n_senders; k++) pthread_join(th[k], NULL);
  double rounds = metric(urls[0], "cohort_consensus_rounds_total") - rounds0;
  double nblocks = metric(urls[0], "cohort_blocks_total") - blocks0;
  qsort(lat, nl, sizeof *lat, cmpd);
  double window = last > first ? last - first : 1;
  printf("bench_load: %zu nodes, %zu senders, target %.0f tx/s for %.0f s\n", n_urls, n_senders,
         rate, duration);
  printf("  submitted            %lu txs (%lu refusals retried)\n", (unsigned long)sent,
         (unsigned long)refused);
  printf("  committed            %zu txs in %zu blocks over %.1f s\n", committed, blocks, window);
  printf("  throughput           %.0f tx/s committed (sustained over the window)\n",
         (double)committed / window);
  printf("  block interval       %.0f ms (mean of header times)\n",
         blocks > 1 ? (double)(last_time - first_time) / (double)(blocks - 1) : 0);
  printf("  rounds per height    %.2f (0 = every block decided in its first round)\n",
         nblocks > 0 ? rounds / nblocks : 0);
  printf("  submit->commit       p50 %.0f ms, p99 %.0f ms\n", nl ? lat[nl / 2] * 1000 : 0,
         nl ? lat[nl * 99 / 100] * 1000 : 0);
  free(lat);
  free(ssec);
  free(list);
  return 0;
}
