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
 *   "v/next" -> ValidatorSet V_{h+2}   "vh/" + u64be(h) -> V_h where it changed
 *   "vx/" + pubkey -> Tombstone (a double sign punished)
 *   staking and distribution: "vl/" "vk/" "vp/" "dl/" "dv/" "uq/" "uv/" "ud/"
 *   "rq/" "rv/" "rd/" "s/fees" "s/rewards" "s/community" (docs/staking.md §1,
 *   state/staking/staking.h)
 *   governance: "gn/", "gp/", "gd/", "gv/", "gq/", "ps/", "s/gov"
 *   (state/gov/gov.h)
 *
 * Validator sets (docs/protocol.md 4b): after block h the state holds V_h
 * (signed block h), V_{h+1} (signs the next block: "v/set", with the beacon
 * fields) and V_{h+2} ("v/next"). Block H sets V_{H+2}: the top
 * params.max_validators of the power index "vp/" at its end.
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
/* V_{h+1} (h = state_height): the set that signs the next block; its
 * hash is the next header's validators_hash. */
const Cohort__ValidatorSet *state_validators(const state *st);
/* V_{h+2}: the next header's next_validators_hash. */
const Cohort__ValidatorSet *state_next_validators(const state *st);
/* V_h: the set that signed block h (verify its stored commit, and the next
 * block's last_commit, with it); V_1 at height 0. */
const Cohort__ValidatorSet *state_last_validators(const state *st);
const Cohort__Params *state_params(const state *st);

/* The set that signs `height`, for 1 <= height <= state_height + 2, from the
 * set history (a "vh/" record per change). *out is a new unpacked set
 * (cohort__validator_set__free_unpacked) with pubkey, operator, power and
 * moniker. Returns 0, COHORT_ERR_NOT_FOUND (height out of that range), or a
 * fatal-band code (store, memory, corrupt history); *out is NULL on error. */
int state_validators_at(state *st, uint64_t height, Cohort__ValidatorSet **out);

/* The same from the committed store alone, for a reader on another thread
 * (the RPC): the caller bounds height (1 <= height <= its view's height
 * + 2); beyond the history's last change it returns the last set. */
int state_read_validators_at(state *st, uint64_t height, Cohort__ValidatorSet **out);

/* Visit the set history in height order, up to max_height: cb(ctx, h, V_h)
 * for h = 1 and every h <= max_height where V_h differs from V_{h-1}. The
 * set is borrowed for the call. cb returns 0 to go on, non-zero to stop
 * (returned). Errors: fatal-band codes. */
int state_validator_history(state *st, uint64_t max_height,
                            int (*cb)(void *ctx, uint64_t height, const Cohort__ValidatorSet *vs),
                            void *ctx);

/* ---- staking and distribution (docs/staking.md), committed reads ----
 * state_get_validator_info: op's ValidatorInfo; *out: free with
 * cohort__validator_info__free_unpacked. state_validator_by_pubkey: the
 * operator of a consensus key. state_get_delegation: del's delegation to
 * op (free with cohort__delegation__free_unpacked). Each returns 0,
 * COHORT_ERR_NOT_FOUND or a fatal code (*out NULL on error).
 * state_delegation_value: what `shares` of v are worth now, in STK base
 * units. state_pending_reward: the CRD reward delegation d could withdraw
 * from v now (COHORT_ERR_CORRUPT for a malformed record). Both pure. */
int state_get_validator_info(state *st, const uint8_t op[20], Cohort__ValidatorInfo **out);
int state_validator_by_pubkey(state *st, const uint8_t pubkey[32], uint8_t op[20]);
int state_get_delegation(state *st, const uint8_t del[20], const uint8_t op[20],
                         Cohort__Delegation **out);
uint64_t state_delegation_value(const Cohort__ValidatorInfo *v, uint64_t shares);
int state_pending_reward(const Cohort__ValidatorInfo *v, const Cohort__Delegation *d,
                         uint64_t *out);

/* Delegations to executors (docs/staking.md §8), committed, as the above:
 * state_get_exec_delegation: del's delegation to executor ex ("xd/");
 * state_exec_delegation_value: what `shares` of e's delegators' side are
 * worth; state_exec_pending_reward: what d could withdraw from e now. */
int state_get_exec_delegation(state *st, const uint8_t del[20], const uint8_t ex[20],
                              Cohort__Delegation **out);
/* state_get_exec_waiting: del's delegation to ex still waiting to take
 * effect ("xw/", docs/staking.md §8): its amount and the height it waits
 * from; COHORT_ERR_NOT_FOUND if none. */
int state_get_exec_waiting(state *st, const uint8_t del[20], const uint8_t ex[20],
                           uint64_t *amount, uint64_t *height);
uint64_t state_exec_delegation_value(const Cohort__Executor *e, uint64_t shares);
/* e's draw weight under params p: own stake + counted delegations (pure). */
uint64_t state_exec_draw_weight(const Cohort__Executor *e, const Cohort__Params *p);
int state_exec_pending_reward(const Cohort__Executor *e, const Cohort__Delegation *d,
                              uint64_t *out);

/* The pools and bonded totals of the supply rule (committed): CRD in
 * s/fees (0 between blocks), s/rewards, s/community; STK in s/gov, in
 * validators' tokens (bonded) and in delegation unbondings. Reads every
 * "vl/" and "uq/" record. */
typedef struct {
  uint64_t fees, rewards, community, gov, bonded, unbonding;
} state_pools;
int state_get_pools(state *st, state_pools *p);

/* The supply rule and the staking invariants, checked over the committed
 * store by reading every record (docs/staking.md §1 "Supply rule"): CRD
 * balances + s/escrow + s/fees + s/rewards + s/community = CRD supply; STK
 * balances + executor stakes and unbonding + STK delegated to executors
 * (bonded and unbonding) + task bonds + validator tokens
 * + delegation unbondings + s/gov = STK supply; each validator's shares =
 * the sum of its delegations' shares; s/rewards >= everything withdrawable
 * (pending rewards + commission owed); the power index holds exactly the
 * bonded validators (not jailed, tokens > 0) at their tokens; every index
 * key ("dv/", "uv/", "ud/", "rv/", "rd/", "vk/") has its record and back.
 * For tests and tools: it reads the whole state. Returns 0, or
 * COHORT_ERR_CORRUPT with eb naming the first rule broken (or a fatal
 * code). r (may be NULL) receives the totals. */
typedef struct {
  uint64_t crd_supply, stk_supply;
  unsigned __int128 crd_counted, stk_counted;
  uint64_t fees, rewards, community, gov;
  uint64_t bonded;             /* sum of validator tokens */
  uint64_t unbonding;          /* sum of UnbondingDelegation.amount */
  uint64_t withdrawable;       /* pending rewards + commission owed */
  size_t validators, delegations;
} state_audit_report;
int state_audit(state *st, state_audit_report *r, core_errbuf *eb);

/* The tombstone of a validator punished for a double sign (committed).
 * *out: free with cohort__tombstone__free_unpacked. COHORT_ERR_NOT_FOUND if
 * it was never punished. */
int state_get_tombstone(state *st, const uint8_t pubkey[32], Cohort__Tombstone **out);

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
/* One committed record by its key (malloc'd, caller frees), for readers
 * that follow a documented key layout; COHORT_ERR_NOT_FOUND if absent. */
int state_get_raw(state *st, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl);
int state_scan_n(state *st, const uint8_t *prefix, size_t plen, kv_visit_fn cb, void *ctx);

/* 1 if the state has work scheduled at future heights (task windows,
 * unbonding releases, governance deadlines), so the node should keep
 * making blocks. */
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
 * proposed by the validator with ed25519 key `proposer` (it must be in
 * V_height; fees go to the fee pool, docs/staking.md §4). Errors:
 * COHORT_ERR_BAD_BLOCK (wrong height, time not after the parent's, unknown
 * proposer), COHORT_ERR_NOMEM. */
int state_exec_begin(state *st, uint64_t height, uint64_t time_ms,
                     const uint8_t proposer[32], state_exec **out,
                     core_errbuf *eb);

/* Who signed the parent: c is the block's last_commit (decoded; NULL at
 * height 1), already verified against V_{h-1} — state_block_exec checks
 * it, a proposer passes the commit it stored. Its signers count for
 * downtime and the fee distribution at the end of the block
 * (docs/staking.md §3, §4). Call after state_exec_begin, at most once,
 * before state_exec_finish. Without it every validator of V_{h-1} counts as
 * signing (for tests that build blocks by hand; a real block always has
 * it). Errors: COHORT_ERR_INVALID (called twice, a commit of another
 * height, a signer outside V_{h-1}, NULL above height 1), COHORT_ERR_NOMEM. */
int state_exec_last_commit(state_exec *x, const Cohort__Commit *c, core_errbuf *eb);

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

/* Apply one evidence item (serialized DuplicateVoteEvidence, docs/protocol.md
 * 4b) to the block: check it (well formed, valid against the state and the
 * items applied before it in this block, within params.max_block_evidence),
 * then punish (docs/staking.md §3): slash the offender and the stake that
 * left it since the offence, burn it, jail and tombstone it (it leaves the
 * power index, so the set of height+2 has it no more unless it is the last
 * validator). Call after state_exec_reveal (if
 * any) and before any tx. Returns 0 (applied), or a non-fatal code saying
 * why the item is not includable — COHORT_ERR_DECODE / _TOO_LARGE (not well
 * formed, or the block already carries params.max_block_evidence items),
 * _INVALID (too old, not a validator at its height),
 * _SIGNATURE, _DUPLICATE (already punished) — with nothing changed, or a
 * fatal-band code (this node's failure: abandon the block). A block whose
 * item is refused is invalid (state_block_exec says COHORT_ERR_BAD_BLOCK). */
int state_exec_evidence(state_exec *x, const uint8_t *bytes, size_t len, core_errbuf *eb);

/* For a proposer: apply, in order, every candidate item that is includable
 * now (state_exec_evidence), skipping the others, while the block has room
 * (params.max_block_evidence items, max_bytes bytes of evidence). picked
 * (room for n indices) receives the indices of the applied candidates, in
 * order, *npicked their count: exactly those go into Block.evidence, in that
 * order. Returns 0, or a fatal-band code (abandon the proposal). Candidates
 * are borrowed. Call where state_exec_evidence may be called. */
int state_build_add_evidence(state_exec *x, const ProtobufCBinaryData *cand, size_t n,
                             size_t max_bytes, size_t *picked, size_t *npicked,
                             core_errbuf *eb);

/* For an evidence pool: would this item be includable in the next block
 * (height state_height + 1), by itself, against the committed state? The
 * same rules as state_exec_evidence, nothing written. Returns 0, a
 * non-fatal code saying why not (drop the item; COHORT_ERR_DUPLICATE: its
 * offender is punished already), or a fatal-band code (this node's failure;
 * says nothing about the item: keep it). */
int state_check_evidence(state *st, const uint8_t *bytes, size_t len, core_errbuf *eb);

/* The same, except that votes of the height being decided (state_height +
 * 1), which only a later block may carry, are judged as if that height were
 * committed (the set that signs it, the signatures, no tombstone): what a
 * pool checks when a double sign is seen, before its height commits. */
int state_check_evidence_early(state *st, const uint8_t *bytes, size_t len, core_errbuf *eb);

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

/* 1 if this block set a new V_{h+2} ("v/next" written: the set changes at
 * height h + 2). */
int state_exec_changed_validators(const state_exec *x);

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

/* ---- governance (docs/staking.md §5; records in state/gov/gov.h) ---- */

/* A tally: the STK weight behind each option and the tokens bonded to the
 * set it was taken over (yes/no/abstain/veto <= bonded). */
typedef struct {
  uint64_t yes, no, abstain, veto;
  uint64_t bonded;
  uint64_t votes; /* "gv/" records counted */
} state_tally;

/* A proposal (committed). *out: free with cohort__gov_proposal__free_unpacked;
 * COHORT_ERR_NOT_FOUND if there is none. */
int state_get_proposal(state *st, uint64_t id, Cohort__GovProposal **out);
/* The ID the next proposal will get (1 on a chain without any). */
int state_gov_next_id(state *st, uint64_t *id);
/* The running tally of a proposal from the committed store, as if it were
 * taken now over `set` (the caller's V_{h+1}: state_read_validators_at):
 * nothing is written, nothing of the state's cache is touched (safe on
 * another thread than the node's). *status: the outcome under p.
 * Errors: fatal-band codes. */
int state_gov_tally(state *st, uint64_t id, const Cohort__ValidatorSet *set,
                    const Cohort__Params *p, state_tally *t, uint32_t *status);
/* The first height executed with parameter `name`'s current value (0: its
 * genesis value). COHORT_ERR_NOT_FOUND if no such parameter. */
int state_param_since(state *st, const char *name, uint64_t *height);
/* The largest value parameter `name` has had in force up to the committed
 * tip ("pm/" + name; never changed: its value now). What a node accepts of
 * stored blocks — made under an earlier, larger max_block_bytes — is sized
 * by it (docs/p2p.md §9a). COHORT_ERR_NOT_FOUND if no such parameter; store
 * errors as they are. Reads the committed store and the params cache: not
 * from another thread than the node's. */
int state_param_max(state *st, const char *name, uint64_t *value);
/* Visit the votes of proposal `id` in voter order: cb(ctx, voter, option,
 * height); non-zero from cb stops (returned). Votes are deleted at the
 * tally: a tallied proposal has none. */
int state_gov_votes(state *st, uint64_t id,
                    int (*cb)(void *ctx, const uint8_t voter[20], uint32_t option, uint64_t height),
                    void *ctx);
/* A depositor's deposit on a proposal (0 if none), and every deposit in
 * depositor order (cb as for votes). Deposits are deleted once refunded or
 * burned. */
int state_gov_deposit(state *st, uint64_t id, const uint8_t who[20], uint64_t *stk);
int state_gov_deposits(state *st, uint64_t id,
                       int (*cb)(void *ctx, const uint8_t who[20], uint64_t stk), void *ctx);
/* Call cb(ctx, id) for every proposal this block wrote, in ID order. */
void state_exec_changed_proposals(const state_exec *x, void (*cb)(void *ctx, uint64_t id),
                                  void *ctx);

/* The market's wire rules (IDs, claims, commitments, gas) are in
 * proto/market.h, so clients need no state/. */
int state_get_job(state *st, const uint8_t job_id[32], Cohort__Job **out);

/* A block someone else built, checked and executed but not committed: what
 * a validator does with a proposal before it prevotes, and keeps (keyed by
 * block hash) to commit whichever block the network decides.
 * state_block_exec decodes the block (limits from params), checks the header
 * against the state (chain ID, height, parent hash, app_hash = ours,
 * validators hash = V_h, next validators hash = V_{h+1}, the parent's commit
 * it carries against V_{h-1}, time after the parent, proposer in the set,
 * beacon reveal), applies its evidence (each item must be valid), executes
 * every tx (each must be includable) and the end of block, and checks the
 * tx root. Nothing is
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
 * validators and next validators hashes, tx root, time after parent,
 * proposer in the set, its evidence), verify
 * `commit` finalizes it under the current validator set, execute every tx
 * (each must be includable, else the block is invalid) and commit it all in
 * one synced batch. On any error nothing is written. COHORT_ERR_BAD_BLOCK
 * means the block is invalid; a fatal-band code (core_err_is_fatal) means
 * this node failed and says nothing about the block. */
int state_apply_block(state *st, const uint8_t *block, size_t blen,
                      const uint8_t *commit, size_t clen, core_errbuf *eb);
#endif
