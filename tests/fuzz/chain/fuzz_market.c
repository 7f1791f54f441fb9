/* tests/fuzz/chain/fuzz_market.c — a stateful fuzzer of the compute market.
 *
 * What it drives. A one-validator chain on in-memory stores with eight
 * funded accounts, a real guest program (vm/guest sha256.elf, embedded by
 * CMake as fuzz_guest_elf.h) and a starting state built once by nine setup
 * blocks: five executors with different stakes, prices and capacities, an
 * unbonding entry, a delegation to executor 1 and an unbonding entry of it
 * (docs/staking.md §8), a job, and tasks in every status — FINAL, EXPIRED
 * (and pruned), DISPUTED, AGREED, REVEALING, COMMITTING with one commitment
 * in, DRAWING. Each input starts from a copy of that state (a snapshot of the
 * kv_mem store) and is decoded as a sequence of ACTIONS, not as protobuf:
 *
 *   byte op % 16   action (its parameters follow as bytes; a missing byte is 0)
 *   0              make a block of the txs queued so far
 *   1              1..8 blocks (pass windows, deadlines, jails, prunes)
 *   2, 3           SubmitTask: owner, committee, inline or blob input,
 *                  program (the ELF, any known blob, an unknown hash), and
 *                  caps from edge-case menus (steps, memory, reward, windows,
 *                  output cap), including values the chain must refuse
 *   4              SubmitJob of 0..4 chunks, the same menus
 *   5              RegisterExecutor (stake, price, accepting, capacity; the
 *                  commission from bits 3-5 of the user byte: 0, 5 %, 20 %,
 *                  100 %, above 100 %, the one in force, the pending raise
 *                  restated, fuzzed)
 *   6              Unbond (1, exactly what seat_lock allows, one more, all..);
 *                  with bit 7 of the user byte set, delegation to executors
 *                  (docs/staking.md §8), bits 3-4 of that byte picking:
 *                  0 DelegateExecutor to a user (an executor or not) or an
 *                    account nobody holds, of: below min_delegation, the
 *                    minimum, small, exactly the room left under
 *                    exec_delegation_max_x x own stake, one above it, the
 *                    whole STK balance, one above it, fuzzed
 *                  1 UndelegateExecutor of 1, the full value, one more, half,
 *                    fuzzed
 *                  2 WithdrawRewards {executor}
 *                  3 WithdrawRewards: neither named (every delegation), the
 *                    validator's, both named or a 19-byte executor (refused
 *                    at decode)
 *   7, 8           CommitResult by a member (or anyone) of a known task:
 *                  honest claim, a liar's (valid proof of another input),
 *                  another run's caps, altered steps, a garbage commitment
 *   9, 10          RevealResult of what that member committed, or with a
 *                  corrupted salt, output, proof, output hash, an output
 *                  over the task's cap, or the honest claim instead of the
 *                  committed one
 *   11, 12         serve a task: every active member commits or reveals,
 *                  honestly, as a liar, or stays silent (per member)
 *   13             UploadBlob: the ELF as program or data, a mutated ELF,
 *                  random data (an input blob), random "program", too large
 *   14             Transfer of CRD or STK (small, all, more than the balance)
 *   15             misc: perturb the next tx (fee below the base gas, fee
 *                  covering only the base gas, fee above the balance, nonce
 *                  gap, stale nonce, double fee), withhold the next beacon
 *                  reveal, re-commit the beacon, dry-run the next block's
 *                  VM-loading txs too, replay an included tx
 *
 * The harness signs its txs with the accounts' keys (fee from the cost
 * model), runs the VM itself to get claims, outputs and output proofs
 * (cached across inputs: a pure function of program, input and caps), and
 * makes real blocks the way a proposer does: beacon reveal (the preimage
 * of what state_beacon_expected says, re-commitments when none is pending),
 * waiting tasks and draws, txs
 * (only the includable ones go in; each is also dry-run through
 * state_check_msg, the mempool's check — those that set up a VM only when
 * the input asks, as they cost most), end-of-block work, tx root,
 * app_hash, the validator's commit signature, state_commit. Every block is
 * then applied to a second store with state_apply_block, as a syncing node
 * would (header, commit signature, every tx's signature again).
 *
 * What it checks, after every block (a violation prints what and aborts):
 *   - the replaying store accepts the block and reaches the same app_hash;
 *     at the end of the input both stores hold the same bytes under every key
 *     (tx results and chain records included);
 *   - conservation: the supply rule (state_audit: CRD balances + escrow +
 *     fee, reward and community pools = CRD supply; STK balances + executor
 *     stakes + unbonding + task bonds + validator tokens = STK supply);
 *     the harness also counts both itself from the records (executors'
 *     del_tokens and del_unbonding, the validator's tokens, its delegators'
 *     unbonding and the pools included);
 *     supplies never grow, and shrink only by their burns: the STK burned is
 *     the executors' slashed_total, their delegators' losses included (the
 *     harness remembers it for records deleted when nothing was left), the
 *     CRD burned the storage fees of the stored blobs (each stored once
 *     under the hash of its bytes);
 *   - escrow = sum over unsettled tasks of reward + committee x fee_allowance
 *     - paid - fees_repaid - refunded; that remainder is 0 for FINAL and
 *     EXPIRED tasks; no task pays more than its reward;
 *   - executors: capacity in 1..max; active_tasks <= capacity and equal to
 *     the seats it holds on DRAWING/COMMITTING/REVEALING tasks; seat_lock =
 *     the largest stake among its "w/" seat records; unbonding entries cover
 *     its unbonding amount, are due in the future and are indexed by "U/";
 *     a jail entry exists exactly while it is jailed, and a jailed executor
 *     is not accepting; commissions are at most 100 %, a pending one is a
 *     raise due within unbonding_blocks;
 *   - delegations to executors (docs/staking.md §1, §8): every "xd/" has
 *     shares, its "xv/" key and an executor record, and they add up to its
 *     del_shares; every "xq/" entry is due in the future (none due at or
 *     below the height survives its block), unbonding_blocks after its
 *     creation, holds at most what it started with, has its "xu/" and "xe/"
 *     keys (and each of those its entry), and they add up to the
 *     executor's del_unbonding; delegated tokens have shares;
 *   - seats: a "w/" record exists exactly for each active member of a task
 *     that is not FINAL or EXPIRED, holding the member's own stake at the
 *     draw (its weight less the delegated part, which is at most
 *     exec_delegation_max_x x that; and such a member's executor record
 *     exists);
 *   - r/reveal_load = the reveal gas still owed by REVEALING tasks (0 for
 *     the others); waiting-queue ("n/") entries name DRAWING tasks, since
 *     their draw_since, at an epoch not after r/capacity, for less than
 *     draw_wait_blocks;
 *   - tasks, per status: DRAWING has empty seats; COMMITTING/REVEALING a
 *     full committee, with some commitment or reveal still missing;
 *     AGREED/FINAL a result that every active member revealed, at least
 *     quorum of them; FINAL paid every member min(market_seat_cost at its
 *     draw-time prices, reward / k) and its fees back up to the allowance;
 *     DISPUTED two different claims, nothing paid or refunded; EXPIRED no
 *     result; COMMITTING/REVEALING/AGREED exactly one deadline entry of the
 *     right kind at `deadline` (in the future), DRAWING that or (deadline
 *     0) one waiting-queue entry, FINAL/EXPIRED a prune entry until pruned,
 *     DISPUTED none; pruned tasks keep no input or output; members are
 *     distinct executors; every task is indexed by owner;
 *   - jobs: done and failed count the chunks that agreed and that
 *     disputed or expired, and the status follows;
 *   - every key has a prefix the harness knows (v_prefix): a new kind of
 *     record fails until its invariants are written here.
 * Nothing may crash, leak (ASan/LSan) or hang (each input makes at most
 * MAX_BLOCKS blocks).
 *
 * How to run it:
 *   tests/fuzz/run.sh fuzz_market 300           libFuzzer (clang, build-fuzz/)
 *   make test                                   replays tests/fuzz/corpus/fuzz_market
 *                                               (ctest replay_fuzz_market, label unit;
 *                                               under ASan+UBSan in make test-asan)
 *   FUZZ_MARKET_VERBOSE=1 build/tests/replay_fuzz_market FILE
 *                                               prints every action, tx result and
 *                                               task status while replaying FILE
 *   python3 tests/fuzz/chain/fuzz_market_seeds.py
 *                                               rewrites the hand-made seeds (seed-*)
 * Speed: the setup runs once per process (~0.1 s); an input costs a copy of
 * the snapshot and ~0.5 ms per block without sanitizers (about 60 inputs/s
 * replayed); under libFuzzer with ASan+UBSan 5-10 exec/s, most of it setting
 * up VMs (each SubmitTask loads one on the proposer and one on the replaying
 * node; ASan poisons the whole memory cap), hence the small memory menus.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "fuzz_guest_elf.h"
#include "proto/block.h"
#include "proto/market.h"
#include "proto/tx.h"
#include "state/state.h"
#include "vm/vm.h"

#define CHAIN "fuzz-market-1"
#define NU 8            /* accounts; user 7 is poor (500 CRD, no STK) */
#define BEACON_N 1024   /* links of each of the validator's beacon chains */
#define MAX_BLOCKS 48   /* blocks one input may make */
#define MAXP 48         /* txs queued for one block */
#define MAXT 128        /* task IDs the harness knows */
#define MAXB 32         /* blobs the harness knows */
#define MAXC 256        /* commitments the harness remembers */
#define RUNS 1024       /* VM run cache */

/* Task status numbers and deadline kinds (docs/tasks.md, market_int.h). */
enum { T_COMMITTING = 1, T_REVEALING, T_AGREED, T_FINAL, T_DISPUTED, T_EXPIRED, T_DRAWING };
enum { DL_DRAW = 1, DL_WINDOW, DL_PRUNE, DL_JAIL };

static int verbose;
#define LOG(...) (verbose ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

/* ------------------------------------------------------------------ */
/* The fixed world: keys, genesis, program, beacon chains, the snapshot. */

static struct {
  uint8_t vsec[64], vpub[32];
  uint8_t sec[NU][32], id[NU][20];
  genesis g;
  uint8_t beacon[2][BEACON_N + 1][32];
  uint8_t prog[32]; /* sha256 of the embedded ELF */
  kv_store *snap;   /* the store after the setup blocks */
  uint64_t crd0, stk0; /* the supplies at genesis */
} W;

static const uint8_t *ELF = fuzz_guest_elf;
static const size_t ELF_LEN = sizeof fuzz_guest_elf;

/* A chain: a store and the state over it. */
typedef struct {
  kv_store *kv;
  state *st;
} chain;

/* What the harness remembers: known task IDs and blobs, the claim and salt
 * of each commitment it made (to reveal it later). */
typedef struct {
  uint8_t task[32];
  uint8_t user, variant, salt, pad;
} crec;

typedef struct {
  uint8_t hash[32];
  uint32_t len;
} blobref;

typedef struct {
  uint8_t tasks[MAXT][32];
  int nt;
  blobref blobs[MAXB];
  int nb;
  crec commits[MAXC];
  int nc;
  int withhold, recommit; /* for the next block's beacon reveal */
  int dry_vm;          /* dry-run the VM-loading txs of the next block too */
  uint8_t badtx;       /* perturbation of the next tx (0 none) */
  int blocks;          /* blocks made in this input */
} model;

static model M0; /* the model at the snapshot */

/* Per input. */
static struct {
  chain a, b; /* a: the proposer's store; b: replays a's blocks */
  model m;
  uint8_t *raw[MAXP];
  size_t len[MAXP];
  int np;
  uint32_t pend[NU]; /* txs queued per user in this block (for nonces) */
  uint8_t *last_tx;  /* a copy of an included tx, for replays */
  size_t last_len;
  uint64_t crd_supply, stk_supply;
  uint64_t slashed_seen[NU], slashed_gone; /* executors' slashed_total; of deleted records */
  int in_setup;
} X;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_market: %s at height %llu: ", X.in_setup ? "SETUP" : "INVARIANT",
          X.a.st ? (unsigned long long)state_height(X.a.st) : 0ull);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}
#define CHECK(c, ...) \
  do {                \
    if (!(c)) die(__VA_ARGS__); \
  } while (0)

static void hex8(char out[17], const uint8_t *id) { core_hex_encode(out, id, 8); }

/* ------------------------------------------------------------------ */
/* Reading bytes of the input. */

typedef struct {
  const uint8_t *p;
  size_t n, i;
} rd;

static uint8_t r8(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static uint32_t r16(rd *r) { return (uint32_t)r8(r) << 8 | r8(r); }
static uint32_t r24(rd *r) { return r16(r) << 8 | r8(r); }
static uint32_t r32(rd *r) { return r16(r) << 16 | r16(r); }

/* ------------------------------------------------------------------ */
/* Stores: a copy of the snapshot per input. */

static int copy_ent(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  return kv_batch_put(ctx, k, kl, v, vl);
}

static void kv_copy(kv_store *dst, kv_store *src) {
  kv_batch *b = kv_batch_new();
  core_errbuf eb;
  if (!b || kv_scan(src, (const uint8_t *)"", 0, copy_ent, b) || kv_write(dst, b, 0, &eb))
    die("cannot copy the snapshot");
  kv_batch_del(b);
}

static void chain_open(chain *c, kv_store *from) {
  core_errbuf eb;
  if (kv_open_mem(&c->kv)) die("kv_open_mem");
  if (from) kv_copy(c->kv, from);
  if (state_open(&c->st, c->kv, &eb)) die("state_open: %s", eb.msg);
  if (!from && state_init_genesis(c->st, &W.g, &eb)) die("genesis: %s", eb.msg);
}

static void chain_close(chain *c) {
  if (c->st) state_close(c->st);
  if (c->kv) kv_close(c->kv);
  c->st = NULL;
  c->kv = NULL;
}

/* ------------------------------------------------------------------ */
/* The VM, as an executor runs it: claim, output and output proof. Cached
 * (a pure function of its arguments), so the cost is paid once per
 * distinct run across all inputs. */

typedef struct {
  uint8_t key[32];
  int used;
  Cohort__Claim claim;
  uint8_t final[32], oh[32];
  uint8_t *out, *proof;
  size_t out_len, plen;
} run_t;

static run_t RC[RUNS];

static void run_free(run_t *r) {
  free(r->out);
  free(r->proof);
  memset(r, 0, sizeof *r);
}

/* NULL if the VM cannot start (not a program, bad caps) or the run would be
 * too long for a fuzzer (no executor of ours runs it). */
static const run_t *vm_run(const uint8_t *prog, size_t plen, const uint8_t *in, size_t il,
                           uint32_t mem_mib, uint64_t max_steps, uint32_t out_cap) {
  if (max_steps > (4u << 20) || mem_mib < 2 || mem_mib > 64 || !prog) return NULL;
  uint8_t ph[32], ih[32], kin[84], key[32];
  core_sha256(ph, prog, plen);
  core_sha256(ih, in, il);
  memcpy(kin, ph, 32);
  memcpy(kin + 32, ih, 32);
  core_put_u32be(kin + 64, mem_mib);
  core_put_u64be(kin + 68, max_steps);
  core_put_u32be(kin + 76, out_cap);
  core_put_u32be(kin + 80, 0x52554e31);
  core_sha256(key, kin, sizeof kin);
  size_t slot = (size_t)core_get_u32be(key) % RUNS;
  for (int i = 0; i < 8; i++) {
    run_t *r = &RC[(slot + (size_t)i) % RUNS];
    if (r->used && !memcmp(r->key, key, 32)) return r;
  }
  run_t *r = &RC[slot];
  for (int i = 0; i < 8; i++)
    if (!RC[(slot + (size_t)i) % RUNS].used) {
      r = &RC[(slot + (size_t)i) % RUNS];
      break;
    }
  if (r->used) run_free(r);
  cohort_vm *vm;
  cohort_vm_config cfg = {.mem_cap = mem_mib << 20, .max_steps = max_steps, .out_cap = out_cap};
  core_errbuf eb;
  if (cohort_vm_new(&vm, prog, plen, in, il, &cfg, &eb)) return NULL;
  uint64_t done;
  cohort_vm_run(vm, max_steps, &done);
  cohort_vm_info info;
  cohort_vm_get_info(vm, &info);
  size_t ol;
  const uint8_t *o = cohort_vm_output(vm, &ol);
  if (cohort_vm_state_hash(vm, r->final) || !(r->out = malloc(ol ? ol : 1)) ||
      cohort_vm_output_prove(vm, &r->proof, &r->plen))
    die("VM run: out of memory");
  memcpy(r->out, o, ol);
  r->out_len = ol;
  cohort_vm_del(vm);
  core_sha256(r->oh, r->out, r->out_len);
  cohort__claim__init(&r->claim);
  r->claim.final_state = (ProtobufCBinaryData){32, r->final};
  r->claim.steps = info.step;
  r->claim.status = info.status;
  r->claim.code = info.code;
  r->claim.output_hash = (ProtobufCBinaryData){32, r->oh};
  memcpy(r->key, key, 32);
  r->used = 1;
  return r;
}

/* Claim variants an executor may commit to. */
enum { V_HONEST, V_LIAR, V_OTHER_CAPS, V_BAD_STEPS, V_GARBAGE, V_OTHER_TASK, V_COUNT };


/* The run behind claim variant v of task `id` (NULL if it cannot be made:
 * the program does not load, the input was pruned, the run is too long). */
static const run_t *task_run(chain *c, const uint8_t id[32], const Cohort__Task *t, int v) {
  Cohort__Blob *pb = NULL, *ib = NULL;
  uint8_t *inl = NULL, *in = NULL;
  size_t il = 0;
  const run_t *r = NULL;
  if (t->program.len != 32 || state_get_blob(c->st, t->program.data, &pb)) return NULL;
  if (t->input_blob.len == 32) {
    if (state_get_blob(c->st, t->input_blob.data, &ib)) goto out;
    in = ib->data.data, il = ib->data.len;
  } else {
    if (state_get_task_input(c->st, id, &inl, &il)) goto out;
    in = inl;
  }
  if (v == V_LIAR) { /* a valid proof of another run: the input with one more byte */
    uint8_t *alt = malloc(il + 1);
    if (!alt) die("out of memory");
    if (il) memcpy(alt, in, il);
    alt[il] = '!';
    r = vm_run(pb->data.data, pb->data.len, alt, il + 1, t->mem_mib, t->max_steps,
               t->max_output_bytes);
    free(alt);
  } else if (v == V_OTHER_CAPS) { /* the same input under another step cap */
    r = vm_run(pb->data.data, pb->data.len, in, il, t->mem_mib, t->max_steps + 1,
               t->max_output_bytes);
  } else {
    r = vm_run(pb->data.data, pb->data.len, in, il, t->mem_mib, t->max_steps,
               t->max_output_bytes);
  }
out:
  cohort__blob__free_unpacked(pb, NULL);
  if (ib) cohort__blob__free_unpacked(ib, NULL);
  free(inl);
  return r;
}

/* ------------------------------------------------------------------ */
/* Transactions: signed by the harness with the fee the cost model asks. */

enum { /* perturbations of the next tx (action 15) */
  BAD_NONE,
  BAD_FEE_LOW,   /* below the base gas due: not includable */
  BAD_FEE_BASE,  /* covers the base gas only: the message fails with `fee` */
  BAD_FEE_HUGE,  /* more than the balance: not includable */
  BAD_NONCE_GAP, /* nonce + 1: not includable */
  BAD_NONCE_OLD, /* nonce - 1: not includable */
  BAD_TIP,       /* twice the fee due (fine; commit/reveal fees repaid up to the allowance) */
  BAD_COUNT
};

static uint64_t nonce_of(int u) {
  uint64_t c, s, n;
  if (state_get_account(X.a.st, W.id[u], &c, &s, &n)) die("account read");
  return n + X.pend[u];
}

static uint64_t crd_of(int u) {
  uint64_t c, s, n;
  if (state_get_account(X.a.st, W.id[u], &c, &s, &n)) die("account read");
  return c;
}

static uint64_t stk_of(int u) {
  uint64_t c, s, n;
  if (state_get_account(X.a.st, W.id[u], &c, &s, &n)) die("account read");
  return s;
}

static void queue_raw(uint8_t *raw, size_t len) {
  if (X.np == MAXP) {
    free(raw);
    return;
  }
  X.raw[X.np] = raw;
  X.len[X.np++] = len;
}

/* Sign body for user u (nonce and fee set here) and queue it. vm_kib: the
 * KiB the message loads into VMs (the part of the gas the tx alone does
 * not show). */
static void queue(int u, Cohort__TxBody *body, uint64_t vm_kib) {
  const Cohort__Params *p = state_params(X.a.st);
  int bad = X.m.badtx;
  X.m.badtx = BAD_NONE;
  uint64_t nonce = nonce_of(u);
  if (bad == BAD_NONCE_GAP) nonce++;
  if (bad == BAD_NONCE_OLD) nonce = nonce ? nonce - 1 : 1;
  body->nonce = nonce;
  body->fee = 1;
  uint8_t aux[32] = {0}, *raw = NULL;
  size_t len = 0;
  for (int round = 0;; round++) {
    if (tx_build(&raw, &len, body, CHAIN, W.sec[u], aux)) die("tx_build");
    uint64_t base = market_gas_base(body, len, p);
    uint64_t due = bad == BAD_FEE_BASE ? market_fee_due(base, p)
                                       : market_fee_due(base + market_gas_vm(vm_kib, p), p);
    if (bad == BAD_FEE_LOW) due = market_fee_due(base, p) - 1;
    if (bad == BAD_FEE_HUGE) due = crd_of(u) + 1;
    if (bad == BAD_TIP) due *= 2;
    /* The fee's own length moves the gas: a few rounds reach the fixed point. */
    if (body->fee == due || round >= 6) break;
    body->fee = due;
    free(raw);
  }
  LOG("    tx u%d nonce %llu fee %llu msg %s%s\n", u, (unsigned long long)body->nonce,
      (unsigned long long)body->fee, tx_msg_name(body), bad ? " (perturbed)" : "");
  /* The next tx of u takes the next nonce, unless this one cannot go in (a
   * perturbation, or a shape the decoder refuses). */
  tx_t tx;
  core_errbuf eb;
  int shape_ok = tx_decode(&tx, raw, len, p->max_tx_bytes, &eb) == 0;
  if (shape_ok) tx_free(&tx);
  if (shape_ok && (bad == BAD_NONE || bad == BAD_FEE_BASE || bad == BAD_TIP)) X.pend[u]++;
  queue_raw(raw, len);
}

static void add_task(const uint8_t id[32]) {
  for (int i = 0; i < X.m.nt; i++)
    if (!memcmp(X.m.tasks[i], id, 32)) return;
  if (X.m.nt < MAXT) memcpy(X.m.tasks[X.m.nt++], id, 32);
}

static void add_blob(const uint8_t *data, size_t len) {
  uint8_t h[32];
  core_sha256(h, data, len);
  for (int i = 0; i < X.m.nb; i++)
    if (!memcmp(X.m.blobs[i].hash, h, 32)) return;
  if (X.m.nb == MAXB) return;
  memcpy(X.m.blobs[X.m.nb].hash, h, 32);
  X.m.blobs[X.m.nb++].len = (uint32_t)len;
}

static uint32_t blob_len(const uint8_t h[32]) {
  for (int i = 0; i < X.m.nb; i++)
    if (!memcmp(X.m.blobs[i].hash, h, 32)) return X.m.blobs[i].len;
  return 0;
}

/* ---- the messages ---- */

typedef struct {
  uint8_t program[32];
  const uint8_t *input;
  size_t input_len;
  const uint8_t *input_blob; /* 32 bytes or NULL */
  uint64_t max_steps, reward;
  uint32_t mem_mib, committee, commit_blocks, reveal_blocks, max_output;
} task_caps;

static void tx_submit(int u, const task_caps *c, uint8_t id_out[32]) {
  Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
  m.program = (ProtobufCBinaryData){32, (uint8_t *)c->program};
  m.input = (ProtobufCBinaryData){c->input_len, (uint8_t *)c->input};
  if (c->input_blob) m.input_blob = (ProtobufCBinaryData){32, (uint8_t *)c->input_blob};
  m.max_steps = c->max_steps;
  m.mem_mib = c->mem_mib;
  m.committee = c->committee;
  m.reward = c->reward;
  m.commit_blocks = c->commit_blocks;
  m.reveal_blocks = c->reveal_blocks;
  m.max_output_bytes = c->max_output;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_TASK;
  b.submit_task = &m;
  uint8_t id[32];
  market_task_id(id, W.id[u], nonce_of(u));
  add_task(id);
  if (id_out) memcpy(id_out, id, 32);
  uint64_t in_len = c->input_blob ? blob_len(c->input_blob) : c->input_len;
  queue(u, &b, market_kib(blob_len(c->program) + in_len));
}

static void tx_job(int u, const task_caps *c, const ProtobufCBinaryData *inputs, size_t n,
                   uint8_t job_out[32]) {
  Cohort__MsgSubmitJob m = COHORT__MSG_SUBMIT_JOB__INIT;
  m.program = (ProtobufCBinaryData){32, (uint8_t *)c->program};
  m.inputs = (ProtobufCBinaryData *)inputs;
  m.n_inputs = n;
  m.max_steps = c->max_steps;
  m.mem_mib = c->mem_mib;
  m.committee = c->committee;
  m.reward_per_chunk = c->reward;
  m.commit_blocks = c->commit_blocks;
  m.reveal_blocks = c->reveal_blocks;
  m.max_output_bytes = c->max_output;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_JOB;
  b.submit_job = &m;
  uint8_t jid[32];
  market_job_id(jid, W.id[u], nonce_of(u));
  if (job_out) memcpy(job_out, jid, 32);
  uint64_t kib = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t cid[32];
    market_chunk_id(cid, jid, (uint32_t)i);
    add_task(cid);
    kib += market_kib(blob_len(c->program) + inputs[i].len);
  }
  queue(u, &b, kib);
}

static void tx_register(int u, uint64_t stake, uint64_t price, int accepting, uint32_t cap,
                        uint32_t commission) {
  Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  m.add_stake = stake;
  m.price_per_msteps = price;
  m.accepting = accepting != 0;
  m.capacity = cap;
  m.commission_bps = commission;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
  b.register_executor = &m;
  queue(u, &b, 0);
}

static void tx_unbond(int u, uint64_t amount) {
  Cohort__MsgUnbond m = COHORT__MSG_UNBOND__INIT;
  m.role = 1;
  m.amount = amount;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_UNBOND;
  b.unbond = &m;
  queue(u, &b, 0);
}

/* Delegation to executors (docs/staking.md §8). */
static void tx_delegate_exec(int u, const uint8_t ex[20], uint64_t amount, int undelegate) {
  Cohort__MsgDelegateExecutor d = COHORT__MSG_DELEGATE_EXECUTOR__INIT;
  Cohort__MsgUndelegateExecutor n = COHORT__MSG_UNDELEGATE_EXECUTOR__INIT;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  if (undelegate) {
    n.executor = (ProtobufCBinaryData){20, (uint8_t *)ex};
    n.amount = amount;
    b.msg_case = COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR;
    b.undelegate_executor = &n;
  } else {
    d.executor = (ProtobufCBinaryData){20, (uint8_t *)ex};
    d.amount = amount;
    b.msg_case = COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR;
    b.delegate_executor = &d;
  }
  queue(u, &b, 0);
}

/* WithdrawRewards {validator, executor}: either may be empty (both empty:
 * every delegation; both set or a wrong length: refused at decode). */
static void tx_withdraw(int u, const uint8_t *val, size_t vl, const uint8_t *ex, size_t el) {
  Cohort__MsgWithdrawRewards m = COHORT__MSG_WITHDRAW_REWARDS__INIT;
  m.validator = (ProtobufCBinaryData){vl, (uint8_t *)val};
  m.executor = (ProtobufCBinaryData){el, (uint8_t *)ex};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_WITHDRAW_REWARDS;
  b.withdraw_rewards = &m;
  queue(u, &b, 0);
}

static void tx_upload(int u, const uint8_t *data, size_t len, int is_program) {
  Cohort__MsgUploadBlob m = COHORT__MSG_UPLOAD_BLOB__INIT;
  m.data = (ProtobufCBinaryData){len, (uint8_t *)data};
  m.is_program = is_program != 0;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  b.upload_blob = &m;
  add_blob(data, len);
  queue(u, &b, is_program ? market_kib(len) : 0);
}

static void tx_transfer(int u, const uint8_t to[20], int token, uint64_t amount) {
  Cohort__MsgTransfer m = COHORT__MSG_TRANSFER__INIT;
  m.to = (ProtobufCBinaryData){20, (uint8_t *)to};
  m.token = (Cohort__Token)token;
  m.amount = amount;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
  b.transfer = &m;
  queue(u, &b, 0);
}

static crec *find_commit(const uint8_t task[32], int u) {
  for (int i = 0; i < X.m.nc; i++)
    if (X.m.commits[i].user == u && !memcmp(X.m.commits[i].task, task, 32))
      return &X.m.commits[i];
  return NULL;
}

static int user_of(const ProtobufCBinaryData *id) {
  for (int u = 0; u < NU; u++)
    if (id->len == 20 && !memcmp(W.id[u], id->data, 20)) return u;
  return -1;
}

static const Cohort__TaskMember *member_of(const Cohort__Task *t, int u) {
  for (size_t i = 0; i < t->n_members; i++)
    if (!t->members[i]->replaced && user_of(&t->members[i]->executor) == u) return t->members[i];
  return NULL;
}

/* Commit variant v for user u on task `id` (t: the committed record, or
 * NULL if there is none). The harness remembers what it committed unless
 * the member is committed on chain already. */
static void tx_commit(int u, const uint8_t id[32], const Cohort__Task *t, int v, uint8_t salt_b) {
  uint8_t salt[32], c[32];
  memset(salt, salt_b, 32);
  const run_t *r = t ? task_run(&X.a, id, t, v == V_BAD_STEPS || v == V_GARBAGE ||
                                                 v == V_OTHER_TASK ? V_HONEST : v)
                     : NULL;
  if (!r || v == V_GARBAGE) {
    for (int i = 0; i < 32; i++) c[i] = (uint8_t)(salt_b * 31 + i);
  } else {
    Cohort__Claim cl = r->claim;
    if (v == V_BAD_STEPS) cl.steps ^= 1;
    const uint8_t *tid = id;
    if (v == V_OTHER_TASK) tid = X.m.tasks[0];
    market_commitment(c, tid, W.id[u], &cl, salt);
  }
  const Cohort__TaskMember *mem = t ? member_of(t, u) : NULL;
  if (!mem || !mem->commitment.len) {
    crec *e = find_commit(id, u);
    if (!e && X.m.nc < MAXC) e = &X.m.commits[X.m.nc++];
    if (e) {
      memcpy(e->task, id, 32);
      e->user = (uint8_t)u;
      e->variant = (uint8_t)v;
      e->salt = salt_b;
    }
  }
  Cohort__MsgCommitResult m = COHORT__MSG_COMMIT_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, (uint8_t *)id};
  m.commitment = (ProtobufCBinaryData){32, c};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_COMMIT_RESULT;
  b.commit_result = &m;
  queue(u, &b, 0);
}

enum { /* perturbations of a reveal */
  RV_EXACT,
  RV_SALT,      /* another salt: does not match the commitment */
  RV_OUTPUT,    /* an output byte flipped: does not hash to claim.output_hash */
  RV_PROOF,     /* a proof byte flipped */
  RV_TRUNCATE,  /* output one byte short */
  RV_OHASH,     /* claim.output_hash changed: no longer the committed claim */
  RV_NOPROOF,   /* empty proof */
  RV_HONEST,    /* the honest claim, whatever was committed */
  RV_LONG,      /* output padded past the task's max_output_bytes */
  RV_COUNT
};

/* Reveal what user u committed on task `id`, perturbed by p. */
static void tx_reveal(int u, const uint8_t id[32], const Cohort__Task *t, int p) {
  crec *e = find_commit(id, u);
  int v = e ? e->variant : V_HONEST;
  uint8_t salt[32];
  memset(salt, e ? e->salt : 0, 32);
  if (p == RV_HONEST) v = V_HONEST;
  const run_t *r = t ? task_run(&X.a, id, t, v == V_BAD_STEPS || v == V_GARBAGE ||
                                                 v == V_OTHER_TASK ? V_HONEST : v)
                     : NULL;
  static const uint8_t zero32[32];
  Cohort__Claim cl = COHORT__CLAIM__INIT;
  uint8_t oh[32], fs[32], *out = NULL, *proof = NULL;
  size_t ol = 0, pl = 0;
  if (r) {
    cl = r->claim;
    memcpy(oh, r->oh, 32);
    memcpy(fs, r->final, 32);
    ol = r->out_len;
    pl = r->plen;
    out = malloc(ol + 1);
    proof = malloc(pl + 1);
    if (!out || !proof) die("out of memory");
    memcpy(out, r->out, ol);
    memcpy(proof, r->proof, pl);
  } else {
    memcpy(oh, zero32, 32);
    memcpy(fs, zero32, 32);
    if (!(out = malloc(1)) || !(proof = malloc(1))) die("out of memory");
  }
  cl.final_state = (ProtobufCBinaryData){32, fs};
  cl.output_hash = (ProtobufCBinaryData){32, oh};
  if (v == V_BAD_STEPS) cl.steps ^= 1;
  switch (p) {
    case RV_SALT: salt[0] ^= 1; break;
    case RV_OUTPUT:
      if (ol) out[ol / 2] ^= 1;
      else out[ol++] = 'x';
      break;
    case RV_PROOF:
      if (pl) proof[pl / 2] ^= 0x10;
      break;
    case RV_TRUNCATE:
      if (ol) ol--;
      break;
    case RV_OHASH: oh[5] ^= 1; break;
    case RV_NOPROOF: pl = 0; break;
    case RV_LONG: {
      size_t want = t ? t->max_output_bytes + 1u : 1u;
      uint8_t *o = realloc(out, want);
      if (!o) die("out of memory");
      memset(o + ol, 'L', want > ol ? want - ol : 0);
      out = o;
      ol = want;
      break;
    }
    default: break;
  }
  Cohort__MsgRevealResult m = COHORT__MSG_REVEAL_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, (uint8_t *)id};
  m.claim = &cl;
  m.salt = (ProtobufCBinaryData){32, salt};
  m.output = (ProtobufCBinaryData){ol, out};
  m.output_proof = (ProtobufCBinaryData){pl, proof};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_REVEAL_RESULT;
  b.reveal_result = &m;
  queue(u, &b, 0);
  free(out);
  free(proof);
}

static Cohort__Task *get_task(const uint8_t id[32]) {
  Cohort__Task *t = NULL;
  int rc = state_get_task(X.a.st, id, &t);
  if (rc && rc != COHORT_ERR_NOT_FOUND) die("task read: %d", rc);
  return rc ? NULL : t;
}

/* ------------------------------------------------------------------ */
/* Invariants of the committed state of chain c (docs/tasks.md). */

typedef struct {
  uint8_t id[20];
  Cohort__Executor *e;
  unsigned __int128 unb;   /* sum of its "u/" entries */
  unsigned __int128 xd_shares, xq_amount; /* sums of its "xd/" shares, "xq/" amounts */
  unsigned __int128 xw_amount; /* sum of its waiting "xw/" amounts */
  uint64_t xw_oldest;      /* the lowest height a waiting amount waits from (0: none) */
  uint64_t seat_max;       /* largest stake among its "w/" records */
  uint64_t seat_oldest;    /* lowest draw height among its "w/" records (0: none) */
  uint32_t working;        /* seats on DRAWING/COMMITTING/REVEALING tasks */
  int jail_entries;
} exrec;

typedef struct {
  uint8_t exec[20], task[32];
  uint64_t stake, height; /* own stake and draw height */
  int matched;
} seatrec;

typedef struct {
  uint8_t kind, id[32];
  uint64_t h;
} dlrec;

typedef struct {
  uint8_t id[32];
  Cohort__Task *t;
  int owner_idx;
} taskrec;

typedef struct {
  chain *c;
  uint64_t height;
  unsigned __int128 crd, stk;
  unsigned __int128 slashed, storage_fees; /* STK and CRD burned, by their causes */
  unsigned __int128 shares; /* slashed STK paid to the winners of verification games */
  exrec ex[64];
  int nex;
  seatrec *seats;
  size_t ns, cs;
  dlrec *dls;
  size_t nd, cd;
  taskrec *tasks;
  size_t nt, ct;
  Cohort__Job *jobs[64];
  uint8_t job_ids[64][32];
  int nj;
  size_t owner_keys;
  struct {
    uint8_t id[32];
    uint64_t since, epoch;
  } waits[MAXT];
  int nw;
  uint64_t epoch, reveal_load;     /* "r/capacity", "r/reveal_load" */
  unsigned __int128 reveal_owed;   /* sum of reveal_gas_left of REVEALING tasks */
  size_t n_u, n_ui;                    /* "u/" entries and their "U/" index keys */
  size_t n_xd, n_xv, n_xq, n_xu, n_xe; /* delegations to executors and their indexes */
  size_t n_xw, n_xp;                   /* waiting delegations and their index */
} inv;

static void *grow(void *p, size_t *cap, size_t n, size_t sz) {
  if (n < *cap) return p;
  *cap = *cap ? *cap * 2 : 16;
  void *q = realloc(p, *cap * sz);
  if (!q) die("out of memory");
  return q;
}

static exrec *find_ex(inv *s, const uint8_t *id) {
  for (int i = 0; i < s->nex; i++)
    if (!memcmp(s->ex[i].id, id, 20)) return &s->ex[i];
  return NULL;
}

static taskrec *find_task(inv *s, const uint8_t *id) {
  for (size_t i = 0; i < s->nt; i++)
    if (!memcmp(s->tasks[i].id, id, 32)) return &s->tasks[i];
  return NULL;
}

static int v_acc(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  uint64_t c, t, n;
  CHECK(kl == 22, "account key of %zu bytes", kl);
  CHECK(!state_decode_account_pub(v, vl, &c, &t, &n), "account record does not decode");
  s->crd += c;
  s->stk += t;
  return 0;
}

static int v_exec(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 22 && s->nex < 64, "executor key");
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  CHECK(e, "executor record does not decode");
  exrec *r = &s->ex[s->nex++];
  memset(r, 0, sizeof *r);
  memcpy(r->id, k + 2, 20);
  r->e = e;
  /* its own stake and unbonding, and its delegators' (docs/staking.md §8) */
  s->stk += (unsigned __int128)e->stake + e->unbonding + e->del_tokens + e->del_unbonding +
            e->del_pending;
  s->slashed += e->slashed_total; /* the delegators' losses included */
  return 0;
}

static int v_blob(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 34, "blob key of %zu bytes", kl);
  Cohort__Blob *b = cohort__blob__unpack(NULL, vl, v);
  CHECK(b, "blob record does not decode");
  uint8_t h[32];
  core_sha256(h, b->data.data, b->data.len);
  CHECK(!memcmp(h, k + 2, 32), "blob stored under another hash");
  s->storage_fees += (unsigned __int128)b->data.len * state_params(s->c->st)->blob_byte_fee;
  cohort__blob__free_unpacked(b, NULL);
  return 0;
}

static int has_key(chain *c, const uint8_t *k, size_t kl) {
  uint8_t *v;
  size_t vl;
  int rc = kv_get(c->kv, k, kl, &v, &vl);
  CHECK(rc == 0 || rc == COHORT_ERR_NOT_FOUND, "kv_get: %d", rc);
  if (!rc) free(v);
  return rc == 0;
}

static int v_unb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 30, "unbonding key of %zu bytes", kl);
  uint64_t h = core_get_u64be(k + 2);
  CHECK(h > s->height, "unbonding entry due at %llu is still there", (unsigned long long)h);
  Cohort__Unbonding *u = cohort__unbonding__unpack(NULL, vl, v);
  CHECK(u, "unbonding record does not decode");
  exrec *r = find_ex(s, k + 10);
  CHECK(r, "unbonding entry of an unknown executor");
  r->unb += u->amount;
  cohort__unbonding__free_unpacked(u, NULL);
  s->n_u++;
  return 0;
}

/* "U/" + executor + release: the "u/" entries by executor (a slash takes
 * from them newest first); each names an entry that exists. */
static int v_unb_idx(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v;
  CHECK(kl == 30 && vl == 0, "U/ key of %zu/%zu bytes", kl, vl);
  uint8_t uk[30] = {'u', '/'};
  memcpy(uk + 2, k + 22, 8);
  memcpy(uk + 10, k + 2, 20);
  CHECK(has_key(s->c, uk, sizeof uk), "a U/ key without its u/ entry (due at %llu)",
        (unsigned long long)core_get_u64be(k + 22));
  s->n_ui++;
  return 0;
}

/* Delegations to executors (docs/staking.md §1 and §8). Every record
 * names an executor whose record exists (one with delegations or entries
 * left is never deleted) and has its index keys; the sums are checked
 * against the executor's fields in check_invariants. */
/* "xd/" + del + ex -> Delegation; its "xv/" + ex + del */
static int v_xd(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 43, "executor delegation key of %zu bytes", kl);
  Cohort__Delegation *d = cohort__delegation__unpack(NULL, vl, v);
  CHECK(d, "executor delegation record does not decode");
  char d8[17], e8[17];
  hex8(d8, k + 3);
  hex8(e8, k + 23);
  exrec *r = find_ex(s, k + 23);
  CHECK(r, "delegation of %s to %s, which has no executor record", d8, e8);
  CHECK(d->shares > 0, "delegation of %s to %s with no shares (it should be deleted)", d8, e8);
  CHECK(d->reward_start.len == 16, "delegation of %s to %s: reward_start of %zu bytes", d8, e8,
        d->reward_start.len);
  CHECK(d->height <= s->height, "delegation of %s to %s changed at %llu, in the future", d8, e8,
        (unsigned long long)d->height);
  r->xd_shares += d->shares;
  cohort__delegation__free_unpacked(d, NULL);
  uint8_t ik[43] = {'x', 'v', '/'};
  memcpy(ik + 3, k + 23, 20);
  memcpy(ik + 23, k + 3, 20);
  CHECK(has_key(s->c, ik, sizeof ik), "delegation of %s to %s has no xv/ key", d8, e8);
  s->n_xd++;
  return 0;
}

/* "xv/" + ex + del -> empty, for an "xd/" */
static int v_xv(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v;
  CHECK(kl == 43 && vl == 0, "xv/ key of %zu/%zu bytes", kl, vl);
  uint8_t dk[43] = {'x', 'd', '/'};
  memcpy(dk + 3, k + 23, 20);
  memcpy(dk + 23, k + 3, 20);
  CHECK(has_key(s->c, dk, sizeof dk), "an xv/ key without its delegation");
  s->n_xv++;
  return 0;
}

/* "xq/" + release + ex + del + created -> UnbondingDelegation; its "xu/"
 * + ex + created + del + release and "xe/" + del + ex + release + created.
 * Like "u/": an entry due at or below the current height was paid at the
 * end of its block and is gone. */
static int v_xq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 59, "executor unbonding key of %zu bytes", kl);
  uint64_t rel = core_get_u64be(k + 3), created = core_get_u64be(k + 51);
  CHECK(rel > s->height, "executor delegation unbonding entry due at %llu is still there",
        (unsigned long long)rel);
  const Cohort__Params *p = state_params(s->c->st);
  /* due unbonding_blocks after it was made, or a multiple of that later:
   * an entry due while a seat it backed is open waits another period
   * (docs/staking.md §8 "Release") */
  CHECK(created <= s->height && rel >= created + p->unbonding_blocks &&
            (rel - created) % p->unbonding_blocks == 0,
        "executor unbonding entry created at %llu, due at %llu (unbonding_blocks %u)",
        (unsigned long long)created, (unsigned long long)rel, p->unbonding_blocks);
  Cohort__UnbondingDelegation *u = cohort__unbonding_delegation__unpack(NULL, vl, v);
  CHECK(u, "executor unbonding record does not decode");
  CHECK(u->amount <= u->initial && u->initial > 0 && u->height == created,
        "executor unbonding entry of %llu (initial %llu, height %llu) created at %llu",
        (unsigned long long)u->amount, (unsigned long long)u->initial,
        (unsigned long long)u->height, (unsigned long long)created);
  exrec *r = find_ex(s, k + 11);
  CHECK(r, "executor unbonding entry of an unknown executor");
  r->xq_amount += u->amount;
  cohort__unbonding_delegation__free_unpacked(u, NULL);
  uint8_t ik[59] = {'x', 'u', '/'};
  memcpy(ik + 3, k + 11, 20);
  memcpy(ik + 23, k + 51, 8);
  memcpy(ik + 31, k + 31, 20);
  memcpy(ik + 51, k + 3, 8);
  CHECK(has_key(s->c, ik, sizeof ik), "executor unbonding entry without its xu/ key");
  memcpy(ik, "xe/", 3);
  memcpy(ik + 3, k + 31, 20);
  memcpy(ik + 23, k + 11, 20);
  memcpy(ik + 43, k + 3, 8);
  memcpy(ik + 51, k + 51, 8);
  CHECK(has_key(s->c, ik, sizeof ik), "executor unbonding entry without its xe/ key");
  s->n_xq++;
  return 0;
}

/* "xw/" + del + ex -> u64be amount, u64be height: a delegation waiting
 * for the seats ex held when it was made (docs/staking.md §8); its "xp/"
 * + ex + height + del. */
static int v_xw(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 43 && vl == 16, "xw/ record of %zu/%zu bytes", kl, vl);
  uint64_t amt = core_get_u64be(v), h = core_get_u64be(v + 8);
  exrec *r = find_ex(s, k + 23);
  CHECK(r, "a waiting delegation to an unknown executor");
  CHECK(amt > 0 && h <= s->height, "a waiting delegation of %llu from height %llu",
        (unsigned long long)amt, (unsigned long long)h);
  r->xw_amount += amt;
  if (!r->xw_oldest || h < r->xw_oldest) r->xw_oldest = h;
  uint8_t pk[51] = {'x', 'p', '/'};
  memcpy(pk + 3, k + 23, 20);
  memcpy(pk + 23, v + 8, 8);
  memcpy(pk + 31, k + 3, 20);
  CHECK(has_key(s->c, pk, sizeof pk), "a waiting delegation without its xp/ key");
  s->n_xw++;
  return 0;
}

/* "xp/" + ex + height + del -> empty, for an "xw/" at that height */
static int v_xp(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v;
  CHECK(kl == 51 && vl == 0, "xp/ key of %zu/%zu bytes", kl, vl);
  uint8_t wk[43] = {'x', 'w', '/'}, *w;
  memcpy(wk + 3, k + 31, 20);
  memcpy(wk + 23, k + 3, 20);
  size_t wl;
  CHECK(kv_get(s->c->kv, wk, sizeof wk, &w, &wl) == 0, "an xp/ key without its xw/ record");
  int same = wl == 16 && !memcmp(w + 8, k + 23, 8);
  free(w);
  CHECK(same, "an xp/ key at another height than its xw/ record");
  s->n_xp++;
  return 0;
}

/* "xu/" and "xe/": each names an "xq/" entry that exists (so not due yet). */
static int v_xidx(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v;
  CHECK(kl == 59 && vl == 0, "%c%c/ key of %zu/%zu bytes", k[0], k[1], kl, vl);
  uint8_t qk[59] = {'x', 'q', '/'};
  if (k[1] == 'u') { /* ex created del rel */
    memcpy(qk + 3, k + 51, 8);
    memcpy(qk + 11, k + 3, 20);
    memcpy(qk + 31, k + 31, 20);
    memcpy(qk + 51, k + 23, 8);
    s->n_xu++;
  } else { /* del ex rel created */
    memcpy(qk + 3, k + 43, 8);
    memcpy(qk + 11, k + 23, 20);
    memcpy(qk + 31, k + 3, 20);
    memcpy(qk + 51, k + 51, 8);
    s->n_xe++;
  }
  CHECK(has_key(s->c, qk, sizeof qk), "an %c%c/ key without its xq/ entry (due at %llu)", k[0],
        k[1], (unsigned long long)core_get_u64be(qk + 3));
  return 0;
}

/* Every key of the store has a prefix this harness knows. Those checked
 * here; those state_audit alone checks (validators, delegations to them,
 * governance: no action of ours makes them, beyond genesis); and the chain
 * records (blocks, commits, tx results, hashes, meta). A new kind of
 * record fails here until its invariants are added above. */
static int v_prefix(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)ctx, (void)v, (void)vl;
  static const char *known[] = {
      "a/", "e/", "u/", "U/", "w/", "d/", "t/", "j/", "y/", "i/", "o/", "b/", "n/", "r/", "s/",
      "xd/", "xv/", "xq/", "xu/", "xe/", "xw/", "xp/",                       /* checked here */
      "p/", "v/", "vl/", "vk/", "vp/", "vh/", "vx/", "dl/", "dv/", "uq/", "uv/", "ud/", "rq/",
      "rv/", "rd/", "gn/", "gp/", "gd/", "gv/", "gq/", "ps/",               /* state_audit */
      "B/", "C/", "H/", "T/", "M/"};                                         /* the chain's */
  size_t pl = 0;
  while (pl < kl && pl < 3 && k[pl] != '/') pl++;
  CHECK(pl < kl && k[pl] == '/', "a key with no known prefix: %.*s..", (int)(kl < 4 ? kl : 4),
        (const char *)k);
  pl++;
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (strlen(known[i]) == pl && !memcmp(known[i], k, pl)) return 0;
  die("a key of an unknown kind: %.*s (%zu bytes)", (int)pl, (const char *)k, kl);
}

/* Validators' tokens ("vl/") and their delegators' unbonding ("uq/"): the
 * STK of the supply rule that this harness does not move. */
static int v_val(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)k, (void)kl;
  Cohort__ValidatorInfo *m = cohort__validator_info__unpack(NULL, vl, v);
  CHECK(m, "validator record does not decode");
  s->stk += m->tokens;
  cohort__validator_info__free_unpacked(m, NULL);
  return 0;
}

static int v_uq(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)k, (void)kl;
  Cohort__UnbondingDelegation *u = cohort__unbonding_delegation__unpack(NULL, vl, v);
  CHECK(u, "validator unbonding record does not decode");
  s->stk += u->amount;
  cohort__unbonding_delegation__free_unpacked(u, NULL);
  return 0;
}

static void add_pool(chain *c, const char *key, unsigned __int128 *crd, unsigned __int128 *stk) {
  uint8_t *v;
  size_t vl;
  uint64_t pc, ps, n;
  int rc = kv_get(c->kv, (const uint8_t *)key, strlen(key), &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return;
  CHECK(rc == 0 && !state_decode_account_pub(v, vl, &pc, &ps, &n), "pool %s does not decode", key);
  free(v);
  *crd += pc;
  *stk += ps;
}

static int v_seat(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 54 && vl == 16, "seat record of %zu/%zu bytes", kl, vl);
  s->seats = grow(s->seats, &s->cs, s->ns, sizeof *s->seats);
  seatrec *r = &s->seats[s->ns++];
  memcpy(r->exec, k + 2, 20);
  memcpy(r->task, k + 22, 32);
  r->stake = core_get_u64be(v);
  r->height = core_get_u64be(v + 8);
  r->matched = 0;
  return 0;
}

static int v_dl(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v;
  CHECK(kl == 43 && vl == 0, "deadline entry of %zu/%zu bytes", kl, vl);
  s->dls = grow(s->dls, &s->cd, s->nd, sizeof *s->dls);
  dlrec *r = &s->dls[s->nd++];
  r->kind = k[2];
  r->h = core_get_u64be(k + 3);
  memcpy(r->id, k + 11, 32);
  CHECK(r->kind >= DL_DRAW && r->kind <= DL_JAIL, "deadline of kind %u", r->kind);
  CHECK(r->h > s->height, "deadline entry (kind %u) due at %llu is still there", r->kind,
        (unsigned long long)r->h);
  return 0;
}

static int v_task(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 34, "task key of %zu bytes", kl);
  Cohort__Task *t = cohort__task__unpack(NULL, vl, v);
  CHECK(t, "task record does not decode");
  s->tasks = grow(s->tasks, &s->ct, s->nt, sizeof *s->tasks);
  taskrec *r = &s->tasks[s->nt++];
  memcpy(r->id, k + 2, 32);
  r->t = t;
  r->owner_idx = 0;
  s->stk += t->bond; /* an outside challenger's bond is STK held by the task */
  return 0;
}

static int v_job(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 34 && s->nj < 64, "job key");
  Cohort__Job *j = cohort__job__unpack(NULL, vl, v);
  CHECK(j, "job record does not decode");
  memcpy(s->job_ids[s->nj], k + 2, 32);
  s->jobs[s->nj++] = j;
  return 0;
}

static int v_wait(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  CHECK(kl == 42 && vl == 8 && s->nw < MAXT, "waiting-queue entry of %zu/%zu bytes", kl, vl);
  memcpy(s->waits[s->nw].id, k + 10, 32);
  s->waits[s->nw].since = core_get_u64be(k + 2);
  s->waits[s->nw++].epoch = core_get_u64be(v);
  return 0;
}

static uint64_t get_u64_key(chain *c, const char *key) {
  uint8_t *v;
  size_t vl;
  int rc = kv_get(c->kv, (const uint8_t *)key, strlen(key), &v, &vl);
  if (rc == COHORT_ERR_NOT_FOUND) return 0;
  CHECK(rc == 0 && vl == 8, "%s is not a u64", key);
  uint64_t x = core_get_u64be(v);
  free(v);
  return x;
}

static int v_owner(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v, (void)vl;
  CHECK(kl == 54, "owner index key of %zu bytes", kl);
  taskrec *r = find_task(s, k + 22);
  CHECK(r, "owner index names a task that does not exist");
  CHECK(r->t->owner.len == 20 && !memcmp(r->t->owner.data, k + 2, 20),
        "owner index names another owner");
  r->owner_idx++;
  s->owner_keys++;
  return 0;
}

static int v_inout(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  inv *s = ctx;
  (void)v, (void)vl;
  CHECK(kl == 34 || kl == 66, "input/output key of %zu bytes", kl);
  taskrec *r = find_task(s, k + 2);
  CHECK(r, "input or output bytes of a task that does not exist");
  CHECK(!r->t->pruned, "a pruned task still has its %s", k[0] == 'i' ? "input" : "output");
  if (kl == 34) CHECK(r->t->input_blob.len == 0, "inline input stored for a blob-input task");
  return 0;
}

static int claims_equal(const Cohort__Claim *a, const Cohort__Claim *b) {
  return a->steps == b->steps && a->status == b->status && a->code == b->code &&
         a->final_state.len == 32 && b->final_state.len == 32 &&
         !memcmp(a->final_state.data, b->final_state.data, 32) && a->output_hash.len == 32 &&
         b->output_hash.len == 32 && !memcmp(a->output_hash.data, b->output_hash.data, 32);
}

static int working(uint32_t status) {
  return status == T_DRAWING || status == T_COMMITTING || status == T_REVEALING;
}

static void check_task(inv *s, taskrec *r, const Cohort__Params *p, unsigned __int128 *escrow) {
  const Cohort__Task *t = r->t;
  char tid[17];
  hex8(tid, r->id);
  CHECK(t->status >= T_COMMITTING && t->status <= T_DRAWING, "task %s has status %u", tid,
        t->status);
  CHECK(t->committee >= 1 && t->committee <= p->max_committee, "task %s committee %u", tid,
        t->committee);
  CHECK(t->quorum == market_quorum(t->committee, p->quorum_bps), "task %s quorum %u", tid,
        t->quorum);
  CHECK(t->n_timeline <= 64, "task %s timeline of %zu events", tid, t->n_timeline);
  CHECK(r->owner_idx == 1, "task %s indexed %d times by owner", tid, r->owner_idx);
  /* Money: escrowed = reward + k x allowance; what left it never exceeds that. */
  unsigned __int128 held = (unsigned __int128)t->reward +
                           (unsigned __int128)t->committee * t->fee_allowance;
  unsigned __int128 out = (unsigned __int128)t->paid + t->fees_repaid + t->refunded;
  CHECK(out <= held, "task %s paid out %llu of %llu escrowed", tid, (unsigned long long)out,
        (unsigned long long)held);
  CHECK(t->paid <= t->reward, "task %s paid %llu, more than its reward %llu", tid,
        (unsigned long long)t->paid, (unsigned long long)t->reward);
  int settled = t->status == T_FINAL || t->status == T_EXPIRED;
  if (settled)
    CHECK(out == held, "task %s is %s but keeps %llu CRD in escrow", tid,
          t->status == T_FINAL ? "final" : "expired", (unsigned long long)(held - out));
  else
    *escrow += held - out;
  /* Members: distinct executors; active ones hold a seat unless settled. */
  size_t active = 0, committed = 0, revealed = 0, agree = 0, differ = 0;
  const Cohort__Claim *first = NULL;
  int distinct = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    CHECK(m->executor.len == 20, "task %s member without an executor", tid);
    for (size_t j = 0; j < i; j++)
      CHECK(memcmp(t->members[j]->executor.data, m->executor.data, 20),
            "task %s seats one executor twice", tid);
    seatrec *seat = NULL;
    for (size_t j = 0; j < s->ns; j++)
      if (!memcmp(s->seats[j].exec, m->executor.data, 20) && !memcmp(s->seats[j].task, r->id, 32))
        seat = &s->seats[j];
    exrec *e = find_ex(s, m->executor.data); /* a record with nothing left is deleted */
    if (m->replaced || m->lost) {
      CHECK(!seat, "task %s: a %s member still holds its seat", tid,
            m->lost ? "losing" : "replaced");
      continue;
    }
    active++;
    CHECK(e || settled, "task %s: an active member's executor record is gone", tid);
    /* Drawn with weight `stake` = own stake + `delegated` (counted up to
     * exec_delegation_max_x x own, docs/staking.md §8) at seated_height. */
    CHECK(m->delegated <= m->stake &&
              (unsigned __int128)m->delegated <=
                  (unsigned __int128)(m->stake - m->delegated) * p->exec_delegation_max_x,
          "task %s: a member drawn with weight %llu of which %llu delegated (at most %u x own)",
          tid, (unsigned long long)m->stake, (unsigned long long)m->delegated,
          p->exec_delegation_max_x);
    CHECK(m->seated_height >= 1 && m->seated_height <= s->height,
          "task %s: a member seated at height %llu", tid, (unsigned long long)m->seated_height);
    if (settled) {
      CHECK(!seat, "task %s is settled but a member still holds its seat (stake lock)", tid);
    } else {
      /* the seat locks the own part of the weight only */
      CHECK(seat, "task %s: an active member holds no seat record", tid);
      CHECK(seat->stake == m->stake - m->delegated, "task %s: seat records stake %llu, the "
            "member was drawn with own stake %llu", tid, (unsigned long long)seat->stake,
            (unsigned long long)(m->stake - m->delegated));
      CHECK(seat->height == m->seated_height, "task %s: seat records draw height %llu, the "
            "member was drawn at %llu", tid, (unsigned long long)seat->height,
            (unsigned long long)m->seated_height);
      seat->matched = 1;
    }
    if (working(t->status) && e) e->working++;
    if (m->commitment.len) {
      CHECK(m->commitment.len == 32, "task %s commitment of %zu bytes", tid, m->commitment.len);
      committed++;
    }
    if (m->claim) {
      CHECK(m->commitment.len, "task %s: a member revealed without a commitment", tid);
      revealed++;
      if (!first) first = m->claim, distinct = 1;
      else if (!claims_equal(first, m->claim)) distinct = 2;
      if (t->result) {
        if (claims_equal(t->result, m->claim)) agree++;
        else differ++;
      }
    }
  }
  CHECK(active <= t->committee, "task %s has %zu active members for a committee of %u", tid,
        active, t->committee);
  /* Status by status. */
  uint8_t want_kind = 0;
  switch (t->status) {
    case T_DRAWING: {
      CHECK(active < t->committee, "task %s is drawing with every seat filled", tid);
      CHECK(!t->result, "task %s is drawing with a result", tid);
      int queued = 0;
      for (int i = 0; i < s->nw; i++)
        if (!memcmp(s->waits[i].id, r->id, 32)) {
          queued++;
          CHECK(s->waits[i].since == t->draw_since, "task %s waits since %llu, its draw since %llu",
                tid, (unsigned long long)s->waits[i].since, (unsigned long long)t->draw_since);
          CHECK(s->waits[i].epoch <= s->epoch, "task %s waits for a capacity epoch to come", tid);
          CHECK(s->height - t->draw_since < p->draw_wait_blocks,
                "task %s still waits for a seat %llu blocks after its draw was due (at most %u)",
                tid, (unsigned long long)(s->height - t->draw_since), p->draw_wait_blocks);
        }
      /* either drawn at `deadline` or waiting (deadline 0) in the queue, once */
      CHECK(queued == (t->deadline == 0), "task %s is drawing with deadline %llu and %d queue "
            "entries", tid, (unsigned long long)t->deadline, queued);
      want_kind = t->deadline ? DL_DRAW : 0;
      break;
    }
    case T_COMMITTING:
      CHECK(active == t->committee, "task %s is committing with %zu of %u seats filled", tid,
            active, t->committee);
      CHECK(committed < active, "task %s is committing though every member committed", tid);
      CHECK(!t->result, "task %s is committing with a result", tid);
      want_kind = DL_WINDOW;
      break;
    case T_REVEALING:
      CHECK(active == t->committee, "task %s is revealing with %zu of %u seats filled", tid,
            active, t->committee);
      CHECK(committed == active, "task %s is revealing with a member not committed", tid);
      CHECK(revealed < active, "task %s is revealing though every member revealed", tid);
      CHECK(!t->result, "task %s is revealing with a result", tid);
      s->reveal_owed += t->reveal_gas_left;
      want_kind = DL_WINDOW;
      break;
    case T_AGREED:
    case T_FINAL:
      CHECK(t->result, "task %s is %s without a result", tid,
            t->status == T_AGREED ? "agreed" : "final");
      CHECK(revealed == active && differ == 0,
            "task %s: %zu of %zu active members revealed, %zu differ from the result", tid,
            revealed, active, differ);
      /* after a verification game the survivors hold the result, quorum or not */
      CHECK(agree >= (t->games ? 1u : t->quorum), "task %s accepted with %zu agreeing reveals, "
            "quorum %u", tid, agree, t->quorum);
      if (t->status == T_AGREED) {
        CHECK(t->paid == 0 && t->fees_repaid == 0 && t->refunded == 0,
              "task %s is agreed but paid already", tid);
        want_kind = p->challenge_blocks ? DL_WINDOW : 0;
      } else {
        /* Paid everything owed: steps x draw-time price, capped; fees back. */
        unsigned __int128 owed = 0, fees = 0;
        uint64_t cap = t->reward / t->committee;
        for (size_t i = 0; i < t->n_members; i++) {
          const Cohort__TaskMember *m = t->members[i];
          if (m->replaced || m->lost) continue;
          uint64_t due = market_seat_cost(m->price_per_msteps, m->price_per_task, t->result->steps);
          owed += due > cap ? cap : due;
          unsigned __int128 spent = (unsigned __int128)m->commit_fee + m->reveal_fee;
          fees += spent < t->fee_allowance ? spent : t->fee_allowance;
        }
        CHECK(t->paid == owed, "task %s is final and paid %llu, owed %llu", tid,
              (unsigned long long)t->paid, (unsigned long long)owed);
        CHECK(t->fees_repaid == fees, "task %s is final and repaid %llu of fees, owed %llu", tid,
              (unsigned long long)t->fees_repaid, (unsigned long long)fees);
        want_kind = t->pruned ? 0 : DL_PRUNE;
      }
      break;
    case T_DISPUTED:
      CHECK(!t->result && distinct == 2 && revealed == active,
            "task %s is disputed without two different claims from its members", tid);
      CHECK(t->paid == 0 && t->fees_repaid == 0 && t->refunded == 0,
            "task %s is disputed but moved escrow", tid);
      CHECK(t->game && t->deadline == t->game->deadline && t->deadline >= s->height,
            "task %s is disputed without a game whose deadline it is", tid);
      want_kind = DL_WINDOW;
      break;
    case T_EXPIRED:
      CHECK(!t->result, "task %s expired with a result", tid);
      CHECK(t->paid == 0, "task %s expired and paid %llu", tid, (unsigned long long)t->paid);
      want_kind = t->pruned ? 0 : DL_PRUNE;
      break;
  }
  if (t->pruned) CHECK(settled && t->deadline == 0, "task %s pruned while not settled", tid);
  if (t->status != T_REVEALING)
    CHECK(t->reveal_gas_left == 0, "task %s is not revealing but counts %llu reveal gas", tid,
          (unsigned long long)t->reveal_gas_left);
  /* Deadline index: exactly one entry, of the status's kind, at `deadline`. */
  int n = 0, ok = 0;
  for (size_t i = 0; i < s->nd; i++)
    if (s->dls[i].kind != DL_JAIL && !memcmp(s->dls[i].id, r->id, 32)) {
      n++;
      ok = s->dls[i].kind == want_kind && s->dls[i].h == t->deadline;
    }
  if (want_kind)
    CHECK(n == 1 && ok && t->deadline > s->height,
          "task %s (status %u, deadline %llu) has %d deadline entries, %s", tid, t->status,
          (unsigned long long)t->deadline, n, ok ? "right kind" : "not the right one");
  else
    CHECK(n == 0, "task %s (status %u) has %d deadline entries, none expected", tid, t->status, n);
}

static void check_invariants(chain *c) {
  inv s;
  memset(&s, 0, sizeof s);
  s.c = c;
  s.height = state_height(c->st);
  const Cohort__Params *p = state_params(c->st);
  CHECK(!kv_scan(c->kv, (const uint8_t *)"a/", 2, v_acc, &s), "scan a/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"e/", 2, v_exec, &s), "scan e/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"u/", 2, v_unb, &s), "scan u/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"U/", 2, v_unb_idx, &s), "scan U/");
  CHECK(s.n_u == s.n_ui, "%zu executor unbonding entries, %zu U/ keys", s.n_u, s.n_ui);
  CHECK(!kv_scan(c->kv, (const uint8_t *)"w/", 2, v_seat, &s), "scan w/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"d/", 2, v_dl, &s), "scan d/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"t/", 2, v_task, &s), "scan t/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"j/", 2, v_job, &s), "scan j/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"y/", 2, v_owner, &s), "scan y/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"i/", 2, v_inout, &s), "scan i/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"o/", 2, v_inout, &s), "scan o/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"b/", 2, v_blob, &s), "scan b/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"n/", 2, v_wait, &s), "scan n/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xd/", 3, v_xd, &s), "scan xd/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xv/", 3, v_xv, &s), "scan xv/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xq/", 3, v_xq, &s), "scan xq/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xu/", 3, v_xidx, &s), "scan xu/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xe/", 3, v_xidx, &s), "scan xe/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xw/", 3, v_xw, &s), "scan xw/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"xp/", 3, v_xp, &s), "scan xp/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"vl/", 3, v_val, &s), "scan vl/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"uq/", 3, v_uq, &s), "scan uq/");
  CHECK(!kv_scan(c->kv, (const uint8_t *)"", 0, v_prefix, &s), "scan all");
  CHECK(s.n_xw == s.n_xp, "%zu waiting delegations, %zu xp/ keys", s.n_xw, s.n_xp);
  CHECK(s.n_xd == s.n_xv && s.n_xq == s.n_xu && s.n_xq == s.n_xe,
        "%zu executor delegations, %zu xv/ keys; %zu unbonding entries, %zu xu/, %zu xe/ keys",
        s.n_xd, s.n_xv, s.n_xq, s.n_xu, s.n_xe);
  s.epoch = get_u64_key(c, "r/capacity");
  s.reveal_load = get_u64_key(c, "r/reveal_load");

  /* Conservation of both tokens: the supply rule of docs/staking.md §1
   * (balances, escrow, the fee/reward/community pools, stakes, bonds,
   * validator tokens) and the staking invariants, by state_audit. */
  uint64_t sc, ss, esc;
  CHECK(!state_get_supply(c->st, &sc, &ss) && !state_get_escrow(c->st, &esc), "supply read");
  {
    core_errbuf aeb;
    CHECK(!state_audit(c->st, NULL, &aeb), "%s", aeb.msg);
  }
  /* ... and counted here too, from the records: balances, escrow, pools;
   * executors' own and delegated stake, both unbonding, task bonds, the
   * validator's tokens and its delegators' unbonding. */
  {
    unsigned __int128 crd = s.crd + esc, stk = s.stk;
    add_pool(c, "s/fees", &crd, &stk);
    add_pool(c, "s/rewards", &crd, &stk);
    add_pool(c, "s/community", &crd, &stk);
    add_pool(c, "s/gov", &crd, &stk);
    CHECK(crd == sc, "CRD counted %llu, supply %llu", (unsigned long long)crd,
          (unsigned long long)sc);
    CHECK(stk == ss, "STK counted %llu, supply %llu", (unsigned long long)stk,
          (unsigned long long)ss);
  }
  /* Tokens only leave the supply by their two burns: slashes and storage fees. */
  if (c == &X.a) { /* records with nothing left are deleted: remember what they were slashed */
    for (int u = 0; u < NU; u++) {
      exrec *e = find_ex(&s, W.id[u]);
      if (!e && X.slashed_seen[u]) X.slashed_gone += X.slashed_seen[u];
      X.slashed_seen[u] = e ? e->e->slashed_total : 0;
    }
  }
  /* Winners' shares of the games' slashes (timeline code 17) stayed in the
   * supply: dispute_winner_bps of the loser's own part, which is at most
   * the event's total (the delegators' part is burned whole, docs/staking.md
   * §8), so the burn lies between the slashes less those shares and the
   * slashes. */
  for (size_t i = 0; i < s.nt; i++)
    for (size_t j = 0; j < s.tasks[i].t->n_timeline; j++)
      if (s.tasks[i].t->timeline[j]->code == 17)
        s.shares += (unsigned __int128)s.tasks[i].t->timeline[j]->a * p->dispute_winner_bps / 10000;
  CHECK(W.stk0 - ss + s.shares >= s.slashed + X.slashed_gone &&
            W.stk0 - ss <= s.slashed + X.slashed_gone,
        "STK burned %llu, executors were slashed %llu in all", (unsigned long long)(W.stk0 - ss),
        (unsigned long long)(s.slashed + X.slashed_gone));
  CHECK(W.crd0 - sc == s.storage_fees, "CRD burned %llu, the stored blobs paid %llu",
        (unsigned long long)(W.crd0 - sc), (unsigned long long)s.storage_fees);
  if (c == &X.a) {
    CHECK(!X.crd_supply || sc <= X.crd_supply, "CRD supply grew");
    CHECK(!X.stk_supply || ss <= X.stk_supply, "STK supply grew");
    X.crd_supply = sc;
    X.stk_supply = ss;
  }

  /* Seats: each executor's largest seat stake. */
  for (size_t i = 0; i < s.ns; i++) {
    exrec *e = find_ex(&s, s.seats[i].exec);
    CHECK(e, "a seat of an unknown executor");
    if (s.seats[i].stake > e->seat_max) e->seat_max = s.seats[i].stake;
    if (!e->seat_oldest || s.seats[i].height < e->seat_oldest) e->seat_oldest = s.seats[i].height;
    CHECK(find_task(&s, s.seats[i].task), "a seat on a task that does not exist");
  }
  /* Tasks (marks the seats they explain, counts working seats). */
  unsigned __int128 escrow = 0;
  CHECK(s.owner_keys == s.nt, "%zu owner index entries for %zu tasks", s.owner_keys, s.nt);
  for (size_t i = 0; i < s.nt; i++) check_task(&s, &s.tasks[i], p, &escrow);
  CHECK(escrow == esc, "escrow %llu != %llu, what the unsettled tasks hold",
        (unsigned long long)esc, (unsigned long long)escrow);
  CHECK(s.reveal_owed == s.reveal_load, "r/reveal_load %llu, the revealing tasks owe %llu",
        (unsigned long long)s.reveal_load, (unsigned long long)s.reveal_owed);
  for (int i = 0; i < s.nw; i++) {
    taskrec *w = find_task(&s, s.waits[i].id);
    CHECK(w && w->t->status == T_DRAWING, "a queue entry of a task that is not drawing");
  }
  for (size_t i = 0; i < s.ns; i++) {
    char e8[17], t8[17];
    hex8(e8, s.seats[i].exec);
    hex8(t8, s.seats[i].task);
    CHECK(s.seats[i].matched, "executor %s holds a seat on task %s it is not an active member "
          "of (or the task is settled)", e8, t8);
  }
  for (size_t i = 0; i < s.nd; i++) {
    if (s.dls[i].kind == DL_JAIL) {
      exrec *e = find_ex(&s, s.dls[i].id);
      CHECK(e, "jail entry of an unknown executor");
      CHECK(e->e->jailed_until == s.dls[i].h, "jail entry at %llu, jailed until %llu",
            (unsigned long long)s.dls[i].h, (unsigned long long)e->e->jailed_until);
      e->jail_entries++;
    } else {
      CHECK(find_task(&s, s.dls[i].id), "deadline entry of a task that does not exist");
    }
  }
  /* Executors. */
  for (int i = 0; i < s.nex; i++) {
    exrec *r = &s.ex[i];
    const Cohort__Executor *e = r->e;
    char e8[17];
    hex8(e8, r->id);
    CHECK(e->capacity >= 1 && e->capacity <= p->max_executor_capacity,
          "executor %s declares capacity %u", e8, e->capacity);
    CHECK(e->active_tasks <= e->capacity, "executor %s holds %u seats, capacity %u", e8,
          e->active_tasks, e->capacity);
    CHECK(e->active_tasks == r->working,
          "executor %s counts %u active seats, it is a member of %u working tasks", e8,
          e->active_tasks, r->working);
    CHECK(e->seat_lock == r->seat_max, "executor %s seat_lock %llu, largest seat stake %llu", e8,
          (unsigned long long)e->seat_lock, (unsigned long long)r->seat_max);
    CHECK(r->unb == e->unbonding, "executor %s unbonding %llu but its entries add up to %llu",
          e8, (unsigned long long)e->unbonding, (unsigned long long)r->unb);
    CHECK(r->jail_entries == (e->jailed_until > s.height),
          "executor %s jailed until %llu has %d jail entries", e8,
          (unsigned long long)e->jailed_until, r->jail_entries);
    CHECK(!(e->jailed_until > s.height && e->accepting), "executor %s is jailed until %llu and "
          "accepting work", e8, (unsigned long long)e->jailed_until);
    /* Its delegators' side (docs/staking.md §8). */
    CHECK(r->xd_shares == e->del_shares, "executor %s del_shares %llu, its delegations hold "
          "%llu", e8, (unsigned long long)e->del_shares, (unsigned long long)r->xd_shares);
    CHECK(r->xq_amount == e->del_unbonding, "executor %s del_unbonding %llu, its xq/ entries "
          "hold %llu", e8, (unsigned long long)e->del_unbonding,
          (unsigned long long)r->xq_amount);
    CHECK(r->xw_amount == e->del_pending, "executor %s del_pending %llu, its xw/ records hold "
          "%llu", e8, (unsigned long long)e->del_pending, (unsigned long long)r->xw_amount);
    /* a waiting delegation waits while the executor holds a seat, and no
     * longer: once none is held, it is bonded (docs/staking.md §8) */
    CHECK(!e->del_pending || r->seat_oldest,
          "executor %s has %llu waiting from height %llu, its oldest seat is from %llu", e8,
          (unsigned long long)e->del_pending, (unsigned long long)r->xw_oldest,
          (unsigned long long)r->seat_oldest);
    CHECK(!e->del_tokens || e->del_shares, "executor %s has %llu delegated tokens and no shares",
          e8, (unsigned long long)e->del_tokens);
    CHECK(e->reward_acc.len == 0 || e->reward_acc.len == 16, "executor %s reward_acc of %zu "
          "bytes", e8, e->reward_acc.len);
    CHECK(e->commission_bps <= 10000 && e->commission_next <= 10000,
          "executor %s commission %u, next %u", e8, e->commission_bps, e->commission_next);
    /* a raise waits at most unbonding_blocks (a cut or restatement never waits) */
    CHECK(!e->commission_at || (e->commission_next > e->commission_bps &&
                                e->commission_at <= s.height + p->unbonding_blocks),
          "executor %s commission %u, %u from height %llu", e8, e->commission_bps,
          e->commission_next, (unsigned long long)e->commission_at);
  }
  /* Jobs: counts follow their chunks. */
  for (int i = 0; i < s.nj; i++) {
    const Cohort__Job *j = s.jobs[i];
    uint32_t chunks = 0, done = 0, failed = 0;
    for (size_t k = 0; k < s.nt; k++) {
      const Cohort__Task *t = s.tasks[k].t;
      if (t->job.len != 32 || memcmp(t->job.data, s.job_ids[i], 32)) continue;
      chunks++;
      /* a chunk counts once settled: FINAL (a challenge may overturn an
       * agreed one) or EXPIRED; a disputed one waits for its game */
      done += t->status == T_FINAL;
      failed += t->status == T_EXPIRED;
    }
    CHECK(chunks == j->chunks, "job of %u chunks has %u chunk tasks", j->chunks, chunks);
    CHECK(j->done == done && j->failed == failed, "job counts %u done %u failed, its chunks "
          "say %u and %u", j->done, j->failed, done, failed);
    uint32_t st = done + failed < chunks ? 1 : failed ? 3 : 2;
    CHECK(j->status == st, "job status %u, expected %u", j->status, st);
    CHECK((st == 2) == (j->result_root.len == 32), "job status %u with%s a result root", st,
          j->result_root.len ? "" : "out");
  }
  for (int i = 0; i < s.nex; i++) cohort__executor__free_unpacked(s.ex[i].e, NULL);
  for (size_t i = 0; i < s.nt; i++) cohort__task__free_unpacked(s.tasks[i].t, NULL);
  for (int i = 0; i < s.nj; i++) cohort__job__free_unpacked(s.jobs[i], NULL);
  free(s.seats);
  free(s.dls);
  free(s.tasks);
}

/* Both stores hold the same bytes under every key. */
typedef struct {
  kv_store *other;
  size_t n;
} cmpctx;

static int cmp_ent(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  cmpctx *c = ctx;
  uint8_t *w;
  size_t wl;
  int rc = kv_get(c->other, k, kl, &w, &wl);
  CHECK(rc == 0, "key %c%c... (%zu bytes) is only in one store", k[0], kl > 1 ? k[1] : ' ', kl);
  CHECK(wl == vl && !memcmp(v, w, vl), "key %c%c... (%zu bytes) differs between the stores",
        k[0], kl > 1 ? k[1] : ' ', kl);
  free(w);
  c->n++;
  return 0;
}

static int count_ent(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl, (void)v, (void)vl;
  (*(size_t *)ctx)++;
  return 0;
}

static void check_same_stores(void) {
  cmpctx c = {X.b.kv, 0};
  size_t nb = 0;
  kv_scan(X.a.kv, (const uint8_t *)"", 0, cmp_ent, &c);
  kv_scan(X.b.kv, (const uint8_t *)"", 0, count_ent, &nb);
  CHECK(c.n == nb, "the stores hold %zu and %zu keys", c.n, nb);
}

/* ------------------------------------------------------------------ */
/* Blocks, as the proposer makes them; then replayed into the second store. */

static void log_results(const uint8_t (*hashes)[32], size_t k) {
  for (size_t i = 0; i < k; i++) {
    Cohort__TxResult *r;
    if (state_get_tx_result(X.a.st, hashes[i], &r)) continue;
    LOG("    result %zu: code %d %s\n", i, (int)r->code, r->log ? r->log : "");
    cohort__tx_result__free_unpacked(r, NULL);
  }
}

static void make_block(void) {
  state *st = X.a.st;
  uint64_t h = state_height(st) + 1, tms = state_last_time_ms(st) + 1000;
  state_exec *x;
  core_errbuf eb;
  if (state_exec_begin(st, h, tms, W.vpub, &x, &eb)) die("exec_begin: %s", eb.msg);
  /* The reveal: the preimage, in one of our two hash chains, of the
   * commitment the chain expects now; a re-commitment to the other chain's
   * tip only when none is pending. */
  const uint8_t *reveal = NULL, *new_tip = NULL;
  uint8_t want[32];
  int pending = 0, in_chain = -1;
  if (state_beacon_expected(st, W.vpub, want, &pending)) die("no beacon commitment for us");
  for (int c = 0; c < 2 && !reveal; c++)
    for (int i = 1; i <= BEACON_N && !reveal; i++)
      if (!memcmp(W.beacon[c][i], want, 32)) reveal = W.beacon[c][i - 1], in_chain = c;
  if (X.m.withhold) reveal = NULL;
  if (reveal && X.m.recommit && !pending) new_tip = W.beacon[1 - in_chain][BEACON_N];
  if (reveal && state_exec_reveal(x, reveal, new_tip, &eb)) die("beacon reveal: %s", eb.msg);
  ProtobufCBinaryData raw[MAXP];
  uint8_t hashes[MAXP][32];
  state_tx_result res[MAXP];
  /* Like node.c's proposer: txs up to max_block_bytes less room for the
   * header and the last commit. */
  const Cohort__Params *par = state_params(st);
  size_t k = 0, bytes = 0, max_bytes = par->max_block_bytes > 4096 ? par->max_block_bytes - 4096 : 0;
  for (int i = 0; i < X.np; i++) {
    if (bytes + X.len[i] > max_bytes) {
      LOG("    tx %d left out: the block is full\n", i);
      continue;
    }
    tx_t tx;
    if (tx_decode(&tx, X.raw[i], X.len[i], par->max_tx_bytes, &eb)) {
      LOG("    tx %d refused at decode: %s\n", i, eb.msg);
      continue;
    }
    /* The mempool's dry run, never fatal here. Messages that set up VMs
     * (the costly part of a run) only when asked. */
    int vm_msg = tx.body->msg_case == COHORT__TX_BODY__MSG_SUBMIT_TASK ||
                 tx.body->msg_case == COHORT__TX_BODY__MSG_SUBMIT_JOB ||
                 tx.body->msg_case == COHORT__TX_BODY__MSG_UPLOAD_BLOB;
    int rc;
    if (!vm_msg || X.m.dry_vm) {
      state_tx_result cr;
      rc = state_check_msg(st, &tx, &cr);
      CHECK(rc == 0, "state_check_msg failed with %d", rc);
    }
    memset(&res[k], 0, sizeof res[k]);
    rc = state_exec_tx(x, &tx, 0, &res[k], &eb);
    CHECK(!core_err_is_fatal(rc), "state_exec_tx: fatal %d (%s)", rc, eb.msg);
    if (rc == 0) {
      raw[k] = (ProtobufCBinaryData){X.len[i], X.raw[i]};
      memcpy(hashes[k], tx.hash, 32);
      bytes += X.len[i];
      k++;
    } else {
      LOG("    tx %d not includable: %s\n", i, eb.msg);
    }
    tx_free(&tx);
  }
  uint8_t root[32], vh[32], nvh[32], lch[32] = {0};
  block_tx_root(root, (const uint8_t(*)[32])hashes, k);
  validators_hash(vh, state_validators(st));
  validators_hash(nvh, state_next_validators(st));
  Cohort__BlockHeader hd = COHORT__BLOCK_HEADER__INIT;
  hd.chain_id = (char *)state_chain_id(st);
  hd.height = h;
  hd.time_ms = tms;
  hd.prev_hash = (ProtobufCBinaryData){32, (uint8_t *)state_last_block_hash(st)};
  hd.tx_root = (ProtobufCBinaryData){32, root};
  hd.app_hash = (ProtobufCBinaryData){32, (uint8_t *)state_app_hash(st)};
  hd.validators_hash = (ProtobufCBinaryData){32, vh};
  hd.next_validators_hash = (ProtobufCBinaryData){32, nvh};
  hd.proposer = (ProtobufCBinaryData){32, W.vpub};
  if (reveal) hd.beacon_reveal = (ProtobufCBinaryData){32, (uint8_t *)reveal};
  if (new_tip) hd.beacon_new_tip = (ProtobufCBinaryData){32, (uint8_t *)new_tip};
  uint8_t *lc = NULL, *blk = NULL;
  size_t lcl = 0, blen = 0;
  if (h > 1 && state_get_commit(st, h - 1, &lc, &lcl) == 0) core_sha256(lch, lc, lcl);
  hd.last_commit_hash = (ProtobufCBinaryData){32, lch};
  uint8_t bh[32];
  if (block_encode(&blk, &blen, bh, &hd, raw, k, lc, lcl)) die("block_encode");
  free(lc);
  uint8_t sb[VOTE_SIGN_BYTES_MAX], sig[64];
  size_t sl = vote_sign_bytes(sb, state_chain_id(st), VOTE_PRECOMMIT, h, 0, bh, 32);
  core_ed25519_sign(sig, sb, sl, W.vsec);
  Cohort__CommitSig cs = COHORT__COMMIT_SIG__INIT;
  cs.validator = (ProtobufCBinaryData){32, W.vpub};
  cs.signature = (ProtobufCBinaryData){64, sig};
  Cohort__CommitSig *csp = &cs;
  Cohort__Commit cm = COHORT__COMMIT__INIT;
  cm.height = h;
  cm.block_hash = (ProtobufCBinaryData){32, bh};
  cm.n_sigs = 1;
  cm.sigs = &csp;
  size_t clen = cohort__commit__get_packed_size(&cm);
  uint8_t *cb = malloc(clen);
  if (!cb) die("out of memory");
  cohort__commit__pack(&cm, cb);
  if (state_commit(st, x, blk, blen, bh, cb, clen, (const uint8_t(*)[32])hashes, res, &eb))
    die("state_commit: %s", eb.msg);
  state_exec_free(x);
  LOG("  block %llu: %zu of %d txs%s%s\n", (unsigned long long)h, k, X.np,
      reveal ? "" : ", beacon withheld", new_tip ? ", beacon re-committed" : "");
  log_results((const uint8_t(*)[32])hashes, k);
  if (k) {
    free(X.last_tx);
    if (!(X.last_tx = malloc(raw[0].len))) die("out of memory");
    memcpy(X.last_tx, raw[0].data, raw[0].len);
    X.last_len = raw[0].len;
  }
  /* The same block, received by another node. */
  int rc = state_apply_block(X.b.st, blk, blen, cb, clen, &eb);
  CHECK(rc == 0, "a block made by the proposer is refused by a replaying node: %s", eb.msg);
  CHECK(!memcmp(state_app_hash(X.a.st), state_app_hash(X.b.st), 32),
        "app_hash differs between the proposer and the replaying node");
  free(blk);
  free(cb);
  for (int i = 0; i < X.np; i++) free(X.raw[i]);
  X.np = 0;
  memset(X.pend, 0, sizeof X.pend);
  X.m.withhold = X.m.recommit = X.m.dry_vm = 0;
  X.m.blocks++;
  check_invariants(&X.a);
}

/* ------------------------------------------------------------------ */
/* Actions, decoded from the input. */

static void flush(void) {
  if (X.m.blocks < MAX_BLOCKS) make_block();
}

static void ensure_room(void) {
  if (X.np >= MAXP - 1) flush();
}

/* A task's caps from edge-case menus (each byte picks one entry). */
static void read_caps(rd *r, task_caps *c, uint32_t k) {
  static const uint64_t steps[8] = {1000000, 100000001, 20000, 5000, 1, 0, 3000000, 0};
  /* Memories are small: a VM's set-up costs in proportion (much more under
   * ASan), and each submission is set up three times (dry run, proposer,
   * replaying node). 65 is above params.max_task_mem_mib. */
  static const uint32_t mem[8] = {2, 4, 2, 2, 16, 65, 1, 0};
  uint8_t b = r8(r);
  c->max_steps = steps[b & 7];
  if ((b & 7) == 5) c->max_steps = 1 + (uint64_t)r16(r) * 16;
  c->mem_mib = mem[(b >> 3) & 7];
  switch ((b >> 6) & 3) { /* reward */
    case 0: c->reward = 30000000; break;
    case 1: c->reward = 150ull * k; break; /* only the cheapest executors fit */
    case 2: c->reward = k - (r8(r) & 1); break; /* the least, or one short of it */
    default: { /* above any balance, so large the allowance overflows, or fuzzed */
      uint8_t s = r8(r);
      c->reward = s & 1 ? 2000000000ull : s & 2 ? UINT64_MAX - s : (uint64_t)r32(r);
    }
  }
  b = r8(r);
  static const uint32_t outs[8] = {0, 4096, 4096, 10, 65, 64, 8193, 0};
  c->max_output = outs[b & 7];
  if ((b & 7) == 7) c->max_output = 1 + r16(r) % 9000;
  switch ((b >> 3) & 3) { /* commit window */
    case 0: case 1: c->commit_blocks = 0; break;
    case 2: c->commit_blocks = 1; break; /* shorter than any run needs */
    default: {
      uint8_t v = r8(r);
      c->commit_blocks = v == 255 ? 1000001 : 2 + v % 16; /* 1000001: above the longest */
    }
  }
  switch ((b >> 5) & 7) { /* reveal window */
    case 2: c->reveal_blocks = 1; break; /* below params.reveal_blocks */
    case 3: c->reveal_blocks = 3 + r8(r) % 8; break;
    case 4: c->reveal_blocks = 100001; break;
    default: c->reveal_blocks = 0; break;
  }
}

static void pick_program(rd *r, uint8_t f, uint8_t out[32]) {
  if (f < 5) {
    memcpy(out, W.prog, 32);
  } else if (f == 5 && X.m.nb) {
    memcpy(out, X.m.blobs[r8(r) % X.m.nb].hash, 32);
  } else {
    for (int i = 0; i < 32; i++) out[i] = (uint8_t)(r8(r) + i);
  }
}

static void act_submit(rd *r) {
  int u = r8(r) % NU;
  uint8_t f = r8(r);
  uint32_t k = (f & 7) == 7 ? 9 : 1 + (f & 7); /* 9: above params.max_committee */
  task_caps c;
  memset(&c, 0, sizeof c);
  pick_program(r, (f >> 5) & 7, c.program);
  static uint8_t in[1025]; /* mode 1: one byte over params.max_inline_input */
  uint8_t blob[32];
  int mode = (f >> 3) & 3;
  size_t il = r8(r) % 12;
  for (size_t i = 0; i < il; i++) in[i] = r8(r);
  if (mode == 1 && il == 11) memset(in, 'i', il = sizeof in);
  if (mode != 2) c.input = in, c.input_len = il;
  if (mode >= 2) { /* an input blob (3: and inline input too: refused at decode) */
    if (X.m.nb) memcpy(blob, X.m.blobs[r8(r) % X.m.nb].hash, 32);
    else memset(blob, 7, 32);
    c.input_blob = blob;
  }
  c.committee = k;
  read_caps(r, &c, k);
  LOG("  submit u%d k %u steps %llu mem %u reward %llu out %u windows %u/%u\n", u, k,
      (unsigned long long)c.max_steps, c.mem_mib, (unsigned long long)c.reward, c.max_output,
      c.commit_blocks, c.reveal_blocks);
  tx_submit(u, &c, NULL);
}

static void act_job(rd *r) {
  int u = r8(r) % NU;
  uint8_t f = r8(r);
  uint32_t k = 1 + (f & 3);
  size_t n = f & 0x80 ? 0 : 1 + ((f >> 2) & 3);
  task_caps c;
  memset(&c, 0, sizeof c);
  pick_program(r, (f >> 4) & 7, c.program);
  uint8_t in[4][8];
  ProtobufCBinaryData inputs[4];
  for (size_t i = 0; i < n; i++) {
    size_t l = r8(r) % 8;
    for (size_t j = 0; j < l; j++) in[i][j] = r8(r);
    inputs[i] = (ProtobufCBinaryData){l, in[i]};
  }
  c.committee = k;
  read_caps(r, &c, k);
  LOG("  job u%d of %zu chunks, k %u\n", u, n, k);
  tx_job(u, &c, inputs, n, NULL);
}

/* The executor record of id (NULL if none; the caller frees it). */
static Cohort__Executor *exec_of(const uint8_t id[20]) {
  Cohort__Executor *e = NULL;
  int rc = state_get_executor(X.a.st, id, &e);
  if (rc && rc != COHORT_ERR_NOT_FOUND) die("executor read: %d", rc);
  return rc ? NULL : e;
}

static void act_register(rd *r) {
  uint8_t ub = r8(r);
  int u = ub % NU;
  uint8_t f = r8(r);
  static const uint64_t stakes[8] = {0, 1000, 100000, 1000000, 2000000, 5000001, 0, 999};
  static const uint64_t prices[4] = {1000, 100, 30000000, 0};
  uint64_t stake = stakes[f & 7], price = prices[(f >> 3) & 3];
  if ((f & 7) == 6) { /* fuzzed; all ones: the bond would overflow */
    uint32_t v = r24(r);
    stake = v == 0xffffff ? UINT64_MAX : v;
  }
  if (((f >> 3) & 3) == 3) price = r16(r);
  int accepting = !((f >> 5) & 1);
  uint32_t cap;
  switch ((f >> 6) & 3) {
    case 0: cap = 0; break; /* keep the current one */
    case 1: cap = 1 + r8(r) % 4; break;
    case 2: cap = 2; break;
    default: cap = 9; break; /* above params.max_executor_capacity */
  }
  /* The commission (docs/staking.md §8), from bits 3-5 of the user byte:
   * a cut is in force at once, a raise waits unbonding_blocks. */
  uint32_t com = 0;
  Cohort__Executor *e = exec_of(W.id[u]);
  uint32_t now = e ? (e->commission_at && state_height(X.a.st) + 1 >= e->commission_at
                          ? e->commission_next
                          : e->commission_bps)
                   : 0;
  switch ((ub >> 3) & 7) {
    case 0: com = 0; break;
    case 1: com = 500; break;
    case 2: com = 2000; break;
    case 3: com = 10000; break;
    case 4: com = 10001; break; /* above 100 %: refused at decode */
    case 5: com = now; break;   /* restated */
    case 6: /* the raise waiting restated, or a raise by one */
      com = e && e->commission_at ? e->commission_next : now < 10000 ? now + 1 : now;
      break;
    default: com = r16(r) % 10001; break;
  }
  if (e) cohort__executor__free_unpacked(e, NULL);
  LOG("  register u%d stake %llu price %llu accepting %d capacity %u commission %u\n", u,
      (unsigned long long)stake, (unsigned long long)price, accepting, cap, com);
  tx_register(u, stake, price, accepting, cap, com);
}

/* Op 6 with bit 7 of its user byte set: delegation to executors
 * (docs/staking.md §8). Bits 3-4 of that byte pick the message; the next
 * byte the executor (a user, registered or not, or from 0xf0 an account
 * nobody holds), the one after the amount from a menu. */
static void act_delegation(rd *r, uint8_t ub) {
  int u = ub % NU, kind = (ub >> 3) & 3;
  uint8_t tb = r8(r), f = r8(r);
  uint8_t ex[20];
  if (tb < 0xf0) memcpy(ex, W.id[tb % NU], 20);
  else memset(ex, tb, 20);
  const Cohort__Params *p = state_params(X.a.st);
  Cohort__Executor *e = exec_of(ex);
  uint64_t amount = 0;
  char e8[17];
  hex8(e8, ex);
  if (kind == 0) { /* DelegateExecutor */
    unsigned __int128 cap = e ? (unsigned __int128)e->stake * p->exec_delegation_max_x : 0;
    uint64_t dt = e ? e->del_tokens : 0, bal = stk_of(u);
    uint64_t room = cap > dt ? (cap - dt > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)(cap - dt))
                             : 0;
    switch (f % 8) {
      case 0: amount = p->min_delegation - 1; break; /* below the minimum (0: refused at decode) */
      case 1: amount = p->min_delegation; break;
      case 2: amount = p->min_delegation + r16(r); break;      /* small */
      case 3: amount = room ? room : p->min_delegation; break; /* exactly the room left */
      case 4: amount = room + 1; break;                         /* one above it */
      case 5: amount = bal + 1; break;                          /* above the balance */
      case 6: amount = bal ? bal : 1; break;                    /* the whole balance */
      default: amount = 1 + r32(r); break;
    }
    LOG("  delegate_executor u%d -> %s %llu (room %llu, balance %llu)\n", u, e8,
        (unsigned long long)amount, (unsigned long long)room, (unsigned long long)bal);
    tx_delegate_exec(u, ex, amount, 0);
  } else if (kind == 1) { /* UndelegateExecutor */
    Cohort__Delegation *d = NULL;
    uint64_t value = 0;
    if (e && state_get_exec_delegation(X.a.st, W.id[u], ex, &d) == 0) {
      value = state_exec_delegation_value(e, d->shares);
      cohort__delegation__free_unpacked(d, NULL);
    }
    switch (f % 5) {
      case 0: amount = 1; break;
      case 1: amount = value ? value : 1; break; /* the full value */
      case 2: amount = value + 1; break;         /* one more */
      case 3: amount = value / 2 ? value / 2 : 1; break; /* partial */
      default: amount = 1 + r24(r); break;
    }
    LOG("  undelegate_executor u%d from %s %llu (value %llu)\n", u, e8,
        (unsigned long long)amount, (unsigned long long)value);
    tx_delegate_exec(u, ex, amount, 1);
  } else if (kind == 2) { /* WithdrawRewards {executor} */
    LOG("  withdraw_rewards u%d executor %s\n", u, e8);
    tx_withdraw(u, NULL, 0, ex, 20);
  } else { /* the other forms */
    switch (f % 4) {
      case 0: tx_withdraw(u, NULL, 0, NULL, 0); break;       /* every delegation */
      case 1: tx_withdraw(u, W.id[0], 20, NULL, 0); break;   /* the validator's (user 0) */
      case 2: tx_withdraw(u, W.id[0], 20, ex, 20); break;    /* both: refused at decode */
      default: tx_withdraw(u, NULL, 0, ex, 19); break;       /* 19 bytes: refused at decode */
    }
    LOG("  withdraw_rewards u%d form %u\n", u, f % 4);
  }
  if (e) cohort__executor__free_unpacked(e, NULL);
}

static void act_unbond(rd *r) {
  uint8_t ub = r8(r);
  if (ub & 0x80) {
    act_delegation(r, ub);
    return;
  }
  int u = ub % NU;
  uint8_t f = r8(r);
  Cohort__Executor *e = NULL;
  uint64_t stake = 0, lock = 0;
  if (state_get_executor(X.a.st, W.id[u], &e) == 0) {
    stake = e->stake;
    lock = e->seat_lock;
    cohort__executor__free_unpacked(e, NULL);
  }
  uint64_t free_ = stake > lock ? stake - lock : 0, amount;
  switch (f % 6) {
    case 0: amount = 1; break;
    case 1: amount = free_ ? free_ : 1; break; /* all that seat_lock allows */
    case 2: amount = free_ + 1; break;         /* one more */
    case 3: amount = stake ? stake : 1; break;
    case 4: amount = 1 + r24(r); break;
    default: amount = stake + 1; break;
  }
  LOG("  unbond u%d %llu (stake %llu, seat_lock %llu)\n", u, (unsigned long long)amount,
      (unsigned long long)stake, (unsigned long long)lock);
  tx_unbond(u, amount);
}

/* A known task and one of its active members (or, with the high bit of the
 * member byte, any user). Returns the task record (NULL if none yet). */
static Cohort__Task *pick_member(rd *r, const uint8_t **id, int *u) {
  *id = X.m.tasks[r8(r) % X.m.nt];
  uint8_t ms = r8(r);
  Cohort__Task *t = get_task(*id);
  int act[16], n = 0;
  for (size_t i = 0; t && i < t->n_members && n < 16; i++)
    if (!t->members[i]->replaced) {
      int v = user_of(&t->members[i]->executor);
      if (v >= 0) act[n++] = v;
    }
  *u = (ms & 0x80) || !n ? ms % NU : act[ms % n];
  return t;
}

static void act_commit(rd *r) {
  const uint8_t *id;
  int u;
  Cohort__Task *t = pick_member(r, &id, &u);
  uint8_t v = r8(r), salt = r8(r);
  int variant = v % 8 < 3 ? V_HONEST : 1 + (v % 8 - 3);
  char t8[17];
  hex8(t8, id);
  LOG("  commit u%d on %s variant %d salt %u\n", u, t8, variant, salt);
  tx_commit(u, id, t, variant, salt);
  if (t) cohort__task__free_unpacked(t, NULL);
}

static void act_reveal(rd *r) {
  const uint8_t *id;
  int u;
  Cohort__Task *t = pick_member(r, &id, &u);
  uint8_t p = r8(r);
  int pert = p % 13 < 5 ? RV_EXACT : 1 + (p % 13 - 5); /* RV_SALT .. RV_LONG */
  char t8[17];
  hex8(t8, id);
  LOG("  reveal u%d on %s perturbation %d\n", u, t8, pert);
  tx_reveal(u, id, t, pert);
  if (t) cohort__task__free_unpacked(t, NULL);
}

/* Every active member of a task acts: 2 bits each (0, 1 honest; 2 silent;
 * 3 liar). */
static void act_serve(rd *r) {
  const uint8_t *id = X.m.tasks[r8(r) % X.m.nt];
  uint8_t mask = r8(r);
  Cohort__Task *t = get_task(id);
  if (!t) return;
  char t8[17];
  hex8(t8, id);
  LOG("  serve %s (status %u) mask %02x\n", t8, t->status, mask);
  int slot = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    int u = user_of(&m->executor);
    if (m->replaced || u < 0) continue;
    int a = (mask >> (2 * (slot++ % 4))) & 3;
    if (a == 2) continue;
    ensure_room();
    if (t->status == T_COMMITTING && !m->commitment.len)
      tx_commit(u, id, t, a == 3 ? V_LIAR : V_HONEST, (uint8_t)(0x40 + u));
    else if (t->status == T_REVEALING && m->commitment.len && !m->claim)
      tx_reveal(u, id, t, RV_EXACT);
  }
  cohort__task__free_unpacked(t, NULL);
}

static void act_upload(rd *r) {
  int u = r8(r) % NU;
  uint8_t kb = r8(r), kind = (kb & 0x7f) % 6;
  const Cohort__Params *p = state_params(X.a.st);
  uint8_t *d = NULL;
  size_t n = 0;
  int prog = 0;
  switch (kind) {
    case 0: tx_upload(u, ELF, ELF_LEN, 1); return;
    case 1: tx_upload(u, ELF, ELF_LEN, 0); return;
    case 2: { /* the ELF with one byte changed: another program, or not one */
      uint32_t off = r16(r) % ELF_LEN;
      if (!(d = malloc(ELF_LEN))) die("out of memory");
      memcpy(d, ELF, ELF_LEN);
      d[off] ^= (uint8_t)(r8(r) | 1);
      n = ELF_LEN;
      prog = !(kb & 0x80); /* as data first, a program later: the blob is marked checked */
      break;
    }
    case 5: /* one byte over params.max_blob_bytes */
      n = p->max_blob_bytes + 1;
      if (!(d = calloc(1, n))) die("out of memory");
      break;
    default: { /* kind 3 data, 4 "program": bytes from a seed */
      n = 1 + r8(r);
      uint32_t s = 0x9e3779b9u * (1 + r8(r));
      if (!(d = malloc(n))) die("out of memory");
      for (size_t i = 0; i < n; i++) s = s * 1103515245u + 12345u, d[i] = (uint8_t)(s >> 24);
      if (kind == 4 && n >= 4) memcpy(d, "\177ELF", 4);
      prog = kind == 4 || (kb & 0x80);
    }
  }
  LOG("  upload u%d kind %u (%zu bytes, program %d)\n", u, kind, n, prog);
  tx_upload(u, d, n, prog);
  free(d);
}

static void act_transfer(rd *r) {
  int u = r8(r) % NU;
  uint8_t to_b = r8(r), f = r8(r);
  uint8_t to[20];
  if (to_b < 0xf0) memcpy(to, W.id[to_b % NU], 20);
  else memset(to, to_b, 20);
  int token = 1 + (f & 1);
  uint64_t bal = token == 1 ? crd_of(u) : stk_of(u), amount;
  switch ((f >> 1) % 5) {
    case 0: amount = 1; break;
    case 1: amount = 1000; break;
    case 2: amount = bal ? bal : 1; break;
    case 3: amount = bal + 1; break;
    default: amount = 1 + r32(r); break;
  }
  LOG("  transfer u%d -> %02x.. %s %llu\n", u, to[0], token == 1 ? "CRD" : "STK",
      (unsigned long long)amount);
  tx_transfer(u, to, token, amount);
}

static void act_misc(rd *r) {
  uint8_t f = r8(r);
  switch (f % 5) {
    case 0: X.m.badtx = (uint8_t)(1 + (f >> 2) % (BAD_COUNT - 1)); break;
    case 1: X.m.withhold = 1; break;
    case 2: X.m.recommit = 1; break;
    case 3: X.m.dry_vm = 1; break;
    default: /* an included tx again: its nonce is spent */
      if (X.last_tx) {
        uint8_t *c = malloc(X.last_len);
        if (!c) die("out of memory");
        memcpy(c, X.last_tx, X.last_len);
        queue_raw(c, X.last_len);
      }
  }
  LOG("  misc %u\n", f % 5);
}

static void run_actions(rd *r) {
  while (r->i < r->n && X.m.blocks < MAX_BLOCKS) {
    uint8_t op = r8(r) % 16;
    if (op >= 2 && op != 15) ensure_room();
    switch (op) {
      case 0: make_block(); break;
      case 1: {
        int n = 1 + r8(r) % 8;
        for (int i = 0; i < n && X.m.blocks < MAX_BLOCKS; i++) make_block();
        break;
      }
      case 2: case 3: act_submit(r); break;
      case 4: act_job(r); break;
      case 5: act_register(r); break;
      case 6: act_unbond(r); break;
      case 7: case 8: act_commit(r); break;
      case 9: case 10: act_reveal(r); break;
      case 11: case 12: act_serve(r); break;
      case 13: act_upload(r); break;
      case 14: act_transfer(r); break;
      default: act_misc(r); break;
    }
  }
  if (X.np) flush();
}

/* ------------------------------------------------------------------ */
/* The world and the starting state, built once. */

static void world_init(void) {
  if (core_init()) abort();
  verbose = getenv("FUZZ_MARKET_VERBOSE") != NULL;
  uint8_t seed[32];
  memset(seed, 0x42, 32);
  core_ed25519_from_seed(W.vsec, W.vpub, seed);
  char accts[NU][200], list[NU * 200 + 16] = "";
  uint8_t vid[20];
  for (int i = 0; i < NU; i++) {
    uint8_t pub[32];
    memset(W.sec[i], 0, 32);
    W.sec[i][0] = 0x4d;
    W.sec[i][31] = (uint8_t)(i + 1);
    if (core_schnorr_pubkey(pub, W.sec[i])) abort();
    core_account_id(W.id[i], pub);
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, W.id[i]);
    snprintf(accts[i], sizeof accts[i], "%s{\"address\":\"%s\",\"crd\":\"%s\",\"stk\":\"%s\"}",
             i ? "," : "", a, i == NU - 1 ? "500" : "1000000000", i == NU - 1 ? "0" : "5000000");
    strcat(list, accts[i]);
  }
  memcpy(vid, W.id[0], 20);
  for (int c = 0; c < 2; c++) {
    memset(W.beacon[c][0], c ? 0x5a : 0xa5, 32);
    for (int i = 1; i <= BEACON_N; i++) core_sha256(W.beacon[c][i], W.beacon[c][i - 1], 32);
  }
  char vpk[65], op[CORE_ADDR_STR_MAX], bc[65];
  static char text[8192];
  core_hex_encode(vpk, W.vpub, 32);
  core_hex_encode(bc, W.beacon[0][BEACON_N], 32);
  core_addr_encode(op, vid);
  /* Short windows so every transition is a few blocks away; small caps so
   * the block caps, output caps and blob limits are reachable; small
   * delegation limits (an executor takes at most twice its own stake,
   * below the balances; three executor delegations per account; three
   * pending xq/ entries per delegation, within unbonding_blocks) so each
   * is too. */
  snprintf(text, sizeof text,
           "{\"chain_id\":\"" CHAIN "\",\"genesis_time\":\"2026-01-01T00:00:00Z\","
           "\"params\":{\"max_block_bytes\":1048576,\"max_tx_bytes\":131072,"
           "\"max_block_txs\":1000,\"min_fee\":\"10\",\"min_executor_stake\":\"1000\","
           "\"max_executor_capacity\":8,\"max_committee\":8,\"max_task_mem_mib\":64,"
           "\"max_inline_input\":1024,\"max_inline_output\":8192,\"max_blob_bytes\":65536,"
           "\"max_block_tasks\":12,\"max_block_vm_kib\":400,"
           "\"exec_steps_per_block\":\"1000000\",\"max_task_steps\":\"100000000\","
           "\"commit_blocks\":3,\"reveal_blocks\":3,\"challenge_blocks\":2,"
           "\"unbonding_blocks\":5,\"exec_delegation_max_x\":2,\"max_delegations\":3,"
           "\"max_entries\":3,\"evidence_max_age\":4,\"max_attempts\":3,\"liveness_slash_bps\":1000,"
           "\"window_margin_blocks\":1,\"liveness_jail_blocks\":12,\"retention_blocks\":5,"
           "\"draw_wait_blocks\":4,\"beacon_recommit_delay\":3},"
           "\"accounts\":[%s],"
           "\"validators\":[{\"pubkey\":\"%s\",\"operator\":\"%s\",\"power\":\"100\","
           "\"beacon_commit\":\"%s\"}]}",
           list, vpk, op, bc);
  core_errbuf eb;
  if (genesis_parse(&W.g, text, strlen(text), &eb)) {
    fprintf(stderr, "fuzz_market: genesis: %s\n", eb.msg);
    abort();
  }
  core_sha256(W.prog, ELF, ELF_LEN);
}

static uint32_t status_of(const uint8_t id[32]) {
  Cohort__Task *t = get_task(id);
  CHECK(t, "a setup task is missing");
  uint32_t s = t->status;
  cohort__task__free_unpacked(t, NULL);
  return s;
}

/* Commit (or reveal) for every active member of task `id`; liar_seat >= 0
 * makes that member lie; only_first commits for the first member only. */
static void serve(const uint8_t id[32], int reveal, int liar_seat, int only_first) {
  Cohort__Task *t = get_task(id);
  CHECK(t, "a setup task is missing");
  int seat = 0;
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    int u = user_of(&m->executor);
    if (m->replaced || u < 0) continue;
    if (reveal) tx_reveal(u, id, t, RV_EXACT);
    else tx_commit(u, id, t, seat == liar_seat ? V_LIAR : V_HONEST, (uint8_t)(0x40 + u));
    seat++;
    if (only_first) break;
  }
  cohort__task__free_unpacked(t, NULL);
}

static task_caps caps(const char *input, uint32_t k, uint64_t reward) {
  task_caps c;
  memset(&c, 0, sizeof c);
  memcpy(c.program, W.prog, 32);
  c.input = (const uint8_t *)input;
  c.input_len = strlen(input);
  c.max_steps = 1000000;
  c.mem_mib = 2;
  c.committee = k;
  c.reward = reward;
  c.max_output = 4096;
  return c;
}

/* Nine blocks that leave a task in every status (heights in comments). */
static void setup(void) {
  X.in_setup = 1;
  chain_open(&X.a, NULL);
  chain_open(&X.b, NULL);
  if (state_get_supply(X.a.st, &W.crd0, &W.stk0)) die("supply read");
  memset(&X.m, 0, sizeof X.m);
  static const char data_blob[] = "the input of task R, uploaded as a data blob";
  uint8_t A[32], D[32], E[32], G[32], R[32], C[32], Wt[32], J[32];
  /* 1: the program and an input blob; five executors. */
  tx_upload(0, ELF, ELF_LEN, 1);
  tx_upload(6, (const uint8_t *)data_blob, sizeof data_blob - 1, 0);
  tx_register(1, 2000000, 1000, 1, 3, 1000); /* keeps 10 % of its delegators' part */
  tx_register(2, 1000000, 1000, 1, 2, 0);
  tx_register(3, 3000000, 500, 1, 3, 0);
  tx_register(4, 500000, 2000, 1, 2, 0);
  tx_register(5, 1500000, 100, 1, 2, 0);
  make_block();
  /* 2: A and D (k = 2), E (only executor 5 is cheap enough, and it raises
   * its price in the same block: E expires at its draw), job J. */
  task_caps c = caps("alpha", 2, 30000000);
  tx_submit(0, &c, A);
  c = caps("delta", 2, 30000000);
  tx_submit(0, &c, D);
  c = caps("echo", 1, 150);
  tx_submit(6, &c, E);
  tx_register(5, 0, 1000, 1, 0, 0);
  ProtobufCBinaryData chunks[2] = {{2, (uint8_t *)"j0"}, {2, (uint8_t *)"j1"}};
  c = caps("", 1, 5000000);
  tx_job(6, &c, chunks, 2, J);
  make_block();
  /* 3: drawn (E expired); 4: committed (a liar on D); 5: revealed: A and
   * the chunks agreed, D disputed; G submitted. */
  make_block();
  uint8_t c0[32], c1[32];
  market_chunk_id(c0, J, 0);
  market_chunk_id(c1, J, 1);
  serve(A, 0, -1, 0);
  serve(D, 0, 1, 0);
  serve(c0, 0, -1, 0);
  serve(c1, 0, -1, 0);
  make_block();
  serve(A, 1, -1, 0);
  serve(D, 1, -1, 0);
  serve(c0, 1, -1, 0);
  serve(c1, 1, -1, 0);
  c = caps("gamma", 3, 30000000);
  tx_submit(0, &c, G);
  make_block();
  /* 6: G drawn; R (input blob) and C submitted. */
  uint8_t bh[32];
  core_sha256(bh, (const uint8_t *)data_blob, sizeof data_blob - 1);
  c = caps("", 2, 30000000);
  c.input = NULL;
  c.input_blob = bh;
  tx_submit(6, &c, R);
  c = caps("cee", 2, 30000000);
  tx_submit(0, &c, C);
  make_block();
  /* 7: G committed; R and C drawn; A and the chunks final. */
  serve(G, 0, -1, 0);
  make_block();
  /* 8: G revealed (agreed), R committed (revealing), one commit on C; E
   * pruned; executor 3 adds stake; user 6 delegates to executor 1 (after
   * the draws of G, R and C, whose seats it now backs). */
  serve(G, 1, -1, 0);
  serve(R, 0, -1, 0);
  serve(C, 0, -1, 1);
  tx_register(3, 500000, 500, 1, 0, 0);
  tx_delegate_exec(6, W.id[1], 1000000, 0);
  make_block();
  /* 9: W submitted (drawing); executor 3 starts unbonding; user 6
   * undelegates part of its delegation (an xq/ entry, due at 14). */
  c = caps("wait", 1, 3000000);
  tx_submit(0, &c, Wt);
  tx_unbond(3, 200000);
  tx_delegate_exec(6, W.id[1], 300000, 1);
  make_block();
  CHECK(status_of(A) == T_FINAL && status_of(c0) == T_FINAL && status_of(c1) == T_FINAL,
        "A and the chunks are not final");
  CHECK(status_of(E) == T_EXPIRED, "E did not expire");
  CHECK(status_of(D) == T_DISPUTED, "D is not disputed");
  CHECK(status_of(G) == T_AGREED, "G is not agreed");
  CHECK(status_of(R) == T_REVEALING, "R is not revealing");
  CHECK(status_of(C) == T_COMMITTING, "C is not committing");
  CHECK(status_of(Wt) == T_DRAWING, "W is not drawing");
  check_same_stores();
  if (kv_open_mem(&W.snap)) abort();
  kv_copy(W.snap, X.a.kv);
  X.m.blocks = 0;
  M0 = X.m;
  chain_close(&X.a);
  chain_close(&X.b);
  free(X.last_tx);
  X.last_tx = NULL;
  X.in_setup = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) {
    world_init();
    setup();
    init = 1;
  }
  chain_open(&X.a, W.snap);
  chain_open(&X.b, W.snap);
  X.m = M0;
  X.np = 0;
  memset(X.pend, 0, sizeof X.pend);
  X.crd_supply = X.stk_supply = 0;
  X.slashed_gone = 0;
  for (int u = 0; u < NU; u++) {
    Cohort__Executor *e;
    X.slashed_seen[u] = 0;
    if (state_get_executor(X.a.st, W.id[u], &e) == 0) {
      X.slashed_seen[u] = e->slashed_total;
      cohort__executor__free_unpacked(e, NULL);
    }
  }
  rd r = {data, size, 0};
  LOG("input of %zu bytes from height %llu\n", size, (unsigned long long)state_height(X.a.st));
  run_actions(&r);
  if (X.m.blocks) check_same_stores();
  if (verbose) {
    for (int i = 0; i < X.m.nt; i++) {
      char t8[17];
      hex8(t8, X.m.tasks[i]);
      Cohort__Task *t = get_task(X.m.tasks[i]);
      LOG("  task %s: %s\n", t8, t ? market_status_name(t->status) : "(none)");
      if (t) cohort__task__free_unpacked(t, NULL);
    }
  }
  for (int i = 0; i < X.np; i++) free(X.raw[i]);
  X.np = 0;
  free(X.last_tx);
  X.last_tx = NULL;
  chain_close(&X.a);
  chain_close(&X.b);
  return 0;
}
