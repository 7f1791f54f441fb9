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
 * stops while the queue is full. The queue is kept oldest first so the
 * server's sweep can drop a connection whose oldest unsent message is older
 * than write_timeout_ms. Everything queued counts against the address's
 * buffer budget, and so does the reader's message buffer.
 *
 * Published events arrive on the RPC thread (rpc_server_publish queues
 * them) and are serialized once, shared between subscribers by reference
 * count. Subscribers are found through an index: per topic, a list of the
 * unfiltered subscriptions, and a hash table (SipHash, keyed at random)
 * from (topic, field name, value) to the subscriptions whose first filter
 * field is that; an event looks up each of its own string values (see
 * rpc_ws_fanout), so its cost does not grow with idle subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_server_int.h"

#define MOD "rpc"
#define MAX_FILTER_KEYS 8
#define MAX_FILTER_VALUE 256
#define MAX_FILTER_NAME 64

typedef struct ix_ent ix_ent;
typedef struct ws_sub ws_sub;

/* One subscription. It sits in its topic's list of all subscriptions, and
 * either in the topic's list of unfiltered ones or in the index entry of
 * its first filter field (topic, name, value). */
struct ws_sub {
  char id[17];
  size_t topic;   /* index into s->topics */
  json_t *filter; /* owned; NULL = every event */
  conn *c;
  ws_sub *t_prev, *t_next; /* all subscriptions of the topic */
  ix_ent *ent;             /* NULL: unfiltered */
  ws_sub *e_prev, *e_next; /* in ent->subs, or the topic's unfiltered list */
  uint64_t stamp;          /* last event considered (dedup) */
};

/* Subscriptions whose first filter field is one (topic, name, value). */
struct ix_ent {
  ix_ent *next; /* hash chain */
  uint64_t h;
  ws_sub *subs;
  size_t klen;
  char key[]; /* u8 topic, name, 0, value */
};

typedef struct {
  ws_sub *all, *unfiltered;
} ws_topic;

struct ws_index {
  uint64_t k0, k1; /* SipHash key: clients choose filter values */
  ix_ent **b;
  size_t nb, n;
  ws_topic *topics;
  uint64_t stamp;
};

/* A serialized event shared by the writes that send it. */
typedef struct {
  size_t refs;
  size_t len;
  char data[];
} ws_blob;

typedef struct ws_out {
  uv_write_t req;
  conn *c;
  struct ws_out *next; /* the connection's queue, oldest first */
  uint64_t t;          /* loop ms when queued (write deadline) */
  ws_blob *blob;       /* ref held, or NULL */
  char *owned;         /* payload owned by the write, or NULL */
  size_t owned_len;
  size_t total; /* bytes accounted in the queue */
  int is_close;
  size_t head_len, tail_len;
  char buf[]; /* head_len bytes, then tail_len bytes */
} ws_out;

struct rpc_ws_conn {
  rpc_ws_reader rd;
  ws_sub *subs[RPC_WS_MAX_SUBS];
  size_t n_subs;
  size_t q_bytes, q_msgs; /* unsent output */
  ws_out *out_head, *out_tail;
  int awaiting_pong;
  int close_sent, close_written, close_rcvd;
  job *jobs; /* unanswered messages */
  size_t n_jobs;
  int pumping; /* rpc_ws_pump is on the stack */
};

static void blob_unref(ws_blob *b) {
  if (b && --b->refs == 0) free(b);
}

/* ---- the subscription index ---------------------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND       \
  do {                 \
    v0 += v1;          \
    v1 = ROTL(v1, 13); \
    v1 ^= v0;          \
    v0 = ROTL(v0, 32); \
    v2 += v3;          \
    v3 = ROTL(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = ROTL(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = ROTL(v1, 17); \
    v1 ^= v2;          \
    v2 = ROTL(v2, 32); \
  } while (0)

/* SipHash-2-4 (Aumasson and Bernstein): filter values come from clients,
 * so the table's hash is keyed. */
static uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n) {
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  uint64_t b = (uint64_t)n << 56;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t m = 0;
    for (int k = 0; k < 8; k++) m |= (uint64_t)p[i + k] << (8 * k);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  for (int k = 0; i + k < n; k++) b |= (uint64_t)p[i + k] << (8 * k);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* key = u8 topic, name, 0, value. Returns its length, 0 if too long to be
 * a filter field. */
static size_t ix_key(uint8_t *out, size_t topic, const char *name, size_t nl,
                     const char *val) {
  size_t vl = strlen(val);
  if (nl == 0 || nl > MAX_FILTER_NAME || vl > MAX_FILTER_VALUE) return 0;
  out[0] = (uint8_t)topic;
  memcpy(out + 1, name, nl);
  out[1 + nl] = 0;
  memcpy(out + 2 + nl, val, vl);
  return 2 + nl + vl;
}

#define IX_KEY_MAX (2 + MAX_FILTER_NAME + MAX_FILTER_VALUE)

static ix_ent *ix_find(ws_index *ix, const uint8_t *k, size_t kl, uint64_t h) {
  for (ix_ent *e = ix->b[h % ix->nb]; e; e = e->next)
    if (e->h == h && e->klen == kl && memcmp(e->key, k, kl) == 0) return e;
  return NULL;
}

static int ix_grow(ws_index *ix) {
  size_t nb = ix->nb * 2;
  ix_ent **b = calloc(nb, sizeof *b);
  if (!b) return -1;
  for (size_t i = 0; i < ix->nb; i++)
    while (ix->b[i]) {
      ix_ent *e = ix->b[i];
      ix->b[i] = e->next;
      e->next = b[e->h % nb];
      b[e->h % nb] = e;
    }
  free(ix->b);
  ix->b = b;
  ix->nb = nb;
  return 0;
}

int rpc_ws_index_new(rpc_server *s) {
  ws_index *ix = calloc(1, sizeof *ix);
  if (!ix) return COHORT_ERR_NOMEM;
  ix->nb = 64;
  ix->b = calloc(ix->nb, sizeof *ix->b);
  ix->topics = calloc(s->n_topics ? s->n_topics : 1, sizeof *ix->topics);
  if (!ix->b || !ix->topics) {
    free(ix->b);
    free(ix->topics);
    free(ix);
    return COHORT_ERR_NOMEM;
  }
  uint64_t k[2];
  if (getrandom(k, sizeof k, GRND_NONBLOCK) != sizeof k) {
    k[0] = uv_hrtime();
    k[1] = (uint64_t)(uintptr_t)ix ^ (k[0] << 17);
  }
  ix->k0 = k[0];
  ix->k1 = k[1];
  s->ix = ix;
  return 0;
}

void rpc_ws_index_free(rpc_server *s) {
  ws_index *ix = s->ix;
  if (!ix) return;
  /* Every subscription left with its connection; entries die with their
   * last subscription, so the table is empty here. */
  for (size_t i = 0; i < ix->nb; i++)
    while (ix->b[i]) {
      ix_ent *e = ix->b[i];
      ix->b[i] = e->next;
      free(e);
    }
  free(ix->b);
  free(ix->topics);
  free(ix);
  s->ix = NULL;
}

#define LIST_PUSH(head, x, prev, next) \
  do {                                 \
    (x)->prev = NULL;                  \
    (x)->next = (head);                \
    if (head) (head)->prev = (x);      \
    (head) = (x);                      \
  } while (0)
#define LIST_UNLINK(head, x, prev, next)        \
  do {                                          \
    if ((x)->prev)                              \
      (x)->prev->next = (x)->next;              \
    else                                        \
      (head) = (x)->next;                       \
    if ((x)->next) (x)->next->prev = (x)->prev; \
  } while (0)

/* The filter field a subscription is indexed by: the smallest name (any
 * would do: every field must match). */
static const char *first_field(const json_t *filter) {
  const char *best = NULL, *k;
  json_t *v;
  json_object_foreach((json_t *)filter, k, v) if (!best || strcmp(k, best) < 0)
      best = k;
  return best;
}

static int ix_add(rpc_server *s, ws_sub *sub) {
  ws_index *ix = s->ix;
  ws_topic *t = &ix->topics[sub->topic];
  if (!sub->filter || json_object_size(sub->filter) == 0) {
    sub->ent = NULL;
    LIST_PUSH(t->unfiltered, sub, e_prev, e_next);
  } else {
    const char *name = first_field(sub->filter);
    uint8_t k[IX_KEY_MAX];
    size_t kl = ix_key(k, sub->topic, name, strlen(name),
                       json_string_value(json_object_get(sub->filter, name)));
    if (!kl) return -1;
    uint64_t h = siphash(ix->k0, ix->k1, k, kl);
    ix_ent *e = ix_find(ix, k, kl, h);
    if (!e) {
      if (ix->n + 1 > 2 * ix->nb && ix_grow(ix) != 0) return -1;
      e = calloc(1, sizeof *e + kl);
      if (!e) return -1;
      e->h = h;
      e->klen = kl;
      memcpy(e->key, k, kl);
      e->next = ix->b[h % ix->nb];
      ix->b[h % ix->nb] = e;
      ix->n++;
    }
    sub->ent = e;
    LIST_PUSH(e->subs, sub, e_prev, e_next);
  }
  LIST_PUSH(t->all, sub, t_prev, t_next);
  atomic_fetch_add(&s->topic_subs[sub->topic], 1);
  atomic_fetch_add(&s->n_subs, 1);
  return 0;
}

static void ix_remove(rpc_server *s, ws_sub *sub) {
  ws_index *ix = s->ix;
  ws_topic *t = &ix->topics[sub->topic];
  LIST_UNLINK(t->all, sub, t_prev, t_next);
  ix_ent *e = sub->ent;
  if (!e) {
    LIST_UNLINK(t->unfiltered, sub, e_prev, e_next);
  } else {
    LIST_UNLINK(e->subs, sub, e_prev, e_next);
    if (!e->subs) {
      ix_ent **pp = &ix->b[e->h % ix->nb];
      while (*pp != e) pp = &(*pp)->next;
      *pp = e->next;
      ix->n--;
      free(e);
    }
  }
  atomic_fetch_sub(&s->topic_subs[sub->topic], 1);
  atomic_fetch_sub(&s->n_subs, 1);
}

static void sub_free(rpc_server *s, ws_sub *sub) {
  ix_remove(s, sub);
  json_decref(sub->filter);
  free(sub);
}

/* ---- output -------------------------------------------------------------- */

static void ws_close(conn *c, int code, const char *why);

static void on_ws_timer(uv_timer_t *t) { rpc_ws_on_timer(t->data); }

static void out_unlink(rpc_ws_conn *w, ws_out *o) {
  ws_out **pp = &w->out_head, *prev = NULL;
  while (*pp && *pp != o) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp) return;
  *pp = o->next;
  if (w->out_tail == o) w->out_tail = prev;
}

static void on_ws_write(uv_write_t *req, int status) {
  ws_out *o = req->data;
  conn *c = o->c;
  rpc_ws_conn *w = c->ws;
  w->q_bytes -= o->total;
  w->q_msgs--;
  out_unlink(w, o);
  rpc_account(c, -(long long)o->total);
  int was_close = o->is_close;
  blob_unref(o->blob);
  free(o->owned);
  free(o);
  if (c->state == C_CLOSING) return;
  if (status < 0) {
    LOGD(MOD, "dropping WebSocket client %s: write failed: %s", c->name,
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

/* Queue a ready ws_out (accounted) and write it. 0, or -1 after closing c. */
static int out_write(conn *c, ws_out *o, uv_buf_t *b, unsigned nb) {
  rpc_ws_conn *w = c->ws;
  o->c = c;
  o->next = NULL;
  o->t = rpc_loop_ms(c->s);
  o->req.data = o;
  if (w->out_tail)
    w->out_tail->next = o;
  else
    w->out_head = o;
  w->out_tail = o;
  w->q_bytes += o->total;
  w->q_msgs++;
  rpc_account(c, (long long)o->total);
  int rc = uv_write(&o->req, (uv_stream_t *)&c->tcp, b, nb, on_ws_write);
  if (rc < 0) {
    w->q_bytes -= o->total;
    w->q_msgs--;
    out_unlink(w, o);
    rpc_account(c, -(long long)o->total);
    blob_unref(o->blob);
    free(o->owned);
    free(o);
    LOGD(MOD, "dropping WebSocket client %s: write failed: %s", c->name,
         uv_strerror(rc));
    rpc_conn_close(c);
    return -1;
  }
  return 0;
}

/* Queue one frame whose payload is head[0..hl), owned (consumed, may be
 * NULL), blob (may be NULL), tail. control frames skip the queue limit.
 * 0, or -1 if the connection is being closed (slow consumer, write error). */
static int ws_send2(conn *c, int opcode, const char *head, size_t hl,
                    char *owned, size_t ol, ws_blob *blob, const char *tail,
                    size_t tl, int control) {
  rpc_ws_conn *w = c->ws;
  rpc_server *s = c->s;
  if (c->state != C_WS || (w->close_sent && opcode != RPC_WS_OP_CLOSE)) {
    free(owned);
    return -1;
  }
  size_t plen = hl + ol + (blob ? blob->len : 0) + tl;
  uint8_t fh[RPC_WS_MAX_HEAD];
  size_t fl = rpc_ws_frame_head(fh, opcode, 1, plen, NULL);
  size_t total = fl + plen;
  if (!control && (w->q_bytes + total > s->ws_max_queue_bytes ||
                   w->q_msgs + 1 > s->ws_max_queue_msgs)) {
    free(owned);
    atomic_fetch_add(&s->n_ws_slow, 1);
    LOGW(MOD,
         "dropping slow WebSocket client %s: %zu bytes in %zu messages "
         "unsent (limits %zu bytes, %zu messages); close 1008",
         c->name, w->q_bytes, w->q_msgs, s->ws_max_queue_bytes,
         s->ws_max_queue_msgs);
    ws_close(c, RPC_WS_CLOSE_POLICY, "slow consumer: too much output unsent");
    return -1;
  }
  ws_out *o = malloc(sizeof *o + fl + hl + tl);
  if (!o) {
    free(owned);
    LOGW(MOD, "dropping WebSocket client %s: out of memory", c->name);
    rpc_conn_close(c);
    return -1;
  }
  memset(o, 0, sizeof *o);
  o->blob = blob;
  if (blob) blob->refs++;
  o->owned = owned;
  o->owned_len = ol;
  o->total = total;
  o->is_close = opcode == RPC_WS_OP_CLOSE;
  o->head_len = fl + hl;
  o->tail_len = tl;
  memcpy(o->buf, fh, fl);
  if (hl) memcpy(o->buf + fl, head, hl);
  if (tl) memcpy(o->buf + fl + hl, tail, tl);
  uv_buf_t b[4];
  unsigned nb = 0;
  b[nb++] = uv_buf_init(o->buf, (unsigned)o->head_len);
  if (owned && ol) b[nb++] = uv_buf_init(owned, (unsigned)ol);
  if (blob && blob->len) b[nb++] = uv_buf_init(blob->data, (unsigned)blob->len);
  if (tl) b[nb++] = uv_buf_init(o->buf + o->head_len, (unsigned)tl);
  return out_write(c, o, b, nb);
}

static int ws_send(conn *c, int opcode, const char *head, size_t hl,
                   ws_blob *blob, const char *tail, size_t tl, int control) {
  return ws_send2(c, opcode, head, hl, NULL, 0, blob, tail, tl, control);
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

void rpc_ws_evict(conn *c, const char *why) {
  ws_close(c, RPC_WS_CLOSE_POLICY, why);
}

uint64_t rpc_ws_oldest_unsent_ms(conn *c, uint64_t now) {
  rpc_ws_conn *w = c->ws;
  if (!w || !w->out_head) return 0;
  return now > w->out_head->t ? now - w->out_head->t : 0;
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
  ws_send2(c, RPC_WS_OP_TEXT, NULL, 0, txt, strlen(txt), NULL, NULL, 0, 0);
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
    LOGW(MOD, "dropping %s: out of memory for a WebSocket", c->name);
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
  /* From now on c->acct_in counts the message reader's buffer. */
  rpc_account(c, -(long long)c->acct_in);
  c->acct_in = 0;
  atomic_fetch_add(&s->n_ws_upgrades, 1);
  /* The 101 goes through the frame queue as a raw write. */
  ws_out *o = malloc(sizeof *o + (size_t)n);
  if (!o) {
    rpc_conn_close(c);
    return;
  }
  memset(o, 0, sizeof *o);
  o->total = (size_t)n;
  o->head_len = (size_t)n;
  memcpy(o->buf, head, (size_t)n);
  uv_buf_t b = uv_buf_init(o->buf, (unsigned)n);
  if (out_write(c, o, &b, 1) != 0) return;
  LOGD(MOD, "WebSocket client %s connected", c->name);
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
    if (w->rd.msg_cap != c->acct_in) {
      size_t before = c->acct_in;
      rpc_account(c, (long long)w->rd.msg_cap - (long long)before);
      c->acct_in = w->rd.msg_cap;
      if (c->acct_in > before && !w->close_sent &&
          (c->peer->buffered > s->client_buffer ||
           s->buffered > s->max_buffer)) {
        atomic_fetch_add(&s->n_limited, 1);
        LOGD(MOD, "closing WebSocket client %s: over its buffer budget",
             c->name);
        ws_close(c, RPC_WS_CLOSE_POLICY,
                 "over the buffer limit of your address (client_buffer_bytes)");
        c->in_off = c->in_len;
        break;
      }
    }
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
          LOGD(MOD, "WebSocket client %s closed (%d)", c->name,
               w->rd.close_code);
          ws_close(c, code, "");
        } else if (w->close_written) {
          rpc_conn_close(c);
        }
        c->in_off = c->in_len; /* nothing may follow a close */
        break;
      default: /* RPC_WS_ERROR; after our close, any bytes end it */
        if (!w->close_sent) {
          LOGD(MOD, "closing WebSocket client %s: %s (close %d)", c->name,
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
    atomic_fetch_add(&c->s->n_dropped, 1);
    LOGI(MOD, "dropping WebSocket client %s: no pong within %llu ms", c->name,
         (unsigned long long)c->s->ws_ping_ms);
    rpc_conn_abort(c);
    return;
  }
  w->awaiting_pong = 1;
  if (ws_send(c, RPC_WS_OP_PING, "cohort", 6, NULL, NULL, 0, 1) == 0)
    uv_timer_start(&c->timer, on_ws_timer, c->s->ws_ping_ms, 0);
}

/* ---- jobs ---------------------------------------------------------------- */

void rpc_ws_job_start(conn *c, job *j) {
  rpc_ws_conn *w = c->ws;
  j->ws_prev = NULL;
  j->ws_next = w->jobs;
  if (w->jobs) w->jobs->ws_prev = j;
  w->jobs = j;
  w->n_jobs++;
}

void rpc_ws_job_finish(conn *c, job *j, char *txt, size_t len) {
  rpc_ws_conn *w = c->ws;
  if (j->ws_prev)
    j->ws_prev->ws_next = j->ws_next;
  else
    w->jobs = j->ws_next;
  if (j->ws_next) j->ws_next->ws_prev = j->ws_prev;
  w->n_jobs--;
  if (txt) ws_send2(c, RPC_WS_OP_TEXT, NULL, 0, txt, len, NULL, NULL, 0, 0);
  /* Input may have waited for a free job slot (no-op inside a pump). */
  if (c->state == C_WS && !w->close_sent && w->n_jobs == RPC_WS_MAX_JOBS - 1)
    rpc_ws_pump(c);
}

void rpc_ws_detach(conn *c) {
  rpc_ws_conn *w = c->ws;
  for (job *j = w->jobs; j; j = j->ws_next) {
    j->c = NULL;
    atomic_store(&j->alive, 0);
  }
  w->jobs = NULL;
  w->n_jobs = 0;
  /* The subscriptions stay in the index until the last close callback
   * (rpc_ws_conn_free): a fan-out may be walking them right now. Events
   * skip a connection that is not in C_WS. */
}

void rpc_ws_conn_free(conn *c) {
  rpc_ws_conn *w = c->ws;
  if (!w) return;
  for (size_t i = 0; i < w->n_subs; i++) sub_free(c->s, w->subs[i]);
  rpc_ws_reader_free(&w->rd);
  free(w);
  c->ws = NULL;
}

/* ---- subscriptions ------------------------------------------------------- */

int rpc_ws_topic_index(const rpc_server *s, const char *t, size_t *idx) {
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
  if (rpc_ws_topic_index(s, json_string_value(topic), &idx) != 0) {
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
            strlen(k) == 0 || strlen(k) > MAX_FILTER_NAME) {
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
  ws_sub *sub = calloc(1, sizeof *sub);
  if (!sub || (filter && !(sub->filter = json_deep_copy(filter)))) {
    free(sub);
    rpc_call_error(call, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  sub->topic = idx;
  sub->c = c;
  if (ix_add(s, sub) != 0) {
    json_decref(sub->filter);
    free(sub);
    rpc_call_error(call, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  snprintf(sub->id, sizeof sub->id, "%016llx",
           (unsigned long long)++s->ws_next_sub);
  w->subs[w->n_subs++] = sub;
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
    if (strcmp(w->subs[i]->id, json_string_value(id)) != 0) continue;
    sub_free(c->s, w->subs[i]);
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

/* ---- fan-out ------------------------------------------------------------- */

typedef struct {
  rpc_server *s;
  json_t *event;
  ws_blob *blob;
  int failed;
} fan;

/* Send the event to sub (the blob is made on the first subscriber). */
static void deliver(fan *f, ws_sub *sub) {
  rpc_server *s = f->s;
  conn *c = sub->c;
  if (f->failed || c->state != C_WS || c->ws->close_sent) return;
  if (!f->blob) {
    char *txt = json_dumps(f->event, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = txt ? strlen(txt) : 0;
    f->blob = txt ? malloc(sizeof *f->blob + len) : NULL;
    if (!f->blob) {
      free(txt);
      LOGE(MOD, "cannot encode an event for topic %s; dropped",
           s->topics[sub->topic]);
      f->failed = 1;
      return;
    }
    f->blob->refs = 1;
    f->blob->len = len;
    memcpy(f->blob->data, txt, len);
    free(txt);
  }
  char head[192];
  static const char tail[] = "}}";
  int hl = snprintf(head, sizeof head,
                    "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\","
                    "\"params\":{\"subscription\":\"%s\",\"topic\":\"%s\","
                    "\"result\":",
                    sub->id, s->topics[sub->topic]);
  if (hl < 0 || (size_t)hl >= sizeof head) return;
  atomic_fetch_add(&s->n_ws_notifications, 1);
  ws_send(c, RPC_WS_OP_TEXT, head, (size_t)hl, f->blob, tail, sizeof tail - 1,
          0);
}

/* Subscriptions indexed under (topic, name, val): check each once. */
static void visit(fan *f, size_t topic, const char *name, size_t nl,
                  const json_t *val) {
  ws_index *ix = f->s->ix;
  const char *v = json_string_value(val);
  if (!v) return;
  uint8_t k[IX_KEY_MAX];
  size_t kl = ix_key(k, topic, name, nl, v);
  if (!kl) return;
  ix_ent *e = ix_find(ix, k, kl, siphash(ix->k0, ix->k1, k, kl));
  if (!e) return;
  for (ws_sub *sub = e->subs, *next; sub; sub = next) {
    next = sub->e_next; /* delivering may close c, not free sub */
    if (sub->stamp == ix->stamp) continue;
    sub->stamp = ix->stamp;
    atomic_fetch_add(&f->s->n_filter_checks, 1);
    if (rpc_ws_filter_match(sub->filter, f->event)) deliver(f, sub);
  }
}

/* A subscription matches only if the event has its first filter field k
 * as a string, or in an array under k or k + "s" (rpc_ws_filter_match), so
 * looking up each of the event's own string values, under its name and (for
 * arrays named "...s") its singular, finds every candidate: the work is the
 * event's size plus the candidates, whatever the number of subscriptions. */
void rpc_ws_fanout(rpc_server *s, size_t topic, json_t *event) {
  ws_index *ix = s->ix;
  fan f = {s, event, NULL, 0};
  ix->stamp++;
  for (ws_sub *sub = ix->topics[topic].unfiltered, *next; sub; sub = next) {
    next = sub->e_next;
    deliver(&f, sub);
  }
  const char *name;
  json_t *v;
  if (json_is_object(event) && ix->n) {
    json_object_foreach(event, name, v) {
      size_t nl = strlen(name);
      if (json_is_string(v)) {
        visit(&f, topic, name, nl, v);
      } else if (json_is_array(v)) {
        int plural = nl > 1 && name[nl - 1] == 's';
        for (size_t i = 0; i < json_array_size(v); i++) {
          json_t *el = json_array_get(v, i);
          visit(&f, topic, name, nl, el);
          if (plural) visit(&f, topic, name, nl - 1, el);
        }
      }
    }
  }
  blob_unref(f.blob);
}

void rpc_ws_gap(rpc_server *s, size_t topic, uint64_t missed) {
  LOGW(MOD,
       "publish queue full: %llu events of topic %s dropped; "
       "subscribers are told (subscription_gap)",
       (unsigned long long)missed, s->topics[topic]);
  for (ws_sub *sub = s->ix->topics[topic].all, *next; sub; sub = next) {
    next = sub->t_next;
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "{\"jsonrpc\":\"2.0\",\"method\":\"subscription_gap\","
                     "\"params\":{\"subscription\":\"%s\",\"topic\":\"%s\","
                     "\"missed\":%llu}}",
                     sub->id, s->topics[topic], (unsigned long long)missed);
    if (n > 0 && (size_t)n < sizeof msg && sub->c->state == C_WS &&
        !sub->c->ws->close_sent)
      ws_send(sub->c, RPC_WS_OP_TEXT, msg, (size_t)n, NULL, NULL, 0, 0);
  }
}

size_t rpc_server_ws_sub_count(const rpc_server *s) {
  return atomic_load(&s->n_subs);
}
