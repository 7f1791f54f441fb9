/* p2p/p2p_addr.c — node IDs, "HOST:PORT" and "ID@HOST:PORT" (p2p_addr.h).
 *
 * Parsing is strict because these strings come from config files written by
 * hand and from PEX messages written by strangers: every refusal quotes the
 * text and says what was expected, and nothing is guessed or trimmed inside
 * an entry. */
#include "p2p/p2p_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/hex.h"

void p2p_node_id(uint8_t id[P2P_ID_LEN], const uint8_t pub[32]) {
  uint8_t h[CORE_HASH_LEN];
  core_sha256(h, pub, 32);
  memcpy(id, h, P2P_ID_LEN);
}

void p2p_node_id_hex(char out[P2P_ID_HEX + 1], const uint8_t pub[32]) {
  uint8_t id[P2P_ID_LEN];
  p2p_node_id(id, pub);
  core_hex_encode(out, id, P2P_ID_LEN);
}

int p2p_id_is_valid(const char *s, size_t len) {
  if (len != P2P_ID_HEX) return 0;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int p2p_chain_id_is_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > P2P_CHAIN_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

int p2p_moniker_is_valid(const char *s, size_t len) {
  if (len > P2P_MONIKER_MAX) return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
  return 1;
}

/* Quote at most 80 bytes of untrusted text, non-printables as '?'. */
static const char *quote(char *buf, size_t cap, const char *s, size_t len) {
  size_t n = len < cap - 4 ? len : cap - 4;
  if (n > 80) n = 80;
  size_t o = 0;
  buf[o++] = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (n < len) buf[o - 1] = '~';
  buf[o++] = '"';
  buf[o] = 0;
  return buf;
}

static int parse_port(const char *s, size_t len, int allow0, uint16_t *out) {
  if (len == 0 || len > 5) return -1;
  if (len > 1 && s[0] == '0') return -1;
  unsigned v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535 || (v == 0 && !allow0)) return -1;
  *out = (uint16_t)v;
  return 0;
}

/* A DNS name: returns 0 and writes it lower-cased to out. */
static int parse_name(const char *s, size_t len, char *out) {
  if (len == 0 || len > P2P_HOST_MAX) return -1;
  size_t lab = 0, lab_start = 0;
  int lab_digits = 1;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      if (lab == 0 || lab > 63) return -1;
      if (s[lab_start] == '-' || s[i - 1] == '-') return -1;
      if (i == len && lab_digits) return -1; /* "1.2.3" is not a name */
      lab = 0;
      lab_start = i + 1;
      lab_digits = 1;
      if (i < len) out[i] = '.';
      continue;
    }
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return -1;
    if (!(c >= '0' && c <= '9')) lab_digits = 0;
    out[i] = c;
    lab++;
  }
  out[len] = 0;
  return 0;
}

int p2p_hostport_parse(const char *s, size_t len, int allow_port0, int allow_name,
                       p2p_hostport *out, core_errbuf *eb) {
  char q[96];
  if (len >= 6 && memcmp(s, "tcp://", 6) == 0) {
    s += 6;
    len -= 6;
  }
  const char *what = allow_name ? "HOST:PORT (HOST an IPv4 address, [IPv6] or a DNS name)"
                                : "HOST:PORT (HOST an IPv4 address or [IPv6])";
  if (len == 0) return core_errf(eb, COHORT_ERR_ADDRESS, "empty address: expected %s", what);
  if (memchr(s, 0, len))
    return core_errf(eb, COHORT_ERR_ADDRESS, "address contains a NUL byte");
  p2p_hostport hp;
  memset(&hp, 0, sizeof hp);
  const char *colon;
  const char *host;
  size_t hlen;
  if (s[0] == '[') {
    const char *rb = memchr(s, ']', len);
    if (!rb || (size_t)(rb - s) + 1 >= len || rb[1] != ':')
      return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: expected [IPv6]:PORT",
                       quote(q, sizeof q, s, len));
    host = s + 1;
    hlen = (size_t)(rb - s) - 1;
    colon = rb + 1;
    char tmp[64];
    struct in6_addr a6;
    if (hlen == 0 || hlen >= sizeof tmp)
      return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: bad IPv6 address",
                       quote(q, sizeof q, s, len));
    memcpy(tmp, host, hlen);
    tmp[hlen] = 0;
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
      return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: bad IPv6 address",
                       quote(q, sizeof q, s, len));
    /* Keep the canonical text form so equal addresses compare equal. */
    inet_ntop(AF_INET6, &a6, hp.host, sizeof hp.host);
    hp.kind = P2P_HOST_IPV6;
  } else {
    colon = NULL;
    for (size_t i = len; i-- > 0;)
      if (s[i] == ':') {
        colon = s + i;
        break;
      }
    if (!colon)
      return core_errf(eb, COHORT_ERR_ADDRESS, "address %s has no port: expected %s",
                       quote(q, sizeof q, s, len), what);
    host = s;
    hlen = (size_t)(colon - s);
    if (memchr(host, ':', hlen))
      return core_errf(eb, COHORT_ERR_ADDRESS,
                       "address %s: an IPv6 host must be in brackets, e.g. [::1]:26656",
                       quote(q, sizeof q, s, len));
    int numeric = hlen > 0;
    for (size_t i = 0; i < hlen; i++)
      if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.')) numeric = 0;
    if (numeric) {
      char tmp[16];
      struct in_addr a4;
      if (hlen >= sizeof tmp)
        return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: bad IPv4 address",
                         quote(q, sizeof q, s, len));
      memcpy(tmp, host, hlen);
      tmp[hlen] = 0;
      if (inet_pton(AF_INET, tmp, &a4) != 1)
        return core_errf(eb, COHORT_ERR_ADDRESS,
                         "address %s: bad IPv4 address (four decimal parts 0..255, no leading zeros)",
                         quote(q, sizeof q, s, len));
      memcpy(hp.host, tmp, hlen + 1);
      hp.kind = P2P_HOST_IPV4;
    } else {
      if (!allow_name)
        return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: expected %s",
                         quote(q, sizeof q, s, len), what);
      if (parse_name(host, hlen, hp.host) != 0)
        return core_errf(eb, COHORT_ERR_ADDRESS,
                         "address %s: bad host name (letters, digits, '-' and dots; labels "
                         "of 1..63, 253 in all)",
                         quote(q, sizeof q, s, len));
      hp.kind = P2P_HOST_NAME;
    }
  }
  const char *ps = colon + 1;
  size_t plen = len - (size_t)(ps - s);
  if (parse_port(ps, plen, allow_port0, &hp.port) != 0)
    return core_errf(eb, COHORT_ERR_ADDRESS, "address %s: bad port (expected %s, decimal, no leading zeros)",
                     quote(q, sizeof q, s, len), allow_port0 ? "0..65535" : "1..65535");
  if (hp.kind == P2P_HOST_IPV6)
    snprintf(hp.addr, sizeof hp.addr, "[%s]:%u", hp.host, (unsigned)hp.port);
  else
    snprintf(hp.addr, sizeof hp.addr, "%s:%u", hp.host, (unsigned)hp.port);
  *out = hp;
  return COHORT_OK;
}

static int peer_addr_parse(const char *s, size_t len, p2p_peer_addr *out, core_errbuf *eb) {
  char q[96];
  const char *at = memchr(s, '@', len);
  if (!at)
    return core_errf(eb, COHORT_ERR_ADDRESS, "peer %s: expected ID@HOST:PORT",
                     quote(q, sizeof q, s, len));
  size_t idlen = (size_t)(at - s);
  if (!p2p_id_is_valid(s, idlen))
    return core_errf(eb, COHORT_ERR_ADDRESS,
                     "peer %s: the node ID must be 40 lowercase hex digits (sha256 of the node "
                     "key, first 20 bytes)",
                     quote(q, sizeof q, s, len));
  p2p_peer_addr pa;
  memcpy(pa.id, s, P2P_ID_HEX);
  pa.id[P2P_ID_HEX] = 0;
  core_errbuf sub;
  int rc = p2p_hostport_parse(at + 1, len - idlen - 1, 0, 1, &pa.hp, &sub);
  if (rc) return core_errf(eb, rc, "peer %.40s@...: %s", pa.id, sub.msg);
  *out = pa;
  return COHORT_OK;
}

int p2p_peer_addr_parse(const char *s, p2p_peer_addr *out, core_errbuf *eb) {
  if (!s) return core_errf(eb, COHORT_ERR_ADDRESS, "no peer address given");
  return peer_addr_parse(s, strlen(s), out, eb);
}

int p2p_peer_list_parse(const char *list, p2p_peer_addr **out, size_t *n, core_errbuf *eb) {
  *out = NULL;
  *n = 0;
  if (!list) return COHORT_OK;
  size_t total = strlen(list), i = 0;
  /* An all-blank list is empty. */
  while (i < total && (list[i] == ' ' || list[i] == '\t')) i++;
  if (i == total) return COHORT_OK;
  size_t count = 1;
  for (size_t j = 0; j < total; j++) count += list[j] == ',';
  if (count > P2P_PEER_LIST_MAX)
    return core_errf(eb, COHORT_ERR_ADDRESS, "peer list has %zu entries (at most %d)", count,
                     P2P_PEER_LIST_MAX);
  p2p_peer_addr *a = calloc(count, sizeof *a);
  if (!a) return COHORT_ERR_NOMEM;
  size_t k = 0, pos = 0;
  int rc = COHORT_OK;
  while (pos <= total) {
    const char *e = memchr(list + pos, ',', total - pos);
    size_t end = e ? (size_t)(e - list) : total;
    size_t b = pos, f = end;
    while (b < f && (list[b] == ' ' || list[b] == '\t')) b++;
    while (f > b && (list[f - 1] == ' ' || list[f - 1] == '\t')) f--;
    if (b == f) {
      rc = core_errf(eb, COHORT_ERR_ADDRESS, "peer list entry %zu is empty (stray comma?)", k + 1);
      goto fail;
    }
    core_errbuf sub;
    if ((rc = peer_addr_parse(list + b, f - b, &a[k], &sub))) {
      core_errf(eb, rc, "peer list entry %zu: %s", k + 1, sub.msg);
      goto fail;
    }
    for (size_t j = 0; j < k; j++)
      if (strcmp(a[j].id, a[k].id) == 0) {
        rc = core_errf(eb, COHORT_ERR_ADDRESS, "peer list entries %zu and %zu name the same node %s",
                       j + 1, k + 1, a[k].id);
        goto fail;
      }
    k++;
    pos = end + 1;
  }
  *out = a;
  *n = k;
  return COHORT_OK;
fail:
  free(a);
  return rc;
}
