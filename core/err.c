/* core/err.c — messages and names for the error codes of err.h. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
  const char *name;
  const char *msg;
} table[] = {
    {"ok", "success"},
    {"nomem", "out of memory"},
    {"invalid", "invalid input"},
    {"decode", "malformed encoding"},
    {"too_large", "input exceeds a size limit"},
    {"signature", "signature does not verify"},
    {"chain_id", "signed for a different chain id"},
    {"nonce_old", "nonce already used (replay)"},
    {"nonce_future", "nonce is ahead of the account's next nonce"},
    {"funds", "insufficient balance"},
    {"overflow", "amount overflow"},
    {"token", "unknown token"},
    {"fee", "fee below the minimum"},
    {"not_found", "not found"},
    {"io", "I/O error"},
    {"store", "storage error"},
    {"mempool_full", "mempool is full"},
    {"duplicate", "already known"},
    {"unsupported", "not supported"},
    {"corrupt", "stored data is corrupt"},
    {"config", "bad configuration"},
    {"genesis", "bad genesis"},
    {"bad_block", "invalid block"},
    {"double_sign", "refused to double-sign"},
    {"timeout", "timed out"},
    {"key", "bad key"},
    {"address", "bad address"},
    {"amount", "invalid amount"},
    {"no_msg", "transaction has no message"},
    {"no_executors", "not enough eligible executors"},
    {"queue_full", "send queue is full"},
};

_Static_assert(sizeof table / sizeof table[0] == (size_t)(1 - COHORT_ERR_LAST),
               "every error code has a table row");

const char *core_err_str(int code) {
  if (code > 0 || code < COHORT_ERR_LAST) return "unknown error";
  return table[-code].msg;
}

const char *core_err_name(int code) {
  if (code > 0 || code < COHORT_ERR_LAST) return "unknown";
  return table[-code].name;
}

int core_errf(core_errbuf *eb, int code, const char *fmt, ...) {
  if (eb) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
