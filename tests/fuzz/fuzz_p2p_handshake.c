/* tests/fuzz/fuzz_p2p_handshake.c — libFuzzer target for the p2p handshake
 * (p2p/p2p_handshake.c). A responder R with fixed keys (identity seed 3*32,
 * ephemeral secret 4*32, chain "fuzz-chain") meets the input. Byte 0: the
 * read size (bits 0-4: 1..31 bytes per feed, 0 = all) and the mode (bits
 * 5-6):
 *   0: the input is everything the initiator sends (hello, Auth frame, more);
 *   1: the input is the plaintext of the initiator's Auth: the harness runs a
 *      real initiator I (identity 1*32, ephemeral 2*32) for the hellos and
 *      seals the input under I's real key, so the fuzzer reaches every
 *      check behind the AEAD;
 *   2: the input is XORed onto I's real stream (hello + Auth frame): only
 *      the all-zero mask may succeed.
 * Checks: never consumes more than given; MORE consumes everything; a
 * failure is final, has a reason and leaves no key behind; success gives a
 * peer whose node ID is its key's, with a valid moniker and address, and in
 * mode 2 only for an unchanged stream. tests/fuzz/gen_p2p_corpus.py makes
 * the seeds. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/keys.h"
#include "p2p/p2p_handshake.h"

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static const char *CHAIN = "fuzz-chain";
static uint8_t isec[64], ipub[32], rsec[64], rpub[32], ieph[32], reph[32];
static int ready;

static void setup(void) {
  if (ready) return;
  core_init();
  uint8_t s[32];
  memset(s, 1, 32);
  core_ed25519_from_seed(isec, ipub, s);
  memset(s, 3, 32);
  core_ed25519_from_seed(rsec, rpub, s);
  memset(ieph, 2, 32);
  memset(reph, 4, 32);
  ready = 1;
}

static p2p_handshake R, I;

static void start(p2p_handshake *h, int initiator) {
  p2p_hs_config c = {.initiator = initiator,
                     .chain_id = CHAIN,
                     .identity_sec = initiator ? isec : rsec,
                     .eph_sec = initiator ? ieph : reph,
                     .listen_addr = initiator ? "127.0.0.1:26656" : "",
                     .moniker = initiator ? "i" : "r"};
  CHECK(p2p_handshake_init(h, &c, NULL) == 0);
}

/* Feed s to R in reads of step bytes; returns R's final result. */
static int feed_r(const uint8_t *s, size_t n, size_t step) {
  size_t off = 0;
  int r = P2P_HS_MORE;
  uint8_t out[P2P_HS_OUT_MAX];
  while (off < n) {
    size_t avail = n - off;
    if (step && avail > step) avail = step;
    size_t used = 99999;
    r = p2p_handshake_feed(&R, s + off, avail, &used, NULL);
    CHECK(used <= avail);
    off += used;
    p2p_handshake_take(&R, out, sizeof out);
    if (r < 0) {
      static const uint8_t z[32];
      CHECK(R.state == P2P_HS_FAILED && R.err == r && R.why.msg[0]);
      CHECK(memcmp(R.tx.key, z, 32) == 0 && memcmp(R.eph_sec, z, 32) == 0);
      size_t u2 = 7;
      CHECK(p2p_handshake_feed(&R, s, n, &u2, NULL) == r && u2 == 0);
      return r;
    }
    if (r == P2P_HS_OK) return r;
    CHECK(used == avail);
  }
  return r;
}

static void check_done(void) {
  p2p_session s;
  CHECK(p2p_handshake_session(&R, &s) == 0);
  char id[P2P_ID_HEX + 1];
  p2p_node_id_hex(id, s.peer.pubkey);
  CHECK(strcmp(id, s.peer.id) == 0);
  CHECK(p2p_moniker_is_valid(s.peer.moniker, strlen(s.peer.moniker)));
  if (s.peer.listen_addr[0]) {
    p2p_hostport hp;
    CHECK(p2p_hostport_parse(s.peer.listen_addr, strlen(s.peer.listen_addr), 0, 1, &hp, NULL) == 0);
  }
  CHECK(s.tx.counter == 1 && s.rx.counter == 1);
  p2p_session_wipe(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  size_t step = data[0] & 31;
  int mode = (data[0] >> 5) & 3;
  data++;
  size--;
  start(&R, 0);
  uint8_t rout[P2P_HS_OUT_MAX];
  p2p_handshake_take(&R, rout, sizeof rout);
  if (mode == 0 || mode == 3) {
    if (feed_r(data, size, step) == P2P_HS_OK) check_done();
  } else {
    /* The real initiator's hello, and its keys once it has R's hello. */
    start(&I, 1);
    uint8_t iout[2 * P2P_HS_OUT_MAX];
    size_t in = p2p_handshake_take(&I, iout, sizeof iout), used;
    size_t rh = P2P_HELLO_FIXED + strlen(CHAIN);
    CHECK(p2p_handshake_feed(&I, rout, rh, &used, NULL) == P2P_HS_MORE);
    if (mode == 1) {
      if (size > P2P_AUTH_MAX || size == 0) {
        p2p_handshake_wipe(&I);
        p2p_handshake_wipe(&R);
        return 0;
      }
      p2p_frame_key k = I.tx;
      k.counter = 0;
      in = P2P_HELLO_FIXED + strlen(CHAIN); /* I's hello only */
      CHECK(p2p_frame_seal(&k, iout + in, data, size) == 0);
      in += P2P_FRAME_OVERHEAD + size;
      if (feed_r(iout, in, step) == P2P_HS_OK) check_done();
    } else {
      in += p2p_handshake_take(&I, iout + in, sizeof iout - in);
      int zero = 1;
      for (size_t i = 0; i < size && i < in; i++) {
        iout[i] ^= data[i];
        zero &= data[i] == 0;
      }
      int r = feed_r(iout, in, step);
      if (r == P2P_HS_OK) {
        CHECK(zero);
        check_done();
      }
    }
    p2p_handshake_wipe(&I);
  }
  p2p_handshake_wipe(&R);
  return 0;
}
