/* review2: attacks on the compute market that today's rules do not stop.
 * Each test names its attack and FAILS against main at the time of the
 * review (branch review2); none of them changes the code under test.
 *
 * The helpers are test_market.c's (market_fixture.h: same fixture, same
 * cost-model fees, same guest), so these tests read like that file's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "market_fixture.h"

/* (not every helper is used by every test) */
#pragma GCC diagnostic ignored "-Wunused-function"

static void add_job(batch *b, int u, const char **inputs, size_t n, uint32_t k, uint64_t reward,
                    uint8_t job_id[32]) {
  Cohort__MsgSubmitJob m = COHORT__MSG_SUBMIT_JOB__INIT;
  ProtobufCBinaryData in[256];
  uint64_t kib = 0;
  for (size_t i = 0; i < n; i++) {
    in[i] = (ProtobufCBinaryData){strlen(inputs[i]), (uint8_t *)inputs[i]};
    kib += market_kib(ELF_LEN + strlen(inputs[i]));
  }
  m.program = (ProtobufCBinaryData){32, PROG};
  m.n_inputs = n;
  m.inputs = in;
  m.max_steps = 1000000;
  m.mem_mib = 16;
  m.committee = k;
  m.reward_per_chunk = reward;
  m.max_output_bytes = OUT_CAP;
  Cohort__TxBody body = COHORT__TX_BODY__INIT;
  body.msg_case = COHORT__TX_BODY__MSG_SUBMIT_JOB;
  body.submit_job = &m;
  if (job_id) market_job_id(job_id, F.ids[u], nonce_of[u]);
  add_fee(b, u, &body, kib, 0);
}

/* Make one block of b directly and return fx_make_block's result (instead
 * of failing inside commit()), so a test can say which block cannot be made. */
static int try_block(batch *b) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  int rc = fx_make_block(&F, ST, b->raw, b->len, (size_t)b->n, &bb, &bl, &cb, &cl);
  for (int i = 0; i < b->n; i++) free(b->raw[i]);
  b->n = 0;
  free(bb);
  free(cb);
  return rc;
}

/* ------------------------------------------------------------------ */
/* ATTACK 1 — chain halt by an executor record deleted under a pending
 * unbonding entry.
 *
 * An executor with two unbonding entries (U1 due at h1, U2 due at h2 > h1)
 * and little bonded stake misses a window: the liveness slash is larger
 * than its bond, so slash() takes the rest from e->unbonding — but the
 * Unbonding entries keep their amounts. At h1 mk_release_unbondings pays
 * min(U1, e->unbonding), which now empties e->unbonding; stake, seats and
 * seat_lock are zero too, so the record is deleted ("none can exist, as
 * unbonding is 0" — wrong after a slash). At h2 the entry U2 finds no
 * record: COHORT_ERR_CORRUPT from end-of-block, on every validator, for
 * every block at h2: the chain cannot make block h2 at all. Cost to the
 * attacker: one liveness slash; it can also happen to an honest executor
 * winding down (two unbonds, then one missed window).
 *
 * Blocks: 1 upload + register (stake 10^6); 2 unbond 998000 (U1 at 7);
 * 3 unbond 1 (U2 at 8) + a task k=1 with a 2-block commit window; 4 drawn
 * (stake 1999); 6 window closes: slash 10% of 10^6 = 100000 > 1999; 7 the
 * redraw finds nobody (expired), U1 pays 900000 and the record goes; 8: U2. */
static void test_review2_slash_into_unbonding_halts_the_chain(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register(&b, 1, 1000000, 1000000, 1);
  commit(&b, NULL); /* h1 */
  add_unbond(&b, 1, 998000);
  commit(&b, NULL); /* h2: U1 due at 7 */
  add_unbond(&b, 1, 1);
  uint8_t tid[32];
  submit_opts o = DEFAULT_OPTS;
  o.commit_blocks = 2; /* the shortest window max_steps allows: ceil(1e6/2e6) + 1 */
  add_submit_opts(&b, 0, "halt", 1, 10000000, &o, tid);
  commit(&b, NULL); /* h3: U2 due at 8 */
  empty_blocks(1);  /* h4: drawn */
  int m[1];
  assert_int_equal(members(tid, m), 1);
  assert_int_equal(m[0], 1);
  Cohort__Executor *e = executor(1);
  assert_int_equal(e->stake, 1999);
  assert_int_equal(e->unbonding, 998001);
  cohort__executor__free_unpacked(e, NULL);
  /* the member never commits: the window closes at the end of block 6 */
  for (uint64_t h = state_height(ST) + 1; h <= 10; h++) {
    int rc = try_block(&b);
    if (rc)
      fail_msg("block %llu cannot be made (rc %d): an unbonding entry outlived its executor "
               "record (slash took from e->unbonding, not from the entries) and every "
               "validator fails end-of-block here: the chain halts",
               (unsigned long long)h, rc);
    check_conservation();
  }
  teardown_chain();
}

/* ------------------------------------------------------------------ */
/* ATTACK 2 — free compute: the customer sits on its own committees and
 * withholds its reveals.
 *
 * A customer that is also a registered executor (or controls one) submits
 * a job whose chunks have k = 2 (quorum 2; with k = 3 it needs two seats,
 * i.e. two identities). The draw does not exclude the owner, so its
 * executor sits next to an honest one on every chunk. The attacker commits
 * 32 arbitrary bytes, waits for the honest member to reveal — claim,
 * output and proof are now public on chain — and never reveals. At the
 * reveal deadline the task has one reveal < quorum: EXPIRED, "no result",
 * the customer is refunded in full (minus the honest member's fees, which
 * its own escrow allowance paid), the honest member is paid nothing for
 * work it did and published. The attacker's cost is ONE liveness slash for
 * any number of chunks (rule 2: seats that lapse while jailed are not
 * slashed again), and the outputs stay readable (o/ until pruning, and in
 * the reveal txs forever). docs/tasks.md rule 1 says "a failure the
 * customer caused costs the customer, never the executors".
 *
 * The rule chosen (docs/tasks.md rule 2): paying a lone reveal at expiry
 * would pay a liar who reveals alone while the honest are kept from
 * revealing (issue 7 item 2), so a task short of quorum still pays nobody.
 * Instead the owner is never drawn for its own tasks, and a member that
 * committed and then withheld its reveal is slashed for every such seat
 * (an outage before any commit still costs one slash): withholding costs
 * the customer's executor liveness_slash_bps of its stake per chunk.
 *
 * This test: the owner's own executor cannot be seated (submission
 * refused); then executors 1 (honest) and 6 (the customer's second
 * identity), a job of 4 chunks, k = 2: the withholder is slashed four
 * times, the honest member keeps its stake and gets its fees back. */
static void test_review2_customer_withholds_reveals_for_free_outputs(void **s) {
  (void)s;
  setup_chain();
  batch b = {.n = 0};
  add_upload(&b, 0);
  add_register(&b, 1, 1000000, 1000000, 1);
  add_register(&b, 6, 1000000, 1000000, 1);
  commit(&b, NULL);
  const char *inputs[4] = {"secret one", "secret two", "secret three", "secret four"};
  uint8_t jid[32], ids[4][32];
  /* The simplest form: the customer is an executor and would sit on its own
   * committee. The owner is never drawn for its own tasks, so with one
   * other executor a committee of two cannot be formed at all. */
  add_job(&b, 6, inputs, 4, 2, 3000000, jid);
  int code;
  commit(&b, &code);
  assert_int_equal(code, COHORT_ERR_NO_EXECUTORS);
  /* With a second identity (user 6 as the customer's executor, user 0 the
   * customer) the customer can still withhold: its executor commits on
   * every chunk and never reveals. */
  add_job(&b, 0, inputs, 4, 2, 3000000, jid);
  commit(&b, NULL);
  empty_blocks(1); /* the draws: both executors on every chunk */
  run_t r[4];
  for (int i = 0; i < 4; i++) {
    market_chunk_id(ids[i], jid, (uint32_t)i);
    int m[2];
    assert_int_equal(members(ids[i], m), 2);
    run_vm(inputs[i], 16, 1000000, &r[i]);
  }
  uint64_t honest0 = crd_of(1);
  Cohort__Executor *e = executor(6);
  uint64_t att_stake0 = e->stake;
  cohort__executor__free_unpacked(e, NULL);
  e = executor(1);
  uint64_t honest_stake0 = e->stake;
  cohort__executor__free_unpacked(e, NULL);
  for (int i = 0; i < 4; i++) {
    add_commit(&b, 1, ids[i], &r[i]);
    run_t junk = r[i];
    memset(junk.salt, 0x77, 32); /* any 32 bytes do: it will never reveal */
    junk.claim.steps = 1;
    add_commit(&b, 6, ids[i], &junk);
  }
  commit(&b, NULL);
  for (int i = 0; i < 4; i++) assert_int_equal(task_status(ids[i]), 2);
  for (int i = 0; i < 4; i++) add_reveal(&b, 1, ids[i], &r[i]);
  commit(&b, NULL);
  for (int n = 0; n < 40 && task_status(ids[3]) == 2; n++) empty_blocks(1);
  check_conservation();
  int expired = 0;
  for (int i = 0; i < 4; i++) expired += task_status(ids[i]) == 6;
  assert_int_equal(expired, 4); /* no quorum: no result, and no pay (a lone reveal may lie) */
  e = executor(6);
  uint64_t att_stake1 = e->stake;
  cohort__executor__free_unpacked(e, NULL);
  /* every withheld reveal costs a slash (1000 bps here), not one per outage */
  uint64_t want = att_stake0;
  for (int i = 0; i < 4; i++) want -= want / 10;
  printf("  4 withheld reveals cost the withholder %llu of %llu STK (four slashes); the honest "
         "member kept its stake and got its fees back (CRD %+lld)\n",
         (unsigned long long)(att_stake0 - att_stake1), (unsigned long long)att_stake0,
         (long long)(crd_of(1) - honest0));
  assert_true(att_stake1 <= want);
  e = executor(1);
  assert_int_equal(e->stake, honest_stake0);
  cohort__executor__free_unpacked(e, NULL);
  assert_true(crd_of(1) >= honest0); /* commit and reveal fees repaid */
  for (int i = 0; i < 4; i++) free_run(&r[i]);
  teardown_chain();
}

/* ------------------------------------------------------------------ */
/* ATTACK 3 — steering a draw through a withheld beacon reveal.
 *
 * Draws due at block h+1 use "the beacon after the reveal in the header of
 * h+1". When the proposer of h+1 withholds its reveal (allowed: the beacon
 * "stays as it was"), that beacon is beacon(h) — which the proposer of h
 * knew before it chose block h's transactions (it is the hash of its own
 * reveal). So the proposer of h (with the next proposer withholding: a
 * colluder, or itself when it proposes twice in a row, as a large validator
 * often does under weighted round-robin) knows every committee of the
 * tasks it includes, and can still add transactions after them in block h
 * that change the candidates — here it registers its own executor with a
 * stake ground so that it wins the seat. docs/tasks.md rule 4 says "the
 * proposer that includes a task cannot know its committee".
 *
 * The test (one validator plays both proposers): block 2 carries the
 * customer's task (k = 1) and, after it, the attacker's registration with
 * a stake chosen from beacon(2); block 3 withholds its reveal. It asserts
 * that the draw did not use a beacon known before block 2's transactions
 * ran (timeline "drawn".hash != beacon(2)). Today it does, and the
 * attacker's executor (0.08% of the stake here: grinding the stake amount suffices) takes the seat. */
static int id_cmp(const void *a, const void *b) { return memcmp(a, b, 20); }

static void test_review2_withheld_reveal_lets_the_includer_steer_the_draw(void **s) {
  (void)s;
  setup_market(); /* h1: executors 1, 2, 4, 5 with 10^6 each */
  uint8_t b1[32], b2[32], in[80];
  assert_int_equal(state_get_beacon(ST, b1), 0);
  const uint8_t *nt, *reveal2 = fx_reveal(&F, 2, &nt);
  assert_non_null(reveal2);
  memcpy(in, "cohort/beacon/v2", 16);
  memcpy(in + 16, b1, 32);
  memcpy(in + 48, reveal2, 32);
  core_sha256(b2, in, 80); /* what the proposer of block 2 knows while it builds it */
  batch b = {.n = 0};
  uint8_t tid[32];
  add_submit(&b, 0, "steer me", 1, 10000000, tid);
  /* the seed of seat 0, attempt 0, from beacon(2) */
  uint8_t din[86], seed[32];
  memcpy(din, "cohort/draw/v2", 14);
  memcpy(din + 14, b2, 32);
  memcpy(din + 46, tid, 32);
  memset(din + 78, 0, 8);
  core_sha256(seed, din, sizeof din);
  unsigned __int128 r0 = 0;
  for (int i = 0; i < 16; i++) r0 = r0 << 8 | seed[i];
  /* candidates in address order: users 1, 2, 4, 5 (10^6 each) and 6 (stake x) */
  uint8_t ids[5][20];
  int us[5] = {1, 2, 4, 5, 6};
  for (int i = 0; i < 5; i++) memcpy(ids[i], F.ids[us[i]], 20);
  qsort(ids, 5, 20, id_cmp);
  uint64_t x = 0;
  for (uint64_t cand = 1000; cand <= 1000000 && !x; cand++) {
    unsigned __int128 r = r0 % (4000000 + cand), acc = 0;
    for (int i = 0; i < 5; i++) {
      int six = !memcmp(ids[i], F.ids[6], 20);
      acc += six ? cand : 1000000;
      if (r < acc) {
        if (six) x = cand;
        break;
      }
    }
  }
  assert_true(x > 0); /* a stake of at most a fifth of the total that wins the seat */
  add_register(&b, 6, x, 1000000, 1); /* after the task, in the same block */
  commit(&b, NULL); /* h2 */
  F.no_reveal = 1;  /* the proposer of block 3 withholds its reveal */
  empty_blocks(1);  /* h3: no reveal, so no draw */
  F.no_reveal = 0;
  Cohort__Task *t = task(tid);
  assert_int_equal(t->n_members, 0);
  cohort__task__free_unpacked(t, NULL);
  empty_blocks(1); /* h4: the draw, on a beacon revealed after block 2 */
  t = task(tid);
  assert_int_equal(t->n_members, 1);
  int winner = user_of(&t->members[0]->executor);
  const Cohort__TaskEvent *drawn = NULL;
  for (size_t i = 0; i < t->n_timeline; i++)
    if (t->timeline[i]->code == 2) drawn = t->timeline[i];
  assert_non_null(drawn);
  printf("  attacker bonded %llu of %llu STK base units after the task, in its block; seat won "
         "by user %d%s\n", (unsigned long long)x, (unsigned long long)(4000000 + x), winner,
         winner == 6 ? " (the attacker)" : "");
  assert_int_equal(drawn->hash.len, 32);
  /* the committee must come from a beacon nobody knew when block 2's txs were chosen */
  assert_memory_not_equal(drawn->hash.data, b2, 32);
  cohort__task__free_unpacked(t, NULL);
  teardown_chain();
}

int main(void) {
  if (core_init()) return 1;
  fx_init_params(&F, 11, ""); /* the cost model's default gas price */
  ELF = load_file(GUEST_DIR "/sha256.elf", &ELF_LEN);
  core_sha256(PROG, ELF, ELF_LEN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_review2_slash_into_unbonding_halts_the_chain),
      cmocka_unit_test(test_review2_customer_withholds_reveals_for_free_outputs),
      cmocka_unit_test(test_review2_withheld_reveal_lets_the_includer_steer_the_draw),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(ELF);
  genesis_free(&F.g);
  return rc;
}
