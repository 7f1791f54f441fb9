/* Staking, distribution and punishment (docs/staking.md §2-4, §6), on a
 * chain of four validators built block by block (staking_fixture.h: every
 * block is also replayed into a twin store through state_apply_block and
 * must reach the same app_hash; state_audit checks the supply rule and
 * the staking invariants after every block).
 *
 * The attack tests each describe the attack; each fails on a state that
 * lacks the rule it names: stake that leaves before its offence is proven
 * is still slashed (unbonding and redelegation, and redelegate-then-
 * undelegate); redelegation hopping is refused; a second withdrawal pays
 * nothing; commission changes too fast or too far are refused; a jailed
 * validator stays out however much is delegated to it until it unjails;
 * the set is never empty; unbonding entries of two blocks never merge
 * (finding 7); a commission change is announced before it applies and a
 * genesis validator moves it by 1% per change (finding 8); a delegation
 * earns nothing of its own block's fees (finding 9). The property test
 * runs a random workload of every message, double signs and outages over
 * many blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/state/staking_fixture.h"
#include "proto/gov.h"

typedef unsigned __int128 u128;

static const uint64_t POW[4] = {4000, 3000, 2000, 1000};
#define TOTAL_POW 10000

#define ONE(f, expr, want)                                               \
  do {                                                                   \
    char log_[256];                                                      \
    uint8_t *t_ = (expr);                                                \
    int c_ = sf_one((f), t_, tx_len_, log_);                             \
    if (c_ != (want))                                                    \
      fail_msg("%s: code %d (%s), want %d", #expr, c_, log_, (want));    \
  } while (0)

static size_t tx_len_;
#define L (&tx_len_)

/* The reward a delegation of s shares gets of r (after commission) paid
 * to a validator of S shares: the §4 formula, written here again. */
static uint64_t share_of(uint64_t r, uint64_t S, uint64_t s) {
  u128 inc = ((u128)r << 64) / S;
  u128 hi = inc >> 64, lo = (uint64_t)inc;
  return (uint64_t)((u128)s * hi + (((u128)s * lo) >> 64));
}

/* a equals b, or is one less: two floors of a sum against one */
#define NEAR(a, b) assert_true((a) == (b) || (a) + 1 == (b) || (a) == (b) + 1)

/* What del's delegation to op is worth; 0 when op is no validator. */
static uint64_t safe_value(sfx *f, int del, int op) {
  Cohort__ValidatorInfo *v;
  if (state_get_validator_info(f->st, f->uid[op], &v)) return 0;
  cohort__validator_info__free_unpacked(v, NULL);
  return sf_value(f, del, op);
}

static void test_genesis_records(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  for (int i = 0; i < 4; i++) {
    Cohort__ValidatorInfo *v = sf_val(&f, i);
    assert_int_equal(v->tokens, POW[i]);
    assert_int_equal(v->shares, POW[i]);
    assert_int_equal(v->signing_since, 1);
    assert_int_equal(v->max_commission_bps, 10000);
    assert_int_equal(sf_value(&f, i, i), POW[i]);
    cohort__validator_info__free_unpacked(v, NULL);
    uint8_t op[20];
    assert_int_equal(state_validator_by_pubkey(f.st, f.vpub[i], op), 0);
    assert_memory_equal(op, f.uid[i], 20);
  }
  state_audit_report r = sf_audit(&f);
  assert_int_equal(r.bonded, TOTAL_POW);
  assert_int_equal(r.validators, 4);
  assert_int_equal(r.delegations, 4);
  /* the power index gives the genesis order back (most tokens first):
   * the set does not change at block 1 */
  sf_empty(&f, 3, 0);
  Cohort__ValidatorSet *vs;
  assert_int_equal(state_validators_at(f.st, 5, &vs), 0);
  for (int i = 0; i < 4; i++) assert_memory_equal(vs->validators[i]->pubkey.data, f.vpub[i], 32);
  cohort__validator_set__free_unpacked(vs, NULL);
  sf_free(&f);
}

/* Fees go to the validators that signed the previous block, by power;
 * within a validator to its delegators by shares; exactly §4. A second
 * withdrawal in the same block pays nothing; a new delegation gets
 * nothing of what was paid before it. */
static void test_fees_and_rewards_exact(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[0], 1000, L), 0); /* block 1 */
  sf_empty(&f, 2, 0);                                /* V_4 has validator 0 at 5000 */
  assert_int_equal(state_validators(f.st)->validators[0]->power, 5000);
  uint64_t com0 = sf_audit(&f).community, rew0 = sf_audit(&f).rewards;
  uint64_t p8 = sf_pending(&f, 8, 0), p0 = sf_pending(&f, 0, 0);
  /* block 4: a fee of 1000 (and 10 for the delegation... none here) */
  ONE(&f, sf_transfer(&f, 5, 6, 1, 1000, L), 0);
  /* F = 1000: 20 to the community; R = 980 by power 5000/3000/2000/1000 */
  uint64_t r[4] = {980 * 5000 / 11000, 980 * 3000 / 11000, 980 * 2000 / 11000, 980 * 1000 / 11000};
  uint64_t left = 980 - r[0] - r[1] - r[2] - r[3];
  state_audit_report a = sf_audit(&f);
  assert_int_equal(a.community - com0, 20 + left);
  assert_int_equal(a.rewards - rew0, 980 - left);
  assert_int_equal(a.fees, 0);
  NEAR(sf_pending(&f, 8, 0) - p8, share_of(r[0], 5000, 1000));
  NEAR(sf_pending(&f, 0, 0) - p0, share_of(r[0], 5000, 4000));
  /* withdraw twice in one block: the second pays nothing */
  uint64_t c0, s0, c1, s1;
  sf_balance(&f, 8, &c0, &s0);
  uint64_t owed = sf_pending(&f, 8, 0);
  size_t lens[2];
  uint8_t *txs[2] = {sf_withdraw(&f, 8, f.uid[0], &lens[0]), sf_withdraw(&f, 8, NULL, &lens[1])};
  state_tx_result res[2];
  sf_block(&f, txs, lens, 2, NULL, 0, 0, res);
  assert_int_equal(res[0].code, 0);
  assert_int_equal(res[1].code, 0);
  sf_balance(&f, 8, &c1, &s1);
  assert_int_equal(c1, c0 + owed - 20); /* two fees of 10 */
  /* a delegation made now is owed nothing of the past */
  ONE(&f, sf_delegate(&f, 9, f.uid[0], 500, L), 0);
  assert_int_equal(sf_pending(&f, 9, 0), 0); /* nor of its own block's fee (finding 9) */
  sf_audit(&f);
  sf_free(&f);
}

static void test_commission_rules(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  /* created at 1000 bps, at most 2000, moving by at most 500 per change */
  ONE(&f, sf_create(&f, 4, 4, 5000, 1000, 2000, 500, L), 0); /* block 1 */
  uint64_t h0 = state_height(f.st);
  ONE(&f, sf_commission(&f, 4, 1400, L), COHORT_ERR_INVALID); /* too soon after creation */
  sf_empty(&f, 1, 0);
  assert_int_equal(state_height(f.st), h0 + 2);
  ONE(&f, sf_commission(&f, 4, 1600, L), COHORT_ERR_INVALID); /* h0+3: moves 600 > 500 */
  ONE(&f, sf_commission(&f, 4, 1500, L), 0);                  /* h0+4 >= h0+3 */
  /* announced, not applied: in force after block h0+4+3 */
  Cohort__ValidatorInfo *v = sf_val(&f, 4);
  assert_int_equal(v->commission_bps, 1000);
  assert_int_equal(v->commission_next_bps, 1500);
  assert_int_equal(v->commission_next_at, h0 + 7);
  assert_int_equal(v->commission_height, h0 + 4);
  cohort__validator_info__free_unpacked(v, NULL);
  ONE(&f, sf_commission(&f, 4, 1500, L), COHORT_ERR_INVALID); /* h0+5: one is pending */
  sf_empty(&f, 2, 0);                                         /* h0+6, h0+7: applied */
  v = sf_val(&f, 4);
  assert_int_equal(v->commission_bps, 1500);
  assert_int_equal(v->commission_next_at, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  ONE(&f, sf_commission(&f, 4, 2001, L), COHORT_ERR_INVALID); /* above max_commission */
  ONE(&f, sf_commission(&f, 4, 2000, L), 0);                  /* h0+9, in force after h0+12 */
  sf_empty(&f, 3, 0);
  v = sf_val(&f, 4);
  assert_int_equal(v->commission_bps, 2000);
  cohort__validator_info__free_unpacked(v, NULL);
  /* a plain account has no validator to edit */
  ONE(&f, sf_commission(&f, 8, 10, L), COHORT_ERR_NOT_FOUND);
  /* commission in the distribution: 2000 bps of what validator 4 gets */
  uint64_t owed0 = 0;
  v = sf_val(&f, 4);
  owed0 = v->commission_owed;
  uint64_t acc_p = sf_pending(&f, 4, 4);
  cohort__validator_info__free_unpacked(v, NULL);
  ONE(&f, sf_transfer(&f, 5, 6, 1, 15000, L), 0);
  /* V_{h-1}: 4000 3000 2000 1000 5000 (sorted by tokens: 5000 first) */
  uint64_t R = 15000 - 15000 * 200 / 10000, r4 = (uint64_t)((u128)R * 5000 / 15000);
  v = sf_val(&f, 4);
  assert_int_equal(v->commission_owed - owed0, r4 * 2000 / 10000);
  cohort__validator_info__free_unpacked(v, NULL);
  NEAR(sf_pending(&f, 4, 4) - acc_p, share_of(r4 - r4 * 2000 / 10000, 5000, 5000));
  /* the operator's withdrawal pays both */
  uint64_t c0, s0, c1, s1;
  sf_balance(&f, 4, &c0, &s0);
  v = sf_val(&f, 4);
  uint64_t due = v->commission_owed + sf_pending(&f, 4, 4);
  cohort__validator_info__free_unpacked(v, NULL);
  ONE(&f, sf_withdraw(&f, 4, NULL, L), 0);
  sf_balance(&f, 4, &c1, &s1);
  assert_int_equal(c1, c0 + due - 10);
  v = sf_val(&f, 4);
  assert_true(v->commission_owed <= 10); /* only what the withdrawal's own block paid */
  cohort__validator_info__free_unpacked(v, NULL);
  sf_audit(&f);
  sf_free(&f);
}

static void test_create_validator_signs_from_h_plus_2(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  sf_empty(&f, 2, 0);
  ONE(&f, sf_create(&f, 4, 0, 5000, 0, 100, 100, L), COHORT_ERR_DUPLICATE); /* key in use */
  ONE(&f, sf_create(&f, 4, 4, 499, 0, 100, 100, L), COHORT_ERR_AMOUNT);     /* < min_self_bond */
  ONE(&f, sf_create(&f, 4, 4, 100001, 0, 100, 100, L), COHORT_ERR_FUNDS);   /* > balance */
  ONE(&f, sf_create(&f, 0, 4, 5000, 0, 100, 100, L), COHORT_ERR_DUPLICATE); /* already operates */
  uint64_t h = state_height(f.st) + 1;
  ONE(&f, sf_create(&f, 4, 4, 5000, 0, 100, 100, L), 0);
  /* after block h: V_{h+1} without it, V_{h+2} with it, first */
  assert_false(sf_in_set(&f, 1, 4));
  assert_true(sf_in_set(&f, 2, 4));
  assert_memory_equal(state_next_validators(f.st)->validators[0]->pubkey.data, f.vpub[4], 32);
  ONE(&f, sf_create(&f, 5, 4, 5000, 0, 100, 100, L), COHORT_ERR_DUPLICATE); /* key taken */
  /* block h+2 is the first it signs (the fixture signs for every member) */
  sf_empty(&f, 1, 0);
  assert_true(sf_in_set(&f, 1, 4));
  Cohort__ValidatorInfo *v = sf_val(&f, 4);
  assert_int_equal(v->signing_since, h + 2);
  assert_int_equal(v->tokens, 5000);
  assert_int_equal(v->beacon_tip.len, 32); /* the commitment it announced */
  cohort__validator_info__free_unpacked(v, NULL);
  uint8_t tip[32];
  int pend;
  assert_int_equal(state_beacon_expected(f.st, f.vpub[4], tip, &pend), 0);
  assert_int_equal(tip[0], 0xbc);
  /* it signs; a long run never jails it, and it earns fees */
  for (int i = 0; i < 15; i++) ONE(&f, sf_transfer(&f, 8, 9, 1, 500, L), 0);
  v = sf_val(&f, 4);
  assert_int_equal(v->jailed_until, 0);
  assert_int_equal(v->missed_count, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  assert_true(sf_pending(&f, 4, 4) > 0);
  sf_audit(&f);
  sf_free(&f);
}

/* Attack: a delegator who sees its validator double-sign undelegates
 * before the evidence lands. Its unbonding entry (made after the offence)
 * is still slashed; one made before the offence is not. */
static void test_undelegating_before_the_proof_is_still_slashed(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[1], 10000, L), 0); /* 1 */
  ONE(&f, sf_delegate(&f, 9, f.uid[1], 10000, L), 0); /* 2 */
  ONE(&f, sf_undelegate(&f, 9, f.uid[1], 10000, L), 0); /* 3: before the offence */
  sf_empty(&f, 2, 0);                                   /* 4, 5: validator 1 double-signs at 5 */
  ONE(&f, sf_undelegate(&f, 8, f.uid[1], 10000, L), 0); /* 6: after it */
  uint64_t c8, s8, c9, s9, stk0;
  sf_balance(&f, 8, &c8, &s8);
  sf_balance(&f, 9, &c9, &s9);
  stk0 = sf_audit(&f).stk_supply;
  ProtobufCBinaryData ev = sf_evidence(&f, 1, 5);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL); /* 7 */
  free(ev.data);
  /* 5%: the validator's tokens (3000) lose 150; 8's entry 500; 9's nothing */
  assert_int_equal(sf_tokens(&f, 1), 3000 - 150);
  assert_int_equal(stk0 - sf_audit(&f).stk_supply, 150 + 500);
  Cohort__ValidatorInfo *v = sf_val(&f, 1);
  assert_true(v->tombstoned);
  cohort__validator_info__free_unpacked(v, NULL);
  assert_false(sf_in_set(&f, 2, 1));
  /* 9's entry matures at 3 + 8 = 11, 8's at 14 */
  while (state_height(f.st) < 14) sf_empty(&f, 1, 0);
  uint64_t c, st;
  sf_balance(&f, 9, &c, &st);
  assert_int_equal(st, s9 + 10000);
  sf_balance(&f, 8, &c, &st);
  assert_int_equal(st, s8 + 9500);
  /* its operator's self-bond (slashed) may leave like any delegation */
  ONE(&f, sf_undelegate(&f, 1, f.uid[1], 2850, L), 0);
  ONE(&f, sf_delegate(&f, 8, f.uid[1], 100, L), COHORT_ERR_INVALID); /* tombstoned */
  sf_audit(&f);
  sf_free(&f);
}

/* Found by fuzz_market for executors, true here too: a delegation a slash
 * made worth 0 could never leave (every amount exceeded its value), holding
 * a max_delegations slot for ever. Any amount now removes it. */
static void test_worthless_delegation_can_leave(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[1], 10, L), 0); /* 1 */
  ONE(&f, sf_undelegate(&f, 8, f.uid[1], 9, L), 0); /* 2: one share left */
  sf_empty(&f, 3, 0);                                /* 3..5: validator 1 double-signs at 5 */
  ProtobufCBinaryData ev = sf_evidence(&f, 1, 5);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL);
  free(ev.data);
  assert_int_equal(sf_value(&f, 8, 1), 0);
  ONE(&f, sf_undelegate(&f, 8, f.uid[1], 1, L), 0);
  Cohort__Delegation *d;
  assert_int_equal(state_get_delegation(f.st, f.uid[8], f.uid[1], &d), COHORT_ERR_NOT_FOUND);
  sf_audit(&f);
  sf_free(&f);
}

/* Attack (review): V_e is fixed at the end of block e-2, so stake that
 * leaves in block e-1 still signs at e with its full power. An operator or
 * delegator who undelegates in the block before a double sign is slashed
 * for it; one who left at e-2 (out of V_e) is not. Fails with entries
 * slashed only from height e on. */
static void test_undelegating_the_block_before_the_offence_is_slashed(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[1], 10000, L), 0);   /* 1 */
  ONE(&f, sf_delegate(&f, 9, f.uid[1], 10000, L), 0);   /* 2 */
  ONE(&f, sf_undelegate(&f, 9, f.uid[1], 10000, L), 0); /* 3 = e-2: not in V_5 */
  ONE(&f, sf_undelegate(&f, 8, f.uid[1], 10000, L), 0); /* 4 = e-1: still in V_5 */
  sf_empty(&f, 1, 0);                                   /* 5: validator 1 double-signs */
  uint64_t stk0 = sf_audit(&f).stk_supply;
  ProtobufCBinaryData ev = sf_evidence(&f, 1, 5);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL); /* 6 */
  free(ev.data);
  /* 5%: the tokens (3000) lose 150, 8's entry 500, 9's nothing */
  assert_int_equal(sf_tokens(&f, 1), 3000 - 150);
  assert_int_equal(stk0 - sf_audit(&f).stk_supply, 150 + 500);
  sf_free(&f);
}

/* Review finding 3 (docs/staking.md §3 "Evidence age"): the last block
 * that may carry evidence of e is e + evidence_max_age (7 here), and
 * unbonding_blocks is 8: stake undelegated in block e-1 (still in V_e) is
 * paid at the end of block e-1+8 = e+7, so evidence in block e+7 reaches it
 * and evidence one block later is refused (too old) — there is no block in
 * which the proof is still accepted but the stake has gone. With an age of
 * 8 (= unbonding_blocks, which genesis now refuses: test_genesis) block e+8
 * would still accept the evidence and find the entry paid. */
static void test_evidence_at_the_age_limit_reaches_stake_that_left(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  assert_true(state_params(f.st)->evidence_max_age < state_params(f.st)->unbonding_blocks);
  ONE(&f, sf_delegate(&f, 8, f.uid[1], 10000, L), 0);   /* 1 */
  sf_empty(&f, 2, 0);                                   /* 2, 3 */
  ONE(&f, sf_undelegate(&f, 8, f.uid[1], 10000, L), 0); /* 4 = e-1: release 12 */
  sf_empty(&f, 1, 0);                                   /* 5 = e: validator 1 double-signs */
  uint64_t A = state_params(f.st)->evidence_max_age;
  while (state_height(f.st) < 5 + A - 1) sf_empty(&f, 1, 0);
  ProtobufCBinaryData ev = sf_evidence(&f, 1, 5);
  core_errbuf eb;
  assert_int_equal(state_check_evidence(f.st, ev.data, ev.len, &eb), 0);
  uint64_t stk0 = sf_audit(&f).stk_supply, c8, s8;
  sf_balance(&f, 8, &c8, &s8);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL); /* 12 = e + A: the entry is still pending */
  assert_int_equal(state_height(f.st), 12);
  assert_int_equal(stk0 - sf_audit(&f).stk_supply, 150 + 500); /* tokens 3000 and the entry */
  uint64_t c, st;
  sf_balance(&f, 8, &c, &st);
  assert_int_equal(st, s8 + 9500); /* paid at the end of block 12, slashed */
  /* one block later the same item would be too old: refused, not a slash */
  ProtobufCBinaryData ev2 = sf_evidence(&f, 2, 5);
  assert_int_equal(state_check_evidence(f.st, ev2.data, ev2.len, &eb), COHORT_ERR_INVALID);
  assert_non_null(strstr(eb.msg, "too old"));
  free(ev.data);
  free(ev2.data);
  sf_audit(&f);
  sf_free(&f);
}

/* A parameter-change proposal from account u (one change), or u's yes vote
 * on proposal id. */
static uint8_t *param_tx(sfx *f, int u, const char *name, uint64_t value, size_t *len) {
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgSubmitProposal m = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  Cohort__ParamChange c = COHORT__PARAM_CHANGE__INIT, *cp = &c;
  c.name = (char *)name;
  c.value = value;
  m.kind = 1;
  m.title = "change";
  m.n_changes = 1;
  m.changes = &cp;
  m.deposit = 100;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
  b.submit_proposal = &m;
  b.fee = 100000;
  return sf_tx(f, u, &b, len);
}

static uint8_t *yes_tx(sfx *f, int u, uint64_t id, size_t *len) {
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgVote v = COHORT__MSG_VOTE__INIT;
  v.proposal = id;
  v.option = 1;
  b.msg_case = COHORT__TX_BODY__MSG_VOTE;
  b.vote = &v;
  return sf_tx(f, u, &b, len);
}

/* Propose name = value, vote it through (70% yes) and wait for the
 * outcome; returns the proposal (caller frees). */
static Cohort__GovProposal *pass_change(sfx *f, const char *name, uint64_t value) {
  uint64_t id;
  assert_int_equal(state_gov_next_id(f->st, &id), 0);
  ONE(f, param_tx(f, 0, name, value, L), 0);
  for (int u = 0; u < 2; u++) ONE(f, yes_tx(f, u, id, L), 0);
  Cohort__GovProposal *gp = NULL;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(state_get_proposal(f->st, id, &gp), 0);
    if (gp->applied_height || gp->failed_reason[0]) break;
    cohort__gov_proposal__free_unpacked(gp, NULL);
    gp = NULL;
    sf_empty(f, 1, 0);
  }
  assert_non_null(gp);
  return gp;
}

/* Review finding 3, governance: unbonding_blocks rises 8 -> 20 at height
 * s; entries written before s keep their 8-block release. A raise of
 * evidence_max_age to 15 (< 20: the relation holds) before s + 20 would let
 * stake that left under the old period be paid before its offence may no
 * longer be proven (undelegated at u, offence at u+1, paid at the end of
 * u+8, evidence accepted until u+16): it FAILS with the reason and nothing
 * changes. Once s + 20 has passed, the same change is applied. Fails
 * without the transition rule (the raise is applied at once). */
static void test_raising_evidence_age_waits_for_old_unbondings(void **s) {
  (void)s;
  sfx f;
  sf_init(&f,
          "\"unbonding_blocks\":8,\"evidence_max_age\":7,\"min_self_bond\":\"500\","
          "\"min_delegation\":\"10\",\"max_validators\":5,\"gas_price_milli\":\"0\","
          "\"min_fee\":\"10\",\"gov_min_deposit\":\"100\",\"gov_deposit_blocks\":2,"
          "\"gov_voting_blocks\":2",
          POW);
  Cohort__GovProposal *gp = pass_change(&f, "unbonding_blocks", 20);
  assert_int_not_equal(gp->applied_height, 0);
  uint64_t since = gp->applied_height;
  cohort__gov_proposal__free_unpacked(gp, NULL);
  assert_int_equal(state_params(f.st)->unbonding_blocks, 20);
  gp = pass_change(&f, "evidence_max_age", 15);
  assert_int_equal(gp->applied_height, 0);
  assert_int_equal(gp->status, GOV_ST_FAILED);
  if (!strstr(gp->failed_reason, "evidence_max_age may rise only once unbonding_blocks"))
    fail_msg("failed_reason: %s", gp->failed_reason);
  cohort__gov_proposal__free_unpacked(gp, NULL);
  assert_int_equal(state_params(f.st)->evidence_max_age, 7);
  while (state_height(f.st) < since + 20) sf_empty(&f, 1, 0);
  gp = pass_change(&f, "evidence_max_age", 15);
  assert_true(gp->applied_height >= since + 20);
  cohort__gov_proposal__free_unpacked(gp, NULL);
  assert_int_equal(state_params(f.st)->evidence_max_age, 15);
  sf_audit(&f);
  sf_free(&f);
}

/* Review finding 2: governance shrinks signed_blocks_window from 16 to 10
 * (the same two bytes of missed bits). Validator 3 had missed heights 10..15
 * (6 of 16, within the old limit of 8); those stale bits must not count
 * against the new limit of 5: the window restarts at the change, so a
 * validator that signs every block after it is neither jailed nor slashed. */
static uint8_t *gov_tx(sfx *f, int u, int vote, size_t *len) {
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgSubmitProposal m = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  Cohort__ParamChange c = COHORT__PARAM_CHANGE__INIT, *cp = &c;
  Cohort__MsgVote v = COHORT__MSG_VOTE__INIT;
  if (vote) {
    v.proposal = 1;
    v.option = 1; /* yes */
    b.msg_case = COHORT__TX_BODY__MSG_VOTE;
    b.vote = &v;
  } else {
    c.name = "signed_blocks_window";
    c.value = 10;
    m.kind = 1;
    m.title = "shorter window";
    m.n_changes = 1;
    m.changes = &cp;
    m.deposit = 100;
    b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
    b.submit_proposal = &m;
    b.fee = 100000;
  }
  return sf_tx(f, u, &b, len);
}

static void test_window_change_restarts_the_count(void **s) {
  (void)s;
  sfx f;
  sf_init(&f,
          "\"unbonding_blocks\":8,\"evidence_max_age\":7,\"signed_blocks_window\":16,"
          "\"min_signed_bps\":5000,\"downtime_jail_blocks\":5,\"slash_downtime_bps\":100,"
          "\"min_self_bond\":\"500\",\"min_delegation\":\"10\",\"max_validators\":5,"
          "\"gas_price_milli\":\"0\",\"min_fee\":\"10\",\"gov_min_deposit\":\"100\","
          "\"gov_deposit_blocks\":2,\"gov_voting_blocks\":2",
          POW);
  sf_empty(&f, 9, 0);            /* 1..9 signed by all */
  sf_empty(&f, 6, 1u << 3);      /* 10..15: key 3 does not sign */
  ONE(&f, gov_tx(&f, 0, 0, L), 0); /* 16: the proposal, voting at once */
  for (int u = 0; u < 2; u++) ONE(&f, gov_tx(&f, u, 1, L), 0); /* 17, 18: 70% yes */
  uint64_t tokens0 = sf_tokens(&f, 3);
  while (state_params(f.st)->signed_blocks_window != 10 && state_height(f.st) < 40)
    sf_empty(&f, 1, 0);
  assert_int_equal(state_params(f.st)->signed_blocks_window, 10);
  sf_empty(&f, 12, 0); /* everyone signs */
  Cohort__ValidatorInfo *v = sf_val(&f, 3);
  assert_int_equal(v->jailed_until, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  assert_int_equal(sf_tokens(&f, 3), tokens0);
  sf_audit(&f);
  sf_free(&f);
}

/* Attack: hop away from a validator about to be slashed by redelegating
 * twice, or by redelegating and then undelegating at the destination. */
static void test_redelegation_hops_and_escapes(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[2], 10000, L), 0); /* 1 */
  ONE(&f, sf_delegate(&f, 9, f.uid[2], 10000, L), 0); /* 2: validator 2 double-signs at 2 */
  ONE(&f, sf_redelegate(&f, 8, f.uid[2], f.uid[3], 10000, L), 0); /* 3 */
  ONE(&f, sf_redelegate(&f, 8, f.uid[3], f.uid[0], 10000, L), COHORT_ERR_INVALID); /* hop */
  ONE(&f, sf_redelegate(&f, 9, f.uid[2], f.uid[3], 10000, L), 0); /* 5 */
  ONE(&f, sf_undelegate(&f, 9, f.uid[3], 10000, L), 0);          /* 6: and away */
  uint64_t t3 = sf_tokens(&f, 3);
  ProtobufCBinaryData ev = sf_evidence(&f, 2, 2);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL); /* 7 */
  free(ev.data);
  /* 8 still holds its redelegated stake at 3: 5% of it goes there */
  assert_int_equal(sf_value(&f, 8, 3), 10000 - 500);
  assert_int_equal(sf_tokens(&f, 3), t3 - 500);
  /* 9 left 3 again: its unbonding entry there pays the 5% */
  while (state_height(f.st) < 6 + 8) sf_empty(&f, 1, 0);
  uint64_t c, s0;
  sf_balance(&f, 9, &c, &s0);
  assert_int_equal(s0, 100000 - 10000 + 9500);
  /* once 8's redelegation matured (3 + 8 = 11) it may move on */
  ONE(&f, sf_redelegate(&f, 8, f.uid[3], f.uid[0], 9500, L), 0);
  sf_audit(&f);
  sf_free(&f);
}

/* Limits: max_entries unbondings per (delegator, validator), merged within
 * a block; max_delegations per delegator. */
static void test_entry_and_delegation_limits(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[0], 1000, L), 0);
  size_t lens[2];
  uint8_t *two[2] = {sf_undelegate(&f, 8, f.uid[0], 10, &lens[0]),
                     sf_undelegate(&f, 8, f.uid[0], 10, &lens[1])};
  state_tx_result res[2];
  sf_block(&f, two, lens, 2, NULL, 0, 0, res); /* one entry of 20 */
  assert_int_equal(res[0].code, 0);
  assert_int_equal(res[1].code, 0);
  ONE(&f, sf_undelegate(&f, 8, f.uid[0], 10, L), 0);
  ONE(&f, sf_undelegate(&f, 8, f.uid[0], 10, L), 0);
  ONE(&f, sf_undelegate(&f, 8, f.uid[0], 10, L), COHORT_ERR_TOO_LARGE); /* a 4th entry */
  ONE(&f, sf_undelegate(&f, 8, f.uid[0], 10000, L), COHORT_ERR_FUNDS);  /* more than it has */
  ONE(&f, sf_undelegate(&f, 9, f.uid[0], 10, L), COHORT_ERR_NOT_FOUND); /* no delegation */
  ONE(&f, sf_delegate(&f, 8, f.uid[0], 9, L), COHORT_ERR_AMOUNT);       /* < min_delegation */
  ONE(&f, sf_delegate(&f, 8, f.uid[7], 100, L), COHORT_ERR_NOT_FOUND);  /* not a validator */
  for (int v = 1; v < 4; v++) ONE(&f, sf_delegate(&f, 8, f.uid[v], 100, L), 0);
  ONE(&f, sf_create(&f, 4, 4, 5000, 0, 100, 100, L), 0);
  ONE(&f, sf_delegate(&f, 8, f.uid[4], 100, L), COHORT_ERR_TOO_LARGE); /* a 5th */
  sf_audit(&f);
  sf_free(&f);
}

/* Downtime: validator 3 stops signing. It is jailed once the window is
 * full and it missed more than W - ceil(W/2); slashed 1% with its
 * delegators; out of the set at H+2; a big delegation does not bring it
 * back; it re-enters only with Unjail, from jailed_until. */
static void test_downtime_jail_and_unjail(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[3], 1000, L), 0); /* 1, signed by all */
  /* from block 2 on, key 3 does not sign */
  uint32_t off = 1u << 3;
  uint64_t jailed_at = 0;
  for (int i = 0; i < 20 && !jailed_at; i++) {
    sf_empty(&f, 1, off);
    Cohort__ValidatorInfo *v = sf_val(&f, 3);
    if (v->jailed_until) jailed_at = state_height(f.st);
    cohort__validator_info__free_unpacked(v, NULL);
  }
  /* misses from height 2; at block H it counts H-1: the window (from
   * signing_since 1) is full at H-1 = 11, with 10 misses > 5 */
  assert_int_equal(jailed_at, 12);
  Cohort__ValidatorInfo *v = sf_val(&f, 3);
  assert_int_equal(v->jailed_until, 12 + 5);
  assert_int_equal(v->tokens, 2000 - 20); /* 1% of 2000 (1000 + 8's 1000) */
  assert_int_equal(v->missed_count, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  assert_int_equal(sf_value(&f, 8, 3), 990);
  assert_true(sf_in_set(&f, 1, 3));
  assert_false(sf_in_set(&f, 2, 3));
  /* still absent: no second jail, no second slash */
  sf_empty(&f, 2, off);
  assert_int_equal(sf_tokens(&f, 3), 1980);
  /* a large delegation does not make it a validator again */
  ONE(&f, sf_delegate(&f, 9, f.uid[3], 50000, L), 0); /* 15 */
  ONE(&f, sf_unjail(&f, 3, L), COHORT_ERR_INVALID);   /* 16 < 17 */
  assert_false(sf_in_set(&f, 2, 3));
  assert_int_equal(state_next_validators(f.st)->n_validators, 3);
  ONE(&f, sf_unjail(&f, 8, L), COHORT_ERR_NOT_FOUND); /* 17: no validator */
  ONE(&f, sf_unjail(&f, 3, L), 0);                    /* 18 */
  assert_true(sf_in_set(&f, 2, 3));
  assert_memory_equal(state_next_validators(f.st)->validators[0]->pubkey.data, f.vpub[3], 32);
  ONE(&f, sf_unjail(&f, 3, L), COHORT_ERR_INVALID); /* 19: not jailed */
  sf_empty(&f, 3, 0);
  v = sf_val(&f, 3);
  assert_int_equal(v->signing_since, 20); /* back in V_20 */
  assert_int_equal(v->jailed_until, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  sf_audit(&f);
  sf_free(&f);
}

/* The operator takes its whole self-bond out: jailed (no slash), out of
 * the set at H+2; Unjail needs the self-bond back. */
static void test_operator_leaving_leaves_the_set(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[2], 700, L), 0);
  ONE(&f, sf_undelegate(&f, 2, f.uid[2], 1600, L), 0); /* self-bond 400 < 500 */
  Cohort__ValidatorInfo *v = sf_val(&f, 2);
  assert_int_equal(v->jailed_until, state_height(f.st));
  assert_int_equal(v->tokens, 2700 - 1600);
  cohort__validator_info__free_unpacked(v, NULL);
  assert_false(sf_in_set(&f, 2, 2));
  ONE(&f, sf_unjail(&f, 2, L), COHORT_ERR_FUNDS);
  ONE(&f, sf_undelegate(&f, 2, f.uid[2], 400, L), 0); /* all of it */
  ONE(&f, sf_delegate(&f, 2, f.uid[2], 600, L), 0);
  ONE(&f, sf_unjail(&f, 2, L), 0);
  assert_true(sf_in_set(&f, 2, 2));
  sf_audit(&f);
  sf_free(&f);
}

/* Every operator leaves at once: the power index is empty, the set stays
 * as it was and blocks go on; a new validator then takes over alone. */
static void test_the_set_is_never_empty(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  size_t lens[4];
  uint8_t *txs[4];
  for (int i = 0; i < 4; i++) txs[i] = sf_undelegate(&f, i, f.uid[i], POW[i], &lens[i]);
  state_tx_result res[4];
  sf_block(&f, txs, lens, 4, NULL, 0, 0, res);
  for (int i = 0; i < 4; i++) assert_int_equal(res[i].code, 0);
  assert_int_equal(sf_audit(&f).bonded, 0);
  assert_int_equal(state_next_validators(f.st)->n_validators, 4);
  for (int i = 0; i < 6; i++) ONE(&f, sf_transfer(&f, 8, 9, 1, 100, L), 0); /* fees: community */
  assert_int_equal(state_validators(f.st)->n_validators, 4);
  ONE(&f, sf_create(&f, 5, 5, 1000, 0, 100, 100, L), 0);
  assert_int_equal(state_next_validators(f.st)->n_validators, 1);
  sf_empty(&f, 3, 0);
  assert_int_equal(state_validators(f.st)->n_validators, 1);
  assert_true(sf_in_set(&f, 1, 5));
  sf_audit(&f);
  sf_free(&f);
}

/* max_validators = 5: of eight validators, the five with most tokens. */
static void test_top_max_validators(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  size_t lens[4];
  uint8_t *txs[4];
  uint64_t bond[4] = {1500, 2500, 600, 3500};
  for (int i = 0; i < 4; i++) txs[i] = sf_create(&f, 4 + i, 4 + i, bond[i], 0, 100, 100, &lens[i]);
  sf_block(&f, txs, lens, 4, NULL, 0, 0, NULL);
  const Cohort__ValidatorSet *nx = state_next_validators(f.st);
  assert_int_equal(nx->n_validators, 5);
  int want[5] = {0, 7, 1, 5, 2}; /* 4000 3500 3000 2500 2000 */
  for (int i = 0; i < 5; i++) {
    assert_memory_equal(nx->validators[i]->pubkey.data, f.vpub[want[i]], 32);
    assert_int_equal(nx->validators[i]->power, i == 0 ? 4000 : i == 1 ? 3500 : i == 2 ? 3000
                                                       : i == 3 ? 2500 : 2000);
  }
  /* a delegation moves one in, another out */
  ONE(&f, sf_delegate(&f, 8, f.uid[6], 5000, L), 0);
  assert_true(sf_in_set(&f, 2, 6));
  assert_false(sf_in_set(&f, 2, 2));
  sf_empty(&f, 3, 0);
  sf_audit(&f);
  sf_free(&f);
}

/* Review finding 8: (1) genesis validators moved their commission by up
 * to 10000 bps per change, so one could go from 0 to 100% in one edit;
 * their default max change is now 100 bps. (2) A change applied in the
 * block of the edit, so delegators had no chance to leave before a
 * raise; now it is announced and applies after the distribution of
 * block h + commission_change_blocks (3 here): fees of blocks h .. h+3
 * are split at the old rate, those of h+4 at the new one. */
static void test_commission_is_announced_before_it_applies(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  Cohort__ValidatorInfo *v = sf_val(&f, 0);
  assert_int_equal(v->max_change_bps, 100);
  assert_int_equal(v->commission_bps, 0);
  cohort__validator_info__free_unpacked(v, NULL);
  sf_empty(&f, 2, 0);
  ONE(&f, sf_commission(&f, 0, 10000, L), COHORT_ERR_INVALID); /* 3: 0 -> 100% at once */
  ONE(&f, sf_commission(&f, 0, 101, L), COHORT_ERR_INVALID);   /* 4: more than 1% */
  ONE(&f, sf_commission(&f, 0, 100, L), 0);                    /* 5: in force after 5 + 3 */
  v = sf_val(&f, 0);
  assert_int_equal(v->commission_bps, 0);
  assert_int_equal(v->commission_next_at, 8);
  cohort__validator_info__free_unpacked(v, NULL);
  /* a fee of 10000 in blocks 6, 7, 8 (old rate: no commission) and 9
   * (new rate); validator 0 has 4000 of the 10000 power */
  uint64_t R = 10000 - 10000 * 200 / 10000, r0 = R * 4000 / 10000, owed[5];
  v = sf_val(&f, 0);
  owed[0] = v->commission_owed;
  cohort__validator_info__free_unpacked(v, NULL);
  for (int i = 1; i <= 4; i++) {
    ONE(&f, sf_transfer(&f, 5, 6, 1, 10000, L), 0);
    v = sf_val(&f, 0);
    owed[i] = v->commission_owed;
    if (i < 4) assert_int_equal(v->commission_bps, i < 3 ? 0 : 100);
    cohort__validator_info__free_unpacked(v, NULL);
  }
  assert_int_equal(state_height(f.st), 9);
  for (int i = 1; i <= 3; i++) assert_int_equal(owed[i], owed[0]);
  assert_int_equal(owed[4] - owed[3], r0 * 100 / 10000);
  /* the next change no earlier than after the last one applied */
  ONE(&f, sf_commission(&f, 0, 200, L), 0); /* 10 */
  sf_audit(&f);
  sf_free(&f);
}

/* The reward of validator op in the next block h for a block fee total
 * F, all of V_{h-1} signing (staking_fixture signs with every key): R = F
 * - community tax, by power in V_{h-1}. */
static uint64_t next_reward(sfx *f, int op, uint64_t F) {
  const Cohort__ValidatorSet *vs = state_last_validators(f->st); /* V_{h-1} of the next block h */
  u128 total = 0, p = 0;
  for (size_t i = 0; i < vs->n_validators; i++) {
    total += vs->validators[i]->power;
    if (!memcmp(vs->validators[i]->operator_.data, f->uid[op], 20)) p = vs->validators[i]->power;
  }
  uint64_t R = F - F * 200 / 10000;
  return (uint64_t)((u128)R * p / total);
}

/* Review finding 9: just-in-time delegation. Block h carries a large fee;
 * 9 delegates to validator 0 in the same block (after the fee's tx, as a
 * proposer's friend would), and 8 tops up its delegation. Neither the new
 * delegation nor the top-up earns anything of h's fees: those go to the
 * shares bonded through all of h (8's old 1000 and the operator's 4000).
 * From h + 1 on both earn their full share. Fails when the distribution
 * divides by the shares as they are at the end of the block. */
static void test_a_delegation_earns_from_the_next_block(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  ONE(&f, sf_delegate(&f, 8, f.uid[0], 1000, L), 0); /* 1: validator 0 has 5000 shares */
  sf_empty(&f, 2, 0);
  uint64_t c8, c9, stk, p0 = sf_pending(&f, 0, 0), p8 = sf_pending(&f, 8, 0);
  sf_balance(&f, 8, &c8, &stk);
  sf_balance(&f, 9, &c9, &stk);
  /* block h = 4: a fee of 100000, then 9's new delegation and 8's top-up */
  uint64_t r = next_reward(&f, 0, 100000 + 10 + 10);
  size_t lens[3];
  uint8_t *txs[3] = {sf_transfer(&f, 5, 6, 1, 100000, &lens[0]),
                     sf_delegate(&f, 9, f.uid[0], 2000, &lens[1]),
                     sf_delegate(&f, 8, f.uid[0], 1000, &lens[2])};
  state_tx_result res[3];
  sf_block(&f, txs, lens, 3, NULL, 0, 0, res);
  for (int i = 0; i < 3; i++) assert_int_equal(res[i].code, 0);
  assert_int_equal(sf_pending(&f, 9, 0), 0);
  assert_int_equal(sf_pending(&f, 8, 0), 0); /* its old 1000's part was paid at the block's end */
  uint64_t c;
  sf_balance(&f, 9, &c, &stk);
  assert_int_equal(c, c9 - 10); /* its fee, and nothing of block 4 */
  sf_balance(&f, 8, &c, &stk);
  NEAR(c, c8 - 10 + p8 + share_of(r, 5000, 1000)); /* the old 1000 shares earned block 4 */
  NEAR(sf_pending(&f, 0, 0) - p0, share_of(r, 5000, 4000)); /* over 5000 shares, not 8000 */
  /* block 5: a fee; now 9 and 8 each hold 2000 of 8000 shares */
  uint64_t r5 = next_reward(&f, 0, 100000);
  ONE(&f, sf_transfer(&f, 5, 6, 1, 100000, L), 0);
  NEAR(sf_pending(&f, 9, 0), share_of(r5, 8000, 2000));
  NEAR(sf_pending(&f, 8, 0), share_of(r5, 8000, 2000));
  /* a delegation that moves away in a block earns nothing of it, as
   * before; the redelegated stake earns at dst from the next block */
  uint64_t p9 = sf_pending(&f, 9, 0);
  sf_balance(&f, 9, &c9, &stk);
  txs[0] = sf_transfer(&f, 5, 6, 1, 100000, &lens[0]);
  txs[1] = sf_redelegate(&f, 9, f.uid[0], f.uid[1], 2000, &lens[1]);
  sf_block(&f, txs, lens, 2, NULL, 0, 0, res); /* 6 */
  assert_int_equal(res[1].code, 0);
  assert_int_equal(sf_pending(&f, 9, 1), 0);
  sf_balance(&f, 9, &c, &stk);
  assert_int_equal(c, c9 - 10 + p9);
  ONE(&f, sf_transfer(&f, 5, 6, 1, 100000, L), 0); /* 7 */
  assert_true(sf_pending(&f, 9, 1) > 0);
  sf_audit(&f);
  sf_free(&f);
}

/* ---- governance helpers: a parameter change voted through ---- */

#define GOV_PARAMS                                                                       \
  SF_PARAMS ",\"gov_min_deposit\":\"100\",\"gov_deposit_blocks\":2,\"gov_voting_blocks\":2"

/* A proposal by u changing n parameters (voting at once: the deposit is
 * gov_min_deposit); yes_tx (above) votes for it. */
static uint8_t *changes_tx(sfx *f, int u, const char **names, const uint64_t *values, size_t n,
                           size_t *len) {
  Cohort__ParamChange c[4], *cp[4];
  for (size_t i = 0; i < n; i++) {
    cohort__param_change__init(&c[i]);
    c[i].name = (char *)names[i];
    c[i].value = values[i];
    cp[i] = &c[i];
  }
  Cohort__MsgSubmitProposal m = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  m.kind = 1;
  m.title = "parameters";
  m.n_changes = n;
  m.changes = cp;
  m.deposit = 100;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
  b.submit_proposal = &m;
  b.fee = 100000;
  return sf_tx(f, u, &b, len);
}

/* The queue entry of a key, or 0 fields when absent. */
static int ub_entry(sfx *f, uint64_t rel, int op, int del, uint64_t *amount, uint64_t *height) {
  uint8_t k[52] = "uq/", *v;
  size_t vl;
  for (int i = 0; i < 8; i++) k[3 + i] = (uint8_t)(rel >> (56 - 8 * i));
  k[11] = 2;
  memcpy(k + 12, f->uid[op], 20);
  memcpy(k + 32, f->uid[del], 20);
  if (state_get_raw(f->st, k, sizeof k, &v, &vl)) return 0;
  Cohort__UnbondingDelegation *e = cohort__unbonding_delegation__unpack(NULL, vl, v);
  free(v);
  if (!e) abort();
  *amount = e->amount;
  *height = e->height;
  cohort__unbonding_delegation__free_unpacked(e, NULL);
  return 1;
}

static int rd_entry(sfx *f, uint64_t rel, int src, int dst, int del, uint64_t *initial,
                    uint64_t *height) {
  uint8_t k[71] = "rq/", *v;
  size_t vl;
  for (int i = 0; i < 8; i++) k[3 + i] = (uint8_t)(rel >> (56 - 8 * i));
  memcpy(k + 11, f->uid[src], 20);
  memcpy(k + 31, f->uid[dst], 20);
  memcpy(k + 51, f->uid[del], 20);
  if (state_get_raw(f->st, k, sizeof k, &v, &vl)) return 0;
  Cohort__Redelegation *e = cohort__redelegation__unpack(NULL, vl, v);
  free(v);
  if (!e) abort();
  *initial = e->initial;
  *height = e->height;
  cohort__redelegation__free_unpacked(e, NULL);
  return 1;
}

/* Review finding 7: governance lowers unbonding_blocks from 8 to 4, so an
 * undelegation of block 3 (release 3 + 8) and one of block 7 (release
 * 7 + 4) of the same delegator and validator release at the same height
 * 11; the same for two redelegations. Validator 1 double-signs at 6: the
 * stake that left at 3 was out of V_6 and must not be slashed, the stake
 * that left at 7 backed V_6 and must be. Merged into one entry of height 7
 * (as before the fix) 5% of both is burned; the later undelegation must
 * take the next free release height (12) in its own entry instead. */
static void test_unbonding_entries_of_two_blocks_never_merge(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, GOV_PARAMS, POW);
  size_t lens[4];
  uint8_t *txs[4];
  state_tx_result res[4];
  txs[0] = sf_delegate(&f, 8, f.uid[1], 10000, &lens[0]);
  txs[1] = sf_delegate(&f, 9, f.uid[1], 10000, &lens[1]);
  sf_block(&f, txs, lens, 2, NULL, 0, 0, res); /* 1 */
  const char *names[2] = {"unbonding_blocks", "evidence_max_age"};
  const uint64_t vals[2] = {4, 3}; /* evidence_max_age < unbonding_blocks */
  ONE(&f, changes_tx(&f, 0, names, vals, 2, L), 0); /* 2: voting at once, ends at 4 */
  txs[0] = yes_tx(&f, 0, 1, &lens[0]);
  txs[1] = yes_tx(&f, 1, 1, &lens[1]);
  txs[2] = sf_undelegate(&f, 8, f.uid[1], 1000, &lens[2]);
  txs[3] = sf_redelegate(&f, 9, f.uid[1], f.uid[0], 1000, &lens[3]);
  sf_block(&f, txs, lens, 4, NULL, 0, 0, res); /* 3: released at 3 + 8 = 11 */
  for (int i = 0; i < 4; i++) assert_int_equal(res[i].code, 0);
  sf_empty(&f, 1, 0); /* 4: tally; in force from 5 */
  assert_int_equal(state_params(f.st)->unbonding_blocks, 4);
  sf_empty(&f, 2, 0); /* 5, 6: validator 1 double-signs at 6 */
  txs[0] = sf_undelegate(&f, 8, f.uid[1], 2000, &lens[0]);
  txs[1] = sf_redelegate(&f, 9, f.uid[1], f.uid[0], 2000, &lens[1]);
  sf_block(&f, txs, lens, 2, NULL, 0, 0, res); /* 7: 7 + 4 = 11 too */
  assert_int_equal(res[0].code, 0);
  assert_int_equal(res[1].code, 0);
  uint64_t t1 = sf_tokens(&f, 1), v9 = sf_value(&f, 9, 0), stk0 = sf_audit(&f).stk_supply;
  ProtobufCBinaryData ev = sf_evidence(&f, 1, 6);
  sf_block(&f, NULL, NULL, 0, &ev, 1, 0, NULL); /* 8 */
  free(ev.data);
  /* 5%: of the bonded tokens, of 8's entry of block 7 (100), of 9's
   * redelegation of block 7 (100, taken at validator 0); nothing of the
   * stake that left at 3 */
  uint64_t cut = t1 * 500 / 10000;
  assert_int_equal(sf_tokens(&f, 1), t1 - cut);
  assert_int_equal(sf_value(&f, 9, 0), v9 - 100);
  assert_int_equal(stk0 - sf_audit(&f).stk_supply, cut + 100 + 100);
  /* one entry per block: the later one waits one block more */
  uint64_t a, h;
  assert_true(ub_entry(&f, 11, 1, 8, &a, &h));
  assert_int_equal(a, 1000);
  assert_int_equal(h, 3);
  assert_true(ub_entry(&f, 12, 1, 8, &a, &h));
  assert_int_equal(a, 2000 - 100);
  assert_int_equal(h, 7);
  assert_true(rd_entry(&f, 11, 1, 0, 9, &a, &h));
  assert_int_equal(a, 1000);
  assert_int_equal(h, 3);
  assert_true(rd_entry(&f, 12, 1, 0, 9, &a, &h));
  assert_int_equal(a, 2000);
  assert_int_equal(h, 7);
  /* 8 gets 1000 at 11 and 1900 at 12 */
  uint64_t c, s8, stk;
  sf_balance(&f, 8, &c, &s8);
  while (state_height(f.st) < 11) sf_empty(&f, 1, 0);
  sf_balance(&f, 8, &c, &stk);
  assert_int_equal(stk, s8 + 1000);
  sf_empty(&f, 1, 0);
  sf_balance(&f, 8, &c, &stk);
  assert_int_equal(stk, s8 + 1000 + 1900);
  /* within one block entries still merge (and need no free entry) */
  txs[0] = sf_undelegate(&f, 8, f.uid[1], 10, &lens[0]);
  txs[1] = sf_undelegate(&f, 8, f.uid[1], 10, &lens[1]);
  sf_block(&f, txs, lens, 2, NULL, 0, 0, res); /* 13 */
  assert_true(ub_entry(&f, 13 + 4, 1, 8, &a, &h));
  assert_int_equal(a, 20);
  assert_int_equal(h, 13);
  sf_audit(&f);
  sf_free(&f);
}

/* ---- the property test ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

#define PBLOCKS 160

static void test_random_workload(void **s) {
  (void)s;
  sfx f;
  sf_init(&f, SF_PARAMS, POW);
  int created[SF_NU] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  int keyused[SF_NK] = {1, 1, 1, 1, 0, 0, 0, 0};
  uint32_t out = 0; /* keys down for a while */
  uint64_t n_tx = 0, n_ev = 0, n_jail = 0, n_ok = 0, distributions = 0;
  for (int bi = 0; bi < PBLOCKS; bi++) {
    uint8_t *txs[40];
    size_t lens[40], n = 0, want = rnd() % 12;
    for (size_t i = 0; i < want; i++) {
      int u = (int)(rnd() % SF_NU), v = (int)(rnd() % 8), w = (int)(rnd() % 8);
      uint64_t amt = 1 + rnd() % (rnd() % 3 ? 3000 : 30000);
      switch (rnd() % 11) {
        case 0:
        case 1:
          txs[n] = sf_delegate(&f, u, f.uid[v], amt, &lens[n]);
          break;
        case 2:
        case 3: {
          uint64_t val = safe_value(&f, u, v);
          if (val && rnd() % 3 == 0) amt = val; /* all of it */
          txs[n] = sf_undelegate(&f, u, f.uid[v], amt, &lens[n]);
          break;
        }
        case 4:
          txs[n] = sf_redelegate(&f, u, f.uid[v], f.uid[w == v ? (w + 1) % 8 : w], amt, &lens[n]);
          break;
        case 5:
          txs[n] = sf_withdraw(&f, u, rnd() % 2 ? f.uid[v] : NULL, &lens[n]);
          break;
        case 6:
          if (u >= 4 && u < 8 && !created[u] && !keyused[u]) {
            txs[n] = sf_create(&f, u, u, 500 + rnd() % 5000, (uint32_t)(rnd() % 2000), 3000, 400,
                               &lens[n]);
            created[u] = keyused[u] = 1; /* if it fails (funds), the key stays unused: fine */
          } else {
            txs[n] = sf_commission(&f, u, (uint32_t)(rnd() % 3000), &lens[n]);
          }
          break;
        case 7:
          txs[n] = sf_unjail(&f, u, &lens[n]);
          break;
        default:
          txs[n] = sf_transfer(&f, u, (int)(rnd() % SF_NU), 1 + rnd() % 1000, 10 + rnd() % 400,
                               &lens[n]);
      }
      n++;
    }
    /* a double sign now and then, by a validator of a recent set */
    ProtobufCBinaryData ev[1];
    size_t nev = 0;
    if (rnd() % 9 == 0 && state_height(f.st) > 2) {
      uint64_t e = state_height(f.st) - rnd() % 3;
      int k = (int)(rnd() % SF_NK);
      ev[0] = sf_evidence(&f, k, e);
      core_errbuf eb;
      if (state_check_evidence(f.st, ev[0].data, ev[0].len, &eb) == 0) nev = 1, n_ev++;
      else free(ev[0].data);
    }
    /* outages: a key goes down or comes back; never so much that 2/3 is lost */
    if (bi % 20 == 0) out = 1u << (rnd() % SF_NK); /* an outage of ~14 blocks (> W) */
    if (bi % 20 == 14) out = 0;
    if (rnd() % 7 == 0) out ^= 1u << (rnd() % SF_NK); /* and short ones */
    const Cohort__ValidatorSet *vs = state_validators(f.st);
    u128 tot = 0, up = 0;
    for (size_t i = 0; i < vs->n_validators; i++) {
      int k = sf_key_of(&f, vs->validators[i]->pubkey.data);
      tot += vs->validators[i]->power;
      if (!(out >> k & 1)) up += vs->validators[i]->power;
    }
    if (up * 3 <= tot * 2) out = 0;
    state_tx_result res[40];
    state_audit_report before = sf_audit(&f);
    sf_block(&f, txs, lens, n, ev, nev, out, res);
    for (size_t i = 0; i < nev; i++) free(ev[i].data);
    for (size_t i = 0; i < n; i++) n_ok += res[i].code == 0;
    n_tx += n;
    state_audit_report after = sf_audit(&f); /* both tokens, shares, rewards >= withdrawable */
    if (after.rewards > before.rewards) distributions++;
    for (int u = 0; u < 8; u++) {
      if (!created[u]) continue;
      Cohort__ValidatorInfo *vi;
      if (state_get_validator_info(f.st, f.uid[u], &vi)) {
        created[u] = 0; /* its create failed */
        continue;
      }
      n_jail += vi->jailed_until == state_height(f.st) + 5; /* jailed for downtime now */
      cohort__validator_info__free_unpacked(vi, NULL);
    }
  }
  /* Everyone withdraws everything: what is left in s/rewards is the
   * rounding dust §4 bounds (< 1 + shares/2^64 per distribution to a
   * validator, < 1 per settlement). */
  out = 0;
  uint8_t *txs[SF_NU];
  size_t lens[SF_NU];
  for (int u = 0; u < SF_NU; u++) txs[u] = sf_withdraw(&f, u, NULL, &lens[u]);
  state_tx_result res[SF_NU];
  /* the withdrawals' own fees are distributed at the end of their block:
   * count what that block added */
  sf_block(&f, txs, lens, SF_NU, NULL, 0, 0, res);
  for (int u = 0; u < SF_NU; u++) assert_int_equal(res[u].code, 0);
  state_audit_report fin = sf_audit(&f);
  /* what is still withdrawable came with this last block's own fees;
   * the rest of s/rewards is dust: accrued - withdrawn - withdrawable */
  uint64_t dust = fin.rewards - fin.withdrawable;
  uint64_t bound = 2 * (distributions + 1) * SF_NK + 3 * n_tx + 2 * SF_NU;
  printf("  %d blocks, %llu txs (%llu ok), %llu double signs, %llu downtime jails; rewards "
         "dust %llu base units (bound %llu)\n",
         PBLOCKS, (unsigned long long)n_tx, (unsigned long long)n_ok, (unsigned long long)n_ev,
         (unsigned long long)n_jail, (unsigned long long)dust, (unsigned long long)bound);
  assert_true(dust <= bound);
  assert_true(n_ev > 0);
  assert_true(n_ok > n_tx / 4);
  sf_free(&f);
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_genesis_records),
      cmocka_unit_test(test_fees_and_rewards_exact),
      cmocka_unit_test(test_commission_rules),
      cmocka_unit_test(test_commission_is_announced_before_it_applies),
      cmocka_unit_test(test_a_delegation_earns_from_the_next_block),
      cmocka_unit_test(test_create_validator_signs_from_h_plus_2),
      cmocka_unit_test(test_undelegating_before_the_proof_is_still_slashed),
      cmocka_unit_test(test_undelegating_the_block_before_the_offence_is_slashed),
      cmocka_unit_test(test_worthless_delegation_can_leave),
      cmocka_unit_test(test_evidence_at_the_age_limit_reaches_stake_that_left),
      cmocka_unit_test(test_raising_evidence_age_waits_for_old_unbondings),
      cmocka_unit_test(test_window_change_restarts_the_count),
      cmocka_unit_test(test_redelegation_hops_and_escapes),
      cmocka_unit_test(test_entry_and_delegation_limits),
      cmocka_unit_test(test_downtime_jail_and_unjail),
      cmocka_unit_test(test_operator_leaving_leaves_the_set),
      cmocka_unit_test(test_the_set_is_never_empty),
      cmocka_unit_test(test_top_max_validators),
      cmocka_unit_test(test_unbonding_entries_of_two_blocks_never_merge),
      cmocka_unit_test(test_random_workload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
