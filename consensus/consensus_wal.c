/* consensus/consensus_wal.c — WAL record codec (pure) and the WAL file.
 * Format and recovery rules: consensus_wal.h. */
#include "consensus/consensus_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pbutil.h"

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
  crc_ready = 1;
}

uint32_t cons_wal_crc32c(const uint8_t *data, size_t len) {
  if (!crc_ready) crc_init();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) c = crc_table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/* ---- codec ---- */

uint64_t cons_wal_rec_height(const cons_wal_rec *r) {
  switch (r->kind) {
    case CONS_WAL_VOTE: return r->u.vote.height;
    case CONS_WAL_PROPOSAL: return r->u.proposal.height;
    case CONS_WAL_TIMEOUT: return r->u.timeout.height;
    case CONS_WAL_VERDICT: return r->u.verdict.height;
    case CONS_WAL_BLOCK: return r->u.block.height;
    case CONS_WAL_END_HEIGHT: return r->u.end_height;
  }
  return 0;
}

static int rec_valid(const cons_wal_rec *r) {
  switch (r->kind) {
    case CONS_WAL_VOTE:
      return (r->u.vote.type == VOTE_PREVOTE || r->u.vote.type == VOTE_PRECOMMIT) &&
             r->u.vote.height > 0;
    case CONS_WAL_PROPOSAL:
      return r->u.proposal.height > 0 && r->u.proposal.pol_round >= -1 &&
             r->u.proposal.pol_round < (int64_t)r->u.proposal.round;
    case CONS_WAL_TIMEOUT:
      return r->u.timeout.height > 0 && r->u.timeout.step <= CONS_TIMEOUT_PRECOMMIT;
    case CONS_WAL_VERDICT: return r->u.verdict.height > 0;
    case CONS_WAL_BLOCK:
      return r->u.block.height > 0 && r->u.block.len > 0 &&
             r->u.block.len <= CONS_WAL_RECORD_MAX - 64;
    case CONS_WAL_END_HEIGHT: return r->u.end_height > 0;
  }
  return 0;
}

int cons_wal_encode(core_buf *out, const cons_wal_rec *r) {
  if (!rec_valid(r)) return COHORT_ERR_INVALID;
  Cohort__WalRecord w = COHORT__WAL_RECORD__INIT;
  Cohort__Vote v;
  Cohort__Proposal p;
  Cohort__WalTimeout t = COHORT__WAL_TIMEOUT__INIT;
  Cohort__WalVerdict vd = COHORT__WAL_VERDICT__INIT;
  Cohort__WalBlock b = COHORT__WAL_BLOCK__INIT;
  Cohort__WalEndHeight eh = COHORT__WAL_END_HEIGHT__INIT;
  switch (r->kind) {
    case CONS_WAL_VOTE:
      cons_vote_to_pb(&v, &r->u.vote);
      w.rec_case = COHORT__WAL_RECORD__REC_VOTE;
      w.vote = &v;
      break;
    case CONS_WAL_PROPOSAL:
      cons_proposal_to_pb(&p, &r->u.proposal);
      w.rec_case = COHORT__WAL_RECORD__REC_PROPOSAL;
      w.proposal = &p;
      break;
    case CONS_WAL_TIMEOUT:
      t.height = r->u.timeout.height;
      t.round = r->u.timeout.round;
      t.step = r->u.timeout.step;
      w.rec_case = COHORT__WAL_RECORD__REC_TIMEOUT;
      w.timeout = &t;
      break;
    case CONS_WAL_VERDICT:
      vd.height = r->u.verdict.height;
      vd.block_hash = (ProtobufCBinaryData){32, (uint8_t *)r->u.verdict.block_hash};
      vd.valid = r->u.verdict.valid ? 1 : 0;
      w.rec_case = COHORT__WAL_RECORD__REC_VERDICT;
      w.verdict = &vd;
      break;
    case CONS_WAL_BLOCK:
      b.height = r->u.block.height;
      b.block = (ProtobufCBinaryData){r->u.block.len, (uint8_t *)r->u.block.bytes};
      w.rec_case = COHORT__WAL_RECORD__REC_BLOCK;
      w.block = &b;
      break;
    case CONS_WAL_END_HEIGHT:
      eh.height = r->u.end_height;
      w.rec_case = COHORT__WAL_RECORD__REC_END_HEIGHT;
      w.end_height = &eh;
      break;
  }
  size_t n = cohort__wal_record__get_packed_size(&w);
  if (n == 0 || n > CONS_WAL_RECORD_MAX) return COHORT_ERR_INVALID;
  size_t start = out->len;
  if (core_buf_reserve(out, CONS_WAL_HEADER_LEN + n)) return COHORT_ERR_NOMEM;
  uint8_t *h = out->data + start;
  cohort__wal_record__pack(&w, h + CONS_WAL_HEADER_LEN);
  core_put_u32be(h, (uint32_t)n);
  core_put_u32be(h + 4, cons_wal_crc32c(h + CONS_WAL_HEADER_LEN, n));
  out->len = start + CONS_WAL_HEADER_LEN + n;
  return COHORT_OK;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

/* The decoded protobuf -> record, with the field checks of rec_valid. */
static int from_pb(const Cohort__WalRecord *w, cons_wal_rec *r) {
  memset(r, 0, sizeof *r);
  switch (w->rec_case) {
    case COHORT__WAL_RECORD__REC_VOTE:
      r->kind = CONS_WAL_VOTE;
      if (cons_vote_from_pb(&r->u.vote, w->vote)) return COHORT_ERR_DECODE;
      break;
    case COHORT__WAL_RECORD__REC_PROPOSAL:
      r->kind = CONS_WAL_PROPOSAL;
      if (cons_proposal_from_pb(&r->u.proposal, w->proposal)) return COHORT_ERR_DECODE;
      break;
    case COHORT__WAL_RECORD__REC_TIMEOUT:
      r->kind = CONS_WAL_TIMEOUT;
      r->u.timeout.height = w->timeout->height;
      r->u.timeout.round = w->timeout->round;
      r->u.timeout.step = w->timeout->step;
      break;
    case COHORT__WAL_RECORD__REC_VERDICT:
      r->kind = CONS_WAL_VERDICT;
      if (w->verdict->block_hash.len != 32) return COHORT_ERR_DECODE;
      r->u.verdict.height = w->verdict->height;
      memcpy(r->u.verdict.block_hash, w->verdict->block_hash.data, 32);
      r->u.verdict.valid = w->verdict->valid;
      break;
    case COHORT__WAL_RECORD__REC_BLOCK: {
      r->kind = CONS_WAL_BLOCK;
      r->u.block.height = w->block->height;
      r->u.block.len = w->block->block.len;
      r->u.block.bytes = w->block->block.data; /* re-pointed by the caller */
      break;
    }
    case COHORT__WAL_RECORD__REC_END_HEIGHT:
      r->kind = CONS_WAL_END_HEIGHT;
      r->u.end_height = w->end_height->height;
      break;
    default:
      return COHORT_ERR_DECODE;
  }
  return rec_valid(r) ? COHORT_OK : COHORT_ERR_DECODE;
}

/* Locate the bytes of WalRecord.block.block inside the canonical payload:
 * payload = tag(5, LEN) || varint(len(WalBlock)) || WalBlock, and WalBlock =
 * [tag(1) varint(height)] || tag(2, LEN) || varint(len) || block. */
static const uint8_t *block_bytes_in(const uint8_t *pl, size_t n, size_t blen) {
  if (blen > n) return NULL;
  return pl + (n - blen); /* the block is the last field of the last field */
}

int cons_wal_decode(const uint8_t *buf, size_t len, size_t *off, cons_wal_rec *r,
                    core_errbuf *eb) {
  size_t o = *off;
  if (o == len) return CONS_WAL_END;
  if (o > len) return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: past the end", o);
  size_t rest = len - o;
  if (all_zero(buf + o, rest)) return CONS_WAL_TORN;
  if (rest < CONS_WAL_HEADER_LEN) return CONS_WAL_TORN;
  uint32_t n = core_get_u32be(buf + o), crc = core_get_u32be(buf + o + 4);
  if ((uint64_t)n > rest - CONS_WAL_HEADER_LEN) return CONS_WAL_TORN;
  if (n == 0 || n > CONS_WAL_RECORD_MAX)
    return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: record length %u out of range", o, n);
  const uint8_t *pl = buf + o + CONS_WAL_HEADER_LEN;
  int last = (uint64_t)n == rest - CONS_WAL_HEADER_LEN;
  if (cons_wal_crc32c(pl, n) != crc) {
    if (last) return CONS_WAL_TORN;
    return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: record checksum mismatch "
                     "(and more records follow, so this is not a torn write)", o);
  }
  Cohort__WalRecord *w = cohort__wal_record__unpack(NULL, n, pl);
  if (!w)
    return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: record is not a WalRecord protobuf", o);
  int rc = pb_check_canonical(&w->base, pl, n);
  if (rc == COHORT_ERR_NOMEM) {
    cohort__wal_record__free_unpacked(w, NULL);
    return core_errf(eb, rc, "offset %zu: out of memory checking a record", o);
  }
  if (rc) {
    cohort__wal_record__free_unpacked(w, NULL);
    return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: record is not canonically encoded", o);
  }
  rc = from_pb(w, r);
  /* Point block bytes into the caller's buffer, not into the unpacked copy
   * (freed below). The payload is canonical, so the block is its last
   * blen bytes. */
  if (!rc && r->kind == CONS_WAL_BLOCK) {
    r->u.block.bytes = block_bytes_in(pl, n, r->u.block.len);
    if (!r->u.block.bytes || memcmp(r->u.block.bytes, w->block->block.data, r->u.block.len))
      rc = COHORT_ERR_DECODE;
  }
  cohort__wal_record__free_unpacked(w, NULL);
  if (rc)
    return core_errf(eb, COHORT_ERR_CORRUPT, "offset %zu: record has invalid fields", o);
  *off = o + CONS_WAL_HEADER_LEN + n;
  return CONS_WAL_RECORD;
}

/* ---- the file ---- */

struct cons_wal {
  char path[PATH_MAX];
  int fd;
  int dirty;
  uint64_t size;
  uint8_t *buf; /* the records read at open (after the magic) */
  size_t len;
  core_buf scratch;
};

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int fsync_dir(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return -1;
  int rc = fsync(dfd);
  close(dfd);
  return rc;
}

static int start_file(cons_wal *w, core_errbuf *eb) {
  w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (w->fd < 0 || write_all(w->fd, (const uint8_t *)CONS_WAL_MAGIC, CONS_WAL_MAGIC_LEN) ||
      fsync(w->fd) || fsync_dir(w->path))
    return core_errf(eb, COHORT_ERR_IO, "cannot start consensus WAL %s: %s", w->path,
                     strerror(errno));
  w->size = CONS_WAL_MAGIC_LEN;
  w->dirty = 0;
  return COHORT_OK;
}

int cons_wal_open(cons_wal **out, const char *path, size_t *torn_at, core_errbuf *eb) {
  *out = NULL;
  if (torn_at) *torn_at = 0;
  if (strlen(path) >= PATH_MAX - 8)
    return core_errf(eb, COHORT_ERR_IO, "consensus WAL path too long: %s", path);
  cons_wal *w = calloc(1, sizeof *w);
  if (!w) return COHORT_ERR_NOMEM;
  w->fd = -1;
  strcpy(w->path, path);
  int rc = COHORT_OK;
  uint8_t *all = NULL;
  size_t alen = 0;
  int rfd = open(path, O_RDONLY | O_CLOEXEC);
  if (rfd < 0 && errno != ENOENT) {
    rc = core_errf(eb, COHORT_ERR_IO, "cannot open consensus WAL %s: %s", path, strerror(errno));
    goto fail;
  }
  if (rfd >= 0) {
    struct stat st;
    if (fstat(rfd, &st) != 0) {
      close(rfd);
      rc = core_errf(eb, COHORT_ERR_IO, "cannot stat consensus WAL %s: %s", path, strerror(errno));
      goto fail;
    }
    alen = (size_t)st.st_size;
    all = malloc(alen ? alen : 1);
    if (!all) {
      close(rfd);
      rc = COHORT_ERR_NOMEM;
      goto fail;
    }
    size_t got = 0;
    while (got < alen) {
      ssize_t k = read(rfd, all + got, alen - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      got += (size_t)k;
    }
    close(rfd);
    if (got != alen) {
      rc = core_errf(eb, COHORT_ERR_IO, "cannot read consensus WAL %s", path);
      goto fail;
    }
  }
  if (alen < CONS_WAL_MAGIC_LEN) {
    /* Missing, or torn while its magic was written: start fresh. */
    if (alen && torn_at) *torn_at = 0;
    if (alen && memcmp(all, CONS_WAL_MAGIC, alen)) {
      rc = core_errf(eb, COHORT_ERR_CORRUPT, "%s: offset 0: not a consensus WAL (bad magic)",
                     path);
      goto fail;
    }
    free(all);
    all = NULL;
    if ((rc = start_file(w, eb))) goto fail;
    *out = w;
    return COHORT_OK;
  }
  if (memcmp(all, CONS_WAL_MAGIC, CONS_WAL_MAGIC_LEN)) {
    rc = core_errf(eb, COHORT_ERR_CORRUPT, "%s: offset 0: not a consensus WAL (bad magic)", path);
    goto fail;
  }
  size_t off = 0, body = alen - CONS_WAL_MAGIC_LEN;
  const uint8_t *b = all + CONS_WAL_MAGIC_LEN;
  for (;;) {
    cons_wal_rec r;
    core_errbuf deb;
    int d = cons_wal_decode(b, body, &off, &r, &deb);
    if (d == CONS_WAL_RECORD) continue;
    if (d == CONS_WAL_END) break;
    if (d == CONS_WAL_TORN) {
      if (torn_at) *torn_at = CONS_WAL_MAGIC_LEN + off;
      if (truncate(path, (off_t)(CONS_WAL_MAGIC_LEN + off)) != 0) {
        rc = core_errf(eb, COHORT_ERR_IO, "cannot truncate the torn tail of %s: %s", path,
                       strerror(errno));
        goto fail;
      }
      body = off;
      break;
    }
    /* Name the file offset (the decoder counts from after the magic). */
    const char *why = strstr(deb.msg, ": ");
    rc = core_errf(eb, d, "%s: offset %zu: %s", path, CONS_WAL_MAGIC_LEN + off,
                   why ? why + 2 : deb.msg);
    goto fail;
  }
  w->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (w->fd < 0 || fsync(w->fd) != 0) {
    rc = core_errf(eb, COHORT_ERR_IO, "cannot open consensus WAL %s for writing: %s", path,
                   strerror(errno));
    goto fail;
  }
  w->size = CONS_WAL_MAGIC_LEN + body;
  w->len = body;
  if (body) {
    w->buf = malloc(body);
    if (!w->buf) {
      rc = COHORT_ERR_NOMEM;
      goto fail;
    }
    memcpy(w->buf, b, body);
  }
  free(all);
  *out = w;
  return COHORT_OK;
fail:
  free(all);
  cons_wal_close(w);
  return rc;
}

int cons_wal_next(cons_wal *w, size_t *off, cons_wal_rec *r) {
  core_errbuf eb;
  int d = cons_wal_decode(w->buf, w->len, off, r, &eb);
  return d == CONS_WAL_RECORD ? CONS_WAL_RECORD : CONS_WAL_END; /* checked at open */
}

int cons_wal_append(cons_wal *w, const cons_wal_rec *r, int sync, core_errbuf *eb) {
  w->scratch.len = 0;
  int rc = cons_wal_encode(&w->scratch, r);
  if (rc) return core_errf(eb, rc, "cannot encode a consensus WAL record (kind %d)", r->kind);
  if (write_all(w->fd, w->scratch.data, w->scratch.len))
    return core_errf(eb, COHORT_ERR_IO, "cannot append to consensus WAL %s: %s", w->path,
                     strerror(errno));
  w->size += w->scratch.len;
  w->dirty = 1;
  if (w->scratch.cap > (1u << 20)) { /* do not keep a block-sized buffer around */
    free(w->scratch.data);
    memset(&w->scratch, 0, sizeof w->scratch);
  }
  return sync ? cons_wal_sync(w, eb) : COHORT_OK;
}

int cons_wal_sync(cons_wal *w, core_errbuf *eb) {
  if (!w->dirty) return COHORT_OK;
  if (fsync(w->fd) != 0)
    return core_errf(eb, COHORT_ERR_IO, "cannot fsync consensus WAL %s: %s", w->path,
                     strerror(errno));
  w->dirty = 0;
  return COHORT_OK;
}

int cons_wal_rotate(cons_wal *w, core_errbuf *eb) {
  int rc = cons_wal_sync(w, eb);
  if (rc) return rc;
  char prev[PATH_MAX + 8];
  snprintf(prev, sizeof prev, "%s.prev", w->path);
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (rename(w->path, prev) != 0)
    return core_errf(eb, COHORT_ERR_IO, "cannot rotate consensus WAL %s: %s", w->path,
                     strerror(errno));
  free(w->buf);
  w->buf = NULL;
  w->len = 0;
  return start_file(w, eb);
}

uint64_t cons_wal_size(const cons_wal *w) { return w->size; }

void cons_wal_close(cons_wal *w) {
  if (!w) return;
  if (w->fd >= 0) {
    if (w->dirty) fsync(w->fd);
    close(w->fd);
  }
  free(w->buf);
  free(w->scratch.data);
  free(w);
}
