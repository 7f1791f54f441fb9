/* tests/fuzz/fuzz_node_msg.c — libFuzzer target for the node's peer
 * messages (node/node_msg.h): byte 0 picks the channel decoder (even:
 * consensus, odd: block), the rest is the message. Checks: a message that
 * decodes re-encodes to the very bytes received (canonical only), and the
 * range checks node_msg.h promises hold on whatever is accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_msg.h"

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static void same_bytes(const ProtobufCMessage *m, const uint8_t *b, size_t n) {
  size_t len = protobuf_c_message_get_packed_size(m);
  CHECK(len == n);
  uint8_t *out = malloc(len ? len : 1);
  if (!out) return;
  protobuf_c_message_pack(m, out);
  CHECK(!memcmp(out, b, n));
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *b = data + 1;
  size_t n = size - 1;
  core_errbuf eb;
  if (data[0] % 2 == 0) {
    Cohort__P2p__ConsensusMsg *m;
    int rc = node_cons_msg_decode(b, n, &m, &eb);
    if (rc) {
      CHECK(rc == COHORT_ERR_DECODE || rc == COHORT_ERR_NOMEM);
      CHECK(m == NULL);
      return 0;
    }
    same_bytes(&m->base, b, n);
    if (m->msg_case == COHORT__P2P__CONSENSUS_MSG__MSG_STATE)
      CHECK(m->state->height >= 1 && m->state->step <= 4 &&
            m->state->prevotes.len <= NODE_MSG_VBITS && m->state->precommits.len <= NODE_MSG_VBITS);
    protobuf_c_message_free_unpacked(&m->base, NULL);
  } else {
    Cohort__P2p__BlockMsg *m;
    int rc = node_block_msg_decode(b, n, &m, &eb);
    if (rc) {
      CHECK(rc == COHORT_ERR_DECODE || rc == COHORT_ERR_NOMEM);
      CHECK(m == NULL);
      return 0;
    }
    same_bytes(&m->base, b, n);
    if (m->msg_case == COHORT__P2P__BLOCK_MSG__MSG_REQUEST)
      CHECK(m->request->hash.len == 0 || m->request->hash.len == 32);
    if (m->msg_case == COHORT__P2P__BLOCK_MSG__MSG_RESPONSE)
      CHECK(m->response->block.len > 0 && m->response->commit.len <= NODE_MSG_MAX_COMMIT);
    protobuf_c_message_free_unpacked(&m->base, NULL);
  }
  return 0;
}
