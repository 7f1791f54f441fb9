/* tests/fuzz/fuzz_rpc_server.c — libFuzzer target for the whole server: one
 * rpc_server on 127.0.0.1 (ephemeral port) lives for the fuzzing session;
 * each input is sent on a fresh loopback connection, the client half-closes,
 * and this thread waits (the server runs on its own thread) until the server
 * has closed and freed that connection and every call it dispatched has been
 * answered. This
 * reaches what fuzz_http_request cannot: routing, dispatch, batches,
 * notifications, async answers (some arrive after the client has gone),
 * response building and the connection state machine. A server that never
 * closes the connection shows up as a libFuzzer timeout; a leaked connection
 * or call as an ASan leak. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define CHECK(x)                                                       \
  do {                                                                 \
    if (!(x)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #x);                                                     \
      abort();                                                         \
    }                                                                  \
  } while (0)

static rpc_server *srv;
static int port;
static atomic_int timers; /* "later" answers still due */

static void h_echo(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_reply(call, params ? json_incref(params) : NULL);
}

static void h_fail(void *ctx, rpc_call *call, json_t *params) {
  rpc_call_error(call, RPC_INVALID_PARAMS, "params are wrong",
                 params ? json_incref(params) : NULL);
}

static void on_later(uv_timer_t *t) {
  rpc_call *call = t->data;
  if (rpc_call_client_alive(call))
    rpc_call_reply(call, json_string("late"));
  else
    rpc_call_error(call, RPC_TIMEOUT, "gone", NULL);
  atomic_fetch_sub(&timers, 1);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* Answers on a timer of 0..3 ms, taken from params[0]. */
static void h_later(void *ctx, rpc_call *call, json_t *params) {
  uv_timer_t *t = malloc(sizeof *t);
  CHECK(t);
  uv_timer_init(rpc_call_loop(call), t);
  t->data = call;
  atomic_fetch_add(&timers, 1);
  uv_timer_start(t, on_later,
                 (uint64_t)(json_integer_value(json_array_get(params, 0)) & 3),
                 0);
}

static char *metrics(void *ctx) { return strdup("up 1\n"); }

static const rpc_method methods[] = {
    {"echo", h_echo, 1}, {"fail", h_fail, 1}, {"later", h_later, 1}};

static void setup(void) {
  signal(SIGPIPE, SIG_IGN);
  core_log_set_level(LOG_OFF);
  rpc_config cfg = {.listen = "127.0.0.1:0",
                    .max_body_bytes = 2048,
                    .max_batch = 8,
                    .max_conns = 4,
                    .idle_timeout_ms = 2000,
                    .metrics_fn = metrics};
  core_errbuf eb;
  CHECK(rpc_server_new(&srv, NULL, &cfg, methods, 3, NULL, &eb) == 0);
  port = rpc_server_port(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv) setup();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  CHECK(rc == 0 || errno == EINPROGRESS);
  size_t off = 0;
  int wr_open = 1, rd_open = 1;
  char buf[65536];
  /* Drive both ends until the server has let go of the connection. */
  for (;;) {
    if (wr_open) {
      if (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w > 0) off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINPROGRESS &&
                 errno != ENOTCONN)
          wr_open = 0; /* the server closed on us */
      }
      if (wr_open && off == size) {
        if (shutdown(fd, SHUT_WR) == 0) wr_open = 0;
      }
    }
    if (rd_open) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOTCONN))
        rd_open = 0;
    }
    if (!rd_open && rpc_server_conn_count(srv) == 0 && atomic_load(&timers) == 0)
      break;
    if (!rd_open && fd >= 0) {
      close(fd);
      fd = -1;
      wr_open = 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, fd >= 0 ? 1 : 0, 1);
  }
  if (fd >= 0) close(fd);
  return 0;
}
