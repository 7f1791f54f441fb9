/* tests/sim/cons_sim.c — deterministic simulation of N consensus engines.
 *
 * 4..7 engines (consensus/ only: no sockets, no clocks, no files) run in one
 * process under a seeded discrete-event scheduler. Everything random comes
 * from one PRNG seeded by the run's seed, so a failing seed replays exactly
 * (`cons_sim --seed S --verbose`).
 *
 * The world:
 *   - time: a global simulated clock in ms; each node sees its own clock
 *     (offset 0..1 s, rate 0.9..1.1) and its timer fires when its local
 *     clock reaches the engine's deadline;
 *   - network: every message gets a delay (base + jitter, so messages
 *     reorder), may be dropped or duplicated before GST, and partitions
 *     (two groups) drop messages across groups until they heal; after GST
 *     no drops, no partitions, delays stay bounded;
 *   - gossip: every node, every gossip period, sends each peer the votes and
 *     proposals of the peer's height that it holds and the peer lacks (for
 *     the peer's round first, then higher rounds, the POL round of the
 *     peer's proposal, then the rest), or the decided commit of a height the
 *     peer is still on. What a peer lacks is read from the peer's engine
 *     (cons_vote_bitmap / cons_get_proposal): that models a perfect
 *     "HasVote" exchange; the messages themselves still cross the faulty
 *     network. This is the re-sending a real gossip layer does;
 *   - blocks are opaque hashes of (height, round, proposer, variant); the
 *     simulator decides each block's validity when it is created (some
 *     proposals are invalid) and delivers the verdict after a random
 *     validation delay (CONS_ACT_VALIDATE -> cons_on_proposal_valid);
 *   - signers: each node has a model of privval (the last signed
 *     height/round/step and bytes; the same message again is fine, anything
 *     else at or below is a conflict); an honest engine asking its signer for
 *     a conflicting signature fails the run;
 *   - WAL: each node's WAL is an in-memory byte buffer written through the
 *     real codec (cons_wal_encode) as the engine asks, "fsynced" before each
 *     signature; a crash either keeps everything written (process kill) or
 *     only what was synced plus a torn partial record (power loss); the
 *     restart replays it through cons_wal_decode and cons_replay_*;
 *   - a byzantine validator (power < 1/3) runs an honest engine but its
 *     network layer equivocates: it sends different signed votes and
 *     different proposals to different peers, and proposes invalid blocks.
 *
 * Checks, on every run:
 *   agreement  no two honest nodes commit different blocks at one height;
 *   validity   only blocks the simulator made valid are committed, and no
 *              honest node reports a decided block as INVALID;
 *   liveness   after GST every height commits at every honest node within
 *              LIVENESS_MS of the previous one (or of GST), and all reach the
 *              target height;
 *   signing    honest engines never ask for a conflicting signature, even
 *              after restarts;
 *   recovery   after a process-kill restart the engine is in the same height,
 *              round and step with the same lock and valid value; after a
 *              power-loss restart its lock is at least the round of the
 *              last block precommit it signed at that height;
 *   evidence   every CONS_ACT_EVIDENCE names the byzantine validator;
 *   invariants cons_check_invariants after every event (abort on failure).
 *
 * Named regression schedules (issue 8): late_start, empty_blocks_off,
 * split_lock; and crash_restart. `--seeds N` runs N random scenarios.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consensus/consensus.h"
#include "core/hash.h"

#define MAXN 7
#define MAXH 40
#define LIVENESS_MS 30000
#define CHAIN "sim-chain"

/* ---- PRNG: splitmix64 ---- */

typedef struct {
  uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t rbelow(rng *r, uint64_t n) { return n ? rnext(r) % n : 0; }
static int rchance(rng *r, uint32_t permille) { return rbelow(r, 1000) < permille; }

/* ---- scenario ---- */

enum { CRASH_KILL = 1, CRASH_POWER = 2 };

typedef struct sim sim;
typedef struct msg msg;

typedef struct {
  const char *name;
  int n;
  uint64_t power[MAXN];
  int byz; /* index of the byzantine validator, or -1 */
  uint64_t base_delay, jitter;
  uint32_t drop_pm, dup_pm;
  uint32_t slow_pm; /* before GST: this share of messages takes 0.5..3 s */
  uint64_t gst;
  int part;
  uint64_t part_from, part_to;
  uint8_t group[MAXN];
  int ncrash;
  struct {
    int node, mode;
    uint64_t at, restart_at;
  } crash[4];
  uint32_t crash_after_sign_pm; /* crash right after a signature, before it is fed back */
  uint64_t clock_off[MAXN];
  uint32_t clock_rate[MAXN]; /* permille */
  int empty_blocks;          /* 1: empty blocks on; 0: off, txs per txs_everywhere */
  int txs_everywhere;        /* empty blocks off: 1 = every node has txs, 0 = only the
                                round-0 proposer of each height */
  uint64_t late_start[MAXN]; /* extra wait before each height starts */
  int gossip;
  uint64_t gossip_ms;
  int heights;
  uint32_t invalid_honest_pm, invalid_byz_pm;
  cons_config cfg;
  /* optional message filter (named schedules): 1 = drop */
  int (*filter)(sim *S, int from, int to, const msg *m);
  /* optional scripted byzantine (named schedules): called for each peer with
   * the message the byzantine's engine wants to broadcast; may rewrite it
   * (it is re-signed) or return 1 to send nothing. Replaces the random
   * split-brain behaviour, and the byzantine does not gossip. */
  int (*byz_out)(sim *S, int to, msg *m);
  /* optional per-event hook (named schedules); a schedule whose faults end
   * at a moment only the hook knows sets calm_by_hook and the hook sets
   * S->calm */
  void (*hook)(sim *S);
  int calm_by_hook;
} scenario;

/* ---- messages and events ---- */

struct msg {
  int is_vote;
  cons_vote v;
  cons_proposal p;
};

enum { EV_DELIVER = 1, EV_TIMER, EV_VALIDATED, EV_GOSSIP, EV_CRASH, EV_RESTART, EV_START };

typedef struct {
  uint64_t t, seq;
  int kind, node, from, aux;
  uint64_t gen, h;
  uint8_t hash[32];
  msg m;
} event;

typedef struct {
  uint8_t hash[32];
  uint64_t height;
  int valid;
} block_rec;

typedef struct {
  int any, step;
  uint64_t h;
  uint32_t r;
  uint8_t bytes[PROPOSAL_SIGN_BYTES_MAX];
  size_t len;
  int64_t pc_round; /* last block precommit signed at h (-1 none) */
} signer;

typedef struct {
  int have, has_prop, npc;
  uint32_t round;
  cons_proposal prop;
  cons_vote pc[MAXN];
} decided;

typedef struct {
  int id, up, byz;
  uint8_t key[32];
  cons_engine *e;
  uint64_t height; /* being decided */
  core_buf wal;
  size_t synced;
  signer sg;
  uint64_t timer_gen;
  int waiting_start; /* committed, next height not started yet */
  uint64_t commit_time[MAXH + 2];
  uint32_t commit_round[MAXH + 2];
  decided dec[MAXH + 2];
  /* state saved at a crash, checked after the restart */
  int crash_mode;
  uint64_t c_h;
  uint32_t c_r;
  cons_step c_step;
  int64_t c_lock, c_valid;
  uint8_t c_lock_hash[32], c_valid_hash[32];
} node;

struct sim {
  scenario sc;
  rng R;
  uint64_t seed, now, seq, events;
  event *heap;
  size_t nheap, capheap;
  node nd[MAXN];
  cons_prio prio[MAXH + 3];
  int have_global[MAXH + 2];
  uint8_t global[MAXH + 2][32];
  block_rec *blocks;
  size_t nblocks, capblocks;
  int failed, verbose;
  char why[512];
  /* stats */
  uint64_t evidence, crashes, restarts, missing_commits, torn, max_round, sum_rounds,
      commits, round0_commits;
  int split_lifted;
  uint64_t calm; /* when the last fault ended (a hook may move it) */
};

static void fail(sim *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(sim *S, const char *fmt, ...) {
  if (S->failed) return;
  S->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(S->why, sizeof S->why, fmt, ap);
  va_end(ap);
}

#define TRACE(S, ...)                                       \
  do {                                                      \
    if ((S)->verbose) {                                     \
      printf("%8" PRIu64 " ms  ", (S)->now);                \
      printf(__VA_ARGS__);                                  \
      printf("\n");                                         \
    }                                                       \
  } while (0)

/* ---- event heap ---- */

static int ev_less(const event *a, const event *b) {
  return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void ev_push(sim *S, event *e) {
  if (S->nheap == S->capheap) {
    size_t cap = S->capheap ? S->capheap * 2 : 1024;
    event *h = realloc(S->heap, cap * sizeof *h);
    if (!h) {
      fail(S, "out of memory (event heap)");
      return;
    }
    S->heap = h;
    S->capheap = cap;
  }
  e->seq = S->seq++;
  size_t i = S->nheap++;
  S->heap[i] = *e;
  while (i) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&S->heap[i], &S->heap[p])) break;
    event t = S->heap[i];
    S->heap[i] = S->heap[p];
    S->heap[p] = t;
    i = p;
  }
}

static event ev_pop(sim *S) {
  event top = S->heap[0];
  S->heap[0] = S->heap[--S->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < S->nheap && ev_less(&S->heap[l], &S->heap[m])) m = l;
    if (r < S->nheap && ev_less(&S->heap[r], &S->heap[m])) m = r;
    if (m == i) break;
    event t = S->heap[i];
    S->heap[i] = S->heap[m];
    S->heap[m] = t;
    i = m;
  }
  return top;
}

/* ---- clocks ---- */

static uint64_t local_now(const sim *S, int i) {
  return S->sc.clock_off[i] + S->now * S->sc.clock_rate[i] / 1000;
}

static uint64_t global_at(const sim *S, int i, uint64_t local) {
  uint64_t off = S->sc.clock_off[i], rate = S->sc.clock_rate[i];
  if (local <= off) return S->now;
  uint64_t g = ((local - off) * 1000 + rate - 1) / rate;
  while (S->sc.clock_off[i] + g * rate / 1000 < local) g++;
  return g < S->now ? S->now : g;
}

/* ---- blocks ---- */

static const block_rec *block_find(const sim *S, const uint8_t hash[32]) {
  for (size_t i = S->nblocks; i-- > 0;)
    if (!memcmp(S->blocks[i].hash, hash, 32)) return &S->blocks[i];
  return NULL;
}

static void block_make(sim *S, uint8_t out[32], uint64_t h, uint32_t r, int proposer, int variant,
                       uint32_t invalid_pm) {
  uint8_t buf[32];
  memset(buf, 0, sizeof buf);
  memcpy(buf, "blk", 3);
  memcpy(buf + 4, &h, 8);
  memcpy(buf + 12, &r, 4);
  buf[16] = (uint8_t)proposer;
  buf[17] = (uint8_t)variant;
  memcpy(buf + 20, &S->seed, 8);
  core_sha256(out, buf, sizeof buf);
  if (block_find(S, out)) return;
  if (S->nblocks == S->capblocks) {
    size_t cap = S->capblocks ? S->capblocks * 2 : 64;
    block_rec *nb = realloc(S->blocks, cap * sizeof *nb);
    if (!nb) {
      fail(S, "out of memory (blocks)");
      return;
    }
    S->blocks = nb;
    S->capblocks = cap;
  }
  block_rec *b = &S->blocks[S->nblocks++];
  memcpy(b->hash, out, 32);
  b->height = h;
  b->valid = !rchance(&S->R, invalid_pm);
}

/* ---- signer model ---- */

static int signer_sign(signer *s, uint64_t h, uint32_t r, int step, const uint8_t *b,
                       size_t len) {
  int cmp = !s->any ? 1
            : h != s->h ? (h > s->h ? 1 : -1)
            : r != s->r ? (r > s->r ? 1 : -1)
            : step != s->step ? (step > s->step ? 1 : -1) : 0;
  if (cmp < 0) return -1;
  if (cmp == 0) return len == s->len && !memcmp(b, s->bytes, len) ? 0 : -1;
  if (h != s->h) s->pc_round = -1;
  s->any = 1;
  s->h = h;
  s->r = r;
  s->step = step;
  memcpy(s->bytes, b, len);
  s->len = len;
  return 0;
}

static void fake_sig(uint8_t sig[64], int node_id, const uint8_t *b, size_t len) {
  core_sha256_ctx c;
  core_sha256_init(&c);
  core_sha256_update(&c, b, len);
  uint8_t id = (uint8_t)node_id;
  core_sha256_update(&c, &id, 1);
  core_sha256_final(&c, sig);
  core_sha256(sig + 32, sig, 32);
}

/* ---- network ---- */

static int link_up(const sim *S, int a, int b) {
  if (!S->sc.part || S->now < S->sc.part_from || S->now >= S->sc.part_to) return 1;
  return S->sc.group[a] == S->sc.group[b];
}

static void send_msg(sim *S, int from, int to, const msg *m) {
  if (from == to || !link_up(S, from, to)) return;
  if (S->sc.filter && S->sc.filter(S, from, to, m)) return;
  int pre = S->now < S->sc.gst;
  if (pre && rchance(&S->R, S->sc.drop_pm)) return;
  int copies = 1 + (pre && rchance(&S->R, S->sc.dup_pm));
  for (int c = 0; c < copies; c++) {
    event e = {.kind = EV_DELIVER, .node = to, .from = from, .m = *m};
    e.t = S->now + S->sc.base_delay + rbelow(&S->R, S->sc.jitter + 1);
    if (pre && rchance(&S->R, S->sc.slow_pm)) e.t += 500 + rbelow(&S->R, 2500);
    ev_push(S, &e);
  }
}

static void broadcast(sim *S, int from, const msg *m) {
  for (int j = 0; j < S->sc.n; j++) send_msg(S, from, j, m);
}

/* ---- nodes ---- */

static void pump(sim *S, node *n);

static void arm_timer(sim *S, node *n) {
  if (!n->up || !n->e) return;
  uint64_t d = cons_next_deadline(n->e);
  n->timer_gen++;
  if (!d) return;
  event e = {.kind = EV_TIMER, .node = n->id, .gen = n->timer_gen};
  e.t = global_at(S, n->id, d);
  ev_push(S, &e);
}

static int is_round0_proposer(sim *S, node *n) {
  return cons_proposer_index(n->e, 0) == (size_t)n->id;
}

static void start_height(sim *S, node *n) {
  n->waiting_start = 0;
  if (cons_start_height(n->e, n->height, &S->prio[n->height], local_now(S, n->id)))
    fail(S, "node %d: cons_start_height failed", n->id);
  if (!S->sc.empty_blocks)
    cons_on_txs_available(n->e, S->sc.txs_everywhere || is_round0_proposer(S, n),
                          local_now(S, n->id));
  TRACE(S, "node %d starts height %" PRIu64, n->id, n->height);
  pump(S, n);
}

static void wal_append(sim *S, node *n, const cons_wal_rec *r, int sync) {
  if (cons_wal_encode(&n->wal, r)) fail(S, "node %d: WAL encode failed", n->id);
  if (sync) n->synced = n->wal.len;
}

static void crash(sim *S, node *n, int mode, int exact);

/* Sign and feed back; returns 0 if the node is still up. */
static int sign_and_feed_vote(sim *S, node *n, const cons_action *a) {
  cons_vote v = {.type = a->vote_type, .height = a->height, .round = a->round,
                 .has_hash = a->has_hash};
  if (a->has_hash) memcpy(v.block_hash, a->block_hash, 32);
  memcpy(v.validator, n->key, 32);
  uint8_t sb[VOTE_SIGN_BYTES_MAX];
  size_t len = cons_vote_sign_bytes(sb, CHAIN, &v);
  n->synced = n->wal.len; /* the WAL is durable before the signature */
  int step = a->vote_type == VOTE_PREVOTE ? 2 : 3;
  if (signer_sign(&n->sg, a->height, a->round, step, sb, len)) {
    fail(S, "node %d asked to sign a conflicting %s at height %" PRIu64 " round %u "
         "(signed height %" PRIu64 " round %u step %d before)", n->id,
         step == 2 ? "prevote" : "precommit", a->height, a->round, n->sg.h, n->sg.r, n->sg.step);
    return -1;
  }
  if (step == 3 && a->has_hash) n->sg.pc_round = a->round;
  fake_sig(v.signature, n->id, sb, len);
  if (S->sc.crash_after_sign_pm && !n->byz && S->now < S->sc.gst &&
      rchance(&S->R, S->sc.crash_after_sign_pm)) {
    TRACE(S, "node %d crashes right after signing", n->id);
    /* Mid-action: inputs queued behind this signature were acted on but
     * not yet written, so only the weaker recovery check applies. */
    crash(S, n, rchance(&S->R, 500) ? CRASH_KILL : CRASH_POWER, 0);
    event e = {.kind = EV_RESTART, .node = n->id, .t = S->now + 200 + rbelow(&S->R, 800)};
    ev_push(S, &e);
    return -1;
  }
  int rc = cons_on_vote(n->e, &v, local_now(S, n->id));
  if (rc != CONS_MSG_ADDED && rc != CONS_MSG_DUPLICATE && rc != CONS_MSG_STALE && !n->byz)
    fail(S, "node %d: own vote refused (%d)", n->id, rc);
  return 0;
}

static int propose(sim *S, node *n, const cons_action *a) {
  cons_proposal p = {.height = a->height, .round = a->round, .pol_round = a->pol_round};
  if (a->has_hash) memcpy(p.block_hash, a->block_hash, 32);
  else block_make(S, p.block_hash, a->height, a->round, n->id, 0,
                  n->byz ? S->sc.invalid_byz_pm : S->sc.invalid_honest_pm);
  memcpy(p.proposer, n->key, 32);
  uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
  size_t len = cons_proposal_sign_bytes(sb, CHAIN, &p);
  n->synced = n->wal.len;
  if (signer_sign(&n->sg, a->height, a->round, 1, sb, len)) {
    fail(S, "node %d asked to sign a conflicting proposal at height %" PRIu64 " round %u",
         n->id, a->height, a->round);
    return -1;
  }
  fake_sig(p.signature, n->id, sb, len);
  /* STALE is fine: the engine may have moved on (decided, skipped a round)
   * while this action waited in the queue. */
  int rc = cons_on_proposal(n->e, &p, local_now(S, n->id));
  if (rc != CONS_MSG_ADDED && rc != CONS_MSG_DUPLICATE && rc != CONS_MSG_STALE && !n->byz)
    fail(S, "node %d: own proposal refused (%d)", n->id, rc);
  return 0;
}

/* The byzantine network layer: split-brain. For each (height, round,
 * message type) it splits the peers into two groups (random but fixed for
 * that step), sends its real message to one and a conflicting one to the
 * other (or nothing to some). The conflicting proposal is another block or
 * an older value with a real polka as POL round; the conflicting vote is
 * for the value of its conflicting proposal, nil, or a value some other
 * validator voted for in that round: the values honest nodes can be led to
 * lock on and decide. */
static int byz_group(sim *S, int j, uint64_t h, uint32_t r, uint32_t type) {
  uint8_t buf[24], d[32];
  memcpy(buf, &S->seed, 8);
  memcpy(buf + 8, &h, 8);
  memcpy(buf + 16, &r, 4);
  buf[20] = (uint8_t)type;
  buf[21] = (uint8_t)j;
  buf[22] = buf[23] = 0;
  core_sha256(d, buf, sizeof buf);
  return d[0] % 5; /* 0-1 real, 2-3 conflicting, 4 nothing */
}

static void byz_vote(sim *S, node *n, const cons_vote *v) {
  if (!rchance(&S->R, 700)) {
    msg m = {.is_vote = 1, .v = *v};
    broadcast(S, n->id, &m);
    return;
  }
  cons_vote alt = *v;
  uint64_t pick = rbelow(&S->R, 3);
  int found = 0;
  if (pick == 0 && cons_proposer_index(n->e, v->round) == (size_t)n->id) {
    alt.has_hash = 1; /* the value of its own conflicting proposal */
    block_make(S, alt.block_hash, v->height, v->round, n->id, 1, S->sc.invalid_byz_pm);
    found = 1;
  } else if (pick == 1) {
    for (size_t k = 0; k < cons_validator_count(n->e) && !found; k++) {
      cons_vote o;
      if (k == (size_t)n->id || cons_get_vote(n->e, v->height, v->round, VOTE_PREVOTE, k, &o))
        continue;
      if (o.has_hash && (!v->has_hash || memcmp(o.block_hash, v->block_hash, 32))) {
        alt.has_hash = 1;
        memcpy(alt.block_hash, o.block_hash, 32);
        found = 1;
      }
    }
  }
  if (!found) {
    if (v->has_hash) {
      alt.has_hash = 0;
      memset(alt.block_hash, 0, 32);
    } else {
      alt.has_hash = 1;
      block_make(S, alt.block_hash, v->height, v->round, n->id, 2, S->sc.invalid_byz_pm);
    }
  }
  if (cons_vote_equal(&alt, v)) alt.block_hash[0] ^= 1;
  uint8_t sb[VOTE_SIGN_BYTES_MAX];
  fake_sig(alt.signature, n->id, sb, cons_vote_sign_bytes(sb, CHAIN, &alt));
  for (int j = 0; j < S->sc.n; j++) {
    int g = byz_group(S, j, v->height, v->round, v->type);
    if (g == 4) continue;
    msg m = {.is_vote = 1, .v = g < 2 ? *v : alt};
    send_msg(S, n->id, j, &m);
  }
}

static void byz_proposal(sim *S, node *n, const cons_proposal *p) {
  if (!rchance(&S->R, 600)) {
    msg m = {.is_vote = 0, .p = *p};
    broadcast(S, n->id, &m);
    return;
  }
  cons_proposal alt = *p;
  alt.pol_round = -1;
  block_make(S, alt.block_hash, p->height, p->round, n->id, 1, S->sc.invalid_byz_pm);
  /* Or an older value with a real polka as its POL round: the case the
   * lock-round condition of line 29 is there for. */
  for (uint32_t rr = p->round; rr-- > 0 && rchance(&S->R, 600);) {
    int has;
    uint8_t qh[32];
    if (cons_quorum_value(n->e, p->height, rr, VOTE_PREVOTE, &has, qh) && has &&
        memcmp(qh, p->block_hash, 32)) {
      memcpy(alt.block_hash, qh, 32);
      alt.pol_round = rr;
      break;
    }
  }
  uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
  fake_sig(alt.signature, n->id, sb, cons_proposal_sign_bytes(sb, CHAIN, &alt));
  for (int j = 0; j < S->sc.n; j++) {
    int g = byz_group(S, j, p->height, p->round, 0);
    if (g == 4) continue;
    msg m = {.is_vote = 0, .p = g < 2 ? *p : alt};
    send_msg(S, n->id, j, &m);
  }
}

static void byz_scripted(sim *S, node *n, int is_vote, const cons_action *a) {
  for (int j = 0; j < S->sc.n; j++) {
    if (j == n->id) continue;
    msg m = {.is_vote = is_vote};
    if (is_vote) m.v = a->vote;
    else m.p = a->proposal;
    if (S->sc.byz_out(S, j, &m)) continue;
    uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
    if (is_vote) fake_sig(m.v.signature, n->id, sb, cons_vote_sign_bytes(sb, CHAIN, &m.v));
    else fake_sig(m.p.signature, n->id, sb, cons_proposal_sign_bytes(sb, CHAIN, &m.p));
    send_msg(S, n->id, j, &m);
  }
}

static void on_commit(sim *S, node *n, const cons_action *a) {
  uint64_t h = a->height;
  if (h != n->height) fail(S, "node %d committed height %" PRIu64 " while at %" PRIu64, n->id, h,
                           n->height);
  if (!n->byz) {
    if (a->block_status == CONS_BLOCK_INVALID)
      fail(S, "node %d: +2/3 committed a block it judged invalid at height %" PRIu64, n->id, h);
    const block_rec *b = block_find(S, a->block_hash);
    if (!b) fail(S, "node %d committed a block nobody built at height %" PRIu64, n->id, h);
    else if (!b->valid) fail(S, "validity: node %d committed an invalid block at height %" PRIu64,
                             n->id, h);
    if (h <= MAXH) {
      if (S->have_global[h] && memcmp(S->global[h], a->block_hash, 32))
        fail(S, "agreement: node %d committed another block at height %" PRIu64, n->id, h);
      S->have_global[h] = 1;
      memcpy(S->global[h], a->block_hash, 32);
    }
    if (a->block_status == CONS_BLOCK_MISSING) S->missing_commits++;
    S->commits++;
    S->sum_rounds += a->round;
    if (a->round == 0) S->round0_commits++;
    if (a->round > S->max_round) S->max_round = a->round;
  }
  if (h <= MAXH) {
    n->commit_time[h] = S->now;
    n->commit_round[h] = a->round;
    decided *d = &n->dec[h];
    d->have = 1;
    d->round = a->round;
    d->npc = 0;
    for (size_t i = 0; i < a->commit->n_sigs && i < MAXN; i++) {
      cons_vote *v = &d->pc[d->npc++];
      memset(v, 0, sizeof *v);
      v->type = VOTE_PRECOMMIT;
      v->height = h;
      v->round = a->round;
      v->has_hash = 1;
      memcpy(v->block_hash, a->block_hash, 32);
      memcpy(v->validator, a->commit->sigs[i]->validator.data, 32);
      memcpy(v->signature, a->commit->sigs[i]->signature.data, 64);
    }
    d->has_prop = cons_get_proposal(n->e, h, a->round, &d->prop) == 0 &&
                  !memcmp(d->prop.block_hash, a->block_hash, 32);
  }
  TRACE(S, "node %d commits height %" PRIu64 " in round %u (%s)", n->id, h, a->round,
        a->block_status == CONS_BLOCK_VALID ? "valid" : a->block_status == CONS_BLOCK_MISSING
                                                            ? "block missing: fetched"
                                                            : "INVALID");
  /* Store, then close the WAL of the height (END_HEIGHT, rotate). */
  cons_wal_rec w = {.kind = CONS_WAL_END_HEIGHT};
  w.u.end_height = h;
  wal_append(S, n, &w, 1);
  n->wal.len = 0;
  n->synced = 0;
  n->height = h + 1;
  n->waiting_start = 1;
  uint64_t delay = S->sc.late_start[n->id];
  if (n->height > (uint64_t)S->sc.heights + 1) return;
  event e = {.kind = EV_START, .node = n->id, .t = S->now + delay, .h = n->height};
  ev_push(S, &e);
}

static void pump(sim *S, node *n) {
  cons_action a;
  while (n->up && !S->failed && cons_next_action(n->e, &a)) {
    int id = n->id;
    switch (a.kind) {
      case CONS_ACT_WAL_WRITE: wal_append(S, n, &a.wal, a.wal_sync); break;
      case CONS_ACT_PROPOSE: propose(S, n, &a); break;
      case CONS_ACT_SIGN_VOTE: sign_and_feed_vote(S, n, &a); break;
      case CONS_ACT_VALIDATE: {
        event e = {.kind = EV_VALIDATED, .node = id, .h = a.height};
        memcpy(e.hash, a.block_hash, 32);
        e.t = S->now + rbelow(&S->R, 30);
        ev_push(S, &e);
        break;
      }
      case CONS_ACT_BROADCAST_PROPOSAL:
        if (n->byz && S->sc.byz_out) byz_scripted(S, n, 0, &a);
        else if (n->byz) byz_proposal(S, n, &a.proposal);
        else {
          msg m = {.is_vote = 0, .p = a.proposal};
          broadcast(S, id, &m);
        }
        break;
      case CONS_ACT_BROADCAST_VOTE:
        if (n->byz && S->sc.byz_out) byz_scripted(S, n, 1, &a);
        else if (n->byz) byz_vote(S, n, &a.vote);
        else {
          msg m = {.is_vote = 1, .v = a.vote};
          broadcast(S, id, &m);
        }
        break;
      case CONS_ACT_COMMIT: on_commit(S, n, &a); break;
      case CONS_ACT_EVIDENCE: {
        int who = -1;
        for (int j = 0; j < S->sc.n; j++)
          if (!memcmp(S->nd[j].key, a.vote.validator, 32)) who = j;
        if (who < 0 || !S->nd[who].byz)
          fail(S, "node %d reported evidence against honest validator %d", id, who);
        if (cons_vote_equal(&a.vote, &a.vote_b) || a.vote.type != a.vote_b.type ||
            a.vote.round != a.vote_b.round || a.vote.height != a.vote_b.height ||
            memcmp(a.vote.validator, a.vote_b.validator, 32))
          fail(S, "node %d: evidence is not a conflicting pair", id);
        S->evidence++;
        break;
      }
    }
    cons_action_free(&a);
  }
  if (n->up && cons_failed(n->e)) fail(S, "node %d: engine error %d", n->id, cons_failed(n->e));
  arm_timer(S, n);
}

static void crash(sim *S, node *n, int mode, int exact) {
  if (!n->up) return;
  n->c_h = n->height;
  n->c_r = cons_round(n->e);
  n->c_step = cons_get_step(n->e);
  n->c_lock = cons_locked(n->e, n->c_lock_hash);
  n->c_valid = cons_valid(n->e, n->c_valid_hash);
  n->crash_mode = n->waiting_start || !exact ? 0 : mode; /* what the restart compares */
  cons_del(n->e);
  n->e = NULL;
  n->up = 0;
  if (mode == CRASH_POWER) {
    n->wal.len = n->synced;
    if (rchance(&S->R, 700)) { /* a torn partial record at the end */
      uint8_t junk[12] = {0, 0, 0, 99, 1, 2, 3, 4, 0x0a, 0x02, 0x08};
      size_t k = 1 + rbelow(&S->R, sizeof junk - 1);
      if (core_buf_append(&n->wal, junk, k)) fail(S, "out of memory");
    }
  }
  S->crashes++;
  TRACE(S, "node %d crashes (%s) at height %" PRIu64 " round %u step %s", n->id,
        mode == CRASH_KILL ? "kill" : "power loss", n->c_h, n->c_r, cons_step_name(n->c_step));
}

static void restart(sim *S, node *n) {
  if (n->up) return;
  n->e = cons_new(&S->sc.cfg, CHAIN, n->key);
  if (!n->e) {
    fail(S, "out of memory");
    return;
  }
  cons_set_check_invariants(n->e, 1);
  n->up = 1;
  n->timer_gen++;
  S->restarts++;
  uint64_t now = local_now(S, n->id);
  if (cons_start_height(n->e, n->height, &S->prio[n->height], now))
    fail(S, "node %d: restart at height %" PRIu64 " failed", n->id, n->height);
  n->waiting_start = 0;
  if (!S->sc.empty_blocks)
    cons_on_txs_available(n->e, S->sc.txs_everywhere || is_round0_proposer(S, n), now);
  cons_replay_begin(n->e);
  size_t off = 0;
  int k = 0;
  for (;;) {
    cons_wal_rec r;
    core_errbuf eb;
    int d = cons_wal_decode(n->wal.data, n->wal.len, &off, &r, &eb);
    if (d == CONS_WAL_RECORD) {
      cons_replay_record(n->e, &r, now);
      k++;
      continue;
    }
    if (d == CONS_WAL_TORN) {
      n->wal.len = off; /* truncate the torn tail */
      S->torn++;
    } else if (d != CONS_WAL_END) {
      fail(S, "node %d: WAL replay: %s", n->id, eb.msg);
    }
    break;
  }
  n->synced = n->wal.len;
  cons_replay_end(n->e, now);
  if (n->crash_mode == CRASH_KILL && n->c_h == n->height) {
    uint8_t lh[32], vh[32];
    int64_t l = cons_locked(n->e, lh), v = cons_valid(n->e, vh);
    if (cons_round(n->e) != n->c_r || cons_get_step(n->e) != n->c_step || l != n->c_lock ||
        v != n->c_valid || (l >= 0 && memcmp(lh, n->c_lock_hash, 32)) ||
        (v >= 0 && memcmp(vh, n->c_valid_hash, 32)))
      fail(S, "recovery: node %d resumed at round %u step %s lock %lld valid %lld, crashed at "
           "round %u step %s lock %lld valid %lld", n->id, cons_round(n->e),
           cons_step_name(cons_get_step(n->e)), (long long)l, (long long)v, n->c_r,
           cons_step_name(n->c_step), (long long)n->c_lock, (long long)n->c_valid);
  }
  if (n->sg.any && n->sg.h == n->height && n->sg.pc_round >= 0 &&
      cons_locked(n->e, NULL) < n->sg.pc_round)
    fail(S, "recovery: node %d signed a precommit for a block in round %lld but resumed with "
         "lock round %lld", n->id, (long long)n->sg.pc_round, (long long)cons_locked(n->e, NULL));
  TRACE(S, "node %d restarts: %d WAL records, round %u step %s lock %lld", n->id, k,
        cons_round(n->e), cons_step_name(cons_get_step(n->e)), (long long)cons_locked(n->e, NULL));
  pump(S, n);
}

/* ---- gossip ---- */

static void gossip_round(sim *S, node *a, node *b, uint32_t rr, int *budget) {
  uint64_t h = a->height;
  cons_proposal p, q;
  if (*budget > 0 && cons_get_proposal(a->e, h, rr, &p) == 0 &&
      cons_get_proposal(b->e, h, rr, &q) != 0) {
    msg m = {.is_vote = 0, .p = p};
    send_msg(S, a->id, b->id, &m);
    (*budget)--;
  }
  for (uint32_t type = VOTE_PREVOTE; type <= VOTE_PRECOMMIT; type++) {
    uint8_t ba[MAXN / 8 + 1], bb[MAXN / 8 + 1];
    if (!cons_vote_bitmap(a->e, h, rr, type, ba, sizeof ba)) continue;
    cons_vote_bitmap(b->e, h, rr, type, bb, sizeof bb);
    for (int v = 0; v < S->sc.n && *budget > 0; v++) {
      if (!(ba[v / 8] >> (v % 8) & 1) || (bb[v / 8] >> (v % 8) & 1)) continue;
      msg m = {.is_vote = 1};
      if (cons_get_vote(a->e, h, rr, type, (size_t)v, &m.v)) continue;
      send_msg(S, a->id, b->id, &m);
      (*budget)--;
    }
    /* The value with a quorum here (CometBFT's Maj23 + per-block bits): the
     * votes for it the peer lacks, even where the peer holds another vote of
     * the same (equivocating) validator. */
    int has;
    uint8_t qh[32];
    if (!cons_quorum_value(a->e, h, rr, type, &has, qh)) continue;
    cons_vote_bitmap_for(a->e, h, rr, type, has, qh, ba, sizeof ba);
    cons_vote_bitmap_for(b->e, h, rr, type, has, qh, bb, sizeof bb);
    for (int v = 0; v < S->sc.n && *budget > 0; v++) {
      if (!(ba[v / 8] >> (v % 8) & 1) || (bb[v / 8] >> (v % 8) & 1)) continue;
      msg m = {.is_vote = 1};
      if (cons_get_vote_for(a->e, h, rr, type, (size_t)v, has, qh, &m.v)) continue;
      send_msg(S, a->id, b->id, &m);
      (*budget)--;
    }
  }
}

static void gossip(sim *S, node *a) {
  if (a->byz && S->sc.byz_out) return;
  for (int j = 0; j < S->sc.n; j++) {
    node *b = &S->nd[j];
    if (j == a->id || !b->up || !link_up(S, a->id, j)) continue;
    int budget = 2 * S->sc.n + 4;
    if (b->height < a->height) {
      const decided *d = b->height <= MAXH ? &a->dec[b->height] : NULL;
      if (!d || !d->have) continue;
      cons_vote tmp;
      for (int k = 0; k < d->npc && budget > 0; k++) {
        int idx = cons_validator_index(b->e, d->pc[k].validator);
        if (idx >= 0 && cons_get_vote_for(b->e, b->height, d->round, VOTE_PRECOMMIT,
                                          (size_t)idx, 1, d->pc[k].block_hash, &tmp) == 0)
          continue;
        msg m = {.is_vote = 1, .v = d->pc[k]};
        send_msg(S, a->id, j, &m);
        budget--;
      }
      cons_proposal p;
      if (d->has_prop && cons_get_proposal(b->e, b->height, d->round, &p) != 0) {
        msg m = {.is_vote = 0, .p = d->prop};
        send_msg(S, a->id, j, &m);
      }
      continue;
    }
    if (b->height != a->height || a->waiting_start) continue;
    uint32_t rb = cons_round(b->e);
    uint32_t rounds[64];
    size_t nr = cons_stored_rounds(a->e, rounds, 64);
    if (nr > 64) nr = 64;
    /* b's round first, then higher rounds (so b can skip ahead), then the POL
     * round of b's proposal, then the rest. */
    gossip_round(S, a, b, rb, &budget);
    for (size_t k = nr; k-- > 0;)
      if (rounds[k] > rb) gossip_round(S, a, b, rounds[k], &budget);
    cons_proposal bp;
    if (cons_get_proposal(b->e, b->height, rb, &bp) == 0 && bp.pol_round >= 0)
      gossip_round(S, a, b, (uint32_t)bp.pol_round, &budget);
    for (size_t k = 0; k < nr; k++)
      if (rounds[k] < rb) gossip_round(S, a, b, rounds[k], &budget);
  }
}

/* ---- the run ---- */

static void deliver(sim *S, const event *e) {
  node *n = &S->nd[e->node];
  if (!n->up) return;
  uint64_t now = local_now(S, n->id);
  int rc = e->m.is_vote ? cons_on_vote(n->e, &e->m.v, now) : cons_on_proposal(n->e, &e->m.p, now);
  if (S->verbose > 1)
    TRACE(S, "node %d <- %d %s h%" PRIu64 " r%u t%u %s: %d", n->id, e->from,
          e->m.is_vote ? "vote" : "proposal", e->m.is_vote ? e->m.v.height : e->m.p.height,
          e->m.is_vote ? e->m.v.round : e->m.p.round, e->m.is_vote ? e->m.v.type : 0,
          e->m.is_vote ? (e->m.v.has_hash ? "B" : "nil") : "", rc);
  if (rc < 0) fail(S, "node %d refused a %s from node %d: %d", n->id,
                   e->m.is_vote ? "vote" : "proposal", e->from, rc);
  pump(S, n);
}

static int all_done(const sim *S) {
  for (int i = 0; i < S->sc.n; i++) {
    const node *n = &S->nd[i];
    if (n->byz) continue;
    if (n->height <= (uint64_t)S->sc.heights) return 0;
  }
  return 1;
}

static uint64_t last_fault_time(const scenario *sc) {
  uint64_t t = sc->gst;
  if (sc->part && sc->part_to > t) t = sc->part_to;
  for (int i = 0; i < sc->ncrash; i++)
    if (sc->crash[i].restart_at > t) t = sc->crash[i].restart_at;
  return t;
}

static void check_liveness(sim *S) {
  uint64_t calm = S->calm;
  for (int i = 0; i < S->sc.n && !S->failed; i++) {
    const node *n = &S->nd[i];
    if (n->byz) continue;
    if (n->height <= (uint64_t)S->sc.heights) {
      fail(S, "liveness: node %d stuck at height %" PRIu64 " (round %u step %s) at %" PRIu64
           " ms, calm since %" PRIu64, i, n->height, n->e ? cons_round(n->e) : 0,
           n->e ? cons_step_name(cons_get_step(n->e)) : "down", S->now, calm);
      return;
    }
    uint64_t prev = calm;
    for (int h = 1; h <= S->sc.heights; h++) {
      if (n->commit_time[h] < calm) continue;
      if (n->commit_time[h] - prev > LIVENESS_MS) {
        fail(S, "liveness: node %d took %" PRIu64 " ms for height %d after the network calmed",
             i, n->commit_time[h] - prev, h);
        return;
      }
      prev = n->commit_time[h];
    }
  }
}

static void sim_init(sim *S, const scenario *sc, uint64_t seed) {
  memset(S, 0, sizeof *S);
  S->sc = *sc;
  S->seed = seed;
  S->R.s = seed * 0x2545F4914F6CDD1Dull + 1;
  Cohort__ValidatorSet vs = COHORT__VALIDATOR_SET__INIT;
  Cohort__Validator v[MAXN], *pv[MAXN];
  for (int i = 0; i < sc->n; i++) {
    node *n = &S->nd[i];
    n->id = i;
    n->byz = i == sc->byz;
    uint8_t seedb[9] = {'v', 'a', 'l'};
    seedb[3] = (uint8_t)i;
    memcpy(seedb + 4, &seed, 4);
    core_sha256(n->key, seedb, sizeof seedb);
    n->height = 1;
    n->sg.pc_round = -1;
    cohort__validator__init(&v[i]);
    v[i].pubkey = (ProtobufCBinaryData){32, n->key};
    v[i].power = sc->power[i];
    pv[i] = &v[i];
  }
  vs.n_validators = (size_t)sc->n;
  vs.validators = pv;
  if (cons_prio_genesis(&S->prio[1], &vs)) fail(S, "bad validator set");
  for (int h = 2; h <= MAXH + 2; h++) {
    S->prio[h] = S->prio[h - 1];
    cons_prio_next_height(&S->prio[h]);
  }
}

static void sim_free(sim *S) {
  for (int i = 0; i < S->sc.n; i++) {
    cons_del(S->nd[i].e);
    free(S->nd[i].wal.data);
  }
  free(S->heap);
  free(S->blocks);
}

/* Run one scenario; returns 0 if every check held. */
static int sim_run(sim *S) {
  const scenario *sc = &S->sc;
  for (int i = 0; i < sc->n; i++) {
    node *n = &S->nd[i];
    n->e = cons_new(&sc->cfg, CHAIN, n->key);
    if (!n->e) {
      fail(S, "out of memory");
      return 1;
    }
    cons_set_check_invariants(n->e, 1);
    n->up = 1;
    n->waiting_start = 1;
    event e = {.kind = EV_START, .node = i, .t = sc->late_start[i], .h = 1};
    ev_push(S, &e);
    if (sc->gossip) {
      event g = {.kind = EV_GOSSIP, .node = i, .t = 1 + rbelow(&S->R, sc->gossip_ms)};
      ev_push(S, &g);
    }
  }
  for (int k = 0; k < sc->ncrash; k++) {
    event c = {.kind = EV_CRASH, .node = sc->crash[k].node, .t = sc->crash[k].at,
               .aux = sc->crash[k].mode};
    event r = {.kind = EV_RESTART, .node = sc->crash[k].node, .t = sc->crash[k].restart_at};
    ev_push(S, &c);
    ev_push(S, &r);
  }
  S->calm = sc->calm_by_hook ? UINT64_MAX / 4 : last_fault_time(sc);
  while (S->nheap && !S->failed) {
    event e = ev_pop(S);
    if (e.t > S->calm + (uint64_t)(sc->heights + 1) * LIVENESS_MS) break;
    S->now = e.t;
    S->events++;
    node *n = &S->nd[e.node];
    switch (e.kind) {
      case EV_DELIVER: deliver(S, &e); break;
      case EV_TIMER:
        if (n->up && e.gen == n->timer_gen) {
          cons_on_tick(n->e, local_now(S, n->id));
          pump(S, n);
        }
        break;
      case EV_VALIDATED:
        if (n->up && n->height == e.h) {
          const block_rec *b = block_find(S, e.hash);
          int rc = cons_on_proposal_valid(n->e, e.h, e.hash, b && b->valid, local_now(S, n->id));
          if (rc < 0 && rc != COHORT_ERR_NOT_FOUND) fail(S, "node %d: verdict refused", n->id);
          pump(S, n);
        }
        break;
      case EV_GOSSIP:
        if (n->up) gossip(S, n);
        e.t = S->now + sc->gossip_ms;
        ev_push(S, &e);
        break;
      case EV_CRASH: crash(S, n, e.aux, 1); break;
      case EV_RESTART: restart(S, n); break;
      case EV_START:
        if (n->up && n->waiting_start && n->height == e.h) start_height(S, n);
        break;
    }
    if (sc->hook) sc->hook(S);
    if (all_done(S)) break;
  }
  if (!S->failed) check_liveness(S);
  if (S->failed && S->verbose) { /* the state of every engine, for the post-mortem */
    for (int i = 0; i < sc->n; i++) {
      node *n = &S->nd[i];
      if (!n->up) continue;
      uint32_t rounds[64];
      size_t nr = cons_stored_rounds(n->e, rounds, 64);
      printf("node %d: height %" PRIu64 " round %u step %s lock %lld valid %lld:", i, n->height,
             cons_round(n->e), cons_step_name(cons_get_step(n->e)),
             (long long)cons_locked(n->e, NULL), (long long)cons_valid(n->e, NULL));
      for (size_t k = 0; k < nr && k < 64; k++) {
        uint8_t b1[1], b2[1];
        cons_proposal p;
        size_t c1 = cons_vote_bitmap(n->e, n->height, rounds[k], 1, b1, 1);
        size_t c2 = cons_vote_bitmap(n->e, n->height, rounds[k], 2, b2, 1);
        printf(" r%u[prop %d pv %zu/%02x pc %zu/%02x]", rounds[k],
               cons_get_proposal(n->e, n->height, rounds[k], &p) == 0, c1, b1[0], c2, b2[0]);
      }
      printf("\n");
    }
  }
  return S->failed;
}

/* ---- scenarios ---- */

static cons_config sim_cfg(void) {
  cons_config c = {.block_interval_ms = 100, .empty_block_interval_ms = 100,
                   .timeout_propose_ms = 1000, .timeout_propose_delta_ms = 200,
                   .timeout_vote_ms = 300, .timeout_vote_delta_ms = 100};
  return c;
}

static void base_scenario(scenario *sc, const char *name, int n) {
  memset(sc, 0, sizeof *sc);
  sc->name = name;
  sc->n = n;
  for (int i = 0; i < n; i++) {
    sc->power[i] = 10;
    sc->clock_rate[i] = 1000;
  }
  sc->byz = -1;
  sc->base_delay = 20;
  sc->empty_blocks = 1;
  sc->gossip = 1;
  sc->gossip_ms = 100;
  sc->heights = 6;
  sc->cfg = sim_cfg();
}

static uint64_t total_power(const scenario *sc) {
  uint64_t t = 0;
  for (int i = 0; i < sc->n; i++) t += sc->power[i];
  return t;
}

/* A random scenario from the seed. */
static void random_scenario(scenario *sc, uint64_t seed) {
  rng r = {seed ^ 0xC0FFEE1234567ull};
  int n = 4 + (int)rbelow(&r, 4);
  base_scenario(sc, "random", n);
  if (rchance(&r, 500))
    for (int i = 0; i < n; i++) sc->power[i] = 1 + rbelow(&r, 10);
  uint64_t total = total_power(sc);
  /* A byzantine validator with power < 1/3 (half the runs). */
  if (rchance(&r, 500)) {
    int b = (int)rbelow(&r, (uint64_t)n);
    if (sc->power[b] * 3 < total) sc->byz = b;
  }
  sc->base_delay = 1 + rbelow(&r, 20);
  sc->jitter = rbelow(&r, 120);
  sc->drop_pm = (uint32_t)rbelow(&r, 300);
  sc->dup_pm = (uint32_t)rbelow(&r, 100);
  sc->gst = 1000 + rbelow(&r, 7000);
  sc->gossip_ms = 50 + rbelow(&r, 100);
  sc->heights = 4 + (int)rbelow(&r, 4);
  sc->invalid_honest_pm = rchance(&r, 300) ? 100 : 0;
  sc->invalid_byz_pm = 500;
  for (int i = 0; i < n; i++) {
    sc->clock_off[i] = rbelow(&r, 1000);
    sc->clock_rate[i] = 900 + (uint32_t)rbelow(&r, 201);
    if (rchance(&r, 150)) sc->late_start[i] = rbelow(&r, 500);
  }
  if (rchance(&r, 300)) {
    sc->part = 1;
    sc->part_from = rbelow(&r, sc->gst);
    sc->part_to = sc->part_from + rbelow(&r, sc->gst - sc->part_from + 1);
    for (int i = 0; i < n; i++) sc->group[i] = (uint8_t)rbelow(&r, 2);
  }
  if (rchance(&r, 400)) {
    int k = 1 + (int)rbelow(&r, 2);
    for (int c = 0; c < k; c++) {
      int who = (int)rbelow(&r, (uint64_t)n);
      if (who == sc->byz) continue;
      int dup = 0;
      for (int d = 0; d < sc->ncrash; d++) dup |= sc->crash[d].node == who;
      if (dup) continue;
      int i = sc->ncrash++;
      sc->crash[i].node = who;
      sc->crash[i].mode = rchance(&r, 500) ? CRASH_KILL : CRASH_POWER;
      sc->crash[i].at = rbelow(&r, sc->gst);
      sc->crash[i].restart_at = sc->crash[i].at + 100 + rbelow(&r, 2000);
    }
  }
  if (rchance(&r, 200)) sc->crash_after_sign_pm = 20;
  if (rchance(&r, 500)) {
    /* Harsh: timeouts shorter than the delays, slow gossip, many drops, a
     * byzantine whenever the powers allow: views diverge within rounds,
     * which is where the locking rules matter. */
    sc->name = "random";
    sc->cfg.timeout_propose_ms = 150 + rbelow(&r, 250);
    sc->cfg.timeout_propose_delta_ms = 50;
    sc->cfg.timeout_vote_ms = 40 + rbelow(&r, 110);
    sc->cfg.timeout_vote_delta_ms = 20;
    sc->base_delay = 1 + rbelow(&r, 50);
    sc->jitter = rbelow(&r, 300);
    sc->gossip_ms = 150 + rbelow(&r, 350);
    sc->drop_pm = (uint32_t)rbelow(&r, 400);
    sc->slow_pm = (uint32_t)rbelow(&r, 400);
    /* The byzantine gets as much power as it can while staying below 1/3. */
    int b = (int)rbelow(&r, (uint64_t)n);
    uint64_t others = total - sc->power[b];
    sc->power[b] = (others - 1) / 2;
    if (sc->power[b] == 0) sc->power[b] = 1;
    if (sc->power[b] * 3 < others + sc->power[b]) sc->byz = b;
  }
  if (rchance(&r, 150)) {
    sc->cfg.empty_block_interval_ms = 0;
    sc->empty_blocks = 0;
    sc->txs_everywhere = 1;
  }
}

/* (1) Two of four start each height 300 ms late, messages take 20 ms. */
static void sched_late_start(scenario *sc, int gossip) {
  base_scenario(sc, gossip ? "late_start" : "late_start (no gossip)", 4);
  sc->late_start[2] = sc->late_start[3] = 300;
  sc->gossip = gossip;
  sc->heights = 10;
}

/* (2) Empty blocks off; only the proposer has a transaction. */
static void sched_empty_blocks_off(scenario *sc) {
  base_scenario(sc, "empty_blocks_off", 4);
  sc->empty_blocks = 0;
  sc->cfg.empty_block_interval_ms = 0;
  sc->jitter = 10;
  sc->heights = 10;
}

/* (3) Two of four lock B1 in round 0 on a prevote quorum only they saw. */
static int split_a, split_b, split_c, split_d;

static uint32_t min_round(const sim *S) {
  uint32_t m = UINT32_MAX;
  for (int i = 0; i < S->sc.n; i++)
    if (S->nd[i].up && S->nd[i].height == 1 && cons_round(S->nd[i].e) < m)
      m = cons_round(S->nd[i].e);
  return m;
}

static int split_filter(sim *S, int from, int to, const msg *m) {
  (void)from;
  if (S->split_lifted) return 0;
  if (to != split_c && to != split_d) return 0;
  if (m->is_vote) {
    /* B's round-0 prevote reaches only A and B: the polka stays theirs. */
    return m->v.height == 1 && m->v.round == 0 && m->v.type == VOTE_PREVOTE &&
           !memcmp(m->v.validator, S->nd[split_b].key, 32);
  }
  /* D never gets the round-0 proposal, so it prevotes nil in round 0. */
  return to == split_d && m->p.height == 1 && m->p.round == 0;
}

static void split_hook(sim *S) {
  if (!S->split_lifted && min_round(S) != UINT32_MAX && min_round(S) >= 65) {
    S->split_lifted = 1;
    S->calm = S->now;
    TRACE(S, "split_lock: every node is past round 64; the filter lifts");
  }
}

static void sched_split_lock(scenario *sc) {
  base_scenario(sc, "split_lock", 4);
  sc->filter = split_filter;
  sc->hook = split_hook;
  sc->calm_by_hook = 1;
  sc->heights = 2;
  sc->cfg.timeout_propose_ms = 500;
  sc->cfg.timeout_propose_delta_ms = 50;
  sc->cfg.timeout_vote_ms = 200;
  sc->cfg.timeout_vote_delta_ms = 20;
}

/* The attack the lock exists for (n = 4, f = 1): in round 0, A and B see a
 * polka for A's block V1 that C does not (C misses the proposal and the
 * byzantine D's prevote) and lock it; D's precommit for V1 reaches only A,
 * so A alone decides V1 (D is kept from A's precommit so that it stays to
 * attack). In round 1, C (unlocked, no valid value)
 * proposes a fresh V2 and D prevotes and precommits V2. A correct B
 * prevotes nil (locked on V1): no polka for V2, and once the filter lifts
 * everyone decides V1 from A's commit. An engine that ignored its lock
 * would let B, C and D decide V2: an agreement failure. */
static int la_a, la_b, la_c, la_d;

/* Over once B and C have each decided or reached round 2. */
static int lock_attack_over(const sim *S) {
  for (int k = 0; k < 2; k++) {
    const node *n = &S->nd[k ? la_c : la_b];
    if (n->up && n->height == 1 && cons_round(n->e) < 2) return 0;
  }
  return 1;
}

static int lock_filter(sim *S, int from, int to, const msg *m) {
  (void)from;
  uint32_t rc = S->nd[la_c].up && S->nd[la_c].height == 1 ? cons_round(S->nd[la_c].e) : 9;
  if (!m->is_vote)
    return to == la_c && m->p.height == 1 && m->p.round == 0 && rc == 0;
  if (m->v.height != 1 || m->v.round != 0 || lock_attack_over(S)) return 0;
  int by_d = !memcmp(m->v.validator, S->nd[la_d].key, 32);
  if (m->v.type == VOTE_PREVOTE) return by_d && to == la_c && rc == 0;
  /* D's precommit for V1 reaches only A; A's never reaches D (so that D
   * does not decide and stays to attack). */
  if (by_d) return to == la_b || to == la_c;
  return to == la_d && !memcmp(m->v.validator, S->nd[la_a].key, 32);
}

static int lock_byz(sim *S, int to, msg *m) {
  (void)to;
  if (!m->is_vote || m->v.height != 1 || m->v.round != 1) return 0;
  cons_proposal p; /* round 1: vote for C's fresh block */
  if (cons_get_proposal(S->nd[la_d].e, 1, 1, &p) != 0) return 0;
  m->v.has_hash = 1;
  memcpy(m->v.block_hash, p.block_hash, 32);
  return 0;
}

static void sched_lock_attack(scenario *sc) {
  base_scenario(sc, "lock_attack", 4);
  sc->filter = lock_filter;
  sc->byz_out = lock_byz;
  sc->heights = 3;
}

/* The attack the lock-round condition of line 29 exists for (n = 4, f = 1;
 * P_r = proposer(1, r); D = P3 is byzantine, A = P2, B = P0, C = P1):
 *   round 0: the proposal reaches nobody: nil everywhere;
 *   round 1: C proposes V0; B misses it; A and C prevote V0 and D secretly
 *            too (it shows nil to everyone): a polka for V0 nobody sees;
 *   round 2: A proposes V1; C misses it; A, B and D prevote V1 (D shows nil
 *            to C): A and B lock V1 in round 2; D's precommit reaches only
 *            A, so A decides V1;
 *   round 3: D proposes V0 with POL round 1 and now hands out its hidden
 *            round-1 prevote. C (unlocked) may prevote V0; B is locked on V1
 *            in round 2 > 1 and must prevote nil. If B did not, B, C and D
 *            would decide V0 after A decided V1. */
static int pa_a, pa_b, pa_c, pa_d;

static int pol_attack_over(const sim *S) {
  for (int k = 0; k < 2; k++) {
    const node *n = &S->nd[k ? pa_c : pa_b];
    if (n->up && n->height == 1 && cons_round(n->e) < 4) return 0;
  }
  return 1;
}

static int pol_filter(sim *S, int from, int to, const msg *m) {
  (void)from;
  if (pol_attack_over(S)) return 0;
  if (!m->is_vote) {
    if (m->p.height != 1) return 0;
    return m->p.round == 0 || (m->p.round == 1 && to == pa_b) ||
           (m->p.round == 2 && to == pa_c);
  }
  if (m->v.height != 1 || m->v.round != 2) return 0;
  int by_d = !memcmp(m->v.validator, S->nd[pa_d].key, 32);
  if (m->v.type == VOTE_PREVOTE) return by_d && m->v.has_hash && to == pa_c;
  if (by_d) return m->v.has_hash && (to == pa_b || to == pa_c);
  return to == pa_d && !memcmp(m->v.validator, S->nd[pa_a].key, 32);
}

static void set_value(cons_vote *v, const uint8_t *hash) {
  v->has_hash = hash != NULL;
  memset(v->block_hash, 0, 32);
  if (hash) memcpy(v->block_hash, hash, 32);
}

/* D's votes are scripted outright (its own engine, locked or not, does not
 * matter): the values come from the proposals D received. */
static int pol_byz(sim *S, int to, msg *m) {
  node *d = &S->nd[pa_d];
  if (pol_attack_over(S)) return 0;
  cons_proposal p1, p2;
  const uint8_t *v0 = cons_get_proposal(d->e, 1, 1, &p1) == 0 ? p1.block_hash : NULL;
  const uint8_t *v1 = cons_get_proposal(d->e, 1, 2, &p2) == 0 ? p2.block_hash : NULL;
  if (!m->is_vote) {
    if (m->p.height != 1 || m->p.round != 3 || !v0) return 0;
    memcpy(m->p.block_hash, v0, 32);
    m->p.pol_round = 1;
    if (to == pa_b || to == pa_c) { /* the round-1 prevote kept back until now */
      msg h = {.is_vote = 1};
      h.v.type = VOTE_PREVOTE;
      h.v.height = 1;
      h.v.round = 1;
      memcpy(h.v.validator, d->key, 32);
      set_value(&h.v, v0);
      uint8_t sb[VOTE_SIGN_BYTES_MAX];
      fake_sig(h.v.signature, pa_d, sb, cons_vote_sign_bytes(sb, CHAIN, &h.v));
      send_msg(S, pa_d, to, &h);
    }
    return 0;
  }
  if (m->v.height != 1) return 0;
  switch (m->v.round) {
    case 1: set_value(&m->v, NULL); break; /* shows nil */
    case 2:
      if (m->v.type == VOTE_PREVOTE) set_value(&m->v, to == pa_c ? NULL : v1);
      else set_value(&m->v, to == pa_a ? v1 : NULL);
      break;
    case 3: set_value(&m->v, v0); break;
    default: break;
  }
  return 0;
}

/* D does not wait for its own engine to reach round 3: as soon as B and C
 * are in round 3 it sends them its proposal, the hidden prevote and its
 * round-3 prevote (its engine's own broadcasts later are the same bytes). */
static int pa_sent;

static void pol_hook(sim *S) {
  if (pa_sent || pol_attack_over(S)) return;
  for (int k = 0; k < 2; k++) {
    const node *n = &S->nd[k ? pa_c : pa_b];
    if (!n->up || n->height != 1 || cons_round(n->e) != 3 || cons_get_step(n->e) != CONS_PROPOSE)
      return;
  }
  node *d = &S->nd[pa_d];
  cons_proposal p1;
  if (cons_get_proposal(d->e, 1, 1, &p1) != 0) return;
  pa_sent = 1;
  for (int k = 0; k < 2; k++) {
    int to = k ? pa_c : pa_b;
    msg pm = {.is_vote = 0};
    pm.p.height = 1;
    pm.p.round = 3;
    memcpy(pm.p.proposer, d->key, 32);
    pol_byz(S, to, &pm); /* rewrites to V0 / POL 1 and sends the hidden prevote */
    uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
    fake_sig(pm.p.signature, pa_d, sb, cons_proposal_sign_bytes(sb, CHAIN, &pm.p));
    send_msg(S, pa_d, to, &pm);
    msg vm = {.is_vote = 1};
    vm.v.type = VOTE_PREVOTE;
    vm.v.height = 1;
    vm.v.round = 3;
    memcpy(vm.v.validator, d->key, 32);
    pol_byz(S, to, &vm);
    fake_sig(vm.v.signature, pa_d, sb, cons_vote_sign_bytes(sb, CHAIN, &vm.v));
    send_msg(S, pa_d, to, &vm);
  }
}

static void sched_pol_attack(scenario *sc) {
  base_scenario(sc, "pol_attack", 4);
  sc->filter = pol_filter;
  sc->byz_out = pol_byz;
  sc->hook = pol_hook;
  sc->heights = 3;
}

/* Crash and restart validators in the middle of rounds, both ways. */
static void sched_crash_restart(scenario *sc) {
  base_scenario(sc, "crash_restart", 4);
  sc->jitter = 40;
  sc->drop_pm = 100;
  sc->gst = 6000;
  sc->heights = 8;
  sc->ncrash = 3;
  sc->crash[0].node = 1, sc->crash[0].mode = CRASH_KILL, sc->crash[0].at = 450,
  sc->crash[0].restart_at = 1500;
  sc->crash[1].node = 2, sc->crash[1].mode = CRASH_POWER, sc->crash[1].at = 2300,
  sc->crash[1].restart_at = 3100;
  sc->crash[2].node = 0, sc->crash[2].mode = CRASH_KILL, sc->crash[2].at = 4200,
  sc->crash[2].restart_at = 4900;
  sc->crash_after_sign_pm = 30;
}

/* ---- main ---- */

typedef struct {
  uint64_t runs, failures, events, commits, round0, sum_rounds, max_round, evidence, crashes,
      restarts, missing, torn, sim_ms;
} totals;

static void add(totals *t, const sim *S) {
  t->runs++;
  t->failures += S->failed;
  t->events += S->events;
  t->commits += S->commits;
  t->round0 += S->round0_commits;
  t->sum_rounds += S->sum_rounds;
  if (S->max_round > t->max_round) t->max_round = S->max_round;
  t->evidence += S->evidence;
  t->crashes += S->crashes;
  t->restarts += S->restarts;
  t->missing += S->missing_commits;
  t->torn += S->torn;
  t->sim_ms += S->now;
}

static int run_one(const scenario *sc, uint64_t seed, int verbose, totals *t, int quiet) {
  static sim S;
  sim_init(&S, sc, seed);
  S.verbose = verbose;
  if (sc->filter == lock_filter) {
    la_a = (int)cons_prio_proposer(&S.prio[1], 0);
    la_c = (int)cons_prio_proposer(&S.prio[1], 1);
    la_b = (la_a + 1) % 4 == la_c ? (la_a + 2) % 4 : (la_a + 1) % 4;
    la_d = 6 - la_a - la_b - la_c;
    S.sc.byz = la_d;
    S.nd[la_d].byz = 1;
  }
  if (sc->filter == pol_filter) {
    pa_sent = 0;
    pa_b = (int)cons_prio_proposer(&S.prio[1], 0);
    pa_c = (int)cons_prio_proposer(&S.prio[1], 1);
    pa_a = (int)cons_prio_proposer(&S.prio[1], 2);
    pa_d = (int)cons_prio_proposer(&S.prio[1], 3);
    S.sc.byz = pa_d;
    S.nd[pa_d].byz = 1;
  }
  if (sc->filter == split_filter) {
    split_a = (int)cons_prio_proposer(&S.prio[1], 0);
    split_b = (split_a + 1) % 4;
    split_c = (split_a + 2) % 4;
    split_d = (split_a + 3) % 4;
  }
  int rc = sim_run(&S);
  if (!rc && sc->filter == split_filter) {
    /* Height 1 must have needed rounds beyond 63 and decided the locked value. */
    if (S.nd[split_a].commit_round[1] < 64)
      rc = 1, fail(&S, "split_lock: height 1 decided in round %u, before the filter lifted",
                   S.nd[split_a].commit_round[1]);
    uint8_t b1[32];
    block_make(&S, b1, 1, 0, split_a, 0, 0);
    if (!rc && memcmp(S.global[1], b1, 32))
      rc = 1, fail(&S, "split_lock: height 1 did not decide the value locked in round 0");
  }
  /* The attacks must have happened as scripted, or they test nothing. */
  if (!rc && sc->filter == lock_filter && S.nd[la_a].commit_round[1] != 0)
    rc = 1, fail(&S, "lock_attack: A did not decide alone in round 0 (round %u)",
                 S.nd[la_a].commit_round[1]);
  if (!rc && sc->filter == pol_filter &&
      (S.nd[pa_a].commit_round[1] != 2 || S.nd[pa_a].commit_time[1] >= S.nd[pa_b].commit_time[1]))
    rc = 1, fail(&S, "pol_attack: A did not decide alone in round 2 (round %u)",
                 S.nd[pa_a].commit_round[1]);
  if (!rc && sc->late_start[2] == 300 && sc->late_start[3] == 300 && !strncmp(sc->name, "late", 4)) {
    /* promptly: every height in round 0, within a second of the late start */
    for (int h = 1; h <= sc->heights && !rc; h++)
      for (int i = 0; i < 4 && !rc; i++)
        if (S.nd[i].commit_round[h] != 0)
          rc = 1, fail(&S, "late_start: node %d decided height %d in round %u", i, h,
                       S.nd[i].commit_round[h]);
    if (!rc && S.nd[0].commit_time[sc->heights] > (uint64_t)sc->heights * 1000)
      rc = 1, fail(&S, "late_start: %d heights took %" PRIu64 " ms", sc->heights,
                   S.nd[0].commit_time[sc->heights]);
  }
  add(t, &S);
  if (rc)
    fprintf(stderr, "FAIL %s seed %" PRIu64 ": %s\n  reproduce: cons_sim --schedule %s --seed %"
            PRIu64 " --verbose\n", sc->name, seed, S.why,
            sc->name, seed);
  else if (verbose || (!quiet && strcmp(sc->name, "random")))
    printf("ok   %-26s seed %" PRIu64 ": %" PRIu64 " commits, max round %" PRIu64 ", %" PRIu64
           " ms simulated, %" PRIu64 " events, %" PRIu64 " evidence, %" PRIu64 " crashes\n",
           sc->name, seed, S.commits, S.max_round, S.now, S.events, S.evidence, S.crashes);
  sim_free(&S);
  return rc;
}

static void usage(void) {
  fprintf(stderr,
          "usage: cons_sim [--schedule NAME] [--seeds N] [--first S] [--seed S] [--verbose|--trace]\n"
          "  NAME: late_start, late_start_nogossip, empty_blocks_off, split_lock, lock_attack,\n"
          "        pol_attack, crash_restart, regressions (all of those), random\n"
          "  default: the regression schedules, then 200 random seeds (--seeds N);\n"
          "  --first S starts the random seeds at S; --seed S runs that one seed\n");
}

int main(int argc, char **argv) {
  const char *schedule = NULL;
  uint64_t seeds = 200, first = 1, one = 0;
  int have_one = 0, verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--schedule") && i + 1 < argc) schedule = argv[++i];
    else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--first") && i + 1 < argc) first = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      one = strtoull(argv[++i], NULL, 10);
      have_one = 1;
    } else if (!strcmp(argv[i], "--verbose")) verbose = 1;
    else if (!strcmp(argv[i], "--trace")) verbose = 2;
    else {
      usage();
      return 2;
    }
  }
  if (core_init()) return 1;
  totals t;
  memset(&t, 0, sizeof t);
  int bad = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0); /* wall clock for the figures only */
  scenario sc;
  int regress = !schedule || !strcmp(schedule, "regressions");
  if (regress || !strcmp(schedule, "late_start")) {
    sched_late_start(&sc, 1);
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "late_start_nogossip")) {
    sched_late_start(&sc, 0);
    sc.name = "late_start_nogossip";
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "empty_blocks_off")) {
    sched_empty_blocks_off(&sc);
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "split_lock")) {
    sched_split_lock(&sc);
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "lock_attack")) {
    sched_lock_attack(&sc);
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "pol_attack")) {
    sched_pol_attack(&sc);
    bad |= run_one(&sc, have_one ? one : 1, verbose, &t, 0);
  }
  if (regress || !strcmp(schedule, "crash_restart")) {
    int cbad = 0;
    for (uint64_t s = 1; s <= (have_one ? 1 : 20) && !cbad; s++) {
      sched_crash_restart(&sc);
      cbad = run_one(&sc, have_one ? one : s, verbose, &t, 1);
    }
    if (!cbad) printf("ok   crash_restart              %d seeds\n", have_one ? 1 : 20);
    bad |= cbad;
  }
  if ((!schedule && !have_one) || (schedule && !strcmp(schedule, "random"))) {
    uint64_t lo = have_one ? one : first, n = have_one ? 1 : seeds;
    uint64_t fails = 0;
    for (uint64_t s = lo; s < lo + n; s++) {
      random_scenario(&sc, s);
      int rc = run_one(&sc, s, verbose, &t, 0);
      fails += rc != 0;
      bad |= rc;
      if (fails >= 5) break;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%" PRIu64 " runs, %" PRIu64 " failed, %.1f runs/s; %" PRIu64 " commits (%.1f%% in "
         "round 0, mean round %.2f, max round %" PRIu64 "); %" PRIu64 " events, %.1f s "
         "simulated; %" PRIu64 " evidence, %" PRIu64 " crashes (%" PRIu64 " torn WAL tails), %"
         PRIu64 " commits with the block fetched\n",
         t.runs, t.failures, secs > 0 ? (double)t.runs / secs : 0.0, t.commits,
         t.commits ? 100.0 * (double)t.round0 / (double)t.commits : 0.0,
         t.commits ? (double)t.sum_rounds / (double)t.commits : 0.0, t.max_round, t.events,
         (double)t.sim_ms / 1000.0, t.evidence, t.crashes, t.torn, t.missing);
  return bad ? 1 : 0;
}
