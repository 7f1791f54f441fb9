/* state/state_apply.c — blocks built by someone else: check and execute a
 * proposal into an overlay (state_block_exec), commit whichever block the
 * network decided (state_block_commit), or both at once for a block that
 * comes with its commit (state_apply_block: replay, block sync).
 *
 * A proposal is executed before a validator prevotes for it; the executed
 * overlay is kept (the node keys it by block hash) so the decided block is
 * committed without executing it twice. Errors: COHORT_ERR_BAD_BLOCK or
 * _DECODE / _TOO_LARGE say the block is invalid (the peer that sent it is to
 * blame); a fatal-band code is this node's own failure and says nothing
 * about the block. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "proto/block.h"
#include "state/state_int.h"

struct state_block {
  uint8_t *bytes;
  size_t len;
  uint8_t hash[32];
  uint64_t height;
  state_exec *x;
  uint8_t (*tx_hashes)[32];
  uint8_t (*senders)[20];
  int *msg_cases;
  state_tx_result *res;
  size_t ntx;
  uint8_t parent[32]; /* the tip it was executed on */
};

void state_block_free(state_block *b) {
  if (!b) return;
  free(b->bytes);
  state_exec_free(b->x);
  free(b->tx_hashes);
  free(b->senders);
  free(b->msg_cases);
  free(b->res);
  free(b);
}

const uint8_t *state_block_hash(const state_block *b) { return b->hash; }
uint64_t state_block_height(const state_block *b) { return b->height; }
size_t state_block_ntx(const state_block *b) { return b->ntx; }
const uint8_t (*state_block_tx_hashes(const state_block *b))[32] {
  return (const uint8_t(*)[32])b->tx_hashes;
}
const uint8_t (*state_block_senders(const state_block *b))[20] {
  return (const uint8_t(*)[20])b->senders;
}
const int *state_block_msg_cases(const state_block *b) { return b->msg_cases; }
const state_tx_result *state_block_results(const state_block *b) { return b->res; }
const state_exec *state_block_exec_state(const state_block *b) { return b->x; }
const uint8_t *state_block_bytes(const state_block *b, size_t *len) {
  *len = b->len;
  return b->bytes;
}

static int bad(core_errbuf *eb, const char *what, uint64_t h) {
  return core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu %s", (unsigned long long)h, what);
}

int state_block_exec(state *st, const uint8_t *bytes, size_t blen, state_block **out,
                     core_errbuf *eb) {
  return state_block_exec_known(st, bytes, blen, NULL, NULL, out, eb);
}

int state_block_exec_known(state *st, const uint8_t *bytes, size_t blen,
                           int (*verified)(void *ctx, const uint8_t hash[32]), void *ctx,
                           state_block **out, core_errbuf *eb) {
  *out = NULL;
  const Cohort__Params *p = st->params;
  block_t d;
  int rc = block_decode(&d, bytes, blen, (size_t)p->max_block_bytes + 65536, p->max_block_txs, eb);
  if (rc) return rc;
  const Cohort__BlockHeader *h = d.hdr;
  state_block *b = calloc(1, sizeof *b);
  if (!b) {
    block_free(&d);
    return COHORT_ERR_NOMEM;
  }
  uint8_t vh[32], nvh[32];
  validators_hash(vh, st->vals);
  validators_hash(nvh, st->next_vals);
  size_t n = d.blk->n_txs;
  if (strcmp(h->chain_id, st->meta->chain_id)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block is for chain \"%.48s\", not \"%s\"",
                   h->chain_id, st->meta->chain_id);
  } else if (memcmp(h->prev_hash.data, st->meta->last_block_hash.data, 32)) {
    rc = bad(eb, "does not extend our tip", h->height);
  } else if (memcmp(h->app_hash.data, st->meta->app_hash.data, 32)) {
    rc = bad(eb, "carries an app_hash different from ours: state diverged", h->height);
  } else if (memcmp(h->validators_hash.data, vh, 32)) {
    rc = bad(eb, "has the wrong validators hash", h->height);
  } else if (memcmp(h->next_validators_hash.data, nvh, 32)) {
    rc = bad(eb, "has the wrong next validators hash", h->height);
  } else if (d.last_commit &&
             (rc = commit_verify(d.last_commit, st->meta->chain_id, h->height - 1,
                                 h->prev_hash.data, state_last_validators(st), eb))) {
    /* the parent's precommits carried in the block must be valid too, by
     * the set that signed the parent */
  } else if (!(b->bytes = malloc(blen)) || !(b->tx_hashes = malloc((n ? n : 1) * 32)) ||
             !(b->senders = malloc((n ? n : 1) * 20)) ||
             !(b->msg_cases = malloc((n ? n : 1) * sizeof *b->msg_cases)) ||
             !(b->res = malloc((n ? n : 1) * sizeof *b->res))) {
    rc = COHORT_ERR_NOMEM;
  } else if (!(rc = state_exec_begin(st, h->height, h->time_ms, h->proposer.data, &b->x, eb)) &&
             !(rc = state_exec_last_commit(b->x, d.last_commit, eb)) &&
             h->beacon_reveal.len == 32) {
    rc = state_exec_reveal(b->x, h->beacon_reveal.data,
                           h->beacon_new_tip.len == 32 ? h->beacon_new_tip.data : NULL, eb);
  }
  for (size_t i = 0; !rc && i < d.blk->n_evidence; i++) {
    core_errbuf xeb;
    rc = state_exec_evidence(b->x, d.blk->evidence[i].data, d.blk->evidence[i].len, &xeb);
    if (rc && core_err_is_fatal(rc)) /* our failure, not the block's */
      rc = core_errf(eb, rc, "cannot check block %llu evidence %zu on this node: %s",
                     (unsigned long long)h->height, i, xeb.msg);
    else if (rc)
      rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu evidence %zu is not valid: %s",
                     (unsigned long long)h->height, i, xeb.msg);
  }
  for (size_t i = 0; !rc && i < n; i++) {
    tx_t tx;
    core_errbuf teb;
    rc = tx_decode(&tx, d.blk->txs[i].data, d.blk->txs[i].len, p->max_tx_bytes, &teb);
    if (!rc) {
      /* a tx whose exact bytes (same hash) had their signature checked
       * already, in our mempool, needs no second check */
      rc = state_exec_tx(b->x, &tx, verified && verified(ctx, tx.hash), &b->res[i], &teb);
      memcpy(b->tx_hashes[i], tx.hash, 32);
      memcpy(b->senders[i], tx.sender, 20);
      b->msg_cases[i] = tx.body->msg_case;
      tx_free(&tx);
    }
    if (rc && core_err_is_fatal(rc)) /* our failure, not the block's */
      rc = core_errf(eb, rc, "cannot execute block %llu tx %zu on this node: %s",
                     (unsigned long long)h->height, i, teb.msg);
    else if (rc)
      rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu tx %zu is not includable: %s",
                     (unsigned long long)h->height, i, teb.msg);
  }
  if (!rc) {
    uint8_t root[32], app[32];
    block_tx_root(root, (const uint8_t(*)[32])b->tx_hashes, n);
    if (memcmp(root, h->tx_root.data, 32)) rc = bad(eb, "tx_root does not match its txs", h->height);
    else if ((rc = state_exec_finish(b->x, app)))
      rc = core_errf(eb, rc, "end-of-block work failed on this node: %s", core_err_str(rc));
  }
  if (!rc) {
    memcpy(b->bytes, bytes, blen);
    b->len = blen;
    memcpy(b->hash, d.hash, 32);
    memcpy(b->parent, st->meta->last_block_hash.data, 32);
    b->height = h->height;
    b->ntx = n;
    *out = b;
  } else {
    state_block_free(b);
  }
  block_free(&d);
  return rc;
}

int state_block_commit(state *st, state_block *b, const uint8_t *cbytes, size_t clen,
                       core_errbuf *eb) {
  if (b->height != st->meta->height + 1 || memcmp(b->parent, st->meta->last_block_hash.data, 32))
    return core_errf(eb, COHORT_ERR_INVALID, "block %llu was executed on another tip",
                     (unsigned long long)b->height);
  Cohort__Commit *c;
  int rc = commit_parse(&c, cbytes, clen, 1 << 20, eb);
  if (rc) return core_err_is_fatal(rc) ? rc : COHORT_ERR_BAD_BLOCK;
  rc = commit_verify(c, st->meta->chain_id, b->height, b->hash, st->vals, eb);
  cohort__commit__free_unpacked(c, NULL);
  if (rc) return rc;
  return state_commit(st, b->x, b->bytes, b->len, b->hash, cbytes, clen,
                      (const uint8_t(*)[32])b->tx_hashes, b->res, eb);
}

int state_apply_block(state *st, const uint8_t *bytes, size_t blen, const uint8_t *cbytes,
                      size_t clen, core_errbuf *eb) {
  /* The commit first: it is cheap, and a block without one is not worth
   * executing (a syncing node must not run whatever a peer sends). */
  const Cohort__Params *p = st->params;
  block_t d;
  int rc = block_decode(&d, bytes, blen, (size_t)p->max_block_bytes + 65536, p->max_block_txs, eb);
  if (rc) return rc;
  Cohort__Commit *c;
  rc = commit_parse(&c, cbytes, clen, 1 << 20, eb);
  if (rc) rc = core_err_is_fatal(rc) ? rc : COHORT_ERR_BAD_BLOCK;
  else rc = commit_verify(c, st->meta->chain_id, d.hdr->height, d.hash, st->vals, eb);
  if (c) cohort__commit__free_unpacked(c, NULL);
  block_free(&d);
  if (rc) return rc;
  state_block *b;
  rc = state_block_exec(st, bytes, blen, &b, eb);
  if (rc) return rc;
  rc = state_block_commit(st, b, cbytes, clen, eb);
  state_block_free(b);
  return rc;
}
