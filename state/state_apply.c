/* state/state_apply.c — apply a block received from elsewhere: validate the
 * header and commit against the state, execute, persist. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "proto/block.h"
#include "state/state_int.h"

int state_apply_block(state *st, const uint8_t *bytes, size_t blen,
                      const uint8_t *cbytes, size_t clen, core_errbuf *eb) {
  const Cohort__Params *p = st->params;
  block_t b;
  int rc = block_decode(&b, bytes, blen, (size_t)p->max_block_bytes + 65536, p->max_block_txs, eb);
  if (rc) return rc;
  Cohort__Commit *c = NULL;
  state_exec *x = NULL;
  uint8_t(*hashes)[32] = NULL;
  state_tx_result *res = NULL;
  const Cohort__BlockHeader *h = b.hdr;
  uint8_t vh[32];
  validators_hash(vh, st->vals);
  if (strcmp(h->chain_id, st->meta->chain_id)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block is for chain \"%s\", not \"%s\"",
                   h->chain_id, st->meta->chain_id);
    goto out;
  }
  if (memcmp(h->prev_hash.data, st->meta->last_block_hash.data, 32)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu does not extend our tip",
                   (unsigned long long)h->height);
    goto out;
  }
  if (memcmp(h->app_hash.data, st->meta->app_hash.data, 32)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK,
                   "block %llu carries an app_hash different from ours: state diverged",
                   (unsigned long long)h->height);
    goto out;
  }
  if (memcmp(h->validators_hash.data, vh, 32)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu has the wrong validators hash",
                   (unsigned long long)h->height);
    goto out;
  }
  /* The parent's precommits carried in this block must be valid too (the
   * set is unchanged between heights until staking lands). */
  if (b.last_commit &&
      (rc = commit_verify(b.last_commit, st->meta->chain_id, h->height - 1, h->prev_hash.data,
                          st->vals, eb)))
    goto out;
  if (!(c = commit_decode(cbytes, clen, 1 << 20, eb))) {
    rc = COHORT_ERR_BAD_BLOCK;
    goto out;
  }
  if ((rc = commit_verify(c, st->meta->chain_id, h->height, b.hash, st->vals, eb))) goto out;
  if ((rc = state_exec_begin(st, h->height, h->time_ms, h->proposer.data, &x, eb))) goto out;
  if (h->beacon_reveal.len == 32 &&
      (rc = state_exec_reveal(x, h->beacon_reveal.data,
                              h->beacon_new_tip.len == 32 ? h->beacon_new_tip.data : NULL, eb)))
    goto out;
  size_t n = b.blk->n_txs;
  hashes = malloc((n ? n : 1) * sizeof *hashes);
  res = malloc((n ? n : 1) * sizeof *res);
  if (!hashes || !res) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    tx_t tx;
    core_errbuf teb;
    rc = tx_decode(&tx, b.blk->txs[i].data, b.blk->txs[i].len, p->max_tx_bytes, &teb);
    if (!rc) {
      rc = state_exec_tx(x, &tx, 0, &res[i], &teb);
      memcpy(hashes[i], tx.hash, 32);
      tx_free(&tx);
    }
    if (rc && core_err_is_fatal(rc)) { /* our failure, not the block's */
      rc = core_errf(eb, rc, "cannot execute block %llu tx %zu on this node: %s",
                     (unsigned long long)h->height, i, teb.msg);
      goto out;
    }
    if (rc) {
      rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu tx %zu is not includable: %s",
                     (unsigned long long)h->height, i, teb.msg);
      goto out;
    }
  }
  uint8_t root[32];
  block_tx_root(root, (const uint8_t(*)[32])hashes, n);
  if (memcmp(root, h->tx_root.data, 32)) {
    rc = core_errf(eb, COHORT_ERR_BAD_BLOCK, "block %llu tx_root does not match its txs",
                   (unsigned long long)h->height);
    goto out;
  }
  rc = state_commit(st, x, bytes, blen, b.hash, cbytes, clen, (const uint8_t(*)[32])hashes, res,
                    eb);
out:
  free(hashes);
  free(res);
  state_exec_free(x);
  if (c) cohort__commit__free_unpacked(c, NULL);
  block_free(&b);
  return rc;
}
