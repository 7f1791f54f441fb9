/* state/staking/staking.h — validators, delegations, punishment and the
 * validator set (docs/staking.md §1-3, §6). Public to state/: the tx
 * dispatch, the evidence path, distribution (state/distr/) and governance
 * (state/gov/) call these; nothing outside state/ includes it.
 *
 * ---- A validator (a "vl/" record, kept for ever) ----
 *
 *                 CreateValidator / genesis
 *                           |
 *                           v
 *     +------------> BONDED (in "vp/") <-----------------+
 *     |   Unjail      |   ^  end of block: ranks in the  |
 *     |   (h >=       |   |  top max_validators -> in    |
 *     |   jailed_until,|  |  P = V_{h+2}, else out       |
 *     |   self-bond   |   |  (stays bonded, slashable)   |
 *     |   >= min)     |   +--------------------------    |
 *     |               |                                  |
 *     |   downtime    |  self-bond < min_self_bond       |  Delegate to a
 *     |   (slash) ----+---(Undelegate, Redelegate,       |  validator with
 *     |               |    a redelegation slash)         |  tokens 0
 *     |               v                                  |
 *     +------------ JAILED (jailed_until != 0)      EMPTY (tokens 0, not jailed)
 *                     |
 *          double sign|(evidence; also from BONDED or EMPTY)
 *                     v
 *                 TOMBSTONED (tombstoned, jailed_until = 2^64-1; "vx/" + key)
 *
 * What each state guarantees:
 *   BONDED      jailed_until = 0, !tombstoned, tokens > 0, and exactly then
 *               its "vp/" key exists (the power index; sk_validator_save
 *               keeps the two in step). Only BONDED validators enter P.
 *   EMPTY       jailed_until = 0, tokens = 0: no "vp/" key, no power.
 *   JAILED      no "vp/" key; still in V_{h+1} and V_{h+2} if it was (sets
 *               move at H+2); its delegations stay bonded and slashable.
 *   TOMBSTONED  like JAILED, for ever; takes no new delegations; "vx/" +
 *               pubkey holds the Tombstone (rule 8 of protocol.md 4b).
 * A commission change is announced by EditValidator (commission_next_*,
 * "cq/" + due height) and put in force by sk_end_commission at the end of
 * block commission_next_at, after that block's distribution.
 * Transitions: sk_exec_create_validator (create), sk_jail (-> JAILED),
 * sk_exec_unjail (-> BONDED), sk_punish_double_sign (-> TOMBSTONED),
 * sk_slash (tokens only), sk_end_block (in/out of P).
 *
 * ---- A delegation ("dl/" + del + op, "dv/" + op + del) ----
 *   absent --Delegate--> ACTIVE (shares > 0) --Undelegate/Redelegate all-->
 *   absent. Every change of its shares first settles its reward
 *   (distr_settle); a slash of the validator changes tokens, not shares,
 *   and needs no event. A slash of a redelegation into it takes shares
 *   (settled first). Shares it gained in block h earn nothing of h's fees:
 *   sk_delegation_save notes its shares before h in "df/", and the end of
 *   h (distr_end_block) leaves them out and settles it.
 *
 * ---- An unbonding entry ("uq/", "uv/", "ud/") ----
 *   Undelegate --> PENDING (slashable for offences of its validator at
 *   heights <= UnbondingDelegation.height + 1, the stake of V_e being
 *   fixed at the end of e-2: sk_slash lowers `amount`) --end of block
 *   `release`--> paid to the delegator, deleted. A redelegation entry
 *   ("rq/", "rv/", "rd/") is PENDING the same way (it makes the
 *   delegation at dst slashable for src's offences) and is deleted at
 *   release. An entry holds the stake of one block only (its `height`):
 *   an undelegation whose release slot holds an entry of an earlier block
 *   (possible once governance lowered unbonding_blocks) takes the next
 *   free slot, so no stake is slashed for an offence after it left nor
 *   escapes one it backed (docs/staking.md §2).
 *
 * Arithmetic: amounts u64, every product of two amounts exact in 128 bits,
 * divisions round down unless said; an overflow of a total is
 * COHORT_ERR_CORRUPT (it cannot happen in a state that keeps the supply
 * rule). Errors of the node (fatal band) are returned as they are; a
 * message that breaks a rule is a result (res->code, res->log) and the
 * caller rolls its writes back.
 */
#ifndef COHORT_STATE_STAKING_H
#define COHORT_STATE_STAKING_H

#include <stdint.h>

#include "state/state_int.h"

/* ---- key layout (docs/staking.md §1; all in app_hash) ---- */
#define SK_VAL "vl/"    /* + op(20) -> ValidatorInfo */
#define SK_KEY "vk/"    /* + pubkey(32) -> op(20) */
#define SK_POW "vp/"    /* + u64be(2^64-1 - tokens) + op(20) -> empty */
#define SK_DEL "dl/"    /* + del(20) + op(20) -> Delegation */
#define SK_DELV "dv/"   /* + op(20) + del(20) -> empty */
#define SK_UBQ "uq/"    /* + u64be(release) + u8(2) + op(20) + del(20) -> UnbondingDelegation */
#define SK_UBV "uv/"    /* + op(20) + u64be(release) + del(20) -> empty */
#define SK_UBD "ud/"    /* + del(20) + op(20) + u64be(release) -> empty */
#define SK_RDQ "rq/"    /* + u64be(release) + src(20) + dst(20) + del(20) -> Redelegation */
#define SK_RDV "rv/"    /* + src(20) + u64be(release) + dst(20) + del(20) -> empty */
#define SK_RDD "rd/"    /* + del(20) + dst(20) + u64be(release) + src(20) -> empty */
#define SK_COMM "cq/"   /* + u64be(h) + op(20) -> empty: an announced commission due at the end of h */
#define SK_FRESH "df/"  /* + u64be(h) + op(20) + del(20) -> u64be(shares before h): only during h */
#define SK_ROLE_DELEGATION 2 /* the role byte of "uq/" (1 = executor, docs/tasks.md) */
#define SK_VAL_KEY 23
#define SK_POW_KEY 31
#define SK_DEL_KEY 43
#define SK_UBQ_KEY 52
#define SK_UB_IDX_KEY 51
#define SK_RD_KEY 71
#define SK_COMM_KEY 31
#define SK_FRESH_KEY 51

#define SK_MONIKER_MAX 64
#define SK_MISSED_MAX 1250 /* signed_blocks_window <= 10000 bits */
#define SK_JAIL_FOREVER UINT64_MAX

/* A ValidatorInfo decoded into plain fields (sk_validator_load), so the
 * state machine never juggles protobuf-c ownership. idx_* say what the
 * power index holds for it now (set by load and save). */
typedef struct {
  uint8_t op[20], pubkey[32];
  char moniker[SK_MONIKER_MAX + 1];
  uint32_t commission_bps, max_commission_bps, max_change_bps;
  uint64_t commission_height, tokens, shares, jailed_until;
  int tombstoned;
  unsigned __int128 reward_acc; /* modular, 2^64 = one CRD base unit per share */
  uint64_t commission_owed;
  uint8_t missed[SK_MISSED_MAX];
  size_t missed_len; /* 0 (all clear) or ceil(signed_blocks_window / 8) */
  uint32_t missed_count;
  uint64_t signing_since;
  uint8_t beacon_tip[32], beacon_next_tip[32];
  int has_tip, has_next_tip;
  uint64_t beacon_next_at, created_height;
  uint32_t commission_next_bps; /* announced, in force after block commission_next_at */
  uint64_t commission_next_at;  /* 0: no change pending */
  /* not stored: the "vp/" key as it is in the overlay */
  int idx_in;
  uint64_t idx_tokens;
} sk_validator;

typedef struct {
  uint64_t shares;
  unsigned __int128 reward_start;
  uint64_t height;
} sk_delegation;

/* ---- records (staking_records.c) ---- */
void sk_val_key(uint8_t k[SK_VAL_KEY], const uint8_t op[20]);
void sk_del_key(uint8_t k[SK_DEL_KEY], const uint8_t del[20], const uint8_t op[20]);
/* 1 if the validator may be in the power index (BONDED). */
int sk_is_bonded(const sk_validator *v);
/* Load op's validator: 0, COHORT_ERR_NOT_FOUND (no such validator), or a
 * fatal code. */
int sk_validator_load(state_exec *x, const uint8_t op[20], sk_validator *v);
/* Write "vl/" and bring "vp/" in step (delete the old key, put the new
 * one, only when they differ). */
int sk_validator_save(state_exec *x, sk_validator *v);
/* The operator of a consensus key ("vk/"): 0 or COHORT_ERR_NOT_FOUND. */
int sk_operator_of(state_exec *x, const uint8_t pubkey[32], uint8_t op[20]);
/* A Delegation record under any key (also the executors' "xd/"): read it
 * (0, COHORT_ERR_NOT_FOUND, or fatal), or write it with its index key vk of
 * the same length (delete both when d->shares == 0). */
int sk_delegation_read(state_exec *x, const uint8_t *k, size_t kl, sk_delegation *d);
int sk_delegation_write(state_exec *x, const uint8_t *k, const uint8_t *vk, size_t kl,
                        const sk_delegation *d);
/* A delegation: 0 (found), COHORT_ERR_NOT_FOUND, or fatal. */
int sk_delegation_load(state_exec *x, const uint8_t del[20], const uint8_t op[20],
                       sk_delegation *d);
/* Write it ("dl/" + "dv/"), or delete both when d->shares == 0. The
 * first change of its shares in a block (x->height > 0) also writes
 * "df/" + h + op + del = its shares before the block, which distribution
 * reads and deletes at the end of the block (docs/staking.md §4 "No
 * just-in-time delegation"). */
int sk_delegation_save(state_exec *x, const uint8_t del[20], const uint8_t op[20],
                       const sk_delegation *d);
/* The "df/" key of delegation (del, op) changed in block h. */
void sk_fresh_key(uint8_t k[SK_FRESH_KEY], uint64_t h, const uint8_t op[20],
                  const uint8_t del[20]);
/* Number of delegations of del (stops counting at `stop`). */
int sk_count_delegations(state_exec *x, const uint8_t del[20], uint32_t stop, uint32_t *n);
/* Shares math (docs/staking.md §2). Value of `shares` of v: floor(shares *
 * tokens / v.shares) (0 if v has no shares). Shares bought by `amount`: 0
 * with *why set when refused. */
uint64_t sk_shares_value(const sk_validator *v, uint64_t shares);
uint64_t sk_shares_for(const sk_validator *v, uint64_t amount, const char **why);
/* u128 <-> 16 big-endian bytes (empty bytes read as 0; else 16 bytes or
 * COHORT_ERR_CORRUPT). */
int sk_u128_get(const ProtobufCBinaryData *b, unsigned __int128 *out);
void sk_u128_put(uint8_t out[16], unsigned __int128 v);

/* ---- messages (each: 0 with res filled, or a fatal code) ---- */
/* Every staking message (TxBody create_validator, edit_validator,
 * delegate, undelegate, redelegate, withdraw_rewards, unjail). */
int sk_exec(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_create_validator(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_edit_validator(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_unjail(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_delegate(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_undelegate(state_exec *x, const tx_t *tx, state_tx_result *res);
int sk_exec_redelegate(state_exec *x, const tx_t *tx, state_tx_result *res);

/* Queue keys (staking_delegate.c), for the slash. */
void sk_ubq_key(uint8_t k[SK_UBQ_KEY], uint64_t rel, const uint8_t op[20], const uint8_t del[20]);
void sk_rdq_key(uint8_t k[SK_RD_KEY], uint64_t rel, const uint8_t src[20], const uint8_t dst[20],
                const uint8_t del[20]);

/* ---- punishment (staking_slash.c) ---- */
/* Slash v for an offence at height e with fraction bps/10000 (§3 "Slash"):
 * its tokens, its unbonding entries and redelegations made at or after e;
 * everything taken is burned. v is updated in memory and NOT saved (the
 * caller jails and saves it); other validators touched (redelegation
 * destinations) are saved here. *burned: the STK burned (may be NULL). */
int sk_slash(state_exec *x, sk_validator *v, uint64_t e, uint32_t bps, uint64_t *burned);
/* Jail v until `until` (kept if it is jailed longer already); the caller
 * saves v (which deletes its "vp/" key). */
void sk_jail(sk_validator *v, uint64_t until);
/* The double sign of validator key `pubkey` at height e, proven in this
 * block: slash (slash_double_sign_bps), jail, tombstone ("vx/" + pubkey
 * and ValidatorInfo.tombstoned). The caller checked the evidence. */
int sk_punish_double_sign(state_exec *x, const uint8_t pubkey[32], uint64_t e);

/* ---- end of block (docs/staking.md §6) ---- */
/* (a) downtime from the block's last commit (staking_downtime.c) */
int sk_end_downtime(state_exec *x);
/* (b2) announced commissions due at this height: commission_bps takes
 * commission_next_bps, after this block's distribution
 * (staking_validator.c) */
int sk_end_commission(state_exec *x);
/* (c) unbondings and redelegations due at this height (staking_delegate.c) */
int sk_end_unbonding(state_exec *x);
/* step 6, the sets: sk_end_block (state_int.h; staking_valset.c) */

/* ---- genesis (staking_validator.c) ---- */
/* The records of one genesis validator: vl/ (tokens = shares = power,
 * its commission limits from genesis, which genesis_parse checked), vk/,
 * vp/, its operator's self-delegation. Needs no params. */
int sk_genesis_validator(state_exec *x, const genesis_validator *gv);

/* ---- read helpers for other modules (governance) ----
 * staking_get_validator: op's ValidatorInfo as stored (through the block's
 * overlay); *out is a new unpacked record (free with
 * cohort__validator_info__free_unpacked). Returns 0, COHORT_ERR_NOT_FOUND
 * (*out NULL), or a fatal code.
 * staking_scan_delegations_of: cb(ctx, op, d) for each delegation of del,
 * by op bytewise (at most max_delegations); d is borrowed for the call.
 * staking_scan_delegations_to: cb(ctx, del, d) for each delegation to op,
 * by del bytewise. cb returns 0 to go on, non-zero to stop (returned).
 * cb may read through x but must not write to it (the scan walks the
 * overlay): collect what to change, then change it after the scan.
 * staking_delegation_value: what `shares` of the validator are worth now.
 * Voting weight (docs/staking.md §5) is staking_delegation_value of each
 * delegation to a validator of V_{h+1} (x->st->vals). */
int staking_get_validator(state_exec *x, const uint8_t op[20], Cohort__ValidatorInfo **out);
int staking_scan_delegations_of(state_exec *x, const uint8_t del[20],
                                int (*cb)(void *ctx, const uint8_t op[20],
                                          const sk_delegation *d),
                                void *ctx);
int staking_scan_delegations_to(state_exec *x, const uint8_t op[20],
                                int (*cb)(void *ctx, const uint8_t del[20],
                                          const sk_delegation *d),
                                void *ctx);
uint64_t staking_delegation_value(const sk_validator *v, uint64_t shares);

/* ---- helpers shared by the staking files ---- */
int sk_fail(state_tx_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* First 8 hex digits of an account ID, for logs. */
void sk_short(char out[17], const uint8_t *id);

#endif
