/* p2p/p2p.h — the peer-to-peer switch: authenticated, encrypted TCP
 * connections to the other nodes of one chain, multiplexed into channels with
 * priorities, on libuv.
 *
 * The switch listens and dials, runs the handshake of p2p_handshake.h on
 * every connection (so each peer is a proven node ID of our chain), frames
 * and encrypts with p2p_frame.h, and carries whole messages per channel
 * (p2p_msg.h). It keeps its peers alive (ping/pong), redials persistent peers
 * with exponential backoff and jitter, learns addresses from its peers (PEX)
 * so a node given one seed finds the others, keeps at most one connection per
 * node ID, scores misbehaving peers and bans them for a while. The node builds
 * consensus gossip, mempool gossip, block sync and blob fetching on top:
 * it sends bytes on a channel and is called back with what peers send.
 *
 * Channels (p2p_msg.h): P2P_CH_CONSENSUS, P2P_CH_BLOCKSYNC, P2P_CH_MEMPOOL,
 * P2P_CH_BLOBS, in this order of priority (a lower ID is always sent first,
 * frame by frame, so a vote overtakes a block being sent). P2P_CH_CONTROL is
 * the switch's own (ping, PEX); callers cannot send on it. What a message
 * means on each channel is the caller's business; the switch only bounds its
 * size (p2p_config.max_msg_bytes).
 *
 * Back-pressure. Each peer has a bounded send queue per channel and a bound on
 * all its queues together. A send that does not fit returns
 * COHORT_ERR_QUEUE_FULL at once (the message is not queued: retry later, or
 * drop it — gossip can count on peers asking again); to make room for a
 * higher-priority message the switch first drops queued messages of lower
 * priority that have not started to go out (blobs first, then mempool, then
 * block sync). A peer that leaves a queue full for stall_timeout_ms (it does
 * not read) is dropped and banned.
 *
 * Scores and bans. Misbehaviour adds penalty points to the peer's node ID
 * (and, for unauthenticated inbound offenders, its IP address); reaching
 * P2P_BAN_POINTS disconnects and bans for ban_ms. A frame that does not
 * authenticate, an oversize frame or message, a malformed envelope or control
 * message, and a flood over recv_msgs_per_s / recv_bytes_per_s are worth
 * P2P_BAN_POINTS at once; the caller adds its own with p2p_peer_penalize (an
 * invalid block or vote). Points fade by one every 6 s. Bans are keyed by node
 * ID, by dialled address (HOST:PORT) and by IP address; loopback IPs are never
 * banned by address (every local node shares them). The node's own trouble
 * (out of memory) never counts against a peer.
 *
 * Logs (core/log.h, module "p2p") name the peer as ID@ADDRESS and the reason
 * whenever a peer is dropped or banned; peer up/down at INFO, bans at WARN.
 *
 * Threads: every function here, and every callback, runs on the loop's
 * thread. Callbacks may call any function of this header, including
 * p2p_switch_close (the switch stays valid until its done callback).
 * p2p_switch_new sets SIGPIPE to SIG_IGN if it still has its default
 * disposition (libuv writes with write(2)).
 */
#ifndef COHORT_P2P_H
#define COHORT_P2P_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"
#include "p2p/p2p_addr.h"
#include "p2p/p2p_msg.h"

#define P2P_BAN_POINTS 100          /* score at which a peer is banned */
#define P2P_UNLIMITED UINT64_MAX    /* for the rate limits */

typedef struct p2p_switch p2p_switch;

/* A peer as the callbacks and p2p_switch_peers see it (a snapshot). */
typedef struct {
  char id[P2P_ID_HEX + 1];           /* node ID, 40 lowercase hex */
  uint8_t pubkey[32];                /* its ed25519 identity key */
  char addr[P2P_ADDR_STR];           /* the socket's remote end, "IP:PORT" */
  char dial_addr[P2P_ADDR_STR];      /* where it can be dialled ("" if unknown): the
                                        address we dialled, or the one it advertised
                                        (an unspecified host 0.0.0.0/:: replaced by
                                        the socket's IP) */
  char moniker[P2P_MONIKER_MAX + 1];
  int outbound;                      /* 1: we dialled it */
  int persistent;                    /* 1: in persistent_peers (or dialled so) */
  uint64_t up_since_ms;              /* uv_now() when it came up */
  uint64_t rtt_ms;                   /* last ping round trip (0 until the first pong) */
  uint64_t bytes_sent, bytes_recv;   /* on the wire, this connection */
  int score;                         /* penalty points of its node ID now */
} p2p_peer_info;

/* The caller's side. Every pointer passed is borrowed for the call only.
 * on_peer_up: a peer finished the handshake, we accepted it, and its first
 *   frame arrived (so it accepted us too); it may be sent to.
 * on_peer_down: a peer that was up is gone; reason is the COHORT_ERR_* code
 *   (COHORT_OK when the switch closes) and why a sentence. Not called for
 *   connections that never came up. Sends to it fail from now on.
 * on_message: a whole message arrived on channel (never P2P_CH_CONTROL);
 *   msg[0..len) is valid during the call only. Any may be NULL. */
typedef struct {
  void (*on_peer_up)(void *ctx, const p2p_peer_info *peer);
  void (*on_peer_down)(void *ctx, const p2p_peer_info *peer, int reason, const char *why);
  void (*on_message)(void *ctx, const p2p_peer_info *peer, int channel, const uint8_t *msg,
                     size_t len);
} p2p_callbacks;

/* Configuration. Strings are borrowed for p2p_switch_new only (copied).
 * A zero field takes its default. */
typedef struct {
  const char *chain_id;          /* required: our chain; peers of others are refused */
  const char *listen;            /* "HOST:PORT" (IP literal; "tcp://" allowed; PORT 0 =
                                    ephemeral, see p2p_switch_port); NULL/"" = no listener */
  const char *external_addr;     /* "HOST:PORT" advertised to peers; default: the listen
                                    address (with an unspecified host the peers use the IP
                                    they see); "" when not listening */
  const char *moniker;           /* free text for humans (<= 64 printable ASCII) */
  const char *persistent_peers;  /* "ID@HOST:PORT,..." always kept connected */
  const char *seeds;             /* "ID@HOST:PORT,..." dialled to learn addresses */
  int no_pex;                    /* 1: neither ask for nor share addresses */
  unsigned max_inbound;          /* 40: inbound peers (persistent peers may exceed it) */
  unsigned max_outbound;         /* 10: outbound peers besides persistent ones */
  uint32_t max_msg_bytes[P2P_CH_COUNT]; /* control 64 KiB, consensus 4 MiB, blocksync
                                           16 MiB, mempool 4 MiB, blobs 16 MiB; at most
                                           P2P_MSG_MAX (control is fixed) */
  uint64_t queue_bytes[P2P_CH_COUNT];   /* per peer and channel: 2 x max_msg_bytes
                                           (control 256 KiB) */
  uint64_t peer_queue_bytes;     /* per peer, all channels: 64 MiB */
  uint64_t handshake_timeout_ms; /* 10000: connect + handshake */
  uint64_t ping_interval_ms;     /* 10000 */
  uint64_t pong_timeout_ms;      /* 20000: no pong this long after a ping -> dropped */
  uint64_t stall_timeout_ms;     /* 20000: a queue full this long -> dropped and banned */
  uint64_t ban_ms;               /* 600000 */
  uint64_t backoff_min_ms;       /* 500: first redial delay (then doubling, +-50% jitter) */
  uint64_t backoff_max_ms;       /* 60000 */
  uint64_t pex_interval_ms;      /* 30000: how often to ask for addresses while short */
  uint64_t recv_msgs_per_s;      /* 10000 messages/s per peer, bursts of 2 s; P2P_UNLIMITED */
  uint64_t recv_bytes_per_s;     /* P2P_UNLIMITED by default */
} p2p_config;

/* Counters for /metrics (monotonic since p2p_switch_new unless "now"). */
typedef struct {
  unsigned peers_inbound, peers_outbound; /* up now */
  unsigned connecting;                    /* dialling or in the handshake now */
  uint64_t msg_bytes_sent[P2P_CH_COUNT], msg_bytes_recv[P2P_CH_COUNT]; /* message bytes */
  uint64_t msgs_sent[P2P_CH_COUNT], msgs_recv[P2P_CH_COUNT];
  uint64_t msgs_dropped[P2P_CH_COUNT]; /* refused (queue full) or evicted unsent */
  uint64_t wire_sent, wire_recv;       /* every byte on the sockets */
  uint64_t dials, dials_failed, accepted, inbound_refused;
  uint64_t handshakes_failed, duplicates, bans, penalties;
  unsigned bans_active, book_size;     /* now */
} p2p_stats;

/* Start a switch on loop: parse and check cfg (persistent_peers and seeds
 * strictly, see p2p_addr.h), bind the listener, and start dialling at once.
 * identity_sec is the node's 64-byte ed25519 key (seed || pub), copied and
 * wiped at close. cb and ctx are kept until the done callback of
 * p2p_switch_close. Returns 0 with *out set, or COHORT_ERR_CONFIG (eb names
 * the field and the problem), COHORT_ERR_IO (cannot listen: eb has the
 * address and the OS reason) or COHORT_ERR_NOMEM; on failure *out is NULL
 * and nothing is left for the caller to free or close (in the rare case
 * that libuv refuses the bound socket, its handle is released by a close
 * callback the next time the loop runs). */
int p2p_switch_new(p2p_switch **out, uv_loop_t *loop, const p2p_config *cfg,
                   const uint8_t identity_sec[64], const p2p_callbacks *cb, void *ctx,
                   core_errbuf *eb);

/* Our node ID (40 hex), valid until the switch is freed. */
const char *p2p_switch_id(const p2p_switch *sw);

/* The TCP port the switch listens on, or -1 when it does not listen. */
int p2p_switch_port(const p2p_switch *sw);

/* Change a channel's largest message at run time (the chain's block or tx
 * size limit changed by governance): connected peers' reassembly and new
 * ones use it from their next message; the channel's queue (and the
 * per-peer total) grow to hold two such messages if they are smaller.
 * Returns 0, or COHORT_ERR_INVALID (the control channel, an unknown one,
 * 0, or over P2P_MSG_MAX). Loop thread only. */
int p2p_switch_set_max_msg(p2p_switch *sw, int channel, uint32_t max_bytes);

/* Queue msg[0..len) (copied) for peer_id on channel. Returns 0, or:
 *   COHORT_ERR_INVALID     channel is P2P_CH_CONTROL or unknown
 *   COHORT_ERR_TOO_LARGE   len over the channel's max_msg_bytes
 *   COHORT_ERR_NOT_FOUND   no such peer is up (or the switch is closing)
 *   COHORT_ERR_QUEUE_FULL  the peer's queue has no room (nothing queued)
 *   COHORT_ERR_NOMEM */
int p2p_send(p2p_switch *sw, const char *peer_id, int channel, const uint8_t *msg, size_t len);

/* Queue msg (copied once, shared) for every peer that is up except
 * except_id (NULL: none). Returns the number of peers it was queued for (>=
 * 0; peers with a full queue are skipped and counted in msgs_dropped), or
 * COHORT_ERR_INVALID / COHORT_ERR_TOO_LARGE / COHORT_ERR_NOMEM as p2p_send. */
int p2p_broadcast(p2p_switch *sw, int channel, const uint8_t *msg, size_t len,
                  const char *except_id);

/* Add points (1..P2P_BAN_POINTS) against a node ID for reason (logged).
 * At P2P_BAN_POINTS the node is banned for ban_ms and, if connected,
 * dropped. Returns 0, COHORT_ERR_INVALID (bad ID or points), or
 * COHORT_ERR_NOT_FOUND when it is not connected (the points still count). */
int p2p_peer_penalize(p2p_switch *sw, const char *peer_id, int points, const char *reason);

/* Copy up to cap peers that are up into out (sorted by node ID); returns how
 * many are up (may exceed cap). out may be NULL when cap is 0. */
size_t p2p_switch_peers(const p2p_switch *sw, p2p_peer_info *out, size_t cap);

/* Dial "ID@HOST:PORT" now (and keep it connected if persistent). Returns 0,
 * COHORT_ERR_ADDRESS (eb says why), COHORT_ERR_DUPLICATE (already connected
 * or being dialled; a persistent request still marks it persistent), or
 * COHORT_ERR_NOMEM. */
int p2p_switch_dial(p2p_switch *sw, const char *peer_addr, int persistent, core_errbuf *eb);

/* Milliseconds left of a ban on a node ID, "HOST:PORT" or IP (0: none). */
uint64_t p2p_switch_banned_ms(const p2p_switch *sw, const char *id_or_addr);

void p2p_switch_stats(const p2p_switch *sw, p2p_stats *out);

/* The counters as Prometheus text (cohort_p2p_* lines), malloc'd (the
 * caller frees), or NULL on NOMEM. */
char *p2p_switch_metrics(const p2p_switch *sw);

/* Stop listening and dialling, drop every peer (on_peer_down with reason
 * COHORT_OK for those that were up), wait for every handle's close callback,
 * wipe the identity key, free the switch, then call done(arg) (may be NULL)
 * from the loop. Idempotent; no other function may be called afterwards. */
void p2p_switch_close(p2p_switch *sw, void (*done)(void *), void *arg);

#endif
