/* matmul — multiplies two pseudo-random n x n matrices of 32-bit integers
 * (input: "n seed", default "96 1") and prints the product's checksum and
 * its corner elements. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

int main(void) {
  char txt[64] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  char *end;
  unsigned long n = strtoul(txt, &end, 10);
  uint32_t seed = (uint32_t)strtoul(end, NULL, 10);
  if (n == 0 || n > 512) n = 96;
  uint32_t *a = malloc(n * n * 4), *b = malloc(n * n * 4), *c = malloc(n * n * 4);
  if (!a || !b || !c) return 3;
  uint32_t s = seed * 2654435761u + 12345;
  for (unsigned long i = 0; i < n * n; i++) {
    s = s * 1103515245u + 12345;
    a[i] = s >> 8;
    s = s * 1103515245u + 12345;
    b[i] = s >> 8;
  }
  for (unsigned long i = 0; i < n; i++)
    for (unsigned long j = 0; j < n; j++) {
      uint32_t acc = 0;
      for (unsigned long k = 0; k < n; k++) acc += a[i * n + k] * b[k * n + j];
      c[i * n + j] = acc;
    }
  uint32_t sum = 0;
  for (unsigned long i = 0; i < n * n; i++) sum = sum * 31 + c[i];
  printf("n=%lu checksum=%08lx c00=%lu cnn=%lu\n", n, (unsigned long)sum, (unsigned long)c[0],
         (unsigned long)c[n * n - 1]);
  return 0;
}
