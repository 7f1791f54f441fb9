/* tests/fuzz/vm/fuzz_vm_elf.c — the ELF loader on arbitrary bytes; programs
 * that load are run a little, and one step of them is proved and verified. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) init = core_init() == 0;
  cohort_vm_config cfg = {.mem_cap = COHORT_VM_MEM_MIN, .max_steps = 5000};
  cohort_vm *vm;
  core_errbuf eb;
  if (cohort_vm_new(&vm, data, size, data, size < 64 ? size : 64, &cfg, &eb) != 0) return 0;
  cohort_vm_run(vm, 2000, NULL);
  uint8_t h[32], post[32], next[32];
  cohort_vm_state_hash(vm, h);
  uint8_t *p;
  size_t plen;
  if (cohort_vm_prove(vm, &p, &plen) == 0) {
    if (cohort_vm_verify(h, p, plen, post, NULL) != 0) abort();
    cohort_vm_step(vm);
    cohort_vm_state_hash(vm, next);
    if (memcmp(post, next, 32) != 0) abort();
    free(p);
  }
  cohort_vm_del(vm);
  return 0;
}
