/* node/node.c — cohortd's event loop: wires LevelDB state, the consensus
 * engine, the signer, the consensus WAL, the mempool and the RPC server.
 *
 * The engine is pure; this file is its shell. `pump` drains the engine's
 * actions (build or re-propose a block and sign the proposal, validate a
 * block, append to the WAL, sign a vote, commit a block), then arms the one
 * consensus timer at the engine's next deadline. Durability order for every
 * signature: the WAL is fsynced (it holds the inputs that led to the
 * decision), the signer makes its last-signed state durable, then the signed
 * message is appended to the WAL with fsync, and only then may it leave.
 * Committing a block is one synced LevelDB batch (state_commit); only after
 * it returns are waiting RPC clients told their tx is in; then the WAL gets
 * END_HEIGHT and is rotated. At start the WAL records of the height being
 * decided are replayed into the engine, which resumes in the same round
 * with the same lock (consensus_wal.h).
 *
 * The RPC server runs on its own thread and loop (rpc/rpc.h); this loop only
 * gets its answers to give (posted, never written here), the broadcasts it
 * must add to the mempool (rpc_call_run_on_owner), and publishes events
 * without waiting. After each commit it publishes a view of the tip for the
 * RPC thread (node_view_publish); see node_int.h for what each thread may
 * touch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "core/log.h"
#include "node/beacon.h"
#include "node/faults.h"
#include "node/node.h"
#include "node/node_int.h"
#include "proto/block.h"
#include "proto/gov.h"
#include "proto/market.h"
#include "state/state_prio.h"

#define MOD "node"

uint64_t node_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define pump node_pump

/* ---- the view of the tip, for the RPC thread ---- */

void node_view_put(node_view *v) {
  if (!v || atomic_fetch_sub(&v->refs, 1) != 1) return;
  if (v->params) cohort__params__free_unpacked(v->params, NULL);
  free(v);
}

void node_view_publish(node *n) {
  node_view *v = calloc(1, sizeof *v);
  const Cohort__Params *p = state_params(n->st);
  size_t pl = cohort__params__get_packed_size(p);
  uint8_t *pb = malloc(pl ? pl : 1);
  if (v && pb) {
    cohort__params__pack(p, pb);
    v->params = cohort__params__unpack(NULL, pl, pb);
  }
  free(pb);
  if (!v || !v->params) {
    /* The RPC keeps the previous tip; it only lags. */
    LOGW(MOD, "out of memory publishing the tip to the RPC thread");
    free(v);
    return;
  }
  atomic_init(&v->refs, 1);
  v->height = state_height(n->st);
  v->last_time_ms = state_last_time_ms(n->st);
  memcpy(v->app_hash, state_app_hash(n->st), 32);
  memcpy(v->last_block_hash, state_last_block_hash(n->st), 32);
  memcpy(v->genesis_hash, state_genesis_hash(n->st), 32);
  snprintf(v->chain_id, sizeof v->chain_id, "%s", state_chain_id(n->st));
  const Cohort__ValidatorSet *vs = state_validators(n->st);
  for (size_t i = 0; i < vs->n_validators; i++)
    if (!memcmp(vs->validators[i]->pubkey.data, privval_pubkey(n->pv), 32))
      v->power = vs->validators[i]->power;
  uv_mutex_lock(&n->view_lock);
  node_view *old = n->view;
  n->view = v;
  uv_mutex_unlock(&n->view_lock);
  node_view_put(old);
}

void nr_view_refresh(void *ctx) {
  node *n = ctx;
  uv_mutex_lock(&n->view_lock);
  node_view *v = n->view, *old = NULL;
  if (v != n->rpc_view) {
    atomic_fetch_add(&v->refs, 1);
    old = n->rpc_view;
    n->rpc_view = v;
  }
  uv_mutex_unlock(&n->view_lock);
  node_view_put(old);
}

const node_view *nr_view(const node *n) { return n->rpc_view; }

int nr_mempool_has(node *n, const uint8_t hash[32]) {
  uv_mutex_lock(&n->mp_lock);
  int r = mempool_has(n->mp, hash);
  uv_mutex_unlock(&n->mp_lock);
  return r;
}

int nr_mempool_has_task(node *n, const uint8_t task_id[32]) {
  uv_mutex_lock(&n->mp_lock);
  int r = mempool_has_task(n->mp, task_id);
  uv_mutex_unlock(&n->mp_lock);
  return r;
}

int nr_account_next_nonce(node *n, const uint8_t id[20], uint64_t *crd, uint64_t *stk,
                          uint64_t *nonce, uint64_t *next) {
  uv_mutex_lock(&n->mp_lock);
  int rc = state_get_account(n->st, id, crd, stk, nonce);
  if (!rc) *next = mempool_sender_next_nonce(n->mp, id, *nonce);
  uv_mutex_unlock(&n->mp_lock);
  return rc;
}

void nr_mempool_stats(node *n, size_t *count, size_t *bytes) {
  uv_mutex_lock(&n->mp_lock);
  *count = mempool_size(n->mp);
  *bytes = mempool_bytes(n->mp);
  uv_mutex_unlock(&n->mp_lock);
}

/* ---- blocks held for the current height ---- */

static void held_free_one(held_block *b) {
  free(b->bytes);
  state_block_free(b->sb);
}

static void held_clear(node *n) {
  for (size_t i = 0; i < n->nheld; i++) held_free_one(&n->held[i]);
  free(n->held);
  n->held = NULL;
  n->nheld = 0;
}

static held_block *held_find(const node *n, const uint8_t hash[32]) {
  for (size_t i = 0; i < n->nheld; i++)
    if (!memcmp(n->held[i].hash, hash, 32)) return &n->held[i];
  return NULL;
}

/* 1 if a proposal stored at the current height names hash. */
static int proposal_names(const node *n, const uint8_t hash[32]) {
  uint32_t rounds[64];
  size_t nr = cons_stored_rounds(n->cons, rounds, 64);
  for (size_t i = 0; i < nr && i < 64; i++) {
    cons_proposal p;
    if (!cons_get_proposal(n->cons, cons_height(n->cons), rounds[i], &p) &&
        !memcmp(p.block_hash, hash, 32))
      return 1;
  }
  return 0;
}

/* Make room for one more block: drop a received block that no stored
 * proposal names (the oldest), else refuse. */
static int held_make_room(node *n) {
  if (n->nheld < NODE_MAX_HELD) return COHORT_OK;
  for (size_t i = 0; i < n->nheld; i++) {
    if (n->held[i].own || proposal_names(n, n->held[i].hash)) continue;
    held_free_one(&n->held[i]);
    memmove(&n->held[i], &n->held[i + 1], (n->nheld - i - 1) * sizeof *n->held);
    n->nheld--;
    return COHORT_OK;
  }
  return COHORT_ERR_TOO_LARGE;
}

static int held_add(node *n, const uint8_t hash[32], const uint8_t *bytes, size_t len, int own) {
  held_block *have = held_find(n, hash);
  if (have) {
    have->own |= own;
    return COHORT_ERR_DUPLICATE;
  }
  if (!own && held_make_room(n)) return COHORT_ERR_TOO_LARGE;
  held_block *nh = realloc(n->held, (n->nheld + 1) * sizeof *nh);
  if (!nh) return COHORT_ERR_NOMEM;
  n->held = nh;
  held_block *b = &n->held[n->nheld];
  memset(b, 0, sizeof *b);
  if (!(b->bytes = malloc(len ? len : 1))) return COHORT_ERR_NOMEM;
  memcpy(b->bytes, bytes, len);
  memcpy(b->hash, hash, 32);
  b->len = len;
  b->verdict = -1;
  b->own = own;
  n->nheld++;
  return COHORT_OK;
}

/* 1 if this node holds block `hash` of the current height. */
static int holds_block(const node *n, uint64_t h, const uint8_t hash[32]) {
  return (n->prop.have && n->prop.height == h && !memcmp(n->prop.hash, hash, 32)) ||
         held_find(n, hash);
}

const uint8_t *node_held_bytes(const node *n, const uint8_t hash[32], size_t *len) {
  if (n->prop.have && !memcmp(n->prop.hash, hash, 32)) {
    *len = n->prop.len;
    return n->prop.bytes;
  }
  const held_block *b = held_find(n, hash);
  if (!b) return NULL;
  *len = b->len;
  return b->bytes;
}

static void validate_held(node *n, held_block *b, uint64_t h);

int node_held_offer(node *n, const uint8_t *bytes, size_t len) {
  const Cohort__Params *par = state_params(n->st);
  block_t d;
  core_errbuf eb;
  int rc = block_decode(&d, bytes, len, (size_t)par->max_block_bytes + 65536,
                        par->max_block_txs, &eb);
  if (rc) return rc == COHORT_ERR_NOMEM ? rc : COHORT_ERR_DECODE;
  uint64_t h = d.hdr->height;
  uint8_t hash[32];
  memcpy(hash, d.hash, 32);
  block_free(&d);
  if (h != cons_height(n->cons)) return COHORT_ERR_INVALID;
  if (holds_block(n, h, hash)) return COHORT_ERR_DUPLICATE;
  if ((rc = held_add(n, hash, bytes, len, 0))) return rc;
  /* a proposal waiting for this block can be validated now */
  if (proposal_names(n, hash)) validate_held(n, held_find(n, hash), h);
  return COHORT_OK; /* the caller pumps: a decided block may be committable now */
}

/* An error that must stop the node: nothing may be signed or sent after it. */
static void fatal_stop(node *n) {
  n->stopping = 1;
  uv_stop(n->loop);
}

static int wal_write(node *n, const cons_wal_rec *r, int sync) {
  core_errbuf eb;
  int rc = cons_wal_append(n->wal, r, sync, &eb);
  if (rc) {
    LOGE("consensus", "%s — stopping: nothing is signed or sent without the WAL", eb.msg);
    fatal_stop(n);
  }
  return rc;
}

static int wal_sync(node *n) {
  core_errbuf eb;
  int rc = cons_wal_sync(n->wal, &eb);
  if (rc) {
    LOGE("consensus", "%s — stopping: nothing is signed or sent without the WAL", eb.msg);
    fatal_stop(n);
  }
  return rc;
}

static void prop_clear(proposal *p) {
  free(p->bytes);
  state_exec_free(p->x);
  free(p->tx_hashes);
  free(p->res);
  free(p->senders);
  free(p->types);
  memset(p, 0, sizeof *p);
}

/* ---- building our proposal ---- */

static int last_commit_for_proposal(node *n, uint64_t h, uint8_t **lc, size_t *lcl,
                                    core_errbuf *eb);

/* Our proposal for height h. Evidence first: of the candidates `ev`
 * (serialized DuplicateVoteEvidence, borrowed; the evidence pool's), those
 * includable now go in, in order (state_build_add_evidence); then txs from
 * the mempool in the room left. */
static int build_proposal_ev(node *n, uint64_t h, const ProtobufCBinaryData *ev, size_t n_ev,
                             core_errbuf *eb) {
  /* An earlier proposal of this height may still be decided: keep it. */
  if (n->prop.have && n->prop.height == h &&
      held_add(n, n->prop.hash, n->prop.bytes, n->prop.len, 1) == COHORT_ERR_NOMEM)
    return COHORT_ERR_NOMEM;
  prop_clear(&n->prop);
  const Cohort__Params *par = state_params(n->st);
  size_t max_txs = par->max_block_txs;
  size_t max_bytes = par->max_block_bytes > 4096 ? par->max_block_bytes - 4096 : 0;
  const tx_t **txs = malloc((max_txs ? max_txs : 1) * sizeof *txs);
  proposal *p = &n->prop;
  p->tx_hashes = malloc((max_txs ? max_txs : 1) * sizeof *p->tx_hashes);
  p->res = malloc((max_txs ? max_txs : 1) * sizeof *p->res);
  p->senders = malloc((max_txs ? max_txs : 1) * sizeof *p->senders);
  p->types = malloc((max_txs ? max_txs : 1) * sizeof *p->types);
  size_t *picked = malloc((n_ev ? n_ev : 1) * sizeof *picked);
  ProtobufCBinaryData *evb = malloc((n_ev ? n_ev : 1) * sizeof *evb);
  if (!txs || !p->tx_hashes || !p->res || !p->senders || !p->types || !picked || !evb) {
    free(txs);
    free(picked);
    free(evb);
    return COHORT_ERR_NOMEM;
  }
  uint64_t t = node_now_ms();
  if (t <= state_last_time_ms(n->st)) t = state_last_time_ms(n->st) + 1;
  int rc = state_exec_begin(n->st, h, t, privval_pubkey(n->pv), &p->x, eb);
  /* The parent's commit goes into the block; its signers count for
   * downtime and the fee distribution (docs/staking.md §3-4). */
  uint8_t *lc = NULL;
  size_t lcl = 0;
  if (!rc && h > 1 && (rc = last_commit_for_proposal(n, h, &lc, &lcl, eb)) == 0) {
    Cohort__Commit *lcd = NULL;
    if (!(rc = commit_parse(&lcd, lc, lcl, 1 << 20, eb))) {
      rc = state_exec_last_commit(p->x, lcd, eb);
      cohort__commit__free_unpacked(lcd, NULL);
    } else if (!core_err_is_fatal(rc)) {
      rc = core_errf(eb, COHORT_ERR_CORRUPT, "our stored commit of height %llu does not decode",
                     (unsigned long long)(h - 1));
    }
  }
  if (rc) {
    free(lc);
    free(txs);
    free(picked);
    free(evb);
    return rc;
  }
  /* Reveal the next link of our beacon hash chain. */
  uint8_t reveal[32], new_tip[32];
  int have_reveal = 0, recommit = 0;
  uint8_t want[32];
  int pending = 0;
  if (n->beacon && state_beacon_expected(n->st, privval_pubkey(n->pv), want, &pending) == 0) {
    core_errbuf beb;
    /* a second re-commitment may not be announced while one is pending */
    if (beacon_keeper_reveal(n->beacon, want, reveal, new_tip, &recommit, &beb) == 0 &&
        (recommit &= !pending, 1) &&
        state_exec_reveal(p->x, reveal, recommit ? new_tip : NULL, NULL) == 0) {
      have_reveal = 1;
      if (recommit)
        LOGI("consensus", "beacon hash chain running out: this proposal re-commits to a new "
                          "one (config/beacon_seed.json.next)");
    }
    else
      LOGW("consensus", "cannot reveal the next beacon link (chain used up or not ours): "
                        "withholding");
  }
  /* Evidence, in at most half the block: txs keep room. */
  size_t n_picked = 0, ev_bytes = 0;
  if ((rc = state_build_add_evidence(p->x, ev, n_ev, max_bytes / 2, picked, &n_picked, eb))) {
    free(lc);
    free(txs);
    free(picked);
    free(evb);
    return rc;
  }
  for (size_t i = 0; i < n_picked; i++) {
    evb[i] = ev[picked[i]];
    ev_bytes += evb[i].len + 8;
  }
  if (n_picked)
    LOGI("consensus", "proposal for height %llu carries %zu evidence item(s) of double signs",
         (unsigned long long)h, n_picked);
  size_t cand = mempool_reap(n->mp, max_txs, max_bytes - ev_bytes, txs);
  ProtobufCBinaryData *tb = calloc(cand ? cand : 1, sizeof *tb);
  if (!tb) {
    free(lc);
    free(txs);
    free(picked);
    free(evb);
    return COHORT_ERR_NOMEM;
  }
  size_t k = 0;
  for (size_t i = 0; i < cand; i++) {
    core_errbuf teb;
    int trc = state_exec_tx(p->x, txs[i], 1, &p->res[k], &teb);
    if (trc && core_err_is_fatal(trc)) { /* this node's failure: no block from us now */
      free(tb);
      free(lc);
      free(txs);
      free(picked);
      free(evb);
      return core_errf(eb, trc, "cannot execute a tx for the proposal: %s", teb.msg);
    }
    if (trc) {
      LOGD(MOD, "proposal skips tx: %s", teb.msg);
      continue;
    }
    memcpy(p->tx_hashes[k], txs[i]->hash, 32);
    memcpy(p->senders[k], txs[i]->sender, 20);
    p->types[k] = tx_msg_name(txs[i]->body);
    tb[k].data = txs[i]->raw;
    tb[k].len = txs[i]->raw_len;
    k++;
  }
  p->ntx = k;
  uint8_t txroot[32], vh[32], nvh[32], lch[32] = {0};
  block_tx_root(txroot, (const uint8_t(*)[32])p->tx_hashes, k);
  validators_hash(vh, state_validators(n->st));
  validators_hash(nvh, state_next_validators(n->st));
  if (lc) core_sha256(lch, lc, lcl);
  Cohort__BlockHeader hd = COHORT__BLOCK_HEADER__INIT;
  hd.chain_id = (char *)state_chain_id(n->st);
  hd.height = h;
  hd.time_ms = t;
  hd.prev_hash = (ProtobufCBinaryData){32, (uint8_t *)state_last_block_hash(n->st)};
  hd.tx_root = (ProtobufCBinaryData){32, txroot};
  hd.app_hash = (ProtobufCBinaryData){32, (uint8_t *)state_app_hash(n->st)};
  hd.validators_hash = (ProtobufCBinaryData){32, vh};
  hd.next_validators_hash = (ProtobufCBinaryData){32, nvh};
  hd.proposer = (ProtobufCBinaryData){32, (uint8_t *)privval_pubkey(n->pv)};
  hd.last_commit_hash = (ProtobufCBinaryData){32, lch};
  if (have_reveal) hd.beacon_reveal = (ProtobufCBinaryData){32, reveal};
  if (have_reveal && recommit) hd.beacon_new_tip = (ProtobufCBinaryData){32, new_tip};
  rc = block_encode_ev(&p->bytes, &p->len, p->hash, &hd, tb, k, lc, lcl, evb, n_picked);
  free(lc);
  free(tb);
  free(txs);
  free(picked);
  free(evb);
  if (rc) return rc;
  p->height = h;
  p->have = 1;
  return COHORT_OK;
}

/* A proposal with the evidence pool's items as candidates. */
static int build_proposal(node *n, uint64_t h, core_errbuf *eb) {
  static ProtobufCBinaryData cand[EVPOOL_MAX];
  size_t k = evpool_candidates(&n->ev, cand);
  return build_proposal_ev(n, h, cand, k, eb);
}

/* ---- commit ---- */

/* A block just committed, whoever built it: what the waiters, the events
 * and the mempool need. */
typedef struct {
  uint64_t height;
  const uint8_t *hash;
  size_t ntx;
  const uint8_t (*tx_hashes)[32];
  const uint8_t (*senders)[20];
  const state_tx_result *res;
  const char **types;    /* or NULL, then msg_cases */
  const int *msg_cases;
  const state_exec *x;   /* for the tasks it changed; may be NULL */
} done_block;

static const char *msg_case_name(int mc) {
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = (Cohort__TxBody__MsgCase)mc;
  return tx_msg_name(&b);
}

/* The block's tx indices sorted by hash, for answer_waiters. */
static const uint8_t (*sort_hashes)[32];
static int cmp_tx_index(const void *a, const void *b) {
  return memcmp(sort_hashes[*(const size_t *)a], sort_hashes[*(const size_t *)b], 32);
}

/* Index of hash in the block, or ntx. */
static size_t find_tx(const done_block *d, const size_t *order, const uint8_t hash[32]) {
  size_t lo = 0, hi = d->ntx;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(d->tx_hashes[order[mid]], hash, 32);
    if (c == 0) return order[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return d->ntx;
}

static void answer_waiters(node *n, const done_block *d) {
  if (!n->waiters || !d->ntx) return;
  /* Waiters are RPC clients' work on this loop: O((W + N) log N), not W * N. */
  size_t *order = malloc(d->ntx * sizeof *order);
  if (!order) return; /* they time out instead */
  for (size_t k = 0; k < d->ntx; k++) order[k] = k;
  sort_hashes = d->tx_hashes;
  qsort(order, d->ntx, sizeof *order, cmp_tx_index);
  waiter **pp = &n->waiters;
  while (*pp) {
    waiter *w = *pp;
    size_t i = find_tx(d, order, w->hash);
    if (i == d->ntx) {
      pp = &w->next;
      continue;
    }
    char hex[65];
    core_hex_encode(hex, w->hash, 32);
    const state_tx_result *r = &d->res[i];
    rpc_call_reply(w->call, json_pack("{s:s, s:I, s:i, s:i, s:s, s:s}", "hash", hex,
                                      "height", (json_int_t)d->height, "index", (int)i, "code",
                                      r->code, "codespace", core_err_name(r->code), "log",
                                      r->log));
    *pp = w->next;
    free(w);
    n->n_waiters--;
  }
  free(order);
}

/* After the mempool's recheck: a waiter whose tx is neither in this block
 * (answer_waiters took those) nor still pending lost its place — the block
 * used its nonce or its funds, or a richer tx evicted it. Nothing was
 * charged; say so now rather than at the timeout. */
static void answer_dropped(node *n, uint64_t height) {
  for (waiter **pp = &n->waiters; *pp;) {
    waiter *w = *pp;
    if (mempool_has(n->mp, w->hash)) {
      pp = &w->next;
      continue;
    }
    char hex[65], msg[400];
    core_hex_encode(hex, w->hash, 32);
    snprintf(msg, sizeof msg, "tx %s left the mempool uncommitted after block %llu: that block "
             "used its nonce (another tx of the sender) or the funds it needed, or a tx paying "
             "more evicted it; nothing was charged; read the account's next_nonce and sign "
             "again", hex, (unsigned long long)height);
    rpc_call_error(w->call, RPC_TX_REJECTED, msg,
                   json_pack("{s:s, s:s}", "hash", hex, "codespace", "dropped"));
    *pp = w->next;
    free(w);
    n->n_waiters--;
  }
}

/* WebSocket events (docs/rpc.md): a new block, and each task it changed. */
static void publish_block(node *n, const done_block *d) {
  char hash[65], app[65];
  core_hex_encode(hash, d->hash, 32);
  core_hex_encode(app, state_app_hash(n->st), 32);
  json_t *ev = json_pack("{s:I, s:s, s:I, s:I, s:s}", "height", (json_int_t)d->height, "hash",
                         hash, "time_ms", (json_int_t)state_last_time_ms(n->st), "num_txs",
                         (json_int_t)d->ntx, "app_hash", app);
  if (ev) rpc_server_publish(n->rpc, "new_block", ev); /* stolen */
}

static void publish_txs(node *n, const done_block *d) {
  if (!rpc_server_has_subscribers(n->rpc, "tx")) return; /* build nothing */
  for (size_t i = 0; i < d->ntx; i++) {
    char hash[65], sender[CORE_ADDR_STR_MAX];
    core_hex_encode(hash, d->tx_hashes[i], 32);
    core_addr_encode(sender, d->senders[i]);
    const state_tx_result *r = &d->res[i];
    json_t *ev = json_pack("{s:s, s:I, s:i, s:s, s:s, s:i, s:s, s:s}", "hash", hash, "height",
                           (json_int_t)d->height, "index", (int)i, "sender", sender, "type",
                           d->types ? d->types[i] : msg_case_name(d->msg_cases[i]), "code",
                           r->code, "codespace", core_err_name(r->code), "log", r->log);
    if (ev) rpc_server_publish(n->rpc, "tx", ev); /* stolen */
  }
}

static void publish_task(void *ctx, const uint8_t id[32]) {
  node *n = ctx;
  Cohort__Task *t;
  if (state_get_task(n->st, id, &t)) return;
  char tid[65], owner[CORE_ADDR_STR_MAX];
  core_hex_encode(tid, id, 32);
  core_addr_encode(owner, t->owner.data);
  json_t *ex = json_array();
  for (size_t i = 0; i < t->n_members; i++) {
    if (t->members[i]->replaced) continue;
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, t->members[i]->executor.data);
    json_array_append_new(ex, json_string(a));
  }
  const Cohort__TaskEvent *last = t->n_timeline ? t->timeline[t->n_timeline - 1] : NULL;
  json_t *ev = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "task_id", tid, "status",
                         market_status_name(t->status), "owner", owner, "executors", ex,
                         "height", (json_int_t)state_height(n->st), "event",
                         last ? market_event_name(last->code) : "");
  if (t->job.len == 32) {
    char jid[65];
    core_hex_encode(jid, t->job.data, 32);
    json_object_set_new(ev, "job_id", json_string(jid));
  }
  /* moves and outcomes of the verification game also go to "dispute" */
  if (ev && last && last->code >= 15 && last->code <= 18 &&
      rpc_server_has_subscribers(n->rpc, "dispute")) {
    json_t *dv = json_deep_copy(ev);
    if (dv && t->game) {
      json_object_set_new(dv, "phase", json_integer(t->game->phase));
      json_object_set_new(dv, "round", json_integer(t->game->round));
      json_object_set_new(dv, "lo", json_integer((json_int_t)t->game->lo));
      json_object_set_new(dv, "hi", json_integer((json_int_t)t->game->hi));
      json_object_set_new(dv, "deadline", json_integer((json_int_t)t->game->deadline));
    }
    if (dv) rpc_server_publish(n->rpc, "dispute", dv); /* stolen */
  }
  if (ev) rpc_server_publish(n->rpc, "task", ev); /* stolen */
  cohort__task__free_unpacked(t, NULL);
}

/* "validators": block h set a new V_{h+2} (docs/staking.md §3). */
static void publish_valset(node *n, uint64_t h) {
  if (!rpc_server_has_subscribers(n->rpc, "validators")) return;
  const Cohort__ValidatorSet *vs = state_next_validators(n->st);
  json_t *arr = json_array();
  uint64_t total = 0;
  for (size_t i = 0; arr && i < vs->n_validators; i++) {
    const Cohort__Validator *v = vs->validators[i];
    char pk[65], op[CORE_ADDR_STR_MAX] = "", pw[24];
    core_hex_encode(pk, v->pubkey.data, 32);
    if (v->operator_.len == 20) core_addr_encode(op, v->operator_.data);
    snprintf(pw, sizeof pw, "%llu", (unsigned long long)v->power);
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "pubkey", pk, "operator", op,
                                         "power", pw, "moniker", v->moniker ? v->moniker : ""));
    total += v->power;
  }
  char tp[24];
  snprintf(tp, sizeof tp, "%llu", (unsigned long long)total);
  json_t *ev = json_pack("{s:I, s:I, s:s, s:o}", "height", (json_int_t)h, "effective_height",
                         (json_int_t)(h + 2), "total_power", tp, "validators", arr);
  if (ev) rpc_server_publish(n->rpc, "validators", ev); /* stolen */
}

/* A proposal this block wrote: its events on the "proposal" topic and in
 * the log (docs/rpc.md): submitted, voting_started, deposit (a deposit that
 * did not start the vote), finished (the tally or the expiry, with its
 * status), applied (a parameter change in force from the next block). */
typedef struct {
  node *n;
  uint64_t h;
} prop_pub;

static void publish_proposal(void *ctx, uint64_t id) {
  prop_pub *pp = ctx;
  node *n = pp->n;
  uint64_t h = pp->h;
  Cohort__GovProposal *p;
  if (state_get_proposal(n->st, id, &p)) return;
  const char *ev[4];
  int k = 0;
  if (p->submit_height == h) ev[k++] = "submitted";
  if (p->status == GOV_ST_VOTING && p->voting_start == h) ev[k++] = "voting_started";
  if (p->final_height == h) ev[k++] = "finished";
  if (p->applied_height == h + 1) ev[k++] = "applied";
  if (p->status == GOV_ST_FAILED && p->final_height != h) ev[k++] = "finished";
  if (!k) ev[k++] = "deposit";
  for (int i = 0; i < k; i++) {
    if (strcmp(ev[i], "deposit") && strcmp(ev[i], "submitted"))
      LOGI("gov", "proposal %llu (%s) %s at height %llu: %s%s%s", (unsigned long long)id,
           gov_kind_name(p->kind), ev[i], (unsigned long long)h, gov_status_name(p->status),
           p->failed_reason && *p->failed_reason ? ": " : "",
           p->failed_reason ? p->failed_reason : "");
    if (!strcmp(ev[i], "applied"))
      for (size_t j = 0; j < p->n_changes; j++)
        LOGI("gov", "parameter %s = %llu from height %llu (proposal %llu)", p->changes[j]->name,
             (unsigned long long)p->changes[j]->value, (unsigned long long)(h + 1),
             (unsigned long long)id);
    if (!rpc_server_has_subscribers(n->rpc, "proposal")) continue;
    json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o}", "id", (json_int_t)id, "event",
                          ev[i], "kind", gov_kind_name(p->kind), "status",
                          gov_status_name(p->status), "title", p->title ? p->title : "",
                          "height", (json_int_t)h, "total_deposit", nr_amount(p->total_deposit));
    if (!e) continue;
    if (p->status == GOV_ST_VOTING) json_object_set_new(e, "voting_end", json_integer((json_int_t)p->voting_end));
    if (p->applied_height) json_object_set_new(e, "applied_height", json_integer((json_int_t)p->applied_height));
    rpc_server_publish(n->rpc, "proposal", e); /* stolen */
  }
  cohort__gov_proposal__free_unpacked(p, NULL);
}

static int ev_keep(void *ctx, const uint8_t *b, size_t len);

/* Block h is in the store: close its WAL and start height h + 1. */
static void next_height(node *n, uint64_t h) {
  cons_wal_rec w = {.kind = CONS_WAL_END_HEIGHT};
  w.u.end_height = h;
  core_errbuf eb;
  FAULT("commit");
  if (wal_write(n, &w, 1)) return;
  FAULT("end_height");
  if (cons_wal_rotate(n->wal, &eb)) {
    LOGE("consensus", "%s — stopping", eb.msg);
    fatal_stop(n);
    return;
  }
  held_clear(n);
  prop_clear(&n->prop);
  n->late_height = h;
  n->n_late = 0;
  if (n->late_base) cohort__commit__free_unpacked(n->late_base, NULL);
  n->late_base = NULL;
  evpool_prune(&n->ev, ev_keep, n); /* punished or expired items go */
  n->decided = 0;
  free(n->decided_commit);
  n->decided_commit = NULL;
  if (state_prio_next(n->st, &n->prio, &eb)) { /* S_{h+1}, with the set that signs h+1 */
    LOGE("consensus", "%s — stopping", eb.msg);
    fatal_stop(n);
    return;
  }
  uint64_t now = node_now_ms();
  cons_start_height(n->cons, h + 1, &n->prio, now);
  node_net_committed(n, h);
  /* Keep making blocks while txs wait or task windows / unbondings are
   * scheduled: those deadlines are counted in blocks. */
  cons_on_txs_available(n->cons, mempool_size(n->mp) > 0 || state_has_scheduled_work(n->st),
                        now);
}

/* Everything after a block landed: metrics, mempool, waiters, events, the
 * view for the RPC thread, the next height. */
static void after_commit(node *n, const done_block *d, uint64_t t0, const char *how) {
  uint64_t failed = 0;
  for (size_t i = 0; i < d->ntx; i++) failed += d->res[i].code != 0;
  n->m_blocks++;
  n->m_txs += d->ntx;
  n->m_txs_failed += failed;
  n->m_last_block_txs = d->ntx;
  uint64_t now = node_now_ms();
  if (n->m_last_commit_ms) n->m_last_interval_ms = now - n->m_last_commit_ms;
  n->m_last_commit_ms = now;
  node_view_publish(n);
  uv_mutex_lock(&n->mp_lock);
  size_t dropped = mempool_update(n->mp, n->st, d->tx_hashes, d->ntx);
  uv_mutex_unlock(&n->mp_lock);
  char bh[17], ah[17];
  core_hex_encode(bh, d->hash, 8);
  core_hex_encode(ah, state_app_hash(n->st), 8);
  if (!atomic_load(&n->catching_up))
    LOGI("consensus", "committed height=%llu round=%u txs=%zu failed=%llu hash=%s.. "
         "app_hash=%s.. mempool=%zu (dropped %zu) commit_ms=%llu%s",
         (unsigned long long)d->height, n->m_last_round, d->ntx, (unsigned long long)failed, bh,
         ah, mempool_size(n->mp), dropped, (unsigned long long)(now - t0), how);
  answer_waiters(n, d);
  if (dropped || mempool_evicted(n->mp) != n->m_evicted_seen) answer_dropped(n, d->height);
  n->m_evicted_seen = mempool_evicted(n->mp);
  publish_block(n, d);
  publish_txs(n, d);
  if (d->x && rpc_server_has_subscribers(n->rpc, "task"))
    state_exec_changed_tasks(d->x, publish_task, n);
  if (d->x && state_exec_changed_validators(d->x)) publish_valset(n, d->height);
  prop_pub pp = {n, d->height};
  if (d->x) state_exec_changed_proposals(d->x, publish_proposal, &pp);
  next_height(n, d->height);
}

/* Commit an executed block (a peer's proposal we validated, or one block
 * sync fetched) with its commit bytes. */
static int commit_executed(node *n, state_block *sb, const uint8_t *cb, size_t cl,
                           const char *how, core_errbuf *eb) {
  uint64_t t0 = node_now_ms();
  int rc = state_block_commit(n->st, sb, cb, cl, eb);
  if (rc) return rc;
  done_block d = {.height = state_block_height(sb), .hash = state_block_hash(sb),
                  .ntx = state_block_ntx(sb), .tx_hashes = state_block_tx_hashes(sb),
                  .senders = state_block_senders(sb), .res = state_block_results(sb),
                  .msg_cases = state_block_msg_cases(sb), .x = state_block_exec_state(sb)};
  uint8_t hash[32];
  memcpy(hash, d.hash, 32);
  d.hash = hash;
  after_commit(n, &d, t0, how);
  return COHORT_OK;
}

static void stop_on_commit_error(node *n, uint64_t h, int rc, const char *msg) {
  if (rc == COHORT_ERR_BAD_BLOCK || rc == COHORT_ERR_SIGNATURE || rc == COHORT_ERR_DECODE)
    LOGE(MOD, "+2/3 of the validators committed block %llu, which this node finds invalid "
         "(%s): this node diverges from the chain; stopping", (unsigned long long)h, msg);
  else
    LOGE(MOD, "cannot commit block %llu: %s — stopping so nothing diverges; the last "
         "committed block is intact, restart to retry", (unsigned long long)h, msg);
  fatal_stop(n);
}

/* Commit a decided block we hold as bytes (validated or not). */
static void commit_held(node *n, cons_action *a, held_block *b) {
  size_t cl = cohort__commit__get_packed_size(a->commit);
  uint8_t *cb = malloc(cl ? cl : 1);
  if (!cb) {
    LOGE(MOD, "out of memory committing block %llu — stopping", (unsigned long long)a->height);
    fatal_stop(n);
    return;
  }
  cohort__commit__pack(a->commit, cb);
  core_errbuf eb;
  int rc = COHORT_OK;
  if (!b->sb) rc = state_block_exec(n->st, b->bytes, b->len, &b->sb, &eb);
  if (!rc) rc = commit_executed(n, b->sb, cb, cl, b->own ? " (own block of an earlier round)" : "",
                                &eb);
  free(cb);
  if (rc) stop_on_commit_error(n, a->height, rc, eb.msg);
}

/* Decided on a block we lack: remember the decision and fetch the block. */
static void await_decided(node *n, cons_action *a) {
  size_t cl = cohort__commit__get_packed_size(a->commit);
  uint8_t *cb = malloc(cl ? cl : 1);
  if (!cb) {
    LOGE(MOD, "out of memory keeping the commit of height %llu — stopping",
         (unsigned long long)a->height);
    fatal_stop(n);
    return;
  }
  cohort__commit__pack(a->commit, cb);
  free(n->decided_commit);
  n->decided = 1;
  n->decided_commit = cb;
  n->decided_clen = cl;
  n->decided_round = a->round;
  n->decided_ask_ms = 0;
  memcpy(n->decided_hash, a->block_hash, 32);
  char bh[17];
  core_hex_encode(bh, a->block_hash, 8);
  LOGI("consensus", "height %llu decided in round %u on block %s.., which this node does not "
       "hold yet: fetching it from peers", (unsigned long long)a->height, a->round, bh);
  node_net_want(n);
}

/* If the decided block has arrived, commit it (1: it did). */
static int try_decided(node *n) {
  if (!n->decided) return 0;
  held_block *b = held_find(n, n->decided_hash);
  if (!b) return 0;
  cons_action a = {.kind = CONS_ACT_COMMIT, .height = cons_height(n->cons),
                   .round = n->decided_round};
  memcpy(a.block_hash, n->decided_hash, 32);
  a.commit = commit_decode(n->decided_commit, n->decided_clen, 1 << 20, NULL);
  if (!a.commit) {
    LOGE(MOD, "out of memory decoding our own commit — stopping");
    fatal_stop(n);
    return 0;
  }
  n->m_last_round = a.round;
  commit_held(n, &a, b);
  cohort__commit__free_unpacked(a.commit, NULL);
  return 1;
}

static void do_commit(node *n, cons_action *a) {
  n->m_last_round = a->round;
  n->m_rounds += a->round;
  if (a->block_status == CONS_BLOCK_INVALID) {
    LOGE(MOD, "+2/3 of the validators committed a block at height %llu that this node "
              "judged invalid: this node diverges from the chain; stopping",
         (unsigned long long)a->height);
    fatal_stop(n);
    return;
  }
  if (!n->prop.have || memcmp(n->prop.hash, a->block_hash, 32) || n->prop.height != a->height) {
    held_block *b = held_find(n, a->block_hash);
    if (b) commit_held(n, a, b);
    else await_decided(n, a);
    return;
  }
  size_t cl = cohort__commit__get_packed_size(a->commit);
  uint8_t *cb = malloc(cl ? cl : 1);
  if (!cb) {
    LOGE(MOD, "out of memory committing block %llu — stopping", (unsigned long long)a->height);
    fatal_stop(n);
    return;
  }
  cohort__commit__pack(a->commit, cb);
  core_errbuf eb;
  uint64_t t0 = node_now_ms();
  int rc = state_commit(n->st, n->prop.x, n->prop.bytes, n->prop.len, n->prop.hash, cb, cl,
                        (const uint8_t(*)[32])n->prop.tx_hashes, n->prop.res, &eb);
  free(cb);
  if (rc) {
    stop_on_commit_error(n, a->height, rc, eb.msg);
    return;
  }
  done_block d = {.height = a->height, .hash = n->prop.hash, .ntx = n->prop.ntx,
                  .tx_hashes = (const uint8_t(*)[32])n->prop.tx_hashes,
                  .senders = (const uint8_t(*)[20])n->prop.senders, .res = n->prop.res,
                  .types = n->prop.types, .x = n->prop.x};
  uint8_t hash[32];
  memcpy(hash, n->prop.hash, 32);
  d.hash = hash;
  after_commit(n, &d, t0, " (own block)");
}

int node_apply_synced(node *n, const uint8_t *block, size_t blen, const uint8_t *commit,
                      size_t clen, core_errbuf *eb) {
  state_block *sb;
  int rc = state_block_exec(n->st, block, blen, &sb, eb);
  if (rc) return rc;
  n->m_last_round = 0;
  rc = commit_executed(n, sb, commit, clen, " (block sync)", eb);
  state_block_free(sb);
  if (rc && core_err_is_fatal(rc)) {
    LOGE(MOD, "block sync: %s — stopping", eb->msg);
    fatal_stop(n);
  }
  return rc;
}

/* ---- the engine's shell ---- */

static void on_timer(uv_timer_t *t) {
  node *n = t->data;
  cons_on_tick(n->cons, node_now_ms());
  pump(n);
}

static void on_kick(uv_timer_t *t) { pump(t->data); }

static void sign_vote(node *n, cons_action *a) {
  cons_vote v = {.type = a->vote_type, .height = a->height, .round = a->round,
                 .has_hash = a->has_hash};
  if (a->has_hash) memcpy(v.block_hash, a->block_hash, 32);
  memcpy(v.validator, privval_pubkey(n->pv), 32);
  uint8_t sb[VOTE_SIGN_BYTES_MAX];
  size_t len = cons_vote_sign_bytes(sb, state_chain_id(n->st), &v);
  core_errbuf eb;
  int step = a->vote_type == VOTE_PREVOTE ? PRIVVAL_STEP_PREVOTE : PRIVVAL_STEP_PRECOMMIT;
  if (wal_sync(n)) return; /* the inputs behind this vote are durable first */
  FAULT("wal_sync");
  if (privval_sign(n->pv, a->height, a->round, step, sb, len, v.signature, &eb)) {
    LOGW("consensus", "not voting: %s", eb.msg);
    return;
  }
  FAULT("signed");
  cons_on_vote(n->cons, &v, node_now_ms());
  if (fault_equivocate() && a->vote_type == VOTE_PREVOTE) {
    /* test builds only (faults.h): a second, different prevote signed with
     * the raw key, around the signer's guard */
    cons_vote v2 = v;
    v2.has_hash = 1;
    for (int i = 0; i < 32; i++) v2.block_hash[i] = (uint8_t)(v.block_hash[i] ^ 0x5a);
    len = cons_vote_sign_bytes(sb, state_chain_id(n->st), &v2);
    crypto_sign_detached(v2.signature, NULL, sb, len, n->fault_sec);
    LOGW("consensus", "FAULT: equivocating at height %llu round %u",
         (unsigned long long)a->height, a->round);
    node_net_send_half(n, &v2);
  }
}

int node_late_precommit(node *n, const Cohort__Vote *v) {
  uint64_t h = state_height(n->st);
  if (v->height != h || h != n->late_height || v->block_hash.len != 32 ||
      memcmp(v->block_hash.data, state_last_block_hash(n->st), 32))
    return 0;
  const Cohort__ValidatorSet *vs = state_last_validators(n->st); /* V_h signed h */
  int member = 0;
  for (size_t i = 0; i < vs->n_validators && !member; i++)
    member = !memcmp(vs->validators[i]->pubkey.data, v->validator.data, 32);
  if (!member || n->n_late >= vs->n_validators) return 0;
  for (size_t i = 0; i < n->n_late; i++)
    if (!memcmp(n->late_pk[i], v->validator.data, 32)) return 0;
  if (!n->late_base) { /* read once per height: a flood of old votes costs no disk */
    uint8_t *cb;
    size_t cl;
    if (state_get_commit(n->st, h, &cb, &cl)) return 0;
    n->late_base = commit_decode(cb, cl, 1 << 20, NULL);
    free(cb);
    if (!n->late_base) return 0;
  }
  const Cohort__Commit *c = n->late_base;
  int keep = c->round == v->round;
  for (size_t i = 0; keep && i < c->n_sigs; i++)
    if (c->sigs[i]->validator.len == 32 && !memcmp(c->sigs[i]->validator.data, v->validator.data, 32))
      keep = 0;
  if (!keep) return 0;
  core_errbuf eb;
  if (vote_verify(v, state_chain_id(n->st), &eb)) return -1;
  if (n->n_late == n->late_cap) {
    size_t cap = n->late_cap ? 2 * n->late_cap : 8;
    void *a = realloc(n->late_pk, cap * 32), *b = a ? realloc(n->late_sig, cap * 64) : NULL;
    if (a) n->late_pk = a;
    if (!b) return 0; /* only a signature less in our next proposal */
    n->late_sig = b;
    n->late_cap = cap;
  }
  memcpy(n->late_pk[n->n_late], v->validator.data, 32);
  memcpy(n->late_sig[n->n_late], v->signature.data, 64);
  n->n_late++;
  return 1;
}

/* The last commit for our proposal of height h: the stored commit of h - 1
 * with the late precommits added. *lc malloc'd; 0 or a fatal code. */
static int last_commit_for_proposal(node *n, uint64_t h, uint8_t **lc, size_t *lcl,
                                    core_errbuf *eb) {
  int rc = state_get_commit(n->st, h - 1, lc, lcl);
  if (rc) return core_errf(eb, rc == COHORT_ERR_NOT_FOUND ? COHORT_ERR_CORRUPT : rc,
                           "our commit of height %llu is missing", (unsigned long long)(h - 1));
  if (!n->n_late || n->late_height != h - 1) return COHORT_OK;
  Cohort__Commit *c = commit_decode(*lc, *lcl, 1 << 20, NULL);
  if (!c) return COHORT_OK; /* the stored one, as it is */
  size_t m = c->n_sigs + n->n_late;
  Cohort__CommitSig *extra = calloc(n->n_late, sizeof *extra);
  Cohort__CommitSig **all = calloc(m, sizeof *all);
  uint8_t *out = NULL;
  if (extra && all) {
    for (size_t i = 0; i < c->n_sigs; i++) all[i] = c->sigs[i];
    for (size_t i = 0; i < n->n_late; i++) {
      cohort__commit_sig__init(&extra[i]);
      extra[i].validator = (ProtobufCBinaryData){32, n->late_pk[i]};
      extra[i].signature = (ProtobufCBinaryData){64, n->late_sig[i]};
      all[c->n_sigs + i] = &extra[i];
    }
    Cohort__Commit ext = *c;
    ext.n_sigs = m;
    ext.sigs = all;
    size_t l = cohort__commit__get_packed_size(&ext);
    if ((out = malloc(l))) {
      cohort__commit__pack(&ext, out);
      free(*lc);
      *lc = out;
      *lcl = l;
    }
  }
  free(extra);
  free(all);
  cohort__commit__free_unpacked(c, NULL);
  return COHORT_OK;
}

/* Build a block (or re-propose our valid value), sign the Proposal, feed it
 * back. A single validator keeps its proposal local (the engine stores it
 * and the WAL holds it); the block header names the proposer too. */
static void propose(node *n, cons_action *a) {
  core_errbuf eb;
  const uint8_t *hash;
  if (a->has_hash) {
    if (!holds_block(n, a->height, a->block_hash)) {
      char bh[17];
      core_hex_encode(bh, a->block_hash, 8);
      LOGW("consensus", "cannot re-propose block %s.. at height %llu round %u: this node does "
           "not hold it", bh, (unsigned long long)a->height, a->round);
      return;
    }
    hash = a->block_hash;
  } else {
    int rc = build_proposal(n, a->height, &eb);
    if (rc) {
      LOGE("consensus", "cannot build proposal for height %llu: %s",
           (unsigned long long)a->height, rc == COHORT_ERR_NOMEM ? "out of memory" : eb.msg);
      return;
    }
    /* The block reaches the WAL before the proposal is signed: a restarted
     * node can still commit or re-propose it. */
    cons_wal_rec w = {.kind = CONS_WAL_BLOCK};
    w.u.block.height = a->height;
    w.u.block.bytes = n->prop.bytes;
    w.u.block.len = n->prop.len;
    if (wal_write(n, &w, 0)) return;
    FAULT("propose");
    hash = n->prop.hash;
  }
  cons_proposal p = {.height = a->height, .round = a->round, .pol_round = a->pol_round};
  memcpy(p.block_hash, hash, 32);
  memcpy(p.proposer, privval_pubkey(n->pv), 32);
  uint8_t sb[PROPOSAL_SIGN_BYTES_MAX];
  size_t len = cons_proposal_sign_bytes(sb, state_chain_id(n->st), &p);
  if (wal_sync(n)) return;
  FAULT("wal_sync");
  if (privval_sign(n->pv, a->height, a->round, PRIVVAL_STEP_PROPOSAL, sb, len, p.signature,
                   &eb)) {
    LOGW("consensus", "not proposing: %s", eb.msg);
    return;
  }
  FAULT("signed");
  cons_on_proposal(n->cons, &p, node_now_ms());
}

/* The verdict on a held block: execute it on our tip (once) and check what
 * state_block_exec cannot: its time may not run ahead of our clock by more
 * than NODE_MAX_FUTURE_MS (no proposer may push block time ahead). A
 * failure that is ours (out of memory, storage) is no verdict: we say
 * nothing, and prevote nil by timeout. */
#define NODE_MAX_FUTURE_MS 10000
static int mempool_verified(void *ctx, const uint8_t hash[32]) { return mempool_has(ctx, hash); }
static void validate_held(node *n, held_block *b, uint64_t h) {
  if (!b) return;
  if (b->verdict < 0) {
    core_errbuf eb;
    const Cohort__Params *par = state_params(n->st);
    block_t d;
    int rc = block_decode(&d, b->bytes, b->len, (size_t)par->max_block_bytes + 65536,
                          par->max_block_txs, &eb);
    if (!rc) {
      uint64_t t = d.hdr->time_ms, now = node_now_ms();
      block_free(&d);
      if (t > now + NODE_MAX_FUTURE_MS)
        rc = core_errf(&eb, COHORT_ERR_BAD_BLOCK, "its time is %llu ms ahead of this node's "
                       "clock (at most %d allowed)", (unsigned long long)(t - now),
                       NODE_MAX_FUTURE_MS);
    }
    if (!rc) rc = state_block_exec_known(n->st, b->bytes, b->len, mempool_verified, n->mp,
                                         &b->sb, &eb);
    char bh[17];
    core_hex_encode(bh, b->hash, 8);
    if (rc && core_err_is_fatal(rc)) {
      LOGE("consensus", "cannot validate block %s.. at height %llu on this node: %s", bh,
           (unsigned long long)h, eb.msg);
      return;
    }
    b->verdict = rc == 0;
    if (rc)
      LOGW("consensus", "block %s.. proposed at height %llu is invalid: %s — prevoting nil",
           bh, (unsigned long long)h, eb.msg);
  }
  cons_on_proposal_valid(n->cons, h, b->hash, b->verdict, node_now_ms());
}

static void validate(node *n, cons_action *a) {
  if (n->prop.have && n->prop.height == a->height && !memcmp(n->prop.hash, a->block_hash, 32)) {
    cons_on_proposal_valid(n->cons, a->height, a->block_hash, 1, node_now_ms());
    return;
  }
  held_block *b = held_find(n, a->block_hash);
  if (b && b->own && !b->sb && b->verdict < 0) b->verdict = 1; /* ours, from the WAL */
  if (b) {
    validate_held(n, b, a->height);
    return;
  }
  node_net_want(n); /* the block follows its proposal, or we ask for it */
}

/* The offender and height of an item state_check_evidence accepted. */
static int ev_offender(const uint8_t *b, size_t len, uint8_t key[32], uint64_t *h) {
  Cohort__DuplicateVoteEvidence *e = cohort__duplicate_vote_evidence__unpack(NULL, len, b);
  if (!e) return COHORT_ERR_DECODE;
  Cohort__Vote *v = cohort__vote__unpack(NULL, e->vote_a.len, e->vote_a.data);
  int rc = COHORT_ERR_DECODE;
  if (v && v->validator.len == 32) {
    memcpy(key, v->validator.data, 32);
    *h = v->height;
    rc = COHORT_OK;
  }
  if (v) cohort__vote__free_unpacked(v, NULL);
  cohort__duplicate_vote_evidence__free_unpacked(e, NULL);
  return rc;
}

void node_on_evidence(node *n, const char *from_peer, const uint8_t *b, size_t len) {
  core_errbuf eb = {{0}};
  if (len > EVPOOL_ITEM_MAX) {
    if (from_peer) node_net_penalize(n, from_peer, 50, "sent oversized evidence");
    return;
  }
  int rc = state_check_evidence_early(n->st, b, len, &eb);
  if (rc) {
    if (core_err_is_fatal(rc)) {
      LOGW("consensus", "cannot check evidence%s%s: %s — not kept", from_peer ? " from " : "",
           from_peer ? from_peer : "", eb.msg);
      return;
    }
    /* Already punished or expired: a race, not misbehaviour. Forged or
     * malformed evidence is. */
    if (from_peer && (rc == COHORT_ERR_DECODE || rc == COHORT_ERR_SIGNATURE))
      node_net_penalize(n, from_peer, 50, "sent invalid evidence");
    if (from_peer)
      LOGD("consensus", "evidence from %s not kept: %s", from_peer, eb.msg);
    else
      LOGI("consensus", "a double sign this node saw is not kept as evidence: %s", eb.msg);
    return;
  }
  uint8_t key[32];
  uint64_t h;
  if (ev_offender(b, len, key, &h)) return;
  rc = evpool_add(&n->ev, key, h, b, len);
  if (rc < 0) {
    LOGW("consensus", "evidence pool: cannot keep an item (%s)", core_err_str(rc));
    return;
  }
  if (rc == 0) return; /* known */
  char who[65];
  core_hex_encode(who, key, 32);
  LOGW("consensus", "evidence: validator %s double-signed at height %llu (%s); kept for the "
       "next proposal and relayed — it will be slashed and removed from the set",
       who, (unsigned long long)h, from_peer ? "reported by a peer" : "seen by this node");
  atomic_fetch_add(&n->m_evidence, 1);
  node_net_evidence(n, NULL, b, len, from_peer);
}

static void report_evidence(node *n, const cons_action *a) {
  uint8_t *b;
  size_t len;
  core_errbuf eb;
  if (cons_evidence_encode(&b, &len, &a->vote, &a->vote_b, &eb)) {
    LOGW("consensus", "cannot encode the evidence of a double sign: %s", eb.msg);
    return;
  }
  node_on_evidence(n, NULL, b, len);
  free(b);
}

static int ev_keep(void *ctx, const uint8_t *b, size_t len) {
  node *n = ctx;
  core_errbuf eb;
  int rc = state_check_evidence_early(n->st, b, len, &eb);
  return rc == 0 || core_err_is_fatal(rc); /* a failure here says nothing about the item */
}

void node_pump(node *n) {
  cons_action a;
again:
  while (!n->stopping && cons_next_action(n->cons, &a)) {
    switch (a.kind) {
      case CONS_ACT_PROPOSE: propose(n, &a); break;
      case CONS_ACT_SIGN_VOTE: sign_vote(n, &a); break;
      case CONS_ACT_VALIDATE: validate(n, &a); break;
      case CONS_ACT_WAL_WRITE:
        if (!wal_write(n, &a.wal, a.wal_sync) && a.wal_sync) FAULT("wal_own");
        break;
      case CONS_ACT_BROADCAST_PROPOSAL: node_net_own_proposal(n, &a.proposal); break;
      case CONS_ACT_BROADCAST_VOTE: node_net_own_vote(n, &a.vote); break;
      case CONS_ACT_COMMIT: do_commit(n, &a); break;
      case CONS_ACT_EVIDENCE: report_evidence(n, &a); break;
    }
    cons_action_free(&a);
  }
  if (!n->stopping && try_decided(n)) goto again;
  node_net_changed(n);
  atomic_store(&n->a_cons_height, cons_height(n->cons));
  atomic_store(&n->a_cons_round, cons_round(n->cons));
  atomic_store(&n->a_cons_step, (int)cons_get_step(n->cons));
  if (!n->stopping && cons_failed(n->cons)) {
    LOGE("consensus", "the consensus engine ran out of memory — stopping");
    fatal_stop(n);
  }
  uint64_t d = cons_next_deadline(n->cons), now = node_now_ms();
  uv_timer_stop(&n->timer);
  if (d) uv_timer_start(&n->timer, on_timer, d > now ? d - now : 0, 0);
}

int node_broadcast(node *n, tx_t *tx, core_errbuf *eb) {
  return node_add_tx(n, tx, NULL, eb);
}

int node_add_tx(node *n, tx_t *tx, const char *from_peer, core_errbuf *eb) {
  /* the bytes to relay: the mempool takes the tx */
  uint8_t *raw = n->sw ? malloc(tx->raw_len ? tx->raw_len : 1) : NULL;
  size_t raw_len = tx->raw_len;
  if (raw) memcpy(raw, tx->raw, raw_len);
  uv_mutex_lock(&n->mp_lock);
  int rc = mempool_add(n->mp, n->st, tx, eb);
  uv_mutex_unlock(&n->mp_lock);
  if (rc) {
    free(raw);
    if (!from_peer) n->m_rejected++;
    return rc;
  }
  if (raw) node_net_tx(n, raw, raw_len, from_peer);
  free(raw);
  /* Let the engine react on the next loop turn, not inside this RPC call:
   * the caller answers (or registers a commit waiter) first, and a burst of
   * txs arriving together lands in one block. */
  if (mempool_size(n->mp) == 1) {
    cons_on_txs_available(n->cons, 1, node_now_ms());
    uv_timer_start(&n->kick, on_kick, 0, 0);
  }
  return COHORT_OK;
}

/* ---- commit-mode waiters ---- */

void node_register_waiter(node *n, const uint8_t hash[32], rpc_call *c) {
  if (n->n_waiters >= NODE_MAX_WAITERS) {
    char hex[65], msg[200];
    core_hex_encode(hex, hash, 32);
    snprintf(msg, sizeof msg, "tx %s is in the mempool, but %d clients already wait for their "
             "commits; query it later with the tx method", hex, NODE_MAX_WAITERS);
    rpc_call_error(c, RPC_UNAVAILABLE, msg, json_pack("{s:s}", "hash", hex));
    return;
  }
  waiter *w = calloc(1, sizeof *w);
  if (!w) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  memcpy(w->hash, hash, 32);
  w->call = c;
  w->deadline_ms = node_now_ms() + n->cfg.rpc_commit_timeout_ms;
  w->next = n->waiters;
  n->waiters = w;
  n->n_waiters++;
}

static void on_waiter_timer(uv_timer_t *t) {
  node *n = t->data;
  uint64_t now = node_now_ms();
  for (waiter **pp = &n->waiters; *pp;) {
    waiter *w = *pp;
    if (now < w->deadline_ms) {
      pp = &w->next;
      continue;
    }
    char hex[65], msg[200];
    core_hex_encode(hex, w->hash, 32);
    snprintf(msg, sizeof msg, "tx %s is in the mempool but was not committed within %llu ms; "
             "query it later with the tx method", hex,
             (unsigned long long)n->cfg.rpc_commit_timeout_ms);
    rpc_call_error(w->call, RPC_TIMEOUT, msg, json_pack("{s:s}", "hash", hex));
    *pp = w->next;
    free(w);
    n->n_waiters--;
  }
}

/* ---- start-up and shutdown ---- */

static void on_signal(uv_signal_t *s, int sig) {
  node *n = s->data;
  if (n->stopping) return;
  LOGI(MOD, "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  n->stopping = 1;
  uv_stop(n->loop);
}

/* Check the newest block against the stored metadata and its commit. */
static int verify_tip(node *n, core_errbuf *eb) {
  uint64_t h = state_height(n->st);
  if (h == 0) return COHORT_OK;
  uint8_t *bb = NULL, *cb = NULL;
  size_t bl, cl;
  int rc = state_get_block(n->st, h, &bb, &bl);
  if (!rc) rc = state_get_commit(n->st, h, &cb, &cl);
  if (rc) {
    free(bb);
    return core_errf(eb, COHORT_ERR_CORRUPT, "block or commit %llu missing from the store",
                     (unsigned long long)h);
  }
  block_t b;
  /* a stored block, checked when it was committed, under the limits then in
   * force: governance may have lowered them since (at its very end) */
  rc = block_decode(&b, bb, bl, genesis_param_max("max_block_bytes") + 65536,
                    genesis_param_max("max_block_txs"), eb);
  Cohort__Commit *c = rc ? NULL : commit_decode(cb, cl, 1 << 20, eb);
  if (!rc && !c) rc = COHORT_ERR_CORRUPT;
  if (!rc && memcmp(b.hash, state_last_block_hash(n->st), 32))
    rc = core_errf(eb, COHORT_ERR_CORRUPT, "stored block %llu does not hash to the chain tip",
                   (unsigned long long)h);
  if (!rc)
    rc = commit_verify(c, state_chain_id(n->st), h, b.hash, state_validators(n->st), eb);
  if (c) cohort__commit__free_unpacked(c, NULL);
  if (b.blk) block_free(&b);
  free(bb);
  free(cb);
  return rc;
}

/* Priorities S_h for height `next` (rebuilt from genesis and the state's
 * validator set history: state/state_prio.h), the engine at `next`, and the
 * WAL replay: the engine resumes in the round it was in, with its lock. */
static int start_consensus(node *n, uint64_t next, core_errbuf *eb) {
  int rc = state_prio_at(n->st, next, &n->prio, eb);
  if (rc) return rc;
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/data/consensus.wal", n->home);
  size_t torn = 0;
  if ((rc = cons_wal_open(&n->wal, p, &torn, eb))) return rc;
  if (torn)
    LOGW("consensus", "%s ended in a torn record (a crash during a write); truncated at "
         "offset %zu", p, torn);
  uint64_t now = node_now_ms();
  if ((rc = cons_start_height(n->cons, next, &n->prio, now)))
    return core_errf(eb, rc, "cannot start consensus at height %llu", (unsigned long long)next);
  cons_replay_begin(n->cons);
  size_t off = 0, replayed = 0;
  cons_wal_rec r;
  while (cons_wal_next(n->wal, &off, &r) == CONS_WAL_RECORD) {
    if (cons_wal_rec_height(&r) != next) continue;
    if (r.kind == CONS_WAL_BLOCK) {
      uint8_t bh[32];
      block_t b;
      const Cohort__Params *par = state_params(n->st);
      if (block_decode(&b, r.u.block.bytes, r.u.block.len, par->max_block_bytes + 65536,
                       par->max_block_txs, eb) != 0)
        return core_errf(eb, COHORT_ERR_CORRUPT, "%s holds a block for height %llu that does "
                         "not decode", p, (unsigned long long)next);
      memcpy(bh, b.hash, 32);
      block_free(&b);
      if ((rc = held_add(n, bh, r.u.block.bytes, r.u.block.len, 1)) == COHORT_ERR_NOMEM)
        return rc;
      continue;
    }
    cons_replay_record(n->cons, &r, now);
    replayed++;
  }
  cons_replay_end(n->cons, now);
  if ((rc = cons_failed(n->cons))) return core_errf(eb, rc, "out of memory replaying the WAL");
  if (replayed || n->nheld) {
    int64_t lr = cons_locked(n->cons, NULL);
    LOGI("consensus", "replayed %zu WAL records of height %llu: resuming in round %u step %s, "
         "locked round %lld, %zu own block(s) held", replayed, (unsigned long long)next,
         cons_round(n->cons), cons_step_name(cons_get_step(n->cons)), (long long)lr, n->nheld);
  }
  uint64_t lh;
  uint32_t lround;
  int ls;
  privval_last(n->pv, &lh, &lround, &ls);
  if (lh == next && lround > cons_round(n->cons))
    LOGW("consensus", "this validator signed at height %llu round %u, beyond what the WAL "
         "shows (round %u): the WAL was lost or replaced; the signer still refuses any "
         "conflicting signature", (unsigned long long)next, lround, cons_round(n->cons));
  return COHORT_OK;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int node_run(const char *home, const char *rpc_listen, const char *log_level,
             core_errbuf *eb) {
  node *n = calloc(1, sizeof *n);
  if (!n) return COHORT_ERR_NOMEM;
  if (uv_mutex_init(&n->view_lock) || uv_mutex_init(&n->mp_lock) ||
      uv_mutex_init(&n->net_lock)) {
    free(n);
    return COHORT_ERR_NOMEM;
  }
  int rc;
  char p[PATH_MAX + 64], p2[PATH_MAX + 64];
  snprintf(n->home, sizeof n->home, "%s", home);
  node_config_defaults(&n->cfg);
  snprintf(p, sizeof p, "%s/cohortd.conf", home);
  if ((rc = node_config_load(&n->cfg, p, eb))) goto out;
  if (rpc_listen) snprintf(n->cfg.rpc_listen, sizeof n->cfg.rpc_listen, "%s", rpc_listen);
  if (log_level) snprintf(n->cfg.log_level, sizeof n->cfg.log_level, "%s", log_level);
  core_log_level lvl;
  if (!core_log_parse_level(n->cfg.log_level, &lvl)) core_log_set_level(lvl);
  snprintf(p, sizeof p, "%s/config/genesis.json", home);
  if (access(p, F_OK) != 0) {
    rc = core_errf(eb, COHORT_ERR_CONFIG, "%.200s has no config/genesis.json; create a home "
                   "first with: cohortd init --home %.200s", home, home);
    goto out;
  }
  if ((rc = genesis_load(&n->gen, p, eb))) goto out;
  snprintf(p, sizeof p, "%s/data/chain", home);
  if ((rc = kv_open_leveldb(&n->kv, p, eb))) goto out;
  if ((rc = state_open(&n->st, n->kv, eb))) goto out;
  if ((rc = state_init_genesis(n->st, &n->gen, eb))) goto out;
  if ((rc = verify_tip(n, eb))) goto out;
  snprintf(p, sizeof p, "%s/config/priv_validator_key.json", home);
  snprintf(p2, sizeof p2, "%s/data/priv_validator_state.json", home);
  if ((rc = privval_open(&n->pv, p, p2, eb))) goto out;
  if (fault_equivocate()) { /* test builds only: the raw key, to sign around the signer */
    core_key vk;
    if ((rc = core_keyfile_read(p, &vk, eb))) goto out;
    memcpy(n->fault_sec, vk.sec64, 64);
    core_key_wipe(&vk);
  }
  core_key nk;
  snprintf(p, sizeof p, "%s/config/node_key.json", home);
  if ((rc = core_keyfile_read(p, &nk, eb))) goto out;
  snprintf(p, sizeof p, "%s/config/beacon_seed.json", home);
  if (access(p, F_OK) == 0) {
    if ((rc = beacon_keeper_open(&n->beacon, p, 1024, eb))) goto out;
  } else {
    LOGW(MOD, "no %s: this validator's proposals will not feed the draw beacon", p);
  }
  memcpy(n->node_pub, nk.pub, 32);
  memcpy(n->node_sec, nk.sec64, 64);
  core_key_wipe(&nk);
  uint8_t idh[32];
  core_sha256(idh, n->node_pub, 32);
  core_hex_encode(n->node_id, idh, 20);
  n->mp = mempool_new(n->cfg.mempool_max_txs, n->cfg.mempool_max_bytes,
                      n->cfg.mempool_max_per_sender);
  cons_config cc = {.block_interval_ms = n->cfg.block_interval_ms,
                    .empty_block_interval_ms = n->cfg.empty_block_interval_ms,
                    .timeout_propose_ms = n->cfg.timeout_propose_ms,
                    .timeout_vote_ms = n->cfg.timeout_vote_ms};
  n->cons = cons_new(&cc, state_chain_id(n->st), privval_pubkey(n->pv));
  if (!n->mp || !n->cons) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  if ((rc = start_consensus(n, state_height(n->st) + 1, eb))) goto out;
  if ((rc = node_executor_prepare(n, eb))) goto out; /* [executor]: its key, its handle */
  n->loop = uv_default_loop();
  node_view_publish(n);
  if (!n->view) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  nr_view_refresh(n); /* the RPC thread's first view */
  node_rpc_market_config(&n->cfg);
  static const char *const topics[] = {"new_block", "tx", "task", "dispute", "validators",
                                       "proposal", NULL};
  rpc_config rcfg = {.listen = n->cfg.rpc_listen,
                     .max_body_bytes = n->cfg.rpc_max_body_bytes,
                     .max_batch = n->cfg.rpc_max_batch,
                     .max_conns = (unsigned)n->cfg.rpc_max_conns,
                     .idle_timeout_ms = n->cfg.rpc_idle_timeout_ms,
                     .metrics_fn = node_metrics,
                     .before_call = nr_view_refresh,
                     .topics = topics};
  rcfg.max_conns_per_ip = (unsigned)n->cfg.rpc_max_conns_per_ip;
  rcfg.max_ws = (unsigned)n->cfg.rpc_max_ws;
  rcfg.max_ws_per_ip = (unsigned)n->cfg.rpc_max_ws_per_ip;
  rcfg.max_inflight_per_ip = (unsigned)n->cfg.rpc_max_inflight_per_ip;
  rcfg.max_batch_weight = (unsigned)n->cfg.rpc_max_batch_weight;
  rcfg.max_response_bytes = n->cfg.rpc_max_response_bytes;
  rcfg.client_buffer_bytes = n->cfg.rpc_client_buffer_bytes;
  rcfg.max_buffer_bytes = n->cfg.rpc_max_buffer_bytes;
  rcfg.write_timeout_ms = n->cfg.rpc_write_timeout_ms;
  rcfg.publish_queue = n->cfg.rpc_publish_queue;
  size_t n_methods = node_rpc_n_methods + node_rpc_market_n_methods + node_rpc_staking_n_methods +
                     node_rpc_gov_n_methods;
  n->methods = malloc(n_methods * sizeof *n->methods);
  if (!n->methods) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  memcpy(n->methods, node_rpc_methods, node_rpc_n_methods * sizeof *n->methods);
  memcpy(n->methods + node_rpc_n_methods, node_rpc_market_methods,
         node_rpc_market_n_methods * sizeof *n->methods);
  memcpy(n->methods + node_rpc_n_methods + node_rpc_market_n_methods, node_rpc_staking_methods,
         node_rpc_staking_n_methods * sizeof *n->methods);
  memcpy(n->methods + node_rpc_n_methods + node_rpc_market_n_methods + node_rpc_staking_n_methods,
         node_rpc_gov_methods, node_rpc_gov_n_methods * sizeof *n->methods);
  n->m_start_ms = node_now_ms();
  if ((rc = rpc_server_new(&n->rpc, n->loop, &rcfg, n->methods, n_methods, n, eb))) goto out;
  if ((rc = node_net_start(n, eb))) goto out;
  uv_timer_init(n->loop, &n->timer);
  n->timer.data = n;
  uv_timer_init(n->loop, &n->kick);
  n->kick.data = n;
  uv_timer_init(n->loop, &n->waiter_timer);
  n->waiter_timer.data = n;
  uv_timer_start(&n->waiter_timer, on_waiter_timer, 250, 250);
  uv_signal_init(n->loop, &n->sigint);
  uv_signal_init(n->loop, &n->sigterm);
  n->sigint.data = n->sigterm.data = n;
  uv_signal_start(&n->sigint, on_signal, SIGINT);
  uv_signal_start(&n->sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  int in_set = 0;
  const Cohort__ValidatorSet *vs = state_validators(n->st);
  for (size_t i = 0; i < vs->n_validators; i++)
    in_set |= !memcmp(vs->validators[i]->pubkey.data, privval_pubkey(n->pv), 32);
  char vpk[65], ah[65];
  core_hex_encode(vpk, privval_pubkey(n->pv), 32);
  core_hex_encode(ah, state_app_hash(n->st), 32);
  LOGI(MOD, "cohortd started: chain=%s height=%llu app_hash=%s node_id=%s", state_chain_id(n->st),
       (unsigned long long)state_height(n->st), ah, n->node_id);
  LOGI(MOD, "validator key %s (%s); RPC on http://%s", vpk,
       in_set ? "in the validator set" : "NOT in the validator set: this node will not sign",
       n->cfg.rpc_listen);
  if (state_has_scheduled_work(n->st)) cons_on_txs_available(n->cons, 1, node_now_ms());
  cons_on_tick(n->cons, node_now_ms());
  pump(n);
  node_executor_start(n); /* last, so the RPC it talks to is up */
  uv_run(n->loop, UV_RUN_DEFAULT);

  /* Shutdown: stop the RPC server (its thread ends; broadcasts it had
   * queued for us run now and see `stopping`), answer the waiters (their
   * answers are dropped), then close every handle. The executor engine
   * goes first, while the RPC server it talks to still answers. */
  n->stopping = 1;
  node_executor_stop(n);
  rpc_server_close(n->rpc);
  n->rpc = NULL;
  for (waiter *w = n->waiters, *nx; w; w = nx) {
    nx = w->next;
    rpc_call_error(w->call, RPC_UNAVAILABLE, "node is shutting down", NULL);
    free(w);
  }
  n->waiters = NULL;
  n->n_waiters = 0;
  node_net_close(n); /* drops the peers; its handles close as the loop runs */
  uv_timer_stop(&n->timer);
  uv_timer_stop(&n->kick);
  while (!n->net_closed) uv_run(n->loop, UV_RUN_ONCE);
  uv_walk(n->loop, close_walk, NULL);
  uv_run(n->loop, UV_RUN_DEFAULT);
  uv_loop_close(n->loop);
  LOGI(MOD, "stopped cleanly at height %llu", (unsigned long long)state_height(n->st));
  rc = COHORT_OK;
out:
  rpc_server_close(n->rpc); /* on a failed start; NULL otherwise */
  node_executor_stop(n);    /* on a failed start: frees the unstarted handle */
  prop_clear(&n->prop);
  held_clear(n);
  evpool_free(&n->ev);
  cons_wal_close(n->wal);
  mempool_del(n->mp);
  cons_del(n->cons);
  privval_close(n->pv);
  beacon_keeper_close(n->beacon);
  state_close(n->st);
  kv_close(n->kv);
  genesis_free(&n->gen);
  free(n->methods);
  node_view_put(n->rpc_view);
  node_view_put(n->view);
  uv_mutex_destroy(&n->view_lock);
  uv_mutex_destroy(&n->mp_lock);
  uv_mutex_destroy(&n->net_lock);
  free(n->net_metrics);
  free(n->peers_json);
  free(n->decided_commit);
  free(n->late_pk);
  free(n->late_sig);
  if (n->late_base) cohort__commit__free_unpacked(n->late_base, NULL);
  sodium_memzero(n->node_sec, sizeof n->node_sec);
  sodium_memzero(n->fault_sec, sizeof n->fault_sec);
  free(n);
  return rc;
}
