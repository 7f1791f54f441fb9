/* libFuzzer: a block and commit received from elsewhere, applied to a state
 * at genesis. Input = u16 block length || block || commit. Every input must
 * be refused (nobody else holds the validator key) without crashing or
 * writing anything. */
#include "fuzz_state_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kv_store *kv;
  static state *st;
  if (!st) st = fuzz_state(&kv);
  if (size < 2) return 0;
  size_t bl = (size_t)data[0] << 8 | data[1];
  if (bl > size - 2) bl = size - 2;
  core_errbuf eb;
  uint8_t before[32];
  memcpy(before, state_app_hash(st), 32);
  if (state_apply_block(st, data + 2, bl, data + 2 + bl, size - 2 - bl, &eb) == 0) abort();
  if (state_height(st) != 0 || memcmp(before, state_app_hash(st), 32)) abort();
  return 0;
}
