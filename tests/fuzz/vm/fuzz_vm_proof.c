/* tests/fuzz/vm/fuzz_vm_proof.c — the proof decoders and verifiers on
 * arbitrary bytes. The pre-state hash is taken from the proof's own state,
 * so mutations get past the hash check and exercise witness checking and
 * the step function on arbitrary (even unreachable) states. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) init = core_init() == 0;
  uint8_t pre[32], post[32], root[32];
  cohort_vm_info info;
  memset(pre, 0, 32);
  if (cohort_vm_proof_info(data, size, &info, root) == 0) cohort_vm_hash_info(&info, root, pre);
  if (cohort_vm_verify(pre, data, size, post, NULL) == 0) {
    /* an accepted proof verifies deterministically */
    uint8_t again[32];
    if (cohort_vm_verify(pre, data, size, again, NULL) != 0 || memcmp(post, again, 32) != 0) abort();
  }
  size_t olen = size > 484 ? size - 484 : 0; /* an output proof is 484 bytes */
  cohort_vm_output_verify(pre, data + (size - olen), olen, data, size - olen, NULL, NULL);
  return 0;
}
