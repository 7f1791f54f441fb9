/* rpc/rpc_server_int.h — the server's internal structures, shared by
 * rpc_server.c (HTTP) and rpc_ws.c (WebSocket), and the hooks between them.
 * Private to those two files; everything runs on the loop thread.
 */
#ifndef COHORT_RPC_SERVER_INT_H
#define COHORT_RPC_SERVER_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define IN_CAP (16 * 1024)   /* pipelined bytes kept per connection */
#define RPC_WS_PING_MS 20000 /* ping interval, and the pong deadline */
#define RPC_WS_MAX_QUEUE_BYTES (4u << 20) /* unsent bytes per connection */
#define RPC_WS_MAX_QUEUE_MSGS 1000        /* unsent messages per connection */
#define RPC_WS_MAX_SUBS 32                /* subscriptions per connection */
#define RPC_WS_MAX_JOBS 64        /* unanswered messages per connection */
#define RPC_WS_CLOSE_WAIT_MS 1000 /* wait for the peer's close this long */

typedef struct rpc_ws_conn rpc_ws_conn;
typedef struct conn conn;
typedef struct job job;

/* C_WS: upgraded to a WebSocket; rpc_ws.c owns reading, writing and the
 * timer from then on (see rpc_ws.c for its states). */
enum { C_READING, C_BUSY, C_WRITING, C_LINGER, C_CLOSING, C_WS };

struct rpc_server {
  uv_loop_t *loop;
  uv_tcp_t tcp;
  size_t max_body, max_batch;
  unsigned max_conns;
  uint64_t idle_ms;
  char *(*metrics_fn)(void *ctx);
  const rpc_method *methods; /* borrowed */
  size_t n_methods;
  void *ctx;
  conn *conns;        /* every connection not yet freed */
  unsigned n_conns;   /* length of conns */
  unsigned n_rejects; /* refused sockets whose close is pending */
  int warned_full;
  /* Counters for /metrics. */
  uint64_t n_accepted, n_refused, n_dropped, n_calls;
  uint64_t n_status[6]; /* responses by status class: [2] 2xx ... [5] 5xx */
  int port;
  int listener_open;
  int closing;
  void (*done)(void *);
  void *done_arg;
  char addr[80];
  /* WebSocket (rpc_ws.c). */
  const char *const *topics; /* borrowed; n_topics names */
  size_t n_topics;
  uint64_t ws_ping_ms;
  size_t ws_max_queue_bytes, ws_max_queue_msgs;
  uint64_t ws_next_sub;
  uint64_t n_ws_upgrades, n_ws_slow, n_ws_notifications;
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wreq; /* the response being written */
  uv_write_t creq; /* a "100 Continue" */
  uv_shutdown_t sreq;
  rpc_server *s;
  conn *prev, *next;
  int state;
  int handles;     /* libuv handles not yet closed */
  int reading;     /* uv_read_start is in effect */
  int close_after; /* close once the current response is written */
  int cont_pending;
  rpc_http http;
  job *job; /* the POST being answered (BUSY), or NULL */
  char *in; /* IN_CAP bytes, owned: in[in_off..in_len) not yet fed */
  size_t in_off, in_len;
  char *whead, *wbody; /* owned while a response is being written */
  size_t lingered;
  size_t wq_last; /* write queue size at the last deadline check */
  char peer[64];
  rpc_ws_conn *ws; /* set once upgraded (state C_WS, then CLOSING) */
};

struct rpc_call {
  job *j;
  json_t *id;  /* owned; the id to answer with */
  int respond; /* 0 for a notification: the answer is dropped */
  int answered;
};

struct job {
  conn *c; /* NULL once the connection is closing */
  int batch;
  int status; /* HTTP status of the answer */
  size_t n;
  size_t pending; /* unanswered calls, +1 while dispatching */
  json_t **resp;  /* n response objects (owned) or NULL (none to send) */
  job *ws_prev, *ws_next; /* in the WebSocket connection's list of jobs */
  rpc_call calls[];
};

/* ---- rpc_server.c, for rpc_ws.c ---- */

/* Close c now (idempotent); its handles are freed by their close callbacks. */
void rpc_conn_close(conn *c);
/* Resume / stop reading from c's socket (reading stops by itself when the
 * input buffer is full). */
void rpc_conn_start_reading(conn *c);
void rpc_conn_stop_reading(conn *c);
/* Parse one JSON-RPC body (a POST body or a WebSocket text message) and
 * dispatch its calls. Over a WebSocket, the answers are sent as a text
 * message when the last call is answered (nothing for notifications). */
void rpc_dispatch(conn *c, const char *body, size_t len);

/* ---- rpc_ws.c, for rpc_server.c ---- */

/* Check a GET /websocket request. 0 if it is a valid handshake; else the
 * HTTP status to answer (400, 405, 426) and a message. */
int rpc_ws_handshake_check(const rpc_http *h, const char **msg);
/* Answer 101, move c to C_WS and start reading frames (bytes already in
 * c->in after the request are frames). */
void rpc_ws_upgrade(conn *c);
/* New bytes are in c->in. */
void rpc_ws_pump(conn *c);
void rpc_ws_on_timer(conn *c);
/* The connection closes: forget its jobs (their answers are dropped). */
void rpc_ws_detach(conn *c);
/* Free what c->ws owns (from the last close callback). */
void rpc_ws_conn_free(conn *c);
/* A job of c (dispatched over the socket) starts / finished. out is the
 * answer to send (consumed; NULL when there is none). */
void rpc_ws_job_start(conn *c, job *j);
void rpc_ws_job_finish(conn *c, job *j, json_t *out);
/* Send a JSON value (consumed) as a text message. */
void rpc_ws_send_json(conn *c, json_t *v);
/* Handle call if it is a WebSocket built-in ("subscribe", "unsubscribe"):
 * answer it and return 1; 0 otherwise. */
int rpc_ws_builtin(conn *c, rpc_call *call, const char *method, json_t *params);
/* The server is stopping: tell c (best effort, close 1001). */
void rpc_ws_going_away(conn *c);

#endif
