/* rpc/rpc_int.h — internals of rpc/, private to the folder (and its tests and
 * fuzz targets).
 *
 * rpc_http is the per-connection HTTP/1.1 request reader: bytes in, requests
 * out, no sockets and no clock. The server (rpc_server.c) feeds it what a
 * connection reads; the fuzz target feeds it arbitrary bytes.
 *
 * States of one rpc_http, and what moves between them:
 *
 *   READING --feed: a whole request--> DONE --rpc_http_next--> READING
 *   READING --feed: bad bytes, body or URL over a limit--> FAILED (final)
 *   READING --rpc_http_eof mid-request--> FAILED (final)
 *
 * In DONE the request (method, path, body, keep_alive) is readable and stays
 * so until rpc_http_next or rpc_http_free; feed returns at once without
 * consuming. In FAILED, status and err say what to answer (400, 413, 414, 431)
 * and the connection must be closed after the answer: the byte stream cannot
 * be resynchronised.
 */
#ifndef COHORT_RPC_INT_H
#define COHORT_RPC_INT_H

#include <http_parser.h>
#include <jansson.h>
#include <stddef.h>

#define RPC_HTTP_MAX_URL 2048     /* request-target bytes, else 414 */
#define RPC_JSON_MAX_DEPTH 64     /* [ and { nesting accepted in a request */
#define RPC_DEFAULT_MAX_BODY (1u << 20)
#define RPC_DEFAULT_MAX_BATCH 100
#define RPC_DEFAULT_MAX_CONNS 256
#define RPC_DEFAULT_IDLE_MS 10000

enum { RPC_HTTP_READING = 0, RPC_HTTP_DONE, RPC_HTTP_FAILED };

/* Results of rpc_http_feed. */
enum { RPC_HTTP_MORE = 0, RPC_HTTP_REQUEST = 1, RPC_HTTP_ERROR = 2 };

typedef struct {
  http_parser parser;
  http_parser_settings settings;
  size_t max_body;
  int state;      /* RPC_HTTP_READING / DONE / FAILED */
  int started;    /* some byte of the current request has been seen */
  /* The request, valid in DONE. */
  int method;     /* enum http_method */
  int keep_alive; /* the client may send another request after this one */
  int http_minor; /* 0 for HTTP/1.0 */
  char url[RPC_HTTP_MAX_URL + 1];
  size_t url_len;
  char *body;     /* owned; body_len bytes (NUL after them), NULL if none */
  size_t body_len, body_cap;
  /* Header being read: only names we act on are kept (short ones). */
  char field[24];
  size_t field_len;
  int field_long;
  int in_value;      /* last callback was a header value */
  int hdr_expect;    /* current header is Expect */
  char expect[24];
  size_t expect_len;
  /* Set when the headers asked for "Expect: 100-continue" and the body may
   * be sent; the server writes "100 Continue" and clears it. */
  int want_continue;
  /* In FAILED: HTTP status and a sentence for the error body. */
  int status;
  char err[160];
} rpc_http;

/* Set up h for a new connection whose bodies may be up to max_body bytes. */
void rpc_http_init(rpc_http *h, size_t max_body);
/* Free what h owns (the body). h may then be re-initialised. */
void rpc_http_free(rpc_http *h);
/* Read up to len bytes. *used gets how many were consumed; bytes after them
 * belong to the next request and must be fed again after rpc_http_next.
 * Returns RPC_HTTP_MORE (all consumed, request incomplete), RPC_HTTP_REQUEST
 * (state DONE) or RPC_HTTP_ERROR (state FAILED). A body over max_body fails
 * as soon as Content-Length or the bytes received exceed it, before it is
 * buffered. */
int rpc_http_feed(rpc_http *h, const char *data, size_t len, size_t *used);
/* The peer closed its side. Returns RPC_HTTP_ERROR (and FAILED) if a request
 * was partly received, RPC_HTTP_MORE otherwise. */
int rpc_http_eof(rpc_http *h);
/* Forget the DONE request and read the next one. */
void rpc_http_next(rpc_http *h);
/* The path of the DONE request without query string: *len bytes at the
 * returned pointer (into h->url). */
const char *rpc_http_path(const rpc_http *h, size_t *len);

/* Connections the server has not yet freed (for tests and fuzzing). */
struct rpc_server;
unsigned rpc_server_conn_count(const struct rpc_server *s);

/* Depth of [ and { nesting in a JSON text, ignoring brackets in strings;
 * stops early once over limit. *at gets the offset where limit was passed. */
int rpc_json_depth_over(const char *s, size_t len, int limit, size_t *at);

/* Short English name of a JSON value's type ("object", "a string"...). */
const char *rpc_json_type_name(const json_t *v);

/* Build {"jsonrpc":"2.0","id":id,"error":{code,message,data}}. id is
 * borrowed (NULL means null), data stolen (may be NULL). NULL on no memory. */
json_t *rpc_error_object(const json_t *id, int code, const char *msg,
                         json_t *data);

#endif
