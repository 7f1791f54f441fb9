/* libFuzzer: the Vote, Proposal and Commit decoders of proto/block.h.
 * First byte selects the decoder. Whatever a decoder accepts must be the
 * canonical encoding (re-packing gives the input) with the documented field
 * checks holding, and must convert to the engine's structs without error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus_msg.h"
#include "proto/block.h"

static void same_bytes(const ProtobufCMessage *m, const uint8_t *b, size_t n) {
  size_t k = protobuf_c_message_get_packed_size(m);
  if (k != n) abort();
  uint8_t *buf = malloc(k ? k : 1);
  if (!buf) return;
  protobuf_c_message_pack(m, buf);
  if (memcmp(buf, b, n)) abort();
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *b = data + 1;
  size_t n = size - 1;
  core_errbuf eb;
  switch (data[0] % 3) {
    case 0: {
      Cohort__Vote *v;
      if (vote_decode(&v, b, n, &eb)) return 0;
      same_bytes(&v->base, b, n);
      cons_vote cv;
      if (cons_vote_from_pb(&cv, v)) abort();
      (void)vote_verify(v, "fuzz-chain", &eb);
      cohort__vote__free_unpacked(v, NULL);
      break;
    }
    case 1: {
      Cohort__Proposal *p;
      if (proposal_decode(&p, b, n, &eb)) return 0;
      same_bytes(&p->base, b, n);
      cons_proposal cp;
      if (cons_proposal_from_pb(&cp, p) || cp.pol_round >= (int64_t)cp.round) abort();
      (void)proposal_verify(p, "fuzz-chain", &eb);
      cohort__proposal__free_unpacked(p, NULL);
      break;
    }
    default: {
      Cohort__Commit *c = commit_decode(b, n, 1 << 16, &eb);
      if (!c) return 0;
      same_bytes(&c->base, b, n);
      cohort__commit__free_unpacked(c, NULL);
      break;
    }
  }
  return 0;
}
