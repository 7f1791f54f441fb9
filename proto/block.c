/* proto/block.c — block decoding, tx roots, vote sign bytes, commits. */
#include "proto/block.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/keys.h"
#include "proto/pbutil.h"
#include "proto/tx.h"

static int check_header(const Cohort__BlockHeader *h, core_errbuf *eb) {
  if (pb_has_unknown(&h->base))
    return core_errf(eb, COHORT_ERR_DECODE, "block header has unknown fields");
  if (!h->chain_id || strlen(h->chain_id) == 0 || strlen(h->chain_id) > CHAIN_ID_MAX)
    return core_errf(eb, COHORT_ERR_DECODE, "block header chain_id is empty or too long");
  if (h->prev_hash.len != 32 || h->tx_root.len != 32 || h->app_hash.len != 32 ||
      h->validators_hash.len != 32 || h->next_validators_hash.len != 32 ||
      h->proposer.len != 32 || h->last_commit_hash.len != 32)
    return core_errf(eb, COHORT_ERR_DECODE,
                     "block header hash or key field has the wrong length");
  if (h->beacon_reveal.len != 0 && h->beacon_reveal.len != 32)
    return core_errf(eb, COHORT_ERR_DECODE, "beacon_reveal must be 0 or 32 bytes");
  if (h->beacon_new_tip.len != 0 && (h->beacon_new_tip.len != 32 || h->beacon_reveal.len != 32))
    return core_errf(eb, COHORT_ERR_DECODE, "beacon_new_tip must be 32 bytes and come with a "
                     "beacon_reveal");
  if (h->evidence_hash.len != 0 && h->evidence_hash.len != 32)
    return core_errf(eb, COHORT_ERR_DECODE, "evidence_hash must be empty or 32 bytes");
  if (h->height == 0)
    return core_errf(eb, COHORT_ERR_DECODE, "block height must be >= 1");
  return COHORT_OK;
}

void evidence_hash(uint8_t out[32], const ProtobufCBinaryData *items, size_t n) {
  core_sha256_ctx c;
  core_sha256_init(&c);
  core_sha256_update(&c, EVIDENCE_DOMAIN, strlen(EVIDENCE_DOMAIN));
  for (size_t i = 0; i < n; i++) {
    uint8_t l[4];
    core_put_u32be(l, (uint32_t)items[i].len);
    core_sha256_update(&c, l, 4);
    if (items[i].len) core_sha256_update(&c, items[i].data, items[i].len);
  }
  core_sha256_final(&c, out);
}

int block_decode(block_t *b, const uint8_t *bytes, size_t len, size_t max_bytes,
                 size_t max_txs, core_errbuf *eb) {
  memset(b, 0, sizeof *b);
  if (len > max_bytes)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "block is %zu bytes, limit %zu",
                     len, max_bytes);
  b->blk = cohort__block__unpack(NULL, len, bytes);
  if (!b->blk) return core_errf(eb, COHORT_ERR_DECODE, "block is not a valid Block protobuf");
  int rc;
  if (pb_has_unknown(&b->blk->base)) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "block has unknown fields");
    goto fail;
  }
  if ((rc = pb_check_canonical(&b->blk->base, bytes, len))) {
    if (rc != COHORT_ERR_NOMEM)
      rc = core_errf(eb, COHORT_ERR_DECODE, "block is not in canonical encoding");
    goto fail;
  }
  if (b->blk->n_txs > max_txs) {
    rc = core_errf(eb, COHORT_ERR_TOO_LARGE, "block has %zu txs, limit %zu",
                   b->blk->n_txs, max_txs);
    goto fail;
  }
  if (b->blk->n_evidence > BLOCK_MAX_EVIDENCE) {
    rc = core_errf(eb, COHORT_ERR_TOO_LARGE, "block has %zu evidence items, limit %d",
                   b->blk->n_evidence, BLOCK_MAX_EVIDENCE);
    goto fail;
  }
  b->hdr = cohort__block_header__unpack(NULL, b->blk->header.len, b->blk->header.data);
  if (!b->hdr) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "block header is not a valid protobuf");
    goto fail;
  }
  if ((rc = check_header(b->hdr, eb))) goto fail;
  if ((rc = pb_check_canonical(&b->hdr->base, b->blk->header.data, b->blk->header.len))) {
    if (rc != COHORT_ERR_NOMEM)
      rc = core_errf(eb, COHORT_ERR_DECODE, "block header is not in canonical encoding");
    goto fail;
  }
  if (b->hdr->num_txs != b->blk->n_txs) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "header num_txs %u but block carries %zu",
                   b->hdr->num_txs, b->blk->n_txs);
    goto fail;
  }
  if (b->blk->n_evidence == 0 ? b->hdr->evidence_hash.len != 0
                              : b->hdr->evidence_hash.len != 32) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "evidence_hash must be empty without evidence and "
                   "32 bytes with it (block carries %zu items)", b->blk->n_evidence);
    goto fail;
  }
  if (b->blk->n_evidence) {
    uint8_t eh[32];
    evidence_hash(eh, b->blk->evidence, b->blk->n_evidence);
    if (memcmp(eh, b->hdr->evidence_hash.data, 32)) {
      rc = core_errf(eb, COHORT_ERR_DECODE, "evidence does not match header.evidence_hash");
      goto fail;
    }
  }
  {
    const ProtobufCBinaryData *lc = &b->blk->last_commit;
    uint8_t lch[32] = {0};
    if (lc->len) core_sha256(lch, lc->data, lc->len);
    if (memcmp(lch, b->hdr->last_commit_hash.data, 32)) {
      rc = core_errf(eb, COHORT_ERR_DECODE, "last_commit does not match header.last_commit_hash");
      goto fail;
    }
    if ((b->hdr->height == 1) != (lc->len == 0)) {
      rc = core_errf(eb, COHORT_ERR_DECODE, "last_commit must be empty at height 1 and only there");
      goto fail;
    }
    if (lc->len) {
      if ((rc = commit_parse(&b->last_commit, lc->data, lc->len, 1 << 20, eb))) {
        if (rc != COHORT_ERR_NOMEM) rc = COHORT_ERR_DECODE;
        goto fail;
      }
      if (b->last_commit->height + 1 != b->hdr->height ||
          b->last_commit->block_hash.len != 32 ||
          memcmp(b->last_commit->block_hash.data, b->hdr->prev_hash.data, 32)) {
        rc = core_errf(eb, COHORT_ERR_DECODE, "last_commit is not for the parent block");
        goto fail;
      }
    }
  }
  core_sha256(b->hash, b->blk->header.data, b->blk->header.len);
  return COHORT_OK;
fail:
  block_free(b);
  return rc;
}

void block_free(block_t *b) {
  if (b->last_commit) cohort__commit__free_unpacked(b->last_commit, NULL);
  if (b->hdr) cohort__block_header__free_unpacked(b->hdr, NULL);
  if (b->blk) cohort__block__free_unpacked(b->blk, NULL);
  memset(b, 0, sizeof *b);
}

int block_encode(uint8_t **out, size_t *len, uint8_t hash[32],
                 Cohort__BlockHeader *hdr, const ProtobufCBinaryData *txs,
                 size_t n, const uint8_t *last_commit, size_t lc_len) {
  return block_encode_ev(out, len, hash, hdr, txs, n, last_commit, lc_len, NULL, 0);
}

int block_encode_ev(uint8_t **out, size_t *len, uint8_t hash[32], Cohort__BlockHeader *hdr,
                    const ProtobufCBinaryData *txs, size_t n, const uint8_t *last_commit,
                    size_t lc_len, const ProtobufCBinaryData *evidence, size_t n_ev) {
  *out = NULL;
  hdr->num_txs = (uint32_t)n;
  uint8_t eh[32];
  Cohort__BlockHeader h = *hdr; /* the caller's header keeps its own evidence_hash */
  h.evidence_hash = (ProtobufCBinaryData){0, NULL};
  if (n_ev) {
    evidence_hash(eh, evidence, n_ev);
    h.evidence_hash = (ProtobufCBinaryData){32, eh};
  }
  size_t hl = cohort__block_header__get_packed_size(&h);
  uint8_t *hb = malloc(hl ? hl : 1);
  if (!hb) return COHORT_ERR_NOMEM;
  cohort__block_header__pack(&h, hb);
  Cohort__Block blk = COHORT__BLOCK__INIT;
  blk.header = (ProtobufCBinaryData){hl, hb};
  blk.n_txs = n;
  blk.txs = (ProtobufCBinaryData *)txs;
  blk.last_commit = (ProtobufCBinaryData){lc_len, (uint8_t *)last_commit};
  blk.n_evidence = n_ev;
  blk.evidence = (ProtobufCBinaryData *)evidence;
  *len = cohort__block__get_packed_size(&blk);
  *out = malloc(*len);
  if (*out) cohort__block__pack(&blk, *out);
  core_sha256(hash, hb, hl);
  free(hb);
  return *out ? COHORT_OK : COHORT_ERR_NOMEM;
}

static void merkle(uint8_t out[32], const uint8_t (*h)[32], size_t n) {
  uint8_t buf[65];
  if (n == 1) {
    buf[0] = 0;
    memcpy(buf + 1, h[0], 32);
    core_sha256(out, buf, 33);
    return;
  }
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  buf[0] = 1;
  merkle(buf + 1, h, k);
  merkle(buf + 33, h + k, n - k);
  core_sha256(out, buf, 65);
}

void block_tx_root(uint8_t out[32], const uint8_t (*tx_hashes)[32], size_t n) {
  if (n == 0) {
    core_sha256(out, "", 0);
    return;
  }
  merkle(out, tx_hashes, n);
}

size_t vote_sign_bytes(uint8_t *out, const char *chain_id, uint32_t type,
                       uint64_t height, uint32_t round,
                       const uint8_t *block_hash, size_t hash_len) {
  size_t n = 0, cl = strlen(chain_id);
  memcpy(out, VOTE_SIGN_DOMAIN, strlen(VOTE_SIGN_DOMAIN));
  n += strlen(VOTE_SIGN_DOMAIN);
  out[n++] = (uint8_t)cl;
  memcpy(out + n, chain_id, cl);
  n += cl;
  out[n++] = (uint8_t)type;
  core_put_u64be(out + n, height);
  n += 8;
  core_put_u32be(out + n, round);
  n += 4;
  out[n++] = (uint8_t)hash_len;
  if (hash_len) memcpy(out + n, block_hash, hash_len);
  return n + hash_len;
}

void validators_hash(uint8_t out[32], const Cohort__ValidatorSet *set) {
  core_sha256_ctx c;
  core_sha256_init(&c);
  core_sha256_update(&c, "cohort/valset/v1", 16);
  for (size_t i = 0; i < set->n_validators; i++) {
    uint8_t p[8];
    core_put_u64be(p, set->validators[i]->power);
    core_sha256_update(&c, set->validators[i]->pubkey.data, 32);
    core_sha256_update(&c, p, 8);
  }
  core_sha256_final(&c, out);
}

int commit_verify(const Cohort__Commit *c, const char *chain_id,
                  uint64_t height, const uint8_t block_hash[32],
                  const Cohort__ValidatorSet *set, core_errbuf *eb) {
  if (c->height != height)
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit is for height %llu, expected %llu",
                     (unsigned long long)c->height, (unsigned long long)height);
  if (c->block_hash.len != 32 || memcmp(c->block_hash.data, block_hash, 32))
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit is for another block hash");
  if (c->n_sigs > set->n_validators)
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit has more signatures than validators");
  unsigned __int128 total = 0, signed_power = 0;
  for (size_t i = 0; i < set->n_validators; i++) total += set->validators[i]->power;
  uint8_t sb[VOTE_SIGN_BYTES_MAX];
  size_t sbl = vote_sign_bytes(sb, chain_id, VOTE_PRECOMMIT, height, c->round,
                               block_hash, 32);
  uint8_t seen[256] = {0};
  for (size_t i = 0; i < c->n_sigs; i++) {
    const Cohort__CommitSig *s = c->sigs[i];
    if (s->validator.len != 32 || s->signature.len != 64)
      return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit signature %zu is malformed", i);
    size_t j;
    for (j = 0; j < set->n_validators; j++)
      if (!memcmp(set->validators[j]->pubkey.data, s->validator.data, 32)) break;
    if (j == set->n_validators)
      return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit signature %zu is from a non-validator", i);
    if (j < sizeof seen * 8) {
      if (seen[j / 8] & (1u << (j % 8)))
        return core_errf(eb, COHORT_ERR_BAD_BLOCK, "validator signed the commit twice");
      seen[j / 8] |= (uint8_t)(1u << (j % 8));
    }
    if (core_ed25519_verify(s->signature.data, sb, sbl, s->validator.data))
      return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit signature %zu does not verify", i);
    signed_power += set->validators[j]->power;
  }
  /* signed > 2/3 of total, in 128-bit integers: no overflow, no rounding. */
  if (!((unsigned __int128)signed_power * 3 > (unsigned __int128)total * 2))
    return core_errf(eb, COHORT_ERR_BAD_BLOCK, "commit carries %llu of %llu voting power, "
                     "needs more than 2/3", (unsigned long long)signed_power,
                     (unsigned long long)total);
  return COHORT_OK;
}

int commit_parse(Cohort__Commit **out, const uint8_t *bytes, size_t len, size_t max_bytes,
                 core_errbuf *eb) {
  *out = NULL;
  if (len > max_bytes)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "commit is %zu bytes, limit %zu", len, max_bytes);
  Cohort__Commit *c = cohort__commit__unpack(NULL, len, bytes);
  if (!c) return core_errf(eb, COHORT_ERR_DECODE, "commit is not a valid protobuf");
  int rc = pb_check_canonical(&c->base, bytes, len); /* unknown fields at any depth too */
  if (rc) {
    cohort__commit__free_unpacked(c, NULL);
    if (rc == COHORT_ERR_NOMEM) return rc;
    return core_errf(eb, COHORT_ERR_DECODE, "commit is not in canonical encoding (or has unknown fields)");
  }
  *out = c;
  return COHORT_OK;
}

Cohort__Commit *commit_decode(const uint8_t *bytes, size_t len,
                              size_t max_bytes, core_errbuf *eb) {
  Cohort__Commit *c;
  return commit_parse(&c, bytes, len, max_bytes, eb) ? NULL : c;
}

size_t proposal_sign_bytes(uint8_t *out, const char *chain_id, uint64_t height,
                           uint32_t round, int64_t pol_round,
                           const uint8_t block_hash[32]) {
  size_t n = strlen(PROPOSAL_SIGN_DOMAIN), cl = strlen(chain_id);
  memcpy(out, PROPOSAL_SIGN_DOMAIN, n);
  out[n++] = (uint8_t)cl;
  memcpy(out + n, chain_id, cl);
  n += cl;
  core_put_u64be(out + n, height);
  n += 8;
  core_put_u32be(out + n, round);
  n += 4;
  core_put_u32be(out + n, (uint32_t)(pol_round + 1));
  n += 4;
  memcpy(out + n, block_hash, 32);
  return n + 32;
}

int vote_decode(Cohort__Vote **out, const uint8_t *bytes, size_t len, core_errbuf *eb) {
  *out = NULL;
  if (len > VOTE_MAX_BYTES)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "vote is %zu bytes, limit %d", len,
                     VOTE_MAX_BYTES);
  Cohort__Vote *v = cohort__vote__unpack(NULL, len, bytes);
  if (!v) return core_errf(eb, COHORT_ERR_DECODE, "vote is not a valid Vote protobuf");
  int rc = pb_check_canonical(&v->base, bytes, len);
  if (rc)
    rc = core_errf(eb, rc, rc == COHORT_ERR_NOMEM ? "out of memory checking a vote"
                                                  : "vote is not canonically encoded");
  else if (v->type != VOTE_PREVOTE && v->type != VOTE_PRECOMMIT)
    rc = core_errf(eb, COHORT_ERR_DECODE, "vote type %u is neither prevote (1) nor "
                   "precommit (2)", v->type);
  else if (v->height == 0)
    rc = core_errf(eb, COHORT_ERR_DECODE, "vote height must be >= 1");
  else if (v->block_hash.len != 0 && v->block_hash.len != 32)
    rc = core_errf(eb, COHORT_ERR_DECODE, "vote block_hash must be empty (nil) or 32 bytes");
  else if (v->validator.len != 32 || v->signature.len != 64)
    rc = core_errf(eb, COHORT_ERR_DECODE, "vote validator must be 32 bytes and signature 64");
  if (rc) {
    cohort__vote__free_unpacked(v, NULL);
    return rc;
  }
  *out = v;
  return COHORT_OK;
}

int vote_verify(const Cohort__Vote *v, const char *chain_id, core_errbuf *eb) {
  uint8_t sb[VOTE_SIGN_BYTES_MAX];
  size_t n = vote_sign_bytes(sb, chain_id, v->type, v->height, v->round, v->block_hash.data,
                             v->block_hash.len);
  if (v->validator.len != 32 || v->signature.len != 64 ||
      core_ed25519_verify(v->signature.data, sb, n, v->validator.data))
    return core_errf(eb, COHORT_ERR_SIGNATURE, "vote signature does not verify for "
                     "height %llu round %u", (unsigned long long)v->height, v->round);
  return COHORT_OK;
}

int proposal_decode(Cohort__Proposal **out, const uint8_t *bytes, size_t len,
                    core_errbuf *eb) {
  *out = NULL;
  if (len > PROPOSAL_MAX_BYTES)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "proposal is %zu bytes, limit %d", len,
                     PROPOSAL_MAX_BYTES);
  Cohort__Proposal *p = cohort__proposal__unpack(NULL, len, bytes);
  if (!p) return core_errf(eb, COHORT_ERR_DECODE, "proposal is not a valid Proposal protobuf");
  int rc = pb_check_canonical(&p->base, bytes, len);
  if (rc)
    rc = core_errf(eb, rc, rc == COHORT_ERR_NOMEM ? "out of memory checking a proposal"
                                                  : "proposal is not canonically encoded");
  else if (p->height == 0)
    rc = core_errf(eb, COHORT_ERR_DECODE, "proposal height must be >= 1");
  else if (p->pol_round_plus1 > p->round)
    rc = core_errf(eb, COHORT_ERR_DECODE, "proposal POL round %lld is not below its round %u",
                   (long long)p->pol_round_plus1 - 1, p->round);
  else if (p->block_hash.len != 32 || p->proposer.len != 32 || p->signature.len != 64)
    rc = core_errf(eb, COHORT_ERR_DECODE, "proposal block_hash and proposer must be 32 "
                   "bytes and signature 64");
  if (rc) {
    cohort__proposal__free_unpacked(p, NULL);
    return rc;
  }
  *out = p;
  return COHORT_OK;
}

int proposal_verify(const Cohort__Proposal *p, const char *chain_id, core_errbuf *eb) {
  uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
  if (p->block_hash.len != 32 || p->proposer.len != 32 || p->signature.len != 64)
    return core_errf(eb, COHORT_ERR_SIGNATURE, "proposal fields have the wrong length");
  size_t n = proposal_sign_bytes(sb, chain_id, p->height, p->round,
                                 (int64_t)p->pol_round_plus1 - 1, p->block_hash.data);
  if (core_ed25519_verify(p->signature.data, sb, n, p->proposer.data))
    return core_errf(eb, COHORT_ERR_SIGNATURE, "proposal signature does not verify for "
                     "height %llu round %u", (unsigned long long)p->height, p->round);
  return COHORT_OK;
}

/* ---- evidence of a double sign (docs/protocol.md §4b) ---- */

/* Evidence order of two block hashes: the empty (nil) one first, else
 * bytewise. < 0, 0 (equal), > 0. */
static int hash_order(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return a->len ? memcmp(a->data, b->data, a->len) : 0;
}

void evidence_free(evidence_t *e) {
  if (e->a) cohort__vote__free_unpacked(e->a, NULL);
  if (e->b) cohort__vote__free_unpacked(e->b, NULL);
  memset(e, 0, sizeof *e);
}

int evidence_decode(evidence_t *e, const uint8_t *bytes, size_t len, core_errbuf *eb) {
  memset(e, 0, sizeof *e);
  if (len > EVIDENCE_MAX_BYTES)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "evidence is %zu bytes, limit %d", len,
                     EVIDENCE_MAX_BYTES);
  Cohort__DuplicateVoteEvidence *d = cohort__duplicate_vote_evidence__unpack(NULL, len, bytes);
  if (!d)
    return core_errf(eb, COHORT_ERR_DECODE, "evidence is not a valid DuplicateVoteEvidence");
  int rc = pb_check_canonical(&d->base, bytes, len);
  if (rc) {
    cohort__duplicate_vote_evidence__free_unpacked(d, NULL);
    return core_errf(eb, rc, rc == COHORT_ERR_NOMEM ? "out of memory checking evidence"
                                                    : "evidence is not canonically encoded");
  }
  core_errbuf veb;
  if ((rc = vote_decode(&e->a, d->vote_a.data, d->vote_a.len, &veb)) ||
      (rc = vote_decode(&e->b, d->vote_b.data, d->vote_b.len, &veb))) {
    rc = core_errf(eb, rc == COHORT_ERR_NOMEM ? rc : COHORT_ERR_DECODE, "evidence vote_%c: %s",
                   e->a ? 'b' : 'a', veb.msg);
  } else if (e->a->type != e->b->type || e->a->height != e->b->height ||
             e->a->round != e->b->round) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "evidence votes are for different heights, rounds "
                   "or types");
  } else if (memcmp(e->a->validator.data, e->b->validator.data, 32)) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "evidence votes are from different validators");
  } else {
    int c = hash_order(&e->a->block_hash, &e->b->block_hash);
    if (c == 0)
      rc = core_errf(eb, COHORT_ERR_DECODE, "evidence votes are for the same block hash: "
                     "not a double sign");
    else if (c > 0)
      rc = core_errf(eb, COHORT_ERR_DECODE, "evidence votes out of order (vote_a's block hash "
                     "must be the smaller, nil first)");
  }
  cohort__duplicate_vote_evidence__free_unpacked(d, NULL);
  if (rc) evidence_free(e);
  return rc;
}

int evidence_encode(uint8_t **out, size_t *len, const uint8_t *vote1, size_t l1,
                    const uint8_t *vote2, size_t l2, core_errbuf *eb) {
  *out = NULL;
  *len = 0;
  Cohort__Vote *a, *b;
  int rc = vote_decode(&a, vote1, l1, eb);
  if (rc) return rc;
  if ((rc = vote_decode(&b, vote2, l2, eb))) {
    cohort__vote__free_unpacked(a, NULL);
    return rc;
  }
  int swap = hash_order(&a->block_hash, &b->block_hash) > 0;
  cohort__vote__free_unpacked(a, NULL);
  cohort__vote__free_unpacked(b, NULL);
  Cohort__DuplicateVoteEvidence d = COHORT__DUPLICATE_VOTE_EVIDENCE__INIT;
  d.vote_a = (ProtobufCBinaryData){swap ? l2 : l1, (uint8_t *)(swap ? vote2 : vote1)};
  d.vote_b = (ProtobufCBinaryData){swap ? l1 : l2, (uint8_t *)(swap ? vote1 : vote2)};
  size_t n = cohort__duplicate_vote_evidence__get_packed_size(&d);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return COHORT_ERR_NOMEM;
  cohort__duplicate_vote_evidence__pack(&d, buf);
  evidence_t e;
  if ((rc = evidence_decode(&e, buf, n, eb))) {
    free(buf);
    return rc;
  }
  evidence_free(&e);
  *out = buf;
  *len = n;
  return COHORT_OK;
}
