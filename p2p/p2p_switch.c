/* p2p/p2p_switch.c — the switch: listener, dialler, peer table, duplicate
 * resolution, keep-alives, PEX, scores and bans, metrics, shutdown
 * (p2p.h is the contract; p2p_peer.c runs each connection).
 *
 * One timer ("tick", every tick_ms) drives everything that depends on time:
 * handshake deadlines, pings and pong deadlines, the stall deadline of peers
 * that do not read, redials of persistent peers when their backoff expires,
 * dials of learned addresses while outbound slots are free, and PEX requests
 * while the node is short of peers. Nothing here blocks; the tick never
 * does more than a few dials.
 *
 * Duplicates. Two nodes that dial each other at once end up with two
 * authenticated connections; both sides must keep the same one. When a
 * connection to node X completes while another to X is up:
 *   - if both were initiated by the same side (X redialled, e.g. after a
 *     restart that left our old connection half-open), keep the newer;
 *   - else keep the one initiated by the node with the smaller node ID
 *     (compared as lowercase hex, i.e. as bytes).
 * The other is closed with COHORT_ERR_DUPLICATE (on_peer_down/on_peer_up if
 * the replaced one was up). We never dial a node we are connected to or
 * dialling, so only simultaneous dials and redials after a restart meet here.
 *
 * Shutdown. p2p_switch_close closes the listener, the timer and every peer;
 * each close callback counts down, and the last one frees the switch (never
 * synchronously inside p2p_switch_close, so callers may close from a
 * callback).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/log.h"
#include "p2p/p2p_int.h"

static const uint32_t DEFAULT_MAX_MSG[P2P_CH_COUNT] = {64u << 10, 4u << 20, 16u << 20, 4u << 20,
                                                       16u << 20};

static void maybe_finish(p2p_switch *sw);

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ms(const p2p_switch *sw) { return uv_now(sw->loop); }

static void key_id(char *k, size_t cap, const char *id) { snprintf(k, cap, "id:%s", id); }
static void key_addr(char *k, size_t cap, const char *a) { snprintf(k, cap, "addr:%s", a); }
static void key_ip(char *k, size_t cap, const char *ip) { snprintf(k, cap, "ip:%s", ip); }

#define KEYLEN (P2P_ADDR_STR + 8)

static int id_banned(const p2p_switch *sw, const char *id, uint64_t now) {
  char k[KEYLEN];
  key_id(k, sizeof k, id);
  return p2p_rep_banned(sw, k, now) > 0;
}

static int addr_banned(const p2p_switch *sw, const char *addr, uint64_t now) {
  char k[KEYLEN];
  key_addr(k, sizeof k, addr);
  return p2p_rep_banned(sw, k, now) > 0;
}

static int authed(const p2p_peer *p) { return p->state == PS_UP || p->state == PS_ACCEPTED; }

static p2p_peer *find_up(const p2p_switch *sw, const char *id) {
  for (p2p_peer *p = sw->peers; p; p = p->next)
    if (p->state == PS_UP && strcmp(p->info.id, id) == 0) return p;
  return NULL;
}

/* Accepted or up with that ID. */
static p2p_peer *find_authed(const p2p_switch *sw, const char *id) {
  for (p2p_peer *p = sw->peers; p; p = p->next)
    if (authed(p) && strcmp(p->info.id, id) == 0) return p;
  return NULL;
}

/* Accepted or up with that ID, or dialling it. */
static int is_connected(const p2p_switch *sw, const char *id) {
  for (p2p_peer *p = sw->peers; p; p = p->next) {
    if (p->state == PS_CLOSING) continue;
    if (authed(p) && strcmp(p->info.id, id) == 0) return 1;
    if (p->info.outbound && strcmp(p->dial_id, id) == 0) return 1;
  }
  return 0;
}

/* Peers of one direction: all that are not closing, or (authed_only) those
 * accepted or up; nonpersistent leaves out persistent ones. */
static unsigned count_peers(const p2p_switch *sw, int outbound, int authed_only,
                            int nonpersistent) {
  unsigned n = 0;
  for (p2p_peer *p = sw->peers; p; p = p->next) {
    if (p->state == PS_CLOSING || p->info.outbound != outbound) continue;
    if (authed_only && !authed(p)) continue;
    if (nonpersistent && p->info.persistent) continue;
    n++;
  }
  return n;
}

static unsigned n_persistent(const p2p_switch *sw) {
  unsigned n = 0;
  for (size_t i = 0; i < sw->n_book; i++) n += (sw->book[i].flags & BOOK_PERSISTENT) != 0;
  return n;
}

static int is_persistent_id(const p2p_switch *sw, const char *id) {
  p2p_book_entry *e = p2p_book_find((p2p_switch *)sw, id);
  return e && (e->flags & BOOK_PERSISTENT);
}

/* ---- offences and bans -------------------------------------------------- */

static void ban_key(p2p_switch *sw, const char *key, uint64_t now) {
  p2p_rep_ban(sw, key, now, sw->ban_ms);
}

int p2p_switch_offence(p2p_switch *sw, p2p_peer *p, int points, int reason, const char *why) {
  uint64_t now = now_ms(sw);
  char lbl[P2P_ID_HEX + P2P_ADDR_STR + 2], k[KEYLEN];
  p2p_peer_label(p, lbl, sizeof lbl);
  sw->st.penalties++;
  int ip_ok = p->ip[0] && !p->info.outbound && !p2p_ip_is_loopback(p->ip);
  if (p->info.id[0]) { /* authenticated: the node ID answers for it */
    key_id(k, sizeof k, p->info.id);
    int pts = p2p_rep_add(sw, k, points, now);
    p->info.score = pts;
    if (pts < P2P_BAN_POINTS) {
      LOGI(P2P_MOD, "peer %s: %d penalty points (now %d of %d): %s", lbl, points, pts,
           P2P_BAN_POINTS, why);
      return 0;
    }
    ban_key(sw, k, now);
    if (p->info.outbound) {
      key_addr(k, sizeof k, p->dial.addr);
      ban_key(sw, k, now);
    }
    if (ip_ok) {
      key_ip(k, sizeof k, p->ip);
      if (p2p_rep_add(sw, k, P2P_IP_POINTS, now) >= P2P_BAN_POINTS) ban_key(sw, k, now);
    }
  } else {
    /* Not authenticated: only the address we dialled or the IP is known. */
    int banned = 0;
    if (p->info.outbound) {
      key_addr(k, sizeof k, p->dial.addr);
      if (p2p_rep_add(sw, k, points, now) >= P2P_BAN_POINTS) {
        ban_key(sw, k, now);
        banned = 1;
      }
    } else if (ip_ok) {
      key_ip(k, sizeof k, p->ip);
      if (p2p_rep_add(sw, k, points < P2P_IP_POINTS ? points : P2P_IP_POINTS, now) >=
          P2P_BAN_POINTS) {
        ban_key(sw, k, now);
        banned = 1;
      }
    }
    if (!banned) {
      p2p_peer_close(p, reason, "%s", why);
      return 1;
    }
  }
  sw->st.bans++;
  LOGW(P2P_MOD, "banning peer %s for %llu s: %s", lbl, (unsigned long long)(sw->ban_ms / 1000),
       why);
  p2p_peer_close(p, reason, "banned: %s", why);
  return 1;
}

/* ---- the peer's life, as the switch sees it ----------------------------- */

static void peer_list_sorted_insert(p2p_peer_info *a, size_t *n, const p2p_peer_info *x) {
  size_t i = *n;
  while (i > 0 && strcmp(a[i - 1].id, x->id) > 0) {
    a[i] = a[i - 1];
    i--;
  }
  a[i] = *x;
  (*n)++;
}

/* Turn the address a peer advertised into one we can dial: an unspecified
 * host (0.0.0.0, ::) becomes the IP its connection comes from. */
static void fix_dial_addr(p2p_peer *p) {
  if (p->info.outbound) {
    snprintf(p->info.dial_addr, sizeof p->info.dial_addr, "%s", p->dial.addr);
    return;
  }
  if (!p->info.dial_addr[0]) return;
  p2p_hostport hp;
  if (p2p_hostport_parse(p->info.dial_addr, strlen(p->info.dial_addr), 0, 1, &hp, NULL) != 0) {
    p->info.dial_addr[0] = 0;
    return;
  }
  if (strcmp(hp.host, "0.0.0.0") == 0 || strcmp(hp.host, "::") == 0) {
    if (strchr(p->ip, ':'))
      snprintf(p->info.dial_addr, sizeof p->info.dial_addr, "[%s]:%u", p->ip, hp.port);
    else
      snprintf(p->info.dial_addr, sizeof p->info.dial_addr, "%s:%u", p->ip, hp.port);
  }
}

int p2p_switch_peer_ready(p2p_switch *sw, p2p_peer *p) {
  uint64_t now = now_ms(sw);
  char k[KEYLEN];
  key_id(k, sizeof k, p->info.id);
  uint64_t left = p2p_rep_banned(sw, k, now);
  if (left) {
    p2p_peer_close(p, COHORT_ERR_INVALID, "node %s is banned for %llu more s", p->info.id,
                   (unsigned long long)(left / 1000 + 1));
    return -1;
  }
  if (is_persistent_id(sw, p->info.id)) p->info.persistent = 1;
  if (!p->info.outbound && !p->info.persistent && count_peers(sw, 0, 1, 1) >= sw->max_in) {
    p2p_peer_close(p, COHORT_ERR_TOO_LARGE, "inbound peer limit (%u) reached", sw->max_in);
    return -1;
  }
  p2p_peer *q = find_authed(sw, p->info.id);
  if (q) {
    sw->st.duplicates++;
    int keep_new;
    if (q->info.outbound == p->info.outbound)
      keep_new = 1; /* same initiator: it redialled, the old one is stale */
    else
      keep_new = p->info.outbound == (strcmp(sw->id, p->info.id) < 0);
    if (!keep_new) {
      p2p_peer_close(p, COHORT_ERR_DUPLICATE, "already connected to node %s (keeping the %s connection)",
                     p->info.id, q->info.outbound ? "outbound" : "inbound");
      return -1;
    }
    p2p_peer_close(q, COHORT_ERR_DUPLICATE, "replaced by a%s %s connection to the same node",
                   q->info.outbound == p->info.outbound ? " newer" : "n",
                   p->info.outbound ? "outbound" : "inbound");
  }
  fix_dial_addr(p);
  p->state = PS_ACCEPTED;
  p->rl_ms = now;
  p->tok_msgs = sw->rate_msgs == P2P_UNLIMITED ? 0 : sw->rate_msgs * 2000;
  p->tok_bytes = sw->rate_bytes == P2P_UNLIMITED ? 0 : sw->rate_bytes * 2000;
  /* Our first frame: a Ping (it tells the peer we accepted it, and measures
   * the round trip), then a request for addresses. */
  randombytes_buf(&p->ping_nonce, sizeof p->ping_nonce);
  p2p_ctl ping = {.kind = P2P_CTL_PING, .nonce = p->ping_nonce};
  if (p2p_peer_send_ctl(p, &ping) == COHORT_OK) {
    p->ping_out = 1;
    p->ping_sent_ms = now;
  }
  if (p->state == PS_ACCEPTED && sw->pex) {
    p2p_ctl c = {.kind = P2P_CTL_PEX_REQUEST};
    if (p2p_peer_send_ctl(p, &c) == COHORT_OK) p->pex_asked = 1;
  }
  return p->state == PS_ACCEPTED ? 0 : -1;
}

int p2p_switch_peer_up(p2p_switch *sw, p2p_peer *p) {
  uint64_t now = now_ms(sw);
  char k[KEYLEN];
  key_id(k, sizeof k, p->info.id);
  p->state = PS_UP;
  p->info.up_since_ms = now;
  p->info.score = p2p_rep_points(sw, k, now);
  if (!p->ping_out) p->next_ping_ms = now + sw->ping_ms;
  if (p->info.outbound) {
    p2p_book_entry *e = p2p_book_find(sw, p->dial_id);
    if (e) e->last_ok_ms = now;
  } else if (p->info.dial_addr[0]) {
    p2p_hostport hp;
    if (p2p_hostport_parse(p->info.dial_addr, strlen(p->info.dial_addr), 0, 1, &hp, NULL) == 0) {
      p2p_book_entry *e = p2p_book_add(sw, p->info.id, &hp, BOOK_PEX);
      if (e) e->last_ok_ms = now;
    }
  }
  char lbl[P2P_ID_HEX + P2P_ADDR_STR + 2];
  LOGI(P2P_MOD, "peer up: %s (%s%s, moniker \"%s\", listens on %s)",
       p2p_peer_label(p, lbl, sizeof lbl), p->info.outbound ? "outbound" : "inbound",
       p->info.persistent ? ", persistent" : "", p->info.moniker,
       p->info.dial_addr[0] ? p->info.dial_addr : "-");
  if (sw->cb.on_peer_up) sw->cb.on_peer_up(sw->ctx, &p->info);
  return p->state == PS_UP ? 0 : -1;
}

void p2p_switch_peer_gone(p2p_switch *sw, p2p_peer *p, int was_up, int reason) {
  if (!p->info.outbound || sw->closing) return;
  uint64_t now = now_ms(sw);
  p2p_book_entry *e = p2p_book_find(sw, p->dial_id);
  if (!e) return;
  if (!was_up) sw->st.dials_failed++;
  int configured = (e->flags & (BOOK_PERSISTENT | BOOK_SEED)) != 0;
  if (was_up && now - p->info.up_since_ms >= P2P_STABLE_MS)
    e->attempts = 0;
  else if (e->attempts < 64)
    e->attempts++;
  /* Not of our network, or nobody there: forget a learned address. */
  if (!configured && (reason == COHORT_ERR_CHAIN_ID || reason == COHORT_ERR_UNSUPPORTED ||
                      reason == COHORT_ERR_KEY || e->attempts >= P2P_BOOK_MAX_FAILS)) {
    p2p_book_remove(sw, e);
    return;
  }
  uint64_t d = p2p_backoff_ms(e->attempts ? e->attempts - 1 : 0, sw->bo_min, sw->bo_max,
                              randombytes_random());
  e->next_dial_ms = now + d;
  char k[KEYLEN];
  key_addr(k, sizeof k, e->hp.addr);
  uint64_t ban = p2p_rep_banned(sw, k, now);
  if (ban && e->next_dial_ms < now + ban) e->next_dial_ms = now + ban;
  if (!was_up && (e->flags & BOOK_PERSISTENT) && (e->attempts & (e->attempts - 1)) == 0)
    LOGI(P2P_MOD, "persistent peer %s@%s unreachable (%u failed dial%s); next try in %llu ms",
         e->id, e->hp.addr, e->attempts, e->attempts == 1 ? "" : "s",
         (unsigned long long)(e->next_dial_ms - now));
}

void p2p_switch_peer_freed(p2p_switch *sw) {
  sw->n_peers--;
  maybe_finish(sw);
}

/* ---- PEX and keep-alives ------------------------------------------------- */

static void pex_answer(p2p_switch *sw, p2p_peer *to) {
  p2p_peer_addr *a = calloc(P2P_PEX_MAX_ADDRS, sizeof *a);
  if (!a) return;
  size_t n = 0;
  uint64_t now = now_ms(sw);
  /* Peers that are up first (their addresses are proven reachable), then
   * the book's addresses that worked at least once. */
  for (p2p_peer *q = sw->peers; q && n < P2P_PEX_MAX_ADDRS; q = q->next) {
    if (q == to || q->state != PS_UP || !q->info.dial_addr[0]) continue;
    if (p2p_hostport_parse(q->info.dial_addr, strlen(q->info.dial_addr), 0, 1, &a[n].hp, NULL))
      continue;
    memcpy(a[n].id, q->info.id, sizeof a[n].id);
    n++;
  }
  for (size_t i = 0; i < sw->n_book && n < P2P_PEX_MAX_ADDRS; i++) {
    const p2p_book_entry *e = &sw->book[i];
    if (!e->last_ok_ms || strcmp(e->id, to->info.id) == 0 || id_banned(sw, e->id, now)) continue;
    int dup = 0;
    for (size_t j = 0; j < n && !dup; j++) dup = strcmp(a[j].id, e->id) == 0;
    if (dup) continue;
    memcpy(a[n].id, e->id, sizeof a[n].id);
    a[n].hp = e->hp;
    n++;
  }
  for (size_t i = n; i > 1; i--) { /* shuffle: nobody learns our ordering */
    size_t j = randombytes_uniform((uint32_t)i);
    p2p_peer_addr t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
  p2p_ctl c = {.kind = P2P_CTL_PEX_ADDRS, .n_addrs = n, .addrs = a};
  p2p_peer_send_ctl(to, &c);
  free(a);
}

void p2p_switch_on_control(p2p_switch *sw, p2p_peer *p, const p2p_ctl *c) {
  uint64_t now = now_ms(sw);
  switch (c->kind) {
    case P2P_CTL_PING: {
      p2p_ctl pong = {.kind = P2P_CTL_PONG, .nonce = c->nonce};
      p2p_peer_send_ctl(p, &pong);
      break;
    }
    case P2P_CTL_PONG:
      if (p->ping_out && c->nonce == p->ping_nonce) {
        p->ping_out = 0;
        p->info.rtt_ms = now - p->ping_sent_ms;
        p->next_ping_ms = now + sw->ping_ms;
      }
      break;
    case P2P_CTL_PEX_REQUEST:
      /* One answer per half interval and peer: requests beyond are ignored
       * (the message rate limit bounds them anyway). */
      if (!sw->pex || (p->pex_answered_ms && now - p->pex_answered_ms < sw->pex_ms / 2)) break;
      p->pex_answered_ms = now;
      pex_answer(sw, p);
      break;
    case P2P_CTL_PEX_ADDRS:
      if (!sw->pex || !p->pex_asked) break; /* unsolicited: ignored */
      p->pex_asked = 0;
      for (size_t i = 0; i < c->n_addrs; i++) {
        const p2p_peer_addr *e = &c->addrs[i];
        if (strcmp(e->id, sw->id) == 0 || id_banned(sw, e->id, now)) continue;
        p2p_book_add(sw, e->id, &e->hp, BOOK_PEX);
      }
      break;
  }
}

/* ---- dialling ----------------------------------------------------------- */

static void dial(p2p_switch *sw, p2p_book_entry *e, uint64_t now) {
  p2p_peer *p = p2p_peer_new(sw);
  if (!p) return;
  sw->st.dials++;
  e->next_dial_ms = now + sw->hs_ms; /* rescheduled when it fails */
  LOGD(P2P_MOD, "dialling %s@%s", e->id, e->hp.addr);
  p2p_peer_dial(p, e);
}

static int dialable(const p2p_switch *sw, const p2p_book_entry *e, uint64_t now) {
  return now >= e->next_dial_ms && !is_connected(sw, e->id) && !id_banned(sw, e->id, now) &&
         !addr_banned(sw, e->hp.addr, now);
}

static void dial_some(p2p_switch *sw, uint64_t now) {
  for (size_t i = 0; i < sw->n_book; i++) {
    p2p_book_entry *e = &sw->book[i];
    if ((e->flags & BOOK_PERSISTENT) && dialable(sw, e, now)) dial(sw, e, now);
  }
  unsigned out = count_peers(sw, 1, 0, 1);
  for (int tries = 0; tries < 4 && out < sw->max_out; tries++) {
    size_t cand = 0;
    for (size_t i = 0; i < sw->n_book; i++)
      cand += !(sw->book[i].flags & BOOK_PERSISTENT) && dialable(sw, &sw->book[i], now);
    if (!cand) break;
    size_t pick = randombytes_uniform((uint32_t)cand);
    for (size_t i = 0; i < sw->n_book; i++) {
      p2p_book_entry *e = &sw->book[i];
      if ((e->flags & BOOK_PERSISTENT) || !dialable(sw, e, now)) continue;
      if (pick-- == 0) {
        dial(sw, e, now);
        out++;
        break;
      }
    }
  }
}

static void pex_ask(p2p_switch *sw, uint64_t now) {
  if (!sw->pex || now < sw->next_pex_ms) return;
  sw->next_pex_ms = now + sw->pex_ms;
  if (count_peers(sw, 1, 0, 1) >= sw->max_out) return;
  unsigned n = 0;
  for (p2p_peer *p = sw->peers; p; p = p->next) n += p->state == PS_UP && !p->pex_asked;
  if (!n) return;
  unsigned pick = randombytes_uniform(n);
  for (p2p_peer *p = sw->peers; p; p = p->next) {
    if (p->state != PS_UP || p->pex_asked) continue;
    if (pick-- == 0) {
      p2p_ctl c = {.kind = P2P_CTL_PEX_REQUEST};
      if (p2p_peer_send_ctl(p, &c) == COHORT_OK) p->pex_asked = 1;
      break;
    }
  }
}

static void check_peer(p2p_switch *sw, p2p_peer *p, uint64_t now) {
  switch (p->state) {
    case PS_RESOLVING:
    case PS_CONNECTING:
    case PS_HANDSHAKE:
    case PS_ACCEPTED:
      if (now >= p->deadline_ms)
        p2p_peer_close(p, COHORT_ERR_TIMEOUT, "no handshake within %llu ms",
                       (unsigned long long)sw->hs_ms);
      break;
    case PS_UP:
      if (p->full && now >= p->full_since_ms + sw->stall_ms) {
        char why[128];
        snprintf(why, sizeof why, "does not read: its send queue stayed full for %llu ms",
                 (unsigned long long)(now - p->full_since_ms));
        p2p_switch_offence(sw, p, P2P_BAN_POINTS, COHORT_ERR_TIMEOUT, why);
        break;
      }
      if (p->ping_out) {
        if (now - p->ping_sent_ms >= sw->pong_ms)
          p2p_peer_close(p, COHORT_ERR_TIMEOUT, "no pong within %llu ms",
                         (unsigned long long)sw->pong_ms);
      } else if (now >= p->next_ping_ms) {
        randombytes_buf(&p->ping_nonce, sizeof p->ping_nonce);
        p2p_ctl c = {.kind = P2P_CTL_PING, .nonce = p->ping_nonce};
        /* Sent ahead of any other traffic (control is channel 0). */
        if (p2p_peer_send_ctl(p, &c) == COHORT_OK) {
          p->ping_out = 1;
          p->ping_sent_ms = now;
        }
      }
      break;
    default:
      break;
  }
}

static void on_tick(uv_timer_t *t) {
  p2p_switch *sw = t->data;
  if (sw->closing) return;
  uint64_t now = now_ms(sw);
  for (p2p_peer *p = sw->peers, *n; p; p = n) {
    n = p->next;
    check_peer(sw, p, now);
  }
  if (sw->closing) return; /* a callback closed the switch */
  dial_some(sw, now);
  pex_ask(sw, now);
}

/* ---- accepting ---------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status) {
  p2p_switch *sw = server->data;
  if (sw->closing) return;
  if (status < 0) {
    LOGW(P2P_MOD, "accept failed: %s", uv_strerror(status));
    return;
  }
  p2p_peer *p = p2p_peer_new(sw);
  if (!p) {
    LOGE(P2P_MOD, "out of memory for an inbound connection");
    return;
  }
  int r = p2p_peer_accept(p, server);
  if (r) {
    p2p_peer_close(p, COHORT_ERR_IO, "accept failed: %s", uv_strerror(r));
    return;
  }
  sw->st.accepted++;
  uint64_t now = now_ms(sw);
  char k[KEYLEN];
  key_ip(k, sizeof k, p->ip);
  uint64_t left = p2p_rep_banned(sw, k, now);
  if (left) {
    sw->st.inbound_refused++;
    p2p_peer_close(p, COHORT_ERR_INVALID, "IP %s is banned for %llu more s", p->ip,
                   (unsigned long long)(left / 1000 + 1));
    return;
  }
  /* Handshaking connections count, so a flood of them cannot crowd out the
   * loop; persistent peers get room beyond max_inbound. */
  if (count_peers(sw, 0, 0, 0) > sw->max_in + n_persistent(sw)) {
    sw->st.inbound_refused++;
    p2p_peer_close(p, COHORT_ERR_TOO_LARGE, "too many inbound connections (%u)",
                   sw->max_in + n_persistent(sw));
    return;
  }
  p2p_peer_start(p);
}

/* ---- creation ----------------------------------------------------------- */

static int cfg_fail(p2p_switch *sw, int rc) {
  if (sw) {
    sodium_memzero(sw->sec, sizeof sw->sec);
    free(sw->book);
    free(sw->rep);
    free(sw);
  }
  return rc;
}

static uint64_t or_default(uint64_t v, uint64_t d) { return v ? v : d; }

/* Bind a plain socket first, so a taken port is reported here and not in
 * a later callback, and no handle needs closing on failure. */
static int bind_listener(const p2p_hostport *hp, int *fd_out, int *port_out, core_errbuf *eb) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (hp->kind == P2P_HOST_IPV4) {
    uv_ip4_addr(hp->host, hp->port, (struct sockaddr_in *)&ss);
    sl = sizeof(struct sockaddr_in);
  } else {
    uv_ip6_addr(hp->host, hp->port, (struct sockaddr_in6 *)&ss);
    sl = sizeof(struct sockaddr_in6);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core_errf(eb, COHORT_ERR_IO, "p2p listen %s: socket: %s", hp->addr, strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    return core_errf(eb, COHORT_ERR_IO, "p2p cannot listen on %s: %s", hp->addr, strerror(e));
  }
  struct sockaddr_storage got;
  socklen_t gl = sizeof got;
  int port = hp->port;
  if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
    port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&got)->sin_port);
  *fd_out = fd;
  *port_out = port;
  return COHORT_OK;
}

static int add_list(p2p_switch *sw, const char *list, unsigned flags, const char *name,
                    core_errbuf *eb) {
  p2p_peer_addr *a;
  size_t n;
  core_errbuf sub;
  int rc = p2p_peer_list_parse(list, &a, &n, &sub);
  if (rc == COHORT_ERR_NOMEM) return core_errf(eb, rc, "out of memory");
  if (rc) return core_errf(eb, COHORT_ERR_CONFIG, "p2p %s: %s", name, sub.msg);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(a[i].id, sw->id) == 0) continue; /* one list for every node: skip ourselves */
    if (!p2p_book_add(sw, a[i].id, &a[i].hp, flags)) {
      free(a);
      return core_errf(eb, COHORT_ERR_CONFIG, "p2p %s: too many addresses", name);
    }
  }
  free(a);
  return COHORT_OK;
}

int p2p_switch_set_max_msg(p2p_switch *sw, int ch, uint32_t max) {
  if (ch <= P2P_CH_CONTROL || ch >= P2P_CH_COUNT || max == 0 || max > P2P_MSG_MAX)
    return COHORT_ERR_INVALID;
  sw->max_msg[ch] = max;
  if (sw->qcap[ch] < 2ull * max) {
    uint64_t grow = 2ull * max - sw->qcap[ch];
    sw->qcap[ch] = 2ull * max;
    sw->peer_qcap += grow;
  }
  for (p2p_peer *p = sw->peers; p; p = p->next) p->as.max[ch] = max;
  return COHORT_OK;
}

int p2p_switch_new(p2p_switch **out, uv_loop_t *loop, const p2p_config *cfg,
                   const uint8_t identity_sec[64], const p2p_callbacks *cb, void *ctx,
                   core_errbuf *eb) {
  *out = NULL;
  if (!cfg || !identity_sec)
    return core_errf(eb, COHORT_ERR_CONFIG, "p2p: no configuration or identity key");
  if (!p2p_chain_id_is_valid(cfg->chain_id))
    return core_errf(eb, COHORT_ERR_CONFIG, "p2p chain_id must be 1-%d characters of [a-z0-9._-]",
                     P2P_CHAIN_ID_MAX);
  const char *mon = cfg->moniker ? cfg->moniker : "";
  if (!p2p_moniker_is_valid(mon, strlen(mon)))
    return core_errf(eb, COHORT_ERR_CONFIG, "p2p moniker must be at most %d printable ASCII characters",
                     P2P_MONIKER_MAX);
  /* The key must be the seed || pub pair it claims to be. */
  uint8_t chk_sec[64], chk_pub[32];
  crypto_sign_seed_keypair(chk_pub, chk_sec, identity_sec);
  int key_ok = sodium_memcmp(chk_pub, identity_sec + 32, 32) == 0;
  sodium_memzero(chk_sec, sizeof chk_sec);
  if (!key_ok) return core_errf(eb, COHORT_ERR_CONFIG, "p2p identity key: public half does not match the seed");

  p2p_switch *sw = calloc(1, sizeof *sw);
  if (!sw) return core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
  sw->book = calloc(P2P_BOOK_MAX, sizeof *sw->book);
  sw->rep = calloc(P2P_REP_MAX, sizeof *sw->rep);
  if (!sw->book || !sw->rep) return cfg_fail(sw, core_errf(eb, COHORT_ERR_NOMEM, "out of memory"));
  sw->loop = loop;
  if (cb) sw->cb = *cb;
  sw->ctx = ctx;
  memcpy(sw->sec, identity_sec, 64);
  p2p_node_id_hex(sw->id, identity_sec + 32);
  snprintf(sw->chain_id, sizeof sw->chain_id, "%s", cfg->chain_id);
  snprintf(sw->moniker, sizeof sw->moniker, "%s", mon);
  sw->pex = !cfg->no_pex;
  sw->max_in = cfg->max_inbound ? cfg->max_inbound : 40;
  sw->max_out = cfg->max_outbound ? cfg->max_outbound : 10;
  for (int c = 0; c < P2P_CH_COUNT; c++) {
    uint32_t m = cfg->max_msg_bytes[c] ? cfg->max_msg_bytes[c] : DEFAULT_MAX_MSG[c];
    if (c == P2P_CH_CONTROL) m = DEFAULT_MAX_MSG[c];
    if (m > P2P_MSG_MAX)
      return cfg_fail(sw, core_errf(eb, COHORT_ERR_CONFIG, "p2p max_msg_bytes of channel %s: %u is over %u",
                                    p2p_channel_name(c), m, P2P_MSG_MAX));
    sw->max_msg[c] = m;
    sw->qcap[c] = or_default(cfg->queue_bytes[c], c == P2P_CH_CONTROL ? 256u << 10 : 2ull * m);
  }
  sw->peer_qcap = or_default(cfg->peer_queue_bytes, 64u << 20);
  sw->hs_ms = or_default(cfg->handshake_timeout_ms, 10000);
  sw->ping_ms = or_default(cfg->ping_interval_ms, 10000);
  sw->pong_ms = or_default(cfg->pong_timeout_ms, 20000);
  sw->stall_ms = or_default(cfg->stall_timeout_ms, 20000);
  sw->ban_ms = or_default(cfg->ban_ms, 600000);
  sw->bo_min = or_default(cfg->backoff_min_ms, 500);
  sw->bo_max = or_default(cfg->backoff_max_ms, 60000);
  if (sw->bo_max < sw->bo_min) sw->bo_max = sw->bo_min;
  sw->pex_ms = or_default(cfg->pex_interval_ms, 30000);
  sw->rate_msgs = or_default(cfg->recv_msgs_per_s, 10000);
  sw->rate_bytes = or_default(cfg->recv_bytes_per_s, P2P_UNLIMITED);
  if (sw->rate_msgs > 1000000000000ull) sw->rate_msgs = P2P_UNLIMITED;
  if (sw->rate_bytes > 1000000000000ull) sw->rate_bytes = P2P_UNLIMITED;
  /* The tick: fine enough for the shortest deadline, never busier than 10 ms. */
  uint64_t t = sw->hs_ms;
  uint64_t all[] = {sw->ping_ms, sw->pong_ms, sw->stall_ms, sw->bo_min, sw->pex_ms};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i] < t) t = all[i];
  t /= 4;
  sw->tick_ms = t < 10 ? 10 : t > 250 ? 250 : t;

  int rc;
  if ((rc = add_list(sw, cfg->persistent_peers, BOOK_PERSISTENT, "persistent_peers", eb)))
    return cfg_fail(sw, rc);
  if ((rc = add_list(sw, cfg->seeds, BOOK_SEED, "seeds", eb))) return cfg_fail(sw, rc);

  p2p_hostport lhp;
  int listen = cfg->listen && *cfg->listen;
  if (listen) {
    core_errbuf sub;
    if (p2p_hostport_parse(cfg->listen, strlen(cfg->listen), 1, 0, &lhp, &sub))
      return cfg_fail(sw, core_errf(eb, COHORT_ERR_CONFIG, "p2p listen: %s", sub.msg));
  }
  if (cfg->external_addr && *cfg->external_addr) {
    p2p_hostport ehp;
    core_errbuf sub;
    if (p2p_hostport_parse(cfg->external_addr, strlen(cfg->external_addr), 0, 1, &ehp, &sub))
      return cfg_fail(sw, core_errf(eb, COHORT_ERR_CONFIG, "p2p external_addr: %s", sub.msg));
    snprintf(sw->advertise, sizeof sw->advertise, "%s", ehp.addr);
  }
  int fd = -1;
  sw->port = -1;
  if (listen) {
    if ((rc = bind_listener(&lhp, &fd, &sw->port, eb))) return cfg_fail(sw, rc);
    if (!sw->advertise[0]) {
      if (lhp.kind == P2P_HOST_IPV6)
        snprintf(sw->advertise, sizeof sw->advertise, "[%s]:%d", lhp.host, sw->port);
      else
        snprintf(sw->advertise, sizeof sw->advertise, "%s:%d", lhp.host, sw->port);
    }
  }
  /* Handles from here on: failures go through the close callbacks. */
  if (listen) {
    rc = uv_tcp_init(loop, &sw->listener);
    if (rc) {
      close(fd);
      return cfg_fail(sw, core_errf(eb, COHORT_ERR_IO, "p2p listen: %s", uv_strerror(rc)));
    }
    sw->listener.data = sw;
    sw->listener_open = 1;
    rc = uv_tcp_open(&sw->listener, fd);
    if (rc) close(fd);
    if (!rc) rc = uv_listen((uv_stream_t *)&sw->listener, 128, on_connection);
    if (rc) {
      core_errf(eb, COHORT_ERR_IO, "p2p cannot listen on %s: %s", lhp.addr, uv_strerror(rc));
      p2p_switch_close(sw, NULL, NULL);
      return COHORT_ERR_IO;
    }
    sw->listening = 1;
  }
  uv_timer_init(loop, &sw->tick);
  sw->tick.data = sw;
  sw->tick_open = 1;
  uv_timer_start(&sw->tick, on_tick, 0, sw->tick_ms);

  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
  LOGI(P2P_MOD, "node %s on chain %s: %s%s, %u persistent peer%s, %zu known address%s, PEX %s",
       sw->id, sw->chain_id, listen ? "listening on " : "not listening",
       listen ? sw->advertise : "", n_persistent(sw), n_persistent(sw) == 1 ? "" : "s",
       sw->n_book, sw->n_book == 1 ? "" : "es", sw->pex ? "on" : "off");
  *out = sw;
  return COHORT_OK;
}

/* ---- the rest of the API ------------------------------------------------ */

const char *p2p_switch_id(const p2p_switch *sw) { return sw->id; }

int p2p_switch_port(const p2p_switch *sw) { return sw && sw->listening ? sw->port : -1; }

static int check_send(const p2p_switch *sw, int ch, size_t len) {
  if (ch <= P2P_CH_CONTROL || ch >= P2P_CH_COUNT) return COHORT_ERR_INVALID;
  if (len > sw->max_msg[ch]) return COHORT_ERR_TOO_LARGE;
  return COHORT_OK;
}

static p2p_msgbuf *msgbuf_new(const uint8_t *msg, size_t len) {
  p2p_msgbuf *b = malloc(sizeof *b + (len ? len : 1));
  if (!b) return NULL;
  b->refs = 1;
  b->len = len;
  if (len) memcpy(b->data, msg, len);
  return b;
}

int p2p_send(p2p_switch *sw, const char *peer_id, int channel, const uint8_t *msg, size_t len) {
  int rc = check_send(sw, channel, len);
  if (rc) return rc;
  if (sw->closing || !peer_id) return COHORT_ERR_NOT_FOUND;
  p2p_peer *p = find_up(sw, peer_id);
  if (!p) return COHORT_ERR_NOT_FOUND;
  p2p_msgbuf *b = msgbuf_new(msg, len);
  if (!b) return COHORT_ERR_NOMEM;
  rc = p2p_peer_enqueue(p, channel, b);
  p2p_msgbuf_unref(b);
  if (rc == COHORT_OK) p2p_peer_pump(p);
  return rc;
}

int p2p_broadcast(p2p_switch *sw, int channel, const uint8_t *msg, size_t len,
                  const char *except_id) {
  int rc = check_send(sw, channel, len);
  if (rc) return rc;
  if (sw->closing) return 0;
  p2p_msgbuf *b = msgbuf_new(msg, len);
  if (!b) return COHORT_ERR_NOMEM;
  int n = 0;
  for (p2p_peer *p = sw->peers, *nx; p; p = nx) {
    nx = p->next;
    if (p->state != PS_UP || (except_id && strcmp(p->info.id, except_id) == 0)) continue;
    rc = p2p_peer_enqueue(p, channel, b);
    if (rc == COHORT_ERR_NOMEM) {
      p2p_msgbuf_unref(b);
      return rc;
    }
    if (rc == COHORT_OK) {
      n++;
      p2p_peer_pump(p);
    }
  }
  p2p_msgbuf_unref(b);
  return n;
}

int p2p_peer_penalize(p2p_switch *sw, const char *peer_id, int points, const char *reason) {
  if (!peer_id || !p2p_id_is_valid(peer_id, strlen(peer_id)) || points < 1 ||
      points > P2P_BAN_POINTS)
    return COHORT_ERR_INVALID;
  const char *why = reason ? reason : "penalized by the node";
  p2p_peer *p = sw->closing ? NULL : find_up(sw, peer_id);
  if (p) {
    p2p_switch_offence(sw, p, points, COHORT_ERR_INVALID, why);
    return COHORT_OK;
  }
  uint64_t now = now_ms(sw);
  char k[KEYLEN];
  key_id(k, sizeof k, peer_id);
  sw->st.penalties++;
  if (p2p_rep_add(sw, k, points, now) >= P2P_BAN_POINTS) {
    ban_key(sw, k, now);
    sw->st.bans++;
    LOGW(P2P_MOD, "banning node %s (not connected) for %llu s: %s", peer_id,
         (unsigned long long)(sw->ban_ms / 1000), why);
  }
  return COHORT_ERR_NOT_FOUND;
}

size_t p2p_switch_peers(const p2p_switch *sw, p2p_peer_info *out, size_t cap) {
  size_t n = 0;
  for (p2p_peer *p = sw->peers; p; p = p->next) n += p->state == PS_UP;
  if (!cap || !out) return n;
  p2p_peer_info *all = malloc((n ? n : 1) * sizeof *all);
  if (!all) return n;
  size_t k = 0;
  uint64_t now = now_ms(sw);
  for (p2p_peer *p = sw->peers; p; p = p->next) {
    if (p->state != PS_UP) continue;
    p2p_peer_info x = p->info;
    char key[KEYLEN];
    key_id(key, sizeof key, x.id);
    x.score = p2p_rep_points(sw, key, now);
    peer_list_sorted_insert(all, &k, &x);
  }
  memcpy(out, all, (k < cap ? k : cap) * sizeof *all);
  free(all);
  return n;
}

int p2p_switch_dial(p2p_switch *sw, const char *peer_addr, int persistent, core_errbuf *eb) {
  p2p_peer_addr a;
  int rc = p2p_peer_addr_parse(peer_addr, &a, eb);
  if (rc) return rc;
  if (strcmp(a.id, sw->id) == 0)
    return core_errf(eb, COHORT_ERR_ADDRESS, "%s is this node itself", a.id);
  if (sw->closing) return core_errf(eb, COHORT_ERR_INVALID, "the switch is closing");
  p2p_book_entry *e = p2p_book_add(sw, a.id, &a.hp, persistent ? BOOK_PERSISTENT : BOOK_PEX);
  if (!e) return core_errf(eb, COHORT_ERR_NOMEM, "address book full");
  if (is_connected(sw, a.id)) {
    for (p2p_peer *p = sw->peers; p && persistent; p = p->next)
      if (authed(p) && strcmp(p->info.id, a.id) == 0) p->info.persistent = 1;
    return core_errf(eb, COHORT_ERR_DUPLICATE, "already connected to or dialling %s", a.id);
  }
  e->next_dial_ms = 0;
  dial(sw, e, now_ms(sw));
  return COHORT_OK;
}

uint64_t p2p_switch_banned_ms(const p2p_switch *sw, const char *what) {
  if (!what) return 0;
  char k[KEYLEN];
  uint64_t now = now_ms(sw);
  if (p2p_id_is_valid(what, strlen(what))) {
    key_id(k, sizeof k, what);
    return p2p_rep_banned(sw, k, now);
  }
  key_addr(k, sizeof k, what);
  uint64_t a = p2p_rep_banned(sw, k, now);
  key_ip(k, sizeof k, what);
  uint64_t b = p2p_rep_banned(sw, k, now);
  return a > b ? a : b;
}

void p2p_switch_stats(const p2p_switch *sw, p2p_stats *out) {
  *out = sw->st;
  out->peers_inbound = out->peers_outbound = out->connecting = 0;
  for (p2p_peer *p = sw->peers; p; p = p->next) {
    if (p->state == PS_UP) {
      if (p->info.outbound)
        out->peers_outbound++;
      else
        out->peers_inbound++;
    } else if (p->state != PS_CLOSING) {
      out->connecting++;
    }
  }
  uint64_t now = now_ms(sw);
  out->bans_active = 0;
  for (size_t i = 0; i < sw->n_rep; i++) out->bans_active += sw->rep[i].banned_until > now;
  out->book_size = (unsigned)sw->n_book;
}

char *p2p_switch_metrics(const p2p_switch *sw) {
  p2p_stats s;
  p2p_switch_stats(sw, &s);
  core_buf b = {0};
  char line[256];
  int ok = 1;
#define EMIT(...)                                                   \
  do {                                                              \
    int n_ = snprintf(line, sizeof line, __VA_ARGS__);              \
    if (ok && core_buf_append(&b, line, (size_t)n_) != 0) ok = 0;   \
  } while (0)
  EMIT("# HELP cohort_p2p_peers Peers connected now, by direction.\n# TYPE cohort_p2p_peers gauge\n");
  EMIT("cohort_p2p_peers{direction=\"inbound\"} %u\n", s.peers_inbound);
  EMIT("cohort_p2p_peers{direction=\"outbound\"} %u\n", s.peers_outbound);
  EMIT("# TYPE cohort_p2p_connecting gauge\ncohort_p2p_connecting %u\n", s.connecting);
  const struct {
    const char *name, *help;
    const uint64_t *v;
  } per[] = {
      {"cohort_p2p_message_bytes_sent_total", "Message bytes sent, by channel.", s.msg_bytes_sent},
      {"cohort_p2p_message_bytes_received_total", "Message bytes received, by channel.",
       s.msg_bytes_recv},
      {"cohort_p2p_messages_sent_total", "Messages sent, by channel.", s.msgs_sent},
      {"cohort_p2p_messages_received_total", "Messages received, by channel.", s.msgs_recv},
      {"cohort_p2p_messages_dropped_total", "Messages refused or dropped for lack of queue space.",
       s.msgs_dropped},
  };
  for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
    EMIT("# HELP %s %s\n# TYPE %s counter\n", per[i].name, per[i].help, per[i].name);
    for (int c = 0; c < P2P_CH_COUNT; c++)
      EMIT("%s{channel=\"%s\"} %llu\n", per[i].name, p2p_channel_name(c),
           (unsigned long long)per[i].v[c]);
  }
  const struct {
    const char *name;
    uint64_t v;
  } tot[] = {{"cohort_p2p_wire_bytes_sent_total", s.wire_sent},
             {"cohort_p2p_wire_bytes_received_total", s.wire_recv},
             {"cohort_p2p_dials_total", s.dials},
             {"cohort_p2p_dials_failed_total", s.dials_failed},
             {"cohort_p2p_accepted_total", s.accepted},
             {"cohort_p2p_inbound_refused_total", s.inbound_refused},
             {"cohort_p2p_handshakes_failed_total", s.handshakes_failed},
             {"cohort_p2p_duplicate_connections_total", s.duplicates},
             {"cohort_p2p_penalties_total", s.penalties},
             {"cohort_p2p_bans_total", s.bans}};
  for (size_t i = 0; i < sizeof tot / sizeof tot[0]; i++)
    EMIT("# TYPE %s counter\n%s %llu\n", tot[i].name, tot[i].name, (unsigned long long)tot[i].v);
  EMIT("# TYPE cohort_p2p_bans_active gauge\ncohort_p2p_bans_active %u\n", s.bans_active);
  EMIT("# TYPE cohort_p2p_known_addresses gauge\ncohort_p2p_known_addresses %u\n", s.book_size);
#undef EMIT
  if (!ok || core_buf_append(&b, "", 1) != 0) {
    core_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

/* ---- shutdown ----------------------------------------------------------- */

static void maybe_finish(p2p_switch *sw) {
  if (!sw->closing || sw->listener_open || sw->tick_open || sw->n_peers) return;
  void (*done)(void *) = sw->done;
  void *arg = sw->done_arg;
  sodium_memzero(sw->sec, sizeof sw->sec);
  free(sw->book);
  free(sw->rep);
  free(sw);
  if (done) done(arg);
}

static void on_listener_closed(uv_handle_t *h) {
  p2p_switch *sw = h->data;
  sw->listener_open = 0;
  maybe_finish(sw);
}

static void on_tick_closed(uv_handle_t *h) {
  p2p_switch *sw = h->data;
  sw->tick_open = 0;
  maybe_finish(sw);
}

void p2p_switch_close(p2p_switch *sw, void (*done)(void *), void *arg) {
  if (!sw || sw->closing) return;
  sw->closing = 1;
  sw->done = done;
  sw->done_arg = arg;
  if (sw->listener_open && !uv_is_closing((uv_handle_t *)&sw->listener))
    uv_close((uv_handle_t *)&sw->listener, on_listener_closed);
  sw->listening = 0;
  if (sw->tick_open) {
    uv_timer_stop(&sw->tick);
    uv_close((uv_handle_t *)&sw->tick, on_tick_closed);
  }
  for (p2p_peer *p = sw->peers, *n; p; p = n) {
    n = p->next;
    p2p_peer_close(p, COHORT_OK, "switch closing");
  }
}
