/* tests/fuzz/fuzz_p2p_frame.c — libFuzzer target for the p2p frame codec
 * (p2p/p2p_frame.c). Input: byte 0 = the read size (bits 0-4: 1..31 bytes
 * per feed, 0 = all that is left) and the mode (bit 7); the rest is:
 *   mode 0: a raw byte stream for a decoder under the fixed key 0x42*32,
 *           counter 0 (tests/fuzz/gen_p2p_corpus.py makes valid seeds);
 *   mode 1: plaintexts [u16be len][bytes]..., sealed by the harness and
 *           decoded back through the same split.
 * Checks: the decoder never consumes more than it is given, consumes all
 * when it asks for more, never hands out more than max_plain bytes, stays
 * failed after an error (consuming nothing), and in mode 1 gives back
 * exactly the plaintexts sealed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p_frame.h"

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static p2p_frame_dec dec;

static p2p_frame_key fixed_key(void) {
  p2p_frame_key k;
  memset(k.key, 0x42, sizeof k.key);
  k.counter = 0;
  return k;
}

/* Decode s through reads of `step` bytes; returns frames opened, or -1 on
 * error. If want is non-NULL, each frame must equal the next plaintext. */
static int decode(const uint8_t *s, size_t n, size_t step, size_t max_plain,
                  const uint8_t *const *want, const size_t *want_len, size_t nwant) {
  p2p_frame_key k = fixed_key();
  p2p_frame_dec_init(&dec, &k, max_plain);
  size_t off = 0;
  int frames = 0;
  while (off < n) {
    size_t avail = n - off;
    if (step && avail > step) avail = step;
    size_t used = 12345, pl = 0;
    const uint8_t *p = NULL;
    int r = p2p_frame_dec_feed(&dec, s + off, avail, &used, &p, &pl, NULL);
    CHECK(used <= avail);
    off += used;
    if (r < 0) {
      size_t u2 = 1;
      CHECK(p2p_frame_dec_feed(&dec, s, n, &u2, &p, &pl, NULL) == r && u2 == 0);
      return -1;
    }
    if (r == P2P_FRAME_MORE) {
      CHECK(used == avail);
      continue;
    }
    CHECK(r == P2P_FRAME_OK);
    CHECK(pl >= 1 && pl <= max_plain && used > 0);
    if (want) {
      CHECK((size_t)frames < nwant);
      CHECK(pl == want_len[frames] && memcmp(p, want[frames], pl) == 0);
    }
    frames++;
  }
  return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = data[0] & 31;
  int mode = data[0] >> 7;
  size_t max_plain = (data[0] & 0x60) == 0x20 ? 1024 : P2P_FRAME_MAX_PLAIN;
  data++;
  size--;
  if (mode == 0) {
    decode(data, size, step, max_plain, NULL, NULL, 0);
    return 0;
  }
  /* Mode 1: seal what the input says, then decode it back. */
  enum { MAXF = 64 };
  const uint8_t *want[MAXF];
  size_t want_len[MAXF], nf = 0, off = 0, total = 0;
  while (off + 2 <= size && nf < MAXF) {
    size_t l = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (l > size - off) l = size - off;
    if (l == 0) continue;
    if (l > max_plain) l = max_plain;
    want[nf] = data + off;
    want_len[nf++] = l;
    total += P2P_FRAME_OVERHEAD + l;
    off += l;
  }
  uint8_t *s = malloc(total ? total : 1);
  p2p_frame_key k = fixed_key();
  size_t w = 0;
  for (size_t i = 0; i < nf; i++) {
    CHECK(p2p_frame_seal(&k, s + w, want[i], want_len[i]) == 0);
    w += P2P_FRAME_OVERHEAD + want_len[i];
  }
  CHECK(w == total);
  CHECK(decode(s, total, step, max_plain, want, want_len, nf) == (int)nf);
  free(s);
  return 0;
}
