/* bench/p2p/bench_p2p.c — figures for the p2p layer (never pass/fail).
 *
 * 1. The frame codec alone, one core: seal and open of full 16 KiB frames
 *    and of small (128-byte) frames, MB/s and frames/s.
 * 2. Two switches on loopback, each on its own libuv loop and thread (one
 *    core each on a 2-core machine): A sends messages of 100 B .. 1 MiB on
 *    the block-sync channel to B as fast as back-pressure allows; figures are
 *    messages/s, payload MB/s, and wire bytes per payload byte.
 * 3. Priority under load: while A streams 1 MiB blobs to B, the time from
 *    p2p_send of a consensus message to its arrival at B (p50, p99).
 * Usage: bench_p2p [SECONDS_PER_CASE]   (default 2)
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/log.h"
#include "p2p/p2p.h"
#include "p2p/p2p_frame.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- 1. codec ----------------------------------------------------------- */

static void bench_codec(double secs) {
  static uint8_t plain[P2P_FRAME_MAX_PLAIN], wire[P2P_FRAME_MAX_WIRE];
  static p2p_frame_dec d;
  size_t sizes[] = {128, P2P_FRAME_MAX_PLAIN};
  printf("frame codec, one core (XChaCha20-Poly1305, libsodium):\n");
  for (int s = 0; s < 2; s++) {
    size_t n = sizes[s];
    p2p_frame_key k;
    memset(k.key, 7, 32);
    k.counter = 0;
    p2p_frame_key dk = k;
    p2p_frame_dec_init(&d, &dk, 0);
    uint64_t frames = 0;
    double t0 = now(), t;
    do {
      for (int i = 0; i < 256; i++) {
        p2p_frame_seal(&k, wire, plain, n);
        size_t used, pl;
        const uint8_t *p;
        if (p2p_frame_dec_feed(&d, wire, P2P_FRAME_OVERHEAD + n, &used, &p, &pl, NULL) !=
            P2P_FRAME_OK) {
          printf("  decode failed\n");
          return;
        }
      }
      frames += 256;
      t = now() - t0;
    } while (t < secs / 2);
    printf("  %5zu-byte frames: seal+open %9.0f frames/s  %7.1f MB/s\n", n, frames / t,
           frames * (double)n / t / 1e6);
  }
}

/* ---- 2. two switches ---------------------------------------------------- */

typedef struct {
  uv_loop_t loop;
  uv_async_t wake;
  p2p_switch *sw;
  uint8_t sec[64], pub[32];
  char id[41];
  atomic_int up, closed, stop;
  atomic_ullong msgs, bytes, cons_msgs;
  atomic_ullong cons_sent_ns; /* when A sent the consensus probe */
  double lat[4096];
  atomic_int nlat;
} side;

static side A, B;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_up(void *ctx, const p2p_peer_info *p) {
  (void)p;
  ((side *)ctx)->up = 1;
}

static void on_msg(void *ctx, const p2p_peer_info *p, int ch, const uint8_t *m, size_t len) {
  side *s = ctx;
  (void)p;
  if (ch == P2P_CH_CONSENSUS && len == 8) {
    uint64_t sent;
    memcpy(&sent, m, 8);
    int i = atomic_load(&s->nlat);
    if (i < 4096) {
      s->lat[i] = (double)(mono_ns() - sent) / 1e6;
      atomic_store(&s->nlat, i + 1);
    }
    return;
  }
  atomic_fetch_add(&s->msgs, 1);
  atomic_fetch_add(&s->bytes, len);
}

static const p2p_callbacks CB = {on_up, NULL, on_msg};

static void on_closed(void *arg) { ((side *)arg)->closed = 1; }

static void on_wake(uv_async_t *a) {
  side *s = a->data;
  if (s->stop && s->sw) {
    p2p_switch_close(s->sw, on_closed, s);
    s->sw = NULL;
    uv_close((uv_handle_t *)&s->wake, NULL);
  }
}

static p2p_config cfg_of(const char *peers) {
  p2p_config c;
  memset(&c, 0, sizeof c);
  c.chain_id = "bench";
  c.listen = peers ? NULL : "127.0.0.1:0";
  c.persistent_peers = peers;
  c.no_pex = 1;
  c.recv_msgs_per_s = P2P_UNLIMITED;
  c.max_msg_bytes[P2P_CH_BLOCKSYNC] = 2u << 20;
  c.max_msg_bytes[P2P_CH_BLOBS] = 2u << 20;
  c.queue_bytes[P2P_CH_BLOCKSYNC] = 8u << 20;
  c.queue_bytes[P2P_CH_BLOBS] = 8u << 20;
  c.ping_interval_ms = 1000;
  c.pong_timeout_ms = 30000;
  c.stall_timeout_ms = 30000;
  return c;
}

static void start_side(side *s, int k, const char *peers) {
  uint8_t seed[32];
  memset(seed, k, 32);
  core_ed25519_from_seed(s->sec, s->pub, seed);
  p2p_node_id_hex(s->id, s->pub);
  uv_loop_init(&s->loop);
  uv_async_init(&s->loop, &s->wake, on_wake);
  s->wake.data = s;
  p2p_config c = cfg_of(peers);
  core_errbuf eb;
  if (p2p_switch_new(&s->sw, &s->loop, &c, s->sec, &CB, s, &eb)) {
    fprintf(stderr, "bench_p2p: %s\n", eb.msg);
    exit(1);
  }
}

static void *b_thread(void *arg) {
  (void)arg;
  uv_run(&B.loop, UV_RUN_DEFAULT);
  return NULL;
}

/* A's sender: a check handle tops the queue up after every loop turn. */
typedef struct {
  size_t size;
  uint64_t target, sent;
  uint8_t *buf;
  int ch;
  int probe; /* also send consensus probes */
  double next_probe;
  int done;
} sender;

static sender S;
static uv_check_t check;
static uv_timer_t nudge;

static void top_up(void) {
  while (S.sent < S.target) {
    int rc = p2p_send(A.sw, B.id, S.ch, S.buf, S.size);
    if (rc == COHORT_ERR_QUEUE_FULL) break;
    if (rc) {
      fprintf(stderr, "bench_p2p: send: %s\n", core_err_str(rc));
      exit(1);
    }
    S.sent++;
  }
  if (S.probe && now() >= S.next_probe && atomic_load(&B.nlat) < 4096) {
    uint64_t t = mono_ns();
    p2p_send(A.sw, B.id, P2P_CH_CONSENSUS, (const uint8_t *)&t, 8);
    S.next_probe = now() + 0.002;
  }
  if (atomic_load(&B.msgs) >= S.target) {
    S.done = 1;
    uv_stop(&A.loop);
  }
}

static void on_check(uv_check_t *c) {
  (void)c;
  top_up();
}

static void on_nudge(uv_timer_t *t) {
  (void)t;
  top_up();
}

static void run_case(size_t size, double secs, int ch, int probe, double *mbs, double *mps,
                     uint64_t *msgs_out) {
  /* Estimate a count that takes about secs: a short warm-up first. */
  memset(&S, 0, sizeof S);
  S.size = size;
  S.ch = ch;
  S.buf = calloc(1, size);
  S.probe = probe;
  uint64_t target = 64;
  double t = 0;
  for (;;) {
    atomic_store(&B.msgs, 0);
    atomic_store(&B.bytes, 0);
    S.sent = 0;
    S.target = target;
    S.done = 0;
    double t0 = now();
    uv_run(&A.loop, UV_RUN_DEFAULT);
    t = now() - t0;
    if (t >= secs || target > (1ull << 32)) break;
    double scale = t > 0.01 ? secs / t : 64;
    if (scale > 64) scale = 64;
    target = (uint64_t)((double)target * scale * 1.05) + 1;
  }
  *mps = (double)target / t;
  *mbs = (double)target * (double)size / t / 1e6;
  *msgs_out = target;
  free(S.buf);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  if (secs <= 0) secs = 2.0;
  if (core_init() != 0) return 1;
  core_log_set_level(LOG_WARN);
  bench_codec(secs);

  start_side(&B, 2, NULL);
  char peer[128];
  snprintf(peer, sizeof peer, "%s@127.0.0.1:%d", B.id, p2p_switch_port(B.sw));
  start_side(&A, 1, peer);
  pthread_t th;
  pthread_create(&th, NULL, b_thread, NULL);
  uv_check_init(&A.loop, &check);
  uv_check_start(&check, on_check);
  uv_timer_init(&A.loop, &nudge);
  uv_timer_start(&nudge, on_nudge, 1, 1);
  double t0 = now();
  while (!A.up && now() - t0 < 30) uv_run(&A.loop, UV_RUN_NOWAIT);
  if (!A.up) {
    fprintf(stderr, "bench_p2p: the two switches did not connect\n");
    return 1;
  }
  printf("two switches on loopback, one loop/thread each, block-sync channel, %.0f s per size:\n",
         secs);
  printf("  %9s %10s %12s %10s %14s\n", "size", "messages", "messages/s", "MB/s", "wire/payload");
  size_t sizes[] = {100, 1024, 16 * 1024, 64 * 1024, 1024 * 1024};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    p2p_stats s0, s1;
    p2p_switch_stats(A.sw, &s0);
    double mbs, mps;
    uint64_t n;
    run_case(sizes[i], secs, P2P_CH_BLOCKSYNC, 0, &mbs, &mps, &n);
    p2p_switch_stats(A.sw, &s1);
    double ratio = (double)(s1.wire_sent - s0.wire_sent) /
                   (double)(s1.msg_bytes_sent[P2P_CH_BLOCKSYNC] - s0.msg_bytes_sent[P2P_CH_BLOCKSYNC]);
    printf("  %8zuB %10llu %12.0f %10.1f %14.3f\n", sizes[i], (unsigned long long)n, mps, mbs,
           ratio);
  }
  /* Priority: consensus probes every 2 ms while 1 MiB blobs stream. */
  atomic_store(&B.nlat, 0);
  double mbs, mps;
  uint64_t n;
  run_case(1024 * 1024, secs, P2P_CH_BLOBS, 1, &mbs, &mps, &n);
  int k = atomic_load(&B.nlat);
  if (k > 0) {
    qsort(B.lat, (size_t)k, sizeof B.lat[0], cmp_d);
    printf("consensus message latency while 1 MiB blobs stream at %.0f MB/s: p50 %.2f ms, "
           "p99 %.2f ms, max %.2f ms (%d probes)\n",
           mbs, B.lat[k / 2], B.lat[(k * 99) / 100], B.lat[k - 1], k);
  }
  uv_check_stop(&check);
  uv_close((uv_handle_t *)&check, NULL);
  uv_close((uv_handle_t *)&nudge, NULL);
  B.stop = 1;
  uv_async_send(&B.wake);
  p2p_switch_close(A.sw, on_closed, &A);
  uv_close((uv_handle_t *)&A.wake, NULL);
  uv_run(&A.loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  uv_loop_close(&A.loop);
  uv_loop_close(&B.loop);
  return 0;
}
