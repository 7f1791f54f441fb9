/* p2p/p2p_msg.h — channels, the message envelope inside frames, and the
 * control-channel messages (pure: bytes in, bytes out).
 *
 * Envelope. The plaintext of every frame after the handshake is
 *
 *   u8 channel || u8 flags || data
 *
 * flags bit 0 (P2P_ENV_FIRST) starts a message: data = u32be(msg_len) ||
 * the first bytes of the message; frames without it continue the message
 * in progress on their channel. A message is complete when msg_len bytes have
 * arrived; every frame of a message but its last is full (P2P_FRAME_MAX_PLAIN
 * bytes of plaintext), so a message of n bytes takes exactly
 * max(1, ceil((n + 4) / 16382)) frames (docs/p2p.md gives the exact count).
 * Other flag bits are reserved and must be 0. Messages of different channels
 * interleave frame by frame (that is how a vote overtakes a block); on one
 * channel they are sequential. Each channel has its own maximum message size,
 * checked on the 4-byte length before anything is allocated; the buffer then
 * grows with the bytes that actually arrive, so a peer that announces a large
 * message and sends nothing costs nothing.
 *
 * Control channel (0): canonical cohort.p2p.Control messages (ping, pong, PEX
 * request and addresses), handled by the switch and never given to callers.
 */
#ifndef COHORT_P2P_MSG_H
#define COHORT_P2P_MSG_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "p2p/p2p_addr.h"
#include "p2p/p2p_frame.h"

/* Channel IDs, on the wire and in the API. The ID is also the priority rank:
 * a lower ID is always sent first (control > consensus > block sync >
 * mempool > blobs). */
typedef enum {
  P2P_CH_CONTROL = 0,   /* ping/pong, PEX: internal to the switch */
  P2P_CH_CONSENSUS = 1, /* proposals, votes, block parts */
  P2P_CH_BLOCKSYNC = 2, /* block requests and blocks for catching up */
  P2P_CH_MEMPOOL = 3,   /* transactions */
  P2P_CH_BLOBS = 4,     /* content-addressed blobs fetched by hash */
} p2p_channel;
#define P2P_CH_COUNT 5

/* A short stable name ("consensus", ...) or "unknown"; never NULL. */
const char *p2p_channel_name(int ch);

#define P2P_ENV_FIRST 0x01
#define P2P_ENV_HEAD 2                          /* channel, flags */
#define P2P_ENV_FIRST_HEAD (P2P_ENV_HEAD + 4)   /* ... and u32be(msg_len) */
#define P2P_MSG_MAX (256u << 20)                /* no channel allows more */

/* Return values of p2p_asm_feed besides negative errors. */
#define P2P_ENV_MORE 0
#define P2P_ENV_MSG 1

/* Write into out (room for P2P_FRAME_MAX_PLAIN) the plaintext of the next
 * frame of msg[0..len) on channel ch, of which off bytes were framed already;
 * first is 1 for the message's first frame (off is then 0). Returns the
 * plaintext length and sets *taken to the message bytes it carries; the
 * message is finished when off + *taken == len (after at least one frame). */
size_t p2p_env_frame(uint8_t *out, uint8_t ch, const uint8_t *msg, size_t len, size_t off,
                     int first, size_t *taken);

/* Number of frames p2p_env_frame makes of a message of len bytes. */
size_t p2p_env_frames_for(size_t len);

/* The reassembler of one connection's incoming messages. */
typedef struct {
  uint8_t *buf;
  size_t cap;
  uint32_t len, have;
  int open;
} p2p_env_slot;

typedef struct {
  uint32_t max[P2P_CH_COUNT]; /* per-channel maximum message size */
  p2p_env_slot ch[P2P_CH_COUNT];
  uint8_t *done;              /* the message handed out by the last call */
  int err;
} p2p_asm;

/* max[c] is channel c's limit (clamped to P2P_MSG_MAX). Never fails. */
void p2p_asm_init(p2p_asm *a, const uint32_t max[P2P_CH_COUNT]);

/* Feed the plaintext of one frame. Returns P2P_ENV_MORE, or P2P_ENV_MSG with
 * *ch, *msg, *msg_len set (msg is owned by a and valid until the next call
 * or p2p_asm_free; msg may be a non-NULL pointer to 0 bytes), or:
 *   COHORT_ERR_DECODE    malformed envelope: too short, reserved flag bits,
 *                        unknown channel, a start while a message is open,
 *                        a continuation with none open, data past msg_len,
 *                        a frame that is neither full nor the message's last
 *   COHORT_ERR_TOO_LARGE msg_len over the channel's maximum (nothing allocated)
 *   COHORT_ERR_NOMEM     our allocation failed (not the peer's fault)
 * Errors are final; eb names the channel and the numbers. */
int p2p_asm_feed(p2p_asm *a, const uint8_t *p, size_t n, uint8_t *ch, const uint8_t **msg,
                 size_t *msg_len, core_errbuf *eb);

/* Free every buffer. */
void p2p_asm_free(p2p_asm *a);

/* Unpack a protobuf message and accept it only if canonical: no unknown
 * field at any depth, and re-packing gives the same bytes (proto/pbutil.h). Returns 0 with
 * *out set (free with protobuf_c_message_free_unpacked(*out, NULL)),
 * COHORT_ERR_DECODE, or COHORT_ERR_NOMEM when our allocator failed (told
 * apart from bad input, which must never be confused with our trouble). */
int p2p_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len,
                  ProtobufCMessage **out);

/* ---- control messages ---- */

#define P2P_PEX_MAX_ADDRS 64

typedef enum {
  P2P_CTL_PING = 1,
  P2P_CTL_PONG = 2,
  P2P_CTL_PEX_REQUEST = 3,
  P2P_CTL_PEX_ADDRS = 4,
} p2p_ctl_kind;

typedef struct {
  p2p_ctl_kind kind;
  uint64_t nonce;        /* PING, PONG */
  size_t n_addrs;        /* PEX_ADDRS: 0..P2P_PEX_MAX_ADDRS */
  p2p_peer_addr *addrs;  /* malloc'd (NULL when n_addrs == 0) */
} p2p_ctl;

/* Decode one control message. Every PEX entry must be a valid node ID and
 * a dialable "HOST:PORT" in canonical form (p2p_hostport.addr: lower-case
 * name, compressed bracketed IPv6, no "tcp://"), and no ID may repeat. Returns 0 (free with
 * p2p_ctl_free), COHORT_ERR_DECODE (eb says why), COHORT_ERR_TOO_LARGE (over
 * P2P_PEX_MAX_ADDRS entries) or COHORT_ERR_NOMEM; *out is zeroed on failure. */
int p2p_ctl_decode(const uint8_t *b, size_t len, p2p_ctl *out, core_errbuf *eb);

/* Encode c canonically into a malloc'd buffer. PEX entries are taken as
 * given (callers pass parsed addresses). Returns 0, COHORT_ERR_INVALID (bad
 * kind, too many addresses) or COHORT_ERR_NOMEM. */
int p2p_ctl_encode(const p2p_ctl *c, uint8_t **out, size_t *len);

void p2p_ctl_free(p2p_ctl *c);

#endif
