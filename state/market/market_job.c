/* state/market/market_job.c — jobs: one program over many input chunks.
 *
 * SubmitJob creates one task per chunk (ID market_chunk_id(job, i)), each
 * with its own committee and escrow, atomically: a chunk that fails fails
 * the whole message and the journal undoes the chunks made before it. The
 * job counts chunks as they agree or fail; when all are accounted for it
 * is done (2, with result_root = the Merkle root, as a block's tx root, of
 * the chunk output hashes in chunk order) or incomplete (3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/block.h"
#include "state/market/market_int.h"

int mk_exec_submit_job(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgSubmitJob *j = tx->body->submit_job;
  uint64_t total;
  if (core_mul_u64(&total, j->reward_per_chunk, j->n_inputs))
    return mk_fail(res, COHORT_ERR_OVERFLOW, "reward_per_chunk x chunks overflows");
  int rc;
  Cohort__Blob *prog = mk_get_blob(x, j->program.data, &rc); /* read once for every chunk */
  if (rc) return rc;
  if (!prog)
    return mk_fail(res, COHORT_ERR_NOT_FOUND, "program %02x%02x%02x%02x... is not an uploaded blob",
                   j->program.data[0], j->program.data[1], j->program.data[2], j->program.data[3]);
  uint8_t job_id[32];
  market_job_id(job_id, tx->sender, tx->body->nonce);
  for (size_t i = 0; !rc && i < j->n_inputs; i++) {
    Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
    m.program = j->program;
    m.input = j->inputs[i];
    m.max_steps = j->max_steps;
    m.mem_mib = j->mem_mib;
    m.committee = j->committee;
    m.reward = j->reward_per_chunk;
    m.commit_blocks = j->commit_blocks;
    m.reveal_blocks = j->reveal_blocks;
    m.max_output_bytes = j->max_output_bytes;
    uint8_t id[32];
    market_chunk_id(id, job_id, (uint32_t)i);
    if ((rc = mk_submit_task(x, tx->sender, id, &m, prog, job_id, (uint32_t)i, res))) break;
    if (res->code) { /* the journal undoes the chunks created so far */
      char why[sizeof res->log];
      memcpy(why, res->log, sizeof why);
      snprintf(res->log, sizeof res->log, "chunk %u: %.230s", (unsigned)i, why);
      break;
    }
  }
  cohort__blob__free_unpacked(prog, NULL);
  if (rc || res->code) return rc;
  Cohort__Job job = COHORT__JOB__INIT;
  job.owner = (ProtobufCBinaryData){20, (uint8_t *)tx->sender};
  job.program = j->program;
  job.chunks = (uint32_t)j->n_inputs;
  job.status = 1;
  job.submitted_height = x->height;
  job.reward_per_chunk = j->reward_per_chunk;
  uint8_t k[34];
  mk_key(k, 'j', job_id, 32);
  return sx_put_msg(x, k, 34, &job.base);
}

int mk_job_chunk_settled(state_exec *x, const Cohort__Task *t, int ok) {
  if (t->job.len != 32) return COHORT_OK;
  uint8_t k[34];
  mk_key(k, 'j', t->job.data, 32);
  int rc;
  Cohort__Job *j = (Cohort__Job *)sx_get_msg(x, k, 34, &cohort__job__descriptor, &rc);
  if (!j) return rc ? rc : COHORT_ERR_CORRUPT;
  if (ok) j->done++;
  else j->failed++;
  if (j->done + j->failed == j->chunks) {
    j->status = j->failed ? 3 : 2;
    j->done_height = x->height;
    if (!j->failed) {
      uint8_t(*hs)[32] = malloc((size_t)j->chunks * 32);
      if (!hs) rc = COHORT_ERR_NOMEM;
      for (uint32_t i = 0; !rc && i < j->chunks; i++) {
        uint8_t id[32];
        market_chunk_id(id, t->job.data, i);
        if (i == t->chunk) { /* the chunk being settled now is not written yet */
          memcpy(hs[i], t->result->output_hash.data, 32);
          continue;
        }
        Cohort__Task *c = mk_get_task(x, id, &rc);
        if (c && c->result && c->result->output_hash.len == 32)
          memcpy(hs[i], c->result->output_hash.data, 32);
        else if (!rc)
          rc = COHORT_ERR_CORRUPT;
        if (c) cohort__task__free_unpacked(c, NULL);
      }
      uint8_t root[32];
      if (!rc) {
        block_tx_root(root, (const uint8_t(*)[32])hs, j->chunks);
        rc = mk_set_bytes(&j->result_root, root, 32);
      }
      free(hs);
    }
  }
  if (!rc) rc = sx_put_msg(x, k, 34, &j->base);
  cohort__job__free_unpacked(j, NULL);
  return rc;
}
