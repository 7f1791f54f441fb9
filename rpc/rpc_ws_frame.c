/* rpc/rpc_ws_frame.c — the WebSocket (RFC 6455) codec: frame headers,
 * masking, the incremental message reader, UTF-8 checking, the handshake's
 * accept key and subscription filter matching. Pure: bytes in, events out;
 * no sockets, no clock, so the fuzz target drives exactly what the server
 * and the client run. See rpc_int.h for the reader's states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"

int rpc_ws_frame_parse(const uint8_t *p, size_t len, int from_client,
                       uint64_t max_payload, rpc_ws_frame *f, int *close_code,
                       const char **why) {
  if (len < 2) return RPC_WS_HEAD_MORE;
  int fin = p[0] >> 7, op = p[0] & 0x0f, masked = p[1] >> 7;
  uint64_t n = p[1] & 0x7f;
  size_t hl = 2 + (n == 126 ? 2 : n == 127 ? 8 : 0) + (masked ? 4 : 0);
#define BAD(code, msg)      \
  do {                      \
    *close_code = code;     \
    *why = msg;             \
    return RPC_WS_HEAD_BAD; \
  } while (0)
  /* Fail on what the first two bytes already show. */
  if (p[0] & 0x70)
    BAD(RPC_WS_CLOSE_PROTOCOL,
        "reserved bits set (no extension was negotiated)");
  int control = op >= 8;
  if (op != RPC_WS_OP_CONT && op != RPC_WS_OP_TEXT && op != RPC_WS_OP_BINARY &&
      op != RPC_WS_OP_CLOSE && op != RPC_WS_OP_PING && op != RPC_WS_OP_PONG)
    BAD(RPC_WS_CLOSE_PROTOCOL, "unknown opcode");
  if (control && (!fin || n > 125))
    BAD(RPC_WS_CLOSE_PROTOCOL, "control frame fragmented or over 125 bytes");
  if (from_client && !masked)
    BAD(RPC_WS_CLOSE_PROTOCOL, "client frame is not masked");
  if (!from_client && masked)
    BAD(RPC_WS_CLOSE_PROTOCOL, "server frame is masked");
  if (len < hl) return RPC_WS_HEAD_MORE;
  size_t i = 2;
  if (n == 126) {
    n = (uint64_t)p[2] << 8 | p[3];
    i = 4;
    if (n < 126)
      BAD(RPC_WS_CLOSE_PROTOCOL, "frame length not minimally encoded");
  } else if (n == 127) {
    n = 0;
    for (int k = 0; k < 8; k++) n = n << 8 | p[2 + k];
    i = 10;
    if (n >> 63) BAD(RPC_WS_CLOSE_PROTOCOL, "frame length has its top bit set");
    if (n <= 0xffff)
      BAD(RPC_WS_CLOSE_PROTOCOL, "frame length not minimally encoded");
  }
  if (n > max_payload)
    BAD(RPC_WS_CLOSE_TOO_BIG, "frame is over the message size limit");
#undef BAD
  f->fin = fin;
  f->opcode = op;
  f->masked = masked;
  f->len = n;
  if (masked)
    memcpy(f->mask, p + i, 4);
  else
    memset(f->mask, 0, 4);
  f->head_len = hl;
  return RPC_WS_HEAD_OK;
}

size_t rpc_ws_frame_head(uint8_t out[RPC_WS_MAX_HEAD], int opcode, int fin,
                         uint64_t len, const uint8_t *mask) {
  size_t i = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out[1] = (uint8_t)(m | len);
  } else if (len <= 0xffff) {
    out[1] = m | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    i = 4;
  } else {
    out[1] = m | 127;
    for (int k = 0; k < 8; k++) out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
    i = 10;
  }
  if (mask) {
    memcpy(out + i, mask, 4);
    i += 4;
  }
  return i;
}

void rpc_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off) {
  for (size_t i = 0; i < len; i++) p[i] ^= mask[(off + i) & 3];
}

int rpc_utf8_valid(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (len - i <= n) return 0;
    for (size_t k = 1; k <= n; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += n + 1;
  }
  return 1;
}

void rpc_ws_accept(char out[29], const char *key, size_t key_len) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char buf[128 + sizeof RPC_WS_GUID];
  if (key_len > 128) key_len = 128; /* callers check the key first */
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, RPC_WS_GUID, sizeof RPC_WS_GUID - 1);
  uint8_t d[21];
  rpc_sha1(d, buf, key_len + sizeof RPC_WS_GUID - 1);
  d[20] = 0;
  size_t o = 0;
  for (size_t i = 0; i < 21; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
    out[o++] = b64[v & 63];
  }
  out[27] = '='; /* 20 bytes: the last group has 2 input bytes */
  out[28] = 0;
}

/* ---- the reader ---------------------------------------------------------- */

void rpc_ws_reader_init(rpc_ws_reader *r, uint64_t max_msg, int from_client) {
  memset(r, 0, sizeof *r);
  r->max_msg = max_msg;
  r->from_client = from_client;
}

void rpc_ws_reader_free(rpc_ws_reader *r) {
  free(r->msg);
  r->msg = NULL;
  r->msg_cap = r->msg_len = 0;
}

static int fail(rpc_ws_reader *r, int code, const char *why) {
  r->failed = 1;
  r->close_code = code;
  snprintf(r->reason, sizeof r->reason, "%s", why);
  return RPC_WS_ERROR;
}

/* Make room for the message to grow to need bytes (+ NUL). need is within
 * max_msg, checked at the frame header. */
static int reserve(rpc_ws_reader *r, size_t need) {
  if (need + 1 <= r->msg_cap) return 0;
  size_t cap = r->msg_cap ? r->msg_cap : 256;
  while (cap < need + 1) cap *= 2;
  if (cap > r->max_msg + 1) cap = (size_t)r->max_msg + 1;
  char *m = realloc(r->msg, cap);
  if (!m) return -1;
  r->msg = m;
  r->msg_cap = cap;
  return 0;
}

/* The current frame's payload is complete: its event, or RPC_WS_MORE. */
static int frame_done(rpc_ws_reader *r) {
  const rpc_ws_frame *f = &r->f;
  r->in_payload = 0;
  r->head_len = 0;
  switch (f->opcode) {
    case RPC_WS_OP_PING:
      return RPC_WS_PING;
    case RPC_WS_OP_PONG:
      return RPC_WS_PONG;
    case RPC_WS_OP_CLOSE:
      r->reason[0] = 0;
      if (r->ctl_len == 0) {
        r->close_code = RPC_WS_CLOSE_NO_STATUS;
        return RPC_WS_CLOSE;
      }
      if (r->ctl_len == 1)
        return fail(r, RPC_WS_CLOSE_PROTOCOL,
                    "close frame with a 1-byte payload");
      r->close_code = r->ctl[0] << 8 | r->ctl[1];
      {
        int c = r->close_code;
        int ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) ||
                 (c >= 3000 && c <= 4999);
        if (!ok)
          return fail(r, RPC_WS_CLOSE_PROTOCOL,
                      "close frame with an invalid code");
      }
      if (!rpc_utf8_valid(r->ctl + 2, r->ctl_len - 2))
        return fail(r, RPC_WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
      memcpy(r->reason, r->ctl + 2, r->ctl_len - 2);
      r->reason[r->ctl_len - 2] = 0;
      return RPC_WS_CLOSE;
    default:
      if (!f->fin) return RPC_WS_MORE;
      r->msg_op = 0;
      if (reserve(r, r->msg_len))
        return fail(r, RPC_WS_CLOSE_TOO_BIG, "out of memory");
      r->msg[r->msg_len] = 0;
      if (!rpc_utf8_valid((const uint8_t *)r->msg, r->msg_len))
        return fail(r, RPC_WS_CLOSE_BAD_DATA, "text message is not UTF-8");
      r->msg_done = 1;
      return RPC_WS_TEXT;
  }
}

/* A whole header is in r->head: check it against the message state. */
static int header_done(rpc_ws_reader *r) {
  const rpc_ws_frame *f = &r->f;
  if (f->opcode == RPC_WS_OP_BINARY)
    return fail(r, RPC_WS_CLOSE_UNSUPPORTED,
                "binary messages are not supported; send JSON text");
  if (f->opcode == RPC_WS_OP_TEXT && r->msg_op)
    return fail(r, RPC_WS_CLOSE_PROTOCOL,
                "new message before the previous one ended");
  if (f->opcode == RPC_WS_OP_CONT && !r->msg_op)
    return fail(r, RPC_WS_CLOSE_PROTOCOL,
                "continuation frame without a message");
  if (f->opcode < 8) {
    if (f->opcode == RPC_WS_OP_TEXT) {
      r->msg_op = RPC_WS_OP_TEXT;
      r->msg_len = 0;
    }
    if (f->len > r->max_msg - r->msg_len)
      return fail(r, RPC_WS_CLOSE_TOO_BIG, "message is over the size limit");
  } else {
    r->ctl_len = 0;
  }
  r->in_payload = 1;
  r->got = 0;
  return RPC_WS_MORE;
}

int rpc_ws_read(rpc_ws_reader *r, const uint8_t *data, size_t len,
                size_t *used) {
  *used = 0;
  if (r->failed) return RPC_WS_ERROR;
  if (r->msg_done) {
    r->msg_done = 0;
    r->msg_len = 0;
    if (r->msg_cap > 64 * 1024) { /* do not keep a large idle buffer */
      free(r->msg);
      r->msg = NULL;
      r->msg_cap = 0;
    }
  }
  size_t i = 0;
  for (;;) {
    if (!r->in_payload) {
      /* Take header bytes one call at a time: at most 14, then parse. */
      int code = 0;
      const char *why = "";
      int hr;
      for (;;) {
        hr = rpc_ws_frame_parse(r->head, r->head_len, r->from_client,
                                r->max_msg, &r->f, &code, &why);
        if (hr != RPC_WS_HEAD_MORE || i == len) break;
        r->head[r->head_len++] = data[i++];
      }
      if (hr == RPC_WS_HEAD_BAD) {
        *used = i;
        return fail(r, code, why);
      }
      if (hr == RPC_WS_HEAD_MORE) {
        *used = i;
        return RPC_WS_MORE;
      }
      int ev = header_done(r);
      if (ev == RPC_WS_ERROR) {
        *used = i;
        return ev;
      }
      if (r->f.len == 0) {
        ev = frame_done(r);
        if (ev != RPC_WS_MORE) {
          *used = i;
          return ev;
        }
        continue;
      }
    }
    if (i == len) {
      *used = i;
      return RPC_WS_MORE;
    }
    size_t take = len - i;
    if (take > r->f.len - r->got) take = (size_t)(r->f.len - r->got);
    uint8_t *dst;
    if (r->f.opcode >= 8) {
      dst = r->ctl + r->ctl_len;
      r->ctl_len += take;
    } else {
      if (reserve(r, r->msg_len + take)) {
        *used = i;
        return fail(r, RPC_WS_CLOSE_TOO_BIG, "out of memory");
      }
      dst = (uint8_t *)r->msg + r->msg_len;
      r->msg_len += take;
    }
    memcpy(dst, data + i, take);
    if (r->f.masked) rpc_ws_mask(dst, take, r->f.mask, r->got);
    r->got += take;
    i += take;
    if (r->got == r->f.len) {
      int ev = frame_done(r);
      if (ev != RPC_WS_MORE) {
        *used = i;
        return ev;
      }
    }
  }
}

/* ---- subscription filters ------------------------------------------------ */

static int array_has(const json_t *a, const char *v) {
  size_t i;
  const json_t *x;
  json_array_foreach(a, i, x) {
    if (json_is_string(x) && strcmp(json_string_value(x), v) == 0) return 1;
  }
  return 0;
}

int rpc_ws_filter_match(const json_t *filter, const json_t *event) {
  if (!filter) return 1;
  const char *k;
  const json_t *want;
  json_object_foreach((json_t *)filter, k, want) {
    const char *v = json_string_value(want);
    if (!v) return 0;
    const json_t *got = json_object_get(event, k);
    if (json_is_string(got)) {
      if (strcmp(json_string_value(got), v) != 0) return 0;
      continue;
    }
    if (json_is_array(got)) {
      if (!array_has(got, v)) return 0;
      continue;
    }
    char plural[80];
    int n = snprintf(plural, sizeof plural, "%ss", k);
    if (n <= 0 || (size_t)n >= sizeof plural) return 0;
    got = json_object_get(event, plural);
    if (!json_is_array(got) || !array_has(got, v)) return 0;
  }
  return 1;
}
