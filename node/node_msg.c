/* node/node_msg.c — see node_msg.h. */
#include "node/node_msg.h"

#include "p2p/p2p_msg.h"
#include "proto/block.h"

int node_cons_msg_decode(const uint8_t *b, size_t len, Cohort__P2p__ConsensusMsg **out,
                         core_errbuf *eb) {
  *out = NULL;
  ProtobufCMessage *pm;
  int rc = p2p_pb_unpack(&cohort__p2p__consensus_msg__descriptor, b, len, &pm);
  if (rc) return rc == COHORT_ERR_NOMEM ? rc
                                        : core_errf(eb, COHORT_ERR_DECODE,
                                                    "consensus message is not a canonical "
                                                    "ConsensusMsg");
  Cohort__P2p__ConsensusMsg *m = (Cohort__P2p__ConsensusMsg *)pm;
  rc = COHORT_OK;
  switch (m->msg_case) {
    case COHORT__P2P__CONSENSUS_MSG__MSG_STATE: {
      const Cohort__P2p__RoundState *s = m->state;
      if (s->height == 0 || s->step > 4 || s->prevotes.len > NODE_MSG_VBITS ||
          s->precommits.len > NODE_MSG_VBITS)
        rc = core_errf(eb, COHORT_ERR_DECODE, "RoundState out of range (height %llu, step %u, "
                       "bitmaps %zu/%zu bytes)", (unsigned long long)s->height, s->step,
                       s->prevotes.len, s->precommits.len);
      break;
    }
    case COHORT__P2P__CONSENSUS_MSG__MSG_VOTE: {
      Cohort__Vote *v;
      if (!(rc = vote_decode(&v, m->vote.data, m->vote.len, eb))) cohort__vote__free_unpacked(v, NULL);
      break;
    }
    case COHORT__P2P__CONSENSUS_MSG__MSG_PROPOSAL: {
      Cohort__Proposal *p;
      if (!(rc = proposal_decode(&p, m->proposal.data, m->proposal.len, eb)))
        cohort__proposal__free_unpacked(p, NULL);
      break;
    }
    case COHORT__P2P__CONSENSUS_MSG__MSG_EVIDENCE:
      if (!m->evidence.len) rc = core_errf(eb, COHORT_ERR_DECODE, "empty evidence");
      break;
    default: rc = core_errf(eb, COHORT_ERR_DECODE, "consensus message with no field set"); break;
  }
  if (rc && rc != COHORT_ERR_NOMEM) rc = COHORT_ERR_DECODE;
  if (rc) {
    protobuf_c_message_free_unpacked(pm, NULL);
    return rc;
  }
  *out = m;
  return COHORT_OK;
}

int node_block_msg_decode(const uint8_t *b, size_t len, Cohort__P2p__BlockMsg **out,
                          core_errbuf *eb) {
  *out = NULL;
  ProtobufCMessage *pm;
  int rc = p2p_pb_unpack(&cohort__p2p__block_msg__descriptor, b, len, &pm);
  if (rc) return rc == COHORT_ERR_NOMEM ? rc
                                        : core_errf(eb, COHORT_ERR_DECODE,
                                                    "block message is not a canonical BlockMsg");
  Cohort__P2p__BlockMsg *m = (Cohort__P2p__BlockMsg *)pm;
  rc = COHORT_OK;
  switch (m->msg_case) {
    case COHORT__P2P__BLOCK_MSG__MSG_REQUEST:
      if ((m->request->hash.len && m->request->hash.len != 32) || !m->request->height)
        rc = core_errf(eb, COHORT_ERR_DECODE, "block request with height 0 or a %zu-byte hash",
                       m->request->hash.len);
      break;
    case COHORT__P2P__BLOCK_MSG__MSG_RESPONSE:
      if (!m->response->block.len || m->response->commit.len > NODE_MSG_MAX_COMMIT ||
          !m->response->height)
        rc = core_errf(eb, COHORT_ERR_DECODE, "block response without a block, at height 0, or "
                       "with a commit over %u bytes", NODE_MSG_MAX_COMMIT);
      break;
    case COHORT__P2P__BLOCK_MSG__MSG_NONE:
      if (m->none->hash.len && m->none->hash.len != 32)
        rc = core_errf(eb, COHORT_ERR_DECODE, "NoBlock with a %zu-byte hash", m->none->hash.len);
      break;
    default: rc = core_errf(eb, COHORT_ERR_DECODE, "block message with no field set"); break;
  }
  if (rc) {
    protobuf_c_message_free_unpacked(pm, NULL);
    return rc;
  }
  *out = m;
  return COHORT_OK;
}
