/* rpc/rpc.h — JSON-RPC 2.0 over HTTP/1.1 on libuv, and a blocking client.
 *
 * The server owns its sockets; the node supplies a method table. A request
 * is parsed, checked against limits, and dispatched on the loop thread to the
 * method's handler, which answers exactly once with rpc_call_reply or
 * rpc_call_error — either before returning or later (e.g. `broadcast_tx`
 * in commit mode answers when the block commits). Batches are answered when
 * every call in them is answered, in order.
 *
 * Routes: POST / (JSON-RPC body, single or batch), GET /websocket (a
 * WebSocket carrying JSON-RPC and subscriptions, see rpc_server_publish),
 * GET /health (200 "ok"),
 * GET /metrics (Prometheus text: cfg.metrics_fn's page, if any, followed by
 * the server's own cohort_rpc_* counters — connections open, accepted,
 * refused, dropped at a deadline; calls dispatched; responses by class).
 *
 * Limits: body size, batch size, connection count, and an idle deadline that
 * drops slow or half-open clients; none of them can stall the loop.
 *
 * HTTP status of answers: 200 for JSON-RPC responses (including method
 * errors), 204 when every request was a notification, 400 when the body is
 * not valid JSON, nests deeper than 64 levels, or is not a valid request or
 * non-empty batch within max_batch (body: a JSON-RPC error with id null),
 * 404/405 for other paths/verbs, 408 when a request does not arrive whole
 * within idle_timeout_ms, 413 for a body over max_body_bytes (sent as soon as
 * Content-Length or the bytes received exceed it; the connection is then
 * closed), 414/431 for an over-long URL (2 KiB) or headers (80 KiB), 400
 * for malformed HTTP (these close the connection), 503 to connections over
 * max_conns. All error bodies are JSON-RPC
 * error objects whose message says what was wrong.
 *
 * Connections: keep-alive and pipelining are supported; requests on one
 * connection are answered one at a time, in order, and the next is not read
 * until the previous answer has been written, so a client that does not read
 * holds at most one response and is dropped when it takes none of it for
 * idle_timeout_ms. A client that disconnects (EOF or reset) while its
 * calls are pending is gone: rpc_call_client_alive() turns 0 and the answers
 * are dropped.
 *
 * Threads: every server function, including rpc_call_reply/rpc_call_error,
 * must be called on the loop's thread (rpc_client_call and the parsers may
 * be called from any thread). libuv writes with write(2): rpc_server_new sets
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
#define RPC_TIMEOUT -32008      /* waited too long (e.g. commit mode) */
#define RPC_UNAVAILABLE -32010  /* node shutting down or overloaded */

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;

/* A handler. params is borrowed (NULL, a JSON array or object) and valid only
 * during the call; keep a json_incref'd copy if you answer later. The handler
 * must eventually call rpc_call_reply or rpc_call_error exactly once, even if
 * the client has gone (the call object stays valid until answered). */
typedef void (*rpc_handler_fn)(void *ctx, rpc_call *call, json_t *params);

typedef struct {
  const char *name;
  rpc_handler_fn fn;
} rpc_method;

typedef struct {
  const char *listen;        /* "HOST:PORT", e.g. "127.0.0.1:27657" */
  size_t max_body_bytes;     /* default 1 MiB when 0 */
  size_t max_batch;          /* default 100 when 0 */
  unsigned max_conns;        /* default 256 when 0 */
  uint64_t idle_timeout_ms;  /* default 10000 when 0: a request must arrive whole */
  /* Optional: return a malloc'd Prometheus text page (freed by the server). */
  char *(*metrics_fn)(void *ctx);
} rpc_config;

/* Start listening. cfg is borrowed for the call only; methods is borrowed
 * and must outlive the server; ctx is passed to handlers and metrics_fn.
 * cfg->listen is "HOST:PORT" with HOST an IPv4 address, "[IPv6]" or a name
 * resolved once now; an optional "tcp://" prefix is accepted; PORT 0 binds an
 * ephemeral port (see rpc_server_port). Returns 0, COHORT_ERR_CONFIG (bad
 * listen address, or a method entry without name/fn) or COHORT_ERR_IO (bind
 * or listen failed, e.g. the port is taken; eb says which address and why).
 * On failure *out is NULL and nothing is left to free. */
int rpc_server_new(rpc_server **out, uv_loop_t *loop, const rpc_config *cfg,
                   const rpc_method *methods, size_t n_methods, void *ctx,
                   core_errbuf *eb);

/* The TCP port the server listens on (useful with "HOST:0", which binds an
 * ephemeral port), or -1 if s is NULL. */
int rpc_server_port(const rpc_server *s);

/* Stop accepting, close every connection, then free the server and call
 * done(arg) (may be NULL). Pending calls stay valid until answered; their
 * answers are dropped. */
void rpc_server_close(rpc_server *s, void (*done)(void *), void *arg);

/* WebSocket subscriptions (RFC 6455, GET /websocket on the same port).
 *
 * Over the socket, text messages carry JSON-RPC requests and answers: every
 * method of the table works as over POST (answers, also asynchronous ones,
 * are sent when ready, not necessarily in request order), plus two built-in
 * methods: "subscribe" {"topic": T, "filter"?: {k: "v", ...}} answers
 * {"subscription": ID}; "unsubscribe" {"subscription": ID} answers true.
 * Events arrive as {"jsonrpc":"2.0","method":"subscription","params":
 * {"subscription": ID, "topic": T, "result": EVENT}}.
 *
 * Declare the topics clients may subscribe to. topics is NULL-terminated,
 * borrowed, and must outlive the server (like the method table); each name is
 * 1..64 characters of [a-z0-9_.-]. NULL or an empty list means none. Call
 * it once, right after rpc_server_new (open subscriptions refer to topics by
 * position). Returns 0 or COHORT_ERR_CONFIG (a bad name; the previous list
 * stays). */
int rpc_server_set_topics(rpc_server *s, const char *const *topics,
                          core_errbuf *eb);

/* Send an event to every subscriber of topic whose filter matches it. A
 * filter matches when each of its keys k equals the event's top-level string
 * field k, or is contained in its array field k or k+"s" (so {"executor": A}
 * matches "executors": [..., A]). event is borrowed; it is serialized once.
 * A subscriber that cannot keep up (over 4 MiB or 1000 messages unsent) is
 * disconnected with close code 1008. Unknown topics are a bug: logged,
 * ignored. Loop thread only, and not after rpc_server_close. */
void rpc_server_publish(rpc_server *s, const char *topic, json_t *event);

/* Answer a call. result is stolen (NULL means JSON null). After either
 * answer function returns, c is freed: do not touch it again. Answering a call
 * twice is a bug; the second answer is logged and ignored only while other
 * calls of the same batch are still pending. */
void rpc_call_reply(rpc_call *c, json_t *result);
/* Answer with an error. msg is copied; data is stolen and may be NULL. */
void rpc_call_error(rpc_call *c, int code, const char *msg, json_t *data);
/* 1 while the client connection that sent the call is still open. */
int rpc_call_client_alive(const rpc_call *c);

/* Pure request parsing, shared by the server and the fuzz target: parse a
 * body of len bytes. On success *out is a new reference to the request or
 * batch (array) and returns 0. On failure returns RPC_PARSE_ERROR or
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
