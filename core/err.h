/* core/err.h — the one error table of Cohort.
 *
 * Every fallible function returns int: 0 on success, a negative COHORT_ERR_*
 * otherwise. core_err_str() gives the code's fixed message; functions that can
 * say more (which field, which value) also fill a caller-supplied core_errbuf.
 * Codes are stable: they appear in RPC error data and tx results, so an
 * independent client may rely on their numbers. Never renumber; only append.
 */
#ifndef COHORT_CORE_ERR_H
#define COHORT_CORE_ERR_H

#include <stddef.h>

enum {
  COHORT_OK = 0,
  COHORT_ERR_NOMEM = -1,            /* allocation failed */
  COHORT_ERR_INVALID = -2,          /* invalid argument or input */
  COHORT_ERR_DECODE = -3,           /* malformed encoding (protobuf, hex, json) */
  COHORT_ERR_TOO_LARGE = -4,        /* input exceeds a size or count limit */
  COHORT_ERR_SIGNATURE = -5,        /* signature does not verify */
  COHORT_ERR_CHAIN_ID = -6,         /* signed for another chain */
  COHORT_ERR_NONCE_OLD = -7,        /* nonce already used (replay) */
  COHORT_ERR_NONCE_FUTURE = -8,     /* nonce skips ahead of the account */
  COHORT_ERR_FUNDS = -9,            /* insufficient balance */
  COHORT_ERR_OVERFLOW = -10,        /* amount arithmetic would overflow */
  COHORT_ERR_TOKEN = -11,           /* unknown token */
  COHORT_ERR_FEE = -12,             /* fee below the minimum */
  COHORT_ERR_NOT_FOUND = -13,       /* no such record */
  COHORT_ERR_IO = -14,              /* file or socket I/O failed */
  COHORT_ERR_STORE = -15,           /* the key-value store failed */
  COHORT_ERR_MEMPOOL_FULL = -16,    /* mempool count or byte limit reached */
  COHORT_ERR_DUPLICATE = -17,       /* already known */
  COHORT_ERR_UNSUPPORTED = -18,     /* valid but not supported here */
  COHORT_ERR_CORRUPT = -19,         /* stored data failed verification */
  COHORT_ERR_CONFIG = -20,          /* bad configuration */
  COHORT_ERR_GENESIS = -21,         /* bad genesis file */
  COHORT_ERR_BAD_BLOCK = -22,       /* block fails validation */
  COHORT_ERR_DOUBLE_SIGN = -23,     /* refused: would sign conflicting votes */
  COHORT_ERR_TIMEOUT = -24,         /* deadline passed */
  COHORT_ERR_KEY = -25,             /* bad key material */
  COHORT_ERR_ADDRESS = -26,         /* bad address */
  COHORT_ERR_AMOUNT = -27,          /* zero or otherwise invalid amount */
  COHORT_ERR_NO_MSG = -28,          /* transaction carries no message */
  COHORT_ERR_NO_EXECUTORS = -29,    /* not enough eligible executors for a committee */
  COHORT_ERR_QUEUE_FULL = -30,      /* a bounded send queue is full (back-pressure): retry later or drop */
  COHORT_ERR_LAST = -30
};

/* The fatal band: errors that are this node's own trouble (out of memory,
 * storage or file I/O failed, its own stored data is corrupt), never a
 * property of the input. Such an error must abort the block (or the work)
 * on this node and never become a transaction result, a "bad block"
 * verdict or a score against a peer: another node with more memory would
 * decide otherwise, and consensus would split. Returns 1 for those codes. */
static inline int core_err_is_fatal(int code) {
  return code == COHORT_ERR_NOMEM || code == COHORT_ERR_IO || code == COHORT_ERR_STORE ||
         code == COHORT_ERR_CORRUPT;
}

/* Fixed, human message for a code; never NULL ("unknown error" otherwise). */
const char *core_err_str(int code);

/* Short stable identifier for a code, e.g. "nonce_old"; never NULL. */
const char *core_err_name(int code);

/* A buffer for a detailed message. Functions that take one write a complete
 * sentence naming the offending input; they never write past its size. */
typedef struct {
  char msg[256];
} core_errbuf;

/* Format into eb (if non-NULL) and return code, so callers can write
 * `return core_errf(eb, COHORT_ERR_X, "field %s ...", name);` */
int core_errf(core_errbuf *eb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
