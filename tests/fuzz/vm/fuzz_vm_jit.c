/* tests/fuzz/vm/fuzz_vm_jit.c — the translator against the interpreter and
 * against the reference step function on random code.
 *
 * Input: a 4-byte header (slice seed, step cap, input length and memory
 * cap) then 4-byte instruction words (the code segment). The program runs
 * in a handle that translates every run, in one that only interprets, and
 * in one advanced by cohort_vm_step alone (what one-step proofs check), in
 * slices of pseudo-random lengths; the full state hashes (pc, registers,
 * step, status, memory root) must agree after every slice. The memory cap
 * is 2 MiB plus 0, 16, 48 or 112 KiB, so the stack's lower end moves
 * (the attacker review found the fast tiers and vm_step disagreeing on a
 * cap the fuzzer never tried). Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "tests/unit/vm/vm_testlib.h"
#include "vm/vm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) init = core_init() == 0;
  if (size < 8) return 0;
  uint32_t seed = data[0] | (uint32_t)data[1] << 8;
  uint64_t cap = 1 + (uint64_t)data[2] * 97;
  size_t in_len = data[3] % 64;
  static const uint32_t extra[4] = {0, 16 << 10, 48 << 10, 112 << 10};
  const uint8_t *in = data + 4;
  if (in_len > size - 4) in_len = size - 4;
  size_t ncode = (size - 4) / 4;
  if (ncode > 1024) ncode = 1024;
  uint32_t code[1024];
  for (size_t i = 0; i < ncode; i++)
    code[i] = (uint32_t)data[4 + 4 * i] | (uint32_t)data[5 + 4 * i] << 8 | (uint32_t)data[6 + 4 * i] << 16 |
              (uint32_t)data[7 + 4 * i] << 24;
  uint8_t page[256];
  memset(page, 0x5A, sizeof page);
  t_elf e = t_make_elf(code, ncode, page, sizeof page, 8192);
  cohort_vm_config cfg = {.mem_cap = COHORT_VM_MEM_MIN + extra[data[3] >> 6], .max_steps = cap};
  cohort_vm *jit, *ref, *stp;
  if (cohort_vm_new(&jit, e.buf, e.len, in, in_len, &cfg, NULL) != 0) abort();
  if (cohort_vm_new(&ref, e.buf, e.len, in, in_len, &cfg, NULL) != 0) abort();
  if (cohort_vm_new(&stp, e.buf, e.len, in, in_len, &cfg, NULL) != 0) abort();
  free(e.buf);
  jit->jit_min = 1;
  cohort_vm_set_tier(ref, COHORT_VM_TIER_INTERP);
  uint8_t hj[32], hr[32], hs[32];
  cohort_vm_info s;
  for (int round = 0; round < 64; round++) {
    seed = seed * 1103515245u + 12345u;
    uint64_t n = 1 + (seed >> 16) % 700, dj, dr;
    cohort_vm_run(jit, n, &dj);
    cohort_vm_run(ref, n, &dr);
    if (dj != dr) abort();
    for (uint64_t k = 0; k < dj; k++) cohort_vm_step(stp);
    cohort_vm_state_hash(jit, hj);
    cohort_vm_state_hash(ref, hr);
    cohort_vm_state_hash(stp, hs);
    if (memcmp(hj, hr, 32) != 0 || memcmp(hj, hs, 32) != 0) abort();
    cohort_vm_get_info(jit, &s);
    if (s.status != COHORT_VM_RUNNING) break;
  }
  cohort_vm_del(jit);
  cohort_vm_del(ref);
  cohort_vm_del(stp);
  return 0;
}
