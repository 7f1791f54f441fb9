/* rpc/rpc_http.c — the per-connection HTTP/1.1 request reader.
 *
 * A thin state machine (see rpc_int.h) around Debian's http-parser: it keeps
 * the URL (bounded), the body (bounded, grown only as bytes arrive so a
 * client announcing a large Content-Length costs nothing until it sends), and
 * the few headers the server acts on besides those the parser handles itself
 * (Expect, and for a WebSocket handshake Upgrade, Sec-WebSocket-Key and
 * Sec-WebSocket-Version). The parser is paused at the end of each message so pipelined
 * requests are answered one at a time, in order. No sockets, no clock: the
 * server and the fuzz target drive it with bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/rpc_int.h"

static int fail(rpc_http *h, int status, const char *msg) {
  h->state = RPC_HTTP_FAILED;
  h->status = status;
  snprintf(h->err, sizeof h->err, "%s", msg);
  return -1;
}

static int on_begin(http_parser *p) {
  rpc_http *h = p->data;
  h->started = 1;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  rpc_http *h = p->data;
  if (len > RPC_HTTP_MAX_URL - h->url_len) {
    char m[96];
    snprintf(m, sizeof m, "request URL is longer than %d bytes",
             RPC_HTTP_MAX_URL);
    return fail(h, 414, m);
  }
  memcpy(h->url + h->url_len, at, len);
  h->url_len += len;
  h->url[h->url_len] = 0;
  return 0;
}

/* Does the comma-separated token list v[0..n) hold tok (any case)? */
static int has_token(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok), i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t b = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i;
    while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e - b == tl && strncasecmp(v + b, tok, tl) == 0) return 1;
  }
  return 0;
}

/* End of one header line: act on it if it is one we want. */
static void header_done(rpc_http *h) {
  if (!h->val_long) {
    switch (h->hdr) {
      case RPC_HDR_EXPECT:
        if (h->val_len == 12 && strncasecmp(h->val, "100-continue", 12) == 0)
          h->want_continue = 1;
        break;
      case RPC_HDR_UPGRADE:
        if (has_token(h->val, h->val_len, "websocket")) h->upgrade_ws = 1;
        break;
      case RPC_HDR_WS_KEY: {
        size_t b = 0, e = h->val_len;
        while (b < e && (h->val[b] == ' ' || h->val[b] == '\t')) b++;
        while (e > b && (h->val[e - 1] == ' ' || h->val[e - 1] == '\t')) e--;
        memcpy(h->ws_key, h->val + b, e - b);
        h->ws_key_len = e - b;
        h->ws_key[h->ws_key_len] = 0;
        break;
      }
      case RPC_HDR_WS_VERSION: {
        int v = 0, digits = 0;
        for (size_t i = 0; i < h->val_len; i++) {
          char ch = h->val[i];
          if (ch == ' ' || ch == '\t') continue;
          if (ch < '0' || ch > '9' || digits >= 4) {
            digits = -1;
            break;
          }
          v = v * 10 + (ch - '0');
          digits++;
        }
        h->ws_version = digits > 0 ? v : -1;
        break;
      }
      default:
        break;
    }
  }
  h->hdr = RPC_HDR_OTHER;
  h->val_len = 0;
  h->val_long = 0;
}

static int on_field(http_parser *p, const char *at, size_t len) {
  rpc_http *h = p->data;
  if (h->in_value) {
    header_done(h);
    h->in_value = 0;
    h->field_len = 0;
    h->field_long = 0;
  }
  if (len > sizeof h->field - 1 - h->field_len) {
    h->field_long = 1; /* no header we act on has a long name */
  } else if (!h->field_long) {
    memcpy(h->field + h->field_len, at, len);
    h->field_len += len;
  }
  return 0;
}

static int field_is(const rpc_http *h, const char *name) {
  return !h->field_long && h->field_len == strlen(name) &&
         strncasecmp(h->field, name, h->field_len) == 0;
}

static int on_value(http_parser *p, const char *at, size_t len) {
  rpc_http *h = p->data;
  if (!h->in_value) {
    h->in_value = 1;
    h->field[h->field_len] = 0;
    h->hdr = field_is(h, "expect")                  ? RPC_HDR_EXPECT
             : field_is(h, "upgrade")               ? RPC_HDR_UPGRADE
             : field_is(h, "sec-websocket-key")     ? RPC_HDR_WS_KEY
             : field_is(h, "sec-websocket-version") ? RPC_HDR_WS_VERSION
                                                    : RPC_HDR_OTHER;
    h->val_len = 0;
    h->val_long = 0;
  }
  if (h->hdr != RPC_HDR_OTHER && !h->val_long) {
    if (len > sizeof h->val - 1 - h->val_len)
      h->val_long = 1; /* too long to be a value we accept */
    else {
      memcpy(h->val + h->val_len, at, len);
      h->val_len += len;
    }
  }
  return 0;
}

static int on_headers(http_parser *p) {
  rpc_http *h = p->data;
  if (h->in_value) header_done(h);
  h->in_value = 0;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > h->max_body) {
    char m[128];
    snprintf(m, sizeof m,
             "request body of %llu bytes is over the limit of %zu bytes",
             (unsigned long long)p->content_length, h->max_body);
    /* Returning nonzero stops the parser; fail() recorded why. */
    fail(h, 413, m);
    return -1;
  }
  if (h->url_len == 0) return fail(h, 400, "request has no URL");
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  rpc_http *h = p->data;
  if (len > h->max_body - h->body_len) {
    char m[128];
    snprintf(m, sizeof m, "request body is over the limit of %zu bytes",
             h->max_body);
    return fail(h, 413, m);
  }
  size_t need = h->body_len + len + 1;
  if (need > h->body_cap) {
    size_t cap = h->body_cap ? h->body_cap : 1024;
    while (cap < need) cap *= 2;
    if (cap > h->max_body + 1) cap = h->max_body + 1;
    char *nb = realloc(h->body, cap);
    if (!nb) return fail(h, 500, "out of memory reading the request body");
    h->body = nb;
    h->body_cap = cap;
  }
  memcpy(h->body + h->body_len, at, len);
  h->body_len += len;
  h->body[h->body_len] = 0;
  return 0;
}

static int on_complete(http_parser *p) {
  rpc_http *h = p->data;
  h->state = RPC_HTTP_DONE;
  h->method = p->method;
  h->http_minor = p->http_minor;
  /* After an Upgrade or CONNECT the parser treats the rest of the stream as
   * opaque; we do not speak those protocols, so answer once and close. */
  h->keep_alive = http_should_keep_alive(p) && !p->upgrade;
  h->upgrade = p->upgrade;
  /* Once the body has arrived there is nothing to ask for. */
  h->want_continue = 0;
  http_parser_pause(p, 1);
  return 0;
}

static void reset(rpc_http *h) {
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = h;
  h->state = RPC_HTTP_READING;
  h->started = 0;
  h->method = 0;
  h->keep_alive = 0;
  h->http_minor = 1;
  h->url_len = 0;
  h->url[0] = 0;
  h->body_len = 0;
  if (h->body_cap > 64 * 1024) {
    /* Do not keep a large buffer for an idle keep-alive connection. */
    free(h->body);
    h->body = NULL;
    h->body_cap = 0;
  }
  h->field_len = 0;
  h->field_long = 0;
  h->in_value = 0;
  h->hdr = RPC_HDR_OTHER;
  h->val_len = 0;
  h->val_long = 0;
  h->upgrade = 0;
  h->upgrade_ws = 0;
  h->ws_key_len = 0;
  h->ws_key[0] = 0;
  h->ws_version = -1;
  h->want_continue = 0;
  h->status = 0;
  h->err[0] = 0;
}

void rpc_http_init(rpc_http *h, size_t max_body) {
  memset(h, 0, sizeof *h);
  http_parser_settings_init(&h->settings);
  h->settings.on_message_begin = on_begin;
  h->settings.on_url = on_url;
  h->settings.on_header_field = on_field;
  h->settings.on_header_value = on_value;
  h->settings.on_headers_complete = on_headers;
  h->settings.on_body = on_body;
  h->settings.on_message_complete = on_complete;
  h->max_body = max_body;
  reset(h);
}

void rpc_http_free(rpc_http *h) {
  free(h->body);
  h->body = NULL;
  h->body_cap = 0;
  h->body_len = 0;
}

void rpc_http_next(rpc_http *h) { reset(h); }

int rpc_http_feed(rpc_http *h, const char *data, size_t len, size_t *used) {
  *used = 0;
  if (h->state == RPC_HTTP_DONE) return RPC_HTTP_REQUEST;
  if (h->state == RPC_HTTP_FAILED) return RPC_HTTP_ERROR;
  if (len == 0) return RPC_HTTP_MORE;
  size_t n = http_parser_execute(&h->parser, &h->settings, data, len);
  if (n > len) n = len;
  *used = n;
  if (h->state == RPC_HTTP_DONE) {
    /* Paused in on_complete: n counts the bytes of this request only. */
    http_parser_pause(&h->parser, 0);
    return RPC_HTTP_REQUEST;
  }
  if (h->state == RPC_HTTP_FAILED) return RPC_HTTP_ERROR;
  enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
  if (e != HPE_OK) {
    char m[160];
    snprintf(m, sizeof m, "malformed HTTP request: %s",
             http_errno_description(e));
    fail(h, e == HPE_HEADER_OVERFLOW ? 431 : 400, m);
    return RPC_HTTP_ERROR;
  }
  if (n != len) {
    /* The parser stopped without an error (should not happen for requests
     * that are not upgrades); never loop on it. */
    fail(h, 400, "malformed HTTP request: parser stopped early");
    return RPC_HTTP_ERROR;
  }
  return RPC_HTTP_MORE;
}

int rpc_http_eof(rpc_http *h) {
  if (h->state == RPC_HTTP_FAILED) return RPC_HTTP_ERROR;
  if (h->state == RPC_HTTP_READING && h->started) {
    fail(h, 400, "connection closed in the middle of a request");
    return RPC_HTTP_ERROR;
  }
  return RPC_HTTP_MORE;
}

const char *rpc_http_path(const rpc_http *h, size_t *len) {
  const char *u = h->url;
  size_t ulen = h->url_len;
  if (ulen && u[0] != '/') {
    /* Absolute form ("http://host:port/path", RFC 9112 3.2.2): skip to the
     * path; an absent path means "/". */
    const char *sep = memchr(u, ':', ulen);
    if (sep && (size_t)(u + ulen - sep) >= 3 && sep[1] == '/' && sep[2] == '/') {
      const char *host = sep + 3;
      const char *slash = memchr(host, '/', (size_t)(u + ulen - host));
      if (!slash) {
        *len = 1;
        return "/";
      }
      ulen -= (size_t)(slash - u);
      u = slash;
    }
  }
  size_t n = 0;
  while (n < ulen && u[n] != '?' && u[n] != '#') n++;
  *len = n;
  return u;
}
