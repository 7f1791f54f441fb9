/* p2p/p2p_frame.c — sealing and incrementally opening frames (p2p_frame.h).
 *
 * The decoder is a two-step reader over one fixed buffer: first the 4-byte
 * header (checked against the limit as soon as it is whole), then exactly
 * L + 16 more bytes, decrypted in place. It never takes a byte past the end
 * of the current frame, so the caller can hand the rest of its read buffer
 * to whatever comes next (the handshake hands the stream over this way).
 */
#include "p2p/p2p_frame.h"

#include <sodium.h>
#include <string.h>

#include "core/bytes.h"

static void nonce_of(uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], uint64_t ctr) {
  memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  core_put_u64be(n + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES - 8, ctr);
}

int p2p_frame_seal(p2p_frame_key *k, uint8_t *out, const uint8_t *plain, size_t len) {
  if (len == 0 || len > P2P_FRAME_MAX_PLAIN) return COHORT_ERR_TOO_LARGE;
  if (k->counter == UINT64_MAX) return COHORT_ERR_OVERFLOW;
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(nonce, k->counter);
  core_put_u32be(out, (uint32_t)len);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + P2P_FRAME_HEAD, &clen, plain, len, out,
                                             P2P_FRAME_HEAD, NULL, nonce, k->key);
  k->counter++;
  return COHORT_OK;
}

void p2p_frame_dec_init(p2p_frame_dec *d, const p2p_frame_key *k, size_t max_plain) {
  memset(d, 0, offsetof(p2p_frame_dec, buf));
  d->k = *k;
  if (max_plain == 0 || max_plain > P2P_FRAME_MAX_PLAIN) max_plain = P2P_FRAME_MAX_PLAIN;
  d->max_plain = max_plain;
}

int p2p_frame_dec_feed(p2p_frame_dec *d, const uint8_t *in, size_t len, size_t *used,
                       const uint8_t **plain, size_t *plain_len, core_errbuf *eb) {
  size_t off = 0;
  *used = 0;
  if (d->err) return core_errf(eb, d->err, "frame stream already failed");
  if (d->have < P2P_FRAME_HEAD) {
    size_t n = P2P_FRAME_HEAD - d->have;
    if (n > len) n = len;
    memcpy(d->buf + d->have, in, n);
    d->have += n;
    off += n;
    if (d->have < P2P_FRAME_HEAD) {
      *used = off;
      return P2P_FRAME_MORE;
    }
    uint32_t l = core_get_u32be(d->buf);
    if (l == 0 || l > d->max_plain) {
      *used = off;
      d->err = COHORT_ERR_TOO_LARGE;
      return core_errf(eb, d->err, "frame %llu announces %u bytes (allowed 1..%zu)",
                       (unsigned long long)d->k.counter, l, d->max_plain);
    }
    d->need = P2P_FRAME_OVERHEAD + (size_t)l;
  }
  size_t n = d->need - d->have;
  if (n > len - off) n = len - off;
  memcpy(d->buf + d->have, in + off, n);
  d->have += n;
  off += n;
  *used = off;
  if (d->have < d->need) return P2P_FRAME_MORE;

  if (d->k.counter == UINT64_MAX) {
    d->err = COHORT_ERR_OVERFLOW;
    return core_errf(eb, d->err, "frame counter exhausted");
  }
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(nonce, d->k.counter);
  unsigned long long mlen = 0;
  uint8_t *c = d->buf + P2P_FRAME_HEAD;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(c, &mlen, NULL, c, d->need - P2P_FRAME_HEAD,
                                                 d->buf, P2P_FRAME_HEAD, nonce, d->k.key) != 0) {
    d->err = COHORT_ERR_DECODE;
    sodium_memzero(d->buf, sizeof d->buf);
    return core_errf(eb, d->err, "frame %llu does not authenticate (tampered or out of order)",
                     (unsigned long long)d->k.counter);
  }
  d->k.counter++;
  d->have = d->need = 0;
  *plain = c;
  *plain_len = (size_t)mlen;
  return P2P_FRAME_OK;
}

void p2p_frame_dec_wipe(p2p_frame_dec *d) { sodium_memzero(d, sizeof *d); }

void p2p_frame_key_wipe(p2p_frame_key *k) { sodium_memzero(k, sizeof *k); }
