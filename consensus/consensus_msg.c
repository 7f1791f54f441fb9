/* consensus/consensus_msg.c — conversions between the engine's message
 * structs and their protobuf forms. */
#include "consensus/consensus_msg.h"

#include <stdlib.h>
#include <string.h>

int cons_vote_equal(const cons_vote *a, const cons_vote *b) {
  return a->type == b->type && a->height == b->height && a->round == b->round &&
         a->has_hash == b->has_hash && (!a->has_hash || !memcmp(a->block_hash, b->block_hash, 32)) &&
         !memcmp(a->validator, b->validator, 32) && !memcmp(a->signature, b->signature, 64);
}

int cons_proposal_equal(const cons_proposal *a, const cons_proposal *b) {
  return a->height == b->height && a->round == b->round && a->pol_round == b->pol_round &&
         !memcmp(a->block_hash, b->block_hash, 32) && !memcmp(a->proposer, b->proposer, 32) &&
         !memcmp(a->signature, b->signature, 64);
}

int cons_vote_from_pb(cons_vote *out, const Cohort__Vote *v) {
  if ((v->type != VOTE_PREVOTE && v->type != VOTE_PRECOMMIT) || v->height == 0 ||
      (v->block_hash.len != 0 && v->block_hash.len != 32) || v->validator.len != 32 ||
      v->signature.len != 64)
    return COHORT_ERR_DECODE;
  memset(out, 0, sizeof *out);
  out->type = v->type;
  out->height = v->height;
  out->round = v->round;
  out->has_hash = v->block_hash.len == 32;
  if (out->has_hash) memcpy(out->block_hash, v->block_hash.data, 32);
  memcpy(out->validator, v->validator.data, 32);
  memcpy(out->signature, v->signature.data, 64);
  return COHORT_OK;
}

int cons_proposal_from_pb(cons_proposal *out, const Cohort__Proposal *p) {
  if (p->height == 0 || p->pol_round_plus1 > p->round || p->block_hash.len != 32 ||
      p->proposer.len != 32 || p->signature.len != 64)
    return COHORT_ERR_DECODE;
  memset(out, 0, sizeof *out);
  out->height = p->height;
  out->round = p->round;
  out->pol_round = (int64_t)p->pol_round_plus1 - 1;
  memcpy(out->block_hash, p->block_hash.data, 32);
  memcpy(out->proposer, p->proposer.data, 32);
  memcpy(out->signature, p->signature.data, 64);
  return COHORT_OK;
}

void cons_vote_to_pb(Cohort__Vote *out, const cons_vote *v) {
  cohort__vote__init(out);
  out->type = v->type;
  out->height = v->height;
  out->round = v->round;
  if (v->has_hash) out->block_hash = (ProtobufCBinaryData){32, (uint8_t *)v->block_hash};
  out->validator = (ProtobufCBinaryData){32, (uint8_t *)v->validator};
  out->signature = (ProtobufCBinaryData){64, (uint8_t *)v->signature};
}

void cons_proposal_to_pb(Cohort__Proposal *out, const cons_proposal *p) {
  cohort__proposal__init(out);
  out->height = p->height;
  out->round = p->round;
  out->pol_round_plus1 = (uint32_t)(p->pol_round + 1);
  out->block_hash = (ProtobufCBinaryData){32, (uint8_t *)p->block_hash};
  out->proposer = (ProtobufCBinaryData){32, (uint8_t *)p->proposer};
  out->signature = (ProtobufCBinaryData){64, (uint8_t *)p->signature};
}

size_t cons_vote_sign_bytes(uint8_t *out, const char *chain_id, const cons_vote *v) {
  return vote_sign_bytes(out, chain_id, v->type, v->height, v->round,
                         v->has_hash ? v->block_hash : NULL, v->has_hash ? 32 : 0);
}

size_t cons_proposal_sign_bytes(uint8_t *out, const char *chain_id, const cons_proposal *p) {
  return proposal_sign_bytes(out, chain_id, p->height, p->round, p->pol_round, p->block_hash);
}

int cons_evidence_encode(uint8_t **out, size_t *len, const cons_vote *a, const cons_vote *b,
                         core_errbuf *eb) {
  *out = NULL;
  *len = 0;
  Cohort__Vote pa, pb;
  cons_vote_to_pb(&pa, a);
  cons_vote_to_pb(&pb, b);
  uint8_t ba[VOTE_MAX_BYTES], bb[VOTE_MAX_BYTES];
  if (cohort__vote__get_packed_size(&pa) > sizeof ba ||
      cohort__vote__get_packed_size(&pb) > sizeof bb)
    return core_errf(eb, COHORT_ERR_DECODE, "vote too large for evidence");
  size_t la = cohort__vote__pack(&pa, ba), lb = cohort__vote__pack(&pb, bb);
  return evidence_encode(out, len, ba, la, bb, lb, eb);
}
