/* rpc/rpc_parse.c — JSON-RPC 2.0 request decoding and shape checks.
 *
 * Pure functions over bytes and jansson values, shared by the server and the
 * fuzz target: no sockets, no loop, no clock. A request body is decoded only
 * after a linear pre-scan has bounded its nesting depth (jansson recurses per
 * level) and its number of values (each costs jansson an allocation: a 5 MiB
 * body of "[1,1,1..." would otherwise become 2.5 million objects), with
 * duplicate keys rejected, so no body can exhaust the stack or the memory,
 * or smuggle two different values under one key.
 */
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

int rpc_json_prescan(const char *s, size_t len, int max_depth,
                     size_t max_values, size_t *at) {
  int depth = 0, in_str = 0, esc = 0;
  /* Values are counted from above: every value but the first follows a
   * ',' or opens a container, so commas + brackets + 1 bounds them. */
  size_t values = 1;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (in_str) {
      /* Brackets inside strings do not nest; only an unescaped quote ends. */
      if (esc)
        esc = 0;
      else if (ch == '\\')
        esc = 1;
      else if (ch == '"')
        in_str = 0;
      continue;
    }
    if (ch == '"') {
      in_str = 1;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) {
        if (at) *at = i;
        return 1;
      }
      values++;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      depth--;
    } else if (ch == ',' && ++values > max_values) {
      if (at) *at = i;
      return 2;
    }
  }
  return 0;
}

int rpc_json_depth_over(const char *s, size_t len, int limit, size_t *at) {
  return rpc_json_prescan(s, len, limit, SIZE_MAX, at) == 1;
}

const char *rpc_json_type_name(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
  }
}

/* msg as a JSON string; bytes that are not valid UTF-8 (a message may echo
 * client input, or be cut mid-character by a fixed buffer) become '?'. */
static json_t *lossy_string(const char *msg) {
  json_t *s = json_string(msg);
  if (s) return s;
  char *copy = strdup(msg);
  if (!copy) return NULL;
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  s = json_string(copy);
  free(copy);
  return s;
}

json_t *rpc_error_object(const json_t *id, int code, const char *msg,
                         json_t *data) {
  json_t *err = json_pack("{s:i, s:o}", "code", code, "message",
                          lossy_string(msg ? msg : ""));
  if (!err) {
    json_decref(data);
    return NULL;
  }
  if (data && json_object_set_new(err, "data", data) != 0) {
    json_decref(err);
    return NULL;
  }
  json_t *o = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                        id ? (json_t *)id : json_null(), "error", err);
  return o;
}

int rpc_request_parse(const char *body, size_t len, size_t max_batch,
                      json_t **out, core_errbuf *eb) {
  *out = NULL;
  size_t at = 0;
  int over = rpc_json_prescan(body, len, RPC_JSON_MAX_DEPTH,
                              RPC_JSON_MAX_VALUES, &at);
  if (over == 1)
    return core_errf(eb, RPC_PARSE_ERROR,
                     "JSON nests deeper than %d levels (at byte %zu)",
                     RPC_JSON_MAX_DEPTH, at);
  if (over == 2)
    return core_errf(eb, RPC_PARSE_ERROR,
                     "JSON holds more than %d values (at byte %zu)",
                     RPC_JSON_MAX_VALUES, at);
  json_error_t je;
  json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                         &je);
  if (!v)
    return core_errf(eb, RPC_PARSE_ERROR,
                     "invalid JSON at line %d, column %d: %s", je.line,
                     je.column, je.text);
  if (json_is_array(v)) {
    size_t n = json_array_size(v);
    if (n == 0) {
      json_decref(v);
      return core_errf(eb, RPC_INVALID_REQUEST, "empty batch");
    }
    if (n > max_batch) {
      json_decref(v);
      return core_errf(eb, RPC_INVALID_REQUEST,
                       "batch has %zu requests, the limit is %zu", n,
                       max_batch);
    }
  } else if (!json_is_object(v)) {
    const char *t = rpc_json_type_name(v);
    json_decref(v);
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "request must be a JSON object or array, got %s", t);
  }
  *out = v;
  return 0;
}

int rpc_request_validate(const json_t *req, core_errbuf *eb) {
  if (!json_is_object(req))
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "request must be a JSON object, got %s",
                     rpc_json_type_name(req));
  const json_t *ver = json_object_get(req, "jsonrpc");
  if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
      json_string_length(ver) != 3)
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "\"jsonrpc\" must be the string \"2.0\"");
  const json_t *m = json_object_get(req, "method");
  if (!json_is_string(m))
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "\"method\" must be a string, got %s",
                     m ? rpc_json_type_name(m) : "nothing");
  const json_t *p = json_object_get(req, "params");
  if (p && !json_is_array(p) && !json_is_object(p))
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "\"params\" must be an array or object when present, "
                     "got %s",
                     rpc_json_type_name(p));
  const json_t *id = json_object_get(req, "id");
  if (id && !json_is_string(id) && !json_is_number(id) && !json_is_null(id))
    return core_errf(eb, RPC_INVALID_REQUEST,
                     "\"id\" must be a string, number or null, got %s",
                     rpc_json_type_name(id));
  return 0;
}
