/* p2p/p2p_peer.c — one connection to another node, on libuv.
 *
 * A peer owns one uv_tcp_t (initialised at creation, so every peer is freed
 * through a close callback), the handshake while it runs, then the session:
 * the frame key of our direction, the frame decoder of theirs, the message
 * reassembler, and one bounded send queue per channel. It moves through:
 *
 *   RESOLVING   outbound, the host is a name: uv_getaddrinfo in flight.
 *               Nothing sent or received; the deadline runs.
 *   CONNECTING  outbound: uv_tcp_connect in flight. Nothing sent yet.
 *   HANDSHAKE   TCP is up: p->hs runs (p2p_handshake.h); bytes read are fed
 *               to it and its output is written as it appears. The peer is
 *               not trusted with anything: no queue, no callback. Deadline:
 *               the switch's handshake_timeout_ms from creation.
 *   ACCEPTED    the handshake proved the peer's node ID and the switch
 *               accepted it (not banned, within limits, not a duplicate); our
 *               first frame (a Ping) is on its way. We wait for the peer's
 *               first frame, the sign that it accepted us too: a peer that
 *               refuses us closes instead, and we never announce it.
 *               Only control messages are queued; the deadline still runs.
 *   UP          that first frame arrived; on_peer_up has run. Frames in both
 *               directions; messages are delivered as they complete; the
 *               queues drain by priority.
 *   CLOSING     uv_close issued, queues and keys freed and wiped; the struct
 *               lives until every callback libuv owes (p->refs: the handle's
 *               close, writes, a connect, a lookup) has come back.
 *
 * Transitions: p2p_peer_dial -> RESOLVING or CONNECTING; on_connect and
 * p2p_peer_start -> HANDSHAKE; handshake_done (via p2p_switch_peer_ready)
 * -> ACCEPTED; process (via p2p_switch_peer_up, on the first frame) -> UP;
 * p2p_peer_close from any state -> CLOSING; maybe_free frees.
 *
 * Writing: p2p_peer_pump builds frames from the queues (lowest channel ID
 * first, one frame at a time, so a small high-priority message overtakes a
 * large one in progress), seals them into batches of up to four frames, and
 * keeps at most P2P_WRITE_WINDOW bytes handed to libuv. A peer that does not
 * read stops completing writes; its queues then fill, sends are refused with
 * COHORT_ERR_QUEUE_FULL, and the switch's tick drops it after
 * stall_timeout_ms. Everything runs on the loop thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "p2p/p2p_int.h"

static void on_tcp_closed(uv_handle_t *h);
static void start_handshake(p2p_peer *p);

/* ---- lifetime ----------------------------------------------------------- */

p2p_peer *p2p_peer_new(p2p_switch *sw) {
  p2p_peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (uv_tcp_init(sw->loop, &p->tcp) != 0) {
    free(p);
    return NULL;
  }
  p->sw = sw;
  p->tcp.data = p;
  p->tcp_inited = 1;
  p->refs = 1; /* the handle's close callback */
  uint64_t now = uv_now(sw->loop);
  p->deadline_ms = now + sw->hs_ms;
  p2p_asm_init(&p->as, sw->max_msg);
  p->next = sw->peers;
  if (sw->peers) sw->peers->prev = p;
  sw->peers = p;
  sw->n_peers++;
  return p;
}

static void maybe_free(p2p_peer *p) {
  if (p->state != PS_CLOSING || p->refs > 0) return;
  p2p_switch *sw = p->sw;
  if (p->prev)
    p->prev->next = p->next;
  else
    sw->peers = p->next;
  if (p->next) p->next->prev = p->prev;
  free(p->rx);
  p2p_asm_free(&p->as);
  sodium_memzero(p, offsetof(p2p_peer, rbuf));
  free(p);
  p2p_switch_peer_freed(sw);
}

static void on_tcp_closed(uv_handle_t *h) {
  p2p_peer *p = h->data;
  p->refs--;
  maybe_free(p);
}

void p2p_msgbuf_unref(p2p_msgbuf *b) {
  if (b && --b->refs == 0) free(b);
}

static void free_queues(p2p_peer *p) {
  for (int c = 0; c < P2P_CH_COUNT; c++) {
    p2p_qitem *it = p->q[c].head;
    while (it) {
      p2p_qitem *n = it->next;
      p2p_msgbuf_unref(it->b);
      free(it);
      it = n;
    }
    memset(&p->q[c], 0, sizeof p->q[c]);
  }
  p->q_bytes = 0;
}

const char *p2p_peer_label(const p2p_peer *p, char *buf, size_t cap) {
  const char *id = p->info.id[0] ? p->info.id : p->dial_id[0] ? p->dial_id : "?";
  snprintf(buf, cap, "%s@%s", id, p->info.addr[0] ? p->info.addr : "?");
  return buf;
}

void p2p_peer_close(p2p_peer *p, int reason, const char *fmt, ...) {
  if (p->state == PS_CLOSING) return;
  p2p_switch *sw = p->sw;
  char why[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  p2p_peer_state was = p->state;
  int was_up = was == PS_UP;
  char lbl[P2P_ID_HEX + P2P_ADDR_STR + 2];
  p2p_peer_label(p, lbl, sizeof lbl);
  if (was_up)
    LOGI(P2P_MOD, "dropping peer %s (%s): %s", lbl, p->info.outbound ? "outbound" : "inbound", why);
  else if ((was == PS_HANDSHAKE || was == PS_ACCEPTED) && reason != COHORT_OK)
    LOGI(P2P_MOD, "closing %s connection %s before it came up: %s",
         p->info.outbound ? "outbound" : "inbound", lbl, why);
  else
    LOGD(P2P_MOD, "closing connection %s: %s", lbl, why);
  p->state = PS_CLOSING;
  p->close_reason = reason;
  p2p_switch_peer_gone(sw, p, was_up, reason);
  if (was_up && sw->cb.on_peer_down) sw->cb.on_peer_down(sw->ctx, &p->info, reason, why);
  free_queues(p);
  if (p->hs) {
    p2p_handshake_wipe(p->hs);
    free(p->hs);
    p->hs = NULL;
  }
  /* Keys are wiped now; the buffers stay until the struct is freed, because
   * a callback up the stack (on_message) may still be reading the message
   * that led here, and process() may still hold a frame. */
  if (p->rx) p2p_frame_dec_wipe(p->rx);
  p2p_frame_key_wipe(&p->tx);
  if (was == PS_RESOLVING) uv_cancel((uv_req_t *)&p->gai); /* its callback still comes */
  if (p->tcp_inited && !uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
}

/* ---- writing ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status) {
  p2p_write *w = (p2p_write *)req;
  p2p_peer *p = w->p;
  p->inflight -= w->len;
  p->refs--;
  free(w);
  if (p->state == PS_CLOSING) {
    maybe_free(p);
    return;
  }
  if (status < 0) {
    p2p_peer_close(p, COHORT_ERR_IO, "write failed: %s", uv_strerror(status));
    return;
  }
  p->full = 0; /* it reads: the stall clock restarts */
  p2p_peer_pump(p);
}

/* Hand w to libuv (consumed). Returns 0 or closes p. */
static int submit(p2p_peer *p, p2p_write *w) {
  w->p = p;
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
  int r = uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_write);
  if (r != 0) {
    free(w);
    p2p_peer_close(p, COHORT_ERR_IO, "write failed: %s", uv_strerror(r));
    return -1;
  }
  p->refs++;
  p->inflight += w->len;
  p->info.bytes_sent += w->len;
  p->sw->st.wire_sent += w->len;
  return 0;
}

static int write_raw(p2p_peer *p, const uint8_t *data, size_t len) {
  p2p_write *w = malloc(sizeof *w + len);
  if (!w) {
    p2p_peer_close(p, COHORT_ERR_NOMEM, "out of memory");
    return -1;
  }
  memcpy(w->data, data, len);
  w->len = len;
  return submit(p, w);
}

static int next_channel(const p2p_peer *p) {
  for (int c = 0; c < P2P_CH_COUNT; c++)
    if (p->q[c].head) return c;
  return -1;
}

static void pop_head(p2p_peer *p, int c) {
  p2p_chq *q = &p->q[c];
  p2p_qitem *it = q->head;
  q->head = it->next;
  if (!q->head) q->tail = NULL;
  q->bytes -= it->b->len;
  p->q_bytes -= it->b->len;
  q->count--;
  q->off = 0;
  q->started = 0;
  p2p_msgbuf_unref(it->b);
  free(it);
}

void p2p_peer_pump(p2p_peer *p) {
  p2p_switch *sw = p->sw;
  uint8_t plain[P2P_FRAME_MAX_PLAIN];
  while ((p->state == PS_UP || p->state == PS_ACCEPTED) && p->inflight < P2P_WRITE_WINDOW &&
         next_channel(p) >= 0) {
    p2p_write *w = malloc(sizeof *w + P2P_WRITE_BATCH);
    if (!w) {
      p2p_peer_close(p, COHORT_ERR_NOMEM, "out of memory for a write");
      return;
    }
    w->len = 0;
    int c;
    while (w->len + P2P_FRAME_MAX_WIRE <= P2P_WRITE_BATCH && (c = next_channel(p)) >= 0) {
      p2p_chq *q = &p->q[c];
      p2p_msgbuf *b = q->head->b;
      size_t taken;
      size_t fl = p2p_env_frame(plain, (uint8_t)c, b->data, b->len, q->off, !q->started, &taken);
      int rc = p2p_frame_seal(&p->tx, w->data + w->len, plain, fl);
      if (rc) {
        free(w);
        p2p_peer_close(p, rc, "cannot seal a frame: the session's counter is exhausted");
        return;
      }
      w->len += P2P_FRAME_OVERHEAD + fl;
      q->started = 1;
      q->off += taken;
      sw->st.msg_bytes_sent[c] += taken;
      if (q->off == b->len) {
        sw->st.msgs_sent[c]++;
        pop_head(p, c);
      }
    }
    if (submit(p, w) != 0) return;
  }
}

/* Drop the oldest message of channel c that has not started to go out. */
static int evict_one(p2p_peer *p, int c) {
  p2p_chq *q = &p->q[c];
  p2p_qitem *prev = NULL, *it = q->head;
  if (it && q->started) {
    prev = it;
    it = it->next;
  }
  if (!it) return 0;
  if (prev)
    prev->next = it->next;
  else
    q->head = it->next;
  if (q->tail == it) q->tail = prev;
  q->bytes -= it->b->len;
  p->q_bytes -= it->b->len;
  q->count--;
  p->sw->st.msgs_dropped[c]++;
  p2p_msgbuf_unref(it->b);
  free(it);
  return 1;
}

int p2p_peer_enqueue(p2p_peer *p, int ch, p2p_msgbuf *b) {
  p2p_switch *sw = p->sw;
  p2p_chq *q = &p->q[ch];
  int fits = (q->count == 0 || q->bytes + b->len <= sw->qcap[ch]) && q->count < P2P_QUEUE_MAX_MSGS;
  if (fits) {
    /* Over the peer's total: lower priorities give way, lowest first. */
    for (int c = P2P_CH_COUNT - 1; c > ch && p->q_bytes && p->q_bytes + b->len > sw->peer_qcap; c--)
      while (p->q_bytes + b->len > sw->peer_qcap && evict_one(p, c)) {
      }
    if (p->q_bytes && p->q_bytes + b->len > sw->peer_qcap) fits = 0;
  }
  if (!fits) {
    sw->st.msgs_dropped[ch]++;
    if (!p->full) {
      p->full = 1;
      p->full_since_ms = uv_now(sw->loop);
    }
    return COHORT_ERR_QUEUE_FULL;
  }
  p2p_qitem *it = malloc(sizeof *it);
  if (!it) return COHORT_ERR_NOMEM;
  it->b = b;
  it->next = NULL;
  b->refs++;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->bytes += b->len;
  q->count++;
  p->q_bytes += b->len;
  return COHORT_OK;
}

int p2p_peer_send_ctl(p2p_peer *p, const p2p_ctl *c) {
  uint8_t *m;
  size_t n;
  int rc = p2p_ctl_encode(c, &m, &n);
  if (rc) return rc;
  p2p_msgbuf *b = malloc(sizeof *b + n);
  if (!b) {
    free(m);
    return COHORT_ERR_NOMEM;
  }
  b->refs = 1;
  b->len = n;
  memcpy(b->data, m, n);
  free(m);
  rc = p2p_peer_enqueue(p, P2P_CH_CONTROL, b);
  p2p_msgbuf_unref(b);
  if (rc == COHORT_OK) p2p_peer_pump(p);
  return rc;
}

/* ---- reading ------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  p2p_peer *p = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)p->rbuf, sizeof p->rbuf);
}

/* Token buckets in thousandths of a message (or byte): they refill at the
 * configured rate and hold two seconds' worth (the switch keeps rates below
 * 1e12 so none of this overflows). */
static uint64_t bucket(uint64_t tok, uint64_t rate, uint64_t el) {
  uint64_t cap = rate * 2000;
  if (el >= 2000) return cap;
  uint64_t t = tok + el * rate;
  return t > cap ? cap : t;
}

static void refill(p2p_peer *p, uint64_t now) {
  p2p_switch *sw = p->sw;
  uint64_t el = now > p->rl_ms ? now - p->rl_ms : 0;
  p->rl_ms = now;
  if (sw->rate_msgs != P2P_UNLIMITED) p->tok_msgs = bucket(p->tok_msgs, sw->rate_msgs, el);
  if (sw->rate_bytes != P2P_UNLIMITED) p->tok_bytes = bucket(p->tok_bytes, sw->rate_bytes, el);
}

static int deliver(p2p_peer *p, uint8_t ch, const uint8_t *msg, size_t len) {
  p2p_switch *sw = p->sw;
  if (sw->rate_msgs != P2P_UNLIMITED) {
    if (p->tok_msgs < 1000) {
      char why[128];
      snprintf(why, sizeof why, "flood: more than %llu messages/s (bursts of %llu)",
               (unsigned long long)sw->rate_msgs, (unsigned long long)(2 * sw->rate_msgs));
      p2p_switch_offence(sw, p, P2P_BAN_POINTS, COHORT_ERR_TOO_LARGE, why);
      return -1;
    }
    p->tok_msgs -= 1000;
  }
  sw->st.msgs_recv[ch]++;
  sw->st.msg_bytes_recv[ch] += len;
  if (ch == P2P_CH_CONTROL) {
    p2p_ctl c;
    core_errbuf eb;
    int rc = p2p_ctl_decode(msg, len, &c, &eb);
    if (rc == COHORT_ERR_NOMEM) {
      p2p_peer_close(p, rc, "%s", eb.msg);
      return -1;
    }
    if (rc) {
      char why[300];
      snprintf(why, sizeof why, "bad control message: %s", eb.msg);
      p2p_switch_offence(sw, p, P2P_BAN_POINTS, rc, why);
      return -1;
    }
    p2p_switch_on_control(sw, p, &c);
    p2p_ctl_free(&c);
  } else if (sw->cb.on_message) {
    sw->cb.on_message(sw->ctx, &p->info, ch, msg, len);
  }
  return p->state == PS_UP ? 0 : -1;
}

static void handshake_done(p2p_peer *p) {
  p2p_session s;
  p2p_handshake_session(p->hs, &s);
  free(p->hs);
  p->hs = NULL;
  p->rx = malloc(sizeof *p->rx);
  if (!p->rx) {
    p2p_session_wipe(&s);
    p2p_peer_close(p, COHORT_ERR_NOMEM, "out of memory after the handshake");
    return;
  }
  p->tx = s.tx;
  p2p_frame_dec_init(p->rx, &s.rx, P2P_FRAME_MAX_PLAIN);
  memcpy(p->info.id, s.peer.id, sizeof p->info.id);
  memcpy(p->info.pubkey, s.peer.pubkey, 32);
  memcpy(p->info.moniker, s.peer.moniker, sizeof p->info.moniker);
  /* Where it says it listens; the switch turns it into a dial address. */
  memcpy(p->info.dial_addr, s.peer.listen_addr, sizeof p->info.dial_addr);
  p2p_session_wipe(&s);
  p2p_switch_peer_ready(p->sw, p);
}

static void process(p2p_peer *p, const uint8_t *data, size_t n) {
  p2p_switch *sw = p->sw;
  size_t off = 0;
  while (off < n &&
         (p->state == PS_HANDSHAKE || p->state == PS_ACCEPTED || p->state == PS_UP)) {
    core_errbuf eb;
    size_t used = 0;
    if (p->state == PS_HANDSHAKE) {
      int r = p2p_handshake_feed(p->hs, data + off, n - off, &used, &eb);
      off += used;
      uint8_t out[P2P_HS_OUT_MAX];
      size_t on = p2p_handshake_take(p->hs, out, sizeof out);
      if (on && write_raw(p, out, on) != 0) return;
      if (r < 0) {
        sw->st.handshakes_failed++;
        char why[300];
        snprintf(why, sizeof why, "handshake failed: %s", eb.msg);
        int bad = r == COHORT_ERR_DECODE || r == COHORT_ERR_SIGNATURE ||
                  r == COHORT_ERR_TOO_LARGE || r == COHORT_ERR_KEY;
        if (bad)
          p2p_switch_offence(sw, p, P2P_BAN_POINTS, r, why);
        else
          p2p_peer_close(p, r, "%s", why);
        return;
      }
      if (r == P2P_HS_OK) handshake_done(p);
      continue;
    }
    const uint8_t *plain;
    size_t pl;
    int r = p2p_frame_dec_feed(p->rx, data + off, n - off, &used, &plain, &pl, &eb);
    off += used;
    if (r < 0) {
      char why[300];
      snprintf(why, sizeof why, "bad frame: %s", eb.msg);
      p2p_switch_offence(sw, p, P2P_BAN_POINTS, r, why);
      return;
    }
    if (r == P2P_FRAME_MORE) break;
    if (p->state == PS_ACCEPTED && p2p_switch_peer_up(sw, p) != 0) return;
    uint8_t ch;
    const uint8_t *msg;
    size_t ml;
    r = p2p_asm_feed(&p->as, plain, pl, &ch, &msg, &ml, &eb);
    if (r == COHORT_ERR_NOMEM) {
      p2p_peer_close(p, r, "%s", eb.msg);
      return;
    }
    if (r < 0) {
      char why[300];
      snprintf(why, sizeof why, "bad message envelope: %s", eb.msg);
      p2p_switch_offence(sw, p, P2P_BAN_POINTS, r, why);
      return;
    }
    if (r == P2P_ENV_MSG && deliver(p, ch, msg, ml) != 0) return;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  p2p_peer *p = s->data;
  (void)buf;
  if (p->state == PS_CLOSING) return;
  if (nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF)
      p2p_peer_close(p, COHORT_ERR_IO, "connection closed by the peer");
    else
      p2p_peer_close(p, COHORT_ERR_IO, "read failed: %s", uv_strerror((int)nread));
    return;
  }
  p2p_switch *sw = p->sw;
  p->info.bytes_recv += (uint64_t)nread;
  sw->st.wire_recv += (uint64_t)nread;
  int live = p->state == PS_UP || p->state == PS_ACCEPTED;
  if (live) refill(p, uv_now(sw->loop));
  if (live && sw->rate_bytes != P2P_UNLIMITED) {
    uint64_t cost = (uint64_t)nread * 1000;
    if (p->tok_bytes < cost) {
      char why[128];
      snprintf(why, sizeof why, "flood: more than %llu bytes/s (bursts of %llu)",
               (unsigned long long)sw->rate_bytes, (unsigned long long)(2 * sw->rate_bytes));
      p2p_switch_offence(sw, p, P2P_BAN_POINTS, COHORT_ERR_TOO_LARGE, why);
      return;
    }
    p->tok_bytes -= cost;
  }
  process(p, p->rbuf, (size_t)nread);
}

/* ---- connecting --------------------------------------------------------- */

/* "IP:PORT" (bracketed for IPv6) of a socket address; the IP alone in ip. */
static void name_of(const struct sockaddr_storage *ss, char *ip, size_t ipcap, char *addr,
                    size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    snprintf(ip, ipcap, "%s", host);
    snprintf(addr, cap, "%s:%d", host, port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
    const char *h = host;
    if (strncmp(h, "::ffff:", 7) == 0 && strchr(h + 7, '.')) { /* IPv4-mapped */
      h += 7;
      snprintf(ip, ipcap, "%s", h);
      snprintf(addr, cap, "%s:%d", h, port);
    } else {
      snprintf(ip, ipcap, "%s", h);
      snprintf(addr, cap, "[%s]:%d", h, port);
    }
  }
}

static void remote_name(p2p_peer *p) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0)
    name_of(&ss, p->ip, sizeof p->ip, p->info.addr, sizeof p->info.addr);
}

static void on_connect(uv_connect_t *req, int status) {
  p2p_peer *p = req->data;
  p->refs--;
  if (p->state == PS_CLOSING) {
    maybe_free(p);
    return;
  }
  if (status < 0) {
    p2p_peer_close(p, COHORT_ERR_IO, "connect failed: %s", uv_strerror(status));
    return;
  }
  remote_name(p);
  start_handshake(p);
}

static void connect_to(p2p_peer *p, const struct sockaddr *sa) {
  p->state = PS_CONNECTING;
  p->creq.data = p;
  int r = uv_tcp_connect(&p->creq, &p->tcp, sa, on_connect);
  if (r != 0) {
    p2p_peer_close(p, COHORT_ERR_IO, "connect failed: %s", uv_strerror(r));
    return;
  }
  p->refs++;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  p2p_peer *p = req->data;
  p->refs--;
  if (p->state == PS_CLOSING) {
    if (res) uv_freeaddrinfo(res);
    maybe_free(p);
    return;
  }
  if (status < 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    p2p_peer_close(p, COHORT_ERR_IO, "cannot resolve %s: %s", p->dial.host, uv_strerror(status));
    return;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, res->ai_addr, res->ai_addrlen);
  uv_freeaddrinfo(res);
  connect_to(p, (struct sockaddr *)&ss);
}

void p2p_peer_dial(p2p_peer *p, const p2p_book_entry *e) {
  p->info.outbound = 1;
  p->info.persistent = (e->flags & BOOK_PERSISTENT) != 0;
  p->dial = e->hp;
  memcpy(p->dial_id, e->id, sizeof p->dial_id);
  snprintf(p->info.addr, sizeof p->info.addr, "%s", e->hp.addr);
  if (e->hp.kind == P2P_HOST_NAME) {
    p->state = PS_RESOLVING;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)e->hp.port);
    p->gai.data = p;
    int r = uv_getaddrinfo(p->sw->loop, &p->gai, on_resolved, e->hp.host, port, &hints);
    if (r != 0) {
      p->state = PS_CONNECTING; /* nothing to cancel */
      p2p_peer_close(p, COHORT_ERR_IO, "cannot resolve %s: %s", e->hp.host, uv_strerror(r));
      return;
    }
    p->refs++;
    return;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  int r = e->hp.kind == P2P_HOST_IPV4
              ? uv_ip4_addr(e->hp.host, e->hp.port, (struct sockaddr_in *)&ss)
              : uv_ip6_addr(e->hp.host, e->hp.port, (struct sockaddr_in6 *)&ss);
  if (r != 0) {
    p->state = PS_CONNECTING;
    p2p_peer_close(p, COHORT_ERR_ADDRESS, "bad address %s", e->hp.addr);
    return;
  }
  connect_to(p, (struct sockaddr *)&ss);
}

int p2p_peer_accept(p2p_peer *p, uv_stream_t *server) {
  p->state = PS_CONNECTING;
  int r = uv_accept(server, (uv_stream_t *)&p->tcp);
  if (r != 0) return r;
  remote_name(p);
  return 0;
}

/* Keep little unsent data in the kernel: what the kernel holds is sent in
 * order, so a vote queued behind megabytes of blocks there would wait for
 * them; held back here, it overtakes them (p2p_peer_pump sends by channel
 * priority). Linux only; elsewhere the kernel buffers as it likes. */
static void limit_kernel_backlog(p2p_peer *p) {
#ifdef TCP_NOTSENT_LOWAT
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0) {
    int v = P2P_NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v);
  }
#else
  (void)p;
#endif
}

static void start_handshake(p2p_peer *p) {
  p2p_switch *sw = p->sw;
  p->state = PS_HANDSHAKE;
  uv_tcp_nodelay(&p->tcp, 1);
  limit_kernel_backlog(p);
  p->hs = malloc(sizeof *p->hs);
  if (!p->hs) {
    p2p_peer_close(p, COHORT_ERR_NOMEM, "out of memory for the handshake");
    return;
  }
  p2p_hs_config c = {.initiator = p->info.outbound,
                     .chain_id = sw->chain_id,
                     .identity_sec = sw->sec,
                     .eph_sec = NULL,
                     .listen_addr = sw->advertise,
                     .moniker = sw->moniker,
                     .expect_id = p->info.outbound ? p->dial_id : NULL};
  core_errbuf eb;
  int rc = p2p_handshake_init(p->hs, &c, &eb);
  if (rc) {
    p2p_peer_close(p, rc, "cannot start the handshake: %s", eb.msg);
    return;
  }
  rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
  if (rc) {
    p2p_peer_close(p, COHORT_ERR_IO, "read failed: %s", uv_strerror(rc));
    return;
  }
  uint8_t out[P2P_HS_OUT_MAX];
  size_t n = p2p_handshake_take(p->hs, out, sizeof out);
  if (n) write_raw(p, out, n);
}

void p2p_peer_start(p2p_peer *p) { start_handshake(p); }
