/* tests/fuzz/fuzz_http_request.c — libFuzzer target for the server's
 * per-connection HTTP reader (rpc_http, rpc/rpc_int.h), driven the way
 * rpc_server.c drives it but without sockets: the input is cut into reads
 * of a size taken from its first byte, each read is fed until consumed,
 * every whole request is routed like the server would (POST bodies go
 * through rpc_request_parse and rpc_request_validate), and the stream ends
 * with rpc_http_eof. Checks the reader's contract: it never claims more
 * bytes than given, consumes everything when it asks for more, keeps bodies
 * within the limit, stops for good after an error with a 4xx/5xx status and
 * a message, and never loops without progress. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

/* Not assert(): fuzz builds define NDEBUG. */
#define CHECK(x)                                                       \
  do {                                                                 \
    if (!(x)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #x);                                                     \
      abort();                                                         \
    }                                                                  \
  } while (0)

#define MAX_BODY 4096

static void handle(const rpc_http *h) {
  size_t plen;
  const char *path = rpc_http_path(h, &plen);
  CHECK(plen <= RPC_HTTP_MAX_URL);
  CHECK(path);
  if (h->method != HTTP_POST || plen != 1 || path[0] != '/') return;
  CHECK(h->body_len <= MAX_BODY);
  CHECK(h->body_len == 0 || h->body);
  json_t *v;
  core_errbuf eb;
  if (rpc_request_parse(h->body ? h->body : "", h->body_len, 16, &v, &eb) != 0)
    return;
  if (json_is_array(v))
    for (size_t i = 0; i < json_array_size(v); i++)
      (void)rpc_request_validate(json_array_get(v, i), &eb);
  else
    (void)rpc_request_validate(v, &eb);
  json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t step = data[0] ? data[0] : size; /* 0: one read of everything */
  data++;
  size--;
  rpc_http h;
  rpc_http_init(&h, MAX_BODY);
  int failed = 0, closed = 0;
  size_t off = 0;
  while (off < size && !failed && !closed) {
    size_t n = size - off < step ? size - off : step;
    /* Copy each read into its own allocation so ASan catches over-reads
     * past this read, not just past the whole input. */
    char *rd = malloc(n);
    CHECK(rd);
    memcpy(rd, data + off, n);
    size_t pos = 0;
    for (int spins = 0; pos < n || h.state == RPC_HTTP_DONE; spins++) {
      CHECK(spins < 1000000);
      size_t used = 99999999;
      int r = rpc_http_feed(&h, rd + pos, n - pos, &used);
      CHECK(used <= n - pos);
      pos += used;
      if (r == RPC_HTTP_MORE) {
        CHECK(pos == n);
        break;
      }
      if (r == RPC_HTTP_ERROR) {
        CHECK(h.state == RPC_HTTP_FAILED);
        CHECK(h.status >= 400 && h.status < 600);
        CHECK(h.err[0]);
        size_t u2 = 1;
        CHECK(rpc_http_feed(&h, rd, n, &u2) == RPC_HTTP_ERROR && u2 == 0);
        failed = 1;
        break;
      }
      CHECK(r == RPC_HTTP_REQUEST && h.state == RPC_HTTP_DONE);
      handle(&h);
      if (!h.keep_alive) {
        closed = 1; /* the server answers and closes */
        break;
      }
      rpc_http_next(&h);
    }
    free(rd);
    off += n;
  }
  if (!failed && !closed) {
    int r = rpc_http_eof(&h);
    CHECK(r == RPC_HTTP_MORE || (r == RPC_HTTP_ERROR && h.status == 400));
  }
  rpc_http_free(&h);
  return 0;
}
