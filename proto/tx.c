/* proto/tx.c — transaction decoding, signature checks, and building. */
#include "proto/tx.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "core/keys.h"
#include "core/parse.h"
#include "proto/gov.h"
#include "proto/pbutil.h"

void tx_sign_digest(uint8_t out[32], const char *chain_id,
                    const uint8_t *body, size_t body_len) {
  core_sha256_ctx c;
  uint8_t n = (uint8_t)strlen(chain_id);
  core_sha256_init(&c);
  core_sha256_update(&c, TX_SIGN_DOMAIN, strlen(TX_SIGN_DOMAIN));
  core_sha256_update(&c, &n, 1);
  core_sha256_update(&c, chain_id, n);
  core_sha256_update(&c, body, body_len);
  core_sha256_final(&c, out);
}

/* Printable UTF-8 (core_text_valid) where newlines are allowed too: a
 * proposal's description is prose. */
static int text_lines_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i <= n) {
    const char *nl = memchr(s + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - s) : n;
    if (end > i && !core_text_valid(s + i, end - i)) return 0;
    if (!nl) break;
    i = end + 1;
  }
  return 1;
}

/* MsgSubmitProposal's shape (docs/staking.md §5); names, bounds and
 * relations of the changes are checked against the parameter table and the
 * state when the message runs (state/gov/gov_params.c). */
static int check_proposal(const Cohort__MsgSubmitProposal *m, core_errbuf *eb) {
  if (pb_has_unknown(&m->base))
    return core_errf(eb, COHORT_ERR_DECODE, "submit_proposal has unknown fields");
  if (m->kind < GOV_KIND_PARAMS || m->kind > GOV_KIND_SPEND)
    return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal.kind must be 1 (parameter change), "
                     "2 (text) or 3 (community-pool spend), got %u", m->kind);
  size_t tl = m->title ? strlen(m->title) : 0, dl = m->description ? strlen(m->description) : 0;
  if (tl < 1 || tl > GOV_TITLE_MAX || !core_text_valid(m->title, tl))
    return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal.title must be 1 to %d bytes of "
                     "printable UTF-8, got %zu bytes", GOV_TITLE_MAX, tl);
  if (dl > GOV_DESCRIPTION_MAX || (dl && !text_lines_valid(m->description, dl)))
    return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal.description must be at most %d "
                     "bytes of printable UTF-8 (newlines allowed), got %zu bytes",
                     GOV_DESCRIPTION_MAX, dl);
  if (m->kind == GOV_KIND_PARAMS) {
    if (m->n_changes < 1 || m->n_changes > GOV_CHANGES_MAX)
      return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal: a parameter change carries 1 to "
                       "%d changes, got %zu", GOV_CHANGES_MAX, m->n_changes);
    for (size_t i = 0; i < m->n_changes; i++) {
      const Cohort__ParamChange *c = m->changes[i];
      if (pb_has_unknown(&c->base))
        return core_errf(eb, COHORT_ERR_DECODE, "submit_proposal.changes[%zu] has unknown fields",
                         i);
      size_t nl = c->name ? strlen(c->name) : 0;
      if (nl < 1 || nl > GOV_PARAM_NAME_MAX || strspn(c->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != nl)
        return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal.changes[%zu].name must be 1 to "
                         "%d bytes of a-z, 0-9 and _ (a parameter's name)", i, GOV_PARAM_NAME_MAX);
      for (size_t j = 0; j < i; j++)
        if (!strcmp(m->changes[j]->name, c->name))
          return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal.changes[%zu]: %s is changed "
                           "twice (changes[%zu])", i, c->name, j);
    }
  } else if (m->n_changes || m->apply_height) {
    return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal: changes and apply_height belong "
                     "to a parameter change (kind 1) only");
  }
  if (m->kind == GOV_KIND_SPEND) {
    if (m->recipient.len != 20)
      return core_errf(eb, COHORT_ERR_ADDRESS, "submit_proposal.recipient must be a 20-byte "
                       "account ID, got %zu bytes", m->recipient.len);
    if (m->amount == 0)
      return core_errf(eb, COHORT_ERR_AMOUNT, "submit_proposal.amount (CRD to spend) must be > 0");
  } else if (m->recipient.len || m->amount) {
    return core_errf(eb, COHORT_ERR_INVALID, "submit_proposal: recipient and amount belong to a "
                     "community-pool spend (kind 3) only");
  }
  return COHORT_OK;
}

/* MsgDelegateExecutor and MsgUndelegateExecutor: {executor, amount}. */
static int check_exec_target(const ProtobufCMessage *base, const ProtobufCBinaryData *executor,
                             uint64_t amount, const char *what, core_errbuf *eb) {
  if (pb_has_unknown(base)) return core_errf(eb, COHORT_ERR_DECODE, "%s has unknown fields", what);
  if (executor->len != 20)
    return core_errf(eb, COHORT_ERR_ADDRESS, "%s.executor must be a 20-byte account ID", what);
  if (amount == 0) return core_errf(eb, COHORT_ERR_AMOUNT, "%s.amount must be > 0", what);
  return COHORT_OK;
}

static int check_body(const Cohort__TxBody *b, core_errbuf *eb) {
  if (pb_has_unknown(&b->base))
    return core_errf(eb, COHORT_ERR_DECODE, "tx body has unknown fields");
  if (b->memo && strlen(b->memo) > TX_MEMO_MAX)
    return core_errf(eb, COHORT_ERR_INVALID, "memo is longer than %d bytes",
                     TX_MEMO_MAX);
  if (b->memo && !core_text_valid(b->memo, strlen(b->memo)))
    return core_errf(eb, COHORT_ERR_INVALID,
                     "memo is not printable UTF-8 text (invalid UTF-8 or a control character)");
  switch (b->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER: {
      const Cohort__MsgTransfer *t = b->transfer;
      if (pb_has_unknown(&t->base))
        return core_errf(eb, COHORT_ERR_DECODE, "transfer has unknown fields");
      if (t->to.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS,
                         "transfer.to must be a 20-byte account ID, got %zu bytes",
                         t->to.len);
      if (t->token != COHORT__TOKEN__CRD && t->token != COHORT__TOKEN__STK)
        return core_errf(eb, COHORT_ERR_TOKEN,
                         "transfer.token %d is not CRD (1) or STK (2)",
                         (int)t->token);
      if (t->amount == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "transfer.amount must be > 0");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR:
      if (pb_has_unknown(&b->register_executor->base))
        return core_errf(eb, COHORT_ERR_DECODE, "register_executor has unknown fields");
      if (b->register_executor->commission_bps > 10000)
        return core_errf(eb, COHORT_ERR_INVALID, "register_executor.commission_bps %u is above "
                         "10000 (100%%)", b->register_executor->commission_bps);
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_UNBOND:
      if (pb_has_unknown(&b->unbond->base))
        return core_errf(eb, COHORT_ERR_DECODE, "unbond has unknown fields");
      if (b->unbond->role != 1)
        return core_errf(eb, COHORT_ERR_INVALID, "unbond.role must be 1 (executor stake)");
      if (b->unbond->amount == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "unbond.amount must be > 0");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB:
      if (pb_has_unknown(&b->upload_blob->base))
        return core_errf(eb, COHORT_ERR_DECODE, "upload_blob has unknown fields");
      if (b->upload_blob->data.len == 0)
        return core_errf(eb, COHORT_ERR_INVALID, "upload_blob.data is empty");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_SUBMIT_TASK: {
      const Cohort__MsgSubmitTask *t = b->submit_task;
      if (pb_has_unknown(&t->base))
        return core_errf(eb, COHORT_ERR_DECODE, "submit_task has unknown fields");
      if (t->program.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID, "submit_task.program must be a 32-byte blob hash");
      if (t->input_blob.len != 0 && (t->input_blob.len != 32 || t->input.len != 0))
        return core_errf(eb, COHORT_ERR_INVALID,
                         "submit_task: give inline input or a 32-byte input_blob hash, not both");
      if (t->max_steps == 0 || t->mem_mib == 0 || t->committee == 0 || t->reward == 0)
        return core_errf(eb, COHORT_ERR_INVALID,
                         "submit_task: max_steps, mem_mib, committee and reward must be > 0");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: {
      const Cohort__MsgSubmitJob *j = b->submit_job;
      if (pb_has_unknown(&j->base))
        return core_errf(eb, COHORT_ERR_DECODE, "submit_job has unknown fields");
      if (j->program.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID, "submit_job.program must be a 32-byte blob hash");
      if (j->n_inputs < 1 || j->n_inputs > TX_JOB_MAX_CHUNKS)
        return core_errf(eb, COHORT_ERR_INVALID, "submit_job needs 1 to %d input chunks, got %zu",
                         TX_JOB_MAX_CHUNKS, j->n_inputs);
      if (j->max_steps == 0 || j->mem_mib == 0 || j->committee == 0 || j->reward_per_chunk == 0)
        return core_errf(eb, COHORT_ERR_INVALID, "submit_job: max_steps, mem_mib, committee and "
                         "reward_per_chunk must be > 0");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_COMMIT_RESULT:
      if (pb_has_unknown(&b->commit_result->base))
        return core_errf(eb, COHORT_ERR_DECODE, "commit_result has unknown fields");
      if (b->commit_result->task_id.len != 32 || b->commit_result->commitment.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID,
                         "commit_result: task_id and commitment must be 32 bytes");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_REVEAL_RESULT: {
      const Cohort__MsgRevealResult *r = b->reveal_result;
      if (pb_has_unknown(&r->base) || (r->claim && pb_has_unknown(&r->claim->base)))
        return core_errf(eb, COHORT_ERR_DECODE, "reveal_result has unknown fields");
      if (r->task_id.len != 32 || r->salt.len != 32 || !r->claim ||
          r->claim->final_state.len != 32 || r->claim->output_hash.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID,
                         "reveal_result: task_id, salt, claim.final_state and claim.output_hash "
                         "must be 32 bytes");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_CHALLENGE:
      if (pb_has_unknown(&b->challenge->base))
        return core_errf(eb, COHORT_ERR_DECODE, "challenge has unknown fields");
      if (b->challenge->task_id.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID, "challenge: task_id must be 32 bytes");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_DISPUTE_BISECT: {
      const Cohort__MsgDisputeBisect *m = b->dispute_bisect;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "dispute_bisect has unknown fields");
      if (m->task_id.len != 32 || m->hashes.len == 0 || m->hashes.len % 32 ||
          m->hashes.len > 32 * TX_DISPUTE_MAX_POINTS)
        return core_errf(eb, COHORT_ERR_INVALID,
                         "dispute_bisect: task_id must be 32 bytes and hashes 1 to %d 32-byte "
                         "hashes, got %zu bytes", TX_DISPUTE_MAX_POINTS, m->hashes.len);
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_DISPUTE_SELECT: {
      const Cohort__MsgDisputeSelect *m = b->dispute_select;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "dispute_select has unknown fields");
      if (m->task_id.len != 32 || m->part < 1 || m->part > TX_DISPUTE_MAX_POINTS + 1 ||
          m->seen.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID, "dispute_select: task_id and seen must be 32 "
                         "bytes and part 1 to %d", TX_DISPUTE_MAX_POINTS + 1);
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_DISPUTE_PROVE: {
      const Cohort__MsgDisputeProve *m = b->dispute_prove;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "dispute_prove has unknown fields");
      if (m->task_id.len != 32 || m->proof.len == 0 || m->proof.len > TX_DISPUTE_PROOF_MAX)
        return core_errf(eb, COHORT_ERR_INVALID, "dispute_prove: task_id must be 32 bytes and "
                         "the proof 1 to %d bytes", TX_DISPUTE_PROOF_MAX);
      return COHORT_OK;
    }
    /* staking and distribution (docs/staking.md §2): what needs no state */
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR: {
      const Cohort__MsgCreateValidator *m = b->create_validator;
      size_t ml = m->moniker ? strlen(m->moniker) : 0;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "create_validator has unknown fields");
      if (m->pubkey.len != 32 || !core_ed25519_pubkey_valid(m->pubkey.data))
        return core_errf(eb, COHORT_ERR_INVALID,
                         "create_validator.pubkey must be a valid 32-byte ed25519 public key");
      if (m->beacon_commit.len != 32)
        return core_errf(eb, COHORT_ERR_INVALID, "create_validator.beacon_commit must be 32 bytes");
      if (ml > TX_MONIKER_MAX || (ml && !core_text_valid(m->moniker, ml)))
        return core_errf(eb, COHORT_ERR_INVALID, "create_validator.moniker must be at most %d "
                         "bytes of printable UTF-8", TX_MONIKER_MAX);
      if (m->commission_bps > m->max_commission_bps || m->max_commission_bps > 10000 ||
          m->max_change_bps > m->max_commission_bps)
        return core_errf(eb, COHORT_ERR_INVALID, "create_validator needs commission_bps <= "
                         "max_commission_bps <= 10000 and max_change_bps <= max_commission_bps");
      if (m->self_bond == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "create_validator.self_bond must be > 0");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_EDIT_VALIDATOR: {
      const Cohort__MsgEditValidator *m = b->edit_validator;
      size_t ml = m->moniker ? strlen(m->moniker) : 0;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "edit_validator has unknown fields");
      if (!m->set_moniker && !m->set_commission)
        return core_errf(eb, COHORT_ERR_INVALID, "edit_validator changes nothing: set "
                         "set_moniker or set_commission");
      if ((!m->set_moniker && ml) || (!m->set_commission && m->commission_bps))
        return core_errf(eb, COHORT_ERR_INVALID, "edit_validator carries a value it does not set");
      if (ml > TX_MONIKER_MAX || (ml && !core_text_valid(m->moniker, ml)))
        return core_errf(eb, COHORT_ERR_INVALID, "edit_validator.moniker must be at most %d "
                         "bytes of printable UTF-8", TX_MONIKER_MAX);
      if (m->commission_bps > 10000)
        return core_errf(eb, COHORT_ERR_INVALID, "edit_validator.commission_bps exceeds 10000");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_DELEGATE:
      if (pb_has_unknown(&b->delegate->base))
        return core_errf(eb, COHORT_ERR_DECODE, "delegate has unknown fields");
      if (b->delegate->validator.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS, "delegate.validator must be a 20-byte account ID");
      if (b->delegate->amount == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "delegate.amount must be > 0");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_UNDELEGATE:
      if (pb_has_unknown(&b->undelegate->base))
        return core_errf(eb, COHORT_ERR_DECODE, "undelegate has unknown fields");
      if (b->undelegate->validator.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS,
                         "undelegate.validator must be a 20-byte account ID");
      if (b->undelegate->amount == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "undelegate.amount must be > 0");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_REDELEGATE: {
      const Cohort__MsgRedelegate *m = b->redelegate;
      if (pb_has_unknown(&m->base))
        return core_errf(eb, COHORT_ERR_DECODE, "redelegate has unknown fields");
      if (m->src.len != 20 || m->dst.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS,
                         "redelegate.src and .dst must be 20-byte account IDs");
      if (!memcmp(m->src.data, m->dst.data, 20))
        return core_errf(eb, COHORT_ERR_INVALID, "redelegate.src and .dst are the same validator");
      if (m->amount == 0) return core_errf(eb, COHORT_ERR_AMOUNT, "redelegate.amount must be > 0");
      return COHORT_OK;
    }
    case COHORT__TX_BODY__MSG_WITHDRAW_REWARDS:
      if (pb_has_unknown(&b->withdraw_rewards->base))
        return core_errf(eb, COHORT_ERR_DECODE, "withdraw_rewards has unknown fields");
      if (b->withdraw_rewards->validator.len != 0 && b->withdraw_rewards->validator.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS, "withdraw_rewards.validator must be empty (all "
                         "delegations) or a 20-byte account ID");
      if (b->withdraw_rewards->executor.len != 0 && b->withdraw_rewards->executor.len != 20)
        return core_errf(eb, COHORT_ERR_ADDRESS, "withdraw_rewards.executor must be empty or a "
                         "20-byte account ID");
      if (b->withdraw_rewards->validator.len && b->withdraw_rewards->executor.len)
        return core_errf(eb, COHORT_ERR_INVALID, "withdraw_rewards: name a validator or an "
                         "executor, not both (neither: every delegation)");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR:
      return check_exec_target(&b->delegate_executor->base, &b->delegate_executor->executor,
                               b->delegate_executor->amount, "delegate_executor", eb);
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR:
      return check_exec_target(&b->undelegate_executor->base, &b->undelegate_executor->executor,
                               b->undelegate_executor->amount, "undelegate_executor", eb);
    case COHORT__TX_BODY__MSG_UNJAIL:
      if (pb_has_unknown(&b->unjail->base))
        return core_errf(eb, COHORT_ERR_DECODE, "unjail has unknown fields");
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL:
      return check_proposal(b->submit_proposal, eb);
    case COHORT__TX_BODY__MSG_VOTE:
      if (pb_has_unknown(&b->vote->base))
        return core_errf(eb, COHORT_ERR_DECODE, "vote has unknown fields");
      if (b->vote->proposal == 0)
        return core_errf(eb, COHORT_ERR_INVALID, "vote.proposal must be a proposal ID (>= 1)");
      if (b->vote->option < GOV_YES || b->vote->option > GOV_VETO)
        return core_errf(eb, COHORT_ERR_INVALID, "vote.option must be 1 (yes), 2 (no), "
                         "3 (abstain) or 4 (no with veto), got %u", b->vote->option);
      return COHORT_OK;
    case COHORT__TX_BODY__MSG_DEPOSIT:
      if (pb_has_unknown(&b->deposit->base))
        return core_errf(eb, COHORT_ERR_DECODE, "deposit has unknown fields");
      if (b->deposit->proposal == 0)
        return core_errf(eb, COHORT_ERR_INVALID, "deposit.proposal must be a proposal ID (>= 1)");
      if (b->deposit->amount == 0)
        return core_errf(eb, COHORT_ERR_AMOUNT, "deposit.amount must be > 0");
      return COHORT_OK;
    default:
      return core_errf(eb, COHORT_ERR_NO_MSG,
                       "tx body carries no known message");
  }
}

int tx_decode(tx_t *tx, const uint8_t *bytes, size_t len, size_t max,
              core_errbuf *eb) {
  memset(tx, 0, sizeof *tx);
  if (len > max)
    return core_errf(eb, COHORT_ERR_TOO_LARGE,
                     "tx is %zu bytes, the limit is %zu", len, max);
  if (len == 0) return core_errf(eb, COHORT_ERR_DECODE, "tx is empty");
  Cohort__Tx *w = cohort__tx__unpack(NULL, len, bytes);
  if (!w) return core_errf(eb, COHORT_ERR_DECODE, "tx is not a valid Tx protobuf");
  int rc;
  if (pb_has_unknown(&w->base)) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "tx has unknown fields");
    goto fail_w;
  }
  if ((rc = pb_check_canonical(&w->base, bytes, len))) {
    if (rc != COHORT_ERR_NOMEM)
      rc = core_errf(eb, COHORT_ERR_DECODE, "tx is not in canonical encoding (fields out of "
                     "order, repeated, non-minimal varints or default values written)");
    goto fail_w;
  }
  if (w->pubkey.len != 32 || w->signature.len != 64) {
    rc = core_errf(eb, COHORT_ERR_DECODE,
                   "tx pubkey must be 32 bytes and signature 64 bytes "
                   "(got %zu and %zu)", w->pubkey.len, w->signature.len);
    goto fail_w;
  }
  tx->raw = malloc(len);
  if (!tx->raw) {
    rc = COHORT_ERR_NOMEM;
    goto fail_w;
  }
  memcpy(tx->raw, bytes, len);
  tx->raw_len = len;
  /* protobuf-c copies bytes fields verbatim, so w->body holds exactly the
   * body bytes received: those are what we verify and keep. */
  tx->body_len = w->body.len;
  uint8_t *bb = malloc(w->body.len ? w->body.len : 1);
  if (!bb) {
    rc = COHORT_ERR_NOMEM;
    goto fail_raw;
  }
  if (w->body.len) memcpy(bb, w->body.data, w->body.len);
  tx->body_bytes = bb;
  memcpy(tx->pubkey, w->pubkey.data, 32);
  memcpy(tx->sig, w->signature.data, 64);
  cohort__tx__free_unpacked(w, NULL);
  w = NULL;
  tx->body = cohort__tx_body__unpack(NULL, tx->body_len, tx->body_bytes);
  if (!tx->body) {
    rc = core_errf(eb, COHORT_ERR_DECODE, "tx body is not a valid TxBody protobuf");
    goto fail_body;
  }
  if ((rc = check_body(tx->body, eb))) goto fail_body;
  /* Canonical bytes only (docs/protocol.md "Canonical encoding"): a relayer
   * must not be able to re-encode a signed tx into another hash. */
  if ((rc = pb_check_canonical(&tx->body->base, tx->body_bytes, tx->body_len))) {
    if (rc != COHORT_ERR_NOMEM)
      rc = core_errf(eb, COHORT_ERR_DECODE, "tx body is not in canonical encoding (fields out "
                     "of order, repeated, non-minimal varints or default values written)");
    goto fail_body;
  }
  core_sha256(tx->hash, bytes, len);
  core_account_id(tx->sender, tx->pubkey);
  return COHORT_OK;

fail_body:
  if (tx->body) cohort__tx_body__free_unpacked(tx->body, NULL);
  free((void *)tx->body_bytes);
fail_raw:
  free(tx->raw);
fail_w:
  if (w) cohort__tx__free_unpacked(w, NULL);
  memset(tx, 0, sizeof *tx);
  return rc;
}

void tx_free(tx_t *tx) {
  if (tx->body) cohort__tx_body__free_unpacked(tx->body, NULL);
  free((void *)tx->body_bytes);
  free(tx->raw);
  memset(tx, 0, sizeof *tx);
}

int tx_verify(const tx_t *tx, const char *chain_id) {
  uint8_t d[32];
  tx_sign_digest(d, chain_id, tx->body_bytes, tx->body_len);
  return core_schnorr_verify(tx->sig, d, tx->pubkey);
}

int tx_build(uint8_t **out, size_t *out_len, const Cohort__TxBody *body,
             const char *chain_id, const uint8_t sec[32], const uint8_t *aux32) {
  *out = NULL;
  size_t blen = cohort__tx_body__get_packed_size(body);
  uint8_t *bb = malloc(blen ? blen : 1);
  if (!bb) return COHORT_ERR_NOMEM;
  cohort__tx_body__pack(body, bb);
  uint8_t d[32], sig[64], pub[32];
  tx_sign_digest(d, chain_id, bb, blen);
  int rc = core_schnorr_pubkey(pub, sec);
  if (!rc) rc = core_schnorr_sign(sig, d, sec, aux32);
  if (rc) {
    free(bb);
    return rc;
  }
  Cohort__Tx w = COHORT__TX__INIT;
  w.body.data = bb;
  w.body.len = blen;
  w.pubkey.data = pub;
  w.pubkey.len = 32;
  w.signature.data = sig;
  w.signature.len = 64;
  size_t n = cohort__tx__get_packed_size(&w);
  uint8_t *t = malloc(n);
  if (!t) {
    free(bb);
    return COHORT_ERR_NOMEM;
  }
  cohort__tx__pack(&w, t);
  free(bb);
  *out = t;
  *out_len = n;
  return COHORT_OK;
}

int tx_token_parse(const char *s, Cohort__Token *out) {
  if (!strcasecmp(s, "CRD")) *out = COHORT__TOKEN__CRD;
  else if (!strcasecmp(s, "STK")) *out = COHORT__TOKEN__STK;
  else return COHORT_ERR_TOKEN;
  return COHORT_OK;
}

const char *tx_token_name(Cohort__Token t) {
  return t == COHORT__TOKEN__CRD ? "CRD" : t == COHORT__TOKEN__STK ? "STK" : "?";
}

const char *tx_msg_name(const Cohort__TxBody *body) {
  switch (body->msg_case) {
    case COHORT__TX_BODY__MSG_TRANSFER: return "transfer";
    case COHORT__TX_BODY__MSG_UNBOND: return "unbond";
    case COHORT__TX_BODY__MSG_REGISTER_EXECUTOR: return "register_executor";
    case COHORT__TX_BODY__MSG_UPLOAD_BLOB: return "upload_blob";
    case COHORT__TX_BODY__MSG_SUBMIT_TASK: return "submit_task";
    case COHORT__TX_BODY__MSG_SUBMIT_JOB: return "submit_job";
    case COHORT__TX_BODY__MSG_COMMIT_RESULT: return "commit_result";
    case COHORT__TX_BODY__MSG_REVEAL_RESULT: return "reveal_result";
    case COHORT__TX_BODY__MSG_CHALLENGE: return "challenge";
    case COHORT__TX_BODY__MSG_DISPUTE_BISECT: return "dispute_bisect";
    case COHORT__TX_BODY__MSG_DISPUTE_SELECT: return "dispute_select";
    case COHORT__TX_BODY__MSG_DISPUTE_PROVE: return "dispute_prove";
    case COHORT__TX_BODY__MSG_CREATE_VALIDATOR: return "create_validator";
    case COHORT__TX_BODY__MSG_EDIT_VALIDATOR: return "edit_validator";
    case COHORT__TX_BODY__MSG_DELEGATE: return "delegate";
    case COHORT__TX_BODY__MSG_UNDELEGATE: return "undelegate";
    case COHORT__TX_BODY__MSG_REDELEGATE: return "redelegate";
    case COHORT__TX_BODY__MSG_WITHDRAW_REWARDS: return "withdraw_rewards";
    case COHORT__TX_BODY__MSG_DELEGATE_EXECUTOR: return "delegate_executor";
    case COHORT__TX_BODY__MSG_UNDELEGATE_EXECUTOR: return "undelegate_executor";
    case COHORT__TX_BODY__MSG_UNJAIL: return "unjail";
    case COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL: return "submit_proposal";
    case COHORT__TX_BODY__MSG_VOTE: return "vote";
    case COHORT__TX_BODY__MSG_DEPOSIT: return "deposit";
    default: return "none";
  }
}
