/* node/beacon.c — the hash chain behind the proposer's beacon reveals. */
#include "node/beacon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "core/hash.h"
#include "core/hex.h"

#define STRIDE 1024u

struct beacon_chain {
  uint32_t length;
  uint8_t (*cp)[32]; /* cp[i] = c_{i*STRIDE} */
  uint32_t pos;      /* index of the last tip found (0 = unknown) */
  uint8_t seed[32];
};

static void advance(uint8_t c[32], uint32_t n) {
  for (uint32_t i = 0; i < n; i++) core_sha256(c, c, 32);
}

int beacon_chain_create(const char *path, uint8_t commit[32], core_errbuf *eb) {
  return beacon_chain_create_len(path, BEACON_CHAIN_LENGTH, commit, eb);
}

int beacon_chain_create_len(const char *path, uint32_t length, uint8_t commit[32],
                            core_errbuf *eb) {
  if (length < STRIDE || length % STRIDE)
    return core_errf(eb, COHORT_ERR_INVALID, "beacon chain length must be a multiple of %u", STRIDE);
  uint8_t seed[32];
  char hex[65], text[160];
  randombytes_buf(seed, sizeof seed);
  core_hex_encode(hex, seed, 32);
  snprintf(text, sizeof text, "{\"seed\": \"%s\", \"length\": %u}\n", hex, length);
  sodium_memzero(hex, sizeof hex);
  int rc = core_file_write_durable(path, text, strlen(text), 0600, 1, eb);
  sodium_memzero(text, sizeof text);
  if (rc) return rc;
  memcpy(commit, seed, 32);
  advance(commit, length);
  sodium_memzero(seed, sizeof seed);
  return COHORT_OK;
}

int beacon_chain_open(beacon_chain **out, const char *path, core_errbuf *eb) {
  json_error_t je;
  json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!o) return core_errf(eb, COHORT_ERR_IO, "cannot read %s: %s", path, je.text);
  const char *s = json_string_value(json_object_get(o, "seed"));
  json_int_t len = json_integer_value(json_object_get(o, "length"));
  beacon_chain *bc = calloc(1, sizeof *bc);
  size_t n;
  int rc = COHORT_OK;
  if (!bc) rc = COHORT_ERR_NOMEM;
  else if (!s || core_hex_decode(bc->seed, 32, &n, s, strlen(s)) || n != 32 || len < (json_int_t)STRIDE ||
           len > (1 << 26) || len % STRIDE)
    rc = core_errf(eb, COHORT_ERR_CONFIG, "%s: needs \"seed\" (64 hex) and \"length\" (a multiple "
                   "of %u)", path, STRIDE);
  json_decref(o);
  if (!rc) {
    bc->length = (uint32_t)len;
    bc->cp = malloc((bc->length / STRIDE + 1) * 32);
    if (!bc->cp) rc = COHORT_ERR_NOMEM;
  }
  if (rc) {
    beacon_chain_close(bc);
    return rc;
  }
  uint8_t c[32];
  memcpy(c, bc->seed, 32);
  for (uint32_t i = 0; i <= bc->length / STRIDE; i++) {
    memcpy(bc->cp[i], c, 32);
    advance(c, STRIDE);
  }
  *out = bc;
  return COHORT_OK;
}

void beacon_chain_close(beacon_chain *bc) {
  if (!bc) return;
  sodium_memzero(bc->seed, sizeof bc->seed);
  if (bc->cp) sodium_memzero(bc->cp, (bc->length / STRIDE + 1) * 32);
  free(bc->cp);
  free(bc);
}

static void link_at(const beacon_chain *bc, uint32_t i, uint8_t out[32]) {
  memcpy(out, bc->cp[i / STRIDE], 32);
  advance(out, i % STRIDE);
}

int beacon_chain_reveal(beacon_chain *bc, const uint8_t tip[32], uint8_t out[32]) {
  uint8_t c[32];
  if (bc->pos) { /* usually the tip is the link we revealed last */
    link_at(bc, bc->pos, c);
    if (!memcmp(c, tip, 32)) goto found;
    if (bc->pos < bc->length) { /* or the one before, if that proposal was not committed */
      link_at(bc, bc->pos + 1, c);
      if (!memcmp(c, tip, 32)) {
        bc->pos++;
        goto found;
      }
    }
  }
  /* Find it: the tip is c_pos for some pos; search from the top segment. */
  for (uint32_t seg = bc->length / STRIDE + 1; seg-- > 0;) {
    memcpy(c, bc->cp[seg], 32);
    for (uint32_t k = 0; k < STRIDE && seg * STRIDE + k <= bc->length; k++) {
      if (!memcmp(c, tip, 32)) {
        bc->pos = seg * STRIDE + k;
        goto found;
      }
      core_sha256(c, c, 32);
    }
  }
  return COHORT_ERR_NOT_FOUND;
found:
  if (bc->pos == 0) return COHORT_ERR_NOT_FOUND; /* used up */
  bc->pos--;
  link_at(bc, bc->pos, out);
  return COHORT_OK;
}

uint32_t beacon_chain_left(const beacon_chain *bc) { return bc->pos; }

void beacon_chain_commitment(const beacon_chain *bc, uint8_t out[32]) {
  link_at(bc, bc->length, out);
}

struct beacon_keeper {
  char path[4096], next_path[4200];
  beacon_chain *cur, *next;
  uint32_t margin;
};

int beacon_keeper_open(beacon_keeper **out, const char *path, uint32_t margin, core_errbuf *eb) {
  beacon_keeper *k = calloc(1, sizeof *k);
  if (!k) return COHORT_ERR_NOMEM;
  snprintf(k->path, sizeof k->path, "%s", path);
  snprintf(k->next_path, sizeof k->next_path, "%s.next", path);
  k->margin = margin;
  int rc = beacon_chain_open(&k->cur, path, eb);
  if (!rc && access(k->next_path, F_OK) == 0) rc = beacon_chain_open(&k->next, k->next_path, eb);
  if (rc) {
    beacon_keeper_close(k);
    return rc;
  }
  *out = k;
  return COHORT_OK;
}

void beacon_keeper_close(beacon_keeper *k) {
  if (!k) return;
  beacon_chain_close(k->cur);
  beacon_chain_close(k->next);
  free(k);
}

int beacon_keeper_reveal(beacon_keeper *k, const uint8_t tip[32], uint8_t reveal[32],
                         uint8_t new_tip[32], int *recommit, core_errbuf *eb) {
  *recommit = 0;
  if (beacon_chain_reveal(k->cur, tip, reveal) == COHORT_OK) {
    if (beacon_chain_left(k->cur) >= k->margin) return COHORT_OK;
    if (!k->next) { /* running out: make the next chain, durably, before announcing it */
      uint8_t c[32];
      int rc = beacon_chain_create(k->next_path, c, eb);
      if (rc == COHORT_ERR_DUPLICATE) rc = COHORT_OK; /* made before a crash: reuse */
      if (!rc) rc = beacon_chain_open(&k->next, k->next_path, eb);
      if (rc) return COHORT_ERR_IO;
    }
    beacon_chain_commitment(k->next, new_tip);
    *recommit = 1;
    return COHORT_OK;
  }
  if (!k->next || beacon_chain_reveal(k->next, tip, reveal) != COHORT_OK) return COHORT_ERR_NOT_FOUND;
  /* The re-commitment is on chain: the next chain is the current one now. */
  if (rename(k->next_path, k->path) != 0 || core_fsync_parent(k->path, eb))
    return core_errf(eb, COHORT_ERR_IO, "cannot rotate %s to %s", k->next_path, k->path);
  beacon_chain_close(k->cur);
  k->cur = k->next;
  k->next = NULL;
  return COHORT_OK;
}
