/* consensus/privval.c — last-signed state, made durable before signing. */
#include "consensus/privval.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/hex.h"
#include "core/keys.h"

#define SIGN_BYTES_MAX 512

struct privval {
  core_key key;
  char state_path[PATH_MAX];
  uint64_t height;
  uint32_t round;
  int step;
  uint8_t last_msg[SIGN_BYTES_MAX];
  size_t last_len;
  uint8_t last_sig[64];
};

static int load_state(privval *pv, core_errbuf *eb) {
  json_error_t je;
  json_t *o = json_load_file(pv->state_path, JSON_REJECT_DUPLICATES, &je);
  if (!o) {
    if (access(pv->state_path, F_OK) != 0) return COHORT_OK; /* fresh */
    return core_errf(eb, COHORT_ERR_CORRUPT,
                     "validator state %s is not valid JSON (%s); refusing to sign "
                     "without knowing what was signed last", pv->state_path, je.text);
  }
  int rc = COHORT_OK;
  const char *h = json_string_value(json_object_get(o, "height"));
  json_t *r = json_object_get(o, "round"), *s = json_object_get(o, "step");
  const char *mb = json_string_value(json_object_get(o, "sign_bytes"));
  const char *sg = json_string_value(json_object_get(o, "signature"));
  size_t n;
  if (!h || core_parse_u64(h, &pv->height) || !json_is_integer(r) ||
      !json_is_integer(s) || json_integer_value(r) < 0 ||
      json_integer_value(r) > UINT32_MAX || json_integer_value(s) < 0 ||
      json_integer_value(s) > 3 || !mb || !sg ||
      core_hex_decode(pv->last_msg, sizeof pv->last_msg, &pv->last_len, mb, strlen(mb)) ||
      core_hex_decode(pv->last_sig, 64, &n, sg, strlen(sg)) ||
      (pv->last_len && n != 64)) {
    rc = core_errf(eb, COHORT_ERR_CORRUPT,
                   "validator state %s has missing or malformed fields", pv->state_path);
  } else {
    pv->round = (uint32_t)json_integer_value(r);
    pv->step = (int)json_integer_value(s);
  }
  json_decref(o);
  return rc;
}

int privval_open(privval **out, const char *key_path, const char *state_path,
                 core_errbuf *eb) {
  privval *pv = calloc(1, sizeof *pv);
  if (!pv) return COHORT_ERR_NOMEM;
  int rc = core_keyfile_read(key_path, &pv->key, eb);
  if (!rc && !pv->key.is_ed25519)
    rc = core_errf(eb, COHORT_ERR_KEY, "%s is not an ed25519 validator key", key_path);
  if (!rc && strlen(state_path) >= sizeof pv->state_path)
    rc = core_errf(eb, COHORT_ERR_IO, "path too long: %s", state_path);
  if (!rc) {
    strcpy(pv->state_path, state_path);
    rc = load_state(pv, eb);
  }
  if (rc) {
    privval_close(pv);
    return rc;
  }
  *out = pv;
  return COHORT_OK;
}

void privval_close(privval *pv) {
  if (!pv) return;
  core_key_wipe(&pv->key);
  free(pv);
}

const uint8_t *privval_pubkey(const privval *pv) { return pv->key.pub; }

void privval_last(const privval *pv, uint64_t *height, uint32_t *round, int *step) {
  *height = pv->height;
  *round = pv->round;
  *step = pv->step;
}

static int persist(privval *pv, uint64_t h, uint32_t r, int step,
                   const uint8_t *msg, size_t len, const uint8_t sig[64],
                   core_errbuf *eb) {
  char hs[24], mhex[2 * SIGN_BYTES_MAX + 1], shex[129], tmp[PATH_MAX + 8];
  snprintf(hs, sizeof hs, "%llu", (unsigned long long)h);
  core_hex_encode(mhex, msg, len);
  core_hex_encode(shex, sig, 64);
  char *text = NULL;
  json_t *o = json_pack("{s:s, s:I, s:i, s:s, s:s}", "height", hs, "round",
                        (json_int_t)r, "step", step, "sign_bytes", mhex, "signature", shex);
  if (o) text = json_dumps(o, JSON_SORT_KEYS);
  json_decref(o);
  if (!text) return COHORT_ERR_NOMEM;
  snprintf(tmp, sizeof tmp, "%s.tmp", pv->state_path);
  int rc = COHORT_OK;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  size_t tl = strlen(text);
  if (fd < 0 || write(fd, text, tl) != (ssize_t)tl || fsync(fd) != 0) {
    rc = core_errf(eb, COHORT_ERR_IO, "cannot write validator state %s: %s", tmp,
                   strerror(errno));
  }
  if (fd >= 0) close(fd);
  free(text);
  if (!rc && rename(tmp, pv->state_path) != 0)
    rc = core_errf(eb, COHORT_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
  if (!rc) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", pv->state_path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0)
      rc = core_errf(eb, COHORT_ERR_IO, "cannot fsync the directory of %s", pv->state_path);
    if (dfd >= 0) close(dfd);
  }
  return rc;
}

int privval_sign(privval *pv, uint64_t h, uint32_t r, int step,
                 const uint8_t *msg, size_t len, uint8_t sig[64],
                 core_errbuf *eb) {
  if (len > SIGN_BYTES_MAX) return core_errf(eb, COHORT_ERR_TOO_LARGE, "sign bytes too long");
  int cmp = h != pv->height ? (h > pv->height ? 1 : -1)
            : r != pv->round ? (r > pv->round ? 1 : -1)
            : step != pv->step ? (step > pv->step ? 1 : -1) : 0;
  if (cmp < 0 || (cmp == 0 && pv->last_len > 0)) {
    if (cmp == 0 && len == pv->last_len && !memcmp(msg, pv->last_msg, len)) {
      memcpy(sig, pv->last_sig, 64); /* the same vote again: same signature */
      return COHORT_OK;
    }
    return core_errf(eb, COHORT_ERR_DOUBLE_SIGN,
                     "refusing to sign height %llu round %u step %d: already signed "
                     "height %llu round %u step %d", (unsigned long long)h, r, step,
                     (unsigned long long)pv->height, pv->round, pv->step);
  }
  uint8_t s[64];
  core_ed25519_sign(s, msg, len, pv->key.sec64);
  int rc = persist(pv, h, r, step, msg, len, s, eb);
  if (rc) {
    sodium_memzero(s, sizeof s);
    return rc;
  }
  pv->height = h;
  pv->round = r;
  pv->step = step;
  memcpy(pv->last_msg, msg, len);
  pv->last_len = len;
  memcpy(pv->last_sig, s, 64);
  memcpy(sig, s, 64);
  return COHORT_OK;
}
