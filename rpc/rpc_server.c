/* rpc/rpc_server.c — the JSON-RPC 2.0 HTTP server, on a thread of its own.
 *
 * Threads. rpc_server_new (on the owner's thread, e.g. cohortd's consensus
 * loop) binds the socket and starts the RPC thread, which runs the server's
 * own libuv loop: every socket, timer, parse, dispatch, render and write of
 * the server happens there, so nothing a client does can delay the owner.
 * The threads meet at three queues, all under s->mu and each woken by a
 * uv_async:
 *
 *   posts     answers given on another thread (rpc_call_reply/_error from
 *             the owner or a worker) -> the RPC thread renders and sends
 *   pubs      events from rpc_server_publish (bounded: publish_queue) ->
 *             the RPC thread fans them out through the subscription index
 *   owner box functions from rpc_call_run_on_owner -> the owner's loop runs
 *             them (at most OWNER_BATCH per wake-up, so the owner's own
 *             timers interleave)
 *
 * Lifetime: the server struct is reference-counted (1 for the server, 1 per
 * live job), because calls outlive connections and even the server: an
 * answer given after rpc_server_close is processed on the answering thread,
 * under s->mu (s->open is then 0), and dropped. The RPC thread ends when
 * rpc_server_close asks it to (stop_req): listener and connections closed,
 * the wake handle unreferenced so the loop returns once the last connection
 * and the last thread-pool job (simulations) are done.
 *
 * One listener, a list of connections, and per connection an rpc_http reader
 * (rpc_http.c), an input buffer, one timer and at most one request in
 * flight. A connection moves through these states:
 *
 *   (accept) -> refused (503, closed at once) when its address is at
 *            max_conns_per_ip, or the table is at max_conns and no idle
 *            keep-alive connection can be evicted to make room.
 *   READING  waiting for a whole request; the timer is the request deadline
 *            (idle_timeout_ms from the end of the previous response), so an
 *            idle keep-alive client and a slowloris are both dropped. While
 *            nothing of a request has arrived, the connection is idle and
 *            may be evicted for a newcomer (oldest idle first). Body bytes
 *            count against the address's and the server's buffer budgets: a
 *            body that would exceed them gets 503 and the connection closes.
 *   BUSY     a POST is dispatched and some handler has not answered; no
 *            deadline (the handler owns it; the address's in-flight budget
 *            bounds how many such calls it holds). Bytes the client
 *            pipelines are kept in the input buffer; when it is full reading
 *            stops, so a client cannot make us buffer without bound. EOF or
 *            a read error here means the client went away: the connection
 *            closes and the calls see rpc_call_client_alive() == 0.
 *   WRITING  one response is being written; the per-connection timer drops
 *            a client that takes none of it for idle_timeout_ms, and the
 *            sweep timer drops one that has not taken all of it within
 *            write_timeout_ms (trickling readers too), freeing the buffer.
 *            Only after the write completes is the next request parsed: a
 *            client holds at most one unread response.
 *   LINGER   after a response with "Connection: close": our side is shut
 *            down and the client's remaining bytes are read and discarded
 *            (bounded in bytes and time) so the kernel does not reset the
 *            connection before the client has read our answer (e.g. a 413
 *            sent while the oversize body is still arriving).
 *   CLOSING  uv_close issued on both handles; freed by the last close
 *            callback. No longer counted against any limit.
 *   WS       after a GET /websocket handshake within max_ws / max_ws_per_ip
 *            (route): rpc_ws.c owns the connection's input, output and timer
 *            from then on; its calls go through rpc_dispatch like a POST's,
 *            several at a time.
 *
 * Answers: each call's answer is rendered to text as soon as it is given,
 * within what is left of the job's cap (max_response_bytes, and the
 * address's and the server's buffer budgets); an answer that does not fit
 * becomes an RPC_LIMIT_EXCEEDED error, and once a batch is full every later
 * answer does ("cut"). The job (one POST body or WebSocket message) holds
 * its calls and a pointer to its connection, cleared when the connection
 * closes; it is freed when its last call is answered, whether or not anyone
 * is listening.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_server_int.h"

#define MOD "rpc"
#define LINGER_MS 2000              /* at most this long in LINGER */
#define LINGER_MAX_BYTES (8u << 20) /* nor discard more than this */
#define OWNER_BATCH 64              /* owner functions run per wake-up */

static void pump(conn *c);
static void conn_close(conn *c);
static void on_timer(uv_timer_t *t);
static void start_reading(conn *c);
static void server_unref(rpc_server *s);

uint64_t rpc_loop_ms(rpc_server *s) { return uv_now(&s->loop); }

/* ---- client addresses ---------------------------------------------------- */

static uint64_t peer_seed;

static size_t peer_hash(const char *k, size_t nb) {
  uint64_t h = 1469598103934665603ull ^ peer_seed;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
  return (size_t)(h % nb);
}

static rpc_peer *peer_find(rpc_server *s, const char *key) {
  for (rpc_peer *p = s->peers[peer_hash(key, s->n_peer_buckets)]; p;
       p = p->next)
    if (strcmp(p->key, key) == 0) return p;
  return NULL;
}

/* The entry for key with a reference taken, created if needed; NULL on no
 * memory. */
static rpc_peer *peer_get(rpc_server *s, const char *key) {
  rpc_peer *p = peer_find(s, key);
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->key, sizeof p->key, "%s", key);
    size_t b = peer_hash(key, s->n_peer_buckets);
    p->next = s->peers[b];
    s->peers[b] = p;
    s->n_peers++;
  }
  p->refs++;
  return p;
}

static void peer_unref(rpc_server *s, rpc_peer *p) {
  if (!p || --p->refs > 0) return;
  rpc_peer **pp = &s->peers[peer_hash(p->key, s->n_peer_buckets)];
  while (*pp != p) pp = &(*pp)->next;
  *pp = p->next;
  s->n_peers--;
  free(p);
}

/* The limit key of an address: IPv4 as is (also when IPv4-mapped), IPv6 by
 * its /64 (one subscriber's usual allocation). name gets "addr:port". */
static void addr_key(const struct sockaddr_storage *ss, char key[RPC_PEER_KEY],
                     char name[64]) {
  char host[INET6_ADDRSTRLEN] = "?";
  snprintf(key, RPC_PEER_KEY, "?");
  snprintf(name, 64, "?");
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    snprintf(name, 64, "[%s]:%d", host, ntohs(a->sin6_port));
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, key, RPC_PEER_KEY);
    } else {
      struct in6_addr net = a->sin6_addr;
      memset(net.s6_addr + 8, 0, 8);
      char nh[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &net, nh, sizeof nh);
      snprintf(key, RPC_PEER_KEY, "%s/64", nh);
    }
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    snprintf(key, RPC_PEER_KEY, "%s", host);
    snprintf(name, 64, "%s:%d", host, ntohs(a->sin_port));
  }
}

/* ---- buffer accounting --------------------------------------------------- */

static void acct_add(rpc_server *s, rpc_peer *p, long long n) {
  if (p) p->buffered = (size_t)((long long)p->buffered + n);
  s->buffered = (size_t)((long long)s->buffered + n);
  atomic_store(&s->a_buffered, s->buffered);
}

void rpc_account(conn *c, long long n) { acct_add(c->s, c->peer, n); }

/* Bytes an address may still be given: the least of its own budget and the
 * server's. */
static size_t budget_left(rpc_server *s, rpc_peer *p) {
  size_t a =
      p && p->buffered < s->client_buffer ? s->client_buffer - p->buffered : 0;
  size_t g = s->buffered < s->max_buffer ? s->max_buffer - s->buffered : 0;
  if (!p) a = g;
  return a < g ? a : g;
}

/* Keep the request body's buffer counted. */
static void acct_body(conn *c) {
  size_t now = c->state == C_CLOSING ? 0 : c->http.body_cap;
  if (now != c->acct_in) {
    rpc_account(c, (long long)now - (long long)c->acct_in);
    c->acct_in = now;
  }
}

/* ---- teardown ------------------------------------------------------------ */

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles > 0) return;
  rpc_server *s = c->s;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  atomic_fetch_sub(&s->n_conns, 1);
  if (s->n_live < s->max_conns / 2) s->warned_full = 0;
  rpc_ws_conn_free(c);
  rpc_http_free(&c->http);
  peer_unref(s, c->peer);
  free(c->in);
  free(c);
}

/* Idempotent. Detaches the pending job so late answers are dropped, and
 * stops counting c against any limit. */
static void conn_close(conn *c) {
  if (c->state == C_CLOSING) return;
  rpc_server *s = c->s;
  c->state = C_CLOSING;
  if (c->job) {
    c->job->c = NULL;
    atomic_store(&c->job->alive, 0);
    c->job = NULL;
  }
  if (c->ws) rpc_ws_detach(c);
  if (c->admitted) {
    c->admitted = 0;
    s->n_live--;
    c->peer->n_conns--;
  }
  if (c->ws_counted) {
    c->ws_counted = 0;
    s->n_ws--;
    c->peer->n_ws--;
  }
  acct_body(c);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void rpc_conn_close(conn *c) { conn_close(c); }

/* Drop a client that missed a deadline: reset the connection (SO_LINGER 0)
 * so the kernel discards what it still holds for it too, instead of
 * trickling it out after the close. */
static void conn_abort(conn *c) {
  uv_os_fd_t fd;
  if (c->state != C_CLOSING && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  conn_close(c);
}

void rpc_conn_abort(conn *c) { conn_abort(c); }

/* A JSON text (malloc'd, or NULL) of an error response with id null. */
static char *error_body(int code, const char *msg, size_t *len) {
  json_t *o = rpc_error_object(NULL, code, msg, NULL);
  char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  *len = txt ? strlen(txt) : 0;
  return txt;
}

/* ---- writing ------------------------------------------------------------- */

static void linger(conn *c) {
  c->state = C_LINGER;
  c->in_off = c->in_len = 0;
  c->lingered = 0;
  uint64_t ms = c->s->idle_ms < LINGER_MS ? c->s->idle_ms : LINGER_MS;
  uv_timer_start(&c->timer, on_timer, ms, 0);
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, NULL) != 0) {
    conn_close(c);
    return;
  }
  start_reading(c);
}

static void on_write(uv_write_t *req, int status) {
  conn *c = req->data;
  free(c->whead);
  free(c->wbody);
  c->whead = c->wbody = NULL;
  /* Also on UV_ECANCELED from a close: the buffer is gone either way. */
  rpc_account(c, -(long long)c->acct_out);
  c->acct_out = 0;
  if (c->state == C_CLOSING) return;
  if (status < 0) {
    LOGD(MOD, "dropping %s: write failed: %s", c->name, uv_strerror(status));
    conn_close(c);
    return;
  }
  if (c->close_after) {
    linger(c);
    return;
  }
  rpc_http_next(&c->http);
  acct_body(c);
  c->state = C_READING;
  c->idle_since = rpc_loop_ms(c->s);
  uv_timer_start(&c->timer, on_timer, c->s->idle_ms, 0);
  start_reading(c);
  pump(c);
}

static const char *reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

/* Write one response and move to WRITING. body (malloc'd, may be NULL) is
 * consumed. extra is more header lines ("Allow: POST\r\n") or NULL. */
static void respond(conn *c, int status, const char *ctype, char *body,
                    size_t len, const char *extra) {
  rpc_server *s = c->s;
  if (c->state == C_CLOSING) {
    free(body);
    return;
  }
  int keep = c->http.state == RPC_HTTP_DONE && c->http.keep_alive &&
             !c->close_after && !s->closing;
  c->close_after = !keep;
  char head[512];
  int n;
  if (status == 204)
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 204 No Content\r\n%sConnection: %s\r\n\r\n",
                 extra ? extra : "", keep ? "keep-alive" : "close");
  else
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "%sConnection: %s\r\n\r\n",
                 status, reason(status), ctype, body ? len : 0,
                 extra ? extra : "", keep ? "keep-alive" : "close");
  c->whead = malloc((size_t)n + 1);
  if (!c->whead) {
    free(body);
    conn_close(c);
    return;
  }
  memcpy(c->whead, head, (size_t)n + 1);
  c->wbody = body;
  c->acct_out = (size_t)n + (body ? len : 0);
  rpc_account(c, (long long)c->acct_out);
  uv_buf_t bufs[2] = {uv_buf_init(c->whead, (unsigned)n),
                      uv_buf_init(body, body ? (unsigned)len : 0)};
  c->state = C_WRITING;
  if (status >= 200 && status < 600)
    atomic_fetch_add(&s->n_status[status / 100], 1);
  c->wq_last = SIZE_MAX;
  c->write_start = rpc_loop_ms(s);
  uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, body && len ? 2 : 1,
                    on_write);
  if (rc < 0) {
    LOGD(MOD, "dropping %s: write failed: %s", c->name, uv_strerror(rc));
    free(c->whead);
    free(c->wbody);
    c->whead = c->wbody = NULL;
    rpc_account(c, -(long long)c->acct_out);
    c->acct_out = 0;
    conn_close(c);
  }
}

/* An error that is not about one call: JSON-RPC error with id null. */
static void respond_error(conn *c, int status, int code, const char *msg,
                          const char *extra) {
  size_t len;
  char *body = error_body(code, msg, &len);
  respond(c, status, "application/json", body, len, extra);
}

/* ---- rendering answers --------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap, limit;
  int over;
} capbuf;

static int capbuf_put(const char *b, size_t n, void *arg) {
  capbuf *w = arg;
  if (n > w->limit - w->len) {
    w->over = 1;
    return -1;
  }
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1) cap *= 2;
    char *np = realloc(w->p, cap);
    if (!np) return -1;
    w->p = np;
    w->cap = cap;
  }
  memcpy(w->p + w->len, b, n);
  w->len += n;
  w->p[w->len] = 0;
  return 0;
}

/* Render v as compact JSON of at most limit bytes: 0 with *out (malloc'd,
 * NUL-ended), 1 if it is longer (nothing allocated), -1 on no memory. The
 * dump stops as soon as the limit is passed, so a huge value costs no more
 * than limit bytes. */
static int dump_capped(const json_t *v, size_t limit, char **out, size_t *len) {
  capbuf w = {.limit = limit};
  int rc =
      json_dump_callback(v, capbuf_put, &w, JSON_COMPACT | JSON_ENCODE_ANY);
  if (rc != 0 || !w.p) {
    free(w.p);
    return w.over ? 1 : -1;
  }
  *out = w.p;
  *len = w.len;
  return 0;
}

/* ---- calls and jobs ------------------------------------------------------ */

static void job_free(job *j) {
  rpc_server *s = j->s;
  for (size_t i = 0; i < j->n; i++) {
    free(j->txt[i]);
    json_decref(j->calls[i].id);
  }
  if (j->bytes) acct_add(s, j->peer, -(long long)j->bytes);
  if (j->inflight) j->peer->inflight -= j->inflight;
  peer_unref(s, j->peer);
  free(j->txt);
  free(j->txt_len);
  free(j);
  /* Never the last reference here: the server's own, or the one taken by
   * the answering thread (answer_later), is still held. */
  atomic_fetch_sub(&s->refs, 1);
}

/* Every call answered: send the answers (if the client is still there). */
static void job_finish(job *j) {
  conn *c = j->c;
  if (c) {
    size_t k = 0, total = 0;
    for (size_t i = 0; i < j->n; i++)
      if (j->txt[i]) k++, total += j->txt_len[i];
    char *out = NULL;
    size_t olen = 0;
    int oom = 0;
    if (k && !j->batch) {
      out = j->txt[0];
      olen = j->txt_len[0];
      j->txt[0] = NULL;
    } else if (k) {
      olen = total + (k - 1) + 2;
      out = malloc(olen + 1);
      if (out) {
        size_t o = 0;
        out[o++] = '[';
        for (size_t i = 0; i < j->n; i++) {
          if (!j->txt[i]) continue;
          if (o > 1) out[o++] = ',';
          memcpy(out + o, j->txt[i], j->txt_len[i]);
          o += j->txt_len[i];
        }
        out[o++] = ']';
        out[o] = 0;
      } else {
        oom = 1;
      }
    }
    /* The texts move to the connection, which counts them from now on. */
    acct_add(j->s, j->peer, -(long long)j->bytes);
    j->bytes = 0;
    if (c->ws) {
      if (oom)
        rpc_ws_send_json(c, rpc_error_object(NULL, RPC_INTERNAL_ERROR,
                                             "out of memory building the "
                                             "batch response",
                                             NULL));
      rpc_ws_job_finish(c, j, out, olen);
    } else {
      c->job = NULL;
      if (oom)
        respond_error(c, 500, RPC_INTERNAL_ERROR,
                      "out of memory building the batch response", NULL);
      else if (!k)
        respond(c, 204, NULL, NULL, 0, NULL);
      else
        respond(c, j->status, "application/json", out, olen, NULL);
    }
  }
  job_free(j);
}

static void job_release(job *j) {
  if (--j->pending == 0) job_finish(j);
}

/* Render call's response (consumed) within what the job may still hold. */
static void render_answer(rpc_call *call, json_t *resp) {
  job *j = call->j;
  rpc_server *s = j->s;
  size_t i = (size_t)(call - j->calls);
  size_t sep = j->batch ? 1 : 0;
  size_t room =
      j->cut || j->bytes + sep >= j->cap ? 0 : j->cap - j->bytes - sep;
  size_t left = budget_left(s, j->peer);
  int by_budget = left < room;
  if (by_budget) room = left;
  char *txt = NULL;
  size_t len = 0;
  int rc = resp ? dump_capped(resp, room, &txt, &len) : -1;
  if (rc != 0) {
    char msg[320];
    json_t *data = NULL;
    if (rc < 0) {
      snprintf(msg, sizeof msg, "out of memory rendering the answer");
    } else {
      atomic_fetch_add(&s->n_too_big, 1);
      if (by_budget) {
        snprintf(msg, sizeof msg,
                 "answer refused: the unsent answers held for your address "
                 "(%s) reach its buffer limit (client_buffer_bytes %zu, "
                 "server max_buffer_bytes %zu); read your earlier answers "
                 "first",
                 j->peer_key, s->client_buffer, s->max_buffer);
      } else if (j->batch && (j->bytes > 0 || j->cut)) {
        snprintf(msg, sizeof msg,
                 "batch answer cut: the answers before this one fill the "
                 "response limit of %zu bytes (max_response_bytes); send "
                 "fewer calls per batch",
                 j->cap);
      } else {
        snprintf(msg, sizeof msg,
                 "the answer is larger than the response limit of %zu bytes "
                 "(max_response_bytes); ask for less (e.g. block with a "
                 "smaller txs_limit)",
                 j->cap);
      }
      data = json_pack("{s:I}", "limit",
                       (json_int_t)(by_budget ? s->client_buffer : j->cap));
      j->cut = j->cut || !by_budget;
    }
    json_t *err = rpc_error_object(
        call->id, rc < 0 ? RPC_INTERNAL_ERROR : RPC_LIMIT_EXCEEDED, msg, data);
    txt = err ? json_dumps(err, JSON_COMPACT) : NULL;
    len = txt ? strlen(txt) : 0;
    json_decref(err);
  }
  json_decref(resp);
  if (!txt) return; /* no memory even for the error: the call goes unanswered */
  j->txt[i] = txt;
  j->txt_len[i] = len;
  j->bytes += len + sep;
  acct_add(s, j->peer, (long long)(len + sep));
}

/* Record an answer on the RPC thread (or, once the server is closed, under
 * s->mu): build the response object if anyone listens, render it, release
 * the call. is_err: code/msg/val describe an error (val = data), else val
 * is the result. val is consumed. */
static void answer_now(rpc_call *c, int is_err, int code, const char *msg,
                       json_t *val) {
  job *j = c->j;
  if (c->respond && j->c) {
    json_t *resp;
    if (is_err)
      resp = rpc_error_object(c->id, code, msg, val);
    else
      resp = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", c->id,
                       "result", val ? val : json_null());
    if (!resp)
      resp = rpc_error_object(c->id, RPC_INTERNAL_ERROR, "out of memory", NULL);
    render_answer(c, resp);
  } else {
    json_decref(val);
  }
  if (j->inflight) {
    j->inflight--;
    j->peer->inflight--;
  }
  job_release(j);
}

static int on_rpc_thread(rpc_server *s) {
  if (!atomic_load(&s->rpc_running)) return 0;
  uv_thread_t self = uv_thread_self();
  return uv_thread_equal(&self, &s->self);
}

/* Handle a queued answer (on the RPC thread, or under s->mu at the end). */
static void answer_posted(rpc_call *c) {
  char *m = c->q_msg;
  answer_now(c, c->q_err, c->q_code, m ? m : "out of memory", c->q_val);
  free(m);
}

static void answer_later(rpc_call *c, int is_err, int code, const char *msg,
                         json_t *val) {
  rpc_server *s = c->j->s;
  char *m = msg ? strdup(msg) : NULL;
  if (msg && !m) { /* keep the call answered, if not as meant */
    is_err = 1;
    code = RPC_INTERNAL_ERROR;
  }
  atomic_fetch_add(&s->refs, 1); /* s outlives this function */
  uv_mutex_lock(&s->mu);
  if (s->open) {
    c->q_next = NULL;
    c->q_err = is_err;
    c->q_code = code;
    c->q_msg = m;
    c->q_val = val;
    if (s->posts_tail)
      s->posts_tail->q_next = c;
    else
      s->posts = c;
    s->posts_tail = c;
    /* Under the lock: the handle is closed only after open turns 0. */
    uv_async_send(&s->wake);
  } else {
    /* The RPC thread is gone: the answer is dropped here, serialized with
     * every other late answer by the lock. */
    answer_now(c, is_err, code, m ? m : "out of memory", val);
    free(m);
  }
  uv_mutex_unlock(&s->mu);
  server_unref(s);
}

static void answer(rpc_call *c, int is_err, int code, const char *msg,
                   json_t *val) {
  if (!c) {
    json_decref(val);
    return;
  }
  if (atomic_exchange(&c->answered, 1)) {
    LOGE(MOD, "a handler answered the same call twice; ignored");
    json_decref(val);
    return;
  }
  if (on_rpc_thread(c->j->s))
    answer_now(c, is_err, code, msg, val);
  else
    answer_later(c, is_err, code, msg, val);
}

void rpc_call_reply(rpc_call *c, json_t *result) {
  answer(c, 0, 0, NULL, result);
}

void rpc_call_error(rpc_call *c, int code, const char *msg, json_t *data) {
  answer(c, 1, code, msg ? msg : "", data);
}

int rpc_call_client_alive(const rpc_call *c) {
  return c && atomic_load(&c->j->alive);
}

const char *rpc_call_client_addr(const rpc_call *c) {
  return c ? c->j->peer_key : "";
}

uv_loop_t *rpc_call_loop(const rpc_call *c) { return &c->j->s->loop; }

/* ---- the owner's queue --------------------------------------------------- */

typedef struct owner_task {
  struct owner_task *next;
  void (*fn)(void *);
  void *arg;
} owner_task;

struct owner_box {
  uv_async_t async; /* on the owner's loop */
  rpc_server *s;
  owner_task *head, *tail;
};

static void on_owner(uv_async_t *a) {
  owner_box *ob = a->data;
  rpc_server *s = ob->s;
  owner_task *list = NULL, **tail = &list;
  int more = 0;
  uv_mutex_lock(&s->mu);
  for (int i = 0; i < OWNER_BATCH && ob->head; i++) {
    owner_task *t = ob->head;
    ob->head = t->next;
    t->next = NULL;
    *tail = t;
    tail = &t->next;
  }
  if (!ob->head) ob->tail = NULL;
  more = ob->head != NULL;
  /* Let the owner's timers run before the rest. */
  if (more) uv_async_send(&ob->async);
  uv_mutex_unlock(&s->mu);
  while (list) {
    owner_task *t = list;
    list = t->next;
    t->fn(t->arg);
    free(t);
  }
}

static void on_owner_closed(uv_handle_t *h) { free(h->data); }

int rpc_call_run_on_owner(rpc_call *c, void (*fn)(void *arg), void *arg) {
  rpc_server *s = c->j->s;
  if (!s->owner) return COHORT_ERR_INVALID;
  owner_task *t = malloc(sizeof *t);
  if (!t) return COHORT_ERR_NOMEM;
  t->next = NULL;
  t->fn = fn;
  t->arg = arg;
  int rc = COHORT_ERR_IO;
  uv_mutex_lock(&s->mu);
  owner_box *ob = s->ob;
  if (ob && !s->stop_req) {
    if (ob->tail)
      ob->tail->next = t;
    else
      ob->head = t;
    ob->tail = t;
    uv_async_send(&ob->async);
    rc = 0;
    t = NULL;
  }
  uv_mutex_unlock(&s->mu);
  free(t);
  return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

static const rpc_method *find_method(const rpc_server *s, const char *name) {
  for (size_t i = 0; i < s->n_methods; i++)
    if (strcmp(s->methods[i].name, name) == 0) return &s->methods[i];
  return NULL;
}

/* The id to answer an invalid request with: its own if usable, else null. */
static json_t *usable_id(const json_t *req) {
  json_t *id = json_object_get(req, "id");
  if (id && (json_is_string(id) || json_is_number(id))) return json_incref(id);
  return json_null();
}

/* A whole body refused before any call runs. */
static void refuse_body(conn *c, int status, int code, const char *msg) {
  if (c->ws)
    rpc_ws_send_json(c, rpc_error_object(NULL, code, msg, NULL));
  else
    respond_error(c, status, code, msg, NULL);
}

/* Total weight of a batch's calls (unknown methods and bad entries: 1). */
static uint64_t batch_weight(const rpc_server *s, json_t *req) {
  uint64_t w = 0;
  for (size_t i = 0; i < json_array_size(req); i++) {
    const char *name =
        json_string_value(json_object_get(json_array_get(req, i), "method"));
    const rpc_method *m = name ? find_method(s, name) : NULL;
    w += m && m->weight ? m->weight : 1;
  }
  return w;
}

void rpc_dispatch(conn *c, const char *body, size_t len) {
  rpc_server *s = c->s;
  core_errbuf eb;
  json_t *req;
  int rc = rpc_request_parse(body, len, s->max_batch, &req, &eb);
  if (rc) {
    refuse_body(c, 400, rc, eb.msg);
    return;
  }
  int batch = json_is_array(req);
  size_t n = batch ? json_array_size(req) : 1;
  char msg[256];
  if (batch) {
    uint64_t w = batch_weight(s, req);
    if (w > s->max_batch_weight) {
      json_decref(req);
      atomic_fetch_add(&s->n_limited, 1);
      snprintf(msg, sizeof msg,
               "batch weighs %llu, over the limit of %u (max_batch_weight; "
               "each method's weight is in docs/rpc.md): split it",
               (unsigned long long)w, s->max_batch_weight);
      refuse_body(c, 400, RPC_LIMIT_EXCEEDED, msg);
      return;
    }
  }
  if (c->peer->inflight + n > s->max_inflight_per_ip) {
    json_decref(req);
    atomic_fetch_add(&s->n_limited, 1);
    snprintf(msg, sizeof msg,
             "too many calls in flight from %s: %zu unanswered, limit %u "
             "(max_inflight_per_ip); wait for answers",
             c->peer->key, c->peer->inflight, s->max_inflight_per_ip);
    refuse_body(c, 429, RPC_LIMIT_EXCEEDED, msg);
    return;
  }
  job *j = calloc(1, sizeof *j + n * sizeof(rpc_call));
  char **txt = calloc(n, sizeof *txt);
  size_t *tl = calloc(n, sizeof *tl);
  if (!j || !txt || !tl) {
    free(j);
    free(txt);
    free(tl);
    json_decref(req);
    refuse_body(c, 500, RPC_INTERNAL_ERROR, "out of memory");
    return;
  }
  atomic_fetch_add(&s->refs, 1);
  j->s = s;
  j->c = c;
  atomic_init(&j->alive, 1);
  j->peer = c->peer;
  c->peer->refs++;
  snprintf(j->peer_key, sizeof j->peer_key, "%s", c->peer->key);
  j->batch = batch;
  j->status = 200;
  j->n = n;
  j->pending = n + 1; /* so no answer finishes the job while dispatching */
  j->txt = txt;
  j->txt_len = tl;
  j->cap = s->max_response;
  if (c->ws && s->ws_max_queue_bytes < j->cap) j->cap = s->ws_max_queue_bytes;
  j->inflight = n;
  c->peer->inflight += n;
  if (c->ws) {
    rpc_ws_job_start(c, j);
  } else {
    c->job = j;
    c->state = C_BUSY;
    uv_timer_stop(&c->timer);
  }
  for (size_t i = 0; i < n; i++) {
    rpc_call *call = &j->calls[i];
    call->j = j;
    atomic_init(&call->answered, 0);
    json_t *r = batch ? json_array_get(req, i) : req;
    if (rpc_request_validate(r, &eb) != 0) {
      call->id = usable_id(r);
      call->respond = 1;
      if (!batch) j->status = 400;
      rpc_call_error(call, RPC_INVALID_REQUEST, eb.msg, NULL);
      continue;
    }
    json_t *id = json_object_get(r, "id");
    call->id = id ? json_incref(id) : NULL;
    call->respond = id != NULL;
    const char *name = json_string_value(json_object_get(r, "method"));
    if (c->ws && rpc_ws_builtin(c, call, name, json_object_get(r, "params")))
      continue;
    const rpc_method *m = find_method(s, name);
    if (!m) {
      size_t nl = strlen(name);
      if (nl > 64) {
        /* Cut long names on a UTF-8 character boundary. */
        nl = 64;
        while (nl > 0 && ((unsigned char)name[nl] & 0xC0) == 0x80) nl--;
      }
      snprintf(msg, sizeof msg, "method \"%.*s%s\" not found", (int)nl, name,
               nl < strlen(name) ? "..." : "");
      rpc_call_error(call, RPC_METHOD_NOT_FOUND, msg, NULL);
      continue;
    }
    atomic_fetch_add(&s->n_calls, 1);
    if (s->before_call) s->before_call(s->ctx);
    m->fn(s->ctx, call, json_object_get(r, "params"));
  }
  json_decref(req);
  job_release(j);
}

static void handle_post(conn *c) {
  rpc_dispatch(c, c->http.body ? c->http.body : "", c->http.body_len);
}

/* ---- routing ------------------------------------------------------------- */

/* The node's page (cfg.metrics_fn) followed by the server's own counters;
 * malloc'd, NULL on no memory or if metrics_fn failed. */
static char *metrics_page(rpc_server *s) {
  char *node = NULL;
  if (s->metrics_fn && !(node = s->metrics_fn(s->ctx))) return NULL;
#define U(x) ((unsigned long long)atomic_load(&s->x))
  char own[4096];
  int n = snprintf(
      own, sizeof own,
      "# HELP cohort_rpc_connections Open JSON-RPC connections.\n"
      "# TYPE cohort_rpc_connections gauge\n"
      "cohort_rpc_connections %u\n"
      "# HELP cohort_rpc_connections_accepted_total Connections accepted.\n"
      "# TYPE cohort_rpc_connections_accepted_total counter\n"
      "cohort_rpc_connections_accepted_total %llu\n"
      "# HELP cohort_rpc_connections_refused_total Connections refused at a "
      "connection limit.\n"
      "# TYPE cohort_rpc_connections_refused_total counter\n"
      "cohort_rpc_connections_refused_total{limit=\"max_conns\"} %llu\n"
      "cohort_rpc_connections_refused_total{limit=\"max_conns_per_ip\"} %llu\n"
      "# HELP cohort_rpc_connections_evicted_total Idle keep-alive "
      "connections closed to admit a newcomer.\n"
      "# TYPE cohort_rpc_connections_evicted_total counter\n"
      "cohort_rpc_connections_evicted_total %llu\n"
      "# HELP cohort_rpc_connections_dropped_total Clients dropped for missing "
      "the request or write deadline.\n"
      "# TYPE cohort_rpc_connections_dropped_total counter\n"
      "cohort_rpc_connections_dropped_total %llu\n"
      "# HELP cohort_rpc_write_timeouts_total Connections dropped because an "
      "answer was not taken whole within write_timeout_ms.\n"
      "# TYPE cohort_rpc_write_timeouts_total counter\n"
      "cohort_rpc_write_timeouts_total %llu\n"
      "# HELP cohort_rpc_calls_total JSON-RPC calls dispatched to a method.\n"
      "# TYPE cohort_rpc_calls_total counter\n"
      "cohort_rpc_calls_total %llu\n"
      "# HELP cohort_rpc_limited_total Request bodies refused at a per-client "
      "limit (calls in flight, batch weight).\n"
      "# TYPE cohort_rpc_limited_total counter\n"
      "cohort_rpc_limited_total %llu\n"
      "# HELP cohort_rpc_answers_too_large_total Answers replaced by an "
      "error for passing the response or buffer limit.\n"
      "# TYPE cohort_rpc_answers_too_large_total counter\n"
      "cohort_rpc_answers_too_large_total %llu\n"
      "# HELP cohort_rpc_buffered_bytes Request bodies and unsent answers "
      "held for clients.\n"
      "# TYPE cohort_rpc_buffered_bytes gauge\n"
      "cohort_rpc_buffered_bytes %zu\n"
      "# HELP cohort_rpc_responses_total HTTP responses by status class.\n"
      "# TYPE cohort_rpc_responses_total counter\n"
      "cohort_rpc_responses_total{class=\"2xx\"} %llu\n"
      "cohort_rpc_responses_total{class=\"4xx\"} %llu\n"
      "cohort_rpc_responses_total{class=\"5xx\"} %llu\n",
      s->n_live, U(n_accepted), U(n_refused), U(n_refused_ip), U(n_evicted),
      U(n_dropped), U(n_write_timeouts), U(n_calls), U(n_limited), U(n_too_big),
      atomic_load(&s->a_buffered), U(n_status[2]), U(n_status[4]),
      U(n_status[5]));
  if (n < 0 || (size_t)n >= sizeof own) n = 0;
  char ws[2048];
  int wn = snprintf(
      ws, sizeof ws,
      "# HELP cohort_rpc_ws_connections Open WebSocket connections.\n"
      "# TYPE cohort_rpc_ws_connections gauge\n"
      "cohort_rpc_ws_connections %u\n"
      "# HELP cohort_rpc_ws_upgrades_total WebSocket connections opened.\n"
      "# TYPE cohort_rpc_ws_upgrades_total counter\n"
      "cohort_rpc_ws_upgrades_total %llu\n"
      "# HELP cohort_rpc_ws_refused_total WebSocket handshakes refused at "
      "max_ws or max_ws_per_ip.\n"
      "# TYPE cohort_rpc_ws_refused_total counter\n"
      "cohort_rpc_ws_refused_total %llu\n"
      "# HELP cohort_rpc_ws_evicted_total WebSockets closed to give an "
      "address holding fewer a place.\n"
      "# TYPE cohort_rpc_ws_evicted_total counter\n"
      "cohort_rpc_ws_evicted_total %llu\n"
      "# HELP cohort_rpc_ws_subscriptions Open WebSocket subscriptions.\n"
      "# TYPE cohort_rpc_ws_subscriptions gauge\n"
      "cohort_rpc_ws_subscriptions %zu\n"
      "# HELP cohort_rpc_ws_notifications_total Events sent to subscribers.\n"
      "# TYPE cohort_rpc_ws_notifications_total counter\n"
      "cohort_rpc_ws_notifications_total %llu\n"
      "# HELP cohort_rpc_ws_filter_checks_total Subscription filters "
      "evaluated (the index finds candidates; this is the work beyond "
      "matches).\n"
      "# TYPE cohort_rpc_ws_filter_checks_total counter\n"
      "cohort_rpc_ws_filter_checks_total %llu\n"
      "# HELP cohort_rpc_ws_events_dropped_total Events dropped because the "
      "publish queue was full.\n"
      "# TYPE cohort_rpc_ws_events_dropped_total counter\n"
      "cohort_rpc_ws_events_dropped_total %llu\n"
      "# HELP cohort_rpc_ws_slow_dropped_total WebSocket clients dropped for "
      "not reading their events (close 1008).\n"
      "# TYPE cohort_rpc_ws_slow_dropped_total counter\n"
      "cohort_rpc_ws_slow_dropped_total %llu\n",
      s->n_ws, U(n_ws_upgrades), U(n_ws_refused), U(n_ws_evicted),
      atomic_load(&s->n_subs), U(n_ws_notifications), U(n_filter_checks),
      U(n_pub_dropped), U(n_ws_slow));
#undef U
  if (wn < 0 || (size_t)wn >= sizeof ws) wn = 0;
  size_t nl = node ? strlen(node) : 0;
  int sep = nl > 0 && node[nl - 1] != '\n';
  char *page = malloc(nl + (size_t)sep + (size_t)n + (size_t)wn + 1);
  if (page) {
    if (nl) memcpy(page, node, nl);
    if (sep) page[nl] = '\n';
    memcpy(page + nl + (size_t)sep, own, (size_t)n);
    memcpy(page + nl + (size_t)sep + (size_t)n, ws, (size_t)wn + 1);
  }
  free(node);
  return page;
}

static int path_is(const char *p, size_t n, const char *want) {
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

/* May c become a WebSocket? 1 (counted), or 0 with msg set. When every
 * max_ws place is taken, an address holding at least two more WebSockets
 * than c's gives one up. */
static int ws_admit(conn *c, char *msg, size_t cap) {
  rpc_server *s = c->s;
  rpc_peer *p = c->peer;
  if (p->n_ws >= s->max_ws_per_ip) {
    snprintf(msg, cap,
             "too many WebSockets from %s (limit %u, max_ws_per_ip); close "
             "one first",
             p->key, s->max_ws_per_ip);
    return 0;
  }
  if (s->n_ws >= s->max_ws) {
    rpc_peer *top = NULL;
    for (size_t b = 0; b < s->n_peer_buckets; b++)
      for (rpc_peer *q = s->peers[b]; q; q = q->next)
        if (!top || q->n_ws > top->n_ws) top = q;
    conn *victim = NULL;
    if (top && top->n_ws >= p->n_ws + 2)
      for (conn *o = s->conns; o && !victim; o = o->next)
        if (o->ws_counted && o->peer == top) victim = o;
    if (!victim) {
      snprintf(msg, cap, "too many WebSockets (limit %u, max_ws); retry later",
               s->max_ws);
      return 0;
    }
    LOGI(MOD, "WebSocket places full: closing one of %s's %u to admit %s",
         top->key, top->n_ws, c->name);
    atomic_fetch_add(&s->n_ws_evicted, 1);
    victim->ws_counted = 0;
    s->n_ws--;
    top->n_ws--;
    rpc_ws_evict(victim,
                 "evicted: the server's WebSocket places are full and "
                 "your address holds the most");
  }
  c->ws_counted = 1;
  s->n_ws++;
  p->n_ws++;
  return 1;
}

static void route(conn *c) {
  rpc_server *s = c->s;
  size_t plen;
  const char *path = rpc_http_path(&c->http, &plen);
  int m = c->http.method;
  if (path_is(path, plen, "/")) {
    if (m == HTTP_POST)
      handle_post(c);
    else
      respond_error(c, 405, RPC_INVALID_REQUEST,
                    "JSON-RPC requests must be sent with POST",
                    "Allow: POST\r\n");
  } else if (path_is(path, plen, "/websocket")) {
    const char *msg = NULL;
    char why[200];
    int st = rpc_ws_handshake_check(&c->http, &msg);
    if (st == 0 && ws_admit(c, why, sizeof why)) {
      rpc_ws_upgrade(c);
    } else if (st == 0) {
      atomic_fetch_add(&s->n_ws_refused, 1);
      LOGD(MOD, "refused a WebSocket from %s: %s", c->name, why);
      respond_error(c, 503, RPC_LIMIT_EXCEEDED, why, NULL);
    } else {
      respond_error(c, st, RPC_INVALID_REQUEST, msg,
                    st == 426   ? "Sec-WebSocket-Version: 13\r\n"
                    : st == 405 ? "Allow: GET\r\n"
                                : NULL);
    }
  } else if (path_is(path, plen, "/health")) {
    if (m != HTTP_GET) {
      respond_error(c, 405, RPC_INVALID_REQUEST, "/health takes GET",
                    "Allow: GET\r\n");
      return;
    }
    char *ok = strdup("ok");
    respond(c, 200, "text/plain; charset=utf-8", ok, ok ? 2 : 0, NULL);
  } else if (path_is(path, plen, "/metrics")) {
    if (m != HTTP_GET) {
      respond_error(c, 405, RPC_INVALID_REQUEST, "/metrics takes GET",
                    "Allow: GET\r\n");
      return;
    }
    char *txt = metrics_page(s);
    if (!txt) {
      respond_error(c, 500, RPC_INTERNAL_ERROR, "metrics are unavailable",
                    NULL);
      return;
    }
    respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", txt,
            strlen(txt), NULL);
  } else {
    char msg[160];
    snprintf(msg, sizeof msg,
             "no such path; use POST / for JSON-RPC, GET /health or GET "
             "/metrics");
    respond_error(c, 404, RPC_INVALID_REQUEST, msg, NULL);
  }
}

/* ---- reading ------------------------------------------------------------- */

static void on_continue_written(uv_write_t *req, int status) {
  conn *c = req->data;
  c->cont_pending = 0;
}

/* Feed buffered bytes to the reader while we are free to answer. */
static void pump(conn *c) {
  rpc_server *s = c->s;
  while (c->state == C_READING) {
    size_t used = 0;
    int r = rpc_http_feed(&c->http, c->in + c->in_off, c->in_len - c->in_off,
                          &used);
    c->in_off += used;
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
    size_t before = c->acct_in;
    acct_body(c);
    if (c->acct_in > before &&
        (c->peer->buffered > s->client_buffer || s->buffered > s->max_buffer)) {
      char msg[256];
      snprintf(msg, sizeof msg,
               "request refused: the bytes held for your address (%s) would "
               "pass its buffer limit (client_buffer_bytes %zu, server "
               "max_buffer_bytes %zu); send fewer large requests at once",
               c->peer->key, s->client_buffer, s->max_buffer);
      LOGD(MOD, "refusing a request from %s: over its buffer budget", c->name);
      atomic_fetch_add(&s->n_limited, 1);
      c->in_off = c->in_len = 0;
      c->close_after = 1;
      respond_error(c, 503, RPC_LIMIT_EXCEEDED, msg, NULL);
      return;
    }
    if (r == RPC_HTTP_MORE) {
      if (c->http.want_continue && !c->cont_pending) {
        static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
        c->http.want_continue = 0;
        c->creq.data = c;
        if (uv_write(&c->creq, (uv_stream_t *)&c->tcp, &b, 1,
                     on_continue_written) == 0)
          c->cont_pending = 1;
      }
      start_reading(c);
      return;
    }
    if (r == RPC_HTTP_ERROR) {
      LOGD(MOD, "bad request from %s: %s", c->name, c->http.err);
      c->in_off = c->in_len = 0;
      respond_error(
          c, c->http.status,
          c->http.status == 500 ? RPC_INTERNAL_ERROR : RPC_INVALID_REQUEST,
          c->http.err, NULL);
      return;
    }
    route(c);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  if (c->state == C_LINGER) c->in_off = c->in_len = 0; /* discard */
  if (c->in_off > 0) {
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(IN_CAP - c->in_len));
}

static void stop_reading(conn *c) {
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

void rpc_conn_start_reading(conn *c) { start_reading(c); }
void rpc_conn_stop_reading(conn *c) { stop_reading(c); }

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn *c = st->data;
  if (c->state == C_CLOSING) return;
  if (nread == UV_ENOBUFS) {
    stop_reading(c); /* buffer full while BUSY/WRITING; resumed after */
    return;
  }
  if (nread < 0) {
    if (c->state == C_WRITING && nread == UV_EOF) {
      /* Half-close after a whole request: still deliver the answer. */
      c->close_after = 1;
      stop_reading(c);
      return;
    }
    if (c->state == C_READING && rpc_http_eof(&c->http) == RPC_HTTP_ERROR)
      LOGD(MOD, "dropping %s: closed in the middle of a request", c->name);
    else if (c->state == C_BUSY)
      LOGD(MOD, "client %s went away before its answer", c->name);
    else if (nread != UV_EOF)
      LOGD(MOD, "dropping %s: %s", c->name, uv_strerror((int)nread));
    conn_close(c);
    return;
  }
  if (nread == 0) return;
  if (c->state == C_LINGER) {
    c->lingered += (size_t)nread;
    if (c->lingered > LINGER_MAX_BYTES) conn_close(c);
    return;
  }
  c->in_len += (size_t)nread;
  if (c->state == C_READING)
    pump(c);
  else if (c->state == C_WS)
    rpc_ws_pump(c);
  else if (c->in_len == IN_CAP)
    stop_reading(c);
}

static void start_reading(conn *c) {
  if (c->reading || c->state == C_CLOSING) return;
  if (c->state != C_LINGER && c->in_len == IN_CAP) return;
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    LOGD(MOD, "dropping %s: %s", c->name, uv_strerror(rc));
    conn_close(c);
    return;
  }
  c->reading = 1;
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  rpc_server *s = c->s;
  switch (c->state) {
    case C_READING:
      if (c->http.started) {
        char msg[128];
        snprintf(msg, sizeof msg, "request not received whole within %llu ms",
                 (unsigned long long)s->idle_ms);
        LOGD(MOD, "dropping %s: %s", c->name, msg);
        atomic_fetch_add(&s->n_dropped, 1);
        c->close_after = 1;
        respond_error(c, 408, RPC_TIMEOUT, msg, NULL);
      } else {
        LOGD(MOD, "closing idle connection from %s", c->name);
        conn_close(c);
      }
      break;
    case C_WRITING: {
      /* A large answer to a slow reader may take long: drop the client only
       * when a whole period passed without any of it being taken (the sweep
       * enforces the absolute write_timeout_ms). */
      size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
      if (q > 0 && q < c->wq_last) {
        c->wq_last = q;
        uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
        break;
      }
      atomic_fetch_add(&s->n_dropped, 1);
      LOGD(MOD, "dropping %s: response not read within %llu ms", c->name,
           (unsigned long long)s->idle_ms);
      conn_abort(c);
      break;
    }
    case C_LINGER:
      conn_close(c);
      break;
    case C_WS:
      rpc_ws_on_timer(c);
      break;
    default:
      break;
  }
}

/* Absolute write deadlines, for every connection at once. */
static void on_sweep(uv_timer_t *t) {
  rpc_server *s = t->data;
  uint64_t now = rpc_loop_ms(s);
  for (conn *c = s->conns; c; c = c->next) {
    uint64_t age = 0;
    if (c->state == C_WRITING)
      age = now - c->write_start;
    else if (c->state == C_WS)
      age = rpc_ws_oldest_unsent_ms(c, now);
    else
      continue;
    if (age < s->write_ms) continue;
    atomic_fetch_add(&s->n_write_timeouts, 1);
    atomic_fetch_add(&s->n_dropped, 1);
    LOGI(MOD,
         "dropping %s: an answer was not taken whole within %llu ms "
         "(write_timeout_ms); its buffers are freed",
         c->name, (unsigned long long)s->write_ms);
    conn_abort(c);
  }
}

/* ---- accepting ----------------------------------------------------------- */

static void on_reject_closed(uv_handle_t *h) {
  rpc_server *s = h->data;
  free(h);
  atomic_fetch_sub(&s->n_rejects, 1);
}

/* Write a best-effort 503 carrying msg to a stream about to be closed. */
static void say_503(uv_stream_t *st, int code, const char *msg) {
  char head[160];
  size_t blen;
  char *body = error_body(code, msg, &blen);
  int hn = snprintf(head, sizeof head,
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                    "application/json\r\nContent-Length: %zu\r\nConnection: "
                    "close\r\n\r\n",
                    blen);
  uv_buf_t b[2] = {uv_buf_init(head, (unsigned)hn),
                   uv_buf_init(body, (unsigned)blen)};
  (void)uv_try_write(st, b, body ? 2 : 1);
  free(body);
}

/* Out of memory for a connection: accept it into a bare handle, say why,
 * close (libuv stops watching the listener until the socket is taken). */
static void reject(rpc_server *s, const char *why) {
  uv_tcp_t *t = malloc(sizeof *t);
  if (!t || uv_tcp_init(&s->loop, t) != 0) {
    /* Cannot even accept: the listener stalls until memory returns. */
    LOGE(MOD, "out of memory refusing a connection on %s", s->addr);
    free(t);
    return;
  }
  t->data = s;
  atomic_fetch_add(&s->n_rejects, 1);
  if (uv_accept((uv_stream_t *)&s->tcp, (uv_stream_t *)t) == 0)
    say_503((uv_stream_t *)t, RPC_UNAVAILABLE, why);
  uv_close((uv_handle_t *)t, on_reject_closed);
}

/* Make room by closing the keep-alive connection idle the longest (nothing
 * of a request read, nothing unsent). 1 if one was closed. */
static int evict_idle(rpc_server *s, const char *for_whom) {
  conn *best = NULL;
  for (conn *c = s->conns; c; c = c->next)
    if (c->admitted && c->state == C_READING && !c->http.started &&
        c->in_off == c->in_len && !c->cont_pending &&
        (!best || c->idle_since < best->idle_since))
      best = c;
  if (!best) return 0;
  LOGD(MOD, "connection table full: closing %s, idle for %llu ms, to admit %s",
       best->name, (unsigned long long)(rpc_loop_ms(s) - best->idle_since),
       for_whom);
  atomic_fetch_add(&s->n_evicted, 1);
  conn_close(best);
  return 1;
}

static void on_connection(uv_stream_t *server, int status) {
  rpc_server *s = server->data;
  if (status < 0) {
    LOGW(MOD, "accept on %s failed: %s", s->addr, uv_strerror(status));
    return;
  }
  if (s->closing) return;
  conn *c = calloc(1, sizeof *c);
  char *in = malloc(IN_CAP);
  if (!c || !in || uv_tcp_init(&s->loop, &c->tcp) != 0) {
    free(c);
    free(in);
    LOGW(MOD, "out of memory accepting a connection");
    reject(s, "server out of memory; retry later");
    return;
  }
  c->s = s;
  c->in = in;
  c->tcp.data = c;
  c->timer.data = c;
  c->handles = 1;
  rpc_http_init(&c->http, s->max_body);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  atomic_fetch_add(&s->n_conns, 1);
  uv_timer_init(&s->loop, &c->timer);
  c->handles = 2;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  char key[RPC_PEER_KEY] = "?";
  snprintf(c->name, sizeof c->name, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
    addr_key(&ss, key, c->name);
  /* Admission: the address's share first, then the table (making room by
   * evicting an idle keep-alive connection). */
  rpc_peer *p = peer_find(s, key);
  char msg[160];
  if (p && p->n_conns >= s->max_conns_per_ip) {
    atomic_fetch_add(&s->n_refused_ip, 1);
    snprintf(msg, sizeof msg,
             "too many connections from %s (limit %u, max_conns_per_ip); "
             "reuse or close some",
             key, s->max_conns_per_ip);
    LOGD(MOD, "refused %s: %s", c->name, msg);
    say_503((uv_stream_t *)&c->tcp, RPC_LIMIT_EXCEEDED, msg);
    conn_close(c);
    return;
  }
  if (s->n_live >= s->max_conns && !evict_idle(s, c->name)) {
    atomic_fetch_add(&s->n_refused, 1);
    snprintf(msg, sizeof msg, "too many connections (limit %u); retry later",
             s->max_conns);
    if (!s->warned_full) {
      LOGW(MOD, "refusing connections: %u open, the limit, none idle",
           s->n_live);
      s->warned_full = 1;
    }
    say_503((uv_stream_t *)&c->tcp, RPC_UNAVAILABLE, msg);
    conn_close(c);
    return;
  }
  if (!(c->peer = peer_get(s, key))) {
    say_503((uv_stream_t *)&c->tcp, RPC_UNAVAILABLE,
            "server out of memory; retry later");
    conn_close(c);
    return;
  }
  c->admitted = 1;
  s->n_live++;
  c->peer->n_conns++;
  atomic_fetch_add(&s->n_accepted, 1);
  uv_tcp_nodelay(&c->tcp, 1);
  c->state = C_READING;
  c->idle_since = rpc_loop_ms(s);
  uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
  start_reading(c);
}

/* ---- the RPC thread ------------------------------------------------------ */

struct pub_ev {
  pub_ev *next;
  size_t topic;
  json_t *ev;
};

static void on_listener_closed(uv_handle_t *h) {
  rpc_server *s = h->data;
  s->listener_open = 0;
}

/* stop_req seen: close everything; the loop returns when it is all gone. */
static void begin_close(rpc_server *s) {
  if (s->closing) return;
  s->closing = 1;
  LOGI(MOD, "JSON-RPC on %s stopping (%u connections open)", s->addr,
       s->n_live);
  if (s->listener_open) uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
  uv_close((uv_handle_t *)&s->sweep, NULL);
  for (conn *c = s->conns; c; c = c->next) {
    if (c->state == C_WS) rpc_ws_going_away(c);
    conn_close(c);
  }
  /* Keep taking answers (simulations may still finish), but do not keep
   * the loop alive for them. */
  uv_unref((uv_handle_t *)&s->wake);
}

static void on_wake(uv_async_t *a) {
  rpc_server *s = a->data;
  uv_mutex_lock(&s->mu);
  rpc_call *posts = s->posts;
  s->posts = s->posts_tail = NULL;
  pub_ev *pubs = s->pubs;
  s->pubs = s->pubs_tail = NULL;
  s->n_pubs = 0;
  int stop = s->stop_req;
  uint64_t gaps[64] = {0};
  size_t ng = s->n_topics < 64 ? s->n_topics : 64;
  for (size_t i = 0; i < ng; i++) {
    gaps[i] = s->pub_gap[i];
    s->pub_gap[i] = 0;
  }
  uv_mutex_unlock(&s->mu);
  while (posts) {
    rpc_call *c = posts;
    posts = c->q_next;
    answer_posted(c);
  }
  for (size_t i = 0; i < ng; i++)
    if (gaps[i] && !s->closing) rpc_ws_gap(s, i, gaps[i]);
  while (pubs) {
    pub_ev *e = pubs;
    pubs = e->next;
    if (!s->closing) rpc_ws_fanout(s, e->topic, e->ev);
    json_decref(e->ev);
    free(e);
  }
  if (stop) begin_close(s);
}

static void thread_main(void *arg) {
  rpc_server *s = arg;
  s->self = uv_thread_self();
  uv_run(&s->loop, UV_RUN_DEFAULT);
  /* Everything is closed and no thread-pool job is left. From now on late
   * answers are handled by their threads, under the lock. */
  uv_mutex_lock(&s->mu);
  atomic_store(&s->rpc_running, 0);
  s->open = 0;
  rpc_call *posts = s->posts;
  s->posts = s->posts_tail = NULL;
  pub_ev *pubs = s->pubs;
  s->pubs = s->pubs_tail = NULL;
  while (posts) {
    rpc_call *c = posts;
    posts = c->q_next;
    answer_posted(c);
  }
  uv_mutex_unlock(&s->mu);
  while (pubs) {
    pub_ev *e = pubs;
    pubs = e->next;
    json_decref(e->ev);
    free(e);
  }
  uv_close((uv_handle_t *)&s->wake, NULL);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  rpc_ws_index_free(s);
  if (uv_loop_close(&s->loop) != 0)
    LOGE(MOD, "RPC loop closed with handles still open");
}

/* ---- publishing (any thread) --------------------------------------------- */

int rpc_server_has_subscribers(const rpc_server *s, const char *topic) {
  size_t idx;
  if (!s || !topic || rpc_ws_topic_index(s, topic, &idx) != 0) return 0;
  return atomic_load(&s->topic_subs[idx]) > 0;
}

void rpc_server_publish(rpc_server *s, const char *topic, json_t *event) {
  size_t idx;
  if (!s || !topic || !event || rpc_ws_topic_index(s, topic, &idx) != 0) {
    LOGE(MOD, "publish to unknown topic \"%.64s\" ignored",
         topic ? topic : "(null)");
    json_decref(event);
    return;
  }
  if (atomic_load(&s->topic_subs[idx]) == 0) {
    json_decref(event);
    return;
  }
  pub_ev *e = malloc(sizeof *e);
  uv_mutex_lock(&s->mu);
  if (!e || !s->open || s->n_pubs >= s->publish_max) {
    if (s->open) {
      s->pub_gap[idx]++;
      atomic_fetch_add(&s->n_pub_dropped, 1);
    }
    uv_mutex_unlock(&s->mu);
    free(e);
    json_decref(event);
    return;
  }
  e->next = NULL;
  e->topic = idx;
  e->ev = event; /* ours now: only the RPC thread touches it */
  if (s->pubs_tail)
    s->pubs_tail->next = e;
  else
    s->pubs = e;
  s->pubs_tail = e;
  /* One wake-up per burst: the RPC thread drains all of them at once. */
  if (s->n_pubs++ == 0) uv_async_send(&s->wake);
  uv_mutex_unlock(&s->mu);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Split "[tcp://]HOST:PORT" (HOST may be "[v6]"). 0 or -1. */
static int split_listen(const char *in, char *host, size_t hcap, char *port,
                        size_t pcap) {
  if (strncmp(in, "tcp://", 6) == 0) in += 6;
  const char *colon = strrchr(in, ':');
  if (!colon || colon == in) return -1;
  const char *h = in;
  size_t hl = (size_t)(colon - in);
  if (h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']') return -1;
    h++;
    hl -= 2;
  } else if (memchr(h, ':', hl)) {
    return -1; /* a bare IPv6 address needs brackets */
  }
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (pl == 0 || pl >= pcap || hl >= hcap) return -1;
  unsigned long v = 0;
  for (size_t i = 0; i < pl; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (unsigned long)(p[i] - '0');
    if (v > 65535) return -1;
  }
  memcpy(host, h, hl);
  host[hl] = 0;
  memcpy(port, p, pl + 1);
  return 0;
}

static int check_topics(const char *const *topics, size_t *n_out,
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
  if (n > 64)
    return core_errf(eb, COHORT_ERR_CONFIG, "at most 64 subscription topics");
  *n_out = n;
  return 0;
}

/* Free what server_new allocated, once no thread uses s. */
static void server_free(rpc_server *s) {
  for (size_t b = 0; s->peers && b < s->n_peer_buckets; b++)
    while (s->peers[b]) {
      rpc_peer *p = s->peers[b];
      s->peers[b] = p->next;
      free(p);
    }
  free(s->peers);
  free(s->pub_gap);
  free(s->topic_subs);
  uv_mutex_destroy(&s->mu);
  free(s);
}

static void server_unref(rpc_server *s) {
  if (atomic_fetch_sub(&s->refs, 1) == 1) server_free(s);
}

int rpc_server_new(rpc_server **out, uv_loop_t *owner, const rpc_config *cfg,
                   const rpc_method *methods, size_t n_methods, void *ctx,
                   core_errbuf *eb) {
  *out = NULL;
  const char *listen_at = cfg && cfg->listen ? cfg->listen : "";
  char host[64], port[8];
  if (split_listen(listen_at, host, sizeof host, port, sizeof port) != 0)
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "rpc listen address \"%.100s\" is not HOST:PORT (e.g. "
                     "127.0.0.1:27657 or [::1]:27657)",
                     listen_at);
  for (size_t i = 0; i < n_methods; i++)
    if (!methods[i].name || !methods[i].fn)
      return core_errf(eb, COHORT_ERR_CONFIG,
                       "rpc method table entry %zu has no name or handler", i);
  size_t n_topics = 0;
  int rc = check_topics(cfg->topics, &n_topics, eb);
  if (rc) return rc;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0 || !ai)
    return core_errf(eb, COHORT_ERR_CONFIG,
                     "rpc listen address \"%.100s\": cannot resolve \"%s\": %s",
                     listen_at, host, gai_strerror(gai));
  /* Bind with a plain socket first so a taken port is reported here (libuv
   * would defer EADDRINUSE to uv_listen) and no handle needs closing. */
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    return core_errf(eb, COHORT_ERR_IO, "rpc listen %s: socket: %s", listen_at,
                     strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
    int e = errno;
    close(fd);
    freeaddrinfo(ai);
    return core_errf(eb, COHORT_ERR_IO, "rpc cannot listen on %s: %s",
                     listen_at, strerror(e));
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int bound_port = 0, loopback = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
      bound_port = ntohs(a6->sin6_port);
      loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
      struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
      bound_port = ntohs(a4->sin_port);
      loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
  }

  /* Everything that can fail for lack of memory, before libuv. */
  rpc_server *s = calloc(1, sizeof *s);
  owner_box *ob = owner ? calloc(1, sizeof *ob) : NULL;
  if (s) {
    s->n_peer_buckets = 1024;
    s->peers = calloc(s->n_peer_buckets, sizeof *s->peers);
    s->pub_gap = calloc(n_topics ? n_topics : 1, sizeof *s->pub_gap);
    s->topic_subs = calloc(n_topics ? n_topics : 1, sizeof *s->topic_subs);
  }
  if (!s || (owner && !ob) || !s->peers || !s->pub_gap || !s->topic_subs ||
      uv_mutex_init(&s->mu) != 0) {
    close(fd);
    if (s) {
      free(s->peers);
      free(s->pub_gap);
      free(s->topic_subs);
    }
    free(s);
    free(ob);
    return core_errf(eb, COHORT_ERR_NOMEM, "rpc: out of memory");
  }
  if (!peer_seed) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
      seed = uv_hrtime() ^ (uint64_t)(uintptr_t)s;
    peer_seed = seed | 1;
  }
#define DEF(v, d) ((v) ? (v) : (d))
  s->owner = owner;
  s->max_body = DEF(cfg->max_body_bytes, RPC_DEFAULT_MAX_BODY);
  s->max_batch = DEF(cfg->max_batch, RPC_DEFAULT_MAX_BATCH);
  s->max_conns = DEF(cfg->max_conns, RPC_DEFAULT_MAX_CONNS);
  s->idle_ms = DEF(cfg->idle_timeout_ms, RPC_DEFAULT_IDLE_MS);
  s->max_conns_per_ip = DEF(cfg->max_conns_per_ip, RPC_DEFAULT_CONNS_PER_IP);
  s->max_ws = DEF(cfg->max_ws, s->max_conns / 2 ? s->max_conns / 2 : 1);
  s->max_ws_per_ip = DEF(cfg->max_ws_per_ip, RPC_DEFAULT_WS_PER_IP);
  s->max_inflight_per_ip =
      DEF(cfg->max_inflight_per_ip, RPC_DEFAULT_INFLIGHT_PER_IP);
  s->max_batch_weight = DEF(cfg->max_batch_weight, RPC_DEFAULT_BATCH_WEIGHT);
  s->max_response = DEF(cfg->max_response_bytes, RPC_DEFAULT_MAX_RESPONSE);
  s->client_buffer = DEF(cfg->client_buffer_bytes, RPC_DEFAULT_CLIENT_BUFFER);
  s->max_buffer = DEF(cfg->max_buffer_bytes, RPC_DEFAULT_MAX_BUFFER);
  s->write_ms = DEF(cfg->write_timeout_ms, RPC_DEFAULT_WRITE_MS);
  s->publish_max = DEF(cfg->publish_queue, RPC_DEFAULT_PUBLISH_QUEUE);
  s->ws_ping_ms = DEF(cfg->ws_ping_ms, RPC_WS_PING_MS);
  s->ws_max_queue_bytes = DEF(cfg->ws_max_queue_bytes, RPC_WS_MAX_QUEUE_BYTES);
  s->ws_max_queue_msgs = DEF(cfg->ws_max_queue_msgs, RPC_WS_MAX_QUEUE_MSGS);
#undef DEF
  s->metrics_fn = cfg->metrics_fn;
  s->before_call = cfg->before_call;
  s->methods = methods;
  s->n_methods = n_methods;
  s->ctx = ctx;
  s->port = bound_port;
  s->topics = cfg->topics;
  s->n_topics = n_topics;
  atomic_init(&s->refs, 1);
  s->open = 1;
  if (strchr(host, ':'))
    snprintf(s->addr, sizeof s->addr, "[%s]:%d", host, bound_port);
  else
    snprintf(s->addr, sizeof s->addr, "%s:%d", host, bound_port);
  if (rpc_ws_index_new(s) != 0) {
    close(fd);
    free(ob);
    server_free(s);
    return core_errf(eb, COHORT_ERR_NOMEM, "rpc: out of memory");
  }

  /* libuv: the RPC loop and its handles. */
  int lrc = uv_loop_init(&s->loop);
  if (lrc != 0) {
    close(fd);
    free(ob);
    rpc_ws_index_free(s);
    server_free(s);
    return core_errf(eb, COHORT_ERR_IO, "rpc: cannot create a loop: %s",
                     uv_strerror(lrc));
  }
  uv_tcp_init(&s->loop, &s->tcp);
  s->tcp.data = s;
  s->listener_open = 1;
  uv_async_init(&s->loop, &s->wake, on_wake);
  s->wake.data = s;
  uv_timer_init(&s->loop, &s->sweep);
  s->sweep.data = s;
  lrc = uv_tcp_open(&s->tcp, fd);
  if (lrc != 0) close(fd); /* else the handle owns it */
  if (lrc == 0) lrc = uv_listen((uv_stream_t *)&s->tcp, 511, on_connection);
  if (lrc != 0) {
    uv_close((uv_handle_t *)&s->tcp, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_close((uv_handle_t *)&s->sweep, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(ob);
    rpc_ws_index_free(s);
    server_free(s);
    return core_errf(eb, COHORT_ERR_IO, "rpc cannot listen on %s: %s",
                     listen_at, uv_strerror(lrc));
  }
  uint64_t sweep_ms = s->write_ms / 4;
  if (sweep_ms > 1000) sweep_ms = 1000;
  if (sweep_ms < 10) sweep_ms = 10;
  uv_timer_start(&s->sweep, on_sweep, sweep_ms, sweep_ms);
  if (ob) {
    uv_async_init(owner, &ob->async, on_owner);
    ob->async.data = ob;
    ob->s = s;
    s->ob = ob;
  }
  /* libuv writes with write(2): a client that disconnects must not kill the
   * process with SIGPIPE. Only the default disposition is changed. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
  atomic_store(&s->rpc_running, 1);
  lrc = uv_thread_create(&s->thread, thread_main, s);
  if (lrc != 0) {
    atomic_store(&s->rpc_running, 0);
    if (ob) {
      uv_close((uv_handle_t *)&ob->async, on_owner_closed);
      s->ob = NULL;
    }
    uv_close((uv_handle_t *)&s->tcp, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_close((uv_handle_t *)&s->sweep, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    rpc_ws_index_free(s);
    server_free(s);
    return core_errf(eb, COHORT_ERR_IO, "rpc: cannot start its thread: %s",
                     uv_strerror(lrc));
  }
  LOGI(MOD,
       "JSON-RPC listening on http://%s on its own thread (body <= %zu "
       "bytes, batch <= %zu and weight <= %u, answer <= %zu bytes, <= %u "
       "connections (%u per address), <= %u WebSockets (%u per address), "
       "request deadline %llu ms, write deadline %llu ms)",
       s->addr, s->max_body, s->max_batch, s->max_batch_weight, s->max_response,
       s->max_conns, s->max_conns_per_ip, s->max_ws, s->max_ws_per_ip,
       (unsigned long long)s->idle_ms, (unsigned long long)s->write_ms);
  if (!loopback)
    LOGW(MOD,
         "JSON-RPC on %s is reachable beyond this host and has no "
         "authentication; expose it only behind a firewall or proxy",
         s->addr);
  *out = s;
  return 0;
}

int rpc_server_port(const rpc_server *s) { return s ? s->port : -1; }

unsigned rpc_server_conn_count(const rpc_server *s) {
  return atomic_load(&s->n_conns) + atomic_load(&s->n_rejects);
}

size_t rpc_server_buffered(const rpc_server *s) {
  return atomic_load(&s->a_buffered);
}

uint64_t rpc_server_filter_checks(const rpc_server *s) {
  return atomic_load(&s->n_filter_checks);
}

void rpc_server_close(rpc_server *s) {
  if (!s) return;
  uv_mutex_lock(&s->mu);
  s->stop_req = 1;
  uv_async_send(&s->wake);
  uv_mutex_unlock(&s->mu);
  uv_thread_join(&s->thread);
  /* What the RPC thread queued for us and we have not run yet: run it now
   * (on this, the owner thread), so nothing handed over is leaked; the
   * answers it gives are dropped. */
  uv_mutex_lock(&s->mu);
  owner_box *ob = s->ob;
  s->ob = NULL;
  owner_task *list = ob ? ob->head : NULL;
  if (ob) ob->head = ob->tail = NULL;
  uv_mutex_unlock(&s->mu);
  while (list) {
    owner_task *t = list;
    list = t->next;
    t->fn(t->arg);
    free(t);
  }
  if (ob) uv_close((uv_handle_t *)&ob->async, on_owner_closed);
  LOGI(MOD, "JSON-RPC on %s stopped", s->addr);
  server_unref(s);
}
