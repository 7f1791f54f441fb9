/* Unit tests for rpc/: the pure parsers (rpc_request_parse/validate,
 * rpc_http_feed), and the server on real loopback sockets — its loop runs in
 * a thread while the test talks to it with rpc_client_call and raw sockets:
 * calls, batches, notifications, errors, limits (body, batch, depth,
 * connections, idle deadline), keep-alive and pipelining, 100-continue,
 * async answers (also after the client or the server has gone), /health,
 * /metrics. Every server is closed and its loop closed cleanly, so ASan sees
 * any leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

/* ---- handlers (run on the server's loop thread) ---------------------- */

static void sleep_ms_raw(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static atomic_int n_notified;    /* "count" calls seen */
static atomic_int n_late;        /* "later" calls answered */
static atomic_int late_alive;    /* rpc_call_client_alive at last answer */

static void h_echo(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_reply(call, params ? json_incref(params) : NULL);
}

static void h_add(void *ctx, rpc_call *call, json_t *params) {
  json_t *a = json_array_get(params, 0), *b = json_array_get(params, 1);
  if (!json_is_array(params) || json_array_size(params) != 2 ||
      !json_is_integer(a) || !json_is_integer(b)) {
    rpc_call_error(call, RPC_INVALID_PARAMS,
                   "params must be [a, b] with integers a and b", NULL);
    return;
  }
  rpc_call_reply(call, json_integer(json_integer_value(a) +
                                    json_integer_value(b)));
}

static void h_fail(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_error(call, RPC_NOT_FOUND, "block 7 not found",
                 json_pack("{s:i}", "height", 7));
}

static void h_count(void *ctx, rpc_call *call, json_t *params) {
  atomic_fetch_add(&n_notified, 1);
  rpc_call_reply(call, json_true());
}

static void on_late_timer(uv_timer_t *t) {
  rpc_call *call = t->data;
  atomic_store(&late_alive, rpc_call_client_alive(call));
  rpc_call_reply(call, json_string("late"));
  atomic_fetch_add(&n_late, 1);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* params [ms]: answer "late" after ms on a timer of the RPC loop. */
static void h_later(void *ctx, rpc_call *call, json_t *params) {
  uv_timer_t *t = malloc(sizeof *t);
  assert_non_null(t);
  uv_timer_init(rpc_call_loop(call), t);
  t->data = call;
  uv_timer_start(t, on_late_timer,
                 (uint64_t)json_integer_value(json_array_get(params, 0)), 0);
}

/* params [n]: a string of n bytes (a large answer). */
static void h_big(void *ctx, rpc_call *call, json_t *params) {
  size_t n = (size_t)json_integer_value(json_array_get(params, 0));
  char *b = malloc(n + 1);
  assert_non_null(b);
  memset(b, 'b', n);
  b[n] = 0;
  rpc_call_reply(call, json_stringn(b, n));
  free(b);
}

/* Answered from another thread (a worker), after params[0] ms. */
static void *answer_thread(void *arg) {
  rpc_call *call = arg;
  sleep_ms_raw(20);
  rpc_call_reply(call, json_string("from a thread"));
  return NULL;
}

static void h_thread(void *ctx, rpc_call *call, json_t *params) {
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, answer_thread, call), 0);
  pthread_detach(th);
}

static const rpc_method methods[] = {
    {"echo", h_echo, 1},   {"add", h_add, 1},       {"fail", h_fail, 1},
    {"count", h_count, 1}, {"later", h_later, 1},   {"big", h_big, 1},
    {"heavy", h_echo, 50}, {"thread", h_thread, 1},
};

static char *metrics(void *ctx) { return strdup("cohort_up 1\n"); }

/* ---- a server (on its own thread) ----------------------------------- */

typedef struct {
  rpc_server *srv;
  int port;
  char url[64];
} harness;

/* Start a server; returns rpc_server_new's code (0 or a failure when
 * may_fail, which leaves nothing to stop). */
static int start_at(harness *h, const rpc_config *cfg, int may_fail) {
  memset(h, 0, sizeof *h);
  core_errbuf eb;
  int rc = rpc_server_new(&h->srv, NULL, cfg, methods,
                          sizeof methods / sizeof methods[0], NULL, &eb);
  if (rc && may_fail) return rc;
  if (rc) fail_msg("rpc_server_new: %s", eb.msg);
  h->port = rpc_server_port(h->srv);
  assert_true(h->port > 0);
  if (strchr(cfg->listen, '['))
    snprintf(h->url, sizeof h->url, "http://[::1]:%d", h->port);
  else
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
  return 0;
}

static void start(harness *h, const rpc_config *cfg) { start_at(h, cfg, 0); }

/* Blocks until the RPC thread has closed everything and exited. */
static void stop(harness *h) { rpc_server_close(h->srv); }

static rpc_config default_cfg(void) {
  rpc_config c = {.listen = "127.0.0.1:0", .metrics_fn = metrics};
  return c;
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

/* ---- raw HTTP over a blocking socket --------------------------------- */

typedef struct {
  int fd;
  char buf[1 << 16];
  size_t len;
} raw;

static void raw_open(raw *r, int port) {
  r->len = 0;
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(r->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void raw_send(raw *r, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(r->fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

static void raw_sends(raw *r, const char *s) { raw_send(r, s, strlen(s)); }

static void raw_post(raw *r, const char *body) {
  char head[256];
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(body));
  raw_sends(r, head);
  raw_sends(r, body);
}

typedef struct {
  int status;
  int close; /* "Connection: close" */
  char body[1 << 16];
  size_t body_len;
  int done;
  char field[64];
} response;

static int rs_body(http_parser *p, const char *at, size_t n) {
  response *x = p->data;
  assert_true(x->body_len + n < sizeof x->body);
  memcpy(x->body + x->body_len, at, n);
  x->body_len += n;
  x->body[x->body_len] = 0;
  return 0;
}

static int rs_done(http_parser *p) {
  response *x = p->data;
  x->done = 1;
  x->status = p->status_code;
  x->close = !http_should_keep_alive(p);
  http_parser_pause(p, 1);
  return 0;
}

static int rs_headers(http_parser *p) {
  return p->status_code == 204 || p->status_code < 200 ? 1 : 0;
}

/* Read one response; bytes after it stay in r for the next call. Returns 0,
 * or -1 if the connection ended first. */
static int raw_response(raw *r, response *x) {
  memset(x, 0, sizeof *x);
  http_parser p;
  http_parser_settings st;
  http_parser_settings_init(&st);
  st.on_body = rs_body;
  st.on_message_complete = rs_done;
  st.on_headers_complete = rs_headers;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = x;
  for (;;) {
    if (r->len) {
      size_t used = http_parser_execute(&p, &st, r->buf, r->len);
      memmove(r->buf, r->buf + used, r->len - used);
      r->len -= used;
      if (x->done) return 0;
      assert_int_equal(HTTP_PARSER_ERRNO(&p), HPE_OK);
    }
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
    if (n <= 0) return -1;
    r->len += (size_t)n;
  }
}

/* 1 if the server closes the connection (EOF or reset) within 5 s. */
static int raw_closed(raw *r) {
  char b[4096];
  for (;;) {
    ssize_t n = recv(r->fd, b, sizeof b, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET;
  }
}

static void raw_close(raw *r) { close(r->fd); }

static json_t *body_json(const response *x) {
  json_error_t je;
  json_t *v = json_loadb(x->body, x->body_len, 0, &je);
  if (!v) fail_msg("response body is not JSON: %s (%s)", x->body, je.text);
  return v;
}

/* Assert x is one JSON-RPC error with code; return its message (static). */
static const char *error_of(const response *x, int code) {
  static char msg[512];
  json_t *v = body_json(x);
  json_t *e = json_object_get(v, "error");
  assert_non_null(e);
  assert_int_equal(json_integer_value(json_object_get(e, "code")), code);
  snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(e, "message")));
  json_decref(v);
  return msg;
}

/* ---- pure parsers ------------------------------------------------------ */

static void test_request_parse(void **st) {
  core_errbuf eb;
  json_t *v;
  const char *ok = "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1}";
  assert_int_equal(rpc_request_parse(ok, strlen(ok), 10, &v, &eb), 0);
  assert_true(json_is_object(v));
  assert_int_equal(rpc_request_validate(v, &eb), 0);
  json_decref(v);

  const char *bad = "{\"jsonrpc\":\"2.0\",\n \"method\": }";
  assert_int_equal(rpc_request_parse(bad, strlen(bad), 10, &v, &eb),
                   RPC_PARSE_ERROR);
  assert_null(v);
  assert_non_null(strstr(eb.msg, "line 2, column"));

  const char *dup = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}";
  assert_int_equal(rpc_request_parse(dup, strlen(dup), 10, &v, &eb),
                   RPC_PARSE_ERROR);
  assert_non_null(strstr(eb.msg, "duplicate"));

  assert_int_equal(rpc_request_parse("[]", 2, 10, &v, &eb), RPC_INVALID_REQUEST);
  assert_int_equal(rpc_request_parse("7", 1, 10, &v, &eb), RPC_INVALID_REQUEST);
  assert_non_null(strstr(eb.msg, "object or array"));
  assert_int_equal(rpc_request_parse("[1,2,3]", 7, 2, &v, &eb),
                   RPC_INVALID_REQUEST);
  assert_non_null(strstr(eb.msg, "limit is 2"));
  assert_int_equal(rpc_request_parse("", 0, 2, &v, &eb), RPC_PARSE_ERROR);
  /* Not NUL-terminated: only len bytes are read. */
  assert_int_equal(rpc_request_parse("[1]xxxx", 3, 2, &v, &eb), 0);
  json_decref(v);

  /* Depth: 64 levels pass, 65 do not; brackets in strings do not count. */
  char deep[200];
  memset(deep, '[', 64);
  memset(deep + 64, ']', 64);
  assert_int_equal(rpc_request_parse(deep, 128, 10, &v, &eb), 0);
  json_decref(v);
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  assert_int_equal(rpc_request_parse(deep, 130, 10, &v, &eb), RPC_PARSE_ERROR);
  assert_non_null(strstr(eb.msg, "deeper than 64"));
  const char *strs = "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                     "[[[[[[[[[[[[[[[[[[[[[[\\\"\"]";
  assert_int_equal(rpc_request_parse(strs, strlen(strs), 10, &v, &eb), 0);
  json_decref(v);
  size_t huge = 1 << 20;
  char *h = malloc(huge);
  memset(h, '[', huge);
  assert_int_equal(rpc_request_parse(h, huge, 10, &v, &eb), RPC_PARSE_ERROR);
  free(h);
}

/* jansson allocations fail from the fail_at-th one on. */
static long alloc_count, fail_at = -1;
static void *failing_malloc(size_t n) {
  if (fail_at >= 0 && alloc_count++ >= fail_at) return NULL;
  return malloc(n);
}

/* Every allocation failure during parsing is a clean error, never a crash
 * or a leak (ASan), and never a half-built result. */
static void test_parse_alloc_failure(void **st) {
  const char *txt =
      "[{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":[1,\"x\",{}]},"
      "\"id\":\"q\"},{\"jsonrpc\":\"2.0\",\"method\":\"n\"}]";
  json_set_alloc_funcs(failing_malloc, free);
  int ok = 0;
  for (fail_at = 0; fail_at < 200 && !ok; fail_at++) {
    alloc_count = 0;
    json_t *v = (json_t *)1;
    core_errbuf eb;
    int rc = rpc_request_parse(txt, strlen(txt), 10, &v, &eb);
    if (rc == 0) {
      ok = 1;
      json_decref(v);
    } else {
      assert_null(v);
      assert_int_equal(rc, RPC_PARSE_ERROR);
    }
    json_t *e = rpc_error_object(NULL, RPC_INTERNAL_ERROR, "x", json_true());
    json_decref(e);
  }
  fail_at = -1;
  json_set_alloc_funcs(malloc, free);
  assert_true(ok);
}

static void check_invalid(const char *txt, const char *want) {
  core_errbuf eb;
  json_error_t je;
  json_t *v = json_loads(txt, JSON_DECODE_ANY, &je);
  assert_non_null(v);
  assert_int_equal(rpc_request_validate(v, &eb), RPC_INVALID_REQUEST);
  if (!strstr(eb.msg, want)) fail_msg("\"%s\" lacks \"%s\"", eb.msg, want);
  json_decref(v);
}

static void test_request_validate(void **st) {
  check_invalid("1", "must be a JSON object");
  check_invalid("{\"method\":\"m\"}", "\"jsonrpc\" must be the string \"2.0\"");
  check_invalid("{\"jsonrpc\":2.0,\"method\":\"m\"}", "\"jsonrpc\"");
  check_invalid("{\"jsonrpc\":\"2.0\"}", "\"method\" must be a string, got nothing");
  check_invalid("{\"jsonrpc\":\"2.0\",\"method\":5}", "got an integer");
  check_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":3}",
                "\"params\" must be an array or object");
  check_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null}",
                "\"params\"");
  check_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":[1]}",
                "\"id\" must be a string, number or null");
  core_errbuf eb;
  json_t *v = json_loads(
      "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{},\"id\":null}", 0, NULL);
  assert_int_equal(rpc_request_validate(v, &eb), 0);
  json_decref(v);
}

static void test_http_feed(void **st) {
  const char *two =
      "POST /?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  size_t n = strlen(two), used;
  /* Whole: the first request stops exactly at its end. */
  rpc_http h;
  rpc_http_init(&h, 100);
  assert_int_equal(rpc_http_feed(&h, two, n, &used), RPC_HTTP_REQUEST);
  size_t first = strlen("POST /?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
  assert_int_equal(used, first);
  assert_int_equal(h.method, HTTP_POST);
  assert_int_equal(h.body_len, 3);
  assert_memory_equal(h.body, "abc", 3);
  assert_true(h.keep_alive);
  size_t pl;
  const char *p = rpc_http_path(&h, &pl);
  assert_int_equal(pl, 1);
  assert_int_equal(p[0], '/');
  rpc_http_next(&h);
  assert_int_equal(rpc_http_feed(&h, two + used, n - used, &used),
                   RPC_HTTP_REQUEST);
  assert_int_equal(h.method, HTTP_GET);
  assert_false(h.keep_alive);
  p = rpc_http_path(&h, &pl);
  assert_int_equal(pl, 7);
  assert_memory_equal(p, "/health", 7);
  rpc_http_free(&h);

  /* Byte by byte gives the same two requests. */
  rpc_http_init(&h, 100);
  int got = 0;
  for (size_t i = 0; i < n; i++) {
    int r = rpc_http_feed(&h, two + i, 1, &used);
    assert_int_equal(used, 1);
    if (r == RPC_HTTP_REQUEST) {
      got++;
      rpc_http_next(&h);
    } else {
      assert_int_equal(r, RPC_HTTP_MORE);
    }
  }
  assert_int_equal(got, 2);
  assert_int_equal(rpc_http_eof(&h), RPC_HTTP_MORE);
  rpc_http_free(&h);

  /* Content-Length over the limit fails at the headers, before any body. */
  rpc_http_init(&h, 100);
  const char *big = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  assert_int_equal(rpc_http_feed(&h, big, strlen(big), &used), RPC_HTTP_ERROR);
  assert_int_equal(h.status, 413);
  assert_non_null(strstr(h.err, "limit of 100 bytes"));
  assert_null(h.body);
  rpc_http_free(&h);

  /* Chunked bodies are counted as they stream. */
  rpc_http_init(&h, 10);
  const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
  assert_int_equal(rpc_http_feed(&h, ch, strlen(ch), &used), RPC_HTTP_ERROR);
  assert_int_equal(h.status, 413);
  rpc_http_free(&h);

  /* Garbage, a cut request, Expect: 100-continue, an over-long URL. */
  rpc_http_init(&h, 10);
  assert_int_equal(rpc_http_feed(&h, "\x01\x02 / HTTP/1.1\r\n", 15, &used),
                   RPC_HTTP_ERROR);
  assert_int_equal(h.status, 400);
  rpc_http_free(&h);
  rpc_http_init(&h, 10);
  assert_int_equal(rpc_http_feed(&h, "GET / HT", 8, &used), RPC_HTTP_MORE);
  assert_int_equal(rpc_http_eof(&h), RPC_HTTP_ERROR);
  rpc_http_free(&h);
  rpc_http_init(&h, 10);
  const char *ex = "POST / HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  assert_int_equal(rpc_http_feed(&h, ex, strlen(ex), &used), RPC_HTTP_MORE);
  assert_true(h.want_continue);
  assert_int_equal(rpc_http_feed(&h, "{}", 2, &used), RPC_HTTP_REQUEST);
  rpc_http_free(&h);
  rpc_http_init(&h, 10);
  char longurl[RPC_HTTP_MAX_URL + 40];
  memcpy(longurl, "GET /", 5);
  memset(longurl + 5, 'a', RPC_HTTP_MAX_URL);
  memcpy(longurl + 5 + RPC_HTTP_MAX_URL, " HTTP/1.1\r\n\r\n", 14);
  assert_int_equal(rpc_http_feed(&h, longurl, 19 + RPC_HTTP_MAX_URL, &used),
                   RPC_HTTP_ERROR);
  assert_int_equal(h.status, 414);
  rpc_http_free(&h);
  /* Absolute-form targets route by their path. */
  rpc_http_init(&h, 10);
  const char *abs = "GET http://a:1/metrics?x HTTP/1.1\r\n\r\n";
  assert_int_equal(rpc_http_feed(&h, abs, strlen(abs), &used), RPC_HTTP_REQUEST);
  p = rpc_http_path(&h, &pl);
  assert_int_equal(pl, 8);
  assert_memory_equal(p, "/metrics", 8);
  rpc_http_free(&h);
}

/* ---- the server ---------------------------------------------------------- */

static void test_call_and_errors(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  start(&h, &cfg);
  core_errbuf eb;
  json_t *res, *data;

  json_t *params = json_pack("[i, s]", 1, "a");
  assert_int_equal(rpc_client_call(h.url, "echo", params, 5000, &res, &data, &eb), 0);
  assert_true(json_equal(res, params));
  assert_null(data);
  json_decref(res);
  json_decref(params);

  params = json_pack("[i, i]", 2, 40);
  assert_int_equal(rpc_client_call(h.url, "add", params, 5000, &res, NULL, &eb), 0);
  assert_int_equal(json_integer_value(res), 42);
  json_decref(res);
  json_decref(params);

  /* No params at all: the handler sees NULL. */
  assert_int_equal(rpc_client_call(h.url, "echo", NULL, 5000, &res, NULL, &eb), 0);
  assert_true(json_is_null(res));
  json_decref(res);

  /* Error with data. */
  assert_int_equal(rpc_client_call(h.url, "fail", NULL, 5000, &res, &data, &eb),
                   RPC_NOT_FOUND);
  assert_null(res);
  assert_string_equal(eb.msg, "block 7 not found");
  assert_int_equal(json_integer_value(json_object_get(data, "height")), 7);
  json_decref(data);

  /* Unknown method, named in the message. */
  assert_int_equal(rpc_client_call(h.url, "nope", NULL, 5000, &res, &data, &eb),
                   RPC_METHOD_NOT_FOUND);
  assert_non_null(strstr(eb.msg, "\"nope\""));
  assert_null(data);

  /* Wrong params shape: the handler's own message. */
  params = json_pack("{s:i}", "a", 1);
  assert_int_equal(rpc_client_call(h.url, "add", params, 5000, &res, NULL, &eb),
                   RPC_INVALID_PARAMS);
  assert_non_null(strstr(eb.msg, "params must be [a, b]"));
  json_decref(params);

  /* Client-side failures name the URL. */
  assert_int_equal(rpc_client_call("ftp://x", "echo", NULL, 100, &res, NULL, &eb),
                   COHORT_ERR_INVALID);
  assert_int_equal(rpc_client_call("http://127.0.0.1:1", "echo", NULL, 2000, &res,
                                   NULL, &eb),
                   COHORT_ERR_IO);
  assert_non_null(strstr(eb.msg, "http://127.0.0.1:1"));
  char wrong[96];
  snprintf(wrong, sizeof wrong, "%s/nowhere", h.url);
  assert_int_equal(rpc_client_call(wrong, "echo", NULL, 2000, &res, NULL, &eb),
                   RPC_INVALID_REQUEST);
  assert_non_null(strstr(eb.msg, "no such path"));
  stop(&h);
}

static void test_batch_and_notifications(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  start(&h, &cfg);
  raw r;
  response x;
  raw_open(&r, h.port);
  atomic_store(&n_notified, 0);

  raw_post(&r,
           "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1},"
           " {\"jsonrpc\":\"2.0\",\"method\":\"count\"},"
           " {\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":\"three\"},"
           " 7,"
           " {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":5,\"id\":5}]");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  json_t *v = body_json(&x);
  assert_int_equal(json_array_size(v), 4); /* the notification has none */
  json_t *e0 = json_array_get(v, 0), *e1 = json_array_get(v, 1),
         *e2 = json_array_get(v, 2), *e3 = json_array_get(v, 3);
  assert_int_equal(json_integer_value(json_object_get(e0, "id")), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(e0, "result"), 0)), 1);
  assert_string_equal(json_string_value(json_object_get(e1, "id")), "three");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(e1, "error"), "code")),
                   RPC_METHOD_NOT_FOUND);
  assert_true(json_is_null(json_object_get(e2, "id")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(e2, "error"), "code")),
                   RPC_INVALID_REQUEST);
  /* An invalid request keeps its id when the id itself is usable. */
  assert_int_equal(json_integer_value(json_object_get(e3, "id")), 5);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(e3, "error"), "code")),
                   RPC_INVALID_REQUEST);
  json_decref(v);
  assert_int_equal(atomic_load(&n_notified), 1);

  /* A batch of notifications only: 204, no body; same connection. */
  raw_post(&r, "[{\"jsonrpc\":\"2.0\",\"method\":\"count\"},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}]");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 204);
  assert_int_equal(x.body_len, 0);
  /* A single notification: 204 too. */
  raw_post(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"params\":[]}");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 204);
  assert_int_equal(atomic_load(&n_notified), 3);

  /* Malformed JSON: 400, parse error with jansson's position. */
  raw_post(&r, "{\"jsonrpc\":\"2.0\", \"method\":\"echo\",, }");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 400);
  assert_non_null(strstr(error_of(&x, RPC_PARSE_ERROR), "line 1, column"));
  /* Invalid request shape (single): 400, says what is wrong. */
  raw_post(&r, "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 400);
  assert_non_null(strstr(error_of(&x, RPC_INVALID_REQUEST), "\"jsonrpc\""));
  /* Empty batch. */
  raw_post(&r, "[]");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_non_null(strstr(error_of(&x, RPC_INVALID_REQUEST), "empty batch"));
  /* Deep nesting is refused before jansson sees it. */
  char *deep = malloc(200001);
  memset(deep, '[', 100000);
  memset(deep + 100000, ']', 100000);
  deep[200000] = 0;
  raw_post(&r, deep);
  free(deep);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 400);
  assert_non_null(strstr(error_of(&x, RPC_PARSE_ERROR), "deeper than 64"));
  /* Still the same connection, still answering. */
  raw_post(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"k\":[[[1]]]},\"id\":9}");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  assert_false(x.close);
  raw_close(&r);
  stop(&h);
}

static void test_limits(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  cfg.max_body_bytes = 1024;
  cfg.max_batch = 4;
  cfg.idle_timeout_ms = 1000;
  start(&h, &cfg);
  raw r;
  response x;

  /* Oversize by Content-Length: 413 at once, then the connection closes
   * (after we, the client, have sent the body anyway). */
  raw_open(&r, h.port);
  char *body = malloc(4097);
  memset(body, ' ', 4096);
  body[0] = '[';
  body[4095] = ']';
  body[4096] = 0;
  raw_post(&r, body);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 413);
  assert_true(x.close);
  assert_non_null(strstr(error_of(&x, RPC_INVALID_REQUEST), "limit of 1024 bytes"));
  assert_true(raw_closed(&r));
  raw_close(&r);

  /* A client that neither sends its body nor closes after the 413: the
   * server shuts its side at once and lets go after a bounded linger. */
  raw_open(&r, h.port);
  raw_sends(&r, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 413);
  assert_true(raw_closed(&r)); /* the server's FIN */
  char junk[3000];
  memset(junk, 'j', sizeof junk);
  raw_send(&r, junk, sizeof junk); /* read and discarded while lingering */
  sleep_ms(1300);
  {
    raw m;
    raw_open(&m, h.port);
    raw_sends(&m, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_int_equal(raw_response(&m, &x), 0);
    assert_non_null(strstr(x.body, "\ncohort_rpc_connections 1\n"));
    raw_close(&m);
  }
  raw_close(&r);

  /* Oversize while streaming (chunked, no length announced). */
  raw_open(&r, h.port);
  raw_sends(&r, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; i++) {
    raw_sends(&r, "200\r\n");
    raw_send(&r, body, 512);
    raw_sends(&r, "\r\n");
  }
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 413);
  assert_true(raw_closed(&r));
  raw_close(&r);
  free(body);

  /* Too many batch entries. */
  raw_open(&r, h.port);
  const char *one = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}";
  char batch[512];
  snprintf(batch, sizeof batch, "[%s,%s,%s,%s,%s]", one, one, one, one, one);
  raw_post(&r, batch);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 400);
  assert_non_null(strstr(error_of(&x, RPC_INVALID_REQUEST), "limit is 4"));
  snprintf(batch, sizeof batch, "[%s,%s,%s,%s]", one, one, one, one);
  raw_post(&r, batch);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  raw_close(&r);

  /* Routes and methods. */
  raw_open(&r, h.port);
  raw_sends(&r, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 404);
  raw_sends(&r, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 405);
  assert_non_null(strstr(error_of(&x, RPC_INVALID_REQUEST), "POST"));
  raw_sends(&r, "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 405);
  raw_sends(&r, "DELETE /metrics HTTP/1.1\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 405);
  /* A long unknown method name is cut on a character boundary. */
  char post[512] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"";
  for (int i = 0; i < 45; i++) strcat(post, "\xc3\xa9");
  strcat(post, "\"}");
  raw_post(&r, post);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_non_null(strstr(error_of(&x, RPC_METHOD_NOT_FOUND), "\xc3\xa9...\" not found"));
  /* Malformed HTTP: 400 and close. */
  raw_sends(&r, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 400);
  assert_true(raw_closed(&r));
  raw_close(&r);
  stop(&h);
}

static void test_health_metrics_keepalive(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  start(&h, &cfg);
  raw r;
  response x;
  raw_open(&r, h.port);
  raw_sends(&r, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  assert_string_equal(x.body, "ok");
  raw_sends(&r, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  assert_memory_equal(x.body, "cohort_up 1\n", 12);
  assert_non_null(strstr(x.body, "\ncohort_rpc_connections 1\n"));
  assert_non_null(strstr(x.body, "cohort_rpc_responses_total{class=\"2xx\"} 1\n"));

  /* Two requests in one segment (pipelined), answered in order. */
  const char *a = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"A\"],\"id\":1}";
  const char *b = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"B\"],\"id\":2}";
  char two[1024];
  snprintf(two, sizeof two,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s"
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
           strlen(a), a, strlen(b), b);
  raw_sends(&r, two);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_non_null(strstr(x.body, "\"A\""));
  assert_false(x.close);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_non_null(strstr(x.body, "\"B\""));

  /* Over 16 KiB pipelined behind a slow call: the server stops reading
   * until it has answered, then serves the rest in order. */
  {
    static const char hl[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *slow = "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"params\":[150],\"id\":1}";
    int nh = 1000;
    size_t cap = 256 + strlen(slow) + (size_t)nh * (sizeof hl - 1);
    char *big = malloc(cap);
    int o = snprintf(big, cap, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(slow), slow);
    for (int i = 0; i < nh; i++) {
      memcpy(big + o, hl, sizeof hl - 1);
      o += (int)sizeof hl - 1;
    }
    raw_send(&r, big, (size_t)o);
    free(big);
    assert_int_equal(raw_response(&r, &x), 0);
    assert_non_null(strstr(x.body, "\"late\""));
    for (int i = 0; i < nh; i++) {
      assert_int_equal(raw_response(&r, &x), 0);
      assert_string_equal(x.body, "ok");
    }
  }

  /* Expect: 100-continue gets an interim 100, then the answer. */
  char head[256];
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(a));
  raw_sends(&r, head);
  char got[64] = {0};
  ssize_t n = recv(r.fd, got, 25, MSG_WAITALL);
  assert_int_equal(n, 25);
  assert_string_equal(got, "HTTP/1.1 100 Continue\r\n\r\n");
  raw_sends(&r, a);
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);

  /* "Connection: close" is honoured. */
  raw_sends(&r, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_true(x.close);
  assert_true(raw_closed(&r));
  raw_close(&r);

  /* HTTP/1.0 without keep-alive closes after one answer. */
  raw_open(&r, h.port);
  raw_sends(&r, "GET /health HTTP/1.0\r\n\r\n");
  assert_int_equal(raw_response(&r, &x), 0);
  assert_int_equal(x.status, 200);
  assert_true(raw_closed(&r));
  raw_close(&r);
  stop(&h);
}

static void test_idle_timeout(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  cfg.idle_timeout_ms = 300;
  start(&h, &cfg);
  raw slow, idle;
  response x;
  raw_open(&slow, h.port);
  raw_open(&idle, h.port);
  uint64_t t0 = mono_ms();
  /* A slowloris: headers trickle in, the body never arrives. */
  raw_sends(&slow, "POST / HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 3; i++) {
    sleep_ms(50);
    raw_sends(&slow, "X-A: b\r\n");
  }
  /* Meanwhile another client is served. */
  json_t *res;
  core_errbuf eb;
  assert_int_equal(rpc_client_call(h.url, "echo", NULL, 2000, &res, NULL, &eb), 0);
  json_decref(res);
  /* The slow one gets 408 and is closed; the idle one is just closed. */
  assert_int_equal(raw_response(&slow, &x), 0);
  assert_int_equal(x.status, 408);
  assert_non_null(strstr(error_of(&x, RPC_TIMEOUT), "300 ms"));
  assert_true(raw_closed(&slow));
  assert_true(raw_closed(&idle));
  uint64_t took = mono_ms() - t0;
  assert_true(took >= 250 && took < 3000);
  raw_close(&slow);
  raw_close(&idle);
  /* And the server still answers. */
  assert_int_equal(rpc_client_call(h.url, "echo", NULL, 2000, &res, NULL, &eb), 0);
  json_decref(res);
  stop(&h);
}

static void test_max_conns(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  cfg.max_conns = 2;
  start(&h, &cfg);
  raw a, b, c;
  response x;
  /* Two clients in the middle of a request fill the table: a third is
   * refused with a reason (they are not idle, so none can be evicted). */
  raw_open(&a, h.port);
  raw_open(&b, h.port);
  raw_sends(&a, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{");
  raw_sends(&b, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{");
  sleep_ms(50);
  raw_open(&c, h.port);
  assert_int_equal(raw_response(&c, &x), 0);
  assert_int_equal(x.status, 503);
  assert_non_null(strstr(error_of(&x, RPC_UNAVAILABLE), "limit 2"));
  assert_true(raw_closed(&c));
  raw_close(&c);
  /* Once one leaves, a newcomer is served. */
  raw_close(&a);
  json_t *res = NULL;
  core_errbuf eb;
  int rc = -1;
  for (int i = 0; i < 50 && rc != 0; i++) {
    rc = rpc_client_call(h.url, "echo", NULL, 2000, &res, NULL, &eb);
    if (rc) sleep_ms(20);
  }
  assert_int_equal(rc, 0);
  json_decref(res);
  raw_close(&b);
  stop(&h);
}

static void wait_late(int want) {
  for (int i = 0; i < 300 && atomic_load(&n_late) < want; i++) sleep_ms(10);
  assert_int_equal(atomic_load(&n_late), want);
}

static void test_async_replies(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  start(&h, &cfg);
  atomic_store(&n_late, 0);
  json_t *res, *params = json_pack("[i]", 50);
  core_errbuf eb;
  /* Answered later while the client waits. */
  assert_int_equal(rpc_client_call(h.url, "later", params, 5000, &res, NULL, &eb), 0);
  assert_string_equal(json_string_value(res), "late");
  assert_int_equal(atomic_load(&late_alive), 1);
  json_decref(res);
  json_decref(params);
  wait_late(1);

  /* The client disconnects first: the answer is dropped, nothing breaks. */
  raw r;
  raw_open(&r, h.port);
  raw_post(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"params\":[300],\"id\":1}");
  sleep_ms(50);
  raw_close(&r);
  wait_late(2);
  assert_int_equal(atomic_load(&late_alive), 0);

  /* A client-side timeout is a disconnect too. */
  params = json_pack("[i]", 400);
  assert_int_equal(rpc_client_call(h.url, "later", params, 100, &res, NULL, &eb),
                   COHORT_ERR_TIMEOUT);
  json_decref(params);
  wait_late(3);

  /* A batch is answered when its last call is, in request order. */
  raw_open(&r, h.port);
  raw_post(&r, "[{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"params\":[120],\"id\":1},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[2],\"id\":2},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"params\":[30],\"id\":3}]");
  response x;
  assert_int_equal(raw_response(&r, &x), 0);
  json_t *v = body_json(&x);
  assert_int_equal(json_array_size(v), 3);
  for (int i = 0; i < 3; i++)
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, i), "id")),
                     i + 1);
  json_decref(v);
  raw_close(&r);
  wait_late(5);

  /* The server closes with a call pending: the late answer is dropped. */
  raw_open(&r, h.port);
  raw_post(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"params\":[200],\"id\":1}");
  sleep_ms(50);
  stop(&h); /* returns once the loop is empty, i.e. after the answer */
  assert_int_equal(atomic_load(&n_late), 6);
  assert_int_equal(atomic_load(&late_alive), 0);
  assert_true(raw_closed(&r));
  raw_close(&r);
}

/* A client that pipelines requests and never reads is held to one unread
 * response and dropped at the write deadline; others are served meanwhile. */
static void test_write_backpressure(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  cfg.idle_timeout_ms = 400;
  start(&h, &cfg);
  raw r;
  raw_open(&r, h.port);
  int sz = 4096;
  setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  /* One request whose answer is ~600 KB, repeated. */
  size_t plen = 600000;
  static const char pre[] = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,\"params\":[\"";
  char *req = malloc(plen + 256);
  int hl = snprintf(req, 256, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                    sizeof pre - 1 + plen + 3);
  char *p = req + hl;
  p += sprintf(p, "%s", pre);
  memset(p, 'x', plen);
  p += plen;
  p += sprintf(p, "\"]}");
  size_t total = (size_t)(p - req);
  struct timeval tv = {0, 200000};
  setsockopt(r.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  uint64_t t0 = mono_ms();
  int dropped = 0;
  size_t sent_total = 0;
  while (mono_ms() - t0 < 5000 && !dropped) {
    ssize_t w = send(r.fd, req, total, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) dropped = 1;
    if (w > 0) sent_total += (size_t)w;
    json_t *res;
    core_errbuf eb;
    assert_int_equal(rpc_client_call(h.url, "echo", NULL, 2000, &res, NULL, &eb), 0);
    json_decref(res);
  }
  assert_true(dropped);
  /* The server never read more than a few requests' worth. */
  assert_true(sent_total < 40 * total);
  raw_close(&r);
  /* A client that half-closes right after its request still gets the whole
   * (large, slowly read) answer, then the connection ends. */
  raw_open(&r, h.port);
  raw_send(&r, req, total);
  shutdown(r.fd, SHUT_WR);
  sleep_ms(100);
  {
    /* The answer is ~600 KB: read it raw and check its length. */
    size_t got = 0;
    char b[65536];
    ssize_t n;
    while ((n = recv(r.fd, b, sizeof b, 0)) > 0) got += (size_t)n;
    assert_int_equal(n, 0);
    assert_true(got > plen);
  }
  free(req);
  raw_close(&r);

  /* It was the write deadline that dropped it, not a parse error. */
  raw m;
  response x;
  raw_open(&m, h.port);
  raw_sends(&m, "GET /metrics HTTP/1.1\r\n\r\n");
  assert_int_equal(raw_response(&m, &x), 0);
  assert_non_null(strstr(x.body, "cohort_rpc_connections_dropped_total 1\n"));
  assert_non_null(strstr(x.body, "cohort_rpc_responses_total{class=\"4xx\"} 0\n"));
  raw_close(&m);
  stop(&h);
}

/* Send bytes, half-close, and read until the server closes: every input
 * must end in a closed connection, never a hang. */
static void throw_at(int port, const char *b, size_t n) {
  raw r;
  raw_open(&r, port);
  (void)send(r.fd, b, n, MSG_NOSIGNAL);
  shutdown(r.fd, SHUT_WR);
  char buf[4096];
  for (;;) {
    ssize_t got = recv(r.fd, buf, sizeof buf, 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET)) break;
    if (got < 0) fail_msg("server neither answered nor closed: %s", strerror(errno));
  }
  raw_close(&r);
}

/* The fuzz corpus and random mutations of requests, against the real server:
 * it keeps serving, and every connection ends. */
static void test_garbage(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  cfg.max_body_bytes = 4096;
  start(&h, &cfg);
  /* From the source root (ctest's working directory) or beside this file. */
  char dir[512] = "tests/fuzz/corpus/fuzz_http_request";
  DIR *d = opendir(dir);
  const char *me = strstr(__FILE__, "tests/unit/rpc/test_rpc.c");
  if (!d && me) {
    snprintf(dir, sizeof dir, "%.*stests/fuzz/corpus/fuzz_http_request",
             (int)(me - __FILE__), __FILE__);
    d = opendir(dir);
  }
  int files = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n > 1) throw_at(h.port, buf + 1, n - 1); /* byte 0 is the read size */
    files++;
  }
  if (d) closedir(d);
  assert_true(files > 0);
  const char *base =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}";
  size_t bl = strlen(base);
  unsigned seed = 12345;
  for (int i = 0; i < 200; i++) {
    char buf[256];
    memcpy(buf, base, bl);
    for (int k = 0; k < 1 + i % 4; k++) {
      seed = seed * 1103515245u + 12345u;
      buf[(seed >> 8) % bl] = (char)(seed >> 20);
    }
    throw_at(h.port, buf, bl);
  }
  json_t *res;
  core_errbuf eb;
  assert_int_equal(rpc_client_call(h.url, "echo", NULL, 2000, &res, NULL, &eb), 0);
  json_decref(res);
  stop(&h);
}

/* ---- the client against canned servers ---------------------------------- */

typedef struct {
  int lfd, port;
  const char *reply; /* sent after the request has been read; NULL: none */
  size_t reply_len;
  pthread_t th;
} fake;

static void *fake_main(void *arg) {
  fake *f = arg;
  int fd = accept(f->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char buf[8192];
  size_t len = 0;
  for (;;) { /* read the headers and the Content-Length body */
    ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0) break;
    len += (size_t)n;
    buf[len] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    char *cl = strstr(buf, "Content-Length: ");
    if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
      break;
  }
  if (f->reply) {
    (void)send(fd, f->reply, f->reply_len, MSG_NOSIGNAL);
    close(fd);
  } else {
    while (recv(fd, buf, sizeof buf, 0) > 0) { /* wait for the client to go */
    }
    close(fd);
  }
  return NULL;
}

static void fake_start(fake *f, const char *reply) {
  f->reply = reply;
  f->reply_len = reply ? strlen(reply) : 0;
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(f->lfd, 4), 0);
  socklen_t sl = sizeof a;
  getsockname(f->lfd, (struct sockaddr *)&a, &sl);
  f->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static int fake_call(const char *reply, uint64_t timeout_ms, json_t **res,
                     core_errbuf *eb) {
  fake f;
  fake_start(&f, reply);
  char url[64];
  snprintf(url, sizeof url, "http://localhost:%d/", f.port);
  int rc = rpc_client_call(url, "m", NULL, timeout_ms, res, NULL, eb);
  pthread_join(f.th, NULL);
  close(f.lfd);
  return rc;
}

static void test_client_responses(void **st) {
  json_t *res;
  core_errbuf eb;
  /* Interim 100, then a chunked body. */
  assert_int_equal(
      fake_call("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
                "a\r\n{\"jsonrpc\"\r\n16\r\n:\"2.0\",\"id\":1,\"result\"\r\n"
                "4\r\n:[7]\r\n1\r\n}\r\n0\r\n\r\n",
                2000, &res, &eb),
      0);
  assert_int_equal(json_integer_value(json_array_get(res, 0)), 7);
  json_decref(res);
  /* A body that runs until close. */
  assert_int_equal(fake_call("HTTP/1.0 200 OK\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,"
                             "\"result\":true}",
                             2000, &res, &eb),
                   0);
  assert_true(json_is_true(res));
  json_decref(res);
  /* Over 64 MiB announced: refused without reading it. */
  assert_int_equal(fake_call("HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n{",
                             2000, &res, &eb),
                   COHORT_ERR_TOO_LARGE);
  assert_null(res);
  /* Not JSON; not HTTP; cut short; no result; an HTTP error without JSON. */
  assert_int_equal(fake_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                             2000, &res, &eb),
                   COHORT_ERR_DECODE);
  assert_non_null(strstr(eb.msg, "line 1"));
  assert_int_equal(fake_call("SSH-2.0-OpenSSH\r\n", 2000, &res, &eb),
                   COHORT_ERR_DECODE);
  assert_int_equal(fake_call("HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{", 2000,
                             &res, &eb),
                   COHORT_ERR_IO);
  assert_int_equal(fake_call("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 2000,
                             &res, &eb),
                   COHORT_ERR_DECODE);
  assert_int_equal(fake_call("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\nnope",
                             2000, &res, &eb),
                   COHORT_ERR_IO);
  assert_non_null(strstr(eb.msg, "HTTP 502"));
  /* No answer at all: the deadline holds. */
  uint64_t t0 = mono_ms();
  assert_int_equal(fake_call(NULL, 200, &res, &eb), COHORT_ERR_TIMEOUT);
  assert_true(mono_ms() - t0 < 2000);
  assert_non_null(strstr(eb.msg, "http://localhost:"));
}

static void *client_main(void *arg) {
  const char *url = arg;
  long ok = 0;
  for (int i = 0; i < 50; i++) {
    json_t *res, *params = json_pack("[i, i]", i, 1000);
    core_errbuf eb;
    if (rpc_client_call(url, i % 5 ? "add" : "later", i % 5 ? params : NULL,
                        5000, &res, NULL, &eb) == 0)
      ok++;
    else if (i % 5 == 0)
      ok++; /* "later" without params answers after 0 ms: also fine */
    json_decref(res);
    json_decref(params);
  }
  return (void *)ok;
}

/* Many clients at once, some answered on a timer: all served. */
static void test_many_clients(void **st) {
  harness h;
  rpc_config cfg = default_cfg();
  start(&h, &cfg);
  pthread_t th[8];
  for (int i = 0; i < 8; i++)
    assert_int_equal(pthread_create(&th[i], NULL, client_main, h.url), 0);
  for (int i = 0; i < 8; i++) {
    void *ok;
    pthread_join(th[i], &ok);
    assert_int_equal((long)ok, 50);
  }
  stop(&h);
}

static void test_ipv6(void **st) {
  harness h;
  rpc_config cfg = {.listen = "tcp://[::1]:0"};
  if (start_at(&h, &cfg, 1) != 0) skip(); /* no IPv6 loopback here */
  json_t *res, *params = json_pack("[s]", "six");
  core_errbuf eb;
  assert_int_equal(rpc_client_call(h.url, "echo", params, 2000, &res, NULL, &eb), 0);
  assert_true(json_equal(res, params));
  json_decref(res);
  json_decref(params);
  stop(&h);
}

static void test_bad_config(void **st) {
  rpc_server *s;
  core_errbuf eb;
  rpc_config cfg = {.listen = "127.0.0.1"};
  assert_int_equal(rpc_server_new(&s, NULL, &cfg, methods, 1, NULL, &eb),
                   COHORT_ERR_CONFIG);
  assert_null(s);
  assert_non_null(strstr(eb.msg, "HOST:PORT"));
  cfg.listen = "127.0.0.1:99999";
  assert_int_equal(rpc_server_new(&s, NULL, &cfg, methods, 1, NULL, &eb),
                   COHORT_ERR_CONFIG);
  /* A bad topic name. */
  static const char *const bad[] = {"Bad Topic", NULL};
  cfg.listen = "127.0.0.1:0";
  cfg.topics = bad;
  assert_int_equal(rpc_server_new(&s, NULL, &cfg, methods, 1, NULL, &eb),
                   COHORT_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "Bad Topic"));
  cfg.topics = NULL;
  /* Port taken: reported at once, naming the address. */
  assert_int_equal(rpc_server_new(&s, NULL, &cfg, methods, 1, NULL, &eb), 0);
  char taken[64];
  snprintf(taken, sizeof taken, "127.0.0.1:%d", rpc_server_port(s));
  rpc_server *s2;
  cfg.listen = taken;
  assert_int_equal(rpc_server_new(&s2, NULL, &cfg, methods, 1, NULL, &eb),
                   COHORT_ERR_IO);
  assert_non_null(strstr(eb.msg, taken));
  rpc_server_close(s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  core_log_set_level(getenv("RPC_TEST_DEBUG") ? LOG_DEBUG : LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_parse),
      cmocka_unit_test(test_request_validate),
      cmocka_unit_test(test_parse_alloc_failure),
      cmocka_unit_test(test_http_feed),
      cmocka_unit_test(test_call_and_errors),
      cmocka_unit_test(test_batch_and_notifications),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_health_metrics_keepalive),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_max_conns),
      cmocka_unit_test(test_async_replies),
      cmocka_unit_test(test_write_backpressure),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_client_responses),
      cmocka_unit_test(test_many_clients),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_bad_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
