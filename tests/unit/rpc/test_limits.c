/* Unit tests for what keeps the RPC server from being monopolised or made
 * to hold memory (issue 7, items 2 and 7), on real loopback sockets. Clients
 * bind distinct source addresses on 127/8 (127.0.0.2, .3, ...) to act as
 * different client addresses:
 *   - one address holding idle connections and WebSockets cannot lock out
 *     another (per-address limits); a full table evicts the longest-idle
 *     keep-alive connection, never one mid-request; WebSocket caps, with
 *     fair eviction when every WebSocket place is taken;
 *   - an answer over max_response_bytes is an error, and a batch whose
 *     answers pass it is cut with errors (its body stays under the cap);
 *     a batch over max_batch_weight is refused; calls in flight per address;
 *     request bodies and unsent answers per address (buffer budget); a body
 *     of millions of tiny JSON values is refused before it is decoded;
 *   - a slow reader is dropped at the absolute write deadline and its memory
 *     is freed, although it keeps reading a little;
 *   - answers from other threads; rpc_call_run_on_owner runs on the owner's
 *     thread, and what is still queued at close is run, not leaked;
 *   - publishing costs O(matching subscribers): thousands of idle filtered
 *     subscriptions are never looked at for events that do not concern them;
 *     publishing from another thread; a full publish queue drops events and
 *     tells the subscribers (subscription_gap).
 * Each test closes its server, so ASan sees any leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "core/err.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- handlers ------------------------------------------------------------ */

static void h_echo(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_reply(call, params ? json_incref(params) : NULL);
}

/* params [n]: a string of n bytes. */
static void h_big(void *ctx, rpc_call *call, json_t *params) {
  size_t n = (size_t)json_integer_value(json_array_get(params, 0));
  char *b = malloc(n + 1);
  assert_non_null(b);
  memset(b, 'b', n);
  rpc_call_reply(call, json_stringn(b, n));
  free(b);
}

static void on_late(uv_timer_t *t) {
  rpc_call_reply(t->data, json_string("late"));
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* params [ms]: answer after ms. */
static void h_later(void *ctx, rpc_call *call, json_t *params) {
  uv_timer_t *t = malloc(sizeof *t);
  assert_non_null(t);
  uv_timer_init(rpc_call_loop(call), t);
  t->data = call;
  uv_timer_start(t, on_late,
                 (uint64_t)json_integer_value(json_array_get(params, 0)), 0);
}

/* Blocks the RPC thread for params[0] ms (to make queues fill up). */
static void h_stall(void *ctx, rpc_call *call, json_t *params) {
  sleep_ms((int)json_integer_value(json_array_get(params, 0)));
  rpc_call_reply(call, json_true());
}

static void *answer_thread(void *arg) {
  rpc_call *call = arg;
  sleep_ms(10);
  rpc_call_reply(call, json_string("from a thread"));
  return NULL;
}

static void h_thread(void *ctx, rpc_call *call, json_t *params) {
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, answer_thread, call), 0);
  pthread_detach(th);
}

/* run_on_owner: the function records the thread it ran on and answers. */
static pthread_t owner_thread;
static atomic_int owner_ran, owner_on_owner;

static void on_owner_fn(void *arg) {
  rpc_call *call = arg;
  atomic_fetch_add(&owner_ran, 1);
  atomic_store(&owner_on_owner, pthread_equal(pthread_self(), owner_thread));
  rpc_call_reply(call, json_string("owner"));
}

static void h_owner(void *ctx, rpc_call *call, json_t *params) {
  if (rpc_call_run_on_owner(call, on_owner_fn, call) != 0)
    rpc_call_error(call, RPC_UNAVAILABLE, "no owner", NULL);
}

static const rpc_method methods[] = {
    {"echo", h_echo, 1},   {"big", h_big, 1},     {"later", h_later, 1},
    {"heavy", h_echo, 50}, {"stall", h_stall, 1}, {"thread", h_thread, 1},
    {"owner", h_owner, 1},
};
static const char *const topics[] = {"task", "new_block", NULL};

static char *metrics(void *ctx) { return strdup(""); }

static rpc_server *start(rpc_config *cfg) {
  rpc_server *s;
  core_errbuf eb;
  cfg->listen = "127.0.0.1:0";
  cfg->topics = topics;
  cfg->metrics_fn = metrics;
  if (rpc_server_new(&s, NULL, cfg, methods, sizeof methods / sizeof methods[0],
                     NULL, &eb))
    fail_msg("rpc_server_new: %s", eb.msg);
  return s;
}

/* ---- raw clients from a chosen 127/8 source address ---------------------- */

static int dial_from(int port, int src) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in me = {.sin_family = AF_INET};
  me.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
  assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_all(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

static void post(int fd, const char *body) {
  char head[256];
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
           strlen(body));
  send_all(fd, head, strlen(head));
  send_all(fd, body, strlen(body));
}

typedef struct {
  int status, done;
  char *body;
  size_t len;
} resp;

static int r_body(http_parser *p, const char *at, size_t n) {
  resp *x = p->data;
  x->body = realloc(x->body, x->len + n + 1);
  memcpy(x->body + x->len, at, n);
  x->len += n;
  x->body[x->len] = 0;
  return 0;
}

static int r_done(http_parser *p) {
  resp *x = p->data;
  x->done = 1;
  x->status = p->status_code;
  http_parser_pause(p, 1);
  return 0;
}

/* Read one response (byte by byte past its end is not needed: tests do
 * not pipeline). 0, or -1 if the connection ended first. */
static int read_resp(int fd, resp *x) {
  memset(x, 0, sizeof *x);
  http_parser p;
  http_parser_settings st;
  http_parser_settings_init(&st);
  st.on_body = r_body;
  st.on_message_complete = r_done;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = x;
  char buf[65536];
  while (!x->done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    http_parser_execute(&p, &st, buf, (size_t)n);
  }
  return 0;
}

static json_t *resp_json(const resp *x) {
  json_t *v = json_loadb(x->body ? x->body : "", x->len, 0, NULL);
  if (!v) fail_msg("not JSON: %.200s", x->body ? x->body : "");
  return v;
}

/* x is one JSON-RPC error with code: its message, copied into msg. */
static void resp_error(const resp *x, int code, char *msg, size_t cap) {
  json_t *v = resp_json(x);
  json_t *e = json_object_get(v, "error");
  assert_non_null(e);
  assert_int_equal(json_integer_value(json_object_get(e, "code")), code);
  snprintf(msg, cap, "%s", json_string_value(json_object_get(e, "message")));
  json_decref(v);
}

/* A health check on a keep-alive connection (leaves it idle). */
static void health(int fd) {
  const char *r = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  send_all(fd, r, strlen(r));
  resp x;
  assert_int_equal(read_resp(fd, &x), 0);
  assert_int_equal(x.status, 200);
  free(x.body);
}

/* A whole call from address src: its response (caller frees x.body). */
static int call_from(int port, int src, const char *body, resp *x) {
  int fd = dial_from(port, src);
  post(fd, body);
  int rc = read_resp(fd, x);
  close(fd);
  return rc;
}

static int is_closed(int fd) {
  char b[4096];
  for (;;) {
    ssize_t n = recv(fd, b, sizeof b, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET;
  }
}

/* ---- raw WebSocket ------------------------------------------------------- */

/* Handshake from src; returns the fd, or -1 with *status set if refused. */
static int ws_dial(int port, int src, int *status) {
  int fd = dial_from(port, src);
  const char *req =
      "GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  send_all(fd, req, strlen(req));
  char head[2048];
  size_t n = 0;
  while (n < sizeof head - 1) { /* byte by byte: frames may follow */
    ssize_t r = recv(fd, head + n, 1, 0);
    if (r <= 0) break;
    n++;
    head[n] = 0;
    if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) break;
  }
  int st = 0;
  if (n > 12) st = atoi(head + 9);
  if (status) *status = st;
  if (st != 101) {
    close(fd);
    return -1;
  }
  return fd;
}

static void ws_text(int fd, const char *s) {
  static const uint8_t mask[4] = {1, 2, 3, 4};
  size_t n = strlen(s);
  uint8_t *f = malloc(RPC_WS_MAX_HEAD + n);
  size_t hl = rpc_ws_frame_head(f, RPC_WS_OP_TEXT, 1, n, mask);
  memcpy(f + hl, s, n);
  rpc_ws_mask(f + hl, n, mask, 0);
  send_all(fd, f, hl + n);
  free(f);
}

static int recv_n(int fd, void *p, size_t n) {
  char *s = p;
  while (n) {
    ssize_t r = recv(fd, s, n, 0);
    if (r <= 0) return -1;
    s += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Next frame: opcode (-1 at EOF/timeout), payload malloc'd into *out. */
static int ws_read(int fd, char **out, size_t *len) {
  uint8_t h[2];
  *out = NULL;
  if (recv_n(fd, h, 2)) return -1;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    uint8_t e[2];
    if (recv_n(fd, e, 2)) return -1;
    n = (uint64_t)e[0] << 8 | e[1];
  } else if (n == 127) {
    uint8_t e[8];
    if (recv_n(fd, e, 8)) return -1;
    n = 0;
    for (int i = 0; i < 8; i++) n = n << 8 | e[i];
  }
  char *b = malloc((size_t)n + 1);
  if (n && recv_n(fd, b, (size_t)n)) {
    free(b);
    return -1;
  }
  b[n] = 0;
  *out = b;
  if (len) *len = (size_t)n;
  return h[0] & 0x0f;
}

/* The next text message as JSON (pings skipped), or NULL at EOF. */
static json_t *ws_json(int fd) {
  for (;;) {
    char *m;
    size_t n;
    int op = ws_read(fd, &m, &n);
    if (op < 0) return NULL;
    if (op == RPC_WS_OP_TEXT) {
      json_t *v = json_loadb(m, n, 0, NULL);
      free(m);
      return v;
    }
    free(m);
    if (op == RPC_WS_OP_CLOSE) return NULL;
  }
}

static void ws_subscribe(int fd, const char *topic, const char *key,
                         const char *val) {
  char req[512];
  if (key)
    snprintf(
        req, sizeof req,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":"
        "{\"topic\":\"%s\",\"filter\":{\"%s\":\"%s\"}}}",
        topic, key, val);
  else
    snprintf(
        req, sizeof req,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":"
        "{\"topic\":\"%s\"}}",
        topic);
  ws_text(fd, req);
  json_t *a = ws_json(fd);
  assert_non_null(a);
  assert_non_null(
      json_object_get(json_object_get(a, "result"), "subscription"));
  json_decref(a);
}

static int wait_until(int (*pred)(rpc_server *, size_t), rpc_server *s,
                      size_t arg, int ms) {
  uint64_t end = mono_ms() + (uint64_t)ms;
  while (mono_ms() < end) {
    if (pred(s, arg)) return 1;
    sleep_ms(5);
  }
  return pred(s, arg);
}

static int conns_are(rpc_server *s, size_t n) {
  return rpc_server_conn_count(s) == n;
}
static int buffered_is(rpc_server *s, size_t n) {
  return rpc_server_buffered(s) == n;
}
static int subs_are(rpc_server *s, size_t n) {
  return rpc_server_ws_sub_count(s) == n;
}

/* ---- connections --------------------------------------------------------- */

/* Item 2: one address holds every connection it may (idle keep-alives and
 * WebSockets) and more; another address is still served, over HTTP and
 * WebSocket. */
static void test_one_address_cannot_take_all(void **st) {
  rpc_config cfg = {
      .max_conns = 32, .max_conns_per_ip = 8, .max_ws = 8, .max_ws_per_ip = 2};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int fds[40], nf = 0, refused = 0;
  /* The attacker (127.0.0.3) asks for 32 connections and 8 WebSockets. */
  for (int i = 0; i < 32; i++) {
    int fd = dial_from(port, 3);
    const char *r = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, r, strlen(r));
    resp x;
    if (read_resp(fd, &x) == 0 && x.status == 200) {
      fds[nf++] = fd;
    } else {
      if (x.status == 503) {
        char msg[256];
        resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
        assert_non_null(strstr(msg, "127.0.0.3"));
        assert_non_null(strstr(msg, "max_conns_per_ip"));
      }
      refused++;
      close(fd);
    }
    free(x.body);
  }
  assert_int_equal(nf, 8);
  assert_int_equal(refused, 24);
  /* Its WebSockets: none fit (its 8 connections are taken). Release two
   * connections and it gets at most max_ws_per_ip WebSockets. */
  int status = 0;
  assert_int_equal(ws_dial(port, 3, &status), -1);
  assert_int_equal(status, 503);
  close(fds[--nf]);
  close(fds[--nf]);
  close(fds[--nf]);
  assert_true(wait_until(conns_are, s, 5, 2000));
  int w1 = ws_dial(port, 3, NULL), w2 = ws_dial(port, 3, NULL);
  assert_true(w1 >= 0 && w2 >= 0);
  assert_int_equal(ws_dial(port, 3, &status), -1);
  assert_int_equal(status, 503);
  /* The honest address is served: a call and a subscription. */
  resp x;
  assert_int_equal(
      call_from(
          port, 2,
          "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":[1]}",
          &x),
      0);
  assert_int_equal(x.status, 200);
  free(x.body);
  int hw = ws_dial(port, 2, NULL);
  assert_true(hw >= 0);
  ws_subscribe(hw, "task", NULL, NULL);
  close(hw);
  close(w1);
  close(w2);
  for (int i = 0; i < nf; i++) close(fds[i]);
  rpc_server_close(s);
}

/* Item 2: many addresses together fill the table with idle keep-alive
 * connections; a newcomer is admitted by closing the one idle longest.
 * Connections mid-request are never evicted: then the newcomer is refused. */
static void test_full_table_evicts_idle(void **st) {
  rpc_config cfg = {.max_conns = 8, .max_conns_per_ip = 2};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int fds[8];
  for (int i = 0; i < 8; i++) {
    fds[i] = dial_from(port, 10 + i / 2);
    health(fds[i]); /* now idle, keep-alive */
    sleep_ms(2);
  }
  resp x;
  assert_int_equal(
      call_from(
          port, 2,
          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":[2]}",
          &x),
      0);
  assert_int_equal(x.status, 200);
  free(x.body);
  /* The oldest idle one was closed; the others still work. */
  assert_true(is_closed(fds[0]));
  health(fds[7]);
  for (int i = 0; i < 8; i++) close(fds[i]);
  assert_true(wait_until(conns_are, s, 0, 2000));

  /* Eight slow-header clients: nothing idle to evict. */
  for (int i = 0; i < 8; i++) {
    fds[i] = dial_from(port, 20 + i / 2);
    send_all(fds[i], "POST / HTTP/1.1\r\nContent-Length: 5\r\n", 37);
  }
  sleep_ms(50);
  int fd = dial_from(port, 2);
  assert_int_equal(read_resp(fd, &x), 0);
  assert_int_equal(x.status, 503);
  char msg[256];
  resp_error(&x, RPC_UNAVAILABLE, msg, sizeof msg);
  assert_non_null(strstr(msg, "limit 8"));
  free(x.body);
  close(fd);
  for (int i = 0; i < 8; i++) close(fds[i]);
  rpc_server_close(s);
}

/* Item 2: WebSocket places in all; when they are full, the address holding
 * the most gives one up to an address holding fewer. */
static void test_ws_fair_share(void **st) {
  rpc_config cfg = {.max_conns = 32, .max_ws = 4, .max_ws_per_ip = 4};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = ws_dial(port, 3, NULL);
    assert_true(a[i] >= 0);
  }
  /* A newcomer evicts one of 127.0.0.3's (which got close 1008). */
  int b = ws_dial(port, 4, NULL);
  assert_true(b >= 0);
  int closed = 0;
  for (int i = 0; i < 4; i++) {
    struct timeval tv = {0, 200000};
    setsockopt(a[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char *m;
    size_t n;
    int op;
    while ((op = ws_read(a[i], &m, &n)) == RPC_WS_OP_PING) free(m);
    if (op == RPC_WS_OP_CLOSE) {
      assert_int_equal(((uint8_t)m[0] << 8) | (uint8_t)m[1], 1008);
      closed++;
    }
    free(m);
  }
  assert_int_equal(closed, 1);
  /* 127.0.0.3 holds 3, 127.0.0.4 holds 1: 127.0.0.4 may take one more
   * (3 >= 1 + 2); then 2 and 2. A third address (0) takes one from either;
   * its second is refused: nobody holds 1 + 2. */
  int b2 = ws_dial(port, 4, NULL);
  assert_true(b2 >= 0);
  int c1 = ws_dial(port, 5, NULL);
  assert_true(c1 >= 0);
  int status;
  assert_int_equal(ws_dial(port, 5, &status), -1);
  assert_int_equal(status, 503);
  for (int i = 0; i < 4; i++) close(a[i]);
  close(b);
  close(b2);
  close(c1);
  rpc_server_close(s);
}

/* ---- answers ------------------------------------------------------------- */

/* Item 7: an answer over the cap is an error; a batch whose answers pass
 * the cap is cut, and its body stays near the cap. Before this change the
 * server rendered whatever the handlers built (393 MB for 100 blocks). */
static void test_response_cap(void **st) {
  rpc_config cfg = {.max_response_bytes = 64 * 1024};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  resp x;
  char msg[512];
  assert_int_equal(call_from(port, 2,
                             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"big\","
                             "\"params\":[200000]}",
                             &x),
                   0);
  assert_int_equal(x.status, 200);
  resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
  assert_non_null(strstr(msg, "max_response_bytes"));
  assert_true(x.len < 1024);
  free(x.body);
  /* 20 answers of 20 kB in a batch: three fit, the rest are errors. */
  char body[4096];
  size_t o = 0;
  body[o++] = '[';
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(body + o, sizeof body - o,
                          "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"big\","
                          "\"params\":[20000]}",
                          i ? "," : "", i);
  body[o++] = ']';
  body[o] = 0;
  assert_int_equal(call_from(port, 2, body, &x), 0);
  assert_int_equal(x.status, 200);
  assert_true(x.len <= 64 * 1024 + 20 * 400);
  json_t *v = resp_json(&x);
  assert_int_equal(json_array_size(v), 20);
  int ok = 0, cut = 0;
  for (size_t i = 0; i < 20; i++) {
    json_t *e = json_array_get(v, i);
    assert_int_equal(json_integer_value(json_object_get(e, "id")),
                     (json_int_t)i);
    if (json_object_get(e, "result")) {
      ok++;
      assert_int_equal(cut, 0); /* answered in order: errors only after */
    } else {
      json_t *err = json_object_get(e, "error");
      assert_int_equal(json_integer_value(json_object_get(err, "code")),
                       RPC_LIMIT_EXCEEDED);
      assert_non_null(
          strstr(json_string_value(json_object_get(err, "message")), "cut"));
      cut++;
    }
  }
  assert_int_equal(ok, 3);
  assert_int_equal(cut, 17);
  json_decref(v);
  free(x.body);
  assert_true(wait_until(buffered_is, s, 0, 2000));
  rpc_server_close(s);
}

/* Item 7: method weights against max_batch_weight; calls in flight per
 * address; a body of too many JSON values. */
static void test_batch_weight_inflight_values(void **st) {
  rpc_config cfg = {.max_batch_weight = 100, .max_inflight_per_ip = 4};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  resp x;
  char msg[512];
  const char *two =
      "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"heavy\"},"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"heavy\"}]";
  assert_int_equal(call_from(port, 2, two, &x), 0);
  assert_int_equal(x.status, 200);
  free(x.body);
  const char *three =
      "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"heavy\"},"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"heavy\"},"
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"echo\"}]";
  assert_int_equal(call_from(port, 2, three, &x), 0);
  assert_int_equal(x.status, 400);
  resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
  assert_non_null(strstr(msg, "weighs 101"));
  assert_non_null(strstr(msg, "max_batch_weight"));
  free(x.body);

  /* Four slow calls in flight from 127.0.0.5: a fifth is refused (429);
   * another address is not affected. */
  int fds[4];
  for (int i = 0; i < 4; i++) {
    fds[i] = dial_from(port, 5);
    post(
        fds[i],
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"later\",\"params\":[600]}");
  }
  sleep_ms(100);
  assert_int_equal(
      call_from(port, 5, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\"}",
                &x),
      0);
  assert_int_equal(x.status, 429);
  resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
  assert_non_null(strstr(msg, "in flight"));
  free(x.body);
  assert_int_equal(
      call_from(port, 6, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\"}",
                &x),
      0);
  assert_int_equal(x.status, 200);
  free(x.body);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(read_resp(fds[i], &x), 0);
    assert_int_equal(x.status, 200);
    free(x.body);
    close(fds[i]);
  }

  /* 200,001 values in 400 kB: refused by the pre-scan, never decoded. */
  size_t n = 200001;
  char *b = malloc(2 * n + 64);
  size_t o = (size_t)sprintf(
      b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":[");
  for (size_t i = 0; i < n; i++) {
    b[o++] = '1';
    b[o++] = ',';
  }
  b[o - 1] = ']';
  b[o++] = '}';
  b[o] = 0;
  assert_int_equal(call_from(port, 2, b, &x), 0);
  assert_int_equal(x.status, 400);
  resp_error(&x, RPC_PARSE_ERROR, msg, sizeof msg);
  assert_non_null(strstr(msg, "more than 100000 values"));
  free(x.body);
  free(b);
  rpc_server_close(s);
}

/* Item 7: what one address may have buffered (bodies being read, answers
 * not yet taken) is bounded. */
static void test_client_buffer(void **st) {
  rpc_config cfg = {.client_buffer_bytes = 24 << 20,
                    .max_body_bytes = 32 << 20};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  /* An answer of 12 MB left unread (the kernel takes at most a few MB of
   * it), then one of 14 MB: over the address's budget. */
  int slow = dial_from(port, 3);
  int small = 4096;
  setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  post(slow,
       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"big\",\"params\":[12000000]"
       "}");
  uint64_t t0 = mono_ms();
  while (rpc_server_buffered(s) < 12000000 && mono_ms() - t0 < 2000)
    sleep_ms(5);
  resp x;
  char msg[512];
  assert_int_equal(call_from(port, 3,
                             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"big\","
                             "\"params\":[14000000]}",
                             &x),
                   0);
  resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
  assert_non_null(strstr(msg, "client_buffer_bytes"));
  free(x.body);
  /* Another address is not charged for it. */
  assert_int_equal(call_from(port, 4,
                             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"big\","
                             "\"params\":[14000000]}",
                             &x),
                   0);
  json_t *v = resp_json(&x);
  assert_int_equal(json_string_length(json_object_get(v, "result")), 14000000);
  json_decref(v);
  free(x.body);
  close(slow);
  assert_true(wait_until(buffered_is, s, 0, 3000));
  cfg.client_buffer_bytes = 1 << 20;
  rpc_server_close(s);
  s = start(&cfg);
  port = rpc_server_port(s);
  /* A 1.5 MB body: refused once the bytes received pass the budget. */
  size_t bl = 1500000;
  char *body = malloc(bl + 1);
  memset(body, ' ', bl);
  body[bl] = 0;
  memcpy(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\"}", 40);
  int fd = dial_from(port, 5);
  char head[128];
  snprintf(head, sizeof head, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
           bl);
  send_all(fd, head, strlen(head));
  for (size_t off = 0; off < bl;) {
    ssize_t w = send(fd, body + off, bl - off, MSG_NOSIGNAL);
    if (w <= 0) break; /* the server may close before all is sent */
    off += (size_t)w;
  }
  assert_int_equal(read_resp(fd, &x), 0);
  assert_int_equal(x.status, 503);
  resp_error(&x, RPC_LIMIT_EXCEEDED, msg, sizeof msg);
  assert_non_null(strstr(msg, "buffer limit"));
  free(x.body);
  close(fd);
  free(body);
  assert_true(wait_until(buffered_is, s, 0, 3000));
  rpc_server_close(s);
}

/* Item 7: a reader that takes a large answer a trickle at a time (so the
 * no-progress check never fires) is dropped at write_timeout_ms, and the
 * answer's memory is freed. Before this change it could hold it as long as
 * it kept reading a few bytes per idle period (half an hour in the report). */
static void test_write_deadline(void **st) {
  rpc_config cfg = {.write_timeout_ms = 700, .idle_timeout_ms = 5000};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int fd = dial_from(port, 3);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  post(fd,
       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"big\",\"params\":[10000000]"
       "}");
  uint64_t t0 = mono_ms();
  while (rpc_server_buffered(s) < 10000000 && mono_ms() - t0 < 5000)
    sleep_ms(5);
  assert_true(rpc_server_buffered(s) >= 10000000);
  t0 = mono_ms(); /* the answer is being written: the deadline runs */
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b[512];
  size_t got = 0;
  int eof = 0;
  while (!eof && mono_ms() - t0 < 8000) {
    ssize_t n = recv(fd, b, sizeof b, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) eof = 1;
    if (n > 0) got += (size_t)n;
    sleep_ms(40);
  }
  uint64_t dt = mono_ms() - t0;
  assert_true(eof);
  assert_true(got < 10000000);
  assert_true(dt >= 600 && dt < 5000);
  assert_true(wait_until(buffered_is, s, 0, 1000));
  assert_true(wait_until(conns_are, s, 0, 1000));
  close(fd);
  rpc_server_close(s);
}

/* Item 2: the request deadline is absolute: a body trickling one byte
 * every 40 ms (headers complete, progress all the time) still gets 408 at
 * idle_timeout_ms and its place is freed. */
static void test_slow_body_deadline(void **st) {
  rpc_config cfg = {.idle_timeout_ms = 300};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int fd = dial_from(port, 3);
  const char *h = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
  send_all(fd, h, strlen(h));
  uint64_t t0 = mono_ms(), answered = 0;
  char b[512];
  while (!answered && mono_ms() - t0 < 3000) {
    sleep_ms(40);
    if (send(fd, " ", 1, MSG_NOSIGNAL) < 0) break;
    ssize_t n = recv(fd, b, sizeof b - 1, MSG_DONTWAIT);
    if (n > 0) {
      b[n] = 0;
      assert_non_null(strstr(b, " 408 "));
      answered = mono_ms();
    }
  }
  assert_true(answered);
  uint64_t dt = answered - t0;
  assert_true(dt >= 250 && dt < 1500);
  close(fd);
  assert_true(wait_until(conns_are, s, 0, 2000));
  assert_true(wait_until(buffered_is, s, 0, 1000));
  rpc_server_close(s);
}

/* ---- threads ------------------------------------------------------------- */

static void test_answers_from_threads(void **st) {
  rpc_config cfg = {0};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  resp x;
  assert_int_equal(
      call_from(
          port, 2,
          "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"thread\"},"
          "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"echo\",\"params\":[2]},"
          "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"thread\"}]",
          &x),
      0);
  json_t *v = resp_json(&x);
  assert_int_equal(json_array_size(v), 3);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(v, 0), "result")),
      "from a thread");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(v, 2), "result")),
      "from a thread");
  json_decref(v);
  free(x.body);
  /* Without an owner loop, run_on_owner refuses (the handler says so). */
  assert_int_equal(
      call_from(port, 2, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"owner\"}",
                &x),
      0);
  char msg[128];
  resp_error(&x, RPC_UNAVAILABLE, msg, sizeof msg);
  free(x.body);
  /* A call answered from a thread after its client left, and one answered
   * after the server closed: both are dropped without harm (ASan). */
  int fd = dial_from(port, 2);
  post(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"thread\"}");
  close(fd);
  fd = dial_from(port, 2);
  post(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"thread\"}");
  sleep_ms(2);
  rpc_server_close(s);
  close(fd);
  sleep_ms(50); /* the threads answer into the closed server */
}

/* An owner thread with its own loop, as cohortd's node thread. */
typedef struct {
  uv_loop_t loop;
  uv_async_t stop;
  rpc_server *srv;
  int port;
  atomic_int ready;
} owner_h;

static void on_owner_stop(uv_async_t *a) {
  owner_h *o = a->data;
  rpc_server_close(o->srv); /* on the owner thread, from its loop */
  uv_close((uv_handle_t *)&o->stop, NULL);
}

static void *owner_main(void *arg) {
  owner_h *o = arg;
  owner_thread = pthread_self();
  uv_loop_init(&o->loop);
  uv_async_init(&o->loop, &o->stop, on_owner_stop);
  o->stop.data = o;
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  core_errbuf eb;
  assert_int_equal(
      rpc_server_new(&o->srv, &o->loop, &cfg, methods,
                     sizeof methods / sizeof methods[0], NULL, &eb),
      0);
  o->port = rpc_server_port(o->srv);
  atomic_store(&o->ready, 1);
  uv_run(&o->loop, UV_RUN_DEFAULT);
  uv_loop_close(&o->loop);
  return NULL;
}

static void test_run_on_owner(void **st) {
  owner_h o;
  memset(&o, 0, sizeof o);
  atomic_store(&owner_ran, 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, owner_main, &o), 0);
  while (!atomic_load(&o.ready)) sleep_ms(1);
  resp x;
  assert_int_equal(
      call_from(o.port, 2,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"owner\"}", &x),
      0);
  json_t *v = resp_json(&x);
  assert_string_equal(json_string_value(json_object_get(v, "result")), "owner");
  json_decref(v);
  free(x.body);
  assert_int_equal(atomic_load(&owner_ran), 1);
  assert_int_equal(atomic_load(&owner_on_owner), 1);
  uv_async_send(&o.stop);
  pthread_join(th, NULL);

  /* An owner that never runs its loop: what is queued for it when the
   * server closes is run by rpc_server_close (no leak, no lost answer). */
  uv_loop_t idle;
  uv_loop_init(&idle);
  owner_thread = pthread_self();
  rpc_server *s;
  core_errbuf eb;
  rpc_config cfg = {.listen = "127.0.0.1:0"};
  assert_int_equal(
      rpc_server_new(&s, &idle, &cfg, methods,
                     sizeof methods / sizeof methods[0], NULL, &eb),
      0);
  int fd = dial_from(rpc_server_port(s), 2);
  post(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"owner\"}");
  sleep_ms(100);
  assert_int_equal(atomic_load(&owner_ran), 1);
  rpc_server_close(s);
  assert_int_equal(atomic_load(&owner_ran), 2);
  assert_int_equal(atomic_load(&owner_on_owner), 1);
  close(fd);
  uv_run(&idle, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&idle), 0);
}

/* ---- publishing ---------------------------------------------------------- */

/* Item 7: 3,000 idle subscriptions filtered on other task IDs cost nothing
 * per event; the one that matches gets its event. (Before this change each
 * event was checked against every subscription: 3,001 filter evaluations
 * per event.) */
#define IDLE_CONNS 100
#define SUBS_PER 30
static void test_publish_is_o_matching(void **st) {
  rpc_config cfg = {.max_conns = 256,
                    .max_ws = 200,
                    .max_ws_per_ip = 200,
                    .max_conns_per_ip = 200};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  int idle[IDLE_CONNS];
  char req[512];
  for (int i = 0; i < IDLE_CONNS; i++) {
    idle[i] = ws_dial(port, 3, NULL);
    assert_true(idle[i] >= 0);
    for (int k = 0; k < SUBS_PER; k++) {
      snprintf(req, sizeof req, "idle-%d-%d", i, k);
      /* Half on task_id, half on executor (which also matches "executors"). */
      ws_subscribe(idle[i], "task", k % 2 ? "task_id" : "executor", req);
    }
  }
  int me = ws_dial(port, 2, NULL);
  ws_subscribe(me, "task", "executor", "coh1me");
  assert_int_equal(rpc_server_ws_sub_count(s), IDLE_CONNS * SUBS_PER + 1);
  uint64_t checks0 = rpc_server_filter_checks(s);
  for (int e = 0; e < 200; e++) {
    json_t *ev = json_pack("{s:s, s:s, s:[s,s], s:I}", "task_id", "t-unrelated",
                           "status", "committing", "executors", "coh1a",
                           "coh1b", "height", (json_int_t)e);
    rpc_server_publish(s, "task", ev);
  }
  json_t *ev = json_pack("{s:s, s:[s,s]}", "task_id", "t-mine", "executors",
                         "coh1x", "coh1me");
  rpc_server_publish(s, "task", ev);
  json_t *got = ws_json(me);
  assert_non_null(got);
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_object_get(got, "params"), "result"),
          "task_id")),
      "t-mine");
  json_decref(got);
  /* One candidate looked at in all: the matching one. */
  assert_int_equal(rpc_server_filter_checks(s) - checks0, 1);
  for (int i = 0; i < IDLE_CONNS; i++) close(idle[i]);
  close(me);
  assert_true(wait_until(subs_are, s, 0, 3000));
  rpc_server_close(s);
}

/* Publishing from another thread never waits; with the RPC thread busy and
 * the queue full, events are dropped and the subscribers are told. */
static void test_publish_queue_gap(void **st) {
  rpc_config cfg = {.publish_queue = 16};
  rpc_server *s = start(&cfg);
  int port = rpc_server_port(s);
  /* Nobody subscribes: nothing is queued at all. */
  assert_int_equal(rpc_server_has_subscribers(s, "new_block"), 0);
  int fd = ws_dial(port, 2, NULL);
  ws_subscribe(fd, "new_block", NULL, NULL);
  assert_int_equal(rpc_server_has_subscribers(s, "new_block"), 1);
  assert_int_equal(rpc_server_has_subscribers(s, "task"), 0);
  /* Keep the RPC thread busy for 400 ms, then publish 100 events. */
  int busy = dial_from(port, 3);
  post(busy,
       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"stall\",\"params\":[400]}");
  sleep_ms(100);
  uint64_t t0 = mono_ms();
  for (int i = 0; i < 100; i++) {
    rpc_server_publish(s, "new_block", json_pack("{s:i}", "height", i));
  }
  assert_true(mono_ms() - t0 < 200); /* did not wait for the busy thread */
  int events = 0, gap = 0;
  json_int_t missed = 0;
  while (events + (gap ? 1 : 0) < 17) {
    json_t *m = ws_json(fd);
    assert_non_null(m);
    const char *method = json_string_value(json_object_get(m, "method"));
    if (!strcmp(method, "subscription")) {
      events++;
    } else {
      assert_string_equal(method, "subscription_gap");
      gap = 1;
      missed = json_integer_value(
          json_object_get(json_object_get(m, "params"), "missed"));
    }
    json_decref(m);
  }
  assert_int_equal(events, 16);
  assert_int_equal(gap, 1);
  assert_int_equal(missed, 84);
  resp x;
  assert_int_equal(read_resp(busy, &x), 0);
  free(x.body);
  close(busy);
  close(fd);
  rpc_server_close(s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  core_log_set_level(getenv("RPC_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_address_cannot_take_all),
      cmocka_unit_test(test_full_table_evicts_idle),
      cmocka_unit_test(test_ws_fair_share),
      cmocka_unit_test(test_response_cap),
      cmocka_unit_test(test_batch_weight_inflight_values),
      cmocka_unit_test(test_client_buffer),
      cmocka_unit_test(test_write_deadline),
      cmocka_unit_test(test_slow_body_deadline),
      cmocka_unit_test(test_answers_from_threads),
      cmocka_unit_test(test_run_on_owner),
      cmocka_unit_test(test_publish_is_o_matching),
      cmocka_unit_test(test_publish_queue_gap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
