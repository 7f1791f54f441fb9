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

/* 1 if m or any message inside it carried unknown fields. (protobuf-c keeps
 * unknown fields and writes them back when packing, so a re-pack check
 * alone would let them through below the top level.) */
static inline int pb_has_unknown_deep(const ProtobufCMessage *m) {
  if (m->n_unknown_fields) return 1;
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
      for (size_t k = 0; k < n; k++)
        if (arr[k] && pb_has_unknown_deep(arr[k])) return 1;
      continue;
    }
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id)
      continue; /* another member of the oneof is set: this pointer is shared */
    const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
    if (sub && pb_has_unknown_deep(sub)) return 1;
  }
  return 0;
}

/* Check that `bytes` are the canonical encoding of the message m that was
 * unpacked from them: re-packing m yields the very same bytes. The
 * canonical form (docs/protocol.md "Canonical encoding") has fields in
 * increasing field-number order, each non-repeated field once at most,
 * minimal varints, no default-valued (zero, empty) singular proto3 field
 * outside a oneof, bools as 0/1, and no unknown fields at any depth. Any other encoding
 * would let a relayer change a message's hash without touching its
 * signature, so every decoder of signed or hashed bytes refuses it.
 * Returns 0 (canonical), COHORT_ERR_DECODE (not canonical) or
 * COHORT_ERR_NOMEM (scratch buffer; the node's problem, not the input's). */
static inline int pb_check_canonical(const ProtobufCMessage *m, const uint8_t *bytes,
                                     size_t len) {
  if (pb_has_unknown_deep(m)) return COHORT_ERR_DECODE;
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
