/* p2p/p2p_msg.c — the envelope reassembler and writer, and the control
 * messages (p2p_msg.h). */
#include "p2p/p2p_msg.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "proto/p2p.pb-c.h"
#include "proto/pbutil.h"

const char *p2p_channel_name(int ch) {
  static const char *const names[P2P_CH_COUNT] = {"control", "consensus", "blocksync", "mempool",
                                                  "blobs"};
  return ch >= 0 && ch < P2P_CH_COUNT ? names[ch] : "unknown";
}

/* ---- envelope writer ---------------------------------------------------- */

size_t p2p_env_frame(uint8_t *out, uint8_t ch, const uint8_t *msg, size_t len, size_t off,
                     int first, size_t *taken) {
  size_t head = first ? P2P_ENV_FIRST_HEAD : P2P_ENV_HEAD;
  size_t n = len - off;
  if (n > P2P_FRAME_MAX_PLAIN - head) n = P2P_FRAME_MAX_PLAIN - head;
  out[0] = ch;
  out[1] = first ? P2P_ENV_FIRST : 0;
  if (first) core_put_u32be(out + 2, (uint32_t)len);
  if (n) memcpy(out + head, msg + off, n);
  *taken = n;
  return head + n;
}

size_t p2p_env_frames_for(size_t len) {
  size_t first = P2P_FRAME_MAX_PLAIN - P2P_ENV_FIRST_HEAD;
  size_t cont = P2P_FRAME_MAX_PLAIN - P2P_ENV_HEAD;
  if (len <= first) return 1;
  return 1 + (len - first + cont - 1) / cont;
}

/* ---- reassembler -------------------------------------------------------- */

#define GROW_START (64u << 10)

void p2p_asm_init(p2p_asm *a, const uint32_t max[P2P_CH_COUNT]) {
  memset(a, 0, sizeof *a);
  for (int c = 0; c < P2P_CH_COUNT; c++) a->max[c] = max[c] > P2P_MSG_MAX ? P2P_MSG_MAX : max[c];
}

void p2p_asm_free(p2p_asm *a) {
  for (int c = 0; c < P2P_CH_COUNT; c++) free(a->ch[c].buf);
  free(a->done);
  memset(a->ch, 0, sizeof a->ch);
  a->done = NULL;
}

static int fail(p2p_asm *a, int code) {
  a->err = code;
  return code;
}

/* Make room for `more` bytes in s: double up to s->len, never past it. */
static int reserve(p2p_env_slot *s, size_t more) {
  size_t want = (size_t)s->have + more;
  if (want <= s->cap) return COHORT_OK;
  size_t cap = s->cap ? s->cap : GROW_START;
  while (cap < want) cap *= 2;
  if (cap > s->len) cap = s->len;
  uint8_t *p = realloc(s->buf, cap);
  if (!p) return COHORT_ERR_NOMEM;
  s->buf = p;
  s->cap = cap;
  return COHORT_OK;
}

int p2p_asm_feed(p2p_asm *a, const uint8_t *p, size_t n, uint8_t *ch, const uint8_t **msg,
                 size_t *msg_len, core_errbuf *eb) {
  free(a->done);
  a->done = NULL;
  if (a->err) return core_errf(eb, a->err, "message stream already failed");
  if (n < P2P_ENV_HEAD)
    return core_errf(eb, fail(a, COHORT_ERR_DECODE), "frame of %zu bytes has no envelope", n);
  uint8_t c = p[0], flags = p[1];
  if (c >= P2P_CH_COUNT)
    return core_errf(eb, fail(a, COHORT_ERR_DECODE), "unknown channel %u", c);
  if (flags & ~P2P_ENV_FIRST)
    return core_errf(eb, fail(a, COHORT_ERR_DECODE), "reserved envelope flags 0x%02x on channel %s",
                     flags, p2p_channel_name(c));
  p2p_env_slot *s = &a->ch[c];
  const uint8_t *data;
  size_t dlen;
  if (flags & P2P_ENV_FIRST) {
    if (s->open)
      return core_errf(eb, fail(a, COHORT_ERR_DECODE),
                       "channel %s: a new message starts before the last one ended (%u of %u bytes)",
                       p2p_channel_name(c), s->have, s->len);
    if (n < P2P_ENV_FIRST_HEAD)
      return core_errf(eb, fail(a, COHORT_ERR_DECODE), "channel %s: start frame of %zu bytes",
                       p2p_channel_name(c), n);
    uint32_t len = core_get_u32be(p + 2);
    if (len > a->max[c])
      return core_errf(eb, fail(a, COHORT_ERR_TOO_LARGE),
                       "channel %s: message of %u bytes announced (at most %u)",
                       p2p_channel_name(c), len, a->max[c]);
    s->open = 1;
    s->len = len;
    s->have = 0;
    data = p + P2P_ENV_FIRST_HEAD;
    dlen = n - P2P_ENV_FIRST_HEAD;
  } else {
    if (!s->open)
      return core_errf(eb, fail(a, COHORT_ERR_DECODE),
                       "channel %s: continuation frame without a message in progress",
                       p2p_channel_name(c));
    data = p + P2P_ENV_HEAD;
    dlen = n - P2P_ENV_HEAD;
  }
  if (dlen > (size_t)(s->len - s->have))
    return core_errf(eb, fail(a, COHORT_ERR_DECODE),
                     "channel %s: frame carries %zu bytes but only %u remain of the message",
                     p2p_channel_name(c), dlen, s->len - s->have);
  int last = (size_t)s->have + dlen == s->len;
  if (!last && n != P2P_FRAME_MAX_PLAIN)
    return core_errf(eb, fail(a, COHORT_ERR_DECODE),
                     "channel %s: a frame of %zu bytes that does not end its message (must be full)",
                     p2p_channel_name(c), n);
  if (dlen) {
    if (reserve(s, dlen) != COHORT_OK)
      return core_errf(eb, fail(a, COHORT_ERR_NOMEM), "out of memory for a %u-byte message",
                       s->len);
    memcpy(s->buf + s->have, data, dlen);
    s->have += (uint32_t)dlen;
  }
  if (!last) return P2P_ENV_MORE;
  /* Hand the buffer out; the slot starts empty again. */
  if (!s->buf) {
    s->buf = malloc(1); /* a non-NULL pointer for an empty message */
    if (!s->buf)
      return core_errf(eb, fail(a, COHORT_ERR_NOMEM), "out of memory");
  }
  a->done = s->buf;
  *ch = c;
  *msg = s->buf;
  *msg_len = s->len;
  memset(s, 0, sizeof *s);
  return P2P_ENV_MSG;
}

/* ---- protobuf ----------------------------------------------------------- */

typedef struct {
  int failed;
} pb_track;

static void *track_alloc(void *d, size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) ((pb_track *)d)->failed = 1;
  return p;
}

static void track_free(void *d, void *p) {
  (void)d;
  free(p);
}

/* Unknown fields anywhere in the tree. pb_check_canonical looks at the top
 * message only, and protobuf-c re-packs the unknown fields it kept in nested
 * messages, so re-pack equality alone lets them through (found by
 * fuzz_p2p_msg: a Pong carrying field 6). */
static int has_unknown_deep(const ProtobufCMessage *m, int depth) {
  if (!m) return 0;
  if (m->n_unknown_fields || depth > 32) return 1;
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
      continue;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
      ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(const void *)(base + f->offset);
      for (size_t k = 0; k < n; k++)
        if (has_unknown_deep(arr[k], depth + 1)) return 1;
    } else if (has_unknown_deep(*(ProtobufCMessage *const *)(const void *)(base + f->offset),
                                depth + 1)) {
      return 1;
    }
  }
  return 0;
}

int p2p_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len,
                  ProtobufCMessage **out) {
  *out = NULL;
  pb_track t = {0};
  ProtobufCAllocator al = {track_alloc, track_free, &t};
  ProtobufCMessage *m = protobuf_c_message_unpack(d, &al, len, b);
  if (!m) return t.failed ? COHORT_ERR_NOMEM : COHORT_ERR_DECODE;
  int rc = has_unknown_deep(m, 0) ? COHORT_ERR_DECODE : pb_check_canonical(m, b, len);
  if (rc) {
    protobuf_c_message_free_unpacked(m, &al);
    return rc;
  }
  /* Unpacked with malloc-backed memory: the default allocator frees it. */
  *out = m;
  return COHORT_OK;
}

/* ---- control messages --------------------------------------------------- */

void p2p_ctl_free(p2p_ctl *c) {
  free(c->addrs);
  memset(c, 0, sizeof *c);
}

int p2p_ctl_decode(const uint8_t *b, size_t len, p2p_ctl *out, core_errbuf *eb) {
  memset(out, 0, sizeof *out);
  ProtobufCMessage *pm;
  int rc = p2p_pb_unpack(&cohort__p2p__control__descriptor, b, len, &pm);
  if (rc == COHORT_ERR_NOMEM) return core_errf(eb, rc, "out of memory decoding a control message");
  if (rc) return core_errf(eb, rc, "control message is not a canonical cohort.p2p.Control");
  Cohort__P2p__Control *m = (Cohort__P2p__Control *)pm;
  p2p_ctl c = {0};
  switch (m->msg_case) {
    case COHORT__P2P__CONTROL__MSG_PING:
      c.kind = P2P_CTL_PING;
      c.nonce = m->ping->nonce;
      break;
    case COHORT__P2P__CONTROL__MSG_PONG:
      c.kind = P2P_CTL_PONG;
      c.nonce = m->pong->nonce;
      break;
    case COHORT__P2P__CONTROL__MSG_PEX_REQUEST:
      c.kind = P2P_CTL_PEX_REQUEST;
      break;
    case COHORT__P2P__CONTROL__MSG_PEX_ADDRS: {
      c.kind = P2P_CTL_PEX_ADDRS;
      size_t n = m->pex_addrs->n_addrs;
      if (n > P2P_PEX_MAX_ADDRS) {
        rc = core_errf(eb, COHORT_ERR_TOO_LARGE, "PEX message with %zu addresses (at most %d)", n,
                       P2P_PEX_MAX_ADDRS);
        goto out;
      }
      if (n) {
        c.addrs = calloc(n, sizeof *c.addrs);
        if (!c.addrs) {
          rc = core_errf(eb, COHORT_ERR_NOMEM, "out of memory");
          goto out;
        }
      }
      for (size_t i = 0; i < n; i++) {
        const Cohort__P2p__PexAddr *e = m->pex_addrs->addrs[i];
        size_t il = strlen(e->id);
        core_errbuf sub;
        if (!p2p_id_is_valid(e->id, il)) {
          rc = core_errf(eb, COHORT_ERR_DECODE, "PEX entry %zu: node ID is not 40 lowercase hex digits",
                         i + 1);
          goto out;
        }
        if (p2p_hostport_parse(e->addr, strlen(e->addr), 0, 1, &c.addrs[i].hp, &sub)) {
          rc = core_errf(eb, COHORT_ERR_DECODE, "PEX entry %zu: %s", i + 1, sub.msg);
          goto out;
        }
        /* One text per address (so the bytes re-encode to themselves). */
        if (strcmp(e->addr, c.addrs[i].hp.addr) != 0) {
          rc = core_errf(eb, COHORT_ERR_DECODE,
                         "PEX entry %zu: address not in canonical form (%s)", i + 1,
                         c.addrs[i].hp.addr);
          goto out;
        }
        memcpy(c.addrs[i].id, e->id, P2P_ID_HEX + 1);
        for (size_t j = 0; j < i; j++)
          if (strcmp(c.addrs[j].id, c.addrs[i].id) == 0) {
            rc = core_errf(eb, COHORT_ERR_DECODE, "PEX entries %zu and %zu repeat node %s", j + 1,
                           i + 1, c.addrs[i].id);
            goto out;
          }
      }
      c.n_addrs = n;
      break;
    }
    default:
      rc = core_errf(eb, COHORT_ERR_DECODE, "control message sets no known field");
      goto out;
  }
  *out = c;
  c.addrs = NULL;
  rc = COHORT_OK;
out:
  free(c.addrs);
  protobuf_c_message_free_unpacked(pm, NULL);
  return rc;
}

int p2p_ctl_encode(const p2p_ctl *c, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  Cohort__P2p__Control m = COHORT__P2P__CONTROL__INIT;
  Cohort__P2p__Ping ping = COHORT__P2P__PING__INIT;
  Cohort__P2p__Pong pong = COHORT__P2P__PONG__INIT;
  Cohort__P2p__PexRequest req = COHORT__P2P__PEX_REQUEST__INIT;
  Cohort__P2p__PexAddrs pa = COHORT__P2P__PEX_ADDRS__INIT;
  Cohort__P2p__PexAddr ents[P2P_PEX_MAX_ADDRS];
  Cohort__P2p__PexAddr *ptrs[P2P_PEX_MAX_ADDRS];
  switch (c->kind) {
    case P2P_CTL_PING:
      ping.nonce = c->nonce;
      m.msg_case = COHORT__P2P__CONTROL__MSG_PING;
      m.ping = &ping;
      break;
    case P2P_CTL_PONG:
      pong.nonce = c->nonce;
      m.msg_case = COHORT__P2P__CONTROL__MSG_PONG;
      m.pong = &pong;
      break;
    case P2P_CTL_PEX_REQUEST:
      m.msg_case = COHORT__P2P__CONTROL__MSG_PEX_REQUEST;
      m.pex_request = &req;
      break;
    case P2P_CTL_PEX_ADDRS:
      if (c->n_addrs > P2P_PEX_MAX_ADDRS) return COHORT_ERR_INVALID;
      for (size_t i = 0; i < c->n_addrs; i++) {
        cohort__p2p__pex_addr__init(&ents[i]);
        ents[i].id = (char *)c->addrs[i].id;
        ents[i].addr = (char *)c->addrs[i].hp.addr;
        ptrs[i] = &ents[i];
      }
      pa.n_addrs = c->n_addrs;
      pa.addrs = c->n_addrs ? ptrs : NULL;
      m.msg_case = COHORT__P2P__CONTROL__MSG_PEX_ADDRS;
      m.pex_addrs = &pa;
      break;
    default:
      return COHORT_ERR_INVALID;
  }
  size_t n = protobuf_c_message_get_packed_size(&m.base);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return COHORT_ERR_NOMEM;
  protobuf_c_message_pack(&m.base, b);
  *out = b;
  *len = n;
  return COHORT_OK;
}
