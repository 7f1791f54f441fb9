/* Unit tests for the WebSocket side of rpc/: the pure codec (SHA-1 and the
 * handshake's accept key, frame headers, the message reader, filters), and
 * the server on real loopback sockets — its loop runs in a thread while the
 * test talks to it with rpc_ws_client and with raw sockets that build frames
 * by hand: handshake and its refusals, subscribe/publish/filters,
 * unsubscribe, methods over the socket (also async answers and batches),
 * fragmented and masked frames with interleaved pings, protocol errors and
 * their close codes (1002, 1003, 1009), the closing handshake, a slow
 * consumer, the ping deadline, many subscribers. Every server and loop is
 * closed cleanly so ASan sees any leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

/* ---- handlers ---------------------------------------------------------- */

static void h_echo(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_reply(call, params ? json_incref(params) : NULL);
}

static void on_late_timer(uv_timer_t *t) {
  rpc_call *call = t->data;
  rpc_call_reply(call, json_string("late"));
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void h_later(void *ctx, rpc_call *call, json_t *params) {
  uv_timer_t *t = malloc(sizeof *t);
  assert_non_null(t);
  uv_timer_init(rpc_call_loop(call), t);
  t->data = call;
  uv_timer_start(t, on_late_timer,
                 (uint64_t)json_integer_value(json_array_get(params, 0)), 0);
}

static const rpc_method methods[] = {{"echo", h_echo, 1}, {"later", h_later, 1}};
static const char *const topics[] = {"new_block", "task", NULL};

/* ---- a server (on its own thread); the test thread publishes ---------- */

typedef struct {
  rpc_server *srv;
  int port;
  char url[64];
} harness;

static void start_cfg(harness *h, const rpc_config *cfg_in, uint64_t ping_ms,
                      size_t qbytes, size_t qmsgs) {
  memset(h, 0, sizeof *h);
  rpc_config cfg = *cfg_in;
  if (!cfg.topics) cfg.topics = topics;
  cfg.ws_ping_ms = ping_ms;
  cfg.ws_max_queue_bytes = qbytes;
  cfg.ws_max_queue_msgs = qmsgs;
  core_errbuf eb;
  int rc = rpc_server_new(&h->srv, NULL, &cfg, methods,
                          sizeof methods / sizeof methods[0], NULL, &eb);
  if (rc) fail_msg("rpc_server_new: %s", eb.msg);
  h->port = rpc_server_port(h->srv);
  snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
}

static void start(harness *h) {
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  start_cfg(h, &cfg, 0, 0, 0);
}

static void stop(harness *h) { rpc_server_close(h->srv); }

/* Publish from this (not the RPC) thread; ev consumed. Delivery is
 * asynchronous: tests wait for the events at their clients. */
static void publish(harness *h, const char *topic, json_t *ev) {
  rpc_server_publish(h->srv, topic, ev);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_conns(harness *h, unsigned n, int ms) {
  uint64_t end = mono_ms() + (uint64_t)ms;
  while (mono_ms() < end) {
    if (rpc_server_conn_count(h->srv) == n) return 1;
    sleep_ms(5);
  }
  return rpc_server_conn_count(h->srv) == n;
}

/* ---- raw WebSocket over a blocking socket ------------------------------- */

static int g_rcvbuf; /* SO_RCVBUF for the next raw sockets, if set */

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  if (g_rcvbuf)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &g_rcvbuf, sizeof g_rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_raw(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

/* Read the HTTP answer head (through \r\n\r\n) into out; its status. */
static int read_head(int fd, char *out, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = recv(fd, out + n, 1, 0);
    if (r <= 0) break;
    n++;
    if (n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0) break;
  }
  out[n] = 0;
  int st = 0;
  sscanf(out, "HTTP/1.1 %d", &st);
  return st;
}

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* Connect and upgrade with the RFC 6455 example key. */
static int ws_open(int port) {
  int fd = raw_connect(port);
  const char *req =
      "GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  send_raw(fd, req, strlen(req));
  char head[1024];
  assert_int_equal(read_head(fd, head, sizeof head), 101);
  assert_non_null(strstr(head, "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
  return fd;
}

/* Send one frame; mask NULL sends it unmasked (a protocol error). */
static void ws_frame(int fd, int op, int fin, const void *p, size_t n,
                     const uint8_t *mask) {
  uint8_t *f = malloc(RPC_WS_MAX_HEAD + n + 1);
  size_t hl = rpc_ws_frame_head(f, op, fin, n, mask);
  if (n) memcpy(f + hl, p, n);
  if (mask) rpc_ws_mask(f + hl, n, mask, 0);
  send_raw(fd, f, hl + n);
  free(f);
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static void ws_text(int fd, const char *s) {
  ws_frame(fd, RPC_WS_OP_TEXT, 1, s, strlen(s), MASK);
}

static int recv_all(int fd, void *p, size_t n) {
  char *s = p;
  while (n > 0) {
    ssize_t r = recv(fd, s, n, 0);
    if (r <= 0) return -1;
    s += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Read one server frame, decoded by hand (not by the code under test).
 * Returns its opcode, -1 on EOF/timeout. *out is malloc'd, NUL-ended. */
static int ws_read(int fd, char **out, size_t *len) {
  uint8_t h[2];
  *out = NULL;
  if (recv_all(fd, h, 2)) return -1;
  assert_int_equal(h[1] & 0x80, 0);    /* server frames are not masked */
  assert_int_equal(h[0] & 0x80, 0x80); /* the server does not fragment */
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    uint8_t e[2];
    if (recv_all(fd, e, 2)) return -1;
    n = (uint64_t)e[0] << 8 | e[1];
  } else if (n == 127) {
    uint8_t e[8];
    if (recv_all(fd, e, 8)) return -1;
    n = 0;
    for (int i = 0; i < 8; i++) n = n << 8 | e[i];
  }
  assert_true(n < (64u << 20));
  char *b = malloc((size_t)n + 1);
  if (n && recv_all(fd, b, (size_t)n)) {
    free(b);
    return -1;
  }
  b[n] = 0;
  *out = b;
  if (len) *len = (size_t)n;
  return h[0] & 0x0f;
}

/* Next text message as JSON (skipping pings). */
static json_t *ws_json(int fd) {
  for (;;) {
    char *m;
    size_t n;
    int op = ws_read(fd, &m, &n);
    if (op == RPC_WS_OP_PING) {
      free(m);
      continue;
    }
    if (op != RPC_WS_OP_TEXT) fail_msg("expected a text frame, got %d", op);
    json_t *v = json_loadb(m, n, 0, NULL);
    free(m);
    assert_non_null(v);
    return v;
  }
}

/* Expect a close frame with code; then EOF. */
static void ws_expect_close(int fd, int code) {
  char *m;
  size_t n;
  int op;
  while ((op = ws_read(fd, &m, &n)) == RPC_WS_OP_TEXT || op == RPC_WS_OP_PING)
    free(m);
  assert_int_equal(op, RPC_WS_OP_CLOSE);
  assert_true(n >= 2);
  assert_int_equal(((uint8_t)m[0] << 8) | (uint8_t)m[1], code);
  free(m);
}

static void expect_eof(int fd) {
  char b[256];
  ssize_t r;
  while ((r = recv(fd, b, sizeof b, 0)) > 0) {
  }
  assert_true(r == 0 || errno == ECONNRESET);
}

/* Nothing arrives within ms. */
static void ws_quiet(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, ms), 0);
}

static const char *sub_id(json_t *ans) {
  const char *id = json_string_value(
      json_object_get(json_object_get(ans, "result"), "subscription"));
  assert_non_null(id);
  return id;
}

/* ---- the codec --------------------------------------------------------- */

static void hex_sha1(char out[41], const void *p, size_t n) {
  uint8_t d[20];
  rpc_sha1(d, p, n);
  core_hex_encode(out, d, 20);
}

static void test_sha1(void **st) {
  char h[41];
  hex_sha1(h, "abc", 3);
  assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
  hex_sha1(h, "", 0);
  assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hex_sha1(h, two, strlen(two));
  assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  /* Lengths around the padding boundaries. */
  static const struct {
    size_t n;
    const char *hex;
  } v[] = {{55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
           {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
           {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
           {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
           {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
           {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
           {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
           {1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"}};
  char *a = malloc(1000000);
  memset(a, 'a', 1000000);
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    hex_sha1(h, a, v[i].n);
    assert_string_equal(h, v[i].hex);
  }
  free(a);
  char acc[29];
  rpc_ws_accept(acc, RFC_KEY, strlen(RFC_KEY));
  assert_string_equal(acc, RFC_ACCEPT);
}

static int parse(const uint8_t *p, size_t n, int from_client, uint64_t max,
                 rpc_ws_frame *f, int *code) {
  const char *why = NULL;
  int r = rpc_ws_frame_parse(p, n, from_client, max, f, code, &why);
  if (r == RPC_WS_HEAD_BAD) assert_non_null(why);
  return r;
}

static void test_frame_head(void **st) {
  static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 30};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (int m = 0; m < 2; m++) {
      uint8_t h[RPC_WS_MAX_HEAD];
      size_t hl =
          rpc_ws_frame_head(h, RPC_WS_OP_TEXT, 1, lens[i], m ? MASK : NULL);
      rpc_ws_frame f;
      int code = 0;
      for (size_t k = 0; k < hl; k++)
        assert_int_equal(parse(h, k, m, UINT64_MAX >> 1, &f, &code),
                         RPC_WS_HEAD_MORE);
      assert_int_equal(parse(h, hl, m, UINT64_MAX >> 1, &f, &code),
                       RPC_WS_HEAD_OK);
      assert_int_equal(f.head_len, hl);
      assert_true(f.len == lens[i]);
      assert_int_equal(f.masked, m);
      assert_int_equal(f.fin, 1);
      if (m) assert_memory_equal(f.mask, MASK, 4);
      /* Wrong side: masked from a server, unmasked from a client. */
      assert_int_equal(parse(h, hl, !m, UINT64_MAX >> 1, &f, &code),
                       RPC_WS_HEAD_BAD);
      assert_int_equal(code, 1002);
      if (lens[i] > 100) {
        assert_int_equal(parse(h, hl, m, 100, &f, &code), RPC_WS_HEAD_BAD);
        assert_int_equal(code, 1009);
      }
    }
  }
  rpc_ws_frame f;
  int code;
  /* Reserved bits, unknown opcode, long or fragmented control frames,
   * non-minimal lengths, top bit of a 64-bit length. */
  static const uint8_t bad[][14] = {{0xc1, 0x80},
                                    {0x83, 0x80},
                                    {0x8b, 0x80},
                                    {0x89, 0xfe, 0, 126},
                                    {0x09, 0x80},
                                    {0x81, 0xfe, 0, 5},
                                    {0x81, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
                                    {0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(parse(bad[i], 14, 1, UINT64_MAX, &f, &code),
                     RPC_WS_HEAD_BAD);
    assert_int_equal(code, 1002);
  }
}

/* Build a masked frame into buf; returns its length. */
static size_t mk(uint8_t *buf, int op, int fin, const char *p, size_t n) {
  size_t hl = rpc_ws_frame_head(buf, op, fin, n, MASK);
  memcpy(buf + hl, p, n);
  rpc_ws_mask(buf + hl, n, MASK, 0);
  return hl + n;
}

static void test_reader(void **st) {
  uint8_t s[512];
  size_t n = 0;
  n += mk(s + n, RPC_WS_OP_TEXT, 0, "{\"a\":", 5);
  n += mk(s + n, RPC_WS_OP_PING, 1, "hi", 2);
  n += mk(s + n, RPC_WS_OP_CONT, 0, "", 0);
  n += mk(s + n, RPC_WS_OP_CONT, 1, "\"\xc3\xa9\"}", 5);
  n += mk(s + n, RPC_WS_OP_CLOSE, 1,
          "\x03\xe8"
          "bye",
          5);
  /* Whole, then byte by byte: the same events. */
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    rpc_ws_reader r;
    rpc_ws_reader_init(&r, 100, 1);
    size_t off = 0;
    int evs[8], ne = 0;
    while (off < n && ne < 8) {
      size_t used;
      size_t avail = bytewise ? 1 : n - off;
      int ev = rpc_ws_read(&r, s + off, avail, &used);
      assert_true(used <= avail);
      off += used;
      if (ev == RPC_WS_MORE) {
        assert_int_equal(used, avail);
        continue;
      }
      evs[ne++] = ev;
      if (ev == RPC_WS_PING) assert_memory_equal(r.ctl, "hi", 2);
      if (ev == RPC_WS_TEXT) {
        assert_int_equal(r.msg_len, 10);
        assert_string_equal(r.msg, "{\"a\":\"\xc3\xa9\"}");
      }
      if (ev == RPC_WS_CLOSE) {
        assert_int_equal(r.close_code, 1000);
        assert_string_equal(r.reason, "bye");
      }
    }
    assert_int_equal(ne, 3);
    assert_int_equal(evs[0], RPC_WS_PING);
    assert_int_equal(evs[1], RPC_WS_TEXT);
    assert_int_equal(evs[2], RPC_WS_CLOSE);
    rpc_ws_reader_free(&r);
  }
  /* Errors and their close codes. */
  static const struct {
    int op, fin;
    const char *p;
    size_t n;
    int code;
  } bad[] = {
      {RPC_WS_OP_BINARY, 1, "x", 1, 1003},
      {RPC_WS_OP_CONT, 1, "x", 1, 1002},
      {RPC_WS_OP_TEXT, 1, "\xc3\x28", 2, 1007},
      {RPC_WS_OP_TEXT, 1, "\xed\xa0\x80", 3, 1007}, /* a surrogate */
      {RPC_WS_OP_TEXT, 1, "\xc0\xaf", 2, 1007},     /* overlong */
      {RPC_WS_OP_CLOSE, 1, "\x03", 1, 1002},
      {RPC_WS_OP_CLOSE, 1, "\x03\xed", 2, 1002}, /* 1005 may not be sent */
      {RPC_WS_OP_TEXT, 1,
       "0123456789012345678901234567890123456789"
       "0123456789012345678901234567890123456789"
       "0123456789012345678901234567890123456789",
       120, 1009},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rpc_ws_reader r;
    rpc_ws_reader_init(&r, 100, 1);
    size_t fl = mk(s, bad[i].op, bad[i].fin, bad[i].p, bad[i].n), used;
    assert_int_equal(rpc_ws_read(&r, s, fl, &used), RPC_WS_ERROR);
    assert_int_equal(r.close_code, bad[i].code);
    assert_int_equal(rpc_ws_read(&r, s, fl, &used), RPC_WS_ERROR);
    rpc_ws_reader_free(&r);
  }
  /* Fragments that add up to more than the limit: 1009 at the header that
   * goes over, before its payload. */
  {
    rpc_ws_reader r;
    rpc_ws_reader_init(&r, 100, 1);
    char big[60];
    memset(big, 'x', sizeof big);
    size_t l1 = mk(s, RPC_WS_OP_TEXT, 0, big, 60), used;
    assert_int_equal(rpc_ws_read(&r, s, l1, &used), RPC_WS_MORE);
    size_t l2 = mk(s, RPC_WS_OP_CONT, 1, big, 60);
    assert_int_equal(rpc_ws_read(&r, s, l2, &used), RPC_WS_ERROR);
    assert_int_equal(r.close_code, 1009);
    assert_true(used <= 6 + 0u);
    rpc_ws_reader_free(&r);
  }
  /* A new message before the previous ended. */
  {
    rpc_ws_reader r;
    rpc_ws_reader_init(&r, 100, 1);
    size_t l = mk(s, RPC_WS_OP_TEXT, 0, "a", 1), used;
    l += mk(s + l, RPC_WS_OP_TEXT, 1, "b", 1);
    assert_int_equal(rpc_ws_read(&r, s, l, &used), RPC_WS_ERROR);
    assert_int_equal(r.close_code, 1002);
    rpc_ws_reader_free(&r);
  }
}

static void test_filter(void **st) {
  json_t *ev = json_pack("{s:s, s:s, s:[s,s], s:i}", "task_id", "t1", "owner",
                         "coh1a", "executors", "coh1x", "coh1y", "height", 5);
  json_t *f;
  assert_true(rpc_ws_filter_match(NULL, ev));
#define M(spec, want)                                 \
  f = json_loads(spec, 0, NULL);                      \
  assert_non_null(f);                                 \
  assert_int_equal(rpc_ws_filter_match(f, ev), want); \
  json_decref(f)
  M("{}", 1);
  M("{\"task_id\":\"t1\"}", 1);
  M("{\"task_id\":\"t2\"}", 0);
  M("{\"owner\":\"coh1a\",\"task_id\":\"t1\"}", 1);
  M("{\"owner\":\"coh1a\",\"task_id\":\"t2\"}", 0);
  M("{\"executor\":\"coh1y\"}", 1);
  M("{\"executors\":\"coh1x\"}", 1);
  M("{\"executor\":\"coh1z\"}", 0);
  M("{\"member\":\"coh1x\"}", 0);
  M("{\"height\":\"5\"}", 0); /* only strings compare */
  M("{\"nope\":\"x\"}", 0);
#undef M
  json_decref(ev);
}

/* ---- the server -----------------------------------------------------------
 */

static void test_handshake(void **st) {
  harness h;
  start(&h);
  char head[2048];
  static const struct {
    const char *req;
    int status;
  } cases[] = {
      {"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
       "\r\nSec-WebSocket-Version: 8\r\n\r\n",
       426},
      {"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: abc\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"GET /websocket HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
       "\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"POST /websocket HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int fd = raw_connect(h.port);
    send_raw(fd, cases[i].req, strlen(cases[i].req));
    assert_int_equal(read_head(fd, head, sizeof head), cases[i].status);
    if (cases[i].status == 426)
      assert_non_null(strstr(head, "Sec-WebSocket-Version: 13"));
    close(fd);
  }
  /* A good one, with a frame in the same packet as the request. */
  int fd = raw_connect(h.port);
  char req[512];
  int n = snprintf(
      req, sizeof req,
      "GET /websocket?x=1 HTTP/1.1\r\nHost: x\r\nupgrade: "
      "WebSocket\r\nconnection: upgrade\r\nsec-websocket-key:  " RFC_KEY
      "\r\nsec-websocket-version: 13\r\n\r\n");
  uint8_t fr[128];
  const char *call =
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":[1]}";
  size_t fl = mk(fr, RPC_WS_OP_TEXT, 1, call, strlen(call));
  memcpy(req + n, fr, fl);
  send_raw(fd, req, (size_t)n + fl);
  assert_int_equal(read_head(fd, head, sizeof head), 101);
  assert_non_null(strstr(head, "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
  assert_non_null(strstr(head, "Upgrade: websocket\r\n"));
  json_t *a = ws_json(fd);
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 7);
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(a, "result"), 0)), 1);
  json_decref(a);
  close(fd);
  /* The client library agrees. */
  rpc_ws_client *c;
  core_errbuf eb;
  assert_int_equal(rpc_ws_connect(&c, h.url, 2000, &eb), 0);
  rpc_ws_close(c);
  char ws_url[80];
  snprintf(ws_url, sizeof ws_url, "ws://127.0.0.1:%d/websocket", h.port);
  assert_int_equal(rpc_ws_connect(&c, ws_url, 2000, &eb), 0);
  rpc_ws_close(c);
  char bad_url[80];
  snprintf(bad_url, sizeof bad_url, "http://127.0.0.1:%d/nothere", h.port);
  assert_int_equal(rpc_ws_connect(&c, bad_url, 2000, &eb), COHORT_ERR_IO);
  assert_null(c);
  assert_non_null(strstr(eb.msg, "404"));
  assert_int_equal(rpc_ws_connect(&c, "ftp://x", 2000, &eb),
                   COHORT_ERR_INVALID);
  stop(&h);
}

static json_t *block_ev(int height) {
  return json_pack("{s:i, s:s}", "height", height, "hash", "ab");
}

static void test_subscribe_publish(void **st) {
  harness h;
  start(&h);
  core_errbuf eb;
  rpc_ws_client *blocks, *exec_y, *owner_b, *task_2, *all_tasks;
  assert_int_equal(rpc_ws_connect(&blocks, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_connect(&exec_y, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_connect(&owner_b, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_connect(&task_2, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_connect(&all_tasks, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_subscribe(blocks, "new_block", NULL, &eb), 0);
  json_t *f = json_pack("{s:s}", "executor", "coh1y");
  assert_int_equal(rpc_ws_subscribe(exec_y, "task", f, &eb), 0);
  json_decref(f);
  f = json_pack("{s:s}", "owner", "coh1b");
  assert_int_equal(rpc_ws_subscribe(owner_b, "task", f, &eb), 0);
  json_decref(f);
  f = json_pack("{s:s}", "task_id", "t2");
  assert_int_equal(rpc_ws_subscribe(task_2, "task", f, &eb), 0);
  json_decref(f);
  assert_int_equal(rpc_ws_subscribe(all_tasks, "task", NULL, &eb), 0);
  /* Errors: unknown topic, bad filter. */
  assert_int_equal(rpc_ws_subscribe(blocks, "nope", NULL, &eb),
                   RPC_INVALID_PARAMS);
  assert_non_null(strstr(eb.msg, "new_block, task"));
  f = json_pack("{s:i}", "owner", 3);
  assert_int_equal(rpc_ws_subscribe(blocks, "task", f, &eb),
                   RPC_INVALID_PARAMS);
  json_decref(f);
  assert_int_equal(rpc_server_ws_sub_count(h.srv), 5);
  {
    int mfd = raw_connect(h.port);
    const char *g = "GET /metrics HTTP/1.0\r\n\r\n";
    send_raw(mfd, g, strlen(g));
    char page[16384];
    size_t pn = 0;
    ssize_t r;
    while (pn + 1 < sizeof page &&
           (r = recv(mfd, page + pn, sizeof page - 1 - pn, 0)) > 0)
      pn += (size_t)r;
    page[pn] = 0;
    close(mfd);
    assert_non_null(strstr(page, "\ncohort_rpc_ws_subscriptions 5\n"));
    assert_non_null(strstr(page, "\ncohort_rpc_ws_upgrades_total 5\n"));
  }

  publish(&h, "new_block", block_ev(1));
  publish(&h, "task",
          json_pack("{s:s, s:s, s:[s,s]}", "task_id", "t1", "owner", "coh1a",
                    "executors", "coh1x", "coh1y"));
  publish(&h, "task",
          json_pack("{s:s, s:s, s:[s]}", "task_id", "t2", "owner", "coh1b",
                    "executors", "coh1z"));
  publish(&h, "new_block", block_ev(2));

  json_t *ev;
  char topic[32];
  for (int i = 1; i <= 2; i++) {
    assert_int_equal(rpc_ws_next(blocks, 2000, &ev, topic, sizeof topic, &eb),
                     0);
    assert_non_null(ev);
    assert_string_equal(topic, "new_block");
    assert_int_equal(json_integer_value(json_object_get(ev, "height")), i);
    json_decref(ev);
  }
  struct {
    rpc_ws_client *c;
    const char *want[2];
  } exp[] = {{exec_y, {"t1", NULL}},
             {owner_b, {"t2", NULL}},
             {task_2, {"t2", NULL}},
             {all_tasks, {"t1", "t2"}}};
  for (size_t i = 0; i < sizeof exp / sizeof exp[0]; i++) {
    for (int k = 0; k < 2 && exp[i].want[k]; k++) {
      assert_int_equal(
          rpc_ws_next(exp[i].c, 2000, &ev, topic, sizeof topic, &eb), 0);
      assert_non_null(ev);
      assert_string_equal(topic, "task");
      assert_string_equal(json_string_value(json_object_get(ev, "task_id")),
                          exp[i].want[k]);
      json_decref(ev);
    }
  }
  /* Nothing else for anyone. */
  rpc_ws_client *all[] = {blocks, exec_y, owner_b, task_2, all_tasks};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(rpc_ws_next(all[i], 100, &ev, NULL, 0, &eb), 0);
    assert_null(ev);
  }
  for (size_t i = 0; i < 5; i++) rpc_ws_close(all[i]);
  assert_true(wait_conns(&h, 0, 3000));
  stop(&h);
}

static void test_unsubscribe_and_methods(void **st) {
  harness h;
  start(&h);
  int fd = ws_open(h.port);
  ws_text(fd,
          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":{"
          "\"topic\":\"new_block\"}}");
  json_t *a = ws_json(fd);
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 1);
  char id[64];
  snprintf(id, sizeof id, "%s", sub_id(a));
  json_decref(a);
  publish(&h, "new_block", block_ev(9));
  a = ws_json(fd);
  assert_string_equal(json_string_value(json_object_get(a, "method")),
                      "subscription");
  json_t *p = json_object_get(a, "params");
  assert_string_equal(json_string_value(json_object_get(p, "subscription")),
                      id);
  assert_string_equal(json_string_value(json_object_get(p, "topic")),
                      "new_block");
  assert_int_equal(json_integer_value(
                       json_object_get(json_object_get(p, "result"), "height")),
                   9);
  assert_string_equal(json_string_value(json_object_get(a, "jsonrpc")), "2.0");
  assert_null(json_object_get(a, "id"));
  json_decref(a);

  char req[256];
  snprintf(req, sizeof req,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"unsubscribe\","
           "\"params\":{\"subscription\":\"%s\"}}",
           id);
  ws_text(fd, req);
  a = ws_json(fd);
  assert_true(json_is_true(json_object_get(a, "result")));
  json_decref(a);
  publish(&h, "new_block", block_ev(10));
  ws_quiet(fd, 200);
  ws_text(fd, req); /* again: gone */
  a = ws_json(fd);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(a, "error"), "code")),
      RPC_NOT_FOUND);
  json_decref(a);

  /* Methods of the table, an async one, a batch, errors, a notification. */
  ws_text(
      fd,
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"later\",\"params\":[100]}");
  ws_text(fd,
          "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"echo\",\"params\":{\"x\":"
          "1}}");
  a = ws_json(fd); /* the quick one first: answers are not ordered */
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 4);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(a, "result"), "x")),
      1);
  json_decref(a);
  a = ws_json(fd);
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 3);
  assert_string_equal(json_string_value(json_object_get(a, "result")), "late");
  json_decref(a);
  ws_text(fd,
          "[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"echo\",\"params\":[5]},"
          "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
          "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"subscribe\",\"params\":["
          "\"task\",{\"owner\":\"coh1q\"}]}]");
  a = ws_json(fd);
  assert_true(json_is_array(a));
  assert_int_equal(json_array_size(a), 2);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(a, 0), "id")), 5);
  assert_non_null(sub_id(json_array_get(a, 1)));
  json_decref(a);
  ws_text(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}"); /* no answer */
  ws_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"nope\"}");
  a = ws_json(fd);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(a, "error"), "code")),
      RPC_METHOD_NOT_FOUND);
  json_decref(a);
  ws_text(fd, "{not json");
  a = ws_json(fd);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(a, "error"), "code")),
      RPC_PARSE_ERROR);
  json_decref(a);
  /* Subscription limit. */
  int got_limit = 0;
  for (int i = 0; i < 40; i++) {
    ws_text(fd,
            "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"subscribe\",\"params\":"
            "{\"topic\":\"task\"}}");
    a = ws_json(fd);
    if (json_object_get(a, "error")) {
      assert_int_equal(json_integer_value(json_object_get(
                           json_object_get(a, "error"), "code")),
                       RPC_UNAVAILABLE);
      got_limit = i;
      json_decref(a);
      break;
    }
    json_decref(a);
  }
  assert_int_equal(got_limit, 31); /* 1 already open + 31 = 32 */
  assert_int_equal(rpc_server_ws_sub_count(h.srv), 32);

  /* Closing handshake: our close is echoed and the server closes TCP. */
  ws_frame(fd, RPC_WS_OP_CLOSE, 1, "\x03\xe8", 2, MASK);
  ws_expect_close(fd, 1000);
  expect_eof(fd);
  close(fd);
  assert_true(wait_conns(&h, 0, 3000));
  stop(&h);
}

static void test_fragmented_masked(void **st) {
  harness h;
  start(&h);
  int fd = ws_open(h.port);
  const char *m =
      "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"echo\",\"params\":["
      "\"fragments\"]}";
  size_t n = strlen(m);
  /* Three fragments, different masks, a ping in the middle, each frame
   * sent in tiny pieces. */
  uint8_t buf[512];
  size_t l = 0;
  uint8_t m2[4] = {1, 2, 3, 4}, m3[4] = {0xff, 0, 0xff, 0};
  size_t hl = rpc_ws_frame_head(buf + l, RPC_WS_OP_TEXT, 0, 10, MASK);
  memcpy(buf + l + hl, m, 10);
  rpc_ws_mask(buf + l + hl, 10, MASK, 0);
  l += hl + 10;
  hl = rpc_ws_frame_head(buf + l, RPC_WS_OP_PING, 1, 4, m2);
  memcpy(buf + l + hl, "ping", 4);
  rpc_ws_mask(buf + l + hl, 4, m2, 0);
  l += hl + 4;
  hl = rpc_ws_frame_head(buf + l, RPC_WS_OP_CONT, 0, 20, m3);
  memcpy(buf + l + hl, m + 10, 20);
  rpc_ws_mask(buf + l + hl, 20, m3, 0);
  l += hl + 20;
  hl = rpc_ws_frame_head(buf + l, RPC_WS_OP_CONT, 1, n - 30, m2);
  memcpy(buf + l + hl, m + 30, n - 30);
  rpc_ws_mask(buf + l + hl, n - 30, m2, 0);
  l += hl + n - 30;
  for (size_t i = 0; i < l; i += 3) {
    send_raw(fd, buf + i, l - i < 3 ? l - i : 3);
    if (i % 30 == 0) sleep_ms(1);
  }
  char *p;
  size_t pl;
  assert_int_equal(ws_read(fd, &p, &pl), RPC_WS_OP_PONG);
  assert_int_equal(pl, 4);
  assert_memory_equal(p, "ping", 4);
  free(p);
  json_t *a = ws_json(fd);
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 11);
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(a, "result"), 0)),
      "fragments");
  json_decref(a);
  /* A large (64-bit length) message in one frame. */
  size_t big = 70000;
  char *b = malloc(big + 1);
  int k = snprintf(
      b, big,
      "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"echo\",\"params\":[\"");
  memset(b + k, 'z', big - (size_t)k - 3);
  memcpy(b + big - 3, "\"]}", 3);
  b[big] = 0;
  ws_text(fd, b);
  free(b);
  a = ws_json(fd);
  assert_int_equal(json_integer_value(json_object_get(a, "id")), 12);
  json_decref(a);
  /* Async calls outliving their socket: one whose client leaves, one
   * pending when the server stops. Their answers are dropped. */
  ws_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"later\",\"params\":[100]}");
  sleep_ms(20);
  close(fd);
  fd = ws_open(h.port);
  ws_text(fd, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"later\",\"params\":[200]}");
  sleep_ms(20);
  stop(&h);
  ws_expect_close(fd, 1001);
  close(fd);
}

/* A raw client that breaks a rule gets the close code, then EOF. */
static void bad_client(harness *h, const void *frame, size_t n, int code) {
  int fd = ws_open(h->port);
  send_raw(fd, frame, n);
  ws_expect_close(fd, code);
  /* Answer the close: the server then closes. */
  ws_frame(fd, RPC_WS_OP_CLOSE, 1, "\x03\xe8", 2, MASK);
  expect_eof(fd);
  close(fd);
}

static void test_protocol_errors(void **st) {
  harness h;
  rpc_config cfg = {.listen = "127.0.0.1:0", .max_body_bytes = 1024};
  start_cfg(&h, &cfg, 0, 0, 0);
  uint8_t f[2048];
  /* Oversize: only the header is needed to refuse it. */
  size_t hl = rpc_ws_frame_head(f, RPC_WS_OP_TEXT, 1, 5000, MASK);
  bad_client(&h, f, hl, 1009);
  char big[1500];
  memset(big, ' ', sizeof big);
  size_t l = mk(f, RPC_WS_OP_TEXT, 0, big, 600);
  l += mk(f + l, RPC_WS_OP_CONT, 1, big, 600);
  bad_client(&h, f, l, 1009);
  /* Unmasked. */
  hl = rpc_ws_frame_head(f, RPC_WS_OP_TEXT, 1, 2, NULL);
  memcpy(f + hl, "{}", 2);
  bad_client(&h, f, hl + 2, 1002);
  /* Binary. */
  l = mk(f, RPC_WS_OP_BINARY, 1, "\x01\x02", 2);
  bad_client(&h, f, l, 1003);
  /* Not UTF-8. */
  l = mk(f, RPC_WS_OP_TEXT, 1, "\"\xff\"", 3);
  bad_client(&h, f, l, 1007);
  /* A client that does not answer our close is dropped anyway. */
  int fd = ws_open(h.port);
  l = mk(f, RPC_WS_OP_BINARY, 1, "x", 1);
  send_raw(fd, f, l);
  ws_expect_close(fd, 1003);
  uint64_t t0 = mono_ms();
  expect_eof(fd);
  assert_true(mono_ms() - t0 < 3000);
  close(fd);
  assert_true(wait_conns(&h, 0, 3000));
  stop(&h);
}

static void test_slow_consumer(void **st) {
  harness h;
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  start_cfg(&h, &cfg, 0, 256 * 1024, 0);
  g_rcvbuf = 4096;
  int fd = ws_open(h.port);
  g_rcvbuf = 0;
  ws_text(fd,
          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":{"
          "\"topic\":\"new_block\"}}");
  json_t *a = ws_json(fd);
  json_decref(a);
  /* A fast consumer alongside it keeps receiving. */
  core_errbuf eb;
  rpc_ws_client *fast;
  assert_int_equal(rpc_ws_connect(&fast, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_subscribe(fast, "new_block", NULL, &eb), 0);
  char *pad = malloc(16 * 1024 + 1);
  memset(pad, 'p', 16 * 1024);
  pad[16 * 1024] = 0;
  for (int i = 0; i < 1000 && rpc_server_conn_count(h.srv) == 2; i++) {
    publish(&h, "new_block", json_pack("{s:i, s:s}", "height", i, "pad", pad));
    json_t *ev;
    assert_int_equal(rpc_ws_next(fast, 2000, &ev, NULL, 0, &eb), 0);
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(ev, "height")), i);
    json_decref(ev);
  }
  free(pad);
  /* The slow one was dropped (close 1008 behind its unread backlog). */
  assert_true(wait_conns(&h, 1, 5000));
  int saw_close = 0;
  for (;;) {
    char *m;
    size_t n;
    int op = ws_read(fd, &m, &n);
    if (op < 0) break;
    if (op == RPC_WS_OP_CLOSE) {
      assert_int_equal(((uint8_t)m[0] << 8) | (uint8_t)m[1], 1008);
      saw_close = 1;
    }
    free(m);
  }
  (void)saw_close; /* the close frame may be lost with the backlog */
  close(fd);
  rpc_ws_close(fast);
  stop(&h);
}

static void test_ping_timeout(void **st) {
  harness h;
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  start_cfg(&h, &cfg, 150, 0, 0);
  /* A raw client that never answers is dropped after a ping and a period. */
  int fd = ws_open(h.port);
  uint64_t t0 = mono_ms();
  char *m;
  assert_int_equal(ws_read(fd, &m, NULL), RPC_WS_OP_PING);
  free(m);
  assert_int_equal(ws_read(fd, &m, NULL), -1);
  uint64_t dt = mono_ms() - t0;
  assert_true(dt >= 250 && dt < 2000);
  close(fd);
  /* The library client answers pings and stays. */
  core_errbuf eb;
  rpc_ws_client *c;
  assert_int_equal(rpc_ws_connect(&c, h.url, 2000, &eb), 0);
  assert_int_equal(rpc_ws_subscribe(c, "new_block", NULL, &eb), 0);
  json_t *ev;
  assert_int_equal(rpc_ws_next(c, 800, &ev, NULL, 0, &eb), 0);
  assert_null(ev);
  assert_int_equal(rpc_server_conn_count(h.srv), 1);
  publish(&h, "new_block", block_ev(1));
  assert_int_equal(rpc_ws_next(c, 2000, &ev, NULL, 0, &eb), 0);
  assert_non_null(ev);
  json_decref(ev);
  /* The server going away: the client learns it. */
  stop(&h);
  int rc = rpc_ws_next(c, 2000, &ev, NULL, 0, &eb);
  assert_int_equal(rc, COHORT_ERR_IO);
  assert_null(ev);
  rpc_ws_close(c);
}

/* More unanswered calls than a connection may have: the rest wait in the
 * socket and are all answered in the end. */
static void test_many_pending(void **st) {
  harness h;
  start(&h);
  int fd = ws_open(h.port);
  char req[128];
  for (int i = 0; i < 150; i++) {
    snprintf(req, sizeof req,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"later\","
             "\"params\":[%d]}",
             i, 100 + (i % 3) * 20);
    ws_text(fd, req);
  }
  char seen[150] = {0};
  for (int i = 0; i < 150; i++) {
    json_t *a = ws_json(fd);
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id >= 0 && id < 150 && !seen[id]);
    seen[id] = 1;
    assert_string_equal(json_string_value(json_object_get(a, "result")),
                        "late");
    json_decref(a);
  }
  close(fd);
  stop(&h);
}

#define N_SUBS 60

static void test_many_subscribers(void **st) {
  harness h;
  rpc_config cfg = {.listen = "127.0.0.1:0", .max_ws_per_ip = N_SUBS};
  start_cfg(&h, &cfg, 0, 0, 0);
  core_errbuf eb;
  rpc_ws_client *c[N_SUBS];
  json_t *filt = json_pack("{s:s}", "hash", "ab");
  for (int i = 0; i < N_SUBS; i++) {
    assert_int_equal(rpc_ws_connect(&c[i], h.url, 2000, &eb), 0);
    assert_int_equal(rpc_ws_subscribe(c[i], "new_block", NULL, &eb), 0);
    if (i % 2) /* half of them twice, with a filter that matches */
      assert_int_equal(rpc_ws_subscribe(c[i], "new_block", filt, &eb), 0);
  }
  json_decref(filt);
  for (int k = 0; k < 20; k++) publish(&h, "new_block", block_ev(k));
  for (int i = 0; i < N_SUBS; i++) {
    int per = i % 2 ? 2 : 1;
    for (int k = 0; k < 20; k++)
      for (int r = 0; r < per; r++) {
        json_t *ev;
        assert_int_equal(rpc_ws_next(c[i], 2000, &ev, NULL, 0, &eb), 0);
        assert_non_null(ev);
        assert_int_equal(json_integer_value(json_object_get(ev, "height")), k);
        json_decref(ev);
      }
    rpc_ws_close(c[i]);
  }
  assert_true(wait_conns(&h, 0, 3000));
  stop(&h);
}

static void test_no_topics(void **st) {
  /* Publishing to an unknown topic, or to a server without topics, is
   * ignored (logged). */
  rpc_server *s;
  core_errbuf eb;
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  assert_int_equal(rpc_server_new(&s, NULL, &cfg, methods, 2, NULL, &eb), 0);
  rpc_server_publish(s, "new_block", NULL); /* logged, ignored */
  rpc_server_publish(s, "new_block", json_object()); /* freed */
  assert_int_equal(rpc_server_has_subscribers(s, "new_block"), 0);
  rpc_server_close(s);
}

int main(void) {
  core_log_set_level(getenv("RPC_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha1),
      cmocka_unit_test(test_frame_head),
      cmocka_unit_test(test_reader),
      cmocka_unit_test(test_filter),
      cmocka_unit_test(test_handshake),
      cmocka_unit_test(test_subscribe_publish),
      cmocka_unit_test(test_unsubscribe_and_methods),
      cmocka_unit_test(test_fragmented_masked),
      cmocka_unit_test(test_protocol_errors),
      cmocka_unit_test(test_slow_consumer),
      cmocka_unit_test(test_ping_timeout),
      cmocka_unit_test(test_many_pending),
      cmocka_unit_test(test_many_subscribers),
      cmocka_unit_test(test_no_topics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
