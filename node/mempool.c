/* node/mempool.c — pending txs: an arrival-ordered list, a hash index, and
 * per-sender queues in nonce order with pending totals. Blocks are reaped
 * best fee-per-gas first by merging the senders' queues with a heap.
 * Open-addressing tables keyed by hashes (the keys are already uniformly
 * distributed). Not consensus code: no order here reaches the state except
 * through a block the proposer builds. */
#include "node/mempool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "proto/market.h"

typedef struct ent {
  tx_t tx;
  uint64_t gas;
  struct ent *prev, *next; /* all txs, arrival order */
  struct ent *snext;       /* the same sender's next (nonce order) */
} ent;

typedef struct {
  uint8_t id[20];
  int used;
  uint64_t count, crd, stk; /* pending txs, CRD spend (fees+amounts+escrow), STK spend */
  ent *head, *tail;
} sender;

struct mempool {
  size_t max_txs, max_bytes, max_per_sender, n, bytes;
  ent *head, *tail;
  ent **tab; /* by tx hash; NULL empty, TOMB deleted */
  size_t tcap;
  sender *snd;
  size_t scap, sn;
  uint64_t evicted;
  uint64_t gas_params[5]; /* the cost model's gas rows the entries' gas was computed with */
};

/* The parameters a tx's gas depends on (proto/market.h): when governance
 * changes one, every pending tx's gas is computed again at the next
 * rebuild, so a tx no block can include is dropped here too. */
static int gas_params_changed(mempool *mp, const Cohort__Params *p) {
  uint64_t g[5] = {p->gas_tx, p->gas_tx_byte, p->gas_state_byte, p->gas_task, p->gas_vm_kib};
  int changed = memcmp(g, mp->gas_params, sizeof g) != 0;
  memcpy(mp->gas_params, g, sizeof g);
  return changed;
}

static ent tomb;
#define TOMB (&tomb)

static uint64_t h64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

mempool *mempool_new(size_t max_txs, size_t max_bytes, size_t max_per_sender) {
  mempool *mp = calloc(1, sizeof *mp);
  if (!mp) return NULL;
  mp->max_txs = max_txs;
  mp->max_bytes = max_bytes;
  mp->max_per_sender = max_per_sender ? max_per_sender : max_txs;
  mp->tcap = 16;
  while (mp->tcap < max_txs * 2) mp->tcap *= 2;
  mp->scap = mp->tcap;
  mp->tab = calloc(mp->tcap, sizeof *mp->tab);
  mp->snd = calloc(mp->scap, sizeof *mp->snd);
  if (!mp->tab || !mp->snd) {
    mempool_del(mp);
    return NULL;
  }
  return mp;
}

void mempool_del(mempool *mp) {
  if (!mp) return;
  for (ent *e = mp->head, *nx; e; e = nx) {
    nx = e->next;
    tx_free(&e->tx);
    free(e);
  }
  free(mp->tab);
  free(mp->snd);
  free(mp);
}

static size_t find_slot(const mempool *mp, const uint8_t hash[32], int *found) {
  size_t m = mp->tcap - 1, i = h64(hash) & m, first_tomb = SIZE_MAX;
  for (;; i = (i + 1) & m) {
    ent *e = mp->tab[i];
    if (!e) {
      *found = 0;
      return first_tomb != SIZE_MAX ? first_tomb : i;
    }
    if (e == TOMB) {
      if (first_tomb == SIZE_MAX) first_tomb = i;
    } else if (!memcmp(e->tx.hash, hash, 32)) {
      *found = 1;
      return i;
    }
  }
}

int mempool_has(const mempool *mp, const uint8_t hash[32]) {
  int f;
  find_slot(mp, hash, &f);
  return f;
}

int mempool_has_task(const mempool *mp, const uint8_t task_id[32]) {
  for (const ent *e = mp->head; e; e = e->next) {
    uint8_t id[32];
    int k = e->tx.body->msg_case;
    if (k == COHORT__TX_BODY__MSG_SUBMIT_TASK) market_task_id(id, e->tx.sender, e->tx.body->nonce);
    else if (k == COHORT__TX_BODY__MSG_SUBMIT_JOB) market_job_id(id, e->tx.sender, e->tx.body->nonce);
    else continue;
    if (!memcmp(id, task_id, 32)) return 1;
  }
  return 0;
}

uint64_t mempool_evicted(const mempool *mp) { return mp->evicted; }

/* Sender table: rebuilt from scratch on every recheck, so no deletes. */
static sender *get_sender(mempool *mp, const uint8_t id[20]) {
  size_t m = mp->scap - 1, i = h64(id) & m;
  for (;; i = (i + 1) & m) {
    if (!mp->snd[i].used) {
      mp->snd[i].used = 1;
      memcpy(mp->snd[i].id, id, 20);
      mp->sn++;
      return &mp->snd[i];
    }
    if (!memcmp(mp->snd[i].id, id, 20)) return &mp->snd[i];
  }
}

static const sender *find_sender(const mempool *mp, const uint8_t id[20]) {
  size_t m = mp->scap - 1, i = h64(id) & m;
  for (;; i = (i + 1) & m) {
    if (!mp->snd[i].used) return NULL;
    if (!memcmp(mp->snd[i].id, id, 20)) return &mp->snd[i];
  }
}

uint64_t mempool_sender_pending(const mempool *mp, const uint8_t id[20]) {
  const sender *s = find_sender(mp, id);
  return s ? s->count : 0;
}

uint64_t mempool_sender_next_nonce(const mempool *mp, const uint8_t id[20], uint64_t nonce) {
  const sender *s = find_sender(mp, id);
  for (const ent *e = s ? s->head : NULL; e; e = e->snext)
    if (e->tx.body->nonce == nonce) nonce++; /* (a queue is in nonce order) */
  return nonce;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  unsigned __int128 r = (unsigned __int128)a * b;
  return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

/* What a task escrows: reward + k fee allowances (proto/market.h). */
static uint64_t escrow_of(const Cohort__Params *p, uint64_t reward, uint32_t k, uint32_t out) {
  uint64_t a = sat_add(market_commit_allowance(p),
                       market_reveal_allowance(out ? out : p->max_inline_output, p));
  return sat_add(reward, sat_mul(a, k));
}

/* What this tx will take from the sender beyond the fee, per token. */
static void spend(const state *st, const tx_t *tx, uint64_t *crd, uint64_t *stk) {
  const Cohort__Params *p = state_params(st);
  *crd = *stk = 0;
  const Cohort__TxBody *b = tx->body;
  switch (b->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER:
      if (b->transfer->token == COHORT__TOKEN__STK) *stk = b->transfer->amount;
      else *crd = b->transfer->amount;
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_TASK: {
      const Cohort__MsgSubmitTask *m = b->submit_task;
      *crd = escrow_of(p, m->reward, m->committee, m->max_output_bytes);
      break;
    }
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: {
      const Cohort__MsgSubmitJob *j = b->submit_job;
      *crd = sat_mul(escrow_of(p, j->reward_per_chunk, j->committee, j->max_output_bytes),
                     j->n_inputs);
      break;
    }
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR:
      *stk = b->register_executor->add_stake;
      break;
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR:
      *stk = b->create_validator->self_bond;
      break;
    case COHORT__TX_BODY__MSG_DELEGATE:
      *stk = b->delegate->amount;
      break;
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB: /* storage fee, if the blob is new */
      *crd = sat_mul(b->upload_blob->data.len, p->blob_byte_fee);
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL: /* the deposit, STK */
      *stk = b->submit_proposal->deposit;
      break;
    case COHORT__TX_BODY__MSG_DEPOSIT:
      *stk = b->deposit->amount;
      break;
    default:
      break;
  }
}

/* The task a commit or reveal is about, or NULL. */
static const uint8_t *market_target(const tx_t *tx) {
  const Cohort__TxBody *b = tx->body;
  if (b->msg_case == COHORT__TX_BODY__MSG_COMMIT_RESULT) return b->commit_result->task_id.data;
  if (b->msg_case == COHORT__TX_BODY__MSG_REVEAL_RESULT) return b->reveal_result->task_id.data;
  return NULL;
}

/* Check tx (whose full gas is `gas`) against the account and the sender's
 * pending totals s. On success, adds it to s's totals (not to its queue). */
static int check(state *st, sender *s, const tx_t *tx, uint64_t gas, core_errbuf *eb) {
  uint64_t crd, stk, nonce, want, need_crd, need_stk, amt_crd, amt_stk;
  int rc = state_get_account(st, tx->sender, &crd, &stk, &nonce);
  if (rc) return core_errf(eb, rc, "cannot read the sender's account");
  const Cohort__TxBody *b = tx->body;
  if (core_add_u64(&want, nonce, s->count)) return COHORT_ERR_OVERFLOW;
  if (b->nonce < nonce)
    return core_errf(eb, COHORT_ERR_NONCE_OLD,
                     "nonce %llu already used: the account's next nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)nonce);
  if (b->nonce < want)
    return core_errf(eb, COHORT_ERR_NONCE_OLD,
                     "nonce %llu is already taken by a pending tx; next free nonce is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)want);
  if (b->nonce > want)
    return core_errf(eb, COHORT_ERR_NONCE_FUTURE,
                     "nonce %llu skips ahead: the next nonce for this account is %llu",
                     (unsigned long long)b->nonce, (unsigned long long)want);
  uint64_t due = market_fee_due(gas, state_params(st));
  if (b->fee < due)
    return core_errf(eb, COHORT_ERR_FEE, "fee %llu is below the %llu CRD base units due for this "
                     "tx's %llu gas (docs/protocol.md \"Cost model\")",
                     (unsigned long long)b->fee, (unsigned long long)due, (unsigned long long)gas);
  spend(st, tx, &amt_crd, &amt_stk);
  if (core_add_u64(&need_crd, s->crd, b->fee) || core_add_u64(&need_crd, need_crd, amt_crd) ||
      core_add_u64(&need_stk, s->stk, amt_stk))
    return core_errf(eb, COHORT_ERR_OVERFLOW, "pending amounts overflow u64");
  if (need_crd > crd)
    return core_errf(eb, COHORT_ERR_FUNDS,
                     "insufficient CRD: balance %llu, needed %llu (fee + amount or escrow + pending)",
                     (unsigned long long)crd, (unsigned long long)need_crd);
  if (need_stk > stk)
    return core_errf(eb, COHORT_ERR_FUNDS,
                     "insufficient STK: balance %llu, needed %llu (amount + pending)",
                     (unsigned long long)stk, (unsigned long long)need_stk);
  s->count++;
  s->crd = need_crd;
  s->stk = need_stk;
  return COHORT_OK;
}

/* A duty: a message the chain waits for under a deadline that someone else
 * loses by if it is late — a committee member's commit or reveal, a move
 * of a verification game. Only parties may send them (the dry run checks),
 * so there are few; they go before every other tx and are never evicted
 * for one, so a rich spammer can neither outbid an honest party's move
 * out of this node's blocks nor push it out of the mempool. */
static int duty(const ent *e) {
  switch (e->tx.body->msg_case) {
    case COHORT__TX_BODY__MSG_COMMIT_RESULT:
    case COHORT__TX_BODY__MSG_REVEAL_RESULT:
    case COHORT__TX_BODY__MSG_DISPUTE_BISECT:
    case COHORT__TX_BODY__MSG_DISPUTE_SELECT:
    case COHORT__TX_BODY__MSG_DISPUTE_PROVE:
      return 1;
    default:
      return 0;
  }
}

/* a goes before b: a duty before anything else, then more fee per gas */
static int richer(const ent *a, const ent *b) {
  int da = duty(a), db = duty(b);
  if (da != db) return da > db;
  return (unsigned __int128)a->tx.body->fee * (b->gas ? b->gas : 1) >
         (unsigned __int128)b->tx.body->fee * (a->gas ? a->gas : 1);
}

static void free_ent(mempool *mp, ent *e) {
  mp->n--;
  mp->bytes -= e->tx.raw_len;
  tx_free(&e->tx);
  free(e);
}

static void unlink_list(mempool *mp, ent *e) {
  if (e->prev) e->prev->next = e->next;
  else mp->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else mp->tail = e->prev;
}

/* Rebuild the hash table (clears tombstones), the sender totals and queues
 * from the arrival list; txs that no longer pass are dropped. */
static size_t rebuild(mempool *mp, state *st) {
  memset(mp->tab, 0, mp->tcap * sizeof *mp->tab);
  memset(mp->snd, 0, mp->scap * sizeof *mp->snd);
  mp->sn = 0;
  size_t dropped = 0;
  int regas = gas_params_changed(mp, state_params(st));
  for (ent *e = mp->head, *nx; e; e = nx) {
    nx = e->next;
    sender *s = get_sender(mp, e->tx.sender);
    uint64_t g;
    if (regas && !state_tx_gas(st, &e->tx, &g)) e->gas = g;
    if (check(st, s, &e->tx, e->gas, NULL) != COHORT_OK) {
      unlink_list(mp, e);
      free_ent(mp, e);
      dropped++;
      continue;
    }
    e->snext = NULL;
    if (s->tail) s->tail->snext = e;
    else s->head = e;
    s->tail = e;
    int f;
    mp->tab[find_slot(mp, e->tx.hash, &f)] = e;
  }
  return dropped;
}

/* The cheapest last-in-queue tx of any sender but `not`: evicting it keeps
 * every sender's nonce chain whole. */
static ent *cheapest_tail(mempool *mp, const uint8_t not[20]) {
  ent *worst = NULL;
  for (size_t i = 0; i < mp->scap; i++) {
    sender *s = &mp->snd[i];
    if (!s->used || !s->tail || !memcmp(s->id, not, 20)) continue;
    if (!worst || richer(worst, s->tail)) worst = s->tail;
  }
  return worst;
}

static void evict(mempool *mp, ent *e) {
  sender *s = get_sender(mp, e->tx.sender);
  ent *prev = NULL;
  for (ent *x = s->head; x && x != e; x = x->snext) prev = x;
  if (prev) prev->snext = NULL;
  else s->head = NULL;
  s->tail = prev;
  s->count--; /* totals stay a little high until the next rebuild: safe */
  int f;
  size_t slot = find_slot(mp, e->tx.hash, &f);
  if (f) mp->tab[slot] = TOMB;
  unlink_list(mp, e);
  free_ent(mp, e);
  mp->evicted++;
}

int mempool_add(mempool *mp, state *st, tx_t *tx, core_errbuf *eb) {
  const Cohort__Params *p = state_params(st);
  if (tx->raw_len > p->max_tx_bytes)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "tx is %zu bytes, the limit is %u",
                     tx->raw_len, p->max_tx_bytes);
  int found;
  find_slot(mp, tx->hash, &found);
  if (found) return core_errf(eb, COHORT_ERR_DUPLICATE, "tx is already in the mempool");
  Cohort__TxResult *r;
  if (state_get_tx_result(st, tx->hash, &r) == COHORT_OK) {
    cohort__tx_result__free_unpacked(r, NULL);
    return core_errf(eb, COHORT_ERR_DUPLICATE, "tx is already committed");
  }
  if (tx_verify(tx, state_chain_id(st)))
    return core_errf(eb, COHORT_ERR_SIGNATURE,
                     "signature does not verify for chain \"%s\" (wrong key, tampered "
                     "body, or signed for another chain)", state_chain_id(st));
  /* Keep the sender table at most half full. */
  if ((mp->sn + 1) * 2 > mp->scap) rebuild(mp, st);
  if ((mp->sn + 1) * 2 > mp->scap)
    return core_errf(eb, COHORT_ERR_MEMPOOL_FULL, "mempool sender table is full");
  sender *s = get_sender(mp, tx->sender), tmp = *s;
  if (s->count >= mp->max_per_sender)
    return core_errf(eb, COHORT_ERR_MEMPOOL_FULL, "this sender has %llu txs pending, the most the "
                     "mempool keeps per sender; retry after the next block",
                     (unsigned long long)s->count);
  const uint8_t *target = market_target(tx);
  for (ent *e = s->head; target && e; e = e->snext) {
    const uint8_t *t2 = market_target(&e->tx);
    if (t2 && e->tx.body->msg_case == tx->body->msg_case && !memcmp(t2, target, 32))
      return core_errf(eb, COHORT_ERR_DUPLICATE, "a %s for this task from this sender is pending "
                       "already", tx_msg_name(tx->body));
  }
  /* Nonce, fee (for the full gas, known from blob sizes without running
   * anything) and funds first: they are cheap, and a tx that fails them
   * must not make this node build a single VM. */
  uint64_t gas;
  int rc = state_tx_gas(st, tx, &gas);
  if (rc) return core_errf(eb, rc, "cannot read the blobs the tx names: %s", core_err_str(rc));
  if (gas > p->max_block_gas)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "tx needs %llu gas, more than a block holds (%llu)",
                     (unsigned long long)gas, (unsigned long long)p->max_block_gas);
  if ((rc = check(st, &tmp, tx, gas, eb))) return rc;
  /* The message itself must make sense against the committed state (a
   * commit from a non-member, a task nobody can serve, ...): refuse it here
   * rather than charge a fee for a certain failure. */
  state_tx_result dry;
  rc = state_check_msg(st, tx, &dry);
  if (rc) return core_errf(eb, rc, "cannot check the message: %s", core_err_str(rc));
  if (dry.code) return core_errf(eb, dry.code, "%s", dry.log);
  if (dry.gas > gas) gas = dry.gas; /* (the same, unless a blob changed meanwhile) */
  ent *e = calloc(1, sizeof *e);
  if (!e) return COHORT_ERR_NOMEM;
  e->gas = gas;
  e->tx = *tx; /* borrowed until added; ownership moves only on success */
  /* Full: evict the cheapest tail of another sender if this pays more. */
  while (mp->n >= mp->max_txs || mp->bytes + tx->raw_len > mp->max_bytes) {
    ent *w = cheapest_tail(mp, tx->sender);
    if (!w || !richer(e, w)) {
      free(e);
      return core_errf(eb, COHORT_ERR_MEMPOOL_FULL,
                       "mempool is full (%zu txs, %zu bytes) and this tx pays no more per gas "
                       "than what waits; raise the fee or retry after the next block",
                       mp->n, mp->bytes);
    }
    evict(mp, w);
  }
  s = get_sender(mp, tx->sender); /* (eviction does not move table entries) */
  tmp.head = s->head;
  tmp.tail = s->tail;
  *s = tmp;
  memset(tx, 0, sizeof *tx);
  size_t slot = find_slot(mp, e->tx.hash, &found);
  e->prev = mp->tail;
  if (mp->tail) mp->tail->next = e;
  else mp->head = e;
  mp->tail = e;
  if (s->tail) s->tail->snext = e;
  else s->head = e;
  s->tail = e;
  mp->tab[slot] = e;
  mp->n++;
  mp->bytes += e->tx.raw_len;
  return COHORT_OK;
}

size_t mempool_size(const mempool *mp) { return mp->n; }
size_t mempool_bytes(const mempool *mp) { return mp->bytes; }

/* Max-heap of sender queue cursors by the fee per gas of their head. */
static void sift_down(ent **h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && richer(h[l], h[m])) m = l;
    if (r < n && richer(h[r], h[m])) m = r;
    if (m == i) return;
    ent *t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

size_t mempool_reap(mempool *mp, size_t max_txs, size_t max_bytes, const tx_t **out) {
  size_t hn = 0;
  ent **h = malloc((mp->sn ? mp->sn : 1) * sizeof *h);
  if (!h) return 0;
  for (size_t i = 0; i < mp->scap; i++)
    if (mp->snd[i].used && mp->snd[i].head) h[hn++] = mp->snd[i].head;
  for (size_t i = hn / 2; i-- > 0;) sift_down(h, hn, i);
  size_t n = 0, bytes = 0;
  while (hn && n < max_txs) {
    ent *e = h[0];
    if (bytes + e->tx.raw_len > max_bytes) {
      h[0] = h[--hn]; /* this sender's chain stops here */
    } else {
      bytes += e->tx.raw_len;
      out[n++] = &e->tx;
      if (e->snext) h[0] = e->snext;
      else h[0] = h[--hn];
    }
    sift_down(h, hn, 0);
  }
  free(h);
  return n;
}

size_t mempool_update(mempool *mp, state *st, const uint8_t (*committed)[32], size_t n) {
  for (size_t i = 0; i < n; i++) {
    int f;
    size_t slot = find_slot(mp, committed[i], &f);
    if (!f) continue;
    ent *e = mp->tab[slot];
    mp->tab[slot] = TOMB;
    unlink_list(mp, e);
    free_ent(mp, e);
  }
  return rebuild(mp, st);
}
