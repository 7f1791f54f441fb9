/* libFuzzer: cohortd.conf parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  node_config c;
  core_errbuf eb;
  node_config_defaults(&c);
  (void)node_config_parse(&c, text, &eb);
  free(text);
  return 0;
}
