/* tests/fuzz/fuzz_rpc_request.c — libFuzzer target for the JSON-RPC request
 * decoder: rpc_request_parse on arbitrary bytes, then rpc_request_validate
 * on each request. Beyond "no crash, no leak, no over-read" (libFuzzer's
 * buffer ends exactly at size, so ASan sees any read past len) it checks:
 * failures leave *out NULL and return one of the two documented codes with
 * a message that can be sent back as a JSON-RPC error; successes are an
 * object or a batch within the limit, and re-encoding then re-parsing gives
 * an equal value with the same validation verdicts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

/* Not assert(): fuzz builds define NDEBUG. */
#define CHECK(x)                                                       \
  do {                                                                 \
    if (!(x)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #x);                                                     \
      abort();                                                         \
    }                                                                  \
  } while (0)

#define MAX_BATCH 8

static int verdicts(const json_t *v, unsigned *bits) {
  core_errbuf eb;
  *bits = 0;
  if (!json_is_array(v)) return rpc_request_validate(v, &eb) == 0;
  for (size_t i = 0; i < json_array_size(v); i++)
    if (rpc_request_validate(json_array_get(v, i), &eb) == 0) *bits |= 1u << i;
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = (json_t *)1;
  core_errbuf eb;
  memset(&eb, 0, sizeof eb);
  int rc = rpc_request_parse((const char *)data, size, MAX_BATCH, &v, &eb);
  if (rc != 0) {
    CHECK(rc == RPC_PARSE_ERROR || rc == RPC_INVALID_REQUEST);
    CHECK(v == NULL);
    CHECK(eb.msg[0] != 0 && memchr(eb.msg, 0, sizeof eb.msg));
    /* The message goes back to the client: it must always be encodable. */
    json_t *e = rpc_error_object(NULL, rc, eb.msg, NULL);
    CHECK(e);
    char *txt = json_dumps(e, JSON_COMPACT);
    CHECK(txt);
    free(txt);
    json_decref(e);
    return 0;
  }
  CHECK(json_is_object(v) ||
         (json_is_array(v) && json_array_size(v) >= 1 &&
          json_array_size(v) <= MAX_BATCH));
  unsigned bits1, bits2;
  int single1 = verdicts(v, &bits1);
  if (json_is_object(v) && single1 != 1) {
    rc = rpc_request_validate(v, &eb);
    CHECK(rc == RPC_INVALID_REQUEST && eb.msg[0]);
  }
  char *txt = json_dumps(v, JSON_COMPACT);
  CHECK(txt);
  json_t *w = NULL;
  rc = rpc_request_parse(txt, strlen(txt), MAX_BATCH, &w, &eb);
  CHECK(rc == 0);
  CHECK(json_equal(v, w));
  int single2 = verdicts(w, &bits2);
  CHECK(single1 == single2 && bits1 == bits2);
  free(txt);
  json_decref(w);
  json_decref(v);
  return 0;
}
