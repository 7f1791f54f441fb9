/* p2p/p2p_addr.h — node IDs and peer addresses (pure, strict parsing).
 *
 * A node ID is the lowercase hex of the first 20 bytes of sha256(the node's
 * ed25519 identity public key): 40 characters, as node/node.c shows it.
 * A peer address is "ID@HOST:PORT" (persistent peers, seeds, PEX); a listen
 * or advertised address is "HOST:PORT". HOST is a dotted-quad IPv4 address,
 * a bracketed IPv6 address ("[::1]") or a DNS name (labels of letters,
 * digits and '-', not starting or ending with '-', at most 63 characters
 * each and 253 in all, the last label not all digits; kept in lower case).
 * PORT is decimal 1..65535 without sign or leading zeros (0 only where a
 * listen address allows an ephemeral port).
 *
 * Every parser returns 0, or COHORT_ERR_ADDRESS with a sentence in eb that
 * quotes the offending text and says what was expected; out-parameters are
 * untouched on failure unless said otherwise. No function here allocates
 * except p2p_peer_list_parse.
 */
#ifndef COHORT_P2P_ADDR_H
#define COHORT_P2P_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define P2P_ID_LEN 20          /* binary node ID */
#define P2P_ID_HEX 40          /* its hex form */
#define P2P_HOST_MAX 253       /* longest HOST (a DNS name) */
#define P2P_ADDR_STR 264       /* room for "HOST:PORT" or "[v6]:PORT" and a NUL */
#define P2P_MONIKER_MAX 64     /* printable ASCII */
#define P2P_CHAIN_ID_MAX 64    /* [a-z0-9._-] */
#define P2P_PEER_LIST_MAX 256  /* entries in one persistent_peers/seeds list */

/* "HOST:PORT" split and checked. host is kept without brackets; addr is the
 * canonical text (lower-case name, brackets around IPv6). kind says what
 * HOST is. */
typedef enum { P2P_HOST_IPV4 = 4, P2P_HOST_IPV6 = 6, P2P_HOST_NAME = 1 } p2p_host_kind;

typedef struct {
  char host[P2P_HOST_MAX + 1];
  uint16_t port;
  p2p_host_kind kind;
  char addr[P2P_ADDR_STR];
} p2p_hostport;

/* A peer to dial: its node ID and address. */
typedef struct {
  char id[P2P_ID_HEX + 1];
  p2p_hostport hp;
} p2p_peer_addr;

/* Node ID of an ed25519 public key, as 20 bytes and as lowercase hex. */
void p2p_node_id(uint8_t id[P2P_ID_LEN], const uint8_t pub[32]);
void p2p_node_id_hex(char out[P2P_ID_HEX + 1], const uint8_t pub[32]);

/* 1 if s[0..len) is exactly 40 lowercase hex digits. */
int p2p_id_is_valid(const char *s, size_t len);

/* Parse s[0..len) as "HOST:PORT". allow_port0 accepts port 0 (listen
 * addresses); allow_name accepts DNS names (dial addresses), otherwise HOST
 * must be an IP literal. An optional "tcp://" prefix is accepted. */
int p2p_hostport_parse(const char *s, size_t len, int allow_port0, int allow_name,
                       p2p_hostport *out, core_errbuf *eb);

/* Parse "ID@HOST:PORT" (NUL-terminated; no spaces). */
int p2p_peer_addr_parse(const char *s, p2p_peer_addr *out, core_errbuf *eb);

/* Parse a comma-separated list of "ID@HOST:PORT" (spaces and tabs around
 * entries are ignored; an empty or NULL string is an empty list). Refuses an
 * empty entry, a node ID listed twice and more than P2P_PEER_LIST_MAX entries;
 * eb names the entry by position (1-based) and text. On success *out is a
 * malloc'd array of *n entries (NULL when *n == 0), freed by the caller with
 * free(). Also COHORT_ERR_NOMEM. On failure *out is NULL and *n is 0. */
int p2p_peer_list_parse(const char *list, p2p_peer_addr **out, size_t *n, core_errbuf *eb);

/* 1 if s is 1..P2P_CHAIN_ID_MAX characters of [a-z0-9._-]. */
int p2p_chain_id_is_valid(const char *s);

/* 1 if s[0..len) has at most P2P_MONIKER_MAX bytes, each printable ASCII
 * (0x20..0x7e); the empty moniker is valid. */
int p2p_moniker_is_valid(const char *s, size_t len);

#endif
