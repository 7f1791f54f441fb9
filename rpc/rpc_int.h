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
#include <stdint.h>

#include "core/err.h"

#define RPC_HTTP_MAX_URL 2048     /* request-target bytes, else 414 */
#define RPC_JSON_MAX_DEPTH 64     /* [ and { nesting accepted in a request */
#define RPC_DEFAULT_MAX_BODY (1u << 20)
#define RPC_DEFAULT_MAX_BATCH 100
#define RPC_DEFAULT_MAX_CONNS 256
#define RPC_DEFAULT_IDLE_MS 10000
#define RPC_DEFAULT_CONNS_PER_IP 64
#define RPC_DEFAULT_WS_PER_IP 32
#define RPC_DEFAULT_INFLIGHT_PER_IP 256
#define RPC_DEFAULT_BATCH_WEIGHT 200
#define RPC_DEFAULT_MAX_RESPONSE (16u << 20)
#define RPC_DEFAULT_CLIENT_BUFFER (64u << 20)
#define RPC_DEFAULT_MAX_BUFFER (512u << 20)
#define RPC_DEFAULT_WRITE_MS 30000
#define RPC_DEFAULT_PUBLISH_QUEUE 65536

enum { RPC_HTTP_READING = 0, RPC_HTTP_DONE, RPC_HTTP_FAILED };

/* Headers whose values rpc_http keeps. */
enum { RPC_HDR_OTHER = 0, RPC_HDR_EXPECT, RPC_HDR_UPGRADE, RPC_HDR_WS_KEY,
       RPC_HDR_WS_VERSION };

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
  int hdr;           /* which header is being read: RPC_HDR_* */
  char val[64];      /* its value (if one we act on), val_len bytes */
  size_t val_len;
  int val_long;      /* longer than val: not a value we accept */
  /* WebSocket handshake (valid in DONE): the parser saw "Upgrade" and
   * "Connection: upgrade"; Upgrade names websocket; the key and version. */
  int upgrade;
  int upgrade_ws;
  char ws_key[64];
  size_t ws_key_len; /* 0 if absent or too long */
  int ws_version;    /* Sec-WebSocket-Version, -1 if absent or not a number */
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

/* For tests and fuzzing; thread-safe (atomic reads of the RPC thread's
 * counters). Connections the server has not yet freed: */
struct rpc_server;
unsigned rpc_server_conn_count(const struct rpc_server *s);
/* Subscriptions open on all connections. */
size_t rpc_server_ws_sub_count(const struct rpc_server *s);
/* Bytes of request bodies and unsent answers held for clients. */
size_t rpc_server_buffered(const struct rpc_server *s);
/* Subscription filters evaluated by publishing so far (the work an event
 * costs beyond its matching subscribers). */
uint64_t rpc_server_filter_checks(const struct rpc_server *s);

/* Depth of [ and { nesting in a JSON text, ignoring brackets in strings;
 * stops early once over limit. *at gets the offset where limit was passed. */
int rpc_json_depth_over(const char *s, size_t len, int limit, size_t *at);
/* One linear pass bounding both the nesting depth and the number of values
 * (counted from above). 0 within both, 1 deeper than max_depth, 2 more
 * values than max_values; *at gets the offset where a limit was passed. */
int rpc_json_prescan(const char *s, size_t len, int max_depth,
                     size_t max_values, size_t *at);

/* Short English name of a JSON value's type ("object", "a string"...). */
const char *rpc_json_type_name(const json_t *v);

/* Build {"jsonrpc":"2.0","id":id,"error":{code,message,data}}. id is
 * borrowed (NULL means null), data stolen (may be NULL). NULL on no memory. */
json_t *rpc_error_object(const json_t *id, int code, const char *msg,
                         json_t *data);

/* ---- blocking socket helpers of rpc_client.c, shared with rpc_ws_client.c */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t rpc_now_ms(void);
/* poll() fd for events until deadline: 0, COHORT_ERR_TIMEOUT or _IO. */
int rpc_wait_fd(int fd, short events, uint64_t deadline);
/* "http://HOST[:PORT][/PATH]" into parts (port defaults to 80, path to
 * "/"); 0 or -1. */
int rpc_url_split(const char *url, char *host, size_t hcap, char *port,
                  size_t pcap, char *path, size_t pathcap);
/* Connect to host:port before deadline: a non-blocking fd, or a negative
 * COHORT_ERR_* with eb naming url. */
int rpc_dial(const char *url, const char *host, const char *port,
             uint64_t deadline, core_errbuf *eb);
/* Send n bytes before deadline: 0, COHORT_ERR_TIMEOUT or _IO (errno). */
int rpc_send_all(int fd, const char *p, size_t n, uint64_t deadline);

/* ---- WebSocket codec (rpc_ws_frame.c, rpc_sha1.c): pure, no I/O ---------
 *
 * Shared by the server (rpc_ws.c), the client (rpc_ws_client.c) and the fuzz
 * target. rpc_ws_frame_parse decodes one frame header; rpc_ws_reader turns a
 * byte stream into messages: it reassembles fragmented text messages,
 * unmasks, enforces the size limit as soon as a header announces too much,
 * checks UTF-8, and hands control frames (interleaved or not) out one at a
 * time. States of a reader:
 *
 *   HEAD     collecting a frame header (2..14 bytes)
 *   PAYLOAD  copying the frame's payload (into the message or the control
 *            buffer); back to HEAD after it; a final text frame or a control
 *            frame returns its event
 *   FAILED   (final) after RPC_WS_ERROR: close_code/reason say what to send
 */
#define RPC_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define RPC_WS_MAX_HEAD 14

enum {
  RPC_WS_OP_CONT = 0,
  RPC_WS_OP_TEXT = 1,
  RPC_WS_OP_BINARY = 2,
  RPC_WS_OP_CLOSE = 8,
  RPC_WS_OP_PING = 9,
  RPC_WS_OP_PONG = 10
};

/* Close codes (RFC 6455 section 7.4.1). */
enum {
  RPC_WS_CLOSE_NORMAL = 1000,
  RPC_WS_CLOSE_GOING_AWAY = 1001,
  RPC_WS_CLOSE_PROTOCOL = 1002,
  RPC_WS_CLOSE_UNSUPPORTED = 1003, /* e.g. a binary message */
  RPC_WS_CLOSE_NO_STATUS = 1005,   /* received close without a code */
  RPC_WS_CLOSE_BAD_DATA = 1007,    /* text that is not UTF-8 */
  RPC_WS_CLOSE_POLICY = 1008,      /* e.g. a slow consumer */
  RPC_WS_CLOSE_TOO_BIG = 1009
};

typedef struct {
  int fin, opcode, masked;
  uint8_t mask[4];
  uint64_t len;    /* payload bytes */
  size_t head_len; /* bytes of header, 2..14 */
} rpc_ws_frame;

/* Results of rpc_ws_frame_parse. */
enum { RPC_WS_HEAD_MORE = 0, RPC_WS_HEAD_OK = 1, RPC_WS_HEAD_BAD = -1 };

/* Decode the frame header at p[0..len). from_client: the frame must be
 * masked (a server's frames must not be). Data frames over max_payload fail
 * with 1009; control frames must be final and <= 125 bytes; reserved bits,
 * unknown opcodes and non-minimal lengths fail with 1002. Returns
 * RPC_WS_HEAD_MORE (the header is longer than len), RPC_WS_HEAD_OK (f set)
 * or RPC_WS_HEAD_BAD (*close_code and *why set). Reads at most 14 bytes and
 * never past len. */
int rpc_ws_frame_parse(const uint8_t *p, size_t len, int from_client,
                       uint64_t max_payload, rpc_ws_frame *f, int *close_code,
                       const char **why);

/* Write a header for a frame of len payload bytes into out; mask is NULL for
 * an unmasked (server) frame. Returns the header length (2..14). */
size_t rpc_ws_frame_head(uint8_t out[RPC_WS_MAX_HEAD], int opcode, int fin,
                         uint64_t len, const uint8_t *mask);

/* XOR p[0..len) with mask, starting at key position off (mod 4). */
void rpc_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off);

/* Results of rpc_ws_read. */
enum {
  RPC_WS_MORE = 0, /* every byte consumed, no event yet */
  RPC_WS_TEXT,     /* a whole text message: msg[0..msg_len), NUL after it */
  RPC_WS_PING,     /* ctl[0..ctl_len) */
  RPC_WS_PONG,     /* ctl[0..ctl_len) */
  RPC_WS_CLOSE,    /* close_code (1005 if none), reason */
  RPC_WS_ERROR     /* FAILED: send close_code, reason says why */
};

typedef struct {
  uint64_t max_msg;
  int from_client;
  int failed;
  uint8_t head[RPC_WS_MAX_HEAD];
  size_t head_len;
  int in_payload;
  rpc_ws_frame f;
  uint64_t got;  /* payload bytes of the current frame so far */
  int msg_op;    /* opcode of the message being reassembled, 0 if none */
  char *msg;     /* owned */
  size_t msg_len, msg_cap;
  int msg_done;  /* the last event was RPC_WS_TEXT: reset on the next read */
  uint8_t ctl[125];
  size_t ctl_len;
  int close_code;
  char reason[124];
} rpc_ws_reader;

/* from_client: expect masked frames (a server's reader). Messages (after
 * reassembly) may be up to max_msg bytes. */
void rpc_ws_reader_init(rpc_ws_reader *r, uint64_t max_msg, int from_client);
void rpc_ws_reader_free(rpc_ws_reader *r);
/* Consume bytes until one event is complete. *used gets the bytes consumed
 * (all of them when RPC_WS_MORE is returned). The event's data stays valid
 * until the next call. After RPC_WS_ERROR every call returns it again. */
int rpc_ws_read(rpc_ws_reader *r, const uint8_t *data, size_t len,
                size_t *used);

/* 1 if p[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int rpc_utf8_valid(const uint8_t *p, size_t len);

/* FIPS 180-4 SHA-1 (for the handshake only). */
void rpc_sha1(uint8_t out[20], const void *data, size_t len);

/* Sec-WebSocket-Accept for a client's key: base64(SHA-1(key || GUID)),
 * 28 characters and a NUL into out. */
void rpc_ws_accept(char out[29], const char *key, size_t key_len);

/* Does a published event match a subscription filter? filter is NULL or an
 * object of strings; each key k must match: event[k] is an equal string, or
 * an array (e.g. "members") holding it, or event[k + "s"] is such an array
 * (so {"executor": a} matches an event with "executors": [..., a, ...]). */
int rpc_ws_filter_match(const json_t *filter, const json_t *event);

#endif
