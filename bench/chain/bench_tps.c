/* bench/chain/bench_tps.c — signed transfers per second committed by one
 * validator, driven over JSON-RPC, with submit-to-commit latency, and the
 * raw Schnorr verification rate of this machine in the same run.
 *
 * It starts its own cohortd on a fresh temp home and free port, funds K
 * sender accounts, pre-signs N transfers (so signing is not measured),
 * submits them from K threads (broadcast_tx, mode sync), and follows the
 * blocks to see when each tx commits. Prints figures; never fails on time.
 *
 * --msg delegate measures MsgDelegate instead (docs/staking.md: each sender
 * delegates 1000 STK base units at a time to the devnet's validator): the
 * staking path, with its reward settlement and power-index rewrite.
 *
 * usage: bench_tps --bin BUILD/bin [--txs N] [--senders K] [--block-interval MS]
 *                  [--msg transfer|delegate]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

static char url[64];

/* p is stolen. */
static json_t *call(const char *m, json_t *p) {
  json_t *r = NULL;
  core_errbuf eb;
  int rc = rpc_client_call(url, m, p, 120000, &r, NULL, &eb);
  json_decref(p);
  if (rc) {
    fprintf(stderr, "bench: %s failed: %s\n", m, eb.msg);
    exit(1);
  }
  return r;
}

typedef struct {
  char *hex;
  uint8_t hash[32];
  double submit, commit;
} item;

static item *items;
static size_t n_txs, n_senders;
static int delegate_mode;

static void *sender(void *arg) {
  size_t k = (size_t)arg;
  for (size_t i = k; i < n_txs; i += n_senders) {
    json_t *r = NULL, *d = NULL;
    core_errbuf eb;
    items[i].submit = now_s();
    json_t *p = json_pack("{s:s}", "tx", items[i].hex);
    int rc = rpc_client_call(url, "broadcast_tx", p, 60000, &r, &d, &eb);
    json_decref(p);
    json_decref(d);
    if (rc) {
      fprintf(stderr, "bench: tx %zu refused: %s\n", i, eb.msg);
      exit(1);
    }
    json_decref(r);
  }
  return NULL;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  bind(s, (struct sockaddr *)&a, sizeof a);
  getsockname(s, (struct sockaddr *)&a, &l);
  close(s);
  return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
  const char *bin = NULL;
  n_txs = 20000;
  n_senders = 8;
  unsigned interval = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--bin")) bin = argv[i + 1];
    else if (!strcmp(argv[i], "--txs")) n_txs = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--senders")) n_senders = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--block-interval")) interval = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--msg")) delegate_mode = !strcmp(argv[i + 1], "delegate");
  }
  if (!bin || !n_txs || !n_senders || n_senders > 256) {
    fprintf(stderr, "usage: bench_tps --bin BUILD/bin [--txs N] [--senders K] [--block-interval MS]\n");
    return 2;
  }
  core_init();
  /* 1. Raw Schnorr verification rate, the bound. */
  uint8_t sec[32], pub[32], msg[32] = {1}, sig[64];
  core_schnorr_keygen(sec, pub);
  core_schnorr_sign(sig, msg, sec, NULL);
  double t0 = now_s();
  size_t nv = 0;
  while (now_s() - t0 < 1.0)
    for (int i = 0; i < 100; i++, nv++)
      if (core_schnorr_verify(sig, msg, pub)) return 1;
  double verify_rate = (double)nv / (now_s() - t0);

  /* 2. A fresh node. */
  char home[] = "/tmp/cohort_bench_XXXXXX", cmd[1024];
  if (!mkdtemp(home)) return 1;
  int port = free_port();
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  snprintf(cmd, sizeof cmd,
           "%s/cohortd init --home %s --rpc-listen 127.0.0.1:%d --p2p-listen 127.0.0.1:0 >/dev/null && "
           "sed -i 's/^block_interval_ms = .*/block_interval_ms = %u/; "
           "s/^log_level = .*/log_level = warn/; s/^max_txs = .*/max_txs = 200000/' %s/cohortd.conf",
           bin, home, port, interval, home);
  if (system(cmd) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    char b[512];
    snprintf(b, sizeof b, "%s/cohortd", bin);
    execl(b, b, "start", "--home", home, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    json_t *r = NULL;
    core_errbuf eb;
    if (!rpc_client_call(url, "health", NULL, 1000, &r, NULL, &eb)) {
      json_decref(r);
      break;
    }
    usleep(50000);
  }
  json_t *st = call("status", NULL);
  char chain[64];
  snprintf(chain, sizeof chain, "%s", json_string_value(json_object_get(st, "chain_id")));
  json_decref(st);
  core_key dev;
  core_errbuf eb;
  snprintf(cmd, sizeof cmd, "%s/keys/dev.json", home);
  if (core_keyfile_read(cmd, &dev, &eb)) return 1;

  /* 3. Fund the senders (one block), then pre-sign everything. */
  uint8_t (*ssec)[32] = calloc(n_senders, 32), dev_id[20];
  core_account_id(dev_id, dev.pub); /* operates the devnet's validator */
  size_t nfund = delegate_mode ? 2 * n_senders : n_senders;
  for (size_t f = 0; f < nfund; f++) {
    size_t k = f % n_senders;
    uint8_t spub[32], id[20];
    if (f < n_senders) core_schnorr_keygen(ssec[k], spub);
    else core_schnorr_pubkey(spub, ssec[k]);
    core_account_id(id, spub);
    Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
    t.to = (ProtobufCBinaryData){20, id};
    t.token = f < n_senders ? COHORT__TOKEN__CRD : COHORT__TOKEN__STK;
    t.amount = f < n_senders ? 1000000000000ull : 10000000000ull;
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.nonce = f;
    b.fee = 10000; /* covers a transfer's gas at the default price */
    b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
    b.transfer = &t;
    uint8_t *raw;
    size_t len;
    tx_build(&raw, &len, &b, chain, dev.secret, NULL);
    char *hex = malloc(2 * len + 1);
    core_hex_encode(hex, raw, len);
    json_decref(call("broadcast_tx", json_pack("{s:s, s:s}", "tx", hex,
                                               "mode", f + 1 == nfund ? "commit" : "sync")));
    free(hex);
    free(raw);
  }
  items = calloc(n_txs, sizeof *items);
  uint8_t to[20] = {7};
  for (size_t i = 0; i < n_txs; i++) {
    Cohort__MsgTransfer t = COHORT__MSG_TRANSFER__INIT;
    t.to = (ProtobufCBinaryData){20, to};
    t.token = COHORT__TOKEN__CRD;
    t.amount = 1 + i;
    Cohort__MsgDelegate dm = COHORT__MSG_DELEGATE__INIT;
    dm.validator = (ProtobufCBinaryData){20, dev_id};
    dm.amount = 1000;
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.nonce = i / n_senders;
    b.fee = 10000; /* covers a transfer's (or a delegation's) gas at the default price */
    if (delegate_mode) {
      b.msg_case = COHORT__TX_BODY__MSG_DELEGATE;
      b.delegate = &dm;
    } else {
      b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
      b.transfer = &t;
    }
    uint8_t *raw;
    size_t len;
    tx_build(&raw, &len, &b, chain, ssec[i % n_senders], NULL);
    core_sha256(items[i].hash, raw, len);
    items[i].hex = malloc(2 * len + 1);
    core_hex_encode(items[i].hex, raw, len);
    free(raw);
  }
  st = call("status", NULL);
  uint64_t h0 = (uint64_t)json_integer_value(json_object_get(st, "latest_height"));
  json_decref(st);

  /* 4. Submit from K threads; follow blocks on this thread. */
  pthread_t th[256];
  double start = now_s();
  for (size_t k = 0; k < n_senders; k++) pthread_create(&th[k], NULL, sender, (void *)k);
  size_t committed = 0;
  uint64_t h = h0, blocks = 0;
  double first_block = 0, last_block = 0;
  while (committed < n_txs && now_s() - start < 600) {
    json_t *s2 = call("status", NULL);
    uint64_t tip = (uint64_t)json_integer_value(json_object_get(s2, "latest_height"));
    json_decref(s2);
    if (tip == h) {
      usleep(2000);
      continue;
    }
    for (h = h + 1; h <= tip; h++) {
      /* The node pages a block's txs (docs/rpc.md): follow txs_next_offset. */
      json_t *b = call("block", json_pack("{s:I, s:b}", "height", (json_int_t)h, "full", 0));
      double t = now_s();
      json_t *txs = json_object_get(b, "txs"), *x;
      json_t *next = json_incref(json_object_get(b, "txs_next_offset"));
      while (json_is_integer(next)) {
        json_t *pg = call("block", json_pack("{s:I, s:b, s:I}", "height", (json_int_t)h, "full", 0,
                                             "txs_offset", json_integer_value(next)));
        json_array_extend(txs, json_object_get(pg, "txs"));
        json_decref(next);
        next = json_incref(json_object_get(pg, "txs_next_offset"));
        json_decref(pg);
      }
      json_decref(next);
      size_t i;
      json_array_foreach(txs, i, x) {
        uint8_t hh[32];
        size_t n;
        core_hex_decode(hh, 32, &n, json_string_value(x), 64);
        /* items are found by hash: linear probe from a hint is enough here */
        for (size_t j = 0; j < n_txs; j++)
          if (items[j].commit == 0 && !memcmp(items[j].hash, hh, 32)) {
            items[j].commit = t;
            committed++;
            break;
          }
      }
      if (json_array_size(txs)) {
        if (!first_block) first_block = t;
        last_block = t;
        blocks++;
      }
      json_decref(b);
    }
    h = tip;
  }
  for (size_t k = 0; k < n_senders; k++) pthread_join(th[k], NULL);
  double end = last_block;
  double *lat = calloc(n_txs, sizeof *lat);
  size_t nl = 0;
  for (size_t i = 0; i < n_txs; i++)
    if (items[i].commit) lat[nl++] = items[i].commit - items[i].submit;
  qsort(lat, nl, sizeof *lat, cmpd);
  double tps = (double)committed / (end - start);
  printf("bench_tps: %zu signed %s from %zu senders, block_interval_ms=%u\n", n_txs,
         delegate_mode ? "delegations" : "transfers", n_senders, interval);
  printf("  committed            %zu txs in %.2f s over %llu blocks (%.0f txs/block)\n", committed,
         end - start, (unsigned long long)blocks, blocks ? (double)committed / (double)blocks : 0);
  printf("  block interval       %.0f ms (mean, between blocks with txs)\n",
         blocks > 1 ? (last_block - first_block) * 1000 / (double)(blocks - 1) : 0);
  printf("  throughput           %.0f tx/s committed\n", tps);
  printf("  submit->commit       p50 %.0f ms, p99 %.0f ms\n", nl ? lat[nl / 2] * 1000 : 0,
         nl ? lat[nl * 99 / 100] * 1000 : 0);
  printf("  schnorr verify       %.0f /s on one core (the bound)\n", verify_rate);
  printf("  ratio                %.1f%% of the signature-verification bound\n",
         100.0 * tps / verify_rate);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", home);
  if (system(cmd) != 0) return 1;
  return 0;
}
