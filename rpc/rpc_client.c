/* rpc/rpc_client.c — a blocking JSON-RPC 2.0 client over HTTP/1.1.
 *
 * For the CLI and tests: one call per connection ("Connection: close"),
 * POSIX sockets in non-blocking mode driven by poll() against one overall
 * deadline (resolving the host is the only step that is not bounded by it).
 * The response is read with http-parser (Content-Length, chunked or
 * until-close bodies), capped at 64 MiB, then decoded with jansson.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define MAX_RESPONSE (64u << 20)

typedef struct {
  char *body;
  size_t len, cap;
  int done, too_big;
} resp_buf;

uint64_t rpc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left before deadline, for poll() (0 when passed). */
static int left(uint64_t deadline) {
  uint64_t t = rpc_now_ms();
  if (t >= deadline) return 0;
  uint64_t d = deadline - t;
  return d > 1000000 ? 1000000 : (int)d;
}

/* Wait until fd is ready for events. 0, COHORT_ERR_TIMEOUT or _IO. */
int rpc_wait_fd(int fd, short events, uint64_t deadline) {
  for (;;) {
    int ms = left(deadline);
    if (ms == 0) return COHORT_ERR_TIMEOUT;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, ms);
    if (r > 0) return 0;
    if (r == 0) return COHORT_ERR_TIMEOUT;
    if (errno != EINTR) return COHORT_ERR_IO;
  }
}

/* "http://HOST[:PORT][/PATH]" into parts; 0 or -1. */
int rpc_url_split(const char *url, char *host, size_t hcap, char *port,
                     size_t pcap, char *path, size_t pathcap) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  size_t ul = strlen(url);
  if (ul > 1024 || http_parser_parse_url(url, ul, 0, &u) != 0) return -1;
  if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
    return -1;
  if (u.field_data[UF_SCHEMA].len != 4 ||
      strncasecmp(url + u.field_data[UF_SCHEMA].off, "http", 4) != 0)
    return -1;
  size_t hl = u.field_data[UF_HOST].len;
  if (hl == 0 || hl >= hcap) return -1;
  memcpy(host, url + u.field_data[UF_HOST].off, hl);
  host[hl] = 0;
  snprintf(port, pcap, "%u", (u.field_set & (1 << UF_PORT)) ? u.port : 80u);
  if (u.field_set & (1 << UF_PATH)) {
    size_t pl = u.field_data[UF_PATH].len;
    /* Keep the query string too, if any: it is part of the target. */
    if (u.field_set & (1 << UF_QUERY))
      pl = (size_t)(u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len -
                    u.field_data[UF_PATH].off);
    if (pl >= pathcap) return -1;
    memcpy(path, url + u.field_data[UF_PATH].off, pl);
    path[pl] = 0;
  } else {
    snprintf(path, pathcap, "/");
  }
  return 0;
}

/* Connect to the first address of host:port that answers before deadline.
 * Returns a non-blocking fd, or a negative COHORT_ERR_* with eb set. */
int rpc_dial(const char *url, const char *host, const char *port,
                uint64_t deadline, core_errbuf *eb) {
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0)
    return core_errf(eb, COHORT_ERR_IO, "%s: cannot resolve %s: %s", url, host,
                     gai_strerror(gai));
  int rc = COHORT_ERR_IO, err = 0;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        err = errno;
        close(fd);
        continue;
      }
      int w = rpc_wait_fd(fd, POLLOUT, deadline);
      if (w == COHORT_ERR_TIMEOUT) {
        close(fd);
        rc = COHORT_ERR_TIMEOUT;
        break;
      }
      socklen_t sl = sizeof err;
      if (w != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 ||
          err != 0) {
        if (w != 0) err = errno;
        close(fd);
        continue;
      }
    }
    freeaddrinfo(ai);
    return fd;
  }
  freeaddrinfo(ai);
  if (rc == COHORT_ERR_TIMEOUT)
    return core_errf(eb, rc, "%s: connect timed out", url);
  return core_errf(eb, COHORT_ERR_IO, "%s: cannot connect: %s", url,
                   strerror(err ? err : ECONNREFUSED));
}

int rpc_send_all(int fd, const char *p, size_t n, uint64_t deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int r = rpc_wait_fd(fd, POLLOUT, deadline);
      if (r) return r;
      continue;
    }
    return COHORT_ERR_IO;
  }
  return 0;
}

static int on_resp_body(http_parser *p, const char *at, size_t len) {
  resp_buf *r = p->data;
  if (len > MAX_RESPONSE - r->len) {
    r->too_big = 1;
    return -1;
  }
  if (r->len + len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + len + 1) cap *= 2;
    char *nb = realloc(r->body, cap);
    if (!nb) {
      r->too_big = 1;
      return -1;
    }
    r->body = nb;
    r->cap = cap;
  }
  memcpy(r->body + r->len, at, len);
  r->len += len;
  r->body[r->len] = 0;
  return 0;
}

static int on_resp_done(http_parser *p) {
  resp_buf *r = p->data;
  /* A "100 Continue" is not the answer; keep reading. */
  if (p->status_code >= 100 && p->status_code < 200) return 0;
  r->done = 1;
  http_parser_pause(p, 1);
  return 0;
}

static int on_resp_headers(http_parser *p) {
  /* Interim responses have no body; returning 1 says "skip body". */
  if ((p->status_code >= 100 && p->status_code < 200) ||
      p->status_code == 204 || p->status_code == 304)
    return 1;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > MAX_RESPONSE) {
    ((resp_buf *)p->data)->too_big = 1;
    return -1;
  }
  return 0;
}

/* Read one HTTP response. 0 with *status and r filled, or an error code. */
static int read_response(int fd, const char *url, uint64_t deadline,
                         int *status, resp_buf *r, core_errbuf *eb) {
  http_parser p;
  http_parser_settings st;
  http_parser_settings_init(&st);
  st.on_body = on_resp_body;
  st.on_message_complete = on_resp_done;
  st.on_headers_complete = on_resp_headers;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = r;
  char buf[16384];
  while (!r->done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = rpc_wait_fd(fd, POLLIN, deadline);
      if (w == COHORT_ERR_TIMEOUT)
        return core_errf(eb, w, "%s: no answer within the timeout", url);
      if (w) return core_errf(eb, w, "%s: poll: %s", url, strerror(errno));
      continue;
    }
    if (n < 0)
      return core_errf(eb, COHORT_ERR_IO, "%s: read: %s", url, strerror(errno));
    /* n == 0 (EOF) is fed as len 0: ends an until-close body. */
    size_t used = http_parser_execute(&p, &st, buf, (size_t)n);
    if (r->done) break;
    if (r->too_big)
      return core_errf(eb, COHORT_ERR_TOO_LARGE,
                       "%s: response is larger than %u bytes", url,
                       MAX_RESPONSE);
    if (n == 0)
      return core_errf(eb, COHORT_ERR_IO,
                       "%s: connection closed before a whole response", url);
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != (size_t)n)
      return core_errf(eb, COHORT_ERR_DECODE, "%s: malformed HTTP response: %s",
                       url, http_errno_description(HTTP_PARSER_ERRNO(&p)));
  }
  *status = p.status_code;
  return 0;
}

/* Turn a JSON-RPC response object into the function's result. */
static int decode_answer(const char *url, int status, const resp_buf *r,
                         json_t **result, json_t **err_data, core_errbuf *eb) {
  json_error_t je;
  json_t *o = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je)
                     : NULL;
  if (!json_is_object(o)) {
    json_decref(o);
    if (status != 200) {
      char excerpt[80] = "";
      if (r->len) snprintf(excerpt, sizeof excerpt, ": %.60s", r->body);
      return core_errf(eb, COHORT_ERR_IO, "%s: HTTP %d%s", url, status,
                       excerpt);
    }
    if (!r->len)
      return core_errf(eb, COHORT_ERR_DECODE, "%s: empty response body", url);
    return core_errf(eb, COHORT_ERR_DECODE,
                     "%s: response is not a JSON object (line %d, column %d: "
                     "%s)",
                     url, je.line, je.column, je.text);
  }
  int rc;
  json_t *err = json_object_get(o, "error");
  json_t *res = json_object_get(o, "result");
  if (err) {
    json_t *code = json_object_get(err, "code");
    json_t *msg = json_object_get(err, "message");
    if (!json_is_integer(code) || json_integer_value(code) >= 0 ||
        json_integer_value(code) < -2147483647 || !json_is_string(msg)) {
      rc = core_errf(eb, COHORT_ERR_DECODE,
                     "%s: malformed JSON-RPC error object", url);
    } else {
      rc = core_errf(eb, (int)json_integer_value(code), "%s",
                     json_string_value(msg));
      json_t *d = json_object_get(err, "data");
      if (err_data && d) *err_data = json_incref(d);
    }
  } else if (res) {
    *result = json_incref(res);
    rc = 0;
  } else {
    rc = core_errf(eb, COHORT_ERR_DECODE,
                   "%s: response has neither \"result\" nor \"error\"", url);
  }
  json_decref(o);
  return rc;
}

int rpc_client_call(const char *url, const char *method, json_t *params,
                    uint64_t timeout_ms, json_t **result, json_t **err_data,
                    core_errbuf *eb) {
  *result = NULL;
  if (err_data) *err_data = NULL;
  char host[256], port[8], path[1024];
  if (!url || rpc_url_split(url, host, sizeof host, port, sizeof port, path,
                        sizeof path) != 0)
    return core_errf(eb, COHORT_ERR_INVALID,
                     "RPC address \"%.100s\" is not http://HOST:PORT[/PATH]",
                     url ? url : "");
  uint64_t deadline = rpc_now_ms() + (timeout_ms ? timeout_ms : 10000);

  json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1,
                          "method", method ? method : "");
  if (req && params) json_object_set(req, "params", params);
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!body)
    return core_errf(eb, COHORT_ERR_INVALID,
                     "%s: cannot encode the request for method %.64s", url,
                     method ? method : "");
  size_t blen = strlen(body);
  int v6 = strchr(host, ':') != NULL;
  int hl = snprintf(NULL, 0,
                    "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nContent-Type: "
                    "application/json\r\nAccept: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    path, v6 ? "[" : "", host, v6 ? "]" : "", port, blen);
  char *msg = malloc((size_t)hl + blen + 1);
  if (!msg) {
    free(body);
    return core_errf(eb, COHORT_ERR_NOMEM, "%s: out of memory", url);
  }
  snprintf(msg, (size_t)hl + 1,
           "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nContent-Type: "
           "application/json\r\nAccept: application/json\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
           path, v6 ? "[" : "", host, v6 ? "]" : "", port, blen);
  memcpy(msg + hl, body, blen);
  free(body);

  int rc;
  resp_buf r = {0};
  int fd = rpc_dial(url, host, port, deadline, eb);
  if (fd < 0) {
    rc = fd;
    goto out;
  }
  rc = rpc_send_all(fd, msg, (size_t)hl + blen, deadline);
  if (rc) {
    rc = core_errf(eb, rc, "%s: %s while sending the request", url,
                   rc == COHORT_ERR_TIMEOUT ? "timed out" : strerror(errno));
    goto out_fd;
  }
  int status = 0;
  rc = read_response(fd, url, deadline, &status, &r, eb);
  if (rc == 0) rc = decode_answer(url, status, &r, result, err_data, eb);
out_fd:
  close(fd);
out:
  free(msg);
  free(r.body);
  return rc;
}

const char *rpc_client_clean_err(const char *url, const char *msg, char *out, size_t cap) {
  size_t ul = url ? strlen(url) : 0;
  /* the RPC client names the URL first; the caller already said it */
  if (ul && !strncmp(msg, url, ul) && msg[ul] == ':' && msg[ul + 1] == ' ') msg += ul + 2;
  else if (ul && url[ul - 1] == '/' && !strncmp(msg, url, ul - 1) && msg[ul - 1] == ':' &&
           msg[ul] == ' ')
    msg += ul + 1;
  const char *lt = strchr(msg, '<');
  if (lt && (strstr(msg, "<html") || strstr(msg, "<HTML") || strstr(msg, "<!") ||
             strstr(msg, "<head") || strstr(msg, "<body") || strstr(msg, "<title"))) {
    /* an HTML page (a proxy, a web server): do not copy its markup */
    int pre = (int)(lt - msg);
    while (pre > 0 && (msg[pre - 1] == ' ' || msg[pre - 1] == ':')) pre--;
    snprintf(out, cap, "%.*s (an HTML page, not JSON-RPC: is this the node's RPC address?)", pre,
             msg);
    return out;
  }
  size_t w = 0;
  for (const char *p = msg; *p && w + 1 < cap; p++) /* one line */
    out[w++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
  out[w < cap ? w : cap - 1] = 0;
  return out;
}
