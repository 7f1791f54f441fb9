/* rpc/rpc_ws_client.c — a small blocking WebSocket client for the CLI
 * (`cohort ... --follow`-style commands) and tests: connect to a node's
 * /websocket, subscribe, and read notifications one at a time.
 *
 * One socket, non-blocking, driven by poll() against per-call deadlines (as
 * rpc_client.c). Frames are decoded by the same pure reader as the server
 * (rpc_ws_frame.c, here expecting unmasked frames); our frames are masked
 * with a fresh random key each (RFC 6455 section 5.3). Pings are answered
 * whenever the client reads. Notifications that arrive while waiting for the
 * answer to a subscribe are kept, in order, for rpc_ws_next.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/hex.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define MAX_MSG (64u << 20) /* largest message accepted from the server */
#define MAX_PENDING 10000   /* notifications kept while awaiting an answer */
#define HS_CAP 16384        /* handshake response headers */

struct rpc_ws_client {
  int fd;
  int dead;
  uint64_t timeout_ms;
  int next_id;
  rpc_ws_reader rd;
  json_t *pending; /* array of notification params, oldest first */
  size_t off, len;
  uint8_t buf[16384];
  char url[256];
};

static void random_bytes(uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      /* No entropy source: a mask only needs to be unpredictable to
       * scripts in browsers; use the clock rather than fail. */
      uint64_t t = rpc_now_ms() ^ (uint64_t)(uintptr_t)p;
      for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(t >> (8 * (i % 8)));
      return;
    }
    p += r;
    n -= (size_t)r;
  }
}

static int send_frame(rpc_ws_client *c, int opcode, const void *payload,
                      size_t len, uint64_t deadline, core_errbuf *eb) {
  uint8_t mask[4], head[RPC_WS_MAX_HEAD];
  random_bytes(mask, sizeof mask);
  size_t hl = rpc_ws_frame_head(head, opcode, 1, len, mask);
  uint8_t *f = malloc(hl + len);
  if (!f) return core_errf(eb, COHORT_ERR_NOMEM, "%s: out of memory", c->url);
  memcpy(f, head, hl);
  if (len) memcpy(f + hl, payload, len);
  rpc_ws_mask(f + hl, len, mask, 0);
  int rc = rpc_send_all(c->fd, (const char *)f, hl + len, deadline);
  free(f);
  if (rc) {
    c->dead = 1;
    return core_errf(eb, rc == COHORT_ERR_TIMEOUT ? rc : COHORT_ERR_IO,
                     "%s: %s while sending", c->url,
                     rc == COHORT_ERR_TIMEOUT ? "timed out" : strerror(errno));
  }
  return 0;
}

/* Read until the next text message (1, in c->rd.msg), answering pings.
 * COHORT_ERR_TIMEOUT at deadline, COHORT_ERR_IO when the connection is gone
 * (closed by the server, reset, or a protocol error). */
static int next_text(rpc_ws_client *c, uint64_t deadline, core_errbuf *eb) {
  if (c->dead)
    return core_errf(eb, COHORT_ERR_IO, "%s: the connection is closed", c->url);
  for (;;) {
    if (c->off == c->len) {
      c->off = c->len = 0;
      ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        int w = rpc_wait_fd(c->fd, POLLIN, deadline);
        if (w == COHORT_ERR_TIMEOUT)
          return core_errf(eb, w, "%s: nothing received in time", c->url);
        if (w) {
          c->dead = 1;
          return core_errf(eb, COHORT_ERR_IO, "%s: poll: %s", c->url,
                           strerror(errno));
        }
        continue;
      }
      if (n <= 0) {
        c->dead = 1;
        return core_errf(eb, COHORT_ERR_IO, "%s: connection %s", c->url,
                         n == 0 ? "closed by the server" : strerror(errno));
      }
      c->len = (size_t)n;
    }
    size_t used = 0;
    int ev = rpc_ws_read(&c->rd, c->buf + c->off, c->len - c->off, &used);
    c->off += used;
    switch (ev) {
      case RPC_WS_MORE:
      case RPC_WS_PONG:
        break;
      case RPC_WS_TEXT:
        return 1;
      case RPC_WS_PING: {
        int rc = send_frame(c, RPC_WS_OP_PONG, c->rd.ctl, c->rd.ctl_len,
                            deadline, eb);
        if (rc) return rc;
        break;
      }
      case RPC_WS_CLOSE: {
        /* Echo the close (best effort), then the connection is over. */
        uint8_t p[2] = {(uint8_t)(c->rd.close_code >> 8),
                        (uint8_t)c->rd.close_code};
        int has = c->rd.close_code != RPC_WS_CLOSE_NO_STATUS;
        core_errbuf ign;
        send_frame(c, RPC_WS_OP_CLOSE, p, has ? 2 : 0, rpc_now_ms() + 1000,
                   &ign);
        c->dead = 1;
        return core_errf(eb, COHORT_ERR_IO,
                         "%s: the server closed the connection (%d%s%.100s)",
                         c->url, c->rd.close_code, c->rd.reason[0] ? ": " : "",
                         c->rd.reason);
      }
      default: {
        uint8_t p[2] = {(uint8_t)(c->rd.close_code >> 8),
                        (uint8_t)c->rd.close_code};
        core_errbuf ign;
        send_frame(c, RPC_WS_OP_CLOSE, p, 2, rpc_now_ms() + 1000, &ign);
        c->dead = 1;
        return core_errf(eb, COHORT_ERR_IO, "%s: bad WebSocket data: %s",
                         c->url, c->rd.reason);
      }
    }
  }
}

/* Read the 101 answer to our handshake; bytes after it stay in buf. */
static int read_handshake(rpc_ws_client *c, const char *key, uint64_t deadline,
                          core_errbuf *eb) {
  char hs[HS_CAP + 1];
  size_t n = 0;
  char *end = NULL;
  while (!end) {
    if (n == HS_CAP)
      return core_errf(eb, COHORT_ERR_DECODE,
                       "%s: handshake response headers too long", c->url);
    ssize_t r = recv(c->fd, hs + n, HS_CAP - n, MSG_PEEK);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = rpc_wait_fd(c->fd, POLLIN, deadline);
      if (w == COHORT_ERR_TIMEOUT)
        return core_errf(eb, w, "%s: no handshake answer in time", c->url);
      if (w) return core_errf(eb, COHORT_ERR_IO, "%s: poll failed", c->url);
      continue;
    }
    if (r <= 0)
      return core_errf(eb, COHORT_ERR_IO,
                       "%s: connection closed during the handshake", c->url);
    /* Consume only up to the end of the headers. */
    size_t got = (size_t)r;
    hs[n + got] = 0;
    size_t from = n > 3 ? n - 3 : 0;
    char *e = strstr(hs + from, "\r\n\r\n");
    size_t take = e ? (size_t)(e + 4 - (hs + n)) : got;
    ssize_t k = recv(c->fd, hs + n, take, 0);
    if (k != (ssize_t)take)
      return core_errf(eb, COHORT_ERR_IO, "%s: read failed", c->url);
    n += take;
    hs[n] = 0;
    if (e) end = hs + n - 4;
  }
  *end = 0;
  int status = 0;
  if (sscanf(hs, "HTTP/1.%*d %d", &status) != 1)
    return core_errf(eb, COHORT_ERR_DECODE, "%s: malformed handshake answer",
                     c->url);
  if (status != 101)
    return core_errf(eb, COHORT_ERR_IO,
                     "%s: the server refused the WebSocket (HTTP %d); is it a "
                     "Cohort node with WebSocket support?",
                     c->url, status);
  char want[29];
  rpc_ws_accept(want, key, strlen(key));
  int ok = 0;
  for (char *line = strstr(hs, "\r\n"); line; line = strstr(line, "\r\n")) {
    line += 2;
    if (strncasecmp(line, "sec-websocket-accept:", 21) != 0) continue;
    char *v = line + 21;
    while (*v == ' ' || *v == '\t') v++;
    ok = strncmp(v, want, 28) == 0 &&
         (v[28] == 0 || v[28] == '\r' || v[28] == ' ' || v[28] == '\t');
  }
  if (!ok)
    return core_errf(eb, COHORT_ERR_DECODE,
                     "%s: handshake answer has no valid Sec-WebSocket-Accept",
                     c->url);
  return 0;
}

int rpc_ws_connect(rpc_ws_client **out, const char *url, uint64_t timeout_ms,
                   core_errbuf *eb) {
  *out = NULL;
  char host[256], port[8], path[1024], http_url[1100];
  const char *u = url ? url : "";
  if (strncmp(u, "ws://", 5) == 0) {
    snprintf(http_url, sizeof http_url, "http://%.1000s", u + 5);
    u = http_url;
  }
  if (rpc_url_split(u, host, sizeof host, port, sizeof port, path,
                    sizeof path) != 0)
    return core_errf(eb, COHORT_ERR_INVALID,
                     "RPC address \"%.100s\" is not http://HOST:PORT[/PATH]",
                     url ? url : "");
  if (strcmp(path, "/") == 0) snprintf(path, sizeof path, "/websocket");
  rpc_ws_client *c = calloc(1, sizeof *c);
  if (!c) return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  snprintf(c->url, sizeof c->url, "%s", url);
  c->timeout_ms = timeout_ms ? timeout_ms : 10000;
  c->fd = -1;
  rpc_ws_reader_init(&c->rd, MAX_MSG, 0);
  c->pending = json_array();
  uint64_t deadline = rpc_now_ms() + c->timeout_ms;
  int rc;
  if (!c->pending) {
    rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    goto fail;
  }
  int fd = rpc_dial(c->url, host, port, deadline, eb);
  if (fd < 0) {
    rc = fd;
    goto fail;
  }
  c->fd = fd;
  uint8_t raw[16];
  random_bytes(raw, sizeof raw);
  char *key = core_base64_encode(raw, sizeof raw);
  if (!key) {
    rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
    goto fail;
  }
  char req[1600];
  int v6 = strchr(host, ':') != NULL;
  int n =
      snprintf(req, sizeof req,
               "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n",
               path, v6 ? "[" : "", host, v6 ? "]" : "", port, key);
  if (n < 0 || (size_t)n >= sizeof req) {
    free(key);
    rc = core_errf(eb, COHORT_ERR_INVALID, "%s: URL too long", c->url);
    goto fail;
  }
  rc = rpc_send_all(fd, req, (size_t)n, deadline);
  if (rc) {
    free(key);
    rc = core_errf(eb, rc == COHORT_ERR_TIMEOUT ? rc : COHORT_ERR_IO,
                   "%s: cannot send the handshake", c->url);
    goto fail;
  }
  rc = read_handshake(c, key, deadline, eb);
  free(key);
  if (rc) goto fail;
  *out = c;
  return 0;
fail:
  rpc_ws_close(c);
  return rc;
}

/* A decoded text message: a notification is queued; returns 1 if it is
 * the answer with id want (then *answer is a new reference), else 0. */
static int take_message(rpc_ws_client *c, int want, json_t **answer) {
  json_t *m = json_loadb(c->rd.msg, c->rd.msg_len, 0, NULL);
  if (!json_is_object(m)) {
    json_decref(m);
    return 0;
  }
  const char *method = json_string_value(json_object_get(m, "method"));
  json_t *params = json_object_get(m, "params");
  if (method && strcmp(method, "subscription") == 0 && json_is_object(params)) {
    if (json_array_size(c->pending) < MAX_PENDING)
      json_array_append(c->pending, params);
    json_decref(m);
    return 0;
  }
  json_t *id = json_object_get(m, "id");
  if (want && json_is_integer(id) && json_integer_value(id) == want) {
    *answer = m;
    return 1;
  }
  json_decref(m);
  return 0;
}

int rpc_ws_subscribe(rpc_ws_client *c, const char *topic, json_t *filter,
                     core_errbuf *eb) {
  int id = ++c->next_id;
  json_t *params = json_pack("{s:s}", "topic", topic ? topic : "");
  if (params && filter) json_object_set(params, "filter", filter);
  json_t *req = params
                    ? json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id",
                                id, "method", "subscribe", "params", params)
                    : NULL;
  char *txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!txt) return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  uint64_t deadline = rpc_now_ms() + c->timeout_ms;
  int rc = send_frame(c, RPC_WS_OP_TEXT, txt, strlen(txt), deadline, eb);
  free(txt);
  if (rc) return rc;
  json_t *ans = NULL;
  for (;;) {
    rc = next_text(c, deadline, eb);
    if (rc < 0) return rc;
    if (take_message(c, id, &ans)) break;
  }
  rc = 0;
  json_t *err = json_object_get(ans, "error");
  if (err) {
    json_t *code = json_object_get(err, "code");
    const char *msg = json_string_value(json_object_get(err, "message"));
    rc = json_is_integer(code) && json_integer_value(code) < 0
             ? (int)json_integer_value(code)
             : COHORT_ERR_DECODE;
    core_errf(eb, rc, "subscribe %.64s: %.180s", topic ? topic : "",
              msg ? msg : "error");
  } else if (!json_is_string(json_object_get(json_object_get(ans, "result"),
                                             "subscription"))) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "%s: malformed subscribe answer",
                   c->url);
  }
  json_decref(ans);
  return rc;
}

int rpc_ws_next(rpc_ws_client *c, uint64_t timeout_ms, json_t **event,
                char *topic_out, size_t topic_cap, core_errbuf *eb) {
  *event = NULL;
  if (topic_out && topic_cap) topic_out[0] = 0;
  uint64_t deadline = rpc_now_ms() + timeout_ms;
  while (json_array_size(c->pending) == 0) {
    int rc = next_text(c, deadline, eb);
    if (rc == COHORT_ERR_TIMEOUT) return 0;
    if (rc < 0) return rc;
    json_t *ans = NULL;
    if (take_message(c, 0, &ans)) json_decref(ans);
  }
  json_t *p = json_array_get(c->pending, 0);
  json_t *res = json_object_get(p, "result");
  const char *t = json_string_value(json_object_get(p, "topic"));
  if (topic_out && topic_cap) snprintf(topic_out, topic_cap, "%s", t ? t : "");
  *event = json_incref(res ? res : json_null());
  json_array_remove(c->pending, 0);
  return 0;
}

void rpc_ws_close(rpc_ws_client *c) {
  if (!c) return;
  if (c->fd >= 0) {
    if (!c->dead) {
      uint8_t p[2] = {RPC_WS_CLOSE_NORMAL >> 8, RPC_WS_CLOSE_NORMAL & 0xff};
      core_errbuf ign;
      send_frame(c, RPC_WS_OP_CLOSE, p, 2, rpc_now_ms() + 200, &ign);
    }
    close(c->fd);
  }
  rpc_ws_reader_free(&c->rd);
  json_decref(c->pending);
  free(c);
}
