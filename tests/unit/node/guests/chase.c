/* A memory-bound task program (review of the speed assumption behind the
 * commit window): fill a 128 MiB table with a full-period LCG permutation,
 * then follow it: every third instruction is a load that misses the
 * cache. The input is ignored; the program never exits on its own (the
 * step cap ends it). */
#include "cohort.h"
#include <stdlib.h>

int main(void) {
  uint32_t n = 1u << 25; /* words: 128 MiB */
  uint32_t *a = malloc((size_t)n * 4);
  if (!a) cohort_exit(1);
  for (uint32_t i = 0; i < n; i++) a[i] = (i * 1664525u + 1013904223u) & (n - 1);
  uint32_t p = 0;
  for (;;) {
    p = a[p];
    p = a[p];
    p = a[p];
    p = a[p];
    if (p == 0xffffffffu) break;
  }
  cohort_output(&p, 4);
  cohort_exit(0);
}
