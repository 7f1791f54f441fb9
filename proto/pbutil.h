/* proto/pbutil.h — small helpers over protobuf-c shared by the codecs. */
#ifndef COHORT_PROTO_PBUTIL_H
#define COHORT_PROTO_PBUTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* 1 if the message carried fields this schema does not know. Our decoders
 * reject those: a signer and a verifier must agree on what was signed. */
static inline int pb_has_unknown(const ProtobufCMessage *m) {
  return m->n_unknown_fields != 0;
}

/* Check that `bytes` are the canonical encoding of the message m that was
 * unpacked from them: re-packing m yields the very same bytes. The
 * canonical form (docs/protocol.md "Canonical encoding") has fields in
 * increasing field-number order, each non-repeated field once at most,
 * minimal varints, no default-valued (zero, empty) singular proto3 field
 * outside a oneof, bools as 0/1, and no unknown fields. Any other encoding
 * would let a relayer change a message's hash without touching its
 * signature, so every decoder of signed or hashed bytes refuses it.
 * Returns 0 (canonical), COHORT_ERR_DECODE (not canonical) or
 * COHORT_ERR_NOMEM (scratch buffer; the node's problem, not the input's). */
static inline int pb_check_canonical(const ProtobufCMessage *m, const uint8_t *bytes,
                                     size_t len) {
  if (m->n_unknown_fields) return COHORT_ERR_DECODE;
  size_t n = protobuf_c_message_get_packed_size(m);
  if (n != len) return COHORT_ERR_DECODE;
  if (n == 0) return COHORT_OK;
  uint8_t *buf = malloc(n);
  if (!buf) return COHORT_ERR_NOMEM;
  protobuf_c_message_pack(m, buf);
  int ok = memcmp(buf, bytes, n) == 0;
  free(buf);
  return ok ? COHORT_OK : COHORT_ERR_DECODE;
}

#endif
