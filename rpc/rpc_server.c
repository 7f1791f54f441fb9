/* rpc/rpc_server.c — the JSON-RPC 2.0 HTTP server on libuv.
 *
 * One listener, a list of connections, and per connection an rpc_http reader
 * (rpc_http.c), an input buffer, one timer and at most one request in
 * flight. A connection moves through these states:
 *
 *   READING  waiting for a whole request; the timer is the request deadline
 *            (idle_timeout_ms from the end of the previous response), so an
 *            idle keep-alive client and a slowloris are both dropped.
 *   BUSY     a POST is dispatched and some handler has not answered; no
 *            deadline (the handler owns it). Bytes the client pipelines are
 *            kept in the input buffer; when it is full reading stops, so a
 *            client cannot make us buffer without bound. EOF or a read error
 *            here means the client went away: the connection closes and the
 *            calls see rpc_call_client_alive() == 0.
 *   WRITING  one response is being written; the timer is the write deadline
 *            (renewed while the client makes progress), so a client that
 *            stops reading its responses is dropped. Only
 *            after the write completes is the next request parsed: a client
 *            holds at most one unread response.
 *   LINGER   after a response with "Connection: close": our side is shut
 *            down and the client's remaining bytes are read and discarded
 *            (bounded in bytes and time) so the kernel does not reset the
 *            connection before the client has read our answer (e.g. a 413
 *            sent while the oversize body is still arriving).
 *   CLOSING  uv_close issued on both handles; freed by the last close
 *            callback.
 *   WS       after a GET /websocket handshake (route): rpc_ws.c owns the
 *            connection's input, output and timer from then on; its calls
 *            go through rpc_dispatch like a POST's, several at a time.
 *
 * Calls outlive connections: a job (one POST body) holds its calls and a
 * pointer to its connection, cleared when the connection closes; the job is
 * freed when its last call is answered, whether or not anyone is listening.
 * Everything here runs on the loop thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "rpc/rpc_server_int.h"

#define MOD "rpc"
#define LINGER_MS 2000              /* at most this long in LINGER */
#define LINGER_MAX_BYTES (8u << 20) /* nor discard more than this */

static void pump(conn *c);
static void conn_close(conn *c);
static void on_timer(uv_timer_t *t);
static void start_reading(conn *c);

/* ---- teardown ----------------------------------------------------------- */

static void maybe_finish(rpc_server *s) {
  if (!s->closing || s->listener_open || s->n_conns || s->n_rejects) return;
  void (*done)(void *) = s->done;
  void *arg = s->done_arg;
  free(s);
  if (done) done(arg);
}

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles > 0) return;
  rpc_server *s = c->s;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->n_conns--;
  if (s->n_conns < s->max_conns / 2) s->warned_full = 0;
  rpc_ws_conn_free(c);
  rpc_http_free(&c->http);
  free(c->in);
  free(c);
  maybe_finish(s);
}

/* Idempotent. Detaches the pending job so late answers are dropped. */
static void conn_close(conn *c) {
  if (c->state == C_CLOSING) return;
  c->state = C_CLOSING;
  if (c->job) {
    c->job->c = NULL;
    c->job = NULL;
  }
  if (c->ws) rpc_ws_detach(c);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void rpc_conn_close(conn *c) { conn_close(c); }

/* A JSON text (malloc'd, or NULL) of an error response with id null. */
static char *error_body(int code, const char *msg, size_t *len) {
  json_t *o = rpc_error_object(NULL, code, msg, NULL);
  char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  *len = txt ? strlen(txt) : 0;
  return txt;
}

/* ---- writing ------------------------------------------------------------ */

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
  if (c->state == C_CLOSING) return;
  if (status < 0) {
    LOGD(MOD, "dropping %s: write failed: %s", c->peer, uv_strerror(status));
    conn_close(c);
    return;
  }
  if (c->close_after) {
    linger(c);
    return;
  }
  rpc_http_next(&c->http);
  c->state = C_READING;
  uv_timer_start(&c->timer, on_timer, c->s->idle_ms, 0);
  start_reading(c);
  pump(c);
}

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

/* Write one response and move to WRITING. body (malloc'd, may be NULL) is
 * consumed. extra is more header lines ("Allow: POST\r\n") or NULL. */
static void respond(conn *c, int status, const char *ctype, char *body,
                    size_t len, const char *extra) {
  if (c->state == C_CLOSING) {
    free(body);
    return;
  }
  int keep = c->http.state == RPC_HTTP_DONE && c->http.keep_alive &&
             !c->close_after && !c->s->closing;
  c->close_after = !keep;
  char head[512];
  int n;
  if (status == 204)
    n = snprintf(head, sizeof head, "HTTP/1.1 204 No Content\r\n%sConnection: %s\r\n\r\n",
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
  uv_buf_t bufs[2] = {uv_buf_init(c->whead, (unsigned)n),
                      uv_buf_init(body, body ? (unsigned)len : 0)};
  c->state = C_WRITING;
  if (status >= 200 && status < 600) c->s->n_status[status / 100]++;
  c->wq_last = SIZE_MAX;
  uv_timer_start(&c->timer, on_timer, c->s->idle_ms, 0);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs,
                    body && len ? 2 : 1, on_write);
  if (rc < 0) {
    LOGD(MOD, "dropping %s: write failed: %s", c->peer, uv_strerror(rc));
    free(c->whead);
    free(c->wbody);
    c->whead = c->wbody = NULL;
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

/* ---- calls and jobs ------------------------------------------------------ */

static void job_free(job *j) {
  for (size_t i = 0; i < j->n; i++) {
    json_decref(j->resp[i]);
    json_decref(j->calls[i].id);
  }
  free(j->resp);
  free(j);
}

/* Every call answered: send the responses (if the client is still there). */
static void job_finish(job *j) {
  conn *c = j->c;
  if (c && c->ws) {
    /* Over a WebSocket: one text message, or none for notifications. */
    json_t *out = NULL;
    if (!j->batch) {
      out = j->resp[0];
      j->resp[0] = NULL;
    } else {
      for (size_t i = 0; i < j->n; i++) {
        if (!j->resp[i]) continue;
        if (!out) out = json_array();
        if (out) json_array_append(out, j->resp[i]);
      }
    }
    rpc_ws_job_finish(c, j, out);
  } else if (c) {
    c->job = NULL;
    json_t *out = NULL;
    int oom = 0;
    if (!j->batch) {
      out = j->resp[0];
      j->resp[0] = NULL;
    } else {
      for (size_t i = 0; i < j->n && !oom; i++) {
        if (!j->resp[i]) continue;
        if (!out && !(out = json_array())) {
          oom = 1; /* resp[] is freed with the job */
          break;
        }
        /* append_new consumes the response, even when it fails. */
        if (json_array_append_new(out, j->resp[i]) != 0) oom = 1;
        j->resp[i] = NULL;
      }
    }
    if (oom) {
      json_decref(out);
      respond_error(c, 500, RPC_INTERNAL_ERROR,
                    "out of memory building the batch response", NULL);
    } else if (!out) {
      respond(c, 204, NULL, NULL, 0, NULL);
    } else {
      char *txt = json_dumps(out, JSON_COMPACT);
      json_decref(out);
      if (txt)
        respond(c, j->status, "application/json", txt, strlen(txt), NULL);
      else
        respond_error(c, 500, RPC_INTERNAL_ERROR,
                      "the response could not be encoded as JSON", NULL);
    }
  }
  job_free(j);
}

static void job_release(job *j) {
  if (--j->pending == 0) job_finish(j);
}

/* Record call's response (consumed; NULL if it could not be built). */
static void call_done(rpc_call *call, json_t *resp) {
  job *j = call->j;
  size_t i = (size_t)(call - j->calls);
  call->answered = 1;
  if (call->respond && j->c && !resp)
    resp = rpc_error_object(call->id, RPC_INTERNAL_ERROR, "out of memory",
                            NULL);
  if (call->respond && j->c)
    j->resp[i] = resp;
  else
    json_decref(resp);
  job_release(j);
}

static int check_answer(rpc_call *c) {
  if (!c) return -1;
  if (c->answered) {
    LOGE(MOD, "a handler answered the same call twice; ignored");
    return -1;
  }
  return 0;
}

void rpc_call_reply(rpc_call *c, json_t *result) {
  if (check_answer(c)) {
    json_decref(result);
    return;
  }
  json_t *resp = NULL;
  if (c->respond && c->j->c)
    resp = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", c->id,
                     "result", result ? result : json_null());
  else
    json_decref(result);
  call_done(c, resp);
}

void rpc_call_error(rpc_call *c, int code, const char *msg, json_t *data) {
  if (check_answer(c)) {
    json_decref(data);
    return;
  }
  json_t *resp = NULL;
  if (c->respond && c->j->c)
    resp = rpc_error_object(c->id, code, msg, data);
  else
    json_decref(data);
  call_done(c, resp);
}

int rpc_call_client_alive(const rpc_call *c) { return c && c->j->c != NULL; }

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

void rpc_dispatch(conn *c, const char *body, size_t len) {
  rpc_server *s = c->s;
  core_errbuf eb;
  json_t *req;
  int rc = rpc_request_parse(body, len, s->max_batch, &req, &eb);
  if (rc) {
    if (c->ws)
      rpc_ws_send_json(c, rpc_error_object(NULL, rc, eb.msg, NULL));
    else
      respond_error(c, 400, rc, eb.msg, NULL);
    return;
  }
  int batch = json_is_array(req);
  size_t n = batch ? json_array_size(req) : 1;
  job *j = calloc(1, sizeof *j + n * sizeof(rpc_call));
  json_t **resp = calloc(n, sizeof *resp);
  if (!j || !resp) {
    free(j);
    free(resp);
    json_decref(req);
    if (c->ws)
      rpc_ws_send_json(c, rpc_error_object(NULL, RPC_INTERNAL_ERROR,
                                           "out of memory", NULL));
    else
      respond_error(c, 500, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  j->c = c;
  j->batch = batch;
  j->status = 200;
  j->n = n;
  j->pending = n + 1; /* so no answer finishes the job while dispatching */
  j->resp = resp;
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
      char msg[128];
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
    s->n_calls++;
    m->fn(s->ctx, call, json_object_get(r, "params"));
  }
  json_decref(req);
  job_release(j);
}

static void handle_post(conn *c) {
  rpc_dispatch(c, c->http.body ? c->http.body : "", c->http.body_len);
}

/* ---- routing -------------------------------------------------------------- */

/* The node's page (cfg.metrics_fn) followed by the server's own counters;
 * malloc'd, NULL on no memory or if metrics_fn failed. */
static char *metrics_page(rpc_server *s) {
  char *node = NULL;
  if (s->metrics_fn && !(node = s->metrics_fn(s->ctx))) return NULL;
  char own[1536];
  int n = snprintf(
      own, sizeof own,
      "# HELP cohort_rpc_connections Open JSON-RPC connections.\n"
      "# TYPE cohort_rpc_connections gauge\n"
      "cohort_rpc_connections %u\n"
      "# HELP cohort_rpc_connections_accepted_total Connections accepted.\n"
      "# TYPE cohort_rpc_connections_accepted_total counter\n"
      "cohort_rpc_connections_accepted_total %llu\n"
      "# HELP cohort_rpc_connections_refused_total Connections refused at the "
      "connection limit.\n"
      "# TYPE cohort_rpc_connections_refused_total counter\n"
      "cohort_rpc_connections_refused_total %llu\n"
      "# HELP cohort_rpc_connections_dropped_total Clients dropped for missing "
      "the request or write deadline.\n"
      "# TYPE cohort_rpc_connections_dropped_total counter\n"
      "cohort_rpc_connections_dropped_total %llu\n"
      "# HELP cohort_rpc_calls_total JSON-RPC calls dispatched to a method.\n"
      "# TYPE cohort_rpc_calls_total counter\n"
      "cohort_rpc_calls_total %llu\n"
      "# HELP cohort_rpc_responses_total HTTP responses by status class.\n"
      "# TYPE cohort_rpc_responses_total counter\n"
      "cohort_rpc_responses_total{class=\"2xx\"} %llu\n"
      "cohort_rpc_responses_total{class=\"4xx\"} %llu\n"
      "cohort_rpc_responses_total{class=\"5xx\"} %llu\n",
      s->n_conns, (unsigned long long)s->n_accepted,
      (unsigned long long)s->n_refused, (unsigned long long)s->n_dropped,
      (unsigned long long)s->n_calls, (unsigned long long)s->n_status[2],
      (unsigned long long)s->n_status[4], (unsigned long long)s->n_status[5]);
  if (n < 0 || (size_t)n >= sizeof own) n = 0;
  char ws[1024];
  int wn = snprintf(
      ws, sizeof ws,
      "# HELP cohort_rpc_ws_upgrades_total WebSocket connections opened.\n"
      "# TYPE cohort_rpc_ws_upgrades_total counter\n"
      "cohort_rpc_ws_upgrades_total %llu\n"
      "# HELP cohort_rpc_ws_subscriptions Open WebSocket subscriptions.\n"
      "# TYPE cohort_rpc_ws_subscriptions gauge\n"
      "cohort_rpc_ws_subscriptions %zu\n"
      "# HELP cohort_rpc_ws_notifications_total Events sent to subscribers.\n"
      "# TYPE cohort_rpc_ws_notifications_total counter\n"
      "cohort_rpc_ws_notifications_total %llu\n"
      "# HELP cohort_rpc_ws_slow_dropped_total WebSocket clients dropped for "
      "not reading their events (close 1008).\n"
      "# TYPE cohort_rpc_ws_slow_dropped_total counter\n"
      "cohort_rpc_ws_slow_dropped_total %llu\n",
      (unsigned long long)s->n_ws_upgrades, rpc_server_ws_sub_count(s),
      (unsigned long long)s->n_ws_notifications,
      (unsigned long long)s->n_ws_slow);
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
                    "JSON-RPC requests must be sent with POST", "Allow: POST\r\n");
  } else if (path_is(path, plen, "/websocket")) {
    const char *msg = NULL;
    int st = rpc_ws_handshake_check(&c->http, &msg);
    if (st == 0)
      rpc_ws_upgrade(c);
    else
      respond_error(c, st, RPC_INVALID_REQUEST, msg,
                    st == 426 ? "Sec-WebSocket-Version: 13\r\n"
                               : st == 405 ? "Allow: GET\r\n" : NULL);
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

/* ---- reading --------------------------------------------------------------- */

static void on_continue_written(uv_write_t *req, int status) {
  conn *c = req->data;
  c->cont_pending = 0;
}

/* Feed buffered bytes to the reader while we are free to answer. */
static void pump(conn *c) {
  while (c->state == C_READING) {
    size_t used = 0;
    int r = rpc_http_feed(&c->http, c->in + c->in_off, c->in_len - c->in_off,
                          &used);
    c->in_off += used;
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
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
      LOGD(MOD, "bad request from %s: %s", c->peer, c->http.err);
      c->in_off = c->in_len = 0;
      respond_error(c, c->http.status,
                    c->http.status == 500 ? RPC_INTERNAL_ERROR
                                          : RPC_INVALID_REQUEST,
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
      LOGD(MOD, "dropping %s: closed in the middle of a request", c->peer);
    else if (c->state == C_BUSY)
      LOGD(MOD, "client %s went away before its answer", c->peer);
    else if (nread != UV_EOF)
      LOGD(MOD, "dropping %s: %s", c->peer, uv_strerror((int)nread));
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
    LOGD(MOD, "dropping %s: %s", c->peer, uv_strerror(rc));
    conn_close(c);
    return;
  }
  c->reading = 1;
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  switch (c->state) {
    case C_READING:
      if (c->http.started) {
        char msg[128];
        snprintf(msg, sizeof msg, "request not received whole within %llu ms",
                 (unsigned long long)c->s->idle_ms);
        LOGD(MOD, "dropping %s: %s", c->peer, msg);
        c->s->n_dropped++;
        c->close_after = 1;
        respond_error(c, 408, RPC_TIMEOUT, msg, NULL);
      } else {
        LOGD(MOD, "closing idle connection from %s", c->peer);
        conn_close(c);
      }
      break;
    case C_WRITING: {
      /* A large answer to a slow reader may take long: drop the client only
       * when a whole period passed without any of it being taken. */
      size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
      if (q > 0 && q < c->wq_last) {
        c->wq_last = q;
        uv_timer_start(&c->timer, on_timer, c->s->idle_ms, 0);
        break;
      }
      c->s->n_dropped++;
      LOGD(MOD, "dropping %s: response not read within %llu ms", c->peer,
           (unsigned long long)c->s->idle_ms);
      conn_close(c);
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

/* ---- accepting -------------------------------------------------------------- */

static void on_reject_closed(uv_handle_t *h) {
  rpc_server *s = h->data;
  free(h);
  s->n_rejects--;
  maybe_finish(s);
}

/* Accept, tell the client why (best effort: 503 with msg, or a default
 * naming the connection limit), close. */
static void reject(rpc_server *s, const char *why) {
  uv_tcp_t *t = malloc(sizeof *t);
  if (!t || uv_tcp_init(s->loop, t) != 0) {
    /* Cannot even accept: the listener stalls until memory returns. */
    LOGE(MOD, "out of memory refusing a connection on %s", s->addr);
    free(t);
    return;
  }
  t->data = s;
  s->n_rejects++;
  if (uv_accept((uv_stream_t *)&s->tcp, (uv_stream_t *)t) == 0) {
    char msg[96], head[160];
    snprintf(msg, sizeof msg, "%s", why ? why : "");
    if (!why)
      snprintf(msg, sizeof msg, "too many connections (limit %u); retry later",
               s->max_conns);
    size_t blen;
    char *body = error_body(RPC_UNAVAILABLE, msg, &blen);
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                      "application/json\r\nContent-Length: %zu\r\nConnection: "
                      "close\r\n\r\n",
                      blen);
    uv_buf_t b[2] = {uv_buf_init(head, (unsigned)hn),
                     uv_buf_init(body, (unsigned)blen)};
    (void)uv_try_write((uv_stream_t *)t, b, body ? 2 : 1);
    free(body);
    if (!why && !s->warned_full) {
      LOGW(MOD, "refusing connections: %u open, the limit", s->n_conns);
      s->warned_full = 1;
    }
    LOGD(MOD, "refused a connection: %s", msg);
  }
  uv_close((uv_handle_t *)t, on_reject_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  rpc_server *s = server->data;
  if (status < 0) {
    LOGW(MOD, "accept on %s failed: %s", s->addr, uv_strerror(status));
    return;
  }
  if (s->closing) return;
  if (s->n_conns >= s->max_conns) {
    s->n_refused++;
    reject(s, NULL);
    return;
  }
  conn *c = calloc(1, sizeof *c);
  char *in = malloc(IN_CAP);
  if (!c || !in || uv_tcp_init(s->loop, &c->tcp) != 0) {
    free(c);
    free(in);
    LOGW(MOD, "out of memory accepting a connection");
    /* libuv stops watching the listener until the socket is accepted. */
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
  s->n_conns++;
  s->n_accepted++;
  uv_timer_init(s->loop, &c->timer);
  c->handles = 2;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      uv_ip6_name(a, host, sizeof host);
      port = ntohs(a->sin6_port);
      snprintf(c->peer, sizeof c->peer, "[%s]:%d", host, port);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      uv_ip4_name(a, host, sizeof host);
      port = ntohs(a->sin_port);
      snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    }
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->state = C_READING;
  uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
  start_reading(c);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h) {
  rpc_server *s = h->data;
  s->listener_open = 0;
  maybe_finish(s);
}

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

int rpc_server_new(rpc_server **out, uv_loop_t *loop, const rpc_config *cfg,
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

  rpc_server *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return core_errf(eb, COHORT_ERR_NOMEM, "rpc: out of memory");
  }
  s->loop = loop;
  s->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : RPC_DEFAULT_MAX_BODY;
  s->max_batch = cfg->max_batch ? cfg->max_batch : RPC_DEFAULT_MAX_BATCH;
  s->max_conns = cfg->max_conns ? cfg->max_conns : RPC_DEFAULT_MAX_CONNS;
  s->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : RPC_DEFAULT_IDLE_MS;
  s->metrics_fn = cfg->metrics_fn;
  s->ws_ping_ms = RPC_WS_PING_MS;
  s->ws_max_queue_bytes = RPC_WS_MAX_QUEUE_BYTES;
  s->ws_max_queue_msgs = RPC_WS_MAX_QUEUE_MSGS;
  s->methods = methods;
  s->n_methods = n_methods;
  s->ctx = ctx;
  s->port = bound_port;
  if (strchr(host, ':'))
    snprintf(s->addr, sizeof s->addr, "[%s]:%d", host, bound_port);
  else
    snprintf(s->addr, sizeof s->addr, "%s:%d", host, bound_port);

  int rc = uv_tcp_init(loop, &s->tcp);
  if (rc != 0) {
    close(fd);
    free(s);
    return core_errf(eb, COHORT_ERR_IO, "rpc listen %s: %s", listen_at,
                     uv_strerror(rc));
  }
  s->tcp.data = s;
  s->listener_open = 1;
  rc = uv_tcp_open(&s->tcp, fd);
  if (rc != 0) close(fd); /* else the handle owns it */
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->tcp, 511, on_connection);
  if (rc != 0) {
    /* The handle is registered: it is freed by its close callback. */
    s->closing = 1;
    uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
    return core_errf(eb, COHORT_ERR_IO, "rpc cannot listen on %s: %s",
                     listen_at, uv_strerror(rc));
  }
  /* libuv writes with write(2): a client that disconnects must not kill the
   * process with SIGPIPE. Only the default disposition is changed. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
  LOGI(MOD,
       "JSON-RPC listening on http://%s (body <= %zu bytes, batch <= %zu, "
       "<= %u connections, request deadline %llu ms)",
       s->addr, s->max_body, s->max_batch, s->max_conns,
       (unsigned long long)s->idle_ms);
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
  return s->n_conns + s->n_rejects;
}

void rpc_server_close(rpc_server *s, void (*done)(void *), void *arg) {
  if (!s || s->closing) return;
  s->closing = 1;
  s->done = done;
  s->done_arg = arg;
  LOGI(MOD, "JSON-RPC on %s stopping (%u connections open)", s->addr,
       s->n_conns);
  uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
  for (conn *c = s->conns; c; c = c->next) {
    if (c->state == C_WS) rpc_ws_going_away(c);
    conn_close(c);
  }
  /* If nothing was open the listener's close callback finishes. */
}
