/* core/keyfile.c — JSON key files, created 0600 and never overwritten. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/hex.h"
#include "core/file.h"
#include "core/keys.h"

#define KEYFILE_MAX 4096

int core_keyfile_write(const char *path, const core_key *k, core_errbuf *eb) {
  char sec[65], pub[65], addr[CORE_ADDR_STR_MAX];
  core_hex_encode(sec, k->secret, 32);
  core_hex_encode(pub, k->pub, 32);
  json_t *o = json_object();
  if (!o) return COHORT_ERR_NOMEM;
  json_object_set_new(o, "type", json_string(k->is_ed25519 ? "ed25519" : "secp256k1"));
  json_object_set_new(o, "secret", json_string(sec));
  json_object_set_new(o, "public", json_string(pub));
  if (!k->is_ed25519) {
    uint8_t id[20];
    core_account_id(id, k->pub);
    core_addr_encode(addr, id);
    json_object_set_new(o, "address", json_string(addr));
  }
  char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  sodium_memzero(sec, sizeof sec);
  if (!text) return COHORT_ERR_NOMEM;
  /* Durable (file and directory fsynced) and never over an existing key. */
  size_t len = strlen(text);
  int rc = core_file_write_durable(path, text, len, 0600, 1, eb);
  if (rc == COHORT_ERR_DUPLICATE)
    core_errf(eb, rc, "cannot create key file %s: it exists already", path);

  sodium_memzero(text, strlen(text));
  free(text);
  return rc;
}

static int hex32(const json_t *o, const char *field, uint8_t out[32],
                 const char *path, core_errbuf *eb) {
  const char *s = json_string_value(json_object_get(o, field));
  size_t n;
  if (!s || core_hex_decode(out, 32, &n, s, strlen(s)) || n != 32)
    return core_errf(eb, COHORT_ERR_KEY,
                     "key file %s: field \"%s\" must be 64 hex digits", path,
                     field);
  return COHORT_OK;
}

int core_keyfile_read(const char *path, core_key *k, core_errbuf *eb) {
  memset(k, 0, sizeof *k);
  struct stat st;
  if (stat(path, &st) != 0)
    return core_errf(eb, COHORT_ERR_IO, "cannot read key file %s: %s", path,
                     strerror(errno));
  if (st.st_size > KEYFILE_MAX)
    return core_errf(eb, COHORT_ERR_TOO_LARGE,
                     "key file %s is larger than %d bytes", path, KEYFILE_MAX);
  json_error_t je;
  json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!o || !json_is_object(o)) {
    json_decref(o);
    return core_errf(eb, COHORT_ERR_KEY, "key file %s is not a JSON object: %s",
                     path, je.text);
  }
  int rc;
  const char *type = json_string_value(json_object_get(o, "type"));
  if (!type || (strcmp(type, "ed25519") && strcmp(type, "secp256k1"))) {
    rc = core_errf(eb, COHORT_ERR_KEY,
                   "key file %s: \"type\" must be \"secp256k1\" or \"ed25519\"",
                   path);
    goto out;
  }
  k->is_ed25519 = strcmp(type, "ed25519") == 0;
  uint8_t pub[32];
  if ((rc = hex32(o, "secret", k->secret, path, eb))) goto out;
  if ((rc = hex32(o, "public", pub, path, eb))) goto out;
  if (k->is_ed25519) {
    core_ed25519_from_seed(k->sec64, k->pub, k->secret);
  } else if (core_schnorr_pubkey(k->pub, k->secret)) {
    rc = core_errf(eb, COHORT_ERR_KEY, "key file %s: secret is not a valid "
                   "secp256k1 scalar", path);
    goto out;
  }
  if (memcmp(pub, k->pub, 32) != 0)
    rc = core_errf(eb, COHORT_ERR_KEY,
                   "key file %s: public key does not match the secret", path);
out:
  json_decref(o);
  if (rc) core_key_wipe(k);
  return rc;
}
