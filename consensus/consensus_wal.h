/* consensus/consensus_wal.h — the consensus write-ahead log.
 *
 * Why: a validator that crashes mid-height must come back in the same round
 * with the same lock and valid value, or it could prevote B' after having
 * precommitted B (which breaks Tendermint's locking argument) — the signer
 * (privval.h) stops a second signature for one (height, round, step), but
 * only the WAL restores *what the engine knew*. Every input the engine acts
 * on (votes, proposals, validation verdicts, timeouts) and every message it
 * signs is appended here, in the order the engine processed them; the
 * engine asks for each append with a CONS_ACT_WAL_WRITE action, and the
 * node fsyncs the log before a signature leaves the process. A restarted
 * node feeds the records of its current height back (cons_replay_*,
 * consensus.h); the engine is deterministic, so it reaches the same state.
 *
 * File format (docs/protocol.md "Consensus WAL"):
 *   file   = magic "COHWAL1\n" (8 bytes) || record*
 *   record = u32be(len) || u32be(crc32c(payload)) || payload     1 <= len <= CONS_WAL_RECORD_MAX
 *   payload = a WalRecord protobuf (proto/cohort.proto) in canonical
 *            encoding (re-packing it gives the same bytes), exactly one
 *            member set, its fields valid (vote types, lengths, heights).
 * crc32c is CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial
 * value and final xor 0xFFFFFFFF; crc32c("123456789") = 0xE3069283).
 *
 * A torn tail — the last record incomplete (header or payload running past
 * the end), the last record failing its checksum, or a tail of zero bytes —
 * is what a crash during an append leaves; it is reported as CONS_WAL_TORN
 * and the file layer truncates it. Anything else (a bad checksum followed
 * by more data, a record that is not canonical or not valid) is corruption:
 * COHORT_ERR_CORRUPT with the offset, and the node refuses to start rather
 * than sign without knowing what it did.
 *
 * Rotation: after block h is committed to the store the node appends
 * END_HEIGHT(h) and rotates: the file is renamed to <path>.prev (the last
 * height's log, kept for inspection) and a fresh file begins. Replay uses
 * only records whose height is the node's current height, so a crash at
 * any point of a rotation is harmless.
 *
 * The codec (cons_wal_encode / cons_wal_decode) is pure: bytes in, records
 * out, no I/O; tests/fuzz/fuzz_wal.c fuzzes it and the simulator keeps its
 * WALs in memory through it. The file layer (cons_wal_*) does the I/O.
 */
#ifndef COHORT_CONSENSUS_WAL_H
#define COHORT_CONSENSUS_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus_msg.h"
#include "core/bytes.h"
#include "core/err.h"

#define CONS_WAL_MAGIC "COHWAL1\n"
#define CONS_WAL_MAGIC_LEN 8
#define CONS_WAL_HEADER_LEN 8
#define CONS_WAL_RECORD_MAX (64u << 20) /* payload bytes; a block is at most 64 MiB */

typedef enum {
  CONS_WAL_VOTE = 1,       /* a vote the engine stored (own or received) */
  CONS_WAL_PROPOSAL = 2,   /* a proposal the engine stored */
  CONS_WAL_TIMEOUT = 3,    /* a timeout the engine acted on */
  CONS_WAL_VERDICT = 4,    /* the node's validation verdict on a block */
  CONS_WAL_BLOCK = 5,      /* block bytes the node holds (the engine ignores it) */
  CONS_WAL_END_HEIGHT = 6  /* block `height` is committed to the store */
} cons_wal_kind;

/* Timeout steps (WalTimeout.step). */
#define CONS_TIMEOUT_NEW_HEIGHT 0 /* the wait before round 0 ended */
#define CONS_TIMEOUT_PROPOSE 1
#define CONS_TIMEOUT_PREVOTE 2
#define CONS_TIMEOUT_PRECOMMIT 3

typedef struct {
  cons_wal_kind kind;
  union {
    cons_vote vote;
    cons_proposal proposal;
    struct {
      uint64_t height;
      uint32_t round;
      uint32_t step; /* CONS_TIMEOUT_* */
    } timeout;
    struct {
      uint64_t height;
      uint8_t block_hash[32];
      int valid;
    } verdict;
    struct {
      uint64_t height;
      const uint8_t *bytes; /* borrowed: into the caller's buffer */
      size_t len;
    } block;
    uint64_t end_height;
  } u;
} cons_wal_rec;

/* Height a record belongs to. */
uint64_t cons_wal_rec_height(const cons_wal_rec *r);

/* Append the encoded record (header and payload) to out. Returns 0,
 * COHORT_ERR_INVALID (a field out of range: nothing appended) or
 * COHORT_ERR_NOMEM (out unchanged). */
int cons_wal_encode(core_buf *out, const cons_wal_rec *r);

/* Decode the record at buf[*off..len). Returns:
 *   CONS_WAL_RECORD (1): *r filled (block bytes point into buf), *off moved
 *                        past the record;
 *   CONS_WAL_END (0):    *off == len, nothing more;
 *   CONS_WAL_TORN (2):   a torn tail starts at *off (unchanged): truncate
 *                        there;
 *   COHORT_ERR_CORRUPT:  eb names the offset and the problem;
 *   COHORT_ERR_NOMEM:    the canonical check needed memory.
 * buf must not include the file magic (start *off after it). */
#define CONS_WAL_END 0
#define CONS_WAL_RECORD 1
#define CONS_WAL_TORN 2
int cons_wal_decode(const uint8_t *buf, size_t len, size_t *off, cons_wal_rec *r,
                    core_errbuf *eb);

/* CRC-32C of data, as used by the record header. */
uint32_t cons_wal_crc32c(const uint8_t *data, size_t len);

/* ---- the file ---- */

typedef struct cons_wal cons_wal;

/* Open (or create) the WAL file at path and read it whole. A torn tail is
 * truncated (fsynced) and *torn_at set to its offset (else to 0); a missing
 * or empty file starts fresh. Errors: COHORT_ERR_CORRUPT (eb: "<path>:
 * offset N: ..."), COHORT_ERR_IO, COHORT_ERR_NOMEM; *out = NULL then. */
int cons_wal_open(cons_wal **out, const char *path, size_t *torn_at, core_errbuf *eb);

/* Iterate over the records read at open (in file order): start with
 * *off = 0; returns CONS_WAL_RECORD with *r filled (block bytes borrowed
 * from the WAL until rotate/close) or CONS_WAL_END. */
int cons_wal_next(cons_wal *w, size_t *off, cons_wal_rec *r);

/* Append one record; if sync, fsync before returning (which makes every
 * earlier append durable too). Errors: COHORT_ERR_IO / COHORT_ERR_NOMEM /
 * COHORT_ERR_INVALID — the node must not let a signature leave after a
 * failed append. */
int cons_wal_append(cons_wal *w, const cons_wal_rec *r, int sync, core_errbuf *eb);

/* fsync if anything was appended since the last sync. */
int cons_wal_sync(cons_wal *w, core_errbuf *eb);

/* The height is over: rename the file to <path>.prev, start a new one
 * (magic, fsync, directory fsync) and drop the records read at open. */
int cons_wal_rotate(cons_wal *w, core_errbuf *eb);

/* Bytes in the current file. */
uint64_t cons_wal_size(const cons_wal *w);

void cons_wal_close(cons_wal *w);

#endif
