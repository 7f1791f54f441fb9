/* state/market/market_blob.c — content-addressed blobs (programs and data).
 *
 * A blob is stored once under the sha256 of its bytes and costs
 * blob_byte_fee CRD per byte (burned) the first time. Its kind never
 * limits its use: any blob can be a task's program (the VM's loader decides
 * when the task is submitted) or its input. is_program only asks for the
 * ELF check now, so a bad program is refused at upload with the loader's
 * reason; uploading known bytes "as data" first cannot squat a program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "state/market/market_int.h"
#include "vm/vm.h"

/* Load data as a program: 0 (loads), 1 (not a program: eb says why) or a
 * fatal error of this node. */
static int check_elf(const uint8_t *d, size_t n, core_errbuf *eb) {
  cohort_vm *vm;
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  int rc = cohort_vm_new(&vm, d, n, NULL, 0, &cfg, eb);
  if (core_err_is_fatal(rc)) return rc;
  cohort_vm_del(vm);
  return rc ? 1 : 0;
}

int mk_exec_upload(state_exec *x, const tx_t *tx, state_tx_result *res) {
  const Cohort__MsgUploadBlob *m = tx->body->upload_blob;
  const Cohort__Params *p = mk_params(x);
  if (m->data.len > p->max_blob_bytes)
    return mk_fail(res, COHORT_ERR_TOO_LARGE, "blob is %zu bytes, params.max_blob_bytes is %u",
                   m->data.len, p->max_blob_bytes);
  uint64_t cost;
  if (core_mul_u64(&cost, m->data.len, p->blob_byte_fee))
    return mk_fail(res, COHORT_ERR_OVERFLOW, "storage fee overflows");
  int rc;
  if (m->is_program) {
    core_errbuf eb;
    x->tx_vm_kib += market_kib(m->data.len);
    if ((rc = check_elf(m->data.data, m->data.len, &eb)) == 1)
      return mk_fail(res, COHORT_ERR_INVALID, "not a valid program: %.120s", eb.msg);
    if (rc) return rc;
  }
  uint8_t h[32], k[34];
  core_sha256(h, m->data.data, m->data.len);
  mk_key(k, 'b', h, 32);
  Cohort__Blob *old = mk_get_blob(x, h, &rc);
  if (rc) return rc;
  if (old) {
    /* Same bytes again: stored once, no storage fee. Asking for the program
     * check marks a data blob as a checked program. */
    if (m->is_program && !old->is_program) {
      old->is_program = 1;
      rc = sx_put_msg(x, k, 34, &old->base);
    }
    cohort__blob__free_unpacked(old, NULL);
    snprintf(res->log, sizeof res->log, "blob already stored; nothing charged");
    return rc;
  }
  rc = bank_debit(x, tx->sender, BANK_CRD, cost);
  if (rc == COHORT_ERR_FUNDS)
    return mk_fail(res, COHORT_ERR_FUNDS, "storage fee %llu CRD base units (%zu bytes x %llu) "
                   "exceeds the CRD balance", (unsigned long long)cost, m->data.len,
                   (unsigned long long)p->blob_byte_fee);
  if (rc) return rc;
  Cohort__Blob b = COHORT__BLOB__INIT;
  b.data = m->data;
  b.is_program = m->is_program;
  b.height = x->height;
  b.uploader = (ProtobufCBinaryData){20, (uint8_t *)tx->sender};
  if ((rc = sx_put_msg(x, k, 34, &b.base))) return rc;
  return bank_burn(x, cost, 0); /* storage fees are burned */
}
