/* proto/market.c — the market's wire rules (see market.h). */
#include "proto/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/hash.h"
#include "proto/tx.h"

static void id_of(uint8_t out[32], const char *domain, const uint8_t sender[20], uint64_t nonce) {
  uint8_t buf[16 + 20 + 8];
  size_t dl = strlen(domain);
  memcpy(buf, domain, dl);
  memcpy(buf + dl, sender, 20);
  core_put_u64be(buf + dl + 20, nonce);
  core_sha256(out, buf, dl + 28);
}

void market_task_id(uint8_t out[32], const uint8_t sender[20], uint64_t nonce) {
  id_of(out, "cohort/task/v1", sender, nonce);
}

void market_job_id(uint8_t out[32], const uint8_t sender[20], uint64_t nonce) {
  id_of(out, "cohort/job/v1", sender, nonce);
}

void market_chunk_id(uint8_t out[32], const uint8_t job_id[32], uint32_t i) {
  uint8_t buf[15 + 32 + 4];
  memcpy(buf, "cohort/chunk/v1", 15);
  memcpy(buf + 15, job_id, 32);
  core_put_u32be(buf + 47, i);
  core_sha256(out, buf, sizeof buf);
}

void market_claim_bytes(uint8_t out[MARKET_CLAIM_BYTES], const Cohort__Claim *c) {
  memset(out, 0, MARKET_CLAIM_BYTES);
  if (c->final_state.len == 32) memcpy(out, c->final_state.data, 32);
  core_put_u64be(out + 32, c->steps);
  core_put_u32be(out + 40, c->status);
  core_put_u32be(out + 44, c->code);
  if (c->output_hash.len == 32) memcpy(out + 48, c->output_hash.data, 32);
}

void market_commitment(uint8_t out[32], const uint8_t task_id[32], const uint8_t executor[20],
                       const Cohort__Claim *c, const uint8_t salt[32]) {
  uint8_t buf[16 + 32 + 20 + MARKET_CLAIM_BYTES + 32];
  memcpy(buf, "cohort/commit/v1", 16);
  memcpy(buf + 16, task_id, 32);
  memcpy(buf + 48, executor, 20);
  market_claim_bytes(buf + 68, c);
  memcpy(buf + 68 + MARKET_CLAIM_BYTES, salt, 32);
  core_sha256(out, buf, sizeof buf);
}

uint64_t market_seat_cost(uint64_t price_per_msteps, uint64_t price_per_task, uint64_t steps) {
  unsigned __int128 s = ((unsigned __int128)steps * price_per_msteps + 999999) / 1000000u;
  s += price_per_task;
  return s > UINT64_MAX ? UINT64_MAX : (uint64_t)s;
}

uint32_t market_quorum(uint32_t k, uint32_t quorum_bps) {
  uint64_t q = ((uint64_t)k * quorum_bps + 9999) / 10000;
  if (q < 1) q = 1;
  if (q > k) q = k;
  return (uint32_t)q;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  unsigned __int128 r = (unsigned __int128)a * b;
  return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

uint64_t market_min_commit_blocks(uint64_t max_steps, const Cohort__Params *p) {
  uint64_t sp = p->exec_steps_per_block ? p->exec_steps_per_block : 1;
  uint64_t run = max_steps / sp + (max_steps % sp != 0);
  return sat_add(run, p->window_margin_blocks);
}

uint64_t market_gas_base(const Cohort__TxBody *b, size_t tx_len, const Cohort__Params *p) {
  uint64_t g = sat_add(p->gas_tx, sat_mul(p->gas_tx_byte, tx_len));
  switch (b->msg_case) {
    case COHORT__TX_BODY__MSG_SUBMIT_TASK:
      g = sat_add(g, p->gas_task);
      g = sat_add(g, sat_mul(p->gas_state_byte, b->submit_task->input.len));
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: {
      const Cohort__MsgSubmitJob *j = b->submit_job;
      uint64_t bytes = 0;
      for (size_t i = 0; i < j->n_inputs; i++) bytes = sat_add(bytes, j->inputs[i].len);
      g = sat_add(g, sat_mul(p->gas_task, j->n_inputs));
      g = sat_add(g, sat_mul(p->gas_state_byte, bytes));
      break;
    }
    case COHORT__TX_BODY__MSG_REVEAL_RESULT:
      g = sat_add(g, sat_mul(p->gas_state_byte, b->reveal_result->output.len));
      break;
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_CREATE_VALIDATOR));
      break;
    case COHORT__TX_BODY__MSG_DELEGATE:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_DELEGATE));
      break;
    case COHORT__TX_BODY__MSG_UNDELEGATE:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_UNDELEGATE));
      break;
    case COHORT__TX_BODY__MSG_REDELEGATE:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_REDELEGATE));
      break;
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_DELEGATE));
      break;
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR:
      g = sat_add(g, sat_mul(p->gas_state_byte, MARKET_STATE_UNDELEGATE));
      break;
    case COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL: {
      /* a proposal stays in the state for ever: its text and changes */
      const Cohort__MsgSubmitProposal *m = b->submit_proposal;
      uint64_t bytes = (m->title ? strlen(m->title) : 0) +
                       (m->description ? strlen(m->description) : 0);
      for (size_t i = 0; i < m->n_changes; i++)
        bytes = sat_add(bytes, (m->changes[i]->name ? strlen(m->changes[i]->name) : 0) + 8);
      g = sat_add(g, sat_mul(p->gas_state_byte, bytes));
      break;
    }
    default:
      break;
  }
  return g;
}

uint64_t market_gas_vm(uint64_t kib, const Cohort__Params *p) { return sat_mul(p->gas_vm_kib, kib); }

uint64_t market_fee_due(uint64_t gas, const Cohort__Params *p) {
  unsigned __int128 f = ((unsigned __int128)gas * p->gas_price_milli + 999) / 1000;
  uint64_t due = f > UINT64_MAX ? UINT64_MAX : (uint64_t)f;
  return due > p->min_fee ? due : p->min_fee;
}

uint64_t market_commit_allowance(const Cohort__Params *p) {
  return market_fee_due(sat_add(p->gas_tx, sat_mul(p->gas_tx_byte, MARKET_COMMIT_TX_BYTES)), p);
}

uint64_t market_reveal_gas(uint32_t max_output, const Cohort__Params *p) {
  uint64_t g = sat_add(p->gas_tx, sat_mul(p->gas_tx_byte, (uint64_t)max_output + MARKET_REVEAL_TX_OVERHEAD));
  return sat_add(g, sat_mul(p->gas_state_byte, max_output));
}

uint64_t market_reveal_allowance(uint32_t max_output, const Cohort__Params *p) {
  return market_fee_due(market_reveal_gas(max_output, p), p);
}

const char *market_status_name(uint32_t s) {
  static const char *n[] = {"unknown",  "committing", "revealing", "agreed",
                            "final",    "disputed",   "expired",   "drawing"};
  return s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

const char *market_event_name(uint32_t code) {
  static const char *n[] = {"unknown",   "submitted", "drawn",    "committed", "revealing",
                            "revealed",  "no_show",   "agreed",   "disputed",  "final",
                            "expired",   "redraw",    "pruned",   "no_quorum", "waiting",
                            "game",      "move",      "game_end",  "challenged"};
  return code < sizeof n / sizeof n[0] ? n[code] : "unknown";
}

static const char *vm_status(uint32_t s) {
  static const char *n[] = {"running", "exited", "trapped", "out of steps"};
  return s < 4 ? n[s] : "?";
}

void market_event_text(const Cohort__TaskEvent *e, char *buf, size_t n) {
  unsigned long long a = e->a, b = e->b;
  char h[17] = "";
  for (size_t i = 0; i < 8 && e->hash.len == 32; i++) snprintf(h + 2 * i, 3, "%02x", e->hash.data[i]);
  static const char *why[] = {"", "not enough executors", "too many no-shows",
                              "no quorum of agreeing reveals", "every member lost its game"};
  static const char *move[] = {"?", "posted the bisection hashes", "chose a sub-range",
                               "proved the step"};
  static const char *end[] = {"?", "the defender proved the step", "the mover missed its deadline",
                              "the mover ran out of clock", "the claim cannot hold (0 steps)"};
  switch (e->code) {
    case 1: snprintf(buf, n, "reward %llu CRD base units escrowed, max_steps %llu", a, b); break;
    case 2: snprintf(buf, n, "seat %llu, stake %llu (locked until the task settles); beacon %s..", a, b, h); break;
    case 3: snprintf(buf, n, "commitment recorded"); break;
    case 4: snprintf(buf, n, "all members committed; reveals open"); break;
    case 5:
      snprintf(buf, n, "%llu steps, %s, code %llu; output %s..", a, vm_status((uint32_t)(b >> 32)),
               b & 0xffffffffu, h);
      break;
    case 6:
      snprintf(buf, n, "missed the %s window; %s", (b & 3) == 2 ? "reveal" : "commit",
               (b & 4) ? "already jailed: not slashed again" : "slashed and jailed");
      if (!(b & 4)) {
        size_t l = strlen(buf);
        snprintf(buf + l, n > l ? n - l : 0, " (%llu STK base units)", a);
      }
      break;
    case 7: snprintf(buf, n, "%llu agreeing reveals: %llu steps, final state %s..; paid when final", a, b, h); break;
    case 8: snprintf(buf, n, "members revealed different claims; stakes and escrow stay locked for the verification game"); break;
    case 9: snprintf(buf, n, "challenge window over: paid %llu, refunded %llu CRD base units", a, b); break;
    case 10: snprintf(buf, n, "%s; refunded %llu CRD base units", b < 5 ? why[b] : "?", a); break;
    case 11: snprintf(buf, n, "%llu seats to draw at the next block (attempt %llu)", a, b); break;
    case 12: snprintf(buf, n, "inline input and output removed from the state (hashes kept)"); break;
    case 13: snprintf(buf, n, "%llu agreeing reveals, %llu needed", a, b); break;
    case 14: snprintf(buf, n, "no executor with free capacity for %llu seats; waiting (up to params.draw_wait_blocks)", a); break;
    case 15:
      if ((a & 0xffffffffu) == 0xffffffffu)
        snprintf(buf, n, "verification game: seat %llu defends the result (%llu steps) against the "
                 "outside challenger", a >> 32, b);
      else
        snprintf(buf, n, "verification game: seat %llu defends its claim of %llu steps against "
                 "seat %llu", a >> 32, b, a & 0xffffffffu);
      break;
    case 16:
      snprintf(buf, n, "%s (%s %llu)", a < 4 ? move[a] : "?", a == 2 ? "part" : "round", b);
      break;
    case 18:
      snprintf(buf, n, "the agreed result is challenged; bond %llu STK base units", a);
      break;
    case 17:
      snprintf(buf, n, "lost the game (%s); slashed %llu STK base units", (b & 255) < 5 ? end[b & 255] : "?",
               a);
      break;
    default: snprintf(buf, n, "event %u", e->code);
  }
}

int market_tx_sign(const char *chain_id, const Cohort__Params *p, const uint8_t sec[32],
                   Cohort__TxBody *body, uint64_t vm_kib, uint8_t **raw, size_t *len) {
  int auto_fee = body->fee == 0, rc;
  *raw = NULL;
  /* two rounds at most in practice: a larger fee may add a varint byte */
  for (int round = 0; round < 4; round++) {
    if ((rc = tx_build(raw, len, body, chain_id, sec, NULL))) {
      *raw = NULL;
      return rc;
    }
    if (!auto_fee) return 0;
    uint64_t due = market_fee_due(market_gas_base(body, *len, p) + market_gas_vm(vm_kib, p), p);
    if (body->fee >= due) return 0;
    body->fee = due;
    free(*raw);
    *raw = NULL;
  }
  return COHORT_ERR_FEE;
}
