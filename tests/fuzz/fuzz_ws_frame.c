/* tests/fuzz/fuzz_ws_frame.c — libFuzzer target for the WebSocket codec
 * (rpc/rpc_ws_frame.c): rpc_ws_frame_parse on the raw input, and the
 * message reader (rpc_ws_reader) driven the way the server and the client
 * drive it. Input: byte 0 picks the side (bit 0: frames from a client, so
 * masked) and the read size (bits 1-4: 1..15 bytes per read, 0 = all that
 * is left); byte 1 picks the message limit; the rest is the stream.
 * Checks: a parsed header re-encodes to the same bytes (the encoding is
 * minimal and canonical), never claims more than it was given and never
 * over 14 bytes; the reader never consumes more than given, consumes all
 * when it asks for more, hands out messages within the limit that are
 * NUL-ended valid UTF-8, control payloads of at most 125 bytes, valid close
 * codes, stays failed after an error, and always makes progress. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

/* Not assert(): fuzz builds define NDEBUG. */
#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static int close_code_ok(int c) {
  return c == 1005 || (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) ||
         (c >= 3000 && c <= 4999);
}

static void check_head(const uint8_t *p, size_t len, int from_client,
                       uint64_t max) {
  rpc_ws_frame f;
  int code = 0;
  const char *why = NULL;
  int r = rpc_ws_frame_parse(p, len, from_client, max, &f, &code, &why);
  if (r == RPC_WS_HEAD_BAD) {
    CHECK(why && (code == 1002 || code == 1009));
    return;
  }
  if (r == RPC_WS_HEAD_MORE) {
    CHECK(len < RPC_WS_MAX_HEAD);
    return;
  }
  CHECK(r == RPC_WS_HEAD_OK);
  CHECK(f.head_len >= 2 && f.head_len <= RPC_WS_MAX_HEAD && f.head_len <= len);
  CHECK(f.len <= max);
  CHECK(f.masked == from_client);
  uint8_t again[RPC_WS_MAX_HEAD];
  size_t n = rpc_ws_frame_head(again, f.opcode, f.fin, f.len,
                               f.masked ? f.mask : NULL);
  CHECK(n == f.head_len);
  CHECK(memcmp(again, p, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int from_client = data[0] & 1;
  size_t step = (data[0] >> 1) & 15;
  static const uint64_t limits[] = {0, 1, 125, 126, 1000, 65536, 1u << 20};
  uint64_t max = limits[data[1] % (sizeof limits / sizeof limits[0])];
  data += 2;
  size -= 2;
  check_head(data, size, from_client, max);

  rpc_ws_reader r;
  rpc_ws_reader_init(&r, max, from_client);
  size_t off = 0;
  while (off < size) {
    size_t avail = size - off;
    if (step && avail > step) avail = step;
    size_t used = 99;
    int ev = rpc_ws_read(&r, data + off, avail, &used);
    CHECK(used <= avail);
    off += used;
    if (ev == RPC_WS_ERROR) {
      CHECK(r.close_code == 1002 || r.close_code == 1003 ||
            r.close_code == 1007 || r.close_code == 1009);
      CHECK(r.reason[0]);
      /* Final: any later read fails the same way and consumes nothing. */
      CHECK(rpc_ws_read(&r, data, size, &used) == RPC_WS_ERROR && used == 0);
      break;
    }
    switch (ev) {
      case RPC_WS_MORE:
        CHECK(used == avail);
        break;
      case RPC_WS_TEXT:
        CHECK(used > 0);
        CHECK(r.msg && r.msg_len <= max && r.msg[r.msg_len] == 0);
        CHECK(rpc_utf8_valid((const uint8_t *)r.msg, r.msg_len));
        break;
      case RPC_WS_PING:
      case RPC_WS_PONG:
        CHECK(used > 0 && r.ctl_len <= 125);
        break;
      case RPC_WS_CLOSE:
        CHECK(used > 0 && close_code_ok(r.close_code));
        CHECK(strlen(r.reason) < sizeof r.reason);
        break;
      default:
        CHECK(0);
    }
  }
  rpc_ws_reader_free(&r);
  return 0;
}
