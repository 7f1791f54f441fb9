/* node/node_net.c — the node's side of the p2p network: consensus gossip,
 * proposal blocks, block sync and transaction relay over the switch of
 * p2p/p2p.h (docs/p2p.md "Node protocol").
 *
 * Consensus gossip (channel 1). Every node tells its peers its RoundState
 * (height, round, step, whether it holds the round's proposal and block, and
 * bitmaps of the round's prevotes and precommits it holds) whenever that
 * changes, at most once per loop turn. For each peer deciding the same
 * height we keep which votes of each round it holds (what it told us, what
 * it sent us, what we sent it) and send it what it lacks: the proposal of
 * its round, the block that proposal names, and every vote we store at that
 * height that it does not have. What we sent is forgotten every
 * NET_REFRESH_MS, so a message a peer could not keep yet (a vote for a round
 * it had not reached and could not buffer) is offered again: nothing is
 * lost to timing. This is what lets a validator that starts late, or
 * restarts, catch up within its height.
 *
 * Blocks (channel 2). Proposal blocks travel as BlockResponse without a
 * commit; committed blocks with the Commit that finalizes them. A peer whose
 * committed height (its RoundState height - 1) is above ours is a block
 * source: we keep a window of NET_SYNC_WINDOW heights above our tip asked
 * from such peers (spread over them, re-asked elsewhere after
 * NET_SYNC_TIMEOUT_MS), and apply them in order, each checked and its
 * commit verified against the validator set of its height
 * (node_apply_synced). A node more than one block behind is "catching up"
 * (status, /metrics, a progress line every second); it keeps applying blocks
 * until it reaches the others, then consensus carries it on. The same path
 * lets a validator that missed one decision take the block from a peer
 * that committed it.
 *
 * Transactions (channel 3): the raw bytes of one Tx per message. A tx the
 * mempool accepts is relayed to every peer but the one it came from; a
 * refused or known one stops there (deduplicated by hash, which is sound
 * because only canonical encodings are accepted). A new peer gets our
 * pending txs.
 *
 * Misbehaviour (p2p_peer_penalize): undecodable or non-canonical messages,
 * bad signatures, votes from non-validators, blocks that fail validation
 * come from sync. Our own failures (out of memory) never count against a
 * peer.
 *
 * Threads: everything here runs on the node's loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "node/node_int.h"
#include "node/node_msg.h"
#include "p2p/p2p.h"
#include "proto/block.h"
#include "proto/p2p.pb-c.h"
#include "proto/tx.h"

#define MOD "p2p"
#define NET_REFRESH_MS 2000       /* forget what we sent a peer */
#define NET_GOSSIP_MS 100         /* gossip timer */
#define NET_BLOCK_RESEND_MS 3000  /* a proposal block re-sent to a peer that lacks it */
#define NET_SYNC_TIMEOUT_MS 5000  /* a block request re-asked elsewhere */
#define NET_WANT_MS 1000          /* ask for a block we must validate or commit */
#define NET_MEMPOOL_TO_NEW_PEER 10000

/* ---- peers ---- */

static net_peer *peer_find(node *n, const char *id) {
  for (size_t i = 0; i < n->npeers; i++)
    if (!strcmp(n->peers[i].id, id)) return &n->peers[i];
  return NULL;
}

static void penalize(node *n, const char *id, int points, const char *why) {
  p2p_peer_penalize(n->sw, id, points, why);
}

static net_round_bits *peer_rb(net_peer *p, uint32_t round) {
  for (size_t i = 0; i < p->nrb; i++)
    if (p->rb[i].round == round) return &p->rb[i];
  if (p->nrb == NET_ROUNDS) { /* drop the lowest round */
    size_t lo = 0;
    for (size_t i = 1; i < p->nrb; i++)
      if (p->rb[i].round < p->rb[lo].round) lo = i;
    p->rb[lo] = p->rb[--p->nrb];
  }
  net_round_bits *b = &p->rb[p->nrb++];
  memset(b, 0, sizeof *b);
  b->round = round;
  return b;
}

static void peer_reset_bits(net_peer *p, uint64_t height) {
  p->nrb = 0;
  p->bits_height = height;
  p->prop_sent = 0;
}

#define BIT_GET(b, i) (((b)[(i) / 8] >> ((i) % 8)) & 1)
#define BIT_SET(b, i) ((b)[(i) / 8] |= (uint8_t)(1u << ((i) % 8)))

/* ---- encoding and sending ---- */

static int send_cons(node *n, const char *peer, Cohort__P2p__ConsensusMsg *m) {
  size_t len = cohort__p2p__consensus_msg__get_packed_size(m);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return COHORT_ERR_NOMEM;
  cohort__p2p__consensus_msg__pack(m, buf);
  int rc = peer ? p2p_send(n->sw, peer, P2P_CH_CONSENSUS, buf, len)
                : p2p_broadcast(n->sw, P2P_CH_CONSENSUS, buf, len, NULL);
  free(buf);
  return rc < 0 ? rc : COHORT_OK;
}

static int send_vote(node *n, const char *peer, const cons_vote *v) {
  Cohort__Vote pv;
  cons_vote_to_pb(&pv, v);
  size_t len = cohort__vote__get_packed_size(&pv);
  uint8_t buf[VOTE_MAX_BYTES];
  if (len > sizeof buf) return COHORT_ERR_TOO_LARGE;
  cohort__vote__pack(&pv, buf);
  Cohort__P2p__ConsensusMsg m = COHORT__P2P__CONSENSUS_MSG__INIT;
  m.msg_case = COHORT__P2P__CONSENSUS_MSG__MSG_VOTE;
  m.vote = (ProtobufCBinaryData){len, buf};
  return send_cons(n, peer, &m);
}

static int send_proposal(node *n, const char *peer, const cons_proposal *p) {
  Cohort__Proposal pp;
  cons_proposal_to_pb(&pp, p);
  size_t len = cohort__proposal__get_packed_size(&pp);
  uint8_t buf[PROPOSAL_MAX_BYTES];
  if (len > sizeof buf) return COHORT_ERR_TOO_LARGE;
  cohort__proposal__pack(&pp, buf);
  Cohort__P2p__ConsensusMsg m = COHORT__P2P__CONSENSUS_MSG__INIT;
  m.msg_case = COHORT__P2P__CONSENSUS_MSG__MSG_PROPOSAL;
  m.proposal = (ProtobufCBinaryData){len, buf};
  return send_cons(n, peer, &m);
}

static int send_block_msg(node *n, const char *peer, Cohort__P2p__BlockMsg *m) {
  size_t len = cohort__p2p__block_msg__get_packed_size(m);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return COHORT_ERR_NOMEM;
  cohort__p2p__block_msg__pack(m, buf);
  int rc = peer ? p2p_send(n->sw, peer, P2P_CH_BLOCKSYNC, buf, len)
                : p2p_broadcast(n->sw, P2P_CH_BLOCKSYNC, buf, len, NULL);
  free(buf);
  return rc < 0 ? rc : COHORT_OK;
}

static int send_block(node *n, const char *peer, uint64_t h, const uint8_t *b, size_t bl,
                      const uint8_t *c, size_t cl) {
  Cohort__P2p__BlockResponse r = COHORT__P2P__BLOCK_RESPONSE__INIT;
  r.height = h;
  r.block = (ProtobufCBinaryData){bl, (uint8_t *)b};
  r.commit = (ProtobufCBinaryData){cl, (uint8_t *)c};
  Cohort__P2p__BlockMsg m = COHORT__P2P__BLOCK_MSG__INIT;
  m.msg_case = COHORT__P2P__BLOCK_MSG__MSG_RESPONSE;
  m.response = &r;
  return send_block_msg(n, peer, &m);
}

static int send_request(node *n, const char *peer, uint64_t h, const uint8_t *hash) {
  Cohort__P2p__BlockRequest r = COHORT__P2P__BLOCK_REQUEST__INIT;
  r.height = h;
  if (hash) r.hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
  Cohort__P2p__BlockMsg m = COHORT__P2P__BLOCK_MSG__INIT;
  m.msg_case = COHORT__P2P__BLOCK_MSG__MSG_REQUEST;
  m.request = &r;
  return send_block_msg(n, peer, &m);
}

/* Our RoundState. */
static void our_state(node *n, Cohort__P2p__RoundState *rs, uint8_t pv[NET_VBITS],
                      uint8_t pc[NET_VBITS]) {
  uint64_t h = cons_height(n->cons);
  uint32_t r = cons_round(n->cons);
  size_t nb = (cons_validator_count(n->cons) + 7) / 8;
  memset(pv, 0, NET_VBITS);
  memset(pc, 0, NET_VBITS);
  cons_vote_bitmap(n->cons, h, r, VOTE_PREVOTE, pv, nb);
  cons_vote_bitmap(n->cons, h, r, VOTE_PRECOMMIT, pc, nb);
  cons_proposal p;
  rs->height = h;
  rs->round = r;
  rs->step = (uint32_t)cons_get_step(n->cons);
  rs->has_proposal = cons_get_proposal(n->cons, h, r, &p) == 0;
  size_t bl;
  rs->has_block = rs->has_proposal && node_held_bytes(n, p.block_hash, &bl) != NULL;
  rs->prevotes = (ProtobufCBinaryData){nb, pv};
  rs->precommits = (ProtobufCBinaryData){nb, pc};
  rs->lowest = state_height(n->st) ? 1 : 0;
}

static void send_state(node *n, const char *peer) {
  Cohort__P2p__RoundState rs = COHORT__P2P__ROUND_STATE__INIT;
  uint8_t pv[NET_VBITS], pc[NET_VBITS];
  our_state(n, &rs, pv, pc);
  /* canonical: an all-zero bitmap is still sent (bytes fields with content) */
  Cohort__P2p__ConsensusMsg m = COHORT__P2P__CONSENSUS_MSG__INIT;
  m.msg_case = COHORT__P2P__CONSENSUS_MSG__MSG_STATE;
  m.state = &rs;
  send_cons(n, peer, &m);
}

/* ---- gossip to one peer ---- */

static void gossip_peer(node *n, net_peer *p, uint64_t now) {
  if (!p->have_state) return;
  uint64_t h = cons_height(n->cons);
  if (p->height != h) return; /* other heights: block sync's business */
  if (p->bits_height != h) peer_reset_bits(p, h);
  if (now - p->refresh_ms >= NET_REFRESH_MS) {
    p->refresh_ms = now;
    for (size_t i = 0; i < p->nrb; i++) memset(p->rb[i].sent, 0, sizeof p->rb[i].sent);
    p->prop_sent = 0;
  }
  /* the proposal of its round, and the block it names */
  cons_proposal pr;
  if (!cons_get_proposal(n->cons, h, p->round, &pr)) {
    if (!p->has_proposal &&
        !(p->prop_sent && p->prop_sent_h == h && p->prop_sent_r == p->round) &&
        send_proposal(n, p->id, &pr) == COHORT_OK) {
      p->prop_sent = 1;
      p->prop_sent_h = h;
      p->prop_sent_r = p->round;
    }
    size_t bl;
    const uint8_t *bb;
    if (!p->has_block && (bb = node_held_bytes(n, pr.block_hash, &bl)) &&
        (memcmp(p->block_sent, pr.block_hash, 32) || now - p->block_sent_ms >= NET_BLOCK_RESEND_MS) &&
        send_block(n, p->id, h, bb, bl, NULL, 0) == COHORT_OK) {
      memcpy(p->block_sent, pr.block_hash, 32);
      p->block_sent_ms = now;
    }
  }
  /* every stored vote of the height it lacks */
  uint32_t rounds[64];
  size_t nr = cons_stored_rounds(n->cons, rounds, 64);
  size_t nv = cons_validator_count(n->cons), nb = (nv + 7) / 8;
  for (size_t k = 0; k < nr && k < 64; k++) {
    for (int t = 0; t < 2; t++) {
      uint8_t bits[NET_VBITS] = {0};
      uint32_t type = t ? VOTE_PRECOMMIT : VOTE_PREVOTE;
      if (!cons_vote_bitmap(n->cons, h, rounds[k], type, bits, nb)) continue;
      net_round_bits *rb = peer_rb(p, rounds[k]);
      for (size_t i = 0; i < nv; i++) {
        if (!BIT_GET(bits, i) || BIT_GET(rb->have[t], i) || BIT_GET(rb->sent[t], i)) continue;
        cons_vote v;
        if (cons_get_vote(n->cons, h, rounds[k], type, i, &v)) continue;
        int rc = send_vote(n, p->id, &v);
        if (rc == COHORT_ERR_QUEUE_FULL) return; /* try again next time */
        if (rc == COHORT_OK) BIT_SET(rb->sent[t], i);
      }
    }
  }
}

static void gossip_all(node *n) {
  uint64_t now = node_now_ms();
  for (size_t i = 0; i < n->npeers; i++) gossip_peer(n, &n->peers[i], now);
}

/* ---- block sync ---- */

static net_sync_slot *slot_for(node *n, uint64_t h) {
  for (size_t i = 0; i < NET_SYNC_WINDOW; i++)
    if (n->sync[i].height == h) return &n->sync[i];
  return NULL;
}

static void slot_free(net_sync_slot *s) {
  free(s->block);
  free(s->commit);
  memset(s, 0, sizeof *s);
}

/* A peer that has committed h (and is not the one that failed us last). */
static net_peer *source_for(node *n, uint64_t h, const char *avoid) {
  net_peer *best = NULL;
  for (size_t i = 0; i < n->npeers; i++) {
    net_peer *p = &n->peers[i];
    if (!p->have_state || p->height < h + 1 || (p->base == 0 || p->base > h)) continue;
    if (avoid && !strcmp(avoid, p->id) && n->npeers > 1) continue;
    /* spread: fewest requests in flight, then by height for determinism of tests */
    if (!best || p->sync_inflight < best->sync_inflight) best = p;
  }
  return best;
}

static void sync_log(node *n, uint64_t now) {
  if (!atomic_load(&n->catching_up)) return;
  if (n->sync_log_ms && now - n->sync_log_ms < 1000) return;
  uint64_t tip = state_height(n->st);
  if (n->sync_log_ms) {
    double rate = (double)(tip - n->sync_log_h) * 1000.0 / (double)(now - n->sync_log_ms);
    LOGI(MOD, "catching up: height %" PRIu64 "/%" PRIu64 ", %.0f blocks/s, %zu peers", tip,
         n->sync_best, rate, n->npeers);
  } else {
    LOGI(MOD, "catching up: height %" PRIu64 "/%" PRIu64 " (peers are ahead): fetching blocks "
         "from %zu peers", tip, n->sync_best, n->npeers);
  }
  n->sync_log_ms = now;
  n->sync_log_h = tip;
}

static void sync_tick(node *n) {
  if (n->stopping) return;
  uint64_t tip = state_height(n->st), now = node_now_ms(), best = 0;
  for (size_t i = 0; i < n->npeers; i++)
    if (n->peers[i].have_state && n->peers[i].height - 1 > best) best = n->peers[i].height - 1;
  n->sync_best = best;
  int was = atomic_load(&n->catching_up);
  int now_catching = was ? best > tip : best > tip + 1;
  if (now_catching != was) {
    atomic_store(&n->catching_up, now_catching);
    if (!now_catching)
      LOGI(MOD, "caught up at height %" PRIu64 ": following the chain by consensus", tip);
    n->sync_log_ms = 0;
  }
  for (size_t i = 0; i < NET_SYNC_WINDOW; i++)
    if (n->sync[i].height && n->sync[i].height <= tip) slot_free(&n->sync[i]);
  /* ask for what is missing in the window */
  for (uint64_t h = tip + 1; h <= best && h <= tip + NET_SYNC_WINDOW; h++) {
    net_sync_slot *s = slot_for(n, h);
    if (s && (s->block || now - s->asked_ms < NET_SYNC_TIMEOUT_MS)) continue;
    net_peer *src = source_for(n, h, s ? s->from : NULL);
    if (!src) continue;
    if (!s) {
      for (size_t i = 0; i < NET_SYNC_WINDOW && !s; i++)
        if (!n->sync[i].height) s = &n->sync[i];
      if (!s) break;
      s->height = h;
    } else {
      net_peer *old = peer_find(n, s->from);
      if (old && old->sync_inflight) old->sync_inflight--;
    }
    if (send_request(n, src->id, h, NULL) != COHORT_OK) {
      s->height = 0;
      continue;
    }
    snprintf(s->from, sizeof s->from, "%s", src->id);
    s->asked_ms = now;
    src->sync_inflight++;
  }
  /* apply in order */
  net_sync_slot *s;
  while (!n->stopping && (s = slot_for(n, state_height(n->st) + 1)) && s->block) {
    core_errbuf eb;
    char from[41];
    snprintf(from, sizeof from, "%s", s->from);
    uint8_t *b = s->block, *c = s->commit;
    size_t bl = s->blen, cl = s->clen;
    s->block = s->commit = NULL;
    slot_free(s);
    int rc = node_apply_synced(n, b, bl, c, cl, &eb);
    free(b);
    free(c);
    if (rc) {
      if (!core_err_is_fatal(rc)) {
        LOGW(MOD, "block sync: the block peer %.12s.. sent is invalid: %s", from, eb.msg);
        penalize(n, from, 50, "sent an invalid block in block sync");
      }
      break;
    }
  }
  sync_log(n, now);
}

/* ---- received messages ---- */

static void on_state(node *n, net_peer *p, const Cohort__P2p__RoundState *rs) {
  p->have_state = 1;
  p->height = rs->height;
  p->round = rs->round;
  p->step = (int)rs->step;
  p->has_proposal = rs->has_proposal;
  p->has_block = rs->has_block;
  p->base = rs->lowest;
  if (p->bits_height != rs->height) peer_reset_bits(p, rs->height);
  net_round_bits *rb = peer_rb(p, rs->round);
  for (size_t i = 0; i < rs->prevotes.len; i++) rb->have[0][i] |= rs->prevotes.data[i];
  for (size_t i = 0; i < rs->precommits.len; i++) rb->have[1][i] |= rs->precommits.data[i];
  sync_tick(n);
  gossip_peer(n, p, node_now_ms());
}

static void on_vote(node *n, net_peer *p, const uint8_t *b, size_t len) {
  Cohort__Vote *pv;
  core_errbuf eb;
  int rc = vote_decode(&pv, b, len, &eb);
  if (rc) {
    if (rc != COHORT_ERR_NOMEM) penalize(n, p->id, P2P_BAN_POINTS, "sent an undecodable vote");
    return;
  }
  cons_vote v;
  rc = cons_vote_from_pb(&v, pv);
  uint64_t h = cons_height(n->cons);
  int idx = rc ? -1 : cons_validator_index(n->cons, v.validator);
  /* a vote we hold already needs no signature check */
  cons_vote have;
  if (!rc && idx >= 0 && v.height == h &&
      !cons_get_vote(n->cons, h, v.round, v.type, (size_t)idx, &have) && cons_vote_equal(&have, &v)) {
    rc = 1;
  } else if (!rc && v.type == VOTE_PRECOMMIT && v.height + 1 == h) {
    /* late for its height: its signature still counts in our next proposal */
    if (node_late_precommit(n, pv) < 0) penalize(n, p->id, 50, "sent a vote with a bad signature");
    rc = 1;
  } else if (!rc && (v.height == h || v.height == h + 1)) {
    if (vote_verify(pv, state_chain_id(n->st), &eb)) {
      penalize(n, p->id, 50, "sent a vote with a bad signature");
      cohort__vote__free_unpacked(pv, NULL);
      return;
    }
    rc = cons_on_vote(n->cons, &v, node_now_ms());
    if (rc == COHORT_ERR_INVALID) penalize(n, p->id, 10, "sent a vote of a non-validator");
  }
  cohort__vote__free_unpacked(pv, NULL);
  if (idx >= 0 && v.height == h && v.height == p->bits_height) {
    net_round_bits *rb = peer_rb(p, v.round);
    BIT_SET(rb->have[v.type == VOTE_PRECOMMIT], (size_t)idx);
  }
  if (rc >= 0) node_pump(n);
}

static void on_proposal(node *n, net_peer *p, const uint8_t *b, size_t len) {
  Cohort__Proposal *pp;
  core_errbuf eb;
  int rc = proposal_decode(&pp, b, len, &eb);
  if (rc) {
    if (rc != COHORT_ERR_NOMEM)
      penalize(n, p->id, P2P_BAN_POINTS, "sent an undecodable proposal");
    return;
  }
  cons_proposal cp;
  rc = cons_proposal_from_pb(&cp, pp);
  uint64_t h = cons_height(n->cons);
  cons_proposal have;
  if (rc || (cp.height != h && cp.height != h + 1) ||
      (!cons_get_proposal(n->cons, cp.height, cp.round, &have) && cons_proposal_equal(&have, &cp))) {
    cohort__proposal__free_unpacked(pp, NULL);
    return;
  }
  if (proposal_verify(pp, state_chain_id(n->st), &eb)) {
    penalize(n, p->id, 50, "sent a proposal with a bad signature");
    cohort__proposal__free_unpacked(pp, NULL);
    return;
  }
  cohort__proposal__free_unpacked(pp, NULL);
  rc = cons_on_proposal(n->cons, &cp, node_now_ms());
  if (rc == COHORT_ERR_INVALID) penalize(n, p->id, 10, "sent a proposal from a non-proposer");
  if (cp.height == h && cp.round == p->round) p->has_proposal = 1;
  node_pump(n);
}

static void on_cons_msg(node *n, net_peer *p, const uint8_t *msg, size_t len) {
  Cohort__P2p__ConsensusMsg *m;
  core_errbuf eb;
  int rc = node_cons_msg_decode(msg, len, &m, &eb);
  if (rc) {
    if (rc != COHORT_ERR_NOMEM) penalize(n, p->id, P2P_BAN_POINTS, eb.msg);
    return;
  }
  switch (m->msg_case) {
    case COHORT__P2P__CONSENSUS_MSG__MSG_STATE: on_state(n, p, m->state); break;
    case COHORT__P2P__CONSENSUS_MSG__MSG_VOTE: on_vote(n, p, m->vote.data, m->vote.len); break;
    case COHORT__P2P__CONSENSUS_MSG__MSG_PROPOSAL:
      on_proposal(n, p, m->proposal.data, m->proposal.len);
      break;
    case COHORT__P2P__CONSENSUS_MSG__MSG_EVIDENCE: node_on_evidence(n, p->id, m->evidence.data, m->evidence.len); break;
    default: break;
  }
  protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void answer_request(node *n, net_peer *p, const Cohort__P2p__BlockRequest *r) {
  uint64_t tip = state_height(n->st);
  if (r->hash.len && r->height == cons_height(n->cons)) {
    size_t bl;
    const uint8_t *bb = node_held_bytes(n, r->hash.data, &bl);
    if (bb) {
      send_block(n, p->id, r->height, bb, bl, NULL, 0);
      return;
    }
  }
  if (r->height >= 1 && r->height <= tip) {
    uint8_t *bb = NULL, *cb = NULL;
    size_t bl, cl;
    if (!state_get_block(n->st, r->height, &bb, &bl) &&
        !state_get_commit(n->st, r->height, &cb, &cl))
      send_block(n, p->id, r->height, bb, bl, cb, cl);
    free(bb);
    free(cb);
    return;
  }
  Cohort__P2p__NoBlock nb = COHORT__P2P__NO_BLOCK__INIT;
  nb.height = r->height;
  nb.hash = r->hash;
  Cohort__P2p__BlockMsg m = COHORT__P2P__BLOCK_MSG__INIT;
  m.msg_case = COHORT__P2P__BLOCK_MSG__MSG_NONE;
  m.none = &nb;
  send_block_msg(n, p->id, &m);
}

static void on_response(node *n, net_peer *p, const Cohort__P2p__BlockResponse *r) {
  uint64_t tip = state_height(n->st);
  if (!r->commit.len) { /* a proposal block of the height being decided */
    int rc = node_held_offer(n, r->block.data, r->block.len);
    if (rc == COHORT_ERR_DECODE) penalize(n, p->id, 50, "sent a proposal block that does not decode");
    node_pump(n);
    return;
  }
  net_sync_slot *s = slot_for(n, r->height);
  if (r->height == tip + 1 && !s) { /* unasked but useful: the next block */
    for (size_t i = 0; i < NET_SYNC_WINDOW && !s; i++)
      if (!n->sync[i].height) s = &n->sync[i];
    if (s) {
      s->height = r->height;
      snprintf(s->from, sizeof s->from, "%s", p->id);
    }
  }
  if (!s || s->block) return;
  if (!strcmp(s->from, p->id) && p->sync_inflight) p->sync_inflight--;
  s->block = malloc(r->block.len ? r->block.len : 1);
  s->commit = malloc(r->commit.len);
  if (!s->block || !s->commit) {
    free(s->block);
    free(s->commit);
    s->block = s->commit = NULL;
    return;
  }
  memcpy(s->block, r->block.data, r->block.len);
  memcpy(s->commit, r->commit.data, r->commit.len);
  s->blen = r->block.len;
  s->clen = r->commit.len;
  snprintf(s->from, sizeof s->from, "%s", p->id);
  sync_tick(n);
  node_pump(n);
}

static void on_block_msg(node *n, net_peer *p, const uint8_t *msg, size_t len) {
  Cohort__P2p__BlockMsg *m;
  core_errbuf eb;
  int rc = node_block_msg_decode(msg, len, &m, &eb);
  if (rc) {
    if (rc != COHORT_ERR_NOMEM) penalize(n, p->id, P2P_BAN_POINTS, eb.msg);
    return;
  }
  switch (m->msg_case) {
    case COHORT__P2P__BLOCK_MSG__MSG_REQUEST: answer_request(n, p, m->request); break;
    case COHORT__P2P__BLOCK_MSG__MSG_RESPONSE: on_response(n, p, m->response); break;
    case COHORT__P2P__BLOCK_MSG__MSG_NONE: {
      net_sync_slot *s = slot_for(n, m->none->height);
      if (s && !s->block && !strcmp(s->from, p->id)) {
        s->asked_ms = 0; /* ask someone else */
        if (p->sync_inflight) p->sync_inflight--;
        if (++p->noblock > 20) {
          penalize(n, p->id, 20, "claims blocks it does not serve");
          p->noblock = 0;
        }
      }
      break;
    }
    default: break;
  }
  protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void on_tx_msg(node *n, net_peer *p, const uint8_t *msg, size_t len) {
  tx_t tx;
  core_errbuf eb;
  int rc = tx_decode(&tx, msg, len, state_params(n->st)->max_tx_bytes, &eb);
  if (rc) {
    if (rc != COHORT_ERR_NOMEM) penalize(n, p->id, 20, "relayed a tx that does not decode");
    return;
  }
  rc = node_add_tx(n, &tx, p->id, &eb);
  if (rc) {
    if (rc == COHORT_ERR_SIGNATURE || rc == COHORT_ERR_CHAIN_ID)
      penalize(n, p->id, 20, "relayed a tx with a bad signature");
    tx_free(&tx);
  }
}

/* ---- switch callbacks ---- */

static void publish_peers(node *n);

static void on_peer_up(void *ctx, const p2p_peer_info *pi) {
  node *n = ctx;
  if (peer_find(n, pi->id)) return;
  net_peer *np = realloc(n->peers, (n->npeers + 1) * sizeof *np);
  if (!np) return;
  n->peers = np;
  net_peer *p = &n->peers[n->npeers++];
  memset(p, 0, sizeof *p);
  snprintf(p->id, sizeof p->id, "%s", pi->id);
  p->refresh_ms = node_now_ms();
  atomic_store(&n->a_peers, (unsigned)n->npeers);
  send_state(n, p->id);
  for (size_t i = 0; i < n->ev.n; i++) /* evidence waiting for a block */
    node_net_evidence(n, p->id, n->ev.items[i].bytes.data, n->ev.items[i].bytes.len, NULL);
  /* our pending txs */
  size_t cnt = mempool_size(n->mp);
  if (cnt > NET_MEMPOOL_TO_NEW_PEER) cnt = NET_MEMPOOL_TO_NEW_PEER;
  const tx_t **txs = cnt ? malloc(cnt * sizeof *txs) : NULL;
  if (txs) {
    size_t k = mempool_reap(n->mp, cnt, SIZE_MAX, txs);
    for (size_t i = 0; i < k; i++)
      if (p2p_send(n->sw, p->id, P2P_CH_MEMPOOL, txs[i]->raw, txs[i]->raw_len) ==
          COHORT_ERR_QUEUE_FULL)
        break;
    free(txs);
  }
  publish_peers(n);
}

static void on_peer_down(void *ctx, const p2p_peer_info *pi, int reason, const char *why) {
  node *n = ctx;
  (void)reason;
  (void)why;
  for (size_t i = 0; i < n->npeers; i++) {
    if (strcmp(n->peers[i].id, pi->id)) continue;
    n->peers[i] = n->peers[--n->npeers];
    break;
  }
  for (size_t i = 0; i < NET_SYNC_WINDOW; i++)
    if (n->sync[i].height && !n->sync[i].block && !strcmp(n->sync[i].from, pi->id))
      n->sync[i].asked_ms = 0;
  atomic_store(&n->a_peers, (unsigned)n->npeers);
  publish_peers(n);
}

static void on_message(void *ctx, const p2p_peer_info *pi, int ch, const uint8_t *msg,
                       size_t len) {
  node *n = ctx;
  if (n->stopping) return;
  net_peer *p = peer_find(n, pi->id);
  if (!p) return;
  switch (ch) {
    case P2P_CH_CONSENSUS: on_cons_msg(n, p, msg, len); break;
    case P2P_CH_BLOCKSYNC: on_block_msg(n, p, msg, len); break;
    case P2P_CH_MEMPOOL: on_tx_msg(n, p, msg, len); break;
    default: penalize(n, p->id, 10, "sent on a channel this node does not use"); break;
  }
}

/* ---- what the RPC thread reads ---- */

static void publish_peers(node *n) {
  if (!n->sw) return;
  size_t cnt = p2p_switch_peers(n->sw, NULL, 0);
  p2p_peer_info *pi = cnt ? calloc(cnt, sizeof *pi) : NULL;
  if (cnt && !pi) return;
  cnt = p2p_switch_peers(n->sw, pi, cnt);
  json_t *arr = json_array();
  uint64_t now = uv_now(n->loop);
  for (size_t i = 0; arr && i < cnt; i++) {
    net_peer *p = peer_find(n, pi[i].id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:i}", "id",
                          pi[i].id, "addr", pi[i].addr, "dial_addr", pi[i].dial_addr, "moniker",
                          pi[i].moniker, "outbound", pi[i].outbound, "persistent",
                          pi[i].persistent, "up_ms", (json_int_t)(now - pi[i].up_since_ms),
                          "rtt_ms", (json_int_t)pi[i].rtt_ms, "bytes_sent",
                          (json_int_t)pi[i].bytes_sent, "bytes_recv",
                          (json_int_t)pi[i].bytes_recv, "score", pi[i].score);
    if (o && p && p->have_state) {
      json_object_set_new(o, "height", json_integer((json_int_t)p->height));
      json_object_set_new(o, "round", json_integer((json_int_t)p->round));
      json_object_set_new(o, "step", json_string(cons_step_name((cons_step)p->step)));
    }
    if (o) json_array_append_new(arr, o);
  }
  free(pi);
  json_t *top = json_pack("{s:s, s:s, s:i, s:o}", "node_id", n->node_id, "listen",
                          n->cfg.p2p_listen, "n_peers", (int)cnt, "peers",
                          arr ? arr : json_array());
  char *txt = top ? json_dumps(top, JSON_COMPACT) : NULL;
  json_decref(top);
  char *mt = p2p_switch_metrics(n->sw);
  uv_mutex_lock(&n->net_lock);
  if (txt) {
    free(n->peers_json);
    n->peers_json = txt;
  }
  if (mt) {
    free(n->net_metrics);
    n->net_metrics = mt;
  }
  uv_mutex_unlock(&n->net_lock);
}

/* ---- timers and the node's hooks ---- */

static uint64_t last_publish_ms;

static void on_gossip_timer(uv_timer_t *t) {
  node *n = t->data;
  if (n->stopping) return;
  sync_tick(n);
  gossip_all(n);
  node_net_want(n);
  uint64_t now = node_now_ms();
  if (now - last_publish_ms >= 1000) {
    last_publish_ms = now;
    publish_peers(n);
  }
  node_pump(n);
}

/* After each loop turn: tell the peers our new state once. */
static void on_flush(uv_check_t *c) {
  node *n = c->data;
  if (!n->state_dirty || n->stopping || !n->sw) return;
  n->state_dirty = 0;
  send_state(n, NULL);
  gossip_all(n);
}

void node_net_changed(node *n) {
  if (!n->sw) return;
  uint64_t h = cons_height(n->cons);
  uint32_t r = cons_round(n->cons);
  int step = (int)cons_get_step(n->cons);
  cons_proposal p;
  int hp = cons_get_proposal(n->cons, h, r, &p) == 0;
  size_t bl;
  int hb = hp && node_held_bytes(n, p.block_hash, &bl);
  size_t nb = (cons_validator_count(n->cons) + 7) / 8;
  uint8_t bits[NET_VBITS];
  size_t votes = cons_vote_bitmap(n->cons, h, r, VOTE_PREVOTE, bits, nb) +
                 cons_vote_bitmap(n->cons, h, r, VOTE_PRECOMMIT, bits, nb);
  if (h == n->sent_h && r == n->sent_r && step == n->sent_step && hp == n->sent_prop &&
      hb == n->sent_block && votes == n->sent_votes)
    return;
  n->sent_h = h;
  n->sent_r = r;
  n->sent_step = step;
  n->sent_prop = hp;
  n->sent_block = hb;
  n->sent_votes = votes;
  n->state_dirty = 1;
}

void node_net_own_vote(node *n, const cons_vote *v) {
  if (!n->sw) return;
  int idx = cons_validator_index(n->cons, v->validator);
  for (size_t i = 0; i < n->npeers; i++) {
    net_peer *p = &n->peers[i];
    if (send_vote(n, p->id, v) != COHORT_OK) continue;
    if (idx >= 0 && p->have_state && p->height == v->height) {
      if (p->bits_height != v->height) peer_reset_bits(p, v->height);
      BIT_SET(peer_rb(p, v->round)->sent[v->type == VOTE_PRECOMMIT], (size_t)idx);
    }
  }
}

void node_net_own_proposal(node *n, const cons_proposal *pr) {
  if (!n->sw) return;
  size_t bl;
  const uint8_t *bb = node_held_bytes(n, pr->block_hash, &bl);
  uint64_t now = node_now_ms();
  for (size_t i = 0; i < n->npeers; i++) {
    net_peer *p = &n->peers[i];
    /* the block first: it is what takes time to arrive */
    if (bb && send_block(n, p->id, pr->height, bb, bl, NULL, 0) == COHORT_OK) {
      memcpy(p->block_sent, pr->block_hash, 32);
      p->block_sent_ms = now;
    }
    if (send_proposal(n, p->id, pr) == COHORT_OK) {
      p->prop_sent = 1;
      p->prop_sent_h = pr->height;
      p->prop_sent_r = pr->round;
    }
  }
}

void node_net_penalize(node *n, const char *peer, int points, const char *why) {
  if (n->sw) penalize(n, peer, points, why);
}

/* One evidence item to one peer, or to every peer but `except`. */
void node_net_evidence(node *n, const char *peer, const uint8_t *b, size_t len,
                       const char *except) {
  if (!n->sw) return;
  Cohort__P2p__ConsensusMsg m = COHORT__P2P__CONSENSUS_MSG__INIT;
  m.msg_case = COHORT__P2P__CONSENSUS_MSG__MSG_EVIDENCE;
  m.evidence = (ProtobufCBinaryData){len, (uint8_t *)b};
  if (peer) {
    send_cons(n, peer, &m);
    return;
  }
  for (size_t i = 0; i < n->npeers; i++)
    if (!except || strcmp(n->peers[i].id, except)) send_cons(n, n->peers[i].id, &m);
}

void node_net_send_half(node *n, const cons_vote *v) {
  for (size_t i = 0; n->sw && i < n->npeers; i += 2) send_vote(n, n->peers[i].id, v);
}

void node_net_tx(node *n, const uint8_t *raw, size_t len, const char *except_peer) {
  if (n->sw && n->npeers) p2p_broadcast(n->sw, P2P_CH_MEMPOOL, raw, len, except_peer);
}

/* The message limits that follow the chain's size parameters. Block sync
 * carries stored blocks of any height: its limit follows the largest
 * max_block_bytes ever in force (state "pm/"), not the value now, so that
 * after governance lowered it a node still serves, and a node syncing from
 * genesis still takes, the larger blocks made before (docs/p2p.md §9a). A
 * new block's own limit is checked where it is decoded (state_block_exec,
 * node_held_offer), against the value in force at its height. */
static uint32_t blocksync_max(node *n) {
  const Cohort__Params *p = state_params(n->st);
  uint64_t m = p->max_block_bytes;
  uint64_t ever;
  if (state_param_max(n->st, "max_block_bytes", &ever) == COHORT_OK && ever > m) m = ever;
  if (m > genesis_param_max("max_block_bytes")) m = genesis_param_max("max_block_bytes");
  return (uint32_t)m + (4u << 20);
}
static uint32_t mempool_max(const Cohort__Params *p) { return p->max_tx_bytes + 1024; }

void node_net_committed(node *n, uint64_t h) {
  (void)h;
  n->want_ask_ms = 0;
  for (size_t i = 0; i < n->npeers; i++) peer_reset_bits(&n->peers[i], 0);
  /* a parameter change (governance) may have moved the block or tx size
   * limit: the next block's messages must fit the frames we accept */
  const Cohort__Params *par = state_params(n->st);
  if (n->sw && (blocksync_max(n) != n->net_max_block || mempool_max(par) != n->net_max_tx)) {
    n->net_max_block = blocksync_max(n);
    n->net_max_tx = mempool_max(par);
    if (p2p_switch_set_max_msg(n->sw, P2P_CH_BLOCKSYNC, n->net_max_block) ||
        p2p_switch_set_max_msg(n->sw, P2P_CH_MEMPOOL, n->net_max_tx))
      LOGW(MOD, "cannot set the p2p message limits to %u / %u bytes", n->net_max_block,
           n->net_max_tx);
    else
      LOGI(MOD, "p2p message limits follow the parameters: blocks %u bytes, txs %u bytes",
           n->net_max_block, n->net_max_tx);
  }
}

/* Blocks we need at the current height: the one decided, or those named by
 * proposals waiting for validation. Ask peers that say they hold the
 * round's block (or everyone) every NET_WANT_MS. */
void node_net_want(node *n) {
  if (!n->sw || !n->npeers) return;
  uint64_t now = node_now_ms(), h = cons_height(n->cons);
  if (now - n->want_ask_ms < NET_WANT_MS) return;
  uint8_t want[32];
  int have_want = 0;
  if (n->decided) {
    memcpy(want, n->decided_hash, 32);
    have_want = 1;
  } else {
    cons_proposal p;
    size_t bl;
    if (!cons_get_proposal(n->cons, h, cons_round(n->cons), &p) &&
        !node_held_bytes(n, p.block_hash, &bl)) {
      memcpy(want, p.block_hash, 32);
      have_want = 1;
    }
  }
  if (!have_want) return;
  n->want_ask_ms = now;
  for (size_t i = 0; i < n->npeers; i++)
    if (n->peers[i].have_state && n->peers[i].height >= h)
      send_request(n, n->peers[i].id, h, want);
}

int node_net_start(node *n, core_errbuf *eb) {
  if (!n->cfg.p2p_listen[0] && !n->cfg.p2p_persistent_peers[0] && !n->cfg.p2p_seeds[0]) {
    LOGI(MOD, "p2p is off ([p2p] listen, persistent_peers and seeds are empty): a chain of "
         "one");
    return COHORT_OK;
  }
  const Cohort__Params *par = state_params(n->st);
  p2p_config pc = {.chain_id = state_chain_id(n->st),
                   .listen = n->cfg.p2p_listen,
                   .external_addr = n->cfg.p2p_external_addr[0] ? n->cfg.p2p_external_addr : NULL,
                   .moniker = n->cfg.moniker,
                   .persistent_peers = n->cfg.p2p_persistent_peers,
                   .seeds = n->cfg.p2p_seeds,
                   .no_pex = (int)n->cfg.p2p_no_pex,
                   .max_inbound = (unsigned)n->cfg.p2p_max_inbound,
                   .max_outbound = (unsigned)n->cfg.p2p_max_outbound};
  pc.max_msg_bytes[P2P_CH_CONSENSUS] = 64 << 10;
  pc.max_msg_bytes[P2P_CH_BLOCKSYNC] = n->net_max_block = blocksync_max(n);
  pc.max_msg_bytes[P2P_CH_MEMPOOL] = n->net_max_tx = mempool_max(par);
  pc.max_msg_bytes[P2P_CH_BLOBS] = 64 << 10;
  pc.queue_bytes[P2P_CH_CONSENSUS] = 4 << 20;
  pc.queue_bytes[P2P_CH_BLOCKSYNC] = 4 * (uint64_t)pc.max_msg_bytes[P2P_CH_BLOCKSYNC];
  pc.queue_bytes[P2P_CH_MEMPOOL] = 32 << 20;
  pc.peer_queue_bytes = pc.queue_bytes[P2P_CH_BLOCKSYNC] + (64 << 20);
  p2p_callbacks cb = {on_peer_up, on_peer_down, on_message};
  int rc = p2p_switch_new(&n->sw, n->loop, &pc, n->node_sec, &cb, n, eb);
  if (rc) return rc;
  uv_timer_init(n->loop, &n->gossip_timer);
  n->gossip_timer.data = n;
  uv_timer_start(&n->gossip_timer, on_gossip_timer, NET_GOSSIP_MS, NET_GOSSIP_MS);
  uv_check_init(n->loop, &n->flush);
  n->flush.data = n;
  uv_check_start(&n->flush, on_flush);
  int port = p2p_switch_port(n->sw);
  LOGI(MOD, "p2p node %s listening on %s (port %d)%s%s", n->node_id,
       n->cfg.p2p_listen[0] ? n->cfg.p2p_listen : "(nowhere)", port,
       n->cfg.p2p_persistent_peers[0] ? "; persistent peers: " : "",
       n->cfg.p2p_persistent_peers);
  publish_peers(n);
  return COHORT_OK;
}

static void on_switch_closed(void *arg) {
  node *n = arg;
  n->net_closed = 1;
}

void node_net_close(node *n) {
  for (size_t i = 0; i < NET_SYNC_WINDOW; i++) slot_free(&n->sync[i]);
  if (!n->sw) {
    n->net_closed = 1;
    return;
  }
  uv_timer_stop(&n->gossip_timer);
  uv_check_stop(&n->flush);
  p2p_switch *sw = n->sw;
  n->sw = NULL;
  p2p_switch_close(sw, on_switch_closed, n);
  free(n->peers);
  n->peers = NULL;
  n->npeers = 0;
}
