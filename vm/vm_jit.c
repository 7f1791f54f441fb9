/* vm/vm_jit.c — the translation tier (not yet: every run is interpreted). */
#include "vm/vm_int.h"

uint64_t vm_jit_run(cohort_vm *vm, uint64_t budget) {
  (void)vm;
  (void)budget;
  return 0;
}
void vm_jit_free(vm_jit *j) { (void)j; }
int cohort_vm_jit_available(void) { return 0; }
