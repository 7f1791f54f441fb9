/* qsort — library-heavy sorting written for Cohort: sorts N pseudo-random
 * 32-bit records with picolibc's qsort (a callback per comparison), checks
 * the order, then looks every tenth value up with bsearch. Input: N in
 * decimal (default 20000). Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

typedef struct {
  uint32_t key, payload;
} rec;

static int cmp(const void *a, const void *b) {
  uint32_t x = ((const rec *)a)->key, y = ((const rec *)b)->key;
  return x < y ? -1 : x > y;
}

int main(void) {
  char txt[32] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  long n = strtol(txt, NULL, 10);
  if (n <= 0 || n > 4000000) n = 20000;
  rec *v = malloc((size_t)n * sizeof *v);
  if (!v) return 3;
  uint32_t s = 12345;
  for (long i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;
    v[i].key = s;
    v[i].payload = (uint32_t)i;
  }
  qsort(v, (size_t)n, sizeof *v, cmp);
  uint32_t sum = 0, bad = 0;
  for (long i = 1; i < n; i++) bad += v[i - 1].key > v[i].key;
  for (long i = 0; i < n; i += 10) {
    rec *f = bsearch(&v[i], v, (size_t)n, sizeof *v, cmp);
    sum = sum * 31 + (f ? f->payload : 0xFFFFFFFFu);
  }
  printf("qsort: %ld records, %lu out of order, checksum %08lx\n", n, (unsigned long)bad, (unsigned long)sum);
  return bad != 0;
}
