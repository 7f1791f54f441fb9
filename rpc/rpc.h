/* rpc/rpc.h — JSON-RPC 2.0 over HTTP/1.1 and WebSocket on libuv, on a
 * thread of its own, and blocking clients.
 *
 * The server owns its sockets, its thread and that thread's libuv loop (the
 * "RPC thread"); the node supplies a method table. A request is read,
 * parsed, checked against the limits below and dispatched on the RPC thread
 * to the method's handler, which answers exactly once with rpc_call_reply or
 * rpc_call_error — before returning, or later and from any thread (e.g.
 * `broadcast_tx` in commit mode answers from the node's thread when the
 * block commits). Answers are rendered to JSON text and written on the RPC
 * thread. Batches are answered when every call in them is answered, in
 * order.
 *
 * Threads. Three kinds of thread meet here:
 *   - the owner thread: the one that calls rpc_server_new, runs the `owner`
 *     loop given to it, and later calls rpc_server_close (cohortd's
 *     consensus loop);
 *   - the RPC thread: accepts, reads, parses, dispatches, renders and
 *     writes; every handler starts here;
 *   - any other thread (libuv's pool, a worker): may answer calls and check
 *     rpc_call_client_alive.
 * Thread-safe: rpc_call_reply, rpc_call_error, rpc_call_client_alive,
 * rpc_call_client_addr, rpc_call_run_on_owner, rpc_server_publish,
 * rpc_server_has_subscribers. An answer given on another thread than the
 * RPC thread is queued to it (a mutex and a uv_async) and never waits for a
 * client. A handler that must mutate state owned by the owner thread (the
 * mempool) hops there with rpc_call_run_on_owner and answers from there;
 * everything else (reads of thread-safe stores) runs on the RPC thread, so
 * the owner loop never parses, renders or writes for a client.
 * rpc_server_new and rpc_server_close: owner thread only. rpc_call_loop's
 * loop: RPC thread only.
 *
 * Routes: POST / (JSON-RPC body, single or batch), GET /websocket (a
 * WebSocket carrying JSON-RPC and subscriptions, see rpc_server_publish),
 * GET /health (200 "ok"),
 * GET /metrics (Prometheus text: cfg.metrics_fn's page, if any, followed by
 * the server's own cohort_rpc_* counters — connections open, accepted,
 * refused, evicted, dropped at a deadline; calls dispatched and refused at a
 * limit; responses by class; bytes buffered; WebSocket counters).
 *
 * Limits (rpc_config; docs/rpc.md lists them with their defaults). None of
 * them can stall the loop, and none is global only: what one client address
 * (an IPv4 address, or an IPv6 /64) may hold is bounded separately, so no
 * address can take the server from the others.
 *   connections   max_conns in all, max_conns_per_ip per address. When the
 *                 table is full, the keep-alive HTTP connection idle the
 *                 longest (not mid-request, nothing unsent) is closed to make
 *                 room: holding idle connections reserves nothing. A client
 *                 mid-request has the request deadline (idle_timeout_ms).
 *   WebSockets    max_ws in all (so at least max_conns - max_ws slots serve
 *                 HTTP), max_ws_per_ip per address. When all max_ws are
 *                 taken, a newcomer evicts (close 1008) a WebSocket of the
 *                 address holding the most, if it holds at least two more
 *                 than the newcomer's address.
 *   calls         max_inflight_per_ip calls dispatched and not yet answered
 *                 per address; a body whose calls would exceed it is refused
 *                 whole (429, RPC_LIMIT_EXCEEDED). max_batch entries per
 *                 batch, and a batch's total method weight (rpc_method.weight)
 *                 at most max_batch_weight (400).
 *   bytes         max_body_bytes per request (413); at most RPC_JSON_MAX_VALUES
 *                 JSON values per body (400) so a body cannot expand in
 *                 memory; max_response_bytes per answer: a call whose answer
 *                 is larger gets RPC_LIMIT_EXCEEDED instead, and in a batch
 *                 whose answers together pass it, the calls answered after
 *                 that point get RPC_LIMIT_EXCEEDED ("cut"). client_buffer_bytes
 *                 per address and max_buffer_bytes in all, counting request
 *                 bodies being read and answers not yet written: a request
 *                 that would exceed them is refused (503), an answer that
 *                 would is replaced by RPC_LIMIT_EXCEEDED.
 *   time          a request must arrive whole within idle_timeout_ms (408);
 *                 an answer must be taken by the client with progress every
 *                 idle_timeout_ms and wholly within write_timeout_ms, else
 *                 the connection is dropped and its buffers freed (for a
 *                 WebSocket: its oldest unsent message within
 *                 write_timeout_ms).
 *
 * HTTP status of answers: 200 for JSON-RPC responses (including method
 * errors), 204 when every request was a notification, 400 when the body is
 * not valid JSON, nests deeper than 64 levels, holds too many values, or is
 * not a valid request or non-empty batch within max_batch and
 * max_batch_weight (body: a JSON-RPC error with id null), 404/405 for other
 * paths/verbs, 408 when a request does not arrive whole within
 * idle_timeout_ms, 413 for a body over max_body_bytes (sent as soon as
 * Content-Length or the bytes received exceed it; the connection is then
 * closed), 414/431 for an over-long URL (2 KiB) or headers (80 KiB), 400
 * for malformed HTTP (these close the connection), 429 when the address has
 * too many calls in flight, 503 to connections over a connection limit, to
 * WebSocket handshakes over a WebSocket limit and to requests over a buffer
 * limit. All error bodies are JSON-RPC error objects whose message says
 * what was wrong and which limit applies.
 *
 * Connections: keep-alive and pipelining are supported; requests on one
 * connection are answered one at a time, in order, and the next is not read
 * until the previous answer has been written, so a client that does not read
 * holds at most one response. A client that disconnects (EOF or reset)
 * while its calls are pending is gone: rpc_call_client_alive() turns 0 and
 * the answers are dropped. libuv writes with write(2): rpc_server_new sets
 * SIGPIPE to SIG_IGN if it still has its default disposition.
 */
#ifndef COHORT_RPC_H
#define COHORT_RPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"

/* JSON-RPC 2.0 standard error codes, and Cohort's own (-32000 range). */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define RPC_TX_REJECTED -32001  /* mempool/check refused the tx; data has reason */
#define RPC_NOT_FOUND -32004    /* block/tx/account not found */
#define RPC_LIMIT_EXCEEDED -32005 /* this client is over a limit or quota; message names it */
#define RPC_TIMEOUT -32008      /* waited too long (e.g. commit mode) */
#define RPC_UNAVAILABLE -32010  /* node shutting down or overloaded */

/* Values (scalars, arrays, objects) accepted in one request body. */
#define RPC_JSON_MAX_VALUES 100000

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;

/* A handler, called on the RPC thread. params is borrowed (NULL, a JSON
 * array or object) and valid only during the call; keep a json_incref'd
 * copy if you answer later (and do not modify it). The handler must
 * eventually call rpc_call_reply or rpc_call_error exactly once, from any
 * thread, even if the client has gone (the call object stays valid until
 * answered). It must not block: slow work goes to a thread pool
 * (uv_queue_work on rpc_call_loop) or to the owner (rpc_call_run_on_owner). */
typedef void (*rpc_handler_fn)(void *ctx, rpc_call *call, json_t *params);

typedef struct {
  const char *name;
  rpc_handler_fn fn;
  /* Cost of one call when counting a batch against max_batch_weight
   * (0 means 1): e.g. 1 for a lookup of one record, 10 for a block page. */
  unsigned weight;
} rpc_method;

typedef struct {
  const char *listen;        /* "HOST:PORT", e.g. "127.0.0.1:27657" */
  size_t max_body_bytes;     /* default 1 MiB when 0 */
  size_t max_batch;          /* default 100 when 0 */
  unsigned max_conns;        /* default 256 when 0 */
  uint64_t idle_timeout_ms;  /* default 10000 when 0: a request must arrive whole */
  /* Optional: return a malloc'd Prometheus text page (freed by the server).
   * Called on the RPC thread. */
  char *(*metrics_fn)(void *ctx);
  /* Optional: called on the RPC thread just before each handler runs
   * (e.g. to refresh a snapshot the handlers read). */
  void (*before_call)(void *ctx);
  /* WebSocket topics clients may subscribe to: NULL-terminated, borrowed,
   * must outlive the server; each name 1..64 characters of [a-z0-9_.-].
   * NULL: none. */
  const char *const *topics;
  /* Per-client and global limits (see the top of this file); 0 = default. */
  unsigned max_conns_per_ip;    /* default 64 */
  unsigned max_ws;              /* default max_conns / 2 */
  unsigned max_ws_per_ip;       /* default 32 */
  unsigned max_inflight_per_ip; /* default 256 */
  unsigned max_batch_weight;    /* default 200 */
  size_t max_response_bytes;    /* default 16 MiB */
  size_t client_buffer_bytes;   /* default 64 MiB */
  size_t max_buffer_bytes;      /* default 512 MiB */
  uint64_t write_timeout_ms;    /* default 30000 */
  size_t publish_queue;         /* events queued to the RPC thread, default 65536 */
  /* WebSocket: ping interval (also the pong deadline), unsent output per
   * connection in bytes and in messages; 0 = 20 s, 4 MiB, 1000. */
  uint64_t ws_ping_ms;
  size_t ws_max_queue_bytes, ws_max_queue_msgs;
} rpc_config;

/* Start the server: bind, then start the RPC thread with its own loop.
 * Owner thread only. cfg is borrowed for the call only (but cfg->topics must
 * outlive the server); methods is borrowed and must outlive the server; ctx
 * is passed to handlers and metrics_fn. owner is the caller's loop, on which
 * rpc_call_run_on_owner runs its functions; NULL if no handler needs it.
 * cfg->listen is "HOST:PORT" with HOST an IPv4 address, "[IPv6]" or a name
 * resolved once now; an optional "tcp://" prefix is accepted; PORT 0 binds an
 * ephemeral port (see rpc_server_port). Returns 0, COHORT_ERR_CONFIG (bad
 * listen address, a method entry without name/fn, a bad topic name),
 * COHORT_ERR_IO (bind or listen failed, e.g. the port is taken; eb says
 * which address and why) or COHORT_ERR_NOMEM. On failure *out is NULL and
 * nothing is left to free. */
int rpc_server_new(rpc_server **out, uv_loop_t *owner, const rpc_config *cfg,
                   const rpc_method *methods, size_t n_methods, void *ctx,
                   core_errbuf *eb);

/* The TCP port the server listens on (useful with "HOST:0", which binds an
 * ephemeral port), or -1 if s is NULL. */
int rpc_server_port(const rpc_server *s);

/* Stop: close the listener and every connection (WebSockets get close
 * 1001), let running simulations see their clients gone, wait for the RPC
 * thread to finish, then run what is still queued for the owner (its calls'
 * answers are dropped) and release the server. Owner thread only; blocks
 * for as long as the RPC thread needs to wind down (its handlers never
 * block, so this is short). s may be NULL. Calls not yet answered stay
 * valid until answered (from any thread); their answers are dropped; the
 * memory of the server is freed with the last of them. */
void rpc_server_close(rpc_server *s);

/* WebSocket subscriptions (RFC 6455, GET /websocket on the same port).
 *
 * Over the socket, text messages carry JSON-RPC requests and answers: every
 * method of the table works as over POST (answers, also asynchronous ones,
 * are sent when ready, not necessarily in request order), plus two built-in
 * methods: "subscribe" {"topic": T, "filter"?: {k: "v", ...}} answers
 * {"subscription": ID}; "unsubscribe" {"subscription": ID} answers true.
 * Events arrive as {"jsonrpc":"2.0","method":"subscription","params":
 * {"subscription": ID, "topic": T, "result": EVENT}}. If the server had to
 * drop events of a topic (the publish queue was full), each subscriber of
 * the topic then gets {"jsonrpc":"2.0","method":"subscription_gap",
 * "params":{"subscription": ID, "topic": T, "missed": N}}.
 *
 * Send an event to every subscriber of topic whose filter matches it. A
 * filter matches when each of its keys k equals the event's top-level string
 * field k, or is contained in its array field k or k+"s" (so {"executor": A}
 * matches "executors": [..., A]). Thread-safe and cheap for the caller:
 * event is stolen (the caller gives up its reference and must not touch it
 * or anything inside it again: jansson's reference counts are not safe to
 * share between threads) and queued to the RPC thread, which serializes it
 * once and finds the subscribers through an index by topic and by filter
 * value, so an event costs O(its fields + matching subscribers), not O(all
 * subscriptions). When nobody subscribes to the topic the event is freed at
 * once; when publish_queue events are already waiting it is dropped
 * (counted in /metrics, announced by subscription_gap). A
 * subscriber that cannot keep up (over ws_max_queue_bytes or _msgs unsent)
 * is disconnected with close code 1008. Unknown topics are a bug: logged,
 * ignored. Not after rpc_server_close. */
void rpc_server_publish(rpc_server *s, const char *topic, json_t *event);

/* 1 if some WebSocket client subscribes to topic (so an event would go
 * somewhere): lets a publisher skip building events nobody reads.
 * Thread-safe, a lock-free read. */
int rpc_server_has_subscribers(const rpc_server *s, const char *topic);

/* Answer a call, from any thread. result is stolen (NULL means JSON null).
 * After either answer function returns, c may be freed at any time: do not
 * touch it again. Answering a call twice is a bug; the second answer is
 * logged and ignored only while other calls of the same batch are still
 * pending. On the RPC thread the answer is recorded at once; from another
 * thread it is queued to the RPC thread (the caller never waits for a
 * client). */
void rpc_call_reply(rpc_call *c, json_t *result);
/* Answer with an error. msg is copied; data is stolen and may be NULL. */
void rpc_call_error(rpc_call *c, int code, const char *msg, json_t *data);
/* 1 while the client connection that sent the call is still open (an atomic
 * read: a worker may poll it to stop work nobody waits for). */
int rpc_call_client_alive(const rpc_call *c);
/* The client's address key ("127.0.0.1", "2001:db8:1:2::/64"), the unit of
 * per-client limits; valid until the call is answered. */
const char *rpc_call_client_addr(const rpc_call *c);
/* The RPC thread's loop, for handlers that answer later from a timer or
 * uv_queue_work. Use it on the RPC thread only. */
uv_loop_t *rpc_call_loop(const rpc_call *c);
/* Run fn(arg) on the owner thread (the `owner` loop of rpc_server_new), in
 * order, soon. For handlers that need state only the owner may touch: the
 * handler validates and decodes on the RPC thread, then hops, and fn answers
 * the call. Returns 0, COHORT_ERR_INVALID (the server has no owner loop)
 * or COHORT_ERR_IO (the server is stopping); on failure fn will not run and
 * the caller answers the call and frees arg.
 * Functions still queued when the server stops are run by rpc_server_close
 * on the owner thread (their calls' answers are dropped), so arg is never
 * leaked. */
int rpc_call_run_on_owner(rpc_call *c, void (*fn)(void *arg), void *arg);

/* Pure request parsing, shared by the server and the fuzz target: parse a
 * body of len bytes. On success *out is a new reference to the request or
 * batch (array) and returns 0. On failure returns RPC_PARSE_ERROR (not
 * JSON, deeper than 64 levels, more than RPC_JSON_MAX_VALUES values) or
 * RPC_INVALID_REQUEST (empty batch, batch over max_batch, not object/array)
 * with a message in eb. Never reads past len; body need not be NUL-ended. */
int rpc_request_parse(const char *body, size_t len, size_t max_batch,
                      json_t **out, core_errbuf *eb);

/* Check one request object's shape: "jsonrpc":"2.0", string "method",
 * params absent/array/object, id absent/string/number/null. Returns 0 or
 * RPC_INVALID_REQUEST with eb set. */
int rpc_request_validate(const json_t *req, core_errbuf *eb);

/* Blocking client for the CLI and tests: POST one call to url
 * ("http://HOST:PORT[/]") and wait up to timeout_ms. params is borrowed.
 * On success *result is a new reference and returns 0. If the server
 * answered with an error, returns its (negative JSON-RPC) code, and eb holds
 * its message; *err_data (if non-NULL) gets a new reference to its data.
 * Transport failures return COHORT_ERR_IO / COHORT_ERR_TIMEOUT /
 * COHORT_ERR_DECODE with eb naming the URL. Responses over 64 MiB are refused. */
int rpc_client_call(const char *url, const char *method, json_t *params,
                    uint64_t timeout_ms, json_t **result, json_t **err_data,
                    core_errbuf *eb);

/* An RPC client error message (eb.msg of rpc_client_call) for people:
 * without the URL prefix when the message starts with url (the caller names
 * it already), on one line, an HTML page's markup replaced by a note.
 * Writes at most cap bytes to out (NUL-ended) and returns out. */
const char *rpc_client_clean_err(const char *url, const char *msg, char *out, size_t cap);

/* Blocking WebSocket client (for the CLI and tests): subscribe to a node's
 * topics and read events. Not thread-safe: one thread per client. */
typedef struct rpc_ws_client rpc_ws_client;

/* Connect to url ("http://HOST:PORT[/]" means ws on /websocket; another path
 * or a "ws://" URL is used as given) and do the handshake, within
 * timeout_ms (0: 10 s), which also bounds each later rpc_ws_subscribe.
 * Returns 0 with *out set, or COHORT_ERR_INVALID (bad URL), _IO (cannot
 * connect, or the server refused the upgrade: eb has its HTTP status),
 * _TIMEOUT, _DECODE (not a WebSocket answer) or _NOMEM; *out is then NULL. */
int rpc_ws_connect(rpc_ws_client **out, const char *url, uint64_t timeout_ms,
                   core_errbuf *eb);

/* Subscribe to topic; filter (borrowed, may be NULL) is an object of string
 * fields (see rpc_server_publish). Waits for the answer; events that arrive
 * meanwhile are kept for rpc_ws_next. Returns 0, the server's negative
 * JSON-RPC code (e.g. RPC_INVALID_PARAMS for an unknown topic; eb has its
 * message), or COHORT_ERR_IO / _TIMEOUT / _DECODE / _NOMEM. */
int rpc_ws_subscribe(rpc_ws_client *c, const char *topic, json_t *filter,
                     core_errbuf *eb);

/* Wait up to timeout_ms for the next event. Returns 0 with *event a new
 * reference to the notification's params.result and its topic copied into
 * topic_out (may be NULL), or 0 with *event NULL on timeout. Returns
 * COHORT_ERR_IO when the connection dropped or was closed by the server
 * (eb gives the close code and reason); later calls fail the same way.
 * Pings are answered while waiting. */
int rpc_ws_next(rpc_ws_client *c, uint64_t timeout_ms, json_t **event,
                char *topic_out, size_t topic_cap, core_errbuf *eb);

/* Send a close frame (best effort) and free c. c may be NULL. */
void rpc_ws_close(rpc_ws_client *c);

#endif
