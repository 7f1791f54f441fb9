/* rpc/rpc_server_int.h — the server's internal structures, shared by
 * rpc_server.c (HTTP, threads, limits) and rpc_ws.c (WebSocket), and the
 * hooks between them. Private to those two files.
 *
 * Which thread touches what (see rpc_server.c's opening comment):
 *   - everything in struct conn, struct rpc_peer, the connection list and
 *     the subscription index: the RPC thread only;
 *   - the fields under "shared, under mu": any thread holding s->mu;
 *   - atomics: any thread.
 * A job is touched by the RPC thread while the server runs, and afterwards
 * (once s->open is 0) only under s->mu, by whichever thread answers.
 */
#ifndef COHORT_RPC_SERVER_INT_H
#define COHORT_RPC_SERVER_INT_H

#include <jansson.h>
#include <stdatomic.h>
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
#define RPC_PEER_KEY 56           /* "255.255.255.255", "xxxx:...:xxxx::/64" */

typedef struct rpc_ws_conn rpc_ws_conn;
typedef struct conn conn;
typedef struct job job;
typedef struct rpc_peer rpc_peer;
typedef struct ws_index ws_index;
typedef struct pub_ev pub_ev;
typedef struct owner_box owner_box;

/* C_WS: upgraded to a WebSocket; rpc_ws.c owns reading, writing and the
 * timer from then on (see rpc_ws.c for its states). */
enum { C_READING, C_BUSY, C_WRITING, C_LINGER, C_CLOSING, C_WS };

/* One client address: what it holds, for the per-address limits. Kept while
 * a connection or a job refers to it. */
struct rpc_peer {
  rpc_peer *next; /* hash chain */
  char key[RPC_PEER_KEY];
  unsigned refs;
  unsigned n_conns, n_ws; /* admitted connections, WebSockets among them */
  size_t inflight;        /* calls dispatched and not yet answered */
  size_t buffered;        /* request bodies being read + unsent answers */
};

struct rpc_server {
  /* ---- set before the RPC thread starts, then read-only ---- */
  uv_loop_t loop; /* the RPC thread's */
  uv_thread_t thread;
  uv_loop_t *owner; /* may be NULL */
  size_t max_body, max_batch;
  unsigned max_conns, max_conns_per_ip, max_ws, max_ws_per_ip;
  unsigned max_inflight_per_ip, max_batch_weight;
  size_t max_response, client_buffer, max_buffer, publish_max;
  uint64_t idle_ms, write_ms;
  char *(*metrics_fn)(void *ctx);
  void (*before_call)(void *ctx);
  const rpc_method *methods; /* borrowed */
  size_t n_methods;
  void *ctx;
  int port;
  char addr[80];
  const char *const *topics; /* borrowed; n_topics names */
  size_t n_topics;
  uint64_t ws_ping_ms;
  size_t ws_max_queue_bytes, ws_max_queue_msgs;

  /* ---- shared, under mu ---- */
  uv_mutex_t mu;
  int open;     /* the RPC loop takes posted answers */
  int stop_req; /* rpc_server_close asked the RPC thread to stop */
  rpc_call *posts, *posts_tail; /* answers from other threads */
  pub_ev *pubs, *pubs_tail;     /* events from rpc_server_publish */
  size_t n_pubs;
  uint64_t *pub_gap;      /* per topic: events dropped, not yet told */
  owner_box *ob;          /* NULL once closed or without owner */
  atomic_int rpc_running; /* the RPC thread is in its loop */
  uv_thread_t self;       /* the RPC thread, as it sees itself */
  atomic_uint refs;       /* 1 for the server + 1 per live job */

  /* ---- the RPC thread's ---- */
  uv_tcp_t tcp;
  uv_async_t wake;  /* posted answers, events, stop */
  uv_timer_t sweep; /* write deadlines */
  conn *conns;      /* every connection not yet freed */
  unsigned n_live;  /* admitted and not closing (what max_conns counts) */
  unsigned n_ws;    /* admitted WebSockets (what max_ws counts) */
  rpc_peer **peers; /* hash table of client addresses */
  size_t n_peer_buckets, n_peers;
  size_t buffered; /* bytes held for all clients */
  int warned_full;
  int listener_open;
  int closing;
  ws_index *ix; /* subscriptions by topic and filter value */
  uint64_t ws_next_sub;

  /* ---- counters (atomics: /metrics and tests read them) ---- */
  atomic_uint n_conns, n_rejects; /* connections not yet freed; refusals
                                     whose close is pending */
  atomic_size_t a_buffered, n_subs;
  atomic_ullong n_accepted, n_refused, n_refused_ip, n_evicted, n_dropped,
      n_write_timeouts, n_calls, n_limited, n_too_big, n_ws_refused,
      n_ws_evicted, n_pub_dropped, n_filter_checks;
  atomic_ullong n_status[6]; /* responses by status class: [2] 2xx ... */
  atomic_ullong n_ws_upgrades, n_ws_slow, n_ws_notifications;
  atomic_size_t *topic_subs; /* per topic: open subscriptions */
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
  int admitted;   /* counted in n_live and its peer's n_conns */
  int ws_counted; /* counted in n_ws and its peer's n_ws */
  rpc_http http;
  job *job; /* the POST being answered (BUSY), or NULL */
  char *in; /* IN_CAP bytes, owned: in[in_off..in_len) not yet fed */
  size_t in_off, in_len;
  char *whead, *wbody; /* owned while a response is being written */
  size_t lingered;
  size_t wq_last;           /* write queue size at the last progress check */
  uint64_t idle_since;      /* ms: when it last became idle in READING */
  uint64_t write_start;     /* ms: when the current response started */
  size_t acct_in, acct_out; /* bytes counted in buffered (body, response) */
  rpc_peer *peer;           /* ref held; NULL for a refused connection */
  char name[64];            /* "addr:port" for logs */
  rpc_ws_conn *ws;          /* set once upgraded (state C_WS, then CLOSING) */
};

struct rpc_call {
  job *j;
  json_t *id;  /* owned; the id to answer with */
  int respond; /* 0 for a notification: the answer is dropped */
  atomic_int answered;
  /* An answer given on another thread waits in s->posts (a call is
   * answered once, so it needs one link and nothing is allocated). */
  rpc_call *q_next;
  int q_err, q_code;
  char *q_msg; /* owned, NULL: "out of memory" */
  json_t *q_val;
};

struct job {
  rpc_server *s;
  conn *c;          /* NULL once the connection is closing */
  atomic_int alive; /* c != NULL, readable from any thread */
  rpc_peer *peer;   /* ref held */
  char peer_key[RPC_PEER_KEY];
  int batch;
  int status; /* HTTP status of the answer */
  size_t n;
  size_t pending;  /* unanswered calls, +1 while dispatching */
  size_t inflight; /* calls counted in peer->inflight */
  char **txt;      /* n rendered answers (owned) or NULL (none to send) */
  size_t *txt_len;
  size_t bytes;           /* sum of txt_len, counted in buffered */
  size_t cap;             /* max bytes of this job's answer */
  int cut;                /* the answer reached cap: later answers are errors */
  job *ws_prev, *ws_next; /* in the WebSocket connection's list of jobs */
  rpc_call calls[];
};

/* ---- rpc_server.c, for rpc_ws.c ---- */

uint64_t rpc_loop_ms(rpc_server *s);
/* Close c now (idempotent); its handles are freed by their close callbacks. */
void rpc_conn_close(conn *c);
/* Reset c (the kernel drops its buffers too) and close it: for clients
 * dropped at a deadline. */
void rpc_conn_abort(conn *c);
/* Resume / stop reading from c's socket (reading stops by itself when the
 * input buffer is full). */
void rpc_conn_start_reading(conn *c);
void rpc_conn_stop_reading(conn *c);
/* Parse one JSON-RPC body (a POST body or a WebSocket text message) and
 * dispatch its calls. Over a WebSocket, the answers are sent as a text
 * message when the last call is answered (nothing for notifications). */
void rpc_dispatch(conn *c, const char *body, size_t len);
/* Count n bytes held for c's client (negative n releases them). */
void rpc_account(conn *c, long long n);

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
/* A job of c (dispatched over the socket) starts / finished. txt (len
 * bytes, malloc'd, consumed; NULL when there is nothing to send) is the
 * answer. */
void rpc_ws_job_start(conn *c, job *j);
void rpc_ws_job_finish(conn *c, job *j, char *txt, size_t len);
/* Send a JSON value (consumed) as a text message. */
void rpc_ws_send_json(conn *c, json_t *v);
/* Handle call if it is a WebSocket built-in ("subscribe", "unsubscribe"):
 * answer it and return 1; 0 otherwise. */
int rpc_ws_builtin(conn *c, rpc_call *call, const char *method, json_t *params);
/* The server is stopping: tell c (best effort, close 1001). */
void rpc_ws_going_away(conn *c);
/* Close c with a close frame (code, why): eviction. */
void rpc_ws_evict(conn *c, const char *why);
/* ms since the oldest unsent message of c was queued, or 0 if none. */
uint64_t rpc_ws_oldest_unsent_ms(conn *c, uint64_t now);
/* The subscription index: set up with the topics (0 or COHORT_ERR_NOMEM),
 * freed at the end. */
int rpc_ws_index_new(rpc_server *s);
void rpc_ws_index_free(rpc_server *s);
/* Fan out one event (borrowed) on the RPC thread. */
void rpc_ws_fanout(rpc_server *s, size_t topic, json_t *event);
/* Tell every subscriber of topic that missed events were dropped. */
void rpc_ws_gap(rpc_server *s, size_t topic, uint64_t missed);
/* Topic position of a name, or -1. */
int rpc_ws_topic_index(const rpc_server *s, const char *t, size_t *idx);

#endif
