/* consensus/consensus.h — the BFT engine: Tendermint as in "The latest
 * gossip on BFT consensus" (Buchman, Kwon, Milosevic 2018, arXiv:1807.04938,
 * Algorithm 1), as a pure state machine.
 *
 * The engine does no I/O, reads no clock, draws no randomness and never
 * checks a signature. The node feeds it events — verified signed messages,
 * validation verdicts, ticks with the current time — and drains the actions
 * it emits: build or re-propose a block, sign a vote, validate a block,
 * append to the WAL, broadcast an own message, commit a decided block,
 * report equivocation. It asks for the next deadline to arm one timer. The
 * same inputs in the same order give the same actions: that is what lets
 * the WAL restore a crashed validator (consensus_wal.h) and what
 * tests/sim checks with many engines and a hostile network in one process.
 * A single validator is the degenerate case: each quorum is its own vote.
 * docs/consensus.md explains the design for an independent implementer.
 *
 * ---- States at height h (r = round_p, a uint32; there is no round cap) ----
 *
 *   NEW_HEIGHT  Before round 0. Waits for the block interval since the last
 *               commit and, if empty blocks are off, for transactions. Votes
 *               and proposals for h are stored meanwhile. Guarantees: no lock,
 *               no valid value, nothing signed at h.
 *   PROPOSE     Round r started (StartRound). If we are proposer(h, r) a
 *               PROPOSE action was emitted (re-proposing the valid value if
 *               there is one). Guarantee: no prevote of ours at (h, r).
 *   PREVOTE     Our prevote for (h, r) was decided (SIGN_VOTE emitted): for
 *               the proposal, or nil. Guarantee: we never prevote again in r.
 *   PRECOMMIT   Our precommit for (h, r) was decided. If it is for a block B,
 *               we locked B at r (lockedValue = B, lockedRound = r) first.
 *   COMMIT      A block got +2/3 of the precommit power in some round of h
 *               and a CONS_ACT_COMMIT went out. Nothing more happens at h;
 *               the node commits (or fetches) the block, then calls
 *               cons_start_height(h + 1).
 *
 *   Independent of the step: lockedValue/lockedRound (-1 = none) and
 *   validValue/validRound (-1 = none), both reset only by a new height;
 *   per round: the proposal (with its validation verdict) and the votes.
 *
 * ---- Transitions (paper line numbers; the function in consensus.c) ----
 *
 *   from        event / condition                           to         function
 *   NEW_HEIGHT  interval passed and (txs or empty-block      PROPOSE(0) leave_new_height
 *               interval passed); logged as timeout step 0
 *   NEW_HEIGHT  a proposal for (h, 0) from proposer(h, 0)    PROPOSE(0) on_proposal_stored
 *   any <COMMIT f+1 (> 1/3 power) distinct senders of        PROPOSE(R) rule_round_skip   (55-56)
 *               messages for a round R > r (R >= 0 in
 *               NEW_HEIGHT); the highest such R
 *   PROPOSE     proposal(v, vr = -1) validated: prevote v if PREVOTE    rule_prevote      (22-27)
 *               valid(v) and (lockedRound = -1 or
 *               lockedValue = v), else nil
 *   PROPOSE     proposal(v, vr >= 0) and 2f+1 prevotes for v PREVOTE    rule_prevote      (28-33)
 *               in vr: prevote v if valid(v) and
 *               (lockedRound <= vr or lockedValue = v),
 *               else nil; an invalid v: nil at once
 *   PROPOSE     timeout_propose(r)                           PREVOTE    fire_timeout      (57-60)
 *   PREVOTE     2f+1 prevotes of any kind in r, first time:  PREVOTE    rule_vote_waits   (34-35)
 *               arm timeout_prevote(r)
 *   PREVOTE     proposal(v) valid and 2f+1 prevotes for v in PRECOMMIT  rule_polka        (36-43)
 *               r, first time: lock v at r, precommit v;
 *               in any step >= PREVOTE also validValue = v,
 *               validRound = r
 *   PREVOTE     2f+1 prevotes for nil in r: precommit nil    PRECOMMIT  rule_nil_polka    (44-46)
 *   PREVOTE     timeout_prevote(r): precommit nil            PRECOMMIT  fire_timeout      (61-64)
 *   any <COMMIT 2f+1 precommits of any kind in r, first      (same)     rule_vote_waits   (47-48)
 *               time: arm timeout_precommit(r)
 *   any <COMMIT timeout_precommit(r)                         PROPOSE    fire_timeout      (65-67)
 *                                                            (r+1)
 *   any <COMMIT 2f+1 precommits for v in ANY round of h      COMMIT     rule_decide       (49-54)
 *               (even rounds this node never reached); the
 *               commit waits only while a proposal of v is
 *               being validated
 *
 *   "2f+1" means more than 2/3 of the total power, "f+1" more than 1/3.
 *   "2f+1 of any kind" and "f+1 senders" count each validator once; "2f+1
 *   for v" counts every validator with a stored vote for v, an
 *   equivocator's conflicting vote included: with less than 1/3 of the
 *   power byzantine, two values still cannot both reach 2f+1 in one round
 *   (each needs more than 1/3 from correct validators, who vote once), and
 *   a node that heard an equivocator's other vote first would otherwise
 *   never see the quorum the others decided on (CometBFT gets the same from
 *   its per-block vote sets).
 *   StartRound(R) (start_round, lines 11-21) prunes old rounds, arms
 *   timeout_propose(R) for every node (the paper arms it only for
 *   non-proposers; arming it for the proposer too saves the round when the
 *   node cannot build a block), and emits PROPOSE if we are proposer(h, R).
 *
 * ---- The lock and valid-round rules, paraphrasing Algorithm 1 ----
 *
 *   Lock (line 36-41): a correct process locks v in round r only when, in
 *   step prevote of r, it holds proposal(h, r, v) with valid(v) and 2f+1
 *   prevotes for id(v) in r; it precommits id(v) at the same moment.
 *   It "unlocks" only by prevoting another value, which lines 28-29 allow
 *   when the proposal carries vr >= lockedRound with 2f+1 prevotes in vr:
 *   then 2f+1 processes prevoted it after our lock, so no value could have
 *   been decided at our lock's round... except v itself. Nothing else ever
 *   changes lockedValue/lockedRound within a height.
 *   Valid value (lines 36, 42-43): whenever a process sees proposal(h, r, v)
 *   with 2f+1 prevotes for v in its current round r (step >= prevote), it
 *   sets validValue = v, validRound = r; a proposer re-proposes validValue
 *   with pol_round = validRound (line 14-16), so a value locked by some
 *   correct process can gather a quorum again (schedule 3 of issue 8).
 *
 * ---- Invariants (cons_check_invariants) ----
 *
 *   I1 step is NEW_HEIGHT only in round 0 with no lock, no valid value.
 *   I2 -1 <= lockedRound <= validRound <= round_p (lock implies valid value,
 *      both from the past or current round).
 *   I3 lockedValue (validValue) is the stored proposal of round lockedRound
 *      (validRound), validated valid, with 2f+1 prevotes for it there; those
 *      rounds are never pruned.
 *   I4 rounds are stored in strictly increasing order; every tally equals the
 *      sum of the powers of the validators with a vote stored for it (`any`:
 *      with any vote); no validator holds one value twice; "seen" power
 *      equals the power of the validators with a message in that round.
 *   I5 a validator has messages in at most CONS_FUTURE_ROUNDS_PER_VALIDATOR
 *      rounds above round_p + 1; no round below round_p - CONS_PAST_ROUNDS
 *      is kept except lockedRound, validRound and the current proposal's
 *      pol_round; a validator has at most CONS_VALUES_PER_VOTER values per
 *      (round, type).
 *   I6 step COMMIT iff a COMMIT action was emitted at this height.
 *   Checked after every event when the engine was built without NDEBUG, or
 *   when cons_set_check_invariants(e, 1) was called (tests and the
 *   simulator do); a violation prints the reason to stderr and aborts.
 *
 * ---- Bounds (what is kept until it applies) ----
 *
 *   - at most CONS_MAX_VALIDATORS validators;
 *   - current height: rounds <= round_p + 1 always; higher rounds while the
 *     sender has messages in fewer than CONS_FUTURE_ROUNDS_PER_VALIDATOR (2)
 *     rounds above round_p + 1 (else CONS_MSG_DEFERRED: gossip it again
 *     later); proposals at most CONS_FUTURE_PROPOSAL_ROUNDS (8) rounds
 *     ahead; past rounds: the last CONS_PAST_ROUNDS (8) plus lockedRound,
 *     validRound and the current proposal's pol_round (others: STALE);
 *     per (round, type, validator) its first vote plus at most 2 conflicting
 *     values (CONS_VALUES_PER_VOTER), one proposal per round;
 *   - height h + 1: up to CONS_NEXT_HEIGHT_MSGS (1024) messages of rounds
 *     <= CONS_NEXT_HEIGHT_ROUNDS - 1 (1), applied when h + 1 starts;
 *   - heights above h + 1 and below h: not kept (block sync's business).
 *   Memory per stored round: 4 bytes per validator plus ~100 per vote.
 *
 * ---- Timeouts (as CometBFT) ----
 *   propose(r)   = timeout_propose_ms + r * timeout_propose_delta_ms
 *   prevote(r)   = precommit(r) = timeout_vote_ms + r * timeout_vote_delta_ms
 *   (saturating: no overflow at any round).
 *
 * Threading: an engine is used by one thread at a time; no call may be made
 * from inside another (the engine has no callbacks). Errors: functions that
 * return int give a COHORT_ERR_* (< 0) or, for messages, a CONS_MSG_* (>= 0).
 * COHORT_ERR_NOMEM is sticky: the engine refuses everything afterwards (an
 * action could have been lost) and the node must stop.
 */
#ifndef COHORT_CONSENSUS_H
#define COHORT_CONSENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus_msg.h"
#include "consensus/consensus_wal.h"
#include "consensus/proposer.h"
#include "core/err.h"
#include "proto/cohort.pb-c.h"

#define CONS_FUTURE_ROUNDS_PER_VALIDATOR 2
#define CONS_FUTURE_PROPOSAL_ROUNDS 8
#define CONS_PAST_ROUNDS 8
#define CONS_NEXT_HEIGHT_MSGS 1024
#define CONS_NEXT_HEIGHT_ROUNDS 2
#define CONS_VALUES_PER_VOTER 3

typedef enum {
  CONS_NEW_HEIGHT = 0,
  CONS_PROPOSE,
  CONS_PREVOTE,
  CONS_PRECOMMIT,
  CONS_COMMIT
} cons_step;

typedef struct {
  uint64_t block_interval_ms;        /* min time from a commit to round 0 (default 1000) */
  uint64_t empty_block_interval_ms;  /* 0: wait for txs before round 0; else start an
                                        empty round this long after the commit */
  uint64_t timeout_propose_ms;       /* default 3000 */
  uint64_t timeout_propose_delta_ms; /* default 500 */
  uint64_t timeout_vote_ms;          /* prevote and precommit waits, default 1000 */
  uint64_t timeout_vote_delta_ms;    /* default 500 */
} cons_config;

/* What became of a message handed to the engine (>= 0; errors are < 0). */
enum {
  CONS_MSG_ADDED = 0,    /* stored and acted upon (logged to the WAL) */
  CONS_MSG_DUPLICATE,    /* already had exactly this */
  CONS_MSG_CONFLICT,     /* the sender already signed something else here. Votes:
                            a CONS_ACT_EVIDENCE went out (once per round, type and
                            validator) and the vote is kept as a conflicting value,
                            counted for its value, within the bound of Bounds.
                            Proposals: the first stays */
  CONS_MSG_STALE,        /* for a past height, a decided height, or a pruned round */
  CONS_MSG_BUFFERED,     /* for height h + 1: kept until it starts */
  CONS_MSG_DEFERRED,     /* over a bound (see Bounds): not kept; send it again later */
  CONS_MSG_FUTURE        /* for a height above h + 1: not kept */
};

/* The block a COMMIT action decided. */
typedef enum {
  CONS_BLOCK_VALID = 1, /* the node validated it (it holds the block) */
  CONS_BLOCK_MISSING,   /* no validated copy here: fetch the block by hash and
                           apply it with the commit (block sync) */
  CONS_BLOCK_INVALID    /* +2/3 committed a block this node judged invalid:
                           this node diverges; stop and investigate */
} cons_block_status;

typedef enum {
  /* Build a block for (height, round) — or, if has_hash, re-propose the
   * block block_hash (our valid value) — sign a Proposal with pol_round
   * (-1 for a new block) and feed it back with cons_on_proposal; then
   * validate it like any other (a VALIDATE action follows). */
  CONS_ACT_PROPOSE = 1,
  /* Sign vote (vote_type, height, round, has_hash ? block_hash : nil) with
   * the signer (privval) — after making the WAL durable — and feed the
   * signed vote back with cons_on_vote. */
  CONS_ACT_SIGN_VOTE,
  /* Validate (execute) block block_hash proposed at (height, round) — it
   * may arrive later, and validation may run asynchronously — then call
   * cons_on_proposal_valid. The engine prevotes it only after that. */
  CONS_ACT_VALIDATE,
  /* Append wal to the WAL; wal_sync: fsync before the next action (own
   * votes and proposals: the record must be durable before the message
   * leaves the process). Emitted before the broadcast it protects; for an
   * own message both go to the front of the queue, ahead of any other
   * signature already queued. */
  CONS_ACT_WAL_WRITE,
  CONS_ACT_BROADCAST_PROPOSAL, /* send proposal (ours) to every peer */
  CONS_ACT_BROADCAST_VOTE,     /* send vote (ours) to every peer */
  /* Height decided: block_hash got +2/3 precommits in round `round`;
   * commit holds them (owned by the action: cons_action_free). See
   * block_status. */
  CONS_ACT_COMMIT,
  /* Equivocation: vote and vote_b are two different signed votes of one
   * validator for the same (height, round, type). Verify both signatures
   * again before using them as evidence (the engine trusts the caller). */
  CONS_ACT_EVIDENCE
} cons_action_kind;

typedef struct {
  cons_action_kind kind;
  uint64_t height;
  uint32_t round;
  uint32_t vote_type; /* SIGN_VOTE */
  int has_hash;       /* SIGN_VOTE: 0 = nil; PROPOSE: re-propose block_hash */
  int64_t pol_round;  /* PROPOSE: the pol_round to sign (-1 for a new block) */
  uint8_t block_hash[32];
  cons_block_status block_status; /* COMMIT */
  Cohort__Commit *commit;         /* COMMIT (owned) */
  int wal_sync;                   /* WAL_WRITE */
  cons_wal_rec wal;               /* WAL_WRITE (no BLOCK records come from the engine) */
  cons_vote vote;                 /* BROADCAST_VOTE; EVIDENCE: the first vote */
  cons_vote vote_b;               /* EVIDENCE: the conflicting one */
  cons_proposal proposal;         /* BROADCAST_PROPOSAL */
} cons_action;

typedef struct cons_engine cons_engine;

/* New engine. my_pubkey may be NULL (a full node that follows but never
 * signs). Zero config fields take their defaults; chain_id is copied (at
 * most 48 bytes). Returns NULL on NOMEM. */
cons_engine *cons_new(const cons_config *cfg, const char *chain_id, const uint8_t *my_pubkey);
void cons_del(cons_engine *e);

/* Start height h with the proposer-priority state S_h (proposer.h: its
 * validator set and priorities; copied) at time now_ms (the block interval
 * counts from here). Drops everything of the previous height, then applies
 * messages buffered for h. Returns 0, COHORT_ERR_INVALID (empty set) or the
 * sticky error. */
int cons_start_height(cons_engine *e, uint64_t height, const cons_prio *s_h, uint64_t now_ms);

/* ---- events (each may queue actions; drain them with cons_next_action) ---- */

/* Time passes: fires due timeouts. */
int cons_on_tick(cons_engine *e, uint64_t now_ms);
/* Whether the mempool (or scheduled state work) wants a block; matters only
 * in NEW_HEIGHT with empty blocks off. */
int cons_on_txs_available(cons_engine *e, int available, uint64_t now_ms);
/* A proposal whose signature the caller verified (proposal_verify). Returns
 * a CONS_MSG_*, or COHORT_ERR_INVALID (sender is not proposer(h, r), bad
 * pol_round), or the sticky error. Our own proposal goes through here too. */
int cons_on_proposal(cons_engine *e, const cons_proposal *p, uint64_t now_ms);
/* The verdict on block `hash` at height h (valid = 1 / 0), answering a
 * VALIDATE action. Returns CONS_MSG_ADDED, CONS_MSG_DUPLICATE, CONS_MSG_STALE
 * (other height) or COHORT_ERR_NOT_FOUND (no stored proposal of that hash). */
int cons_on_proposal_valid(cons_engine *e, uint64_t h, const uint8_t hash[32], int valid,
                           uint64_t now_ms);
/* A vote whose signature the caller verified (vote_verify). Returns a
 * CONS_MSG_* or COHORT_ERR_INVALID (not a validator of h, bad type) or the
 * sticky error. Our own signed votes go through here too. */
int cons_on_vote(cons_engine *e, const cons_vote *v, uint64_t now_ms);

/* ---- WAL replay (after a restart) ----
 * On a fresh engine, after cons_start_height(h): cons_replay_begin, then
 * every WAL record in file order (records of other heights, BLOCK and
 * END_HEIGHT records are skipped: CONS_MSG_STALE), then cons_replay_end.
 * While replaying, the engine re-derives its state without asking for WAL
 * writes, signatures, proposals, validations or broadcasts; COMMIT and
 * EVIDENCE actions still come out. cons_replay_end then emits what is still
 * owed in the current round: VALIDATE for unvalidated proposals, PROPOSE if
 * we are the proposer and have not proposed, SIGN_VOTE for a vote decided
 * but absent from the WAL (the signer returns the same signature if it had
 * signed it), and re-broadcasts of our own messages of the round. */
int cons_replay_begin(cons_engine *e);
int cons_replay_record(cons_engine *e, const cons_wal_rec *r, uint64_t now_ms);
int cons_replay_end(cons_engine *e, uint64_t now_ms);

/* The sticky error (COHORT_ERR_NOMEM) or 0. */
int cons_failed(const cons_engine *e);

/* Pop the next queued action into *a (the caller then owns it and frees it
 * with cons_action_free); returns 0 if there was none. */
int cons_next_action(cons_engine *e, cons_action *a);
void cons_action_free(cons_action *a);

/* Absolute time of the next deadline (0 = none). */
uint64_t cons_next_deadline(const cons_engine *e);

/* ---- what a gossip layer needs ----
 * A gossip layer keeps, per peer, the peer's (height, round, step) and the
 * bitmaps of votes it announced; it sends the peer the proposal and votes of
 * the peer's round (and of that proposal's pol_round) that the peer lacks,
 * taken from here, and feeds received messages to cons_on_*. */
size_t cons_validator_count(const cons_engine *e);
/* Index of a validator key at this height, or -1. */
int cons_validator_index(const cons_engine *e, const uint8_t pubkey[32]);
const uint8_t *cons_validator_key(const cons_engine *e, size_t index); /* NULL if out of range */
uint64_t cons_validator_power(const cons_engine *e, size_t index);
/* Proposer (index) of round r at the current height. */
size_t cons_proposer_index(cons_engine *e, uint32_t round);
/* The stored signed vote of validator `index` for (h, r, type). Returns 0
 * or COHORT_ERR_NOT_FOUND. */
int cons_get_vote(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, size_t index,
                  cons_vote *out);
/* Bitmap (bit i = byte i/8, bit i%8) of the validators whose vote for
 * (h, r, type) is stored; bits must hold (n + 7) / 8 bytes. Returns the
 * number of votes (0 if the round is not stored). */
size_t cons_vote_bitmap(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type,
                        uint8_t *bits, size_t bits_len);
/* The same for votes for one value (has_hash = 0: nil), counting conflicting
 * values of equivocators too, and the vote itself. A gossip layer uses these
 * for the values that have a quorum (cons_quorum_value), as CometBFT's
 * per-block VoteSetBits: a peer that stored an equivocator's other vote
 * first still gets the one everybody else counted. */
size_t cons_vote_bitmap_for(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type,
                            int has_hash, const uint8_t *hash, uint8_t *bits, size_t bits_len);
int cons_get_vote_for(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, size_t index,
                      int has_hash, const uint8_t *hash, cons_vote *out);
/* 1 and the value if some value (hash, or nil with *has_hash = 0) has more
 * than 2/3 of the power in (h, r, type); else 0. */
int cons_quorum_value(const cons_engine *e, uint64_t h, uint32_t r, uint32_t type, int *has_hash,
                      uint8_t hash[32]);
/* The stored proposal of (h, r). Returns 0 or COHORT_ERR_NOT_FOUND. */
int cons_get_proposal(const cons_engine *e, uint64_t h, uint32_t r, cons_proposal *out);
/* The rounds with stored messages at the current height, ascending; writes
 * at most max, returns how many there are. */
size_t cons_stored_rounds(const cons_engine *e, uint32_t *out, size_t max);

/* ---- introspection (status, metrics, tests) ---- */
uint64_t cons_height(const cons_engine *e);
uint32_t cons_round(const cons_engine *e);
cons_step cons_get_step(const cons_engine *e);
const char *cons_step_name(cons_step s);
/* lockedRound / validRound (-1 = none); hash written if >= 0. */
int64_t cons_locked(const cons_engine *e, uint8_t hash[32]);
int64_t cons_valid(const cons_engine *e, uint8_t hash[32]);

/* Check I1-I6; returns 0 or COHORT_ERR_CORRUPT with eb saying which. */
int cons_check_invariants(const cons_engine *e, core_errbuf *eb);
/* Run cons_check_invariants after every event (abort on violation). */
void cons_set_check_invariants(cons_engine *e, int on);

#endif
