/* Governance (docs/staking.md §5, §6): proposals, deposits, votes, the
 * tally and parameter changes, on a chain of three validators (operated by
 * users 0, 1 and 2 with powers 100, 200 and 300; user 0's validator
 * proposes every block).
 *
 * Delegations are written straight into the store as docs/staking.md §1
 * lays them out (delegate() below): the staking messages that create them
 * live in state/staking/, and the tally must work however the records came
 * to be. Genesis writes each validator's record and self-delegation.
 *
 * Checked: every refusal of a message (decode-time shapes, unknown names,
 * bounds, duplicates, relations, apply_height, the initial deposit,
 * balances, deposits outside the deposit period, votes outside the voting
 * period or without a delegation), the state machine (voting at once,
 * voting on the deposit that reaches the minimum, expiry with refunds,
 * each outcome with its refund or burn), the tally's rules (last vote
 * counts, inheritance, delegators outvoting their validator, exact
 * quorum/threshold/veto boundaries), parameter changes in force from
 * their height and not one block before (min_fee), apply-time failures,
 * community-pool spends, the since-heights, and the supply rule after
 * every block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>

#include "chain_fixture.h"
#include "core/bytes.h"
#include "proto/gov.h"
#include "state/gov/gov.h"

static fixture F;
static kv_store *KV;
static state *ST;
static uint64_t PENDING[FX_USERS]; /* nonces used in the block being built */

#define GOV_PARAMS                                                                           \
  ",\"gas_price_milli\":\"0\",\"gov_min_deposit\":\"1000\",\"gov_min_initial_bps\":5000,"   \
  "\"gov_deposit_blocks\":3,\"gov_voting_blocks\":10,\"community_tax_bps\":0"

static void extra_vals(char *out, size_t cap) {
  out[0] = 0;
  for (int i = 1; i <= 2; i++) {
    uint8_t seed[32], pub[32], sec[64];
    memset(seed, 0x40 + i, 32);
    core_ed25519_from_seed(sec, pub, seed);
    char pk[65], op[CORE_ADDR_STR_MAX], one[300];
    core_hex_encode(pk, pub, 32);
    core_addr_encode(op, F.ids[i]);
    snprintf(one, sizeof one, ",{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"%d\"}", pk, op,
             100 * (i + 1));
    strncat(out, one, cap - strlen(out) - 1);
  }
}

static int ONE_VALIDATOR; /* the fixture's validator alone (commits a replay can verify) */

static void open_chain(const char *params) {
  /* the operators' IDs are needed for the validators: a first pass */
  fx_init_params(&F, 7, "");
  char vals[1024] = "";
  if (!ONE_VALIDATOR) extra_vals(vals, sizeof vals);
  genesis_free(&F.g);
  fx_init_full(&F, 7, params, vals);
  core_errbuf eb;
  assert_int_equal(kv_open_mem(&KV), 0);
  assert_int_equal(state_open(&ST, KV, &eb), 0);
  assert_int_equal(state_init_genesis(ST, &F.g, &eb), 0);
  memset(PENDING, 0, sizeof PENDING);
}

static int teardown(void **s) {
  (void)s;
  state_close(ST);
  kv_close(KV);
  genesis_free(&F.g);
  ST = NULL;
  KV = NULL;
  return 0;
}

/* ---- store-level helpers (what the staking module would write) ---- */

static void put_raw(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  kv_batch *b = kv_batch_new();
  assert_non_null(b);
  assert_int_equal(kv_batch_put(b, k, kl, v, vl), 0);
  core_errbuf eb;
  assert_int_equal(kv_write(KV, b, 0, &eb), 0);
  kv_batch_del(b);
}

static void put_msg(const uint8_t *k, size_t kl, const ProtobufCMessage *m) {
  uint8_t buf[4096];
  size_t n = protobuf_c_message_pack(m, buf);
  put_raw(k, kl, buf, n);
}

static Cohort__ValidatorInfo *get_val(const uint8_t op[20]) {
  uint8_t k[23] = "vl/", *v;
  size_t vl;
  memcpy(k + 3, op, 20);
  if (kv_get(KV, k, sizeof k, &v, &vl)) return NULL;
  Cohort__ValidatorInfo *vi = cohort__validator_info__unpack(NULL, vl, v);
  free(v);
  return vi;
}

static void set_account(const uint8_t id[20], uint64_t crd, uint64_t stk, uint64_t nonce) {
  Cohort__Account a = COHORT__ACCOUNT__INIT;
  a.crd = crd;
  a.stk = stk;
  a.nonce = nonce;
  uint8_t k[22] = "a/";
  memcpy(k + 2, id, 20);
  put_msg(k, sizeof k, &a.base);
}

static void del_raw(const uint8_t *k, size_t kl) {
  kv_batch *b = kv_batch_new();
  assert_non_null(b);
  assert_int_equal(kv_batch_delete(b, k, kl), 0);
  core_errbuf eb;
  assert_int_equal(kv_write(KV, b, 0, &eb), 0);
  kv_batch_del(b);
}

/* Rewrite a validator's record with tokens moved from `old`, and its "vp/"
 * power-index key if it may sign (docs/staking.md §1). */
static void put_val(const Cohort__ValidatorInfo *vi, uint64_t old) {
  uint8_t k[31] = "vl/";
  memcpy(k + 3, vi->operator_.data, 20);
  put_msg(k, 23, &vi->base);
  if (vi->jailed_until || vi->tombstoned) return;
  memcpy(k, "vp/", 3);
  memcpy(k + 11, vi->operator_.data, 20);
  core_put_u64be(k + 3, UINT64_MAX - old);
  if (old) del_raw(k, sizeof k);
  core_put_u64be(k + 3, UINT64_MAX - vi->tokens);
  if (vi->tokens) put_raw(k, sizeof k, (const uint8_t *)"", 0);
}

/* User u delegates amt STK (from its balance) to the validator operated by
 * op: shares as docs/staking.md §2, "vl/", "vp/", "dl/" and "dv/" written. */
static void delegate(int u, const uint8_t op[20], uint64_t amt) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, F.ids[u], &c, &s, &n), 0);
  assert_true(s >= amt);
  set_account(F.ids[u], c, s - amt, n);
  Cohort__ValidatorInfo *vi = get_val(op);
  assert_non_null(vi);
  uint64_t sh = vi->shares ? (uint64_t)((unsigned __int128)amt * vi->shares / vi->tokens) : amt;
  uint64_t old = vi->tokens;
  vi->tokens += amt;
  vi->shares += sh;
  put_val(vi, old);
  cohort__validator_info__free_unpacked(vi, NULL);
  uint8_t k[43];
  memcpy(k, "dl/", 3);
  memcpy(k + 3, F.ids[u], 20);
  memcpy(k + 23, op, 20);
  uint8_t *v;
  size_t vl;
  Cohort__Delegation d = COHORT__DELEGATION__INIT;
  if (!kv_get(KV, k, sizeof k, &v, &vl)) {
    Cohort__Delegation *o = cohort__delegation__unpack(NULL, vl, v);
    d.shares = o->shares;
    cohort__delegation__free_unpacked(o, NULL);
    free(v);
  }
  d.shares += sh;
  put_msg(k, sizeof k, &d.base);
  memcpy(k, "dv/", 3);
  memcpy(k + 3, op, 20);
  memcpy(k + 23, F.ids[u], 20);
  put_raw(k, sizeof k, (const uint8_t *)"", 0);
}

/* Mint crd into the community pool (the distribution module's job). */
static void fund_community(uint64_t crd) {
  uint8_t *v;
  size_t vl;
  uint64_t pc = 0, ps = 0, sc, ss;
  if (!kv_get(KV, (const uint8_t *)"s/community", 11, &v, &vl)) {
    assert_int_equal(state_decode_account_pub(v, vl, &pc, &ps, NULL), 0);
    free(v);
  }
  Cohort__Account a = COHORT__ACCOUNT__INIT;
  a.crd = pc + crd;
  put_msg((const uint8_t *)"s/community", 11, &a.base);
  assert_int_equal(state_get_supply(ST, &sc, &ss), 0);
  Cohort__Account t = COHORT__ACCOUNT__INIT;
  t.crd = sc + crd;
  t.stk = ss;
  put_msg((const uint8_t *)"s/supply", 8, &t.base);
}

/* ---- the supply rule (docs/staking.md §1) ---- */

typedef struct {
  unsigned __int128 crd, stk;
} sums;
static int sum_acc(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  sums *s = ctx;
  uint64_t c, t, n;
  assert_int_equal(state_decode_account_pub(v, vl, &c, &t, &n), 0);
  s->crd += c;
  s->stk += t;
  return 0;
}
static int sum_val(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  Cohort__ValidatorInfo *vi = cohort__validator_info__unpack(NULL, vl, v);
  assert_non_null(vi);
  ((sums *)ctx)->stk += vi->tokens;
  cohort__validator_info__free_unpacked(vi, NULL);
  return 0;
}
static uint64_t pool(const char *key, int stk) {
  uint8_t *v;
  size_t vl;
  uint64_t c = 0, s = 0;
  if (!kv_get(KV, (const uint8_t *)key, strlen(key), &v, &vl)) {
    assert_int_equal(state_decode_account_pub(v, vl, &c, &s, NULL), 0);
    free(v);
  }
  return stk ? s : c;
}
static int sum_dep(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  uint64_t c, s;
  assert_int_equal(state_decode_account_pub(v, vl, &c, &s, NULL), 0);
  *(unsigned __int128 *)ctx += s;
  return 0;
}
static void check_supply(void) {
  sums s = {0, 0};
  assert_int_equal(state_scan(ST, "a/", sum_acc, &s), 0);
  assert_int_equal(state_scan(ST, "vl/", sum_val, &s), 0);
  s.stk += pool("s/gov", 1);
  s.crd += pool("s/community", 0) + pool("s/escrow", 0) + pool("s/fees", 0) + pool("s/rewards", 0);
  uint64_t c, t;
  assert_int_equal(state_get_supply(ST, &c, &t), 0);
  assert_true(s.crd == c);
  assert_true(s.stk == t);
  /* s/gov holds exactly the deposits on record */
  unsigned __int128 d = 0;
  assert_int_equal(state_scan(ST, "gd/", sum_dep, &d), 0);
  assert_true(d == pool("s/gov", 1));
}

/* ---- transactions and blocks ---- */

typedef struct {
  uint8_t *raw[32];
  size_t len[32];
  size_t n;
  int code[32]; /* after commit: the result code, or INT_MIN if not included */
  char log[32][256];
} batch;

static uint64_t FEE = 10;

static void add_tx(batch *b, int from, Cohort__TxBody *body) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, F.ids[from], &c, &s, &n), 0);
  body->nonce = n + PENDING[from]++;
  body->fee = FEE;
  uint8_t aux[32] = {0};
  assert_int_equal(tx_build(&b->raw[b->n], &b->len[b->n], body, FX_CHAIN,
                            F.users[from].secret, aux), 0);
  b->n++;
}

/* Blocks kept for a replay (test_param_change_height): bytes, commit, app_hash. */
#define REC_MAX 64
static int RECORD;
static size_t NREC;
static uint8_t *REC_B[REC_MAX], *REC_C[REC_MAX], REC_APP[REC_MAX][32];
static size_t REC_BL[REC_MAX], REC_CL[REC_MAX];

static void commit(batch *b) {
  uint8_t *bb, *cb;
  size_t bl, cl;
  assert_int_equal(fx_make_block(&F, ST, b->raw, b->len, b->n, &bb, &bl, &cb, &cl), 0);
  if (RECORD && NREC < REC_MAX) {
    REC_B[NREC] = bb, REC_BL[NREC] = bl, REC_C[NREC] = cb, REC_CL[NREC] = cl;
    memcpy(REC_APP[NREC++], state_app_hash(ST), 32);
  } else {
    free(bb);
    free(cb);
  }
  for (size_t i = 0; i < b->n; i++) {
    uint8_t h[32];
    core_sha256(h, b->raw[i], b->len[i]);
    Cohort__TxResult *r;
    b->code[i] = INT_MIN;
    b->log[i][0] = 0;
    if (!state_get_tx_result(ST, h, &r)) {
      b->code[i] = r->code;
      snprintf(b->log[i], sizeof b->log[i], "%s", r->log ? r->log : "");
      cohort__tx_result__free_unpacked(r, NULL);
    }
    free(b->raw[i]);
  }
  memset(PENDING, 0, sizeof PENDING);
  check_supply();
}

static void empty_blocks(int n) {
  for (int i = 0; i < n; i++) {
    batch b = {.n = 0};
    commit(&b);
  }
}

/* One tx in a block of its own: its result code (INT_MIN: not included). */
static char LAST_LOG[256];
static int run1(int from, Cohort__TxBody *body) {
  batch b = {.n = 0};
  add_tx(&b, from, body);
  commit(&b);
  memcpy(LAST_LOG, b.log[0], sizeof LAST_LOG);
  if (b.code[0] != 0 && b.code[0] != INT_MIN) print_message("  (tx failed as expected: %s)\n", LAST_LOG);
  return b.code[0];
}

typedef struct {
  Cohort__TxBody b;
  Cohort__MsgSubmitProposal m;
  Cohort__ParamChange c[20], *cp[20];
} prop_tx;

static Cohort__TxBody *proposal(prop_tx *t, uint32_t kind, uint64_t deposit) {
  cohort__tx_body__init(&t->b);
  cohort__msg_submit_proposal__init(&t->m);
  t->m.kind = kind;
  t->m.title = "a proposal";
  t->m.description = "why:\nbecause";
  t->m.deposit = deposit;
  t->m.changes = t->cp;
  t->b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
  t->b.submit_proposal = &t->m;
  return &t->b;
}

static Cohort__TxBody *param_change(prop_tx *t, uint64_t deposit, const char *name, uint64_t v) {
  proposal(t, GOV_KIND_PARAMS, deposit);
  cohort__param_change__init(&t->c[0]);
  t->c[0].name = (char *)name;
  t->c[0].value = v;
  t->cp[0] = &t->c[0];
  t->m.n_changes = 1;
  return &t->b;
}

static void add_change(prop_tx *t, const char *name, uint64_t v) {
  size_t i = t->m.n_changes++;
  cohort__param_change__init(&t->c[i]);
  t->c[i].name = (char *)name;
  t->c[i].value = v;
  t->cp[i] = &t->c[i];
}

typedef struct {
  Cohort__TxBody b;
  Cohort__MsgVote v;
  Cohort__MsgDeposit d;
} small_tx;

static Cohort__TxBody *vote_tx(small_tx *t, uint64_t id, uint32_t option) {
  cohort__tx_body__init(&t->b);
  cohort__msg_vote__init(&t->v);
  t->v.proposal = id;
  t->v.option = option;
  t->b.msg_case = COHORT__TX_BODY__MSG_VOTE;
  t->b.vote = &t->v;
  return &t->b;
}

static Cohort__TxBody *deposit_tx(small_tx *t, uint64_t id, uint64_t amt) {
  cohort__tx_body__init(&t->b);
  cohort__msg_deposit__init(&t->d);
  t->d.proposal = id;
  t->d.amount = amt;
  t->b.msg_case = COHORT__TX_BODY__MSG_DEPOSIT;
  t->b.deposit = &t->d;
  return &t->b;
}

static int vote(int from, uint64_t id, uint32_t option) {
  small_tx t;
  return run1(from, vote_tx(&t, id, option));
}

static int deposit(int from, uint64_t id, uint64_t amt) {
  small_tx t;
  return run1(from, deposit_tx(&t, id, amt));
}

static Cohort__GovProposal *prop(uint64_t id) {
  Cohort__GovProposal *p;
  assert_int_equal(state_get_proposal(ST, id, &p), 0);
  return p;
}

static uint32_t status_of(uint64_t id) {
  Cohort__GovProposal *p = prop(id);
  uint32_t s = p->status;
  cohort__gov_proposal__free_unpacked(p, NULL);
  return s;
}

static uint64_t stk_of(int u) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, F.ids[u], &c, &s, &n), 0);
  return s;
}

static uint64_t crd_of(const uint8_t id[20]) {
  uint64_t c, s, n;
  assert_int_equal(state_get_account(ST, id, &c, &s, &n), 0);
  return c;
}

/* A text proposal by user 0, voting at once: its ID. */
static uint64_t text_voting(void) {
  prop_tx t;
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 1000)), 0);
  uint64_t next;
  assert_int_equal(state_gov_next_id(ST, &next), 0);
  assert_int_equal(status_of(next - 1), GOV_ST_VOTING);
  return next - 1;
}

/* Blocks until proposal id's voting period has ended (its tally done). */
static void to_tally(uint64_t id) {
  Cohort__GovProposal *p = prop(id);
  uint64_t end = p->voting_end;
  cohort__gov_proposal__free_unpacked(p, NULL);
  while (state_height(ST) < end) empty_blocks(1);
}

static int decodes(Cohort__TxBody *b, char *why) {
  uint8_t *raw, aux[32] = {0};
  size_t len;
  b->nonce = 0;
  b->fee = FEE;
  assert_int_equal(tx_build(&raw, &len, b, FX_CHAIN, F.users[0].secret, aux), 0);
  tx_t tx;
  core_errbuf eb;
  int rc = tx_decode(&tx, raw, len, 1 << 20, &eb);
  if (!rc) tx_free(&tx);
  else if (why) snprintf(why, 256, "%s", eb.msg);
  free(raw);
  return rc;
}

/* ---- the tests ---- */

/* Shapes refused at the door (proto/tx.c): never includable. */
static void test_decode_rules(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  char why[256];
  prop_tx t;
  small_tx v;
  assert_int_equal(decodes(proposal(&t, GOV_KIND_TEXT, 1000), why), 0);
  assert_int_equal(decodes(proposal(&t, 4, 1000), why), COHORT_ERR_INVALID);
  assert_int_equal(decodes(proposal(&t, 0, 1000), why), COHORT_ERR_INVALID);
  proposal(&t, GOV_KIND_TEXT, 1000);
  t.m.title = "";
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  char big[GOV_DESCRIPTION_MAX + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  t.m.title = big + sizeof big - 1 - GOV_TITLE_MAX; /* exactly 140 bytes: fine */
  assert_int_equal(decodes(&t.b, why), 0);
  t.m.title = big + sizeof big - 2 - GOV_TITLE_MAX; /* 141 */
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  t.m.title = "bell\a";
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  t.m.title = "ok";
  t.m.description = big + 1; /* 10000 bytes */
  assert_int_equal(decodes(&t.b, why), 0);
  t.m.description = big; /* 10001 */
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  t.m.description = "tab\tis a control";
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  /* a parameter change needs 1..16 changes, distinct, well-named */
  proposal(&t, GOV_KIND_PARAMS, 1000);
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  param_change(&t, 1000, "min_fee", 5);
  assert_int_equal(decodes(&t.b, why), 0);
  add_change(&t, "min_fee", 6);
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID); /* a duplicate */
  assert_non_null(strstr(why, "twice"));
  param_change(&t, 1000, "Min-Fee", 5);
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  param_change(&t, 1000, "min_fee", 5);
  for (int i = 1; i < 17; i++) add_change(&t, "max_block_txs", 5); /* 17 changes */
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  /* changes on a text proposal, a recipient on a change */
  param_change(&t, 1000, "min_fee", 5);
  t.m.kind = GOV_KIND_TEXT;
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  proposal(&t, GOV_KIND_TEXT, 1000);
  t.m.apply_height = 100;
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  /* a spend needs a 20-byte recipient and an amount */
  proposal(&t, GOV_KIND_SPEND, 1000);
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_ADDRESS);
  t.m.recipient = (ProtobufCBinaryData){20, F.ids[5]};
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_AMOUNT);
  t.m.amount = 7;
  assert_int_equal(decodes(&t.b, why), 0);
  t.m.kind = GOV_KIND_TEXT;
  assert_int_equal(decodes(&t.b, why), COHORT_ERR_INVALID);
  /* votes and deposits */
  assert_int_equal(decodes(vote_tx(&v, 1, GOV_YES), why), 0);
  assert_int_equal(decodes(vote_tx(&v, 0, GOV_YES), why), COHORT_ERR_INVALID);
  assert_int_equal(decodes(vote_tx(&v, 1, 0), why), COHORT_ERR_INVALID);
  assert_int_equal(decodes(vote_tx(&v, 1, 5), why), COHORT_ERR_INVALID);
  assert_int_equal(decodes(vote_tx(&v, 1, GOV_VETO), why), 0);
  assert_int_equal(decodes(deposit_tx(&v, 1, 0), why), COHORT_ERR_AMOUNT);
  assert_int_equal(decodes(deposit_tx(&v, 0, 5), why), COHORT_ERR_INVALID);
  assert_string_equal(tx_msg_name(&t.b), "submit_proposal");
  assert_string_equal(tx_msg_name(vote_tx(&v, 1, 1)), "vote");
  assert_string_equal(tx_msg_name(deposit_tx(&v, 1, 1)), "deposit");
}

/* Rules checked when the message runs: it fails, only fee and nonce change. */
static void test_submit_refusals(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  prop_tx t;
  uint64_t stk0 = stk_of(0);
  assert_int_equal(run1(0, param_change(&t, 1000, "no_such_param", 5)), COHORT_ERR_INVALID);
  assert_non_null(strstr(LAST_LOG, "no parameter"));
  assert_int_equal(run1(0, param_change(&t, 1000, "dispute_arity", 65)), COHORT_ERR_INVALID);
  assert_non_null(strstr(LAST_LOG, "bounds"));
  assert_int_equal(run1(0, param_change(&t, 1000, "dispute_arity", 1)), COHORT_ERR_INVALID);
  assert_int_equal(run1(0, param_change(&t, 1000, "max_block_txs", 0)), COHORT_ERR_INVALID);
  /* bounds exactly: allowed */
  assert_int_equal(run1(0, param_change(&t, 1000, "dispute_arity", 64)), 0);
  assert_int_equal(run1(0, param_change(&t, 1000, "dispute_arity", 2)), 0);
  /* a U32 parameter above 2^32-1 (its table bound) */
  assert_int_equal(run1(0, param_change(&t, 1000, "max_block_txs", 1ull << 32)), COHORT_ERR_INVALID);
  /* relations: max_tx_bytes above max_block_bytes (4 MiB in the fixture) */
  assert_int_equal(run1(0, param_change(&t, 1000, "max_tx_bytes", 5u << 20)), COHORT_ERR_INVALID);
  assert_non_null(strstr(LAST_LOG, "max_block_bytes"));
  /* ... unless the same proposal raises max_block_bytes too */
  param_change(&t, 1000, "max_tx_bytes", 5u << 20);
  add_change(&t, "max_block_bytes", 6u << 20);
  assert_int_equal(run1(0, &t.b), 0);
  param_change(&t, 1000, "reveal_blocks", 1); /* relation: reveal_blocks >= 2 */
  assert_int_equal(run1(0, &t.b), COHORT_ERR_INVALID);
  /* apply_height must be 0 or beyond the latest possible tally */
  uint64_t h = state_height(ST) + 1;
  param_change(&t, 1000, "min_fee", 20);
  t.m.apply_height = h + 3 + 10;
  assert_int_equal(run1(0, &t.b), COHORT_ERR_INVALID);
  assert_non_null(strstr(LAST_LOG, "apply_height"));
  h = state_height(ST) + 1;
  t.m.apply_height = h + 3 + 10 + 1;
  assert_int_equal(run1(0, &t.b), 0);
  /* the initial deposit: 50% of 1000 */
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 499)), COHORT_ERR_AMOUNT);
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 500)), 0);
  /* more than the balance: user 3 has no STK */
  assert_int_equal(run1(3, proposal(&t, GOV_KIND_TEXT, 600)), COHORT_ERR_FUNDS);
  /* what stayed: 5 proposals' deposits and fees; failed ones took nothing */
  assert_int_equal(stk_of(0), stk0 - 4 * 1000 - 500);
  uint64_t next;
  assert_int_equal(state_gov_next_id(ST, &next), 0);
  assert_int_equal(next, 6);
  Cohort__GovProposal *p = prop(4);
  assert_int_equal(p->status, GOV_ST_VOTING);
  assert_int_equal(p->apply_height, h + 14);
  assert_int_equal(p->n_changes, 1);
  assert_string_equal(p->changes[0]->name, "min_fee");
  assert_memory_equal(p->proposer.data, F.ids[0], 20);
  cohort__gov_proposal__free_unpacked(p, NULL);
  assert_int_equal(status_of(5), GOV_ST_DEPOSIT);
  Cohort__GovProposal *q;
  assert_int_equal(state_get_proposal(ST, 6, &q), COHORT_ERR_NOT_FOUND);
}

/* DEPOSIT -> VOTING on the deposit that reaches the minimum; deposits after
 * the period fail; an expired proposal's deposits come back. */
static void test_deposits(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  prop_tx t;
  uint64_t s0 = stk_of(0), s4 = stk_of(4), s5 = stk_of(5);
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 500)), 0); /* 1, at height 1 */
  assert_string_equal(LAST_LOG, "proposal 1: deposit period");
  batch b = {.n = 0};
  small_tx d1, d2, d3, v1;
  add_tx(&b, 4, deposit_tx(&d1, 2, 10));
  add_tx(&b, 4, deposit_tx(&d2, 1, 300)); /* 800 */
  add_tx(&b, 3, deposit_tx(&d3, 1, 300)); /* user 3 has no STK */
  add_tx(&b, 0, vote_tx(&v1, 1, GOV_YES)); /* not voting yet */
  commit(&b);
  assert_int_equal(b.code[0], COHORT_ERR_NOT_FOUND);
  assert_int_equal(b.code[1], 0);
  assert_int_equal(b.code[2], COHORT_ERR_FUNDS);
  assert_int_equal(b.code[3], COHORT_ERR_INVALID);
  assert_non_null(strstr(b.log[3], "deposit period"));
  assert_int_equal(status_of(1), GOV_ST_DEPOSIT);
  empty_blocks(1);
  assert_int_equal(deposit(5, 1, 250), 0); /* 1050 at height 4 = deposit_end: still in time */
  Cohort__GovProposal *p = prop(1);
  assert_int_equal(p->status, GOV_ST_VOTING);
  assert_int_equal(p->deposit_end, 4);
  assert_int_equal(p->voting_start, 4);
  assert_int_equal(p->voting_end, 14);
  assert_int_equal(p->total_deposit, 1050);
  cohort__gov_proposal__free_unpacked(p, NULL);
  uint64_t d;
  assert_int_equal(state_gov_deposit(ST, 1, F.ids[4], &d), 0);
  assert_int_equal(d, 300);
  assert_int_equal(deposit(4, 1, 10), COHORT_ERR_INVALID); /* voting: no more deposits */
  assert_int_equal(stk_of(4), s4 - 300);
  /* a second one expires: its deposits come back at the end of deposit_end */
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 600)), 0); /* 2, at height 6 */
  assert_int_equal(deposit(5, 2, 100), 0);
  p = prop(2);
  uint64_t end = p->deposit_end;
  cohort__gov_proposal__free_unpacked(p, NULL);
  assert_int_equal(end, 9);
  while (state_height(ST) < end - 1) empty_blocks(1);
  assert_int_equal(status_of(2), GOV_ST_DEPOSIT);
  empty_blocks(1);
  p = prop(2);
  assert_int_equal(p->status, GOV_ST_EXPIRED);
  assert_int_equal(p->final_height, end);
  cohort__gov_proposal__free_unpacked(p, NULL);
  assert_int_equal(state_gov_deposit(ST, 2, F.ids[5], &d), 0);
  assert_int_equal(d, 0);
  assert_int_equal(deposit(5, 2, 100), COHORT_ERR_INVALID); /* after the period */
  assert_non_null(strstr(LAST_LOG, "expired"));
  assert_int_equal(stk_of(5), s5 - 250);
  /* proposal 1 (tallied at 14, nobody voted): no quorum, its 1050 burned */
  to_tally(1);
  assert_int_equal(status_of(1), GOV_ST_NO_QUORUM);
  assert_int_equal(stk_of(0), s0 - 500);
  assert_int_equal(stk_of(5), s5 - 250);
  assert_int_equal(stk_of(4), s4 - 300);
  assert_int_equal(pool("s/gov", 1), 0);
}

/* gov_min_deposit lowered (here straight in the store) below a waiting
 * proposal's total: at its deposit end it starts voting, not expiring. */
static void test_min_deposit_lowered(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  prop_tx t;
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 600)), 0); /* 1: deposit_end 4 */
  Cohort__Params p = *state_params(ST);
  p.base.n_unknown_fields = 0;
  p.gov_min_deposit = 500;
  put_msg((const uint8_t *)"p/params", 8, &p.base);
  empty_blocks(1); /* the cache follows the store at the next commit */
  assert_int_equal(state_params(ST)->gov_min_deposit, 500);
  assert_int_equal(status_of(1), GOV_ST_DEPOSIT);
  while (state_height(ST) < 4) empty_blocks(1);
  Cohort__GovProposal *g = prop(1);
  assert_int_equal(g->status, GOV_ST_VOTING);
  assert_int_equal(g->voting_start, 4);
  assert_int_equal(g->voting_end, 14);
  cohort__gov_proposal__free_unpacked(g, NULL);
  assert_int_equal(vote(2, 1, GOV_YES), 0);
  to_tally(1);
  assert_int_equal(status_of(1), GOV_ST_PASSED);
}

/* Votes: only in the voting period, only with a delegation, the last counts. */
static void test_votes(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  uint64_t id = text_voting();
  assert_int_equal(vote(4, id, GOV_YES), COHORT_ERR_INVALID); /* user 4 delegates nothing */
  assert_non_null(strstr(LAST_LOG, "no delegation"));
  assert_int_equal(vote(0, 99, GOV_YES), COHORT_ERR_NOT_FOUND);
  delegate(4, F.ids[2], 1000);
  assert_int_equal(vote(4, id, GOV_YES), 0);
  /* two votes in one block, then one more: the last counts */
  batch b = {.n = 0};
  small_tx v1, v2;
  add_tx(&b, 2, vote_tx(&v1, id, GOV_YES));
  add_tx(&b, 2, vote_tx(&v2, id, GOV_VETO));
  commit(&b);
  assert_int_equal(b.code[0], 0);
  assert_int_equal(b.code[1], 0);
  state_tally t;
  uint32_t out;
  assert_int_equal(state_gov_tally(ST, id, state_validators(ST), state_params(ST), &t, &out), 0);
  assert_int_equal(t.votes, 2);
  assert_int_equal(t.yes, 1000);
  assert_int_equal(t.veto, 300);
  assert_int_equal(t.bonded, 1600);
  assert_int_equal(vote(2, id, GOV_NO), 0);
  to_tally(id);
  Cohort__GovProposal *p = prop(id);
  assert_int_equal(p->yes, 1000);
  assert_int_equal(p->no, 300);
  assert_int_equal(p->veto, 0);
  assert_int_equal(p->bonded, 1600);
  assert_int_equal(p->status, GOV_ST_PASSED); /* 1300 of 1600 voted; 1000 > 650 */
  cohort__gov_proposal__free_unpacked(p, NULL);
  /* after the tally: votes are gone and no more are taken */
  assert_int_equal(state_gov_votes(ST, id, NULL, NULL), 0);
  assert_int_equal(vote(2, id, GOV_YES), COHORT_ERR_INVALID);
  assert_non_null(strstr(LAST_LOG, "passed"));
}

/* Delegators inherit their validator's vote unless they vote; a proposal
 * passes by the votes of delegators whose validator voted no. */
static void test_inheritance(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  delegate(4, F.ids[1], 1000);
  delegate(5, F.ids[1], 500);
  delegate(6, F.ids[2], 50);
  /* V1: tokens 1700 (200 own); bonded 100 + 1700 + 350 = 2150 */
  uint64_t a = text_voting(), b = text_voting();
  batch bt = {.n = 0};
  small_tx v[5];
  /* a: V1's operator votes no, its delegators yes */
  add_tx(&bt, 1, vote_tx(&v[0], a, GOV_NO));
  add_tx(&bt, 4, vote_tx(&v[1], a, GOV_YES));
  add_tx(&bt, 5, vote_tx(&v[2], a, GOV_YES));
  /* b: only the operator votes: every delegator inherits its no */
  add_tx(&bt, 1, vote_tx(&v[3], b, GOV_NO));
  add_tx(&bt, 2, vote_tx(&v[4], b, GOV_YES)); /* V2's operator: 350 inc. user 6's 50 */
  commit(&bt);
  for (int i = 0; i < 5; i++) assert_int_equal(bt.code[i], 0);
  to_tally(b);
  Cohort__GovProposal *p = prop(a);
  assert_int_equal(p->status, GOV_ST_PASSED);
  assert_int_equal(p->yes, 1500);
  assert_int_equal(p->no, 200);
  assert_int_equal(p->bonded, 2150);
  cohort__gov_proposal__free_unpacked(p, NULL);
  p = prop(b);
  assert_int_equal(p->status, GOV_ST_REJECTED);
  assert_int_equal(p->no, 1700);
  assert_int_equal(p->yes, 350);
  cohort__gov_proposal__free_unpacked(p, NULL);
}

/* A delegator whose validator does not vote counts only if it votes; a
 * validator outside the set, and a voter's own validator, are handled as
 * §5 says; shares worth less than their tokens are rounded down. */
static void test_tally_details(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  delegate(4, F.ids[1], 1000);
  /* V2 slashed by a third: tokens 200 of 300 shares (its operator's 300) */
  Cohort__ValidatorInfo *vi = get_val(F.ids[2]);
  uint64_t burn = vi->tokens / 3;
  vi->tokens -= burn;
  put_val(vi, vi->tokens + burn);
  cohort__validator_info__free_unpacked(vi, NULL);
  uint64_t sc, ss;
  assert_int_equal(state_get_supply(ST, &sc, &ss), 0);
  Cohort__Account sup = COHORT__ACCOUNT__INIT;
  sup.crd = sc;
  sup.stk = ss - burn;
  put_msg((const uint8_t *)"s/supply", 8, &sup.base);
  delegate(5, F.ids[2], 100); /* 150 shares for 100 tokens: 200+100 = 300 tokens, 450 shares */
  /* an account delegating to a validator outside the set (user 6's own,
   * jailed: not in the power index, so it stays out) */
  Cohort__ValidatorInfo out = COHORT__VALIDATOR_INFO__INIT;
  out.operator_ = (ProtobufCBinaryData){20, F.ids[6]};
  out.jailed_until = 1000000;
  put_val(&out, 0);
  delegate(6, F.ids[6], 5000);
  uint64_t id = text_voting();
  assert_int_equal(vote(4, id, GOV_ABSTAIN), 0); /* 1000 abstain; V1 did not vote */
  assert_int_equal(vote(5, id, GOV_YES), 0);     /* floor(150 * 300 / 450) = 100 */
  assert_int_equal(vote(6, id, GOV_YES), 0);     /* its validator is not in the set: 0 */
  to_tally(id);
  Cohort__GovProposal *p = prop(id);
  assert_int_equal(p->abstain, 1000);
  assert_int_equal(p->yes, 100);
  assert_int_equal(p->no + p->veto, 0);
  assert_int_equal(p->bonded, 100 + 1200 + 300);
  assert_int_equal(p->status, GOV_ST_PASSED); /* 1100 voted of 1600; yes 100 > 0 */
  cohort__gov_proposal__free_unpacked(p, NULL);
}

/* The outcome rules at their exact boundaries (strict / non-strict as §5). */
static void test_outcome_boundaries(void **s) {
  (void)s;
  Cohort__Params p = COHORT__PARAMS__INIT;
  p.gov_quorum_bps = 5000;
  p.gov_threshold_bps = 5000;
  p.gov_veto_bps = 5000;
  state_tally t = {0};
  t.bonded = 600;
  t.yes = 300; /* voted * 10000 == bonded * quorum: quorum reached */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_PASSED);
  t.yes = 299;
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_NO_QUORUM);
  t.yes = 200, t.abstain = 100; /* abstain counts for the quorum */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_PASSED);
  t.yes = 0, t.abstain = 300; /* ... not for the threshold */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_REJECTED);
  t.abstain = 0;
  t.yes = 150, t.no = 150; /* yes * 10000 == (yes + no + veto) * threshold: not more */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_REJECTED);
  t.yes = 151;
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_PASSED);
  t.yes = 150, t.no = 0, t.veto = 150; /* veto * 10000 == voted * veto_bps: not vetoed */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_REJECTED);
  t.veto = 151;
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_VETOED);
  t.yes = 1000, t.veto = 1001; /* veto beats yes even when yes has the threshold */
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_VETOED);
  t = (state_tally){0};
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_REJECTED); /* nothing bonded, nothing voted */
  p.gov_quorum_bps = 0;
  t.bonded = 600;
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_REJECTED);
  /* 128-bit products: amounts near 2^64 */
  p.gov_quorum_bps = 3340;
  p.gov_threshold_bps = 5000;
  p.gov_veto_bps = 3340;
  t.bonded = UINT64_MAX;
  t.yes = UINT64_MAX / 2 + 1;
  t.no = UINT64_MAX / 2;
  assert_int_equal(gov_tally_outcome(&t, &p), GOV_ST_PASSED);
}

/* The same boundaries end to end, with deposits refunded or burned. */
static void test_outcomes_and_deposits(void **s) {
  (void)s;
  open_chain(GOV_PARAMS ",\"gov_quorum_bps\":5000,\"gov_veto_bps\":5000");
  /* bonded 600: V0 100, V1 200, V2 300 */
  uint64_t q = text_voting(), nq = text_voting(), veto = text_voting(), tie = text_voting();
  uint64_t s0 = stk_of(0);
  batch bt = {.n = 0};
  small_tx v[7];
  add_tx(&bt, 2, vote_tx(&v[0], q, GOV_YES));     /* exactly 50%: quorum */
  add_tx(&bt, 1, vote_tx(&v[1], nq, GOV_YES));    /* 200 < 300 */
  add_tx(&bt, 2, vote_tx(&v[2], veto, GOV_VETO)); /* 300 veto of 500 voted: > 50% */
  add_tx(&bt, 1, vote_tx(&v[3], veto, GOV_YES));
  add_tx(&bt, 0, vote_tx(&v[4], tie, GOV_YES));   /* yes 300 = no 300: not more than half */
  add_tx(&bt, 1, vote_tx(&v[5], tie, GOV_YES));
  add_tx(&bt, 2, vote_tx(&v[6], tie, GOV_NO));
  commit(&bt);
  for (int i = 0; i < 7; i++) assert_int_equal(bt.code[i], 0);
  uint64_t sup0, sup1, c;
  assert_int_equal(state_get_supply(ST, &c, &sup0), 0);
  to_tally(tie);
  assert_int_equal(status_of(q), GOV_ST_PASSED);
  assert_int_equal(status_of(nq), GOV_ST_NO_QUORUM);
  assert_int_equal(status_of(veto), GOV_ST_VETOED);
  assert_int_equal(status_of(tie), GOV_ST_REJECTED);
  /* passed and rejected refunded; no quorum and vetoed burned */
  assert_int_equal(stk_of(0), s0 + 2000);
  assert_int_equal(state_get_supply(ST, &c, &sup1), 0);
  assert_int_equal(sup1, sup0 - 2000);
  assert_int_equal(pool("s/gov", 1), 0);
}

/* A passed min_fee change: in force from block a, not one block earlier. */
static void test_param_change_height(void **s) {
  (void)s;
  ONE_VALIDATOR = 1; /* user 0 operates all the bonded STK */
  open_chain(GOV_PARAMS);
  ONE_VALIDATOR = 0;
  RECORD = 1;
  NREC = 0;
  prop_tx t;
  uint64_t h = state_height(ST) + 1, a = h + 3 + 10 + 4;
  param_change(&t, 1000, "min_fee", 100);
  add_change(&t, "dispute_arity", 4);
  t.m.apply_height = a;
  assert_int_equal(run1(0, &t.b), 0);
  assert_int_equal(vote(0, 1, GOV_YES), 0);
  to_tally(1);
  assert_int_equal(status_of(1), GOV_ST_PASSED);
  Cohort__GovProposal *p = prop(1);
  assert_int_equal(p->applied_height, 0);
  cohort__gov_proposal__free_unpacked(p, NULL);
  while (state_height(ST) < a - 2) empty_blocks(1);
  /* block a-1: a fee of 50 (above the old 10, below the new 100) is fine */
  assert_int_equal(state_params(ST)->min_fee, 10);
  FEE = 50;
  batch b = {.n = 0};
  small_tx v;
  add_tx(&b, 4, deposit_tx(&v, 1, 5)); /* any tx: its message fails, the fee is what counts */
  commit(&b);
  assert_int_equal(state_height(ST), a - 1);
  assert_true(b.code[0] != INT_MIN);
  /* block a: the same fee is refused at the door */
  assert_int_equal(state_params(ST)->min_fee, 100);
  assert_int_equal(state_params(ST)->dispute_arity, 4);
  b.n = 0;
  add_tx(&b, 4, deposit_tx(&v, 1, 5));
  commit(&b);
  assert_int_equal(b.code[0], INT_MIN);
  FEE = 100;
  b.n = 0;
  add_tx(&b, 4, deposit_tx(&v, 1, 5));
  commit(&b);
  assert_true(b.code[0] != INT_MIN);
  FEE = 10;
  p = prop(1);
  assert_int_equal(p->status, GOV_ST_PASSED);
  assert_int_equal(p->applied_height, a);
  cohort__gov_proposal__free_unpacked(p, NULL);
  uint64_t since;
  assert_int_equal(state_param_since(ST, "min_fee", &since), 0);
  assert_int_equal(since, a);
  assert_int_equal(state_param_since(ST, "dispute_arity", &since), 0);
  assert_int_equal(since, a);
  assert_int_equal(state_param_since(ST, "max_block_txs", &since), 0);
  assert_int_equal(since, 0);
  assert_int_equal(state_param_since(ST, "nope", &since), COHORT_ERR_NOT_FOUND);
  /* the same blocks, replayed with the full checks into a fresh store (each
   * decoded and checked under the parameters in force for it), give the
   * same app_hash at every height */
  RECORD = 0;
  kv_store *kv2;
  state *st2;
  core_errbuf eb;
  assert_int_equal(kv_open_mem(&kv2), 0);
  assert_int_equal(state_open(&st2, kv2, &eb), 0);
  assert_int_equal(state_init_genesis(st2, &F.g, &eb), 0);
  assert_true(NREC > 0 && NREC < REC_MAX);
  for (size_t i = 0; i < NREC; i++) {
    if (state_apply_block(st2, REC_B[i], REC_BL[i], REC_C[i], REC_CL[i], &eb))
      fail_msg("replay of block %zu: %s", i + 1, eb.msg);
    assert_memory_equal(state_app_hash(st2), REC_APP[i], 32);
    free(REC_B[i]);
    free(REC_C[i]);
  }
  assert_int_equal(state_params(st2)->min_fee, 100);
  state_close(st2);
  kv_close(kv2);
}

/* apply_height 0: the block after the tally. Two changes that each pass
 * alone but not together: the second fails when applied, nothing changes. */
static void test_apply_conflict(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  prop_tx t;
  /* fixture: max_block_bytes 4 MiB, max_tx_bytes 2 MiB */
  assert_int_equal(run1(0, param_change(&t, 1000, "max_tx_bytes", 3u << 20)), 0);
  assert_int_equal(run1(0, param_change(&t, 1000, "max_block_bytes", (5u << 19))), 0); /* 2.5 MiB */
  batch b = {.n = 0};
  small_tx v1, v2;
  add_tx(&b, 2, vote_tx(&v1, 1, GOV_YES));
  add_tx(&b, 2, vote_tx(&v2, 2, GOV_YES));
  commit(&b);
  Cohort__GovProposal *p = prop(1);
  uint64_t t1 = p->voting_end;
  cohort__gov_proposal__free_unpacked(p, NULL);
  to_tally(1);
  /* proposal 1 applied at the end of its tally block: in force from t1 + 1 */
  assert_int_equal(state_params(ST)->max_tx_bytes, 3u << 20);
  p = prop(1);
  assert_int_equal(p->applied_height, t1 + 1);
  cohort__gov_proposal__free_unpacked(p, NULL);
  to_tally(2);
  p = prop(2);
  assert_int_equal(p->status, GOV_ST_FAILED);
  assert_int_equal(p->applied_height, 0);
  assert_non_null(strstr(p->failed_reason, "max_block_bytes"));
  print_message("  (failed: %s)\n", p->failed_reason);
  cohort__gov_proposal__free_unpacked(p, NULL);
  assert_int_equal(state_params(ST)->max_block_bytes, 4u << 20);
  uint64_t since;
  assert_int_equal(state_param_since(ST, "max_block_bytes", &since), 0);
  assert_int_equal(since, 0);
}

/* Community-pool spends: paid when the pool has it, FAILED when short.
 * (GOV_PARAMS sets community_tax_bps 0, so fees do not feed the pool.) */
static void test_spend(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  fund_community(5000);
  prop_tx t;
  proposal(&t, GOV_KIND_SPEND, 1000);
  t.m.recipient = (ProtobufCBinaryData){20, F.ids[6]};
  t.m.amount = 3000;
  assert_int_equal(run1(0, &t.b), 0);
  t.m.amount = 4000; /* more than will be left after the first (the pool also
                     * takes the rounding of fee distributions: a few units) */
  assert_int_equal(run1(0, &t.b), 0);
  assert_int_equal(vote(2, 1, GOV_YES), 0);
  assert_int_equal(vote(2, 2, GOV_YES), 0);
  uint64_t c6 = crd_of(F.ids[6]);
  to_tally(2);
  assert_int_equal(status_of(1), GOV_ST_PASSED);
  assert_int_equal(crd_of(F.ids[6]), c6 + 3000);
  uint64_t left = pool("s/community", 0);
  assert_true(left >= 2000 && left < 4000);
  Cohort__GovProposal *p = prop(2);
  assert_int_equal(p->status, GOV_ST_FAILED);
  assert_non_null(strstr(p->failed_reason, "community pool"));
  cohort__gov_proposal__free_unpacked(p, NULL);
}

/* Deadlines keep blocks coming; the running tally answers while voting. */
/* Deposit and voting periods ending at each height ("gq/" kinds 1, 2). */
typedef struct {
  uint32_t n[64];
} ends_acc;
static int count_ends(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)v, (void)vl;
  ends_acc *e = ctx;
  assert_int_equal(kl, 20);
  uint64_t h = core_get_u64be(k + 4);
  if ((k[3] == 1 || k[3] == 2) && h < 64) e->n[h]++;
  return 0;
}

/* Review finding 4: at most gov_max_ends_per_block (default 16) deposit or
 * voting periods end in one block, on every path that queues one: a
 * submit (voting at once, or a deposit period), a deposit that starts the
 * vote, and a deposit period whose total reaches a lowered gov_min_deposit
 * (expired instead, saying why). Without the cap the 17th proposal of a
 * block is accepted and the end of block h + 10 tallies all of them. */
static void test_ends_per_block_cap(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  uint32_t cap = state_params(ST)->gov_max_ends_per_block;
  assert_int_equal(cap, 16);
  prop_tx t[20];
  /* block 1: a proposal waiting for deposits (deposit_end 4), then 16 that
   * vote at once (voting_end 11) and a 17th, refused */
  batch b = {.n = 0};
  add_tx(&b, 0, proposal(&t[0], GOV_KIND_TEXT, 600));
  for (uint32_t i = 1; i <= cap + 1; i++) add_tx(&b, 0, proposal(&t[i], GOV_KIND_TEXT, 1000));
  commit(&b);
  for (uint32_t i = 0; i <= cap; i++) assert_int_equal(b.code[i], 0);
  assert_int_equal(b.code[cap + 1], COHORT_ERR_TOO_LARGE);
  assert_non_null(strstr(b.log[cap + 1], "gov_max_ends_per_block"));
  assert_non_null(strstr(b.log[cap + 1], "block 11"));
  uint64_t next;
  assert_int_equal(state_gov_next_id(ST, &next), 0);
  assert_int_equal(next, cap + 2); /* nothing of the refused one was kept */
  /* block 2: periods ending at 12: accepted */
  b.n = 0;
  for (uint32_t i = 0; i < cap; i++) add_tx(&b, 1, proposal(&t[i], GOV_KIND_TEXT, 1000));
  commit(&b);
  for (uint32_t i = 0; i < cap; i++) assert_int_equal(b.code[i], 0);
  /* block 3: 16 more fill 13; then the deposit completing proposal 1 would
   * start a vote ending at 13 too: refused, and it changes nothing */
  b.n = 0;
  for (uint32_t i = 0; i < cap; i++) add_tx(&b, 2, proposal(&t[i], GOV_KIND_TEXT, 1000));
  small_tx d;
  add_tx(&b, 4, deposit_tx(&d, 1, 400));
  uint64_t s4 = stk_of(4);
  commit(&b);
  assert_int_equal(state_height(ST), 3);
  for (uint32_t i = 0; i < cap; i++) assert_int_equal(b.code[i], 0);
  assert_int_equal(b.code[cap], COHORT_ERR_TOO_LARGE);
  assert_non_null(strstr(b.log[cap], "block 13"));
  assert_int_equal(stk_of(4), s4);
  Cohort__GovProposal *p = prop(1);
  assert_int_equal(p->status, GOV_ST_DEPOSIT);
  assert_int_equal(p->total_deposit, 600);
  assert_int_equal(p->depositors, 1);
  cohort__gov_proposal__free_unpacked(p, NULL);
  /* block 4 (its deposit end): the same deposit starts a vote ending at 14 */
  assert_int_equal(deposit(4, 1, 400), 0);
  assert_int_equal(status_of(1), GOV_ST_VOTING);
  ends_acc e = {{0}};
  assert_int_equal(state_scan(ST, "gq/", count_ends, &e), 0);
  for (int h = 0; h < 64; h++) assert_true(e.n[h] <= cap);
  assert_int_equal(e.n[11], cap);
  assert_int_equal(e.n[12], cap);
  assert_int_equal(e.n[13], cap);
  assert_int_equal(e.n[14], 1);
  to_tally(1);
  assert_int_equal(status_of(1), GOV_ST_NO_QUORUM);
}

/* The expiry path: gov_min_deposit lowered below a waiting proposal's
 * total, but the block where its vote would end is full: it expires
 * (refunded) with the reason, and no block ends more than the cap. */
static void test_ends_cap_at_expiry(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  uint32_t cap = state_params(ST)->gov_max_ends_per_block;
  prop_tx t[20];
  uint64_t s0 = stk_of(0);
  assert_int_equal(run1(0, proposal(&t[0], GOV_KIND_TEXT, 600)), 0); /* 1: deposit_end 4 */
  Cohort__Params p = *state_params(ST);
  p.base.n_unknown_fields = 0;
  p.gov_min_deposit = 500;
  put_msg((const uint8_t *)"p/params", 8, &p.base);
  empty_blocks(2); /* heights 2, 3 */
  batch b = {.n = 0}; /* height 4: cap proposals voting until 14 */
  for (uint32_t i = 1; i <= cap; i++) add_tx(&b, 1, proposal(&t[i], GOV_KIND_TEXT, 500));
  commit(&b);
  for (uint32_t i = 0; i < cap; i++) assert_int_equal(b.code[i], 0);
  Cohort__GovProposal *g = prop(1);
  assert_int_equal(g->status, GOV_ST_EXPIRED);
  assert_int_equal(g->final_height, 4);
  assert_int_equal(g->depositors, 0);
  assert_non_null(strstr(g->failed_reason, "gov_max_ends_per_block"));
  cohort__gov_proposal__free_unpacked(g, NULL);
  assert_int_equal(stk_of(0), s0); /* refunded */
}

/* Review finding 4: at most gov_max_depositors accounts deposit on one
 * proposal (their refunds or burns are the end of block's work), and a new
 * depositor brings at least ceil(gov_min_deposit / gov_max_depositors), so
 * the places cannot be taken with dust. The cap binds only when
 * gov_min_deposit rose during the period (here straight in the store):
 * the depositors already in may still add. Fails without the rule (the
 * parameter is unknown; a fourth depositor would be taken). */
static void test_depositors_cap(void **s) {
  (void)s;
  open_chain(",\"gas_price_milli\":\"0\",\"gov_min_deposit\":\"1000\",\"gov_min_initial_bps\":5000,"
             "\"gov_deposit_blocks\":20,\"gov_voting_blocks\":10,\"community_tax_bps\":0,"
             "\"gov_max_depositors\":3");
  prop_tx t;
  uint64_t s0 = stk_of(0), s4 = stk_of(4), s5 = stk_of(5), s6 = stk_of(6);
  assert_int_equal(run1(0, proposal(&t, GOV_KIND_TEXT, 500)), 0); /* 1: the proposer, 500 */
  assert_int_equal(deposit(4, 1, 333), COHORT_ERR_AMOUNT);         /* below ceil(1000 / 3) */
  assert_non_null(strstr(LAST_LOG, "334"));
  assert_int_equal(deposit(4, 1, 334), 0); /* 834 */
  Cohort__Params p = *state_params(ST);
  p.base.n_unknown_fields = 0;
  p.gov_min_deposit = 3000;
  put_msg((const uint8_t *)"p/params", 8, &p.base);
  empty_blocks(1);
  assert_int_equal(deposit(5, 1, 999), COHORT_ERR_AMOUNT); /* now ceil(3000 / 3) */
  assert_int_equal(deposit(5, 1, 1000), 0);                 /* 1834: the third */
  Cohort__GovProposal *g = prop(1);
  assert_int_equal(g->depositors, 3);
  cohort__gov_proposal__free_unpacked(g, NULL);
  assert_int_equal(deposit(6, 1, 2000), COHORT_ERR_TOO_LARGE);
  assert_non_null(strstr(LAST_LOG, "gov_max_depositors"));
  assert_int_equal(stk_of(6), s6);
  assert_int_equal(deposit(4, 1, 1166), 0); /* an old depositor adds: 3000, voting */
  g = prop(1);
  assert_int_equal(g->status, GOV_ST_VOTING);
  assert_int_equal(g->depositors, 3);
  cohort__gov_proposal__free_unpacked(g, NULL);
  assert_int_equal(vote(2, 1, GOV_YES), 0); /* 300 of 600 bonded */
  to_tally(1);
  g = prop(1);
  assert_int_equal(g->status, GOV_ST_PASSED);
  assert_int_equal(g->depositors, 0); /* settled: refunded */
  cohort__gov_proposal__free_unpacked(g, NULL);
  assert_int_equal(stk_of(0), s0);
  assert_int_equal(stk_of(4), s4);
  assert_int_equal(stk_of(5), s5);
  core_errbuf eb;
  if (state_audit(ST, NULL, &eb)) fail_msg("%s", eb.msg);
}

/* Review finding 5: "pm/" + name keeps the largest value a parameter has
 * had in force, what a node sizes block-sync messages by (docs/p2p.md §9a):
 * after max_block_bytes goes down, then up, then down again, it is the
 * largest of the four values; a parameter never changed answers its value. */
static void pass_param(const char *name, uint64_t v) {
  prop_tx t;
  assert_int_equal(run1(0, param_change(&t, 1000, name, v)), 0);
  uint64_t next;
  assert_int_equal(state_gov_next_id(ST, &next), 0);
  assert_int_equal(vote(2, next - 1, GOV_YES), 0);
  to_tally(next - 1);
  empty_blocks(1);
  assert_int_equal(status_of(next - 1), GOV_ST_PASSED);
}

static void test_param_max_ever(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  uint64_t m;
  assert_int_equal(state_param_max(ST, "max_block_bytes", &m), 0);
  assert_int_equal(m, 4194304); /* the genesis value */
  assert_int_equal(state_param_max(ST, "no_such_param", &m), COHORT_ERR_NOT_FOUND);
  pass_param("max_block_bytes", 3u << 20);
  assert_int_equal(state_params(ST)->max_block_bytes, 3u << 20);
  assert_int_equal(state_param_max(ST, "max_block_bytes", &m), 0);
  assert_int_equal(m, 4194304);
  pass_param("max_block_bytes", 6u << 20);
  assert_int_equal(state_param_max(ST, "max_block_bytes", &m), 0);
  assert_int_equal(m, 6u << 20);
  pass_param("max_block_bytes", 5u << 19);
  assert_int_equal(state_params(ST)->max_block_bytes, 5u << 19);
  assert_int_equal(state_param_max(ST, "max_block_bytes", &m), 0);
  assert_int_equal(m, 6u << 20);
  assert_int_equal(state_param_max(ST, "min_fee", &m), 0);
  assert_int_equal(m, state_params(ST)->min_fee);
}

static void test_scheduled_work(void **s) {
  (void)s;
  open_chain(GOV_PARAMS);
  assert_false(state_has_scheduled_work(ST));
  uint64_t id = text_voting();
  assert_true(state_has_scheduled_work(ST));
  to_tally(id);
  assert_false(state_has_scheduled_work(ST));
}

int main(void) {
  if (core_init()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_decode_rules, teardown),
      cmocka_unit_test_teardown(test_submit_refusals, teardown),
      cmocka_unit_test_teardown(test_deposits, teardown),
      cmocka_unit_test_teardown(test_min_deposit_lowered, teardown),
      cmocka_unit_test_teardown(test_votes, teardown),
      cmocka_unit_test_teardown(test_inheritance, teardown),
      cmocka_unit_test_teardown(test_tally_details, teardown),
      cmocka_unit_test(test_outcome_boundaries),
      cmocka_unit_test_teardown(test_outcomes_and_deposits, teardown),
      cmocka_unit_test_teardown(test_param_change_height, teardown),
      cmocka_unit_test_teardown(test_apply_conflict, teardown),
      cmocka_unit_test_teardown(test_spend, teardown),
      cmocka_unit_test_teardown(test_scheduled_work, teardown),
      cmocka_unit_test_teardown(test_ends_per_block_cap, teardown),
      cmocka_unit_test_teardown(test_ends_cap_at_expiry, teardown),
      cmocka_unit_test_teardown(test_depositors_cap, teardown),
      cmocka_unit_test_teardown(test_param_max_ever, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
