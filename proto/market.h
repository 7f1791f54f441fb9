/* proto/market.h — the compute market's wire rules, shared by the chain,
 * the CLI, executors and independent clients (docs/tasks.md, docs/protocol.md):
 * IDs, claim bytes, commitments, the quorum, the shortest commit window,
 * and the cost model. Pure functions of their arguments; no state.
 *
 *   task_id    = sha256("cohort/task/v1"  || sender(20) || u64be(nonce))
 *   job_id     = sha256("cohort/job/v1"   || sender(20) || u64be(nonce))
 *   chunk i    = sha256("cohort/chunk/v1" || job_id(32) || u32be(i))
 *   claim bytes = final_state(32) || u64be(steps) || u32be(status) ||
 *                 u32be(code) || output_hash(32)
 *   commitment = sha256("cohort/commit/v1" || task_id(32) || executor(20) ||
 *                claim bytes || salt(32))
 * IDs come from signed fields only (the sender's key and the tx nonce), so
 * nobody who relays or re-encodes a transaction can change them.
 */
#ifndef COHORT_PROTO_MARKET_H
#define COHORT_PROTO_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "proto/cohort.pb-c.h"

#define MARKET_CLAIM_BYTES 80

void market_task_id(uint8_t out[32], const uint8_t sender[20], uint64_t nonce);
void market_job_id(uint8_t out[32], const uint8_t sender[20], uint64_t nonce);
void market_chunk_id(uint8_t out[32], const uint8_t job_id[32], uint32_t i);
void market_claim_bytes(uint8_t out[MARKET_CLAIM_BYTES], const Cohort__Claim *c);
void market_commitment(uint8_t out[32], const uint8_t task_id[32], const uint8_t executor[20],
                       const Cohort__Claim *c, const uint8_t salt[32]);

/* What a seat costs for `steps`: price_per_task + ceil(steps *
 * price_per_msteps / 10^6), saturating. A member is paid this for the steps
 * its task used (at most reward / k), and is only drawn if it covers the
 * task's max_steps: no seat is worked for nothing unless the executor asks
 * for nothing. */
uint64_t market_seat_cost(uint64_t price_per_msteps, uint64_t price_per_task, uint64_t steps);

/* Agreeing reveals a committee of k needs: ceil(k * quorum_bps / 10000),
 * at least 1 and at most k. */
uint32_t market_quorum(uint32_t k, uint32_t quorum_bps);

/* The shortest commit window a task may have: the blocks its step cap
 * needs at the documented executor speed, plus a margin:
 * ceil(max_steps / exec_steps_per_block) + window_margin_blocks (saturating). */
uint64_t market_min_commit_blocks(uint64_t max_steps, const Cohort__Params *p);

/* ---- cost model (docs/protocol.md "Cost model") ----
 * gas = gas_tx + gas_tx_byte * len(tx)               (every tx)
 *     + gas_state_byte * bytes the message keeps     (inline input, output;
 *         the staking records, at the flat sizes below; a proposal's
 *         title, description and each change's name + 8)
 *     + gas_task * tasks the message creates         (1, or the job's chunks)
 *     + gas_vm_kib * KiB loaded into VMs             (known at execution:
 *         for each task or chunk, ceil((program + input) / 1024); for an
 *         upload with is_program, ceil(data / 1024))
 * fee due = max(min_fee, ceil(gas * gas_price_milli / 1000)).
 * The first three parts are static ("base gas": the inclusion rule checks
 * the fee against them); the VM part is added when the message runs, and a
 * fee short of the total fails the message (the fee is still paid). */
uint64_t market_gas_base(const Cohort__TxBody *body, size_t tx_len, const Cohort__Params *p);
/* State bytes charged per staking message (docs/staking.md §2): the
 * records and index keys each may leave behind, rounded up. */
#define MARKET_STATE_CREATE_VALIDATOR 512 /* vl/ vk/ vp/ dl/ dv/ */
#define MARKET_STATE_DELEGATE 128         /* dl/ dv/ */
#define MARKET_STATE_UNDELEGATE 192       /* uq/ uv/ ud/ */
#define MARKET_STATE_REDELEGATE 320       /* rq/ rv/ rd/ and a dl/ dv/ at dst */
uint64_t market_gas_vm(uint64_t kib, const Cohort__Params *p);
uint64_t market_fee_due(uint64_t gas, const Cohort__Params *p);

/* Sign body for chain_id with the Schnorr secret sec (tx_build); if
 * body->fee is 0, first set it to the fee due for the signed size plus
 * vm_kib KiB loaded into VMs (the fee is inside the signed bytes, so it is
 * grown until it covers the tx it is part of). body->fee holds what was
 * signed. *raw is malloc'd (the caller frees it). Returns 0, or
 * COHORT_ERR_KEY / COHORT_ERR_NOMEM (tx_build) or COHORT_ERR_FEE (the fee
 * did not settle); *raw is then NULL. */
int market_tx_sign(const char *chain_id, const Cohort__Params *p, const uint8_t sec[32],
                   Cohort__TxBody *body, uint64_t vm_kib, uint8_t **raw, size_t *len);

/* What a task escrows per committee seat, on top of its reward, to pay
 * back the member's commit and reveal fees (a customer who declares a big
 * output makes reveals dear; the customer, not the executor, pays for it):
 * fee_due(gas of a commit tx of MARKET_COMMIT_TX_BYTES) +
 * fee_due(gas of a reveal tx of max_output + MARKET_REVEAL_TX_OVERHEAD bytes
 *         keeping max_output bytes). Saturating. */
#define MARKET_COMMIT_TX_BYTES 256
#define MARKET_REVEAL_TX_OVERHEAD 1024
uint64_t market_commit_allowance(const Cohort__Params *p);
/* Gas of one reveal tx carrying max_output bytes (the reveal window is
 * stretched by the reveal gas the chain still expects: docs/tasks.md). */
uint64_t market_reveal_gas(uint32_t max_output, const Cohort__Params *p);
uint64_t market_reveal_allowance(uint32_t max_output, const Cohort__Params *p);
/* KiB of `bytes` for gas_vm_kib: ceil(bytes / 1024). */
static inline uint64_t market_kib(uint64_t bytes) { return bytes / 1024 + (bytes % 1024 != 0); }

/* Timeline events (Task.timeline): the stable name of an event code
 * ("submitted", "drawn", ...; "unknown" otherwise) and a sentence for
 * people, rendered from the event's numbers (never stored). */
const char *market_event_name(uint32_t code);
void market_event_text(const Cohort__TaskEvent *e, char *buf, size_t n);
/* Task status names, 1 committing .. 7 drawing ("unknown" otherwise). */
const char *market_status_name(uint32_t status);

#endif
