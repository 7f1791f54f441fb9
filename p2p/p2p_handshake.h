/* p2p/p2p_handshake.h — the authenticated key exchange of a p2p connection
 * (pure: bytes in, bytes out; no I/O, no clock).
 *
 * Both sides run the same machine; the dialler is the initiator (I), the
 * acceptor the responder (R). Each side sends a Hello at once, and its Auth
 * as soon as it has the peer's Hello, so the exchange takes one round trip:
 *
 *   Hello = "COHP" || u16be(version = 1) || u16be(flags = 0)
 *           || eph_pub(32, X25519) || u8(len(chain_id)) || chain_id
 *   th    = sha256("cohort/p2p/v1/transcript" || Hello_I || Hello_R)
 *   keys  = crypto_kx: BLAKE2b-512(X25519(eph_sec, peer_eph_pub) || eph_pub_I
 *           || eph_pub_R); I->R frames use bytes 32..63, R->I bytes 0..31
 *   Auth  = frame 0 of each direction (p2p_frame.h), plaintext the canonical
 *           protobuf cohort.p2p.Auth {pubkey, signature, info}, signature =
 *           ed25519(identity, "cohort/p2p/v1/auth/initiator" || th) for I,
 *           "cohort/p2p/v1/auth/responder" for R.
 *
 * docs/p2p.md has the byte-level definition and tests/vectors/p2p.json
 * known answers.
 *
 * States (hs->state) and what each guarantees:
 *
 *   P2P_HS_HELLO   our Hello is in the output; we wait for the peer's.
 *                  Nothing about the peer is known.
 *   P2P_HS_AUTH    the peer's Hello was well formed, of our version and of
 *                  our chain, with an ephemeral key other than ours and not
 *                  of low order; the session keys are derived and our Auth
 *                  frame is in the output. The peer is still anonymous.
 *   P2P_HS_DONE    the peer's Auth frame opened under the session key, its
 *                  signature over the transcript verifies under the identity
 *                  key it carries, its NodeInfo names that key's node ID, our
 *                  chain and version, and (if we dialled an expected ID) the
 *                  ID is the one we dialled; it is not ourselves. The session
 *                  may be taken (p2p_handshake_session).
 *   P2P_HS_FAILED  a check failed: hs->err and hs->why say which. Final.
 *
 * Transitions:
 *
 *   (none)  -> HELLO   p2p_handshake_init
 *   HELLO   -> AUTH    p2p_handshake_feed, when the peer's Hello is whole
 *   AUTH    -> DONE    p2p_handshake_feed, when the peer's Auth frame is whole
 *   any     -> FAILED  p2p_handshake_feed, on the first failed check
 *
 * Secrets: the ephemeral secret and session keys live in the struct until
 * p2p_handshake_session moves the keys out or p2p_handshake_wipe; both wipe
 * everything secret (also on failure: a failed feed wipes the keys at once).
 * The identity secret is borrowed and never copied.
 */
#ifndef COHORT_P2P_HANDSHAKE_H
#define COHORT_P2P_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "p2p/p2p_addr.h"
#include "p2p/p2p_frame.h"

#define P2P_PROTOCOL_VERSION 1
#define P2P_HELLO_FIXED 41 /* magic 4, version 2, flags 2, key 32, chain length 1 */
#define P2P_HELLO_MAX (P2P_HELLO_FIXED + P2P_CHAIN_ID_MAX)
#define P2P_AUTH_MAX 1024 /* largest Auth plaintext accepted */
#define P2P_HS_OUT_MAX (P2P_HELLO_MAX + P2P_FRAME_OVERHEAD + P2P_AUTH_MAX)

typedef enum { P2P_HS_HELLO = 1, P2P_HS_AUTH, P2P_HS_DONE, P2P_HS_FAILED } p2p_hs_state;

/* Return values of p2p_handshake_feed besides negative errors. */
#define P2P_HS_MORE 0
#define P2P_HS_OK 1

typedef struct {
  int initiator;                /* 1: we dialled (we are I) */
  const char *chain_id;         /* ours; 1..64 of [a-z0-9._-] */
  const uint8_t *identity_sec;  /* 64-byte ed25519 seed||pub; borrowed for the handshake's life */
  const uint8_t *eph_sec;       /* 32-byte X25519 secret (copied), or NULL: fresh random */
  const char *listen_addr;      /* what we advertise ("HOST:PORT") or NULL/"" */
  const char *moniker;          /* NULL or printable ASCII, <= 64 */
  const char *expect_id;        /* the node ID we dialled, or NULL (inbound, or any) */
} p2p_hs_config;

/* What the peer proved and said. */
typedef struct {
  uint8_t pubkey[32];
  char id[P2P_ID_HEX + 1];
  char listen_addr[P2P_ADDR_STR]; /* "" if it advertised none */
  char moniker[P2P_MONIKER_MAX + 1];
  uint32_t version;
} p2p_peer_node;

/* The result: one key per direction, counters at 1 (frame 0 was Auth). */
typedef struct {
  p2p_frame_key tx, rx;
  p2p_peer_node peer;
} p2p_session;

typedef struct {
  p2p_hs_state state;
  int err;             /* the error of FAILED */
  core_errbuf why;     /* its sentence */
  int initiator;
  const uint8_t *identity_sec;
  char chain_id[P2P_CHAIN_ID_MAX + 1];
  char expect_id[P2P_ID_HEX + 1];
  uint8_t my_id[P2P_ID_LEN];
  uint8_t eph_sec[32], eph_pub[32];
  uint8_t hello[P2P_HELLO_MAX]; /* ours */
  size_t hello_len;
  uint8_t peer_hello[P2P_HELLO_MAX];
  size_t peer_have;
  uint8_t th[32]; /* transcript hash */
  char listen_addr[P2P_ADDR_STR]; /* our NodeInfo fields */
  char moniker[P2P_MONIKER_MAX + 1];
  p2p_frame_key tx;
  p2p_frame_dec rx;
  p2p_peer_node peer;
  uint8_t out[P2P_HS_OUT_MAX]; /* bytes to send, not yet taken */
  size_t out_len;
} p2p_handshake;

/* Start a handshake: checks cfg (chain ID, moniker, listen address, expected
 * ID; eb names a bad field), makes the ephemeral key and queues our Hello.
 * Returns 0, COHORT_ERR_INVALID or COHORT_ERR_KEY (eph_sec gives a zero
 * public key). On failure the struct holds no secret. */
int p2p_handshake_init(p2p_handshake *hs, const p2p_hs_config *cfg, core_errbuf *eb);

/* Move the pending output (at most P2P_HS_OUT_MAX bytes) into out, which has
 * room for cap >= P2P_HS_OUT_MAX bytes; returns the byte count (0: nothing
 * to send). Call after init and after every feed. */
size_t p2p_handshake_take(p2p_handshake *hs, uint8_t *out, size_t cap);

/* Feed bytes received from the peer. Consumes at most up to the end of the
 * peer's Auth frame: *used <= len, and bytes after it belong to the frame
 * stream (give them to a p2p_frame_dec made from the session). Returns
 * P2P_HS_MORE (all consumed, not finished), P2P_HS_OK (DONE reached), or the
 * error that moved it to FAILED (later calls return it again):
 *   COHORT_ERR_DECODE      not a Cohort hello (magic, flags), or an Auth that is
 *                          not a canonical cohort.p2p.Auth, lacks info, or
 *                          carries fields of the wrong size or form (a listen
 *                          address must be canonical HOST:PORT, p2p_addr.h)
 *   COHORT_ERR_UNSUPPORTED another protocol version
 *   COHORT_ERR_CHAIN_ID    the peer is on another chain (eb names both)
 *   COHORT_ERR_KEY         a low-order or reflected ephemeral key; a NodeInfo
 *                          whose node_id is not its key's; a peer that is not
 *                          the node we dialled (eb names both IDs)
 *   COHORT_ERR_SIGNATURE   the transcript signature does not verify
 *   COHORT_ERR_DUPLICATE   the peer is ourselves (we dialled our own address)
 *   COHORT_ERR_TOO_LARGE   an Auth frame over P2P_AUTH_MAX
 *   COHORT_ERR_NOMEM       protobuf scratch allocation failed (our problem)
 * eb (may be NULL) gets the sentence also kept in hs->why. */
int p2p_handshake_feed(p2p_handshake *hs, const uint8_t *in, size_t len, size_t *used,
                       core_errbuf *eb);

/* After P2P_HS_OK: copy the session out and wipe hs. Returns 0, or
 * COHORT_ERR_INVALID if the handshake is not DONE (nothing copied). */
int p2p_handshake_session(p2p_handshake *hs, p2p_session *out);

/* Wipe every secret in hs (safe on any state, idempotent). */
void p2p_handshake_wipe(p2p_handshake *hs);
void p2p_session_wipe(p2p_session *s);

/* The transcript hash and the signed message, exposed for tests and vectors:
 * msg = label || th, 60 bytes, label by role. */
#define P2P_AUTH_MSG_LEN 60
void p2p_handshake_auth_msg(uint8_t msg[P2P_AUTH_MSG_LEN], int initiator, const uint8_t th[32]);

#endif
