/* libFuzzer: tx decoding, signature check and execution against a state at
 * genesis. Nothing may crash, leak or change the committed state. */
#include "fuzz_state_fixture.h"
#include "proto/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kv_store *kv;
  static state *st;
  if (!st) st = fuzz_state(&kv);
  tx_t tx;
  core_errbuf eb;
  if (tx_decode(&tx, data, size, 65536, &eb)) return 0;
  (void)tx_verify(&tx, "fuzz-chain");
  state_exec *x;
  uint8_t vpub[32], vsec[64], seed[32] = {1};
  core_ed25519_from_seed(vsec, vpub, seed);
  if (state_exec_begin(st, 1, 2000, vpub, &x, &eb) == 0) {
    state_tx_result r;
    (void)state_exec_tx(x, &tx, 1, &r, &eb); /* skip sig: reach execution */
    uint8_t app[32];
    state_exec_finish(x, app);
    state_exec_free(x);
  }
  if (state_height(st) != 0) abort();
  tx_free(&tx);
  return 0;
}
