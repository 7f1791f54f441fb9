/* state/state.h — the chain's state and its one transition function.
 *
 * A `state` sits on a kv_store (borrowed) and caches the chain metadata.
 * Executing a block is pure: state_exec_* reads the committed store through
 * an overlay (the write set) and never writes; the same block on the same
 * state yields the same write set and app_hash on every machine — no clocks
 * (the header time is an argument), no floats, ordered iteration only,
 * checked arithmetic. state_commit then lands the block, its commit, the tx
 * index, the write set and the metadata in ONE synced LevelDB batch.
 *
 * app_hash (v1, a running hash; docs/protocol.md):
 *   app_hash_h = sha256("cohort/app/v1" || app_hash_{h-1} || u64be(h) ||
 *                for each (key, value) written at h, in key order:
 *                u32be(len key) || key || u8(1 put | 0 delete) ||
 *                u32be(len value) || value)
 *   app_hash_0 covers the genesis writes with app_hash_{-1} = 32 zero bytes.
 * Header h carries app_hash_{h-1} (the state its txs execute on).
 *
 * Key layout: state records (in app_hash) use lowercase prefixes
 *   "a/" + id20 -> Account   "v/set" -> ValidatorSet   "p/params" -> Params
 *   "s/supply" -> Account (total CRD and STK incl. bonded; nonce unused)
 * chain records (not in app_hash) use uppercase prefixes
 *   "B/" + u64be(h) -> Block  "C/" + u64be(h) -> Commit for h
 *   "H/" + hash32 -> u64be(h) "T/" + txhash32 -> TxResult   "M/meta" -> ChainMeta
 */
#ifndef COHORT_STATE_H
#define COHORT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "genesis/genesis.h"
#include "proto/cohort.pb-c.h"
#include "proto/tx.h"
#include "state/kv.h"

typedef struct state state;
typedef struct state_exec state_exec;

/* Open over kv (borrowed; must outlive the state). Loads metadata if the
 * store has been initialised. Errors: COHORT_ERR_CORRUPT, _STORE, _NOMEM. */
int state_open(state **out, kv_store *kv, core_errbuf *eb);
void state_close(state *st);

/* 1 once genesis has been written. */
int state_is_initialized(const state *st);

/* Write the genesis state (height 0) in one synced batch. If the store is
 * already initialised, checks that it was from the same genesis (by hash)
 * and returns 0, or COHORT_ERR_GENESIS if not. */
int state_init_genesis(state *st, const genesis *g, core_errbuf *eb);

/* Cached metadata; pointers are valid until the next state_commit. */
const char *state_chain_id(const state *st);
uint64_t state_height(const state *st);
const uint8_t *state_app_hash(const state *st);
const uint8_t *state_last_block_hash(const state *st);
const uint8_t *state_genesis_hash(const state *st);
uint64_t state_last_time_ms(const state *st);
const Cohort__ValidatorSet *state_validators(const state *st);
const Cohort__Params *state_params(const state *st);

/* Committed reads. Account: missing accounts read as all zeros (returns 0).
 * Supply: the totals of each token. */
int state_get_account(state *st, const uint8_t id[20], uint64_t *crd,
                      uint64_t *stk, uint64_t *nonce);
int state_get_supply(state *st, uint64_t *crd, uint64_t *stk);
/* Decode a stored Account record (value under "a/" + id). */
int state_decode_account_pub(const uint8_t *v, size_t vl, uint64_t *crd,
                             uint64_t *stk, uint64_t *nonce);
/* Raw stored bytes (malloc'd, caller frees). COHORT_ERR_NOT_FOUND if absent. */
int state_get_block(state *st, uint64_t height, uint8_t **b, size_t *len);
int state_get_commit(state *st, uint64_t height, uint8_t **b, size_t *len);
int state_height_by_hash(state *st, const uint8_t hash[32], uint64_t *height);
/* *res is a new unpacked TxResult (free with cohort__tx_result__free_unpacked). */
int state_get_tx_result(state *st, const uint8_t txhash[32],
                        Cohort__TxResult **res);

/* Compute market records (committed). *out is a new unpacked message, free
 * with the matching cohort__*__free_unpacked; COHORT_ERR_NOT_FOUND if absent. */
int state_get_executor(state *st, const uint8_t id[20], Cohort__Executor **out);
int state_get_blob(state *st, const uint8_t hash[32], Cohort__Blob **out);
int state_get_task(state *st, const uint8_t task_id[32], Cohort__Task **out);
/* Output bytes of a task with the given output hash (malloc'd). */
int state_get_output(state *st, const uint8_t task_id[32], const uint8_t output_hash[32],
                     uint8_t **out, size_t *len);
/* Inline input of a task (malloc'd); COHORT_ERR_NOT_FOUND if it used a blob. */
int state_get_task_input(state *st, const uint8_t task_id[32], uint8_t **out, size_t *len);
int state_get_escrow(state *st, uint64_t *crd);
/* Read-only ordered scan of committed keys with a prefix (for RPC listings;
 * the key layout is at the top of this header and in state_market.c). */
int state_scan(state *st, const char *prefix, kv_visit_fn cb, void *ctx);
int state_scan_n(state *st, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx);

/* 1 if the state has work scheduled at future heights (task windows,
 * unbonding releases), so the node should keep making blocks. */
int state_has_scheduled_work(state *st);

/* The current committee-draw beacon (32 zero bytes before block 1). */
int state_get_beacon(state *st, uint8_t out[32]);

/* Result of one transaction in a block. */
typedef struct {
  int code;        /* 0 ok, else the COHORT_ERR_* why the message failed */
  char log[256];   /* human reason when code != 0 */
  uint64_t fee;
  uint64_t gas;    /* cost units (proto/market.h) */
} state_tx_result;

/* Begin executing block `height` (= state_height+1) at header time time_ms,
 * proposed by the validator with ed25519 key `proposer` (fees go to its
 * operator account). Errors: COHORT_ERR_BAD_BLOCK (wrong height, time not
 * after the parent's, unknown proposer), COHORT_ERR_NOMEM. */
int state_exec_begin(state *st, uint64_t height, uint64_t time_ms,
                     const uint8_t proposer[32], state_exec **out,
                     core_errbuf *eb);

/* Apply the proposer's beacon reveal (header.beacon_reveal, 32 bytes): it
 * must hash to the proposer's current beacon commitment, which it then
 * replaces — by new_tip (header.beacon_new_tip, or NULL) when the proposer
 * re-commits to a new hash chain; the draw beacon becomes
 * sha256("cohort/beacon/v2" || beacon || reveal). A block without a reveal
 * leaves the beacon as it is (the proposer withheld). Call right after
 * state_exec_begin, before any tx. Errors: COHORT_ERR_BAD_BLOCK (wrong
 * preimage), COHORT_ERR_INVALID (called twice or late). */
int state_exec_reveal(state_exec *x, const uint8_t reveal[32], const uint8_t *new_tip,
                      core_errbuf *eb);

/* The commitment this validator's reveal in the next block must hash to
 * (its pending re-commitment once due, else its current tip), and whether a
 * re-commitment is announced and not yet due (then a header must not
 * announce another). COHORT_ERR_NOT_FOUND if it is not in the set or has no
 * commitment. */
int state_beacon_expected(state *st, const uint8_t pubkey[32], uint8_t out[32], int *pending);

/* Execute one decoded tx. `sig_checked` = 1 skips signature verification
 * (only when the caller has verified this exact tx for this chain).
 * Returns 0 if the tx belongs in the block: its nonce and fee are consumed
 * and res says whether its message succeeded (a failed message changes
 * nothing else) and its gas. Returns < 0 if the tx is not includable (bad
 * signature, wrong nonce, fee below the base gas due or not payable, tx
 * over max size; COHORT_ERR_TOO_LARGE "block is full" when it would pass a
 * block cap: try it in a later block): the overlay is unchanged and eb says
 * why. A code in the fatal band (core_err_is_fatal) is this node's own
 * failure: abandon the block, never skip the tx and go on. */
int state_exec_tx(state_exec *x, const tx_t *tx, int sig_checked,
                  state_tx_result *res, core_errbuf *eb);

/* Number of txs executed so far. */
size_t state_exec_count(const state_exec *x);

/* Overlay reads (see uncommitted effects), for the mempool and tests. */
int state_exec_get_account(state_exec *x, const uint8_t id[20], uint64_t *crd,
                           uint64_t *stk, uint64_t *nonce);

/* Call cb(ctx, task_id) for every task this block wrote, in ID order. */
void state_exec_changed_tasks(const state_exec *x, void (*cb)(void *ctx, const uint8_t id[32]),
                              void *ctx);

/* Compute the app_hash after this block's writes. May be called once. */
int state_exec_finish(state_exec *x, uint8_t app_hash[32]);

/* Persist block (raw bytes and hash), its commit (raw Commit bytes), tx
 * results and the finished overlay in one synced batch; then update the
 * cached metadata. tx_hashes[i] is the hash of the i-th executed tx.
 * On failure nothing is written and the state is unchanged. */
int state_commit(state *st, state_exec *x, const uint8_t *block, size_t blen,
                 const uint8_t block_hash[32], const uint8_t *commit,
                 size_t clen, const uint8_t (*tx_hashes)[32],
                 const state_tx_result *results, core_errbuf *eb);

void state_exec_free(state_exec *x);

/* A tx's full gas against the committed state, without running anything:
 * the base gas plus the VM part from the sizes of the blobs it names (a
 * blob that does not exist counts 0; the message then fails anyway). What
 * the mempool checks the fee against before any expensive dry run. */
int state_tx_gas(state *st, const tx_t *tx, uint64_t *gas);

/* Dry-run a tx's message against the committed state (the mempool's entry
 * check; signature and nonce are the caller's business). Nothing is
 * written. res->code != 0 says why the message would fail now (including a
 * fee short of the full gas); res->gas is its gas. Returns 0 or an internal
 * (fatal) error. */
int state_check_msg(state *st, const tx_t *tx, state_tx_result *res);

/* The market's wire rules (IDs, claims, commitments, gas) are in
 * proto/market.h, so clients need no state/. */
int state_get_job(state *st, const uint8_t job_id[32], Cohort__Job **out);

/* A block someone else built, checked and executed but not committed: what
 * a validator does with a proposal before it prevotes, and keeps (keyed by
 * block hash) to commit whichever block the network decides.
 * state_block_exec decodes the block (limits from params), checks the header
 * against the state (chain ID, height, parent hash, app_hash = ours,
 * validators hash, the parent's commit it carries, time after the parent,
 * proposer in the set, beacon reveal), executes every tx (each must be
 * includable) and the end of block, and checks the tx root. Nothing is
 * written. Errors: COHORT_ERR_BAD_BLOCK / _DECODE / _TOO_LARGE (the block is
 * invalid), or a fatal-band code (this node failed; nothing said about the
 * block). *out is NULL on error. The result borrows st: free it before
 * st changes height unless it is committed. */
typedef struct state_block state_block;
int state_block_exec(state *st, const uint8_t *bytes, size_t blen, state_block **out,
                     core_errbuf *eb);
/* The same, skipping the signature check of every tx for which
 * verified(ctx, tx_hash) returns 1: the caller checked those exact bytes
 * before (the mempool does at entry). */
int state_block_exec_known(state *st, const uint8_t *bytes, size_t blen,
                           int (*verified)(void *ctx, const uint8_t hash[32]), void *ctx,
                           state_block **out, core_errbuf *eb);
/* Commit an executed block with the Commit (raw bytes) that finalizes it:
 * the commit is verified against the current set; then one synced batch.
 * COHORT_ERR_INVALID if the block was executed on another tip. The block
 * stays owned by the caller (free it after). */
int state_block_commit(state *st, state_block *b, const uint8_t *commit, size_t clen,
                       core_errbuf *eb);
void state_block_free(state_block *b);
const uint8_t *state_block_hash(const state_block *b);
uint64_t state_block_height(const state_block *b);
const uint8_t *state_block_bytes(const state_block *b, size_t *len);
size_t state_block_ntx(const state_block *b);
const uint8_t (*state_block_tx_hashes(const state_block *b))[32];
const uint8_t (*state_block_senders(const state_block *b))[20];
const int *state_block_msg_cases(const state_block *b); /* TxBody msg_case of each tx */
const state_tx_result *state_block_results(const state_block *b);
const state_exec *state_block_exec_state(const state_block *b); /* for changed tasks */

/* The whole transition for a block received from elsewhere (replay, block
 * sync): decode block (limits from params), check the header against the
 * state (chain ID, height, parent hash, app_hash = our current app_hash,
 * validators hash, tx root, time after parent, proposer in the set), verify
 * `commit` finalizes it under the current validator set, execute every tx
 * (each must be includable, else the block is invalid) and commit it all in
 * one synced batch. On any error nothing is written. COHORT_ERR_BAD_BLOCK
 * means the block is invalid; a fatal-band code (core_err_is_fatal) means
 * this node failed and says nothing about the block. */
int state_apply_block(state *st, const uint8_t *block, size_t blen,
                      const uint8_t *commit, size_t clen, core_errbuf *eb);
#endif
