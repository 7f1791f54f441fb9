/* libFuzzer: genesis.json parsing. */
#include <stdint.h>
#include <stdlib.h>

#include "genesis/genesis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  genesis g;
  core_errbuf eb;
  if (genesis_parse(&g, (const char *)data, size, &eb) == 0) genesis_free(&g);
  return 0;
}
