/* Unit tests for the p2p switch on real loopback sockets, all switches on one
 * libuv loop in this thread: four nodes that find each other from one seed
 * by PEX, broadcast and direct sends, a killed node redialled with backoff
 * until it returns; bad peers (a raw client in a thread, speaking the real
 * handshake through the pure p2p_handshake/p2p_frame code, then misbehaving):
 * garbage after the handshake, an oversize frame, an oversize message, a
 * flood, a peer that never reads — each dropped and banned while a good peer
 * stays up and keeps talking; a banned node that comes back is refused;
 * duplicate connections from simultaneous dials resolved to one; inbound
 * limits; wrong chain; identity mismatch; configuration errors; the send
 * API's errors; metrics. Time is only a hang guard: every wait is for a
 * condition, with a generous deadline. Every switch is closed and the loop
 * closed cleanly, so ASan sees any leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/log.h"
#include "p2p/p2p.h"
#include "p2p/p2p_handshake.h"
#include "p2p/p2p_int.h"

#define CHAIN "p2p-test-1"
#define GUARD_MS 60000 /* a hang guard, never a pass/fail criterion */
#define P2P_DEBUG() (getenv("P2P_TEST_DEBUG") != NULL)

/* ---- a world of switches on one loop ----------------------------------- */

typedef struct node {
  p2p_switch *sw;
  uint8_t sec[64], pub[32];
  char id[41];
  int port;
  int ups, downs, closed;
  int msgs[P2P_CH_COUNT];
  uint8_t last[256];
  size_t last_len;
  char last_from[41];
  int last_down_reason;
  char last_down_why[320];
  char last_down_id[41];
  int penalize_on_msg; /* on_message drops the sender (100 points) first */
  int close_on_msg;    /* on_message closes the whole switch first */
} node;

static void on_up(void *ctx, const p2p_peer_info *p) {
  node *n = ctx;
  n->ups++;
  assert_true(p2p_id_is_valid(p->id, strlen(p->id)));
}

static void on_down(void *ctx, const p2p_peer_info *p, int reason, const char *why) {
  node *n = ctx;
  n->downs++;
  n->last_down_reason = reason;
  snprintf(n->last_down_why, sizeof n->last_down_why, "%s", why);
  memcpy(n->last_down_id, p->id, 41);
}

static void on_closed(void *arg);

static void on_msg(void *ctx, const p2p_peer_info *p, int ch, const uint8_t *m, size_t len) {
  node *n = ctx;
  assert_true(ch > P2P_CH_CONTROL && ch < P2P_CH_COUNT);
  /* The message and the peer info stay valid for the whole call, even after
   * the peer or the switch is closed from inside it (ASan checks). */
  if (n->penalize_on_msg) p2p_peer_penalize(n->sw, p->id, P2P_BAN_POINTS, "test: drop on message");
  if (n->close_on_msg) {
    p2p_switch_close(n->sw, on_closed, n);
    n->close_on_msg = 0;
  }
  n->msgs[ch]++;
  n->last_len = len < sizeof n->last ? len : sizeof n->last;
  memcpy(n->last, m, n->last_len);
  memcpy(n->last_from, p->id, 41);
}

static const p2p_callbacks CB = {on_up, on_down, on_msg};

static void node_key(node *n, int k) {
  uint8_t seed[32];
  memset(seed, 0, 32);
  seed[0] = (uint8_t)k;
  seed[1] = 0x5a;
  core_ed25519_from_seed(n->sec, n->pub, seed);
  p2p_node_id_hex(n->id, n->pub);
}

/* Timings for tests: everything fast, the pong deadline generous. */
static p2p_config fast_cfg(void) {
  p2p_config c;
  memset(&c, 0, sizeof c);
  c.chain_id = CHAIN;
  c.listen = "127.0.0.1:0";
  c.handshake_timeout_ms = 5000;
  c.ping_interval_ms = 200;
  c.pong_timeout_ms = 10000;
  c.backoff_min_ms = 50;
  c.backoff_max_ms = 400;
  c.pex_interval_ms = 100;
  c.ban_ms = 60000;
  return c;
}

static uv_loop_t loop;
static uv_timer_t check_timer;
static int (*pred)(void *);
static void *pred_arg;
static uint64_t pred_deadline;
static int pred_ok;

static void on_check(uv_timer_t *t) {
  (void)t;
  if (pred && pred(pred_arg)) {
    pred_ok = 1;
    uv_stop(&loop);
  } else if (uv_now(&loop) >= pred_deadline) {
    uv_stop(&loop);
  }
}

/* Run the loop until f(arg) holds; 0 if the hang guard fired first. */
static int run_until(int (*f)(void *), void *arg, uint64_t guard_ms) {
  pred = f;
  pred_arg = arg;
  pred_ok = 0;
  uv_update_time(&loop);
  pred_deadline = uv_now(&loop) + guard_ms;
  uv_timer_start(&check_timer, on_check, 0, 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_timer_stop(&check_timer);
  pred = NULL;
  return pred_ok;
}

static int always(void *a) {
  (void)a;
  return 0;
}

/* Run the loop for about ms (to let things settle; never a criterion). */
static void run_for(uint64_t ms) { run_until(always, NULL, ms); }

static void world_init(void) {
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &check_timer);
}

static void on_closed(void *arg) { ((node *)arg)->closed = 1; }

static int node_start(node *n, p2p_config *c) {
  core_errbuf eb;
  n->closed = 0;
  int rc = p2p_switch_new(&n->sw, &loop, c, n->sec, &CB, n, &eb);
  if (rc) {
    fprintf(stderr, "p2p_switch_new: %s\n", eb.msg);
    return rc;
  }
  n->port = p2p_switch_port(n->sw);
  assert_string_equal(p2p_switch_id(n->sw), n->id);
  return 0;
}

static int is_closed(void *a) { return ((node *)a)->closed; }

static void node_stop(node *n) {
  if (!n->sw) return;
  p2p_switch_close(n->sw, on_closed, n);
  p2p_switch_close(n->sw, on_closed, n); /* idempotent */
  assert_true(run_until(is_closed, n, GUARD_MS));
  n->sw = NULL;
}

static void world_end(void) {
  uv_close((uv_handle_t *)&check_timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static size_t n_peers(const node *n) { return p2p_switch_peers(n->sw, NULL, 0); }

static int has_peer(const node *n, const char *id) {
  p2p_peer_info info[16];
  size_t k = p2p_switch_peers(n->sw, info, 16);
  for (size_t i = 0; i < k && i < 16; i++)
    if (strcmp(info[i].id, id) == 0) return 1;
  return 0;
}

static void peer_addr(char *out, size_t cap, const node *n) {
  snprintf(out, cap, "%s@127.0.0.1:%d", n->id, n->port);
}

/* The log, captured: 1 if a line names both needles. */
static FILE *log_file;

static int logged(const char *a, const char *b) {
  fflush(log_file);
  rewind(log_file);
  char line[2048];
  int found = 0;
  while (!found && fgets(line, sizeof line, log_file)) found = strstr(line, a) && strstr(line, b);
  fseek(log_file, 0, SEEK_END);
  return found;
}

/* ---- 1. four nodes, one seed ------------------------------------------- */

static node N[4];

static int full_mesh(void *a) {
  int k = *(int *)a;
  for (int i = 0; i < k; i++)
    if (!N[i].sw || n_peers(&N[i]) != (size_t)(k - 1)) return 0;
  return 1;
}

static int got_consensus(void *a) {
  int want = *(int *)a;
  for (int i = 0; i < 4; i++)
    if (i != 1 && N[i].msgs[P2P_CH_CONSENSUS] < want) return 0;
  return 1;
}

static int n3_failed_redials(void *a) {
  (void)a;
  p2p_stats s;
  p2p_switch_stats(N[3].sw, &s);
  return s.dials_failed >= 3;
}

static int n3_sees_n2(void *a) {
  (void)a;
  return has_peer(&N[3], N[2].id);
}

static void test_mesh_pex_broadcast_reconnect(void **st) {
  (void)st;
  world_init();
  memset(N, 0, sizeof N);
  for (int i = 0; i < 4; i++) node_key(&N[i], 10 + i);
  p2p_config c = fast_cfg();
  c.moniker = "seed";
  assert_int_equal(node_start(&N[0], &c), 0);
  char seed[128], n2addr[128];
  peer_addr(seed, sizeof seed, &N[0]);
  /* Node 1 and 2 know only the seed; node 3 the seed and node 2 as a
   * persistent peer (so it must redial node 2 when it goes away). */
  c.seeds = seed;
  c.moniker = "one";
  assert_int_equal(node_start(&N[1], &c), 0);
  c.moniker = "two";
  assert_int_equal(node_start(&N[2], &c), 0);
  peer_addr(n2addr, sizeof n2addr, &N[2]);
  c.moniker = "three";
  c.persistent_peers = n2addr;
  assert_int_equal(node_start(&N[3], &c), 0);
  int four = 4;
  assert_true(run_until(full_mesh, &four, GUARD_MS));
  /* Everyone learned everyone: 0 told the others about each other. */
  p2p_peer_info info[4];
  assert_int_equal(p2p_switch_peers(N[0].sw, info, 4), 3);
  assert_true(strcmp(info[0].id, info[1].id) < 0 && strcmp(info[1].id, info[2].id) < 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(info[i].outbound, 0);
    assert_true(info[i].dial_addr[0] != 0);
  }
  /* Broadcast from node 1 reaches the three others. */
  const char *vote = "prevote h=1 r=0";
  assert_int_equal(p2p_broadcast(N[1].sw, P2P_CH_CONSENSUS, (const uint8_t *)vote, strlen(vote), NULL), 3);
  int one = 1;
  assert_true(run_until(got_consensus, &one, GUARD_MS));
  for (int i = 0; i < 4; i++) {
    if (i == 1) continue;
    assert_int_equal(N[i].last_len, strlen(vote));
    assert_memory_equal(N[i].last, vote, strlen(vote));
    assert_string_equal(N[i].last_from, N[1].id);
  }
  /* Except one peer. */
  assert_int_equal(p2p_broadcast(N[1].sw, P2P_CH_CONSENSUS, (const uint8_t *)"x", 1, N[0].id), 2);
  /* A direct send, large enough to span frames. */
  size_t big = 100000;
  uint8_t *blob = malloc(big);
  for (size_t i = 0; i < big; i++) blob[i] = (uint8_t)(i * 7);
  assert_int_equal(p2p_send(N[2].sw, N[3].id, P2P_CH_BLOBS, blob, big), 0);
  int *m3 = &N[3].msgs[P2P_CH_BLOBS];
  int before = *m3;
  while (*m3 == before) assert_true(run_until(always, NULL, 5) == 0 && *m3 >= before);
  free(blob);
  /* Pings flow: rtt measured after a few intervals. */
  run_for(500);
  assert_int_equal(p2p_switch_peers(N[0].sw, info, 4), 3);
  for (int i = 0; i < 3; i++) assert_true(info[i].bytes_recv > 0);

  /* Kill node 2. Node 3 redials it with backoff and keeps failing ... */
  int port2 = N[2].port;
  node_stop(&N[2]);
  assert_true(run_until(n3_failed_redials, NULL, GUARD_MS));
  assert_false(has_peer(&N[3], N[2].id));
  /* ... until node 2 comes back on the same port with the same key. */
  char listen2[64];
  snprintf(listen2, sizeof listen2, "127.0.0.1:%d", port2);
  p2p_config c2 = fast_cfg();
  c2.listen = listen2;
  c2.seeds = seed;
  N[2].ups = N[2].downs = 0;
  assert_int_equal(node_start(&N[2], &c2), 0);
  assert_true(run_until(n3_sees_n2, NULL, GUARD_MS));
  assert_true(run_until(full_mesh, &four, GUARD_MS));
  /* A node allowed one outbound peer learns every address by PEX but dials
   * only one. */
  node E;
  memset(&E, 0, sizeof E);
  node_key(&E, 19);
  p2p_config ce = fast_cfg();
  ce.listen = NULL;
  ce.seeds = seed;
  ce.max_outbound = 1;
  assert_int_equal(node_start(&E, &ce), 0);
  p2p_stats se;
  do {
    assert_int_equal(run_until(always, NULL, 5), 0);
    p2p_switch_stats(E.sw, &se);
  } while (se.book_size < 4 || se.peers_outbound < 1);
  run_for(500);
  p2p_switch_stats(E.sw, &se);
  assert_int_equal(se.peers_outbound, 1);
  assert_int_equal(se.connecting, 0);
  assert_int_equal(n_peers(&E), 1);
  node_stop(&E);
  /* The metrics page names the channels and counts peers. */
  char *m = p2p_switch_metrics(N[3].sw);
  assert_non_null(m);
  assert_non_null(strstr(m, "cohort_p2p_peers{direction=\"inbound\"}"));
  assert_non_null(strstr(m, "cohort_p2p_message_bytes_received_total{channel=\"blobs\"} 100000"));
  assert_non_null(strstr(m, "cohort_p2p_dials_failed_total"));
  free(m);
  for (int i = 0; i < 4; i++) node_stop(&N[i]);
  /* Every peer that was up went down when the switches closed. */
  for (int i = 0; i < 4; i++) assert_true(N[i].downs >= 1);
  world_end();
}

/* ---- 2. bad peers ------------------------------------------------------- */

enum { RAW_GOOD, RAW_GARBAGE, RAW_OVERSIZE_FRAME, RAW_OVERSIZE_MSG, RAW_FLOOD, RAW_NOREAD,
       RAW_UNKNOWN_CHANNEL, RAW_GARBAGE_EARLY, RAW_SILENT };

typedef struct {
  int port;
  int mode;
  node key;
  const char *expect;
  pthread_t th;
  atomic_int hs_ok, eof, stop, done;
  char err[320];
} rawpeer;

static int send_all(int fd, const uint8_t *b, size_t n) {
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *raw_main(void *arg) {
  rawpeer *r = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (r->mode == RAW_NOREAD) {
    int small = 4096; /* so the victim's writes stall sooner */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)r->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p2p_handshake *hs = calloc(1, sizeof *hs);
  p2p_frame_dec *rx = calloc(1, sizeof *rx);
  uint8_t *buf = malloc(1 << 16);
  p2p_session s;
  memset(&s, 0, sizeof s);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    snprintf(r->err, sizeof r->err, "connect: %s", strerror(errno));
    goto out;
  }
  if (r->mode == RAW_SILENT) { /* connect, say nothing: wait to be dropped */
    for (int spins = 0; spins < 600 && !r->stop; spins++) {
      ssize_t n = recv(fd, buf, 1 << 16, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        r->eof = 1;
        break;
      }
    }
    goto out;
  }
  p2p_hs_config hc = {.initiator = 1, .chain_id = CHAIN, .identity_sec = r->key.sec,
                      .moniker = "raw", .expect_id = r->expect};
  core_errbuf eb;
  if (p2p_handshake_init(hs, &hc, &eb)) goto out;
  uint8_t out[P2P_HS_OUT_MAX];
  size_t on = p2p_handshake_take(hs, out, sizeof out);
  send_all(fd, out, on);
  int rc = P2P_HS_MORE;
  size_t left = 0, loff = 0;
  for (int spins = 0; rc == P2P_HS_MORE && spins < 100 && !r->stop; spins++) {
    ssize_t n = recv(fd, buf, 1 << 16, 0);
    if (n == 0) break;
    if (n < 0) continue;
    size_t used;
    rc = p2p_handshake_feed(hs, buf, (size_t)n, &used, &eb);
    on = p2p_handshake_take(hs, out, sizeof out);
    if (on) send_all(fd, out, on);
    left = (size_t)n - used;
    loff = used;
  }
  (void)left;
  (void)loff;
  if (rc != P2P_HS_OK) {
    snprintf(r->err, sizeof r->err, "handshake: %d %s", rc, hs->why.msg);
    goto drain;
  }
  p2p_handshake_session(hs, &s);
  p2p_frame_dec_init(rx, &s.rx, 0);
  r->hs_ok = 1;
  uint8_t plain[P2P_FRAME_MAX_PLAIN], *wire = malloc(1 << 20);
  size_t wl = 0, taken, fl;
  if (r->mode != RAW_GARBAGE_EARLY) {
    /* First a valid Ping, as a well-behaved node does: the victim counts us
     * as up, so what follows is misbehaviour of a peer that is up. */
    p2p_ctl c = {.kind = P2P_CTL_PING, .nonce = 42};
    uint8_t *m;
    size_t mn;
    p2p_ctl_encode(&c, &m, &mn);
    fl = p2p_env_frame(plain, P2P_CH_CONTROL, m, mn, 0, 1, &taken);
    p2p_frame_seal(&s.tx, wire, plain, fl);
    send_all(fd, wire, P2P_FRAME_OVERHEAD + fl);
    free(m);
    usleep(20000);
  }
  switch (r->mode) {
    case RAW_GOOD: {
      fl = p2p_env_frame(plain, P2P_CH_MEMPOOL, (const uint8_t *)"tx", 2, 0, 1, &taken);
      p2p_frame_seal(&s.tx, wire, plain, fl);
      send_all(fd, wire, P2P_FRAME_OVERHEAD + fl);
      break;
    }
    case RAW_GARBAGE:
    case RAW_GARBAGE_EARLY:
      randombytes_buf(wire, 200);
      core_put_u32be(wire, 100); /* a plausible length, then noise */
      send_all(fd, wire, 200);
      break;
    case RAW_OVERSIZE_FRAME:
      core_put_u32be(wire, P2P_FRAME_MAX_PLAIN + 1);
      memset(wire + 4, 0, 60);
      send_all(fd, wire, 64);
      break;
    case RAW_OVERSIZE_MSG: {
      /* A consensus message one byte over the victim's limit (64 KiB here). */
      uint8_t fake[16] = {0};
      fl = p2p_env_frame(plain, P2P_CH_CONSENSUS, fake, 16, 0, 1, &taken);
      core_put_u32be(plain + 2, (64u << 10) + 1);
      p2p_frame_seal(&s.tx, wire, plain, fl);
      send_all(fd, wire, P2P_FRAME_OVERHEAD + fl);
      break;
    }
    case RAW_UNKNOWN_CHANNEL: {
      fl = p2p_env_frame(plain, 9, (const uint8_t *)"??", 2, 0, 1, &taken);
      p2p_frame_seal(&s.tx, wire, plain, fl);
      send_all(fd, wire, P2P_FRAME_OVERHEAD + fl);
      break;
    }
    case RAW_FLOOD: {
      /* Valid pings, many more than the victim's rate allows. */
      p2p_ctl c = {.kind = P2P_CTL_PING, .nonce = 1};
      uint8_t *m;
      size_t mn;
      p2p_ctl_encode(&c, &m, &mn);
      for (int i = 0; i < 2000; i++) {
        fl = p2p_env_frame(plain, P2P_CH_CONTROL, m, mn, 0, 1, &taken);
        p2p_frame_seal(&s.tx, wire + wl, plain, fl);
        wl += P2P_FRAME_OVERHEAD + fl;
        if (wl > (1 << 20) - 100) break;
      }
      free(m);
      send_all(fd, wire, wl);
      break;
    }
    case RAW_NOREAD:
      while (!r->stop) usleep(10000);
      break;
  }
  free(wire);
drain:
  /* Read (and throw away) until the victim closes, or we are told to stop. */
  while (!r->stop && r->mode != RAW_NOREAD) {
    ssize_t n = recv(fd, buf, 1 << 16, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      r->eof = 1;
      break;
    }
  }
out:
  close(fd);
  p2p_handshake_wipe(hs);
  p2p_session_wipe(&s);
  free(hs);
  free(rx);
  free(buf);
  r->done = 1;
  return NULL;
}

static void raw_start(rawpeer *r, int port, int mode, int key, const char *expect) {
  memset(r, 0, sizeof *r);
  r->port = port;
  r->mode = mode;
  r->expect = expect;
  node_key(&r->key, key);
  assert_int_equal(pthread_create(&r->th, NULL, raw_main, r), 0);
}

static void raw_join(rawpeer *r) {
  r->stop = 1;
  pthread_join(r->th, NULL);
}

typedef struct {
  node *victim;
  rawpeer *raw;
} bad_ctx;

static int banned_and_gone(void *a) {
  bad_ctx *b = a;
  return p2p_switch_banned_ms(b->victim->sw, b->raw->key.id) > 0 && b->raw->eof &&
         !has_peer(b->victim, b->raw->key.id);
}

static int raw_done(void *a) { return ((rawpeer *)a)->done; }

static node V, G;

static int v_has_g(void *a) {
  (void)a;
  return has_peer(&V, G.id) && has_peer(&G, V.id);
}

static int v_got_from_g(void *a) { return V.msgs[P2P_CH_MEMPOOL] >= *(int *)a; }

/* G still talks to V. */
static void good_still_talks(void) {
  assert_true(has_peer(&V, G.id));
  int want = V.msgs[P2P_CH_MEMPOOL] + 1;
  assert_int_equal(p2p_send(G.sw, V.id, P2P_CH_MEMPOOL, (const uint8_t *)"tx!", 3), 0);
  assert_true(run_until(v_got_from_g, &want, GUARD_MS));
  assert_string_equal(V.last_from, G.id);
}

static void test_bad_peers(void **st) {
  (void)st;
  world_init();
  memset(&V, 0, sizeof V);
  memset(&G, 0, sizeof G);
  node_key(&V, 1);
  node_key(&G, 2);
  p2p_config c = fast_cfg();
  c.max_msg_bytes[P2P_CH_CONSENSUS] = 64u << 10;
  c.recv_msgs_per_s = 100; /* bursts of 200: the flood sends 2000 */
  c.no_pex = 1;
  assert_int_equal(node_start(&V, &c), 0);
  char vaddr[128];
  peer_addr(vaddr, sizeof vaddr, &V);
  p2p_config cg = fast_cfg();
  cg.persistent_peers = vaddr;
  cg.listen = NULL;
  cg.no_pex = 1;
  assert_int_equal(node_start(&G, &cg), 0);
  assert_true(run_until(v_has_g, NULL, GUARD_MS));

  /* A well-behaved raw client works (so the raw client itself is right). */
  rawpeer r;
  raw_start(&r, V.port, RAW_GOOD, 50, V.id);
  int want = 1;
  assert_true(run_until(v_got_from_g, &want, GUARD_MS));
  assert_string_equal(V.last_from, r.key.id);
  raw_join(&r);

  const struct {
    int mode;
    const char *says;
  } bad[] = {{RAW_GARBAGE, "bad frame"},
             {RAW_OVERSIZE_FRAME, "announces 16385 bytes"},
             {RAW_OVERSIZE_MSG, "65537 bytes announced"},
             {RAW_UNKNOWN_CHANNEL, "unknown channel 9"},
             {RAW_FLOOD, "flood"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p2p_stats s0, s1;
    p2p_switch_stats(V.sw, &s0);
    raw_start(&r, V.port, bad[i].mode, 60 + (int)i, V.id);
    bad_ctx b = {&V, &r};
    if (!run_until(banned_and_gone, &b, GUARD_MS))
      fail_msg("mode %d: not banned (raw: %s)", bad[i].mode, r.err);
    assert_true(r.hs_ok);
    p2p_switch_stats(V.sw, &s1);
    assert_int_equal(s1.bans, s0.bans + 1);
    /* on_peer_down named the reason. */
    assert_string_equal(V.last_down_id, r.key.id);
    if (!strstr(V.last_down_why, bad[i].says))
      fail_msg("mode %d: reason \"%s\" lacks \"%s\"", bad[i].mode, V.last_down_why, bad[i].says);
    assert_non_null(strstr(V.last_down_why, "banned"));
    /* The log names the peer (ID and address) and the reason. */
    if (!P2P_DEBUG()) {
      assert_true(logged(r.key.id, "banning peer"));
      assert_true(logged(r.key.id, bad[i].says));
      assert_true(logged("127.0.0.1:", bad[i].says));
    }
    raw_join(&r);
    /* The good peer was not touched. */
    good_still_talks();
  }
  /* Garbage before its first frame: banned before it ever came up (no
   * on_peer_down: it never was up), and logged with the reason. */
  {
    int downs = V.downs;
    raw_start(&r, V.port, RAW_GARBAGE_EARLY, 59, V.id);
    bad_ctx b = {&V, &r};
    assert_true(run_until(banned_and_gone, &b, GUARD_MS));
    assert_int_equal(V.downs, downs);
    if (!P2P_DEBUG()) assert_true(logged(r.key.id, "does not authenticate"));
    raw_join(&r);
    good_still_talks();
  }
  /* The flooder comes back: refused after its handshake, never up. */
  int ups = V.ups;
  raw_start(&r, V.port, RAW_GOOD, 60 + 4, V.id);
  assert_true(run_until(raw_done, &r, GUARD_MS));
  raw_join(&r);
  assert_int_equal(V.ups, ups);
  good_still_talks();
  p2p_stats s;
  p2p_switch_stats(V.sw, &s);
  assert_int_equal(s.bans_active, 6);
  assert_true(s.penalties >= 5);

  /* A client that connects and says nothing is dropped at the handshake
   * deadline (V's is 5 s here), unpunished: it may be a slow network. */
  {
    p2p_stats s0, s1;
    p2p_switch_stats(V.sw, &s0);
    raw_start(&r, V.port, RAW_SILENT, 58, NULL);
    assert_true(run_until(raw_done, &r, GUARD_MS));
    assert_true(r.eof);
    raw_join(&r);
    p2p_switch_stats(V.sw, &s1);
    assert_int_equal(s1.bans, s0.bans);
    if (!P2P_DEBUG()) assert_true(logged("no handshake within 5000 ms", "127.0.0.1:"));
    good_still_talks();
  }
  /* A peer that never reads: V keeps sending until its queue stays full. */
  raw_start(&r, V.port, RAW_NOREAD, 70, V.id);
  while (!r.hs_ok || !has_peer(&V, r.key.id)) assert_int_equal(run_until(always, NULL, 5), 0);
  node_stop(&V); /* restart V with small queues and a short stall deadline */
  raw_join(&r);
  p2p_config cv = fast_cfg();
  char vlisten[64];
  snprintf(vlisten, sizeof vlisten, "127.0.0.1:%d", V.port);
  cv.listen = vlisten;
  cv.no_pex = 1;
  cv.queue_bytes[P2P_CH_BLOBS] = 1u << 20;
  cv.peer_queue_bytes = 1u << 20;
  cv.stall_timeout_ms = 300;
  cv.ping_interval_ms = 60000; /* only the stall rule may drop it */
  assert_int_equal(node_start(&V, &cv), 0);
  assert_true(run_until(v_has_g, NULL, GUARD_MS)); /* G redials V */
  raw_start(&r, V.port, RAW_NOREAD, 70, V.id);
  while (!has_peer(&V, r.key.id)) assert_int_equal(run_until(always, NULL, 5), 0);
  uint8_t *chunk = calloc(1, 64u << 10);
  int full = 0, evicted = 0;
  p2p_stats s0;
  p2p_switch_stats(V.sw, &s0);
  for (int rounds = 0; rounds < 20000 && has_peer(&V, r.key.id); rounds++) {
    int rc = p2p_send(V.sw, r.key.id, P2P_CH_BLOBS, chunk, 64u << 10);
    if (rc == COHORT_ERR_QUEUE_FULL) {
      if (!full) {
        /* Back-pressure is an error the caller can act on; a consensus
         * message still goes, evicting queued blobs. */
        full = 1;
        assert_int_equal(p2p_send(V.sw, r.key.id, P2P_CH_CONSENSUS, chunk, 1000), 0);
        p2p_stats s2;
        p2p_switch_stats(V.sw, &s2);
        evicted = s2.msgs_dropped[P2P_CH_BLOBS] > s0.msgs_dropped[P2P_CH_BLOBS];
      }
      run_until(always, NULL, 10);
    } else {
      assert_int_equal(rc, 0);
      if (rounds % 16 == 0) run_until(always, NULL, 1);
    }
  }
  free(chunk);
  assert_true(full);
  assert_true(evicted);
  assert_false(has_peer(&V, r.key.id));
  assert_true(p2p_switch_banned_ms(V.sw, r.key.id) > 0);
  assert_non_null(strstr(V.last_down_why, "does not read"));
  raw_join(&r);
  good_still_talks();

  node_stop(&G);
  node_stop(&V);
  world_end();
}

/* ---- 3. duplicates, limits, chain, identity ----------------------------- */

static node A, B, C;

static int ab_settled(void *a) {
  (void)a;
  p2p_stats sa, sb;
  p2p_switch_stats(A.sw, &sa);
  p2p_switch_stats(B.sw, &sb);
  return n_peers(&A) == 1 && n_peers(&B) == 1 && sa.connecting == 0 && sb.connecting == 0;
}

static void test_duplicates(void **st) {
  (void)st;
  world_init();
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  node_key(&A, 3);
  node_key(&B, 4);
  p2p_config c = fast_cfg();
  c.no_pex = 1;
  assert_int_equal(node_start(&A, &c), 0);
  assert_int_equal(node_start(&B, &c), 0);
  char aa[128], ba[128];
  peer_addr(aa, sizeof aa, &A);
  peer_addr(ba, sizeof ba, &B);
  /* Both dial each other before either connection can complete. */
  core_errbuf eb;
  assert_int_equal(p2p_switch_dial(A.sw, ba, 1, &eb), 0);
  assert_int_equal(p2p_switch_dial(B.sw, aa, 1, &eb), 0);
  assert_int_equal(p2p_switch_dial(B.sw, aa, 1, &eb), COHORT_ERR_DUPLICATE);
  assert_true(run_until(ab_settled, NULL, GUARD_MS));
  run_for(600); /* long enough for a flap to show */
  assert_true(ab_settled(NULL));
  p2p_stats sa, sb;
  p2p_switch_stats(A.sw, &sa);
  p2p_switch_stats(B.sw, &sb);
  assert_true(sa.duplicates + sb.duplicates >= 1);
  /* Both kept the same connection: one side sees it outbound, the other
   * inbound, and it is the one dialled by the smaller node ID. */
  p2p_peer_info ia, ib;
  p2p_switch_peers(A.sw, &ia, 1);
  p2p_switch_peers(B.sw, &ib, 1);
  assert_int_not_equal(ia.outbound, ib.outbound);
  int a_smaller = strcmp(A.id, B.id) < 0;
  assert_int_equal(ia.outbound, a_smaller);
  /* Stable: no more ups than the one that stayed plus a replaced one. */
  assert_true(A.ups <= 2 && B.ups <= 2);
  /* Messages flow on the survivor. */
  assert_int_equal(p2p_send(A.sw, B.id, P2P_CH_CONSENSUS, (const uint8_t *)"v", 1), 0);
  while (B.msgs[P2P_CH_CONSENSUS] == 0) assert_int_equal(run_until(always, NULL, 5), 0);
  node_stop(&A);
  node_stop(&B);
  world_end();
}

static int c_refused(void *a) {
  (void)a;
  p2p_stats s;
  p2p_switch_stats(A.sw, &s);
  return s.inbound_refused + s.dials_failed >= 1 && n_peers(&A) == 1;
}

static int two_failed(void *a) {
  node *n = a;
  p2p_stats s;
  p2p_switch_stats(n->sw, &s);
  return s.dials_failed >= 1;
}

static void test_limits_chain_identity(void **st) {
  (void)st;
  world_init();
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  memset(&C, 0, sizeof C);
  node_key(&A, 5);
  node_key(&B, 6);
  node_key(&C, 7);
  /* A takes one inbound peer. */
  p2p_config c = fast_cfg();
  c.no_pex = 1;
  c.max_inbound = 1;
  assert_int_equal(node_start(&A, &c), 0);
  char aa[128];
  peer_addr(aa, sizeof aa, &A);
  p2p_config cb = fast_cfg();
  cb.no_pex = 1;
  cb.persistent_peers = aa;
  assert_int_equal(node_start(&B, &cb), 0);
  while (n_peers(&A) != 1) assert_int_equal(run_until(always, NULL, 5), 0);
  assert_int_equal(node_start(&C, &cb), 0);
  assert_true(run_until(c_refused, NULL, GUARD_MS));
  run_for(300);
  assert_int_equal(n_peers(&A), 1);
  assert_true(has_peer(&A, B.id));
  assert_false(has_peer(&A, C.id));
  node_stop(&C);

  /* A node of another chain is refused, on both sides, never up (B has
   * room for inbound peers). */
  node X;
  memset(&X, 0, sizeof X);
  node_key(&X, 8);
  char ba[128];
  peer_addr(ba, sizeof ba, &B);
  p2p_config cx = fast_cfg();
  cx.chain_id = "another-chain";
  cx.no_pex = 1;
  cx.persistent_peers = ba;
  assert_int_equal(node_start(&X, &cx), 0);
  assert_true(run_until(two_failed, &X, GUARD_MS));
  assert_int_equal(X.ups, 0);
  assert_false(has_peer(&B, X.id));
  p2p_stats sx, sbb;
  p2p_switch_stats(X.sw, &sx);
  p2p_switch_stats(B.sw, &sbb);
  assert_true(sx.handshakes_failed >= 1);
  assert_true(sbb.handshakes_failed >= 1);
  /* Wrong chain is not an offence: nobody is banned for it. */
  assert_int_equal(sbb.bans, 0);
  assert_int_equal(sx.bans, 0);
  node_stop(&X);

  /* Identity mismatch: C dials B's address expecting A's ID. */
  p2p_config cc = fast_cfg();
  cc.no_pex = 1;
  assert_int_equal(node_start(&C, &cc), 0);
  char wrong[128];
  snprintf(wrong, sizeof wrong, "%s@127.0.0.1:%d", A.id, B.port);
  core_errbuf eb;
  assert_int_equal(p2p_switch_dial(C.sw, wrong, 0, &eb), 0);
  assert_true(run_until(two_failed, &C, GUARD_MS));
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", B.port);
  /* The address that answered with another key is banned on C's side. */
  assert_true(p2p_switch_banned_ms(C.sw, where) > 0);
  assert_int_equal(C.ups, 0);
  node_stop(&C);
  node_stop(&B);
  node_stop(&A);
  world_end();
}

/* ---- 4. configuration and API errors ------------------------------------ */

static void test_config_and_api(void **st) {
  (void)st;
  world_init();
  node n;
  memset(&n, 0, sizeof n);
  node_key(&n, 9);
  core_errbuf eb;
  p2p_switch *sw;
  p2p_config c = fast_cfg();
  const struct {
    const char *field, *value, *says;
  } bad[] = {{"persistent", "nothex@127.0.0.1:1", "40 lowercase hex"},
             {"persistent", "0123456789abcdef0123456789abcdef01234567@127.0.0.1", "no port"},
             {"seeds", "0123456789abcdef0123456789abcdef01234567@127.0.0.1:1,", "entry 2 is empty"},
             {"listen", "localhost:0", "IPv4 address or [IPv6]"},
             {"listen", "127.0.0.1:99999", "bad port"},
             {"external", "1.2.3.4:0", "bad port"},
             {"chain", "Bad Chain", "chain_id"},
             {"moniker", "bell\a", "moniker"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p2p_config x = c;
    if (!strcmp(bad[i].field, "persistent")) x.persistent_peers = bad[i].value;
    if (!strcmp(bad[i].field, "seeds")) x.seeds = bad[i].value;
    if (!strcmp(bad[i].field, "listen")) x.listen = bad[i].value;
    if (!strcmp(bad[i].field, "external")) x.external_addr = bad[i].value;
    if (!strcmp(bad[i].field, "chain")) x.chain_id = bad[i].value;
    if (!strcmp(bad[i].field, "moniker")) x.moniker = bad[i].value;
    eb.msg[0] = 0;
    int rc = p2p_switch_new(&sw, &loop, &x, n.sec, &CB, &n, &eb);
    if (rc != COHORT_ERR_CONFIG) fail_msg("%s=%s: %d", bad[i].field, bad[i].value, rc);
    if (!strstr(eb.msg, bad[i].says)) fail_msg("\"%s\" lacks \"%s\"", eb.msg, bad[i].says);
    assert_null(sw);
  }
  /* A key whose halves do not match. */
  uint8_t badkey[64];
  memcpy(badkey, n.sec, 64);
  badkey[40] ^= 1;
  assert_int_equal(p2p_switch_new(&sw, &loop, &c, badkey, &CB, &n, &eb), COHORT_ERR_CONFIG);
  /* A taken port. */
  assert_int_equal(node_start(&n, &c), 0);
  char taken[64];
  snprintf(taken, sizeof taken, "127.0.0.1:%d", n.port);
  p2p_config t = c;
  t.listen = taken;
  assert_int_equal(p2p_switch_new(&sw, &loop, &t, n.sec, &CB, &n, &eb), COHORT_ERR_IO);
  assert_non_null(strstr(eb.msg, taken));
  /* Our own ID in the persistent list is skipped (one list for all nodes). */
  char self[128];
  peer_addr(self, sizeof self, &n);
  t = c;
  t.persistent_peers = self;
  node m;
  memcpy(&m, &n, sizeof m);
  assert_int_equal(node_start(&m, &t), 0);
  node_stop(&m);
  /* Send API errors. */
  const char *nobody = "0123456789abcdef0123456789abcdef01234567";
  assert_int_equal(p2p_send(n.sw, nobody, P2P_CH_CONSENSUS, (const uint8_t *)"x", 1),
                   COHORT_ERR_NOT_FOUND);
  assert_int_equal(p2p_send(n.sw, nobody, P2P_CH_CONTROL, (const uint8_t *)"x", 1),
                   COHORT_ERR_INVALID);
  assert_int_equal(p2p_send(n.sw, nobody, 7, (const uint8_t *)"x", 1), COHORT_ERR_INVALID);
  uint8_t *huge = calloc(1, (4u << 20) + 1);
  assert_int_equal(p2p_send(n.sw, nobody, P2P_CH_CONSENSUS, huge, (4u << 20) + 1),
                   COHORT_ERR_TOO_LARGE);
  assert_int_equal(p2p_broadcast(n.sw, P2P_CH_MEMPOOL, huge, (4u << 20) + 1, NULL),
                   COHORT_ERR_TOO_LARGE);
  free(huge);
  assert_int_equal(p2p_broadcast(n.sw, P2P_CH_MEMPOOL, (const uint8_t *)"x", 1, NULL), 0);
  /* Penalties on a node that is not connected still count, up to a ban. */
  assert_int_equal(p2p_peer_penalize(n.sw, nobody, 0, "x"), COHORT_ERR_INVALID);
  assert_int_equal(p2p_peer_penalize(n.sw, "nope", 10, "x"), COHORT_ERR_INVALID);
  assert_int_equal(p2p_peer_penalize(n.sw, nobody, 60, "bad block"), COHORT_ERR_NOT_FOUND);
  assert_int_equal(p2p_switch_banned_ms(n.sw, nobody), 0);
  assert_int_equal(p2p_peer_penalize(n.sw, nobody, 60, "bad block"), COHORT_ERR_NOT_FOUND);
  assert_true(p2p_switch_banned_ms(n.sw, nobody) > 0);
  assert_int_equal(p2p_switch_dial(n.sw, "junk", 0, &eb), COHORT_ERR_ADDRESS);
  assert_int_equal(p2p_switch_dial(n.sw, self, 0, &eb), COHORT_ERR_ADDRESS);
  node_stop(&n);
  world_end();
}

/* Penalties from the caller: a connected peer is dropped at 100 points. */
static int b_has_a(void *a) {
  (void)a;
  return has_peer(&B, A.id) && has_peer(&A, B.id);
}

static int a_dropped_b(void *a) {
  (void)a;
  return !has_peer(&A, B.id);
}

static void test_penalize(void **st) {
  (void)st;
  world_init();
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  node_key(&A, 11);
  node_key(&B, 12);
  p2p_config c = fast_cfg();
  c.no_pex = 1;
  assert_int_equal(node_start(&A, &c), 0);
  char aa[128];
  peer_addr(aa, sizeof aa, &A);
  p2p_config cb = c;
  cb.persistent_peers = aa;
  assert_int_equal(node_start(&B, &cb), 0);
  assert_true(run_until(b_has_a, NULL, GUARD_MS));
  assert_int_equal(p2p_peer_penalize(A.sw, B.id, 40, "invalid vote"), 0);
  p2p_peer_info pi;
  p2p_switch_peers(A.sw, &pi, 1);
  assert_int_equal(pi.score, 40);
  assert_true(has_peer(&A, B.id));
  assert_int_equal(p2p_peer_penalize(A.sw, B.id, 60, "invalid block"), 0);
  assert_true(run_until(a_dropped_b, NULL, GUARD_MS));
  assert_non_null(strstr(A.last_down_why, "invalid block"));
  /* Dropping the sender, then closing the switch, from inside on_message. */
  memset(&C, 0, sizeof C);
  node_key(&C, 17);
  p2p_config cc = c;
  cc.persistent_peers = aa;
  A.penalize_on_msg = 1;
  assert_int_equal(node_start(&C, &cc), 0);
  while (!has_peer(&C, A.id)) assert_int_equal(run_until(always, NULL, 5), 0);
  int got = A.msgs[P2P_CH_MEMPOOL];
  assert_int_equal(p2p_send(C.sw, A.id, P2P_CH_MEMPOOL, (const uint8_t *)"bad tx", 6), 0);
  while (A.msgs[P2P_CH_MEMPOOL] == got) assert_int_equal(run_until(always, NULL, 5), 0);
  assert_int_equal(A.last_len, 6);
  assert_memory_equal(A.last, "bad tx", 6);
  while (has_peer(&A, C.id)) assert_int_equal(run_until(always, NULL, 5), 0);
  A.penalize_on_msg = 0;
  node_stop(&C);
  assert_true(p2p_switch_banned_ms(A.sw, B.id) > 0);
  /* B keeps redialling (persistent) but stays refused; since A closes
   * before sending any frame after its Auth, B never sees A come up again. */
  int ups = B.ups;
  run_for(800);
  assert_false(has_peer(&A, B.id));
  assert_false(has_peer(&B, A.id));
  assert_int_equal(B.ups, ups);
  p2p_stats sb;
  p2p_switch_stats(B.sw, &sb);
  assert_true(sb.dials >= 3);
  node_stop(&B);
  /* A fresh peer D: A closes the switch itself inside on_message. */
  node D;
  memset(&D, 0, sizeof D);
  node_key(&D, 18);
  p2p_config cd = c;
  cd.persistent_peers = aa;
  assert_int_equal(node_start(&D, &cd), 0);
  while (!has_peer(&D, A.id)) assert_int_equal(run_until(always, NULL, 5), 0);
  A.close_on_msg = 1;
  assert_int_equal(p2p_send(D.sw, A.id, P2P_CH_CONSENSUS, (const uint8_t *)"last", 4), 0);
  assert_true(run_until(is_closed, &A, GUARD_MS));
  assert_memory_equal(A.last, "last", 4);
  A.sw = NULL;
  node_stop(&D);
  world_end();
}

/* A peer that reads, but slower than we send, only sees back-pressure:
 * sends are refused while its queue is full, and it is never taken for a
 * peer that does not read, however long the pressure lasts. */
static void test_backpressure_reader(void **st) {
  (void)st;
  world_init();
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  node_key(&A, 13);
  node_key(&B, 14);
  p2p_config c = fast_cfg();
  c.no_pex = 1;
  c.queue_bytes[P2P_CH_BLOBS] = 256u << 10;
  c.stall_timeout_ms = 200;
  assert_int_equal(node_start(&A, &c), 0);
  char aa[128];
  peer_addr(aa, sizeof aa, &A);
  p2p_config cb = c;
  cb.persistent_peers = aa;
  assert_int_equal(node_start(&B, &cb), 0);
  assert_true(run_until(b_has_a, NULL, GUARD_MS));
  uint8_t *chunk = calloc(1, 32u << 10);
  int refused = 0, sent = 0;
  uv_update_time(&loop);
  uint64_t end = uv_now(&loop) + 1500;
  while (uv_now(&loop) < end) {
    int rc;
    while ((rc = p2p_send(A.sw, B.id, P2P_CH_BLOBS, chunk, 32u << 10)) == 0) sent++;
    assert_int_equal(rc, COHORT_ERR_QUEUE_FULL);
    refused++;
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_update_time(&loop);
  }
  free(chunk);
  assert_true(refused > 10 && sent > 10);
  assert_true(has_peer(&A, B.id));
  assert_int_equal(A.downs, 0);
  p2p_stats s;
  p2p_switch_stats(A.sw, &s);
  assert_int_equal(s.bans, 0);
  node_stop(&B);
  node_stop(&A);
  world_end();
}

/* A host name to dial (the RESOLVING state) and a dual-stack listener on
 * [::]: "localhost" may resolve to ::1 or 127.0.0.1, either one reaches it. */
static void test_names_and_ipv6(void **st) {
  (void)st;
  world_init();
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  node_key(&A, 15);
  node_key(&B, 16);
  p2p_config c = fast_cfg();
  c.no_pex = 1;
  c.listen = "[::]:0";
  core_errbuf eb;
  if (p2p_switch_new(&A.sw, &loop, &c, A.sec, &CB, &A, &eb) != 0) {
    fprintf(stderr, "no IPv6 here (%s): skipping the dual-stack test\n", eb.msg);
    world_end();
    skip();
  }
  A.port = p2p_switch_port(A.sw);
  char aa[160];
  snprintf(aa, sizeof aa, "%s@localhost:%d", A.id, A.port);
  p2p_config cb = fast_cfg();
  cb.no_pex = 1;
  cb.persistent_peers = aa;
  assert_int_equal(node_start(&B, &cb), 0);
  assert_true(run_until(b_has_a, NULL, GUARD_MS));
  p2p_peer_info pa, pb;
  p2p_switch_peers(A.sw, &pa, 1);
  p2p_switch_peers(B.sw, &pb, 1);
  /* B's view names the address it dialled; A sees a plain IPv4 or [::1]. */
  char want[64];
  snprintf(want, sizeof want, "localhost:%d", A.port);
  assert_string_equal(pb.dial_addr, want);
  assert_true(strncmp(pa.addr, "127.0.0.1:", 10) == 0 || strncmp(pa.addr, "[::1]:", 6) == 0);
  /* ... and B's advertised listen address as the one to dial it on. */
  snprintf(want, sizeof want, "127.0.0.1:%d", B.port);
  assert_string_equal(pa.dial_addr, want);
  node_stop(&B);
  node_stop(&A);
  world_end();
}

/* The reputation table alone: points fade one per 6 s, a ban lasts its time
 * and clears the points, a full table forgets the least-scored unbanned key
 * first, and loopback addresses are recognised (they are never banned). */
static void test_reputation(void **st) {
  (void)st;
  p2p_switch *sw = calloc(1, sizeof *sw);
  sw->rep = calloc(P2P_REP_MAX, sizeof *sw->rep);
  uint64_t t = 1000000;
  assert_int_equal(p2p_rep_add(sw, "id:a", 40, t), 40);
  assert_int_equal(p2p_rep_add(sw, "id:a", 40, t + 6000 * 10), 70); /* 10 faded */
  assert_int_equal(p2p_rep_points(sw, "id:a", t + 6000 * 80), 0);
  assert_int_equal(p2p_rep_banned(sw, "id:a", t), 0);
  p2p_rep_ban(sw, "ip:10.0.0.1", t, 5000);
  assert_int_equal(p2p_rep_banned(sw, "ip:10.0.0.1", t + 1000), 4000);
  assert_int_equal(p2p_rep_banned(sw, "ip:10.0.0.1", t + 5000), 0);
  assert_int_equal(p2p_rep_points(sw, "ip:10.0.0.1", t + 1), 0);
  /* Fill the table; the newcomer replaces a key with the fewest points and
   * never a banned one. */
  char k[32];
  for (int i = 0; sw->n_rep < P2P_REP_MAX; i++) {
    snprintf(k, sizeof k, "id:%d", i);
    p2p_rep_add(sw, k, 50, t);
  }
  p2p_rep_ban(sw, "id:a", t, 1u << 30);
  p2p_rep_add(sw, "id:0", 20, t); /* 70 now: kept */
  assert_int_equal(p2p_rep_add(sw, "id:new", 10, t), 10);
  assert_true(p2p_rep_banned(sw, "id:a", t) > 0);
  assert_int_equal(p2p_rep_points(sw, "id:0", t), 70);
  assert_int_equal(sw->n_rep, P2P_REP_MAX);
  assert_true(p2p_ip_is_loopback("127.0.0.1") && p2p_ip_is_loopback("127.5.6.7") &&
              p2p_ip_is_loopback("::1"));
  assert_false(p2p_ip_is_loopback("10.0.0.1") || p2p_ip_is_loopback("::2") ||
               p2p_ip_is_loopback("1.127.0.0"));
  free(sw->rep);
  free(sw);
}

static void test_backoff(void **st) {
  (void)st;
  for (unsigned a = 0; a < 40; a++) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t r = 0; r < 2000; r += 7) {
      uint64_t d = p2p_backoff_ms(a, 500, 60000, r * 2654435761u);
      lo = d < lo ? d : lo;
      hi = d > hi ? d : hi;
    }
    uint64_t full = 500;
    for (unsigned i = 0; i < a && full < 60000; i++) full *= 2;
    if (full > 60000) full = 60000;
    assert_true(lo >= full / 2);
    assert_true(hi <= full);
    assert_true(hi > lo); /* jitter */
  }
  assert_int_equal(p2p_backoff_ms(0, 0, 0, 0), 0);
}

int main(void) {
  if (core_init() != 0) return 1;
  /* Logs go to a file the tests read (P2P_TEST_DEBUG=1: also to stderr,
   * at debug level). */
  log_file = tmpfile();
  if (!log_file) return 1;
  if (getenv("P2P_TEST_DEBUG")) {
    core_log_set_level(LOG_DEBUG);
  } else {
    core_log_set_level(LOG_INFO);
    core_log_set_file(log_file);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_reputation),
      cmocka_unit_test(test_mesh_pex_broadcast_reconnect),
      cmocka_unit_test(test_bad_peers),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_limits_chain_identity),
      cmocka_unit_test(test_config_and_api),
      cmocka_unit_test(test_penalize),
      cmocka_unit_test(test_backpressure_reader),
      cmocka_unit_test(test_names_and_ipv6),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fclose(log_file);
  return rc;
}
