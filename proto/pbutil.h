/* proto/pbutil.h — small helpers over protobuf-c shared by the codecs. */
#ifndef COHORT_PROTO_PBUTIL_H
#define COHORT_PROTO_PBUTIL_H

#include <protobuf-c/protobuf-c.h>

/* 1 if the message carried fields this schema does not know. Our decoders
 * reject those: a signer and a verifier must agree on what was signed. */
static inline int pb_has_unknown(const ProtobufCMessage *m) {
  return m->n_unknown_fields != 0;
}

#endif
