/* p2p/p2p_book.c — the address book (nodes we may dial, with their backoff)
 * and the reputation table (penalty points and bans by node ID, dialled
 * address and IP). Both are small bounded arrays searched linearly: a node
 * keeps tens of peers and at most P2P_BOOK_MAX / P2P_REP_MAX entries, and
 * nothing here runs per message. Time comes in as arguments. */
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p_int.h"

uint64_t p2p_backoff_ms(unsigned attempts, uint64_t min, uint64_t max, uint32_t rnd) {
  if (min == 0) min = 1;
  if (max < min) max = min;
  uint64_t d = min;
  for (unsigned i = 0; i < attempts && d < max; i++) d = d > max / 2 ? max : d * 2;
  if (d > max) d = max;
  uint64_t half = d / 2;
  return half + (half ? (uint64_t)rnd % (d - half + 1) : 0);
}

p2p_book_entry *p2p_book_find(p2p_switch *sw, const char *id) {
  for (size_t i = 0; i < sw->n_book; i++)
    if (strcmp(sw->book[i].id, id) == 0) return &sw->book[i];
  return NULL;
}

p2p_book_entry *p2p_book_add(p2p_switch *sw, const char *id, const p2p_hostport *hp,
                             unsigned flags) {
  p2p_book_entry *e = p2p_book_find(sw, id);
  if (e) {
    /* Configured addresses win; a learned one replaces a failing one. */
    if ((flags & (BOOK_PERSISTENT | BOOK_SEED)) || (!(e->flags & (BOOK_PERSISTENT | BOOK_SEED)) &&
                                                    e->attempts > 0 && !e->last_ok_ms)) {
      if (strcmp(e->hp.addr, hp->addr) != 0) {
        e->hp = *hp;
        e->attempts = 0;
        e->next_dial_ms = 0;
      }
    }
    e->flags |= flags;
    return e;
  }
  if (sw->n_book >= P2P_BOOK_MAX) return NULL;
  e = &sw->book[sw->n_book++];
  memset(e, 0, sizeof *e);
  memcpy(e->id, id, P2P_ID_HEX + 1);
  e->hp = *hp;
  e->flags = flags;
  return e;
}

void p2p_book_remove(p2p_switch *sw, p2p_book_entry *e) {
  size_t i = (size_t)(e - sw->book);
  if (i >= sw->n_book) return;
  sw->book[i] = sw->book[--sw->n_book];
}

static p2p_rep *rep_find(const p2p_switch *sw, const char *key) {
  for (size_t i = 0; i < sw->n_rep; i++)
    if (strcmp(sw->rep[i].key, key) == 0) return &sw->rep[i];
  return NULL;
}

static void decay(p2p_rep *r, uint64_t now) {
  if (now <= r->points_ms) return;
  uint64_t steps = (now - r->points_ms) / P2P_SCORE_DECAY_MS;
  if (!steps) return;
  r->points = steps >= (uint64_t)r->points ? 0 : r->points - (int)steps;
  r->points_ms += steps * P2P_SCORE_DECAY_MS;
}

/* An entry for key, evicting a forgotten one (no points, no ban) or else
 * the one with the fewest points that is not banned; NULL if all are banned. */
static p2p_rep *rep_get(p2p_switch *sw, const char *key, uint64_t now) {
  p2p_rep *r = rep_find(sw, key);
  if (r) return r;
  if (sw->n_rep < P2P_REP_MAX) {
    r = &sw->rep[sw->n_rep++];
  } else {
    p2p_rep *best = NULL;
    for (size_t i = 0; i < sw->n_rep; i++) {
      p2p_rep *c = &sw->rep[i];
      decay(c, now);
      if (c->banned_until > now) continue;
      if (!best || c->points < best->points) best = c;
    }
    if (!best) return NULL;
    r = best;
  }
  memset(r, 0, sizeof *r);
  size_t n = strlen(key);
  if (n >= sizeof r->key) n = sizeof r->key - 1;
  memcpy(r->key, key, n);
  r->points_ms = now;
  return r;
}

int p2p_rep_add(p2p_switch *sw, const char *key, int points, uint64_t now) {
  p2p_rep *r = rep_get(sw, key, now);
  if (!r) return P2P_BAN_POINTS; /* the table is all bans: treat as the worst */
  decay(r, now);
  r->points += points;
  if (r->points > 10 * P2P_BAN_POINTS) r->points = 10 * P2P_BAN_POINTS;
  return r->points;
}

int p2p_rep_points(const p2p_switch *sw, const char *key, uint64_t now) {
  p2p_rep *r = rep_find(sw, key);
  if (!r) return 0;
  uint64_t steps = now > r->points_ms ? (now - r->points_ms) / P2P_SCORE_DECAY_MS : 0;
  return steps >= (uint64_t)r->points ? 0 : r->points - (int)steps;
}

void p2p_rep_ban(p2p_switch *sw, const char *key, uint64_t now, uint64_t ms) {
  p2p_rep *r = rep_get(sw, key, now);
  if (!r) return;
  r->banned_until = now + ms;
  r->points = 0; /* the ban is the sentence; it starts afresh after */
  r->points_ms = now;
}

uint64_t p2p_rep_banned(const p2p_switch *sw, const char *key, uint64_t now) {
  p2p_rep *r = rep_find(sw, key);
  return r && r->banned_until > now ? r->banned_until - now : 0;
}

int p2p_ip_is_loopback(const char *ip) {
  return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
         strncmp(ip, "::ffff:127.", 11) == 0;
}
