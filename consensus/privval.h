/* consensus/privval.h — the validator's signer with double-sign protection.
 *
 * Holds the ed25519 consensus key and the last signed (height, round, step).
 * It refuses to sign anything at or below that point unless it is the very
 * same vote (then it returns the stored signature again). The new last-signed
 * record is written to a temporary file, fsynced, renamed over the state
 * file and the directory fsynced BEFORE the signature is returned — so a
 * `kill -9` at any instant cannot lead to two different signatures for one
 * (height, round, step).
 *
 * State file (JSON): {"height": "12", "round": 0, "step": 3,
 *                     "sign_bytes": "<hex>", "signature": "<hex>"}
 * steps: 1 proposal, 2 prevote, 3 precommit.
 */
#ifndef COHORT_CONSENSUS_PRIVVAL_H
#define COHORT_CONSENSUS_PRIVVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PRIVVAL_STEP_PROPOSAL 1
#define PRIVVAL_STEP_PREVOTE 2
#define PRIVVAL_STEP_PRECOMMIT 3

typedef struct privval privval;

/* Load the key and the state file (created if missing). The paths are
 * copied. Errors: COHORT_ERR_KEY, COHORT_ERR_CORRUPT (bad state file),
 * COHORT_ERR_IO. */
int privval_open(privval **out, const char *key_path, const char *state_path,
                 core_errbuf *eb);
void privval_close(privval *pv); /* wipes the key */

const uint8_t *privval_pubkey(const privval *pv);

/* Sign msg (the full sign bytes) as (height, round, step). Returns 0 with
 * sig filled, or COHORT_ERR_DOUBLE_SIGN (eb says what was signed before),
 * or COHORT_ERR_IO if the state could not be made durable (nothing signed). */
int privval_sign(privval *pv, uint64_t height, uint32_t round, int step,
                 const uint8_t *msg, size_t len, uint8_t sig[64],
                 core_errbuf *eb);

/* Last signed point, for status. */
void privval_last(const privval *pv, uint64_t *height, uint32_t *round,
                  int *step);

#endif
