/* rpc/rpc_ws.c — WebSocket (RFC 6455) connections of the JSON-RPC server:
 * the handshake, frames in and out, subscriptions and fan-out of published
 * events. The framing itself is the pure codec of rpc_ws_frame.c; JSON-RPC
 * calls go through the same dispatch as POST (rpc_dispatch in rpc_server.c).
 *
 * A connection is upgraded from HTTP (state C_WS) and then moves through:
 *
 *   OPEN     frames are read and answered; the timer pings every ping_ms,
 *            and a client that has not answered the previous ping when the
 *            next one is due is dropped.
 *   CLOSING  a close frame was sent (our error, the peer's close, or the
 *            server stopping): input is discarded except the peer's close;
 *            the TCP connection is closed once our close frame is written
 *            and the peer's close arrived, or after RPC_WS_CLOSE_WAIT_MS.
 *
 * Output is a queue of uv_write requests that the connection accounts in
 * bytes and messages; a message that would take it over the limits closes
 * the connection with 1008 instead (a slow consumer must not grow memory or
 * stall the loop). Control frames (pong, close) bypass the limit check but
 * are small and bounded: a pong is only sent for a ping read, and reading
 * stops while the queue is full. Published events are serialized once and
 * shared between subscribers by reference count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_server_int.h"

#define MOD "rpc"
#define MAX_FILTER_KEYS 8
#define MAX_FILTER_VALUE 256

typedef struct {
  char id[17];
  size_t topic;   /* index into s->topics */
  json_t *filter; /* owned; NULL = every event */
} ws_sub;

/* A serialized event shared by the writes that send it. */
typedef struct {
  size_t refs;
  size_t len;
  char data[];
} ws_blob;

typedef struct {
  uv_write_t req;
  conn *c;
  ws_blob *blob; /* ref held, or NULL */
  size_t total;  /* bytes accounted in the queue */
  int is_close;
  size_t head_len, tail_len;
  char buf[]; /* head_len bytes, then tail_len bytes */
} ws_out;

struct rpc_ws_conn {
  rpc_ws_reader rd;
  ws_sub subs[RPC_WS_MAX_SUBS];
  size_t n_subs;
  size_t q_bytes, q_msgs; /* unsent output */
  int awaiting_pong;
  int close_sent, close_written, close_rcvd;
  job *jobs; /* unanswered messages */
  size_t n_jobs;
  int pumping; /* rpc_ws_pump is on the stack */
};

static void blob_unref(ws_blob *b) {
  if (b && --b->refs == 0) free(b);
}

/* ---- output ----------------------------------------------------------------
 */

static void ws_close(conn *c, int code, const char *why);

static void on_ws_timer(uv_timer_t *t) { rpc_ws_on_timer(t->data); }

static void on_ws_write(uv_write_t *req, int status) {
  ws_out *o = req->data;
  conn *c = o->c;
  rpc_ws_conn *w = c->ws;
  w->q_bytes -= o->total;
  w->q_msgs--;
  int was_close = o->is_close;
  blob_unref(o->blob);
  free(o);
  if (c->state == C_CLOSING) return;
  if (status < 0) {
    LOGD(MOD, "dropping WebSocket client %s: write failed: %s", c->peer,
         uv_strerror(status));
    rpc_conn_close(c);
    return;
  }
  if (was_close) {
    w->close_written = 1;
    if (w->close_rcvd) rpc_conn_close(c);
    return;
  }
  /* Reading stops while the queue is over its limits (see ws_pump). */
  if (!w->close_sent) rpc_ws_pump(c);
}

/* Queue one frame: header, then head[0..hl), blob (may be NULL), tail.
 * control frames skip the queue limit. 0, or -1 if the connection is being
 * closed (slow consumer, write error). */
static int ws_send(conn *c, int opcode, const char *head, size_t hl,
                   ws_blob *blob, const char *tail, size_t tl, int control) {
  rpc_ws_conn *w = c->ws;
  rpc_server *s = c->s;
  if (c->state != C_WS || (w->close_sent && opcode != RPC_WS_OP_CLOSE))
    return -1;
  size_t plen = hl + (blob ? blob->len : 0) + tl;
  uint8_t fh[RPC_WS_MAX_HEAD];
  size_t fl = rpc_ws_frame_head(fh, opcode, 1, plen, NULL);
  size_t total = fl + plen;
  if (!control && (w->q_bytes + total > s->ws_max_queue_bytes ||
                   w->q_msgs + 1 > s->ws_max_queue_msgs)) {
    s->n_ws_slow++;
    LOGW(MOD,
         "dropping slow WebSocket client %s: %zu bytes in %zu messages "
         "unsent (limits %zu bytes, %zu messages); close 1008",
         c->peer, w->q_bytes, w->q_msgs, s->ws_max_queue_bytes,
         s->ws_max_queue_msgs);
    ws_close(c, RPC_WS_CLOSE_POLICY, "slow consumer: too much output unsent");
    return -1;
  }
  ws_out *o = malloc(sizeof *o + fl + hl + tl);
  if (!o) {
    LOGW(MOD, "dropping WebSocket client %s: out of memory", c->peer);
    rpc_conn_close(c);
    return -1;
  }
  o->c = c;
  o->blob = blob;
  if (blob) blob->refs++;
  o->total = total;
  o->is_close = opcode == RPC_WS_OP_CLOSE;
  o->head_len = fl + hl;
  o->tail_len = tl;
  memcpy(o->buf, fh, fl);
  if (hl) memcpy(o->buf + fl, head, hl);
  if (tl) memcpy(o->buf + fl + hl, tail, tl);
  uv_buf_t b[3];
  unsigned nb = 0;
  b[nb++] = uv_buf_init(o->buf, (unsigned)o->head_len);
  if (blob && blob->len) b[nb++] = uv_buf_init(blob->data, (unsigned)blob->len);
  if (tl) b[nb++] = uv_buf_init(o->buf + o->head_len, (unsigned)tl);
  o->req.data = o;
  w->q_bytes += total;
  w->q_msgs++;
  int rc = uv_write(&o->req, (uv_stream_t *)&c->tcp, b, nb, on_ws_write);
  if (rc < 0) {
    w->q_bytes -= total;
    w->q_msgs--;
    blob_unref(o->blob);
    free(o);
    LOGD(MOD, "dropping WebSocket client %s: write failed: %s", c->peer,
         uv_strerror(rc));
    rpc_conn_close(c);
    return -1;
  }
  return 0;
}

/* Start the closing handshake (idempotent): send a close frame, discard
 * further input but the peer's close, and give up after CLOSE_WAIT_MS. */
static void ws_close(conn *c, int code, const char *why) {
  rpc_ws_conn *w = c->ws;
  if (c->state != C_WS || w->close_sent) return;
  char p[125];
  size_t n = 0;
  if (code != RPC_WS_CLOSE_NO_STATUS) {
    p[0] = (char)(code >> 8);
    p[1] = (char)(code & 0xff);
    n = strlen(why);
    if (n > 123) {
      n = 123;
      while (n > 0 && ((unsigned char)why[n] & 0xC0) == 0x80) n--;
    }
    memcpy(p + 2, why, n);
    n += 2;
  }
  if (ws_send(c, RPC_WS_OP_CLOSE, p, n, NULL, NULL, 0, 1) != 0) return;
  w->close_sent = 1;
  uv_timer_start(&c->timer, on_ws_timer, RPC_WS_CLOSE_WAIT_MS, 0);
}

void rpc_ws_send_json(conn *c, json_t *v) {
  if (!v) {
    ws_close(c, RPC_WS_CLOSE_GOING_AWAY, "out of memory");
    return;
  }
  char *txt = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  if (!txt) {
    ws_close(c, RPC_WS_CLOSE_GOING_AWAY, "out of memory");
    return;
  }
  ws_send(c, RPC_WS_OP_TEXT, txt, strlen(txt), NULL, NULL, 0, 0);
  free(txt);
}

void rpc_ws_going_away(conn *c) {
  /* Best effort and without queueing: the connection closes right after. */
  rpc_ws_conn *w = c->ws;
  if (!w || w->close_sent || w->q_msgs) return;
  static const char why[] = "server stopping";
  uint8_t f[2 + 2 + sizeof why];
  size_t n = rpc_ws_frame_head(f, RPC_WS_OP_CLOSE, 1, 2 + sizeof why - 1, NULL);
  f[n] = RPC_WS_CLOSE_GOING_AWAY >> 8;
  f[n + 1] = RPC_WS_CLOSE_GOING_AWAY & 0xff;
  memcpy(f + n + 2, why, sizeof why - 1);
  uv_buf_t b = uv_buf_init((char *)f, (unsigned)(n + 2 + sizeof why - 1));
  (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  w->close_sent = 1;
}

/* ---- the handshake
 * ------------------------------------------------------------ */

int rpc_ws_handshake_check(const rpc_http *h, const char **msg) {
  if (h->method != HTTP_GET) {
    *msg = "/websocket takes GET with Upgrade: websocket";
    return 405;
  }
  if (!h->upgrade || !h->upgrade_ws || h->http_minor < 1) {
    *msg =
        "/websocket needs an HTTP/1.1 WebSocket handshake (Upgrade: "
        "websocket, Connection: Upgrade)";
    return 400;
  }
  if (h->ws_version != 13) {
    *msg = "unsupported Sec-WebSocket-Version; this server speaks 13";
    return 426;
  }
  /* The key is base64 of 16 bytes: 22 characters and "==". */
  int ok = h->ws_key_len == 24 && h->ws_key[22] == '=' && h->ws_key[23] == '=';
  for (size_t i = 0; ok && i < 22; i++) {
    char ch = h->ws_key[i];
    ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
  }
  if (!ok) {
    *msg = "Sec-WebSocket-Key must be the base64 of 16 bytes";
    return 400;
  }
  return 0;
}

void rpc_ws_upgrade(conn *c) {
  rpc_server *s = c->s;
  rpc_ws_conn *w = calloc(1, sizeof *w);
  if (!w) {
    LOGW(MOD, "dropping %s: out of memory for a WebSocket", c->peer);
    rpc_conn_close(c);
    return;
  }
  char accept[29];
  rpc_ws_accept(accept, c->http.ws_key, c->http.ws_key_len);
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  rpc_ws_reader_init(&w->rd, s->max_body, 1);
  c->ws = w;
  c->state = C_WS;
  rpc_http_next(&c->http); /* drop the request's buffers */
  s->n_ws_upgrades++;
  /* The 101 goes through the frame queue as a raw write. */
  ws_out *o = malloc(sizeof *o + (size_t)n);
  if (!o) {
    rpc_conn_close(c);
    return;
  }
  memset(o, 0, sizeof *o);
  o->c = c;
  o->total = (size_t)n;
  o->head_len = (size_t)n;
  memcpy(o->buf, head, (size_t)n);
  o->req.data = o;
  w->q_bytes += o->total;
  w->q_msgs++;
  uv_buf_t b = uv_buf_init(o->buf, (unsigned)n);
  if (uv_write(&o->req, (uv_stream_t *)&c->tcp, &b, 1, on_ws_write) < 0) {
    w->q_bytes -= o->total;
    w->q_msgs--;
    free(o);
    rpc_conn_close(c);
    return;
  }
  LOGD(MOD, "WebSocket client %s connected", c->peer);
  uv_timer_start(&c->timer, on_ws_timer, s->ws_ping_ms, 0);
  rpc_ws_pump(c); /* frames sent right after the request */
}

/* ---- input
 * -------------------------------------------------------------------- */

void rpc_ws_pump(conn *c) {
  rpc_server *s = c->s;
  rpc_ws_conn *w = c->ws;
  /* Answers finished during a dispatch call back here; the loop below
   * carries on by itself. */
  if (!w || w->pumping) return;
  w->pumping = 1;
  while (c->state == C_WS && c->in_off < c->in_len) {
    /* Back-pressure: a client that sends faster than it reads, or than
     * handlers answer, is not read until it catches up. */
    if (!w->close_sent && (w->n_jobs >= RPC_WS_MAX_JOBS ||
                           w->q_bytes >= s->ws_max_queue_bytes / 2 ||
                           w->q_msgs >= s->ws_max_queue_msgs / 2))
      break;
    size_t used = 0;
    int ev = rpc_ws_read(&w->rd, (const uint8_t *)c->in + c->in_off,
                         c->in_len - c->in_off, &used);
    c->in_off += used;
    switch (ev) {
      case RPC_WS_MORE:
        break;
      case RPC_WS_TEXT:
        if (!w->close_sent) rpc_dispatch(c, w->rd.msg, w->rd.msg_len);
        break;
      case RPC_WS_PING:
        if (!w->close_sent)
          ws_send(c, RPC_WS_OP_PONG, (const char *)w->rd.ctl, w->rd.ctl_len,
                  NULL, NULL, 0, 1);
        break;
      case RPC_WS_PONG:
        w->awaiting_pong = 0;
        break;
      case RPC_WS_CLOSE:
        w->close_rcvd = 1;
        if (!w->close_sent) {
          int code = w->rd.close_code;
          if (code == RPC_WS_CLOSE_NO_STATUS) code = RPC_WS_CLOSE_NORMAL;
          LOGD(MOD, "WebSocket client %s closed (%d)", c->peer,
               w->rd.close_code);
          ws_close(c, code, "");
        } else if (w->close_written) {
          rpc_conn_close(c);
        }
        c->in_off = c->in_len; /* nothing may follow a close */
        break;
      default: /* RPC_WS_ERROR; after our close, any bytes end it */
        if (!w->close_sent) {
          LOGD(MOD, "closing WebSocket client %s: %s (close %d)", c->peer,
               w->rd.reason, w->rd.close_code);
          ws_close(c, w->rd.close_code, w->rd.reason);
        } else {
          rpc_conn_close(c);
        }
        c->in_off = c->in_len;
        break;
    }
  }
  w->pumping = 0;
  if (c->state != C_WS) return;
  if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
  rpc_conn_start_reading(c);
}

void rpc_ws_on_timer(conn *c) {
  rpc_ws_conn *w = c->ws;
  if (c->state != C_WS) return;
  if (w->close_sent) {
    /* The peer did not complete the closing handshake in time. */
    rpc_conn_close(c);
    return;
  }
  /* A pong may be waiting unread behind requests our handlers have not
   * answered yet (reading is paused at RPC_WS_MAX_JOBS): not its fault. */
  int stalled_by_us = w->n_jobs >= RPC_WS_MAX_JOBS && c->in_off < c->in_len;
  if (w->awaiting_pong && !stalled_by_us) {
    c->s->n_dropped++;
    LOGI(MOD, "dropping WebSocket client %s: no pong within %llu ms", c->peer,
         (unsigned long long)c->s->ws_ping_ms);
    rpc_conn_close(c);
    return;
  }
  w->awaiting_pong = 1;
  if (ws_send(c, RPC_WS_OP_PING, "cohort", 6, NULL, NULL, 0, 1) == 0)
    uv_timer_start(&c->timer, on_ws_timer, c->s->ws_ping_ms, 0);
}

/* ---- jobs -------------------------------------------------------------------
 */

void rpc_ws_job_start(conn *c, job *j) {
  rpc_ws_conn *w = c->ws;
  j->ws_prev = NULL;
  j->ws_next = w->jobs;
  if (w->jobs) w->jobs->ws_prev = j;
  w->jobs = j;
  w->n_jobs++;
}

void rpc_ws_job_finish(conn *c, job *j, json_t *out) {
  rpc_ws_conn *w = c->ws;
  if (j->ws_prev)
    j->ws_prev->ws_next = j->ws_next;
  else
    w->jobs = j->ws_next;
  if (j->ws_next) j->ws_next->ws_prev = j->ws_prev;
  w->n_jobs--;
  if (out) rpc_ws_send_json(c, out);
  /* Input may have waited for a free job slot (no-op inside a pump). */
  if (c->state == C_WS && !w->close_sent && w->n_jobs == RPC_WS_MAX_JOBS - 1)
    rpc_ws_pump(c);
}

void rpc_ws_detach(conn *c) {
  rpc_ws_conn *w = c->ws;
  for (job *j = w->jobs; j; j = j->ws_next) j->c = NULL;
  w->jobs = NULL;
  w->n_jobs = 0;
}

void rpc_ws_conn_free(conn *c) {
  rpc_ws_conn *w = c->ws;
  if (!w) return;
  for (size_t i = 0; i < w->n_subs; i++) json_decref(w->subs[i].filter);
  rpc_ws_reader_free(&w->rd);
  free(w);
  c->ws = NULL;
}

/* ---- subscriptions ---------------------------------------------------------
 */

static int topic_index(const rpc_server *s, const char *t, size_t *idx) {
  for (size_t i = 0; i < s->n_topics; i++)
    if (strcmp(s->topics[i], t) == 0) {
      *idx = i;
      return 0;
    }
  return -1;
}

static void topic_list(const rpc_server *s, char *out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (size_t i = 0; i < s->n_topics && o < cap; i++) {
    int n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", s->topics[i]);
    if (n < 0) break;
    o += (size_t)n;
  }
}

static void subscribe(conn *c, rpc_call *call, json_t *params) {
  rpc_server *s = c->s;
  rpc_ws_conn *w = c->ws;
  json_t *topic = NULL, *filter = NULL;
  if (json_is_object(params)) {
    topic = json_object_get(params, "topic");
    filter = json_object_get(params, "filter");
  } else if (json_is_array(params)) {
    topic = json_array_get(params, 0);
    filter = json_array_get(params, 1);
  }
  if (json_is_null(filter)) filter = NULL;
  char msg[200], list[120];
  if (s->n_topics == 0) {
    rpc_call_error(call, RPC_METHOD_NOT_FOUND,
                   "this server offers no subscriptions", NULL);
    return;
  }
  topic_list(s, list, sizeof list);
  size_t idx;
  if (!json_is_string(topic)) {
    snprintf(msg, sizeof msg,
             "params must be {\"topic\": T, \"filter\"?: {...}} with T one "
             "of: %.120s",
             list);
    rpc_call_error(call, RPC_INVALID_PARAMS, msg, NULL);
    return;
  }
  if (topic_index(s, json_string_value(topic), &idx) != 0) {
    snprintf(msg, sizeof msg, "unknown topic \"%.40s\"; topics: %.120s",
             json_string_value(topic), list);
    rpc_call_error(call, RPC_INVALID_PARAMS, msg, NULL);
    return;
  }
  if (filter) {
    const char *k;
    json_t *v;
    int bad =
        !json_is_object(filter) || json_object_size(filter) > MAX_FILTER_KEYS;
    if (!bad) {
      json_object_foreach(filter, k, v) {
        if (!json_is_string(v) || json_string_length(v) > MAX_FILTER_VALUE ||
            strlen(k) == 0 || strlen(k) > 64) {
          bad = 1;
          break;
        }
      }
    }
    if (bad) {
      snprintf(msg, sizeof msg,
               "filter must be an object of at most %d string fields, e.g. "
               "{\"executor\": \"coh1...\"}",
               MAX_FILTER_KEYS);
      rpc_call_error(call, RPC_INVALID_PARAMS, msg, NULL);
      return;
    }
  }
  if (w->n_subs >= RPC_WS_MAX_SUBS) {
    snprintf(msg, sizeof msg,
             "at most %d subscriptions per connection; unsubscribe first",
             RPC_WS_MAX_SUBS);
    rpc_call_error(call, RPC_UNAVAILABLE, msg, NULL);
    return;
  }
  ws_sub *sub = &w->subs[w->n_subs];
  if (filter && !(sub->filter = json_deep_copy(filter))) {
    rpc_call_error(call, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  if (!filter) sub->filter = NULL;
  sub->topic = idx;
  snprintf(sub->id, sizeof sub->id, "%016llx",
           (unsigned long long)++s->ws_next_sub);
  w->n_subs++;
  rpc_call_reply(call, json_pack("{s:s}", "subscription", sub->id));
}

static void unsubscribe(conn *c, rpc_call *call, json_t *params) {
  rpc_ws_conn *w = c->ws;
  json_t *id = json_is_object(params) ? json_object_get(params, "subscription")
                                      : json_array_get(params, 0);
  if (!json_is_string(id)) {
    rpc_call_error(call, RPC_INVALID_PARAMS,
                   "params must be {\"subscription\": ID}", NULL);
    return;
  }
  for (size_t i = 0; i < w->n_subs; i++) {
    if (strcmp(w->subs[i].id, json_string_value(id)) != 0) continue;
    json_decref(w->subs[i].filter);
    w->subs[i] = w->subs[--w->n_subs];
    rpc_call_reply(call, json_true());
    return;
  }
  rpc_call_error(call, RPC_NOT_FOUND, "no such subscription on this connection",
                 NULL);
}

int rpc_ws_builtin(conn *c, rpc_call *call, const char *method,
                   json_t *params) {
  if (strcmp(method, "subscribe") == 0) {
    subscribe(c, call, params);
    return 1;
  }
  if (strcmp(method, "unsubscribe") == 0) {
    unsubscribe(c, call, params);
    return 1;
  }
  return 0;
}

int rpc_server_set_topics(rpc_server *s, const char *const *topics,
                          core_errbuf *eb) {
  size_t n = 0;
  for (; topics && topics[n]; n++) {
    const char *t = topics[n];
    size_t l = strlen(t);
    int ok = l >= 1 && l <= 64;
    for (size_t i = 0; ok && i < l; i++)
      ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
           t[i] == '_' || t[i] == '.' || t[i] == '-';
    if (!ok)
      return core_errf(eb, COHORT_ERR_CONFIG,
                       "subscription topic \"%.80s\" must be 1-64 characters "
                       "of a-z, 0-9, _ . -",
                       t);
  }
  s->topics = topics;
  s->n_topics = n;
  return 0;
}

void rpc_server_publish(rpc_server *s, const char *topic, json_t *event) {
  size_t idx;
  if (!s || !topic || topic_index(s, topic, &idx) != 0) {
    LOGE(MOD, "publish to unknown topic \"%.64s\" ignored",
         topic ? topic : "(null)");
    return;
  }
  ws_blob *blob = NULL;
  int failed = 0;
  char head[192];
  static const char tail[] = "}}";
  for (conn *c = s->conns; c && !failed; c = c->next) {
    rpc_ws_conn *w = c->ws;
    if (c->state != C_WS || w->close_sent) continue;
    for (size_t i = 0; i < w->n_subs; i++) {
      ws_sub *sub = &w->subs[i];
      if (sub->topic != idx || !rpc_ws_filter_match(sub->filter, event))
        continue;
      if (!blob) {
        /* Serialized once, on the first subscriber that wants it. */
        char *txt = json_dumps(event, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len = txt ? strlen(txt) : 0;
        blob = txt ? malloc(sizeof *blob + len) : NULL;
        if (!blob) {
          free(txt);
          LOGE(MOD, "cannot encode an event for topic %s; dropped", topic);
          failed = 1;
          break;
        }
        blob->refs = 1;
        blob->len = len;
        memcpy(blob->data, txt, len);
        free(txt);
      }
      int hl = snprintf(head, sizeof head,
                        "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\","
                        "\"params\":{\"subscription\":\"%s\",\"topic\":\"%s\","
                        "\"result\":",
                        sub->id, s->topics[idx]);
      if (hl < 0 || (size_t)hl >= sizeof head) continue;
      s->n_ws_notifications++;
      /* On overflow the connection is closing: skip its other subs. */
      if (ws_send(c, RPC_WS_OP_TEXT, head, (size_t)hl, blob, tail,
                  sizeof tail - 1, 0) != 0)
        break;
    }
  }
  blob_unref(blob);
}

void rpc_server_set_ws_limits(rpc_server *s, uint64_t ping_ms,
                              size_t max_queue_bytes, size_t max_queue_msgs) {
  if (ping_ms) s->ws_ping_ms = ping_ms;
  if (max_queue_bytes) s->ws_max_queue_bytes = max_queue_bytes;
  if (max_queue_msgs) s->ws_max_queue_msgs = max_queue_msgs;
}

size_t rpc_server_ws_sub_count(const rpc_server *s) {
  size_t n = 0;
  for (const conn *c = s->conns; c; c = c->next)
    if (c->ws) n += c->ws->n_subs;
  return n;
}
