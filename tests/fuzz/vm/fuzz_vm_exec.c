/* tests/fuzz/vm/fuzz_vm_exec.c — the interpreter on random code.
 *
 * Input: 4-byte instruction words (the code segment) after a 1-byte input
 * length. The program runs on the fast path and, in lockstep, on the
 * reference step function; their state hashes must agree at checkpoints,
 * and every 97th step is proved and verified. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) init = core_init() == 0;
  if (size < 5) return 0;
  size_t in_len = data[0] % 64 < size - 1 ? data[0] % 64 : size - 1;
  const uint8_t *in = data + 1;
  size_t ncode = (size - 1) / 4;
  if (ncode > 1024) ncode = 1024;
  uint32_t code[1024];
  for (size_t i = 0; i < ncode; i++)
    code[i] = (uint32_t)data[1 + 4 * i] | (uint32_t)data[2 + 4 * i] << 8 | (uint32_t)data[3 + 4 * i] << 16 |
              (uint32_t)data[4 + 4 * i] << 24;
  uint8_t page[256];
  memset(page, 0x5A, sizeof page);
  t_elf e = t_make_elf(code, ncode, page, sizeof page, 8192);
  cohort_vm_config cfg = {.mem_cap = COHORT_VM_MEM_MIN, .max_steps = 3000};
  cohort_vm *fast, *ref;
  if (cohort_vm_new(&fast, e.buf, e.len, in, in_len, &cfg, NULL) != 0) abort();
  if (cohort_vm_new(&ref, e.buf, e.len, in, in_len, &cfg, NULL) != 0) abort();
  free(e.buf);
  uint8_t hf[32], hr[32], post[32];
  for (int round = 0; round < 30; round++) {
    cohort_vm_run(fast, 100, NULL);
    for (int i = 0; i < 100; i++) {
      if (i == round % 97) {
        uint8_t *p;
        size_t plen;
        cohort_vm_state_hash(ref, hr);
        if (cohort_vm_prove(ref, &p, &plen) != 0) abort();
        if (cohort_vm_verify(hr, p, plen, post, NULL) != 0) abort();
        free(p);
        cohort_vm_step(ref);
        cohort_vm_state_hash(ref, hr);
        if (memcmp(hr, post, 32) != 0) abort();
      } else {
        cohort_vm_step(ref);
      }
    }
    cohort_vm_state_hash(fast, hf);
    cohort_vm_state_hash(ref, hr);
    if (memcmp(hf, hr, 32) != 0) abort();
  }
  cohort_vm_del(fast);
  cohort_vm_del(ref);
  return 0;
}
