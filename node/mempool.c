/* node/mempool.c — FIFO list of txs with a hash index and per-sender
 * pending totals. Open-addressing tables keyed by hashes (the keys are
 * already uniformly distributed). Not consensus code: order of the tables
 * never reaches a block; the FIFO list does. */
#include "node/mempool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

typedef struct ent {
  tx_t tx;
  struct ent *prev, *next;
} ent;

typedef struct {
  uint8_t id[20];
  int used;
  uint64_t count, crd, stk; /* pending txs, CRD spend (fees+amounts), STK spend */
} sender;

struct mempool {
  size_t max_txs, max_bytes, n, bytes;
  ent *head, *tail;
  ent **tab; /* by tx hash; NULL empty, TOMB deleted */
  size_t tcap;
  sender *snd;
  size_t scap, sn;
};

static ent tomb;
#define TOMB (&tomb)

static uint64_t h64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

mempool *mempool_new(size_t max_txs, size_t max_bytes) {
  mempool *mp = calloc(1, sizeof *mp);
  if (!mp) return NULL;
  mp->max_txs = max_txs;
  mp->max_bytes = max_bytes;
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

uint64_t mempool_sender_pending(const mempool *mp, const uint8_t id[20]) {
  size_t m = mp->scap - 1, i = h64(id) & m;
  for (;; i = (i + 1) & m) {
    if (!mp->snd[i].used) return 0;
    if (!memcmp(mp->snd[i].id, id, 20)) return mp->snd[i].count;
  }
}

/* What this tx will take from the sender beyond the fee, per token. */
static void spend(const state *st, const tx_t *tx, uint64_t *crd, uint64_t *stk) {
  *crd = *stk = 0;
  const Cohort__TxBody *b = tx->body;
  switch (b->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER:
      if (b->transfer->token == COHORT__TOKEN__STK) *stk = b->transfer->amount;
      else *crd = b->transfer->amount;
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_TASK:
      *crd = b->submit_task->reward; /* escrowed */
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: {
      unsigned __int128 r = (unsigned __int128)b->submit_job->reward_per_chunk * b->submit_job->n_inputs;
      *crd = r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
      break;
    }
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR:
      *stk = b->register_executor->add_stake;
      break;
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB: { /* storage fee, if the blob is new */
      unsigned __int128 f = (unsigned __int128)b->upload_blob->data.len *
                            state_params(st)->blob_byte_fee;
      *crd = f > UINT64_MAX ? UINT64_MAX : (uint64_t)f;
      break;
    }
    default:
      break;
  }
}

/* Check tx against the account and the sender's pending totals s. On
 * success, adds it to s. */
static int check(state *st, sender *s, const tx_t *tx, core_errbuf *eb) {
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
  uint64_t min_fee = state_params(st)->min_fee;
  if (b->fee < min_fee)
    return core_errf(eb, COHORT_ERR_FEE, "fee %llu is below the minimum fee %llu",
                     (unsigned long long)b->fee, (unsigned long long)min_fee);
  spend(st, tx, &amt_crd, &amt_stk);
  if (core_add_u64(&need_crd, s->crd, b->fee) || core_add_u64(&need_crd, need_crd, amt_crd) ||
      core_add_u64(&need_stk, s->stk, amt_stk))
    return core_errf(eb, COHORT_ERR_OVERFLOW, "pending amounts overflow u64");
  if (need_crd > crd)
    return core_errf(eb, COHORT_ERR_FUNDS,
                     "insufficient CRD: balance %llu, needed %llu (fee + amount + pending)",
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

int mempool_add(mempool *mp, state *st, tx_t *tx, core_errbuf *eb) {
  if (mp->n >= mp->max_txs || mp->bytes + tx->raw_len > mp->max_bytes)
    return core_errf(eb, COHORT_ERR_MEMPOOL_FULL,
                     "mempool is full (%zu txs, %zu bytes); retry after the next block",
                     mp->n, mp->bytes);
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
  if ((mp->sn + 1) * 2 > mp->scap) mempool_update(mp, st, NULL, 0);
  if ((mp->sn + 1) * 2 > mp->scap)
    return core_errf(eb, COHORT_ERR_MEMPOOL_FULL, "mempool sender table is full");
  sender *s = get_sender(mp, tx->sender), tmp = *s;
  int rc = check(st, &tmp, tx, eb); /* nonce, fee, funds: cheap, so first */
  if (rc) return rc;
  /* The message itself must make sense against the committed state (a
   * commit from a non-member, a task nobody can serve, ...): refuse it here
   * rather than charge a fee for a certain failure. */
  state_tx_result dry;
  rc = state_check_msg(st, tx, &dry);
  if (rc) return core_errf(eb, rc, "cannot check the message: %s", core_err_str(rc));
  if (dry.code) return core_errf(eb, dry.code, "%s", dry.log);
  *s = tmp;
  size_t slot = find_slot(mp, tx->hash, &found); /* the table may have been rebuilt */
  ent *e = calloc(1, sizeof *e);
  if (!e) return COHORT_ERR_NOMEM; /* s keeps an over-count until the next recheck */
  e->tx = *tx;
  memset(tx, 0, sizeof *tx);
  e->prev = mp->tail;
  if (mp->tail) mp->tail->next = e;
  else mp->head = e;
  mp->tail = e;
  mp->tab[slot] = e;
  mp->n++;
  mp->bytes += e->tx.raw_len;
  return COHORT_OK;
}

size_t mempool_size(const mempool *mp) { return mp->n; }
size_t mempool_bytes(const mempool *mp) { return mp->bytes; }

size_t mempool_reap(mempool *mp, size_t max_txs, size_t max_bytes,
                    const tx_t **out) {
  size_t n = 0, bytes = 0;
  for (ent *e = mp->head; e && n < max_txs; e = e->next) {
    if (bytes + e->tx.raw_len > max_bytes) break;
    bytes += e->tx.raw_len;
    out[n++] = &e->tx;
  }
  return n;
}

static void unlink_ent(mempool *mp, ent *e) {
  int f;
  size_t slot = find_slot(mp, e->tx.hash, &f);
  if (f) mp->tab[slot] = TOMB;
  if (e->prev) e->prev->next = e->next;
  else mp->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else mp->tail = e->prev;
  mp->n--;
  mp->bytes -= e->tx.raw_len;
  tx_free(&e->tx);
  free(e);
}

size_t mempool_update(mempool *mp, state *st, const uint8_t (*committed)[32],
                      size_t n) {
  for (size_t i = 0; i < n; i++) {
    int f;
    size_t slot = find_slot(mp, committed[i], &f);
    if (f) unlink_ent(mp, mp->tab[slot]);
  }
  /* Rebuild the hash table (clears tombstones) and the sender totals. */
  memset(mp->tab, 0, mp->tcap * sizeof *mp->tab);
  memset(mp->snd, 0, mp->scap * sizeof *mp->snd);
  mp->sn = 0;
  size_t dropped = 0;
  for (ent *e = mp->head, *nx; e; e = nx) {
    nx = e->next;
    sender *s = get_sender(mp, e->tx.sender);
    if (check(st, s, &e->tx, NULL) != COHORT_OK) {
      e->prev ? (void)(e->prev->next = e->next) : (void)(mp->head = e->next);
      e->next ? (void)(e->next->prev = e->prev) : (void)(mp->tail = e->prev);
      mp->n--;
      mp->bytes -= e->tx.raw_len;
      tx_free(&e->tx);
      free(e);
      dropped++;
      continue;
    }
    int f;
    mp->tab[find_slot(mp, e->tx.hash, &f)] = e;
  }
  return dropped;
}
