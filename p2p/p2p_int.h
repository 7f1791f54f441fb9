/* p2p/p2p_int.h — private to p2p/: the switch, its peers, the address book
 * and the reputation table. Only p2p_peer.c, p2p_switch.c and p2p_book.c
 * include it (and the unit tests, for the pure helpers at the end). */
#ifndef COHORT_P2P_INT_H
#define COHORT_P2P_INT_H

#include <uv.h>

#include "p2p/p2p.h"
#include "p2p/p2p_frame.h"
#include "p2p/p2p_handshake.h"
#include "p2p/p2p_msg.h"

#define P2P_MOD "p2p"
#define P2P_WRITE_WINDOW (256u << 10)         /* bytes handed to libuv and not yet written */
#define P2P_NOTSENT_LOWAT (128u << 10)        /* unsent bytes the kernel may hold (Linux) */
#define P2P_WRITE_BATCH (4 * P2P_FRAME_MAX_WIRE) /* one uv_write at most */
#define P2P_READ_BUF (64u << 10)
#define P2P_QUEUE_MAX_MSGS 10000              /* per channel, whatever their size */
#define P2P_BOOK_MAX 1024                     /* addresses known */
#define P2P_REP_MAX 1024                      /* reputation entries */
#define P2P_SCORE_DECAY_MS 6000               /* one point fades per this */
#define P2P_STABLE_MS 30000                   /* a connection this old resets the backoff */
#define P2P_BOOK_MAX_FAILS 8                  /* then a learned address is forgotten */
#define P2P_IP_POINTS 50                      /* against an IP per unauthenticated offence */

/* A message shared by the queues of several peers (broadcast). */
typedef struct p2p_msgbuf {
  size_t refs;
  size_t len;
  uint8_t data[];
} p2p_msgbuf;

typedef struct p2p_qitem {
  p2p_msgbuf *b;
  struct p2p_qitem *next;
} p2p_qitem;

typedef struct {
  p2p_qitem *head, *tail;
  size_t bytes, count;
  size_t off;  /* bytes of head framed already */
  int started; /* head's first frame went out */
} p2p_chq;

/* Connection states. */
typedef enum {
  PS_RESOLVING = 1, /* outbound: looking up a host name */
  PS_CONNECTING,    /* outbound: TCP connect in flight */
  PS_HANDSHAKE,     /* TCP up, p2p_handshake running */
  PS_ACCEPTED,      /* authenticated and accepted by us; waiting for the peer's
                       first frame, which says it accepted us too */
  PS_UP,            /* announced with on_peer_up */
  PS_CLOSING,       /* uv_close issued; freed when refs reaches 0 */
} p2p_peer_state;

typedef struct p2p_write {
  uv_write_t req;
  struct p2p_peer *p;
  size_t len;
  uint8_t data[];
} p2p_write;

typedef struct p2p_peer {
  struct p2p_switch *sw;
  struct p2p_peer *prev, *next;
  p2p_peer_state state;
  int refs;        /* callbacks libuv still owes us (handle close, requests) */
  int tcp_inited;
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_getaddrinfo_t gai;
  p2p_peer_info info;
  char ip[64];          /* remote IP, for IP bans */
  p2p_hostport dial;    /* outbound: where we dialled */
  char dial_id[P2P_ID_HEX + 1];
  p2p_handshake *hs;    /* PS_HANDSHAKE only */
  p2p_frame_key tx;     /* PS_UP: our direction */
  p2p_frame_dec *rx;    /* PS_UP: theirs */
  p2p_asm as;
  p2p_chq q[P2P_CH_COUNT];
  size_t q_bytes;
  size_t inflight;
  uint64_t deadline_ms; /* connect + handshake */
  uint64_t next_ping_ms, ping_sent_ms, ping_nonce;
  int ping_out;
  int full;               /* a send found no room, and nothing was written since ... */
  uint64_t full_since_ms; /* ... from this time */
  uint64_t rl_ms, tok_msgs, tok_bytes; /* token buckets, in 1/1000 units */
  uint64_t pex_answered_ms;
  int pex_asked;
  int close_reason;
  uint8_t rbuf[P2P_READ_BUF];
} p2p_peer;

/* Address book entry: a node we may dial. */
enum { BOOK_PERSISTENT = 1, BOOK_SEED = 2, BOOK_PEX = 4 };
typedef struct {
  char id[P2P_ID_HEX + 1];
  p2p_hostport hp;
  unsigned flags;
  unsigned attempts;     /* consecutive failures */
  uint64_t next_dial_ms; /* not before */
  uint64_t last_ok_ms;   /* last time a connection came up, 0 never */
} p2p_book_entry;

/* Reputation: points and ban deadline per key "id:<hex>", "addr:<h:p>", "ip:<ip>". */
typedef struct {
  char key[P2P_ADDR_STR + 8];
  int points;
  uint64_t points_ms;    /* when points were last decayed */
  uint64_t banned_until; /* 0: not banned */
} p2p_rep;

struct p2p_switch {
  uv_loop_t *loop;
  p2p_callbacks cb;
  void *ctx;
  uint8_t sec[64];
  char id[P2P_ID_HEX + 1];
  char chain_id[P2P_CHAIN_ID_MAX + 1];
  char moniker[P2P_MONIKER_MAX + 1];
  char advertise[P2P_ADDR_STR];
  /* limits and timings, defaults applied */
  int pex;
  unsigned max_in, max_out;
  uint32_t max_msg[P2P_CH_COUNT];
  uint64_t qcap[P2P_CH_COUNT], peer_qcap;
  uint64_t hs_ms, ping_ms, pong_ms, stall_ms, ban_ms, bo_min, bo_max, pex_ms;
  uint64_t rate_msgs, rate_bytes;
  uint64_t tick_ms;

  uv_tcp_t listener;
  int listening, listener_open;
  int port;
  uv_timer_t tick;
  int tick_open;
  p2p_peer *peers;
  unsigned n_peers; /* allocated, in any state */
  p2p_book_entry *book;
  size_t n_book;
  p2p_rep *rep;
  size_t n_rep;
  uint64_t next_pex_ms;
  p2p_stats st;
  int closing;
  void (*done)(void *);
  void *done_arg;
};

/* ---- p2p_peer.c ---- */
p2p_peer *p2p_peer_new(p2p_switch *sw);
/* Outbound: resolve and connect to e (copied), then run the handshake; a
 * failure closes p. */
void p2p_peer_dial(p2p_peer *p, const p2p_book_entry *e);
/* Inbound: accept from server (0 or a libuv error: the caller closes p),
 * then, once the switch agrees, p2p_peer_start runs the handshake. */
int p2p_peer_accept(p2p_peer *p, uv_stream_t *server);
void p2p_peer_start(p2p_peer *p);
/* Drop: log, on_peer_down if it was up, close. Idempotent. */
void p2p_peer_close(p2p_peer *p, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queue b on ch (takes a reference on success). */
int p2p_peer_enqueue(p2p_peer *p, int ch, p2p_msgbuf *b);
int p2p_peer_send_ctl(p2p_peer *p, const p2p_ctl *c);
void p2p_peer_pump(p2p_peer *p);
/* "ID@ADDR" for logs. */
const char *p2p_peer_label(const p2p_peer *p, char *buf, size_t cap);

/* ---- p2p_switch.c (called by the peer) ---- */
/* The handshake finished: decide (bans, limits, duplicates); if accepted, p
 * moves to PS_ACCEPTED and sends its first frame. Returns 0, or -1 if p was
 * closed. */
int p2p_switch_peer_ready(p2p_switch *sw, p2p_peer *p);
/* The first frame from an accepted peer arrived: p goes up. Returns 0, or -1
 * if p is no longer up when it returns (a callback dropped it). */
int p2p_switch_peer_up(p2p_switch *sw, p2p_peer *p);
/* A control message from p. */
void p2p_switch_on_control(p2p_switch *sw, p2p_peer *p, const p2p_ctl *c);
/* p is closing: update the book (backoff) for outbound peers. */
void p2p_switch_peer_gone(p2p_switch *sw, p2p_peer *p, int was_up, int reason);
/* The peer struct was freed. */
void p2p_switch_peer_freed(p2p_switch *sw);
/* Points against p for an offence; bans and closes at P2P_BAN_POINTS.
 * Returns 1 if p was closed. */
int p2p_switch_offence(p2p_switch *sw, p2p_peer *p, int points, int reason, const char *why);

/* ---- p2p_book.c ---- */
/* The dial delay after `attempts` consecutive failures: min * 2^attempts
 * capped at max, then a uniform jitter in [d/2, d] from rnd. Pure. */
uint64_t p2p_backoff_ms(unsigned attempts, uint64_t min, uint64_t max, uint32_t rnd);
p2p_book_entry *p2p_book_find(p2p_switch *sw, const char *id);
/* Add or update; returns the entry or NULL when the book is full. */
p2p_book_entry *p2p_book_add(p2p_switch *sw, const char *id, const p2p_hostport *hp,
                             unsigned flags);
void p2p_book_remove(p2p_switch *sw, p2p_book_entry *e);
/* Points against key at now; returns the points after decay and addition. */
int p2p_rep_add(p2p_switch *sw, const char *key, int points, uint64_t now);
int p2p_rep_points(const p2p_switch *sw, const char *key, uint64_t now);
void p2p_rep_ban(p2p_switch *sw, const char *key, uint64_t now, uint64_t ms);
/* Milliseconds of ban left on key (0 if none). */
uint64_t p2p_rep_banned(const p2p_switch *sw, const char *key, uint64_t now);
/* 1 for 127.0.0.0/8 and ::1. */
int p2p_ip_is_loopback(const char *ip);

void p2p_msgbuf_unref(p2p_msgbuf *b);

#endif
