/* p2p/p2p_handshake.c — the handshake state machine (p2p_handshake.h has the
 * states, the guarantees of each, and the transitions).
 *
 * Order of the checks on the peer's Auth, and why: the frame must open (only
 * the holder of the peer's ephemeral secret could seal it); the bytes must be
 * a canonical Auth; the signature must verify under the key it carries
 * (now the key is proven to be behind this session); only then are the
 * claims about that key compared with what we expect (ID, dialled ID, not
 * ourselves, chain, version) and the free-form fields checked. A check that
 * fails wipes the keys at once.
 */
#include "p2p/p2p_handshake.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "p2p/p2p_msg.h"
#include "proto/p2p.pb-c.h"

static const uint8_t MAGIC[4] = {'C', 'O', 'H', 'P'};
static const char TRANSCRIPT_DOMAIN[] = "cohort/p2p/v1/transcript";
static const char LABEL_I[] = "cohort/p2p/v1/auth/initiator";
static const char LABEL_R[] = "cohort/p2p/v1/auth/responder";

_Static_assert(sizeof LABEL_I - 1 + 32 == P2P_AUTH_MSG_LEN, "auth message length");
_Static_assert(sizeof LABEL_R == sizeof LABEL_I, "labels of one length");

void p2p_handshake_auth_msg(uint8_t msg[P2P_AUTH_MSG_LEN], int initiator, const uint8_t th[32]) {
  memcpy(msg, initiator ? LABEL_I : LABEL_R, sizeof LABEL_I - 1);
  memcpy(msg + sizeof LABEL_I - 1, th, 32);
}

static void wipe_secrets(p2p_handshake *hs) {
  sodium_memzero(hs->eph_sec, sizeof hs->eph_sec);
  p2p_frame_key_wipe(&hs->tx);
  p2p_frame_dec_wipe(&hs->rx);
}

void p2p_handshake_wipe(p2p_handshake *hs) { sodium_memzero(hs, sizeof *hs); }

void p2p_session_wipe(p2p_session *s) { sodium_memzero(s, sizeof *s); }

/* Move to FAILED with code and a sentence; returns code. */
static int hs_fail(p2p_handshake *hs, core_errbuf *eb, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int hs_fail(p2p_handshake *hs, core_errbuf *eb, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(hs->why.msg, sizeof hs->why.msg, fmt, ap);
  va_end(ap);
  hs->state = P2P_HS_FAILED;
  hs->err = code;
  wipe_secrets(hs);
  hs->out_len = 0;
  if (eb) *eb = hs->why;
  return code;
}

int p2p_handshake_init(p2p_handshake *hs, const p2p_hs_config *cfg, core_errbuf *eb) {
  memset(hs, 0, sizeof *hs);
  if (!cfg->identity_sec) return core_errf(eb, COHORT_ERR_INVALID, "no identity key");
  if (!p2p_chain_id_is_valid(cfg->chain_id))
    return core_errf(eb, COHORT_ERR_INVALID, "chain ID must be 1-%d characters of [a-z0-9._-]",
                     P2P_CHAIN_ID_MAX);
  const char *mon = cfg->moniker ? cfg->moniker : "";
  if (!p2p_moniker_is_valid(mon, strlen(mon)))
    return core_errf(eb, COHORT_ERR_INVALID, "moniker must be at most %d printable ASCII characters",
                     P2P_MONIKER_MAX);
  const char *la = cfg->listen_addr ? cfg->listen_addr : "";
  if (*la) {
    p2p_hostport hp;
    core_errbuf sub;
    if (p2p_hostport_parse(la, strlen(la), 0, 1, &hp, &sub))
      return core_errf(eb, COHORT_ERR_INVALID, "advertised address: %s", sub.msg);
    snprintf(hs->listen_addr, sizeof hs->listen_addr, "%s", hp.addr);
  }
  if (cfg->expect_id) {
    if (!p2p_id_is_valid(cfg->expect_id, strlen(cfg->expect_id)))
      return core_errf(eb, COHORT_ERR_INVALID, "expected node ID must be 40 lowercase hex digits");
    memcpy(hs->expect_id, cfg->expect_id, P2P_ID_HEX + 1);
  }
  snprintf(hs->moniker, sizeof hs->moniker, "%s", mon);
  snprintf(hs->chain_id, sizeof hs->chain_id, "%s", cfg->chain_id);
  hs->initiator = cfg->initiator ? 1 : 0;
  hs->identity_sec = cfg->identity_sec;
  p2p_node_id(hs->my_id, cfg->identity_sec + 32);

  if (cfg->eph_sec)
    memcpy(hs->eph_sec, cfg->eph_sec, 32);
  else
    randombytes_buf(hs->eph_sec, 32);
  if (crypto_scalarmult_base(hs->eph_pub, hs->eph_sec) != 0 || sodium_is_zero(hs->eph_pub, 32)) {
    sodium_memzero(hs->eph_sec, 32);
    return core_errf(eb, COHORT_ERR_KEY, "ephemeral secret gives no usable public key");
  }

  size_t cl = strlen(hs->chain_id);
  uint8_t *h = hs->hello;
  memcpy(h, MAGIC, 4);
  h[4] = 0;
  h[5] = P2P_PROTOCOL_VERSION;
  h[6] = h[7] = 0;
  memcpy(h + 8, hs->eph_pub, 32);
  h[40] = (uint8_t)cl;
  memcpy(h + 41, hs->chain_id, cl);
  hs->hello_len = P2P_HELLO_FIXED + cl;
  memcpy(hs->out, hs->hello, hs->hello_len);
  hs->out_len = hs->hello_len;
  hs->state = P2P_HS_HELLO;
  return COHORT_OK;
}

size_t p2p_handshake_take(p2p_handshake *hs, uint8_t *out, size_t cap) {
  size_t n = hs->out_len;
  if (n > cap) return 0; /* misuse: cap below P2P_HS_OUT_MAX */
  memcpy(out, hs->out, n);
  sodium_memzero(hs->out, n);
  hs->out_len = 0;
  return n;
}

/* Print untrusted chain text (already checked to be [a-z0-9._-]). */
static int on_peer_hello(p2p_handshake *hs, core_errbuf *eb) {
  const uint8_t *p = hs->peer_hello;
  size_t cl = p[40];
  char peer_chain[P2P_CHAIN_ID_MAX + 1];
  memcpy(peer_chain, p + 41, cl);
  peer_chain[cl] = 0;
  if (!p2p_chain_id_is_valid(peer_chain))
    return hs_fail(hs, eb, COHORT_ERR_DECODE, "peer hello carries a malformed chain ID");
  if (strcmp(peer_chain, hs->chain_id) != 0)
    return hs_fail(hs, eb, COHORT_ERR_CHAIN_ID, "peer is on chain \"%s\", we are on \"%s\"",
                   peer_chain, hs->chain_id);
  const uint8_t *peer_eph = p + 8;
  if (sodium_memcmp(peer_eph, hs->eph_pub, 32) == 0)
    return hs_fail(hs, eb, COHORT_ERR_KEY, "peer sent our own ephemeral key back (reflection)");

  uint8_t rx[32], tx[32];
  int r = hs->initiator
              ? crypto_kx_client_session_keys(rx, tx, hs->eph_pub, hs->eph_sec, peer_eph)
              : crypto_kx_server_session_keys(rx, tx, hs->eph_pub, hs->eph_sec, peer_eph);
  sodium_memzero(hs->eph_sec, sizeof hs->eph_sec);
  if (r != 0) {
    sodium_memzero(rx, 32);
    sodium_memzero(tx, 32);
    return hs_fail(hs, eb, COHORT_ERR_KEY, "peer ephemeral key is of low order");
  }
  p2p_frame_key rk = {{0}, 0};
  memcpy(hs->tx.key, tx, 32);
  hs->tx.counter = 0;
  memcpy(rk.key, rx, 32);
  p2p_frame_dec_init(&hs->rx, &rk, P2P_AUTH_MAX);
  sodium_memzero(rx, 32);
  sodium_memzero(tx, 32);
  p2p_frame_key_wipe(&rk);

  /* Transcript: both hellos, the initiator's first. */
  core_sha256_ctx c;
  core_sha256_init(&c);
  core_sha256_update(&c, TRANSCRIPT_DOMAIN, sizeof TRANSCRIPT_DOMAIN - 1);
  if (hs->initiator) {
    core_sha256_update(&c, hs->hello, hs->hello_len);
    core_sha256_update(&c, hs->peer_hello, hs->peer_have);
  } else {
    core_sha256_update(&c, hs->peer_hello, hs->peer_have);
    core_sha256_update(&c, hs->hello, hs->hello_len);
  }
  core_sha256_final(&c, hs->th);

  /* Our Auth. */
  uint8_t msg[P2P_AUTH_MSG_LEN], sig[64];
  p2p_handshake_auth_msg(msg, hs->initiator, hs->th);
  core_ed25519_sign(sig, msg, sizeof msg, hs->identity_sec);
  char my_id[P2P_ID_HEX + 1];
  core_hex_encode(my_id, hs->my_id, P2P_ID_LEN);
  Cohort__P2p__NodeInfo ni = COHORT__P2P__NODE_INFO__INIT;
  ni.node_id = my_id;
  ni.listen_addr = hs->listen_addr;
  ni.chain_id = hs->chain_id;
  ni.protocol_version = P2P_PROTOCOL_VERSION;
  ni.moniker = hs->moniker;
  Cohort__P2p__Auth a = COHORT__P2P__AUTH__INIT;
  a.pubkey = (ProtobufCBinaryData){32, (uint8_t *)hs->identity_sec + 32};
  a.signature = (ProtobufCBinaryData){64, sig};
  a.info = &ni;
  uint8_t plain[P2P_AUTH_MAX];
  size_t n = protobuf_c_message_get_packed_size(&a.base);
  if (n > sizeof plain) /* cannot happen: every field is bounded at init */
    return hs_fail(hs, eb, COHORT_ERR_INVALID, "our Auth message is %zu bytes", n);
  protobuf_c_message_pack(&a.base, plain);
  int rc = p2p_frame_seal(&hs->tx, hs->out + hs->out_len, plain, n);
  if (rc) return hs_fail(hs, eb, rc, "cannot seal our Auth frame");
  hs->out_len += P2P_FRAME_OVERHEAD + n;
  hs->state = P2P_HS_AUTH;
  return COHORT_OK;
}

static int on_peer_auth(p2p_handshake *hs, const uint8_t *b, size_t len, core_errbuf *eb) {
  ProtobufCMessage *pm;
  int rc = p2p_pb_unpack(&cohort__p2p__auth__descriptor, b, len, &pm);
  if (rc == COHORT_ERR_NOMEM) return hs_fail(hs, eb, rc, "out of memory decoding the peer's Auth");
  if (rc) return hs_fail(hs, eb, rc, "peer Auth is not a canonical cohort.p2p.Auth");
  Cohort__P2p__Auth *a = (Cohort__P2p__Auth *)pm;
  const Cohort__P2p__NodeInfo *ni = a->info;
  char id[P2P_ID_HEX + 1];
  if (a->pubkey.len != 32 || a->signature.len != 64 || !ni) {
    rc = hs_fail(hs, eb, COHORT_ERR_DECODE,
                 "peer Auth needs a 32-byte key, a 64-byte signature and NodeInfo");
    goto out;
  }
  uint8_t msg[P2P_AUTH_MSG_LEN];
  p2p_handshake_auth_msg(msg, !hs->initiator, hs->th);
  if (core_ed25519_verify(a->signature.data, msg, sizeof msg, a->pubkey.data) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_SIGNATURE, "peer's transcript signature does not verify");
    goto out;
  }
  p2p_node_id_hex(id, a->pubkey.data);
  size_t claimed = strlen(ni->node_id);
  if (claimed != P2P_ID_HEX || memcmp(ni->node_id, id, P2P_ID_HEX) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_KEY, "peer claims node ID %s but its key is node %s",
                 p2p_id_is_valid(ni->node_id, claimed) ? ni->node_id : "(malformed)", id);
    goto out;
  }
  if (hs->expect_id[0] && strcmp(hs->expect_id, id) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_KEY, "we dialled node %s but the peer is node %s",
                 hs->expect_id, id);
    goto out;
  }
  uint8_t idb[P2P_ID_LEN];
  p2p_node_id(idb, a->pubkey.data);
  if (memcmp(idb, hs->my_id, P2P_ID_LEN) == 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_DUPLICATE, "connected to ourselves (node %s)", id);
    goto out;
  }
  if (strcmp(ni->chain_id, hs->chain_id) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_CHAIN_ID, "peer %s NodeInfo names another chain than \"%s\"",
                 id, hs->chain_id);
    goto out;
  }
  if (ni->protocol_version != P2P_PROTOCOL_VERSION) {
    rc = hs_fail(hs, eb, COHORT_ERR_UNSUPPORTED, "peer %s speaks p2p version %u, we speak %d", id,
                 ni->protocol_version, P2P_PROTOCOL_VERSION);
    goto out;
  }
  p2p_hostport hp;
  core_errbuf sub;
  size_t ll = strlen(ni->listen_addr);
  if (ll && p2p_hostport_parse(ni->listen_addr, ll, 0, 1, &hp, &sub) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_DECODE, "peer %s listen address: %s", id, sub.msg);
    goto out;
  }
  if (ll && strcmp(ni->listen_addr, hp.addr) != 0) {
    rc = hs_fail(hs, eb, COHORT_ERR_DECODE, "peer %s listen address is not in canonical form (%s)",
                 id, hp.addr);
    goto out;
  }
  size_t ml = strlen(ni->moniker);
  if (!p2p_moniker_is_valid(ni->moniker, ml)) {
    rc = hs_fail(hs, eb, COHORT_ERR_DECODE, "peer %s moniker is not 0-%d printable ASCII characters",
                 id, P2P_MONIKER_MAX);
    goto out;
  }
  memcpy(hs->peer.pubkey, a->pubkey.data, 32);
  memcpy(hs->peer.id, id, sizeof id);
  if (ll)
    snprintf(hs->peer.listen_addr, sizeof hs->peer.listen_addr, "%s", hp.addr);
  memcpy(hs->peer.moniker, ni->moniker, ml + 1);
  hs->peer.version = ni->protocol_version;
  hs->state = P2P_HS_DONE;
  rc = P2P_HS_OK;
out:
  protobuf_c_message_free_unpacked(pm, NULL);
  return rc;
}

int p2p_handshake_feed(p2p_handshake *hs, const uint8_t *in, size_t len, size_t *used,
                       core_errbuf *eb) {
  size_t off = 0;
  *used = 0;
  if (hs->state == P2P_HS_FAILED) {
    if (eb) *eb = hs->why;
    return hs->err;
  }
  if (hs->state == P2P_HS_DONE) return P2P_HS_OK;
  if (hs->state != P2P_HS_HELLO && hs->state != P2P_HS_AUTH)
    return core_errf(eb, COHORT_ERR_INVALID, "handshake not started");
  while (off < len) {
    if (hs->state == P2P_HS_HELLO) {
      size_t want = hs->peer_have < P2P_HELLO_FIXED ? P2P_HELLO_FIXED
                                                    : P2P_HELLO_FIXED + hs->peer_hello[40];
      size_t n = want - hs->peer_have;
      if (n > len - off) n = len - off;
      memcpy(hs->peer_hello + hs->peer_have, in + off, n);
      hs->peer_have += n;
      off += n;
      *used = off;
      if (hs->peer_have < P2P_HELLO_FIXED) break;
      if (hs->peer_have == P2P_HELLO_FIXED) {
        const uint8_t *p = hs->peer_hello;
        if (memcmp(p, MAGIC, 4) != 0)
          return hs_fail(hs, eb, COHORT_ERR_DECODE, "not a Cohort p2p peer (bad hello magic)");
        unsigned ver = (unsigned)p[4] << 8 | p[5];
        if (ver != P2P_PROTOCOL_VERSION)
          return hs_fail(hs, eb, COHORT_ERR_UNSUPPORTED, "peer speaks p2p version %u, we speak %d",
                         ver, P2P_PROTOCOL_VERSION);
        if (p[6] || p[7])
          return hs_fail(hs, eb, COHORT_ERR_DECODE, "peer hello sets reserved flags 0x%02x%02x",
                         p[6], p[7]);
        if (p[40] == 0 || p[40] > P2P_CHAIN_ID_MAX)
          return hs_fail(hs, eb, COHORT_ERR_DECODE, "peer hello announces a %u-byte chain ID",
                         p[40]);
        continue; /* now read the chain ID */
      }
      if (hs->peer_have < want) break;
      int rc = on_peer_hello(hs, eb);
      if (rc) return rc;
      continue;
    }
    /* P2P_HS_AUTH */
    size_t n = 0;
    const uint8_t *plain = NULL;
    size_t plen = 0;
    core_errbuf sub;
    int r = p2p_frame_dec_feed(&hs->rx, in + off, len - off, &n, &plain, &plen, &sub);
    off += n;
    *used = off;
    if (r < 0) {
      if (r == COHORT_ERR_TOO_LARGE)
        return hs_fail(hs, eb, r, "peer Auth frame too large: %s", sub.msg);
      return hs_fail(hs, eb, r, "peer Auth frame: %s", sub.msg);
    }
    if (r == P2P_FRAME_MORE) break;
    return on_peer_auth(hs, plain, plen, eb);
  }
  return P2P_HS_MORE;
}

int p2p_handshake_session(p2p_handshake *hs, p2p_session *out) {
  if (hs->state != P2P_HS_DONE) return COHORT_ERR_INVALID;
  out->tx = hs->tx;
  out->rx = hs->rx.k;
  out->peer = hs->peer;
  p2p_handshake_wipe(hs);
  return COHORT_OK;
}
