/* Consensus WAL: the record codec (round trips, torn tails at every cut,
 * corruption named by offset, non-canonical payloads refused) and the file
 * layer (append, reopen, torn tail truncated, corruption refused, rotate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consensus/consensus_wal.h"

static void sample(cons_wal_rec *r, int i, const uint8_t *blk, size_t blen) {
  memset(r, 0, sizeof *r);
  switch (i % 6) {
    case 0:
      r->kind = CONS_WAL_VOTE;
      r->u.vote.type = 1 + (uint32_t)(i % 2);
      r->u.vote.height = 5;
      r->u.vote.round = (uint32_t)i;
      r->u.vote.has_hash = i % 3 != 0;
      if (r->u.vote.has_hash) memset(r->u.vote.block_hash, i, 32);
      memset(r->u.vote.validator, 0xa0 + i, 32);
      memset(r->u.vote.signature, 0x55, 64);
      break;
    case 1:
      r->kind = CONS_WAL_PROPOSAL;
      r->u.proposal.height = 5;
      r->u.proposal.round = (uint32_t)i;
      r->u.proposal.pol_round = i > 3 ? 2 : -1;
      memset(r->u.proposal.block_hash, 7, 32);
      memset(r->u.proposal.proposer, 8, 32);
      memset(r->u.proposal.signature, 9, 64);
      break;
    case 2:
      r->kind = CONS_WAL_TIMEOUT;
      r->u.timeout.height = 5;
      r->u.timeout.round = (uint32_t)i * 1000;
      r->u.timeout.step = (uint32_t)(i % 4);
      break;
    case 3:
      r->kind = CONS_WAL_VERDICT;
      r->u.verdict.height = 5;
      memset(r->u.verdict.block_hash, 3, 32);
      r->u.verdict.valid = i % 2;
      break;
    case 4:
      r->kind = CONS_WAL_BLOCK;
      r->u.block.height = 5;
      r->u.block.bytes = blk;
      r->u.block.len = blen;
      break;
    default:
      r->kind = CONS_WAL_END_HEIGHT;
      r->u.end_height = 4;
  }
}

static void test_codec_round_trip_and_torn_tails(void **s) {
  (void)s;
  uint8_t blk[3000];
  for (size_t i = 0; i < sizeof blk; i++) blk[i] = (uint8_t)(i * 7);
  core_buf b = {0};
  size_t ends[12];
  for (int i = 0; i < 12; i++) {
    cons_wal_rec r;
    sample(&r, i, blk, sizeof blk);
    assert_int_equal(cons_wal_encode(&b, &r), 0);
    ends[i] = b.len;
  }
  /* Whole buffer: 12 records that re-encode to the same bytes. */
  size_t off = 0;
  core_errbuf eb;
  for (int i = 0; i < 12; i++) {
    cons_wal_rec r;
    assert_int_equal(cons_wal_decode(b.data, b.len, &off, &r, &eb), CONS_WAL_RECORD);
    assert_int_equal(off, ends[i]);
    core_buf one = {0};
    assert_int_equal(cons_wal_encode(&one, &r), 0);
    assert_memory_equal(one.data, b.data + (i ? ends[i - 1] : 0), one.len);
    free(one.data);
  }
  cons_wal_rec r;
  assert_int_equal(cons_wal_decode(b.data, b.len, &off, &r, &eb), CONS_WAL_END);
  /* Cut anywhere inside the last record (a crash mid-append): TORN at the
   * start of that record, never corruption; everything before survives. */
  for (size_t cut = ends[10] + 1; cut < ends[11]; cut++) {
    off = 0;
    int d, k = 0;
    while ((d = cons_wal_decode(b.data, cut, &off, &r, &eb)) == CONS_WAL_RECORD) k++;
    assert_int_equal(d, CONS_WAL_TORN);
    assert_int_equal(k, 11);
    assert_int_equal(off, ends[10]);
  }
  /* A flipped byte in the last record: its checksum fails, it is last: torn. */
  uint8_t *c = malloc(b.len);
  memcpy(c, b.data, b.len);
  c[ends[10] + 10] ^= 1;
  off = ends[10];
  assert_int_equal(cons_wal_decode(c, b.len, &off, &r, &eb), CONS_WAL_TORN);
  /* The same flip with records after it: corruption, naming the offset. */
  memcpy(c, b.data, b.len);
  c[ends[3] + 10] ^= 1;
  off = ends[3];
  assert_int_equal(cons_wal_decode(c, b.len, &off, &r, &eb), COHORT_ERR_CORRUPT);
  char want[64];
  snprintf(want, sizeof want, "offset %zu", ends[3]);
  assert_non_null(strstr(eb.msg, want));
  assert_non_null(strstr(eb.msg, "checksum"));
  /* A zero-filled tail (pre-allocated, never written) is torn too. */
  uint8_t *z = calloc(1, ends[2] + 100);
  memcpy(z, b.data, ends[2]);
  off = ends[2];
  assert_int_equal(cons_wal_decode(z, ends[2] + 100, &off, &r, &eb), CONS_WAL_TORN);
  free(z);
  free(c);
  free(b.data);
}

/* A payload with a valid checksum that is not the canonical encoding (here:
 * a non-minimal varint for the height) is corruption, not a record. */
static void test_non_canonical_payload_refused(void **s) {
  (void)s;
  /* WalRecord{end_height: WalEndHeight{height: 4}} = 32 02 08 04;
   * non-minimal: 32 03 08 84 00. */
  uint8_t pl[] = {0x32, 0x03, 0x08, 0x84, 0x00};
  uint8_t rec[8 + sizeof pl], more[2 * sizeof rec];
  core_put_u32be(rec, sizeof pl);
  core_put_u32be(rec + 4, cons_wal_crc32c(pl, sizeof pl));
  memcpy(rec + 8, pl, sizeof pl);
  memcpy(more, rec, sizeof rec);
  memcpy(more + sizeof rec, rec, sizeof rec);
  size_t off = 0;
  cons_wal_rec r;
  core_errbuf eb;
  assert_int_equal(cons_wal_decode(more, sizeof more, &off, &r, &eb), COHORT_ERR_CORRUPT);
  assert_non_null(strstr(eb.msg, "canonical"));
  /* Valid protobuf, canonical, but an invalid field (vote type 3). */
  uint8_t pl2[] = {0x0a, 0x02, 0x08, 0x03};
  core_put_u32be(rec, sizeof pl2);
  core_put_u32be(rec + 4, cons_wal_crc32c(pl2, sizeof pl2));
  memcpy(rec + 8, pl2, sizeof pl2);
  off = 0;
  assert_int_equal(cons_wal_decode(rec, 8 + sizeof pl2, &off, &r, &eb), COHORT_ERR_CORRUPT);
  /* Encoding refuses invalid records. */
  cons_wal_rec bad = {.kind = CONS_WAL_PROPOSAL};
  bad.u.proposal.height = 1;
  bad.u.proposal.round = 2;
  bad.u.proposal.pol_round = 2;
  core_buf b = {0};
  assert_int_equal(cons_wal_encode(&b, &bad), COHORT_ERR_INVALID);
  assert_int_equal(b.len, 0);
  free(b.data);
}

static char dir[64], path[128];

static void test_file_layer(void **s) {
  (void)s;
  strcpy(dir, "/tmp/cohort_wal_XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/consensus.wal", dir);
  cons_wal *w;
  core_errbuf eb;
  size_t torn;
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), 0);
  assert_int_equal(torn, 0);
  uint8_t blk[100] = {1, 2, 3};
  for (int i = 0; i < 6; i++) {
    cons_wal_rec r;
    sample(&r, i, blk, sizeof blk);
    assert_int_equal(cons_wal_append(w, &r, i == 5, &eb), 0);
  }
  uint64_t size = cons_wal_size(w);
  cons_wal_close(w);
  /* Reopen: six records back, in order. */
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), 0);
  size_t off = 0;
  int k = 0;
  cons_wal_rec r;
  while (cons_wal_next(w, &off, &r) == CONS_WAL_RECORD) {
    assert_int_equal(r.kind, (k % 6) == 0 ? CONS_WAL_VOTE : (cons_wal_kind)(k % 6 + 1));
    if (r.kind == CONS_WAL_BLOCK) assert_memory_equal(r.u.block.bytes, blk, sizeof blk);
    k++;
  }
  assert_int_equal(k, 6);
  cons_wal_close(w);
  /* Crash mid-append: half a record at the end. Reopen truncates it. */
  FILE *f = fopen(path, "ab");
  fwrite("\x00\x00\x00\x40\x12\x34\x56\x78\x0a\x0b", 1, 10, f);
  fclose(f);
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), 0);
  assert_int_equal(torn, size);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((uint64_t)st.st_size, size);
  /* Appends continue after the cut. */
  sample(&r, 2, blk, sizeof blk);
  assert_int_equal(cons_wal_append(w, &r, 1, &eb), 0);
  cons_wal_close(w);
  /* Corruption in the middle: refused, naming file and offset. */
  f = fopen(path, "r+b");
  fseek(f, 20, SEEK_SET);
  fputc(0xff, f);
  fclose(f);
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), COHORT_ERR_CORRUPT);
  assert_null(w);
  assert_non_null(strstr(eb.msg, path));
  assert_non_null(strstr(eb.msg, "offset 8"));
  /* Bad magic. */
  f = fopen(path, "wb");
  fputs("NOTAWAL!rest", f);
  fclose(f);
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), COHORT_ERR_CORRUPT);
  assert_non_null(strstr(eb.msg, "magic"));
  /* Torn magic (crash right after creating the file): fresh start. */
  f = fopen(path, "wb");
  fputs("COH", f);
  fclose(f);
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), 0);
  sample(&r, 0, blk, sizeof blk);
  assert_int_equal(cons_wal_append(w, &r, 1, &eb), 0);
  /* Rotate: the old file becomes .prev, the new one is empty. */
  assert_int_equal(cons_wal_rotate(w, &eb), 0);
  assert_int_equal(cons_wal_size(w), CONS_WAL_MAGIC_LEN);
  off = 0;
  assert_int_equal(cons_wal_next(w, &off, &r), CONS_WAL_END);
  cons_wal_close(w);
  char prev[160];
  snprintf(prev, sizeof prev, "%s.prev", path);
  assert_int_equal(stat(prev, &st), 0);
  assert_true(st.st_size > CONS_WAL_MAGIC_LEN);
  assert_int_equal(cons_wal_open(&w, path, &torn, &eb), 0);
  off = 0;
  assert_int_equal(cons_wal_next(w, &off, &r), CONS_WAL_END);
  cons_wal_close(w);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_codec_round_trip_and_torn_tails),
                                     cmocka_unit_test(test_non_canonical_payload_refused),
                                     cmocka_unit_test(test_file_layer)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
