/* p2p/p2p_frame.h — the encrypted, authenticated frame codec (pure).
 *
 * After the handshake each direction of a connection is a sequence of frames
 * sealed with XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf)
 * under that direction's 32-byte session key, with a 64-bit frame counter as
 * the nonce. On the wire (docs/p2p.md "Frames"):
 *
 *   frame = u32be(L) || ciphertext(L bytes of plaintext) || tag(16)
 *   nonce = 16 zero bytes || u64be(counter)       counter = 0, 1, 2, ...
 *   AD    = the 4-byte length header
 *
 * 1 <= L <= max_plain (P2P_FRAME_MAX_PLAIN at most). The length is checked
 * the moment its 4 bytes are in, before the body is waited for; the decoder
 * works in a fixed buffer inside its struct and never allocates. A frame that
 * fails authentication, a zero or oversize length, or an exhausted counter is
 * final: the decoder stays failed and the connection must close.
 *
 * Pure: no I/O, no clock, no randomness; every function is safe to call from
 * any thread on distinct objects. Keys inside these structs are secrets: call
 * the _wipe functions when done (they sodium_memzero the struct).
 */
#ifndef COHORT_P2P_FRAME_H
#define COHORT_P2P_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define P2P_FRAME_KEY_LEN 32
#define P2P_FRAME_HEAD 4                                  /* u32be length */
#define P2P_FRAME_TAG 16                                  /* Poly1305 tag */
#define P2P_FRAME_OVERHEAD (P2P_FRAME_HEAD + P2P_FRAME_TAG) /* 20 bytes per frame */
#define P2P_FRAME_MAX_PLAIN 16384                         /* protocol maximum of L */
#define P2P_FRAME_MAX_WIRE (P2P_FRAME_OVERHEAD + P2P_FRAME_MAX_PLAIN)

/* Return values of p2p_frame_dec_feed besides negative errors. */
#define P2P_FRAME_MORE 0 /* every byte given was consumed; feed more */
#define P2P_FRAME_OK 1   /* one whole frame was opened */

/* One direction's key and the counter of the next frame. */
typedef struct {
  uint8_t key[P2P_FRAME_KEY_LEN];
  uint64_t counter;
} p2p_frame_key;

/* Seal plain[0..len) as the frame numbered k->counter into out, which must
 * have room for P2P_FRAME_OVERHEAD + len bytes, then advance the counter.
 * Returns 0, COHORT_ERR_TOO_LARGE (len is 0 or over P2P_FRAME_MAX_PLAIN) or
 * COHORT_ERR_OVERFLOW (counter exhausted: the session must end). out and
 * plain may not overlap. Nothing is written on failure. */
int p2p_frame_seal(p2p_frame_key *k, uint8_t *out, const uint8_t *plain, size_t len);

/* The incremental decoder of one direction. Fields are private. */
typedef struct {
  p2p_frame_key k;
  size_t max_plain; /* largest L accepted */
  size_t have;      /* bytes of the current frame in buf */
  size_t need;      /* its whole size, once the header is in (0 before) */
  int err;          /* 0, or the error that ended the stream */
  uint8_t buf[P2P_FRAME_MAX_WIRE];
} p2p_frame_dec;

/* Start a decoder with key k (copied) and a limit max_plain, clamped to
 * 1..P2P_FRAME_MAX_PLAIN. */
void p2p_frame_dec_init(p2p_frame_dec *d, const p2p_frame_key *k, size_t max_plain);

/* Feed in[0..len): consumes bytes up to the end of the first whole frame and
 * stops there, so *used <= len always and the caller feeds the rest again.
 * Returns:
 *   P2P_FRAME_OK    a frame opened: *plain and *plain_len point into d (valid
 *                   until the next call on d); *used bytes were consumed.
 *   P2P_FRAME_MORE  all len bytes consumed; no whole frame yet.
 *   COHORT_ERR_TOO_LARGE  the header announced L == 0 or L > max_plain
 *                   (refused once the 4 header bytes are in; the body is
 *                   never read);
 *   COHORT_ERR_DECODE     the frame does not authenticate (tampered, wrong
 *                   key, wrong order, truncated-and-spliced);
 *   COHORT_ERR_OVERFLOW   the counter is exhausted.
 * Errors are final: later calls return the same error and consume nothing.
 * eb (may be NULL) gets a sentence naming the frame number and the problem. */
int p2p_frame_dec_feed(p2p_frame_dec *d, const uint8_t *in, size_t len, size_t *used,
                       const uint8_t **plain, size_t *plain_len, core_errbuf *eb);

/* Wipe the key and buffered bytes. */
void p2p_frame_dec_wipe(p2p_frame_dec *d);
void p2p_frame_key_wipe(p2p_frame_key *k);

#endif
