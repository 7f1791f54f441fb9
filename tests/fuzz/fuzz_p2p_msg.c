/* tests/fuzz/fuzz_p2p_msg.c — libFuzzer target for every p2p message
 * decoder (p2p/p2p_msg.c, p2p/p2p_addr.c). Input: byte 0 picks the decoder,
 * the rest is its input:
 *   0: frame plaintexts [u16be len][bytes]... into the envelope reassembler
 *      (small per-channel limits), each completed control message decoded;
 *   1: one control message (cohort.p2p.Control);
 *   2: a peer list "ID@HOST:PORT,..." and each entry's HOST:PORT.
 * Checks: messages never exceed their channel's limit, errors are final, a
 * control message that decodes re-encodes to the very bytes it came from
 * (the decoder accepts canonical bytes only), every parsed address's
 * canonical text parses again to itself, and a parsed list has no repeated
 * ID. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p_addr.h"
#include "p2p/p2p_msg.h"

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static void check_ctl(const uint8_t *b, size_t n) {
  p2p_ctl c;
  int r = p2p_ctl_decode(b, n, &c, NULL);
  if (r) {
    CHECK(r == COHORT_ERR_DECODE || r == COHORT_ERR_TOO_LARGE || r == COHORT_ERR_NOMEM);
    CHECK(c.addrs == NULL && c.n_addrs == 0);
    return;
  }
  CHECK(c.n_addrs <= P2P_PEX_MAX_ADDRS);
  for (size_t i = 0; i < c.n_addrs; i++) {
    CHECK(p2p_id_is_valid(c.addrs[i].id, strlen(c.addrs[i].id)));
    CHECK(c.addrs[i].hp.port != 0);
  }
  uint8_t *again;
  size_t an;
  CHECK(p2p_ctl_encode(&c, &again, &an) == 0);
  CHECK(an == n && memcmp(again, b, n) == 0);
  free(again);
  p2p_ctl_free(&c);
}

static void check_hostport(const char *s, size_t n) {
  for (int port0 = 0; port0 < 2; port0++)
    for (int name = 0; name < 2; name++) {
      p2p_hostport hp;
      if (p2p_hostport_parse(s, n, port0, name, &hp, NULL) != 0) continue;
      CHECK(port0 || hp.port != 0);
      CHECK(name || hp.kind != P2P_HOST_NAME);
      p2p_hostport again;
      CHECK(p2p_hostport_parse(hp.addr, strlen(hp.addr), port0, name, &again, NULL) == 0);
      CHECK(strcmp(again.addr, hp.addr) == 0 && again.port == hp.port && again.kind == hp.kind);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int which = data[0] % 3;
  data++;
  size--;
  if (which == 0) {
    static const uint32_t max[P2P_CH_COUNT] = {1000, 5000, 100000, 20000, 70000};
    p2p_asm a;
    p2p_asm_init(&a, max);
    size_t off = 0;
    int failed = 0;
    while (off + 2 <= size) {
      size_t l = (size_t)data[off] << 8 | data[off + 1];
      off += 2;
      if (l > size - off) l = size - off;
      if (l > P2P_FRAME_MAX_PLAIN) l = P2P_FRAME_MAX_PLAIN;
      uint8_t ch = 0xff;
      const uint8_t *m = NULL;
      size_t ml = 0;
      int r = p2p_asm_feed(&a, data + off, l, &ch, &m, &ml, NULL);
      off += l;
      if (failed) {
        CHECK(r < 0);
        continue;
      }
      if (r < 0) {
        CHECK(r == COHORT_ERR_DECODE || r == COHORT_ERR_TOO_LARGE || r == COHORT_ERR_NOMEM);
        failed = 1;
        continue;
      }
      if (r == P2P_ENV_MSG) {
        CHECK(ch < P2P_CH_COUNT && m != NULL && ml <= max[ch]);
        if (ch == P2P_CH_CONTROL) check_ctl(m, ml);
      } else {
        CHECK(r == P2P_ENV_MORE);
      }
    }
    p2p_asm_free(&a);
  } else if (which == 1) {
    check_ctl(data, size);
  } else {
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    p2p_peer_addr *list;
    size_t n;
    if (p2p_peer_list_parse(s, &list, &n, NULL) == 0) {
      CHECK(n <= P2P_PEER_LIST_MAX);
      for (size_t i = 0; i < n; i++) {
        CHECK(p2p_id_is_valid(list[i].id, strlen(list[i].id)));
        for (size_t j = 0; j < i; j++) CHECK(strcmp(list[i].id, list[j].id) != 0);
      }
      free(list);
    } else {
      CHECK(list == NULL && n == 0);
    }
    check_hostport(s, strlen(s));
    free(s);
  }
  return 0;
}
