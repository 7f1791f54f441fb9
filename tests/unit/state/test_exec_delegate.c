/* Delegation to executors (docs/staking.md §8), on the market's test chain
 * with a real guest: a delegation adds draw weight and shares the pay after
 * the executor's commission; a raise of commission waits; a slash reaches
 * the delegators who backed the seat — bonded or unbonding since — and not
 * those who left before it was drawn; delegators can always leave; every
 * refusal changes nothing; the supply rule holds after every block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "market_fixture.h"

static void add_delegate(batch *b, int u, int ex, uint64_t amount, int undelegate) {
  Cohort__MsgDelegateExecutor d = COHORT__MSG_DELEGATE_EXECUTOR__INIT;
  Cohort__MsgUndelegateExecutor ud = COHORT__MSG_UNDELEGATE_EXECUTOR__INIT;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  if (undelegate) {
    ud.executor = (ProtobufCBinaryData){20, F.ids[ex]};
    ud.amount = amount;
    body.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR;
    body.undelegate_executor = &ud;
  } else {
    d.executor = (ProtobufCBinaryData){20, F.ids[ex]};
    d.amount = amount;
    body.msg_case = COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR;
    body.delegate_executor = &d;
  }
  add(b, u, &body);
}

static void add_withdraw(batch *b, int u, int ex) {
  Cohort__MsgWithdrawRewards m = COHORT__MSG_WITHDRAW_REWARDS__INIT;
  if (ex >= 0) m.executor = (ProtobufCBinaryData){20, F.ids[ex]};
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_WITHDRAW_REWARDS;
  body.withdraw_rewards = &m;
  add(b, u, &body);
}

static void add_register_commission(batch *b, int u, uint64_t stake, uint32_t commission) {
  Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  m.add_stake = stake;
  m.price_per_msteps = 1000000;
  m.accepting = 1;
  m.capacity = 16;
  m.commission_bps = commission;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
  body.register_executor = &m;
  add(b, u, &body);
}

static uint64_t stk_of(int u) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, F.ids[u], &c, &s, &n), 0);
  return s;
}

/* del's delegation to ex: its value and pending reward (0, 0 if none). */
static void delegation(int del, int ex, uint64_t *value, uint64_t *pending) {
  Cohort__Delegation *d;
  *value = *pending = 0;
  if (state_get_exec_delegation(ST, F.ids[del], F.ids[ex], &d)) return;
  Cohort__Executor *e = executor(ex);
  *value = state_exec_delegation_value(e, d->shares);
  assert_int_equal(state_exec_pending_reward(e, d, pending), 0);
  cohort__executor__free_unpacked(e, NULL);
  cohort__delegation__free_unpacked(d, NULL);
}

/* Blocks until tid is FINAL (or n blocks), auditing each. */
static void run_until_final(const uint8_t tid[32], int n) {
  for (int i = 0; i < n && task_status(tid) != 4; i++) {
    empty_blocks(1);
    check_conservation();
  }
  assert_int_equal(task_status(tid), 4);
}

/* One executor (user 1, own stake 10^6, commission 10%), delegators 5 and
 * 6: a task's pay is split by the draw weight, the delegators' part goes to
 * their accumulator less the commission, and they withdraw it. */
static void test_delegation_weighs_and_shares_pay(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register_commission(&b, 1, 1000000, 1000);
  commit(&b, NULL);
  add_delegate(&b, 5, 1, 1000000, 0);
  add_delegate(&b, 6, 1, 2000000, 0);
  commit(&b, NULL);
  check_conservation();
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->del_tokens, 3000000);
  assert_int_equal(e->del_shares, 3000000);
  assert_int_equal(e->commission_bps, 1000);
  cohort__executor__free_unpacked(e, NULL);

  uint8_t tid[32];
  add_submit(&b, 0, "abc", 1, 30000000, tid);
  commit(&b, NULL);
  empty_blocks(1);
  Cohort__Task *t = task(tid);
  assert_int_equal(t->n_members, 1);
  assert_int_equal(t->members[0]->stake, 4000000); /* weight: own + delegated */
  assert_int_equal(t->members[0]->delegated, 3000000);
  assert_int_equal(t->members[0]->seated_height, state_height(ST));
  cohort__task__free_unpacked(t, NULL);
  e = executor(1);
  assert_int_equal(e->seat_lock, 1000000); /* only its own stake is locked */
  cohort__executor__free_unpacked(e, NULL);

  run_t r;
  run_vm("abc", 16, 1000000, &r);
  serve_all(tid, &r);
  run_until_final(tid, 5);
  t = task(tid);
  uint64_t pay = t->paid;
  cohort__task__free_unpacked(t, NULL);
  assert_true(pay > 1000);
  uint64_t D = pay * 3 / 4, R = D - D / 10; /* protocol_fee_bps is 0 here */
  uint64_t v5, p5, v6, p6;
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(v5, 1000000);
  assert_int_equal(v6, 2000000);
  assert_true(p5 + p6 <= R && p5 + p6 + 2 >= R); /* floors: at most 1 unit each */
  assert_true(p6 >= 2 * p5 - 1 && p6 <= 2 * p5 + 1);

  uint64_t c5 = crd_of(5), c6 = crd_of(6);
  add_withdraw(&b, 5, 1);  /* that delegation */
  add_withdraw(&b, 6, -1); /* every delegation of 6 */
  commit(&b, NULL);
  check_conservation();
  assert_true(crd_of(5) + 1000000 > c5 + p5); /* p5 in, one fee out */
  assert_true(crd_of(6) + 1000000 > c6 + p6);
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(p5 + p6, 0);
  /* an undelegation keeps an idle chain making blocks until it is paid */
  assert_int_equal(state_has_scheduled_work(ST), 0);
  add_delegate(&b, 5, 1, 1000000, 1);
  commit(&b, NULL);
  assert_int_equal(state_has_scheduled_work(ST), 1);
  free_run(&r);
  teardown_chain();
}

/* A raise of commission waits unbonding_blocks (every delegator can leave
 * first); a cut is at once and drops a pending raise. */
static void test_commission_raise_waits(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_register_commission(&b, 1, 1000000, 500);
  commit(&b, NULL);
  add_register_commission(&b, 1, 0, 9000);
  commit(&b, NULL);
  uint64_t h = state_height(ST);
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->commission_bps, 500);
  assert_int_equal(e->commission_next, 9000);
  assert_int_equal(e->commission_at, h + 5);
  cohort__executor__free_unpacked(e, NULL);
  add_register_commission(&b, 1, 0, 200);
  commit(&b, NULL);
  e = executor(1);
  assert_int_equal(e->commission_bps, 200);
  assert_int_equal(e->commission_at, 0);
  cohort__executor__free_unpacked(e, NULL);
  teardown_chain();
}

/* The attack: a delegator who left before a seat was drawn must not pay
 * for that seat's no-show; one who leaves after the draw still does, and
 * so do the bonded ones. Executor 1 alone (own 10^6); delegators 5, 6 with
 * 2 * 10^6 each; 6 undelegates half before the task, 5 half after the
 * draw; 1 then misses its commit window (liveness_slash_bps = 10%). */
static void test_slash_reaches_who_backed_the_seat(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register_commission(&b, 1, 1000000, 0);
  commit(&b, NULL);
  add_delegate(&b, 5, 1, 2000000, 0);
  add_delegate(&b, 6, 1, 2000000, 0);
  commit(&b, NULL);
  uint64_t s5 = stk_of(5), s6 = stk_of(6);
  uint8_t tid[32];
  add_delegate(&b, 6, 1, 1000000, 1); /* leaves before the draw (still unbonding at the slash) */
  add_submit(&b, 0, "abc", 1, 30000000, tid);
  commit(&b, NULL);
  uint64_t left6 = state_height(ST);
  empty_blocks(1); /* the draw */
  assert_int_equal(task_status(tid), 1);
  add_delegate(&b, 5, 1, 1000000, 1); /* leaves after the draw */
  commit(&b, NULL);
  check_conservation();
  Cohort__Task *t = task(tid);
  uint64_t deadline = t->deadline;
  cohort__task__free_unpacked(t, NULL);
  while (state_height(ST) < deadline) {
    empty_blocks(1); /* no commit: a no-show at the deadline */
    check_conservation();
  }
  assert_true(state_height(ST) < left6 + 5); /* 6's entry was pending at the slash */
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->stake, 900000);
  assert_int_equal(e->del_tokens, 1800000); /* the bonded 2 * 10^6, less 10% */
  assert_int_equal(e->del_unbonding, 1000000 + 900000);
  assert_true(e->jailed_until > 0);
  cohort__executor__free_unpacked(e, NULL);
  for (int i = 0; i < 8; i++) { /* every entry released */
    empty_blocks(1);
    check_conservation();
  }
  e = executor(1);
  assert_int_equal(e->del_unbonding, 0);
  cohort__executor__free_unpacked(e, NULL);
  /* 6's entry was made before the seat: paid whole; 5's after: 10% less
   * (each also paid one fee in CRD, not STK) */
  assert_int_equal(stk_of(6) - s6, 1000000);
  assert_int_equal(stk_of(5) - s5, 900000);
  uint64_t v5, p5, v6, p6;
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(v5, 900000);
  assert_int_equal(v6, 900000);
  teardown_chain();
}

/* Found by fuzz_market (seed-exec_worthless): a delegation a slash made
 * worth 0 could never be undelegated (any amount exceeded its value), so
 * it kept a max_delegations slot and the executor's record for ever. Any
 * amount now removes it. */
static void test_worthless_delegation_can_leave(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register_commission(&b, 1, 1000000, 0);
  commit(&b, NULL);
  add_delegate(&b, 5, 1, 1000, 0);
  add_delegate(&b, 6, 1, 1000, 0);
  commit(&b, NULL);
  uint8_t tid[32];
  add_delegate(&b, 5, 1, 999, 1); /* 1 share left */
  add_submit(&b, 0, "abc", 1, 30000000, tid);
  commit(&b, NULL);
  empty_blocks(1);
  Cohort__Task *t = task(tid);
  uint64_t deadline = t->deadline;
  cohort__task__free_unpacked(t, NULL);
  while (state_height(ST) < deadline) empty_blocks(1); /* a no-show: 10% slashed */
  uint64_t v5, p5;
  delegation(5, 1, &v5, &p5);
  assert_int_equal(v5, 0); /* floor(1 * 901 / 1001) */
  int codes[2];
  add_delegate(&b, 5, 1, 1, 1);
  commit(&b, codes);
  assert_int_equal(codes[0], 0);
  Cohort__Delegation *d;
  assert_int_equal(state_get_exec_delegation(ST, F.ids[5], F.ids[1], &d), COHORT_ERR_NOT_FOUND);
  check_conservation();
  teardown_chain();
}

/* Bad input: each a clear code, nothing changed (the audit, the balances,
 * the executor's record). */
static void test_refusals_change_nothing(void **s) {
  (void)s;
  genesis_free(&F.g); /* the same keys, with max_entries 2 (unbonding_blocks is 5) */
  fx_init_params(&F, 11, ",\"max_entries\":2");
  setup_chain();
  batch b = {.n = 0};
  add_register_commission(&b, 1, 1000000, 0);
  commit(&b, NULL);
  uint64_t s5 = stk_of(5);
  int codes[16];
  add_delegate(&b, 5, 2, 5000, 0);        /* 2 is no executor */
  add_delegate(&b, 5, 1, 999, 0);         /* below min_delegation (1000) */
  add_delegate(&b, 5, 1, 6000000, 0);     /* above the STK balance (5 * 10^6) */
  add_delegate(&b, 5, 1, 5000, 1);        /* no delegation to undelegate */
  add_withdraw(&b, 5, 1);                 /* no delegation to withdraw from */
  commit(&b, codes);
  assert_int_equal(codes[0], COHORT_ERR_NOT_FOUND);
  assert_int_equal(codes[1], COHORT_ERR_AMOUNT);
  assert_int_equal(codes[2], COHORT_ERR_FUNDS);
  assert_int_equal(codes[3], COHORT_ERR_NOT_FOUND);
  assert_int_equal(codes[4], COHORT_ERR_NOT_FOUND);
  assert_int_equal(stk_of(5), s5);
  check_conservation();
  /* the cap: own stake 10^6 x exec_delegation_max_x (10) */
  add_delegate(&b, 5, 1, 4000000, 0);
  add_delegate(&b, 6, 1, 4000000, 0);
  add_delegate(&b, 2, 1, 2000001, 0); /* 10^7 + 1 */
  add_delegate(&b, 2, 1, 2000000, 0); /* exactly 10^7 */
  commit(&b, codes);
  assert_int_equal(codes[0] | codes[1], 0);
  assert_int_equal(codes[2], COHORT_ERR_INVALID);
  assert_int_equal(codes[3], 0);
  /* more than its value; then max_entries (2) pending from one block each */
  add_delegate(&b, 5, 1, 4000001, 1);
  commit(&b, codes);
  assert_int_equal(codes[0], COHORT_ERR_FUNDS);
  for (int i = 0; i < 2; i++) {
    add_delegate(&b, 5, 1, 1000, 1);
    add_delegate(&b, 5, 1, 1000, 1); /* the same block: the same entry */
    commit(&b, codes);
    assert_int_equal(codes[0] | codes[1], 0);
  }
  add_delegate(&b, 5, 1, 1000, 1);
  commit(&b, codes);
  assert_int_equal(codes[0], COHORT_ERR_TOO_LARGE);
  check_conservation();
  /* a jailed or unbonding executor keeps nobody: undelegating all works */
  uint64_t v5, p5;
  delegation(5, 1, &v5, &p5);
  assert_int_equal(v5, 4000000 - 4000);
  add_unbond(&b, 1, 1000000);
  commit(&b, NULL);
  add_delegate(&b, 6, 1, 4000000, 1);
  add_delegate(&b, 2, 1, 1000, 0); /* its own stake is 0 now: no room */
  commit(&b, codes);
  assert_int_equal(codes[0], 0);
  assert_int_equal(codes[1], COHORT_ERR_INVALID);
  uint64_t v6, p6;
  delegation(6, 1, &v6, &p6);
  assert_int_equal(v6, 0);
  check_conservation();
  teardown_chain();
  genesis_free(&F.g);
  fx_init_params(&F, 11, "");
}


/* ---- review: attacks (docs/staking.md §8) ---- */

static void add_challenge(batch *b, int u, const uint8_t tid[32]) {
  Cohort__MsgChallenge m = COHORT__MSG_CHALLENGE__INIT;
  m.task_id = (ProtobufCBinaryData){32, (uint8_t *)tid};
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_CHALLENGE;
  body.challenge = &m;
  add(b, u, &body);
}

/* Executor 1 (own 10^6, commission 0) with 8 * 10^6 delegated by 5 and 6
 * holds the only seat of a task of user 0; it reveals a lie and the quorum
 * of one agrees. Returns the task ID in tid. */
static void lie_with_delegations(uint8_t tid[32], uint64_t each) {
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register_commission(&b, 1, 1000000, 0);
  commit(&b, NULL);
  add_delegate(&b, 5, 1, each, 0);
  add_delegate(&b, 6, 1, each, 0);
  commit(&b, NULL);
  add_submit(&b, 0, "xyz", 1, 30000000, tid);
  commit(&b, NULL);
  empty_blocks(1);
  int m[1];
  assert_int_equal(members(tid, m), 1);
  assert_int_equal(m[0], 1);
  run_t liar;
  run_vm("xyZ", 16, 1000000, &liar);
  add_commit(&b, 1, tid, &liar);
  commit(&b, NULL);
  add_reveal(&b, 1, tid, &liar);
  commit(&b, NULL);
  free_run(&liar);
  assert_int_equal(task_status(tid), 3); /* agreed on the lie */
}

/* Empty blocks while tid is in a game (at most n), auditing each. */
static void run_while_disputed(const uint8_t tid[32], int n) {
  for (int i = 0; i < n && task_status(tid) == 5; i++) {
    empty_blocks(1);
    check_conservation();
  }
  assert_int_not_equal(task_status(tid), 5);
}

/* A lost game must not pay: the liar's accomplice (user 2) challenges it
 * from outside and the liar stays silent, so it loses on time. The winner's
 * share (dispute_winner_bps, 50%) of a slash that also took the delegators'
 * 10% must not exceed what the liar itself lost: else the pair (executor 1's
 * stake + user 2's balance) gains STK out of its delegators' bonds. */
static void test_attack_lost_game_pays_accomplice_from_delegators(void **s) {
  (void)s;
  setup_chain();
  uint8_t tid[32];
  lie_with_delegations(tid, 4000000);
  Cohort__Executor *e = executor(1);
  uint64_t own0 = e->stake + e->unbonding, del0 = e->del_tokens;
  cohort__executor__free_unpacked(e, NULL);
  uint64_t s2 = stk_of(2);
  batch b = {.n = 0};
  add_challenge(&b, 2, tid);
  commit(&b, NULL);
  assert_int_equal(task_status(tid), 5);
  run_while_disputed(tid, 200); /* the defender never moves */
  e = executor(1);
  uint64_t own1 = e->stake + e->unbonding, del1 = e->del_tokens;
  cohort__executor__free_unpacked(e, NULL);
  assert_int_equal(own1, own0 - own0 / 10); /* it lost: dispute_slash_bps */
  assert_int_equal(del1, del0 - del0 / 10); /* and so did its delegators */
  /* the winner gets its share of the liar's own loss only */
  assert_int_equal(stk_of(2), s2 + (own0 - own1) / 2);
  assert_true(own1 + stk_of(2) <= own0 + s2);
  check_conservation();
  teardown_chain();
}

/* Stake that backed a seat stays slashable until the seat settles: a
 * delegator of the liar who sees the challenge and undelegates at once
 * must still lose dispute_slash_bps when the liar loses, even if the game
 * lasts longer than unbonding_blocks (5 here; a silent defender loses
 * after dispute_move_blocks, 20). */
static void test_attack_delegation_leaves_before_the_game_ends(void **s) {
  (void)s;
  setup_chain();
  uint8_t tid[32];
  lie_with_delegations(tid, 4000000);
  uint64_t s5 = stk_of(5);
  batch b = {.n = 0};
  add_challenge(&b, 2, tid);
  add_delegate(&b, 5, 1, 4000000, 1); /* leaves as soon as the game starts */
  commit(&b, NULL);
  run_while_disputed(tid, 200);
  empty_blocks(8); /* the seat is gone: the entry is paid at its next due height */
  check_conservation();
  assert_int_equal(stk_of(5) - s5, 4000000 - 400000); /* slashed, and not held any longer */
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->del_unbonding, 0);
  cohort__executor__free_unpacked(e, NULL);
  teardown_chain();
}

/* del's delegation to ex waiting (docs/staking.md §8): amount, height. */
static int waiting(int del, int ex, uint64_t *amount, uint64_t *height) {
  return state_get_exec_waiting(ST, F.ids[del], F.ids[ex], amount, height);
}

/* Executor 1 alone (own 10^6, commission 0), 5 delegating d5 to it, and
 * a task of user 0 ("abc") whose one seat 1 holds: drawn, COMMITTING. */
static void seat_with_delegation(uint64_t d5, uint8_t tid[32]) {
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register_commission(&b, 1, 1000000, 0);
  commit(&b, NULL);
  add_delegate(&b, 5, 1, d5, 0);
  commit(&b, NULL);
  add_submit(&b, 0, "abc", 1, 30000000, tid);
  commit(&b, NULL);
  empty_blocks(1); /* the draw */
  assert_int_equal(task_status(tid), 1);
}

/* The pay of a seat belongs to the stake that backed it at the draw: a
 * delegation made after the draw (6, 4 * 10^6, "just in time" before
 * FINAL) must not take a part of it from the delegator that backed the
 * seat (5, 10^6). It waits — no weight, no pay; undelegating some of it
 * gives that back at once — until the seat settles, then is bonded and
 * weighs in the next draw. */
static void test_attack_jit_delegation_takes_pay_of_earlier_seat(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  uint8_t tid[32];
  seat_with_delegation(1000000, tid);
  run_t r;
  run_vm("abc", 16, 1000000, &r);
  serve_all(tid, &r);
  uint64_t s6 = stk_of(6);
  add_delegate(&b, 6, 1, 4000000, 0); /* after the draw, before FINAL */
  commit(&b, NULL);
  uint64_t joined = state_height(ST), amt = 0, h = 0;
  check_conservation();
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->del_pending, 4000000);
  assert_int_equal(e->del_tokens, 1000000); /* not weighed */
  cohort__executor__free_unpacked(e, NULL);
  assert_int_equal(stk_of(6), s6 - 4000000);
  assert_int_equal(waiting(6, 1, &amt, &h), 0);
  assert_int_equal(amt, 4000000);
  assert_int_equal(h, joined);
  int codes[2];
  add_delegate(&b, 6, 1, 4000001, 1); /* more than waits */
  add_delegate(&b, 6, 1, 1000, 1);    /* waiting: back at once, no unbonding */
  commit(&b, codes);                  /* (one block: the seat settles soon) */
  assert_int_equal(codes[0], COHORT_ERR_FUNDS);
  assert_int_equal(codes[1], 0);
  assert_int_equal(stk_of(6), s6 - 4000000 + 1000);
  check_conservation();
  run_until_final(tid, 5);
  Cohort__Task *t = task(tid);
  uint64_t pay = t->paid;
  assert_int_equal(t->members[0]->delegated, 1000000);
  cohort__task__free_unpacked(t, NULL);
  uint64_t R = pay / 2, v5, p5, v6, p6; /* half the weight was 5's; commission 0 */
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_true(p5 + 1 >= R && p5 <= R);
  assert_int_equal(p6, 0);
  assert_int_equal(v6, 3999000); /* bonded once the seat settled */
  assert_int_equal(waiting(6, 1, &amt, &h), COHORT_ERR_NOT_FOUND);
  e = executor(1);
  assert_int_equal(e->del_pending, 0);
  assert_int_equal(e->del_tokens, 4999000);
  cohort__executor__free_unpacked(e, NULL);
  free_run(&r);
  /* the next draw weighs it */
  uint8_t t2[32];
  add_submit(&b, 0, "abd", 1, 30000000, t2);
  commit(&b, NULL);
  empty_blocks(1);
  t = task(t2);
  assert_int_equal(t->members[0]->delegated, 4999000);
  cohort__task__free_unpacked(t, NULL);
  check_conservation();
  teardown_chain();
}

/* A delegation waiting for a seat is not slashed for it: executor 1 holds
 * a seat and misses its window (a no-show, 10% slashed); 5, bonded at the
 * draw, loses 10%; 6, who joined after the draw, keeps all of it and is
 * bonded when the seat is released. A second delegation of 6 while it
 * still waits waits with it (one entry, the later height). */
static void test_waiting_delegation_is_not_slashed(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  uint8_t tid[32];
  seat_with_delegation(2000000, tid);
  add_delegate(&b, 6, 1, 1000000, 0);
  commit(&b, NULL);
  add_delegate(&b, 6, 1, 500000, 0);
  commit(&b, NULL);
  uint64_t amt, h;
  assert_int_equal(waiting(6, 1, &amt, &h), 0);
  assert_int_equal(amt, 1500000);
  assert_int_equal(h, state_height(ST));
  check_conservation();
  Cohort__Task *t = task(tid);
  uint64_t deadline = t->deadline;
  cohort__task__free_unpacked(t, NULL);
  while (state_height(ST) < deadline) {
    empty_blocks(1); /* no commit: a no-show at the deadline */
    check_conservation();
  }
  uint64_t v5, p5, v6, p6;
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(v5, 1800000);
  assert_true(v6 <= 1500000 && v6 + 1 >= 1500000); /* whole (a share's floor), bonded now */
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->del_pending, 0);
  assert_int_equal(e->del_tokens, 3300000);
  cohort__executor__free_unpacked(e, NULL);
  teardown_chain();
}

static uint64_t member_delegated(const uint8_t tid[32]) {
  Cohort__Task *t = task(tid);
  assert_int_equal(t->n_members, 1);
  uint64_t d = t->members[0]->delegated;
  cohort__task__free_unpacked(t, NULL);
  return d;
}

/* From the attacker review of waiting delegations. Executor 1 alone (own
 * 10^6, commission 0), 5 bonded with 10^6. Seat A is drawn; 6 delegates
 * 4 * 10^6 while A is open (it waits); seat B is drawn after that, so 6 is
 * not weighed in B. A is served and agreed; returns with B COMMITTING. */
static void two_seats_waiting_between(uint8_t a[32], uint8_t bt[32], run_t *r) {
  batch b = {.n = 0};
  seat_with_delegation(1000000, a);
  run_vm("abc", 16, 1000000, r);
  add_commit(&b, 1, a, r);
  add_delegate(&b, 6, 1, 4000000, 0); /* while A is open: waits */
  commit(&b, NULL);
  uint64_t amt, h6;
  assert_int_equal(waiting(6, 1, &amt, &h6), 0);
  add_reveal(&b, 1, a, r);
  add_submit(&b, 0, "abc", 1, 30000000, bt);
  commit(&b, NULL);
  assert_int_equal(task_status(a), 3); /* agreed */
  empty_blocks(1);                     /* draw B, after 6's delegation */
  assert_int_equal(task_status(bt), 1);
  assert_int_equal(member_delegated(bt), 1000000); /* 6 did not back B */
  check_conservation();
}

/* A's FINAL must not bond 6 while B (drawn while 6 waited) is open: else 6
 * takes most of B's delegators' part (80% before the fix). */
static void test_attack_admitted_waiting_takes_pay_of_seat_drawn_while_waiting(void **s) {
  (void)s;
  setup_chain();
  uint8_t a[32], bt[32];
  run_t r;
  two_seats_waiting_between(a, bt, &r);
  batch b = {.n = 0};
  add_commit(&b, 1, bt, &r);
  commit(&b, NULL);
  add_reveal(&b, 1, bt, &r);
  commit(&b, NULL);
  run_until_final(a, 5);
  uint64_t v5, p5, v6, p6, amt, h;
  assert_int_equal(waiting(6, 1, &amt, &h), 0); /* B is still held */
  delegation(5, 1, &v5, &p5);
  uint64_t p5_after_a = p5;
  run_until_final(bt, 8);
  Cohort__Task *t = task(bt);
  uint64_t RB = t->paid / 2; /* B's weight: 10^6 own + 10^6 of 5's; commission 0 */
  cohort__task__free_unpacked(t, NULL);
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(p6, 0);                /* 6 did not back B */
  assert_true(p5 - p5_after_a + 1 >= RB); /* B's delegators' part is 5's */
  assert_int_equal(v6, 4000000);          /* bonded once no seat is held */
  free_run(&r);
  teardown_chain();
}

/* ... nor make 6 bear B's slash (before the fix: 4 * 10^6 -> 3.6 * 10^6). */
static void test_attack_admitted_waiting_slashed_for_seat_drawn_while_waiting(void **s) {
  (void)s;
  setup_chain();
  uint8_t a[32], bt[32];
  run_t r;
  two_seats_waiting_between(a, bt, &r);
  run_until_final(a, 5); /* B's commit window is still open */
  assert_int_equal(task_status(bt), 1);
  Cohort__Task *t = task(bt);
  uint64_t deadline = t->deadline;
  cohort__task__free_unpacked(t, NULL);
  while (state_height(ST) < deadline) {
    empty_blocks(1); /* executor 1 never commits B: a no-show */
    check_conservation();
  }
  uint64_t v5, p5, v6, p6, amt, h;
  delegation(5, 1, &v5, &p5);
  delegation(6, 1, &v6, &p6);
  assert_int_equal(v5, 900000); /* 5 backed B: 10% */
  uint64_t total6 = v6 + (waiting(6, 1, &amt, &h) == 0 ? amt : 0);
  assert_true(total6 + 1 >= 4000000); /* 6 did not: whole (a share's floor) */
  free_run(&r);
  teardown_chain();
}

int main(void) {
  if (core_init()) return 1;
  fx_init_params(&F, 11, "");
  ELF = load_file(GUEST_DIR "/sha256.elf", &ELF_LEN);
  core_sha256(PROG, ELF, ELF_LEN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delegation_weighs_and_shares_pay),
      cmocka_unit_test(test_commission_raise_waits),
      cmocka_unit_test(test_slash_reaches_who_backed_the_seat),
      cmocka_unit_test(test_worthless_delegation_can_leave),
      cmocka_unit_test(test_refusals_change_nothing),
      cmocka_unit_test(test_attack_lost_game_pays_accomplice_from_delegators),
      cmocka_unit_test(test_attack_delegation_leaves_before_the_game_ends),
      cmocka_unit_test(test_attack_jit_delegation_takes_pay_of_earlier_seat),
      cmocka_unit_test(test_waiting_delegation_is_not_slashed),
      cmocka_unit_test(test_attack_admitted_waiting_takes_pay_of_seat_drawn_while_waiting),
      cmocka_unit_test(test_attack_admitted_waiting_slashed_for_seat_drawn_while_waiting),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(ELF);
  genesis_free(&F.g);
  return rc;
}
