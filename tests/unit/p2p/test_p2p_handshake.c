/* Unit tests for the p2p handshake (pure): the known answers of
 * tests/vectors/p2p.json (made by an independent Python implementation of
 * docs/p2p.md) for hellos, transcript, keys, signatures, Auth frames, a
 * session's frames and the control messages; handshakes over every split of
 * the byte streams; every byte of either side's stream tampered, and refused;
 * forged Auth contents (each check in turn); wrong chain; identity mismatch;
 * ourselves; reflection; version; garbage; oversize Auth; wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "p2p/p2p_handshake.h"
#include "p2p/p2p_msg.h"
#include "proto/p2p.pb-c.h"

/* ---- helpers ------------------------------------------------------------ */

static size_t unhex(uint8_t *out, size_t cap, const char *h) {
  size_t n;
  assert_int_equal(core_hex_decode(out, cap, &n, h, strlen(h)), 0);
  return n;
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  if (!s) fail_msg("vector field %s missing", k);
  return s;
}

static void expect_hex(json_t *o, const char *k, const uint8_t *got, size_t n) {
  uint8_t want[4096];
  size_t wn = unhex(want, sizeof want, str(o, k));
  assert_int_equal(wn, n);
  if (memcmp(want, got, n) != 0) fail_msg("%s differs from the vector", k);
}

typedef struct {
  uint8_t sec[64], pub[32];
  char id[41];
} ident;

static void ident_from_seed(ident *k, const uint8_t seed[32]) {
  core_ed25519_from_seed(k->sec, k->pub, seed);
  p2p_node_id_hex(k->id, k->pub);
}

static void ident_n(ident *k, uint8_t n) {
  uint8_t seed[32];
  memset(seed, n, 32);
  ident_from_seed(k, seed);
}

static const char *CHAIN = "cohort-test-1";

static void start(p2p_handshake *hs, int initiator, const ident *k, const char *chain,
                  const char *expect, const uint8_t *eph) {
  p2p_hs_config c = {.initiator = initiator,
                     .chain_id = chain,
                     .identity_sec = k->sec,
                     .eph_sec = eph,
                     .listen_addr = initiator ? "127.0.0.1:1000" : "",
                     .moniker = initiator ? "init" : "resp",
                     .expect_id = expect};
  core_errbuf eb;
  if (p2p_handshake_init(hs, &c, &eb)) fail_msg("init: %s", eb.msg);
}

typedef struct {
  uint8_t b[2 * P2P_HS_OUT_MAX];
  size_t n, off;
} pipe_;

static void drain(p2p_handshake *hs, pipe_ *p) {
  p->n += p2p_handshake_take(hs, p->b + p->n, sizeof p->b - p->n);
}

/* Run two machines against each other, delivering at most `step` bytes per
 * feed (0 = all). Returns 1 when both are DONE; on failure, the first error
 * in *ea / *eb_. */
static int run_pair(p2p_handshake *i, p2p_handshake *r, size_t step, int *ei, int *er) {
  pipe_ *ir = calloc(1, sizeof *ir), *ri = calloc(1, sizeof *ri);
  *ei = *er = 0;
  drain(i, ir);
  drain(r, ri);
  for (int rounds = 0; rounds < 100000; rounds++) {
    int progress = 0;
    for (int side = 0; side < 2; side++) {
      p2p_handshake *me = side ? i : r; /* the receiver */
      pipe_ *in = side ? ri : ir, *out = side ? ir : ri;
      int *err = side ? ei : er;
      if (*err || me->state == P2P_HS_DONE || in->off == in->n) continue;
      size_t avail = in->n - in->off;
      if (step && avail > step) avail = step;
      size_t used;
      int rc = p2p_handshake_feed(me, in->b + in->off, avail, &used, NULL);
      assert_true(used <= avail);
      in->off += used;
      if (rc < 0) *err = rc;
      drain(me, out);
      progress = 1;
    }
    if (!progress) break;
  }
  free(ir);
  free(ri);
  return i->state == P2P_HS_DONE && r->state == P2P_HS_DONE;
}

/* ---- vectors ------------------------------------------------------------ */

static json_t *V;

static void test_vector_handshakes(void **st) {
  (void)st;
  size_t idx;
  json_t *c;
  json_array_foreach(json_object_get(V, "handshakes"), idx, c) {
    json_t *in = json_object_get(c, "input"), *ex = json_object_get(c, "expect");
    const char *chain = str(in, "chain_id");
    json_t *side[2] = {json_object_get(in, "initiator"), json_object_get(in, "responder")};
    ident k[2];
    uint8_t eph[2][32];
    p2p_handshake hs[2];
    for (int s = 0; s < 2; s++) {
      uint8_t seed[32];
      unhex(seed, 32, str(side[s], "identity_seed"));
      unhex(eph[s], 32, str(side[s], "eph_secret"));
      ident_from_seed(&k[s], seed);
      p2p_hs_config cfg = {.initiator = s == 0,
                           .chain_id = chain,
                           .identity_sec = k[s].sec,
                           .eph_sec = eph[s],
                           .listen_addr = str(side[s], "listen_addr"),
                           .moniker = str(side[s], "moniker"),
                           .expect_id = s == 0 ? k[1].id : NULL};
      if (s == 0) {
        /* expect_id needs the responder's key first. */
        uint8_t seed1[32];
        unhex(seed1, 32, str(side[1], "identity_seed"));
        ident_from_seed(&k[1], seed1);
        cfg.expect_id = k[1].id;
      }
      assert_int_equal(p2p_handshake_init(&hs[s], &cfg, NULL), 0);
    }
    expect_hex(ex, "pub_i", k[0].pub, 32);
    expect_hex(ex, "pub_r", k[1].pub, 32);
    assert_string_equal(str(ex, "id_i"), k[0].id);
    assert_string_equal(str(ex, "id_r"), k[1].id);
    expect_hex(ex, "eph_pub_i", hs[0].eph_pub, 32);
    expect_hex(ex, "eph_pub_r", hs[1].eph_pub, 32);
    uint8_t out[2][P2P_HS_OUT_MAX];
    size_t on[2];
    for (int s = 0; s < 2; s++) on[s] = p2p_handshake_take(&hs[s], out[s], sizeof out[s]);
    expect_hex(ex, "hello_i", out[0], on[0]);
    expect_hex(ex, "hello_r", out[1], on[1]);
    /* Each side gets the other's hello and answers with its Auth frame. */
    uint8_t hello[2][P2P_HELLO_MAX];
    memcpy(hello[0], out[0], on[0]);
    memcpy(hello[1], out[1], on[1]);
    size_t hl[2] = {on[0], on[1]}, used;
    for (int s = 0; s < 2; s++) {
      assert_int_equal(p2p_handshake_feed(&hs[s], hello[1 - s], hl[1 - s], &used, NULL), P2P_HS_MORE);
      assert_int_equal(used, hl[1 - s]);
      assert_int_equal(hs[s].state, P2P_HS_AUTH);
      expect_hex(ex, "transcript_hash", hs[s].th, 32);
      on[s] = p2p_handshake_take(&hs[s], out[s], sizeof out[s]);
    }
    expect_hex(ex, "auth_frame_i", out[0], on[0]);
    expect_hex(ex, "auth_frame_r", out[1], on[1]);
    expect_hex(ex, "key_i2r", hs[0].tx.key, 32);
    expect_hex(ex, "key_r2i", hs[1].tx.key, 32);
    /* The signed messages. */
    uint8_t msg[P2P_AUTH_MSG_LEN], sig[64], want_sig[64];
    for (int s = 0; s < 2; s++) {
      p2p_handshake_auth_msg(msg, s == 0, hs[s].th);
      core_ed25519_sign(sig, msg, sizeof msg, k[s].sec);
      unhex(want_sig, 64, str(ex, s == 0 ? "sig_i" : "sig_r"));
      assert_memory_equal(sig, want_sig, 64);
    }
    for (int s = 0; s < 2; s++) {
      assert_int_equal(p2p_handshake_feed(&hs[s], out[1 - s], on[1 - s], &used, NULL), P2P_HS_OK);
      assert_int_equal(used, on[1 - s]);
    }
    p2p_session ss[2];
    for (int s = 0; s < 2; s++) assert_int_equal(p2p_handshake_session(&hs[s], &ss[s]), 0);
    assert_memory_equal(ss[0].tx.key, ss[1].rx.key, 32);
    assert_memory_equal(ss[1].tx.key, ss[0].rx.key, 32);
    assert_int_equal(ss[0].tx.counter, 1);
    assert_int_equal(ss[0].rx.counter, 1);
    assert_string_equal(ss[0].peer.id, k[1].id);
    assert_string_equal(ss[1].peer.id, k[0].id);
    assert_string_equal(ss[1].peer.moniker, str(side[0], "moniker"));
    assert_string_equal(ss[0].peer.moniker, str(side[1], "moniker"));
    p2p_session_wipe(&ss[0]);
    p2p_session_wipe(&ss[1]);
  }
}

/* The initiator of handshake 0 sends four messages after its Auth. */
static void test_vector_session(void **st) {
  (void)st;
  json_t *s = json_object_get(V, "session");
  p2p_frame_key k;
  unhex(k.key, 32, str(s, "key_i2r"));
  k.counter = 1;
  json_t *msgs = json_object_get(s, "messages"), *lens = json_object_get(s, "frame_plain_lens");
  core_buf wire = {0};
  size_t fi = 0, mi;
  json_t *m;
  uint8_t frame[P2P_FRAME_MAX_PLAIN], sealed[P2P_FRAME_MAX_WIRE];
  json_array_foreach(msgs, mi, m) {
    int ch = (int)json_integer_value(json_object_get(m, "channel"));
    size_t len = (size_t)json_integer_value(json_object_get(m, "len"));
    uint8_t *b = malloc(len ? len : 1);
    if (mi == 0) memcpy(b, "a vote", 6);
    if (mi == 1) {
      p2p_ctl c = {.kind = P2P_CTL_PING, .nonce = 7};
      uint8_t *cb;
      size_t cn;
      assert_int_equal(p2p_ctl_encode(&c, &cb, &cn), 0);
      assert_int_equal(cn, len);
      memcpy(b, cb, cn);
      free(cb);
    }
    if (mi == 3)
      for (size_t j = 0; j < len; j++) b[j] = (uint8_t)((j * 7 + 3) & 0xff);
    uint8_t h[32];
    core_sha256(h, b, len);
    expect_hex(m, "sha256", h, 32);
    size_t off = 0;
    int first = 1;
    do {
      size_t taken, fl = p2p_env_frame(frame, (uint8_t)ch, b, len, off, first, &taken);
      first = 0;
      off += taken;
      assert_int_equal(fl, (size_t)json_integer_value(json_array_get(lens, fi++)));
      assert_int_equal(p2p_frame_seal(&k, sealed, frame, fl), 0);
      assert_int_equal(core_buf_append(&wire, sealed, P2P_FRAME_OVERHEAD + fl), 0);
    } while (off < len);
    free(b);
  }
  assert_int_equal(fi, json_array_size(lens));
  assert_int_equal(wire.len, (size_t)json_integer_value(json_object_get(s, "stream_len")));
  uint8_t h[32];
  core_sha256(h, wire.data, wire.len);
  expect_hex(s, "stream_sha256", h, 32);
  uint8_t ff[256];
  size_t fn = unhex(ff, sizeof ff, str(s, "first_frames"));
  assert_memory_equal(wire.data, ff, fn);

  /* And the receiving side gets the four messages back. */
  p2p_frame_key rk;
  unhex(rk.key, 32, str(s, "key_i2r"));
  rk.counter = 1;
  p2p_frame_dec *d = malloc(sizeof *d);
  p2p_frame_dec_init(d, &rk, 0);
  uint32_t maxes[P2P_CH_COUNT] = {65536, 65536, 65536, 65536, 65536};
  p2p_asm a;
  p2p_asm_init(&a, maxes);
  size_t off = 0, got = 0;
  while (off < wire.len) {
    size_t used, pl;
    const uint8_t *p;
    int r = p2p_frame_dec_feed(d, wire.data + off, wire.len - off, &used, &p, &pl, NULL);
    off += used;
    assert_int_equal(r, P2P_FRAME_OK);
    uint8_t ch;
    const uint8_t *msg;
    size_t ml;
    r = p2p_asm_feed(&a, p, pl, &ch, &msg, &ml, NULL);
    assert_true(r >= 0);
    if (r == P2P_ENV_MSG) {
      json_t *mm = json_array_get(msgs, got++);
      assert_int_equal(ch, json_integer_value(json_object_get(mm, "channel")));
      core_sha256(h, msg, ml);
      expect_hex(mm, "sha256", h, 32);
    }
  }
  assert_int_equal(got, 4);
  p2p_asm_free(&a);
  p2p_frame_dec_wipe(d);
  free(d);
  core_buf_free(&wire);
}

static void test_vector_frames(void **st) {
  (void)st;
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(V, "frames"), i, f) {
    p2p_frame_key k;
    unhex(k.key, 32, str(f, "key"));
    k.counter = strtoull(str(f, "counter"), NULL, 10);
    size_t pl = (size_t)json_integer_value(json_object_get(f, "plain_len"));
    uint8_t *plain = calloc(1, pl), *out = malloc(P2P_FRAME_OVERHEAD + pl);
    if (json_is_string(json_object_get(f, "plain"))) unhex(plain, pl, str(f, "plain"));
    p2p_frame_key k0 = k;
    assert_int_equal(p2p_frame_seal(&k, out, plain, pl), 0);
    uint8_t h[32];
    core_sha256(h, out, P2P_FRAME_OVERHEAD + pl);
    expect_hex(f, "frame_sha256", h, 32);
    if (json_is_string(json_object_get(f, "frame"))) expect_hex(f, "frame", out, P2P_FRAME_OVERHEAD + pl);
    p2p_frame_dec *d = malloc(sizeof *d);
    p2p_frame_dec_init(d, &k0, 0);
    size_t used, gl;
    const uint8_t *g;
    assert_int_equal(p2p_frame_dec_feed(d, out, P2P_FRAME_OVERHEAD + pl, &used, &g, &gl, NULL),
                     P2P_FRAME_OK);
    assert_int_equal(gl, pl);
    assert_memory_equal(g, plain, pl);
    free(d);
    free(plain);
    free(out);
  }
}

static void test_vector_control(void **st) {
  (void)st;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(V, "control"), i, c) {
    const char *kind = str(c, "kind");
    p2p_ctl m = {0};
    p2p_peer_addr addrs[4];
    if (!strcmp(kind, "ping") || !strcmp(kind, "pong")) {
      m.kind = kind[1] == 'i' ? P2P_CTL_PING : P2P_CTL_PONG;
      m.nonce = strtoull(str(c, "nonce"), NULL, 10);
    } else if (!strcmp(kind, "pex_request")) {
      m.kind = P2P_CTL_PEX_REQUEST;
    } else {
      m.kind = P2P_CTL_PEX_ADDRS;
      size_t j;
      json_t *e;
      json_array_foreach(json_object_get(c, "addrs"), j, e) {
        char s[400];
        snprintf(s, sizeof s, "%s@%s", json_string_value(json_array_get(e, 0)),
                 json_string_value(json_array_get(e, 1)));
        assert_int_equal(p2p_peer_addr_parse(s, &addrs[j], NULL), 0);
      }
      m.n_addrs = json_array_size(json_object_get(c, "addrs"));
      m.addrs = addrs;
    }
    uint8_t *b;
    size_t n;
    assert_int_equal(p2p_ctl_encode(&m, &b, &n), 0);
    expect_hex(c, "bytes", b, n);
    p2p_ctl d;
    assert_int_equal(p2p_ctl_decode(b, n, &d, NULL), 0);
    assert_int_equal(d.kind, m.kind);
    assert_true(d.nonce == m.nonce);
    assert_int_equal(d.n_addrs, m.n_addrs);
    p2p_ctl_free(&d);
    free(b);
  }
}

/* ---- behaviour ---------------------------------------------------------- */

static void test_every_split(void **st) {
  (void)st;
  ident a, b;
  ident_n(&a, 1);
  ident_n(&b, 2);
  for (size_t step = 0; step <= 300; step += (step < 40 ? 1 : 37)) {
    p2p_handshake i, r;
    start(&i, 1, &a, CHAIN, b.id, NULL);
    start(&r, 0, &b, CHAIN, NULL, NULL);
    int ei, er;
    assert_true(run_pair(&i, &r, step, &ei, &er));
    p2p_session si, sr;
    assert_int_equal(p2p_handshake_session(&i, &si), 0);
    assert_int_equal(p2p_handshake_session(&r, &sr), 0);
    assert_memory_equal(si.tx.key, sr.rx.key, 32);
    assert_memory_equal(sr.tx.key, si.rx.key, 32);
    assert_string_equal(si.peer.id, b.id);
    assert_string_equal(sr.peer.id, a.id);
    assert_string_equal(sr.peer.listen_addr, "127.0.0.1:1000");
    assert_string_equal(si.peer.listen_addr, "");
    /* Taking the session wiped the machine. */
    p2p_handshake zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&i, &zero, sizeof zero);
    p2p_session_wipe(&si);
    p2p_session_wipe(&sr);
  }
}

/* Record what each side sends (fixed ephemerals make it reproducible), then
 * replay one side's stream with byte k flipped into a fresh other side. */
static void test_every_byte_tampered(void **st) {
  (void)st;
  ident a, b;
  ident_n(&a, 1);
  ident_n(&b, 2);
  uint8_t ea[32], eb_[32];
  memset(ea, 0x11, 32);
  memset(eb_, 0x22, 32);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, b.id, ea);
  start(&r, 0, &b, CHAIN, NULL, eb_);
  uint8_t si[P2P_HS_OUT_MAX * 2], sr[P2P_HS_OUT_MAX * 2];
  size_t ni = p2p_handshake_take(&i, si, sizeof si), nr = p2p_handshake_take(&r, sr, sizeof sr);
  size_t used;
  assert_int_equal(p2p_handshake_feed(&i, sr, nr, &used, NULL), P2P_HS_MORE);
  assert_int_equal(p2p_handshake_feed(&r, si, ni, &used, NULL), P2P_HS_MORE);
  ni += p2p_handshake_take(&i, si + ni, sizeof si - ni);
  nr += p2p_handshake_take(&r, sr + nr, sizeof sr - nr);
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
  size_t refused = 0, waited = 0;
  for (int dir = 0; dir < 2; dir++) {
    uint8_t *s = dir ? sr : si;
    size_t n = dir ? nr : ni;
    for (size_t k = 0; k < n; k++)
      for (int bit = 0; bit < 8; bit += 7) {
        p2p_handshake x;
        /* The receiver: R for I's stream, I for R's. */
        if (dir == 0)
          start(&x, 0, &b, CHAIN, NULL, eb_);
        else
          start(&x, 1, &a, CHAIN, b.id, ea);
        uint8_t tmp[P2P_HS_OUT_MAX];
        p2p_handshake_take(&x, tmp, sizeof tmp);
        s[k] ^= (uint8_t)(1u << bit);
        int rc = p2p_handshake_feed(&x, s, n, &used, NULL);
        s[k] ^= (uint8_t)(1u << bit);
        if (rc == P2P_HS_OK) fail_msg("direction %d: byte %zu bit %d tampered was accepted", dir, k, bit);
        if (rc < 0) {
          refused++;
          assert_int_equal(x.state, P2P_HS_FAILED);
          assert_true(x.why.msg[0] != 0);
          /* Failure wipes the keys at once. */
          uint8_t z[32] = {0};
          assert_memory_equal(x.tx.key, z, 32);
          assert_memory_equal(x.eph_sec, z, 32);
        } else {
          waited++; /* a length made larger: waits for bytes that never come */
        }
        p2p_handshake_wipe(&x);
      }
  }
  assert_true(refused > 2 * (ni + nr) * 9 / 10);
  (void)waited;
}

/* A peer that runs the real exchange but seals an Auth of its own making. */
typedef void (*forge_fn)(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                         const uint8_t th[32], const ident *me, const ident *other);

static int forged(forge_fn f, int raw_extra, char *why, size_t why_cap) {
  ident a, b, c;
  ident_n(&a, 1);
  ident_n(&b, 2);
  ident_n(&c, 3);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, NULL, NULL); /* the forger */
  start(&r, 0, &b, CHAIN, NULL, NULL); /* the victim */
  uint8_t si[P2P_HS_OUT_MAX], sr[P2P_HS_OUT_MAX];
  size_t ni = p2p_handshake_take(&i, si, sizeof si), nr = p2p_handshake_take(&r, sr, sizeof sr);
  size_t used;
  assert_int_equal(p2p_handshake_feed(&i, sr, nr, &used, NULL), P2P_HS_MORE);
  assert_int_equal(p2p_handshake_feed(&r, si, ni, &used, NULL), P2P_HS_MORE);
  /* The forger's key for frame 0 (its real Auth used it: rewind). */
  p2p_frame_key k = i.tx;
  k.counter = 0;
  uint8_t msg[P2P_AUTH_MSG_LEN], sig[64];
  p2p_handshake_auth_msg(msg, 1, i.th);
  core_ed25519_sign(sig, msg, sizeof msg, a.sec);
  Cohort__P2p__NodeInfo nfo = COHORT__P2P__NODE_INFO__INIT;
  nfo.node_id = a.id;
  nfo.listen_addr = "";
  nfo.chain_id = (char *)CHAIN;
  nfo.protocol_version = P2P_PROTOCOL_VERSION;
  nfo.moniker = "";
  Cohort__P2p__Auth au = COHORT__P2P__AUTH__INIT;
  au.pubkey = (ProtobufCBinaryData){32, a.pub};
  au.signature = (ProtobufCBinaryData){64, sig};
  au.info = &nfo;
  ident me = a;
  f(&au, &nfo, sig, i.th, &me, &c);
  uint8_t plain[2048];
  size_t pl = protobuf_c_message_pack(&au.base, plain);
  if (raw_extra) { /* an unknown field 15 (varint 1) after the known ones */
    plain[pl++] = 0x78;
    plain[pl++] = 0x01;
  }
  uint8_t frame[2048 + P2P_FRAME_OVERHEAD];
  assert_int_equal(p2p_frame_seal(&k, frame, plain, pl), 0);
  core_errbuf eb = {{0}};
  int rc = p2p_handshake_feed(&r, frame, pl + P2P_FRAME_OVERHEAD, &used, &eb);
  snprintf(why, why_cap, "%s", eb.msg);
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
  return rc;
}

static void f_none(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                   const uint8_t th[32], const ident *me, const ident *o) {}
static void f_other_key(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                        const uint8_t th[32], const ident *me, const ident *o) {
  a->pubkey.data = (uint8_t *)o->pub; /* signature by me, key of another */
  ni->node_id = (char *)o->id;
}
static void f_wrong_label(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                          const uint8_t th[32], const ident *me, const ident *o) {
  uint8_t m[P2P_AUTH_MSG_LEN];
  p2p_handshake_auth_msg(m, 0, th); /* signs as the responder */
  core_ed25519_sign(sig, m, sizeof m, me->sec);
}
static void f_claim_other_id(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                             const uint8_t th[32], const ident *me, const ident *o) {
  ni->node_id = (char *)o->id;
}
static void f_short_id(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                       const uint8_t th[32], const ident *me, const ident *o) {
  ni->node_id = "abc";
}
static void f_chain(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                    const uint8_t th[32], const ident *me, const ident *o) {
  ni->chain_id = "other";
}
static void f_version(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                      const uint8_t th[32], const ident *me, const ident *o) {
  ni->protocol_version = 2;
}
static void f_moniker(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                      const uint8_t th[32], const ident *me, const ident *o) {
  ni->moniker = "evil\033[2J";
}
static void f_listen(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                     const uint8_t th[32], const ident *me, const ident *o) {
  ni->listen_addr = "1.2.3.4:0";
}
static void f_listen_noncanon(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                              const uint8_t th[32], const ident *me, const ident *o) {
  ni->listen_addr = "[0::1]:26656";
}
static void f_no_info(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                      const uint8_t th[32], const ident *me, const ident *o) {
  a->info = NULL;
}
static void f_short_sig(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                        const uint8_t th[32], const ident *me, const ident *o) {
  a->signature.len = 63;
}
static void f_self(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                   const uint8_t th[32], const ident *me, const ident *o) {
  /* Sign with the victim's own key (node 2). */
  ident v;
  ident_n(&v, 2);
  uint8_t m[P2P_AUTH_MSG_LEN];
  p2p_handshake_auth_msg(m, 1, th);
  core_ed25519_sign(sig, m, sizeof m, v.sec);
  static uint8_t pub[32];
  static char id[41];
  memcpy(pub, v.pub, 32);
  memcpy(id, v.id, 41);
  a->pubkey.data = pub;
  ni->node_id = id;
}

static void f_nested_unknown(Cohort__P2p__Auth *a, Cohort__P2p__NodeInfo *ni, uint8_t *sig,
                             const uint8_t th[32], const ident *me, const ident *o) {
  /* NodeInfo carries field 15 (varint 1): protobuf-c would keep and re-pack
   * it, so only a check at every depth refuses it. */
  static uint8_t one = 1;
  static ProtobufCMessageUnknownField u;
  u.tag = 15;
  u.wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
  u.len = 1;
  u.data = &one;
  ni->base.n_unknown_fields = 1;
  ni->base.unknown_fields = &u;
}

static void test_forged_auth(void **st) {
  (void)st;
  char why[256];
  const struct {
    forge_fn f;
    int extra;
    int want;
    const char *says;
  } cases[] = {
      {f_none, 0, P2P_HS_OK, ""},
      {f_none, 1, COHORT_ERR_DECODE, "canonical"},
      {f_nested_unknown, 0, COHORT_ERR_DECODE, "canonical"},
      {f_other_key, 0, COHORT_ERR_SIGNATURE, "does not verify"},
      {f_wrong_label, 0, COHORT_ERR_SIGNATURE, "does not verify"},
      {f_claim_other_id, 0, COHORT_ERR_KEY, "claims node ID"},
      {f_short_id, 0, COHORT_ERR_KEY, "(malformed)"},
      {f_chain, 0, COHORT_ERR_CHAIN_ID, "another chain"},
      {f_version, 0, COHORT_ERR_UNSUPPORTED, "version 2"},
      {f_moniker, 0, COHORT_ERR_DECODE, "moniker"},
      {f_listen, 0, COHORT_ERR_DECODE, "listen address"},
      {f_listen_noncanon, 0, COHORT_ERR_DECODE, "canonical form"},
      {f_no_info, 0, COHORT_ERR_DECODE, "NodeInfo"},
      {f_short_sig, 0, COHORT_ERR_DECODE, "64-byte"},
      {f_self, 0, COHORT_ERR_DUPLICATE, "ourselves"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int rc = forged(cases[k].f, cases[k].extra, why, sizeof why);
    if (rc != cases[k].want) fail_msg("case %zu: got %d (%s), want %d", k, rc, why, cases[k].want);
    if (!strstr(why, cases[k].says)) fail_msg("case %zu: \"%s\" lacks \"%s\"", k, why, cases[k].says);
  }
}

static void test_wrong_chain(void **st) {
  (void)st;
  ident a, b;
  ident_n(&a, 1);
  ident_n(&b, 2);
  p2p_handshake i, r;
  start(&i, 1, &a, "chain-a", NULL, NULL);
  start(&r, 0, &b, "chain-b", NULL, NULL);
  int ei, er;
  assert_false(run_pair(&i, &r, 0, &ei, &er));
  assert_int_equal(ei, COHORT_ERR_CHAIN_ID);
  assert_int_equal(er, COHORT_ERR_CHAIN_ID);
  assert_non_null(strstr(r.why.msg, "\"chain-a\""));
  assert_non_null(strstr(r.why.msg, "\"chain-b\""));
  /* Failed at the hello: no Auth was ever produced or signed. */
  assert_int_equal(r.out_len, 0);
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
}

static void test_identity_mismatch(void **st) {
  (void)st;
  ident a, b, c;
  ident_n(&a, 1);
  ident_n(&b, 2);
  ident_n(&c, 3);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, c.id, NULL); /* we dialled c, b answers */
  start(&r, 0, &b, CHAIN, NULL, NULL);
  int ei, er;
  assert_false(run_pair(&i, &r, 0, &ei, &er));
  assert_int_equal(ei, COHORT_ERR_KEY);
  assert_non_null(strstr(i.why.msg, c.id));
  assert_non_null(strstr(i.why.msg, b.id));
  assert_non_null(strstr(i.why.msg, "dialled"));
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
}

static void test_self_and_reflection(void **st) {
  (void)st;
  ident a;
  ident_n(&a, 1);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, NULL, NULL);
  start(&r, 0, &a, CHAIN, NULL, NULL);
  int ei, er;
  assert_false(run_pair(&i, &r, 0, &ei, &er));
  assert_int_equal(ei, COHORT_ERR_DUPLICATE);
  /* I failed in the same feed that would have queued its Auth, and a failed
   * machine sends nothing more: R is left waiting (the connection closes). */
  assert_true(er == COHORT_ERR_DUPLICATE || (er == 0 && r.state == P2P_HS_AUTH));
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
  /* Our own hello sent back to us. */
  start(&r, 0, &a, CHAIN, NULL, NULL);
  uint8_t out[P2P_HS_OUT_MAX];
  size_t n = p2p_handshake_take(&r, out, sizeof out), used;
  assert_int_equal(p2p_handshake_feed(&r, out, n, &used, NULL), COHORT_ERR_KEY);
  assert_non_null(strstr(r.why.msg, "reflection"));
  p2p_handshake_wipe(&r);
}

static void test_bad_hellos(void **st) {
  (void)st;
  ident a, b;
  ident_n(&a, 1);
  ident_n(&b, 2);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, NULL, NULL);
  uint8_t good[P2P_HS_OUT_MAX];
  size_t gn = p2p_handshake_take(&i, good, sizeof good), used;
  struct {
    size_t at;
    uint8_t v;
    int want;
  } cases[] = {{0, 'X', COHORT_ERR_DECODE},      {5, 2, COHORT_ERR_UNSUPPORTED},
               {4, 1, COHORT_ERR_UNSUPPORTED},   {7, 1, COHORT_ERR_DECODE},
               {40, 0, COHORT_ERR_DECODE},       {40, 65, COHORT_ERR_DECODE},
               {41, 'A', COHORT_ERR_DECODE},     {42, 'x', COHORT_ERR_CHAIN_ID}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    uint8_t h[P2P_HS_OUT_MAX + 64];
    memcpy(h, good, gn);
    memset(h + gn, 'a', 64);
    h[cases[k].at] = cases[k].v;
    start(&r, 0, &b, CHAIN, NULL, NULL);
    int rc = p2p_handshake_feed(&r, h, gn + 64, &used, NULL);
    if (rc != cases[k].want) fail_msg("case %zu: %d (%s)", k, rc, r.why.msg);
    p2p_handshake_wipe(&r);
  }
  /* Garbage: an HTTP request at the p2p port. */
  start(&r, 0, &b, CHAIN, NULL, NULL);
  const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345678901234567890";
  assert_int_equal(p2p_handshake_feed(&r, (const uint8_t *)http, strlen(http), &used, NULL),
                   COHORT_ERR_DECODE);
  assert_non_null(strstr(r.why.msg, "magic"));
  /* Later feeds give the same error. */
  assert_int_equal(p2p_handshake_feed(&r, good, gn, &used, NULL), COHORT_ERR_DECODE);
  assert_int_equal(used, 0);
  p2p_handshake_wipe(&r);
  /* An oversize Auth frame after a good hello: refused on its header. */
  start(&r, 0, &b, CHAIN, NULL, NULL);
  uint8_t h[P2P_HS_OUT_MAX + 8];
  memcpy(h, good, gn);
  core_put_u32be(h + gn, P2P_AUTH_MAX + 1);
  assert_int_equal(p2p_handshake_feed(&r, h, gn + 8, &used, NULL), COHORT_ERR_TOO_LARGE);
  assert_int_equal(used, gn + 4);
  p2p_handshake_wipe(&r);
  p2p_handshake_wipe(&i);
  /* Bad configuration. */
  p2p_hs_config c = {.initiator = 1, .chain_id = "Bad Chain", .identity_sec = a.sec};
  core_errbuf eb;
  assert_int_equal(p2p_handshake_init(&r, &c, &eb), COHORT_ERR_INVALID);
  c.chain_id = CHAIN;
  c.moniker = "tab\there";
  assert_int_equal(p2p_handshake_init(&r, &c, &eb), COHORT_ERR_INVALID);
  c.moniker = NULL;
  c.expect_id = "nothex";
  assert_int_equal(p2p_handshake_init(&r, &c, &eb), COHORT_ERR_INVALID);
  c.expect_id = NULL;
  c.listen_addr = "nowhere";
  assert_int_equal(p2p_handshake_init(&r, &c, &eb), COHORT_ERR_INVALID);
  c.listen_addr = NULL;
  c.identity_sec = NULL;
  assert_int_equal(p2p_handshake_init(&r, &c, &eb), COHORT_ERR_INVALID);
}

/* A low-order point as the peer's ephemeral key gives an all-zero shared
 * secret: refused before anything is signed. */
static void test_low_order_key(void **st) {
  (void)st;
  ident a, b;
  ident_n(&a, 1);
  ident_n(&b, 2);
  p2p_handshake i, r;
  start(&i, 1, &a, CHAIN, NULL, NULL);
  uint8_t h[P2P_HS_OUT_MAX];
  size_t n = p2p_handshake_take(&i, h, sizeof h), used;
  memset(h + 8, 0, 32);
  h[8] = 1; /* u = 1: order 1... any low-order point */
  start(&r, 0, &b, CHAIN, NULL, NULL);
  assert_int_equal(p2p_handshake_feed(&r, h, n, &used, NULL), COHORT_ERR_KEY);
  assert_non_null(strstr(r.why.msg, "low order"));
  p2p_handshake_wipe(&i);
  p2p_handshake_wipe(&r);
}

static int setup(void **st) {
  (void)st;
  json_error_t e;
  V = json_load_file("tests/vectors/p2p.json", 0, &e);
  if (!V) fprintf(stderr, "tests/vectors/p2p.json: %s\n", e.text);
  return V ? 0 : -1;
}

static int teardown(void **st) {
  (void)st;
  json_decref(V);
  return 0;
}

int main(void) {
  if (core_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_handshakes), cmocka_unit_test(test_vector_session),
      cmocka_unit_test(test_vector_frames),     cmocka_unit_test(test_vector_control),
      cmocka_unit_test(test_every_split),       cmocka_unit_test(test_every_byte_tampered),
      cmocka_unit_test(test_forged_auth),       cmocka_unit_test(test_wrong_chain),
      cmocka_unit_test(test_identity_mismatch), cmocka_unit_test(test_self_and_reflection),
      cmocka_unit_test(test_bad_hellos),        cmocka_unit_test(test_low_order_key),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
